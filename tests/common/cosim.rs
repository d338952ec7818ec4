//! `gen` and co-simulation of every core of a network, through exactly the code `repact-hw gen`
//! and `repact-hw verify` run. Verilator and Icarus are required: without them the caller
//! fails with an install hint (scripts/test.sh installs them).

use repact_hw::fit::DatapathChoice;
use repact_hw::fixedpoint::{ApFixed, SpecOptions};
use repact_hw::flow::{generate_with_datapath, write_bundle, GenOptions};
use repact_hw::manifest::{CoeffMode, Manifest};
use repact_hw::model::{Layer, Network};
use repact_hw::sim::run::{verify_core, CoreReport, RunOptions};
use repact_hw::sim::verify::VerifyOptions;
use repact_hw::sim::verilator::{default_cache_dir, verilator_version};
use std::path::PathBuf;

/// Widest input verified on every code; wider ones get random codes (none of the callers).
const EXHAUSTIVE_MAX_WIDTH: u32 = 18;

/// Fails, with the way to install them, unless Verilator and Icarus Verilog run.
fn require_simulators() {
    if let Err(e) = verilator_version() {
        panic!("the co-simulation needs Verilator and Icarus Verilog: {e}\n  install them with `apt-get install -y verilator iverilog` (scripts/test.sh does)");
    }
    if let Err(e) = repact_hw::sim::icarus::icarus_version() {
        panic!("the co-simulation needs Icarus Verilog: {e}\n  install it with `apt-get install -y iverilog`");
    }
}

/// One co-simulation case: the layers of a network, their formats, the generator's options,
/// and how long the stress and Icarus phases run.
pub struct Cosim {
    layers: Vec<Layer>,
    input: ApFixed,
    output: ApFixed,
    lanes: usize,
    tuser: u32,
    max_coef_width: u32,
    coeffs: CoeffMode,
    datapath: DatapathChoice,
    /// Beats of the stress phase (random gaps, backpressure, resets).
    stress_beats: u64,
    /// Cycles replayed in Icarus.
    icarus_cycles: usize,
}

impl Cosim {
    /// Baked cores of one lane, no TUSER, the default coefficient width and datapath choice.
    pub fn new(layers: Vec<Layer>, input: ApFixed, output: ApFixed) -> Self {
        Cosim {
            layers,
            input,
            output,
            lanes: 1,
            tuser: 0,
            max_coef_width: 25,
            coeffs: CoeffMode::Baked,
            datapath: DatapathChoice::Auto,
            stress_beats: 30_000,
            icarus_cycles: 3_000,
        }
    }

    /// Samples per beat.
    pub fn lanes(mut self, n: usize) -> Self {
        self.lanes = n;
        self
    }

    /// One core holding every layer, coefficients loaded over AXI4-Lite.
    pub fn axilite(mut self) -> Self {
        self.coeffs = CoeffMode::Axilite;
        self
    }

    /// The widest multiplier operand (`--max-coef-width`).
    pub fn coef_width(mut self, w: u32) -> Self {
        self.max_coef_width = w;
        self
    }

    /// TUSER bits carried beside the samples.
    pub fn tuser(mut self, u: u32) -> Self {
        self.tuser = u;
        self
    }

    /// How smooth activations are built (`--datapath`).
    pub fn datapath(mut self, d: DatapathChoice) -> Self {
        self.datapath = d;
        self
    }

    /// Stress and Icarus phases of other lengths (default 30 000 beats, 3 000 cycles).
    pub fn phases(mut self, stress_beats: u64, icarus_cycles: usize) -> Self {
        self.stress_beats = stress_beats;
        self.icarus_cycles = icarus_cycles;
        self
    }

    /// Generates the cores as `gen` does into a scratch directory and verifies each as `verify`
    /// does, the spec rebuilt from the manifest first. Asserts that every sample of the
    /// exhaustive and stress phases and every Icarus cycle matched, that the exhaustive phase
    /// saw every input code of every channel, and that the error measured is within the proven
    /// bound; returns the manifest and every report, for the caller's own checks.
    pub fn run(self, name: &str) -> (Manifest, Vec<CoreReport>) {
        require_simulators();
        let n = self.layers.len();
        let net = Network {
            source: PathBuf::from(name),
            layers: self.layers,
        };
        let opts = GenOptions {
            spec: SpecOptions {
                max_coef_width: self.max_coef_width,
                ..SpecOptions::with_formats(self.input, self.output)
            },
            name: name.to_string(),
            lanes: self.lanes,
            tuser_width: self.tuser,
            coeffs: self.coeffs,
            layer: None,
            command_line: format!("cosim test {name}"),
            package: Default::default(),
        };
        let bundle = generate_with_datapath(&net, &opts, self.datapath)
            .unwrap_or_else(|e| panic!("{name}: gen failed: {e}"));
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ip");
        write_bundle(&bundle, &dir).unwrap();
        let manifest = Manifest::read(&dir).unwrap();
        let cores = match self.coeffs {
            CoeffMode::Baked => n,
            CoeffMode::Axilite => 1,
        };
        assert_eq!(manifest.cores.len(), cores, "{name}: cores in the manifest");
        let run = RunOptions {
            verify: VerifyOptions {
                exhaustive_max_width: EXHAUSTIVE_MAX_WIDTH,
                stress_beats: self.stress_beats,
                icarus_cycles: self.icarus_cycles,
                ..VerifyOptions::default()
            },
            cache_dir: default_cache_dir(),
            vcd: None,
        };
        let mut reports = Vec::new();
        for core in &manifest.cores {
            reports.extend(
                verify_core(&dir, &manifest, core, &run, &|_| {})
                    .unwrap_or_else(|e| panic!("{name}: verify failed to run: {e}")),
            );
        }
        assert_eq!(reports.len(), n, "{name}: a report per layer");
        for r in &reports {
            eprintln!(
                "{name}: {} lanes {} ch {}: {} samples, {} stress beats, {} icarus cycles, \
                 {} mismatches, max err {:.4} ULP (bound {:.4}), latency {:?}",
                r.layer,
                r.lanes,
                r.channels,
                r.exhaustive.samples,
                r.stress.beats,
                r.icarus_cycles,
                r.exhaustive.mismatches + r.stress.mismatches,
                r.max_error_ulp,
                r.bound_ulp,
                r.latency_measured
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
                (1u64 << self.input.width()) * r.channels as u64,
                "{name}: {}: not every input code of every channel",
                r.layer
            );
            assert!(r.stress.beats > 0, "{name}: {}: no stress phase", r.layer);
            assert!(r.max_error_ulp <= r.bound_ulp + 1e-9);
        }
        (manifest, reports)
    }
}
