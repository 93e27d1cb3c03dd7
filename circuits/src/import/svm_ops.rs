//! Support vector machines (`ai.onnx.ml` `SVMRegressor` and `SVMClassifier`).
//!
//! A kernel machine is a dense map of kernel values: `Σ_j c_j·K(x, v_j) + ρ` over the support
//! vectors `v_j`. Every kernel is a linear map of the input followed by at most one function:
//! `LINEAR` is `x·v`, `POLY` `(γ·x·v + c₀)^d` (products), `SIGMOID` `tanh(γ·x·v + c₀)`, and
//! `RBF` `exp(−γ·‖x − v‖²)` with `‖x − v‖² = ‖x‖² − 2·x·v + ‖v‖²` (one square per row, then a
//! single linear map of the input and its square): no product per support vector and feature.
//! The classifier's pairwise decisions are one more linear map of the kernels, each a sign, the
//! votes their sum and the label the first class with the most votes, as the ONNX reference
//! and onnxruntime compute them. Probabilities (`prob_a`, `prob_b`: Platt scaling, then an
//! iterative pairwise coupling) are refused with advice.

use tract_onnx::pb;

use super::ml_ops::{floats, ints};
use super::tensor::numel;
use super::{attr_i, attr_s, Importer, Value};
use crate::ir::{Func, Group, Linear, Mat, Op};

type R<T> = Result<T, String>;

/// The largest polynomial kernel degree unrolled into products.
const MAX_DEGREE: i64 = 8;

/// One output of a sparse linear map: its inputs within a row, their weights and a bias.
#[derive(Clone, Default)]
struct Sparse {
    idx: Vec<u32>,
    w: Vec<f32>,
    bias: f32,
}

/// A kernel and its parameters (`kernel_params` = `[γ, c₀, degree]`).
#[derive(Clone, Copy, Debug)]
enum Kernel {
    Linear,
    Poly { gamma: f32, coef0: f32, degree: u32 },
    Rbf { gamma: f32 },
    Sigmoid { gamma: f32, coef0: f32 },
}

fn kernel(node: &pb::NodeProto) -> R<Kernel> {
    let p = floats(node, "kernel_params")?;
    let at = |i: usize| p.get(i).copied().unwrap_or(0.0);
    let (gamma, coef0) = (at(0), at(1));
    if !gamma.is_finite() || !coef0.is_finite() {
        return Err(format!("kernel_params {p:?} are not finite"));
    }
    Ok(match attr_s(node, "kernel_type", "LINEAR").as_str() {
        "LINEAR" => Kernel::Linear,
        "RBF" => Kernel::Rbf { gamma },
        "SIGMOID" => Kernel::Sigmoid { gamma, coef0 },
        "POLY" => {
            let d = at(2);
            if d.fract() != 0.0 || !(1.0..=MAX_DEGREE as f32).contains(&d) {
                return Err(format!(
                    "a polynomial kernel of degree {d} is not supported (1 to {MAX_DEGREE})"
                ));
            }
            Kernel::Poly {
                gamma,
                coef0,
                degree: d as u32,
            }
        }
        k => return Err(format!("kernel_type {k} is not supported")),
    })
}

impl Importer {
    /// The support vectors of `node` (`n` of them, of `feats` features), flattened.
    fn support_vectors(&self, node: &pb::NodeProto, n: usize, feats: usize) -> R<Vec<f32>> {
        let sv = floats(node, "support_vectors")?;
        if n == 0 || feats == 0 || Some(sv.len()) != n.checked_mul(feats) {
            return Err(format!(
                "{} support vector values for {n} support vectors of {feats} features",
                sv.len()
            ));
        }
        Ok(sv)
    }

    /// `K(x_r, v_j)` for every row `r` of `xi` (`rows × feats`) and support vector `j`:
    /// a `[rows, n]` tensor.
    fn kernels(
        &mut self,
        xi: usize,
        (rows, feats): (usize, usize),
        sv: &[f32],
        n: usize,
        k: Kernel,
    ) -> R<usize> {
        let scaled = |g: f32| sv.iter().map(|v| v * g).collect::<Vec<f32>>();
        Ok(match k {
            Kernel::Linear => self.dense_rows(xi, rows, feats, sv, n, &[])?,
            Kernel::Sigmoid { gamma, coef0 } => {
                let t = self.dense_rows(xi, rows, feats, &scaled(gamma), n, &[coef0])?;
                self.func(t, Func::Tanh)
            }
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => {
                let t = self.dense_rows(xi, rows, feats, &scaled(gamma), n, &[coef0])?;
                self.power(t, degree)
            }
            Kernel::Rbf { gamma } => {
                // −γ·‖x‖² + 2γ·x·v − γ·‖v‖², one linear map of x and −γ·‖x‖² (γ applied in
                // the square's own rescale: a small ‖x‖² rounded first and then multiplied by
                // a large γ lost most of its digits).
                let terms = (0..rows)
                    .map(|r| {
                        (0..feats)
                            .map(|f| ((r * feats + f) as u32, (r * feats + f) as u32))
                            .collect()
                    })
                    .collect();
                let xx = self.emit(
                    Op::Bilinear {
                        terms,
                        scale: -gamma,
                    },
                    vec![xi, xi],
                    vec![rows],
                );
                let mut data = Vec::with_capacity(n * (feats + 1));
                let mut bias = Vec::with_capacity(n);
                for v in sv.chunks(feats) {
                    data.extend(v.iter().map(|&w| 2.0 * gamma * w));
                    data.push(1.0);
                    bias.push(-gamma * v.iter().map(|w| w * w).sum::<f32>());
                }
                let map = Linear {
                    mats: vec![Mat {
                        rows: n,
                        cols: feats + 1,
                        data,
                    }],
                    groups: (0..rows)
                        .map(|r| Group {
                            mat: 0,
                            inputs: (0..feats)
                                .map(|f| Some((0, (r * feats + f) as u32)))
                                .chain(std::iter::once(Some((1, r as u32))))
                                .collect(),
                            outputs: (r * n..(r + 1) * n).map(|o| o as u32).collect(),
                        })
                        .collect(),
                };
                let bias = (0..rows * n).map(|o| bias[o % n]).collect();
                let arg = self.emit(
                    Op::Linear {
                        map,
                        bias: Some(bias),
                    },
                    vec![xi, xx],
                    vec![rows, n],
                );
                self.func(arg, Func::Exp)
            }
        })
    }

    /// `x^d` elementwise by squaring and multiplying (`d ≥ 1`).
    fn power(&mut self, x: usize, d: u32) -> usize {
        let shape = self.nodes[x].shape.clone();
        let n = numel(&shape);
        let mut mul = |a: usize, b: usize| {
            let terms = (0..n as u32).map(|i| vec![(i, i)]).collect();
            self.emit(
                Op::Bilinear { terms, scale: 1.0 },
                vec![a, b],
                shape.clone(),
            )
        };
        let (mut acc, mut base, mut e) = (None::<usize>, x, d);
        loop {
            if e & 1 == 1 {
                acc = Some(acc.map_or(base, |a| mul(a, base)));
            }
            e >>= 1;
            if e == 0 {
                break;
            }
            base = mul(base, base);
        }
        acc.unwrap_or(x)
    }

    /// `SVMRegressor`: `Σ_j c_j·K(x, v_j) + ρ` (or, without support vectors, `c·x + ρ`);
    /// with `one_class`, `1` where that is positive and `−1` elsewhere.
    pub(crate) fn svm_regressor(&mut self, node: &pb::NodeProto) -> R<Value> {
        let pt = attr_s(node, "post_transform", "NONE");
        if pt != "NONE" {
            return Err(format!("post_transform {pt} is not supported"));
        }
        let x = self.req(node, 0)?;
        let (xi, rows, feats) = self.rows_of(x)?;
        let coef = floats(node, "coefficients")?;
        let rho = floats(node, "rho")?;
        let rho = *rho.first().ok_or("no rho")?;
        let n = usize::try_from(attr_i(node, "n_supports", 0))
            .map_err(|_| "n_supports is negative".to_string())?;
        let y = if n == 0 {
            if coef.len() != feats {
                return Err(format!("{} coefficients for {feats} features", coef.len()));
            }
            self.dense_rows(xi, rows, feats, &coef, 1, &[rho])?
        } else {
            let sv = self.support_vectors(node, n, feats)?;
            if coef.len() != n {
                return Err(format!(
                    "{} coefficients for {n} support vectors",
                    coef.len()
                ));
            }
            let k = self.kernels(xi, (rows, feats), &sv, n, kernel(node)?)?;
            self.dense_rows(k, rows, n, &coef, 1, &[rho])?
        };
        if attr_i(node, "one_class", 0) != 0 {
            let s = self.step_shifted(Value::Dyn(y), 0.0)?;
            let si = self.dyn_of(&s, "the sign")?;
            return Ok(Value::Dyn(self.affine(
                si,
                vec![2.0; rows],
                vec![-1.0; rows],
            )));
        }
        Ok(Value::Dyn(y))
    }

    /// `SVMClassifier` with support vectors and no probabilities: the pairwise decisions
    /// `ρ_p + Σ c·K` of every class pair `(i, j)`, `i < j`, a vote for `i` where positive and
    /// for `j` elsewhere, the label of the first class with the most votes; the scores are the
    /// decisions (`[−s, s]` for two classes).
    pub(crate) fn svm_classifier(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        if !floats(node, "prob_a")?.is_empty() {
            return Err(
                "an SVM classifier with probabilities (Platt scaling and iterative \
                        pairwise coupling) cannot be proved: convert with probability=False"
                    .into(),
            );
        }
        let pt = attr_s(node, "post_transform", "NONE");
        if pt != "NONE" {
            return Err(format!("post_transform {pt} is not supported"));
        }
        let labels = self.class_labels(node)?;
        let nc = labels.len();
        let per_class = ints(node, "vectors_per_class");
        let x = self.req(node, 0)?;
        let (xi, rows, feats) = self.rows_of(x)?;
        if per_class.is_empty() {
            return Err(
                "a linear SVM classifier (no support vectors) is not supported: \
                        scikit-learn's LinearSVC converts to LinearClassifier"
                    .into(),
            );
        }
        let counts: Vec<usize> = per_class
            .iter()
            .map(|&c| usize::try_from(c).map_err(|_| format!("vectors_per_class {c}")))
            .collect::<R<_>>()?;
        if nc < 2 || counts.len() != nc {
            return Err(format!("vectors_per_class {per_class:?} for {nc} classes"));
        }
        let n = counts
            .iter()
            .try_fold(0usize, |a, &c| a.checked_add(c))
            .ok_or("vectors_per_class overflows")?;
        let sv = self.support_vectors(node, n, feats)?;
        let pairs = nc * (nc - 1) / 2;
        let coef = floats(node, "coefficients")?;
        let rho = floats(node, "rho")?;
        if Some(coef.len()) != (nc - 1).checked_mul(n) || rho.len() != pairs {
            return Err(format!(
                "{} coefficients and {} rho for {nc} classes and {n} support vectors \
                 (expected (classes − 1) × vectors and one rho per pair of classes, {pairs})",
                coef.len(),
                rho.len(),
            ));
        }
        let start: Vec<usize> = counts
            .iter()
            .scan(0, |s, &c| {
                let v = *s;
                *s += c;
                Some(v)
            })
            .collect();
        // Decision p of (i, j): class i's vectors weighted by row j − 1, class j's by row i
        // (each decision reads its two classes' kernels only).
        let mut decisions = Vec::with_capacity(pairs);
        let mut order = Vec::with_capacity(pairs);
        for i in 0..nc {
            for j in i + 1..nc {
                let mut d = Sparse::default();
                for (c, row) in [(i, j - 1), (j, i)] {
                    for v in start[c]..start[c] + counts[c] {
                        d.idx.push(v as u32);
                        d.w.push(coef[row * n + v]);
                    }
                }
                d.bias = rho[order.len()];
                decisions.push(d);
                order.push((i, j));
            }
        }
        let k = self.kernels(xi, (rows, feats), &sv, n, kernel(node)?)?;
        let s = self.sparse_rows(k, rows, n, &decisions);
        // Votes: class i gets [s > 0] of its pairs as the first, 1 − [s > 0] as the second.
        let pos = self.step_shifted(Value::Dyn(s), 0.0)?;
        let pos = self.dyn_of(&pos, "the decisions' signs")?;
        let mut votes = vec![Sparse::default(); nc];
        for (p, &(i, j)) in order.iter().enumerate() {
            votes[i].idx.push(p as u32);
            votes[i].w.push(1.0);
            votes[j].idx.push(p as u32);
            votes[j].w.push(-1.0);
            votes[j].bias += 1.0;
        }
        let votes = self.sparse_rows(pos, rows, pairs, &votes);
        let groups: Vec<Vec<u32>> = (0..rows)
            .map(|r| ((r * nc) as u32..((r + 1) * nc) as u32).collect())
            .collect();
        let first = self.first_max(votes, &groups)?;
        let label = self.dense_rows(first, rows, nc, &labels, 1, &[])?;
        let label = self.reshape_to(label, vec![rows]);
        let scores = if nc == 2 {
            self.affine_pairs(s, rows)
        } else {
            s
        };
        Ok(vec![Value::Dyn(label), Value::Dyn(scores)])
    }

    /// `y[r, o] = Σ_t w_o[t]·x[r, idx_o[t]] + bias_o` over the rows of `x` (`width` elements
    /// each): one weight block per output, shared by every row.
    fn sparse_rows(&mut self, x: usize, rows: usize, width: usize, outs: &[Sparse]) -> usize {
        let mats = outs
            .iter()
            .map(|o| Mat {
                rows: 1,
                cols: o.w.len(),
                data: o.w.clone(),
            })
            .collect();
        let groups = (0..rows)
            .flat_map(|r| {
                outs.iter().enumerate().map(move |(o, s)| Group {
                    mat: o as u32,
                    inputs: s
                        .idx
                        .iter()
                        .map(|&t| Some((0, (r * width) as u32 + t)))
                        .collect(),
                    outputs: vec![(r * outs.len() + o) as u32],
                })
            })
            .collect();
        let bias = (0..rows)
            .flat_map(|_| outs.iter().map(|o| o.bias))
            .collect();
        self.emit(
            Op::Linear {
                map: Linear { mats, groups },
                bias: Some(bias),
            },
            vec![x],
            vec![rows, outs.len()],
        )
    }

    /// `[−s, s]` per row of a `[rows, 1]` score.
    fn affine_pairs(&mut self, s: usize, rows: usize) -> usize {
        let idx: Vec<u32> = (0..rows as u32).flat_map(|r| [r, r]).collect();
        let g = self.combine(&[(s, &idx, 1.0)], vec![rows, 2]);
        let mul = (0..2 * rows)
            .map(|k| if k % 2 == 0 { -1.0 } else { 1.0 })
            .collect();
        self.affine(g, mul, vec![0.0; 2 * rows])
    }
}
