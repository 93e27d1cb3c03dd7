//! The halo2 circuit of a quantized model.
//!
//! One region holds every gadget row in order (the plan in `crate::layout` counts the same
//! rows); the range lanes (range checks and function rows) fill their own columns alongside.
//! Tensors are lists of `Src`: an instance row, an advice cell or a constant, so rewiring ops
//! cost no cells at all.

use std::sync::{Arc, Mutex};

use halo2_proofs::circuit::{Cell, Layouter, Region, SimpleFloorPlanner};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use crate::chips::{fe, ChipConfig};
use crate::error::{CircuitsError, Result as CircuitsResult};
use crate::gadgets::{self, Layout, Rows, Src};
use crate::hash;
use crate::layout::LayoutPlan;
use crate::lean::{LeanConfig, LeanModel};
use crate::quant::{QGraph, QOp, Trace};
use crate::shape::CircuitShape;
use crate::visibility::{instance_columns, instance_rows, InstanceLayout, Vis};

/// What laying out the pooled region gives: the public cells with their instance rows, and
/// the rows each part took.
type Laid = (Vec<(Cell, usize)>, Vec<Rows>);

/// The circuit: a quantized model, its plan and (when proving) the witness trace.
#[derive(Debug, Clone)]
pub struct ModelCircuit {
    /// The quantized model.
    pub model: Arc<QGraph>,
    /// Its layout plan.
    pub plan: Arc<LayoutPlan>,
    /// The integer execution to prove; `None` for key generation.
    pub trace: Option<Arc<Trace>>,
    /// Where synthesis records the rows each part took (see [`ModelCircuit::synthesized_rows`]).
    probe: Option<Arc<Mutex<Vec<Rows>>>>,
}

impl ModelCircuit {
    /// A circuit without witness (for key generation).
    pub fn new(model: Arc<QGraph>, plan: Arc<LayoutPlan>) -> Self {
        Self {
            model,
            plan,
            trace: None,
            probe: None,
        }
    }

    /// A circuit with a witness.
    pub fn with_trace(model: Arc<QGraph>, plan: Arc<LayoutPlan>, trace: Arc<Trace>) -> Self {
        Self {
            model,
            plan,
            trace: Some(trace),
            probe: None,
        }
    }

    /// Synthesizes the circuit with its witness (in halo2's mock prover, which also checks
    /// every constraint) and returns the rows each part took, in the order of the plan's
    /// layers: main, range-lane and function-lane rows per node then per visibility group on
    /// the pooled layout; main rows per multiply-add chain and per rescale, then the input and
    /// the hash, on the lean one. The planner's figures must equal these.
    pub fn synthesized_rows(&self) -> CircuitsResult<Vec<Rows>> {
        let trace = self
            .trace
            .as_ref()
            .ok_or_else(|| CircuitsError::Synthesis("no witness to synthesize".into()))?;
        let probe = Arc::new(Mutex::new(Vec::new()));
        let circuit = Self {
            probe: Some(probe.clone()),
            ..self.clone()
        };
        let instances = Self::instances(&self.model, &self.plan.shape, trace);
        let columns = Self::instance_columns(&self.plan.shape, &instances);
        let prover = halo2_proofs::dev::MockProver::run(self.plan.shape.k, &circuit, columns)
            .map_err(|e| CircuitsError::Synthesis(e.to_string()))?;
        prover
            .verify()
            .map_err(|e| CircuitsError::Synthesis(format!("{e:?}")))?;
        let rows = probe
            .lock()
            .map_err(|_| CircuitsError::Synthesis("probe poisoned".into()))?
            .clone();
        Ok(rows)
    }

    /// `values` (from [`ModelCircuit::instances`]) split over `shape`'s instance columns, as
    /// halo2's `MockProver` takes them ([`crate::visibility::instance_columns`]).
    pub fn instance_columns(shape: &CircuitShape, values: &[Fr]) -> Vec<Vec<Fr>> {
        instance_columns(values, shape.instance_columns)
            .into_iter()
            .map(<[Fr]>::to_vec)
            .collect()
    }

    /// The public instances for a trace, in the order of [`InstanceLayout`]: input
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

    /// Checks what the circuit will check of the input (quantized): every element is a signed
    /// integer of the compiled input width, whatever its visibility. An input outside it is a
    /// clear error naming the input rather than a failed proof.
    pub fn check_input(model: &QGraph, shape: &CircuitShape, input: &[i64]) -> CircuitsResult<()> {
        let bits = match shape.lean {
            // The lean layout's bit rows prove |x| < 2^W (W ≥ the input's width − 1).
            Some(l) => l.width,
            None => model.input_bits - 1,
        };
        match input
            .iter()
            .enumerate()
            .find(|(_, v)| v.unsigned_abs() >= 1u64 << bits.min(63))
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

    /// Lays out the whole model; returns the public cells and their instance rows, and the
    /// rows each part took (in the order of the plan's layers). `table_widths`: the limb widths
    /// the range table holds (`layout::range_widths`, computed once per synthesis).
    fn layout(
        &self,
        config: &ChipConfig,
        region: &mut Region<Fr>,
        table_widths: u64,
    ) -> Result<Laid, Error> {
        let q = &*self.model;
        let shape = self.plan.shape;
        let vis = shape.visibility;
        let known = self.trace.is_some();
        let inst = InstanceLayout::new(vis, q.input().len(), q.output_node().len());
        let mut st = Layout {
            config,
            shape,
            region,
            trace: self.trace.as_deref(),
            row: 0,
            lanes: vec![0; config.range.lanes.len()],
            frow: 0,
            known,
            params: Vec::new(),
            zero: None,
            table_widths,
        };
        let mut public = Vec::new();
        // Rows of the visibility groups: input, parameters, output (those that have rows).
        let (mut param_rows, mut output_rows) = (Rows::default(), Rows::default());
        // Every input element is a range-checked cell, whatever its visibility: a public
        // input's cell is bound to its instance row, so every instance is bound and is a
        // signed integer of the compiled width (not any field element).
        let mut input_cells = Vec::new();
        let at = st.at();
        for e in 0..q.input().len() {
            let v = st.value(0, e);
            let cell = st.fresh_signed(v, q.input_bits)?;
            if vis.input == Vis::Public {
                public.push((cell, inst.inputs.start + e));
            }
            input_cells.push((cell, v));
        }
        if crate::layout::input_zero(q, vis, shape.dot_products) {
            // The zero that exact rescales' remainders and packed products' padding are copies
            // of (a 0-bit check: its value is 0).
            st.zero = Some(st.fresh_signed(known.then_some(0), 0)?);
        }
        let mut input_rows = st.since(at);
        let param_offsets = q.param_offsets();
        let mut param_values = Vec::new();
        if vis.params_in_advice() {
            let at = st.at();
            let bits = q.param_bits();
            for p in q.params() {
                let v = known.then_some(i128::from(p));
                let c = st.fresh_signed(v, bits)?;
                st.params.push(c);
                param_values.push(v);
            }
            st.zero = Some(st.fresh_signed(known.then_some(0), 0)?);
            param_rows = st.since(at);
        }
        let mut cells: Vec<Vec<Src>> = Vec::with_capacity(q.nodes.len());
        let mut rows = Vec::with_capacity(q.nodes.len() + 3);
        let lookup_bound = q.lookup_bounded();
        for (ni, node) in q.nodes.iter().enumerate() {
            let private = vis.params_in_advice().then_some(param_offsets[ni]);
            let at = st.at();
            let out: Vec<Src> = match &node.op {
                QOp::Input => input_cells.iter().map(|&(c, _)| Src::Cell(c)).collect(),
                // Planned with no rows (`gadgets::planned`): the map's accumulator cells.
                _ if private.is_none() && q.passes_through(node) => cells[node.inputs[0]].clone(),
                _ => gadgets::assign(&mut st, &cells, ni, node, private, lookup_bound[ni])?,
            };
            if out.len() != node.len() {
                return Err(Error::Synthesis);
            }
            rows.push(st.since(at));
            cells.push(out);
        }
        let outputs = cells.swap_remove(q.output);
        // An output that is an input element or a constant was rejected at import.
        let out_cells = outputs
            .iter()
            .map(|s| match s {
                Src::Cell(c) => Ok(*c),
                Src::Const(_) => Err(Error::Synthesis),
            })
            .collect::<Result<Vec<Cell>, Error>>()?;
        if let Some(at) = inst.input_hash {
            let before = st.at();
            public.push((st.hash_cells(&input_cells, q.input_bits)?, at));
            input_rows = input_rows + st.since(before);
        }
        if let Some(at) = inst.param_hash {
            let before = st.at();
            let pc: Vec<(Cell, Option<i128>)> =
                st.params.clone().into_iter().zip(param_values).collect();
            public.push((st.hash_cells(&pc, q.param_bits())?, at));
            param_rows = param_rows + st.since(before);
        }
        for (i, &c) in out_cells.iter().enumerate() {
            if vis.output == Vis::Public {
                public.push((c, inst.outputs.start + i));
            }
        }
        if let Some(at) = inst.output_hash {
            let before = st.at();
            let bits = q.output_bits();
            let mut oc = Vec::with_capacity(out_cells.len());
            for (i, &c) in out_cells.iter().enumerate() {
                let v = st.value(q.output, i);
                st.check(c, v, 1i128 << (bits - 1), bits)?;
                oc.push((c, v));
            }
            public.push((st.hash_cells(&oc, bits)?, at));
            output_rows = st.since(before);
        }
        if st.row > shape.usable_rows() || st.lane_height() > shape.usable_rows() {
            return Err(Error::NotEnoughRowsAvailable { current_k: shape.k });
        }
        rows.push(input_rows);
        if vis.params_in_advice() {
            rows.push(param_rows);
        }
        if vis.output == Vis::Hashed {
            rows.push(output_rows);
        }
        Ok((public, rows))
    }
}

impl ModelCircuit {
    fn record(&self, rows: Vec<Rows>) {
        if let Some(p) = &self.probe {
            if let Ok(mut g) = p.lock() {
                *g = rows;
            }
        }
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
            probe: self.probe.clone(),
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
            None => {
                let c = ChipConfig::configure(meta, shape);
                // The lookups make the degree 4, so the quotient lives on 4·2^k rows; degree 5
                // keeps that domain (2^(k + ⌈log2(d − 1)⌉)) and lets each permutation product
                // cover three columns instead of two: fewer commitments and extended FFTs
                // (DESIGN.md §4, measured in docs/bench-results.md).
                meta.set_minimum_degree(crate::shape::POOLED_DEGREE);
                ModelConfig::Pooled(Box::new(c))
            }
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
                let rows = crate::lean::synthesize(
                    &c,
                    &mut layouter,
                    &self.model,
                    &lean,
                    &shape,
                    self.trace.as_deref(),
                )?;
                self.record(rows);
                return Ok(());
            }
        };
        let shape = self.plan.shape;
        let widths = crate::layout::range_widths(&self.model, &shape);
        config
            .range
            .load_table(&mut layouter, &self.model.tables, widths)?;
        let (public, rows) = layouter.assign_region(
            || "model",
            |mut region| self.layout(&config, &mut region, widths),
        )?;
        self.record(rows);
        let q = &*self.model;
        let n = InstanceLayout::new(shape.visibility, q.input().len(), q.output_node().len()).len;
        let per_column = instance_rows(n, config.instance.len()).max(1);
        for (cell, at) in public {
            let column = config
                .instance
                .get(at / per_column)
                .ok_or(Error::Synthesis)?;
            layouter.constrain_instance(cell, *column, at % per_column);
        }
        Ok(())
    }
}
