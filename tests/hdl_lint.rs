//! The generated Verilog against the real tools: Verilator `--lint-only -Wall` with zero
//! warnings, Icarus `-g2005`, Yosys `synth_xilinx` without latches, and an Icarus testbench that
//! streams random beats with random stalls on both sides and checks every output beat against
//! the golden model (a quick sanity check; the full co-simulation lives in `src/sim/`).
//!
//! Missing tools fail the tests with an install hint: a silent skip would hide a broken check.

use repact_hw::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use repact_hw::hdl::regmap::{addr, CoefKind, ID_VALUE};
use repact_hw::hdl::{
    generate_axilite, generate_baked, sanitize_identifier, CoreOptions, GeneratedCore, PortDir,
    RegisterMap,
};
use repact_hw::model::FoldedLayer;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str =
    "install it: apt-get update && apt-get install -y verilator iverilog yosys";

fn fmt(w: u32, i: i32) -> ApFixed {
    ApFixed::new(w, i).unwrap()
}

/// A RepAct layer folded by hand: weights of (identity, relu, hardswish, prelu), a PReLU slope
/// and a BatchNorm scale/shift, per channel.
fn repact(name: &str, channels: &[([f64; 4], f64, f64, f64)]) -> FoldedLayer {
    let segments = channels
        .iter()
        .map(|&([wi, wr, wh, wp], p, scale, shift)| {
            let hs = |seg: usize| match seg {
                0 => [0.0, 0.0, 0.0],
                1 | 2 => [0.0, 0.5, 1.0 / 6.0],
                _ => [0.0, 1.0, 0.0],
            };
            (0..4)
                .map(|s| {
                    let relu = if s >= 2 { 1.0 } else { 0.0 };
                    let prelu = if s >= 2 { 1.0 } else { p };
                    let h = hs(s);
                    let c1 = wi + wr * relu + wh * h[1] + wp * prelu;
                    let c2 = wh * h[2];
                    [shift, c1 * scale, c2 * scale]
                })
                .collect()
        })
        .collect();
    FoldedLayer {
        name: name.to_string(),
        variant: "origin".to_string(),
        breakpoints: vec![-3.0, 0.0, 3.0],
        segments,
    }
}

fn typical() -> FoldedLayer {
    repact("block1.act", &[([0.3, 0.5, 0.8, 0.2], 0.25, 1.0, 0.0)])
}

fn spec_of(layer: FoldedLayer, input: ApFixed, output: ApFixed) -> DatapathSpec {
    DatapathSpec::build(&[layer], &SpecOptions::with_formats(input, output)).unwrap()
}

fn core(spec: &DatapathSpec, name: &str, lanes: usize, tuser: u32) -> GeneratedCore {
    let opts = CoreOptions {
        top_name: sanitize_identifier(name),
        lanes,
        tuser_width: tuser,
        command_line: format!("repact-hw test {name} --lanes {lanes}"),
    };
    generate_baked(spec, 0, &opts).unwrap()
}

/// The tool's command, or a failed test with an install hint if it is missing.
fn tool(name: &str) -> Command {
    let version_flag = if name == "verilator" {
        "--version"
    } else {
        "-V"
    };
    let probe = Command::new(name).arg(version_flag).output();
    assert!(
        probe.is_ok(),
        "`{name}` is not installed (or not on PATH); {INSTALL_HINT}"
    );
    Command::new(name)
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run ({e}); {INSTALL_HINT}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

fn write_core(dir: &Path, c: &GeneratedCore) -> PathBuf {
    let path = dir.join(c.file_name());
    std::fs::write(&path, &c.verilog).unwrap();
    path
}

fn verilator_lint(c: &GeneratedCore, dir: &Path) {
    let f = write_core(dir, c);
    let text = run(
        tool("verilator")
            .args(["--lint-only", "-Wall", "--top-module", &c.interface.top])
            .arg(&f),
        &format!("verilator --lint-only -Wall {}", c.file_name()),
    );
    assert!(
        text.trim().is_empty(),
        "verilator printed something for {}:\n{text}",
        c.file_name()
    );
}

fn iverilog_compile(c: &GeneratedCore, dir: &Path) {
    let f = write_core(dir, c);
    let text = run(
        tool("iverilog")
            .args(["-g2005", "-Wall", "-o"])
            .arg(dir.join("a.out"))
            .args(["-s", &c.interface.top])
            .arg(&f),
        &format!("iverilog -g2005 {}", c.file_name()),
    );
    assert!(text.trim().is_empty(), "iverilog warned:\n{text}");
}

/// Cell counts from Yosys `stat` after `synth_xilinx`.
#[derive(Debug, Default)]
struct Resources {
    dsp: u64,
    lut: u64,
    ff: u64,
    carry: u64,
    srl: u64,
    /// Distributed RAM cells (RAM32M, RAM64M, RAM32X1D, ...; each RAM32M/RAM64M is 4 LUTs).
    lutram: u64,
    /// Block RAMs.
    bram: u64,
    latches: u64,
}

fn yosys_synth(c: &GeneratedCore, dir: &Path) -> Resources {
    let f = write_core(dir, c);
    let script = format!(
        "read_verilog {}; synth_xilinx -family xc7 -noiopad -noclkbuf -flatten -top {}; stat",
        f.display(),
        c.interface.top
    );
    let log = run(
        tool("yosys").args(["-p", &script]),
        &format!("yosys synth_xilinx {}", c.file_name()),
    );
    let stat = log
        .rsplit_once("Number of cells:")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no stat in the yosys log:\n{log}"));
    let mut r = Resources::default();
    for line in stat.lines() {
        let mut it = line.split_whitespace();
        let (Some(cell), Some(n)) = (it.next(), it.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        match cell {
            "DSP48E1" => r.dsp += n,
            c if c.starts_with("LUT") => r.lut += n,
            "FDRE" | "FDSE" | "FDCE" | "FDPE" => r.ff += n,
            "CARRY4" => r.carry += n,
            c if c.starts_with("SRL") => r.srl += n,
            c if c.starts_with("RAMB") => r.bram += n,
            c if c.starts_with("RAM") => r.lutram += n,
            c if c.starts_with("LD") || c.contains("latch") || c.contains("dlatch") => {
                r.latches += n
            }
            _ => {}
        }
    }
    assert_eq!(r.latches, 0, "latches in {}:\n{stat}", c.file_name());
    assert!(
        !log.contains("Latch inferred"),
        "yosys inferred a latch in {}:\n{log}",
        c.file_name()
    );
    r
}

/// xorshift64*: deterministic stimulus without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A little-endian bit vector, written as one `$readmemh` word.
#[derive(Default)]
struct Word(Vec<bool>);

impl Word {
    fn push(&mut self, v: u64, width: u32) {
        for i in 0..width {
            self.0.push(i < 64 && (v >> i) & 1 == 1);
        }
    }
    fn hex(&self) -> String {
        let digits = self.0.len().div_ceil(4);
        (0..digits)
            .rev()
            .map(|d| {
                let nibble = (0..4)
                    .map(|b| (*self.0.get(d * 4 + b).unwrap_or(&false) as u32) << b)
                    .sum::<u32>();
                char::from_digit(nibble, 16).unwrap()
            })
            .collect()
    }
}

fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Input beats and the output beats the golden model says must come out, as `$readmemh` text.
/// Beat word layout (LSB first): tdata, tkeep, tlast, tuser.
fn stimulus(spec: &DatapathSpec, c: &GeneratedCore, beats: usize, seed: u64) -> (String, String) {
    let channels = spec.layers()[c.interface.first_layer()].channels();
    stimulus_for(
        spec,
        c,
        (c.interface.first_layer(), channels),
        beats,
        seed,
        false,
    )
}

/// [`stimulus`] for layer `layer.0` of `spec` streamed with a channel count of `layer.1`
/// (which the core must restart at the first beat); `close_packet`: the last beat has TLAST,
/// so the next chunk starts a packet too.
fn stimulus_for(
    spec: &DatapathSpec,
    c: &GeneratedCore,
    (layer, channels): (usize, usize),
    beats: usize,
    seed: u64,
    close_packet: bool,
) -> (String, String) {
    let (fin, fout) = (spec.input(), spec.output());
    let (s_slot, m_slot) = (fin.slot_bits(), fout.slot_bits());
    let (s_bytes, m_bytes) = (s_slot / 8, m_slot / 8);
    let layer_index = layer;
    let layer = &spec.layers()[layer];
    let mut specials = vec![
        fin.min_raw(),
        fin.min_raw() + 1,
        fin.max_raw(),
        fin.max_raw() - 1,
        0,
        -1,
    ];
    for &t in &layer.thresholds {
        specials.extend([t - 1, t, t + 1]);
    }
    specials.retain(|&v| (fin.min_raw()..=fin.max_raw()).contains(&v));
    let mut rng = Rng(seed | 1);
    let (mut input, mut expected) = (String::new(), String::new());
    let mut beat_in_packet = 0usize;
    let mut sweep = fin.min_raw();
    for beat in 0..beats {
        let (mut iw, mut ow) = (Word::default(), Word::default());
        let mut xs = Vec::new();
        let mut keeps = Vec::new();
        for _ in 0..c.interface.stream.lanes {
            let x = match rng.below(8) {
                0 => specials[rng.below(specials.len() as u64) as usize],
                1 => {
                    sweep = if sweep >= fin.max_raw() {
                        fin.min_raw()
                    } else {
                        sweep + 1
                    };
                    sweep
                }
                _ => fin.sign_extend(rng.next()),
            };
            xs.push(x);
            let upper = rng.next() & mask(s_slot - fin.width());
            iw.push(
                (x as u64 & mask(fin.width())) | (upper << fin.width()),
                s_slot,
            );
        }
        for _ in 0..c.interface.stream.lanes {
            let keep = if rng.below(4) == 0 {
                rng.next() & mask(s_bytes)
            } else {
                mask(s_bytes)
            };
            keeps.push(keep == mask(s_bytes));
            iw.push(keep, s_bytes);
        }
        let last = rng.below(5) == 0 || (close_packet && beat + 1 == beats);
        let user = rng.next() & mask(c.interface.stream.tuser);
        iw.push(last as u64, 1);
        iw.push(user, c.interface.stream.tuser);
        for (i, &x) in xs.iter().enumerate() {
            let ch = (beat_in_packet * c.interface.stream.lanes + i) % channels;
            let y = spec.eval_raw(layer_index, ch, x);
            assert_eq!(fout.sign_extend(y as u64), y);
            ow.push(y as u64 & mask(m_slot), m_slot);
        }
        for &k in &keeps {
            ow.push(if k { mask(m_bytes) } else { 0 }, m_bytes);
        }
        ow.push(last as u64, 1);
        ow.push(user, c.interface.stream.tuser);
        beat_in_packet = if last { 0 } else { beat_in_packet + 1 };
        let _ = writeln!(input, "{}", iw.hex());
        let _ = writeln!(expected, "{}", ow.hex());
    }
    (input, expected)
}

/// An Icarus testbench for `c`. MODE 0: input always valid, output always ready; checks the
/// latency of the first beat and one beat per clock. MODE 1: random gaps on the input and
/// random stalls on the output in four phases of increasing readiness; checks every beat,
/// that a stalled output beat holds, and that no beat is lost, duplicated or added.
fn testbench(c: &GeneratedCore, beats: usize, mode: u32, seed: u32) -> String {
    let width = |name: &str| c.interface.port(name).unwrap().width;
    let u = c.interface.stream.tuser;
    let word = |side: &str| {
        let mut parts = vec![];
        if u > 0 {
            parts.push(format!("{side}_tuser"));
        }
        parts.extend([
            format!("{side}_tlast"),
            format!("{side}_tkeep"),
            format!("{side}_tdata"),
        ]);
        parts.join(", ")
    };
    let iw = width("s_axis_tdata") + width("s_axis_tkeep") + 1 + u;
    let ow = width("m_axis_tdata") + width("m_axis_tkeep") + 1 + u;
    let mut decls = String::new();
    let mut conns = Vec::new();
    for p in &c.interface.ports {
        let sig = p.name.replace("_axis_", "_");
        let range = if p.width > 1 {
            format!(" [{}:0]", p.width - 1)
        } else {
            String::new()
        };
        if !matches!(p.name.as_str(), "aclk" | "aresetn") {
            let kind = match p.dir {
                PortDir::In => "reg",
                PortDir::Out => "wire",
            };
            let init = if p.dir == PortDir::In { " = 0" } else { "" };
            let _ = writeln!(decls, "{kind}{range} {sig}{init};");
        }
        conns.push(format!("    .{}({sig})", p.name));
    }
    format!(
        r#"`timescale 1ns / 1ps
`default_nettype none
module tb;
localparam NB = {beats};
localparam LAT = {lat};
localparam MODE = {mode};
reg aclk = 1'b0;
always #5 aclk = ~aclk;
reg aresetn = 1'b0;
reg [{iw_m1}:0] in_mem [0:NB-1];
reg [{ow_m1}:0] exp_mem [0:NB-1];
{decls}
{top} dut (
{conns}
);
wire [{ow_m1}:0] m_word = {{{m_word}}};
integer seed = {seed};
integer cycle = 0;
integer in_idx = 0;
integer out_idx = 0;
integer errors = 0;
integer first_in = -1;
integer first_out = -1;
integer last_out = -1;
integer phase;
reg held = 1'b0;
reg [{ow_m1}:0] held_word;
always @(negedge aclk) cycle = cycle + 1;
always @(posedge aclk) begin
    if (aresetn) begin
        phase = ((cycle / 256) % 4) + 1;
        if (s_tvalid && s_tready) begin
            if (first_in < 0) first_in = cycle;
            in_idx = in_idx + 1;
        end
        if (!s_tvalid || s_tready) begin
            if (in_idx < NB && (MODE == 0 || ($random(seed) & 3) < phase)) begin
                {{{s_word}}} <= in_mem[in_idx];
                s_tvalid <= 1'b1;
            end else begin
                s_tvalid <= 1'b0;
            end
        end
        if (held && (!m_tvalid || m_word !== held_word)) begin
            errors = errors + 1;
            $display("FAIL: a stalled output beat changed at cycle %0d", cycle);
        end
        held = m_tvalid && !m_tready;
        held_word = m_word;
        if (m_tvalid && m_tready) begin
            if (out_idx >= NB) begin
                errors = errors + 1;
                $display("FAIL: extra output beat at cycle %0d", cycle);
            end else if (m_word !== exp_mem[out_idx]) begin
                errors = errors + 1;
                if (errors < 10) $display("FAIL: beat %0d: got %h, expected %h", out_idx, m_word, exp_mem[out_idx]);
            end
            if (first_out < 0) first_out = cycle;
            last_out = cycle;
            out_idx = out_idx + 1;
        end
        m_tready <= (MODE == 0) || (($random(seed) & 3) < (5 - phase));
    end
end
initial begin
    $readmemh("in.hex", in_mem);
    $readmemh("exp.hex", exp_mem);
    repeat (4) @(negedge aclk);
    aresetn = 1'b1;
    while (out_idx < NB && cycle < 20 * NB + 100) @(negedge aclk);
    repeat (30) @(negedge aclk);
    if (out_idx != NB) begin
        errors = errors + 1;
        $display("FAIL: %0d output beats for %0d input beats (%0d accepted)", out_idx, NB, in_idx);
    end
    if (MODE == 0 && first_out - first_in != LAT) begin
        errors = errors + 1;
        $display("FAIL: latency %0d, expected %0d", first_out - first_in, LAT);
    end
    if (MODE == 0 && last_out - first_out != NB - 1) begin
        errors = errors + 1;
        $display("FAIL: %0d beats took %0d cycles", NB, last_out - first_out + 1);
    end
    if (errors == 0) $display("PASS latency=%0d", first_out - first_in);
    $finish;
end
endmodule
"#,
        lat = c.interface.latency_cycles,
        iw_m1 = iw - 1,
        ow_m1 = ow - 1,
        top = c.interface.top,
        conns = conns.join(",\n"),
        m_word = word("m"),
        s_word = word("s"),
    )
}

/// Runs the stream testbench in both modes.
fn icarus_stream_check(spec: &DatapathSpec, c: &GeneratedCore, dir: &Path) {
    let core_file = write_core(dir, c);
    for (mode, beats) in [(0u32, 200usize), (1, 1200)] {
        let (input, expected) = stimulus(spec, c, beats, 0x5eed + mode as u64);
        std::fs::write(dir.join("in.hex"), input).unwrap();
        std::fs::write(dir.join("exp.hex"), expected).unwrap();
        let tb = dir.join("tb.v");
        std::fs::write(&tb, testbench(c, beats, mode, 12345 + mode)).unwrap();
        let sim = dir.join("tb.vvp");
        run(
            tool("iverilog")
                .args(["-g2005", "-o"])
                .arg(&sim)
                .args(["-s", "tb"])
                .arg(&tb)
                .arg(&core_file),
            "iverilog testbench",
        );
        let log = run(
            tool("vvp").current_dir(dir).args(["-n"]).arg(&sim),
            "vvp testbench",
        );
        assert!(
            log.contains(&format!("PASS latency={}", c.interface.latency_cycles))
                || mode == 1 && log.contains("PASS"),
            "{} (mode {mode}):\n{log}",
            c.file_name()
        );
        assert!(
            !log.contains("FAIL"),
            "{} (mode {mode}):\n{log}",
            c.file_name()
        );
    }
}

/// Every check on one core; returns the Yosys resource counts.
fn check_core(spec: &DatapathSpec, c: &GeneratedCore) -> Resources {
    let dir = tempfile::tempdir().unwrap();
    verilator_lint(c, dir.path());
    iverilog_compile(c, dir.path());
    icarus_stream_check(spec, c, dir.path());
    yosys_synth(c, dir.path())
}

/// Checks cores two at a time (the tools are single-threaded).
fn check_all(cases: Vec<(String, DatapathSpec, usize, u32)>) {
    let cases: Vec<_> = cases
        .into_iter()
        .map(|(name, spec, lanes, tuser)| {
            let c = core(&spec, &name, lanes, tuser);
            (spec, c)
        })
        .collect();
    for pair in cases.chunks(2) {
        std::thread::scope(|s| {
            for (spec, c) in pair {
                s.spawn(move || {
                    let r = check_core(spec, c);
                    eprintln!("{}: {r:?}", c.interface.top);
                });
            }
        });
    }
}

#[test]
fn width_lane_tuser_matrix_is_clean() {
    let mut cases = Vec::new();
    for (w, i) in [(8, 4), (12, 5), (16, 6), (18, 7)] {
        let spec = spec_of(typical(), fmt(w, i), fmt(w, i));
        for lanes in [1, 4] {
            for tuser in [0, 2] {
                cases.push((
                    format!("act_w{w}_l{lanes}_u{tuser}"),
                    spec.clone(),
                    lanes,
                    tuser,
                ));
            }
        }
    }
    // Different input and output formats, and lanes 2, 8 and 16.
    cases.push((
        "act_16_to_8".into(),
        spec_of(typical(), fmt(16, 6), fmt(8, 4)),
        2,
        0,
    ));
    cases.push((
        "act_8_to_16".into(),
        spec_of(typical(), fmt(8, 4), fmt(16, 8)),
        8,
        1,
    ));
    cases.push((
        "act_12_to_18".into(),
        spec_of(typical(), fmt(12, 4), fmt(18, 8)),
        16,
        0,
    ));
    check_all(cases);
}

#[test]
fn per_channel_layers_are_clean_and_count_channels() {
    let ch = |k: f64| {
        (
            [0.3 * k, 0.5, 0.8 / k, 0.2],
            0.25 * k,
            1.0 + 0.1 * k,
            0.05 * k,
        )
    };
    let three = repact("stage2.act", &[ch(1.0), ch(2.0), ch(3.0)]);
    let four = repact("stage3.act", &[ch(1.0), ch(2.0), ch(3.0), ch(4.0)]);
    let s3 = spec_of(three, fmt(16, 6), fmt(16, 6));
    let s4 = spec_of(four, fmt(12, 5), fmt(12, 5));
    check_all(vec![
        ("c3_l1".into(), s3.clone(), 1, 0),
        ("c3_l2".into(), s3.clone(), 2, 1),
        ("c3_l4".into(), s3.clone(), 4, 0),
        ("c3_l16".into(), s3, 16, 2),
        // 4 channels: a power-of-two counter with 1 lane, constant channels with 4 or 8 lanes.
        ("c4_l1".into(), s4.clone(), 1, 0),
        ("c4_l4".into(), s4.clone(), 4, 0),
        ("c4_l8".into(), s4, 8, 0),
    ]);
}

#[test]
fn breakpoints_outside_the_input_range_are_clean() {
    // ap_fixed<8,2> spans [-2, 2): the breakpoints -3 and 3 are never reached.
    let narrow = spec_of(typical(), fmt(8, 2), fmt(8, 2));
    assert_eq!(narrow.layers()[0].reachable, vec![false, true, true, false]);
    // A single reachable segment: constant coefficients, with and without channels.
    let far = |channels: usize| FoldedLayer {
        name: "far".into(),
        variant: "piecewise".into(),
        breakpoints: vec![10.0, 20.0],
        segments: (0..channels)
            .map(|c| {
                vec![
                    [0.1 * c as f64, 0.5, 0.25],
                    [0.0, 1.0, 0.0],
                    [1.0, 0.0, 0.0],
                ]
            })
            .collect(),
    };
    check_all(vec![
        ("narrow_l1".into(), narrow.clone(), 1, 0),
        ("narrow_l4".into(), narrow, 4, 2),
        ("far_c1".into(), spec_of(far(1), fmt(8, 2), fmt(8, 2)), 1, 0),
        ("far_c3".into(), spec_of(far(3), fmt(8, 2), fmt(8, 2)), 2, 0),
    ]);
}

#[test]
fn adversarial_coefficients_are_clean() {
    // A BatchNorm-like huge scale and shift, saturating most of the range.
    let huge = repact("huge.act", &[([0.3, 0.5, 0.8, 0.2], 0.25, 40.0, -7.5)]);
    // Non-monotonic: negative identity weight against a strong hardswish, negative scale.
    let wavy = repact("wavy.act", &[([-1.0, 0.2, 2.5, -0.7], -1.5, -1.3, 0.4)]);
    // ReLU only: c2 = 0 everywhere, so the first product is a single bit wide.
    let relu = repact("relu.act", &[([0.0, 1.0, 0.0, 0.0], 0.0, 1.0, 0.0)]);
    // Tiny coefficients: almost everything rounds to zero.
    let tiny = repact("tiny.act", &[([1e-4, 2e-4, 3e-4, 1e-4], 0.5, 1e-3, 1e-3)]);
    let mut cases = Vec::new();
    for (layer, name) in [
        (huge, "huge"),
        (wavy, "wavy"),
        (relu, "relu"),
        (tiny, "tiny"),
    ] {
        for (w, i) in [(8, 4), (16, 6)] {
            let spec = spec_of(layer.clone(), fmt(w, i), fmt(w, i));
            cases.push((format!("{name}_w{w}"), spec, 2, 0));
        }
    }
    check_all(cases);
}

#[test]
fn sixteen_bit_lane_resources() {
    let spec = spec_of(typical(), fmt(16, 6), fmt(16, 6));
    let c = core(&spec, "repact.block1.act", 1, 0);
    std::fs::write(std::env::temp_dir().join("repact_block1_act.v"), &c.verilog).unwrap();
    let r = check_core(&spec, &c);
    eprintln!("16-bit RepAct core, 1 lane: {r:?}");
    assert_eq!(r.dsp, 2, "each multiply-add should be one DSP48E1: {r:?}");
    let c4 = core(&spec, "repact.block1.act4", 4, 0);
    let r4 = check_core(&spec, &c4);
    eprintln!("16-bit RepAct core, 4 lanes: {r4:?}");
    assert_eq!(r4.dsp, 8, "{r4:?}");
}

#[test]
fn generation_is_deterministic() {
    let spec = spec_of(typical(), fmt(16, 6), fmt(16, 6));
    let a = core(&spec, "det", 4, 2);
    let b = core(&spec, "det", 4, 2);
    assert_eq!(a, b);
    assert!(!a.verilog.contains('$'), "no `$` anywhere in the text");
}

#[test]
fn ports_and_facts_match_the_text() {
    let spec = spec_of(typical(), fmt(12, 5), fmt(16, 6));
    let c = core(&spec, "facts", 4, 3);
    let got: Vec<(&str, u32, PortDir)> = c
        .interface
        .ports
        .iter()
        .map(|p| (p.name.as_str(), p.width, p.dir))
        .collect();
    use PortDir::{In, Out};
    assert_eq!(
        got,
        vec![
            ("aclk", 1, In),
            ("aresetn", 1, In),
            ("s_axis_tdata", 64, In),
            ("s_axis_tkeep", 8, In),
            ("s_axis_tvalid", 1, In),
            ("s_axis_tready", 1, Out),
            ("s_axis_tlast", 1, In),
            ("s_axis_tuser", 3, In),
            ("m_axis_tdata", 64, Out),
            ("m_axis_tkeep", 8, Out),
            ("m_axis_tvalid", 1, Out),
            ("m_axis_tready", 1, In),
            ("m_axis_tlast", 1, Out),
            ("m_axis_tuser", 3, Out),
        ]
    );
    assert_eq!(
        (
            c.interface.stream.s_tdata(),
            c.interface.stream.m_tdata(),
            c.interface.stream.tuser
        ),
        (64, 64, 3)
    );
    assert_eq!(c.interface.latency_cycles, spec.latency());
    assert_eq!(c.interface.latency_cycles, 6);
    assert_eq!(
        c.interface.latency_cycles,
        repact_hw::hdl::axis_latency(&spec)
    );
    assert_eq!(c.file_name(), "facts.v");
    assert!(c.verilog.contains("module facts\n"));
    assert!(c.verilog.contains("module facts_lane\n"));
    for p in &c.interface.ports {
        let dir = if p.dir == In { "input " } else { "output" };
        assert!(c.verilog.contains(&format!("{dir} wire")), "{}", p.name);
    }
    let c1 = core(&spec, "facts", 1, 0);
    assert!(!c1.interface.ports.iter().any(|p| p.name.ends_with("tuser")));
}

#[test]
fn bad_options_are_usage_errors() {
    let spec = spec_of(typical(), fmt(16, 6), fmt(16, 6));
    let err = |opts: CoreOptions, layer: usize| {
        generate_baked(&spec, layer, &opts).unwrap_err().to_string()
    };
    let ok = CoreOptions::new("act");
    assert_eq!(
        err(
            CoreOptions {
                lanes: 3,
                ..ok.clone()
            },
            0
        ),
        "--lanes must be one of 1, 2, 4, 8, 16, got 3"
    );
    assert_eq!(
        err(
            CoreOptions {
                tuser_width: 65,
                ..ok.clone()
            },
            0
        ),
        "--tuser-width must be 0..=64, got 65"
    );
    assert_eq!(
        err(CoreOptions::new("block1.act"), 0),
        "top module name `block1.act` is not a legal Verilog identifier here; use `block1_act`"
    );
    assert_eq!(
        err(CoreOptions::new("eval"), 0),
        "top module name `eval` is not a legal Verilog identifier here; use `eval_core`"
    );
    assert_eq!(
        err(ok, 1),
        "layer index 1 is out of range: the spec has 1 layer(s)"
    );
}

// ---------------------------------------------------------------------------------------------
// Cores with run-time coefficients (`--coeffs axilite`).
// ---------------------------------------------------------------------------------------------

fn axilite_core(spec: &DatapathSpec, name: &str, lanes: usize, tuser: u32) -> GeneratedCore {
    let opts = CoreOptions {
        top_name: sanitize_identifier(name),
        lanes,
        tuser_width: tuser,
        command_line: format!("repact-hw test {name} --coeffs axilite --lanes {lanes}"),
    };
    generate_axilite(spec, &opts).unwrap()
}

/// A piecewise layer: `breakpoints`, and per channel `[c0, c1, c2]` per segment, scaled by k.
fn piecewise(name: &str, breakpoints: &[f64], channels: usize) -> FoldedLayer {
    let segments = (0..channels)
        .map(|c| {
            let k = 1.0 + 0.3 * c as f64;
            (0..=breakpoints.len())
                .map(|s| {
                    let s = s as f64;
                    [0.1 * k * (s - 1.0), 0.4 + 0.2 * s * k, 0.05 * (2.0 - s) * k]
                })
                .collect()
        })
        .collect();
    FoldedLayer {
        name: name.to_string(),
        variant: "piecewise".to_string(),
        breakpoints: breakpoints.to_vec(),
        segments,
    }
}

/// A RepAct layer with `channels` per-channel PReLU slopes and BatchNorm-like scales.
fn repact_channels(name: &str, channels: usize, k: f64) -> FoldedLayer {
    let ch = |c: f64| {
        let k = k + 0.4 * c;
        (
            [0.3 * k, 0.5, 0.8 / k, 0.2],
            0.25 * k,
            1.0 + 0.1 * k,
            0.05 * k,
        )
    };
    let params: Vec<_> = (0..channels).map(|c| ch(c as f64)).collect();
    repact(name, &params)
}

fn spec_of_all(layers: &[FoldedLayer], input: ApFixed, output: ApFixed) -> DatapathSpec {
    DatapathSpec::build(layers, &SpecOptions::with_formats(input, output)).unwrap()
}

/// Sign-extends the low `w` bits of `v`.
fn sext(v: u64, w: u32) -> i64 {
    ((v << (64 - w)) as i64) >> (64 - w)
}

/// Bytes of `data` where `strb` is set, the rest from `old`.
fn merge_strobed(old: u32, data: u32, strb: u8) -> u32 {
    (0..4).fold(0, |acc, j| {
        let src = if (strb >> j) & 1 == 1 { data } else { old };
        acc | (src & (0xff << (8 * j)))
    })
}

/// Operations of the AXI4-Lite testbench, one 128-bit `$readmemh` word each:
/// `[127:120]` op, `[119:112]` argument, `[111:104]` strobes, `[103:96]` expected response,
/// `[95:64]` address, `[63:32]` data, `[31:0]` expected read data or beat count.
#[derive(Default)]
struct BusScript {
    ops: Vec<String>,
    input: String,
    expected: String,
    beats: usize,
    writes: usize,
    reads: usize,
    /// Which of the three handshake orders the next plain write uses.
    order: u8,
}

const OP_WRITE: u8 = 1;
const OP_READ: u8 = 2;
const OP_STREAM: u8 = 3;
const OP_RESET: u8 = 4;
/// The next two ops (a write and a read) run at the same time.
const OP_WRITE_AND_READ: u8 = 5;
/// The next two ops (a stream and a write) run at the same time, the write after `arg` cycles.
const OP_STREAM_AND_WRITE: u8 = 6;
const OKAY: u8 = 0;
const SLVERR: u8 = 2;

impl BusScript {
    #[allow(clippy::too_many_arguments)]
    fn op(&mut self, op: u8, arg: u8, strb: u8, resp: u8, addr: u32, data: u32, extra: u32) {
        self.ops.push(format!(
            "{op:02x}{arg:02x}{strb:02x}{resp:02x}{addr:08x}{data:08x}{extra:08x}"
        ));
    }
    /// A write with every strobe; the handshake order rotates: together, AW first, W first.
    fn write(&mut self, addr: u32, data: u32, resp: u8) {
        self.order = (self.order + 1) % 3;
        self.op(OP_WRITE, self.order, 0xf, resp, addr, data, 0);
        self.writes += 1;
    }
    fn write_strobed(&mut self, addr: u32, data: u32, strb: u8, resp: u8) {
        self.op(OP_WRITE, 0, strb, resp, addr, data, 0);
        self.writes += 1;
    }
    fn read(&mut self, addr: u32, data: u32, resp: u8) {
        self.op(OP_READ, 0, 0, resp, addr, 0, data);
        self.reads += 1;
    }
    fn reset(&mut self, cycles: u8) {
        self.op(OP_RESET, cycles, 0, 0, 0, 0, 0);
    }
    /// Streams `beats` beats of `layer` (channel count `channels`, restarted at the first
    /// beat); mode 0 at full speed (checks the latency), 1 with random stalls on both sides.
    #[allow(clippy::too_many_arguments)]
    fn stream(
        &mut self,
        spec: &DatapathSpec,
        c: &GeneratedCore,
        layer: usize,
        channels: usize,
        beats: usize,
        mode: u8,
        seed: u64,
    ) {
        let (i, e) = stimulus_for(spec, c, (layer, channels), beats, seed, true);
        self.input += &i;
        self.expected += &e;
        self.beats += beats;
        self.op(OP_STREAM, mode, 0, 0, 0, 0, beats as u32);
    }
    fn end(&mut self) {
        self.op(0, 0, 0, 0, 0, 0, 0);
    }
}

/// The whole AXI4-Lite check of a core holding every layer of `spec`: identification and
/// geometry registers, SLVERR cases, loading every layer with `RegisterMap::layer_writes`,
/// reading it all back, strobed writes, then each layer streamed (and per-channel layers with
/// other channel counts), concurrent traffic, and a reset.
fn axilite_script(spec: &DatapathSpec, c: &GeneratedCore) -> BusScript {
    let map = c.interface.register_map().copied().unwrap();
    let w = spec.widths();
    let mut s = BusScript::default();
    let (l_count, c_count) = (map.layers, map.channels);
    s.reset(4);

    // Read-only registers report the real values, and refuse writes.
    let ro = map.read_only_values(spec, c.interface.stream.lanes);
    assert_eq!(
        ro[3].value >> 8 & 0xff,
        c.interface.latency_cycles as u32,
        "GEOMETRY latency"
    );
    for r in &ro {
        s.read(r.addr, r.value, OKAY);
    }
    s.write(addr::ID, 0x1234_5678, SLVERR);
    s.read(addr::ID, ID_VALUE, OKAY);
    s.read(addr::ID + 2, ID_VALUE, OKAY); // byte-in-word address bits are ignored
    s.read(addr::LAYER_SELECT, 0, OKAY);

    // Unmapped addresses: gaps, past each table, the padding word pair of an entry.
    let mut unmapped = vec![0x1c, 0x24, 0xfc, map.layer_channels(l_count)];
    unmapped.push(addr::THRESHOLD + 4 * map.thresholds());
    let pad = map.coef(0, 0, 0, CoefKind::K0) + 8;
    unmapped.extend([pad, pad + 4]);
    if map.end() < 1 << map.address_bits() {
        unmapped.push(map.end());
    }
    for &a in &unmapped {
        s.read(a, 0, SLVERR);
        s.write(a, 0xffff_ffff, SLVERR);
    }
    // Illegal values are refused and change nothing.
    s.write(addr::LAYER_SELECT, l_count, SLVERR);
    s.write(map.layer_channels(0), c_count + 1, SLVERR);
    s.read(addr::LAYER_SELECT, 0, OKAY);

    // Load every layer, then read everything back.
    let writes: Vec<(u32, u32)> = (0..spec.layers().len())
        .flat_map(|l| map.layer_writes(spec, l, l as u32))
        .collect();
    for &(a, d) in &writes {
        s.write(a, d, OKAY);
    }
    s.read(
        map.layer_channels(0),
        spec.layers()[0].channels() as u32,
        OKAY,
    );
    for &(a, d) in &writes {
        s.read(a, d, OKAY);
    }

    // WSTRB: only strobed bytes of the register's 32-bit view change.
    let l0 = &spec.layers()[0];
    if let Some(&t) = l0.thresholds.first() {
        let a = map.threshold(0, 0);
        let merged = merge_strobed(t as u32, 0x5a5a_5a5a, 0b0010);
        let stored = sext(merged as u64, w.threshold) as u32;
        s.write_strobed(a, 0x5a5a_5a5a, 0b0010, OKAY);
        s.read(a, stored, OKAY);
        s.write_strobed(a, 0xffff_ffff, 0, OKAY); // no strobes: nothing changes
        s.read(a, stored, OKAY);
        s.write(a, t as u32, OKAY);
        s.read(a, t as u32, OKAY);
    }
    let k1 = l0.coefs[0][0].k1;
    let a = map.coef(0, 0, 0, CoefKind::K1);
    let high = merge_strobed((k1 >> 32) as u32, 0x00a5_0000, 0b0100);
    let stored = sext(((high as u64) << 32) | (k1 as u32 as u64), w.k1);
    s.write_strobed(a + 4, 0x00a5_0000, 0b0100, OKAY);
    s.read(a, stored as u32, OKAY);
    s.read(a + 4, (stored >> 32) as u32, OKAY);
    let low = merge_strobed(k1 as u32, 0x0000_00c3, 0b0001);
    let stored = sext(((stored as u64) & !0xffff_ffff) | low as u64, w.k1);
    s.write_strobed(a, 0x0000_00c3, 0b0001, OKAY);
    s.read(a, stored as u32, OKAY);
    s.read(a + 4, (stored >> 32) as u32, OKAY);
    s.write(a, k1 as u32, OKAY);
    s.write(a + 4, (k1 >> 32) as u32, OKAY);
    s.read(a, k1 as u32, OKAY);
    s.read(a + 4, (k1 >> 32) as u32, OKAY);
    // LAYER_SELECT's view is zero-extended: one strobed byte of 0x01 selects layer 1.
    let one_ok = if l_count > 1 { OKAY } else { SLVERR };
    s.write_strobed(addr::LAYER_SELECT, 0xabcd_ef01, 0b0001, one_ok);
    s.read(addr::LAYER_SELECT, (l_count > 1) as u32, OKAY);
    s.write_strobed(addr::LAYER_SELECT, 0x0000_0100, 0b0010, SLVERR);
    s.write(addr::LAYER_SELECT, 0, OKAY);

    // A write and a read at the same time: the slave serializes them.
    s.op(OP_WRITE_AND_READ, 0, 0, 0, 0, 0, 0);
    let (a, d) = writes[1];
    s.op(OP_WRITE, 0, 0xf, OKAY, a, d, 0);
    s.op(
        OP_READ,
        0,
        0,
        OKAY,
        map.layer_channels(0),
        0,
        l0.channels() as u32,
    );

    // Every layer streamed, at full speed and with stalls.
    let mut seed = 0x5eed_u64;
    for (l, layer) in spec.layers().iter().enumerate() {
        seed += 1;
        s.write(addr::LAYER_SELECT, l as u32, OKAY);
        s.stream(spec, c, l, layer.channels(), 120, 0, seed);
        s.stream(spec, c, l, layer.channels(), 300, 1, seed + 100);
        let ch = layer.channels() as u32;
        if ch > 1 {
            // Fewer channels at run time, and 0 counting as 1.
            for (write, effective) in [(ch - 1, ch - 1), (0, 1)] {
                s.write(map.layer_channels(l as u32), write, OKAY);
                s.read(map.layer_channels(l as u32), write, OKAY);
                s.stream(spec, c, l, effective as usize, 150, 1, seed + 200);
            }
            s.write(map.layer_channels(l as u32), ch, OKAY);
        }
    }
    // A write during a stream (same value: the output must not change, the count goes on).
    let last = spec.layers().len() - 1;
    s.write(addr::LAYER_SELECT, last as u32, OKAY);
    s.op(OP_STREAM_AND_WRITE, 37, 0, 0, 0, 0, 0);
    s.stream(
        spec,
        c,
        last,
        spec.layers()[last].channels(),
        200,
        1,
        seed + 300,
    );
    let (a, d) = *map.layer_writes(spec, last, last as u32).last().unwrap();
    s.op(OP_WRITE, 0, 0xf, OKAY, a, d, 0);

    // Reset: LAYER_SELECT returns to 0, the tables stay.
    s.reset(3);
    s.read(addr::LAYER_SELECT, 0, OKAY);
    s.stream(spec, c, 0, l0.channels(), 150, 1, seed + 400);
    s.end();
    s
}

/// The Icarus testbench driving [`axilite_script`]: an AXI4-Lite master (three handshake
/// orders, random BREADY/RREADY), the stream driver and checker of [`testbench`], latency
/// checked on every full-speed stream.
fn axilite_testbench(c: &GeneratedCore, script: &BusScript) -> String {
    let width = |name: &str| c.interface.port(name).unwrap().width;
    let u = c.interface.stream.tuser;
    let word = |side: &str| {
        let mut parts = vec![];
        if u > 0 {
            parts.push(format!("{side}_tuser"));
        }
        parts.extend([
            format!("{side}_tlast"),
            format!("{side}_tkeep"),
            format!("{side}_tdata"),
        ]);
        parts.join(", ")
    };
    let iw = width("s_axis_tdata") + width("s_axis_tkeep") + 1 + u;
    let ow = width("m_axis_tdata") + width("m_axis_tkeep") + 1 + u;
    let aw = width("s_axi_awaddr");
    let mut decls = String::new();
    let mut conns = Vec::new();
    for p in &c.interface.ports {
        let sig = p.name.replace("_axis_", "_").replace("s_axi_", "");
        let range = if p.width > 1 {
            format!(" [{}:0]", p.width - 1)
        } else {
            String::new()
        };
        if !matches!(p.name.as_str(), "aclk" | "aresetn") {
            let kind = match p.dir {
                PortDir::In => "reg",
                PortDir::Out => "wire",
            };
            let init = if p.dir == PortDir::In { " = 0" } else { "" };
            let _ = writeln!(decls, "{kind}{range} {sig}{init};");
        }
        conns.push(format!("    .{}({sig})", p.name));
    }
    format!(
        r#"`timescale 1ns / 1ps
`default_nettype none
module tb;
localparam LAT = {lat};
reg aclk = 1'b0;
always #5 aclk = ~aclk;
reg aresetn = 1'b0;
reg [127:0] ops [0:{ops_m1}];
reg [{iw_m1}:0] in_mem [0:{nb_m1}];
reg [{ow_m1}:0] exp_mem [0:{nb_m1}];
{decls}
{top} dut (
{conns}
);
wire [{ow_m1}:0] m_word = {{{m_word}}};
integer seed = 4242;
integer in_idx = 0;
integer out_idx = 0;
integer errors = 0;
integer i;
integer cycle = 0;
reg [127:0] op, op2, op3;
always @(posedge aclk) cycle = cycle + 1;

task fail;
    input [8*64-1:0] what;
    begin
        errors = errors + 1;
        if (errors < 20) $display("FAIL at cycle %0d (op %0d): %0s", cycle, i, what);
    end
endtask

task axil_write;
    input [{aw_m1}:0] a;
    input [31:0] d;
    input [3:0] s;
    input [1:0] er;
    input [7:0] order;
    integer t;
    reg aw_done, w_done, b_done;
    begin
        aw_done = 0; w_done = 0; b_done = 0; t = 0;
        awaddr <= a; wdata <= d; wstrb <= s; awprot <= 3'd2;
        awvalid <= (order != 2); wvalid <= (order != 1); bready <= $random(seed) & 1;
        while (!b_done) begin
            @(posedge aclk);
            t = t + 1;
            if (awvalid && awready) aw_done = 1;
            if (wvalid && wready) w_done = 1;
            if (bvalid && bready) begin
                b_done = 1;
                if (!(aw_done && w_done)) fail("BVALID before both AW and W handshakes");
                if (bresp !== er) begin
                    $display("write 0x%h = 0x%h strb %b: BRESP %0d, expected %0d", a, d, s, bresp, er);
                    fail("BRESP");
                end
            end
            awvalid <= !aw_done && (order != 2 || t >= 3);
            wvalid <= !w_done && (order != 1 || t >= 3);
            bready <= ($random(seed) & 3) != 0;
            if (t > 200) begin fail("write timeout"); b_done = 1; end
        end
        awvalid <= 0; wvalid <= 0; bready <= 0;
    end
endtask

task axil_read;
    input [{aw_m1}:0] a;
    input [31:0] ed;
    input [1:0] er;
    integer t;
    reg ar_done, r_done;
    begin
        ar_done = 0; r_done = 0; t = 0;
        araddr <= a; arvalid <= 1; arprot <= 3'd1; rready <= $random(seed) & 1;
        while (!r_done) begin
            @(posedge aclk);
            t = t + 1;
            if (arvalid && arready) ar_done = 1;
            if (rvalid && rready) begin
                r_done = 1;
                if (!ar_done) fail("RVALID before the AR handshake");
                if (rresp !== er || rdata !== ed) begin
                    $display("read 0x%h: 0x%h RRESP %0d, expected 0x%h RRESP %0d", a, rdata, rresp, ed, er);
                    fail("read");
                end
            end
            arvalid <= !ar_done;
            rready <= ($random(seed) & 3) != 0;
            if (t > 200) begin fail("read timeout"); r_done = 1; end
        end
        arvalid <= 0; rready <= 0;
    end
endtask

task stream;
    input [31:0] count;
    input [7:0] mode;
    integer got, stop, t, first_in, first_out;
    reg held;
    reg [{ow_m1}:0] held_word;
    begin
        got = 0; stop = in_idx + count; t = 0; first_in = -1; first_out = -1; held = 0;
        {{{s_word}}} <= in_mem[in_idx];
        s_tvalid <= 1;
        m_tready <= 1;
        while (got < count) begin
            @(posedge aclk);
            t = t + 1;
            if (s_tvalid && s_tready) begin
                if (first_in < 0) first_in = t;
                in_idx = in_idx + 1;
            end
            if (held && (!m_tvalid || m_word !== held_word)) fail("a stalled output beat changed");
            held = m_tvalid && !m_tready;
            held_word = m_word;
            if (m_tvalid && m_tready) begin
                if (m_word !== exp_mem[out_idx]) begin
                    if (errors < 10) $display("beat %0d: got %h, expected %h", out_idx, m_word, exp_mem[out_idx]);
                    fail("output beat");
                end
                if (first_out < 0) first_out = t;
                out_idx = out_idx + 1;
                got = got + 1;
            end
            if (!s_tvalid || s_tready) begin
                if (in_idx < stop && (mode == 0 || ($random(seed) & 3) != 0)) begin
                    {{{s_word}}} <= in_mem[in_idx];
                    s_tvalid <= 1;
                end else begin
                    s_tvalid <= 0;
                end
            end
            m_tready <= (mode == 0) || (($random(seed) & 3) != 0);
            if (t > 20 * count + 200) begin fail("stream timeout"); got = count; end
        end
        if (in_idx != stop) fail("more beats out than in");
        if (mode == 0 && first_out - first_in != LAT) begin
            $display("latency %0d, expected %0d", first_out - first_in, LAT);
            fail("latency");
        end
        s_tvalid <= 0;
        repeat (2) @(posedge aclk);
        if (m_tvalid) fail("extra output beat");
    end
endtask

initial begin
    $readmemh("ops.hex", ops);
    $readmemh("in.hex", in_mem);
    $readmemh("exp.hex", exp_mem);
    i = 0;
    op = ops[0];
    while (op[127:120] != 0) begin
        case (op[127:120])
            1: begin axil_write(op[95:64], op[63:32], op[111:104], op[103:96], op[119:112]); i = i + 1; end
            2: begin axil_read(op[95:64], op[31:0], op[103:96]); i = i + 1; end
            3: begin stream(op[31:0], op[119:112]); i = i + 1; end
            4: begin
                aresetn <= 0;
                repeat (op[119:112]) @(posedge aclk);
                aresetn <= 1;
                i = i + 1;
            end
            5: begin
                op2 = ops[i + 1]; op3 = ops[i + 2];
                fork
                    axil_write(op2[95:64], op2[63:32], op2[111:104], op2[103:96], op2[119:112]);
                    axil_read(op3[95:64], op3[31:0], op3[103:96]);
                join
                i = i + 3;
            end
            6: begin
                op2 = ops[i + 1]; op3 = ops[i + 2];
                fork
                    stream(op2[31:0], op2[119:112]);
                    begin
                        repeat (op[119:112]) @(posedge aclk);
                        axil_write(op3[95:64], op3[63:32], op3[111:104], op3[103:96], op3[119:112]);
                    end
                join
                i = i + 3;
            end
            default: begin fail("bad op"); i = i + 1; end
        endcase
        op = ops[i];
    end
    if (out_idx != {nb}) fail("not every beat came out");
    if (errors == 0) $display("PASS ops=%0d beats=%0d", i, out_idx);
    $finish;
end
endmodule
"#,
        lat = c.interface.latency_cycles,
        ops_m1 = script.ops.len() - 1,
        iw_m1 = iw - 1,
        ow_m1 = ow - 1,
        nb = script.beats,
        nb_m1 = script.beats.max(1) - 1,
        aw_m1 = aw - 1,
        top = c.interface.top,
        conns = conns.join(",\n"),
        m_word = word("m"),
        s_word = word("s"),
    )
}

/// Runs the AXI4-Lite testbench on `c`.
fn icarus_axilite_check(spec: &DatapathSpec, c: &GeneratedCore, dir: &Path) {
    let core_file = write_core(dir, c);
    let script = axilite_script(spec, c);
    std::fs::write(dir.join("ops.hex"), script.ops.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("in.hex"), &script.input).unwrap();
    std::fs::write(dir.join("exp.hex"), &script.expected).unwrap();
    let tb = dir.join("tb.v");
    std::fs::write(&tb, axilite_testbench(c, &script)).unwrap();
    let sim = dir.join("tb.vvp");
    run(
        tool("iverilog")
            .args(["-g2005", "-o"])
            .arg(&sim)
            .args(["-s", "tb"])
            .arg(&tb)
            .arg(&core_file),
        "iverilog AXI4-Lite testbench",
    );
    let log = run(
        tool("vvp").current_dir(dir).args(["-n"]).arg(&sim),
        "vvp AXI4-Lite testbench",
    );
    assert!(
        log.contains("PASS") && !log.contains("FAIL"),
        "{} ({} writes, {} reads, {} beats):\n{log}",
        c.file_name(),
        script.writes,
        script.reads,
        script.beats
    );
    eprintln!(
        "{}: {} writes, {} reads, {} beats: {}",
        c.interface.top,
        script.writes,
        script.reads,
        script.beats,
        log.trim()
    );
}

/// Every check on one axilite core; returns the Yosys resource counts.
fn check_axilite_core(spec: &DatapathSpec, c: &GeneratedCore) -> Resources {
    let dir = tempfile::tempdir().unwrap();
    verilator_lint(c, dir.path());
    iverilog_compile(c, dir.path());
    icarus_axilite_check(spec, c, dir.path());
    yosys_synth(c, dir.path())
}

/// Checks axilite cores two at a time.
fn check_all_axilite(cases: Vec<(String, DatapathSpec, usize, u32)>) {
    let cases: Vec<_> = cases
        .into_iter()
        .map(|(name, spec, lanes, tuser)| {
            let c = axilite_core(&spec, &name, lanes, tuser);
            (spec, c)
        })
        .collect();
    for pair in cases.chunks(2) {
        std::thread::scope(|s| {
            for (spec, c) in pair {
                s.spawn(move || {
                    let r = check_axilite_core(spec, c);
                    eprintln!("{}: {r:?}", c.interface.top);
                });
            }
        });
    }
}

#[test]
fn axilite_one_and_five_layers_are_clean_and_load_over_the_bus() {
    let one = spec_of_all(&[typical()], fmt(16, 6), fmt(16, 6));
    let five: Vec<FoldedLayer> = (0..5)
        .map(|l| repact_channels(&format!("block{l}.act"), 1, 1.0 + 0.5 * l as f64))
        .collect();
    let five8 = spec_of_all(&five, fmt(8, 4), fmt(8, 4));
    let five16 = spec_of_all(&five, fmt(16, 6), fmt(16, 6));
    check_all_axilite(vec![
        ("ax_l1_w16_n1".into(), one.clone(), 1, 0),
        ("ax_l1_w16_n4".into(), one, 4, 0),
        ("ax_l5_w8_n1".into(), five8.clone(), 1, 0),
        ("ax_l5_w8_n4".into(), five8, 4, 2),
        ("ax_l5_w16_n4".into(), five16, 4, 0),
    ]);
}

#[test]
fn axilite_channel_counts_at_run_time_are_right() {
    // C = 3 (layers of 3 and 1 channels) and C = 4 (4, 3 and 1): with 1 and 4 lanes every
    // run-time count 1..C meets lanes < ch, = ch and > ch; 16 lanes wrap several times a beat.
    let c3 = spec_of_all(
        &[
            repact_channels("stage2.act", 3, 1.0),
            repact_channels("stage3.act", 1, 2.0),
        ],
        fmt(16, 6),
        fmt(16, 6),
    );
    let c4 = spec_of_all(
        &[
            repact_channels("a.act", 4, 1.0),
            repact_channels("b.act", 3, 1.5),
            repact_channels("c.act", 1, 2.0),
        ],
        fmt(12, 5),
        fmt(12, 5),
    );
    let c3_w8 = spec_of_all(
        &[
            repact_channels("stage2.act", 3, 1.0),
            repact_channels("stage3.act", 2, 2.0),
        ],
        fmt(8, 4),
        fmt(8, 4),
    );
    check_all_axilite(vec![
        ("ax_c3_n1".into(), c3.clone(), 1, 0),
        ("ax_c3_n4".into(), c3, 4, 0),
        ("ax_c4_n1".into(), c4.clone(), 1, 0),
        ("ax_c4_n4".into(), c4, 4, 1),
        ("ax_c3_w8_n16".into(), c3_w8.clone(), 16, 0),
        ("ax_c3_w8_n2".into(), c3_w8, 2, 0),
    ]);
}

#[test]
fn axilite_segment_counts_are_clean() {
    // S = 6 (two copies of the threshold table), S = 3 (table address by an adder), S = 2
    // (a one-bit segment), S = 1 (no thresholds).
    let s6 = spec_of_all(
        &[
            piecewise("pw6.a", &[-2.0, -1.0, 0.0, 0.5, 1.5], 2),
            piecewise("pw6.b", &[-0.5, 0.5], 1),
        ],
        fmt(10, 4),
        fmt(10, 4),
    );
    let s3 = spec_of_all(
        &[
            piecewise("pw3.a", &[-1.0, 0.5], 3),
            piecewise("pw3.b", &[0.25], 1),
        ],
        fmt(12, 4),
        fmt(12, 4),
    );
    let s2 = spec_of_all(&[piecewise("pw2", &[0.0], 2)], fmt(8, 3), fmt(8, 3));
    let s1 = spec_of_all(
        &[piecewise("lin.a", &[], 1), piecewise("lin.b", &[], 2)],
        fmt(10, 4),
        fmt(10, 4),
    );
    check_all_axilite(vec![
        ("ax_s6_n4".into(), s6, 4, 0),
        ("ax_s3_n4".into(), s3.clone(), 4, 0),
        ("ax_s3_n1".into(), s3, 1, 0),
        ("ax_s2_n2".into(), s2, 2, 0),
        ("ax_s1_n4".into(), s1, 4, 0),
    ]);
}

/// The bundled network's five layers in one 16-bit axilite core, next to a baked core.
#[test]
fn axilite_bundled_network_resources() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/repact-digits/bn/model.safetensors");
    let net = repact_hw::weights::load(&path, &Default::default()).unwrap();
    let layers: Vec<FoldedLayer> = net
        .layers
        .iter()
        .map(repact_hw::model::fold)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(layers.len(), 5);
    let all = spec_of_all(&layers, fmt(16, 6), fmt(16, 6));
    let ax = axilite_core(&all, "repact_digits_axilite", 1, 0);
    let r = check_axilite_core(&all, &ax);
    eprintln!("bundled 5 layers, 16-bit, 1 lane, --coeffs axilite: {r:?}");
    let first = spec_of_all(&layers[..1], fmt(16, 6), fmt(16, 6));
    let baked = core(&first, "repact_digits_baked", 1, 0);
    let rb = check_core(&first, &baked);
    eprintln!("bundled layer 0, 16-bit, 1 lane, baked: {rb:?}");
    assert_eq!(
        r.dsp, 2,
        "the lane's two multiply-adds stay on two DSP48E1: {r:?}"
    );
}

#[test]
fn axilite_ports_and_facts_match_the_request() {
    let spec = spec_of_all(
        &[typical(), repact_channels("x.act", 3, 1.0)],
        fmt(12, 5),
        fmt(16, 6),
    );
    let c = axilite_core(&spec, "axfacts", 4, 3);
    let map = c.interface.register_map().copied().unwrap();
    assert_eq!(map, RegisterMap::for_spec(&spec));
    let a = map.address_bits();
    let baked = core(&spec, "axfacts", 4, 3);
    assert_eq!(
        c.interface.ports[..baked.interface.ports.len()],
        baked.interface.ports[..],
        "stream ports as baked"
    );
    let got: Vec<(&str, u32, PortDir)> = c.interface.ports[baked.interface.ports.len()..]
        .iter()
        .map(|p| (p.name.as_str(), p.width, p.dir))
        .collect();
    use PortDir::{In, Out};
    assert_eq!(
        got,
        vec![
            ("s_axi_awaddr", a, In),
            ("s_axi_awprot", 3, In),
            ("s_axi_awvalid", 1, In),
            ("s_axi_awready", 1, Out),
            ("s_axi_wdata", 32, In),
            ("s_axi_wstrb", 4, In),
            ("s_axi_wvalid", 1, In),
            ("s_axi_wready", 1, Out),
            ("s_axi_bresp", 2, Out),
            ("s_axi_bvalid", 1, Out),
            ("s_axi_bready", 1, In),
            ("s_axi_araddr", a, In),
            ("s_axi_arprot", 3, In),
            ("s_axi_arvalid", 1, In),
            ("s_axi_arready", 1, Out),
            ("s_axi_rdata", 32, Out),
            ("s_axi_rresp", 2, Out),
            ("s_axi_rvalid", 1, Out),
            ("s_axi_rready", 1, In),
        ]
    );
    assert_eq!(
        c.interface.latency_cycles,
        repact_hw::hdl::axis_latency(&spec)
    );
    assert_eq!(
        (
            c.interface.stream.lanes,
            c.interface.stream.s_tdata(),
            c.interface.stream.m_tdata(),
            c.interface.first_layer()
        ),
        (4, 64, 64, 0)
    );
    assert!(baked.interface.register_map().copied().is_none());
    // The header carries the register map, generated from the regmap module.
    for r in &repact_hw::hdl::regmap::REGISTERS {
        assert!(
            c.verilog.contains(r.name),
            "{} missing from the header",
            r.name
        );
    }
    assert_eq!(c, axilite_core(&spec, "axfacts", 4, 3), "deterministic");
    assert!(!c.verilog.contains('$'));
    let err = generate_axilite(
        &spec,
        &CoreOptions {
            lanes: 3,
            ..CoreOptions::new("ax")
        },
    )
    .unwrap_err()
    .to_string();
    assert_eq!(err, "--lanes must be one of 1, 2, 4, 8, 16, got 3");
}
