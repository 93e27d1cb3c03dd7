//! Commitments to columns of small signed integers at the cost of their magnitude.
//!
//! A quantized model's columns hold small integers, about half of them negative: weights in
//! fixed columns, accumulators, inputs and remainders in advice columns. In the field a
//! negative `−v` is `p − v`, a full 254-bit scalar, and halo2-axiom's multi-scalar
//! multiplication (Pippenger with ~26 windows of 10 bits at 2^14 rows) pays for every window
//! of every scalar, and for each window's bucket sum even when the window is empty. Here a
//! column whose values are small integers of either sign (at most one in 8 larger: blinding
//! rows) is committed by a bucket method sized for its largest magnitude, signs folded into the
//! digits (`Σ vᵢ·Lᵢ = Σ |vᵢ|·(±Lᵢ)`), and its few large values by halo2-axiom's MSM. It is
//! the same point, so keys and proofs are byte-identical to halo2-axiom's own; only the time
//! changes: mlp_wide's 64 weight columns went from ~70 ms to ~6 ms each, its key generation
//! from 3.8 to 2.3 s; lenet's 10 advice columns from ~620 to ~200 ms a proof.
//!
//! halo2-axiom's key generation and prover take the commitment scheme as a type parameter, so
//! the change is a scheme, [`SignedKzg`], whose parameters ([`SignedParams`]) wrap the SRS and
//! commit this way, and whose multi-opening prover is halo2-axiom's SHPLONK on the wrapped SRS.
//! Proofs are verified with halo2-axiom's `KZGCommitmentScheme` as before.

use std::io;
use std::marker::PhantomData;

use halo2_proofs::arithmetic::best_multiexp;
use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine, G1};
use halo2_proofs::halo2curves::ff::PrimeField;
use halo2_proofs::halo2curves::group::Group;
use halo2_proofs::halo2curves::serde::SerdeObject;
use halo2_proofs::poly::commitment::{Blind, CommitmentScheme, Params, ParamsProver, Prover};
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::msm::MSMKZG;
use halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
use halo2_proofs::poly::{Coeff, LagrangeCoeff, Polynomial, ProverQuery};
use halo2_proofs::transcript::{EncodedChallenge, TranscriptWrite};
use halo2_proofs::SerdeFormat;
use rand_core::RngCore;
use rayon::prelude::*;

/// The SRS, borrowed (key generation and proving) or owned (when halo2-axiom makes or reads
/// one through this type, which zkonnx never asks it to).
#[derive(Debug, Clone)]
enum Srs<'p> {
    Borrowed(&'p ParamsKZG<Bn256>),
    Owned(Box<ParamsKZG<Bn256>>),
}

/// KZG parameters that commit columns of small signed values cheaply (see the module's doc).
#[derive(Debug, Clone)]
pub struct SignedParams<'p> {
    srs: Srs<'p>,
    /// The SRS's Lagrange basis (halo2-axiom keeps its own private).
    lagrange: Vec<G1Affine>,
}

impl<'p> SignedParams<'p> {
    /// Wraps an SRS (copies its Lagrange basis: 64 bytes a row).
    pub fn new(srs: &'p ParamsKZG<Bn256>) -> Self {
        Self {
            lagrange: lagrange_basis(srs),
            srs: Srs::Borrowed(srs),
        }
    }

    /// The wrapped SRS.
    pub fn kzg(&self) -> &ParamsKZG<Bn256> {
        match &self.srs {
            Srs::Borrowed(p) => p,
            Srs::Owned(p) => p,
        }
    }

    fn owned(p: ParamsKZG<Bn256>) -> Self {
        Self {
            lagrange: lagrange_basis(&p),
            srs: Srs::Owned(Box::new(p)),
        }
    }
}

/// The Lagrange basis of an SRS, read from halo2-axiom's own serialisation of it (the powers
/// `g`, then the Lagrange points, then two G2 points) as it is written, without a copy of the
/// whole.
fn lagrange_basis(srs: &ParamsKZG<Bn256>) -> Vec<G1Affine> {
    /// Keeps the bytes `[from, from + 64·n)` of what is written, as points.
    struct Sink {
        at: usize,
        from: usize,
        n: usize,
        point: Vec<u8>,
        out: Vec<G1Affine>,
    }
    impl io::Write for Sink {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            // The part of `data` at or after `from`, while points are still wanted.
            let skip = self.from.saturating_sub(self.at).min(data.len());
            self.at += data.len();
            let mut rest = &data[skip..];
            while !rest.is_empty() && self.out.len() < self.n {
                let take = (POINT_BYTES - self.point.len()).min(rest.len());
                self.point.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if self.point.len() == POINT_BYTES {
                    // The SRS in memory was checked when it was read.
                    self.out
                        .push(G1Affine::from_raw_bytes_unchecked(&self.point));
                    self.point.clear();
                }
            }
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    const POINT_BYTES: usize = 64;
    let n = srs.n() as usize;
    // The layout below needs `g` to have the basis' length (an SRS made by `from_parts` may
    // carry more powers): otherwise no copy, and commitments fall back to halo2-axiom's.
    if srs.get_g().len() != n {
        return Vec::new();
    }
    let mut sink = Sink {
        at: 0,
        from: 4 + n * POINT_BYTES,
        n,
        point: Vec::with_capacity(POINT_BYTES),
        out: Vec::with_capacity(n),
    };
    // Writing into memory cannot fail.
    let _ = srs.write_custom(&mut sink, SerdeFormat::RawBytesUnchecked);
    sink.out
}

/// Values of at most this many bits (in magnitude, either sign) take the small-scalar route.
const SMALL_BITS: u32 = 62;

/// `v` as a signed integer of at most [`SMALL_BITS`] bits: `(magnitude, negative)`.
fn small(v: &Fr) -> Option<(u64, bool)> {
    let low = |x: &Fr| -> Option<u64> {
        let r = x.to_repr();
        let b = r.as_ref();
        if b[8..].iter().any(|&x| x != 0) {
            return None;
        }
        let m = u64::from_le_bytes(b[..8].try_into().ok()?);
        (m >> SMALL_BITS == 0).then_some(m)
    };
    low(v)
        .map(|m| (m, false))
        .or_else(|| low(&-*v).map(|m| (m, true)))
}

/// `Σ vᵢ·Lᵢ`: the small values (most of a quantized model's columns) by [`small_msm`], the
/// others (blinding rows, hashes) by halo2-axiom's MSM; a column of mostly large values
/// (products, σ) by halo2-axiom's MSM alone.
fn commit_small(
    srs: &ParamsKZG<Bn256>,
    lagrange: &[G1Affine],
    poly: &Polynomial<Fr, LagrangeCoeff>,
    r: Blind<Fr>,
) -> G1 {
    if lagrange.len() != poly.len() {
        return srs.commit_lagrange(poly, r);
    }
    // KZG commitments take no blind (halo2-axiom ignores it): blinding is the random rows.
    msm_signed(poly, lagrange).unwrap_or_else(|| srs.commit_lagrange(poly, r))
}

/// `Σ sᵢ·Gᵢ` when at most one scalar in 8 is larger than [`SMALL_BITS`] bits in magnitude
/// (the small ones by [`small_msm`], the others by halo2-axiom's MSM); `None` for scalars
/// mostly large, which halo2-axiom's MSM should take whole. A column of random values (a
/// product, a σ, a hash's limbs) is recognised from a sample.
pub fn msm_signed(scalars: &[Fr], bases: &[G1Affine]) -> Option<G1> {
    let n = scalars.len();
    if bases.len() != n {
        return None;
    }
    let (sampled, sampled_large) = scalars
        .iter()
        .step_by(61)
        .fold((0usize, 0usize), |(a, b), v| {
            (a + 1, b + usize::from(small(v).is_none()))
        });
    if sampled_large * 4 > sampled {
        return None;
    }
    let digits: Vec<Option<(u64, bool)>> = scalars.par_iter().map(small).collect();
    let large: Vec<usize> = (0..n).filter(|&i| digits[i].is_none()).collect();
    if large.len() * 8 > n {
        return None;
    }
    let (ls, lp): (Vec<Fr>, Vec<G1Affine>) = large.iter().map(|&i| (scalars[i], bases[i])).unzip();
    let rest = if ls.is_empty() {
        G1::identity()
    } else {
        best_multiexp(&ls, &lp)
    };
    Some(small_msm(&digits, bases) + rest)
}

/// Pippenger's bucket method for scalars of at most [`SMALL_BITS`] bits with signs: windows of
/// `c` bits in signed digits (`2^(c−1)` buckets a window), `c` chosen for the largest
/// magnitude present, so a column of 8-bit values costs about one mixed addition a non-zero
/// row. Entries that are `None` are skipped. Each rayon thread takes a slice of the rows.
fn small_msm(scalars: &[Option<(u64, bool)>], bases: &[G1Affine]) -> G1 {
    let max = scalars.iter().flatten().map(|s| s.0).max().unwrap_or(0);
    if max == 0 {
        return G1::identity();
    }
    let bits = 64 - max.leading_zeros() as usize;
    let n = scalars.len();
    // Signed digits of `c ≥ 2` bits need one window more than `bits / c` for the last carry
    // (a digit 0 or 1, rarely 1). Cost ≈ the rows' additions in each full window plus each
    // window's bucket sum (2^c additions).
    // Each thread's slice pays its own bucket sums, so `c` is chosen for a slice.
    let chunk = n.div_ceil(rayon::current_num_threads().max(1)).max(1024);
    let rows = chunk.min(n);
    let c = (2..=16usize)
        .min_by_key(|&c| bits.div_ceil(c) * rows + (bits.div_ceil(c) + 1) * (1 << c))
        .unwrap_or(8);
    let windows = bits.div_ceil(c) + 1;
    scalars
        .par_chunks(chunk)
        .zip(bases.par_chunks(chunk))
        .map(|(s, b)| small_msm_serial(s, b, c, windows))
        .reduce(G1::identity, |a, b| a + b)
}

fn small_msm_serial(
    scalars: &[Option<(u64, bool)>],
    bases: &[G1Affine],
    c: usize,
    windows: usize,
) -> G1 {
    let half = 1i64 << (c - 1);
    // Signed digits, `windows` a row, least significant first: d ∈ [−2^(c−1), 2^(c−1)); the
    // last window takes the carry, so `m` ends at 0.
    let mut digits = vec![0i32; scalars.len() * windows];
    for (row, s) in scalars.iter().enumerate() {
        let Some((mut m, neg)) = *s else { continue };
        for w in 0..windows {
            let mut d = (m & ((1u64 << c) - 1)) as i64;
            m >>= c;
            if d >= half {
                d -= 1 << c;
                m += 1;
            }
            digits[row * windows + w] = if neg { -d } else { d } as i32;
        }
    }
    let mut total = G1::identity();
    let mut buckets = vec![G1::identity(); 1 << (c - 1)];
    for w in (0..windows).rev() {
        for _ in 0..c {
            total = total.double();
        }
        buckets.iter_mut().for_each(|b| *b = G1::identity());
        for (row, base) in bases.iter().enumerate() {
            let d = digits[row * windows + w];
            if d > 0 {
                buckets[d as usize - 1] += base;
            } else if d < 0 {
                buckets[(-d) as usize - 1] -= base;
            }
        }
        // Σ j·bucket_j as running sums.
        let mut running = G1::identity();
        let mut sum = G1::identity();
        for b in buckets.iter().rev() {
            running += b;
            sum += running;
        }
        total += sum;
    }
    total
}

impl<'params, 'p> Params<'params, G1Affine> for SignedParams<'p> {
    type MSM = MSMKZG<Bn256>;

    fn k(&self) -> u32 {
        self.kzg().k()
    }

    fn n(&self) -> u64 {
        self.kzg().n()
    }

    fn downsize(&mut self, k: u32) {
        let mut p = self.kzg().clone();
        p.downsize(k);
        *self = Self::owned(p);
    }

    fn empty_msm(&'params self) -> MSMKZG<Bn256> {
        MSMKZG::new()
    }

    fn commit_lagrange(&self, poly: &Polynomial<Fr, LagrangeCoeff>, r: Blind<Fr>) -> G1 {
        commit_small(self.kzg(), &self.lagrange, poly, r)
    }

    fn write<W: io::Write>(&self, writer: &mut W) -> io::Result<()> {
        self.kzg().write(writer)
    }

    fn read<R: io::Read>(reader: &mut R) -> io::Result<Self> {
        ParamsKZG::<Bn256>::read(reader).map(Self::owned)
    }
}

impl<'params, 'p> ParamsProver<'params, G1Affine> for SignedParams<'p> {
    type ParamsVerifier = ParamsKZG<Bn256>;

    fn new(k: u32) -> Self {
        Self::owned(<ParamsKZG<Bn256> as ParamsProver<G1Affine>>::new(k))
    }

    fn commit(&self, poly: &Polynomial<Fr, Coeff>, r: Blind<Fr>) -> G1 {
        // Polynomials in coefficient form (the quotient's pieces, the openings) are random.
        self.kzg().commit(poly, r)
    }

    fn get_g(&self) -> &[G1Affine] {
        self.kzg().get_g()
    }

    fn verifier_params(&'params self) -> &'params ParamsKZG<Bn256> {
        self.kzg()
    }
}

/// KZG on BN254 with [`SignedParams`]: halo2-axiom's `KZGCommitmentScheme<Bn256>` with cheaper
/// commitments to small signed columns; its proofs and keys are that scheme's.
#[derive(Debug)]
pub struct SignedKzg<'p>(PhantomData<&'p ()>);

impl<'p> CommitmentScheme for SignedKzg<'p> {
    type Scalar = Fr;
    type Curve = G1Affine;
    type ParamsProver = SignedParams<'p>;
    type ParamsVerifier = ParamsKZG<Bn256>;

    fn new_params(k: u32) -> SignedParams<'p> {
        <SignedParams<'p> as ParamsProver<G1Affine>>::new(k)
    }

    fn read_params<R: io::Read>(reader: &mut R) -> io::Result<SignedParams<'p>> {
        <SignedParams<'p> as Params<G1Affine>>::read(reader)
    }
}

/// halo2-axiom's SHPLONK multi-opening prover over the SRS a [`SignedParams`] wraps.
#[derive(Debug)]
pub struct SignedShplonk<'params>(ProverSHPLONK<'params, Bn256>);

impl<'params, 'p> Prover<'params, SignedKzg<'p>> for SignedShplonk<'params> {
    const QUERY_INSTANCE: bool = <ProverSHPLONK<'params, Bn256> as Prover<
        'params,
        KZGCommitmentScheme<Bn256>,
    >>::QUERY_INSTANCE;

    fn new(params: &'params SignedParams<'p>) -> Self {
        Self(<ProverSHPLONK<'params, Bn256> as Prover<
            'params,
            KZGCommitmentScheme<Bn256>,
        >>::new(params.kzg()))
    }

    fn create_proof<'com, E, T, R, I>(
        &self,
        rng: R,
        transcript: &mut T,
        queries: I,
    ) -> io::Result<()>
    where
        E: EncodedChallenge<G1Affine>,
        T: TranscriptWrite<G1Affine, E>,
        I: IntoIterator<Item = ProverQuery<'com, G1Affine>> + Clone,
        R: RngCore,
    {
        <ProverSHPLONK<'params, Bn256> as Prover<'params, KZGCommitmentScheme<Bn256>>>::create_proof(
            &self.0, rng, transcript, queries,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::arithmetic::Field;
    use halo2_proofs::halo2curves::group::Curve;
    use halo2_proofs::poly::EvaluationDomain;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn srs(k: u32) -> ParamsKZG<Bn256> {
        ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::seed_from_u64(7))
    }

    fn column(k: u32, f: impl Fn(u64) -> Fr) -> Polynomial<Fr, LagrangeCoeff> {
        EvaluationDomain::<Fr>::new(1, k).lagrange_from_vec((0..1u64 << k).map(f).collect())
    }

    #[test]
    fn small_values_are_recognised_with_their_sign_and_nothing_else() {
        assert_eq!(small(&-Fr::from(5)), Some((5, true)));
        assert_eq!(small(&Fr::from(5)), Some((5, false)));
        assert_eq!(small(&Fr::ZERO), Some((0, false)));
        let limit = Fr::from(1u64 << SMALL_BITS);
        assert_eq!(small(&limit), None, "2^62 is not small");
        assert_eq!(small(&-limit), None);
        assert_eq!(
            small(&-(limit - Fr::ONE)),
            Some(((1 << SMALL_BITS) - 1, true))
        );
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let random: Vec<Fr> = (0..64).map(|_| Fr::random(&mut rng)).collect();
        assert!(random.iter().all(|r| small(r).is_none()));
    }

    #[test]
    fn the_lagrange_basis_is_the_srss() {
        let p = srs(5);
        let basis = lagrange_basis(&p);
        assert_eq!(basis.len(), 32);
        for i in [0usize, 1, 17, 31] {
            let mut e = vec![Fr::ZERO; 32];
            e[i] = Fr::ONE;
            let e = EvaluationDomain::<Fr>::new(1, 5).lagrange_from_vec(e);
            assert_eq!(
                p.commit_lagrange(&e, Blind::default()).to_affine(),
                basis[i]
            );
        }
    }

    /// Every kind of column commits to the point halo2-axiom's own commitment gives: signed
    /// small values, only positive ones, random ones, a mix with random (blinding) rows.
    #[test]
    fn commitments_equal_halo2_axioms() {
        let k = 8;
        let p = srs(k);
        let signed = SignedParams::new(&p);
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let randoms: Vec<Fr> = (0..1 << k).map(|_| Fr::random(&mut rng)).collect();
        let columns = [
            column(k, |i| Fr::from(i * 37 % 1001) - Fr::from(500)),
            column(k, |i| Fr::from(i % 7)),
            column(k, |i| randoms[i as usize]),
            column(k, |i| {
                if i >= 250 {
                    randoms[i as usize]
                } else {
                    -Fr::from(i * i)
                }
            }),
            column(k, |i| -Fr::from_u128(u128::MAX - i as u128)),
            column(k, |i| {
                let v = Fr::from((1u64 << 61) + i);
                if i % 3 == 0 {
                    v
                } else {
                    -v
                }
            }),
            column(k, |i| {
                if i % 2 == 0 {
                    -Fr::from((1u64 << 62) - 1 - i)
                } else {
                    Fr::from((1u64 << 62) - 1 - i)
                }
            }),
            column(k, |_| Fr::ZERO),
            column(k, |i| if i == 9 { -Fr::ONE } else { Fr::ZERO }),
        ];
        for (i, c) in columns.iter().enumerate() {
            assert_eq!(
                signed.commit_lagrange(c, Blind::default()).to_affine(),
                p.commit_lagrange(c, Blind::default()).to_affine(),
                "column {i}"
            );
        }
    }

    /// The small-scalar MSM against halo2-axiom's, for every magnitude from 1 to 62 bits with
    /// random signs and zeros, over more rows than one thread's slice.
    #[test]
    fn small_msm_equals_halo2_axioms_msm() {
        let k = 11;
        let p = srs(k);
        let basis = lagrange_basis(&p);
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        for bits in [1u32, 2, 5, 8, 9, 13, 24, 40, 61, 62] {
            let scalars: Vec<Option<(u64, bool)>> = (0..1usize << k)
                .map(|i| {
                    let m = if i % 5 == 0 {
                        0
                    } else {
                        rng.next_u64() >> (64 - bits)
                    };
                    Some((m, rng.next_u32() % 2 == 0))
                })
                .collect();
            let field: Vec<Fr> = scalars
                .iter()
                .map(|s| match s {
                    Some((m, true)) => -Fr::from(*m),
                    Some((m, false)) => Fr::from(*m),
                    None => Fr::ZERO,
                })
                .collect();
            assert_eq!(
                small_msm(&scalars, &basis).to_affine(),
                best_multiexp(&field, &basis).to_affine(),
                "{bits} bits"
            );
        }
    }
}
