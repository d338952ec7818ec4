//! Issue 9 regressions at the command line: eval streams any size in bounded memory, an
//! interrupted run leaves no staging output (and a killed one's is swept by the next run), and
//! the small correctness items of eval/inspect (budgets, references, channel axes, naming the
//! weights file in quantizer refusals, per-layer variants).

mod fuzz_support;

/// The go-between of `fuzz_support::run_measured` (a no-op in a normal run).
#[test]
fn measure_entry() {
    fuzz_support::measure_entry();
}

use fuzz_support::{run_measured, wait_measured};
use repact_hw::tensor::NpyWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn example(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/repact-digits")
        .join(rel)
}

fn has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "`{p}` is not in: {msg}");
    }
}

/// A float32 .npy of `n` elements (shape [n/100, 100]) with values sweeping -8..8.
fn big_input(path: &Path, n: usize) {
    let mut w = NpyWriter::create(path, &[n / 100, 100], false).unwrap();
    let chunk: Vec<f32> = (0..100_000)
        .map(|i| (i as f32 / 100_000.0) * 16.0 - 8.0)
        .collect();
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk.len());
        w.write(&chunk[..k]).unwrap();
        left -= k;
    }
    w.finish().unwrap();
}

fn eval_args<'a>(weights: &'a str, input: &'a str, output: &'a str) -> Vec<&'a str> {
    vec![
        "eval",
        "--weights",
        weights,
        "--layer",
        "block1.act",
        "--input",
        input,
        "--output",
        output,
    ]
}

fn staging_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".repact-hw-") || n.starts_with(".tmp"))
        .collect()
}

#[test]
fn eval_of_25m_elements_streams_in_bounded_memory() {
    // 10^8 elements took 2.7 GB (27 bytes per element); streaming holds a few chunks.
    let dir = TempDir::new().unwrap();
    let n = 25_000_000;
    big_input(&dir.path().join("x.npy"), n);
    let w = example("bn/model.safetensors");
    let m = run_measured(
        dir.path(),
        &eval_args(w.to_str().unwrap(), "x.npy", "y.npy"),
    );
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    has(&m.stdout, &["25000000 values"]);
    let y = repact_hw::tensor::NpyReader::open(&dir.path().join("y.npy")).unwrap();
    assert_eq!(y.header().shape, [n / 100, 100]);
    eprintln!("eval of {n} elements: peak RSS {:.0} MB", m.peak_mb);
    assert!(m.peak_mb < 100.0, "peak RSS {:.0} MB", m.peak_mb);
}

/// Starts eval on a large input and returns the child once its staging file exists.
fn start_eval(dir: &Path) -> std::process::Child {
    big_input(&dir.join("x.npy"), 20_000_000);
    let w = example("bn/model.safetensors");
    let child = Command::new(env!("CARGO_BIN_EXE_repact-hw"))
        .args(eval_args(w.to_str().unwrap(), "x.npy", "y.npy"))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while staging_in(dir).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no staging file appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

#[test]
fn eval_interrupted_by_sigint_or_sigterm_removes_its_temp_file_and_exits_130() {
    // It left a .tmpXXXX file of up to 117 MB.
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let dir = TempDir::new().unwrap();
        let child = start_eval(dir.path());
        // SAFETY: signalling our own child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let (code, _) = wait_measured(child);
        assert_eq!(code, Some(130), "signal {sig}");
        assert_eq!(staging_in(dir.path()), Vec::<String>::new(), "signal {sig}");
        assert!(!dir.path().join("y.npy").exists());
    }
}

#[test]
fn staging_left_by_a_killed_process_is_swept_and_nothing_else() {
    let dir = TempDir::new().unwrap();
    let child = start_eval(dir.path());
    let killed = child.id();
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(killed as i32, libc::SIGKILL) }, 0);
    assert_eq!(wait_measured(child).0, None);
    let left = staging_in(dir.path());
    assert_eq!(left.len(), 1, "{left:?}");
    // Look-alikes that are not provably stale staging: another label's live pid (ours), a name
    // off the pattern, a user's file.
    let me = std::process::id();
    let keep = [
        format!(".repact-hw-gen-{me}-0"),
        ".repact-hw-gen-a1B2c3".to_string(),
        format!(".repact-hw-npy-{killed}-0.tmp copy"),
        format!(".repact-hw-old-{killed}-1"),
        "notes.txt".to_string(),
    ];
    for k in &keep {
        std::fs::write(dir.path().join(k), "mine").unwrap();
    }
    // A stale directory of eval's label too; other labels' stale entries are left to their
    // own commands, and `old` backups (possibly the only copy of an IP) to the user.
    std::fs::create_dir(dir.path().join(format!(".repact-hw-npy-{killed}-7"))).unwrap();
    let input = example("bn/acts/block1.act.input.npy");
    let w = example("bn/model.safetensors");
    let m = run_measured(
        dir.path(),
        &eval_args(w.to_str().unwrap(), input.to_str().unwrap(), "small.npy"),
    );
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    let mut now: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    now.sort();
    let mut want: Vec<String> = keep.to_vec();
    want.extend(["small.npy".to_string(), "x.npy".to_string()]);
    want.sort();
    assert_eq!(now, want);
}

fn run(args: &[&str]) -> fuzz_support::Measured {
    run_measured(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

#[test]
fn max_error_ulp_inf_or_nan_gives_the_right_reason() {
    // It said "--max-error-ulp inf cannot be met: rounding … alone can cost 0.5 ULP".
    let w = example("bn/weights.json");
    for v in ["inf", "nan", "-inf"] {
        let opt = format!("--max-error-ulp={v}");
        let m = run(&["inspect", "--weights", w.to_str().unwrap(), &opt]);
        assert_eq!(m.code, Some(64), "{v}: {}", m.stderr);
        has(&m.stderr, &["--max-error-ulp", "not a finite number"]);
        assert!(!m.stderr.contains("cannot be met"), "{}", m.stderr);
    }
    let m = run(&[
        "inspect",
        "--weights",
        w.to_str().unwrap(),
        "--max-error-ulp",
        "0.5",
    ]);
    assert_eq!(m.code, Some(64));
    has(&m.stderr, &["cannot be met", "more than 0.5"]);
}

#[test]
fn reference_containing_inf_is_refused() {
    // It reported an error of "inf ULP".
    let dir = TempDir::new().unwrap();
    let x = example("bn/acts/block1.act.input.npy");
    let mut r = repact_hw::tensor::read_npy(&example("bn/acts/block1.act.output.npy")).unwrap();
    r[[0, 0, 0, 3]] = f64::INFINITY;
    repact_hw::tensor::write_npy_f32(&dir.path().join("ref.npy"), &r.mapv(|v| v as f32)).unwrap();
    let w = example("bn/model.safetensors");
    let mut args = eval_args(w.to_str().unwrap(), x.to_str().unwrap(), "y.npy");
    args.extend(["--reference", "ref.npy"]);
    let m = run_measured(dir.path(), &args);
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    has(&m.stderr, &["ref.npy", "element 3", "inf", "finite"]);
    assert!(!dir.path().join("y.npy").exists());
    assert_eq!(staging_in(dir.path()), Vec::<String>::new());
}

#[test]
fn channel_axis_for_a_one_channel_layer_warns() {
    // It was silently ignored.
    let dir = TempDir::new().unwrap();
    let x = example("bn/acts/block1.act.input.npy");
    let w = example("bn/model.safetensors");
    let mut args = eval_args(w.to_str().unwrap(), x.to_str().unwrap(), "y.npy");
    args.extend(["--channel-axis", "3"]);
    let m = run_measured(dir.path(), &args);
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    has(
        &m.stderr,
        &[
            "warning: --channel-axis 3 ignored",
            "layer `block1.act`",
            "single PReLU slope",
        ],
    );
}

#[test]
fn quantizer_refusals_name_the_weights_file() {
    // They named the layer only.
    let w = example("bn/model.safetensors");
    let m = run(&[
        "inspect",
        "--weights",
        w.to_str().unwrap(),
        "--max-coef-width",
        "4",
    ]);
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    has(
        &m.stderr,
        &[
            "model.safetensors: layer `block1.act`",
            "--max-coef-width is 4",
        ],
    );
}

#[test]
fn variant_per_layer_on_the_command_line() {
    let dir = TempDir::new().unwrap();
    let w = example("origin/model.safetensors");
    let ws = w.to_str().unwrap();
    let mixed = [
        "inspect",
        "--weights",
        ws,
        "--variant",
        "origin",
        "--variant",
        "block3.act=softmax",
    ];
    let mut args = mixed.to_vec();
    args.push("--json");
    let m = run_measured(dir.path(), &args);
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    let doc: serde_json::Value = serde_json::from_str(&m.stdout).unwrap();
    let text = doc.to_string();
    has(&text, &["softmax", "origin"]);
    // Contradictions are usage errors.
    for extra in [["--variant", "softmax"], ["--variant", "block3.act=origin"]] {
        let mut args = mixed.to_vec();
        args.extend(extra);
        let m = run_measured(dir.path(), &args);
        assert_eq!(m.code, Some(64), "{extra:?}: {}", m.stderr);
    }
    let m = run_measured(
        dir.path(),
        &["inspect", "--weights", ws, "--variant", "=softmax"],
    );
    assert_eq!(m.code, Some(64), "{}", m.stderr);
}

/// A JSON weights file of `n` piecewise layers (a large bundle: gen's write takes a while).
fn many_layers(path: &Path, n: usize) {
    let layers: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"name": "p{i}", "piecewise": {{"breakpoints": [-1.0, 2.0], "segments": [[0.0, 0.1], [0.0, 1.0, 0.25], [1.0]]}}}}"#
            )
        })
        .collect();
    let text = format!(
        "{{\"repact_weights\": 1, \"layers\": [{}]}}",
        layers.join(",\n")
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn gen_interrupted_while_writing_leaves_no_staging_directory() {
    // SIGINT/SIGTERM during gen left a .repact-hw-gen-* directory. The signal must land while
    // the staging directory exists: poll for it, and retry when gen was faster than the poll.
    let dir = TempDir::new().unwrap();
    many_layers(&dir.path().join("w.json"), 120);
    // What a `kill -9`ed gen leaves (a pid that no longer runs) is swept by the next gen.
    let mut done = Command::new("true").spawn().unwrap();
    let dead = done.id();
    done.wait().unwrap();
    let stale = dir.path().join(format!(".repact-hw-gen-{dead}-3"));
    std::fs::create_dir_all(stale.join("hdl")).unwrap();
    std::fs::write(stale.join("hdl/x.v"), "half written").unwrap();
    let mut interrupted = 0;
    for attempt in 0..8 {
        let out = format!("ip{attempt}");
        let child = Command::new(env!("CARGO_BIN_EXE_repact-hw"))
            .args(["gen", "--weights", "w.json", "--out", &out])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let mut seen = false;
        while start.elapsed() < Duration::from_secs(120) {
            // Our own staging, not the stale look-alike planted above.
            let ours = |n: &String| n.starts_with(".repact-hw-gen-") && !stale.ends_with(n);
            if staging_in(dir.path()).iter().any(ours) {
                seen = true;
                break;
            }
            if dir.path().join(&out).exists() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let sig = if attempt % 2 == 0 {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        if seen {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, sig) };
        }
        let (code, _) = wait_measured(child);
        // gen sweeps before it stages, so by now the stale directory is gone too.
        assert_eq!(
            staging_in(dir.path()),
            Vec::<String>::new(),
            "attempt {attempt}"
        );
        match code {
            Some(130) => {
                interrupted += 1;
                assert!(!dir.path().join(&out).exists(), "a half-written --out");
            }
            // Finished before the signal: complete output, nothing else.
            Some(0) => assert!(dir.path().join(&out).join("repact_ip.json").is_file()),
            other => panic!("attempt {attempt}: exit {other:?}"),
        }
        if interrupted >= 2 {
            break;
        }
    }
    assert!(
        interrupted > 0,
        "gen was never caught writing; make the bundle larger"
    );
}

#[test]
fn eval_streams_per_channel_layers_in_either_element_order() {
    // The streamed eval finds each element's channel from its file position: a row-major and
    // a column-major file of the same array must give the same result, channel by channel.
    let dir = TempDir::new().unwrap();
    let w = dir.path().join("w.json");
    std::fs::write(
        &w,
        r#"{"repact_weights": 1, "layers": [{"name": "c3", "variant": "origin",
            "actor_atn": [0.1, 0.2, 0.3, 0.4], "prelu_weight": [-0.5, 0.25, 2.0]}]}"#,
    )
    .unwrap();
    let shape = [2usize, 3, 4];
    let value =
        |i: usize, j: usize, k: usize| -2.0 + 0.3 * i as f32 + 0.1 * k as f32 - 0.05 * j as f32;
    let mut c = NpyWriter::create(&dir.path().join("c.npy"), &shape, false).unwrap();
    for i in 0..2 {
        for j in 0..3 {
            for k in 0..4 {
                c.write(&[value(i, j, k)]).unwrap();
            }
        }
    }
    c.finish().unwrap();
    let mut f = NpyWriter::create(&dir.path().join("f.npy"), &shape, true).unwrap();
    for k in 0..4 {
        for j in 0..3 {
            for i in 0..2 {
                f.write(&[value(i, j, k)]).unwrap();
            }
        }
    }
    f.finish().unwrap();
    for name in ["c", "f"] {
        let args = [
            "eval",
            "--weights",
            "w.json",
            "--layer",
            "c3",
            "--input",
            &format!("{name}.npy"),
            "--output",
            &format!("{name}_out.npy"),
        ];
        let m = run_measured(dir.path(), &args);
        assert_eq!(m.code, Some(0), "{name}: {}", m.stderr);
    }
    let yc = repact_hw::tensor::read_npy(&dir.path().join("c_out.npy")).unwrap();
    let yf = repact_hw::tensor::read_npy(&dir.path().join("f_out.npy")).unwrap();
    assert_eq!(yc, yf);
    // The channels really differ (the PReLU slopes act on these negative inputs).
    assert_ne!(yc[[0, 0, 0]], yc[[0, 1, 0]]);
    assert_ne!(yc[[0, 1, 0]], yc[[0, 2, 0]]);
}
