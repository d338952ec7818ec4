//! Instantiation templates: `ip/<top>/<top>.veo` (the Vivado-style template of the core and
//! of its `<top>_lane` module) and `examples/<top>_instance.v`, a plain-RTL module that
//! instantiates both — the AXI4-Stream core, and the bare lane with its own clock enable the
//! way a user fuses the activation into a dataflow after, say, a convolution engine (valid
//! travelling beside the data, the caller's output register as the last stage).
//!
//! The core's ports are the core's own port list; the lane's are read from the lane module's
//! header in the generated Verilog (the one place they are declared). `tests/package.rs` lints
//! the example with Verilator and Icarus, so a template that drifts from the HDL fails there.

use crate::hdl::{CoreInterface, PortDir};
use crate::{Error, Result};
use std::fmt::Write as _;

/// A port of a module as its header declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulePort {
    /// Name.
    pub name: String,
    /// Direction.
    pub dir: PortDir,
    /// Bits.
    pub width: u32,
    /// Declared `signed`.
    pub signed: bool,
}

/// Path of the template of `top`.
pub fn veo_path(top: &str) -> String {
    format!("ip/{top}/{top}.veo")
}

/// Path of the plain-RTL example of `top`.
pub fn example_path(top: &str) -> String {
    format!("examples/{top}_instance.v")
}

/// Name of the lane module of `top`.
pub fn lane_module(top: &str) -> String {
    format!("{top}_lane")
}

/// The ports of `module` in `verilog`: its ANSI header's `input`/`output wire [signed]
/// [[msb:0]] name` declarations, in order.
pub fn module_ports(verilog: &str, module: &str) -> Result<Vec<ModulePort>> {
    let missing = || Error::Internal(format!("the generated Verilog has no module `{module}`"));
    let start = verilog
        .lines()
        .position(|l| l.trim() == format!("module {module}"))
        .ok_or_else(missing)?;
    let mut ports = Vec::new();
    for line in verilog.lines().skip(start + 1) {
        let l = line.trim().trim_end_matches(',');
        if l == ");" {
            return Ok(ports);
        }
        let mut words = l.split_whitespace().peekable();
        let dir = match words.peek() {
            Some(&"input") => PortDir::In,
            Some(&"output") => PortDir::Out,
            _ => continue, // `(`, comments, blank lines
        };
        words.next();
        let mut signed = false;
        let mut width = 1;
        let mut name = None;
        for w in words {
            match w {
                "wire" => {}
                "signed" => signed = true,
                w if w.starts_with('[') => {
                    let msb = w
                        .trim_start_matches('[')
                        .split(':')
                        .next()
                        .and_then(|m| m.parse::<u32>().ok())
                        .ok_or_else(|| {
                            Error::Internal(format!("module `{module}`: port range `{w}`"))
                        })?;
                    width = msb + 1;
                }
                w => name = Some(w.to_string()),
            }
        }
        let name =
            name.ok_or_else(|| Error::Internal(format!("module `{module}`: port line `{l}`")))?;
        ports.push(ModulePort {
            name,
            dir,
            width,
            signed,
        });
    }
    Err(missing())
}

fn range(width: u32) -> String {
    if width > 1 {
        format!("[{}:0] ", width - 1)
    } else {
        String::new()
    }
}

fn dir_word(dir: PortDir) -> &'static str {
    match dir {
        PortDir::In => "input ",
        PortDir::Out => "output",
    }
}

/// One instance with every port connected to the signal `connect(port)`.
fn instance(
    module: &str,
    inst: &str,
    ports: &[ModulePort],
    connect: &dyn Fn(&ModulePort) -> String,
) -> String {
    let pad = ports.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut o = format!("{module} {inst} (\n");
    for (i, p) in ports.iter().enumerate() {
        let sep = if i + 1 < ports.len() { "," } else { " " };
        let decl = format!(
            "{} wire {}{}",
            dir_word(p.dir),
            if p.signed { "signed " } else { "" },
            range(p.width)
        );
        let _ = writeln!(
            o,
            "    .{:<pad$} ({}){sep} // {}",
            p.name,
            connect(p),
            decl.trim_end()
        );
    }
    o.push_str(");\n");
    o
}

fn core_ports(core: &CoreInterface) -> Vec<ModulePort> {
    core.ports
        .iter()
        .map(|p| ModulePort {
            name: p.name.clone(),
            dir: p.dir,
            width: p.width,
            signed: false,
        })
        .collect()
}

/// `<top>.veo`: the instantiation templates of the core and of its lane (`verilog` is the
/// core's file).
pub fn veo(core: &CoreInterface, verilog: &str) -> Result<String> {
    let top = &core.top;
    let lane = lane_module(top);
    let lane_ports = module_ports(verilog, &lane)?;
    let mut o = format!(
        "// {top}.veo -- generated by repact-hw {}; instantiation templates.\n\
         // Insert a template into your Verilog file, then change the instance name and the\n\
         // signals in parentheses to your own. Module {top} is the AXI4-Stream core\n\
         // (latency {} cycles, one beat per clock); {lane} is its bare datapath, one sample\n\
         // per clock while ce is high (see examples/{top}_instance.v for both in use).\n\n",
        env!("CARGO_PKG_VERSION"),
        core.latency_cycles
    );
    o.push_str("//----------- Begin Cut here for INSTANTIATION Template ---// INST_TAG\n");
    o.push_str(&instance(
        top,
        "your_instance_name",
        &core_ports(core),
        &|p| p.name.clone(),
    ));
    o.push_str("// INST_TAG_END ------ End INSTANTIATION Template ---------\n\n");
    o.push_str("//----------- Begin Cut here for LANE INSTANTIATION Template ---// INST_TAG\n");
    o.push_str(&instance(&lane, "your_lane_name", &lane_ports, &|p| {
        p.name.clone()
    }));
    o.push_str("// INST_TAG_END ------ End LANE INSTANTIATION Template ---------\n");
    Ok(o)
}

/// `examples/<top>_instance.v`: a module instantiating the core on its AXI4-Stream ports and
/// the lane in a valid/data dataflow with a clock enable (`verilog` is the core's file).
pub fn example(core: &CoreInterface, verilog: &str) -> Result<String> {
    let top = &core.top;
    let lane = lane_module(top);
    let lane_ports = module_ports(verilog, &lane)?;
    let find = |n: &str| {
        lane_ports
            .iter()
            .find(|p| p.name == n)
            .ok_or_else(|| Error::Internal(format!("{lane} has no port `{n}`")))
    };
    let (x, out) = (find("x")?.width, find("out")?.width);
    // Lane stages before its combinational output; the caller's register is the last one.
    let lane_stages = core
        .latency_cycles
        .checked_sub(1)
        .ok_or_else(|| Error::Internal(format!("{top}: latency {} cycles", core.latency_cycles)))?;
    let extra: Vec<&ModulePort> = lane_ports
        .iter()
        .filter(|p| !["clk", "ce", "x", "out"].contains(&p.name.as_str()))
        .collect();
    let mut o = format!(
        "// {top}_instance.v -- generated by repact-hw {}: plain-RTL use of the core {top}.\n\
         //\n\
         // 1. The AXI4-Stream core between your stream source and sink (s_axis_* / m_axis_*).\n\
         // 2. Its lane {lane} fused into your own dataflow (e.g. after a convolution engine):\n\
         //    one sample per clock while `act_ce` is high (low stalls every stage, like your\n\
         //    pipeline's enable); the lane's output is combinational from its stage {lane_stages},\n\
         //    so you register it (stage {}) and delay your valid by {} cycles beside it.\n\
         // Verilog-2001; lint-clean with verilator -Wall and iverilog -g2005 -Wall.\n\
         // verilator lint_off DECLFILENAME\n\
         `timescale 1ns / 1ps\n\
         module {top}_instance (\n",
        env!("CARGO_PKG_VERSION"),
        lane_stages + 1,
        lane_stages + 1
    );
    let mut decls = Vec::new();
    for p in core_ports(core) {
        decls.push(format!(
            "    {} wire {}{}",
            dir_word(p.dir),
            range(p.width),
            p.name
        ));
    }
    decls.push("    // the fused lane".into());
    decls.push("    input  wire act_ce".into());
    decls.push("    input  wire act_in_valid".into());
    decls.push(format!("    input  wire signed {}act_in", range(x)));
    for p in &extra {
        decls.push(format!(
            "    {} wire {}{}lane_{}",
            dir_word(p.dir),
            if p.signed { "signed " } else { "" },
            range(p.width),
            p.name
        ));
    }
    decls.push("    output wire act_out_valid".into());
    decls.push(format!("    output wire signed {}act_out", range(out)));
    let n = decls.len();
    for (i, d) in decls.iter().enumerate() {
        let comment = d.trim_start().starts_with("//");
        let last_port = !comment
            && decls[i + 1..]
                .iter()
                .all(|e| e.trim_start().starts_with("//"));
        let sep = if comment || last_port || i + 1 == n {
            ""
        } else {
            ","
        };
        let _ = writeln!(o, "{d}{sep}");
    }
    o.push_str(");\n\n// 1. The AXI4-Stream core.\n");
    o.push_str(&instance(top, "u_core", &core_ports(core), &|p| {
        p.name.clone()
    }));
    let _ = writeln!(
        o,
        "\n// 2. The lane: stages 1..{lane_stages} inside, stage {} is act_out_reg.\n\
         wire signed {}lane_out;\n",
        lane_stages + 1,
        range(out)
    );
    o.push_str(&instance(
        &lane,
        "u_lane",
        &lane_ports,
        &|p| match p.name.as_str() {
            "clk" => "aclk".into(),
            "ce" => "act_ce".into(),
            "x" => "act_in".into(),
            "out" => "lane_out".into(),
            other => format!("lane_{other}"),
        },
    ));
    let _ = writeln!(
        o,
        "\nreg signed {r}act_out_reg;\n\
         reg [{top_bit}:0] act_valid_reg; // bit k: the sample in stage k+1 is valid\n\
         always @(posedge aclk) begin\n\
         \x20   if (act_ce) begin\n\
         \x20       act_out_reg   <= lane_out;\n\
         \x20       act_valid_reg <= {{act_valid_reg[{shift_top}:0], act_in_valid}};\n\
         \x20   end\n\
         \x20   if (!aresetn) begin\n\
         \x20       act_valid_reg <= {stages}'d0; // only valid needs a reset\n\
         \x20   end\n\
         end\n\
         assign act_out = act_out_reg;\n\
         assign act_out_valid = act_valid_reg[{top_bit}];\n\n\
         endmodule",
        r = range(out),
        top_bit = lane_stages,
        shift_top = lane_stages.saturating_sub(1),
        stages = lane_stages + 1,
    );
    Ok(o)
}
