//! ONNX's semantics where a float reading (or tract) differs: integer division truncates,
//! and an average pool that counts padding divides by its whole kernel. Found by ONNX's own
//! operator cases (`node` suite); each reference here is computed by hand from the ONNX
//! definition, which is what onnxruntime computes.

mod common;

use std::sync::Arc;

use common::onnx::{model, node, rand_vec, tensor_i64_shaped, tensor_int, Attr};
use prost::Message;
use tract_onnx::pb;
use zkonnx::circuits::circuit::ModelCircuit;
use zkonnx::halo2_proofs::dev::MockProver;
use zkonnx::{Model, QuantSettings};

fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = common::temp_dir(name);
    let p = dir.join(format!("{name}.onnx"));
    std::fs::write(&p, bytes).expect("write model");
    p
}

/// The model with its graph input's element type set to `elem_type`.
fn typed_input(bytes: Vec<u8>, elem_type: i32) -> Vec<u8> {
    let mut m = pb::ModelProto::decode(bytes.as_slice()).expect("decode");
    let g = m.graph.as_mut().expect("graph");
    if let Some(pb::type_proto::Value::TensorType(t)) =
        g.input[0].r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.elem_type = elem_type;
    }
    m.encode_to_vec()
}

/// Compiles on `x`, compares the quantized output with `reference` (within `tol`) and checks
/// the honest witness under MockProver.
fn matches_reference(p: &std::path::Path, x: &[f32], reference: &[f64], tol: f64) {
    let c = Model::load(p)
        .expect("import")
        .compile(&[x.to_vec()], QuantSettings::default())
        .expect("compile");
    let t = c.witness(x).expect("witness");
    let out = c.model.dequantize_output(t.output(&c.model));
    assert_eq!(out.len(), reference.len(), "output size");
    for (i, (o, r)) in out.iter().zip(reference).enumerate() {
        assert!((o - r).abs() < tol, "output {i}: {o} vs {r}");
    }
    let inst = ModelCircuit::instances(&c.model, &c.plan.shape, &t);
    let circuit = ModelCircuit::with_trace(c.model.clone(), c.plan.clone(), Arc::new(t));
    MockProver::run(c.k(), &circuit, vec![inst])
        .expect("mock")
        .verify()
        .expect("honest witness");
}

/// A centre pad written as shape arithmetic (onnx's `CenterCropPad` function): the padding
/// before is `(target − shape) / 2` in int64, truncated. Divided as floats, the odd amounts
/// (3, 5) split 1.5/1.5 and 2.5/2.5 and the pads truncate to 1+1 and 2+2: a 1×5×7 output
/// where the model's is 1×6×9.
#[test]
fn integer_division_truncates_in_shape_arithmetic() {
    let p = write(
        "int-div-shape",
        &model(
            ("x", &[1, 3, 4]),
            ("y", &[1, 6, 9]),
            &[
                node("Shape", &["x"], "s", vec![]),
                node("Sub", &["target", "s"], "diff", vec![]),
                node("Div", &["diff", "two"], "before", vec![]),
                node("Sub", &["diff", "before"], "after", vec![]),
                node(
                    "Concat",
                    &["before", "after"],
                    "pads",
                    vec![("axis", Attr::I(0))],
                ),
                node("Pad", &["x", "pads"], "y", vec![]),
            ],
            vec![
                tensor_i64_shaped("target", &[3], vec![1, 6, 9]),
                tensor_i64_shaped("two", &[], vec![2]),
            ],
        ),
    );
    let x = rand_vec(31, 12, 1.0);
    let mut reference = vec![0f64; 54];
    for r in 0..3 {
        for c in 0..4 {
            reference[(r + 1) * 9 + c + 2] = f64::from(x[r * 4 + c]);
        }
    }
    matches_reference(&p, &x, &reference, 1e-3);
}

/// `Div` of int8 tensors truncates toward zero (−7 / 2 = −3, 127 / 5 = 25): the quotient of
/// a computed integer input by constant integers, proved exactly.
#[test]
fn integer_division_of_a_computed_tensor_truncates_toward_zero() {
    let bytes = model(
        ("x", &[8]),
        ("y", &[8]),
        &[node("Div", &["x", "d"], "y", vec![])],
        vec![tensor_int("d", &[8], 3, vec![2, 2, 3, 5, 7, 4, 1, 9])],
    );
    let p = write("int-div-dyn", &typed_input(bytes, 3));
    let x: [f64; 8] = [-7.0, 7.0, -128.0, 127.0, 5.0, -1.0, -3.0, 100.0];
    let d = [2.0, 2.0, 3.0, 5.0, 7.0, 4.0, 1.0, 9.0];
    let reference: Vec<f64> = x.iter().zip(d).map(|(a, b)| (a / b).trunc()).collect();
    assert_eq!(reference, [-3.0, 3.0, -42.0, 25.0, 0.0, 0.0, -3.0, 11.0]);
    let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    matches_reference(&p, &x, &reference, 1e-9);
}

/// AveragePool with `count_include_pad = 1` divides every window by the kernel's size, a
/// ceil-mode window reaching past the end padding included (ONNX's reference and
/// onnxruntime; PyTorch and tract divide such a window by its part inside the padded input,
/// here 6 or 4 instead of 9).
#[test]
fn average_pool_counting_padding_divides_by_the_whole_kernel() {
    let ints = |v: &[i64]| Attr::Ints(v.to_vec());
    let p = write(
        "avgpool-ceil-pad",
        &model(
            ("x", &[1, 1, 6, 6]),
            ("y", &[1, 1, 4, 4]),
            &[node(
                "AveragePool",
                &["x"],
                "y",
                vec![
                    ("kernel_shape", ints(&[3, 3])),
                    ("strides", ints(&[2, 2])),
                    ("pads", ints(&[1, 1, 1, 1])),
                    ("ceil_mode", Attr::I(1)),
                    ("count_include_pad", Attr::I(1)),
                ],
            )],
            vec![],
        ),
    );
    let x = rand_vec(32, 36, 1.0);
    let mut reference = Vec::new();
    for oy in 0..4i64 {
        for ox in 0..4i64 {
            let mut sum = 0f64;
            for ky in 0..3 {
                for kx in 0..3 {
                    let (r, c) = (oy * 2 + ky - 1, ox * 2 + kx - 1);
                    if (0..6).contains(&r) && (0..6).contains(&c) {
                        sum += f64::from(x[(r * 6 + c) as usize]);
                    }
                }
            }
            reference.push(sum / 9.0);
        }
    }
    matches_reference(&p, &x, &reference, 2e-3);
}
