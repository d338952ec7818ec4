//! Reading weights files into [`Network`]s.
//!
//! Three formats are read, chosen by the file's extension:
//!
//! - `.json`: our own versioned format, the only one that can also hold already folded
//!   piecewise functions and say each layer's variant and branch order (below).
//! - `.safetensors`: a PyTorch `state_dict` saved with `safetensors`.
//! - `.pth` / `.pt`: the zip + pickle archive written by `torch.save` (PyTorch >= 1.6),
//!   holding a `state_dict` or a checkpoint dict with one under `state_dict`,
//!   `model_state_dict` or `model`. The pickle is read by a small interpreter that knows
//!   only the opcodes `torch.save` emits and never runs Python code.
//!
//! In a state dict (`.safetensors`, `.pth`), a RepAct layer is the prefix of
//! `<prefix>.ActorAtn` (4 values) and `<prefix>.actor_PReLU.weight` (1 or C values); a
//! `RepAct_BN` layer adds `<prefix>.bn.weight`, `.bias`, `.running_mean`, `.running_var`
//! (1 value each; eps is not stored and taken as PyTorch's default 1e-5). Leading `module.`
//! (from `DataParallel`) is stripped; the prefix is the layer's name (a lone RepAct module
//! saved without a prefix is named after the file's stem). Other keys are ignored. Origin
//! and softmax layers have the same keys, so [`LoadOptions::variant`] must say which.
//! Float32, float64, float16 and bfloat16 tensors are read, all exactly.
//!
//! # The JSON format
//!
//! ```json
//! {"repact_weights": 1,
//!  "layers": [
//!   {"name": "block1.act", "variant": "bn",
//!    "actor_atn": [-0.17, 0.39, 0.16, 0.58],
//!    "branch_order": ["identity", "relu", "hardswish", "prelu"],
//!    "prelu_weight": [-0.21],
//!    "bn": {"weight": 1.28, "bias": 0.006, "running_mean": 0.48, "running_var": 0.26, "eps": 1e-5}},
//!   {"name": "my_act", "piecewise": {"breakpoints": [0.0], "segments": [[0, 0.1], [0, 1]]}}
//!  ]}
//! ```
//!
//! `variant` is `origin`, `softmax` or `bn`; `branch_order` is optional (the variant's
//! default); `bn` only for variant `bn`, its `eps` optional (1e-5); `prelu_weight` holds one
//! slope or one per channel. A piecewise layer has `segments[i] = [c0, c1, c2]` (1 to 3
//! coefficients) on `[breakpoints[i-1], breakpoints[i])`. Unknown keys, duplicate keys and
//! duplicate layer names are errors, so a typo is never silently ignored. [`to_json`] writes
//! this format.
//!
//! Every problem is reported as [`Error::Weights`] naming the file and, when known, the
//! layer and the field.

mod json;
mod pickle;
mod pth;
mod safetensors;
mod state_dict;

pub use json::to_json;

use crate::model::{BranchOrder, Layer, Network, Variant};
use crate::{Error, Result};
use std::path::Path;

/// What the user said on the command line about how to read the file.
///
/// Piecewise layers (JSON only) ignore all of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// `--variant V`: the variant of every RepAct layer whose file does not tell (origin and
    /// softmax state-dict layers have the same keys). Layers that do tell — `bn.*` keys in a
    /// state dict, a JSON `variant` — keep theirs, so one file may mix variants.
    pub variant: Option<Variant>,
    /// `--variant LAYER=V`: one layer's variant, overriding [`LoadOptions::variant`]. It must
    /// agree with what the file says (a layer with `bn.*` keys is `bn`), and every layer named
    /// must exist.
    pub layer_variants: Vec<(String, Variant)>,
    /// `--branch-order`: overrides the variant's default order and a JSON file's
    /// `branch_order`.
    pub branch_order: Option<BranchOrder>,
}

/// Where the command line's variant for one layer comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Said {
    /// `--variant LAYER=V`.
    Layer(Variant),
    /// `--variant V`.
    Default(Variant),
    /// Nothing.
    Nothing,
}

impl LoadOptions {
    /// What the command line says about layer `name`'s variant.
    pub(crate) fn variant_of(&self, name: &str) -> Said {
        match self.layer_variants.iter().find(|(n, _)| n == name) {
            Some((_, v)) => Said::Layer(*v),
            None => self.variant.map_or(Said::Nothing, Said::Default),
        }
    }

    /// Refuses `--variant LAYER=V` for a layer the file does not have.
    fn check_layer_names(&self, layers: &[Layer]) -> std::result::Result<(), Problem> {
        for (name, v) in &self.layer_variants {
            if !layers.iter().any(|l| &l.name == name) {
                let names: Vec<String> = layers
                    .iter()
                    .take(8)
                    .map(|l| format!("`{}`", l.name))
                    .collect();
                return Err(Problem::new(format!(
                    "--variant {name}={v} names a layer the file does not have (its layers: {}{})",
                    names.join(", "),
                    if layers.len() > 8 { ", …" } else { "" }
                )));
            }
        }
        Ok(())
    }
}

/// Reads every activation layer of a weights file (.json, .safetensors or .pth/.pt).
///
/// The format is chosen by the extension (case-insensitive). Layers come back in file
/// order; for `.safetensors`, which keeps no order, in natural order of their names
/// (`block2` before `block10`).
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Network> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let layers = match ext.as_deref() {
        Some("json") => json::load(path, opts),
        Some("safetensors") => safetensors::load(path, opts),
        Some("pth") | Some("pt") => pth::load(path, opts),
        other => {
            let got = match other {
                Some(e) => format!("unknown extension `.{e}`"),
                None => "no extension".to_string(),
            };
            Err(Problem::new(format!(
                "{got}: cannot tell the format; expected .json, .safetensors, .pth or .pt"
            )))
        }
    };
    match layers.and_then(|l| opts.check_layer_names(&l).map(|()| l)) {
        Ok(layers) => Ok(Network {
            source: path.to_path_buf(),
            layers,
        }),
        Err(p) => Err(p.into_error(path)),
    }
}

/// A problem found while reading, before the file name is attached.
///
/// The format readers work on bytes and do not know the path; [`load`] turns this into
/// [`Error::Weights`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub(crate) layer: Option<String>,
    pub(crate) field: Option<String>,
    pub(crate) reason: String,
    /// The problem is a failed invariant of repact-hw itself, not of the file: it becomes
    /// [`Error::Internal`].
    pub(crate) internal: bool,
}

impl Problem {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Problem {
            layer: None,
            field: None,
            reason: reason.into(),
            internal: false,
        }
    }

    /// A bug of the reader found while reading (an invariant of our own code failed).
    pub(crate) fn internal(reason: impl Into<String>) -> Self {
        Problem {
            internal: true,
            ..Problem::new(reason)
        }
    }

    pub(crate) fn layer(mut self, layer: impl Into<String>) -> Self {
        self.layer = Some(layer.into());
        self
    }

    pub(crate) fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn into_error(self, file: &Path) -> Error {
        if self.internal {
            let at = [self.layer.as_deref(), self.field.as_deref()]
                .into_iter()
                .flatten()
                .map(|s| format!(", {s}"))
                .collect::<String>();
            return Error::Internal(format!("{}{at}: {}", file.display(), self.reason));
        }
        Error::Weights {
            file: file.to_path_buf(),
            layer: self.layer,
            field: self.field,
            reason: self.reason,
        }
    }
}

/// Reads the whole file, refusing one larger than `limit` bytes before reading it; a missing
/// or unreadable file is a weights error like any other so that the message has the same
/// shape.
pub(crate) fn read_file(path: &Path, limit: u64) -> std::result::Result<Vec<u8>, Problem> {
    use std::io::Read;
    let cannot = |e: std::io::Error| Problem::new(format!("cannot read the file: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let too_big = |n: u64| {
        Problem::new(format!(
            "the file is {n} bytes, more than the {limit} bytes this format is read up to"
        ))
    };
    let len = file.metadata().map_err(cannot)?.len();
    if len > limit {
        return Err(too_big(len));
    }
    let mut out = Vec::new();
    file.take(limit + 1).read_to_end(&mut out).map_err(cannot)?;
    if out.len() as u64 > limit {
        return Err(too_big(out.len() as u64));
    }
    Ok(out)
}

/// Opens the file for reading in parts (formats whose tensors are read where they lie).
pub(crate) fn open_file(path: &Path) -> std::result::Result<std::fs::File, Problem> {
    std::fs::File::open(path).map_err(|e| Problem::new(format!("cannot read the file: {e}")))
}
