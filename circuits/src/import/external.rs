//! ONNX external data: initializers whose bytes live in files beside the model
//! (`data_location = EXTERNAL`, keys `location`, `offset`, `length`), which torch's exporter
//! writes for its weights. The bytes are read into each tensor's `raw_data` before anything is
//! lowered, so the importer sees one self-contained model.
//!
//! The references are untrusted: a location must be a relative path below the model's
//! directory (no `..`, no absolute path, no symbolic link leading out), the segment must lie
//! inside its file, and its length must be exactly what the tensor's shape and element type
//! need, all checked before a byte is allocated.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use tract_onnx::pb;

use crate::error::{CircuitsError, Result};

/// Largest tensor read from external data (bytes).
const MAX_EXTERNAL_BYTES: u64 = 1 << 32;

/// Bytes per element of an ONNX element type that external data may hold.
fn elem_bytes(data_type: i32) -> Option<u64> {
    Some(match data_type {
        2 | 3 | 9 => 1,
        4 | 5 | 10 | 16 => 2,
        1 | 6 | 12 => 4,
        7 | 11 | 13 => 8,
        _ => return None,
    })
}

fn bad(name: &str, reason: String) -> CircuitsError {
    CircuitsError::InvalidModel(format!("initializer '{name}': external data: {reason}"))
}

/// Reads every external initializer of `graph` (and of the graphs nested in its nodes) from
/// files under `dir`. Returns the files read, in the order first met (for the model's hash).
pub(crate) fn inline_external(graph: &mut pb::GraphProto, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    inline_graph(graph, dir, &mut files)?;
    Ok(files)
}

fn inline_graph(graph: &mut pb::GraphProto, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for t in &mut graph.initializer {
        inline_tensor(t, dir, files)?;
    }
    for node in &mut graph.node {
        for a in &mut node.attribute {
            for t in a.t.iter_mut().chain(a.tensors.iter_mut()) {
                inline_tensor(t, dir, files)?;
            }
            for g in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                inline_graph(g, dir, files)?;
            }
        }
    }
    Ok(())
}

/// The file a location names, checked to lie below `dir`.
fn resolve(name: &str, dir: &Path, location: &str) -> Result<PathBuf> {
    let rel = Path::new(location);
    if location.is_empty()
        || !rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad(
            name,
            format!("location '{location}' is not a relative path below the model's directory"),
        ));
    }
    let io = |e: std::io::Error| bad(name, format!("'{location}': {e}"));
    let root = dir.canonicalize().map_err(io)?;
    let file = root.join(rel).canonicalize().map_err(io)?;
    if !file.starts_with(&root) {
        return Err(bad(
            name,
            format!("'{location}' leads out of the model's directory"),
        ));
    }
    Ok(file)
}

fn inline_tensor(t: &mut pb::TensorProto, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    if t.data_location != Some(pb::tensor_proto::DataLocation::External as i32) {
        return Ok(());
    }
    let name = t.name.clone();
    let key = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == k)
            .map(|e| e.value.clone())
    };
    let location = key("location").ok_or_else(|| bad(&name, "no location".into()))?;
    let number = |k: &str| -> Result<Option<u64>> {
        key(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| bad(&name, format!("{k} '{v}' is not a byte count")))
            })
            .transpose()
    };
    let (offset, length) = (number("offset")?.unwrap_or(0), number("length")?);
    let size = elem_bytes(t.data_type).ok_or_else(|| {
        bad(
            &name,
            format!("element type {} is not supported", t.data_type),
        )
    })?;
    let need = t
        .dims
        .iter()
        .try_fold(size, |acc, &d| {
            u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
        .filter(|&n| n <= MAX_EXTERNAL_BYTES)
        .ok_or_else(|| {
            bad(
                &name,
                format!("dims {:?} are negative or too large", t.dims),
            )
        })?;
    let file = resolve(&name, dir, &location)?;
    let io = |e: std::io::Error| bad(&name, format!("'{location}': {e}"));
    let mut f = std::fs::File::open(&file).map_err(io)?;
    let file_len = f.metadata().map_err(io)?.len();
    let length = length.unwrap_or(file_len.saturating_sub(offset));
    if length != need {
        return Err(bad(
            &name,
            format!(
                "{length} bytes for dims {:?} of element type {} ({need} expected)",
                t.dims, t.data_type
            ),
        ));
    }
    if offset.checked_add(length).is_none_or(|end| end > file_len) {
        return Err(bad(
            &name,
            format!("bytes {offset}..{offset}+{length} are past the end of '{location}' ({file_len} bytes)"),
        ));
    }
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut raw = vec![0u8; length as usize];
    f.read_exact(&mut raw).map_err(io)?;
    t.raw_data = raw;
    t.external_data.clear();
    t.data_location = None;
    if !files.contains(&file) {
        files.push(file);
    }
    Ok(())
}
