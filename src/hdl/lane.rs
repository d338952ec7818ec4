//! The lane: one sample per clock through the spec's pipeline ([`DatapathSpec::pipeline`]),
//! lowered stage by stage: every stage but the last ends in registers of each value a later
//! stage reads (named `<signal>_reg<stage>`), the last is logic only. For the polynomial
//! datapath that is:
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

use super::verilog::{CaseArm, Expr, HdlError, Module, Param, Size, Stmt};
use super::PortDir;
use crate::fixedpoint::stage::{signal_widths, SIGNALS};
use crate::fixedpoint::{
    DatapathSpec, LayerSpec, PipelineStage, Segment, SegmentCoefs, SegmentSelect, Signal,
    StageWidths, Step, TableGeometry,
};

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

/// What a table-indexed datapath adds to the lane outside the main register block.
#[derive(Default)]
struct TableExtras {
    /// In: each coefficient and the stage (0-based) whose registers read it from the ROM.
    read_stage: Vec<(Signal, usize)>,
    /// Out: the clocked blocks reading the coefficients, one per read stage.
    blocks: Vec<ReadBlock>,
    /// Out: the ROM address and region (name, bits) that stage 1 registers and the following
    /// stages carry, up to the last read stage.
    carry: Vec<(String, u32)>,
    /// Out: the last stage (0-based) that reads [`TableExtras::carry`].
    carry_until: usize,
}

/// Bits needed to number `n` things (at least 1).
pub(crate) fn index_bits(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

/// The datapath kind of `select`, as the lane's errors name it.
fn datapath_name(select: &SegmentSelect) -> &'static str {
    match select {
        SegmentSelect::Comparators => "comparator",
        SegmentSelect::Table(_) => "table-indexed",
        SegmentSelect::Rom => "ROM",
    }
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
fn load_coefs(c: &SegmentCoefs, w: &StageWidths) -> Vec<Stmt> {
    vec![
        Stmt::set("c2_reg1", Expr::sint(w.c2, c.c2)),
        Stmt::set("k1_reg1", Expr::sint(w.k1, c.k1)),
        Stmt::set("k0_reg1", Expr::sint(w.k0, c.k0)),
    ]
}

/// Stage 1: which segment `x` is in, and that segment's coefficients for the lane's channel,
/// registered. Returns the statements of the stage-1 register block besides `x_reg1`.
fn select_stage(
    m: &mut Module,
    spec: &DatapathSpec,
    source: &CoefSource,
    extras: &mut TableExtras,
) -> Result<Vec<Stmt>, HdlError> {
    let wrong = |what| HdlError::WrongDatapath {
        module: m.name().to_string(),
        what,
        datapath: datapath_name(spec.select()),
    };
    match (source, spec.select()) {
        (CoefSource::Registers, SegmentSelect::Comparators) => Ok(select_stage_registers(m, spec)),
        // `generate_axilite` refuses these specs with the reason before the lane is built.
        (CoefSource::Registers, _) => Err(wrong("a run-time coefficient lookup")),
        (CoefSource::Baked(layer), SegmentSelect::Comparators) => {
            Ok(comparator_select_stage(m, spec, layer))
        }
        (CoefSource::Baked(layer), SegmentSelect::Table(g)) => {
            table_select_stage(m, spec, layer, g, extras)
        }
        (CoefSource::Baked(_), SegmentSelect::Rom) => Err(wrong("a coefficient lookup")),
    }
}

/// The comparators of `segs` (reachable, in order; each but the first starts at its `lo`)
/// and, with more than one, the wire `index` numbering the segment among them. Thresholds at
/// or below the input minimum always hold and thresholds above its maximum never do: only the
/// ones in between need a comparator, each against a Wi-bit constant. They are nondecreasing,
/// so the comparisons form a thermometer code: the highest one that holds names the segment.
fn thermometer(
    m: &mut Module,
    segs: &[&Segment],
    x_width: u32,
    note: impl Fn(&Segment) -> String,
    index: &str,
    index_note: &str,
) {
    let mut conds = Vec::new();
    for (j, s) in segs.iter().enumerate().skip(1) {
        let name = format!("x_ge_threshold{}", s.threshold.unwrap_or(0));
        m.wire_eq(
            &name,
            Size::scalar(),
            false,
            Expr::name("x").ge(Expr::sint(x_width, s.lo)),
        );
        m.note(&note(s));
        conds.push((j, name));
    }
    if segs.len() > 1 {
        let bits = index_bits(segs.len());
        let mut e = Expr::uint(bits, 0);
        for (j, name) in &conds {
            e = Expr::when(Expr::name(name), Expr::uint(bits, *j as u64), e);
        }
        m.wire_eq(index, Size::lit(bits), false, e);
        m.note(index_note);
    }
}

/// Stage 1 of a comparator datapath with baked coefficients.
fn comparator_select_stage(m: &mut Module, spec: &DatapathSpec, layer: &LayerSpec) -> Vec<Stmt> {
    let w = spec.widths();
    let segs: Vec<_> = layer.segments.iter().filter(|s| s.reachable).collect();

    let seg_bits = index_bits(segs.len());
    let has_seg = segs.len() > 1;
    let map: Vec<String> = segs
        .iter()
        .enumerate()
        .map(|(j, s)| format!("{j}->seg {}", s.index))
        .collect();
    thermometer(
        m,
        &segs,
        w.x,
        |s| {
            format!(
                "breakpoint {} = raw {} (rounded up to the input grid): segment {} or above",
                layer.folded.breakpoints[s.threshold.unwrap_or(0)],
                s.lo,
                s.index
            )
        },
        "segment_index",
        &format!("rank among reachable segments: {}", map.join(", ")),
    );
    let channels = layer.channels();
    let chan_bits = if channels > 1 {
        index_bits(channels)
    } else {
        0
    };
    let addr_bits = chan_bits + if has_seg { seg_bits } else { 0 };
    let entry = |ch: usize, j: usize| &layer.coefs[ch][segs[j].index];
    if addr_bits == 0 {
        let mut body = vec![Stmt::Comment(format!(
            "one channel and one reachable segment (segment {}): constant coefficients",
            segs[0].index
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
                    seg.index, c.c2, c.k1, c.k0
                ),
                body: load_coefs(c, w),
            });
        }
    }
    let full = arms.len() as u64 == 1u64 << addr_bits;
    vec![Stmt::Case {
        sel: Expr::name("coef_addr"),
        label_width: addr_bits,
        arms,
        default: (!full).then(|| {
            let mut d = vec![Stmt::Comment(
                "addresses no input selects (channel >= CHANNELS or a skipped segment)".into(),
            )];
            d.extend(load_coefs(&SegmentCoefs::ZERO, w));
            d
        }),
    }]
}

/// Stage 1 of a table-indexed datapath: comparators find the region (outer segments or the
/// core interval); inside the core interval the coefficient ROM is addressed by the input's
/// index bits directly (the entries are stored rotated by `lo_raw >> offset_bits`, so no
/// subtractor is needed). Declares `in_table` for the offset step.
///
/// Outside the core interval the coefficient registers take the first outer segment's
/// constants through their flip-flops' synchronous set/reset (`coef_force`, one signal for
/// every bit) instead of a multiplexer per bit after the ROM: the registers get a block of
/// their own (`extras.block`). Only the bits in which another outer segment differs from the
/// first depend on the region there.
fn table_select_stage(
    m: &mut Module,
    spec: &DatapathSpec,
    layer: &LayerSpec,
    g: &TableGeometry,
    extras: &mut TableExtras,
) -> Result<Vec<Stmt>, HdlError> {
    let w = spec.widths();
    let shape = |m: &Module, reason: String| HdlError::LayerShape {
        module: m.name().to_string(),
        layer: layer.name().to_string(),
        reason,
    };
    if layer.channels() != 1 {
        return Err(shape(
            m,
            format!(
                "a table-indexed layer has one channel, this one has {}",
                layer.channels()
            ),
        ));
    }
    let ranks: Vec<_> =
        crate::fixedpoint::spec::segments_of_thresholds(&layer.thresholds, spec.input(), |r| r)
            .into_iter()
            .filter(|s| s.reachable)
            .collect();
    let Some(j_table) = ranks.iter().position(|r| r.index == g.outer_below) else {
        return Err(shape(
            m,
            format!(
                "the table's core interval (segment {}, from raw {}) is not reachable from the \
                 input range",
                g.outer_below, g.lo_raw
            ),
        ));
    };
    let rank_bits = index_bits(ranks.len());
    let refs: Vec<&Segment> = ranks.iter().collect();
    thermometer(
        m,
        &refs,
        w.x,
        |r| format!("raw {}: region {} or above", r.lo, r.index),
        "region_index",
        &format!("region among the reachable ones; {j_table} is the core interval"),
    );
    if ranks.len() > 1 {
        m.wire_eq(
            "in_table",
            Size::scalar(),
            false,
            Expr::name("region_index").eq(Expr::uint(rank_bits, j_table as u64)),
        );
    } else {
        m.wire_eq("in_table", Size::scalar(), false, Expr::bool(true));
    }
    m.note(&format!(
        "x in [{}, {}): the table's {} segments of {} codes",
        g.lo_raw,
        g.lo_raw + g.span(),
        g.table_segments(),
        1u64 << g.offset_bits
    ));
    let (k, s) = (g.index_bits, g.offset_bits);
    let outer: Vec<usize> = (0..ranks.len()).filter(|&j| j != j_table).collect();
    // The coefficient ROM holds the 2^k table segments only, addressed by x's index bits;
    // the few outer segments are constants selected by the comparators beside it, so the ROM
    // keeps a k-bit address.
    let rot = (g.lo_raw >> s).rem_euclid(1i64 << k);
    if k > 0 {
        m.wire_eq(
            "coef_addr",
            Size::lit(k),
            false,
            Expr::slice("x", s + k - 1, s),
        );
        m.note(&format!(
            "bits [{}:{}] of x: the coefficient ROM address inside the core interval (entries \
             rotated by {rot}, so no subtractor)",
            s + k - 1,
            s
        ));
    }
    m.discard("x", "only the index bits address the coefficient ROM");
    let outer_coefs = |j: usize| {
        let rank = ranks[j].index;
        let seg = if rank < g.outer_below {
            rank
        } else {
            rank - 1 + g.table_segments()
        };
        (seg, &layer.coefs[0][seg])
    };
    let rom = CoefRom {
        index_bits: k,
        entries: (0..1i64 << k)
            .map(|a| {
                let seg = g.outer_below + (a - rot).rem_euclid(1i64 << k) as usize;
                (seg, layer.coefs[0][seg])
            })
            .collect(),
        outer: outer
            .iter()
            .map(|&j| {
                let (seg, c) = outer_coefs(j);
                (j, seg, *c)
            })
            .collect(),
        j_table,
        rank_bits,
    };
    // Stage 1's own reads; the address and the region travel to the stages that read later.
    let mut main = Vec::new();
    let last_read = extras.read_stage.iter().map(|&(_, r)| r).max().unwrap_or(0);
    if last_read > 0 {
        let mut carry = Vec::new();
        if k > 0 {
            carry.push(("coef_addr".to_string(), k));
        }
        if !outer.is_empty() {
            carry.push(("region_index".to_string(), rank_bits));
        }
        for (base, bits) in &carry {
            m.reg(&format!("{base}_reg1"), Size::lit(*bits), false);
            main.push(Stmt::set(&format!("{base}_reg1"), Expr::name(base)));
        }
        extras.carry = carry;
        extras.carry_until = last_read;
    }
    for r in 0..=last_read {
        let sigs: Vec<Signal> = extras
            .read_stage
            .iter()
            .filter(|&&(_, rs)| rs == r)
            .map(|&(s, _)| s)
            .collect();
        if !sigs.is_empty() {
            extras.blocks.push(rom.read_block(w, &sigs, r));
        }
    }
    Ok(main)
}

/// The coefficient ROM of a table-indexed layer and its outer segments' constants.
struct CoefRom {
    /// Address bits (`x`'s index bits); 0 for one table segment.
    index_bits: u32,
    /// (segment, constants) at each address.
    entries: Vec<(usize, SegmentCoefs)>,
    /// (region rank, segment, constants) of each outer segment.
    outer: Vec<(usize, usize, SegmentCoefs)>,
    /// The core interval's region rank.
    j_table: usize,
    /// Width of a region rank.
    rank_bits: u32,
}

/// One clocked block reading coefficients from the ROM in one stage.
struct ReadBlock {
    /// The set/reset condition (name, expression), when there are outer segments.
    force: Option<(String, Expr)>,
    /// The stage (0-based) whose registers it writes.
    stage: usize,
    /// One-bit registers of that stage (name, value): which other outer segment the sample
    /// is in, where its constants differ from the set/reset ones.
    flags: Vec<(String, Expr)>,
    /// Coefficients the next stage reads through a corrected wire ([`fix_name`]) instead of
    /// the register: the flagged outer segments' bits put in.
    fixes: Vec<(Signal, Expr)>,
    /// Its comment.
    comment: Vec<String>,
    /// The block's statements.
    body: Vec<Stmt>,
}

impl CoefRom {
    /// The block registering `sigs` in stage `r` (0-based): the ROM at the stage's address
    /// inside the core interval; outside it the outer segments' constants, loaded by the
    /// flip-flops' synchronous set/reset (one `coef_force` signal for every bit instead of a
    /// multiplexer per bit after the ROM). Only the bits in which another outer segment differs
    /// from the first depend on the region there.
    fn read_block(&self, w: &StageWidths, sigs: &[Signal], r: usize) -> ReadBlock {
        let at = |base: &str| {
            if r == 0 {
                base.to_string()
            } else {
                format!("{base}_reg{r}")
            }
        };
        let dst = |s: Signal| reg_name(s, r);
        let width = |s: Signal| match s {
            Signal::C2 => w.c2,
            Signal::K1 => w.k1,
            _ => w.k0,
        };
        let coef = |c: &SegmentCoefs, s: Signal| match s {
            Signal::C2 => c.c2,
            Signal::K1 => c.k1,
            _ => c.k0,
        };
        let load = |c: &SegmentCoefs| -> Vec<Stmt> {
            sigs.iter()
                .map(|&s| Stmt::set(&dst(s), Expr::sint(width(s), coef(c, s))))
                .collect()
        };
        let names: Vec<String> = sigs.iter().map(|s| s.name().to_string()).collect();
        let text = |c: &SegmentCoefs| {
            sigs.iter()
                .map(|&s| format!("{}={}", s.name(), coef(c, s)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let table = if self.index_bits == 0 {
            let (seg, c) = &self.entries[0];
            let mut b = vec![Stmt::Comment(format!("the one table segment {seg}"))];
            b.extend(load(c));
            b
        } else {
            let arms = self
                .entries
                .iter()
                .enumerate()
                .map(|(a, (seg, c))| CaseArm {
                    label: a as u64,
                    comment: format!("segment {seg}: {}", text(c)),
                    body: load(c),
                })
                .collect();
            vec![Stmt::Case {
                sel: Expr::name(&at("coef_addr")),
                label_width: self.index_bits,
                arms,
                default: None,
            }]
        };
        let mut comment = vec![format!(
            "Stage {}: {} from the coefficient ROM{}.",
            r + 1,
            names.join(", "),
            if r == 0 {
                String::new()
            } else {
                format!(
                    " at the address stage 1 registered (read in the stage before the one \
                     that adds it, so the address travels, not the {}-bit constant)",
                    sigs.iter().map(|&s| width(s)).sum::<u32>()
                )
            }
        )];
        let Some((_, first_seg, first)) = self.outer.first() else {
            return ReadBlock {
                force: None,
                stage: r,
                flags: Vec::new(),
                fixes: Vec::new(),
                comment,
                body: vec![Stmt::when(Expr::name("ce"), table)],
            };
        };
        comment.push(format!(
            "Outside the core interval the synchronous set/reset of the flip-flops loads the outer \
             segments (outer segment {first_seg}'s bits); {} implies ce, so they hold while ce is \
             low like every other register.",
            force_name(r)
        ));
        let region = at("region_index");
        let mut force: Vec<Stmt> = self
            .outer
            .iter()
            .map(|(_, seg, c)| Stmt::Comment(format!("outer segment {seg}: {}", text(c))))
            .collect();
        let bit_of = |v: i64, b: u32| ((v >> b) & 1) as u64;
        let rank = |j: usize| Expr::name(&region).eq(Expr::uint(self.rank_bits, j as u64));
        let mut flags: Vec<(String, Expr)> = Vec::new();
        let mut fixes: Vec<(Signal, Expr)> = Vec::new();
        for &s in sigs {
            let base = coef(first, s);
            let others = &self.outer[1..];
            let differs = |b: u32| {
                others
                    .iter()
                    .any(|(_, _, c)| bit_of(coef(c, s), b) != bit_of(base, b))
            };
            if !(0..width(s)).any(differs) {
                force.push(Stmt::set(&dst(s), Expr::sint(width(s), base)));
                continue;
            }
            if r > 0 {
                // A register read from a registered address: its set/reset value must be a
                // constant, or Yosys folds the address register into the ROM and multiplexes
                // the address. The other outer segments' bits are corrected after it, by a
                // flag each registered beside it.
                force.push(Stmt::set(&dst(s), Expr::sint(width(s), base)));
                let reg = dst(s);
                let mut parts: Vec<Expr> = Vec::new();
                let mut run: Option<(u32, u32)> = None;
                for b in (0..width(s)).rev() {
                    if !differs(b) {
                        run = Some(run.map_or((b, b), |(hi, _)| (hi, b)));
                        continue;
                    }
                    if let Some((hi, lo)) = run.take() {
                        parts.push(Expr::slice(&reg, hi, lo));
                    }
                    let mut e = Expr::bit(&reg, b);
                    for (j, _, c) in others {
                        if bit_of(coef(c, s), b) != bit_of(base, b) {
                            let flag = format!("outer{j}_reg{}", r + 1);
                            if !flags.iter().any(|(f, _)| *f == flag) {
                                flags.push((flag.clone(), rank(*j)));
                            }
                            e = Expr::when(
                                Expr::name(&flag),
                                Expr::uint(1, bit_of(coef(c, s), b)),
                                e,
                            );
                        }
                    }
                    parts.push(e);
                }
                if let Some((hi, lo)) = run {
                    parts.push(Expr::slice(&reg, hi, lo));
                }
                fixes.push((s, Expr::concat(parts)));
                continue;
            }
            // Most significant first: runs of bits every outer segment shares stay one literal.
            let mut parts: Vec<Expr> = Vec::new();
            let mut run: Vec<u64> = Vec::new();
            let flush = |run: &mut Vec<u64>, parts: &mut Vec<Expr>| {
                if !run.is_empty() {
                    let v = run.iter().fold(0u64, |acc, &bit| (acc << 1) | bit);
                    parts.push(Expr::uint(run.len() as u32, v));
                    run.clear();
                }
            };
            for b in (0..width(s)).rev() {
                if !differs(b) {
                    run.push(bit_of(base, b));
                    continue;
                }
                flush(&mut run, &mut parts);
                let mut e = Expr::uint(1, bit_of(base, b));
                for (j, _, c) in others {
                    if bit_of(coef(c, s), b) != bit_of(base, b) {
                        e = Expr::when(rank(*j), Expr::uint(1, bit_of(coef(c, s), b)), e);
                    }
                }
                parts.push(e);
            }
            flush(&mut run, &mut parts);
            force.push(Stmt::set(&dst(s), Expr::concat(parts)));
        }
        let outside = if r == 0 {
            Expr::name("in_table").logic_not()
        } else {
            Expr::name(&region)
                .eq(Expr::uint(self.rank_bits, self.j_table as u64))
                .logic_not()
        };
        ReadBlock {
            force: Some((force_name(r), Expr::name("ce").logic_and(outside))),
            stage: r,
            flags,
            fixes,
            comment,
            body: vec![Stmt::If(
                Expr::name(&force_name(r)),
                force,
                vec![Stmt::when(Expr::name("ce"), table)],
            )],
        }
    }
}

/// The wire the stage after its read reads for a coefficient with [`ReadBlock::fixes`].
fn fix_name(s: Signal, r: usize) -> String {
    format!("{}_outer", reg_name(s, r))
}

/// The set/reset condition of the coefficient registers read in stage `r` (0-based).
fn force_name(r: usize) -> String {
    if r == 0 {
        "coef_force".into()
    } else {
        format!("coef_force{}", r + 1)
    }
}

/// The offset step of a table datapath: `v` is the low `offset_bits` of `x` inside the core
/// interval (its segments start at multiples of `2^offset_bits`), `x` itself outside.
/// Returns (inside, outside).
fn table_offset(
    m: &mut Module,
    spec: &DatapathSpec,
    names: &Names,
    i: usize,
) -> Result<(Expr, Expr), HdlError> {
    let SegmentSelect::Table(g) = spec.select() else {
        return Err(HdlError::WrongDatapath {
            module: m.name().to_string(),
            what: "the segment offset step",
            datapath: datapath_name(spec.select()),
        });
    };
    let (x, xw, vw) = (
        names.read(Signal::X, i),
        names.width(Signal::X),
        names.width(Signal::V),
    );
    let s = g.offset_bits;
    let low = if s == 0 {
        Expr::uint(vw, 0)
    } else if vw > s {
        Expr::concat(vec![Expr::uint(vw - s, 0), Expr::slice(&x, s - 1, 0)])
    } else {
        Expr::slice(&x, vw - 1, 0)
    };
    Ok((low, shifted(&x, xw, 0, vw)))
}

/// The registered ROM read of a ROM datapath: `case (x)` over every input code, which Yosys
/// maps to LUTs (distributed ROM) for the narrow inputs this datapath serves.
fn rom_stage(
    m: &Module,
    spec: &DatapathSpec,
    source: &CoefSource,
    x: &str,
    dst: &str,
) -> Result<Vec<Stmt>, HdlError> {
    let CoefSource::Baked(layer) = source else {
        // `generate_axilite` refuses ROM specs with the reason before the lane is built.
        return Err(HdlError::WrongDatapath {
            module: m.name().to_string(),
            what: "a run-time coefficient lookup",
            datapath: datapath_name(spec.select()),
        });
    };
    let (fin, wo) = (spec.input(), spec.output().width());
    let wi = fin.width();
    if layer.rom.len() as u64 != 1u64 << wi {
        return Err(HdlError::LayerShape {
            module: m.name().to_string(),
            layer: layer.name().to_string(),
            reason: format!(
                "the ROM holds {} entries, but the {}-bit input has {} codes",
                layer.rom.len(),
                wi,
                1u64 << wi
            ),
        });
    }
    let arms = layer
        .rom
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let raw = fin.min_raw() + i as i64;
            CaseArm {
                label: (raw as u64) & ((1u64 << wi) - 1),
                comment: format!("x = {raw}"),
                body: vec![Stmt::set(dst, Expr::sint(wo, v))],
            }
        })
        .collect();
    Ok(vec![
        Stmt::Comment("every input code's correctly rounded, saturated output".into()),
        Stmt::Case {
            sel: Expr::name(x),
            label_width: wi,
            arms,
            default: None,
        },
    ])
}

/// What the lowering knows about one signal while building stage `stage`.
struct Names<'a> {
    pipeline: &'a [PipelineStage],
    widths: [Option<u32>; SIGNALS],
    /// The stage (0-based) whose registers read a coefficient from the ROM, when that is not
    /// the stage of its lookup step (a table's `k1` and `k0`).
    late: [Option<usize>; SIGNALS],
    /// Late coefficients the stage after their read reads through [`fix_name`].
    fixed: Vec<Signal>,
}

/// Signals a stage registers after its own results, in this order: the segment's constants
/// and intermediate values, then the sample's delay line (`x` or `v`).
fn carry_order() -> impl Iterator<Item = Signal> {
    let operand = |s: &Signal| matches!(s, Signal::X | Signal::V);
    let rest = Signal::ALL
        .into_iter()
        .filter(move |s| !operand(s) && *s != Signal::Out);
    rest.chain(Signal::ALL.into_iter().filter(operand))
}

impl Names<'_> {
    fn width(&self, s: Signal) -> u32 {
        self.widths[s.slot()].unwrap_or(0)
    }
    /// Stage (0-based) whose steps write `s`; `None` for the input `x`.
    fn producer(&self, s: Signal) -> Option<usize> {
        self.pipeline
            .iter()
            .position(|st| st.steps.iter().any(|step| step.writes().contains(&s)))
    }
    /// Whether a stage after `stage` (0-based) reads `s`; the output counts as read after
    /// the last stage.
    fn live_after(&self, s: Signal, stage: usize) -> bool {
        s == Signal::Out
            || self.pipeline[stage + 1..]
                .iter()
                .flat_map(|st| &st.steps)
                .any(|step| step.reads().contains(&s))
    }
    /// The name of `s` as a step of stage `stage` (0-based) reads it: its wire when the stage
    /// computes it, else the register of the stage before, or the port `x` in stage 0.
    fn read(&self, s: Signal, stage: usize) -> String {
        match self.producer(s) {
            Some(p) if p == stage => wire_name(s),
            None if stage == 0 => s.name().to_string(),
            _ if self.fixed.contains(&s) && self.late[s.slot()] == Some(stage - 1) => {
                fix_name(s, stage - 1)
            }
            _ => reg_name(s, stage - 1),
        }
    }
}

/// `<signal>_reg<stage>` (stages numbered from 1 in the text).
fn reg_name(s: Signal, stage: usize) -> String {
    format!("{}_reg{}", s.name(), stage + 1)
}

/// The wire of a value computed and used in the same stage (`out` is the port, so its wire is
/// `out_next`).
fn wire_name(s: Signal) -> String {
    match s {
        Signal::Out => "out_next".into(),
        _ => s.name().to_string(),
    }
}

/// The localparam comment of a signal.
fn width_comment(s: Signal, spec: &DatapathSpec) -> String {
    let fixed = match s {
        Signal::X => Some("input sample"),
        Signal::Out => Some("output sample"),
        Signal::C2 => Some("quadratic coefficient"),
        Signal::K1 => Some("linear constant + rounding bias"),
        Signal::K0 => Some("constant term + rounding bias"),
        _ => None,
    };
    if let Some(f) = fixed {
        return f.to_string();
    }
    let Some(step) = spec.steps().find(|st| st.writes().contains(&s)) else {
        return String::new();
    };
    let saturated = spec
        .steps()
        .any(|st| matches!(st, Step::Saturate { src, .. } if *src == s));
    let mut c = step.formula();
    if saturated {
        c.push_str(", before saturation");
    }
    c
}

/// The constant a `+` adds to `src` before it is shifted (it carries the rounding bias).
fn bias_constant(spec: &DatapathSpec, src: Signal) -> &'static str {
    spec.steps()
        .find_map(|st| match st {
            Step::Add { dst, b, .. } if *dst == src => Some(b.name()),
            _ => None,
        })
        .unwrap_or("the constant")
}

/// The values a stage registers (by the step that computes them) and their assignments.
type StageRegs = Vec<(Vec<Signal>, Vec<Stmt>)>;

/// Lowers the steps of stage `i` (0-based). Returns the clocked statements of values the
/// stage registers (results first; the caller adds the delay-line registers).
fn lower_stage(
    m: &mut Module,
    spec: &DatapathSpec,
    source: &CoefSource,
    names: &Names,
    params: &[Option<Param>; SIGNALS],
    i: usize,
    extras: &mut TableExtras,
) -> Result<StageRegs, HdlError> {
    let size = |s: Signal| match &params[s.slot()] {
        Some(p) => Size::param(p),
        None => Size::lit(names.width(s)),
    };
    let last = i + 1 == names.pipeline.len();
    let shifts: Vec<Signal> = spec
        .steps()
        .filter_map(|st| match st {
            Step::ShiftRound { dst, .. } => Some(*dst),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for step in &names.pipeline[i].steps {
        // Where a single-result step's value goes: a register when a later stage reads it.
        let dst = step.writes()[0];
        let registered = !last && names.live_after(dst, i);
        let expr = match *step {
            Step::Lookup { .. } => {
                if i != 0 {
                    return Err(HdlError::StagePlacement {
                        module: m.name().to_string(),
                        step: "coefficient lookup",
                        stage: i + 1,
                        rule: "its select logic reads the input port, so it must be stage 1",
                    });
                }
                out.push((
                    step.writes().to_vec(),
                    select_stage(m, spec, source, extras)?,
                ));
                continue;
            }
            Step::Offset { .. } => {
                let (inside, outside) = table_offset(m, spec, names, i)?;
                if !registered {
                    Expr::when(Expr::name("in_table"), inside, outside)
                } else {
                    // Inside the core interval v's high bits are 0: the flip-flops' synchronous
                    // reset clears them (one signal for all), instead of a multiplexer per bit.
                    let v = reg_name(dst, i);
                    extras.blocks.push(ReadBlock {
                        force: Some((
                            "offset_force".into(),
                            Expr::name("ce").logic_and(Expr::name("in_table")),
                        )),
                        stage: i,
                        flags: Vec::new(),
                        fixes: Vec::new(),
                        comment: vec![format!(
                            "Stage {}: v, the offset in the segment inside the core interval (its \
                             high bits cleared by the synchronous reset), x outside it.",
                            i + 1
                        )],
                        body: vec![Stmt::If(
                            Expr::name("offset_force"),
                            vec![Stmt::set(&v, inside)],
                            vec![Stmt::when(Expr::name("ce"), vec![Stmt::set(&v, outside)])],
                        )],
                    });
                    out.push((vec![dst], Vec::new()));
                    continue;
                }
            }
            Step::Rom { .. } => {
                if !registered {
                    return Err(HdlError::StagePlacement {
                        module: m.name().to_string(),
                        step: "ROM read",
                        stage: i + 1,
                        rule: "it is lowered as a registered case (a ROM with registered \
                               output), so a later stage must read its value",
                    });
                }
                let x = names.read(Signal::X, i);
                out.push((
                    vec![dst],
                    rom_stage(m, spec, source, &x, &reg_name(dst, i))?,
                ));
                continue;
            }
            Step::Mul { dst, a, b, .. } => {
                let prod = size(dst);
                let mul_in = |m: &mut Module, src: Signal| {
                    let (src_name, src_w) = (names.read(src, i), names.width(src));
                    if src_w > prod.bits() {
                        let op = format!("{}_{}_operand", dst.name(), src.name());
                        operand(m, &op, &src_name, src_w, &prod)
                    } else {
                        Expr::name(&src_name)
                    }
                };
                let ea = mul_in(m, a);
                let eb = mul_in(m, b);
                ea.times(eb)
            }
            Step::Add { dst, a, b, .. } => {
                let sum = size(dst);
                let add_in = |m: &mut Module, src: Signal| {
                    let op = format!("{}_{}_operand", dst.name(), src.name());
                    operand(m, &op, &names.read(src, i), names.width(src), &sum)
                };
                let ea = add_in(m, a);
                let eb = add_in(m, b);
                ea.plus(eb)
            }
            Step::ShiftRound {
                dst, src, shift, ..
            } => {
                let (src_name, src_w, dst_w) =
                    (names.read(src, i), names.width(src), names.width(dst));
                let e = shifted(&src_name, src_w, shift, dst_w);
                if !registered {
                    m.wire_eq(&wire_name(dst), size(dst), true, e);
                    m.note(&shift_note(src.name(), shift, bias_constant(spec, src)));
                    let ordinal = if shifts.last() == Some(&dst) {
                        "final"
                    } else {
                        "first"
                    };
                    discard_shifted(m, &src_name, src_w, shift, dst_w, dst.name(), ordinal);
                    continue;
                }
                e
            }
            Step::Saturate {
                dst, src, overflow, ..
            } => {
                let (q, qw, ow) = (names.read(src, i), names.width(src), names.width(dst));
                let e = if qw > ow {
                    // q fits when its bits from the output's sign bit up are all equal;
                    // otherwise clamp to the most negative or most positive output value by
                    // q's sign.
                    let top = Expr::slice(&q, qw - 1, ow - 1);
                    let fits = format!("{q}_fits");
                    m.wire_eq(
                        &fits,
                        Size::scalar(),
                        false,
                        top.clone()
                            .reduce_and()
                            .logic_or(top.reduce_or().logic_not()),
                    );
                    m.note(&format!("{q} is inside the output range"));
                    let sign = Expr::bit(&q, qw - 1);
                    Expr::when(
                        Expr::name(&fits),
                        Expr::slice(&q, ow - 1, 0),
                        Expr::concat(vec![sign.clone(), sign.bit_not().repeat(ow - 1)]),
                    )
                } else {
                    // The proven range of q is inside the output range: saturation cannot
                    // trigger.
                    shifted(&q, qw, 0, ow)
                };
                if !registered {
                    m.wire_eq(&wire_name(dst), size(dst), true, e);
                    m.note(&if qw > ow {
                        format!("saturated ({overflow})")
                    } else {
                        format!(
                            "{q}'s proven range is inside the output range: nothing to saturate"
                        )
                    });
                    continue;
                }
                e
            }
        };
        if registered {
            out.push((vec![dst], vec![Stmt::set(&reg_name(dst, i), expr)]));
        } else {
            m.wire_eq(&wire_name(dst), size(dst), true, expr);
        }
    }
    Ok(out)
}

/// Builds the lane module `name` for `source`: the spec's pipeline, stage by stage. Every
/// stage but the last ends in registers of every value a later stage reads; the last stage is
/// logic whose result `out` the caller registers.
pub(crate) fn lane_module(
    spec: &DatapathSpec,
    source: &CoefSource,
    name: &str,
) -> Result<Module, HdlError> {
    let pipeline = spec.pipeline();
    let n = pipeline.len();
    if n < 2 {
        return Err(HdlError::TooFewStages {
            module: name.to_string(),
            stages: n,
        });
    }
    let mut names = Names {
        pipeline,
        widths: signal_widths(pipeline, spec.input().width()),
        late: [None; SIGNALS],
        fixed: Vec::new(),
    };
    let mut extras = TableExtras::default();
    if let (CoefSource::Baked(_), SegmentSelect::Table(_)) = (source, spec.select()) {
        // A table's coefficients come from a ROM, so a constant that would travel through
        // two or more delay stages (k0) is read in the stage before the one that uses it: the
        // narrow address travels instead. One that is used in stage 3 (k1) is read in stage 1
        // like c2: its second register is the DSP48E1's C register, which a synchronously
        // set/reset register cannot be.
        for c in [Signal::C2, Signal::K1, Signal::K0] {
            let first_use =
                (1..n).find(|&i| pipeline[i].steps.iter().any(|st| st.reads().contains(&c)));
            let r = first_use.map_or(0, |u| u - 1);
            let r = if r >= 3 { r } else { 0 };
            extras.read_stage.push((c, r));
            if r > 0 {
                names.late[c.slot()] = Some(r);
            }
        }
    }

    let mut doc = vec![format!(
        "{name}: one sample per clock (II=1), {n} register stages, the last outside the lane:"
    )];
    for (i, s) in pipeline.iter().enumerate() {
        doc.push(format!("  {}. {}", i + 1, s.what));
    }
    doc.push(format!(
        "out is combinational from stage {}: the caller registers it (stage {n}).",
        n - 1
    ));
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
    m.port(PortDir::In, "x", Size::lit(names.width(Signal::X)), true);
    for p in source_ports(spec, source) {
        m.port(p.dir, &p.name, Size::lit(p.bits), p.signed);
    }
    m.port_group(&[
        &format!(
            "Sample out (raw output format, saturated): combinational from the stage-{} register,",
            n - 1
        ),
        &format!(
            "{} cycles after x; the caller's register is stage {n}",
            n - 1
        ),
    ]);
    m.port(
        PortDir::Out,
        "out",
        Size::lit(names.width(Signal::Out)),
        true,
    );

    let mut params: [Option<Param>; SIGNALS] = Default::default();
    // A width parameter for every signal the lane declares a wire or register of: each one a
    // step computes, and the input when a later stage reads it.
    for s in Signal::ALL {
        let declared = names.producer(s).is_some() || names.live_after(s, 0);
        if let Some(w) = names.widths[s.slot()].filter(|_| declared) {
            let pname = format!("{}_WIDTH", s.name().to_uppercase());
            params[s.slot()] = Some(m.localparam(&pname, w, &width_comment(s, spec)));
        }
    }
    let psize = |s: Signal| Size::param(params[s.slot()].as_ref().expect("declared above"));

    let mut body = Vec::new();
    for (i, stage) in pipeline.iter().enumerate() {
        let last = i + 1 == n;
        let header = format!("Stage {}: {}", i + 1, stage.what);
        if last {
            m.comment(&[
                &header,
                "(combinational here: the AXI4-Stream output register is this stage's register)",
            ]);
        } else {
            m.comment(&[&header]);
        }
        let results = lower_stage(&mut m, spec, source, &names, &params, i, &mut extras)?;
        if last {
            break;
        }
        // Registers: the input port's delay line first (stage 1), the stage's results, then
        // the delay lines of values a later stage reads.
        let produced: Vec<Signal> = stage
            .steps
            .iter()
            .flat_map(|s| s.writes())
            .copied()
            .collect();
        // A coefficient read late is registered by its read block in stage `r`, then carried.
        let late_here: Vec<Signal> = Signal::ALL
            .into_iter()
            .filter(|s| names.late[s.slot()] == Some(i))
            .collect();
        let carried: Vec<Signal> = carry_order()
            .filter(|&s| names.widths[s.slot()].is_some())
            .filter(|s| !produced.contains(s) && names.live_after(*s, i))
            .filter(|&s| names.producer(s).is_none_or(|p| p < i))
            .filter(|s| names.late[s.slot()].is_none_or(|r| i > r))
            .collect();
        let mut regs = Vec::new();
        let mut stmts = Vec::new();
        let from_port = |s: &Signal| i == 0 && names.producer(*s).is_none();
        for &s in carried.iter().filter(|s| from_port(s)) {
            regs.push(s);
            stmts.push(Stmt::set(&reg_name(s, i), Expr::name(&names.read(s, i))));
        }
        for (sigs, st) in results {
            regs.extend(sigs.into_iter().filter(|s| names.late[s.slot()].is_none()));
            stmts.extend(st);
        }
        regs.extend(late_here);
        for b in extras.blocks.iter().filter(|b| b.stage == i) {
            for (flag, e) in &b.flags {
                m.reg(flag, Size::scalar(), false);
                stmts.push(Stmt::set(flag, e.clone()));
            }
        }
        if (1..extras.carry_until).contains(&i) {
            for (base, bits) in &extras.carry {
                let dst = format!("{base}_reg{}", i + 1);
                m.reg(&dst, Size::lit(*bits), false);
                stmts.push(Stmt::set(&dst, Expr::name(&format!("{base}_reg{i}"))));
            }
        }
        for &s in carried.iter().filter(|s| !from_port(s)) {
            regs.push(s);
            stmts.push(Stmt::set(&reg_name(s, i), Expr::name(&names.read(s, i))));
        }
        for s in regs {
            m.reg(&reg_name(s, i), psize(s), true);
        }
        for b in extras.blocks.iter().filter(|b| b.stage == i) {
            for (s, e) in &b.fixes {
                m.wire_eq(&fix_name(*s, i), psize(*s), true, e.clone());
                m.note(&format!(
                    "{} with the flagged outer segments' bits",
                    reg_name(*s, i)
                ));
                names.fixed.push(*s);
            }
        }
        body.push(Stmt::Comment(format!("stage {}: {}", i + 1, stage.what)));
        body.extend(stmts);
    }
    m.always_ff(
        "clk",
        &["The pipeline registers. No reset: the valid bits travel beside the lane."],
        vec![Stmt::when(Expr::name("ce"), body)],
    );
    for b in extras.blocks {
        if let Some((name, e)) = b.force {
            m.wire_eq(&name, Size::scalar(), false, e);
            m.note("outside the core interval while the pipeline advances");
        }
        let comment: Vec<&str> = b.comment.iter().map(String::as_str).collect();
        m.always_ff("clk", &comment, b.body);
    }
    let out = if names.producer(Signal::Out) == Some(n - 1) {
        wire_name(Signal::Out)
    } else {
        reg_name(Signal::Out, n - 2)
    };
    m.assign("out", Expr::name(&out));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4-bit ROM spec (every output in the table, no coefficient lookup).
    fn rom_spec() -> DatapathSpec {
        let f = crate::fixedpoint::ApFixed::new(4, 2).unwrap();
        DatapathSpec::build_rom(
            "act.tanh",
            "tanh",
            std::sync::Arc::new(f64::tanh),
            &crate::fixedpoint::SpecOptions::with_formats(f, f),
        )
        .unwrap()
    }

    #[test]
    fn run_time_coefficients_for_a_rom_datapath_are_a_typed_error() {
        let err = lane_module(&rom_spec(), &CoefSource::Registers, "rt_lane").unwrap_err();
        assert_eq!(
            err,
            HdlError::WrongDatapath {
                module: "rt_lane".into(),
                what: "a run-time coefficient lookup",
                datapath: "ROM",
            }
        );
        assert_eq!(
            err.to_string(),
            "module `rt_lane`: a run-time coefficient lookup does not exist for the ROM datapath"
        );
    }

    #[test]
    fn a_rom_of_the_wrong_size_names_the_layer_and_both_counts() {
        let spec = rom_spec();
        let layer = spec.layers()[0].clone();
        let mut short = layer.clone();
        short.rom.pop();
        let err = lane_module(&spec, &CoefSource::Baked(&short), "rom_lane").unwrap_err();
        assert_eq!(
            err.to_string(),
            "module `rom_lane`, layer `act.tanh`: the ROM holds 15 entries, but the 4-bit input \
             has 16 codes"
        );
        assert!(lane_module(&spec, &CoefSource::Baked(&layer), "rom_lane").is_ok());
    }

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
