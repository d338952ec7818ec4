//! The AXI4-Lite register map of a core whose coefficients are loaded at run time
//! (`--coeffs axilite`). One definition, used by the HDL generator, the co-simulation bench,
//! the C header, the PYNQ driver and the documentation.
//!
//! All registers are 32 bits wide at 4-byte aligned byte addresses:
//!
//! | address | name | access | contents |
//! |---|---|---|---|
//! | `0x0000` | `ID` | RO | [`ID_VALUE`], "RPCT" |
//! | `0x0004` | `VERSION` | RO | generator version `major << 16 \| minor << 8 \| patch` |
//! | `0x0008` | `FORMAT` | RO | `[7:0]` input W, `[15:8]` input I (signed), `[23:16]` output W, `[31:24]` output I (signed) |
//! | `0x000C` | `GEOMETRY` | RO | `[7:0]` lanes, `[15:8]` latency (accepted input beat to valid output beat, cycles: `GeneratedCore::latency_cycles`), `[23:16]` layer slots L, `[31:24]` segments S |
//! | `0x0010` | `CHANNELS` | RO | `[15:0]` channel slots C per layer |
//! | `0x0014` | `WIDTHS` | RO | `[7:0]` c2 bits, `[15:8]` k1 bits, `[23:16]` k0 bits, `[31:24]` threshold bits |
//! | `0x0018` | `SHIFTS` | RO | `[7:0]` shift1, `[15:8]` shift2 |
//! | `0x0020` | `LAYER_SELECT` | RW | layer used for the stream, `0..L-1`; reset to 0 by `aresetn` |
//! | `0x0100 + 4·l` | `LAYER_CHANNELS[l]` | RW | channels of layer l, `1..=C` (the channel counter wraps there) |
//! | `0x0400 + 4·(l·(S-1) + i)` | `THRESHOLD[l][i]` | RW | raw input threshold i of layer l, sign-extended |
//! | `0x1000 + 32·((l·C + c)·S + s) + 8·k + 4·h` | `COEF[l][c][s][k]` | RW | k = 0: c2, 1: k1, 2: k0; h = 0 low word, 1 high word (sign-extended on read) |
//!
//! Configuration registers and tables keep their contents through `aresetn` except
//! `LAYER_SELECT`; write them while the stream is idle (a change takes effect on the samples
//! entering the pipeline after it).

use crate::fixedpoint::DatapathSpec;
use serde::Serialize;

/// Value of the `ID` register: ASCII "RPCT".
pub const ID_VALUE: u32 = 0x5250_4354;

/// Byte addresses of the fixed registers.
pub mod addr {
    /// `ID`.
    pub const ID: u32 = 0x0000;
    /// `VERSION`.
    pub const VERSION: u32 = 0x0004;
    /// `FORMAT`.
    pub const FORMAT: u32 = 0x0008;
    /// `GEOMETRY`.
    pub const GEOMETRY: u32 = 0x000C;
    /// `CHANNELS`.
    pub const CHANNELS: u32 = 0x0010;
    /// `WIDTHS`.
    pub const WIDTHS: u32 = 0x0014;
    /// `SHIFTS`.
    pub const SHIFTS: u32 = 0x0018;
    /// `LAYER_SELECT`.
    pub const LAYER_SELECT: u32 = 0x0020;
    /// Base of `LAYER_CHANNELS[l]`.
    pub const LAYER_CHANNELS: u32 = 0x0100;
    /// Base of `THRESHOLD[l][i]`.
    pub const THRESHOLD: u32 = 0x0400;
    /// Base of `COEF[l][c][s][k]`.
    pub const COEF: u32 = 0x1000;
}

/// Bytes per (layer, channel, segment) coefficient entry: three 64-bit constants, padded.
pub const COEF_ENTRY_BYTES: u32 = 32;

/// Which of the three constants of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CoefKind {
    /// The quadratic coefficient.
    C2 = 0,
    /// The linear constant with its rounding bias.
    K1 = 1,
    /// The constant term with its rounding bias.
    K0 = 2,
}

/// The geometry of one run-time-coefficient core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RegisterMap {
    /// Layer slots L.
    pub layers: u32,
    /// Channel slots C per layer.
    pub channels: u32,
    /// Segments S per layer.
    pub segments: u32,
}

impl RegisterMap {
    /// The map for a core holding every layer of `spec`.
    pub fn for_spec(spec: &DatapathSpec) -> Self {
        RegisterMap {
            layers: spec.layers().len() as u32,
            channels: spec.max_channels() as u32,
            segments: spec.segments() as u32,
        }
    }

    /// `LAYER_CHANNELS[layer]`.
    pub fn layer_channels(&self, layer: u32) -> u32 {
        addr::LAYER_CHANNELS + 4 * layer
    }

    /// `THRESHOLD[layer][i]`.
    pub fn threshold(&self, layer: u32, i: u32) -> u32 {
        addr::THRESHOLD + 4 * (layer * (self.segments - 1) + i)
    }

    /// Low word of `COEF[layer][channel][segment][kind]`; the high word is 4 bytes above.
    pub fn coef(&self, layer: u32, channel: u32, segment: u32, kind: CoefKind) -> u32 {
        addr::COEF
            + COEF_ENTRY_BYTES * ((layer * self.channels + channel) * self.segments + segment)
            + 8 * kind as u32
    }

    /// One past the highest used byte address.
    pub fn end(&self) -> u32 {
        addr::COEF + COEF_ENTRY_BYTES * self.layers * self.channels * self.segments
    }

    /// Width of `s_axi_awaddr`/`s_axi_araddr`: enough for [`end`](Self::end), at least 13
    /// bits so the fixed registers and tables never move.
    pub fn address_bits(&self) -> u32 {
        (32 - (self.end() - 1).leading_zeros()).max(13)
    }

    /// Whether the tables fit their address windows (thresholds below `0x1000`, channels
    /// below `0x0400`).
    pub fn fits(&self) -> bool {
        self.layer_channels(self.layers) <= addr::THRESHOLD
            && self.threshold(self.layers, 0) <= addr::COEF
    }

    /// Every register write that loads layer `layer` of `spec` into slot `slot`, in order:
    /// channel count, thresholds, then coefficients (low word before high word).
    pub fn layer_writes(&self, spec: &DatapathSpec, layer: usize, slot: u32) -> Vec<(u32, u32)> {
        let l = &spec.layers()[layer];
        let mut w = vec![(self.layer_channels(slot), l.channels() as u32)];
        for (i, &t) in l.thresholds.iter().enumerate() {
            w.push((self.threshold(slot, i as u32), t as u32));
        }
        for (c, segs) in l.coefs.iter().enumerate() {
            for (s, k) in segs.iter().enumerate() {
                for (kind, v) in [
                    (CoefKind::C2, k.c2),
                    (CoefKind::K1, k.k1),
                    (CoefKind::K0, k.k0),
                ] {
                    let a = self.coef(slot, c as u32, s as u32, kind);
                    w.push((a, v as u32));
                    w.push((a + 4, (v >> 32) as u32));
                }
            }
        }
        w
    }
}
