//! Co-simulation speed on real generated cores, and the cost of verifying a whole network.
//!
//! Part 1: the core of layer `block1.act` of the bundled `repact-digits/bn` example
//! (ap_fixed<16,6>, baked coefficients), with 1 and 4 lanes, measured three ways in one run
//! with interleaved best-of-N timing (the machine is shared and noisy; compare the ratios):
//!
//! - (a) a minimal Rust loop through the bridge at full rate: s_axis_tvalid and m_axis_tready
//!   high, a new xorshift pattern on s_axis_tdata every cycle, tick, read m_axis_tdata and
//!   m_axis_tvalid, fold them into a checksum;
//! - (b) the library's checking testbench, [`exhaustive`], which drives batches of beats
//!   through the shim in one foreign call each and compares every output sample bit for bit
//!   with the golden model's outputs, computed block by block in every pass (all 65536
//!   inputs per pass), with the golden model's f64 error measured on the way; (b') the same
//!   with the golden model on a thread of its own. (b) runs as many cycles per timed run as
//!   (a), so both best-of-N are taken over runs of the same length;
//! - (c) a plain C++ Verilator loop of the same Verilog doing what (a) does; equal checksums
//!   show that (a) and (c) simulate the same thing.
//!
//! Part 2: `verify_all` (what `repact-hw verify` runs) of a 50-layer network (the five bundled
//! layers ten times, renamed and slightly perturbed so that every core differs) with the
//! default job count: cold (a fresh build cache, so every model is compiled — in batches,
//! see `verilator::build_batch`) and warm, exhaustive phase only and with the default
//! settings (1e6 stress beats, 20k Icarus cycles), plus one run without Icarus to show where
//! the time goes. Each row gives wall time, CPU time (this process and the tools it ran) and
//! the load average: the machine is shared, and CPU seconds / cores is what an idle machine
//! would take. The one-time build of the Verilator runtime is reported separately.
//!
//! Part 3: how `verify` grows with the input width (8…24 bits) and the channel count
//! (1…1024, baked and run-time coefficients), cold builds included; writes
//! `docs/verify-scaling.svg`.
//!
//! Run with `cargo bench --bench cosim_core` (needs `harness = false`). `CYCLES=N` sets the
//! cycles per timed run of loops (a) and (c) (default 10 million), `ROUNDS=N` the rounds of
//! the interleaved timing (default 5).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use repact_hw::fixedpoint::{ApFixed, SpecOptions};
use repact_hw::flow::{generate, write_bundle, GenOptions};
mod common;

use repact_hw::hdl::Port;
use repact_hw::manifest::{CoeffMode, CoreEntry, Manifest};
use repact_hw::model::{Layer, LayerKind, Network};
use repact_hw::sim::axis_bench::{AxisDut, CLOCK};
use repact_hw::sim::expected::{BlockMaker, Codes, Schedule, BLOCK_SAMPLES};
use repact_hw::sim::jobs::{default_jobs, verify_all};
use repact_hw::sim::run::RunOptions;
use repact_hw::sim::verify::{exhaustive, VerifyOptions};
use repact_hw::sim::verilator::{self, BuildOptions, VerilatedModel};
use repact_hw::weights::{load, LoadOptions};

const LAYER: &str = "block1.act";

/// The plain C++ testbench; `KEEP` and `TDATA_MASK` are macros defined before it per core.
const HARNESS: &str = r#"
// Plain C++ Verilator testbench doing what the Rust loop (a) does.
#include "Vtop.h"
#include "verilated.h"
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

double sc_time_stamp() { return 0; }

static inline void tick(Vtop* t) {
    t->aclk = 0;
    t->eval();
    t->aclk = 1;
    t->eval();
}

int main(int argc, char** argv) {
    uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
    VerilatedContext ctx;
    Vtop* t = new Vtop(&ctx, "TOP");
    t->aresetn = 0;
    t->s_axis_tvalid = 0;
    t->m_axis_tready = 0;
    tick(t);
    tick(t);
    t->aresetn = 1;
    t->s_axis_tvalid = 1;
    t->m_axis_tready = 1;
    t->s_axis_tkeep = KEEP;
    t->s_axis_tlast = 0;
    uint64_t s = 0x9e3779b97f4a7c15ull, sum = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; ++i) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        uint64_t r = s * 0x2545f4914f6cdd1dull;
        t->s_axis_tdata = r & TDATA_MASK;
        tick(t);
        sum = (sum * 31 + (uint64_t)t->m_axis_tdata) * 3 + (uint64_t)t->m_axis_tvalid;
    }
    auto t1 = std::chrono::steady_clock::now();
    double secs = std::chrono::duration<double>(t1 - t0).count();
    std::printf("%llu %.9f %llu\n", (unsigned long long)n, secs, (unsigned long long)sum);
    t->final();
    delete t;
    return 0;
}
"#;

/// A trivial design, built first in the fresh cache of part 2 to isolate the runtime build.
const TINY: &str = "module tiny(input wire clk, input wire [7:0] a, output reg [7:0] y);\n\
                    always @(posedge clk) y <= a + 8'd1;\nendmodule\n";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

fn gen_options(lanes: usize, layer: Option<&str>) -> GenOptions {
    let f = ApFixed::new(16, 6).expect("ap_fixed<16,6>");
    GenOptions {
        spec: SpecOptions::with_formats(f, f),
        name: "repact_act".into(),
        lanes,
        tuser_width: 0,
        coeffs: CoeffMode::Baked,
        layer: layer.map(str::to_string),
        // Fixed, so that the Verilog (and the C++ harness stamp) is the same on every run.
        command_line: "cargo bench --bench cosim_core".into(),
        package: Default::default(),
    }
}

fn port_width(core: &CoreEntry, name: &str) -> u32 {
    core.interface
        .port(name)
        .unwrap_or_else(|| panic!("core has no port {name}"))
        .width
}

/// One core of part 1, generated, written and built.
struct Subject {
    lanes: usize,
    manifest: Manifest,
    verilog: String,
    model: VerilatedModel,
}

impl Subject {
    fn new(net: &Network, lanes: usize, work: &Path, cache: &Path) -> Subject {
        let bundle = generate(net, &gen_options(lanes, Some(LAYER))).expect("generate");
        let dir = work.join(format!("{LAYER}-x{lanes}"));
        write_bundle(&bundle, &dir).expect("write_bundle");
        let manifest = Manifest::read(&dir).expect("manifest");
        let core = &manifest.cores[0];
        let verilog = std::fs::read_to_string(dir.join(&core.file)).expect("verilog");
        let model = verilator::build(
            &verilog,
            &core.interface.top,
            &core.interface.ports,
            CLOCK,
            cache,
            &BuildOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Subject {
            lanes,
            manifest,
            verilog,
            model,
        }
    }

    fn core(&self) -> &CoreEntry {
        &self.manifest.cores[0]
    }
}

/// Loop (a): the same stimulus and checksum as the C++ harness.
fn rust_loop(m: &mut VerilatedModel, keep: u64, n: u64) -> (f64, u64) {
    let p = |name: &str| m.port(name).expect("port");
    let (aresetn, s_tdata, s_tkeep, s_tvalid, s_tlast) = (
        p("aresetn"),
        p("s_axis_tdata"),
        p("s_axis_tkeep"),
        p("s_axis_tvalid"),
        p("s_axis_tlast"),
    );
    let (m_tdata, m_tvalid, m_tready) = (p("m_axis_tdata"), p("m_axis_tvalid"), p("m_axis_tready"));
    m.set(aresetn, 0);
    m.set(s_tvalid, 0);
    m.set(m_tready, 0);
    m.tick();
    m.tick();
    m.set(aresetn, 1);
    m.set(s_tvalid, 1);
    m.set(m_tready, 1);
    m.set(s_tkeep, keep);
    m.set(s_tlast, 0);
    let (mut s, mut sum) = (0x9e37_79b9_7f4a_7c15u64, 0u64);
    let t0 = Instant::now();
    for _ in 0..n {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
        m.set(s_tdata, r);
        m.tick();
        sum = sum
            .wrapping_mul(31)
            .wrapping_add(m.get(m_tdata))
            .wrapping_mul(3)
            .wrapping_add(m.get(m_tvalid));
    }
    (t0.elapsed().as_secs_f64(), sum)
}

/// Loop (b): `reps` passes of the checking testbench's exhaustive phase on a fresh instance.
/// Returns (seconds, samples compared).
fn checked_loop(s: &Subject, reps: u64, golden_thread: bool) -> (f64, u64) {
    let core = s.core();
    let spec = s.manifest.spec_for(core).expect("spec");
    let layout = core.interface.stream;
    let opts = VerifyOptions {
        golden_thread,
        ..VerifyOptions::default()
    };
    let mut dut = AxisDut::new(s.model.new_instance().expect("instance")).expect("AXI ports");
    let mut samples = 0;
    let t0 = Instant::now();
    for _ in 0..reps {
        let (res, latency) = exhaustive(&mut dut, &spec, 0, &layout, &opts, &|_| {});
        assert!(res.passed(), "{:?}", res.first_failure);
        assert_eq!(latency, Some(core.interface.latency_cycles as u64));
        samples += res.samples;
    }
    (t0.elapsed().as_secs_f64(), samples)
}

/// Builds (once, cached by content) and runs the plain C++ harness for a core: loop (c).
fn cxx_loop(s: &Subject, n: u64, cache: &Path) -> Result<(f64, u64), String> {
    let core = s.core();
    // The core's facts as macros before the harness (no text splicing into it).
    let harness = format!(
        "#define KEEP {:#x}\n#define TDATA_MASK {:#x}ull\n{HARNESS}",
        mask(port_width(core, "s_axis_tkeep")),
        mask(port_width(core, "s_axis_tdata"))
    );
    let dir = cache.join(format!("bench-cxx-core-x{}", s.lanes));
    common::run_cxx_harness(&dir, &s.verilog, &core.interface.top, &harness, n)
}

/// Best times of one core's three loops.
struct Best {
    rust: f64,
    rust_sum: u64,
    checked: f64,
    checked_samples: u64,
    /// The checking bench with the golden model on its own thread.
    threaded: f64,
    cxx: Option<(f64, u64)>,
    cxx_error: Option<String>,
}

fn part1(net: &Network, work: &Path, n: u64, rounds: u64) {
    let cache = verilator::default_cache_dir();
    let subjects: Vec<Subject> = [1usize, 4]
        .iter()
        .map(|&lanes| Subject::new(net, lanes, work, &cache))
        .collect();
    // Loop (b) gets about as many cycles per timed run as (a), in whole passes, so that
    // every loop's best-of-N is taken over runs of the same length (on a loaded machine a
    // shorter run is more likely to fit a quiet moment, which would favour it).
    let pass = 1u64 << 16;
    let reps = |lanes: usize| (n * lanes as u64 / pass).max(1);
    let mut best: Vec<Best> = subjects
        .iter()
        .map(|_| Best {
            rust: f64::MAX,
            rust_sum: 0,
            checked: f64::MAX,
            checked_samples: 0,
            threaded: f64::MAX,
            cxx: None,
            cxx_error: None,
        })
        .collect();
    // Warm-up (and the one-time C++ builds) before timing.
    for s in &subjects {
        let keep = mask(port_width(s.core(), "s_axis_tkeep"));
        rust_loop(&mut s.model.new_instance().expect("instance"), keep, n / 10);
        checked_loop(s, 1, false);
        if let Err(e) = cxx_loop(s, n / 10, &cache) {
            eprintln!("C++ harness unavailable: {e}");
        }
    }
    // Other processes share the machine: interleave all loops and keep the best run of
    // each, so that all see the same conditions and the least disturbed run counts.
    for _ in 0..rounds {
        for (s, b) in subjects.iter().zip(best.iter_mut()) {
            let keep = mask(port_width(s.core(), "s_axis_tkeep"));
            let mut inst = s.model.new_instance().expect("instance");
            let (secs, sum) = rust_loop(&mut inst, keep, n);
            b.rust = b.rust.min(secs);
            b.rust_sum = sum;
            if b.cxx_error.is_none() {
                match cxx_loop(s, n, &cache) {
                    Ok((secs, sum)) => {
                        let prev = b.cxx.map_or(f64::MAX, |c| c.0);
                        b.cxx = Some((prev.min(secs), sum));
                    }
                    Err(e) => b.cxx_error = Some(e),
                }
            }
            let (secs, samples) = checked_loop(s, reps(s.lanes), false);
            b.checked = b.checked.min(secs);
            b.checked_samples = samples;
            let (secs, _) = checked_loop(s, reps(s.lanes), true);
            b.threaded = b.threaded.min(secs);
        }
    }

    println!(
        "\n== 1. co-simulation of the generated `{LAYER}` core (ap_fixed<16,6>, baked), \
         best of {rounds} interleaved rounds =="
    );
    println!(
        "{:<44} {:>5} {:>12} {:>14} {:>10}",
        "loop", "lanes", "M beats/s", "M samples/s", "vs C++"
    );
    for (s, b) in subjects.iter().zip(&best) {
        let lanes = s.lanes as f64;
        let rust_beats = n as f64 / b.rust;
        let cxx_beats = b.cxx.map(|(secs, _)| n as f64 / secs);
        let checked_samples = b.checked_samples as f64 / b.checked;
        let ratio = |beats: f64| {
            cxx_beats.map_or("-".to_string(), |c| format!("{:.0}%", 100.0 * beats / c))
        };
        println!(
            "{:<44} {:>5} {:>12.1} {:>14.1} {:>10}",
            "(a) Rust bridge loop (set, tick, get x2)",
            s.lanes,
            rust_beats / 1e6,
            rust_beats * lanes / 1e6,
            ratio(rust_beats)
        );
        println!(
            "{:<44} {:>5} {:>12.1} {:>14.1} {:>10}",
            "(b) checking bench, golden on the same thread",
            s.lanes,
            checked_samples / lanes / 1e6,
            checked_samples / 1e6,
            ratio(checked_samples / lanes)
        );
        let threaded_samples = b.checked_samples as f64 / b.threaded;
        println!(
            "{:<44} {:>5} {:>12.1} {:>14.1} {:>10}",
            "(b') checking bench, golden on a 2nd thread",
            s.lanes,
            threaded_samples / lanes / 1e6,
            threaded_samples / 1e6,
            ratio(threaded_samples / lanes)
        );
        match (b.cxx, &b.cxx_error) {
            (Some((secs, sum)), None) => {
                let c = n as f64 / secs;
                println!(
                    "{:<44} {:>5} {:>12.1} {:>14.1} {:>10}",
                    "(c) plain C++ Verilator loop",
                    s.lanes,
                    c / 1e6,
                    c * lanes / 1e6,
                    "100%"
                );
                println!(
                    "    checksums (a) {:#018x} (c) {sum:#018x}: {}",
                    b.rust_sum,
                    if sum == b.rust_sum { "equal" } else { "DIFFER" },
                );
                assert_eq!(sum, b.rust_sum, "the bridge and C++ disagree");
            }
            (_, e) => println!(
                "(c) plain C++ loop unavailable: {}",
                e.clone().unwrap_or_default()
            ),
        }
    }
    // What the checking bench spends on the golden model: expected outputs and their f64
    // error, block by block, outside the simulation loop.
    let spec = subjects[0]
        .manifest
        .spec_for(subjects[0].core())
        .expect("spec");
    let codes = Codes::Range {
        min: spec.input().min_raw(),
        count: 1 << 16,
    };
    // One lane: 2-byte beats (what 16-bit outputs are stored in), in the phase's blocks.
    let schedule = Schedule::new(&spec, 0, &codes, 1, 2);
    let mut maker = BlockMaker::default();
    let mut golden = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..16 {
            for b in (0..1u64 << 16).step_by(BLOCK_SAMPLES as usize) {
                std::hint::black_box(maker.block(&schedule, b, BLOCK_SAMPLES));
            }
        }
        golden = golden.min(t.elapsed().as_secs_f64());
    }
    let mut raw_only = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        let mut sum = 0i64;
        for _ in 0..16 {
            for x in spec.input().min_raw()..=spec.input().max_raw() {
                sum = sum.wrapping_add(spec.eval_raw(0, 0, x));
            }
        }
        std::hint::black_box(sum);
        raw_only = raw_only.min(t.elapsed().as_secs_f64());
    }
    println!(
        "    golden model, expected-output blocks with their f64 error: {:.1} M samples/s \
         (eval_raw alone: {:.1} M samples/s)",
        16.0 * 65536.0 / golden / 1e6,
        16.0 * 65536.0 / raw_only / 1e6
    );
    for (s, b) in subjects.iter().zip(&best) {
        let raw = n as f64 * s.lanes as f64 / b.rust;
        println!(
            "    RATIO checking/raw bridge, {} lane(s): {:.2} (golden on the same thread), {:.2} \
             (golden on a 2nd thread)   [target >= 0.80]",
            s.lanes,
            b.checked_samples as f64 / b.checked / raw,
            b.checked_samples as f64 / b.threaded / raw
        );
    }
    println!(
        "    ((a), (c): {n} cycles per run; (b): {} (1 lane) and {} (4 lanes) exhaustive passes \
         of 65536 samples per run, expected outputs computed in every pass)",
        reps(1),
        reps(4)
    );
}

/// The five bundled layers ten times, renamed and with slightly perturbed parameters.
fn network50(net: &Network) -> Network {
    let mut layers = Vec::new();
    for k in 0..10 {
        for l in &net.layers {
            let mut l: Layer = l.clone();
            l.name = format!("r{k}.{}", l.name);
            let LayerKind::RepAct(p) = &mut l.kind else {
                panic!("the bundled example holds RepAct layers");
            };
            let eps = 1e-3 * (k + 1) as f64;
            for (i, a) in p.actor_atn.iter_mut().enumerate() {
                *a *= 1.0 + eps * (i + 1) as f64;
            }
            if let Some(bn) = &mut p.bn {
                bn.weight *= 1.0 + eps;
            }
            layers.push(l);
        }
    }
    Network {
        source: net.source.clone(),
        layers,
    }
}

/// A fresh build cache with the Verilator runtime already in it (the one-time cost every
/// machine pays once is reported apart): built there, or copied from `like`'s runtime.
/// Returns the cache and the runtime build time.
fn fresh_cache(prefix: &str, like: Option<&Path>) -> (tempfile::TempDir, Duration) {
    let fresh = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir");
    let t = Instant::now();
    if let Some(like) = like {
        let n = verilator::seed_runtime(like, fresh.path()).expect("copying the runtime");
        assert!(n > 0, "no runtime in {}", like.display());
        return (fresh, t.elapsed());
    }
    let ports = [
        Port::input("clk", 1),
        Port::input("a", 8),
        Port::output("y", 8),
    ];
    drop(
        verilator::build(
            TINY,
            "tiny",
            &ports,
            "clk",
            fresh.path(),
            &BuildOptions::default(),
        )
        .expect("tiny"),
    );
    (fresh, t.elapsed())
}

fn run_options(cache: &Path, default_phases: bool) -> RunOptions {
    let verify = if default_phases {
        VerifyOptions::default()
    } else {
        VerifyOptions {
            stress_beats: 0,
            icarus_cycles: 0,
            ..VerifyOptions::default()
        }
    };
    RunOptions {
        verify,
        cache_dir: cache.to_path_buf(),
        vcd: None,
    }
}

/// CPU seconds used so far by this process and the tools it waited for (Verilator, g++,
/// Icarus): user + system, from `/proc/self/stat` (clock ticks of 1/100 s). Unlike wall time
/// this hardly depends on what else runs on the shared machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime..cstime 14..17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// `verify_all` of a generated directory; (wall seconds, CPU seconds, samples compared).
fn timed_verify(dir: &Path, opts: &RunOptions, jobs: usize, stress: bool) -> (f64, f64, u64) {
    let manifest = Manifest::read(dir).expect("manifest");
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let reports = verify_all(dir, &manifest, opts, jobs, &|_| {}).unwrap_or_else(|e| panic!("{e}"));
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    for r in &reports {
        assert!(r.passed, "{}: {:?}", r.layer, r.first_failure);
        assert_eq!(r.stress.beats > 0, stress, "{}", r.layer);
    }
    (
        secs,
        cpu,
        reports.iter().map(|r| r.exhaustive.samples).sum(),
    )
}

/// The load average over the last minute, from `/proc/loadavg`: the benchmark shares the
/// machine, and its wall times only mean something next to it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn part2(net: &Network, work: &Path) {
    let jobs = default_jobs();
    let big = network50(net);
    let t = Instant::now();
    let bundle = generate(&big, &gen_options(1, None)).expect("generate 50 layers");
    let dir = work.join("net50");
    write_bundle(&bundle, &dir).expect("write_bundle");
    let gen_time = t.elapsed().as_secs_f64();
    let manifest = Manifest::read(&dir).expect("manifest");
    assert_eq!(manifest.cores.len(), 50);
    let distinct: std::collections::BTreeSet<&Vec<u8>> = bundle
        .files
        .iter()
        .filter(|(k, _)| k.starts_with("hdl/") && k.ends_with(".v"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(distinct.len(), 50, "every core's Verilog must differ");

    println!(
        "\n== 2. verify of a 50-layer network (ap_fixed<16,6>, 1 lane, 65536 codes each), {jobs} \
         job(s) =="
    );
    println!("generate + write_bundle, all 50: {gen_time:.2} s");
    let (cold_ex, rt) = fresh_cache("cosim-core-cold-ex-", None);
    println!(
        "one-time Verilator runtime build in a fresh cache: {:.2} s (not counted below)",
        rt.as_secs_f64()
    );
    println!(
        "{:<62} {:>8} {:>8} {:>10} {:>6}",
        "run (cache: no model built yet = cold)", "wall s", "CPU s", "wall/layer", "load"
    );
    let row = |name: &str, (secs, cpu, _): (f64, f64, u64), target: &str| {
        println!(
            "{name:<62} {secs:>8.2} {cpu:>8.2} {:>10.3} {:>6}   {target}",
            secs / 50.0,
            load_average()
        )
    };
    let ex = run_options(cold_ex.path(), false);
    let cold = timed_verify(&dir, &ex, jobs, false);
    let samples = cold.2;
    row(
        "cold, exhaustive only (builds included)",
        cold,
        "[target <= 8 s]",
    );
    row(
        "warm, exhaustive only",
        timed_verify(&dir, &ex, jobs, false),
        "[target <= 0.1 s / layer]",
    );
    let (cold_def, _) = fresh_cache("cosim-core-cold-def-", Some(cold_ex.path()));
    let def = run_options(cold_def.path(), true);
    row(
        "cold, default verify (1e6 stress beats, 20000 Icarus cycles)",
        timed_verify(&dir, &def, jobs, true),
        "[target <= 15 s]",
    );
    row(
        "warm, default verify",
        timed_verify(&dir, &def, jobs, true),
        "",
    );
    // Where the default run's time goes, each phase alone on the warm cache.
    let mut stress_only = def.clone();
    stress_only.verify.icarus_cycles = 0;
    row(
        "warm, exhaustive + stress (no Icarus)",
        timed_verify(&dir, &stress_only, jobs, true),
        "",
    );
    if jobs > 1 {
        let (cold_one, _) = fresh_cache("cosim-core-cold-one-", Some(cold_ex.path()));
        row(
            "cold, exhaustive only, 1 job (for comparison)",
            timed_verify(&dir, &run_options(cold_one.path(), false), 1, false),
            "",
        );
    }
    println!("    {samples} samples compared per exhaustive run; all 50 PASS");
}

/// Input formats of the width sweep: ap_fixed<W,6> (ap_fixed<W,W-2> below 8 bits).
fn sweep_format(w: u32) -> ApFixed {
    ApFixed::new(w, 6.min(w as i32 - 2)).expect("format")
}

/// One layer with `channels` per-channel PReLU slopes.
fn channel_layer(net: &Network, channels: usize) -> Network {
    let mut l = net.layers[0].clone();
    let LayerKind::RepAct(p) = &mut l.kind else {
        panic!("the bundled example holds RepAct layers");
    };
    let slope = p.prelu_weight.first().copied().unwrap_or(0.1);
    p.prelu_weight = (0..channels)
        .map(|c| slope * (1.0 + c as f64 / channels as f64))
        .collect();
    l.name = format!("c{channels}");
    Network {
        source: net.source.clone(),
        layers: vec![l],
    }
}

/// gen + verify (exhaustive only, model build included) of one network: (gen s, verify s,
/// verify CPU s, samples).
fn scale_point(
    net: &Network,
    input: ApFixed,
    output: ApFixed,
    coeffs: CoeffMode,
    work: &Path,
    cache: &Path,
    name: &str,
) -> (f64, f64, f64, u64) {
    let mut g = gen_options(1, None);
    g.spec = SpecOptions::with_formats(input, output);
    g.coeffs = coeffs;
    let t = Instant::now();
    let bundle = generate(net, &g).unwrap_or_else(|e| panic!("{name}: {e}"));
    let dir = work.join(name);
    write_bundle(&bundle, &dir).expect("write_bundle");
    let gen = t.elapsed().as_secs_f64();
    let (v, cpu, samples) = timed_verify(&dir, &run_options(cache, false), default_jobs(), false);
    (gen, v, cpu, samples)
}

fn part3(net: &Network, work: &Path) {
    let (cache, _) = fresh_cache("cosim-core-scale-", Some(&verilator::default_cache_dir()));
    let out16 = ApFixed::new(16, 6).expect("format");
    println!("\n== 3. how verify grows: exhaustive only, model build included (cold) ==");
    let (g, v, cpu, n) = scale_point(
        &channel_layer(net, 1),
        ApFixed::new(24, 8).expect("format"),
        out16,
        CoeffMode::Baked,
        work,
        cache.path(),
        "w24",
    );
    println!(
        "one 24-bit layer (ap_fixed<24,8> -> ap_fixed<16,6>), 1 channel: verify {v:.2} s \
         ({cpu:.2} s CPU, load {}) for {n} samples (gen {g:.2} s)   [target <= 3 s]",
        load_average()
    );
    let mut by_width = Vec::new();
    println!(
        "{:<36} {:>8} {:>10} {:>14}",
        "input width W (1 channel)", "gen s", "verify s", "samples"
    );
    for w in [8u32, 10, 12, 14, 16, 18, 20, 22, 24] {
        let (g, v, _, n) = scale_point(
            &channel_layer(net, 1),
            sweep_format(w),
            out16,
            CoeffMode::Baked,
            work,
            cache.path(),
            &format!("w{w}-sweep"),
        );
        println!("{:<36} {g:>8.2} {v:>10.2} {n:>14}", format!("W = {w}"));
        by_width.push((w as f64, v));
    }
    let mut by_channels = Vec::new();
    println!(
        "{:<36} {:>8} {:>10} {:>14}",
        "channels C (ap_fixed<16,6>)", "gen s", "verify s", "samples"
    );
    for c in [1usize, 4, 16, 64, 256, 1024] {
        let mut v_pair = Vec::new();
        for coeffs in [CoeffMode::Baked, CoeffMode::Axilite] {
            let tag = if coeffs == CoeffMode::Baked {
                "baked"
            } else {
                "axilite"
            };
            let (g, v, _, n) = scale_point(
                &channel_layer(net, c),
                out16,
                out16,
                coeffs,
                work,
                cache.path(),
                &format!("c{c}-{tag}"),
            );
            println!(
                "{:<36} {g:>8.2} {v:>10.2} {n:>14}",
                format!("C = {c}, {tag}")
            );
            v_pair.push(v);
        }
        by_channels.push((c as f64, v_pair[0], v_pair[1]));
    }
    let svg = scaling_svg(&by_width, &by_channels);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/verify-scaling.svg");
    match std::fs::create_dir_all(path.parent().expect("docs dir"))
        .and_then(|()| std::fs::write(&path, svg))
    {
        Ok(()) => println!("plot written to {}", path.display()),
        Err(e) => println!("could not write the plot {}: {e}", path.display()),
    }
}

/// Two log-scale panels: verify time against W, and against C (baked and run-time cores).
fn scaling_svg(by_width: &[(f64, f64)], by_channels: &[(f64, f64, f64)]) -> String {
    let (pw, ph, m) = (360.0, 240.0, 50.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n",
        2.0 * (pw + 2.0 * m),
        ph + 2.0 * m
    );
    let all: Vec<f64> = by_width
        .iter()
        .map(|p| p.1)
        .chain(by_channels.iter().flat_map(|p| [p.1, p.2]))
        .collect();
    let lo = all
        .iter()
        .cloned()
        .fold(f64::MAX, f64::min)
        .max(1e-3)
        .log10()
        .floor();
    let hi = all
        .iter()
        .cloned()
        .fold(0.0, f64::max)
        .max(1e-3)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let y = |v: f64| m + ph - (v.max(1e-3).log10() - lo) / (hi - lo) * ph;
    let mut panel = |x0: f64,
                     title: &str,
                     xlabel: &str,
                     xs: &[f64],
                     series: &[(&str, &str, Vec<f64>)],
                     xpos: &dyn Fn(f64) -> f64| {
        s += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{title}</text>\n",
            x0 + m + pw / 2.0,
            m - 20.0
        );
        s += &format!(
            "<rect x=\"{}\" y=\"{m}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" \
             stroke=\"#888\"/>\n",
            x0 + m
        );
        let mut d = lo;
        while d <= hi {
            let yy = y(10f64.powf(d));
            s += &format!(
                "<line x1=\"{}\" x2=\"{}\" y1=\"{yy}\" y2=\"{yy}\" stroke=\"#ddd\"/><text x=\"{}\" \
                 y=\"{}\" text-anchor=\"end\">{}</text>\n",
                x0 + m,
                x0 + m + pw,
                x0 + m - 4.0,
                yy + 4.0,
                10f64.powf(d)
            );
            d += 1.0;
        }
        for &x in xs {
            s += &format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{x}</text>\n",
                x0 + m + xpos(x) * pw,
                m + ph + 14.0
            );
        }
        s += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{xlabel}</text>\n",
            x0 + m + pw / 2.0,
            m + ph + 30.0
        );
        s += &format!(
            "<text x=\"{}\" y=\"{}\" transform=\"rotate(-90 {} {})\" \
             text-anchor=\"middle\">verify time, s (log)</text>\n",
            x0 + 14.0,
            m + ph / 2.0,
            x0 + 14.0,
            m + ph / 2.0
        );
        for (k, (name, color, vs)) in series.iter().enumerate() {
            let pts: Vec<String> = xs
                .iter()
                .zip(vs)
                .map(|(&x, &v)| format!("{:.1},{:.1}", x0 + m + xpos(x) * pw, y(v)))
                .collect();
            s += &format!(
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\n",
                pts.join(" ")
            );
            s += &format!(
                "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>\n",
                x0 + m + 8.0,
                m + 14.0 + 14.0 * k as f64
            );
        }
    };
    let wx: Vec<f64> = by_width.iter().map(|p| p.0).collect();
    let (w0, w1) = (wx[0], wx[wx.len() - 1]);
    panel(
        0.0,
        "verify time vs input width (1 channel)",
        "input width W, bits",
        &wx,
        &[(
            "exhaustive, 2^W codes",
            "#1f77b4",
            by_width.iter().map(|p| p.1).collect(),
        )],
        &|x| (x - w0) / (w1 - w0),
    );
    let cx: Vec<f64> = by_channels.iter().map(|p| p.0).collect();
    let (c0, c1) = (cx[0].log2(), cx[cx.len() - 1].log2());
    panel(
        pw + 2.0 * m,
        "verify time vs channels (ap_fixed&lt;16,6&gt;)",
        "channels C (log)",
        &cx,
        &[
            (
                "baked",
                "#1f77b4",
                by_channels.iter().map(|p| p.1).collect(),
            ),
            (
                "--coeffs axilite",
                "#d62728",
                by_channels.iter().map(|p| p.2).collect(),
            ),
        ],
        &|x| (x.log2() - c0) / (c1 - c0),
    );
    s + "</svg>\n"
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let n = env_u64("CYCLES", 10_000_000).max(1000);
    let rounds = env_u64("ROUNDS", 5).max(1);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/repact-digits/bn/model.safetensors");
    let net = load(&path, &LoadOptions::default()).expect("bundled example loads");
    let work = tempfile::Builder::new()
        .prefix("cosim-core-")
        .tempdir()
        .expect("temp dir");
    // PARTS=13 (say) runs parts 1 and 3 only.
    let parts = std::env::var("PARTS").unwrap_or_else(|_| "123".into());
    if parts.contains('1') {
        part1(&net, work.path(), n, rounds);
    }
    if parts.contains('2') {
        part2(&net, work.path());
    }
    if parts.contains('3') {
        part3(&net, work.path());
    }
    println!(
        "\npeak RSS of this benchmark process (VmHWM, all parts incl. 1024 channels): {:.0} MiB   \
         [target <= 500 MB]",
        peak_rss_mib()
    );
}
