//! `repact_ip.json`: what `gen` wrote and everything `verify` needs — the folded layers, the
//! options the specs were built with, each core's interface (as the HDL generator produced it)
//! and built spec, and a SHA-256 of every other file written.

use crate::fit::build::{self as fitted_build, FittedLayer};
use crate::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use crate::hdl::{Coefficients, CoreInterface};
use crate::model::FoldedLayer;
use crate::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name of the manifest inside a generated IP directory.
pub const MANIFEST_FILE: &str = "repact_ip.json";
/// Version of the manifest layout. 2 added `files` (the hash of every file written); 3: cores
/// carry their [`CoreInterface`] and built spec, formats are validated on reading, and the
/// coefficient mode is the interface's (no top-level `coeffs`).
pub const MANIFEST_VERSION: u32 = 3;

/// How the user asked for coefficients to reach the hardware (`gen --coeffs`). A built core
/// states its mode in [`CoreInterface::coefficients`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CoeffMode {
    /// Constants in the Verilog, one core per layer.
    Baked,
    /// Registers written over AXI4-Lite, one core for all layers.
    Axilite,
}

/// An [`ApFixed`] as its `ap_fixed<W,I>` text, validated when read.
mod format_text {
    use super::*;

    pub fn serialize<S: Serializer>(f: &ApFixed, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(f)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<ApFixed, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<ApFixed>().map_err(serde::de::Error::custom)
    }
}

/// The options a spec was built with, in a form that survives JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecSettings {
    /// Input format, `ap_fixed<W,I>`.
    #[serde(with = "format_text")]
    pub input: ApFixed,
    /// Output format, `ap_fixed<W,I>`.
    #[serde(with = "format_text")]
    pub output: ApFixed,
    /// Error budget in output ULPs.
    pub max_error_ulp: f64,
    /// Multiplier operand limit.
    pub max_coef_width: u32,
}

impl SpecSettings {
    /// From the options used to build.
    pub fn from_options(o: &SpecOptions) -> Self {
        SpecSettings {
            input: o.input,
            output: o.output,
            max_error_ulp: o.max_error_ulp,
            max_coef_width: o.max_coef_width,
        }
    }

    /// Back to options.
    pub fn to_options(&self) -> SpecOptions {
        SpecOptions {
            input: self.input,
            output: self.output,
            max_error_ulp: self.max_error_ulp,
            max_coef_width: self.max_coef_width,
        }
    }
}

/// One generated core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreEntry {
    /// Verilog file, relative to the IP directory.
    pub file: String,
    /// Indices into [`Manifest::layers`] of the folded layers the core's spec was built from,
    /// in the spec's layer order.
    pub layers: Vec<usize>,
    /// The interface, as the HDL generator produced it.
    pub interface: CoreInterface,
    /// The spec `gen` built, serialized: `verify` re-solves the spec from `layers` and checks
    /// it equals this before trusting the golden model.
    pub spec: serde_json::Value,
    /// For a fitted (smooth) activation: the activation and the datapath built, from which
    /// `verify` rebuilds the spec (absent for comparator cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted: Option<FittedLayer>,
}

impl CoreEntry {
    /// Top module.
    pub fn top(&self) -> &str {
        &self.interface.top
    }
}

/// The SHA-256 of `bytes`, lowercase hex: how [`Manifest::files`] records a file.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The manifest of a generated IP directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub repact_ip: u32,
    /// `repact-hw <version>`.
    pub generator: String,
    /// The command that generated the directory.
    pub command_line: String,
    /// Options every spec was built with.
    pub spec: SpecSettings,
    /// The folded layers, in weights-file order.
    pub layers: Vec<FoldedLayer>,
    /// The cores.
    pub cores: Vec<CoreEntry>,
    /// Every other file `gen` wrote (relative path, `/`-separated) and its SHA-256
    /// ([`sha256_hex`]).
    pub files: BTreeMap<String, String>,
    /// Where the manifest was read from (named in errors; `repact_ip.json` for one built in
    /// memory).
    #[serde(skip, default = "default_source")]
    pub source: PathBuf,
}

fn default_source() -> PathBuf {
    PathBuf::from(MANIFEST_FILE)
}

impl Manifest {
    /// Reads and checks `dir/repact_ip.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Self::parse(&text, &path)
    }

    /// Parses and checks the text of a manifest read from `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        #[derive(Deserialize)]
        struct Version {
            repact_ip: u32,
        }
        let version: Version = serde_json::from_str(text)
            .map_err(|e| Error::manifest(path, format!("not a repact-hw IP manifest ({e})")))?;
        if version.repact_ip != MANIFEST_VERSION {
            return Err(Error::manifest(
                path,
                format!(
                    "manifest version {} is not supported (this tool reads {MANIFEST_VERSION}); \
                     regenerate the directory with `repact-hw gen`",
                    version.repact_ip
                ),
            ));
        }
        let mut m: Manifest = serde_json::from_str(text)
            .map_err(|e| Error::manifest(path, format!("not a repact-hw IP manifest ({e})")))?;
        m.source = path.to_path_buf();
        for c in &m.cores {
            if c.layers.is_empty() || c.layers.iter().any(|&i| i >= m.layers.len()) {
                return Err(Error::manifest(
                    path,
                    format!(
                        "core `{}` names layers that are not in the manifest",
                        c.top()
                    ),
                ));
            }
            if let Coefficients::Baked { layer } = c.interface.coefficients {
                if layer >= c.layers.len() {
                    return Err(Error::manifest(
                        path,
                        format!(
                            "core `{}` bakes in layer {layer} of its spec, which has {}",
                            c.top(),
                            c.layers.len()
                        ),
                    ));
                }
            }
        }
        Ok(m)
    }

    /// The folded layers `core`'s spec is built from.
    pub fn core_layers(&self, core: &CoreEntry) -> Vec<FoldedLayer> {
        core.layers
            .iter()
            .map(|&i| self.layers[i].clone())
            .collect()
    }

    /// Rebuilds the spec of `core` exactly as `gen` built it, and checks it serializes to the
    /// spec `gen` recorded: the error names the first layer (and field) that differs.
    pub fn spec_for(&self, core: &CoreEntry) -> Result<DatapathSpec> {
        let opts = self.spec.to_options();
        let spec = match &core.fitted {
            Some(rec) => {
                let layers = self.core_layers(core);
                let [layer] = layers.as_slice() else {
                    return Err(Error::manifest(
                        &self.source,
                        format!(
                            "core `{}` is a fitted activation but lists {} layers (one expected)",
                            core.top(),
                            layers.len()
                        ),
                    ));
                };
                fitted_build::rebuild(&layer.name, rec, &opts)?
            }
            None => DatapathSpec::build(&self.core_layers(core), &opts)?,
        };
        let rebuilt = serde_json::to_value(&spec)
            .map_err(|e| Error::Internal(format!("cannot serialize the spec: {e}")))?;
        if let Some(at) = first_difference(&core.spec, &rebuilt, String::new()) {
            let layer = spec_layer_name(&spec, &at);
            return Err(Error::manifest(
                &self.source,
                format!(
                    "core `{}`{layer}: the spec rebuilt from the folded layers differs from the \
                     one `gen` recorded at `{at}` (generated by another version of repact-hw, \
                     or the manifest was edited); regenerate the directory",
                    core.top()
                ),
            ));
        }
        Ok(spec)
    }
}

/// ``, layer `name` `` when the JSON path `at` (`layers[i]...`) is inside a layer of `spec`.
fn spec_layer_name(spec: &DatapathSpec, at: &str) -> String {
    at.strip_prefix("layers[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| spec.layers().get(i))
        .map_or(String::new(), |l| format!(", layer `{}`", l.name()))
}

/// The JSON path of the first place `a` and `b` differ (`None` when equal), e.g.
/// `layers[2].coefs[0][1].k0`.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, join(k)),
                _ => Some(join(k)),
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            let inner = x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}[{i}]")));
            match inner {
                Some(d) => Some(d),
                None if x.len() != y.len() => {
                    Some(if at.is_empty() { "(root)".into() } else { at })
                }
                None => None,
            }
        }
        _ if a == b => None,
        _ => Some(if at.is_empty() { "(root)".into() } else { at }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_difference_names_the_path() {
        let a = json!({"layers": [{"name": "a", "coefs": [[1, 2]]}], "shift1": 3});
        let mut b = a.clone();
        assert_eq!(first_difference(&a, &b, String::new()), None);
        b["layers"][0]["coefs"][0][1] = json!(5);
        assert_eq!(
            first_difference(&a, &b, String::new()).as_deref(),
            Some("layers[0].coefs[0][1]")
        );
        let mut c = a.clone();
        c["shift1"] = json!(4);
        assert_eq!(
            first_difference(&a, &c, String::new()).as_deref(),
            Some("shift1")
        );
    }
}
