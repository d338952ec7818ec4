//! The lane feed of a core with baked coefficients: each lane only needs its channel number,
//! and the channel count is a constant, so the counter wraps at a literal.

use super::axis::LaneFeed;
use super::lane::index_bits;
use super::verilog::{Expr, Module, Size, Stmt};

/// Channel numbers for the lanes of a baked core of a layer with `channels` channels.
pub(crate) struct BakedFeed {
    /// Channels of the layer.
    pub channels: usize,
    /// Lanes per beat.
    pub lanes: usize,
}

/// `(base + k) mod channels` for `base < channels` and constant `k < channels`, without a
/// divider: a power-of-two count wraps by itself, otherwise one compare and one subtract.
fn add_mod(base: &str, k: usize, channels: usize, bits: u32) -> Expr {
    let b = || Expr::name(base);
    if k == 0 {
        b()
    } else if channels.is_power_of_two() {
        b().plus(Expr::uint(bits, k as u64))
    } else {
        let back = (channels - k) as u64;
        Expr::when(
            b().ge(Expr::uint(bits, back)),
            b().minus(Expr::uint(bits, back)),
            b().plus(Expr::uint(bits, k as u64)),
        )
    }
}

impl LaneFeed for BakedFeed {
    fn doc(&self) -> Vec<String> {
        Vec::new()
    }

    fn ports(&self, _m: &mut Module) {}

    fn stream_hold(&self) -> Option<&'static str> {
        None
    }

    fn feed(&self, m: &mut Module) -> Vec<Vec<(String, Expr)>> {
        let (n, channels) = (self.lanes, self.channels);
        let chan_bits = index_bits(channels);
        let mut lane_channel: Vec<Option<Expr>> = vec![None; n];
        if channels > 1 && n % channels == 0 {
            m.comment(&[&format!(
                "Channels: {n} lanes per beat is a multiple of {channels} channels, so lane i is always channel i mod {channels}."
            )]);
            for (i, c) in lane_channel.iter_mut().enumerate() {
                *c = Some(Expr::uint(chan_bits, (i % channels) as u64));
            }
        }
        if channels > 1 && n % channels != 0 {
            let cp = m.localparam(
                "CHANNEL_WIDTH",
                chan_bits,
                &format!("channel 0..{channels}"),
            );
            m.comment(&[
                &format!(
                    "Channels (channels-last stream): sample j of a packet is channel j mod {channels}."
                ),
                "chan_base_reg is lane 0's channel on the current beat; it restarts at 0 after",
                "reset and after a beat with TLAST, else advances by LANES mod CHANNELS; lane i's",
                "channel is (chan_base_reg + i) mod CHANNELS. No dividers: one compare and subtract.",
            ]);
            m.reg("chan_base_reg", Size::param(&cp), false);
            // (base + k) mod CHANNELS for every offset k a lane or the next beat needs, once each.
            let step = n % channels;
            let mut offsets: Vec<usize> = (0..n).map(|i| i % channels).chain([step]).collect();
            offsets.sort_unstable();
            offsets.dedup();
            let plus = |k: usize| {
                if k == 0 {
                    "chan_base_reg".to_string()
                } else {
                    format!("chan_base_plus{k}")
                }
            };
            for &k in offsets.iter().filter(|&&k| k > 0) {
                m.wire_eq(
                    &plus(k),
                    Size::param(&cp),
                    false,
                    add_mod("chan_base_reg", k, channels, chan_bits),
                );
                m.note(&format!("(chan_base_reg + {k}) mod {channels}"));
            }
            for (i, c) in lane_channel.iter_mut().enumerate() {
                *c = Some(Expr::name(&plus(i % channels)));
            }
            let next = plus(step);
            m.always_ff(
                "aclk",
                &[],
                vec![
                    Stmt::when(
                        Expr::name("s_axis_tvalid").logic_and(Expr::name("ce")),
                        vec![Stmt::set(
                            "chan_base_reg",
                            Expr::when(
                                Expr::name("s_axis_tlast"),
                                Expr::uint(chan_bits, 0),
                                Expr::name(&next),
                            ),
                        )],
                    ),
                    Stmt::when(
                        Expr::name("aresetn").logic_not(),
                        vec![Stmt::set("chan_base_reg", Expr::uint(chan_bits, 0))],
                    ),
                ],
            );
        }
        lane_channel
            .into_iter()
            .map(|c| c.map(|e| ("channel".to_string(), e)).into_iter().collect())
            .collect()
    }
}
