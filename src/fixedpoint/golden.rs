//! The golden model: executes the [`DatapathSpec`]'s stage list step by step on raw bits,
//! holding every signal in a 64-bit integer wrapped to its width, exactly as the hardware's
//! wires do. If a width in the spec were too narrow, this model would wrap where exact
//! arithmetic does not; the property tests compare it against an exact i128 evaluation to
//! rule that out. The steps run from their compiled form ([`crate::fixedpoint::stage`]'s
//! `Exec`, made once when the spec is built) so the interpretation costs little per sample.

use super::spec::{DatapathSpec, SegmentCoefs, SegmentSelect};
use super::stage::{compile_steps, Exec, Horner, Signal};

/// Sign-extends the low `64 - sh` bits of `v`: what a `(64 - sh)`-bit signed wire holds.
#[inline(always)]
fn wrap(v: i64, sh: u32) -> i64 {
    (v << sh) >> sh
}

/// Slots of the golden model's registers (a power of two above the signal count, so an index
/// masked with `SLOTS - 1` needs no bounds check).
const SLOTS: usize = 16;

/// The fused Horner pipeline on one sample, given its segment's coefficients and origin and
/// the input's wrap shift.
#[inline(always)]
fn horner_at(h: &Horner, in_sh: u32, c: SegmentCoefs, origin: i64, x_raw: i64) -> i64 {
    let x = wrap(x_raw, in_sh);
    let v = match h.v {
        Some(sh) => wrap(x.wrapping_sub(origin), sh),
        None => x,
    };
    let c2 = wrap(c.c2, h.coef[0]);
    let k1 = wrap(c.k1, h.coef[1]);
    let k0 = wrap(c.k0, h.coef[2]);
    let p1 = wrap(c2.wrapping_mul(v), h.p1);
    let s1 = wrap(p1.wrapping_add(k1), h.s1);
    let t = wrap(s1 >> h.n1, h.t);
    let p2 = wrap(t.wrapping_mul(v), h.p2);
    let y = wrap(p2.wrapping_add(k0), h.y);
    let q = wrap(y >> h.n2, h.q);
    q.clamp(h.lo, h.hi)
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
        self.run(self.exec(), layer, channel, x_raw)
    }

    /// [`DatapathSpec::eval_raw`] of every sample of `xs` on one layer and channel, into `ys`
    /// (`ys.len()` must equal `xs.len()`): the same datapath, with the dispatch on the
    /// compiled pipeline done once per call instead of once per sample (the exhaustive
    /// verification phase runs every code of a layer this way). For the fused Horner
    /// pipeline, consecutive inputs inside one segment's input range (`Segment::lo..=hi`,
    /// which are exactly the inputs that select it) share its coefficients, so ascending
    /// inputs pay the segment selection once per segment instead of once per sample.
    pub fn eval_raw_many(&self, layer: usize, channel: usize, xs: &[i64], ys: &mut [i64]) {
        assert_eq!(xs.len(), ys.len(), "eval_raw_many: one output per input");
        match self.exec() {
            [Exec::Horner(h)] => {
                let h = *h;
                let l = &self.layers()[layer];
                let in_sh = 64 - self.input().width();
                let mut i = 0;
                while i < xs.len() {
                    let seg = self.segment(layer, xs[i]);
                    let s = &l.segments[seg];
                    let c = l.coefs[channel][seg];
                    let origin = if h.v.is_some() { s.origin } else { 0 };
                    let mut k = i;
                    while k < xs.len() && s.lo <= xs[k] && xs[k] <= s.hi {
                        ys[k] = horner_at(&h, in_sh, c, origin, xs[k]);
                        k += 1;
                    }
                    if k == i {
                        // Not in the range the segment records (never for a consistent
                        // spec): the per-sample path, which is always right.
                        ys[i] = self.horner(&h, layer, channel, xs[i]);
                        k = i + 1;
                    }
                    i = k;
                }
            }
            exec => {
                for (y, &x) in ys.iter_mut().zip(xs) {
                    *y = self.run(exec, layer, channel, x);
                }
            }
        }
    }

    /// [`DatapathSpec::eval_raw`] by the step-by-step interpreter alone, never fused: what the
    /// fused fast path is tested against.
    pub fn eval_raw_unfused(&self, layer: usize, channel: usize, x_raw: i64) -> i64 {
        let steps: Vec<_> = self.steps().copied().collect();
        let out = self.output();
        let exec = compile_steps(&steps, (out.min_raw(), out.max_raw()));
        self.run(&exec, layer, channel, x_raw)
    }

    /// The fused Horner pipeline: the steps of `poly_pipeline` as straight-line code.
    #[inline(always)]
    fn horner(&self, h: &Horner, layer: usize, channel: usize, x_raw: i64) -> i64 {
        let l = &self.layers()[layer];
        let seg = self.segment(layer, x_raw);
        let origin = if h.v.is_some() {
            l.segments[seg].origin
        } else {
            0
        };
        horner_at(
            h,
            64 - self.input().width(),
            l.coefs[channel][seg],
            origin,
            x_raw,
        )
    }

    fn run(&self, exec: &[Exec], layer: usize, channel: usize, x_raw: i64) -> i64 {
        if let [Exec::Horner(h)] = exec {
            return self.horner(h, layer, channel, x_raw);
        }
        let l = &self.layers()[layer];
        let mut r = [0i64; SLOTS];
        let at = |s: u8| s as usize & (SLOTS - 1);
        let mut seg = 0;
        r[Signal::X.slot()] = wrap(x_raw, 64 - self.input().width());
        for e in exec {
            match *e {
                Exec::Horner(h) => return self.horner(&h, layer, channel, x_raw),
                Exec::Lookup { sh } => {
                    seg = self.segment(layer, x_raw);
                    let c = l.coefs[channel][seg];
                    r[Signal::C2.slot()] = wrap(c.c2, sh[0]);
                    r[Signal::K1.slot()] = wrap(c.k1, sh[1]);
                    r[Signal::K0.slot()] = wrap(c.k0, sh[2]);
                }
                Exec::Offset { sh } => {
                    let o = l.segments[seg].origin;
                    r[Signal::V.slot()] = wrap(r[Signal::X.slot()].wrapping_sub(o), sh);
                }
                Exec::Mul { d, a, b, sh } => {
                    r[at(d)] = wrap(r[at(a)].wrapping_mul(r[at(b)]), sh);
                }
                Exec::Add { d, a, b, sh } => {
                    r[at(d)] = wrap(r[at(a)].wrapping_add(r[at(b)]), sh);
                }
                Exec::Shr { d, s, n, sh } => r[at(d)] = wrap(r[at(s)] >> n, sh),
                Exec::Sat { d, s, lo, hi } => r[at(d)] = r[at(s)].clamp(lo, hi),
                Exec::Rom => {
                    let i = (x_raw - self.input().min_raw()) as usize;
                    r[Signal::Out.slot()] = l.rom[i];
                }
            }
        }
        r[Signal::Out.slot()]
    }

    /// Quantizes `x` to the input format (nearest, ties to even, saturating), runs the datapath
    /// and returns the output as a real number. `None` for NaN.
    pub fn eval_f64(&self, layer: usize, channel: usize, x: f64) -> Option<f64> {
        let raw = self.input().quantize(x)?;
        Some(self.output().to_f64(self.eval_raw(layer, channel, raw)))
    }
}
