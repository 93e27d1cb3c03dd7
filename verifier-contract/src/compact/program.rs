//! The quotient numerator as a small stack program.
//!
//! snark-verifier compiles a halo2 constraint system into one expression over query
//! evaluations, challenges, `z` and Lagrange polynomials (all gates, the permutation and
//! the lookups, folded with powers of `y`). We read that expression from the protocol's
//! serde form and flatten it into postfix instructions the compact verifier interprets.

use std::collections::HashMap;

use halo2_proofs::halo2curves::bn256::Fr;
use serde::Deserialize;

use super::scalar_from_hex;
use crate::error::{EvmError, Result};

/// One query of a polynomial at a rotation, as snark-verifier writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub(crate) struct Query {
    pub poly: usize,
    pub rotation: i32,
}

/// A common polynomial, as snark-verifier writes it.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) enum CommonPoly {
    Identity,
    Lagrange(i32),
}

/// Mirror of snark-verifier's (crate-private) expression type, read through serde.
#[derive(Debug, Clone, Deserialize)]
pub(crate) enum Expr {
    Constant(String),
    CommonPolynomial(CommonPoly),
    Polynomial(Query),
    Challenge(usize),
    Negated(Box<Expr>),
    Sum(Box<Expr>, Box<Expr>),
    Product(Box<Expr>, Box<Expr>),
    Scaled(Box<Expr>, String),
    DistributePowers(Vec<Expr>, Box<Expr>),
}

/// Instruction set of the numerator program; each is one opcode byte and a 16-bit operand,
/// the byte offset (index × 32) of a value in the verifier's value table (evaluation slots,
/// challenges, Lagrange values, `z`, temporaries, constants: see [`Table`]). Ops 0–3 read the
/// table, 4–6 pop the stack, 7 saves a repeated subexpression; negation is a multiplication by
/// the constant −1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// Push `table[i]`.
    Push = 0,
    /// `top += table[i]`.
    Add = 1,
    /// `top −= table[i]`.
    Sub = 2,
    /// `top *= table[i]`.
    Mul = 3,
    /// Pop `b`; `top += b`.
    AddStack = 4,
    /// Pop `b`; `top −= b`.
    SubStack = 5,
    /// Pop `b`; `top *= b`.
    MulStack = 6,
    /// `table[i] = top` (a temporary: a subexpression used again later).
    Store = 7,
    /// The end of the program (appended by the blob encoding; the contract's loop has no
    /// other bound).
    End = 8,
}

/// Layout of the value table the program indexes: evaluation slots, challenges, the
/// numerator's Lagrange values, `z`, the temporaries, then the constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// Evaluation slots (instance, proof evaluations, quotient).
    pub slots: usize,
    /// Challenges.
    pub challenges: usize,
    /// Lagrange values.
    pub lagranges: usize,
    /// Temporaries (repeated subexpressions, computed once).
    pub temps: usize,
}

impl Table {
    fn challenge(&self, i: usize) -> usize {
        self.slots + i
    }
    fn lagrange(&self, i: usize) -> usize {
        self.slots + self.challenges + i
    }
    fn z(&self) -> usize {
        self.slots + self.challenges + self.lagranges
    }
    fn temp(&self, i: usize) -> usize {
        self.z() + 1 + i
    }
    fn constant(&self, i: usize) -> usize {
        self.z() + 1 + self.temps + i
    }
}

/// A compiled numerator: instructions, constant table and the deepest stack it needs.
#[derive(Debug, Clone)]
pub struct Program {
    /// Instructions `(op, operand)`.
    pub ops: Vec<(Op, u16)>,
    /// Distinct constants (the tail of the value table).
    pub constants: Vec<Fr>,
    /// Maximum stack depth.
    pub max_depth: usize,
    /// The value table's layout.
    pub table: Table,
}

/// Compiles expressions with the slots the caller assigns to queries and Lagrange indices.
pub(crate) struct Compiler<'a> {
    pub slot_of: &'a HashMap<Query, usize>,
    pub lagrange_of: &'a HashMap<i32, usize>,
    pub program: Program,
    const_index: HashMap<[u8; 32], usize>,
    depth: usize,
    /// Temporary of each node that is an occurrence of a repeated subexpression.
    temp_of: HashMap<*const Expr, usize>,
    /// Temporaries already computed.
    stored: Vec<bool>,
}

/// Finds the repeated subexpressions of `root` (outermost ones: repeats inside a repeated
/// subexpression are computed once with it) of at least three nodes, and maps every
/// occurrence to a temporary.
fn repeated(root: &Expr) -> (HashMap<*const Expr, usize>, usize) {
    fn children(e: &Expr) -> Vec<&Expr> {
        match e {
            Expr::Negated(a) | Expr::Scaled(a, _) => vec![a],
            Expr::Sum(a, b) | Expr::Product(a, b) => vec![a, b],
            Expr::DistributePowers(v, s) => v.iter().chain(std::iter::once(s.as_ref())).collect(),
            _ => vec![],
        }
    }
    // Structural keys, bottom up, and sizes.
    fn keys(e: &Expr, out: &mut HashMap<*const Expr, (String, usize)>) -> (String, usize) {
        let kids: Vec<(String, usize)> = children(e).into_iter().map(|c| keys(c, out)).collect();
        let head = match e {
            Expr::Negated(_) => "neg".to_string(),
            Expr::Scaled(_, c) => format!("scale {c}"),
            Expr::Sum(..) => "sum".to_string(),
            Expr::Product(..) => "prod".to_string(),
            Expr::DistributePowers(..) => "pow".to_string(),
            leaf => format!("{leaf:?}"),
        };
        let size = 1 + kids.iter().map(|k| k.1).sum::<usize>();
        let key = format!(
            "{head}({})",
            kids.iter()
                .map(|k| k.0.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        out.insert(e as *const Expr, (key.clone(), size));
        (key, size)
    }
    fn count(
        e: &Expr,
        keys: &HashMap<*const Expr, (String, usize)>,
        counts: &mut HashMap<String, usize>,
    ) {
        let (k, _) = &keys[&(e as *const Expr)];
        let c = counts.entry(k.clone()).or_insert(0);
        *c += 1;
        if *c == 1 {
            for child in children(e) {
                count(child, keys, counts);
            }
        }
    }
    let mut all = HashMap::new();
    keys(root, &mut all);
    let mut counts = HashMap::new();
    count(root, &all, &mut counts);
    let mut id_of: HashMap<&str, usize> = HashMap::new();
    let mut temp_of = HashMap::new();
    for (ptr, (key, size)) in &all {
        if *size >= 3 && counts.get(key).is_some_and(|&c| c >= 2) {
            let next = id_of.len();
            let id = *id_of.entry(key.as_str()).or_insert(next);
            temp_of.insert(*ptr, id);
        }
    }
    let n = id_of.len();
    (temp_of, n)
}

fn operand(i: usize) -> Result<u16> {
    u16::try_from(i * 32).map_err(|_| {
        EvmError::Format(format!(
            "value-table index {i} exceeds 2047 (too many evaluations and constants)"
        ))
    })
}

impl<'a> Compiler<'a> {
    /// A compiler for `root`; `table.temps` is set from its repeated subexpressions.
    pub fn new(
        slot_of: &'a HashMap<Query, usize>,
        lagrange_of: &'a HashMap<i32, usize>,
        mut table: Table,
        root: &Expr,
    ) -> Self {
        let (temp_of, temps) = repeated(root);
        table.temps = temps;
        Self {
            slot_of,
            lagrange_of,
            program: Program {
                ops: Vec::new(),
                constants: Vec::new(),
                max_depth: 0,
                table,
            },
            const_index: HashMap::new(),
            depth: 0,
            temp_of,
            stored: vec![false; temps],
        }
    }

    fn constant(&mut self, hex: &str) -> Result<usize> {
        self.constant_value(scalar_from_hex(hex)?)
    }

    fn constant_value(&mut self, value: Fr) -> Result<usize> {
        let key = halo2_proofs::halo2curves::ff::PrimeField::to_repr(&value);
        let next = self.program.constants.len();
        let i = *self.const_index.entry(key).or_insert(next);
        if i == next {
            self.program.constants.push(value);
        }
        Ok(self.program.table.constant(i))
    }

    /// The table index of a leaf expression or of an already computed temporary, or `None`.
    fn leaf(&mut self, e: &Expr) -> Result<Option<usize>> {
        let t = self.program.table;
        if let Some(&id) = self.temp_of.get(&(e as *const Expr)) {
            return Ok(self.stored[id].then(|| t.temp(id)));
        }
        Ok(Some(match e {
            Expr::Constant(c) => self.constant(c)?,
            Expr::CommonPolynomial(CommonPoly::Identity) => t.z(),
            Expr::CommonPolynomial(CommonPoly::Lagrange(i)) => {
                let slot = self.lagrange_of.get(i).ok_or_else(|| {
                    EvmError::Format(format!("Lagrange polynomial {i} has no slot"))
                })?;
                t.lagrange(*slot)
            }
            Expr::Polynomial(q) => *self.slot_of.get(q).ok_or_else(|| {
                EvmError::Format(format!(
                    "query of polynomial {} at rotation {} has no evaluation",
                    q.poly, q.rotation
                ))
            })?,
            Expr::Challenge(i) => t.challenge(*i),
            _ => return Ok(None),
        }))
    }

    fn push(&mut self, op: Op, arg: usize) -> Result<()> {
        self.program.ops.push((op, operand(arg)?));
        match op {
            Op::Push => {
                self.depth += 1;
                self.program.max_depth = self.program.max_depth.max(self.depth);
            }
            Op::AddStack | Op::SubStack | Op::MulStack => self.depth -= 1,
            _ => {}
        }
        Ok(())
    }

    /// `top = top (op) e`, with `e` fused into the instruction when it is a leaf.
    fn apply(&mut self, e: &Expr, fused: Op, stacked: Op) -> Result<()> {
        match self.leaf(e)? {
            Some(i) => self.push(fused, i),
            None => {
                self.compile(e)?;
                self.push(stacked, 0)
            }
        }
    }

    /// Appends code that pushes the value of `e` (and saves it if it is used again later).
    pub fn compile(&mut self, e: &Expr) -> Result<()> {
        if let Some(i) = self.leaf(e)? {
            return self.push(Op::Push, i);
        }
        self.compile_node(e)?;
        if let Some(&id) = self.temp_of.get(&(e as *const Expr)) {
            self.stored[id] = true;
            let slot = self.program.table.temp(id);
            self.push(Op::Store, slot)?;
        }
        Ok(())
    }

    fn compile_node(&mut self, e: &Expr) -> Result<()> {
        match e {
            Expr::Negated(a) => {
                self.compile(a)?;
                let minus_one = self.constant_value(-Fr::one())?;
                self.push(Op::Mul, minus_one)
            }
            Expr::Sum(a, b) => match (a.as_ref(), b.as_ref()) {
                (_, Expr::Negated(inner)) => {
                    self.compile(a)?;
                    self.apply(inner, Op::Sub, Op::SubStack)
                }
                _ if self.leaf(a)?.is_some() && self.leaf(b)?.is_none() => {
                    self.compile(b)?;
                    self.apply(a, Op::Add, Op::AddStack)
                }
                _ => {
                    self.compile(a)?;
                    self.apply(b, Op::Add, Op::AddStack)
                }
            },
            Expr::Product(a, b) => {
                if self.leaf(a)?.is_some() && self.leaf(b)?.is_none() {
                    self.compile(b)?;
                    self.apply(a, Op::Mul, Op::MulStack)
                } else {
                    self.compile(a)?;
                    self.apply(b, Op::Mul, Op::MulStack)
                }
            }
            Expr::Scaled(a, c) => {
                self.compile(a)?;
                let i = self.constant(c)?;
                self.push(Op::Mul, i)
            }
            Expr::DistributePowers(exprs, scalar) => {
                let (first, rest) = exprs
                    .split_first()
                    .ok_or_else(|| EvmError::Format("empty DistributePowers".into()))?;
                self.compile(first)?;
                for e in rest {
                    self.apply(scalar, Op::Mul, Op::MulStack)?;
                    self.apply(e, Op::Add, Op::AddStack)?;
                }
                Ok(())
            }
            _ => unreachable!("leaves are handled above"),
        }
    }
}

/// Evaluates a program over a value table laid out as [`Table`] says (the reference
/// semantics of the Solidity interpreter).
pub fn run(program: &Program, table: &[Fr]) -> Option<Fr> {
    let mut table = table.to_vec();
    let mut stack: Vec<Fr> = Vec::with_capacity(program.max_depth);
    for &(op, arg) in &program.ops {
        let x = table.get(arg as usize / 32).copied();
        match op {
            Op::Push => stack.push(x?),
            Op::Store => *table.get_mut(arg as usize / 32)? = *stack.last()?,
            Op::End => break,
            Op::Add | Op::Sub | Op::Mul => {
                let top = stack.last_mut()?;
                *top = match op {
                    Op::Add => *top + x?,
                    Op::Sub => *top - x?,
                    _ => *top * x?,
                };
            }
            Op::AddStack | Op::SubStack | Op::MulStack => {
                let b = stack.pop()?;
                let top = stack.last_mut()?;
                *top = match op {
                    Op::AddStack => *top + b,
                    Op::SubStack => *top - b,
                    _ => *top * b,
                };
            }
        }
    }
    (stack.len() == 1).then(|| stack[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::halo2curves::ff::PrimeField;

    /// Direct evaluation of an expression over evaluation slots `0..8`, challenges and `z`.
    fn eval(e: &Expr, slots: &[Fr], challenges: &[Fr], z: Fr) -> Fr {
        match e {
            Expr::Constant(c) => scalar_from_hex(c).expect("hex"),
            Expr::CommonPolynomial(CommonPoly::Identity) => z,
            Expr::CommonPolynomial(CommonPoly::Lagrange(_)) => unreachable!("not generated"),
            Expr::Polynomial(q) => slots[q.poly],
            Expr::Challenge(i) => challenges[*i],
            Expr::Negated(a) => -eval(a, slots, challenges, z),
            Expr::Sum(a, b) => eval(a, slots, challenges, z) + eval(b, slots, challenges, z),
            Expr::Product(a, b) => eval(a, slots, challenges, z) * eval(b, slots, challenges, z),
            Expr::Scaled(a, c) => eval(a, slots, challenges, z) * scalar_from_hex(c).expect("hex"),
            Expr::DistributePowers(v, s) => {
                let y = eval(s, slots, challenges, z);
                v.iter()
                    .fold(Fr::zero(), |acc, x| acc * y + eval(x, slots, challenges, z))
            }
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    /// A constant as the protocol writes it (little-endian hex).
    fn hex(v: u64) -> String {
        hex::encode(Fr::from(v).to_repr().as_ref())
    }

    /// A random expression; a few fixed subtrees recur, to exercise the temporaries.
    fn random(r: &mut Rng, depth: u32, shared: &[Expr]) -> Expr {
        let leaf = depth == 0 || r.next().is_multiple_of(4);
        if leaf {
            return match r.next() % 5 {
                0 => Expr::Constant(hex(r.next() % 50)),
                1 => Expr::Challenge((r.next() % 2) as usize),
                2 => Expr::CommonPolynomial(CommonPoly::Identity),
                _ => Expr::Polynomial(Query {
                    poly: (r.next() % 8) as usize,
                    rotation: 0,
                }),
            };
        }
        let sub = |r: &mut Rng| Box::new(random(r, depth - 1, shared));
        match r.next() % 7 {
            0 | 1 => Expr::Sum(sub(r), sub(r)),
            2 | 3 => Expr::Product(sub(r), sub(r)),
            4 => Expr::Negated(sub(r)),
            5 => {
                let a = sub(r);
                Expr::Scaled(a, hex(r.next() % 9 + 1))
            }
            _ if !shared.is_empty() => shared[(r.next() % shared.len() as u64) as usize].clone(),
            _ => {
                let a = sub(r);
                Expr::Sum(a, Box::new(Expr::Negated(sub(r))))
            }
        }
    }

    fn check(root: &Expr, seed: u64) {
        let slot_of: HashMap<Query, usize> = (0..8)
            .map(|p| {
                (
                    Query {
                        poly: p,
                        rotation: 0,
                    },
                    p,
                )
            })
            .collect();
        let lagrange_of = HashMap::new();
        let table = Table {
            slots: 8,
            challenges: 2,
            lagranges: 0,
            temps: 0,
        };
        let mut c = Compiler::new(&slot_of, &lagrange_of, table, root);
        c.compile(root).expect("compile");
        let program = c.program;
        let mut r = Rng(seed);
        let slots: Vec<Fr> = (0..8).map(|_| Fr::from(r.next())).collect();
        let challenges: Vec<Fr> = (0..2).map(|_| Fr::from(r.next())).collect();
        let z = Fr::from(r.next());
        let mut values = slots.clone();
        values.extend(&challenges);
        values.push(z);
        values.resize(values.len() + program.table.temps, Fr::zero());
        values.extend(&program.constants);
        assert_eq!(
            run(&program, &values),
            Some(eval(root, &slots, &challenges, z)),
            "seed {seed}"
        );
    }

    #[test]
    fn compiled_programs_evaluate_like_their_expressions() {
        for seed in 0..300 {
            let mut r = Rng(seed);
            let shared: Vec<Expr> = (0..3).map(|_| random(&mut r, 3, &[])).collect();
            let parts: Vec<Expr> = (0..(1 + r.next() % 6))
                .map(|_| random(&mut r, 5, &shared))
                .collect();
            let root = Expr::DistributePowers(parts, Box::new(Expr::Challenge(1)));
            check(&root, seed);
        }
    }

    #[test]
    fn long_sums_and_products_evaluate_correctly() {
        // Deep chains of sums and products, with negated and repeated subexpressions.
        let leaf = |p: usize| {
            Expr::Polynomial(Query {
                poly: p % 8,
                rotation: 0,
            })
        };
        // Distinct subexpressions (no temporaries): every one is a stack value.
        let node = |p: usize| {
            Expr::Sum(
                Box::new(Expr::Product(Box::new(leaf(p)), Box::new(leaf(p + 3)))),
                Box::new(Expr::Constant(hex(p as u64 + 1))),
            )
        };
        let mut sum = node(0);
        let mut prod = leaf(1);
        for i in 1..400 {
            let term = if i % 3 == 0 {
                Expr::Negated(Box::new(node(i)))
            } else if i % 3 == 1 {
                leaf(i)
            } else {
                node(i)
            };
            sum = Expr::Sum(Box::new(sum), Box::new(term));
            let factor = if i % 2 == 0 {
                leaf(i)
            } else {
                Expr::Sum(Box::new(leaf(i)), Box::new(Expr::Constant(hex(i as u64))))
            };
            prod = Expr::Product(Box::new(prod), Box::new(factor));
        }
        check(&sum, 1);
        check(&prod, 2);
        check(
            &Expr::DistributePowers(vec![sum, prod], Box::new(Expr::Challenge(0))),
            3,
        );
    }
}
