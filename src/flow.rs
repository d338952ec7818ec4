//! `gen`: weights in, a complete IP directory out. Everything is generated in memory first and
//! written at once, so an error leaves no half-written directory behind.

use crate::fixedpoint::{DatapathSpec, SpecOptions};
use crate::hdl::{self, CoreOptions, GeneratedCore, PortDir};
use crate::manifest::{
    CoeffMode, CoreEntry, Manifest, PortEntry, SpecSettings, MANIFEST_FILE, MANIFEST_VERSION,
};
use crate::model::{fold, FoldedLayer, Network};
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
    pub package: crate::package::PackageOptions,
}

/// A generated IP directory, still in memory.
#[derive(Debug)]
pub struct IpBundle {
    /// Relative path → contents, in a stable order.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The manifest (also in `files`).
    pub manifest: Manifest,
    /// One spec per core.
    pub specs: Vec<DatapathSpec>,
    /// The cores.
    pub cores: Vec<GeneratedCore>,
}

fn port_entries(core: &GeneratedCore) -> Vec<PortEntry> {
    core.ports
        .iter()
        .map(|p| PortEntry {
            name: p.name.clone(),
            width: p.width,
            dir: match p.dir {
                PortDir::In => "in".into(),
                PortDir::Out => "out".into(),
            },
        })
        .collect()
}

/// The cores generated so far, with their files, specs and manifest entries.
#[derive(Default)]
struct Collected {
    files: BTreeMap<String, Vec<u8>>,
    cores: Vec<GeneratedCore>,
    specs: Vec<DatapathSpec>,
    entries: Vec<CoreEntry>,
}

fn add_core(out: &mut Collected, core: GeneratedCore, spec: DatapathSpec, layers: Vec<usize>) {
    let file = format!("hdl/{}", core.file_name);
    out.entries.push(CoreEntry {
        top: core.top.clone(),
        file: file.clone(),
        layers,
        lanes: core.lanes,
        tuser_width: core.tuser_width,
        s_tdata_width: core.s_tdata_width,
        m_tdata_width: core.m_tdata_width,
        latency_cycles: core.latency_cycles,
        ports: port_entries(&core),
    });
    out.files.insert(file, core.verilog.clone().into_bytes());
    out.specs.push(spec);
    out.cores.push(core);
}

/// Folds, quantizes and generates every core for `net`.
pub fn generate(net: &Network, opts: &GenOptions) -> Result<IpBundle> {
    let layers: Vec<FoldedLayer> = match &opts.layer {
        Some(name) => vec![fold(net.layer(name)?)?],
        None => net.layers.iter().map(fold).collect::<Result<_>>()?,
    };
    let name = hdl::sanitize_identifier(&opts.name);
    if name != opts.name {
        return Err(Error::Usage(format!(
            "--name `{}` is not a legal Verilog module name; `{name}` would be",
            opts.name
        )));
    }
    let mut out = Collected::default();
    match opts.coeffs {
        CoeffMode::Baked => {
            let mut tops = BTreeMap::new();
            for (i, l) in layers.iter().enumerate() {
                let spec = DatapathSpec::build(std::slice::from_ref(l), &opts.spec)?;
                let top = if layers.len() == 1 {
                    name.clone()
                } else {
                    hdl::sanitize_identifier(&format!("{name}_{}", l.name))
                };
                if let Some(other) = tops.insert(top.clone(), l.name.clone()) {
                    return Err(Error::Usage(format!(
                        "layers `{other}` and `{}` both become module `{top}`; rename one",
                        l.name
                    )));
                }
                let core = hdl::generate_baked(
                    &spec,
                    0,
                    &CoreOptions {
                        top_name: top,
                        lanes: opts.lanes,
                        tuser_width: opts.tuser_width,
                        command_line: opts.command_line.clone(),
                    },
                )?;
                add_core(&mut out, core, spec, vec![i]);
            }
        }
        CoeffMode::Axilite => {
            // One core for every layer: shared formats and widths, coefficients in registers.
            let spec = DatapathSpec::build(&layers, &opts.spec)?;
            let core = hdl::generate_axilite(
                &spec,
                &CoreOptions {
                    top_name: name.clone(),
                    lanes: opts.lanes,
                    tuser_width: opts.tuser_width,
                    command_line: opts.command_line.clone(),
                },
            )?;
            add_core(&mut out, core, spec, (0..layers.len()).collect());
        }
    }
    let manifest = Manifest {
        repact_ip: MANIFEST_VERSION,
        generator: format!("repact-hw {}", env!("CARGO_PKG_VERSION")),
        command_line: opts.command_line.clone(),
        coeffs: opts.coeffs,
        spec: SpecSettings::from_options(&opts.spec),
        layers,
        cores: out.entries,
    };
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::Internal(format!("cannot serialize the manifest: {e}")))?;
    out.files
        .insert(MANIFEST_FILE.to_string(), (json + "\n").into_bytes());
    let mut bundle = IpBundle {
        files: out.files,
        manifest,
        specs: out.specs,
        cores: out.cores,
    };
    let packaged = crate::package::package_files(&bundle, &opts.package)?;
    bundle.files.extend(packaged);
    Ok(bundle)
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
