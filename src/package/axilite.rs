//! The AXI4-Lite register map of a run-time-coefficient core (`--coeffs axilite`) as the package
//! renders it: one list of registers with their offsets, fields, access, reset values and table
//! extents, built from [`crate::hdl::regmap`] (addresses from [`RegisterMap`], names, order,
//! access and text from [`REGISTERS`], values of the read-only registers from
//! [`RegisterMap::read_only_values`]). `component.xml`, `config.tcl`, the C header, the PYNQ
//! tables, the report and the README all render this list, so none of them retypes an address.
//!
//! The only facts added here are the names of the bit fields; a unit test checks their bit
//! ranges (and signedness) against the `[hi:lo]` spans of the register map's own text.

use crate::fixedpoint::DatapathSpec;
pub use crate::hdl::regmap::Field;
use crate::hdl::regmap::{self, fields_of, Access, CoefKind, RegisterMap, REGISTERS};
use crate::{Error, Result};
use serde::Serialize;

/// Name of the AXI4-Lite bus interface, of its memory map and of the Tcl facts about it.
pub const S_AXI: &str = "S_AXI";
/// Name of the one address block of the memory map.
pub const ADDRESS_BLOCK: &str = "reg0";
/// Prefix of the AXI4-Lite slave's ports.
pub const S_AXI_PREFIX: &str = "s_axi_";
/// Bits of a register (and of `s_axi_wdata`/`s_axi_rdata`).
pub const REGISTER_BITS: u32 = 32;

/// Logical port names of `xilinx.com:interface:aximm:1.0` an AXI4-Lite slave uses, each with
/// its direction seen from the slave (`true`: an input).
pub const AXI4LITE_LOGICAL_PORTS: [(&str, bool); 19] = [
    ("AWADDR", true),
    ("AWPROT", true),
    ("AWVALID", true),
    ("AWREADY", false),
    ("WDATA", true),
    ("WSTRB", true),
    ("WVALID", true),
    ("WREADY", false),
    ("BRESP", false),
    ("BVALID", false),
    ("BREADY", true),
    ("ARADDR", true),
    ("ARPROT", true),
    ("ARVALID", true),
    ("ARREADY", false),
    ("RDATA", false),
    ("RRESP", false),
    ("RVALID", false),
    ("RREADY", true),
];

/// A table of registers: `count` entries from the register's offset, `stride` bytes apart,
/// and the same table of the next layer slot `layer_stride` bytes further on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Entries in all layer slots.
    pub count: u32,
    /// Bytes from one entry to the next.
    pub stride: u32,
    /// Bytes from an entry of slot l to the same entry of slot l + 1.
    pub layer_stride: u32,
    /// 32-bit words used in an entry (two per 64-bit constant of a `COEF` entry).
    pub words: u32,
}

impl Table {
    /// Offset of the last byte of the table, from its base.
    pub fn span(&self) -> u32 {
        if self.count == 0 {
            0
        } else {
            self.stride * (self.count - 1) + 4 * self.words
        }
    }
}

/// One register (or the first register of a table) of the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Register {
    /// Name without indexes: `ID`, …, `LAYER_SELECT`, `LAYER_CHANNELS`, `THRESHOLD`, `COEF`.
    pub name: &'static str,
    /// Name as the register map documents it, with indexes (`THRESHOLD[l][i]`).
    pub doc_name: &'static str,
    /// Byte offset in the address block (of the first entry for a table).
    pub offset: u32,
    /// Access.
    pub access: Access,
    /// Address formula as the register map documents it.
    pub address: &'static str,
    /// What it holds, as plain ASCII text (for a table: what an entry holds, and the
    /// table's extent in this core).
    pub description: String,
    /// Bit fields, least significant first.
    pub fields: Vec<Field>,
    /// Value after reset: the constant of a read-only register, 0 for `LAYER_SELECT`; none
    /// for the tables (they keep their contents through `aresetn`).
    pub reset: Option<u32>,
    /// The table this register starts, if it is one.
    pub table: Option<Table>,
}

impl Register {
    /// The description standing alone (as `component.xml` shows it): a table's starts with
    /// its indexed name and address formula.
    pub fn full_description(&self) -> String {
        match self.table {
            Some(_) => format!(
                "{} at {}: {}",
                plain(self.doc_name),
                plain(self.address),
                self.description
            ),
            None => self.description.clone(),
        }
    }

    /// `read-only` or `read-write`, as IP-XACT writes it.
    pub fn ipxact_access(&self) -> &'static str {
        match self.access {
            Access::ReadOnly => "read-only",
            Access::ReadWrite => "read-write",
        }
    }
}

/// The register map of one core, ready to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoreRegisters {
    /// Layer slots, channel slots and segments.
    pub map: RegisterMap,
    /// Width of `s_axi_awaddr`/`s_axi_araddr`.
    pub address_bits: u32,
    /// Bytes of the address block: 2^`address_bits`.
    pub range: u64,
    /// Registers in address order.
    pub registers: Vec<Register>,
    /// Offset of the high word of a 64-bit constant from its low word.
    pub high_word: u32,
    /// Offsets of the low words of c2, k1 and k0 inside a `COEF` entry.
    pub coef_words: [u32; 3],
}

/// `text` of the register map's documentation as plain ASCII: no code spans, no rustdoc
/// links, `*` for the product sign.
pub fn plain(text: &str) -> String {
    // A parenthesized Rust constant (` (`ID_VALUE`)`, or as a rustdoc link ` ([`ID_VALUE`])`)
    // names generator code, not the hardware: dropped.
    let mut t = text.to_string();
    let mut from = 0;
    while let Some(i) = t[from..].find(" (").map(|i| i + from) {
        let rest = &t[i + 2..];
        let inner = rest.strip_prefix('[').unwrap_or(rest);
        let linked = inner.len() != rest.len();
        let constant = inner.strip_prefix('`').and_then(|r| {
            let end = r.find('`')?;
            let name = &r[..end];
            let after = &r[end + 1..];
            let after = if linked {
                after.strip_prefix(']')?
            } else {
                after
            };
            let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            (ok && after.starts_with(')')).then(|| t.len() - after.len() + 1)
        });
        match constant {
            Some(end) => t.replace_range(i..end, ""),
            None => from = i + 2,
        }
    }
    let t = t.replace('`', "").replace('·', "*");
    // Rustdoc links `[NAME]` (an identifier in brackets) lose their brackets; bit spans
    // `[7:0]` and index lists keep theirs.
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if close > 0
                    && after[..close]
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_') =>
            {
                out.push_str(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `[hi:lo]` spans in a register's documented contents, with whether the text right after
/// a span (up to the next span) says `(signed)`.
pub fn documented_spans(contents: &str) -> Vec<(u32, u32, bool)> {
    let mut spans = Vec::new();
    let parts: Vec<&str> = contents.split("`[").skip(1).collect();
    for p in parts {
        let Some((range, tail)) = p.split_once("]`") else {
            continue;
        };
        let Some((hi, lo)) = range.split_once(':') else {
            continue;
        };
        let (Ok(hi), Ok(lo)) = (hi.parse::<u32>(), lo.parse::<u32>()) else {
            continue;
        };
        spans.push((hi, lo, tail.contains("(signed)")));
    }
    spans
}

fn internal(what: String) -> Error {
    Error::Internal(format!("packager: {what}"))
}

impl CoreRegisters {
    /// The registers of `map`, a core of `spec` with `lanes` lanes.
    pub fn new(map: &RegisterMap, spec: &DatapathSpec, lanes: usize) -> Result<Self> {
        let ro = map.read_only_values(spec, lanes);
        let address_bits = map.address_bits();
        let coef0 = map.coef(0, 0, 0, CoefKind::C2);
        let coef_words =
            [CoefKind::C2, CoefKind::K1, CoefKind::K0].map(|k| map.coef(0, 0, 0, k) - coef0);
        // Two 32-bit words per 64-bit constant, the high word above the low one (as
        // `layer_writes` writes them).
        let high_word = REGISTER_BITS / 8;
        let mut registers = Vec::new();
        for doc in &REGISTERS {
            let name = doc.name.split('[').next().unwrap_or(doc.name);
            let fields = fields_of(name)
                .map(<[Field]>::to_vec)
                .ok_or_else(|| internal(format!("register `{name}` has no field names")))?;
            let table = |offset: u32, count: u32, stride: u32, layer_stride: u32, words: u32| {
                (
                    offset,
                    Some(Table {
                        count,
                        stride,
                        layer_stride,
                        words,
                    }),
                )
            };
            let (offset, table) = match name {
                "LAYER_SELECT" => (regmap::addr::LAYER_SELECT, None),
                "LAYER_CHANNELS" => {
                    let base = map.layer_channels(0);
                    let step = map.layer_channels(1) - base;
                    table(base, map.layers, step, step, 1)
                }
                "THRESHOLD" => {
                    let base = map.threshold(0, 0);
                    table(
                        base,
                        map.thresholds(),
                        map.threshold(0, 1) - base,
                        map.threshold(1, 0) - base,
                        1,
                    )
                }
                "COEF" => table(
                    coef0,
                    map.coef_entries(),
                    map.coef(0, 0, 1, CoefKind::C2) - coef0,
                    map.coef(1, 0, 0, CoefKind::C2) - coef0,
                    2 * coef_words.len() as u32,
                ),
                _ => match ro.iter().find(|v| v.name == name) {
                    Some(v) => (v.addr, None),
                    None => return Err(internal(format!("register `{name}` has no address"))),
                },
            };
            let reset = match (doc.access, &table) {
                (_, Some(_)) => None,
                (Access::ReadOnly, None) => ro.iter().find(|v| v.name == name).map(|v| v.value),
                (Access::ReadWrite, None) => Some(0),
            };
            let mut description = plain(doc.contents);
            if let Some(t) = &table {
                let extent = if t.count == 0 {
                    " (empty here)".to_string()
                } else {
                    format!(
                        " Here {} entr{} at 0x{:04X}..0x{:04X}, {} bytes apart.",
                        t.count,
                        if t.count == 1 { "y" } else { "ies" },
                        offset,
                        offset + t.span() - 1,
                        t.stride
                    )
                };
                description = format!("{description}.{extent}");
            }
            registers.push(Register {
                name,
                doc_name: doc.name,
                offset,
                access: doc.access,
                address: doc.address,
                description,
                fields,
                reset,
                table,
            });
        }
        Ok(CoreRegisters {
            map: *map,
            address_bits,
            range: 1u64 << address_bits,
            registers,
            high_word,
            coef_words,
        })
    }

    /// The register named `name` (without indexes).
    pub fn register(&self, name: &str) -> Option<&Register> {
        self.registers.iter().find(|r| r.name == name)
    }

    /// The tables, highest offset first: an offset belongs to the first whose base is at or
    /// below it.
    pub fn tables_descending(&self) -> Vec<(&Register, Table)> {
        let mut t: Vec<(&Register, Table)> = self
            .registers
            .iter()
            .filter_map(|r| r.table.map(|t| (r, t)))
            .collect();
        t.sort_by_key(|(r, _)| std::cmp::Reverse(r.offset));
        t
    }

    /// Moves an offset of a table write for slot 0 to slot `slot`.
    pub fn relocate(&self, offset: u32, slot: u32) -> u32 {
        match self
            .tables_descending()
            .into_iter()
            .find(|(r, _)| r.offset <= offset)
        {
            Some((_, t)) => offset + t.layer_stride * slot,
            None => offset,
        }
    }
}

/// The register writes that load each layer of `spec` into slot 0 (relocate them with
/// [`CoreRegisters::relocate`]).
pub fn slot0_writes(map: &RegisterMap, spec: &DatapathSpec) -> Vec<Vec<(u32, u32)>> {
    (0..spec.layers().len())
        .map(|l| map.layer_writes(spec, l, 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdl::regmap::FIELDS;

    #[test]
    fn field_names_cover_every_documented_register_and_span() {
        assert_eq!(FIELDS.len(), REGISTERS.len());
        for (doc, (name, fields)) in REGISTERS.iter().zip(FIELDS) {
            assert_eq!(doc.name.split('[').next().unwrap(), name);
            let spans = documented_spans(doc.contents);
            if spans.is_empty() {
                // One 32-bit field, or VERSION's bytes.
                let bits: u32 = fields.iter().map(|f| f.width).sum();
                assert!(bits <= 32, "{name}");
                if name != "VERSION" {
                    assert_eq!(fields.len(), 1, "{name}");
                    assert_eq!((fields[0].lsb, fields[0].width), (0, 32), "{name}");
                }
            } else {
                let mine: Vec<(u32, u32, bool)> = fields
                    .iter()
                    .map(|f| (f.lsb + f.width - 1, f.lsb, f.signed))
                    .collect();
                assert_eq!(mine, spans, "{name}: fields against `{}`", doc.contents);
            }
            // No overlaps, inside 32 bits.
            let mut used = 0u64;
            for f in fields.iter() {
                let m = ((1u64 << f.width) - 1) << f.lsb;
                assert_eq!(used & m, 0, "{name}.{}", f.name);
                assert!(f.lsb + f.width <= 32);
                used |= m;
            }
        }
    }

    #[test]
    fn version_fields_decode_the_crate_version() {
        let fields = FIELDS.iter().find(|(n, _)| *n == "VERSION").unwrap().1;
        let w = regmap::version_word();
        let part = |n: &str| fields.iter().find(|f| f.name == n).unwrap().decode(w);
        assert_eq!(
            format!("{}.{}.{}", part("MAJOR"), part("MINOR"), part("PATCH")),
            env!("CARGO_PKG_VERSION")
        );
    }

    #[test]
    fn plain_text_drops_code_spans_and_links() {
        assert_eq!(
            plain("`0x52504354`, ASCII \"RPCT\" ([`ID_VALUE`])"),
            "0x52504354, ASCII \"RPCT\""
        );
        assert_eq!(
            plain("`0x52504354`, ASCII \"RPCT\" (`ID_VALUE`)"),
            "0x52504354, ASCII \"RPCT\""
        );
        assert_eq!(plain("a (`b`) (see `X`)"), "a (b) (see X)");
        assert_eq!(plain("see [`X`] and [Y]"), "see X and Y");
        assert_eq!(plain("`[7:0]` lanes"), "[7:0] lanes");
        assert_eq!(
            plain("0x0400 + 4·(l·(S-1) + i)"),
            "0x0400 + 4*(l*(S-1) + i)"
        );
        assert_eq!(plain("THRESHOLD[l][i]"), "THRESHOLD[l][i]");
        assert_eq!(
            documented_spans("`[7:0]` input W, `[15:8]` input I (signed), `[23:16]` x"),
            vec![(7, 0, false), (15, 8, true), (23, 16, false)]
        );
    }

    #[test]
    fn signed_fields_sign_extend_and_pack_back() {
        let f = Field {
            name: "X",
            lsb: 8,
            width: 8,
            signed: true,
        };
        assert_eq!(f.decode(0x0000_FA00), -6);
        assert_eq!(f.decode(0x0000_0600), 6);
        for v in -128..128 {
            assert_eq!(f.decode(f.pack(v)), v);
        }
        assert_eq!(f.pack(-6), 0x0000_FA00);
        let word = Field {
            name: "Y",
            lsb: 0,
            width: 32,
            signed: false,
        };
        assert_eq!(word.decode(u32::MAX), u32::MAX as i64);
        assert_eq!(word.pack(u32::MAX as i64), u32::MAX);
    }
}
