//! Spectral operators of constant lengths: `DFT` and `STFT` (an audio model's spectrogram
//! front end, torch's `stft` at opset ≥ 17).
//!
//! With its length, axis, frame step and window constant, a discrete Fourier transform is a
//! linear map of the signal with constant weights: bin `k` of a frame `x[0..L)` is
//! `Σ_n w[n]·x[n]·e^(∓2πi·kn/L)` (scaled by `1/L` when inverse). Each frame is one block of an
//! [`Op::Linear`] sharing one weight matrix (`2·bins` rows of cosines and sines, `L` columns, or
//! `2L` for a complex signal), so it is proved as any convolution is, and a constant signal is
//! folded. Complex values are ONNX's: a last axis of 2 (real, imaginary).

use std::f64::consts::PI;

use tract_onnx::pb;

use super::tensor::{for_each_index, norm_axis, numel, strides, MAX_ELEMENTS};
use super::{attr, attr_i, Const, Importer, Value};
use crate::ir::{Group, Linear, Mat, Op};

type R<T> = Result<T, String>;

/// The weights of a transform of `len` taps (`window[n]` on tap `n`), `bins` bins.
struct Spectrum {
    len: usize,
    bins: usize,
    complex: bool,
    inverse: bool,
}

impl Spectrum {
    /// `2·bins × (len or 2·len)` weights: row `2k` the real part of bin `k`, `2k + 1` its
    /// imaginary part; column `n` (real signal) or `2n`, `2n + 1` (complex).
    fn mat(&self, window: &[f64]) -> Mat<f32> {
        let cols = if self.complex { 2 * self.len } else { self.len };
        let mut data = vec![0f32; 2 * self.bins * cols];
        let (sign, scale) = if self.inverse {
            (1.0, 1.0 / self.len as f64)
        } else {
            (-1.0, 1.0)
        };
        for k in 0..self.bins {
            for n in 0..self.len {
                // e^(i·θ), θ = ∓2π·kn/L (kn reduced mod L: exact angles for long frames).
                let theta = sign * 2.0 * PI * ((k * n) % self.len) as f64 / self.len as f64;
                let (c, s) = (
                    theta.cos() * scale * window[n],
                    theta.sin() * scale * window[n],
                );
                let (re, im) = (2 * k * cols, (2 * k + 1) * cols);
                if self.complex {
                    // (a + ib)(c + is) = (ac − bs) + i(as + bc).
                    data[re + 2 * n] = c as f32;
                    data[re + 2 * n + 1] = -s as f32;
                    data[im + 2 * n] = s as f32;
                    data[im + 2 * n + 1] = c as f32;
                } else {
                    data[re + n] = c as f32;
                    data[im + n] = s as f32;
                }
            }
        }
        Mat {
            rows: 2 * self.bins,
            cols,
            data,
        }
    }
}

/// Refuses `frames` transforms of `len` taps to `bins` bins past the importer's budget of
/// terms, before their weights or taps are allocated (`dft_length` is the model's word).
fn check_budget(frames: usize, len: usize, bins: usize, complex: bool) -> R<()> {
    let cols = if complex {
        2 * len as u128
    } else {
        len as u128
    };
    let terms = (frames as u128 + 1) * 2 * bins as u128 * cols;
    if terms > MAX_ELEMENTS as u128 {
        return Err(format!(
            "{frames} transforms of {len} taps to {bins} bins are over the importer's budget \
             of {MAX_ELEMENTS} terms"
        ));
    }
    Ok(())
}

impl Importer {
    pub(crate) fn lower_signal_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        Ok(Some(vec![match op {
            "DFT" => self.dft(node)?,
            "STFT" => self.stft(node)?,
            _ => return Ok(None),
        }]))
    }

    /// A scalar integer input, constant.
    fn const_scalar(&self, node: &pb::NodeProto, i: usize, what: &str) -> R<Option<i64>> {
        match self.const_input(node, i, what)? {
            None => Ok(None),
            Some(c) if c.data.len() == 1 => Ok(Some(c.data[0] as i64)),
            Some(c) => Err(format!("{what} must be a scalar, got shape {:?}", c.shape)),
        }
    }

    /// The signal: its shape, checked to end in a complex axis of 1 or 2.
    fn signal(&self, x: &Value, min_rank: usize) -> R<(Vec<usize>, bool)> {
        let s = self.shape_of(x);
        match s.last() {
            Some(&c @ (1 | 2)) if s.len() >= min_rank => Ok((s.clone(), c == 2)),
            _ => Err(format!(
                "the signal {s:?} must have rank ≥ {min_rank} and a last axis of 1 (real) \
                 or 2 (complex)"
            )),
        }
    }

    /// `DFT` (opset 17: `axis` an attribute, default 1; opset 20: the third input, default
    /// −2), `dft_length` padding or truncating the signal, `onesided` and `inverse`.
    fn dft(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let (s, complex) = self.signal(&x, 2)?;
        let rank = s.len();
        let axis = if self.opset >= 20 {
            self.const_scalar(node, 2, "the axis")?.unwrap_or(-2)
        } else {
            attr_i(node, "axis", 1)
        };
        let axis = norm_axis(axis, rank)?;
        if axis + 1 == rank {
            return Err("the transform's axis cannot be the complex axis".into());
        }
        let len = match self.const_scalar(node, 1, "dft_length")? {
            Some(l) if l < 1 => return Err(format!("dft_length {l} is not positive")),
            Some(l) => l as usize,
            None => s[axis],
        };
        let onesided = attr_i(node, "onesided", 0) != 0;
        let inverse = attr_i(node, "inverse", 0) != 0;
        if onesided && complex {
            return Err("onesided needs a real signal".into());
        }
        let bins = if onesided { len / 2 + 1 } else { len };
        let frames = numel(&s) / s[axis].max(1) / s[rank - 1];
        check_budget(frames, len, bins, complex)?;
        let spec = Spectrum {
            len,
            bins,
            complex,
            inverse,
        };
        let mut out = s.clone();
        out[axis] = bins;
        out[rank - 1] = 2;
        // One frame per position of the other axes.
        let mut outer = s[..rank - 1].to_vec();
        outer[axis] = 1;
        let (sst, ost) = (strides(&s), strides(&out));
        let mut frames = Vec::new();
        for_each_index(&outer, |_, p| {
            let base: usize = p.iter().zip(&sst).map(|(a, b)| a * b).sum();
            let obase: usize = p.iter().zip(&ost).map(|(a, b)| a * b).sum();
            let taps = (0..len)
                .map(|n| (n < s[axis]).then_some(base + n * sst[axis]))
                .collect();
            let outs = (0..bins).map(|k| obase + k * ost[axis]).collect();
            frames.push((taps, outs));
        });
        self.spectral(x, &spec, &vec![1.0; len], frames, out)
    }

    /// `STFT`: frames of `frame_length` every `frame_step` along the signal's axis 1, each
    /// multiplied by the window (if any) and transformed (`onesided`, default 1, for a real
    /// signal). Output `[batch, frames, bins, 2]`.
    fn stft(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let (s, complex) = self.signal(&x, 3)?;
        if s.len() != 3 {
            return Err(format!("the signal {s:?} must be [batch, length, 1 or 2]"));
        }
        let step = self
            .const_scalar(node, 1, "frame_step")?
            .ok_or("frame_step is required")?;
        let window = match self.const_input(node, 2, "the window")? {
            Some(w) if w.shape.len() == 1 => Some(w.data),
            Some(w) => return Err(format!("the window {:?} must be one-dimensional", w.shape)),
            None => None,
        };
        let len = match (self.const_scalar(node, 3, "frame_length")?, &window) {
            (Some(l), Some(w)) if l as usize != w.len() => {
                return Err(format!(
                    "frame_length {l} differs from the window's length {}",
                    w.len()
                ))
            }
            (Some(l), _) => l,
            (None, Some(w)) => w.len() as i64,
            (None, None) => return Err("a frame_length or a window is required".into()),
        };
        if step < 1 || len < 1 || len as usize > s[1] {
            return Err(format!(
                "frame_step {step} and frame_length {len} do not fit a signal of length {}",
                s[1]
            ));
        }
        let (len, step) = (len as usize, step as usize);
        let onesided = attr(node, "onesided").is_none_or(|a| a.i != 0);
        if onesided && complex {
            return Err("onesided needs a real signal".into());
        }
        let bins = if onesided { len / 2 + 1 } else { len };
        let nframes = (s[1] - len) / step + 1;
        check_budget(s[0] * nframes, len, bins, complex)?;
        let out = vec![s[0], nframes, bins, 2];
        let c = s[2];
        let mut frames = Vec::with_capacity(s[0] * nframes);
        for b in 0..s[0] {
            for f in 0..nframes {
                let taps = (0..len)
                    .map(|n| Some((b * s[1] + f * step + n) * c))
                    .collect();
                let obase = (b * nframes + f) * bins * 2;
                frames.push((taps, (0..bins).map(|k| obase + 2 * k).collect()));
            }
        }
        let window: Vec<f64> = window.map_or(vec![1.0; len], |w| {
            w.iter().map(|&v| f64::from(v)).collect()
        });
        let spec = Spectrum {
            len,
            bins,
            complex,
            inverse: false,
        };
        self.spectral(x, &spec, &window, frames, out)
    }

    /// The transform of every frame: `frames` lists, per frame, each tap's input element (of
    /// the real part; `None` past the signal) and each bin's output element (of its real
    /// part; the imaginary part follows).
    fn spectral(
        &mut self,
        x: Value,
        spec: &Spectrum,
        window: &[f64],
        frames: Vec<(Vec<Option<usize>>, Vec<usize>)>,
        out: Vec<usize>,
    ) -> R<Value> {
        let mat = spec.mat(window);
        let groups = frames
            .into_iter()
            .map(|(taps, outs)| Group {
                mat: 0,
                inputs: taps
                    .iter()
                    .flat_map(|t| {
                        let re = t.map(|i| (0, i as u32));
                        let im = t.map(|i| (0, i as u32 + 1));
                        if spec.complex {
                            vec![re, im]
                        } else {
                            vec![re]
                        }
                    })
                    .collect(),
                outputs: outs
                    .iter()
                    .flat_map(|&o| [o as u32, o as u32 + 1])
                    .collect(),
            })
            .collect();
        let map = Linear {
            mats: vec![mat],
            groups,
        };
        Ok(match x {
            Value::Dyn(xi) => Value::Dyn(self.emit(Op::Linear { map, bias: None }, vec![xi], out)),
            Value::Const(cx) => {
                let data = map.eval(
                    numel(&out),
                    0f32,
                    |(_, i)| cx.data[i as usize],
                    |a, w, v| a + w * v,
                );
                Value::Const(Const { shape: out, data })
            }
        })
    }
}
