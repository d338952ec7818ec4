//! The AXI4-Stream testbench: drives a generated core through the Verilator bridge, predicts
//! every output beat with the golden model, and checks values, order, count and sideband
//! alignment bit for bit.
//!
//! Timing model (all DUT outputs are registered): inputs are set, then `tick()` makes one
//! rising edge. A beat crosses the slave interface at that edge when the `s_axis_tvalid` we set
//! and the `s_axis_tready` we read before the edge are both high; likewise for the master side.

use super::ports::{sign_extend, words};
use super::verilator::{Handshake, PortId, StreamDone, StreamLimits, VerilatedModel};
use crate::fixedpoint::DatapathSpec;
use crate::hdl::{Port, PortDir, StreamLayout};
use crate::{Error, Result};

/// The clock port of every generated core.
pub const CLOCK: &str = "aclk";

/// Most 64-bit words of TDATA: 16 lanes of 32-bit slots.
pub const MAX_TDATA_WORDS: usize = 8;
/// Most samples per beat.
pub const MAX_LANES: usize = 16;

/// One AXI4-Stream beat as the bench sees it (fixed size: the bench moves millions of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    /// TDATA, 64-bit words, lowest first; words above the port's width are zero.
    pub data: [u64; MAX_TDATA_WORDS],
    /// TKEEP (at most 64 bytes per beat).
    pub keep: u64,
    /// TLAST.
    pub last: bool,
    /// TUSER (0 when the core has none).
    pub user: u64,
}

fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Writes `width` (<= 64) bits of `value` at bit `offset` of `words`.
pub fn put_bits(words: &mut [u64], offset: u32, width: u32, value: u64) {
    let v = value & mask(width);
    let (w, b) = ((offset / 64) as usize, offset % 64);
    words[w] |= v << b;
    if b + width > 64 {
        words[w + 1] |= v >> (64 - b);
    }
}

/// Reads `width` (<= 64) bits at bit `offset` of `words`.
pub fn get_bits(words: &[u64], offset: u32, width: u32) -> u64 {
    let (w, b) = ((offset / 64) as usize, offset % 64);
    let mut v = words[w] >> b;
    if b + width > 64 && b > 0 {
        v |= words[w + 1] << (64 - b);
    }
    v & mask(width)
}

/// 64-bit words (least significant first) of a little-endian byte string, as the
/// simulator stores a port.
pub fn bytes_to_words(bytes: &[u8]) -> [u64; MAX_TDATA_WORDS] {
    let mut w = [0u64; MAX_TDATA_WORDS];
    for (i, &b) in bytes.iter().enumerate().take(8 * MAX_TDATA_WORDS) {
        w[i / 8] |= (b as u64) << (8 * (i % 8));
    }
    w
}

/// The little-endian bytes of `words` (least significant first) that fit `out`.
pub fn words_to_bytes(words: &[u64], out: &mut [u8]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = words.get(i / 8).map_or(0, |w| (w >> (8 * (i % 8))) as u8);
    }
}

/// Predicts output beats from input beats with the golden model, tracking the channel counter
/// the core keeps (it wraps at C and restarts after TLAST and after reset).
pub struct Predictor<'a> {
    spec: &'a DatapathSpec,
    layer: usize,
    layout: StreamLayout,
    position: u64,
}

impl<'a> Predictor<'a> {
    /// A predictor in the reset state.
    pub fn new(spec: &'a DatapathSpec, layer: usize, layout: StreamLayout) -> Self {
        Predictor {
            spec,
            layer,
            layout,
            position: 0,
        }
    }

    /// Back to the reset state.
    pub fn reset(&mut self) {
        self.position = 0;
    }

    /// The raw input sample of lane `i` of a beat (sign-extended from the input width).
    pub fn sample(&self, beat: &Beat, i: usize) -> i64 {
        let w = self.spec.input().width();
        sign_extend(get_bits(&beat.data, i as u32 * self.layout.s_slot, w), w)
    }

    /// Packs raw input samples into an input beat, each sign-extended to its slot.
    pub fn pack_input(&self, samples: &[i64], keep: u64, last: bool, user: u64) -> Beat {
        let mut data = [0u64; MAX_TDATA_WORDS];
        for (i, &s) in samples.iter().enumerate() {
            let slot = self.layout.s_slot;
            put_bits(&mut data, i as u32 * slot, slot, s as u64);
        }
        Beat {
            data,
            keep: keep & mask(self.layout.s_bytes()),
            last,
            user: user & mask(self.layout.tuser),
        }
    }

    /// The output beat the core must produce for `input`; advances the channel counter.
    /// Also returns, per lane, the input raw value, its channel and the output raw value.
    pub fn predict(&mut self, input: &Beat) -> (Beat, LaneSamples) {
        let channels = self.spec.layers()[self.layer].channels() as u64;
        let lay = &self.layout;
        let mut data = [0u64; MAX_TDATA_WORDS];
        let mut keep = 0u64;
        let mut lanes = LaneSamples {
            n: lay.lanes,
            s: [(0, 0, 0); MAX_LANES],
        };
        let in_bytes = lay.s_slot / 8;
        let out_bytes = lay.m_slot / 8;
        for i in 0..lay.lanes {
            let x = self.sample(input, i);
            let ch = ((self.position + i as u64) % channels) as usize;
            let y = self.spec.eval_raw(self.layer, ch, x);
            put_bits(&mut data, i as u32 * lay.m_slot, lay.m_slot, y as u64);
            let lane_keep = (input.keep >> (i as u32 * in_bytes)) & mask(in_bytes);
            if lane_keep == mask(in_bytes) {
                keep |= mask(out_bytes) << (i as u32 * out_bytes);
            }
            lanes.s[i] = (x, ch, y);
        }
        self.position = if input.last {
            0
        } else {
            (self.position + lay.lanes as u64) % channels
        };
        (
            Beat {
                data,
                keep,
                last: input.last,
                user: input.user,
            },
            lanes,
        )
    }
}

/// Per lane of a beat: (input raw, channel, golden output raw).
#[derive(Debug, Clone, Copy)]
pub struct LaneSamples {
    /// Lanes in use.
    pub n: usize,
    /// The samples; the first `n` are valid.
    pub s: [(i64, usize, i64); MAX_LANES],
}

impl LaneSamples {
    /// The valid samples.
    pub fn as_slice(&self) -> &[(i64, usize, i64)] {
        &self.s[..self.n]
    }
}

/// Port handles of an AXI4-Stream core, resolved once.
struct AxisPorts {
    aresetn: PortId,
    s_tdata: PortId,
    s_tkeep: PortId,
    s_tvalid: PortId,
    s_tready: PortId,
    s_tlast: PortId,
    s_tuser: Option<PortId>,
    m_tdata: PortId,
    m_tkeep: PortId,
    m_tvalid: PortId,
    m_tready: PortId,
    m_tlast: PortId,
    m_tuser: Option<PortId>,
}

/// A generated core in Verilator with named AXI4-Stream access and optional stimulus recording
/// (for replay in Icarus).
pub struct AxisDut {
    model: VerilatedModel,
    ports: Vec<Port>,
    p: AxisPorts,
    /// Input values of every port except the clock, per recorded cycle (Icarus layout).
    pub recorded_inputs: Vec<Vec<u64>>,
    /// Output values of every output port, per recorded cycle, read after the edge.
    pub recorded_outputs: Vec<Vec<u64>>,
    record_left: usize,
    cycle: u64,
    trace: Option<(std::path::PathBuf, u64, u64)>,
    /// What runs after every reset (a core with run-time coefficients loses its layer
    /// selection on reset, so the AXI4-Lite bench rewrites it).
    post_reset: Option<Box<dyn AfterReset>>,
}

/// Something to do after every [`AxisDut::reset`], with the stream idle: the bench of a side
/// interface (AXI4-Lite) implements it, so this bench needs to know nothing of that interface.
pub trait AfterReset {
    /// Runs once the reset has been released.
    fn after_reset(&self, dut: &mut AxisDut) -> Result<()>;
}

impl AxisDut {
    /// Wraps a built model; fails if a required AXI4-Stream port is missing.
    pub fn new(model: VerilatedModel) -> Result<Self> {
        let ports = model.ports().to_vec();
        let find = |n: &str| {
            model
                .port(n)
                .ok_or_else(|| Error::Verify(format!("the core has no port `{n}`")))
        };
        let opt = |n: &str| model.port(n);
        let p = AxisPorts {
            aresetn: find("aresetn")?,
            s_tdata: find("s_axis_tdata")?,
            s_tkeep: find("s_axis_tkeep")?,
            s_tvalid: find("s_axis_tvalid")?,
            s_tready: find("s_axis_tready")?,
            s_tlast: find("s_axis_tlast")?,
            s_tuser: opt("s_axis_tuser"),
            m_tdata: find("m_axis_tdata")?,
            m_tkeep: find("m_axis_tkeep")?,
            m_tvalid: find("m_axis_tvalid")?,
            m_tready: find("m_axis_tready")?,
            m_tlast: find("m_axis_tlast")?,
            m_tuser: opt("m_axis_tuser"),
        };
        Ok(AxisDut {
            model,
            ports,
            p,
            recorded_inputs: Vec::new(),
            recorded_outputs: Vec::new(),
            record_left: 0,
            cycle: 0,
            trace: None,
            post_reset: None,
        })
    }

    /// Writes a VCD of cycles `from..to` to `path` (the model must be built with tracing).
    pub fn trace_window(&mut self, path: &std::path::Path, from: u64, to: u64) {
        self.trace = Some((path.to_path_buf(), from, to));
    }

    /// After every [`reset`](Self::reset), run `hook`.
    pub fn set_post_reset(&mut self, hook: Box<dyn AfterReset>) {
        self.post_reset = Some(hook);
    }

    /// Holds `aresetn` low for `cycles` clock cycles with the stream idle, then runs the
    /// post-reset hook.
    pub fn reset(&mut self, cycles: u32) -> Result<()> {
        for _ in 0..cycles {
            self.drive(None, false, false);
            self.tick();
        }
        if let Some(hook) = self.post_reset.take() {
            let r = hook.after_reset(self);
            self.post_reset = Some(hook);
            r?;
        }
        Ok(())
    }

    /// Records the stimulus and outputs of the next `cycles` cycles.
    pub fn record(&mut self, cycles: usize) {
        self.record_left = cycles;
    }

    /// The underlying model (for AXI4-Lite access and tracing).
    pub fn model_mut(&mut self) -> &mut VerilatedModel {
        &mut self.model
    }

    /// Ports of the core.
    pub fn ports(&self) -> &[Port] {
        &self.ports
    }

    /// Clock cycles run so far.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    fn set_scalar(&mut self, id: PortId, v: u64) {
        self.model.set(id, v);
    }

    fn get_scalar(&self, id: PortId) -> u64 {
        self.model.get(id)
    }

    /// Drives the slave side (`None`: tvalid low) and m_axis_tready.
    pub fn drive(&mut self, beat: Option<&Beat>, m_ready: bool, aresetn: bool) {
        self.set_scalar(self.p.aresetn, aresetn as u64);
        self.set_scalar(self.p.s_tvalid, beat.is_some() as u64);
        self.set_scalar(self.p.m_tready, m_ready as u64);
        if let Some(b) = beat {
            self.model.set_wide(self.p.s_tdata, &b.data);
            self.set_scalar(self.p.s_tkeep, b.keep);
            self.set_scalar(self.p.s_tlast, b.last as u64);
            if let Some(u) = self.p.s_tuser {
                self.set_scalar(u, b.user);
            }
        }
    }

    /// `s_axis_tready` as registered after the last edge.
    pub fn s_ready(&self) -> bool {
        self.get_scalar(self.p.s_tready) != 0
    }

    /// The master-side beat on the outputs, if `m_axis_tvalid` is high.
    pub fn m_beat(&mut self) -> Option<Beat> {
        if self.get_scalar(self.p.m_tvalid) == 0 {
            return None;
        }
        let mut data = [0u64; MAX_TDATA_WORDS];
        self.model.get_wide(self.p.m_tdata, &mut data);
        Some(Beat {
            data,
            keep: self.get_scalar(self.p.m_tkeep),
            last: self.get_scalar(self.p.m_tlast) != 0,
            user: self.p.m_tuser.map_or(0, |u| self.get_scalar(u)),
        })
    }

    /// One rising edge, recording stimulus and outputs when asked to.
    pub fn tick(&mut self) {
        let recording = self.record_left > 0;
        if recording {
            let v = self.snapshot(PortDir::In);
            self.recorded_inputs.push(v);
        }
        if let Some((path, from, to)) = &self.trace {
            if self.cycle == *from {
                // A trace that cannot be opened only loses the waveform, not the verdict.
                let _ = self.model.trace_open(path);
            } else if self.cycle == *to {
                self.model.trace_close();
            }
        }
        self.model.tick();
        self.cycle += 1;
        if recording {
            let v = self.snapshot(PortDir::Out);
            self.recorded_outputs.push(v);
            self.record_left -= 1;
        }
    }

    /// Cycles from now that may run inside the shim ([`VerilatedModel::stream`]) without
    /// missing anything this bench does per cycle: none while stimulus is recorded, and a
    /// trace window's first and last cycles must pass through [`tick`](Self::tick), which
    /// opens and closes the waveform there (cycles inside the window are traced by the model).
    fn shim_cycles(&self) -> u64 {
        if self.record_left > 0 {
            return 0;
        }
        match &self.trace {
            Some((_, from, _)) if self.cycle <= *from => *from - self.cycle,
            Some((_, _, to)) if self.cycle <= *to => *to - self.cycle,
            _ => u64::MAX,
        }
    }

    /// [`VerilatedModel::stream`] as part of this bench: the cycles count in
    /// [`cycle`](Self::cycle), and cycles that are recorded (for the Icarus replay) or open or
    /// close the trace run one by one through [`tick`](Self::tick), with the same semantics,
    /// so a batched phase records and traces exactly as a cycle-by-cycle one. `out_edges`
    /// receives, per output beat, the edge after which it was captured, counted from the
    /// call's first edge (as [`StreamDone::first_output`]).
    pub fn stream(
        &mut self,
        hs: Handshake,
        inputs: &[(PortId, &[u8])],
        outputs: &mut [(PortId, &mut [u8])],
        mut out_edges: Option<&mut [u64]>,
        limits: StreamLimits,
    ) -> Result<StreamDone> {
        let in_bytes: Vec<usize> = inputs
            .iter()
            .map(|(id, _)| self.model.storage_bytes(*id))
            .collect();
        let out_bytes: Vec<usize> = outputs
            .iter()
            .map(|(id, _)| self.model.storage_bytes(*id))
            .collect();
        let out_cap = outputs
            .iter()
            .zip(&out_bytes)
            .map(|((_, b), &n)| (b.len() / n) as u64)
            .min()
            .unwrap_or(u64::MAX)
            .min(out_edges.as_ref().map_or(u64::MAX, |e| e.len() as u64));
        let start = self.cycle;
        let mut total = StreamDone::default();
        while total.cycles < limits.max_cycles {
            let (k, j) = (total.accepted as usize, total.produced as usize);
            let ins: Vec<(PortId, &[u8])> = inputs
                .iter()
                .zip(&in_bytes)
                .map(|((id, b), &n)| (*id, b.get(k * n..).unwrap_or(&[])))
                .collect();
            let mut outs: Vec<(PortId, &mut [u8])> = outputs
                .iter_mut()
                .zip(&out_bytes)
                .map(|((id, b), &n)| (*id, &mut b[j * n..]))
                .collect();
            let left = StreamLimits {
                in_beats: limits.in_beats - total.accepted,
                out_want: limits.out_want.saturating_sub(total.produced),
                max_cycles: limits.max_cycles - total.cycles,
            };
            let mut edges = out_edges.as_deref_mut().map(|e| &mut e[j..]);
            // Edges of this piece count from the call's first edge.
            let offset = total.cycles;
            let shim = self.shim_cycles();
            let d = if shim == 0 {
                self.stream_cycle(hs, &ins, &mut outs, left.in_beats)
            } else {
                let d = self.model.stream(
                    hs,
                    &ins,
                    &mut outs,
                    edges.as_deref_mut(),
                    StreamLimits {
                        max_cycles: left.max_cycles.min(shim),
                        ..left
                    },
                )?;
                self.cycle += d.cycles;
                d
            };
            if let Some(e) = edges {
                if shim == 0 && d.produced == 1 {
                    e[0] = 0;
                }
                for v in &mut e[..d.produced as usize] {
                    *v += offset;
                }
            }
            debug_assert_eq!(self.cycle, start + offset + d.cycles);
            total.first_accept = total.first_accept.or(d.first_accept.map(|e| e + offset));
            total.first_output = total.first_output.or(d.first_output.map(|e| e + offset));
            total.cycles += d.cycles;
            total.accepted += d.accepted;
            total.produced += d.produced;
            let all_in = total.accepted == limits.in_beats && total.produced >= limits.out_want;
            if all_in || total.produced == out_cap {
                break;
            }
        }
        Ok(total)
    }

    /// One cycle of [`VerilatedModel::stream`]'s semantics through [`tick`](Self::tick).
    fn stream_cycle(
        &mut self,
        hs: Handshake,
        inputs: &[(PortId, &[u8])],
        outputs: &mut [(PortId, &mut [u8])],
        in_beats: u64,
    ) -> StreamDone {
        let valid = in_beats > 0;
        self.model.set(hs.in_valid, valid as u64);
        if valid {
            for (id, buf) in inputs {
                let n = self.model.storage_bytes(*id);
                self.model.set_wide(*id, &bytes_to_words(&buf[..n]));
            }
        }
        let ready = self.model.get(hs.in_ready) != 0;
        self.tick();
        let mut d = StreamDone {
            cycles: 1,
            ..StreamDone::default()
        };
        if valid && ready {
            d.accepted = 1;
            d.first_accept = Some(0);
        }
        if self.model.get(hs.out_valid) != 0 {
            let mut w = [0u64; MAX_TDATA_WORDS];
            for (id, buf) in outputs.iter_mut() {
                let n = self.model.storage_bytes(*id);
                self.model.get_wide(*id, &mut w);
                words_to_bytes(&w, &mut buf[..n]);
            }
            d.produced = 1;
            d.first_output = Some(0);
        }
        d
    }

    fn snapshot(&mut self, dir: PortDir) -> Vec<u64> {
        let mut out = Vec::new();
        for (i, p) in self.ports.iter().enumerate() {
            if p.dir != dir || p.name == CLOCK {
                continue;
            }
            if let Some(id) = self.model.port_at(i) {
                let at = out.len();
                out.resize(at + words(p), 0);
                self.model.get_wide(id, &mut out[at..]);
            }
        }
        out
    }
}
