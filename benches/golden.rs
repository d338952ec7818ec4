//! Golden-model speed, next to the plain f64 folded function measured in the same run
//! (the machine is shared and noisy, so the ratio is the number to compare across runs).
//! Run with `cargo bench --bench golden`.

use repact_hw::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use repact_hw::model::fold;
use repact_hw::weights::{load, LoadOptions};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/repact-digits/bn/model.safetensors");
    let net = load(&path, &LoadOptions::default()).expect("bundled example loads");
    let f = ApFixed::new(16, 6).expect("format");
    let folded = fold(&net.layers[4]).unwrap();
    let spec = DatapathSpec::build(
        std::slice::from_ref(&folded),
        &SpecOptions::with_formats(f, f),
    )
    .expect("spec builds");
    let inputs: Vec<i64> = (f.min_raw()..=f.max_raw()).collect();
    let floats: Vec<f64> = inputs.iter().map(|&x| f.to_f64(x)).collect();
    let rounds = 200;
    let n = (inputs.len() * rounds) as f64;

    let t = Instant::now();
    let mut acc = 0i64;
    for _ in 0..rounds {
        for &x in &inputs {
            acc = acc.wrapping_add(spec.eval_raw(0, 0, black_box(x)));
        }
    }
    let golden = n / t.elapsed().as_secs_f64();
    black_box(acc);

    let t = Instant::now();
    let mut facc = 0.0f64;
    for _ in 0..rounds {
        for &x in &floats {
            facc += folded.eval(0, black_box(x));
        }
    }
    let float = n / t.elapsed().as_secs_f64();
    black_box(facc);

    let t = Instant::now();
    let mut qacc = 0i64;
    for _ in 0..rounds {
        for &x in &floats {
            qacc = qacc.wrapping_add(spec.eval_f64(0, 0, black_box(x)).map_or(0, |v| v as i64));
        }
    }
    let quantized = n / t.elapsed().as_secs_f64();
    black_box(qacc);

    println!(
        "golden model (raw bits in/out):     {:8.1} M values/s",
        golden / 1e6
    );
    println!(
        "golden model (f64 in, quantize+run): {:8.1} M values/s",
        quantized / 1e6
    );
    println!(
        "f64 folded function:                 {:8.1} M values/s",
        float / 1e6
    );
    println!(
        "ratio golden/f64:                    {:8.3}",
        golden / float
    );
}
