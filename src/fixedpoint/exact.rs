//! Correctly rounded comparator datapaths for the exact activations (ReLU, ReLU6, LeakyReLU,
//! PReLU, Hardtanh, Hardswish, Hardsigmoid): every output equals the exact value of the
//! function at the input code, rounded to nearest with ties toward +inf (`AP_RND`), then
//! saturated (`AP_SAT`).
//!
//! # The exact function
//! Each segment's polynomial `c0 + c1·x + c2·x²` is taken in exact rationals: a coefficient
//! that is the double nearest to `k/6` with `k` not a multiple of 3 and `|k| < 6·64` is `k/6`
//! (Hardswish's `x²/6`, Hardsigmoid's `x/6`); every other coefficient is the exact binary
//! value of the f64 given (so LeakyReLU's `0.01` is `0.01f64` =
//! `5764607523034235/2^59`, evaluated exactly).
//!
//! # How the constants are chosen
//! For one pair of fractional bits (F2, Ft) the datapath computes, in a segment,
//! `t = floor((c2·x + k1) / 2^shift1)` and `out = floor((t·x + k0) / 2^shift2)`. For every
//! input code the correctly rounded output `r` fixes the interval `k0` must lie in
//! (`[r·2^shift2 - t·x, (r+1)·2^shift2 - t·x)`, one-sided where `r` saturates), so for the
//! directed roundings of `c2` and `k1` (floor, ceil) the set of `k0` that round every input of
//! the segment correctly is an intersection of intervals, computed exactly in i128. The first
//! (F2, Ft), narrowest `t` first, where every segment has a nonempty intersection within the
//! width limits wins; `k0` is the admissible value nearest the rounded `c0`.
//!
//! Tried for inputs of at most [`MAX_CORRECTLY_ROUNDED_INPUT_WIDTH`] bits.
//!
//! # The proof
//! The intervals are the proof; the built spec is then checked once more by running the
//! golden model on every input code and comparing with the exact rational result. Where no
//! format within `--max-coef-width` rounds correctly, or an i128 would overflow, the caller
//! falls back to the analytic-bound datapath.

use super::dsp::dsp48e1_slices;
use super::format::ApFixed;
use super::spec::{
    interval_walk, poly_pipeline, stage_widths, widths_of_spans, BoundKind, CoefFracs,
    DatapathSpec, ErrorBound, LayerSpec, RegionConsts, Segment, SegmentCoefs, SegmentSelect, Span,
    SpecOptions, MAX_STAGE_WIDTH,
};
use super::stage::{Signal, SIGNALS};
use crate::model::{FoldedLayer, ACTIVATIONS};
use std::collections::HashMap;

/// Widest input the correctly rounded search is tried for: at 24 bits Hardswish needs a
/// wider `t` than the DSP48E1 port and the search over every input code takes minutes, so
/// wider inputs keep the analytic-bound datapath (the 0.5625 ULP budget).
pub(crate) const MAX_CORRECTLY_ROUNDED_INPUT_WIDTH: u32 = 24;

/// Whether `l` is one of the library's exact activations (its variant is the activation's
/// name, with its parameters in parentheses): those get the correctly rounded datapath.
pub(crate) fn is_exact_activation(l: &FoldedLayer) -> bool {
    let name = l.variant.split('(').next().unwrap_or("");
    ACTIVATIONS.iter().any(|a| a.exact && a.name == name)
}

/// An exact rational `num / den`, `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The exact value of a coefficient (see the module docs), `None` if its denominator would
/// not fit comfortably in i128.
fn exact_coef(c: f64) -> Option<Ratio> {
    for k in -383i128..=383 {
        if k % 3 != 0 && (k as f64) / 6.0 == c {
            return Some(Ratio { num: k, den: 6 });
        }
    }
    if c == 0.0 {
        return Some(Ratio { num: 0, den: 1 });
    }
    if !c.is_finite() {
        return None;
    }
    let bits = c.abs().to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        return None; // subnormal
    }
    let mant = ((bits & ((1u64 << 52) - 1)) | (1u64 << 52)) as i128;
    let e = exp - 1075;
    let m = if c < 0.0 { -mant } else { mant };
    if e >= 0 {
        return Some(Ratio {
            num: m.checked_mul(1i128.checked_shl(e as u32)?)?,
            den: 1,
        });
    }
    let tz = (m.trailing_zeros() as i32).min(-e);
    let sh = (-e - tz) as u32;
    if sh > 80 {
        return None;
    }
    Some(Ratio {
        num: m >> tz,
        den: 1i128 << sh,
    })
}

/// One segment's exact polynomial over a common denominator: the value at raw input `x` is
/// `(n2·x² + n1·x·2^Fi + n0·2^(2Fi)) / (den·2^(2Fi))`.
#[derive(Debug, Clone, Copy)]
struct ExactPoly {
    n: [i128; 3],
    den: i128,
}

impl ExactPoly {
    fn new(c: [f64; 3]) -> Option<Self> {
        let r = [exact_coef(c[0])?, exact_coef(c[1])?, exact_coef(c[2])?];
        let mut den = 1i128;
        for q in r {
            den = den.checked_mul(q.den / gcd(den, q.den))?;
        }
        let mut n = [0i128; 3];
        for (ni, q) in n.iter_mut().zip(r) {
            *ni = q.num.checked_mul(den / q.den)?;
        }
        Some(ExactPoly { n, den })
    }

    /// The exact value times `2^frac` as a rational `(num, den)` at raw input `x`.
    fn scaled(&self, x: i128, fi: u32, frac: u32) -> Option<(i128, i128)> {
        let [n0, n1, n2] = self.n;
        let num = n2
            .checked_mul(x.checked_mul(x)?)?
            .checked_add(n1.checked_mul(x)?.checked_mul(1i128 << fi)?)?
            .checked_add(n0.checked_mul(1i128 << (2 * fi))?)?;
        // Cancel common powers of two between 2^frac and 2^(2Fi) first.
        let g = frac.min(2 * fi);
        let num = num.checked_mul(1i128.checked_shl(frac - g)?)?;
        let den = self.den.checked_mul(1i128 << (2 * fi - g))?;
        Some((num, den))
    }

    /// `floor(value·2^frac + 1/2)`: the correctly rounded raw output (AP_RND), unsaturated.
    fn rounded(&self, x: i128, fi: u32, frac: u32) -> Option<i128> {
        let (num, den) = self.scaled(x, fi, frac)?;
        let twice = num.checked_mul(2)?.checked_add(den)?;
        // A power-of-two denominator (every coefficient dyadic: ReLU, LeakyReLU, the linear
        // outer segments of Hardswish) is a shift, which keeps the pass over the 2^24 codes
        // of a wide format fast; an arithmetic shift is the floor, as div_euclid is.
        if (den as u128).is_power_of_two() {
            return Some(twice >> (den.trailing_zeros() + 1));
        }
        Some(twice.div_euclid(den.checked_mul(2)?))
    }

    /// `floor(value·2^frac)` and `ceil` of it.
    fn floor_ceil_coef(&self, i: usize, frac: u32) -> Option<[i128; 2]> {
        let num = self.n[i].checked_mul(1i128.checked_shl(frac)?)?;
        let f = num.div_euclid(self.den);
        let c = if f * self.den == num { f } else { f + 1 };
        Some([f, c])
    }
}

fn pow2(e: u32) -> Option<i128> {
    1i128.checked_shl(e).filter(|&v| v > 0)
}

/// The admissible `k0` of one segment for given `c2`, `k1`, or `None` if no `k0` rounds every
/// input of it correctly. `every` > 1 checks only a subset (a quick rejection).
#[allow(clippy::too_many_arguments)]
fn k0_range(
    p: &ExactPoly,
    seg: &Segment,
    c2: i128,
    k1: i128,
    shift1: u32,
    shift2: u32,
    input: ApFixed,
    output: ApFixed,
    every: usize,
) -> Option<(i128, i128)> {
    let (fi, fo) = (input.frac(), output.frac());
    let (omin, omax) = (output.min_raw() as i128, output.max_raw() as i128);
    let unit = pow2(shift2)?;
    if shift1 >= 127 {
        return None;
    }
    let (mut lo, mut hi) = (i128::MIN, i128::MAX);
    for x in (seg.lo..=seg.hi).step_by(every) {
        let x = x as i128;
        let r = p.rounded(x, fi, fo)?;
        // floor(.. / 2^shift1): an arithmetic shift.
        let t = c2.checked_mul(x)?.checked_add(k1)? >> shift1;
        let prod = t.checked_mul(x)?;
        // out = floor((prod + k0) / unit), then clamped: need out == clamp(r).
        if r > omin {
            lo = lo.max(r.min(omax).checked_mul(unit)?.checked_sub(prod)?);
        }
        if r < omax {
            hi = hi.min((r.max(omin) + 1).checked_mul(unit)?.checked_sub(prod)? - 1);
        }
        if lo > hi {
            return None;
        }
    }
    Some((lo, hi))
}

/// Admissible `k0` ranges of linear segments (`c2 = 0`), by segment, polynomial, constant
/// `t`, `shift2` and stride: shared by every F2 of a search.
type RangeCache = HashMap<(i64, i64, [i128; 3], i128, i128, u32, usize), Option<(i128, i128)>>;

/// The constants of every segment of every layer for one (F2, Ft), or `None`.
#[allow(clippy::too_many_arguments)]
fn choose_constants(
    layers: &[FoldedLayer],
    polys: &[Vec<Vec<ExactPoly>>],
    segs: &[Vec<Segment>],
    nsegs: usize,
    c2_frac: u32,
    t_frac: u32,
    input: ApFixed,
    output: ApFixed,
    cache: &mut RangeCache,
) -> Option<Vec<Vec<Vec<SegmentCoefs>>>> {
    let fi = input.frac();
    let shift1 = (c2_frac + fi).checked_sub(t_frac)?;
    let shift2 = (t_frac + fi).checked_sub(output.frac())?;
    let k1_frac = c2_frac + fi;
    let k0_frac = t_frac + fi;
    if shift1 >= 127 {
        return None;
    }
    let bias = |s: u32| if s == 0 { 0 } else { 1i128 << (s - 1) };
    let mut range = |p: &ExactPoly, seg: &Segment, (c2, k1): (i128, i128), every: usize| {
        if c2 != 0 {
            return k0_range(p, seg, c2, k1, shift1, shift2, input, output, every);
        }
        // With c2 = 0, t is the constant k1 >> shift1: every F2 giving the same t and shift2
        // admits the same k0 (a linear segment is passed over once per Ft, not once per F2).
        let key = (seg.lo, seg.hi, p.n, p.den, k1 >> shift1, shift2, every);
        *cache
            .entry(key)
            .or_insert_with(|| k0_range(p, seg, c2, k1, shift1, shift2, input, output, every))
    };
    // Every segment's candidate (c2, k1) roundings, narrowed by strided passes over all
    // segments before any full pass: one segment that no candidate format can round (usually
    // the quadratic one) rejects the format without a pass over the other segments' codes
    // (2^23 of them each at 24 bits).
    struct Job<'a> {
        layer: usize,
        channel: usize,
        seg: &'a Segment,
        poly: &'a ExactPoly,
        pairs: Vec<(i128, i128)>,
        ideal: i128,
    }
    let mut jobs = Vec::new();
    for (li, (lp, ls)) in polys.iter().zip(segs).enumerate() {
        for (ch, cp) in lp.iter().enumerate() {
            for seg in ls.iter().filter(|s| s.reachable) {
                let p = &cp[seg.index];
                let c2s = p.floor_ceil_coef(2, c2_frac)?;
                let k1s = p.floor_ceil_coef(1, k1_frac)?.map(|v| v + bias(shift1));
                let [f0, c0] = p.floor_ceil_coef(0, k0_frac)?;
                let ideal = if c0 == f0 { f0 } else { f0 + 1 } + bias(shift2);
                let pairs: Vec<(i128, i128)> = dedup(c2s)
                    .into_iter()
                    .flat_map(|c2| dedup(k1s).into_iter().map(move |k1| (c2, k1)))
                    .collect();
                jobs.push(Job {
                    layer: li,
                    channel: ch,
                    seg,
                    poly: p,
                    pairs,
                    ideal,
                });
            }
        }
    }
    // Coarse strides over every segment first, so a format one segment rejects is dropped
    // after a few thousand codes, however many codes the segments that it does round hold.
    for every in [4093, 61] {
        for j in &mut jobs {
            let (poly, seg) = (j.poly, j.seg);
            j.pairs
                .retain(|&pair| range(poly, seg, pair, every).is_some());
            if j.pairs.is_empty() {
                return None;
            }
        }
    }
    // The full passes, shortest segments first (the first admissible pair of each segment in
    // the order above, so the choice does not depend on this order).
    jobs.sort_by_key(|j| j.seg.hi - j.seg.lo);
    let mut all: Vec<Vec<Vec<SegmentCoefs>>> = layers
        .iter()
        .map(|l| vec![vec![SegmentCoefs::ZERO; nsegs]; l.channels()])
        .collect();
    let lim = 1i128 << (MAX_STAGE_WIDTH - 2);
    for j in &jobs {
        let (c2, k1, k0) = j.pairs.iter().find_map(|&(c2, k1)| {
            let (lo, hi) = range(j.poly, j.seg, (c2, k1), 1)?;
            Some((c2, k1, j.ideal.clamp(lo, hi)))
        })?;
        if [c2, k1, k0].iter().any(|v| v.abs() >= lim) {
            return None;
        }
        all[j.layer][j.channel][j.seg.index] = SegmentCoefs {
            c2: c2 as i64,
            k1: k1 as i64,
            k0: k0 as i64,
        };
    }
    Some(all)
}

fn dedup(v: [i128; 2]) -> Vec<i128> {
    if v[0] == v[1] {
        vec![v[0]]
    } else {
        v.to_vec()
    }
}

/// The correctly rounded spec of exact-activation `layers` (see the module docs), or `None`
/// when no format within the limits rounds every input correctly.
pub(crate) fn build_correctly_rounded(
    layers: &[FoldedLayer],
    thresholds: &[Vec<i64>],
    segs: &[Vec<Segment>],
    nsegs: usize,
    opts: &SpecOptions,
) -> Option<DatapathSpec> {
    let polys: Vec<Vec<Vec<ExactPoly>>> = layers
        .iter()
        .map(|l| {
            l.segments
                .iter()
                .map(|ch| ch.iter().map(|&c| ExactPoly::new(c)).collect())
                .collect::<Option<Vec<Vec<_>>>>()
        })
        .collect::<Option<_>>()?;
    search_correctly_rounded(layers, &polys, thresholds, segs, nsegs, opts)
}

/// The search in (Ft, F2) order, narrowest `t` first. Formats whose multiplies each fit one
/// DSP48E1 slice win (as narrow as the single-slice datapath always was); only when none
/// rounds correctly, the first format within --max-coef-width (multiplies split across
/// slices). One walk serves both: the first format of the second kind is kept while the
/// walk looks on for one of the first kind.
fn search_correctly_rounded(
    layers: &[FoldedLayer],
    polys: &[Vec<Vec<ExactPoly>>],
    thresholds: &[Vec<i64>],
    segs: &[Vec<Segment>],
    nsegs: usize,
    opts: &SpecOptions,
) -> Option<DatapathSpec> {
    let (input, output) = (opts.input, opts.output);
    let wx = input.width();
    let within_cap = |w: u32| w <= opts.max_coef_width;
    let one_slice = |w: u32| within_cap(w) && dsp48e1_slices(w, wx) <= 1;
    let fi = input.frac();
    let select = SegmentSelect::Comparators;
    let t_frac_min = output.frac().saturating_sub(fi);
    // The first correctly rounding format within the cap only; whether the one-slice search
    // has ended (every later format's t is wider than one slice).
    let (mut fallback, mut one_slice_done) = (None, false);
    let mut cache = RangeCache::new();
    for t_frac in t_frac_min..=t_frac_min + 48 {
        // Wider t only grows with Ft: once every candidate's t is too wide, stop.
        let (mut any, mut narrow_one, mut narrow_cap) = (false, false, false);
        for shift1 in 0..=fi + 4 {
            let Some(c2_frac) = (t_frac + shift1).checked_sub(fi) else {
                continue;
            };
            let Some(coefs) = choose_constants(
                layers, polys, segs, nsegs, c2_frac, t_frac, input, output, &mut cache,
            ) else {
                continue;
            };
            let shift2 = t_frac + fi - output.frac();
            let shape = poly_pipeline(&select, shift1, shift2, &[None; SIGNALS]);
            let mut spans = [Span::empty(); SIGNALS];
            let mut fits = true;
            for (lc, ls) in coefs.iter().zip(segs) {
                for ch in lc {
                    for s in ls.iter().filter(|s| s.reachable) {
                        let rc = RegionConsts {
                            lo: s.lo,
                            hi: s.hi,
                            origin: s.origin,
                            coefs: ch[s.index],
                        };
                        fits &= interval_walk(&shape, &rc, output, &mut spans).is_some();
                    }
                }
            }
            if !fits {
                continue;
            }
            let widths = widths_of_spans(&shape, &spans, input, output);
            let w = |s: Signal| widths[s.slot()].unwrap_or(0);
            any = true;
            narrow_one |= one_slice(w(Signal::T));
            narrow_cap |= within_cap(w(Signal::T));
            if widths.iter().flatten().any(|&w| w > MAX_STAGE_WIDTH) {
                continue;
            }
            let wins = !one_slice_done && one_slice(w(Signal::C2)) && one_slice(w(Signal::T));
            let keep = fallback.is_none() && within_cap(w(Signal::C2)) && within_cap(w(Signal::T));
            if !wins && !keep {
                continue;
            }
            let pipeline = poly_pipeline(&select, shift1, shift2, &widths);
            debug_assert_eq!(stage_widths(&pipeline, input, output).t, w(Signal::T));
            let fracs = CoefFracs { c2_frac, t_frac };
            let spec = checked_spec(
                layers, polys, thresholds, segs, nsegs, opts, fracs, pipeline, coefs,
            )?;
            if wins {
                return Some(spec);
            }
            fallback = Some(spec);
        }
        one_slice_done |= any && !narrow_one;
        if (one_slice_done && fallback.is_some()) || (any && !narrow_cap) {
            return fallback;
        }
    }
    fallback
}

/// The spec of a correctly rounding format, checked on the golden model itself: every input
/// code against the exact rational result (`None` if any differs, which the intervals rule
/// out). Its bound is the largest error measured.
#[allow(clippy::too_many_arguments)]
fn checked_spec(
    layers: &[FoldedLayer],
    polys: &[Vec<Vec<ExactPoly>>],
    thresholds: &[Vec<i64>],
    segs: &[Vec<Segment>],
    nsegs: usize,
    opts: &SpecOptions,
    fracs: CoefFracs,
    pipeline: Vec<super::stage::PipelineStage>,
    coefs: Vec<Vec<Vec<SegmentCoefs>>>,
) -> Option<DatapathSpec> {
    let (input, output) = (opts.input, opts.output);
    let fi = input.frac();
    let layer_specs = layers
        .iter()
        .zip(thresholds)
        .zip(segs)
        .zip(coefs)
        .map(|(((l, th), s), c)| LayerSpec {
            folded: l.clone(),
            thresholds: th.clone(),
            coefs: c,
            reachable: s.iter().map(|s| s.reachable).collect(),
            segments: s.clone(),
            rom: Vec::new(),
            bound: ErrorBound {
                pre_round_ulp: 0.0,
                total_ulp: 0.5,
            },
            bound_kind: BoundKind::CorrectlyRounded,
            reference: None,
        })
        .collect();
    let mut spec = DatapathSpec::from_parts(
        input,
        output,
        SegmentSelect::Comparators,
        Some(fracs),
        nsegs,
        pipeline,
        opts.max_error_ulp,
        layer_specs,
    );
    for (li, (lp, ls)) in polys.iter().zip(segs).enumerate() {
        let mut worst = 0.0f64;
        for (ch, cp) in lp.iter().enumerate() {
            for s in ls.iter().filter(|s| s.reachable) {
                let p = &cp[s.index];
                for x in s.lo..=s.hi {
                    let got = spec.eval_raw(li, ch, x) as i128;
                    let r = p.rounded(x as i128, fi, output.frac())?;
                    let want = r.clamp(output.min_raw() as i128, output.max_raw() as i128);
                    if got != want {
                        return None;
                    }
                    let (num, den) = p.scaled(x as i128, fi, output.frac())?;
                    let exact = num.clamp(
                        output.min_raw() as i128 * den,
                        output.max_raw() as i128 * den,
                    );
                    let e = (got * den - exact).abs() as f64 / den as f64;
                    worst = worst.max(e);
                }
            }
        }
        spec.layers_mut()[li].bound.total_ulp = worst;
    }
    Some(spec)
}
