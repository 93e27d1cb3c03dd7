//! `Einsum`: any equation over any number of operands, computed or constant, with ellipses
//! (broadcast), repeated labels (diagonals), implicit outputs, sums over labels one operand
//! holds alone, and outer products.
//!
//! Operands are contracted left to right. For each pair, every operand is first brought to a
//! layout of its own labels (rewiring: transposes, diagonals, broadcasts; a linear map where a
//! label is summed away), then the two are one batched `MatMul` — `[batch, m, k] × [batch, k,
//! n]` — which packs constant weights as a dense layer does and multiplies two computed
//! operands as attention's products do. The last result is laid out in the output's order.

use std::collections::HashMap;

use tract_onnx::pb;

use super::build::Pick;
use super::tensor::{for_each_index, numel, strides, MAX_ELEMENTS};
use super::{attr_s, Const, Importer, Value};

type R<T> = Result<T, String>;

/// Labels of the ellipsis's dimensions (outside the letters an equation may use).
fn ellipsis_label(i: usize) -> char {
    char::from_u32(0xE000 + i as u32).unwrap_or('\u{E000}')
}

/// The equation's operand labels and output labels, ellipses expanded for `ranks`.
fn parse(eq: &str, ranks: &[usize]) -> R<(Vec<Vec<char>>, Vec<char>)> {
    let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != ranks.len() {
        return Err(format!(
            "equation '{eq}' names {} operands, the node has {}",
            terms.len(),
            ranks.len()
        ));
    }
    let letters = |t: &str| -> R<(Vec<char>, Vec<char>, bool)> {
        let (pre, post, ell) = match t.split_once("...") {
            Some((a, b)) => (a, b, true),
            None => (t, "", false),
        };
        for c in pre.chars().chain(post.chars()) {
            if !c.is_ascii_alphabetic() {
                return Err(format!("equation '{eq}': '{c}' is not a label"));
            }
        }
        Ok((pre.chars().collect(), post.chars().collect(), ell))
    };
    let mut ell_rank = 0;
    let mut ops = Vec::with_capacity(terms.len());
    for (t, &r) in terms.iter().zip(ranks) {
        let (pre, post, ell) = letters(t)?;
        let named = pre.len() + post.len();
        if (!ell && named != r) || named > r {
            return Err(format!(
                "equation term '{t}' has {named} labels for an operand of rank {r}"
            ));
        }
        let e = if ell { r - named } else { 0 };
        ell_rank = ell_rank.max(e);
        ops.push((pre, post, e));
    }
    let ell_labels: Vec<char> = (0..ell_rank).map(ellipsis_label).collect();
    let operands: Vec<Vec<char>> = ops
        .iter()
        .map(|(pre, post, e)| {
            pre.iter()
                .chain(&ell_labels[ell_rank - e..])
                .chain(post)
                .copied()
                .collect()
        })
        .collect();
    let output = match rhs {
        Some(r) => {
            let (pre, post, ell) = letters(r)?;
            let mid: &[char] = if ell { &ell_labels } else { &[] };
            let out: Vec<char> = pre.iter().chain(mid).chain(&post).copied().collect();
            for (i, c) in out.iter().enumerate() {
                if out[..i].contains(c) || !operands.iter().any(|o| o.contains(c)) {
                    return Err(format!(
                        "equation '{eq}': output label '{c}' is repeated or in no operand"
                    ));
                }
            }
            out
        }
        None => {
            let mut once: Vec<char> = ('A'..='Z')
                .chain('a'..='z')
                .filter(|c| operands.iter().flatten().filter(|&d| d == c).count() == 1)
                .collect();
            let mut out = ell_labels.clone();
            out.append(&mut once);
            out
        }
    };
    Ok((operands, output))
}

impl Importer {
    /// `Einsum` (opset 12).
    pub(crate) fn einsum(&mut self, node: &pb::NodeProto) -> R<Value> {
        let n = node.input.len();
        if n == 0 {
            return Err("Einsum needs an operand".into());
        }
        let vals: Vec<Value> = (0..n).map(|i| self.req(node, i)).collect::<R<_>>()?;
        let shapes: Vec<Vec<usize>> = vals.iter().map(|v| self.shape_of(v)).collect();
        let ranks: Vec<usize> = shapes.iter().map(Vec::len).collect();
        let (labels, output) = parse(&attr_s(node, "equation", ""), &ranks)?;
        // Each label's size; a dimension of 1 broadcasts against a larger one.
        let mut size: HashMap<char, usize> = HashMap::new();
        for (ls, s) in labels.iter().zip(&shapes) {
            for (&c, &d) in ls.iter().zip(s) {
                let e = size.entry(c).or_insert(d);
                if *e == 1 {
                    *e = d;
                } else if d != 1 && d != *e {
                    return Err(format!("label '{c}' has sizes {e} and {d}"));
                }
            }
        }
        let mut cur = (vals[0].clone(), labels[0].clone(), shapes[0].clone());
        for i in 1..n {
            // Labels still needed: the output's and later operands'.
            let later: Vec<char> = output
                .iter()
                .chain(labels[i + 1..].iter().flatten())
                .copied()
                .collect();
            let (a, la, sa) = cur;
            let (b, lb, sb) = (vals[i].clone(), &labels[i], &shapes[i]);
            let keep = |c: &char| later.contains(c);
            let batch: Vec<char> = uniq(la.iter().filter(|c| lb.contains(c) && keep(c)));
            let m: Vec<char> = uniq(la.iter().filter(|c| !lb.contains(c) && keep(c)));
            let k: Vec<char> = uniq(la.iter().filter(|c| lb.contains(c) && !keep(c)));
            let nl: Vec<char> = uniq(lb.iter().filter(|c| !la.contains(c) && keep(c)));
            let len = |ls: &[char]| ls.iter().map(|c| size[c]).product::<usize>();
            let (nb, mm, kk, nn) = (len(&batch), len(&m), len(&k), len(&nl));
            let a3 = self.einsum_view(
                a,
                &la,
                &sa,
                &[&batch[..], &m, &k].concat(),
                &size,
                vec![nb, mm, kk],
            )?;
            let b3 = self.einsum_view(
                b,
                lb,
                sb,
                &[&batch[..], &k, &nl].concat(),
                &size,
                vec![nb, kk, nn],
            )?;
            let prod = self.matmul_values(a3, b3)?;
            let lr: Vec<char> = [&batch[..], &m, &nl].concat();
            let sr: Vec<usize> = lr.iter().map(|c| size[c]).collect();
            cur = (prod, lr, sr);
        }
        let (v, l, s) = cur;
        let out_shape: Vec<usize> = output.iter().map(|c| size[c]).collect();
        self.einsum_view(v, &l, &s, &output, &size, out_shape)
    }

    /// `v` (labels `labels`, shape `shape`) laid out with exactly the labels `target`, in
    /// that order, reshaped to `shape_out`: labels `v` holds and `target` lacks are summed
    /// away, a repeated label reads the diagonal, a dimension of 1 broadcasts.
    fn einsum_view(
        &mut self,
        v: Value,
        labels: &[char],
        shape: &[usize],
        target: &[char],
        size: &HashMap<char, usize>,
        shape_out: Vec<usize>,
    ) -> R<Value> {
        let summed: Vec<char> = uniq(labels.iter().filter(|c| !target.contains(c)));
        let t_sizes: Vec<usize> = target.iter().map(|c| size[c]).collect();
        let s_sizes: Vec<usize> = summed.iter().map(|c| size[c]).collect();
        let (nt, ns) = (numel(&t_sizes), numel(&s_sizes));
        if nt.saturating_mul(ns) > MAX_ELEMENTS {
            return Err(format!("an einsum term of {nt} elements summing {ns} each is over the importer's budget of {MAX_ELEMENTS} terms"));
        }
        let st = strides(shape);
        // Where each of `v`'s dimensions reads its index from: (in target?, position).
        let from: Vec<(bool, usize)> = labels
            .iter()
            .map(|c| match target.iter().position(|t| t == c) {
                Some(p) => (true, p),
                None => (false, summed.iter().position(|s| s == c).unwrap_or(0)),
            })
            .collect();
        let flat = |ti: &[usize], si: &[usize]| -> u32 {
            from.iter()
                .zip(shape)
                .zip(&st)
                .map(|((&(t, p), &d), &s)| {
                    if d == 1 {
                        0
                    } else {
                        (if t { ti[p] } else { si[p] }) * s
                    }
                })
                .sum::<usize>() as u32
        };
        let mut groups: Vec<Vec<u32>> = Vec::with_capacity(nt);
        for_each_index(&t_sizes, |_, ti| {
            let mut g = Vec::with_capacity(ns);
            for_each_index(&s_sizes, |_, si| g.push(flat(ti, si)));
            groups.push(g);
        });
        if ns == 1 {
            let picks: Vec<Pick> = groups.iter().map(|g| Pick::V(0, g[0])).collect();
            return Ok(self.rewire(&[v], shape_out, &picks));
        }
        Ok(match v {
            Value::Const(c) => Value::Const(Const {
                shape: shape_out,
                data: groups
                    .iter()
                    .map(|g| g.iter().map(|&i| c.data[i as usize]).sum())
                    .collect(),
            }),
            Value::Dyn(x) => Value::Dyn(self.sum_groups(x, &groups, 1.0, shape_out)),
        })
    }
}

/// The distinct labels of `it`, in first-seen order.
fn uniq<'a>(it: impl Iterator<Item = &'a char>) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for &c in it {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}
