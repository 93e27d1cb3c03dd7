//! The verifying-key blob the compact Solidity verifier reads, and the data contract that
//! holds it.
//!
//! Layout: 32-byte big-endian words, except the program (3 bytes per instruction, ending with
//! [`Op::End`]).
//!
//! | word | content |
//! |---|---|
//! | 0 | magic `ZKXCVK` and version 5 |
//! | 1 | k |
//! | 2 | ω |
//! | 3 | 1/n |
//! | 4 | transcript initial state |
//! | 5 | number of instances (over all instance columns) |
//! | 6 | number of phases |
//! | 7 | number of proof evaluations |
//! | 8 | quotient chunks |
//! | 9 | number of preprocessed commitments |
//! | 10 | number of numerator Lagrange entries |
//! | 11 | number of program instructions (without the final `End`) |
//! | 12 | number of constants |
//! | 13 | deepest stack of the program |
//! | 14 | number of query sets |
//! | 15 | largest query set (rotations) |
//! | 16 | byte offset of the phases (per phase: witnesses, challenges) |
//! | 17 | byte offset of the Lagrange table (ω^i per entry) |
//! | 18 | byte offset of the constants |
//! | 19 | byte offset of the program |
//! | 20 | byte offset of the query sets |
//! | 21 | byte offset of the preprocessed commitments (x, y) |
//! | 22–23 | \[1\]₁ |
//! | 24–27 | \[1\]₂ (x.c1, x.c0, y.c1, y.c0: the pairing precompile's order) |
//! | 28–31 | −\[s\]₂ |
//! | 32 | total proof length in bytes |
//! | 33 | total challenges |
//! | 34 | total rotations over all query sets |
//! | 35 | temporaries of the program (value-table slots between `z` and the constants) |
//! | 36 | ω⁻¹ |
//! | 37 | 0, or 1 + the instance index where a KZG accumulator's 12 limbs start |
//! | 38 | number of instance columns `C` |
//! | 39 | byte offset of the instance columns' lengths (one word each; the instances fill the columns one after the other) |
//!
//! A query set is `t, p, shift₁..shift_t, ell₁..ell_t`, then per polynomial its commitment
//! (`kind·2^16 + index`; kind 0 preprocessed, 1 witness, 2 quotient) and `t` evaluation slots.

use halo2_proofs::arithmetic::CurveAffine;
use halo2_proofs::halo2curves::bn256::{Fr, G1Affine, G2Affine};
use halo2_proofs::halo2curves::ff::PrimeField;
use sha3::{Digest, Keccak256};

use super::program::Op;
use super::{Commitment, CompactVk};

/// First word of a blob: `ZKXCVK`, then the format version (5: several instance columns) in
/// the last byte.
pub const MAGIC: [u8; 32] = {
    let mut m = [0u8; 32];
    let tag = *b"ZKXCVK";
    let mut i = 0;
    while i < tag.len() {
        m[i] = tag[i];
        i += 1;
    }
    m[31] = 5;
    m
};

/// Number of header words.
pub const HEADER_WORDS: usize = 40;

fn word(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

fn be<T: AsRef<[u8]>>(repr: T) -> [u8; 32] {
    let mut w = [0u8; 32];
    for (i, b) in repr.as_ref().iter().rev().enumerate() {
        w[i] = *b;
    }
    w
}

fn fr(x: &Fr) -> [u8; 32] {
    be(x.to_repr())
}

pub(crate) fn g1(p: &G1Affine) -> [[u8; 32]; 2] {
    let c = p.coordinates().into_option();
    match c {
        Some(c) => [be(c.x().to_repr()), be(c.y().to_repr())],
        None => [[0; 32], [0; 32]],
    }
}

fn g2(p: &G2Affine) -> [[u8; 32]; 4] {
    [
        be(p.x.c1.to_repr()),
        be(p.x.c0.to_repr()),
        be(p.y.c1.to_repr()),
        be(p.y.c0.to_repr()),
    ]
}

/// Encodes a [`CompactVk`].
pub fn encode(vk: &CompactVk) -> Vec<u8> {
    let mut phases = Vec::new();
    for &(w, c) in &vk.phases {
        phases.push(word(w as u64));
        phases.push(word(c as u64));
    }
    let lagranges: Vec<[u8; 32]> = vk.lagranges.iter().map(fr).collect();
    let constants: Vec<[u8; 32]> = vk.program.constants.iter().map(fr).collect();
    let mut program = Vec::with_capacity(vk.program.ops.len() * 3);
    for &(op, arg) in vk.program.ops.iter().chain(&[(Op::End, 0)]) {
        program.push(op as u8);
        program.extend_from_slice(&arg.to_be_bytes());
    }
    while program.len() % 32 != 0 {
        program.push(0);
    }
    let mut sets = Vec::new();
    for set in &vk.sets {
        sets.push(word(set.shifts.len() as u64));
        sets.push(word(set.polys.len() as u64));
        sets.extend(set.shifts.iter().map(fr));
        sets.extend(set.ell.iter().map(fr));
        for poly in &set.polys {
            let code = match poly.commitment {
                Commitment::Preprocessed(i) => i as u64,
                Commitment::Witness(i) => (1 << 16) + i as u64,
                Commitment::Quotient => 2 << 16,
            };
            sets.push(word(code));
            sets.extend(poly.evals.iter().map(|&s| word(s as u64)));
        }
    }
    let preprocessed: Vec<[u8; 32]> = vk.preprocessed.iter().flat_map(g1).collect();
    let instance_columns: Vec<[u8; 32]> = vk
        .instance_columns
        .iter()
        .map(|&n| word(n as u64))
        .collect();

    let off_phases = HEADER_WORDS * 32;
    let off_lagranges = off_phases + phases.len() * 32;
    let off_constants = off_lagranges + lagranges.len() * 32;
    let off_program = off_constants + constants.len() * 32;
    let off_sets = off_program + program.len();
    let off_preprocessed = off_sets + sets.len() * 32;
    let off_instance_columns = off_preprocessed + preprocessed.len() * 32;

    let mut header: Vec<[u8; 32]> = vec![
        MAGIC,
        word(vk.k as u64),
        fr(&vk.omega),
        fr(&vk.n_inv),
        fr(&vk.transcript_init),
        word(vk.num_instance() as u64),
        word(vk.phases.len() as u64),
        word(vk.num_evals as u64),
        word(vk.quotient_chunks as u64),
        word(vk.preprocessed.len() as u64),
        word(vk.lagranges.len() as u64),
        word(vk.program.ops.len() as u64),
        word(vk.program.constants.len() as u64),
        word(vk.program.max_depth as u64),
        word(vk.sets.len() as u64),
        word(vk.sets.iter().map(|s| s.shifts.len()).max().unwrap_or(1) as u64),
        word(off_phases as u64),
        word(off_lagranges as u64),
        word(off_constants as u64),
        word(off_program as u64),
        word(off_sets as u64),
        word(off_preprocessed as u64),
    ];
    header.extend(g1(&vk.g1));
    header.extend(g2(&vk.g2));
    header.extend(g2(&(-vk.s_g2)));
    header.push(word(vk.proof_len() as u64));
    header.push(word(vk.num_challenges() as u64));
    header.push(word(
        vk.sets.iter().map(|s| s.shifts.len()).sum::<usize>() as u64
    ));
    header.push(word(vk.program.table.temps as u64));
    header.push(fr(&vk.omega_inv()));
    header.push(word(vk.accumulator.map_or(0, |o| o as u64 + 1)));
    header.push(word(vk.instance_columns.len() as u64));
    header.push(word(off_instance_columns as u64));
    debug_assert_eq!(header.len(), HEADER_WORDS);

    let mut out = Vec::new();
    for w in header
        .iter()
        .chain(&phases)
        .chain(&lagranges)
        .chain(&constants)
    {
        out.extend_from_slice(w);
    }
    out.extend_from_slice(&program);
    for w in sets.iter().chain(&preprocessed).chain(&instance_columns) {
        out.extend_from_slice(w);
    }
    out
}

/// Runtime code of the data contract holding a blob: a `STOP` byte, then the blob (so the
/// contract does nothing when called).
pub fn data_runtime(blob: &[u8]) -> Vec<u8> {
    let mut code = Vec::with_capacity(blob.len() + 1);
    code.push(0x00);
    code.extend_from_slice(blob);
    code
}

/// Creation code deploying [`data_runtime`] (12 bytes of init code, then the runtime).
pub fn data_creation(blob: &[u8]) -> Vec<u8> {
    let runtime = data_runtime(blob);
    let len = runtime.len() as u16;
    let [hi, lo] = len.to_be_bytes();
    // PUSH2 len, DUP1, PUSH1 12, PUSH1 0, CODECOPY, PUSH1 0, RETURN
    let mut code = vec![
        0x61, hi, lo, 0x80, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(&runtime);
    code
}

/// The circuit's identity: keccak256 of the data contract's runtime code, which is what
/// `extcodehash` returns for it on-chain.
pub fn circuit_id(blob: &[u8]) -> [u8; 32] {
    Keccak256::digest(data_runtime(blob)).into()
}
