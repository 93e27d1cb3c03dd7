//! ONNX import: reads the protobuf with tract-onnx and lowers it to the Graph IR.
//!
//! Constants (initializers, `Constant` nodes and shape arithmetic on them) are folded
//! at import time; every remaining node works on the one dynamic tensor flow that starts
//! at the graph input. Unsupported nodes are all collected and reported at once.

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb;
use tract_onnx::prelude::{Framework, Tensor};

use crate::error::{CircuitsError, Result, UnsupportedNode};
use crate::ir::{Graph, Node, Op};

/// A value known at import time.
#[derive(Debug, Clone)]
struct Const {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// What an ONNX value name refers to.
#[derive(Debug, Clone)]
enum Value {
    Const(Const),
    Dyn(usize),
}

/// Loads an ONNX file and lowers it to the Graph IR.
pub fn import_onnx(path: &Path) -> Result<Graph> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| CircuitsError::Io {
        path: p.clone(),
        source,
    })?;
    let proto = tract_onnx::onnx()
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(|e| CircuitsError::NotOnnx {
            path: p.clone(),
            reason: format!("{e:#}"),
        })?;
    let graph = proto.graph.as_ref().ok_or_else(|| CircuitsError::NotOnnx {
        path: p.clone(),
        reason: "the file has no graph".into(),
    })?;
    if graph.node.is_empty() {
        return Err(CircuitsError::NotOnnx {
            path: p,
            reason: "the graph has no nodes".into(),
        });
    }
    Importer::default().run(graph)
}

#[derive(Default)]
struct Importer {
    values: HashMap<String, Value>,
    nodes: Vec<Node>,
    unsupported: Vec<UnsupportedNode>,
    /// Outputs of nodes that failed to lower: their consumers are not reported again.
    poisoned: std::collections::HashSet<String>,
}

/// Operators the importer knows (a node of these may still be rejected for its form).
const KNOWN_OPS: &[&str] = &[
    "Constant", "Identity", "Dropout", "Reshape", "Flatten", "Gemm", "MatMul", "Add", "Sub", "Mul",
    "Relu",
];

fn load_const(t: &pb::TensorProto) -> std::result::Result<Const, String> {
    let tensor: Tensor =
        tract_onnx::tensor::load_tensor(&tract_onnx::data_resolver::MmapDataResolver, t, None)
            .map_err(|e| format!("{e:#}"))?;
    to_const(&tensor)
}

fn to_const(tensor: &Tensor) -> std::result::Result<Const, String> {
    let shape = tensor.shape().to_vec();
    let as_f32 = tensor.cast_to::<f32>().map_err(|e| {
        format!(
            "cannot use a {:?} tensor as numbers: {e:#}",
            tensor.datum_type()
        )
    })?;
    let data = as_f32
        .to_plain_array_view::<f32>()
        .map_err(|e| format!("{e:#}"))?
        .iter()
        .copied()
        .collect();
    Ok(Const { shape, data })
}

fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_i(node: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

fn attr_f(node: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

/// Broadcasts `c` (numpy rules) to `shape`; `None` if the shapes are incompatible.
fn broadcast_to(c: &Const, shape: &[usize]) -> Option<Vec<f32>> {
    if c.shape.len() > shape.len() {
        // Leading ones in the constant are fine.
        let extra = c.shape.len() - shape.len();
        if c.shape[..extra].iter().any(|&d| d != 1) {
            return None;
        }
        return broadcast_to(
            &Const {
                shape: c.shape[extra..].to_vec(),
                data: c.data.clone(),
            },
            shape,
        );
    }
    let pad = shape.len() - c.shape.len();
    let cshape: Vec<usize> = std::iter::repeat_n(1, pad)
        .chain(c.shape.iter().copied())
        .collect();
    for (cd, d) in cshape.iter().zip(shape) {
        if *cd != 1 && cd != d {
            return None;
        }
    }
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..total {
        let mut off = 0;
        for (ax, &i) in idx.iter().enumerate() {
            let ci = if cshape[ax] == 1 { 0 } else { i };
            off = off * cshape[ax] + ci;
        }
        out.push(c.data[off]);
        for ax in (0..shape.len()).rev() {
            idx[ax] += 1;
            if idx[ax] < shape[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    Some(out)
}

/// Resolves an ONNX Reshape target (with 0 = copy and -1 = infer).
fn reshape_target(
    input: &[usize],
    target: &[f32],
    allowzero: bool,
) -> std::result::Result<Vec<usize>, String> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        let t = t as i64;
        match t {
            -1 => {
                if infer.replace(i).is_some() {
                    return Err("more than one -1 in the target shape".into());
                }
                out.push(1);
            }
            0 if !allowzero => out.push(
                *input
                    .get(i)
                    .ok_or("0 in the target shape past the input's rank")?,
            ),
            t if t >= 0 => out.push(t as usize),
            t => return Err(format!("invalid dimension {t} in the target shape")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {target:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!(
            "cannot reshape {input:?} ({total} values) to {out:?}"
        ));
    }
    Ok(out)
}

impl Importer {
    fn run(mut self, graph: &pb::GraphProto) -> Result<Graph> {
        for init in &graph.initializer {
            let c = load_const(init).map_err(|e| {
                CircuitsError::InvalidModel(format!("initializer '{}': {e}", init.name))
            })?;
            self.values.insert(init.name.clone(), Value::Const(c));
        }
        let inputs: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !self.values.contains_key(&i.name))
            .collect();
        if inputs.len() != 1 {
            return Err(CircuitsError::InvalidModel(format!(
                "zkonnx supports models with exactly one input; this one has {} ({})",
                inputs.len(),
                inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let shape = input_shape(inputs[0])?;
        self.nodes.push(Node {
            name: inputs[0].name.clone(),
            op_type: "Input".into(),
            op: Op::Input,
            inputs: vec![],
            shape,
        });
        self.values.insert(inputs[0].name.clone(), Value::Dyn(0));

        for (i, node) in graph.node.iter().enumerate() {
            let known = KNOWN_OPS.contains(&node.op_type.as_str());
            let after_failure = node.input.iter().any(|n| self.poisoned.contains(n));
            let result = if after_failure {
                // Its input could not be imported: report the op only if it is unknown itself.
                Err(if known { None } else { Some(String::new()) })
            } else {
                self.lower(node).map_err(Some)
            };
            if let Err(reason) = result {
                self.poisoned.extend(node.output.iter().cloned());
                if let Some(reason) = reason {
                    let name = if !node.name.is_empty() {
                        node.name.clone()
                    } else {
                        format!(
                            "#{i} (output '{}')",
                            node.output.first().map_or("", String::as_str)
                        )
                    };
                    let reason = if known || !reason.is_empty() {
                        reason
                    } else {
                        "operator not supported".into()
                    };
                    self.unsupported.push(UnsupportedNode {
                        name,
                        op_type: node.op_type.clone(),
                        reason,
                    });
                }
            }
        }
        if !self.unsupported.is_empty() {
            return Err(CircuitsError::Unsupported(self.unsupported));
        }
        if graph.output.len() != 1 {
            return Err(CircuitsError::InvalidModel(format!(
                "zkonnx supports models with exactly one output; this one has {}",
                graph.output.len()
            )));
        }
        let out_name = &graph.output[0].name;
        let output = match self.values.get(out_name) {
            Some(Value::Dyn(i)) => *i,
            Some(Value::Const(_)) => {
                return Err(CircuitsError::InvalidModel(format!(
                    "output '{out_name}' does not depend on the input"
                )))
            }
            None => {
                return Err(CircuitsError::InvalidModel(format!(
                    "output '{out_name}' is not produced by any node"
                )))
            }
        };
        if output == 0 {
            return Err(CircuitsError::InvalidModel(
                "the model computes nothing (its output is its input)".into(),
            ));
        }
        Ok(Graph {
            nodes: self.nodes,
            output,
        })
    }

    fn get(&self, name: &str) -> std::result::Result<&Value, String> {
        self.values
            .get(name)
            .ok_or_else(|| format!("input '{name}' is not defined before this node"))
    }

    fn push(
        &mut self,
        node: &pb::NodeProto,
        op: Op,
        inputs: Vec<usize>,
        shape: Vec<usize>,
    ) -> std::result::Result<(), String> {
        let out = node.output.first().ok_or("node has no output")?;
        self.nodes.push(Node {
            name: if node.name.is_empty() {
                out.clone()
            } else {
                node.name.clone()
            },
            op_type: node.op_type.clone(),
            op,
            inputs,
            shape,
        });
        self.values
            .insert(out.clone(), Value::Dyn(self.nodes.len() - 1));
        Ok(())
    }

    fn set_const(&mut self, node: &pb::NodeProto, c: Const) -> std::result::Result<(), String> {
        let out = node.output.first().ok_or("node has no output")?;
        self.values.insert(out.clone(), Value::Const(c));
        Ok(())
    }

    fn lower(&mut self, node: &pb::NodeProto) -> std::result::Result<(), String> {
        let ins: Vec<&str> = node.input.iter().map(String::as_str).collect();
        match node.op_type.as_str() {
            "Constant" => {
                let c = if let Some(a) = attr(node, "value") {
                    load_const(a.t.as_ref().ok_or("Constant without a tensor value")?)?
                } else if let Some(a) = attr(node, "value_float") {
                    Const {
                        shape: vec![],
                        data: vec![a.f],
                    }
                } else if let Some(a) = attr(node, "value_floats") {
                    Const {
                        shape: vec![a.floats.len()],
                        data: a.floats.clone(),
                    }
                } else if let Some(a) = attr(node, "value_int") {
                    Const {
                        shape: vec![],
                        data: vec![a.i as f32],
                    }
                } else if let Some(a) = attr(node, "value_ints") {
                    Const {
                        shape: vec![a.ints.len()],
                        data: a.ints.iter().map(|&v| v as f32).collect(),
                    }
                } else {
                    return Err("Constant with an unsupported value attribute".into());
                };
                self.set_const(node, c)
            }
            "Identity" | "Dropout" => {
                let v = self.get(ins.first().ok_or("no input")?)?.clone();
                match v {
                    Value::Const(c) => self.set_const(node, c),
                    Value::Dyn(i) => {
                        let out = node.output.first().ok_or("node has no output")?;
                        self.values.insert(out.clone(), Value::Dyn(i));
                        Ok(())
                    }
                }
            }
            "Reshape" | "Flatten" => {
                let v = self.get(ins.first().ok_or("no input")?)?.clone();
                let in_shape = match &v {
                    Value::Const(c) => c.shape.clone(),
                    Value::Dyn(i) => self.nodes[*i].shape.clone(),
                };
                let shape = if node.op_type == "Flatten" {
                    let rank = in_shape.len() as i64;
                    let mut axis = attr_i(node, "axis", 1);
                    if axis < 0 {
                        axis += rank;
                    }
                    if !(0..=rank).contains(&axis) {
                        return Err(format!("axis {axis} out of range for rank {rank}"));
                    }
                    let a = axis as usize;
                    vec![
                        in_shape[..a].iter().product(),
                        in_shape[a..].iter().product(),
                    ]
                } else {
                    let target = match self.get(ins.get(1).ok_or("Reshape needs a shape input")?)? {
                        Value::Const(c) => c.data.clone(),
                        Value::Dyn(_) => return Err("the target shape must be a constant".into()),
                    };
                    reshape_target(&in_shape, &target, attr_i(node, "allowzero", 0) != 0)?
                };
                match v {
                    Value::Const(c) => self.set_const(
                        node,
                        Const {
                            shape,
                            data: c.data,
                        },
                    ),
                    Value::Dyn(i) => self.push(node, Op::Reshape, vec![i], shape),
                }
            }
            "Gemm" => self.lower_gemm(node, &ins),
            "MatMul" => self.lower_matmul(node, &ins),
            "Add" | "Sub" | "Mul" => self.lower_binary(node, &ins),
            "Relu" => match self.get(ins.first().ok_or("no input")?)?.clone() {
                Value::Dyn(i) => {
                    let shape = self.nodes[i].shape.clone();
                    self.push(node, Op::Relu, vec![i], shape)
                }
                Value::Const(c) => self.set_const(
                    node,
                    Const {
                        shape: c.shape,
                        data: c.data.iter().map(|x| x.max(0.0)).collect(),
                    },
                ),
            },
            _ => Err(String::new()),
        }
    }

    fn lower_gemm(
        &mut self,
        node: &pb::NodeProto,
        ins: &[&str],
    ) -> std::result::Result<(), String> {
        let alpha = attr_f(node, "alpha", 1.0);
        let beta = attr_f(node, "beta", 1.0);
        let trans_a = attr_i(node, "transA", 0) != 0;
        let trans_b = attr_i(node, "transB", 0) != 0;
        if ins.len() < 2 {
            return Err("Gemm needs inputs A and B".into());
        }
        let a = match self.get(ins[0])? {
            Value::Dyn(i) => *i,
            Value::Const(_) => {
                return Err(
                    "a constant A operand is not supported (A must depend on the input)".into(),
                )
            }
        };
        let b = match self.get(ins[1])? {
            Value::Const(c) => c.clone(),
            Value::Dyn(_) => return Err("B must be a constant weight matrix".into()),
        };
        let a_shape = self.nodes[a].shape.clone();
        if a_shape.len() != 2 {
            return Err(format!("A must be 2-D, got shape {a_shape:?}"));
        }
        if trans_a && a_shape[1] != 1 {
            return Err("transA=1 is supported only for a single row".into());
        }
        let (m, k) = if trans_a {
            (a_shape[1], a_shape[0])
        } else {
            (a_shape[0], a_shape[1])
        };
        if b.shape.len() != 2 {
            return Err(format!("B must be 2-D, got shape {:?}", b.shape));
        }
        let (bk, n) = if trans_b {
            (b.shape[1], b.shape[0])
        } else {
            (b.shape[0], b.shape[1])
        };
        if bk != k {
            return Err(format!("A is {m}x{k} but B gives {bk}x{n}"));
        }
        let mut weight = vec![0f32; n * k];
        for o in 0..n {
            for i in 0..k {
                let v = if trans_b {
                    b.data[o * k + i]
                } else {
                    b.data[i * n + o]
                };
                weight[o * k + i] = alpha * v;
            }
        }
        let bias = match ins.get(2).filter(|s| !s.is_empty()) {
            None => None,
            Some(name) => match self.get(name)? {
                Value::Const(c) => {
                    let full = broadcast_to(c, &[m, n]).ok_or_else(|| {
                        format!("C of shape {:?} does not broadcast to [{m}, {n}]", c.shape)
                    })?;
                    // Rows must share the bias for a Dense op.
                    if (1..m).any(|r| full[r * n..(r + 1) * n] != full[..n]) {
                        return Err("a bias that differs between rows is not supported".into());
                    }
                    Some(full[..n].iter().map(|x| beta * x).collect())
                }
                Value::Dyn(_) => return Err("C must be a constant".into()),
            },
        };
        self.push(
            node,
            Op::Dense {
                weight,
                bias,
                out_features: n,
                in_features: k,
            },
            vec![a],
            vec![m, n],
        )
    }

    fn lower_matmul(
        &mut self,
        node: &pb::NodeProto,
        ins: &[&str],
    ) -> std::result::Result<(), String> {
        if ins.len() != 2 {
            return Err("MatMul needs two inputs".into());
        }
        let (a, b) = match (self.get(ins[0])?, self.get(ins[1])?) {
            (Value::Dyn(a), Value::Const(b)) => (*a, b.clone()),
            (Value::Dyn(_), Value::Dyn(_)) => {
                return Err("a product of two computed tensors is not supported yet".into())
            }
            _ => {
                return Err(
                    "the left operand must depend on the input and the right one be constant"
                        .into(),
                )
            }
        };
        let a_shape = self.nodes[a].shape.clone();
        if b.shape.len() != 2 {
            return Err(format!(
                "the constant operand must be 2-D, got shape {:?}",
                b.shape
            ));
        }
        let (k, n) = (b.shape[0], b.shape[1]);
        let Some((&last, lead)) = a_shape.split_last() else {
            return Err("a scalar left operand is not supported".into());
        };
        if last != k {
            return Err(format!(
                "shapes {a_shape:?} and {:?} do not multiply",
                b.shape
            ));
        }
        let mut weight = vec![0f32; n * k];
        for o in 0..n {
            for i in 0..k {
                weight[o * k + i] = b.data[i * n + o];
            }
        }
        let mut shape = lead.to_vec();
        shape.push(n);
        self.push(
            node,
            Op::Dense {
                weight,
                bias: None,
                out_features: n,
                in_features: k,
            },
            vec![a],
            shape,
        )
    }

    fn lower_binary(
        &mut self,
        node: &pb::NodeProto,
        ins: &[&str],
    ) -> std::result::Result<(), String> {
        if ins.len() != 2 {
            return Err("needs two inputs".into());
        }
        let (l, r) = (self.get(ins[0])?.clone(), self.get(ins[1])?.clone());
        let op = node.op_type.as_str();
        match (l, r) {
            (Value::Const(a), Value::Const(b)) => {
                let shape = if a.shape.len() >= b.shape.len() {
                    a.shape.clone()
                } else {
                    b.shape.clone()
                };
                let (av, bv) = match (broadcast_to(&a, &shape), broadcast_to(&b, &shape)) {
                    (Some(x), Some(y)) => (x, y),
                    _ => return Err("constant operands do not broadcast".into()),
                };
                let data = av
                    .iter()
                    .zip(&bv)
                    .map(|(x, y)| match op {
                        "Add" => x + y,
                        "Sub" => x - y,
                        _ => x * y,
                    })
                    .collect();
                self.set_const(node, Const { shape, data })
            }
            (Value::Dyn(_), Value::Dyn(_)) => Err(
                "an elementwise operation between two computed tensors is not supported yet".into(),
            ),
            (Value::Dyn(i), Value::Const(c)) | (Value::Const(c), Value::Dyn(i)) => {
                let x_first = matches!(self.get(ins[0])?, Value::Dyn(_));
                let shape = self.nodes[i].shape.clone();
                let cv = broadcast_to(&c, &shape).ok_or_else(|| {
                    format!("constant of shape {:?} does not broadcast to the input's shape {shape:?} (broadcasting that grows the computed tensor is not supported)", c.shape)
                })?;
                let len = cv.len();
                let (mul, add) = match (op, x_first) {
                    ("Add", _) => (vec![1.0; len], cv),
                    ("Sub", true) => (vec![1.0; len], cv.iter().map(|v| -v).collect()),
                    ("Sub", false) => (vec![-1.0; len], cv),
                    _ => (cv, vec![0.0; len]),
                };
                self.push(node, Op::Affine { mul, add }, vec![i], shape)
            }
        }
    }
}

fn input_shape(vi: &pb::ValueInfoProto) -> Result<Vec<usize>> {
    use pb::tensor_shape_proto::dimension::Value as D;
    use pb::type_proto::Value as T;
    let t = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(T::TensorType(t)) => t,
        _ => {
            return Err(CircuitsError::InvalidModel(format!(
                "input '{}' is not a tensor",
                vi.name
            )))
        }
    };
    let dims = t.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or(&[]);
    dims.iter()
        .map(|d| match &d.value {
            Some(D::DimValue(v)) if *v > 0 => Ok(*v as usize),
            // A symbolic (batch) dimension proves one item at a time.
            Some(D::DimParam(_)) | None => Ok(1),
            Some(D::DimValue(v)) => Err(CircuitsError::InvalidModel(format!(
                "input '{}' has an invalid dimension {v}",
                vi.name
            ))),
        })
        .collect()
}
