//! `repact_ip.json`: what `gen` wrote and everything `verify` needs to rebuild the golden model
//! and drive the cores — the folded layers, the options the spec was built with, and each
//! core's file, ports and latency.

use crate::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use crate::model::FoldedLayer;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// File name of the manifest inside a generated IP directory.
pub const MANIFEST_FILE: &str = "repact_ip.json";
/// Version of the manifest layout.
pub const MANIFEST_VERSION: u32 = 2;

/// How coefficients reach the hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CoeffMode {
    /// Constants in the Verilog, one core per layer.
    Baked,
    /// Registers written over AXI4-Lite, one core for all layers.
    Axilite,
}

/// The options a spec was built with, in a form that survives JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecSettings {
    /// Input format, `ap_fixed<W,I>`.
    pub input: String,
    /// Output format, `ap_fixed<W,I>`.
    pub output: String,
    /// Error budget in output ULPs.
    pub max_error_ulp: f64,
    /// Multiplier operand limit.
    pub max_coef_width: u32,
}

impl SpecSettings {
    /// From the options used to build.
    pub fn from_options(o: &SpecOptions) -> Self {
        SpecSettings {
            input: o.input.to_string(),
            output: o.output.to_string(),
            max_error_ulp: o.max_error_ulp,
            max_coef_width: o.max_coef_width,
        }
    }

    /// Back to options (formats re-validated).
    pub fn to_options(&self) -> Result<SpecOptions> {
        Ok(SpecOptions {
            input: self.input.parse::<ApFixed>()?,
            output: self.output.parse::<ApFixed>()?,
            max_error_ulp: self.max_error_ulp,
            max_coef_width: self.max_coef_width,
        })
    }
}

/// A top-level port as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortEntry {
    /// Name.
    pub name: String,
    /// Bits.
    pub width: u32,
    /// `in` or `out`.
    pub dir: String,
}

/// One generated core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreEntry {
    /// Top module.
    pub top: String,
    /// Verilog file, relative to the IP directory.
    pub file: String,
    /// Indices into [`Manifest::layers`] the core implements (one for a baked core).
    pub layers: Vec<usize>,
    /// Samples per beat.
    pub lanes: usize,
    /// `tuser` width.
    pub tuser_width: u32,
    /// `s_axis_tdata` width.
    pub s_tdata_width: u32,
    /// `m_axis_tdata` width.
    pub m_tdata_width: u32,
    /// Accepted input beat to valid output beat, in clock edges.
    pub latency_cycles: usize,
    /// Top ports in order.
    pub ports: Vec<PortEntry>,
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
    /// How coefficients reach the hardware.
    pub coeffs: CoeffMode,
    /// Options every spec was built with.
    pub spec: SpecSettings,
    /// The folded layers, in weights-file order.
    pub layers: Vec<FoldedLayer>,
    /// The cores.
    pub cores: Vec<CoreEntry>,
    /// Every other file `gen` wrote into the directory: relative path → SHA-256 (lower-case
    /// hex). `gen` replaces an existing directory only when it holds exactly these files,
    /// unchanged, so nothing a user added or edited is ever deleted.
    pub files: BTreeMap<String, String>,
}

/// SHA-256 of `bytes` as lower-case hex, as [`Manifest::files`] records it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Manifest {
    /// Reads and checks `dir/repact_ip.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::manifest(&path, format!("not a repact-hw IP manifest ({e})")))?;
        if m.repact_ip != MANIFEST_VERSION {
            return Err(Error::manifest(
                &path,
                format!(
                    "manifest version {} is not supported (this tool reads {MANIFEST_VERSION})",
                    m.repact_ip
                ),
            ));
        }
        for c in &m.cores {
            if c.layers.is_empty() || c.layers.iter().any(|&i| i >= m.layers.len()) {
                return Err(Error::manifest(
                    &path,
                    format!("core `{}` names layers that are not in the manifest", c.top),
                ));
            }
        }
        Ok(m)
    }

    /// Rebuilds the spec of `core` exactly as `gen` built it.
    pub fn spec_for(&self, core: &CoreEntry) -> Result<DatapathSpec> {
        let layers: Vec<FoldedLayer> = core
            .layers
            .iter()
            .map(|&i| self.layers[i].clone())
            .collect();
        DatapathSpec::build(&layers, &self.spec.to_options()?)
    }
}
