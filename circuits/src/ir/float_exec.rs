//! A plain f32 executor of the Graph IR, used for calibration.

use super::{Graph, Op, Ref};

/// Runs the graph on one input and returns every node's output tensor (flattened).
///
/// The caller checks the input length against the input node's shape.
pub fn run_float(graph: &Graph, input: &[f32]) -> Vec<Vec<f32>> {
    let mut values: Vec<Vec<f32>> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let arg = |slot: usize| -> &Vec<f32> { &values[node.inputs[slot]] };
        let get = |r: &Ref| -> f64 {
            match *r {
                Ref::In(s, i) => f64::from(values[node.inputs[s as usize]][i as usize]),
                Ref::Const(c) => f64::from(c),
            }
        };
        let out: Vec<f32> = match &node.op {
            Op::Input => input.to_vec(),
            Op::Linear { map, bias } => {
                let acc = map.eval(
                    node.len(),
                    0f64,
                    |(s, i)| f64::from(values[node.inputs[s as usize]][i as usize]),
                    |a, w, x| a + f64::from(w) * x,
                );
                acc.iter()
                    .enumerate()
                    .map(|(o, a)| (a + bias.as_ref().map_or(0.0, |b| f64::from(b[o]))) as f32)
                    .collect()
            }
            Op::Affine { mul, add } => arg(0)
                .iter()
                .zip(mul.iter().zip(add))
                .map(|(x, (m, a))| x * m + a)
                .collect(),
            Op::Relu => arg(0).iter().map(|x| x.max(0.0)).collect(),
            Op::Gather { map } => map.iter().map(|r| get(r) as f32).collect(),
            Op::Bilinear { terms, scale } => {
                let (a, b) = (arg(0), arg(1));
                terms
                    .iter()
                    .map(|t| {
                        let s: f64 = t
                            .iter()
                            .map(|&(i, j)| f64::from(a[i as usize]) * f64::from(b[j as usize]))
                            .sum();
                        (s * f64::from(*scale)) as f32
                    })
                    .collect()
            }
            Op::Func { f } => arg(0)
                .iter()
                .map(|&x| f.eval(f64::from(x)) as f32)
                .collect(),
            Op::Div { num, den } => num
                .iter()
                .zip(den)
                .map(|(n, d)| (get(n) / get(d)) as f32)
                .collect(),
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
