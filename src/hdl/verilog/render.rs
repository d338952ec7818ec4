//! The renderer: a checked [`Module`] (and a file of them) as Verilog-2001 text, formatted
//! once, verilog-axis style.

use super::*;

impl Module {
    /// Checks the module and renders it as Verilog text (without file-level directives).
    pub fn render(&self) -> Result<String, HdlError> {
        let unused = self.check()?;
        let mut out = String::new();
        for (rule, why) in &self.lint_off {
            let _ = writeln!(out, "// {why}");
            let _ = writeln!(out, "// verilator lint_off {rule}");
        }
        for line in &self.doc {
            push_comment_line(&mut out, "", line);
        }
        self.render_header(&mut out);
        if !self.params.is_empty() {
            out.push('\n');
            let w = self.params.iter().map(|p| p.name.len()).max().unwrap_or(0);
            for p in &self.params {
                let _ = writeln!(
                    out,
                    "localparam {:w$} = {};{}",
                    p.name,
                    p.value,
                    trailing_comment(&p.comment)
                );
            }
        }
        for item in &self.items {
            render_item(&mut out, item);
        }
        if !unused.is_empty() {
            self.render_unused(&mut out, &unused);
        }
        let _ = writeln!(out, "\nendmodule");
        for (rule, _) in self.lint_off.iter().rev() {
            let _ = writeln!(out, "// verilator lint_on {rule}");
        }
        Ok(out)
    }

    fn render_header(&self, out: &mut String) {
        let _ = writeln!(out, "module {}\n(", self.name);
        let decl = |p: &Port| {
            let dir = match p.dir {
                PortDir::In => "input ",
                PortDir::Out => "output",
            };
            let sign = if p.signed { " signed" } else { "" };
            format!("{dir} wire{sign}{}", p.size.render())
        };
        let width = self.ports().map(|p| decl(p).len()).max().unwrap_or(0);
        let total = self.ports().count();
        let mut n = 0;
        for (gi, g) in self.groups.iter().enumerate() {
            if gi > 0 {
                out.push('\n');
            }
            if !g.title.is_empty() {
                let _ = writeln!(out, "    /*");
                for t in &g.title {
                    let _ = writeln!(out, "     * {t}");
                }
                let _ = writeln!(out, "     */");
            }
            for p in &g.ports {
                n += 1;
                let sep = if n == total { "" } else { "," };
                let _ = writeln!(out, "    {:width$}  {}{sep}", decl(p), p.name);
            }
        }
        let _ = writeln!(out, ");");
    }

    fn render_unused(&self, out: &mut String, unused: &[UnusedBits]) {
        let _ = writeln!(
            out,
            "\n// Bits no logic reads, on purpose (each reason below). Gathering them into\n\
             // *_unused wires documents that and keeps Verilator -Wall quiet about them only."
        );
        let _ = writeln!(out, "// verilator lint_off UNUSED");
        for UnusedBits { discard: d, runs } in unused {
            let bits: u32 = runs.iter().map(|(m, l)| m - l + 1).sum();
            let parts: Vec<Expr> = runs
                .iter()
                .map(|&(m, l)| Expr::slice(&d.signal, m, l))
                .collect();
            push_comment_line(out, "", &d.reason);
            let range = if bits == 1 {
                String::new()
            } else {
                format!(" [{}:0]", bits - 1)
            };
            let _ = writeln!(
                out,
                "wire{range} {}_unused = {};",
                d.signal,
                Expr::concat(parts).render(false)
            );
        }
        let _ = writeln!(out, "// verilator lint_on UNUSED");
    }
}

fn trailing_comment(c: &str) -> String {
    if c.is_empty() {
        String::new()
    } else {
        format!(" // {c}")
    }
}

/// Writes `// line`, making sure the text cannot end the comment or inject code.
fn push_comment_line(out: &mut String, pad: &str, line: &str) {
    let clean: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.trim_end();
    if clean.is_empty() {
        let _ = writeln!(out, "{pad}//");
    } else {
        let _ = writeln!(out, "{pad}// {clean}");
    }
}

fn render_item(out: &mut String, item: &Item) {
    match item {
        Item::Comment(lines) => {
            out.push('\n');
            for l in lines {
                push_comment_line(out, "", l);
            }
        }
        Item::Net(n) => {
            let kind = match n.kind {
                NetKind::Wire => "wire",
                NetKind::Reg => "reg",
            };
            let sign = if n.signed { " signed" } else { "" };
            let range = n.size.render();
            let init = n
                .init
                .as_ref()
                .map(|e| format!(" = {}", e.render(false)))
                .unwrap_or_default();
            let comment = n
                .comment
                .as_deref()
                .map(trailing_comment)
                .unwrap_or_default();
            let words = n
                .depth
                .map(|d| format!(" [0:{}]", d.saturating_sub(1)))
                .unwrap_or_default();
            let _ = writeln!(out, "{kind}{sign}{range} {}{words}{init};{comment}", n.name);
        }
        Item::Assign(t, v) => {
            let _ = writeln!(out, "assign {} = {};", t.render(false), v.render(false));
        }
        Item::Always {
            clock,
            comment,
            body,
        } => {
            out.push('\n');
            for l in comment {
                push_comment_line(out, "", l);
            }
            let _ = writeln!(out, "always @(posedge {clock}) begin");
            body.iter().for_each(|s| s.render(out, 1));
            let _ = writeln!(out, "end");
        }
        Item::Instance(inst) => {
            out.push('\n');
            let _ = writeln!(out, "{} {} (", inst.module, inst.name);
            let w = inst
                .conns
                .iter()
                .map(|(p, _, _)| p.len())
                .max()
                .unwrap_or(0);
            let n = inst.conns.len();
            for (i, (p, e, _)) in inst.conns.iter().enumerate() {
                let sep = if i + 1 == n { "" } else { "," };
                let _ = writeln!(out, "    .{p:w$}({}){sep}", e.render(false));
            }
            let _ = writeln!(out, ");");
        }
    }
}

/// Renders a file: `lines` of header comment, the directives verilog-axis starts with, the
/// modules in order, and the closing `` `resetall ``.
pub fn render_file(header: &[String], modules: &[&Module]) -> Result<String, HdlError> {
    let mut out = String::new();
    for l in header {
        push_comment_line(&mut out, "", l);
    }
    out.push_str(
        "\n// Language: Verilog 2001\n\n`resetall\n`timescale 1ns / 1ps\n`default_nettype none\n",
    );
    for m in modules {
        out.push('\n');
        out.push_str(&m.render()?);
    }
    out.push_str("\n`resetall\n");
    Ok(out)
}
