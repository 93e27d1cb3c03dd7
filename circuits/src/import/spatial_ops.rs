//! Resampling and rearranging: `Resize`/`Upsample` (nearest and linear), `Trilu`,
//! `DepthToSpace`/`SpaceToDepth`, `CumSum`, constant `NonZero` and `Range`.
//!
//! Nearest resampling, the triangular mask and the depth/space shuffles are pure rewiring;
//! linear resampling and the running sum are linear maps with constant weights.

use tract_onnx::pb;

use super::build::Pick;
use super::tensor::{for_each_index, numel, strides};
use super::{attr_i, attr_s, Const, Importer, Value};

type R<T> = Result<T, String>;

/// Largest output a resampling may build.
const MAX_OUT: usize = 1 << 24;

/// Where output coordinate `x` of an axis reads from: `(source index, weight)` pairs.
fn axis_taps(
    out_len: usize,
    in_len: usize,
    scale: f64,
    coord: &str,
    mode: &str,
    nearest: &str,
) -> R<Vec<Vec<(usize, f32)>>> {
    let last = in_len.saturating_sub(1) as f64;
    (0..out_len)
        .map(|x| {
            let xf = x as f64;
            let orig = match coord {
                "half_pixel" => (xf + 0.5) / scale - 0.5,
                "pytorch_half_pixel" => {
                    if out_len > 1 {
                        (xf + 0.5) / scale - 0.5
                    } else {
                        0.0
                    }
                }
                "align_corners" => {
                    // ONNX divides by the resized length before rounding (`in · scale`): a
                    // 4 → 2.4 downsample reads x = 1 at 3/1.4, not 3/1.
                    let resized = in_len as f64 * scale;
                    if resized <= 1.0 {
                        0.0
                    } else {
                        xf * last / (resized - 1.0)
                    }
                }
                "asymmetric" => xf / scale,
                "tf_half_pixel_for_nearest" => (xf + 0.5) / scale,
                c => return Err(format!("coordinate transformation '{c}' is not supported")),
            };
            Ok(match mode {
                "nearest" => {
                    let fr = orig - orig.floor();
                    let i = match nearest {
                        "round_prefer_floor" if fr == 0.5 => orig.floor(),
                        "round_prefer_ceil" if fr == 0.5 => orig.ceil(),
                        "round_prefer_floor" | "round_prefer_ceil" => orig.round(),
                        "floor" => orig.floor(),
                        "ceil" => orig.ceil(),
                        m => return Err(format!("nearest mode '{m}' is not supported")),
                    };
                    vec![(i.clamp(0.0, last) as usize, 1.0)]
                }
                "linear" => {
                    let o = orig.clamp(0.0, last);
                    let i0 = o.floor();
                    let w = o - i0;
                    let i0u = i0 as usize;
                    let i1 = (i0u + 1).min(in_len - 1);
                    if w == 0.0 || i1 == i0u {
                        vec![(i0u, 1.0)]
                    } else {
                        vec![(i0u, (1.0 - w) as f32), (i1, w as f32)]
                    }
                }
                m => return Err(format!("resize mode '{m}' is not supported")),
            })
        })
        .collect()
}

impl Importer {
    pub(crate) fn lower_spatial_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        let out = match op {
            "Resize" | "Upsample" => self.resize(node, op == "Upsample")?,
            "Trilu" => self.trilu(node)?,
            "DepthToSpace" | "SpaceToDepth" => self.depth_space(node, op == "DepthToSpace")?,
            "CumSum" => self.cumsum(node)?,
            "NonZero" => {
                let c = match self.req(node, 0)? {
                    Value::Const(c) => c,
                    Value::Dyn(_) => {
                        return Err("NonZero of a computed tensor has a data-dependent shape, \
                                    which a circuit cannot have"
                            .into())
                    }
                };
                let st = strides(&c.shape);
                let nz: Vec<usize> = (0..c.data.len()).filter(|&i| c.data[i] != 0.0).collect();
                let rank = c.shape.len();
                let mut data = vec![0f32; rank * nz.len()];
                for (k, &i) in nz.iter().enumerate() {
                    for a in 0..rank {
                        data[a * nz.len() + k] = ((i / st[a]) % c.shape[a]) as f32;
                    }
                }
                Value::Const(Const {
                    shape: vec![rank, nz.len()],
                    data,
                })
            }
            "Range" => {
                let get = |s: &Self, i: usize, w: &str| -> R<f32> {
                    s.const_input(node, i, w)?
                        .and_then(|c| c.data.first().copied())
                        .ok_or_else(|| format!("{w} is missing"))
                };
                let (start, limit, delta) = (
                    get(self, 0, "start")?,
                    get(self, 1, "limit")?,
                    get(self, 2, "delta")?,
                );
                let n = ((limit - start) / delta).ceil().max(0.0);
                if delta == 0.0 || !n.is_finite() || n as usize > MAX_OUT {
                    return Err(format!("a range of {n} elements"));
                }
                let data: Vec<f32> = (0..n as usize).map(|i| start + i as f32 * delta).collect();
                Value::Const(Const {
                    shape: vec![data.len()],
                    data,
                })
            }
            _ => return Ok(None),
        };
        Ok(Some(vec![out]))
    }

    fn resize(&mut self, node: &pb::NodeProto, upsample: bool) -> R<Value> {
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        let rank = s.len();
        let mode = attr_s(node, "mode", "nearest");
        let (scales, sizes) = if upsample {
            let sc = if self.opset >= 9 {
                self.const_input(node, 1, "scales")?.map(|c| c.data)
            } else {
                super::attr(node, "scales").map(|a| a.floats.clone())
            };
            (sc, None)
        } else if self.opset < 11 {
            (self.const_input(node, 1, "scales")?.map(|c| c.data), None)
        } else {
            let sc = self
                .const_input(node, 2, "scales")?
                .map(|c| c.data)
                .filter(|d| !d.is_empty());
            let sz = self
                .const_input(node, 3, "sizes")?
                .map(|c| c.data)
                .filter(|d| !d.is_empty());
            (sc, sz)
        };
        if super::attr(node, "axes").is_some() {
            return Err("the axes attribute is not supported".into());
        }
        if attr_i(node, "antialias", 0) != 0 && mode != "nearest" {
            let shrinks = scales
                .as_ref()
                .is_some_and(|sc| sc.iter().any(|&f| f < 1.0))
                || sizes
                    .as_ref()
                    .is_some_and(|sz| sz.iter().zip(&s).any(|(&o, &i)| (o as usize) < i));
            if shrinks {
                return Err("antialiased downsampling (antialias = 1) is not supported".into());
            }
        }
        let coord = if upsample || self.opset < 11 {
            "asymmetric".to_string()
        } else {
            attr_s(node, "coordinate_transformation_mode", "half_pixel")
        };
        let nearest = if upsample || self.opset < 11 {
            "floor".to_string()
        } else {
            attr_s(node, "nearest_mode", "round_prefer_floor")
        };
        let mode = match mode.as_str() {
            "bilinear" | "linear" | "trilinear" => "linear",
            "nearest" => "nearest",
            m => return Err(format!("resize mode '{m}' is not supported")),
        };
        let (out, scale): (Vec<usize>, Vec<f64>) = match (sizes, scales) {
            (Some(sz), _) if sz.len() == rank => {
                let out: Vec<usize> = sz.iter().map(|&v| v.max(0.0) as usize).collect();
                let sc = out
                    .iter()
                    .zip(&s)
                    .map(|(&o, &i)| o as f64 / i.max(1) as f64)
                    .collect();
                (out, sc)
            }
            (_, Some(sc)) if sc.len() == rank => (
                s.iter()
                    .zip(&sc)
                    .map(|(&i, &f)| (i as f64 * f64::from(f)).floor().max(0.0) as usize)
                    .collect(),
                sc.iter().map(|&f| f64::from(f)).collect(),
            ),
            _ => return Err("scales or sizes must be constant, one per axis".into()),
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
        let taps: Vec<Vec<Vec<(usize, f32)>>> = (0..rank)
            .map(|a| axis_taps(out[a], s[a], scale[a], &coord, mode, &nearest))
            .collect::<R<_>>()?;
        let st = strides(&s);
        // Every output element: its weighted sources (the product over axes).
        let mut entries: Vec<Vec<(u32, f32)>> = Vec::with_capacity(numel(&out));
        for_each_index(&out, |_, m| {
            let mut acc: Vec<(usize, f32)> = vec![(0, 1.0)];
            for a in 0..rank {
                let mut next = Vec::with_capacity(acc.len() * 2);
                for &(off, w) in &acc {
                    for &(i, wi) in &taps[a][m[a]] {
                        next.push((off + i * st[a], w * wi));
                    }
                }
                acc = next;
            }
            entries.push(acc.into_iter().map(|(o, w)| (o as u32, w)).collect());
        });
        if entries.iter().all(|e| e.len() == 1) {
            let picks: Vec<Pick> = entries.iter().map(|e| Pick::V(0, e[0].0)).collect();
            return Ok(self.rewire(&[x], out, &picks));
        }
        let xi = self.dyn_of(&x, "the input")?;
        Ok(Value::Dyn(self.weighted(xi, &entries, None, out)))
    }

    fn trilu(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        if s.len() < 2 {
            return Err(format!("Trilu needs rank ≥ 2, got {s:?}"));
        }
        let k = self
            .const_input(node, 1, "k")?
            .and_then(|c| c.data.first().copied())
            .unwrap_or(0.0) as i64;
        let upper = attr_i(node, "upper", 1) != 0;
        let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
        let picks: Vec<Pick> = (0..numel(&s))
            .map(|i| {
                let (row, col) = (((i / c) % r) as i64, (i % c) as i64);
                let keep = if upper {
                    col - row >= k
                } else {
                    col - row <= k
                };
                if keep {
                    Pick::V(0, i as u32)
                } else {
                    Pick::C(0.0)
                }
            })
            .collect();
        Ok(self.rewire(&[x], s, &picks))
    }

    fn depth_space(&mut self, node: &pb::NodeProto, to_space: bool) -> R<Value> {
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        let b = usize::try_from(attr_i(node, "blocksize", 0)).unwrap_or(0);
        if s.len() != 4 || b == 0 {
            return Err(format!(
                "needs a 4-D input and a block size, got {s:?} and {b}"
            ));
        }
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let crd = attr_s(node, "mode", "DCR") == "CRD";
        let st = strides(&s);
        let (out, picks): (Vec<usize>, Vec<Pick>) = if to_space {
            if c % (b * b) != 0 {
                return Err(format!("{c} channels are not a multiple of {}", b * b));
            }
            let oc = c / (b * b);
            let out = vec![n, oc, h * b, w * b];
            let mut picks = Vec::with_capacity(numel(&out));
            for_each_index(&out, |_, m| {
                let (i, y, xx) = (m[1], m[2] / b, m[3] / b);
                let (by, bx) = (m[2] % b, m[3] % b);
                let ch = if crd {
                    i * b * b + by * b + bx
                } else {
                    (by * b + bx) * oc + i
                };
                picks.push(Pick::V(
                    0,
                    (m[0] * st[0] + ch * st[1] + y * st[2] + xx * st[3]) as u32,
                ));
            });
            (out, picks)
        } else {
            if h % b != 0 || w % b != 0 {
                return Err(format!("{h}×{w} is not a multiple of the block size {b}"));
            }
            let out = vec![n, c * b * b, h / b, w / b];
            let mut picks = Vec::with_capacity(numel(&out));
            for_each_index(&out, |_, m| {
                let (blk, i) = (m[1] / c, m[1] % c);
                let (by, bx) = (blk / b, blk % b);
                let (y, xx) = (m[2] * b + by, m[3] * b + bx);
                picks.push(Pick::V(
                    0,
                    (m[0] * st[0] + i * st[1] + y * st[2] + xx * st[3]) as u32,
                ));
            });
            (out, picks)
        };
        Ok(self.rewire(&[x], out, &picks))
    }

    fn cumsum(&mut self, node: &pb::NodeProto) -> R<Value> {
        let x = self.req(node, 0)?;
        let s = self.shape_of(&x);
        let axis = self
            .const_input(node, 1, "axis")?
            .and_then(|c| c.data.first().copied())
            .ok_or("the axis is missing")? as i64;
        let axis = super::tensor::norm_axis(axis, s.len())?;
        let exclusive = attr_i(node, "exclusive", 0) != 0;
        let reverse = attr_i(node, "reverse", 0) != 0;
        let st = strides(&s);
        let len = s[axis];
        if numel(&s).saturating_mul(len) > MAX_OUT {
            return Err(format!(
                "a running sum over {len} elements of a {s:?} tensor is larger than zkonnx proves"
            ));
        }
        let mut entries = Vec::with_capacity(numel(&s));
        for_each_index(&s, |flat, m| {
            let i = m[axis];
            let range: Vec<usize> = if reverse {
                ((i + usize::from(exclusive))..len).collect()
            } else {
                (0..(i + usize::from(!exclusive))).collect()
            };
            let base = flat - i * st[axis];
            entries.push(
                range
                    .iter()
                    .map(|&j| ((base + j * st[axis]) as u32, 1.0))
                    .collect::<Vec<_>>(),
            );
        });
        match x {
            Value::Const(c) => Ok(Value::Const(Const {
                data: entries
                    .iter()
                    .map(|e| e.iter().map(|&(i, _)| c.data[i as usize]).sum())
                    .collect(),
                shape: s,
            })),
            Value::Dyn(xi) => {
                if entries.iter().any(Vec::is_empty) {
                    // An exclusive sum starts at zero: add it as a constant through a rewire.
                    let w = self.weighted_with_zero(xi, &entries, s);
                    return Ok(w);
                }
                Ok(Value::Dyn(self.weighted(xi, &entries, None, s)))
            }
        }
    }

    /// [`Importer::weighted`] where some outputs have no source (they are 0).
    fn weighted_with_zero(
        &mut self,
        x: usize,
        entries: &[Vec<(u32, f32)>],
        shape: Vec<usize>,
    ) -> Value {
        let live: Vec<usize> = (0..entries.len())
            .filter(|&o| !entries[o].is_empty())
            .collect();
        let sub: Vec<Vec<(u32, f32)>> = live.iter().map(|&o| entries[o].clone()).collect();
        let part = self.weighted(x, &sub, None, vec![sub.len()]);
        let mut k = 0u32;
        let picks: Vec<Pick> = (0..entries.len())
            .map(|o| {
                if entries[o].is_empty() {
                    Pick::C(0.0)
                } else {
                    k += 1;
                    Pick::V(0, k - 1)
                }
            })
            .collect();
        self.rewire(&[Value::Dyn(part)], shape, &picks)
    }
}
