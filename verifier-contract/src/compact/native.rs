//! The compact verifier's algorithm in Rust: the reference the Solidity contract follows
//! step by step (same transcript, same slots, same order of operations).

use halo2_proofs::arithmetic::CurveAffine;
use halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fr, G1Affine, G2Prepared, G1};
use halo2_proofs::halo2curves::ff::{Field, FromUniformBytes, PrimeField};
use halo2_proofs::halo2curves::group::{Curve, Group};
use halo2_proofs::halo2curves::pairing::{MillerLoopResult, MultiMillerLoop};
use sha3::{Digest, Keccak256};

use super::{program, Commitment, CompactVk, ACCUMULATOR_BITS, COORDINATE_LIMBS};

/// The Keccak transcript of snark-verifier's `EvmTranscript`: a buffer that starts with the
/// previous challenge's hash; squeezing hashes it (with a `0x01` byte when nothing was
/// absorbed since) and keeps the hash.
struct Transcript {
    buf: Vec<u8>,
}

impl Transcript {
    fn absorb(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn squeeze(&mut self) -> Fr {
        if self.buf.len() == 32 {
            self.buf.push(1);
        }
        let hash: [u8; 32] = Keccak256::digest(&self.buf).into();
        self.buf = hash.to_vec();
        let mut wide = [0u8; 64];
        for (i, b) in hash.iter().rev().enumerate() {
            wide[i] = *b;
        }
        Fr::from_uniform_bytes(&wide)
    }
}

/// Reads the proof in transcript order.
struct Reader<'a> {
    proof: &'a [u8],
    pos: usize,
}

fn scalar_be(bytes: &[u8]) -> Option<Fr> {
    let mut le: [u8; 32] = bytes.try_into().ok()?;
    le.reverse();
    Fr::from_repr(le).into_option()
}

fn base_be(bytes: &[u8]) -> Option<Fq> {
    let mut le: [u8; 32] = bytes.try_into().ok()?;
    le.reverse();
    Fq::from_repr(le).into_option()
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.proof.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(s)
    }

    fn point(&mut self, t: &mut Transcript) -> Option<G1Affine> {
        let b = self.take(64)?;
        t.absorb(b);
        G1Affine::from_xy(base_be(&b[..32])?, base_be(&b[32..])?).into_option()
    }

    fn scalar(&mut self, t: &mut Transcript) -> Option<Fr> {
        let b = self.take(32)?;
        t.absorb(b);
        scalar_be(b)
    }
}

fn batch_invert(values: &mut [Fr]) -> Option<()> {
    let mut prefix = Vec::with_capacity(values.len());
    let mut acc = Fr::ONE;
    for v in values.iter() {
        prefix.push(acc);
        acc *= v;
    }
    let mut inv = acc.invert().into_option()?;
    for (v, p) in values.iter_mut().zip(prefix).rev() {
        let next = inv * *v;
        *v = inv * p;
        inv = next;
    }
    Some(())
}

/// Verifies a proof against a [`CompactVk`]: `true` iff the compact verifier accepts.
pub fn verify(vk: &CompactVk, instances: &[Fr], proof: &[u8]) -> bool {
    verify_inner(vk, instances, proof).unwrap_or(false)
}

fn verify_inner(vk: &CompactVk, instances: &[Fr], proof: &[u8]) -> Option<bool> {
    if instances.len() != vk.num_instance() || proof.len() != vk.proof_len() {
        return Some(false);
    }
    let mut t = Transcript {
        buf: vk.transcript_init.to_repr().iter().rev().copied().collect(),
    };
    for x in instances {
        t.absorb(&x.to_repr().iter().rev().copied().collect::<Vec<_>>());
    }
    let mut r = Reader { proof, pos: 0 };
    let mut witnesses = Vec::new();
    let mut challenges = Vec::new();
    for &(nw, nc) in &vk.phases {
        for _ in 0..nw {
            witnesses.push(r.point(&mut t)?);
        }
        for _ in 0..nc {
            challenges.push(t.squeeze());
        }
    }
    let chunks = (0..vk.quotient_chunks)
        .map(|_| r.point(&mut t))
        .collect::<Option<Vec<_>>>()?;
    let z = t.squeeze();
    let columns = vk.instance_columns.len();
    let mut evals = vec![Fr::ZERO; columns];
    for _ in 0..vk.num_evals {
        evals.push(r.scalar(&mut t)?);
    }
    let mu = t.squeeze();
    let gamma = t.squeeze();
    let w = r.point(&mut t)?;
    let z_prime = t.squeeze();
    let w_prime = r.point(&mut t)?;

    // Per instance column, Σ_i x_i·ω^i/(z − ω^i) = Σ_i x_i/(z·ω^{−i} − 1) as one fraction
    // (no inversion per instance); the columns take the instances one after the other.
    let omega_inv = vk.omega_inv();
    let mut fractions = Vec::with_capacity(columns);
    let mut rest = instances;
    for &len in &vk.instance_columns {
        let (column, after) = rest.split_at_checked(len)?;
        rest = after;
        let (mut num, mut den, mut u) = (Fr::ZERO, Fr::ONE, z);
        for x in column {
            let b = u - Fr::ONE;
            num = num * b + *x * den;
            den *= b;
            u *= omega_inv;
        }
        fractions.push((num, den));
    }

    // Denominators, inverted together: the numerator's Lagrange table, the instance
    // fractions', z^n − 1, then per set the barycentric denominators and (after the first) z_s.
    let n = 1u64 << vk.k;
    let zn = z.pow_vartime([n]);
    let mut den = Vec::new();
    den.extend(vk.lagranges.iter().map(|w| z - w));
    den.extend(fractions.iter().map(|f| f.1));
    den.push(zn - Fr::ONE);
    let max_t = vk.sets.iter().map(|s| s.shifts.len()).max().unwrap_or(1);
    let mut z_pows = vec![Fr::ONE];
    for _ in 1..max_t {
        let last = *z_pows.last()?;
        z_pows.push(last * z);
    }
    let mut z_s = Vec::new();
    for set in &vk.sets {
        let t_len = set.shifts.len();
        let mut prod = Fr::ONE;
        for (shift, ell) in set.shifts.iter().zip(&set.ell) {
            let d = z_prime - z * shift;
            prod *= d;
            den.push(*ell * z_pows[t_len - 1] * d);
        }
        z_s.push(prod);
    }
    den.extend(z_s.iter().skip(1).copied());
    batch_invert(&mut den)?;

    let nl = vk.lagranges.len();
    let c = (zn - Fr::ONE) * vk.n_inv;
    for (c_at, (num, _)) in fractions.iter().enumerate() {
        evals[c_at] = c * num * den[nl + c_at];
    }
    let zn_minus_one_inv = den[nl + columns];
    let at = nl + columns + 1;
    let mut table = evals.clone();
    table.push(Fr::ZERO); // the quotient's slot, filled below
    table.extend(&challenges);
    table.extend(vk.lagranges.iter().zip(&den).map(|(w, inv)| c * w * inv));
    table.push(z);
    table.resize(table.len() + vk.program.table.temps, Fr::ZERO);
    table.extend(&vk.program.constants);
    let numerator = program::run(&vk.program, &table)?;
    evals.push(numerator * zn_minus_one_inv);

    // SHPLONK: f = Σ_s γ^s Σ_p μ^p (c_s·C_p − r_p·G) − z_{s1}·W, then e(f + z'·W', 1) = e(W', s).
    let mut acc = G1::identity();
    let mut g_scalar = Fr::ZERO;
    let z_s1 = z_s[0];
    let mut gamma_s = Fr::ONE;
    let mut weights_at = at;
    let mut z_s_inv_at = at + vk.sets.iter().map(|s| s.shifts.len()).sum::<usize>();
    for (s, set) in vk.sets.iter().enumerate() {
        let weights = &den[weights_at..weights_at + set.shifts.len()];
        weights_at += set.shifts.len();
        let coeff = if s == 0 {
            Fr::ONE
        } else {
            z_s_inv_at += 1;
            z_s1 * den[z_s_inv_at - 1]
        };
        let mut mu_p = Fr::ONE;
        for poly in &set.polys {
            let scale = gamma_s * mu_p;
            let r_eval: Fr = poly
                .evals
                .iter()
                .zip(weights)
                .map(|(slot, wj)| evals[*slot] * wj)
                .sum();
            g_scalar += scale * z_s1 * r_eval;
            let c = scale * coeff;
            match poly.commitment {
                Commitment::Preprocessed(i) => acc += vk.preprocessed[i] * c,
                Commitment::Witness(i) => acc += witnesses[i] * c,
                Commitment::Quotient => {
                    let mut zn_i = c;
                    for h in &chunks {
                        acc += *h * zn_i;
                        zn_i *= zn;
                    }
                }
            }
            mu_p *= mu;
        }
        gamma_s *= gamma;
    }
    acc += vk.g1 * (-g_scalar);
    acc += w * (-z_s1);
    acc += w_prime * z_prime;
    let mut lhs = acc.to_affine();
    let mut rhs = w_prime;
    if let Some(offset) = vk.accumulator {
        (lhs, rhs) = fold_accumulator(instances.get(offset..)?, lhs, rhs)?;
    }
    let minus_s_g2 = -vk.s_g2;
    let terms = [
        (&lhs, &G2Prepared::from(vk.g2)),
        (&rhs, &G2Prepared::from(minus_s_g2)),
    ];
    Some(bool::from(
        Bn256::multi_miller_loop(&terms)
            .final_exponentiation()
            .is_identity(),
    ))
}

// `CompactVerifier.sol` decodes 3 limbs of 88 bits (the last below 2^80) in assembly.
const _: () = assert!(ACCUMULATOR_BITS == 88 && COORDINATE_LIMBS == 3);

/// One accumulator coordinate from its limbs (little end first): each limb below
/// `2^ACCUMULATOR_BITS` and the value canonical (below q), else `None`.
fn coordinate(limbs: &[Fr]) -> Option<Fq> {
    let mut be = [0u8; 32];
    for (i, l) in limbs.iter().enumerate() {
        let repr = l.to_repr();
        let bytes = repr.as_ref();
        if bytes[ACCUMULATOR_BITS / 8..].iter().any(|&b| b != 0) {
            return None;
        }
        // Limb i holds bits 88·i .. 88·i + 87 (11 bytes).
        for (j, &b) in bytes[..ACCUMULATOR_BITS / 8].iter().enumerate() {
            let at = i * (ACCUMULATOR_BITS / 8) + j;
            if at >= 32 {
                if b != 0 {
                    return None;
                }
                continue;
            }
            be[31 - at] = b;
        }
    }
    base_be(&be)
}

/// An accumulator point: on the curve, or (0, 0) for the identity.
fn accumulator_point(limbs: &[Fr]) -> Option<G1Affine> {
    let x = coordinate(&limbs[..COORDINATE_LIMBS])?;
    let y = coordinate(&limbs[COORDINATE_LIMBS..2 * COORDINATE_LIMBS])?;
    if bool::from(x.is_zero() & y.is_zero()) {
        return Some(G1::identity().to_affine());
    }
    G1Affine::from_xy(x, y).into_option()
}

/// Folds the instances' accumulator `(A, B)` into the proof's pairing pair `(L, R)`:
/// `(L + r·A, R + r·B)` with `r = keccak(L, R, A, B) mod p`, so that one pairing
/// `e(·, [1]₂)·e(·, −[s]₂)` checks both (each false one survives only if `r` hits a root).
fn fold_accumulator(limbs: &[Fr], lhs: G1Affine, rhs: G1Affine) -> Option<(G1Affine, G1Affine)> {
    let limbs = limbs.get(..4 * COORDINATE_LIMBS)?;
    let a = accumulator_point(&limbs[..2 * COORDINATE_LIMBS])?;
    let b = accumulator_point(&limbs[2 * COORDINATE_LIMBS..])?;
    let mut t = Transcript { buf: Vec::new() };
    for p in [&lhs, &rhs, &a, &b] {
        for w in super::blob::g1(p) {
            t.absorb(&w);
        }
    }
    let r = t.squeeze();
    Some((
        (G1::from(lhs) + a * r).to_affine(),
        (G1::from(rhs) + b * r).to_affine(),
    ))
}
