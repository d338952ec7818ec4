//! Verification of one generated core: exhaustive inputs at full rate, an AXI4-Stream stress
//! phase with random gaps, backpressure and resets, and a replay of recorded stimulus in
//! Icarus Verilog. Every output beat is compared bit for bit with the golden model.

use super::axis_bench::{get_bits, AxisDut, Beat, LaneSamples, Predictor, MAX_LANES};
use super::expected::Codes;
use super::full_rate;
use super::ports::sign_extend;
use crate::fixedpoint::DatapathSpec;
use crate::hdl::StreamLayout;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;

/// Predicted beats in flight and, lane by lane, their (input raw, channel, output raw).
///
/// Two queues rather than one of `(Beat, LaneSamples)`: that pair is ~480 bytes, sized for
/// 16 lanes, and copying it in and out of the queue took a fifth of the stress phase.
#[derive(Default)]
struct Expected {
    beats: VecDeque<Beat>,
    lanes: VecDeque<(i64, usize, i64)>,
}

impl Expected {
    fn push(&mut self, (beat, lanes): (Beat, LaneSamples)) {
        self.beats.push_back(beat);
        self.lanes.extend(lanes.as_slice());
    }

    fn is_empty(&self) -> bool {
        self.beats.is_empty()
    }

    fn len(&self) -> usize {
        self.beats.len()
    }

    fn clear(&mut self) {
        self.beats.clear();
        self.lanes.clear();
    }
}

/// How hard to test.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Inputs are tested exhaustively up to this width (every supported format by default);
    /// wider ones get random samples.
    pub exhaustive_max_width: u32,
    /// Random samples per channel for inputs wider than `exhaustive_max_width`.
    pub random_samples: u64,
    /// Beats of the stress phase.
    pub stress_beats: u64,
    /// Cycles of stress stimulus replayed in Icarus Verilog (0: skip the second simulator).
    pub icarus_cycles: usize,
    /// Seed of all random stimulus (reported, so a failure can be reproduced).
    pub seed: u64,
    /// Compute the golden model's expected outputs on a thread of their own, beside the
    /// simulation (worth it only when a core is free; [`super::jobs::verify_all`] decides).
    pub golden_thread: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            exhaustive_max_width: crate::fixedpoint::format::MAX_WIDTH,
            random_samples: 10_000_000,
            stress_beats: 1_000_000,
            icarus_cycles: 20_000,
            seed: 0x5eed_2407_0013_1000,
            golden_thread: true,
        }
    }
}

use super::phase::{lane_mismatch, sideband_mismatch};
pub use super::phase::{Failure, PhaseResult};

/// Checks one received beat against the predicted one, lane by lane.
struct Checker<'a> {
    spec: &'a DatapathSpec,
    layer: usize,
    layout: StreamLayout,
    /// The exhaustive phase saw every input code on every channel, so it already measured the
    /// error of every output that matches the golden model: only mismatching samples need
    /// the f64 reference here (it was a tenth of the stress phase's time).
    errors_known: bool,
}

impl Checker<'_> {
    /// Checks a beat that left the core against the oldest prediction.
    fn receive(
        &self,
        got: &Beat,
        expected: &mut Expected,
        res: &mut PhaseResult,
        cycle: u64,
        phase: &str,
    ) {
        match expected.beats.pop_front() {
            Some(want) => {
                let lanes = expected.lanes.drain(..self.layout.lanes);
                self.check(got, &want, lanes, res, cycle, phase)
            }
            None => {
                res.protocol_errors += 1;
                res.fail(cycle, phase, "a beat came out that was never sent".into());
            }
        }
    }

    fn check(
        &self,
        got: &Beat,
        want: &Beat,
        lanes: impl Iterator<Item = (i64, usize, i64)>,
        res: &mut PhaseResult,
        cycle: u64,
        phase: &str,
    ) {
        let out = self.spec.output();
        let slot = self.layout.m_slot;
        res.beats += 1;
        for (i, (x, ch, y)) in lanes.enumerate() {
            res.samples += 1;
            let off = i as u32 * slot;
            let g = get_bits(&got.data, off, slot);
            let w = get_bits(&want.data, off, slot);
            if g != w || !self.errors_known {
                let g_raw = sign_extend(get_bits(&got.data, off, out.width()), out.width());
                let err =
                    (out.to_f64(g_raw) - self.spec.reference(self.layer, ch, x)).abs() / out.ulp();
                res.max_error_ulp = res.max_error_ulp.max(err);
            }
            if g != w {
                res.mismatches += 1;
                res.fail(cycle, phase, lane_mismatch(i, ch, x, g, y, w));
            }
        }
        if (got.keep, got.last, got.user) != (want.keep, want.last, want.user) {
            res.protocol_errors += 1;
            res.fail(
                cycle,
                phase,
                sideband_mismatch(
                    (got.keep, got.last, got.user),
                    (want.keep, want.last, want.user),
                ),
            );
        }
    }
}

/// Cycles without any handshake after which the core counts as hung.
const STALL_LIMIT: u64 = 10_000;

fn reset(dut: &mut AxisDut, cycles: u32, res: &mut PhaseResult, phase: &str) {
    if let Err(e) = dut.reset(cycles) {
        res.protocol_errors += 1;
        res.fail(dut.cycle(), phase, format!("after reset: {e}"));
    }
}

/// The input codes of the exhaustive phase: every code (W <= `exhaustive_max_width`), or
/// random samples plus corners; each is sent once per channel.
pub fn exhaustive_codes(spec: &DatapathSpec, layer: usize, opts: &VerifyOptions) -> Codes {
    let f = spec.input();
    if f.width() <= opts.exhaustive_max_width {
        return Codes::Range {
            min: f.min_raw(),
            count: (f.max_raw() - f.min_raw() + 1) as u64,
        };
    }
    let mut rng = StdRng::seed_from_u64(opts.seed ^ 0xe8);
    let mut v = vec![
        f.min_raw(),
        f.min_raw() + 1,
        -1,
        0,
        1,
        f.max_raw() - 1,
        f.max_raw(),
    ];
    for &t in &spec.layers()[layer].thresholds {
        v.extend((t - 2..=t + 2).filter(|x| (f.min_raw()..=f.max_raw()).contains(x)));
    }
    v.extend((0..opts.random_samples).map(|_| rng.random_range(f.min_raw()..=f.max_raw())));
    Codes::List(v)
}

/// Runs every input code on every channel through the core at full rate (tvalid and tready
/// always high), compares every sample with the golden model, and measures the latency and
/// the absence of bubbles (see [`super::full_rate`]).
pub fn exhaustive(
    dut: &mut AxisDut,
    spec: &DatapathSpec,
    layer: usize,
    layout: &StreamLayout,
    opts: &VerifyOptions,
    progress: &dyn Fn(u64),
) -> (PhaseResult, Option<u64>) {
    let codes = exhaustive_codes(spec, layer, opts);
    full_rate::run(
        dut,
        spec,
        layer,
        layout.lanes,
        &codes,
        opts.golden_thread,
        progress,
    )
}

/// xoshiro256++ (Blackman and Vigna), seeded through SplitMix64: the stress phase draws
/// several numbers per simulated cycle, and `StdRng` (ChaCha12) took 7% of its time. Written
/// out here, not taken from a crate, so that a seed means the same stimulus in every version.
struct Xoshiro256([u64; 4]);

impl Xoshiro256 {
    fn seed_from_u64(seed: u64) -> Self {
        let mut z = seed;
        Xoshiro256(std::array::from_fn(|_| {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        }))
    }
}

impl rand::RngCore for Xoshiro256 {
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Stimulus for the stress phase, drawn from a seeded generator.
struct Stress {
    rng: Xoshiro256,
    p_valid: f64,
    p_ready: f64,
}

impl Stress {
    /// Every ~500 cycles the pattern changes: bursts, sparse traffic, stalls.
    fn reshuffle(&mut self) {
        const P: [f64; 5] = [1.0, 0.9, 0.5, 0.2, 0.05];
        self.p_valid = P[self.rng.random_range(0..P.len())];
        self.p_ready = P[self.rng.random_range(0..P.len())];
    }
}

/// Random tvalid gaps, random tready backpressure, random packets, TKEEP and TUSER, and resets
/// in the middle of packets; checks order, count, sideband alignment, values and that the
/// master side holds its beat stable while it is not accepted.
pub fn stress(
    dut: &mut AxisDut,
    spec: &DatapathSpec,
    layer: usize,
    layout: &StreamLayout,
    opts: &VerifyOptions,
    progress: &dyn Fn(u64),
) -> (PhaseResult, u32) {
    let mut res = PhaseResult::default();
    let mut pred = Predictor::new(spec, layer, *layout);
    let checker = Checker {
        spec,
        layer,
        layout: *layout,
        errors_known: spec.input().width() <= opts.exhaustive_max_width,
    };
    let mut st = Stress {
        rng: Xoshiro256::seed_from_u64(opts.seed),
        p_valid: 1.0,
        p_ready: 1.0,
    };
    let f = spec.input();
    let corners = [f.min_raw(), f.max_raw(), 0, -1, 1];
    let start = dut.cycle();
    reset(dut, 2, &mut res, "stress");
    let resets_at: Vec<u64> = (0..3)
        .map(|i| (opts.stress_beats * (2 * i + 1)) / 7 + st.rng.random_range(0..5))
        .collect();
    let mut resets = 0u32;
    let mut expected = Expected::default();
    let mut offer: Option<Beat> = None;
    let mut packet_left = 0u32;
    let (mut sent, mut idle) = (0u64, 0u64);
    let mut held: Option<Beat> = None;
    while (sent < opts.stress_beats || !expected.is_empty()) && idle < STALL_LIMIT {
        if dut.cycle() % 512 == 0 {
            st.reshuffle();
        }
        if resets_at.get(resets as usize) == Some(&sent) && offer.is_some() {
            // Mid-packet: the offered beat and everything in flight is dropped.
            reset(dut, st.rng.random_range(1..=3), &mut res, "stress");
            resets += 1;
            expected.clear();
            pred.reset();
            offer = None;
            held = None;
            packet_left = 0;
            continue;
        }
        if offer.is_none() && sent < opts.stress_beats && st.rng.random_bool(st.p_valid) {
            if packet_left == 0 {
                packet_left = st.rng.random_range(1..=40);
            }
            packet_left -= 1;
            let mut samples = [0i64; MAX_LANES];
            for s in &mut samples[..layout.lanes] {
                *s = if st.rng.random_bool(0.05) {
                    corners[st.rng.random_range(0..corners.len())]
                } else {
                    st.rng.random_range(f.min_raw()..=f.max_raw())
                };
            }
            let samples = &samples[..layout.lanes];
            let keep = if st.rng.random_bool(0.8) {
                u64::MAX
            } else {
                st.rng.random()
            };
            let user = st.rng.random();
            offer = Some(pred.pack_input(samples, keep, packet_left == 0, user));
        }
        let s_ready = dut.s_ready();
        let m_beat = dut.m_beat();
        let m_ready = st.rng.random_bool(st.p_ready);
        let cycle = dut.cycle();
        if let (Some(h), Some(g)) = (&held, &m_beat) {
            if h != g {
                res.protocol_errors += 1;
                res.fail(
                    cycle,
                    "stress",
                    "m_axis beat changed while not accepted".into(),
                );
            }
        } else if held.is_some() {
            res.protocol_errors += 1;
            res.fail(
                cycle,
                "stress",
                "m_axis_tvalid dropped before the beat was accepted".into(),
            );
        }
        dut.drive(offer.as_ref(), m_ready, true);
        dut.tick();
        idle += 1;
        if s_ready {
            if let Some(b) = offer.take() {
                expected.push(pred.predict(&b));
                sent += 1;
                idle = 0;
            }
        }
        held = None;
        if let Some(got) = m_beat {
            if m_ready {
                idle = 0;
                checker.receive(&got, &mut expected, &mut res, cycle, "stress");
                if res.beats % 4096 == 0 {
                    progress(4096);
                }
            } else {
                held = Some(got);
            }
        }
    }
    if !expected.is_empty() || sent < opts.stress_beats {
        res.protocol_errors += 1;
        res.fail(
            dut.cycle(),
            "stress",
            format!(
                "the core stalled: {sent} beats sent of {}, {} outputs missing",
                opts.stress_beats,
                expected.len()
            ),
        );
    }
    res.cycles = dut.cycle() - start;
    (res, resets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn stress_generator_is_xoshiro256_plus_plus() {
        // The reference implementation's first outputs from the state {1, 2, 3, 4}.
        let mut r = Xoshiro256([1, 2, 3, 4]);
        assert_eq!(r.next_u64(), 41_943_041);
        assert_eq!(r.next_u64(), 58_720_359);
        let (mut a, mut b) = (Xoshiro256::seed_from_u64(7), Xoshiro256::seed_from_u64(7));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(a.0, Xoshiro256::seed_from_u64(8).0);
    }
}
