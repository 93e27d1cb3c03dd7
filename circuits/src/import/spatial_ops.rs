//! Rearranging: `Resize`/`Upsample` (dispatched to `resize.rs`), `Trilu`,
//! `DepthToSpace`/`SpaceToDepth`, `CumSum`, constant `NonZero` and `Range`.
//!
//! The triangular mask and the depth/space shuffles are pure rewiring; the running sum is a
//! linear map with constant weights.

use tract_onnx::pb;

use super::build::Pick;
use super::tensor::{for_each_index, numel, strides};
use super::{attr_i, attr_s, Const, Importer, Value};

type R<T> = Result<T, String>;

/// Largest output a range may build.
const MAX_OUT: usize = 1 << 24;

impl Importer {
    pub(crate) fn lower_spatial_op(
        &mut self,
        node: &pb::NodeProto,
        op: &str,
    ) -> R<Option<Vec<Value>>> {
        let out = match op {
            "Resize" | "Upsample" => self.resize(node, op == "Upsample")?,
            "GridSample" => self.grid_sample(node)?,
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
