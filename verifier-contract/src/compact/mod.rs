//! A compact Solidity verifier: one fixed contract for every circuit, with everything
//! circuit-specific in a verifying-key blob deployed as a data contract.
//!
//! The verifier checks exactly what snark-verifier's verifier checks (SHPLONK over KZG with
//! the Keccak EVM transcript): we take snark-verifier's [`PlonkProtocol`] of the circuit and
//! lower it to data — preprocessed commitments, the transcript's shape, the quotient
//! numerator as a stack [`program::Program`] and the static structure of the multi-opening
//! (query sets). [`native::verify`] is the reference implementation of the contract's
//! algorithm over that data; `contracts/CompactVerifier.sol` is the same in the EVM.
//!
//! [`PlonkProtocol`]: snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkProtocol

pub mod blob;
pub mod contract;
pub mod native;
pub mod program;

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine};
use halo2_proofs::halo2curves::ff::{Field, PrimeField};
use halo2_proofs::plonk::VerifyingKey;
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::Deserialize;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile, Config};

use crate::error::{EvmError, Result};
use program::{Compiler, Expr, Program, Query};

/// Where a polynomial's commitment comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commitment {
    /// A fixed or permutation commitment of the verifying key.
    Preprocessed(usize),
    /// The `i`-th witness commitment read from the proof (all phases in order).
    Witness(usize),
    /// The quotient: the proof's chunks combined with powers of `z^n`.
    Quotient,
}

/// One polynomial of a query set and the evaluation slot of each of the set's points.
#[derive(Debug, Clone)]
pub struct SetPoly {
    /// Its commitment.
    pub commitment: Commitment,
    /// Evaluation slot for each shift of the set, in the set's order.
    pub evals: Vec<usize>,
}

/// Polynomials opened at the same rotations (SHPLONK's sets, in snark-verifier's order).
#[derive(Debug, Clone)]
pub struct QuerySet {
    /// `ω^r` for each rotation `r` of the set.
    pub shifts: Vec<Fr>,
    /// `Π_{i≠j} (ω^{r_j} − ω^{r_i})` for each shift `j`.
    pub ell: Vec<Fr>,
    /// The set's polynomials.
    pub polys: Vec<SetPoly>,
}

/// Everything the compact verifier needs about one circuit.
///
/// Evaluation slots: slots `0..C` are the `C` instance columns' evaluations at `z` (computed
/// from the public inputs), the next `num_evals` the proof's evaluations, and the last slot
/// the quotient's evaluation (computed from the numerator).
#[derive(Debug, Clone)]
pub struct CompactVk {
    /// log2 of the domain size.
    pub k: u32,
    /// Generator of the domain.
    pub omega: Fr,
    /// `1/n`.
    pub n_inv: Fr,
    /// The transcript's first absorbed scalar (halo2's verifying-key digest).
    pub transcript_init: Fr,
    /// Values in each instance column: the public instances fill the columns one after the
    /// other (snark-verifier's order), so column `c` starts at the sum of the lengths before.
    pub instance_columns: Vec<usize>,
    /// Per phase: witness commitments read, then challenges squeezed.
    pub phases: Vec<(usize, usize)>,
    /// Evaluations in the proof.
    pub num_evals: usize,
    /// Quotient chunks in the proof.
    pub quotient_chunks: usize,
    /// Fixed and permutation commitments.
    pub preprocessed: Vec<G1Affine>,
    /// `ω^i` for each Lagrange polynomial the numerator uses.
    pub lagranges: Vec<Fr>,
    /// The quotient numerator.
    pub program: Program,
    /// SHPLONK query sets.
    pub sets: Vec<QuerySet>,
    /// `[1]₁`.
    pub g1: G1Affine,
    /// `[1]₂`.
    pub g2: G2Affine,
    /// `[s]₂`.
    pub s_g2: G2Affine,
    /// Where a KZG accumulator starts among the instances, if the circuit carries one (an
    /// aggregation circuit): [`ACCUMULATOR_LIMBS`] limbs of [`ACCUMULATOR_BITS`] bits, little
    /// end first, for `lhs.x, lhs.y, rhs.x, rhs.y`. The verifier then also checks
    /// `e(lhs, [1]₂) = e(rhs, [s]₂)`, folded into the proof's own pairing by a random `r`.
    pub accumulator: Option<usize>,
}

/// Limbs of one accumulator coordinate (snark-verifier-sdk's encoding: 3).
pub const COORDINATE_LIMBS: usize = snark_verifier_sdk::LIMBS;
/// Bits per accumulator limb (snark-verifier-sdk's encoding: 88; the contract assumes it).
pub const ACCUMULATOR_BITS: usize = snark_verifier_sdk::BITS;
/// Instances an accumulator takes: two points, two coordinates each.
pub const ACCUMULATOR_LIMBS: usize = 4 * COORDINATE_LIMBS;

#[derive(Deserialize)]
struct Quotient {
    chunk_degree: usize,
    numerator: Expr,
}

/// The parts of snark-verifier's protocol we use, read through its serde form (the
/// expression type is not public in snark-verifier).
#[derive(Deserialize)]
struct Protocol {
    num_instance: Vec<usize>,
    num_witness: Vec<usize>,
    num_challenge: Vec<usize>,
    evaluations: Vec<Query>,
    queries: Vec<Query>,
    quotient: Quotient,
    transcript_initial_state: Option<String>,
    instance_committing_key: Option<serde_json::Value>,
    linearization: Option<serde_json::Value>,
    accumulator_indices: Vec<serde_json::Value>,
}

/// A scalar from snark-verifier's serde form (hex of the little-endian representation).
pub(crate) fn scalar_from_hex(s: &str) -> Result<Fr> {
    let bytes = hex::decode(s).map_err(|e| EvmError::Format(format!("bad scalar {s}: {e}")))?;
    let repr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| EvmError::Format(format!("bad scalar length: {s}")))?;
    Option::from(Fr::from_repr(repr))
        .ok_or_else(|| EvmError::Format(format!("scalar out of range: {s}")))
}

fn unsupported(what: &str) -> EvmError {
    EvmError::Format(format!("the compact verifier does not support {what}"))
}

/// `ω^r` for a possibly negative rotation.
fn rotate(omega: Fr, n: u64, r: i32) -> Fr {
    let e = if r >= 0 { r as u64 } else { n - (-r) as u64 };
    omega.pow_vartime([e])
}

impl CompactVk {
    /// Lowers a verifying key whose instance columns hold `instance_columns[c]` values each.
    pub fn new(
        params: &ParamsKZG<Bn256>,
        vk: &VerifyingKey<G1Affine>,
        instance_columns: &[usize],
    ) -> Result<Self> {
        Self::lower(params, vk, instance_columns, None)
    }

    /// Lowers the verifying key of a circuit whose instances `offset..offset + 12` are a KZG
    /// accumulator (snark-verifier's limb encoding), which the verifier then decides too.
    pub fn with_accumulator(
        params: &ParamsKZG<Bn256>,
        vk: &VerifyingKey<G1Affine>,
        instance_columns: &[usize],
        offset: usize,
    ) -> Result<Self> {
        let num_instance: usize = instance_columns.iter().sum();
        if offset
            .checked_add(ACCUMULATOR_LIMBS)
            .is_none_or(|end| end > num_instance)
        {
            return Err(EvmError::Format(format!(
                "an accumulator at instance {offset} does not fit {num_instance} instances"
            )));
        }
        Self::lower(params, vk, instance_columns, Some(offset))
    }

    fn lower(
        params: &ParamsKZG<Bn256>,
        vk: &VerifyingKey<G1Affine>,
        instance_columns: &[usize],
        accumulator: Option<usize>,
    ) -> Result<Self> {
        let columns = instance_columns.len();
        if columns != vk.cs().num_instance_columns() || columns == 0 {
            return Err(EvmError::Format(format!(
                "{columns} instance column lengths for a key with {} instance columns",
                vk.cs().num_instance_columns()
            )));
        }
        let protocol = compile(
            params,
            vk,
            Config::kzg().with_num_instance(instance_columns.to_vec()),
        );
        let json = serde_json::to_value(&protocol)
            .map_err(|e| EvmError::Format(format!("cannot read the protocol: {e}")))?;
        let p: Protocol = serde_json::from_value(json)
            .map_err(|e| EvmError::Format(format!("cannot read the protocol: {e}")))?;
        if p.instance_committing_key.is_some() || p.linearization.is_some() {
            return Err(unsupported("committed instances or linearization"));
        }
        if !p.accumulator_indices.is_empty() {
            return Err(unsupported("accumulators in instances"));
        }
        if p.num_instance != instance_columns {
            return Err(EvmError::Format(format!(
                "the protocol has instance columns of {:?} values, not {instance_columns:?}",
                p.num_instance
            )));
        }
        if p.quotient.chunk_degree != 1 {
            return Err(unsupported("a quotient chunk degree other than 1"));
        }
        let preprocessed: Vec<G1Affine> = vk
            .fixed_commitments()
            .iter()
            .chain(vk.permutation().commitments().iter())
            .copied()
            .collect();
        let k = params.k();
        let n = 1u64 << k;
        let omega = vk.get_domain().get_omega();
        let n_inv = Fr::from(n)
            .invert()
            .into_option()
            .ok_or_else(|| EvmError::Format("domain size not invertible".into()))?;
        let transcript_init = p
            .transcript_initial_state
            .as_deref()
            .map(scalar_from_hex)
            .transpose()?
            .unwrap_or(Fr::ZERO);

        // Evaluation slots: the instance columns (polynomials `instance_poly..` in
        // snark-verifier's numbering, after the preprocessed ones), the proof's, the quotient.
        let num_witness: usize = p.num_witness.iter().sum();
        let instance_poly = preprocessed.len();
        let instances = instance_poly..instance_poly + columns;
        let quotient_poly = instances.end + num_witness;
        let quotient_slot = columns + p.evaluations.len();
        let mut slot_of: HashMap<Query, usize> = HashMap::new();
        for (slot, poly) in instances.clone().enumerate() {
            slot_of.insert(Query { poly, rotation: 0 }, slot);
        }
        for (i, q) in p.evaluations.iter().enumerate() {
            slot_of.insert(*q, columns + i);
        }
        slot_of.insert(
            Query {
                poly: quotient_poly,
                rotation: 0,
            },
            quotient_slot,
        );

        // Lagrange table of the numerator (the instance's own are computed in a loop).
        let mut used = BTreeSet::new();
        let mut instance_rotations = BTreeSet::new();
        collect(
            &p.quotient.numerator,
            &instances,
            &mut used,
            &mut instance_rotations,
        );
        if instance_rotations.iter().any(|&r| r != 0) {
            return Err(unsupported("instance queries at a rotation other than 0"));
        }
        let lagrange_of: HashMap<i32, usize> =
            used.iter().enumerate().map(|(i, &r)| (r, i)).collect();
        let lagranges = used.iter().map(|&r| rotate(omega, n, r)).collect();

        let table = program::Table {
            slots: columns + 1 + p.evaluations.len(),
            challenges: p.num_challenge.iter().sum(),
            lagranges: used.len(),
            temps: 0,
        };
        let mut compiler = Compiler::new(&slot_of, &lagrange_of, table, &p.quotient.numerator);
        compiler.compile(&p.quotient.numerator)?;
        let program = compiler.program;
        let quotient_chunks = p.quotient_chunks();

        let sets = query_sets(&p.queries, &slot_of)?
            .into_iter()
            .map(|(rotations, polys)| {
                let shifts: Vec<Fr> = rotations.iter().map(|&r| rotate(omega, n, r)).collect();
                let ell = (0..shifts.len())
                    .map(|j| {
                        (0..shifts.len())
                            .filter(|&i| i != j)
                            .fold(Fr::ONE, |acc, i| acc * (shifts[j] - shifts[i]))
                    })
                    .collect();
                let polys = polys
                    .into_iter()
                    .map(|(poly, evals)| {
                        let commitment = if poly < preprocessed.len() {
                            Commitment::Preprocessed(poly)
                        } else if poly == quotient_poly {
                            Commitment::Quotient
                        } else if poly >= instances.end && poly < quotient_poly {
                            Commitment::Witness(poly - instances.end)
                        } else {
                            return Err(unsupported("opening the instance column"));
                        };
                        Ok(SetPoly { commitment, evals })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(QuerySet { shifts, ell, polys })
            })
            .collect::<Result<Vec<_>>>()?;

        Ok(Self {
            k,
            omega,
            n_inv,
            transcript_init,
            instance_columns: instance_columns.to_vec(),
            phases: p
                .num_witness
                .iter()
                .copied()
                .zip(p.num_challenge.iter().copied())
                .collect(),
            num_evals: p.evaluations.len(),
            quotient_chunks,
            preprocessed,
            lagranges,
            program,
            sets,
            g1: params.get_g()[0],
            g2: params.g2(),
            s_g2: params.s_g2(),
            accumulator,
        })
    }

    /// ω⁻¹, the step of the instance evaluation (`z·ω^{−i}`).
    pub fn omega_inv(&self) -> Fr {
        self.omega.invert().unwrap_or(Fr::ZERO)
    }

    /// Number of public instances, over all instance columns.
    pub fn num_instance(&self) -> usize {
        self.instance_columns.iter().sum()
    }

    /// Total challenges squeezed over the phases.
    pub fn num_challenges(&self) -> usize {
        self.phases.iter().map(|p| p.1).sum()
    }

    /// Total witness commitments over the phases.
    pub fn num_witnesses(&self) -> usize {
        self.phases.iter().map(|p| p.0).sum()
    }

    /// Byte length of a proof for this circuit.
    pub fn proof_len(&self) -> usize {
        64 * (self.num_witnesses() + self.quotient_chunks + 2) + 32 * self.num_evals
    }
}

impl Protocol {
    /// Chunks of the quotient: `ceil((degree − 1) / chunk_degree)` as snark-verifier has it.
    fn quotient_chunks(&self) -> usize {
        fn degree(e: &Expr) -> usize {
            match e {
                Expr::Constant(_) | Expr::Challenge(_) => 0,
                Expr::CommonPolynomial(_) | Expr::Polynomial(_) => 1,
                Expr::Negated(a) | Expr::Scaled(a, _) => degree(a),
                Expr::Sum(a, b) => degree(a).max(degree(b)),
                Expr::Product(a, b) => degree(a) + degree(b),
                Expr::DistributePowers(v, s) => v.iter().map(degree).max().unwrap_or(0) + degree(s),
            }
        }
        let d = degree(&self.quotient.numerator).saturating_sub(1);
        d.div_ceil(self.quotient.chunk_degree)
    }
}

/// Collects the Lagrange indices and the instance columns' rotations used by `e`.
fn collect(e: &Expr, instances: &Range<usize>, lag: &mut BTreeSet<i32>, inst: &mut BTreeSet<i32>) {
    match e {
        Expr::CommonPolynomial(program::CommonPoly::Lagrange(i)) => {
            lag.insert(*i);
        }
        Expr::Polynomial(q) if instances.contains(&q.poly) => {
            inst.insert(q.rotation);
        }
        Expr::Negated(a) | Expr::Scaled(a, _) => collect(a, instances, lag, inst),
        Expr::Sum(a, b) | Expr::Product(a, b) => {
            collect(a, instances, lag, inst);
            collect(b, instances, lag, inst);
        }
        Expr::DistributePowers(v, s) => {
            for x in v {
                collect(x, instances, lag, inst);
            }
            collect(s, instances, lag, inst);
        }
        _ => {}
    }
}

type RawSet = (Vec<i32>, Vec<(usize, Vec<usize>)>);

/// Groups queries into SHPLONK sets in snark-verifier's order: polynomials in order of first
/// query, each with its rotations; polynomials with the same rotation set share a set, whose
/// rotation order is that of its first polynomial.
fn query_sets(queries: &[Query], slot_of: &HashMap<Query, usize>) -> Result<Vec<RawSet>> {
    let mut poly_shifts: Vec<(usize, Vec<i32>)> = Vec::new();
    for q in queries {
        match poly_shifts.iter_mut().find(|(p, _)| *p == q.poly) {
            Some((_, shifts)) => {
                if !shifts.contains(&q.rotation) {
                    shifts.push(q.rotation);
                }
            }
            None => poly_shifts.push((q.poly, vec![q.rotation])),
        }
    }
    let mut sets: Vec<RawSet> = Vec::new();
    for (poly, shifts) in poly_shifts {
        let key: BTreeSet<i32> = shifts.iter().copied().collect();
        let pos = sets
            .iter()
            .position(|(s, _)| s.iter().copied().collect::<BTreeSet<_>>() == key);
        let pos = match pos {
            Some(pos) => pos,
            None => {
                sets.push((shifts.clone(), Vec::new()));
                sets.len() - 1
            }
        };
        let (set_shifts, polys) = &mut sets[pos];
        if polys.iter().any(|(p, _)| *p == poly) {
            continue;
        }
        let evals = set_shifts
            .iter()
            .map(|&rotation| {
                slot_of
                    .get(&Query { poly, rotation })
                    .copied()
                    .ok_or_else(|| {
                        EvmError::Format(format!(
                            "no evaluation of polynomial {poly} at rotation {rotation}"
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        polys.push((poly, evals));
    }
    Ok(sets)
}
