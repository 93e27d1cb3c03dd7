//! ONNX import: attribute defaults, supported forms, and clear errors.

mod common;

use common::onnx::{model, rand_vec, tensor, Attr, N};
use zkonnx::circuits::ir::Op;
use zkonnx::circuits::CircuitsError;
use zkonnx::{Error, Model};

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write model");
    p
}

fn gemm_model(attrs: Vec<(&str, Attr)>, w: Vec<f32>, w_dims: &[i64]) -> Vec<u8> {
    model(
        ("x", &[1, 6]),
        ("y", &[1, 3]),
        &[N {
            op: "Gemm",
            name: "fc",
            inputs: &["x", "W", "b"],
            output: "y",
            attrs,
        }],
        vec![
            tensor("W", w_dims, w),
            tensor("b", &[3], vec![0.5, -0.25, 0.125]),
        ],
    )
}

#[test]
fn gemm_without_optional_attributes_imports_like_the_explicit_defaults() {
    let dir = common::temp_dir("gemm-defaults");
    let w = rand_vec(1, 18, 1.0);
    let bare = write(&dir, "bare.onnx", &gemm_model(vec![], w.clone(), &[6, 3]));
    let explicit = write(
        &dir,
        "explicit.onnx",
        &gemm_model(
            vec![
                ("alpha", Attr::F(1.0)),
                ("beta", Attr::F(1.0)),
                ("transA", Attr::I(0)),
                ("transB", Attr::I(0)),
            ],
            w.clone(),
            &[6, 3],
        ),
    );
    let a = Model::load(&bare).expect("bare Gemm imports");
    let b = Model::load(&explicit).expect("explicit Gemm imports");
    assert_eq!(a.graph, b.graph);
    // transB=1 with the transposed matrix is the same layer.
    let mut wt = vec![0f32; 18];
    for i in 0..6 {
        for o in 0..3 {
            wt[o * 6 + i] = w[i * 3 + o];
        }
    }
    let c = Model::load(write(
        &dir,
        "transb.onnx",
        &gemm_model(vec![("transB", Attr::I(1))], wt, &[3, 6]),
    ))
    .expect("transB Gemm");
    assert_eq!(a.graph, c.graph);
    match &a.graph.nodes[1].op {
        Op::Linear { map, bias } => {
            let m = &map.mats[0];
            assert_eq!((m.rows, m.cols), (3, 6));
            assert_eq!(m.data[6 + 2], w[2 * 3 + 1], "W is stored output-major");
            assert_eq!(bias.as_deref(), Some(&[0.5, -0.25, 0.125][..]));
        }
        other => panic!("expected Linear, got {other:?}"),
    }
    // alpha and beta are honoured.
    let scaled = Model::load(write(
        &dir,
        "alpha.onnx",
        &gemm_model(
            vec![("alpha", Attr::F(2.0)), ("beta", Attr::F(0.5))],
            w.clone(),
            &[6, 3],
        ),
    ))
    .expect("alpha");
    let Op::Linear { map, bias } = &scaled.graph.nodes[1].op else {
        panic!("Linear")
    };
    assert_eq!(map.mats[0].data[0], 2.0 * w[0]);
    assert_eq!(bias.as_deref(), Some(&[0.25, -0.125, 0.0625][..]));
}

#[test]
fn unsupported_operators_are_listed_together_with_node_names() {
    let bytes = model(
        ("x", &[1, 4]),
        ("y", &[1, 4]),
        &[
            N {
                op: "NonZero",
                name: "act_a",
                inputs: &["x"],
                output: "a",
                attrs: vec![],
            },
            N {
                op: "Relu",
                name: "relu_b",
                inputs: &["a"],
                output: "b",
                attrs: vec![],
            },
            N {
                op: "Det",
                name: "soft_c",
                inputs: &["b"],
                output: "y",
                attrs: vec![],
            },
        ],
        vec![],
    );
    let dir = common::temp_dir("unsupported");
    let err = Model::load(write(&dir, "m.onnx", &bytes)).expect_err("must be rejected");
    let Error::Circuits(CircuitsError::Unsupported(list)) = &err else {
        panic!("wrong error: {err}")
    };
    let names: Vec<(&str, &str)> = list
        .iter()
        .map(|n| (n.name.as_str(), n.op_type.as_str()))
        .collect();
    assert_eq!(names, vec![("act_a", "NonZero"), ("soft_c", "Det")]);
    let msg = err.to_string();
    assert!(
        msg.contains("act_a")
            && msg.contains("NonZero")
            && msg.contains("soft_c")
            && msg.contains("Det"),
        "{msg}"
    );
}

#[test]
fn shared_cnn_and_transformer_import() {
    for name in ["lenet", "tiny_transformer"] {
        let m = Model::load(common::shared_models().join(format!("{name}.onnx")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(m.graph.nodes.len() > 3, "{name}");
    }
}

#[test]
fn missing_and_non_onnx_files_are_clear_errors() {
    let dir = common::temp_dir("bad-files");
    let err = Model::load(dir.join("nope.onnx")).expect_err("missing");
    assert!(
        matches!(err, Error::Circuits(CircuitsError::Io { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("nope.onnx"));
    let garbage = write(
        &dir,
        "garbage.onnx",
        b"this is not a protobuf at all \xff\xfe",
    );
    let err = Model::load(&garbage).expect_err("garbage");
    assert!(
        matches!(err, Error::Circuits(CircuitsError::NotOnnx { .. })),
        "{err}"
    );
    let empty = write(&dir, "empty.onnx", b"");
    assert!(matches!(
        Model::load(&empty),
        Err(Error::Circuits(CircuitsError::NotOnnx { .. }))
    ));
}

/// A model whose compile cannot fit in the memory available is refused before calibration,
/// with what it needs; the same model compiles where the memory is there.
#[test]
fn a_model_too_large_for_the_memory_is_refused_before_compiling() {
    let dir = common::temp_dir("too-large");
    let p = write(
        &dir,
        "g.onnx",
        &gemm_model(vec![], rand_vec(3, 18, 1.0), &[6, 3]),
    );
    let m = Model::load(&p).expect("import");
    // 18 multiply-adds, 9 activations: 18·48 + 9·16 bytes.
    assert_eq!(m.graph.macs(), 18);
    let e = m.check_compile_memory(Some(500)).expect_err("refused");
    assert!(
        matches!(e, Error::Resources(_)) && e.to_string().contains("18 multiply-adds"),
        "{e}"
    );
    m.check_compile_memory(Some(2_000)).expect("fits");
    m.check_compile_memory(None)
        .expect("nothing known: no refusal");
}
