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
mod tests {
    use super::*;

    /// The direct table with the rescale the quantizer lays out before it (input at `s_in`).
    fn pre(t: &Table, s_in: i32) -> Direct<'_> {
        let shift = (s_in - t.frac) as u32;
        Direct {
            table: t,
            frac: t.frac,
            mul: 1,
            add: if shift > 0 { 1 << (shift - 1) } else { 0 },
            shift,
        }
    }

    fn direct(f: Func, frac: i32, m_in: f64, out: u32) -> Table {
        let r = (m_in * f64::from(frac).exp2()).ceil() as i64;
        Table {
            f,
            frac,
            out_scale: out,
            lo: -r,
            size: (2 * r + 1) as u64,
            step: false,
            balanced: false,
            values: Vec::new(),
        }
    }

    /// An exponential of an input never positive (`x − max` on [−4, 0]): its knots run from
    /// below −4 to the knot above 0 (half of a two-sided set), are as accurate as a one-sided
    /// direct table at frac 10 (4,097 entries, where a table of both signs would read at frac
    /// 9), and read every input of the domain.
    #[test]
    fn knots_of_an_input_never_positive_cover_its_half() {
        let r = 4 << 10;
        let t = Table {
            lo: -r,
            size: (r + 1) as u64,
            ..direct(Func::Exp, 10, 4.0, 13)
        };
        let dom = Domain::calibrated(4.0, -4.0, 0.0, 1.0).never_positive();
        assert_eq!((dom.lo, dom.hi), (-4.0, 0.0));
        let k = choose(
            Interpolation::Auto,
            &Func::Exp,
            4,
            (13, dom),
            pre(&t, 13),
            13,
        )
        .expect("knots for 4 elements");
        assert_eq!(k.k, 1, "{k:?}");
        assert!(
            k.lo <= -(4 << k.e) && k.max_index() == k.lo.unsigned_abs(),
            "{k:?}"
        );
        let d = direct_error(&Func::Exp, 13, pre(&t, 13), dom)
            .unwrap()
            .worst;
        let i = interp_error(&Func::Exp, 13, k, 13, dom, f64::INFINITY).expect("every input read");
        assert!(i.worst <= d, "{} > {d}", i.worst);
    }

    /// A sigmoid on [−6, 6] with a 4,097-entry direct table (frac 8): a few hundred knots are as
    /// accurate on few elements, and no knots are chosen when the elements are many.
    #[test]
    fn sigmoid_interpolates_on_few_elements_only() {
        let t = direct(Func::Sigmoid, 8, 6.0, 13);
        let k = choose(
            Interpolation::Auto,
            &Func::Sigmoid,
            4,
            (13, Domain::symmetric(6.0)),
            pre(&t, 13),
            13,
        )
        .expect("knots for 4 elements");
        assert!(k.e < 8 && 2 * (2 * k.k + 1) < 1000, "{k:?}");
        let d = direct_error(&Func::Sigmoid, 13, pre(&t, 13), Domain::symmetric(6.0))
            .unwrap()
            .worst;
        let i = interp_error(
            &Func::Sigmoid,
            13,
            k,
            13,
            Domain::symmetric(6.0),
            f64::INFINITY,
        )
        .unwrap()
        .worst;
        assert!(i <= d && d < 1e-3, "interpolated {i} vs direct {d}");
        // One knot coarser is less accurate than the direct table (the coarsest that is not).
        let coarser = Knots::over(&Func::Sigmoid, k.e - 1, 6.0);
        assert!(
            interp_error(
                &Func::Sigmoid,
                13,
                coarser,
                13,
                Domain::symmetric(6.0),
                f64::INFINITY
            )
            .unwrap()
            .worst
                > d
        );
        assert_eq!(
            interp_error(&Func::Sigmoid, 13, coarser, 13, Domain::symmetric(6.0), d),
            None
        );
        assert_eq!(
            choose(
                Interpolation::Auto,
                &Func::Sigmoid,
                1000,
                (13, Domain::symmetric(6.0)),
                pre(&t, 13),
                13
            ),
            None
        );
        // Preferred, the same knots whatever the elements; never, none.
        assert_eq!(
            choose(
                Interpolation::Prefer,
                &Func::Sigmoid,
                1000,
                (13, Domain::symmetric(6.0)),
                pre(&t, 13),
                13
            ),
            Some(k)
        );
        assert_eq!(
            choose(
                Interpolation::Never,
                &Func::Sigmoid,
                4,
                (13, Domain::symmetric(6.0)),
                pre(&t, 13),
                13
            ),
            None
        );
    }

    /// `Finer` knots reach a quarter of the direct table's error, whatever the elements, and
    /// are the coarsest that do; they are finer than `auto`'s.
    #[test]
    fn finer_knots_reach_a_quarter_of_the_direct_error() {
        let t = direct(Func::Tanh, 9, 4.0, 13);
        let d = direct_error(&Func::Tanh, 13, pre(&t, 13), Domain::symmetric(4.0))
            .unwrap()
            .worst;
        let k = choose(
            Interpolation::Finer,
            &Func::Tanh,
            100_000,
            (13, Domain::symmetric(4.0)),
            pre(&t, 13),
            13,
        )
        .expect("finer knots");
        let i = interp_error(
            &Func::Tanh,
            13,
            k,
            13,
            Domain::symmetric(4.0),
            f64::INFINITY,
        )
        .unwrap()
        .worst;
        assert!(i <= d / 4.0, "finer {i} vs direct {d}");
        let coarser = Knots::over(&Func::Tanh, k.e - 1, 4.0);
        assert!(
            interp_error(
                &Func::Tanh,
                13,
                coarser,
                13,
                Domain::symmetric(4.0),
                f64::INFINITY
            )
            .unwrap()
            .worst
                > d / 4.0
        );
        let auto = choose(
            Interpolation::Auto,
            &Func::Tanh,
            4,
            (13, Domain::symmetric(4.0)),
            pre(&t, 13),
            13,
        )
        .unwrap();
        assert!(auto.e < k.e, "auto {auto:?}, finer {k:?}");
    }

    /// A kink the knots cannot follow (HardSwish's at ±3) still gets knots only when they are
    /// as accurate as the direct table; a logarithm none where its inputs reach 0 (or below).
    #[test]
    fn knots_only_where_as_accurate() {
        let t = direct(Func::HardSwish, 8, 6.0, 13);
        if let Some(k) = choose(
            Interpolation::Auto,
            &Func::HardSwish,
            4,
            (13, Domain::symmetric(6.0)),
            pre(&t, 13),
            13,
        ) {
            let d = direct_error(&Func::HardSwish, 13, pre(&t, 13), Domain::symmetric(6.0))
                .unwrap()
                .worst;
            assert!(interp_error(&Func::HardSwish, 13, k, 13, Domain::symmetric(6.0), d).is_some());
        }
        let log = Table {
            f: Func::Log,
            frac: 8,
            out_scale: 13,
            lo: 0,
            size: 4096,
            step: false,
            balanced: false,
            values: Vec::new(),
        };
        assert_eq!(
            choose(
                Interpolation::Auto,
                &Func::Log,
                4,
                (13, Domain::symmetric(16.0)),
                pre(&log, 13),
                13
            ),
            None
        );
    }

    /// A logarithm of inputs in `[0.15, 3]`: its knots start at 0 and are as accurate as the
    /// direct table (12 bits: 10 fractional), which errs most at the bottom of the interval;
    /// finer knots err far less than it, with tables no larger.
    #[test]
    fn a_logarithm_away_from_zero_interpolates_from_zero() {
        let m = 3.0 * 1.25;
        let r = (m * 1024.0f64).ceil() as i64;
        let t = Table {
            f: Func::Log,
            frac: 10,
            out_scale: 13,
            lo: 0,
            size: r as u64 + 1,
            step: false,
            balanced: false,
            values: Vec::new(),
        };
        let dom = Domain::calibrated(m, 0.15, 3.0, 1.25);
        let de = direct_error(&Func::Log, 13, pre(&t, 13), dom).unwrap();
        let (d, dm) = (de.worst, de.mean);
        assert!(d > 2e-3, "direct {d}");
        let k = choose(
            Interpolation::Auto,
            &Func::Log,
            8,
            (13, dom),
            pre(&t, 13),
            13,
        )
        .expect("knots for a logarithm away from 0");
        assert_eq!(k.lo, 0);
        let ke = interp_error(&Func::Log, 13, k, 13, dom, d).expect("as accurate");
        assert!(ke.mean <= dm, "mean {} vs direct {dm}", ke.mean);
        let finer = choose(
            Interpolation::Finer,
            &Func::Log,
            8,
            (13, dom),
            pre(&t, 13),
            13,
        )
        .expect("finer knots");
        let fe = interp_error(&Func::Log, 13, finer, 13, dom, f64::INFINITY)
            .unwrap()
            .worst;
        assert!(fe <= d / 4.0, "finer {fe} vs direct {d}");
        assert!(2 * (finer.k - finer.lo + 1) as u64 <= t.size, "{finer:?}");
    }

    /// A sigmoid of inputs within ±0.28 has its direct table at its input's resolution (13
    /// bits, 4,589 entries): it errs by the output's rounding alone, which knots rounding twice
    /// cannot match. With guard bits they come within an eighth of an output unit of it, from
    /// tables a fraction of its size; none are chosen where the elements' rows would outgrow it.
    #[test]
    fn guard_bits_bring_knots_near_a_table_at_the_inputs_resolution() {
        let t = direct(Func::Sigmoid, 13, 0.28, 13);
        let dom = Domain::symmetric(0.28);
        let d = direct_error(&Func::Sigmoid, 13, pre(&t, 13), dom)
            .unwrap()
            .worst;
        let unit = (-13f64).exp2();
        assert!(d <= 0.5 * unit + 1e-12, "direct {d}");
        // Without guard bits no knots are as accurate, however fine.
        for e in 0..13 {
            let plain = Knots::over(&Func::Sigmoid, e, 0.28);
            assert_eq!(
                interp_error(&Func::Sigmoid, 13, plain, 13, dom, d),
                None,
                "{e}"
            );
        }
        let k = choose(
            Interpolation::Auto,
            &Func::Sigmoid,
            3,
            (13, dom),
            pre(&t, 13),
            13,
        )
        .expect("guarded knots");
        assert_eq!(k.g, GUARD_BITS);
        let i = interp_error(&Func::Sigmoid, 13, k, 13, dom, f64::INFINITY)
            .unwrap()
            .worst;
        assert!(
            i <= GUARD_TOLERANCE * unit,
            "guarded {i} vs {}",
            GUARD_TOLERANCE * unit
        );
        assert!(2 * (k.k - k.lo + 1) < t.size as i64 / 8, "{k:?}");
        assert_eq!(
            choose(
                Interpolation::Auto,
                &Func::Sigmoid,
                300,
                (13, dom),
                pre(&t, 13),
                13
            ),
            None
        );
        // Finer knots are asked for a quarter of the direct error: none can be.
        assert_eq!(
            choose(
                Interpolation::Finer,
                &Func::Sigmoid,
                3,
                (13, dom),
                pre(&t, 13),
                13
            ),
            None
        );
    }

    /// The step table is the difference of consecutive knots of the base table, balanced or
    /// not.
    #[test]
    fn step_table_is_the_knot_difference() {
        for balanced in [false, true] {
            let k = Knots {
                e: 3,
                lo: -40,
                k: 40,
                g: 0,
                balanced,
            };
            let (b, s) = (
                k.table(&Func::Tanh, 13, false),
                k.table(&Func::Tanh, 13, true),
            );
            for x in -40..40 {
                assert_eq!(s.value(x), b.value(x + 1) - b.value(x));
            }
        }
    }

    /// Knots balanced for their curvature err about half as much as chords through `f`, at
    /// the same tables: a tanh on [−4, 4] with knots 1/8 apart, and a logarithm on [0.3, 3]
    /// with knots 1/64 apart (its first two knots, at 0 and 1/64, stay where they were). The
    /// choice keeps them where they are closer; an ELU whose kink at 0 sits on a knot is
    /// measured too (balancing moves the kink's knot, and the choice takes whichever errs less).
    #[test]
    fn balanced_knots_halve_the_chords_error() {
        let cases = [
            (Func::Tanh, 3, Domain::symmetric(4.0)),
            (Func::Log, 6, Domain::calibrated(3.0, 0.3, 3.0, 1.0)),
        ];
        for (f, e, dom) in &cases {
            let (e, dom) = (*e, *dom);
            let plain = Knots::over_domain(f, e, dom);
            let bal = Knots {
                balanced: true,
                ..plain
            };
            let err = |k| interp_error(f, 16, k, 16, dom, f64::INFINITY).unwrap();
            let (p, b) = (err(plain), err(bal));
            assert!(b.worst < 0.6 * p.worst, "{f:?}: {b:?} vs {p:?}");
            assert!(b.mean < p.mean, "{f:?}: {b:?} vs {p:?}");
            assert_eq!(balanced(f, 16, plain, 16, dom), bal);
        }
        let elu = &Func::Elu { alpha: 3.0 };
        let dom = Domain::symmetric(2.0);
        let plain = Knots::over_domain(elu, 3, dom);
        let chosen = balanced(elu, 16, plain, 16, dom);
        let err = |k| interp_error(elu, 16, k, 16, dom, f64::INFINITY).unwrap();
        let other = Knots {
            balanced: !chosen.balanced,
            ..chosen
        };
        assert!(err(chosen).worst <= err(other).worst);
    }
}
