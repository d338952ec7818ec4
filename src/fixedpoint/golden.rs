//! The golden model: executes the [`DatapathSpec`]'s stage list step by step on raw bits,
//! holding every signal in a `fixed` integer wrapped to its width, exactly as the hardware's
//! wires do. If a width in the spec were too narrow, this model would wrap where exact
//! arithmetic does not; the property tests compare it against an exact i128 evaluation to
//! rule that out.

use super::spec::{DatapathSpec, SegmentSelect};
use super::stage::{Signal, Step, SIGNALS};
use fixed::types::I64F0;

/// Sign-extends the low `width` bits of `v`: what a `width`-bit signed wire holds.
fn wrap(v: I64F0, width: u32) -> I64F0 {
    let shift = 64 - width;
    (v << shift) >> shift
}

impl DatapathSpec {
    /// The segment (index into `coefs[channel]`) input `x_raw` selects in `layer`: the
    /// number of thresholds it reaches, and inside a table's core interval its index bits.
    pub fn segment(&self, layer: usize, x_raw: i64) -> usize {
        let l = &self.layers()[layer];
        let rank = l.thresholds.iter().filter(|&&t| x_raw >= t).count();
        match self.select() {
            SegmentSelect::Table(g) => {
                let b = g.outer_below;
                if rank < b {
                    rank
                } else if rank == b {
                    b + ((x_raw - g.lo_raw) >> g.offset_bits) as usize
                } else {
                    rank - 1 + g.table_segments()
                }
            }
            _ => rank,
        }
    }

    /// Runs the datapath on one raw input sample (a sign-extended value of the input format)
    /// and returns the raw output sample.
    pub fn eval_raw(&self, layer: usize, channel: usize, x_raw: i64) -> i64 {
        let l = &self.layers()[layer];
        let mut r = [I64F0::ZERO; SIGNALS];
        let mut seg = 0;
        r[Signal::X.slot()] = wrap(I64F0::from_bits(x_raw), self.input().width());
        for step in self.steps() {
            match *step {
                Step::Lookup { widths } => {
                    seg = self.segment(layer, x_raw);
                    let c = l.coefs[channel][seg];
                    r[Signal::C2.slot()] = wrap(I64F0::from_bits(c.c2), widths[0]);
                    r[Signal::K1.slot()] = wrap(I64F0::from_bits(c.k1), widths[1]);
                    r[Signal::K0.slot()] = wrap(I64F0::from_bits(c.k0), widths[2]);
                }
                Step::Offset { width } => {
                    let o = I64F0::from_bits(l.segments[seg].origin);
                    r[Signal::V.slot()] = wrap(r[Signal::X.slot()].wrapping_sub(o), width);
                }
                Step::Mul { dst, a, b, width } => {
                    r[dst.slot()] = wrap(r[a.slot()].wrapping_mul(r[b.slot()]), width);
                }
                Step::Add { dst, a, b, width } => {
                    r[dst.slot()] = wrap(r[a.slot()].wrapping_add(r[b.slot()]), width);
                }
                Step::ShiftRound {
                    dst,
                    src,
                    shift,
                    width,
                    ..
                } => r[dst.slot()] = wrap(r[src.slot()] >> shift, width),
                Step::Saturate { dst, src, .. } => {
                    let out = self.output();
                    r[dst.slot()] = r[src.slot()].clamp(
                        I64F0::from_bits(out.min_raw()),
                        I64F0::from_bits(out.max_raw()),
                    );
                }
                Step::Rom { .. } => {
                    let i = (x_raw - self.input().min_raw()) as usize;
                    r[Signal::Out.slot()] = I64F0::from_bits(l.rom[i]);
                }
            }
        }
        r[Signal::Out.slot()].to_bits()
    }

    /// Quantizes `x` to the input format (nearest, ties to even, saturating), runs the datapath
    /// and returns the output as a real number. `None` for NaN.
    pub fn eval_f64(&self, layer: usize, channel: usize, x: f64) -> Option<f64> {
        let raw = self.input().quantize(x)?;
        Some(self.output().to_f64(self.eval_raw(layer, channel, raw)))
    }
}
