//! `repact-hw inspect`: every layer folded, quantized, and its proven error bound.

use super::{FormatArgs, WeightsArgs};
use clap::Args;
use repact_hw::fit::build::{build_fitted, plan_of, smooth_activation, BuiltDatapath};
use repact_hw::fit::{DatapathChoice, Plan};
use repact_hw::fixedpoint::{DatapathSpec, LayerSpec, SpecOptions};
use repact_hw::model::{fold, Activation, Layer};
use repact_hw::Result;
use serde_json::json;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Arguments of `inspect`.
#[derive(Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub(super) weights: WeightsArgs,
    #[command(flatten)]
    formats: FormatArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// What inspect shows for one layer: its quantized comparator datapath, or, for a smooth
/// activation, the fitter's plan and the quantized table/ROM spec built from it.
enum Entry {
    Spec(DatapathSpec),
    Fitted {
        name: String,
        activation: Activation,
        plan: Plan,
        datapath: BuiltDatapath,
        spec: Box<DatapathSpec>,
    },
}

fn entry(layer: &Layer, opts: &SpecOptions, choice: DatapathChoice) -> Result<Entry> {
    if let Some(a) = smooth_activation(layer) {
        let built = build_fitted(&layer.name, a, opts, choice)?;
        return Ok(Entry::Fitted {
            name: layer.name.clone(),
            activation: a.clone(),
            plan: plan_of(&built, opts),
            datapath: built.datapath,
            spec: Box::new(built.spec),
        });
    }
    Ok(Entry::Spec(DatapathSpec::build(&[fold(layer)?], opts)?))
}

pub fn run(args: &InspectArgs) -> Result<ExitCode> {
    let net = args.weights.network()?;
    let opts = args.formats.spec_options();
    let entries = net
        .layers
        .iter()
        .map(|l| entry(l, &opts, args.formats.datapath))
        .collect::<Result<Vec<_>>>()?;
    if args.json {
        let layers: Vec<_> = entries
            .iter()
            .map(|e| match e {
                Entry::Spec(spec) => layer_json(spec),
                Entry::Fitted {
                    name,
                    activation,
                    plan,
                    datapath,
                    spec,
                } => json!({
                    "name": name,
                    "variant": activation.to_string(),
                    "channels": 1,
                    "datapath": datapath.name(),
                    "fit_plan": plan,
                    "latency_cycles": spec.latency(),
                    "dsp48e1_per_lane": spec.lane_dsp48e1(),
                    "max_error_ulp": spec.max_error_ulp(),
                    "error_bound": spec.layers()[0].bound,
                }),
            })
            .collect();
        let doc = json!({
            "tool": "repact-hw",
            "version": env!("CARGO_PKG_VERSION"),
            "weights": net.source.display().to_string(),
            "layers": layers,
        });
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default())?;
    } else {
        for e in &entries {
            match e {
                Entry::Spec(spec) => out!("{}", text_report(std::slice::from_ref(spec)))?,
                Entry::Fitted {
                    name,
                    activation,
                    plan,
                    datapath,
                    spec,
                } => out!(
                    "{}",
                    fitted_report(name, activation, plan, *datapath, spec, &opts)
                )?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn fitted_report(
    name: &str,
    a: &Activation,
    plan: &Plan,
    datapath: BuiltDatapath,
    spec: &DatapathSpec,
    opts: &SpecOptions,
) -> String {
    let mut out = format!(
        "layer {name}  (activation {a}, smooth: fitted, {} datapath)\n  formats: in {} -> out {}, budget {} ULP\n",
        datapath.name(), opts.input, opts.output, opts.max_error_ulp
    );
    match plan {
        Plan::Rom { estimate } => {
            let _ = writeln!(
                out,
                "  plan: ROM of all {} correctly rounded outputs; estimate {} LUT, {} DSP, {} BRAM",
                1u64 << opts.input.width(),
                estimate.luts,
                estimate.dsp,
                estimate.bram
            );
        }
        Plan::Table(t) => {
            let _ = writeln!(
                out,
                "  plan: {} uniform segments of {} codes from raw {}, degree {} in the local \
                 offset; fit error {:.4} ULP measured on all {} inputs (before quantization)",
                1u64 << t.index_bits,
                1u64 << t.offset_bits,
                t.lo_raw,
                t.degree,
                t.fit_error_ulp,
                1u64 << opts.input.width()
            );
            for (side, o) in [("below", &t.below), ("above", &t.above)] {
                if let Some(o) = o {
                    let _ = writeln!(
                        out,
                        "  {side}: raw {}..={}: {} + {}*x",
                        o.lo_raw, o.hi_raw, o.poly[0], o.poly[1]
                    );
                }
            }
            for b in &t.bridges {
                let _ = writeln!(
                    out,
                    "  bridge to a jump: raw {}..={}: {} + {}*x + {}*x^2",
                    b.lo_raw, b.hi_raw, b.poly[0], b.poly[1], b.poly[2]
                );
            }
            let _ = writeln!(
                out,
                "  estimate: coefficient widths {:?}, {} LUT, {} DSP48E1, {} BRAM",
                t.coef_widths, t.estimate.luts, t.estimate.dsp, t.estimate.bram
            );
        }
    }
    let _ = writeln!(out, "  {}", dsp_line(spec));
    let _ = writeln!(
        out,
        "  quantized: max error {:.6} ULP measured on all {} inputs, budget {} ULP; latency {} \
         cycles\n",
        spec.layers()[0].bound.total_ulp,
        1u64 << opts.input.width(),
        spec.max_error_ulp(),
        spec.latency()
    );
    out
}

/// The lane's DSP48E1 count and how each multiply is tiled (`spec.multipliers()`).
fn dsp_line(spec: &DatapathSpec) -> String {
    let muls: Vec<String> = spec.multipliers().iter().map(|m| m.describe()).collect();
    if muls.is_empty() {
        return "DSP48E1: 0 per lane (no multiplier)".into();
    }
    format!(
        "DSP48E1: {} per lane ({})",
        spec.lane_dsp48e1(),
        muls.join("; ")
    )
}

fn layer_json(spec: &DatapathSpec) -> serde_json::Value {
    let l = &spec.layers()[0];
    json!({
        "name": l.name(),
        "variant": l.folded.variant,
        "channels": l.channels(),
        "breakpoints": l.folded.breakpoints,
        "segments": l.folded.segments,
        "quantization": {
            "input_format": spec.input().to_string(),
            "output_format": spec.output().to_string(),
            "c2_frac": spec.c2_frac(),
            "t_frac": spec.t_frac(),
            "k1_frac": spec.k1_frac(),
            "k0_frac": spec.k0_frac(),
            "shift1": spec.shift1(),
            "shift2": spec.shift2(),
            "rounding": [spec.rounding1(), spec.rounding2()],
            "output_overflow": spec.output_overflow(),
            "widths": spec.widths(),
            "thresholds": l.thresholds,
            "reachable": l.reachable,
            "coefs": l.coefs,
            "latency_cycles": spec.latency(),
            "dsp48e1_per_lane": spec.lane_dsp48e1(),
            "multipliers": spec.multipliers(),
            "max_error_ulp": spec.max_error_ulp(),
            "error_bound": l.bound,
        },
    })
}

fn segment_range(l: &LayerSpec, s: usize) -> String {
    let b = &l.folded.breakpoints;
    match (s.checked_sub(1).and_then(|i| b.get(i)), b.get(s)) {
        (None, Some(hi)) => format!("x < {hi}"),
        (Some(lo), Some(hi)) => format!("{lo} <= x < {hi}"),
        (Some(lo), None) => format!("x >= {lo}"),
        (None, None) => "all x".to_string(),
    }
}

fn text_report(specs: &[DatapathSpec]) -> String {
    let mut out = String::new();
    for spec in specs {
        let l = &spec.layers()[0];
        let w = spec.widths();
        let _ = writeln!(
            out,
            "layer {}  (variant {}, {} channel{})",
            l.name(),
            l.folded.variant,
            l.channels(),
            if l.channels() == 1 { "" } else { "s" }
        );
        for (ch, segs) in l.folded.segments.iter().enumerate() {
            if l.channels() > 1 {
                let _ = writeln!(out, "  channel {ch}");
            }
            let _ = writeln!(
                out,
                "    {:<20} {:>13} {:>13} {:>13}   {:>10} {:>14} {:>14}",
                "segment", "c0", "c1", "c2", "c2 (int)", "k1 (int)", "k0 (int)"
            );
            for (s, c) in segs.iter().enumerate() {
                let q = l.coefs[ch][s];
                let reach = if l.reachable[s] {
                    ""
                } else {
                    "  (unreachable)"
                };
                let _ = writeln!(
                    out,
                    "    {:<20} {:>13.9} {:>13.9} {:>13.9}   {:>10} {:>14} {:>14}{reach}",
                    segment_range(l, s),
                    c[0],
                    c[1],
                    c[2],
                    q.c2,
                    q.k1,
                    q.k0
                );
            }
        }
        let _ = writeln!(
            out,
            "  formats: in {} -> out {}; c2 {} bits (frac {}), t {} bits (frac {}), k1 {} bits \
             (frac {}), k0 {} bits (frac {}); shifts {} ({}) and {} ({}); output {}",
            spec.input(),
            spec.output(),
            w.c2,
            spec.c2_frac(),
            w.t,
            spec.t_frac(),
            w.k1,
            spec.k1_frac(),
            w.k0,
            spec.k0_frac(),
            spec.shift1(),
            spec.rounding1(),
            spec.shift2(),
            spec.rounding2(),
            spec.output_overflow()
        );
        let _ = writeln!(
            out,
            "  stage widths: p1 {}, s1 {}, p2 {}, y {}, q {}; latency {} cycles",
            w.p1,
            w.s1,
            w.p2,
            w.y,
            w.q,
            spec.latency()
        );
        let _ = writeln!(out, "  {}", dsp_line(spec));
        let _ = writeln!(
            out,
            "  proven error bound: {:.6} ULP of the output ({:.6} before the output rounding), \
             budget {} ULP\n",
            l.bound.total_ulp,
            l.bound.pre_round_ulp,
            spec.max_error_ulp()
        );
    }
    out
}
