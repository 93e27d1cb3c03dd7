//! The planner's heuristics leave no speed on the table: on every shared model, the plan it
//! chooses costs at most 10 % more (by its own cost model) than the best plan of an exhaustive
//! search over a wider space than it tries — every packing `A × T` with `1 ≤ A, T ≤ 16` (the
//! planner tries `A, T ∈ layout::PACKING_SIZES`, today the same sizes), every lane count from 1
//! to 8 (it tries `layout::RANGE_LANES`, which skips 7), every limb width — and the lean
//! layout's plans; among the plans whose verifying key fits a contract (`layout::deployable`),
//! as the planner's do.

mod common;

use zkonnx::circuits::layout::{deployable, lean_candidates, pooled_plans, LayoutPlan, LIMB_BITS};
use zkonnx::{Objective, QuantSettings, Visibility};

const SHARED: &[&str] = &[
    "lenet",
    "mlp_digits",
    "mlp_wide",
    "tiny_transformer",
    "mobilenet_block",
    "dcgan_generator",
    "tiny_gpt",
    "lstm_forecaster",
    "lgbm_credit",
];

#[test]
fn the_chosen_plan_is_within_ten_percent_of_an_exhaustive_search() {
    let dir = common::shared_models();
    let packings: Vec<(usize, usize)> = (1..=16)
        .flat_map(|a| (1..=16).map(move |t| (a, t)))
        .collect();
    let lanes: Vec<usize> = (1..=8).collect();
    for name in SHARED {
        let (model, x) = common::load_with_input(&dir, name);
        let vis = Visibility::default();
        let c = model
            .compile_planned(
                std::slice::from_ref(&x),
                QuantSettings::default(),
                vis,
                Objective::Prove,
            )
            .unwrap_or_else(|e| panic!("{name}: compile: {e}"));
        // The cheapest plan, kept as the search goes (all of them at once would hold every
        // layer's figures 3,584 times over).
        let cheaper = |b: Option<LayoutPlan>, p: LayoutPlan| match b {
            Some(b) if b.cost <= p.cost => Some(b),
            _ => Some(p),
        };
        let mut best = lean_candidates(&c.model, vis)
            .into_iter()
            .fold(None, cheaper);
        for &(a, t) in &packings {
            for limb in LIMB_BITS {
                best = pooled_plans(&c.model, vis, (a, t), limb, &lanes)
                    .into_iter()
                    .filter(|p| deployable(&p.shape))
                    .fold(best, cheaper);
            }
        }
        let best = best.expect("a plan");
        assert!(
            c.plan.cost <= 1.10 * best.cost,
            "{name}: chosen {} (k={}) costs {:.0}, the exhaustive best {} (k={}) {:.0}",
            c.plan.shape.describe(),
            c.plan.shape.k,
            c.plan.cost,
            best.shape.describe(),
            best.shape.k,
            best.cost
        );
        eprintln!(
            "{name}: chosen {} k={} within {:.1} % of the exhaustive best ({} k={})",
            c.plan.shape.describe(),
            c.plan.shape.k,
            100.0 * (c.plan.cost / best.cost - 1.0),
            best.shape.describe(),
            best.shape.k
        );
    }
}
