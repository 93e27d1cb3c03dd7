//! Lays a [`LeanModel`] out on the lean columns, with the witness when a trace is given.

use halo2_proofs::circuit::{Cell, Layouter, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::Error;

use super::chip::{running_sums, LeanConfig};
use super::{Element, LeanModel, Origin};

use crate::chips::{fe, val};
use crate::gadgets::Rows;
use crate::quant::{QGraph, Trace};
use crate::shape::CircuitShape;
use crate::visibility::{InstanceLayout, Vis};

struct State<'a, 'r> {
    config: &'a LeanConfig,
    region: &'a mut Region<'r, Fr>,
    trace: Option<&'a Trace>,
    /// The input's range-checked cells.
    inputs: Vec<Cell>,
    /// Output cells of every rescale node laid out so far.
    cells: Vec<Vec<Cell>>,
    /// Cells bound to instance rows once the region is done.
    pending: Vec<(Cell, usize)>,
    row: usize,
}

impl State<'_, '_> {
    fn value(&self, o: Origin) -> Option<i128> {
        let t = self.trace?;
        match o {
            Origin::Input(e) => t.values[0].get(e).map(|&v| i128::from(v)),
            Origin::Elem(n, e) => t.values.get(n)?.get(e).map(|&v| i128::from(v)),
            Origin::Const(c) => Some(i128::from(c)),
        }
    }

    fn bind(&mut self, cell: Cell, o: Origin) -> Result<(), Error> {
        match o {
            Origin::Input(e) => {
                let src = *self.inputs.get(e).ok_or(Error::Synthesis)?;
                self.region.constrain_equal(cell, src);
            }
            Origin::Elem(n, e) => {
                let src = *self
                    .cells
                    .get(n)
                    .and_then(|c| c.get(e))
                    .ok_or(Error::Synthesis)?;
                self.region.constrain_equal(cell, src);
            }
            // Constants are folded into the addend by `LeanModel::new`.
            Origin::Const(_) => return Err(Error::Synthesis),
        }
        Ok(())
    }

    /// A private input element `v = A − B` with `A, B < 2^W` proved by `W` bit rows, then the
    /// signed row that holds `v` (in `x_0`).
    fn input_element(&mut self, v: Option<i128>) -> Result<Cell, Error> {
        let cfg = self.config;
        let width = cfg.width;
        let parts = v.map(|v| [v.max(0), (-v).max(0), 0]);
        let sums: [Vec<Value<Fr>>; 3] = [0, 1, 2].map(|j| match parts {
            Some(p) => match running_sums(p[j], width) {
                Some(s) => s.into_iter().map(|x| Value::known(fe(x))).collect(),
                None => Vec::new(),
            },
            None => vec![Value::unknown(); width as usize],
        });
        if sums.iter().any(|s| s.len() != width as usize) {
            return Err(Error::Synthesis);
        }
        cfg.bit_rows(self.region, self.row, &sums)?;
        self.row += width as usize;
        let cell = cfg.signed_row(self.region, self.row, val(v));
        self.row += 1;
        Ok(cell)
    }

    /// Packs signed `bits`-bit values (cells of `x_0` with their values) on multiply-add rows with
    /// weights `2^(bits·i)` and hashes them with their header: the digest cell, equal to
    /// [`crate::hash::hash_values`].
    fn hash_cells(&mut self, cells: &[(Cell, Option<i128>)], bits: u32) -> Result<Cell, Error> {
        let cfg = self.config;
        let poseidon = cfg.poseidon.as_ref().ok_or(Error::Synthesis)?;
        let mut row =
            |region: &mut Region<Fr>,
             at: usize,
             first: bool,
             xs: &[Value<Fr>],
             ws: &[Fr],
             acc: Value<Fr>| Ok(cfg.mac_row(region, at, first, xs, ws, acc));
        let (digest, rows) = poseidon.pack_and_hash(
            self.region,
            self.row,
            cells,
            bits,
            cfg.inputs_per_row(),
            &mut row,
        )?;
        self.row += rows;
        Ok(digest)
    }

    /// One element: its multiply-add chain, bit rows and value row, and a signed row without
    /// ReLU. Returns the element's output cell and its multiply-add rows. `expected` is the
    /// trace's value of the element.
    fn element(
        &mut self,
        e: &Element,
        relu: bool,
        expected: Option<i128>,
    ) -> Result<(Cell, usize), Error> {
        let start = self.row;
        let cfg = self.config;
        let t = cfg.inputs_per_row();
        let known = self.trace.is_some();
        let mut acc = known.then_some(0i128);
        let empty: [(Origin, i128); 0] = [];
        let chunks: Vec<&[(Origin, i128)]> = if e.terms.is_empty() {
            vec![&empty[..]]
        } else {
            e.terms.chunks(t).collect()
        };
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut xs = Vec::with_capacity(chunk.len());
            let mut ws = Vec::with_capacity(chunk.len());
            for &(o, w) in chunk {
                let x = self.value(o);
                acc = match (acc, x) {
                    (Some(a), Some(x)) => Some(
                        w.checked_mul(x)
                            .and_then(|p| p.checked_add(a))
                            .ok_or(Error::Synthesis)?,
                    ),
                    _ => None,
                };
                xs.push(val(x));
                ws.push(fe(w));
            }
            let (cells, _) = cfg.mac_row(self.region, self.row, i == 0, &xs, &ws, val(acc));
            for (cell, &(o, _)) in cells.into_iter().zip(chunk) {
                self.bind(cell, o)?;
            }
            self.row += 1;
        }
        let mac_rows = self.row - start;
        let width = cfg.width;
        // acc + add = q·2^W + r, q = out − d.
        let parts = match acc {
            Some(a) => {
                let total = a.checked_add(e.add).ok_or(Error::Synthesis)?;
                let q = total >> width;
                let r = total - (q << width);
                let (out, d) = (q.max(0), (-q).max(0));
                let want = if relu { out } else { q };
                if expected != Some(want) {
                    return Err(Error::Synthesis);
                }
                Some((q, [out, d, r]))
            }
            None => None,
        };
        let sums: [Vec<Value<Fr>>; 3] = [0, 1, 2].map(|j| match parts {
            Some((_, v)) => match running_sums(v[j], width) {
                Some(s) => s.into_iter().map(|x| Value::known(fe(x))).collect(),
                None => Vec::new(),
            },
            None => vec![Value::unknown(); width as usize],
        });
        if sums.iter().any(|s| s.len() != width as usize) {
            return Err(Error::Synthesis);
        }
        let [a, _, _] = cfg.bit_rows(self.region, self.row, &sums)?;
        self.row += width as usize;
        cfg.value_row(self.region, self.row - 1, fe(e.add));
        if relu {
            return Ok((a, mac_rows));
        }
        let cell = cfg.signed_row(self.region, self.row, val(parts.map(|(q, _)| q)));
        self.row += 1;
        Ok((cell, mac_rows))
    }
}

/// Synthesizes the lean circuit of `q` (planned as `lean`), with the witness from `trace`.
pub(crate) fn synthesize(
    config: &LeanConfig,
    layouter: &mut impl Layouter<Fr>,
    q: &QGraph,
    lean: &LeanModel,
    shape: &CircuitShape,
    trace: Option<&Trace>,
) -> Result<Vec<Rows>, Error> {
    let vis = shape.visibility;
    let inst = InstanceLayout::new(vis, q.input().len(), q.output_node().len());
    let main = |n: usize| Rows {
        main: n,
        ..Rows::default()
    };
    let (pending, rows) = layouter.assign_region(
        || "lean",
        |mut region| {
            let mut st = State {
                config,
                region: &mut region,
                trace,
                inputs: Vec::new(),
                cells: vec![Vec::new(); q.nodes.len()],
                pending: Vec::new(),
                row: 0,
            };
            let mut input_values = Vec::new();
            let mut rows = Vec::new();
            for e in 0..lean.num_inputs {
                let v = trace
                    .and_then(|t| t.values[0].get(e))
                    .map(|&v| i128::from(v));
                let cell = st.input_element(v)?;
                if vis.input == Vis::Public {
                    st.pending.push((cell, inst.inputs.start + e));
                }
                st.inputs.push(cell);
                input_values.push(v);
            }
            let input_rows = st.row;
            for u in &lean.units {
                let mut out = Vec::with_capacity(u.elems.len());
                let (mut mac, mut tail) = (0, 0);
                for (i, e) in u.elems.iter().enumerate() {
                    let expected = trace
                        .and_then(|t| t.values[u.node].get(i))
                        .map(|&v| i128::from(v));
                    let at = st.row;
                    let (cell, m) = st.element(e, u.relu, expected)?;
                    out.push(cell);
                    mac += m;
                    tail += st.row - at - m;
                }
                st.cells[u.node] = out;
                rows.push(main(mac));
                rows.push(main(tail));
            }
            if input_rows > 0 {
                rows.push(main(input_rows));
            }
            let before_hash = st.row;
            let mut outputs = Vec::with_capacity(lean.outputs.len());
            for &o in &lean.outputs {
                let Origin::Elem(n, e) = o else {
                    return Err(Error::Synthesis);
                };
                let cell = *st.cells[n].get(e).ok_or(Error::Synthesis)?;
                let v = trace
                    .and_then(|t| t.values[n].get(e))
                    .map(|&v| i128::from(v));
                outputs.push((cell, v));
            }
            if vis.output == Vis::Public {
                for (i, &(cell, _)) in outputs.iter().enumerate() {
                    st.pending.push((cell, inst.outputs.start + i));
                }
            }
            let bits = lean.hash_bits();
            if let Some(at) = inst.input_hash {
                let cells: Vec<(Cell, Option<i128>)> =
                    st.inputs.iter().copied().zip(input_values).collect();
                let digest = st.hash_cells(&cells, bits)?;
                st.pending.push((digest, at));
            }
            if let Some(at) = inst.output_hash {
                let digest = st.hash_cells(&outputs, bits)?;
                st.pending.push((digest, at));
            }
            if st.row > before_hash {
                rows.push(main(st.row - before_hash));
            }
            if st.row > shape.usable_rows() {
                return Err(Error::NotEnoughRowsAvailable { current_k: shape.k });
            }
            Ok((st.pending, rows))
        },
    )?;
    for (cell, row) in pending {
        layouter.constrain_instance(cell, config.instance, row);
    }
    Ok(rows)
}
