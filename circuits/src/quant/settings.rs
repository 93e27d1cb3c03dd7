//! Quantization settings: the one place where the default scales live.

use serde::{Deserialize, Serialize};

/// Default number of fractional bits of activations (inputs and every layer output).
pub const DEFAULT_INPUT_SCALE: u32 = 13;
/// Default number of fractional bits of weights and multipliers.
pub const DEFAULT_PARAM_SCALE: u32 = 13;
/// Default headroom factor applied to calibrated ranges before choosing range-check widths.
pub const DEFAULT_RANGE_MARGIN: f64 = 4.0;

/// How reals become integers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct QuantSettings {
    /// A real activation `x` is the integer `round(x · 2^input_scale)`.
    pub input_scale: u32,
    /// A real weight `w` is the integer `round(w · 2^param_scale)`.
    pub param_scale: u32,
    /// Calibrated ranges are multiplied by this factor before range-check widths are chosen.
    pub range_margin: f64,
}

impl Default for QuantSettings {
    fn default() -> Self {
        Self {
            input_scale: DEFAULT_INPUT_SCALE,
            param_scale: DEFAULT_PARAM_SCALE,
            range_margin: DEFAULT_RANGE_MARGIN,
        }
    }
}
