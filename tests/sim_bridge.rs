//! Co-simulation bridge tests on small hand-written designs: Verilator through the Rust
//! bridge, Icarus through the replay testbench, and the two against each other.
//!
//! These tests need Verilator, Icarus Verilog and g++; when one is missing they fail with a
//! message saying how to install it, on purpose: a skipped co-simulation proves nothing.

use std::path::PathBuf;
use std::time::Instant;

use repact_hw::hdl::{Port, PortDir};
use repact_hw::sim::icarus::{self, IcarusRun};
use repact_hw::sim::ports::sign_extend;
use repact_hw::sim::verilator::{self, BuildOptions, VerilatedModel};

const ADDER: &str = r#"
// Registered adder, synchronous active-low reset, signed 16-bit result.
module radd (
    input  wire               clk,
    input  wire               rst_n,
    input  wire signed [15:0] a,
    input  wire signed [15:0] b,
    output reg  signed [15:0] y
);
    always @(posedge clk) begin
        if (!rst_n) y <= 16'sd0;
        else        y <= a + b;
    end
endmodule
"#;

fn adder_ports() -> Vec<Port> {
    vec![
        Port::input("clk", 1),
        Port::input("rst_n", 1),
        Port::input("a", 16),
        Port::input("b", 16),
        Port::output("y", 16),
    ]
}

const WIDE: &str = r#"
// Ports wider than 64 bits in both directions.
module wide (
    input  wire        clk,
    input  wire [99:0] a,
    input  wire [71:0] b,
    output reg  [99:0] y,
    output reg  [71:0] z,
    output wire [7:0]  top8
);
    always @(posedge clk) begin
        y <= ~a;
        z <= b + 72'd1;
    end
    assign top8 = a[99:92];
endmodule
"#;

fn wide_ports() -> Vec<Port> {
    vec![
        Port::input("clk", 1),
        Port::input("a", 100),
        Port::input("b", 72),
        Port::output("y", 100),
        Port::output("z", 72),
        Port::output("top8", 8),
    ]
}

const ACC: &str = r#"
// Accumulator: before the first reset its state is unknown (X in a 4-state simulator).
module acc (
    input  wire        clk,
    input  wire        rst_n,
    input  wire [7:0]  d,
    output reg  [11:0] sum
);
    always @(posedge clk) begin
        if (!rst_n) sum <= 12'd0;
        else        sum <= sum + {4'd0, d};
    end
endmodule
"#;

fn acc_ports() -> Vec<Port> {
    vec![
        Port::input("clk", 1),
        Port::input("rst_n", 1),
        Port::input("d", 8),
        Port::output("sum", 12),
    ]
}

fn cache() -> PathBuf {
    verilator::default_cache_dir()
}

/// Builds or fails the test with the bridge's own message (which says how to install tools).
fn build(verilog: &str, top: &str, ports: &[Port], opts: &BuildOptions) -> VerilatedModel {
    verilator::build(verilog, top, ports, "clk", &cache(), opts).unwrap_or_else(|e| {
        panic!(
            "co-simulation needs Verilator and g++ (apt-get install -y verilator iverilog g++): {e}"
        )
    })
}

/// Replays in Icarus or fails the test with the bridge's own message.
fn replay(verilog: &str, top: &str, ports: &[Port], stimulus: &[Vec<u64>], dir: &str) -> IcarusRun {
    icarus::replay(verilog, top, ports, "clk", stimulus, &work_dir(dir)).unwrap_or_else(|e| {
        panic!("replay needs Icarus Verilog (apt-get install -y verilator iverilog): {e}")
    })
}

fn work_dir(name: &str) -> PathBuf {
    let dir = cache().join("test-work").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn tools_report_versions() {
    let v = verilator::verilator_version()
        .unwrap_or_else(|e| panic!("Verilator is required for these tests: {e}"));
    assert!(v.starts_with("Verilator "), "{v}");
    let i = icarus::icarus_version()
        .unwrap_or_else(|e| panic!("Icarus Verilog is required for these tests: {e}"));
    assert!(i.contains("Icarus Verilog"), "{i}");
}

#[test]
fn registered_adder_with_sync_reset() {
    let mut m = build(ADDER, "radd", &adder_ports(), &BuildOptions::default());
    let (rst_n, a, b, y) = (
        m.port("rst_n").unwrap(),
        m.port("a").unwrap(),
        m.port("b").unwrap(),
        m.port("y").unwrap(),
    );
    assert_eq!(m.ports().len(), 5);
    assert!(m.port("nope").is_none());

    m.set(a, 7);
    m.set(b, 9);
    m.set(rst_n, 0);
    m.tick();
    assert_eq!(m.get(y), 0, "synchronous reset clears the register");

    m.set(rst_n, 1);
    m.set(a, (-5i64) as u64); // masked to 16 bits by the bridge
    m.set(b, 2);
    assert_eq!(m.get(y), 0, "nothing changes before the clock edge");
    m.tick();
    let raw = m.get(y);
    assert_eq!(raw, 0xfffd, "outputs are returned zero-extended");
    assert_eq!(sign_extend(raw, 16), -3);

    let mut rng = Rng(0x1234_5678);
    for _ in 0..10_000 {
        let (va, vb) = (rng.next() as i16, rng.next() as i16);
        m.set(a, va as u16 as u64);
        m.set(b, vb as u16 as u64);
        m.tick();
        assert_eq!(sign_extend(m.get(y), 16), va.wrapping_add(vb) as i64);
    }

    // Reset is synchronous: it takes effect at the edge, not when set.
    m.set(rst_n, 0);
    m.eval();
    assert_ne!(m.get(y), 0xdead, "eval without a clock edge is allowed");
    m.tick();
    assert_eq!(m.get(y), 0);
    assert!(!m.finished());
    m.check().unwrap();
}

#[test]
fn wide_ports_both_directions() {
    let mut m = build(WIDE, "wide", &wide_ports(), &BuildOptions::default());
    let (a, b, y, z, top8) = (
        m.port("a").unwrap(),
        m.port("b").unwrap(),
        m.port("y").unwrap(),
        m.port("z").unwrap(),
        m.port("top8").unwrap(),
    );
    let mask100 = [u64::MAX, (1u64 << 36) - 1];

    // Bits above the width are dropped on the way in.
    m.set_wide(a, &[0x0123_4567_89ab_cdef, 0xffff_fff0_0000_0005]);
    m.set_wide(b, &[u64::MAX, 0xff]); // 2^72 - 1: the +1 wraps to 0
    m.tick();
    let mut out = [0u64; 2];
    m.get_wide(y, &mut out);
    assert_eq!(
        out,
        [
            !0x0123_4567_89ab_cdef & mask100[0],
            !0x0000_0000_0000_0005 & mask100[1]
        ]
    );
    m.get_wide(z, &mut out);
    assert_eq!(out, [0, 0]);
    assert_eq!(m.get(top8), 0, "a[99:92] of 0x...0005 in the top word");

    m.set_wide(b, &[u64::MAX, 0]); // 2^64 - 1: the +1 carries into the second word
    m.set_wide(a, &[0, 0xf_f000_0000]); // a[99:92] = 0xff
    m.tick();
    m.get_wide(z, &mut out);
    assert_eq!(out, [0, 1]);
    assert_eq!(m.get(top8), 0xff);
    assert_eq!(
        m.get(y),
        u64::MAX,
        "get returns the low 64 bits of a wide port"
    );

    // `set` on a wide port sets the low word and clears the rest.
    m.set(a, 0x55);
    m.tick();
    m.get_wide(y, &mut out);
    assert_eq!(out, [!0x55, mask100[1]]);

    // A longer output buffer is zero-filled; a shorter one gets the low words.
    let mut long = [7u64; 4];
    m.get_wide(z, &mut long);
    assert_eq!(long, [0, 1, 0, 0]);
    let mut short = [7u64; 1];
    m.get_wide(y, &mut short);
    assert_eq!(short, [!0x55]);

    // Random round trip against a Rust model of the design.
    let mut rng = Rng(99);
    for _ in 0..2_000 {
        let va = [rng.next(), rng.next() & mask100[1]];
        let vb = [rng.next(), rng.next() & 0xff];
        m.set_wide(a, &va);
        m.set_wide(b, &vb);
        m.tick();
        m.get_wide(y, &mut out);
        assert_eq!(out, [!va[0], !va[1] & mask100[1]]);
        let sum = ((vb[1] as u128) << 64 | vb[0] as u128) + 1;
        m.get_wide(z, &mut out);
        assert_eq!(out, [sum as u64, (sum >> 64) as u64 & 0xff]);
    }
}

#[test]
fn cxx_keyword_port_is_rejected() {
    let verilog = "module kw(input clk, input [7:0] template, output [7:0] q);\n\
                   assign q = template;\nendmodule\n";
    let ports = [
        Port::input("clk", 1),
        Port::input("template", 8),
        Port::output("q", 8),
    ];
    let err = verilator::build(verilog, "kw", &ports, "clk", &cache(), &Default::default())
        .expect_err("a C++ keyword cannot be a port name in the shim");
    let msg = err.to_string();
    assert!(
        msg.contains("template") && msg.contains("C++ keyword"),
        "{msg}"
    );

    let ports = [
        Port::input("clk", 1),
        Port::input("eval", 8),
        Port::output("q", 8),
    ];
    let err = verilator::build("", "kw", &ports, "clk", &cache(), &Default::default())
        .expect_err("`eval` is a member of the Verilated model");
    assert!(err.to_string().contains("eval"), "{err}");

    let ports = [
        Port::input("clk", 1),
        Port::input("a__b", 8),
        Port::output("q", 8),
    ];
    let err = verilator::build("", "kw", &ports, "clk", &cache(), &Default::default())
        .expect_err("Verilator mangles double underscores");
    assert!(err.to_string().contains("__"), "{err}");
}

#[test]
fn port_list_must_match_the_design() {
    let mut ports = adder_ports();
    ports[4].width = 17;
    let err = verilator::build(ADDER, "radd", &ports, "clk", &cache(), &Default::default())
        .expect_err("wrong width");
    assert!(err.to_string().contains("`y`"), "{err}");

    let ports = &adder_ports()[..4];
    let err = verilator::build(ADDER, "radd", ports, "clk", &cache(), &Default::default())
        .expect_err("missing port");
    assert!(err.to_string().contains("missing"), "{err}");

    let err = verilator::build(
        ADDER,
        "radd",
        &adder_ports(),
        "clock",
        &cache(),
        &Default::default(),
    )
    .expect_err("unknown clock");
    assert!(err.to_string().contains("clock"), "{err}");

    let err = verilator::build(
        "module broken(",
        "broken",
        &adder_ports(),
        "clk",
        &cache(),
        &Default::default(),
    )
    .expect_err("syntax error");
    assert!(err.to_string().starts_with("verilator:"), "{err}");
}

#[test]
fn second_build_comes_from_cache() {
    // A fresh design text per run, so the first build really compiles.
    let nonce = format!(
        "// nonce {} {:?}\n",
        std::process::id(),
        std::time::SystemTime::now()
    );
    let verilog = format!("{nonce}{ADDER}");
    let ports = adder_ports();

    let t0 = Instant::now();
    let mut first = build(&verilog, "radd", &ports, &BuildOptions::default());
    let cold = t0.elapsed();
    assert!(!first.from_cache());

    let t1 = Instant::now();
    let mut second = build(&verilog, "radd", &ports, &BuildOptions::default());
    let warm = t1.elapsed();
    assert!(second.from_cache());
    assert_eq!(first.library_path(), second.library_path());
    assert!(
        warm.as_millis() < 500 && warm < cold,
        "cache hit took {warm:?} (cold build {cold:?})"
    );

    // Same results, independent state.
    let mut rng = Rng(7);
    for m in [&mut first, &mut second] {
        let rst = m.port("rst_n").unwrap();
        m.set(rst, 0);
        m.tick();
        m.set(rst, 1);
    }
    for _ in 0..1000 {
        let (a, b) = (rng.next() & 0xffff, rng.next() & 0xffff);
        for m in [&mut first, &mut second] {
            let (pa, pb) = (m.port("a").unwrap(), m.port("b").unwrap());
            m.set(pa, a);
            m.set(pb, b);
            m.tick();
        }
        let y = first.port("y").unwrap();
        assert_eq!(first.get(y), second.get(y));
        assert_eq!(first.get(y), (a + b) & 0xffff);
    }

    // A third instance of the same library, without the cache.
    let mut third = second.new_instance().unwrap();
    let y = third.port("y").unwrap();
    assert_eq!(third.get(y), 0);
    third.tick();

    let entry = first.library_path().parent().unwrap().to_path_buf();
    drop((first, second, third));
    let _ = std::fs::remove_dir_all(entry);
}

#[test]
fn two_designs_with_the_same_port_names_stay_apart() {
    // Both libraries define a class `Vtop`; hidden visibility keeps each bound to its own.
    let sub = ADDER
        .replace("module radd", "module rsub")
        .replace("a + b", "a - b");
    let mut add = build(ADDER, "radd", &adder_ports(), &BuildOptions::default());
    let mut subm = build(&sub, "rsub", &adder_ports(), &BuildOptions::default());
    for m in [&mut add, &mut subm] {
        let (rst, a, b) = (
            m.port("rst_n").unwrap(),
            m.port("a").unwrap(),
            m.port("b").unwrap(),
        );
        m.set(rst, 1);
        m.set(a, 10);
        m.set(b, 3);
        m.tick();
    }
    assert_eq!(add.get(add.port("y").unwrap()), 13);
    assert_eq!(subm.get(subm.port("y").unwrap()), 7);
}

#[test]
fn model_moves_between_threads() {
    let m = build(ADDER, "radd", &adder_ports(), &BuildOptions::default());
    let handles: Vec<_> = (0..3)
        .map(|k| {
            let mut m = m.new_instance().unwrap();
            std::thread::spawn(move || {
                let (rst, a, b, y) = (
                    m.port("rst_n").unwrap(),
                    m.port("a").unwrap(),
                    m.port("b").unwrap(),
                    m.port("y").unwrap(),
                );
                m.set(rst, 1);
                for i in 0..10_000u64 {
                    m.set(a, i);
                    m.set(b, k);
                    m.tick();
                    assert_eq!(m.get(y), (i + k) & 0xffff);
                }
                m
            })
        })
        .collect();
    for h in handles {
        let m = h.join().unwrap();
        drop(m);
    }
}

#[test]
fn finish_does_not_end_the_process() {
    let verilog = r#"
module fin (input clk, output reg [3:0] n);
    initial n = 4'd0;
    always @(posedge clk) begin
        n <= n + 4'd1;
        if (n >= 4'd2) $finish;
    end
endmodule
"#;
    let ports = [Port::input("clk", 1), Port::output("n", 4)];
    let mut m = build(verilog, "fin", &ports, &BuildOptions::default());
    // Verilator's own handler calls exit(0) on the second $finish.
    for _ in 0..6 {
        m.tick();
    }
    assert!(m.finished());
    m.check().unwrap();
}

#[test]
fn fatal_in_the_design_is_reported_not_aborting() {
    let verilog = r#"
module fat (input clk, input go, output reg [3:0] n);
    initial n = 4'd0;
    always @(posedge clk) begin
        n <= n + 4'd1;
        if (go) $fatal(1, "go was set");
    end
endmodule
"#;
    let ports = [
        Port::input("clk", 1),
        Port::input("go", 1),
        Port::output("n", 4),
    ];
    let mut m = build(verilog, "fat", &ports, &BuildOptions::default());
    m.tick();
    m.check().unwrap();
    let go = m.port("go").unwrap();
    m.set(go, 1);
    m.tick();
    assert!(m.finished());
    let err = m.check().expect_err("$fatal must be reported");
    assert!(err.to_string().contains("$fatal"), "{err}");
}

#[test]
fn vcd_trace_records_both_edges() {
    let mut m = build(ADDER, "radd", &adder_ports(), &BuildOptions { trace: true });
    let dir = work_dir("vcd");
    std::fs::create_dir_all(&dir).unwrap();
    let vcd = dir.join("radd.vcd");
    m.trace_open(&vcd).unwrap();
    let (rst, a) = (m.port("rst_n").unwrap(), m.port("a").unwrap());
    m.set(rst, 1);
    for i in 0..4 {
        m.set(a, i);
        m.tick();
    }
    m.trace_close();
    let text = std::fs::read_to_string(&vcd).unwrap();
    assert!(text.contains("$enddefinitions"), "{text}");
    assert!(text.contains("#7"), "8 edges in 4 ticks: {text}");

    let mut plain = build(ADDER, "radd", &adder_ports(), &BuildOptions::default());
    assert!(plain.trace_open(&vcd).is_err(), "tracing needs trace: true");
}

/// Runs `stimulus` through a Verilator model and returns its outputs in Icarus' layout.
fn verilator_outputs(m: &mut VerilatedModel, stimulus: &[Vec<u64>]) -> Vec<Vec<u64>> {
    stimulus
        .iter()
        .map(|cycle| {
            m.set_inputs(cycle);
            m.tick();
            let mut out = Vec::new();
            m.get_outputs(&mut out);
            out
        })
        .collect()
}

fn assert_same(icarus: &IcarusRun, verilator: &[Vec<u64>], from: usize) {
    assert_eq!(icarus.cycles(), verilator.len());
    for (c, expect) in verilator.iter().enumerate().skip(from) {
        assert!(
            !icarus.xz[c].iter().any(|&x| x),
            "cycle {c}: X/Z in Icarus outputs {:?}",
            icarus.xz[c]
        );
        assert_eq!(&icarus.outputs[c], expect, "cycle {c}");
    }
}

#[test]
fn icarus_replay_matches_verilator_cycle_for_cycle() {
    let mut rng = Rng(2024);

    // Adder: reset in the first cycle, then random operands with an occasional reset.
    let ports = adder_ports();
    let stimulus: Vec<Vec<u64>> = (0..500)
        .map(|c| {
            let rst_n = u64::from(c != 0 && rng.next() % 50 != 0);
            vec![rst_n, rng.next() & 0xffff, rng.next() & 0xffff]
        })
        .collect();
    let mut m = build(ADDER, "radd", &ports, &BuildOptions::default());
    let expect = verilator_outputs(&mut m, &stimulus);
    let run = replay(ADDER, "radd", &ports, &stimulus, "adder");
    assert_same(&run, &expect, 0);

    // Wide ports; the stimulus carries junk above the widths, which both sides must ignore.
    let ports = wide_ports();
    let stimulus: Vec<Vec<u64>> = (0..300)
        .map(|_| (0..4).map(|_| rng.next()).collect())
        .collect();
    let mut m = build(WIDE, "wide", &ports, &BuildOptions::default());
    let expect = verilator_outputs(&mut m, &stimulus);
    let run = replay(WIDE, "wide", &ports, &stimulus, "wide");
    assert_same(&run, &expect, 0);
    assert_eq!(run.output(5, 1).len(), 2, "z is 72 bits: two words");
}

#[test]
fn icarus_reports_x_before_reset() {
    let ports = acc_ports();
    // Three cycles without reset, one with, then accumulate.
    let mut stimulus = vec![vec![1, 3]; 3];
    stimulus.push(vec![0, 3]);
    stimulus.extend((1..20).map(|d| vec![1, d]));
    let run = replay(ACC, "acc", &ports, &stimulus, "acc");
    assert_eq!(run.output_ports[0].dir, PortDir::Out);
    for c in 0..3 {
        assert!(run.xz[c][0], "cycle {c}: unreset register must read X");
        assert_eq!(run.xz_mask[c][0], 0xfff);
    }
    assert_eq!(run.first_xz_cycle(), Some(0));
    assert!(!run.xz[3][0]);
    assert_eq!(run.output_u64(3, 0), 0);

    // Verilator starts the register at 0 and so hides the missing reset; after the reset
    // both agree.
    let mut m = build(ACC, "acc", &ports, &BuildOptions::default());
    let expect = verilator_outputs(&mut m, &stimulus);
    assert_eq!(expect[0], vec![3]);
    assert_same(&run, &expect, 3);
}

#[test]
fn icarus_rejects_bad_stimulus_and_ports() {
    let ports = adder_ports();
    let err = icarus::replay(
        ADDER,
        "radd",
        &ports,
        "clk",
        &[vec![1, 2]],
        &work_dir("bad1"),
    )
    .expect_err("three input words per cycle");
    assert!(err.to_string().contains("3"), "{err}");

    let mut wrong = adder_ports();
    wrong[2].width = 8;
    let err = icarus::replay(
        ADDER,
        "radd",
        &wrong,
        "clk",
        &[vec![1, 2, 3]],
        &work_dir("bad2"),
    )
    .expect_err("width mismatch");
    assert!(err.to_string().contains("does not match"), "{err}");

    let empty = icarus::replay(ADDER, "radd", &ports, "clk", &[], &work_dir("bad3")).unwrap();
    assert_eq!(empty.cycles(), 0);
}

/// A valid/ready stage with backpressure (ready low one cycle in five, from a free-running
/// counter) and a 100-bit field: `y = a + 1` and `wy = ~w` of every accepted beat, one cycle
/// later, with `out_valid`.
const HANDSHAKE: &str = r#"
module hs (
    input  wire         clk,
    input  wire         rst_n,
    input  wire         in_valid,
    output reg          in_ready,
    input  wire [15:0]  a,
    input  wire [99:0]  w,
    output reg          out_valid,
    output reg  [15:0]  y,
    output reg  [99:0]  wy
);
    reg [2:0] n;
    always @(posedge clk) begin
        if (!rst_n) begin
            n <= 3'd0; in_ready <= 1'b0; out_valid <= 1'b0; y <= 16'd0; wy <= 100'd0;
        end else begin
            n <= (n == 3'd4) ? 3'd0 : n + 3'd1;
            in_ready <= (n != 3'd2);
            out_valid <= in_valid && in_ready;
            y <= a + 16'd1;
            wy <= ~w;
        end
    end
endmodule
"#;

fn handshake_ports() -> Vec<Port> {
    vec![
        Port::input("clk", 1),
        Port::input("rst_n", 1),
        Port::input("in_valid", 1),
        Port::output("in_ready", 1),
        Port::input("a", 16),
        Port::input("w", 100),
        Port::output("out_valid", 1),
        Port::output("y", 16),
        Port::output("wy", 100),
    ]
}

/// What `VerilatedModel::stream` must do, cycle by cycle with set/get/tick: returns the
/// accepted count, the captured (y, wy, edge) beats and the edges of the first acceptance
/// and output. `beats` holds (a, w) per input beat.
#[allow(clippy::type_complexity)]
fn stream_by_hand(
    m: &mut VerilatedModel,
    beats: &[(u64, [u64; 2])],
    cycles: u64,
) -> (u64, Vec<(u64, [u64; 2], u64)>, Option<u64>, Option<u64>) {
    let p = |n: &str| m.port(n).unwrap();
    let (valid, ready, a, w, ov, y, wy) = (
        p("in_valid"),
        p("in_ready"),
        p("a"),
        p("w"),
        p("out_valid"),
        p("y"),
        p("wy"),
    );
    let (mut k, mut out, mut fa, mut fo) = (0usize, Vec::new(), None, None);
    for c in 0..cycles {
        let v = k < beats.len();
        m.set(valid, v as u64);
        if v {
            m.set(a, beats[k].0);
            m.set_wide(w, &beats[k].1);
        }
        let r = m.get(ready) != 0;
        m.tick();
        if v && r {
            fa.get_or_insert(c);
            k += 1;
        }
        if m.get(ov) != 0 {
            fo.get_or_insert(c);
            let mut big = [0u64; 2];
            m.get_wide(wy, &mut big);
            out.push((m.get(y), big, c));
        }
    }
    (k as u64, out, fa, fo)
}

#[test]
fn stream_runs_a_handshake_in_one_call_as_cycle_by_cycle_does() {
    use repact_hw::sim::verilator::{Handshake, StreamLimits};
    let ports = handshake_ports();
    let mut fast = build(HANDSHAKE, "hs", &ports, &BuildOptions::default());
    let mut slow = fast.new_instance().unwrap();
    let mut rng = Rng(7);
    let beats: Vec<(u64, [u64; 2])> = (0..300)
        .map(|_| {
            (
                rng.next() & 0xffff,
                [rng.next(), rng.next() & ((1 << 36) - 1)],
            )
        })
        .collect();
    for m in [&mut fast, &mut slow] {
        let rst = m.port("rst_n").unwrap();
        m.set(rst, 0);
        m.tick();
        m.set(rst, 1);
    }
    let p = |n: &str| fast.port(n).unwrap();
    let hs = Handshake {
        in_valid: p("in_valid"),
        in_ready: p("in_ready"),
        out_valid: p("out_valid"),
    };
    let (a, w, y, wy) = (p("a"), p("w"), p("y"), p("wy"));
    assert_eq!(
        [a, w, y, wy].map(|id| fast.storage_bytes(id)),
        [2, 16, 2, 16]
    );
    // Input buffers in the storage layout; the top bits of `w` beyond 100 are set here and
    // must be cleared on the way in, as `set_wide` does.
    let mut a_buf = Vec::new();
    let mut w_buf = Vec::new();
    for (va, vw) in &beats {
        a_buf.extend_from_slice(&(*va as u16).to_le_bytes());
        w_buf.extend_from_slice(&vw[0].to_le_bytes());
        w_buf.extend_from_slice(&(vw[1] | 0xffff_fff0_0000_0000).to_le_bytes());
    }
    let (mut y_buf, mut wy_buf) = (vec![0u8; 2 * 400], vec![0u8; 16 * 400]);
    let mut edges = vec![0u64; 400];
    let limits = StreamLimits {
        in_beats: beats.len() as u64,
        out_want: beats.len() as u64,
        max_cycles: 10_000,
    };
    let d = fast
        .stream(
            hs,
            &[(a, &a_buf), (w, &w_buf)],
            &mut [(y, &mut y_buf), (wy, &mut wy_buf)],
            Some(&mut edges),
            limits,
        )
        .unwrap();
    // Every beat in and out, backpressure costing one cycle in five, and the run stopping
    // right after the last output.
    assert_eq!((d.accepted, d.produced), (300, 300));
    assert!(d.cycles > 370 && d.cycles < 390, "{} cycles", d.cycles);
    let (k, want, fa, fo) = stream_by_hand(&mut slow, &beats, d.cycles);
    assert_eq!(k, 300);
    assert_eq!((d.first_accept, d.first_output), (fa, fo));
    assert_eq!(want.len(), 300);
    for (j, (vy, vwy, edge)) in want.iter().enumerate() {
        assert_eq!(edges[j], *edge, "edge of beat {j}");
        assert_eq!(vy & 0xffff, (beats[j].0 + 1) & 0xffff, "beat {j}");
        let got_y = u16::from_le_bytes([y_buf[2 * j], y_buf[2 * j + 1]]) as u64;
        assert_eq!(got_y, *vy, "y of beat {j}");
        let word = |i: usize| {
            u64::from_le_bytes(
                wy_buf[16 * j + 8 * i..16 * j + 8 * i + 8]
                    .try_into()
                    .unwrap(),
            )
        };
        assert_eq!([word(0), word(1)], *vwy, "wy of beat {j}");
    }

    // A full output buffer stops the run; so does max_cycles; a too short input buffer is
    // refused before anything runs.
    let mut small = vec![0u8; 2 * 5];
    let d = fast
        .stream(hs, &[(a, &a_buf)], &mut [(y, &mut small)], None, limits)
        .unwrap();
    assert_eq!(d.produced, 5);
    let d = fast
        .stream(
            hs,
            &[(a, &a_buf)],
            &mut [(y, &mut y_buf)],
            None,
            StreamLimits {
                max_cycles: 7,
                ..limits
            },
        )
        .unwrap();
    assert_eq!(d.cycles, 7);
    let e = fast
        .stream(
            hs,
            &[(a, &a_buf[..10])],
            &mut [(y, &mut y_buf)],
            None,
            limits,
        )
        .unwrap_err();
    assert!(e.to_string().contains("`a`: 10 bytes for 300 beats"), "{e}");
    let e = fast
        .stream(
            Handshake { in_valid: a, ..hs },
            &[],
            &mut [(y, &mut y_buf)],
            None,
            limits,
        )
        .unwrap_err();
    assert!(e.to_string().contains("`a` is not 1 bit wide"), "{e}");
}
