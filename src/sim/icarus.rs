//! Replays recorded stimulus through Icarus Verilog, a second, independent, 4-state simulator.
//!
//! Verilator (see [`crate::sim::verilator`]) is 2-state and starts every register at 0, so
//! a missing reset or an undriven signal is invisible there. [`replay`] drives the same
//! Verilog with the same per-cycle inputs in Icarus, with the timing of
//! [`crate::sim::verilator::VerilatedModel::tick`], and reports every output after each rising
//! edge together with whether any of its bits was X or Z. Comparing the two runs cycle for
//! cycle cross-checks the simulators; an X in Icarus points at state that depends on the
//! power-up value.
//!
//! Values use one flat layout per cycle: for each port in port order (inputs without the
//! clock, or outputs), `ceil(width / 64)` little-endian 64-bit words.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use super::ports::{check_port_list, input_words, is_identifier, top_word_mask, words, words64};
use super::verilator::{run_tool, tail, tool_err, write_file};
use crate::hdl::{Port, PortDir};
use crate::{Error, Result};

/// Name of the generated testbench module; must not clash with a module of the design.
const BENCH_MODULE: &str = "repact_icarus_bench";

/// Prefix of every testbench-internal name, kept apart from the design's port names.
const BENCH_PREFIX: &str = "repact_tb_";

/// Outputs of an Icarus replay, one entry per stimulus cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcarusRun {
    /// The output ports, in port order.
    pub output_ports: Vec<Port>,
    /// Per cycle, all outputs sampled after the rising edge, in the flat layout (X and Z
    /// bits read as 0).
    pub outputs: Vec<Vec<u64>>,
    /// Per cycle and output port (index into `output_ports`): whether any bit was X or Z.
    pub xz: Vec<Vec<bool>>,
    /// Per cycle, in the layout of `outputs`: a 1 for every bit that was X or Z.
    pub xz_mask: Vec<Vec<u64>>,
}

impl IcarusRun {
    /// Number of simulated cycles.
    pub fn cycles(&self) -> usize {
        self.outputs.len()
    }

    /// The words of output port `output` (index into `output_ports`) at `cycle`.
    ///
    /// Panics if `cycle` or `output` is out of range.
    pub fn output(&self, cycle: usize, output: usize) -> &[u64] {
        let (at, n) = self.span(output);
        &self.outputs[cycle][at..at + n]
    }

    /// The low 64 bits of output port `output` (index into `output_ports`) at `cycle`.
    ///
    /// Panics if `cycle` or `output` is out of range.
    pub fn output_u64(&self, cycle: usize, output: usize) -> u64 {
        self.output(cycle, output)[0]
    }

    /// Whether any output bit was X or Z in any cycle.
    pub fn any_xz(&self) -> bool {
        self.xz.iter().flatten().any(|&b| b)
    }

    /// The first cycle at which any output had an X or Z bit.
    pub fn first_xz_cycle(&self) -> Option<usize> {
        self.xz.iter().position(|c| c.iter().any(|&b| b))
    }

    fn span(&self, output: usize) -> (usize, usize) {
        let at = self.output_ports[..output].iter().map(words).sum();
        (at, words(&self.output_ports[output]))
    }
}

/// The version line of the installed Icarus Verilog, e.g. `Icarus Verilog version 11.0 (stable) ()`.
///
/// Fails with [`Error::Tool`] (saying how to install it) when `iverilog` cannot be run.
pub fn icarus_version() -> Result<String> {
    let out = run_tool(Command::new("iverilog").arg("-V"), "iverilog")?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(text
        .lines()
        .find(|l| l.contains("Icarus Verilog"))
        .unwrap_or("")
        .trim()
        .to_string())
}

/// Simulates `verilog` (top module `top`) in Icarus Verilog for `inputs.len()` cycles.
///
/// `inputs[c]` holds cycle `c`'s values of every input port except `clock`, in port order,
/// each as `ceil(width / 64)` little-endian 64-bit words (bits above the width are ignored).
/// Each cycle: the inputs change while the clock is high (low before the first cycle), the
/// clock falls, rises, and then all outputs are sampled — the sequence of setting inputs,
/// [`tick`](crate::sim::verilator::VerilatedModel::tick) and reading outputs on a Verilator
/// model, so the two runs compare cycle for cycle.
///
/// The testbench, design, stimulus and output files are written to `work_dir` (created if
/// missing; use one directory per concurrent replay) and left there for inspection.
///
/// Errors: [`Error::Tool`] when Icarus is missing or fails, when the stimulus has the wrong
/// shape, or when the port list does not match the design; [`Error::Io`] for files.
pub fn replay(
    verilog: &str,
    top: &str,
    ports: &[Port],
    clock: &str,
    inputs: &[Vec<u64>],
    work_dir: &Path,
) -> Result<IcarusRun> {
    let output_ports: Vec<Port> = ports
        .iter()
        .filter(|p| p.dir == PortDir::Out)
        .cloned()
        .collect();
    let fmt = vec!["%b"; output_ports.len()].join(" ");
    let args: String = output_ports
        .iter()
        .map(|p| format!(", {}", p.name))
        .collect();
    let sample = Sampler {
        declarations: String::new(),
        start: String::new(),
        each_cycle: format!("      #10 $fdisplay({BENCH_PREFIX}fd, \"{fmt}\"{args});\n"),
        end: String::new(),
    };
    let Some(text) = simulate(verilog, top, ports, clock, inputs, &sample, work_dir)? else {
        return Ok(IcarusRun {
            output_ports,
            outputs: Vec::new(),
            xz: Vec::new(),
            xz_mask: Vec::new(),
        });
    };
    let run = parse_outputs(&text, output_ports)?;
    if run.cycles() != inputs.len() {
        return Err(stopped_early(run.cycles(), inputs.len(), &text));
    }
    Ok(run)
}

/// What [`replay_and_compare`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayCheck {
    /// Cycles simulated.
    pub cycles: usize,
    /// Cycles in which a compared output differed from the expected value (4-state: an X or
    /// Z bit differs from every expected 0 or 1).
    pub mismatches: u64,
    /// Cycles in which a compared output had an X or Z bit.
    pub xz: u64,
    /// The first of either, in words.
    pub first: Option<String>,
}

/// Which outputs [`replay_and_compare`] compares in a cycle.
pub struct CompareRule<'a> {
    /// An output that qualifies the others: they are compared only in cycles where its
    /// expected value is 1 (AXI4-Stream leaves data undefined while `tvalid` is low). `None`:
    /// every output in every cycle.
    pub qualifier: Option<&'a str>,
    /// Outputs compared in every cycle whatever the qualifier says (e.g. valid and ready).
    pub always: &'a dyn Fn(&Port) -> bool,
}

/// [`replay`], but the comparison with `expected` (per cycle, every output in the layout of
/// [`IcarusRun::outputs`], e.g. a Verilator run's) happens inside Icarus, which prints only
/// the verdict: formatting every output of every cycle as text, and parsing it back, was
/// three quarters of a replay's time.
///
/// Errors as for [`replay`], and when `expected` has fewer cycles than `inputs` or a cycle of
/// the wrong length, or the qualifier is not a 1-bit output.
#[allow(clippy::too_many_arguments)]
pub fn replay_and_compare(
    verilog: &str,
    top: &str,
    ports: &[Port],
    clock: &str,
    inputs: &[Vec<u64>],
    expected: &[Vec<u64>],
    rule: &CompareRule,
    work_dir: &Path,
) -> Result<ReplayCheck> {
    let outs: Vec<&Port> = ports.iter().filter(|p| p.dir == PortDir::Out).collect();
    if outs.is_empty() {
        return Err(tool_err(
            "iverilog",
            format!("`{top}` has no outputs to compare"),
        ));
    }
    let per_cycle: usize = outs.iter().map(|p| words(p)).sum();
    if expected.len() < inputs.len() || expected.iter().any(|v| v.len() != per_cycle) {
        return Err(tool_err(
            "iverilog",
            format!(
                "expected outputs: {} cycles for {} of stimulus, each must have {per_cycle} words",
                expected.len(),
                inputs.len()
            ),
        ));
    }
    let exp_bits: u32 = outs.iter().map(|p| p.width).sum::<u32>().max(1);
    // Bit offset of each output in an expected word: the first port highest, as in
    // `stimulus_hex`.
    let mut offsets = vec![0u32; outs.len()];
    let mut at = 0;
    for (i, p) in outs.iter().enumerate().rev() {
        offsets[i] = at;
        at += p.width;
    }
    let qualifier = match rule.qualifier {
        None => "1'b1".to_string(),
        Some(q) => match outs.iter().position(|p| p.name == q && p.width == 1) {
            Some(i) => format!("{BENCH_PREFIX}e[{}]", offsets[i]),
            None => {
                return Err(tool_err(
                    "iverilog",
                    format!("the qualifier `{q}` is not a 1-bit output of `{top}`"),
                ))
            }
        },
    };
    let t = BENCH_PREFIX;
    let e_bits = exp_bits;
    // Which bits are compared: every output while the qualifier is high, else the `always`
    // ones. One masked 4-state comparison of all outputs per cycle (per-port comparisons cost
    // as much as the design's own simulation); ports are looked at one by one only to word
    // the first failure.
    let mask = |all: bool| {
        let words: Vec<u64> = outs
            .iter()
            .flat_map(|p| {
                let on = all || (rule.always)(p);
                std::iter::repeat_n(if on { u64::MAX } else { 0 }, words(p))
            })
            .collect();
        let hex = stimulus_hex(&outs, &[words], e_bits);
        format!("{e_bits}'h{}", hex.trim())
    };
    let names: Vec<&str> = outs.iter().map(|p| p.name.as_str()).collect();
    let mut each = format!(
        "      #10;\n\
         \x20     {t}e = {t}exp[{t}i];\n\
         \x20     {t}m = {qualifier} ? {} : {};\n\
         \x20     {t}g = {t}got & {t}m;\n\
         \x20     {t}bad = ({t}g !== ({t}e & {t}m));\n\
         \x20     {t}x = (^{t}g === 1'bx);\n\
         \x20     if ({t}bad) {t}mism = {t}mism + 1;\n\
         \x20     if ({t}x) {t}xzc = {t}xzc + 1;\n\
         \x20     if (({t}bad || {t}x) && !{t}seen) begin\n\
         \x20       {t}seen = 1;\n\
         \x20       {t}k = -1;\n",
        mask(true),
        mask(false)
    );
    for (k, p) in outs.iter().enumerate() {
        let cond = if (rule.always)(p) {
            "1'b1".to_string()
        } else {
            qualifier.clone()
        };
        let want = format!("{t}e[{} +: {}]", offsets[k], p.width);
        let n = &p.name;
        let _ = writeln!(
            each,
            "        if ({t}k < 0 && {cond} && {n} !== {want}) begin\n\
             \x20         $fdisplay({t}fd, \"mismatch %0d {k} %h %h\", {t}i, {want}, {n});\n\
             \x20         {t}k = {k};\n\
             \x20       end"
        );
    }
    let _ = write!(
        each,
        "        if ({t}k < 0) $fdisplay({t}fd, \"xz %0d\", {t}i);\n      end\n"
    );
    let sample = Sampler {
        declarations: format!(
            "  reg [{w}:0] {t}exp [0:{}];\n  reg [{w}:0] {t}e, {t}m, {t}g;\n  \
             wire [{w}:0] {t}got = {{{}}};\n  reg {t}bad, {t}x, {t}seen;\n  \
             integer {t}mism, {t}xzc, {t}k;\n",
            inputs.len().max(1) - 1,
            names.join(", "),
            w = e_bits - 1,
        ),
        start: format!(
            "    $readmemh(\"expected.hex\", {t}exp);\n    {t}seen = 0;\n    {t}mism = 0;\n    \
             {t}xzc = 0;\n"
        ),
        each_cycle: each,
        end: format!("    $fdisplay({t}fd, \"done %0d %0d %0d\", {t}i, {t}mism, {t}xzc);\n"),
    };
    if !inputs.is_empty() {
        fs::create_dir_all(work_dir).map_err(|e| Error::io(work_dir, e))?;
        write_file(
            &work_dir.join("expected.hex"),
            &stimulus_hex(&outs, &expected[..inputs.len()], exp_bits),
        )?;
    }
    let Some(text) = simulate(verilog, top, ports, clock, inputs, &sample, work_dir)? else {
        return Ok(ReplayCheck::default());
    };
    let mut check = ReplayCheck::default();
    let mut done = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["mismatch", c, k, want, got] => {
                let name = k
                    .parse::<usize>()
                    .ok()
                    .and_then(|k| outs.get(k))
                    .map_or("?", |p| p.name.as_str());
                check.first = Some(format!(
                    "cycle {c} of the replay: `{name}` is 0x{want} in Verilator, 0x{got} in Icarus"
                ));
            }
            ["xz", c] => {
                check.first = Some(format!(
                    "cycle {c} of the replay: X or Z on a defined output"
                ));
            }
            ["done", n, m, x] => {
                let num = |v: &str| v.parse::<u64>().unwrap_or(u64::MAX);
                check.cycles = num(n) as usize;
                check.mismatches = num(m);
                check.xz = num(x);
                done = true;
            }
            _ => {}
        }
    }
    if !done || check.cycles != inputs.len() {
        return Err(stopped_early(
            if done { check.cycles } else { 0 },
            inputs.len(),
            &text,
        ));
    }
    Ok(check)
}

fn stopped_early(ran: usize, cycles: usize, output: &str) -> Error {
    tool_err(
        "vvp",
        format!(
            "the simulation stopped after {ran} of {cycles} cycles ($finish or $stop in the \
             design?):\n{}",
            tail(output.trim(), 2000)
        ),
    )
}

/// How a bench samples the outputs: Verilog pasted into it (see [`bench`]).
struct Sampler {
    /// Module-level declarations.
    declarations: String,
    /// Statements after the stimulus is read, before the first cycle.
    start: String,
    /// Statements after each rising edge.
    each_cycle: String,
    /// Statements after the last cycle, before the output file is closed.
    end: String,
}

/// Writes design, stimulus and bench to `work_dir`, compiles and runs them; returns what the
/// bench wrote to `outputs.txt`, or `None` when there is no stimulus (nothing to run).
fn simulate(
    verilog: &str,
    top: &str,
    ports: &[Port],
    clock: &str,
    inputs: &[Vec<u64>],
    sample: &Sampler,
    work_dir: &Path,
) -> Result<Option<String>> {
    validate(verilog, top, ports, clock)?;
    let in_ports: Vec<&Port> = ports
        .iter()
        .filter(|p| p.dir == PortDir::In && p.name != clock)
        .collect();
    let per_cycle = input_words(ports, clock);
    if let Some((c, v)) = inputs
        .iter()
        .enumerate()
        .find(|(_, v)| v.len() != per_cycle)
    {
        return Err(tool_err(
            "iverilog",
            format!(
                "stimulus cycle {c} has {} words; the inputs need {per_cycle} \
                 (ceil(width/64) words per input port, clock excluded)",
                v.len()
            ),
        ));
    }
    if inputs.is_empty() {
        return Ok(None);
    }
    fs::create_dir_all(work_dir).map_err(|e| Error::io(work_dir, e))?;

    let total_bits: u32 = in_ports.iter().map(|p| p.width).sum();
    write_file(&work_dir.join("design.v"), verilog)?;
    write_file(
        &work_dir.join("stimulus.hex"),
        &stimulus_hex(&in_ports, inputs, total_bits),
    )?;
    write_file(
        &work_dir.join("bench.v"),
        &bench(
            top,
            ports,
            clock,
            &in_ports,
            inputs.len(),
            total_bits,
            sample,
        ),
    )?;

    let compiled = run_tool(
        Command::new("iverilog").current_dir(work_dir).args([
            "-g2005",
            "-Wportbind",
            "-o",
            "bench.vvp",
            "bench.v",
            "design.v",
        ]),
        "iverilog",
    )?;
    // Port-binding warnings on the bench's instance mean the port list and the design
    // disagree; Icarus would pad or float those ports and the replay would be meaningless.
    let warnings = String::from_utf8_lossy(&compiled.stderr);
    let binding: Vec<&str> = warnings
        .lines()
        .filter(|l| {
            l.starts_with("bench.v:") && (l.contains("warning: Port") || l.contains("dangling"))
        })
        .collect();
    if !binding.is_empty() {
        return Err(tool_err(
            "iverilog",
            format!(
                "port list does not match the design:\n{}",
                binding.join("\n")
            ),
        ));
    }

    let out_path = work_dir.join("outputs.txt");
    let _ = fs::remove_file(&out_path);
    // -n: a $stop in the design ends the run instead of waiting for interactive input.
    let ran = run_tool(
        Command::new("vvp")
            .current_dir(work_dir)
            .args(["-n", "bench.vvp"]),
        "vvp",
    )?;
    match fs::read_to_string(&out_path) {
        Ok(text) => Ok(Some(text)),
        // No output file at all: the design ended the run before the bench wrote anything.
        Err(_) => Err(stopped_early(
            0,
            inputs.len(),
            &String::from_utf8_lossy(&ran.stdout),
        )),
    }
}

fn validate(verilog: &str, top: &str, ports: &[Port], clock: &str) -> Result<()> {
    let bad = |reason: String| Err(tool_err("iverilog", reason));
    if !is_identifier(top) {
        return bad(format!("top module `{top}` is not a plain identifier"));
    }
    if verilog.contains(BENCH_MODULE) {
        return bad(format!(
            "the design uses the name `{BENCH_MODULE}` reserved for the testbench"
        ));
    }
    check_port_list(ports, clock, |n| {
        (!is_identifier(n) || n.starts_with(BENCH_PREFIX)).then(|| {
            format!("port `{n}` must be a plain identifier not starting with `{BENCH_PREFIX}`")
        })
    })
    .or_else(bad)
}

/// One line per cycle: all inputs concatenated, first port in the most significant bits,
/// as `$readmemh` reads a `[total_bits-1:0]` memory word.
fn stimulus_hex(in_ports: &[&Port], inputs: &[Vec<u64>], total_bits: u32) -> String {
    let bits = total_bits.max(1);
    let digits = bits.div_ceil(4) as usize;
    let mut text = String::with_capacity(inputs.len() * (digits + 1));
    let mut acc = vec![0u64; words64(bits)];
    for cycle in inputs {
        acc.fill(0);
        // Last port at bit 0, as in a Verilog concatenation.
        let mut shift = 0u32;
        let mut at = cycle.len();
        for p in in_ports.iter().rev() {
            let n = words(p);
            at -= n;
            for (k, &w) in cycle[at..at + n].iter().enumerate() {
                let w = if k + 1 == n {
                    w & top_word_mask(p.width)
                } else {
                    w
                };
                or_bits(&mut acc, shift + 64 * k as u32, w);
            }
            shift += p.width;
        }
        for d in (0..digits).rev() {
            let nibble = (acc[d / 16] >> (4 * (d % 16))) & 0xf;
            text.push(char::from_digit(nibble as u32, 16).unwrap_or('0'));
        }
        text.push('\n');
    }
    text
}

/// ORs `value` into the little-endian bit vector `acc` at bit offset `at`.
fn or_bits(acc: &mut [u64], at: u32, value: u64) {
    let (word, bit) = ((at / 64) as usize, at % 64);
    if let Some(w) = acc.get_mut(word) {
        *w |= value << bit;
    }
    if bit != 0 {
        if let Some(w) = acc.get_mut(word + 1) {
            *w |= value >> (64 - bit);
        }
    }
}

fn bench(
    top: &str,
    ports: &[Port],
    clock: &str,
    in_ports: &[&Port],
    cycles: usize,
    total_bits: u32,
    sample: &Sampler,
) -> String {
    let range = |w: u32| {
        if w == 1 {
            String::new()
        } else {
            format!("[{}:0] ", w - 1)
        }
    };
    let mut v = String::new();
    let _ = writeln!(
        v,
        "// Generated by repact-hw (src/sim/icarus.rs): replays stimulus.hex through `{top}`."
    );
    let _ = writeln!(v, "module {BENCH_MODULE};");
    // Low before the first cycle, as Verilator's zero-initialised clock.
    let _ = writeln!(v, "  reg {clock} = 1'b0;");
    for p in in_ports {
        let _ = writeln!(v, "  reg {}{};", range(p.width), p.name);
    }
    for p in ports.iter().filter(|p| p.dir == PortDir::Out) {
        let _ = writeln!(v, "  wire {}{};", range(p.width), p.name);
    }
    let _ = writeln!(
        v,
        "  reg [{}:0] {BENCH_PREFIX}mem [0:{}];",
        total_bits.max(1) - 1,
        cycles - 1
    );
    let _ = writeln!(v, "  integer {BENCH_PREFIX}i;");
    let _ = writeln!(v, "  integer {BENCH_PREFIX}fd;");
    v.push_str(&sample.declarations);
    let conns: Vec<String> = ports.iter().map(|p| format!(".{0}({0})", p.name)).collect();
    let _ = writeln!(v, "  {top} {BENCH_PREFIX}dut ({});", conns.join(", "));
    let _ = writeln!(v, "  initial begin");
    let _ = writeln!(v, "    $readmemh(\"stimulus.hex\", {BENCH_PREFIX}mem);");
    let _ = writeln!(v, "    {BENCH_PREFIX}fd = $fopen(\"outputs.txt\", \"w\");");
    v.push_str(&sample.start);
    let _ = writeln!(
        v,
        "    for ({BENCH_PREFIX}i = 0; {BENCH_PREFIX}i < {cycles}; {BENCH_PREFIX}i = {BENCH_PREFIX}i + 1) begin"
    );
    if !in_ports.is_empty() {
        let names: Vec<&str> = in_ports.iter().map(|p| p.name.as_str()).collect();
        let _ = writeln!(
            v,
            "      {{{}}} = {BENCH_PREFIX}mem[{BENCH_PREFIX}i];",
            names.join(", ")
        );
    }
    // Delays of 10 keep clear of small `#1`-style delays inside hand-written designs.
    let _ = writeln!(v, "      #10 {clock} = 1'b0;");
    let _ = writeln!(v, "      #10 {clock} = 1'b1;");
    v.push_str(&sample.each_cycle);
    let _ = writeln!(v, "    end");
    v.push_str(&sample.end);
    let _ = writeln!(v, "    $fclose({BENCH_PREFIX}fd);");
    let _ = writeln!(v, "    $finish;");
    let _ = writeln!(v, "  end");
    let _ = writeln!(v, "endmodule");
    v
}

/// Parses one `%b` line per cycle: each output as `width` characters of 0/1/x/z.
fn parse_outputs(text: &str, output_ports: Vec<Port>) -> Result<IcarusRun> {
    let total_words: usize = output_ports.iter().map(words).sum();
    let mut run = IcarusRun {
        output_ports,
        outputs: Vec::new(),
        xz: Vec::new(),
        xz_mask: Vec::new(),
    };
    for (line_no, line) in text.lines().enumerate() {
        let mut values = vec![0u64; total_words];
        let mut mask = vec![0u64; total_words];
        let mut flags = Vec::with_capacity(run.output_ports.len());
        let mut tokens = line.split_whitespace();
        let mut at = 0;
        for p in &run.output_ports {
            let bad = |why: &str| {
                tool_err(
                    "vvp",
                    format!(
                        "outputs.txt line {}: port `{}`: {why}: `{}`",
                        line_no + 1,
                        p.name,
                        tail(line, 200)
                    ),
                )
            };
            let tok = tokens.next().ok_or_else(|| bad("missing value"))?;
            if tok.len() != p.width as usize {
                return Err(bad("wrong number of bits"));
            }
            let mut any = false;
            for (i, ch) in tok.bytes().enumerate() {
                let bit = p.width as usize - 1 - i;
                let (w, b) = (at + bit / 64, bit % 64);
                match ch {
                    b'0' => {}
                    b'1' => values[w] |= 1 << b,
                    b'x' | b'X' | b'z' | b'Z' => {
                        mask[w] |= 1 << b;
                        any = true;
                    }
                    _ => return Err(bad("unexpected character")),
                }
            }
            flags.push(any);
            at += words(p);
        }
        run.outputs.push(values);
        run.xz_mask.push(mask);
        run.xz.push(flags);
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_concatenates_first_port_high() {
        let a = Port::input("a", 4);
        let b = Port::input("b", 70);
        let ports = [&a, &b];
        // a = 0xA, b = 0x3F << 64 | 1
        let hex = stimulus_hex(&ports, &[vec![0xA, 1, 0x3F]], 74);
        // 74 bits -> 19 hex digits; a occupies bits 73..70.
        let expect = (0xAu128 << 70) | (0x3Fu128 << 64) | 1;
        assert_eq!(hex.trim(), format!("{expect:019x}"));
    }

    /// `q` has no reset: X until the first write, while `v` says whether it is defined.
    const UNRESET: &str = "module unreset (input wire clk, input wire hold, input wire [3:0] d,\n\
        output reg [3:0] q, output reg v);\n\
        initial v = 1'b0;\n\
        always @(posedge clk) begin v <= !hold; if (!hold) q <= d; end\nendmodule\n";

    fn unreset_ports() -> Vec<Port> {
        vec![
            Port::input("clk", 1),
            Port::input("hold", 1),
            Port::input("d", 4),
            Port::output("q", 4),
            Port::output("v", 1),
        ]
    }

    #[test]
    fn compare_inside_icarus_sees_mismatches_and_x_where_it_looks() {
        if icarus_version().is_err() {
            panic!(
                "this test needs Icarus Verilog; {}",
                super::super::verilator::INSTALL_HINT
            );
        }
        let ports = unreset_ports();
        // Cycle 0 holds (q stays X, v = 0), cycle 1 writes 5.
        let inputs = vec![vec![1, 0], vec![0, 5]];
        let qualified = CompareRule {
            qualifier: Some("v"),
            always: &|p: &Port| p.name == "v",
        };
        let run = |expected: &[Vec<u64>], rule: &CompareRule| {
            let dir = tempfile::tempdir().unwrap();
            replay_and_compare(
                UNRESET,
                "unreset",
                &ports,
                "clk",
                &inputs,
                expected,
                rule,
                dir.path(),
            )
            .unwrap()
        };
        let right = [vec![0, 0], vec![5, 1]];
        let ok = run(&right, &qualified);
        assert_eq!((ok.cycles, ok.mismatches, ok.xz, ok.first), (2, 0, 0, None));

        let wrong = [vec![0, 0], vec![6, 1]];
        let bad = run(&wrong, &qualified);
        assert_eq!((bad.mismatches, bad.xz), (1, 0));
        let first = bad.first.unwrap();
        assert!(
            first.contains("cycle 1") && first.contains("`q`") && first.contains("0x6"),
            "{first}"
        );

        // Compared in every cycle, the undefined q of cycle 0 is an X, and differs from 0.
        let everything = CompareRule {
            qualifier: None,
            always: &|_: &Port| false,
        };
        let x = run(&right, &everything);
        assert_eq!((x.mismatches, x.xz), (1, 1));
        assert!(x.first.unwrap().contains("cycle 0"));

        let e = replay_and_compare(
            UNRESET,
            "unreset",
            &ports,
            "clk",
            &inputs,
            &right[..1],
            &qualified,
            tempfile::tempdir().unwrap().path(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("expected outputs"), "{e}");
    }

    #[test]
    fn parses_x_and_z() {
        let ports = vec![Port::output("y", 4), Port::output("w", 66)];
        let line = format!("1x0z 10{}", "0".repeat(63) + "1");
        let run = parse_outputs(&line, ports).unwrap();
        assert_eq!(run.outputs[0], vec![0b1000, 1, 0b10]);
        assert_eq!(run.xz[0], vec![true, false]);
        assert_eq!(run.xz_mask[0][0], 0b0101);
        assert_eq!(run.output(0, 1), &[1, 0b10]);
    }
}
