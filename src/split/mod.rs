//! Split proving: a model as a chain of segment circuits linked by boundary hashes
//! (DESIGN.md §8).
//!
//! [`CompiledModel::split`] cuts the quantized model at node boundaries
//! ([`zkonnx_circuits::split`]) and plans every segment as a circuit of its own: the first
//! takes the model's input with the user's visibility, the last gives the model's output with
//! the user's visibility, and every boundary between them is private on both sides and bound
//! by its Poseidon hash (hashed output of one segment, hashed input of the next). Each segment
//! has its own keys; a versioned [`Manifest`] lists the segments with the digests of their
//! settings and verifying keys, so a verifier that pins the manifest pins every circuit.
//! [`verify_chain`] checks every proof and that each boundary hash one segment outputs is the
//! one the next segment took.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use zkonnx_circuits::chips::poseidon::hash_group_rows;
use zkonnx_circuits::chips::range::RangeConfig;
use zkonnx_circuits::layout::LayoutPlan;
use zkonnx_circuits::quant::QGraph;
use zkonnx_circuits::quant::{quantize_input, run_quantized};
use zkonnx_circuits::split::{balanced_cuts, divide, divisible, split_graph, Cut, MAX_SEGMENTS};
use zkonnx_prover::artifacts::{read_json, write_json, ProofFile, Settings};
use zkonnx_prover::keys::VerifierKey;

use crate::{files, verify, CompiledModel, Error, Objective, Result, Vis, Visibility};

mod prove;
pub use prove::{
    auto_jobs, available_memory, jobs_for, prove_dir, prove_segment, prove_segment_with, setup_dir,
    Jobs, ProveSplitOptions, SplitProver,
};

/// Version of the manifest format.
pub const MANIFEST_VERSION: u32 = 1;
/// The manifest's file name inside a split directory.
pub const MANIFEST: &str = "manifest.json";

/// How to choose the number of segments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SplitBy {
    /// Exactly this many segments.
    Segments(usize),
    /// The fewest segments whose circuits all have at most `2^k` rows.
    MaxK(u32),
    /// The fewest segments whose estimated proving memory is each at most this many bytes.
    MaxMemory(u64),
}

/// One segment as the manifest records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SegmentEntry {
    /// Its directory, relative to the manifest.
    pub dir: String,
    /// The model's nodes it computes: `[start, end)`.
    pub nodes: [usize; 2],
    /// log2 of its circuit's rows.
    pub k: u32,
    /// Values it takes (the model input, or the boundary before it).
    pub num_inputs: usize,
    /// Values it gives (the boundary after it, or the model output).
    pub num_outputs: usize,
    /// Keccak-256 of its settings ([`Settings::digest`]), hex.
    pub settings_digest: String,
    /// Keccak-256 of its `vk.bin`, hex (set by setup).
    #[serde(default)]
    pub vk_digest: Option<String>,
    /// The planner's estimate of its proving memory, bytes.
    pub est_memory_bytes: u64,
}

/// The chain of segments of one model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// The model file (informational).
    pub model: String,
    /// Keccak-256 of the model file, hex.
    pub model_hash: String,
    /// Visibility of the model's input, parameters and output.
    pub visibility: Visibility,
    /// The segments, in order.
    pub segments: Vec<SegmentEntry>,
}

impl Manifest {
    /// Reads a manifest and checks its structure.
    pub fn read(path: &Path) -> Result<Self> {
        let m: Self = read_json(path)?;
        let bad = |reason: String| Error::Data {
            path: path.display().to_string(),
            reason,
        };
        if m.version != MANIFEST_VERSION {
            return Err(bad(format!(
                "manifest version {}, expected {MANIFEST_VERSION}",
                m.version
            )));
        }
        if m.segments.is_empty() || m.segments.len() > MAX_SEGMENTS {
            return Err(bad(format!(
                "{} segments (1 to {MAX_SEGMENTS})",
                m.segments.len()
            )));
        }
        for (i, s) in m.segments.iter().enumerate() {
            // A segment directory is a plain name beside the manifest, never a path elsewhere.
            let plain = !s.dir.is_empty()
                && s.dir
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !plain {
                return Err(bad(format!(
                    "segment {i}: directory '{}' is not a plain name",
                    s.dir
                )));
            }
        }
        Ok(m)
    }

    /// Writes it (atomically).
    pub fn write(&self, path: &Path) -> Result<()> {
        Ok(write_json(path, self)?)
    }
}

/// A model compiled as a chain of segments.
#[derive(Debug, Clone)]
pub struct SplitModel {
    /// The manifest.
    pub manifest: Manifest,
    /// The segments, in order.
    pub segments: Vec<CompiledModel>,
}

fn hex32(d: &[u8]) -> String {
    hex::encode(d)
}

/// Keccak-256 of a file's bytes, hex.
pub fn file_digest(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::Data {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(hex32(&Keccak256::digest(&bytes)))
}

/// Each node's proving cost under a plan: its main rows and its share of the range lanes.
fn node_costs(g: &QGraph, plan: &LayoutPlan) -> Vec<f64> {
    let lanes = plan.shape.range_lanes.max(1) as f64;
    (0..g.nodes.len())
        .map(|i| {
            plan.layers
                .get(i)
                .map_or(0.0, |l| l.rows as f64 + l.lookup_rows as f64 / lanes)
        })
        .collect()
}

/// The cuts of `g` into `segments` parts of the most even cost under `plan`.
fn cuts_for(g: &QGraph, plan: &LayoutPlan, segments: usize) -> Result<Vec<usize>> {
    let shape = plan.shape;
    let lanes = shape.range_lanes.max(1) as f64;
    let boundary = |c: &Cut| {
        let t = shape.inputs_per_row.max(1);
        // Each side of the cut range-checks and hashes the boundary (the DP charges the
        // segment on either side its own side).
        hash_group_rows(c.elems, c.bits, t) as f64
            + (c.elems * RangeConfig::rows(c.bits, shape.limb_bits)) as f64 / lanes
    };
    Ok(balanced_cuts(g, segments, &node_costs(g, plan), boundary)?)
}

/// Most parts one layer is divided into for a split.
pub const MAX_PARTS: usize = 16;

impl CompiledModel {
    /// The graph a split into `segments` cuts, and its cuts: the quantized model with every
    /// linear layer that costs more than half a segment's share divided into parallel parts
    /// ([`zkonnx_circuits::split::divide`]), cut into parts of the most even proving cost (the
    /// planner's rows per node, and the range checks and hashing each boundary adds).
    pub fn split_graph_for(&self, segments: usize) -> Result<(QGraph, Vec<usize>)> {
        let vis = self.settings.shape.visibility;
        let mut g = (*self.model).clone();
        if segments > 1 {
            let cost = node_costs(&g, &self.plan);
            let nodes = &self.model.nodes;
            let with_follower = |i: usize| {
                let next = if i + 1 < nodes.len() && nodes[i + 1].inputs == [i] {
                    cost[i + 1]
                } else {
                    0.0
                };
                cost[i] + next
            };
            let share = cost.iter().sum::<f64>() / segments as f64 / 2.0;
            for i in (1..g.nodes.len()).rev() {
                let c = with_follower(i);
                if share > 0.0 && c > share && divisible(&g, i) {
                    let parts = ((c / share).ceil() as usize).clamp(2, MAX_PARTS);
                    if let Some(d) = divide(&g, i, parts) {
                        g = d;
                    }
                }
            }
        }
        let plan = zkonnx_circuits::layout::plan(&g, vis, self.plan.objective);
        let cuts = cuts_for(&g, &plan, segments)?;
        Ok((g, cuts))
    }

    /// Splits the model into `segments` segments of even proving cost
    /// ([`CompiledModel::split_graph_for`]), each planned for `objective`.
    pub fn split(&self, segments: usize, objective: Objective) -> Result<SplitModel> {
        let (g, cuts) = self.split_graph_for(segments)?;
        self.split_at(&g, &cuts, objective)
    }

    /// Splits `g` (this model's quantized graph, or one [`CompiledModel::split_graph_for`]
    /// made from it) before each node of `cuts` (ascending) and plans every segment for
    /// `objective`.
    pub fn split_at(&self, g: &QGraph, cuts: &[usize], objective: Objective) -> Result<SplitModel> {
        let graphs = split_graph(g, cuts)?;
        let user = self.settings.shape.visibility;
        let count = graphs.len();
        let mut segments = Vec::with_capacity(count);
        let mut entries = Vec::with_capacity(count);
        for (i, g) in graphs.into_iter().enumerate() {
            let vis = Visibility {
                input: if i == 0 { user.input } else { Vis::Hashed },
                params: user.params,
                output: if i + 1 == count {
                    user.output
                } else {
                    Vis::Hashed
                },
            };
            let (start, end) = g.segment.map_or((0, 0), |s| (s.start, s.end));
            let plan = zkonnx_circuits::layout::plan(&g, vis, objective);
            let settings = crate::settings_for(
                &self.settings.model,
                &self.settings.model_hash,
                &g,
                &plan,
                self.settings.param_scale,
            );
            entries.push(SegmentEntry {
                dir: format!("segment-{i}"),
                nodes: [start, end],
                k: plan.shape.k,
                num_inputs: settings.num_inputs,
                num_outputs: settings.num_outputs,
                settings_digest: hex32(&settings.digest()),
                vk_digest: None,
                est_memory_bytes: zkonnx_prover::roofline::memory_bytes(plan.shape),
            });
            segments.push(CompiledModel {
                model: Arc::new(g),
                plan: Arc::new(plan),
                settings,
                calibration: self.calibration.clone(),
            });
        }
        for w in segments.windows(2) {
            let (a, b) = (&w[0].settings, &w[1].settings);
            if a.hash_bits.output != b.hash_bits.input || a.num_outputs != b.num_inputs {
                return Err(Error::Mismatch(
                    "a boundary's two sides do not hash the same values at the same width".into(),
                ));
            }
        }
        Ok(SplitModel {
            manifest: Manifest {
                version: MANIFEST_VERSION,
                model: self.settings.model.clone(),
                model_hash: self.settings.model_hash.clone(),
                visibility: user,
                segments: entries,
            },
            segments,
        })
    }

    /// Splits as `how` says: a number of segments, or the fewest segments that each fit a
    /// row or memory budget.
    pub fn split_by(&self, how: SplitBy, objective: Objective) -> Result<SplitModel> {
        let fits = |s: &SplitModel| match how {
            SplitBy::Segments(_) => true,
            SplitBy::MaxK(k) => s.manifest.segments.iter().all(|e| e.k <= k),
            SplitBy::MaxMemory(b) => s.manifest.segments.iter().all(|e| e.est_memory_bytes <= b),
        };
        if let SplitBy::Segments(n) = how {
            return self.split(n, objective);
        }
        let mut last = None;
        for n in 1..=MAX_SEGMENTS {
            let (g, cuts) = match self.split_graph_for(n) {
                Ok(c) => c,
                Err(_) => break,
            };
            // A split that cannot be made (a boundary too wide) is skipped, not fatal.
            let Ok(s) = self.split_at(&g, &cuts, objective) else {
                continue;
            };
            if fits(&s) {
                return Ok(s);
            }
            last = Some(s);
        }
        let worst = last.map_or_else(String::new, |s| {
            let e = s
                .manifest
                .segments
                .iter()
                .max_by_key(|e| e.est_memory_bytes);
            e.map_or_else(String::new, |e| {
                format!(
                    " (with {} segments the largest has k = {}, ~{} MB)",
                    s.manifest.segments.len(),
                    e.k,
                    e.est_memory_bytes >> 20
                )
            })
        });
        Err(Error::Mismatch(format!(
            "no split of this model fits {how:?}{worst}"
        )))
    }
}

impl SplitModel {
    /// Writes the manifest and every segment's `settings.json` and `compiled.json` into
    /// `DIR/segment-i`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        for (e, c) in self.manifest.segments.iter().zip(&self.segments) {
            c.save(&dir.join(&e.dir))?;
        }
        self.manifest.write(&dir.join(MANIFEST))
    }

    /// Reads what [`SplitModel::save`] wrote and checks that every segment is the one the
    /// manifest names.
    pub fn load(dir: &Path) -> Result<Self> {
        let manifest = Manifest::read(&dir.join(MANIFEST))?;
        let count = manifest.segments.len();
        let mut segments = Vec::with_capacity(count);
        for (i, e) in manifest.segments.iter().enumerate() {
            let c = CompiledModel::load(&dir.join(&e.dir))?;
            let at = c.model.segment;
            let placed = at.is_some_and(|s| s.index == i && s.count == count);
            if !placed || hex32(&c.settings.digest()) != e.settings_digest {
                return Err(Error::Mismatch(format!(
                    "{}: segment {i} is not the one the manifest names",
                    dir.join(&e.dir).display()
                )));
            }
            segments.push(c);
        }
        Ok(Self { manifest, segments })
    }

    /// The integer input of every segment for one float input of the model: the model's
    /// quantized input, then each segment's output (the integer executor runs every node of
    /// the model once).
    pub fn segment_inputs(&self, input: &[f32]) -> Result<Vec<Vec<i64>>> {
        let first = self
            .segments
            .first()
            .ok_or_else(|| Error::Mismatch("a split with no segments".into()))?;
        let mut x = quantize_input(&first.model, input)?;
        let mut out = Vec::with_capacity(self.segments.len());
        for c in &self.segments {
            let t = run_quantized(&c.model, &x)?;
            let next = t.output(&c.model).to_vec();
            out.push(std::mem::replace(&mut x, next));
        }
        Ok(out)
    }

    /// The model's integer output on `input` (the last segment's).
    pub fn output(&self, input: &[f32]) -> Result<Vec<i64>> {
        let inputs = self.segment_inputs(input)?;
        let (c, x) = self
            .segments
            .last()
            .zip(inputs.last())
            .ok_or_else(|| Error::Mismatch("a split with no segments".into()))?;
        Ok(run_quantized(&c.model, x)?.output(&c.model).to_vec())
    }
}

/// The name of segment `i`'s proof file in a proofs directory.
pub fn proof_name(i: usize) -> String {
    format!("proof-{i}.json")
}

/// What [`verify_chain`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    /// Every proof verifies and every boundary links.
    Valid,
    /// A segment's proof, or its link to the segment before it, is rejected.
    Rejected {
        /// The segment.
        segment: usize,
        /// Why.
        reason: String,
    },
}

/// One segment's verifying artifacts and proof.
#[derive(Debug, Clone)]
pub struct SegmentProof {
    /// Its verifying key.
    pub vk: VerifierKey,
    /// Keccak-256 of its `vk.bin` bytes, hex.
    pub vk_digest: String,
    /// Its settings.
    pub settings: Settings,
    /// Its proof.
    pub proof: ProofFile,
    /// Where the proof was read from (for messages).
    pub path: PathBuf,
}

/// Checks a chain of segment proofs against its manifest: every segment's key and settings are
/// the ones the manifest pins (an error if not: the artifacts do not belong together), every
/// segment has the visibility its place in the chain needs, every proof verifies, and every
/// boundary hash the segment before outputs is the one the segment after took.
pub fn verify_chain(manifest: &Manifest, parts: &[SegmentProof]) -> Result<ChainVerdict> {
    let count = manifest.segments.len();
    if parts.len() != count {
        return Err(Error::Mismatch(format!(
            "{} proofs for a chain of {count} segments",
            parts.len()
        )));
    }
    let user = manifest.visibility;
    let mut prev: Option<(zkonnx_circuits::visibility::InstanceLayout, Vec<_>)> = None;
    for (i, (e, p)) in manifest.segments.iter().zip(parts).enumerate() {
        let pinned = e.vk_digest.as_deref().ok_or_else(|| {
            Error::Mismatch(format!(
                "segment {i} has no verifying key in the manifest (run setup)"
            ))
        })?;
        if pinned != p.vk_digest || hex32(&p.settings.digest()) != e.settings_digest {
            return Err(Error::Mismatch(format!(
                "segment {i}: its verifying key or settings are not the ones the manifest pins"
            )));
        }
        let vis = p.settings.shape.visibility;
        let want = Visibility {
            input: if i == 0 { user.input } else { Vis::Hashed },
            params: user.params,
            output: if i + 1 == count {
                user.output
            } else {
                Vis::Hashed
            },
        };
        if vis != want {
            return Err(Error::Mismatch(format!(
                "segment {i} has visibility {vis}, but its place in the chain needs {want}"
            )));
        }
        let reject = |reason: &str| {
            Ok(ChainVerdict::Rejected {
                segment: i,
                reason: reason.to_string(),
            })
        };
        if !verify(&p.vk, &p.settings, &p.proof, &p.path)? {
            return reject("its proof does not verify");
        }
        let layout = p.settings.instance_layout();
        let instances = p.proof.instance_values(&p.path)?;
        if let Some((before, before_instances)) = &prev {
            let out = before.output_hash.map(|j| before_instances[j]);
            let inp = layout.input_hash.map(|j| instances[j]);
            if out.is_none() || out != inp {
                return reject(
                    "the boundary hash it took is not the one the segment before it output",
                );
            }
        }
        prev = Some((layout, instances));
    }
    Ok(ChainVerdict::Valid)
}

/// Reads a split directory's manifest and every segment's `vk.bin` and `settings.json`, and
/// the proofs `PROOFS/proof-i.json`, and checks the chain ([`verify_chain`]).
pub fn verify_chain_dir(dir: &Path, proofs: &Path) -> Result<ChainVerdict> {
    let manifest = Manifest::read(&dir.join(MANIFEST))?;
    let mut parts = Vec::with_capacity(manifest.segments.len());
    for (i, e) in manifest.segments.iter().enumerate() {
        let seg = dir.join(&e.dir);
        let vk_path = seg.join(files::VK);
        let vk = zkonnx_prover::keys::read_vk(&vk_path)?;
        let vk_digest = file_digest(&vk_path)?;
        let settings: Settings = read_json(&seg.join(files::SETTINGS))?;
        let path = proofs.join(proof_name(i));
        let proof = ProofFile::read(&path)?;
        parts.push(SegmentProof {
            vk,
            vk_digest,
            settings,
            proof,
            path,
        });
    }
    verify_chain(&manifest, &parts)
}
