//! Runs independent verification jobs (one per core: its Verilator build and all its phases)
//! on up to N threads, returning results in input order whatever order they finish in.
//!
//! Each job builds and drives its own model on the thread that runs it: Verilator models are
//! not shared across threads, and every model has its own `VerilatedContext`.

use super::run::{verify_core, CoreReport, RunOptions};
use crate::manifest::Manifest;
use crate::Result;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Verifies every core of `manifest` on up to `jobs` threads; reports in manifest order (the
/// same for any job count). `progress` receives work done, from any thread. The first error,
/// in manifest order, is returned.
pub fn verify_all(
    dir: &Path,
    manifest: &Manifest,
    opts: &RunOptions,
    jobs: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<CoreReport>> {
    let running = jobs.clamp(1, manifest.cores.len().max(1));
    let mut opts = opts.clone();
    // A golden-model thread beside each simulation only helps while cores are idle.
    opts.verify.golden_thread &= running < default_jobs();
    let per_core = map_ordered(&manifest.cores, jobs, |core| {
        verify_core(dir, manifest, core, &opts, &|n| progress(n))
    });
    let mut reports = Vec::new();
    for r in per_core {
        reports.extend(r?);
    }
    Ok(reports)
}

/// The default number of jobs: the cores available to this process.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` applied to every item on up to `jobs` threads (at least one); results in item order.
/// Items are taken in order, so with one job this is a plain sequential loop.
pub fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let jobs = jobs.clamp(1, items.len().max(1));
    if jobs == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every job ran to completion (a panic would have propagated)")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order() {
        let items: Vec<u64> = (0..50).collect();
        for jobs in [1, 2, 7] {
            let out = map_ordered(&items, jobs, |&i| {
                // Later items finish first.
                std::thread::sleep(std::time::Duration::from_micros(50 * (50 - i)));
                i * i
            });
            assert_eq!(out, items.iter().map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(map_ordered(&[] as &[u8], 4, |_| 0).is_empty());
    }
}
