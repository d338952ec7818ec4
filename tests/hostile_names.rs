//! Layer names are data, never code: `gen` with hostile names (comment terminators, quotes,
//! backslashes, newlines, `$`, `[`, `]`, `{`, `}`, trigraphs, Markdown and HTML, non-ASCII) must
//! write files that every consumer parses as intended — the C header compiles and returns the
//! name byte for byte, the Tcl evaluates without running anything and returns the name, the
//! Verilog lints, the XML and SVG parse, the Python parses, and the Markdown tables keep their
//! columns. The first regression here: `x*/ int injected_c = 1; /*` compiled into `sw/<top>.h`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod common;

const HOSTILE: &str =
    "x*/ int injected_c = 1; /* \" ' \\ $x [exit 3] {a} ??/ `|<b>&amp; \u{fc}\n# next \\";
const HOSTILE2: &str = "b\r\nline2 */ {} // \\\n";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_repact-hw"))
}

fn ok(o: Output, what: &str) -> Output {
    assert!(
        o.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is needed by this test and is not installed: run ./scripts/test.sh, which installs it"
    );
    Command::new(name)
}

fn weights(dir: &Path, names: &[&str]) -> PathBuf {
    let layers: Vec<serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            serde_json::json!({
                "name": n,
                "piecewise": {"breakpoints": [0.0], "segments": [[0.0], [0.0, 0.25 * (i + 1) as f64]]}
            })
        })
        .collect();
    let path = dir.join("w.json");
    std::fs::write(
        &path,
        serde_json::to_string(&serde_json::json!({"repact_weights": 1, "layers": layers})).unwrap(),
    )
    .unwrap();
    path
}

fn gen(w: &Path, out: &Path, extra: &[&str]) -> Output {
    bin()
        .args([
            "gen",
            "--weights",
            w.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// The files under `dir` named `*.ext`, sorted.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    common::files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect()
}

/// Compiles a program that includes `header` next to its own `injected_c` function (which an
/// injected `int injected_c = 1;` would collide with) and prints every layer name the header
/// knows, as bytes in hex.
fn c_layer_names(header: &Path, low: &str, layers: usize, dir: &Path) -> Vec<String> {
    let src = dir.join("main.c");
    let mut body = String::new();
    for i in 0..layers {
        body.push_str(&format!(
            "    {{ const char *n = {low}_layer_name({i}u); for (; *n; ++n) printf(\"%02x\", (unsigned char)*n); printf(\"\\n\"); }}\n"
        ));
    }
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n#include \"{}\"\nstatic int injected_c(void) {{ return 0; }}\n\
             int main(void) {{\n{body}    return injected_c();\n}}\n",
            header.display()
        ),
    )
    .unwrap();
    let exe = dir.join("main");
    ok(
        tool("cc")
            .args([
                "-std=c99",
                "-pedantic",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-trigraphs",
                "-o",
            ])
            .arg(&exe)
            .arg(&src)
            .output()
            .unwrap(),
        "cc -std=c99 -trigraphs",
    );
    let o = ok(Command::new(&exe).output().unwrap(), "the C program");
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn check_markdown(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let cells = |l: &str| {
        let mut n = 0;
        let mut prev = ' ';
        for c in l.chars() {
            if c == '|' && prev != '\\' {
                n += 1;
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
        }
        n
    };
    let mut header: Option<usize> = None;
    for l in text.lines() {
        if l.starts_with('|') {
            let n = cells(l);
            match header {
                None => header = Some(n),
                Some(h) => assert_eq!(
                    n,
                    h,
                    "{}: a row changed its column count: {l}",
                    path.display()
                ),
            }
        } else {
            header = None;
        }
        assert!(
            !l.starts_with("# next"),
            "{}: a name started a heading: {l}",
            path.display()
        );
    }
}

fn check_common(out: &Path) {
    // Verilog: lints, and the names only ever appear inside comments.
    for v in files(&out.join("hdl"), "v") {
        ok(
            tool("verilator")
                .args(["--lint-only", "-Wall"])
                .arg(&v)
                .output()
                .unwrap(),
            "verilator --lint-only",
        );
        for l in std::fs::read_to_string(&v).unwrap().lines() {
            if l.contains("injected_c =") || l.contains("line2 *") {
                assert!(l.trim_start().starts_with("//"), "{}: {l}", v.display());
            }
        }
    }
    // XML and SVG parse.
    for x in files(out, "xml").into_iter().chain(files(out, "svg")) {
        ok(
            tool("xmllint").arg("--noout").arg(&x).output().unwrap(),
            "xmllint",
        );
    }
    // Every Tcl file is complete, and config.tcl evaluates without running the `[exit 3]`.
    for t in files(out, "tcl") {
        let script = format!(
            "set f [open {{{}}}]; set s [read $f]; close $f; if {{![info complete $s]}} {{ exit 9 }}",
            t.display()
        );
        ok(
            tcl_eval(&script),
            &format!("tclsh info complete {}", t.display()),
        );
    }
    // Python parses; the JSON the driver reads holds the names exactly.
    ok(
        tool("python3")
            .args(["-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())"])
            .arg(out.join("sw/repact_pynq.py"))
            .output()
            .unwrap(),
        "python ast.parse",
    );
    for md in [out.join("README.md"), out.join("report.md")] {
        check_markdown(&md);
    }
}

fn tcl_eval(script: &str) -> Output {
    use std::io::Write;
    let mut child = tool("tclsh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn hostile_layer_names_stay_data_in_every_file_of_a_baked_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let w = weights(tmp.path(), &[HOSTILE, HOSTILE2]);
    let out = tmp.path().join("ip");
    ok(gen(&w, &out, &[]), "gen");
    check_common(&out);
    for h in files(&out.join("sw"), "h") {
        if h.to_string_lossy().ends_with("_hls.h") {
            // The Vitis HLS header: strict C++98 with trigraphs, against Xilinx's ap_types.
            let src = tmp.path().join("inc.cpp");
            std::fs::write(
                &src,
                format!(
                    "#include \"{}\"\nstatic int injected_c() {{ return 0; }}\nint main() {{ return injected_c(); }}\n",
                    h.display()
                ),
            )
            .unwrap();
            ok(
                tool("g++")
                    .args([
                        "-std=c++11",
                        "-trigraphs",
                        "-Wall",
                        "-Werror",
                        "-Wno-unknown-pragmas",
                        "-fsyntax-only",
                        "-isystem",
                    ])
                    .arg(common::deps::ap_types())
                    .arg(&src)
                    .output()
                    .unwrap(),
                &format!("g++ {}", h.display()),
            );
            continue;
        }
        // The header compiles in strict C99 with trigraphs on, next to our own `injected_c`.
        let src = tmp.path().join("inc.c");
        std::fs::write(
            &src,
            format!(
                "#include \"{}\"\nstatic int injected_c(void) {{ return 0; }}\nint main(void) {{ return injected_c(); }}\n",
                h.display()
            ),
        )
        .unwrap();
        ok(
            tool("cc")
                .args([
                    "-std=c99",
                    "-pedantic",
                    "-Wall",
                    "-Werror",
                    "-trigraphs",
                    "-fsyntax-only",
                ])
                .arg(&src)
                .output()
                .unwrap(),
            &format!("cc {}", h.display()),
        );
    }
    // config.tcl evaluates (nothing in a name runs) and returns the names as data.
    let o = tcl_eval(&format!(
        "source {{{}}}\nforeach c $::repact::cores {{ puts [dict get $::repact::core $c display_name] }}\n",
        out.join("vivado/config.tcl").display()
    ));
    let o = ok(o, "tclsh config.tcl");
    let shown = String::from_utf8(o.stdout).unwrap();
    assert!(shown.contains(HOSTILE), "{shown}");
    assert!(shown.contains(HOSTILE2), "{shown}");
    // The driver's JSON keeps the names exactly.
    let cores: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sw/repact_cores.json")).unwrap())
            .unwrap();
    let mut names = Vec::new();
    collect_strings(&cores, &mut names);
    assert!(names.iter().any(|n| n == HOSTILE) && names.iter().any(|n| n == HOSTILE2));
}

#[test]
fn hostile_layer_names_round_trip_through_the_c_header_of_a_runtime_core() {
    let tmp = tempfile::tempdir().unwrap();
    let w = weights(tmp.path(), &[HOSTILE, HOSTILE2]);
    let out = tmp.path().join("ip");
    ok(
        gen(&w, &out, &["--coeffs", "axilite", "--name", "hostile"]),
        "gen axilite",
    );
    check_common(&out);
    let names = c_layer_names(&out.join("sw/hostile.h"), "hostile", 2, tmp.path());
    assert_eq!(names, vec![hex(HOSTILE), hex(HOSTILE2)]);
}

/// `gen` of layers named `names` is refused with `needle` in the message, writing nothing.
fn assert_names_refused(names: &[&str], needle: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ip");
    let o = gen(&weights(tmp.path(), names), &out, &[]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(64), "{e}");
    assert!(e.contains(needle), "stderr lacks `{needle}`: {e}");
    assert!(
        !e.contains("panicked") && !e.contains("File name too long"),
        "{e}"
    );
    assert!(!out.exists());
}

#[test]
fn layer_names_differing_only_in_case_are_refused_not_overwritten() {
    assert_names_refused(
        &["Block1.act", "block1.act"],
        "would share the file name `block1.act`",
    );
}

#[test]
fn layer_names_colliding_after_sanitizing_are_refused() {
    assert_names_refused(
        &["a b", "a_b"],
        "layers `a b` and `a_b` would share the file name `a_b`",
    );
}

#[test]
fn overlong_layer_names_get_a_clear_error_not_file_name_too_long() {
    assert_names_refused(&[&"n".repeat(300)], "has a 300-byte name");
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}
