//! Dropping the low bits of a table's constants that the error budget does not need.
//!
//! A table core's main cost is its coefficient ROM: every bit column of `k1` or `k0` whose
//! value differs between entries is two LUT6 (128 entries) and a flip-flop, while a column
//! that is the same in every entry and every outer segment is a constant the synthesis tool
//! removes. The narrowest coefficient formats (`build_table`'s search) fix the LSB of `k1` at
//! `p1`'s and of `k0` at `p2`'s, several bits below what the budget needs. Rounding `k0` (then
//! `k1`) to a multiple of `2^z` leaves its low `z` bits zero in every entry; the largest `z`
//! whose spec still meets the budget, **measured on all 2^W inputs**, is kept. `z` stays below
//! the rounding shift after the constant, so the rounding bias (bit `shift - 1`) is untouched.

use super::spec::{
    interval_walk, poly_pipeline, DatapathSpec, LayerSpec, RegionConsts, SegmentCoefs, Span,
    MAX_STAGE_WIDTH,
};
use super::stage::{PipelineStage, Signal, SIGNALS};

/// Which constant a trim rounds.
#[derive(Clone, Copy)]
enum Constant {
    K1,
    K0,
}

/// `v` rounded to the nearest multiple of `2^z` (ties up).
fn round_to(v: i64, z: u32) -> i64 {
    if z == 0 {
        v
    } else {
        ((v + (1i64 << (z - 1))) >> z) << z
    }
}

/// The pipeline of `spec` re-sized for the constants `coefs` (the interval analysis of
/// `quantize_all`, over the same regions); `None` if a stage would not fit.
fn resized(
    spec: &DatapathSpec,
    layer: &LayerSpec,
    coefs: &[SegmentCoefs],
) -> Option<Vec<PipelineStage>> {
    let (select, out) = (spec.select(), spec.output());
    let shape = poly_pipeline(select, spec.shift1(), spec.shift2(), &[None; SIGNALS]);
    let mut spans = [Span::empty(); SIGNALS];
    for seg in layer.segments.iter().filter(|s| s.reachable) {
        let rc = RegionConsts {
            lo: seg.lo,
            hi: seg.hi,
            origin: seg.origin,
            coefs: coefs[seg.index],
        };
        interval_walk(&shape, &rc, out, &mut spans)?;
    }
    let mut widths = [None; SIGNALS];
    for step in shape.iter().flat_map(|s| &s.steps) {
        for sig in step.writes() {
            widths[sig.slot()] = Some(spans[sig.slot()].width());
        }
    }
    widths[Signal::Out.slot()] = Some(out.width());
    if widths.iter().flatten().any(|&w| w > MAX_STAGE_WIDTH) {
        return None;
    }
    Some(poly_pipeline(select, spec.shift1(), spec.shift2(), &widths))
}

/// `spec` (one table layer) with `which` rounded to multiples of `2^z`, its stages re-sized,
/// and the analytic pre-rounding bound widened by what the rounding can add.
fn trimmed(spec: &DatapathSpec, which: Constant, z: u32) -> Option<DatapathSpec> {
    let layer = &spec.layers()[0];
    let (input, out) = (spec.input(), spec.output());
    let mut coefs = layer.coefs[0].clone();
    let mut added = 0.0f64;
    for seg in layer.segments.iter().filter(|s| s.reachable) {
        let c = &mut coefs[seg.index];
        let vmax =
            (seg.lo - seg.origin).abs().max((seg.hi - seg.origin).abs()) as f64 * input.ulp();
        let err = match which {
            Constant::K1 => {
                let k = round_to(c.k1, z);
                let e = (k - c.k1).abs() as f64 * (-(spec.k1_frac() as f64)).exp2() * vmax;
                c.k1 = k;
                e
            }
            Constant::K0 => {
                let k = round_to(c.k0, z);
                let e = (k - c.k0).abs() as f64 * (-(spec.k0_frac() as f64)).exp2();
                c.k0 = k;
                e
            }
        };
        added = added.max(err / out.ulp());
    }
    let pipeline = resized(spec, layer, &coefs)?;
    let mut l = layer.clone();
    l.coefs = vec![coefs];
    l.bound.pre_round_ulp += added;
    l.bound.total_ulp += added;
    Some(DatapathSpec::from_parts(
        input,
        out,
        *spec.select(),
        spec.coef_fracs(),
        spec.segments(),
        pipeline,
        spec.max_error_ulp(),
        vec![l],
    ))
}

/// The coarsest trims of `k0`, then `k1`, of `spec` whose error, `measure(spec)` on every
/// input, stays within the budget; `measured` is `spec`'s own. Returns the spec and its
/// measured error.
pub(crate) fn trim_constants(
    spec: DatapathSpec,
    measured: f64,
    mut measure: impl FnMut(&DatapathSpec) -> f64,
) -> (DatapathSpec, f64) {
    let budget = spec.max_error_ulp();
    let mut best = (spec, measured);
    for which in [Constant::K0, Constant::K1] {
        let shift = match which {
            Constant::K1 => best.0.shift1(),
            Constant::K0 => best.0.shift2(),
        };
        for z in (1..shift).rev() {
            let Some(t) = trimmed(&best.0, which, z) else {
                continue;
            };
            let e = measure(&t);
            if e <= budget {
                best = (t, e);
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::round_to;

    #[test]
    fn round_to_rounds_half_up_to_multiples() {
        assert_eq!(
            [5, 6, 7, -5, -6, -7, 8].map(|v| round_to(v, 2)),
            [4, 8, 8, -4, -4, -8, 8]
        );
        assert_eq!(round_to(-3, 0), -3);
    }
}
