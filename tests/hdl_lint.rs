//! The generated Verilog against the real tools: Verilator `--lint-only -Wall` with zero
//! warnings, Icarus `-g2005`, Yosys `synth_xilinx` without latches, and an Icarus testbench that
//! streams random beats with random stalls on both sides and checks every output beat against
//! the golden model (a quick sanity check; the full co-simulation lives in `src/sim/`).
//!
//! Missing tools fail the tests with an install hint: a silent skip would hide a broken check.

use repact_hw::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use repact_hw::hdl::{generate_baked, sanitize_identifier, CoreOptions, GeneratedCore, PortDir};
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
    let path = dir.join(&c.file_name);
    std::fs::write(&path, &c.verilog).unwrap();
    path
}

fn verilator_lint(c: &GeneratedCore, dir: &Path) {
    let f = write_core(dir, c);
    let text = run(
        tool("verilator")
            .args(["--lint-only", "-Wall", "--top-module", &c.top])
            .arg(&f),
        &format!("verilator --lint-only -Wall {}", c.file_name),
    );
    assert!(
        text.trim().is_empty(),
        "verilator printed something for {}:\n{text}",
        c.file_name
    );
}

fn iverilog_compile(c: &GeneratedCore, dir: &Path) {
    let f = write_core(dir, c);
    let text = run(
        tool("iverilog")
            .args(["-g2005", "-Wall", "-o"])
            .arg(dir.join("a.out"))
            .args(["-s", &c.top])
            .arg(&f),
        &format!("iverilog -g2005 {}", c.file_name),
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
    latches: u64,
}

fn yosys_synth(c: &GeneratedCore, dir: &Path) -> Resources {
    let f = write_core(dir, c);
    let script = format!(
        "read_verilog {}; synth_xilinx -family xc7 -noiopad -noclkbuf -flatten -top {}; stat",
        f.display(),
        c.top
    );
    let log = run(
        tool("yosys").args(["-p", &script]),
        &format!("yosys synth_xilinx {}", c.file_name),
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
            c if c.starts_with("LD") || c.contains("latch") || c.contains("dlatch") => {
                r.latches += n
            }
            _ => {}
        }
    }
    assert_eq!(r.latches, 0, "latches in {}:\n{stat}", c.file_name);
    assert!(
        !log.contains("Latch inferred"),
        "yosys inferred a latch in {}:\n{log}",
        c.file_name
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
    let (fin, fout) = (spec.input(), spec.output());
    let (s_slot, m_slot) = (fin.slot_bits(), fout.slot_bits());
    let (s_bytes, m_bytes) = (s_slot / 8, m_slot / 8);
    let layer = &spec.layers()[c.layer];
    let channels = layer.channels();
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
    for _ in 0..beats {
        let (mut iw, mut ow) = (Word::default(), Word::default());
        let mut xs = Vec::new();
        let mut keeps = Vec::new();
        for _ in 0..c.lanes {
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
        for _ in 0..c.lanes {
            let keep = if rng.below(4) == 0 {
                rng.next() & mask(s_bytes)
            } else {
                mask(s_bytes)
            };
            keeps.push(keep == mask(s_bytes));
            iw.push(keep, s_bytes);
        }
        let last = rng.below(5) == 0;
        let user = rng.next() & mask(c.tuser_width);
        iw.push(last as u64, 1);
        iw.push(user, c.tuser_width);
        for (i, &x) in xs.iter().enumerate() {
            let ch = (beat_in_packet * c.lanes + i) % channels;
            let y = spec.eval_raw(c.layer, ch, x);
            assert_eq!(fout.sign_extend(y as u64), y);
            ow.push(y as u64 & mask(m_slot), m_slot);
        }
        for &k in &keeps {
            ow.push(if k { mask(m_bytes) } else { 0 }, m_bytes);
        }
        ow.push(last as u64, 1);
        ow.push(user, c.tuser_width);
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
    let width = |name: &str| c.ports.iter().find(|p| p.name == name).unwrap().width;
    let u = c.tuser_width;
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
    for p in &c.ports {
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
        lat = c.latency_cycles,
        iw_m1 = iw - 1,
        ow_m1 = ow - 1,
        top = c.top,
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
            log.contains(&format!("PASS latency={}", c.latency_cycles))
                || mode == 1 && log.contains("PASS"),
            "{} (mode {mode}):\n{log}",
            c.file_name
        );
        assert!(
            !log.contains("FAIL"),
            "{} (mode {mode}):\n{log}",
            c.file_name
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
                    eprintln!("{}: {r:?}", c.top);
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
        (c.s_tdata_width, c.m_tdata_width, c.tuser_width),
        (64, 64, 3)
    );
    assert_eq!(c.latency_cycles, spec.latency() + 1);
    assert_eq!(c.latency_cycles, repact_hw::hdl::axis_latency(&spec));
    assert_eq!(c.file_name, "facts.v");
    assert!(c.verilog.contains("module facts\n"));
    assert!(c.verilog.contains("module facts_lane\n"));
    for p in &c.ports {
        let dir = if p.dir == In { "input " } else { "output" };
        assert!(c.verilog.contains(&format!("{dir} wire")), "{}", p.name);
    }
    let c1 = core(&spec, "facts", 1, 0);
    assert!(!c1.ports.iter().any(|p| p.name.ends_with("tuser")));
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
