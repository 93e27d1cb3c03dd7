//! Key generation and proving of a split directory: every segment's keys, the SRS reduced to
//! each segment's size, and the segments proved one after the other or side by side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha3::{Digest, Keccak256};
use zkonnx_prover::artifacts::write_json;

use super::{file_digest, hex32, proof_name, Manifest, SegmentProof, SplitModel, MANIFEST};
use crate::halo2_proofs::halo2curves::bn256::Bn256;
use crate::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use crate::{files, CompiledModel, Error, Proof, Prover, Result, Transcript};

/// Every segment's prover, in memory: keys generated once, many inputs proved.
pub struct SplitProver {
    split: SplitModel,
    provers: Vec<Prover>,
}

impl std::fmt::Debug for SplitProver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitProver")
            .field("segments", &self.provers.len())
            .finish()
    }
}

impl SplitProver {
    /// Generates every segment's keys and records their digests in the manifest.
    pub fn setup(mut split: SplitModel, params: ParamsKZG<Bn256>) -> Result<Self> {
        let mut provers = Vec::with_capacity(split.segments.len());
        let srs = fitted(&params, split.segments.iter().map(|c| c.k()))?;
        for (e, c) in split.manifest.segments.iter_mut().zip(&split.segments) {
            let fit = srs
                .get(&c.k())
                .cloned()
                .ok_or_else(|| Error::Mismatch("no SRS for a segment".into()))?;
            let p = Prover::setup(c.clone(), fit)?;
            e.vk_digest = Some(hex32(&Keccak256::digest(p.vk_bytes())));
            provers.push(p);
        }
        Ok(Self { split, provers })
    }

    /// The split model, with the keys' digests in its manifest.
    pub fn split(&self) -> &SplitModel {
        &self.split
    }

    /// Every segment's prover.
    pub fn provers(&self) -> &[Prover] {
        &self.provers
    }

    /// Proves every segment on one float input of the model (one after the other).
    pub fn prove(&self, input: &[f32]) -> Result<Vec<Proof>> {
        let inputs = self.split.segment_inputs(input)?;
        self.provers
            .iter()
            .zip(&inputs)
            .map(|(p, x)| p.prove_quantized(x))
            .collect()
    }

    /// The verifier's view of proofs made by [`SplitProver::prove`].
    pub fn segment_proofs(&self, proofs: &[Proof]) -> Vec<SegmentProof> {
        self.provers
            .iter()
            .zip(proofs)
            .enumerate()
            .map(|(i, (p, proof))| SegmentProof {
                vk: p.verifier_key(),
                vk_digest: hex32(&Keccak256::digest(p.vk_bytes())),
                settings: p.compiled().settings.clone(),
                proof: proof.to_file(),
                path: PathBuf::from(proof_name(i)),
            })
            .collect()
    }

    /// Writes the manifest, every segment's compilation and its keys into `dir`.
    pub fn save(&self, dir: &Path, with_pk: bool) -> Result<()> {
        self.split.save(dir)?;
        for (e, p) in self.split.manifest.segments.iter().zip(&self.provers) {
            p.save_keys(&dir.join(&e.dir), with_pk)?;
        }
        Ok(())
    }
}

/// The SRS reduced to each of `ks` (each size computed once: reducing an SRS recomputes its
/// Lagrange basis, a group FFT that costs more than proving a small segment).
fn fitted(
    params: &ParamsKZG<Bn256>,
    ks: impl IntoIterator<Item = u32>,
) -> Result<BTreeMap<u32, ParamsKZG<Bn256>>> {
    let mut out = BTreeMap::new();
    for k in ks {
        if let std::collections::btree_map::Entry::Vacant(e) = out.entry(k) {
            e.insert(zkonnx_prover::srs::fit_srs(params.clone(), k)?);
        }
    }
    Ok(out)
}

/// Key generation for a split directory: every segment's `vk.bin`, `pk.bin` and its SRS
/// reduced to its size (`srs.bin`, so proving it needs no reduction) into its directory, one
/// segment at a time (so memory is the largest segment's), and the keys' digests into the
/// manifest. Returns the manifest.
pub fn setup_dir(dir: &Path, params: &ParamsKZG<Bn256>) -> Result<Manifest> {
    let mut split = SplitModel::load(dir)?;
    let srs = fitted(params, split.segments.iter().map(|c| c.k()))?;
    for (e, c) in split.manifest.segments.iter_mut().zip(&split.segments) {
        let p = srs
            .get(&c.k())
            .cloned()
            .ok_or_else(|| Error::Mismatch("no SRS for a segment".into()))?;
        let seg = dir.join(&e.dir);
        zkonnx_prover::srs::write_srs(&seg.join(files::SRS), &p)?;
        let prover = Prover::setup(c.clone(), p)?;
        prover.save_keys(&seg, true)?;
        e.vk_digest = Some(file_digest(&seg.join(files::VK))?);
    }
    split.manifest.write(&dir.join(MANIFEST))?;
    Ok(split.manifest)
}

/// How many segments `prove-split` proves side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jobs {
    /// As many as the cores and the available memory allow ([`auto_jobs`]).
    #[default]
    Auto,
    /// At most this many (1: one after the other).
    Fixed(usize),
}

impl Jobs {
    /// `None`: [`Jobs::Auto`]; `Some(n)`: at most n (an error for 0).
    pub fn new(n: Option<usize>) -> Result<Self> {
        match n {
            Some(0) => Err(Error::Data {
                path: "jobs".into(),
                reason: "the number of jobs must be at least 1".into(),
            }),
            Some(n) => Ok(Jobs::Fixed(n)),
            None => Ok(Jobs::Auto),
        }
    }
}

/// How [`prove_dir`] proves a split model.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProveSplitOptions {
    /// The transcript ([`Transcript::Poseidon`] for
    /// [`aggregate_dir`](crate::aggregate::aggregate_dir)).
    pub transcript: Transcript,
    /// Segments proved side by side.
    pub jobs: Jobs,
}

/// Cores a segment proved side by side with others gets at least, by default: one proof uses
/// a few cores well, so segments side by side pay only where a proof's own parallelism runs
/// out. Measured on 2 cores (`zkonnx bench --split`, docs/bench-results.md): two segments side
/// by side, one thread each, against one after the other with two threads: dcgan_generator in
/// 4 segments 13 % faster, tiny_gpt 4–10 % faster, mobilenet_block in 4 segments 17 % and
/// mlp_wide in 2 segments 30 % slower.
pub const MIN_THREADS_PER_JOB: usize = 4;

/// The number of segments `prove-split` proves side by side by default:
/// [`jobs_for`] with [`MIN_THREADS_PER_JOB`] cores each (one at a time below 8 cores).
pub fn auto_jobs(est_memory: &[u64], cores: usize, available: u64) -> usize {
    jobs_for(est_memory, cores / MIN_THREADS_PER_JOB, available)
}

/// At most `slots` segments side by side, and only as many as fit, by their estimated proving
/// memory (the manifest's, which the planner computes from the column counts, with a quarter's
/// margin), in `available` bytes. Never less than one.
pub fn jobs_for(est_memory: &[u64], slots: usize, available: u64) -> usize {
    let mut sorted: Vec<u64> = est_memory.iter().map(|&m| with_margin(m)).collect();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    // The largest estimates together must fit: any set of segments may run at once.
    let mut used = 0u64;
    let mut n = 0;
    for m in sorted {
        used = used.saturating_add(m);
        if n > 0 && used > available {
            break;
        }
        n += 1;
    }
    n.min(slots).max(1)
}

/// A segment's estimated proving memory with a quarter's margin: the planner's estimate
/// leaves out the model, its weights and the trace (it was 66–107 % of measured peaks).
fn with_margin(est: u64) -> u64 {
    est.saturating_add(est / 4)
}

/// Memory this process can still use: the machine's `MemAvailable`, and no more than what
/// its cgroup's limit leaves (cgroup v2 `memory.max − memory.current`, or v1
/// `memory.limit_in_bytes − memory.usage_in_bytes`: containers, Ray and Kubernetes workers
/// see the machine's memory in `/proc/meminfo` but are killed at their limit). `None` if
/// nothing says.
pub fn available_memory() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let num = |t: Option<String>| t.and_then(|t| t.trim().parse::<u64>().ok());
    let machine = read("/proc/meminfo").and_then(|info| {
        let kb: u64 = info
            .lines()
            .find(|l| l.starts_with("MemAvailable:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kb * 1024)
    });
    let v2 = num(read("/sys/fs/cgroup/memory.max"))
        .map(|max| max.saturating_sub(num(read("/sys/fs/cgroup/memory.current")).unwrap_or(0)));
    let v1 = num(read("/sys/fs/cgroup/memory/memory.limit_in_bytes")).map(|max| {
        max.saturating_sub(num(read("/sys/fs/cgroup/memory/memory.usage_in_bytes")).unwrap_or(0))
    });
    [machine, v2, v1].into_iter().flatten().min()
}

/// Proves every segment of a split directory on one float input and writes
/// `PROOFS/proof-i.json`. The model is run once (every segment's input comes from that run);
/// each segment reads its proving key and the SRS reduced to its size (the one setup wrote
/// beside the key, after checking it is the first powers of `srs`; see
/// [`read_srs_for`](zkonnx_prover::srs::read_srs_for)), proves, writes its proof and drops its
/// key. With several jobs the segments run side by side on threads, each with its share of
/// the cores, largest first, and a segment starts only while the estimated memory of those
/// running leaves room for it, so the peak is bounded by the jobs' largest segments. Returns
/// the proofs in segment order.
pub fn prove_dir(
    dir: &Path,
    srs: &Path,
    input: &[f32],
    proofs: &Path,
    opts: ProveSplitOptions,
) -> Result<Vec<Proof>> {
    let split = SplitModel::load(dir)?;
    let inputs = split.segment_inputs(input)?;
    std::fs::create_dir_all(proofs).map_err(|e| Error::Data {
        path: proofs.display().to_string(),
        reason: e.to_string(),
    })?;
    let est: Vec<u64> = split
        .manifest
        .segments
        .iter()
        .map(|e| e.est_memory_bytes)
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let budget = available_memory().unwrap_or(u64::MAX);
    let jobs = match opts.jobs {
        Jobs::Auto => auto_jobs(&est, cores, budget),
        Jobs::Fixed(n) => n.max(1),
    }
    .min(split.segments.len().max(1));
    let work: Vec<Segment> = split
        .manifest
        .segments
        .iter()
        .zip(split.segments)
        .zip(inputs)
        .enumerate()
        .map(|(i, ((e, compiled), x))| Segment {
            index: i,
            dir: dir.join(&e.dir),
            compiled,
            input: x,
        })
        .collect();
    let prove_one = |s: Segment| -> Result<Proof> {
        let params =
            zkonnx_prover::srs::read_srs_for(srs, s.compiled.k(), &s.dir.join(files::SRS))?;
        let proof = prove_segment_with(&s.dir, s.compiled, params, &s.input, opts.transcript)?;
        write_json(&proofs.join(proof_name(s.index)), &proof.to_file())?;
        Ok(proof)
    };
    if jobs == 1 {
        return work.into_iter().map(prove_one).collect();
    }
    // A segment whose kept SRS is missing or stale reduces the given one, which is not in the
    // memory estimates: do those reductions first, one at a time.
    for s in &work {
        zkonnx_prover::srs::kept_srs(srs, s.compiled.k(), &s.dir.join(files::SRS))?;
    }
    let threads = (cores / jobs).max(1);
    let est: Vec<u64> = est.into_iter().map(with_margin).collect();
    let slots = crate::sched::run_bounded(work, &est, jobs, budget, |s| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::Internal(format!("thread pool: {e}")))?;
        pool.install(|| prove_one(s))
    })?;
    Ok(slots)
}

/// One segment's work for [`prove_dir`].
struct Segment {
    index: usize,
    dir: PathBuf,
    compiled: CompiledModel,
    input: Vec<i64>,
}

impl crate::sched::Indexed for Segment {
    fn index(&self) -> usize {
        self.index
    }
}

/// Proves one segment from its directory's proving key on its integer input.
pub fn prove_segment(
    seg: &Path,
    compiled: CompiledModel,
    params: ParamsKZG<Bn256>,
    input: &[i64],
) -> Result<Proof> {
    prove_segment_with(seg, compiled, params, input, Transcript::Evm)
}

/// [`prove_segment`] with the given transcript.
pub fn prove_segment_with(
    seg: &Path,
    compiled: CompiledModel,
    params: ParamsKZG<Bn256>,
    input: &[i64],
    transcript: Transcript,
) -> Result<Proof> {
    let (pk, shape, digest) = zkonnx_prover::keys::read_pk(&seg.join(files::PK))?;
    if shape != compiled.plan.shape || digest != compiled.settings.digest() {
        return Err(Error::Mismatch(format!(
            "{}: pk.bin was made for another compilation (run setup again)",
            seg.display()
        )));
    }
    Prover::from_parts(compiled, params, pk)?.prove_quantized_with(input, transcript)
}

#[cfg(test)]
mod tests {
    use super::{auto_jobs, jobs_for, MIN_THREADS_PER_JOB};

    #[test]
    fn jobs_follow_slots_and_memory() {
        let gb = 1u64 << 30;
        // Memory for all: one per slot.
        assert_eq!(jobs_for(&[gb, gb, gb, gb], 2, 16 * gb), 2);
        assert_eq!(jobs_for(&[gb, gb, gb], 8, 16 * gb), 3);
        // The two largest (with a quarter's margin each) do not fit together: one at a time.
        assert_eq!(jobs_for(&[3 * gb, 3 * gb, gb], 4, 6 * gb), 1);
        // The largest two fit, not three.
        assert_eq!(jobs_for(&[2 * gb, 2 * gb, 2 * gb], 4, 6 * gb), 2);
        // Never zero, even when one segment alone exceeds the memory, or without slots.
        assert_eq!(jobs_for(&[64 * gb], 4, gb), 1);
        assert_eq!(jobs_for(&[], 4, gb), 1);
        assert_eq!(jobs_for(&[gb, gb], 0, 16 * gb), 1);
    }

    #[test]
    fn by_default_each_job_gets_several_cores() {
        let gb = 1u64 << 30;
        let four = [gb; 4];
        assert_eq!(auto_jobs(&four, 2, 64 * gb), 1, "2 cores: one at a time");
        assert_eq!(auto_jobs(&four, 2 * MIN_THREADS_PER_JOB, 64 * gb), 2);
        assert_eq!(auto_jobs(&four, 16 * MIN_THREADS_PER_JOB, 64 * gb), 4);
        assert_eq!(auto_jobs(&four, 64, 2 * gb), 1, "memory still bounds it");
    }
}
