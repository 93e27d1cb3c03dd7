//! MockProver tests of the Poseidon chip against the native hash.

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::dev::MockProver;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use halo2_proofs::plonk::{Advice, Circuit, Column, ConstraintSystem, Error, Instance};

use super::fe;
use super::poseidon::{hash_rows, PoseidonConfig};
use crate::hash;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tamper {
    None,
    /// A wrong S-box helper in a full round.
    Helper,
    /// A wrong state word in a partial round.
    State,
    /// The absorbed message differs from the cell it is copied from.
    Message,
}

#[derive(Clone, Debug)]
struct HashCircuit {
    values: Vec<i64>,
    bits: u32,
    tamper: Tamper,
}

#[derive(Clone, Debug)]
struct Cfg {
    advice: Vec<Column<Advice>>,
    instance: Column<Instance>,
    poseidon: PoseidonConfig,
}

impl Circuit<Fr> for HashCircuit {
    type Config = Cfg;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Cfg {
        let advice: Vec<Column<Advice>> = (0..7).map(|_| meta.advice_column()).collect();
        for &c in &advice {
            meta.enable_equality(c);
        }
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let fixed: Vec<_> = (0..6).map(|_| meta.fixed_column()).collect();
        let poseidon = PoseidonConfig::configure(meta, &advice, &fixed);
        Cfg {
            advice,
            instance,
            poseidon,
        }
    }

    fn synthesize(&self, c: Cfg, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let packed = hash::pack(&self.values, self.bits);
        let digest = layouter.assign_region(
            || "hash",
            |mut region| {
                // The packed elements sit in column 6, one per row, after the hash rows.
                let base = hash_rows(packed.len()) + 1;
                let msgs: Vec<_> = packed
                    .iter()
                    .enumerate()
                    .map(|(i, &e)| {
                        let cell = region
                            .assign_advice(c.advice[6], base + i, Value::known(e))
                            .cell();
                        let v = if self.tamper == Tamper::Message && i == 0 {
                            Value::known(e + Fr::ONE)
                        } else {
                            Value::known(e)
                        };
                        (cell, v)
                    })
                    .collect();
                let header = hash::header(self.values.len(), self.bits);
                let (d, rows) = c.poseidon.hash(&mut region, 0, header, &msgs)?;
                assert_eq!(rows, hash_rows(packed.len()));
                match self.tamper {
                    // Row 1 is the first full round, row 10 a partial one.
                    Tamper::Helper => {
                        region.assign_advice(c.poseidon.h[2], 1, Value::known(fe(5)));
                    }
                    Tamper::State => {
                        region.assign_advice(c.poseidon.s[1], 10, Value::known(fe(7)));
                    }
                    _ => {}
                }
                Ok(d)
            },
        )?;
        layouter.constrain_instance(digest, c.instance, 0);
        Ok(())
    }
}

fn run(values: &[i64], tamper: Tamper, instance: Fr) -> bool {
    let bits = hash::bits_for(values.iter().copied());
    let circuit = HashCircuit {
        values: values.to_vec(),
        bits,
        tamper,
    };
    let k = (hash_rows(values.len()) + values.len() + 16)
        .next_power_of_two()
        .trailing_zeros();
    MockProver::run(k, &circuit, vec![vec![instance]])
        .expect("synthesis")
        .verify()
        .is_ok()
}

#[test]
fn circuit_digest_equals_the_native_hash() {
    for n in [0usize, 1, 7, 30, 61] {
        let values: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 2001 - 1000).collect();
        let h = hash::hash_values(&values, hash::bits_for(values.iter().copied()));
        assert!(run(&values, Tamper::None, h), "n = {n}");
        assert!(
            !run(&values, Tamper::None, h + Fr::ONE),
            "wrong digest accepted, n = {n}"
        );
    }
}

#[test]
fn malicious_witnesses_fail() {
    let values: Vec<i64> = (0..40).map(|i| i * 3 - 50).collect();
    let h = hash::hash_values(&values, hash::bits_for(values.iter().copied()));
    for t in [Tamper::Helper, Tamper::State, Tamper::Message] {
        assert!(!run(&values, t, h), "{t:?} accepted");
    }
}
