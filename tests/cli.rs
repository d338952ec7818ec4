//! The `repact-hw` binary as a user runs it: outputs, exit codes, error messages, and that a
//! failed command leaves no partial output behind.

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod common;

use common::{
    example, gen_bn, gen_one_layer, repact_hw as run, rewrite_as_generated, stderr, stdout,
};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_repact-hw"))
}

#[test]
fn inspect_json_matches_the_independently_derived_fold_of_the_bundled_data() {
    for (net, variant) in [("origin", "origin"), ("bn", "bn")] {
        let w = example(&format!("{net}/model.safetensors"));
        let o = run(&[
            "inspect",
            "--weights",
            w.to_str().unwrap(),
            "--variant",
            variant,
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let params: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(example(&format!("{net}/repact_params.json"))).unwrap(),
        )
        .unwrap();
        let layers = doc["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 5);
        for l in layers {
            let name = l["name"].as_str().unwrap();
            assert_eq!(l["variant"], variant);
            assert_eq!(l["breakpoints"], serde_json::json!([-3.0, 0.0, 3.0]));
            let d = &params["layers"][name]["derived"];
            let (pos, neg, hs, off) = (
                d["c_pos"].as_f64().unwrap(),
                d["c_neg"].as_f64().unwrap(),
                d["c_hardswish"].as_f64().unwrap(),
                d["c_offset"].as_f64().unwrap(),
            );
            let want = [
                [off, neg, 0.0],
                [off, neg + hs / 2.0, hs / 6.0],
                [off, pos + hs / 2.0, hs / 6.0],
                [off, pos + hs, 0.0],
            ];
            let segs = &l["segments"][0];
            for (s, w) in want.iter().enumerate() {
                for k in 0..3 {
                    let got = segs[s][k].as_f64().unwrap();
                    assert!(
                        (got - w[k]).abs() < 1e-9,
                        "{net} {name} seg {s} c{k}: {got} vs {}",
                        w[k]
                    );
                }
            }
            let bound = l["quantization"]["error_bound"]["total_ulp"]
                .as_f64()
                .unwrap();
            assert!(bound > 0.5 && bound <= 0.5625, "{name}: {bound}");
        }
    }
}

#[test]
fn inspect_text_names_formats_and_bound() {
    let w = example("bn/model.pth");
    let o = run(&[
        "inspect",
        "--weights",
        w.to_str().unwrap(),
        "--in-format",
        "ap_fixed<12,5>",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains("layer block5.act") && s.contains("in ap_fixed<12,5> -> out ap_fixed<16,6>"),
        "{s}"
    );
    assert!(s.contains("proven error bound"), "{s}");
}

#[test]
fn eval_on_real_tensors_stays_within_the_bound_and_close_to_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    for block in 1..=5 {
        let out = tmp.path().join(format!("y{block}.npy"));
        let input = example(&format!("bn/acts/block{block}.act.input.npy"));
        let reference = example(&format!("bn/acts/block{block}.act.output.npy"));
        let o = run(&[
            "eval",
            "--weights",
            example("bn/model.safetensors").to_str().unwrap(),
            "--layer",
            &format!("block{block}.act"),
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--reference",
            reference.to_str().unwrap(),
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let bound = doc["proven_bound_ulp"].as_f64().unwrap();
        let q = doc["error_vs_f64_at_quantized_input"]["max_ulp"]
            .as_f64()
            .unwrap();
        assert!(q <= bound, "block{block}: {q} > {bound}");
        // Against PyTorch's float32 output the input rounding adds |f'| * half an input ULP.
        let torch = doc["error_vs_reference"]["max_abs"].as_f64().unwrap();
        assert!(torch < 0.02, "block{block}: {torch}");
        let x = ArrayD::<f32>::read_npy(std::fs::File::open(&input).unwrap()).unwrap();
        let y = ArrayD::<f32>::read_npy(std::fs::File::open(&out).unwrap()).unwrap();
        assert_eq!(x.shape(), y.shape());
        // Every value is on the output grid.
        assert!(y.iter().all(|v| (v * 1024.0).fract() == 0.0));
    }
}

fn write_npy<T: ndarray_npy::WritableElement>(path: &Path, a: ArrayD<T>) {
    a.write_npy(std::fs::File::create(path).unwrap()).unwrap();
}

fn assert_fails(o: &Output, needles: &[&str]) {
    assert!(!o.status.success(), "should fail: {}", stdout(o));
    let e = stderr(o);
    for n in needles {
        assert!(e.contains(n), "stderr lacks `{n}`: {e}");
    }
    assert!(e.starts_with("error: "), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn bad_inputs_give_clear_errors_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("y.npy");
    let w = example("bn/model.safetensors");
    let ws = w.to_str().unwrap();
    let good_in = example("bn/acts/block1.act.input.npy");

    // Origin and softmax look alike in a state dict.
    let o = run(&[
        "inspect",
        "--weights",
        example("origin/model.safetensors").to_str().unwrap(),
    ]);
    assert_fails(&o, &["model.safetensors", "block1.act", "--variant"]);

    // Unknown layer: the message lists the ones there are.
    let o = run(&[
        "eval",
        "--weights",
        ws,
        "--layer",
        "block9.act",
        "--input",
        good_in.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_fails(&o, &["block9.act", "block1.act"]);

    // Non-float tensor.
    let ints = tmp.path().join("ints.npy");
    write_npy(&ints, ArrayD::<i32>::zeros(IxDyn(&[2, 3])));
    let o = run(&[
        "eval",
        "--weights",
        ws,
        "--layer",
        "block1.act",
        "--input",
        ints.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_fails(&o, &["ints.npy", "float"]);

    // NaN in the tensor.
    let nan = tmp.path().join("nan.npy");
    write_npy(
        &nan,
        ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.5f32, f32::NAN, 1.0]).unwrap(),
    );
    let o = run(&[
        "eval",
        "--weights",
        ws,
        "--layer",
        "block1.act",
        "--input",
        nan.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_fails(&o, &["nan.npy", "element 1"]);
    assert!(!out.exists(), "a failed eval must not write its output");

    // Truncated weights.
    let bytes = std::fs::read(&w).unwrap();
    let cut = tmp.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(&["inspect", "--weights", cut.to_str().unwrap()]);
    assert_fails(&o, &["cut.safetensors"]);

    // A format that cannot exist, an unknown variant, a bad branch order.
    let o = run(&["inspect", "--weights", ws, "--in-format", "ap_fixed<40,6>"]);
    assert_fails(&o, &["ap_fixed<40,6>"]);
    let o = run(&["inspect", "--weights", ws, "--variant", "fancy"]);
    assert_fails(&o, &["fancy"]);
    let o = run(&[
        "inspect",
        "--weights",
        ws,
        "--branch-order",
        "identity,relu,relu,prelu",
    ]);
    assert_fails(&o, &["hardswish"]);

    // A coefficient width that cannot meet the budget.
    let o = run(&["inspect", "--weights", ws, "--max-coef-width", "6"]);
    assert_fails(&o, &["--max-coef-width is 6"]);

    // gen leaves nothing behind when it fails.
    let ip = tmp.path().join("ip");
    let o = run(&[
        "gen",
        "--weights",
        ws,
        "--out",
        ip.to_str().unwrap(),
        "--lanes",
        "3",
    ]);
    assert_fails(&o, &["--lanes"]);
    assert!(!ip.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".repact"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn gen_refuses_to_overwrite_a_directory_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep me").unwrap();
    let o = run(&[
        "gen",
        "--weights",
        example("bn/model.safetensors").to_str().unwrap(),
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert_fails(&o, &["not a repact-hw IP directory"]);
    assert!(tmp.path().join("precious.txt").exists());
}

#[test]
fn gen_is_deterministic_and_verify_passes_on_it() {
    let tmp = tempfile::tempdir().unwrap();
    let w = example("bn/model.pth");
    let gen = |dir: &Path| {
        let o = run(&[
            "gen",
            "--weights",
            w.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
            "--layer",
            "block5.act",
            "--name",
            "act5",
            "--lanes",
            "2",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    gen(&a);
    gen(&b);
    let va = std::fs::read(a.join("hdl/act5.v")).unwrap();
    let vb = std::fs::read(b.join("hdl/act5.v")).unwrap();
    // Identical but for the --out path recorded in the command line.
    let strip = |v: &[u8], d: &Path| String::from_utf8_lossy(v).replace(d.to_str().unwrap(), "OUT");
    assert_eq!(strip(&va, &a), strip(&vb, &b));
    let o = run(&[
        "verify",
        a.to_str().unwrap(),
        "--stress-beats",
        "20000",
        "--icarus-cycles",
        "2000",
        "--json",
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["cores"][0]["exhaustive"]["samples"], 65536);
}

#[test]
fn verify_fails_with_exit_code_2_on_a_mutated_core() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ip");
    gen_one_layer(&dir, "block1.act", "act1");
    let text = std::fs::read_to_string(dir.join("hdl/act1.v")).unwrap();
    // Flipping the LSB of in-range outputs: a one-ULP error the bench must see. Both copies
    // and their recorded hashes change, as a buggy generator would write them: only the
    // simulation can catch this.
    let bad = text.replacen("q_fits ? q[15:0]", "q_fits ? q[15:0] ^ 16'd1", 1);
    assert_ne!(bad, text, "the mutation must apply");
    rewrite_as_generated(&dir, &["hdl/act1.v", "ip/act1/hdl/act1.v"], bad.as_bytes());
    let vcd = tmp.path().join("fail.vcd");
    let o = run(&[
        "verify",
        dir.to_str().unwrap(),
        "--stress-beats",
        "5000",
        "--icarus-cycles",
        "500",
        "--vcd",
        vcd.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let s = stdout(&o);
    assert!(s.contains("FAIL") && s.contains("first failure"), "{s}");
    assert!(s.contains(&format!(
        "waveform around the first failure: {}\n",
        vcd.display()
    )));
    assert!(vcd.metadata().unwrap().len() > 0);
}

/// `verify DIR [extra]` on a freshly generated one-layer directory after `tamper`; returns the
/// output and the directory (in a temporary directory dropped with the third value).
fn verify_after(
    tamper: impl FnOnce(&Path),
    extra: &[&str],
) -> (Output, PathBuf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ip");
    gen_one_layer(&dir, "block2.act", "act2");
    tamper(&dir);
    let mut args = vec!["verify", dir.to_str().unwrap(), "--stress-beats", "1000"];
    args.extend(extra);
    let o = run(&args);
    (o, dir, tmp)
}

/// Asserts `verify` refuses the directory after `tamper` with exit code 1 and exactly the
/// message `message(dir)` (`error: ` and the newline added).
fn verify_refuses(tamper: impl FnOnce(&Path), message: impl Fn(&Path) -> String) {
    let (o, dir, _tmp) = verify_after(tamper, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(stderr(&o), format!("error: {}\n", message(&dir)));
    assert!(!stdout(&o).contains("match"), "{}", stdout(&o));
}

/// Edits the manifest of `dir` as JSON.
fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("repact_ip.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(&path, m.to_string()).unwrap();
}

/// `"<dir>/<rel>: missing: …"`, the message for a listed file that is gone.
fn missing(dir: &Path, rel: &str) -> String {
    format!(
        "{}: missing: repact_ip.json lists it as written by `gen`",
        dir.join(rel).display()
    )
}

#[test]
fn verify_fails_when_the_packaged_copy_vivado_uses_is_edited() {
    verify_refuses(
        |dir| {
            let v = dir.join("ip/act2/hdl/act2.v");
            let text = std::fs::read_to_string(&v).unwrap();
            std::fs::write(&v, text + "// an edit Vivado would synthesize\n").unwrap();
        },
        |dir| {
            format!(
                "{}: changed since `gen` wrote it (its SHA-256 is not the one repact_ip.json \
                 records); regenerate the directory instead of editing it",
                dir.join("ip/act2/hdl/act2.v").display()
            )
        },
    );
}

#[test]
fn verify_fails_when_the_packaged_copy_is_edited_and_its_hash_updated() {
    // A manifest edited to match the edit: the copy still differs from what is simulated.
    verify_refuses(
        |dir| rewrite_as_generated(dir, &["ip/act2/hdl/act2.v"], b"module act2; endmodule\n"),
        |dir| {
            format!(
                "{}: differs from {}, the Verilog that is simulated: Vivado would use a core \
                 nobody verified",
                dir.join("ip/act2/hdl/act2.v").display(),
                dir.join("hdl/act2.v").display()
            )
        },
    );
}

#[test]
fn verify_fails_when_the_packaged_copy_is_deleted() {
    verify_refuses(
        |dir| std::fs::remove_file(dir.join("ip/act2/hdl/act2.v")).unwrap(),
        |dir| missing(dir, "ip/act2/hdl/act2.v"),
    );
}

#[test]
fn verify_fails_when_component_xml_is_deleted() {
    verify_refuses(
        |dir| std::fs::remove_file(dir.join("ip/act2/component.xml")).unwrap(),
        |dir| missing(dir, "ip/act2/component.xml"),
    );
}

#[test]
fn verify_fails_when_the_manifest_stops_listing_component_xml() {
    verify_refuses(
        |dir| {
            edit_manifest(dir, |m| {
                let files = m["files"].as_object_mut().unwrap();
                files.remove("ip/act2/component.xml").unwrap();
            });
            std::fs::remove_file(dir.join("ip/act2/component.xml")).unwrap();
        },
        |dir| {
            format!(
                "{}: core `act2`: `ip/act2/component.xml` is not among the files it lists",
                dir.join("repact_ip.json").display()
            )
        },
    );
}

#[test]
fn verify_refuses_a_manifest_with_no_cores() {
    // It used to pass: "all cores match the golden model" over zero cores.
    verify_refuses(
        |dir| edit_manifest(dir, |m| m["cores"] = serde_json::json!([])),
        |dir| {
            format!(
                "{}: lists no cores: nothing to verify (regenerate the directory with \
                 `repact-hw gen`)",
                dir.join("repact_ip.json").display()
            )
        },
    );
}

#[test]
fn verify_names_the_layer_whose_recorded_spec_differs() {
    verify_refuses(
        |dir| {
            edit_manifest(dir, |m| {
                let k0 = &mut m["cores"][0]["spec"]["layers"][0]["coefs"][0][1]["k0"];
                *k0 = serde_json::json!(k0.as_i64().unwrap() + 1);
            })
        },
        |dir| {
            format!(
                "{}: core `act2`, layer `block2.act`: the spec rebuilt from the folded layers \
                 differs from the one `gen` recorded at `layers[0].coefs[0][1].k0` (generated \
                 by another version of repact-hw, or the manifest was edited); regenerate the \
                 directory",
                dir.join("repact_ip.json").display()
            )
        },
    );
}

#[test]
fn verify_vcd_to_an_unwritable_path_is_an_error_not_a_claimed_waveform() {
    // `--vcd /proc/x.vcd` used to print "waveform around the first failure: /proc/x.vcd"
    // and write nothing.
    let (o, _dir, _tmp) = verify_after(
        |dir| {
            let text = std::fs::read_to_string(dir.join("hdl/act2.v")).unwrap();
            let bad = text.replacen("q_fits ? q[15:0]", "q_fits ? q[15:0] ^ 16'd1", 1);
            rewrite_as_generated(dir, &["hdl/act2.v", "ip/act2/hdl/act2.v"], bad.as_bytes());
        },
        &["--vcd", "/proc/x.vcd"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let e = stderr(&o);
    assert!(
        e.starts_with("error: /proc/x.vcd: cannot create the waveform file there: "),
        "{e}"
    );
    assert!(!stdout(&o).contains("waveform"), "{}", stdout(&o));
    assert!(!Path::new("/proc/x.vcd").exists());
}

#[test]
fn readme_register_map_is_the_generators() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = repact_hw::hdl::regmap::markdown_table().join("\n");
    assert!(
        readme.contains(&table),
        "README's register map differs from src/hdl/regmap.rs:\n{table}"
    );
}

#[test]
fn clap_usage_errors_exit_64_not_verifys_mismatch_code_2() {
    // `verify --stress-beats abc` used to exit 2, the code that means "hardware mismatch".
    let o = run(&["verify", "nowhere", "--stress-beats", "abc"]);
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid value 'abc'"), "{}", stderr(&o));
    let o = run(&["gen", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    // Help and version are not errors.
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    assert_eq!(run(&["--version"]).status.code(), Some(0));
}

#[test]
fn exit_codes_separate_bad_input_from_impossible_requests() {
    let missing = run(&["inspect", "--weights", "/nonexistent/model.json"]);
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));
    let w = example("bn/model.safetensors");
    let out = tempfile::tempdir().unwrap();
    let lanes = run(&[
        "gen",
        "--weights",
        w.to_str().unwrap(),
        "--lanes",
        "3",
        "--out",
        out.path().join("ip").to_str().unwrap(),
    ]);
    assert_eq!(lanes.status.code(), Some(64), "{}", stderr(&lanes));
    assert_eq!(
        stderr(&lanes),
        "error: --lanes must be one of 1, 2, 4, 8, 16, got 3\n"
    );
}

#[test]
fn inspect_into_a_closed_pipe_exits_quietly_instead_of_panicking() {
    use std::io::Read;
    use std::process::Stdio;
    let w = example("bn/model.safetensors");
    let mut child = bin()
        .args(["inspect", "--weights", w.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end at once, as `| head -0` does.
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn readme_exit_code_table_matches_the_code() {
    use repact_hw::error::exit_code;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (code, word) in [
        (exit_code::OK, "success"),
        (exit_code::INPUT, "bad input"),
        (exit_code::MISMATCH, "mismatch"),
        (exit_code::TOOL, "tool"),
        (exit_code::USAGE, "usage"),
        (exit_code::INTERNAL, "internal"),
        (exit_code::INTERRUPTED, "interrupted"),
    ] {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| {code} |")))
            .unwrap_or_else(|| panic!("README has no exit-code row for {code}"));
        assert!(row.to_lowercase().contains(word), "{row}");
    }
}

/// Template leftovers in `text`, one line each: a marker line (a comment holding nothing but
/// `>>>` or `<<<` and a word, as `# >>> axilite` was) or a placeholder `@NAME@` or
/// `{{name}}`.
fn template_leftovers(text: &str) -> Vec<String> {
    let is_name = |w: &str| {
        let w = w.trim();
        w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let marker = ["#", "//", "--", ";", "<!--", "/*"]
            .iter()
            .filter_map(|c| t.strip_prefix(c))
            .any(|rest| {
                let rest = rest.trim_start();
                rest.starts_with(">>>") || rest.starts_with("<<<")
            });
        let at_name =
            line.split('@').skip(1).step_by(2).any(is_name) && line.matches('@').count() >= 2;
        let braced = line
            .split("{{")
            .skip(1)
            .any(|rest| rest.split_once("}}").is_some_and(|(w, _)| is_name(w)));
        if marker || at_name || braced {
            found.push(format!("line {}: {line}", n + 1));
        }
    }
    found
}

#[test]
fn the_template_leftover_scan_finds_markers_and_placeholders_and_nothing_else() {
    for bad in [
        "# >>> axilite",
        "    # <<< axilite",
        "// >>> registers",
        "set x @PART@",
        "core = \"@top_name@\"",
        "{{ core }}",
        "a {{vlnv}} b",
    ] {
        assert_eq!(template_leftovers(bad).len(), 1, "{bad:?}");
    }
    for good in [
        "assign t = s1 >>> 7; // t = s1 >>> SHIFT1",
        "always @(posedge aclk) begin",
        "set inst ${core}_0",
        "assign y = {{8{x[7]}}, x};",
        "    # A core with an AXI4-Lite slave also gets its memory map",
        "contact: a@b.org, c@d.org",
    ] {
        assert!(template_leftovers(good).is_empty(), "{good:?}");
    }
}

#[test]
fn no_template_placeholder_or_marker_survives_in_any_generated_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for coeffs in ["baked", "axilite"] {
        let dir = tmp.path().join(coeffs);
        gen_bn(&dir, &["--coeffs", coeffs, "--lanes", "2"]);
        for p in common::files_under(&dir) {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            let left = template_leftovers(&text);
            assert!(left.is_empty(), "{}: {left:#?}", p.display());
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked} files");
}

#[test]
fn the_axilite_markers_are_gone_from_the_source() {
    // Fixed files are fragments (src/package/fixed_files.rs) now: nothing is spliced at a
    // marker, and no source file should still carry one (or a placeholder) for a reader to
    // take as live.
    let markers = [">>>", "<<<"].map(|a| format!("# {a} axilite"));
    let root = common::repo();
    for p in common::files_under(&root.join("src")) {
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        for m in &markers {
            assert!(!text.contains(m.as_str()), "{}: `{m}`", p.display());
        }
        if p.starts_with(root.join("src/package")) {
            let left = template_leftovers(&text);
            assert!(left.is_empty(), "{}: {left:#?}", p.display());
        }
    }
    assert!(
        !root.join("vivado").exists(),
        "vivado/ holds template sources again"
    );
}

#[test]
fn every_shared_fixture_is_used_by_some_test_file() {
    // The fixtures are `pub` (tests/common/mod.rs says why), so rustc cannot tell one nobody
    // uses: this does. A fixture counts as used when a test file names it in a `common::`
    // path (`common::deps::python()`, `use common::{example, gen_bn}`).
    let root = common::repo().join("tests");
    let mut used = std::collections::BTreeSet::new();
    for p in common::files_under(&root) {
        if p.parent() != Some(root.as_path()) || p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (at, _) in text.match_indices("common::") {
            let path = &text[at..];
            let end = if path
                .trim_start_matches(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                .starts_with('{')
            {
                path.find('}').unwrap()
            } else {
                path.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(path.len())
            };
            used.extend(
                path[..end]
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .map(str::to_string),
            );
        }
    }
    let mut fixtures = 0;
    for p in common::files_under(&root.join("common")) {
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            let Some(rest) = ["pub fn ", "pub const ", "pub struct ", "pub enum "]
                .iter()
                .find_map(|k| line.strip_prefix(k))
            else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                used.contains(&name),
                "{}: `{name}` is used by no test file (remove it, or make it private if only \
                 another fixture needs it)",
                p.display()
            );
            fixtures += 1;
        }
    }
    assert!(fixtures > 10, "{fixtures} fixtures");
}

#[test]
fn readme_layout_names_every_module_of_src_and_only_paths_that_exist() {
    let root = common::repo();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let layout = readme
        .split("## Layout\n")
        .nth(1)
        .and_then(|s| s.split("```").nth(1))
        .expect("README has a Layout block");
    let listed: Vec<&str> = layout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.contains('/') || w.ends_with(".rs"))
        .collect();
    for p in &listed {
        assert!(
            root.join(p).exists(),
            "README's layout lists `{p}`, which does not exist"
        );
    }
    for e in std::fs::read_dir(root.join("src")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name == "lib.rs" || name == "main.rs" {
            continue;
        }
        let entry = if name.ends_with(".rs") {
            format!("src/{name}")
        } else {
            format!("src/{name}/")
        };
        assert!(
            listed.contains(&entry.as_str()),
            "README's layout omits `{entry}`"
        );
    }
}
