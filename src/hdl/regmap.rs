//! The AXI4-Lite register map of a core whose coefficients are loaded at run time
//! (`--coeffs axilite`). One definition, used by the HDL generator, the co-simulation bench,
//! the C header, the PYNQ driver and the documentation.
//!
//! All registers are 32 bits wide at 4-byte aligned byte addresses:
//!
//! | address | name | access | contents |
//! |---|---|---|---|
//! | `0x0000` | `ID` | RO | `0x52504354`, ASCII "RPCT" (`ID_VALUE`) |
//! | `0x0004` | `VERSION` | RO | generator version `major << 16 \| minor << 8 \| patch` |
//! | `0x0008` | `FORMAT` | RO | `[7:0]` input W, `[15:8]` input I (signed), `[23:16]` output W, `[31:24]` output I (signed) |
//! | `0x000C` | `GEOMETRY` | RO | `[7:0]` lanes, `[15:8]` latency (accepted input beat to valid output beat, cycles: `CoreInterface::latency_cycles`), `[23:16]` layer slots L, `[31:24]` segments S |
//! | `0x0010` | `CHANNELS` | RO | `[15:0]` channel slots C per layer |
//! | `0x0014` | `WIDTHS` | RO | `[7:0]` c2 bits, `[15:8]` k1 bits, `[23:16]` k0 bits, `[31:24]` threshold bits |
//! | `0x0018` | `SHIFTS` | RO | `[7:0]` shift1, `[15:8]` shift2 |
//! | `0x0020` | `LAYER_SELECT` | RW | layer used for the stream, `0..L-1`; reset to 0 by `aresetn` |
//! | `0x0100 + 4·l` | `LAYER_CHANNELS[l]` | RW | channels of layer l, `1..=C` (the channel counter wraps there; 0 counts as 1) |
//! | `0x0400 + 4·(l·(S-1) + i)` | `THRESHOLD[l][i]` | RW | raw input threshold i of layer l (threshold bits wide), sign-extended on read |
//! | `0x1000 + 32·((l·C + c)·S + s) + 8·k + 4·h` | `COEF[l][c][s][k]` | RW | k = 0: c2, 1: k1, 2: k0; h = 0 low word, 1 high word (sign-extended on read) |
//!
//! Configuration registers and tables keep their contents through `aresetn` except
//! `LAYER_SELECT`; write them while the stream is idle (a change takes effect on the samples
//! entering the pipeline after it).
//!
//! # Bus semantics (what the generated slave does)
//!
//! * Responses: OKAY (0) for every read of a mapped register and every accepted write;
//!   SLVERR (2) for any access to an unmapped address (the gaps between the windows, the
//!   fourth word pair of a `COEF` entry, indexes past L, L·(S-1) or L·C·S), for writes to
//!   read-only registers, and for writes that would store an illegal value (`LAYER_SELECT` ≥ L,
//!   `LAYER_CHANNELS` > C). A refused write changes nothing; a refused read returns 0.
//! * `WSTRB` is honoured: only the strobed bytes of the 32-bit register view change. The view
//!   of a narrower register is its value zero-extended (`LAYER_SELECT`, `LAYER_CHANNELS`) or
//!   sign-extended (thresholds, coefficients); bits above the stored width are dropped, so a
//!   value that does not fit reads back truncated and sign-extended.
//! * Address bits `[1:0]` and `AWPROT`/`ARPROT` are ignored.
//! * Every write holds `s_axis_tready` low for a few cycles while the selected layer's
//!   thresholds and channel count settle into their registers; samples already accepted are
//!   unaffected (they carry their coefficients with them). Writing `LAYER_SELECT` or any
//!   `LAYER_CHANNELS` restarts the channel count, as TLAST and `aresetn` do.
//! * The map is also in the header of every generated `--coeffs axilite` core
//!   ([`RegisterMap::describe`]), generated from [`REGISTERS`], which this table must equal
//!   (a unit test checks it).

use crate::fixedpoint::DatapathSpec;
use serde::{Deserialize, Serialize};

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

/// Whether software may write a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Access {
    /// Read-only: writes answer SLVERR.
    ReadOnly,
    /// Read and write.
    ReadWrite,
}

impl Access {
    /// `RO` or `RW`.
    pub fn abbrev(self) -> &'static str {
        match self {
            Access::ReadOnly => "RO",
            Access::ReadWrite => "RW",
        }
    }
}

/// One row of the register map's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterDoc {
    /// Byte address or address formula.
    pub address: &'static str,
    /// Name, with its indexes.
    pub name: &'static str,
    /// Access.
    pub access: Access,
    /// Contents (text with `code` spans).
    pub contents: &'static str,
}

/// The register map as documentation rows, in address order: the source of the module
/// documentation table, the Verilog header and any other rendering.
pub const REGISTERS: [RegisterDoc; 11] = [
    RegisterDoc {
        address: "0x0000",
        name: "ID",
        access: Access::ReadOnly,
        contents: "`0x52504354`, ASCII \"RPCT\" (`ID_VALUE`)",
    },
    RegisterDoc {
        address: "0x0004",
        name: "VERSION",
        access: Access::ReadOnly,
        contents: "generator version `major << 16 | minor << 8 | patch`",
    },
    RegisterDoc {
        address: "0x0008",
        name: "FORMAT",
        access: Access::ReadOnly,
        contents: "`[7:0]` input W, `[15:8]` input I (signed), `[23:16]` output W, `[31:24]` output I (signed)",
    },
    RegisterDoc {
        address: "0x000C",
        name: "GEOMETRY",
        access: Access::ReadOnly,
        contents: "`[7:0]` lanes, `[15:8]` latency (accepted input beat to valid output beat, cycles: `CoreInterface::latency_cycles`), `[23:16]` layer slots L, `[31:24]` segments S",
    },
    RegisterDoc {
        address: "0x0010",
        name: "CHANNELS",
        access: Access::ReadOnly,
        contents: "`[15:0]` channel slots C per layer",
    },
    RegisterDoc {
        address: "0x0014",
        name: "WIDTHS",
        access: Access::ReadOnly,
        contents: "`[7:0]` c2 bits, `[15:8]` k1 bits, `[23:16]` k0 bits, `[31:24]` threshold bits",
    },
    RegisterDoc {
        address: "0x0018",
        name: "SHIFTS",
        access: Access::ReadOnly,
        contents: "`[7:0]` shift1, `[15:8]` shift2",
    },
    RegisterDoc {
        address: "0x0020",
        name: "LAYER_SELECT",
        access: Access::ReadWrite,
        contents: "layer used for the stream, `0..L-1`; reset to 0 by `aresetn`",
    },
    RegisterDoc {
        address: "0x0100 + 4·l",
        name: "LAYER_CHANNELS[l]",
        access: Access::ReadWrite,
        contents: "channels of layer l, `1..=C` (the channel counter wraps there; 0 counts as 1)",
    },
    RegisterDoc {
        address: "0x0400 + 4·(l·(S-1) + i)",
        name: "THRESHOLD[l][i]",
        access: Access::ReadWrite,
        contents: "raw input threshold i of layer l (threshold bits wide), sign-extended on read",
    },
    RegisterDoc {
        address: "0x1000 + 32·((l·C + c)·S + s) + 8·k + 4·h",
        name: "COEF[l][c][s][k]",
        access: Access::ReadWrite,
        contents: "k = 0: c2, 1: k1, 2: k0; h = 0 low word, 1 high word (sign-extended on read)",
    },
];

/// The markdown table of [`REGISTERS`] (the module documentation shows it).
pub fn markdown_table() -> Vec<String> {
    let mut rows = vec![
        "| address | name | access | contents |".to_string(),
        "|---|---|---|---|".to_string(),
    ];
    for r in &REGISTERS {
        rows.push(format!(
            "| `{}` | `{}` | {} | {} |",
            r.address,
            r.name,
            r.access.abbrev(),
            r.contents.replace('|', "\\|")
        ));
    }
    rows
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> impl Iterator<Item = String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(l) if l.len() + 1 + word.len() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines.into_iter()
}

/// The `VERSION` register: this crate's version, `major << 16 | minor << 8 | patch`.
pub fn version_word() -> u32 {
    let field = |s: &str| s.parse::<u32>().unwrap_or(0) & 0xff;
    field(env!("CARGO_PKG_VERSION_MAJOR")) << 16
        | field(env!("CARGO_PKG_VERSION_MINOR")) << 8
        | field(env!("CARGO_PKG_VERSION_PATCH"))
}

/// A read-only register and the value a core reports in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReadOnlyValue {
    /// Name (as in [`REGISTERS`]).
    pub name: &'static str,
    /// Byte address.
    pub addr: u32,
    /// Value.
    pub value: u32,
}

/// A bit field of a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Name, unique in its register.
    pub name: &'static str,
    /// Lowest bit.
    pub lsb: u32,
    /// Bits.
    pub width: u32,
    /// Two's complement (sign-extend when decoding).
    pub signed: bool,
}

impl Field {
    /// `value` placed in the field (its low `width` bits; a signed value as two's complement).
    pub fn pack(&self, value: i64) -> u32 {
        let mask = if self.width >= 32 {
            u32::MAX
        } else {
            (1u32 << self.width) - 1
        };
        ((value as u32) & mask) << self.lsb
    }

    /// The field's value in `word`, sign-extended when the field is signed.
    pub fn decode(&self, word: u32) -> i64 {
        let v = (u64::from(word) >> self.lsb) & ((1u64 << self.width) - 1);
        if self.signed && v >> (self.width - 1) & 1 == 1 {
            v as i64 - (1i64 << self.width)
        } else {
            v as i64
        }
    }
}

const fn f(name: &'static str, lsb: u32, width: u32) -> Field {
    Field {
        name,
        lsb,
        width,
        signed: false,
    }
}

const fn signed(name: &'static str, lsb: u32, width: u32) -> Field {
    Field {
        name,
        lsb,
        width,
        signed: true,
    }
}

/// The fields of each register of [`REGISTERS`] (by its name up to `[`), least significant
/// first: the one layout the register file, the sim bench, the C header and the PYNQ driver
/// pack and decode with. A register without `[hi:lo]` spans in its text is one 32-bit field,
/// except `VERSION`, whose three bytes are the version's parts.
pub const FIELDS: [(&str, &[Field]); 11] = [
    ("ID", &[f("ID", 0, 32)]),
    (
        "VERSION",
        &[f("PATCH", 0, 8), f("MINOR", 8, 8), f("MAJOR", 16, 8)],
    ),
    (
        "FORMAT",
        &[
            f("IN_WIDTH", 0, 8),
            signed("IN_INT_BITS", 8, 8),
            f("OUT_WIDTH", 16, 8),
            signed("OUT_INT_BITS", 24, 8),
        ],
    ),
    (
        "GEOMETRY",
        &[
            f("LANES", 0, 8),
            f("LATENCY", 8, 8),
            f("LAYER_SLOTS", 16, 8),
            f("SEGMENTS", 24, 8),
        ],
    ),
    ("CHANNELS", &[f("CHANNEL_SLOTS", 0, 16)]),
    (
        "WIDTHS",
        &[
            f("C2_BITS", 0, 8),
            f("K1_BITS", 8, 8),
            f("K0_BITS", 16, 8),
            f("THRESHOLD_BITS", 24, 8),
        ],
    ),
    ("SHIFTS", &[f("SHIFT1", 0, 8), f("SHIFT2", 8, 8)]),
    ("LAYER_SELECT", &[f("LAYER", 0, 32)]),
    ("LAYER_CHANNELS", &[f("COUNT", 0, 32)]),
    ("THRESHOLD", &[signed("VALUE", 0, 32)]),
    ("COEF", &[f("WORD", 0, 32)]),
];

/// The fields of register `name` (its name up to `[`).
pub fn fields_of(name: &str) -> Option<&'static [Field]> {
    FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The word holding `values` in the fields of register `name`, in field order. Panics if the
/// register or the count is wrong: both are fixed in this file, so that is a bug here.
pub fn pack(name: &str, values: &[i64]) -> u32 {
    let fields = fields_of(name).unwrap_or_else(|| panic!("register `{name}` has no fields"));
    assert_eq!(fields.len(), values.len(), "register `{name}`");
    fields
        .iter()
        .zip(values)
        .map(|(f, &v)| f.pack(v))
        .fold(0, |w, b| w | b)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

    /// Threshold registers in all: L·(S-1).
    pub fn thresholds(&self) -> u32 {
        self.layers * (self.segments - 1)
    }

    /// Coefficient entries (layer, channel, segment) in all: L·C·S.
    pub fn coef_entries(&self) -> u32 {
        self.layers * self.channels * self.segments
    }

    /// The read-only registers and their values for a core of `spec` with `lanes` lanes.
    pub fn read_only_values(&self, spec: &DatapathSpec, lanes: usize) -> [ReadOnlyValue; 7] {
        let w = spec.widths();
        let (fi, fo) = (spec.input(), spec.output());
        let v = |name, addr, fields: &[i64]| ReadOnlyValue {
            name,
            addr,
            value: pack(name, fields),
        };
        let version = version_word() as i64;
        let int = |x: u32| i64::from(x);
        [
            v("ID", addr::ID, &[int(ID_VALUE)]),
            v(
                "VERSION",
                addr::VERSION,
                &[version & 0xff, version >> 8 & 0xff, version >> 16 & 0xff],
            ),
            v(
                "FORMAT",
                addr::FORMAT,
                &[
                    int(fi.width()),
                    i64::from(fi.int_bits()),
                    int(fo.width()),
                    i64::from(fo.int_bits()),
                ],
            ),
            v(
                "GEOMETRY",
                addr::GEOMETRY,
                &[
                    lanes as i64,
                    super::axis_latency(spec) as i64,
                    int(self.layers),
                    int(self.segments),
                ],
            ),
            v("CHANNELS", addr::CHANNELS, &[int(self.channels)]),
            v(
                "WIDTHS",
                addr::WIDTHS,
                &[int(w.c2), int(w.k1), int(w.k0), int(w.threshold)],
            ),
            v(
                "SHIFTS",
                addr::SHIFTS,
                &[int(spec.shift1()), int(spec.shift2())],
            ),
        ]
    }

    /// The register map of this core as text lines for a file header: every register with
    /// its concrete address range, and the values of the read-only ones.
    pub fn describe(&self, spec: &DatapathSpec, lanes: usize) -> Vec<String> {
        let ro = self.read_only_values(spec, lanes);
        let last = |base: u32, count: u32, stride: u32| {
            if count == 0 {
                "(none)".to_string()
            } else {
                format!("0x{base:04X}..0x{:04X}", base + stride * (count - 1))
            }
        };
        let mut out = vec![format!(
            "AXI4-Lite register map: 32-bit registers at byte addresses ({} address bits).",
            self.address_bits()
        )];
        out.push(format!(
            "L = {} layer slots, C = {} channel slots, S = {} segments.",
            self.layers, self.channels, self.segments
        ));
        for r in &REGISTERS {
            let here = match r.name {
                "LAYER_CHANNELS[l]" => last(addr::LAYER_CHANNELS, self.layers, 4),
                "THRESHOLD[l][i]" => last(addr::THRESHOLD, self.thresholds(), 4),
                "COEF[l][c][s][k]" => format!(
                    "{} (entries of {COEF_ENTRY_BYTES} bytes)",
                    last(addr::COEF, self.coef_entries(), COEF_ENTRY_BYTES)
                ),
                _ => match ro.iter().find(|v| v.name == r.name) {
                    Some(v) => format!("0x{:08X}", v.value),
                    None => String::new(),
                },
            };
            let here = if here.is_empty() {
                String::new()
            } else {
                format!(": {here}")
            };
            out.push(format!(
                "  {} ({}) at {}{here}",
                r.name,
                r.access.abbrev(),
                r.address.replace('·', "*")
            ));
            out.extend(wrap(&r.contents.replace('`', ""), 88).map(|l| format!("      {l}")));
        }
        out
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
    /// below `0x0400`) and the counts fit their fields in `GEOMETRY` and `CHANNELS`.
    pub fn fits(&self) -> bool {
        self.layer_channels(self.layers) <= addr::THRESHOLD
            && self.threshold(self.layers, 0) <= addr::COEF
            && (1..=0xff).contains(&self.layers)
            && (1..=0xff).contains(&self.segments)
            && (1..=0xffff).contains(&self.channels)
            && self.end() <= 1 << 30
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_doc_table_is_the_register_list() {
        let doc: Vec<String> = include_str!("regmap.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! |"))
            .map(|l| format!("|{l}"))
            .collect();
        assert_eq!(doc, markdown_table());
    }

    #[test]
    fn addresses_follow_the_table() {
        let m = RegisterMap {
            layers: 5,
            channels: 3,
            segments: 4,
        };
        assert_eq!(m.layer_channels(4), 0x0110);
        assert_eq!(m.threshold(1, 2), 0x0400 + 4 * 5);
        assert_eq!(m.coef(1, 2, 3, CoefKind::K0), 0x1000 + 32 * 23 + 16);
        assert_eq!(m.end(), 0x1000 + 32 * 60);
        assert_eq!(m.address_bits(), 13);
        assert!(m.fits());
        let big = RegisterMap {
            layers: 5,
            channels: 64,
            segments: 4,
        };
        assert_eq!(big.address_bits(), 16);
    }
}
