//! The error of the fixed-point function against the f64 one, measured over the inputs of
//! the format (the numbers the report prints; the report only formats them).

use crate::fixedpoint::DatapathSpec;
use serde::Serialize;

/// Inputs up to this many bits are measured exhaustively; wider ones on an even grid of
/// `2^MAX_EXHAUSTIVE_BITS` points plus every segment boundary.
pub const MAX_EXHAUSTIVE_BITS: u32 = 20;

/// The error of one channel of one layer, measured by running the golden model (which the
/// co-simulation proves equal to the hardware) against the f64 reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasuredError {
    /// Channel.
    pub channel: usize,
    /// Whether every input of the format was measured.
    pub exhaustive: bool,
    /// Inputs measured.
    pub inputs: u64,
    /// Largest |hardware − f64| in output ULP.
    pub max_abs_ulp: f64,
    /// Mean |hardware − f64| in output ULP.
    pub mean_abs_ulp: f64,
    /// An input (raw) where the largest error occurs (the smallest such).
    pub worst_input_raw: i64,
    /// The same input as a real number.
    pub worst_input: f64,
    /// Inputs whose output is the correctly rounded one (error at most half an ULP).
    pub within_half_ulp: u64,
}

/// Measures the error of every channel of `layer` over every input (inputs wider than
/// 20 bits: on an even grid of 2^20 points plus every segment boundary).
pub fn measure_error(spec: &DatapathSpec, layer: usize) -> Vec<MeasuredError> {
    let (inp, out) = (spec.input(), spec.output());
    let exhaustive = inp.width() <= MAX_EXHAUSTIVE_BITS;
    let inputs: Vec<i64> = if exhaustive {
        (inp.min_raw()..=inp.max_raw()).collect()
    } else {
        let step = 1i64 << (inp.width() - MAX_EXHAUSTIVE_BITS);
        let mut v: Vec<i64> = (inp.min_raw()..=inp.max_raw())
            .step_by(step as usize)
            .collect();
        for &t in &spec.layers()[layer].thresholds {
            v.extend([t - 1, t, t + 1]);
        }
        v.push(inp.max_raw());
        v.retain(|x| (inp.min_raw()..=inp.max_raw()).contains(x));
        v.sort_unstable();
        v.dedup();
        v
    };
    (0..spec.layers()[layer].channels())
        .map(|ch| {
            let (mut max, mut sum, mut worst, mut half) = (-1.0f64, 0.0f64, 0i64, 0u64);
            for &x in &inputs {
                let e = ((out.to_f64(spec.eval_raw(layer, ch, x)) - spec.reference(layer, ch, x))
                    / out.ulp())
                .abs();
                if e > max {
                    max = e;
                    worst = x;
                }
                sum += e;
                if e <= 0.5 {
                    half += 1;
                }
            }
            MeasuredError {
                channel: ch,
                exhaustive,
                inputs: inputs.len() as u64,
                max_abs_ulp: max,
                mean_abs_ulp: sum / inputs.len() as f64,
                worst_input_raw: worst,
                worst_input: inp.to_f64(worst),
                within_half_ulp: half,
            }
        })
        .collect()
}
