//! `TopK`: the K largest (or smallest) elements along an axis and their indices, sorted, ties
//! to the lower index (onnxruntime's order).
//!
//! Selection repeats K times: the maximum of every group, the one-hot of its first position
//! ([`Importer::max_and_first`]), the index as that one-hot's dot product with the positions;
//! then the chosen element is set below every element of its group (`x − e·(max − lo)` with
//! `lo = min − 1`, one product of the 0/1 one-hot per element), so the next round finds the
//! next one. Cost per round: a max tree and a sign per element, plus one product per element
//! between rounds. `K = 1` is one round.

use tract_onnx::pb;

use super::build::{iota, Pick};
use super::elementwise_ops::Bin;
use super::tensor::{norm_axis, numel, reduction_groups};
use super::{attr_i, Importer, Value};

type R<T> = Result<T, String>;

impl Importer {
    pub(crate) fn top_k(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        let k = if self.opset >= 10 {
            let c = self
                .const_input(node, 1, "K")?
                .ok_or("the K input is missing")?;
            match c.data.as_slice() {
                [k] => *k,
                _ => return Err(format!("K must hold one value (it holds {})", c.data.len())),
            }
        } else {
            attr_i(node, "k", 0) as f32
        };
        let x = self.req(node, 0)?;
        let largest = attr_i(node, "largest", 1) != 0;
        let x = if largest { x } else { self.neg(x)? };
        let xi = self.dyn_of(&x, "the input")?;
        let s = self.nodes[xi].shape.clone();
        let axis = norm_axis(attr_i(node, "axis", -1), s.len())?;
        let dim = s[axis];
        if k.is_nan() || k < 1.0 || k > dim as f32 {
            return Err(format!(
                "K = {k} for an axis of {dim} elements (1 ≤ K ≤ {dim} is supported)"
            ));
        }
        let k = k as usize;
        let (groups, _) = reduction_groups(&s, &[axis]);
        let ng = groups.len();
        let len = ng * dim;
        // Work on the elements listed group after group (a rewiring, free).
        let flat: Vec<Pick> = groups.iter().flatten().map(|&i| Pick::V(0, i)).collect();
        let listed = self.rewire(&[Value::Dyn(xi)], vec![len], &flat);
        let mut cur = self.dyn_of(&listed, "the input")?;
        let contiguous: Vec<Vec<u32>> = (0..ng)
            .map(|g| ((g * dim) as u32..((g + 1) * dim) as u32).collect())
            .collect();
        let owner: Vec<u32> = (0..len).map(|i| (i / dim) as u32).collect();
        let lo = if k > 1 {
            // lo = min − 1 = −max(−x) − 1 per group.
            let negx = self.affine(cur, vec![-1.0; len], vec![0.0; len]);
            let m = self.reduce_max(negx, &contiguous, vec![ng])?;
            Some(self.affine(m, vec![-1.0; ng], vec![-1.0; ng]))
        } else {
            None
        };
        let pos: Vec<f32> = (0..dim).map(|i| i as f32).collect();
        let (mut maxes, mut idxs) = (Vec::with_capacity(k), Vec::with_capacity(k));
        let base = self.cur_name.clone();
        for round in 0..k {
            // Each round's nodes are named for it (an error names the round).
            self.cur_name = format!("{base}/round {round}");
            let (m, first) = self.max_and_first(cur, &contiguous)?;
            idxs.push(Value::Dyn(self.dot_groups(
                first,
                ng,
                pos.clone(),
                vec![ng],
            )));
            maxes.push(Value::Dyn(m));
            if round + 1 < k {
                let lo = lo.ok_or("internal: no lower bound for K > 1")?;
                let gap = self.combine(&[(m, &owner, 1.0), (lo, &owner, -1.0)], vec![len]);
                let drop = self.binary(Bin::Mul, Value::Dyn(first), Value::Dyn(gap))?;
                let drop = self.dyn_of(&drop, "the drop")?;
                let id = iota(len);
                cur = self.combine(&[(cur, &id, 1.0), (drop, &id, -1.0)], vec![len]);
            }
        }
        self.cur_name = base;
        // Output position of (group g, rank j): the kept axes around the axis, K along it.
        let inner = numel(&s[axis + 1..]);
        let mut shape = s.clone();
        shape[axis] = k;
        let mut picks = Vec::with_capacity(ng * k);
        for o in 0..ng / inner.max(1) {
            for j in 0..k {
                for r in 0..inner {
                    picks.push(Pick::V(j, (o * inner + r) as u32));
                }
            }
        }
        let values = self.rewire(&maxes, shape.clone(), &picks);
        let values = if largest { values } else { self.neg(values)? };
        let indices = self.rewire(&idxs, shape, &picks);
        Ok(vec![values, indices])
    }
}
