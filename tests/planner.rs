//! The planner's heuristics leave no speed on the table: on every shared model, the plan it
//! chooses costs at most 10 % more (by its own cost model) than the best plan of an exhaustive
//! search over a wider space than it tries — every packing `A × T` with `A, T ∈ {1, 2, 4, 8}`
//! and every packing the planner tries (`layout::PACKINGS`), every lane count from 1 to 8,
//! every limb width — and the lean layout's plans. (Over `A, T ∈ {1, 2, 3, 4, 6, 8, 12}` the
//! cost model finds cheaper plans: mobilenet_block at 4×3 by 11 %, mlp_wide at 8×12 and k = 13
//! by 29 %; not yet measured, so not yet in the planner's list.)

mod common;

use zkonnx::circuits::layout::{lean_candidates, pooled_plans, LIMB_BITS, PACKINGS};
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
    let sizes = [1usize, 2, 4, 8];
    let mut packings: Vec<(usize, usize)> = sizes
        .iter()
        .flat_map(|&a| sizes.iter().map(move |&t| (a, t)))
        .collect();
    packings.extend(
        PACKINGS
            .iter()
            .filter(|p| !packings.contains(p))
            .collect::<Vec<_>>(),
    );
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
        let mut best = lean_candidates(&c.model, vis);
        for &(a, t) in &packings {
            for limb in LIMB_BITS {
                best.extend(pooled_plans(&c.model, vis, (a, t), limb, &lanes));
            }
        }
        let best = best
            .into_iter()
            .min_by(|p, q| p.cost.total_cmp(&q.cost))
            .expect("a plan");
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
