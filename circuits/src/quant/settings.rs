//! Quantization settings: the one place where the default scales live.

use serde::{Deserialize, Serialize};

/// Default number of fractional bits of activations (inputs and every layer output).
pub const DEFAULT_INPUT_SCALE: u32 = 13;
/// Default number of fractional bits of weights and multipliers.
pub const DEFAULT_PARAM_SCALE: u32 = 13;
/// Default headroom factor applied to calibrated ranges before choosing range-check widths.
pub const DEFAULT_RANGE_MARGIN: f64 = 4.0;
/// Default size of a nonlinear function's lookup table: `2^DEFAULT_TABLE_BITS` entries.
pub const DEFAULT_TABLE_BITS: u32 = 12;
/// Default headroom factor of a lookup table's domain over the calibrated input range.
pub const DEFAULT_TABLE_MARGIN: f64 = 2.0;

/// What calibration optimises for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Fidelity first: from the given scales, steps of activation, weight and table bits kept
    /// while the circuit costs no more and is closer to the float model on the calibration
    /// data (EZKL's `calibrate_settings` likewise chooses by the calibration data).
    #[default]
    Accuracy,
    /// The smallest circuit whose outputs stay within tolerance of the float model.
    Speed,
    /// The scales given, nothing else tried.
    Given,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Target::Accuracy => "accuracy",
            Target::Speed => "speed",
            Target::Given => "given",
        })
    }
}

/// How reals become integers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct QuantSettings {
    /// A real activation `x` is the integer `round(x · 2^input_scale)`.
    pub input_scale: u32,
    /// A real weight `w` is the integer `round(w · 2^param_scale)`.
    pub param_scale: u32,
    /// Calibrated ranges are multiplied by this factor before range-check widths are chosen.
    pub range_margin: f64,
    /// A nonlinear function's direct lookup table has at most `2^table_bits` entries (its
    /// domain at the finest power-of-two resolution that fits).
    #[serde(default = "default_table_bits")]
    pub table_bits: u32,
    /// A table's domain covers the calibrated input range times this factor.
    #[serde(default = "default_table_margin")]
    pub table_margin: f64,
    /// Where functions are interpolated between knots instead ([`crate::quant::interp`]).
    #[serde(default)]
    pub interpolation: Interpolation,
    /// Lower chains of elementwise operations of one tensor node by node instead of as one
    /// function each ([`crate::ir::fuse`]): `--target accuracy` tries it as a step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unfused: bool,
    /// Round every linear map's accumulator at the map, even where a residual sum with a
    /// ReLU could read it unrounded (`quantize/linear.rs`): the lean layout range-checks an
    /// unrounded accumulator at its full width, so `--objective gas` sets it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rounded_maps: bool,
}

/// When a nonlinear function is interpolated between knots rather than tabulated at every
/// input ([`crate::quant::interp`]); either way only where the knots are as accurate as the
/// direct table over its whole domain (with `Finer`, four times as accurate).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Interpolation {
    /// Where the knots' two tables and the elements' extra rows
    /// ([`crate::quant::interp::ROWS_PER_ELEMENT`] each) take fewer rows than the direct table.
    #[default]
    Auto,
    /// Wherever the knots' tables are smaller than the direct table (when the table, not the
    /// elements' rows, sets a small circuit's size; the compiler tries it beside `auto` and
    /// keeps the cheaper plan).
    Prefer,
    /// Never: direct tables only.
    Never,
    /// Wherever knots reach a quarter of the direct table's largest error (knots up to twice
    /// as fine as its entries), whatever the rows: a function tabulated at a coarser input
    /// step than the rest of the model is the model's weak link. `--target accuracy` compiles
    /// it beside the others and keeps it where it costs no more and is closer to the float model.
    Finer,
}

fn default_table_bits() -> u32 {
    DEFAULT_TABLE_BITS
}

fn default_table_margin() -> f64 {
    DEFAULT_TABLE_MARGIN
}

impl Default for QuantSettings {
    fn default() -> Self {
        Self {
            input_scale: DEFAULT_INPUT_SCALE,
            param_scale: DEFAULT_PARAM_SCALE,
            range_margin: DEFAULT_RANGE_MARGIN,
            table_bits: DEFAULT_TABLE_BITS,
            table_margin: DEFAULT_TABLE_MARGIN,
            interpolation: Interpolation::Auto,
            unfused: false,
            rounded_maps: false,
        }
    }
}
