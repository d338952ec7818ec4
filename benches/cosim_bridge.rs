//! Throughput of the Verilator bridge against a plain C++ Verilator testbench.
//!
//! Design: a 3-stage pipelined 16-bit multiply-add with valid and synchronous reset. Both
//! loops drive the same xorshift stimulus, tick, read the outputs and fold them into a
//! checksum; equal checksums show that the bridge computes what C++ computes. Also reports
//! build times (runtime + model, model only, cache hit).
//!
//! Run with `cargo bench --bench cosim_bridge` (needs `harness = false`). `CYCLES=N` sets the
//! cycles per timed run (default 20 million).

use std::path::Path;
use std::time::Instant;

mod common;

use repact_hw::hdl::Port;
use repact_hw::sim::verilator::{self, BuildOptions, VerilatedModel};

const MAC3: &str = r#"
// 3-stage pipelined multiply-add: y = ((x * w) >>> 8) + c, 16-bit signed, with valid.
module mac3 (
    input  wire        clk,
    input  wire        rst_n,
    input  wire        in_valid,
    input  wire [15:0] x,
    input  wire [15:0] w,
    input  wire [15:0] c,
    output reg         out_valid,
    output reg  [15:0] y
);
    reg [15:0] x1, w1, c1, c2;
    reg [31:0] p2;
    reg v1, v2;
    always @(posedge clk) begin
        if (!rst_n) begin
            v1 <= 1'b0; v2 <= 1'b0; out_valid <= 1'b0;
            x1 <= 16'd0; w1 <= 16'd0; c1 <= 16'd0; c2 <= 16'd0; p2 <= 32'd0; y <= 16'd0;
        end else begin
            v1 <= in_valid; x1 <= x; w1 <= w; c1 <= c;
            v2 <= v1; c2 <= c1;
            // Low 32 bits of the sign-extended product equal the signed product.
            p2 <= {{16{x1[15]}}, x1} * {{16{w1[15]}}, w1};
            out_valid <= v2;
            y <= p2[23:8] + c2;
        end
    end
endmodule
"#;

const HARNESS: &str = r#"
// Plain C++ Verilator testbench doing what the Rust loop does.
#include "Vtop.h"
#include "verilated.h"
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

double sc_time_stamp() { return 0; }

static inline void tick(Vtop* t) {
    t->clk = 0;
    t->eval();
    t->clk = 1;
    t->eval();
}

int main(int argc, char** argv) {
    uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
    VerilatedContext ctx;
    Vtop* t = new Vtop(&ctx, "TOP");
    t->rst_n = 0;
    tick(t);
    t->rst_n = 1;
    uint64_t s = 0x9e3779b97f4a7c15ull, sum = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; ++i) {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        uint64_t r = s * 0x2545f4914f6cdd1dull;
        t->x = r & 0xffff;
        t->w = (r >> 16) & 0xffff;
        t->c = (r >> 32) & 0xffff;
        t->in_valid = (r >> 48) & 1;
        tick(t);
        sum = sum * 31 + (t->y ^ ((uint64_t)t->out_valid << 16));
    }
    auto t1 = std::chrono::steady_clock::now();
    double secs = std::chrono::duration<double>(t1 - t0).count();
    std::printf("%llu %.9f %llu\n", (unsigned long long)n, secs, (unsigned long long)sum);
    t->final();
    delete t;
    return 0;
}
"#;

fn ports() -> Vec<Port> {
    vec![
        Port::input("clk", 1),
        Port::input("rst_n", 1),
        Port::input("in_valid", 1),
        Port::input("x", 16),
        Port::input("w", 16),
        Port::input("c", 16),
        Port::output("out_valid", 1),
        Port::output("y", 16),
    ]
}

/// The Rust loop: same stimulus and checksum as the C++ harness.
fn rust_loop(m: &mut VerilatedModel, n: u64) -> (f64, u64) {
    let p = |name: &str| m.port(name).expect("port");
    let (rst_n, in_valid, x, w, c, out_valid, y) = (
        p("rst_n"),
        p("in_valid"),
        p("x"),
        p("w"),
        p("c"),
        p("out_valid"),
        p("y"),
    );
    m.set(rst_n, 0);
    m.tick();
    m.set(rst_n, 1);
    let (mut s, mut sum) = (0x9e37_79b9_7f4a_7c15u64, 0u64);
    let t0 = Instant::now();
    for _ in 0..n {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
        m.set(x, r);
        m.set(w, r >> 16);
        m.set(c, r >> 32);
        m.set(in_valid, r >> 48);
        m.tick();
        sum = sum
            .wrapping_mul(31)
            .wrapping_add(m.get(y) ^ (m.get(out_valid) << 16));
    }
    (t0.elapsed().as_secs_f64(), sum)
}

/// Builds (once, cached by content) and runs the plain C++ harness.
fn cxx_loop(n: u64, cache: &Path) -> Result<(f64, u64), String> {
    common::run_cxx_harness(&cache.join("bench-cxx-mac3"), MAC3, "mac3", HARNESS, n)
}

fn main() {
    let n: u64 = std::env::var("CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000_000);
    let cache = verilator::default_cache_dir();
    let opts = BuildOptions::default();

    // Build times. The first build also makes the shared runtime if this cache lacks it;
    // then a fresh design text forces a model-only compile, and a repeat is a cache hit.
    let t = Instant::now();
    let first = verilator::build(MAC3, "mac3", &ports(), "clk", &cache, &opts)
        .unwrap_or_else(|e| panic!("{e}"));
    let first_time = t.elapsed();
    let first_cached = first.from_cache();
    drop(first);
    let nonce = format!("// bench {:?}\n", std::time::SystemTime::now());
    let t = Instant::now();
    let fresh = verilator::build(
        &format!("{nonce}{MAC3}"),
        "mac3",
        &ports(),
        "clk",
        &cache,
        &opts,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let cold = t.elapsed();
    let entry = fresh.library_path().parent().map(Path::to_path_buf);
    drop(fresh);
    if let Some(entry) = entry {
        let _ = std::fs::remove_dir_all(entry);
    }
    let t = Instant::now();
    let mut m = verilator::build(MAC3, "mac3", &ports(), "clk", &cache, &opts)
        .unwrap_or_else(|e| panic!("{e}"));
    let hit = t.elapsed();
    assert!(m.from_cache());
    println!(
        "build: first {first_time:.2?} ({}), model compile {cold:.2?}, cache hit {hit:.2?}",
        if first_cached {
            "cache hit"
        } else {
            "compiled, with runtime if missing"
        }
    );

    // Other processes share the machine: interleave the two loops and keep the best run of
    // each, so that both see the same conditions and the least disturbed run counts.
    rust_loop(&mut m, n / 10);
    let rounds = 5;
    let (mut rust_best, mut cxx_best) = (f64::MAX, f64::MAX);
    let (mut rust_sum, mut cxx_sum) = (0, None);
    let mut cxx_error = None;
    for _ in 0..rounds {
        let mut inst = m.new_instance().expect("instance");
        let (secs, sum) = rust_loop(&mut inst, n);
        rust_best = rust_best.min(secs);
        rust_sum = sum;
        if cxx_error.is_none() {
            match cxx_loop(n, &cache) {
                Ok((secs, sum)) => {
                    cxx_best = cxx_best.min(secs);
                    cxx_sum = Some(sum);
                }
                Err(e) => cxx_error = Some(e),
            }
        }
    }
    let rust_rate = n as f64 / rust_best;
    println!(
        "rust bridge loop (set x4, tick, get x2): {:6.1} M cycles/s  checksum {rust_sum:#018x}",
        rust_rate / 1e6
    );
    match (cxx_sum, cxx_error) {
        (Some(cxx_sum), None) => {
            let cxx_rate = n as f64 / cxx_best;
            println!(
                "plain C++ Verilator loop:                {:6.1} M cycles/s  checksum {cxx_sum:#018x}",
                cxx_rate / 1e6
            );
            println!(
                "ratio rust/C++: {:.0}%  checksums {}  (best of {rounds} x {n} cycles each)",
                100.0 * rust_rate / cxx_rate,
                if cxx_sum == rust_sum {
                    "equal"
                } else {
                    "DIFFER"
                }
            );
            assert_eq!(cxx_sum, rust_sum, "the bridge and C++ disagree");
        }
        (_, e) => println!("plain C++ loop unavailable: {}", e.unwrap_or_default()),
    }
}
