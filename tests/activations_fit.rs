//! The fitter on every smooth activation and format: the plan (outer comparator regions and
//! table polynomials, in f64) meets the fit budget at every input code, measured here
//! independently of the fitter; 8-bit inputs choose the ROM; plans are deterministic; and
//! random smooth functions either fit or are refused with the budget that would be needed —
//! both as plans and through the quantized build, measured on every input code.

use proptest::prelude::*;
use repact_hw::fit::build::{build_fitted_fn, BuiltDatapath};
use repact_hw::fit::{plan, DatapathChoice, FitOptions, Plan, TablePlan};
use repact_hw::fixedpoint::{ApFixed, RealFn, SpecOptions};
use repact_hw::model::{Activation, ACTIVATIONS};
use std::sync::Arc;
use std::time::Instant;

fn fmt(w: u32, i: i32) -> ApFixed {
    ApFixed::new(w, i).unwrap()
}

fn smooth() -> Vec<Activation> {
    let mut v: Vec<Activation> = ACTIVATIONS
        .iter()
        .filter(|a| !a.exact)
        .map(|a| Activation::from_params(a.name, &[]).unwrap())
        .collect();
    v.push(Activation::parse_cli("gelu:approximate=tanh").unwrap());
    v.push(Activation::parse_cli("elu:alpha=0.5").unwrap());
    // threshold 5 makes a jump at x = 2.5: the outer comparator segment takes it.
    v.push(Activation::parse_cli("softplus:beta=2,threshold=5").unwrap());
    v
}

/// The largest error of the plan's f64 function at every code, in output ULPs.
fn measured_ulp(p: &TablePlan, f: &dyn Fn(f64) -> f64, fin: ApFixed, fout: ApFixed) -> f64 {
    (fin.min_raw()..=fin.max_raw())
        .map(|raw| {
            let approx = p.eval(fin, raw);
            assert!(
                !approx.is_nan(),
                "code {raw} is covered by no part of the plan"
            );
            (fout.saturate_f64(approx) - fout.saturate_f64(f(fin.to_f64(raw)))).abs()
        })
        .fold(0.0, f64::max)
        / fout.ulp()
}

fn check(a: &Activation, fin: ApFixed, fout: ApFixed) -> (TablePlan, f64) {
    let opts = FitOptions::new(fin, fout, 0.5625);
    let f = |x: f64| a.eval(0, x);
    let start = Instant::now();
    let p = match plan(&f, &opts, DatapathChoice::Poly) {
        Ok(Plan::Table(p)) => p,
        Ok(other) => panic!("{a} at {fin}: poly was forced, got {other:?}"),
        Err(r) => panic!("{a} at {fin}: {}", r.reason),
    };
    let seconds = start.elapsed().as_secs_f64();
    let m = measured_ulp(&p, &f, fin, fout);
    // The fit may use at most the largest share of the pre-rounding budget it tries (7/8).
    assert!(m <= 0.875 * 0.0625 + 1e-12, "{a} at {fin}: {m} ULP");
    assert!(
        (m - p.fit_error_ulp).abs() < 1e-9,
        "{a} at {fin}: {m} vs {}",
        p.fit_error_ulp
    );
    eprintln!(
        "{a:<32} {fin}: degree {}, 2^{} segments x 2^{} codes, fit {:.4} ULP, est. {} DSP {} LUT \
         {} BRAM, widths {:?}, {:.3} s",
        p.degree,
        p.index_bits,
        p.offset_bits,
        m,
        p.estimate.dsp,
        p.estimate.luts,
        p.estimate.bram,
        p.coef_widths,
        seconds
    );
    (p, seconds)
}

#[test]
fn every_smooth_activation_fits_at_8_12_16_18_bits() {
    // 8-bit formats: auto takes the ROM, but the table, forced, fits too.
    for a in smooth() {
        for (w, i) in [(8, 3), (12, 4), (16, 6), (18, 6)] {
            check(&a, fmt(w, i), fmt(w, i));
        }
    }
}

#[test]
fn twenty_four_bit_fits() {
    for a in [Activation::Silu, Activation::Sigmoid] {
        check(&a, fmt(24, 8), fmt(24, 8));
    }
}

#[test]
fn eight_bit_formats_choose_the_rom() {
    for a in smooth() {
        let (fin, fout) = (fmt(8, 3), fmt(8, 3));
        let p = plan(
            &|x| a.eval(0, x),
            &FitOptions::new(fin, fout, 0.5625),
            DatapathChoice::Auto,
        )
        .unwrap();
        match p {
            Plan::Rom { estimate } => {
                assert_eq!(estimate.dsp, 0);
                assert!(estimate.luts <= 40, "{a}: {estimate:?}");
            }
            other => panic!("{a}: expected the ROM, got {other:?}"),
        }
    }
}

#[test]
fn plans_are_deterministic() {
    for a in smooth() {
        let (fin, fout) = (fmt(16, 6), fmt(16, 6));
        let opts = FitOptions::new(fin, fout, 0.5625);
        let f = |x: f64| a.eval(0, x);
        // The plan, or the refusal (the build path then retries with other fit shares), is
        // the same every time.
        let show = |p| format!("{p:?}");
        let one = show(plan(&f, &opts, DatapathChoice::Auto));
        let two = show(plan(&f, &opts, DatapathChoice::Auto));
        assert_eq!(one, two, "{a}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Random sums of smooth activations with random scales: the plan meets the fit budget,
    /// or the refusal says which budget would be needed.
    #[test]
    fn random_smooth_functions_fit_or_are_refused_with_what_is_needed(
        terms in proptest::collection::vec((0usize..13, -2.0f64..2.0, 0.25f64..3.0), 1..4),
    ) {
        let acts = smooth();
        let f = |x: f64| -> f64 {
            terms.iter().map(|&(i, c, s)| c * acts[i % acts.len()].eval(0, s * x)).sum()
        };
        let (fin, fout) = (fmt(12, 4), fmt(12, 4));
        let opts = FitOptions::new(fin, fout, 0.5625);
        match plan(&f, &opts, DatapathChoice::Poly) {
            Ok(Plan::Table(p)) => {
                let m = measured_ulp(&p, &f, fin, fout);
                prop_assert!(m <= 0.875 * 0.0625 + 1e-12, "{m} ULP");
            }
            Ok(other) => prop_assert!(false, "poly was forced, got {other:?}"),
            Err(r) => prop_assert!(r.reason.contains("raise --max-error-ulp to about"), "{}", r.reason),
        }
    }

    /// The same kind of random functions through the quantized build `gen` runs (fitter,
    /// coefficient formats, stepping of the fit share): the golden model, measured here on
    /// every input code against the function itself, meets the budget and the spec's recorded
    /// bound — or the refusal names what would be needed.
    #[test]
    fn random_smooth_functions_built_meet_the_budget_on_every_input_or_are_refused_with_what_is_needed(
        terms in proptest::collection::vec((0usize..13, -2.0f64..2.0, 0.25f64..3.0), 1..4),
        narrow_out in any::<bool>(),
    ) {
        let acts = smooth();
        let t = terms.clone();
        let f: RealFn = Arc::new(move |x: f64| -> f64 {
            t.iter().map(|&(i, c, s)| c * acts[i % acts.len()].eval(0, s * x)).sum()
        });
        let (fin, fout) = if narrow_out { (fmt(13, 5), fmt(10, 4)) } else { (fmt(12, 4), fmt(12, 4)) };
        let opts = SpecOptions::with_formats(fin, fout);
        match build_fitted_fn("rand", "random sum", f.clone(), &opts, DatapathChoice::Poly) {
            Ok(b) => {
                prop_assert_eq!(b.datapath, BuiltDatapath::Table);
                let worst = (fin.min_raw()..=fin.max_raw())
                    .map(|x| {
                        let exact = fout.saturate_f64(f(fin.to_f64(x)));
                        (fout.to_f64(b.spec.eval_raw(0, 0, x)) - exact).abs() / fout.ulp()
                    })
                    .fold(0.0f64, |w, e| if e.is_nan() { f64::INFINITY } else { w.max(e) });
                prop_assert!(worst <= opts.max_error_ulp + 1e-12, "{} ULP", worst);
                prop_assert!(worst <= b.spec.layers()[0].bound.total_ulp + 1e-12);
            }
            Err(e) => {
                let m = e.to_string();
                prop_assert!(
                    m.contains("raise --max-error-ulp")
                        || m.contains("--max-coef-width")
                        || m.contains("fit more segments"),
                    "{}", m
                );
            }
        }
    }
}
