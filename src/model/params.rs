//! Typed, validated parameters of one trained activation layer, as read from a weights file.

pub use super::field_error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The RepAct module class a layer was trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// RepAct-I (`RepAct_Origin`): the ActorAtn weights are used as they are.
    Origin,
    /// RepAct-II (`RepAct_Softmax`): softmax of the ActorAtn weights.
    Softmax,
    /// RepAct-III (`RepAct_BN`): RepAct-I followed by an eval-mode BatchNorm.
    Bn,
}

impl Variant {
    /// All variants, in the order the CLI lists them.
    pub const ALL: [Variant; 3] = [Variant::Origin, Variant::Softmax, Variant::Bn];

    /// The branch order the RepAct training modules apply ActorAtn in.
    pub fn default_branch_order(self) -> BranchOrder {
        use Branch::*;
        match self {
            Variant::Origin | Variant::Bn => BranchOrder([Identity, Relu, Hardswish, Prelu]),
            Variant::Softmax => BranchOrder([Identity, Relu, Prelu, Hardswish]),
        }
    }

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Origin => "origin",
            Variant::Softmax => "softmax",
            Variant::Bn => "bn",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| format!("unknown variant `{s}` (expected origin, softmax or bn)"))
    }
}

/// One branch of the RepAct sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Branch {
    /// `x`
    Identity,
    /// `max(x, 0)`
    Relu,
    /// `x * clip(x + 3, 0, 6) / 6`
    Hardswish,
    /// `x` for `x >= 0`, else `p * x`
    Prelu,
}

impl Branch {
    /// All branches.
    pub const ALL: [Branch; 4] = [
        Branch::Identity,
        Branch::Relu,
        Branch::Hardswish,
        Branch::Prelu,
    ];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Branch::Identity => "identity",
            Branch::Relu => "relu",
            Branch::Hardswish => "hardswish",
            Branch::Prelu => "prelu",
        }
    }

    /// The branch evaluated in f64 (`p` is the PReLU slope).
    pub fn eval(self, x: f64, p: f64) -> f64 {
        match self {
            Branch::Identity => x,
            Branch::Relu => x.max(0.0),
            Branch::Hardswish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Branch::Prelu => {
                if x >= 0.0 {
                    x
                } else {
                    p * x
                }
            }
        }
    }
}

impl FromStr for Branch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Branch::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                format!("unknown branch `{s}` (expected identity, relu, hardswish or prelu)")
            })
    }
}

/// Which branch each ActorAtn entry multiplies: a permutation of the four branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchOrder(pub [Branch; 4]);

impl BranchOrder {
    /// Validates that `branches` names each of the four branches exactly once.
    pub fn new(branches: &[Branch]) -> Result<Self, String> {
        let arr: [Branch; 4] = branches
            .try_into()
            .map_err(|_| format!("needs exactly 4 branches, got {}", branches.len()))?;
        for b in Branch::ALL {
            if !arr.contains(&b) {
                return Err(format!(
                    "must name each of identity, relu, hardswish, prelu once; `{}` is missing",
                    b.name()
                ));
            }
        }
        Ok(BranchOrder(arr))
    }

    /// Parses a comma-separated list such as `identity,relu,prelu,hardswish`.
    pub fn parse_list(s: &str) -> Result<Self, String> {
        let branches = s
            .split(',')
            .map(|p| p.trim().parse::<Branch>())
            .collect::<Result<Vec<_>, _>>()?;
        BranchOrder::new(&branches)
    }
}

impl fmt::Display for BranchOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.0.iter().map(|b| b.name()).collect();
        f.write_str(&names.join(","))
    }
}

/// Eval-mode BatchNorm parameters (a single feature, as RepAct_BN uses `BatchNorm2d(1)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm {
    /// `bn.weight` (gamma).
    pub weight: f64,
    /// `bn.bias` (beta).
    pub bias: f64,
    /// `bn.running_mean`.
    pub running_mean: f64,
    /// `bn.running_var`; must be >= 0.
    pub running_var: f64,
    /// `bn.eps`; must be > 0 (PyTorch's default is 1e-5).
    pub eps: f64,
}

impl BatchNorm {
    /// `y -> y * scale + shift` with `scale = weight / sqrt(var + eps)`.
    pub fn scale_shift(&self) -> (f64, f64) {
        let scale = self.weight / (self.running_var + self.eps).sqrt();
        (scale, self.bias - self.running_mean * scale)
    }
}

fn check_finite(field: &str, values: &[f64]) -> Result<(), FieldError> {
    for (i, v) in values.iter().enumerate() {
        if !v.is_finite() {
            let name = if values.len() == 1 {
                field.to_string()
            } else {
                format!("{field}[{i}]")
            };
            return Err(FieldError::new(
                name,
                format!("must be a finite number, got {v}"),
            ));
        }
    }
    Ok(())
}

/// The trained parameters of one RepAct layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepActParams {
    /// Which module class (and so which folding) applies.
    pub variant: Variant,
    /// The four learned branch weights, in file order.
    pub actor_atn: [f64; 4],
    /// Which branch each ActorAtn entry multiplies.
    pub branch_order: BranchOrder,
    /// The PReLU slope: one value, or one per channel.
    pub prelu_weight: Vec<f64>,
    /// The BatchNorm after the sum (variant `bn` only).
    pub bn: Option<BatchNorm>,
}

/// The most channels (per-channel PReLU slopes) a layer may have: the register map's channel
/// count is 16 bits.
pub const MAX_CHANNELS: usize = 1 << 16;

impl RepActParams {
    /// Validates the parameters: finite values, a BatchNorm exactly when the variant is `bn`,
    /// `running_var >= 0`, `eps > 0`, one to [`MAX_CHANNELS`] PReLU slopes.
    pub fn new(
        variant: Variant,
        actor_atn: [f64; 4],
        branch_order: Option<BranchOrder>,
        prelu_weight: Vec<f64>,
        bn: Option<BatchNorm>,
    ) -> Result<Self, FieldError> {
        check_finite("actor_atn", &actor_atn)?;
        if prelu_weight.is_empty() {
            return Err(FieldError::new(
                "prelu_weight",
                "must hold at least one value",
            ));
        }
        if prelu_weight.len() > MAX_CHANNELS {
            return Err(FieldError::new(
                "prelu_weight",
                format!(
                    "holds {} slopes: at most {MAX_CHANNELS} channels are supported (the \
                     register map's channel count is 16 bits)",
                    prelu_weight.len()
                ),
            ));
        }
        check_finite("prelu_weight", &prelu_weight)?;
        match (variant, &bn) {
            (Variant::Bn, None) => {
                return Err(FieldError::new("bn", "is required for variant `bn`"))
            }
            (Variant::Bn, Some(bn)) => {
                check_finite("bn.weight", &[bn.weight])?;
                check_finite("bn.bias", &[bn.bias])?;
                check_finite("bn.running_mean", &[bn.running_mean])?;
                check_finite("bn.running_var", &[bn.running_var])?;
                check_finite("bn.eps", &[bn.eps])?;
                if bn.running_var < 0.0 {
                    return Err(FieldError::new(
                        "bn.running_var",
                        format!("must be >= 0, got {}", bn.running_var),
                    ));
                }
                if bn.eps <= 0.0 {
                    return Err(FieldError::new(
                        "bn.eps",
                        format!("must be > 0, got {}", bn.eps),
                    ));
                }
            }
            (v, Some(_)) => {
                return Err(FieldError::new(
                    "bn",
                    format!("is only allowed for variant `bn`, this layer is `{v}`"),
                ))
            }
            (_, None) => {}
        }
        Ok(RepActParams {
            variant,
            actor_atn,
            branch_order: branch_order.unwrap_or(variant.default_branch_order()),
            prelu_weight,
            bn,
        })
    }

    /// Number of channels (1 unless the PReLU is per-channel).
    pub fn channels(&self) -> usize {
        self.prelu_weight.len()
    }

    /// The branch weights after the variant's transform (softmax for `softmax`).
    pub fn effective_weights(&self) -> [f64; 4] {
        match self.variant {
            Variant::Softmax => {
                let m = self
                    .actor_atn
                    .iter()
                    .cloned()
                    .fold(f64::NEG_INFINITY, f64::max);
                let e = self.actor_atn.map(|a| (a - m).exp());
                let s: f64 = e.iter().sum();
                e.map(|v| v / s)
            }
            _ => self.actor_atn,
        }
    }

    /// The unfolded activation, evaluated branch by branch (the reference the fold must equal).
    pub fn eval_branches(&self, channel: usize, x: f64) -> f64 {
        let p = self.prelu_weight[channel];
        let w = self.effective_weights();
        let sum: f64 = (0..4)
            .map(|i| w[i] * self.branch_order.0[i].eval(x, p))
            .sum();
        match &self.bn {
            Some(bn) => {
                (sum - bn.running_mean) / (bn.running_var + bn.eps).sqrt() * bn.weight + bn.bias
            }
            None => sum,
        }
    }
}

/// A piecewise polynomial given directly (already folded): `segments[i]` covers
/// `[breakpoints[i-1], breakpoints[i])`, the first open to -inf and the last to +inf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiecewiseParams {
    /// Strictly increasing breakpoints.
    pub breakpoints: Vec<f64>,
    /// `[c0, c1, c2]` per segment, `breakpoints.len() + 1` of them.
    pub segments: Vec<[f64; 3]>,
}

/// The most segments a piecewise layer may have (the comparator tree grows with it).
pub const MAX_SEGMENTS: usize = 16;

impl PiecewiseParams {
    /// Validates: finite values, strictly increasing breakpoints, one more segment than
    /// breakpoints, each segment of degree <= 2 (1 to 3 coefficients, missing ones are 0).
    pub fn new(breakpoints: Vec<f64>, segments: Vec<Vec<f64>>) -> Result<Self, FieldError> {
        check_finite("piecewise.breakpoints", &breakpoints)?;
        for (i, w) in breakpoints.windows(2).enumerate() {
            if w[1] <= w[0] {
                return Err(FieldError::new(
                    format!("piecewise.breakpoints[{}]", i + 1),
                    format!(
                        "breakpoints must increase strictly, got {} after {}",
                        w[1], w[0]
                    ),
                ));
            }
        }
        if segments.len() != breakpoints.len() + 1 {
            return Err(FieldError::new(
                "piecewise.segments",
                format!(
                    "needs {} segments for {} breakpoints, got {}",
                    breakpoints.len() + 1,
                    breakpoints.len(),
                    segments.len()
                ),
            ));
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(FieldError::new(
                "piecewise.segments",
                format!(
                    "at most {MAX_SEGMENTS} segments are supported, got {}",
                    segments.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(segments.len());
        for (i, s) in segments.iter().enumerate() {
            let field = format!("piecewise.segments[{i}]");
            if s.is_empty() || s.len() > 3 {
                return Err(FieldError::new(
                    field,
                    format!(
                        "needs 1 to 3 coefficients [c0, c1, c2] (degree <= 2), got {}",
                        s.len()
                    ),
                ));
            }
            check_finite(&field, s)?;
            let mut c = [0.0; 3];
            c[..s.len()].copy_from_slice(s);
            out.push(c);
        }
        Ok(PiecewiseParams {
            breakpoints,
            segments: out,
        })
    }
}

/// What a layer is: a trained RepAct, an already folded piecewise function, or a library
/// activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LayerKind {
    /// A RepAct layer, folded by [`crate::model::fold()`].
    RepAct(RepActParams),
    /// A piecewise polynomial given directly.
    Piecewise(PiecewiseParams),
    /// A `torch.nn` activation (exact ones fold, smooth ones are fitted).
    Activation(super::activation::Activation),
}

/// One activation layer of a network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// The layer's name: the state-dict prefix (`block1.act`) or the JSON `name`.
    pub name: String,
    /// Its parameters.
    pub kind: LayerKind,
}

impl Layer {
    /// The variant name shown in reports (`piecewise` for given functions, the activation's
    /// name for library activations).
    pub fn variant_name(&self) -> &'static str {
        match &self.kind {
            LayerKind::RepAct(p) => p.variant.name(),
            LayerKind::Piecewise(_) => "piecewise",
            LayerKind::Activation(a) => a.name(),
        }
    }
}

/// All activation layers read from one weights file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// The file they came from.
    pub source: std::path::PathBuf,
    /// The layers; names are unique.
    pub layers: Vec<Layer>,
}

impl Network {
    /// The layer called `name`, or an error listing the layers there are.
    pub fn layer(&self, name: &str) -> crate::Result<&Layer> {
        self.layers.iter().find(|l| l.name == name).ok_or_else(|| {
            let names: Vec<_> = self
                .layers
                .iter()
                .map(|l| format!("`{}`", l.name))
                .collect();
            crate::Error::Weights {
                file: self.source.clone(),
                layer: Some(name.to_string()),
                field: None,
                reason: format!("no such layer; the file has {}", names.join(", ")),
            }
        })
    }
}
