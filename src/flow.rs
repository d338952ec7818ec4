//! `gen`: weights in, a complete IP directory out. Everything is generated in memory first and
//! written at once, so an error leaves no half-written directory behind.

use crate::bundle::{BuiltCore, IpBundle};
use crate::escape;
use crate::fit::build::{build_fitted, fitted_folded, smooth_activation, FittedLayer};
use crate::fit::DatapathChoice;
use crate::fixedpoint::{DatapathSpec, SpecOptions};
use crate::hdl::{self, CoreOptions};
use crate::manifest::{
    sha256_hex, CoeffMode, CoreEntry, Manifest, SpecSettings, MANIFEST_FILE, MANIFEST_VERSION,
};
use crate::model::{fold, Activation, FoldedLayer, Network};
use crate::package::{self, PackageOptions};
use crate::{staging, Error, Result};
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

/// One layer to build: its folded form (for a smooth activation only its name and
/// activation) and, for a smooth activation, the activation to fit.
struct LayerToBuild<'a> {
    folded: FoldedLayer,
    smooth: Option<&'a Activation>,
}

/// A built core and, for a fitted layer, how the manifest records it.
type Built = (BuiltCore, Option<FittedLayer>);

/// Builds the cores of `layers`: one per layer with baked coefficients, or one for all with
/// run-time coefficients. Smooth activations are fitted with `datapath`.
fn build_cores(
    layers: &[LayerToBuild],
    name: &str,
    opts: &GenOptions,
    datapath: DatapathChoice,
) -> Result<Vec<Built>> {
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
            for (i, to_build) in layers.iter().enumerate() {
                let l = &to_build.folded;
                let (spec, fitted) = match to_build.smooth {
                    Some(a) => {
                        let b = build_fitted(&l.name, a, &opts.spec, datapath)?;
                        let rec = FittedLayer {
                            activation: crate::fit::build::activation_text(a),
                            datapath: b.datapath,
                        };
                        (b.spec, Some(rec))
                    }
                    None => (
                        DatapathSpec::build(std::slice::from_ref(l), &opts.spec)?,
                        None,
                    ),
                };
                let top = if layers.len() == 1 {
                    name.to_string()
                } else {
                    hdl::sanitize_identifier(&format!("{name}_{}", l.name))
                };
                // Case-insensitive: on macOS and Windows `A.v` and `a.v` are one file.
                if let Some(other) = tops.insert(top.to_ascii_lowercase(), l.name.clone()) {
                    return Err(Error::Usage(format!(
                        "layers `{other}` and `{}` both become module `{top}`; rename one",
                        l.name
                    )));
                }
                let core = hdl::generate_baked(&spec, 0, &core_options(top))?;
                cores.push((BuiltCore::new(core, spec, vec![i]), fitted));
            }
            Ok(cores)
        }
        CoeffMode::Axilite => {
            if let Some(l) = layers.iter().find(|l| l.smooth.is_some()) {
                // A fitted layer's coefficients are a ROM of up to 2^10 entries, not a few
                // registers: they are baked.
                let name = &l.folded.name;
                return Err(Error::Spec {
                    layer: name.clone(),
                    reason: format!(
                        "a smooth (fitted) activation keeps its coefficients (table-indexed \
                         datapath) or its outputs (ROM datapath) in a ROM inside the core, which \
                         --coeffs axilite cannot load at run time; build it with --coeffs baked \
                         (`--coeffs baked --layer {name}` builds it alone)"
                    ),
                });
            }
            // One core for every layer: shared formats and widths, coefficients in registers.
            let folded: Vec<FoldedLayer> = layers.iter().map(|l| l.folded.clone()).collect();
            let spec = DatapathSpec::build(&folded, &opts.spec)?;
            let core = hdl::generate_axilite(&spec, &core_options(name.to_string()))?;
            Ok(vec![(
                BuiltCore::new(core, spec, (0..layers.len()).collect()),
                None,
            )])
        }
    }
}

/// The manifest entry of a built core.
fn core_entry((core, fitted): &Built) -> Result<CoreEntry> {
    Ok(CoreEntry {
        fitted: fitted.clone(),
        file: core.verilog_path(),
        layers: core.layers.clone(),
        interface: core.interface.clone(),
        spec: serde_json::to_value(&core.spec)
            .map_err(|e| Error::Internal(format!("cannot serialize the spec: {e}")))?,
    })
}

/// Refuses layer names that cannot become file names: too long, or two names that map to the
/// same file (after replacing characters a file name cannot hold, ignoring case, since
/// case-insensitive file systems would silently let one overwrite the other).
fn check_layer_names(layers: &[FoldedLayer]) -> Result<()> {
    let mut stems: BTreeMap<String, &str> = BTreeMap::new();
    for l in layers {
        if l.name.len() > escape::MAX_NAME_LEN {
            return Err(Error::Usage(format!(
                "layer `{}…` has a {}-byte name; names become module and file names, which \
                 allow at most {} bytes here: shorten it",
                l.name.chars().take(40).collect::<String>(),
                l.name.len(),
                escape::MAX_NAME_LEN
            )));
        }
        let stem = escape::file_stem(&l.name).to_ascii_lowercase();
        if let Some(other) = stems.insert(stem.clone(), &l.name) {
            return Err(Error::Usage(format!(
                "layers `{}` and `{}` would share the file name `{stem}` (names differing only \
                 in case or in characters a file name cannot hold collide); rename one",
                escape::visible(other),
                escape::visible(&l.name)
            )));
        }
    }
    Ok(())
}

/// Folds, quantizes and generates every core for `net`, then packages them: every file of
/// the IP directory, in memory. Smooth activations get the fitter's choice of datapath.
pub fn generate(net: &Network, opts: &GenOptions) -> Result<IpBundle> {
    generate_with_datapath(net, opts, DatapathChoice::Auto)
}

/// [`generate`], with smooth activations fitted to `datapath` (`gen --datapath`).
pub fn generate_with_datapath(
    net: &Network,
    opts: &GenOptions,
    datapath: DatapathChoice,
) -> Result<IpBundle> {
    let chosen: Vec<&crate::model::Layer> = match &opts.layer {
        Some(name) => vec![net.layer(name)?],
        None => net.layers.iter().collect(),
    };
    let to_build: Vec<LayerToBuild> = chosen
        .into_iter()
        .map(|l| {
            Ok(match smooth_activation(l) {
                Some(a) => LayerToBuild {
                    folded: fitted_folded(&l.name, a),
                    smooth: Some(a),
                },
                None => LayerToBuild {
                    folded: fold(l)?,
                    smooth: None,
                },
            })
        })
        .collect::<Result<_>>()?;
    let layers: Vec<FoldedLayer> = to_build.iter().map(|l| l.folded.clone()).collect();
    let name = hdl::sanitize_identifier(&opts.name);
    if name != opts.name {
        return Err(Error::Usage(format!(
            "--name `{}` is not a legal Verilog module name; `{name}` would be",
            opts.name
        )));
    }
    check_layer_names(&layers)?;
    let built = build_cores(&to_build, &name, opts, datapath)?;
    let entries = built.iter().map(core_entry).collect::<Result<Vec<_>>>()?;
    let cores: Vec<BuiltCore> = built.into_iter().map(|(c, _)| c).collect();
    package::check_request(&cores, &opts.package)?;
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
        cores: entries,
        // Every file with its hash: `verify` checks them, and a later `gen` into the same
        // directory can tell its own untouched output from anything a user put there.
        files: files
            .iter()
            .map(|(path, bytes)| (path.clone(), sha256_hex(bytes)))
            .collect(),
        source: PathBuf::from(MANIFEST_FILE),
    };
    files.insert(MANIFEST_FILE.to_string(), manifest_json(&manifest)?);
    Ok(IpBundle {
        files,
        manifest,
        cores,
    })
}

fn manifest_json(m: &Manifest) -> Result<Vec<u8>> {
    let json = serde_json::to_string_pretty(m)
        .map_err(|e| Error::Internal(format!("cannot serialize the manifest: {e}")))?;
    Ok((json + "\n").into_bytes())
}

/// Writes the bundle to `dir` atomically: into a temporary sibling directory first, then
/// renamed into place. An existing `dir` is replaced only if it holds nothing but an earlier
/// `gen`'s output, unchanged (every file listed with its hash in that output's manifest); a
/// symlink to such a directory stays a symlink (the directory it points to is replaced).
/// Anything else is refused, and nothing is touched.
pub fn write_bundle(bundle: &IpBundle, dir: &Path) -> Result<()> {
    let target = match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?
        }
        _ => dir.to_path_buf(),
    };
    let replacing = match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => {
            check_replaceable(&target)?;
            true
        }
        Ok(_) => {
            return Err(Error::Usage(format!(
                "--out {} exists and is not a directory; choose another --out",
                dir.display()
            )))
        }
        Err(_) => false,
    };
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    // A registered staging directory: removed on any error, on SIGINT/SIGTERM, and — left by
    // a killed gen — by the next gen writing here.
    let staged = staging::dir(&parent, "gen").map_err(|e| Error::io(&parent, e))?;
    for (rel, bytes) in &bundle.files {
        staged
            .write_file(Path::new(rel), bytes)
            .map_err(|e| Error::io(staged.path().join(rel), e))?;
    }
    if replacing {
        // The old output is moved aside, the new one put in its place (the old one moved back
        // if that fails), then the old one removed.
        staged.replace_dir(&target)
    } else {
        staged.commit(|tmp| std::fs::rename(tmp, &target))
    }
    .map_err(|e| Error::io(&target, e))
}

/// Refuses unless `dir` is empty or holds exactly the files its manifest lists, each with
/// its recorded hash: the only directories `gen` may delete are its own, untouched.
fn check_replaceable(dir: &Path) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::Usage(format!(
            "--out {} {why}; gen only replaces its own unchanged output — remove it yourself \
             or choose another --out",
            dir.display()
        )))
    };
    let mut found = Vec::new();
    let mut dirs = Vec::new();
    list_tree(dir, Path::new(""), &mut found, &mut dirs)?;
    if found.is_empty() && dirs.is_empty() {
        return Ok(());
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    if !found.iter().any(|(rel, _)| rel == MANIFEST_FILE) {
        return refuse(format!(
            "exists and is not a repact-hw IP directory (no {MANIFEST_FILE})"
        ));
    }
    let listed = match recorded_files(&manifest_path) {
        Some(l) => l,
        None => {
            return refuse(format!(
                "holds a {MANIFEST_FILE} that does not list its files (not written by this \
                 version of repact-hw)"
            ))
        }
    };
    for (rel, kind) in &found {
        if rel == MANIFEST_FILE {
            continue;
        }
        let Some(hash) = listed.get(rel) else {
            return refuse(format!(
                "holds `{}`, which gen did not write",
                escape::visible(rel)
            ));
        };
        let path = dir.join(rel);
        let same = *kind == EntryKind::File
            && std::fs::read(&path)
                .map(|b| sha256_hex(&b) == *hash)
                .unwrap_or(false);
        if !same {
            return refuse(format!(
                "holds `{}`, which was changed since gen wrote it",
                escape::visible(rel)
            ));
        }
    }
    for d in &dirs {
        let prefix = format!("{d}/");
        if !listed.keys().any(|f| f.starts_with(&prefix)) {
            return refuse(format!(
                "holds the directory `{}`, which gen did not write",
                escape::visible(d)
            ));
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum EntryKind {
    File,
    /// A symlink, socket, device…: never something gen writes.
    Other,
}

/// Every entry below `dir` (without following symlinks), as `/`-separated relative paths.
fn list_tree(
    dir: &Path,
    rel: &Path,
    files: &mut Vec<(String, EntryKind)>,
    dirs: &mut Vec<String>,
) -> Result<()> {
    let here = dir.join(rel);
    for e in std::fs::read_dir(&here).map_err(|e| Error::io(&here, e))? {
        let e = e.map_err(|e| Error::io(&here, e))?;
        let rel_path = rel.join(e.file_name());
        let key = rel_path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let t = e.file_type().map_err(|err| Error::io(e.path(), err))?;
        if t.is_dir() {
            dirs.push(key);
            list_tree(dir, &rel_path, files, dirs)?;
        } else if t.is_file() {
            files.push((key, EntryKind::File));
        } else {
            files.push((key, EntryKind::Other));
        }
    }
    Ok(())
}

/// The `files` map of an earlier manifest, or `None` when it has none (or is not one).
fn recorded_files(path: &Path) -> Option<BTreeMap<String, String>> {
    // Bounded: a manifest is a few hundred kilobytes; refuse to parse anything huge.
    const MAX_MANIFEST_BYTES: u64 = 64 << 20;
    if std::fs::metadata(path).ok()?.len() > MAX_MANIFEST_BYTES {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v.get("files")?
        .as_object()?
        .iter()
        .map(|(k, h)| Some((k.clone(), h.as_str()?.to_string())))
        .collect()
}
