//! Ranges that calibration cannot see: values that follow from comparisons.
//!
//! A value's range check is sized from the calibration data ([`super::QuantSettings`]'s
//! `range_margin` over the largest value seen), and the integer execution refuses a value
//! past it. That is right for activations, whose range the data shows, and wrong for values
//! computed from comparisons ([`Op::Step`], 0 or 1) by constant linear maps, ReLUs, products
//! of such values and rewiring: a classifier's votes, its one-hot argmax and its label. One calibration input of
//! class 0 saw a label of 0 and sized its check for `|label| < 2`, so every other class was
//! refused. Their range follows from the graph instead: these bounds hold for every input.

use crate::ir::{Graph, Op, Ref};

/// For every node of `g`, a bound of `|value|` when its value follows from comparisons by
/// constant linear maps, affine maps, ReLUs, products of such values and rewiring only, or
/// when the importer stated one ([`crate::ir::Node::bound`]); `None` otherwise.
pub(super) fn discrete_bounds(g: &Graph) -> Vec<Option<f64>> {
    let mut b: Vec<Option<f64>> = Vec::with_capacity(g.nodes.len());
    for n in &g.nodes {
        let ins: Option<Vec<f64>> = n.inputs.iter().map(|&i| b[i]).collect();
        let bound = match (&n.op, ins) {
            _ if n.bound.is_some() => n.bound.map(f64::from),
            (Op::Step, _) => Some(1.0),
            // Whatever the index, an entry of the table.
            (Op::Select { values, .. }, _) => {
                Some(values.iter().fold(0f64, |m, v| m.max(f64::from(v.abs()))))
            }
            (Op::Relu, Some(x)) => x.first().copied(),
            (Op::Clamp { hi }, Some(x)) => x.first().map(|&x| x.min(f64::from(*hi))),
            (Op::Affine { mul, add }, Some(x)) => {
                let x = x.first().copied().unwrap_or(0.0);
                mul.iter()
                    .zip(add)
                    .map(|(m, a)| f64::from(m.abs()) * x + f64::from(a.abs()))
                    .reduce(f64::max)
            }
            (Op::Linear { map, bias }, Some(x)) => {
                let mut out = vec![0f64; n.len()];
                for grp in &map.groups {
                    let m = &map.mats[grp.mat as usize];
                    for (r, &o) in grp.outputs.iter().enumerate() {
                        let row = &m.data[r * m.cols..(r + 1) * m.cols];
                        let s: f64 = row
                            .iter()
                            .zip(&grp.inputs)
                            .filter_map(|(w, e)| {
                                e.map(|(slot, _)| f64::from(w.abs()) * x[slot as usize])
                            })
                            .sum();
                        if let Some(v) = out.get_mut(o as usize) {
                            *v += s;
                        }
                    }
                }
                if let Some(bias) = bias {
                    for (v, c) in out.iter_mut().zip(bias) {
                        *v += f64::from(c.abs());
                    }
                }
                out.into_iter().reduce(f64::max)
            }
            (Op::Bilinear { terms, scale }, Some(x)) if x.len() == 2 => terms
                .iter()
                .map(|t| f64::from(scale.abs()) * t.len() as f64 * x[0] * x[1])
                .reduce(f64::max),
            (Op::Gather { map }, Some(x)) => map
                .iter()
                .map(|r| match *r {
                    Ref::In(slot, _) => x[slot as usize],
                    Ref::Const(c) => f64::from(c.abs()),
                })
                .reduce(f64::max),
            _ => None,
        };
        b.push(bound.filter(|v| v.is_finite()));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Linear, Node};

    fn node(op: Op, inputs: Vec<usize>, n: usize) -> Node {
        Node {
            name: String::new(),
            op_type: String::new(),
            op,
            inputs,
            shape: vec![n],
            wide: false,
            bound: None,
            nonpositive: false,
        }
    }

    /// A label `3·onehot₀ + 7·onehot₁` of two comparisons is bounded by 7 whatever the data;
    /// a linear map of the input is not bounded here.
    #[test]
    fn labels_of_comparisons_are_bounded() {
        let nodes = vec![
            node(Op::Input, vec![], 2),
            node(Op::Step, vec![0], 2),
            node(
                Op::Linear {
                    map: Linear::dense(vec![3.0, 7.0], 1, 2, 1),
                    bias: None,
                },
                vec![1],
                1,
            ),
            node(
                Op::Linear {
                    map: Linear::dense(vec![1.0, 1.0], 1, 2, 1),
                    bias: None,
                },
                vec![0],
                1,
            ),
        ];
        let g = Graph {
            nodes,
            output: 2,
            inputs: Vec::new(),
            outputs: Vec::new(),
        };
        assert_eq!(discrete_bounds(&g), vec![None, Some(1.0), Some(10.0), None]);
    }
}
