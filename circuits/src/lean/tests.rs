//! MockProver tests of the lean gates, honest and malicious: one element (a multiply-add
//! chain, its bit rows, value row and signed row) with every witness value given by the test.

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::dev::MockProver;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use super::chip::{running_sums, LeanConfig};
use crate::chips::{fe, val};

const WIDTH: u32 = 6;
const K: u32 = 7;

/// One element: `acc = Σ w·x` (claimed accumulators per row), then `acc + add` split into
/// `(out, d, r)` with the claimed running sums of each, and the claimed signed value.
#[derive(Clone, Debug)]
struct Case {
    /// Inputs per row.
    t: usize,
    x: Vec<i64>,
    w: Vec<i64>,
    /// Claimed accumulator after each row.
    acc: Vec<i128>,
    add: i64,
    /// Claimed running sums of `out`, `d`, `r` (the last entry is the value).
    sums: [Vec<i128>; 3],
    /// Claimed signed value (no ReLU).
    signed: Option<i128>,
}

impl Case {
    /// The honest witness.
    fn honest(t: usize, x: &[i64], w: &[i64], add: i64, relu: bool) -> Self {
        let mut acc = Vec::new();
        let mut a = 0i128;
        for (xs, ws) in x.chunks(t).zip(w.chunks(t)) {
            a += xs
                .iter()
                .zip(ws)
                .map(|(&x, &w)| i128::from(x * w))
                .sum::<i128>();
            acc.push(a);
        }
        let total = a + i128::from(add);
        let q = total >> WIDTH;
        let r = total - (q << WIDTH);
        let sums = [q.max(0), (-q).max(0), r].map(|v| running_sums(v, WIDTH).expect("in range"));
        Self {
            t,
            x: x.to_vec(),
            w: w.to_vec(),
            acc,
            add,
            sums,
            signed: (!relu).then_some(q),
        }
    }

    /// Replaces the value of bit column `j` by `v` (with running sums `v >> (W − 1 − i)`, which
    /// are not bits when `v` is out of range).
    fn claim(mut self, j: usize, v: i128) -> Self {
        self.sums[j] = (0..WIDTH).map(|i| v >> (WIDTH - 1 - i)).collect();
        self
    }
}

#[derive(Clone, Debug)]
struct LeanCircuit(Case);

impl Circuit<Fr> for LeanCircuit {
    type Config = LeanConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = usize;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }
    fn params(&self) -> usize {
        self.0.t
    }
    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, t: usize) -> LeanConfig {
        LeanConfig::configure(meta, t, WIDTH, false)
    }
    fn configure(meta: &mut ConstraintSystem<Fr>) -> LeanConfig {
        LeanConfig::configure(meta, 1, WIDTH, false)
    }

    fn synthesize(&self, c: LeanConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let case = &self.0;
        layouter.assign_region(
            || "element",
            |mut region| {
                // Row 0 holds a stray accumulator, so a first row that read its previous row
                // would be caught.
                region.assign_advice(c.acc, 0, Value::known(Fr::from(1234)));
                let mut row = 1;
                for (i, (xs, ws)) in case.x.chunks(case.t).zip(case.w.chunks(case.t)).enumerate() {
                    let xv: Vec<Value<Fr>> = xs.iter().map(|&v| val(Some(i128::from(v)))).collect();
                    let wv: Vec<Fr> = ws.iter().map(|&v| fe(i128::from(v))).collect();
                    c.mac_row(&mut region, row, i == 0, &xv, &wv, val(Some(case.acc[i])));
                    row += 1;
                }
                let sums = case
                    .sums
                    .clone()
                    .map(|s| s.into_iter().map(|v| Value::known(fe(v))).collect());
                c.bit_rows(&mut region, row, &sums)?;
                row += WIDTH as usize;
                c.value_row(&mut region, row - 1, fe(i128::from(case.add)));
                if let Some(q) = case.signed {
                    c.signed_row(&mut region, row, val(Some(q)));
                }
                Ok(())
            },
        )
    }
}

fn satisfied(case: Case) -> bool {
    let prover = MockProver::run(K, &LeanCircuit(case), vec![vec![]]).expect("synthesis");
    prover.verify().is_ok()
}

const X: [i64; 5] = [3, -7, 12, 5, -2];
const W: [i64; 5] = [4, 2, -1, 3, 6];

#[test]
fn honest_elements_pass() {
    for t in [1, 2, 4] {
        for add in [0, 37, -300] {
            for relu in [false, true] {
                assert!(
                    satisfied(Case::honest(t, &X, &W, add, relu)),
                    "t={t} add={add} relu={relu}"
                );
            }
        }
    }
}

#[test]
fn a_wrong_accumulator_fails() {
    for t in [1, 2] {
        let mut c = Case::honest(t, &X, &W, 5, true);
        c.acc[1] += 1;
        assert!(!satisfied(c), "t={t}");
    }
}

#[test]
fn a_wrong_quotient_with_a_remainder_out_of_range_fails() {
    // acc + add = q·2^W + r: claim q − 1 and r + 2^W (the equation still holds).
    let c = Case::honest(1, &X, &W, 100, false);
    let q = c.signed.expect("signed");
    let r = *c.sums[2].last().expect("r");
    let bad = c
        .claim(0, (q - 1).max(0))
        .claim(1, (1 - q).max(0))
        .claim(2, r + (1 << WIDTH));
    let bad = Case {
        signed: Some(q - 1),
        ..bad
    };
    assert!(!satisfied(bad));
}

#[test]
fn a_negative_remainder_fails() {
    // acc + add = (q + 1)·2^W + (r − 2^W): the remainder wraps to a huge field element.
    let c = Case::honest(1, &X, &W, 100, false);
    let q = c.signed.expect("signed");
    let r = *c.sums[2].last().expect("r");
    let mut bad = c.claim(2, r - (1 << WIDTH));
    bad.sums[0] = running_sums((q + 1).max(0), WIDTH).expect("range");
    bad.sums[1] = running_sums((-q - 1).max(0), WIDTH).expect("range");
    bad.signed = Some(q + 1);
    assert!(!satisfied(bad));
}

#[test]
fn relu_parts_that_are_both_nonzero_fail() {
    // out − d = q with out = q + 1, d = 1: the value relation holds, out·d = 0 does not.
    let c = Case::honest(1, &X, &W, 40, true);
    let out = *c.sums[0].last().expect("out");
    let d = *c.sums[1].last().expect("d");
    assert_eq!(d, 0, "the test wants a positive value");
    assert!(!satisfied(c.claim(0, out + 1).claim(1, 1)));
}

#[test]
fn a_negative_relu_output_fails() {
    // A negative q claimed as out = q (a field element near p), d = 0.
    let c = Case::honest(1, &[-9, 4], &[5, 1], 0, true);
    let d = *c.sums[1].last().expect("d");
    assert!(d > 0, "the test wants a negative value");
    let mut bad = c.claim(1, 0);
    bad.sums[0] = vec![-d; WIDTH as usize];
    assert!(!satisfied(bad));
}

#[test]
fn a_signed_value_other_than_out_minus_d_fails() {
    let mut c = Case::honest(2, &X, &W, -50, false);
    c.signed = c.signed.map(|q| q + 1);
    assert!(!satisfied(c));
}

#[test]
fn a_non_bit_step_fails() {
    // One running sum raised by 1: its step is 1 or 2, the next one −1 or −2; the value holds.
    let mut c = Case::honest(1, &X, &W, 7, true);
    c.sums[2][2] += 1;
    assert!(!satisfied(c));
}
