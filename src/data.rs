//! Input and calibration files (EZKL's `{"input_data": [[...]]}` format).

use std::path::Path;

use serde::Deserialize;

use crate::{Error, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    input_data: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct EvalFile {
    inputs: Vec<Vec<f32>>,
    #[serde(default)]
    labels: Vec<usize>,
}

fn data_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Data {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| data_err(path, format!("cannot read: {e}")))
}

/// Reads one model input: `{"input_data": [[flat floats]]}`.
pub fn read_input(path: &Path) -> Result<Vec<f32>> {
    let f: InputFile = serde_json::from_str(&read(path)?).map_err(|e| {
        data_err(
            path,
            format!("expected {{\"input_data\": [[numbers...]]}}: {e}"),
        )
    })?;
    match <[Vec<f32>; 1]>::try_from(f.input_data) {
        Ok([x]) => Ok(x),
        Err(v) => Err(data_err(
            path,
            format!(
                "input_data holds {} tensors; this model has one input",
                v.len()
            ),
        )),
    }
}

/// Reads calibration samples: `{"input_data": [[sample 1], [sample 2], ...]}` or an evaluation
/// file `{"inputs": [[...], ...], "labels": [...]}`.
pub fn read_samples(path: &Path) -> Result<Vec<Vec<f32>>> {
    Ok(read_labelled(path)?.0)
}

/// Reads samples and their labels (empty when the file has none).
pub fn read_labelled(path: &Path) -> Result<(Vec<Vec<f32>>, Vec<usize>)> {
    let s = read(path)?;
    if let Ok(f) = serde_json::from_str::<InputFile>(&s) {
        return Ok((f.input_data, vec![]));
    }
    let f: EvalFile = serde_json::from_str(&s).map_err(|e| {
        data_err(
            path,
            format!(
                "expected {{\"input_data\": [[...], ...]}} or {{\"inputs\": [[...], ...]}}: {e}"
            ),
        )
    })?;
    if !f.labels.is_empty() && f.labels.len() != f.inputs.len() {
        return Err(data_err(
            path,
            format!("{} inputs but {} labels", f.inputs.len(), f.labels.len()),
        ));
    }
    Ok((f.inputs, f.labels))
}

/// Reads a float reference output file `{"output_data": [[...]]}`.
pub fn read_output(path: &Path) -> Result<Vec<f32>> {
    #[derive(Deserialize)]
    struct Out {
        output_data: Vec<Vec<f32>>,
    }
    let f: Out = serde_json::from_str(&read(path)?)
        .map_err(|e| data_err(path, format!("expected {{\"output_data\": [[...]]}}: {e}")))?;
    Ok(f.output_data.into_iter().flatten().collect())
}
