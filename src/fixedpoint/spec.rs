//! The datapath spec: the one description of the exact integer computation. The golden model
//! executes it, the HDL generator builds registers and wires from it, the co-simulation checks
//! that the two agree, and the reports print it. Floats become bits here and nowhere else.
//!
//! # The computation (all values signed two's complement)
//!
//! | step | operation                              | width field   |
//! |------|----------------------------------------|---------------|
//! | 1    | `seg = #{ i : x >= threshold[i] }`     | x: `Wi`, thresholds: `Wi+1` |
//! | 2    | `(c2, k1, k0) = coef[channel][seg]`    | `c2`, `k1`, `k0` |
//! | 3    | `p1 = c2 · x` (exact)                  | `p1`          |
//! | 4    | `s1 = p1 + k1` (exact)                 | `s1`          |
//! | 5    | `t = s1 >> shift1` (floor)             | `t`           |
//! | 6    | `p2 = t · x` (exact)                   | `p2`          |
//! | 7    | `y = p2 + k0` (exact)                  | `y`           |
//! | 8    | `q = y >> shift2` (floor)              | `q`           |
//! | 9    | `out = clamp(q, -2^(Wo-1), 2^(Wo-1)-1)` (saturate) | `Wo`  |
//!
//! This is Horner's form `c0 + x·(c1 + c2·x)`. Both rounding steps are a floor (an arithmetic
//! shift) of a sum whose constant already holds half an ULP of the result, so each rounds to
//! nearest with ties toward +inf (`AP_RND`) at no cost in hardware: `k1 = round(c1·2^(F2+Fi)) +
//! 2^(shift1-1)` and `k0 = round(c0·2^(Ft+Fi)) + 2^(shift2-1)`.
//! Every width is the exact range of its stage over all reachable inputs (interval analysis),
//! so no stage before the final saturation can overflow.
//!
//! The steps above are data: [`DatapathSpec::pipeline`] is the typed list of pipeline stages
//! ([`super::stage`]) that the golden model executes, [`interval_walk`] walks to find every
//! width, the HDL lowers and the header prints. Segments are computed once per layer
//! ([`LayerSpec::segments`]); the table-indexed and ROM variants ([`SegmentSelect`]) are
//! built by `super::table` from the same pieces.
//!
//! This module holds the types and the format search only; the builders sit above it (the
//! comparator dispatch in `super::build`, the correctly rounded search in `super::exact`,
//! the table and ROM datapaths in `super::table`), so nothing here imports a builder.

use super::dsp::{dsp48e1_slices, lane_dsp48e1, multipliers, Multiplier};
use super::format::{signed_width, ApFixed};
use super::stage::{
    compile, signal_widths, Exec, Overflow, PipelineStage, Rounding, Signal, Step, SIGNALS,
};
use crate::model::FoldedLayer;
use crate::{Error, Result};
use fixed::types::I64F0;
use serde::Serialize;

/// Default error budget: half an output ULP for the final rounding plus 1/16 ULP for the
/// coefficients and the intermediate rounding.
pub const DEFAULT_MAX_ERROR_ULP: f64 = 0.5 + 1.0 / 16.0;
/// Default limit on the multiplier operands `c2` and `t`: against an input of at most 25 bits
/// a 35-bit operand takes two DSP48E1 slices (17 + 18 bits on the B port, UG479's 25 x 35).
/// The format search takes the fewest slices first, so operands stay within one slice
/// (25 x 18) wherever the budget allows it; wider ones are for wide formats (24-bit
/// `ap_fixed<24,8>` in and out needs a 30-bit `t`).
pub const DEFAULT_MAX_COEF_WIDTH: u32 = 35;
/// Largest accepted `--max-coef-width` (the stages stay within [`MAX_STAGE_WIDTH`]: a 40-bit
/// operand times a 24-bit input is 63 bits at most, and wider candidates are skipped).
pub const MAX_COEF_WIDTH_LIMIT: u32 = 40;
/// No stage may be wider than this (the golden model holds stages in 64-bit words).
pub(crate) const MAX_STAGE_WIDTH: u32 = 62;

/// The constants of one segment of one channel, as the hardware holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SegmentCoefs {
    /// `round(c2 · 2^F2)`.
    pub c2: i64,
    /// `round(c1 · 2^(F2+Fi))` plus the rounding bias of step 5.
    pub k1: i64,
    /// `round(c0 · 2^(Ft+Fi))` plus the rounding bias of step 8.
    pub k0: i64,
}

impl SegmentCoefs {
    /// All zero: what segments no input selects hold.
    pub const ZERO: SegmentCoefs = SegmentCoefs {
        c2: 0,
        k1: 0,
        k0: 0,
    };
}

/// Width in bits of every stage of the polynomial datapath (a view of the widths in
/// [`DatapathSpec::pipeline`]; 0 for a stage the datapath does not have, e.g. every stage
/// but `x` and `out` of a ROM datapath).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StageWidths {
    /// Input sample.
    pub x: u32,
    /// Segment thresholds (one more than x: "never" is `max + 1`).
    pub threshold: u32,
    /// Quadratic coefficient.
    pub c2: u32,
    /// Linear constant with rounding bias.
    pub k1: u32,
    /// Constant term with rounding bias.
    pub k0: u32,
    /// `c2 · v`.
    pub p1: u32,
    /// `p1 + k1`.
    pub s1: u32,
    /// Inner Horner term after the first rounding.
    pub t: u32,
    /// `t · v`.
    pub p2: u32,
    /// `p2 + k0`.
    pub y: u32,
    /// `y >> shift2`, before saturation.
    pub q: u32,
    /// Output sample.
    pub out: u32,
}

/// The worst-case error of one layer, in output ULPs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorBound {
    /// Coefficient quantization plus the intermediate rounding, before the output rounding.
    pub pre_round_ulp: f64,
    /// `pre_round_ulp` plus the output rounding (0.5 when it discards bits).
    pub total_ulp: f64,
}

/// How the bound of a layer was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundKind {
    /// Proven analytically against the folded polynomial (comparator datapath).
    Proven,
    /// Measured on every one of the 2^W input codes against the f64 reference function
    /// (table and ROM datapaths: the reference is transcendental).
    MeasuredOnAllInputs,
    /// Every output equals the exact function's value at its input code, rounded `AP_RND`
    /// and saturated: checked on every input code in exact rational arithmetic (the exact
    /// activations; see `super::exact`).
    CorrectlyRounded,
}

/// How a sample finds its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SegmentSelect {
    /// `seg = #{i : x >= threshold[i]}`: one comparator per threshold.
    Comparators,
    /// Comparators split the input range into outer segments and one core interval
    /// `[lo_raw, lo_raw + 2^(index_bits + offset_bits))` of `2^index_bits` uniform segments of
    /// `2^offset_bits` codes each; inside it the segment is the input's bits
    /// `[offset_bits + index_bits - 1 : offset_bits]` (a ROM address, no subtractor: `lo_raw` is
    /// a multiple of `2^offset_bits`) and the multiplier operand `v` is the offset `x - lo_seg`,
    /// i.e. the low `offset_bits` bits of `x`.
    Table(TableGeometry),
    /// No polynomial: the output of every input code is in a table (`rom`).
    Rom,
}

/// The core interval of a [`SegmentSelect::Table`] datapath.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TableGeometry {
    /// First raw input of the core interval (a multiple of `2^offset_bits`).
    pub lo_raw: i64,
    /// `k`: the core interval has `2^k` segments.
    pub index_bits: u32,
    /// `s`: each segment holds `2^s` input codes.
    pub offset_bits: u32,
    /// Comparator segments below the core interval (coefficient indices `0..outer_below`);
    /// the table segments follow (`outer_below..outer_below + 2^k`), then the segments above.
    pub outer_below: usize,
}

impl TableGeometry {
    /// Input codes of the core interval.
    pub fn span(&self) -> i64 {
        1i64 << (self.index_bits + self.offset_bits)
    }
    /// Number of table segments.
    pub fn table_segments(&self) -> usize {
        1usize << self.index_bits
    }
}

/// One segment of a layer, computed once from the thresholds (and the table geometry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// Index into `coefs[channel]`.
    pub index: usize,
    /// Smallest raw input that selects it (clamped to the input range).
    pub lo: i64,
    /// Largest raw input that selects it; `lo > hi` when no input does.
    pub hi: i64,
    /// Index of the threshold whose comparison starts it (`None` when it starts at the input
    /// minimum or inside the core interval of a table).
    pub threshold: Option<usize>,
    /// Whether any input sample selects it (`lo <= hi`).
    pub reachable: bool,
    /// `v = x - origin` in this segment (0: `v = x`).
    pub origin: i64,
}

/// One layer's part of the spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerSpec {
    /// The folded f64 function this layer approximates. For a table or ROM layer: its name,
    /// variant `table`/`rom`, no breakpoints, and no segments (the reference is
    /// [`LayerSpec::reference`]).
    pub folded: FoldedLayer,
    /// `segments - 1` nondecreasing thresholds in input raw units, clamped to
    /// `[min_raw, max_raw + 1]`; `x >= threshold[i]` is exactly `x >= breakpoint[i]`.
    /// (A table layer: the comparator thresholds, the core interval's two ends included.)
    pub thresholds: Vec<i64>,
    /// `coefs[channel][segment]`; unreachable segments hold zeros.
    pub coefs: Vec<Vec<SegmentCoefs>>,
    /// Whether any input sample selects each segment (`segments[i].reachable`).
    pub reachable: Vec<bool>,
    /// Every segment with its input range, in coefficient order.
    pub segments: Vec<Segment>,
    /// The output of every input code, from `min_raw` up (a ROM layer only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rom: Vec<i64>,
    /// The bound against the saturated f64 function at the quantized input.
    pub bound: ErrorBound,
    /// Whether `bound` is proven or measured on every input.
    pub bound_kind: BoundKind,
    /// The f64 function of a table or ROM layer (`None`: the folded function).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<super::reference::ReferenceFn>,
}

impl LayerSpec {
    /// The layer's name.
    pub fn name(&self) -> &str {
        &self.folded.name
    }
    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.coefs.len()
    }
    /// The f64 function this layer approximates, before saturation.
    pub fn function(&self, channel: usize, x: f64) -> f64 {
        match &self.reference {
            Some(r) => r.eval(x),
            None => self.folded.eval(channel, x),
        }
    }
}

/// Knobs for building a spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpecOptions {
    /// Input sample format.
    pub input: ApFixed,
    /// Output sample format.
    pub output: ApFixed,
    /// Largest allowed error against the saturated f64 function, in output ULPs.
    pub max_error_ulp: f64,
    /// Largest allowed width of the multiplier operands `c2` and `t`.
    pub max_coef_width: u32,
}

impl SpecOptions {
    /// ap_fixed<16,6> in and out, the default budget and DSP48E1-sized operands.
    pub fn with_formats(input: ApFixed, output: ApFixed) -> Self {
        SpecOptions {
            input,
            output,
            max_error_ulp: DEFAULT_MAX_ERROR_ULP,
            max_coef_width: DEFAULT_MAX_COEF_WIDTH,
        }
    }
}

/// Fractional bits of the coefficients of a polynomial datapath.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CoefFracs {
    /// F2, of `c2`.
    pub c2_frac: u32,
    /// Ft, of `t` (and `c1`).
    pub t_frac: u32,
}

/// The complete, validated, immutable description of one activation core.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatapathSpec {
    input: ApFixed,
    output: ApFixed,
    select: SegmentSelect,
    /// `None` for a ROM datapath.
    #[serde(skip_serializing_if = "Option::is_none")]
    coef_fracs: Option<CoefFracs>,
    segments: usize,
    pipeline: Vec<PipelineStage>,
    /// A view of the widths in `pipeline`.
    #[serde(skip)]
    widths: StageWidths,
    /// `pipeline` compiled for the golden model.
    #[serde(skip)]
    exec: Vec<Exec>,
    max_error_ulp: f64,
    layers: Vec<LayerSpec>,
}

/// A reachable segment: its input raw range and the origin of its operand `v`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Region {
    pub seg: usize,
    pub lo: i64,
    pub hi: i64,
    pub origin: i64,
}

/// What every candidate format is measured against: per layer, the regions and the real
/// coefficients `[channel][segment] = [c0, c1, c2]` of the polynomial in `v`.
#[derive(Clone, Copy)]
pub(crate) struct Problem<'a> {
    pub polys: &'a [&'a [Vec<[f64; 3]>]],
    pub regions: &'a [Vec<Region>],
    pub segments: usize,
    pub input: ApFixed,
    pub output: ApFixed,
    /// Budget for everything before the output rounding, in output units (not ULP).
    pub pre_budget: f64,
    /// Approximation error already spent per layer (output units), added to the bound.
    pub approx: &'a [f64],
}

/// Quantization of all layers for one choice of fractional bits.
pub(crate) struct Candidate {
    pub c2_frac: u32,
    pub t_frac: u32,
    pub layers: Vec<(Vec<Vec<SegmentCoefs>>, ErrorBound)>,
    pub pipeline: Vec<PipelineStage>,
    pub widths: StageWidths,
}

fn exp2i(e: i64) -> f64 {
    (e as f64).exp2()
}

/// `round(v · 2^frac)` with ties to even, or `None` when it does not fit comfortably in i64.
pub(crate) fn quantize_coef(v: f64, frac: u32) -> Option<i64> {
    let scaled = v * exp2i(frac as i64);
    if scaled.abs() >= exp2i(MAX_STAGE_WIDTH as i64 - 2) {
        return None;
    }
    I64F0::checked_from_num(scaled).map(|f| f.to_bits())
}

/// Floor division by `2^shift` (an arithmetic shift).
fn floor_shift(v: i64, shift: u32) -> i64 {
    v >> shift
}

fn bias(shift: u32) -> i64 {
    if shift == 0 {
        0
    } else {
        1i64 << (shift - 1)
    }
}

/// The rounding a floor shift by `shift` amounts to when its constant carries the bias.
fn shift_rounding(shift: u32) -> Rounding {
    if shift > 0 {
        Rounding::HalfUp
    } else {
        Rounding::Exact
    }
}

/// Largest |g(x)| of `g(x) = a + b·x + c·x²` on `[lo, hi]`: at an end or at the vertex.
fn max_abs_quadratic(a: f64, b: f64, c: f64, lo: f64, hi: f64) -> f64 {
    let g = |x: f64| (a + b * x + c * x * x).abs();
    let mut m = g(lo).max(g(hi));
    if c != 0.0 {
        let v = -b / (2.0 * c);
        if v > lo && v < hi {
            m = m.max(g(v));
        }
    }
    m
}

/// Running min/max of a stage.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span(pub i64, pub i64);

impl Span {
    pub fn empty() -> Self {
        Span(i64::MAX, i64::MIN)
    }
    fn point(v: i64) -> Self {
        Span(v, v)
    }
    fn add(&mut self, v: i64) {
        self.0 = self.0.min(v);
        self.1 = self.1.max(v);
    }
    fn join(&mut self, o: Span) {
        if o.0 <= o.1 {
            self.add(o.0);
            self.add(o.1);
        }
    }
    pub fn width(self) -> u32 {
        if self.0 > self.1 {
            1
        } else {
            signed_width(self.0, self.1)
        }
    }
}

/// The polynomial pipeline: Horner's form `k0 + v·(k1 + c2·v)` with both rounding shifts,
/// the register stages mapping onto two DSP48E1 (multiplier register, then post-adder register
/// with the constant on C), and the round-and-saturate step feeding the output register.
/// `widths[s]` is the width of signal `s` (`None` where the datapath has no such signal yet,
/// e.g. before the interval analysis: then 0).
pub fn poly_pipeline(
    select: &SegmentSelect,
    shift1: u32,
    shift2: u32,
    widths: &[Option<u32>; SIGNALS],
) -> Vec<PipelineStage> {
    let w = |s: Signal| widths[s.slot()].unwrap_or(0);
    let operand = match select {
        SegmentSelect::Table(_) => Signal::V,
        _ => Signal::X,
    };
    let mut first = vec![Step::Lookup {
        widths: [w(Signal::C2), w(Signal::K1), w(Signal::K0)],
    }];
    let what1 = if operand == Signal::V {
        first.push(Step::Offset {
            width: w(Signal::V),
        });
        "segment select, coefficient registers, v (offset in the segment)"
    } else {
        "segment select, coefficient registers, x"
    };
    let mut stages = vec![PipelineStage {
        what: what1.into(),
        steps: first,
    }];
    multiply_stages(
        &mut stages,
        vec![Step::Mul {
            dst: Signal::P1,
            a: Signal::C2,
            b: operand,
            width: w(Signal::P1),
        }],
        (w(Signal::C2), w(operand)),
    );
    stages.push(PipelineStage {
        what: "s1 = p1 + k1 (DSP PREG)".into(),
        steps: vec![Step::Add {
            dst: Signal::S1,
            a: Signal::P1,
            b: Signal::K1,
            width: w(Signal::S1),
        }],
    });
    multiply_stages(
        &mut stages,
        vec![
            Step::ShiftRound {
                dst: Signal::T,
                src: Signal::S1,
                shift: shift1,
                rounding: shift_rounding(shift1),
                width: w(Signal::T),
            },
            Step::Mul {
                dst: Signal::P2,
                a: Signal::T,
                b: operand,
                width: w(Signal::P2),
            },
        ],
        (w(Signal::T), w(operand)),
    );
    stages.extend([
        PipelineStage {
            what: "y = p2 + k0 (DSP PREG)".into(),
            steps: vec![Step::Add {
                dst: Signal::Y,
                a: Signal::P2,
                b: Signal::K0,
                width: w(Signal::Y),
            }],
        },
        PipelineStage {
            what: "round shift and saturate into the output (skid) register".into(),
            steps: vec![
                Step::ShiftRound {
                    dst: Signal::Q,
                    src: Signal::Y,
                    shift: shift2,
                    rounding: shift_rounding(shift2),
                    width: w(Signal::Q),
                },
                Step::Saturate {
                    dst: Signal::Out,
                    src: Signal::Q,
                    overflow: Overflow::Saturate,
                    width: w(Signal::Out),
                },
            ],
        },
    ]);
    stages
}

/// Appends the stage of a multiply (its last step is the `Mul`, of operand widths
/// `(wa, wb)`) and, when the product takes `n > 1` DSP48E1 slices ([`dsp48e1_slices`]),
/// `n - 1` register stages after it: a cascade of `n` slices sums its partial products one
/// post-adder per slice, and Vivado places registers written after a wide `*` into the
/// slices' MREG and PREG (UG901, multiplier pipelining). So every register-to-register path
/// holds at most one 25 x 18 multiply or one cascade add, as in a single-slice multiply,
/// which keeps the core's clock (about 150 MHz on a -1 Zynq-7000) independent of the formats.
fn multiply_stages(stages: &mut Vec<PipelineStage>, steps: Vec<Step>, (wa, wb): (u32, u32)) {
    let Some(&Step::Mul { dst, a, b, .. }) = steps.last() else {
        unreachable!("a multiply stage ends in its Mul step");
    };
    let (p, formula) = (dst.name(), format!("{}*{}", a.name(), b.name()));
    let n = dsp48e1_slices(wa, wb);
    if n <= 1 {
        stages.push(PipelineStage {
            what: format!("{p} = {formula} (DSP MREG)"),
            steps,
        });
        return;
    }
    stages.push(PipelineStage {
        what: format!(
            "{p} = {formula}, {wa} x {wb} bits split across {n} DSP48E1 (25 x 18 signed \
             slices): partial products (MREG)"
        ),
        steps,
    });
    for k in 1..n {
        let which = if n == 2 {
            String::new()
        } else {
            format!(" {k} of {}", n - 1)
        };
        stages.push(PipelineStage {
            what: format!(
                "{p} pipeline register{which}: {formula}'s partial products summed along the \
                 DSP48E1 cascade (PCIN, PREG)"
            ),
            steps: Vec::new(),
        });
    }
}

/// The ROM pipeline: the input register, the registered table read, the output register.
pub fn rom_pipeline(out_width: u32) -> Vec<PipelineStage> {
    vec![
        PipelineStage {
            what: "input register x".into(),
            steps: Vec::new(),
        },
        PipelineStage {
            what: "out = rom[x] (registered table read)".into(),
            steps: vec![Step::Rom { width: out_width }],
        },
        PipelineStage {
            what: "the output (skid) register".into(),
            steps: Vec::new(),
        },
    ]
}

/// The constants of one region for the interval analysis.
pub(crate) struct RegionConsts {
    pub lo: i64,
    pub hi: i64,
    pub origin: i64,
    pub coefs: SegmentCoefs,
}

/// Walks `pipeline` with interval arithmetic over one region (every input `lo..=hi` selects
/// the same constants) and widens `spans` to hold every value each signal takes. `None` if a
/// value would not fit in i64. Products of intervals take their corners, shifts are monotone:
/// the spans hold every reachable value (the hull of the exact range).
pub(crate) fn interval_walk(
    pipeline: &[PipelineStage],
    r: &RegionConsts,
    output: ApFixed,
    spans: &mut [Span; SIGNALS],
) -> Option<()> {
    let mut iv = [Span::empty(); SIGNALS];
    iv[Signal::X.slot()] = Span(r.lo, r.hi);
    for step in pipeline.iter().flat_map(|s| &s.steps) {
        match *step {
            Step::Lookup { .. } => {
                iv[Signal::C2.slot()] = Span::point(r.coefs.c2);
                iv[Signal::K1.slot()] = Span::point(r.coefs.k1);
                iv[Signal::K0.slot()] = Span::point(r.coefs.k0);
            }
            Step::Offset { .. } => {
                iv[Signal::V.slot()] =
                    Span(r.lo.checked_sub(r.origin)?, r.hi.checked_sub(r.origin)?);
            }
            Step::Mul { dst, a, b, .. } => {
                let (a, b) = (iv[a.slot()], iv[b.slot()]);
                let mut s = Span::empty();
                for p in [a.0, a.1] {
                    for q in [b.0, b.1] {
                        s.add(p.checked_mul(q)?);
                    }
                }
                iv[dst.slot()] = s;
            }
            Step::Add { dst, a, b, .. } => {
                let (a, b) = (iv[a.slot()], iv[b.slot()]);
                iv[dst.slot()] = Span(a.0.checked_add(b.0)?, a.1.checked_add(b.1)?);
            }
            Step::ShiftRound {
                dst, src, shift, ..
            } => {
                let s = iv[src.slot()];
                iv[dst.slot()] = Span(floor_shift(s.0, shift), floor_shift(s.1, shift));
            }
            Step::Saturate { dst, src, .. } => {
                let s = iv[src.slot()];
                let c = |v: i64| v.clamp(output.min_raw(), output.max_raw());
                iv[dst.slot()] = Span(c(s.0), c(s.1));
            }
            Step::Rom { .. } => iv[Signal::Out.slot()] = Span(output.min_raw(), output.max_raw()),
        }
        for sig in step.writes() {
            spans[sig.slot()].join(iv[sig.slot()]);
        }
    }
    Some(())
}

/// The segments of nondecreasing thresholds `th` by the golden model's rule
/// `rank = #{i : x >= th[i]}`: rank `r` covers `th[r-1] <= x < th[r]`, coefficient index
/// `index(r)`.
pub(crate) fn segments_of_thresholds(
    th: &[i64],
    input: ApFixed,
    index: impl Fn(usize) -> usize,
) -> Vec<Segment> {
    let (min, max) = (input.min_raw(), input.max_raw());
    (0..=th.len())
        .map(|r| {
            let lo = if r == 0 { min } else { th[r - 1].max(min) };
            let hi = if r == th.len() { max } else { th[r] - 1 };
            Segment {
                index: index(r),
                lo,
                hi,
                threshold: (r > 0 && lo != min).then(|| r - 1),
                reachable: lo <= hi,
                origin: 0,
            }
        })
        .collect()
}

/// The regions (reachable segments) of a layer.
pub(crate) fn regions_of(segs: &[Segment]) -> Vec<Region> {
    segs.iter()
        .filter(|s| s.reachable)
        .map(|s| Region {
            seg: s.index,
            lo: s.lo,
            hi: s.hi,
            origin: s.origin,
        })
        .collect()
}

/// The compatibility view of the pipeline's widths.
pub(crate) fn stage_widths(
    pipeline: &[PipelineStage],
    input: ApFixed,
    output: ApFixed,
) -> StageWidths {
    let w = signal_widths(pipeline, input.width());
    let g = |s: Signal| w[s.slot()].unwrap_or(0);
    StageWidths {
        x: input.width(),
        threshold: input.width() + 1,
        c2: g(Signal::C2),
        k1: g(Signal::K1),
        k0: g(Signal::K0),
        p1: g(Signal::P1),
        s1: g(Signal::S1),
        t: g(Signal::T),
        p2: g(Signal::P2),
        y: g(Signal::Y),
        q: g(Signal::Q),
        out: output.width(),
    }
}

/// The width of every signal `shape` writes, from the spans the interval walk found, with the
/// input and output widths of the formats (the operand widths decide how many DSP48E1 slices
/// a multiply takes, and so the pipeline's stages).
pub(crate) fn widths_of_spans(
    shape: &[PipelineStage],
    spans: &[Span; SIGNALS],
    input: ApFixed,
    output: ApFixed,
) -> [Option<u32>; SIGNALS] {
    let mut widths = [None; SIGNALS];
    for step in shape.iter().flat_map(|s| &s.steps) {
        for sig in step.writes() {
            widths[sig.slot()] = Some(spans[sig.slot()].width());
        }
    }
    widths[Signal::X.slot()] = Some(input.width());
    widths[Signal::Out.slot()] = Some(output.width());
    widths
}

/// Checks the budget and the coefficient-width option, naming the layers on failure.
pub(crate) fn check_budget(opts: &SpecOptions, names: &str) -> Result<()> {
    let budget_ulp = opts.max_error_ulp;
    if !budget_ulp.is_finite() || budget_ulp <= 0.5 {
        return Err(Error::Spec {
            layer: names.to_string(),
            reason: format!(
                "--max-error-ulp {budget_ulp} cannot be met: rounding to the output format \
                 alone can cost 0.5 ULP; ask for more than 0.5"
            ),
        });
    }
    if !(2..=MAX_COEF_WIDTH_LIMIT).contains(&opts.max_coef_width) {
        return Err(Error::Usage(format!(
            "--max-coef-width must be 2..={MAX_COEF_WIDTH_LIMIT}, got {}",
            opts.max_coef_width
        )));
    }
    Ok(())
}

/// The narrowest candidate meeting the budget within `max_coef_width`, or the reason none does.
pub(crate) fn search_formats(
    problem: &Problem,
    select: &SegmentSelect,
    opts: &SpecOptions,
) -> std::result::Result<Candidate, String> {
    let (input, output) = (opts.input, opts.output);
    let budget_ulp = opts.max_error_ulp;
    let mut best: Option<Candidate> = None;
    let mut narrowest_over_limit: Option<(u32, u32)> = None;
    let t_frac_min = output.frac().saturating_sub(input.frac());
    for t_frac in t_frac_min..=t_frac_min + 48 {
        for c2_frac in t_frac.saturating_sub(input.frac())..=48 {
            let Some(cand) = quantize_all(problem, select, c2_frac, t_frac) else {
                continue;
            };
            let (wc2, wt) = (cand.widths.c2, cand.widths.t);
            if wc2 > opts.max_coef_width || wt > opts.max_coef_width {
                let cost = (wc2.max(wt), wc2 + wt);
                if narrowest_over_limit.is_none_or(|n| cost < (n.0.max(n.1), n.0 + n.1)) {
                    narrowest_over_limit = Some((wc2, wt));
                }
                continue;
            }
            // Fewest DSP48E1 slices first (an operand beyond a port splits its multiply),
            // then the narrowest operands, then the narrowest constants.
            let cost = |c: &Candidate| {
                (
                    lane_dsp48e1(&c.pipeline, input.width()),
                    c.widths.c2 + c.widths.t,
                    c.widths.k1 + c.widths.k0,
                )
            };
            let better = best.as_ref().is_none_or(|b| cost(&cand) < cost(b));
            if better {
                best = Some(cand);
            }
        }
    }
    best.ok_or_else(|| match narrowest_over_limit {
        Some((wc2, wt)) => format!(
            "meeting {budget_ulp} ULP of {output} needs a {wc2}-bit c2 and a {wt}-bit t \
             (multiplier operands), but --max-coef-width is {}; raise it, raise \
             --max-error-ulp, or narrow the input format {input}",
            opts.max_coef_width
        ),
        None => format!(
            "no coefficient format meets {budget_ulp} ULP of {output} within 64-bit \
             stages; the coefficients are too large for input {input} (raise \
             --max-error-ulp or use fewer integer bits)"
        ),
    })
}

/// Quantizes every layer for one (F2, Ft) and bounds its error; `None` if any layer misses
/// the budget or a stage would not fit.
pub(crate) fn quantize_all(
    p: &Problem,
    select: &SegmentSelect,
    c2_frac: u32,
    t_frac: u32,
) -> Option<Candidate> {
    let Problem {
        polys,
        regions,
        segments,
        input,
        output,
        pre_budget,
        approx,
    } = *p;
    let fi = input.frac();
    let shift1 = (c2_frac + fi).checked_sub(t_frac)?;
    let shift2 = (t_frac + fi).checked_sub(output.frac())?;
    if shift1 >= MAX_STAGE_WIDTH || shift2 >= MAX_STAGE_WIDTH {
        return None;
    }
    let k1_frac = c2_frac + fi;
    let k0_frac = t_frac + fi;
    let ulp_t = exp2i(-(t_frac as i64));
    let xs = |raw: i64| raw as f64 * input.ulp();
    // The steps with their shifts; widths follow from the walk below.
    let shape = poly_pipeline(select, shift1, shift2, &[None; SIGNALS]);
    let mut spans = [Span::empty(); SIGNALS];
    let mut out_layers = Vec::with_capacity(polys.len());
    for ((segs_of_ch, regs), spent) in polys.iter().zip(regions).zip(approx) {
        let mut worst = 0.0f64;
        let mut coefs = vec![vec![SegmentCoefs::ZERO; segments]; segs_of_ch.len()];
        for (ch, segs) in segs_of_ch.iter().enumerate() {
            for r in regs {
                let [c0, c1, c2] = segs[r.seg];
                let q2 = quantize_coef(c2, c2_frac)?;
                let q1 = quantize_coef(c1, k1_frac)?;
                let q0 = quantize_coef(c0, k0_frac)?;
                let k1 = q1.checked_add(bias(shift1))?;
                let k0 = q0.checked_add(bias(shift2))?;
                let c = SegmentCoefs { c2: q2, k1, k0 };
                coefs[ch][r.seg] = c;
                let (vlo, vhi) = (xs(r.lo - r.origin), xs(r.hi - r.origin));
                let e2 = q2 as f64 * exp2i(-(c2_frac as i64)) - c2;
                let e0 = q0 as f64 * exp2i(-(k0_frac as i64)) - c0;
                let (e1, r_max) = if q2 == 0 {
                    // t is a constant: its error is known exactly.
                    let t = floor_shift(k1, shift1);
                    (t as f64 * ulp_t - c1, 0.0)
                } else {
                    let e1 = q1 as f64 * exp2i(-(k1_frac as i64)) - c1;
                    (e1, if shift1 > 0 { ulp_t / 2.0 } else { 0.0 })
                };
                let vmax = vlo.abs().max(vhi.abs());
                let err = max_abs_quadratic(e0, e1, e2, vlo, vhi) + vmax * r_max;
                worst = worst.max(err);
                let rc = RegionConsts {
                    lo: r.lo,
                    hi: r.hi,
                    origin: r.origin,
                    coefs: c,
                };
                interval_walk(&shape, &rc, output, &mut spans)?;
            }
        }
        // f64 evaluation of the bound is itself rounded; a relative 1e-9 margin covers it.
        let pre = (worst + spent) * (1.0 + 1e-9) / output.ulp();
        if pre * output.ulp() > pre_budget {
            return None;
        }
        let rounds = shift2 > 0;
        out_layers.push((
            coefs,
            ErrorBound {
                pre_round_ulp: pre,
                total_ulp: pre + if rounds { 0.5 } else { 0.0 },
            },
        ));
    }
    let widths = widths_of_spans(&shape, &spans, input, output);
    if widths.iter().flatten().any(|&w| w > MAX_STAGE_WIDTH) {
        return None;
    }
    let pipeline = poly_pipeline(select, shift1, shift2, &widths);
    Some(Candidate {
        c2_frac,
        t_frac,
        layers: out_layers,
        widths: stage_widths(&pipeline, input, output),
        pipeline,
    })
}

impl DatapathSpec {
    /// Assembles a spec from parts the table and ROM builders computed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        input: ApFixed,
        output: ApFixed,
        select: SegmentSelect,
        coef_fracs: Option<CoefFracs>,
        segments: usize,
        pipeline: Vec<PipelineStage>,
        max_error_ulp: f64,
        layers: Vec<LayerSpec>,
    ) -> Self {
        DatapathSpec {
            input,
            output,
            select,
            coef_fracs,
            segments,
            widths: stage_widths(&pipeline, input, output),
            exec: compile(&pipeline, (output.min_raw(), output.max_raw())),
            pipeline,
            max_error_ulp,
            layers,
        }
    }

    /// The pipeline compiled for the golden model.
    pub(crate) fn exec(&self) -> &[Exec] {
        &self.exec
    }

    /// The layers, for the builders' final touches (the measured bound).
    pub(crate) fn layers_mut(&mut self) -> &mut [LayerSpec] {
        &mut self.layers
    }

    /// Input sample format.
    pub fn input(&self) -> ApFixed {
        self.input
    }
    /// Output sample format.
    pub fn output(&self) -> ApFixed {
        self.output
    }
    /// How a sample finds its segment (comparators, table-indexed, or the ROM datapath).
    pub fn select(&self) -> &SegmentSelect {
        &self.select
    }
    /// The pipeline stages, in order: the one description of the computation.
    pub fn pipeline(&self) -> &[PipelineStage] {
        &self.pipeline
    }
    /// Every step, in execution order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.pipeline.iter().flat_map(|s| &s.steps)
    }
    /// Width of `signal`, `None` if the datapath has no such signal.
    pub fn width(&self, signal: Signal) -> Option<u32> {
        signal_widths(&self.pipeline, self.input.width())[signal.slot()]
    }
    /// The coefficient formats of a polynomial datapath (`None`: ROM).
    pub fn coef_fracs(&self) -> Option<CoefFracs> {
        self.coef_fracs
    }
    /// Fractional bits F2 of `c2` (0 for a ROM datapath).
    pub fn c2_frac(&self) -> u32 {
        self.coef_fracs.map_or(0, |c| c.c2_frac)
    }
    /// Fractional bits Ft of `t` (and of `c1`; 0 for a ROM datapath).
    pub fn t_frac(&self) -> u32 {
        self.coef_fracs.map_or(0, |c| c.t_frac)
    }
    /// Fractional bits of `k1` (F2 + Fi).
    pub fn k1_frac(&self) -> u32 {
        self.c2_frac() + self.input.frac()
    }
    /// Fractional bits of `k0` and `y` (Ft + Fi).
    pub fn k0_frac(&self) -> u32 {
        self.t_frac() + self.input.frac()
    }
    /// The shift step writing `dst`.
    fn shift_to(&self, dst: Signal) -> Option<(u32, Rounding)> {
        self.steps().find_map(|s| match *s {
            Step::ShiftRound {
                dst: d,
                shift,
                rounding,
                ..
            } if d == dst => Some((shift, rounding)),
            _ => None,
        })
    }
    /// Right shift of step 5 (`t = s1 >> shift1`; 0 for a ROM datapath).
    pub fn shift1(&self) -> u32 {
        self.shift_to(Signal::T).map_or(0, |s| s.0)
    }
    /// Right shift of step 8 (`q = y >> shift2`; 0 for a ROM datapath).
    pub fn shift2(&self) -> u32 {
        self.shift_to(Signal::Q).map_or(0, |s| s.0)
    }
    /// Rounding of step 5.
    pub fn rounding1(&self) -> Rounding {
        self.shift_to(Signal::T).map_or(Rounding::Exact, |s| s.1)
    }
    /// Rounding of step 8 (a ROM holds outputs rounded `AP_RND`).
    pub fn rounding2(&self) -> Rounding {
        self.shift_to(Signal::Q).map_or(Rounding::HalfUp, |s| s.1)
    }
    /// Overflow policy of the output (every earlier stage cannot overflow).
    pub fn output_overflow(&self) -> Overflow {
        Overflow::Saturate
    }
    /// Segments per layer (the most any layer needs; padded layers never reach the extra
    /// ones). A table layer counts its outer and table segments; a ROM layer has 1.
    pub fn segments(&self) -> usize {
        self.segments
    }
    /// Widths of every stage.
    pub fn widths(&self) -> &StageWidths {
        &self.widths
    }
    /// The error budget the spec was built for, in output ULPs.
    pub fn max_error_ulp(&self) -> f64 {
        self.max_error_ulp
    }
    /// The layers, in order.
    pub fn layers(&self) -> &[LayerSpec] {
        &self.layers
    }
    /// Most channels of any layer.
    pub fn max_channels(&self) -> usize {
        self.layers.iter().map(|l| l.channels()).max().unwrap_or(1)
    }
    /// Every multiply of the pipeline with its operand widths and DSP48E1 slices.
    pub fn multipliers(&self) -> Vec<Multiplier> {
        multipliers(&self.pipeline, self.input.width())
    }
    /// DSP48E1 slices of one lane: every multiply tiled into 25 x 18 signed slices
    /// ([`super::dsp`]), the count Vivado infers for the lane's `*`s.
    pub fn lane_dsp48e1(&self) -> u32 {
        lane_dsp48e1(&self.pipeline, self.input.width())
    }
    /// Clock cycles from an accepted input sample to its registered output: the number of
    /// pipeline stages.
    pub fn latency(&self) -> usize {
        self.pipeline.len()
    }
    /// The f64 reference: the layer's function at the quantized input, saturated to the
    /// output range.
    pub fn reference(&self, layer: usize, channel: usize, x_raw: i64) -> f64 {
        let x = self.input.to_f64(x_raw);
        self.output
            .saturate_f64(self.layers[layer].function(channel, x))
    }
}
