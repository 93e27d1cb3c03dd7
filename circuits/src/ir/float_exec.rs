//! A plain float executor of the Graph IR (f64 inside, f32 out), used for calibration and as
//! the float reference.

use super::{Graph, Op, Ref};

/// Runs the graph on one input and returns every node's output tensor (flattened).
///
/// The caller checks the input length against the input node's shape.
pub fn run_float(graph: &Graph, input: &[f32]) -> Vec<Vec<f32>> {
    run_f64(graph, input)
        .into_iter()
        .map(|v| v.into_iter().map(|x| x as f32).collect())
        .collect()
}

/// [`run_float`] with every intermediate value in f64: the difference of two f32 values is
/// exact there, so a maximum decomposed as `b + relu(a − b)` is `a` exactly and a comparison
/// of a value with the maximum of its group is 0, not one rounding off (in f32 an ArgMin whose
/// maximum came out one ulp high found no maximal element and said 0).
fn run_f64(graph: &Graph, input: &[f32]) -> Vec<Vec<f64>> {
    let mut values: Vec<Vec<f64>> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let arg = |slot: usize| -> &Vec<f64> { &values[node.inputs[slot]] };
        let get = |r: &Ref| -> f64 {
            match *r {
                Ref::In(s, i) => values[node.inputs[s as usize]][i as usize],
                Ref::Const(c) => f64::from(c),
            }
        };
        let out: Vec<f64> = match &node.op {
            Op::Input => input.iter().map(|&x| f64::from(x)).collect(),
            Op::Linear { map, bias } => {
                let acc = map.eval(
                    node.len(),
                    0f64,
                    |(s, i)| values[node.inputs[s as usize]][i as usize],
                    |a, w, x| a + f64::from(w) * x,
                );
                acc.iter()
                    .enumerate()
                    .map(|(o, a)| a + bias.as_ref().map_or(0.0, |b| f64::from(b[o])))
                    .collect()
            }
            Op::Affine { mul, add } => arg(0)
                .iter()
                .zip(mul.iter().zip(add))
                .map(|(x, (m, a))| x * f64::from(*m) + f64::from(*a))
                .collect(),
            Op::Relu => arg(0).iter().map(|x| x.max(0.0)).collect(),
            Op::Clamp { hi } => arg(0)
                .iter()
                .map(|x| x.max(0.0).min(f64::from(*hi)))
                .collect(),
            Op::Gather { map } => map.iter().map(get).collect(),
            Op::Bilinear { terms, scale } => {
                let (a, b) = (arg(0), arg(1));
                terms
                    .iter()
                    .map(|t| {
                        let s: f64 = t.iter().map(|&(i, j)| a[i as usize] * b[j as usize]).sum();
                        s * f64::from(*scale)
                    })
                    .collect()
            }
            Op::Func { f } => arg(0).iter().map(|&x| f.eval(x)).collect(),
            Op::Select {
                values: v,
                offset,
                groups,
                slice,
            } => arg(0)
                .iter()
                .zip(slice)
                .map(|(&x, &g)| {
                    let i = (x.round() + f64::from(*offset)) * f64::from(*groups) + f64::from(g);
                    if i >= 0.0 && i < v.len() as f64 && g < *groups {
                        f64::from(v[i as usize])
                    } else {
                        f64::NAN
                    }
                })
                .collect(),
            Op::Div { num, den } => num.iter().zip(den).map(|(n, d)| get(n) / get(d)).collect(),
            Op::Sqrt => arg(0).iter().map(|x| x.max(0.0).sqrt()).collect(),
            Op::Step => arg(0)
                .iter()
                .map(|&x| if x > 0.0 { 1.0 } else { 0.0 })
                .collect(),
            Op::Floor => arg(0).iter().map(|x| x.floor()).collect(),
        };
        values.push(out);
    }
    values
}
