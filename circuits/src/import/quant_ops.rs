//! ONNX's quantization operators, as the QDQ format writes them (onnxruntime's
//! `quantize_static`, PyTorch's quantized export): integer weights behind a
//! `DequantizeLinear`, and every quantized activation a `QuantizeLinear` → `DequantizeLinear`
//! pair around float operators.
//!
//! `DequantizeLinear` of a constant folds to float constants; of a computed tensor it is an
//! affine map `(x − zero_point)·scale`. `QuantizeLinear` of a computed tensor is
//! `clip(round(x / scale) + zero_point, lo, hi)` over the range of the zero point's type
//! (`uint8` without one): an affine map, `Round` (a floor rescale of `x + 1/2`: exact ties go
//! up where ONNX rounds them to even) and `Clip` (two ReLUs). Scales and zero points are
//! constants, per tensor or per axis; blocked quantization (opset 21's `block_size`) is
//! refused.

use tract_onnx::pb;

use super::tensor::{norm_axis, numel, strides};
use super::{attr_i, Const, Importer, Value};

type R<T> = Result<T, String>;

/// The integer range of an ONNX element type (`data_type` of the zero point).
fn int_range(data_type: i32) -> R<(f32, f32)> {
    Ok(match data_type {
        2 => (0.0, 255.0),
        3 => (-128.0, 127.0),
        4 => (0.0, 65_535.0),
        5 => (-32_768.0, 32_767.0),
        6 => (-2_147_483_648.0, 2_147_483_647.0),
        21 => (0.0, 15.0),
        22 => (-8.0, 7.0),
        t => {
            return Err(format!(
                "a zero point of element type {t} (zkonnx takes 8-, 16- and 32-bit and 4-bit \
                 integers; float8 is not supported)"
            ))
        }
    })
}

/// Per-element scale and zero point of a tensor of shape `shape`.
struct Params {
    scale: Vec<f32>,
    zero: Vec<f32>,
    range: (f32, f32),
}

impl Importer {
    pub(crate) fn lower_quant_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        let x = self.req(node, 0)?;
        let p = self.quant_params(node, &self.shape_of(&x))?;
        let n = p.scale.len();
        let out = match (op, x) {
            ("DequantizeLinear", Value::Const(c)) => Value::Const(Const {
                shape: c.shape,
                data: (0..n)
                    .map(|i| (c.data[i] - p.zero[i]) * p.scale[i])
                    .collect(),
            }),
            ("DequantizeLinear", Value::Dyn(xi)) => {
                let add = (0..n).map(|i| -p.zero[i] * p.scale[i]).collect();
                Value::Dyn(self.affine(xi, p.scale, add))
            }
            ("QuantizeLinear", Value::Const(c)) => Value::Const(Const {
                shape: c.shape,
                data: (0..n)
                    .map(|i| {
                        ((c.data[i] / p.scale[i]).round_ties_even() + p.zero[i])
                            .clamp(p.range.0, p.range.1)
                    })
                    .collect(),
            }),
            ("QuantizeLinear", Value::Dyn(xi)) => {
                // round(x/s) + z = floor(x/s + z + 1/2), then the type's range.
                let mul = p.scale.iter().map(|s| 1.0 / s).collect();
                let add = p.zero.iter().map(|z| z + 0.5).collect();
                let t = self.affine(xi, mul, add);
                let f = self.floor(Value::Dyn(t))?;
                let f = self.dyn_of(&f, "the rounded value")?;
                Value::Dyn(self.clip(f, Some(p.range.0), Some(p.range.1)))
            }
            _ => return Ok(None),
        };
        Ok(Some(vec![out]))
    }

    /// The node's scale (input 1) and zero point (input 2), broadcast to `shape`: one value,
    /// or one per index of `axis` (default 1).
    fn quant_params(&self, node: &pb::NodeProto, shape: &[usize]) -> R<Params> {
        if attr_i(node, "block_size", 0) != 0 {
            return Err("blocked quantization (block_size) is not supported".into());
        }
        let scale = self
            .const_input(node, 1, "the scale")?
            .ok_or("the scale is missing")?;
        let zero = self.const_input(node, 2, "the zero point")?;
        let zero_type = match node.input.get(2) {
            Some(name) if !name.is_empty() => *self.dtypes.get(name).unwrap_or(&2),
            // Without a zero point: the output_dtype attribute (0: unset), or uint8.
            _ => match attr_i(node, "output_dtype", 0) {
                0 => 2,
                t => t as i32,
            },
        };
        let range = int_range(zero_type)?;
        if let Some(bad) = scale.data.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(format!("a scale of {bad} (scales must be positive)"));
        }
        let n = numel(shape);
        let per_axis = scale.data.len() > 1;
        let axis = if per_axis {
            Some(norm_axis(attr_i(node, "axis", 1), shape.len())?)
        } else {
            None
        };
        let st = strides(shape);
        let at = |v: &[f32], i: usize| -> R<f32> {
            match axis {
                None => v
                    .first()
                    .copied()
                    .ok_or_else(|| "an empty scale".to_string()),
                Some(a) => {
                    let c = (i / st[a]) % shape[a];
                    v.get(c)
                        .copied()
                        .ok_or_else(|| format!("{} values for an axis of {}", v.len(), shape[a]))
                }
            }
        };
        if let Some(a) = axis {
            if scale.data.len() != shape[a] {
                return Err(format!(
                    "{} scales for axis {a} of {} elements",
                    scale.data.len(),
                    shape[a]
                ));
            }
        }
        let zero_data = zero.map(|z| z.data).unwrap_or_else(|| vec![0.0]);
        if zero_data.len() != scale.data.len() {
            return Err(format!(
                "{} zero points for {} scales",
                zero_data.len(),
                scale.data.len()
            ));
        }
        Ok(Params {
            scale: (0..n).map(|i| at(&scale.data, i)).collect::<R<_>>()?,
            zero: (0..n).map(|i| at(&zero_data, i)).collect::<R<_>>()?,
            range,
        })
    }
}
