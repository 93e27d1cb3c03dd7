//! ONNX import: reads the protobuf with tract-onnx and lowers it to the Graph IR.
//!
//! Constants (initializers, `Constant` nodes, `Shape` of computed tensors and arithmetic on
//! them) are folded at import time; every remaining node works on tensors that depend on the
//! graph input. Each ONNX operator lowers to the IR's primitives (see [`crate::ir`]); the
//! operators are grouped by kind: `shape_ops` (rewiring), `linear_ops` (convolution,
//! pooling, products, normalisation) and `elementwise_ops` (activations and arithmetic).
//! Unsupported nodes are all collected and reported at once.

mod build;
mod composite_ops;
mod control_ops;
mod einsum;
mod elementwise_ops;
mod external;
mod grid_sample;
mod linear_ops;
mod logic_ops;
mod lrn;
mod mask;
mod ml_ops;
mod qlinear;
mod quant_ops;
mod recurrent_ops;
pub mod registry;
mod resize;
mod scatter_ops;
mod shape_ops;
mod signal_ops;
mod spatial_ops;
mod svm_ops;
pub mod tensor;
mod topk;
mod tournament;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use tract_onnx::pb;
use tract_onnx::prelude::{Framework, Tensor};

use crate::error::{CircuitsError, Result, UnsupportedNode};
use crate::ir::{ElemKind, Graph, IoSpec, Node, Op, Ref};

/// A value known at import time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Const {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// What an ONNX value name refers to.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Const(Const),
    Dyn(usize),
}

/// Loads an ONNX file and lowers it to the Graph IR.
pub fn import_onnx(path: &Path) -> Result<Graph> {
    import_onnx_with_data(path).map(|(g, _)| g)
}

/// Loads an ONNX file and lowers it to the Graph IR; also returns the external data files its
/// initializers were read from (beside the model, in the order first referenced).
pub fn import_onnx_with_data(path: &Path) -> Result<(Graph, Vec<std::path::PathBuf>)> {
    import_onnx_with_dims(path, &BTreeMap::new())
}

/// The graph inputs of the ONNX file at `path` as [`import_onnx`] reads them (every symbolic
/// dimension 1, its name kept), without lowering the graph: what binding symbolic dimensions
/// from an input file needs where the unbound graph does not import (a reshape to the bound
/// batch's size).
pub fn input_specs(path: &Path) -> Result<Vec<IoSpec>> {
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
        path: p,
        reason: "the file has no graph".into(),
    })?;
    let inits: HashSet<&str> = graph.initializer.iter().map(|i| i.name.as_str()).collect();
    graph
        .input
        .iter()
        .filter(|i| !inits.contains(i.name.as_str()))
        .map(|vi| io_spec(vi, None, &BTreeMap::new()))
        .collect()
}

/// [`import_onnx_with_data`] with values for the graph inputs' symbolic dimensions, by name (a
/// dynamic batch of 3: `{"batch_size": 3}`); a symbolic dimension not named is 1.
pub fn import_onnx_with_dims(
    path: &Path,
    dims: &BTreeMap<String, usize>,
) -> Result<(Graph, Vec<std::path::PathBuf>)> {
    if let Some((name, &v)) = dims
        .iter()
        .find(|(_, &v)| v == 0 || v as i64 > MAX_INPUT_DIM)
    {
        return Err(CircuitsError::InvalidInput(format!(
            "dimension '{name}' = {v} is outside 1..={MAX_INPUT_DIM}"
        )));
    }
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| CircuitsError::Io {
        path: p.clone(),
        source,
    })?;
    let mut proto = tract_onnx::onnx()
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(|e| CircuitsError::NotOnnx {
            path: p.clone(),
            reason: format!("{e:#}"),
        })?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let files = match proto.graph.as_mut() {
        Some(g) => external::inline_external(g, dir.unwrap_or(Path::new(".")))?,
        None => Vec::new(),
    };
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
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(13, |o| o.version);
    let g = Importer {
        opset,
        dims: dims.clone(),
        ..Importer::default()
    }
    .run(graph)?;
    Ok((g, files))
}

#[derive(Default)]
pub(crate) struct Importer {
    pub opset: i64,
    values: HashMap<String, Value>,
    pub nodes: Vec<Node>,
    /// Masked elements (an additive attention mask, `mask`): such an element holds a stand-in
    /// and its constant offset is kept here; a softmax leaves it out.
    pub masked: HashMap<usize, mask::Mask>,
    unsupported: Vec<UnsupportedNode>,
    /// Outputs of nodes that failed to lower: their consumers are not reported again.
    poisoned: HashSet<String>,
    /// Name of the ONNX node being lowered (every IR node it emits carries it).
    pub cur_name: String,
    /// Its operator.
    pub cur_op: String,
    /// Body nodes lowered by control flow so far (bounded by `control_ops::MAX_UNROLLED` over
    /// the whole model, nested bodies included).
    pub unrolled: usize,
    /// Values of the graph inputs' symbolic dimensions, by name (unnamed: 1).
    pub dims: BTreeMap<String, usize>,
    /// ONNX element type (`data_type`) of constants whose type matters (a zero point's sets
    /// the range of a quantized value): initializers and `Constant` nodes.
    pub dtypes: HashMap<String, i32>,
    /// The operator and inputs of the ONNX node each value came from (the main graph's), for
    /// exporters' idioms that read several nodes back (`sign(t)·relu(|t|)`).
    pub producers: HashMap<String, (String, Vec<String>)>,
}

/// Operators an additive −∞ mask may pass on its way to a softmax (they keep track of it).
const MASK_PASSES: &[&str] = &[
    "Softmax",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Identity",
    "Dropout",
    "Flatten",
    "Slice",
    "Concat",
    "Expand",
    "Where",
];

/// Largest one-hot lookup (computed indices × entries of the axis read) the importer builds.
pub(crate) const MAX_ONE_HOT: usize = 1 << 20;

pub(crate) fn load_const(t: &pb::TensorProto) -> std::result::Result<Const, String> {
    let tensor: Tensor =
        tract_onnx::tensor::load_tensor(&tract_onnx::data_resolver::MmapDataResolver, t, None)
            .map_err(|e| format!("{e:#}"))?;
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

pub(crate) fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

pub(crate) fn attr_i(node: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

pub(crate) fn attr_f(node: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

pub(crate) fn attr_ints(node: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

pub(crate) fn attr_s(node: &pb::NodeProto, name: &str, default: &str) -> String {
    attr(node, name).map_or(default.to_string(), |a| {
        String::from_utf8_lossy(&a.s).into_owned()
    })
}

impl Importer {
    fn run(mut self, graph: &pb::GraphProto) -> Result<Graph> {
        for init in &graph.initializer {
            let c = load_const(init).map_err(|e| {
                CircuitsError::InvalidModel(format!("initializer '{}': {e}", init.name))
            })?;
            self.values.insert(init.name.clone(), Value::Const(c));
            self.dtypes.insert(init.name.clone(), init.data_type);
        }
        let inputs: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !self.values.contains_key(&i.name))
            .collect();
        if inputs.is_empty() {
            return Err(CircuitsError::InvalidModel(
                "the model has no input (every graph input is an initializer)".into(),
            ));
        }
        let specs = inputs
            .iter()
            .map(|vi| io_spec(vi, None, &self.dims))
            .collect::<Result<Vec<_>>>()?;
        for vi in &inputs {
            if let Some(pb::type_proto::Value::TensorType(t)) =
                vi.r#type.as_ref().and_then(|t| t.value.as_ref())
            {
                self.dtypes.insert(vi.name.clone(), t.elem_type);
            }
        }
        self.declare_inputs(&specs);
        for (i, node) in graph.node.iter().enumerate() {
            let known = registry::is_known(&node.op_type);
            let after_failure = node.input.iter().any(|n| self.poisoned.contains(n));
            self.cur_name = if !node.name.is_empty() {
                node.name.clone()
            } else {
                format!(
                    "#{i} (output '{}')",
                    node.output.first().map_or("", String::as_str)
                )
            };
            self.cur_op = node.op_type.clone();
            let mask_reaches = !after_failure
                && known
                && !MASK_PASSES.contains(&node.op_type.as_str())
                && node.input.iter().any(|n| {
                    matches!(self.values.get(n), Some(Value::Dyn(i)) if self.masked.contains_key(i))
                });
            let result = if mask_reaches {
                // Any other reader gets the masked elements' real values, if they have them.
                self.materialize_inputs(node).map_err(Some)
            } else {
                Ok(())
            };
            let result = if let Err(e) = result {
                Err(e)
            } else if after_failure {
                // Its input could not be imported: report the op only if it is unknown itself.
                Err(if known { None } else { Some(String::new()) })
            } else if !known {
                Err(Some(String::new()))
            } else {
                let mark = self.nodes.len();
                let r = self.lower(node);
                if r.is_err() {
                    self.nodes.truncate(mark);
                }
                r.map_err(Some)
            };
            match result {
                Ok(outs) => {
                    if let Some(t) = self.output_dtype(node) {
                        // Split's outputs all keep the type; others type their first.
                        let n = if node.op_type == "Split" {
                            node.output.len()
                        } else {
                            1
                        };
                        for o in node.output.iter().take(n).filter(|o| !o.is_empty()) {
                            self.dtypes.insert(o.clone(), t);
                        }
                    }
                    for (name, v) in node.output.iter().zip(outs) {
                        if !name.is_empty() {
                            self.values.insert(name.clone(), v);
                            self.producers
                                .insert(name.clone(), (node.op_type.clone(), node.input.clone()));
                        }
                    }
                }
                Err(reason) => {
                    self.poisoned.extend(node.output.iter().cloned());
                    if let Some(reason) = reason {
                        let reason = if known || !reason.is_empty() {
                            reason
                        } else {
                            "operator not supported".into()
                        };
                        self.unsupported.push(UnsupportedNode {
                            name: self.cur_name.clone(),
                            op_type: node.op_type.clone(),
                            reason,
                        });
                    }
                }
            }
        }
        if !self.unsupported.is_empty() {
            return Err(CircuitsError::Unsupported(self.unsupported));
        }
        if graph.output.is_empty() {
            return Err(CircuitsError::InvalidModel(
                "the model has no output".into(),
            ));
        }
        let mut outs = Vec::with_capacity(graph.output.len());
        let mut out_specs = Vec::with_capacity(graph.output.len());
        for vi in &graph.output {
            let name = &vi.name;
            let idx = match self.values.get(name) {
                Some(Value::Dyn(i)) => *i,
                Some(Value::Const(_)) => {
                    return Err(CircuitsError::InvalidModel(format!(
                        "output '{name}' does not depend on the input"
                    )))
                }
                None => {
                    return Err(CircuitsError::InvalidModel(format!(
                        "output '{name}' is not produced by any node"
                    )))
                }
            };
            out_specs.push(io_spec(vi, Some(&self.nodes[idx].shape), &self.dims)?);
            outs.push(idx);
        }
        for o in &mut outs {
            let name = self.nodes[*o].name.clone();
            *o = self
                .materialize_node(*o, &format!("output '{name}'"))
                .map_err(CircuitsError::InvalidModel)?;
        }
        let out_name = graph.output[0].name.clone();
        let output = self.concat_outputs(&outs);
        // The proof binds the output to computed cells: an output that is only rewired input or
        // constants gets an explicit identity computation.
        let output = if matches!(self.nodes[output].op, Op::Gather { .. } | Op::Input) {
            let shape = self.nodes[output].shape.clone();
            let n = shape.iter().product();
            self.cur_name = out_name.clone();
            self.cur_op = "Identity".into();
            self.emit(
                Op::Affine {
                    mul: vec![1.0; n],
                    add: vec![0.0; n],
                },
                vec![output],
                shape,
            )
        } else {
            output
        };
        Ok(build::prune(build::fold_affine_chains(build::fold_affine(
            Graph {
                nodes: self.nodes,
                output,
                inputs: specs,
                outputs: out_specs,
            },
        ))))
    }

    /// The ONNX element type a `Cast` (its `to`) or a `CastLike` (its second input's type,
    /// float where it is not known: a computed value) converts to.
    pub(crate) fn cast_target(&self, node: &pb::NodeProto) -> i64 {
        if node.op_type == "CastLike" {
            node.input
                .get(1)
                .and_then(|n| self.dtypes.get(n))
                .map_or(1, |&t| i64::from(t))
        } else {
            attr_i(node, "to", 1)
        }
    }

    /// The ONNX element type of a node's outputs where it follows from the node (its `to`,
    /// its constant, an index or truth value) or from its data input's type (an arithmetic or
    /// data-movement operator keeps it): integer division truncates, so `Div` must know when
    /// its operands are integers, shape arithmetic included.
    pub(crate) fn output_dtype(&self, node: &pb::NodeProto) -> Option<i32> {
        let input = |k: usize| {
            node.input
                .get(k)
                .filter(|n| !n.is_empty())
                .and_then(|n| self.dtypes.get(n))
                .copied()
        };
        match node.op_type.as_str() {
            "Cast" | "CastLike" => Some(self.cast_target(node) as i32),
            "Constant" => attr(node, "value")
                .and_then(|a| a.t.as_ref())
                .map(|t| t.data_type),
            "Shape" | "Size" | "ArgMax" | "ArgMin" | "NonZero" => Some(7),
            "Equal" | "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "Not" | "And"
            | "Or" | "Xor" | "IsNaN" | "IsInf" => Some(9),
            "Where" => input(1).or(input(2)),
            // Every input of the output's type.
            "Add" | "Sub" | "Mul" | "Div" | "Mod" | "Max" | "Min" | "Sum" | "Concat" | "MatMul"
            | "Einsum" | "Range" => (0..node.input.len()).find_map(input),
            // The data input first, then indices, axes, shapes or bounds.
            "Neg" | "Abs" | "Sign" | "Slice" | "Gather" | "GatherElements" | "GatherND"
            | "Reshape" | "Squeeze" | "Unsqueeze" | "Transpose" | "Pad" | "Expand" | "Tile"
            | "Identity" | "Flatten" | "ReduceSum" | "ReduceMin" | "ReduceMax" | "ReduceProd"
            | "Split" | "CumSum" | "Clip" | "ScatterND" | "ScatterElements" | "TopK"
            | "Compress" => input(0),
            _ => None,
        }
    }

    /// Binds `name` to `v` (a lowering's scratch name: see `lower_as`).
    pub(crate) fn bind(&mut self, name: &str, v: Value) {
        self.values.insert(name.to_string(), v);
    }

    /// Removes a binding made by [`Importer::bind`].
    pub(crate) fn unbind(&mut self, name: &str) {
        self.values.remove(name);
    }

    pub(crate) fn get(&self, name: &str) -> std::result::Result<&Value, String> {
        self.values
            .get(name)
            .ok_or_else(|| format!("input '{name}' is not defined before this node"))
    }

    /// The node's `i`-th input, if present and not empty.
    pub(crate) fn input(
        &self,
        node: &pb::NodeProto,
        i: usize,
    ) -> std::result::Result<Option<Value>, String> {
        match node.input.get(i) {
            Some(n) if !n.is_empty() => Ok(Some(self.get(n)?.clone())),
            _ => Ok(None),
        }
    }

    /// The node's `i`-th input, required.
    pub(crate) fn req(&self, node: &pb::NodeProto, i: usize) -> std::result::Result<Value, String> {
        self.input(node, i)?
            .ok_or_else(|| format!("input {i} is missing"))
    }

    /// A constant input (shape arguments and the like).
    pub(crate) fn const_input(
        &self,
        node: &pb::NodeProto,
        i: usize,
        what: &str,
    ) -> std::result::Result<Option<Const>, String> {
        match self.input(node, i)? {
            None => Ok(None),
            Some(Value::Const(c)) => Ok(Some(c)),
            Some(Value::Dyn(_)) => Err(format!(
                "{what} must be a constant (it depends on the input here)"
            )),
        }
    }

    pub(crate) fn shape_of(&self, v: &Value) -> Vec<usize> {
        match v {
            Value::Const(c) => c.shape.clone(),
            Value::Dyn(i) => self.nodes[*i].shape.clone(),
        }
    }

    /// Pushes an IR node for the current ONNX node; returns its index.
    pub(crate) fn emit(&mut self, op: Op, inputs: Vec<usize>, shape: Vec<usize>) -> usize {
        self.nodes.push(Node {
            name: self.cur_name.clone(),
            op_type: self.cur_op.clone(),
            op,
            inputs,
            shape,
            wide: false,
            bound: None,
            nonpositive: false,
        });
        self.nodes.len() - 1
    }

    fn lower(&mut self, node: &pb::NodeProto) -> std::result::Result<Vec<Value>, String> {
        registry::lower(self, node)
    }
}

/// An ONNX graph input or output: its name, shape and element type. A symbolic (batch)
/// dimension proves one item at a time; `known` is the computed shape of an output.
fn io_spec(
    vi: &pb::ValueInfoProto,
    known: Option<&[usize]>,
    dims: &BTreeMap<String, usize>,
) -> Result<IoSpec> {
    use pb::tensor_shape_proto::dimension::Value as D;
    use pb::type_proto::Value as T;
    let t = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(T::TensorType(t)) => t,
        None if known.is_some() => {
            return Ok(IoSpec {
                name: vi.name.clone(),
                shape: known.unwrap_or_default().to_vec(),
                kind: ElemKind::Float,
                dim_params: Vec::new(),
            })
        }
        _ => {
            return Err(CircuitsError::InvalidModel(format!(
                "'{}' is not a tensor (sequences and maps are not supported; for sklearn \
                 models convert with zipmap disabled)",
                vi.name
            )))
        }
    };
    let kind = match t.elem_type {
        // float, float16, double, bfloat16 (0: undeclared)
        0 | 1 | 10 | 11 | 16 => ElemKind::Float,
        2..=7 | 12 | 13 => ElemKind::Int,
        9 => ElemKind::Bool,
        other => {
            return Err(CircuitsError::InvalidModel(format!(
                "'{}' has element type {other} (strings and complex numbers are not supported)",
                vi.name
            )))
        }
    };
    let axes = t.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or(&[]);
    let dim_params = match known {
        Some(_) => Vec::new(),
        None => axes
            .iter()
            .map(|d| match &d.value {
                Some(D::DimParam(p)) if !p.is_empty() => Some(p.clone()),
                _ => None,
            })
            .collect(),
    };
    let shape = match known {
        Some(s) => s.to_vec(),
        None => axes
            .iter()
            .map(|d| match &d.value {
                Some(D::DimValue(v)) if *v > 0 && *v <= MAX_INPUT_DIM => Ok(*v as usize),
                Some(D::DimParam(p)) => Ok(dims.get(p).copied().unwrap_or(1)),
                None => Ok(1),
                Some(D::DimValue(v)) => Err(CircuitsError::InvalidModel(format!(
                    "input '{}' has an invalid dimension {v}",
                    vi.name
                ))),
            })
            .collect::<Result<Vec<_>>>()?,
    };
    if known.is_none()
        && shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .is_none_or(|n| n > MAX_INPUT_LEN)
    {
        return Err(CircuitsError::InvalidModel(format!(
            "input '{}' of shape {shape:?} is larger than zkonnx proves ({MAX_INPUT_LEN} values)",
            vi.name
        )));
    }
    Ok(IoSpec {
        name: vi.name.clone(),
        shape,
        kind,
        dim_params,
    })
}

/// Largest dimension of a declared input.
const MAX_INPUT_DIM: i64 = 1 << 24;
/// Largest number of input values.
const MAX_INPUT_LEN: usize = 1 << 24;

impl Importer {
    /// Node 0 holds every input; with several inputs each is a rewiring of its part of it.
    fn declare_inputs(&mut self, specs: &[IoSpec]) {
        let total: usize = specs.iter().map(IoSpec::len).sum();
        let (name, shape) = if specs.len() == 1 {
            (specs[0].name.clone(), specs[0].shape.clone())
        } else {
            (
                specs
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
                vec![total],
            )
        };
        self.nodes.push(Node {
            name,
            op_type: "Input".into(),
            op: Op::Input,
            inputs: vec![],
            shape,
            wide: false,
            bound: None,
            nonpositive: false,
        });
        if specs.len() == 1 {
            self.values.insert(specs[0].name.clone(), Value::Dyn(0));
            return;
        }
        let mut at = 0u32;
        for spec in specs {
            self.cur_name = spec.name.clone();
            self.cur_op = "Input".into();
            let n = spec.len() as u32;
            let map = (at..at + n).map(|i| Ref::In(0, i)).collect();
            let idx = self.emit(Op::Gather { map }, vec![0], spec.shape.clone());
            self.values.insert(spec.name.clone(), Value::Dyn(idx));
            at += n;
        }
    }

    /// One output tensor: the single output, or every output flattened and concatenated.
    fn concat_outputs(&mut self, outs: &[usize]) -> usize {
        if let [one] = outs {
            return *one;
        }
        let mut inputs: Vec<usize> = Vec::new();
        let mut map = Vec::new();
        for &o in outs {
            let slot = match inputs.iter().position(|&x| x == o) {
                Some(s) => s,
                None => {
                    inputs.push(o);
                    inputs.len() - 1
                }
            } as u32;
            map.extend((0..self.nodes[o].len() as u32).map(|i| Ref::In(slot, i)));
        }
        self.cur_name = "outputs".into();
        self.cur_op = "Concat".into();
        let len = map.len();
        self.emit(Op::Gather { map }, inputs, vec![len])
    }
}
