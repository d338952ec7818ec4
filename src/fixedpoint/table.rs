//! The two datapaths for fitted (smooth, transcendental) activations, as variants of the one
//! [`DatapathSpec`]:
//!
//! * [`DatapathSpec::build_table`]: **table-indexed segment select**. A core interval of input
//!   codes `[lo_raw, lo_raw + 2^(k+s))` is split into `2^k` uniform segments of `2^s` codes;
//!   inside it the segment is the input's bits `[s+k-1 : s]` (a coefficient ROM address, no
//!   comparator) and the polynomial (degree 1 or 2) is evaluated in the offset `u = x - seg_lo`
//!   (the low `s` bits of `x`), so the multiplier operands stay narrow. Below and above the core
//!   interval, comparator segments hold their own polynomials in `x` (e.g. SiLU → 0 and → x).
//!   The same pipeline as the comparator datapath (Horner, `AP_RND` by biased floors, `AP_SAT`),
//!   with an offset step in stage 1.
//! * [`DatapathSpec::build_rom`]: **ROM datapath**. A table of the correctly rounded output
//!   (`AP_RND`: nearest, ties toward +inf, then `AP_SAT`) of every one of the `2^W` input codes.
//!   No multiplier; the error is at most 0.5 ULP by construction and measured.
//!
//! The reference is transcendental, so the error is **measured on all 2^W inputs** against
//! the f64 function ([`BoundKind::MeasuredOnAllInputs`]); the coefficient formats chosen are
//! the narrowest (multiplier operands first, then constants) whose measured error meets the
//! budget. Everything is deterministic: the same request gives a byte-identical spec.

use super::format::ApFixed;
use super::reference::ReferenceFn;
use super::spec::{
    check_budget, quantize_all, regions_of, rom_pipeline, BoundKind, Candidate, CoefFracs,
    DatapathSpec, ErrorBound, LayerSpec, Problem, Segment, SegmentCoefs, SegmentSelect,
    SpecOptions, TableGeometry,
};
use super::table_trim::trim_constants;
use crate::model::FoldedLayer;
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A real function of a real variable, shareable across threads (the reference of a fitted
/// layer, kept in its spec).
pub type RealFn = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// Most index bits of a table (its coefficient ROM has `2^index_bits` entries).
pub const MAX_INDEX_BITS: u32 = 10;
/// Widest input of a ROM datapath (its table has `2^W` entries).
pub const MAX_ROM_INPUT_WIDTH: u32 = 16;

/// Comparator segments outside the core interval of a table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OuterSegments {
    /// Raw input thresholds strictly inside the region, increasing: piece `i` covers
    /// `[thresholds[i-1], thresholds[i])` of the region (the first starts at the region's
    /// start, the last ends at its end).
    pub thresholds: Vec<i64>,
    /// `[c0, c1, c2]` of each piece as a polynomial in `x` (real units): `thresholds.len() + 1`
    /// of them, or none when the region is empty (the core interval reaches the input's end).
    pub polys: Vec<[f64; 3]>,
}

/// What [`DatapathSpec::build_table`] builds: the geometry, the real polynomials, the outer
/// segments. All real coefficients are f64; the builder quantizes them.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRequest {
    /// First raw input code of the core interval; a multiple of `2^offset_bits`. Choosing it a
    /// multiple of `2^(index_bits + offset_bits)` as well makes the ROM address plain bits of
    /// `x`; any multiple of `2^offset_bits` costs nothing either (the ROM is stored rotated).
    pub lo_raw: i64,
    /// `k`: `2^k` table segments (1..=[`MAX_INDEX_BITS`]; 0 is one segment).
    pub index_bits: u32,
    /// `s`: each table segment spans `2^s` input codes.
    pub offset_bits: u32,
    /// 1 or 2: the table polynomials' degree (degree 1 requires every `c2` to be 0).
    pub degree: u32,
    /// `[c0, c1, c2]` of table segment `i` (covering raw inputs
    /// `lo_raw + i·2^s ..= lo_raw + (i+1)·2^s - 1`) as a polynomial in the offset
    /// `u = x - (lo_raw + i·2^s)·2^-Fi` in real units (so `u` is in `[0, 2^s·2^-Fi)`).
    pub polys: Vec<[f64; 3]>,
    /// Segments below the core interval (`[min_raw, lo_raw)`).
    pub below: OuterSegments,
    /// Segments above it (`[lo_raw + 2^(k+s), max_raw]`).
    pub above: OuterSegments,
}

impl TableRequest {
    /// `[c0, c1, c2]` in the real offset `u` (what [`TableRequest::polys`] holds) of the
    /// polynomial `a0 + a1·n + a2·n²` in the offset `n` counted in input codes
    /// (`u = n·2^-Fi`): `c1 = a1·2^Fi`, `c2 = a2·2^(2·Fi)`, exact in f64.
    pub fn poly_from_code_units(a: [f64; 3], input: ApFixed) -> [f64; 3] {
        let s = (input.frac() as f64).exp2();
        [a[0], a[1] * s, a[2] * s * s]
    }
}

fn spec_err(layer: &str, reason: String) -> Error {
    Error::Spec {
        layer: layer.to_string(),
        reason,
    }
}

/// Runs `work(lo, hi)` on one contiguous chunk of `0..n` per core (at most 4; one chunk when
/// not `parallel`, for work too small to pay for a thread) and returns the results in chunk
/// order, so whatever is combined from them does not depend on timing.
pub fn across_cores<T: Send>(
    n: usize,
    parallel: bool,
    work: impl Fn(usize, usize) -> T + Sync,
) -> Vec<T> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get().min(4));
    if cores == 1 || !parallel || n < 2 {
        return vec![work(0, n)];
    }
    let chunk = n.div_ceil(cores);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cores)
            .map(|c| {
                let work = &work;
                scope.spawn(move || work((c * chunk).min(n), ((c + 1) * chunk).min(n)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a measuring thread panicked"))
            .collect()
    })
}

/// Passes over at least this many input codes run on every core.
const PARALLEL_CODES: usize = 1 << 16;

/// A function's f64 value at every input code of a format, from `min_raw` up: evaluated once
/// (on every core) and shared by the fitter and [`DatapathSpec::build_table_sampled`]; at
/// 24-bit inputs one pass is 2^24 evaluations, the largest fixed cost of a fit.
pub struct CodeValues {
    input: ApFixed,
    values: Vec<f64>,
}

impl CodeValues {
    /// `f` at every code of `input`.
    pub fn new(f: &(dyn Fn(f64) -> f64 + Sync), input: ApFixed) -> Self {
        let (min, ulp) = (input.min_raw(), input.ulp());
        let n = 1usize << input.width();
        let mut values = vec![0.0f64; n];
        let fill = |first: usize, out: &mut [f64]| {
            for (i, v) in (first..).zip(out.iter_mut()) {
                *v = f((min + i as i64) as f64 * ulp);
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get().min(4));
        if cores == 1 || n < PARALLEL_CODES {
            fill(0, &mut values);
        } else {
            // Filled in place, one chunk per core (no copy of 2^W values).
            let chunk = n.div_ceil(cores);
            std::thread::scope(|scope| {
                for (c, out) in values.chunks_mut(chunk).enumerate() {
                    let fill = &fill;
                    scope.spawn(move || fill(c * chunk, out));
                }
            });
        }
        CodeValues { input, values }
    }
    /// The format whose codes were evaluated.
    pub fn input(&self) -> ApFixed {
        self.input
    }
    /// The values, the one at code `min_raw + i` at `i`.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// Measures a candidate's error against the saturated reference, with the formats' constants
/// computed once (not per code).
struct Meter<'a> {
    values: &'a [f64],
    min_raw: i64,
    lo: f64,
    hi: f64,
    ulp: f64,
}

impl<'a> Meter<'a> {
    fn new(values: &'a CodeValues, output: ApFixed) -> Self {
        let (lo, hi) = output.range();
        Meter {
            values: &values.values,
            min_raw: values.input.min_raw(),
            lo,
            hi,
            ulp: output.ulp(),
        }
    }
    /// The saturated reference at code index `i`.
    #[inline]
    fn reference(&self, i: usize) -> f64 {
        self.values[i].clamp(self.lo, self.hi)
    }
    /// Error of layer 0 of `spec` at code index `i`, in output ULP.
    #[inline]
    fn error(&self, spec: &DatapathSpec, i: usize) -> f64 {
        let x = self.min_raw + i as i64;
        // The output ULP is a power of two, so dividing is exact either way.
        (spec.eval_raw(0, 0, x) as f64 * self.ulp - self.reference(i)).abs() / self.ulp
    }
    /// Largest error over the code indices `lo..hi` and the raw input where it first occurs,
    /// or `Err(i)` for the first index `i` over `stop` (NaN is over), or `Err(None)` once
    /// another chunk said so through `stopped`.
    fn max_over(
        &self,
        spec: &DatapathSpec,
        (lo, hi): (usize, usize),
        stop: f64,
        stopped: &AtomicBool,
    ) -> std::result::Result<(f64, i64), Option<usize>> {
        let mut worst = (0.0f64, self.min_raw + lo as i64);
        for i in lo..hi {
            let e = self.error(spec, i);
            if e > stop || e.is_nan() {
                stopped.store(true, Ordering::Relaxed);
                return Err(Some(i));
            }
            if e > worst.0 {
                worst = (e, self.min_raw + i as i64);
            }
            if i % 4096 == 0 && stopped.load(Ordering::Relaxed) {
                return Err(None);
            }
        }
        Ok(worst)
    }
    /// Largest error of layer 0 of `spec` over every input code and the raw input where it
    /// first occurs, if every code is within `stop` ULP (`f64::INFINITY`: always); otherwise
    /// `Err` with a code index over it.
    fn measure(
        &self,
        spec: &DatapathSpec,
        stop: f64,
    ) -> std::result::Result<(f64, i64), Option<usize>> {
        let stopped = AtomicBool::new(false);
        let n = self.values.len();
        let parts = across_cores(n, n >= PARALLEL_CODES, |lo, hi| {
            self.max_over(spec, (lo, hi), stop, &stopped)
        });
        let mut worst: Option<(f64, i64)> = None;
        let mut over = None;
        for p in parts {
            match p {
                Ok(p) if worst.is_none_or(|w| p.0 > w.0) => worst = Some(p),
                Ok(_) => {}
                Err(i) => over = over.or(i),
            }
        }
        match (over, worst) {
            (None, Some(w)) => Ok(w),
            (i, _) => Err(i),
        }
    }
}

/// Most codes kept in [`Witnesses`].
const MAX_WITNESSES: usize = 64;

/// Input codes where earlier candidates missed the budget. Candidate formats next to each
/// other in cost order tend to miss at the same codes (the steepest or most curved part of the
/// function), so checking these first rejects most candidates after a handful of evaluations
/// instead of a pass over all 2^W codes.
#[derive(Default)]
struct Witnesses {
    codes: Vec<usize>,
}

impl Witnesses {
    fn add(&mut self, i: usize) {
        if !self.codes.contains(&i) {
            if self.codes.len() == MAX_WITNESSES {
                self.codes.remove(0);
            }
            self.codes.push(i);
        }
    }
}

/// Every 61st code (a prime stride, so it does not alias with segment boundaries) is checked
/// before the full pass.
const STRIDE: usize = 61;

/// The largest error of layer 0 of `spec` over **every** input code and where it occurs, if it
/// is within `budget` ULP there; `None` as soon as one code is over. The order only decides how
/// fast a candidate over budget is rejected — the witnesses, every [`STRIDE`]th code, then every
/// code on every core — so a `Some` always comes from a pass over all 2^W codes.
fn measure_within(
    meter: &Meter,
    spec: &DatapathSpec,
    budget: f64,
    witnesses: &mut Witnesses,
) -> Option<(f64, i64)> {
    let over = |i: usize| {
        let e = meter.error(spec, i);
        e > budget || e.is_nan()
    };
    if let Some(&i) = witnesses.codes.iter().rev().find(|&&i| over(i)) {
        witnesses.add(i);
        return None;
    }
    if let Some(i) = (0..meter.values.len()).step_by(STRIDE).find(|&i| over(i)) {
        witnesses.add(i);
        return None;
    }
    match meter.measure(spec, budget) {
        Ok(w) => Some(w),
        Err(i) => {
            if let Some(i) = i {
                witnesses.add(i);
            }
            None
        }
    }
}

/// Checks an outer region `[start, end]` (empty when `start > end`) and returns its segments
/// with coefficient indices from `first`.
fn outer_segments(
    layer: &str,
    which: &str,
    o: &OuterSegments,
    start: i64,
    end: i64,
    first: usize,
) -> Result<Vec<Segment>> {
    if start > end {
        if !o.polys.is_empty() || !o.thresholds.is_empty() {
            return Err(spec_err(
                layer,
                format!("the region {which} the core interval is empty, but it has segments"),
            ));
        }
        return Ok(Vec::new());
    }
    if o.polys.len() != o.thresholds.len() + 1 {
        return Err(spec_err(
            layer,
            format!(
                "the region {which} the core interval needs {} polynomial(s) for {} threshold(s), got {}",
                o.thresholds.len() + 1,
                o.thresholds.len(),
                o.polys.len()
            ),
        ));
    }
    let mut prev = start;
    for &t in &o.thresholds {
        if t <= prev || t > end {
            return Err(spec_err(
                layer,
                format!(
                    "threshold {t} {which} the core interval must be increasing and inside ({start}, {end}]"
                ),
            ));
        }
        prev = t;
    }
    let mut segs = Vec::new();
    let bounds: Vec<i64> = std::iter::once(start)
        .chain(o.thresholds.iter().copied())
        .chain(std::iter::once(end + 1))
        .collect();
    for (i, w) in bounds.windows(2).enumerate() {
        segs.push(Segment {
            index: first + i,
            lo: w[0],
            hi: w[1] - 1,
            threshold: None,
            reachable: true,
            origin: 0,
        });
    }
    Ok(segs)
}

fn check_polys(layer: &str, what: &str, polys: &[[f64; 3]], degree: u32) -> Result<()> {
    for (i, p) in polys.iter().enumerate() {
        if p.iter().any(|c| !c.is_finite()) {
            return Err(spec_err(
                layer,
                format!("{what} polynomial {i} has a non-finite coefficient {p:?}"),
            ));
        }
        if degree < 2 && p[2] != 0.0 {
            return Err(spec_err(
                layer,
                format!(
                    "{what} polynomial {i} has c2 = {} but the degree is 1",
                    p[2]
                ),
            ));
        }
    }
    Ok(())
}

/// A fitted layer's `FoldedLayer` slot: its name and variant, no breakpoints or polynomials
/// (the function is the layer's reference).
fn fitted_folded(name: &str, variant: &str) -> FoldedLayer {
    FoldedLayer {
        name: name.to_string(),
        variant: variant.to_string(),
        breakpoints: Vec::new(),
        segments: vec![Vec::new()],
    }
}

impl DatapathSpec {
    /// Builds a table-indexed datapath for one layer named `layer` approximating `function`
    /// (its f64 reference `f`, e.g. `silu`; the name is stored with a fingerprint of `f`):
    /// checks the request, quantizes every polynomial, and picks the narrowest coefficient
    /// formats (multiplier operands `c2`, `t` first, then the constants) whose error against
    /// the saturated `f`, **measured on all 2^W input codes**, meets `opts.max_error_ulp`
    /// within `opts.max_coef_width`. The spec's bound is that measured maximum
    /// ([`BoundKind::MeasuredOnAllInputs`]).
    ///
    /// Errors ([`Error::Spec`] naming the layer): a malformed request (alignment, ranges,
    /// counts, non-finite coefficients), or a budget no format meets — saying whether the f64
    /// polynomials alone already miss it (fit more segments or degree 2) or the multiplier
    /// limit is too small.
    pub fn build_table(
        layer: &str,
        function: &str,
        f: RealFn,
        req: &TableRequest,
        opts: &SpecOptions,
    ) -> Result<Self> {
        let values = CodeValues::new(&*f, opts.input);
        Self::build_table_sampled(layer, function, f, req, opts, &values)
    }

    /// [`DatapathSpec::build_table`] with `f` already evaluated at every input code
    /// (`values`, from [`CodeValues::new`] with the same `f`), so a caller that fitted the
    /// polynomials from those values does not evaluate `f` on all 2^W codes again.
    pub fn build_table_sampled(
        layer: &str,
        function: &str,
        f: RealFn,
        req: &TableRequest,
        opts: &SpecOptions,
        values: &CodeValues,
    ) -> Result<Self> {
        let (input, output) = (opts.input, opts.output);
        check_budget(opts, layer)?;
        if values.input() != input {
            return Err(Error::Internal(format!(
                "{layer}: the table of {function} was given values at the codes of {}, not of \
                 its input {input}",
                values.input()
            )));
        }
        let (k, s) = (req.index_bits, req.offset_bits);
        if k > MAX_INDEX_BITS || k + s > input.width() {
            return Err(spec_err(
                layer,
                format!(
                    "a table of 2^{k} segments of 2^{s} codes does not fit {input} \
                     (index bits at most {MAX_INDEX_BITS}, index + offset bits at most {})",
                    input.width()
                ),
            ));
        }
        if req.lo_raw.rem_euclid(1i64 << s) != 0 {
            return Err(spec_err(
                layer,
                format!(
                    "the core interval starts at raw {}, which is not a multiple of 2^{s} (its segments' width)",
                    req.lo_raw
                ),
            ));
        }
        let span = 1i64 << (k + s);
        let hi_raw = req.lo_raw + span - 1;
        if req.lo_raw < input.min_raw() || hi_raw > input.max_raw() {
            return Err(spec_err(
                layer,
                format!(
                    "the core interval [{}, {hi_raw}] leaves the input range [{}, {}] of {input}",
                    req.lo_raw,
                    input.min_raw(),
                    input.max_raw()
                ),
            ));
        }
        if !(1..=2).contains(&req.degree) {
            return Err(spec_err(
                layer,
                format!("the degree must be 1 or 2, got {}", req.degree),
            ));
        }
        if req.polys.len() != 1usize << k {
            return Err(spec_err(
                layer,
                format!(
                    "2^{k} table segments need {} polynomials, got {}",
                    1usize << k,
                    req.polys.len()
                ),
            ));
        }
        check_polys(layer, "table", &req.polys, req.degree)?;
        check_polys(layer, "outer", &req.below.polys, 2)?;
        check_polys(layer, "outer", &req.above.polys, 2)?;

        // Segments, once: below, table, above (their coefficient order).
        let below = outer_segments(
            layer,
            "below",
            &req.below,
            input.min_raw(),
            req.lo_raw - 1,
            0,
        )?;
        let nb = below.len();
        let table_segs = (0..1usize << k).map(|i| {
            let lo = req.lo_raw + ((i as i64) << s);
            Segment {
                index: nb + i,
                lo,
                hi: lo + (1i64 << s) - 1,
                threshold: None,
                reachable: true,
                origin: lo,
            }
        });
        let above = outer_segments(
            layer,
            "above",
            &req.above,
            hi_raw + 1,
            input.max_raw(),
            nb + (1usize << k),
        )?;
        let mut segments: Vec<Segment> = below.clone();
        segments.extend(table_segs);
        segments.extend(above.iter().copied());
        // Comparator thresholds: the below pieces' inner ones, the core interval's two ends
        // (where an outer region exists), the above pieces' inner ones.
        let mut thresholds = req.below.thresholds.clone();
        if nb > 0 {
            thresholds.push(req.lo_raw);
        }
        if !above.is_empty() {
            thresholds.push(hi_raw + 1);
        }
        thresholds.extend(&req.above.thresholds);
        // Which threshold starts each comparator segment.
        let mut t = 0;
        for seg in segments.iter_mut() {
            if seg.origin == 0 && seg.lo != input.min_raw() {
                seg.threshold = Some(t);
            }
            if seg.lo != input.min_raw() && (seg.origin == 0 || seg.index == nb) {
                t += 1;
            }
        }
        let mut coefs_real: Vec<[f64; 3]> = req.below.polys.clone();
        coefs_real.extend(&req.polys);
        coefs_real.extend(&req.above.polys);
        let geometry = TableGeometry {
            lo_raw: req.lo_raw,
            index_bits: k,
            offset_bits: s,
            outer_below: nb,
        };
        let select = SegmentSelect::Table(geometry);
        let nsegs = segments.len();

        // The f64 polynomials' own error against the saturated reference, on every input.
        let meter = Meter::new(values, output);
        let (in_ulp, out_ulp) = (input.ulp(), output.ulp());
        let mut approx = (0.0f64, input.min_raw());
        for seg in &segments {
            let [c0, c1, c2] = coefs_real[seg.index];
            for x in seg.lo..=seg.hi {
                let v = (x - seg.origin) as f64 * in_ulp;
                let p = c0 + v * (c1 + c2 * v);
                let e = (p - meter.reference((x - input.min_raw()) as usize)).abs() / out_ulp;
                if e > approx.0 || e.is_nan() {
                    approx = (e, x);
                }
            }
        }
        if !approx.0.is_finite() {
            return Err(spec_err(
                layer,
                format!(
                    "{function} or its polynomial is not finite at x = {} (raw {})",
                    input.to_f64(approx.1),
                    approx.1
                ),
            ));
        }
        let regions = vec![regions_of(&segments)];
        let polys_of_ch = vec![coefs_real.clone()];
        let polys: Vec<&[Vec<[f64; 3]>]> = vec![polys_of_ch.as_slice()];
        let approx_out = [approx.0 * output.ulp()];
        let problem = Problem {
            polys: &polys,
            regions: &regions,
            segments: nsegs,
            input,
            output,
            pre_budget: f64::INFINITY,
            approx: &approx_out,
        };

        // Every candidate format, cheapest first; the first whose measured error meets the
        // budget wins.
        let mut cands: Vec<Candidate> = Vec::new();
        let t_frac_min = output.frac().saturating_sub(input.frac());
        for t_frac in t_frac_min..=t_frac_min + 40 {
            for c2_frac in t_frac.saturating_sub(input.frac())..=48 {
                if let Some(c) = quantize_all(&problem, &select, c2_frac, t_frac) {
                    cands.push(c);
                }
            }
        }
        // The coefficient ROM (one entry of c2, k1, k0 per segment) is the table's main LUT
        // cost; the multipliers fit DSP48E1 within --max-coef-width either way.
        let cost = |c: &Candidate| {
            (
                c.widths.c2 + c.widths.k1 + c.widths.k0,
                c.widths.c2 + c.widths.t,
                c.t_frac,
                c.c2_frac,
            )
        };
        cands.sort_by_key(cost);
        let fingerprint = ReferenceFn::from_values(function, f.clone(), values.values());
        let mut narrowest_over: Option<(u32, u32)> = None;
        let mut witnesses = Witnesses::default();
        // The last (most precise) candidate within the multiplier limit, measured in full only
        // if every candidate misses, for the refusal's figure.
        let mut finest: Option<DatapathSpec> = None;
        for cand in cands {
            let (wc2, wt) = (cand.widths.c2, cand.widths.t);
            let (coefs, analytic) = cand.layers.into_iter().next().expect("one layer");
            let spec = DatapathSpec::from_parts(
                input,
                output,
                select,
                Some(CoefFracs {
                    c2_frac: cand.c2_frac,
                    t_frac: cand.t_frac,
                }),
                nsegs,
                cand.pipeline,
                opts.max_error_ulp,
                vec![LayerSpec {
                    folded: fitted_folded(layer, "table"),
                    thresholds: thresholds.clone(),
                    coefs,
                    reachable: vec![true; nsegs],
                    segments: segments.clone(),
                    rom: Vec::new(),
                    bound: analytic,
                    bound_kind: BoundKind::MeasuredOnAllInputs,
                    reference: Some(fingerprint.clone()),
                }],
            );
            if wc2 > opts.max_coef_width || wt > opts.max_coef_width {
                // Over the multiplier limit: only worth knowing whether it would have met the
                // budget (the refusal then names the widths needed).
                if narrowest_over.is_none()
                    && measure_within(&meter, &spec, opts.max_error_ulp, &mut witnesses).is_some()
                {
                    narrowest_over = Some((wc2, wt));
                }
                continue;
            }
            let Some((measured, _)) =
                measure_within(&meter, &spec, opts.max_error_ulp, &mut witnesses)
            else {
                finest = Some(spec);
                continue;
            };
            let mut spec = spec;
            let l = &mut spec.layers_mut()[0];
            l.bound = ErrorBound {
                pre_round_ulp: analytic.pre_round_ulp,
                total_ulp: measured,
            };
            // The constants' bits the budget does not need, dropped (fewer ROM columns).
            // Over budget on any code counts as infinite; the witnesses and the strided pass
            // reject a too-coarse trim before any full pass, as for the formats above.
            let (mut spec, measured) = trim_constants(spec, measured, |s| {
                measure_within(&meter, s, opts.max_error_ulp, &mut witnesses)
                    .map_or(f64::INFINITY, |(e, _)| e)
            });
            spec.layers_mut()[0].bound.total_ulp = measured;
            return Ok(spec);
        }
        let w = input.width();
        let finest_ulp = finest.map_or(f64::INFINITY, |c| {
            meter.measure(&c, f64::INFINITY).map_or(f64::NAN, |m| m.0)
        });
        let reason = if approx.0 + 0.5 > opts.max_error_ulp {
            format!(
                "the f64 polynomials alone are {:.4} ULP from {function} at x = {} (measured on \
                 all 2^{w} inputs), so {} ULP cannot be met; fit more segments (index bits) or \
                 degree 2",
                approx.0,
                input.to_f64(approx.1),
                opts.max_error_ulp
            )
        } else if let Some((wc2, wt)) = narrowest_over {
            format!(
                "meeting {} ULP of {output} on all 2^{w} inputs needs a {wc2}-bit c2 and a \
                 {wt}-bit t (multiplier operands), but --max-coef-width is {}; raise it or \
                 --max-error-ulp",
                opts.max_error_ulp, opts.max_coef_width
            )
        } else {
            format!(
                "no coefficient format meets {} ULP of {output} on all 2^{w} inputs (the most \
                 precise within --max-coef-width is {finest_ulp:.4} ULP off; the f64 polynomials \
                 are {:.4} ULP from {function}); fit the polynomials more tightly",
                opts.max_error_ulp, approx.0
            )
        };
        Err(spec_err(layer, reason))
    }

    /// Builds a ROM datapath for one layer named `layer` computing `function` (f64 reference
    /// `f`): the output of every input code, rounded to nearest with ties toward +inf
    /// (`AP_RND`) and saturated (`AP_SAT`), in a table. The error is at most 0.5 ULP by
    /// construction; the spec stores the maximum measured on all 2^W inputs. Refused
    /// ([`Error::Spec`]) for inputs wider than [`MAX_ROM_INPUT_WIDTH`] bits or where `f` is
    /// NaN.
    pub fn build_rom(layer: &str, function: &str, f: RealFn, opts: &SpecOptions) -> Result<Self> {
        let (input, output) = (opts.input, opts.output);
        check_budget(opts, layer)?;
        if input.width() > MAX_ROM_INPUT_WIDTH {
            return Err(spec_err(
                layer,
                format!(
                    "a ROM of every output needs 2^{} entries for {input}; the ROM datapath takes \
                     inputs of at most {MAX_ROM_INPUT_WIDTH} bits (use the table datapath)",
                    input.width()
                ),
            ));
        }
        let scale = (output.frac() as f64).exp2();
        let values = CodeValues::new(&*f, input);
        let mut rom = Vec::with_capacity(1usize << input.width());
        for (x, &v) in (input.min_raw()..).zip(values.values()) {
            if v.is_nan() {
                return Err(spec_err(
                    layer,
                    format!("{function} is NaN at x = {} (raw {x})", input.to_f64(x)),
                ));
            }
            // Clamp first so the +0.5 below is exact; then AP_RND (floor of value + half).
            let a = (v * scale).clamp(output.min_raw() as f64 - 1.0, output.max_raw() as f64 + 1.0);
            let q = (a + 0.5).floor() as i64;
            rom.push(q.clamp(output.min_raw(), output.max_raw()));
        }
        let seg = Segment {
            index: 0,
            lo: input.min_raw(),
            hi: input.max_raw(),
            threshold: None,
            reachable: true,
            origin: 0,
        };
        let mut spec = DatapathSpec::from_parts(
            input,
            output,
            SegmentSelect::Rom,
            None,
            1,
            rom_pipeline(output.width()),
            opts.max_error_ulp,
            vec![LayerSpec {
                folded: fitted_folded(layer, "rom"),
                thresholds: Vec::new(),
                coefs: vec![vec![SegmentCoefs::ZERO]],
                reachable: vec![true],
                segments: vec![seg],
                rom,
                bound: ErrorBound {
                    pre_round_ulp: 0.0,
                    total_ulp: 0.5,
                },
                bound_kind: BoundKind::MeasuredOnAllInputs,
                reference: Some(ReferenceFn::from_values(function, f, values.values())),
            }],
        );
        let (measured, at) = Meter::new(&values, output)
            .measure(&spec, f64::INFINITY)
            .map_err(|_| Error::Internal(format!("{layer}: the ROM of {function} is NaN")))?;
        if measured > 0.5 + 1e-12 {
            return Err(Error::Internal(format!(
                "{layer}: the ROM of {function} is {measured} ULP off at raw {at}"
            )));
        }
        spec.layers_mut()[0].bound.total_ulp = measured;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tanh_rom(f: ApFixed) -> (DatapathSpec, RealFn) {
        let tanh: RealFn = Arc::new(libm::tanh);
        let opts = SpecOptions::with_formats(f, f);
        (
            DatapathSpec::build_rom("t", "tanh", tanh.clone(), &opts).unwrap(),
            tanh,
        )
    }

    /// The quick rejections (witnesses, the strided pass, early exit on every core) never
    /// accept a candidate that is over budget at a single code off the stride, in any chunk,
    /// and an accepted one gets the maximum over every code.
    #[test]
    fn one_code_over_budget_off_the_stride_rejects_the_candidate() {
        let f = ApFixed::new(16, 6).unwrap();
        let (spec, tanh) = tanh_rom(f);
        let clean = CodeValues::new(&*tanh, f);
        let meter = Meter::new(&clean, f);
        let full = meter.measure(&spec, f64::INFINITY).unwrap();
        let mut w = Witnesses::default();
        assert_eq!(measure_within(&meter, &spec, 0.5625, &mut w), Some(full));
        assert!(w.codes.is_empty());
        for i in [1usize, 40_000, (1 << 16) - 2] {
            assert_ne!(i % STRIDE, 0);
            let mut values = CodeValues::new(&*tanh, f);
            // The reference 0.75 ULP away from the stored output at that one code.
            let q = spec.eval_raw(0, 0, f.min_raw() + i as i64) as f64 * f.ulp();
            values.values[i] = q + 0.75 * f.ulp();
            let meter = Meter::new(&values, f);
            let mut w = Witnesses::default();
            assert_eq!(
                measure_within(&meter, &spec, 0.5625, &mut w),
                None,
                "code {i}"
            );
            assert_eq!(w.codes, [i]);
            // Next time the witness rejects it at once.
            assert_eq!(measure_within(&meter, &spec, 0.5625, &mut w), None);
            assert!(meter.measure(&spec, f64::INFINITY).unwrap().0 >= 0.75);
        }
    }
}
