//! Packaging: turns the cores `gen` built ([`BuiltCore`]) into what a Vivado and Zynq user
//! needs — one Vivado IP per core (IP-XACT `component.xml`, customization GUI, out-of-context
//! constraints), block-design and re-packaging scripts, bare-metal C and PYNQ drivers, and a
//! report with the proven and the exhaustively measured error of every layer.
//!
//! # Layout added to the IP directory
//!
//! ```text
//! README.md                         what is where, and how to use it
//! ip/<top>/component.xml            IP-XACT 1685-2009, one Vivado IP per core
//! ip/<top>/hdl/<top>.v              the core's Verilog (a copy of hdl/<top>.v: an IP folder
//!                                   must be self-contained for Vivado to copy it into projects)
//! ip/<top>/xgui/<top>_v1_0.tcl      customization page (read-only facts)
//! ip/<top>/constraints/<top>_ooc.xdc  out-of-context clock (USED_IN out_of_context)
//! ip/<top>/<top>.veo                instantiation templates of the core and of its lane
//! examples/<top>_instance.v         plain-RTL use of the core and of its lane (clock enable)
//! <top>.core                        FuseSoC CAPI2 core: targets default, lint, sim, synth
//! sim/<top>_tb.v, sim/<top>_vectors.hex  its self-checking testbench and golden vectors
//! vivado/config.tcl                 generated facts (part, clock, cores, widths, interfaces)
//! vivado/create_bd.tcl              Zynq block design: PS7 + AXI DMA + core (reads config.tcl)
//! vivado/package_ip.tcl             re-package the cores with Vivado's own ipx:: packager
//! sw/<top>.h                        bare-metal C: stream format and float <-> fixed helpers
//!                                   (and the register map and layer loaders of an axilite core)
//! sw/<top>_hls.h                    Vitis HLS / hls4ml C++: the activation on ap_fixed, bit-exact
//! sw/repact_pynq.py                 PYNQ driver (numpy in, numpy out, through the AXI DMA)
//! sw/repact_cores.json              the cores' stream formats, read by the PYNQ driver
//! report.md, report.json            per layer: function, formats, bounds, measured error, resources
//! plots/<layer>.svg                 the function, the hardware's output and its error in ULP
//! ```
//!
//! # Baked and run-time-coefficient bundles
//!
//! A `--coeffs axilite` bundle has one core holding every layer, with an AXI4-Lite slave
//! (`S_AXI`) whose register map ([`crate::hdl::regmap`], rendered through [`CoreRegisters`])
//! lands in `component.xml`, `config.tcl`, the C header, `repact_cores.json`, the report and the
//! README. The fixed files (`vivado/create_bd.tcl`, `vivado/package_ip.tcl`,
//! `sw/repact_pynq.py`) are lists of whole fragments ([`fixed_files`]), some only for cores
//! with a register slave: a baked bundle's copies stay exactly what they were before the
//! axilite mode existed.
//!
//! Everything is built in memory and is deterministic: the same bundle and options give
//! byte-identical files, with no time stamps and no paths of the generating machine. Nothing
//! here runs an external tool: the resource estimate ([`estimate_resources`], Yosys) is a
//! separate step whose result is passed in.

pub mod axilite;
mod c_header;
pub mod fixed_files;
pub mod fusesoc;
pub mod hls;
mod ipxact;
mod measure;
mod ps7_clock;
mod pynq;
mod readme;
mod report;
mod resources;
mod svg;
mod tcl;
pub mod veo;
mod xdc;
mod xgui;
pub mod xml;

pub use axilite::{CoreRegisters, AXI4LITE_LOGICAL_PORTS, S_AXI};
pub use ipxact::{
    core_registers, BusInterface, BusType, Component, CorePaths, InfoParameter, MemoryMap, Mode,
    ParamValue, Vlnv, ACLK, ARESETN, AXIS_LOGICAL_PORTS, M_AXIS, SUPPORTED_FAMILIES, S_AXIS,
};
pub use measure::{measure_error, MeasuredError, MAX_EXHAUSTIVE_BITS};
pub use ps7_clock::Fclk;
pub use resources::{
    estimate_resources, hardswish_layer, synthesize, CoreResources, GoalCheck, ResourceCounts,
    ResourceEstimate, LANE_GOAL_DSP, LANE_GOAL_FF, LANE_GOAL_LUT, LANE_GOAL_LUT_VS_HARDSWISH,
};

use crate::bundle::BuiltCore;
use crate::manifest::CoeffMode;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// Default IP vendor.
pub const DEFAULT_VENDOR: &str = "repact-hw.org";
/// Default IP library.
pub const DEFAULT_LIBRARY: &str = "user";
/// Default IP version.
pub const DEFAULT_VERSION: &str = "1.0";
/// Default target clock (MHz).
pub const DEFAULT_CLOCK_MHZ: f64 = 200.0;
/// Default part: the Zynq-7020 of the PYNQ-Z1/Z2 boards.
pub const DEFAULT_PART: &str = "xc7z020clg400-1";

/// What the package is for.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageOptions {
    /// IP vendor (VLNV), e.g. `repact-hw.org`.
    pub vendor: String,
    /// IP library (VLNV), e.g. `user`.
    pub library: String,
    /// IP version `MAJOR.MINOR` (VLNV).
    pub version: String,
    /// Target clock in MHz: `FREQ_HZ` of the clock interface, the OOC clock and the PS7 fabric
    /// clock of the block design.
    pub clock_mhz: f64,
    /// Vivado part of the block-design project.
    pub part: String,
    /// Whether `create_bd.tcl` goes on to implementation and a bitstream by default.
    pub bitstream: bool,
    /// Estimate resources with Yosys (needs `yosys`; adds them to the report).
    pub estimate: bool,
}

impl Default for PackageOptions {
    fn default() -> Self {
        PackageOptions {
            vendor: DEFAULT_VENDOR.into(),
            library: DEFAULT_LIBRARY.into(),
            version: DEFAULT_VERSION.into(),
            clock_mhz: DEFAULT_CLOCK_MHZ,
            part: DEFAULT_PART.into(),
            bitstream: false,
            estimate: false,
        }
    }
}

impl PackageOptions {
    /// The clock in Hz, as `FREQ_HZ` wants it.
    pub fn clock_hz(&self) -> u64 {
        (self.clock_mhz * 1e6).round() as u64
    }

    /// The clock period in ns, to the picosecond, as XDC writes it.
    pub fn period_ns(&self) -> String {
        format!("{:.3}", 1000.0 / self.clock_mhz)
    }

    /// Checks every field is something Vivado accepts, naming the flag to change.
    pub fn validate(&self) -> Result<()> {
        // VLNV parts are joined with `:` and land in Tcl and file names.
        let vlnv_part = |flag: &str, v: &str| {
            let ok = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
            if ok {
                Ok(())
            } else {
                Err(Error::Usage(format!(
                    "{flag} `{v}`: use letters, digits, `.`, `_` and `-` only, starting with a \
                     letter or digit (it becomes part of the IP's VLNV)"
                )))
            }
        };
        vlnv_part("--vendor", &self.vendor)?;
        vlnv_part("--library", &self.library)?;
        let version_ok = self.version.split_once('.').is_some_and(|(a, b)| {
            [a, b]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        });
        if !version_ok {
            return Err(Error::Usage(format!(
                "--version `{}`: Vivado IP versions are MAJOR.MINOR, e.g. 1.0",
                self.version
            )));
        }
        if !(self.clock_mhz.is_finite() && self.clock_mhz > 0.0 && self.clock_mhz <= 1000.0) {
            return Err(Error::Usage(format!(
                "--clock-mhz {}: give a frequency in MHz, above 0 and at most 1000",
                self.clock_mhz
            )));
        }
        let part_ok = !self.part.is_empty()
            && self
                .part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !part_ok {
            return Err(Error::Usage(format!(
                "--part `{}`: a Vivado part name such as {DEFAULT_PART}",
                self.part
            )));
        }
        Ok(())
    }

    /// The VLNV of the core `top`.
    pub fn vlnv(&self, top: &str) -> Vlnv {
        Vlnv::new(&self.vendor, &self.library, top, &self.version)
    }
}

/// Folder of a core's IP inside the IP directory.
pub fn ip_dir(top: &str) -> String {
    format!("ip/{top}")
}

/// The copy of a core's Verilog inside its IP folder, `ip/<top>/hdl/<top>.v`: the file
/// Vivado synthesizes.
pub fn packaged_verilog(top: &str) -> String {
    format!("{}/hdl/{top}.v", ip_dir(top))
}

/// A core's IP-XACT description, `ip/<top>/component.xml`.
pub fn packaged_component(top: &str) -> String {
    format!("{}/component.xml", ip_dir(top))
}

/// Checks `opts` and that the block design can carry `cores` (before anything slow runs).
pub fn check_request(cores: &[BuiltCore], opts: &PackageOptions) -> Result<()> {
    opts.validate()?;
    if let Some(c) = cores
        .iter()
        .find(|c| c.interface.stream.tuser > 0 && opts.bitstream)
    {
        return Err(Error::Usage(format!(
            "--bitstream with --tuser-width {}: the block design streams {} through an AXI DMA in \
             simple mode, which has no TUSER; generate with --tuser-width 0 for it, or leave out \
             --bitstream and connect the core to a TUSER stream in your own design",
            c.interface.stream.tuser,
            c.top()
        )));
    }
    Ok(())
}

/// The files to add to the IP directory of `cores` (relative path → contents), per core and
/// shared. `generated` are the files the generator itself writes (listed in the README);
/// `estimate` is the Yosys resource estimate, when one was made.
pub fn package_files(
    cores: &[BuiltCore],
    generated: &BTreeMap<String, Vec<u8>>,
    estimate: Option<&ResourceEstimate>,
    opts: &PackageOptions,
) -> Result<BTreeMap<String, Vec<u8>>> {
    check_request(cores, opts)?;
    let mode = if cores.iter().any(|c| c.interface.register_map().is_some()) {
        CoeffMode::Axilite
    } else {
        CoeffMode::Baked
    };
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut components = Vec::new();
    for built in cores {
        let (core, spec) = (&built.interface, &built.spec);
        let component = Component::for_core(core, spec, opts)?;
        let paths = CorePaths::new(&core.top, &opts.version);
        let dir = ip_dir(&core.top);
        files.insert(
            packaged_component(&core.top),
            xml::render_document(&component.to_xml()).into_bytes(),
        );
        files.insert(
            packaged_verilog(&core.top),
            built.verilog.clone().into_bytes(),
        );
        files.insert(
            format!("{dir}/{}", paths.xgui),
            xgui::render(&component).into_bytes(),
        );
        files.insert(
            format!("{dir}/{}", paths.ooc_xdc),
            xdc::ooc_constraints(&core.top, opts).into_bytes(),
        );
        let header = if component.memory_maps.is_empty() {
            c_header::render(core, spec)
        } else {
            c_header::render_axilite(core, spec)?
        };
        files.insert(format!("sw/{}.h", core.top), header.into_bytes());
        files.insert(hls::path(&core.top), hls::render(core, spec)?.into_bytes());
        files.insert(
            veo::veo_path(&core.top),
            veo::veo(core, &built.verilog)?.into_bytes(),
        );
        files.insert(
            veo::example_path(&core.top),
            veo::example(core, &built.verilog)?.into_bytes(),
        );
        files.insert(
            fusesoc::core_path(&core.top),
            fusesoc::core_file(core, spec, opts).into_bytes(),
        );
        files.insert(
            fusesoc::tb_path(&core.top),
            fusesoc::testbench(core, spec)?.into_bytes(),
        );
        files.insert(
            fusesoc::vectors_path(&core.top),
            fusesoc::vectors_hex(core, spec).into_bytes(),
        );
        components.push(component);
    }
    files.insert(
        "vivado/config.tcl".into(),
        tcl::config(cores, &components, opts).into_bytes(),
    );
    for fixed in fixed_files::FIXED_FILES {
        files.insert(fixed.path.into(), fixed.render(mode).into_bytes());
    }
    files.insert(
        "sw/repact_cores.json".into(),
        pynq::cores_json(cores)?.into_bytes(),
    );
    let rep = report::Report::build(cores, opts, estimate)?;
    for (layer, svg) in report::plots(cores) {
        files.insert(report::plot_path(&layer), svg.into_bytes());
    }
    files.insert("report.md".into(), rep.markdown().into_bytes());
    files.insert("report.json".into(), rep.json()?.into_bytes());
    let readme = readme::render(cores, opts, generated, &files, &rep.register_maps);
    files.insert("README.md".into(), readme.into_bytes());
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_verilog_is_where_component_xml_points() {
        let paths = CorePaths::new("core_a", "1.0");
        assert_eq!(
            packaged_verilog("core_a"),
            format!("{}/{}", ip_dir("core_a"), paths.verilog)
        );
    }
}
