//! Criterion benches of the prover's primitives at 2^12 … 2^18: one MSM (full-size and small
//! scalars) and one FFT, the two operations the roofline (`zkonnx_prover::roofline`) counts.
//! `cargo bench --bench primitives`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use zkonnx::halo2_proofs::arithmetic::best_multiexp;
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::halo2_proofs::halo2curves::group::ff::Field;
use zkonnx::halo2_proofs::poly::EvaluationDomain;

fn msm_and_fft(c: &mut Criterion) {
    let mut group = c.benchmark_group("primitives");
    group.sample_size(10);
    for k in [12u32, 14, 16, 18] {
        let n = 1usize << k;
        let mut rng = ChaCha20Rng::seed_from_u64(k.into());
        let full: Vec<Fr> = (0..n).map(|_| Fr::random(&mut rng)).collect();
        let small: Vec<Fr> = (0..n).map(|_| Fr::from(rng.next_u64())).collect();
        let bases = zkonnx::prover::roofline::bases(n);
        group.bench_with_input(BenchmarkId::new("msm_full", k), &k, |b, _| {
            b.iter(|| best_multiexp(&full, &bases))
        });
        group.bench_with_input(BenchmarkId::new("msm_small", k), &k, |b, _| {
            b.iter(|| best_multiexp(&small, &bases))
        });
        let domain = EvaluationDomain::<Fr>::new(4, k);
        let mut lagrange = domain.empty_lagrange();
        for (v, s) in lagrange.iter_mut().zip(&full) {
            *v = *s;
        }
        group.bench_with_input(BenchmarkId::new("fft", k), &k, |b, _| {
            b.iter(|| domain.lagrange_to_coeff(lagrange.clone()))
        });
        let coeff = domain.lagrange_to_coeff(lagrange.clone());
        group.bench_with_input(BenchmarkId::new("fft_extended_4x", k), &k, |b, _| {
            b.iter(|| domain.coeff_to_extended(&coeff))
        });
    }
    group.finish();
}

criterion_group!(benches, msm_and_fft);
criterion_main!(benches);
