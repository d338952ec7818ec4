//! The activation library: the elementwise activations of PyTorch's `torch.nn`, with their
//! parameters and defaults exactly as the modules define them, evaluated in f64.
//!
//! The f64 evaluation is the reference the hardware is judged against, so it uses the `libm`
//! crate (a port of musl's libm: `exp`, `expm1`, `log1p`, `tanh`, `erfc`, accurate to about
//! 1 ulp of f64) and numerically careful forms: the sigmoid of a negative x as `e^x/(1+e^x)`,
//! softplus as `max(z,0) + log1p(e^-|z|)`, GELU as `x·erfc(-x/√2)/2` (no cancellation in
//! `1 + erf` for negative x), GELU-tanh as `x·σ(2u)` (the same function: `1 + tanh(u) =
//! 2σ(2u)`). Their error is ~1e-16 relative, far below 1/16 of an output ULP of any format
//! of at most 24 bits.
//!
//! Seven activations are piecewise polynomials of degree ≤ 2 ([`Activation::piecewise`]) and
//! fold exactly into the comparator datapath; the others are smooth and are fitted
//! ([`crate::fit`]).

use super::field_error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// GELU's `approximate` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeluApproximate {
    /// `'none'`: `x·Φ(x)` with the exact normal CDF (erf).
    None,
    /// `'tanh'`: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    Tanh,
}

impl GeluApproximate {
    /// PyTorch's spelling.
    pub fn name(self) -> &'static str {
        match self {
            GeluApproximate::None => "none",
            GeluApproximate::Tanh => "tanh",
        }
    }
}

/// SELU's `alpha` (PyTorch's constant, from Klambauer et al. 2017).
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_284_817_042_991_671_7;
/// SELU's `scale`.
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_493_419_334_985_294_6;

/// One elementwise activation with its parameters, named and defaulted as in `torch.nn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "activation", rename_all = "snake_case")]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `min(max(0, x), 6)`.
    Relu6,
    /// `x` for `x ≥ 0`, else `negative_slope·x` (default 0.01).
    LeakyRelu {
        /// Slope for negative inputs.
        negative_slope: f64,
    },
    /// `x` for `x ≥ 0`, else `weight·x`; one weight or one per channel (default 0.25, PyTorch's
    /// `init`).
    Prelu {
        /// The learned slopes.
        weight: Vec<f64>,
    },
    /// `clip(x, min_val, max_val)` (defaults -1, 1).
    Hardtanh {
        /// Lower clip.
        min_val: f64,
        /// Upper clip.
        max_val: f64,
    },
    /// `x·relu6(x + 3)/6`.
    Hardswish,
    /// `relu6(x + 3)/6` (PyTorch's; Keras' slope-0.2 hard sigmoid is another function).
    Hardsigmoid,
    /// `x·σ(x)` (Swish with β = 1).
    Silu,
    /// `x·Φ(x)`, or its tanh approximation.
    Gelu {
        /// `'none'` (default) or `'tanh'`.
        approximate: GeluApproximate,
    },
    /// `1/(1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `x·tanh(softplus(x))`.
    Mish,
    /// `x` for `x > 0`, else `alpha·(e^x − 1)` (default 1).
    Elu {
        /// Scale of the negative part.
        alpha: f64,
    },
    /// `max(0, x) + min(0, alpha·(e^(x/alpha) − 1))` (default 1; alpha ≠ 0).
    Celu {
        /// Scale of the negative part.
        alpha: f64,
    },
    /// `scale·(max(0, x) + min(0, alpha·(e^x − 1)))` with PyTorch's constants.
    Selu,
    /// `log(1 + e^(beta·x))/beta`, and `x` where `beta·x > threshold` (defaults 1, 20).
    Softplus {
        /// Sharpness, > 0.
        beta: f64,
        /// Above `beta·x > threshold` the function is `x`.
        threshold: f64,
    },
    /// `x/(1 + |x|)`.
    Softsign,
}

/// A piecewise polynomial: strictly increasing breakpoints and, per channel, `[c0, c1, c2]`
/// per segment.
pub type Piecewise = (Vec<f64>, Vec<Vec<[f64; 3]>>);

/// One parameter of an activation, for help texts and documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    /// Its name, as PyTorch's keyword argument.
    pub name: &'static str,
    /// Its default, as text.
    pub default: &'static str,
}

/// One activation of the library, for help texts and documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationInfo {
    /// The snake_case name used in files and on the command line.
    pub name: &'static str,
    /// The `torch.nn` module.
    pub torch: &'static str,
    /// Its parameters, in PyTorch's order.
    pub params: &'static [ParamInfo],
    /// Whether it is a piecewise polynomial of degree ≤ 2 (folded exactly, not fitted).
    pub exact: bool,
}

const fn p(name: &'static str, default: &'static str) -> ParamInfo {
    ParamInfo { name, default }
}

const fn info(
    name: &'static str,
    torch: &'static str,
    params: &'static [ParamInfo],
    exact: bool,
) -> ActivationInfo {
    ActivationInfo {
        name,
        torch,
        params,
        exact,
    }
}

/// Every activation of the library, in the order the help and the README list them.
pub const ACTIVATIONS: &[ActivationInfo] = &[
    info("relu", "ReLU", &[], true),
    info("relu6", "ReLU6", &[], true),
    info(
        "leaky_relu",
        "LeakyReLU",
        &[p("negative_slope", "0.01")],
        true,
    ),
    info("prelu", "PReLU", &[p("weight", "0.25")], true),
    info(
        "hardtanh",
        "Hardtanh",
        &[p("min_val", "-1"), p("max_val", "1")],
        true,
    ),
    info("hardswish", "Hardswish", &[], true),
    info("hardsigmoid", "Hardsigmoid", &[], true),
    info("silu", "SiLU", &[], false),
    info("gelu", "GELU", &[p("approximate", "none")], false),
    info("sigmoid", "Sigmoid", &[], false),
    info("tanh", "Tanh", &[], false),
    info("mish", "Mish", &[], false),
    info("elu", "ELU", &[p("alpha", "1")], false),
    info("celu", "CELU", &[p("alpha", "1")], false),
    info("selu", "SELU", &[], false),
    info(
        "softplus",
        "Softplus",
        &[p("beta", "1"), p("threshold", "20")],
        false,
    ),
    info("softsign", "Softsign", &[], false),
];

/// A parameter value as a file or the command line gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A number.
    Num(f64),
    /// A list of numbers (PReLU's per-channel weight).
    Nums(Vec<f64>),
    /// A word (GELU's `approximate`).
    Text(String),
    /// Anything else, described for the error message (e.g. `an object`).
    Other(String),
}

impl ParamValue {
    fn describe(&self) -> String {
        match self {
            ParamValue::Num(x) => format!("the number {x}"),
            ParamValue::Nums(v) => format!("an array of {} numbers", v.len()),
            ParamValue::Text(s) => format!("the string {s:?}"),
            ParamValue::Other(d) => d.clone(),
        }
    }
}

fn field_error(field: &str, reason: impl Into<String>) -> FieldError {
    FieldError::new(field, reason)
}

/// Every activation name, comma-separated (for messages and `--help`).
pub fn activation_names() -> String {
    ACTIVATIONS
        .iter()
        .map(|a| a.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `--activation` help: the syntax and every name with its parameters and defaults.
pub fn cli_help() -> String {
    let mut out = String::from(
        "One library activation instead of a weights file: NAME[:PARAM=VALUE,...], defined and \
         defaulted as PyTorch's torch.nn module (the layer is named after it). Names:\n",
    );
    for a in ACTIVATIONS {
        let params: Vec<String> = a
            .params
            .iter()
            .map(|p| format!("{}={}", p.name, p.default))
            .collect();
        let kind = if a.exact { "exact" } else { "fitted" };
        out += &format!(
            "  {:<12} {:<12} {:<7} {}\n",
            a.name,
            a.torch,
            kind,
            params.join(",")
        );
    }
    out += "e.g. --activation gelu:approximate=tanh, --activation leaky_relu:negative_slope=0.1";
    out
}

/// A network of the one layer `activation`, named after it (what `--activation` builds).
pub fn single_layer_network(activation: &Activation) -> super::Network {
    super::Network {
        source: std::path::PathBuf::from(format!("--activation {}", activation.name())),
        layers: vec![super::Layer {
            name: activation.name().to_string(),
            kind: super::LayerKind::Activation(activation.clone()),
        }],
    }
}

/// The parameters given for one activation, taken out one by one so that leftovers are
/// reported as unknown.
struct Given<'a> {
    activation: &'static str,
    params: Vec<(&'a str, &'a ParamValue)>,
}

impl<'a> Given<'a> {
    fn take(&mut self, name: &str) -> Option<&'a ParamValue> {
        let i = self.params.iter().position(|(k, _)| *k == name)?;
        Some(self.params.remove(i).1)
    }

    fn number(&mut self, name: &str, default: f64) -> Result<f64, FieldError> {
        match self.take(name) {
            None => Ok(default),
            Some(ParamValue::Num(x)) if x.is_finite() => Ok(*x),
            Some(ParamValue::Num(x)) => Err(field_error(
                name,
                format!("must be a finite number, got {x}"),
            )),
            Some(other) => Err(field_error(
                name,
                format!("must be a number, got {}", other.describe()),
            )),
        }
    }

    fn finish(self, info: &ActivationInfo) -> Result<(), FieldError> {
        match self.params.first() {
            None => Ok(()),
            Some((k, _)) => {
                let takes = if info.params.is_empty() {
                    "takes no parameters".to_string()
                } else {
                    let names: Vec<_> = info.params.iter().map(|p| p.name).collect();
                    format!("takes {}", names.join(", "))
                };
                Err(field_error(
                    k,
                    format!("unknown parameter: `{}` {takes}", self.activation),
                ))
            }
        }
    }
}

impl Activation {
    /// Builds an activation from its name and the parameters given (missing ones take
    /// PyTorch's defaults), validating every value.
    ///
    /// Errors name the field: `activation` for an unknown name, the parameter's name for an
    /// unknown, mistyped or out-of-range parameter.
    pub fn from_params(name: &str, params: &[(String, ParamValue)]) -> Result<Self, FieldError> {
        let info = ACTIVATIONS.iter().find(|a| a.name == name).ok_or_else(|| {
            field_error(
                "activation",
                format!("unknown activation `{name}`; known: {}", activation_names()),
            )
        })?;
        for (i, (k, _)) in params.iter().enumerate() {
            if params[..i].iter().any(|(e, _)| e == k) {
                return Err(field_error(k, "given twice"));
            }
        }
        let mut given = Given {
            activation: info.name,
            params: params.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        };
        let act = match info.name {
            "relu" => Activation::Relu,
            "relu6" => Activation::Relu6,
            "leaky_relu" => Activation::LeakyRelu {
                negative_slope: given.number("negative_slope", 0.01)?,
            },
            "prelu" => {
                let weight = match given.take("weight") {
                    None => vec![0.25],
                    Some(ParamValue::Num(x)) => vec![*x],
                    Some(ParamValue::Nums(v)) => v.clone(),
                    Some(other) => {
                        return Err(field_error(
                            "weight",
                            format!(
                                "must be a number or an array of numbers (one per channel), got {}",
                                other.describe()
                            ),
                        ))
                    }
                };
                if weight.is_empty() {
                    return Err(field_error("weight", "must hold at least one value"));
                }
                if let Some((i, x)) = weight.iter().enumerate().find(|(_, x)| !x.is_finite()) {
                    return Err(field_error(
                        &format!("weight[{i}]"),
                        format!("must be a finite number, got {x}"),
                    ));
                }
                Activation::Prelu { weight }
            }
            "hardtanh" => {
                let min_val = given.number("min_val", -1.0)?;
                let max_val = given.number("max_val", 1.0)?;
                if min_val >= max_val {
                    return Err(field_error(
                        "max_val",
                        format!("must be greater than min_val ({min_val}), got {max_val}"),
                    ));
                }
                Activation::Hardtanh { min_val, max_val }
            }
            "hardswish" => Activation::Hardswish,
            "hardsigmoid" => Activation::Hardsigmoid,
            "silu" => Activation::Silu,
            "gelu" => {
                let approximate = match given.take("approximate") {
                    None => GeluApproximate::None,
                    Some(ParamValue::Text(s)) if s == "none" => GeluApproximate::None,
                    Some(ParamValue::Text(s)) if s == "tanh" => GeluApproximate::Tanh,
                    Some(other) => {
                        return Err(field_error(
                            "approximate",
                            format!("must be \"none\" or \"tanh\", got {}", other.describe()),
                        ))
                    }
                };
                Activation::Gelu { approximate }
            }
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "mish" => Activation::Mish,
            "elu" => Activation::Elu {
                alpha: given.number("alpha", 1.0)?,
            },
            "celu" => {
                let alpha = given.number("alpha", 1.0)?;
                if alpha == 0.0 {
                    return Err(field_error(
                        "alpha",
                        "must not be 0 (CELU divides by alpha)",
                    ));
                }
                Activation::Celu { alpha }
            }
            "selu" => Activation::Selu,
            "softplus" => {
                let beta = given.number("beta", 1.0)?;
                let threshold = given.number("threshold", 20.0)?;
                if beta <= 0.0 {
                    return Err(field_error("beta", format!("must be > 0, got {beta}")));
                }
                Activation::Softplus { beta, threshold }
            }
            "softsign" => Activation::Softsign,
            other => {
                return Err(FieldError::internal(
                    "activation",
                    format!("`{other}` is listed but not built"),
                ))
            }
        };
        given.finish(info)?;
        Ok(act)
    }

    /// Parses the command-line form `NAME[:PARAM=VALUE,...]`, e.g. `leaky_relu:negative_slope=0.1`
    /// or `gelu:approximate=tanh`. Numbers are read exactly (Rust's correctly rounded parser).
    pub fn parse_cli(text: &str) -> Result<Self, String> {
        let (name, rest) = match text.split_once(':') {
            Some((n, r)) => (n.trim(), Some(r)),
            None => (text.trim(), None),
        };
        let mut params = Vec::new();
        for item in rest.into_iter().flat_map(|r| r.split(',')) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                format!("`{item}`: parameters are written PARAM=VALUE, e.g. leaky_relu:negative_slope=0.1")
            })?;
            let (k, v) = (k.trim(), v.trim());
            let value = match v.parse::<f64>() {
                Ok(x) => ParamValue::Num(x),
                Err(_) => ParamValue::Text(v.to_string()),
            };
            params.push((k.to_string(), value));
        }
        Activation::from_params(name, &params).map_err(|e| {
            if e.field == "activation" {
                e.reason
            } else {
                format!("{name}: parameter `{}`: {}", e.field, e.reason)
            }
        })
    }

    /// The snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Prelu { .. } => "prelu",
            Activation::Hardtanh { .. } => "hardtanh",
            Activation::Hardswish => "hardswish",
            Activation::Hardsigmoid => "hardsigmoid",
            Activation::Silu => "silu",
            Activation::Gelu { .. } => "gelu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Mish => "mish",
            Activation::Elu { .. } => "elu",
            Activation::Celu { .. } => "celu",
            Activation::Selu => "selu",
            Activation::Softplus { .. } => "softplus",
            Activation::Softsign => "softsign",
        }
    }

    /// Its entry in [`ACTIVATIONS`].
    pub fn info(&self) -> &'static ActivationInfo {
        let name = self.name();
        ACTIVATIONS
            .iter()
            .find(|a| a.name == name)
            .unwrap_or(&ACTIVATIONS[0])
    }

    /// Every parameter with its value (defaults included), in PyTorch's order.
    pub fn params(&self) -> Vec<(&'static str, ParamValue)> {
        use ParamValue::{Num, Nums, Text};
        match self {
            Activation::LeakyRelu { negative_slope } => {
                vec![("negative_slope", Num(*negative_slope))]
            }
            Activation::Prelu { weight } => vec![("weight", Nums(weight.clone()))],
            Activation::Hardtanh { min_val, max_val } => {
                vec![("min_val", Num(*min_val)), ("max_val", Num(*max_val))]
            }
            Activation::Gelu { approximate } => {
                vec![("approximate", Text(approximate.name().to_string()))]
            }
            Activation::Elu { alpha } | Activation::Celu { alpha } => vec![("alpha", Num(*alpha))],
            Activation::Softplus { beta, threshold } => {
                vec![("beta", Num(*beta)), ("threshold", Num(*threshold))]
            }
            _ => Vec::new(),
        }
    }

    /// Number of channels (PReLU's weights; 1 for every other activation).
    pub fn channels(&self) -> usize {
        match self {
            Activation::Prelu { weight } => weight.len(),
            _ => 1,
        }
    }

    /// Whether it is a piecewise polynomial of degree ≤ 2 (see [`Activation::piecewise`]).
    pub fn is_exact(&self) -> bool {
        self.info().exact
    }

    /// The function of channel `channel` at `x`, in f64.
    pub fn eval(&self, channel: usize, x: f64) -> f64 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::LeakyRelu { negative_slope } => leaky(x, *negative_slope),
            Activation::Prelu { weight } => leaky(x, weight[channel]),
            Activation::Hardtanh { min_val, max_val } => x.clamp(*min_val, *max_val),
            Activation::Hardswish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::Hardsigmoid => (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::Silu => x * sigmoid(x),
            Activation::Gelu {
                approximate: GeluApproximate::None,
            } => 0.5 * x * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2),
            Activation::Gelu {
                approximate: GeluApproximate::Tanh,
            } => {
                let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
                x * sigmoid(2.0 * u)
            }
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => libm::tanh(x),
            Activation::Mish => x * libm::tanh(softplus(x)),
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * libm::expm1(x)
                }
            }
            Activation::Celu { alpha } => x.max(0.0) + (alpha * libm::expm1(x / alpha)).min(0.0),
            Activation::Selu => {
                SELU_SCALE
                    * if x > 0.0 {
                        x
                    } else {
                        SELU_ALPHA * libm::expm1(x)
                    }
            }
            Activation::Softplus { beta, threshold } => {
                let z = beta * x;
                if z > *threshold {
                    x
                } else {
                    softplus(z) / beta
                }
            }
            Activation::Softsign => x / (1.0 + x.abs()),
        }
    }

    /// The activation as a piecewise polynomial, when it is one: strictly increasing
    /// breakpoints and, per channel, `[c0, c1, c2]` per segment (segment `i` covers
    /// `[b[i-1], b[i])`). `None` for the smooth activations.
    pub fn piecewise(&self) -> Option<Piecewise> {
        const ZERO: [f64; 3] = [0.0; 3];
        const IDENTITY: [f64; 3] = [0.0, 1.0, 0.0];
        let constant = |c: f64| [c, 0.0, 0.0];
        let one = |b: Vec<f64>, s: Vec<[f64; 3]>| Some((b, vec![s]));
        match self {
            Activation::Relu => one(vec![0.0], vec![ZERO, IDENTITY]),
            Activation::Relu6 => one(vec![0.0, 6.0], vec![ZERO, IDENTITY, constant(6.0)]),
            Activation::LeakyRelu { negative_slope } => {
                one(vec![0.0], vec![[0.0, *negative_slope, 0.0], IDENTITY])
            }
            Activation::Prelu { weight } => Some((
                vec![0.0],
                weight
                    .iter()
                    .map(|&w| vec![[0.0, w, 0.0], IDENTITY])
                    .collect(),
            )),
            Activation::Hardtanh { min_val, max_val } => one(
                vec![*min_val, *max_val],
                vec![constant(*min_val), IDENTITY, constant(*max_val)],
            ),
            // x·(x+3)/6 = x²/6 + x/2 on [-3, 3).
            Activation::Hardswish => {
                one(vec![-3.0, 3.0], vec![ZERO, [0.0, 0.5, 1.0 / 6.0], IDENTITY])
            }
            Activation::Hardsigmoid => one(
                vec![-3.0, 3.0],
                vec![ZERO, [0.5, 1.0 / 6.0, 0.0], constant(1.0)],
            ),
            _ => None,
        }
    }
}

/// Shown in reports (the variant column): the name with every parameter that is not the
/// default, e.g. `leaky_relu(negative_slope=0.1)`; PReLU shows its channel count.
impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.info();
        let mut parts = Vec::new();
        for ((name, value), pi) in self.params().iter().zip(info.params) {
            let text = match value {
                ParamValue::Num(x) => {
                    if pi.default.parse::<f64>() == Ok(*x) {
                        continue;
                    }
                    format!("{name}={x}")
                }
                ParamValue::Nums(v) if v.len() == 1 => format!("{name}={}", v[0]),
                ParamValue::Nums(v) => format!("{} channels", v.len()),
                ParamValue::Text(s) if s == pi.default => continue,
                ParamValue::Text(s) => format!("{name}={s}"),
                ParamValue::Other(_) => continue,
            };
            parts.push(text);
        }
        if parts.is_empty() {
            f.write_str(info.name)
        } else {
            write!(f, "{}({})", info.name, parts.join(", "))
        }
    }
}

fn leaky(x: f64, slope: f64) -> f64 {
    if x >= 0.0 {
        x
    } else {
        slope * x
    }
}

/// `1/(1 + e^-x)`, without overflow or cancellation for negative x.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

/// `log(1 + e^z)` for any z: `max(z, 0) + log1p(e^-|z|)`.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + libm::log1p(libm::exp(-z.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(text: &str) -> Activation {
        Activation::parse_cli(text).unwrap()
    }

    #[test]
    fn every_listed_name_builds_with_defaults() {
        for a in ACTIVATIONS {
            let built = Activation::from_params(a.name, &[]).unwrap();
            assert_eq!(built.name(), a.name);
            assert_eq!(built.is_exact(), built.piecewise().is_some(), "{}", a.name);
            let params: Vec<_> = built.params().iter().map(|(n, _)| *n).collect();
            let listed: Vec<_> = a.params.iter().map(|p| p.name).collect();
            assert_eq!(params, listed, "{}", a.name);
        }
    }

    #[test]
    fn defaults_are_pytorchs() {
        assert_eq!(
            act("leaky_relu"),
            Activation::LeakyRelu {
                negative_slope: 0.01
            }
        );
        assert_eq!(act("prelu"), Activation::Prelu { weight: vec![0.25] });
        assert_eq!(
            act("hardtanh"),
            Activation::Hardtanh {
                min_val: -1.0,
                max_val: 1.0
            }
        );
        assert_eq!(
            act("softplus"),
            Activation::Softplus {
                beta: 1.0,
                threshold: 20.0
            }
        );
        assert_eq!(act("elu"), Activation::Elu { alpha: 1.0 });
        assert_eq!(act("celu"), Activation::Celu { alpha: 1.0 });
        assert_eq!(
            act("gelu"),
            Activation::Gelu {
                approximate: GeluApproximate::None
            }
        );
        assert_eq!(
            act("gelu:approximate=tanh"),
            Activation::Gelu {
                approximate: GeluApproximate::Tanh
            }
        );
    }

    #[test]
    fn out_of_range_parameters_name_the_field() {
        let err = |text: &str| {
            let (name, rest) = text.split_once(':').unwrap_or((text, ""));
            let params: Vec<(String, ParamValue)> = rest
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), ParamValue::Num(v.parse().unwrap()))
                })
                .collect();
            Activation::from_params(name, &params).unwrap_err()
        };
        assert_eq!(err("celu:alpha=0").field, "alpha");
        assert_eq!(err("softplus:beta=0").field, "beta");
        assert_eq!(err("softplus:beta=-1").field, "beta");
        assert_eq!(err("hardtanh:min_val=1,max_val=1").field, "max_val");
        assert_eq!(err("hardtanh:min_val=2").field, "max_val");
        assert_eq!(err("relu:alpha=1").field, "alpha");
        assert_eq!(err("elu:alpha=1,beta=2").field, "beta");
        assert_eq!(err("nope").field, "activation");
        assert!(Activation::parse_cli("gelu:approximate=fast")
            .unwrap_err()
            .contains("approximate"));
        assert!(Activation::parse_cli("elu:alpha").is_err());
        assert!(Activation::parse_cli("elu:alpha=nan").is_err());
        assert!(Activation::parse_cli("elu:alpha=1,alpha=2")
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn display_shows_non_default_parameters() {
        assert_eq!(act("leaky_relu").to_string(), "leaky_relu");
        assert_eq!(
            act("leaky_relu:negative_slope=0.1").to_string(),
            "leaky_relu(negative_slope=0.1)"
        );
        assert_eq!(
            act("gelu:approximate=tanh").to_string(),
            "gelu(approximate=tanh)"
        );
        assert_eq!(act("prelu").to_string(), "prelu(weight=0.25)");
    }

    #[test]
    fn piecewise_forms_equal_the_definitions() {
        for a in ACTIVATIONS.iter().filter(|a| a.exact) {
            let f = Activation::from_params(a.name, &[]).unwrap();
            let (b, segs) = f.piecewise().unwrap();
            for i in -4000..=4000 {
                let x = i as f64 / 512.0;
                let s = b.iter().take_while(|&&t| t <= x).count();
                let [c0, c1, c2] = segs[0][s];
                let folded = c0 + x * (c1 + c2 * x);
                let exact = f.eval(0, x);
                assert!(
                    (folded - exact).abs() <= 1e-15 * exact.abs().max(1.0),
                    "{} at {x}: {folded} vs {exact}",
                    a.name
                );
            }
        }
    }

    #[test]
    fn smooth_functions_at_known_points() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * b.abs().max(1e-300);
        assert!(close(act("sigmoid").eval(0, 0.0), 0.5));
        assert!(close(act("sigmoid").eval(0, -800.0), 0.0));
        assert!(close(act("silu").eval(0, 1.0), 0.731_058_578_630_004_9));
        // GELU(1) = Φ(1) = 0.841344746068543.
        assert!(close(act("gelu").eval(0, 1.0), 0.841_344_746_068_542_9));
        assert!(close(
            act("gelu:approximate=tanh").eval(0, 1.0),
            0.841_191_990_608_276_8
        ));
        assert!(close(act("mish").eval(0, 1.0), 0.865_098_388_267_310_3));
        assert!(close(act("elu").eval(0, -1.0), -0.632_120_558_828_557_7));
        assert!(close(act("selu").eval(0, -1.0), -1.111_330_737_812_562_5));
        assert!(close(act("softplus").eval(0, 0.0), std::f64::consts::LN_2));
        assert!(close(act("softplus").eval(0, 30.0), 30.0));
        assert!(close(
            act("softplus:beta=2").eval(0, 0.0),
            std::f64::consts::LN_2 / 2.0
        ));
        assert!(close(act("softsign").eval(0, 1.0), 0.5));
        assert!(close(
            act("celu:alpha=2").eval(0, -2.0),
            2.0 * (libm::exp(-1.0) - 1.0)
        ));
        assert_eq!(act("gelu").eval(0, -40.0), -0.0);
    }
}
