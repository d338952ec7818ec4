//! The golden model against (a) an independent exact i128 evaluation of the same spec, which
//! never wraps, so any stage width that is too narrow shows up as a mismatch, and (b) the f64
//! function, within the bound the spec claims to have proven.

use proptest::prelude::*;
use repact_hw::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use repact_hw::model::{fold, FoldedLayer};
use repact_hw::weights::{load, LoadOptions};
use repact_hw::Error;
use std::path::PathBuf;

/// Exact integer evaluation straight from the spec's documented steps.
fn exact_i128(spec: &DatapathSpec, layer: usize, ch: usize, x: i64) -> i64 {
    let l = &spec.layers()[layer];
    let seg = l.thresholds.iter().filter(|&&t| x >= t).count();
    let c = l.coefs[ch][seg];
    let x = x as i128;
    let s1 = c.c2 as i128 * x + c.k1 as i128;
    let t = s1.div_euclid(1i128 << spec.shift1());
    let y = t * x + c.k0 as i128;
    let q = y.div_euclid(1i128 << spec.shift2());
    let out = spec.output();
    q.clamp(out.min_raw() as i128, out.max_raw() as i128) as i64
}

fn layer(breakpoints: Vec<f64>, segments: Vec<Vec<[f64; 3]>>) -> FoldedLayer {
    FoldedLayer {
        name: "random".into(),
        variant: "piecewise".into(),
        breakpoints,
        segments,
    }
}

fn arb_layer() -> impl Strategy<Value = FoldedLayer> {
    let coef = prop_oneof![
        3 => -4.0..4.0f64,
        1 => -100.0..100.0f64,
        1 => Just(0.0),
        1 => -1e-4..1e-4f64,
    ];
    (1usize..=6, 1usize..=3).prop_flat_map(move |(nseg, nch)| {
        (
            prop::collection::vec(-40.0..40.0f64, nseg - 1),
            prop::collection::vec(
                prop::collection::vec(prop::array::uniform3(coef.clone()), nseg),
                nch,
            ),
        )
            .prop_map(|(mut b, segs)| {
                b.sort_by(f64::total_cmp);
                b.dedup();
                let n = b.len() + 1;
                layer(b, segs.into_iter().map(|s| s[..n].to_vec()).collect())
            })
    })
}

fn arb_format() -> impl Strategy<Value = ApFixed> {
    (4u32..=24)
        .prop_flat_map(|w| (Just(w), -2i32..=(w as i32)))
        .prop_filter_map("representable", |(w, i)| ApFixed::new(w, i).ok())
}

/// All inputs for narrow formats; corners plus a stride through the range for wide ones.
fn inputs(f: ApFixed, spec: &DatapathSpec, layer: usize) -> Vec<i64> {
    let (lo, hi) = (f.min_raw(), f.max_raw());
    if f.width() <= 12 {
        return (lo..=hi).collect();
    }
    let mut v: Vec<i64> = vec![lo, lo + 1, -1, 0, 1, hi - 1, hi];
    for &t in &spec.layers()[layer].thresholds {
        v.extend(
            [t - 1, t, t + 1]
                .into_iter()
                .filter(|x| (lo..=hi).contains(x)),
        );
    }
    let step = ((hi - lo) / 3001).max(1);
    v.extend((lo..=hi).step_by(step as usize));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn golden_equals_exact_integer_evaluation(
        l in arb_layer(), fin in arb_format(), fout in arb_format(),
        budget in prop_oneof![Just(0.5625f64), 0.51..4.0f64],
    ) {
        let opts = SpecOptions { max_error_ulp: budget, max_coef_width: 32,
            ..SpecOptions::with_formats(fin, fout) };
        let spec = match DatapathSpec::build(&[l], &opts) {
            Ok(s) => s,
            // Refusing is allowed (and must be a Spec error); wrong answers are not.
            Err(Error::Spec { .. }) => return Ok(()),
            Err(e) => panic!("unexpected error {e}"),
        };
        for ch in 0..spec.layers()[0].channels() {
            for x in inputs(fin, &spec, 0) {
                let g = spec.eval_raw(0, ch, x);
                prop_assert_eq!(g, exact_i128(&spec, 0, ch, x), "x={} ch={}", x, ch);
                let err = (fout.to_f64(g) - spec.reference(0, ch, x)).abs() / fout.ulp();
                prop_assert!(err <= spec.layers()[0].bound.total_ulp + 1e-9,
                    "x={x}: error {err} ULP above proven bound {:?}", spec.layers()[0].bound);
            }
        }
    }
}

fn example(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/repact-digits")
        .join(path)
}

fn bundled_layers() -> Vec<FoldedLayer> {
    let mut out = Vec::new();
    for net in ["origin", "bn"] {
        let opts = LoadOptions {
            variant: (net == "origin").then_some(repact_hw::model::Variant::Origin),
            ..Default::default()
        };
        let n = load(&example(&format!("{net}/model.safetensors")), &opts).unwrap();
        assert_eq!(n.layers.len(), 5);
        out.extend(n.layers.iter().map(|l| fold(l).unwrap()));
    }
    out
}

#[test]
fn bundled_layers_meet_their_bound_for_all_2_pow_16_inputs() {
    let f = ApFixed::new(16, 6).unwrap();
    for l in bundled_layers() {
        let spec = DatapathSpec::build(std::slice::from_ref(&l), &SpecOptions::with_formats(f, f))
            .unwrap();
        let bound = spec.layers()[0].bound;
        assert!(bound.total_ulp <= 0.5625, "{}: {:?}", l.name, bound);
        let mut worst = 0.0f64;
        for x in f.min_raw()..=f.max_raw() {
            let g = spec.eval_raw(0, 0, x);
            assert_eq!(g, exact_i128(&spec, 0, 0, x));
            let err = (f.to_f64(g) - spec.reference(0, 0, x)).abs() / f.ulp();
            worst = worst.max(err);
        }
        assert!(
            worst <= bound.total_ulp,
            "{}: measured {worst} > bound {:?}",
            l.name,
            bound
        );
        // The bound must not be vacuous either: the measured error comes close to it.
        assert!(worst > 0.45, "{}: measured only {worst}", l.name);
        eprintln!(
            "{}: c2 {}b t {}b, bound {:.4} ULP, measured {:.4} ULP",
            l.name,
            spec.widths().c2,
            spec.widths().t,
            bound.total_ulp,
            worst
        );
    }
}

#[test]
fn one_core_for_all_bundled_layers_shares_formats_and_meets_every_bound() {
    let f = ApFixed::new(16, 6).unwrap();
    let layers = bundled_layers();
    let spec = DatapathSpec::build(&layers, &SpecOptions::with_formats(f, f)).unwrap();
    for (i, l) in spec.layers().iter().enumerate() {
        for x in (f.min_raw()..=f.max_raw()).step_by(7) {
            let g = spec.eval_raw(i, 0, x);
            assert_eq!(g, exact_i128(&spec, i, 0, x));
            let err = (f.to_f64(g) - spec.reference(i, 0, x)).abs() / f.ulp();
            assert!(err <= l.bound.total_ulp);
        }
    }
}

#[test]
fn narrow_format_that_cannot_hold_three_makes_outer_segments_unreachable() {
    let l = bundled_layers().remove(0);
    let f = ApFixed::new(8, 2).unwrap(); // [-2, 1.984375]
    let spec = DatapathSpec::build(&[l], &SpecOptions::with_formats(f, f)).unwrap();
    assert_eq!(spec.layers()[0].reachable, vec![false, true, true, false]);
    for x in f.min_raw()..=f.max_raw() {
        assert_eq!(spec.eval_raw(0, 0, x), exact_i128(&spec, 0, 0, x));
    }
}

#[test]
fn too_narrow_coefficient_width_is_refused_with_the_reason() {
    let l = bundled_layers().remove(9); // bn/block5: large, cancelling coefficients
    let f = ApFixed::new(16, 6).unwrap();
    let opts = SpecOptions {
        max_coef_width: 8,
        ..SpecOptions::with_formats(f, f)
    };
    let msg = DatapathSpec::build(&[l], &opts).unwrap_err().to_string();
    assert!(
        msg.contains("block5.act") && msg.contains("--max-coef-width is 8"),
        "{msg}"
    );
}

#[test]
fn a_budget_of_half_an_ulp_or_less_is_refused() {
    let l = bundled_layers().remove(0);
    let f = ApFixed::new(16, 6).unwrap();
    let opts = SpecOptions {
        max_error_ulp: 0.5,
        ..SpecOptions::with_formats(f, f)
    };
    let msg = DatapathSpec::build(&[l], &opts).unwrap_err().to_string();
    assert!(msg.contains("0.5"), "{msg}");
}

#[test]
fn a_looser_budget_gives_narrower_coefficients() {
    let l = bundled_layers().remove(0);
    let f = ApFixed::new(16, 6).unwrap();
    let tight =
        DatapathSpec::build(std::slice::from_ref(&l), &SpecOptions::with_formats(f, f)).unwrap();
    let loose = DatapathSpec::build(
        &[l],
        &SpecOptions {
            max_error_ulp: 1.5,
            ..SpecOptions::with_formats(f, f)
        },
    )
    .unwrap();
    assert!(loose.widths().c2 + loose.widths().t < tight.widths().c2 + tight.widths().t);
    assert!(loose.layers()[0].bound.total_ulp <= 1.5);
}
