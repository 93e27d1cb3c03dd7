//! The backend use: load the model, keys and SRS once, then prove and verify many inputs.
//!
//! `cargo run --release --example prove_many -- [MODEL.onnx] [SAMPLES.json] [N]`
//! (defaults: the bundled mlp_digits and the shared evaluation set, 5 proofs).

use std::path::PathBuf;
use std::time::Instant;

use zkonnx::prover::srs::{dev_srs, DEV_SRS_WARNING};
use zkonnx::{data, Model, Prover, QuantSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let model_path = args
        .next()
        .map_or_else(|| root.join("models/mlp_digits.onnx"), PathBuf::from);
    let samples_path = args.next().map_or_else(
        || root.join("../shared/models/mlp_digits.eval.json"),
        PathBuf::from,
    );
    let n: usize = args.next().map_or(Ok(5), |s| s.parse())?;

    let samples = match data::read_samples(&samples_path) {
        Ok(s) => s,
        Err(_) => vec![data::read_input(
            &root.join("models/mlp_digits.input.json"),
        )?],
    };

    let t = Instant::now();
    let model = Model::load(&model_path)?;
    let compiled = model.compile(&samples, QuantSettings::default())?;
    eprintln!("{DEV_SRS_WARNING}");
    let params = dev_srs(compiled.k(), 42);
    let prover = Prover::setup(compiled, params)?;
    let vk = prover.verifier_key();
    println!(
        "setup once (compile + SRS + keys, k={}): {:.2} s",
        prover.compiled().k(),
        t.elapsed().as_secs_f64()
    );

    for (i, x) in samples.iter().cycle().take(n).enumerate() {
        let t = Instant::now();
        let proof = prover.prove(x)?;
        let prove_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ok = zkonnx::verify(
            &vk,
            &prover.compiled().settings,
            &proof.to_file(),
            "proof.json".as_ref(),
        )?;
        let argmax = zkonnx::fidelity::argmax(&proof.outputs).unwrap_or(0);
        println!(
            "proof {i}: prove {prove_s:.3} s, verify {:.3} s, valid: {ok}, predicted class {argmax}",
            t.elapsed().as_secs_f64()
        );
        if !ok {
            return Err("a proof did not verify".into());
        }
    }
    Ok(())
}
