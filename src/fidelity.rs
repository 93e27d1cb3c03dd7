//! Fidelity of the quantized model against the float model.

use serde::{Deserialize, Serialize};

/// Error figures of quantized outputs against float outputs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Fidelity {
    /// Largest absolute difference.
    pub max_abs_err: f64,
    /// Mean absolute difference.
    pub mean_abs_err: f64,
    /// Whether the index of the largest output is the same.
    pub argmax_agrees: bool,
}

/// Index of the largest value (first on ties); `None` for an empty slice.
pub fn argmax<T: Copy + PartialOrd>(v: &[T]) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, &x) in v.iter().enumerate() {
        if best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i)
}

/// Compares quantized outputs with float outputs (same length).
pub fn compare(outputs: &[f64], reference: &[f32]) -> Fidelity {
    let n = outputs.len().min(reference.len()).max(1);
    let errs: Vec<f64> = outputs
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - f64::from(*b)).abs())
        .collect();
    let refs: Vec<f64> = reference.iter().map(|&x| f64::from(x)).collect();
    Fidelity {
        max_abs_err: errs.iter().copied().fold(0.0, f64::max),
        mean_abs_err: errs.iter().sum::<f64>() / n as f64,
        argmax_agrees: argmax(outputs) == argmax(&refs),
    }
}
