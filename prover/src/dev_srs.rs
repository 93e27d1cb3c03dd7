//! A development SRS computed fast: the points of halo2's `ParamsKZG::setup` for the same
//! secret, with fixed-base tables of the generator instead of a generic scalar multiplication
//! per point.

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine, G1};
use halo2_proofs::halo2curves::ff::{Field, PrimeField};
use halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_proofs::halo2curves::group::{Curve, Group};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rayon::prelude::*;

/// Points per rayon task.
const CHUNK: usize = 1 << 12;

/// `d·2^(8w)·G` for every byte `d` and window `w`: a scalar's multiple of `G` is then 32 mixed
/// additions.
struct FixedBase {
    table: Vec<[G1Affine; 256]>,
}

impl FixedBase {
    fn generator() -> Self {
        let mut base = G1::generator();
        let mut table = Vec::with_capacity(32);
        for _ in 0..32 {
            let mut proj = vec![G1::identity(); 256];
            for d in 1..256 {
                proj[d] = proj[d - 1] + base;
            }
            let mut row = [G1Affine::identity(); 256];
            G1::batch_normalize(&proj, &mut row);
            table.push(row);
            base = proj[255] + base;
        }
        Self { table }
    }

    fn mul(&self, s: &Fr) -> G1 {
        let repr = s.to_repr();
        let mut acc = G1::identity();
        for (w, &d) in repr.as_ref().iter().enumerate() {
            if d != 0 {
                acc += self.table[w][usize::from(d)];
            }
        }
        acc
    }

    /// The multiples of `G` by `scalars`, in affine form.
    fn mul_all(&self, scalars: &[Fr]) -> Vec<G1Affine> {
        let mut out = vec![G1Affine::identity(); scalars.len()];
        out.par_chunks_mut(CHUNK)
            .zip(scalars.par_chunks(CHUNK))
            .for_each(|(o, s)| {
                let proj: Vec<G1> = s.iter().map(|x| self.mul(x)).collect();
                G1::batch_normalize(&proj, o);
            });
        out
    }
}

/// Inverts every element (none may be zero) with one field inversion per chunk.
fn batch_invert(v: &mut [Fr]) {
    v.par_chunks_mut(CHUNK).for_each(|c| {
        let mut prefix = Vec::with_capacity(c.len());
        let mut acc = Fr::ONE;
        for x in c.iter() {
            prefix.push(acc);
            acc *= x;
        }
        let mut inv = acc.invert().unwrap_or(Fr::ZERO);
        for (x, p) in c.iter_mut().zip(prefix).rev() {
            let next = inv * *x;
            *x = inv * p;
            inv = next;
        }
    });
}

/// The powers `x^0 .. x^(n−1)`.
fn powers(x: Fr, n: usize) -> Vec<Fr> {
    let mut out = vec![Fr::ZERO; n];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| {
        let mut p = x.pow_vartime([(i * CHUNK) as u64]);
        for v in c.iter_mut() {
            *v = p;
            p *= x;
        }
    });
    out
}

/// The SRS of `2^k` points for the secret halo2's `ParamsKZG::setup(k, rng)` draws from
/// `ChaCha20Rng::seed_from_u64(seed)`: the same points, bit for bit.
pub fn dev_params(k: u32, seed: u64) -> ParamsKZG<Bn256> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let s = Fr::random(&mut rng);
    let n = 1usize << k;
    let base = FixedBase::generator();
    // g_i = s^i·G.
    let g = base.mul_all(&powers(s, n));
    // Lagrange basis: L_i(s)·G with L_i(s) = ω^i·(s^n − 1)/(n·(s − ω^i)).
    let mut omega = Fr::ROOT_OF_UNITY;
    for _ in k..Fr::S {
        omega = omega.square();
    }
    let roots = powers(omega, n);
    let mut den: Vec<Fr> = roots.par_iter().map(|w| s - w).collect();
    batch_invert(&mut den);
    let n_inv = Fr::from(n as u64).invert().unwrap_or(Fr::ZERO);
    let multiplier = (s.pow_vartime([n as u64]) - Fr::ONE) * n_inv;
    let lag: Vec<Fr> = roots
        .par_iter()
        .zip(den.par_iter())
        .map(|(w, d)| multiplier * w * d)
        .collect();
    let g_lagrange = base.mul_all(&lag);
    let g2 = G2Affine::generator();
    let s_g2 = (g2 * s).to_affine();
    ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::seed_from_u64(0)).from_parts(
        k,
        g,
        Some(g_lagrange),
        g2,
        s_g2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::poly::commitment::{Params, ParamsProver};
    use halo2_proofs::SerdeFormat;

    #[test]
    fn the_same_points_as_halo2_setup() {
        for (k, seed) in [(1, 0), (4, 3), (7, 42)] {
            let fast = dev_params(k, seed);
            let slow = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::seed_from_u64(seed));
            assert_eq!(fast.k(), slow.k());
            assert_eq!(fast.get_g(), slow.get_g(), "g, k={k}");
            // Every point, the Lagrange basis included, as the file format writes them.
            let bytes = |p: &ParamsKZG<Bn256>| {
                let mut v = Vec::new();
                p.write_custom(&mut v, SerdeFormat::RawBytes)
                    .expect("write");
                v
            };
            assert_eq!(bytes(&fast), bytes(&slow), "k={k}");
        }
    }
}
