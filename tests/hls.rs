//! The Vitis HLS headers (`sw/<top>_hls.h`) against Xilinx's real `ap_types` headers (from the
//! hls4ml 1.3.0 wheel, installed by `scripts/install-test-deps.sh`), compiled with g++:
//!
//! 1. every generated function equals the golden model on **every input code** of every layer
//!    and channel: the five bundled layers (`ap_fixed<16,6>`), a per-channel network (C = 3
//!    and 4, `ap_fixed<12,5>`), the bundled layers in 8 bits (`ap_fixed<8,3>`), and a
//!    run-time-coefficient core's multi-layer function;
//! 2. our input quantization (nearest, ties to even, saturate: `ApFixed::quantize`) equals
//!    assigning a double or a float to `ap_fixed<W,I,AP_RND_CONV,AP_SAT>` (the header's input
//!    type) for every code, the ties between codes and beyond the range;
//! 3. the spec's output step (add half an LSB, floor, saturate) equals converting to
//!    `ap_fixed<W,I,AP_RND,AP_SAT>`: exhaustively for the 8-bit format, and for wider ones on
//!    every output code's rounding boundaries and the saturation edges.
//!
//! One C++ program does all of it (one compile of the heavy ap_types headers).

use repact_hw::bundle::IpBundle;
use repact_hw::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use repact_hw::flow::{self, GenOptions};
use repact_hw::hdl::CoreInterface;
use repact_hw::manifest::CoeffMode;
use repact_hw::model::{Layer, LayerKind, Network, RepActParams, Variant};
use repact_hw::package::{hls, package_files};
use std::fmt::Write as _;
use std::process::Command;

pub mod common;

fn generate(net: &Network, name: &str, format: &str, coeffs: CoeffMode) -> IpBundle {
    let f: ApFixed = format.parse().unwrap();
    flow::generate(
        net,
        &GenOptions {
            spec: SpecOptions::with_formats(f, f),
            name: name.into(),
            lanes: 1,
            tuser_width: 0,
            coeffs,
            layer: None,
            command_line: "repact-hw gen".into(),
            package: Default::default(),
        },
    )
    .unwrap()
}

use common::ip::bundled_network as bundled;

fn per_channel() -> Network {
    let repact = |name: &str, v: Variant, atn: [f64; 4], prelu: Vec<f64>| Layer {
        name: name.into(),
        kind: LayerKind::RepAct(RepActParams::new(v, atn, None, prelu, None).unwrap()),
    };
    Network {
        source: "per-channel".into(),
        layers: vec![
            repact(
                "pc3",
                Variant::Origin,
                [0.1, 0.5, 0.3, 0.6],
                vec![-0.5, 0.0, 0.75],
            ),
            repact(
                "pc4",
                Variant::Softmax,
                [0.3, -1.2, 2.0, 0.4],
                vec![0.1, -2.0, 0.5, 1.25],
            ),
        ],
    }
}

/// The layers a core's function serves: `(function argument list prefix, layer index)`.
fn layers_of(core: &CoreInterface, spec: &DatapathSpec) -> Vec<usize> {
    core.layers(spec).collect()
}

#[test]
fn hls_functions_equal_the_golden_model_and_ap_fixed_rounds_as_we_do() {
    common::deps::ap_types(); // missing headers fail here, before anything is generated
    let bundles = [
        generate(&bundled(), "hls_bn", "16,6", CoeffMode::Baked),
        generate(&per_channel(), "hls_pc", "12,5", CoeffMode::Baked),
        generate(&bundled(), "hls_bn8", "8,3", CoeffMode::Baked),
        generate(&bundled(), "hls_axi", "16,6", CoeffMode::Axilite),
    ];
    let dir = tempfile::tempdir().unwrap();
    let sw = dir.path().join("sw");
    std::fs::create_dir_all(&sw).unwrap();
    let mut cpp = String::from(
        "#include <cstdio>\n#include <cstring>\n#include <stdint.h>\n#include <vector>\n",
    );
    let mut body = String::new();
    // (1) every input code of every layer and channel, in this order; expected from eval_raw.
    let mut expected: Vec<i32> = Vec::new();
    let mut cores = 0;
    for b in &bundles {
        let files = package_files(&b.cores, &b.files, None, &Default::default()).unwrap();
        for (core, spec) in b.cores.iter().map(|c| (&c.interface, &c.spec)) {
            cores += 1;
            let rel = hls::path(&core.top);
            let text = &files[&rel];
            std::fs::write(dir.path().join(&rel), text).unwrap();
            let _ = writeln!(cpp, "#include \"{}_hls.h\"", core.top);
            let (inp, outp) = (spec.input(), spec.output());
            let low = core.top.to_ascii_lowercase();
            let layers = layers_of(core, spec);
            let channels = layers
                .iter()
                .map(|&l| spec.layers()[l].channels())
                .max()
                .unwrap();
            for &l in &layers {
                for c in 0..spec.layers()[l].channels() {
                    let mut args = vec!["x".to_string()];
                    if layers.len() > 1 {
                        args.push(l.to_string());
                    }
                    if channels > 1 {
                        args.push(c.to_string());
                    }
                    body.push_str(&common::ip::hls_sweep(&low, &args.join(", "), inp, outp));
                    for v in inp.min_raw()..=inp.max_raw() {
                        expected.push(spec.eval_raw(l, c, v) as i32);
                    }
                }
            }
        }
    }
    // (2) input quantization of every format, from doubles and floats.
    let mut quant_expected: Vec<i32> = Vec::new();
    let mut formats: Vec<ApFixed> = Vec::new();
    for b in &bundles {
        for s in b.cores.iter().map(|c| &c.spec) {
            if !formats.contains(&s.input()) {
                formats.push(s.input());
            }
        }
    }
    for (i, f) in formats.iter().enumerate() {
        let ulp = f.ulp();
        let mut values: Vec<f64> = Vec::new();
        for r in f.min_raw() - 3..=f.max_raw() + 3 {
            let x = r as f64 * ulp;
            values.extend([
                x,
                x + 0.5 * ulp,
                x + 0.25 * ulp,
                x - 0.25 * ulp,
                x + 0.75 * ulp,
            ]);
        }
        values.extend([1e9, -1e9, 0.0, -0.0, f64::MIN_POSITIVE, -f64::MIN_POSITIVE]);
        let bits: Vec<u8> = values
            .iter()
            .flat_map(|v| v.to_bits().to_le_bytes())
            .collect();
        std::fs::write(dir.path().join(format!("quant{i}.bin")), bits).unwrap();
        for &v in &values {
            quant_expected.push(f.quantize(v).unwrap() as i32);
            quant_expected.push(f.quantize(v as f32 as f64).unwrap() as i32);
        }
        let _ = writeln!(
            body,
            "    {{\n\
             \x20       std::vector<double> v = read_doubles(\"quant{i}.bin\");\n\
             \x20       for (size_t i = 0; i < v.size(); i++) {{\n\
             \x20           ap_fixed<{w}, {ib}, AP_RND_CONV, AP_SAT> d = v[i];\n\
             \x20           ap_fixed<{w}, {ib}, AP_RND_CONV, AP_SAT> f = (float)v[i];\n\
             \x20           ap_int<{w}> rd, rf;\n\
             \x20           rd.range({m}, 0) = d.range({m}, 0);\n\
             \x20           rf.range({m}, 0) = f.range({m}, 0);\n\
             \x20           quant.push_back((int32_t)rd.to_int());\n\
             \x20           quant.push_back((int32_t)rf.to_int());\n\
             \x20       }}\n\
             \x20   }}",
            w = f.width(),
            ib = f.int_bits(),
            m = f.width() - 1
        );
    }
    // (3) the output step of every spec: v (frac bits Fo + shift2) -> clamp((v + half) >> s).
    let mut round_expected: Vec<i32> = Vec::new();
    let mut steps: Vec<(ApFixed, u32)> = Vec::new();
    for b in &bundles {
        for s in b.cores.iter().map(|c| &c.spec) {
            if s.shift2() > 0 && !steps.contains(&(s.output(), s.shift2())) {
                steps.push((s.output(), s.shift2()));
            }
        }
    }
    assert!(steps.len() >= 3, "{steps:?}");
    for (i, (o, s)) in steps.iter().enumerate() {
        let half = 1i64 << (s - 1);
        let exhaustive_bits = o.width() + s + 2;
        let values: Vec<i64> = if exhaustive_bits <= 22 {
            let m = 1i64 << (exhaustive_bits - 1);
            (-m..m).collect()
        } else {
            (o.min_raw() - 2..=o.max_raw() + 2)
                .flat_map(|q| {
                    let b = q << s;
                    [-half - 1, -half, -half + 1, 0, half - 1, half, half + 1].map(|d| b + d)
                })
                .collect()
        };
        let bits: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(dir.path().join(format!("round{i}.bin")), bits).unwrap();
        for &v in &values {
            round_expected.push(((v + half) >> s).clamp(o.min_raw(), o.max_raw()) as i32);
        }
        // The wide value as an ap_fixed<64, 64 - (Fo + s)>: its raw bits are v.
        let _ = writeln!(
            body,
            "    {{\n\
             \x20       std::vector<int64_t> v = read_i64(\"round{i}.bin\");\n\
             \x20       for (size_t i = 0; i < v.size(); i++) {{\n\
             \x20           ap_fixed<64, {wide_int}> wide;\n\
             \x20           wide.range(63, 0) = ap_int<64>(v[i]).range(63, 0);\n\
             \x20           ap_fixed<{w}, {ib}, AP_RND, AP_SAT> out = wide;\n\
             \x20           ap_int<{w}> r;\n\
             \x20           r.range({m}, 0) = out.range({m}, 0);\n\
             \x20           rounded.push_back((int32_t)r.to_int());\n\
             \x20       }}\n\
             \x20   }}",
            wide_int = 64 - (o.frac() as i64 + *s as i64),
            w = o.width(),
            ib = o.int_bits(),
            m = o.width() - 1
        );
    }
    cpp.push_str(
        "\nstatic std::vector<char> read_file(const char *name)\n{\n\
         \x20   std::vector<char> b;\n    FILE *f = std::fopen(name, \"rb\");\n\
         \x20   if (!f) { std::perror(name); return b; }\n\
         \x20   char buf[65536];\n    size_t n;\n\
         \x20   while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + n);\n\
         \x20   std::fclose(f);\n    return b;\n}\n\
         static std::vector<double> read_doubles(const char *name)\n{\n\
         \x20   std::vector<char> b = read_file(name);\n    std::vector<double> v(b.size() / 8);\n\
         \x20   if (!v.empty()) std::memcpy(&v[0], &b[0], v.size() * 8);\n    return v;\n}\n\
         static std::vector<int64_t> read_i64(const char *name)\n{\n\
         \x20   std::vector<char> b = read_file(name);\n    std::vector<int64_t> v(b.size() / 8);\n\
         \x20   if (!v.empty()) std::memcpy(&v[0], &b[0], v.size() * 8);\n    return v;\n}\n\
         static void write(const char *name, const std::vector<int32_t> &v)\n{\n\
         \x20   FILE *f = std::fopen(name, \"wb\");\n\
         \x20   if (!v.empty()) std::fwrite(&v[0], 4, v.size(), f);\n    std::fclose(f);\n}\n\n\
         int main()\n{\n\
         \x20   std::vector<int32_t> act, quant, rounded;\n",
    );
    cpp.push_str(&body);
    cpp.push_str(
        "    write(\"act.out\", act);\n    write(\"quant.out\", quant);\n\
         \x20   write(\"round.out\", rounded);\n    return 0;\n}\n",
    );
    let src = dir.path().join("check.cpp");
    std::fs::write(&src, &cpp).unwrap();
    let exe = dir.path().join("check");
    let out = common::deps::gxx_with_ap_types()
        .arg("-I")
        .arg(&sw)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("cannot run g++; install it: apt-get install -y g++");
    assert!(
        out.status.success(),
        "g++ failed on the HLS headers:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).current_dir(dir.path()).output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let read = |name: &str| -> Vec<i32> {
        std::fs::read(dir.path().join(name))
            .unwrap()
            .chunks(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let compare = |what: &str, got: Vec<i32>, want: &[i32]| {
        assert_eq!(got.len(), want.len(), "{what}: count");
        if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
            panic!(
                "{what}: item {i}: HLS/ap_fixed gives {}, we give {}",
                got[i], want[i]
            );
        }
    };
    compare("HLS function vs golden model", read("act.out"), &expected);
    compare(
        "input quantization vs AP_RND_CONV+AP_SAT",
        read("quant.out"),
        &quant_expected,
    );
    compare(
        "output rounding vs AP_RND+AP_SAT",
        read("round.out"),
        &round_expected,
    );
    assert_eq!(cores, 5 + 2 + 5 + 1);
    eprintln!(
        "{} HLS samples of {cores} cores, {} quantizations, {} roundings equal",
        expected.len(),
        quant_expected.len(),
        round_expected.len()
    );
}

/// The HLS header is printed from the spec: a changed coefficient changes it (no retyped
/// numbers), and a broken header does not compile against ap_types (the check can fail).
#[test]
fn hls_header_follows_the_spec_and_a_tampered_one_fails() {
    let b = generate(&per_channel(), "hls_tamper", "12,5", CoeffMode::Baked);
    let (core, spec) = (&b.cores[0].interface, &b.cores[0].spec);
    let text = hls::render(core, spec).unwrap();
    let c = spec.layers()[core.first_layer()].coefs[2][1];
    for v in [c.c2, c.k1, c.k0] {
        assert!(text.contains(&format!("{v}LL")), "{v} missing");
    }
    for t in &spec.layers()[core.first_layer()].thresholds {
        assert!(text.contains(&format!("{t}LL")));
    }
    let w = spec.widths();
    for (stage, bits) in [
        ("p1", w.p1),
        ("s1", w.s1),
        ("t", w.t),
        ("p2", w.p2),
        ("y", w.y),
    ] {
        assert!(
            text.contains(&format!("const ap_int<{bits}> {stage} = ")),
            "{stage}"
        );
    }
    assert!(text.contains(&format!(">> {};", spec.shift1())));
    assert!(text.contains("#pragma HLS PIPELINE II=1"));
    let dir = tempfile::tempdir().unwrap();
    let tampered = text.replace("const ap_int<", "const ap_intx<");
    std::fs::write(dir.path().join("t.h"), tampered).unwrap();
    std::fs::write(
        dir.path().join("t.cpp"),
        "#include \"t.h\"\nint main() { return 0; }\n",
    )
    .unwrap();
    let out = Command::new("g++")
        .args(["-std=c++14", "-fsyntax-only", "-isystem"])
        .arg(common::deps::ap_types())
        .arg(dir.path().join("t.cpp"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "a tampered header compiled");
}

/// Layer names are data: a name made to end a comment and inject code leaves the HLS header
/// compiling, with the name only inside a comment.
#[test]
fn hls_header_keeps_a_hostile_layer_name_in_its_comment() {
    use repact_hw::model::PiecewiseParams;
    let name = "x*/ int injected = 1; /* \n#define HOSTILE ??/\n";
    let net = Network {
        source: "hostile".into(),
        layers: vec![Layer {
            name: name.into(),
            kind: LayerKind::Piecewise(
                PiecewiseParams::new(vec![0.25], vec![vec![0.0, 0.1], vec![0.5, 1.0, -0.2]])
                    .unwrap(),
            ),
        }],
    };
    let b = generate(&net, "hls_hostile", "8,3", CoeffMode::Baked);
    let text = hls::render(&b.cores[0].interface, &b.cores[0].spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.h"), &text).unwrap();
    std::fs::write(
        dir.path().join("t.cpp"),
        "#include \"t.h\"\n#ifdef HOSTILE\n#error injected\n#endif\nint injected;\nint main() { return injected; }\n",
    )
    .unwrap();
    let out = Command::new("g++")
        .args([
            "-std=c++14",
            "-fsyntax-only",
            "-Wall",
            "-Werror",
            "-Wno-unknown-pragmas",
            "-isystem",
        ])
        .arg(common::deps::ap_types())
        .arg(dir.path().join("t.cpp"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}
