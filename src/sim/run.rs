//! `verify`: every core of a generated IP directory through Verilator (exhaustive and stress
//! phases) and Icarus Verilog (replay of the recorded stress stimulus, 4-state).

use super::axis_bench::{AxisDut, StreamLayout, CLOCK};
use super::icarus;
use super::ports::{Dir, Port};
use super::verify::{exhaustive, stress, Failure, PhaseResult, VerifyOptions};
use super::verilator::{self, BuildOptions};
use crate::fixedpoint::DatapathSpec;
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

fn sim_ports(core: &CoreEntry) -> Vec<Port> {
    core.ports
        .iter()
        .map(|p| Port {
            name: p.name.clone(),
            width: p.width,
            dir: if p.dir == "out" {
                Dir::Output
            } else {
                Dir::Input
            },
        })
        .collect()
}

fn layout_of(core: &CoreEntry, spec: &DatapathSpec) -> StreamLayout {
    StreamLayout {
        lanes: core.lanes,
        in_slot: spec.input().slot_bits(),
        out_slot: spec.output().slot_bits(),
        tuser_width: core.tuser_width,
    }
}

/// Compares Icarus's 4-state replay with Verilator's recorded outputs: ready and valid every
/// cycle, the rest of the master side whenever `m_axis_tvalid` is high (AXI4-Stream leaves it
/// undefined otherwise). Returns (mismatching cycles, cycles with X/Z where defined, first).
fn compare_icarus(
    ports: &[Port],
    verilator_out: &[Vec<u64>],
    run: &icarus::IcarusRun,
) -> (u64, u64, Option<String>) {
    let outs: Vec<&Port> = ports.iter().filter(|p| p.dir == Dir::Output).collect();
    let offsets: Vec<usize> = outs
        .iter()
        .scan(0, |at, p| {
            let o = *at;
            *at += p.words();
            Some(o)
        })
        .collect();
    let valid_idx = outs.iter().position(|p| p.name == "m_axis_tvalid");
    let (mut mism, mut xz, mut first) = (0u64, 0u64, None);
    for (cycle, v) in verilator_out.iter().enumerate().take(run.cycles()) {
        let valid = valid_idx.is_some_and(|i| v[offsets[i]] != 0);
        let (mut bad, mut has_xz) = (false, false);
        for (i, p) in outs.iter().enumerate() {
            let always = p.name.ends_with("tready") || p.name.ends_with("tvalid");
            if !always && !valid {
                continue;
            }
            if run.xz[cycle][i] {
                has_xz = true;
            }
            let a = &v[offsets[i]..offsets[i] + p.words()];
            if a != run.output(cycle, i) {
                bad = true;
                if first.is_none() {
                    first = Some(format!(
                        "cycle {cycle} of the replay: `{}` is {:x?} in Verilator, {:x?} in Icarus",
                        p.name,
                        a,
                        run.output(cycle, i)
                    ));
                }
            }
        }
        mism += bad as u64;
        xz += has_xz as u64;
        if has_xz && first.is_none() {
            first = Some(format!(
                "cycle {cycle} of the replay: X or Z on a defined output"
            ));
        }
    }
    (mism, xz, first)
}

/// Verifies one core of a manifest; `progress` receives samples done.
pub fn verify_core(
    dir: &Path,
    manifest: &Manifest,
    core: &CoreEntry,
    opts: &RunOptions,
    progress: &dyn Fn(u64),
) -> Result<Vec<CoreReport>> {
    let spec = manifest.spec_for(core)?;
    let path = dir.join(&core.file);
    let verilog = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let ports = sim_ports(core);
    let layout = layout_of(core, &spec);
    let mut reports = Vec::new();
    for layer in 0..spec.layers().len() {
        let run_phases = |trace: Option<(&Path, u64)>| -> Result<(CoreReport, AxisDut)> {
            let model = verilator::build(
                &verilog,
                &core.top,
                &ports,
                CLOCK,
                &opts.cache_dir,
                &BuildOptions {
                    trace: trace.is_some(),
                },
            )?;
            let mut dut = AxisDut::new(model)?;
            if let Some((vcd, at)) = trace {
                dut.trace_window(vcd, at.saturating_sub(200), at + 50);
            }
            let (ex, latency) = exhaustive(&mut dut, &spec, layer, &layout, &opts.verify, progress);
            dut.record(opts.verify.icarus_cycles);
            let (st, resets) = stress(&mut dut, &spec, layer, &layout, &opts.verify, progress);
            if trace.is_some() {
                dut.model_mut().trace_close();
            }
            let l = &spec.layers()[layer];
            let first = ex.first_failure.clone().or(st.first_failure.clone());
            let report = CoreReport {
                core: core.top.clone(),
                layer: l.name().to_string(),
                lanes: core.lanes,
                channels: l.channels(),
                max_error_ulp: ex.max_error_ulp.max(st.max_error_ulp),
                bound_ulp: l.bound.total_ulp,
                passed: ex.passed() && st.passed() && latency == Some(core.latency_cycles as u64),
                exhaustive: ex,
                stress: st,
                stress_resets: resets,
                icarus_cycles: 0,
                icarus_mismatches: 0,
                icarus_xz: 0,
                latency_measured: latency,
                latency_stated: core.latency_cycles,
                first_failure: first,
            };
            Ok((report, dut))
        };
        let (mut report, dut) = run_phases(None)?;
        if report.latency_measured != Some(core.latency_cycles as u64)
            && report.first_failure.is_none()
        {
            report.first_failure = Some(Failure {
                cycle: 0,
                phase: "exhaustive".into(),
                what: format!(
                    "latency measured {:?} cycles, the core states {}",
                    report.latency_measured, core.latency_cycles
                ),
            });
        }
        if opts.verify.icarus_cycles > 0 {
            let work = tempfile::Builder::new()
                .prefix("repact-hw-icarus-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let run = icarus::replay(
                &verilog,
                &core.top,
                &ports,
                CLOCK,
                &dut.recorded_inputs,
                work.path(),
            )?;
            let (mism, xz, first) = compare_icarus(&ports, &dut.recorded_outputs, &run);
            report.icarus_cycles = run.cycles();
            report.icarus_mismatches = mism;
            report.icarus_xz = xz;
            if mism > 0 || xz > 0 {
                report.passed = false;
                if report.first_failure.is_none() {
                    report.first_failure = Some(Failure {
                        cycle: 0,
                        phase: "icarus".into(),
                        what: first.unwrap_or_default(),
                    });
                }
            }
        }
        if let (false, Some(vcd)) = (report.passed, &opts.vcd) {
            // Same seed, same stimulus: a traced re-run reproduces the failure cycle for cycle.
            let at = report.first_failure.as_ref().map_or(0, |f| f.cycle);
            run_phases(Some((vcd, at)))?;
        }
        reports.push(report);
    }
    Ok(reports)
}
