//! The operator registry: every ONNX operator the importer lowers, the family of lowerings
//! that handles it and how it is proved. The importer dispatches through this table only, so
//! the list of supported operators (`zkonnx ops`, `docs/OPERATORS.md`) is the registry itself.
//!
//! An operator may be listed by several families (a `Gather` by constant indices is a
//! rewiring, by computed indices a lookup): they are tried in the order of [`FAMILIES`], and
//! the first that takes the node lowers it.

use tract_onnx::pb;

use super::tensor::{OverBudget, MAX_ELEMENTS};
use super::{Importer, Value};

/// A family's lowering: `Ok(None)` when the node is not of a form this family handles.
pub(crate) type Lower =
    fn(&mut Importer, &pb::NodeProto, &str) -> Result<Option<Vec<Value>>, String>;

/// One registered operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    /// ONNX operator name.
    pub name: &'static str,
    /// Its domain (`""` for the default `ai.onnx`, or `"ai.onnx.ml"`).
    pub domain: &'static str,
    /// The family of lowerings.
    pub family: &'static str,
    /// How it is proved, and its limits.
    pub note: &'static str,
}

/// A family of lowerings and the operators it handles.
pub(crate) struct Family {
    pub name: &'static str,
    pub lower: Lower,
    pub ops: &'static [(&'static str, &'static str, &'static str)],
}

const ML: &str = "ai.onnx.ml";
const MS: &str = "com.microsoft";

/// Every family, in dispatch order.
pub(crate) const FAMILIES: &[Family] = &[
    Family {
        name: "logic",
        lower: Importer::lower_logic_op,
        ops: &[
            (
                "Greater",
                "",
                "sign of a range-checked difference (one step of 2^-scale)",
            ),
            ("Less", "", "sign of a range-checked difference"),
            ("GreaterOrEqual", "", "sign of a range-checked difference"),
            ("LessOrEqual", "", "sign of a range-checked difference"),
            ("Equal", "", "two signs: equal quantized values"),
            ("Not", "", "1 − x"),
            ("And", "", "a sign of a + b − 1"),
            ("Or", "", "a sign of a + b"),
            ("Xor", "", "two signs of a + b"),
            ("Sign", "", "two signs"),
            ("Floor", "", "range-checked division by 2^scale"),
            ("Ceil", "", "−floor(−x)"),
            (
                "Round",
                "",
                "floor(x + 1/2), less 1 on an odd tie (ties to even, as ONNX)",
            ),
            ("Mod", "", "by a constant divisor: a − b·floor(a/b)"),
            (
                "Cast",
                "",
                "to an integer type: truncation by floor; to bool: nonzero",
            ),
            (
                "CastLike",
                "",
                "as Cast, to the second input's type (float when computed)",
            ),
            ("IsNaN", "", "always 0: quantized values are finite"),
            ("IsInf", "", "always 0: quantized values are finite"),
            ("Where", "", "computed condition: b + c·(a − b)"),
            (
                "ArgMax",
                "",
                "first maximum: a max tree with a sign per pair, the one-hot down the tree",
            ),
            ("ArgMin", "", "ArgMax of −x"),
            ("Hardmax", "", "one-hot of the first maximum"),
            (
                "TopK",
                "",
                "constant K: K rounds of a max tree and a first-max one-hot (sorted)",
            ),
            (
                "Gather",
                "",
                "computed indices: constant data by lookup in a table of its entries, or one-hot rows (equalities) dotted with the data, whichever is smaller",
            ),
            (
                "GatherElements",
                "",
                "constant indices: rewiring; computed: constant data by lookup, or one-hot rows",
            ),
            (
                "OneHot",
                "",
                "equalities with every position; constant depth and values",
            ),
        ],
    },
    Family {
        name: "control flow",
        lower: Importer::lower_control_op,
        ops: &[
            (
                "Scan",
                "",
                "unrolled along the scan axis (opset ≥ 9); the body lowered per iteration",
            ),
            (
                "Loop",
                "",
                "unrolled: a constant trip count, or a condition known at import time",
            ),
            (
                "If",
                "",
                "constant condition: its branch; computed: both branches, selected",
            ),
        ],
    },
    Family {
        name: "quantization",
        lower: Importer::lower_quant_op,
        ops: &[
            (
                "QuantizeLinear",
                "",
                "constant: folded; computed: round(x/scale) + zero point, clipped to its type",
            ),
            (
                "DequantizeLinear",
                "",
                "constant: folded; computed: affine; per tensor or per axis",
            ),
        ],
    },
    Family {
        name: "composite",
        lower: Importer::lower_composite_op,
        ops: &[
            (
                "MeanVarianceNormalization",
                "",
                "(x − mean) / sqrt(mean of squared deviations), the variance at double precision",
            ),
            ("CenterCropPad", "", "Slice and Pad (rewiring)"),
            ("LpPool", "", "|x|^p, AveragePool, times the window, ^(1/p)"),
            (
                "GroupNormalization",
                "",
                "InstanceNormalization of the [N, G, −1] view, per-channel or per-group affine",
            ),
            ("BitShift", "", "constant shifts: a product, or the floor of a quotient"),
            ("EyeLike", "", "a constant"),
            (
                "NegativeLogLikelihoodLoss",
                "",
                "GatherElements at the target, class weights, ignore_index, sum or weighted mean",
            ),
            (
                "SoftmaxCrossEntropyLoss",
                "",
                "LogSoftmax over the classes, then NegativeLogLikelihoodLoss",
            ),
        ],
    },
    Family {
        name: "qlinear",
        lower: Importer::lower_qlinear_op,
        ops: &[
            (
                "DynamicQuantizeLinear",
                "",
                "scale and zero point from the tensor's maxima, a division, Round, Clip",
            ),
            ("MatMulInteger", "", "zero-point shifts, then MatMul"),
            ("ConvInteger", "", "zero-point shifts, then Conv"),
            ("QLinearConv", "", "Conv between DequantizeLinear and QuantizeLinear"),
            ("QLinearMatMul", "", "MatMul between DequantizeLinear and QuantizeLinear"),
            ("QGemm", MS, "Gemm between DequantizeLinear and QuantizeLinear"),
            ("QLinearAdd", MS, "Add between DequantizeLinear and QuantizeLinear"),
            ("QLinearMul", MS, "Mul between DequantizeLinear and QuantizeLinear"),
            ("QLinearSigmoid", MS, "Sigmoid between DequantizeLinear and QuantizeLinear"),
            ("QLinearLeakyRelu", MS, "LeakyRelu between DequantizeLinear and QuantizeLinear"),
            ("QLinearSoftmax", MS, "Softmax between DequantizeLinear and QuantizeLinear"),
            ("QLinearAveragePool", MS, "AveragePool between DequantizeLinear and QuantizeLinear"),
            (
                "QLinearGlobalAveragePool",
                MS,
                "GlobalAveragePool between DequantizeLinear and QuantizeLinear",
            ),
            ("QLinearConcat", MS, "Concat of dequantized inputs, quantized"),
        ],
    },
    Family {
        name: "indexing",
        lower: Importer::lower_scatter_op,
        ops: &[
            ("GatherND", "", "constant indices: rewiring (batch_dims included)"),
            (
                "ScatterElements",
                "",
                "constant indices: rewiring; reduction add a linear map, max/min a max tree, mul a product tree; computed indices (none, add): one-hot rows, updates applied in order",
            ),
            ("Scatter", "", "as ScatterElements"),
            (
                "ScatterND",
                "",
                "constant indices: rewiring; reduction add a linear map, max/min a max tree, mul a product tree",
            ),
        ],
    },
    Family {
        name: "recurrent",
        lower: Importer::lower_recurrent_op,
        ops: &[
            (
                "LSTM",
                "",
                "unrolled; gates through the function tables; no peepholes or clip",
            ),
            ("GRU", "", "unrolled; both linear_before_reset forms"),
            ("RNN", "", "unrolled"),
        ],
    },
    Family {
        name: "classical ML",
        lower: Importer::lower_ml_op,
        ops: &[
            (
                "TreeEnsembleClassifier",
                ML,
                "one sign per split, one per leaf; integer labels",
            ),
            (
                "TreeEnsembleRegressor",
                ML,
                "one sign per split, one per leaf; SUM or AVERAGE",
            ),
            (
                "LinearClassifier",
                ML,
                "dense map, argmax label; integer labels",
            ),
            ("LinearRegressor", ML, "dense map"),
            (
                "SVMRegressor",
                ML,
                "kernels (linear, poly, RBF, sigmoid) as a linear map and a function; one_class",
            ),
            (
                "SVMClassifier",
                ML,
                "pairwise decisions, votes, first most-voted label; no probabilities",
            ),
            ("Scaler", ML, "affine"),
            ("Normalizer", ML, "MAX, L1 or L2 norm and a division"),
            (
                "ArrayFeatureExtractor",
                ML,
                "constant indices: rewiring; computed: one-hot",
            ),
            ("Binarizer", ML, "a sign"),
            (
                "LabelEncoder",
                ML,
                "numeric keys and values: an equality per key, then a linear map",
            ),
            ("Imputer", ML, "identity: quantized inputs are finite"),
            (
                "ZipMap",
                ML,
                "refused with advice: a map cannot be proved (disable zipmap)",
            ),
        ],
    },
    Family {
        name: "resampling",
        lower: Importer::lower_spatial_op,
        ops: &[
            (
                "Resize",
                "",
                "nearest (rewiring); linear and cubic, antialiased or cropped (constant weights); constant scales or sizes",
            ),
            ("Upsample", "", "nearest or linear"),
            (
                "GridSample",
                "",
                "constant grid: nearest (rewiring weights), linear and cubic as constant weights; zeros, border, reflection; 2-D and 3-D",
            ),
            ("Trilu", "", "rewiring with zeros; constant k"),
            ("DepthToSpace", "", "rewiring (DCR and CRD)"),
            ("SpaceToDepth", "", "rewiring"),
            ("CumSum", "", "constant weights; exclusive and reverse"),
            (
                "NonZero",
                "",
                "constants only (a computed one has a data-dependent shape)",
            ),
            ("Range", "", "constants only"),
        ],
    },
    Family {
        name: "signal",
        lower: Importer::lower_signal_op,
        ops: &[
            (
                "DFT",
                "",
                "constant length and axis: cosines and sines as constant weights; onesided, inverse, complex",
            ),
            (
                "STFT",
                "",
                "constant frame step, length and window: a DFT of every windowed frame",
            ),
        ],
    },
    Family {
        name: "shape",
        lower: Importer::lower_shape_op,
        ops: &[
            ("Constant", "", "folded"),
            ("Identity", "", "rewiring"),
            ("Dropout", "", "identity (inference); training mode refused"),
            ("Cast", "", "to a float type: identity; constants folded"),
            (
                "CastLike",
                "",
                "to a float type: identity; constants folded",
            ),
            ("Shape", "", "folded"),
            ("Size", "", "folded"),
            ("ConstantOfShape", "", "folded"),
            ("Reshape", "", "rewiring"),
            ("Flatten", "", "rewiring"),
            ("Squeeze", "", "rewiring"),
            ("Unsqueeze", "", "rewiring"),
            ("Transpose", "", "rewiring"),
            ("ReverseSequence", "", "rewiring; constant lengths"),
            ("Concat", "", "rewiring"),
            ("Split", "", "rewiring"),
            ("Slice", "", "rewiring"),
            ("Gather", "", "constant indices: rewiring"),
            ("Pad", "", "rewiring (constant, edge, reflect, wrap)"),
            ("Compress", "", "constant condition: rewiring"),
            ("Expand", "", "rewiring"),
            ("Tile", "", "rewiring"),
            ("Where", "", "constant condition: rewiring"),
        ],
    },
    Family {
        name: "linear",
        lower: Importer::lower_linear_op,
        ops: &[
            (
                "Gemm",
                "",
                "constant weights (either operand): packed multiply-adds",
            ),
            (
                "MatMul",
                "",
                "constant weights, or two computed operands (products)",
            ),
            (
                "Einsum",
                "",
                "any equation: rewiring, sums and batched MatMuls (constant or computed operands)",
            ),
            ("Conv", "", "constant weights"),
            ("ConvTranspose", "", "constant weights"),
            ("AveragePool", "", "constant weights"),
            ("GlobalAveragePool", "", "constant weights"),
            ("MaxPool", "", "a tree of ReLU maxima"),
            ("GlobalMaxPool", "", "a tree of ReLU maxima"),
            ("ReduceMean", "", "constant weights"),
            ("ReduceSum", "", "constant weights"),
            ("ReduceMax", "", "a tree of ReLU maxima"),
            ("ReduceMin", "", "a tree of ReLU maxima"),
            ("ReduceSumSquare", "", "products"),
            (
                "ReduceProd",
                "",
                "pairwise products, log₂ of the group deep",
            ),
            ("ReduceL1", "", "|x| by a ReLU, then a sum"),
            ("ReduceL2", "", "products and an exact square root"),
            ("ReduceLogSum", "", "a sum and the log table"),
            ("ReduceLogSumExp", "", "max + log Σ exp(x − max)"),
            (
                "BatchNormalization",
                "",
                "constant statistics: folded into an affine map; computed: exact square root and division",
            ),
            ("LayerNormalization", "", "exact division and square root"),
            (
                "LRN",
                "",
                "squares summed over a channel window, a power table, a product",
            ),
            (
                "InstanceNormalization",
                "",
                "exact division and square root",
            ),
            (
                "Softmax",
                "",
                "max, exp table, exact division; additive masks (−∞, or constants ≤ −1e4) left out",
            ),
            ("LogSoftmax", "", "max, exp and log tables"),
        ],
    },
    Family {
        name: "elementwise",
        lower: Importer::lower_elementwise_op,
        ops: &[
            ("Add", "", "linear"),
            ("Sub", "", "linear"),
            ("Mul", "", "constant: affine; computed: products"),
            (
                "Div",
                "",
                "constant divisor: affine; computed: exact division (positive)",
            ),
            ("Sum", "", "linear"),
            ("Mean", "", "linear"),
            ("Max", "", "ReLU of the difference"),
            ("Min", "", "ReLU of the difference"),
            (
                "Pow",
                "",
                "constant exponent (2, 3, 0.5, −1 exact; others by table) or constant base",
            ),
            ("Sqrt", "", "exact integer square root"),
            ("Reciprocal", "", "exact division"),
            ("Relu", "", "sign of the quotient"),
            ("LeakyRelu", "", "ReLU and linear"),
            ("PRelu", "", "ReLU and linear; constant slope"),
            ("Clip", "", "a clamp (both bounds), or ReLUs"),
            ("Abs", "", "ReLU and linear"),
            ("Neg", "", "linear"),
            ("HardSigmoid", "", "affine and a clamp"),
            ("Sigmoid", "", "lookup table"),
            ("Tanh", "", "lookup table"),
            ("Exp", "", "lookup table"),
            ("Log", "", "lookup table"),
            ("Erf", "", "lookup table"),
            ("Gelu", "", "lookup table (exact and tanh forms)"),
            ("Softplus", "", "lookup table"),
            ("Softsign", "", "lookup table"),
            ("Elu", "", "lookup table"),
            ("Selu", "", "lookup table"),
            ("Celu", "", "lookup table"),
            ("HardSwish", "", "lookup table"),
            ("Mish", "", "lookup table"),
            ("ThresholdedRelu", "", "a comparison and a product (exact at the jump)"),
            ("Shrink", "", "two comparisons and products (exact at the jumps)"),
            ("Sin", "", "lookup table"),
            ("Cos", "", "lookup table"),
            ("Tan", "", "lookup table"),
            ("Asin", "", "lookup table"),
            ("Acos", "", "lookup table"),
            ("Atan", "", "lookup table"),
            ("Sinh", "", "lookup table"),
            ("Cosh", "", "lookup table"),
            ("Asinh", "", "lookup table"),
            ("Acosh", "", "lookup table"),
            ("Atanh", "", "lookup table"),
        ],
    },
];

/// Whether the importer knows this operator (a node may still be refused for its form).
pub(crate) fn is_known(op: &str) -> bool {
    FAMILIES.iter().any(|f| f.ops.iter().any(|o| o.0 == op))
}

/// Lowers a node through the families that list its operator, in order.
pub(crate) fn lower(imp: &mut Importer, node: &pb::NodeProto) -> Result<Vec<Value>, String> {
    quiet_budget_unwinds();
    // A lowering that meets a tensor over the size budget unwinds (see `tensor::numel`); any
    // other unwinding is a malformed node the lowering's checks missed. Both become the
    // node's error instead of a crash.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(imp, node))) {
        Ok(r) => r,
        Err(p) => Err(match p.downcast_ref::<OverBudget>() {
            Some(OverBudget(shape)) => format!(
                "a tensor of shape {shape:?} is over the importer's budget of {MAX_ELEMENTS} elements"
            ),
            None => {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                format!("malformed node (its operands do not fit its attributes: {msg})")
            }
        }),
    }
}

/// Keeps the budget's unwinding out of the panic hook's output (it is an error, reported as
/// such); every other panic is still printed.
fn quiet_budget_unwinds() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<OverBudget>().is_none() {
                prev(info);
            }
        }));
    });
}

impl Importer {
    /// Lowers operator `op` (with `attrs`) on values already computed, as a node of the graph
    /// holding them would be: a composite operator (a quantized or fused one) is its parts,
    /// each lowered by the registry. Its inputs' names (and element types, `types[k]` for
    /// input `k` where known: a zero point's sets its range) are bound for the call only.
    pub(crate) fn lower_as(
        &mut self,
        op: &str,
        inputs: Vec<Option<Value>>,
        types: &[Option<i32>],
        attrs: Vec<pb::AttributeProto>,
    ) -> Result<Vec<Value>, String> {
        // Unique over the process: a composite lowered inside another cannot unbind its
        // caller's names.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let names: Vec<String> = inputs
            .iter()
            .enumerate()
            .map(|(k, v)| match v {
                Some(_) => format!("\u{1}{op}#{call}#{k}"),
                None => String::new(),
            })
            .collect();
        for (k, (n, v)) in names.iter().zip(inputs).enumerate() {
            if let Some(v) = v {
                self.bind(n, v);
                if let Some(&Some(t)) = types.get(k) {
                    self.dtypes.insert(n.clone(), t);
                }
            }
        }
        let node = pb::NodeProto {
            op_type: op.into(),
            input: names.clone(),
            output: vec![format!("\u{1}{op}#out")],
            attribute: attrs,
            ..Default::default()
        };
        let r = dispatch(self, &node);
        for n in names.iter().filter(|n| !n.is_empty()) {
            self.unbind(n);
            self.dtypes.remove(n);
        }
        r
    }
}

/// An integer attribute.
pub(crate) fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        i: v,
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        ..Default::default()
    }
}

fn dispatch(imp: &mut Importer, node: &pb::NodeProto) -> Result<Vec<Value>, String> {
    let op = node.op_type.as_str();
    for f in FAMILIES {
        if f.ops.iter().any(|o| o.0 == op) {
            if let Some(v) = (f.lower)(imp, node, op)? {
                return Ok(v);
            }
        }
    }
    Err("operator not supported in this form".into())
}

/// Every supported operator, once, sorted by name (the first family listing it names it;
/// the notes of all families that handle it are joined).
pub fn supported_ops() -> Vec<OpInfo> {
    let mut out: Vec<OpInfo> = Vec::new();
    for f in FAMILIES {
        for &(name, domain, note) in f.ops {
            if out.iter().any(|o| o.name == name) {
                continue;
            }
            out.push(OpInfo {
                name,
                domain,
                family: f.name,
                note,
            });
        }
    }
    out.sort_by_key(|o| (o.domain, o.name));
    out
}

/// The notes of every family for an operator (for the documentation table).
pub fn notes(name: &str) -> Vec<&'static str> {
    FAMILIES
        .iter()
        .flat_map(|f| f.ops.iter().filter(|o| o.0 == name).map(|o| o.2))
        .collect()
}

/// The Markdown table of supported operators (`docs/OPERATORS.md`).
pub fn markdown() -> String {
    let ops = supported_ops();
    let mut s = String::from(
        "# Supported ONNX operators\n\nGenerated from the importer's registry \
         (`zkonnx ops --markdown`); a test keeps this file equal to it.\n\n\
         | operator | domain | family | how it is proved |\n| --- | --- | --- | --- |\n",
    );
    for o in &ops {
        let domain = if o.domain.is_empty() {
            "ai.onnx"
        } else {
            o.domain
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            o.name,
            domain,
            o.family,
            notes(o.name).join("; ")
        ));
    }
    s.push_str(&format!("\n{} operators.\n", ops.len()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family recognises every operator it registers: lowering a node without inputs
    /// is an error about its form, never "not this family's" (`Ok(None)`), so the registry
    /// and the lowerings cannot drift apart.
    #[test]
    fn every_registered_operator_is_handled_by_its_family() {
        for f in FAMILIES {
            for &(name, domain, _) in f.ops {
                let node = pb::NodeProto {
                    op_type: name.into(),
                    domain: domain.into(),
                    ..Default::default()
                };
                let mut imp = Importer {
                    opset: 18,
                    ..Importer::default()
                };
                let r = (f.lower)(&mut imp, &node, name);
                assert!(
                    !matches!(r, Ok(None)),
                    "{name} is registered for {} but that family does not handle it",
                    f.name
                );
            }
        }
    }

    /// `docs/OPERATORS.md` is the registry's table (regenerate with `zkonnx ops --markdown`).
    #[test]
    fn the_docs_table_is_generated_from_the_registry() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/OPERATORS.md");
        let doc = std::fs::read_to_string(&path).expect("docs/OPERATORS.md");
        assert_eq!(
            doc,
            markdown(),
            "docs/OPERATORS.md is stale: run `zkonnx ops --markdown > docs/OPERATORS.md`"
        );
    }

    #[test]
    fn the_list_has_each_operator_once() {
        let ops = supported_ops();
        let mut names: Vec<&str> = ops.iter().map(|o| o.name).collect();
        names.dedup();
        assert_eq!(names.len(), ops.len());
        assert!(ops
            .iter()
            .any(|o| o.name == "TreeEnsembleClassifier" && o.domain == ML));
    }
}
