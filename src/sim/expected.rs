//! Expected outputs of the exhaustive phase, computed by the golden model ahead of the
//! simulation in blocks, so that the loop driving the simulator only compares bytes.
//!
//! The phase sends sample `s` = (input code index `s / C`, channel `s % C`) for a layer with C
//! channels, `lanes` samples per beat. A block holds the expected `m_axis_tdata` of
//! consecutive beats exactly as the simulator stores that port (see
//! [`super::verilator::VerilatedModel::storage_bytes`]): the bench captures the port of every
//! output beat into a buffer of the same layout, so checking a batch of beats is one slice
//! comparison (a `memcmp`), not a decode per lane. This layout is the fastest choice: a
//! table of raw outputs per channel (2^W entries) would need packing into beats on the
//! checking side anyway, and per-channel layers interleave the channels in sending order.
//!
//! A producer thread fills blocks while the simulator runs, or the phase computes them
//! itself between batches when no second core is free; either way at most
//! [`BLOCKS_IN_FLIGHT`] blocks exist at a time, so memory does not grow with the channel count
//! or the input width. The golden model runs a channel's codes of a block in one call
//! ([`DatapathSpec::eval_raw_many`]), and the largest error of its outputs against the f64
//! function is measured on the same pass with the format constants hoisted out of the loop
//! ([`Reference`]): with every sample compared bit for bit, that is the hardware's error too.

use crate::fixedpoint::{DatapathSpec, LayerSpec};
use std::sync::mpsc::{sync_channel, Receiver};

/// Samples per block: large enough to amortize the hand-over and the golden model's per-call
/// set-up, small enough that a block (32 KiB of 16-bit outputs) stays in the L1/L2 cache next
/// to the model's state, and that the producer thread runs ahead after a short start.
pub const BLOCK_SAMPLES: u64 = 1 << 14;
/// Blocks computed ahead of the simulation (plus one being checked): enough to ride out the
/// producer thread being descheduled for a few milliseconds on a busy machine (16 blocks of
/// 16-bit outputs are 512 KiB, at most 1.5 MiB for 24 bits).
pub const BLOCKS_IN_FLIGHT: usize = 16;

/// The input codes of the exhaustive phase, in sending order.
#[derive(Debug, Clone)]
pub enum Codes {
    /// Every code from `min` on, `count` of them.
    Range {
        /// First code.
        min: i64,
        /// Number of codes.
        count: u64,
    },
    /// An explicit list (random samples plus corners, for `--random-samples`).
    List(Vec<i64>),
}

impl Codes {
    /// Number of codes.
    pub fn len(&self) -> u64 {
        match self {
            Codes::Range { count, .. } => *count,
            Codes::List(v) => v.len() as u64,
        }
    }

    /// True when there is no code.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Code number `i`.
    #[inline]
    pub fn get(&self, i: u64) -> i64 {
        match self {
            Codes::Range { min, .. } => min + i as i64,
            Codes::List(v) => v[i as usize],
        }
    }
}

/// What the phase streams: `codes.len() × C` samples of one layer, `lanes` per beat, and how
/// a beat's `m_axis_tdata` is stored.
#[derive(Clone, Copy)]
pub struct Schedule<'a> {
    /// The datapath.
    pub spec: &'a DatapathSpec,
    /// The layer.
    pub layer: usize,
    /// The input codes, each sent once per channel.
    pub codes: &'a Codes,
    /// Channels C of the layer.
    pub channels: u64,
    /// Samples per beat.
    pub lanes: u64,
    /// Samples in all: codes × channels.
    pub samples: u64,
    /// Beats in all (the last one padded when `samples` is not a multiple of `lanes`).
    pub beats: u64,
    /// Bytes of one output sample slot (the output width rounded up to whole bytes).
    pub out_slot_bytes: usize,
    /// Bytes the simulator stores `m_axis_tdata` in (`lanes × out_slot_bytes`, rounded up
    /// to the storage type).
    pub beat_bytes: usize,
}

impl<'a> Schedule<'a> {
    /// The schedule of `layer` with `lanes` samples per beat and `beat_bytes` bytes of output
    /// storage per beat.
    pub fn new(
        spec: &'a DatapathSpec,
        layer: usize,
        codes: &'a Codes,
        lanes: usize,
        beat_bytes: usize,
    ) -> Self {
        let channels = spec.layers()[layer].channels() as u64;
        let samples = codes.len() * channels;
        let lanes = lanes as u64;
        Schedule {
            spec,
            layer,
            codes,
            channels,
            lanes,
            samples,
            beats: samples.div_ceil(lanes),
            out_slot_bytes: spec.output().slot_bits() as usize / 8,
            beat_bytes,
        }
    }

    /// Code and channel of lane `i` of beat `b`; lanes past the last sample repeat the beat's
    /// first code (their channel still follows the core's counter).
    pub fn sample(&self, b: u64, i: u64) -> (i64, usize) {
        let s = b * self.lanes + i;
        let ch = (s % self.channels) as usize;
        let s = if s < self.samples { s } else { b * self.lanes };
        (self.codes.get(s / self.channels), ch)
    }

    /// Beats per block.
    pub fn block_beats(&self) -> u64 {
        (BLOCK_SAMPLES / self.lanes).max(1)
    }
}

/// [`DatapathSpec::reference`] with the format constants (ULPs, saturation range) hoisted out
/// of the per-sample loop: the same f64 operations in the same order, so bit-identical (a
/// test compares them on every code), at a fraction of the cost.
pub struct Reference<'a> {
    layer: &'a LayerSpec,
    in_ulp: f64,
    out_ulp: f64,
    lo: f64,
    hi: f64,
}

impl<'a> Reference<'a> {
    /// The reference of `layer`.
    pub fn new(spec: &'a DatapathSpec, layer: usize) -> Self {
        let (lo, hi) = spec.output().range();
        Reference {
            layer: &spec.layers()[layer],
            in_ulp: spec.input().ulp(),
            out_ulp: spec.output().ulp(),
            lo,
            hi,
        }
    }

    /// The saturated f64 function at raw input `x` of `channel`.
    #[inline]
    pub fn at(&self, channel: usize, x: i64) -> f64 {
        self.layer
            .function(channel, x as f64 * self.in_ulp)
            .clamp(self.lo, self.hi)
    }

    /// |raw output `y` − the reference at `x`|, in real units (not ULPs).
    #[inline]
    pub fn error(&self, channel: usize, x: i64, y: i64) -> f64 {
        (y as f64 * self.out_ulp - self.at(channel, x)).abs()
    }

    /// The largest [`error`](Self::error) of the outputs `ys` at the inputs `xs` of
    /// `channel`. For a folded layer (the reference is its piecewise quadratic) and ascending
    /// inputs, this walks the inputs segment by segment with the segment's coefficients
    /// fixed, so the inner loop has no segment search and no branch: the same expression as
    /// [`crate::model::FoldedLayer::eval`], hence the same bits (a test compares them).
    pub fn max_error(&self, channel: usize, xs: &[i64], ys: &[i64], ascending: bool) -> f64 {
        let mut m = 0f64;
        if !ascending || self.layer.reference.is_some() {
            for (&x, &y) in xs.iter().zip(ys) {
                m = m.max(self.error(channel, x, y));
            }
            return m;
        }
        let folded = &self.layer.folded;
        let (iu, ou, lo, hi) = (self.in_ulp, self.out_ulp, self.lo, self.hi);
        let mut start = 0;
        while start < xs.len() {
            let seg = folded.segment_of(xs[start] as f64 * iu);
            let end = match folded.breakpoints.get(seg) {
                Some(&b) => start + xs[start..].partition_point(|&x| (x as f64 * iu) < b),
                None => xs.len(),
            };
            let [c0, c1, c2] = folded.segments[channel][seg];
            for (&x, &y) in xs[start..end].iter().zip(&ys[start..end]) {
                let x = x as f64 * iu;
                let r = (c0 + x * (c1 + c2 * x)).clamp(lo, hi);
                m = m.max((y as f64 * ou - r).abs());
            }
            start = end.max(start + 1);
        }
        m
    }
}

/// Expected `m_axis_tdata` of consecutive beats, and the golden model's largest error on
/// their samples.
pub struct Block {
    /// First beat.
    pub first_beat: u64,
    /// `beat_bytes` per beat, in the simulator's storage layout.
    pub data: Vec<u8>,
    /// Largest |golden − saturated f64 function| over the block's samples (padding lanes of a
    /// last partial beat excluded), in output ULPs.
    pub max_error_ulp: f64,
}

/// Writes the low `SB` bytes of `y` at `at` (a sample slot, little-endian as stored).
#[inline(always)]
fn put_slot<const SB: usize>(data: &mut [u8], at: usize, y: i64) {
    data[at..at + SB].copy_from_slice(&y.to_le_bytes()[..SB]);
}

/// Computes the block of beats `first..first + n` (see [`BlockMaker`] for many blocks).
pub fn compute_block(sch: &Schedule, first: u64, n: u64) -> Block {
    BlockMaker::default().block(sch, first, n)
}

/// Computes blocks, reusing its per-channel input and output buffers from block to block
/// (fresh ones of this size come from `mmap` and page-fault on first touch, which costs as
/// much as the golden model itself).
#[derive(Default)]
pub struct BlockMaker {
    xs: Vec<i64>,
    ys: Vec<i64>,
}

impl BlockMaker {
    /// The block of beats `first..first + n` of `sch`.
    pub fn block(&mut self, sch: &Schedule, first: u64, n: u64) -> Block {
        match sch.out_slot_bytes {
            1 => self.block_with::<1>(sch, first, n),
            2 => self.block_with::<2>(sch, first, n),
            3 => self.block_with::<3>(sch, first, n),
            _ => self.block_with::<4>(sch, first, n),
        }
    }

    fn block_with<const SB: usize>(&mut self, sch: &Schedule, first: u64, n: u64) -> Block {
        let (xs, ys) = (&mut self.xs, &mut self.ys);
        block_with::<SB>(sch, first, n, xs, ys)
    }
}

fn block_with<const SB: usize>(
    sch: &Schedule,
    first: u64,
    n: u64,
    xs: &mut Vec<i64>,
    ys: &mut Vec<i64>,
) -> Block {
    let (spec, layer, c, lanes) = (sch.spec, sch.layer, sch.channels, sch.lanes);
    let bb = sch.beat_bytes;
    let mut data = vec![0u8; n as usize * bb];
    let s0 = first * lanes;
    let s_end = (first + n) * lanes;
    let s1 = s_end.min(sch.samples);
    let reference = Reference::new(spec, layer);
    let mut max_err = 0f64;
    let ascending = matches!(sch.codes, Codes::Range { .. });
    // Beats without storage padding: the block is the samples' slots back to back.
    let packed = bb == lanes as usize * SB;
    // Per channel: its samples of the block are every C-th from the first one, so the golden
    // model runs them in one call; they are then scattered to (beat, lane) positions, which
    // advance by C samples with a carry instead of a division per sample.
    let (step_beat, step_lane) = (c / lanes, c % lanes);
    for ch in 0..c.min(s1.saturating_sub(s0)) {
        let d0 = (ch + c - s0 % c) % c;
        if s0 + d0 >= s1 {
            continue;
        }
        let first_code = (s0 + d0) / c;
        let count = (s1 - (s0 + d0)).div_ceil(c);
        xs.clear();
        match sch.codes {
            Codes::Range { min, .. } => {
                let from = min + first_code as i64;
                xs.extend(from..from + count as i64);
            }
            Codes::List(v) => {
                xs.extend_from_slice(&v[first_code as usize..(first_code + count) as usize])
            }
        }
        ys.resize(xs.len(), 0);
        spec.eval_raw_many(layer, ch as usize, xs, ys);
        max_err = max_err.max(reference.max_error(ch as usize, xs, ys, ascending));
        if packed {
            // Sample d of the block is at byte d × SB: a strided write, no (beat, lane).
            let step = c as usize * SB;
            let out = &mut data[d0 as usize * SB..];
            for (k, &y) in ys.iter().enumerate() {
                put_slot::<SB>(out, k * step, y);
            }
            continue;
        }
        let (mut beat, mut lane) = (d0 / lanes, d0 % lanes);
        for &y in ys.iter() {
            put_slot::<SB>(&mut data, beat as usize * bb + lane as usize * SB, y);
            beat += step_beat;
            lane += step_lane;
            if lane >= lanes {
                lane -= lanes;
                beat += 1;
            }
        }
    }
    // Padding lanes of a last partial beat: what the core computes for them is still checked.
    for s in s1.max(s0)..s_end {
        let (b, i) = (s / lanes, s % lanes);
        let (x, ch) = sch.sample(b, i);
        let y = spec.eval_raw(layer, ch, x);
        put_slot::<SB>(&mut data, (b - first) as usize * bb + i as usize * SB, y);
    }
    Block {
        first_beat: first,
        data,
        max_error_ulp: max_err / spec.output().ulp(),
    }
}

/// Where the expected blocks come from.
enum Source<'r, 'a> {
    /// A producer thread (see [`with_blocks`]).
    Thread(&'r Receiver<Block>),
    /// Computed on demand, block by block, when no second core is free.
    Inline {
        sch: Schedule<'a>,
        next: u64,
        maker: BlockMaker,
    },
}

/// The expected beats in sending order, block by block, and the golden model's largest error
/// on the samples handed out so far.
pub struct Expected<'r, 'a> {
    source: Source<'r, 'a>,
    block: Vec<u8>,
    at: usize,
    beat_bytes: usize,
    max_error_ulp: f64,
}

impl<'r, 'a> Expected<'r, 'a> {
    /// Blocks computed on demand by the caller's thread.
    pub fn inline(sch: Schedule<'a>) -> Self {
        Expected {
            source: Source::Inline {
                sch,
                next: 0,
                maker: BlockMaker::default(),
            },
            block: Vec::new(),
            at: 0,
            beat_bytes: sch.beat_bytes,
            max_error_ulp: 0.0,
        }
    }

    /// Blocks from a producer thread (see [`with_blocks`]).
    pub fn from_thread(rx: &'r Receiver<Block>, beat_bytes: usize) -> Self {
        Expected {
            source: Source::Thread(rx),
            block: Vec::new(),
            at: 0,
            beat_bytes,
            max_error_ulp: 0.0,
        }
    }

    /// Largest error of the golden model on the samples handed out, in output ULPs.
    pub fn max_error_ulp(&self) -> f64 {
        self.max_error_ulp
    }

    /// The expected bytes of the next beats, as many as are at hand in the current block and
    /// at most `beats`; `None` past the last beat. Consumes them.
    #[inline]
    pub fn take(&mut self, beats: u64) -> Option<&[u8]> {
        if self.at == self.block.len() {
            self.refill()?;
        }
        let left = (self.block.len() - self.at) / self.beat_bytes;
        let k = (beats as usize).min(left) * self.beat_bytes;
        let at = self.at;
        self.at += k;
        Some(&self.block[at..at + k])
    }

    #[cold]
    fn refill(&mut self) -> Option<()> {
        let b = match &mut self.source {
            Source::Thread(rx) => rx.recv().ok()?,
            Source::Inline { sch, next, maker } => {
                if *next >= sch.beats {
                    return None;
                }
                let n = sch.block_beats().min(sch.beats - *next);
                let b = maker.block(sch, *next, n);
                *next += n;
                b
            }
        };
        if b.data.is_empty() {
            return None;
        }
        self.max_error_ulp = self.max_error_ulp.max(b.max_error_ulp);
        self.block = b.data;
        self.at = 0;
        Some(())
    }
}

/// Runs `body` with a receiver of the blocks covering all beats of `sch`, in order, computed
/// by a producer thread (which stops early if `body` returns first).
pub fn with_blocks<R>(sch: Schedule, body: impl FnOnce(&Receiver<Block>) -> R) -> R {
    let (tx, rx) = sync_channel(BLOCKS_IN_FLIGHT);
    std::thread::scope(|s| {
        s.spawn(move || {
            let (mut first, mut maker) = (0, BlockMaker::default());
            while first < sch.beats {
                let n = sch.block_beats().min(sch.beats - first);
                if tx.send(maker.block(&sch, first, n)).is_err() {
                    return;
                }
                first += n;
            }
        });
        let r = body(&rx);
        // Dropping the receiver ends the producer at its next send.
        drop(rx);
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixedpoint::{ApFixed, SpecOptions};
    use crate::model::FoldedLayer;

    /// A three-channel piecewise quadratic (per-channel coefficients, as a PReLU layer has).
    fn spec(input: (u32, i32), output: (u32, i32)) -> DatapathSpec {
        let folded = FoldedLayer {
            name: "act".into(),
            variant: "piecewise".into(),
            breakpoints: vec![-1.0, 0.5],
            segments: (0..3)
                .map(|c| {
                    let c = c as f64;
                    vec![
                        [0.1 * c, 0.2 + 0.1 * c, 0.0],
                        [0.0, 1.0, 0.3 - 0.2 * c],
                        [0.25, 0.5 + 0.1 * c, 0.0],
                    ]
                })
                .collect(),
        };
        let f = |(w, i)| ApFixed::new(w, i).expect("format");
        DatapathSpec::build(&[folded], &SpecOptions::with_formats(f(input), f(output)))
            .expect("spec")
    }

    #[test]
    fn hoisted_reference_is_bit_identical_to_the_spec_reference() {
        let spec = spec((10, 4), (12, 3));
        let r = Reference::new(&spec, 0);
        let out = spec.output();
        let xs: Vec<i64> = (spec.input().min_raw()..=spec.input().max_raw()).collect();
        for ch in 0..3 {
            for &x in &xs {
                assert_eq!(
                    r.at(ch, x).to_bits(),
                    spec.reference(0, ch, x).to_bits(),
                    "channel {ch}, input {x}"
                );
            }
            // The segment-by-segment maximum against the plain one, on every code and on
            // ranges that start and end inside segments; and per-sample on unsorted inputs.
            let ys: Vec<i64> = xs.iter().map(|&x| spec.eval_raw(0, ch, x)).collect();
            let plain = |xs: &[i64], ys: &[i64]| {
                xs.iter()
                    .zip(ys)
                    .map(|(&x, &y)| (out.to_f64(y) - spec.reference(0, ch, x)).abs())
                    .fold(0f64, f64::max)
            };
            for (a, b) in [(0, xs.len()), (5, 700), (300, 301), (600, 1024), (0, 0)] {
                let fast = r.max_error(ch, &xs[a..b], &ys[a..b], true);
                assert_eq!(fast.to_bits(), plain(&xs[a..b], &ys[a..b]).to_bits());
            }
            let (rx, ry): (Vec<i64>, Vec<i64>) = xs.iter().zip(&ys).rev().unzip();
            assert_eq!(
                r.max_error(ch, &rx, &ry, false).to_bits(),
                plain(&xs, &ys).to_bits()
            );
        }
    }

    /// The blocks against the plain definition: sample `s` of beat `b`, lane `i` is
    /// golden(code of `s / C`, channel `s % C`) in slot `i` of the beat's storage, padding
    /// lanes of a last partial beat repeat its first code, and the error is the largest
    /// |golden − reference| over the real samples.
    fn check_blocks(spec: &DatapathSpec, codes: &Codes, lanes: usize, beat_bytes: usize) {
        let sch = Schedule::new(spec, 0, codes, lanes, beat_bytes);
        let slot = sch.out_slot_bytes;
        let (mut b, mut max_err) = (0u64, 0f64);
        while b < sch.beats {
            // Odd block sizes, so that blocks start in the middle of a channel cycle.
            let n = 7.min(sch.beats - b);
            let block = compute_block(&sch, b, n);
            assert_eq!(block.first_beat, b);
            assert_eq!(block.data.len(), n as usize * beat_bytes);
            max_err = max_err.max(block.max_error_ulp);
            for j in 0..n {
                let beat = &block.data[j as usize * beat_bytes..][..beat_bytes];
                for i in 0..sch.lanes {
                    let (x, ch) = sch.sample(b + j, i);
                    let y = spec.eval_raw(0, ch, x);
                    let at = i as usize * slot;
                    assert_eq!(
                        &beat[at..at + slot],
                        &y.to_le_bytes()[..slot],
                        "beat {}, lane {i}",
                        b + j
                    );
                }
                assert!(beat[lanes * slot..].iter().all(|&p| p == 0), "padding");
            }
            b += n;
        }
        let want = (0..sch.samples)
            .map(|s| {
                let (x, ch) = (codes.get(s / 3), (s % 3) as usize);
                let y = spec.output().to_f64(spec.eval_raw(0, ch, x));
                (y - spec.reference(0, ch, x)).abs() / spec.output().ulp()
            })
            .fold(0f64, f64::max);
        assert_eq!(max_err.to_bits(), want.to_bits());
        assert!(want > 0.0);
    }

    #[test]
    fn blocks_hold_every_channels_golden_outputs_in_beat_order() {
        let spec = spec((10, 4), (12, 3));
        let all = Codes::Range {
            min: spec.input().min_raw(),
            count: 1 << 10,
        };
        for lanes in [1, 2, 4, 16] {
            check_blocks(&spec, &all, lanes, 2 * lanes);
        }
        // 11 codes × 3 channels = 33 samples: a padded last beat for 2, 4 and 16 lanes.
        let list = Codes::List(vec![-512, -3, -1, 0, 1, 2, 200, 511, 7, 7, -100]);
        for lanes in [1, 2, 4, 16] {
            check_blocks(&spec, &list, lanes, 2 * lanes);
        }
    }

    #[test]
    fn blocks_of_wide_outputs_keep_the_storage_padding() {
        // 18-bit outputs sit in 3-byte slots; one lane is stored in 4 bytes, two in 8.
        let spec = spec((10, 4), (18, 4));
        let list = Codes::List(vec![-512, -3, -1, 0, 1, 2, 200, 511]);
        check_blocks(&spec, &list, 1, 4);
        check_blocks(&spec, &list, 2, 8);
        check_blocks(&spec, &list, 4, 12);
    }

    /// `eval_raw_many` (segment runs for ascending inputs) against `eval_raw` on every code,
    /// ascending, descending and interleaved, for the comparator, table and ROM datapaths.
    #[test]
    fn eval_raw_many_equals_eval_raw_on_every_datapath() {
        use crate::fit::build::build_fitted;
        use crate::fit::DatapathChoice;
        use crate::model::Activation;
        let f = |w, i| ApFixed::new(w, i).expect("format");
        let silu = Activation::parse_cli("silu").expect("silu");
        let fitted = |a: &Activation, w, c| {
            build_fitted("a", a, &SpecOptions::with_formats(f(w, 4), f(w, 4)), c)
                .expect("fitted spec")
                .spec
        };
        let specs = [
            spec((10, 4), (12, 3)),
            fitted(&silu, 12, DatapathChoice::Poly),
            fitted(&silu, 8, DatapathChoice::Rom),
        ];
        assert!(matches!(
            specs[1].select(),
            crate::fixedpoint::SegmentSelect::Table(_)
        ));
        for spec in &specs {
            let up: Vec<i64> = (spec.input().min_raw()..=spec.input().max_raw()).collect();
            let down: Vec<i64> = up.iter().rev().copied().collect();
            let mixed: Vec<i64> = up
                .iter()
                .step_by(7)
                .chain(up.iter().step_by(3))
                .copied()
                .collect();
            for ch in 0..spec.layers()[0].channels() {
                for xs in [&up, &down, &mixed] {
                    let mut ys = vec![0; xs.len()];
                    spec.eval_raw_many(0, ch, xs, &mut ys);
                    for (&x, &y) in xs.iter().zip(&ys) {
                        assert_eq!(y, spec.eval_raw(0, ch, x), "channel {ch}, input {x}");
                    }
                }
            }
        }
    }

    #[test]
    fn codes_index_in_order() {
        let r = Codes::Range { min: -4, count: 8 };
        assert_eq!(
            (0..8).map(|i| r.get(i)).collect::<Vec<_>>(),
            (-4..4).collect::<Vec<_>>()
        );
        assert_eq!(Codes::List(vec![7, -1]).get(1), -1);
        assert!(Codes::List(vec![]).is_empty());
    }
}
