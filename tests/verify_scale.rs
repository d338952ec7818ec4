//! `verify` at the edges of its scale: every code of a 24-bit input on every channel, the same
//! report for any `--jobs`, and memory that does not grow with the channel count.
//! Verilator is required (these tests fail with an install hint without it).

use repact_hw::fixedpoint::{ApFixed, SpecOptions};
use repact_hw::flow::{generate, write_bundle, GenOptions};
use repact_hw::manifest::{CoeffMode, Manifest};
use repact_hw::model::{Layer, LayerKind, Network, RepActParams, Variant};
use repact_hw::sim::jobs::verify_all;
use repact_hw::sim::run::{CoreReport, RunOptions};
use repact_hw::sim::verify::VerifyOptions;
use repact_hw::sim::verilator::{default_cache_dir, verilator_version};
use std::path::{Path, PathBuf};
use std::process::Command;

fn require_verilator() {
    if let Err(e) = verilator_version() {
        panic!("verify needs Verilator: {e}\n  install it with `apt-get install -y verilator iverilog` (scripts/test.sh does)");
    }
}

/// A RepAct-I layer with a per-channel PReLU slope: `channels` coefficient sets.
fn prelu_layer(name: &str, channels: usize) -> Layer {
    let prelu = (0..channels)
        .map(|c| -0.5 + c as f64 / channels as f64)
        .collect();
    let p = RepActParams::new(Variant::Origin, [0.3, 0.4, 0.2, 0.5], None, prelu, None).unwrap();
    Layer {
        name: name.into(),
        kind: LayerKind::RepAct(p),
    }
}

/// Generates `layers` into `dir` and verifies every core with `jobs` jobs, no stress, no
/// Icarus: the exhaustive phase alone.
fn verify(
    layers: Vec<Layer>,
    input: ApFixed,
    output: ApFixed,
    coeffs: CoeffMode,
    dir: &Path,
) -> Vec<CoreReport> {
    require_verilator();
    let net = Network {
        source: PathBuf::from("scale"),
        layers,
    };
    let bundle = generate(
        &net,
        &GenOptions {
            spec: SpecOptions::with_formats(input, output),
            name: "scale".into(),
            lanes: 1,
            tuser_width: 0,
            coeffs,
            layer: None,
            command_line: "verify_scale test".into(),
            package: Default::default(),
        },
    )
    .unwrap_or_else(|e| panic!("gen failed: {e}"));
    write_bundle(&bundle, dir).unwrap();
    let manifest = Manifest::read(dir).unwrap();
    let opts = RunOptions {
        verify: VerifyOptions {
            stress_beats: 0,
            icarus_cycles: 0,
            ..VerifyOptions::default()
        },
        cache_dir: default_cache_dir(),
        vcd: None,
    };
    let reports = verify_all(dir, &manifest, &opts, 2, &|_| {}).unwrap();
    for r in &reports {
        assert!(r.passed, "{}: {:?}", r.layer, r.first_failure);
    }
    reports
}

#[test]
fn exhaustive_phase_covers_every_24_bit_code_on_every_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let input = ApFixed::new(24, 8).unwrap();
    let output = ApFixed::new(16, 6).unwrap();
    let r = verify(
        vec![prelu_layer("wide", 2)],
        input,
        output,
        CoeffMode::Baked,
        &tmp.path().join("ip"),
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].channels, 2);
    assert_eq!(r[0].exhaustive.samples, (1u64 << 24) * 2);
    assert_eq!(r[0].exhaustive.beats, (1u64 << 24) * 2);
    assert_eq!(r[0].exhaustive.mismatches, 0);
    assert!(r[0].max_error_ulp > 0.0 && r[0].max_error_ulp <= r[0].bound_ulp + 1e-9);
}

fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// Issue 9: verifying a 960-channel core needed 5.8 GB of RAM (every beat of the exhaustive
/// phase was built up front) and a 4096-channel one aborted trying to allocate 23.6 GB.
#[test]
fn verify_memory_grew_with_channels_now_bounded_at_1024_channels() {
    let tmp = tempfile::tempdir().unwrap();
    let f = ApFixed::new(16, 6).unwrap();
    let r = verify(
        vec![prelu_layer("wide_stage", 1024)],
        f,
        f,
        CoeffMode::Axilite,
        &tmp.path().join("ip"),
    );
    assert_eq!(r[0].exhaustive.samples, 65536 * 1024);
    let peak = peak_rss_bytes();
    // The old bench needed ~6 GB here; what remains is the spec, a few expected-output blocks
    // and the test harness. Other tests of this binary run in the same process.
    assert!(peak < 700 << 20, "peak RSS {} MiB", peak >> 20);
}

fn repact_hw() -> Command {
    Command::new(env!("CARGO_BIN_EXE_repact-hw"))
}

#[test]
fn verify_reports_the_same_for_one_and_two_jobs() {
    require_verilator();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ip");
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/repact-digits/bn/model.pth");
    let o = repact_hw()
        .args(["gen", "--weights"])
        .arg(&weights)
        .arg("--out")
        .arg(&dir)
        .args([
            "--in-format",
            "ap_fixed<10,4>",
            "--out-format",
            "ap_fixed<10,4>",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = |jobs: &str| {
        let o = repact_hw()
            .arg("verify")
            .arg(&dir)
            .args(["--stress-beats", "5000", "--icarus-cycles", "500", "--json"])
            .args(["--jobs", jobs])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one, two);
    let doc: serde_json::Value = serde_json::from_str(&one).unwrap();
    let cores = doc["cores"].as_array().unwrap();
    assert_eq!(cores.len(), 5);
    let names: Vec<&str> = cores.iter().map(|c| c["layer"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "block1.act",
            "block2.act",
            "block3.act",
            "block4.act",
            "block5.act"
        ]
    );
    for c in cores {
        assert_eq!(c["exhaustive"]["samples"], 1024);
    }
}
