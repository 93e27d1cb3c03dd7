//! Importing a ceremony's SRS: a real snarkjs `.ptau` (made with snarkjs 0.7.6: `powersoftau new
//! bn128 4` and one `contribute`), `.ptau` and halo2 params files built here, proofs that verify
//! with them, and corrupted files as clear errors.

mod common;

use zkonnx::halo2_proofs::halo2curves::bn256::{Fq, Fr, G1Affine, G2Affine};
use zkonnx::halo2_proofs::halo2curves::group::ff::{Field, PrimeField};
use zkonnx::halo2_proofs::halo2curves::CurveAffine;
use zkonnx::halo2_proofs::poly::commitment::Params;
use zkonnx::halo2_proofs::SerdeFormat;
use zkonnx::prover::srs::dev_srs;
use zkonnx::prover::srs_import::import_srs;
use zkonnx::{data, Model, Prover, QuantSettings};

fn fixture() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/pot4_snarkjs.ptau")
}

/// 32 little-endian bytes of `x` in Montgomery form, as snarkjs writes them.
fn lem(x: Fq) -> Vec<u8> {
    let r = Fq::from(2u64).pow_vartime([256]);
    (x * r).to_repr().as_ref().to_vec()
}

/// A `.ptau` (sections 1–3) of 2^power points for a known tau.
fn write_ptau(path: &std::path::Path, power: u32, tau: Fr) {
    let n = 1usize << power;
    let mut g1 = Vec::new();
    let mut t = Fr::ONE;
    for _ in 0..n {
        let p: G1Affine = (G1Affine::generator() * t).into();
        let c = p.coordinates().unwrap();
        g1.extend(lem(*c.x()));
        g1.extend(lem(*c.y()));
        t *= tau;
    }
    let mut g2 = Vec::new();
    for s in [Fr::ONE, tau] {
        let p: G2Affine = (G2Affine::generator() * s).into();
        let c = p.coordinates().unwrap();
        for f in [c.x().c0, c.x().c1, c.y().c0, c.y().c1] {
            g2.extend(lem(f));
        }
    }
    let mut header = 32u32.to_le_bytes().to_vec();
    let q =
        hex::decode("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47").unwrap();
    header.extend(q.iter().rev());
    header.extend(power.to_le_bytes());
    header.extend(power.to_le_bytes());
    let mut out = b"ptau".to_vec();
    out.extend(1u32.to_le_bytes());
    out.extend(3u32.to_le_bytes());
    for (id, body) in [(1u32, header), (2, g1), (3, g2)] {
        out.extend(id.to_le_bytes());
        out.extend((body.len() as u64).to_le_bytes());
        out.extend(body);
    }
    std::fs::write(path, out).expect("write ptau");
}

fn prove_and_verify_with(
    params: zkonnx::halo2_proofs::poly::kzg::commitment::ParamsKZG<
        zkonnx::halo2_proofs::halo2curves::bn256::Bn256,
    >,
) {
    let models = common::bundled_models();
    let path = models.join("tiny_mlp.onnx");
    let x = data::read_input(&models.join("tiny_mlp.input.json")).expect("input");
    let compiled = Model::load(&path)
        .expect("import")
        .compile(std::slice::from_ref(&x), QuantSettings::default())
        .expect("compile");
    let params = zkonnx::prover::srs::fit_srs(params, compiled.k()).expect("fit");
    let prover = Prover::setup(compiled.clone(), params).expect("setup");
    let proof = prover.prove(&x).expect("prove");
    let vk = prover.verifier_key();
    assert!(zkonnx::verify(&vk, &compiled.settings, &proof.to_file(), &path).expect("verify"));
}

#[test]
fn a_real_snarkjs_ptau_imports_and_corruptions_are_clear_errors() {
    let p = import_srs(&fixture(), None).expect("snarkjs ptau");
    assert_eq!(p.k(), 4);
    let bytes = std::fs::read(fixture()).expect("fixture");
    let dir = common::temp_dir("ptau-bad");
    // A coordinate of tauG1[2] changed: not on the curve.
    let mut b = bytes.clone();
    let s = 12 + 12 + 44 + 12; // file header, section 1 (header + body), section 2 header
    b[s + 2 * 64 + 5] ^= 1;
    std::fs::write(dir.join("flip.ptau"), &b).unwrap();
    let e = import_srs(&dir.join("flip.ptau"), None)
        .expect_err("flipped")
        .to_string();
    assert!(e.contains("tauG1[2]") && e.contains("flip.ptau"), "{e}");
    // tauG1[1] and tauG1[2] swapped: valid points, but not a powers-of-tau sequence.
    let mut b = bytes.clone();
    let (p1, p2) = (b[s + 64..s + 128].to_vec(), b[s + 128..s + 192].to_vec());
    b[s + 64..s + 128].copy_from_slice(&p2);
    b[s + 128..s + 192].copy_from_slice(&p1);
    std::fs::write(dir.join("swap.ptau"), &b).unwrap();
    let e = import_srs(&dir.join("swap.ptau"), None)
        .expect_err("swapped")
        .to_string();
    assert!(e.contains("pairing check failed"), "{e}");
    // Truncated, and asking for more points than it has.
    std::fs::write(dir.join("short.ptau"), &bytes[..500]).unwrap();
    assert!(import_srs(&dir.join("short.ptau"), None).is_err());
    assert!(import_srs(&fixture(), Some(5)).is_err());
}

#[test]
fn proofs_verify_with_an_imported_ptau() {
    let dir = common::temp_dir("ptau-ok");
    let path = dir.join("pot9.ptau");
    write_ptau(&path, 9, Fr::from(0x5eed_1234u64));
    let params = import_srs(&path, None).expect("import");
    assert_eq!(params.k(), 9);
    prove_and_verify_with(params);
}

#[test]
fn proofs_verify_with_imported_halo2_params_raw_and_compressed() {
    let dir = common::temp_dir("halo2-params");
    let src = dev_srs(9, 77);
    for (name, format) in [
        ("raw.params", SerdeFormat::RawBytes),
        ("compressed.params", SerdeFormat::Processed),
    ] {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        src.write_custom(&mut f, format).unwrap();
        drop(f);
        let p = import_srs(&path, Some(8)).expect(name);
        assert_eq!(p.k(), 8);
        prove_and_verify_with(p);
        // A corrupted point is a clear error.
        let mut b = std::fs::read(&path).unwrap();
        b[4 + 3 * 32 + 7] ^= 0x10;
        std::fs::write(&path, &b).unwrap();
        assert!(
            import_srs(&path, None).is_err(),
            "{name} corrupted must be rejected"
        );
    }
}

/// Issue 17 #11: τ = 1, a power of 58 or 64, wrapping section sizes, and a flipped byte in an
/// `srs.bin` point are refused when read (not at `setup` or `prove`).
#[test]
fn degenerate_ceremonies_and_corrupt_srs_files_are_refused() {
    let dir = common::temp_dir("ptau-degenerate");
    let one = dir.join("tau1.ptau");
    write_ptau(&one, 3, Fr::ONE);
    let e = import_srs(&one, None).expect_err("τ = 1").to_string();
    assert!(e.contains("τ = 1"), "{e}");

    let good = dir.join("good.ptau");
    write_ptau(&good, 3, Fr::from(77));
    let bytes = std::fs::read(&good).expect("read");
    // The header section's power (section 1 starts at byte 12 + 12; power at +36).
    for power in [58u32, 64] {
        let mut b = bytes.clone();
        b[24 + 36..24 + 40].copy_from_slice(&power.to_le_bytes());
        let p = dir.join(format!("p{power}.ptau"));
        std::fs::write(&p, &b).expect("write");
        assert!(import_srs(&p, None).is_err(), "power {power}");
    }
    // A section size that wraps the offset.
    let mut b = bytes.clone();
    b[16..24].copy_from_slice(&(u64::MAX - 8).to_le_bytes());
    let p = dir.join("wrap.ptau");
    std::fs::write(&p, &b).expect("write");
    assert!(import_srs(&p, None).is_err());

    // srs.bin: one coordinate byte of a G1 point flipped.
    let srs = dir.join("srs.bin");
    zkonnx::prover::srs::write_srs(&srs, &dev_srs(4, 3)).expect("write");
    let mut b = std::fs::read(&srs).expect("read");
    let at = 8 + 4 + 64 * 5 + 7;
    b[at] ^= 1;
    std::fs::write(&srs, &b).expect("write");
    let e = zkonnx::prover::srs::read_srs(&srs)
        .expect_err("a flipped point")
        .to_string();
    assert!(e.contains("corrupt SRS"), "{e}");
}
