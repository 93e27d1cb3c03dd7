//! The lean layout: the fewest committed columns, for the cheapest on-chain verification.
//!
//! The verifier pays about 6,000 gas (an elliptic-curve multiplication) for every committed
//! column, fixed or advice, every permutation column and every lookup. The pooled layout
//! (`crate::chips`) is built for proving speed: a five-column element row, a range-check lane,
//! a lookup table, one selector per gate. The lean layout serves models made of fixed-weight
//! linear maps each followed by its rescale (dense and convolutional layers, pooling, ReLU:
//! `mlp_digits`, `lenet`, `mlp_wide`) with three advice columns (for one input per row), four
//! fixed columns and copy constraints on one column:
//!
//! - the rescale is folded into the map: `floor((L(x)·mul + add)/2^s)` becomes
//!   `floor((L'(x) + add')/2^W)` with `L' = L·mul·2^(W−s)` and `add' = add·2^(W−s)` (the same
//!   integers), so one width `W` serves every layer and the map's last accumulator feeds the
//!   rescale without a copy;
//! - range checks are bit decompositions in place (running sums over `W` rows in the three
//!   columns at once) instead of lookups: no table, no lookup commitments;
//! - a rescaled value `q` is `A − B` with `A = max(q, 0)`, `B = max(−q, 0)` and `A·B = 0`, so
//!   ReLU is free and a signed value needs one more row;
//! - constants a map reads (padding) are folded into its addend.
//!
//! Rows per output element: `⌈terms/T⌉` multiply-add rows, `W` bit rows (the last is the value
//! row), and one signed row when no ReLU follows. [`LeanModel`] is the static plan: which
//! models qualify, the folded weights, and the rows; `synth` lays it out.
//!
//! Every input element is a signed row (`|x| < 2^W` by its `W` bit rows; a public one bound to
//! its instance row, so no instance is a free field element); a
//! hashed input or output is packed on multiply-add rows and hashed by the Poseidon chip
//! ([`crate::chips::poseidon`]), whose state columns are the three bit columns and whose
//! helpers are three more advice columns. Hashed values are packed as `W + 1`-bit values
//! ([`LeanModel::hash_bits`]), the width the bit rows prove.

pub mod chip;
mod synth;
#[cfg(test)]
mod tests;

pub use chip::LeanConfig;
pub(crate) use synth::synthesize;

use crate::quant::{QGraph, QOp, QRef};
use crate::visibility::{Vis, Visibility};

/// Where a value read by a multiply-add row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Element `e` of the (public) model input.
    Input(usize),
    /// Element `e` of a rescale node (`node`, `e`): a cell of the input column `x_0`.
    Elem(usize, usize),
    /// A constant.
    Const(i64),
}

/// One output element of a linear map fused with its rescale.
#[derive(Debug, Clone)]
pub struct Element {
    /// The folded weights of the non-constant inputs (zero weights dropped).
    pub terms: Vec<(Origin, i128)>,
    /// The folded addend (bias, rounding, constant inputs).
    pub add: i128,
}

impl Element {
    /// Multiply-add rows with `t` inputs per row (at least one: an empty map is one zero row).
    pub fn mac_rows(&self, t: usize) -> usize {
        self.terms.len().div_ceil(t.max(1)).max(1)
    }
}

/// A linear map and the rescale that alone consumes it.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The rescale node (its elements are the unit's outputs).
    pub node: usize,
    /// Whether a ReLU is fused (else each element takes one more, signed, row).
    pub relu: bool,
    /// The output elements.
    pub elems: Vec<Element>,
}

/// A model laid out for the lean layout.
#[derive(Debug, Clone)]
pub struct LeanModel {
    /// The width `W` of every range check and the shift of every rescale.
    pub width: u32,
    /// The units, in the graph's order.
    pub units: Vec<Unit>,
    /// The output node's elements.
    pub outputs: Vec<Origin>,
    /// Number of input elements.
    pub num_inputs: usize,
    /// Who sees what.
    pub visibility: Visibility,
}

impl LeanModel {
    /// Plans `q` for the lean layout, or says why it does not qualify.
    pub fn new(q: &QGraph, vis: Visibility) -> Result<Self, String> {
        if q.segment.is_some() {
            // A segment's boundary hash must pack at the width the next segment's input
            // hash uses; the lean layout hashes at its check width instead.
            return Err("a segment of a split model takes the pooled layout".into());
        }
        if vis.params != Vis::Fixed {
            return Err(format!(
                "the lean layout takes fixed parameters (got {})",
                vis.params
            ));
        }
        let mut consumers = vec![Vec::new(); q.nodes.len()];
        for (i, n) in q.nodes.iter().enumerate() {
            for &j in &n.inputs {
                consumers[j].push(i);
            }
        }
        let mut width = 1;
        for n in &q.nodes {
            if let QOp::Rescale { shift, bits, .. } = n.op {
                width = width.max(shift).max(bits);
            }
        }
        // Every input element (public ones too) is `A − B` with `A, B < 2^W`: `W` covers
        // its width.
        width = width.max(q.input_bits.saturating_sub(1));
        // `(A − B)·2^W + C` with `A, B, C < 2^W` spans 2W + 2 bits: it must not wrap the field.
        if 2 * width + 2 >= FIELD_SAFE_BITS {
            return Err(format!("rescales of {width} bits are too wide"));
        }
        let mut origins: Vec<Vec<Origin>> = Vec::with_capacity(q.nodes.len());
        let mut units = Vec::new();
        for (i, n) in q.nodes.iter().enumerate() {
            let here = match &n.op {
                QOp::Input => (0..n.len()).map(Origin::Input).collect(),
                QOp::Gather { map } => map
                    .iter()
                    .map(|r| match *r {
                        QRef::In(s, e) => origins[n.inputs[s as usize]]
                            .get(e as usize)
                            .copied()
                            .ok_or_else(|| {
                                format!("'{}' reads a linear map's accumulator", n.name)
                            }),
                        QRef::Const(c) => Ok(Origin::Const(c)),
                    })
                    .collect::<Result<Vec<_>, String>>()?,
                QOp::Linear { .. } => {
                    let fused = matches!(consumers[i][..], [r] if matches!(q.nodes[r].op, QOp::Rescale { .. }) && q.nodes[r].inputs == [i]);
                    if !fused || i == q.output {
                        return Err(format!(
                            "the linear map of '{}' is not consumed by one rescale alone",
                            n.name
                        ));
                    }
                    Vec::new()
                }
                QOp::Rescale { clamp: Some(_), .. } => {
                    return Err(format!(
                        "'{}' ({}) clamps its output, which the lean layout cannot",
                        n.name, n.op_type
                    ));
                }
                QOp::Rescale {
                    mul,
                    add,
                    shift,
                    relu,
                    ..
                } => {
                    let src = n.inputs[0];
                    let QOp::Linear { map } = &q.nodes[src].op else {
                        return Err(format!(
                            "the rescale of '{}' does not follow a linear map",
                            n.name
                        ));
                    };
                    let lin = &q.nodes[src];
                    let up = 1i128 << (width - shift);
                    let mut elems: Vec<Option<Element>> = vec![None; n.len()];
                    for g in &map.groups {
                        let m = &map.mats[g.mat as usize];
                        for (r, &o) in g.outputs.iter().enumerate() {
                            let o = o as usize;
                            let factor = i128::from(mul[o]) * up;
                            let mut e = Element {
                                terms: Vec::new(),
                                add: i128::from(add[o]) * up,
                            };
                            for (idx, inp) in g.inputs.iter().enumerate() {
                                let Some((s, el)) = *inp else { continue };
                                let w = i128::from(m.data[r * m.cols + idx]) * factor;
                                if w == 0 {
                                    continue;
                                }
                                let from = origins[lin.inputs[s as usize]]
                                    .get(el as usize)
                                    .copied()
                                    .ok_or_else(|| {
                                        format!("'{}' reads a linear map's accumulator", lin.name)
                                    })?;
                                match from {
                                    Origin::Const(c) => e.add += w * i128::from(c),
                                    _ => e.terms.push((from, w)),
                                }
                            }
                            elems[o] = Some(e);
                        }
                    }
                    let elems = elems
                        .into_iter()
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            format!("the linear map of '{}' leaves an output unset", lin.name)
                        })?;
                    units.push(Unit {
                        node: i,
                        relu: *relu,
                        elems,
                    });
                    (0..n.len()).map(|e| Origin::Elem(i, e)).collect()
                }
                other => {
                    return Err(format!(
                        "'{}' ({}) needs a gadget the lean layout does not have ({})",
                        n.name,
                        n.op_type,
                        op_name(other)
                    ))
                }
            };
            origins.push(here);
        }
        let outputs = origins[q.output].clone();
        if outputs.iter().any(|o| !matches!(o, Origin::Elem(..))) {
            return Err("the output is not computed by a rescale".into());
        }
        // No multiply-add chain may wrap the field: every value it reads is below 2^W, so
        // |acc + add| ≤ Σ|w|·2^W + |add| must stay below 2^FIELD_SAFE_BITS (exactly, in
        // integers of 256 bits: |w| < 2^127, 2^W ≤ 2^(FIELD_SAFE_BITS/2)).
        for (u, e) in units
            .iter()
            .flat_map(|u| u.elems.iter().map(move |e| (u, e)))
        {
            if !chain_fits(e, width) {
                return Err(format!(
                    "the multiply-adds of '{}' could exceed the field at width {width}",
                    q.nodes[u.node].name
                ));
            }
        }
        Ok(Self {
            width,
            units,
            outputs,
            num_inputs: q.input().len(),
            visibility: vis,
        })
    }

    /// The width hashed values are packed with: `|v| < 2^W` is what the bit rows prove.
    pub fn hash_bits(&self) -> u32 {
        self.width + 1
    }

    /// Rows of the layout with `t` inputs per multiply-add row.
    pub fn rows(&self, t: usize) -> usize {
        self.input_rows()
            + self
                .units
                .iter()
                .map(|u| self.unit_rows(u, t))
                .sum::<usize>()
            + self.hash_rows(t)
    }

    /// Rows of the input's range checks: `W` bit rows and a signed row per element, whatever
    /// its visibility (a public element's signed row is bound to its instance).
    pub fn input_rows(&self) -> usize {
        self.num_inputs * (self.width as usize + 1)
    }

    /// Rows of packing and hashing the hashed groups.
    pub fn hash_rows(&self, t: usize) -> usize {
        let bits = self.hash_bits();
        let mut rows = 0;
        if self.visibility.input == Vis::Hashed {
            rows += crate::chips::poseidon::hash_group_rows(self.num_inputs, bits, t);
        }
        if self.visibility.output == Vis::Hashed {
            rows += crate::chips::poseidon::hash_group_rows(self.outputs.len(), bits, t);
        }
        rows
    }

    /// Rows of one unit.
    pub fn unit_rows(&self, u: &Unit, t: usize) -> usize {
        let tail = self.width as usize + usize::from(!u.relu);
        u.elems.iter().map(|e| e.mac_rows(t) + tail).sum()
    }
}

/// Bits below which a signed integer embeds in the BN254 scalar field without wrapping
/// (the modulus is above 2^253).
pub const FIELD_SAFE_BITS: u32 = 252;

/// Whether `Σ|w|·2^W + |add| < 2^FIELD_SAFE_BITS` for the element (a wide sum in u64 limbs).
fn chain_fits(e: &Element, width: u32) -> bool {
    // Sum |w| exactly in 192 bits (hi:lo), then compare with 2^(FIELD_SAFE_BITS − W − 1) so
    // that the sum times 2^W plus |add| (|add| < 2^127 ≤ the same bound) stays below the limit.
    let mut lo: u128 = 0;
    let mut hi: u128 = 0;
    for &(_, w) in &e.terms {
        let (s, carry) = lo.overflowing_add(w.unsigned_abs());
        lo = s;
        hi += u128::from(carry);
    }
    let limit_bits = FIELD_SAFE_BITS - width - 1;
    // (hi·2^128 + lo) < 2^limit_bits
    let fits_sum = if limit_bits >= 128 {
        hi < 1u128 << (limit_bits - 128)
    } else {
        hi == 0 && lo < 1u128 << limit_bits
    };
    fits_sum && e.add.unsigned_abs() < 1u128 << (limit_bits.min(127))
}

fn op_name(op: &QOp) -> &'static str {
    match op {
        QOp::Input => "input",
        QOp::Linear { .. } => "linear map",
        QOp::Rescale { .. } => "rescale",
        QOp::Gather { .. } => "rewiring",
        QOp::Bilinear { .. } => "product of two computed tensors",
        QOp::Lookup { .. } => "function table",
        QOp::Div { .. } => "division",
        QOp::Sqrt { .. } => "square root",
    }
}
