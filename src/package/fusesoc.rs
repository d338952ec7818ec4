//! FuseSoC / edalize: a CAPI2 core file per generated core (`<top>.core` at the top of the IP
//! directory), with a self-checking Verilog testbench (`sim/<top>_tb.v`) and the golden
//! model's vectors for it (`sim/<top>_vectors.hex`).
//!
//! Filesets: `rtl` (the core's Verilog), `ooc_constraints` (its out-of-context XDC), `tb` (the
//! testbench). Targets: `default`, `lint` (Verilator `--lint-only -Wall`), `sim` (Icarus by
//! default, `--tool verilator` runs it as a Verilator `--binary`), `synth` (Vivado, the part of
//! `--part`). The testbench streams every vector through the core's AXI4-Stream ports with
//! pseudo-random `tvalid` gaps and `tready` backpressure in one packet, compares every output
//! sample, TLAST (and TUSER) with what the golden model ([`DatapathSpec::eval_raw`]) gives,
//! and ends with `$fatal` on any difference, so `fusesoc run` fails. A run-time-coefficient core
//! first loads layer 0 into slot 0 over AXI4-Lite (the register writes of
//! [`super::axilite::slot0_writes`]).
//!
//! Vectors: every input code for formats of at most 12 bits; else the extremes, 0 and ±1,
//! every threshold and its neighbours, and 4096 codes spread over the range. Each code once
//! per channel, in channel order, so sample j is channel j mod C as the core counts them.

use super::axilite::slot0_writes;
use super::PackageOptions;
use crate::fixedpoint::DatapathSpec;
use crate::hdl::{CoreInterface, PortDir};
use crate::{Error, Result};
use std::fmt::Write as _;

/// Path of the core file of `top`.
pub fn core_path(top: &str) -> String {
    format!("{top}.core")
}

/// Path of the testbench of `top`.
pub fn tb_path(top: &str) -> String {
    format!("sim/{top}_tb.v")
}

/// Path of the vectors of `top`.
pub fn vectors_path(top: &str) -> String {
    format!("sim/{top}_vectors.hex")
}

/// Formats up to this many bits are tested on every input code.
pub const EXHAUSTIVE_BITS: u32 = 12;
/// Codes spread over the range of a wider format.
pub const SPREAD_CODES: i64 = 4096;

/// The layer the testbench streams: the core's, or slot 0's of a run-time-coefficient core.
fn tested_layer(core: &CoreInterface) -> usize {
    if core.register_map().is_some() {
        0
    } else {
        core.first_layer()
    }
}

/// Input codes the testbench streams, ascending.
pub fn test_codes(spec: &DatapathSpec, layer: usize) -> Vec<i64> {
    let f = spec.input();
    let (lo, hi) = (f.min_raw(), f.max_raw());
    if f.width() <= EXHAUSTIVE_BITS {
        return (lo..=hi).collect();
    }
    let mut codes = vec![lo, lo + 1, -1, 0, 1, hi - 1, hi];
    for &t in &spec.layers()[layer].thresholds {
        codes.extend([t - 1, t, t + 1]);
    }
    let span = (hi - lo) as i128;
    codes.extend(
        (0..SPREAD_CODES).map(|i| lo + (span * i as i128 / (SPREAD_CODES - 1) as i128) as i64),
    );
    codes.retain(|c| (lo..=hi).contains(c));
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// `(input code, channel, expected output code)` of every sample of the packet, padded to
/// whole beats.
pub fn vectors(core: &CoreInterface, spec: &DatapathSpec) -> Vec<(i64, usize, i64)> {
    let layer = tested_layer(core);
    let channels = spec.layers()[layer].channels();
    let codes = test_codes(spec, layer);
    let mut v: Vec<(i64, usize, i64)> = Vec::new();
    let mut j = 0;
    while j < codes.len() * channels || j % core.stream.lanes != 0 {
        let x = codes[(j / channels) % codes.len()];
        let c = j % channels;
        v.push((x, c, spec.eval_raw(layer, c, x)));
        j += 1;
    }
    v
}

fn mask(v: i64, bits: u32) -> u64 {
    (v as u64) & (u64::MAX >> (64 - bits))
}

/// `sim/<top>_vectors.hex`: one line per sample, `{x, y}` as hex of input width + output
/// width bits, for `$readmemh`.
pub fn vectors_hex(core: &CoreInterface, spec: &DatapathSpec) -> String {
    let (wi, wo) = (spec.input().width(), spec.output().width());
    let digits = (wi + wo).div_ceil(4) as usize;
    let mut o = format!(
        "// {} vectors of {}: {{input code, golden-model output code}}, {wi} + {wo} bits\n",
        vectors(core, spec).len(),
        core.top
    );
    for (x, _, y) in vectors(core, spec) {
        let word = (u128::from(mask(x, wi)) << wo) | u128::from(mask(y, wo));
        let _ = writeln!(o, "{word:0digits$x}");
    }
    o
}

/// A Verilog expression sign-extending the `from`-bit value `e` to `to` bits.
fn sign_extend(e: &str, from: u32, to: u32) -> String {
    if to == from {
        e.to_string()
    } else {
        format!("{{{{{}{{{e}[{}]}}}}, {e}}}", to - from, from - 1)
    }
}

fn port_width(core: &CoreInterface, name: &str) -> Option<u32> {
    core.ports.iter().find(|p| p.name == name).map(|p| p.width)
}

/// `sim/<top>_tb.v`: the self-checking testbench.
pub fn testbench(core: &CoreInterface, spec: &DatapathSpec) -> Result<String> {
    let top = &core.top;
    let (inp, outp) = (spec.input(), spec.output());
    let (wi, wo) = (inp.width(), outp.width());
    let (si, so) = (core.stream.s_slot, core.stream.m_slot);
    let lanes = core.stream.lanes;
    let n = vectors(core, spec).len();
    let beats = n / lanes;
    let tuser = core.stream.tuser;
    let writes = match core.register_map() {
        Some(map) => slot0_writes(map, spec)
            .into_iter()
            .next()
            .ok_or_else(|| Error::Internal(format!("{top}: no layer to load")))?,
        None => Vec::new(),
    };
    let layer = &spec.layers()[tested_layer(core)];
    let mut o = format!(
        "// {top}_tb.v -- generated by repact-hw {}: self-checking testbench of {top}.\n\
         // Streams the {n} samples of {top}_vectors.hex (layer `{}`{}) in one packet of {beats}\n\
         // beats with pseudo-random tvalid gaps and tready backpressure, and compares every\n\
         // output sample, TLAST{} with the golden model's. Ends with $fatal on a difference.\n\
         // The vector file is read from the current folder (FuseSoC copies it there), or +VECTORS=<path>.\n\
         // verilator lint_off DECLFILENAME\n\
         `timescale 1ns / 1ps\n\
         module {top}_tb;\n\n\
         localparam LANES = {lanes};\n\
         localparam IN_W = {wi};\n\
         localparam OUT_W = {wo};\n\
         localparam IN_SLOT = {si};\n\
         localparam OUT_SLOT = {so};\n\
         localparam N = {n};\n\
         localparam BEATS = {beats};\n\
         localparam WRITES = {};\n\n\
         reg aclk = 1'b0;\n\
         always #5 aclk = ~aclk;\n\
         reg aresetn = 1'b0;\n\n",
        env!("CARGO_PKG_VERSION"),
        crate::escape::verilog_comment(layer.name()),
        if core.register_map().is_some() {
            ", loaded into slot 0 over AXI4-Lite"
        } else {
            ""
        },
        if tuser > 0 { ", TUSER" } else { "" },
        writes.len()
    );
    // One signal per core port, named as the port.
    for p in &core.ports {
        if p.name == "aclk" || p.name == "aresetn" {
            continue;
        }
        let range = if p.width > 1 {
            format!("[{}:0] ", p.width - 1)
        } else {
            String::new()
        };
        let kind = match p.dir {
            PortDir::In => "reg ",
            PortDir::Out => "wire",
        };
        let _ = writeln!(o, "{kind} {range}{};", p.name);
    }
    o.push_str(&format!("\n{top} dut (\n"));
    let conns: Vec<String> = core
        .ports
        .iter()
        .map(|p| format!("    .{0}({0})", p.name))
        .collect();
    o.push_str(&conns.join(",\n"));
    o.push_str("\n);\n\n");
    let _ = writeln!(
        o,
        "reg [IN_W+OUT_W-1:0] vectors [0:N-1];\n\
         reg [8*1024-1:0] vectors_file;\n\
         reg [15:0] lfsr;\n\
         integer cycle, beat, rbeat, errors;\n\
         reg configured;\n\n\
         initial begin\n\
         \x20   if (!$value$plusargs(\"VECTORS=%s\", vectors_file)) vectors_file = \"{top}_vectors.hex\";\n\
         \x20   $readmemh(vectors_file, vectors);\n\
         \x20   if (^vectors[0] === 1'bx || ^vectors[N-1] === 1'bx) begin\n\
         \x20       $display(\"FAIL: cannot read %0s (%0d vectors expected)\", vectors_file, N);\n\
         \x20       $fatal(1, \"no vectors\");\n\
         \x20   end\n\
         \x20   cycle = 0;\n\
         \x20   beat = 0;\n\
         \x20   rbeat = 0;\n\
         \x20   errors = 0;\n\
         \x20   lfsr = 16'hACE1;\n\
         \x20   configured = (WRITES == 0);\n\
         \x20   s_axis_tvalid = 1'b0;\n\
         \x20   s_axis_tdata = {{(LANES*IN_SLOT){{1'b0}}}};\n\
         \x20   s_axis_tkeep = {{(LANES*IN_SLOT/8){{1'b1}}}};\n\
         \x20   s_axis_tlast = 1'b0;\n\
         \x20   m_axis_tready = 1'b0;"
    );
    if tuser > 0 {
        o.push_str("    s_axis_tuser = 0;\n");
    }
    if core.register_map().is_some() {
        o.push_str(
            "    s_axi_awvalid = 1'b0;\n    s_axi_awaddr = 0;\n    s_axi_awprot = 3'd0;\n\
             \x20   s_axi_wvalid = 1'b0;\n    s_axi_wdata = 0;\n    s_axi_wstrb = 4'hF;\n\
             \x20   s_axi_bready = 1'b1;\n    s_axi_arvalid = 1'b0;\n    s_axi_araddr = 0;\n\
             \x20   s_axi_arprot = 3'd0;\n    s_axi_rready = 1'b1;\n",
        );
    }
    o.push_str(
        "    repeat (4) @(posedge aclk);\n    aresetn <= 1'b1;\nend\n\n\
         always @(posedge aclk) begin\n\
         \x20   cycle <= cycle + 1;\n\
         \x20   lfsr <= {lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]};\n\
         \x20   if (cycle > 20 * BEATS + 50 * WRITES + 1000) begin\n\
         \x20       $display(\"FAIL: timeout after %0d cycles, %0d of %0d beats received\", cycle, rbeat, BEATS);\n\
         \x20       $fatal(1, \"timeout\");\n\
         \x20   end\n\
         end\n\n",
    );
    if core.register_map().is_some() {
        let aw = port_width(core, "s_axi_awaddr").unwrap_or(32);
        let _ = writeln!(
            o,
            "// Layer 0 into slot 0: the register writes of the C header's and PYNQ driver's loader.\n\
             reg [{}:0] write_addr [0:WRITES-1];\n\
             reg [31:0] write_data [0:WRITES-1];\n\
             initial begin",
            aw - 1
        );
        for (k, (a, v)) in writes.iter().enumerate() {
            let _ = writeln!(
                o,
                "    write_addr[{k}] = {aw}'h{a:X}; write_data[{k}] = 32'h{v:08X};"
            );
        }
        o.push_str(
            "end\n\
             integer widx;\n\
             reg [1:0] wstate;\n\
             always @(posedge aclk) begin\n\
             \x20   if (!aresetn) begin\n\
             \x20       widx <= 0;\n\
             \x20       wstate <= 2'd0;\n\
             \x20   end else if (!configured) begin\n\
             \x20       case (wstate)\n\
             \x20       2'd0: begin\n\
             \x20           s_axi_awaddr <= write_addr[widx];\n\
             \x20           s_axi_wdata <= write_data[widx];\n\
             \x20           s_axi_awvalid <= 1'b1;\n\
             \x20           s_axi_wvalid <= 1'b1;\n\
             \x20           wstate <= 2'd1;\n\
             \x20       end\n\
             \x20       2'd1: begin\n\
             \x20           if (s_axi_awready) s_axi_awvalid <= 1'b0;\n\
             \x20           if (s_axi_wready) s_axi_wvalid <= 1'b0;\n\
             \x20           if ((!s_axi_awvalid || s_axi_awready) && (!s_axi_wvalid || s_axi_wready)) wstate <= 2'd2;\n\
             \x20       end\n\
             \x20       default: begin\n\
             \x20           if (s_axi_bvalid) begin\n\
             \x20               if (s_axi_bresp != 2'b00) begin\n\
             \x20                   $display(\"FAIL: register write %0d answered %0d\", widx, s_axi_bresp);\n\
             \x20                   $fatal(1, \"register write refused\");\n\
             \x20               end\n\
             \x20               widx <= widx + 1;\n\
             \x20               wstate <= 2'd0;\n\
             \x20               if (widx == WRITES - 1) configured <= 1'b1;\n\
             \x20           end\n\
             \x20       end\n\
             \x20       endcase\n\
             \x20   end\n\
             end\n\n",
        );
    }
    // A vector's input sign-extended to its stream slot, and its expected output to its slot.
    let _ = writeln!(
        o,
        "function [IN_SLOT-1:0] in_slot;\n\
         \x20   input [IN_W+OUT_W-1:0] v;\n\
         \x20   reg [IN_W-1:0] x;\n\
         \x20   begin\n\
         \x20       x = v[IN_W+OUT_W-1:OUT_W];\n\
         \x20       in_slot = {};\n\
         \x20   end\n\
         endfunction\n\
         function [OUT_SLOT-1:0] out_slot;\n\
         \x20   input [IN_W+OUT_W-1:0] v;\n\
         \x20   reg [OUT_W-1:0] y;\n\
         \x20   begin\n\
         \x20       y = v[OUT_W-1:0];\n\
         \x20       out_slot = {};\n\
         \x20   end\n\
         endfunction\n",
        sign_extend("x", wi, si),
        sign_extend("y", wo, so)
    );
    // Source: present the next beat whenever the slot is free and the LFSR allows.
    let mut pack = String::new();
    for i in 0..lanes {
        let _ = writeln!(
            pack,
            "            s_axis_tdata[{}:{}] <= in_slot(vectors[beat * LANES + {i}]);",
            (i as u32 + 1) * si - 1,
            i as u32 * si,
        );
    }
    let _ = writeln!(
        o,
        "// Source: the next beat whenever the slot is free and the LFSR allows (75%).\n\
         always @(posedge aclk) begin\n\
         \x20   if (aresetn && configured) begin\n\
         \x20       m_axis_tready <= lfsr[3] | lfsr[7];\n\
         \x20       if (s_axis_tvalid && s_axis_tready) s_axis_tvalid <= 1'b0;\n\
         \x20       if ((!s_axis_tvalid || s_axis_tready) && beat < BEATS && (lfsr[1] | lfsr[5])) begin\n\
         {pack}\
         \x20           s_axis_tlast <= (beat == BEATS - 1);\n{}\
         \x20           s_axis_tvalid <= 1'b1;\n\
         \x20           beat <= beat + 1;\n\
         \x20       end\n\
         \x20   end\n\
         end\n",
        if tuser > 0 {
            format!("            s_axis_tuser <= beat[{}:0];\n", tuser - 1)
        } else {
            String::new()
        }
    );
    let mut check = String::new();
    for i in 0..lanes {
        let got = format!(
            "m_axis_tdata[{}:{}]",
            (i as u32 + 1) * so - 1,
            i as u32 * so
        );
        let want = format!("out_slot(vectors[rbeat * LANES + {i}])");
        let _ = writeln!(
            check,
            "        if ({got} !== {want} || ^{got} === 1'bx) begin\n\
             \x20           errors = errors + 1;\n\
             \x20           if (errors <= 10) $display(\"FAIL: sample %0d: input %h gives %h, golden model %h\", rbeat * LANES + {i}, vectors[rbeat * LANES + {i}][IN_W+OUT_W-1:OUT_W], {got}, {want});\n\
             \x20       end"
        );
    }
    if tuser > 0 {
        let _ = writeln!(
            check,
            "        if (m_axis_tuser !== rbeat[{0}:0]) begin\n\
             \x20           errors = errors + 1;\n\
             \x20           if (errors <= 10) $display(\"FAIL: beat %0d: TUSER %h, sent %h\", rbeat, m_axis_tuser, rbeat[{0}:0]);\n\
             \x20       end",
            tuser - 1
        );
    }
    let _ = writeln!(
        o,
        "// Sink: every accepted beat against the golden model.\n\
         always @(posedge aclk) begin\n\
         \x20   if (aresetn && m_axis_tvalid && m_axis_tready) begin\n\
         {check}\
         \x20       if (m_axis_tlast !== (rbeat == BEATS - 1)) begin\n\
         \x20           errors = errors + 1;\n\
         \x20           if (errors <= 10) $display(\"FAIL: beat %0d: TLAST %b\", rbeat, m_axis_tlast);\n\
         \x20       end\n\
         \x20       rbeat = rbeat + 1;\n\
         \x20       if (rbeat == BEATS) begin\n\
         \x20           if (errors != 0) begin\n\
         \x20               $display(\"FAIL: {top}: %0d difference(s) in %0d samples\", errors, N);\n\
         \x20               $fatal(1, \"mismatch\");\n\
         \x20           end\n\
         \x20           $display(\"PASS: {top}: %0d samples in %0d beats equal the golden model (%0d cycles)\", N, BEATS, cycle);\n\
         \x20           $finish;\n\
         \x20       end\n\
         \x20   end\n\
         end\n\n\
         endmodule"
    );
    Ok(o)
}

/// `<top>.core`: the CAPI2 core file.
pub fn core_file(core: &CoreInterface, spec: &DatapathSpec, opts: &PackageOptions) -> String {
    let top = &core.top;
    let vlnv = opts.vlnv(top).to_colon_string();
    let layer = &spec.layers()[tested_layer(core)];
    let description = serde_json::to_string(&format!(
        "RepAct activation core {top} ({} -> {}, {} lane(s), latency {} cycles; testbench layer {})",
        spec.input(),
        spec.output(),
        core.stream.lanes,
        core.latency_cycles,
        crate::escape::visible(layer.name())
    ))
    .unwrap_or_else(|_| "\"RepAct activation core\"".into());
    format!(
        "CAPI=2:\n\
         # Generated by repact-hw {ver} -- do not edit; regenerate the IP directory instead.\n\
         # fusesoc --cores-root . run --target lint {vlnv}\n\
         # fusesoc --cores-root . run --target sim {vlnv}                  (Icarus)\n\
         # fusesoc --cores-root . run --target sim --tool verilator {vlnv}\n\
         # fusesoc --cores-root . run --target synth {vlnv}                (Vivado)\n\
         name: {vlnv}\n\
         description: {description}\n\n\
         filesets:\n\
         \x20 rtl:\n\
         \x20   files:\n\
         \x20     - hdl/{top}.v\n\
         \x20   file_type: verilogSource\n\n\
         \x20 ooc_constraints:\n\
         \x20   files:\n\
         \x20     - ip/{top}/constraints/{top}_ooc.xdc\n\
         \x20   file_type: xdc\n\n\
         \x20 tb:\n\
         \x20   files:\n\
         \x20     - sim/{top}_tb.v\n\
         \x20   file_type: verilogSource\n\n\
         \x20 vectors:\n\
         \x20   files:\n\
         \x20     - sim/{top}_vectors.hex: {{copyto: {top}_vectors.hex}}\n\
         \x20   file_type: user\n\n\
         targets:\n\
         \x20 default: &default\n\
         \x20   filesets: [rtl]\n\
         \x20   toplevel: {top}\n\n\
         \x20 lint:\n\
         \x20   <<: *default\n\
         \x20   default_tool: verilator\n\
         \x20   tools:\n\
         \x20     verilator:\n\
         \x20       mode: lint-only\n\
         \x20       verilator_options: [-Wall]\n\n\
         \x20 sim:\n\
         \x20   default_tool: icarus\n\
         \x20   filesets: [rtl, tb, vectors]\n\
         \x20   toplevel: {top}_tb\n\
         \x20   tools:\n\
         \x20     icarus:\n\
         \x20       iverilog_options: [-g2005, -Wall]\n\
         \x20     verilator:\n\
         \x20       mode: binary\n\
         \x20       verilator_options: [-Wno-fatal]\n\n\
         \x20 synth:\n\
         \x20   default_tool: vivado\n\
         \x20   filesets: [rtl, ooc_constraints]\n\
         \x20   toplevel: {top}\n\
         \x20   tools:\n\
         \x20     vivado:\n\
         \x20       part: {part}\n",
        ver = env!("CARGO_PKG_VERSION"),
        part = opts.part,
    )
}
