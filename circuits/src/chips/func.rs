//! The function lane: `(tag, x, y)` looked up in the shared table, where the table holds
//! `(32 + id, x, f_id(x))` for every function table of the model (DESIGN.md §3).
//!
//! Rows the lane does not use hold `(0, 0, 0)`, which the table contains (a range entry).

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, TableColumn};
use halo2_proofs::poly::Rotation;

/// Table tags of function tables start here (range tags are limb widths, at most 17).
pub const FUNC_TAG_BASE: u64 = 32;

/// Columns of the function lane.
#[derive(Debug, Clone)]
pub struct FuncConfig {
    /// Inputs (copied in).
    pub x: Column<Advice>,
    /// Outputs.
    pub y: Column<Advice>,
    /// Table tag of each row.
    pub tag: Column<Fixed>,
}

impl FuncConfig {
    /// Creates the lane and its lookup into the table `(t_tag, t_val, t_out)`.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, table: [TableColumn; 3]) -> Self {
        let x = meta.advice_column();
        let y = meta.advice_column();
        meta.enable_equality(x);
        meta.enable_equality(y);
        let tag = meta.fixed_column();
        meta.lookup("function table", |vc| {
            vec![
                (vc.query_fixed(tag, Rotation::cur()), table[0]),
                (vc.query_advice(x, Rotation::cur()), table[1]),
                (vc.query_advice(y, Rotation::cur()), table[2]),
            ]
        });
        Self { x, y, tag }
    }

    /// Assigns one lookup at `row` for table `id`; returns the input and output cells.
    pub fn assign(
        &self,
        region: &mut Region<Fr>,
        row: usize,
        id: usize,
        x: Value<Fr>,
        y: Value<Fr>,
    ) -> Result<(Cell, Cell), Error> {
        region.assign_fixed(self.tag, row, Fr::from(FUNC_TAG_BASE + id as u64));
        let xc = region.assign_advice(self.x, row, x).cell();
        let yc = region.assign_advice(self.y, row, y).cell();
        Ok((xc, yc))
    }
}
