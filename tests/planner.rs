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

/// A shared model compiled on its input for proving speed, with visibility `vis`.
fn compiled(dir: &std::path::Path, name: &str, vis: Visibility) -> zkonnx::CompiledModel {
    let (model, x) = common::load_with_input(dir, name);
    model
        .compile_planned(
            std::slice::from_ref(&x),
            QuantSettings::default(),
            vis,
            Objective::Prove,
        )
        .unwrap_or_else(|e| panic!("{name}: compile: {e}"))
}

#[test]
fn the_chosen_plan_is_within_ten_percent_of_an_exhaustive_search() {
    let dir = common::shared_models();
    // Every packing of the planner's space, windows per row included.
    let packings: Vec<(usize, usize, usize)> = zkonnx::circuits::layout::packings().collect();
    let lanes: Vec<usize> = (1..=8).collect();
    for name in SHARED {
        let vis = Visibility::default();
        let c = compiled(&dir, name, vis);
        // The cheapest plan, kept as the search goes (all of them at once would hold every
        // layer's figures 3,584 times over).
        let cheaper = |b: Option<LayoutPlan>, p: LayoutPlan| match b {
            Some(b) if b.cost <= p.cost => Some(b),
            _ => Some(p),
        };
        let mut best = lean_candidates(&c.model, vis)
            .into_iter()
            .fold(None, cheaper);
        for &packing in &packings {
            for limb in LIMB_BITS {
                best = pooled_plans(&c.model, vis, packing, limb, &lanes)
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

/// The planner keeps only the plans on the frontier of proving cost and gas while it searches;
/// its choice for every objective must be the one a search holding every candidate makes: the
/// least by the objective's key (proving cost then gas, or gas then cost among plans within
/// the objective's slowdown of the fastest), among the deployable plans, the first of equals.
#[test]
fn each_objective_chooses_what_a_search_over_every_candidate_chooses() {
    use zkonnx::circuits::layout::{candidates, frontier, plan, plan_at};
    let dir = common::shared_models();
    for name in SHARED {
        let vis = Visibility::default();
        let c = compiled(&dir, name, vis);
        let all = candidates(&c.model, vis);
        let any_fits = all.iter().any(|p| deployable(&p.shape));
        let pool: Vec<&LayoutPlan> = all
            .iter()
            .filter(|p| !any_fits || deployable(&p.shape))
            .collect();
        let fastest = pool.iter().map(|p| p.cost).fold(f64::INFINITY, f64::min);
        for objective in [Objective::Prove, Objective::Gas, Objective::Balanced] {
            let key = |p: &LayoutPlan| match objective {
                Objective::Prove => (p.cost, p.est_verify_gas as f64),
                Objective::Gas | Objective::Balanced => (p.est_verify_gas as f64, p.cost),
            };
            let want = pool
                .iter()
                .filter(|p| p.cost <= objective.max_slowdown() * fastest)
                .copied()
                .reduce(|b, p| if key(p) < key(b) { p } else { b })
                .expect("a plan");
            let got = plan(&c.model, vis, objective);
            assert_eq!(
                (got.shape, got.cost, got.est_verify_gas),
                (want.shape, want.cost, want.est_verify_gas),
                "{name} {objective}"
            );
            // What a compiled plan is checked against on load: the same plan, layers included.
            assert_eq!(
                plan_at(&c.model, &got).as_ref(),
                Some(&got),
                "{name} {objective}"
            );
        }
        // The frontier: by rising cost, falling gas, and no candidate below it on both.
        let f = frontier(&c.model, vis);
        assert!(f
            .windows(2)
            .all(|w| w[0].cost < w[1].cost && w[0].est_verify_gas > w[1].est_verify_gas));
        for q in &f {
            assert_eq!(
                plan_at(&c.model, q).as_ref(),
                Some(q),
                "{name}: {}",
                q.shape.describe()
            );
        }
        for p in &pool {
            assert!(
                f.iter()
                    .any(|q| q.cost <= p.cost && q.est_verify_gas <= p.est_verify_gas),
                "{name}: {} (cost {}, gas {}) lies below the frontier",
                p.shape.describe(),
                p.cost,
                p.est_verify_gas
            );
        }
    }
}
