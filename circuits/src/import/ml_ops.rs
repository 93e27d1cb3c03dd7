//! Classical machine learning (`ai.onnx.ml`): tree ensembles, linear models, scalers and the
//! small helpers exporters put around them.
//!
//! A tree ensemble is evaluated without branching: every split is one comparison of a
//! feature with its threshold (a range-checked sign, [`Op::Step`]); a leaf is reached when
//! all the splits on its path went its way, which is one more comparison of their count; and
//! every score is a linear map of the leaf indicators with the leaf weights. The label is the
//! argmax of the scores, as onnxruntime computes it.

use tract_onnx::pb;

use super::build::{iota, Pick};
use super::tensor::numel;
use super::{attr, attr_i, attr_s, Importer, Value};
use crate::ir::{Func, Group, Linear, Mat, Op, Ref};

type R<T> = Result<T, String>;

pub(super) fn ints(node: &pb::NodeProto, name: &str) -> Vec<i64> {
    attr(node, name).map(|a| a.ints.clone()).unwrap_or_default()
}

pub(super) fn floats(node: &pb::NodeProto, name: &str) -> R<Vec<f32>> {
    if let Some(a) = attr(node, name) {
        return Ok(a.floats.clone());
    }
    match attr(node, &format!("{name}_as_tensor")).and_then(|a| a.t.as_ref()) {
        Some(t) => Ok(super::load_const(t)?.data),
        None => Ok(Vec::new()),
    }
}

fn strings(node: &pb::NodeProto, name: &str) -> Vec<String> {
    attr(node, name)
        .map(|a| {
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A sparse linear row: `(element, weight)` pairs.
type Row = Vec<(u32, f32)>;

/// The branching test of a split.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

fn mode(s: &str) -> R<Mode> {
    Ok(match s {
        "BRANCH_LEQ" => Mode::Leq,
        "BRANCH_LT" => Mode::Lt,
        "BRANCH_GTE" => Mode::Gte,
        "BRANCH_GT" => Mode::Gt,
        "BRANCH_EQ" => Mode::Eq,
        "BRANCH_NEQ" => Mode::Neq,
        "LEAF" => Mode::Leaf,
        m => return Err(format!("unknown node mode '{m}'")),
    })
}

/// A leaf: its path (split index, whether the split's test held) and its votes
/// `(target, weight)`.
type Leaf = (Vec<(usize, bool)>, Vec<(usize, f32)>);

/// Whether a split's test held, as `c + Σ coef · step[j]`.
type Truth = (f32, Vec<(usize, f32)>);

/// The trees of an ensemble.
struct Forest {
    /// Splits: `(feature, threshold, mode)`.
    splits: Vec<(usize, f32, Mode)>,
    /// Leaves: path and votes.
    leaves: Vec<Leaf>,
    trees: usize,
}

fn forest(node: &pb::NodeProto, prefix: &str, features: usize) -> R<Forest> {
    let tree = ints(node, "nodes_treeids");
    let id = ints(node, "nodes_nodeids");
    let feat = ints(node, "nodes_featureids");
    let modes = strings(node, "nodes_modes");
    let vals = floats(node, "nodes_values")?;
    let t_true = ints(node, "nodes_truenodeids");
    let t_false = ints(node, "nodes_falsenodeids");
    let n = tree.len();
    if [
        id.len(),
        feat.len(),
        modes.len(),
        vals.len(),
        t_true.len(),
        t_false.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return Err("the nodes_* attributes have different lengths".into());
    }
    let w_tree = ints(node, &format!("{prefix}_treeids"));
    let w_node = ints(node, &format!("{prefix}_nodeids"));
    let w_id = ints(node, &format!("{prefix}_ids"));
    let w_val = floats(node, &format!("{prefix}_weights"))?;
    if [w_node.len(), w_id.len(), w_val.len()]
        .iter()
        .any(|&l| l != w_tree.len())
    {
        return Err(format!("the {prefix}_* attributes have different lengths"));
    }
    let mut at: std::collections::HashMap<(i64, i64), usize> = Default::default();
    for k in 0..n {
        if at.insert((tree[k], id[k]), k).is_some() {
            return Err(format!("node {} of tree {} appears twice", id[k], tree[k]));
        }
    }
    let mut votes: std::collections::HashMap<usize, Vec<(usize, f32)>> = Default::default();
    for j in 0..w_tree.len() {
        let k = *at.get(&(w_tree[j], w_node[j])).ok_or_else(|| {
            format!(
                "a weight for missing node {} of tree {}",
                w_node[j], w_tree[j]
            )
        })?;
        let target = usize::try_from(w_id[j]).map_err(|_| "a negative class id".to_string())?;
        votes.entry(k).or_default().push((target, w_val[j]));
    }
    let mut trees: Vec<i64> = tree.clone();
    trees.sort_unstable();
    trees.dedup();
    let mut splits = Vec::new();
    let mut split_of = vec![usize::MAX; n];
    for k in 0..n {
        let m = mode(&modes[k])?;
        if m != Mode::Leaf {
            let f = usize::try_from(feat[k])
                .ok()
                .filter(|&f| f < features)
                .ok_or_else(|| {
                    format!(
                        "feature id {} out of range for {features} features",
                        feat[k]
                    )
                })?;
            split_of[k] = splits.len();
            splits.push((f, vals[k], m));
        }
    }
    let mut leaves = Vec::new();
    for &t in &trees {
        let root = *at
            .get(&(t, 0))
            .ok_or_else(|| format!("tree {t} has no node 0"))?;
        // Depth-first walk; a path longer than the node count means a cycle.
        let mut stack = vec![(root, Vec::new())];
        while let Some((k, path)) = stack.pop() {
            if path.len() > n {
                return Err(format!("tree {t} has a cycle"));
            }
            if split_of[k] == usize::MAX {
                // A tree reaches each leaf once: more leaves than nodes means shared children.
                if leaves.len() >= n {
                    return Err(format!("tree {t} is not a tree (a node is reached twice)"));
                }
                leaves.push((path, votes.remove(&k).unwrap_or_default()));
                continue;
            }
            let child = |c: i64| {
                at.get(&(t, c))
                    .copied()
                    .ok_or_else(|| format!("tree {t}: child {c} does not exist"))
            };
            let mut pt: Vec<(usize, bool)> = path.clone();
            pt.push((split_of[k], true));
            let mut pf = path;
            pf.push((split_of[k], false));
            stack.push((child(t_false[k])?, pf));
            stack.push((child(t_true[k])?, pt));
        }
    }
    Ok(Forest {
        splits,
        leaves,
        trees: trees.len(),
    })
}

impl Importer {
    pub(crate) fn lower_ml_op(&mut self, node: &pb::NodeProto, op: &str) -> R<Option<Vec<Value>>> {
        let out =
            match op {
                "TreeEnsembleClassifier" => self.tree_classifier(node)?,
                "TreeEnsembleRegressor" => vec![self.tree_regressor(node)?],
                "LinearClassifier" => self.linear_classifier(node)?,
                "SVMRegressor" => vec![self.svm_regressor(node)?],
                "SVMClassifier" => self.svm_classifier(node)?,
                "LinearRegressor" => {
                    let x = self.req(node, 0)?;
                    let (xi, rows, feats) = self.rows_of(x)?;
                    let w = floats(node, "coefficients")?;
                    let targets = usize::try_from(attr_i(node, "targets", 1)).unwrap_or(0);
                    let b = floats(node, "intercepts")?;
                    if targets == 0 || w.len() != targets * feats {
                        return Err(format!(
                            "{} coefficients for {targets} targets and {feats} features",
                            w.len()
                        ));
                    }
                    let y = self.dense_rows(xi, rows, feats, &w, targets, &b)?;
                    vec![self.post_transform(node, y, rows, targets)?]
                }
                "Scaler" => {
                    let x = self.req(node, 0)?;
                    let xi = self.dyn_of(&x, "the input")?;
                    let s = self.nodes[xi].shape.clone();
                    let c = *s.last().unwrap_or(&1);
                    let off = floats(node, "offset")?;
                    let sc = floats(node, "scale")?;
                    let pick = |v: &[f32], k: usize, d: f32| match v.len() {
                        0 => d,
                        1 => v[0],
                        _ => v[k % c],
                    };
                    let n = numel(&s);
                    let mul: Vec<f32> = (0..n).map(|k| pick(&sc, k, 1.0)).collect();
                    let add: Vec<f32> = (0..n)
                        .map(|k| -pick(&off, k, 0.0) * pick(&sc, k, 1.0))
                        .collect();
                    vec![Value::Dyn(self.affine(xi, mul, add))]
                }
                "Normalizer" => {
                    let x = self.req(node, 0)?;
                    let xi = self.dyn_of(&x, "the input")?;
                    vec![Value::Dyn(
                        self.normalize(xi, &attr_s(node, "norm", "MAX"))?,
                    )]
                }
                "ArrayFeatureExtractor" => {
                    let x = self.req(node, 0)?;
                    let idx = match self.req(node, 1)? {
                        Value::Const(c) => c,
                        dynamic => {
                            // Computed indices (a label looked up from the class list): a lookup
                            // along the last axis.
                            let rank = self.shape_of(&x).len();
                            return Ok(Some(vec![self.gather_dyn_axis(
                                x,
                                dynamic,
                                rank.saturating_sub(1),
                                false,
                            )?]));
                        }
                    };
                    let s = self.shape_of(&x);
                    let last = *s.last().ok_or("a scalar input")?;
                    let outer = numel(&s) / last.max(1);
                    let mut picks = Vec::new();
                    for o in 0..outer {
                        for &j in &idx.data {
                            let j = j as usize;
                            if j >= last {
                                return Err(format!("index {j} out of range for {last} columns"));
                            }
                            picks.push(Pick::V(0, (o * last + j) as u32));
                        }
                    }
                    let mut shape = s[..s.len() - 1].to_vec();
                    shape.push(idx.data.len());
                    vec![self.rewire(&[x], shape, &picks)]
                }
                "LabelEncoder" => vec![self.label_encoder(node)?],
                "Binarizer" => {
                    let x = self.req(node, 0)?;
                    let t = super::attr_f(node, "threshold", 0.0);
                    vec![self.step_shifted(x, -t)?]
                }
                "Imputer" => {
                    // Quantized inputs are always finite: there is nothing to impute.
                    vec![self.req(node, 0)?]
                }
                "ZipMap" => return Err(
                    "ZipMap outputs a map, which cannot be proved: convert with zipmap disabled \
                     (skl2onnx options {'zipmap': False})"
                        .into(),
                ),
                _ => return Ok(None),
            };
        Ok(Some(out))
    }

    /// A computed 2-D (or 1-D) input as `(node, rows, features)`.
    pub(super) fn rows_of(&mut self, x: Value) -> R<(usize, usize, usize)> {
        let xi = self.dyn_of(&x, "the input")?;
        let s = &self.nodes[xi].shape;
        let feats = *s.last().unwrap_or(&1);
        let rows = numel(s) / feats.max(1);
        Ok((xi, rows, feats))
    }

    /// `y[r, t] = Σ_f W[t, f] · x[r, f] + b[t]`.
    pub(super) fn dense_rows(
        &mut self,
        xi: usize,
        rows: usize,
        feats: usize,
        w: &[f32],
        out: usize,
        b: &[f32],
    ) -> R<usize> {
        let bias: Vec<f32> = (0..rows * out)
            .map(|k| match b.len() {
                0 => 0.0,
                1 => b[0],
                _ => b[k % out],
            })
            .collect();
        let map = Linear::dense(w.to_vec(), out, feats, rows);
        Ok(self.emit(
            Op::Linear {
                map,
                bias: Some(bias),
            },
            vec![xi],
            vec![rows, out],
        ))
    }

    /// The raw scores `[rows, targets]` of a tree ensemble (aggregated by sum or average).
    fn tree_scores(
        &mut self,
        node: &pb::NodeProto,
        prefix: &str,
        targets: usize,
    ) -> R<(usize, usize)> {
        let x = self.req(node, 0)?;
        let (xi, rows, feats) = self.rows_of(x)?;
        let f = forest(node, prefix, feats)?;
        let agg = attr_s(node, "aggregate_function", "SUM");
        let scale = match agg.as_str() {
            "SUM" => 1.0,
            "AVERAGE" => 1.0 / f.trees.max(1) as f32,
            a => return Err(format!("aggregate function {a} is not supported")),
        };
        if f.leaves
            .iter()
            .any(|(_, v)| v.iter().any(|&(t, _)| t >= targets))
        {
            return Err(format!(
                "a leaf votes for a target beyond the {targets} declared"
            ));
        }
        let base = floats(node, "base_values")?;
        let ns = f.splits.len();
        // Differences d (one or two per split and row) whose sign decides each split.
        let mut diff_rows: Vec<Row> = Vec::new();
        let mut diff_bias = Vec::new();
        // truth[r][k] = c + Σ coef · step[j]
        let mut truth: Vec<Vec<Truth>> = Vec::with_capacity(rows);
        for r in 0..rows {
            let mut tr = Vec::with_capacity(ns);
            for &(feat, t, m) in &f.splits {
                let e = (r * feats + feat) as u32;
                let mut push = |sign: f32| -> usize {
                    diff_rows.push(vec![(e, sign)]);
                    diff_bias.push(-sign * t);
                    diff_rows.len() - 1
                };
                tr.push(match m {
                    Mode::Gt => (0.0, vec![(push(1.0), 1.0)]), // x − t > 0
                    Mode::Leq => (1.0, vec![(push(1.0), -1.0)]),
                    Mode::Lt => (0.0, vec![(push(-1.0), 1.0)]), // t − x > 0
                    Mode::Gte => (1.0, vec![(push(-1.0), -1.0)]),
                    Mode::Eq => {
                        let (a, b) = (push(1.0), push(-1.0));
                        (1.0, vec![(a, -1.0), (b, -1.0)])
                    }
                    Mode::Neq => {
                        let (a, b) = (push(1.0), push(-1.0));
                        (0.0, vec![(a, 1.0), (b, 1.0)])
                    }
                    Mode::Leaf => unreachable!("leaves are not splits"),
                });
            }
            truth.push(tr);
        }
        let nd = diff_rows.len();
        // Constant leaves (a tree that is one leaf) fold into the base.
        let mut constant = vec![0f32; targets];
        let mut leaf_rows: Vec<Row> = Vec::new();
        let mut leaf_bias = Vec::new();
        let mut leaf_votes: Vec<&[(usize, f32)]> = Vec::new();
        for (r, tr) in truth.iter().enumerate() {
            for (path, votes) in &f.leaves {
                if path.is_empty() {
                    if r == 0 {
                        for &(t, w) in votes {
                            constant[t] += w;
                        }
                    }
                    continue;
                }
                // Σ over the path of (taken ? truth : 1 − truth) − |path| + 1 > 0
                let mut c = 1.0 - path.len() as f32;
                let mut row: std::collections::BTreeMap<usize, f32> = Default::default();
                for &(k, taken) in path {
                    let (c0, terms) = &tr[k];
                    let s = if taken { 1.0 } else { -1.0 };
                    c += if taken { *c0 } else { 1.0 - c0 };
                    for &(j, w) in terms {
                        *row.entry(j).or_default() += s * w;
                    }
                }
                leaf_rows.push(row.into_iter().map(|(j, w)| (j as u32, w)).collect());
                leaf_bias.push(c);
                leaf_votes.push(votes);
            }
        }
        let bias_of = |t: usize| -> f32 {
            (constant[t] * scale)
                + match base.len() {
                    0 => 0.0,
                    1 => base[0],
                    _ => base.get(t).copied().unwrap_or(0.0),
                }
        };
        if leaf_rows.is_empty() {
            return Err("the ensemble does not depend on its input".into());
        }
        let d = self.weighted(xi, &diff_rows, Some(diff_bias), vec![nd]);
        let steps = self.emit(Op::Step, vec![d], vec![nd]);
        let nlr = leaf_rows.len();
        let m = self.weighted(steps, &leaf_rows, Some(leaf_bias), vec![nlr]);
        let reached = self.emit(Op::Step, vec![m], vec![nlr]);
        let per_row = nlr / rows;
        let mut score_rows: Vec<Row> = Vec::with_capacity(rows * targets);
        let mut score_bias = Vec::with_capacity(rows * targets);
        for r in 0..rows {
            for t in 0..targets {
                let mut row = Vec::new();
                for l in 0..per_row {
                    let li = r * per_row + l;
                    let w: f32 = leaf_votes[li]
                        .iter()
                        .filter(|v| v.0 == t)
                        .map(|v| v.1)
                        .sum();
                    if w != 0.0 {
                        row.push((li as u32, w * scale));
                    }
                }
                score_rows.push(row);
                score_bias.push(bias_of(t));
            }
        }
        let s = self.weighted(reached, &score_rows, Some(score_bias), vec![rows, targets]);
        Ok((s, rows))
    }

    fn tree_regressor(&mut self, node: &pb::NodeProto) -> R<Value> {
        let targets = usize::try_from(attr_i(node, "n_targets", 1))
            .unwrap_or(0)
            .max(1);
        let (s, rows) = self.tree_scores(node, "target", targets)?;
        self.post_transform(node, s, rows, targets)
    }

    fn tree_classifier(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        let labels = self.class_labels(node)?;
        let nc = labels.len();
        let ids = ints(node, "class_ids");
        let weights = floats(node, "class_weights")?;
        let binary = nc == 2 && ids.iter().all(|&i| i == ids.first().copied().unwrap_or(0));
        let (s, rows) = self.tree_scores(node, "class", if binary { 1 } else { nc })?;
        if binary {
            let positive = weights.iter().all(|&w| w >= 0.0);
            return self.binary_outputs(node, s, rows, &labels, positive);
        }
        self.class_outputs(node, s, rows, &labels)
    }

    pub(super) fn class_labels(&self, node: &pb::NodeProto) -> R<Vec<f32>> {
        let mut labels = ints(node, "classlabels_int64s");
        if labels.is_empty() {
            labels = ints(node, "classlabels_ints");
        }
        if labels.is_empty() {
            if attr(node, "classlabels_strings").is_some() {
                return Err(
                    "string class labels cannot be proved: convert with integer labels".into(),
                );
            }
            return Err("no class labels".into());
        }
        Ok(labels.iter().map(|&l| l as f32).collect())
    }

    /// Label and scores of a two-class model with one score per row (onnxruntime's binary
    /// case): with only non-negative weights the score is the positive probability (label
    /// by `> 0.5`), else a margin (label by `> 0`).
    fn binary_outputs(
        &mut self,
        node: &pb::NodeProto,
        s: usize,
        rows: usize,
        labels: &[f32],
        positive: bool,
    ) -> R<Vec<Value>> {
        let pt = attr_s(node, "post_transform", "NONE");
        let cut = if positive { -0.5 } else { 0.0 };
        let above = self.step_shifted(Value::Dyn(s), cut)?;
        let ai = self.dyn_of(&above, "the label")?;
        let label = self.affine(ai, vec![labels[1] - labels[0]; rows], vec![labels[0]; rows]);
        // Scores: [1 − p, p] (probability) or [−s, s] (margin), then the transform.
        let picks: Vec<(usize, f32, f32)> = (0..rows)
            .flat_map(|r| {
                if positive {
                    [(r, -1.0, 1.0), (r, 1.0, 0.0)]
                } else {
                    [(r, -1.0, 0.0), (r, 1.0, 0.0)]
                }
            })
            .collect();
        let n = 2 * rows;
        let idx: Vec<u32> = picks.iter().map(|p| p.0 as u32).collect();
        let g = self.combine(&[(s, &idx, 1.0)], vec![n]);
        let pair = self.affine(
            g,
            picks.iter().map(|p| p.1).collect(),
            picks.iter().map(|p| p.2).collect(),
        );
        let z = match (pt.as_str(), positive) {
            ("NONE", _) => pair,
            ("LOGISTIC", _) => self.func(pair, Func::Sigmoid),
            (p, _) => {
                return Err(format!(
                    "post_transform {p} for a binary classifier is not supported"
                ))
            }
        };
        let z = self.reshape_to(z, vec![rows, 2]);
        let label = self.reshape_to(label, vec![rows]);
        Ok(vec![Value::Dyn(label), Value::Dyn(z)])
    }

    /// Label (argmax of the scores) and transformed scores of a multi-class model.
    fn class_outputs(
        &mut self,
        node: &pb::NodeProto,
        s: usize,
        rows: usize,
        labels: &[f32],
    ) -> R<Vec<Value>> {
        let nc = labels.len();
        let groups: Vec<Vec<u32>> = (0..rows)
            .map(|r| ((r * nc) as u32..((r + 1) * nc) as u32).collect())
            .collect();
        let first = self.first_max(s, &groups)?;
        let map = Linear {
            mats: vec![Mat {
                rows: 1,
                cols: nc,
                data: labels.to_vec(),
            }],
            groups: (0..rows)
                .map(|r| Group {
                    mat: 0,
                    inputs: (0..nc as u32)
                        .map(|c| Some((0, r as u32 * nc as u32 + c)))
                        .collect(),
                    outputs: vec![r as u32],
                })
                .collect(),
        };
        let label = self.emit(Op::Linear { map, bias: None }, vec![first], vec![rows]);
        let z = self.post_transform(node, s, rows, nc)?;
        Ok(vec![Value::Dyn(label), z])
    }

    /// `post_transform` over the scores `[rows, n]`.
    fn post_transform(
        &mut self,
        node: &pb::NodeProto,
        s: usize,
        rows: usize,
        n: usize,
    ) -> R<Value> {
        let s = self.reshape_to(s, vec![rows, n]);
        Ok(Value::Dyn(
            match attr_s(node, "post_transform", "NONE").as_str() {
                "NONE" => s,
                "LOGISTIC" => self.func(s, Func::Sigmoid),
                "SOFTMAX" => self.softmax_over(s, &[1], false)?,
                p => return Err(format!("post_transform {p} is not supported")),
            },
        ))
    }

    fn linear_classifier(&mut self, node: &pb::NodeProto) -> R<Vec<Value>> {
        let labels = self.class_labels(node)?;
        let x = self.req(node, 0)?;
        let (xi, rows, feats) = self.rows_of(x)?;
        let w = floats(node, "coefficients")?;
        let b = floats(node, "intercepts")?;
        let nc = labels.len();
        let k = w.len() / feats.max(1);
        if w.len() != k * feats || (k != nc && !(nc == 2 && k == 1)) {
            return Err(format!(
                "{} coefficients for {nc} classes and {feats} features",
                w.len()
            ));
        }
        let s = self.dense_rows(xi, rows, feats, &w, k, &b)?;
        if k == 1 {
            // One score: the positive class's margin.
            return self.binary_outputs(node, s, rows, &labels, false);
        }
        self.class_outputs(node, s, rows, &labels)
    }

    /// `Normalizer`: every row divided by its max, L1 or L2 norm.
    fn normalize(&mut self, xi: usize, norm: &str) -> R<usize> {
        let s = self.nodes[xi].shape.clone();
        let c = *s.last().unwrap_or(&1);
        let n = numel(&s);
        let rows = n / c.max(1);
        let groups: Vec<Vec<u32>> = (0..rows)
            .map(|r| ((r * c) as u32..((r + 1) * c) as u32).collect())
            .collect();
        let den = match norm {
            "MAX" => self.reduce_max(xi, &groups, vec![rows])?,
            "L1" => {
                let neg = self.affine(xi, vec![-1.0; n], vec![0.0; n]);
                let r = self.relu(neg);
                let id = iota(n);
                let abs = self.combine(&[(xi, &id, 1.0), (r, &id, 2.0)], s.clone());
                self.sum_groups(abs, &groups, 1.0, vec![rows])
            }
            "L2" => {
                let terms = groups
                    .iter()
                    .map(|g| g.iter().map(|&i| (i, i)).collect())
                    .collect();
                let sq = self.emit(Op::Bilinear { terms, scale: 1.0 }, vec![xi, xi], vec![rows]);
                self.emit(Op::Sqrt, vec![sq], vec![rows])
            }
            other => return Err(format!("norm {other} is not supported")),
        };
        Ok(self.emit(
            Op::Div {
                num: (0..n as u32).map(|i| Ref::In(0, i)).collect(),
                den: (0..n).map(|i| Ref::In(1, (i / c) as u32)).collect(),
            },
            vec![xi, den],
            s,
        ))
    }

    /// `LabelEncoder` with numeric keys and values: `default + Σ_k [x = key_k]·(value_k −
    /// default)` per element (an equality per key, then a linear map of them).
    fn label_encoder(&mut self, node: &pb::NodeProto) -> R<Value> {
        let keys: Vec<f32> = match ints(node, "keys_int64s") {
            k if !k.is_empty() => k.iter().map(|&v| v as f32).collect(),
            _ => floats(node, "keys_floats")?,
        };
        let (values, default): (Vec<f32>, f32) = match ints(node, "values_int64s") {
            v if !v.is_empty() => (
                v.iter().map(|&v| v as f32).collect(),
                attr_i(node, "default_int64", -1) as f32,
            ),
            _ => (
                floats(node, "values_floats")?,
                super::attr_f(node, "default_float", 0.0),
            ),
        };
        if keys.is_empty() || attr(node, "keys_strings").is_some() {
            return Err("string or tensor keys cannot be proved: numeric keys only".into());
        }
        if values.len() != keys.len() {
            return Err(format!("{} keys for {} values", keys.len(), values.len()));
        }
        let x = self.req(node, 0)?;
        let xi = self.dyn_of(&x, "the input")?;
        let shape = self.nodes[xi].shape.clone();
        let (n, nk) = (numel(&shape), keys.len());
        let total = n
            .checked_mul(nk)
            .filter(|&t| t <= super::MAX_ONE_HOT)
            .ok_or_else(|| format!("{n} elements × {nk} keys is over {}", super::MAX_ONE_HOT))?;
        let rep: Vec<u32> = (0..n as u32)
            .flat_map(|j| std::iter::repeat_n(j, nk))
            .collect();
        let gathered = self.combine(&[(xi, &rep, 1.0)], vec![total]);
        let offs: Vec<f32> = (0..total).map(|t| -keys[t % nk]).collect();
        let d = self.affine(gathered, vec![1.0; total], offs);
        let eq = self.test_sign("Equal", Value::Dyn(d))?;
        let eq = self.dyn_of(&eq, "the comparisons")?;
        let w: Vec<f32> = values.iter().map(|v| v - default).collect();
        let y = self.dense_rows(eq, n, nk, &w, 1, &[default])?;
        Ok(Value::Dyn(self.reshape_to(y, shape)))
    }

    pub(super) fn reshape_to(&mut self, x: usize, shape: Vec<usize>) -> usize {
        if self.nodes[x].shape == shape {
            return x;
        }
        let picks: Vec<Pick> = (0..numel(&shape) as u32).map(|k| Pick::V(0, k)).collect();
        match self.rewire(&[Value::Dyn(x)], shape, &picks) {
            Value::Dyn(i) => i,
            Value::Const(_) => x,
        }
    }
}
