//! The range-check lane: limb decomposition against one shared table, as a running sum.
//!
//! A check of `v + o ∈ [0, 2^b)` takes `m = ⌈b/L⌉` rows `i..i+m` (one row for `b = 0`): `rv[i]`
//! holds `v` (copied in), `rv[i+j]` for `j ≥ 1` the running sum `z_j = Σ_{k≥j} 2^((k−j)·L)·lc[i+k]`,
//! and `lc[i+j]` the limbs. Gates: `q_next` on every row but the last, `rv + o = lc + 2^L·rv[+1]`;
//! `q_last` on the last, `rv + o = lc` (the fixed offset `o` is 0 except on the first row). So
//! `v + o = Σ_j 2^(j·L)·lc[i+j]`. Lookup on every row: `(tag, lc) ∈ {(t, u) : t ∈ W, 0 ≤ u < 2^t}`,
//! where the fixed `tag` is the width of the limb in that row (the top limb may be narrower) and
//! `W ⊆ [0, L]` the widths the model's checks use ([`RangeConfig::widths`],
//! `layout::range_widths`). Unused rows hold `(0, 0)`. A check costs the rows its width needs,
//! not the widest check's.
//!
//! Several lanes can run side by side, each with its own columns, gate and lookup into the one
//! table; a check lives in one lane. The layout puts each check in the least-filled lane, so no
//! lane is longer than `⌈total/lanes⌉ + max_limbs` rows and range checks need not set `k`.
//!
//! **Function rows.** When the model has function tables, the table gains a third column and
//! holds `(t, u, 0)` for range entries and `(32 + id, x, f_id(x))` for function `id`; each lane
//! gains a fixed 0/1 column `fs` and its lookup becomes `(tag, lc, fs·rv)`. A function row
//! holds the input `x` in `lc`, the output `y` in `rv`, `fs = 1` and the tag `32 + id`, and no
//! running-sum selector; a range row has `fs = 0`, so its tuple `(t, lc, 0)` can only match a
//! range entry of its own width (tags are fixed; function tags are at least 32, limb widths at
//! most 17). A function row needs no gate: the lookup alone says `y = f_id(x)`. The row before
//! it ends a check (`q_last`, which reads no next row) or is a function row, so a function row
//! never feeds a running sum. Both lane columns are copy-constrained then (`x` is a copy of the
//! input, `y` is read by later gadgets). This replaced a separate function lane with its own
//! two advice columns, tag column and lookup: the function rows fill the lanes' rows after
//! their checks instead (DESIGN.md §3, docs/ARCHITECTURE.md).

use halo2_proofs::circuit::{Cell, Layouter, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, TableColumn,
};
use halo2_proofs::poly::Rotation;

use super::fe;
use crate::field::small;
use crate::quant::Table;
use crate::shape::limbs;

/// Table tags of function tables start here (range tags are limb widths, at most 17).
pub const FUNC_TAG_BASE: u64 = 32;

/// Columns of one range lane.
#[derive(Debug, Clone)]
pub struct Lane {
    /// Enables the running-sum step `rv + off = lc + 2^L·rv[+1]`.
    pub q_next: Selector,
    /// Enables the last step `rv + off = lc`.
    pub q_last: Selector,
    /// Checked values (copied in).
    pub rv: Column<Advice>,
    /// Limbs.
    pub lc: Column<Advice>,
    /// Limb width of each row.
    pub tag: Column<Fixed>,
    /// Offset added before decomposition.
    pub off: Column<Fixed>,
    /// 1 on function rows, 0 elsewhere (only when the model has function tables).
    pub fs: Option<Column<Fixed>>,
}

impl Lane {
    /// Creates one lane's columns, gate and lookup into the shared table (with its function
    /// column `t_out` when the model has function tables).
    fn configure(
        meta: &mut ConstraintSystem<Fr>,
        limb_bits: u32,
        t_tag: TableColumn,
        t_val: TableColumn,
        t_out: Option<TableColumn>,
    ) -> Self {
        let q_next = meta.selector();
        let q_last = meta.selector();
        let rv = meta.advice_column();
        meta.enable_equality(rv);
        let lc = meta.advice_column();
        let tag = meta.fixed_column();
        let off = meta.fixed_column();
        meta.create_gate("range running sum", |vc| {
            let next = vc.query_selector(q_next);
            let last = vc.query_selector(q_last);
            let v = vc.query_advice(rv, Rotation::cur()) + vc.query_fixed(off, Rotation::cur());
            let limb = vc.query_advice(lc, Rotation::cur());
            let up = vc.query_advice(rv, Rotation::next());
            let base = Expression::Constant(fe(1i128 << limb_bits));
            vec![
                next * (v.clone() - limb.clone() - base * up),
                last * (v - limb),
            ]
        });
        let fs = t_out.map(|_| {
            // Function rows copy their input into `lc`.
            meta.enable_equality(lc);
            meta.fixed_column()
        });
        meta.lookup("range limb or function", |vc| {
            let mut tuple = vec![
                (vc.query_fixed(tag, Rotation::cur()), t_tag),
                (vc.query_advice(lc, Rotation::cur()), t_val),
            ];
            if let (Some(fs), Some(t_out)) = (fs, t_out) {
                let y = vc.query_fixed(fs, Rotation::cur()) * vc.query_advice(rv, Rotation::cur());
                tuple.push((y, t_out));
            }
            tuple
        });
        Self {
            q_next,
            q_last,
            rv,
            lc,
            tag,
            off,
            fs,
        }
    }
}

/// The range lanes and the table they share.
#[derive(Debug, Clone)]
pub struct RangeConfig {
    /// The lanes side by side (at least one), each with its own gate and lookup.
    pub lanes: Vec<Lane>,
    /// Most limbs a checked value may take.
    pub max_limbs: usize,
    /// Table: limb width.
    pub t_tag: TableColumn,
    /// Table: value.
    pub t_val: TableColumn,
    /// Table: function value (only when the model has function tables; 0 for range entries).
    pub t_out: Option<TableColumn>,
    /// Bits per limb.
    pub limb_bits: u32,
}

impl RangeConfig {
    /// Creates `lanes` lanes (at least one) with their gates and lookups, and the table.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        limb_bits: u32,
        max_limbs: usize,
        with_functions: bool,
        lanes: usize,
    ) -> Self {
        let t_tag = meta.lookup_table_column();
        let t_val = meta.lookup_table_column();
        let t_out = with_functions.then(|| meta.lookup_table_column());
        let lanes = (0..lanes.max(1))
            .map(|_| Lane::configure(meta, limb_bits, t_tag, t_val, t_out))
            .collect();
        Self {
            lanes,
            max_limbs,
            t_tag,
            t_val,
            t_out,
            limb_bits,
        }
    }

    /// Range rows of a table holding the limb widths in `widths` (bit `t` set: every
    /// `(t, u)`, `0 ≤ u < 2^t`).
    pub fn table_rows(widths: u64) -> usize {
        (0..64)
            .filter(|t| widths >> t & 1 == 1)
            .map(|t| 1usize << t)
            .sum()
    }

    /// The limb widths (as a bit set) a check of `bits` bits with `limb_bits`-bit limbs puts in
    /// its rows' `tag`: `limb_bits` for every full limb, and the top limb's width (0 for
    /// `bits = 0`, whose single row holds the limb 0). The table holds only the widths some
    /// check uses (and 0, the width of unused rows), so a model whose checks are all 16 bits
    /// wide needs `2^16 + 1` range entries rather than `2^17 − 1`.
    pub fn widths(bits: u32, limb_bits: u32) -> u64 {
        let n = Self::rows(bits, limb_bits) as u32;
        let top = bits - (n - 1) * limb_bits;
        let full = if n > 1 { 1u64 << limb_bits } else { 0 };
        full | 1u64 << top
    }

    /// Fills the table: range entries `(t, u)` for every width `t` in the bit set `widths`
    /// (each at most `limb_bits`; [`RangeConfig::widths`]), then (with a function column)
    /// `(32 + id, x, f_id(x))` for every function table.
    pub fn load_table(
        &self,
        layouter: &mut impl Layouter<Fr>,
        functions: &[Table],
        widths: u64,
    ) -> Result<(), Error> {
        if widths >> (self.limb_bits + 1) != 0 || widths & 1 == 0 {
            // A limb is never wider than `limb_bits`, and unused rows hold (0, 0).
            return Err(Error::Synthesis);
        }
        layouter.assign_table(
            || "range and function table",
            |mut table| {
                let mut row = 0;
                let mut put = |table: &mut halo2_proofs::circuit::Table<'_, Fr>,
                               tag: Fr,
                               x: Fr,
                               y: Fr|
                 -> Result<(), Error> {
                    table.assign_cell(|| "tag", self.t_tag, row, || Value::known(tag))?;
                    table.assign_cell(|| "val", self.t_val, row, || Value::known(x))?;
                    if let Some(t_out) = self.t_out {
                        table.assign_cell(|| "out", t_out, row, || Value::known(y))?;
                    }
                    row += 1;
                    Ok(())
                };
                for t in (0..=self.limb_bits).filter(|t| widths >> t & 1 == 1) {
                    for u in 0..(1u64 << t) {
                        put(&mut table, small(u64::from(t)), small(u), Fr::zero())?;
                    }
                }
                if self.t_out.is_some() {
                    for (id, f) in functions.iter().enumerate() {
                        let tag = Fr::from(FUNC_TAG_BASE + id as u64);
                        for i in 0..f.size {
                            let x = f.lo + i as i64;
                            put(
                                &mut table,
                                tag,
                                fe(i128::from(x)),
                                fe(i128::from(f.value(x))),
                            )?;
                        }
                    }
                }
                Ok(())
            },
        )
    }

    /// Assigns a function row in lane `lane` at `row`: `y = f_id(x)` by the lookup. Returns the
    /// input and output cells (the caller binds the input to its source).
    pub fn function(
        &self,
        region: &mut Region<Fr>,
        lane: usize,
        row: usize,
        id: usize,
        x: Value<Fr>,
        y: Value<Fr>,
    ) -> Result<(Cell, Cell), Error> {
        let ln = self.lanes.get(lane).ok_or(Error::Synthesis)?;
        let fs = ln.fs.ok_or(Error::Synthesis)?;
        region.assign_fixed(ln.tag, row, Fr::from(FUNC_TAG_BASE + id as u64));
        region.assign_fixed(fs, row, Fr::one());
        let xc = region.assign_advice(ln.lc, row, x).cell();
        let yc = region.assign_advice(ln.rv, row, y).cell();
        Ok((xc, yc))
    }

    /// Lane rows a check of `bits` bits takes.
    pub fn rows(bits: u32, limb_bits: u32) -> usize {
        limbs(bits, limb_bits)
    }

    /// Checks `0 ≤ v + offset < 2^bits` for the value in `src` (copied into lane `lane` at
    /// `row`). Returns the number of lane rows used ([`RangeConfig::rows`]).
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        &self,
        region: &mut Region<Fr>,
        lane: usize,
        row: usize,
        src: Cell,
        v: Option<i128>,
        offset: i128,
        bits: u32,
    ) -> Result<usize, Error> {
        let (cell, n) = self.assign(region, lane, row, v, offset, bits)?;
        region.constrain_equal(cell, src);
        Ok(n)
    }

    /// Assigns a fresh value `v` in lane `lane` at `row` and checks `0 ≤ v + offset < 2^bits`.
    /// Returns its cell and the number of lane rows used ([`RangeConfig::rows`]).
    pub fn assign(
        &self,
        region: &mut Region<Fr>,
        lane: usize,
        row: usize,
        v: Option<i128>,
        offset: i128,
        bits: u32,
    ) -> Result<(Cell, usize), Error> {
        let n = Self::rows(bits, self.limb_bits);
        let ln = self.lanes.get(lane).ok_or(Error::Synthesis)?;
        if n > self.max_limbs {
            return Err(Error::Synthesis);
        }
        if offset != 0 {
            region.assign_fixed(ln.off, row, fe(offset));
        }
        let cell = region.assign_advice(ln.rv, row, super::val(v)).cell();
        let shifted = v.map(|x| x + offset);
        let l = self.limb_bits;
        for j in 0..n {
            let lo = j as u32 * l;
            let width = (bits.saturating_sub(lo)).min(l);
            if width > 0 {
                region.assign_fixed(ln.tag, row + j, small(u64::from(width)));
            }
            let limb = shifted.map(|s| (s >> lo) & ((1i128 << width) - 1));
            region.assign_advice(ln.lc, row + j, super::val(limb));
            if j > 0 {
                // The running sum of the limbs from this one up.
                let z = shifted.map(|s| s >> lo);
                region.assign_advice(ln.rv, row + j, super::val(z));
            }
            if j + 1 == n {
                ln.q_last.enable(region, row + j)?;
            } else {
                ln.q_next.enable(region, row + j)?;
            }
        }
        Ok((cell, n))
    }
}
