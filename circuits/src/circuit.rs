//! The halo2 circuit of a quantized model.

use std::sync::Arc;

use halo2_proofs::circuit::{Cell, Layouter, Region, SimpleFloorPlanner, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use crate::chips::{fe, val, ChipConfig};
use crate::layout::{CircuitShape, LayoutPlan};
use crate::quant::{rescale_one, QGraph, QOp, Trace};

/// Where a tensor element lives.
#[derive(Debug, Clone, Copy)]
enum Src {
    /// Row of the instance column.
    Instance(usize),
    /// An advice cell.
    Cell(Cell),
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

    fn bind(region: &mut Region<Fr>, cell: Cell, src: Src, pending: &mut Vec<(Cell, usize)>) {
        match src {
            Src::Cell(c) => region.constrain_equal(cell, c),
            Src::Instance(row) => pending.push((cell, row)),
        }
    }

    fn layout(
        &self,
        config: &ChipConfig,
        region: &mut Region<Fr>,
        pending: &mut Vec<(Cell, usize)>,
    ) -> Result<Vec<Src>, Error> {
        let q = &*self.model;
        let shape = self.plan.shape;
        let (t_per, a_per) = (shape.inputs_per_row, shape.accs_per_row);
        let mut cells: Vec<Vec<Src>> = Vec::with_capacity(q.nodes.len());
        let mut row = 0usize;
        let mut lane = 0usize;
        for (ni, node) in q.nodes.iter().enumerate() {
            let out: Vec<Src> = match &node.op {
                QOp::Input => (0..node.len()).map(Src::Instance).collect(),
                QOp::Reshape => cells[node.inputs[0]].clone(),
                QOp::Linear {
                    weight,
                    out_features: n,
                    in_features: k,
                } => {
                    let (n, k) = (*n, *k);
                    let src = node.inputs[0];
                    let xin = &cells[src];
                    let rows = node.len() / n;
                    let mut out = vec![Src::Instance(0); node.len()];
                    for r in 0..rows {
                        for blk in 0..n.div_ceil(a_per) {
                            let mut acc: Vec<Option<i128>> =
                                vec![self.trace.as_ref().map(|_| 0); a_per];
                            for j in 0..k.div_ceil(t_per) {
                                let mut xv = Vec::with_capacity(t_per);
                                let mut w = vec![vec![0i64; t_per]; a_per];
                                for t in 0..t_per {
                                    let idx = j * t_per + t;
                                    let x = if idx < k {
                                        self.value(src, r * k + idx)
                                    } else {
                                        self.trace.as_ref().map(|_| 0)
                                    };
                                    for (a, wa) in w.iter_mut().enumerate() {
                                        let o = blk * a_per + a;
                                        if o < n && idx < k {
                                            wa[t] = weight[o * k + idx];
                                            if let (Some(s), Some(xx)) = (acc[a].as_mut(), x) {
                                                *s += i128::from(wa[t]) * xx;
                                            }
                                        }
                                    }
                                    xv.push(val(x));
                                }
                                let av: Vec<Value<Fr>> = acc.iter().map(|&v| val(v)).collect();
                                let (xc, ac) =
                                    config.mac.assign_row(region, row, j == 0, &xv, &w, &av)?;
                                for (t, c) in xc.into_iter().enumerate() {
                                    let idx = j * t_per + t;
                                    if idx < k {
                                        Self::bind(region, c, xin[r * k + idx], pending);
                                    }
                                }
                                if j + 1 == k.div_ceil(t_per) {
                                    for (a, c) in ac.into_iter().enumerate() {
                                        let o = blk * a_per + a;
                                        if o < n {
                                            out[r * n + o] = Src::Cell(c);
                                        }
                                    }
                                }
                                row += 1;
                            }
                        }
                    }
                    out
                }
                QOp::Rescale {
                    mul,
                    add,
                    shift,
                    relu,
                    bits,
                } => {
                    let src = node.inputs[0];
                    let mut out = Vec::with_capacity(node.len());
                    for e in 0..node.len() {
                        let x = self.value(src, e);
                        let qr = x.map(|x| rescale_one(x as i64, mul[e], add[e], *shift));
                        let qv = qr.map(|(q, _)| q);
                        let rv = qr.map(|(_, r)| r);
                        let ov = qv.map(|q| q.max(0));
                        let dv = qv.map(|q| q.max(0) - q);
                        let c = config.rescale.assign(
                            region,
                            row,
                            mul[e],
                            add[e],
                            *shift,
                            *relu,
                            [val(x), val(qv), val(rv), val(ov), val(dv)],
                        )?;
                        Self::bind(region, c.x, cells[src][e], pending);
                        lane += config.range.check(region, lane, c.r, rv, 0, *shift)?;
                        match (c.out, c.d) {
                            (Some(o), Some(d)) => {
                                lane += config.range.check(region, lane, o, ov, 0, *bits)?;
                                lane += config.range.check(region, lane, d, dv, 0, *bits)?;
                                out.push(Src::Cell(o));
                            }
                            _ => {
                                lane += config.range.check(
                                    region,
                                    lane,
                                    c.q,
                                    qv,
                                    1i128 << bits,
                                    bits + 1,
                                )?;
                                out.push(Src::Cell(c.q));
                            }
                        }
                        row += 1;
                    }
                    out
                }
            };
            debug_assert_eq!(out.len(), node.len(), "node {ni}");
            cells.push(out);
        }
        if row > shape.usable_rows() || lane + shape.max_limbs > shape.usable_rows() {
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
        config.range.load_table(&mut layouter)?;
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
                // The graph never outputs its input (rejected at import).
                Src::Instance(_) => return Err(Error::Synthesis),
            }
        }
        Ok(())
    }
}
