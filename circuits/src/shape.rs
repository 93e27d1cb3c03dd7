//! The circuit's shape: the column counts and sizes the constraint system depends on.
//!
//! Both the chips (which configure columns from it) and the planner (which chooses it) read
//! this module, so it depends on neither.

use serde::{Deserialize, Serialize};

use crate::quant::QGraph;
use crate::visibility::{Vis, Visibility};

/// Most range lanes a shape may have (the planner tries [`crate::layout::RANGE_LANES`]).
pub const MAX_RANGE_LANES: usize = 16;

/// Most windows per multiply-add row a shape may have ([`CircuitShape::windows_per_row`]).
pub const MAX_WINDOWS_PER_ROW: usize = 8;

/// The constraint degree of the pooled layout: its lookups make it 4, so the quotient lives on
/// `4·2^k` rows; 5 keeps that domain and lets a permutation product cover three columns.
pub const POOLED_DEGREE: usize = 5;

/// The constraint degree of the lean layout (its kind selectors are degree 2 in one fixed
/// column, `crate::lean`).
pub const LEAN_DEGREE: usize = 4;

/// Advice columns of an elementwise row (rescale, arithmetic).
pub const ELEMENT_COLUMNS: usize = 5;

/// Column counts and sizes that the constraint system depends on (halo2 `Circuit::Params`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CircuitShape {
    /// Inputs `T` per matrix-vector row.
    pub inputs_per_row: usize,
    /// Accumulators `A` per matrix-vector row.
    pub accs_per_row: usize,
    /// Windows `P` per matrix-vector row: groups of a linear map with the same weights (a
    /// convolution's output positions) side by side, each its own `T` inputs and `A`
    /// accumulators, all reading the row's `A·T` weight columns. A convolution's weights repeat
    /// at every position, so `P` windows per row hold its products in `P` times fewer fixed
    /// columns at the same advice width and rows: halo2-axiom brings every fixed column to the
    /// extended domain on every proof.
    #[serde(default = "one")]
    pub windows_per_row: usize,
    /// Bits per range-check limb (the table holds `[0, 2^t)` for every `t ≤ limb_bits`).
    pub limb_bits: u32,
    /// Most limbs any range-checked value needs.
    pub max_limbs: usize,
    /// Range-check lanes side by side (each its own two advice columns and lookup; the
    /// checks go to the least-filled lane), so range checks need not set `k` alone.
    #[serde(default = "one")]
    pub range_lanes: usize,
    /// log2 of the number of rows.
    pub k: u32,
    /// Whether the general arithmetic gate exists (products, division, square root).
    #[serde(default)]
    pub arith: bool,
    /// Whether the model has function tables: the table's output column and each range lane's
    /// function flag exist ([`crate::chips::range`]).
    #[serde(default)]
    pub functions: bool,
    /// Whether a column of constants exists.
    #[serde(default)]
    pub constants: bool,
    /// Whether the dot-product chip ([`crate::chips::dot`]) packs sums of products of two
    /// computed tensors, [`CircuitShape::dot_inputs`] products per row
    /// ([`crate::gadgets::bilinear`]); with parameters in advice the chip exists anyway.
    #[serde(default)]
    pub dot_products: bool,
    /// Whether the rescale chip has the clamp relation ([`crate::chips::rescale`]): some
    /// rescale clamps its output (a ReLU6, a clip).
    #[serde(default)]
    pub clamps: bool,
    /// Visibility of the input, the parameters and the output.
    #[serde(default)]
    pub visibility: Visibility,
    /// The lean layout ([`crate::lean`]) with `inputs_per_row` inputs per multiply-add row;
    /// `None` for the pooled layout.
    #[serde(default)]
    pub lean: Option<LeanShape>,
    /// Instance columns side by side: the public values fill them in order, each
    /// [`crate::visibility::instance_rows`] long but the last, so that a model's many public
    /// values (a public image) need not set `k` alone. Always 1 on the lean layout.
    #[serde(default = "one")]
    pub instance_columns: usize,
}

/// Parameters of the lean layout.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeanShape {
    /// Bits of every range check and shift of every rescale (`W`).
    pub width: u32,
}

fn one() -> usize {
    1
}

impl Default for CircuitShape {
    fn default() -> Self {
        Self {
            inputs_per_row: 4,
            accs_per_row: 4,
            windows_per_row: 1,
            limb_bits: 8,
            max_limbs: 1,
            range_lanes: 1,
            k: 10,
            arith: false,
            functions: false,
            constants: false,
            dot_products: false,
            clamps: false,
            visibility: Visibility {
                input: Vis::Public,
                params: Vis::Fixed,
                output: Vis::Public,
            },
            lean: None,
            instance_columns: 1,
        }
    }
}

impl CircuitShape {
    /// Whether a lean layout carries the Poseidon chip (a group is hashed).
    pub fn lean_hashing(&self) -> bool {
        self.lean.is_some() && self.visibility.any_hashed()
    }

    /// Widths `(input, output)` that hashed inputs and outputs are packed with: the calibrated
    /// widths in the pooled layout, `W + 1` in the lean one (what its bit rows prove).
    pub fn hash_widths(&self, q: &QGraph) -> (u32, u32) {
        match self.lean {
            Some(l) => (l.width + 1, l.width + 1),
            None => (q.input_bits, q.output_bits()),
        }
    }

    /// The layout in words: `packing AxT, L-bit limbs` (`packing AxT, P windows per row, …`
    /// with `P > 1`), or `lean, T input(s) per row, W-bit checks`.
    pub fn describe(&self) -> String {
        if let Some(l) = self.lean {
            return format!(
                "lean, {} input(s) per row, {}-bit checks",
                self.inputs_per_row, l.width
            );
        }
        let mut s = format!("packing {}x{}", self.accs_per_row, self.inputs_per_row);
        if self.windows_per_row > 1 {
            s += &format!(", {} windows per row", self.windows_per_row);
        }
        s += &format!(", {}-bit limbs", self.limb_bits);
        if self.range_lanes > 1 {
            s += &format!(", {} range lanes", self.range_lanes);
        }
        if self.instance_columns > 1 {
            s += &format!(", {} instance columns", self.instance_columns);
        }
        s
    }

    /// Width of the shared advice pool (Poseidon needs six columns, private parameters seven).
    pub fn width(&self) -> usize {
        let mut w = ((self.inputs_per_row + self.accs_per_row) * self.windows_per_row.max(1))
            .max(ELEMENT_COLUMNS);
        if self.visibility.any_hashed() {
            w = w.max(6);
        }
        if self.visibility.params_in_advice() {
            w = w.max(7);
        }
        w
    }

    /// Rescaled elements per main row ([`crate::chips::rescale`]): as many five-column slots as
    /// the advice pool holds, each with its multiplier and addend in two more columns of the
    /// fixed pool (beside the shared `2^shift`); one with private parameters, whose multiplier
    /// and addend take advice columns 5 and 6.
    pub fn rescale_slots(&self) -> usize {
        if self.visibility.params_in_advice() {
            return 1;
        }
        (self.width() / ELEMENT_COLUMNS)
            .min((self.fixed_pool() - 1) / 2)
            .max(1)
    }

    /// Whether the dot-product chip exists: for private parameters or for products of two
    /// computed tensors ([`CircuitShape::dot_products`]).
    pub fn has_dot(&self) -> bool {
        self.visibility.params_in_advice() || self.dot_products
    }

    /// Products per row of the dot-product chip.
    pub fn dot_inputs(&self) -> usize {
        (self.width() - 1) / 2
    }

    /// Lookup arguments (one per range lane, which also serves function rows; none when lean).
    pub fn lookups(&self) -> usize {
        if self.lean.is_some() {
            return 0;
        }
        self.range_lanes
    }

    /// Rows at the end of the domain that halo2 reserves (blinding factors and the last row),
    /// plus a small safety margin.
    pub fn reserved_rows(&self) -> usize {
        self.max_limbs.max(3) + 8
    }

    /// Rows usable by the layout.
    pub fn usable_rows(&self) -> usize {
        (1usize << self.k).saturating_sub(self.reserved_rows())
    }

    /// Advice columns committed in the first phase.
    pub fn advice_columns(&self) -> usize {
        if self.lean.is_some() {
            return (self.inputs_per_row + 1).max(3) + 3 * usize::from(self.lean_hashing());
        }
        self.width() + 2 * self.range_lanes
    }

    /// Columns with copy constraints (the permutation argument), the instance columns included.
    pub fn equality_columns(&self) -> usize {
        if self.lean.is_some() {
            return self.inputs_per_row + 1 + 3 * usize::from(self.lean_hashing());
        }
        // The pool, each range lane's value column (and its limb column when function rows
        // copy their inputs there), the instance and constants columns.
        self.width()
            + self.range_lanes * (1 + usize::from(self.functions))
            + self.instance_columns
            + usize::from(self.constants)
    }

    /// Fixed columns shared by the gadgets of main rows: the most any of them needs
    /// (matrix-vector weights and chain mask; rescale multiplier, addend and `2^shift`;
    /// arithmetic coefficients; Poseidon round constants and absorb flags).
    pub fn fixed_pool(&self) -> usize {
        let mut n = (self.inputs_per_row * self.accs_per_row + 1).max(3);
        if self.visibility.any_hashed() || self.arith {
            n = n.max(6);
        }
        n
    }

    /// Fixed columns (the shared pool, range lane, table, selectors before compression).
    pub fn fixed_columns(&self) -> usize {
        if self.lean.is_some() {
            // Weights and the three kind columns; Poseidon's constants, flags and selectors.
            return self.inputs_per_row + 3 + 8 * usize::from(self.lean_hashing());
        }
        // pool, range lanes (tag, offset, two selectors before compression, each), table (2),
        // the other selectors (2, before compression); with function tables, each lane's
        // function flag and the table's output column.
        self.fixed_pool()
            + 4 * self.range_lanes
            + 2
            + 2
            + usize::from(self.arith)
            + (self.range_lanes + 1) * usize::from(self.functions)
            + usize::from(self.constants)
            + 3 * usize::from(self.visibility.any_hashed())
            + usize::from(self.has_dot())
    }
}

/// Number of limbs for a `bits`-bit range check with `limb` bits per limb.
pub fn limbs(bits: u32, limb: u32) -> usize {
    (bits.div_ceil(limb) as usize).max(1)
}
