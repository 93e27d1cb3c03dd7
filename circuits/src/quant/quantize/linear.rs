//! Linear maps, and a residual sum that takes its producer's accumulator unrounded.
//!
//! A residual block ends `relu(conv(x) + y)`: the convolution's accumulator is rounded to
//! the activations' scale (a rescale, its limbs range-checked), the sum is exact, and the
//! ReLU is a second range-checked rescale. Where the sum is the convolution's only reader and
//! takes whole multiples of its terms, the sum reads the accumulator itself and brings every
//! term to the finest of their scales exactly (a weight of `2^d`), adding the map's bias to
//! its own; its rescale, which the ReLU needs anyway, then does the rounding once. One
//! rescale fewer per element, and one rounding fewer. A downsampling block's sum of two
//! convolutions takes both unrounded.
//!
//! Only where the sum has a ReLU or clamp: without one its rescale is an identity the pooled
//! layout lays out as no rows, so moving the rounding into it would save nothing. Not with
//! [`crate::quant::QuantSettings::rounded_maps`] (`--objective gas`): the lean layout checks
//! an unrounded accumulator at its full width.
//!
//! Soundness is that of any linear map read by a rescale: the accumulator is a field element
//! computed by the map's constraints from range-checked inputs (its magnitude bounded by
//! [`super::check_bounds`]), and the sum's rescale range-checks its quotient and remainder.

use std::borrow::Cow;

use super::{exact, half, linear_weight_bits, quantize, rescale_params, Act, Builder};
use crate::error::Result;
use crate::ir::{fuse, Graph, Linear, Mat, Op};
use crate::quant::QOp;

/// Largest whole weight a residual sum may give a term (the accumulator's width grows by it).
const MAX_SUM_WEIGHT: f32 = 256.0;

/// For each node, the elementwise sum that takes its accumulator unrounded (module
/// documentation), if any: `act(i)` is the activation node `i`'s rescale applies.
pub(super) fn residual_sums(graph: &Graph, act: impl Fn(usize) -> Act) -> Vec<Option<usize>> {
    let count = graph.nodes.len();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, n) in graph.nodes.iter().enumerate() {
        for &j in &n.inputs {
            readers[j].push(i);
        }
    }
    let mut out = vec![None; count];
    for j in 1..count {
        let [i] = readers[j][..] else {
            continue;
        };
        let nj = &graph.nodes[j];
        let ni = &graph.nodes[i];
        let (Op::Linear { .. }, Op::Linear { map, .. }) = (&nj.op, &ni.op) else {
            continue;
        };
        if j == graph.output || nj.wide || ni.wide || matches!(act(i), Act::Plain) {
            continue;
        }
        let whole = fuse::elementwise_terms(map, ni.len()).is_some_and(|t| {
            t.iter()
                .all(|&(_, w)| w.fract() == 0.0 && w.abs() <= MAX_SUM_WEIGHT)
        });
        if whole && column_slots(map).is_some() {
            out[j] = Some(i);
        }
    }
    out
}

/// The input slot of every column of every weight block of `map` (`None` for a column no
/// group reads), or `None` where two groups read one column from different slots.
fn column_slots(map: &Linear<f32>) -> Option<Vec<Vec<Option<u32>>>> {
    let mut slots: Vec<Vec<Option<u32>>> = map.mats.iter().map(|m| vec![None; m.cols]).collect();
    for g in &map.groups {
        let cols = slots.get_mut(g.mat as usize)?;
        for (c, input) in g.inputs.iter().enumerate() {
            let Some((s, _)) = *input else { continue };
            match cols.get(c).copied()? {
                None => cols[c] = Some(s),
                Some(t) if t == s => {}
                Some(_) => return None,
            }
        }
    }
    Some(slots)
}

impl Builder<'_> {
    /// Node `i`, the linear map `map` with `bias`, then its rescale with `act` (or, where a
    /// residual sum takes its accumulator, no rounding: an identity the pooled layout gives no
    /// rows).
    pub(super) fn linear(
        &mut self,
        i: usize,
        (map, bias): (&Linear<f32>, &Option<Vec<f32>>),
        act: Act,
        mut ins: Vec<usize>,
    ) -> Result<usize> {
        let node = &self.graph.nodes[i];
        let n = node.len();
        let sp = self.settings.param_scale as i32;
        let out_scale = self.out_scale(i);
        // A sum reading unrounded accumulators: every term at the finest scale (exactly).
        let (map, bias, s_in) = if node.inputs.iter().any(|&j| self.raw_bias[j].is_some()) {
            let s = ins.iter().map(|&q| self.nodes[q].scale).max().unwrap_or(0);
            let (map, bias) = self.residual_terms(i, (map, bias), s, &ins);
            (Cow::Owned(map), bias, s)
        } else {
            let slots = 0..ins.len() as u32;
            let s = self
                .common_scale(node, &mut ins, slots)?
                .unwrap_or(self.settings.input_scale);
            (Cow::Borrowed(map), bias.clone(), s)
        };
        let ws = if map.mats.iter().all(|m| exact(&m.data)) {
            0
        } else {
            linear_weight_bits(map.mats.iter().flat_map(|m| m.data.iter()), sp)
        };
        let mats = map
            .mats
            .iter()
            .map(|m| {
                Ok(Mat {
                    rows: m.rows,
                    cols: m.cols,
                    data: m
                        .data
                        .iter()
                        .enumerate()
                        .map(|(k, &w)| quantize(w, ws, &node.name, k))
                        .collect::<Result<Vec<_>>>()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let acc = s_in as i32 + ws;
        let lin = self.push(
            node,
            node.op_type.clone(),
            QOp::Linear {
                map: Linear {
                    mats,
                    groups: map.groups.clone(),
                },
            },
            ins.clone(),
            acc as u32,
        );
        if self.residual[i].is_some() {
            self.raw_bias[i] = Some(bias.unwrap_or_else(|| vec![0.0; n]));
            let bits = self.bits(i, acc as u32);
            let (mul, add) = (vec![1; n], vec![0; n]);
            return Ok(self.rescale(node, lin, mul, add, 0, Act::Plain, bits, acc as u32));
        }
        let (mf, shift) = rescale_params(acc, out_scale as i32);
        let add = (0..n)
            .map(|o| {
                let b = match &bias {
                    Some(b) => quantize(b[o], acc, &node.name, o)?,
                    None => 0,
                };
                Ok(b * mf + half(shift))
            })
            .collect::<Result<Vec<_>>>()?;
        let bits = self.bits(i, out_scale);
        Ok(self.rescale(node, lin, vec![mf; n], add, shift, act, bits, out_scale))
    }

    /// Sum `i`'s `map` with every column scaled to `s` (the finest of its terms' scales: the
    /// unrounded accumulators'; `ins` its terms' quantized nodes) and its `bias` with each
    /// unrounded accumulator's own bias added at that term's weight.
    fn residual_terms(
        &self,
        i: usize,
        (map, bias): (&Linear<f32>, &Option<Vec<f32>>),
        s: u32,
        ins: &[usize],
    ) -> (Linear<f32>, Option<Vec<f32>>) {
        let node = &self.graph.nodes[i];
        let n = node.len();
        let terms = fuse::elementwise_terms(map, n).unwrap_or_default();
        let mut b = bias.clone().unwrap_or_else(|| vec![0.0; n]);
        for &(slot, w) in &terms {
            let raw = self.raw_bias[node.inputs[slot as usize]].as_deref();
            for (o, v) in b.iter_mut().enumerate() {
                *v += w * raw.and_then(|r| r.get(o)).copied().unwrap_or(0.0);
            }
        }
        let slots = column_slots(map).unwrap_or_default();
        let mut map = map.clone();
        for (m, cols) in map.mats.iter_mut().zip(&slots) {
            for (c, slot) in cols.iter().enumerate() {
                let Some(slot) = slot else { continue };
                let d = s - self.nodes[ins[*slot as usize]].scale;
                let f = f64::from(d).exp2() as f32;
                for r in 0..m.rows {
                    m.data[r * m.cols + c] *= f;
                }
            }
        }
        (map, Some(b))
    }
}
