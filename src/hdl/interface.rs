//! The interface of a generated core: its ports, its AXI4-Stream beat layout, where its
//! coefficients come from, and its latency. [`CoreInterface`] is produced once, by the HDL
//! generator from the module it built, and every other part of the crate (the manifest, the
//! co-simulation, the benches, IP-XACT, the C header, the PYNQ driver's `repact_cores.json`)
//! reads it instead of recomputing any of it.

use super::regmap::RegisterMap;
use crate::fixedpoint::DatapathSpec;
use serde::{Deserialize, Serialize};

/// Direction of a port, seen from the module that declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortDir {
    /// Input: driven from outside (by the testbench, in a simulation).
    In,
    /// Output: driven by the module.
    Out,
}

/// A top-level port: what the simulators, the IP packager and the manifest know of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Port {
    /// The Verilog name, a plain identifier, e.g. `s_axis_tdata`.
    pub name: String,
    /// Width in bits, at least 1.
    pub width: u32,
    /// Direction.
    pub dir: PortDir,
}

impl Port {
    /// An input port.
    pub fn input(name: impl Into<String>, width: u32) -> Self {
        Port {
            name: name.into(),
            width,
            dir: PortDir::In,
        }
    }

    /// An output port.
    pub fn output(name: impl Into<String>, width: u32) -> Self {
        Port {
            name: name.into(),
            width,
            dir: PortDir::Out,
        }
    }
}

/// Where the samples of a core sit in its AXI4-Stream beats: `lanes` samples per beat, sample
/// i of the input in `s_axis_tdata[i*s_slot +: s_slot]`, of the output in
/// `m_axis_tdata[i*m_slot +: m_slot]`; `tuser` (if any) travels beside the beat. The one place
/// the slot and TDATA widths are computed ([`StreamLayout::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamLayout {
    /// Samples per beat.
    pub lanes: usize,
    /// Bits per input sample slot: the input width rounded up to whole bytes.
    pub s_slot: u32,
    /// Bits per output sample slot: the output width rounded up to whole bytes.
    pub m_slot: u32,
    /// `tuser` width (0: no `tuser` ports).
    #[serde(rename = "tuser_width")]
    pub tuser: u32,
}

impl StreamLayout {
    /// The layout of a core of `spec` with `lanes` samples per beat and `tuser` bits of TUSER.
    pub fn new(spec: &DatapathSpec, lanes: usize, tuser: u32) -> Self {
        StreamLayout {
            lanes,
            s_slot: spec.input().slot_bits(),
            m_slot: spec.output().slot_bits(),
            tuser,
        }
    }

    /// `s_axis_tdata` width: lanes × input slot.
    pub fn s_tdata(&self) -> u32 {
        self.lanes as u32 * self.s_slot
    }

    /// `m_axis_tdata` width: lanes × output slot.
    pub fn m_tdata(&self) -> u32 {
        self.lanes as u32 * self.m_slot
    }

    /// `s_axis_tkeep` width: bytes of an input beat.
    pub fn s_bytes(&self) -> u32 {
        self.s_tdata() / 8
    }

    /// `m_axis_tkeep` width: bytes of an output beat.
    pub fn m_bytes(&self) -> u32 {
        self.m_tdata() / 8
    }
}

/// Where a core's coefficients come from: stated once, here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Coefficients {
    /// Constants in the Verilog (`--coeffs baked`): the core implements layer `layer` of its
    /// spec and nothing else.
    Baked {
        /// Index into the spec's layers.
        layer: usize,
    },
    /// Registers written at run time over AXI4-Lite (`--coeffs axilite`): layer `l` of the
    /// core's spec is slot `l` of this map; `s_axi_awaddr`/`s_axi_araddr` are
    /// [`RegisterMap::address_bits`] wide.
    #[serde(rename = "axilite")]
    Runtime(RegisterMap),
}

/// Everything outside a generated core needs to know about its interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreInterface {
    /// Top module name (the file is `<top>.v`).
    pub top: String,
    /// Top ports in declaration order: `aclk`, `aresetn`, `s_axis_tdata`, `s_axis_tkeep`,
    /// `s_axis_tvalid`, `s_axis_tready`, `s_axis_tlast`, `s_axis_tuser` (if any),
    /// `m_axis_tdata`, `m_axis_tkeep`, `m_axis_tvalid`, `m_axis_tready`, `m_axis_tlast`,
    /// `m_axis_tuser` (if any); then, for a [`Coefficients::Runtime`] core, the AXI4-Lite
    /// slave `s_axi_awaddr`, `s_axi_awprot`, `s_axi_awvalid`, `s_axi_awready`, `s_axi_wdata`,
    /// `s_axi_wstrb`, `s_axi_wvalid`, `s_axi_wready`, `s_axi_bresp`, `s_axi_bvalid`,
    /// `s_axi_bready`, `s_axi_araddr`, `s_axi_arprot`, `s_axi_arvalid`, `s_axi_arready`,
    /// `s_axi_rdata`, `s_axi_rresp`, `s_axi_rvalid`, `s_axi_rready`.
    pub ports: Vec<Port>,
    /// The beat layout.
    pub stream: StreamLayout,
    /// Where the coefficients come from.
    pub coefficients: Coefficients,
    /// Clock edges from an accepted input beat to `m_axis_tvalid` of its output beat when
    /// `m_axis_tready` is high ([`super::axis_latency`]). If the input handshake is seen at the
    /// rising edge ending cycle n, `m_axis_tvalid` for it is high in cycle n + `latency_cycles`.
    pub latency_cycles: usize,
}

impl CoreInterface {
    /// The register map of a run-time-coefficient core, `None` for a baked one.
    pub fn register_map(&self) -> Option<&RegisterMap> {
        match &self.coefficients {
            Coefficients::Runtime(map) => Some(map),
            Coefficients::Baked { .. } => None,
        }
    }

    /// The spec layer whose coefficients are baked in; for a run-time-coefficient core the
    /// layer of slot 0, which it streams after reset.
    pub fn first_layer(&self) -> usize {
        match self.coefficients {
            Coefficients::Baked { layer } => layer,
            Coefficients::Runtime(_) => 0,
        }
    }

    /// The spec layers the core can stream: its baked layer, or every slot of its map.
    pub fn layers(&self, spec: &DatapathSpec) -> std::ops::Range<usize> {
        match self.coefficients {
            Coefficients::Baked { layer } => layer..layer + 1,
            Coefficients::Runtime(_) => 0..spec.layers().len(),
        }
    }

    /// The port named `name`.
    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }
}
