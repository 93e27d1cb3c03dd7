//! Elementwise nonlinear functions, evaluated in f64 (the same code fills the circuit's tables
//! and runs the float model, so both agree bit for bit).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::Composite;

/// A nonlinear elementwise function.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// `max(0, x) + min(0, alpha·(e^(x/alpha) − 1))`.
    Celu {
        /// Scale of the negative side.
        alpha: f32,
    },
    /// `x · max(0, min(1, x/6 + 1/2))`.
    HardSwish,
    /// `x · tanh(ln(1 + e^x))`.
    Mish,
    /// `x` for `x > alpha`, else `0`.
    ThresholdedRelu {
        /// The threshold.
        alpha: f32,
    },
    /// `x − bias` for `x > lambd`, `x + bias` for `x < −lambd`, else `0`.
    Shrink {
        /// The threshold.
        lambd: f32,
        /// The shift.
        bias: f32,
    },
    /// A trigonometric or hyperbolic function.
    Trig(Trig),
    /// A chain of elementwise operations of one value ([`Composite`]).
    Composite(Box<Composite>),
}

/// Trigonometric and hyperbolic functions (inverse functions clamp their argument to their
/// domain, so a table never holds a NaN).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Trig {
    /// sine
    Sin,
    /// cosine
    Cos,
    /// tangent
    Tan,
    /// arcsine on [−1, 1]
    Asin,
    /// arccosine on [−1, 1]
    Acos,
    /// arctangent
    Atan,
    /// hyperbolic sine
    Sinh,
    /// hyperbolic cosine
    Cosh,
    /// inverse hyperbolic sine
    Asinh,
    /// inverse hyperbolic cosine on [1, ∞)
    Acosh,
    /// inverse hyperbolic tangent on (−1, 1)
    Atanh,
}

impl Trig {
    /// The ONNX operator of this function.
    pub fn from_onnx(op: &str) -> Option<Self> {
        Some(match op {
            "Sin" => Trig::Sin,
            "Cos" => Trig::Cos,
            "Tan" => Trig::Tan,
            "Asin" => Trig::Asin,
            "Acos" => Trig::Acos,
            "Atan" => Trig::Atan,
            "Sinh" => Trig::Sinh,
            "Cosh" => Trig::Cosh,
            "Asinh" => Trig::Asinh,
            "Acosh" => Trig::Acosh,
            "Atanh" => Trig::Atanh,
            _ => return None,
        })
    }

    fn eval(self, x: f64) -> f64 {
        let unit = x.clamp(-1.0, 1.0);
        match self {
            Trig::Sin => x.sin(),
            Trig::Cos => x.cos(),
            Trig::Tan => x.tan(),
            Trig::Asin => unit.asin(),
            Trig::Acos => unit.acos(),
            Trig::Atan => x.atan(),
            Trig::Sinh => x.sinh(),
            Trig::Cosh => x.cosh(),
            Trig::Asinh => x.asinh(),
            Trig::Acosh => x.max(1.0).acosh(),
            Trig::Atanh => x.clamp(-1.0 + 1e-7, 1.0 - 1e-7).atanh(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Trig::Sin => "sin",
            Trig::Cos => "cos",
            Trig::Tan => "tan",
            Trig::Asin => "asin",
            Trig::Acos => "acos",
            Trig::Atan => "atan",
            Trig::Sinh => "sinh",
            Trig::Cosh => "cosh",
            Trig::Asinh => "asinh",
            Trig::Acosh => "acosh",
            Trig::Atanh => "atanh",
        }
    }
}

impl Func {
    /// The function's value at `x`.
    pub fn eval(&self, x: f64) -> f64 {
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
                    f64::from(*alpha) * x.exp_m1()
                }
            }
            Func::Selu { alpha, gamma } => {
                let (a, g) = (f64::from(*alpha), f64::from(*gamma));
                if x > 0.0 {
                    g * x
                } else {
                    g * a * x.exp_m1()
                }
            }
            Func::Pow { p } => x.powf(f64::from(*p)),
            Func::Celu { alpha } => {
                let a = f64::from(*alpha);
                x.max(0.0) + (a * (x / a).exp_m1()).min(0.0)
            }
            Func::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Func::Mish => x * Func::Softplus.eval(x).tanh(),
            Func::ThresholdedRelu { alpha } => {
                if x > f64::from(*alpha) {
                    x
                } else {
                    0.0
                }
            }
            Func::Shrink { lambd, bias } => {
                let (l, b) = (f64::from(*lambd), f64::from(*bias));
                if x > l {
                    x - b
                } else if x < -l {
                    x + b
                } else {
                    0.0
                }
            }
            Func::Trig(t) => t.eval(x),
            Func::Composite(c) => c.eval(x),
        }
    }

    /// Whether the function is only defined for inputs ≥ 0 (its tables start at 0).
    pub fn positive_domain(&self) -> bool {
        matches!(self, Func::Log) || matches!(self, Func::Pow { p } if p.fract() != 0.0)
    }

    /// A short name for plans and messages (a composite's is the function written out).
    pub fn name(&self) -> Cow<'static, str> {
        if let Func::Composite(c) = self {
            return c.describe().into();
        }
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
            Func::Celu { .. } => "celu",
            Func::HardSwish => "hardswish",
            Func::Mish => "mish",
            Func::ThresholdedRelu { .. } => "thresholded-relu",
            Func::Shrink { .. } => "shrink",
            Func::Trig(t) => t.name(),
            Func::Composite(_) => "composite",
        }
        .into()
    }
}
