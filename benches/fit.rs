//! Fit time of smooth activations: the fitter's plan plus the quantized build (every
//! coefficient format measured on all 2^W inputs), as `gen` runs it, at 16 and 24-bit inputs.
//! The targets: ≤ 1 s per activation at 16 bits, ≤ 10 s at 24 bits on the 2-core
//! machine. Next to it, in the same run, the plain f64 function evaluated at every input code
//! once (the floor any exhaustive proof pays), so the ratio is comparable across runs on a
//! shared, noisy machine. Run with `cargo bench --bench fit`.

use repact_hw::fit::build::build_fitted;
use repact_hw::fit::DatapathChoice;
use repact_hw::fixedpoint::{ApFixed, SpecOptions};
use repact_hw::model::Activation;
use std::hint::black_box;
use std::time::Instant;

fn fmt(w: u32, i: i32) -> ApFixed {
    ApFixed::new(w, i).expect("format")
}

/// Seconds to evaluate `a` at every code of `input` once.
fn reference_pass(a: &Activation, input: ApFixed) -> f64 {
    let t = Instant::now();
    let mut acc = 0.0f64;
    for raw in input.min_raw()..=input.max_raw() {
        acc += a.eval(0, black_box(input.to_f64(raw)));
    }
    black_box(acc);
    t.elapsed().as_secs_f64()
}

fn main() {
    let cases: [(&str, ApFixed, ApFixed); 5] = [
        ("silu", fmt(24, 8), fmt(16, 6)),
        ("sigmoid", fmt(24, 8), fmt(16, 6)),
        ("silu", fmt(16, 6), fmt(16, 6)),
        ("gelu", fmt(16, 6), fmt(16, 6)),
        ("tanh", fmt(16, 6), fmt(16, 6)),
    ];
    println!(
        "{:<10} {:<16} {:<16} {:>9} {:>11} {:>7} {:>9}",
        "function", "input", "output", "fit+build", "f64 pass", "ratio", "max ULP"
    );
    for (name, input, output) in cases {
        let a = Activation::parse_cli(name).expect("activation");
        let opts = SpecOptions::with_formats(input, output);
        let t = Instant::now();
        let built = build_fitted(name, &a, &opts, DatapathChoice::Poly)
            .unwrap_or_else(|e| panic!("{name} at {input}: {e}"));
        let fit = t.elapsed().as_secs_f64();
        let pass = reference_pass(&a, input);
        println!(
            "{name:<10} {:<16} {:<16} {fit:>8.2}s {pass:>10.3}s {:>7.1} {:>9.4}",
            input.to_string(),
            output.to_string(),
            fit / pass,
            built.spec.layers()[0].bound.total_ulp
        );
    }
}
