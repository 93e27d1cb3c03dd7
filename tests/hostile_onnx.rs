//! Hostile ONNX graphs (issue 17 #10): malformed attributes and operands, and shapes whose
//! tensors would not fit in memory. Each is a typed error naming the node, never a panic or
//! an allocation abort.

mod common;

use common::onnx::{model, node, tensor, tensor_i64, Attr};

fn import(name: &str, bytes: Vec<u8>) -> String {
    let dir = common::temp_dir(name);
    let p = dir.join("m.onnx");
    std::fs::write(&p, bytes).expect("write");
    match std::panic::catch_unwind(|| zkonnx::Model::load(&p)) {
        Ok(Ok(_)) => panic!("{name}: imported"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("{name}: the importer panicked"),
    }
}

#[test]
fn malformed_operands_are_errors() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "slice-axes",
            model(
                ("x", &[1, 4]),
                ("y", &[1, 2]),
                &[node("Slice", &["x", "st", "en", "ax"], "y", vec![])],
                vec![
                    tensor_i64("st", vec![0]),
                    tensor_i64("en", vec![2]),
                    tensor_i64("ax", vec![0, 1]),
                ],
            ),
        ),
        (
            "slice-steps",
            model(
                ("x", &[1, 4]),
                ("y", &[1, 2]),
                &[node("Slice", &["x", "st", "en", "ax", "sp"], "y", vec![])],
                vec![
                    tensor_i64("st", vec![0, 0]),
                    tensor_i64("en", vec![1, 2]),
                    tensor_i64("ax", vec![0, 1]),
                    tensor_i64("sp", vec![1]),
                ],
            ),
        ),
        (
            "concat-rank",
            model(
                ("x", &[1, 4]),
                ("y", &[1, 6]),
                &[node("Concat", &["x", "c"], "y", vec![("axis", Attr::I(1))])],
                vec![tensor("c", &[2], vec![1.0, 2.0])],
            ),
        ),
        (
            "batchnorm-short",
            model(
                ("x", &[1, 3, 2, 2]),
                ("y", &[1, 3, 2, 2]),
                &[node(
                    "BatchNormalization",
                    &["x", "s", "b", "m", "v"],
                    "y",
                    vec![],
                )],
                vec![
                    tensor("s", &[3], vec![1.0; 3]),
                    tensor("b", &[1], vec![0.0]),
                    tensor("m", &[2], vec![0.0; 2]),
                    tensor("v", &[3], vec![1.0; 3]),
                ],
            ),
        ),
    ];
    for (name, bytes) in cases {
        let e = import(name, bytes);
        assert!(e.contains("unsupported node(s): 'y' ("), "{name}: {e}");
        assert!(
            !e.contains("malformed node"),
            "{name}: caught only by the net: {e}"
        );
    }
}

/// A GridSample grid holding a non-finite coordinate is a typed error naming it.
#[test]
fn a_non_finite_grid_value_is_refused() {
    for (name, v) in [
        ("grid-inf", f32::INFINITY),
        ("grid-nan", f32::NAN),
        ("grid-huge", 1e30),
    ] {
        let e = import(
            name,
            model(
                ("x", &[1, 1, 2, 2]),
                ("y", &[1, 1, 1, 2]),
                &[node("GridSample", &["x", "g"], "y", vec![])],
                vec![tensor("g", &[1, 1, 2, 2], vec![0.0, 0.0, v, 0.5])],
            ),
        );
        assert!(e.contains("is not a finite coordinate"), "{name}: {e}");
    }
}

#[test]
fn huge_shapes_are_refused_before_allocating() {
    let huge = vec![1i64 << 20, 1 << 20, 1 << 10];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "constant-of-shape",
            model(
                ("x", &[1, 4]),
                ("y", &[1, 4]),
                &[
                    node("ConstantOfShape", &["shp"], "z", vec![]),
                    node("Add", &["x", "z"], "y", vec![]),
                ],
                vec![tensor_i64("shp", huge.clone())],
            ),
        ),
        (
            "expand",
            model(
                ("x", &[1, 4]),
                ("y", &[1, 4]),
                &[node("Expand", &["x", "shp"], "y", vec![])],
                vec![tensor_i64("shp", vec![1 << 24, 1 << 24, 4])],
            ),
        ),
        (
            "tile",
            model(
                ("x", &[1, 4]),
                ("y", &[1, 4]),
                &[node("Tile", &["x", "rep"], "y", vec![])],
                vec![tensor_i64("rep", vec![1 << 30, 1 << 30])],
            ),
        ),
        (
            "pad",
            model(
                ("x", &[1, 4]),
                ("y", &[1, 4]),
                &[node("Pad", &["x", "pads"], "y", vec![])],
                vec![tensor_i64("pads", vec![0, 0, 1 << 40, 1 << 40])],
            ),
        ),
        (
            "dft-length",
            model(
                ("x", &[1, 4, 1]),
                ("y", &[1, 4, 2]),
                &[node("DFT", &["x", "len"], "y", vec![])],
                vec![common::onnx::tensor_i64_shaped("len", &[], vec![1 << 40])],
            ),
        ),
        (
            "conv-transpose-output-shape",
            model(
                ("x", &[1, 1, 2, 2]),
                ("y", &[1, 1, 4, 4]),
                &[node(
                    "ConvTranspose",
                    &["x", "w"],
                    "y",
                    vec![("output_shape", Attr::Ints(vec![1 << 30, 1 << 30]))],
                )],
                vec![tensor("w", &[1, 1, 2, 2], vec![1.0; 4])],
            ),
        ),
        (
            // Updates applied in order: 1024 steps over 1024 × 2048 elements.
            "scatter-computed-indices",
            model(
                ("x", &[1024, 2048]),
                ("y", &[1024, 2048]),
                &[
                    node("Slice", &["x", "zero", "one", "one"], "s", vec![]),
                    node("Cast", &["s"], "i", vec![("to", Attr::I(7))]),
                    node("ScatterElements", &["x", "i", "s"], "y", vec![]),
                ],
                vec![tensor_i64("zero", vec![0]), tensor_i64("one", vec![1])],
            ),
        ),
    ];
    for (name, bytes) in cases {
        let e = import(name, bytes);
        assert!(e.contains("over the importer's budget"), "{name}: {e}");
    }
}
