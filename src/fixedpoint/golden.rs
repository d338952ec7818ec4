//! The golden model: executes the [`DatapathSpec`] step by step on raw bits, holding every
//! stage in a `fixed` integer wrapped to the stage's width, exactly as the hardware's wires do.
//! If a width in the spec were too narrow, this model would wrap where exact arithmetic does
//! not; the property tests compare it against an exact i128 evaluation to rule that out.

use super::spec::DatapathSpec;
use fixed::types::I64F0;

/// Sign-extends the low `width` bits of `v`: what a `width`-bit signed wire holds.
fn wrap(v: I64F0, width: u32) -> I64F0 {
    let shift = 64 - width;
    (v << shift) >> shift
}

impl DatapathSpec {
    /// The segment input `x_raw` selects in `layer`.
    pub fn segment(&self, layer: usize, x_raw: i64) -> usize {
        self.layers()[layer]
            .thresholds
            .iter()
            .filter(|&&t| x_raw >= t)
            .count()
    }

    /// Runs the datapath on one raw input sample (a sign-extended value of the input format)
    /// and returns the raw output sample.
    pub fn eval_raw(&self, layer: usize, channel: usize, x_raw: i64) -> i64 {
        let w = self.widths();
        let seg = self.segment(layer, x_raw);
        let c = self.layers()[layer].coefs[channel][seg];
        let x = wrap(I64F0::from_bits(x_raw), w.x);
        let c2 = I64F0::from_bits(c.c2);
        let k1 = I64F0::from_bits(c.k1);
        let k0 = I64F0::from_bits(c.k0);
        let p1 = wrap(c2.wrapping_mul(x), w.p1);
        let s1 = wrap(p1.wrapping_add(k1), w.s1);
        let t = wrap(s1 >> self.shift1(), w.t);
        let p2 = wrap(t.wrapping_mul(x), w.p2);
        let y = wrap(p2.wrapping_add(k0), w.y);
        let q = wrap(y >> self.shift2(), w.q);
        let out = self.output();
        q.clamp(
            I64F0::from_bits(out.min_raw()),
            I64F0::from_bits(out.max_raw()),
        )
        .to_bits()
    }

    /// Quantizes `x` to the input format (nearest, ties to even, saturating), runs the datapath
    /// and returns the output as a real number. `None` for NaN.
    pub fn eval_f64(&self, layer: usize, channel: usize, x: f64) -> Option<f64> {
        let raw = self.input().quantize(x)?;
        Some(self.output().to_f64(self.eval_raw(layer, channel, raw)))
    }
}
