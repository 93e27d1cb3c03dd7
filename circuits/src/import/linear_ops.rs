//! Products, convolutions, pooling, reductions and normalisations.

use tract_onnx::pb;

use super::build::{iota, one, scalar, Pick};
use super::elementwise_ops::Bin;
use super::tensor::{
    broadcast_index, broadcast_shape, for_each_index, norm_axis, numel, reduction_groups, strides,
    MAX_ELEMENTS,
};
use super::{attr_f, attr_i, attr_ints, attr_s, mask, Const, Importer, Value};
use crate::ir::{Func, Group, Linear, Mat, Op, Ref};

type R<T> = Result<T, String>;

/// Geometry of a sliding window over the spatial axes (Conv, pooling).
struct Window {
    kernel: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pad_begin: Vec<i64>,
    out: Vec<usize>,
}

impl Window {
    fn new(
        node: &pb::NodeProto,
        spatial: &[usize],
        kernel: Vec<usize>,
        ceil_mode: bool,
    ) -> R<Self> {
        let r = spatial.len();
        if kernel.len() != r {
            return Err(format!("kernel {kernel:?} does not fit {r} spatial axes"));
        }
        let ones = vec![1i64; r];
        let strides: Vec<usize> = attr_ints(node, "strides")
            .unwrap_or(ones.clone())
            .iter()
            .map(|&x| x.max(1) as usize)
            .collect();
        let dilations: Vec<usize> = attr_ints(node, "dilations")
            .unwrap_or(ones)
            .iter()
            .map(|&x| x.max(1) as usize)
            .collect();
        if strides.len() != r || dilations.len() != r {
            return Err("strides or dilations do not fit the spatial rank".into());
        }
        let auto = attr_s(node, "auto_pad", "NOTSET");
        let (mut pb, mut pe) = (vec![0i64; r], vec![0i64; r]);
        match auto.as_str() {
            "NOTSET" => {
                if let Some(p) = attr_ints(node, "pads") {
                    if p.len() != 2 * r {
                        return Err(format!("pads {p:?} do not fit {r} spatial axes"));
                    }
                    pb.copy_from_slice(&p[..r]);
                    pe.copy_from_slice(&p[r..]);
                }
            }
            "VALID" => {}
            "SAME_UPPER" | "SAME_LOWER" => {
                for a in 0..r {
                    let out = spatial[a].div_ceil(strides[a]);
                    let span = (kernel[a] - 1) * dilations[a] + 1;
                    let total = ((out - 1) * strides[a] + span).saturating_sub(spatial[a]) as i64;
                    let small = total / 2;
                    if auto == "SAME_UPPER" {
                        pb[a] = small;
                        pe[a] = total - small;
                    } else {
                        pe[a] = small;
                        pb[a] = total - small;
                    }
                }
            }
            other => return Err(format!("auto_pad '{other}' is not supported")),
        }
        let mut out = Vec::with_capacity(r);
        for a in 0..r {
            let span = ((kernel[a] - 1) * dilations[a] + 1) as i64;
            let room = spatial[a] as i64 + pb[a] + pe[a] - span;
            if room < 0 {
                return Err(format!(
                    "the kernel {kernel:?} is larger than the padded input {spatial:?}"
                ));
            }
            let s = strides[a] as i64;
            let mut o = if ceil_mode {
                (room + s - 1) / s + 1
            } else {
                room / s + 1
            };
            if ceil_mode && (o - 1) * s >= spatial[a] as i64 + pb[a] {
                o -= 1;
            }
            out.push(o as usize);
        }
        Ok(Self {
            kernel,
            strides,
            dilations,
            pad_begin: pb,
            out,
        })
    }

    /// For output position `p`: every kernel offset's input position (flat over the spatial
    /// axes), `None` in padding or past the input's end.
    fn taps(&self, spatial: &[usize], p: &[usize]) -> Vec<Option<usize>> {
        let sst = strides(spatial);
        let mut taps = Vec::with_capacity(numel(&self.kernel));
        for_each_index(&self.kernel, |_, kk| {
            let mut off = 0usize;
            let mut valid = true;
            for a in 0..spatial.len() {
                let pos =
                    (p[a] * self.strides[a] + kk[a] * self.dilations[a]) as i64 - self.pad_begin[a];
                if pos < 0 || pos >= spatial[a] as i64 {
                    valid = false;
                }
                off += pos.max(0) as usize * sst[a];
            }
            taps.push(valid.then_some(off));
        });
        taps
    }
}

/// A transposed convolution's pads: given, or from `output_shape` or `auto_pad` (`SAME_*`: the
/// input's size times the stride) as ONNX defines them: the total padding is the natural
/// output's size less the asked one, split evenly with the odd unit at the end for
/// `SAME_UPPER`, at the beginning otherwise. A total below zero (an output larger than the
/// natural one) pads with zeros past the end.
fn transposed_pads(
    node: &pb::NodeProto,
    spatial: &[usize],
    kernel: &[usize],
    st: &[usize],
    dil: &[usize],
    opad: &[usize],
) -> R<Vec<i64>> {
    let r = spatial.len();
    let auto = attr_s(node, "auto_pad", "NOTSET");
    let asked: Option<Vec<i64>> = match (attr_ints(node, "output_shape"), auto.as_str()) {
        (Some(o), _) if o.len() >= r => Some(o[o.len() - r..].to_vec()),
        (Some(o), _) => return Err(format!("output_shape {o:?} does not fit {r} spatial axes")),
        (None, "SAME_UPPER" | "SAME_LOWER") => {
            Some((0..r).map(|a| (spatial[a] * st[a]) as i64).collect())
        }
        (None, "VALID") => return Ok(vec![0; 2 * r]),
        (None, "NOTSET") => {
            let p = attr_ints(node, "pads").unwrap_or(vec![0; 2 * r]);
            if p.len() != 2 * r {
                return Err(format!("pads {p:?} do not fit {r} spatial axes"));
            }
            return Ok(p);
        }
        (None, other) => return Err(format!("auto_pad '{other}' is not supported")),
    };
    let asked = asked.unwrap_or_default();
    let mut pads = vec![0i64; 2 * r];
    for a in 0..r {
        let natural = ((spatial[a] - 1) * st[a] + (kernel[a] - 1) * dil[a] + 1 + opad[a]) as i64;
        if asked[a] < 1 {
            return Err(format!("output_shape {asked:?} is not positive"));
        }
        let total = natural - asked[a];
        let (small, big) = (total.div_euclid(2), total - total.div_euclid(2));
        (pads[a], pads[a + r]) = if auto == "SAME_UPPER" {
            (small, big)
        } else {
            (big, small)
        };
    }
    Ok(pads)
}

/// Gemm's B operand of shape `sb` against an `m×k` A: `(transB, n)`.
fn gemm_b(node: &pb::NodeProto, sb: &[usize], m: usize, k: usize) -> R<(bool, usize)> {
    let trans_b = attr_i(node, "transB", 0) != 0;
    let (bk, n) = if trans_b {
        (sb[1], sb[0])
    } else {
        (sb[0], sb[1])
    };
    if bk != k {
        return Err(format!("A is {m}x{k} but B gives {bk}x{n}"));
    }
    Ok((trans_b, n))
}

fn const_req(v: Value, what: &str) -> R<Const> {
    match v {
        Value::Const(c) => Ok(c),
        Value::Dyn(_) => Err(format!("{what} must be a constant")),
    }
}

/// `group_of[i]`: the group of element `i`.
fn group_of(groups: &[Vec<u32>], n: usize) -> Vec<u32> {
    let mut g = vec![0u32; n];
    for (k, list) in groups.iter().enumerate() {
        for &i in list {
            g[i as usize] = k as u32;
        }
    }
    g
}

impl Importer {
    pub(crate) fn lower_linear_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        let v = match op {
            "Gemm" => self.gemm(node)?,
            "MatMul" => self.matmul(node)?,
            "Einsum" => self.einsum(node)?,
            "Conv" => self.conv(node)?,
            "ConvTranspose" => self.conv_transpose(node)?,
            "AveragePool" | "MaxPool" => self.pool(node, op == "MaxPool")?,
            "GlobalAveragePool" | "GlobalMaxPool" => {
                let x = self.req(node, 0)?;
                let xi = self.dyn_of(&x, "the input")?;
                let s = self.shape_of(&x);
                let axes: Vec<usize> = (2..s.len()).collect();
                let (groups, kept) = reduction_groups(&s, &axes);
                if op == "GlobalMaxPool" {
                    Value::Dyn(self.reduce_max(xi, &groups, kept)?)
                } else {
                    let n = groups.first().map_or(1, Vec::len);
                    Value::Dyn(self.sum_groups(xi, &groups, 1.0 / n as f32, kept))
                }
            }
            "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceSumSquare"
            | "ReduceL1" | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceProd" => {
                self.reduce(node, op)?
            }
            "InstanceNormalization" => self.instance_norm(node)?,
            "LRN" => self.lrn(node)?,
            "BatchNormalization" => {
                let x = self.req(node, 0)?;
                let computed =
                    (1..5).any(|i| matches!(self.input(node, i), Ok(Some(Value::Dyn(_)))));
                if computed {
                    return self.batch_norm_computed(node).map(|v| Some(vec![v]));
                }
                let xi = self.dyn_of(&x, "the input")?;
                let s = self.shape_of(&x);
                let get = |i: usize, w: &str| -> R<Const> { const_req(self.req(node, i)?, w) };
                let (g, b, m, var) = (
                    get(1, "scale")?,
                    get(2, "bias")?,
                    get(3, "mean")?,
                    get(4, "variance")?,
                );
                let eps = attr_f(node, "epsilon", 1e-5);
                let lens = [g.data.len(), b.data.len(), m.data.len(), var.data.len()];
                if s.len() < 2 || lens.iter().any(|&l| l != s[1]) {
                    return Err(format!(
                        "scale, bias, mean and variance of {lens:?} values for input {s:?} \
                         (one per channel)"
                    ));
                }
                let inner: usize = s[2..].iter().product();
                let n = numel(&s);
                let (mut mul, mut add) = (Vec::with_capacity(n), Vec::with_capacity(n));
                for i in 0..n {
                    let c = (i / inner) % s[1];
                    let k = g.data[c] / (var.data[c] + eps).sqrt();
                    mul.push(k);
                    add.push(b.data[c] - m.data[c] * k);
                }
                Value::Dyn(self.affine(xi, mul, add))
            }
            "LayerNormalization" => return self.layer_norm(node).map(Some),
            "Softmax" | "LogSoftmax" => self.softmax(node, op == "LogSoftmax")?,
            _ => return Ok(None),
        };
        Ok(Some(vec![v]))
    }

    fn gemm(&mut self, node: &pb::NodeProto) -> R<Value> {
        let alpha = attr_f(node, "alpha", 1.0);
        let beta = attr_f(node, "beta", 1.0);
        let mut a = self.req(node, 0)?;
        if attr_i(node, "transA", 0) != 0 {
            let s = self.shape_of(&a);
            if s.len() != 2 {
                return Err(format!("A must be 2-D, got shape {s:?}"));
            }
            let (r, c) = (s[0], s[1]);
            let picks: Vec<Pick> = (0..c)
                .flat_map(|i| (0..r).map(move |j| Pick::V(0, (j * c + i) as u32)))
                .collect();
            a = self.rewire(&[a], vec![s[1], s[0]], &picks);
        }
        let ai = match a {
            Value::Dyn(i) => i,
            Value::Const(ca) if matches!(self.req(node, 1)?, Value::Const(_)) => {
                return self.gemm_of_constants(node, Value::Const(ca), alpha, beta);
            }
            Value::Const(ca) => return self.gemm_const_a(node, ca, alpha, beta),
        };
        let b = match self.req(node, 1)? {
            Value::Const(c) => c,
            Value::Dyn(bi) => return self.gemm_products(node, ai, bi, alpha, beta),
        };
        let a_shape = self.nodes[ai].shape.clone();
        if a_shape.len() != 2 {
            return Err(format!("A must be 2-D, got shape {a_shape:?}"));
        }
        let (m, k) = (a_shape[0], a_shape[1]);
        if b.shape.len() != 2 {
            return Err(format!("B must be 2-D, got shape {:?}", b.shape));
        }
        let trans_b = attr_i(node, "transB", 0) != 0;
        let (bk, n) = if trans_b {
            (b.shape[1], b.shape[0])
        } else {
            (b.shape[0], b.shape[1])
        };
        if bk != k {
            return Err(format!("A is {m}x{k} but B gives {bk}x{n}"));
        }
        let mut weight = vec![0f32; n * k];
        for o in 0..n {
            for i in 0..k {
                let v = if trans_b {
                    b.data[o * k + i]
                } else {
                    b.data[i * n + o]
                };
                weight[o * k + i] = alpha * v;
            }
        }
        let bias = match self.input(node, 2)? {
            None => None,
            Some(Value::Const(c)) => {
                let map = broadcast_index(&c.shape, &[m, n]).ok_or_else(|| {
                    format!("C of shape {:?} does not broadcast to [{m}, {n}]", c.shape)
                })?;
                Some(map.iter().map(|&i| beta * c.data[i as usize]).collect())
            }
            // A computed C (k-means' squared norms) is added after the map.
            Some(Value::Dyn(_)) => None,
        };
        let p = self.emit(
            Op::Linear {
                map: Linear::dense(weight, n, k, m),
                bias,
            },
            vec![ai],
            vec![m, n],
        );
        self.plus_computed_c(node, p, beta)
    }

    /// `p + beta·C` where Gemm's `C` is computed (broadcast like any addition); `p` as it is
    /// otherwise (a constant `C` is already the map's bias).
    fn plus_computed_c(&mut self, node: &pb::NodeProto, p: usize, beta: f32) -> R<Value> {
        match self.input(node, 2)? {
            Some(c @ Value::Dyn(_)) => self.plus_beta_c(p, c, beta),
            _ => Ok(Value::Dyn(p)),
        }
    }

    /// `alpha·A·B + beta·C` with both operands computed: sums of products, then the bias.
    fn gemm_products(
        &mut self,
        node: &pb::NodeProto,
        ai: usize,
        bi: usize,
        alpha: f32,
        beta: f32,
    ) -> R<Value> {
        let (sa, sb) = (self.nodes[ai].shape.clone(), self.nodes[bi].shape.clone());
        if sa.len() != 2 || sb.len() != 2 {
            return Err(format!("A and B must be 2-D, got {sa:?} and {sb:?}"));
        }
        let (m, k) = (sa[0], sa[1]);
        let (trans_b, n) = gemm_b(node, &sb, m, k)?;
        let terms = (0..m * n)
            .map(|o| {
                let (r, c) = (o / n, o % n);
                (0..k)
                    .map(|i| {
                        let bidx = if trans_b { c * k + i } else { i * n + c };
                        ((r * k + i) as u32, bidx as u32)
                    })
                    .collect()
            })
            .collect();
        let p = self.emit(
            Op::Bilinear {
                terms,
                scale: alpha,
            },
            vec![ai, bi],
            vec![m, n],
        );
        match self.input(node, 2)? {
            None => Ok(Value::Dyn(p)),
            Some(c) => self.plus_beta_c(p, c, beta),
        }
    }

    /// `p + beta·c`, broadcast like any addition.
    fn plus_beta_c(&mut self, p: usize, c: Value, beta: f32) -> R<Value> {
        let beta_v = Value::Const(Const {
            shape: vec![],
            data: vec![beta],
        });
        let bc = self.binary(super::elementwise_ops::Bin::Mul, c, beta_v)?;
        self.binary(super::elementwise_ops::Bin::Add, Value::Dyn(p), bc)
    }

    /// A Gemm of constant A and B (a recurrence's first step multiplies its constant initial
    /// state; tf2onnx writes a Keras SimpleRNN so): `alpha·A·B + beta·C` folded, or added to a
    /// computed C.
    fn gemm_of_constants(
        &mut self,
        node: &pb::NodeProto,
        a: Value,
        alpha: f32,
        beta: f32,
    ) -> R<Value> {
        let mut b = self.req(node, 1)?;
        if attr_i(node, "transB", 0) != 0 {
            b = one(self.lower_as("Transpose", vec![Some(b)], &[], vec![])?)?;
        }
        let y = self.matmul_values(a, b)?;
        let y = self.binary(Bin::Mul, y, scalar(alpha))?;
        match self.input(node, 2)? {
            None => Ok(y),
            Some(c) => {
                let c = self.binary(Bin::Mul, c, scalar(beta))?;
                self.binary(Bin::Add, y, c)
            }
        }
    }

    /// `alpha·A·B + beta·C` with a constant `A` (already transposed if `transA`) and a computed
    /// `B`: every column of `B` goes through the dense map `A`, and the result is transposed
    /// back, `(A·B)ᵀ = Bᵀ·Aᵀ`.
    fn gemm_const_a(&mut self, node: &pb::NodeProto, a: Const, alpha: f32, beta: f32) -> R<Value> {
        let b = self.req(node, 1)?;
        let bi = self.dyn_of(&b, "B")?;
        let bs = self.nodes[bi].shape.clone();
        if a.shape.len() != 2 || bs.len() != 2 {
            return Err(format!("A and B must be 2-D, got {:?} and {bs:?}", a.shape));
        }
        let (m, k) = (a.shape[0], a.shape[1]);
        let (trans_b, n) = gemm_b(node, &bs, m, k)?;
        // Bᵀ as [n, k]: row j is column j of B.
        let picks: Vec<Pick> = (0..n)
            .flat_map(|j| {
                (0..k).map(move |i| Pick::V(0, if trans_b { j * k + i } else { i * n + j } as u32))
            })
            .collect();
        let bt = self.rewire(&[Value::Dyn(bi)], vec![n, k], &picks);
        let bt = self.dyn_of(&bt, "B")?;
        let weight: Vec<f32> = a.data.iter().map(|w| alpha * w).collect();
        let bias = match self.input(node, 2)? {
            None => None,
            Some(Value::Const(c)) => {
                let map = broadcast_index(&c.shape, &[m, n]).ok_or_else(|| {
                    format!("C of shape {:?} does not broadcast to [{m}, {n}]", c.shape)
                })?;
                // Transposed to the [n, m] layout of the map's output.
                Some(
                    (0..n * m)
                        .map(|t| beta * c.data[map[(t % m) * n + t / m] as usize])
                        .collect(),
                )
            }
            Some(Value::Dyn(_)) => None,
        };
        let ct = self.emit(
            Op::Linear {
                map: Linear::dense(weight, m, k, n),
                bias,
            },
            vec![bt],
            vec![n, m],
        );
        let back: Vec<Pick> = (0..m)
            .flat_map(|r| (0..n).map(move |j| Pick::V(0, (j * m + r) as u32)))
            .collect();
        let y = self.rewire(&[Value::Dyn(ct)], vec![m, n], &back);
        let y = self.dyn_of(&y, "the product")?;
        self.plus_computed_c(node, y, beta)
    }

    #[allow(clippy::needless_range_loop)]
    fn matmul(&mut self, node: &pb::NodeProto) -> R<Value> {
        let (a, b) = (self.req(node, 0)?, self.req(node, 1)?);
        self.matmul_values(a, b)
    }

    /// `a × b` as ONNX's `MatMul` (NumPy's `matmul`: batch dimensions broadcast).
    pub(crate) fn matmul_values(&mut self, a: Value, b: Value) -> R<Value> {
        let (sa0, sb0) = (self.shape_of(&a), self.shape_of(&b));
        if sa0.is_empty() || sb0.is_empty() {
            return Err("scalar operands are not supported".into());
        }
        let sa = if sa0.len() == 1 {
            vec![1, sa0[0]]
        } else {
            sa0.clone()
        };
        let sb = if sb0.len() == 1 {
            vec![sb0[0], 1]
        } else {
            sb0.clone()
        };
        let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
        let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
        if k != k2 {
            return Err(format!("shapes {sa0:?} and {sb0:?} do not multiply"));
        }
        let (ba, bb) = (&sa[..sa.len() - 2], &sb[..sb.len() - 2]);
        let batch = broadcast_shape(ba, bb)
            .ok_or_else(|| format!("batch dimensions of {sa0:?} and {sb0:?} do not broadcast"))?;
        let ia = broadcast_index(ba, &batch).ok_or("batch dimensions do not broadcast")?;
        let ib = broadcast_index(bb, &batch).ok_or("batch dimensions do not broadcast")?;
        let nb = numel(&batch);
        // The products it lays out (checked before anything is built: broadcast batches
        // multiply operands that are each within the budget).
        let work = match (&a, &b) {
            (Value::Dyn(_), Value::Dyn(_)) => [nb, m, n, k]
                .iter()
                .try_fold(1usize, |p, &d| p.checked_mul(d)),
            (Value::Dyn(_), Value::Const(_)) => {
                [nb, m, k].iter().try_fold(1usize, |p, &d| p.checked_mul(d))
            }
            (Value::Const(_), Value::Dyn(_)) => {
                [nb, n, k].iter().try_fold(1usize, |p, &d| p.checked_mul(d))
            }
            _ => [nb, m, n, k]
                .iter()
                .try_fold(1usize, |p, &d| p.checked_mul(d)),
        };
        if work.is_none_or(|w| w > MAX_ELEMENTS) {
            return Err(format!(
                "a product of {sa0:?} and {sb0:?} over the importer's budget of {MAX_ELEMENTS} terms"
            ));
        }
        let mut out: Vec<usize> = batch.clone();
        if sa0.len() > 1 {
            out.push(m);
        }
        if sb0.len() > 1 {
            out.push(n);
        }
        let a_at = |bt: usize, i: usize, kk: usize| (ia[bt] as usize * m + i) * k + kk;
        let b_at = |bt: usize, kk: usize, j: usize| (ib[bt] as usize * k + kk) * n + j;
        let o_at = |bt: usize, i: usize, j: usize| ((bt * m + i) * n + j) as u32;
        match (&a, &b) {
            (Value::Const(ca), Value::Const(cb)) => {
                let mut data = vec![0f32; nb * m * n];
                for bt in 0..nb {
                    for i in 0..m {
                        for j in 0..n {
                            data[o_at(bt, i, j) as usize] = (0..k)
                                .map(|kk| ca.data[a_at(bt, i, kk)] * cb.data[b_at(bt, kk, j)])
                                .sum();
                        }
                    }
                }
                Ok(Value::Const(Const { shape: out, data }))
            }
            (Value::Dyn(x), Value::Const(cb)) => {
                // One weight block per batch of B: W[j][kk] = B[kk][j].
                let nbb = numel(bb);
                let mats = (0..nbb)
                    .map(|q| Mat {
                        rows: n,
                        cols: k,
                        data: (0..n)
                            .flat_map(|j| (0..k).map(move |kk| (j, kk)))
                            .map(|(j, kk)| cb.data[(q * k + kk) * n + j])
                            .collect(),
                    })
                    .collect();
                let mut groups = Vec::with_capacity(nb * m);
                for (bt, &q) in ib.iter().enumerate().take(nb) {
                    for i in 0..m {
                        groups.push(Group {
                            mat: q,
                            inputs: (0..k).map(|kk| Some((0, a_at(bt, i, kk) as u32))).collect(),
                            outputs: (0..n).map(|j| o_at(bt, i, j)).collect(),
                        });
                    }
                }
                Ok(Value::Dyn(self.emit(
                    Op::Linear {
                        map: Linear { mats, groups },
                        bias: None,
                    },
                    vec![*x],
                    out,
                )))
            }
            (Value::Const(ca), Value::Dyn(y)) => {
                let nba = numel(ba);
                let mats = (0..nba)
                    .map(|q| Mat {
                        rows: m,
                        cols: k,
                        data: ca.data[q * m * k..(q + 1) * m * k].to_vec(),
                    })
                    .collect();
                let mut groups = Vec::with_capacity(nb * n);
                for (bt, &q) in ia.iter().enumerate().take(nb) {
                    for j in 0..n {
                        groups.push(Group {
                            mat: q,
                            inputs: (0..k).map(|kk| Some((0, b_at(bt, kk, j) as u32))).collect(),
                            outputs: (0..m).map(|i| o_at(bt, i, j)).collect(),
                        });
                    }
                }
                Ok(Value::Dyn(self.emit(
                    Op::Linear {
                        map: Linear { mats, groups },
                        bias: None,
                    },
                    vec![*y],
                    out,
                )))
            }
            (Value::Dyn(x), Value::Dyn(y)) => {
                let mut terms = Vec::with_capacity(nb * m * n);
                for bt in 0..nb {
                    for i in 0..m {
                        for j in 0..n {
                            terms.push(
                                (0..k)
                                    .map(|kk| (a_at(bt, i, kk) as u32, b_at(bt, kk, j) as u32))
                                    .collect(),
                            );
                        }
                    }
                }
                Ok(Value::Dyn(self.emit(
                    Op::Bilinear { terms, scale: 1.0 },
                    vec![*x, *y],
                    out,
                )))
            }
        }
    }

    fn conv(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        let w = const_req(self.req(node, 1)?, "the weight")?;
        if s.len() < 3 || w.shape.len() != s.len() {
            return Err(format!(
                "input {s:?} and weight {:?} do not fit a convolution",
                w.shape
            ));
        }
        let (nbatch, c, spatial) = (s[0], s[1], &s[2..]);
        let (mo, cg) = (w.shape[0], w.shape[1]);
        let group = attr_i(node, "group", 1).max(1) as usize;
        if cg * group != c || !mo.is_multiple_of(group) {
            return Err(format!(
                "{c} input channels, {mo} output channels and group {group} do not fit weight {:?}",
                w.shape
            ));
        }
        let kernel = attr_ints(node, "kernel_shape").map_or(w.shape[2..].to_vec(), |k| {
            k.iter().map(|&v| v as usize).collect()
        });
        let win = Window::new(node, spatial, kernel, false)?;
        let kp = numel(&win.kernel);
        let mg = mo / group;
        let mats: Vec<Mat<f32>> = (0..group)
            .map(|g| Mat {
                rows: mg,
                cols: cg * kp,
                data: w.data[g * mg * cg * kp..(g + 1) * mg * cg * kp].to_vec(),
            })
            .collect();
        let sp_in = numel(spatial);
        let sp_out = numel(&win.out);
        let mut groups = Vec::with_capacity(nbatch * group * sp_out);
        for n in 0..nbatch {
            for g in 0..group {
                for_each_index(&win.out, |pflat, p| {
                    let taps = win.taps(spatial, p);
                    let inputs = (0..cg)
                        .flat_map(|ci| {
                            taps.iter().map(move |t| {
                                t.map(|off| (0u32, ((n * c + g * cg + ci) * sp_in + off) as u32))
                            })
                        })
                        .collect();
                    let outputs = (0..mg)
                        .map(|m| ((n * mo + g * mg + m) * sp_out + pflat) as u32)
                        .collect();
                    groups.push(Group {
                        mat: g as u32,
                        inputs,
                        outputs,
                    });
                });
            }
        }
        let mut out = vec![nbatch, mo];
        out.extend(&win.out);
        let bias = match self.input(node, 2)? {
            None => None,
            Some(b) => {
                let b = const_req(b, "the bias")?;
                Some(
                    (0..numel(&out))
                        .map(|i| b.data[(i / sp_out) % mo])
                        .collect(),
                )
            }
        };
        let map = Linear { mats, groups };
        match x {
            Value::Dyn(xi) => Ok(Value::Dyn(self.emit(
                Op::Linear { map, bias },
                vec![xi],
                out,
            ))),
            // A constant input (a recurrence's first step convolves its initial state:
            // tf2onnx's ConvLSTM2D) is folded.
            Value::Const(cx) => {
                let mut data = map.eval(
                    numel(&out),
                    0f32,
                    |(_, i)| cx.data[i as usize],
                    |a, w, x| a + w * x,
                );
                if let Some(b) = bias {
                    data.iter_mut().zip(b).for_each(|(y, b)| *y += b);
                }
                Ok(Value::Const(Const { shape: out, data }))
            }
        }
    }

    fn conv_transpose(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let xi = self.dyn_of(&x, "the input")?;
        let s = self.shape_of(&x);
        let w = const_req(self.req(node, 1)?, "the weight")?;
        if s.len() < 3 || w.shape.len() != s.len() {
            return Err(format!(
                "input {s:?} and weight {:?} do not fit a transposed convolution",
                w.shape
            ));
        }
        let r = s.len() - 2;
        let (nbatch, c, spatial) = (s[0], s[1], s[2..].to_vec());
        let group = attr_i(node, "group", 1).max(1) as usize;
        let (cw, mg) = (w.shape[0], w.shape[1]);
        if cw != c || !c.is_multiple_of(group) {
            return Err(format!(
                "{c} input channels and group {group} do not fit weight {:?}",
                w.shape
            ));
        }
        let cg = c / group;
        let mo = mg * group;
        let kernel: Vec<usize> = attr_ints(node, "kernel_shape")
            .map_or(w.shape[2..].to_vec(), |k| {
                k.iter().map(|&v| v as usize).collect()
            });
        let st: Vec<usize> = attr_ints(node, "strides")
            .map_or(vec![1; r], |v| v.iter().map(|&x| x as usize).collect());
        let dil: Vec<usize> = attr_ints(node, "dilations")
            .map_or(vec![1; r], |v| v.iter().map(|&x| x as usize).collect());
        let opad: Vec<usize> = attr_ints(node, "output_padding")
            .map_or(vec![0; r], |v| v.iter().map(|&x| x as usize).collect());
        let pads = transposed_pads(node, &spatial, &kernel, &st, &dil, &opad)?;
        let out_sp: Vec<usize> = (0..r)
            .map(|a| {
                ((spatial[a] - 1) * st[a] + (kernel[a] - 1) * dil[a] + 1 + opad[a]) as i64
                    - pads[a]
                    - pads[a + r]
            })
            .map(|v| v.max(0) as usize)
            .collect();
        let kp = numel(&kernel);
        // Block g: row m, column (ci, kk) = W[g·cg + ci][m][kk].
        let mats: Vec<Mat<f32>> = (0..group)
            .map(|g| Mat {
                rows: mg,
                cols: cg * kp,
                data: (0..mg)
                    .flat_map(|m| (0..cg).flat_map(move |ci| (0..kp).map(move |kk| (m, ci, kk))))
                    .map(|(m, ci, kk)| w.data[((g * cg + ci) * mg + m) * kp + kk])
                    .collect(),
            })
            .collect();
        let sst = strides(&spatial);
        let sp_in = numel(&spatial);
        let sp_out = numel(&out_sp);
        let mut groups = Vec::new();
        for n in 0..nbatch {
            for g in 0..group {
                for_each_index(&out_sp, |oflat, o| {
                    let mut taps = Vec::with_capacity(kp);
                    for_each_index(&kernel, |_, kk| {
                        let mut off = 0usize;
                        let mut ok = true;
                        for a in 0..r {
                            let t = o[a] as i64 + pads[a] - (kk[a] * dil[a]) as i64;
                            if t < 0
                                || t % st[a] as i64 != 0
                                || t / st[a] as i64 >= spatial[a] as i64
                            {
                                ok = false;
                            } else {
                                off += (t / st[a] as i64) as usize * sst[a];
                            }
                        }
                        taps.push(ok.then_some(off));
                    });
                    let inputs = (0..cg)
                        .flat_map(|ci| {
                            taps.iter().map(move |t| {
                                t.map(|off| (0u32, ((n * c + g * cg + ci) * sp_in + off) as u32))
                            })
                        })
                        .collect();
                    let outputs = (0..mg)
                        .map(|m| ((n * mo + g * mg + m) * sp_out + oflat) as u32)
                        .collect();
                    groups.push(Group {
                        mat: g as u32,
                        inputs,
                        outputs,
                    });
                });
            }
        }
        let mut out = vec![nbatch, mo];
        out.extend(&out_sp);
        let bias = match self.input(node, 2)? {
            None => None,
            Some(b) => {
                let b = const_req(b, "the bias")?;
                Some(
                    (0..numel(&out))
                        .map(|i| b.data[(i / sp_out) % mo])
                        .collect(),
                )
            }
        };
        Ok(Value::Dyn(self.emit(
            Op::Linear {
                map: Linear { mats, groups },
                bias,
            },
            vec![xi],
            out,
        )))
    }

    fn pool(&mut self, node: &pb::NodeProto, max: bool) -> R<Value> {
        let x = self.req(node, 0)?;
        let xi = self.dyn_of(&x, "the input")?;
        let s = self.shape_of(&x);
        if s.len() < 3 {
            return Err(format!("input {s:?} has no spatial axes"));
        }
        let kernel: Vec<usize> = attr_ints(node, "kernel_shape")
            .ok_or("kernel_shape is required")?
            .iter()
            .map(|&v| v as usize)
            .collect();
        let spatial = &s[2..];
        let win = Window::new(node, spatial, kernel, attr_i(node, "ceil_mode", 0) != 0)?;
        let include_pad = attr_i(node, "count_include_pad", 0) != 0;
        let (nc, sp_in, sp_out) = (s[0] * s[1], numel(spatial), numel(&win.out));
        let mut out = s[..2].to_vec();
        out.extend(&win.out);
        let mut windows: Vec<Vec<Option<u32>>> = Vec::with_capacity(nc * sp_out);
        let mut counts = Vec::with_capacity(nc * sp_out);
        for ch in 0..nc {
            for_each_index(&win.out, |_, p| {
                let taps = win.taps(spatial, p);
                // ONNX (its reference and onnxruntime) divides by the whole kernel when
                // padding counts, a ceil-mode window reaching past the end padding included
                // (PyTorch and tract clip such a window to the padded input).
                let valid = taps.iter().filter(|t| t.is_some()).count();
                counts.push(if include_pad { taps.len() } else { valid });
                windows.push(
                    taps.iter()
                        .map(|t| t.map(|off| (ch * sp_in + off) as u32))
                        .collect(),
                );
            });
        }
        if max {
            let groups: Vec<Vec<u32>> = windows
                .iter()
                .map(|w| w.iter().flatten().copied().collect())
                .collect();
            return Ok(Value::Dyn(self.reduce_max(xi, &groups, out)?));
        }
        let kp = numel(&win.kernel);
        let mut mats: Vec<Mat<f32>> = Vec::new();
        let mut mat_of = std::collections::HashMap::new();
        let groups = windows
            .into_iter()
            .zip(counts)
            .enumerate()
            .map(|(o, (w, cnt))| {
                let m = *mat_of.entry(cnt).or_insert_with(|| {
                    mats.push(Mat {
                        rows: 1,
                        cols: kp,
                        data: vec![1.0 / cnt.max(1) as f32; kp],
                    });
                    mats.len() - 1
                });
                Group {
                    mat: m as u32,
                    inputs: w.into_iter().map(|t| t.map(|i| (0, i))).collect(),
                    outputs: vec![o as u32],
                }
            })
            .collect();
        Ok(Value::Dyn(self.emit(
            Op::Linear {
                map: Linear { mats, groups },
                bias: None,
            },
            vec![xi],
            out,
        )))
    }

    fn reduce(&mut self, node: &pb::NodeProto, op: &str) -> R<Value> {
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        let axes = match attr_ints(node, "axes") {
            Some(a) => Some(a),
            None => self
                .const_input(node, 1, "axes")?
                .map(|c| c.data.iter().map(|&v| v as i64).collect()),
        };
        let axes: Vec<usize> = match axes {
            Some(a) if !a.is_empty() => {
                a.iter().map(|&v| norm_axis(v, s.len())).collect::<R<_>>()?
            }
            _ if attr_i(node, "noop_with_empty_axes", 0) != 0 => return Ok(x),
            _ => (0..s.len()).collect(),
        };
        let (groups, kept) = reduction_groups(&s, &axes);
        let out: Vec<usize> = if attr_i(node, "keepdims", 1) != 0 {
            kept
        } else {
            s.iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect()
        };
        let n = groups.first().map_or(1, Vec::len);
        if let Value::Const(c) = &x {
            // Folded in f64 (a function body's sum of constant weights, say).
            let f = |g: &Vec<u32>| -> f32 {
                let v = g.iter().map(|&i| f64::from(c.data[i as usize]));
                let r = match op {
                    "ReduceSum" => v.sum(),
                    "ReduceMean" => v.sum::<f64>() / n as f64,
                    "ReduceMax" => v.fold(f64::NEG_INFINITY, f64::max),
                    "ReduceMin" => v.fold(f64::INFINITY, f64::min),
                    "ReduceProd" => v.product(),
                    "ReduceSumSquare" => v.map(|a| a * a).sum(),
                    "ReduceL1" => v.map(f64::abs).sum(),
                    "ReduceL2" => v.map(|a| a * a).sum::<f64>().sqrt(),
                    "ReduceLogSum" => v.sum::<f64>().ln(),
                    _ => v.map(f64::exp).sum::<f64>().ln(),
                };
                r as f32
            };
            return Ok(Value::Const(Const {
                shape: out,
                data: groups.iter().map(f).collect(),
            }));
        }
        let xi = self.dyn_of(&x, "the input")?;
        let len = numel(&s);
        let id = iota(len);
        let squares = |imp: &mut Self| {
            let terms = groups
                .iter()
                .map(|g| g.iter().map(|&i| (i, i)).collect())
                .collect();
            imp.emit(
                Op::Bilinear { terms, scale: 1.0 },
                vec![xi, xi],
                out.clone(),
            )
        };
        Ok(Value::Dyn(match op {
            "ReduceMean" => self.sum_groups(xi, &groups, 1.0 / n as f32, out),
            "ReduceSum" => self.sum_groups(xi, &groups, 1.0, out),
            "ReduceMax" => self.reduce_max(xi, &groups, out)?,
            "ReduceSumSquare" => squares(self),
            "ReduceProd" => self.product_groups(xi, &groups, out)?,
            "ReduceL2" => {
                let sq = squares(self);
                self.nodes[sq].wide = true;
                self.emit(Op::Sqrt, vec![sq], out)
            }
            "ReduceL1" => {
                let neg = self.affine(xi, vec![-1.0; len], vec![0.0; len]);
                let r = self.relu(neg);
                let abs = self.combine(&[(xi, &id, 1.0), (r, &id, 2.0)], s.clone());
                self.sum_groups(abs, &groups, 1.0, out)
            }
            "ReduceLogSum" => {
                let sum = self.sum_groups(xi, &groups, 1.0, out);
                self.func(sum, Func::Log)
            }
            "ReduceLogSumExp" => {
                // m + log Σ e^(x − m), m the group's maximum.
                let m = self.reduce_max(xi, &groups, out.clone())?;
                let gof = group_of(&groups, len);
                let d = self.combine(&[(xi, &id, 1.0), (m, &gof, -1.0)], s.clone());
                self.nodes[d].nonpositive = true;
                let e = self.func(d, Func::Exp);
                let sum = self.sum_groups(e, &groups, 1.0, out.clone());
                let ls = self.func(sum, Func::Log);
                let k = numel(&out);
                let kid = iota(k);
                self.combine(&[(m, &kid, 1.0), (ls, &kid, 1.0)], out)
            }
            _ => {
                let neg = self.affine(xi, vec![-1.0; len], vec![0.0; len]);
                let m = self.reduce_max(neg, &groups, out.clone())?;
                let k = numel(&out);
                self.affine(m, vec![-1.0; k], vec![0.0; k])
            }
        }))
    }

    /// `InstanceNormalization`: every channel of every item normalised over its spatial axes,
    /// then scaled and shifted per channel.
    fn instance_norm(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let xi = self.dyn_of(&x, "the input")?;
        let s = self.shape_of(&x);
        if s.len() < 3 {
            return Err(format!("the input has shape {s:?}, expected N×C×spatial"));
        }
        let eps = attr_f(node, "epsilon", 1e-5);
        let axes: Vec<usize> = (2..s.len()).collect();
        let norm = self.normalized(xi, &axes, eps)?;
        let scale = const_req(self.req(node, 1)?, "the scale")?;
        let bias = const_req(self.req(node, 2)?, "the bias")?;
        let c = s[1];
        if scale.data.len() != c || bias.data.len() != c {
            return Err(format!(
                "scale and bias of {} and {} values for {c} channels",
                scale.data.len(),
                bias.data.len()
            ));
        }
        let inner: usize = s[2..].iter().product();
        let n = numel(&s);
        let ch = |i: usize| (i / inner) % c;
        let mul = (0..n).map(|i| scale.data[ch(i)]).collect();
        let add = (0..n).map(|i| bias.data[ch(i)]).collect();
        Ok(Value::Dyn(self.affine(norm, mul, add)))
    }

    /// `(x − mean) / sqrt(var + eps)` over `axes` (the variance kept at double precision).
    fn normalized(&mut self, xi: usize, axes: &[usize], eps: f32) -> R<usize> {
        self.normalized_parts(xi, axes, eps).map(|(y, _, _)| y)
    }

    /// As [`Importer::normalized`], with the mean and the standard deviation (shaped as the
    /// input with the normalised axes of size 1).
    fn normalized_parts(
        &mut self,
        xi: usize,
        axes: &[usize],
        eps: f32,
    ) -> R<(usize, usize, usize)> {
        let s = self.nodes[xi].shape.clone();
        let (groups, kept) = reduction_groups(&s, axes);
        let n = numel(&s);
        let size = groups.first().map_or(1, Vec::len);
        let gof = group_of(&groups, n);
        let id = iota(n);
        let mu = self.sum_groups(xi, &groups, 1.0 / size as f32, kept.clone());
        let d = self.combine(&[(xi, &id, 1.0), (mu, &gof, -1.0)], s.clone());
        let terms = groups
            .iter()
            .map(|g| g.iter().map(|&i| (i, i)).collect())
            .collect();
        let var = self.emit(
            Op::Bilinear {
                terms,
                scale: 1.0 / size as f32,
            },
            vec![d, d],
            kept.clone(),
        );
        self.nodes[var].wide = true;
        let k = numel(&kept);
        let var_eps = self.affine(var, vec![1.0; k], vec![eps; k]);
        self.nodes[var_eps].wide = true;
        let std = self.emit(Op::Sqrt, vec![var_eps], kept);
        let y = self.emit(
            Op::Div {
                num: id.iter().map(|&i| Ref::In(0, i)).collect(),
                den: gof.iter().map(|&g| Ref::In(1, g)).collect(),
            },
            vec![d, std],
            s,
        );
        Ok((y, mu, std))
    }

    /// `LayerNormalization`: the normalised, scaled and shifted input, and (where the node
    /// asks for them) the mean and the inverse standard deviation.
    fn layer_norm(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        let x = self.req(node, 0)?;
        let xi = self.dyn_of(&x, "the input")?;
        let s = self.shape_of(&x);
        let axis = norm_axis(attr_i(node, "axis", -1), s.len())?;
        let eps = attr_f(node, "epsilon", 1e-5);
        let axes: Vec<usize> = (axis..s.len()).collect();
        let (norm, mu, std) = self.normalized_parts(xi, &axes, eps)?;
        let n = numel(&s);
        let scale = self
            .input(node, 1)?
            .map(|v| const_req(v, "the scale"))
            .transpose()?;
        let bias = self
            .input(node, 2)?
            .map(|v| const_req(v, "the bias"))
            .transpose()?;
        let expand = |c: &Option<Const>, default: f32| -> R<Vec<f32>> {
            match c {
                None => Ok(vec![default; n]),
                Some(c) => Ok(broadcast_index(&c.shape, &s)
                    .ok_or_else(|| {
                        format!(
                            "parameter of shape {:?} does not broadcast to {s:?}",
                            c.shape
                        )
                    })?
                    .iter()
                    .map(|&i| c.data[i as usize])
                    .collect()),
            }
        };
        let (mul, add) = (expand(&scale, 1.0)?, expand(&bias, 0.0)?);
        let mut out = vec![Value::Dyn(self.affine(norm, mul, add))];
        let wants = |k: usize| node.output.get(k).is_some_and(|o| !o.is_empty());
        if wants(1) || wants(2) {
            out.push(Value::Dyn(mu));
        }
        if wants(2) {
            out.push(Value::Dyn(self.reciprocal(std)));
        }
        Ok(out)
    }

    fn softmax(&mut self, node: &pb::NodeProto, log: bool) -> R<Value> {
        let x = self.req(node, 0)?;
        let xi = self.dyn_of(&x, "the input")?;
        let s = self.shape_of(&x);
        let axes: Vec<usize> = if self.opset < 13 {
            let a = norm_axis(attr_i(node, "axis", 1), s.len())?;
            (a..s.len()).collect()
        } else {
            vec![norm_axis(attr_i(node, "axis", -1), s.len())?]
        };
        Ok(Value::Dyn(self.softmax_over(xi, &axes, log)?))
    }

    /// Softmax (or log-softmax) of `x` over `axes`.
    pub(crate) fn softmax_over(&mut self, xi: usize, axes: &[usize], log: bool) -> R<usize> {
        let s = self.nodes[xi].shape.clone();
        let n = numel(&s);
        let (mut groups, kept) = reduction_groups(&s, axes);
        let gof = group_of(&groups, n);
        let id = iota(n);
        // Masked elements are left out of every group; their output is exactly 0 (`mask`).
        // Those whose offset is not negative enough for that, a log-softmax's and a group's
        // whose every element is masked (a finite offset there is a shift) get real values.
        let xi = match self.masked.get(&xi).cloned() {
            None => xi,
            Some(m) => {
                let mut all_masked = vec![log; n];
                for g in groups
                    .iter()
                    .filter(|g| g.iter().all(|&e| m[e as usize].is_some()))
                {
                    for &e in g {
                        all_masked[e as usize] = true;
                    }
                }
                self.materialize_where(xi, |e, o| o > mask::SOFTMAX_DROPS || all_masked[e])
            }
        };
        let mask = self.masked.get(&xi).cloned();
        if let Some(m) = &mask {
            if log {
                return Err("a log-softmax over −∞ elements is −∞".into());
            }
            for g in &mut groups {
                g.retain(|&e| m[e as usize].is_none());
                if g.is_empty() {
                    return Err("a softmax whose every element is masked (−∞)".into());
                }
            }
        }
        let m = self.reduce_max(xi, &groups, kept.clone())?;
        // Only the elements left in a group are exponentiated: `live` lists them, `pos` gives
        // an element's place among them. Each is at most its group's maximum, so `x − max` is
        // never positive and its exponential reads one half of its table.
        let masked = |i: u32| mask.as_ref().is_some_and(|m| m[i as usize].is_some());
        let live: Vec<u32> = id.iter().copied().filter(|&i| !masked(i)).collect();
        let mut pos = vec![0u32; n];
        for (j, &i) in live.iter().enumerate() {
            pos[i as usize] = j as u32;
        }
        let live_group: Vec<u32> = live.iter().map(|&i| gof[i as usize]).collect();
        let d = self.combine(
            &[(xi, &live, 1.0), (m, &live_group, -1.0)],
            vec![live.len()],
        );
        self.nodes[d].nonpositive = true;
        let e = self.func(d, Func::Exp);
        let live_groups: Vec<Vec<u32>> = groups
            .iter()
            .map(|g| g.iter().map(|&i| pos[i as usize]).collect())
            .collect();
        let sum = self.sum_groups(e, &live_groups, 1.0, kept);
        if log {
            // No element is masked here (checked above): `d` holds `x − max` in `x`'s order.
            let ls = self.func(sum, Func::Log);
            return Ok(self.combine(&[(d, &id, 1.0), (ls, &gof, -1.0)], s));
        }
        Ok(self.emit(
            Op::Div {
                num: id
                    .iter()
                    .map(|&i| {
                        if masked(i) {
                            Ref::Const(0.0)
                        } else {
                            Ref::In(0, pos[i as usize])
                        }
                    })
                    .collect(),
                den: id
                    .iter()
                    .zip(&gof)
                    .map(|(&i, &g)| {
                        if masked(i) {
                            Ref::Const(1.0)
                        } else {
                            Ref::In(1, g)
                        }
                    })
                    .collect(),
            },
            vec![e, sum],
            s,
        ))
    }
}
