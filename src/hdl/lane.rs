//! The lane: one sample per clock through the registers of stages 1-5 of [`PIPELINE_STAGES`];
//! stage 6 is logic only.
//!
//! ```text
//!  x ──┬─ compare ─ select ─► c2,k1,k0 (1) ─► p1 = c2·x (2) ─► s1 = p1 + k1 (3) ─┐
//!      └──────────────────────► x (1) ──────► x (2) ─────────► x (3)             │
//!                                                                  t = s1 >>> SHIFT1
//!             out = sat(y >>> SHIFT2) ◄─ y = p2 + k0 (5) ◄─ p2 = t·x (4) ◄┘
//! ```
//!
//! `out` is combinational from `y_reg5`: the register of stage 6 is the AXI4-Stream wrapper's
//! output (skid) register, which captures the saturated sample directly (so the saturation
//! mux and the skid's output mux can share LUTs). `out` holds while `ce` is low because
//! `y_reg5` does.
//!
//! Stages 2-3 and 4-5 are each the multiplier register (MREG) and the post-adder register (PREG)
//! of one DSP48E1; the constant of the post-add arrives through its own register chain so it
//! can enter on the C port. Data registers have no reset. Every register advances only while
//! `ce` is high, which is how the AXI4-Stream wrapper holds the pipeline under backpressure.
//!
//! Every stage has exactly the width the spec proved sufficient. Operands are sign-extended or
//! (where a stage is narrower than an operand) truncated to the stage width first; since every
//! stage holds its whole range, arithmetic modulo 2^width is exact and equals the golden model.

use super::verilog::{CaseArm, Expr, Module, Size, Stmt};
use super::PortDir;
use crate::fixedpoint::{DatapathSpec, LayerSpec, SegmentCoefs, PIPELINE_STAGES};

/// Where stage 1 takes the thresholds and coefficients from. The lane's stages 2-5 do not care:
/// each source has a branch in [`select_stage`] and [`source_ports`], nothing else.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CoefSource<'a> {
    /// One layer's thresholds and constants, baked into the logic as literals.
    Baked(&'a LayerSpec),
    /// Run-time tables in the top module (`--coeffs axilite`): the selected layer's S-1
    /// thresholds arrive on ports `threshold<i>` (threshold-width, signed); the lane reports
    /// its sample's segment on `segment` and gets that segment's constants for its channel
    /// back on `coef_c2`, `coef_k1`, `coef_k0` in the same cycle (an asynchronous table read),
    /// then registers them as the baked lane registers its literals.
    Registers,
}

impl CoefSource<'_> {
    /// Channels the lane must be told about (`channel` port), 1 if none.
    fn channels(&self) -> usize {
        match self {
            CoefSource::Baked(l) => l.channels(),
            CoefSource::Registers => 1,
        }
    }
}

/// Bits needed to number `n` things (at least 1).
pub(crate) fn index_bits(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

/// A segment an input sample can select, and the smallest raw input that selects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReachableSegment {
    /// Segment number (index into `coefs[channel]`).
    pub seg: usize,
    /// Smallest raw input in the segment.
    pub lo: i64,
    /// Index of the threshold that starts it (`None` for the segment at the input minimum).
    pub threshold: Option<usize>,
}

/// The segments inputs of `spec`'s format can select in `layer`, in order, by the golden model's
/// own rule `seg = #{i : x >= threshold[i]}`: segment `s` is `threshold[s-1] <= x < threshold[s]`.
pub(crate) fn reachable_segments(spec: &DatapathSpec, layer: &LayerSpec) -> Vec<ReachableSegment> {
    let (min, max) = (spec.input().min_raw(), spec.input().max_raw());
    let th = &layer.thresholds;
    let mut out = Vec::new();
    for s in 0..=th.len() {
        let lo = if s == 0 { min } else { th[s - 1].max(min) };
        let hi = if s == th.len() { max } else { th[s] - 1 };
        if lo <= hi {
            let threshold = if lo == min { None } else { Some(s - 1) };
            out.push(ReachableSegment {
                seg: s,
                lo,
                threshold,
            });
        }
    }
    out
}

/// The expression of `(src >>> shift)` wrapped to `dst` bits (bits above the source MSB repeat
/// the sign), plain `src` when that is the identity.
pub(crate) fn shifted(src: &str, src_w: u32, shift: u32, dst: u32) -> Expr {
    if shift == 0 && dst == src_w {
        return Expr::name(src);
    }
    let sign = || Expr::bit(src, src_w - 1);
    if shift >= src_w {
        return sign().repeat(dst);
    }
    let n = (src_w - shift).min(dst);
    let body = if shift == 0 && n == src_w {
        Expr::name(src)
    } else {
        Expr::slice(src, shift + n - 1, shift)
    };
    if dst > n {
        Expr::concat(vec![sign().repeat(dst - n), body])
    } else {
        body
    }
}

/// A signed operand of exactly `size` bits: `src` itself when it already is, else a declared
/// wire `name` holding its sign-extension or truncation.
fn operand(m: &mut Module, name: &str, src: &str, src_w: u32, size: &Size) -> Expr {
    if src_w == size.bits() {
        return Expr::name(src);
    }
    m.wire_eq(
        name,
        size.clone(),
        true,
        shifted(src, src_w, 0, size.bits()),
    );
    if src_w < size.bits() {
        m.note("sign-extended to the stage width");
    } else {
        m.note("truncated: the stage's proven range fits, so the dropped bits are sign copies");
        m.discard(
            src,
            "operand bits above a stage's proven width (copies of the sign)",
        );
    }
    Expr::name(name)
}

/// The comment on a rounding shift.
fn shift_note(what: &str, shift: u32, bias: &str) -> String {
    if shift == 0 {
        format!("{what} as is: this step discards no bits")
    } else {
        format!("{what} >>> {shift}: a floor, which rounds half up because {bias} carries the bias")
    }
}

/// Declares the bits of `src` that `shifted(src, src_w, shift, dst_w)` drops, with why.
fn discard_shifted(
    m: &mut Module,
    src: &str,
    src_w: u32,
    shift: u32,
    dst_w: u32,
    dst: &str,
    step: &str,
) {
    if shift > 0 {
        m.discard(
            src,
            &format!("bits below the LSB of {dst}: the {step} rounding drops them"),
        );
    }
    if shift + dst_w < src_w {
        m.discard(
            src,
            &format!("bits above {dst}'s proven range (copies of its sign)"),
        );
    }
}

/// A port stage 1 needs besides `x`.
struct SourcePort {
    dir: PortDir,
    name: String,
    bits: u32,
    signed: bool,
}

/// Ports stage 1 needs besides `x`, in declaration order.
fn source_ports(spec: &DatapathSpec, source: &CoefSource) -> Vec<SourcePort> {
    let port = |dir, name: &str, bits, signed| SourcePort {
        dir,
        name: name.to_string(),
        bits,
        signed,
    };
    match source {
        CoefSource::Baked(_) if source.channels() > 1 => {
            vec![port(
                PortDir::In,
                "channel",
                index_bits(source.channels()),
                false,
            )]
        }
        CoefSource::Baked(_) => Vec::new(),
        CoefSource::Registers => {
            let w = spec.widths();
            let s = spec.segments();
            let mut p: Vec<SourcePort> = (0..s - 1)
                .map(|i| port(PortDir::In, &format!("threshold{i}"), w.threshold, true))
                .collect();
            if s > 1 {
                p.push(port(PortDir::Out, "segment", index_bits(s), false));
            }
            p.push(port(PortDir::In, "coef_c2", w.c2, true));
            p.push(port(PortDir::In, "coef_k1", w.k1, true));
            p.push(port(PortDir::In, "coef_k0", w.k0, true));
            p
        }
    }
}

/// Stage 1 of a lane fed from run-time tables: the segment is the number of thresholds `x`
/// reaches, exactly the golden model's rule (so it is right for any threshold values, sorted
/// or not); the constants come back from the tables and are registered.
fn select_stage_registers(m: &mut Module, spec: &DatapathSpec) -> Vec<Stmt> {
    let w = spec.widths();
    let s = spec.segments();
    if s > 1 {
        m.wire_eq(
            "x_wide",
            Size::lit(w.threshold),
            true,
            shifted("x", w.x, 0, w.threshold),
        );
        m.note("x sign-extended to the threshold width");
        let seg_bits = index_bits(s);
        let mut count: Option<Expr> = None;
        for i in 0..s - 1 {
            let name = format!("x_ge_threshold{i}");
            m.wire_eq(
                &name,
                Size::scalar(),
                false,
                Expr::name("x_wide").ge(Expr::name(&format!("threshold{i}"))),
            );
            let term = if seg_bits == 1 {
                Expr::name(&name)
            } else {
                Expr::concat(vec![Expr::uint(seg_bits - 1, 0), Expr::name(&name)])
            };
            count = Some(match count {
                None => term,
                Some(c) => c.plus(term),
            });
        }
        if let Some(c) = count {
            m.wire_eq("segment_count", Size::lit(seg_bits), false, c);
            m.note("thresholds reached = segment (the tables are read at it)");
            m.assign("segment", Expr::name("segment_count"));
        }
    }
    vec![
        Stmt::Comment("the table entry of (layer, channel, segment), read by the top".into()),
        Stmt::set("c2_reg1", Expr::name("coef_c2")),
        Stmt::set("k1_reg1", Expr::name("coef_k1")),
        Stmt::set("k0_reg1", Expr::name("coef_k0")),
    ]
}

/// The three coefficient register assignments of one table entry.
fn load_coefs(c: &SegmentCoefs, w: &crate::fixedpoint::StageWidths) -> Vec<Stmt> {
    vec![
        Stmt::set("c2_reg1", Expr::sint(w.c2, c.c2)),
        Stmt::set("k1_reg1", Expr::sint(w.k1, c.k1)),
        Stmt::set("k0_reg1", Expr::sint(w.k0, c.k0)),
    ]
}

/// Stage 1: which segment `x` is in, and that segment's coefficients for the lane's channel,
/// registered. Returns the statements of the stage-1 register block besides `x_reg1`.
fn select_stage(m: &mut Module, spec: &DatapathSpec, source: &CoefSource) -> Vec<Stmt> {
    let w = spec.widths();
    let layer = match source {
        CoefSource::Baked(layer) => layer,
        CoefSource::Registers => return select_stage_registers(m, spec),
    };
    let segs = reachable_segments(spec, layer);

    // Thresholds at or below the input minimum always hold and thresholds above its maximum
    // never do: only the ones in between need a comparator, each against a Wi-bit constant.
    let mut conds = Vec::new();
    for (j, s) in segs.iter().enumerate().skip(1) {
        let i = s.threshold.unwrap_or(0);
        let name = format!("x_ge_threshold{i}");
        m.wire_eq(
            &name,
            Size::scalar(),
            false,
            Expr::name("x").ge(Expr::sint(w.x, s.lo)),
        );
        m.note(&format!(
            "breakpoint {} = raw {} (rounded up to the input grid): segment {} or above",
            layer.folded.breakpoints[i], s.lo, s.seg
        ));
        conds.push((j, name));
    }
    let seg_bits = index_bits(segs.len());
    let has_seg = segs.len() > 1;
    if has_seg {
        // Thresholds are nondecreasing, so the comparisons form a thermometer code: the highest
        // one that holds names the segment.
        let mut e = Expr::uint(seg_bits, 0);
        for (j, name) in &conds {
            e = Expr::when(Expr::name(name), Expr::uint(seg_bits, *j as u64), e);
        }
        m.wire_eq("segment_index", Size::lit(seg_bits), false, e);
        let map: Vec<String> = segs
            .iter()
            .enumerate()
            .map(|(j, s)| format!("{j}->seg {}", s.seg))
            .collect();
        m.note(&format!(
            "rank among reachable segments: {}",
            map.join(", ")
        ));
    }
    let channels = source.channels();
    let chan_bits = if channels > 1 {
        index_bits(channels)
    } else {
        0
    };
    let addr_bits = chan_bits + if has_seg { seg_bits } else { 0 };
    let entry = |ch: usize, j: usize| &layer.coefs[ch][segs[j].seg];
    if addr_bits == 0 {
        let mut body = vec![Stmt::Comment(format!(
            "one channel and one reachable segment (segment {}): constant coefficients",
            segs[0].seg
        ))];
        body.extend(load_coefs(entry(0, 0), w));
        return body;
    }
    let sel = match (channels > 1, has_seg) {
        (true, true) => Expr::concat(vec![Expr::name("channel"), Expr::name("segment_index")]),
        (true, false) => Expr::name("channel"),
        _ => Expr::name("segment_index"),
    };
    m.wire_eq("coef_addr", Size::lit(addr_bits), false, sel);
    m.note(if channels > 1 {
        "{channel, segment}: address of the coefficient table (a ROM with registered output)"
    } else {
        "address of the coefficient table (a ROM with registered output)"
    });
    let mut arms = Vec::new();
    for ch in 0..channels {
        for (j, seg) in segs.iter().enumerate() {
            let label = ((ch as u64) << if has_seg { seg_bits } else { 0 }) | j as u64;
            let c = entry(ch, j);
            arms.push(CaseArm {
                label,
                comment: format!(
                    "channel {ch}, segment {}: c2={} k1={} k0={}",
                    seg.seg, c.c2, c.k1, c.k0
                ),
                body: load_coefs(c, w),
            });
        }
    }
    let full = arms.len() as u64 == 1u64 << addr_bits;
    let zero = SegmentCoefs {
        c2: 0,
        k1: 0,
        k0: 0,
    };
    vec![Stmt::Case {
        sel: Expr::name("coef_addr"),
        label_width: addr_bits,
        arms,
        default: (!full).then(|| {
            let mut d = vec![Stmt::Comment(
                "addresses no input selects (channel >= CHANNELS or a skipped segment)".into(),
            )];
            d.extend(load_coefs(&zero, w));
            d
        }),
    }]
}

/// Builds the lane module `name` for `source`.
pub(crate) fn lane_module(
    spec: &DatapathSpec,
    source: &CoefSource,
    name: &str,
) -> Result<Module, String> {
    let w = *spec.widths();
    let (shift1, shift2) = (spec.shift1(), spec.shift2());
    if spec.latency() != 6 || PIPELINE_STAGES.len() != 6 {
        return Err(format!(
            "the lane builds 5 pipeline registers and the output logic of stage 6, but the \
             spec asks for {} stages",
            spec.latency()
        ));
    }
    let mut doc = vec![format!(
        "{name}: one sample per clock (II=1), {} register stages, the last outside the lane:",
        spec.latency()
    )];
    for (i, s) in PIPELINE_STAGES.iter().enumerate() {
        doc.push(format!("  {}. {s}", i + 1));
    }
    doc.push("out is combinational from stage 5: the caller registers it (stage 6).".into());
    doc.push("All registers advance only while ce is high; data registers have no reset.".into());
    let mut m = Module::new(name, doc);
    m.port_group(&["Clock and clock enable (low: the whole pipeline holds)"]);
    m.port(PortDir::In, "clk", Size::scalar(), false);
    m.port(PortDir::In, "ce", Size::scalar(), false);
    m.port_group(&[match source {
        CoefSource::Registers => {
            "Sample in (raw input format); thresholds in, its segment out, the constants of that segment in"
        }
        _ if source.channels() > 1 => "Sample in (raw input format) and its channel",
        _ => "Sample in (raw input format)",
    }]);
    m.port(PortDir::In, "x", Size::lit(w.x), true);
    for p in source_ports(spec, source) {
        m.port(p.dir, &p.name, Size::lit(p.bits), p.signed);
    }
    m.port_group(&[
        "Sample out (raw output format, saturated): combinational from the stage-5 register,",
        "5 cycles after x; the caller's register is stage 6",
    ]);
    m.port(PortDir::Out, "out", Size::lit(w.out), true);

    let x_w = m.localparam("X_WIDTH", w.x, "input sample");
    let c2_w = m.localparam("C2_WIDTH", w.c2, "quadratic coefficient");
    let k1_w = m.localparam("K1_WIDTH", w.k1, "linear constant + rounding bias");
    let k0_w = m.localparam("K0_WIDTH", w.k0, "constant term + rounding bias");
    let p1_w = m.localparam("P1_WIDTH", w.p1, "c2*x");
    let s1_w = m.localparam("S1_WIDTH", w.s1, "p1 + k1");
    let t_w = m.localparam("T_WIDTH", w.t, &format!("s1 >>> {shift1}"));
    let p2_w = m.localparam("P2_WIDTH", w.p2, "t*x");
    let y_w = m.localparam("Y_WIDTH", w.y, "p2 + k0");
    let q_w = m.localparam(
        "Q_WIDTH",
        w.q,
        &format!("y >>> {shift2}, before saturation"),
    );
    let out_w = m.localparam("OUT_WIDTH", w.out, "output sample");

    // Stage 1.
    m.comment(&[&format!("Stage 1: {}", PIPELINE_STAGES[0])]);
    let mut stage1 = select_stage(&mut m, spec, source);
    m.reg("x_reg1", Size::param(&x_w), true);
    m.reg("c2_reg1", Size::param(&c2_w), true);
    m.reg("k1_reg1", Size::param(&k1_w), true);
    m.reg("k0_reg1", Size::param(&k0_w), true);
    stage1.insert(0, Stmt::set("x_reg1", Expr::name("x")));

    // Stage 2: p1 = c2*x, the DSP multiplier register. Operands wider than the product (only
    // when the product is tiny, e.g. c2 = 0) are cut to its width first.
    m.comment(&[&format!("Stage 2: {}", PIPELINE_STAGES[1])]);
    let mul_in = |m: &mut Module, name: &str, src: &str, src_w: u32, prod: &Size| {
        if src_w > prod.bits() {
            operand(m, name, src, src_w, prod)
        } else {
            Expr::name(src)
        }
    };
    let c2_op = mul_in(
        &mut m,
        "p1_c2_operand",
        "c2_reg1",
        w.c2,
        &Size::param(&p1_w),
    );
    let x1_op = mul_in(&mut m, "p1_x_operand", "x_reg1", w.x, &Size::param(&p1_w));
    m.reg("p1_reg2", Size::param(&p1_w), true);
    m.reg("k1_reg2", Size::param(&k1_w), true);
    m.reg("k0_reg2", Size::param(&k0_w), true);
    m.reg("x_reg2", Size::param(&x_w), true);
    let stage2 = vec![
        Stmt::set("p1_reg2", c2_op.times(x1_op)),
        Stmt::set("k1_reg2", Expr::name("k1_reg1")),
        Stmt::set("k0_reg2", Expr::name("k0_reg1")),
        Stmt::set("x_reg2", Expr::name("x_reg1")),
    ];

    // Stage 3: s1 = p1 + k1, the DSP post-adder register (k1 on the C port).
    m.comment(&[&format!("Stage 3: {}", PIPELINE_STAGES[2])]);
    let s1_size = Size::param(&s1_w);
    let p1_op = operand(&mut m, "s1_p1_operand", "p1_reg2", w.p1, &s1_size);
    let k1_op = operand(&mut m, "s1_k1_operand", "k1_reg2", w.k1, &s1_size);
    m.reg("s1_reg3", s1_size, true);
    m.reg("k0_reg3", Size::param(&k0_w), true);
    m.reg("x_reg3", Size::param(&x_w), true);
    let stage3 = vec![
        Stmt::set("s1_reg3", p1_op.plus(k1_op)),
        Stmt::set("k0_reg3", Expr::name("k0_reg2")),
        Stmt::set("x_reg3", Expr::name("x_reg2")),
    ];

    // Stage 4: t = s1 >>> SHIFT1 is wiring (a floor; k1 already holds the half-ULP bias that
    // makes it round half up), then p2 = t*x into the second DSP's multiplier register.
    m.comment(&[&format!("Stage 4: {}", PIPELINE_STAGES[3])]);
    m.wire_eq(
        "t",
        Size::param(&t_w),
        true,
        shifted("s1_reg3", w.s1, shift1, w.t),
    );
    m.note(&shift_note("s1", shift1, "k1"));
    discard_shifted(&mut m, "s1_reg3", w.s1, shift1, w.t, "t", "first");
    let t_op = mul_in(&mut m, "p2_t_operand", "t", w.t, &Size::param(&p2_w));
    let x3_op = mul_in(&mut m, "p2_x_operand", "x_reg3", w.x, &Size::param(&p2_w));
    m.reg("p2_reg4", Size::param(&p2_w), true);
    m.reg("k0_reg4", Size::param(&k0_w), true);
    let stage4 = vec![
        Stmt::set("p2_reg4", t_op.times(x3_op)),
        Stmt::set("k0_reg4", Expr::name("k0_reg3")),
    ];

    // Stage 5: y = p2 + k0, the second DSP's post-adder register.
    m.comment(&[&format!("Stage 5: {}", PIPELINE_STAGES[4])]);
    let y_size = Size::param(&y_w);
    let p2_op = operand(&mut m, "y_p2_operand", "p2_reg4", w.p2, &y_size);
    let k0_op = operand(&mut m, "y_k0_operand", "k0_reg4", w.k0, &y_size);
    m.reg("y_reg5", y_size, true);
    let stage5 = vec![Stmt::set("y_reg5", p2_op.plus(k0_op))];

    // Stage 6: q = y >>> SHIFT2 (rounds half up: k0 carries the bias), saturated to OUT_WIDTH,
    // out of the lane: the register it feeds is the wrapper's output (skid) register.
    m.comment(&[
        &format!("Stage 6: {}", PIPELINE_STAGES[5]),
        "(combinational here: the AXI4-Stream output register is this stage's register)",
    ]);
    m.wire_eq(
        "q",
        Size::param(&q_w),
        true,
        shifted("y_reg5", w.y, shift2, w.q),
    );
    m.note(&shift_note("y", shift2, "k0"));
    discard_shifted(&mut m, "y_reg5", w.y, shift2, w.q, "q", "final");
    let out_next = if w.q > w.out {
        // q fits when its bits from the output's sign bit up are all equal; otherwise clamp to
        // the most negative or most positive output value by q's sign.
        let top = Expr::slice("q", w.q - 1, w.out - 1);
        m.wire_eq(
            "q_fits",
            Size::scalar(),
            false,
            top.clone()
                .reduce_and()
                .logic_or(top.reduce_or().logic_not()),
        );
        m.note("q is inside the output range");
        let sign = Expr::bit("q", w.q - 1);
        Expr::when(
            Expr::name("q_fits"),
            Expr::slice("q", w.out - 1, 0),
            Expr::concat(vec![sign.clone(), sign.bit_not().repeat(w.out - 1)]),
        )
    } else {
        // The proven range of q is inside the output range: saturation cannot trigger.
        shifted("q", w.q, 0, w.out)
    };
    m.wire_eq("out_next", Size::param(&out_w), true, out_next);
    m.note(if w.q > w.out {
        "saturated (AP_SAT)"
    } else {
        "q's proven range is inside the output range: nothing to saturate"
    });

    let mut body = Vec::new();
    for (i, stmts) in [stage1, stage2, stage3, stage4, stage5]
        .into_iter()
        .enumerate()
    {
        body.push(Stmt::Comment(format!(
            "stage {}: {}",
            i + 1,
            PIPELINE_STAGES[i]
        )));
        body.extend(stmts);
    }
    m.always_ff(
        "clk",
        &["The pipeline registers. No reset: the valid bits travel beside the lane."],
        vec![Stmt::when(Expr::name("ce"), body)],
    );
    m.assign("out", Expr::name("out_next"));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_bits_counts() {
        assert_eq!([1, 2, 3, 4, 5, 8, 9].map(index_bits), [1, 1, 2, 2, 3, 3, 4]);
    }

    #[test]
    fn shifted_covers_every_case() {
        assert_eq!(shifted("s", 8, 0, 8).to_verilog(), "s");
        assert_eq!(shifted("s", 8, 2, 6).to_verilog(), "s[7:2]");
        assert_eq!(shifted("s", 8, 2, 4).to_verilog(), "s[5:2]");
        assert_eq!(shifted("s", 8, 2, 8).to_verilog(), "{{2{s[7]}}, s[7:2]}");
        assert_eq!(shifted("s", 8, 9, 3).to_verilog(), "{3{s[7]}}");
        assert_eq!(shifted("s", 4, 0, 6).to_verilog(), "{{2{s[3]}}, s}");
    }
}
