//! `verify`: every core of a generated IP directory through Verilator (exhaustive and stress
//! phases) and Icarus Verilog (replay of the recorded stress stimulus, 4-state).

use super::axilite_bench::{AxiLite, WritesAfterReset};
use super::axis_bench::{AxisDut, CLOCK};
use super::icarus;
use super::verify::{exhaustive, stress, Failure, PhaseResult, VerifyOptions};
use super::verilator::{self, BuildOptions};
use crate::fixedpoint::DatapathSpec;
use crate::hdl::regmap::{addr, RegisterMap};
use crate::hdl::CoreInterface;
use crate::hdl::Port;
use crate::manifest::{CoreEntry, Manifest};
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The outcome for one core (one layer of it).
#[derive(Debug, Clone, Serialize)]
pub struct CoreReport {
    /// Top module.
    pub core: String,
    /// Layer name.
    pub layer: String,
    /// Samples per beat.
    pub lanes: usize,
    /// Channels of the layer.
    pub channels: usize,
    /// Exhaustive (or random, for wide inputs) phase.
    pub exhaustive: PhaseResult,
    /// Stress phase.
    pub stress: PhaseResult,
    /// Resets applied in the middle of packets during the stress phase.
    pub stress_resets: u32,
    /// AXI4-Lite reads and writes (run-time-coefficient cores).
    pub axilite_transactions: usize,
    /// Configuration registers or read-backs that differed.
    pub axilite_problems: usize,
    /// Cycles replayed in Icarus Verilog.
    pub icarus_cycles: usize,
    /// Cycles where Icarus and Verilator disagreed.
    pub icarus_mismatches: u64,
    /// Cycles with X or Z on an output that must be defined.
    pub icarus_xz: u64,
    /// Latency measured, accepted input beat to valid output beat, in clock edges.
    pub latency_measured: Option<u64>,
    /// Latency the generator states.
    pub latency_stated: usize,
    /// Largest error against the saturated f64 function seen in hardware, in ULPs.
    pub max_error_ulp: f64,
    /// The proven bound.
    pub bound_ulp: f64,
    /// The first failure of any phase.
    pub first_failure: Option<Failure>,
    /// Whether everything matched.
    pub passed: bool,
}

/// What to run and where.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Test intensity.
    pub verify: VerifyOptions,
    /// Verilator build cache.
    pub cache_dir: PathBuf,
    /// Write a waveform around the first mismatch here.
    pub vcd: Option<PathBuf>,
}

/// Reads the AXI4-Lite configuration registers and checks them against the spec; loads every
/// layer's thresholds and coefficients over the bus and reads them all back. Returns the
/// problems found (empty when all is well) and the number of bus transactions.
fn configure_over_axilite(
    dut: &mut AxisDut,
    bus: &AxiLite,
    spec: &DatapathSpec,
    core: &CoreInterface,
    map: &RegisterMap,
) -> Result<(Vec<String>, usize)> {
    // Every read-only register, packed from the spec's facts with the register map's field
    // layout (the same fields the C header and the PYNQ driver decode).
    let expected = map.read_only_values(spec, core.stream.lanes);
    let mut problems = Vec::new();
    let mut transactions = 0;
    bus.idle(dut);
    dut.reset(2)?;
    for ro in expected {
        let (name, a, want) = (ro.name, ro.addr, ro.value);
        let got = bus.read(dut, a)?;
        transactions += 1;
        if got != want {
            problems.push(format!(
                "register {name} (0x{a:04x}) reads 0x{got:08x}, expected 0x{want:08x}"
            ));
        }
    }
    let writes: Vec<(u32, u32)> = (0..spec.layers().len())
        .flat_map(|l| map.layer_writes(spec, l, l as u32))
        .collect();
    for &(a, d) in &writes {
        bus.write(dut, a, d)?;
    }
    for &(a, d) in &writes {
        let got = bus.read(dut, a)?;
        if got != d {
            problems.push(format!(
                "read-back of 0x{a:04x}: wrote 0x{d:08x}, read 0x{got:08x}"
            ));
        }
    }
    transactions += 2 * writes.len();
    Ok((problems, transactions))
}

/// Checks that a waveform can be written to `vcd` before any simulation runs: its directory
/// must exist and accept a new file (the trace writer of the simulator fails silently).
pub fn check_writable(vcd: &Path) -> Result<()> {
    let dir = match vcd.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let probe = tempfile::Builder::new()
        .prefix(".repact-hw-vcd-")
        .tempfile_in(dir)
        .map_err(|e| {
            let why = format!("cannot create the waveform file there: {e}");
            Error::io(vcd, std::io::Error::new(e.kind(), why))
        })?;
    drop(probe);
    if vcd.is_dir() {
        return Err(Error::io(
            vcd,
            std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory, not a file",
            ),
        ));
    }
    Ok(())
}

/// The Verilog text of a core, as `verify` simulates it.
pub fn core_verilog(dir: &Path, core: &CoreEntry) -> Result<String> {
    let path = dir.join(&core.file);
    std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))
}

/// What Verilator builds for a core: its Verilog with the core's top and ports.
pub fn core_design<'a>(core: &'a CoreEntry, verilog: &'a str) -> verilator::DesignSource<'a> {
    verilator::DesignSource {
        verilog,
        top: &core.interface.top,
        ports: &core.interface.ports,
        clock: CLOCK,
    }
}

/// Verifies one core of a manifest, every layer it holds; `progress` receives work done.
/// Builds (or loads from the cache) the core's model first; [`super::jobs::verify_all`]
/// builds all models of a manifest together instead and calls [`verify_built_core`].
pub fn verify_core(
    dir: &Path,
    manifest: &Manifest,
    core: &CoreEntry,
    opts: &RunOptions,
    progress: &dyn Fn(u64),
) -> Result<Vec<CoreReport>> {
    let verilog = core_verilog(dir, core)?;
    let d = core_design(core, &verilog);
    let model = verilator::build(
        d.verilog,
        d.top,
        d.ports,
        d.clock,
        &opts.cache_dir,
        &BuildOptions::default(),
    )?;
    verify_built_core(manifest, core, &verilog, model, opts, progress)
}

/// [`verify_core`] with the core's Verilog already read and its (untraced) model built.
pub fn verify_built_core(
    manifest: &Manifest,
    core: &CoreEntry,
    verilog: &str,
    model: verilator::VerilatedModel,
    opts: &RunOptions,
    progress: &dyn Fn(u64),
) -> Result<Vec<CoreReport>> {
    let spec = manifest.spec_for(core)?;
    let iface = &core.interface;
    let ports = &iface.ports;
    let layout = &iface.stream;
    let map = iface.register_map();

    let run_phases = |model: verilator::VerilatedModel,
                      trace: Option<(&Path, u64)>|
     -> Result<(Vec<CoreReport>, AxisDut)> {
        let mut dut = AxisDut::new(model)?;
        if let Some((vcd, at)) = trace {
            dut.trace_window(vcd, at.saturating_sub(200), at + 50);
        }
        let mut config_problems = Vec::new();
        let mut transactions = 0;
        let bus = if let Some(map) = map {
            // Icarus starts with every table X, so its replay must include the bus writes.
            dut.record(usize::MAX);
            let bus = AxiLite::new(&mut dut)?;
            let (p, t) = configure_over_axilite(&mut dut, &bus, &spec, iface, map)?;
            config_problems = p;
            transactions = t;
            dut.record(opts.verify.icarus_cycles);
            Some(bus)
        } else {
            None
        };
        let mut reports = Vec::new();
        for layer in iface.layers(&spec) {
            if let Some(bus) = &bus {
                let writes = vec![(addr::LAYER_SELECT, layer as u32)];
                dut.set_post_reset(Box::new(WritesAfterReset {
                    bus: bus.clone(),
                    writes,
                }));
                bus.idle(&mut dut);
            }
            let (ex, latency) = exhaustive(&mut dut, &spec, layer, layout, &opts.verify, progress);
            if map.is_none() {
                dut.record(opts.verify.icarus_cycles);
            }
            let (st, resets) = stress(&mut dut, &spec, layer, layout, &opts.verify, progress);
            let l = &spec.layers()[layer];
            let mut first = ex.first_failure.clone().or(st.first_failure.clone());
            let latency_ok = latency == Some(iface.latency_cycles as u64);
            if !latency_ok && first.is_none() {
                first = Some(Failure {
                    cycle: 0,
                    phase: "exhaustive".into(),
                    what: format!(
                        "latency measured {latency:?} cycles, the core states {}",
                        iface.latency_cycles
                    ),
                });
            }
            if let (Some(p), None) = (config_problems.first(), &first) {
                first = Some(Failure {
                    cycle: 0,
                    phase: "axilite".into(),
                    what: p.clone(),
                });
            }
            reports.push(CoreReport {
                core: iface.top.clone(),
                layer: l.name().to_string(),
                lanes: iface.stream.lanes,
                channels: l.channels(),
                max_error_ulp: ex.max_error_ulp.max(st.max_error_ulp),
                bound_ulp: l.bound.total_ulp,
                passed: ex.passed() && st.passed() && latency_ok && config_problems.is_empty(),
                exhaustive: ex,
                stress: st,
                stress_resets: resets,
                axilite_transactions: transactions,
                axilite_problems: config_problems.len(),
                icarus_cycles: 0,
                icarus_mismatches: 0,
                icarus_xz: 0,
                latency_measured: latency,
                latency_stated: iface.latency_cycles,
                first_failure: first,
            });
        }
        Ok((reports, dut))
    };

    let (mut reports, dut) = run_phases(model, None)?;
    if opts.verify.icarus_cycles > 0 {
        let work = tempfile::Builder::new()
            .prefix("repact-hw-icarus-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        // Ready and valid are compared every cycle, the rest of the master side whenever
        // `m_axis_tvalid` is high (AXI4-Stream leaves it undefined otherwise).
        let always = |p: &Port| p.name.ends_with("tready") || p.name.ends_with("tvalid");
        let check = icarus::replay_and_compare(
            verilog,
            &iface.top,
            ports,
            CLOCK,
            &dut.recorded_inputs,
            &dut.recorded_outputs,
            &icarus::CompareRule {
                qualifier: Some("m_axis_tvalid"),
                always: &always,
            },
            work.path(),
        )?;
        // The replay covers the first layer's traffic (and, for run-time coefficients, the
        // bus writes before it): its verdict belongs to that layer.
        let r = &mut reports[0];
        r.icarus_cycles = check.cycles;
        r.icarus_mismatches = check.mismatches;
        r.icarus_xz = check.xz;
        if check.mismatches > 0 || check.xz > 0 {
            r.passed = false;
            if r.first_failure.is_none() {
                r.first_failure = Some(Failure {
                    cycle: 0,
                    phase: "icarus".into(),
                    what: check.first.unwrap_or_default(),
                });
            }
        }
    }
    if let (Some(failed), Some(vcd)) = (reports.iter().find(|r| !r.passed), &opts.vcd) {
        // Same seed, same stimulus: a traced re-run reproduces the failure cycle for cycle.
        let at = failed.first_failure.as_ref().map_or(0, |f| f.cycle);
        let traced = verilator::build(
            verilog,
            &iface.top,
            ports,
            CLOCK,
            &opts.cache_dir,
            &BuildOptions { trace: true },
        )?;
        run_phases(traced, Some((vcd, at)))?;
        // The simulator's trace writer fails silently: never claim a waveform not written.
        if !std::fs::metadata(vcd).is_ok_and(|m| m.is_file() && m.len() > 0) {
            return Err(Error::Tool {
                tool: "verilator".into(),
                reason: format!(
                    "the traced re-run wrote no waveform to {} (is it a writable file?)",
                    vcd.display()
                ),
            });
        }
    }
    Ok(reports)
}
