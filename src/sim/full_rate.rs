//! The exhaustive phase at the simulator's speed: every input code on every channel streamed
//! through the core at full rate (tvalid and tready always high), every output sample compared
//! bit for bit with the golden model's output, precomputed in blocks by [`super::expected`].
//!
//! The loop touches only what changes per cycle (TDATA, TLAST, TUSER in; valid, TDATA and the
//! sideband out) through the bridge's raw port pointers, compares whole TDATA words, and leaves
//! the golden model and its f64 error to the producer thread; only a mismatching beat takes
//! the slow path that decodes it lane by lane for the report. Nothing is materialized per
//! sample, so memory stays bounded for any channel count and input width.

use super::axis_bench::{get_bits, put_bits, AxisDut, MAX_TDATA_WORDS};
use super::expected::{compute_block, with_blocks, Block, Codes, Entry, BLOCK_SAMPLES};
use super::phase::{lane_mismatch, sideband_mismatch, PhaseResult};
use super::ports::sign_extend;
use super::verilator::PortId;
use crate::fixedpoint::DatapathSpec;
use std::sync::mpsc::Receiver;

/// Cycles without any handshake after which the core counts as hung.
const STALL_LIMIT: u64 = 10_000;

const PHASE: &str = "exhaustive";

fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// The handles of one AXI4-Stream side (`s_axis_*` or `m_axis_*`).
struct Side {
    tdata: PortId,
    /// TDATA wider than 64 bits (word arrays instead of one word).
    wide: bool,
    tvalid: PortId,
    tready: PortId,
    tlast: PortId,
    tkeep: PortId,
    tuser: Option<PortId>,
    /// All TKEEP bits of a full beat.
    keep_all: u64,
}

impl Side {
    fn resolve(dut: &mut AxisDut, prefix: &str) -> Option<Side> {
        let width = dut
            .ports()
            .iter()
            .find(|p| p.name == format!("{prefix}_tdata"))
            .map_or(0, |p| p.width);
        let m = dut.model_mut();
        let port = |n: &str| m.port(&format!("{prefix}_{n}"));
        Some(Side {
            tdata: port("tdata")?,
            wide: width > 64,
            tvalid: port("tvalid")?,
            tready: port("tready")?,
            tlast: port("tlast")?,
            tkeep: port("tkeep")?,
            tuser: port("tuser"),
            keep_all: mask(width / 8),
        })
    }
}

/// Port handles and widths the loop needs, resolved once.
struct Ports {
    s: Side,
    m: Side,
    aresetn: PortId,
    tuser_mask: u64,
}

impl Ports {
    fn resolve(dut: &mut AxisDut) -> Option<Ports> {
        let tuser = dut
            .ports()
            .iter()
            .find(|p| p.name == "s_axis_tuser")
            .map_or(0, |p| p.width);
        Some(Ports {
            s: Side::resolve(dut, "s_axis")?,
            m: Side::resolve(dut, "m_axis")?,
            aresetn: dut.model_mut().port("aresetn")?,
            tuser_mask: mask(tuser),
        })
    }
}

/// What the phase streams: `codes.len() × channels` samples, `lanes` per beat, packets of
/// `channels × 16` beats (so that the channel of sample `s` is always `s % channels`).
struct Plan<'a> {
    spec: &'a DatapathSpec,
    layer: usize,
    codes: &'a Codes,
    channels: u64,
    lanes: u64,
    samples: u64,
    beats: u64,
    packet_beats: u64,
    in_slot: u32,
    out_slot: u32,
    out_width: u32,
}

impl Plan<'_> {
    /// Code and channel of lane `i` of beat `b`; lanes past the last sample repeat the beat's
    /// first code (their channel still follows the core's counter).
    fn sample(&self, b: u64, i: u64) -> (i64, usize) {
        let s = b * self.lanes + i;
        let ch = (s % self.channels) as usize;
        let s = if s < self.samples { s } else { b * self.lanes };
        (self.codes.get(s / self.channels), ch)
    }
}

/// Where the expected blocks come from.
enum Source<'r, 'a, T> {
    /// A producer thread (see [`with_blocks`]).
    Thread(&'r Receiver<Block<T>>),
    /// Computed here, block by block, when no second core is free.
    Inline {
        spec: &'a DatapathSpec,
        layer: usize,
        codes: &'a Codes,
        next: u64,
        total: u64,
    },
}

/// Walks the expected blocks sample by sample.
struct Cursor<'r, 'a, T> {
    source: Source<'r, 'a, T>,
    block: Vec<T>,
    at: usize,
    max_error_ulp: f64,
}

impl<T: Entry> Cursor<'_, '_, T> {
    /// The expected raw output of the next sample (in order); `None` past the last one.
    #[inline]
    fn next(&mut self) -> Option<i64> {
        if let Some(&y) = self.block.get(self.at) {
            self.at += 1;
            return Some(y.raw());
        }
        self.refill()?;
        self.next()
    }

    #[cold]
    fn refill(&mut self) -> Option<()> {
        let b = match &mut self.source {
            Source::Thread(rx) => rx.recv().ok()?,
            Source::Inline {
                spec,
                layer,
                codes,
                next,
                total,
            } => {
                if *next >= *total {
                    return None;
                }
                let n = BLOCK_SAMPLES.min(*total - *next);
                let b = compute_block(spec, *layer, codes, *next, n);
                *next += n;
                b
            }
        };
        if b.outputs.is_empty() {
            return None;
        }
        self.max_error_ulp = self.max_error_ulp.max(b.max_error_ulp);
        self.block = b.outputs;
        self.at = 0;
        Some(())
    }
}

/// Runs the phase; returns its result and the latency measured (accepting edge to the edge
/// that makes the output valid, inclusive).
pub fn run(
    dut: &mut AxisDut,
    spec: &DatapathSpec,
    layer: usize,
    lanes: usize,
    codes: &Codes,
    golden_thread: bool,
    progress: &dyn Fn(u64),
) -> (PhaseResult, Option<u64>) {
    let mut res = PhaseResult::default();
    let Some(p) = Ports::resolve(dut) else {
        res.protocol_errors += 1;
        res.fail(
            dut.cycle(),
            PHASE,
            "the core lacks an AXI4-Stream port".into(),
        );
        return (res, None);
    };
    let channels = spec.layers()[layer].channels() as u64;
    let samples = codes.len() * channels;
    let plan = Plan {
        spec,
        layer,
        codes,
        channels,
        lanes: lanes as u64,
        samples,
        beats: samples.div_ceil(lanes as u64),
        packet_beats: channels * 16,
        in_slot: spec.input().slot_bits(),
        out_slot: spec.output().slot_bits(),
        out_width: spec.output().width(),
    };
    if spec.output().width() <= 16 {
        check::<i16>(dut, &plan, &p, golden_thread, res, progress)
    } else {
        check::<i32>(dut, &plan, &p, golden_thread, res, progress)
    }
}

/// The phase with expected outputs of type `T` (see [`super::expected`] for the choice).
fn check<T: Entry>(
    dut: &mut AxisDut,
    plan: &Plan,
    p: &Ports,
    golden_thread: bool,
    mut res: PhaseResult,
    progress: &dyn Fn(u64),
) -> (PhaseResult, Option<u64>) {
    let (spec, layer, codes, samples) = (plan.spec, plan.layer, plan.codes, plan.samples);
    let finish = |cur: Cursor<T>, mut res: PhaseResult, latency| {
        res.max_error_ulp = res.max_error_ulp.max(cur.max_error_ulp);
        res.samples = samples.min(res.beats * plan.lanes);
        (res, latency)
    };
    if golden_thread {
        with_blocks::<T, _>(spec, layer, codes, |rx| {
            let mut cur = Cursor {
                source: Source::Thread(rx),
                block: Vec::new(),
                at: 0,
                max_error_ulp: 0.0,
            };
            let latency = stream(dut, plan, p, &mut cur, &mut res, progress);
            finish(cur, res, latency)
        })
    } else {
        let mut cur = Cursor {
            source: Source::Inline {
                spec,
                layer,
                codes,
                next: 0,
                total: samples,
            },
            block: Vec::new(),
            at: 0,
            max_error_ulp: 0.0,
        };
        let latency = stream(dut, plan, p, &mut cur, &mut res, progress);
        finish(cur, res, latency)
    }
}

fn stream<T: Entry>(
    dut: &mut AxisDut,
    plan: &Plan,
    p: &Ports,
    cur: &mut Cursor<T>,
    res: &mut PhaseResult,
    progress: &dyn Fn(u64),
) -> Option<u64> {
    let start = dut.cycle();
    if let Err(e) = dut.reset(2) {
        res.protocol_errors += 1;
        res.fail(dut.cycle(), PHASE, format!("after reset: {e}"));
    }
    let stream_start = dut.cycle();
    {
        let m = dut.model_mut();
        m.set(p.aresetn, 1);
        m.set(p.m.tready, 1);
        m.set(p.s.tkeep, p.s.keep_all);
    }
    let lanes = plan.lanes;
    let (mut next, mut received) = (0u64, 0u64);
    let (mut first_in, mut first_out) = (None, None);
    let mut idle = 0u64;
    // TDATA of input beat `next`, packed once when `next` changes.
    let mut in_words = [0u64; MAX_TDATA_WORDS];
    let mut packed = u64::MAX;
    let (mut in_ci, mut in_ch) = (0u64, 0u64);
    let mut out_words = [0u64; MAX_TDATA_WORDS];
    let mut want = [0u64; MAX_TDATA_WORDS];
    let s_mask = mask(plan.in_slot);
    let o_mask = mask(plan.out_slot);
    let narrow = !p.m.wide && !p.s.wide;
    // Beats left in the current packet, on each side (TLAST when it reaches 1).
    let (mut in_left, mut out_left) = (plan.packet_beats, plan.packet_beats);
    while (next < plan.beats || received < next) && idle < STALL_LIMIT {
        let m = dut.model_mut();
        let s_ready = m.get(p.s.tready) != 0;
        let m_valid = m.get(p.m.tvalid) != 0;
        let cycle = dut.cycle();
        if m_valid {
            first_out.get_or_insert(cycle);
            let b = received;
            let last = out_left == 1 || b + 1 == plan.beats;
            out_left = if out_left == 1 {
                plan.packet_beats
            } else {
                out_left - 1
            };
            if received >= next {
                res.protocol_errors += 1;
                res.fail(cycle, PHASE, "a beat came out that was never sent".into());
            } else {
                let m = dut.model_mut();
                let sideband = (
                    m.get(p.m.tkeep),
                    m.get(p.m.tlast) != 0,
                    p.m.tuser.map_or(0, |u| m.get(u)),
                );
                let want_side = (p.m.keep_all, last, b & p.tuser_mask);
                let full = (b + 1) * lanes <= plan.samples;
                let mut ok = true;
                if narrow && full {
                    let got = m.get(p.m.tdata);
                    let mut w = 0u64;
                    for i in 0..lanes {
                        match cur.next() {
                            Some(y) => w |= (y as u64 & o_mask) << (i as u32 * plan.out_slot),
                            None => ok = false,
                        }
                    }
                    if ok && (got != w || sideband != want_side) {
                        out_words[0] = got;
                        want[0] = w;
                        mismatch(plan, b, &out_words, &want, sideband, want_side, res, cycle);
                    }
                } else {
                    m.get_wide(p.m.tdata, &mut out_words);
                    want.fill(0);
                    for i in 0..lanes {
                        let y = if b * lanes + i < plan.samples {
                            cur.next()
                        } else {
                            let (x, ch) = plan.sample(b, i);
                            Some(plan.spec.eval_raw(plan.layer, ch, x))
                        };
                        match y {
                            Some(y) => put_bits(
                                &mut want,
                                i as u32 * plan.out_slot,
                                plan.out_slot,
                                y as u64,
                            ),
                            None => ok = false,
                        }
                    }
                    if ok && (want != out_words || sideband != want_side) {
                        mismatch(plan, b, &out_words, &want, sideband, want_side, res, cycle);
                    }
                }
                if !ok {
                    res.protocol_errors += 1;
                    res.fail(cycle, PHASE, "the golden model's outputs ran out".into());
                }
            }
            res.beats += 1;
            received += 1;
            idle = 0;
            if res.beats % 4096 == 0 {
                progress(4096 * lanes);
            }
        }
        let m = dut.model_mut();
        let offer = next < plan.beats;
        if offer && packed != next {
            let first = plan.codes.get(in_ci);
            let (mut ci, mut ch) = (in_ci, in_ch);
            let mut w0 = 0u64;
            if !narrow {
                in_words.fill(0);
            }
            for i in 0..lanes {
                let x = if next * lanes + i < plan.samples {
                    plan.codes.get(ci)
                } else {
                    first
                };
                if narrow {
                    w0 |= (x as u64 & s_mask) << (i as u32 * plan.in_slot);
                } else {
                    put_bits(
                        &mut in_words,
                        i as u32 * plan.in_slot,
                        plan.in_slot,
                        x as u64,
                    );
                }
                ch += 1;
                if ch == plan.channels {
                    ch = 0;
                    ci += 1;
                }
            }
            if narrow {
                m.set(p.s.tdata, w0);
            } else {
                m.set_wide(p.s.tdata, &in_words);
            }
            m.set(p.s.tlast, (in_left == 1 || next + 1 == plan.beats) as u64);
            if let Some(u) = p.s.tuser {
                m.set(u, next);
            }
            packed = next;
        }
        m.set(p.s.tvalid, offer as u64);
        dut.tick();
        idle += 1;
        if offer && s_ready {
            first_in.get_or_insert(cycle);
            if plan.channels == 1 {
                in_ci += lanes;
            } else {
                // Counters, not a division: this runs every cycle.
                for _ in 0..lanes {
                    in_ch += 1;
                    if in_ch == plan.channels {
                        in_ch = 0;
                        in_ci += 1;
                    }
                }
            }
            in_left = if in_left == 1 {
                plan.packet_beats
            } else {
                in_left - 1
            };
            next += 1;
            idle = 0;
        }
    }
    dut.model_mut().set(p.s.tvalid, 0);
    if received < plan.beats {
        res.protocol_errors += 1;
        res.fail(
            dut.cycle(),
            PHASE,
            format!(
                "the core stalled: {next} beats sent of {}, {} outputs missing",
                plan.beats,
                next - received
            ),
        );
    }
    res.cycles = dut.cycle() - start;
    let latency = match (first_in, first_out) {
        (Some(a), Some(b)) if b >= a => Some(b - a),
        _ => None,
    };
    // At full rate the core must take one beat per cycle: no bubbles.
    if let Some(l) = latency {
        let ideal = plan.beats + l + 4;
        if dut.cycle() - stream_start > ideal {
            res.protocol_errors += 1;
            res.fail(
                dut.cycle(),
                PHASE,
                format!(
                    "{} cycles for {} beats at full rate: bubbles",
                    res.cycles, plan.beats
                ),
            );
        }
    }
    latency
}

/// The slow path: a beat that differs, decoded lane by lane.
#[allow(clippy::too_many_arguments)]
fn mismatch(
    plan: &Plan,
    b: u64,
    got: &[u64],
    want: &[u64],
    side: (u64, bool, u64),
    want_side: (u64, bool, u64),
    res: &mut PhaseResult,
    cycle: u64,
) {
    let out = plan.spec.output();
    for i in 0..plan.lanes {
        let off = i as u32 * plan.out_slot;
        let (g, w) = (
            get_bits(got, off, plan.out_slot),
            get_bits(want, off, plan.out_slot),
        );
        if g == w {
            continue;
        }
        res.mismatches += 1;
        let (x, ch) = plan.sample(b, i);
        let g_raw = sign_extend(get_bits(got, off, plan.out_width), plan.out_width);
        let err = (out.to_f64(g_raw) - plan.spec.reference(plan.layer, ch, x)).abs() / out.ulp();
        res.max_error_ulp = res.max_error_ulp.max(err);
        let y = sign_extend(w, plan.out_slot);
        res.fail(cycle, PHASE, lane_mismatch(i as usize, ch, x, g, y, w));
    }
    if side != want_side {
        res.protocol_errors += 1;
        res.fail(cycle, PHASE, sideband_mismatch(side, want_side));
    }
}
