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

use super::format::{signed_width, ApFixed};
use crate::model::FoldedLayer;
use crate::{Error, Result};
use fixed::types::I64F0;
use serde::Serialize;

/// How a step discards low bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Rounding {
    /// Round to nearest, ties to even (float to fixed: input samples and coefficients).
    HalfEven,
    /// Round to nearest, ties toward +inf (Vitis `AP_RND`): bias folded into a constant, then floor.
    HalfUp,
    /// No bits are discarded.
    Exact,
}

/// What a step does with values outside its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Overflow {
    /// Clamp to the nearest representable value (Vitis `AP_SAT`).
    Saturate,
    /// Cannot happen: the width holds the stage's whole range.
    Impossible,
}

/// Pipeline registers from an accepted input sample to the registered output, in order.
/// The HDL builds exactly these; the co-simulation and the reports use the count. Stages 1-5
/// are the lane's own registers; the round shift and saturation of stage 6 are logic after
/// `y`, and the register they feed is the AXI4-Stream output (skid) register, so
/// `m_axis_tdata` is [`DatapathSpec::latency`] = 6 register stages after the accepted sample.
pub const PIPELINE_STAGES: [&str; 6] = [
    "segment select, coefficient registers, x",
    "p1 = c2*x (DSP MREG)",
    "s1 = p1 + k1 (DSP PREG)",
    "p2 = t*x (DSP MREG)",
    "y = p2 + k0 (DSP PREG)",
    "round shift and saturate into the output (skid) register",
];

/// Default error budget: half an output ULP for the final rounding plus 1/16 ULP for the
/// coefficients and the intermediate rounding.
pub const DEFAULT_MAX_ERROR_ULP: f64 = 0.5 + 1.0 / 16.0;
/// Default limit on the multiplier operands `c2` and `t`: the DSP48E1 A port.
pub const DEFAULT_MAX_COEF_WIDTH: u32 = 25;
/// Largest accepted `--max-coef-width`.
pub const MAX_COEF_WIDTH_LIMIT: u32 = 32;
/// No stage may be wider than this (the golden model holds stages in 64-bit words).
const MAX_STAGE_WIDTH: u32 = 62;

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

/// Width in bits of every stage of the datapath.
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
    /// `c2 · x`.
    pub p1: u32,
    /// `p1 + k1`.
    pub s1: u32,
    /// Inner Horner term after the first rounding.
    pub t: u32,
    /// `t · x`.
    pub p2: u32,
    /// `p2 + k0`.
    pub y: u32,
    /// `y >> shift2`, before saturation.
    pub q: u32,
    /// Output sample.
    pub out: u32,
}

/// The proven worst-case error of one layer, in output ULPs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorBound {
    /// Coefficient quantization plus the intermediate rounding, before the output rounding.
    pub pre_round_ulp: f64,
    /// `pre_round_ulp` plus the output rounding (0.5 when it discards bits).
    pub total_ulp: f64,
}

/// One layer's part of the spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerSpec {
    /// The folded f64 function this layer approximates.
    pub folded: FoldedLayer,
    /// `segments - 1` nondecreasing thresholds in input raw units, clamped to
    /// `[min_raw, max_raw + 1]`; `x >= threshold[i]` is exactly `x >= breakpoint[i]`.
    pub thresholds: Vec<i64>,
    /// `coefs[channel][segment]`; unreachable segments hold zeros.
    pub coefs: Vec<Vec<SegmentCoefs>>,
    /// Whether any input sample selects each segment.
    pub reachable: Vec<bool>,
    /// The proven bound against the saturated f64 function at the quantized input.
    pub bound: ErrorBound,
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

/// The complete, validated, immutable description of one activation core.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatapathSpec {
    input: ApFixed,
    output: ApFixed,
    c2_frac: u32,
    t_frac: u32,
    shift1: u32,
    shift2: u32,
    segments: usize,
    widths: StageWidths,
    max_error_ulp: f64,
    layers: Vec<LayerSpec>,
}

/// A reachable segment: input raw range and the f64 coefficients of every channel.
struct Region {
    seg: usize,
    lo: i64,
    hi: i64,
}

/// What every candidate format is measured against.
#[derive(Clone, Copy)]
struct Problem<'a> {
    layers: &'a [FoldedLayer],
    regions: &'a [Vec<Region>],
    segments: usize,
    input: ApFixed,
    output: ApFixed,
    pre_budget: f64,
}

/// Quantization of all layers for one choice of fractional bits.
struct Candidate {
    c2_frac: u32,
    t_frac: u32,
    layers: Vec<(Vec<Vec<SegmentCoefs>>, ErrorBound)>,
    widths: StageWidths,
}

fn exp2i(e: i64) -> f64 {
    (e as f64).exp2()
}

/// `round(v · 2^frac)` with ties to even, or `None` when it does not fit comfortably in i64.
fn quantize_coef(v: f64, frac: u32) -> Option<i64> {
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
#[derive(Clone, Copy)]
struct Span(i64, i64);

impl Span {
    fn empty() -> Self {
        Span(i64::MAX, i64::MIN)
    }
    fn add(&mut self, v: i64) {
        self.0 = self.0.min(v);
        self.1 = self.1.max(v);
    }
    fn width(self) -> u32 {
        if self.0 > self.1 {
            1
        } else {
            signed_width(self.0, self.1)
        }
    }
}

impl DatapathSpec {
    /// Builds the spec for `layers` sharing one core (one layer for a baked core, several for a
    /// core whose coefficients are loaded at run time). Picks the narrowest coefficient formats
    /// that meet the error budget for every layer, or says which limit prevents it.
    pub fn build(layers: &[FoldedLayer], opts: &SpecOptions) -> Result<Self> {
        let (input, output) = (opts.input, opts.output);
        let all_names = || {
            layers
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if layers.is_empty() {
            return Err(Error::Usage("no layers to build a datapath for".into()));
        }
        let budget_ulp = opts.max_error_ulp;
        if !budget_ulp.is_finite() || budget_ulp <= 0.5 {
            return Err(Error::Spec {
                layer: all_names(),
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
        let segments = layers
            .iter()
            .map(|l| l.breakpoints.len() + 1)
            .max()
            .unwrap_or(1);
        let (min_raw, max_raw) = (input.min_raw(), input.max_raw());

        // Thresholds and the reachable input range of each segment, per layer.
        let mut thresholds = Vec::new();
        let mut regions = Vec::new();
        for l in layers {
            let mut th: Vec<i64> = l
                .breakpoints
                .iter()
                .map(|&b| {
                    let scaled = (b * exp2i(input.frac() as i64)).ceil();
                    scaled.clamp(min_raw as f64, (max_raw + 1) as f64) as i64
                })
                .collect();
            th.resize(segments - 1, max_raw + 1);
            let mut reg = Vec::new();
            for s in 0..segments {
                let lo = if s == 0 { min_raw } else { th[s - 1] };
                let hi = if s == segments - 1 {
                    max_raw
                } else {
                    th[s] - 1
                };
                if lo <= hi {
                    reg.push(Region { seg: s, lo, hi });
                }
            }
            thresholds.push(th);
            regions.push(reg);
        }

        // The output rounding may cost half an ULP; the rest of the budget is for the rest.
        let pre_budget = (budget_ulp - 0.5) * output.ulp();
        let problem = Problem {
            layers,
            regions: &regions,
            segments,
            input,
            output,
            pre_budget,
        };
        let mut best: Option<Candidate> = None;
        let mut narrowest_over_limit: Option<(u32, u32)> = None;
        let t_frac_min = output.frac().saturating_sub(input.frac());
        for t_frac in t_frac_min..=t_frac_min + 48 {
            for c2_frac in t_frac.saturating_sub(input.frac())..=48 {
                let Some(cand) = Self::quantize_all(&problem, c2_frac, t_frac) else {
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
                let better = match &best {
                    None => true,
                    Some(b) => {
                        (wc2 + wt, cand.widths.k1 + cand.widths.k0)
                            < (b.widths.c2 + b.widths.t, b.widths.k1 + b.widths.k0)
                    }
                };
                if better {
                    best = Some(cand);
                }
            }
        }
        let Some(best) = best else {
            let reason = match narrowest_over_limit {
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
            };
            return Err(Error::Spec {
                layer: all_names(),
                reason,
            });
        };

        let shift1 = best.c2_frac + input.frac() - best.t_frac;
        let shift2 = best.t_frac + input.frac() - output.frac();
        let mut layer_specs = Vec::new();
        for (((l, th), regs), (coefs, bound)) in
            layers.iter().zip(thresholds).zip(&regions).zip(best.layers)
        {
            let mut reachable = vec![false; segments];
            for r in regs {
                reachable[r.seg] = true;
            }
            layer_specs.push(LayerSpec {
                folded: l.clone(),
                thresholds: th,
                coefs,
                reachable,
                bound,
            });
        }
        Ok(DatapathSpec {
            input,
            output,
            c2_frac: best.c2_frac,
            t_frac: best.t_frac,
            shift1,
            shift2,
            segments,
            widths: best.widths,
            max_error_ulp: budget_ulp,
            layers: layer_specs,
        })
    }

    /// Quantizes every layer for one (F2, Ft) and proves its bound; `None` if any layer misses
    /// the budget or a stage would not fit.
    fn quantize_all(p: &Problem, c2_frac: u32, t_frac: u32) -> Option<Candidate> {
        let Problem {
            layers,
            regions,
            segments,
            input,
            output,
            pre_budget,
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
        let (mut c2s, mut k1s, mut k0s) = (Span::empty(), Span::empty(), Span::empty());
        let (mut p1s, mut s1s, mut ts, mut p2s, mut ys, mut qs) = (
            Span::empty(),
            Span::empty(),
            Span::empty(),
            Span::empty(),
            Span::empty(),
            Span::empty(),
        );
        let mut out_layers = Vec::with_capacity(layers.len());
        for (l, regs) in layers.iter().zip(regions) {
            let mut worst = 0.0f64;
            let mut coefs = vec![
                vec![
                    SegmentCoefs {
                        c2: 0,
                        k1: 0,
                        k0: 0
                    };
                    segments
                ];
                l.channels()
            ];
            for (ch, segs) in l.segments.iter().enumerate() {
                for r in regs {
                    let [c0, c1, c2] = segs[r.seg];
                    let q2 = quantize_coef(c2, c2_frac)?;
                    let q1 = quantize_coef(c1, k1_frac)?;
                    let q0 = quantize_coef(c0, k0_frac)?;
                    let k1 = q1.checked_add(bias(shift1))?;
                    let k0 = q0.checked_add(bias(shift2))?;
                    coefs[ch][r.seg] = SegmentCoefs { c2: q2, k1, k0 };
                    let (xlo, xhi) = (xs(r.lo), xs(r.hi));
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
                    let xmax = xlo.abs().max(xhi.abs());
                    let err = max_abs_quadratic(e0, e1, e2, xlo, xhi) + xmax * r_max;
                    worst = worst.max(err);

                    // Exact stage ranges (t is monotone in x, so its ends are at the ends).
                    c2s.add(q2);
                    k1s.add(k1);
                    k0s.add(k0);
                    let mut seg_t = Span::empty();
                    for x in [r.lo, r.hi] {
                        let p1 = q2.checked_mul(x)?;
                        let s1 = p1.checked_add(k1)?;
                        p1s.add(p1);
                        s1s.add(s1);
                        seg_t.add(floor_shift(s1, shift1));
                    }
                    ts.add(seg_t.0);
                    ts.add(seg_t.1);
                    for t in [seg_t.0, seg_t.1] {
                        for x in [r.lo, r.hi] {
                            let p2 = t.checked_mul(x)?;
                            let y = p2.checked_add(k0)?;
                            p2s.add(p2);
                            ys.add(y);
                            qs.add(floor_shift(y, shift2));
                        }
                    }
                }
            }
            // f64 evaluation of the bound is itself rounded; a relative 1e-9 margin covers it.
            let pre = worst * (1.0 + 1e-9) / output.ulp();
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
        let widths = StageWidths {
            x: input.width(),
            threshold: input.width() + 1,
            c2: c2s.width(),
            k1: k1s.width(),
            k0: k0s.width(),
            p1: p1s.width(),
            s1: s1s.width(),
            t: ts.width(),
            p2: p2s.width(),
            y: ys.width(),
            q: qs.width(),
            out: output.width(),
        };
        if [
            widths.p1, widths.s1, widths.p2, widths.y, widths.k1, widths.k0,
        ]
        .iter()
        .any(|&w| w > MAX_STAGE_WIDTH)
        {
            return None;
        }
        Some(Candidate {
            c2_frac,
            t_frac,
            layers: out_layers,
            widths,
        })
    }

    /// Input sample format.
    pub fn input(&self) -> ApFixed {
        self.input
    }
    /// Output sample format.
    pub fn output(&self) -> ApFixed {
        self.output
    }
    /// Fractional bits F2 of `c2`.
    pub fn c2_frac(&self) -> u32 {
        self.c2_frac
    }
    /// Fractional bits Ft of `t` (and of `c1`).
    pub fn t_frac(&self) -> u32 {
        self.t_frac
    }
    /// Fractional bits of `k1` (F2 + Fi).
    pub fn k1_frac(&self) -> u32 {
        self.c2_frac + self.input.frac()
    }
    /// Fractional bits of `k0` and `y` (Ft + Fi).
    pub fn k0_frac(&self) -> u32 {
        self.t_frac + self.input.frac()
    }
    /// Right shift of step 5.
    pub fn shift1(&self) -> u32 {
        self.shift1
    }
    /// Right shift of step 8.
    pub fn shift2(&self) -> u32 {
        self.shift2
    }
    /// Rounding of step 5.
    pub fn rounding1(&self) -> Rounding {
        if self.shift1 > 0 {
            Rounding::HalfUp
        } else {
            Rounding::Exact
        }
    }
    /// Rounding of step 8.
    pub fn rounding2(&self) -> Rounding {
        if self.shift2 > 0 {
            Rounding::HalfUp
        } else {
            Rounding::Exact
        }
    }
    /// Overflow policy of the output (every earlier stage cannot overflow).
    pub fn output_overflow(&self) -> Overflow {
        Overflow::Saturate
    }
    /// Segments per layer (the most any layer needs; padded layers never reach the extra ones).
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
    /// Clock cycles from an accepted input sample to its registered output.
    pub fn latency(&self) -> usize {
        PIPELINE_STAGES.len()
    }
    /// The f64 reference: the folded function at the quantized input, saturated to the output
    /// range.
    pub fn reference(&self, layer: usize, channel: usize, x_raw: i64) -> f64 {
        let x = self.input.to_f64(x_raw);
        self.output
            .saturate_f64(self.layers[layer].folded.eval(channel, x))
    }
}
