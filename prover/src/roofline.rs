//! The cost floor of a circuit on this machine ("roofline", DESIGN.md §4).
//!
//! A halo2-KZG prover must at least, for every committed polynomial (advice columns, three per
//! lookup, the permutation's grand-product chunks, the quotient's pieces and the openings),
//! run one multi-scalar multiplication of size 2^k (advice columns hold small signed witness
//! values, committed at the cost of their magnitude by [`crate::commit`]; the rest full-size
//! field elements); bring every committed column to coefficients (an FFT of
//! size 2^k); extend what it committed and the instances to the extended domain of 2^(k+e)
//! values; and bring the quotient back from it. The floor is those counts times this machine's
//! measured MSM and FFT times; a prover's measured time divided by it says how much is
//! overhead.
//!
//! An extension is timed the cheaper of two ways: one FFT of size 2^(k+e), or `2^e` FFTs of
//! size 2^k on the cosets (the parts of the extended domain), many polynomials side by side, as
//! halo2-axiom's quotient does it. The second is 2–3× cheaper on a 2-core machine (each FFT of
//! 2^k fits the cache, and the threads share no FFT); until stop 33 the floor timed only the
//! first, and so overstated the least work a proof needs (tiny_gpt: 15.5 s where 10.3 s is
//! enough), most at large k. The quotient is timed as one inverse FFT of 2^(k+e).
//!
//! halo2-axiom also brings every fixed and permutation column to the extended domain on each
//! proof (its proving key holds them as coefficients; `evaluate_h` extends them part by part,
//! `2^e` FFTs of size 2^k each). The floor leaves those out, as a prover that kept them
//! extended in its key would; on layouts with many fixed columns (8×8 packing: 64 weight
//! columns) they are most of the measured time above the floor. [`Roofline::rederive_s`]
//! measures that work apart, so that a bench can say how much of a prover's time above the
//! floor is this trade of halo2-axiom's (key memory for time) and how much is left.
//!
//! [`memory_bytes`] estimates the prover's peak memory the same way, from the column counts.

use std::time::Instant;

use halo2_proofs::arithmetic::best_multiexp;
use halo2_proofs::halo2curves::bn256::{Fr, G1Affine, G1};
use halo2_proofs::halo2curves::group::ff::Field;
use halo2_proofs::halo2curves::group::Curve;
use halo2_proofs::plonk::{Circuit, ConstraintSystem};
use halo2_proofs::poly::EvaluationDomain;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use zkonnx_circuits::circuit::ModelCircuit;
pub use zkonnx_circuits::cost::Columns;
use zkonnx_circuits::layout::CircuitShape;

/// Measured prove time over the floor and halo2-axiom's re-extension
/// ([`Roofline::rederive_s`]), typical of zkonnx's circuits on the shared models (1.15–1.35 on
/// a 2-core machine, stop 33; 1.5 on mlp_digits, whose proof takes 0.1 s):
/// [`Roofline::estimate_s`].
pub const MEASURED_OVERHEAD: f64 = 1.25;

/// What the circuit asks of the prover.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// log2 of the rows.
    pub k: u32,
    /// log2 of the extended domain.
    pub extended_k: u32,
    /// Advice columns: MSMs of size 2^k whose scalars are small signed witness values.
    pub small_msms: usize,
    /// MSMs of size 2^k with full-size scalars (lookup and permutation polynomials, the
    /// quotient's pieces, the openings).
    pub full_msms: usize,
    /// FFTs of size 2^k (committed columns to coefficients).
    pub ffts: usize,
    /// Polynomials brought to the extended domain of 2^extended_k values (the committed ones
    /// and the instances), and the quotient brought back from it.
    pub extended_ffts: usize,
    /// Polynomials that do not depend on the witness but that halo2-axiom brings from
    /// coefficients to each part of the extended domain on every proof (fixed columns,
    /// selectors among them, permutation columns and three Lagrange polynomials): not in the
    /// floor.
    #[serde(default)]
    pub rederived: usize,
}

/// This machine's times for one operation of each kind, at a circuit's sizes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Roofline {
    /// The counts.
    pub counts: Counts,
    /// One MSM of 2^k points with full-size scalars, seconds.
    pub msm_s: f64,
    /// One MSM of 2^k points with scalars below 2^64, seconds.
    pub small_msm_s: f64,
    /// One FFT of 2^k, seconds.
    pub fft_s: f64,
    /// One FFT of 2^extended_k, seconds.
    pub extended_fft_s: f64,
    /// One polynomial brought to one part of the extended domain (`2^k` values), as
    /// halo2-axiom's quotient does it: many polynomials side by side, seconds.
    #[serde(default)]
    pub part_s: f64,
    /// The floor: counts × times, seconds (an extension at the cheaper of `extended_fft_s`
    /// and `2^e × part_s`).
    pub floor_s: f64,
    /// halo2-axiom's re-extension of the [`Counts::rederived`] polynomials on every proof:
    /// `rederived × 2^e × part_s`, seconds (beside the floor, not in it).
    #[serde(default)]
    pub rederive_s: f64,
}

impl Roofline {
    /// The estimated prove time: (floor + re-extension) × [`MEASURED_OVERHEAD`], seconds.
    pub fn estimate_s(&self) -> f64 {
        (self.floor_s + self.rederive_s) * MEASURED_OVERHEAD
    }

    /// The timings this floor was computed with (for other plans of the same size).
    pub fn timings(&self) -> Timings {
        Timings {
            k: self.counts.k,
            extended_k: self.counts.extended_k,
            msm_s: self.msm_s,
            small_msm_s: self.small_msm_s,
            fft_s: self.fft_s,
            extended_fft_s: self.extended_fft_s,
            part_s: self.part_s,
        }
    }
}

/// The counts of the circuit of a shape: the planner's ([`zkonnx_circuits::cost::Columns::work`])
/// from the column counts of its configured constraint system.
pub fn counts(shape: CircuitShape) -> Counts {
    let w = columns(shape).work(shape.k);
    Counts {
        k: w.k,
        extended_k: w.k + w.extension_bits,
        small_msms: w.small_msms,
        full_msms: w.full_msms,
        ffts: w.ffts,
        extended_ffts: w.extended,
        rederived: w.rederived,
    }
}

/// The column counts of a shape's configured constraint system, which the prover's work
/// follows (the planner counts them from the shape alone; a test below checks they agree).
pub fn columns(shape: CircuitShape) -> Columns {
    let mut cs = ConstraintSystem::<Fr>::default();
    let _ = ModelCircuit::configure_with_params(&mut cs, shape);
    Columns {
        degree: cs.degree().max(3),
        fixed: cs.num_fixed_columns() + cs.num_selectors(),
        advice: cs.num_advice_columns(),
        instance: cs.num_instance_columns(),
        lookups: cs.lookups().len(),
        perm_cols: cs.permutation().get_columns().len(),
    }
}

/// The prover's peak memory for a shape, estimated from what halo2-axiom holds at its peak
/// (the quotient's evaluation): the proving key (every fixed and permutation column as values
/// and coefficients, three Lagrange selectors), the witness (every advice and instance column,
/// the lookups' permuted columns and products, the permutation products, each as values and
/// coefficients), one part of the extended domain of every column the quotient reads, the
/// quotient's `2^e` parts, and the SRS's points (monomial and Lagrange). Field elements are 32
/// bytes, points 64. The model, its weights and the integer trace are not counted: against the
/// measured peaks of the shared models (`docs/bench-results.md`, 2026-12-02 evening) it is
/// 66–107 % (mobilenet_block 864 vs 854 MB, dcgan_generator 847 vs 841 MB, lenet 185 vs
/// 228 MB); circuits under ~50 MB are dominated by the process's own memory.
pub fn memory_bytes(shape: CircuitShape) -> u64 {
    let c = columns(shape);
    let committed = c.advice + c.instance + 3 * c.lookups + c.perm_products();
    let key = 2 * c.fixed + 2 * c.perm_cols + 3;
    let witness = 2 * committed;
    let quotient_part = c.fixed + c.perm_cols + committed + 3;
    let parts = 1usize << c.extension_bits();
    let srs_points = 2 * 2; // G1 points of 64 bytes, monomial and Lagrange
    let elems = key + witness + quotient_part + parts + srs_points;
    (elems as u64) << shape.k << 5
}

/// `n` distinct points `g, 2g, 3g, …` (any points cost the same to an MSM).
pub fn bases(n: usize) -> Vec<G1Affine> {
    let g = G1::generator();
    let mut acc = g;
    let proj: Vec<G1> = (0..n)
        .map(|_| {
            let p = acc;
            acc += g;
            p
        })
        .collect();
    let mut out = vec![G1Affine::default(); n];
    G1::batch_normalize(&proj, &mut out);
    out
}

/// The fastest of at least [`MIN_RUNS`] runs of `f`, running more (up to [`MAX_RUNS`]) while
/// all of them took less than [`TIME_BUDGET_S`]: on a shared 2-core machine two runs left the
/// floor ±30 % from one bench to the next (an MSM of 2^15 timed at 0.086 and 0.136 s).
fn best_of<T>(mut f: impl FnMut() -> T) -> f64 {
    let mut best = f64::INFINITY;
    let mut spent = 0.0;
    let mut runs = 0;
    while runs < MIN_RUNS || (runs < MAX_RUNS && spent < TIME_BUDGET_S) {
        let t = Instant::now();
        std::hint::black_box(f());
        let s = t.elapsed().as_secs_f64();
        best = best.min(s);
        spent += s;
        runs += 1;
    }
    best
}

/// Fewest runs of each timed operation.
const MIN_RUNS: usize = 3;
/// Most runs of each timed operation.
const MAX_RUNS: usize = 10;
/// Runs go on (up to [`MAX_RUNS`]) until they took this long together, seconds.
const TIME_BUDGET_S: f64 = 0.5;

/// This machine's time for each operation at one size: what a floor multiplies its counts by.
/// It depends only on `k` and the extension, so plans of one size share it ([`Timings::at`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    /// log2 of the rows.
    pub k: u32,
    /// log2 of the extended domain.
    pub extended_k: u32,
    /// One MSM of 2^k points with full-size scalars, seconds.
    pub msm_s: f64,
    /// One MSM of 2^k points with small signed scalars, seconds.
    pub small_msm_s: f64,
    /// One FFT of 2^k, seconds.
    pub fft_s: f64,
    /// One FFT of 2^extended_k, seconds.
    pub extended_fft_s: f64,
    /// One polynomial brought to one part of the extended domain, side by side, seconds.
    pub part_s: f64,
}

impl Timings {
    /// Times each operation at 2^k rows and an extended domain of 2^extended_k.
    pub fn at(k: u32, extended_k: u32) -> Self {
        let n = 1usize << k;
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let scalars: Vec<Fr> = (0..n).map(|_| Fr::random(&mut rng)).collect();
        let bases = bases(n);
        let msm_s = best_of(|| best_multiexp(&scalars, &bases));
        // Witness values: signed, up to ~2^20 (inputs and activations of 8–16 bits,
        // accumulators wider), committed as the prover commits them (`commit::msm_signed`).
        let small: Vec<Fr> = (0..n)
            .map(|_| {
                let v = Fr::from(rng.next_u64() >> 44);
                if rng.next_u32() % 2 == 0 {
                    v
                } else {
                    -v
                }
            })
            .collect();
        let small_msm_s = best_of(|| {
            crate::commit::msm_signed(&small, &bases)
                .unwrap_or_else(|| best_multiexp(&small, &bases))
        });
        let degree = 1 + (1u32 << (extended_k - k)) + 1;
        let domain = EvaluationDomain::<Fr>::new(degree, k);
        let mut lagrange = domain.empty_lagrange();
        for (v, s) in lagrange.iter_mut().zip(&scalars) {
            *v = *s;
        }
        let fft_s = best_of(|| domain.lagrange_to_coeff(lagrange.clone()));
        let coeff = domain.lagrange_to_coeff(lagrange.clone());
        let extended_fft_s = best_of(|| domain.coeff_to_extended(&coeff));
        // As `evaluate_h` does it: polynomials side by side, each cloned and brought to one
        // part; PART_BATCH of them, or fewer at large k (about 256 MB of copies), two per
        // thread at least.
        let batch = ((1usize << 23) >> k).clamp(2 * rayon::current_num_threads(), PART_BATCH);
        let omega = domain.get_extended_omega();
        let part_s = best_of(|| {
            (0..batch)
                .into_par_iter()
                .map(|_| domain.coeff_to_extended_part(coeff.clone(), omega))
                .collect::<Vec<_>>()
        }) / batch as f64;
        Self {
            k,
            extended_k,
            msm_s,
            small_msm_s,
            fft_s,
            extended_fft_s,
            part_s,
        }
    }

    /// The floor of a circuit with these counts (of the same sizes).
    pub fn roofline(&self, c: Counts) -> Roofline {
        debug_assert_eq!((c.k, c.extended_k), (self.k, self.extended_k));
        let parts = (1usize << (c.extended_k - c.k)) as f64;
        let rederive_s = c.rederived as f64 * parts * self.part_s;
        let extension_s = self.extended_fft_s.min(parts * self.part_s);
        let floor_s = c.full_msms as f64 * self.msm_s
            + c.small_msms as f64 * self.small_msm_s
            + c.ffts as f64 * self.fft_s
            + c.extended_ffts.saturating_sub(1) as f64 * extension_s
            + self.extended_fft_s;
        Roofline {
            counts: c,
            msm_s: self.msm_s,
            small_msm_s: self.small_msm_s,
            fft_s: self.fft_s,
            extended_fft_s: self.extended_fft_s,
            part_s: self.part_s,
            floor_s,
            rederive_s,
        }
    }
}

/// Polynomials brought to one part side by side when timing [`Timings::part_s`].
const PART_BATCH: usize = 16;

/// Measures one MSM and the FFTs at the circuit's sizes and returns the floor.
pub fn measure(shape: CircuitShape) -> Roofline {
    let c = counts(shape);
    Timings::at(c.k, c.extended_k).roofline(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_shape() {
        let base = CircuitShape {
            k: 10,
            ..CircuitShape::default()
        };
        let plain = counts(base);
        let with_functions = counts(CircuitShape {
            functions: true,
            ..base
        });
        // Function rows share the range lanes: no advice column and no lookup of their own,
        // but a copy-constrained limb column per lane (a permutation product at most more).
        assert_eq!(with_functions.small_msms, plain.small_msms);
        assert!(with_functions.full_msms <= plain.full_msms + 1);
        assert_eq!(plain.k, 10);
        assert!(plain.extended_k > 10);
        // Memory grows with the columns and doubles with k.
        assert!(
            memory_bytes(CircuitShape {
                functions: true,
                ..base
            }) > memory_bytes(base)
        );
        assert_eq!(
            memory_bytes(CircuitShape { k: 11, ..base }),
            2 * memory_bytes(base)
        );
        let r = measure(CircuitShape { k: 8, ..base });
        assert!(r.msm_s > 0.0 && r.fft_s > 0.0 && r.floor_s >= r.msm_s * r.counts.full_msms as f64);
        // Every fixed column and selector is re-extended on each proof: a shape with more
        // weight columns re-derives more, in the same measured unit.
        let wide = counts(CircuitShape {
            accs_per_row: base.accs_per_row + 2,
            ..base
        });
        assert!(wide.rederived > plain.rederived, "{wide:?} vs {plain:?}");
        assert!(r.part_s > 0.0);
        let parts = (1usize << (r.counts.extended_k - r.counts.k)) as f64;
        let expect = r.counts.rederived as f64 * parts * r.part_s;
        assert!((r.rederive_s - expect).abs() <= 1e-12 * expect.max(1.0));
        // Each extension at the cheaper way, the quotient's inverse at the full size.
        let each = r.extended_fft_s.min(parts * r.part_s);
        let expect = r.counts.full_msms as f64 * r.msm_s
            + r.counts.small_msms as f64 * r.small_msm_s
            + r.counts.ffts as f64 * r.fft_s
            + (r.counts.extended_ffts - 1) as f64 * each
            + r.extended_fft_s;
        assert!((r.floor_s - expect).abs() <= 1e-12 * expect.max(1.0));
        assert!(r.estimate_s() > r.floor_s + r.rederive_s);
        // Another plan of the same size reuses the timings: the same floor from its counts.
        assert_eq!(r.timings().roofline(r.counts), r);
    }

    /// The planner counts each shape's columns from the shape alone; the prover reads them
    /// from the configured constraint system. They must agree, or the planner ranks plans by
    /// work the circuit does not do.
    #[test]
    fn the_planner_counts_the_columns_the_circuit_configures() {
        use zkonnx_circuits::layout::LeanShape;
        use zkonnx_circuits::visibility::{Vis, Visibility};
        let visibilities = [
            Visibility::default(),
            Visibility {
                input: Vis::Hashed,
                params: Vis::Fixed,
                output: Vis::Hashed,
            },
            Visibility {
                input: Vis::Private,
                params: Vis::Private,
                output: Vis::Public,
            },
        ];
        let mut checked = 0;
        for vis in visibilities {
            for (a, t, p) in [
                (1, 1, 1),
                (2, 3, 1),
                (4, 4, 2),
                (8, 8, 1),
                (16, 16, 1),
                (3, 2, 4),
            ] {
                for lanes in [1, 3, 8] {
                    for flags in 0..32u32 {
                        let bit = |i: u32| flags >> i & 1 == 1;
                        let shape = CircuitShape {
                            inputs_per_row: t,
                            accs_per_row: a,
                            windows_per_row: p,
                            limb_bits: 8,
                            max_limbs: 3,
                            range_lanes: lanes,
                            k: 12,
                            arith: bit(0),
                            functions: bit(1),
                            constants: bit(2),
                            dot_products: bit(3),
                            clamps: bit(4),
                            visibility: vis,
                            lean: None,
                            instance_columns: lanes.min(3),
                        };
                        let planned = Columns::of(&shape);
                        assert_eq!(planned, columns(shape), "{shape:?}");
                        checked += 1;
                    }
                }
            }
            for t in [1, 2, 4] {
                let shape = CircuitShape {
                    inputs_per_row: t,
                    accs_per_row: 1,
                    lean: Some(LeanShape { width: 16 }),
                    visibility: vis,
                    k: 12,
                    ..CircuitShape::default()
                };
                if vis.params_in_advice() {
                    continue;
                }
                assert_eq!(Columns::of(&shape), columns(shape), "{shape:?}");
                checked += 1;
            }
        }
        assert!(checked > 1000);
    }

    /// Prints [`zkonnx_circuits::cost::REFERENCE`]'s rows measured on this machine (run on a
    /// quiet machine and paste: the planner's reference timings).
    #[test]
    #[ignore]
    fn reference_timings() {
        for k in 4..=18 {
            let t = Timings::at(k, k + 2);
            println!(
                "    Reference {{ k: {k}, msm_s: {:.4e}, small_msm_s: {:.4e}, fft_s: {:.4e}, part_s: {:.4e}, extended_fft_s: {:.4e} }},",
                t.msm_s, t.small_msm_s, t.fft_s, t.part_s, t.extended_fft_s
            );
        }
    }
}
