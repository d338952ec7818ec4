//! HDL generation: Verilog-2001 for the datapath a [`DatapathSpec`] describes.
//!
//! # Why a Verilog builder of our own and not rust-hdl blocks
//!
//! rust-hdl 0.46 (the design card's choice; not a dependency) types every signal width as a
//! compile-time const generic (`Bits<N>`, `Signed<N>`), but our widths come from the spec at
//! run time: the width of every stage (`p1`, `s1`, `t`, …) depends on the trained coefficients and the chosen formats. The
//! width-dependent datapath therefore cannot be written as rust-hdl blocks (short of one
//! monomorphized block per width combination, or `Verilog::Custom` strings, which would be
//! templates by another name). Instead [`verilog`] is a small typed builder: modules, ports,
//! `localparam`s, `wire`/`reg` declarations, assignments, clocked `always` blocks and instances
//! are values, checked (names, references, ranges, declaration order) and rendered to text once.
//! rust-hdl 0.46 has no AXI blocks either (its bus is its own HLS bus), so nothing of the
//! AXI4-Stream/AXI4-Lite plumbing would come from it.
//!
//! # What is generated
//!
//! [`generate_baked`] builds one core for one layer with the coefficients as constants:
//! * `<top>_lane` — the datapath of one sample, fully pipelined (II = 1) with the registers of
//!   stages 1-5 of [`crate::fixedpoint::DatapathSpec::pipeline`], written so each multiply-add maps to
//!   one DSP48E1 (multiplier register, then post-adder register with the constant on C), and
//!   stage 6's round shift and saturation as logic on its output;
//! * `<top>` — AXI4-Stream in and out (verilog-axis style), N lanes per beat, `tkeep`, `tlast`
//!   and optional `tuser` carried beside the lanes, a per-lane channel counter for per-channel
//!   layers (channels-last streams), one global clock enable for backpressure and an output skid
//!   buffer that keeps `s_axis_tready` registered and whose output register is stage 6.
//!
//! [`generate_axilite`] builds one core for every layer of a spec with the coefficients in
//! tables written over an AXI4-Lite slave ([`regmap`] is the register map): the same lane
//! pipeline and latency, its stage 1 comparing against the selected layer's thresholds (held
//! in registers) and registering the (c2, k1, k0) it reads asynchronously from the tables
//! (distributed RAM) at (layer, channel, segment); a run-time channel counter; and an
//! `s_axi_*` slave (verilog-axis style, registered outputs, one transaction per direction,
//! SLVERR for unmapped/read-only/illegal, WSTRB honoured).
//!
//! The hardware computes exactly [`DatapathSpec::eval_raw`]; the co-simulation proves it.
//! Output is deterministic: the same spec and options give byte-identical text.
//!
//! # Files
//!
//! `verilog/` the builder (syntax tree and builder, `check.rs`, `render.rs`); `lane.rs` the lane (its stage 1 per coefficient source);
//! `axis.rs` the AXI4-Stream wrapper around the lanes, which a `LaneFeed` completes:
//! `baked_feed.rs` (channel numbers only) or `runtime_feed.rs` (selected-layer registers,
//! run-time channel counter, table reads), the latter over `axilite_slave.rs` (handshakes) and
//! `reg_file.rs` (decode, storage, read-back, strobed writes) laid out by `regmap.rs`;
//! `header.rs` the file header; `names.rs` identifier rules; `interface.rs` the
//! [`CoreInterface`] every generated core comes with — the one description of its ports,
//! beat layout, coefficient source and latency that the rest of the crate reads.

mod axilite_slave;
mod axis;
mod baked_feed;
mod header;
pub mod interface;
mod lane;
mod names;
mod reg_file;
pub mod regmap;
mod runtime_feed;
pub mod verilog;

pub use interface::{Coefficients, CoreInterface, Port, PortDir, StreamLayout};
pub use names::{is_legal_identifier, sanitize_identifier, MAX_IDENTIFIER_LEN};
pub use regmap::RegisterMap;

use crate::fixedpoint::{DatapathSpec, SegmentSelect};
use crate::{Error, Result};
use lane::CoefSource;

/// Samples per AXI4-Stream beat a core may have.
pub const LANE_CHOICES: [usize; 5] = [1, 2, 4, 8, 16];
/// Widest `tuser` passed through.
pub const MAX_TUSER_WIDTH: u32 = 64;

/// What the caller chooses about a core besides the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreOptions {
    /// Name of the top module (and of the file, `<top_name>.v`); must be a legal identifier,
    /// i.e. equal to [`sanitize_identifier`] of itself. The lane module is `<top_name>_lane`.
    pub top_name: String,
    /// Samples per beat: one of [`LANE_CHOICES`].
    pub lanes: usize,
    /// Width of `tuser` passed through (0: no `tuser` ports), at most [`MAX_TUSER_WIDTH`].
    pub tuser_width: u32,
    /// The command line that produced the core, quoted in the file header.
    pub command_line: String,
}

impl CoreOptions {
    /// One lane, no `tuser`, no command line.
    pub fn new(top_name: &str) -> Self {
        CoreOptions {
            top_name: top_name.to_string(),
            lanes: 1,
            tuser_width: 0,
            command_line: String::new(),
        }
    }
}

/// A generated core: the Verilog text and its interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCore {
    /// The interface, as built: what everything outside the generator reads.
    pub interface: CoreInterface,
    /// All modules of this core in one file (top first, then `<top>_lane`).
    pub verilog: String,
}

impl GeneratedCore {
    /// Top module name.
    pub fn top(&self) -> &str {
        &self.interface.top
    }

    /// `<top>.v`.
    pub fn file_name(&self) -> String {
        format!("{}.v", self.interface.top)
    }
}

/// Latency of the AXI4-Stream core for `spec`: [`DatapathSpec::latency`], the register stages
/// from an accepted sample to `m_axis_tdata`. The lane holds stages 1-5; the last stage (round
/// shift and saturation) is registered by the skid buffer's output register, so no register
/// lies between the datapath and `m_axis_*` beyond the spec's own.
pub fn axis_latency(spec: &DatapathSpec) -> usize {
    spec.latency()
}

fn check_options(spec: &DatapathSpec, layer: usize, opts: &CoreOptions) -> Result<()> {
    if layer >= spec.layers().len() {
        return Err(Error::Usage(format!(
            "layer index {layer} is out of range: the spec has {} layer(s)",
            spec.layers().len()
        )));
    }
    check_core_options(opts)
}

fn check_core_options(opts: &CoreOptions) -> Result<()> {
    if !LANE_CHOICES.contains(&opts.lanes) {
        return Err(Error::Usage(format!(
            "--lanes must be one of 1, 2, 4, 8, 16, got {}",
            opts.lanes
        )));
    }
    if opts.tuser_width > MAX_TUSER_WIDTH {
        return Err(Error::Usage(format!(
            "--tuser-width must be 0..={MAX_TUSER_WIDTH}, got {}",
            opts.tuser_width
        )));
    }
    let clean = sanitize_identifier(&opts.top_name);
    if clean != opts.top_name {
        return Err(Error::Usage(format!(
            "top module name `{}` is not a legal Verilog identifier here; use `{clean}`",
            opts.top_name
        )));
    }
    Ok(())
}

/// Generates the AXI4-Stream core for layer `layer` of `spec` with its coefficients baked in.
pub fn generate_baked(
    spec: &DatapathSpec,
    layer: usize,
    opts: &CoreOptions,
) -> Result<GeneratedCore> {
    check_options(spec, layer, opts)?;
    let layer_spec = &spec.layers()[layer];
    let internal = |e: verilog::HdlError| {
        Error::Internal(format!("HDL generator, layer `{}`: {e}", layer_spec.name()))
    };
    let top = &opts.top_name;
    let lane_name = format!("{top}_lane");
    let mut lane =
        lane::lane_module(spec, &CoefSource::Baked(layer_spec), &lane_name).map_err(internal)?;
    lane.lint_off_around(
        "DECLFILENAME",
        "One file per core (simpler to package and simulate), so this module's name differs from the file's.",
    );
    let layout = StreamLayout::new(spec, opts.lanes, opts.tuser_width);
    let feed = baked_feed::BakedFeed {
        channels: layer_spec.channels(),
        lanes: opts.lanes,
    };
    let top_module = axis::top_module(spec, &lane, top, &layout, &feed).map_err(internal)?;
    let latency = axis_latency(spec);
    let header = header::file_header(spec, layer, opts, &layout, latency);
    let verilog = verilog::render_file(&header, &[&top_module, &lane]).map_err(internal)?;
    Ok(core_facts(
        &top_module,
        verilog,
        layout,
        latency,
        Coefficients::Baked { layer },
    ))
}

/// The [`GeneratedCore`] of a rendered top module: its interface is read off the module
/// that was rendered, so it cannot disagree with the Verilog.
fn core_facts(
    top_module: &verilog::Module,
    verilog: String,
    layout: StreamLayout,
    latency: usize,
    coefficients: Coefficients,
) -> GeneratedCore {
    let ports = top_module
        .ports()
        .map(|p| Port {
            name: p.name.clone(),
            width: p.size.bits(),
            dir: p.dir,
        })
        .collect();
    GeneratedCore {
        interface: CoreInterface {
            top: top_module.name().to_string(),
            ports,
            stream: layout,
            coefficients,
            latency_cycles: latency,
        },
        verilog,
    }
}

/// Generates the AXI4-Stream core for every layer of `spec` with the coefficients loaded at
/// run time over AXI4-Lite (`--coeffs axilite`): layer `l` of the spec is slot `l` of the
/// [`RegisterMap::for_spec`] map. The stream side, the lane pipeline and the latency
/// ([`axis_latency`]) are those of [`generate_baked`].
pub fn generate_axilite(spec: &DatapathSpec, opts: &CoreOptions) -> Result<GeneratedCore> {
    check_core_options(opts)?;
    let map = RegisterMap::for_spec(spec);
    let names = || {
        spec.layers()
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !map.fits() {
        return Err(Error::Spec {
            layer: names(),
            reason: format!(
                "{} layers x {} channels x {} segments do not fit the AXI4-Lite register map \
                 (at most 192 layers, 768 thresholds, 255 segments, 65535 channels)",
                map.layers, map.channels, map.segments
            ),
        });
    }
    // The lane could only say "wrong datapath" as a bug; this is the user's choice of flags.
    let rom = match spec.select() {
        SegmentSelect::Comparators => None,
        SegmentSelect::Table(_) => Some("table-indexed datapath keeps its segments' coefficients"),
        SegmentSelect::Rom => Some("ROM datapath keeps every input code's output"),
    };
    if let Some(what) = rom {
        return Err(Error::Spec {
            layer: names(),
            reason: format!(
                "the {what} in a ROM inside the core, but --coeffs axilite loads run-time \
                 coefficients into comparator datapaths only; build this layer with --coeffs baked"
            ),
        });
    }
    let internal =
        |e: verilog::HdlError| Error::Internal(format!("HDL generator, layers {}: {e}", names()));
    let top = opts.top_name.clone();
    let mut lane = lane::lane_module(spec, &CoefSource::Registers, &format!("{top}_lane"))
        .map_err(internal)?;
    lane.lint_off_around(
        "DECLFILENAME",
        "One file per core (simpler to package and simulate), so this module's name differs from the file's.",
    );
    let layout = StreamLayout::new(spec, opts.lanes, opts.tuser_width);
    let feed = runtime_feed::RuntimeFeed::new(spec, opts.lanes);
    let top_module = axis::top_module(spec, &lane, &top, &layout, &feed).map_err(internal)?;
    let latency = axis_latency(spec);
    let header = header::axilite_header(spec, opts, &layout, latency, &map, feed.settle_cycles());
    let verilog = verilog::render_file(&header, &[&top_module, &lane]).map_err(internal)?;
    Ok(core_facts(
        &top_module,
        verilog,
        layout,
        latency,
        Coefficients::Runtime(map),
    ))
}
