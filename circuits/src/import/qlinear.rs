//! onnxruntime's two other quantized formats, beside QDQ (`quant_ops.rs`):
//!
//! - **Dynamic quantization** (`quantize_dynamic`): `DynamicQuantizeLinear` computes an
//!   activation's scale and zero point from its own minimum and maximum, `MatMulInteger` and
//!   `ConvInteger` multiply zero-point-shifted integers, a `Cast` and a `Mul` by the product
//!   of scales return to floats. The scale is `(max(x, 0) − min(x, 0)) / 255`, the zero point
//!   `round(−min(x, 0) / scale)`, the quantized tensor `clip(round(x / scale) + zero point, 0,
//!   255)`: maxima, a division by a computed positive value, `Round` (ties to even) and
//!   `Clip`, as ONNX defines it.
//! - **QOperator** (`quantize_static` with `QuantFormat.QOperator`): `QLinearConv`,
//!   `QLinearMatMul` and onnxruntime's `com.microsoft` operators (`QGemm`, `QLinearAdd`,
//!   `QLinearMul`, `QLinearSigmoid`, `QLinearLeakyRelu`, `QLinearSoftmax`,
//!   `QLinearAveragePool`, `QLinearGlobalAveragePool`, `QLinearConcat`). Each is its float
//!   operator between `DequantizeLinear` of its inputs and `QuantizeLinear` of its output,
//!   which is how onnxruntime defines them.
//!
//! Every part is lowered by the registry (`Importer::lower_as`), so these operators add no
//! arithmetic of their own.

use tract_onnx::pb;

use super::build::{one, scalar};
use super::elementwise_ops::Bin;
use super::registry::int_attr;
use super::{attr, attr_i, Const, Importer, Value};

type R<T> = Result<T, String>;

/// A QOperator operator: its float operator, its quantized inputs as (value, scale, zero
/// point) positions, its int32 bias's position (scaled by the first two inputs' scales), and
/// its output's (scale, zero point) positions (`None`: a float output).
struct QForm {
    float_op: &'static str,
    inputs: &'static [(usize, usize, usize)],
    bias: Option<usize>,
    output: Option<(usize, usize)>,
}

/// The QOperator operators (`QLinearConcat`, variadic, is handled apart).
fn qform(op: &str) -> Option<QForm> {
    let two: &'static [(usize, usize, usize)] = &[(0, 1, 2), (3, 4, 5)];
    let one: &'static [(usize, usize, usize)] = &[(0, 1, 2)];
    let f = |float_op, inputs, bias, output| {
        Some(QForm {
            float_op,
            inputs,
            bias,
            output,
        })
    };
    match op {
        "QLinearConv" => f("Conv", two, Some(8), Some((6, 7))),
        "QLinearMatMul" => f("MatMul", two, None, Some((6, 7))),
        "QGemm" => f("Gemm", two, Some(6), Some((7, 8))),
        "QLinearAdd" => f("Add", two, None, Some((6, 7))),
        "QLinearMul" => f("Mul", two, None, Some((6, 7))),
        "QLinearSigmoid" => f("Sigmoid", one, None, Some((3, 4))),
        "QLinearLeakyRelu" => f("LeakyRelu", one, None, Some((3, 4))),
        "QLinearSoftmax" => f("Softmax", one, None, Some((3, 4))),
        "QLinearAveragePool" => f("AveragePool", one, None, Some((3, 4))),
        "QLinearGlobalAveragePool" => f("GlobalAveragePool", one, None, Some((3, 4))),
        _ => None,
    }
}

impl Importer {
    pub(crate) fn lower_qlinear_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        Ok(Some(match op {
            "DynamicQuantizeLinear" => self.dynamic_quantize(node)?,
            "MatMulInteger" | "ConvInteger" => vec![self.integer_product(node, op)?],
            "QLinearConcat" => vec![self.qlinear_concat(node)?],
            _ => match qform(op) {
                Some(f) => vec![self.qlinear(node, op, &f)?],
                None => return Ok(None),
            },
        }))
    }

    /// The node's input `i` with its element type, where known.
    fn typed(&self, node: &pb::NodeProto, i: usize) -> R<(Option<Value>, Option<i32>)> {
        let t = node.input.get(i).and_then(|n| self.dtypes.get(n)).copied();
        Ok((self.input(node, i)?, t))
    }

    /// `DynamicQuantizeLinear`: (uint8 tensor, scale, zero point).
    fn dynamic_quantize(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        let x = self.req(node, 0)?;
        let keep = || vec![int_attr("keepdims", 0)];
        let mx = one(self.lower_as("ReduceMax", vec![Some(x.clone())], &[], keep())?)?;
        let mn = one(self.lower_as("ReduceMin", vec![Some(x.clone())], &[], keep())?)?;
        let hi = self.binary(Bin::Max, mx, scalar(0.0))?;
        let lo = self.binary(Bin::Min, mn, scalar(0.0))?;
        let range = self.binary(Bin::Sub, hi, lo.clone())?;
        let scale = self.binary(Bin::Mul, range, scalar(1.0 / 255.0))?;
        // Every element is divided by the scale and rounded: at the activations' precision
        // (≈ 9 significant bits for a scale of 0.06) `x / scale` would err by up to 0.25 and
        // a quarter of the elements round the other way. Twice the precision keeps it exact
        // but for the division's own rounding.
        if let Value::Dyn(s) = scale {
            self.nodes[s].wide = true;
        }
        let neg_lo = self.binary(Bin::Mul, lo, scalar(-1.0))?;
        let z = self.binary(Bin::Div, neg_lo, scale.clone())?;
        let z = one(self.lower_as("Round", vec![Some(z)], &[], vec![])?)?;
        let z = self.dyn_of(&z, "the zero point")?;
        let zero = Value::Dyn(self.clip(z, Some(0.0), Some(255.0)));
        let q = self.binary(Bin::Div, x, scale.clone())?;
        let q = one(self.lower_as("Round", vec![Some(q)], &[], vec![])?)?;
        let q = self.binary(Bin::Add, q, zero.clone())?;
        let q = self.dyn_of(&q, "the quantized tensor")?;
        let y = Value::Dyn(self.clip(q, Some(0.0), Some(255.0)));
        for k in [0, 2] {
            if let Some(n) = node.output.get(k) {
                self.dtypes.insert(n.clone(), 2);
            }
        }
        Ok(vec![y, scale, zero])
    }

    /// `v − zero_point`, the zero point (if any) per tensor or along `axis` of `v`.
    fn shifted(&mut self, v: Value, zero: Option<Value>, axis: usize) -> R<Value> {
        let Some(z) = zero else { return Ok(v) };
        let s = self.shape_of(&v);
        let zs = self.shape_of(&z);
        let n: usize = zs.iter().product();
        let z = if n == 1 || zs.len() != 1 {
            z
        } else if axis < s.len() && s[axis] == n {
            // Along `axis`: shaped [n, 1, …, 1] to broadcast from there.
            let mut shape = vec![n];
            shape.extend(std::iter::repeat_n(1, s.len() - axis - 1));
            match z {
                Value::Const(c) => Value::Const(Const {
                    shape,
                    data: c.data,
                }),
                d => {
                    let picks: Vec<_> =
                        (0..n as u32).map(|i| super::build::Pick::V(0, i)).collect();
                    self.rewire(&[d], shape, &picks)
                }
            }
        } else {
            return Err(format!(
                "a zero point of {n} values for an operand of shape {s:?}"
            ));
        };
        self.binary(Bin::Sub, v, z)
    }

    /// `MatMulInteger` (per-row zero points of A, per-column of B) and `ConvInteger`
    /// (per-output-channel zero points of W): the products of the shifted integers.
    fn integer_product(&mut self, node: &pb::NodeProto, op: &str) -> R<Value> {
        let a = self.req(node, 0)?;
        let b = self.req(node, 1)?;
        let (ra, rb) = (self.shape_of(&a).len(), self.shape_of(&b).len());
        let (za, zb) = (self.input(node, 2)?, self.input(node, 3)?);
        if op == "MatMulInteger" {
            let a = self.shifted(a, za, ra.saturating_sub(2))?;
            let b = self.shifted(b, zb, rb.saturating_sub(1))?;
            return self.matmul_values(a, b);
        }
        let x = self.shifted(a, za, ra)?;
        let w = self.shifted(b, zb, 0)?;
        one(self.lower_as("Conv", vec![Some(x), Some(w)], &[], node.attribute.clone())?)
    }

    /// `DequantizeLinear` of the node's inputs at (value, scale, zero point), per axis
    /// `axis` where the scale has several values.
    fn dequantized(
        &mut self,
        node: &pb::NodeProto,
        (v, s, z): (usize, usize, usize),
        axis: usize,
    ) -> R<Value> {
        let (x, tx) = self.typed(node, v)?;
        let (s, _) = self.typed(node, s)?;
        let (z, tz) = self.typed(node, z)?;
        let x = x.ok_or_else(|| format!("input {v} is missing"))?;
        let attrs = vec![int_attr("axis", axis as i64)];
        one(self.lower_as(
            "DequantizeLinear",
            vec![Some(x), s, z],
            &[tx, None, tz],
            attrs,
        )?)
    }

    /// `QuantizeLinear` of `y` by the node's (scale, zero point) at `(s, z)`.
    fn requantized(&mut self, node: &pb::NodeProto, y: Value, (s, z): (usize, usize)) -> R<Value> {
        let (s, _) = self.typed(node, s)?;
        let (z, tz) = self.typed(node, z)?;
        one(self.lower_as(
            "QuantizeLinear",
            vec![Some(y), s, z],
            &[None, None, tz],
            vec![],
        )?)
    }

    /// A QOperator operator: its float operator between dequantized inputs and a quantized
    /// output.
    fn qlinear(&mut self, node: &pb::NodeProto, op: &str, f: &QForm) -> R<Value> {
        if attr_i(node, "channels_last", 0) != 0 {
            return Err("channels_last layouts are not supported".into());
        }
        let mut ins = Vec::with_capacity(3);
        for (k, &triple) in f.inputs.iter().enumerate() {
            // Weights' scales run along the output channel (Conv: axis 0), the column
            // (MatMul: the last axis) or Gemm's N (axis 0 when B is transposed).
            let rank = self.shape_of(&self.req(node, triple.0)?).len();
            let axis = match (f.float_op, k) {
                ("Conv", 1) => 0,
                ("MatMul", 1) => rank.saturating_sub(1),
                ("Gemm", 1) => usize::from(attr_i(node, "transB", 0) == 0),
                _ => 1,
            };
            ins.push(Some(self.dequantized(node, triple, axis)?));
        }
        if let Some(b) = f
            .bias
            .and_then(|b| node.input.get(b))
            .filter(|n| !n.is_empty())
        {
            let scale = |i: usize| -> R<Vec<f32>> {
                match self.input(node, i)? {
                    Some(Value::Const(c)) => Ok(c.data),
                    _ => Err("the scales of an operator with a bias must be constants".into()),
                }
            };
            let (sa, sb) = (scale(f.inputs[0].1)?, scale(f.inputs[1].1)?);
            let bias = match self.get(b)?.clone() {
                Value::Const(c) => c,
                Value::Dyn(_) => return Err("the bias must be a constant".into()),
            };
            let at = |v: &[f32], i: usize| v.get(i).or(v.first()).copied().unwrap_or(0.0);
            let n = bias.data.len();
            let last = bias.shape.last().copied().unwrap_or(1).max(1);
            let data = (0..n)
                .map(|i| {
                    bias.data[i] * at(&sa, 0) * at(&sb, if sb.len() > 1 { i % last } else { 0 })
                })
                .collect();
            ins.push(Some(Value::Const(Const {
                shape: bias.shape,
                data,
            })));
        }
        let mut attrs: Vec<pb::AttributeProto> = node
            .attribute
            .iter()
            .filter(|a| !matches!(a.name.as_str(), "channels_last" | "opset"))
            .cloned()
            .collect();
        if op == "QLinearSoftmax" && attr(node, "axis").is_none() {
            attrs.push(int_attr("axis", -1));
        }
        // QLinearSoftmax's `opset` attribute gives its Softmax's semantics (the axis's meaning
        // before 13).
        let saved = self.opset;
        if op == "QLinearSoftmax" {
            self.opset = attr_i(node, "opset", saved);
        }
        let y = self.lower_as(f.float_op, ins, &[], attrs);
        self.opset = saved;
        let y = one(y?)?;
        match f.output {
            Some(o) if node.input.get(o.0).is_some_and(|n| !n.is_empty()) => {
                self.requantized(node, y, o)
            }
            _ => Ok(y),
        }
    }

    /// `QLinearConcat`: (output scale, zero point), then (value, scale, zero point) triples.
    fn qlinear_concat(&mut self, node: &pb::NodeProto) -> R<Value> {
        let n = node.input.len();
        if n < 5 || !(n - 2).is_multiple_of(3) {
            return Err(format!(
                "{n} inputs (two, then triples of value, scale, zero point)"
            ));
        }
        let ins = (2..n)
            .step_by(3)
            .map(|i| self.dequantized(node, (i, i + 1, i + 2), 1).map(Some))
            .collect::<R<Vec<_>>>()?;
        let attrs = vec![int_attr("axis", attr_i(node, "axis", 0))];
        let y = one(self.lower_as("Concat", ins, &[], attrs)?)?;
        self.requantized(node, y, (0, 1))
    }
}
