//! Shared by the loader regression tests and the fuzz harness: running `repact-hw` as a child
//! with its peak memory measured, and a time limit for in-process calls.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What a finished child did.
pub struct Measured {
    /// Exit code (`None`: killed by a signal, e.g. an abort).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident set size of the child, in MB (`ru_maxrss` from `wait4`).
    pub peak_mb: f64,
}

/// Set in the environment of the test binary when it is re-run as the measuring go-between.
const MEASURE_ENV: &str = "REPACT_FUZZ_MEASURE";

/// Runs `repact-hw args…` in `dir` and measures its peak RSS.
///
/// Linux records the RSS high-water mark of the address space a process had before `exec`,
/// and a child spawned by this (large, multi-threaded) test process starts out sharing ours:
/// its `ru_maxrss` would be at least our own peak. So the test binary re-runs itself as a
/// small go-between ([`measure_entry`]), which spawns repact-hw and reports that child's
/// figure.
pub fn run_measured(dir: &Path, args: &[&str]) -> Measured {
    // The captured output goes to a directory of its own, never into `dir`.
    let capture = tempfile::tempdir().unwrap();
    let report = capture.path().join("report");
    let mut spec = vec![
        dir.to_str().unwrap().to_string(),
        capture.path().to_str().unwrap().to_string(),
    ];
    spec.extend(args.iter().map(|a| a.to_string()));
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "measure_entry",
            "--test-threads",
            "1",
            "--nocapture",
            "-q",
        ])
        .env(MEASURE_ENV, spec.join("\u{1f}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the measuring go-between failed");
    let text = std::fs::read_to_string(&report).expect("the go-between wrote no report");
    let (code, kb) = text.trim().split_once(' ').unwrap();
    Measured {
        code: code.parse().ok(),
        stdout: std::fs::read_to_string(capture.path().join("stdout")).unwrap_or_default(),
        stderr: std::fs::read_to_string(capture.path().join("stderr")).unwrap_or_default(),
        peak_mb: kb.parse::<f64>().unwrap() / 1024.0,
    }
}

/// The go-between's body; every test binary using [`run_measured`] has a `#[test] fn
/// measure_entry()` calling this (it does nothing in a normal test run).
pub fn measure_entry() {
    let Ok(spec) = std::env::var(MEASURE_ENV) else {
        return;
    };
    let mut parts = spec.split('\u{1f}');
    let dir = parts.next().unwrap().to_string();
    let capture = PathBuf::from(parts.next().unwrap());
    let child = Command::new(env!("CARGO_BIN_EXE_repact-hw"))
        .args(parts)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(capture.join("stdout")).unwrap())
        .stderr(std::fs::File::create(capture.join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let (code, mb) = wait_measured(child);
    let code = code.map_or("signal".to_string(), |c| c.to_string());
    std::fs::write(
        capture.join("report"),
        format!("{code} {}", (mb * 1024.0) as u64),
    )
    .unwrap();
}

/// Waits for `child` and returns its exit code and peak RSS in MB (only meaningful for a
/// child of a small process: see [`run_measured`]).
pub fn wait_measured(child: std::process::Child) -> (Option<i32>, f64) {
    let pid = child.id();
    let mut status = 0;
    // SAFETY: plain syscall on our own child; `usage` is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    assert_eq!(r, pid as i32, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    (code, usage.ru_maxrss as f64 / 1024.0)
}

/// Runs `f` on a thread and fails if it takes longer than `secs` (a hang, not a speed goal:
/// the limits are generous).
pub fn within<T: Send + 'static>(
    secs: u64,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {secs} s (a hang)"),
    }
}

/// This process's peak RSS so far, in MB (`VmHWM`).
pub fn own_peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The entries of a zip archive, in order: (name, contents).
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut d = Vec::new();
            f.read_to_end(&mut d).unwrap();
            (f.name().to_string(), d)
        })
        .collect()
}
