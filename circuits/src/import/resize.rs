//! `Resize` and `Upsample` with constant scales or sizes, as ONNX defines them (opset 7–21):
//! nearest, linear and cubic modes, antialiased downsampling, `exclude_outside`, every
//! coordinate transformation (`tf_crop_and_resize` with its region of interest and
//! extrapolation value included), `axes` and `keep_aspect_ratio_policy`.
//!
//! Each output element reads a fixed set of input elements with fixed weights, so nearest
//! resampling is rewiring and every other mode one linear map: the weights are computed here,
//! at import, per axis, and an element's weights are the products of its axes' weights.
//! Positions outside the input read the edge element (ONNX pads with the edge), or, with
//! `exclude_outside`, get weight 0 and the rest renormalised; an output that
//! `tf_crop_and_resize` places outside the input is the extrapolation value (a constant).

use tract_onnx::pb;

use super::build::Pick;
use super::tensor::{for_each_index, numel, strides, MAX_ELEMENTS};
use super::{attr_f, attr_i, attr_ints, attr_s, Importer, Value};

type R<T> = Result<T, String>;

/// Largest output a resampling may build.
const MAX_OUT: usize = 1 << 24;

/// Largest number of taps one axis may read per output position (an antialiased
/// downsample by `f` reads about `4f` taps in cubic mode).
const MAX_TAPS: usize = 1 << 10;

/// One axis's taps for every output position: `None` where `tf_crop_and_resize` places the
/// position outside the input, else `(source index, weight)` pairs.
type AxisTaps = Vec<Option<Vec<(usize, f32)>>>;

/// The interpolation settings shared by every axis of one node.
struct Interp {
    coord: String,
    mode: &'static str,
    nearest: String,
    cubic_a: f64,
    exclude_outside: bool,
    antialias: bool,
}

impl Interp {
    /// Where output position `x` of an axis lies in the input (ONNX's `x_original`), or
    /// `None` outside the region `tf_crop_and_resize` crops. `resized` is `in · scale`.
    fn source(
        &self,
        x: usize,
        in_len: usize,
        out_len: usize,
        scale: f64,
        roi: (f64, f64),
    ) -> R<Option<f64>> {
        let xf = x as f64;
        let last = in_len.saturating_sub(1) as f64;
        let resized = in_len as f64 * scale;
        Ok(Some(match self.coord.as_str() {
            "half_pixel" => (xf + 0.5) / scale - 0.5,
            "half_pixel_symmetric" => {
                let offset = in_len as f64 / 2.0 * (1.0 - out_len as f64 / resized);
                offset + (xf + 0.5) / scale - 0.5
            }
            "pytorch_half_pixel" if resized == 1.0 => -0.5,
            "pytorch_half_pixel" => (xf + 0.5) / scale - 0.5,
            // ONNX divides by the resized length before rounding (`in · scale`): a 4 → 2.4
            // downsample reads x = 1 at 3/1.4, not 3/1.
            "align_corners" if resized == 1.0 => 0.0,
            "align_corners" => xf * last / (resized - 1.0),
            "asymmetric" => xf / scale,
            "tf_half_pixel_for_nearest" => (xf + 0.5) / scale,
            "tf_crop_and_resize" => {
                let span = (roi.1 - roi.0) * last;
                let o = if resized == 1.0 {
                    span / 2.0
                } else {
                    xf * span / (resized - 1.0)
                } + roi.0 * last;
                if o < 0.0 || o > last {
                    return Ok(None);
                }
                o
            }
            c => return Err(format!("coordinate transformation '{c}' is not supported")),
        }))
    }

    /// The taps of one position at source coordinate `o` on an axis of `in_len` elements
    /// resized by `scale`.
    fn taps(&self, o: f64, in_len: usize, scale: f64) -> R<Vec<(usize, f32)>> {
        let last = in_len.saturating_sub(1) as f64;
        if self.mode == "nearest" {
            let fr = o - o.floor();
            let i = match self.nearest.as_str() {
                "round_prefer_floor" if fr == 0.5 => o.floor(),
                "round_prefer_ceil" if fr == 0.5 => o.ceil(),
                "round_prefer_floor" | "round_prefer_ceil" => o.round(),
                "floor" => o.floor(),
                "ceil" => o.ceil(),
                m => return Err(format!("nearest mode '{m}' is not supported")),
            };
            return Ok(vec![(i.clamp(0.0, last) as usize, 1.0)]);
        }
        // The taps are `base + start ..= base + start + n − 1`, at distance `ratio ∈ (0, 1]`
        // from `base` (a whole coordinate counts as ratio 1 from the element before it).
        let (base, ratio) = if o == o.floor() {
            (o - 1.0, 1.0)
        } else {
            (o.floor(), o - o.floor())
        };
        let (start, mut w) = self.coefficients(ratio, scale)?;
        let idx: Vec<i64> = (0..w.len() as i64)
            .map(|j| base as i64 + start + j)
            .collect();
        if self.exclude_outside {
            for (wj, &i) in w.iter_mut().zip(&idx) {
                if i < 0 || i >= in_len as i64 {
                    *wj = 0.0;
                }
            }
            let total: f64 = w.iter().sum();
            if total == 0.0 {
                return Err("exclude_outside leaves a position with no taps".into());
            }
            w.iter_mut().for_each(|v| *v /= total);
        }
        // Edge padding: a tap before the first (after the last) element reads the first
        // (last); taps on one element add up.
        let mut out: Vec<(usize, f32)> = Vec::with_capacity(w.len());
        for (&i, &wj) in idx.iter().zip(&w) {
            let i = i.clamp(0, last as i64) as usize;
            match out.iter_mut().find(|(k, _)| *k == i) {
                Some(t) => t.1 += wj as f32,
                None => out.push((i, wj as f32)),
            }
        }
        out.retain(|&(_, v)| v != 0.0);
        if out.is_empty() {
            out.push((0, 0.0));
        }
        Ok(out)
    }

    /// The first tap's offset from `base` and the weights of the taps.
    fn coefficients(&self, ratio: f64, scale: f64) -> R<(i64, Vec<f64>)> {
        let cubic = self.mode == "cubic";
        if !self.antialias || scale >= 1.0 {
            return Ok(if cubic {
                let a = self.cubic_a;
                let far = |t: f64| ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
                let near = |t: f64| ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
                (
                    -1,
                    vec![
                        far(ratio + 1.0),
                        near(ratio),
                        near(1.0 - ratio),
                        far(2.0 - ratio),
                    ],
                )
            } else {
                (0, vec![1.0 - ratio, ratio])
            });
        }
        // Antialiased downsampling: the kernel stretched by 1/scale, normalised to sum 1.
        let support = if cubic { 2.0 } else { 1.0 };
        let start = (-support / scale).floor() as i64 + 1;
        let n = (2 - 2 * start) as usize;
        if n > MAX_TAPS {
            return Err(format!("an antialiased downsample by {scale} reads {n} taps per position (at most {MAX_TAPS})"));
        }
        let a = self.cubic_a;
        let kernel = |x: f64| {
            let x = x.abs();
            if !cubic {
                (1.0 - x).clamp(0.0, 1.0)
            } else if x <= 1.0 {
                (a + 2.0) * x * x * x - (a + 3.0) * x * x + 1.0
            } else if x < 2.0 {
                a * x * x * x - 5.0 * a * x * x + 8.0 * a * x - 4.0 * a
            } else {
                0.0
            }
        };
        let w: Vec<f64> = (0..n as i64)
            .map(|j| kernel(scale * ((start + j) as f64 - ratio)))
            .collect();
        let total: f64 = w.iter().sum();
        Ok((start, w.into_iter().map(|v| v / total).collect()))
    }

    /// Every output position of one axis.
    fn axis(&self, out_len: usize, in_len: usize, scale: f64, roi: (f64, f64)) -> R<AxisTaps> {
        (0..out_len)
            .map(|x| match self.source(x, in_len, out_len, scale, roi)? {
                Some(o) => self.taps(o, in_len, scale).map(Some),
                None => Ok(None),
            })
            .collect()
    }
}

/// A per-axis list given for `axes` only, completed with `fill(axis)` on the other axes.
fn on_axes(
    v: Vec<f64>,
    axes: &Option<Vec<usize>>,
    rank: usize,
    what: &str,
    fill: impl Fn(usize) -> f64,
) -> R<Vec<f64>> {
    match axes {
        None if v.len() == rank => Ok(v),
        Some(ax) if v.len() == ax.len() => {
            let mut full: Vec<f64> = (0..rank).map(fill).collect();
            for (&a, x) in ax.iter().zip(v) {
                full[a] = x;
            }
            Ok(full)
        }
        _ => Err(format!(
            "{what} has {} values for {} axes",
            v.len(),
            axes.as_ref().map_or(rank, Vec::len)
        )),
    }
}

impl Importer {
    /// `Resize` (opset ≥ 10) or `Upsample` (`upsample`).
    pub(crate) fn resize(&mut self, node: &pb::NodeProto, upsample: bool) -> R<Value> {
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        let rank = s.len();
        let legacy = upsample || self.opset < 11;
        let f64s = |c: Option<super::Const>| {
            c.map(|c| c.data.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>())
                .filter(|d| !d.is_empty())
        };
        let (scales, sizes, roi) = if upsample {
            let sc = if self.opset >= 9 {
                f64s(self.const_input(node, 1, "scales")?)
            } else {
                super::attr(node, "scales")
                    .map(|a| a.floats.iter().map(|&v| f64::from(v)).collect())
            };
            (sc, None, None)
        } else if self.opset < 11 {
            (f64s(self.const_input(node, 1, "scales")?), None, None)
        } else {
            // The region of interest matters to tf_crop_and_resize only (exporters pass an
            // empty or unused one otherwise).
            let crop = attr_s(node, "coordinate_transformation_mode", "") == "tf_crop_and_resize";
            let roi = if crop {
                f64s(self.const_input(node, 1, "roi")?)
            } else {
                None
            };
            (
                f64s(self.const_input(node, 2, "scales")?),
                f64s(self.const_input(node, 3, "sizes")?),
                roi,
            )
        };
        let axes: Option<Vec<usize>> = match attr_ints(node, "axes") {
            None => None,
            Some(ax) => {
                let mut out = Vec::with_capacity(ax.len());
                for a in ax {
                    let n = if a < 0 { a + rank as i64 } else { a };
                    if n < 0 || n >= rank as i64 || out.contains(&(n as usize)) {
                        return Err(format!(
                            "axes {:?} do not name distinct axes of a rank-{rank} input",
                            attr_ints(node, "axes")
                        ));
                    }
                    out.push(n as usize);
                }
                Some(out)
            }
        };
        let mode = match attr_s(node, "mode", "nearest").as_str() {
            "bilinear" | "linear" | "trilinear" => "linear",
            "nearest" => "nearest",
            "cubic" | "bicubic" => "cubic",
            m => return Err(format!("resize mode '{m}' is not supported")),
        };
        let interp = Interp {
            coord: if legacy {
                "asymmetric".into()
            } else {
                attr_s(node, "coordinate_transformation_mode", "half_pixel")
            },
            mode,
            nearest: if legacy {
                "floor".into()
            } else {
                attr_s(node, "nearest_mode", "round_prefer_floor")
            },
            cubic_a: f64::from(attr_f(node, "cubic_coeff_a", -0.75)),
            exclude_outside: attr_i(node, "exclude_outside", 0) != 0,
            antialias: attr_i(node, "antialias", 0) != 0 && mode != "nearest",
        };
        let (out, scale) = self.resize_shape(node, &s, &axes, scales, sizes)?;
        let roi = match (interp.coord.as_str(), roi) {
            ("tf_crop_and_resize", Some(r)) => {
                let (lo, hi) = r.split_at(r.len() / 2);
                let lo = on_axes(lo.to_vec(), &axes, rank, "roi", |_| 0.0)?;
                let hi = on_axes(hi.to_vec(), &axes, rank, "roi", |_| 1.0)?;
                lo.into_iter().zip(hi).collect()
            }
            ("tf_crop_and_resize", None) => {
                return Err("tf_crop_and_resize needs a constant roi".into())
            }
            _ => vec![(0.0, 1.0); rank],
        };
        let taps: Vec<AxisTaps> = (0..rank)
            .map(|a| interp.axis(out[a], s[a], scale[a], roi[a]))
            .collect::<R<_>>()?;
        let widest = taps
            .iter()
            .map(|t| t.iter().flatten().map(Vec::len).max().unwrap_or(1));
        let terms = widest.fold(numel(&out), |n, w| n.saturating_mul(w));
        if terms > MAX_ELEMENTS {
            return Err(format!(
                "an output of shape {out:?} reading up to {terms} weighted inputs is over the \
                 importer's budget of {MAX_ELEMENTS} terms"
            ));
        }
        let extrapolation = attr_f(node, "extrapolation_value", 0.0);
        let st = strides(&s);
        // Every output element: its weighted sources (the product over axes), or none where
        // an axis places it outside the cropped region.
        let mut entries: Vec<Vec<(u32, f32)>> = Vec::with_capacity(numel(&out));
        let mut outside: Vec<bool> = Vec::with_capacity(numel(&out));
        for_each_index(&out, |_, m| {
            let mut acc: Vec<(usize, f32)> = vec![(0, 1.0)];
            for a in 0..rank {
                let Some(t) = &taps[a][m[a]] else {
                    acc.clear();
                    break;
                };
                let sa = st[a];
                acc = acc
                    .iter()
                    .flat_map(|&(off, w)| t.iter().map(move |&(i, wi)| (off + i * sa, w * wi)))
                    .collect();
            }
            outside.push(acc.is_empty());
            entries.push(acc.into_iter().map(|(o, w)| (o as u32, w)).collect());
        });
        if !outside.contains(&true) && entries.iter().all(|e| e.len() == 1 && e[0].1 == 1.0) {
            let picks: Vec<Pick> = entries.iter().map(|e| Pick::V(0, e[0].0)).collect();
            return Ok(self.rewire(&[x], out, &picks));
        }
        let bias = outside.contains(&true).then(|| {
            outside
                .iter()
                .map(|&o| if o { extrapolation } else { 0.0 })
                .collect()
        });
        let xi = self.dyn_of(&x, "the input")?;
        Ok(Value::Dyn(self.weighted(xi, &entries, bias, out)))
    }

    /// The output shape and per-axis scales from `scales` or `sizes` (with `axes` and
    /// `keep_aspect_ratio_policy`), checked against the output budget.
    fn resize_shape(
        &self,
        node: &pb::NodeProto,
        s: &[usize],
        axes: &Option<Vec<usize>>,
        scales: Option<Vec<f64>>,
        sizes: Option<Vec<f64>>,
    ) -> R<(Vec<usize>, Vec<f64>)> {
        let rank = s.len();
        let (out, scale): (Vec<usize>, Vec<f64>) = match (sizes, scales) {
            (Some(sz), _) => {
                let sz = on_axes(sz, axes, rank, "sizes", |a| s[a] as f64)?;
                let mut out: Vec<usize> = sz.iter().map(|&v| v.max(0.0) as usize).collect();
                let mut sc: Vec<f64> = out
                    .iter()
                    .zip(s)
                    .map(|(&o, &i)| o as f64 / i.max(1) as f64)
                    .collect();
                let on: Vec<usize> = axes.clone().unwrap_or_else(|| (0..rank).collect());
                let policy = attr_s(node, "keep_aspect_ratio_policy", "stretch");
                let pick = match policy.as_str() {
                    "stretch" => None,
                    "not_larger" => on.iter().map(|&a| sc[a]).reduce(f64::min),
                    "not_smaller" => on.iter().map(|&a| sc[a]).reduce(f64::max),
                    p => return Err(format!("keep_aspect_ratio_policy '{p}' is not supported")),
                };
                if let Some(f) = pick {
                    for &a in &on {
                        sc[a] = f;
                        out[a] = (f * s[a] as f64 + 0.5).floor() as usize;
                    }
                }
                (out, sc)
            }
            (None, Some(sc)) => {
                let sc = on_axes(sc, axes, rank, "scales", |_| 1.0)?;
                (
                    s.iter()
                        .zip(&sc)
                        .map(|(&i, &f)| (i as f64 * f).floor().max(0.0) as usize)
                        .collect(),
                    sc,
                )
            }
            (None, None) => return Err("scales or sizes must be constant".into()),
        };
        if out.contains(&0)
            || out
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .is_none_or(|n| n > MAX_OUT)
        {
            return Err(format!("an output of shape {out:?}"));
        }
        if scale.iter().any(|&f| f <= 0.0 || !f.is_finite()) {
            return Err(format!("scales {scale:?} must be positive"));
        }
        Ok((out, scale))
    }
}
