//! `sw/<top>.h`: what bare-metal (Vitis) software needs to talk to a core through the AXI DMA.
//!
//! The stream format (lanes, slot bits, formats), float ↔ fixed conversions that match the
//! golden model's input quantization exactly (round to nearest, ties to even, then saturate:
//! [`crate::fixedpoint::ApFixed::quantize`]) without libm or the FPU rounding mode, and the
//! coefficient layout as constants, for reference and for the run-time coefficient cores later.

use crate::fixedpoint::{ApFixed, DatapathSpec};
use crate::hdl::GeneratedCore;
use std::fmt::Write as _;

fn c_double(v: f64) -> String {
    // `{:e}` prints the shortest text that reads back as the same double.
    let s = format!("{v:e}");
    if s.contains('e') || s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// The exact value `2^e` as a C99 hexadecimal floating constant.
fn pow2(e: i64) -> String {
    format!("0x1p{e}")
}

fn format_defines(out: &mut String, prefix: &str, what: &str, f: ApFixed) {
    let _ = writeln!(out, "/* {what}: {f}, raw = value * 2^{} */", f.frac());
    let _ = writeln!(out, "#define {prefix}_WIDTH {}", f.width());
    let _ = writeln!(out, "#define {prefix}_INT_BITS {}", f.int_bits());
    let _ = writeln!(out, "#define {prefix}_FRAC_BITS {}", f.frac());
    let _ = writeln!(out, "#define {prefix}_SLOT_BITS {}", f.slot_bits());
    let _ = writeln!(out, "#define {prefix}_RAW_MIN ({}L)", f.min_raw());
    let _ = writeln!(out, "#define {prefix}_RAW_MAX ({}L)", f.max_raw());
}

/// A C block comment, one ` * ` line per line of `lines`.
fn block_comment(lines: &[String]) -> String {
    let mut o = String::from("/*\n");
    for l in lines {
        if l.is_empty() {
            o.push_str(" *\n");
        } else {
            let _ = writeln!(o, " * {l}");
        }
    }
    o.push_str(" */\n");
    o
}

/// The datapath as a comment, and its shifts and fractional bits as macros.
fn datapath_defines(o: &mut String, up: &str, spec: &DatapathSpec) {
    let w = spec.widths();
    o.push_str(&block_comment(&[
        "Datapath (per sample x, raw input units; all two's complement):".into(),
        "  seg = number of thresholds th[i] with x >= th[i]".into(),
        "  (c2, k1, k0) = coefficients of the sample's channel and segment".into(),
        format!("  t   = (c2*x + k1) >> {up}_SHIFT1   (floor; k1 holds the rounding bias)"),
        format!("  q   = (t*x + k0) >> {up}_SHIFT2    (floor; k0 holds the rounding bias)"),
        "  out = saturate(q) to the output format".into(),
        format!(
            "Widths: c2 {} bits, k1 {}, k0 {}, t {}, t*x {}.",
            w.c2, w.k1, w.k0, w.t, w.p2
        ),
    ]));
    let _ = writeln!(o, "#define {up}_SEGMENTS {}", spec.segments());
    let _ = writeln!(o, "#define {up}_C2_FRAC_BITS {}", spec.c2_frac());
    let _ = writeln!(o, "#define {up}_K1_FRAC_BITS {}", spec.k1_frac());
    let _ = writeln!(o, "#define {up}_K0_FRAC_BITS {}", spec.k0_frac());
    let _ = writeln!(o, "#define {up}_SHIFT1 {}", spec.shift1());
    let _ = writeln!(o, "#define {up}_SHIFT2 {}\n", spec.shift2());
}

/// Float <-> fixed conversions and stream slot accessors.
fn conversions(o: &mut String, up: &str, low: &str, inp: ApFixed, outp: ApFixed) {
    let _ = writeln!(
        o,
        "/* Real value -> raw input sample: round to nearest, ties to even, then saturate. */\n\
         static inline int32_t {low}_from_double(double v)\n\
         {{\n\
         \x20   /* Scaling by a power of two is exact, so the only rounding is the one below. */\n\
         \x20   double s = v * {scale};\n\
         \x20   int64_t r;\n\
         \x20   double frac;\n\
         \x20   if (s != s) {{\n\
         \x20       return 0; /* NaN has no fixed-point value */\n\
         \x20   }}\n\
         \x20   if (s >= (double){up}_IN_RAW_MAX) {{\n\
         \x20       return (int32_t){up}_IN_RAW_MAX;\n\
         \x20   }}\n\
         \x20   if (s <= (double){up}_IN_RAW_MIN) {{\n\
         \x20       return (int32_t){up}_IN_RAW_MIN;\n\
         \x20   }}\n\
         \x20   r = (int64_t)s; /* toward zero; |s| < 2^31 here */\n\
         \x20   frac = s - (double)r; /* exact */\n\
         \x20   if (frac > 0.5 || (frac == 0.5 && (r & 1))) {{\n\
         \x20       r += 1;\n\
         \x20   }} else if (frac < -0.5 || (frac == -0.5 && (r & 1))) {{\n\
         \x20       r -= 1;\n\
         \x20   }}\n\
         \x20   if (r > {up}_IN_RAW_MAX) {{\n\
         \x20       r = {up}_IN_RAW_MAX;\n\
         \x20   }}\n\
         \x20   if (r < {up}_IN_RAW_MIN) {{\n\
         \x20       r = {up}_IN_RAW_MIN;\n\
         \x20   }}\n\
         \x20   return (int32_t)r;\n\
         }}\n\n\
         static inline int32_t {low}_from_float(float v)\n\
         {{\n\
         \x20   return {low}_from_double((double)v);\n\
         }}\n\n\
         /* Raw output sample -> real value (exact). */\n\
         static inline double {low}_to_double(int32_t raw)\n\
         {{\n\
         \x20   return (double)raw * {ulp};\n\
         }}\n\n\
         /* Writes raw input sample i into a stream buffer (little-endian slots). */\n\
         static inline void {low}_store_input(void *buf, size_t i, int32_t raw)\n\
         {{\n\
         \x20   uint8_t *p = (uint8_t *)buf + i * ({up}_IN_SLOT_BITS / 8);\n\
         \x20   uint32_t u = (uint32_t)raw;\n\
         \x20   size_t b;\n\
         \x20   for (b = 0; b < {up}_IN_SLOT_BITS / 8; b++) {{\n\
         \x20       p[b] = (uint8_t)(u >> (8 * b));\n\
         \x20   }}\n\
         }}\n\n\
         /* Reads raw output sample i from a stream buffer, sign-extended from the output width. */\n\
         static inline int32_t {low}_load_output(const void *buf, size_t i)\n\
         {{\n\
         \x20   const uint8_t *p = (const uint8_t *)buf + i * ({up}_OUT_SLOT_BITS / 8);\n\
         \x20   uint32_t u = 0;\n\
         \x20   uint32_t sign = (uint32_t)1 << ({up}_OUT_WIDTH - 1);\n\
         \x20   size_t b;\n\
         \x20   for (b = 0; b < {up}_OUT_SLOT_BITS / 8; b++) {{\n\
         \x20       u |= (uint32_t)p[b] << (8 * b);\n\
         \x20   }}\n\
         \x20   u &= (sign << 1) - 1u;\n\
         \x20   return (int32_t)(u ^ sign) - (int32_t)sign;\n\
         }}\n",
        scale = pow2(inp.frac() as i64),
        ulp = pow2(-(outp.frac() as i64)),
    );
}

/// The header of one core.
pub fn render(core: &GeneratedCore, spec: &DatapathSpec) -> String {
    let top = &core.top;
    let up = top.to_ascii_uppercase();
    // Functions in the module's (lower-case) name, macros in upper case, as C code reads.
    let low = top.to_ascii_lowercase();
    let layer = &spec.layers()[core.layer];
    let (inp, outp) = (spec.input(), spec.output());
    let mut o = String::new();
    let intro = [
        format!(
            "{top}.h -- generated by repact-hw {}; do not edit, regenerate instead.",
            env!("CARGO_PKG_VERSION")
        ),
        String::new(),
        format!(
            "Software side of the AXI4-Stream core {top}: activation layer `{}`",
            layer.name()
        ),
        format!(
            "(variant {}, {} channel(s)).",
            layer.folded.variant,
            layer.channels()
        ),
        String::new(),
        format!(
            "Stream format: {} sample(s) per beat; s_axis_tdata is {} bits, m_axis_tdata {} bits.",
            core.lanes, core.s_tdata_width, core.m_tdata_width
        ),
        "In memory (what the AXI DMA moves), a buffer is an array of little-endian slots:".into(),
        format!(
            "input slot i holds sample i in {} bits (the hardware reads the low {} bits),",
            inp.slot_bits(),
            inp.width()
        ),
        format!(
            "output slot i holds sample i sign-extended to {} bits. Send whole beats: the",
            outp.slot_bits()
        ),
        format!(
            "sample count should be a multiple of {} (pad the last beat). TLAST ends a packet;",
            core.lanes
        ),
        format!(
            "sample j of a packet is channel j mod {} (channels-last order).",
            layer.channels()
        ),
        String::new(),
        format!("Conversions: {low}_from_double() quantizes exactly as the golden model does"),
        "(round to nearest, ties to even, then saturate to the input format; NaN becomes 0,".into(),
        "where the golden model rejects it). The hardware rounds its output to nearest with".into(),
        format!("ties toward +inf (AP_RND) and saturates (AP_SAT); {low}_to_double() is exact."),
        format!(
            "Latency: {} clock cycles; throughput one beat per clock.",
            core.latency_cycles
        ),
    ];
    o.push_str(&block_comment(&intro));
    let guard = format!("{up}_H");
    let _ = writeln!(o, "#ifndef {guard}\n#define {guard}\n");
    o.push_str("#include <stddef.h>\n#include <stdint.h>\n\n");
    let _ = writeln!(o, "#define {up}_LANES {}", core.lanes);
    let _ = writeln!(o, "#define {up}_CHANNELS {}", layer.channels());
    let _ = writeln!(o, "#define {up}_LATENCY_CYCLES {}", core.latency_cycles);
    let _ = writeln!(o, "#define {up}_S_TDATA_WIDTH {}", core.s_tdata_width);
    let _ = writeln!(o, "#define {up}_M_TDATA_WIDTH {}", core.m_tdata_width);
    let _ = writeln!(o, "#define {up}_TUSER_WIDTH {}\n", core.tuser_width);
    format_defines(&mut o, &format!("{up}_IN"), "Input sample", inp);
    o.push('\n');
    format_defines(&mut o, &format!("{up}_OUT"), "Output sample", outp);
    let _ = writeln!(
        o,
        "\n/* Proven worst-case error against the f64 function, in output ULP. */\n\
         #define {up}_ERROR_BOUND_ULP {}\n",
        c_double(layer.bound.total_ulp)
    );

    // Coefficient layout: the datapath and its constants, as the hardware holds them.
    datapath_defines(&mut o, &up, spec);
    // Tables as initializer macros, not arrays: a `static const` array unused by a file that
    // includes the header would trip -Wunused-const-variable (part of -Wall for C).
    let th: Vec<String> = layer.thresholds.iter().map(|t| format!("{t}LL")).collect();
    let _ = writeln!(
        o,
        "/* Segment thresholds in raw input units (breakpoints {:?}), {} of them:\n\
         \x20* static const int64_t th[{up}_SEGMENTS - 1] = {up}_THRESHOLDS_INIT; */\n\
         #define {up}_THRESHOLDS_INIT {{ {} }}\n",
        layer.folded.breakpoints,
        th.len(),
        th.join(", ")
    );
    let _ = writeln!(
        o,
        "/* Integer coefficients {{ c2, k1, k0 }} per [channel][segment]:\n\
         \x20* static const int64_t coefs[{up}_CHANNELS][{up}_SEGMENTS][3] = {up}_COEFS_INIT; */\n\
         #define {up}_COEFS_INIT {{ \\"
    );
    for (ch, segs) in layer.coefs.iter().enumerate() {
        let rows: Vec<String> = segs
            .iter()
            .map(|c| format!("{{ {}LL, {}LL, {}LL }}", c.c2, c.k1, c.k0))
            .collect();
        let _ = writeln!(o, "    /* channel {ch} */ {{ {} }}, \\", rows.join(", "));
    }
    o.push_str("}\n\n");

    conversions(&mut o, &up, &low, inp, outp);
    let _ = writeln!(o, "#endif /* {guard} */");
    o
}
