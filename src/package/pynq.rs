//! `sw/repact_cores.json`, the stream format of each core the PYNQ driver (`sw/repact_pynq.py`,
//! fixed Python: [`super::fixed_files::PYNQ_DRIVER`]) reads — for a run-time-coefficient core
//! also its register map and the register writes that load each layer.

use super::axilite::{slot0_writes, CoreRegisters, Field, Table};
use crate::bundle::BuiltCore;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Format {
    width: u32,
    int_bits: i32,
    /// Bits of the stream slot a sample occupies ([`crate::hdl::StreamLayout`]).
    slot_bits: u32,
}

#[derive(Serialize)]
struct RegisterEntry<'a> {
    name: &'a str,
    offset: u32,
    access: &'a str,
    /// Value after reset (the constant of a read-only register).
    #[serde(skip_serializing_if = "Option::is_none")]
    reset: Option<u32>,
    fields: &'a [Field],
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<Table>,
}

#[derive(Serialize)]
struct RegisterMapEntry<'a> {
    address_bits: u32,
    range: u64,
    layer_slots: u32,
    channel_slots: u32,
    segments: u32,
    registers: Vec<RegisterEntry<'a>>,
}

#[derive(Serialize)]
struct LayerEntry<'a> {
    name: &'a str,
    /// The slot it was generated for.
    slot: usize,
    channels: usize,
    /// `[offset, value]` register writes that load the layer into slot 0, in order.
    slot0_writes: Vec<[u32; 2]>,
}

#[derive(Serialize)]
struct CoreEntry<'a> {
    /// The layer (of a run-time-coefficient core: the layer of slot 0, streamed after reset).
    layer: &'a str,
    channels: usize,
    lanes: usize,
    latency_cycles: usize,
    s_tdata_width: u32,
    m_tdata_width: u32,
    input: Format,
    output: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    register_map: Option<RegisterMapEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layers: Option<Vec<LayerEntry<'a>>>,
}

#[derive(Serialize)]
struct CoresFile<'a> {
    generator: String,
    cores: BTreeMap<&'a str, CoreEntry<'a>>,
}

/// `sw/repact_cores.json`.
pub fn cores_json(cores: &[BuiltCore]) -> Result<String> {
    let regs: Vec<Option<CoreRegisters>> = cores
        .iter()
        .map(|b| (&b.interface, &b.spec))
        .map(|(c, s)| super::core_registers(c, s))
        .collect::<Result<_>>()?;
    let cores = cores
        .iter()
        .map(|b| (&b.interface, &b.spec))
        .zip(&regs)
        .map(|((c, s), r)| {
            let layer = &s.layers()[c.first_layer()];
            let register_map = r.as_ref().map(|r| RegisterMapEntry {
                address_bits: r.address_bits,
                range: r.range,
                layer_slots: r.map.layers,
                channel_slots: r.map.channels,
                segments: r.map.segments,
                registers: r
                    .registers
                    .iter()
                    .map(|g| RegisterEntry {
                        name: g.name,
                        offset: g.offset,
                        access: g.access.abbrev(),
                        reset: g.reset,
                        fields: &g.fields,
                        table: g.table,
                    })
                    .collect(),
            });
            let layers = r.as_ref().map(|r| {
                s.layers()
                    .iter()
                    .zip(slot0_writes(&r.map, s))
                    .enumerate()
                    .map(|(slot, (l, w))| LayerEntry {
                        name: l.name(),
                        slot,
                        channels: l.channels(),
                        slot0_writes: w.into_iter().map(|(a, v)| [a, v]).collect(),
                    })
                    .collect()
            });
            (
                c.top.as_str(),
                CoreEntry {
                    layer: layer.name(),
                    channels: layer.channels(),
                    lanes: c.stream.lanes,
                    latency_cycles: c.latency_cycles,
                    s_tdata_width: c.stream.s_tdata(),
                    m_tdata_width: c.stream.m_tdata(),
                    input: Format {
                        width: s.input().width(),
                        int_bits: s.input().int_bits(),
                        slot_bits: c.stream.s_slot,
                    },
                    output: Format {
                        width: s.output().width(),
                        int_bits: s.output().int_bits(),
                        slot_bits: c.stream.m_slot,
                    },
                    register_map,
                    layers,
                },
            )
        })
        .collect();
    let file = CoresFile {
        generator: format!("repact-hw {}", env!("CARGO_PKG_VERSION")),
        cores,
    };
    serde_json::to_string_pretty(&file)
        .map(|s| s + "\n")
        .map_err(|e| Error::Internal(format!("cannot serialize repact_cores.json: {e}")))
}
