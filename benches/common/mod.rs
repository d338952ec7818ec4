//! Fixtures shared by the benchmarks (each includes this with `mod common;`).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// A plain C++ Verilator testbench of `verilog` (top module `top`) with `main_cpp` as its
/// `main`, built once into `dir` (rebuilt when the design, the harness or Verilator's include
/// directory changes), then run with the argument `n`. The harness prints
/// `<label> <seconds> <checksum>`; returns (seconds, checksum).
pub fn run_cxx_harness(
    dir: &Path,
    verilog: &str,
    top: &str,
    main_cpp: &str,
    n: u64,
) -> Result<(f64, u64), String> {
    let root = Command::new("verilator")
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .map_err(|e| format!("verilator: {e}"))?;
    let inc = Path::new(String::from_utf8_lossy(&root.stdout).trim()).join("include");
    let exe = dir.join("harness");
    let stamp = format!("{verilog}{main_cpp}{}", inc.display());
    let stamp_path = dir.join("stamp.txt");
    if std::fs::read_to_string(&stamp_path).ok().as_deref() != Some(stamp.as_str()) {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("design.v"), verilog).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("main.cpp"), main_cpp).map_err(|e| e.to_string())?;
        let st = Command::new("verilator")
            .current_dir(dir)
            .args(["--cc", "--Mdir", "obj", "--prefix", "Vtop", "--top-module"])
            .arg(top)
            .arg("design.v")
            .status()
            .map_err(|e| e.to_string())?;
        if !st.success() {
            return Err(format!("verilator failed on {top}"));
        }
        let mut srcs: Vec<_> = std::fs::read_dir(dir.join("obj"))
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cpp"))
            .collect();
        srcs.sort();
        eprintln!("building the C++ harness of {top} (once)...");
        let st = Command::new("g++")
            .args([
                "-std=gnu++17",
                "-O2",
                "-pthread",
                "-faligned-new",
                "-DVL_TIME_CONTEXT",
            ])
            .arg("-I")
            .arg(&inc)
            .arg("-I")
            .arg(inc.join("vltstd"))
            .arg("-I")
            .arg(dir.join("obj"))
            .arg(dir.join("main.cpp"))
            .args(&srcs)
            .arg(inc.join("verilated.cpp"))
            .arg(inc.join("verilated_threads.cpp"))
            .arg("-o")
            .arg(&exe)
            .status()
            .map_err(|e| e.to_string())?;
        if !st.success() {
            return Err("g++ failed on the C++ harness".into());
        }
        std::fs::write(&stamp_path, &stamp).map_err(|e| e.to_string())?;
    }
    let out = Command::new(&exe)
        .arg(n.to_string())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    match f.as_slice() {
        [_, secs, sum, ..] => Ok((
            secs.parse().map_err(|_| text.to_string())?,
            sum.parse().map_err(|_| text.to_string())?,
        )),
        _ => Err(format!("unexpected harness output: {text}")),
    }
}
