//! `GridSample` on a constant grid (a fixed warp: undistortion, a constant flow or affine
//! transform): every output element reads fixed input elements with fixed weights, so it is
//! one constant-weight linear map, as `Resize` is. Sampling follows ONNX's definition (its
//! reference implementation): grid values in [−1, 1] are unnormalised per axis
//! (`align_corners`), rounded half to even for `nearest`, brought inside the borders for the
//! `border` and `reflection` padding modes, and interpolated separably (`linear`: two taps per
//! axis, `cubic`: four, Keys' α = −0.75) with each tap's index read through the padding mode
//! (`zeros`: a zero outside the input).

use std::collections::BTreeMap;

use tract_onnx::pb;

use super::tensor::{numel, MAX_ELEMENTS};
use super::{attr_i, attr_s, Importer, Value};
use crate::ir::{Group, Linear, Mat, Op};

type R<T> = Result<T, String>;

/// Largest |grid value| (normalised: ±1 spans the input; past it padding decides).
const MAX_GRID: f32 = 1e6;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Nearest,
    Linear,
    Cubic,
}

#[derive(Clone, Copy, PartialEq)]
enum Padding {
    Zeros,
    Border,
    Reflection,
}

/// One spatial axis: its length and the interval the padding modes fold into.
struct Axis {
    len: usize,
    lo: f64,
    hi: f64,
}

impl Axis {
    fn new(len: usize, align: bool) -> Self {
        let (lo, hi) = if align {
            (0.0, len as f64 - 1.0)
        } else {
            (-0.5, len as f64 - 0.5)
        };
        Self { len, lo, hi }
    }

    /// Reflects `x` by the nearer border until it lies within `[lo, hi]`.
    fn reflect(&self, x: f64) -> f64 {
        let range = self.hi - self.lo;
        if range <= 0.0 {
            return self.lo;
        }
        let (d, from_lo) = if x < self.lo {
            (self.lo - x, true)
        } else if x > self.hi {
            (x - self.hi, false)
        } else {
            return x;
        };
        let n = (d / range).trunc();
        let r = d - n * range;
        match (n as i64 % 2 == 0, from_lo) {
            (true, true) | (false, false) => self.lo + r,
            _ => self.hi - r,
        }
    }

    /// The input index tap `i` reads, `None` for a zero.
    fn pixel(&self, i: i64, padding: Padding) -> Option<usize> {
        let last = self.len as i64 - 1;
        match padding {
            Padding::Zeros => (0..=last).contains(&i).then_some(i as usize),
            Padding::Border => Some(i.clamp(0, last) as usize),
            Padding::Reflection => Some((self.reflect(i as f64) as i64).clamp(0, last) as usize),
        }
    }

    /// The taps of grid value `g` on this axis: `(input index, weight)`.
    fn taps(&self, g: f64, align: bool, mode: Mode, padding: Padding) -> Vec<(Option<usize>, f64)> {
        let n = self.len as f64;
        let mut x = if align {
            (g + 1.0) / 2.0 * (n - 1.0)
        } else {
            ((g + 1.0) * n - 1.0) / 2.0
        };
        if mode == Mode::Nearest {
            x = round_half_even(x);
        }
        if x < self.lo || x > self.hi {
            match padding {
                Padding::Border => x = x.clamp(0.0, n - 1.0),
                Padding::Reflection => x = self.reflect(x),
                Padding::Zeros => {}
            }
        }
        let x0 = x.floor();
        let t = x - x0;
        let at = |k: i64, w: f64| (self.pixel(x0 as i64 + k, padding), w);
        match mode {
            Mode::Nearest => vec![(self.pixel(x as i64, padding), 1.0)],
            Mode::Linear => vec![at(0, 1.0 - t), at(1, t)],
            Mode::Cubic => {
                let a = -0.75;
                let far = |d: f64| ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a;
                let near = |d: f64| ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0;
                vec![
                    at(-1, far(t + 1.0)),
                    at(0, near(t)),
                    at(1, near(1.0 - t)),
                    at(2, far(2.0 - t)),
                ]
            }
        }
    }
}

fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

impl Importer {
    /// `GridSample` of a computed input on a constant grid.
    pub(crate) fn grid_sample(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let xi = self.dyn_of(&x, "the input")?;
        let s = self.shape_of(&x);
        let grid = self
            .const_input(node, 1, "the grid")?
            .ok_or("GridSample needs a grid")?;
        let r = s.len().saturating_sub(2);
        let gs = &grid.shape;
        if !(1..=3).contains(&r) || gs.len() != r + 2 || gs[0] != s[0] || gs[r + 1] != r {
            return Err(format!(
                "input {s:?} and grid {gs:?} do not fit (grid [N, out…, {r}])"
            ));
        }
        let mode = match attr_s(
            node,
            "mode",
            if self.opset >= 20 {
                "linear"
            } else {
                "bilinear"
            },
        )
        .as_str()
        {
            "nearest" => Mode::Nearest,
            "linear" | "bilinear" => Mode::Linear,
            "cubic" | "bicubic" => Mode::Cubic,
            m => return Err(format!("mode '{m}' is not supported")),
        };
        let padding = match attr_s(node, "padding_mode", "zeros").as_str() {
            "zeros" => Padding::Zeros,
            "border" => Padding::Border,
            "reflection" => Padding::Reflection,
            p => return Err(format!("padding_mode '{p}' is not supported")),
        };
        // Grid values are the model's: a non-finite or huge one would index nowhere (its
        // integer position wraps), so it is refused by name.
        if let Some(g) = grid
            .data
            .iter()
            .find(|g| !g.is_finite() || g.abs() > MAX_GRID)
        {
            return Err(format!(
                "grid value {g} is not a finite coordinate within ±{MAX_GRID}"
            ));
        }
        let align = attr_i(node, "align_corners", 0) != 0;
        let axes: Vec<Axis> = s[2..].iter().map(|&l| Axis::new(l, align)).collect();
        let (nb, c) = (s[0], s[1]);
        let out_sp: Vec<usize> = gs[1..=r].to_vec();
        let (sp_in, sp_out) = (numel(&s[2..]), numel(&out_sp));
        let taps_per = [1usize, 2, 4][mode as usize].pow(r as u32);
        if (nb * c * sp_out).saturating_mul(taps_per) > MAX_ELEMENTS {
            return Err(format!(
                "{} samples of {taps_per} taps are over the importer's budget of {MAX_ELEMENTS} terms",
                nb * c * sp_out
            ));
        }
        let mut mats = Vec::with_capacity(nb * sp_out);
        let mut groups = Vec::with_capacity(nb * c * sp_out);
        for b in 0..nb {
            for p in 0..sp_out {
                // The grid's last axis is (x, y[, z]): x samples the last spatial axis.
                let g = &grid.data[(b * sp_out + p) * r..(b * sp_out + p + 1) * r];
                let mut taps: BTreeMap<usize, f64> = BTreeMap::new();
                let per_axis: Vec<_> = (0..r)
                    .map(|a| axes[a].taps(f64::from(g[r - 1 - a]), align, mode, padding))
                    .collect();
                // Every combination of one tap per axis: weight the product, zero if any
                // axis reads outside the input.
                let mut combos = vec![(Some(0usize), 1.0f64)];
                for (a, at) in per_axis.iter().enumerate() {
                    let stride: usize = s[3 + a..].iter().product();
                    combos = combos
                        .iter()
                        .flat_map(|&(off, w)| {
                            at.iter().map(move |&(i, wa)| {
                                (off.zip(i).map(|(o, i)| o + i * stride), w * wa)
                            })
                        })
                        .collect();
                }
                for (off, w) in combos {
                    if let Some(o) = off {
                        *taps.entry(o).or_default() += w;
                    }
                }
                // A sample wholly outside the input (zeros padding) is one zero tap.
                let taps: Vec<(Option<usize>, f64)> = match taps
                    .into_iter()
                    .filter(|&(_, w)| w != 0.0)
                    .map(|(o, w)| (Some(o), w))
                    .collect::<Vec<_>>()
                {
                    t if t.is_empty() => vec![(None, 0.0)],
                    t => t,
                };
                let m = mats.len() as u32;
                mats.push(Mat {
                    rows: 1,
                    cols: taps.len(),
                    data: taps.iter().map(|&(_, w)| w as f32).collect(),
                });
                for ch in 0..c {
                    let base = (b * c + ch) * sp_in;
                    groups.push(Group {
                        mat: m,
                        inputs: taps
                            .iter()
                            .map(|&(o, _)| o.map(|o| (0, (base + o) as u32)))
                            .collect(),
                        outputs: vec![((b * c + ch) * sp_out + p) as u32],
                    });
                }
            }
        }
        let mut out = vec![nb, c];
        out.extend(&out_sp);
        Ok(Value::Dyn(self.emit(
            Op::Linear {
                map: Linear { mats, groups },
                bias: None,
            },
            vec![xi],
            out,
        )))
    }
}
