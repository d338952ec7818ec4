//! `gen`: weights in, a complete IP directory out. Everything is generated in memory first and
//! written at once, so an error leaves no half-written directory behind.

use crate::bundle::{BuiltCore, IpBundle};
use crate::fixedpoint::{DatapathSpec, SpecOptions};
use crate::hdl::{self, CoreOptions};
use crate::manifest::{
    sha256_hex, CoeffMode, CoreEntry, Manifest, SpecSettings, MANIFEST_FILE, MANIFEST_VERSION,
};
use crate::model::{fold, FoldedLayer, Network};
use crate::package::{self, PackageOptions};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `gen` is asked to build.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Formats and error budget.
    pub spec: SpecOptions,
    /// Top module name (a core per layer is named `<name>_<layer>` when there are several).
    pub name: String,
    /// Samples per beat.
    pub lanes: usize,
    /// `tuser` passthrough width.
    pub tuser_width: u32,
    /// How coefficients reach the hardware.
    pub coeffs: CoeffMode,
    /// Only this layer (default: all).
    pub layer: Option<String>,
    /// The command line, recorded in headers and the manifest.
    pub command_line: String,
    /// Vivado packaging: VLNV, clock, part, optional Yosys estimate.
    pub package: PackageOptions,
}

/// Builds the cores of `layers`: one per layer with baked coefficients, or one for all with
/// run-time coefficients.
fn build_cores(layers: &[FoldedLayer], name: &str, opts: &GenOptions) -> Result<Vec<BuiltCore>> {
    let core_options = |top_name: String| CoreOptions {
        top_name,
        lanes: opts.lanes,
        tuser_width: opts.tuser_width,
        command_line: opts.command_line.clone(),
    };
    match opts.coeffs {
        CoeffMode::Baked => {
            let mut tops = BTreeMap::new();
            let mut cores = Vec::new();
            for (i, l) in layers.iter().enumerate() {
                let spec = DatapathSpec::build(std::slice::from_ref(l), &opts.spec)?;
                let top = if layers.len() == 1 {
                    name.to_string()
                } else {
                    hdl::sanitize_identifier(&format!("{name}_{}", l.name))
                };
                if let Some(other) = tops.insert(top.clone(), l.name.clone()) {
                    return Err(Error::Usage(format!(
                        "layers `{other}` and `{}` both become module `{top}`; rename one",
                        l.name
                    )));
                }
                let core = hdl::generate_baked(&spec, 0, &core_options(top))?;
                cores.push(BuiltCore::new(core, spec, vec![i]));
            }
            Ok(cores)
        }
        CoeffMode::Axilite => {
            // One core for every layer: shared formats and widths, coefficients in registers.
            let spec = DatapathSpec::build(layers, &opts.spec)?;
            let core = hdl::generate_axilite(&spec, &core_options(name.to_string()))?;
            Ok(vec![BuiltCore::new(
                core,
                spec,
                (0..layers.len()).collect(),
            )])
        }
    }
}

/// The manifest entry of a built core.
fn core_entry(core: &BuiltCore) -> Result<CoreEntry> {
    Ok(CoreEntry {
        file: core.verilog_path(),
        layers: core.layers.clone(),
        interface: core.interface.clone(),
        spec: serde_json::to_value(&core.spec)
            .map_err(|e| Error::Internal(format!("cannot serialize the spec: {e}")))?,
    })
}

/// Folds, quantizes and generates every core for `net`, then packages them: every file of
/// the IP directory, in memory.
pub fn generate(net: &Network, opts: &GenOptions) -> Result<IpBundle> {
    let layers: Vec<FoldedLayer> = match &opts.layer {
        Some(name) => vec![fold(net.layer(name)?)],
        None => net.layers.iter().map(fold).collect(),
    };
    let name = hdl::sanitize_identifier(&opts.name);
    if name != opts.name {
        return Err(Error::Usage(format!(
            "--name `{}` is not a legal Verilog module name; `{name}` would be",
            opts.name
        )));
    }
    opts.package.validate()?;
    let cores = build_cores(&layers, &name, opts)?;
    // The one step that runs an external tool (Yosys), before any file is made.
    let estimate = if opts.package.estimate {
        Some(package::estimate_resources(&cores, &opts.spec)?)
    } else {
        None
    };
    let mut files: BTreeMap<String, Vec<u8>> = cores
        .iter()
        .map(|c| (c.verilog_path(), c.verilog.clone().into_bytes()))
        .collect();
    let packaged = package::package_files(&cores, &files, estimate.as_ref(), &opts.package)?;
    files.extend(packaged);
    let manifest = Manifest {
        repact_ip: MANIFEST_VERSION,
        generator: format!("repact-hw {}", env!("CARGO_PKG_VERSION")),
        command_line: opts.command_line.clone(),
        spec: SpecSettings::from_options(&opts.spec),
        layers,
        cores: cores.iter().map(core_entry).collect::<Result<_>>()?,
        files: files
            .iter()
            .map(|(path, bytes)| (path.clone(), sha256_hex(bytes)))
            .collect(),
        source: PathBuf::from(MANIFEST_FILE),
    };
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::Internal(format!("cannot serialize the manifest: {e}")))?;
    files.insert(MANIFEST_FILE.to_string(), (json + "\n").into_bytes());
    Ok(IpBundle {
        files,
        manifest,
        cores,
    })
}

/// Writes the bundle to `dir` atomically: into a temporary sibling directory first, then
/// renamed into place. An existing `dir` is replaced only if it is an earlier repact-hw IP
/// directory (it holds a manifest), so a typo in `--out` cannot wipe unrelated files.
pub fn write_bundle(bundle: &IpBundle, dir: &Path) -> Result<()> {
    if dir.exists() && !dir.join(MANIFEST_FILE).is_file() {
        return Err(Error::Usage(format!(
            "{} exists and is not a repact-hw IP directory (no {MANIFEST_FILE}); remove it or \
             choose another --out",
            dir.display()
        )));
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".repact-hw-gen-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    for (rel, bytes) in &bundle.files {
        let path = tmp.path().join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    }
    let staged = tmp.keep();
    if dir.exists() {
        let old = parent.join(format!(
            ".repact-hw-old-{}",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or("ip")
        ));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
        std::fs::rename(&staged, dir).map_err(|e| Error::io(dir, e))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&staged, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}
