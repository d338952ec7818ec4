//! The exhaustive phase at the simulator's speed: every input code on every channel streamed
//! through the core at full rate (tvalid and tready always high), every output sample compared
//! bit for bit with the golden model's output, precomputed in blocks by [`super::expected`].
//!
//! The phase runs in batches: it packs a batch of input beats (TDATA, TLAST, TUSER) into
//! buffers, one foreign call ([`AxisDut::stream`]) drives them through the core and captures
//! every output beat's TDATA, TKEEP, TLAST and TUSER into buffers, and then the batch is
//! checked in bulk: TDATA as one slice comparison against the expected block (stored in the
//! same layout), the sideband beat by beat. The simulator thus runs in the shim's C++ loop,
//! and the golden model and its f64 error stay out of it (on the producer thread, or between
//! batches). Only a differing beat takes the slow path that decodes it lane by lane for the
//! report. Memory stays bounded for any channel count and input width.

use super::axis_bench::{bytes_to_words, get_bits, AxisDut};
use super::expected::{with_blocks, Codes, Expected, Schedule};
use super::phase::{lane_mismatch, sideband_mismatch, PhaseResult};
use super::ports::sign_extend;
use super::verilator::{Handshake, PortId, StreamLimits};
use crate::fixedpoint::DatapathSpec;

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
    let beat_bytes = dut.model_mut().storage_bytes(p.m.tdata);
    let sch = Schedule::new(spec, layer, codes, lanes, beat_bytes);
    let finish = |exp: Expected, mut res: PhaseResult, latency| {
        res.max_error_ulp = res.max_error_ulp.max(exp.max_error_ulp());
        res.samples = sch.samples.min(res.beats * sch.lanes);
        (res, latency)
    };
    if golden_thread {
        with_blocks(sch, |rx| {
            let mut exp = Expected::from_thread(rx, beat_bytes);
            let latency = stream(dut, &sch, &p, &mut exp, &mut res, progress);
            finish(exp, res, latency)
        })
    } else {
        let mut exp = Expected::inline(sch);
        let latency = stream(dut, &sch, &p, &mut exp, &mut res, progress);
        finish(exp, res, latency)
    }
}

/// Reads beat `i` of a buffer of `n`-byte little-endian values (`n` is a storage size of a
/// port up to 64 bits: 1, 2, 4 or 8; fixed-size reads, as this runs for every beat).
#[inline(always)]
fn value_at(buf: &[u8], i: usize, n: usize) -> u64 {
    match n {
        1 => buf[i] as u64,
        2 => u16::from_le_bytes([buf[2 * i], buf[2 * i + 1]]) as u64,
        4 => u32::from_le_bytes(buf[4 * i..4 * i + 4].try_into().expect("4 bytes")) as u64,
        _ => u64::from_le_bytes(buf[8 * i..8 * i + 8].try_into().expect("8 bytes")),
    }
}

/// Writes `v` as beat `i` of a buffer of `n`-byte little-endian values (as [`value_at`]).
#[inline(always)]
fn put_value(buf: &mut [u8], i: usize, n: usize, v: u64) {
    match n {
        1 => buf[i] = v as u8,
        2 => buf[2 * i..2 * i + 2].copy_from_slice(&(v as u16).to_le_bytes()),
        4 => buf[4 * i..4 * i + 4].copy_from_slice(&(v as u32).to_le_bytes()),
        _ => buf[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes()),
    }
}

/// The batch buffers: input beats to send, output beats captured.
struct Buffers {
    /// Bytes per beat of s_tdata, s_tlast, s_tuser, m_tdata, m_tkeep, m_tlast, m_tuser.
    sizes: [usize; 7],
    in_data: Vec<u8>,
    in_last: Vec<u8>,
    in_user: Vec<u8>,
    out_data: Vec<u8>,
    out_keep: Vec<u8>,
    out_last: Vec<u8>,
    out_user: Vec<u8>,
    /// Per output beat, the edge of the run after which it was captured.
    out_edges: Vec<u64>,
}

/// Output beats one foreign call may capture beyond the batch it sends: the pipeline's
/// content from the batch before (any latency a core states is far below this).
const OUT_SLACK: u64 = 1024;

impl Buffers {
    fn new(dut: &mut AxisDut, p: &Ports, batch: u64) -> Buffers {
        let m = dut.model_mut();
        let user = |id: Option<PortId>| id.map_or(1, |u| m.storage_bytes(u));
        let sizes = [
            m.storage_bytes(p.s.tdata),
            m.storage_bytes(p.s.tlast),
            user(p.s.tuser),
            m.storage_bytes(p.m.tdata),
            m.storage_bytes(p.m.tkeep),
            m.storage_bytes(p.m.tlast),
            user(p.m.tuser),
        ];
        let out = (batch + OUT_SLACK) as usize;
        let b = batch as usize;
        Buffers {
            sizes,
            in_data: vec![0; b * sizes[0]],
            in_last: vec![0; b * sizes[1]],
            in_user: vec![0; b * sizes[2]],
            out_data: vec![0; out * sizes[3]],
            out_keep: vec![0; out * sizes[4]],
            out_last: vec![0; out * sizes[5]],
            out_user: vec![0; out * sizes[6]],
            out_edges: vec![0; out],
        }
    }
}

/// Packs input beats in sending order: code and channel counters, not a division per sample.
struct Packer {
    /// Next beat to pack.
    beat: u64,
    /// Code index and channel of its first sample.
    ci: u64,
    ch: u64,
    /// Beats left in the current packet (TLAST when it reaches 1).
    packet_left: u64,
    packet_beats: u64,
}

impl Packer {
    /// Packs beats `self.beat..self.beat + n` into the input buffers.
    fn pack(&mut self, sch: &Schedule, p: &Ports, buf: &mut Buffers, n: u64) {
        match sch.spec.input().slot_bits() / 8 {
            1 => self.pack_with::<1>(sch, p, buf, n),
            2 => self.pack_with::<2>(sch, p, buf, n),
            _ => self.pack_with::<3>(sch, p, buf, n),
        }
    }

    /// [`pack`](Self::pack) for input slots of `SB` bytes (fixed-size copies per sample).
    fn pack_with<const SB: usize>(&mut self, sch: &Schedule, p: &Ports, buf: &mut Buffers, n: u64) {
        let [sb, lb, ub, ..] = buf.sizes;
        let lanes = sch.lanes;
        for j in 0..n as usize {
            let b = self.beat;
            let first = sch.codes.get(self.ci);
            let data = &mut buf.in_data[j * sb..(j + 1) * sb];
            for i in 0..lanes {
                let x = if b * lanes + i < sch.samples {
                    sch.codes.get(self.ci)
                } else {
                    first
                };
                let at = i as usize * SB;
                data[at..at + SB].copy_from_slice(&x.to_le_bytes()[..SB]);
                self.ch += 1;
                if self.ch == sch.channels {
                    self.ch = 0;
                    self.ci += 1;
                }
            }
            let last = self.packet_left == 1 || b + 1 == sch.beats;
            put_value(&mut buf.in_last, j, lb, last as u64);
            if p.s.tuser.is_some() {
                put_value(&mut buf.in_user, j, ub, b & p.tuser_mask);
            }
            self.packet_left = if self.packet_left == 1 {
                self.packet_beats
            } else {
                self.packet_left - 1
            };
            self.beat += 1;
        }
    }
}

/// What the phase streams: packets of `channels × 16` beats (so that the channel of sample
/// `s` is always `s % channels`), in batches of one expected block.
fn stream(
    dut: &mut AxisDut,
    sch: &Schedule,
    p: &Ports,
    exp: &mut Expected,
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
    let batch = sch.block_beats();
    let mut buf = Buffers::new(dut, p, batch);
    let packet_beats = sch.channels * 16;
    let mut packer = Packer {
        beat: 0,
        ci: 0,
        ch: 0,
        packet_left: packet_beats,
        packet_beats,
    };
    let hs = Handshake {
        in_valid: p.s.tvalid,
        in_ready: p.s.tready,
        out_valid: p.m.tvalid,
    };
    // Beats accepted by the core, received from it; packed but not yet accepted, and where
    // they start in the input buffers.
    let (mut sent, mut received) = (0u64, 0u64);
    let (mut pending, mut offset) = (0u64, 0usize);
    let (mut first_in, mut first_out) = (None, None);
    let mut checker = Checker {
        sch,
        p,
        out_left: packet_beats,
        packet_beats,
    };
    loop {
        if pending == 0 && packer.beat < sch.beats {
            pending = batch.min(sch.beats - packer.beat);
            offset = 0;
            packer.pack(sch, p, &mut buf, pending);
        }
        if pending == 0 && received >= sent {
            break;
        }
        let limits = if pending > 0 {
            StreamLimits {
                in_beats: pending,
                out_want: 0,
                max_cycles: pending + STALL_LIMIT,
            }
        } else {
            StreamLimits {
                in_beats: 0,
                out_want: sent - received,
                max_cycles: STALL_LIMIT,
            }
        };
        let [sb, lb, ub, ..] = buf.sizes;
        let mut inputs = vec![
            (p.s.tdata, &buf.in_data[offset * sb..]),
            (p.s.tlast, &buf.in_last[offset * lb..]),
        ];
        if let Some(u) = p.s.tuser {
            inputs.push((u, &buf.in_user[offset * ub..]));
        }
        let mut outputs = vec![
            (p.m.tdata, &mut buf.out_data[..]),
            (p.m.tkeep, &mut buf.out_keep[..]),
            (p.m.tlast, &mut buf.out_last[..]),
        ];
        if let Some(u) = p.m.tuser {
            outputs.push((u, &mut buf.out_user[..]));
        }
        let base = dut.cycle();
        let d = match dut.stream(
            hs,
            &inputs,
            &mut outputs,
            Some(&mut buf.out_edges[..]),
            limits,
        ) {
            Ok(d) => d,
            Err(e) => {
                res.protocol_errors += 1;
                res.fail(dut.cycle(), PHASE, e.to_string());
                break;
            }
        };
        // Edge e of the run is cycle base + e; an output seen after it is seen at the next.
        if let Some(e) = d.first_accept {
            first_in.get_or_insert(base + e);
        }
        if let Some(e) = d.first_output {
            first_out.get_or_insert(base + e + 1);
        }
        pending -= d.accepted;
        offset += d.accepted as usize;
        sent += d.accepted;
        if received + d.produced > sent {
            res.protocol_errors += 1;
            res.fail(
                dut.cycle(),
                PHASE,
                "a beat came out that was never sent".into(),
            );
        }
        let checked = checker.check(&buf, received, d.produced, base, exp, res);
        res.beats += d.produced;
        received += d.produced;
        if d.produced > 0 {
            progress(d.produced * sch.lanes);
        }
        if !checked {
            break;
        }
        if d.accepted == 0 && d.produced == 0 {
            break;
        }
    }
    dut.model_mut().set(p.s.tvalid, 0);
    if received < sch.beats {
        res.protocol_errors += 1;
        res.fail(
            dut.cycle(),
            PHASE,
            format!(
                "the core stalled: {sent} beats sent of {}, {} outputs missing",
                sch.beats,
                sent.saturating_sub(received)
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
        let ideal = sch.beats + l + 4;
        if dut.cycle() - stream_start > ideal {
            res.protocol_errors += 1;
            res.fail(
                dut.cycle(),
                PHASE,
                format!(
                    "{} cycles for {} beats at full rate: bubbles",
                    res.cycles, sch.beats
                ),
            );
        }
    }
    latency
}

/// Checks captured output beats against the expected blocks and the sideband they must carry.
struct Checker<'s, 'a> {
    sch: &'s Schedule<'a>,
    p: &'s Ports,
    /// Output beats left in the current packet (TLAST when it reaches 1).
    out_left: u64,
    packet_beats: u64,
}

impl Checker<'_, '_> {
    /// Checks the `n` beats captured in `buf` by a run that started at cycle `base`, the
    /// first being output beat `first`. False when the expected outputs ran out (the phase
    /// cannot go on).
    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        buf: &Buffers,
        first: u64,
        n: u64,
        base: u64,
        exp: &mut Expected,
        res: &mut PhaseResult,
    ) -> bool {
        // A failure's cycle is where a cycle-by-cycle loop sees the beat: after its edge.
        let cycle_of = |i: usize| base + buf.out_edges[i] + 1;
        let [_, _, _, db, kb, lb, ub] = buf.sizes;
        let p = self.p;
        let mut done = 0u64;
        while done < n {
            let Some(want) = exp.take(n - done) else {
                res.protocol_errors += 1;
                let cycle = cycle_of(done as usize);
                res.fail(cycle, PHASE, "the golden model's outputs ran out".into());
                return false;
            };
            let k = (want.len() / db) as u64;
            let at = done as usize;
            let got = &buf.out_data[at * db..(at + k as usize) * db];
            // The fast path: one comparison for the TDATA of all k beats.
            let data_equal = got == want;
            for j in 0..k as usize {
                let b = first + done + j as u64;
                let i = at + j;
                let last = self.out_left == 1 || b + 1 == self.sch.beats;
                self.out_left = if self.out_left == 1 {
                    self.packet_beats
                } else {
                    self.out_left - 1
                };
                let side = (
                    value_at(&buf.out_keep, i, kb),
                    value_at(&buf.out_last, i, lb) != 0,
                    p.m.tuser.map_or(0, |_| value_at(&buf.out_user, i, ub)),
                );
                let want_side = (p.m.keep_all, last, b & p.tuser_mask);
                let (g, w) = (&got[j * db..(j + 1) * db], &want[j * db..(j + 1) * db]);
                if side != want_side || (!data_equal && g != w) {
                    mismatch(self.sch, b, g, w, side, want_side, res, cycle_of(i));
                }
            }
            done += k;
        }
        true
    }
}

/// The slow path: a beat that differs, decoded lane by lane.
#[allow(clippy::too_many_arguments)]
fn mismatch(
    sch: &Schedule,
    b: u64,
    got: &[u8],
    want: &[u8],
    side: (u64, bool, u64),
    want_side: (u64, bool, u64),
    res: &mut PhaseResult,
    cycle: u64,
) {
    let (spec, layer) = (sch.spec, sch.layer);
    let out = spec.output();
    let (got, want) = (bytes_to_words(got), bytes_to_words(want));
    let slot = out.slot_bits();
    for i in 0..sch.lanes {
        let off = i as u32 * slot;
        let (g, w) = (get_bits(&got, off, slot), get_bits(&want, off, slot));
        if g == w {
            continue;
        }
        res.mismatches += 1;
        let (x, ch) = sch.sample(b, i);
        let g_raw = sign_extend(get_bits(&got, off, out.width()), out.width());
        let err = (out.to_f64(g_raw) - spec.reference(layer, ch, x)).abs() / out.ulp();
        res.max_error_ulp = res.max_error_ulp.max(err);
        let y = sign_extend(w, slot);
        res.fail(cycle, PHASE, lane_mismatch(i as usize, ch, x, g, y, w));
    }
    if side != want_side {
        res.protocol_errors += 1;
        res.fail(cycle, PHASE, sideband_mismatch(side, want_side));
    }
}
