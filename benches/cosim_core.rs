//! Co-simulation speed on real generated cores, and the cost of verifying a whole network.
//!
//! Part 1: the core of layer `block1.act` of the bundled `repact-digits/bn` example
//! (ap_fixed<16,6>, baked coefficients), with 1 and 4 lanes, measured three ways in one run
//! with interleaved best-of-N timing (the machine is shared and noisy; compare the ratios):
//!
//! - (a) a minimal Rust loop through the bridge at full rate: s_axis_tvalid and m_axis_tready
//!   high, a new xorshift pattern on s_axis_tdata every cycle, tick, read m_axis_tdata and
//!   m_axis_tvalid, fold them into a checksum;
//! - (b) the library's checking testbench, [`exhaustive`], which predicts every output beat
//!   with the golden model and compares it bit for bit (all 65536 inputs per pass);
//! - (c) a plain C++ Verilator loop of the same Verilog doing what (a) does; equal checksums
//!   show that (a) and (c) simulate the same thing.
//!
//! Part 2: end to end, `generate` + `write_bundle` + `verify_core` for a 50-layer network (the
//! five bundled layers ten times, renamed and slightly perturbed so that every core differs)
//! in a fresh build cache, exhaustive phase only; the Verilator build of each core is timed
//! on its own first, so that `verify_core` then loads it from the cache. The one-time build
//! of the Verilator runtime is reported separately, and one layer is also verified with the
//! default settings (1e6 stress beats, 20k Icarus cycles) for extrapolation.
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
use repact_hw::sim::run::{verify_core, CoreReport, RunOptions};
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
fn checked_loop(s: &Subject, reps: u64) -> (f64, u64) {
    let core = s.core();
    let spec = s.manifest.spec_for(core).expect("spec");
    let layout = core.interface.stream;
    let opts = VerifyOptions::default();
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
    cxx: Option<(f64, u64)>,
    cxx_error: Option<String>,
}

fn part1(net: &Network, work: &Path, n: u64, rounds: u64) {
    let cache = verilator::default_cache_dir();
    let subjects: Vec<Subject> = [1usize, 4]
        .iter()
        .map(|&lanes| Subject::new(net, lanes, work, &cache))
        .collect();
    // Loop (b) is slower: give it about n/4 samples per timed run, in whole passes.
    let pass = 1u64 << 16;
    let reps = (n / 4 / pass).max(1);
    let mut best: Vec<Best> = subjects
        .iter()
        .map(|_| Best {
            rust: f64::MAX,
            rust_sum: 0,
            checked: f64::MAX,
            checked_samples: 0,
            cxx: None,
            cxx_error: None,
        })
        .collect();
    // Warm-up (and the one-time C++ builds) before timing.
    for s in &subjects {
        let keep = mask(port_width(s.core(), "s_axis_tkeep"));
        rust_loop(&mut s.model.new_instance().expect("instance"), keep, n / 10);
        checked_loop(s, 1);
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
            let (secs, samples) = checked_loop(s, reps);
            b.checked = b.checked.min(secs);
            b.checked_samples = samples;
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
            "(b) checking testbench (exhaustive, golden)",
            s.lanes,
            checked_samples / lanes / 1e6,
            checked_samples / 1e6,
            ratio(checked_samples / lanes)
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
                    "    checksums (a) {:#018x} (c) {sum:#018x}: {}; (b)/(a) {:.0}%",
                    b.rust_sum,
                    if sum == b.rust_sum { "equal" } else { "DIFFER" },
                    100.0 * checked_samples / (rust_beats * lanes)
                );
                assert_eq!(sum, b.rust_sum, "the bridge and C++ disagree");
            }
            (_, e) => println!(
                "(c) plain C++ loop unavailable: {}",
                e.clone().unwrap_or_default()
            ),
        }
    }
    println!(
        "    ((a), (c): {n} cycles per run; (b): {reps} exhaustive passes of 65536 samples \
         per run)"
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

fn model_entries(cache: &Path) -> usize {
    std::fs::read_dir(cache).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("model-"))
            .count()
    })
}

fn check(reports: &[CoreReport], stress: bool) {
    for r in reports {
        assert!(r.passed, "{}: {:?}", r.layer, r.first_failure);
        assert_eq!(r.exhaustive.samples, (1u64 << 16) * r.channels as u64);
        assert_eq!(r.stress.beats > 0, stress, "{}", r.layer);
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn part2(net: &Network, work: &Path) {
    let fresh = tempfile::Builder::new()
        .prefix("cosim-core-cache-")
        .tempdir()
        .expect("temp dir");
    let cache = fresh.path().to_path_buf();
    let tiny_ports = [
        Port::input("clk", 1),
        Port::input("a", 8),
        Port::output("y", 8),
    ];
    let opts = BuildOptions::default();

    // The runtime is built once per cache directory, with the first model. A second trivial
    // model alone tells how much of that first build was the model.
    let t = Instant::now();
    drop(verilator::build(TINY, "tiny", &tiny_ports, "clk", &cache, &opts).expect("tiny"));
    let first = t.elapsed();
    let t = Instant::now();
    let tiny2 = format!("// second\n{TINY}");
    drop(verilator::build(&tiny2, "tiny", &tiny_ports, "clk", &cache, &opts).expect("tiny"));
    let tiny = t.elapsed();

    let big = network50(net);
    let t = Instant::now();
    let bundle = generate(&big, &gen_options(1, None)).expect("generate 50 layers");
    let dir = work.join("net50");
    write_bundle(&bundle, &dir).expect("write_bundle");
    let manifest = Manifest::read(&dir).expect("manifest");
    let gen_time = t.elapsed();
    let cores = manifest.cores.len();
    assert_eq!(cores, 50);
    let distinct: std::collections::BTreeSet<&Vec<u8>> = bundle
        .files
        .iter()
        .filter(|(k, _)| k.ends_with(".v"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(distinct.len(), 50, "every core's Verilog must differ");

    let run = RunOptions {
        verify: VerifyOptions {
            stress_beats: 0,
            icarus_cycles: 0,
            ..VerifyOptions::default()
        },
        cache_dir: cache.clone(),
        vcd: None,
    };
    let (mut build_time, mut verify_time) = (Duration::ZERO, Duration::ZERO);
    let (mut slowest_build, mut samples) = (Duration::ZERO, 0u64);
    for core in &manifest.cores {
        let verilog = std::fs::read_to_string(dir.join(&core.file)).expect("verilog");
        let t = Instant::now();
        let m = verilator::build(
            &verilog,
            &core.interface.top,
            &core.interface.ports,
            CLOCK,
            &cache,
            &opts,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", core.interface.top));
        let b = t.elapsed();
        assert!(
            !m.from_cache(),
            "{}: unexpected cache hit",
            core.interface.top
        );
        drop(m);
        build_time += b;
        slowest_build = slowest_build.max(b);
        let entries = model_entries(&cache);
        let t = Instant::now();
        let reports = verify_core(&dir, &manifest, core, &run, &|_| {})
            .unwrap_or_else(|e| panic!("{}: {e}", core.interface.top));
        verify_time += t.elapsed();
        assert_eq!(
            model_entries(&cache),
            entries,
            "verify_core rebuilt a model"
        );
        check(&reports, false);
        samples += reports.iter().map(|r| r.exhaustive.samples).sum::<u64>();
    }
    let total = gen_time + build_time + verify_time;

    // One layer with the default settings (its model is already in the cache): with and
    // without the Icarus replay, to split stress from Icarus.
    let core = &manifest.cores[0];
    let mut default_run = run.clone();
    default_run.verify = VerifyOptions::default();
    let t = Instant::now();
    let reports = verify_core(&dir, &manifest, core, &default_run, &|_| {}).expect("verify");
    let full = t.elapsed();
    check(&reports, true);
    assert!(reports[0].icarus_cycles > 0);
    let stress_beats = reports[0].stress.beats;
    default_run.verify.icarus_cycles = 0;
    let t = Instant::now();
    let reports = verify_core(&dir, &manifest, core, &default_run, &|_| {}).expect("verify");
    let no_icarus = t.elapsed();
    check(&reports, true);

    let n = cores as f64;
    println!("\n== 2. exhaustive verification of a 50-layer network, builds included ==");
    println!(
        "one-time Verilator runtime build (fresh cache): {:.2} s  (first trivial model {:.2} s \
         minus a second one {:.2} s)",
        secs(first.saturating_sub(tiny)),
        secs(first),
        secs(tiny)
    );
    println!(
        "{:<46} {:>9} {:>11} {:>8}",
        "step (50 cores, 1 lane, 65536 inputs each)", "total s", "s / layer", "share"
    );
    let row = |name: &str, d: Duration| {
        println!(
            "{:<46} {:>9.2} {:>11.3} {:>7.0}%",
            name,
            secs(d),
            secs(d) / n,
            100.0 * secs(d) / secs(total)
        )
    };
    row("generate + write_bundle (all 50 at once)", gen_time);
    row("verilator::build (verilator + g++)", build_time);
    row("verify_core (cache hit + exhaustive)", verify_time);
    row("total", total);
    println!(
        "    slowest build {:.2} s; {samples} samples compared, {:.1} M samples/s in \
         verify_core; all 50 PASS, 0 stress beats, no Icarus",
        secs(slowest_build),
        samples as f64 / secs(verify_time) / 1e6
    );
    println!(
        "one layer with default verify settings ({stress_beats} stress beats, 20000 Icarus \
         cycles), model cached: {:.2} s  (of which Icarus replay ~{:.2} s, Verilator phases \
         {:.2} s)",
        secs(full),
        secs(full.saturating_sub(no_icarus)),
        secs(no_icarus)
    );
    println!(
        "    extrapolated 50 layers with default settings, builds included: ~{:.0} s \
         ({:.2} s / layer)",
        secs(gen_time) + secs(build_time) + n * secs(full),
        (secs(gen_time) + secs(build_time)) / n + secs(full)
    );
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
    part1(&net, work.path(), n, rounds);
    part2(&net, work.path());
}
