//! The command line's arguments: one struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use zkonnx::{CompiledModel, Model, QuantSettings, Vis, Visibility};

use crate::Fail;

#[derive(Args, Clone)]
pub struct QuantArgs {
    /// Fractional bits of activations [default: 13; with `--target accuracy`, 12 or 14 where
    /// that is as cheap and closer to the float model on the calibration data]. Given, it is
    /// used as it is.
    #[arg(long)]
    input_scale: Option<u32>,
    /// Fractional bits of weights [default: 13; with `--target accuracy`, 12 to 15 where that
    /// is as cheap and closer]. Given, it is used as it is.
    #[arg(long)]
    param_scale: Option<u32>,
    /// Entries of each nonlinear function's lookup table, as a power of two [default: 12; with
    /// `--target accuracy`, up to 16 where that is as cheap and closer]. Given, it is used as
    /// it is.
    #[arg(long)]
    table_bits: Option<u32>,
    /// What calibration optimises: `accuracy` (from the default scales, steps of one bit of
    /// activations or weights, two of table bits, finer knots, or chains of elementwise
    /// operations lowered node by node instead of as one function, each kept while it proves
    /// at no more cost (10 % more for a step that halves the given scales' error: the estimate's
    /// resolution; 25 % on a proof estimated under 0.2 s whose error is over 2^-12 of its
    /// output) and is closer to the float model on the calibration data; up to twice
    /// the cost while the closest plan errs more than 1 %), `given` (the scales as given) or `speed` (the cheapest circuit whose outputs
    /// on the calibration data stay within 1 % of the float model).
    #[arg(long, value_enum, default_value_t = TargetArg::Accuracy)]
    target: TargetArg,
    /// How nonlinear functions are proved: `auto` (a direct lookup table, or interpolation
    /// between knots where that is as accurate and takes fewer rows; with `--target accuracy`
    /// also knots four times as accurate where that costs no more), `finer` (knots four times
    /// as accurate as the direct table wherever they exist), `prefer` (knots wherever their
    /// tables are smaller) or `never` (direct tables only).
    #[arg(long, value_enum, default_value_t = InterpolationArg::Auto)]
    interpolation: InterpolationArg,
    /// Who sees the input: `public` (instances), `private` (only the prover) or `hashed`
    /// (private, with its Poseidon hash public).
    #[arg(long, value_enum, default_value_t = VisArg::Public)]
    input_visibility: VisArg,
    /// Who sees the weights: `fixed` (in the verifying key), `private`, or `hashed` (private,
    /// with the model's parameter hash public: its provenance).
    #[arg(long, value_enum, default_value_t = VisArg::Fixed)]
    param_visibility: VisArg,
    /// Who sees the output: `public`, `private` or `hashed`.
    #[arg(long, value_enum, default_value_t = VisArg::Public)]
    output_visibility: VisArg,
    /// What the layout planner minimises: `prove` (proving time and memory), `gas` (the
    /// on-chain verifier's gas: fewer columns, more rows; proving up to 16× the fastest plan's
    /// cost) or `balanced` (the least gas within 2× the fastest plan's proving cost).
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Prove)]
    objective: ObjectiveArg,
    /// The value of a symbolic input dimension, `NAME=N` (repeatable; a dynamic batch of 3:
    /// `--dim batch_size=3`). Unnamed symbolic dimensions are 1, or read from the input file
    /// where its lists are whole multiples of the inputs.
    #[arg(long = "dim", value_name = "NAME=N")]
    dims: Vec<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum ObjectiveArg {
    Prove,
    Gas,
    Balanced,
}

impl From<ObjectiveArg> for zkonnx::Objective {
    fn from(o: ObjectiveArg) -> Self {
        match o {
            ObjectiveArg::Prove => zkonnx::Objective::Prove,
            ObjectiveArg::Gas => zkonnx::Objective::Gas,
            ObjectiveArg::Balanced => zkonnx::Objective::Balanced,
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum InterpolationArg {
    Auto,
    Finer,
    Prefer,
    Never,
}

impl From<InterpolationArg> for zkonnx::Interpolation {
    fn from(i: InterpolationArg) -> Self {
        match i {
            InterpolationArg::Auto => zkonnx::Interpolation::Auto,
            InterpolationArg::Finer => zkonnx::Interpolation::Finer,
            InterpolationArg::Prefer => zkonnx::Interpolation::Prefer,
            InterpolationArg::Never => zkonnx::Interpolation::Never,
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum VisArg {
    Public,
    Private,
    Fixed,
    Hashed,
}

impl From<VisArg> for Vis {
    fn from(v: VisArg) -> Self {
        match v {
            VisArg::Public => Vis::Public,
            VisArg::Private => Vis::Private,
            VisArg::Fixed => Vis::Fixed,
            VisArg::Hashed => Vis::Hashed,
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum TargetArg {
    Accuracy,
    Speed,
    Given,
}

impl From<TargetArg> for zkonnx::Target {
    fn from(t: TargetArg) -> Self {
        match t {
            TargetArg::Accuracy => zkonnx::Target::Accuracy,
            TargetArg::Speed => zkonnx::Target::Speed,
            TargetArg::Given => zkonnx::Target::Given,
        }
    }
}

impl QuantArgs {
    fn settings(&self) -> QuantSettings {
        QuantSettings {
            input_scale: self
                .input_scale
                .unwrap_or(zkonnx_circuits::quant::DEFAULT_INPUT_SCALE),
            param_scale: self
                .param_scale
                .unwrap_or(zkonnx_circuits::quant::DEFAULT_PARAM_SCALE),
            table_bits: self
                .table_bits
                .unwrap_or(zkonnx_circuits::quant::DEFAULT_TABLE_BITS),
            interpolation: self.interpolation.into(),
            ..QuantSettings::default()
        }
    }

    fn visibility(&self) -> Visibility {
        Visibility {
            input: self.input_visibility.into(),
            params: self.param_visibility.into(),
            output: self.output_visibility.into(),
        }
    }

    /// The model at `path` with its symbolic dimensions bound: by `--dim`, or else from the
    /// lengths of `input`'s lists where they are whole multiples of the inputs (said so).
    pub fn load_model(
        &self,
        path: &std::path::Path,
        input: Option<&std::path::Path>,
    ) -> Result<Model, Fail> {
        let mut given = std::collections::BTreeMap::new();
        for d in &self.dims {
            let (name, v) = d
                .split_once('=')
                .and_then(|(n, v)| Some((n.trim(), v.trim().parse::<usize>().ok()?)))
                .filter(|(n, _)| !n.is_empty())
                .ok_or_else(|| Fail::Bad(format!("--dim {d}: expected NAME=N")))?;
            given.insert(name.to_string(), v);
        }
        if !given.is_empty() {
            // A name the model does not declare would be ignored: say which it has.
            let specs = zkonnx::circuits::import::input_specs(path)?;
            let known: Vec<&str> = specs
                .iter()
                .flat_map(|i| i.dim_params.iter().flatten())
                .map(String::as_str)
                .collect();
            if let Some(name) = given.keys().find(|n| !known.contains(&n.as_str())) {
                let have = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                return Err(Fail::Bad(format!(
                    "--dim {name}: the model's inputs have no symbolic dimension of that name \
                     (they have: {have})"
                )));
            }
        }
        // Given none, the input's size binds them (one import either way).
        let found = input
            .filter(|_| given.is_empty())
            .and_then(|i| Some((i, zkonnx::dims_from_input(path, i)?)));
        if let Some((input, dims)) = &found {
            let said: Vec<String> = dims.iter().map(|(n, v)| format!("{n}={v}")).collect();
            eprintln!(
                "symbolic dimensions from {}: {} (set them with --dim)",
                input.display(),
                said.join(", ")
            );
        }
        let dims = found.map_or(given, |(_, d)| d);
        Ok(Model::load_with_dims(path, &dims)?)
    }

    /// Calibrates on `cal` and compiles with every option given.
    pub fn compile(&self, m: &Model, cal: &[Vec<f32>]) -> Result<CompiledModel, Fail> {
        Ok(m.compile_for_target(
            cal,
            self.target(),
            self.settings(),
            self.visibility(),
            self.objective(),
        )?)
    }

    fn objective(&self) -> zkonnx::Objective {
        self.objective.into()
    }

    /// The target; `accuracy` with a scale or table size given keeps the settings given.
    fn target(&self) -> zkonnx::Target {
        let given =
            self.input_scale.is_some() || self.param_scale.is_some() || self.table_bits.is_some();
        match self.target {
            TargetArg::Accuracy if given => zkonnx::Target::Given,
            t => t.into(),
        }
    }
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Everything end to end: compile, dev SRS, setup, prove, verify; writes report.json.
    Run(RunArgs),
    /// Import, calibrate, quantize and plan; writes settings.json and compiled.json.
    Compile(CompileArgs),
    /// Structured reference string.
    Srs(SrsArgs),
    /// Key generation: writes vk.bin and pk.bin into the compiled directory.
    Setup(SetupArgs),
    /// Proves one input; writes proof.json.
    Prove(ProveArgs),
    /// Generates the Solidity verifier: the compact verifier (Verifier.sol, the same for every
    /// model) and the model's verifying-key data contract (VerifierKey.bin); Verifier.bin
    /// (creation bytecode) and Verifier.abi.json from the committed build (snark-verifier's
    /// when a compiler is found).
    EvmVerifier(EvmVerifierArgs),
    /// Verifies a proof with the Solidity verifier in revm (or on a node with --rpc): exit 0 accepted, 1 rejected.
    EvmVerify(EvmVerifyArgs),
    /// Prints the layout plan: per layer its gadget, rows, lookups and estimated prove time
    /// (from this machine's measured MSM/FFT speed); with --report, estimated vs measured.
    Inspect(InspectArgs),
    /// Benchmarks every phase of each model (child processes), optionally beside EZKL;
    /// writes DIR/bench.json, DIR/bench.md and DIR/bench.svg.
    Bench(BenchArgs),
    /// Poseidon hashes as the circuit computes them, for a contract to pin: the model's
    /// parameter hash (its provenance) and, with --input, the input's and the output's hash.
    /// Prints JSON of field elements (32-byte big-endian hex, the form of the instances).
    Hash(HashArgs),
    /// Lists every supported ONNX operator (from the importer's registry), with how it is
    /// proved; --markdown prints the table of docs/OPERATORS.md.
    Ops(OpsArgs),
    /// Verifies a proof: exit 0 valid, 1 invalid, 2 bad input.
    Verify(VerifyArgs),
    /// Compiles a model as a chain of segment circuits linked by boundary hashes; writes
    /// OUT/manifest.json and OUT/segment-i/ (then `setup --dir OUT` makes every segment's keys).
    Split(SplitArgs),
    /// Proves every segment of a split model on one input (segments side by side as memory
    /// and cores allow, see --jobs); writes PROOFS/proof-i.json.
    ProveSplit(ProveSplitArgs),
    /// Verifies a split model's proofs and their links: exit 0 valid, 1 invalid, 2 bad input.
    VerifySplit(VerifySplitArgs),
    /// Folds a split model's segment proofs (made with `prove-split --for-aggregation`) into
    /// one proof, the boundary links checked inside it; writes OUT/aggregate.json and
    /// OUT/vk.bin, and with --evm OUT/Verifier.sol checked in revm.
    Aggregate(AggregateArgs),
    /// Verifies an aggregated proof natively: exit 0 valid, 1 invalid, 2 bad input.
    VerifyAggregate(VerifyAggregateArgs),
}

/// Arguments of `split`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["segments", "max_k", "max_memory"])))]
pub struct SplitArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Calibration data (several samples) ...
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// ... or a single input to calibrate on.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output directory.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Number of segments (balanced by the planner's cost model).
    #[arg(long)]
    pub segments: Option<usize>,
    /// The fewest segments whose circuits each have at most 2^K rows.
    #[arg(long)]
    pub max_k: Option<u32>,
    /// The fewest segments whose estimated proving memory is each at most this many GB.
    #[arg(long)]
    pub max_memory: Option<f64>,
    #[command(flatten)]
    pub quant: QuantArgs,
}

/// Arguments of `prove-split`.
#[derive(Args)]
pub struct ProveSplitArgs {
    /// Directory written by `split` and `setup`.
    #[arg(long)]
    pub dir: PathBuf,
    /// SRS file.
    #[arg(long)]
    pub srs: PathBuf,
    /// Input JSON.
    #[arg(long)]
    pub input: PathBuf,
    /// Directory for the proofs (default DIR/proofs).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Make the proofs with the Poseidon transcript, for `aggregate` (they verify with
    /// `verify-split` as well, but not with a Solidity verifier).
    #[arg(long)]
    pub for_aggregation: bool,
    /// Segments proved side by side, each with its share of the cores (default: one per 4
    /// cores, as many as fit in the available memory by the segments' estimated memory; 1: one
    /// after the other).
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// Arguments of `aggregate`.
#[derive(Args)]
pub struct AggregateArgs {
    /// Directory written by `split` and `setup`.
    #[arg(long)]
    pub dir: PathBuf,
    /// Directory of the segment proofs (default DIR/proofs).
    #[arg(long)]
    pub proofs: Option<PathBuf>,
    /// The SRS the segments were set up with, holding at least 2^K points.
    #[arg(long)]
    pub srs: PathBuf,
    /// log2 of the aggregation circuit's rows (its column count follows).
    #[arg(long, default_value_t = 21)]
    pub k: u32,
    /// Output directory (default DIR/aggregate).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Also check the proof in revm with the compact Solidity verifier (the outer key's
    /// data contract written to OUT/VerifierKey.bin).
    #[arg(long)]
    pub evm: bool,
    /// With --evm: use snark-verifier's unrolled verifier (OUT/Verifier.sol) instead.
    #[arg(long, requires = "evm")]
    pub snark_verifier: bool,
}

/// Arguments of `verify-aggregate`.
#[derive(Args)]
pub struct VerifyAggregateArgs {
    /// Directory written by `aggregate`.
    #[arg(long)]
    pub dir: PathBuf,
    /// Also check the proof in revm with the compact Solidity verifier (DIR/VerifierKey.bin).
    #[arg(long)]
    pub evm: bool,
    /// With --evm: use snark-verifier's unrolled verifier (DIR/Verifier.sol) instead.
    #[arg(long, requires = "evm")]
    pub snark_verifier: bool,
}

/// Arguments of `verify-split`.
#[derive(Args)]
pub struct VerifySplitArgs {
    /// Directory written by `split` and `setup` (its manifest pins every segment's key).
    #[arg(long)]
    pub dir: PathBuf,
    /// Directory of the proofs (default DIR/proofs).
    #[arg(long)]
    pub proofs: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum SrsCmd {
    /// Imports a ceremony's powers of tau (a halo2 `ParamsKZG` file or a snarkjs `.ptau`),
    /// checks it (points on the curve, pairing checks on the powers) and reduces it to 2^k.
    Import(ImportArgs),
    /// Generates an INSECURE development SRS from a seed.
    Gen(GenArgs),
}

/// Arguments of `srs`.
#[derive(Args)]
pub struct SrsArgs {
    #[command(subcommand)]
    pub cmd: SrsCmd,
}

/// Arguments of `run`.
#[derive(Args)]
pub struct RunArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Input JSON ({"input_data": [[...]]}).
    #[arg(long)]
    pub input: PathBuf,
    /// Output directory.
    #[arg(long)]
    pub workdir: PathBuf,
    /// Calibration data (defaults to the input).
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Seed of the development SRS.
    #[arg(long, default_value_t = 42)]
    pub srs_seed: u64,
    /// Do not write the proving key to disk.
    #[arg(long)]
    pub no_pk: bool,
    /// Also generate, compile and check the Solidity verifier (in revm).
    #[arg(long)]
    pub evm: bool,
    /// With --evm: also measure snark-verifier's unrolled verifier of the same circuit.
    #[arg(long, requires = "evm")]
    pub compare_verifiers: bool,
    /// Where to prove: `cpu`, `cuda` or `auto` (CUDA where available, else the CPU).
    #[arg(long, default_value = "auto")]
    pub device: zkonnx::Device,
    #[command(flatten)]
    pub quant: QuantArgs,
}

/// Arguments of `compile`.
#[derive(Args)]
pub struct CompileArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Calibration data (several samples) ...
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// ... or a single input to calibrate on.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Output directory.
    #[arg(short, long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub quant: QuantArgs,
}

/// Arguments of `setup`.
#[derive(Args)]
pub struct SetupArgs {
    /// Directory written by `compile` (or by `split`: every segment's keys).
    #[arg(long)]
    pub dir: PathBuf,
    /// SRS file (`zkonnx srs gen`).
    #[arg(long)]
    pub srs: PathBuf,
}

/// Arguments of `prove`.
#[derive(Args)]
pub struct ProveArgs {
    /// Directory written by `compile` and `setup`.
    #[arg(long)]
    pub dir: PathBuf,
    /// SRS file.
    #[arg(long)]
    pub srs: PathBuf,
    /// Input JSON.
    #[arg(long)]
    pub input: PathBuf,
    /// Proof file to write (default DIR/proof.json).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Where to prove: `cpu`, `cuda` (an error without a CUDA build and device) or `auto`
    /// (CUDA where available, else the CPU).
    #[arg(long, default_value = "auto")]
    pub device: zkonnx::Device,
}

/// Arguments of `evm-verifier`.
#[derive(Args)]
pub struct EvmVerifierArgs {
    /// vk.bin.
    #[arg(long)]
    pub vk: PathBuf,
    /// settings.json.
    #[arg(long)]
    pub settings: PathBuf,
    /// Solidity file to write; the bytecode goes beside it as Verifier.bin.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Generate snark-verifier's unrolled verifier instead (one contract per circuit; often
    /// over the EIP-170 limit).
    #[arg(long)]
    pub snark_verifier: bool,
}

/// Arguments of `evm-verify`.
#[derive(Args)]
pub struct EvmVerifyArgs {
    /// proof.json.
    #[arg(long)]
    pub proof: PathBuf,
    /// Verifier.bin (creation bytecode, hex).
    #[arg(long)]
    pub verifier: Option<PathBuf>,
    /// VerifierKey.bin of the compact verifier (default: beside Verifier.bin if present;
    /// without it the verifier is taken to be snark-verifier's).
    #[arg(long)]
    pub verifier_key: Option<PathBuf>,
    /// settings.json (default: beside the proof).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Call a verifier deployed on this node (JSON-RPC URL) instead of revm.
    #[arg(long, requires = "address")]
    pub rpc: Option<String>,
    /// Address of the deployed verifier (with --rpc).
    #[arg(long, requires = "rpc")]
    pub address: Option<String>,
    /// Address of the deployed verifying-key data contract (with --rpc, compact verifier).
    #[arg(long, requires = "rpc")]
    pub vk_address: Option<String>,
}

/// Arguments of `inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Calibration data (several samples) ...
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// ... or a single input to calibrate on.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// A `report.json` of `zkonnx run` on this model: compare its measured prove time.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Also list the plans that trade proving cost for verification gas (none of them beaten
    /// on both), with their estimated prove time and gas.
    #[arg(long)]
    pub frontier: bool,
    #[command(flatten)]
    pub quant: QuantArgs,
}

/// Arguments of `bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// ONNX files, or folders holding NAME.onnx with NAME.input.json.
    #[arg(long, num_args = 1.., required = true)]
    pub models: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Runs of each phase (min and median are reported).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Also run EZKL (PyPI, pinned; installed into its own virtual environment on first use).
    #[arg(long)]
    pub ezkl: bool,
    /// Only the models whose ONNX file is under 1 MB.
    #[arg(long)]
    pub quick: bool,
    /// What zkonnx's layout planner minimises: `prove`, `gas` or `balanced` (see
    /// `compile --objective`).
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Prove)]
    pub objective: ObjectiveArg,
    /// What zkonnx's calibration optimises (see `compile --target`): `accuracy` (the default
    /// scales) or `speed` (the cheapest circuit within 1 % of the float model, as EZKL's
    /// `calibrate_settings` with target `resources` looks for the cheapest settings).
    #[arg(long, value_enum, default_value_t = TargetArg::Accuracy)]
    pub target: TargetArg,
    /// Where to prove (`cpu`, `cuda`, `auto`); several (`--device cpu cuda`) measure each one's
    /// prove phase side by side (the first makes the `prove` column).
    #[arg(long, num_args = 1.., default_value = "auto")]
    pub device: Vec<zkonnx::Device>,
    /// Also split each model into each of these segment counts (`--split 1 2 4`): split,
    /// setup, prove-split one segment at a time and side by side, verify-split.
    #[arg(long, num_args = 1..)]
    pub split: Vec<usize>,
    /// With --split: also prove each split as Ray tasks on a local Ray of this many CPUs
    /// (`python -m zkonnx.ray`; needs the Python package, see --python).
    #[arg(long, requires = "split")]
    pub ray_cpus: Option<usize>,
    /// The Python with the zkonnx package and Ray (default: target/pyenv/bin/python beside
    /// this binary's target folder, as scripts/test.sh makes it).
    #[arg(long, requires = "ray_cpus")]
    pub python: Option<PathBuf>,
    /// With --split: fold every split of 2 or more segments into one proof at 2^K rows
    /// (`aggregate`) and check it in revm with both verifiers (minutes, GBs).
    #[arg(long, requires = "split")]
    pub aggregate: Option<u32>,
}

/// Arguments of `hash`.
#[derive(Args)]
pub struct HashArgs {
    /// Directory written by `compile`.
    #[arg(long)]
    pub dir: PathBuf,
    /// Input JSON ({"input_data": [[...]]}) to hash, with the model's output on it.
    #[arg(long)]
    pub input: Option<PathBuf>,
}

/// Arguments of `ops`.
#[derive(Args)]
pub struct OpsArgs {
    /// Print the Markdown table.
    #[arg(long)]
    pub markdown: bool,
}

/// Arguments of `verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// proof.json.
    #[arg(long)]
    pub proof: PathBuf,
    /// vk.bin.
    #[arg(long)]
    pub vk: PathBuf,
    /// settings.json.
    #[arg(long)]
    pub settings: PathBuf,
    /// The SRS the key must come from (e.g. one `srs import` made from a ceremony): refuses a
    /// verifying key whose `[1]₁`, `[1]₂` or `[τ]₂` are not this SRS's.
    #[arg(long)]
    pub srs: Option<PathBuf>,
}

/// Arguments of `import`.
#[derive(Args)]
pub struct ImportArgs {
    /// The ceremony file (format detected from its contents).
    pub file: PathBuf,
    /// log2 of the points to keep (default: all).
    #[arg(long)]
    pub k: Option<u32>,
    /// Output file (zkonnx SRS format, for setup and prove).
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Arguments of `gen`.
#[derive(Args)]
pub struct GenArgs {
    /// log2 of the number of points.
    #[arg(long)]
    pub k: u32,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output file.
    #[arg(short, long)]
    pub out: PathBuf,
}
