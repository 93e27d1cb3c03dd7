//! Writes `models/tiny_mlp.onnx` and `models/tiny_mlp.input.json`: a small model (8 inputs,
//! 3 outputs) that uses every operator of the first milestone and whose Solidity verifier fits
//! EIP-170 today. `cargo run --release --example make_tiny_model`

#[path = "../tests/common/onnx.rs"]
#[allow(dead_code)]
mod onnx;

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    std::fs::write(dir.join("tiny_mlp.onnx"), onnx::mixed_model())?;
    let x = onnx::rand_vec(300, 8, 1.0);
    let input = format!(
        "{{\"input_data\": [[{}]]}}\n",
        x.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::fs::write(dir.join("tiny_mlp.input.json"), input)?;
    println!("wrote {}", dir.join("tiny_mlp.onnx").display());
    Ok(())
}
