//! `gen` and co-simulation of every core of a network, through the code `repact-hw gen` and
//! `repact-hw verify` run. Verilator and Icarus are required: without them the caller fails.

use repact_hw::fit::DatapathChoice;
use repact_hw::fixedpoint::{ApFixed, SpecOptions};
use repact_hw::flow::{generate_with_datapath, write_bundle, GenOptions};
use repact_hw::manifest::{CoeffMode, CoreEntry, Manifest};
use repact_hw::model::{Layer, Network};
use repact_hw::sim::run::{verify_core, CoreReport, RunOptions};
use repact_hw::sim::verify::VerifyOptions;
use repact_hw::sim::verilator::default_cache_dir;
use std::path::PathBuf;

/// Generates one baked core per layer (smooth activations built as `datapath` asks) from
/// `input` to `output` and verifies every core as `verify` does with `phases`, the spec rebuilt
/// from the manifest first. Asserts that every sample of the exhaustive and stress phases and
/// every cycle of the Icarus replay matched, that the exhaustive phase saw every input code of
/// every channel, and that the error measured is within the proven bound; returns each core's
/// manifest entry with its reports, for the caller's own checks.
pub fn gen_and_verify(
    name: &str,
    layers: Vec<Layer>,
    input: ApFixed,
    output: ApFixed,
    datapath: DatapathChoice,
    phases: VerifyOptions,
) -> Vec<(CoreEntry, Vec<CoreReport>)> {
    if let Err(e) = repact_hw::sim::verilator::verilator_version() {
        panic!("the co-simulation needs Verilator: {e} (scripts/test.sh installs it)");
    }
    let n = layers.len();
    let net = Network {
        source: PathBuf::from(name),
        layers,
    };
    let opts = GenOptions {
        spec: SpecOptions::with_formats(input, output),
        name: name.to_string(),
        lanes: 1,
        tuser_width: 0,
        coeffs: CoeffMode::Baked,
        layer: None,
        command_line: format!("tests/common/cosim.rs {name}"),
        package: Default::default(),
    };
    let bundle = generate_with_datapath(&net, &opts, datapath)
        .unwrap_or_else(|e| panic!("{name}: gen failed: {e}"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ip");
    write_bundle(&bundle, &dir).unwrap();
    let manifest = Manifest::read(&dir).unwrap();
    assert_eq!(manifest.cores.len(), n);
    let run = RunOptions {
        verify: phases,
        cache_dir: default_cache_dir(),
        vcd: None,
    };
    let mut out = Vec::new();
    for core in &manifest.cores {
        let reports = verify_core(&dir, &manifest, core, &run, &|_| {})
            .unwrap_or_else(|e| panic!("{name}: verify failed to run: {e}"));
        for r in &reports {
            eprintln!(
                "{name}: {} ch {}: {} samples, {} mismatches, max err {:.4} ULP (bound {:.4})",
                r.layer,
                r.channels,
                r.exhaustive.samples,
                r.exhaustive.mismatches + r.stress.mismatches,
                r.max_error_ulp,
                r.bound_ulp
            );
            assert!(
                r.passed,
                "{name}: {} failed: {:?}",
                r.layer, r.first_failure
            );
            assert_eq!(r.exhaustive.mismatches + r.stress.mismatches, 0);
            assert_eq!(r.icarus_mismatches + r.icarus_xz, 0);
            assert_eq!(
                r.exhaustive.samples,
                (1u64 << input.width()) * r.channels as u64
            );
            assert!(r.max_error_ulp <= r.bound_ulp + 1e-9);
        }
        out.push((core.clone(), reports));
    }
    out
}
