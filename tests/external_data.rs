//! ONNX external data (torch's exporter keeps weights in a file beside the model): read from
//! the model's directory into the importer, part of the model's hash, and every reference
//! validated before a byte is read (a location leading out of the directory, a segment past
//! its file's end, a length that does not fit the tensor's shape: typed errors).

mod common;

use std::path::{Path, PathBuf};

use common::onnx::{model, node, rand_vec, tensor};
use prost::Message;
use tract_onnx::pb;
use zkonnx::{Model, QuantSettings};

/// `y = x·W + b`, x `[1, 4]`, W `[4, 3]`.
fn dense() -> Vec<u8> {
    model(
        ("x", &[1, 4]),
        ("y", &[1, 3]),
        &[
            node("MatMul", &["x", "w"], "xw", vec![]),
            node("Add", &["xw", "b"], "y", vec![]),
        ],
        vec![
            tensor("w", &[4, 3], rand_vec(41, 12, 1.0)),
            tensor("b", &[3], vec![0.5, -0.25, 0.125]),
        ],
    )
}

/// An external reference: `(key, value)` pairs.
type Refs<'a> = &'a [(&'a str, &'a str)];

/// `dense()` with both initializers moved to `weights.bin` (W at offset 16 after 16 bytes of
/// padding, b after it), the references of W replaced by `w_refs` where given.
fn write_external(name: &str, w_refs: Option<Refs<'_>>) -> (PathBuf, PathBuf) {
    let dir = common::temp_dir(name);
    let mut m = pb::ModelProto::decode(dense().as_slice()).expect("decode");
    let g = m.graph.as_mut().expect("graph");
    let mut bin = vec![0u8; 16];
    for t in &mut g.initializer {
        let offset = bin.len();
        for v in std::mem::take(&mut t.float_data) {
            bin.extend(v.to_le_bytes());
        }
        let len = bin.len() - offset;
        let own = [
            ("location", "weights.bin".to_string()),
            ("offset", offset.to_string()),
            ("length", len.to_string()),
        ];
        let refs: Vec<(String, String)> = match (t.name.as_str(), w_refs) {
            ("w", Some(r)) => r
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _ => own
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        };
        t.external_data = refs
            .into_iter()
            .map(|(key, value)| pb::StringStringEntryProto { key, value })
            .collect();
        t.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
    }
    let p = dir.join("m.onnx");
    std::fs::write(&p, m.encode_to_vec()).expect("write model");
    let bin_path = dir.join("weights.bin");
    std::fs::write(&bin_path, bin).expect("write data");
    (p, bin_path)
}

fn outputs(p: &Path, x: &[f32]) -> Vec<f64> {
    let c = Model::load(p)
        .expect("import")
        .compile(&[x.to_vec()], QuantSettings::default())
        .expect("compile");
    let t = c.witness(x).expect("witness");
    c.model.dequantize_output(t.output(&c.model))
}

#[test]
fn external_weights_import_like_inline_ones_and_are_part_of_the_hash() {
    let inline = common::temp_dir("ext-inline").join("m.onnx");
    std::fs::write(&inline, dense()).expect("write");
    let (ext, bin) = write_external("ext-ok", None);
    let x = rand_vec(42, 4, 1.0);
    assert_eq!(
        Model::load(&inline).expect("inline").graph,
        Model::load(&ext).expect("external").graph,
        "the same weights whichever file holds them"
    );
    assert_eq!(outputs(&inline, &x), outputs(&ext, &x));
    // Another weight in the data file is another model.
    let before = Model::load(&ext).expect("load").hash;
    let mut bytes = std::fs::read(&bin).expect("read");
    bytes[20] ^= 1;
    std::fs::write(&bin, bytes).expect("write");
    assert_ne!(before, Model::load(&ext).expect("load").hash);
}

fn refused(name: &str, refs: Refs<'_>) -> String {
    let (p, _) = write_external(name, Some(refs));
    match std::panic::catch_unwind(|| Model::load(&p)) {
        Ok(Ok(_)) => panic!("{name}: imported"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("{name}: panicked"),
    }
}

#[test]
fn hostile_external_references_are_refused_before_reading() {
    // W is 48 bytes at offset 16 of a 76-byte file.
    let cases: &[(&str, Refs<'_>, &str)] = &[
        (
            "ext-parent",
            &[("location", "../weights.bin"), ("offset", "16")],
            "not a relative path below",
        ),
        (
            "ext-absolute",
            &[("location", "/etc/passwd")],
            "not a relative path below",
        ),
        ("ext-missing", &[("location", "other.bin")], "'other.bin'"),
        (
            "ext-past-end",
            &[
                ("location", "weights.bin"),
                ("offset", "40"),
                ("length", "48"),
            ],
            "past the end",
        ),
        (
            "ext-wrong-length",
            &[
                ("location", "weights.bin"),
                ("offset", "16"),
                ("length", "44"),
            ],
            "48 expected",
        ),
        (
            "ext-huge-offset",
            &[
                ("location", "weights.bin"),
                ("offset", "18446744073709551615"),
                ("length", "48"),
            ],
            "past the end",
        ),
        (
            "ext-not-a-number",
            &[("location", "weights.bin"), ("offset", "-1")],
            "not a byte count",
        ),
        ("ext-no-location", &[("offset", "16")], "no location"),
    ];
    for (name, refs, expect) in cases {
        let e = refused(name, refs);
        assert!(e.contains("initializer 'w'"), "{name}: {e}");
        assert!(e.contains(expect), "{name}: {e}");
    }
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_out_of_the_model_directory_is_refused() {
    let outside = common::temp_dir("ext-outside").join("secret.bin");
    std::fs::write(&outside, vec![0u8; 64]).expect("write");
    let (p, _) = write_external(
        "ext-symlink",
        Some(&[("location", "link.bin"), ("length", "48")]),
    );
    let link = p.parent().expect("dir").join("link.bin");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&outside, &link).expect("symlink");
    let e = Model::load(&p).expect_err("must refuse").to_string();
    assert!(e.contains("leads out of the model's directory"), "{e}");
}
