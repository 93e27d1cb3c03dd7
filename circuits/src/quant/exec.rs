//! The reference integer executor: the single source of truth for witness values.

use crate::error::{CircuitsError, Result};
use crate::quant::{QGraph, QOp, QRef};

/// Every node's integer output for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// `values[i]` is node `i`'s output, flattened.
    pub values: Vec<Vec<i64>>,
}

impl Trace {
    /// The model output.
    pub fn output<'a>(&'a self, q: &QGraph) -> &'a [i64] {
        &self.values[q.output]
    }
}

/// `(q, r)` with `x·mul + add = q·2^shift + r`, `0 ≤ r < 2^shift` (floor division).
pub fn rescale_one(x: i64, mul: i64, add: i64, shift: u32) -> (i128, i128) {
    let z = i128::from(x) * i128::from(mul) + i128::from(add);
    let q = z >> shift; // arithmetic shift = floor division by 2^shift
    (q, z - (q << shift))
}

/// Quantizes a float input to the model's input scale.
pub fn quantize_input(q: &QGraph, input: &[f32]) -> Result<Vec<i64>> {
    let node = q.input();
    if input.len() != node.len() {
        return Err(CircuitsError::InputLength {
            name: node.name.clone(),
            shape: node.shape.clone(),
            expected: node.len(),
            got: input.len(),
        });
    }
    let s = (node.scale as f64).exp2();
    input
        .iter()
        .enumerate()
        .map(|(index, &x)| {
            if !x.is_finite() {
                return Err(CircuitsError::NonFinite {
                    what: "input".into(),
                    index,
                    value: x,
                });
            }
            let v = (f64::from(x) * s).round();
            if v.abs() >= 2f64.powi(40) {
                return Err(CircuitsError::OutOfRange {
                    node: node.name.clone(),
                    index,
                    value: v as i128,
                    bits: 40,
                });
            }
            Ok(v as i64)
        })
        .collect()
}

/// `(q, r)` with `num·2^(shift+1) + den = q·2·den + r`, `0 ≤ r < 2·den` (rounded division).
pub fn div_one(num: i64, den: i64, shift: u32) -> (i128, i128) {
    let z = (i128::from(num) << (shift + 1)) + i128::from(den);
    let d2 = 2 * i128::from(den);
    (z.div_euclid(d2), z.rem_euclid(d2))
}

/// `floor(sqrt(v))` for `v ≥ 0`.
pub fn isqrt(v: i128) -> i128 {
    if v <= 0 {
        return 0;
    }
    let mut s = (v as f64).sqrt() as i128;
    while s * s > v {
        s -= 1;
    }
    while (s + 1) * (s + 1) <= v {
        s += 1;
    }
    s
}

/// `v` if `|v| < 2^bits`, else the error naming the node, element and value.
fn bounded(v: i128, bits: u32, node: &str, index: usize) -> Result<i64> {
    let lim = 1i128 << bits;
    if v <= -lim || v >= lim {
        return Err(CircuitsError::OutOfRange {
            node: node.into(),
            index,
            value: v,
            bits,
        });
    }
    Ok(v as i64)
}

fn to_i64(v: i128, node: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| CircuitsError::Overflow { node: node.into() })
}

/// Runs the quantized graph on an integer input.
pub fn run_quantized(q: &QGraph, input: &[i64]) -> Result<Trace> {
    let mut values: Vec<Vec<i64>> = Vec::with_capacity(q.nodes.len());
    for node in &q.nodes {
        let get = |r: &QRef| -> i64 {
            match *r {
                QRef::In(s, i) => values[node.inputs[s as usize]][i as usize],
                QRef::Const(c) => c,
            }
        };
        let out = match &node.op {
            QOp::Input => input.to_vec(),
            QOp::Linear { map } => {
                let acc = map.eval(
                    node.len(),
                    0i128,
                    |(s, i)| i128::from(values[node.inputs[s as usize]][i as usize]),
                    |a, w, x| a + i128::from(w) * x,
                );
                acc.into_iter()
                    .map(|v| to_i64(v, &node.name))
                    .collect::<Result<Vec<_>>>()?
            }
            QOp::Gather { map } => map.iter().map(get).collect(),
            QOp::Bilinear { terms } => {
                let (a, b) = (&values[node.inputs[0]], &values[node.inputs[1]]);
                terms
                    .iter()
                    .map(|t| {
                        let s: i128 = t
                            .iter()
                            .map(|&(i, j)| i128::from(a[i as usize]) * i128::from(b[j as usize]))
                            .sum();
                        to_i64(s, &node.name)
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            QOp::Lookup { table } => {
                let t = &q.tables[*table];
                let x = &values[node.inputs[0]];
                let mut y = Vec::with_capacity(x.len());
                // Read from the table's entries once computed where the elements outnumber
                // half of them: a value evaluates `f` up to eight times (a balanced step
                // table), a composite up to its every step.
                let entries: Vec<i64> = if x.len() as u64 * 2 > t.size && !t.is_data() {
                    (0..t.size).map(|i| t.value(t.lo + i as i64)).collect()
                } else {
                    Vec::new()
                };
                for (index, &v) in x.iter().enumerate() {
                    if !t.contains(v) && t.is_data() {
                        return Err(CircuitsError::OutOfDomain {
                            node: node.name.clone(),
                            index,
                            value: i128::from(v),
                            reason: format!(
                                "is not an index of the constant tensor it reads (0 to {})",
                                t.size - 1
                            ),
                        });
                    }
                    if !t.contains(v) {
                        let (lo, hi) = t.real_domain();
                        return Err(CircuitsError::OutOfDomain {
                            node: node.name.clone(),
                            index,
                            value: i128::from(v),
                            reason: format!(
                                "is outside the {} table's calibrated domain [{lo}, {hi}]: recalibrate with data that covers this input (zkonnx compile --calibration)",
                                t.f.name()
                            ),
                        });
                    }
                    let at = usize::try_from(v - t.lo).ok();
                    y.push(match at.and_then(|i| entries.get(i)) {
                        Some(&e) => e,
                        None => t.value(v),
                    });
                }
                y
            }
            QOp::Div {
                num,
                den,
                shift,
                bits,
                rbits,
            } => {
                let mut y = Vec::with_capacity(num.len());
                for (index, (n, d)) in num.iter().zip(den).enumerate() {
                    let (nv, dv) = (get(n), get(d));
                    if dv <= 0 || (2 * i128::from(dv)) >= (1i128 << rbits) {
                        return Err(CircuitsError::OutOfDomain {
                            node: node.name.clone(),
                            index,
                            value: i128::from(dv),
                            reason: format!(
                                "is a denominator outside (0, 2^{}): zkonnx divides only by positive values within the calibrated range",
                                rbits - 1
                            ),
                        });
                    }
                    let (qv, _) = div_one(nv, dv, *shift);
                    y.push(bounded(qv, *bits, &node.name, index)?);
                }
                y
            }
            QOp::Sqrt { exp, bits } => {
                let x = &values[node.inputs[0]];
                let mut y = Vec::with_capacity(x.len());
                for (index, &v) in x.iter().enumerate() {
                    if v < 0 {
                        return Err(CircuitsError::OutOfDomain {
                            node: node.name.clone(),
                            index,
                            value: i128::from(v),
                            reason: "is negative under a square root".into(),
                        });
                    }
                    y.push(bounded(
                        isqrt(i128::from(v) << exp),
                        *bits,
                        &node.name,
                        index,
                    )?);
                }
                y
            }
            QOp::Rescale {
                mul,
                add,
                shift,
                relu,
                clamp,
                bits,
            } => {
                let x = &values[node.inputs[0]];
                let mut y = Vec::with_capacity(x.len());
                for (index, (&xv, (&m, &a))) in x.iter().zip(mul.iter().zip(add)).enumerate() {
                    let (qv, _) = rescale_one(xv, m, a, *shift);
                    let qv = bounded(qv, *bits, &node.name, index)?;
                    y.push(match (*relu, *clamp) {
                        (true, Some(c)) => qv.clamp(0, c.max(0)),
                        (true, None) => qv.max(0),
                        (false, _) => qv,
                    });
                }
                y
            }
        };
        values.push(out);
    }
    Ok(Trace { values })
}
