//! The planner's proving cost: the work a halo2-KZG prover does for a shape, counted as the
//! roofline counts it (DESIGN.md §4, `zkonnx_prover::roofline`), timed with reference timings
//! per `k` that are constants, so that a plan does not depend on the machine that made it.
//!
//! Per proof the prover commits every advice column (an MSM of small signed values), three
//! polynomials per lookup and the permutation's grand products (MSMs of full-size scalars);
//! brings each committed column to coefficients (an FFT of `2^k`) and to the extended domain
//! (`2^e` parts of `2^k`, side by side); re-extends every fixed and permutation column, which
//! halo2-axiom's key holds as coefficients; brings the quotient back (one FFT of `2^(k+e)`),
//! commits its `d − 1` pieces and opens (about two MSMs). [`prove_cost`] is those counts times
//! [`REFERENCE`]'s timings at the shape's `k`.
//!
//! *Why not a column model (stop 45):* `committed_area` weighed every committed column alike
//! and a doubling of rows as a doubling of cost. A lookup costs the prover ~7 advice columns (three
//! full-scalar MSMs, FFTs and extensions against one small-scalar MSM), and an MSM of `2^(k+1)`
//! costs ~1.8× one of `2^k`. It chose a `k = 13` plan of five lanes for lstm_forecaster over a
//! `k = 14` plan of two (measured 18 % slower) and, with a per-`k` discount, a `k = 16` plan for
//! dcgan_generator over `k = 15` (24 % slower); these counts rank all of them as measured.

use crate::shape::{CircuitShape, LEAN_DEGREE, POOLED_DEGREE};

/// What the prover does for a shape, in operations at its `k` ([`work`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// log2 of the rows.
    pub k: u32,
    /// log2 of the extended domain over the rows.
    pub extension_bits: u32,
    /// MSMs of `2^k` small signed scalars (advice columns).
    pub small_msms: usize,
    /// MSMs of `2^k` full-size scalars (lookups' polynomials, permutation products, the
    /// quotient's pieces, the openings).
    pub full_msms: usize,
    /// FFTs of `2^k` (committed columns and instances to coefficients).
    pub ffts: usize,
    /// Polynomials brought to the extended domain, `2^e` parts each (committed columns and
    /// instances), and the quotient brought back from it (one FFT of the extended domain).
    pub extended: usize,
    /// Fixed and permutation polynomials (and three Lagrange ones) halo2-axiom re-extends on
    /// every proof.
    pub rederived: usize,
}

/// The column counts of a shape's constraint system that the prover's work follows, from the
/// shape alone (`zkonnx_prover::roofline` reads the same counts from the configured constraint
/// system, and a test there checks that they agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// The constraint system's degree (at least 3).
    pub degree: usize,
    /// Fixed columns and selectors, before selector compression.
    pub fixed: usize,
    /// Advice columns.
    pub advice: usize,
    /// Instance columns.
    pub instance: usize,
    /// Lookup arguments.
    pub lookups: usize,
    /// Columns in the permutation argument.
    pub perm_cols: usize,
}

impl Columns {
    /// The counts of `shape`.
    pub fn of(shape: &CircuitShape) -> Self {
        Self {
            degree: if shape.lean.is_some() {
                LEAN_DEGREE
            } else {
                POOLED_DEGREE
            },
            // `fixed_columns` is the fitted verifier models' input (`layout::estimate_vk_bytes`)
            // and leaves out three of the prover's polynomials: the ReLU selector, the private
            // rescale's selector, and a clamp's bound column and selector.
            fixed: shape.fixed_columns()
                + usize::from(shape.lean.is_none())
                + usize::from(shape.lean.is_none() && shape.visibility.params_in_advice())
                + 2 * usize::from(shape.clamps && shape.lean.is_none()),
            advice: shape.advice_columns(),
            instance: shape.instance_columns,
            lookups: shape.lookups(),
            perm_cols: shape.equality_columns(),
        }
    }

    /// Permutation grand products (`degree − 2` columns each).
    pub fn perm_products(&self) -> usize {
        self.perm_cols.div_ceil(self.degree.max(3) - 2)
    }

    /// log2 of the extended domain over the rows: `⌈log2(degree − 1)⌉`.
    pub fn extension_bits(&self) -> u32 {
        usize::BITS - (self.degree.max(3) - 2).leading_zeros()
    }

    /// The prover's operations at `2^k` rows.
    pub fn work(&self, k: u32) -> Work {
        let committed = self.advice + 3 * self.lookups + self.perm_products();
        Work {
            k,
            extension_bits: self.extension_bits(),
            small_msms: self.advice,
            // The quotient's `d − 1` pieces; the openings (SHPLONK) cost about two more MSMs.
            full_msms: 3 * self.lookups + self.perm_products() + (self.degree.max(3) - 1) + 2,
            ffts: committed + self.instance,
            extended: committed + self.instance + 1,
            rederived: self.fixed + self.perm_cols + 3,
        }
    }
}

/// The prover's operations for `shape`.
pub fn work(shape: &CircuitShape) -> Work {
    Columns::of(shape).work(shape.k)
}

/// One operation of each kind at one `k`, seconds ([`REFERENCE`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reference {
    /// log2 of the rows.
    pub k: u32,
    /// An MSM of `2^k` full-size scalars.
    pub msm_s: f64,
    /// An MSM of `2^k` small signed scalars.
    pub small_msm_s: f64,
    /// An FFT of `2^k`.
    pub fft_s: f64,
    /// One polynomial brought to one part of the extended domain, side by side.
    pub part_s: f64,
    /// An FFT of `2^(k+2)` (the quotient's inverse).
    pub extended_fft_s: f64,
}

/// Reference timings per `k`: `zkonnx_prover::roofline::Timings::at` on the 2-core
/// development machine (stop 45), the fastest of three runs of
/// `cargo test --release -p zkonnx-prover reference_timings -- --ignored --nocapture`, each
/// raised to the row above's where a small size timed faster (thread start-up dominates FFTs
/// below `2^10`). Above the last `k` each operation doubles per `k`.
pub const REFERENCE: &[Reference] = &[
    r(4, 5.628e-04, 6.916e-05, 1.940e-04, 3.151e-05, 1.807e-04),
    r(5, 8.358e-04, 1.126e-04, 1.940e-04, 3.862e-05, 2.364e-04),
    r(6, 9.521e-04, 1.620e-04, 1.985e-04, 4.889e-05, 2.415e-04),
    r(7, 1.495e-03, 2.598e-04, 2.140e-04, 6.406e-05, 4.068e-04),
    r(8, 2.716e-03, 6.001e-04, 2.454e-04, 9.904e-05, 6.394e-04),
    r(9, 4.351e-03, 7.619e-04, 2.454e-04, 1.556e-04, 1.266e-03),
    r(10, 7.620e-03, 1.228e-03, 3.294e-04, 2.611e-04, 2.197e-03),
    r(11, 1.393e-02, 1.228e-03, 5.287e-04, 4.585e-04, 4.240e-03),
    r(12, 2.455e-02, 2.394e-03, 1.204e-03, 9.088e-04, 9.067e-03),
    r(13, 3.052e-02, 4.690e-03, 2.165e-03, 1.858e-03, 1.828e-02),
    r(14, 5.673e-02, 8.387e-03, 3.829e-03, 3.840e-03, 3.699e-02),
    r(15, 1.014e-01, 1.557e-02, 7.957e-03, 8.110e-03, 8.185e-02),
    r(16, 1.896e-01, 2.989e-02, 1.629e-02, 1.714e-02, 1.752e-01),
    r(17, 3.546e-01, 5.800e-02, 3.364e-02, 3.794e-02, 3.683e-01),
    r(18, 6.583e-01, 1.172e-01, 7.380e-02, 7.738e-02, 7.685e-01),
];

/// A row of [`REFERENCE`]: `k`, then the MSM, small MSM, FFT, part and extended FFT, seconds.
const fn r(
    k: u32,
    msm_s: f64,
    small_msm_s: f64,
    fft_s: f64,
    part_s: f64,
    extended_fft_s: f64,
) -> Reference {
    Reference {
        k,
        msm_s,
        small_msm_s,
        fft_s,
        part_s,
        extended_fft_s,
    }
}

/// The reference timings at `k` (below the table its first row, above it the last doubled per
/// `k`).
pub fn reference(k: u32) -> Reference {
    let first = REFERENCE[0];
    let last = REFERENCE[REFERENCE.len() - 1];
    if let Some(r) = REFERENCE.iter().find(|r| r.k == k) {
        return *r;
    }
    if k < first.k {
        return first;
    }
    let f = (1u64 << (k - last.k).min(40)) as f64;
    Reference {
        k,
        msm_s: last.msm_s * f,
        small_msm_s: last.small_msm_s * f,
        fft_s: last.fft_s * f,
        part_s: last.part_s * f,
        extended_fft_s: last.extended_fft_s * f,
    }
}

/// The seconds [`Work`] takes with `t`'s timings: the roofline's floor plus halo2-axiom's
/// re-extension of fixed and permutation columns, and [`POLYNOMIAL_S`] for each polynomial. An extension is `2^e` parts or one FFT of the
/// extended domain, the cheaper; the quotient's inverse is one FFT of the extended domain.
pub fn seconds(w: &Work, t: &Reference) -> f64 {
    let parts = (1u64 << w.extension_bits) as f64;
    // The reference's extended FFT is of `2^(k+2)`; another extension scales with its size.
    let extended_fft_s = t.extended_fft_s * parts / 4.0;
    let extension_s = extended_fft_s.min(parts * t.part_s);
    w.full_msms as f64 * t.msm_s
        + w.small_msms as f64 * t.small_msm_s
        + w.ffts as f64 * t.fft_s
        + w.extended.saturating_sub(1) as f64 * extension_s
        + extended_fft_s
        + w.rederived as f64 * parts * t.part_s
        + (w.ffts + w.rederived) as f64 * POLYNOMIAL_S
}

/// What each polynomial the prover handles costs it whatever its length, seconds: its
/// evaluations and its share of the openings, allocations and thread start-ups. Fitted to
/// mlp_digits' proofs at two plans (stop 32, median of seven each): 21 advice columns, five
/// lanes and 118 polynomials at `k = 7` took 0.14 s, 7 columns, one lane and 41 polynomials at
/// `k = 9` 0.10 s, where the counts alone give 0.086 and 0.088 s. From `k = 13` on it is under
/// 3 % of a column's cost.
pub const POLYNOMIAL_S: f64 = 5.0e-4;

/// The planner's proving cost of `shape`: [`seconds`] of its [`work`] at the [`REFERENCE`]
/// timings, in whole microseconds (an integer, so that a plan stored in `compiled.json` equals
/// its replanned self after the JSON round trip).
pub fn prove_cost(shape: &CircuitShape) -> f64 {
    (seconds(&work(shape), &reference(shape.k)) * 1e6).round()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape((a, t): (usize, usize), lanes: usize, k: u32) -> CircuitShape {
        CircuitShape {
            inputs_per_row: t,
            accs_per_row: a,
            windows_per_row: 1,
            limb_bits: 7,
            max_limbs: 3,
            range_lanes: lanes,
            k,
            arith: true,
            functions: false,
            constants: false,
            dot_products: false,
            clamps: false,
            visibility: Default::default(),
            lean: None,
            instance_columns: 1,
        }
    }

    /// No operation takes less time at a larger `k` (a plan at a larger `k` costs more for the
    /// same columns), and beyond the table each keeps doubling.
    #[test]
    fn the_reference_grows_with_k() {
        for k in 4..24 {
            let (a, b) = (reference(k), reference(k + 1));
            assert!(b.msm_s > a.msm_s && b.small_msm_s >= a.small_msm_s, "{k}");
            assert!(b.fft_s >= a.fft_s && b.part_s > a.part_s, "{k}");
            assert!(b.extended_fft_s > a.extended_fft_s, "{k}");
            assert!(prove_cost(&shape((2, 3), 2, k + 1)) > prove_cost(&shape((2, 3), 2, k)));
        }
        assert!(REFERENCE.windows(2).all(|w| w[1].k == w[0].k + 1));
    }

    /// A lookup costs the prover several advice columns (three full-scalar commitments and
    /// extensions), so at one `k` a lane more costs more than two advice columns more.
    #[test]
    fn a_lane_costs_more_than_two_advice_columns() {
        let base = shape((2, 3), 2, 14);
        let lane = CircuitShape {
            range_lanes: 3,
            ..base
        };
        let wider = CircuitShape {
            inputs_per_row: 5,
            ..base
        };
        assert_eq!(lane.advice_columns(), wider.advice_columns());
        assert_eq!(lane.lookups(), base.lookups() + 1);
        assert!(prove_cost(&lane) > prove_cost(&wider));
    }

    /// A column costs the prover more than its rows: a plan of three times the columns at a
    /// quarter of the rows costs more than the narrow one (mlp_digits measured 0.14 s against
    /// 0.10 s, stop 32), while at a large `k` rows rule.
    #[test]
    fn many_columns_at_a_small_k_cost_more_than_few_at_a_larger_one() {
        let narrow = shape((2, 3), 1, 9);
        let wide = shape((4, 7), 5, 7);
        assert!(
            wide.advice_columns() + wide.fixed_columns()
                > 3 * (narrow.advice_columns() + narrow.fixed_columns())
        );
        assert!(prove_cost(&wide) > prove_cost(&narrow));
        let big = |k| prove_cost(&shape((2, 3), 1, k));
        assert!(big(18) > 1.9 * big(17));
        assert!(big(8) < big(9) && 2.0 * big(8) > big(9));
    }

    /// The cost is whole microseconds, and the counts follow the shape.
    #[test]
    fn the_cost_is_an_integer_and_counts_follow_the_shape() {
        let s = shape((4, 4), 3, 15);
        let c = prove_cost(&s);
        assert!(c > 0.0 && c.fract() == 0.0);
        let w = work(&s);
        assert_eq!(w.small_msms, s.advice_columns());
        assert_eq!(w.extension_bits, 2);
        assert_eq!(
            w.full_msms,
            3 * 3 + s.equality_columns().div_ceil(3) + 4 + 2
        );
        assert!(w.rederived > s.fixed_columns());
    }
}
