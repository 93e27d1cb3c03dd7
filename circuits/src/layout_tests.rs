//! Unit tests of the planner's row accounting ([`super::lane_height`], the range tables'
//! rows, what sets `k`).

use super::lane_height;
use crate::chips::range::RangeConfig;

/// The widths a check puts in its rows' tags are the ones `RangeConfig::assign` writes:
/// full limbs of `L` bits and a top limb of the rest; the table holds `2^t` entries for
/// each width `t` in the set.
#[test]
fn a_checks_limb_widths_and_the_tables_rows() {
    for l in 1..=17u32 {
        for bits in 0..=60u32 {
            let n = RangeConfig::rows(bits, l) as u32;
            let mut want = 0u64;
            for j in 0..n {
                want |= 1 << bits.saturating_sub(j * l).min(l);
            }
            assert_eq!(
                RangeConfig::widths(bits, l),
                want,
                "{bits} bits, {l}-bit limbs"
            );
        }
    }
    assert_eq!(RangeConfig::widths(0, 8), 1);
    assert_eq!(RangeConfig::widths(16, 8), 1 << 8);
    assert_eq!(RangeConfig::widths(13, 8), 1 << 8 | 1 << 5);
    assert_eq!(RangeConfig::table_rows(1 | 1 << 8 | 1 << 5), 1 + 256 + 32);
    assert_eq!(RangeConfig::table_rows((1 << 14) - 1), (1 << 14) - 1);
}

/// The bound the planner sets `k` by holds for the layout's rule (each check to the
/// least-filled lane, the first of equals), whatever the order and sizes of the checks.
#[test]
fn no_lane_passes_the_planned_height() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    for _ in 0..500 {
        let lanes = 1 + next(8);
        let max_limbs = 1 + next(6);
        let mut fill = vec![0usize; lanes];
        let mut total = 0;
        for _ in 0..next(400) {
            let size = 1 + next(max_limbs);
            let l = (0..lanes).min_by_key(|&i| fill[i]).expect("a lane");
            fill[l] += size;
            total += size;
        }
        let highest = fill.iter().copied().max().unwrap_or(0);
        assert!(
            highest <= lane_height(total, lanes, max_limbs),
            "{lanes} lanes, checks of up to {max_limbs} rows: {fill:?}"
        );
    }
}

/// `why_k` names the fullest instance column when it needs more rows than `k − 1` gives and
/// `k − 1` could not hold the public values in more columns (the lean layout has one), the
/// cost model when it could have, and otherwise the resources that need the rows.
#[test]
fn what_sets_k_among_the_public_values() {
    use super::{LayoutPlan, Objective, MAX_INSTANCE_COLUMNS};
    use crate::shape::{CircuitShape, LeanShape};
    let plan = |k: u32, instance_columns: usize, lean: bool| LayoutPlan {
        shape: CircuitShape {
            k,
            instance_columns,
            lean: lean.then_some(LeanShape { width: 8 }),
            ..CircuitShape::default()
        },
        main_rows: 10,
        range_rows: 10,
        func_rows: 0,
        table_rows: 256,
        layers: std::sync::Arc::from([]),
        cost: 0.0,
        est_verify_gas: 0,
        objective: Objective::Prove,
    };
    // Usable rows: 1,013 at k = 10, 2,037 at k = 11, 4,085 at k = 12.
    let (needs, by) = plan(11, 2, false).row_needs(2048);
    assert!(needs.contains(&("instance column", 1024)), "{needs:?}");
    assert_eq!(by, ["instance column"]);
    assert_eq!(
        plan(11, 2, false).why_k(2048),
        "the cost model (k − 1 would take the public values in 3 instance columns, not 2)"
    );
    assert_eq!(plan(11, 1, true).why_k(1500), "instance column");
    let at_most = 1013 * MAX_INSTANCE_COLUMNS;
    assert_eq!(
        plan(11, MAX_INSTANCE_COLUMNS, false).why_k(at_most + 1),
        "instance column"
    );
    assert_eq!(
        plan(12, 1, false).why_k(1500),
        "the smallest k the layout takes"
    );
    assert_eq!(plan(9, 1, false).why_k(10), "table");
    let mut busy = plan(11, 2, false);
    busy.main_rows = 1500;
    assert_eq!(busy.why_k(2048), "main and instance column");
}
