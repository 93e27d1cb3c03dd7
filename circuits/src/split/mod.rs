//! Splitting a quantized graph into segments at node boundaries (DESIGN.md §8).
//!
//! A cut after node `c − 1` divides the nodes into `0..c` and `c..n`. The tensors computed
//! before the cut and read after it (or the model output) are the cut's *boundary*: the
//! segment before the cut outputs them, concatenated in node order, and the segment after it
//! takes them as its input. Each segment is an ordinary [`QGraph`] (its input node holds the
//! boundary, one rewiring per boundary tensor gives every later node the tensor it read), so
//! the planner, the integer executor and the circuit handle a segment like any model. What
//! links the segments is the boundary's Poseidon hash: hashed output of one segment, hashed
//! input of the next, both packed at the same width (the next segment's `input_bits` is the
//! previous one's `output_bits`), so the two instances are equal exactly when the values are.
//!
//! A cut is *admissible* when every boundary tensor is made of computed cells (a rewiring that
//! carries constants would put constants among a segment's outputs, which the circuit refuses)
//! and fits a segment input's width (at most 64 bits).

mod divide;

pub use divide::{divide, divisible};

use std::collections::BTreeSet;

use crate::error::{CircuitsError, Result};
use crate::ir::{ElemKind, IoSpec};
pub use crate::quant::SegmentOf;
use crate::quant::{QGraph, QNode, QOp, QRef};

/// Most segments a model may be split into.
pub const MAX_SEGMENTS: usize = 64;

/// Widest boundary value a cut may carry (a segment input's width is at most 64 bits).
pub const MAX_BOUNDARY_BITS: u32 = 64;

/// An admissible cut with its boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    /// The cut lies before this node.
    pub at: usize,
    /// The boundary tensors (node indices, ascending).
    pub live: Vec<usize>,
    /// Elements of the boundary.
    pub elems: usize,
    /// Signed width of the widest boundary value (from the model's static bounds).
    pub bits: u32,
}

/// The tensors computed before node `at` that a node from `at` on reads, or that are the
/// model output: ascending node indices.
pub fn live_at(q: &QGraph, at: usize) -> Vec<usize> {
    let mut live = BTreeSet::new();
    for n in &q.nodes[at.min(q.nodes.len())..] {
        live.extend(n.inputs.iter().copied().filter(|&j| j < at));
    }
    if q.output < at {
        live.insert(q.output);
    }
    live.into_iter().collect()
}

/// Which nodes hold a constant element in the circuit (a rewiring with a constant, or of a
/// tensor that holds one).
fn const_carrying(q: &QGraph) -> Vec<bool> {
    let mut out = vec![false; q.nodes.len()];
    for (i, n) in q.nodes.iter().enumerate() {
        if let QOp::Gather { map } = &n.op {
            out[i] = map.iter().any(|r| match *r {
                QRef::Const(_) => true,
                QRef::In(s, _) => n.inputs.get(s as usize).is_some_and(|&j| out[j]),
            });
        }
    }
    out
}

/// Every admissible cut of the graph, in node order.
pub fn cuts(q: &QGraph) -> Result<Vec<Cut>> {
    let bits = q.node_bits()?;
    let consts = const_carrying(q);
    let mut out = Vec::new();
    for at in 1..q.nodes.len() {
        let live = live_at(q, at);
        if live.is_empty()
            || live
                .iter()
                .any(|&j| consts[j] || bits[j] > MAX_BOUNDARY_BITS)
        {
            continue;
        }
        let elems = live.iter().map(|&j| q.nodes[j].len()).sum();
        let bits = live.iter().map(|&j| bits[j]).max().unwrap_or(1);
        out.push(Cut {
            at,
            live,
            elems,
            bits,
        });
    }
    Ok(out)
}

/// The cuts (node indices, ascending) that split the graph into `segments` parts of the most
/// even cost: `node_cost[i]` is node `i`'s cost and `boundary_cost(cut)` what a cut adds to
/// each of the two segments beside it. Minimises the largest segment's cost, then the sum of the squared
/// costs (so the segments below the largest are even too).
pub fn balanced_cuts(
    q: &QGraph,
    segments: usize,
    node_cost: &[f64],
    boundary_cost: impl Fn(&Cut) -> f64,
) -> Result<Vec<usize>> {
    if segments == 0 || segments > MAX_SEGMENTS {
        return Err(CircuitsError::Split(format!(
            "{segments} segments: give 1 to {MAX_SEGMENTS}"
        )));
    }
    if node_cost.len() != q.nodes.len() {
        return Err(CircuitsError::Split("one cost per node is needed".into()));
    }
    let all = cuts(q)?;
    if segments > all.len() + 1 {
        return Err(CircuitsError::Split(format!(
            "{segments} segments asked, but the model has only {} admissible cut(s) \
             (between nodes whose boundary is computed values of at most \
             {MAX_BOUNDARY_BITS} bits)",
            all.len()
        )));
    }
    // Points 0 (start), the admissible cuts, and n (end); prefix sums of node costs.
    let n = q.nodes.len();
    let mut at = vec![0usize];
    let mut edge = vec![0.0f64];
    for c in &all {
        at.push(c.at);
        edge.push(boundary_cost(c));
    }
    at.push(n);
    edge.push(0.0);
    let mut prefix = vec![0.0f64; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + node_cost[i];
    }
    let seg = |a: usize, b: usize| prefix[at[b]] - prefix[at[a]] + edge[a] + edge[b];
    let m = at.len();
    // best[s][j]: (largest, sum of squares) over the splits of points 0..=j into s + 1
    // segments, the last ending at point j.
    let inf = (f64::INFINITY, f64::INFINITY);
    let mut best = vec![vec![inf; m]; segments];
    let mut from = vec![vec![0usize; m]; segments];
    for (j, b) in best[0].iter_mut().enumerate().skip(1) {
        let c = seg(0, j);
        *b = (c, c * c);
    }
    for s in 1..segments {
        for j in (s + 1)..m {
            for i in s..j {
                let (big, total) = best[s - 1][i];
                if !big.is_finite() {
                    continue;
                }
                let c = seg(i, j);
                let cand = (big.max(c), total + c * c);
                if cand < best[s][j] {
                    best[s][j] = cand;
                    from[s][j] = i;
                }
            }
        }
    }
    if !best[segments - 1][m - 1].0.is_finite() {
        return Err(CircuitsError::Split(format!(
            "no split into {segments} segments"
        )));
    }
    let mut cuts = Vec::with_capacity(segments - 1);
    let mut j = m - 1;
    for s in (1..segments).rev() {
        j = from[s][j];
        cuts.push(at[j]);
    }
    cuts.reverse();
    Ok(cuts)
}

/// The segments of `q` cut before each node of `cuts` (ascending, each admissible).
pub fn split_graph(q: &QGraph, cuts: &[usize]) -> Result<Vec<QGraph>> {
    let bad = |m: String| Err(CircuitsError::Split(m));
    if cuts.len() + 1 > MAX_SEGMENTS {
        return bad(format!("at most {MAX_SEGMENTS} segments"));
    }
    if cuts.windows(2).any(|w| w[0] >= w[1]) {
        return bad("the cuts must be ascending and distinct".into());
    }
    let admissible = self::cuts(q)?;
    let mut bounds = vec![0];
    for &c in cuts {
        match admissible.iter().find(|a| a.at == c) {
            Some(_) => bounds.push(c),
            None => {
                return bad(format!(
                    "no admissible cut before node {c} (its boundary holds constants or \
                     values wider than {MAX_BOUNDARY_BITS} bits)"
                ))
            }
        }
    }
    bounds.push(q.nodes.len());
    let count = bounds.len() - 1;
    let mut out = Vec::with_capacity(count);
    let mut input_bits = q.input_bits;
    for s in 0..count {
        let of = SegmentOf {
            index: s,
            count,
            start: bounds[s],
            end: bounds[s + 1],
        };
        let g = segment(q, of, input_bits)?;
        input_bits = g.output_bits();
        if !of.is_last() && input_bits > MAX_BOUNDARY_BITS {
            return bad(format!(
                "segment {s}'s boundary needs {input_bits} bits (at most {MAX_BOUNDARY_BITS})"
            ));
        }
        out.push(g);
    }
    Ok(out)
}

/// The values a segment takes as input, read from the whole model's values: the boundary
/// tensors before its first node, concatenated.
pub fn boundary_values(q: &QGraph, at: usize, values: &[Vec<i64>]) -> Vec<i64> {
    live_at(q, at)
        .iter()
        .flat_map(|&j| values[j].iter().copied())
        .collect()
}

/// One segment: its input node (the model's input, or the boundary before it with one
/// rewiring per boundary tensor), the model's nodes it computes, and its output (the model's
/// output, or the boundary after it).
fn segment(q: &QGraph, of: SegmentOf, input_bits: u32) -> Result<QGraph> {
    const NONE: usize = usize::MAX;
    let mut index = vec![NONE; q.nodes.len()];
    let mut nodes: Vec<QNode> = Vec::new();
    let first = if of.is_first() {
        nodes.push(q.nodes[0].clone());
        index[0] = 0;
        1
    } else {
        let live = live_at(q, of.start);
        let total: usize = live.iter().map(|&j| q.nodes[j].len()).sum();
        nodes.push(QNode {
            name: format!("boundary {}", of.index),
            op_type: "Input".into(),
            op: QOp::Input,
            inputs: Vec::new(),
            shape: vec![total],
            scale: 0,
        });
        let mut off = 0u32;
        for &j in &live {
            let src = &q.nodes[j];
            let len = src.len() as u32;
            nodes.push(QNode {
                name: src.name.clone(),
                op_type: "Boundary".into(),
                op: QOp::Gather {
                    map: (0..len).map(|e| QRef::In(0, off + e)).collect(),
                },
                inputs: vec![0],
                shape: src.shape.clone(),
                scale: src.scale,
            });
            index[j] = nodes.len() - 1;
            off += len;
        }
        of.start
    };
    // Tables the segment's lookups use, renumbered in order.
    let mut tables = Vec::new();
    let mut table_index = vec![NONE; q.tables.len()];
    for i in first..of.end {
        let mut n = q.nodes[i].clone();
        for j in n.inputs.iter_mut() {
            *j = index[*j];
            if *j == NONE {
                return Err(CircuitsError::Split(format!(
                    "node '{}' reads a tensor outside its segment",
                    q.nodes[i].name
                )));
            }
        }
        if let QOp::Lookup { table } = &mut n.op {
            if table_index[*table] == NONE {
                table_index[*table] = tables.len();
                tables.push(q.tables[*table].clone());
            }
            *table = table_index[*table];
        }
        nodes.push(n);
        index[i] = nodes.len() - 1;
    }
    let (output, outputs) = if of.is_last() {
        (index[q.output], q.outputs.clone())
    } else {
        let live = live_at(q, of.end);
        let mut inputs = Vec::with_capacity(live.len());
        let mut map = Vec::new();
        for (slot, &j) in live.iter().enumerate() {
            inputs.push(index[j]);
            map.extend((0..q.nodes[j].len() as u32).map(|e| QRef::In(slot as u32, e)));
        }
        let name = format!("boundary {}", of.index + 1);
        let len = map.len();
        nodes.push(QNode {
            name: name.clone(),
            op_type: "Boundary".into(),
            op: QOp::Gather { map },
            inputs,
            shape: vec![len],
            scale: 0,
        });
        let spec = IoSpec {
            name,
            shape: vec![len],
            kind: ElemKind::Int,
            dim_params: Vec::new(),
        };
        (nodes.len() - 1, vec![spec])
    };
    if output == NONE || output == 0 {
        return Err(CircuitsError::Split(format!(
            "segment {} computes nothing of its output",
            of.index
        )));
    }
    let inputs = if of.is_first() {
        q.inputs.clone()
    } else {
        vec![IoSpec {
            name: nodes[0].name.clone(),
            shape: nodes[0].shape.clone(),
            kind: ElemKind::Int,
            dim_params: Vec::new(),
        }]
    };
    let g = QGraph {
        nodes,
        output,
        settings: q.settings,
        tables,
        input_bits,
        inputs,
        outputs,
        segment: Some(of),
    };
    g.validate().map_err(|e| {
        CircuitsError::Split(format!("segment {} is not a valid graph: {e}", of.index))
    })?;
    Ok(g)
}
