//! Smooth (fitted) activations end to end: the fitter's plan built into a table-indexed or
//! ROM spec by the same code `gen` runs, its golden model measured against the f64 function on
//! every input code, the generated cores co-simulated in Verilator (all inputs) and Icarus,
//! `verify` rebuilding the spec from the manifest (and failing on a tampered core), and `gen`
//! deterministic. Verilator and Icarus are required: without them these tests fail.

pub mod common;

use repact_hw::fit::build::{build_fitted, BuiltDatapath};
use repact_hw::fit::DatapathChoice;
use repact_hw::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use repact_hw::manifest::Manifest;
use repact_hw::model::{Activation, Layer, LayerKind};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fmt(w: u32, i: i32) -> ApFixed {
    ApFixed::new(w, i).unwrap()
}

/// Every smooth activation of the library, GELU in both forms.
const SMOOTH: [&str; 12] = [
    "silu",
    "gelu",
    "gelu:approximate=tanh",
    "sigmoid",
    "tanh",
    "mish",
    "elu",
    "celu:alpha=0.5",
    "selu",
    "softplus",
    "softplus:beta=2,threshold=5",
    "softsign",
];

fn layer(text: &str) -> Layer {
    let a = Activation::parse_cli(text).unwrap();
    Layer {
        name: text.replace([':', '=', ','], "_"),
        kind: LayerKind::Activation(a),
    }
}

/// The golden model's largest error on every input code against the saturated f64 function,
/// computed here from the activation itself (not from the spec's stored bound).
fn golden_error_ulp(spec: &DatapathSpec, a: &Activation) -> f64 {
    let (inp, out) = (spec.input(), spec.output());
    (inp.min_raw()..=inp.max_raw())
        .map(|x| {
            let exact = out.saturate_f64(a.eval(0, inp.to_f64(x)));
            (out.to_f64(spec.eval_raw(0, 0, x)) - exact).abs() / out.ulp()
        })
        .fold(0.0, f64::max)
}

fn built(
    text: &str,
    input: ApFixed,
    output: ApFixed,
    choice: DatapathChoice,
) -> (f64, BuiltDatapath) {
    let a = Activation::parse_cli(text).unwrap();
    let opts = SpecOptions::with_formats(input, output);
    let b =
        build_fitted(text, &a, &opts, choice).unwrap_or_else(|e| panic!("{text} at {input}: {e}"));
    let e = golden_error_ulp(&b.spec, &a);
    assert!(
        e <= b.spec.layers()[0].bound.total_ulp + 1e-12,
        "{text}: measured {e} > recorded bound"
    );
    (e, b.datapath)
}

/// Generates one baked core per layer and verifies every core (exhaustive, stress, Icarus;
/// the spec rebuilt from the manifest first): each must be recorded as fitted and within the
/// fit budget.
fn gen_and_verify(name: &str, layers: Vec<Layer>, fin: ApFixed, fout: ApFixed, dp: DatapathChoice) {
    let (manifest, reports) = common::cosim::Cosim::new(layers, fin, fout)
        .datapath(dp)
        .phases(2_000, 300)
        .run(name);
    for core in &manifest.cores {
        assert!(
            core.fitted.is_some(),
            "{name}: {} not recorded as fitted",
            core.top()
        );
    }
    for r in reports {
        assert!(r.max_error_ulp <= 0.5625 + 1e-12, "{name}: {}", r.layer);
    }
}

#[test]
fn every_smooth_activation_at_16_6_meets_the_budget_and_cosimulates() {
    let f = fmt(16, 6);
    for text in SMOOTH {
        let (e, dp) = built(text, f, f, DatapathChoice::Auto);
        eprintln!("{text}: {dp:?}, {e:.4} ULP on all 65536 inputs");
        assert!(e <= 0.5625, "{text}: {e} ULP");
    }
    // Co-simulated: one core per kind of table (a function with a 0 and an x tail, one with
    // 0 and 1 tails, the erf form); every table core is lowered by the same generator, and the
    // golden model of each activation was checked above. (Each Verilator build costs seconds
    // of CI time; `gen` + `verify` of any other one is a command away.)
    gen_and_verify(
        "smooth16",
        ["silu", "sigmoid", "gelu"]
            .iter()
            .map(|t| layer(t))
            .collect(),
        f,
        f,
        DatapathChoice::Auto,
    );
}

#[test]
fn rom_at_8_3_is_correctly_rounded_and_cosimulates() {
    let f = fmt(8, 3);
    for text in SMOOTH {
        let (e, dp) = built(text, f, f, DatapathChoice::Auto);
        assert_eq!(
            dp,
            BuiltDatapath::Rom,
            "{text}: auto should pick the ROM at 8 bits"
        );
        assert!(e <= 0.5, "{text}: {e} ULP");
    }
    gen_and_verify(
        "smooth8",
        ["sigmoid", "tanh", "mish"]
            .iter()
            .map(|t| layer(t))
            .collect(),
        f,
        f,
        DatapathChoice::Auto,
    );
}

#[test]
fn other_formats_meet_the_budget() {
    for (fin, fout, names) in [
        (fmt(12, 4), fmt(12, 4), &SMOOTH[..]),
        (fmt(18, 6), fmt(18, 6), &["silu", "tanh"][..]),
        (fmt(24, 8), fmt(16, 6), &["silu"][..]),
    ] {
        for text in names {
            let (e, dp) = built(text, fin, fout, DatapathChoice::Auto);
            eprintln!("{text} {fin} -> {fout}: {dp:?}, {e:.4} ULP on all inputs");
            assert!(e <= 0.5625, "{text} at {fin}: {e} ULP");
        }
    }
}

/// `--datapath poly` at `ap_fixed<8,3>`, where auto picks the ROM: the table used to be
/// refused for every activation because the fitter asked for 2^10 segments of an input with
/// only 2^8 codes; index bits are now capped at the input width.
#[test]
fn forced_tables_at_8_3_meet_the_budget_and_cosimulate() {
    let f = fmt(8, 3);
    for text in SMOOTH {
        let (e, dp) = built(text, f, f, DatapathChoice::Poly);
        assert_eq!(dp, BuiltDatapath::Table, "{text}: poly was forced");
        assert!(e <= 0.5625, "{text}: {e} ULP");
    }
    gen_and_verify(
        "table8",
        ["sigmoid", "softplus:beta=2,threshold=5"]
            .iter()
            .map(|t| layer(t))
            .collect(),
        f,
        f,
        DatapathChoice::Poly,
    );
}

/// Softplus(beta=2, threshold=5) jumps by about 3.4 ULP of `ap_fixed<16,6>` between
/// x = 2.5 (log form) and the next code (x itself). The table used to straddle the jump and
/// was refused at 16 and 18 bits; the jump is now a comparator boundary (the table ends before
/// it, a bridge segment covers the codes up to it), checked on every input and co-simulated.
#[test]
fn softplus_jump_is_a_comparator_boundary_not_inside_a_table_segment() {
    let text = "softplus:beta=2,threshold=5";
    let a = Activation::parse_cli(text).unwrap();
    for f in [fmt(12, 4), fmt(16, 6), fmt(18, 6)] {
        let opts = SpecOptions::with_formats(f, f);
        let b = build_fitted(text, &a, &opts, DatapathChoice::Poly)
            .unwrap_or_else(|e| panic!("{text} at {f}: {e}"));
        assert_eq!(b.datapath, BuiltDatapath::Table, "{text} at {f}");
        let e = golden_error_ulp(&b.spec, &a);
        assert!(e <= 0.5625, "{text} at {f}: {e} ULP");
        // The first code where beta·x > threshold: x = 2.5 + one input ULP.
        let jump = (2.5 / f.ulp()) as i64 + 1;
        let l = &b.spec.layers()[0];
        assert!(
            l.thresholds.contains(&jump),
            "{text} at {f}: no comparator at raw {jump}: {:?}",
            l.thresholds
        );
        let seg = |x: i64| l.segments[b.spec.segment(0, x)];
        assert_ne!(seg(jump - 1).index, seg(jump).index, "{text} at {f}");
        assert_eq!(seg(jump).lo, jump, "{text} at {f}");
    }
    gen_and_verify(
        "softplus_jump16",
        vec![layer(text)],
        fmt(16, 6),
        fmt(16, 6),
        DatapathChoice::Poly,
    );
}

#[test]
fn rom_is_refused_for_wide_inputs_with_the_reason() {
    let a = Activation::parse_cli("tanh").unwrap();
    let opts = SpecOptions::with_formats(fmt(18, 6), fmt(16, 6));
    let err = build_fitted("t", &a, &opts, DatapathChoice::Rom)
        .err()
        .expect("an 18-bit ROM must be refused")
        .to_string();
    assert!(err.contains("2^18") && err.contains("16 bits"), "{err}");
}

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_repact-hw"))
}

fn gen_cli(dir: &Path, args: &[&str]) {
    let out = cli()
        .args(["gen", "--out"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn verify_cli(dir: &Path) -> (i32, String) {
    let out = cli()
        .args(["verify", "--stress-beats", "2000", "--icarus-cycles", "300"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn read_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().to_path_buf(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn gen_and_verify_of_silu_and_sigmoid_rom_pass_and_a_tampered_core_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let silu = tmp.path().join("silu");
    gen_cli(&silu, &["--activation", "silu"]);
    let (code, text) = verify_cli(&silu);
    assert_eq!(code, 0, "{text}");
    let m = Manifest::read(&silu).unwrap();
    assert_eq!(
        m.cores[0].fitted.as_ref().unwrap().datapath,
        BuiltDatapath::Table
    );

    let rom = tmp.path().join("rom");
    let fmt8 = [
        "--in-format",
        "ap_fixed<8,3>",
        "--out-format",
        "ap_fixed<8,3>",
    ];
    gen_cli(
        &rom,
        &[&["--activation", "sigmoid", "--datapath", "rom"][..], &fmt8].concat(),
    );
    let (code, text) = verify_cli(&rom);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        Manifest::read(&rom).unwrap().cores[0]
            .fitted
            .as_ref()
            .unwrap()
            .datapath,
        BuiltDatapath::Rom
    );

    // Determinism: the same command twice (same relative --out, so the recorded command
    // line and every file hash are the same) gives byte-identical directories.
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let parent = tempfile::tempdir().unwrap();
            let o = cli()
                .current_dir(parent.path())
                .args(["gen", "--activation", "silu", "--out", "silu"])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let tree = read_tree(&parent.path().join("silu"));
            (parent, tree)
        })
        .collect();
    assert!(runs[0].1 == runs[1].1, "gen of silu is not deterministic");

    // Tamper with the core (keep the manifest's hash consistent so the simulation runs):
    // flip one ROM word of the Verilog.
    let v = silu.join(&m.cores[0].file);
    let text = std::fs::read_to_string(&v).unwrap();
    let tampered = tamper(&text);
    // Both copies (the simulated one and the one Vivado packages), hashes kept consistent.
    let top = m.cores[0].top().to_string();
    let packaged = format!("ip/{top}/hdl/{top}.v");
    let mf = silu.join("repact_ip.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&mf).unwrap()).unwrap();
    for rel in [m.cores[0].file.as_str(), packaged.as_str()] {
        std::fs::write(silu.join(rel), &tampered).unwrap();
        doc["files"][rel] =
            serde_json::Value::String(repact_hw::manifest::sha256_hex(tampered.as_bytes()));
    }
    std::fs::write(&mf, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let (code, text) = verify_cli(&silu);
    assert_eq!(
        code, 2,
        "a tampered core must fail verify with exit 2:\n{text}"
    );
}

/// The Verilog with one coefficient changed: the last hex digit of the first `'sh` literal in
/// the coefficient ROM's `case`.
fn tamper(verilog: &str) -> String {
    let start = verilog
        .find("case (coef_addr)")
        .expect("a coefficient ROM case statement");
    let lit = verilog[start..]
        .find("'sh")
        .expect("a hex literal in the ROM")
        + start
        + 3;
    let end = lit
        + verilog[lit..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap();
    let last = verilog.as_bytes()[end - 1] as char;
    let flipped = if last == '0' { '1' } else { '0' };
    format!("{}{flipped}{}", &verilog[..end - 1], &verilog[end..])
}
