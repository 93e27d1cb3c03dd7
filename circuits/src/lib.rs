//! zkonnx-circuits: ONNX import, the Graph IR, quantization, reference integer execution,
//! the layout planner and the halo2 circuit (DESIGN.md §1).
//!
//! Data flows one way: [`import::import_onnx`] → [`ir::Graph`] → [`quant::quantize_graph`]
//! → [`quant::QGraph`] → [`layout::plan`] → [`circuit::ModelCircuit`].
#![deny(missing_docs)]

pub mod chips;
pub mod circuit;
pub mod cost;
pub mod error;
pub mod field;
pub mod float_ref;
pub mod gadgets;
pub mod hash;
pub mod import;
pub mod ir;
pub mod layout;
pub mod lean;
pub mod quant;
pub mod shape;
pub mod split;
pub mod visibility;

pub use error::{CircuitsError, Result, UnsupportedNode};
pub use halo2_proofs;
