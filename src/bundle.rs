//! A generated IP directory while it is still in memory: the cores `gen` built (each with its
//! spec and interface) and the files they become. `flow` fills it, `package` adds to it, and
//! neither has to import the other for it.

use crate::fixedpoint::DatapathSpec;
use crate::hdl::{CoreInterface, GeneratedCore};
use crate::manifest::Manifest;
use std::collections::BTreeMap;

/// One core as `gen` built it.
#[derive(Debug, Clone)]
pub struct BuiltCore {
    /// Its interface, as the HDL generator produced it.
    pub interface: CoreInterface,
    /// Its Verilog (all modules, one file).
    pub verilog: String,
    /// The spec it was generated from.
    pub spec: DatapathSpec,
    /// Indices into [`Manifest::layers`] of the folded layers its spec was built from, in the
    /// spec's layer order.
    pub layers: Vec<usize>,
}

impl BuiltCore {
    /// A core generated from `spec`, whose layers are `layers` of the manifest.
    pub fn new(core: GeneratedCore, spec: DatapathSpec, layers: Vec<usize>) -> Self {
        BuiltCore {
            interface: core.interface,
            verilog: core.verilog,
            spec,
            layers,
        }
    }

    /// Top module name.
    pub fn top(&self) -> &str {
        &self.interface.top
    }

    /// Where its Verilog goes in the IP directory: `hdl/<top>.v`.
    pub fn verilog_path(&self) -> String {
        format!("hdl/{}.v", self.interface.top)
    }
}

/// A generated IP directory, still in memory.
#[derive(Debug)]
pub struct IpBundle {
    /// Relative path → contents, in a stable order (the manifest included).
    pub files: BTreeMap<String, Vec<u8>>,
    /// The manifest (also in `files`, serialized).
    pub manifest: Manifest,
    /// The cores, in manifest order.
    pub cores: Vec<BuiltCore>,
}

impl IpBundle {
    /// Whether the cores load their coefficients at run time (`--coeffs axilite`).
    pub fn is_axilite(&self) -> bool {
        self.cores
            .iter()
            .any(|c| c.interface.register_map().is_some())
    }
}
