//! An SRS larger than the circuit is reduced once and the reduction kept beside the keys
//! (`read_srs_for`): later reads take the kept file only while it holds the given SRS's first
//! powers and G2 points, and replace it otherwise.

mod common;

use zkonnx::halo2_proofs::halo2curves::bn256::Bn256;
use zkonnx::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use zkonnx::halo2_proofs::SerdeFormat;
use zkonnx::prover::error::ProverError;
use zkonnx::prover::srs::{
    check_lagrange, dev_srs, fit_srs, kept_srs, read_srs_for, srs_file_k, write_srs, SRS_MAGIC,
};

/// The raw serialization (k, g, g_lagrange, [1]₂, [τ]₂), as an SRS file holds it after its magic.
fn bytes(p: &ParamsKZG<Bn256>) -> Vec<u8> {
    let mut v = Vec::new();
    p.write_custom(&mut v, SerdeFormat::RawBytesUnchecked)
        .expect("write");
    v
}

/// An SRS file of 2^k points spliced from parts of two serializations.
fn splice(path: &std::path::Path, k: u32, parts: [(&[u8], std::ops::Range<usize>); 3]) {
    let mut f = SRS_MAGIC.to_vec();
    f.extend_from_slice(&k.to_le_bytes());
    for (b, r) in parts {
        f.extend_from_slice(&b[r]);
    }
    std::fs::write(path, f).expect("write");
}

/// A 2^6 development SRS written to `DIR/big.bin`, the path its reduction is kept at
/// (`DIR/cache`), and the bytes of its reduction to 2^4.
fn big_srs_fixture(
    name: &str,
    cache: &str,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
    ParamsKZG<Bn256>,
    Vec<u8>,
) {
    let dir = common::temp_dir(name);
    let (big_path, cache) = (dir.join("big.bin"), dir.join(cache));
    let big = dev_srs(6, 1);
    write_srs(&big_path, &big).expect("write");
    let reduced = bytes(&fit_srs(big.clone(), 4).expect("fit"));
    (dir, big_path, cache, big, reduced)
}

#[test]
fn a_larger_srs_is_reduced_once_then_read_from_its_cache() {
    let (dir, big_path, cache, big, reduced) = big_srs_fixture("srs-cache", "srs.fitted.bin");
    let other = bytes(&fit_srs(dev_srs(6, 2), 4).expect("fit"));
    // Byte ranges of the serialization at k = 4: g, g_lagrange, the G2 points.
    let n = 16 * 64;
    let (g, lagrange, g2) = (4..4 + n, 4 + n..4 + 2 * n, 4 + 2 * n..reduced.len());

    // First read: reduced, and the reduction kept.
    let p = read_srs_for(&big_path, 4, &cache).expect("read");
    assert_eq!(bytes(&p), reduced);
    assert_eq!(srs_file_k(&cache).expect("cache"), 4);

    // A kept file with the right powers is what later reads return: its Lagrange points are
    // taken as they are (here another SRS's, so the difference shows; a wrong basis only makes
    // proofs that fail the prover's own verification).
    splice(
        &cache,
        4,
        [
            (&reduced, g.clone()),
            (&other, lagrange.clone()),
            (&reduced, g2.clone()),
        ],
    );
    let p = read_srs_for(&big_path, 4, &cache).expect("read");
    assert_eq!(
        bytes(&p)[lagrange.clone()],
        other[lagrange.clone()],
        "the kept reduction is not read"
    );
    // Key generation would commit to the fixed columns with that basis: it checks it first.
    let e = check_lagrange(&p).expect_err("a foreign Lagrange basis");
    assert!(e.to_string().contains("Lagrange"), "{e}");
    check_lagrange(&fit_srs(big.clone(), 4).expect("fit")).expect("the true basis");

    // A kept file of another SRS (other powers) is not used: the reduction is made again and
    // replaces it.
    splice(
        &cache,
        4,
        [
            (&other, g.clone()),
            (&other, lagrange.clone()),
            (&other, g2.clone()),
        ],
    );
    let p = read_srs_for(&big_path, 4, &cache).expect("read");
    assert_eq!(bytes(&p), reduced);
    assert_eq!(std::fs::read(&cache).expect("cache")[8..], reduced[..]);

    // The same powers with another SRS's G2 points (they end the file): not used either.
    splice(
        &cache,
        4,
        [(&reduced, g.clone()), (&reduced, lagrange), (&other, g2)],
    );
    assert_eq!(
        bytes(&read_srs_for(&big_path, 4, &cache).expect("read")),
        reduced
    );

    // A corrupt kept file is replaced.
    std::fs::write(&cache, b"not an srs").expect("write");
    assert_eq!(
        bytes(&read_srs_for(&big_path, 4, &cache).expect("read")),
        reduced
    );
    assert_eq!(std::fs::read(&cache).expect("cache")[8..], reduced[..]);

    // An SRS of exactly the circuit's size is read as it is; nothing is kept.
    let exact = dir.join("exact-cache.bin");
    let p = read_srs_for(&big_path, 6, &exact).expect("read");
    assert_eq!(bytes(&p), bytes(&big));
    assert!(!exact.exists());

    // Too small: a typed error naming both sizes.
    match read_srs_for(&big_path, 7, &exact) {
        Err(ProverError::SrsTooSmall { have: 6, need: 7 }) => {}
        other => panic!("expected SrsTooSmall, got {other:?}"),
    }
}

fn zkonnx(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_zkonnx"))
        .args(args)
        .output()
        .expect("run zkonnx")
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The CLI with a ceremony-sized SRS: setup keeps the reduction beside the keys, prove reads
/// it and its proof verifies; proving with another SRS of the same size does not take the kept
/// file and is refused (the proving key is not of that SRS), and the first SRS proves again.
#[test]
fn setup_and_prove_with_a_larger_srs() {
    let models = common::bundled_models();
    let w = common::temp_dir("srs-cache-cli");
    let (model, input) = (
        models.join("tiny_mlp.onnx"),
        models.join("tiny_mlp.input.json"),
    );
    let o = zkonnx(&["compile", s(&model), "--input", s(&input), "-o", s(&w)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("settings.json")).expect("read"))
            .expect("json");
    let k = settings["shape"]["k"].as_u64().expect("k") as u32;
    let (big, other) = (w.join("ceremony.bin"), w.join("other.bin"));
    for (path, seed) in [(&big, "1"), (&other, "2")] {
        let kk = (k + 2).to_string();
        let o = zkonnx(&["srs", "gen", "--k", &kk, "--seed", seed, "-o", s(path)]);
        assert!(o.status.success());
    }
    let o = zkonnx(&["setup", "--dir", s(&w), "--srs", s(&big)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kept = w.join("srs.fitted.bin");
    assert_eq!(zkonnx::prover::srs::srs_file_k(&kept).expect("kept"), k);
    let prove = |srs: &std::path::Path| {
        zkonnx(&[
            "prove",
            "--dir",
            s(&w),
            "--srs",
            s(srs),
            "--input",
            s(&input),
        ])
    };
    let verify = || {
        zkonnx(&[
            "verify",
            "--proof",
            s(&w.join("proof.json")),
            "--vk",
            s(&w.join("vk.bin")),
            "--settings",
            s(&w.join("settings.json")),
        ])
    };
    let o = prove(&big);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(verify().status.code(), Some(0));
    let o = prove(&other);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("do not belong together"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = prove(&big);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(verify().status.code(), Some(0));

    // A planted srs.fitted.bin with the ceremony's powers and G2 points but a Lagrange basis
    // of its own (every Lagrange point the same, so all fixed columns would commit alike) is
    // refused by setup before any key is made from it.
    let mut b = std::fs::read(&kept).expect("kept");
    let n = 64usize << k;
    let point = b[12 + n..12 + n + 64].to_vec();
    for c in b[12 + n..12 + 2 * n].chunks_exact_mut(64) {
        c.copy_from_slice(&point);
    }
    std::fs::write(&kept, b).expect("write");
    let vk_before = std::fs::read(w.join("vk.bin")).expect("vk");
    let o = zkonnx(&["setup", "--dir", s(&w), "--srs", s(&big)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("Lagrange"), "{err}");
    assert_eq!(
        std::fs::read(w.join("vk.bin")).expect("vk"),
        vk_before,
        "no key written"
    );
}

/// `kept_srs`, for work that must not reduce a large SRS itself (segments side by side, Ray
/// workers): the given file when it is the right size, else the kept reduction, made again
/// when it is stale; never written over the given SRS.
#[test]
fn the_kept_srs_is_made_current_and_never_written_over_the_given_one() {
    let (_, big_path, cache, _, reduced) = big_srs_fixture("srs-kept", "srs.bin");

    assert_eq!(kept_srs(&big_path, 6, &cache).expect("same size"), big_path);
    assert!(!cache.exists(), "nothing kept when no reduction is needed");
    assert!(matches!(
        kept_srs(&big_path, 7, &cache),
        Err(ProverError::SrsTooSmall { have: 6, need: 7 })
    ));

    // Missing, then stale (another SRS's reduction): made from the given SRS each time.
    assert_eq!(kept_srs(&big_path, 4, &cache).expect("made"), cache);
    assert_eq!(std::fs::read(&cache).expect("kept")[12..], reduced[4..]);
    write_srs(&cache, &fit_srs(dev_srs(6, 2), 4).expect("fit")).expect("stale");
    assert_eq!(kept_srs(&big_path, 4, &cache).expect("made again"), cache);
    assert_eq!(std::fs::read(&cache).expect("kept")[12..], reduced[4..]);

    // The kept path naming the given SRS itself: an error, the SRS untouched.
    let before = std::fs::read(&big_path).expect("big");
    assert!(kept_srs(&big_path, 4, &big_path).is_err());
    assert_eq!(std::fs::read(&big_path).expect("big"), before);
}
