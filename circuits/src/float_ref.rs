//! The float reference: the original ONNX model run by tract, for fidelity figures.

use std::path::Path;

use tract_onnx::prelude::*;

use crate::error::{CircuitsError, Result};
use crate::ir::{ElemKind, IoSpec};

/// A loaded, optimised float model.
pub struct FloatReference {
    plan: std::sync::Arc<TypedRunnableModel>,
    inputs: Vec<IoSpec>,
}

impl std::fmt::Debug for FloatReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FloatReference")
            .field("inputs", &self.inputs)
            .finish()
    }
}

fn terr(e: impl std::fmt::Display) -> CircuitsError {
    CircuitsError::Tract(e.to_string())
}

impl FloatReference {
    /// Loads the model with a fixed input shape (a one-input model).
    pub fn load(path: &Path, input_shape: &[usize]) -> Result<Self> {
        Self::load_io(
            path,
            &[IoSpec {
                name: String::new(),
                shape: input_shape.to_vec(),
                kind: ElemKind::Float,
                dim_params: Vec::new(),
            }],
        )
    }

    /// Loads the model with every input's shape and element type fixed.
    pub fn load_io(path: &Path, inputs: &[IoSpec]) -> Result<Self> {
        let plan = tract_onnx::onnx()
            .model_for_path(path)
            .and_then(|mut m| {
                for (i, spec) in inputs.iter().enumerate() {
                    let fact = match spec.kind {
                        ElemKind::Float => f32::fact(&spec.shape),
                        ElemKind::Int => i64::fact(&spec.shape),
                        ElemKind::Bool => bool::fact(&spec.shape),
                    };
                    m = m.with_input_fact(i, fact.into())?;
                }
                Ok(m)
            })
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| CircuitsError::Tract(format!("{e:#}")))?;
        Ok(Self {
            plan,
            inputs: inputs.to_vec(),
        })
    }

    /// Runs the float model on one input (every input's values concatenated); returns every
    /// output flattened and concatenated, as numbers.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>> {
        let want: usize = self.inputs.iter().map(IoSpec::len).sum();
        if input.len() != want {
            return Err(CircuitsError::Tract(format!(
                "{} input values for inputs of {want}",
                input.len()
            )));
        }
        let mut at = 0;
        let mut args = TVec::new();
        for spec in &self.inputs {
            let part = &input[at..at + spec.len()];
            at += spec.len();
            let t = match spec.kind {
                ElemKind::Float => {
                    tract_ndarray::ArrayD::from_shape_vec(spec.shape.clone(), part.to_vec())
                        .map_err(terr)?
                        .into_tensor()
                }
                ElemKind::Int => tract_ndarray::ArrayD::from_shape_vec(
                    spec.shape.clone(),
                    part.iter().map(|&x| x as i64).collect(),
                )
                .map_err(terr)?
                .into_tensor(),
                ElemKind::Bool => tract_ndarray::ArrayD::from_shape_vec(
                    spec.shape.clone(),
                    part.iter().map(|&x| x != 0.0).collect(),
                )
                .map_err(terr)?
                .into_tensor(),
            };
            args.push(t.into());
        }
        let out = self
            .plan
            .run(args)
            .map_err(|e| CircuitsError::Tract(format!("{e:#}")))?;
        let mut all = Vec::new();
        for o in out.iter() {
            let f = o.cast_to::<f32>().map_err(terr)?;
            let v = f.to_plain_array_view::<f32>().map_err(terr)?;
            all.extend(v.iter().copied());
        }
        Ok(all)
    }
}
