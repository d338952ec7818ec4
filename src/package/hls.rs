//! `sw/<top>_hls.h`: the core's activation as a Vitis HLS / hls4ml C++ function that computes
//! exactly the golden model, for accelerators built in C++ rather than around the RTL core.
//!
//! The function is printed step by step from the same [`DatapathSpec`] stage list the golden
//! model executes and the HDL lowers (comparator, table-indexed and ROM datapaths alike): the
//! segment select, thresholds, origins, `(c2, k1, k0)` table or ROM, every width and shift are
//! read from it, never recomputed. Each signal is an `ap_int` of its width,
//! so an assignment wraps exactly where the golden model's `wrap` does (`ap_int` arithmetic is
//! full precision, assignment keeps the low bits); the shifts are arithmetic (`>>` of a signed
//! `ap_int`), the output saturates. `tests/hls.rs` compiles it with g++ against Xilinx's own
//! `ap_types` headers and compares every input code with the golden model (comparator cores;
//! `tests/package_datapaths.rs` does the same for table and ROM cores).
//!
//! Input type `ap_fixed<W,I,AP_RND_CONV,AP_SAT>`: assigning a float to it rounds to nearest
//! with ties to even and saturates, which is the golden model's input quantization. Output type
//! `ap_fixed<W,I,AP_RND,AP_SAT>`: the core's own rounding, in case the caller converts further.

use crate::escape;
use crate::fixedpoint::format::signed_width;
use crate::fixedpoint::{DatapathSpec, Overflow, Rounding, SegmentSelect, Signal, Step};
use crate::hdl::CoreInterface;
use crate::{Error, Result};
use std::fmt::Write as _;

/// Path of the header of `top` inside the IP directory.
pub fn path(top: &str) -> String {
    format!("sw/{top}_hls.h")
}

/// `values` (row-major) as the nested C++ initializer list of an array of `dims`.
fn init(values: &[i64], dims: &[usize]) -> String {
    match dims.split_first() {
        None => format!("{}LL", values.first().copied().unwrap_or_default()),
        Some((_, inner)) => {
            let step = inner.iter().product::<usize>().max(1);
            let parts: Vec<String> = values.chunks(step).map(|c| init(c, inner)).collect();
            format!("{{ {} }}", parts.join(", "))
        }
    }
}

/// Bits of the unsigned index `0..n` (at least 1).
fn index_bits(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

/// How the raw function indexes its `[layer][channel]` tables: a variable, or `0` when the
/// header serves one layer (channel).
struct Selectors {
    layer: &'static str,
    channel: &'static str,
}

/// `seg`: the segment of `x`, as [`DatapathSpec::segment`] defines it for the spec's
/// [`SegmentSelect`]: the thresholds `x` reaches (`rank`) and, inside a table's core
/// interval, the index bits of `x`.
fn render_segment(
    o: &mut String,
    spec: &DatapathSpec,
    layers: &[usize],
    sel: &Selectors,
) -> Result<()> {
    let inp = spec.input();
    let nl = layers.len();
    let counts: Vec<usize> = layers
        .iter()
        .map(|&l| spec.layers()[l].thresholds.len())
        .collect();
    let n = counts[0];
    if counts.iter().any(|&c| c != n) {
        return Err(Error::Internal(format!(
            "layers of one core with different threshold counts {counts:?}"
        )));
    }
    let seg_bits = index_bits(spec.segments() + 1);
    if n == 0 {
        o.push_str(
            "    const unsigned rank = 0;
",
        );
    } else {
        let th: Vec<i64> = layers
            .iter()
            .flat_map(|&l| spec.layers()[l].thresholds.iter().copied())
            .collect();
        // Thresholds lie in [min_raw, max_raw + 1]: one bit more than x.
        let _ = writeln!(
            o,
            "    static const ap_int<{}> th[{nl}][{n}] = {};
             #pragma HLS ARRAY_PARTITION variable=th complete dim=2
                 ap_uint<{seg_bits}> rank = 0;
                 for (int i = 0; i < {n}; i++) {{
             #pragma HLS UNROLL
                     rank += (x >= th[{}][i]) ? 1 : 0;
                 }}",
            inp.width() + 1,
            init(&th, &[nl, n]),
            sel.layer
        );
    }
    match spec.select() {
        SegmentSelect::Table(g) => {
            let b = g.outer_below;
            let _ = writeln!(
                o,
                "    // Table: below the core interval [{lo}, {lo} + 2^{span}) a comparator segment, inside it
                     // segment {b} + the index bits [{hi}:{s}] of x - {lo}, above it a comparator segment.
                     const ap_int<{dw}> off = x - ap_int<{dw}>({lo}LL);
                     const unsigned seg = (rank < {b}) ? (unsigned)rank
                         : (rank == {b}) ? {b} + (unsigned)(off >> {s}).to_uint()
                         : (unsigned)rank - 1 + {ts};",
                lo = g.lo_raw,
                span = g.index_bits + g.offset_bits,
                hi = g.index_bits + g.offset_bits - 1,
                s = g.offset_bits,
                dw = inp.width() + 2,
                ts = g.table_segments(),
            );
        }
        SegmentSelect::Comparators => o.push_str(
            "    const unsigned seg = rank;
",
        ),
        SegmentSelect::Rom => {}
    }
    Ok(())
}

/// One step of the spec's stage list as C++: each signal an `ap_int` of its width (assignment
/// keeps the low bits, as the RTL wire and the golden model's `wrap` do).
fn render_step(
    o: &mut String,
    step: &Step,
    spec: &DatapathSpec,
    layers: &[usize],
    channels: usize,
    sel: &Selectors,
) -> Result<()> {
    let nl = layers.len();
    let segments = spec.segments();
    let (inp, outp) = (spec.input(), spec.output());
    let (sl, sc) = (sel.layer, sel.channel);
    let _ = writeln!(o, "    // {}", step.formula());
    match *step {
        Step::Lookup { widths } => {
            render_segment(o, spec, layers, sel)?;
            // [layer][channel][segment]; a layer with fewer channels than the widest repeats
            // its own (channel mod its count), which the RTL never selects.
            let mut coef = [Vec::new(), Vec::new(), Vec::new()];
            for &l in layers {
                let layer = &spec.layers()[l];
                for c in 0..channels {
                    for s in &layer.coefs[c % layer.channels()] {
                        coef[0].push(s.c2);
                        coef[1].push(s.k1);
                        coef[2].push(s.k0);
                    }
                }
            }
            for ((sig, bits), values) in [Signal::C2, Signal::K1, Signal::K0]
                .iter()
                .zip(widths)
                .zip(&coef)
            {
                let name = sig.name();
                let _ = writeln!(
                    o,
                    "    static const ap_int<{bits}> {name}_table[{nl}][{channels}][{segments}] = {};
                         const ap_int<{bits}> {name} = {name}_table[{sl}][{sc}][seg];",
                    init(values, &[nl, channels, segments])
                );
            }
        }
        Step::Offset { width } => {
            let origins: Vec<i64> = layers
                .iter()
                .flat_map(|&l| spec.layers()[l].segments.iter().map(|s| s.origin))
                .collect();
            if origins.len() != nl * segments {
                return Err(Error::Internal(format!(
                    "{} segment origins for {nl} layer(s) of {segments} segments",
                    origins.len()
                )));
            }
            let ow = origins
                .iter()
                .map(|&v| signed_width(v.min(0), v.max(0)))
                .max()
                .unwrap_or(1);
            let _ = writeln!(
                o,
                "    static const ap_int<{ow}> origin[{nl}][{segments}] = {};
                     const ap_int<{width}> v = x - origin[{sl}][seg];",
                init(&origins, &[nl, segments])
            );
        }
        Step::Mul { dst, a, b, width } | Step::Add { dst, a, b, width } => {
            let op = if matches!(step, Step::Mul { .. }) {
                '*'
            } else {
                '+'
            };
            let _ = writeln!(
                o,
                "    const ap_int<{width}> {} = {} {op} {};",
                dst.name(),
                a.name(),
                b.name()
            );
        }
        Step::ShiftRound {
            dst,
            src,
            shift,
            rounding,
            width,
        } => {
            let _ = writeln!(
                o,
                "    const ap_int<{width}> {} = {} >> {shift}; // floor: {}{}",
                dst.name(),
                src.name(),
                rounding.describe(),
                if rounding == Rounding::HalfUp {
                    " (the constant added before carries the bias)"
                } else {
                    ""
                }
            );
        }
        Step::Saturate {
            dst,
            src,
            overflow,
            width,
        } => {
            let (d, s) = (dst.name(), src.name());
            let _ = writeln!(
                o,
                "    // {overflow}, compared as integers: {s} may be narrower or wider than {d}.
                     ap_int<{width}> {d} = ap_int<{width}>({s});
                     if ({s} > {omax}LL) {{
                         {d} = ap_int<{width}>({omax}LL);
                     }}
                     if ({s} < {omin}LL) {{
                         {d} = ap_int<{width}>({omin}LL);
                     }}",
                omax = outp.max_raw(),
                omin = outp.min_raw(),
            );
        }
        Step::Rom { width } => {
            let rom: Vec<i64> = layers
                .iter()
                .flat_map(|&l| spec.layers()[l].rom.iter().copied())
                .collect();
            let n = 1usize << inp.width();
            if rom.len() != n * nl {
                return Err(Error::Internal(format!(
                    "a ROM datapath of {inp} with {} entries for {nl} layer(s)",
                    rom.len()
                )));
            }
            let _ = writeln!(
                o,
                "    // Every output, {} and {}, indexed by the input code from {min}.
                     static const ap_int<{width}> rom[{nl}][{n}] = {};
                     const ap_int<{width}> out = rom[{sl}][(unsigned)(x.to_int() - ({min}))];",
                spec.rounding2(),
                spec.output_overflow(),
                init(&rom, &[nl, n]),
                min = inp.min_raw(),
            );
        }
    }
    Ok(())
}

/// The header of one core: for a baked core its layer, for a run-time-coefficient core every
/// layer it was generated for (selected by a `layer` argument, as LAYER_SELECT does).
pub fn render(core: &CoreInterface, spec: &DatapathSpec) -> Result<String> {
    let top = &core.top;
    let low = top.to_ascii_lowercase();
    let up = top.to_ascii_uppercase();
    let w = spec.widths();
    let (inp, outp) = (spec.input(), spec.output());
    if w.x != inp.width() {
        return Err(Error::Internal(format!(
            "{top}: the spec's x stage is {} bits but the input format {inp} has {}",
            w.x,
            inp.width()
        )));
    }
    let layers: Vec<usize> = if core.register_map().is_some() {
        (0..spec.layers().len()).collect()
    } else {
        vec![core.first_layer()]
    };
    let multi_layer = layers.len() > 1;
    let channels = layers
        .iter()
        .map(|&l| spec.layers()[l].channels())
        .max()
        .unwrap_or(1);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "// {top}_hls.h -- generated by repact-hw {}; do not edit, regenerate instead.\n\
         //\n\
         // The activation of the core {top} as a Vitis HLS / hls4ml C++ function: the same bits as\n\
         // the RTL core and the golden model for every input (tested exhaustively with g++ against\n\
         // Xilinx's ap_types headers). Include it after <ap_fixed.h> is on the include path.\n\
         //",
        env!("CARGO_PKG_VERSION")
    );
    for &l in &layers {
        let layer = &spec.layers()[l];
        let _ = writeln!(
            o,
            "//   {}layer `{}` ({}, {} channel(s)), proven bound {:.4} output ULP",
            if multi_layer {
                format!("layer {l}: ")
            } else {
                String::new()
            },
            escape::c_comment(layer.name()),
            layer.folded.variant,
            layer.channels(),
            layer.bound.total_ulp
        );
    }
    let mut args = vec![format!("{low}_in_t x")];
    let mut raw_args = vec![format!("ap_int<{}> x", inp.width())];
    let mut call = vec!["xr".to_string()];
    if multi_layer {
        args.push("unsigned layer".into());
        raw_args.push("unsigned layer".into());
        call.push("layer".into());
    }
    if channels > 1 {
        args.push("unsigned channel".into());
        raw_args.push("unsigned channel".into());
        call.push("channel".into());
    }
    let _ = writeln!(
        o,
        "//\n\
         // {low}_hls({}) takes and returns fixed-point values; {low}_hls_raw() the same on raw\n\
         // two's-complement codes (value * 2^{} in, value * 2^{} out).{}{}\n\
         // Input: assigning a float or double to {low}_in_t rounds to nearest, ties to even, and\n\
         // saturates, exactly as the golden model quantizes. Latency in the RTL core: {} cycles.\n\
         // The pragmas pipeline the function at II=1; g++ ignores them (-Wno-unknown-pragmas).\n",
        args.join(", "),
        inp.frac(),
        outp.frac(),
        if multi_layer {
            "\n// `layer` is the layer index above (what LAYER_SELECT holds in the RTL core)."
        } else {
            ""
        },
        if channels > 1 {
            "\n// `channel` (below the layer's channel count) selects the per-channel coefficients;\n\
             // the RTL core counts channels itself (sample j of a packet is channel j mod C)."
        } else {
            ""
        },
        core.latency_cycles
    );
    let guard = format!("{up}_HLS_H");
    let _ = writeln!(
        o,
        "#ifndef {guard}\n#define {guard}\n\n#include <ap_fixed.h>\n#include <ap_int.h>\n"
    );
    let _ = writeln!(
        o,
        "typedef ap_fixed<{}, {}, {}, {}> {low}_in_t;\n\
         typedef ap_fixed<{}, {}, {}, {}> {low}_out_t;\n",
        inp.width(),
        inp.int_bits(),
        Rounding::HalfEven,
        Overflow::Saturate,
        outp.width(),
        outp.int_bits(),
        spec.rounding2(),
        spec.output_overflow()
    );

    let _ = writeln!(
        o,
        "// Raw {}-bit input code -> raw {}-bit output code.\n\
         static inline ap_int<{}> {low}_hls_raw({})\n{{\n#pragma HLS INLINE",
        inp.width(),
        outp.width(),
        outp.width(),
        raw_args.join(", ")
    );
    let sel = Selectors {
        layer: if multi_layer { "layer" } else { "0" },
        channel: if channels > 1 { "channel" } else { "0" },
    };
    for step in spec.steps() {
        render_step(&mut o, step, spec, &layers, channels, &sel)?;
    }
    o.push_str("    return out;\n}\n\n");
    let _ = writeln!(
        o,
        "// Fixed point in, fixed point out: the bits of {low}_hls_raw().\n\
         static inline {low}_out_t {low}_hls({})\n{{\n\
         #pragma HLS PIPELINE II=1\n\
         \x20   ap_int<{iw}> xr;\n\
         \x20   xr.range({im}, 0) = x.range({im}, 0);\n\
         \x20   {low}_out_t y;\n\
         \x20   y.range({om}, 0) = {low}_hls_raw({}).range({om}, 0);\n\
         \x20   return y;\n}}\n",
        args.join(", "),
        call.join(", "),
        iw = inp.width(),
        im = inp.width() - 1,
        om = outp.width() - 1,
    );
    let _ = writeln!(o, "#endif // {guard}");
    Ok(o)
}
