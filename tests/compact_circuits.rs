//! The compact verifier on circuits unlike the model circuits: gates of several degrees,
//! rotations −1/0/+1, a lookup, a second-phase advice column with a transcript challenge, up
//! to 64 fixed columns, and public values over several instance columns. For each, the compact verifier (in revm and its Rust reference) and
//! snark-verifier's verifier must accept the honest proof and reject tampered ones.

use zkonnx::halo2_proofs::arithmetic::CurveAffine;
use zkonnx::halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use zkonnx::halo2_proofs::halo2curves::bn256::{Fr, G1Affine};
use zkonnx::halo2_proofs::halo2curves::ff::PrimeField;
use zkonnx::halo2_proofs::halo2curves::group::Curve;
use zkonnx::halo2_proofs::plonk::{
    Advice, Challenge, Circuit, Column, ConstraintSystem, Error, Expression, FirstPhase, Fixed,
    Instance, SecondPhase, Selector, TableColumn,
};
use zkonnx::halo2_proofs::poly::commitment::ParamsProver;
use zkonnx::halo2_proofs::poly::Rotation;
use zkonnx::prover::srs::dev_srs;
use zkonnx_evm::compact::{blob, contract, native, CompactVk};
use zkonnx_evm::{encode_calldata, verifier_solidity, Evm, Solc};

const ROWS: usize = 16;

/// What the test circuit contains.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// Degree of the polynomial gate `q·(c − a^(degree−2)·b)`.
    degree: usize,
    /// Fixed columns in the weighted-sum gate `q·(e − Σ_j f_j·a)`.
    fixed: usize,
    /// Whether a second-phase column `d = a + r·b` uses a challenge `r`.
    two_phase: bool,
    /// Instance columns the public values fill in order (0 and 1: one column).
    instance_columns: usize,
}

#[derive(Debug, Clone)]
struct Config {
    a: Column<Advice>,
    b: Column<Advice>,
    c: Column<Advice>,
    e: Column<Advice>,
    d: Option<(Column<Advice>, Challenge)>,
    f: Vec<Column<Fixed>>,
    q: Selector,
    q_step: Selector,
    table: TableColumn,
    instance: Vec<Column<Instance>>,
}

#[derive(Debug, Clone, Default)]
struct Zoo {
    shape: Shape,
    /// Public values placed before the two checked ones (copied from advice cells below the
    /// gates' rows): the limbs of a KZG accumulator in the accumulator test.
    prefix: Vec<Fr>,
}

fn pow(x: Fr, e: usize) -> Fr {
    (0..e).fold(Fr::one(), |acc, _| acc * x)
}

impl Zoo {
    fn a(i: usize) -> Fr {
        Fr::from(i as u64 + 1)
    }
    fn b(i: usize) -> Fr {
        Fr::from(2 * i as u64 + 1)
    }
    fn c(&self, i: usize) -> Fr {
        pow(Self::a(i), self.shape.degree - 2) * Self::b(i)
    }
    fn f(j: usize, i: usize) -> Fr {
        Fr::from((j + 3 * i) as u64)
    }
    /// The public instances: the prefix, then a[0] and c[3].
    fn instances(&self) -> Vec<Fr> {
        let mut v = self.prefix.clone();
        v.extend([Self::a(0), self.c(3)]);
        v
    }
}

impl Circuit<Fr> for Zoo {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = Shape;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn params(&self) -> Shape {
        self.shape
    }

    fn configure(_: &mut ConstraintSystem<Fr>) -> Config {
        unreachable!("configured with params")
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> Config {
        let [a, b, c, e] = [(); 4].map(|_| meta.advice_column());
        let instance: Vec<Column<Instance>> = (0..shape.instance_columns.max(1))
            .map(|_| meta.instance_column())
            .collect();
        meta.enable_equality(a);
        meta.enable_equality(c);
        for &column in &instance {
            meta.enable_equality(column);
        }
        let f: Vec<Column<Fixed>> = (0..shape.fixed).map(|_| meta.fixed_column()).collect();
        let q = meta.complex_selector();
        let q_step = meta.selector();
        let table = meta.lookup_table_column();
        meta.create_gate("polynomial", |vc| {
            let q = vc.query_selector(q);
            let a = vc.query_advice(a, Rotation::cur());
            let b = vc.query_advice(b, Rotation::cur());
            let c = vc.query_advice(c, Rotation::cur());
            let prod = (0..shape.degree - 2).fold(b, |acc, _| acc * a.clone());
            vec![q * (c - prod)]
        });
        meta.create_gate("weighted sum", |vc| {
            let q = vc.query_selector(q);
            let a = vc.query_advice(a, Rotation::cur());
            let e = vc.query_advice(e, Rotation::cur());
            let sum = f.iter().fold(Expression::Constant(Fr::zero()), |acc, col| {
                acc + vc.query_fixed(*col, Rotation::cur()) * a.clone()
            });
            vec![q * (e - sum)]
        });
        meta.create_gate("steps", |vc| {
            let q = vc.query_selector(q_step);
            let a_next = vc.query_advice(a, Rotation::next());
            let a_cur = vc.query_advice(a, Rotation::cur());
            let b_cur = vc.query_advice(b, Rotation::cur());
            let b_prev = vc.query_advice(b, Rotation::prev());
            let one = Expression::Constant(Fr::one());
            let two = Expression::Constant(Fr::from(2));
            vec![
                q.clone() * (a_next - a_cur - one),
                q * (b_cur - b_prev - two),
            ]
        });
        meta.lookup("b is small", |vc| {
            let q = vc.query_selector(q);
            vec![(q * vc.query_advice(b, Rotation::cur()), table)]
        });
        let d = shape.two_phase.then(|| {
            // A first-phase column before the challenge, so the challenge follows commitments.
            let _ = meta.advice_column_in(FirstPhase);
            let r = meta.challenge_usable_after(FirstPhase);
            let d = meta.advice_column_in(SecondPhase);
            meta.create_gate("second phase", |vc| {
                let q = vc.query_selector(q);
                let a = vc.query_advice(a, Rotation::cur());
                let b = vc.query_advice(b, Rotation::cur());
                let d = vc.query_advice(d, Rotation::cur());
                let r = vc.query_challenge(r);
                vec![q * (d - a - r * b)]
            });
            (d, r)
        });
        Config {
            a,
            b,
            c,
            e,
            d,
            f,
            q,
            q_step,
            table,
            instance,
        }
    }

    fn synthesize(&self, cfg: Config, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        layouter.assign_table(
            || "table",
            |mut t| {
                for v in 0..64u64 {
                    t.assign_cell(|| "v", cfg.table, v as usize, || Value::known(Fr::from(v)))?;
                }
                Ok(())
            },
        )?;
        let (first_a, c3, prefix) = layouter.assign_region(
            || "rows",
            |mut region| {
                let mut cells = (None, None);
                for i in 0..ROWS {
                    cfg.q.enable(&mut region, i)?;
                    if i > 0 && i + 1 < ROWS {
                        cfg.q_step.enable(&mut region, i)?;
                    }
                    let a = region.assign_advice(cfg.a, i, Value::known(Self::a(i)));
                    region.assign_advice(cfg.b, i, Value::known(Self::b(i)));
                    let c = region.assign_advice(cfg.c, i, Value::known(self.c(i)));
                    let mut e = Fr::zero();
                    for (j, col) in cfg.f.iter().enumerate() {
                        region.assign_fixed(*col, i, Self::f(j, i));
                        e += Self::f(j, i) * Self::a(i);
                    }
                    region.assign_advice(cfg.e, i, Value::known(e));
                    if i == 0 {
                        cells.0 = Some(a.cell());
                    }
                    if i == 3 {
                        cells.1 = Some(c.cell());
                    }
                }
                // The prefix below the gates' rows (no selector is on there).
                let prefix: Vec<_> = self
                    .prefix
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        region
                            .assign_advice(cfg.a, ROWS + i, Value::known(*v))
                            .cell()
                    })
                    .collect();
                Ok((
                    cells.0.ok_or(Error::Synthesis)?,
                    cells.1.ok_or(Error::Synthesis)?,
                    prefix,
                ))
            },
        )?;
        // Public value `j` at row `j mod rows` of column `j div rows`, as zkonnx's circuits
        // place them.
        let cells: Vec<_> = prefix.into_iter().chain([first_a, c3]).collect();
        let rows = zkonnx::circuits::visibility::instance_rows(cells.len(), cfg.instance.len());
        for (j, cell) in cells.into_iter().enumerate() {
            layouter.constrain_instance(cell, cfg.instance[j / rows], j % rows);
        }
        if let Some((d, r)) = cfg.d {
            layouter.next_phase();
            let r = layouter.get_challenge(r);
            layouter.assign_region(
                || "second phase",
                |mut region| {
                    for i in 0..ROWS {
                        let v = r.map(|r| Self::a(i) + r * Self::b(i));
                        region.assign_advice(d, i, v);
                    }
                    Ok(())
                },
            )?;
        }
        Ok(())
    }
}

/// Proves the circuit and checks that the three verifiers agree on honest and tampered inputs.
fn check(shape: Shape) {
    check_with(shape, Vec::new());
}

/// [`check`] with public values `prefix` before the circuit's own two.
fn check_with(shape: Shape, prefix: Vec<Fr>) {
    let circuit = Zoo { shape, prefix };
    let params = dev_srs(7, 11);
    let pk = zkonnx::prover::keys::keygen(&params, &circuit).expect("keygen");
    let inst = circuit.instances();
    let proof = zkonnx::prover::proof::prove(&params, &pk, circuit.clone(), &inst).expect("prove");
    assert!(zkonnx::prover::proof::verify(
        &params,
        pk.get_vk(),
        &inst,
        &proof
    ));

    let columns = zkonnx::prover::proof::instance_column_lengths(pk.get_vk(), inst.len());
    assert_eq!(columns.len(), shape.instance_columns.max(1));
    let cvk = CompactVk::new(&params, pk.get_vk(), &columns).expect("compact vk");
    let key = blob::encode(&cvk);
    assert!(
        blob::data_runtime(&key).len() <= zkonnx_evm::EIP170_MAX_RUNTIME_BYTES,
        "{shape:?}: key {} bytes",
        key.len()
    );
    let solc = Solc::find().expect("solc (npm ci --prefix verifier-contract)");
    let compact = contract::compact_verifier().expect("compact");
    let unrolled = solc
        .compile(
            "V.sol",
            &verifier_solidity(&params, pk.get_vk(), &columns).expect("sol"),
            "Halo2Verifier",
        )
        .expect("compile snark-verifier");
    let mut evm = Evm::without_size_limit();
    let (cv, _) = evm.deploy(&compact.creation).expect("deploy");
    let (kv, _) = evm.deploy(&blob::data_creation(&key)).expect("deploy key");
    let (uv, _) = evm
        .deploy(&unrolled.creation)
        .expect("deploy snark-verifier");
    let mut answers = |inst: &[Fr], proof: &[u8]| {
        let out = evm
            .call(cv, &contract::verify_calldata(kv.into_array(), inst, proof))
            .expect("call");
        let compact = out.success && out.output.last() == Some(&1);
        let unrolled = evm
            .call(uv, &encode_calldata(inst, proof))
            .expect("call")
            .success;
        (compact, native::verify(&cvk, inst, proof), unrolled)
    };

    assert_eq!(
        answers(&inst, &proof),
        (true, true, true),
        "{shape:?}: honest"
    );
    eprintln!(
        "{shape:?}: phases {:?}, key {} bytes, snark-verifier runtime {} bytes, compact runtime {} bytes",
        cvk.phases,
        key.len() + 1,
        unrolled.runtime.len(),
        compact.runtime.len()
    );
    let w = cvk.num_witnesses();
    for pos in [
        3,
        64 * (w - 1) + 40,
        64 * w + 5,
        64 * (w + cvk.quotient_chunks) + 17,
        proof.len() - 70,
        proof.len() - 2,
    ] {
        let mut bad = proof.clone();
        bad[pos] ^= 0x04;
        assert_eq!(
            answers(&inst, &bad),
            (false, false, false),
            "{shape:?}: byte {pos} changed"
        );
    }
    // A changed public value, in each column.
    for at in (0..inst.len()).step_by(columns[0].max(1)) {
        let mut bad = inst.clone();
        bad[at] += Fr::one();
        assert_eq!(
            answers(&bad, &proof),
            (false, false, false),
            "{shape:?}: instance {at}"
        );
    }
    // The same values in the wrong columns: one more or one fewer public value.
    assert_eq!(
        answers(&inst[..inst.len() - 1], &proof),
        (false, false, false),
        "{shape:?}: an instance short"
    );
    assert_eq!(
        answers(&inst, &proof[..proof.len() - 64]),
        (false, false, false),
        "{shape:?}: truncated"
    );
}

#[test]
fn degree_three_gates_with_rotations_and_a_lookup() {
    check(Shape {
        degree: 3,
        fixed: 2,
        two_phase: false,
        instance_columns: 1,
    });
}

#[test]
fn degree_five_gates_and_a_second_phase_challenge() {
    check(Shape {
        degree: 5,
        fixed: 3,
        two_phase: true,
        instance_columns: 1,
    });
}

/// Seven public values over three instance columns (3, 3 and 1 of them: odd and even lengths
/// for the verifier's two-at-a-time loop), then the circuit's own two values over two columns.
#[test]
fn public_values_over_several_instance_columns() {
    let shape = Shape {
        degree: 4,
        fixed: 2,
        two_phase: false,
        instance_columns: 3,
    };
    let prefix: Vec<Fr> = (0..5u64).map(|v| Fr::from(100 + v)).collect();
    check_with(shape, prefix);
    check(Shape {
        instance_columns: 2,
        ..shape
    });
}

#[test]
fn sixty_four_fixed_columns_keep_the_same_verifier() {
    check(Shape {
        degree: 4,
        fixed: 64,
        two_phase: true,
        instance_columns: 1,
    });
}

/// Limbs of a point in snark-verifier's accumulator encoding (3 × 88 bits per coordinate,
/// little end first).
fn limbs(p: &G1Affine) -> Vec<Fr> {
    let c = p.coordinates().expect("not the identity");
    [*c.x(), *c.y()]
        .iter()
        .flat_map(|v| {
            let le = v.to_repr();
            (0..3).map(move |i| {
                let mut b = [0u8; 32];
                let end = (11 * i + 11).min(32);
                b[..end - 11 * i].copy_from_slice(&le.as_ref()[11 * i..end]);
                Fr::from_repr(b).expect("limb")
            })
        })
        .collect()
}

/// A circuit whose first 12 instances are a KZG accumulator `(lhs, rhs)`: the compact
/// verifier (revm and native) accepts the proof only when `e(lhs, [1]₂) = e(rhs, [s]₂)`, and
/// rejects malformed limbs, although the halo2 proof itself is valid for every one of them.
#[test]
fn an_accumulator_in_the_instances_is_decided_too() {
    let params = dev_srs(7, 11);
    let g = params.get_g();
    let (g0, g1) = (g[0], g[1]);
    let valid = [limbs(&g1), limbs(&g0)].concat(); // e(s·G, [1]) = e(G, [s])
    let wrong = [limbs(&g1), limbs(&(g0 + g0).to_affine())].concat();
    let swapped = [limbs(&g0), limbs(&g1)].concat();
    let mut off_curve = valid.clone();
    off_curve[3] += Fr::one();
    let mut wide = valid.clone();
    // One unit at bit 88 of limb 0 is the same coordinate as +1 in limb 1: not canonical.
    wide[0] += Fr::from(1u64 << 44) * Fr::from(1u64 << 44);
    wide[1] -= Fr::one();

    let shape = Shape {
        degree: 3,
        fixed: 2,
        two_phase: false,
        instance_columns: 1,
    };
    let compact = contract::compact_verifier().expect("compact");
    let mut evm = Evm::new();
    let (cv, _) = evm.deploy(&compact.creation).expect("deploy");
    // The layout (and so the key) is the same for every 12-value prefix.
    let pk = zkonnx::prover::keys::keygen(
        &params,
        &Zoo {
            shape,
            prefix: valid.clone(),
        },
    )
    .expect("keygen");
    let n = valid.len() + 2;
    let cvk = CompactVk::with_accumulator(&params, pk.get_vk(), &[n], 0).expect("cvk");
    let (kv, _) = evm
        .deploy(&blob::data_creation(&blob::encode(&cvk)))
        .expect("deploy key");
    for (name, prefix, expected) in [
        ("valid", valid, true),
        ("wrong pairing", wrong, false),
        ("swapped points", swapped, false),
        ("off the curve", off_curve, false),
        ("a limb of 89 bits", wide, false),
    ] {
        let circuit = Zoo { shape, prefix };
        let inst = circuit.instances();
        let proof =
            zkonnx::prover::proof::prove(&params, &pk, circuit.clone(), &inst).expect("prove");
        assert!(
            zkonnx::prover::proof::verify(&params, pk.get_vk(), &inst, &proof),
            "{name}: the halo2 proof itself verifies"
        );
        let out = evm
            .call(
                cv,
                &contract::verify_calldata(kv.into_array(), &inst, &proof),
            )
            .expect("call");
        let in_evm = out.success && out.output.last() == Some(&1);
        assert_eq!(
            (in_evm, native::verify(&cvk, &inst, &proof)),
            (expected, expected),
            "{name}"
        );
        if expected {
            eprintln!("accumulator: verify gas {}", out.gas_used);
            // A changed limb is rejected (it changes the transcript and the accumulator).
            let mut bad = inst.clone();
            bad[7] += Fr::one();
            assert!(!native::verify(&cvk, &bad, &proof));
        } else {
            // Lowered without the accumulator, the key accepts the same proof: the rejection
            // above is the accumulator check's alone.
            let plain = CompactVk::new(&params, pk.get_vk(), &[n]).expect("cvk");
            assert!(native::verify(&plain, &inst, &proof), "{name}");
        }
    }
    assert!(
        CompactVk::with_accumulator(&params, pk.get_vk(), &[11], 0).is_err(),
        "an accumulator needs 12 instances"
    );
    // A blob whose accumulator offset runs past the instances (made by hand: the constructor
    // refuses it) is refused by the contract and natively, for the honest proof too.
    let circuit = Zoo {
        shape,
        prefix: limbs(&g1).into_iter().chain(limbs(&g0)).collect(),
    };
    let inst = circuit.instances();
    let proof = zkonnx::prover::proof::prove(&params, &pk, circuit, &inst).expect("prove");
    for offset in [3, usize::MAX >> 8] {
        let mut past = cvk.clone();
        past.accumulator = Some(offset);
        let (kp, _) = evm
            .deploy(&blob::data_creation(&blob::encode(&past)))
            .expect("deploy key");
        let out = evm
            .call(
                cv,
                &contract::verify_calldata(kp.into_array(), &inst, &proof),
            )
            .expect("call");
        assert!(
            !(out.success && out.output.last() == Some(&1)),
            "offset {offset}"
        );
        assert!(!native::verify(&past, &inst, &proof), "offset {offset}");
    }
}
