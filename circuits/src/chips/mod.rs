//! halo2 chips: the gates of the circuit and how cells are assigned to them.
//!
//! All chips share one pool of advice columns (`ChipConfig::advice`) and one pool of fixed
//! columns for the constants of gates that work on main rows (matrix-vector weights, rescale
//! constants, Poseidon round constants): a main row belongs to one gadget, every gate that
//! reads the pool is switched on by its own selector and reads only its own row, so the
//! gadgets can share the columns. Every fixed column is one more commitment (an elliptic-curve
//! multiplication, ~6,000 gas) in the on-chain verifier, so sharing them is cheaper to verify.
//! The range lane (which runs beside the main rows), the lookup tables, the constants column
//! and the arithmetic gate (whose coefficients are its selector) keep their own columns. Layout is absolute: the planner (`crate::layout`) decides the
//! rows, the chips only write cells where they are told.

pub mod arith;
pub mod dot;
pub mod mac;
pub mod poseidon;
pub mod range;
pub mod rescale;

use halo2_proofs::circuit::Value;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Fixed, Instance};

pub use crate::field::fe;
use crate::shape::CircuitShape;
pub use crate::shape::ELEMENT_COLUMNS;

/// Assigns `values` to `cols` at `row` (pairwise) and returns their cells.
pub fn assign_cells(
    region: &mut halo2_proofs::circuit::Region<Fr>,
    cols: &[Column<Advice>],
    row: usize,
    values: &[Value<Fr>],
) -> Vec<halo2_proofs::circuit::Cell> {
    cols.iter()
        .zip(values)
        .map(|(&c, v)| region.assign_advice(c, row, *v).cell())
        .collect()
}

/// A witness value: known when proving, unknown during key generation.
pub fn val(v: Option<i128>) -> Value<Fr> {
    match v {
        Some(x) => Value::known(fe(x)),
        None => Value::unknown(),
    }
}

/// Every column and gate of the circuit.
#[derive(Debug, Clone)]
pub struct ChipConfig {
    /// Shared advice pool.
    pub advice: Vec<Column<Advice>>,
    /// Public inputs then public outputs, in order over the columns
    /// ([`crate::visibility::instance_rows`]).
    pub instance: Vec<Column<Instance>>,
    /// Matrix-vector chip.
    pub mac: mac::MacConfig,
    /// Elementwise rescale / ReLU chip.
    pub rescale: rescale::RescaleConfig,
    /// Range-check lane.
    pub range: range::RangeConfig,
    /// General arithmetic rows (products, division, square root), if the model needs them.
    pub arith: Option<arith::ArithConfig>,
    /// Column of constants (padding values, constant operands), if the model has any.
    pub constant: Option<Column<Fixed>>,
    /// Dot products: with private weights, if the parameters are private or hashed, and of two
    /// computed tensors, if the shape packs them (`CircuitShape::dot_products`).
    pub dot: Option<dot::DotConfig>,
    /// Poseidon, if any group is hashed.
    pub poseidon: Option<poseidon::PoseidonConfig>,
}

impl ChipConfig {
    /// Creates the columns and gates for a shape.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: CircuitShape) -> Self {
        let advice: Vec<Column<Advice>> =
            (0..shape.width()).map(|_| meta.advice_column()).collect();
        for &c in &advice {
            meta.enable_equality(c);
        }
        let instance: Vec<Column<Instance>> = (0..shape.instance_columns.max(1))
            .map(|_| meta.instance_column())
            .collect();
        for &c in &instance {
            meta.enable_equality(c);
        }
        let fixed: Vec<Column<Fixed>> = (0..shape.fixed_pool())
            .map(|_| meta.fixed_column())
            .collect();
        let mac = mac::MacConfig::configure(
            meta,
            &advice,
            &fixed,
            (
                shape.inputs_per_row,
                shape.accs_per_row,
                shape.windows_per_row,
            ),
        );
        let vis = shape.visibility;
        let rescale = rescale::RescaleConfig::configure(
            meta,
            &advice,
            &fixed,
            vis.params_in_advice(),
            shape.rescale_slots(),
            shape.clamps,
        );
        let range = range::RangeConfig::configure(
            meta,
            shape.limb_bits,
            shape.max_limbs,
            shape.functions,
            shape.range_lanes,
        );
        let arith = shape
            .arith
            .then(|| arith::ArithConfig::configure(meta, &advice, &fixed));
        let constant = shape.constants.then(|| {
            let c = meta.fixed_column();
            meta.enable_constant(c);
            c
        });
        let dot = shape
            .has_dot()
            .then(|| dot::DotConfig::configure(meta, &advice, &fixed, shape.dot_inputs()));
        let poseidon = vis
            .any_hashed()
            .then(|| poseidon::PoseidonConfig::configure(meta, &advice, &fixed));
        Self {
            dot,
            poseidon,
            advice,
            instance,
            mac,
            rescale,
            range,
            arith,
            constant,
        }
    }
}

#[cfg(test)]
mod clamp_tests;
#[cfg(test)]
mod function_tests;
#[cfg(test)]
mod poseidon_tests;
#[cfg(test)]
mod slot_tests;
#[cfg(test)]
mod test_circuit;
#[cfg(test)]
mod tests;
