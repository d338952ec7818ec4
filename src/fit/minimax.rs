//! Discrete minimax polynomials: the polynomial of degree ≤ 2 whose largest error over a
//! segment's actual input codes is smallest (the domain is discrete, so the error is measured
//! at those codes, not on a continuum).
//!
//! Remez's exchange on the discrete set: start from Chebyshev-distributed reference codes,
//! solve for the polynomial that levels the error with alternating signs there, move the
//! reference to the code of largest error (single-point exchange, which keeps the
//! alternation), repeat until the levelled error is the largest one. Polynomials form a Haar
//! system, so this converges to the discrete minimax polynomial.

/// A fitted segment polynomial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentFit {
    /// `[a0, a1, a2]` of `a0 + a1·u + a2·u²`, `u` the code's offset from the segment's first
    /// code (offset units: integers `0..n`).
    pub coefs: [f64; 3],
    /// The largest `|y - p(u)|` over the segment's codes.
    pub max_error: f64,
}

/// At most this many exchange steps (convergence takes a handful; this bounds the time).
const MAX_STEPS: usize = 40;

/// The minimax polynomial of degree `degree` (0..=2) for the values `ys[u]`, `u = 0..n`.
pub fn minimax(ys: &[f64], degree: usize) -> SegmentFit {
    let n = ys.len();
    let degree = degree.min(2);
    if n == 0 {
        return SegmentFit {
            coefs: [0.0; 3],
            max_error: 0.0,
        };
    }
    if n <= degree + 1 {
        // Interpolate every code: degree n-1 is enough and exact.
        let refs: Vec<usize> = (0..n).collect();
        let b = solve_reference(ys, &refs, n - 1, n, false).unwrap_or([ys[0], 0.0, 0.0, 0.0]);
        let coefs = unscale([b[0], b[1], b[2]], n);
        return SegmentFit {
            coefs,
            max_error: max_error(ys, coefs).0,
        };
    }
    let m = degree + 2;
    let mut refs: Vec<usize> = (0..m)
        .map(|j| {
            let c = 0.5 * (1.0 - (std::f64::consts::PI * j as f64 / (m - 1) as f64).cos());
            (c * (n - 1) as f64).round() as usize
        })
        .collect();
    for j in 1..m {
        if refs[j] <= refs[j - 1] {
            refs[j] = refs[j - 1] + 1;
        }
    }
    for j in (0..m - 1).rev() {
        if refs[j] >= refs[j + 1] {
            refs[j] = refs[j + 1] - 1;
        }
    }
    let mut best: Option<SegmentFit> = None;
    for _ in 0..MAX_STEPS {
        let Some(b) = solve_reference(ys, &refs, degree, n, true) else {
            break;
        };
        let coefs = unscale([b[0], b[1], b[2]], n);
        let levelled = b[3].abs();
        let (err, at) = max_error(ys, coefs);
        if best.is_none_or(|f| err < f.max_error) {
            best = Some(SegmentFit {
                coefs,
                max_error: err,
            });
        }
        if err <= levelled * (1.0 + 1e-9) + 1e-300 || refs.contains(&at) {
            break;
        }
        exchange(&mut refs, at, |u| ys[u] - eval(coefs, u as f64));
    }
    best.unwrap_or(SegmentFit {
        coefs: [ys[0], 0.0, 0.0],
        max_error: max_error(ys, [ys[0], 0.0, 0.0]).0,
    })
}

/// `a0 + a1·u + a2·u²`.
pub fn eval(c: [f64; 3], u: f64) -> f64 {
    c[0] + u * (c[1] + u * c[2])
}

/// The largest error and the code where it occurs.
fn max_error(ys: &[f64], c: [f64; 3]) -> (f64, usize) {
    let mut worst = (0.0, 0);
    for (u, &y) in ys.iter().enumerate() {
        let e = (y - eval(c, u as f64)).abs();
        if e > worst.0 {
            worst = (e, u);
        }
    }
    worst
}

/// The scale that maps offsets to `[0, 1]` for a well-conditioned solve.
fn scale(n: usize) -> f64 {
    (n.max(2) - 1) as f64
}

/// Coefficients in the scaled variable `t = u/scale` to offset units.
fn unscale(b: [f64; 3], n: usize) -> [f64; 3] {
    let s = scale(n);
    [b[0], b[1] / s, b[2] / (s * s)]
}

/// Solves `p(t_j) + (-1)^j·E = y_j` at the reference codes (with `levelled`), or plain
/// interpolation without E. Returns `[b0, b1, b2, E]` in the scaled variable.
fn solve_reference(
    ys: &[f64],
    refs: &[usize],
    degree: usize,
    n: usize,
    levelled: bool,
) -> Option<[f64; 4]> {
    let unknowns = degree + 1 + usize::from(levelled);
    let s = scale(n);
    let mut a = [[0.0f64; 5]; 4];
    for (j, (row, &u)) in a.iter_mut().zip(refs).take(unknowns).enumerate() {
        let t = u as f64 / s;
        let mut pow = 1.0;
        for cell in row.iter_mut().take(degree + 1) {
            *cell = pow;
            pow *= t;
        }
        if levelled {
            row[unknowns - 1] = if j % 2 == 0 { 1.0 } else { -1.0 };
        }
        row[4] = ys[u];
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..unknowns {
        let piv = (col..unknowns).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate().take(unknowns) {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (cell, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *cell -= f * p;
                }
            }
        }
    }
    let mut out = [0.0; 4];
    for i in 0..unknowns {
        let x = a[i][4] / a[i][i];
        if levelled && i == unknowns - 1 {
            out[3] = x;
        } else {
            out[i] = x;
        }
    }
    Some(out)
}

/// Moves the reference to include `at`, keeping the error signs alternating.
fn exchange(refs: &mut Vec<usize>, at: usize, err: impl Fn(usize) -> f64) {
    let sign = |u: usize| err(u) >= 0.0;
    let s = sign(at);
    let m = refs.len();
    if at < refs[0] {
        if sign(refs[0]) == s {
            refs[0] = at;
        } else {
            refs.insert(0, at);
            refs.pop();
        }
    } else if at > refs[m - 1] {
        if sign(refs[m - 1]) == s {
            refs[m - 1] = at;
        } else {
            refs.remove(0);
            refs.push(at);
        }
    } else if let Some(j) = (0..m - 1).find(|&j| refs[j] < at && at < refs[j + 1]) {
        if sign(refs[j]) == s {
            refs[j] = at;
        } else {
            refs[j + 1] = at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomials_are_reproduced_exactly() {
        let ys: Vec<f64> = (0..100)
            .map(|u| 3.0 - 0.5 * u as f64 + 0.01 * (u * u) as f64)
            .collect();
        let f = minimax(&ys, 2);
        assert!(f.max_error < 1e-9, "{f:?}");
        let line: Vec<f64> = (0..10).map(|u| 1.0 + 2.0 * u as f64).collect();
        assert!(minimax(&line, 1).max_error < 1e-12);
    }

    #[test]
    fn equioscillates_like_the_continuous_minimax_line_of_a_parabola() {
        // The minimax line of u² on [0, 1] has error 1/8; on a fine grid nearly the same.
        let n = 1001;
        let ys: Vec<f64> = (0..n)
            .map(|u| (u as f64 / (n - 1) as f64).powi(2))
            .collect();
        let f = minimax(&ys, 1);
        assert!((f.max_error - 0.125).abs() < 1e-6, "{f:?}");
    }

    #[test]
    fn beats_chebyshev_interpolation_and_equioscillates() {
        let n = 512;
        let ys: Vec<f64> = (0..n).map(|u| (u as f64 / 100.0).exp()).collect();
        let f = minimax(&ys, 2);
        // Interpolation at Chebyshev-distributed codes is a good polynomial, not the best.
        let cheb = [0, (n - 1) / 2 - 75, (n - 1) / 2 + 75, n - 1];
        for pick in [[cheb[0], cheb[1], cheb[3]], [cheb[0], cheb[2], cheb[3]]] {
            let b = solve_reference(&ys, &pick, 2, n, false).unwrap();
            let interp = max_error(&ys, unscale([b[0], b[1], b[2]], n)).0;
            assert!(f.max_error < interp, "{f:?} vs {interp}");
        }
        // The minimax error alternates in sign at degree + 2 codes.
        let errs: Vec<f64> = (0..n).map(|u| ys[u] - eval(f.coefs, u as f64)).collect();
        let mut signs = Vec::new();
        for e in errs.iter().filter(|e| e.abs() >= 0.999 * f.max_error) {
            if signs.last() != Some(&(*e > 0.0)) {
                signs.push(*e > 0.0);
            }
        }
        assert!(signs.len() >= 4, "{signs:?}");
    }

    #[test]
    fn tiny_segments_interpolate() {
        assert_eq!(minimax(&[], 2).max_error, 0.0);
        assert!(minimax(&[5.0], 2).max_error < 1e-15);
        assert!(minimax(&[5.0, 7.0], 2).max_error < 1e-15);
        assert!(minimax(&[5.0, 7.0, 4.0], 2).max_error < 1e-12);
    }
}
