//! One file per IR primitive on the pooled layout: the rows it is planned to take beside the
//! assignment that takes them, so the planner ([`crate::layout`]) and the circuit
//! ([`crate::circuit`]) cannot drift apart (a test synthesizes every primitive and compares).
//!
//! Tensors are lists of [`Src`]: an advice cell or a constant, so rewiring ops cost no cells
//! at all.

pub mod bilinear;
pub mod div;
pub mod linear;
pub mod lookup;
pub mod rescale;
pub mod sqrt;

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use halo2_proofs::plonk::Error;

use crate::chips::arith::Coeffs;
use crate::chips::range::RangeConfig;
use crate::chips::{fe, val, ChipConfig};
use crate::quant::{QGraph, QNode, QOp, QRef, Trace};
use crate::shape::CircuitShape;

/// Where a tensor element lives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Src {
    /// An advice cell.
    Cell(Cell),
    /// A constant.
    Const(i64),
}

/// Rows a part of the circuit takes in each lane of the pooled layout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rows {
    /// Main rows (the shared advice pool).
    pub main: usize,
    /// Range-lane rows of range checks.
    pub lane: usize,
    /// Range-lane rows of function lookups ([`crate::chips::range`]).
    pub func: usize,
}

impl std::ops::Add for Rows {
    type Output = Rows;
    fn add(self, o: Rows) -> Rows {
        Rows {
            main: self.main + o.main,
            lane: self.lane + o.lane,
            func: self.func + o.func,
        }
    }
}

/// What the planner records of one node: its gadget, rows and multiply-adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The gadget's name (static but for a lookup's, which names its table: the planner asks
    /// for thousands of plans per node).
    pub gadget: std::borrow::Cow<'static, str>,
    /// Its rows.
    pub rows: Rows,
    /// Multiply-adds.
    pub macs: usize,
}

/// What a node's plan depends on besides the shape, read once per planning ([`Prepared::of`])
/// so that the planner's thousands of shapes do not each walk the node's maps and terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// A linear map's group sizes.
    Linear(linear::Profile),
    /// A product node's numbers of products per element.
    Bilinear(bilinear::Profile),
    /// A rescale only lookups read: its output is not range-checked
    /// ([`QGraph::lookup_bounded`]).
    LookupBound,
    /// Nothing beyond the node itself.
    Node,
}

impl Prepared {
    /// What the plan of `node` needs of it.
    pub fn of(node: &QNode) -> Self {
        match &node.op {
            QOp::Linear { map } => Prepared::Linear(linear::Profile::of(map)),
            QOp::Bilinear { terms } => Prepared::Bilinear(bilinear::Profile::of(terms)),
            _ => Prepared::Node,
        }
    }
}

/// The plan of node `node` of `q` on the pooled layout of `shape`.
pub fn planned(q: &QGraph, node: &QNode, shape: &CircuitShape) -> Planned {
    planned_with(q, node, &Prepared::of(node), shape)
}

/// [`planned`] with the node's [`Prepared`] figures read beforehand.
pub fn planned_with(q: &QGraph, node: &QNode, prep: &Prepared, shape: &CircuitShape) -> Planned {
    let private = shape.visibility.params_in_advice();
    let none = |g: &'static str| Planned {
        gadget: g.into(),
        rows: Rows::default(),
        macs: 0,
    };
    match (&node.op, prep) {
        (QOp::Input, _) => none("instance"),
        (QOp::Gather { .. }, _) => none("rewire"),
        (QOp::Linear { .. }, Prepared::Linear(p)) if private => linear::planned_private(p, shape),
        (QOp::Linear { .. }, Prepared::Linear(p)) => linear::planned(p, shape),
        (QOp::Linear { map }, _) => {
            planned_with(q, node, &Prepared::Linear(linear::Profile::of(map)), shape)
        }
        (QOp::Rescale { .. }, _) if !private && q.passes_through(node) => none("identity"),
        (QOp::Rescale { .. }, _) => {
            let bound = matches!(prep, Prepared::LookupBound);
            match rescale::Checks::of(&node.op, bound) {
                Some(c) => rescale::planned(node.len(), c, shape),
                None => none("rescale"),
            }
        }
        (QOp::Bilinear { .. }, Prepared::Bilinear(p)) => bilinear::planned(p, shape),
        (QOp::Bilinear { terms }, _) => bilinear::planned(&bilinear::Profile::of(terms), shape),
        (QOp::Lookup { table }, _) => lookup::planned(node.len(), &q.tables[*table].label()),
        (QOp::Div { bits, rbits, .. }, _) => div::planned(node.len(), *bits, *rbits, shape),
        (QOp::Sqrt { bits, .. }, _) => sqrt::planned(node.len(), *bits, shape),
    }
}

/// Lays out node `ni` of the model: the sources of its output elements.
pub(crate) fn assign(
    st: &mut Layout<'_, '_>,
    cells: &[Vec<Src>],
    ni: usize,
    node: &QNode,
    param_offset: Option<usize>,
    lookup_bound: bool,
) -> Result<Vec<Src>, Error> {
    Ok(match &node.op {
        // The input's sources are the caller's (instance rows or range-checked cells).
        QOp::Input => return Err(Error::Synthesis),
        QOp::Gather { map } => map.iter().map(|&r| ref_src(cells, node, r)).collect(),
        QOp::Linear { map } => match param_offset {
            Some(off) => linear::assign_private(st, cells, node, map, off)?,
            None => linear::assign(st, cells, node, map)?,
        },
        QOp::Rescale { mul, add, .. } => {
            let checks = rescale::Checks::of(&node.op, lookup_bound).ok_or(Error::Synthesis)?;
            let p = rescale::Params { mul, add, checks };
            rescale::assign(st, cells, node, p, param_offset)?
        }
        QOp::Bilinear { terms } => bilinear::assign(st, cells, ni, node, terms)?,
        QOp::Lookup { table } => lookup::assign(st, cells, ni, node, *table)?,
        QOp::Div {
            num,
            den,
            shift,
            bits,
            rbits,
        } => div::assign(
            st,
            cells,
            ni,
            node,
            div::Params {
                num,
                den,
                shift: *shift,
                bits: *bits,
                rbits: *rbits,
            },
        )?,
        QOp::Sqrt { exp, bits } => sqrt::assign(st, cells, ni, node, *exp, *bits)?,
    })
}

/// The source of a reference of `node`.
pub(crate) fn ref_src(cells: &[Vec<Src>], node: &QNode, r: QRef) -> Src {
    match r {
        QRef::In(s, i) => cells[node.inputs[s as usize]][i as usize],
        QRef::Const(c) => Src::Const(c),
    }
}

/// Assignment state: the region, the witness and the next free row of each lane.
pub(crate) struct Layout<'a, 'r> {
    pub config: &'a ChipConfig,
    pub shape: CircuitShape,
    pub region: &'a mut Region<'r, Fr>,
    /// The integer execution (`None` for key generation).
    pub trace: Option<&'a Trace>,
    pub row: usize,
    /// The next free row of each range lane (checks and function rows).
    pub lanes: Vec<usize>,
    /// Function rows laid out so far (they are lane rows too).
    pub frow: usize,
    /// Whether witness values are known (proving) or not (key generation).
    pub known: bool,
    /// Range-checked parameter cells (private or hashed parameters), in `QGraph::params` order.
    pub params: Vec<Cell>,
    /// A cell constrained to 0 (pads dot products; exact rescales' remainders copy it).
    pub zero: Option<Cell>,
    /// The limb widths the range table holds ([`crate::layout::range_widths`]).
    pub table_widths: u64,
}

impl Layout<'_, '_> {
    /// The next free row of each lane.
    pub fn at(&self) -> Rows {
        Rows {
            main: self.row,
            lane: self.lanes.iter().sum::<usize>() - self.frow,
            func: self.frow,
        }
    }

    /// Rows taken since `at`.
    pub fn since(&self, at: Rows) -> Rows {
        Rows {
            main: self.row - at.main,
            lane: self.lanes.iter().sum::<usize>() - self.frow - at.lane,
            func: self.frow - at.func,
        }
    }

    /// Element `i` of node `node` in the trace.
    pub fn value(&self, node: usize, i: usize) -> Option<i128> {
        self.trace.map(|t| i128::from(t.values[node][i]))
    }

    /// The value of a reference of node `node`.
    pub fn ref_value(&self, node: &QNode, r: QRef) -> Option<i128> {
        match r {
            QRef::In(s, i) => self.value(node.inputs[s as usize], i as usize),
            QRef::Const(c) => self.known.then_some(i128::from(c)),
        }
    }

    /// Binds `cell` to a source: a copy, an instance row or a constant.
    pub fn bind(&mut self, cell: Cell, src: Src) -> Result<(), Error> {
        match src {
            Src::Cell(c) => self.region.constrain_equal(cell, c),
            Src::Const(v) => {
                if self.config.constant.is_none() {
                    return Err(Error::Synthesis);
                }
                self.region.constrain_constant(cell, fe(i128::from(v)))?;
            }
        }
        Ok(())
    }

    /// The least-filled range lane (the first of equals).
    fn next_lane(&self) -> usize {
        (0..self.lanes.len())
            .min_by_key(|&i| self.lanes[i])
            .unwrap_or(0)
    }

    /// Fails (at key generation already) if a check of `bits` bits needs a limb width the
    /// table does not hold: the planner's list of checks ([`crate::layout::check_bits`]) and
    /// the gadgets' checks must agree, or honest proofs would fail the lookup.
    fn table_has(&self, bits: u32) -> Result<(), Error> {
        let need = RangeConfig::widths(bits, self.shape.limb_bits);
        if need & !self.table_widths != 0 {
            return Err(Error::Synthesis);
        }
        Ok(())
    }

    /// The highest row any range lane has reached.
    pub fn lane_height(&self) -> usize {
        self.lanes.iter().copied().max().unwrap_or(0)
    }

    pub fn check(
        &mut self,
        cell: Cell,
        v: Option<i128>,
        offset: i128,
        bits: u32,
    ) -> Result<(), Error> {
        self.table_has(bits)?;
        let l = self.next_lane();
        let row = *self.lanes.get(l).ok_or(Error::Synthesis)?;
        self.lanes[l] += self
            .config
            .range
            .check(self.region, l, row, cell, v, offset, bits)?;
        Ok(())
    }

    /// A function row in the least-filled lane: `y = f_id(x)`, `x` bound to `src`; returns the
    /// output cell.
    pub fn function(
        &mut self,
        id: usize,
        src: Src,
        x: Option<i128>,
        y: Option<i128>,
    ) -> Result<Cell, Error> {
        let l = self.next_lane();
        let row = *self.lanes.get(l).ok_or(Error::Synthesis)?;
        let (xc, yc) = self
            .config
            .range
            .function(self.region, l, row, id, val(x), val(y))?;
        self.lanes[l] += 1;
        self.frow += 1;
        self.bind(xc, src)?;
        Ok(yc)
    }

    /// A fresh lane cell holding `v`, checked to be a signed `bits`-bit integer.
    pub fn fresh_signed(&mut self, v: Option<i128>, bits: u32) -> Result<Cell, Error> {
        self.table_has(bits)?;
        let offset = if bits == 0 { 0 } else { 1i128 << (bits - 1) };
        let l = self.next_lane();
        let row = *self.lanes.get(l).ok_or(Error::Synthesis)?;
        let (cell, n) = self
            .config
            .range
            .assign(self.region, l, row, v, offset, bits)?;
        self.lanes[l] += n;
        Ok(cell)
    }

    /// Packs signed `bits`-bit values (cells with their values) into field elements on
    /// matrix-vector rows with weights `2^(bits·i)`, then hashes them with a header:
    /// the digest equals [`hash::hash_values`].
    pub fn hash_cells(&mut self, cells: &[(Cell, Option<i128>)], bits: u32) -> Result<Cell, Error> {
        let poseidon = self.config.poseidon.as_ref().ok_or(Error::Synthesis)?;
        let mac = &self.config.mac;
        let (x0, acc0) = mac.windows.first().ok_or(Error::Synthesis)?;
        let (t, a) = (x0.len(), acc0.len());
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
            let mut cells = mac.assign_row(region, at, first, &w, &[(&xv, &av)])?;
            let (xc, ac) = cells.pop().ok_or(Error::Synthesis)?;
            Ok((xc, ac[0]))
        };
        let (digest, rows) =
            poseidon.pack_and_hash(self.region, self.row, cells, bits, t, &mut row)?;
        self.row += rows;
        Ok(digest)
    }

    pub fn arith(&mut self, k: Coeffs, v: [Option<i128>; 4]) -> Result<[Cell; 4], Error> {
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
