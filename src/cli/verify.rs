//! `repact-hw verify DIR`: the generated hardware against the golden model, bit for bit.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use repact_hw::manifest::Manifest;
use repact_hw::sim::integrity::check_directory;
use repact_hw::sim::jobs::{default_jobs, verify_all};
use repact_hw::sim::run::{check_writable, CoreReport, RunOptions};
use repact_hw::sim::verify::VerifyOptions;
use repact_hw::sim::verilator::default_cache_dir;
use repact_hw::Result;
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// A directory written by `repact-hw gen`.
    dir: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Write a waveform around the first mismatch to this file.
    #[arg(long, value_name = "FILE")]
    vcd: Option<PathBuf>,
    /// Beats of the AXI4-Stream stress phase per layer.
    #[arg(long, default_value_t = 1_000_000)]
    stress_beats: u64,
    /// Test N random input codes (plus corners) per channel instead of every code. By default
    /// every input code is tested on every channel (all formats up to 24 bits).
    #[arg(long, value_name = "N")]
    random_samples: Option<u64>,
    /// Cores verified in parallel, each with its own Verilator model (default: the cores
    /// available). The report's order does not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Cycles of stimulus replayed in Icarus Verilog per layer (0: skip it).
    #[arg(long, default_value_t = 20_000)]
    icarus_cycles: usize,
    /// Seed of the random stimulus.
    #[arg(long, default_value_t = VerifyOptions::default().seed)]
    seed: u64,
}

fn table(reports: &[CoreReport]) -> String {
    let mut s = format!(
        "{:<26} {:<12} {:>5} {:>11} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8}  {}\n",
        "core",
        "layer",
        "lanes",
        "samples",
        "mismatch",
        "err ULP",
        "bound",
        "latency",
        "stress",
        "icarus",
        "result"
    );
    for r in reports {
        s += &format!(
            "{:<26} {:<12} {:>5} {:>11} {:>10} {:>9.4} {:>9.4} {:>9} {:>8} {:>8}  {}\n",
            r.core,
            r.layer,
            r.lanes,
            r.exhaustive.samples,
            r.exhaustive.mismatches + r.stress.mismatches,
            r.max_error_ulp,
            r.bound_ulp,
            r.latency_measured.map_or("-".into(), |l| l.to_string()),
            r.stress.beats,
            // One replay per core, covering its first layer (and the bus writes before it).
            if r.icarus_cycles == 0 {
                "-".to_string()
            } else {
                r.icarus_cycles.to_string()
            },
            if r.passed { "PASS" } else { "FAIL" }
        );
    }
    s
}

pub fn run(args: &VerifyArgs) -> Result<ExitCode> {
    let manifest = Manifest::read(&args.dir)?;
    check_directory(&args.dir, &manifest)?;
    if let Some(vcd) = &args.vcd {
        check_writable(vcd)?;
    }
    let defaults = VerifyOptions::default();
    let opts = RunOptions {
        verify: VerifyOptions {
            stress_beats: args.stress_beats,
            random_samples: args.random_samples.unwrap_or(defaults.random_samples),
            // An explicit sample count asks for random sampling at every width.
            exhaustive_max_width: match args.random_samples {
                Some(_) => 0,
                None => defaults.exhaustive_max_width,
            },
            icarus_cycles: args.icarus_cycles,
            seed: args.seed,
            golden_thread: defaults.golden_thread,
        },
        cache_dir: default_cache_dir(),
        vcd: args.vcd.clone(),
    };
    let bar = if std::io::stderr().is_terminal() && !args.json {
        // Work units: samples of the exhaustive phase plus beats of the stress phase.
        let mut total = 0u64;
        let w = manifest.spec.input.width();
        for core in &manifest.cores {
            for &l in &core.layers {
                let layer = &manifest.layers[l];
                let inputs = if w <= opts.verify.exhaustive_max_width {
                    1u64 << w
                } else {
                    opts.verify.random_samples
                };
                total += inputs * layer.channels() as u64 + args.stress_beats;
            }
        }
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {percent:>3}%  {msg}  ({eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let jobs = args.jobs.map_or_else(default_jobs, |j| j as usize);
    bar.set_message(format!("{} core(s), {jobs} job(s)", manifest.cores.len()));
    let reports = verify_all(&args.dir, &manifest, &opts, jobs, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    let passed = reports.iter().all(|r| r.passed);
    if args.json {
        let doc = json!({"passed": passed, "seed": args.seed, "cores": reports});
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default())?;
    } else {
        out!("{}", table(&reports))?;
        for r in reports.iter().filter(|r| !r.passed) {
            if let Some(f) = &r.first_failure {
                outln!(
                    "{} / {}: first failure in {} at cycle {}: {}",
                    r.core,
                    r.layer,
                    f.phase,
                    f.cycle,
                    f.what
                )?;
            }
        }
        if let (false, Some(v)) = (passed, &args.vcd) {
            outln!("waveform around the first failure: {}", v.display())?;
        }
        outln!(
            "{}",
            if passed {
                "all cores match the golden model bit for bit"
            } else {
                "MISMATCH: the hardware differs from the golden model"
            }
        )?;
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
