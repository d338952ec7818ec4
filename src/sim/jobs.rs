//! Runs independent verification jobs (one per core: its Verilator build and all its phases)
//! on up to N threads, returning results in input order whatever order they finish in.
//!
//! All models are built first, several per compiler run ([`build_batch`]); then each job
//! drives its own model on the thread that runs it: a model is used by one thread at a time,
//! and every model has its own `VerilatedContext`.

pub use super::ordered::map_ordered;
use super::run::{core_design, core_verilog, verify_built_core, CoreReport, RunOptions};
use super::verilator::{build_batch, BuildOptions, DesignSource, VerilatedModel};
use crate::manifest::Manifest;
use crate::{Error, Result};
use std::path::Path;
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
    // A core whose Verilog cannot be read reports that error in its place below.
    let (texts, unreadable): (Vec<String>, Vec<Mutex<Option<Error>>>) = manifest
        .cores
        .iter()
        .map(|core| match core_verilog(dir, core) {
            Ok(t) => (t, Mutex::new(None)),
            Err(e) => (String::new(), Mutex::new(Some(e))),
        })
        .unzip();
    let readable: Vec<usize> = (0..texts.len())
        .filter(|&i| lock(&unreadable[i]).is_none())
        .collect();
    let designs: Vec<DesignSource> = readable
        .iter()
        .map(|&i| core_design(&manifest.cores[i], &texts[i]))
        .collect();
    // Every model first, in as few compiler runs as pays (see `verilator::build_batch`).
    let mut built =
        build_batch(&designs, &opts.cache_dir, &BuildOptions::default(), jobs)?.into_iter();
    let models: Vec<Mutex<Option<Result<VerilatedModel>>>> = (0..texts.len())
        .map(|i| Mutex::new(readable.contains(&i).then(|| built.next()).flatten()))
        .collect();
    let items: Vec<usize> = (0..manifest.cores.len()).collect();
    let per_core = map_ordered(&items, jobs, |&i| {
        let core = &manifest.cores[i];
        if let Some(e) = lock(&unreadable[i]).take() {
            return Err(e);
        }
        let model = lock(&models[i]).take().ok_or_else(|| {
            Error::Internal(format!("no model was built for core {}", core.top()))
        })??;
        verify_built_core(manifest, core, &texts[i], model, &opts, &|n| progress(n))
    });
    let mut reports = Vec::new();
    for r in per_core {
        reports.extend(r?);
    }
    Ok(reports)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The default number of jobs: the cores available to this process.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
