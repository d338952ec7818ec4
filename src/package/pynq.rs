//! The PYNQ driver: `sw/repact_pynq.py`, a real Python file kept beside this module and copied
//! verbatim, and `sw/repact_cores.json`, the stream format of each core it reads.

use crate::flow::IpBundle;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// `src/package/repact_pynq.py`, verbatim.
pub const DRIVER_PY: &str = include_str!("repact_pynq.py");

#[derive(Serialize)]
struct Format {
    width: u32,
    int_bits: i32,
}

#[derive(Serialize)]
struct CoreEntry<'a> {
    layer: &'a str,
    channels: usize,
    lanes: usize,
    latency_cycles: usize,
    s_tdata_width: u32,
    m_tdata_width: u32,
    input: Format,
    output: Format,
}

#[derive(Serialize)]
struct CoresFile<'a> {
    generator: String,
    cores: BTreeMap<&'a str, CoreEntry<'a>>,
}

/// `sw/repact_cores.json`.
pub fn cores_json(bundle: &IpBundle) -> Result<String> {
    let cores = bundle
        .cores
        .iter()
        .zip(&bundle.specs)
        .map(|(c, s)| {
            let layer = &s.layers()[c.layer];
            (
                c.top.as_str(),
                CoreEntry {
                    layer: layer.name(),
                    channels: layer.channels(),
                    lanes: c.lanes,
                    latency_cycles: c.latency_cycles,
                    s_tdata_width: c.s_tdata_width,
                    m_tdata_width: c.m_tdata_width,
                    input: Format {
                        width: s.input().width(),
                        int_bits: s.input().int_bits(),
                    },
                    output: Format {
                        width: s.output().width(),
                        int_bits: s.output().int_bits(),
                    },
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
        .map_err(|e| Error::Usage(format!("cannot serialize repact_cores.json: {e}")))
}
