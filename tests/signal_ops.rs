//! DFT and STFT of constant lengths as linear maps: compared with the transform computed by
//! hand (a naive sum in f64) and proved under MockProver.

mod common;

use std::f64::consts::PI;

use common::onnx::{model, node, rand_vec, tensor, tensor_i64_shaped, Attr};

fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = common::temp_dir(name).join(format!("{name}.onnx"));
    std::fs::write(&p, bytes).expect("write model");
    p
}

/// Bins `0..bins` of the transform of `(re, im)` taps (`sign` −1 forward, +1 inverse), each
/// as (re, im), divided by `scale`.
fn naive(re: &[f64], im: &[f64], bins: usize, sign: f64, scale: f64) -> Vec<f64> {
    let n = re.len();
    let mut out = Vec::with_capacity(2 * bins);
    for k in 0..bins {
        let (mut a, mut b) = (0.0, 0.0);
        for t in 0..n {
            let th = sign * 2.0 * PI * (k * t) as f64 / n as f64;
            a += re[t] * th.cos() - im[t] * th.sin();
            b += re[t] * th.sin() + im[t] * th.cos();
        }
        out.extend([a / scale, b / scale]);
    }
    out
}

/// A real signal's one-sided DFT along axis 1 of `[2, 8, 1]`: 5 bins per batch row.
#[test]
fn onesided_dft_of_a_real_signal() {
    let p = write(
        "dft-real",
        &model(
            ("x", &[2, 8, 1]),
            ("y", &[2, 5, 2]),
            &[node(
                "DFT",
                &["x"],
                "y",
                vec![("onesided", Attr::I(1)), ("axis", Attr::I(1))],
            )],
            vec![],
        ),
    );
    let x = rand_vec(51, 16, 1.0);
    let mut reference = Vec::new();
    for b in 0..2 {
        let re: Vec<f64> = x[b * 8..b * 8 + 8].iter().map(|&v| f64::from(v)).collect();
        reference.extend(naive(&re, &[0.0; 8], 5, -1.0, 1.0));
    }
    common::matches_under_mock(&p, &x, &reference, 3e-3);
}

/// A complex signal's inverse DFT (`1/N` scaled), `[1, 6, 2]`.
#[test]
fn inverse_dft_of_a_complex_signal() {
    let p = write(
        "dft-inverse",
        &model(
            ("x", &[1, 6, 2]),
            ("y", &[1, 6, 2]),
            &[node("DFT", &["x"], "y", vec![("inverse", Attr::I(1))])],
            vec![],
        ),
    );
    let x = rand_vec(52, 12, 2.0);
    let re: Vec<f64> = x.iter().step_by(2).map(|&v| f64::from(v)).collect();
    let im: Vec<f64> = x.iter().skip(1).step_by(2).map(|&v| f64::from(v)).collect();
    let reference = naive(&re, &im, 6, 1.0, 6.0);
    common::matches_under_mock(&p, &x, &reference, 2e-3);
}

/// STFT of a `[1, 32, 1]` signal: frames of 16 every 8 (3 frames), a Hann window, 9 bins.
#[test]
fn windowed_stft_frames_and_transforms() {
    let hann: Vec<f32> = (0..16)
        .map(|n| (0.5 - 0.5 * (2.0 * PI * n as f64 / 16.0).cos()) as f32)
        .collect();
    let p = write(
        "stft",
        &model(
            ("x", &[1, 32, 1]),
            ("y", &[1, 3, 9, 2]),
            &[node("STFT", &["x", "step", "win"], "y", vec![])],
            vec![
                tensor_i64_shaped("step", &[], vec![8]),
                tensor("win", &[16], hann.clone()),
            ],
        ),
    );
    let x = rand_vec(53, 32, 1.0);
    let mut reference = Vec::new();
    for f in 0..3 {
        let re: Vec<f64> = (0..16)
            .map(|n| f64::from(x[f * 8 + n]) * f64::from(hann[n]))
            .collect();
        reference.extend(naive(&re, &[0.0; 16], 9, -1.0, 1.0));
    }
    common::matches_under_mock(&p, &x, &reference, 3e-3);
}
