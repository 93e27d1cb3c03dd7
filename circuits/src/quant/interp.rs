//! Nonlinear functions by linear interpolation between knots, where that is as accurate as
//! the direct table and takes fewer rows.
//!
//! A direct table holds `f` at every value the rescale before it can produce: between 2^(b−1)
//! and 2^b entries (`b` = `table_bits`, 12 by default), whatever the number of elements the
//! function is applied to. A small model with one sigmoid on four outputs needed `k = 13` for
//! its table alone (4,119 rows; EZKL proved it at `k = 15` in 4.3 s, we in 0.46 s at `k = 12`,
//! 0.107×), one with four functions `k = 15`.
//!
//! Interpolation keeps knots every `2^−e`: with `X` the input at `s_in` fractional bits and
//! `s = s_in − e`, `k = ⌊X / 2^s⌋` is the knot below and `r = X − 2^s·k ∈ [0, 2^s)` the position
//! between it and the next, and
//!
//! `y = round((2^s·F(k) + Δ(k)·r) / 2^s)`, `F(k) = round(f(k·2^−e)·2^out)`, `Δ(k) = F(k+1) − F(k)`,
//!
//! two tables of `2K + 1` entries over `[−K, K]` ([`Table`] and its step table). It is made of
//! the primitives every model uses, so it adds no gate and no new soundness argument: a floor
//! rescale (`k`, its remainder checked), the linear map `X − 2^s·k` (`r`), two lookups, a product
//! (`Δ·r`), the linear map `2^s·F + Δ·r` and the final rescale. Linear interpolation errs by at
//! most `h²/8·max|f″|` between knots (`h = 2^−e`), where the direct table errs by about
//! `max|f′|·2^−(frac+1)`, so a few hundred knots often match four thousand entries.
//!
//! The choice is made per function node ([`choose`]): the coarsest knots whose largest error over
//! the table's domain (every rounding included, measured on a grid of inputs) is no larger
//! than the direct table's, when their two tables and [`ROWS_PER_ELEMENT`] more rows for each
//! element the function is applied to across the model take fewer rows than the direct table
//! (interpolating an LSTM's gates at every step filled 2,856 more rows of every column at the
//! same `k`, for a table that `k` held anyway).
//!
//! A function of a positive domain (a logarithm, a fractional power) has its knots over
//! `[0, K]`. Its slope is steepest near 0, where a uniform table rounds its input most: a
//! logarithm of inputs in `[0.15, 3]` (measured from 0.12) from a 12-bit table at 10 fractional
//! bits (3,841 entries) errs 4.0e-3 at the bottom; knots 1/64 apart (two tables of 242 entries)
//! err 1.9e-3, knots 1/128 apart 5.4e-4. Such knots must also match the direct table's mean
//! error over the interval, since its worst case, at the bottom, says little of the rest. Where
//! the interval measured reaches 0 and `f(0)` is not finite (a logarithm), no error is finite
//! and the direct table stays.
//!
//! Chords err on one side of a curve, `h²·f″/8` at their middles: once chosen, the knots'
//! values are balanced for the curvature ([`crate::quant::Table::balance`]) where that errs
//! less over the domain, halving the worst error at the same tables.

use super::exec::rescale_one;
use super::{Interpolation, Table};
use crate::ir::{Func, Group, Linear, Mat};

/// Rows an element's interpolation takes beyond the direct table's (main and lane rows
/// together, with a margin: the floor rescale's checks, the linear maps, the product, the
/// final rescale's checks and a second function row).
pub const ROWS_PER_ELEMENT: u64 = 16;

/// With guard bits, knots may err this much (in units of the output's last bit) where the
/// direct table errs less: half a unit, the output's own rounding, and an eighth.
pub const GUARD_TOLERANCE: f64 = 0.625;

/// Inputs the errors are measured on, evenly over the domain.
const SAMPLES: i64 = 16_384;

/// Coarsest knots tried: this many bits coarser than the direct table.
const MAX_COARSER: i32 = 10;

/// Guard bits of knots that need them: their values are held this many bits finer than the
/// output, so that their rounding errs an eighth of what the output's does (`2^−(out+g+1)`).
pub const GUARD_BITS: u32 = 3;

/// Knots of an interpolated function: every `2^−e`, over `[lo, k]` (`lo` is `−k`; 0 for a
/// function of a positive domain; `k` is 1 for an input never positive), their values at `g`
/// guard bits past the output's scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knots {
    /// Fractional bits of the knots.
    pub e: i32,
    /// The lowest knot index.
    pub lo: i64,
    /// The highest knot index.
    pub k: i64,
    /// Guard bits of the knots' values (0 or [`GUARD_BITS`]).
    pub g: u32,
    /// Values balanced for the curvature between knots ([`Table::balance`]).
    pub balanced: bool,
}

impl Knots {
    /// Knots every `2^−e` over `m`: `[−m, m]`, or `[0, m]` where `f` has a positive domain,
    /// with one more knot at the top (the interpolation reads the knot above the last input).
    pub fn over(f: &Func, e: i32, m: f64) -> Self {
        Self::over_domain(f, e, Domain::symmetric(m))
    }

    /// [`Knots::over`] the domain's `m`, or over `[−m, 0]` (and the knot above 0) for an input
    /// never positive.
    pub fn over_domain(f: &Func, e: i32, dom: Domain) -> Self {
        let k = (dom.m * f64::from(e).exp2()).ceil() as i64 + 1;
        let (lo, k) = if f.positive_domain() {
            (0, k)
        } else if dom.nonpositive {
            (-k, 1)
        } else {
            (-k, k)
        };
        Knots {
            e,
            lo,
            k,
            g: 0,
            balanced: false,
        }
    }

    /// The largest `|index|` of a knot.
    pub fn max_index(&self) -> u64 {
        self.k.unsigned_abs().max(self.lo.unsigned_abs())
    }

    /// The table of `f` at the knots for an output at `out_scale` (its values at `out_scale + g`;
    /// `step`: the differences of consecutive knots).
    pub fn table(&self, f: &Func, out_scale: u32, step: bool) -> Table {
        Table {
            f: f.clone(),
            frac: self.e,
            out_scale: out_scale + self.g,
            lo: self.lo,
            size: (self.k - self.lo + 1) as u64,
            step,
            balanced: self.balanced,
            values: Vec::new(),
        }
    }

    /// The shift from the input's scale to the knots' (`s = s_in − e`).
    pub fn shift(&self, s_in: i32) -> u32 {
        (s_in - self.e) as u32
    }
}

/// Where a function's input lies: its table covers `[−m, m]` (the calibrated range with the
/// margin; `[−m, 0]` for an input never positive), and the errors that decide between knots
/// and the direct table are measured over `[lo, hi]`, the calibrated interval with the
/// margin. An exponential whose inputs are `x − max ≤ 0` (every softmax) or `−d²/2` (a
/// Gaussian kernel) is measured where its values are, not at `e^m` on the half of the table no
/// input reaches: there an error of the direct table of ~10^11 let knots 64 apart pass as "as
/// accurate", and a Gaussian process regressor came out 0.25 for 0.065.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Domain {
    /// Half-width of the table's domain.
    pub m: f64,
    /// Lowest input measured.
    pub lo: f64,
    /// Highest input measured.
    pub hi: f64,
    /// The input is never positive by construction (`x − max`).
    pub nonpositive: bool,
}

impl Domain {
    /// `[−m, m]`, measured everywhere.
    pub fn symmetric(m: f64) -> Self {
        Domain {
            m,
            lo: -m,
            hi: m,
            nonpositive: false,
        }
    }

    /// The calibrated interval `[min, max]`, each end moved away from 0 by `margin`, within the
    /// table's `[−m, m]`.
    pub fn calibrated(m: f64, min: f64, max: f64, margin: f64) -> Self {
        let widen = |v: f64| if v < 0.0 { v * margin } else { v / margin };
        let (lo, hi) = (widen(min).max(-m), (-widen(-max)).min(m));
        if lo <= hi {
            Domain {
                m,
                lo,
                hi,
                nonpositive: false,
            }
        } else {
            Domain::symmetric(m)
        }
    }

    /// The domain of an input never positive: its table `[−m, 0]`, measured up to 0.
    pub fn never_positive(self) -> Self {
        Domain {
            lo: self.lo.min(0.0),
            hi: self.hi.min(0.0),
            nonpositive: true,
            ..self
        }
    }
}

/// The direct table and the rescale the quantizer lays out before it: `x·mul + add` shifted
/// right by `shift` (rounded: `add` is the rounding offset), at `frac` fractional bits.
#[derive(Debug, Clone, Copy)]
pub struct Direct<'a> {
    /// The table.
    pub table: &'a Table,
    /// Its input's fractional bits.
    pub frac: i32,
    /// The rescale's multiplier.
    pub mul: i64,
    /// The rescale's addend.
    pub add: i64,
    /// The rescale's shift.
    pub shift: u32,
}

/// Errors of a function's values over the sampled inputs of a domain.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Errors {
    /// The largest.
    worst: f64,
    /// The mean.
    mean: f64,
}

/// The direct table's errors over the domain's `[lo, hi]`, every rounding included: the
/// input at `s_in` bits, rescaled as the quantizer lays it out, looked up.
fn direct_error(f: &Func, s_in: i32, d: Direct<'_>, dom: Domain) -> Option<Errors> {
    let table = d.table;
    let values: Vec<i64> = (0..table.size)
        .map(|i| table.value(table.lo + i as i64))
        .collect();
    worst(f, s_in, dom, table.out_scale, f64::INFINITY, |x| {
        let (q, _) = rescale_one(x, d.mul, d.add, d.shift);
        let i = usize::try_from(i64::try_from(q).ok()?.checked_sub(table.lo)?).ok()?;
        values.get(i).copied()
    })
}

/// The interpolation's errors over the domain's `[lo, hi]` with `knots`, every rounding
/// included (`None` where one is past `limit`).
fn interp_error(
    f: &Func,
    s_in: i32,
    knots: Knots,
    out_scale: u32,
    dom: Domain,
    limit: f64,
) -> Option<Errors> {
    let s = knots.shift(s_in);
    let base = knots.table(f, out_scale, false);
    // The knots' values, k = lo ..= K + 1 (the step table's differences of them).
    let values: Vec<i128> = (base.lo..=base.lo + base.size as i64)
        .map(|k| i128::from(base.value(k)))
        .collect();
    let down = s + knots.g;
    let half = if down > 0 { 1i128 << (down - 1) } else { 0 };
    worst(f, s_in, dom, out_scale, limit, |x| {
        let (k, r) = rescale_one(x, 1, 0, s);
        let i = usize::try_from(i64::try_from(k).ok()? - base.lo).ok()?;
        let (y0, y1) = (*values.get(i)?, *values.get(i + 1)?);
        let z = (y0 << s) + (y1 - y0) * r;
        i64::try_from((z + half) >> down).ok()
    })
}

/// The largest and the mean `|f(x) − y(X)/2^out|` over the sampled inputs `X` (at `s_in` bits)
/// of `[lo, hi]`; `None` if some input has no value (outside a table), `f` is not finite, or
/// an error exceeds `limit` (the search stops at the first knots that cannot match the direct
/// table).
fn worst(
    f: &Func,
    s_in: i32,
    dom: Domain,
    out_scale: u32,
    limit: f64,
    y: impl Fn(i64) -> Option<i64>,
) -> Option<Errors> {
    let unit = f64::from(s_in).exp2();
    let (bottom, top) = (
        (dom.lo * unit).ceil() as i64,
        (dom.hi * unit).floor() as i64,
    );
    let step = ((top - bottom) / SAMPLES).max(1);
    let out = f64::from(out_scale).exp2();
    let (mut worst, mut sum, mut count) = (0f64, 0f64, 0u64);
    // Every 16th input first, then the rest: knots too coarse show it early.
    for (start, stride) in [(0, 16), (1, 1)] {
        let mut i = start;
        while bottom + i * step <= top {
            if stride == 1 && i % 16 == 0 {
                i += 1;
                continue;
            }
            let x = bottom + i * step;
            let want = f.eval(x as f64 / unit);
            if !want.is_finite() {
                return None;
            }
            let err = (want - y(x)? as f64 / out).abs();
            worst = worst.max(err);
            sum += err;
            count += 1;
            if worst > limit {
                return None;
            }
            i += stride;
        }
    }
    Some(Errors {
        worst,
        mean: sum / count.max(1) as f64,
    })
}

/// The knots to interpolate `f` with on `n` elements (every element the function is applied to
/// across the model: its nodes share a table, so the rows all of them add are what the table
/// saves against), or `None` for the direct table (see the
/// module's documentation; with [`Interpolation::Prefer`] wherever the knots' tables are smaller,
/// whatever `n`): `s_in` the input's fractional bits, `dom` where its values lie, `direct`
/// the direct table with the rescale before it.
pub fn choose(
    policy: Interpolation,
    f: &Func,
    n: usize,
    (s_in, dom): (i32, Domain),
    direct: Direct<'_>,
    out_scale: u32,
) -> Option<Knots> {
    let frac = direct.frac;
    let per_element = match policy {
        Interpolation::Auto => ROWS_PER_ELEMENT,
        Interpolation::Prefer | Interpolation::Finer => 0,
        Interpolation::Never => return None,
    };
    if direct.table.step {
        return None;
    }
    let extra = (n as u64).saturating_mul(per_element);
    if extra >= direct.table.size {
        return None;
    }
    let direct_err = direct_error(f, s_in, direct, dom)?;
    // `Finer` asks for a quarter of the direct table's error: the knots read the input at
    // its own resolution, where the direct table rounds it to its entries' first.
    let limit = if policy == Interpolation::Finer {
        direct_err.worst / 4.0
    } else {
        direct_err.worst
    };
    // A function of a positive domain is steepest at 0, where the direct table's worst error
    // lies; that says little of the rest of the interval (`x^−0.1` of inputs in (0, 1): knots
    // within it erred twice as much on the inputs). Its knots must match the mean error too.
    let mean = if f.positive_domain() {
        direct_err.mean
    } else {
        f64::INFINITY
    };
    let top = frac.min(s_in) - 1;
    let fits = |k: &Knots| {
        policy == Interpolation::Finer || 2 * (k.k - k.lo + 1) as u64 + extra < direct.table.size
    };
    // The coarsest knots at `g` guard bits within both limits.
    let search = |g: u32, limit: f64, mean: f64| {
        (frac - MAX_COARSER..=top)
            .map(|e| Knots {
                g,
                ..Knots::over_domain(f, e, dom)
            })
            .filter(fits)
            .find(|&k| {
                interp_error(f, s_in, k, out_scale, dom, limit).is_some_and(|e| e.mean <= mean)
            })
    };
    let plain = search(0, limit, mean);
    let chosen = if plain.is_some() || policy == Interpolation::Finer {
        plain
    } else {
        // A direct table read at (nearly) its input's own resolution errs by little more than
        // the output's rounding, `2^−(out+1)`, which knots that round twice cannot match: with
        // guard bits they come within an eighth of an output unit of it (`GUARD_TOLERANCE`).
        let unit = (-f64::from(out_scale)).exp2();
        search(
            GUARD_BITS,
            limit.max(GUARD_TOLERANCE * unit),
            mean + (GUARD_TOLERANCE - 0.5) * unit,
        )
    }?;
    Some(balanced(f, s_in, chosen, out_scale, dom))
}

/// `knots` balanced for their curvature ([`Table::balance`]) where that errs no more, worst
/// and mean, over the domain (every rounding included): half the chords' error at the same
/// tables where `f` is smooth between knots; a kink at a knot (an ELU's at 0) would move it
/// off `f`, which the measurement refuses. The knots' spacing is chosen unbalanced, so the
/// gain is accuracy at the same cost, not fewer knots.
fn balanced(f: &Func, s_in: i32, knots: Knots, out_scale: u32, dom: Domain) -> Knots {
    let b = Knots {
        balanced: true,
        ..knots
    };
    let err = |k: Knots| interp_error(f, s_in, k, out_scale, dom, f64::INFINITY);
    match (err(knots), err(b)) {
        (Some(p), Some(q)) if q.worst <= p.worst && q.mean <= p.mean => b,
        _ => knots,
    }
}

/// The elementwise linear map `w0·a[i] + w1·b[i]` over two inputs of `n` elements.
pub fn pairwise(n: usize, w0: i64, w1: i64) -> Linear<i64> {
    Linear {
        mats: vec![Mat {
            rows: 1,
            cols: 2,
            data: vec![w0, w1],
        }],
        groups: (0..n as u32)
            .map(|i| Group {
                mat: 0,
                inputs: vec![Some((0, i)), Some((1, i))],
                outputs: vec![i],
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "interp_tests.rs"]
mod tests;
