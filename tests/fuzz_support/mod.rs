//! Shared by the loader regression tests and the fuzz harness: running `repact-hw` as a child
//! with its peak memory measured, and a time limit for in-process calls.

#![allow(dead_code)]

use std::path::Path;
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

/// Runs `repact-hw args…` in `dir` and measures its peak RSS (wait4 on exactly this child,
/// so tests running in parallel do not mix their figures).
pub fn run_measured(dir: &Path, args: &[&str]) -> Measured {
    let out = dir.join(".measured-stdout");
    let err = dir.join(".measured-stderr");
    let child = Command::new(env!("CARGO_BIN_EXE_repact-hw"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let (code, peak_mb) = wait_measured(child);
    Measured {
        code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        peak_mb,
    }
}

/// Waits for `child` and returns its exit code and peak RSS in MB.
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
