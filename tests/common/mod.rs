//! Fixtures shared by the integration tests. Each test file includes them with `pub mod common;`
//! and uses what it needs: `pub` makes the fixtures reachable from the test crate's root, so a
//! file using only some of them compiles without dead-code warnings, and no `allow` hides a
//! fixture nobody uses (`tests/cli.rs` checks every fixture here is used by some test file).
//!
//! - this module: the repository, the bundled example, the `repact-hw` binary, files on disk;
//! - [`deps`]: the test dependencies from PyPI and the hls4ml wheel
//!   (`scripts/install-test-deps.sh`);
//! - [`ip`]: writing an IP directory from a bundle in memory, C++ against its HLS header;
//! - [`cosim`]: `gen` and co-simulation of every core of a network.
//!
//! `vivado_stub.tcl` beside this file is the strict stand-in for Vivado's Tcl commands that
//! `tests/package.rs` runs the generated scripts against.

pub mod cosim;
pub mod deps;
pub mod ip;

use repact_hw::fixedpoint::ApFixed;
use repact_hw::manifest::{sha256_hex, MANIFEST_FILE};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the bundled, really trained example network (`examples/repact-digits/<rel>`).
pub fn example(rel: &str) -> PathBuf {
    repo().join("examples/repact-digits").join(rel)
}

/// `ap_fixed<w,i>`, which must be valid.
pub fn fmt(w: u32, i: i32) -> ApFixed {
    ApFixed::new(w, i).unwrap()
}

/// Runs the `repact-hw` binary built for these tests.
pub fn repact_hw(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_repact-hw"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `gen` of the bundled `bn` network into `dir` with the options `extra`; must succeed.
pub fn gen_bn(dir: &Path, extra: &[&str]) {
    let weights = example("bn/model.safetensors");
    let mut args = vec![
        "gen",
        "--weights",
        weights.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = repact_hw(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `gen` of one layer of the bundled `bn` network into `dir`, top module `name`.
pub fn gen_one_layer(dir: &Path, layer: &str, name: &str) {
    gen_bn(dir, &["--layer", layer, "--name", name]);
}

/// Rewrites the files `rels` of the IP directory `dir` with `bytes` and records their new
/// hashes in its manifest, as a generator that wrote these bytes would have: the directory is
/// consistent, so only simulation can tell the files are wrong.
pub fn rewrite_as_generated(dir: &Path, rels: &[&str], bytes: &[u8]) {
    let path = dir.join(MANIFEST_FILE);
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for rel in rels {
        std::fs::write(dir.join(rel), bytes).unwrap();
        let entry = &mut m["files"][*rel];
        assert!(entry.is_string(), "{rel} is not in the manifest");
        *entry = serde_json::Value::String(sha256_hex(bytes));
    }
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap() + "\n").unwrap();
}

/// Every file under `root`, at any depth, sorted.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
