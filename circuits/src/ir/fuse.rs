//! Fusing a chain of elementwise operations of one tensor into one function
//! ([`Composite`]), proven by one lookup per element.
//!
//! Exporters write many activations as chains of primitives: SiLU as `Sigmoid` and `Mul`,
//! GELU (before opset 20) as `Div`, `Erf`, `Add`, `Mul`, `Mul`, its tanh form with a cube,
//! Mish as `Softplus`, `Tanh`, `Mul`. Lowered node by node, every product and affine map
//! costs a rescale (its limbs range-checked) and every function a table lookup, for each
//! element; and each step rounds. Yet each output element is a function of one input
//! element. A region of such nodes is replaced by one [`Func::Composite`] node of that input,
//! which the quantizer proves like any other function: a direct table or knots, its error
//! measured over the calibrated domain ([`crate::quant::interp`]).
//!
//! A region is fused when:
//! - each of its nodes is elementwise with one function for every element (an affine map
//!   with one multiplier and addend, a sum of tensors of its shape with one weight each, an
//!   elementwise product, a ReLU or clamp, a function of a table; not a function of a
//!   positive domain, which has its own table rules);
//! - it reads exactly one tensor from outside, of its shape;
//! - only its last node is read from outside it (nothing it computes on the way is lost);
//! - it holds a function of a table (the chain needs a table anyway; products and affine
//!   maps alone are exact, which a table of them is not: a cube of integers up to 12 came out
//!   1723.5 for 1728 from knots as accurate as its direct table) and at least two nodes, at
//!   most [`MAX_STEPS`];
//! - none of its nodes is kept at double precision (`wide`: a radicand, whose square root
//!   needs its small values exact; a table's error is the same at every value).
//!
//! Soundness is that of any function table: the table's entries are computed from the
//! composite when the keys are made and fixed in the verifying key.

use super::{Composite, Func, Graph, Node, Op, Step, MAX_STEPS};

/// One elementwise node as a step over node indices.
#[derive(Debug, Clone)]
enum Piece {
    Sum(Vec<(usize, f32)>, f32),
    Product(usize, usize, f32),
    Relu(usize),
    Clamp(usize, f32),
    Func(usize, Func),
}

impl Piece {
    fn reads(&self) -> Vec<usize> {
        match self {
            Piece::Sum(t, _) => t.iter().map(|&(a, _)| a).collect(),
            Piece::Product(a, b, _) => vec![*a, *b],
            Piece::Relu(a) | Piece::Clamp(a, _) | Piece::Func(a, _) => vec![*a],
        }
    }

    /// Whether it is a function of a table.
    fn is_func(&self) -> bool {
        matches!(self, Piece::Func(..))
    }
}

/// Node `i` as one function of its inputs' elements at its own index, the same for every
/// element; `None` if it is not one.
fn piece(graph: &Graph, i: usize) -> Option<Piece> {
    let node = &graph.nodes[i];
    let n = node.len();
    if n == 0 || node.wide || node.inputs.iter().any(|&j| graph.nodes[j].len() != n) {
        return None;
    }
    let arg = |slot: usize| node.inputs.get(slot).copied();
    let uniform = |v: &[f32]| v.iter().all(|&x| x == v[0]);
    match &node.op {
        Op::Affine { mul, add } if uniform(mul) && uniform(add) => {
            Some(Piece::Sum(vec![(arg(0)?, *mul.first()?)], *add.first()?))
        }
        Op::Relu => Some(Piece::Relu(arg(0)?)),
        Op::Clamp { hi } => Some(Piece::Clamp(arg(0)?, *hi)),
        Op::Func { f } if !f.positive_domain() && !matches!(f, Func::Composite(_)) => {
            Some(Piece::Func(arg(0)?, f.clone()))
        }
        Op::Bilinear { terms, scale } => {
            let diagonal = terms.len() == n
                && terms
                    .iter()
                    .enumerate()
                    .all(|(o, t)| t.len() == 1 && t[0] == (o as u32, o as u32));
            diagonal.then(|| Some(Piece::Product(arg(0)?, arg(1)?, *scale)))?
        }
        Op::Linear { map, bias } => {
            let bias = match bias {
                Some(b) if uniform(b) => *b.first()?,
                Some(_) => return None,
                None => 0.0,
            };
            let terms = elementwise_terms(map, n)?;
            let terms = terms
                .into_iter()
                .map(|(slot, w)| Some((arg(slot as usize)?, w)))
                .collect::<Option<Vec<_>>>()?;
            Some(Piece::Sum(terms, bias))
        }
        _ => None,
    }
}

/// The weights `(slot, w)` of a linear map whose every output `o` is `Σ w·x_slot[o]` with the
/// same weights (nonzero, one per slot, in slot order); `None` for any other map.
pub(crate) fn elementwise_terms(map: &super::Linear<f32>, n: usize) -> Option<Vec<(u32, f32)>> {
    let mut first: Option<Vec<(u32, f32)>> = None;
    let mut seen = 0usize;
    for g in &map.groups {
        let m = map.mats.get(g.mat as usize)?;
        for (r, &o) in g.outputs.iter().enumerate() {
            let mut terms: Vec<(u32, f32)> = Vec::new();
            for (j, input) in g.inputs.iter().enumerate() {
                let Some((slot, idx)) = *input else { continue };
                let w = *m.data.get(r * m.cols + j)?;
                if w == 0.0 {
                    continue;
                }
                if idx != o {
                    return None;
                }
                match terms.iter_mut().find(|t| t.0 == slot) {
                    Some(t) => t.1 += w,
                    None => terms.push((slot, w)),
                }
            }
            terms.sort_by_key(|t| t.0);
            match &first {
                None => first = Some(terms),
                Some(f) if *f == terms => {}
                Some(_) => return None,
            }
            seen += 1;
        }
    }
    (seen == n).then_some(first?)
}

/// A region to fuse: its nodes in order (the last is its output) and the tensor it reads.
struct Region {
    nodes: Vec<usize>,
    source: usize,
}

/// The graph with every fusable region ([module documentation](self)) replaced by one
/// [`Func::Composite`] node, and for each node of it the index of the node it was (a fused
/// region's is its last node's); `None` where nothing is fused.
pub fn fuse_elementwise(graph: &Graph) -> Option<(Graph, Vec<usize>)> {
    let (pieces, regions) = find_regions(graph);
    if regions.is_empty() {
        return None;
    }
    Some(rebuild(graph, &pieces, &regions))
}

/// Whether [`fuse_elementwise`] would fuse anything (without building the fused graph, a
/// copy of every weight).
pub fn fusable(graph: &Graph) -> bool {
    !find_regions(graph).1.is_empty()
}

/// Every node as a step, where it is one, and the regions to fuse.
fn find_regions(graph: &Graph) -> (Vec<Option<Piece>>, Vec<Region>) {
    let count = graph.nodes.len();
    let pieces: Vec<Option<Piece>> = (0..count).map(|i| piece(graph, i)).collect();
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (j, n) in graph.nodes.iter().enumerate() {
        for &i in &n.inputs {
            if !consumers[i].contains(&j) {
                consumers[i].push(j);
            }
        }
    }
    let mut taken = vec![false; count];
    let mut regions = Vec::new();
    for t in (1..count).rev() {
        if taken[t] || pieces[t].is_none() {
            continue;
        }
        let closure = grow(graph, &pieces, &consumers, &taken, t);
        if let Some(r) = best_region(graph, &pieces, &consumers, &closure, t) {
            for &u in &r.nodes {
                taken[u] = true;
            }
            regions.push(r);
        }
    }
    (pieces, regions)
}

/// Every elementwise node that can join `t`'s region: read only by nodes in it, not the
/// graph's output, not in another region (at most [`MAX_STEPS`]).
fn grow(
    graph: &Graph,
    pieces: &[Option<Piece>],
    consumers: &[Vec<usize>],
    taken: &[bool],
    t: usize,
) -> Vec<usize> {
    let mut set = vec![t];
    loop {
        let next = set
            .iter()
            .flat_map(|&u| graph.nodes[u].inputs.iter())
            .find(|&&u| {
                !set.contains(&u)
                    && pieces[u].is_some()
                    && !taken[u]
                    && u != graph.output
                    && consumers[u].iter().all(|c| set.contains(c))
            });
        match next {
            Some(&u) if set.len() < MAX_STEPS => set.push(u),
            _ => break,
        }
    }
    set.sort_unstable();
    set
}

/// The largest region within `closure` ending at `t` that reads one tensor and is worth a
/// table.
fn best_region(
    graph: &Graph,
    pieces: &[Option<Piece>],
    consumers: &[Vec<usize>],
    closure: &[usize],
    t: usize,
) -> Option<Region> {
    let mut candidates: Vec<usize> = closure
        .iter()
        .flat_map(|&u| graph.nodes[u].inputs.iter().copied())
        .chain(closure.iter().copied())
        .filter(|&u| u != t)
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    let mut best: Option<Region> = None;
    for source in candidates {
        // The nodes of the closure computed from `source`.
        let mut nodes: Vec<usize> = Vec::new();
        for &u in closure {
            if u != source
                && graph.nodes[u]
                    .inputs
                    .iter()
                    .any(|&j| j == source || nodes.contains(&j))
            {
                nodes.push(u);
            }
        }
        let valid = nodes.last() == Some(&t)
            && nodes.len() >= 2
            && nodes
                .iter()
                .any(|&u| pieces[u].as_ref().is_some_and(Piece::is_func))
            && nodes.iter().all(|&u| {
                graph.nodes[u]
                    .inputs
                    .iter()
                    .all(|&j| j == source || nodes.contains(&j))
                    && (u == t || consumers[u].iter().all(|c| nodes.contains(c)))
            });
        if valid && best.as_ref().is_none_or(|b| nodes.len() > b.nodes.len()) {
            best = Some(Region { nodes, source });
        }
    }
    best
}

/// The graph with each region replaced by one node at its last node's place.
fn rebuild(graph: &Graph, pieces: &[Option<Piece>], regions: &[Region]) -> (Graph, Vec<usize>) {
    let count = graph.nodes.len();
    let mut fused: Vec<Option<&Region>> = vec![None; count];
    let mut dropped = vec![false; count];
    for r in regions {
        if let Some((&t, rest)) = r.nodes.split_last() {
            fused[t] = Some(r);
            for &u in rest {
                dropped[u] = true;
            }
        }
    }
    let mut new_index = vec![usize::MAX; count];
    let mut kept = Vec::new();
    for i in 0..count {
        if !dropped[i] {
            new_index[i] = kept.len();
            kept.push(i);
        }
    }
    let nodes = kept
        .iter()
        .map(|&i| {
            let old = &graph.nodes[i];
            let mut node = match fused[i] {
                Some(r) => fused_node(graph, pieces, r),
                None => old.clone(),
            };
            for j in &mut node.inputs {
                *j = new_index[*j];
            }
            node
        })
        .collect();
    let g = Graph {
        nodes,
        output: new_index[graph.output],
        inputs: graph.inputs.clone(),
        outputs: graph.outputs.clone(),
    };
    (g, kept)
}

/// The node a region becomes: its last node's name, shape and flags, the composite of its
/// nodes over its source.
fn fused_node(graph: &Graph, pieces: &[Option<Piece>], r: &Region) -> Node {
    let at = |u: usize| -> u32 {
        if u == r.source {
            0
        } else {
            r.nodes
                .iter()
                .position(|&v| v == u)
                .map_or(u32::MAX, |p| p as u32 + 1)
        }
    };
    let steps = r
        .nodes
        .iter()
        .filter_map(|&u| pieces[u].as_ref())
        .map(|p| match p {
            Piece::Sum(terms, bias) => Step::Sum {
                terms: terms.iter().map(|&(a, w)| (at(a), w)).collect(),
                bias: *bias,
            },
            Piece::Product(a, b, scale) => Step::Product {
                a: at(*a),
                b: at(*b),
                scale: *scale,
            },
            Piece::Relu(a) => Step::Relu(at(*a)),
            Piece::Clamp(a, hi) => Step::Clamp { a: at(*a), hi: *hi },
            Piece::Func(a, f) => Step::Func {
                a: at(*a),
                f: f.clone(),
            },
        })
        .collect();
    let last = &graph.nodes[*r.nodes.last().unwrap_or(&r.source)];
    let mut op_types: Vec<&str> = Vec::new();
    for &u in &r.nodes {
        let t = graph.nodes[u].op_type.as_str();
        if op_types.last() != Some(&t) {
            op_types.push(t);
        }
    }
    debug_assert!(r.nodes.iter().all(|&u| pieces[u].as_ref().is_some_and(|p| p
        .reads()
        .iter()
        .all(|&j| j == r.source || r.nodes.contains(&j)))));
    Node {
        name: last.name.clone(),
        op_type: op_types.join("+"),
        op: Op::Func {
            f: Func::Composite(Box::new(Composite { steps })),
        },
        inputs: vec![r.source],
        ..last.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{run_float, Linear};

    const N: usize = 6;

    fn node(op: Op, inputs: Vec<usize>) -> Node {
        Node {
            name: String::new(),
            op_type: "T".into(),
            op,
            inputs,
            shape: vec![1, N],
            wide: false,
            bound: None,
            nonpositive: false,
        }
    }

    /// A dense map mixing the elements of its input (not elementwise).
    fn dense(seed: f32) -> Op {
        let w = (0..N * N)
            .map(|i| ((i as f32 + seed) * 0.37).sin())
            .collect();
        Op::Linear {
            map: Linear::dense(w, N, N, 1),
            bias: None,
        }
    }

    fn affine(mul: f32, add: f32) -> Op {
        Op::Affine {
            mul: vec![mul; N],
            add: vec![add; N],
        }
    }

    fn diagonal() -> Op {
        Op::Bilinear {
            terms: (0..N as u32).map(|i| vec![(i, i)]).collect(),
            scale: 1.0,
        }
    }

    fn graph(nodes: Vec<Node>) -> Graph {
        Graph {
            output: nodes.len() - 1,
            nodes,
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn outputs(g: &Graph) -> Vec<f32> {
        let x: Vec<f32> = (0..N).map(|i| i as f32 * 0.7 - 2.0).collect();
        run_float(g, &x).swap_remove(g.output)
    }

    /// input → dense → σ → x·σ(x) → ·0.5 → dense.
    fn silu_graph() -> Graph {
        graph(vec![
            node(Op::Input, vec![]),
            node(dense(0.0), vec![0]),
            node(Op::Func { f: Func::Sigmoid }, vec![1]),
            node(diagonal(), vec![1, 2]),
            node(affine(0.5, 0.0), vec![3]),
            node(dense(1.0), vec![4]),
        ])
    }

    #[test]
    fn a_product_of_a_tensor_and_its_function_becomes_one_function_of_it() {
        let g = silu_graph();
        assert!(fusable(&g));
        let (f, kept) = fuse_elementwise(&g).expect("fused");
        assert_eq!(kept, vec![0, 1, 4, 5]);
        assert!(!fusable(&f), "nothing left to fuse");
        assert_eq!(f.nodes.len(), 4);
        assert_eq!(f.nodes[2].inputs, vec![1]);
        assert_eq!(f.nodes[3].inputs, vec![2]);
        let Op::Func {
            f: Func::Composite(c),
        } = &f.nodes[2].op
        else {
            panic!("not a composite: {:?}", f.nodes[2].op)
        };
        assert_eq!(c.describe(), "0.5·x·sigmoid(x)");
        assert_eq!(f.nodes[2].op_type, "T");
        // The same f64 operations in the same order: the outputs are the same numbers.
        assert_eq!(outputs(&f), outputs(&g));
    }

    #[test]
    fn a_sum_of_the_chain_and_a_value_on_the_way_is_fused_whole() {
        // σ(x) + 0.5·x·σ(x): the sigmoid is read twice, both times inside the region.
        let mut nodes = silu_graph().nodes;
        nodes.pop();
        nodes.push(node(
            Op::Linear {
                map: Linear {
                    mats: vec![crate::ir::Mat {
                        rows: 1,
                        cols: 2,
                        data: vec![1.0, 1.0],
                    }],
                    groups: (0..N as u32)
                        .map(|i| crate::ir::Group {
                            mat: 0,
                            inputs: vec![Some((0, i)), Some((1, i))],
                            outputs: vec![i],
                        })
                        .collect(),
                },
                bias: Some(vec![0.25; N]),
            },
            vec![2, 4],
        ));
        let g = graph(nodes);
        let (f, kept) = fuse_elementwise(&g).expect("fused");
        assert_eq!(kept, vec![0, 1, 5]);
        assert_eq!(outputs(&f), outputs(&g));
    }

    #[test]
    fn a_value_read_outside_the_chain_keeps_the_chain_apart() {
        // The sigmoid also feeds a dense map: fused away, it would be lost to it; and the
        // product then reads two tensors (x and σ(x)), no function of one.
        let mut nodes = silu_graph().nodes;
        nodes.pop();
        nodes.push(node(dense(2.0), vec![2]));
        nodes.push(node(affine(1.0, 0.0), vec![5]));
        nodes.push(node(
            Op::Bilinear {
                terms: (0..N as u32).map(|i| vec![(i, i)]).collect(),
                scale: 1.0,
            },
            vec![6, 4],
        ));
        assert!(fuse_elementwise(&graph(nodes)).is_none());
    }

    #[test]
    fn affine_maps_and_clamps_alone_are_left_to_their_rescales() {
        let g = graph(vec![
            node(Op::Input, vec![]),
            node(dense(0.0), vec![0]),
            node(affine(2.0, 1.0), vec![1]),
            node(Op::Relu, vec![2]),
            node(Op::Clamp { hi: 6.0 }, vec![3]),
        ]);
        assert!(fuse_elementwise(&g).is_none());
    }

    #[test]
    fn products_alone_and_radicands_stay_exact() {
        // x·x·x: exact products, no table needed.
        let cube = graph(vec![
            node(Op::Input, vec![]),
            node(dense(0.0), vec![0]),
            node(diagonal(), vec![1, 1]),
            node(diagonal(), vec![2, 1]),
        ]);
        assert!(fuse_elementwise(&cube).is_none());
        // The SiLU chain kept at double precision (it feeds a square root).
        let mut g = silu_graph();
        g.nodes[4].wide = true;
        let (_, kept) = fuse_elementwise(&g).expect("σ and the product fused");
        assert_eq!(kept, vec![0, 1, 3, 4, 5]);
    }

    #[test]
    fn per_element_constants_end_a_chain() {
        // A multiplier per element (a batch norm's) is not one function of each element.
        let mut g = silu_graph();
        g.nodes[4].op = Op::Affine {
            mul: (0..N).map(|i| i as f32).collect(),
            add: vec![0.0; N],
        };
        let (f, kept) = fuse_elementwise(&g).expect("σ and the product fused");
        assert_eq!(kept, vec![0, 1, 3, 4, 5]);
        assert_eq!(outputs(&f), outputs(&g));
    }

    #[test]
    fn a_malformed_composite_evaluates_to_nan_without_panicking() {
        let c = Composite {
            steps: vec![
                Step::Relu(7),
                Step::Product {
                    a: 0,
                    b: 3,
                    scale: 1.0,
                },
            ],
        };
        assert!(c.eval(1.0).is_nan());
        assert_eq!(c.describe(), "x·?");
        let c = Composite {
            steps: vec![
                Step::Sum {
                    terms: vec![(0, 0.0), (0, -1.0), (0, 0.70710677)],
                    bias: 1e-12,
                },
                Step::Func { a: 1, f: Func::Erf },
            ],
        };
        assert_eq!(c.describe(), "erf(0·x + −x + 0.7071·x + 0)");
    }
}
