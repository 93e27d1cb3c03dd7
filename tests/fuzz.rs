//! Hostile bytes for every reader (issue 17): the ONNX importer, input JSON, proof JSON,
//! settings.json, compiled.json, vk.bin, pk.bin and `.ptau`/params files, mutated at random
//! (proptest, a bounded number of cases; `PROPTEST_CASES` raises it) and swept byte by byte.
//! Each must answer with `Ok` or a typed error: a panic fails the case (the harness catches
//! it), and every run is bounded by the cases' count. Every flipped byte of a proof or of
//! `vk.bin` is rejected or leaves a key that still refuses a false proof.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use zkonnx::prover::keys::{read_pk, read_vk};
use zkonnx::prover::srs_import::import_srs;
use zkonnx::{data, CompiledModel, Model, ProofFile, Prover, Settings};

/// One small model compiled, set up and proved once: its workdir holds every artifact.
struct Fixture {
    dir: PathBuf,
    onnx: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = common::temp_dir("fuzz");
        let onnx = common::onnx::mlp_seeded(3);
        let model_path = dir.join("model.onnx");
        std::fs::write(&model_path, &onnx).expect("write");
        let x = common::onnx::rand_vec(5, 8, 1.0);
        let m = Model::load(&model_path).expect("import");
        let c = m
            .compile(std::slice::from_ref(&x), Default::default())
            .expect("compile");
        c.save(&dir).expect("save");
        let k = c.k();
        let prover = Prover::setup(c, zkonnx::prover::srs::dev_srs(k, 1)).expect("setup");
        prover.save_keys(&dir, true).expect("keys");
        let proof = prover.prove(&x).expect("prove");
        zkonnx::prover::artifacts::write_json(&dir.join("proof.json"), &proof.to_file())
            .expect("proof");
        std::fs::write(
            dir.join("input.json"),
            serde_json::json!({ "input_data": [x] }).to_string(),
        )
        .expect("input");
        Fixture { dir, onnx }
    })
}

/// A fresh file path per case (cases may run on several threads).
fn scratch(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = fixture().dir.join("scratch");
    std::fs::create_dir_all(&d).expect("scratch");
    d.join(format!("{}-{name}", N.fetch_add(1, Ordering::Relaxed)))
}

/// A byte-level mutation: flip bytes, truncate, splice random bytes in.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Vec<(usize, u8)>),
    Truncate(usize),
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop::collection::vec((any::<usize>(), 1u8..=255), 1..8).prop_map(Mutation::Flip),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
    ]
}

fn mutate(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if b.is_empty() {
        return b;
    }
    match m {
        Mutation::Flip(f) => {
            for &(at, x) in f {
                let i = at % b.len();
                b[i] ^= x;
            }
        }
        Mutation::Truncate(at) => b.truncate(at % b.len()),
        Mutation::Insert(at, x) => {
            let i = at % b.len();
            b.splice(i..i, x.iter().copied());
        }
    }
    b
}

/// A JSON value of bounded size: what an edited file may hold anywhere.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        (-1e30f64..1e30).prop_map(serde_json::Value::from),
        "[a-z0-9x]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value at a random path of `v` (chosen by `pick`) with `new`.
fn edit_json(v: &mut serde_json::Value, mut pick: usize, new: serde_json::Value) {
    let mut cur = v;
    loop {
        let n = match cur {
            serde_json::Value::Array(a) => a.len(),
            serde_json::Value::Object(o) => o.len(),
            _ => 0,
        };
        if n == 0 || pick.is_multiple_of(4) {
            *cur = new;
            return;
        }
        let i = (pick / 4) % n;
        pick /= 4 * n.max(1);
        pick = pick.wrapping_mul(2654435761).wrapping_add(1);
        cur = match cur {
            serde_json::Value::Array(a) => &mut a[i],
            serde_json::Value::Object(o) => o.values_mut().nth(i).expect("index"),
            _ => unreachable!(),
        };
    }
}

fn edited_json_file(src: &Path, pick: usize, new: serde_json::Value, name: &str) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).expect("read")).expect("json");
    edit_json(&mut v, pick, new);
    let p = scratch(name);
    std::fs::write(&p, v.to_string()).expect("write");
    p
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn onnx_importer_never_panics(m in mutation()) {
        let p = scratch("model.onnx");
        std::fs::write(&p, mutate(&fixture().onnx, &m)).expect("write");
        // Ok (a mutation the format shrugs off) or a typed error; the float reference too.
        if let Ok(model) = Model::load(&p) {
            let n: usize = model.input_parts().iter().map(|(_, n)| n).sum();
            if n > 1 << 16 {
                return Ok(());
            }
            let x = vec![0.5f32; n];
            let _ = model.float_outputs(&x);
            let _ = model.compile(std::slice::from_ref(&x), Default::default());
        }
    }

    #[test]
    fn input_json_never_panics(v in json(), raw in mutation()) {
        let f = fixture();
        let p = scratch("input.json");
        std::fs::write(&p, v.to_string()).expect("write");
        let _ = data::read_input(&p);
        let _ = data::read_input_for(&p, &[("x".into(), 8)]);
        let bytes = std::fs::read(f.dir.join("input.json")).expect("input");
        std::fs::write(&p, mutate(&bytes, &raw)).expect("write");
        let _ = data::read_input(&p);
        let _ = data::read_samples_for(&p, &[("x".into(), 8)]);
    }

    #[test]
    fn proof_and_settings_json_never_panic(pick in any::<usize>(), v in json(), which in 0..2u8) {
        let f = fixture();
        let vk = read_vk(&f.dir.join("vk.bin")).expect("vk");
        let (proof, settings) = match which {
            0 => (edited_json_file(&f.dir.join("proof.json"), pick, v, "proof.json"), f.dir.join("settings.json")),
            _ => (f.dir.join("proof.json"), edited_json_file(&f.dir.join("settings.json"), pick, v, "settings.json")),
        };
        if let (Ok(s), Ok(pf)) = (Settings::read(&settings), ProofFile::read(&proof)) {
            // An edited file never verifies as something else: it is refused or rejected,
            // unless the edit left it as it was.
            let ok = zkonnx::verify(&vk, &s, &pf, &proof).unwrap_or(false);
            let same = std::fs::read(&proof).ok() == std::fs::read(f.dir.join("proof.json")).ok()
                && s == Settings::read(&f.dir.join("settings.json")).expect("settings");
            prop_assert!(!ok || same || pf == ProofFile::read(&f.dir.join("proof.json")).expect("proof"));
        }
    }

    #[test]
    fn compiled_json_never_panics(pick in any::<usize>(), v in json()) {
        let f = fixture();
        let d = scratch("compiled");
        std::fs::create_dir_all(&d).expect("dir");
        let p = edited_json_file(&f.dir.join("compiled.json"), pick, v, "compiled.json");
        std::fs::rename(&p, d.join("compiled.json")).expect("move");
        if let Ok(c) = CompiledModel::load(&d) {
            // What loads is consistent: the executor runs without panicking.
            let _ = c.witness(&[0.25; 8]);
        }
    }

    #[test]
    fn key_headers_never_panic(m in mutation(), header in json(), which in 0..2u8) {
        let f = fixture();
        let name = if which == 0 { "vk.bin" } else { "pk.bin" };
        let bytes = std::fs::read(f.dir.join(name)).expect("key");
        let p = scratch(name);
        // Either raw mutations, or a well-framed header with arbitrary JSON.
        let b = if header.is_object() {
            let len = u32::from_le_bytes(bytes[8..12].try_into().expect("4")) as usize;
            let js = header.to_string().into_bytes();
            let mut out = bytes[..8].to_vec();
            out.extend_from_slice(&(js.len() as u32).to_le_bytes());
            out.extend_from_slice(&js);
            out.extend_from_slice(&bytes[12 + len..]);
            out
        } else {
            // Mutations of the first bytes (magic, header) or anywhere.
            let n = bytes.len().min(4096);
            let mut head = mutate(&bytes[..n], &m);
            head.extend_from_slice(&bytes[n..]);
            head
        };
        std::fs::write(&p, b).expect("write");
        if which == 0 {
            let _ = read_vk(&p);
        } else {
            let _ = read_pk(&p);
        }
    }

    #[test]
    fn srs_readers_never_panic(m in mutation()) {
        let ptau = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pot4_snarkjs.ptau")).expect("ptau");
        let p = scratch("x.ptau");
        std::fs::write(&p, mutate(&ptau, &m)).expect("write");
        let _ = import_srs(&p, None);
        let _ = import_srs(&p, Some(3));
        let srs = fixture().dir.join("srs-copy.bin");
        if !srs.exists() {
            zkonnx::prover::srs::write_srs(&srs, &zkonnx::prover::srs::dev_srs(4, 2)).expect("srs");
        }
        let b = std::fs::read(&srs).expect("srs");
        let q = scratch("srs.bin");
        std::fs::write(&q, mutate(&b, &m)).expect("write");
        let _ = zkonnx::prover::srs::read_srs(&q);
        let _ = import_srs(&q, None);
    }
}

/// Every byte of the proof flipped: never accepted.
#[test]
fn every_flipped_proof_byte_is_rejected() {
    let f = fixture();
    let vk = read_vk(&f.dir.join("vk.bin")).expect("vk");
    let pf = ProofFile::read(&f.dir.join("proof.json")).expect("proof");
    let path = f.dir.join("proof.json");
    let bytes = pf.proof_bytes(&path).expect("bytes");
    let instances = pf.instance_values(&path).expect("instances");
    assert!(zkonnx::prover::proof::verify(
        &vk.params, &vk.vk, &instances, &bytes
    ));
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 1;
        assert!(
            !zkonnx::prover::proof::verify(&vk.params, &vk.vk, &instances, &b),
            "proof byte {i} flipped verifies"
        );
    }
}

/// Every byte of vk.bin flipped: the key is refused when read (a point off its curve, a bad
/// header), or `verify` refuses it for the settings it claims (its shape or settings digest
/// changed), or it is the same key; and no flipped key accepts a false proof.
#[test]
fn every_flipped_vk_byte_is_refused_or_harmless() {
    let f = fixture();
    let path = f.dir.join("proof.json");
    let pf = ProofFile::read(&path).expect("proof");
    let settings = Settings::read(&f.dir.join("settings.json")).expect("settings");
    let bytes = pf.proof_bytes(&path).expect("bytes");
    let instances = pf.instance_values(&path).expect("instances");
    let mut false_inst = instances.clone();
    let last = false_inst.len() - 1;
    false_inst[last] += zkonnx::halo2_proofs::halo2curves::bn256::Fr::from(1);
    let original = read_vk(&f.dir.join("vk.bin")).expect("vk");
    let vk_bytes = std::fs::read(f.dir.join("vk.bin")).expect("vk");
    let p = scratch("flip-vk.bin");
    // The header: 8 bytes of magic, a u32 length, that much JSON; then the points and the key.
    let header_len = 12 + u32::from_le_bytes(vk_bytes[8..12].try_into().expect("4 bytes")) as usize;
    let (mut at_load, mut at_verify, mut same, mut body_at_load) = (0, 0, 0, 0);
    for i in 0..vk_bytes.len() {
        let mut b = vk_bytes.clone();
        b[i] ^= 1;
        std::fs::write(&p, &b).expect("write");
        let Ok(k) = read_vk(&p) else {
            at_load += 1;
            body_at_load += usize::from(i >= header_len);
            continue;
        };
        assert!(
            !zkonnx::prover::proof::verify(&k.params, &k.vk, &false_inst, &bytes),
            "vk byte {i} flipped accepts a false proof"
        );
        match zkonnx::verify(&k, &settings, &pf, &path) {
            Err(_) | Ok(false) => at_verify += 1,
            // A flip in the name of a header field that has a default (e.g. `"arith": false`
            // read as an unknown field) gives back the same key.
            Ok(true) => {
                assert!(
                    k.vk.transcript_repr() == original.vk.transcript_repr()
                        && k.shape == original.shape
                        && k.settings_digest == original.settings_digest,
                    "vk byte {i} flipped is another key that verifies"
                );
                same += 1;
            }
        }
    }
    eprintln!(
        "{} flips: {at_load} refused when read ({body_at_load} of the {} past the {header_len}-byte \
         header), {at_verify} refused by verify, {same} the same key",
        vk_bytes.len(),
        vk_bytes.len() - header_len
    );
    // The points and the key are checked as they are read (on their curves, in their fields):
    // most flips there never make a key. (The header's share of the file grows as a plan has
    // fewer columns, so the whole file's share is no measure of that.)
    let body = vk_bytes.len() - header_len;
    assert!(
        body_at_load > body * 9 / 10,
        "most flips past the header are caught when read: {body_at_load} of {body}"
    );
}
