//! A static check that no value of the quantized model can wrap modulo the field.
//!
//! Every node gets a bound on |value| from its inputs' bounds (or from its own range check);
//! every equation the circuit checks must hold over the integers, so each side stays below
//! 2^120, far under the BN254 scalar field's 2^253.

use super::{QGraph, QOp, QRef};
use crate::error::{CircuitsError, Result};

const LIMIT: f64 = 1.329_227_995_784_916e36; // 2^120

fn pow2(b: u32) -> f64 {
    f64::from(b).exp2()
}

/// Checks every node; the error names the first node that could overflow.
pub(super) fn check_bounds(q: &QGraph) -> Result<()> {
    node_bounds(q, None).map(|_| ())
}

/// [`check_bounds`] for private or hashed parameters: the prover may choose any parameters of
/// the compiled width, so every weight, multiplier and addend counts as `2^(param_bits − 1)`,
/// not as its calibrated value.
pub fn check_bounds_any_params(q: &QGraph) -> Result<()> {
    node_bounds(q, Some(pow2(q.param_bits().saturating_sub(1)))).map(|_| ())
}

/// A bound on |value| of every node's output (the error names the first node that could
/// overflow); with `any_param = Some(p)` every parameter counts as `p`.
pub(super) fn node_bounds(q: &QGraph, any_param: Option<f64>) -> Result<Vec<f64>> {
    let param = |w: i64| any_param.unwrap_or(w.unsigned_abs() as f64);
    let mut bound: Vec<f64> = Vec::with_capacity(q.nodes.len());
    let lookup_bounded = q.lookup_bounded();
    // Each node's first reader, for the lookup that bounds a lookup-bounded rescale.
    let mut first_reader = vec![None::<usize>; q.nodes.len()];
    for (r, n) in q.nodes.iter().enumerate() {
        for &i in &n.inputs {
            if let Some(f) = first_reader.get_mut(i) {
                f.get_or_insert(r);
            }
        }
    }
    // Each table's largest value, computed once (many nodes share a table).
    let table_max: Vec<f64> = q.tables.iter().map(|t| t.max_abs() as f64).collect();
    for (ni, n) in q.nodes.iter().enumerate() {
        let slot = |s: u32| bound[n.inputs[s as usize]];
        let refb = |r: &QRef| match *r {
            QRef::In(s, _) => slot(s),
            QRef::Const(c) => c.unsigned_abs() as f64,
        };
        let overflow = || CircuitsError::Overflow {
            node: n.name.clone(),
        };
        let b = match &n.op {
            // Quantized inputs are below 2^40 (the lean layout checks inputs at its own
            // width, which may exceed `input_bits`). A segment of a split model takes the
            // pooled layout, which checks its input to exactly `input_bits`.
            QOp::Input if q.segment.is_some() => pow2(q.input_bits.saturating_sub(1)),
            QOp::Input => pow2(q.input_bits.saturating_sub(1).max(40)),
            QOp::Linear { map } => {
                let mut worst = 0f64;
                for g in &map.groups {
                    let m = &map.mats[g.mat as usize];
                    for r in 0..g.outputs.len() {
                        let row = &m.data[r * m.cols..(r + 1) * m.cols];
                        let s: f64 = row
                            .iter()
                            .zip(&g.inputs)
                            .filter_map(|(w, x)| x.map(|(s, _)| param(*w) * slot(s)))
                            .sum();
                        worst = worst.max(s);
                    }
                }
                worst
            }
            QOp::Rescale { bits, mul, add, .. } => {
                let m = mul.iter().map(|&w| param(w)).fold(0.0, f64::max);
                let a = add.iter().map(|&w| param(w)).fold(0.0, f64::max);
                if m * slot(0) + a >= LIMIT || *bits > 60 {
                    return Err(overflow());
                }
                // An exact rescale without a ReLU (the identity among them) is not range-checked
                // on the pooled layout with fixed parameters (its value is `x·mul + add`); the
                // lean layout checks it. Either way this bounds it.
                if any_param.is_none() && n.op.is_unchecked_rescale() {
                    (m * slot(0) + a).max(pow2(*bits))
                } else if lookup_bounded[ni] {
                    // Not range-checked on the pooled layout: a lookup holds it to the
                    // table's domain (`QGraph::lookup_bounded`), whichever lookup reads it.
                    match first_reader[ni].and_then(|r| q.lookup_domain_bound(r)) {
                        Some(d) => (d as f64).max(pow2(*bits)),
                        None => return Err(overflow()),
                    }
                } else {
                    pow2(*bits)
                }
            }
            QOp::Gather { map } => map.iter().map(refb).fold(0.0, f64::max),
            QOp::Bilinear { terms } => {
                let t = terms.iter().map(Vec::len).max().unwrap_or(0) as f64;
                t * slot(0) * slot(1)
            }
            QOp::Lookup { table } => table_max.get(*table).copied().ok_or_else(overflow)?,
            QOp::Div {
                num,
                den,
                shift,
                bits,
                rbits,
            } => {
                let nb = num.iter().map(refb).fold(0.0, f64::max);
                let db = den.iter().map(refb).fold(0.0, f64::max);
                if pow2(shift + 1) * nb + db >= LIMIT
                    || 2.0 * pow2(*bits) * db >= LIMIT
                    || *bits > 60
                    || *rbits > 62
                {
                    return Err(overflow());
                }
                pow2(*bits)
            }
            QOp::Sqrt { exp, bits } => {
                if slot(0) * pow2(*exp) >= LIMIT || *bits > 60 {
                    return Err(overflow());
                }
                pow2(*bits)
            }
        };
        if b >= LIMIT {
            return Err(overflow());
        }
        bound.push(b);
    }
    Ok(bound)
}
