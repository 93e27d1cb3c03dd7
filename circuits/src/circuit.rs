//! The halo2 circuit of a quantized model.
//!
//! One region holds every gadget row in order (the plan in `crate::layout` counts the same
//! rows); the range lane and the function lane fill their own columns alongside. Tensors are
//! lists of [`Src`]: an instance row, an advice cell or a constant, so rewiring ops cost no
//! cells at all.

use std::sync::Arc;

use halo2_proofs::circuit::{Cell, Layouter, Region, SimpleFloorPlanner, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use crate::chips::arith::Coeffs;
use crate::chips::{fe, val, ChipConfig};
use crate::layout::{CircuitShape, LayoutPlan};
use crate::quant::{rescale_one, QGraph, QNode, QOp, QRef, Trace};

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

    /// The public instance column for a trace: the quantized input, then the output.
    pub fn instances(model: &QGraph, trace: &Trace) -> Vec<Fr> {
        trace.values[0]
            .iter()
            .chain(trace.output(model))
            .map(|&v| fe(i128::from(v)))
            .collect()
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
                    let mut w = vec![vec![0i64; t_per]; a_per];
                    for t in 0..t_per {
                        let idx = j * t_per + t;
                        let used = idx < k && g.inputs[idx].is_some();
                        let x = if used { xs[idx] } else { known.then_some(0) };
                        for (a, wa) in w.iter_mut().enumerate() {
                            let r = blk * a_per + a;
                            if r < g.outputs.len() && used {
                                wa[t] = m.data[r * m.cols + idx];
                                if let (Some(s), Some(xx)) = (acc[a].as_mut(), x) {
                                    *s += i128::from(wa[t]) * xx;
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
    ) -> Result<Vec<Src>, Error> {
        let src = node.inputs[0];
        let mut out = Vec::with_capacity(node.len());
        for e in 0..node.len() {
            let x = self.value(src, e);
            let qr = x.map(|x| rescale_one(x as i64, mul[e], add[e], shift));
            let qv = qr.map(|(q, _)| q);
            let rv = qr.map(|(_, r)| r);
            let ov = qv.map(|q| q.max(0));
            let dv = qv.map(|q| q.max(0) - q);
            let c = st.config.rescale.assign(
                st.region,
                st.row,
                mul[e],
                add[e],
                shift,
                relu,
                [val(x), val(qv), val(rv), val(ov), val(dv)],
            )?;
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

    fn layout(
        &self,
        config: &ChipConfig,
        region: &mut Region<Fr>,
        pending: &mut Vec<(Cell, usize)>,
    ) -> Result<Vec<Src>, Error> {
        let q = &*self.model;
        let shape = self.plan.shape;
        let mut st = Layout {
            config,
            region,
            pending,
            row: 0,
            lane: 0,
            frow: 0,
            known: self.trace.is_some(),
        };
        let mut cells: Vec<Vec<Src>> = Vec::with_capacity(q.nodes.len());
        for (ni, node) in q.nodes.iter().enumerate() {
            let out: Vec<Src> = match &node.op {
                QOp::Input => (0..node.len()).map(Src::Instance).collect(),
                QOp::Gather { map } => map
                    .iter()
                    .map(|&r| Self::ref_src(&cells, node, r))
                    .collect(),
                QOp::Linear { map } => self.linear(&mut st, &cells, node, map)?,
                QOp::Rescale {
                    mul,
                    add,
                    shift,
                    relu,
                    bits,
                } => self.rescale(&mut st, &cells, node, mul, add, *shift, *relu, *bits)?,
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
        if st.row > shape.usable_rows()
            || st.frow > shape.usable_rows()
            || st.lane + shape.max_limbs > shape.usable_rows()
        {
            return Err(Error::NotEnoughRowsAvailable { current_k: shape.k });
        }
        Ok(cells.swap_remove(q.output))
    }
}

impl Circuit<Fr> for ModelCircuit {
    type Config = ChipConfig;
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

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: CircuitShape) -> ChipConfig {
        ChipConfig::configure(meta, shape)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> ChipConfig {
        ChipConfig::configure(meta, CircuitShape::default())
    }

    fn synthesize(&self, config: ChipConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        config.range.load_table(&mut layouter, &self.model.tables)?;
        let mut pending = Vec::new();
        let outputs = layouter.assign_region(
            || "model",
            |mut region| self.layout(&config, &mut region, &mut pending),
        )?;
        let n_in = self.model.input().len();
        for (cell, row) in pending {
            layouter.constrain_instance(cell, config.instance, row);
        }
        for (i, src) in outputs.into_iter().enumerate() {
            match src {
                Src::Cell(c) => layouter.constrain_instance(c, config.instance, n_in + i),
                // An output that is an input element or a constant (rejected at import).
                Src::Instance(_) | Src::Const(_) => return Err(Error::Synthesis),
            }
        }
        Ok(())
    }
}
