//! Outer regions: where, towards either end of the input range, the function equals a
//! polynomial of degree ≤ 1 within the fit budget on every input code (SiLU → 0 and → x,
//! Sigmoid → 0 and → 1, Softplus → x, ELU → −alpha). These become comparator segments
//! around the table, so only the core interval between them needs a table.

use super::{Samples, PARALLEL_CODES};
use crate::fixedpoint::table::across_cores;

/// `c0 + c1·x` (x real) on the codes `lo_raw..=hi_raw`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OuterRegion {
    /// First input code of the region.
    pub lo_raw: i64,
    /// Last input code of the region.
    pub hi_raw: i64,
    /// `[c0, c1]` in real units.
    pub poly: [f64; 2],
    /// Largest error on the region's codes (after output saturation), absolute.
    pub max_error: f64,
}

/// Which end of the input range a region grows from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// From the most negative code upwards.
    Low,
    /// From the most positive code downwards.
    High,
}

/// The largest region at `end` where one candidate polynomial stays within `budget`, or
/// `None` when not even the end code is within it. Candidates, nicest first (ties keep the
/// first): 0, ±1, x, the constant f(end), and the line through the two end codes.
pub fn region(s: &Samples, end: End, budget: f64) -> Option<OuterRegion> {
    let n = s.ys().len();
    if n < 2 {
        return None;
    }
    let (i0, i1) = match end {
        End::Low => (0, 1),
        End::High => (n - 1, n - 2),
    };
    let (x0, x1) = (s.x(i0), s.x(i1));
    let (y0, y1) = (s.ys()[i0], s.ys()[i1]);
    let slope = (y1 - y0) / (x1 - x0);
    let candidates = [
        [0.0, 0.0],
        [1.0, 0.0],
        [-1.0, 0.0],
        [0.0, 1.0],
        [y0, 0.0],
        [y0 - slope * x0, slope],
    ];
    // Each candidate's extent is a scan from the end inwards (millions of codes at 24 bits):
    // one candidate per core.
    let extents = across_cores(candidates.len(), n >= PARALLEL_CODES, |a, b| {
        candidates[a..b]
            .iter()
            .map(|&poly| extent(s, end, poly, budget))
            .collect::<Vec<_>>()
    })
    .concat();
    let mut best: Option<(usize, [f64; 2], f64)> = None;
    for (poly, (len, err)) in candidates.into_iter().zip(extents) {
        if len > 0 && best.is_none_or(|(l, _, _)| len > l) {
            best = Some((len, poly, err));
        }
    }
    let (len, poly, max_error) = best?;
    let (lo, hi) = match end {
        End::Low => (0, len - 1),
        End::High => (n - len, n - 1),
    };
    Some(OuterRegion {
        lo_raw: s.raw(lo),
        hi_raw: s.raw(hi),
        poly,
        max_error,
    })
}

/// How many codes from `end` inwards `poly` stays within `budget`, and its largest error there.
///
/// The fitter asks for the same candidates at several budgets (one per fit share); an extent
/// found at a smaller budget is where a scan at a larger one resumes (every code before it is
/// within the smaller budget), so the codes are scanned about once in all.
fn extent(s: &Samples, end: End, poly: [f64; 2], budget: f64) -> (usize, f64) {
    let key = (end == End::High, poly.map(f64::to_bits));
    let known = s.extents.lock().expect("extent cache").get(&key).copied();
    let (from, worst) = match known {
        Some((tried, len, worst)) if tried <= budget => (len, worst),
        // The code at `len` is over `tried`, so over `budget` too when everything before is
        // within it.
        Some((_, len, worst)) if worst <= budget => return (len, worst),
        _ => (0, 0.0),
    };
    let found = scan(s, end, poly, budget, from, worst);
    if known.is_none_or(|(tried, _, _)| tried <= budget) {
        s.extents
            .lock()
            .expect("extent cache")
            .insert(key, (budget, found.0, found.1));
    }
    found
}

/// [`extent`] from `from` codes in, with the largest error before them `worst`.
fn scan(
    s: &Samples,
    end: End,
    poly: [f64; 2],
    budget: f64,
    from: usize,
    worst: f64,
) -> (usize, f64) {
    let n = s.ys().len();
    let mut worst = worst;
    for k in from..n {
        let i = match end {
            End::Low => k,
            End::High => n - 1 - k,
        };
        let e = s.error(i, poly[0] + poly[1] * s.x(i));
        if e > budget {
            return (k, worst);
        }
        worst = worst.max(e);
    }
    (n, worst)
}
