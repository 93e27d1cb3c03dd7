//! `LRN` (local response normalization, AlexNet and the first Inceptions):
//! `y = x / (bias + α/size · Σ_{c' near c} x[c']²)^β` over a window of channels.
//!
//! Lowered to primitives every model uses: the squares (`Bilinear`), their sum over the
//! window (`Linear`, weight 1: the small `α/size` is applied after the sum, where the sum is
//! large, not to every square), an affine `bias + α/size · s`, the power `s^(−β)` by a table
//! (its domain is positive: `s ≥ bias > 0`) and a product with `x`.

use tract_onnx::pb;

use super::elementwise_ops::Bin;
use super::tensor::{numel, strides, MAX_ELEMENTS};
use super::{attr_f, attr_i, Importer, Value};
use crate::ir::Func;

type R<T> = Result<T, String>;

impl Importer {
    pub(crate) fn lrn(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let xi = self.dyn_of(&x, "the input")?;
        let s = self.nodes[xi].shape.clone();
        if s.len() < 3 {
            return Err(format!("the input has shape {s:?}; LRN needs [N, C, ...]"));
        }
        let size = attr_i(node, "size", 0);
        if size < 1 {
            return Err(format!("size = {size} (a positive window is required)"));
        }
        let (alpha, beta, bias) = (
            attr_f(node, "alpha", 1e-4),
            attr_f(node, "beta", 0.75),
            attr_f(node, "bias", 1.0),
        );
        if !(bias > 0.0 && alpha >= 0.0 && beta.is_finite()) {
            return Err(format!(
                "bias = {bias}, alpha = {alpha}, beta = {beta}: zkonnx needs bias > 0 and \
                 alpha ≥ 0 (the base of the power must stay positive)"
            ));
        }
        let c = s[1];
        let st = strides(&s);
        let n = numel(&s);
        let w = size as usize - 1;
        let (before, after) = (w / 2, w.div_ceil(2));
        let window = (before + after + 1).min(c);
        if n.saturating_mul(window) > MAX_ELEMENTS {
            return Err(format!(
                "a window of {window} channels over {n} elements is over the importer's budget \
                 of {MAX_ELEMENTS} terms"
            ));
        }
        let sq = self.binary(Bin::Mul, Value::Dyn(xi), Value::Dyn(xi))?;
        let sq = self.dyn_of(&sq, "the squares")?;
        let mut entries = Vec::with_capacity(n);
        for i in 0..n {
            let ch = (i / st[1]) % c;
            let lo = ch.saturating_sub(before);
            let hi = (ch + after).min(c - 1);
            entries.push(
                (lo..=hi)
                    .map(|k| ((i + k * st[1] - ch * st[1]) as u32, 1.0))
                    .collect::<Vec<_>>(),
            );
        }
        let sum = self.weighted(sq, &entries, None, s.clone());
        let k = alpha / size as f32;
        let base = self.affine(sum, vec![k; n], vec![bias; n]);
        let p = self.func(base, Func::Pow { p: -beta });
        self.binary(Bin::Mul, Value::Dyn(xi), Value::Dyn(p))
    }
}
