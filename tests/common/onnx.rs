//! A tiny ONNX writer for tests, built on tract-onnx's protobuf types.

use prost::Message;
use tract_onnx::pb;

/// An attribute value.
pub enum Attr {
    F(f32),
    I(i64),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    S(&'static str),
    /// A subgraph (a control-flow body).
    G(pb::GraphProto),
}

/// A node: op, inputs, output, attributes.
pub struct N<'a> {
    pub op: &'a str,
    pub name: &'a str,
    pub inputs: &'a [&'a str],
    pub output: &'a str,
    pub attrs: Vec<(&'a str, Attr)>,
}

fn value_info(name: &str, shape: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value as D, Dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto {
                    dim: shape
                        .iter()
                        .map(|&d| Dimension {
                            denotation: String::new(),
                            value: Some(D::DimValue(d)),
                        })
                        .collect(),
                }),
            })),
        }),
        ..Default::default()
    }
}

/// A node named after its output.
pub fn node<'a>(
    op: &'a str,
    inputs: &'a [&'a str],
    output: &'a str,
    attrs: Vec<(&'a str, Attr)>,
) -> N<'a> {
    N {
        op,
        name: output,
        inputs,
        output,
        attrs,
    }
}

/// A float initializer.
pub fn tensor(name: &str, dims: &[i64], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: data,
        ..Default::default()
    }
}

/// An int64 initializer (for shapes).
pub fn tensor_i64(name: &str, data: Vec<i64>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: vec![data.len() as i64],
        data_type: 7,
        int64_data: data,
        ..Default::default()
    }
}

/// The protobuf nodes of `nodes`.
fn nodes_pb(nodes: &[N<'_>]) -> Vec<pb::NodeProto> {
    nodes
        .iter()
        .map(|n| pb::NodeProto {
            op_type: n.op.into(),
            name: n.name.into(),
            input: n.inputs.iter().map(|s| s.to_string()).collect(),
            // "a,b": a node with several outputs.
            output: n.output.split(',').map(str::to_string).collect(),
            attribute: n
                .attrs
                .iter()
                .map(|(k, v)| match v {
                    Attr::F(f) => pb::AttributeProto {
                        name: (*k).into(),
                        f: *f,
                        r#type: 1,
                        ..Default::default()
                    },
                    Attr::I(i) => pb::AttributeProto {
                        name: (*k).into(),
                        i: *i,
                        r#type: 2,
                        ..Default::default()
                    },
                    Attr::Ints(v) => pb::AttributeProto {
                        name: (*k).into(),
                        ints: v.clone(),
                        r#type: 7,
                        ..Default::default()
                    },
                    Attr::Floats(v) => pb::AttributeProto {
                        name: (*k).into(),
                        floats: v.clone(),
                        r#type: 6,
                        ..Default::default()
                    },
                    Attr::S(v) => pb::AttributeProto {
                        name: (*k).into(),
                        s: v.as_bytes().to_vec(),
                        r#type: 3,
                        ..Default::default()
                    },
                    Attr::G(g) => pb::AttributeProto {
                        name: (*k).into(),
                        g: Some(g.clone()),
                        r#type: 5,
                        ..Default::default()
                    },
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

/// A subgraph (a control-flow body) with float inputs and outputs.
pub fn body(
    inputs: &[(&str, &[i64])],
    outputs: &[(&str, &[i64])],
    nodes: &[N<'_>],
    inits: Vec<pb::TensorProto>,
) -> pb::GraphProto {
    pb::GraphProto {
        name: "body".into(),
        node: nodes_pb(nodes),
        initializer: inits,
        input: inputs.iter().map(|(n, s)| value_info(n, s)).collect(),
        output: outputs.iter().map(|(n, s)| value_info(n, s)).collect(),
        ..Default::default()
    }
}

/// An int64 initializer of any shape (index tensors).
pub fn tensor_i64_shaped(name: &str, dims: &[i64], data: Vec<i64>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 7,
        int64_data: data,
        ..Default::default()
    }
}

/// An integer initializer of ONNX element type `data_type` (2 uint8, 3 int8, 6 int32, ...).
pub fn tensor_int(name: &str, dims: &[i64], data_type: i32, data: Vec<i32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type,
        int32_data: data,
        ..Default::default()
    }
}

/// Encodes a one-input, one-output model.
pub fn model(
    input: (&str, &[i64]),
    output: (&str, &[i64]),
    nodes: &[N<'_>],
    inits: Vec<pb::TensorProto>,
) -> Vec<u8> {
    let node = nodes_pb(nodes);
    let m = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 18,
        }],
        graph: Some(pb::GraphProto {
            name: "test".into(),
            node,
            initializer: inits,
            input: vec![value_info(input.0, input.1)],
            output: vec![value_info(output.0, output.1)],
            ..Default::default()
        }),
        ..Default::default()
    };
    m.encode_to_vec()
}

/// Deterministic pseudo-random floats in [-scale, scale).
pub fn rand_vec(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A model touching every operator of this milestone: MatMul, Add/Sub/Mul by constants,
/// Reshape, Flatten, Identity, Constant, a standalone Relu and Gemm.
pub fn mixed_model() -> Vec<u8> {
    mixed_model_seeded(0)
}

/// [`mixed_model`] with other weights (seed 0 is `mixed_model` itself).
pub fn mixed_model_seeded(seed: u64) -> Vec<u8> {
    let s = 100 * seed;
    model(
        ("x", &[1, 2, 4]),
        ("y", &[1, 3]),
        &[
            N {
                op: "Flatten",
                name: "flat",
                inputs: &["x"],
                output: "f",
                attrs: vec![],
            },
            N {
                op: "MatMul",
                name: "mm",
                inputs: &["f", "W1"],
                output: "h",
                attrs: vec![],
            },
            N {
                op: "Add",
                name: "bias",
                inputs: &["h", "b1"],
                output: "h2",
                attrs: vec![],
            },
            N {
                op: "Relu",
                name: "relu1",
                inputs: &["h2"],
                output: "a1",
                attrs: vec![],
            },
            N {
                op: "Mul",
                name: "scale",
                inputs: &["c", "a1"],
                output: "s",
                attrs: vec![],
            },
            N {
                op: "Sub",
                name: "shift",
                inputs: &["s", "off"],
                output: "t",
                attrs: vec![],
            },
            N {
                op: "Identity",
                name: "id",
                inputs: &["t"],
                output: "t2",
                attrs: vec![],
            },
            N {
                op: "Reshape",
                name: "rs",
                inputs: &["t2", "shape"],
                output: "r",
                attrs: vec![],
            },
            N {
                op: "Relu",
                name: "relu2",
                inputs: &["r"],
                output: "a2",
                attrs: vec![],
            },
            N {
                op: "Gemm",
                name: "out",
                inputs: &["a2", "W2"],
                output: "y",
                attrs: vec![("transB", Attr::I(1))],
            },
        ],
        vec![
            tensor("W1", &[8, 5], rand_vec(7 + s, 40, 0.8)),
            tensor("b1", &[5], rand_vec(8 + s, 5, 0.3)),
            tensor("c", &[5], rand_vec(9 + s, 5, 1.5)),
            tensor("off", &[1], vec![0.2]),
            tensor_i64("shape", vec![1, -1]),
            tensor("W2", &[3, 5], rand_vec(10 + s, 15, 0.7)),
        ],
    )
}

/// A two-layer perceptron (8 inputs, 5 hidden with ReLU, 3 outputs): the shape the lean
/// layout takes.
pub fn mlp_seeded(seed: u64) -> Vec<u8> {
    let s = 100 * seed;
    model(
        ("x", &[1, 8]),
        ("y", &[1, 3]),
        &[
            N {
                op: "Gemm",
                name: "fc1",
                inputs: &["x", "W1", "b1"],
                output: "h",
                attrs: vec![("transB", Attr::I(1))],
            },
            N {
                op: "Relu",
                name: "relu",
                inputs: &["h"],
                output: "a",
                attrs: vec![],
            },
            N {
                op: "Gemm",
                name: "fc2",
                inputs: &["a", "W2", "b2"],
                output: "y",
                attrs: vec![("transB", Attr::I(1))],
            },
        ],
        vec![
            tensor("W1", &[5, 8], rand_vec(11 + s, 40, 0.8)),
            tensor("b1", &[5], rand_vec(12 + s, 5, 0.3)),
            tensor("W2", &[3, 5], rand_vec(13 + s, 15, 0.7)),
            tensor("b2", &[3], rand_vec(14 + s, 3, 0.2)),
        ],
    )
}

/// A model whose quantized graph holds every primitive: linear maps, rescales with and without
/// ReLU and an identity one, products of two computed tensors (elementwise, and a sum of five:
/// the dot product of two activations), a function table, a division and a square root of
/// computed values, clips (one a ReLU6 its map's rescale applies, one shifted), a residual
/// sum with a ReLU that reads a map's accumulator unrounded, and rewiring.
pub fn every_primitive() -> Vec<u8> {
    let nodes = [
        node(
            "Gemm",
            &["x", "w1", "b1"],
            "h",
            vec![("transB", Attr::I(1))],
        ),
        node("Relu", &["h"], "r", vec![]),
        node("Sigmoid", &["h"], "s", vec![]),
        node("Mul", &["r", "s"], "p", vec![]),
        // A sum of two computed tensors at one scale: an exact map whose rescale is the
        // identity (no rows of its own on the pooled layout).
        node("Add", &["p", "r"], "pr", vec![]),
        node("Sqrt", &["s"], "q", vec![]),
        node("Add", &["q", "one"], "q1", vec![]),
        node("Div", &["pr", "q1"], "d", vec![]),
        node(
            "Transpose",
            &["d"],
            "dt",
            vec![("perm", Attr::Ints(vec![1, 0]))],
        ),
        node("Flatten", &["dt"], "df", vec![("axis", Attr::I(0))]),
        node(
            "Gemm",
            &["df", "w2", "b2"],
            "g",
            vec![("transB", Attr::I(1))],
        ),
        // A clip of a map's output (a ReLU6: applied by the map's rescale) and one of a
        // function's, shifted (`lo + clamp(s − lo)`, an exact rescale of its own).
        node("Clip", &["g", "zero", "six"], "gc", vec![]),
        node("Clip", &["s", "lo", "hi"], "sc", vec![]),
        node(
            "Transpose",
            &["sc"],
            "st",
            vec![("perm", Attr::Ints(vec![1, 0]))],
        ),
        node("MatMul", &["r", "st"], "rs", vec![]),
        node("Add", &["gc", "rs"], "y0", vec![]),
        // A residual sum with a ReLU (`relu(Gemm(x) + x)`): the sum reads the map's
        // accumulator unrounded and rounds once, in its own rescale.
        node(
            "Gemm",
            &["x", "w3", "b3"],
            "u",
            vec![("transB", Attr::I(1))],
        ),
        node("Add", &["u", "x"], "ux", vec![]),
        node("Relu", &["ux"], "ur", vec![]),
        node("Gemm", &["ur", "w4"], "v", vec![("transB", Attr::I(1))]),
        node("Add", &["y0", "v"], "y", vec![]),
    ];
    model(
        ("x", &[1, 6]),
        ("y", &[1, 3]),
        &nodes,
        vec![
            tensor("w1", &[5, 6], rand_vec(1, 30, 0.6)),
            tensor("b1", &[5], rand_vec(2, 5, 0.2)),
            tensor("one", &[1], vec![1.0]),
            tensor("w2", &[3, 5], rand_vec(3, 15, 0.6)),
            tensor("b2", &[3], rand_vec(4, 3, 0.2)),
            tensor("zero", &[], vec![0.0]),
            tensor("six", &[], vec![0.4]),
            tensor("lo", &[], vec![0.45]),
            tensor("hi", &[], vec![0.6]),
            tensor("w3", &[6, 6], rand_vec(5, 36, 0.6)),
            tensor("b3", &[6], rand_vec(6, 6, 0.2)),
            tensor("w4", &[3, 6], rand_vec(7, 18, 0.6)),
        ],
    )
}

/// Two convolutions whose windows fall into several classes of shared weights: a 3×3 Conv with
/// padding (the interior windows read every input, each border its own subset) and a 3×3
/// ConvTranspose of stride 2 (each output's taps depend on its position's parity), a ReLU
/// between.
pub fn padded_convs() -> Vec<u8> {
    let ints = |v: &[i64]| Attr::Ints(v.to_vec());
    let nodes = [
        node(
            "Conv",
            &["x", "w1", "b1"],
            "c",
            vec![
                ("kernel_shape", ints(&[3, 3])),
                ("pads", ints(&[1, 1, 1, 1])),
            ],
        ),
        node("Relu", &["c"], "r", vec![]),
        node(
            "ConvTranspose",
            &["r", "w2", "b2"],
            "y",
            vec![
                ("kernel_shape", ints(&[3, 3])),
                ("strides", ints(&[2, 2])),
                ("pads", ints(&[1, 1, 1, 1])),
            ],
        ),
    ];
    model(
        ("x", &[1, 2, 4, 4]),
        ("y", &[1, 2, 7, 7]),
        &nodes,
        vec![
            tensor("w1", &[3, 2, 3, 3], rand_vec(11, 54, 0.5)),
            tensor("b1", &[3], rand_vec(12, 3, 0.1)),
            tensor("w2", &[3, 2, 3, 3], rand_vec(13, 54, 0.5)),
            tensor("b2", &[2], rand_vec(14, 2, 0.1)),
        ],
    )
}
