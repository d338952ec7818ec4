//! `sw/<top>.h`: what bare-metal (Vitis) software needs to talk to a core through the AXI DMA.
//!
//! The stream format (lanes, slot bits, formats), float ↔ fixed conversions that match the
//! golden model's input quantization exactly (round to nearest, ties to even, then saturate:
//! [`crate::fixedpoint::ApFixed::quantize`]) without libm or the FPU rounding mode, and the
//! coefficient layout as constants. A run-time-coefficient core's header
//! ([`render_axilite`]) adds its AXI4-Lite register map, the register writes that load each
//! layer and the loaders.

use super::axilite::{slot0_writes, CoreRegisters};
use crate::escape;
use crate::fixedpoint::{
    output_quantization, ApFixed, BoundKind, DatapathSpec, LayerSpec, SegmentSelect, Step,
};
use crate::hdl::regmap::CoefKind;
use crate::hdl::CoreInterface;
use crate::{Error, Result};
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

/// The exact value `2^e` as a decimal floating constant: C99 and every C++ standard read it
/// exactly (a power of two has a finite decimal expansion, and the compiler rounds correctly),
/// where a hexadecimal constant (`0x1p-10`) is not C++ before C++17.
fn pow2(e: i64) -> String {
    if e >= 0 {
        format!("{}.0", 1u128 << e.min(120))
    } else {
        // 2^-n = 5^n / 10^n; 5^n fits in a u128 for the n a format can have.
        let n = (-e).min(55) as u32;
        format!("{}e-{n}", 5u128.pow(n))
    }
}

/// A 64-bit signed integer constant, the same in C99 and C++98..C++17 (`LL` is not C++98).
fn int64(v: i64) -> String {
    format!("INT64_C({v})")
}

fn format_defines(out: &mut String, prefix: &str, what: &str, f: ApFixed, slot_bits: u32) {
    let _ = writeln!(out, "/* {what}: {f}, raw = value * 2^{} */", f.frac());
    let _ = writeln!(out, "#define {prefix}_WIDTH {}", f.width());
    let _ = writeln!(out, "#define {prefix}_INT_BITS {}", f.int_bits());
    let _ = writeln!(out, "#define {prefix}_FRAC_BITS {}", f.frac());
    let _ = writeln!(out, "#define {prefix}_SLOT_BITS {slot_bits}");
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
            let _ = writeln!(o, " * {}", escape::c_comment(l));
        }
    }
    o.push_str(" */\n");
    o
}

/// The datapath as a comment, one line per step of the spec's stage list, and (for a
/// polynomial datapath) its shifts and fractional bits as macros.
fn datapath_defines(o: &mut String, up: &str, spec: &DatapathSpec) {
    let mut lines =
        vec!["Datapath (per sample x, raw input units; all two's complement):".to_string()];
    lines.push(format!("  segment select: {}", select_words(spec.select())));
    for step in spec.steps() {
        let dst: Vec<&str> = step.writes().iter().map(|s| s.name()).collect();
        let widths: Vec<String> = step.widths().iter().map(|w| w.to_string()).collect();
        let how = match *step {
            Step::ShiftRound { rounding, .. } => format!("; {}", rounding.describe()),
            Step::Saturate { overflow, .. } => format!("; {}", overflow.describe()),
            _ => String::new(),
        };
        lines.push(format!(
            "  {} = {}   ({} bits{how})",
            dst.join(", "),
            step.formula(),
            widths.join(", ")
        ));
    }
    o.push_str(&block_comment(&lines));
    let _ = writeln!(o, "#define {up}_SEGMENTS {}", spec.segments());
    if spec.coef_fracs().is_some() {
        let _ = writeln!(o, "#define {up}_C2_FRAC_BITS {}", spec.c2_frac());
        let _ = writeln!(o, "#define {up}_K1_FRAC_BITS {}", spec.k1_frac());
        let _ = writeln!(o, "#define {up}_K0_FRAC_BITS {}", spec.k0_frac());
        let _ = writeln!(o, "#define {up}_SHIFT1 {}", spec.shift1());
        let _ = writeln!(o, "#define {up}_SHIFT2 {}", spec.shift2());
    }
    o.push('\n');
}

/// How a sample finds its segment, in words.
fn select_words(select: &SegmentSelect) -> String {
    match select {
        SegmentSelect::Comparators => "seg = number of thresholds th[i] with x >= th[i]".into(),
        SegmentSelect::Table(g) => format!(
            "comparator segments outside [{lo}, {lo} + 2^{n}); inside, segment {b} + bits \
             [{hi}:{s}] of x - {lo}, v = its low {s} bits",
            lo = g.lo_raw,
            n = g.index_bits + g.offset_bits,
            b = g.outer_below,
            hi = g.index_bits + g.offset_bits - 1,
            s = g.offset_bits
        ),
        SegmentSelect::Rom => "none: out = rom[x - IN_RAW_MIN]".into(),
    }
}

/// The datapath in words, for descriptions (IP-XACT, report).
pub(crate) fn datapath_words(spec: &DatapathSpec) -> String {
    match spec.select() {
        SegmentSelect::Comparators => format!(
            "a piecewise quadratic of {} comparator-selected segment(s)",
            spec.segments()
        ),
        SegmentSelect::Table(g) => format!(
            "a table-indexed piecewise polynomial ({} uniform segments of {} codes, {} segments \
             in all)",
            g.table_segments(),
            1u64 << g.offset_bits,
            spec.segments()
        ),
        SegmentSelect::Rom => format!(
            "a ROM of all {} correctly rounded outputs",
            1u64 << spec.input().width()
        ),
    }
}

/// What a layer's error bound is: proven, or measured on every input code.
pub(crate) fn bound_words(layer: &LayerSpec, input: ApFixed) -> String {
    match layer.bound_kind {
        BoundKind::Proven => "proven".into(),
        BoundKind::MeasuredOnAllInputs => format!("measured on all 2^{} inputs", input.width()),
        BoundKind::CorrectlyRounded => format!(
            "correctly rounded, checked on all 2^{} inputs in exact arithmetic",
            input.width()
        ),
    }
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

/// How samples sit in the stream and in DMA buffers, for both kinds of core; the caller adds
/// the line saying how channels are counted, which differs between them.
fn stream_format(core: &CoreInterface, spec: &DatapathSpec) -> Vec<String> {
    let inp = spec.input();
    vec![
        format!(
            "Stream format: {} sample(s) per beat; s_axis_tdata is {} bits, m_axis_tdata {} bits.",
            core.stream.lanes,
            core.stream.s_tdata(),
            core.stream.m_tdata()
        ),
        "In memory (what the AXI DMA moves), a buffer is an array of little-endian slots:".into(),
        format!(
            "input slot i holds sample i in {} bits (the hardware reads the low {} bits),",
            core.stream.s_slot,
            inp.width()
        ),
        format!(
            "output slot i holds sample i sign-extended to {} bits. Send whole beats: the",
            core.stream.m_slot
        ),
        format!(
            "sample count should be a multiple of {} (pad the last beat). TLAST ends a packet;",
            core.stream.lanes
        ),
    ]
}

/// The first line of every header.
fn title(top: &str) -> String {
    format!(
        "{top}.h -- generated by repact-hw {}; do not edit, regenerate instead.",
        env!("CARGO_PKG_VERSION")
    )
}

/// The closing lines of every header's introduction: conversions and timing.
fn conversion_notes(low: &str, core: &CoreInterface) -> [String; 5] {
    [
        format!("Conversions: {low}_from_double() quantizes exactly as the golden model does"),
        "(round to nearest, ties to even, then saturate to the input format; NaN becomes 0,".into(),
        "where the golden model rejects it). The hardware rounds its output to nearest with".into(),
        format!(
            "ties toward +inf ({}); {low}_to_double() is exact.",
            output_quantization()
        ),
        format!(
            "Latency: {} clock cycles; throughput one beat per clock.",
            core.latency_cycles
        ),
    ]
}

/// The introduction, include guard, includes, the stream facts (`counts` after `LANES`), both
/// sample formats and the error bound (`bound_comment` says which bound it is).
fn open_header(
    intro: &[String],
    core: &CoreInterface,
    spec: &DatapathSpec,
    counts: &[(&str, usize)],
    bound_comment: &str,
    bound: f64,
) -> String {
    let up = core.top.to_ascii_uppercase();
    let mut o = block_comment(intro);
    let _ = writeln!(o, "#ifndef {up}_H\n#define {up}_H\n");
    o.push_str("#include <stddef.h>\n#include <stdint.h>\n\n");
    let _ = writeln!(o, "#define {up}_LANES {}", core.stream.lanes);
    for (name, v) in counts {
        let _ = writeln!(o, "#define {up}_{name} {v}");
    }
    let _ = writeln!(o, "#define {up}_LATENCY_CYCLES {}", core.latency_cycles);
    let _ = writeln!(o, "#define {up}_S_TDATA_WIDTH {}", core.stream.s_tdata());
    let _ = writeln!(o, "#define {up}_M_TDATA_WIDTH {}", core.stream.m_tdata());
    let _ = writeln!(o, "#define {up}_TUSER_WIDTH {}\n", core.stream.tuser);
    let (s_slot, m_slot) = (core.stream.s_slot, core.stream.m_slot);
    format_defines(
        &mut o,
        &format!("{up}_IN"),
        "Input sample",
        spec.input(),
        s_slot,
    );
    o.push('\n');
    format_defines(
        &mut o,
        &format!("{up}_OUT"),
        "Output sample",
        spec.output(),
        m_slot,
    );
    let _ = writeln!(
        o,
        "\n/* {bound_comment} */\n#define {up}_ERROR_BOUND_ULP {}\n",
        c_double(bound)
    );
    datapath_defines(&mut o, &up, spec);
    o
}

/// The conversions and the end of the include guard.
fn close_header(o: &mut String, core: &CoreInterface, spec: &DatapathSpec) {
    let up = core.top.to_ascii_uppercase();
    let low = core.top.to_ascii_lowercase();
    conversions(o, &up, &low, spec.input(), spec.output());
    let _ = writeln!(o, "#endif /* {up}_H */");
}

/// The header of one core.
pub fn render(core: &CoreInterface, spec: &DatapathSpec) -> String {
    let top = &core.top;
    let up = top.to_ascii_uppercase();
    // Functions in the module's (lower-case) name, macros in upper case, as C code reads.
    let low = top.to_ascii_lowercase();
    let layer = &spec.layers()[core.first_layer()];
    let mut intro = vec![
        title(top),
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
    ];
    intro.extend(stream_format(core, spec));
    intro.push(format!(
        "sample j of a packet is channel j mod {} (channels-last order).",
        layer.channels()
    ));
    intro.push(String::new());
    intro.extend(conversion_notes(&low, core));
    let mut o = open_header(
        &intro,
        core,
        spec,
        &[("CHANNELS", layer.channels())],
        &format!(
            "Worst-case error against the f64 function ({}), in output ULP.",
            bound_words(layer, spec.input())
        ),
        layer.bound.total_ulp,
    );

    // Coefficient layout: the datapath and its constants, as the hardware holds them.
    // Tables as initializer macros, not arrays: a `static const` array unused by a file that
    // includes the header would trip -Wunused-const-variable (part of -Wall for C).
    let th: Vec<String> = layer.thresholds.iter().map(|&t| int64(t)).collect();
    let _ = writeln!(o, "#define {up}_THRESHOLDS {}", th.len());
    if !th.is_empty() {
        let _ = writeln!(
            o,
            "/* Segment thresholds in raw input units (breakpoints {:?}), {} of them:\n\
             \x20* static const int64_t th[{up}_THRESHOLDS] = {up}_THRESHOLDS_INIT; */\n\
             #define {up}_THRESHOLDS_INIT {{ {} }}\n",
            layer.folded.breakpoints,
            th.len(),
            th.join(", ")
        );
    }
    if spec.steps().any(|s| matches!(s, Step::Lookup { .. })) {
        let _ = writeln!(
            o,
            "/* Integer coefficients {{ c2, k1, k0 }} per [channel][segment]:\n\
             \x20* static const int64_t coefs[{up}_CHANNELS][{up}_SEGMENTS][3] = {up}_COEFS_INIT; */\n\
             #define {up}_COEFS_INIT {{ \\"
        );
        for (ch, segs) in layer.coefs.iter().enumerate() {
            let rows: Vec<String> = segs
                .iter()
                .map(|c| format!("{{ {}, {}, {} }}", int64(c.c2), int64(c.k1), int64(c.k0)))
                .collect();
            let _ = writeln!(o, "    /* channel {ch} */ {{ {} }}, \\", rows.join(", "));
        }
        o.push_str("}\n\n");
    }
    if !layer.rom.is_empty() {
        let rows: Vec<String> = layer.rom.iter().map(|&v| int64(v)).collect();
        let _ = writeln!(
            o,
            "/* The output of every input code, raw, from {up}_IN_RAW_MIN up ({} entries):\n\
             \x20* static const int64_t rom[{}] = {up}_ROM_INIT; */\n\
             #define {up}_ROM_INIT {{ {} }}\n",
            rows.len(),
            rows.len(),
            rows.join(", ")
        );
    }
    close_header(&mut o, core, spec);
    o
}

/// An upper-case C identifier from a layer name (`block1.act` → `BLOCK1_ACT`).
fn c_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert(0, 'L');
    }
    s
}

/// The header of a run-time-coefficient core (`--coeffs axilite`): the stream format and
/// conversions as for a baked core, the AXI4-Lite register map (every address computed from
/// [`crate::hdl::regmap::RegisterMap`] through [`CoreRegisters`]), the register writes that load each layer, and
/// loaders.
pub fn render_axilite(core: &CoreInterface, spec: &DatapathSpec) -> Result<String> {
    let map = core
        .register_map()
        .ok_or_else(|| Error::Internal("an axilite header for a core without registers".into()))?;
    let regs = CoreRegisters::new(map, spec, core.stream.lanes)?;
    let top = &core.top;
    let up = top.to_ascii_uppercase();
    let low = top.to_ascii_lowercase();
    let layers = spec.layers();
    let mut intro = vec![
        title(top),
        String::new(),
        format!(
            "Software side of the AXI4-Stream core {top}: {} activation layer slots whose",
            map.layers
        ),
        "thresholds and coefficients are registers written over its AXI4-Lite slave S_AXI".into(),
        "(--coeffs axilite). Layers as generated (slot: name, variant, channels):".into(),
    ];
    for (i, l) in layers.iter().enumerate() {
        intro.push(format!(
            "  {i}: `{}` ({}, {} channel(s))",
            l.name(),
            l.folded.variant,
            l.channels()
        ));
    }
    intro.push(String::new());
    intro.extend(stream_format(core, spec));
    intro.extend([
        "sample j of a packet is channel j mod the selected layer's channel count.".into(),
        String::new(),
        format!("Registers: {low}_load_layer() writes a layer's thresholds and coefficients"),
        format!("(from {low}_layer_writes()) into a slot, {low}_select_layer() picks the slot"),
        "streamed (LAYER_SELECT, 0 after aresetn), and the tables keep their contents through"
            .into(),
        "aresetn. Write while the stream is idle: every write holds s_axis_tready low for a few"
            .into(),
        format!(
            "cycles. `base` is the address of the core's S_AXI ({} bytes) in your design",
            regs.range
        ),
        "(xparameters.h, or the address editor). Registers are accessed through".into(),
        format!("{up}_WRITE32/{up}_READ32: volatile 32-bit accesses unless defined before this"),
        "header is included (e.g. to Xil_Out32/Xil_In32).".into(),
        String::new(),
    ]);
    intro.extend(conversion_notes(&low, core));
    let bound = layers.iter().map(|l| l.bound.total_ulp).fold(0.0, f64::max);
    let mut o = open_header(
        &intro,
        core,
        spec,
        &[
            ("LAYERS", map.layers as usize),
            ("CHANNEL_SLOTS", map.channels as usize),
        ],
        "Largest proven worst-case error of the layers against the f64 function, in output\n * ULP.",
        bound,
    );

    // The register map.
    let _ = writeln!(
        o,
        "/* AXI4-Lite register map: 32-bit registers at byte offsets from the core's base\n\
         \x20* address; the slave decodes {} address bits ({} bytes). */\n\
         #define {up}_S_AXI_ADDR_WIDTH {}\n\
         #define {up}_S_AXI_RANGE 0x{:X}u",
        regs.address_bits, regs.range, regs.address_bits, regs.range
    );
    for r in &regs.registers {
        let at = match r.table {
            Some(_) => format!(" at {}", super::axilite::plain(r.address)),
            None => String::new(),
        };
        let _ = writeln!(
            o,
            "\n/* {}{at} ({}): {} */",
            r.doc_name,
            r.access.abbrev(),
            wrap_comment(&r.description)
        );
        let _ = writeln!(o, "#define {up}_REG_{} 0x{:04X}u", r.name, r.offset);
        if let Some(v) = r.reset {
            let what = match r.access {
                crate::hdl::regmap::Access::ReadOnly => "VALUE",
                crate::hdl::regmap::Access::ReadWrite => "RESET",
            };
            let _ = writeln!(o, "#define {up}_{}_{what} 0x{v:08X}u", r.name);
        }
        if let Some(t) = r.table {
            let _ = writeln!(o, "#define {up}_{}_COUNT {}u", r.name, t.count);
            let _ = writeln!(o, "#define {up}_{}_STRIDE {}u", r.name, t.stride);
            let _ = writeln!(
                o,
                "#define {up}_{}_LAYER_STRIDE {}u",
                r.name, t.layer_stride
            );
        }
        if r.fields.len() > 1 {
            for f in &r.fields {
                let _ = writeln!(
                    o,
                    "#define {up}_{}_{}_LSB {}\n#define {up}_{}_{}_BITS {}",
                    r.name, f.name, f.lsb, r.name, f.name, f.width
                );
            }
        }
    }
    // The coefficient entry layout and the address of every table entry.
    let coef0 = map.coef(0, 0, 0, CoefKind::C2);
    let channel_stride = map.coef(0, 1, 0, CoefKind::C2) - coef0;
    let [c2, k1, k0] = regs.coef_words;
    let _ = writeln!(
        o,
        "\n/* A COEF entry holds c2, k1 and k0 as 64-bit two's complement, low word first. */\n\
         #define {up}_COEF_CHANNEL_STRIDE {channel_stride}u\n\
         #define {up}_COEF_C2 {c2}u\n\
         #define {up}_COEF_K1 {k1}u\n\
         #define {up}_COEF_K0 {k0}u\n\
         #define {up}_COEF_HIGH_WORD {}u\n",
        regs.high_word
    );
    let _ = writeln!(
        o,
        "/* Offset of LAYER_CHANNELS[slot]. */\n\
         static inline uint32_t {low}_reg_layer_channels(unsigned slot)\n\
         {{\n\
         \x20   return {up}_REG_LAYER_CHANNELS + {up}_LAYER_CHANNELS_LAYER_STRIDE * (uint32_t)slot;\n\
         }}\n\n\
         /* Offset of THRESHOLD[slot][i], i < {up}_SEGMENTS - 1. */\n\
         static inline uint32_t {low}_reg_threshold(unsigned slot, unsigned i)\n\
         {{\n\
         \x20   return {up}_REG_THRESHOLD + {up}_THRESHOLD_LAYER_STRIDE * (uint32_t)slot +\n\
         \x20          {up}_THRESHOLD_STRIDE * (uint32_t)i;\n\
         }}\n\n\
         /* Offset of the low word of COEF[slot][channel][segment][k]: k is {up}_COEF_C2, _K1\n\
         \x20* or _K0; the high word is {up}_COEF_HIGH_WORD bytes above. */\n\
         static inline uint32_t {low}_reg_coef(unsigned slot, unsigned channel, unsigned segment,\n\
         \x20                                     uint32_t k)\n\
         {{\n\
         \x20   return {up}_REG_COEF + {up}_COEF_LAYER_STRIDE * (uint32_t)slot +\n\
         \x20          {up}_COEF_CHANNEL_STRIDE * (uint32_t)channel + {up}_COEF_STRIDE * (uint32_t)segment + k;\n\
         }}\n"
    );
    // Relocation of slot-0 table writes, tables from the highest base down.
    o.push_str(&format!(
        "/* Moves the offset of a table write for slot 0 (as {low}_layer_writes() gives them) to\n\
         \x20* slot `slot`. */\n\
         static inline uint32_t {low}_relocate(uint32_t offset, unsigned slot)\n{{\n"
    ));
    for (r, _) in regs.tables_descending() {
        let _ = writeln!(
            o,
            "    if (offset >= {up}_REG_{0}) {{\n\
             \x20       return offset + {up}_{0}_LAYER_STRIDE * (uint32_t)slot;\n\
             \x20   }}",
            r.name
        );
    }
    o.push_str("    return offset;\n}\n\n");

    // Register access.
    let _ = writeln!(
        o,
        "#ifndef {up}_WRITE32\n\
         #define {up}_WRITE32(addr, value) (*(volatile uint32_t *)(addr) = (uint32_t)(value))\n\
         #endif\n\
         #ifndef {up}_READ32\n\
         #define {up}_READ32(addr) (*(const volatile uint32_t *)(addr))\n\
         #endif\n"
    );

    // The layers and their tables.
    let _ = writeln!(
        o,
        "/* One register write: a byte offset from the base address and a 32-bit value. */\n\
         typedef struct {{\n\
         \x20   uint32_t offset;\n\
         \x20   uint32_t value;\n\
         }} {low}_write_t;\n"
    );
    let names: Vec<String> = layers.iter().map(|l| c_name(l.name())).collect();
    o.push_str(
        "/* The layers this core was generated for, by index (also their slot as generated). */\n",
    );
    for (i, (l, n)) in layers.iter().zip(&names).enumerate() {
        if names.iter().filter(|m| *m == n).count() == 1 {
            let _ = writeln!(
                o,
                "#define {up}_LAYER_{n} {i} /* `{}` */",
                escape::c_comment(l.name())
            );
        }
    }
    let _ = writeln!(
        o,
        "\n/* Name of layer `layer`, or NULL. */\n\
         static inline const char *{low}_layer_name(unsigned layer)\n{{\n    switch (layer) {{"
    );
    for (i, l) in layers.iter().enumerate() {
        let _ = writeln!(
            o,
            "    case {i}:\n        return \"{}\";",
            escape::c_string(l.name())
        );
    }
    o.push_str("    default:\n        return NULL;\n    }\n}\n\n");
    let _ = writeln!(
        o,
        "/* Channels of layer `layer` (what it writes into LAYER_CHANNELS), or 0. */\n\
         static inline unsigned {low}_layer_channels(unsigned layer)\n{{\n    switch (layer) {{"
    );
    for (i, l) in layers.iter().enumerate() {
        let _ = writeln!(o, "    case {i}:\n        return {};", l.channels());
    }
    o.push_str("    default:\n        return 0;\n    }\n}\n\n");
    let _ = writeln!(
        o,
        "/* The register writes that load layer `layer` into slot 0, in order (channel count,\n\
         \x20* thresholds, coefficients low word before high word); {low}_load_layer() moves them\n\
         \x20* to the slot it loads. Sets *count and returns the table, or NULL for no such layer. */\n\
         static inline const {low}_write_t *{low}_layer_writes(unsigned layer, size_t *count)\n{{"
    );
    for (i, writes) in slot0_writes(map, spec).iter().enumerate() {
        let _ = writeln!(o, "    static const {low}_write_t layer{i}[] = {{");
        for (a, v) in writes {
            let _ = writeln!(o, "        {{ 0x{a:04X}u, 0x{v:08X}u }},");
        }
        o.push_str("    };\n");
    }
    o.push_str("    switch (layer) {\n");
    for i in 0..layers.len() {
        let _ = writeln!(
            o,
            "    case {i}:\n        *count = sizeof layer{i} / sizeof layer{i}[0];\n        return layer{i};"
        );
    }
    o.push_str("    default:\n        *count = 0;\n        return NULL;\n    }\n}\n\n");
    let _ = writeln!(
        o,
        "/* Writes a layer's table (from {low}_layer_writes()) into slot `slot`. Returns 0, or -1\n\
         \x20* (nothing written) for a slot the core does not have. */\n\
         static inline int {low}_load_layer(uintptr_t base, unsigned slot,\n\
         \x20                                   const {low}_write_t *writes, size_t count)\n\
         {{\n\
         \x20   size_t i;\n\
         \x20   if (slot >= {up}_LAYERS) {{\n\
         \x20       return -1;\n\
         \x20   }}\n\
         \x20   for (i = 0; i < count; i++) {{\n\
         \x20       {up}_WRITE32(base + {low}_relocate(writes[i].offset, slot), writes[i].value);\n\
         \x20   }}\n\
         \x20   return 0;\n\
         }}\n\n\
         /* Streams slot `slot` from the next sample on (LAYER_SELECT). Returns 0, or -1 (nothing\n\
         \x20* written) for a slot the core does not have. */\n\
         static inline int {low}_select_layer(uintptr_t base, unsigned slot)\n\
         {{\n\
         \x20   if (slot >= {up}_LAYERS) {{\n\
         \x20       return -1;\n\
         \x20   }}\n\
         \x20   {up}_WRITE32(base + {up}_REG_LAYER_SELECT, slot);\n\
         \x20   return 0;\n\
         }}\n\n\
         /* Loads every layer into its own slot (layer i into slot i). */\n\
         static inline void {low}_load_all(uintptr_t base)\n\
         {{\n\
         \x20   unsigned layer;\n\
         \x20   for (layer = 0; layer < {up}_LAYERS; layer++) {{\n\
         \x20       size_t count;\n\
         \x20       const {low}_write_t *writes = {low}_layer_writes(layer, &count);\n\
         \x20       (void){low}_load_layer(base, layer, writes, count);\n\
         \x20   }}\n\
         }}\n"
    );
    let ro: Vec<&crate::package::axilite::Register> = regs
        .registers
        .iter()
        .filter(|r| r.access == crate::hdl::regmap::Access::ReadOnly && r.reset.is_some())
        .collect();
    let _ = writeln!(
        o,
        "/* 0 when every read-only register (ID, VERSION, FORMAT, ...) holds the value this header\n\
         \x20* was generated for; else the offset + 1 of the first that does not (another bitstream\n\
         \x20* or core at `base`). */\n\
         static inline uint32_t {low}_check(uintptr_t base)\n{{"
    );
    for r in &ro {
        let _ = writeln!(
            o,
            "    if ({up}_READ32(base + {up}_REG_{0}) != {up}_{0}_VALUE) {{\n\
             \x20       return {up}_REG_{0} + 1u;\n\
             \x20   }}",
            r.name
        );
    }
    o.push_str("    return 0;\n}\n\n");
    close_header(&mut o, core, spec);
    Ok(o)
}

/// Text for inside a `/* */` comment, wrapped at about 90 columns.
fn wrap_comment(text: &str) -> String {
    let text = escape::c_comment(text);
    let mut lines = vec![String::new()];
    for w in text.split_whitespace() {
        let cur = lines.last_mut().map(|l| l.len()).unwrap_or(0);
        if cur > 0 && cur + 1 + w.len() > 80 {
            lines.push(String::new());
        }
        let l = lines.last_mut().expect("a line");
        if !l.is_empty() {
            l.push(' ');
        }
        l.push_str(w);
    }
    lines.join("\n * ")
}
