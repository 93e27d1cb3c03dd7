//! The halo2 circuit of a quantized model.
//!
//! One region holds every gadget row in order (the plan in `crate::layout` counts the same
//! rows); the range lane and the function lane fill their own columns alongside. Tensors are
//! lists of `Src`: an instance row, an advice cell or a constant, so rewiring ops cost no
//! cells at all.

use std::sync::Arc;

use halo2_proofs::circuit::{Cell, Layouter, Region, SimpleFloorPlanner, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use halo2_proofs::halo2curves::ff::Field;

use crate::chips::arith::Coeffs;
use crate::chips::{fe, val, ChipConfig};
use crate::error::{CircuitsError, Result as CircuitsResult};
use crate::hash;
use crate::layout::{CircuitShape, LayoutPlan};
use crate::lean::{LeanConfig, LeanModel};
use crate::quant::{rescale_one, QGraph, QNode, QOp, QRef, Trace};
use crate::visibility::{InstanceLayout, Vis};

/// Where a tensor element lives.
#[derive(Debug, Clone, Copy)]
enum Src {
    /// Row of the instance column.
    Instance(usize),
    /// An advice cell.
    Cell(Cell),
    /// A constant.
    Const(i64),
}

/// The circuit: a quantized model, its plan and (when proving) the witness trace.
#[derive(Debug, Clone)]
pub struct ModelCircuit {
    /// The quantized model.
    pub model: Arc<QGraph>,
    /// Its layout plan.
    pub plan: Arc<LayoutPlan>,
    /// The integer execution to prove; `None` for key generation.
    pub trace: Option<Arc<Trace>>,
}

/// Assignment state: the region and the next free row of each lane.
struct Layout<'a, 'r> {
    config: &'a ChipConfig,
    region: &'a mut Region<'r, Fr>,
    pending: &'a mut Vec<(Cell, usize)>,
    row: usize,
    lane: usize,
    frow: usize,
    /// Whether witness values are known (proving) or not (key generation).
    known: bool,
    /// Range-checked parameter cells (private or hashed parameters), in `QGraph::params` order.
    params: Vec<Cell>,
    /// A cell constrained to 0 (pads private dot products).
    zero: Option<Cell>,
}

impl Layout<'_, '_> {
    fn bind(&mut self, cell: Cell, src: Src) -> Result<(), Error> {
        match src {
            Src::Cell(c) => self.region.constrain_equal(cell, c),
            Src::Instance(row) => self.pending.push((cell, row)),
            Src::Const(v) => {
                if self.config.constant.is_none() {
                    return Err(Error::Synthesis);
                }
                self.region.constrain_constant(cell, fe(i128::from(v)))?;
            }
        }
        Ok(())
    }

    fn check(&mut self, cell: Cell, v: Option<i128>, offset: i128, bits: u32) -> Result<(), Error> {
        self.lane += self
            .config
            .range
            .check(self.region, self.lane, cell, v, offset, bits)?;
        Ok(())
    }

    /// A fresh lane cell holding `v`, checked to be a signed `bits`-bit integer.
    fn fresh_signed(&mut self, v: Option<i128>, bits: u32) -> Result<Cell, Error> {
        let offset = if bits == 0 { 0 } else { 1i128 << (bits - 1) };
        let (cell, n) = self
            .config
            .range
            .assign(self.region, self.lane, v, offset, bits)?;
        self.lane += n;
        Ok(cell)
    }

    /// Packs signed `bits`-bit values (cells with their values) into field elements on
    /// matrix-vector rows with weights `2^(bits·i)`, then hashes them with a header:
    /// the digest equals [`hash::hash_values`].
    fn hash_cells(&mut self, cells: &[(Cell, Option<i128>)], bits: u32) -> Result<Cell, Error> {
        let poseidon = self.config.poseidon.as_ref().ok_or(Error::Synthesis)?;
        let mac = &self.config.mac;
        let (t, a) = (mac.x.len(), mac.acc.len());
        // Accumulator 0 packs; the others hold 0.
        let mut row = |region: &mut Region<Fr>,
                       at: usize,
                       first: bool,
                       xs: &[Value<Fr>],
                       ws: &[Fr],
                       acc: Value<Fr>| {
            let mut w = vec![vec![Fr::ZERO; t]; a];
            w[0][..ws.len()].copy_from_slice(ws);
            let mut xv = vec![Value::known(Fr::ZERO); t];
            xv[..xs.len()].copy_from_slice(xs);
            let mut av = vec![Value::known(Fr::ZERO); a];
            av[0] = acc;
            let (xc, ac) = mac.assign_row(region, at, first, &xv, &w, &av)?;
            Ok((xc, ac[0]))
        };
        let (digest, rows) =
            poseidon.pack_and_hash(self.region, self.row, cells, bits, t, &mut row)?;
        self.row += rows;
        Ok(digest)
    }

    fn arith(&mut self, k: Coeffs, v: [Option<i128>; 4]) -> Result<[Cell; 4], Error> {
        let arith = self.config.arith.as_ref().ok_or(Error::Synthesis)?;
        // Cells without a role in this row hold 0.
        let known = self.known;
        let cells = arith.assign(
            self.region,
            self.row,
            k,
            v.map(|x| val(x.or(known.then_some(0)))),
        )?;
        self.row += 1;
        Ok(cells)
    }
}

impl ModelCircuit {
    /// A circuit without witness (for key generation).
    pub fn new(model: Arc<QGraph>, plan: Arc<LayoutPlan>) -> Self {
        Self {
            model,
            plan,
            trace: None,
        }
    }

    /// A circuit with a witness.
    pub fn with_trace(model: Arc<QGraph>, plan: Arc<LayoutPlan>, trace: Arc<Trace>) -> Self {
        Self {
            model,
            plan,
            trace: Some(trace),
        }
    }

    /// The public instance column for a trace, in the order of [`InstanceLayout`]: input
    /// values or their hash, the parameter hash, output values or their hash.
    pub fn instances(model: &QGraph, shape: &CircuitShape, trace: &Trace) -> Vec<Fr> {
        let vis = shape.visibility;
        let (input_bits, output_bits) = shape.hash_widths(model);
        let mut out = Vec::new();
        let input = &trace.values[0];
        match vis.input {
            Vis::Public => out.extend(input.iter().map(|&v| fe(i128::from(v)))),
            Vis::Hashed => out.push(hash::hash_values(input, input_bits)),
            _ => {}
        }
        if vis.params == Vis::Hashed {
            out.push(hash::hash_values(&model.params(), model.param_bits()));
        }
        let output = trace.output(model);
        match vis.output {
            Vis::Public => out.extend(output.iter().map(|&v| fe(i128::from(v)))),
            Vis::Hashed => out.push(hash::hash_values(output, output_bits)),
            _ => {}
        }
        out
    }

    /// Checks what the circuit will check of a private or hashed input (quantized) before
    /// running and proving, so that an input outside the compiled range is a clear error naming
    /// the input rather than a failed proof.
    pub fn check_input(model: &QGraph, shape: &CircuitShape, input: &[i64]) -> CircuitsResult<()> {
        if shape.visibility.input == Vis::Public {
            return Ok(());
        }
        let bits = model.input_bits - 1;
        match input
            .iter()
            .enumerate()
            .find(|(_, v)| v.unsigned_abs() >= 1u64 << bits)
        {
            Some((index, &v)) => Err(CircuitsError::OutOfRange {
                node: model.input().name.clone(),
                index,
                value: i128::from(v),
                bits,
            }),
            None => Ok(()),
        }
    }

    fn value(&self, node: usize, i: usize) -> Option<i128> {
        self.trace.as_ref().map(|t| i128::from(t.values[node][i]))
    }

    /// The value of a reference of node `node`.
    fn ref_value(&self, node: &QNode, r: QRef) -> Option<i128> {
        match r {
            QRef::In(s, i) => self.value(node.inputs[s as usize], i as usize),
            QRef::Const(c) => self.trace.as_ref().map(|_| i128::from(c)),
        }
    }

    fn ref_src(cells: &[Vec<Src>], node: &QNode, r: QRef) -> Src {
        match r {
            QRef::In(s, i) => cells[node.inputs[s as usize]][i as usize],
            QRef::Const(c) => Src::Const(c),
        }
    }

    fn linear(
        &self,
        st: &mut Layout<'_, '_>,
        cells: &[Vec<Src>],
        node: &QNode,
        map: &crate::ir::Linear<i64>,
    ) -> Result<Vec<Src>, Error> {
        let shape = self.plan.shape;
        let (t_per, a_per) = (shape.inputs_per_row, shape.accs_per_row);
        let known = self.trace.is_some();
        let mut out = vec![Src::Const(0); node.len()];
        for g in &map.groups {
            let m = &map.mats[g.mat as usize];
            let k = g.inputs.len();
            let xs: Vec<Option<i128>> = g
                .inputs
                .iter()
                .map(|i| match i {
                    Some((s, e)) => self.value(node.inputs[*s as usize], *e as usize),
                    None => known.then_some(0),
                })
                .collect();
            for blk in 0..g.outputs.len().div_ceil(a_per) {
                let mut acc: Vec<Option<i128>> = vec![known.then_some(0); a_per];
                let chunks = k.div_ceil(t_per);
                for j in 0..chunks {
                    let mut xv = Vec::with_capacity(t_per);
                    let mut w = vec![vec![Fr::ZERO; t_per]; a_per];
                    for t in 0..t_per {
                        let idx = j * t_per + t;
                        let used = idx < k && g.inputs[idx].is_some();
                        let x = if used { xs[idx] } else { known.then_some(0) };
                        for (a, wa) in w.iter_mut().enumerate() {
                            let r = blk * a_per + a;
                            if r < g.outputs.len() && used {
                                let wi = i128::from(m.data[r * m.cols + idx]);
                                wa[t] = fe(wi);
                                if let (Some(s), Some(xx)) = (acc[a].as_mut(), x) {
                                    *s += wi * xx;
                                }
                            }
                        }
                        xv.push(val(x));
                    }
                    let av: Vec<Value<Fr>> = acc.iter().map(|&v| val(v)).collect();
                    let (xc, ac) =
                        st.config
                            .mac
                            .assign_row(st.region, st.row, j == 0, &xv, &w, &av)?;
                    for (t, c) in xc.into_iter().enumerate() {
                        let idx = j * t_per + t;
                        if let Some(Some((s, e))) = g.inputs.get(idx) {
                            st.bind(c, cells[node.inputs[*s as usize]][*e as usize])?;
                        }
                    }
                    if j + 1 == chunks {
                        for (a, c) in ac.into_iter().enumerate() {
                            if let Some(&o) = g.outputs.get(blk * a_per + a) {
                                out[o as usize] = Src::Cell(c);
                            }
                        }
                    }
                    st.row += 1;
                }
            }
        }
        Ok(out)
    }

    /// A linear map with private weights: one dot product per output on `T`-wide rows, the
    /// weight cells bound to the parameter cells, padding bound to the constrained zero.
    fn linear_private(
        &self,
        st: &mut Layout<'_, '_>,
        cells: &[Vec<Src>],
        node: &QNode,
        map: &crate::ir::Linear<i64>,
        offset: usize,
    ) -> Result<Vec<Src>, Error> {
        let dot = st.config.dot.as_ref().ok_or(Error::Synthesis)?;
        let zero = st.zero.ok_or(Error::Synthesis)?;
        let t = dot.x.len();
        let known = self.trace.is_some();
        let mut mat_off = Vec::with_capacity(map.mats.len());
        let mut at = offset;
        for m in &map.mats {
            mat_off.push(at);
            at += m.data.len();
        }
        let mut out = vec![Src::Const(0); node.len()];
        for g in &map.groups {
            let m = &map.mats[g.mat as usize];
            let k = g.inputs.len();
            for (r, &o) in g.outputs.iter().enumerate() {
                let mut acc = known.then_some(0i128);
                let mut last = None;
                for j in 0..k.div_ceil(t) {
                    let mut xv = Vec::with_capacity(t);
                    let mut wv = Vec::with_capacity(t);
                    let mut srcs = Vec::with_capacity(t);
                    for s in 0..t {
                        let idx = j * t + s;
                        match g.inputs.get(idx).copied().flatten() {
                            Some((slot, e)) => {
                                let x = self.value(node.inputs[slot as usize], e as usize);
                                let wi = r * m.cols + idx;
                                let w = i128::from(m.data[wi]);
                                acc = acc.zip(x).map(|(a, x)| a + w * x);
                                xv.push(val(x));
                                wv.push(val(known.then_some(w)));
                                srcs.push((
                                    cells[node.inputs[slot as usize]][e as usize],
                                    Src::Cell(st.params[mat_off[g.mat as usize] + wi]),
                                ));
                            }
                            None => {
                                xv.push(val(known.then_some(0)));
                                wv.push(val(known.then_some(0)));
                                srcs.push((Src::Cell(zero), Src::Cell(zero)));
                            }
                        }
                    }
                    let c = dot.assign_row(st.region, st.row, j == 0, &xv, &wv, val(acc))?;
                    st.row += 1;
                    for ((xc, wc), (xs, ws)) in c.x.into_iter().zip(c.w).zip(srcs) {
                        st.bind(xc, xs)?;
                        st.bind(wc, ws)?;
                    }
                    last = Some(c.acc);
                }
                out[o as usize] = Src::Cell(last.ok_or(Error::Synthesis)?);
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn rescale(
        &self,
        st: &mut Layout<'_, '_>,
        cells: &[Vec<Src>],
        node: &QNode,
        mul: &[i64],
        add: &[i64],
        shift: u32,
        relu: bool,
        bits: u32,
        params: Option<usize>,
    ) -> Result<Vec<Src>, Error> {
        let src = node.inputs[0];
        let known = self.trace.is_some();
        let mut out = Vec::with_capacity(node.len());
        for e in 0..node.len() {
            let x = self.value(src, e);
            let qr = x.map(|x| rescale_one(x as i64, mul[e], add[e], shift));
            let qv = qr.map(|(q, _)| q);
            let rv = qr.map(|(_, r)| r);
            let ov = qv.map(|q| q.max(0));
            let dv = qv.map(|q| q.max(0) - q);
            let v = [val(x), val(qv), val(rv), val(ov), val(dv)];
            let c = match params {
                None => st
                    .config
                    .rescale
                    .assign(st.region, st.row, mul[e], add[e], shift, relu, v)?,
                Some(off) => {
                    let ma = [mul[e], add[e]].map(|p| val(known.then_some(i128::from(p))));
                    let (c, [mc, ac]) = st
                        .config
                        .rescale
                        .assign_private(st.region, st.row, shift, relu, v, ma)?;
                    st.region.constrain_equal(mc, st.params[off + e]);
                    st.region
                        .constrain_equal(ac, st.params[off + mul.len() + e]);
                    c
                }
            };
            st.row += 1;
            st.bind(c.x, cells[src][e])?;
            st.check(c.r, rv, 0, shift)?;
            match (c.out, c.d) {
                (Some(o), Some(d)) => {
                    st.check(o, ov, 0, bits)?;
                    st.check(d, dv, 0, bits)?;
                    out.push(Src::Cell(o));
                }
                _ => {
                    st.check(c.q, qv, 1i128 << bits, bits + 1)?;
                    out.push(Src::Cell(c.q));
                }
            }
        }
        Ok(out)
    }

    /// `d = c + a·b` chains, one row per term; the last `d` is the claimed output (the trace's).
    fn bilinear(
        &self,
        st: &mut Layout<'_, '_>,
        cells: &[Vec<Src>],
        ni: usize,
        node: &QNode,
        terms: &[Vec<(u32, u32)>],
    ) -> Result<Vec<Src>, Error> {
        let (na, nb) = (node.inputs[0], node.inputs[1]);
        let known = self.trace.is_some();
        let mut out = Vec::with_capacity(terms.len());
        for (e, t) in terms.iter().enumerate() {
            if t.is_empty() {
                let [_, _, _, d] =
                    st.arith([0, 0, 0, 0, -1, 0], [None, None, None, known.then_some(0)])?;
                out.push(Src::Cell(d));
                continue;
            }
            let mut acc = known.then_some(0i128);
            let mut prev: Option<Cell> = None;
            for (k, &(i, j)) in t.iter().enumerate() {
                let (a, b) = (self.value(na, i as usize), self.value(nb, j as usize));
                let next = if k + 1 == t.len() {
                    self.value(ni, e)
                } else {
                    match (acc, a, b) {
                        (Some(s), Some(x), Some(y)) => Some(s + x * y),
                        _ => None,
                    }
                };
                let kc = if k == 0 { 0 } else { 1 };
                let [ca, cb, cc, cd] = st.arith(
                    [1, 0, 0, kc, -1, 0],
                    [a, b, if k == 0 { known.then_some(0) } else { acc }, next],
                )?;
                st.bind(ca, cells[na][i as usize])?;
                st.bind(cb, cells[nb][j as usize])?;
                if let Some(p) = prev {
                    st.region.constrain_equal(cc, p);
                }
                prev = Some(cd);
                acc = next;
            }
            out.push(Src::Cell(prev.ok_or(Error::Synthesis)?));
        }
        Ok(out)
    }

    #[allow(clippy::needless_range_loop)]
    fn lookup(
        &self,
        st: &mut Layout<'_, '_>,
        cells: &[Vec<Src>],
        ni: usize,
        node: &QNode,
        id: usize,
    ) -> Result<Vec<Src>, Error> {
        let func = st.config.func.as_ref().ok_or(Error::Synthesis)?;
        let src = node.inputs[0];
        let mut out = Vec::with_capacity(node.len());
        for e in 0..node.len() {
            let (x, y) = (self.value(src, e), self.value(ni, e));
            let (xc, yc) = func.assign(st.region, st.frow, id, val(x), val(y))?;
            st.frow += 1;
            st.bind(xc, cells[src][e])?;
            out.push(Src::Cell(yc));
        }
        Ok(out)
    }

    /// Two rows per element: `2^(s+1)·n + d − 2·q·d − r = 0` and `2·d − r − t − 1 = 0`, with
    /// `r, t ∈ [0, 2^rbits)` (so `0 ≤ r < 2d`, `d ≥ 1`) and `|q| < 2^bits`.
    #[allow(clippy::too_many_arguments)]
    fn div(
        &self,
        st: &mut Layout<'_, '_>,
        cells: &[Vec<Src>],
        ni: usize,
        node: &QNode,
        num: &[QRef],
        den: &[QRef],
        shift: u32,
        bits: u32,
        rbits: u32,
    ) -> Result<Vec<Src>, Error> {
        let mut out = Vec::with_capacity(num.len());
        for (e, (&n, &d)) in num.iter().zip(den).enumerate() {
            let (nv, dv) = (self.ref_value(node, n), self.ref_value(node, d));
            // The claimed quotient is the trace's; the remainder follows from it.
            let qv = self.value(ni, e);
            let rv = match (nv, dv, qv) {
                (Some(a), Some(b), Some(q)) => Some((a << (shift + 1)) + b - 2 * q * b),
                _ => None,
            };
            let tv = match (dv, rv) {
                (Some(b), Some(r)) => Some(2 * b - r - 1),
                _ => None,
            };
            let [cq, cd, cn, cr] =
                st.arith([-2, 0, 1, 1i128 << (shift + 1), -1, 0], [qv, dv, nv, rv])?;
            st.bind(cd, Self::ref_src(cells, node, d))?;
            st.bind(cn, Self::ref_src(cells, node, n))?;
            let [cd2, _, cr2, ct] = st.arith([0, 2, 0, -1, -1, -1], [dv, None, rv, tv])?;
            st.region.constrain_equal(cd2, cd);
            st.region.constrain_equal(cr2, cr);
            st.check(cr, rv, 0, rbits)?;
            st.check(ct, tv, 0, rbits)?;
            st.check(cq, qv, 1i128 << bits, bits + 1)?;
            out.push(Src::Cell(cq));
        }
        Ok(out)
    }

    /// Two rows per element: `2^e·x − s·s − r1 = 0` and `2s − r1 − r2 = 0`, with
    /// `r1, r2 ∈ [0, 2^(bits+1))` and `s ∈ [0, 2^bits)`: then `s = floor(sqrt(2^e·x))`.
    #[allow(clippy::needless_range_loop)]
    fn sqrt(
        &self,
        st: &mut Layout<'_, '_>,
        cells: &[Vec<Src>],
        ni: usize,
        node: &QNode,
        exp: u32,
        bits: u32,
    ) -> Result<Vec<Src>, Error> {
        let src = node.inputs[0];
        let mut out = Vec::with_capacity(node.len());
        for e in 0..node.len() {
            let x = self.value(src, e);
            // The claimed root is the trace's; the two slacks follow from it.
            let s = self.value(ni, e);
            let r1 = match (x, s) {
                (Some(x), Some(s)) => Some((x << exp) - s * s),
                _ => None,
            };
            let r2 = match (s, r1) {
                (Some(s), Some(r)) => Some(2 * s - r),
                _ => None,
            };
            let [ca, cb, cx, cr1] = st.arith([-1, 0, 0, 1i128 << exp, -1, 0], [s, s, x, r1])?;
            st.region.constrain_equal(ca, cb);
            st.bind(cx, cells[src][e])?;
            let [ca2, _, cr1b, cr2] = st.arith([0, 2, 0, -1, -1, 0], [s, None, r1, r2])?;
            st.region.constrain_equal(ca2, ca);
            st.region.constrain_equal(cr1b, cr1);
            st.check(cr1, r1, 0, bits + 1)?;
            st.check(cr2, r2, 0, bits + 1)?;
            st.check(ca, s, 0, bits)?;
            out.push(Src::Cell(ca));
        }
        Ok(out)
    }

    /// Lays out the whole model; returns the public cells and their instance rows.
    fn layout(
        &self,
        config: &ChipConfig,
        region: &mut Region<Fr>,
        pending: &mut Vec<(Cell, usize)>,
    ) -> Result<Vec<(Cell, usize)>, Error> {
        let q = &*self.model;
        let shape = self.plan.shape;
        let vis = shape.visibility;
        let known = self.trace.is_some();
        let inst = InstanceLayout::new(vis, q.input().len(), q.output_node().len());
        let mut st = Layout {
            config,
            region,
            pending,
            row: 0,
            lane: 0,
            frow: 0,
            known,
            params: Vec::new(),
            zero: None,
        };
        let mut public = Vec::new();
        let mut input_cells = Vec::new();
        if vis.input != Vis::Public {
            for e in 0..q.input().len() {
                let v = self.value(0, e);
                input_cells.push((st.fresh_signed(v, q.input_bits)?, v));
            }
        }
        let param_offsets = q.param_offsets();
        let mut param_values = Vec::new();
        if vis.params_in_advice() {
            let bits = q.param_bits();
            for p in q.params() {
                let v = known.then_some(i128::from(p));
                let c = st.fresh_signed(v, bits)?;
                st.params.push(c);
                param_values.push(v);
            }
            st.zero = Some(st.fresh_signed(known.then_some(0), 0)?);
        }
        let mut cells: Vec<Vec<Src>> = Vec::with_capacity(q.nodes.len());
        for (ni, node) in q.nodes.iter().enumerate() {
            let private = vis.params_in_advice().then_some(param_offsets[ni]);
            let out: Vec<Src> = match &node.op {
                QOp::Input if vis.input == Vis::Public => (0..node.len())
                    .map(|e| Src::Instance(inst.inputs.start + e))
                    .collect(),
                QOp::Input => input_cells.iter().map(|&(c, _)| Src::Cell(c)).collect(),
                QOp::Gather { map } => map
                    .iter()
                    .map(|&r| Self::ref_src(&cells, node, r))
                    .collect(),
                QOp::Linear { map } => match private {
                    Some(off) => self.linear_private(&mut st, &cells, node, map, off)?,
                    None => self.linear(&mut st, &cells, node, map)?,
                },
                QOp::Rescale {
                    mul,
                    add,
                    shift,
                    relu,
                    bits,
                } => self.rescale(
                    &mut st, &cells, node, mul, add, *shift, *relu, *bits, private,
                )?,
                QOp::Bilinear { terms } => self.bilinear(&mut st, &cells, ni, node, terms)?,
                QOp::Lookup { table } => self.lookup(&mut st, &cells, ni, node, *table)?,
                QOp::Div {
                    num,
                    den,
                    shift,
                    bits,
                    rbits,
                } => self.div(&mut st, &cells, ni, node, num, den, *shift, *bits, *rbits)?,
                QOp::Sqrt { exp, bits } => self.sqrt(&mut st, &cells, ni, node, *exp, *bits)?,
            };
            if out.len() != node.len() {
                return Err(Error::Synthesis);
            }
            cells.push(out);
        }
        let outputs = cells.swap_remove(q.output);
        // An output that is an input element or a constant was rejected at import.
        let out_cells = outputs
            .iter()
            .map(|s| match s {
                Src::Cell(c) => Ok(*c),
                Src::Instance(_) | Src::Const(_) => Err(Error::Synthesis),
            })
            .collect::<Result<Vec<Cell>, Error>>()?;
        if let Some(at) = inst.input_hash {
            public.push((st.hash_cells(&input_cells, q.input_bits)?, at));
        }
        if let Some(at) = inst.param_hash {
            let pc: Vec<(Cell, Option<i128>)> =
                st.params.clone().into_iter().zip(param_values).collect();
            public.push((st.hash_cells(&pc, q.param_bits())?, at));
        }
        for (i, &c) in out_cells.iter().enumerate() {
            if vis.output == Vis::Public {
                public.push((c, inst.outputs.start + i));
            }
        }
        if let Some(at) = inst.output_hash {
            let bits = q.output_bits();
            let mut oc = Vec::with_capacity(out_cells.len());
            for (i, &c) in out_cells.iter().enumerate() {
                let v = self.value(q.output, i);
                st.check(c, v, 1i128 << (bits - 1), bits)?;
                oc.push((c, v));
            }
            public.push((st.hash_cells(&oc, bits)?, at));
        }
        if st.row > shape.usable_rows()
            || st.frow > shape.usable_rows()
            || st.lane + shape.max_limbs > shape.usable_rows()
        {
            return Err(Error::NotEnoughRowsAvailable { current_k: shape.k });
        }
        Ok(public)
    }
}

/// The columns and gates of a model circuit: the pooled layout, or the lean one.
#[derive(Debug, Clone)]
pub enum ModelConfig {
    /// The pooled layout ([`crate::chips`]).
    Pooled(Box<ChipConfig>),
    /// The lean layout ([`crate::lean`]).
    Lean(Box<LeanConfig>),
}

impl Circuit<Fr> for ModelCircuit {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitShape;

    fn without_witnesses(&self) -> Self {
        Self {
            model: self.model.clone(),
            plan: self.plan.clone(),
            trace: None,
        }
    }

    fn params(&self) -> CircuitShape {
        self.plan.shape
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: CircuitShape) -> ModelConfig {
        match shape.lean {
            Some(l) => ModelConfig::Lean(Box::new(LeanConfig::configure(
                meta,
                shape.inputs_per_row,
                l.width,
                shape.visibility.any_hashed(),
            ))),
            None => ModelConfig::Pooled(Box::new(ChipConfig::configure(meta, shape))),
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        Self::configure_with_params(meta, CircuitShape::default())
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        let config = match config {
            ModelConfig::Pooled(c) => c,
            ModelConfig::Lean(c) => {
                let shape = self.plan.shape;
                let lean =
                    LeanModel::new(&self.model, shape.visibility).map_err(|_| Error::Synthesis)?;
                return crate::lean::synthesize(
                    &c,
                    &mut layouter,
                    &self.model,
                    &lean,
                    &shape,
                    self.trace.as_deref(),
                );
            }
        };
        config.range.load_table(&mut layouter, &self.model.tables)?;
        let mut pending = Vec::new();
        let public = layouter.assign_region(
            || "model",
            |mut region| self.layout(&config, &mut region, &mut pending),
        )?;
        for (cell, row) in pending {
            layouter.constrain_instance(cell, config.instance, row);
        }
        for (cell, row) in public {
            layouter.constrain_instance(cell, config.instance, row);
        }
        Ok(())
    }
}
