//! Who sees what: visibility of the input, the parameters and the output (DESIGN.md §5), and
//! the order of the public instances that follows from it.
//!
//! - `public`: the values are public instances.
//! - `private`: the values are advice cells only the prover knows (range-checked, so they are
//!   integers of the width the circuit was compiled for).
//! - `fixed` (parameters only): the values are baked into the verifying key.
//! - `hashed`: the values are private and their Poseidon hash ([`crate::hash`]) is a public
//!   instance.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{CircuitsError, Result};

/// Visibility of one group of values.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Vis {
    /// Public instances.
    Public,
    /// Private advice.
    Private,
    /// In the verifying key (parameters only).
    Fixed,
    /// Private, with a public Poseidon hash.
    Hashed,
}

impl fmt::Display for Vis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vis::Public => "public",
            Vis::Private => "private",
            Vis::Fixed => "fixed",
            Vis::Hashed => "hashed",
        })
    }
}

impl FromStr for Vis {
    type Err = CircuitsError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "public" => Ok(Vis::Public),
            "private" => Ok(Vis::Private),
            "fixed" => Ok(Vis::Fixed),
            "hashed" => Ok(Vis::Hashed),
            _ => Err(CircuitsError::Visibility(format!(
                "unknown visibility '{s}' (public, private, fixed or hashed)"
            ))),
        }
    }
}

/// Visibility of the three groups.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct Visibility {
    /// The model input.
    pub input: Vis,
    /// The weights, biases and multipliers.
    pub params: Vis,
    /// The model output.
    pub output: Vis,
}

impl Default for Visibility {
    /// Public input, weights in the verifying key, public output.
    fn default() -> Self {
        Self {
            input: Vis::Public,
            params: Vis::Fixed,
            output: Vis::Public,
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "input {}, params {}, output {}",
            self.input, self.params, self.output
        )
    }
}

impl Visibility {
    /// Checks that each group has a visibility it supports: `fixed` only for parameters,
    /// `public` not for parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |group: &str, v: Vis, allowed: &str| {
            Err(CircuitsError::Visibility(format!(
                "{group} visibility cannot be '{v}' (allowed: {allowed})"
            )))
        };
        if self.input == Vis::Fixed {
            return bad("input", self.input, "public, private, hashed");
        }
        if self.output == Vis::Fixed {
            return bad("output", self.output, "public, private, hashed");
        }
        if self.params == Vis::Public {
            return bad("param", self.params, "fixed, private, hashed");
        }
        Ok(())
    }

    /// Whether the parameters are advice (private or hashed).
    pub fn params_in_advice(&self) -> bool {
        self.params != Vis::Fixed
    }

    /// Whether any group is hashed.
    pub fn any_hashed(&self) -> bool {
        [self.input, self.params, self.output].contains(&Vis::Hashed)
    }
}

/// Rows of each instance column when `n` public values fill `columns` columns in order:
/// `⌈n / columns⌉`, the last column holding the rest. Value `j` sits at row `j mod rows` of
/// column `j div rows` (snark-verifier's order: the columns one after the other).
pub fn instance_rows(n: usize, columns: usize) -> usize {
    n.div_ceil(columns.max(1))
}

/// The public values `values` split into `columns` instance columns ([`instance_rows`]); a
/// column past the values is empty.
pub fn instance_columns<T>(values: &[T], columns: usize) -> Vec<&[T]> {
    let rows = instance_rows(values.len(), columns).max(1);
    let mut out: Vec<&[T]> = values.chunks(rows).collect();
    out.resize(columns.max(1), &[]);
    out
}

/// The lengths of [`instance_columns`]' columns.
pub fn instance_column_lengths(n: usize, columns: usize) -> Vec<usize> {
    let rows = instance_rows(n, columns).max(1);
    (0..columns.max(1))
        .map(|c| n.saturating_sub(c * rows).min(rows))
        .collect()
}

/// Positions of each group in the public instance column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceLayout {
    /// Public input values.
    pub inputs: Range<usize>,
    /// Hash of the input.
    pub input_hash: Option<usize>,
    /// Hash of the parameters (the model's provenance).
    pub param_hash: Option<usize>,
    /// Public output values.
    pub outputs: Range<usize>,
    /// Hash of the output.
    pub output_hash: Option<usize>,
    /// Number of instances.
    pub len: usize,
}

impl InstanceLayout {
    /// The order: input values or input hash, parameter hash, output values or output hash.
    pub fn new(vis: Visibility, num_inputs: usize, num_outputs: usize) -> Self {
        let mut at = 0;
        let mut take = |n: usize| {
            let r = at..at + n;
            at += n;
            r
        };
        let n_in = if vis.input == Vis::Public {
            num_inputs
        } else {
            0
        };
        let inputs = take(n_in);
        let input_hash = (vis.input == Vis::Hashed).then(|| take(1).start);
        let param_hash = (vis.params == Vis::Hashed).then(|| take(1).start);
        let n_out = if vis.output == Vis::Public {
            num_outputs
        } else {
            0
        };
        let outputs = take(n_out);
        let output_hash = (vis.output == Vis::Hashed).then(|| take(1).start);
        Self {
            inputs,
            input_hash,
            param_hash,
            outputs,
            output_hash,
            len: at,
        }
    }
}
