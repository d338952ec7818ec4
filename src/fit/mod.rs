//! The fitter: turns a smooth activation (any f64 function) into a plan for the
//! table-indexed datapath — outer comparator regions where the function is a polynomial of
//! degree ≤ 1, and 2^k uniform segments over the core interval between them, each with a
//! polynomial of degree 1 or 2 in the local offset — or for the ROM datapath (a table of
//! every correctly rounded output), whichever is cheaper.
//!
//! Everything is measured on the actual input codes (the domain is discrete): the function is
//! evaluated once at every code, the outer regions grow code by code, each segment's
//! polynomial is the discrete minimax polynomial of its codes ([`minimax`]). The plan meets
//! the fit budget — a share of the pre-rounding budget `(max_error_ulp − 0.5)·ULP`, the rest
//! left for coefficient quantization and the intermediate rounding — and the datapath spec
//! then quantizes it and measures the total error exhaustively.
//!
//! Cost is compared as (BRAM, DSP48E1, LUT): DSPs first, then LUTs, among plans whose
//! coefficient ROM fits in [`FitOptions::max_rom_luts`] LUTs of distributed ROM (LUT6 =
//! 64×1 bits). The search is deterministic: same function and options, same plan.

pub mod build;
pub mod minimax;
pub mod outer;

use crate::fixedpoint::table::{across_cores, CodeValues};
use crate::fixedpoint::ApFixed;
use outer::{End, OuterRegion};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Inputs with at least this many codes are fitted on every core.
const PARALLEL_CODES: usize = 1 << 16;

/// A table's fitted polynomials and their largest error, or `None` where the fit missed the
/// budget it was tried with.
type TableFit = Option<(Vec<[f64; 3]>, f64)>;

/// Fitted tables by (degree, index bits, first code, offset bits), with the budget each was
/// tried with.
type FitCache = HashMap<(usize, u32, i64, u32), (f64, TableFit)>;

/// See [`Samples::extents`].
type ExtentCache = HashMap<(bool, [u64; 2]), (f64, usize, f64)>;

/// The f64 function at every input code, and how errors are measured against it.
pub struct Samples {
    input: ApFixed,
    /// `f(x)` at code `min_raw + i`.
    values: CodeValues,
    in_ulp: f64,
    out_lo: f64,
    out_hi: f64,
    /// Tables already fitted, by (degree, index bits, first code, offset bits), with the
    /// budget each was tried with: the fit shares the fitter tries often lead to the same
    /// geometry, and fitting one is a pass over the core interval.
    fits: Mutex<FitCache>,
    /// Outer-region candidates' extents, by (from the high end, polynomial bits): the budget
    /// tried, the extent and the largest error inside it ([`outer`] resumes from them).
    extents: Mutex<ExtentCache>,
}

impl Samples {
    /// Evaluates `f` at every code of `input` (on every core).
    pub fn new(f: &(dyn Fn(f64) -> f64 + Sync), input: ApFixed, output: ApFixed) -> Self {
        let (out_lo, out_hi) = output.range();
        Samples {
            input,
            values: CodeValues::new(f, input),
            in_ulp: input.ulp(),
            out_lo,
            out_hi,
            fits: Mutex::new(HashMap::new()),
            extents: Mutex::new(HashMap::new()),
        }
    }
    /// The function's values at every code (what the table builder measures against).
    pub fn values(&self) -> &CodeValues {
        &self.values
    }
    fn ys(&self) -> &[f64] {
        self.values.values()
    }
    fn raw(&self, i: usize) -> i64 {
        self.input.min_raw() + i as i64
    }
    fn index(&self, raw: i64) -> usize {
        (raw - self.input.min_raw()) as usize
    }
    fn x(&self, i: usize) -> f64 {
        self.raw(i) as f64 * self.in_ulp
    }
    /// `|sat(approx) − sat(f)|` at code index `i`: the output saturates, so an approximation
    /// beyond the output range is only wrong by what survives saturation.
    fn error(&self, i: usize, approx: f64) -> f64 {
        let sat = |v: f64| v.clamp(self.out_lo, self.out_hi);
        (sat(approx) - sat(self.ys()[i])).abs()
    }
}

/// Knobs of the fitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Input format.
    pub input: ApFixed,
    /// Output format.
    pub output: ApFixed,
    /// Total budget in output ULPs (the spec's `max_error_ulp`, > 0.5).
    pub max_error_ulp: f64,
    /// Share of the pre-rounding budget the fit may use (the rest is for quantization).
    pub fit_share: f64,
    /// Largest ROM counted as distributed (LUT) ROM; a larger one is costed as BRAM, which
    /// ranks it after every plan without BRAM.
    pub max_rom_luts: u32,
    /// Most index bits k tried (2^k segments).
    pub max_index_bits: u32,
}

impl FitOptions {
    /// Defaults: half of the pre-rounding budget for the fit, at most 128 LUTs of ROM, at
    /// most 2^10 segments.
    pub fn new(input: ApFixed, output: ApFixed, max_error_ulp: f64) -> Self {
        FitOptions {
            input,
            output,
            max_error_ulp,
            fit_share: 0.5,
            max_rom_luts: 128,
            max_index_bits: 10,
        }
    }
    /// The fit budget, absolute (in output units).
    pub fn fit_budget(&self) -> f64 {
        (self.max_error_ulp - 0.5) * self.fit_share * self.output.ulp()
    }
    fn quant_budget(&self, fit_error: f64) -> f64 {
        (self.max_error_ulp - 0.5) * self.output.ulp() - fit_error
    }
}

/// Estimated resources of a plan (before synthesis; Yosys measures the real core).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct CostEstimate {
    /// RAMB18 blocks.
    pub bram: u32,
    /// DSP48E1 slices.
    pub dsp: u32,
    /// LUT6s: ROM bits / 64 per output bit column, plus comparators and the output mux.
    pub luts: u32,
}

/// A plan for the table-indexed datapath: what `DatapathSpec::build_table` is asked for.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TablePlan {
    /// First input code of segment 0 (a multiple of 2^offset_bits).
    pub lo_raw: i64,
    /// k: 2^k segments.
    pub index_bits: u32,
    /// Codes per segment = 2^offset_bits.
    pub offset_bits: u32,
    /// Polynomial degree (1 or 2).
    pub degree: usize,
    /// Per segment `[a0, a1, a2]` of `a0 + a1·u + a2·u²`, `u` the offset in codes.
    pub polys: Vec<[f64; 3]>,
    /// Comparator segment for the lowest codes: it serves the codes below the table
    /// (`< lo_raw`); its span may reach into the table, which takes precedence there, as in
    /// the datapath spec.
    pub below: Option<OuterSpan>,
    /// Comparator segment for the highest codes (from the table's end), likewise.
    pub above: Option<OuterSpan>,
    /// Where the function jumps at an outer region's edge, the comparator segments between
    /// the table and the jump (the table stays on its side of it): at most one below the
    /// table and one above, in order.
    pub bridges: Vec<Bridge>,
    /// Largest fit error over all codes, in output ULPs (before quantization).
    pub fit_error_ulp: f64,
    /// Estimated coefficient widths `[a0, a1, a2]` (0 for unused).
    pub coef_widths: [u32; 3],
    /// Estimated cost.
    pub estimate: CostEstimate,
}

/// An outer comparator segment of a plan: `c0 + c1·x` for every code it covers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct OuterSpan {
    /// `[c0, c1]`, x real.
    pub poly: [f64; 2],
    /// First code it serves.
    pub lo_raw: i64,
    /// Last code.
    pub hi_raw: i64,
}

/// A comparator segment between the table and a jump of the function: `c0 + c1·x + c2·x²`
/// (x real) on its codes, which it serves before the outer regions.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bridge {
    /// `[c0, c1, c2]`, x real.
    pub poly: [f64; 3],
    /// First code it serves.
    pub lo_raw: i64,
    /// Last code.
    pub hi_raw: i64,
}

impl Bridge {
    /// The polynomial at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        self.poly[0] + x * (self.poly[1] + x * self.poly[2])
    }
}

impl TablePlan {
    /// The plan's f64 function at input code `raw` (before any quantization): the segment
    /// polynomial inside the table, the outer polynomial below and above it.
    pub fn eval(&self, input: ApFixed, raw: i64) -> f64 {
        self.eval_at(raw, input.to_f64(raw))
    }
    /// [`TablePlan::eval`] with the real value `x` of `raw` given.
    fn eval_at(&self, raw: i64, x: f64) -> f64 {
        let span = 1i64 << (self.index_bits + self.offset_bits);
        let line = |o: &OuterSpan| o.poly[0] + o.poly[1] * x;
        let bridge = self
            .bridges
            .iter()
            .find(|b| (b.lo_raw..=b.hi_raw).contains(&raw));
        if let Some(b) = bridge {
            return b.eval(x);
        }
        match (&self.below, &self.above) {
            (Some(b), _) if raw < self.lo_raw && raw <= b.hi_raw => line(b),
            (_, Some(a)) if raw >= self.lo_raw + span && raw >= a.lo_raw => line(a),
            _ if raw < self.lo_raw || raw >= self.lo_raw + span => f64::NAN,
            _ => {
                let seg = ((raw - self.lo_raw) >> self.offset_bits) as usize;
                let u = ((raw - self.lo_raw) & ((1 << self.offset_bits) - 1)) as f64;
                minimax::eval(self.polys[seg], u)
            }
        }
    }
}

impl From<OuterRegion> for OuterSpan {
    fn from(r: OuterRegion) -> Self {
        OuterSpan {
            poly: r.poly,
            lo_raw: r.lo_raw,
            hi_raw: r.hi_raw,
        }
    }
}

/// What the fitter chose.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Plan {
    /// Uniform segments with polynomials, outer comparator segments.
    Table(TablePlan),
    /// A table of every correctly rounded output.
    Rom {
        /// Its estimated cost.
        estimate: CostEstimate,
    },
}

/// Which datapath to build (`--datapath`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DatapathChoice {
    /// The cheaper by estimate.
    #[default]
    Auto,
    /// The table-indexed polynomial datapath.
    Poly,
    /// The ROM of all outputs.
    Rom,
}

/// Why no plan meets the budget, with what would be needed.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// In words, for an `Error::Spec`.
    pub reason: String,
}

/// One output-ULP-bit of a LUT6 ROM holds 64 entries.
fn rom_luts(entries: u64, bits: u32) -> u32 {
    (entries.div_ceil(64) * bits as u64).min(u32::MAX as u64) as u32
}

/// RAMB18s a ROM would need if it were not distributed (18 Kib each).
fn bram_for(luts: u32, max_rom_luts: u32) -> u32 {
    if luts <= max_rom_luts {
        0
    } else {
        (luts as u64 * 64).div_ceil(18 * 1024) as u32
    }
}

/// The ROM datapath's estimate: 2^W entries of the output width.
pub fn rom_estimate(opts: &FitOptions) -> CostEstimate {
    let luts = rom_luts(1u64 << opts.input.width(), opts.output.width());
    CostEstimate {
        bram: bram_for(luts, opts.max_rom_luts),
        dsp: 0,
        luts,
    }
}

/// Signed width of a value up to `max_abs` with `frac` fractional bits.
fn coef_width(max_abs: f64, frac: i32) -> u32 {
    let int = if max_abs <= 0.0 {
        0
    } else {
        max_abs.log2().floor() as i32 + 1
    };
    (int + frac + 1).max(1) as u32
}

/// Estimated coefficient widths and cost of a table of `polys`.
fn table_estimate(
    polys: &[[f64; 3]],
    degree: usize,
    index_bits: u32,
    offset_bits: u32,
    slack: f64,
    opts: &FitOptions,
) -> ([u32; 3], CostEstimate) {
    // Each coefficient's rounding (half a step times the largest offset power) and the
    // intermediate rounding share the quantization slack equally.
    let share = slack / (degree as f64 + 2.0);
    let umax = ((1u64 << offset_bits) - 1).max(1) as f64;
    let mut widths = [0u32; 3];
    for (j, w) in widths.iter_mut().enumerate().take(degree + 1) {
        let max_abs = polys.iter().map(|p| p[j].abs()).fold(0.0, f64::max);
        let frac = (umax.powi(j as i32) / (2.0 * share)).log2().ceil() as i32;
        *w = coef_width(max_abs, frac);
    }
    let rom_bits: u32 = widths.iter().sum();
    let rom = rom_luts(1u64 << index_bits, rom_bits);
    // A multiplier per degree unless the offset has no bits, tiled into DSP48E1 slices as
    // the spec counts them.
    let u_bits = offset_bits + 1;
    let dsp = if offset_bits == 0 {
        0
    } else {
        (1..=degree)
            .map(|j| {
                let w = widths[j].max(widths[j - 1].min(25));
                crate::fixedpoint::dsp::dsp48e1_slices(w, u_bits)
            })
            .sum()
    };
    // Two comparators on the input, the output mux among three sources.
    let glue = opts.input.width() + opts.output.width();
    (
        widths,
        CostEstimate {
            bram: bram_for(rom, opts.max_rom_luts),
            dsp,
            luts: rom + glue,
        },
    )
}

/// Where the table goes: the core interval `[lo, hi]` (codes) between the outer regions, and
/// the codes it may not serve because the function jumps there.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Core {
    lo: i64,
    hi: i64,
    /// A jump between `floor - 1` and `floor` (the below region's end): the table starts at
    /// or above `floor`; a bridge comparator segment covers `[floor, table start)`.
    floor: Option<i64>,
    /// A jump between `ceiling - 1` and `ceiling` (the above region's start): the table ends
    /// at or below `ceiling`; a bridge covers `[table end, ceiling)`.
    ceiling: Option<i64>,
}

/// Whether `f` jumps between code indices `i - 1` and `i`: the step there differs by more
/// than `budget` from what both sides extrapolate linearly from their two nearest steps. For a
/// function smooth at the codes' spacing h the extrapolation is off by about f'''·h³, far
/// below any budget, so only a discontinuity (like Softplus' at beta·x = threshold) counts —
/// and no polynomial segment can straddle one. (One code next to a jump, one side's
/// extrapolation crosses it but the other's does not.)
fn jumps_at(s: &Samples, i: usize, budget: f64) -> bool {
    let ys = s.ys();
    if i < 3 || i + 2 >= ys.len() {
        return false;
    }
    let step = |j: usize| ys[j] - ys[j - 1];
    let from_left = 2.0 * step(i - 1) - step(i - 2);
    let from_right = 2.0 * step(i + 1) - step(i + 2);
    let d = step(i);
    !((d - from_left).abs() <= budget || (d - from_right).abs() <= budget)
}

/// The core interval between the outer regions, and the regions.
fn core_interval(s: &Samples, budget: f64) -> (Core, Option<OuterRegion>, Option<OuterRegion>) {
    let (min, max) = (s.input.min_raw(), s.input.max_raw());
    let below = outer::region(s, End::Low, budget);
    let above = outer::region(s, End::High, budget);
    let lo = below.map_or(min, |r| r.hi_raw + 1);
    let hi = above.map_or(max, |r| r.lo_raw - 1);
    if lo > hi {
        // The two polynomials cover everything between them: keep a one-code core so the
        // table still has a place (the outer regions overlap; both are within budget).
        let mid = lo.min(max);
        let core = Core {
            lo: mid,
            hi: mid,
            floor: None,
            ceiling: None,
        };
        return (core, below, above);
    }
    let floor = below
        .filter(|r| jumps_at(s, s.index(r.hi_raw + 1), budget))
        .map(|r| r.hi_raw + 1);
    let ceiling = above
        .filter(|r| jumps_at(s, s.index(r.lo_raw), budget))
        .map(|r| r.lo_raw);
    let core = Core {
        lo,
        hi,
        floor,
        ceiling,
    };
    (core, below, above)
}

/// Where a table of 2^`index_bits` segments goes in `core`: its first code and offset bits,
/// for the narrowest segments that cover the core from an aligned start inside the input
/// range (the spec's table may not leave it). Next to a jump the table stays on the core's
/// side of it, aligned as close as it goes; the bridge between the table's end and the jump
/// is shorter than one segment.
fn table_geometry(s: &Samples, core: Core, index_bits: u32) -> Option<(i64, u32)> {
    let (min, max) = (s.input.min_raw(), s.input.max_raw());
    let Core {
        lo,
        hi,
        floor,
        ceiling,
    } = core;
    for offset_bits in 0..=30u32 {
        if index_bits + offset_bits > s.input.width() {
            return None;
        }
        let (seg, span) = (1i64 << offset_bits, 1i64 << (index_bits + offset_bits));
        let down = |v: i64| v.div_euclid(seg) * seg;
        let up = |v: i64| down(v + seg - 1);
        // A jump on a segment boundary (a multiple of the segment width) is harmless: no
        // segment straddles it, so the table may cover it (one-code segments always do).
        let on_boundary = |j: Option<i64>| j.is_none_or(|j| j.rem_euclid(seg) == 0);
        let (floor, ceiling) = if on_boundary(floor) && on_boundary(ceiling) {
            (None, None)
        } else {
            (floor, ceiling)
        };
        // Wider segments only move the table further out, so leaving the range ends the search.
        match (floor, ceiling) {
            (None, None) => {
                let start = down(lo);
                if start + span > hi {
                    // max + 1 is a power of two, so this start stays aligned.
                    return Some((start.min(max + 1 - span), offset_bits));
                }
            }
            (None, Some(c)) => {
                let start = down(c) - span;
                if start < min {
                    return None;
                }
                if start <= lo {
                    return Some((start, offset_bits));
                }
            }
            (Some(f), None) => {
                let start = up(f);
                if start + span > max + 1 {
                    return None;
                }
                if start + span > hi {
                    return Some((start, offset_bits));
                }
            }
            (Some(f), Some(c)) => {
                let start = up(f);
                if start + span > c {
                    return None;
                }
                if start + span > c - seg {
                    return Some((start, offset_bits));
                }
            }
        }
    }
    None
}

/// A table fitted into a core: its geometry, polynomials, bridges and largest fit error.
#[derive(Debug, Clone)]
struct FittedTable {
    lo_raw: i64,
    offset_bits: u32,
    polys: Vec<[f64; 3]>,
    bridges: [Option<Bridge>; 2],
    worst: f64,
}

/// Fits the table for one (degree, k): `None` if the fit misses the budget.
fn try_table(
    s: &Samples,
    core: Core,
    degree: usize,
    index_bits: u32,
    budget: f64,
) -> Option<FittedTable> {
    let (lo_raw, offset_bits) = table_geometry(s, core, index_bits)?;
    let key = (degree, index_bits, lo_raw, offset_bits);
    let cached = s.fits.lock().expect("fit cache").get(&key).cloned();
    let fit = match cached {
        // A fit is exact whatever budget it was tried with; a miss holds for smaller budgets.
        Some((_, Some(fit))) => Some(fit),
        Some((tried, None)) if budget <= tried => None,
        _ => {
            let fit = fit_segments(s, lo_raw, index_bits, offset_bits, degree, budget);
            s.fits
                .lock()
                .expect("fit cache")
                .insert(key, (budget, fit.clone()));
            fit
        }
    };
    let (polys, mut worst) = fit?;
    let end = lo_raw + (1i64 << (index_bits + offset_bits));
    let below = core
        .floor
        .filter(|&f| f < lo_raw)
        .map(|f| bridge(s, f, lo_raw - 1, degree));
    let above = core
        .ceiling
        .filter(|&c| end < c)
        .map(|c| bridge(s, end, c - 1, degree));
    for b in [below, above].iter().flatten() {
        worst = worst.max(b.1);
    }
    (worst <= budget).then_some(FittedTable {
        lo_raw,
        offset_bits,
        polys,
        bridges: [below.map(|b| b.0), above.map(|b| b.0)],
        worst,
    })
}

/// The minimax polynomial of degree `degree` on the codes `lo_raw..=hi_raw`, as a bridge in
/// x, and its largest error there (after output saturation).
fn bridge(s: &Samples, lo_raw: i64, hi_raw: i64, degree: usize) -> (Bridge, f64) {
    let (a, b) = (s.index(lo_raw), s.index(hi_raw));
    let fit = minimax::minimax(&s.ys()[a..=b], degree);
    // a(u) with u = x·2^F − lo_raw, expanded in x.
    let [a0, a1, a2] = fit.coefs;
    let (sc, b0) = ((s.input.frac() as f64).exp2(), lo_raw as f64);
    let poly = [
        a0 - a1 * b0 + a2 * b0 * b0,
        (a1 - 2.0 * a2 * b0) * sc,
        a2 * sc * sc,
    ];
    let br = Bridge {
        lo_raw,
        hi_raw,
        poly,
    };
    let worst = (a..=b)
        .map(|i| s.error(i, br.eval(s.x(i))))
        .fold(0.0, f64::max);
    (br, worst)
}

/// The minimax polynomial of every segment of the table from `lo_raw` and its largest error
/// (after output saturation) over every code of its span, or `None` as soon as one segment
/// is over `budget`. Segments are independent, so they are fitted on every core.
fn fit_segments(
    s: &Samples,
    lo_raw: i64,
    index_bits: u32,
    offset_bits: u32,
    degree: usize,
    budget: f64,
) -> TableFit {
    let (min, max) = (s.input.min_raw(), s.input.max_raw());
    let missed = AtomicBool::new(false);
    let chunk = |seg_lo: usize, seg_hi: usize| -> TableFit {
        let mut polys = Vec::with_capacity(seg_hi - seg_lo);
        let mut worst = 0.0f64;
        for seg in seg_lo as i64..seg_hi as i64 {
            if missed.load(Ordering::Relaxed) {
                return None;
            }
            let first = lo_raw + (seg << offset_bits);
            let last = first + (1 << offset_bits) - 1;
            // Every code of the segment reaches the table (it takes precedence over the outer
            // segments); fit them all, in offset units from the segment's first code.
            let (a, b) = (first.max(min), last.min(max));
            if a > b {
                polys.push([0.0; 3]);
                continue;
            }
            let ys = &s.ys()[s.index(a)..=s.index(b)];
            let fit = minimax::minimax(ys, degree);
            // Re-express in offsets from `first` (a > first only in the lowest segment).
            let shift = (a - first) as f64;
            let [c0, c1, c2] = fit.coefs;
            let poly = [
                c0 - c1 * shift + c2 * shift * shift,
                c1 - 2.0 * c2 * shift,
                c2,
            ];
            for (i, raw) in (a..=b).enumerate() {
                let u = (raw - first) as f64;
                let e = s.error(s.index(a) + i, minimax::eval(poly, u));
                worst = worst.max(e);
            }
            if worst > budget {
                missed.store(true, Ordering::Relaxed);
                return None;
            }
            polys.push(poly);
        }
        Some((polys, worst))
    };
    let parts = across_cores(1usize << index_bits, s.ys().len() >= PARALLEL_CODES, chunk);
    let mut polys = Vec::with_capacity(1 << index_bits);
    let mut worst = 0.0f64;
    for part in parts {
        let (p, w) = part?;
        polys.extend(p);
        worst = worst.max(w);
    }
    Some((polys, worst))
}

/// The largest error of `plan` (after output saturation) on the codes outside its table —
/// the outer comparator segments' — where it is defined: inside the table the fit measured it.
fn outer_fit_error(s: &Samples, plan: &TablePlan) -> f64 {
    let span = 1i64 << (plan.index_bits + plan.offset_bits);
    let (lo, end) = (s.index(plan.lo_raw), s.index(plan.lo_raw + span));
    let n = s.ys().len();
    across_cores(n, n >= PARALLEL_CODES, |a, b| {
        (a..b.min(lo))
            .chain(a.max(end)..b)
            .map(|i| s.error(i, plan.eval_at(s.raw(i), s.x(i))))
            .fold(0.0, f64::max)
    })
    .into_iter()
    .fold(0.0, f64::max)
}

/// Plans the cheapest datapath for `f` that meets the fit budget.
pub fn plan(
    f: &(dyn Fn(f64) -> f64 + Sync),
    opts: &FitOptions,
    choice: DatapathChoice,
) -> Result<Plan, Refusal> {
    if choice == DatapathChoice::Rom {
        return Ok(Plan::Rom {
            estimate: rom_estimate(opts),
        });
    }
    let s = Samples::new(f, opts.input, opts.output);
    let table = plan_table(&s, opts);
    match (choice, table) {
        (DatapathChoice::Poly, t) => t.map(Plan::Table),
        (_, Ok(t)) => {
            let rom = rom_estimate(opts);
            if rom < t.estimate {
                Ok(Plan::Rom { estimate: rom })
            } else {
                Ok(Plan::Table(t))
            }
        }
        (_, Err(refusal)) => {
            let rom = rom_estimate(opts);
            if rom.bram == 0 {
                Ok(Plan::Rom { estimate: rom })
            } else {
                Err(refusal)
            }
        }
    }
}

/// Fit shares tried: a larger share needs fewer segments but wider coefficients. 7/8 is how
/// Mish at `ap_fixed<16,6>` fits 128 segments (at 3/4 it needs 256, and a 256-entry ROM
/// costs twice the LUT6s per bit column of a 128-entry one, more than the wider columns).
const FIT_SHARES: [f64; 4] = [0.5, 0.625, 0.75, 0.875];

/// The cheapest table plan for the sampled function, over the fit shares
/// ([`FitOptions::fit_share`] and the larger [`FIT_SHARES`]).
pub fn plan_table(s: &Samples, opts: &FitOptions) -> Result<TablePlan, Refusal> {
    let mut best: Option<TablePlan> = None;
    let mut first_refusal = None;
    for share in FIT_SHARES.into_iter().filter(|&f| f >= opts.fit_share) {
        match plan_table_at(
            s,
            &FitOptions {
                fit_share: share,
                ..*opts
            },
        ) {
            Ok(p) => {
                if best.as_ref().is_none_or(|b| p.estimate < b.estimate) {
                    best = Some(p);
                }
            }
            Err(r) => {
                first_refusal.get_or_insert(r);
            }
        }
    }
    best.ok_or_else(|| {
        first_refusal.unwrap_or(Refusal {
            reason: "no fit share to try".into(),
        })
    })
}

/// The cheapest table plan at exactly `opts.fit_share`.
pub fn plan_table_at(s: &Samples, opts: &FitOptions) -> Result<TablePlan, Refusal> {
    let budget = opts.fit_budget();
    let ulp = opts.output.ulp();
    let (core, below, above) = core_interval(s, budget);
    // More index bits than input bits would make segments of less than one code (8-bit
    // inputs: at most 2^8 one-code segments, a ROM in all but name).
    let max_k = opts.max_index_bits.min(s.input.width());
    let mut best: Option<TablePlan> = None;
    let mut closest: Option<(f64, usize, u32)> = None;
    for degree in [1usize, 2] {
        // The fit error falls as k grows: bisect for the smallest k that fits.
        let fits = |k: u32| try_table(s, core, degree, k, budget);
        let Some(mut found) = fits(max_k).map(|t| (max_k, t)) else {
            if best.is_none() {
                let err = closest_error(s, core, degree, max_k);
                if closest.is_none_or(|(e, _, _)| err < e) {
                    closest = Some((err, degree, max_k));
                }
            }
            continue;
        };
        let (mut lo_k, mut hi_k) = (0u32, max_k);
        while lo_k < hi_k {
            let mid = (lo_k + hi_k) / 2;
            match fits(mid) {
                Some(t) => {
                    found = (mid, t);
                    hi_k = mid;
                }
                None => lo_k = mid + 1,
            }
        }
        {
            let (k, t) = found;
            let err = t.worst;
            let (coef_widths, mut estimate) = table_estimate(
                &t.polys,
                degree,
                k,
                t.offset_bits,
                opts.quant_budget(err),
                opts,
            );
            let bridges: Vec<Bridge> = t.bridges.into_iter().flatten().collect();
            // A bridge is one more comparator on the input.
            estimate.luts += bridges.len() as u32 * opts.input.width();
            let mut plan = TablePlan {
                lo_raw: t.lo_raw,
                index_bits: k,
                offset_bits: t.offset_bits,
                degree,
                polys: t.polys,
                below: below.map(OuterSpan::from),
                above: above.map(OuterSpan::from),
                bridges,
                fit_error_ulp: 0.0,
                coef_widths,
                estimate,
            };
            // Measured over every code: the table's by the fit, the outer regions' here.
            plan.fit_error_ulp = err.max(outer_fit_error(s, &plan)) / ulp;
            if best.as_ref().is_none_or(|b| plan.estimate < b.estimate) {
                best = Some(plan);
            }
        }
    }
    best.ok_or_else(|| {
        let (err, degree, k) = closest.unwrap_or((f64::INFINITY, 2, max_k));
        Refusal {
            reason: format!(
                "no table of at most 2^{k} segments and {} LUTs of ROM fits the function within \
                 {:.4} ULP of {} (fit share of the budget); the best, degree {degree} with 2^{k} \
                 segments, is {:.4} ULP off: raise --max-error-ulp to about {:.4}, or use fewer \
                 input bits than {}",
                opts.max_rom_luts,
                budget / ulp,
                opts.output,
                err / ulp,
                0.5 + err / ulp / opts.fit_share * 1.05,
                opts.input
            ),
        }
    })
}

/// The fit error of the table of degree `degree` and 2^k segments, however large.
fn closest_error(s: &Samples, core: Core, degree: usize, k: u32) -> f64 {
    try_table(s, core, degree, k, f64::INFINITY).map_or(f64::INFINITY, |t| t.worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Activation;

    fn fmt(w: u32, i: i32) -> ApFixed {
        ApFixed::new(w, i).unwrap()
    }

    /// The plan's largest error at every code, against the function itself.
    fn plan_error(p: &TablePlan, f: &dyn Fn(f64) -> f64, input: ApFixed, output: ApFixed) -> f64 {
        let mut worst = 0.0f64;
        for raw in input.min_raw()..=input.max_raw() {
            let approx = p.eval(input, raw);
            assert!(
                !approx.is_nan(),
                "code {raw} is covered by no part of the plan"
            );
            let e = (output.saturate_f64(approx) - output.saturate_f64(f(input.to_f64(raw)))).abs();
            worst = worst.max(e);
        }
        worst / output.ulp()
    }

    #[test]
    fn smooth_activations_fit_within_the_fit_budget_at_16_bits() {
        let (fin, fout) = (fmt(16, 6), fmt(16, 6));
        let opts = FitOptions::new(fin, fout, 0.5625);
        for name in [
            "silu", "sigmoid", "tanh", "gelu", "mish", "elu", "softplus", "softsign",
        ] {
            let a = Activation::parse_cli(name).unwrap();
            let f = |x: f64| a.eval(0, x);
            let s = Samples::new(&f, fin, fout);
            let p = plan_table(&s, &opts).unwrap_or_else(|r| panic!("{name}: {}", r.reason));
            eprintln!(
                "{name}: degree {} 2^{} segments of 2^{} codes from {}, widths {:?}, {:?}, fit {:.4} ULP, below {:?} above {:?}",
                p.degree, p.index_bits, p.offset_bits, p.lo_raw, p.coef_widths, p.estimate,
                p.fit_error_ulp, p.below, p.above
            );
            let measured = plan_error(&p, &f, fin, fout);
            // plan_table may use up to the largest share it tries (Mish takes 7/8).
            let largest = FitOptions {
                fit_share: FIT_SHARES[FIT_SHARES.len() - 1],
                ..opts
            };
            assert!(
                measured <= largest.fit_budget() / fout.ulp() + 1e-12,
                "{name}: {measured} ULP"
            );
            assert!((measured - p.fit_error_ulp).abs() < 1e-9, "{name}");
        }
    }

    #[test]
    fn outer_regions_find_the_asymptotes() {
        let (fin, fout) = (fmt(16, 6), fmt(16, 6));
        let budget = FitOptions::new(fin, fout, 0.5625).fit_budget();
        let sig = Activation::Sigmoid;
        let s = Samples::new(&|x| sig.eval(0, x), fin, fout);
        let lo = outer::region(&s, End::Low, budget).unwrap();
        let hi = outer::region(&s, End::High, budget).unwrap();
        assert_eq!(lo.poly, [0.0, 0.0]);
        assert_eq!(hi.poly, [1.0, 0.0]);
        // sigmoid(x) < 2^-15 for x < -10.4 (and 1 - sigmoid likewise above 10.4).
        assert!((fin.to_f64(lo.hi_raw) + 10.4).abs() < 0.1, "{lo:?}");
        assert!((fin.to_f64(hi.lo_raw) - 10.4).abs() < 0.1, "{hi:?}");
        let silu = Activation::Silu;
        let s = Samples::new(&|x| silu.eval(0, x), fin, fout);
        assert_eq!(
            outer::region(&s, End::High, budget).unwrap().poly,
            [0.0, 1.0]
        );
        assert_eq!(
            outer::region(&s, End::Low, budget).unwrap().poly,
            [0.0, 0.0]
        );
    }

    #[test]
    fn a_jump_next_to_an_outer_region_ends_the_table_and_a_bridge_reaches_it() {
        // Softplus(beta=2, threshold=5) is x above x = 2.5 and 2.5034 at it.
        let (fin, fout) = (fmt(16, 6), fmt(16, 6));
        let a = Activation::parse_cli("softplus:beta=2,threshold=5").unwrap();
        let f = |x: f64| a.eval(0, x);
        let s = Samples::new(&f, fin, fout);
        let opts = FitOptions::new(fin, fout, 0.5625);
        let jump = 2561;
        assert!(jumps_at(&s, s.index(jump), opts.fit_budget()));
        assert!(!jumps_at(&s, s.index(jump - 1), opts.fit_budget()));
        let p = plan_table(&s, &opts).unwrap_or_else(|r| panic!("{}", r.reason));
        let end = p.lo_raw + (1i64 << (p.index_bits + p.offset_bits));
        assert!(end <= jump, "the table reaches past the jump: {p:?}");
        assert_eq!(p.above.unwrap().lo_raw, jump);
        if end < jump {
            let b = p.bridges[0];
            assert_eq!(p.bridges.len(), 1, "{p:?}");
            assert_eq!((b.lo_raw, b.hi_raw), (end, jump - 1));
        }
        assert!(plan_error(&p, &f, fin, fout) <= opts.fit_budget() / fout.ulp() * 1.5);
        // Smooth functions have no jumps: SiLU's plan has no bridges.
        let silu = |x: f64| Activation::Silu.eval(0, x);
        let s = Samples::new(&silu, fin, fout);
        let p = plan_table(&s, &opts).unwrap();
        assert_eq!(p.bridges, []);
    }

    #[test]
    fn plans_are_deterministic() {
        let (fin, fout) = (fmt(12, 4), fmt(12, 4));
        let opts = FitOptions::new(fin, fout, 0.5625);
        let a = Activation::Mish;
        let f = |x: f64| a.eval(0, x);
        let p1 = plan(&f, &opts, DatapathChoice::Poly).unwrap();
        let p2 = plan(&f, &opts, DatapathChoice::Poly).unwrap();
        assert_eq!(format!("{p1:?}"), format!("{p2:?}"));
    }

    #[test]
    fn eight_bit_inputs_choose_the_rom() {
        let (fin, fout) = (fmt(8, 3), fmt(8, 3));
        let opts = FitOptions::new(fin, fout, 0.5625);
        let a = Activation::Tanh;
        let p = plan(&|x| a.eval(0, x), &opts, DatapathChoice::Auto).unwrap();
        assert!(matches!(p, Plan::Rom { estimate } if estimate.dsp == 0 && estimate.luts <= 40));
    }
}
