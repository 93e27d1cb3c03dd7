//! Lookup tables of nonlinear functions over a bounded integer domain.

use serde::{Deserialize, Serialize};

use crate::ir::Func;

/// Entries of a table are capped at this magnitude (saturation far outside calibrated ranges).
pub const TABLE_VALUE_CAP: i64 = (1 << 40) - 1;

/// A function table: `y = round(f(x · 2^-frac) · 2^out_scale)` for `x` in `[lo, lo + size)`;
/// or a data table (`values` not empty): `y = values[x − lo]`, the entries of a constant
/// tensor a computed index reads ([`crate::ir::Op::Select`]), `f` then unused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Table {
    /// The function.
    pub f: Func,
    /// Fractional bits of the table's input.
    pub frac: i32,
    /// Fractional bits of the table's output.
    pub out_scale: u32,
    /// First input of the domain.
    pub lo: i64,
    /// Number of entries.
    pub size: u64,
    /// A step table: `y(x + 1) − y(x)` of the table above, the slope a linear interpolation
    /// between knots multiplies ([`crate::quant::interp`]).
    #[serde(default)]
    pub step: bool,
    /// Knots balanced for their curvature ([`Table::balance`]): each value moved by a
    /// sixteenth of `f`'s second difference at it, so that the chords between knots err as
    /// much above `f` as below it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub balanced: bool,
    /// A data table's entries at the output scale, one per input of the domain (empty for a
    /// function table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<i64>,
}

impl Table {
    /// Whether `x` is in the domain.
    pub fn contains(&self, x: i64) -> bool {
        x >= self.lo && ((x - self.lo) as u64) < self.size
    }

    /// The table's value at `x` (the caller checks the domain).
    pub fn value(&self, x: i64) -> i64 {
        if self.is_data() {
            let at = |x: i64| {
                x.checked_sub(self.lo)
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| self.values.get(i))
                    .copied()
                    .unwrap_or(0)
            };
            return at(x);
        }
        if self.step {
            return self.function_value(x.saturating_add(1)) - self.function_value(x);
        }
        self.function_value(x)
    }

    /// `round((f(x·2^−frac) − balance(x))·2^out_scale)`, the value of a function table that is
    /// not a step table.
    fn function_value(&self, x: i64) -> i64 {
        // Below 0 a function of a positive domain takes its value at 0, or where that is not
        // finite (a logarithm, a negative power) at the smallest positive input: a square
        // root's table reads 0 at 0, not √(2^−frac) (0.022 at 11 bits).
        let x = if !self.f.positive_domain() || x > 0 {
            x
        } else if self.f.eval(0.0).is_finite() {
            0
        } else {
            1
        };
        let xr = x as f64 * (-f64::from(self.frac)).exp2();
        let y = (self.f.eval(xr) - self.balance(x)) * f64::from(self.out_scale).exp2();
        if y.is_nan() {
            return 0;
        }
        (y.round()
            .clamp(-(TABLE_VALUE_CAP as f64), TABLE_VALUE_CAP as f64)) as i64
    }

    /// What a balanced table takes off `f` at input `x`: `(f(x−1) − 2f(x) + f(x+1)) / 16` on
    /// its grid. A chord between knots `h` apart errs by `h²·f″/8` at its middle and nothing
    /// at its ends; every knot moved by half of that (the second difference is `h²·f″`) errs
    /// `±h²·f″/16` both places, half the worst. 0 where the table is not balanced, where a
    /// neighbour is not in `f`'s domain (a positive domain's knots at 0 and 1) or `f` is not
    /// finite there.
    pub fn balance(&self, x: i64) -> f64 {
        if !self.balanced || (self.f.positive_domain() && x < 2) {
            return 0.0;
        }
        let at = |i: i64| self.f.eval(i as f64 * (-f64::from(self.frac)).exp2());
        let d = at(x - 1) - 2.0 * at(x) + at(x + 1);
        if d.is_finite() {
            d / 16.0
        } else {
            0.0
        }
    }

    /// Largest |value| over the domain.
    pub fn max_abs(&self) -> i64 {
        (0..self.size)
            .map(|i| self.value(self.lo + i as i64).abs())
            .max()
            .unwrap_or(0)
    }

    /// Whether this is a data table (entries given, not a function's values).
    pub fn is_data(&self) -> bool {
        !self.values.is_empty()
    }

    /// The name plans show: the function's, with "step" for a step table; "constant data"
    /// for a data table.
    pub fn label(&self) -> std::borrow::Cow<'static, str> {
        if self.is_data() {
            "constant data".into()
        } else if self.step {
            format!("{} step", self.f.name()).into()
        } else {
            self.f.name()
        }
    }

    /// The domain's real interval, for messages.
    pub fn real_domain(&self) -> (f64, f64) {
        let s = (-f64::from(self.frac)).exp2();
        (
            self.lo as f64 * s,
            (self.lo + self.size as i64 - 1) as f64 * s,
        )
    }
}
