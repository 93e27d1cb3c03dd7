//! Packed multiply-add gates for matrix-vector products with fixed weights.
//!
//! A row holds `P` windows, each `T` inputs `x_{p,t}` and `A` accumulators `acc_{p,a}`, and the
//! `A·T` weights of that block in fixed columns, which every window reads. Gate, for every
//! window `p` and accumulator `a`:
//! `acc_{p,a}[cur] = m[cur]·acc_{p,a}[prev] + Σ_t w_{a,t}[cur]·x_{p,t}[cur]`, where the fixed
//! `m` is 0 on the first row of a block and 1 on the others. *Why windows:* a convolution
//! applies the same weights at every output position, so `P` positions side by side need the
//! weights once; with one window per row they took `P` times the fixed columns for the same
//! products, and halo2-axiom re-extends every fixed column on every proof. Window 0 takes the
//! first `T + A` columns of the pool, window `p` the next `T + A` after window `p − 1`. The
//! same gate packs small values into one field element before hashing (weights `2^(b·i)`,
//! window 0; the other windows hold zeros, which satisfy it).

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;

/// One window's columns: its `T` inputs and its `A` accumulators.
pub type WindowColumns = (Vec<Column<Advice>>, Vec<Column<Advice>>);

/// One window's values for a row: its inputs and its accumulators.
pub type WindowValues<'a> = (&'a [Value<Fr>], &'a [Value<Fr>]);

/// Columns of the matrix-vector chip.
#[derive(Debug, Clone)]
pub struct MacConfig {
    /// Enables the gate.
    pub q: Selector,
    /// Every window's `(inputs, accumulators)` (`T` and `A` columns), window 0 first.
    pub windows: Vec<WindowColumns>,
    /// Weights `w[a][t]`.
    pub w: Vec<Vec<Column<Fixed>>>,
    /// Chain mask: 1 where the row continues the previous one.
    pub m: Column<Fixed>,
}

/// Cells of one assigned row: per window, its input cells and accumulator cells.
pub type MacCells = Vec<(Vec<Cell>, Vec<Cell>)>;

impl MacConfig {
    /// Creates the gate over the first `P·(T + A)` columns of `advice`, with the weights and
    /// the chain mask in the first `A·T + 1` columns of the shared fixed pool `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        advice: &[Column<Advice>],
        fixed: &[Column<Fixed>],
        (t, a, p): (usize, usize, usize),
    ) -> Self {
        let q = meta.selector();
        let windows: Vec<WindowColumns> = (0..p.max(1))
            .map(|wi| {
                let c = &advice[wi * (t + a)..(wi + 1) * (t + a)];
                (c[..t].to_vec(), c[t..].to_vec())
            })
            .collect();
        let w: Vec<Vec<Column<Fixed>>> = (0..a)
            .map(|ai| fixed[ai * t..(ai + 1) * t].to_vec())
            .collect();
        let m = fixed[a * t];
        meta.create_gate("packed multiply-add", |vc| {
            let q = vc.query_selector(q);
            let m = vc.query_fixed(m, Rotation::cur());
            let w: Vec<Vec<Expression<Fr>>> = w
                .iter()
                .map(|wa| {
                    wa.iter()
                        .map(|&c| vc.query_fixed(c, Rotation::cur()))
                        .collect()
                })
                .collect();
            let mut constraints = Vec::with_capacity(a * windows.len());
            for (x, acc) in &windows {
                let xs: Vec<Expression<Fr>> = x
                    .iter()
                    .map(|&c| vc.query_advice(c, Rotation::cur()))
                    .collect();
                for (ai, &col) in acc.iter().enumerate() {
                    let cur = vc.query_advice(col, Rotation::cur());
                    let prev = vc.query_advice(col, Rotation::prev());
                    let sum = xs
                        .iter()
                        .zip(&w[ai])
                        .fold(Expression::Constant(Fr::zero()), |s, (xe, we)| {
                            s + we.clone() * xe.clone()
                        });
                    constraints.push(q.clone() * (cur - m.clone() * prev - sum));
                }
            }
            constraints
        });
        Self { q, windows, w, m }
    }

    /// Assigns one row of the chip at `row`: weights `w[a][t]` and, per window, its inputs and
    /// accumulators (`windows[p] = (x, acc)`); windows not given hold zeros. Returns the given
    /// windows' input and accumulator cells.
    pub fn assign_row(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        first: bool,
        w: &[Vec<Fr>],
        windows: &[WindowValues<'_>],
    ) -> Result<MacCells, Error> {
        if windows.len() > self.windows.len() {
            return Err(Error::Synthesis);
        }
        self.q.enable(region, row)?;
        region.assign_fixed(self.m, row, if first { Fr::zero() } else { Fr::one() });
        for (ai, wa) in w.iter().enumerate() {
            for (ti, &wv) in wa.iter().enumerate() {
                if wv != Fr::zero() {
                    region.assign_fixed(self.w[ai][ti], row, wv);
                }
            }
        }
        let mut cells = Vec::with_capacity(windows.len());
        for (wi, (xc, ac)) in self.windows.iter().enumerate() {
            match windows.get(wi) {
                Some(&(x, acc)) => cells.push((
                    super::assign_cells(region, xc, row, x),
                    super::assign_cells(region, ac, row, acc),
                )),
                None => {
                    // An empty window: zero inputs and accumulators satisfy its gate on every
                    // row (0 = m·0 + Σ w·0); its cells are copied nowhere.
                    let zx = vec![Value::known(Fr::zero()); xc.len()];
                    let za = vec![Value::known(Fr::zero()); ac.len()];
                    super::assign_cells(region, xc, row, &zx);
                    super::assign_cells(region, ac, row, &za);
                }
            }
        }
        Ok(cells)
    }
}
