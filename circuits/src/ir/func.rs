//! Elementwise nonlinear functions, evaluated in f64 (the same code fills the circuit's tables
//! and runs the float model, so both agree bit for bit).

use serde::{Deserialize, Serialize};

/// A nonlinear elementwise function.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub enum Func {
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `e^x`.
    Exp,
    /// `ln(x)`; for `x ≤ 0` the value at the smallest positive input of the table.
    Log,
    /// The error function.
    Erf,
    /// `x·Φ(x)` (ONNX `Gelu`, approximate = none).
    Gelu,
    /// The tanh approximation of GELU.
    GeluTanh,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `x` for `x ≥ 0`, `alpha·(e^x − 1)` otherwise.
    Elu {
        /// Negative-side factor.
        alpha: f32,
    },
    /// `gamma·x` for `x > 0`, `gamma·alpha·(e^x − 1)` otherwise.
    Selu {
        /// Negative-side factor.
        alpha: f32,
        /// Scale.
        gamma: f32,
    },
    /// `x^p` for a constant `p` (real exponents: `x ≥ 0`).
    Pow {
        /// Exponent.
        p: f32,
    },
}

impl Func {
    /// The function's value at `x`.
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Func::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Func::Tanh => x.tanh(),
            Func::Exp => x.exp(),
            Func::Log => x.ln(),
            Func::Erf => libm::erf(x),
            Func::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            Func::GeluTanh => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
            Func::Softplus => {
                if x > 30.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
            Func::Softsign => x / (1.0 + x.abs()),
            Func::Elu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    f64::from(alpha) * x.exp_m1()
                }
            }
            Func::Selu { alpha, gamma } => {
                let (a, g) = (f64::from(alpha), f64::from(gamma));
                if x > 0.0 {
                    g * x
                } else {
                    g * a * x.exp_m1()
                }
            }
            Func::Pow { p } => x.powf(f64::from(p)),
        }
    }

    /// Whether the function is only defined for positive inputs (its table starts above 0).
    pub fn positive_domain(self) -> bool {
        matches!(self, Func::Log) || matches!(self, Func::Pow { p } if p.fract() != 0.0)
    }

    /// A short name for plans and messages.
    pub fn name(self) -> &'static str {
        match self {
            Func::Sigmoid => "sigmoid",
            Func::Tanh => "tanh",
            Func::Exp => "exp",
            Func::Log => "log",
            Func::Erf => "erf",
            Func::Gelu => "gelu",
            Func::GeluTanh => "gelu-tanh",
            Func::Softplus => "softplus",
            Func::Softsign => "softsign",
            Func::Elu { .. } => "elu",
            Func::Selu { .. } => "selu",
            Func::Pow { .. } => "pow",
        }
    }
}
