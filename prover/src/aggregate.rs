//! Aggregation: one proof that a chain of segment proofs verifies and that its boundaries link
//! (DESIGN.md §8).
//!
//! The outer circuit is snark-verifier's aggregation circuit: it runs each segment's SHPLONK
//! verifier in-circuit over the Poseidon transcript ([`Transcript::Poseidon`]) and folds the
//! segments' pairing checks into one KZG accumulator (two G1 points, as 4 × 3 limbs of 88
//! bits), which becomes its first 12 public instances. The segments' verifying keys are
//! constants of the outer circuit, so the outer verifying key pins which segment circuits are
//! chained. zkonnx adds two things to it:
//! - **links**: copy constraints between instance cells of different segments (segment i's
//!   output hash = segment i+1's input hash), so a proof from another input, another model or
//!   another order cannot be folded in;
//! - **exposed** instances: the segments' instances the outer proof makes public after the
//!   accumulator (the first segment's input group, the last one's output group, parameter
//!   hashes), in the order given.
//!
//! A verifier of the outer proof checks the proof (Keccak transcript, like every proof a
//! contract checks) and then the accumulator's pairing `e(lhs, g2) = e(rhs, s·g2)`
//! ([`verify`] does both; a halo2 verification alone does not check the segments).

use halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fr, G1Affine};
use halo2_proofs::plonk::{ProvingKey, VerifyingKey};
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use snark_verifier_sdk::halo2::aggregation::{
    AggregationCircuit, AggregationConfigParams, VerifierUniversality,
};
use snark_verifier_sdk::snark_verifier::halo2_base::gates::circuit::CircuitBuilderStage;
use snark_verifier_sdk::snark_verifier::halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use snark_verifier_sdk::snark_verifier::pcs::kzg::{KzgAccumulator, KzgDecidingKey};
use snark_verifier_sdk::snark_verifier::pcs::AccumulationDecider;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile, Config};
use snark_verifier_sdk::snark_verifier::util::arithmetic::fe_from_limbs;
use snark_verifier_sdk::{CircuitExt, Snark, BITS, LIMBS, SHPLONK};

use crate::error::{ProverError, Result};
use crate::proof::{self, Transcript};

/// How many public instances the accumulator takes (two points, two coordinates, `LIMBS`
/// limbs each): the first instances of every aggregated proof.
pub const ACCUMULATOR_LIMBS: usize = 4 * LIMBS;

/// The cells of the accumulator among the outer proof's instances (what snark-verifier's
/// EVM verifier reads the pairing inputs from).
pub fn accumulator_indices() -> Vec<(usize, usize)> {
    (0..ACCUMULATOR_LIMBS).map(|i| (0, i)).collect()
}

/// Rows the outer circuit leaves free at the bottom for halo2's blinding factors.
const BLINDING_ROWS: usize = 20;

/// One inner proof to aggregate.
#[derive(Debug, Clone)]
pub struct Inner<'a> {
    /// The SRS at the inner circuit's own size (`k` of its verifying key).
    pub params: &'a ParamsKZG<Bn256>,
    /// Its verifying key.
    pub vk: &'a VerifyingKey<G1Affine>,
    /// Its public instances, in order over its instance columns ([`proof::instance_columns`]).
    pub instances: Vec<Fr>,
    /// Its proof, made with [`Transcript::Poseidon`].
    pub proof: Vec<u8>,
}

/// An instance cell of an inner proof: `(proof, index)`.
pub type Cell = (usize, usize);

/// What to aggregate: the inner proofs, the cells that must be equal, the cells to expose.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// The inner proofs, as snark-verifier snarks.
    pub snarks: Vec<Snark>,
    /// Pairs of cells constrained equal in the outer circuit.
    pub links: Vec<(Cell, Cell)>,
    /// Cells made public after the accumulator, in this order.
    pub exposed: Vec<Cell>,
}

impl Chain {
    /// A chain of `inners` (each checked to verify natively first: the aggregation circuit
    /// cannot tell a bad inner proof from a bad witness, it only fails), with the given links
    /// and exposed cells (each checked to exist).
    pub fn new(inners: &[Inner<'_>], links: Vec<(Cell, Cell)>, exposed: Vec<Cell>) -> Result<Self> {
        let bad = |m: String| ProverError::Aggregation(m);
        if inners.is_empty() {
            return Err(bad("nothing to aggregate".into()));
        }
        let mut snarks = Vec::with_capacity(inners.len());
        for (i, x) in inners.iter().enumerate() {
            if x.params.k() != x.vk.get_domain().k() {
                return Err(bad(format!(
                    "proof {i}: its SRS has k = {} but its key k = {}",
                    x.params.k(),
                    x.vk.get_domain().k()
                )));
            }
            if !proof::verify_with(x.params, x.vk, &x.instances, &x.proof, Transcript::Poseidon) {
                return Err(bad(format!(
                    "proof {i} does not verify with its key over the Poseidon transcript (was it \
                     made with --for-aggregation?)"
                )));
            }
            let columns: Vec<Vec<Fr>> = proof::instance_columns(x.vk, &x.instances)
                .into_iter()
                .map(<[Fr]>::to_vec)
                .collect();
            let protocol = compile(
                x.params,
                x.vk,
                Config::kzg().with_num_instance(columns.iter().map(Vec::len).collect()),
            );
            snarks.push(Snark::new(protocol, columns, x.proof.clone()));
        }
        let exists = |(p, i): Cell| p < inners.len() && i < inners[p].instances.len();
        if let Some(c) = links
            .iter()
            .flat_map(|(a, b)| [*a, *b])
            .chain(exposed.iter().copied())
            .find(|c| !exists(*c))
        {
            return Err(bad(format!("instance cell {c:?} does not exist")));
        }
        for (a, b) in &links {
            if inners[a.0].instances[a.1] != inners[b.0].instances[b.1] {
                return Err(bad(format!(
                    "instance {} of proof {} differs from instance {} of proof {}: the proofs \
                     do not link",
                    a.1, a.0, b.1, b.0
                )));
            }
        }
        Ok(Self {
            snarks,
            links,
            exposed,
        })
    }

    /// The outer proof's public instances: the accumulator's limbs are computed by the
    /// circuit; this is the part after them.
    pub fn exposed_values(&self) -> Vec<Fr> {
        // A cell's index runs over the proof's instance columns one after the other, as
        // snark-verifier flattens them (`previous_instances`).
        self.exposed
            .iter()
            .filter_map(|&(p, i)| self.snarks[p].instances.iter().flatten().nth(i).copied())
            .collect()
    }
}

/// The outer circuit's configuration, fixed at key generation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AggregationShape {
    /// Column counts, `k` and lookup bits.
    pub config: AggregationConfigParams,
    /// Where each thread of the virtual layout breaks into columns.
    pub break_points: MultiPhaseThreadBreakPoints,
    /// Number of public instances (accumulator + exposed).
    pub num_instances: usize,
}

fn build(
    stage: CircuitBuilderStage,
    config: AggregationConfigParams,
    params: &ParamsKZG<Bn256>,
    chain: &Chain,
) -> Result<AggregationCircuit> {
    let run = || {
        let mut c = AggregationCircuit::new::<SHPLONK>(
            stage,
            config,
            params,
            chain.snarks.clone(),
            VerifierUniversality::None,
        );
        let prev = c.previous_instances().clone();
        for ((p, i), (q, j)) in &chain.links {
            c.builder
                .main(0)
                .constrain_equal(&prev[*p][*i], &prev[*q][*j]);
        }
        for (p, i) in &chain.exposed {
            c.builder.assigned_instances[0].push(prev[*p][*i]);
        }
        c
    };
    // snark-verifier asserts where it could return an error (a proof that does not read).
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|_| {
        ProverError::Aggregation("snark-verifier could not build the aggregation circuit".into())
    })
}

/// Key generation for the outer circuit at size `k` (the SRS must hold `2^k` points): its
/// column counts are chosen to fit the in-circuit verifiers into `2^k` rows.
pub fn setup(
    params: &ParamsKZG<Bn256>,
    chain: &Chain,
) -> Result<(ProvingKey<G1Affine>, AggregationShape)> {
    let k = params.k();
    let config = AggregationConfigParams {
        degree: k,
        lookup_bits: k as usize - 1,
        ..Default::default()
    };
    let mut c = build(CircuitBuilderStage::Keygen, config, params, chain)?;
    let config = c.calculate_params(Some(BLINDING_ROWS));
    let pk = crate::keys::keygen(params, &c)?;
    let shape = AggregationShape {
        config,
        break_points: c.break_points(),
        num_instances: c.num_instance()[0],
    };
    Ok((pk, shape))
}

/// Proves the outer circuit (Keccak transcript). Returns the proof and its public instances
/// (the accumulator's limbs, then the exposed cells).
pub fn prove(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    shape: &AggregationShape,
    chain: &Chain,
) -> Result<(Vec<u8>, Vec<Fr>)> {
    let mut c = build(CircuitBuilderStage::Prover, shape.config, params, chain)?;
    c.set_break_points(shape.break_points.clone());
    let instances = c.instances().remove(0);
    if instances.len() != shape.num_instances {
        return Err(ProverError::Aggregation(format!(
            "the chain gives {} public instances, the key was made for {}",
            instances.len(),
            shape.num_instances
        )));
    }
    let bytes = proof::prove(params, pk, c, &instances)?;
    Ok((bytes, instances))
}

/// The KZG accumulator encoded in the first [`ACCUMULATOR_LIMBS`] instances, if they encode
/// two points on the curve (each limb below `2^BITS`).
pub fn accumulator(
    instances: &[Fr],
) -> Option<KzgAccumulator<G1Affine, snark_verifier_sdk::NativeLoader>> {
    use halo2_proofs::halo2curves::ff::{Field, PrimeField};
    let limbs = instances.get(..ACCUMULATOR_LIMBS)?;
    if limbs
        .iter()
        .any(|l| l.to_repr().as_ref()[BITS / 8..].iter().any(|&b| b != 0))
    {
        return None;
    }
    let coord = |j: usize| -> Fq {
        let mut l = [Fr::ZERO; LIMBS];
        l.copy_from_slice(&limbs[j * LIMBS..(j + 1) * LIMBS]);
        fe_from_limbs::<Fr, Fq, LIMBS, BITS>(l)
    };
    let point = |x: Fq, y: Fq| -> Option<G1Affine> {
        <G1Affine as halo2_proofs::halo2curves::CurveAffine>::from_xy(x, y).into()
    };
    let lhs = point(coord(0), coord(1))?;
    let rhs = point(coord(2), coord(3))?;
    Some(KzgAccumulator::new(lhs, rhs))
}

/// Verifies an outer proof: the halo2 proof over its instances, then the accumulator's
/// pairing (without which the inner proofs are not checked at all). `params` needs `g[0]`,
/// `g2` and `s·g2` of the SRS every inner and the outer proof were made with.
pub fn verify(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    bytes: &[u8],
) -> bool {
    if !proof::verify(params, vk, instances, bytes) {
        return false;
    }
    let Some(acc) = accumulator(instances) else {
        return false;
    };
    let dk: KzgDecidingKey<Bn256> = (params.get_g()[0], params.g2(), params.s_g2()).into();
    <SHPLONK as AccumulationDecider<G1Affine, snark_verifier_sdk::NativeLoader>>::decide(&dk, acc)
        .is_ok()
}

/// Magic header of an aggregation verifying key (`aggregate/vk.bin`).
pub const AGG_VK_MAGIC: &[u8; 8] = b"ZKXAGV\0\x01";

/// The outer verifying key with what checking a proof against it needs.
#[derive(Debug, Clone)]
pub struct AggregationVerifier {
    /// The halo2 verifying key.
    pub vk: VerifyingKey<G1Affine>,
    /// The outer circuit's configuration.
    pub shape: AggregationShape,
    /// Verifier-side SRS (`g[0]`, `g2`, `s·g2`).
    pub params: ParamsKZG<Bn256>,
}

/// The bytes of an aggregation `vk.bin`: magic, the shape as JSON, the verifier's SRS points,
/// the verifying key.
pub fn agg_vk_bytes(
    vk: &VerifyingKey<G1Affine>,
    shape: &AggregationShape,
    params: &ParamsKZG<Bn256>,
) -> Vec<u8> {
    use halo2_proofs::halo2curves::serde::SerdeObject;
    use std::io::Write;
    let mut w = Vec::new();
    // Writing into a vector cannot fail; serializing the shape (integers) cannot either.
    let _ = (|| -> std::io::Result<()> {
        w.write_all(AGG_VK_MAGIC)?;
        let js = serde_json::to_vec(shape).map_err(std::io::Error::other)?;
        w.write_all(&(js.len() as u32).to_le_bytes())?;
        w.write_all(&js)?;
        w.write_all(&params.k().to_le_bytes())?;
        params.get_g()[0].write_raw(&mut w)?;
        params.g2().write_raw(&mut w)?;
        params.s_g2().write_raw(&mut w)?;
        vk.write(&mut w, halo2_proofs::SerdeFormat::RawBytes)
    })();
    w
}

/// Bounds on an outer circuit's configuration read from an untrusted file, checked before
/// anything is configured from it.
fn check_agg_shape(s: &AggregationShape) -> std::result::Result<(), String> {
    let c = &s.config;
    if !(4..=crate::artifacts::MAX_K).contains(&c.degree) {
        return Err(format!("k = {} is out of range", c.degree));
    }
    if c.lookup_bits == 0 || c.lookup_bits >= c.degree as usize {
        return Err(format!(
            "lookup_bits = {} does not fit k = {}",
            c.lookup_bits, c.degree
        ));
    }
    if c.num_advice == 0 || c.num_advice > 512 || c.num_lookup_advice > 128 || c.num_fixed > 64 {
        return Err("implausible column counts".into());
    }
    let points: usize = s.break_points.iter().map(Vec::len).sum();
    if points > c.num_advice * 4 {
        return Err("implausible break points".into());
    }
    if s.num_instances < ACCUMULATOR_LIMBS || s.num_instances > 1 << c.degree {
        return Err(format!("{} public instances", s.num_instances));
    }
    Ok(())
}

/// Reads an aggregation `vk.bin` ([`agg_vk_bytes`]), validating it before building anything
/// from it.
pub fn read_agg_vk(path: &std::path::Path) -> Result<AggregationVerifier> {
    use halo2_proofs::halo2curves::bn256::G2Affine;
    use halo2_proofs::halo2curves::serde::SerdeObject;
    use std::io::Read;
    let fail = |reason: String| ProverError::Format {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(crate::error::io_err(path))?;
    let mut r = bytes.as_slice();
    let corrupt = |e: std::io::Error| fail(format!("corrupt aggregation key: {e}"));
    let mut m = [0u8; 8];
    r.read_exact(&mut m)
        .map_err(|_| fail("too short to be an aggregation key".into()))?;
    if &m != AGG_VK_MAGIC {
        return Err(fail(
            "not a zkonnx aggregation verifying key (bad magic)".into(),
        ));
    }
    let mut lb = [0u8; 4];
    r.read_exact(&mut lb).map_err(corrupt)?;
    let len = u32::from_le_bytes(lb) as usize;
    if len > 1 << 16 || len > r.len() {
        return Err(fail("corrupt header".into()));
    }
    let shape: AggregationShape =
        serde_json::from_slice(&r[..len]).map_err(|e| fail(format!("corrupt header: {e}")))?;
    r = &r[len..];
    check_agg_shape(&shape).map_err(|e| fail(format!("corrupt header: {e}")))?;
    let mut kb = [0u8; 4];
    r.read_exact(&mut kb).map_err(corrupt)?;
    let k = u32::from_le_bytes(kb);
    if k != shape.config.degree {
        return Err(fail(format!(
            "corrupt aggregation key: k = {k}, its header says {}",
            shape.config.degree
        )));
    }
    let g0 = G1Affine::read_raw(&mut r).map_err(corrupt)?;
    let g2 = G2Affine::read_raw(&mut r).map_err(corrupt)?;
    let s_g2 = G2Affine::read_raw(&mut r).map_err(corrupt)?;
    crate::keys::check_srs_points(&g0, &[g2, s_g2])
        .map_err(|e| fail(format!("corrupt aggregation key: {e}")))?;
    let config = shape.config;
    let vk = std::panic::catch_unwind(move || {
        VerifyingKey::<G1Affine>::read::<_, AggregationCircuit>(
            &mut r,
            halo2_proofs::SerdeFormat::RawBytes,
            config,
        )
        .map(|vk| (vk, r.is_empty()))
    })
    .map_err(|_| fail("corrupt aggregation key".into()))?
    .map_err(corrupt)?;
    if !vk.1 {
        return Err(fail("corrupt aggregation key: bytes after the key".into()));
    }
    let base = ParamsKZG::<Bn256>::setup(1, rand_core::OsRng);
    let params = base.from_parts(k, vec![g0], Some(vec![]), g2, s_g2);
    Ok(AggregationVerifier {
        vk: vk.0,
        shape,
        params,
    })
}
