//! Tests of the interpolation between knots against the direct table: errors, rows, the
//! choice between them.

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
