//! A function of one real number built from the IR's elementwise primitives: what a chain of
//! elementwise operations of one tensor computes for each of its elements (SiLU as
//! `x·σ(x)`, GELU as exporters write it, `x·tanh(softplus(x))`, a chain of trigonometric
//! functions). It is a [`super::Func`], so it is proven by one lookup per element in a table of
//! its values ([`crate::ir::fuse`] finds the chains).
//!
//! The steps are evaluated in f64 in the order the float executor runs the nodes they come
//! from, with the same operations, so a fused chain's value is the unfused chain's.

use serde::{Deserialize, Serialize};

use super::Func;

/// Most steps a composite holds (a longer chain is fused in parts).
pub const MAX_STEPS: usize = 24;

/// One step of a [`Composite`]: a value computed from earlier ones (`v[0]` is the input,
/// step `i` computes `v[i + 1]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Step {
    /// `Σ w·v[a] + bias` (an elementwise affine map, a sum or a difference).
    Sum {
        /// `(a, w)` per term.
        terms: Vec<(u32, f32)>,
        /// The constant added.
        bias: f32,
    },
    /// `v[a] · v[b] · scale`.
    Product {
        /// The first factor.
        a: u32,
        /// The second factor.
        b: u32,
        /// The constant factor.
        scale: f32,
    },
    /// `max(v[a], 0)`.
    Relu(u32),
    /// `min(max(v[a], 0), hi)`.
    Clamp {
        /// The argument.
        a: u32,
        /// The upper bound.
        hi: f32,
    },
    /// `f(v[a])`.
    Func {
        /// The argument.
        a: u32,
        /// The function.
        f: Func,
    },
}

/// A function of one real number: [`Step`]s over the input, the last one's value the result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Composite {
    /// The steps, in order (at most [`MAX_STEPS`] are evaluated).
    pub steps: Vec<Step>,
}

impl Composite {
    /// The value at `x` (NaN where a step reads a value not yet computed: a malformed
    /// composite, never one the fusion builds).
    pub fn eval(&self, x: f64) -> f64 {
        let mut v = [f64::NAN; MAX_STEPS + 1];
        v[0] = x;
        let n = self.steps.len().min(MAX_STEPS);
        for (i, step) in self.steps[..n].iter().enumerate() {
            let at = |j: u32| {
                if (j as usize) <= i {
                    v[j as usize]
                } else {
                    f64::NAN
                }
            };
            v[i + 1] = match step {
                Step::Sum { terms, bias } => {
                    let mut acc = 0f64;
                    for &(a, w) in terms {
                        acc += f64::from(w) * at(a);
                    }
                    acc + f64::from(*bias)
                }
                Step::Product { a, b, scale } => at(*a) * at(*b) * f64::from(*scale),
                Step::Relu(a) => at(*a).max(0.0),
                Step::Clamp { a, hi } => at(*a).max(0.0).min(f64::from(*hi)),
                Step::Func { a, f } => f.eval(at(*a)),
            };
        }
        v[n]
    }

    /// The function written out, `x` its input (`x·sigmoid(x)`), for plans and messages.
    pub fn describe(&self) -> String {
        let mut v: Vec<(String, bool)> = vec![("x".into(), true)];
        let atom = |v: &[(String, bool)], j: u32| -> String {
            match v.get(j as usize) {
                Some((s, true)) => s.clone(),
                Some((s, false)) => format!("({s})"),
                None => "?".into(),
            }
        };
        for step in &self.steps {
            let s = match step {
                Step::Sum { terms, bias } => {
                    let mut parts: Vec<String> = terms
                        .iter()
                        .map(|&(a, w)| match w {
                            1.0 => atom(&v, a),
                            -1.0 => format!("−{}", atom(&v, a)),
                            _ => format!("{}·{}", number(w), atom(&v, a)),
                        })
                        .collect();
                    if *bias != 0.0 {
                        parts.push(number(*bias));
                    }
                    let single = parts.len() == 1;
                    (
                        parts.join(" + "),
                        single && terms.len() <= 1 && *bias == 0.0,
                    )
                }
                Step::Product { a, b, scale } => {
                    let p = format!("{}·{}", atom(&v, *a), atom(&v, *b));
                    if *scale == 1.0 {
                        (p, true)
                    } else {
                        (format!("{}·{p}", number(*scale)), true)
                    }
                }
                Step::Relu(a) => (format!("relu({})", inner(&v, *a)), true),
                Step::Clamp { a, hi } => (
                    format!("clamp({}, 0, {})", inner(&v, *a), number(*hi)),
                    true,
                ),
                Step::Func { a, f } => (format!("{}({})", f.name(), inner(&v, *a)), true),
            };
            v.push(s);
        }
        v.pop().map_or_else(String::new, |(s, _)| s)
    }
}

/// Value `j`'s text without parentheses (a function's argument).
fn inner(v: &[(String, bool)], j: u32) -> &str {
    v.get(j as usize).map_or("?", |s| &s.0)
}

/// `w` with four significant digits, trailing zeros dropped.
fn number(w: f32) -> String {
    let w = f64::from(w);
    if w == 0.0 {
        return "0".into();
    }
    let digits = 3i32
        .saturating_sub(w.abs().log10().floor() as i32)
        .clamp(0, 8) as usize;
    let s = format!("{w:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}
