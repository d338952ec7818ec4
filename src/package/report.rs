//! `report.md` and `report.json`: per layer the folded function, the fixed-point formats, the
//! proven error bound, the error measured over every input, the latency and (when estimated)
//! the resources; and a plot per layer.

use super::axilite::{self, CoreRegisters};
use super::measure::{measure_error, MeasuredError};
use super::resources::{CoreResources, ResourceCounts, ResourceEstimate};
use super::{svg, PackageOptions};
use crate::bundle::BuiltCore;
use crate::escape;
use crate::fixedpoint::{DatapathSpec, SegmentCoefs, StageWidths};
use crate::{Error, Result};
use serde::Serialize;
use std::fmt::Write as _;

/// `plots/<layer>.svg`.
pub fn plot_path(layer: &str) -> String {
    format!("plots/{}.svg", escape::file_stem(layer))
}

/// `(layer name, SVG)` for every core's layers (channel 0).
pub fn plots(cores: &[BuiltCore]) -> Vec<(String, String)> {
    cores
        .iter()
        .map(|b| (&b.interface, &b.spec))
        .flat_map(|(c, s)| c.layers(s).map(move |i| (s, i)))
        .map(|(s, i)| {
            let l = &s.layers()[i];
            let title = format!(
                "{} (channel 0 of {}): {} -> {}",
                l.name(),
                l.channels(),
                s.input(),
                s.output()
            );
            (l.name().to_string(), svg::plot(s, i, 0, &title))
        })
        .collect()
}

/// The fixed-point formats of a layer's datapath.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Formats {
    /// Input format.
    pub input: String,
    /// Output format.
    pub output: String,
    /// Fractional bits of `c2`.
    pub c2_frac: u32,
    /// Fractional bits of `t` and `c1`.
    pub t_frac: u32,
    /// Fractional bits of `k1`.
    pub k1_frac: u32,
    /// Fractional bits of `k0` and `y`.
    pub k0_frac: u32,
    /// First right shift.
    pub shift1: u32,
    /// Final right shift.
    pub shift2: u32,
    /// Stage widths.
    pub widths: StageWidths,
    /// Rounding of the input (float to fixed).
    pub input_rounding: String,
    /// Rounding of the two shifts.
    pub rounding: [String; 2],
    /// Output overflow.
    pub overflow: String,
}

/// One layer's entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerReport {
    /// Layer name.
    pub name: String,
    /// Variant.
    pub variant: String,
    /// Core implementing it.
    pub core: String,
    /// Its slot in the core's registers (a run-time-coefficient core only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<usize>,
    /// Channels.
    pub channels: usize,
    /// Breakpoints of the folded function.
    pub breakpoints: Vec<f64>,
    /// `[channel][segment] = [c0, c1, c2]` in f64.
    pub segments: Vec<Vec<[f64; 3]>>,
    /// Thresholds in raw input units.
    pub thresholds: Vec<i64>,
    /// Integer coefficients `[channel][segment]`.
    pub coefs: Vec<Vec<SegmentCoefs>>,
    /// Formats and widths.
    pub formats: Formats,
    /// Error budget, output ULP.
    pub budget_ulp: f64,
    /// Proven bound before the output rounding, output ULP.
    pub proven_pre_round_ulp: f64,
    /// Proven bound, output ULP.
    pub proven_total_ulp: f64,
    /// How the bound was established (`proven`, or `measured on all 2^W inputs`).
    pub bound_kind: String,
    /// Measured error per channel.
    pub measured: Vec<MeasuredError>,
    /// Latency of the core in clock cycles.
    pub latency_cycles: usize,
    /// Samples per beat.
    pub lanes: usize,
    /// The plot.
    pub plot: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `repact-hw <version>`.
    pub generator: String,
    /// Target part.
    pub part: String,
    /// Target clock.
    pub clock_mhz: f64,
    /// Per layer.
    pub layers: Vec<LayerReport>,
    /// Resource estimates, when run.
    pub resources: Option<ResourceEstimate>,
    /// The AXI4-Lite register maps of the run-time-coefficient cores (none in a baked bundle).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub register_maps: Vec<RegisterMapReport>,
}

/// A layer of a run-time-coefficient core.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotReport {
    /// Slot it was generated for.
    pub slot: usize,
    /// Layer name.
    pub layer: String,
    /// Channels (what it writes into `LAYER_CHANNELS`).
    pub channels: usize,
    /// Register writes that load it.
    pub writes: usize,
}

/// The register map of a run-time-coefficient core.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisterMapReport {
    /// Core.
    pub core: String,
    /// The registers, their offsets, fields and values after reset.
    pub registers: CoreRegisters,
    /// Its layers by slot.
    pub slots: Vec<SlotReport>,
}

fn formats(spec: &DatapathSpec) -> Formats {
    Formats {
        input: spec.input().to_string(),
        output: spec.output().to_string(),
        c2_frac: spec.c2_frac(),
        t_frac: spec.t_frac(),
        k1_frac: spec.k1_frac(),
        k0_frac: spec.k0_frac(),
        shift1: spec.shift1(),
        shift2: spec.shift2(),
        widths: *spec.widths(),
        input_rounding: "round to nearest, ties to even; saturate".into(),
        rounding: [
            format!("{:?}", spec.rounding1()),
            format!("{:?}", spec.rounding2()),
        ],
        overflow: format!("{:?}", spec.output_overflow()),
    }
}

fn f(v: f64) -> String {
    format!("{v:.4}")
}

fn interval(bp: &[f64], seg: usize) -> String {
    let lo = if seg == 0 {
        "-inf".to_string()
    } else {
        format!("{}", bp[seg - 1])
    };
    let hi = if seg == bp.len() {
        "+inf".to_string()
    } else {
        format!("{}", bp[seg])
    };
    format!("[{lo}, {hi})")
}

/// Channels printed per layer in the markdown (all are in report.json).
const MD_CHANNELS: usize = 4;

impl Report {
    /// Measures and collects everything.
    pub fn build(
        cores: &[BuiltCore],
        opts: &PackageOptions,
        resources: Option<&ResourceEstimate>,
    ) -> Result<Self> {
        let mut layers = Vec::new();
        let mut register_maps = Vec::new();
        for (c, s) in cores.iter().map(|b| (&b.interface, &b.spec)) {
            let regs = super::core_registers(c, s)?;
            for i in c.layers(s) {
                let l = &s.layers()[i];
                layers.push(LayerReport {
                    name: l.name().into(),
                    variant: l.folded.variant.clone(),
                    core: c.top.clone(),
                    slot: regs.as_ref().map(|_| i),
                    channels: l.channels(),
                    breakpoints: l.folded.breakpoints.clone(),
                    segments: l.folded.segments.clone(),
                    thresholds: l.thresholds.clone(),
                    coefs: l.coefs.clone(),
                    formats: formats(s),
                    budget_ulp: s.max_error_ulp(),
                    proven_pre_round_ulp: l.bound.pre_round_ulp,
                    proven_total_ulp: l.bound.total_ulp,
                    bound_kind: super::c_header::bound_words(l, s.input()),
                    measured: measure_error(s, i),
                    latency_cycles: c.latency_cycles,
                    lanes: c.stream.lanes,
                    plot: plot_path(l.name()),
                });
            }
            if let Some(r) = regs {
                let slots = axilite::slot0_writes(&r.map, s)
                    .iter()
                    .zip(s.layers())
                    .enumerate()
                    .map(|(slot, (w, l))| SlotReport {
                        slot,
                        layer: l.name().into(),
                        channels: l.channels(),
                        writes: w.len(),
                    })
                    .collect();
                register_maps.push(RegisterMapReport {
                    core: c.top.clone(),
                    registers: r,
                    slots,
                });
            }
        }
        Ok(Report {
            generator: format!("repact-hw {}", env!("CARGO_PKG_VERSION")),
            part: opts.part.clone(),
            clock_mhz: opts.clock_mhz,
            layers,
            resources: resources.cloned(),
            register_maps,
        })
    }

    /// `report.json`.
    pub fn json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .map_err(|e| Error::Internal(format!("cannot serialize report.json: {e}")))
    }

    /// `report.md`.
    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# repact-hw IP report\n\n\
             Generated by {}. Target: `{}` at {} MHz. All numbers are for the hardware as \
             generated; \"measured\" errors come from running the bit-exact golden model (which \
             the co-simulation proves equal to the Verilog) on every input of the input format \
             and comparing with the folded f64 function, saturated to the output range.\n\n\
             Block design (`vivado/create_bd.tcl`): {}.\n",
            self.generator,
            self.part,
            self.clock_mhz,
            super::Fclk::nearest(self.clock_mhz).describe(self.clock_mhz)
        );
        o.push_str("## Summary\n\n");
        o.push_str(
            "| layer | core | channels | bound (ULP) | measured max (ULP) | measured mean (ULP) | correctly rounded | latency (cycles) |\n\
             |---|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for l in &self.layers {
            let max = l.measured.iter().map(|m| m.max_abs_ulp).fold(0.0, f64::max);
            let mean = l.measured.iter().map(|m| m.mean_abs_ulp).sum::<f64>()
                / l.measured.len().max(1) as f64;
            let (half, n) = l.measured.iter().fold((0u64, 0u64), |(h, n), m| {
                (h + m.within_half_ulp, n + m.inputs)
            });
            let _ = writeln!(
                o,
                "| {} | `{}` | {} | {} ({}) | {} | {} | {:.2}% | {} |",
                escape::markdown(&l.name),
                l.core,
                l.channels,
                f(l.proven_total_ulp),
                l.bound_kind,
                f(max),
                f(mean),
                100.0 * half as f64 / n.max(1) as f64,
                l.latency_cycles
            );
        }
        o.push('\n');
        if let Some(r) = &self.resources {
            resources_md(&mut o, r);
        }
        for m in &self.register_maps {
            register_map_md(&mut o, m);
        }
        for l in &self.layers {
            layer_md(&mut o, l);
        }
        o
    }
}

/// The register map of a run-time-coefficient core: its concrete registers, then the map as
/// [`crate::hdl::regmap`] documents it.
pub fn register_map_md(o: &mut String, m: &RegisterMapReport) {
    let r = &m.registers;
    let _ = writeln!(
        o,
        "## Registers of `{}` (AXI4-Lite slave `S_AXI`)\n\n\
         The thresholds and coefficients of {} layer slots ({} channel slots, {} segments each) \
         are registers: `S_AXI` decodes {} address bits ({} bytes from the base address the \
         block design assigns). Load a layer into a slot (the C header's `{}_load_layer()`, \
         the PYNQ driver's `RepActRegisters.load_layer()`), then select the slot streamed with \
         `LAYER_SELECT`. Write while the stream is idle: every write holds `s_axis_tready` low \
         for a few cycles.\n\n\
         | slot | layer | channels | register writes to load |\n|---:|---|---:|---:|",
        m.core,
        r.map.layers,
        r.map.channels,
        r.map.segments,
        r.address_bits,
        r.range,
        m.core.to_ascii_lowercase()
    );
    for s in &m.slots {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            s.slot,
            escape::markdown(&s.layer),
            s.channels,
            s.writes
        );
    }
    let _ = writeln!(
        o,
        "\n| offset | register | access | after reset | fields |\n|---|---|---|---|---|"
    );
    for g in &r.registers {
        let at = match g.table {
            Some(t) if t.count > 0 => {
                format!("`0x{:04X}`..`0x{:04X}`", g.offset, g.offset + t.span() - 1)
            }
            _ => format!("`0x{:04X}`", g.offset),
        };
        let fields: Vec<String> = g
            .fields
            .iter()
            .map(|f| {
                format!(
                    "`{}` [{}:{}]{}",
                    f.name,
                    f.lsb + f.width - 1,
                    f.lsb,
                    if f.signed { " signed" } else { "" }
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "| {at} | `{}` | {} | {} | {} |",
            g.doc_name,
            g.access.abbrev(),
            g.reset.map_or("-".to_string(), |v| format!("`0x{v:08X}`")),
            fields.join(", ")
        );
    }
    let _ = writeln!(
        o,
        "\nThe register map in general (L layer slots, C channel slots, S segments):\n"
    );
    for row in crate::hdl::regmap::markdown_table() {
        let _ = writeln!(o, "{row}");
    }
    o.push('\n');
}

fn layer_md(o: &mut String, l: &LayerReport) {
    let fm = &l.formats;
    let slot = l.slot.map_or(String::new(), |s| format!(", slot {s}"));
    let _ = writeln!(
        o,
        "## Layer {} — core `{}`{}\n\n\
         Variant `{}`, {} channel(s), {} lane(s) per beat, latency {} cycles, one beat per clock.\n\n\
         ![{}]({})\n\n\
         ### Folded function\n\n\
         Per channel and segment `f(x) = c0 + c1·x + c2·x²`; breakpoints {:?}.\n",
        escape::markdown_code(&l.name),
        l.core,
        slot,
        l.variant,
        l.channels,
        l.lanes,
        l.latency_cycles,
        escape::markdown(&l.name),
        l.plot,
        l.breakpoints
    );
    o.push_str("| channel | segment | interval | c0 | c1 | c2 | hw c2 | hw k1 | hw k0 |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for (ch, (segs, coefs)) in l
        .segments
        .iter()
        .zip(&l.coefs)
        .enumerate()
        .take(MD_CHANNELS)
    {
        for (s, (c, k)) in segs.iter().zip(coefs).enumerate() {
            let _ = writeln!(
                o,
                "| {ch} | {s} | {} | {} | {} | {} | {} | {} | {} |",
                interval(&l.breakpoints, s),
                c[0],
                c[1],
                c[2],
                k.c2,
                k.k1,
                k.k0
            );
        }
    }
    if l.channels > MD_CHANNELS {
        let _ = writeln!(
            o,
            "\n({} more channels in `report.json`.)",
            l.channels - MD_CHANNELS
        );
    }
    let w = &fm.widths;
    let _ = writeln!(
        o,
        "\n### Fixed point\n\n\
         - input `{}` ({}), output `{}`\n\
         - thresholds (raw input units): {:?}\n\
         - `c2` {} bits with {} fractional bits; `k1` {} bits, {} fractional; `k0` {} bits, {} \
         fractional; `t` {} bits, {} fractional\n\
         - `t = (c2·x + k1) >> {}` ({}), `out = sat((t·x + k0) >> {})` ({}, overflow {})\n\
         - stage widths: p1 {}, s1 {}, p2 {}, y {}, q {}\n",
        fm.input,
        fm.input_rounding,
        fm.output,
        l.thresholds,
        w.c2,
        fm.c2_frac,
        w.k1,
        fm.k1_frac,
        w.k0,
        fm.k0_frac,
        w.t,
        fm.t_frac,
        fm.shift1,
        fm.rounding[0],
        fm.shift2,
        fm.rounding[1],
        fm.overflow,
        w.p1,
        w.s1,
        w.p2,
        w.y,
        w.q
    );
    let _ = writeln!(
        o,
        "### Error\n\n\
         Budget {} ULP; bound {} ULP, {} ({} ULP before the output rounding).\n\n\
         | channel | inputs | exhaustive | max (ULP) | mean (ULP) | worst input | correctly rounded |\n\
         |---:|---:|---|---:|---:|---:|---:|",
        f(l.budget_ulp),
        f(l.proven_total_ulp),
        l.bound_kind,
        f(l.proven_pre_round_ulp)
    );
    for m in l.measured.iter().take(MD_CHANNELS) {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} (raw {}) | {:.2}% |",
            m.channel,
            m.inputs,
            if m.exhaustive { "yes" } else { "grid" },
            f(m.max_abs_ulp),
            f(m.mean_abs_ulp),
            m.worst_input,
            m.worst_input_raw,
            100.0 * m.within_half_ulp as f64 / m.inputs.max(1) as f64
        );
    }
    o.push('\n');
}

fn counts_row(o: &mut String, what: &str, c: &ResourceCounts) {
    let _ = writeln!(
        o,
        "| {what} | {} | {} | {} | {} | {} | {} |",
        c.lut, c.lutram, c.ff, c.dsp48e1, c.carry4, c.bram36
    );
}

fn unit_rows(o: &mut String, r: &CoreResources) {
    if r.lanes > 1 {
        counts_row(o, &format!("`{}` ({} lanes)", r.top, r.lanes), &r.core);
    }
    counts_row(o, &format!("`{}`, 1 lane", r.top), &r.one_lane_core);
    counts_row(
        o,
        &format!("`{}_lane` (datapath only)", r.top),
        &r.lane_only,
    );
}

fn resources_md(o: &mut String, r: &ResourceEstimate) {
    let _ = writeln!(
        o,
        "## Resources (estimate)\n\n\
         Yosys, not Vivado: `{}` with {}. Vivado's counts differ by some percent \
         (it packs LUTs and pushes registers into DSPs differently); Yosys gives no timing. \
         LUT includes Yosys's `INV` cells (a LUT1 each in Vivado); LUTRAM counts shift \
         registers (SRL16E/SRLC32E). The HardSwish unit is `x·clip(x+3,0,6)/6` built by the \
         same generator for the same formats.\n\n\
         | unit | LUT | LUTRAM | FF | DSP48E1 | CARRY4 | BRAM36 |\n\
         |---|---:|---:|---:|---:|---:|---:|",
        r.script, r.tool
    );
    for c in &r.cores {
        unit_rows(o, c);
    }
    unit_rows(o, &r.hardswish);
    let tiling: Vec<String> = r
        .cores
        .iter()
        .chain([&r.hardswish])
        .map(|c| format!("`{}` {}", c.top, c.spec_dsp48e1_per_lane))
        .collect();
    let _ = writeln!(
        o,
        "
DSP48E1 per lane by the datapath spec's tiling of its multiplies into 25 × 18 signed \
         slices (what Vivado infers; Yosys cuts a multiply wider than one slice differently \
         and can count more): {}.",
        tiling.join(", ")
    );
    for c in r.cores.iter().filter(|c| c.run_time_coefficients) {
        let _ = writeln!(
            o,
            "\n`{}` loads its coefficients at run time: its core rows include the AXI4-Lite \
             slave and the register file of every layer slot, shared by all lanes; its per-lane \
             goals are checked on the lane datapath only.",
            c.top
        );
    }
    o.push_str(
        "\nPer-lane goals, checked on each one-lane core (AXI4-Stream wrapper included) and on \
         its lane datapath alone (HardSwish likewise):\n\n\
         | core | unit | goal | measured | limit | |\n|---|---|---|---:|---:|---|\n",
    );
    for g in &r.goals {
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {} | {} |",
            g.top,
            g.unit,
            g.goal,
            g.measured,
            g.limit,
            if g.met { "met" } else { "**missed**" }
        );
    }
    o.push('\n');
}
