//! Operators ONNX defines as compositions of others, lowered as those compositions through the
//! registry (`Importer::lower_as`): no arithmetic of their own.
//!
//! - `CenterCropPad`: `Slice` to the centred window on each axis that shrinks, `Pad` with zeros
//!   on each that grows (the extra element of an odd difference after the window).
//! - `LpPool`: `|x|^p` averaged over each window as `AveragePool` (padding counted: zeros), times
//!   the window's size, to the power `1/p` (`p = 1`: none; `p = 2`: a square and a square root).
//! - `GroupNormalization`: every group of channels of every item normalised over its channels
//!   and spatial positions (`InstanceNormalization` of the `[N, G, −1]` view), then scaled and
//!   shifted per channel (opset 21) or per group (opset 18).
//! - `BitShift` by constant amounts: a multiplication by `2^s`, or the floor of a division.
//! - `EyeLike`: a constant.
//! - `NegativeLogLikelihoodLoss`: each position's input at its target class (`GatherElements`,
//!   a rewiring for constant targets, a one-hot dot product for computed ones), times its
//!   class weight (`Gather`), 0 where the target is `ignore_index`, negated; summed, or
//!   averaged over the weights of the positions counted (a division by a computed sum where
//!   the targets are computed). `SoftmaxCrossEntropyLoss` is it on `LogSoftmax` over the
//!   classes (and returns the log-probabilities too where asked).

use tract_onnx::pb;

use super::build::{ints, one, scalar};
use super::elementwise_ops::Bin;
use super::registry::int_attr;
use super::tensor::{norm_axis, numel};
use super::{attr_f, attr_i, attr_ints, attr_s, Const, Importer, Value};

type R<T> = Result<T, String>;

impl Importer {
    pub(crate) fn lower_composite_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        Ok(Some(vec![match op {
            "CenterCropPad" => self.center_crop_pad(node)?,
            "LpPool" => self.lp_pool(node)?,
            "GroupNormalization" => self.group_norm(node)?,
            "MeanVarianceNormalization" => self.mvn(node)?,
            "BitShift" => self.bit_shift(node)?,
            "NegativeLogLikelihoodLoss" => {
                let (x, target, w) = (self.req(node, 0)?, self.req(node, 1)?, self.input(node, 2)?);
                self.nll(node, x, target, w)?
            }
            "SoftmaxCrossEntropyLoss" => {
                let (x, target, w) = (self.req(node, 0)?, self.req(node, 1)?, self.input(node, 2)?);
                // The classes are axis 1 whatever the model's opset (LogSoftmax before 13
                // flattened from its axis).
                let saved = self.opset;
                self.opset = self.opset.max(13);
                let lp = self.lower_as("LogSoftmax", vec![Some(x)], &[], vec![int_attr("axis", 1)]);
                self.opset = saved;
                let lp = one(lp?)?;
                let loss = self.nll(node, lp.clone(), target, w)?;
                return Ok(Some(if node.output.get(1).is_some_and(|o| !o.is_empty()) {
                    vec![loss, lp]
                } else {
                    vec![loss]
                }));
            }
            "EyeLike" => {
                let s = self.shape_of(&self.req(node, 0)?);
                if s.len() != 2 {
                    return Err(format!("EyeLike needs a 2-D input, got {s:?}"));
                }
                let k = attr_i(node, "k", 0);
                let data = (0..s[0] * s[1])
                    .map(|i| f32::from((i % s[1]) as i64 - (i / s[1]) as i64 == k))
                    .collect();
                Value::Const(Const { shape: s, data })
            }
            _ => return Ok(None),
        }]))
    }

    /// `NegativeLogLikelihoodLoss` of `x` (`[N, C, d…]`) against `target` (`[N, d…]`).
    fn nll(
        &mut self,
        node: &pb::NodeProto,
        x: Value,
        target: Value,
        weight: Option<Value>,
    ) -> R<Value> {
        let sx = self.shape_of(&x);
        let st = self.shape_of(&target);
        if sx.len() < 2 || st.len() + 1 != sx.len() || st[0] != sx[0] || st[1..] != sx[2..] {
            return Err(format!(
                "input {sx:?} and target {st:?} (expected [N, C, d…] and [N, d…])"
            ));
        }
        let c = sx[1];
        let ignore = super::attr(node, "ignore_index").map(|a| a.i);
        // A constant target's ignored positions read class 0 (then weigh 0): a lookup by a
        // constant index must be in range. A computed one's lookup gives 0 past the table.
        let target = match target {
            Value::Const(k) => {
                let bad = k
                    .data
                    .iter()
                    .find(|&&v| Some(v as i64) != ignore && !(0.0..c as f32).contains(&v));
                if let Some(v) = bad {
                    return Err(format!("a target class {v} outside 0..{c}"));
                }
                let data = k
                    .data
                    .iter()
                    .map(|&v| if Some(v as i64) == ignore { 0.0 } else { v })
                    .collect();
                let mask = k
                    .data
                    .iter()
                    .map(|&v| f32::from(Some(v as i64) != ignore))
                    .collect();
                return self.nll_reduce(
                    node,
                    x,
                    Value::Const(Const {
                        shape: k.shape.clone(),
                        data,
                    }),
                    weight,
                    Value::Const(Const {
                        shape: k.shape,
                        data: mask,
                    }),
                );
            }
            d => d,
        };
        let mask = match ignore {
            Some(i) => {
                let eq = one(self.lower_as(
                    "Equal",
                    vec![Some(target.clone()), Some(scalar(i as f32))],
                    &[],
                    vec![],
                )?)?;
                one(self.lower_as("Not", vec![Some(eq)], &[], vec![])?)?
            }
            None => Value::Const(Const {
                shape: st.clone(),
                data: vec![1.0; numel(&st)],
            }),
        };
        self.nll_reduce(node, x, target, weight, mask)
    }

    /// The loss from the gathered inputs, the weights and the mask of counted positions.
    fn nll_reduce(
        &mut self,
        node: &pb::NodeProto,
        x: Value,
        target: Value,
        weight: Option<Value>,
        mask: Value,
    ) -> R<Value> {
        let st = self.shape_of(&target);
        let mut s1 = st.clone();
        s1.insert(1, 1);
        let shape = |s: &[usize]| ints(vec![s.len()], s.iter().map(|&d| d as i64).collect());
        let t1 = one(self.lower_as(
            "Reshape",
            vec![Some(target.clone()), Some(shape(&s1))],
            &[],
            vec![],
        )?)?;
        let g = one(self.lower_as(
            "GatherElements",
            vec![Some(x), Some(t1)],
            &[],
            vec![int_attr("axis", 1)],
        )?)?;
        let g = one(self.lower_as("Reshape", vec![Some(g), Some(shape(&st))], &[], vec![])?)?;
        let w = match weight {
            Some(w) => {
                let wt = one(self.lower_as("Gather", vec![Some(w), Some(target)], &[], vec![])?)?;
                self.binary(Bin::Mul, wt, mask)?
            }
            None => mask,
        };
        let gw = self.binary(Bin::Mul, g, w.clone())?;
        let loss = self.binary(Bin::Mul, gw, scalar(-1.0))?;
        let sum = |imp: &mut Self, v: Value| -> R<Value> {
            match v {
                Value::Const(k) => Ok(scalar(k.data.iter().sum())),
                d => one(imp.lower_as(
                    "ReduceSum",
                    vec![Some(d)],
                    &[],
                    vec![int_attr("keepdims", 0)],
                )?),
            }
        };
        match attr_s(node, "reduction", "mean").as_str() {
            "none" => Ok(loss),
            "sum" => sum(self, loss),
            "mean" => {
                let total = sum(self, loss)?;
                let count = sum(self, w)?;
                self.binary(Bin::Div, total, count)
            }
            r => Err(format!("reduction '{r}' (none, sum or mean)")),
        }
    }

    fn center_crop_pad(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        let target = self
            .const_input(node, 1, "the shape")?
            .ok_or("CenterCropPad needs a shape")?;
        let axes: Vec<usize> = match attr_ints(node, "axes") {
            Some(a) => a.iter().map(|&v| norm_axis(v, s.len())).collect::<R<_>>()?,
            None => (0..s.len()).collect(),
        };
        if target.data.len() != axes.len() {
            return Err(format!(
                "{} sizes for {} axes",
                target.data.len(),
                axes.len()
            ));
        }
        let (mut starts, mut ends, mut crop_axes) = (vec![], vec![], vec![]);
        let mut pads = vec![0i64; 2 * s.len()];
        for (&a, &t) in axes.iter().zip(&target.data) {
            if !(t >= 1.0 && t.fract() == 0.0) {
                return Err(format!("a target size of {t}"));
            }
            let (d, t) = (s[a] as i64, t as i64);
            if t < d {
                crop_axes.push(a as i64);
                starts.push((d - t) / 2);
                ends.push((d - t) / 2 + t);
            } else if t > d {
                pads[a] = (t - d) / 2;
                pads[s.len() + a] = t - d - (t - d) / 2;
            }
        }
        let mut y = x;
        if !crop_axes.is_empty() {
            let n = crop_axes.len();
            let ins = vec![
                Some(y),
                Some(ints(vec![n], starts)),
                Some(ints(vec![n], ends)),
                Some(ints(vec![n], crop_axes)),
            ];
            y = one(self.lower_as("Slice", ins, &[], vec![])?)?;
        }
        if pads.iter().any(|&p| p != 0) {
            let ins = vec![Some(y), Some(ints(vec![pads.len()], pads))];
            y = one(self.lower_as("Pad", ins, &[], vec![])?)?;
        }
        Ok(y)
    }

    fn lp_pool(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let p = attr_i(node, "p", 2);
        if !(1..=8).contains(&p) {
            return Err(format!("p = {p} (1 to 8 are supported)"));
        }
        let kernel: usize = attr_ints(node, "kernel_shape")
            .ok_or("LpPool needs kernel_shape")?
            .iter()
            .map(|&k| k.max(1) as usize)
            .product();
        let powered = match p {
            1 => one(self.lower_as("Abs", vec![Some(x)], &[], vec![])?)?,
            2 | 4 | 6 | 8 => {
                one(self.lower_as("Pow", vec![Some(x), Some(scalar(p as f32))], &[], vec![])?)?
            }
            _ => {
                let a = one(self.lower_as("Abs", vec![Some(x)], &[], vec![])?)?;
                one(self.lower_as("Pow", vec![Some(a), Some(scalar(p as f32))], &[], vec![])?)?
            }
        };
        let mut attrs: Vec<pb::AttributeProto> = node
            .attribute
            .iter()
            .filter(|a| a.name != "p")
            .cloned()
            .collect();
        attrs.push(int_attr("count_include_pad", 1));
        let avg = one(self.lower_as("AveragePool", vec![Some(powered)], &[], attrs)?)?;
        let sum = self.binary(Bin::Mul, avg, scalar(kernel as f32))?;
        match p {
            1 => Ok(sum),
            // Roots of powers of two as square roots (exact), others by a table.
            2 | 4 | 8 => {
                let mut r = sum;
                for _ in 0..p.trailing_zeros() {
                    r = one(self.lower_as("Sqrt", vec![Some(r)], &[], vec![])?)?;
                }
                Ok(r)
            }
            _ => one(self.lower_as(
                "Pow",
                vec![Some(sum), Some(scalar(1.0 / p as f32))],
                &[],
                vec![],
            )?),
        }
    }

    /// `MeanVarianceNormalization`: `(x − mean) / std` over `axes` (default N, H, W), the
    /// variance a mean of squared deviations (so its square root keeps double precision, as
    /// a LayerNorm's).
    fn mvn(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let axes = attr_ints(node, "axes").unwrap_or(vec![0, 2, 3]);
        let attrs = vec![
            int_attr("keepdims", 1),
            pb::AttributeProto {
                name: "axes".into(),
                ints: axes,
                r#type: pb::attribute_proto::AttributeType::Ints as i32,
                ..Default::default()
            },
        ];
        let m = one(self.lower_as("ReduceMean", vec![Some(x.clone())], &[], attrs.clone())?)?;
        let d = self.binary(Bin::Sub, x, m)?;
        let sq = self.binary(Bin::Mul, d.clone(), d.clone())?;
        let var = one(self.lower_as("ReduceMean", vec![Some(sq)], &[], attrs)?)?;
        let sd = one(self.lower_as("Sqrt", vec![Some(var)], &[], vec![])?)?;
        self.binary(Bin::Div, d, sd)
    }

    fn group_norm(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        let g = attr_i(node, "num_groups", 0);
        if s.len() < 3 || g < 1 || !s[1].is_multiple_of(g as usize) {
            return Err(format!(
                "{g} groups for an input of shape {s:?} (N×C×spatial, C a multiple of the groups)"
            ));
        }
        let (g, c) = (g as usize, s[1]);
        let rest = numel(&s) / (s[0] * g);
        let view = ints(vec![3], vec![s[0] as i64, g as i64, rest as i64]);
        let v = one(self.lower_as("Reshape", vec![Some(x), Some(view)], &[], vec![])?)?;
        let ones = Value::Const(Const {
            shape: vec![g],
            data: vec![1.0; g],
        });
        let zeros = Value::Const(Const {
            shape: vec![g],
            data: vec![0.0; g],
        });
        let eps = vec![pb::AttributeProto {
            name: "epsilon".into(),
            f: attr_f(node, "epsilon", 1e-5),
            r#type: pb::attribute_proto::AttributeType::Float as i32,
            ..Default::default()
        }];
        let n = one(self.lower_as(
            "InstanceNormalization",
            vec![Some(v), Some(ones), Some(zeros)],
            &[],
            eps,
        )?)?;
        let back = ints(vec![s.len()], s.iter().map(|&d| d as i64).collect());
        let y = one(self.lower_as("Reshape", vec![Some(n), Some(back)], &[], vec![])?)?;
        // Per channel (opset 21) or per group (opset 18), as [C, 1, …, 1].
        let per_channel = |v: Value, what: &str| -> R<Value> {
            let Value::Const(k) = v else {
                return Err(format!("the {what} must be a constant"));
            };
            let data: Vec<f32> = match k.data.len() {
                l if l == c => k.data,
                l if l == g => (0..c).map(|ch| k.data[ch / (c / g)]).collect(),
                l => {
                    return Err(format!(
                        "a {what} of {l} values for {c} channels in {g} groups"
                    ))
                }
            };
            let mut shape = vec![c];
            shape.extend(std::iter::repeat_n(1, s.len() - 2));
            Ok(Value::Const(Const { shape, data }))
        };
        let scale = per_channel(self.req(node, 1)?, "scale")?;
        let bias = per_channel(self.req(node, 2)?, "bias")?;
        let y = self.binary(Bin::Mul, y, scale)?;
        self.binary(Bin::Add, y, bias)
    }

    /// `BatchNormalization` whose statistics (or scale, or bias) are computed: tf2onnx writes
    /// Keras's LayerNormalization as one over a reshaped input, its mean a ReduceMean and its
    /// variance a mean of squared differences. `scale·(x − mean)/sqrt(var + ε) + bias`, each
    /// parameter per channel as `[C, 1, …, 1]`: an exact square root and an exact division.
    pub(crate) fn batch_norm_computed(&mut self, node: &pb::NodeProto) -> R<Value> {
        if attr_i(node, "training_mode", 0) != 0 {
            return Err("training mode (statistics of the batch) is not supported".into());
        }
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        if s.len() < 2 {
            return Err(format!("an input of shape {s:?} has no channel axis"));
        }
        let c = s[1];
        let mut shape = vec![c as i64];
        shape.extend(std::iter::repeat_n(1, s.len() - 2));
        let mut per_channel = |i: usize, what: &str| -> R<Value> {
            let v = self.req(node, i)?;
            let vs = self.shape_of(&v);
            if numel(&vs) != c {
                return Err(format!(
                    "a {what} of shape {vs:?} for the {c} channels of an input {s:?}"
                ));
            }
            let view = ints(vec![shape.len()], shape.clone());
            one(self.lower_as("Reshape", vec![Some(v), Some(view)], &[], vec![])?)
        };
        let (g, b, m, var) = (
            per_channel(1, "scale")?,
            per_channel(2, "bias")?,
            per_channel(3, "mean")?,
            per_channel(4, "variance")?,
        );
        let d = self.binary(Bin::Sub, x, m)?;
        let var = self.binary(Bin::Add, var, scalar(attr_f(node, "epsilon", 1e-5)))?;
        let sd = one(self.lower_as("Sqrt", vec![Some(var)], &[], vec![])?)?;
        let y = self.binary(Bin::Div, d, sd)?;
        let y = self.binary(Bin::Mul, y, g)?;
        self.binary(Bin::Add, y, b)
    }

    fn bit_shift(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let Some(sh) = self.const_input(node, 1, "the shift")? else {
            return Err("BitShift needs a shift".into());
        };
        if sh
            .data
            .iter()
            .any(|&v| !(0.0..=31.0).contains(&v) || v.fract() != 0.0)
        {
            return Err("shifts must be whole numbers from 0 to 31".into());
        }
        let factor = Value::Const(Const {
            shape: sh.shape.clone(),
            data: sh.data.iter().map(|&v| (v as i32 as f32).exp2()).collect(),
        });
        match attr_s(node, "direction", "").as_str() {
            "LEFT" => self.binary(Bin::Mul, x, factor),
            "RIGHT" => {
                let q = self.binary(Bin::Div, x, factor)?;
                one(self.lower_as("Floor", vec![Some(q)], &[], vec![])?)
            }
            d => Err(format!("direction '{d}' (LEFT or RIGHT)")),
        }
    }
}
