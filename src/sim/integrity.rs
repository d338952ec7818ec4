//! Before `verify` simulates anything: is the directory what `gen` wrote? The manifest records
//! a SHA-256 of every file; the co-simulation proves `hdl/<top>.v`, while Vivado uses the
//! packaged copy `ip/<top>/hdl/<top>.v` — so the copy must be byte-identical to what is
//! simulated, and nothing the manifest lists may be missing or changed.

use crate::manifest::{sha256_hex, Manifest, MANIFEST_FILE};
use crate::package::{packaged_component, packaged_verilog};
use crate::{Error, Result};
use std::path::Path;

/// Checks `dir` against its manifest: at least one core; each core's Verilog, its packaged
/// copy and its `component.xml` listed; every listed file present with its recorded hash; the
/// packaged copy of each core byte-identical to the Verilog that is simulated. The error names
/// the file.
pub fn check_directory(dir: &Path, manifest: &Manifest) -> Result<()> {
    let manifest_path = dir.join(MANIFEST_FILE);
    if manifest.cores.is_empty() {
        return Err(Error::manifest(
            &manifest_path,
            "lists no cores: nothing to verify (regenerate the directory with `repact-hw gen`)",
        ));
    }
    for core in &manifest.cores {
        let top = core.top();
        for needed in [
            core.file.clone(),
            packaged_verilog(top),
            packaged_component(top),
        ] {
            if !manifest.files.contains_key(&needed) {
                return Err(Error::manifest(
                    &manifest_path,
                    format!("core `{top}`: `{needed}` is not among the files it lists"),
                ));
            }
        }
    }
    for (rel, want) in &manifest.files {
        let path = dir.join(rel);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::manifest(
                    &path,
                    format!("missing: {MANIFEST_FILE} lists it as written by `gen`"),
                ))
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        if &sha256_hex(&bytes) != want {
            return Err(Error::manifest(
                &path,
                format!(
                    "changed since `gen` wrote it (its SHA-256 is not the one {MANIFEST_FILE} \
                     records); regenerate the directory instead of editing it"
                ),
            ));
        }
    }
    for core in &manifest.cores {
        let simulated = dir.join(&core.file);
        let packaged = dir.join(packaged_verilog(core.top()));
        let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io(p, e));
        if read(&simulated)? != read(&packaged)? {
            return Err(Error::manifest(
                &packaged,
                format!(
                    "differs from {}, the Verilog that is simulated: Vivado would use a core \
                     nobody verified",
                    simulated.display()
                ),
            ));
        }
    }
    Ok(())
}
