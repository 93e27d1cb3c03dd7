//! Dividing one large node into parallel parts, so that a split can put the parts of one layer
//! into different segments.
//!
//! A linear map's output elements are divided into `parts` sets; part `p` is a linear map over
//! the same inputs that computes the elements of set `p`. A map of at least `parts` groups (a
//! convolution: one group per output position) is divided by whole groups, contiguous in group
//! order and even in multiply-adds, so every part packs its rows as the whole map did; a map
//! of fewer groups (a dense layer) by contiguous ranges of output elements, each group keeping
//! the rows of its weight block whose outputs fall in the range (equal row selections of one
//! block share one new block). When the map's only reader is an elementwise rescale or lookup,
//! that node is divided the same way and follows its part. A rewiring after the parts gives
//! every later node the tensor in its original order, so the graph computes exactly what it
//! did.

use std::collections::HashMap;

use crate::ir::{Group, Linear, Mat};
use crate::quant::{QGraph, QNode, QOp, QRef};

/// Whether node `i` can be divided ([`divide`]).
pub fn divisible(q: &QGraph, i: usize) -> bool {
    matches!(q.nodes.get(i).map(|n| &n.op), Some(QOp::Linear { .. })) && q.nodes[i].len() > 1
}

/// The elementwise node that is the only reader of node `i`, if there is one.
fn follower(q: &QGraph, i: usize) -> Option<usize> {
    if q.output == i {
        return None;
    }
    let readers: Vec<usize> = (i + 1..q.nodes.len())
        .filter(|&j| q.nodes[j].inputs.contains(&i))
        .collect();
    match readers.as_slice() {
        &[j] if q.nodes[j].inputs == [i]
            && matches!(q.nodes[j].op, QOp::Rescale { .. } | QOp::Lookup { .. }) =>
        {
            Some(j)
        }
        _ => None,
    }
}

/// Which part computes each output element of a map with `len` outputs.
fn assign(map: &Linear<i64>, len: usize, parts: usize) -> Vec<usize> {
    let mut part_of = vec![0usize; len];
    if map.groups.len() >= parts {
        let macs = |g: &Group| g.outputs.len() * g.inputs.iter().flatten().count();
        let total: usize = map.groups.iter().map(macs).sum::<usize>().max(1);
        let mut done = 0usize;
        for g in &map.groups {
            // The part whose share of the multiply-adds the group's middle falls in.
            let mid = done + macs(g) / 2;
            let p = (mid * parts / total).min(parts - 1);
            for &o in &g.outputs {
                part_of[o as usize] = p;
            }
            done += macs(g);
        }
    } else {
        for (e, p) in part_of.iter_mut().enumerate() {
            *p = e * parts / len;
        }
    }
    part_of
}

/// The part of a linear map that computes the output elements `part_of[e] == p`, each
/// renumbered to `local[e]`.
fn linear_part(map: &Linear<i64>, part_of: &[usize], local: &[u32], p: usize) -> Linear<i64> {
    let mut mats: Vec<Mat<i64>> = Vec::new();
    let mut made: HashMap<(u32, Vec<usize>), u32> = HashMap::new();
    let mut groups = Vec::new();
    for g in &map.groups {
        let rows: Vec<usize> = (0..g.outputs.len())
            .filter(|&r| part_of[g.outputs[r] as usize] == p)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let m = &map.mats[g.mat as usize];
        let all = rows.len() == m.rows;
        let key = (g.mat, rows.clone());
        let mat = match (all, made.get(&key)) {
            (_, Some(&k)) => k,
            _ => {
                let mut data = Vec::with_capacity(rows.len() * m.cols);
                for &r in &rows {
                    data.extend_from_slice(&m.data[r * m.cols..(r + 1) * m.cols]);
                }
                mats.push(Mat {
                    rows: rows.len(),
                    cols: m.cols,
                    data,
                });
                let k = (mats.len() - 1) as u32;
                made.insert(key, k);
                k
            }
        };
        groups.push(Group {
            mat,
            inputs: g.inputs.clone(),
            outputs: rows.iter().map(|&r| local[g.outputs[r] as usize]).collect(),
        });
    }
    Linear { mats, groups }
}

/// The part of an elementwise node over the elements `elems` (ascending).
fn elementwise_part(op: &QOp, elems: &[usize]) -> QOp {
    match op {
        QOp::Rescale {
            mul,
            add,
            shift,
            relu,
            clamp,
            bits,
        } => QOp::Rescale {
            mul: elems.iter().map(|&e| mul[e]).collect(),
            add: elems.iter().map(|&e| add[e]).collect(),
            shift: *shift,
            relu: *relu,
            clamp: *clamp,
            bits: *bits,
        },
        other => other.clone(),
    }
}

/// Divides node `i` (a linear map, with the elementwise node that alone reads it) into `parts`
/// parallel parts; `None` if it cannot be divided ([`divisible`]) or `parts < 2`.
pub fn divide(q: &QGraph, i: usize, parts: usize) -> Option<QGraph> {
    if !divisible(q, i) || parts < 2 {
        return None;
    }
    let QOp::Linear { map } = &q.nodes[i].op else {
        return None;
    };
    let len = q.nodes[i].len();
    let parts = parts.min(len);
    let next = follower(q, i);
    // The last node replaced, and the index every old node takes in the new graph.
    let last = next.unwrap_or(i);
    let mut nodes: Vec<QNode> = Vec::with_capacity(q.nodes.len() + 2 * parts + 1);
    let mut index: Vec<usize> = Vec::with_capacity(q.nodes.len());
    for (j, n) in q.nodes.iter().enumerate().take(i) {
        nodes.push(n.clone());
        index.push(j);
    }
    let part_of = assign(map, len, parts);
    let mut elems: Vec<Vec<usize>> = vec![Vec::new(); parts];
    let mut local = vec![0u32; len];
    for (e, &p) in part_of.iter().enumerate() {
        local[e] = elems[p].len() as u32;
        elems[p].push(e);
    }
    if elems.iter().any(Vec::is_empty) {
        return None;
    }
    let mut tails = Vec::with_capacity(parts);
    for (p, part) in elems.iter().enumerate() {
        let base = &q.nodes[i];
        nodes.push(QNode {
            name: format!("{} [part {}/{parts}]", base.name, p + 1),
            op_type: base.op_type.clone(),
            op: QOp::Linear {
                map: linear_part(map, &part_of, &local, p),
            },
            inputs: base.inputs.clone(),
            shape: vec![part.len()],
            scale: base.scale,
        });
        if let Some(j) = next {
            let f = &q.nodes[j];
            nodes.push(QNode {
                name: format!("{} [part {}/{parts}]", f.name, p + 1),
                op_type: f.op_type.clone(),
                op: elementwise_part(&f.op, part),
                inputs: vec![nodes.len() - 1],
                shape: vec![part.len()],
                scale: f.scale,
            });
        }
        tails.push(nodes.len() - 1);
    }
    // The rewiring back to the original tensor.
    let map: Vec<QRef> = (0..len)
        .map(|e| QRef::In(part_of[e] as u32, local[e]))
        .collect();
    let whole = &q.nodes[last];
    nodes.push(QNode {
        name: whole.name.clone(),
        op_type: whole.op_type.clone(),
        op: QOp::Gather { map },
        inputs: tails,
        shape: whole.shape.clone(),
        scale: whole.scale,
    });
    let joined = nodes.len() - 1;
    for j in i..q.nodes.len() {
        if j == i || Some(j) == next {
            index.push(joined);
            continue;
        }
        index.push(NONE);
    }
    // Every other node after `i`, its inputs renumbered.
    for j in i + 1..q.nodes.len() {
        if Some(j) == next {
            continue;
        }
        let mut n = q.nodes[j].clone();
        for x in n.inputs.iter_mut() {
            *x = index[*x];
        }
        nodes.push(n);
        index[j] = nodes.len() - 1;
    }
    let mut g = q.clone();
    g.output = index[q.output];
    g.nodes = nodes;
    Some(g)
}

const NONE: usize = usize::MAX;
