//! Criterion benches of each gadget: the full prove time (witness, commitments, quotient,
//! opening) of a one-operator model at a few sizes — matrix-vector (packed multiply-add),
//! convolution, rescale, ReLU (range checks) and a lookup nonlinearity (sigmoid).
//! Keys are made once per model, outside the measurement. `cargo bench --bench gadgets`.

#[path = "../tests/common/onnx.rs"]
#[allow(dead_code)]
mod onnx;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use onnx::{model, rand_vec, tensor, Attr, N};
use zkonnx::prover::srs::dev_srs;
use zkonnx::{Model, Prover, QuantSettings};

/// One operator `op` on an input of `shape`, with the given initializers.
fn one_op(
    op: &str,
    shape: &[i64],
    out: &[i64],
    attrs: Vec<(&str, Attr)>,
    inits: Vec<tract_onnx::pb::TensorProto>,
) -> Vec<u8> {
    let owned: Vec<String> = std::iter::once("x".to_string())
        .chain(inits.iter().map(|t| t.name.clone()))
        .collect();
    let names: Vec<&str> = owned.iter().map(String::as_str).collect();
    model(
        ("x", shape),
        ("y", out),
        &[N {
            op,
            name: "op",
            inputs: &names,
            output: "y",
            attrs,
        }],
        inits,
    )
}

fn prover_for(bytes: &[u8], n_in: usize) -> (Prover, Vec<f32>) {
    let dir = std::env::temp_dir().join(format!("zkonnx-bench-gadgets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("m.onnx");
    std::fs::write(&path, bytes).expect("write model");
    let x = rand_vec(1, n_in, 1.0);
    let compiled = Model::load(&path)
        .expect("import")
        .compile(std::slice::from_ref(&x), QuantSettings::default())
        .expect("compile");
    let k = compiled.k();
    (Prover::setup(compiled, dev_srs(k, 1)).expect("setup"), x)
}

fn gadgets(c: &mut Criterion) {
    let mut group = c.benchmark_group("gadgets");
    group.sample_size(10);
    for n in [64usize, 256] {
        let w = tensor("w", &[n as i64, n as i64], rand_vec(2, n * n, 0.1));
        let cases: Vec<(&str, Vec<u8>, usize)> = vec![
            (
                "matvec",
                one_op("MatMul", &[1, n as i64], &[1, n as i64], vec![], vec![w]),
                n,
            ),
            (
                "conv3x3",
                one_op(
                    "Conv",
                    &[1, 4, (n / 8) as i64, (n / 8) as i64],
                    &[1, 4, (n / 8 - 2) as i64, (n / 8 - 2) as i64],
                    vec![("kernel_shape", Attr::Ints(vec![3, 3]))],
                    vec![tensor("k", &[4, 4, 3, 3], rand_vec(3, 144, 0.2))],
                ),
                4 * (n / 8) * (n / 8),
            ),
            (
                "rescale",
                one_op(
                    "Mul",
                    &[1, n as i64],
                    &[1, n as i64],
                    vec![],
                    vec![tensor("s", &[1], vec![0.37])],
                ),
                n,
            ),
            (
                "relu_range",
                one_op("Relu", &[1, n as i64], &[1, n as i64], vec![], vec![]),
                n,
            ),
            (
                "sigmoid_lookup",
                one_op("Sigmoid", &[1, n as i64], &[1, n as i64], vec![], vec![]),
                n,
            ),
        ];
        for (name, bytes, n_in) in cases {
            let (prover, x) = prover_for(&bytes, n_in);
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| prover.prove(&x).expect("prove"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, gadgets);
criterion_main!(benches);
