//! The generated FuseSoC cores (`<top>.core`) under the real FuseSoC and edalize from PyPI
//! (installed into a virtualenv by `scripts/install-test-deps.sh`; a missing one fails with
//! that hint, never skips): `fusesoc run --target lint` (Verilator -Wall) and `--target sim`
//! with Icarus and with Verilator pass on baked (1 lane; 2 lanes with TUSER), per-channel
//! (12-bit, every input code of every channel) and run-time-coefficient cores, whose
//! self-checking testbenches compare every sample with the golden model's vectors; and they
//! fail on a tampered core (a flipped datapath bit in simulation, a width error in lint).

use repact_hw::bundle::IpBundle;
use repact_hw::fixedpoint::{ApFixed, SpecOptions};
use repact_hw::flow::{self, GenOptions};
use repact_hw::manifest::CoeffMode;
use repact_hw::model::{Layer, LayerKind, Network, RepActParams, Variant};
use repact_hw::package::{fusesoc, PackageOptions};
use std::path::PathBuf;
use std::process::{Command, Output};

pub mod common;

struct Written {
    _guard: tempfile::TempDir,
    dir: PathBuf,
    bundle: IpBundle,
    opts: PackageOptions,
}

fn write(
    net: &Network,
    format: &str,
    lanes: usize,
    tuser: u32,
    coeffs: CoeffMode,
    layer: Option<&str>,
) -> Written {
    let f: ApFixed = format.parse().unwrap();
    let bundle = flow::generate(
        net,
        &GenOptions {
            spec: SpecOptions::with_formats(f, f),
            name: "fs_act".into(),
            lanes,
            tuser_width: tuser,
            coeffs,
            layer: layer.map(str::to_string),
            command_line: "repact-hw gen".into(),
            package: Default::default(),
        },
    )
    .unwrap();
    let opts = PackageOptions::default();
    let guard = tempfile::tempdir().unwrap();
    let dir = guard.path().to_path_buf();
    common::ip::write_ip_dir(&dir, &bundle, &opts);
    std::fs::write(dir.join("fusesoc.conf"), "").unwrap();
    Written {
        _guard: guard,
        dir,
        bundle,
        opts,
    }
}

use common::ip::bundled_network as bundled;

fn per_channel() -> Network {
    Network {
        source: "per-channel".into(),
        layers: vec![Layer {
            name: "pc3".into(),
            kind: LayerKind::RepAct(
                RepActParams::new(
                    Variant::Origin,
                    [0.1, 0.5, 0.3, 0.6],
                    None,
                    vec![-0.5, 0.0, 0.75],
                    None,
                )
                .unwrap(),
            ),
        }],
    }
}

/// `fusesoc run --target <target> [--tool <tool>] <vlnv>` in `w`'s folder.
fn fusesoc_run(w: &Written, top: &str, target: &str, tool: Option<&str>) -> Output {
    let vlnv = w.opts.vlnv(top).to_colon_string();
    let mut cmd = Command::new(common::deps::fusesoc());
    cmd.current_dir(&w.dir)
        .arg("--config")
        .arg(w.dir.join("fusesoc.conf"))
        .args(["--cores-root", ".", "run", "--target", target]);
    if let Some(t) = tool {
        cmd.args(["--tool", t]);
    }
    cmd.arg(&vlnv)
        .output()
        .unwrap_or_else(|e| panic!("cannot run fusesoc ({e}); {}", common::deps::INSTALL_HINT))
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn pass(w: &Written, top: &str, target: &str, tool: Option<&str>) {
    let o = fusesoc_run(w, top, target, tool);
    let t = text(&o);
    assert!(
        o.status.success(),
        "fusesoc {target} {tool:?} on {top} failed:\n{t}"
    );
    if target == "sim" {
        assert!(
            t.contains(&format!("PASS: {top}:")),
            "no PASS line from the testbench:\n{t}"
        );
        assert!(!t.contains("FAIL"), "{t}");
    }
}

fn fail(w: &Written, top: &str, target: &str, tool: Option<&str>, why: &str) {
    let o = fusesoc_run(w, top, target, tool);
    assert!(
        !o.status.success(),
        "fusesoc {target} {tool:?} passed on {why}:\n{}",
        text(&o)
    );
}

#[test]
fn fusesoc_lint_and_sim_pass_with_icarus_and_verilator() {
    // Baked, one lane: every bundled layer linted and simulated in Icarus; the first also in
    // Verilator (its build is the slow part).
    let baked = write(&bundled(), "16,6", 1, 0, CoeffMode::Baked, None);
    assert_eq!(baked.bundle.cores.len(), 5);
    for (i, core) in baked.bundle.cores.iter().enumerate() {
        let core_file =
            std::fs::read_to_string(baked.dir.join(fusesoc::core_path(&core.interface.top)))
                .unwrap();
        assert!(core_file.starts_with("CAPI=2:\n"));
        assert!(core_file.contains(&format!("part: {}", baked.opts.part)));
        for t in ["default:", "lint:", "sim:", "synth:"] {
            assert!(core_file.contains(&format!("  {t}")), "{t}");
        }
        pass(&baked, &core.interface.top, "lint", None);
        pass(&baked, &core.interface.top, "sim", None);
        if i == 0 {
            pass(&baked, &core.interface.top, "sim", Some("verilator"));
        }
    }
    // Two lanes with TUSER, a per-channel 12-bit layer (every code, every channel) and a
    // run-time-coefficient core (layer 0 loaded over AXI4-Lite first): lint and both simulators.
    for w in [
        write(
            &bundled(),
            "16,6",
            2,
            3,
            CoeffMode::Baked,
            Some("block3.act"),
        ),
        write(&per_channel(), "12,5", 1, 0, CoeffMode::Baked, None),
        write(&bundled(), "16,6", 1, 0, CoeffMode::Axilite, None),
    ] {
        let top = w.bundle.cores[0].interface.top.clone();
        pass(&w, &top, "lint", None);
        pass(&w, &top, "sim", None);
        pass(&w, &top, "sim", Some("verilator"));
    }
}

/// Layer names are data: a name made to break out of comments and YAML strings leaves the
/// core file, the testbench and the RTL working.
#[test]
fn fusesoc_core_of_a_hostile_layer_name_lints_and_simulates() {
    use repact_hw::model::PiecewiseParams;
    let net = Network {
        source: "hostile".into(),
        layers: vec![Layer {
            name: "x*/ `define BAD \"\n# next: [exit 3] {a}\r\n\\".into(),
            kind: LayerKind::Piecewise(
                PiecewiseParams::new(vec![0.25], vec![vec![0.0, 0.1], vec![0.5, 1.0, -0.2]])
                    .unwrap(),
            ),
        }],
    };
    let w = write(&net, "8,3", 1, 0, CoeffMode::Baked, None);
    let top = w.bundle.cores[0].top().to_string();
    pass(&w, &top, "lint", None);
    pass(&w, &top, "sim", None);
}

#[test]
fn fusesoc_fails_on_a_tampered_core() {
    let w = write(
        &bundled(),
        "16,6",
        1,
        0,
        CoeffMode::Baked,
        Some("block1.act"),
    );
    let top = w.bundle.cores[0].interface.top.clone();
    let hdl = w.dir.join(format!("hdl/{top}.v"));
    let good = std::fs::read_to_string(&hdl).unwrap();
    // Simulation: the lane's registered x with its lowest bit flipped.
    let flipped = good.replacen("x_reg1 <= x;", "x_reg1 <= {x[X_WIDTH-1:1], ~x[0]};", 1);
    assert_ne!(
        flipped, good,
        "the tamper point is gone from the generated Verilog"
    );
    std::fs::write(&hdl, &flipped).unwrap();
    pass(&w, &top, "lint", None); // still clean Verilog: only the simulation can tell
    fail(
        &w,
        &top,
        "sim",
        None,
        "a core with a flipped input bit (Icarus)",
    );
    fail(
        &w,
        &top,
        "sim",
        Some("verilator"),
        "a core with a flipped input bit (Verilator)",
    );
    // Lint: a width error.
    let narrowed = good.replacen("endmodule", "wire [3:0] tamper_w = 8'hFF;\nendmodule", 1);
    std::fs::write(&hdl, narrowed).unwrap();
    fail(&w, &top, "lint", None, "a core with a width error");
    // Missing vectors must fail too, not pass on unknowns.
    std::fs::write(&hdl, &good).unwrap();
    std::fs::write(w.dir.join(fusesoc::vectors_path(&top)), "").unwrap();
    fail(&w, &top, "sim", None, "an empty vector file");
}
