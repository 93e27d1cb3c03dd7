//! The float reference: the original ONNX model run by tract, for fidelity figures.

use std::path::Path;

use tract_onnx::prelude::*;

use crate::error::{CircuitsError, Result};

/// A loaded, optimised float model.
pub struct FloatReference {
    plan: std::sync::Arc<TypedRunnableModel>,
    shape: Vec<usize>,
}

impl std::fmt::Debug for FloatReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FloatReference")
            .field("shape", &self.shape)
            .finish()
    }
}

fn terr(e: impl std::fmt::Display) -> CircuitsError {
    CircuitsError::Tract(e.to_string())
}

impl FloatReference {
    /// Loads the model with a fixed input shape.
    pub fn load(path: &Path, input_shape: &[usize]) -> Result<Self> {
        let plan = tract_onnx::onnx()
            .model_for_path(path)
            .and_then(|m| m.with_input_fact(0, f32::fact(input_shape).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| CircuitsError::Tract(format!("{e:#}")))?;
        Ok(Self {
            plan,
            shape: input_shape.to_vec(),
        })
    }

    /// Runs the float model on one input; returns the first output, flattened.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>> {
        let t = tract_ndarray::ArrayD::from_shape_vec(self.shape.clone(), input.to_vec())
            .map_err(terr)?
            .into_tensor();
        let out = self
            .plan
            .run(tvec!(t.into()))
            .map_err(|e| CircuitsError::Tract(format!("{e:#}")))?;
        let v = out[0].to_plain_array_view::<f32>().map_err(terr)?;
        Ok(v.iter().copied().collect())
    }
}
