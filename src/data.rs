//! Input, calibration and reference-output files, in the forms EZKL's users have.
//!
//! An input file is `{"input_data": [...], ...}`: other fields (`input_shapes`,
//! `output_data`, `input_scales`, …) are ignored. `input_data` holds one flat list per model
//! input, in the order the model declares them (nested lists are flattened, booleans read as
//! 0/1), or a single flat list of numbers for a one-input model. A calibration file holds
//! several samples: one list per sample, or (EZKL's layout) each input's samples
//! concatenated in its list. `{"inputs": [[...], ...], "labels": [...]}` is an evaluation set.
//! Anything else is an error naming the file and what was expected.

use std::path::Path;

use serde_json::Value;

use crate::{Error, Result};

fn data_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Data {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Largest file this module reads (a JSON file of numbers; 1 GiB).
const MAX_FILE: u64 = 1 << 30;
/// Deepest list nesting accepted inside `input_data`.
const MAX_DEPTH: usize = 32;

fn read(path: &Path) -> Result<Value> {
    let meta = std::fs::metadata(path).map_err(|e| data_err(path, format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE {
        return Err(data_err(
            path,
            format!("{} bytes: larger than {MAX_FILE}", meta.len()),
        ));
    }
    let s =
        std::fs::read_to_string(path).map_err(|e| data_err(path, format!("cannot read: {e}")))?;
    serde_json::from_str(&s).map_err(|e| data_err(path, format!("not valid JSON: {e}")))
}

/// Flattens numbers, booleans and nested lists into `out`.
fn flatten(v: &Value, out: &mut Vec<f32>, depth: usize) -> std::result::Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("lists nested deeper than {MAX_DEPTH}"));
    }
    match v {
        Value::Number(n) => {
            let x = n
                .as_f64()
                .ok_or_else(|| format!("{n} is not a number zkonnx can read"))?;
            out.push(x as f32);
        }
        Value::Bool(b) => out.push(f32::from(u8::from(*b))),
        Value::Array(items) => {
            for it in items {
                flatten(it, out, depth + 1)?;
            }
        }
        Value::Null => return Err("a null value (missing data?)".into()),
        Value::String(s) => return Err(format!("a string (\"{s}\") where a number was expected")),
        Value::Object(_) => {
            return Err(
                "an object where numbers were expected (on-chain data sources are not \
                        supported: give the values)"
                    .into(),
            )
        }
    }
    Ok(())
}

/// The lists of a data field: one flat list per entry of a top-level list of lists, or one
/// list when the field is a flat list of numbers.
fn lists(path: &Path, field: &str, v: &Value) -> Result<Vec<Vec<f32>>> {
    let items = v.as_array().ok_or_else(|| {
        data_err(
            path,
            format!("\"{field}\" must be a list (of lists of numbers)"),
        )
    })?;
    let flat_numbers = items.iter().all(|x| !x.is_array());
    let mut out = Vec::new();
    if flat_numbers {
        let mut one = Vec::with_capacity(items.len());
        flatten(v, &mut one, 0).map_err(|e| data_err(path, format!("\"{field}\": {e}")))?;
        out.push(one);
    } else {
        for (i, it) in items.iter().enumerate() {
            let mut one = Vec::new();
            flatten(it, &mut one, 0)
                .map_err(|e| data_err(path, format!("\"{field}\"[{i}]: {e}")))?;
            out.push(one);
        }
    }
    Ok(out)
}

fn field<'a>(path: &Path, v: &'a Value, name: &str) -> Result<&'a Value> {
    let obj = v
        .as_object()
        .ok_or_else(|| data_err(path, format!("expected a JSON object with \"{name}\"")))?;
    obj.get(name).ok_or_else(|| {
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        data_err(
            path,
            format!(
                "expected {{\"{name}\": [[numbers...], ...]}}; the file has {}",
                if keys.is_empty() {
                    "no fields".to_string()
                } else {
                    format!("fields {}", keys.join(", "))
                }
            ),
        )
    })
}

/// Reads one model input, every model input's values flattened and concatenated in order
/// (the form [`crate::Prover::prove`] takes). The length is checked against the model later;
/// [`read_input_for`] checks it here against the model's inputs.
pub fn read_input(path: &Path) -> Result<Vec<f32>> {
    let v = read(path)?;
    Ok(lists(path, "input_data", field(path, &v, "input_data")?)?
        .into_iter()
        .flatten()
        .collect())
}

/// The lengths of an input file's lists (flattened), as [`read_input`] reads them.
pub fn input_list_lengths(path: &Path) -> Result<Vec<usize>> {
    let v = read(path)?;
    Ok(lists(path, "input_data", field(path, &v, "input_data")?)?
        .iter()
        .map(Vec::len)
        .collect())
}

/// As [`read_input`], checking the file's lists against the model's inputs (`(name, len)` in
/// order).
pub fn read_input_for(path: &Path, inputs: &[(String, usize)]) -> Result<Vec<f32>> {
    let mut s = read_samples_for(path, inputs)?;
    if s.len() != 1 {
        return Err(data_err(
            path,
            format!("holds {} samples; one input was expected", s.len()),
        ));
    }
    Ok(s.swap_remove(0))
}

/// Reads calibration samples without knowing the model: one list per sample (or an
/// evaluation file's `inputs`).
pub fn read_samples(path: &Path) -> Result<Vec<Vec<f32>>> {
    Ok(read_labelled(path)?.0)
}

/// Reads calibration samples for a model with these inputs (`(name, len)` in order), each
/// sample every input's values concatenated. Accepted layouts of `input_data`: one list per
/// input (one sample); each input's list holding several samples back to back (EZKL's
/// calibration files); for a one-input model, one list per sample.
pub fn read_samples_for(path: &Path, inputs: &[(String, usize)]) -> Result<Vec<Vec<f32>>> {
    let v = read(path)?;
    let ls = if v.get("input_data").is_some() {
        lists(path, "input_data", field(path, &v, "input_data")?)?
    } else {
        return read_labelled(path).map(|x| x.0);
    };
    split_samples(&ls, inputs).map_err(|e| data_err(path, e))
}

/// Splits the lists of a data file into samples for inputs of these lengths.
pub fn split_samples(
    ls: &[Vec<f32>],
    inputs: &[(String, usize)],
) -> std::result::Result<Vec<Vec<f32>>, String> {
    let want: Vec<usize> = inputs.iter().map(|i| i.1).collect();
    let describe = || {
        inputs
            .iter()
            .map(|(n, l)| format!("'{n}' ({l} values)"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if want.contains(&0) || want.is_empty() {
        return Err("the model has an empty input".into());
    }
    let got: Vec<usize> = ls.iter().map(Vec::len).collect();
    // One list per input, each holding k samples back to back.
    if ls.len() == want.len() {
        let k = got[0] / want[0];
        if k >= 1 && got.iter().zip(&want).all(|(g, w)| *g == k * w) {
            return Ok((0..k)
                .map(|s| {
                    ls.iter()
                        .zip(&want)
                        .flat_map(|(l, &w)| l[s * w..(s + 1) * w].iter().copied())
                        .collect()
                })
                .collect());
        }
    }
    // One list per sample, every input concatenated.
    let total: usize = want.iter().sum();
    if !ls.is_empty() && got.iter().all(|&g| g == total) {
        return Ok(ls.to_vec());
    }
    // A one-input model's values in several lists (a nested tensor: its rows).
    if want.len() == 1 && ls.len() > 1 && got.iter().sum::<usize>() == total {
        return Ok(vec![ls.concat()]);
    }
    Err(format!(
        "input_data holds {} list(s) of {} values; the model's inputs are {} (give one list \
         per input, in this order)",
        ls.len(),
        got.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        describe()
    ))
}

/// Reads samples and their labels (empty when the file has none).
pub fn read_labelled(path: &Path) -> Result<(Vec<Vec<f32>>, Vec<usize>)> {
    let v = read(path)?;
    if let Some(d) = v.get("input_data") {
        return Ok((lists(path, "input_data", d)?, vec![]));
    }
    let inputs = lists(path, "inputs", field(path, &v, "inputs")?)?;
    let labels: Vec<usize> = match v.get("labels") {
        None => vec![],
        Some(l) => serde_json::from_value(l.clone())
            .map_err(|e| data_err(path, format!("\"labels\" must be class indices: {e}")))?,
    };
    if !labels.is_empty() && labels.len() != inputs.len() {
        return Err(data_err(
            path,
            format!("{} inputs but {} labels", inputs.len(), labels.len()),
        ));
    }
    Ok((inputs, labels))
}

/// Reads a float reference output file `{"output_data": [[...], ...]}`: every output's values
/// flattened and concatenated in order.
pub fn read_output(path: &Path) -> Result<Vec<f32>> {
    let v = read(path)?;
    Ok(lists(path, "output_data", field(path, &v, "output_data")?)?
        .into_iter()
        .flatten()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(lens: &[usize]) -> Vec<(String, usize)> {
        lens.iter()
            .enumerate()
            .map(|(i, &l)| (format!("x{i}"), l))
            .collect()
    }

    #[test]
    fn one_list_per_input_is_one_sample() {
        let s = split_samples(&[vec![1.0, 2.0], vec![3.0]], &ins(&[2, 1])).expect("split");
        assert_eq!(s, vec![vec![1.0, 2.0, 3.0]]);
    }

    #[test]
    fn concatenated_samples_split_per_input() {
        let s = split_samples(&[vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0]], &ins(&[2, 1]))
            .expect("split");
        assert_eq!(s, vec![vec![1.0, 2.0, 5.0], vec![3.0, 4.0, 6.0]]);
    }

    #[test]
    fn one_list_per_sample_for_one_input() {
        let s = split_samples(&[vec![1.0, 2.0], vec![3.0, 4.0]], &ins(&[2])).expect("split");
        assert_eq!(s, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
    }

    #[test]
    fn wrong_lengths_name_the_inputs() {
        let e = split_samples(&[vec![1.0, 2.0, 3.0]], &ins(&[2, 2])).expect_err("mismatch");
        assert!(e.contains("'x0' (2 values)") && e.contains("'x1'"), "{e}");
    }

    #[test]
    fn extra_fields_booleans_and_nesting_are_read() {
        let p = std::env::temp_dir().join(format!("zkonnx-data-{}.json", std::process::id()));
        // Removed when the test ends, pass or fail.
        struct Remove<'a>(&'a std::path::Path);
        impl Drop for Remove<'_> {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(self.0);
            }
        }
        let _remove = Remove(&p);
        std::fs::write(
            &p,
            r#"{"input_data": [[[1, 2.5], [true, false]]], "input_shapes": [[2, 2]], "output_data": [[0]]}"#,
        )
        .expect("write");
        assert_eq!(read_input(&p).expect("read"), vec![1.0, 2.5, 1.0, 0.0]);
        std::fs::write(&p, r#"{"input_data": [1, 2, 3]}"#).expect("write");
        assert_eq!(read_input(&p).expect("flat"), vec![1.0, 2.0, 3.0]);
        for bad in [
            r#"{"input_data": [["a"]]}"#,
            r#"{"input_data": {"rpc": "x"}}"#,
            r#"{"inputs_data": [[1]]}"#,
            r#"[1, 2]"#,
        ] {
            std::fs::write(&p, bad).expect("write");
            assert!(read_input(&p).is_err(), "{bad} must be refused");
        }
    }
}
