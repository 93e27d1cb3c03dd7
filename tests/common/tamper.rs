//! A malicious prover: the honest circuit and proving key, with a floor planner that rewrites
//! chosen advice values as they are assigned. The rewrite is by value (every advice cell that
//! would hold `a` holds `b` instead), so every copy of a value moves together and a
//! copy constraint alone cannot catch the change: only a gate, a lookup or a bound instance
//! can. A rewrite by position (one cell of one column) moves that cell alone, for lies about a
//! cell whose value thousands of others share (a padding zero). The same wrapper drives
//! halo2's MockProver and the real `create_proof`.

use std::any::Any;
use std::cell::RefCell;

use zkonnx::circuits::circuit::{ModelCircuit, ModelConfig};
use zkonnx::circuits::shape::CircuitShape;
use zkonnx::halo2_proofs::circuit::layouter::SyncDeps;
use zkonnx::halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use zkonnx::halo2_proofs::halo2curves::bn256::Fr;
use zkonnx::halo2_proofs::halo2curves::ff::Field;
use zkonnx::halo2_proofs::plonk::{
    Advice, Any as AnyColumn, Assigned, Assignment, Challenge, Circuit, Column, ConstraintSystem,
    Error, Fixed, FloorPlanner, Instance, Selector,
};

thread_local! {
    /// The substitutions of the running synthesis: `(a, b)` makes every advice `a` a `b`.
    static SUBST: RefCell<Vec<(Fr, Fr)>> = const { RefCell::new(Vec::new()) };
    /// How many advice cells were rewritten.
    static HITS: RefCell<usize> = const { RefCell::new(0) };
    /// A one-shot rewrite of the advice cell assigned right after the first substituted one:
    /// `(a, b)` makes it `b` if it holds `a`, and whether it is due.
    static THEN: RefCell<(Option<(Fr, Fr)>, bool)> = const { RefCell::new((None, false)) };
    /// Rewrites by position: `(advice column index, row, value)`.
    static AT: RefCell<Vec<(usize, usize, Fr)>> = const { RefCell::new(Vec::new()) };
}

/// The honest model circuit, synthesized through [`TamperPlanner`] (with the substitutions
/// [`with_subst_then`] sets).
#[derive(Clone)]
pub struct Tampered(pub ModelCircuit);

/// Runs `f` with the substitutions `subst` active; returns its result and the cells rewritten.
/// With `then = Some((a, b))` the advice cell assigned right after the first substituted one
/// also holds `b` if it holds `a` (once): a lie about one cell by position rather than by
/// value, such as a rescale's remainder (assigned right after its quotient) when the
/// remainder's value, 0, is in thousands of other cells.
pub fn with_subst_then<R>(
    subst: &[(Fr, Fr)],
    then: Option<(Fr, Fr)>,
    f: impl FnOnce() -> R,
) -> (R, usize) {
    SUBST.with(|s| *s.borrow_mut() = subst.to_vec());
    HITS.with(|h| *h.borrow_mut() = 0);
    THEN.with(|t| *t.borrow_mut() = (then, false));
    let r = f();
    SUBST.with(|s| s.borrow_mut().clear());
    THEN.with(|t| *t.borrow_mut() = (None, false));
    (r, HITS.with(|h| *h.borrow()))
}

/// [`with_subst_then`] with rewrites by position as well: `(column, row, value)` makes the cell
/// of the advice column of that index at that (absolute) row hold `value`.
pub fn with_cells<R>(
    at: &[(usize, usize, Fr)],
    subst: &[(Fr, Fr)],
    f: impl FnOnce() -> R,
) -> (R, usize) {
    AT.with(|a| *a.borrow_mut() = at.to_vec());
    let r = with_subst_then(subst, None, f);
    AT.with(|a| a.borrow_mut().clear());
    r
}

/// The positional rewrite of the advice cell at (`column`, `row`), if one is set.
fn rewrite_at<F: Field>(column: usize, row: usize, v: Assigned<F>) -> Assigned<F> {
    let hit = AT.with(|a| {
        a.borrow()
            .iter()
            .find(|&&(c, r, _)| c == column && r == row)
            .map(|&(_, _, b)| b)
    });
    match hit {
        Some(b) => {
            HITS.with(|h| *h.borrow_mut() += 1);
            let b: &dyn Any = &b;
            Assigned::from(*b.downcast_ref::<F>().expect("the field is Fr"))
        }
        None => rewrite(v),
    }
}

impl Circuit<Fr> for Tampered {
    type Config = ModelConfig;
    type FloorPlanner = TamperPlanner;
    type Params = CircuitShape;

    fn without_witnesses(&self) -> Self {
        Self(self.0.without_witnesses())
    }

    fn params(&self) -> CircuitShape {
        self.0.params()
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: CircuitShape) -> ModelConfig {
        ModelCircuit::configure_with_params(meta, shape)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        ModelCircuit::configure(meta)
    }

    fn synthesize(&self, config: ModelConfig, layouter: impl Layouter<Fr>) -> Result<(), Error> {
        self.0.synthesize(config, layouter)
    }
}

/// `SimpleFloorPlanner` over an assignment that rewrites advice values.
pub struct TamperPlanner;

impl FloorPlanner for TamperPlanner {
    fn synthesize<F: Field, CS: Assignment<F> + SyncDeps, C: Circuit<F>>(
        cs: &mut CS,
        circuit: &C,
        config: C::Config,
        constants: Vec<Column<Fixed>>,
    ) -> Result<(), Error> {
        SimpleFloorPlanner::synthesize(&mut Rewrite(cs), circuit, config, constants)
    }
}

struct Rewrite<'a, CS>(&'a mut CS);

fn rewrite<F: Field>(v: Assigned<F>) -> Assigned<F> {
    let Some(x) = (&v.evaluate() as &dyn Any).downcast_ref::<Fr>().copied() else {
        return v;
    };
    let then = THEN.with(|t| {
        let mut t = t.borrow_mut();
        match *t {
            (Some((a, b)), true) => {
                *t = (None, false);
                (a == x).then_some(b)
            }
            _ => None,
        }
    });
    let hit = then.or_else(|| {
        let b = SUBST.with(|s| s.borrow().iter().find(|(a, _)| *a == x).map(|&(_, b)| b))?;
        THEN.with(|t| {
            let mut t = t.borrow_mut();
            if t.0.is_some() {
                t.1 = true;
            }
        });
        Some(b)
    });
    match hit {
        Some(b) => {
            HITS.with(|h| *h.borrow_mut() += 1);
            let b: &dyn Any = &b;
            Assigned::from(*b.downcast_ref::<F>().expect("the field is Fr"))
        }
        None => v,
    }
}

impl<F: Field, CS: Assignment<F>> Assignment<F> for Rewrite<'_, CS> {
    fn enter_region<NR: Into<String>, N: FnOnce() -> NR>(&mut self, name: N) {
        self.0.enter_region(name)
    }
    fn annotate_column<A: FnOnce() -> AR, AR: Into<String>>(&mut self, a: A, c: Column<AnyColumn>) {
        self.0.annotate_column(a, c)
    }
    fn exit_region(&mut self) {
        self.0.exit_region()
    }
    fn enable_selector<A: FnOnce() -> AR, AR: Into<String>>(
        &mut self,
        a: A,
        s: &Selector,
        row: usize,
    ) -> Result<(), Error> {
        self.0.enable_selector(a, s, row)
    }
    fn query_instance(&self, c: Column<Instance>, row: usize) -> Result<Value<F>, Error> {
        self.0.query_instance(c, row)
    }
    fn assign_advice<'v>(
        &mut self,
        c: Column<Advice>,
        row: usize,
        to: Value<Assigned<F>>,
    ) -> Value<&'v Assigned<F>> {
        self.0
            .assign_advice(c, row, to.map(|v| rewrite_at(c.index(), row, v)))
    }
    fn assign_fixed(&mut self, c: Column<Fixed>, row: usize, to: Assigned<F>) {
        self.0.assign_fixed(c, row, to)
    }
    fn copy(&mut self, lc: Column<AnyColumn>, lr: usize, rc: Column<AnyColumn>, rr: usize) {
        self.0.copy(lc, lr, rc, rr)
    }
    fn fill_from_row(
        &mut self,
        c: Column<Fixed>,
        row: usize,
        to: Value<Assigned<F>>,
    ) -> Result<(), Error> {
        self.0.fill_from_row(c, row, to)
    }
    fn get_challenge(&self, c: Challenge) -> Value<F> {
        self.0.get_challenge(c)
    }
    fn push_namespace<NR: Into<String>, N: FnOnce() -> NR>(&mut self, name: N) {
        self.0.push_namespace(name)
    }
    fn pop_namespace(&mut self, name: Option<String>) {
        self.0.pop_namespace(name)
    }
    fn next_phase(&mut self) {
        self.0.next_phase()
    }
}
