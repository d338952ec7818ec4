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

use crate::fixedpoint::ApFixed;
use outer::{End, OuterRegion};

/// The f64 function at every input code, and how errors are measured against it.
pub struct Samples {
    input: ApFixed,
    output: ApFixed,
    /// `f(x)` at code `min_raw + i`.
    ys: Vec<f64>,
}

impl Samples {
    /// Evaluates `f` at every code of `input`.
    pub fn new(f: &dyn Fn(f64) -> f64, input: ApFixed, output: ApFixed) -> Self {
        let ys = (input.min_raw()..=input.max_raw())
            .map(|r| f(input.to_f64(r)))
            .collect();
        Samples { input, output, ys }
    }
    fn raw(&self, i: usize) -> i64 {
        self.input.min_raw() + i as i64
    }
    fn index(&self, raw: i64) -> usize {
        (raw - self.input.min_raw()) as usize
    }
    fn x(&self, i: usize) -> f64 {
        self.input.to_f64(self.raw(i))
    }
    /// `|sat(approx) − sat(f)|` at code index `i`: the output saturates, so an approximation
    /// beyond the output range is only wrong by what survives saturation.
    fn error(&self, i: usize, approx: f64) -> f64 {
        (self.output.saturate_f64(approx) - self.output.saturate_f64(self.ys[i])).abs()
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

impl TablePlan {
    /// The plan's f64 function at input code `raw` (before any quantization): the segment
    /// polynomial inside the table, the outer polynomial below and above it.
    pub fn eval(&self, input: ApFixed, raw: i64) -> f64 {
        let span = 1i64 << (self.index_bits + self.offset_bits);
        let line = |o: &OuterSpan| o.poly[0] + o.poly[1] * input.to_f64(raw);
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

/// The core interval `[lo, hi]` (codes) between the outer regions, and the regions.
fn core_interval(s: &Samples, budget: f64) -> (i64, i64, Option<OuterRegion>, Option<OuterRegion>) {
    let (min, max) = (s.input.min_raw(), s.input.max_raw());
    let below = outer::region(s, End::Low, budget);
    let above = outer::region(s, End::High, budget);
    let lo = below.map_or(min, |r| r.hi_raw + 1);
    let hi = above.map_or(max, |r| r.lo_raw - 1);
    if lo > hi {
        // The two polynomials cover everything between them: keep a one-code core so the
        // table still has a place (the outer regions overlap; both are within budget).
        let mid = lo.min(max);
        return (mid, mid, below, above);
    }
    (lo, hi, below, above)
}

/// Fits the table for one (degree, k): `None` if the fit misses the budget.
fn try_table(
    s: &Samples,
    core: (i64, i64),
    degree: usize,
    index_bits: u32,
    budget: f64,
) -> Option<(i64, u32, Vec<[f64; 3]>, f64)> {
    let (lo, hi) = core;
    let (min, max) = (s.input.min_raw(), s.input.max_raw());
    // The narrowest segments whose 2^k cover [lo, hi] from an aligned start, inside the
    // input range (the spec's table may not leave it).
    let mut offset_bits = 0;
    let lo_raw = loop {
        let span = 1i64 << (index_bits + offset_bits);
        let start = lo.div_euclid(1 << offset_bits) * (1 << offset_bits);
        if start + span > hi {
            if index_bits + offset_bits > s.input.width() {
                return None;
            }
            // max + 1 is a power of two, so this start stays aligned.
            break start.min(max + 1 - span);
        }
        offset_bits += 1;
        if offset_bits > 30 {
            return None;
        }
    };
    let mut polys = Vec::with_capacity(1 << index_bits);
    let mut worst = 0.0f64;
    for seg in 0..(1i64 << index_bits) {
        let first = lo_raw + (seg << offset_bits);
        let last = first + (1 << offset_bits) - 1;
        // Every code of the segment reaches the table (it takes precedence over the outer
        // segments); fit them all, in offset units from the segment's first code.
        let (a, b) = (first.max(min), last.min(max));
        if a > b {
            polys.push([0.0; 3]);
            continue;
        }
        let ys = &s.ys[s.index(a)..=s.index(b)];
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
            return None;
        }
        polys.push(poly);
    }
    Some((lo_raw, offset_bits, polys, worst))
}

/// Plans the cheapest datapath for `f` that meets the fit budget.
pub fn plan(
    f: &dyn Fn(f64) -> f64,
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

/// Fit shares tried: a larger share needs fewer segments but wider coefficients.
const FIT_SHARES: [f64; 3] = [0.5, 0.625, 0.75];

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
    let (lo, hi, below, above) = core_interval(s, budget);
    let mut best: Option<TablePlan> = None;
    let mut closest: Option<(f64, usize, u32)> = None;
    for degree in [1usize, 2] {
        // The fit error falls as k grows: bisect for the smallest k that fits.
        let fits = |k: u32| try_table(s, (lo, hi), degree, k, budget);
        let Some(mut found) = fits(opts.max_index_bits).map(|t| (opts.max_index_bits, t)) else {
            if best.is_none() {
                let err = closest_error(s, (lo, hi), degree, opts.max_index_bits);
                if closest.is_none_or(|(e, _, _)| err < e) {
                    closest = Some((err, degree, opts.max_index_bits));
                }
            }
            continue;
        };
        let (mut lo_k, mut hi_k) = (0u32, opts.max_index_bits);
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
            let (k, (lo_raw, offset_bits, polys, err)) = found;
            let (coef_widths, estimate) =
                table_estimate(&polys, degree, k, offset_bits, opts.quant_budget(err), opts);
            let mut plan = TablePlan {
                lo_raw,
                index_bits: k,
                offset_bits,
                degree,
                polys,
                below: below.map(OuterSpan::from),
                above: above.map(OuterSpan::from),
                fit_error_ulp: 0.0,
                coef_widths,
                estimate,
            };
            // Measured over every code, outer regions included.
            plan.fit_error_ulp = (0..s.ys.len())
                .map(|i| s.error(i, plan.eval(opts.input, s.raw(i))))
                .fold(0.0, f64::max)
                / ulp;
            if best.as_ref().is_none_or(|b| plan.estimate < b.estimate) {
                best = Some(plan);
            }
        }
    }
    best.ok_or_else(|| {
        let (err, degree, k) = closest.unwrap_or((f64::INFINITY, 2, opts.max_index_bits));
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
fn closest_error(s: &Samples, core: (i64, i64), degree: usize, k: u32) -> f64 {
    try_table(s, core, degree, k, f64::INFINITY).map_or(f64::INFINITY, |t| t.3)
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
            assert!(
                measured <= opts.fit_budget() / fout.ulp() + 1e-12,
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
