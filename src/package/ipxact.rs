//! `component.xml`: the IEEE 1685-2009 IP-XACT description Vivado reads from an IP repository.
//!
//! The component is first built as typed values ([`Component`], [`BusInterface`], [`Port`],
//! [`FileSet`], …) from the core's real port list, then turned into an [`Element`] tree in the
//! element order the 2009 schema fixes, with the `xilinx:` vendor extensions Vivado writes. The
//! same values drive `config.tcl` (the re-packaging script maps the same ports to the same
//! interfaces), so the two cannot drift apart.
//!
//! A run-time-coefficient core (`--coeffs axilite`) adds its AXI4-Lite slave: the bus
//! interface [`S_AXI`] of [`BusType::AXIMM`] in [`Mode::Slave`] with a `memory_map_ref` to the
//! [`MemoryMap`] of the same name (one address block `reg0` holding the registers of
//! [`super::axilite::CoreRegisters`]), which the schema places between `spirit:busInterfaces`
//! and `spirit:model`.

use super::axilite::{self, CoreRegisters, AXI4LITE_LOGICAL_PORTS, S_AXI, S_AXI_PREFIX};
use super::xml::Element;
use super::PackageOptions;
use crate::fixedpoint::{output_quantization, DatapathSpec};
use crate::hdl::regmap::{CoefKind, RegisterMap};
use crate::hdl::{CoreInterface, Port, PortDir};
use crate::{Error, Result};

/// Namespace of IEEE 1685-2009 (the `spirit:` prefix Vivado writes).
pub const SPIRIT_NS: &str = "http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009";
/// Namespace of Xilinx's vendor extensions.
pub const XILINX_NS: &str = "http://www.xilinx.com";

/// Name of the AXI4-Stream slave interface.
pub const S_AXIS: &str = "S_AXIS";
/// Name of the AXI4-Stream master interface.
pub const M_AXIS: &str = "M_AXIS";
/// Name of the clock port and of its interface.
pub const ACLK: &str = "aclk";
/// Name of the reset port and of its interface.
pub const ARESETN: &str = "aresetn";

/// Logical port names of `xilinx.com:interface:axis:1.0`.
pub const AXIS_LOGICAL_PORTS: [&str; 9] = [
    "TDATA", "TSTRB", "TKEEP", "TLAST", "TID", "TDEST", "TUSER", "TVALID", "TREADY",
];

/// Families the IP is offered for: every 7-series and UltraScale(+) family (the Verilog is
/// portable; the DSP48E1 mapping it is written for also fits the DSP48E2). Zynq-7000 first,
/// the target.
pub const SUPPORTED_FAMILIES: [&str; 20] = [
    "zynq",
    "azynq",
    "qzynq",
    "artix7",
    "artix7l",
    "aartix7",
    "qartix7",
    "kintex7",
    "kintex7l",
    "qkintex7",
    "qkintex7l",
    "virtex7",
    "qvirtex7",
    "spartan7",
    "aspartan7",
    "kintexu",
    "virtexu",
    "zynquplus",
    "kintexuplus",
    "virtexuplus",
];

/// Vendor, library, name, version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vlnv {
    /// e.g. `xilinx.com`.
    pub vendor: String,
    /// e.g. `interface`.
    pub library: String,
    /// e.g. `axis`.
    pub name: String,
    /// e.g. `1.0`.
    pub version: String,
}

impl Vlnv {
    /// From the four parts.
    pub fn new(vendor: &str, library: &str, name: &str, version: &str) -> Self {
        Vlnv {
            vendor: vendor.into(),
            library: library.into(),
            name: name.into(),
            version: version.into(),
        }
    }

    /// `vendor:library:name:version`, as Vivado's `-vlnv` options take it.
    pub fn to_colon_string(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.vendor, self.library, self.name, self.version
        )
    }

    /// The reference form: `<tag spirit:vendor=… spirit:library=… spirit:name=… spirit:version=…/>`.
    fn reference(&self, tag: &str) -> Element {
        Element::new(tag)
            .attr("spirit:vendor", &self.vendor)
            .attr("spirit:library", &self.library)
            .attr("spirit:name", &self.name)
            .attr("spirit:version", &self.version)
    }
}

/// The bus definitions this package uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusType {
    /// `xilinx.com:interface:axis:1.0`, abstraction `axis_rtl`.
    Axis,
    /// `xilinx.com:interface:aximm:1.0`, abstraction `aximm_rtl` (the AXI4-Lite slave of a
    /// run-time-coefficient core).
    AXIMM,
    /// `xilinx.com:signal:clock:1.0`.
    Clock,
    /// `xilinx.com:signal:reset:1.0`.
    Reset,
}

impl BusType {
    /// The bus definition.
    pub fn bus_vlnv(self) -> Vlnv {
        match self {
            BusType::Axis => Vlnv::new("xilinx.com", "interface", "axis", "1.0"),
            BusType::AXIMM => Vlnv::new("xilinx.com", "interface", "aximm", "1.0"),
            BusType::Clock => Vlnv::new("xilinx.com", "signal", "clock", "1.0"),
            BusType::Reset => Vlnv::new("xilinx.com", "signal", "reset", "1.0"),
        }
    }

    /// The RTL abstraction definition.
    pub fn abstraction_vlnv(self) -> Vlnv {
        let mut v = self.bus_vlnv();
        v.name.push_str("_rtl");
        v
    }
}

/// Which side of the bus the component is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Drives the bus (an AXI4-Stream source).
    Master,
    /// Receives the bus; an addressable slave names its memory map.
    Slave {
        /// `spirit:memoryMapRef` of an AXI4-Lite slave (none for streams, clocks, resets).
        memory_map_ref: Option<String>,
    },
}

/// A parameter of a bus interface (`ASSOCIATED_BUSIF`, `FREQ_HZ`, `POLARITY`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct BusParameter {
    /// e.g. `ASSOCIATED_BUSIF`.
    pub name: String,
    /// The value as Vivado stores it.
    pub value: String,
    /// The value is a number (`spirit:format="long"`).
    pub numeric: bool,
    /// Name of the [`Choice`] the value must come from.
    pub choice_ref: Option<String>,
    /// Vivado's "optional presence": a default that the block design replaces with what it
    /// propagates (as for `FREQ_HZ`, which follows the clock actually connected).
    pub optional: bool,
}

/// A bus interface and its port map.
#[derive(Debug, Clone, PartialEq)]
pub struct BusInterface {
    /// Interface name, e.g. `S_AXIS`.
    pub name: String,
    /// Its bus definition.
    pub bus: BusType,
    /// Master or slave.
    pub mode: Mode,
    /// `(logical, physical)` port pairs.
    pub port_maps: Vec<(String, String)>,
    /// Bus parameters.
    pub parameters: Vec<BusParameter>,
}

/// What kind of file an entry of a file set is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// Verilog source.
    Verilog,
    /// Constraints, with the flows they are used in (`USED_IN_*`).
    Xdc {
        /// e.g. `["implementation", "out_of_context", "synthesis"]`.
        used_in: Vec<&'static str>,
    },
    /// The customization GUI script.
    XguiTcl,
}

/// A file of a file set, by its path relative to `component.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative path with `/` separators.
    pub path: String,
    /// Kind.
    pub kind: FileKind,
}

/// A named file set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSet {
    /// Name, referenced by views.
    pub name: String,
    /// Files in order.
    pub files: Vec<FileEntry>,
}

/// A view of the model (synthesis, simulation, GUI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// e.g. `xilinx_anylanguagesynthesis`.
    pub name: String,
    /// e.g. `Synthesis`.
    pub display_name: String,
    /// e.g. `:vivado.xilinx.com:synthesis`.
    pub env_identifier: String,
    /// HDL language and top module, for HDL views.
    pub hdl: Option<(String, String)>,
    /// The file set it uses.
    pub file_set: String,
}

/// A named list of allowed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Name, referenced by `spirit:choiceRef`.
    pub name: String,
    /// Allowed values.
    pub values: Vec<String>,
}

/// The value of a component parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// A whole number (`spirit:format="long"`).
    Long(i64),
    /// Text (`spirit:format="string"`).
    Text(String),
}

impl ParamValue {
    /// The value as text.
    pub fn text(&self) -> String {
        match self {
            ParamValue::Long(v) => v.to_string(),
            ParamValue::Text(s) => s.clone(),
        }
    }
}

/// A component parameter shown (read-only) on the customization page. The core is fixed when
/// it is generated, so these inform rather than configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoParameter {
    /// Name, e.g. `LATENCY`; the block design shows it as `CONFIG.LATENCY`.
    pub name: String,
    /// Label in the GUI.
    pub display_name: String,
    /// Tooltip.
    pub description: String,
    /// Value.
    pub value: ParamValue,
}

/// A memory map with one address block of registers (an AXI4-Lite slave's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryMap {
    /// Name, referenced by the bus interface's `spirit:memoryMapRef`.
    pub name: String,
    /// Name of the address block.
    pub block: String,
    /// Bytes the block spans (a power of two: what the block design's address editor
    /// reserves).
    pub range: u64,
    /// Bits per register.
    pub width: u32,
    /// Registers in address order.
    pub registers: Vec<axilite::Register>,
    /// Layer slots, channel slots and segments: the dimensions of the register arrays.
    pub geometry: RegisterMap,
}

/// How a table of the register map appears in IP-XACT: one register array (`spirit:dim`, C
/// row-major order, element `i` at `offset + i * size / 8`), so that register-map tools list
/// every register rather than the first of each table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterArray {
    /// `spirit:dim` values, outermost first.
    pub dims: Vec<u32>,
    /// Bits of one element (its stride: the elements are contiguous).
    pub size: u32,
    /// Bit fields of one element: `(name, lsb, width)`.
    pub fields: Vec<(&'static str, u32, u32)>,
}

/// The register array of table register `r` of `map`: `LAYER_CHANNELS[l]`,
/// `THRESHOLD[l][i]`, and `COEF[l][c][s]` as one 256-bit element per entry whose fields
/// `C2`, `K1`, `K0` are the 64-bit constants (low word first, as the bus writes them). None
/// for a plain register. An error when the table's strides are not those of a C array.
pub fn register_array(r: &axilite::Register, map: &RegisterMap) -> Result<Option<RegisterArray>> {
    let Some(t) = r.table else {
        return Ok(None);
    };
    let size = t.stride * 8;
    let (dims, fields) = match r.name {
        "LAYER_CHANNELS" => (
            vec![map.layers],
            r.fields.iter().map(|f| (f.name, f.lsb, f.width)).collect(),
        ),
        "THRESHOLD" => (
            vec![map.layers, map.segments - 1],
            r.fields.iter().map(|f| (f.name, f.lsb, f.width)).collect(),
        ),
        "COEF" => {
            let c2 = map.coef(0, 0, 0, CoefKind::C2);
            let at = |k| 8 * (map.coef(0, 0, 0, k) - c2);
            (
                vec![map.layers, map.channels, map.segments],
                vec![
                    ("C2", at(CoefKind::C2), 64),
                    ("K1", at(CoefKind::K1), 64),
                    ("K0", at(CoefKind::K0), 64),
                ],
            )
        }
        other => {
            return Err(Error::Internal(format!(
                "register table `{other}` has no IP-XACT array layout"
            )))
        }
    };
    let elements: u32 = dims.iter().product();
    let inner: u32 = dims[1..].iter().product();
    let fits = fields.iter().all(|&(_, lsb, w)| lsb + w <= size);
    if elements != t.count || t.layer_stride != t.stride * inner || !fits {
        return Err(Error::Internal(format!(
            "register table `{}` ({} entries, stride {}, layer stride {}) is not the C array {:?} \
             of {size}-bit elements",
            r.name, t.count, t.stride, t.layer_stride, dims
        )));
    }
    Ok(Some(RegisterArray { dims, size, fields }))
}

/// A whole component.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// VLNV of the IP.
    pub vlnv: Vlnv,
    /// Name shown in the IP catalog.
    pub display_name: String,
    /// One-paragraph description.
    pub description: String,
    /// Catalog folder, e.g. `/UserIP`.
    pub taxonomy: String,
    /// Bus interfaces.
    pub bus_interfaces: Vec<BusInterface>,
    /// Memory maps of the addressable slave interfaces (none for a baked core).
    pub memory_maps: Vec<MemoryMap>,
    /// Views.
    pub views: Vec<View>,
    /// Ports in HDL order.
    pub ports: Vec<Port>,
    /// Choice lists.
    pub choices: Vec<Choice>,
    /// File sets.
    pub file_sets: Vec<FileSet>,
    /// The `Component_Name` default.
    pub component_name: String,
    /// Read-only information parameters.
    pub parameters: Vec<InfoParameter>,
    /// Families, all `Production`.
    pub families: Vec<&'static str>,
    /// `xilinx:coreCreationDateTime` ([`creation_time`]).
    pub creation_time: String,
}

/// Name of the synthesis view.
pub const SYNTHESIS_VIEW: &str = "xilinx_anylanguagesynthesis";
/// Name of the simulation view.
pub const SIMULATION_VIEW: &str = "xilinx_anylanguagebehavioralsimulation";
/// Name of the GUI view.
pub const XGUI_VIEW: &str = "xilinx_xpgui";
const RESET_POLARITY_CHOICE: &str = "choice_list_reset_polarity";

/// Paths of a core's files inside its IP folder `ip/<top>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorePaths {
    /// `hdl/<top>.v`.
    pub verilog: String,
    /// `constraints/<top>_ooc.xdc`.
    pub ooc_xdc: String,
    /// `xgui/<top>_v<major>_<minor>.tcl`.
    pub xgui: String,
}

impl CorePaths {
    /// The layout this package uses for `top` at IP version `version`.
    pub fn new(top: &str, version: &str) -> Self {
        CorePaths {
            verilog: format!("hdl/{top}.v"),
            ooc_xdc: format!("constraints/{top}_ooc.xdc"),
            xgui: format!("xgui/{top}_v{}.tcl", version.replace('.', "_")),
        }
    }
}

/// Maps the core's ports onto interfaces by the Vivado naming convention (`s_axis_t*`,
/// `m_axis_t*`, `aclk`, `aresetn`, and `s_axi_*` for the AXI4-Lite slave of a core with a
/// register map). A port that fits no interface is an error: the packager would leave it
/// unconnected in every block design.
fn bus_interfaces(ports: &[Port], regs: Option<&CoreRegisters>) -> Result<Vec<BusInterface>> {
    let mut s_axis = Vec::new();
    let mut m_axis = Vec::new();
    let mut s_axi = Vec::new();
    let (mut has_clk, mut has_rst) = (false, false);
    for p in ports {
        let axis = [("s_axis_", &mut s_axis), ("m_axis_", &mut m_axis)]
            .into_iter()
            .find_map(|(prefix, list)| p.name.strip_prefix(prefix).map(|s| (s, list)));
        if let Some((signal, list)) = axis {
            let logical = signal.to_ascii_uppercase();
            if !AXIS_LOGICAL_PORTS.contains(&logical.as_str()) {
                return Err(unmapped(&p.name));
            }
            list.push((logical, p.name.clone()));
        } else if p.name == ACLK {
            has_clk = true;
        } else if p.name == ARESETN {
            has_rst = true;
        } else if let (Some(signal), Some(regs)) = (p.name.strip_prefix(S_AXI_PREFIX), regs) {
            let logical = signal.to_ascii_uppercase();
            let Some(&(_, input)) = AXI4LITE_LOGICAL_PORTS
                .iter()
                .find(|(l, _)| *l == logical.as_str())
            else {
                return Err(unmapped(&p.name));
            };
            let want_width = match logical.as_str() {
                "AWADDR" | "ARADDR" => Some(regs.address_bits),
                "WDATA" | "RDATA" => Some(axilite::REGISTER_BITS),
                "WSTRB" => Some(axilite::REGISTER_BITS / 8),
                _ => None,
            };
            let dir_ok = (p.dir == PortDir::In) == input;
            if !dir_ok || want_width.is_some_and(|w| w != p.width) {
                return Err(Error::Internal(format!(
                    "port `{}` ({:?}, {} bits) does not fit the AXI4-Lite \
                     slave of the register map ({} address bits)",
                    p.name, p.dir, p.width, regs.address_bits
                )));
            }
            s_axi.push((logical, p.name.clone()));
        } else {
            return Err(unmapped(&p.name));
        }
    }
    if s_axis.is_empty() || m_axis.is_empty() || !has_clk || !has_rst {
        return Err(Error::Usage(format!(
            "the core needs ports {ACLK}, {ARESETN}, s_axis_t* and m_axis_t* to be packaged"
        )));
    }
    if regs.is_some() && s_axi.len() != AXI4LITE_LOGICAL_PORTS.len() {
        return Err(Error::Internal(format!(
            "the core has a register map but {} of the {} AXI4-Lite ports",
            s_axi.len(),
            AXI4LITE_LOGICAL_PORTS.len()
        )));
    }
    let param = |name: &str, value: String| BusParameter {
        name: name.into(),
        value,
        numeric: false,
        choice_ref: None,
        optional: false,
    };
    let mut interfaces = vec![
        BusInterface {
            name: S_AXIS.into(),
            bus: BusType::Axis,
            mode: Mode::Slave {
                memory_map_ref: None,
            },
            port_maps: s_axis,
            parameters: Vec::new(),
        },
        BusInterface {
            name: M_AXIS.into(),
            bus: BusType::Axis,
            mode: Mode::Master,
            port_maps: m_axis,
            parameters: Vec::new(),
        },
    ];
    let mut associated = format!("{S_AXIS}:{M_AXIS}");
    if let Some(regs) = regs {
        let long = |name: &str, v: u64| BusParameter {
            numeric: true,
            ..param(name, v.to_string())
        };
        interfaces.push(BusInterface {
            name: S_AXI.into(),
            bus: BusType::AXIMM,
            mode: Mode::Slave {
                memory_map_ref: Some(S_AXI.into()),
            },
            port_maps: s_axi,
            parameters: vec![
                long("DATA_WIDTH", axilite::REGISTER_BITS.into()),
                param("PROTOCOL", "AXI4LITE".into()),
                long("ADDR_WIDTH", regs.address_bits.into()),
            ],
        });
        associated.push(':');
        associated.push_str(S_AXI);
    }
    interfaces.extend([
        BusInterface {
            name: ARESETN.into(),
            bus: BusType::Reset,
            mode: Mode::Slave {
                memory_map_ref: None,
            },
            port_maps: vec![("RST".into(), ARESETN.into())],
            parameters: vec![BusParameter {
                choice_ref: Some(RESET_POLARITY_CHOICE.into()),
                ..param("POLARITY", "ACTIVE_LOW".into())
            }],
        },
        BusInterface {
            name: ACLK.into(),
            bus: BusType::Clock,
            mode: Mode::Slave {
                memory_map_ref: None,
            },
            port_maps: vec![("CLK".into(), ACLK.into())],
            parameters: vec![
                param("ASSOCIATED_BUSIF", associated),
                param("ASSOCIATED_RESET", ARESETN.into()),
                // No value: the block design propagates the frequency of the clock actually
                // connected, as Vivado's own packager leaves it. A fixed value here makes
                // validate_bd_design fail ([BD 41-237]) whenever that clock differs.
                BusParameter {
                    optional: true,
                    ..param("FREQ_HZ", String::new())
                },
            ],
        },
    ]);
    Ok(interfaces)
}

fn unmapped(port: &str) -> Error {
    Error::Usage(format!(
        "port `{port}` fits no AXI4-Stream, clock or reset interface; the packager cannot map it"
    ))
}

/// The value Vivado ties an unconnected input to: all `tkeep` bytes kept, `m_axis_tready`
/// high (an unconnected output drains), all `s_axi_wstrb` bytes written, everything else low.
/// Clock, reset, data, addresses and valid have none: leaving them open is a design error
/// Vivado should report.
fn default_value(name: &str, width: u32) -> Option<u64> {
    let ones = if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    match name {
        "s_axis_tkeep" => Some(ones),
        "m_axis_tready" => Some(1),
        "s_axis_tlast" | "s_axis_tuser" => Some(0),
        // An AXI4-Lite master without WSTRB writes whole words; PROT is ignored.
        "s_axi_wstrb" => Some(ones),
        "s_axi_awprot" | "s_axi_arprot" => Some(0),
        _ => None,
    }
}

impl Component {
    /// The component of one generated core.
    pub fn for_core(
        core: &CoreInterface,
        spec: &DatapathSpec,
        opts: &PackageOptions,
    ) -> Result<Self> {
        let ports = core.ports.clone();
        let regs = core_registers(core, spec)?;
        if let Some(r) = &regs {
            for reg in &r.registers {
                register_array(reg, &r.map)?;
            }
        }
        let bus_interfaces = bus_interfaces(&ports, regs.as_ref())?;
        let paths = CorePaths::new(&core.top, &opts.version);
        let layer = &spec.layers()[core.first_layer()];
        let hdl_view = |name: &str, display: &str, env: &str, set: &str| View {
            name: name.into(),
            display_name: display.into(),
            env_identifier: env.into(),
            hdl: Some(("Verilog".into(), core.top.clone())),
            file_set: set.into(),
        };
        let synth_set = format!("{SYNTHESIS_VIEW}_view_fileset");
        let sim_set = format!("{SIMULATION_VIEW}_view_fileset");
        let xgui_set = format!("{XGUI_VIEW}_view_fileset");
        let verilog = FileEntry {
            path: paths.verilog.clone(),
            kind: FileKind::Verilog,
        };
        let vlnv = Vlnv::new(&opts.vendor, &opts.library, &core.top, &opts.version);
        Ok(Component {
            display_name: match &regs {
                None => format!("RepAct activation {} ({})", layer.name(), core.top),
                Some(r) => format!(
                    "RepAct activation, {} layer slots over AXI4-Lite ({})",
                    r.map.layers, core.top
                ),
            },
            description: match &regs {
                None => format!(
                    "Activation layer `{}` (variant {}, {} channel(s)) as {} in fixed point: {} \
                     in, {} out, {} sample(s) per AXI4-Stream beat, latency {} cycles, one beat \
                     per clock. Coefficients are constants; error bound ({}) {:.4} output ULP.",
                    layer.name(),
                    layer.folded.variant,
                    layer.channels(),
                    super::c_header::datapath_words(spec),
                    spec.input(),
                    spec.output(),
                    core.stream.lanes,
                    core.latency_cycles,
                    super::c_header::bound_words(layer, spec.input()),
                    layer.bound.total_ulp
                ),
                Some(r) => format!(
                    "RepAct activations as a piecewise quadratic in fixed point: {} in, {} out, \
                     {} sample(s) per AXI4-Stream beat, latency {} cycles, one beat per clock. \
                     Thresholds and coefficients of {} layer slots ({} channel slots, {} \
                     segments each) are registers written over the AXI4-Lite slave S_AXI \
                     ({} address bits); LAYER_SELECT picks the layer streamed. Generated for \
                     the layers {}; largest proven error bound {:.4} output ULP.",
                    spec.input(),
                    spec.output(),
                    core.stream.lanes,
                    core.latency_cycles,
                    r.map.layers,
                    r.map.channels,
                    r.map.segments,
                    r.address_bits,
                    layer_names(spec),
                    max_bound(spec)
                ),
            },
            taxonomy: "/UserIP".into(),
            bus_interfaces,
            memory_maps: regs
                .iter()
                .map(|r| MemoryMap {
                    name: S_AXI.into(),
                    block: axilite::ADDRESS_BLOCK.into(),
                    range: r.range,
                    width: axilite::REGISTER_BITS,
                    // An empty table (THRESHOLD of a one-segment map) is no register at all.
                    registers: r
                        .registers
                        .iter()
                        .filter(|reg| reg.table.is_none_or(|t| t.count > 0))
                        .cloned()
                        .collect(),
                    geometry: r.map,
                })
                .collect(),
            views: vec![
                hdl_view(
                    SYNTHESIS_VIEW,
                    "Synthesis",
                    ":vivado.xilinx.com:synthesis",
                    &synth_set,
                ),
                hdl_view(
                    SIMULATION_VIEW,
                    "Simulation",
                    ":vivado.xilinx.com:simulation",
                    &sim_set,
                ),
                View {
                    name: XGUI_VIEW.into(),
                    display_name: "UI Layout".into(),
                    env_identifier: ":vivado.xilinx.com:xgui.ui".into(),
                    hdl: None,
                    file_set: xgui_set.clone(),
                },
            ],
            ports,
            choices: vec![Choice {
                name: RESET_POLARITY_CHOICE.into(),
                values: vec!["ACTIVE_HIGH".into(), "ACTIVE_LOW".into()],
            }],
            file_sets: vec![
                FileSet {
                    name: synth_set,
                    files: vec![
                        verilog.clone(),
                        FileEntry {
                            path: paths.ooc_xdc.clone(),
                            kind: FileKind::Xdc {
                                used_in: vec!["implementation", "out_of_context", "synthesis"],
                            },
                        },
                    ],
                },
                FileSet {
                    name: sim_set,
                    files: vec![verilog],
                },
                FileSet {
                    name: xgui_set,
                    files: vec![FileEntry {
                        path: paths.xgui.clone(),
                        kind: FileKind::XguiTcl,
                    }],
                },
            ],
            component_name: format!("{}_v{}", core.top, opts.version.replace('.', "_")),
            parameters: match &regs {
                None => info_parameters(core, spec),
                Some(r) => axilite_info_parameters(core, spec, r),
            },
            families: SUPPORTED_FAMILIES.to_vec(),
            creation_time: creation_time()?,
            vlnv,
        })
    }

    /// The bus interface named `name`.
    pub fn bus_interface(&self, name: &str) -> Option<&BusInterface> {
        self.bus_interfaces.iter().find(|b| b.name == name)
    }

    /// Width of the port `name`.
    pub fn port_width(&self, name: &str) -> Option<u32> {
        self.ports.iter().find(|p| p.name == name).map(|p| p.width)
    }

    /// The whole document as an element tree, in the schema's element order.
    pub fn to_xml(&self) -> Element {
        Element::new("spirit:component")
            .attr("xmlns:xilinx", XILINX_NS)
            .attr("xmlns:spirit", SPIRIT_NS)
            .attr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
            .child(Element::leaf("spirit:vendor", &self.vlnv.vendor))
            .child(Element::leaf("spirit:library", &self.vlnv.library))
            .child(Element::leaf("spirit:name", &self.vlnv.name))
            .child(Element::leaf("spirit:version", &self.vlnv.version))
            .child(
                Element::new("spirit:busInterfaces")
                    .children(self.bus_interfaces.iter().map(bus_interface_xml)),
            )
            .child_opt((!self.memory_maps.is_empty()).then(|| {
                Element::new("spirit:memoryMaps")
                    .children(self.memory_maps.iter().map(memory_map_xml))
            }))
            .child(
                Element::new("spirit:model")
                    .child(Element::new("spirit:views").children(self.views.iter().map(view_xml)))
                    .child(
                        Element::new("spirit:ports")
                            .children(self.ports.iter().map(|p| self.port_xml(p))),
                    ),
            )
            .child(
                Element::new("spirit:choices").children(self.choices.iter().map(|c| {
                    Element::new("spirit:choice")
                        .child(Element::leaf("spirit:name", &c.name))
                        .children(
                            c.values
                                .iter()
                                .map(|v| Element::leaf("spirit:enumeration", v)),
                        )
                })),
            )
            .child(
                Element::new("spirit:fileSets").children(self.file_sets.iter().map(file_set_xml)),
            )
            .child(Element::leaf("spirit:description", &self.description))
            .child(self.parameters_xml())
            .child(self.vendor_extensions_xml())
    }

    fn port_xml(&self, p: &Port) -> Element {
        // Vivado writes `wire` for every Verilog port, scalar or vector.
        let type_name = "wire";
        let mut wire = Element::new("spirit:wire").child(Element::leaf(
            "spirit:direction",
            match p.dir {
                PortDir::In => "in",
                PortDir::Out => "out",
            },
        ));
        if p.width > 1 {
            wire.push(
                Element::new("spirit:vector")
                    .child(Element::leaf("spirit:left", p.width - 1).attr("spirit:format", "long"))
                    .child(Element::leaf("spirit:right", 0).attr("spirit:format", "long")),
            );
        }
        wire.push(
            Element::new("spirit:wireTypeDefs").child(
                Element::new("spirit:wireTypeDef")
                    .child(Element::leaf("spirit:typeName", type_name))
                    .children(
                        self.views
                            .iter()
                            .filter(|v| v.hdl.is_some())
                            .map(|v| Element::leaf("spirit:viewNameRef", &v.name)),
                    ),
            ),
        );
        let default = match p.dir {
            PortDir::In => default_value(&p.name, p.width),
            PortDir::Out => None,
        };
        if let Some(v) = default {
            wire.push(
                Element::new("spirit:driver")
                    .child(Element::leaf("spirit:defaultValue", v).attr("spirit:format", "long")),
            );
        }
        Element::new("spirit:port")
            .child(Element::leaf("spirit:name", &p.name))
            .child(wire)
    }

    fn parameters_xml(&self) -> Element {
        let mut params = Element::new("spirit:parameters").child(
            Element::new("spirit:parameter")
                .child(Element::leaf("spirit:name", "Component_Name"))
                .child(
                    Element::leaf("spirit:value", &self.component_name)
                        .attr("spirit:resolve", "user")
                        .attr("spirit:id", "PARAM_VALUE.Component_Name")
                        .attr("spirit:order", 1),
                ),
        );
        for (i, p) in self.parameters.iter().enumerate() {
            let format = match p.value {
                ParamValue::Long(_) => "long",
                ParamValue::Text(_) => "string",
            };
            params.push(
                Element::new("spirit:parameter")
                    .child(Element::leaf("spirit:name", &p.name))
                    .child(Element::leaf("spirit:displayName", &p.display_name))
                    .child(Element::leaf("spirit:description", &p.description))
                    .child(
                        Element::leaf("spirit:value", p.value.text())
                            .attr("spirit:format", format)
                            .attr("spirit:resolve", "user")
                            .attr("spirit:id", format!("PARAM_VALUE.{}", p.name))
                            .attr("spirit:order", 100 * (i + 1)),
                    )
                    .child(
                        // Read-only: the core is fixed at generation time.
                        Element::new("spirit:vendorExtensions").child(
                            Element::new("xilinx:parameterInfo").child(
                                Element::new("xilinx:enablement").child(
                                    Element::leaf("xilinx:isEnabled", "false")
                                        .attr("xilinx:id", format!("PARAM_ENABLEMENT.{}", p.name)),
                                ),
                            ),
                        ),
                    ),
            );
        }
        params
    }

    fn vendor_extensions_xml(&self) -> Element {
        // No checksums: Vivado's `xilinx:checksum` values are computed by an undocumented
        // algorithm over its own serialization, so any value written here would be wrong,
        // and Vivado only warns when they are absent. No archive location either: the file
        // must hold no path of the machine that generated it.
        Element::new("spirit:vendorExtensions")
            .child(
                Element::new("xilinx:coreExtensions")
                    .child(Element::new("xilinx:supportedFamilies").children(
                        self.families.iter().map(|f| {
                            Element::leaf("xilinx:family", f).attr("xilinx:lifeCycle", "Production")
                        }),
                    ))
                    .child(
                        Element::new("xilinx:taxonomies")
                            .child(Element::leaf("xilinx:taxonomy", &self.taxonomy)),
                    )
                    .child(Element::leaf("xilinx:displayName", &self.display_name))
                    .child(Element::leaf("xilinx:coreRevision", 1))
                    .child(Element::leaf(
                        "xilinx:coreCreationDateTime",
                        &self.creation_time,
                    )),
            )
            .child(
                Element::new("xilinx:packagingInfo")
                    .child(Element::leaf("xilinx:xilinxVersion", XILINX_VERSION)),
            )
    }
}

/// `xilinx:packagingInfo/xilinx:xilinxVersion`: the Vivado release whose packager output the
/// component follows. The oldest of the releases whose component.xml files it was compared
/// with (2017.3 to 2023.1): every later Vivado opens IP packaged by an earlier one.
pub const XILINX_VERSION: &str = "2017.3";

/// Creation time used when `SOURCE_DATE_EPOCH` is not set: fixed, so regenerated output stays
/// byte-identical (the start of the zip format's epoch, as reproducible-build tools write it).
pub const DEFAULT_CREATION_TIME: &str = "1980-01-01T00:00:00Z";

/// `xilinx:coreCreationDateTime`: `SOURCE_DATE_EPOCH` (seconds since 1970, UTC; the
/// reproducible-builds convention) when set, else [`DEFAULT_CREATION_TIME`].
pub fn creation_time() -> Result<String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Err(_) => Ok(DEFAULT_CREATION_TIME.into()),
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|&s| (0..=253_402_300_799).contains(&s))
            .map(utc_time)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "SOURCE_DATE_EPOCH `{v}`: give whole seconds since 1970-01-01 UTC (or unset \
                     it); it becomes component.xml's xilinx:coreCreationDateTime"
                ))
            }),
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` of `secs` seconds after 1970-01-01T00:00:00Z (proleptic
/// Gregorian, no leap seconds, as Unix time counts).
pub fn utc_time(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn bus_interface_xml(b: &BusInterface) -> Element {
    let mode = match &b.mode {
        Mode::Master => Element::new("spirit:master"),
        Mode::Slave { memory_map_ref } => Element::new("spirit:slave").child_opt(
            memory_map_ref
                .as_ref()
                .map(|m| Element::new("spirit:memoryMapRef").attr("spirit:memoryMapRef", m)),
        ),
    };
    let port_maps = Element::new("spirit:portMaps").children(b.port_maps.iter().map(|(l, p)| {
        Element::new("spirit:portMap")
            .child(Element::new("spirit:logicalPort").child(Element::leaf("spirit:name", l)))
            .child(Element::new("spirit:physicalPort").child(Element::leaf("spirit:name", p)))
    }));
    let params = (!b.parameters.is_empty()).then(|| {
        Element::new("spirit:parameters").children(b.parameters.iter().map(|p| {
            let mut value = Element::leaf("spirit:value", &p.value);
            if p.numeric {
                value = value.attr("spirit:format", "long");
            }
            value = value.attr(
                "spirit:id",
                format!(
                    "BUSIFPARAM_VALUE.{}.{}",
                    b.name.to_ascii_uppercase(),
                    p.name
                ),
            );
            if let Some(c) = &p.choice_ref {
                value = value.attr("spirit:choiceRef", c);
            }
            Element::new("spirit:parameter")
                .child(Element::leaf("spirit:name", &p.name))
                .child(value)
                .child_opt(p.optional.then(|| {
                    Element::new("spirit:vendorExtensions").child(
                        Element::new("xilinx:parameterInfo").child(
                            Element::new("xilinx:enablement")
                                .child(Element::leaf("xilinx:presence", "optional")),
                        ),
                    )
                }))
        }))
    });
    Element::new("spirit:busInterface")
        .child(Element::leaf("spirit:name", &b.name))
        .child(b.bus.bus_vlnv().reference("spirit:busType"))
        .child(b.bus.abstraction_vlnv().reference("spirit:abstractionType"))
        .child(mode)
        .child(port_maps)
        .child_opt(params)
}

fn memory_map_xml(m: &MemoryMap) -> Element {
    let registers = m.registers.iter().map(|r| {
        // Checked when the component was built.
        let array = register_array(r, &m.geometry).ok().flatten();
        let size = array.as_ref().map_or(m.width, |a| a.size);
        let fields: Vec<(&str, u32, u32)> = match &array {
            Some(a) => a.fields.clone(),
            None => r.fields.iter().map(|f| (f.name, f.lsb, f.width)).collect(),
        };
        let mut reg = Element::new("spirit:register")
            .child(Element::leaf("spirit:name", r.name))
            .child(Element::leaf("spirit:description", r.full_description()))
            .children(
                array
                    .iter()
                    .flat_map(|a| a.dims.iter().map(|d| Element::leaf("spirit:dim", d))),
            )
            .child(Element::leaf(
                "spirit:addressOffset",
                format!("0x{:X}", r.offset),
            ))
            .child(Element::leaf("spirit:size", size).attr("spirit:format", "long"))
            .child(Element::leaf("spirit:access", r.ipxact_access()));
        if let Some(v) = r.reset {
            reg.push(
                Element::new("spirit:reset").child(
                    Element::leaf("spirit:value", format!("0x{v:08X}"))
                        .attr("spirit:format", "bitString")
                        .attr("spirit:bitStringLength", m.width),
                ),
            );
        }
        reg.children(fields.into_iter().map(|(name, lsb, width)| {
            Element::new("spirit:field")
                .child(Element::leaf("spirit:name", name))
                .child(Element::leaf("spirit:bitOffset", lsb))
                .child(Element::leaf("spirit:bitWidth", width).attr("spirit:format", "long"))
                .child(Element::leaf("spirit:access", r.ipxact_access()))
        }))
    });
    Element::new("spirit:memoryMap")
        .child(Element::leaf("spirit:name", &m.name))
        .child(
            Element::new("spirit:addressBlock")
                .child(Element::leaf("spirit:name", &m.block))
                .child(
                    Element::leaf("spirit:baseAddress", "0x0")
                        .attr("spirit:format", "bitString")
                        .attr("spirit:resolve", "user")
                        .attr("spirit:bitStringLength", m.width),
                )
                .child(Element::leaf("spirit:range", m.range).attr("spirit:format", "long"))
                .child(Element::leaf("spirit:width", m.width).attr("spirit:format", "long"))
                .child(Element::leaf("spirit:usage", "register"))
                .children(registers),
        )
}

fn view_xml(v: &View) -> Element {
    let mut e = Element::new("spirit:view")
        .child(Element::leaf("spirit:name", &v.name))
        .child(Element::leaf("spirit:displayName", &v.display_name))
        .child(Element::leaf("spirit:envIdentifier", &v.env_identifier));
    if let Some((language, model)) = &v.hdl {
        e = e
            .child(Element::leaf("spirit:language", language))
            .child(Element::leaf("spirit:modelName", model));
    }
    e.child(Element::new("spirit:fileSetRef").child(Element::leaf("spirit:localName", &v.file_set)))
}

fn file_set_xml(s: &FileSet) -> Element {
    Element::new("spirit:fileSet")
        .child(Element::leaf("spirit:name", &s.name))
        .children(s.files.iter().map(|f| {
            let e = Element::new("spirit:file").child(Element::leaf("spirit:name", &f.path));
            match &f.kind {
                FileKind::Verilog => e.child(Element::leaf("spirit:fileType", "verilogSource")),
                FileKind::Xdc { used_in } => e
                    .child(Element::leaf("spirit:userFileType", "xdc"))
                    .children(
                        used_in
                            .iter()
                            .map(|u| Element::leaf("spirit:userFileType", format!("USED_IN_{u}"))),
                    ),
                FileKind::XguiTcl => e
                    .child(Element::leaf("spirit:fileType", "tclSource"))
                    .child(Element::leaf("spirit:userFileType", "XGUI_VERSION_2")),
            }
        }))
}

/// The read-only facts shown on the customization page and in the block design's `CONFIG.*`.
pub fn info_parameters(core: &CoreInterface, spec: &DatapathSpec) -> Vec<InfoParameter> {
    let layer = &spec.layers()[core.first_layer()];
    let p = |name: &str, display: &str, description: &str, value: ParamValue| InfoParameter {
        name: name.into(),
        display_name: display.into(),
        description: description.into(),
        value,
    };
    vec![
        p(
            "LAYER",
            "Layer",
            "Activation layer whose coefficients are built in",
            ParamValue::Text(layer.name().into()),
        ),
        p(
            "CHANNELS",
            "Channels",
            "Channels with their own coefficients (channels-last stream order)",
            ParamValue::Long(layer.channels() as i64),
        ),
        p(
            "INPUT_FORMAT",
            "Input format",
            "Input sample format ap_fixed<W,I>; floats are rounded to nearest (ties to even) and saturated",
            ParamValue::Text(spec.input().to_string()),
        ),
        p(
            "OUTPUT_FORMAT",
            "Output format",
            &format!(
                "Output sample format ap_fixed<W,I>; rounded to nearest and saturated ({})",
                output_quantization()
            ),
            ParamValue::Text(spec.output().to_string()),
        ),
        p(
            "LANES",
            "Samples per beat",
            "Samples carried by one AXI4-Stream beat, each in its own byte-aligned slot",
            ParamValue::Long(core.stream.lanes as i64),
        ),
        p(
            "S_TDATA_WIDTH",
            "S_AXIS TDATA width",
            "Bits of s_axis_tdata",
            ParamValue::Long(core.stream.s_tdata() as i64),
        ),
        p(
            "M_TDATA_WIDTH",
            "M_AXIS TDATA width",
            "Bits of m_axis_tdata",
            ParamValue::Long(core.stream.m_tdata() as i64),
        ),
        p(
            "TUSER_WIDTH",
            "TUSER width",
            "Bits of TUSER passed through beside the data (0: none)",
            ParamValue::Long(core.stream.tuser as i64),
        ),
        p(
            "LATENCY",
            "Latency (cycles)",
            "Clock cycles from an accepted input beat to its output beat",
            ParamValue::Long(core.latency_cycles as i64),
        ),
        p(
            "ERROR_BOUND_ULP",
            "Proven error bound (output ULP)",
            &format!(
                "Worst-case error against the saturated f64 function, {} at generation",
                super::c_header::bound_words(layer, spec.input())
            ),
            ParamValue::Text(format!("{:.4}", layer.bound.total_ulp)),
        ),
    ]
}

/// The register map of `core` when it has one (a run-time-coefficient core).
pub fn core_registers(core: &CoreInterface, spec: &DatapathSpec) -> Result<Option<CoreRegisters>> {
    core.register_map()
        .map(|m| CoreRegisters::new(m, spec, core.stream.lanes))
        .transpose()
}

/// The layers of `spec` as `` `a`, `b`, `c` ``.
pub fn layer_names(spec: &DatapathSpec) -> String {
    spec.layers()
        .iter()
        .map(|l| format!("`{}`", l.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn max_bound(spec: &DatapathSpec) -> f64 {
    spec.layers()
        .iter()
        .map(|l| l.bound.total_ulp)
        .fold(0.0, f64::max)
}

/// The read-only facts of a run-time-coefficient core: its layer slots, its register map, and
/// the stream facts of a baked core.
pub fn axilite_info_parameters(
    core: &CoreInterface,
    spec: &DatapathSpec,
    regs: &CoreRegisters,
) -> Vec<InfoParameter> {
    let p = |name: &str, display: &str, description: &str, value: ParamValue| InfoParameter {
        name: name.into(),
        display_name: display.into(),
        description: description.into(),
        value,
    };
    let mut params = vec![
        p(
            "LAYERS",
            "Layers (by slot)",
            "Activation layers the core was generated for, slot 0 first; load a layer's \
             thresholds and coefficients over S_AXI, then select it with LAYER_SELECT",
            ParamValue::Text(
                spec.layers()
                    .iter()
                    .map(|l| l.name())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        p(
            "LAYER_SLOTS",
            "Layer slots",
            "Layers whose coefficients the core holds at once",
            ParamValue::Long(regs.map.layers as i64),
        ),
        p(
            "CHANNEL_SLOTS",
            "Channel slots per layer",
            "Channels with their own coefficients a layer slot holds (channels-last stream order)",
            ParamValue::Long(regs.map.channels as i64),
        ),
        p(
            "SEGMENTS",
            "Segments",
            "Quadratic segments per channel",
            ParamValue::Long(regs.map.segments as i64),
        ),
        p(
            "S_AXI_ADDR_WIDTH",
            "S_AXI address width",
            "Bits of s_axi_awaddr and s_axi_araddr: the register block spans 2^width bytes",
            ParamValue::Long(regs.address_bits as i64),
        ),
    ];
    // The stream facts as for a baked core, without its one layer.
    params.extend(
        info_parameters(core, spec)
            .into_iter()
            .filter(|q| !matches!(q.name.as_str(), "LAYER" | "CHANNELS" | "ERROR_BOUND_ULP")),
    );
    params.push(p(
        "ERROR_BOUND_ULP",
        "Proven error bound (output ULP)",
        "Largest worst-case error of the layers against the saturated f64 function, proven at \
         generation",
        ParamValue::Text(format!("{:.4}", max_bound(spec))),
    ));
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_matches_known_dates() {
        assert_eq!(utc_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_time(315_532_800), DEFAULT_CREATION_TIME);
        // 2000-02-29 (a leap day of a century divisible by 400) and the day after.
        assert_eq!(utc_time(951_782_400 + 3661), "2000-02-29T01:01:01Z");
        assert_eq!(utc_time(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(utc_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc_time(253_402_300_799), "9999-12-31T23:59:59Z");
    }
}
