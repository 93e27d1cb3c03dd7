//! Additive attention masks.
//!
//! A softmax over scores with some elements pushed to −∞ (or to a very negative constant, as
//! `masked_fill(…, -1e9)` and BERT's `-10000·(1 − mask)` do) gives those elements exactly 0
//! and leaves them out of the sum. Carried as ordinary values, such constants would set the
//! quantization range of every tensor on the way, so the importer tracks them instead: a
//! masked element holds a *stand-in* (its value less the constant) and the constant is kept
//! beside the tensor, per element ([`Offset`]). A softmax leaves the element out; any other
//! reader gets the real value back ([`Importer::materialize`]), or, for −∞, a typed error.

use tract_onnx::pb;

use super::{Const, Importer, Value};

/// A masked element's constant: its value is its stand-in plus this. `f32::NEG_INFINITY` for
/// −∞ (no real value exists: only a softmax may read it); a finite constant at most
/// [`BIG_NEGATIVE`] otherwise (the value is real once the constant is added back).
pub(crate) type Offset = f32;

/// Per element of a tensor: `None` for an ordinary element, `Some(offset)` for a masked one.
pub(crate) type Mask = Vec<Option<Offset>>;

/// A constant at or below this is −∞ for masking (float32's lowest is −3.4e38).
pub(crate) const NEG_INF_CUTOFF: f32 = -1e30;

/// A finite constant at or below this starts a mask (−1e4, −65504, −1e9 are the common ones).
pub(crate) const BIG_NEGATIVE: f32 = -1e4;

/// A softmax leaves out an element whose offset is at or below this: `exp(−1000 + d)` is 0 in
/// float32 and float64 for any difference `d` of scores below 250.
pub(crate) const SOFTMAX_DROPS: f32 = -1e3;

/// The mask offset a constant element starts, if any.
pub(crate) fn offset_of(c: f32) -> Option<Offset> {
    if c <= NEG_INF_CUTOFF {
        Some(f32::NEG_INFINITY)
    } else if c <= BIG_NEGATIVE {
        Some(c)
    } else {
        None
    }
}

/// The mask of a value: its tracked mask, or the offsets its constant elements start.
pub(crate) fn mask_of(imp: &Importer, v: &Value) -> Option<Mask> {
    match v {
        Value::Dyn(i) => imp.masked.get(i).cloned(),
        Value::Const(c) if c.data.iter().any(|&x| offset_of(x).is_some()) => {
            Some(c.data.iter().map(|&x| offset_of(x)).collect())
        }
        Value::Const(_) => None,
    }
}

/// The error for −∞ `items` of `what` read by anything but a softmax.
fn refusal(what: &str, items: &str) -> String {
    format!(
        "{what} holds −∞ {items} (an additive mask): zkonnx supports such masks only on their \
         way to a Softmax, through sums, positive scalings and rewirings"
    )
}

/// A constant with its masked elements replaced by their stand-in, 0.
pub(crate) fn stand_ins(c: Const) -> Const {
    Const {
        shape: c.shape,
        data: c
            .data
            .into_iter()
            .map(|x| if offset_of(x).is_some() { 0.0 } else { x })
            .collect(),
    }
}

impl Importer {
    /// `node` with the finite offsets of the masked elements where `restore(element, offset)`
    /// holds added back (one affine node; those elements keep no mask). The other masked
    /// elements stay masked. `node` itself when no element is restored.
    pub(crate) fn materialize_where(
        &mut self,
        node: usize,
        restore: impl Fn(usize, Offset) -> bool,
    ) -> usize {
        let Some(mask) = self.masked.get(&node).cloned() else {
            return node;
        };
        let back: Vec<bool> = mask
            .iter()
            .enumerate()
            .map(|(e, o)| o.is_some_and(|o| o.is_finite() && restore(e, o)))
            .collect();
        if !back.contains(&true) {
            return node;
        }
        let add: Vec<f32> = mask
            .iter()
            .zip(&back)
            .map(|(o, &b)| if b { o.unwrap_or(0.0) } else { 0.0 })
            .collect();
        let y = self.affine(node, vec![1.0; mask.len()], add);
        let left: Mask = mask
            .iter()
            .zip(&back)
            .map(|(o, &b)| if b { None } else { *o })
            .collect();
        if left.iter().any(Option::is_some) {
            self.masked.insert(y, left);
        }
        y
    }

    /// `node` with the real value of every finite masked element; an error naming `what` if
    /// an element is −∞.
    pub(crate) fn materialize_node(&mut self, node: usize, what: &str) -> Result<usize, String> {
        let y = self.materialize_where(node, |_, _| true);
        if self.masked.contains_key(&y) {
            return Err(refusal(what, "elements"));
        }
        Ok(y)
    }

    /// [`Importer::materialize_node`] of a value (a constant is its own value, unless −∞).
    pub(crate) fn materialize(&mut self, v: Value, what: &str) -> Result<Value, String> {
        match v {
            Value::Dyn(i) => Ok(Value::Dyn(self.materialize_node(i, what)?)),
            Value::Const(c) if c.data.iter().any(|&x| x <= NEG_INF_CUTOFF) => {
                Err(refusal(what, "constants"))
            }
            c => Ok(c),
        }
    }

    /// Before a node that does not keep track of masks: each masked input replaced by its
    /// real values (for the rest of the graph too).
    pub(crate) fn materialize_inputs(&mut self, node: &pb::NodeProto) -> Result<(), String> {
        for name in node.input.iter().filter(|n| !n.is_empty()) {
            if let Some(&Value::Dyn(i)) = self.values.get(name) {
                if self.masked.contains_key(&i) {
                    let y = self.materialize_node(i, &format!("input '{name}'"))?;
                    self.values.insert(name.clone(), Value::Dyn(y));
                }
            }
        }
        Ok(())
    }
}
