//! Resource estimates without Vivado: Yosys's `synth_xilinx` for 7-series, counted by cell type.
//!
//! Each core is synthesized as generated (all lanes, AXI4-Stream wrapper included), as a
//! one-lane core (what the per-lane goals are about) and its lane datapath alone; next to it a
//! HardSwish unit built by the same datapath generator for the same formats, the baseline a
//! RepAct layer replaces. Yosys is not Vivado: its LUT counts differ by some percent and it
//! gives no timing, so the numbers are estimates, labelled as such in the report.

use crate::bundle::BuiltCore;
use crate::fixedpoint::{DatapathSpec, SpecOptions};
use crate::hdl::{self, Coefficients, CoreOptions, GeneratedCore};
use crate::model::FoldedLayer;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::process::Command;

/// Goal for one lane: at most this many DSP48E1.
pub const LANE_GOAL_DSP: u64 = 2;
/// Goal for one lane: at most this many LUTs.
pub const LANE_GOAL_LUT: u64 = 60;
/// Goal for one lane: at most this many flip-flops.
pub const LANE_GOAL_FF: u64 = 100;
/// Goal for one lane: at most this many times the LUTs of the HardSwish unit.
pub const LANE_GOAL_LUT_VS_HARDSWISH: f64 = 1.25;

/// Counts of 7-series primitives after synthesis.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResourceCounts {
    /// Logic LUTs: LUT1..LUT6, plus Yosys's `INV` cells (a LUT1 in Vivado).
    pub lut: u64,
    /// LUTs used as memory: shift registers (SRL16E, SRLC32E) and distributed RAM.
    pub lutram: u64,
    /// Flip-flops: FDRE, FDSE, FDCE, FDPE.
    pub ff: u64,
    /// DSP48E1 slices.
    pub dsp48e1: u64,
    /// CARRY4 chains.
    pub carry4: u64,
    /// Block RAM in RAMB36 units (a RAMB18E1 counts one half).
    pub bram36: f64,
    /// Wide-function multiplexers (MUXF7, MUXF8).
    pub muxf: u64,
    /// Every cell type Yosys reported, with its count.
    pub cells: BTreeMap<String, u64>,
}

impl ResourceCounts {
    /// Sorts Yosys's cell counts into the categories of a Vivado utilization report.
    pub fn from_cells(cells: BTreeMap<String, u64>) -> Self {
        let mut r = ResourceCounts::default();
        for (cell, &n) in &cells {
            match cell.as_str() {
                "LUT1" | "LUT2" | "LUT3" | "LUT4" | "LUT5" | "LUT6" | "INV" => r.lut += n,
                "FDRE" | "FDSE" | "FDCE" | "FDPE" => r.ff += n,
                "DSP48E1" => r.dsp48e1 += n,
                "CARRY4" => r.carry4 += n,
                "RAMB36E1" => r.bram36 += n as f64,
                "RAMB18E1" => r.bram36 += n as f64 / 2.0,
                "MUXF7" | "MUXF8" => r.muxf += n,
                c if c.starts_with("SRL") || c.starts_with("RAM32") || c.starts_with("RAM64") => {
                    r.lutram += n
                }
                _ => {}
            }
        }
        r.cells = cells;
        r
    }
}

/// The estimates of one core.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreResources {
    /// Top module.
    pub top: String,
    /// Layer name.
    pub layer: String,
    /// Lanes of the core as generated.
    pub lanes: usize,
    /// The core as generated.
    pub core: ResourceCounts,
    /// The same core with one lane (equal to `core` when it has one).
    pub one_lane_core: ResourceCounts,
    /// The lane datapath alone (`<top>_lane`), without the AXI4-Stream wrapper.
    pub lane_only: ResourceCounts,
    /// DSP48E1 slices of one lane by the spec's tiling of its multiplies into 25 x 18 signed
    /// slices (`DatapathSpec::lane_dsp48e1`, what Vivado infers). Yosys tiles a multiply
    /// wider than one slice its own way (the wider operand on A, cut into 17-bit chunks), so
    /// its `dsp48e1` counts can be higher for wide formats.
    pub spec_dsp48e1_per_lane: u64,
    /// The core loads its coefficients at run time (`--coeffs axilite`): its core counts
    /// include the AXI4-Lite slave and the register file, shared by all lanes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub run_time_coefficients: bool,
}

/// One goal, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalCheck {
    /// Core.
    pub top: String,
    /// What was measured: `one-lane core` (AXI4-Stream wrapper included) or `lane datapath`.
    pub unit: String,
    /// What is limited, e.g. `LUT <= 60`.
    pub goal: String,
    /// The measured value.
    pub measured: f64,
    /// The limit.
    pub limit: f64,
    /// Whether the goal is met.
    pub met: bool,
}

/// Estimates of every core and of the HardSwish baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceEstimate {
    /// `yosys -V`.
    pub tool: String,
    /// The synthesis script, with `FILE` and `TOP` for the file and module.
    pub script: String,
    /// Per core.
    pub cores: Vec<CoreResources>,
    /// The HardSwish unit, same formats, same generator.
    pub hardswish: CoreResources,
    /// The per-lane goals, checked on each one-lane core.
    pub goals: Vec<GoalCheck>,
}

/// The Yosys script, with `FILE` and `TOP` to replace.
const SCRIPT: &str =
    "read_verilog FILE; synth_xilinx -family xc7 -noiopad -noclkbuf -flatten -top TOP; stat -json";

fn yosys_missing(e: std::io::Error) -> Error {
    Error::Tool {
        tool: "yosys".into(),
        reason: format!(
            "cannot run it ({e}); the resource estimate (--estimate) needs Yosys: install it \
             (apt-get install yosys) or leave out --estimate"
        ),
    }
}

/// The version line of the installed Yosys.
pub fn yosys_version() -> Result<String> {
    yosys_version_of("yosys")
}

fn yosys_version_of(program: &str) -> Result<String> {
    let out = Command::new(program)
        .arg("-V")
        .output()
        .map_err(yosys_missing)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Synthesizes module `top` of `verilog` for 7-series with Yosys and counts its cells.
pub fn synthesize(verilog: &str, top: &str) -> Result<ResourceCounts> {
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let file = dir.path().join("core.v");
    std::fs::write(&file, verilog).map_err(|e| Error::io(&file, e))?;
    let stat = dir.path().join("stat.json");
    let script = format!(
        "read_verilog {}; synth_xilinx -family xc7 -noiopad -noclkbuf -flatten -top {top}; \
         tee -q -o {} stat -json",
        file.display(),
        stat.display()
    );
    let out = Command::new("yosys")
        .args(["-q", "-p", &script])
        .output()
        .map_err(yosys_missing)?;
    if !out.status.success() {
        let mut log = String::from_utf8_lossy(&out.stderr).to_string();
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        return Err(Error::Tool {
            tool: "yosys".into(),
            reason: format!(
                "synthesis of `{top}` failed:\n{}",
                log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
            ),
        });
    }
    let text = std::fs::read_to_string(&stat).map_err(|e| Error::io(&stat, e))?;
    parse_stat_json(&text).ok_or_else(|| Error::Tool {
        tool: "yosys".into(),
        reason: format!("`stat -json` for `{top}` has no design cell counts"),
    })
}

/// Reads `design.num_cells_by_type` from Yosys's `stat -json`.
fn parse_stat_json(text: &str) -> Option<ResourceCounts> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let cells = v.get("design")?.get("num_cells_by_type")?.as_object()?;
    let cells = cells
        .iter()
        .map(|(k, n)| Some((k.clone(), n.as_u64()?)))
        .collect::<Option<BTreeMap<_, _>>>()?;
    Some(ResourceCounts::from_cells(cells))
}

/// The HardSwish baseline, `x·clip(x+3, 0, 6)/6`, as a piecewise layer.
pub fn hardswish_layer() -> FoldedLayer {
    FoldedLayer {
        name: "hardswish".into(),
        variant: "piecewise".into(),
        breakpoints: vec![-3.0, 3.0],
        segments: vec![vec![
            [0.0, 0.0, 0.0],
            [0.0, 0.5, 1.0 / 6.0],
            [0.0, 1.0, 0.0],
        ]],
    }
}

/// A synthesis job: Verilog text and module.
struct Job {
    verilog: String,
    top: String,
}

/// The one-lane version of a core (the core itself when it has one lane).
fn one_lane(spec: &DatapathSpec, core: &GeneratedCore) -> Result<GeneratedCore> {
    let iface = &core.interface;
    if iface.stream.lanes == 1 {
        return Ok(core.clone());
    }
    let opts = CoreOptions {
        top_name: iface.top.clone(),
        lanes: 1,
        tuser_width: iface.stream.tuser,
        command_line: String::new(),
    };
    match iface.coefficients {
        Coefficients::Baked { layer } => hdl::generate_baked(spec, layer, &opts),
        Coefficients::Runtime(_) => hdl::generate_axilite(spec, &opts),
    }
}

/// Runs the jobs on all CPUs; results in job order.
fn run_all(jobs: &[Job]) -> Result<Vec<ResourceCounts>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<ResourceCounts>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let r = synthesize(&job.verilog, &job.top);
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(Error::Tool {
                    tool: "yosys".into(),
                    reason: "a synthesis worker stopped without a result".into(),
                })
            })
        })
        .collect()
}

/// Estimates every core of `cores` and the HardSwish baseline built with `spec_opts` (the
/// options the cores' specs were built with), and checks the per-lane goals.
pub fn estimate_resources(
    cores: &[BuiltCore],
    spec_opts: &SpecOptions,
) -> Result<ResourceEstimate> {
    let tool = yosys_version()?;
    let hs_spec = DatapathSpec::build(&[hardswish_layer()], spec_opts)?;
    let lanes = cores.first().map_or(1, |c| c.interface.stream.lanes);
    let hs_core = hdl::generate_baked(
        &hs_spec,
        0,
        &CoreOptions {
            top_name: "repact_hardswish".into(),
            lanes,
            tuser_width: 0,
            command_line: String::new(),
        },
    )?;
    let mut units: Vec<(&str, String, GeneratedCore, GeneratedCore, u64)> = Vec::new();
    for built in cores {
        let spec = &built.spec;
        let layer = built
            .interface
            .layers(spec)
            .map(|i| spec.layers()[i].name())
            .collect::<Vec<_>>()
            .join(", ");
        let core = GeneratedCore {
            interface: built.interface.clone(),
            verilog: built.verilog.clone(),
        };
        let one = one_lane(spec, &core)?;
        units.push((
            built.top(),
            layer,
            core,
            one,
            u64::from(spec.lane_dsp48e1()),
        ));
    }
    units.push((
        "repact_hardswish",
        "hardswish".into(),
        hs_core.clone(),
        one_lane(&hs_spec, &hs_core)?,
        u64::from(hs_spec.lane_dsp48e1()),
    ));
    // Three syntheses per unit: as generated, one lane, lane datapath alone.
    let mut jobs = Vec::new();
    for (_, _, core, one, _) in &units {
        jobs.push(Job {
            verilog: core.verilog.clone(),
            top: core.top().to_string(),
        });
        jobs.push(Job {
            verilog: one.verilog.clone(),
            top: one.top().to_string(),
        });
        jobs.push(Job {
            verilog: one.verilog.clone(),
            top: format!("{}_lane", one.top()),
        });
    }
    let mut counts = run_all(&jobs)?.into_iter();
    let mut all = Vec::new();
    for (top, layer, core, _, spec_dsp) in &units {
        let (Some(c), Some(o), Some(l)) = (counts.next(), counts.next(), counts.next()) else {
            break;
        };
        all.push(CoreResources {
            top: top.to_string(),
            layer: layer.to_string(),
            lanes: core.interface.stream.lanes,
            run_time_coefficients: core.interface.register_map().is_some(),
            core: c,
            one_lane_core: o,
            lane_only: l,
            spec_dsp48e1_per_lane: *spec_dsp,
        });
    }
    let hardswish = all.pop().ok_or_else(|| Error::Tool {
        tool: "yosys".into(),
        reason: "no result for the HardSwish unit".into(),
    })?;
    // The goals are about one lane; they are checked on the one-lane core (what a user
    // instantiates, wrapper included) and on the lane datapath alone (what a lane adds). A
    // run-time-coefficient core's wrapper holds the register file and the AXI4-Lite slave,
    // shared by every lane and layer: its goals are checked on the lane datapath only.
    let mut goals = Vec::new();
    for c in &all {
        for (unit, r, hs) in [
            ("one-lane core", &c.one_lane_core, &hardswish.one_lane_core),
            ("lane datapath", &c.lane_only, &hardswish.lane_only),
        ] {
            if c.run_time_coefficients && unit == "one-lane core" {
                continue;
            }
            let mut check = |goal: &str, measured: f64, limit: f64| {
                goals.push(GoalCheck {
                    top: c.top.clone(),
                    unit: unit.into(),
                    goal: goal.into(),
                    measured,
                    limit,
                    met: measured <= limit,
                })
            };
            check("DSP48E1 <= 2", r.dsp48e1 as f64, LANE_GOAL_DSP as f64);
            check("LUT <= 60", r.lut as f64, LANE_GOAL_LUT as f64);
            check("FF <= 100", r.ff as f64, LANE_GOAL_FF as f64);
            check(
                "LUT <= 1.25 x HardSwish",
                r.lut as f64,
                LANE_GOAL_LUT_VS_HARDSWISH * hs.lut as f64,
            );
        }
    }
    Ok(ResourceEstimate {
        tool,
        script: SCRIPT.into(),
        cores: all,
        hardswish,
        goals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_yosys_is_a_tool_error_with_a_hint() {
        match yosys_version_of("yosys-that-is-not-installed") {
            Err(Error::Tool { tool, reason }) => {
                assert_eq!(tool, "yosys");
                assert!(reason.contains("apt-get install yosys"), "{reason}");
                assert!(reason.contains("--estimate"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sorts_cells_into_categories() {
        let cells: BTreeMap<String, u64> = [
            ("LUT2", 3),
            ("LUT6", 4),
            ("INV", 1),
            ("FDRE", 10),
            ("FDSE", 2),
            ("DSP48E1", 2),
            ("CARRY4", 5),
            ("SRL16E", 2),
            ("RAMB18E1", 1),
            ("MUXF7", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let r = ResourceCounts::from_cells(cells);
        assert_eq!((r.lut, r.ff, r.dsp48e1, r.carry4), (8, 12, 2, 5));
        assert_eq!((r.lutram, r.muxf), (2, 1));
        assert_eq!(r.bram36, 0.5);
    }
}
