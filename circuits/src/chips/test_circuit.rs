//! The circuit the chips' MockProver tests share: a case laid out in one region on the pooled
//! layout's chips, configured at the case's shape, with the range table (and the case's function
//! tables) loaded. A test file says what its case lays out ([`ChipCase::lay`]) and nothing else.

use halo2_proofs::circuit::{Layouter, Region, SimpleFloorPlanner};
use halo2_proofs::dev::MockProver;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use super::ChipConfig;
use crate::quant::Table;
use crate::shape::CircuitShape;

/// A chip test's case.
pub(super) trait ChipCase: Clone {
    /// The shape the chips are configured at (its `k` is the circuit's).
    const SHAPE: CircuitShape;

    /// The function tables the range lanes' table holds beside the range entries.
    fn tables() -> Vec<Table> {
        Vec::new()
    }

    /// Lays the case out in the region.
    fn lay(&self, c: &ChipConfig, region: &mut Region<'_, Fr>) -> Result<(), Error>;
}

/// The circuit of one case.
#[derive(Clone, Debug)]
struct OnChips<C>(C);

impl<C: ChipCase> Circuit<Fr> for OnChips<C> {
    type Config = ChipConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitShape;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }
    fn params(&self) -> CircuitShape {
        C::SHAPE
    }
    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, p: CircuitShape) -> ChipConfig {
        ChipConfig::configure(meta, p)
    }
    fn configure(meta: &mut ConstraintSystem<Fr>) -> ChipConfig {
        ChipConfig::configure(meta, C::SHAPE)
    }

    fn synthesize(&self, c: ChipConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        // Every limb width up to the limb bits (the widths are a bit set).
        let widths = (1u64 << (c.range.limb_bits + 1)) - 1;
        c.range.load_table(&mut layouter, &C::tables(), widths)?;
        layouter.assign_region(|| "case", |mut region| self.0.lay(&c, &mut region))
    }
}

/// Whether MockProver accepts `case` (the circuit has no instances).
pub(super) fn satisfied<C: ChipCase>(case: C) -> bool {
    MockProver::run(C::SHAPE.k, &OnChips(case), vec![vec![]])
        .expect("synthesis")
        .verify()
        .is_ok()
}
