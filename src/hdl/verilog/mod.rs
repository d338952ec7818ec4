//! A small typed builder for Verilog-2001 modules.
//!
//! Generators declare ports, local parameters, nets, continuous assignments, clocked `always`
//! blocks and instances as values; [`Module::render`] checks them and formats the text once.
//! There are no templates and no placeholders: a name is either declared or the module does not
//! render. What the builder guarantees, so that generators need not:
//!
//! * every name is a legal identifier (no `$`, no Verilog/SystemVerilog/C++ reserved word) and
//!   declared once; every referenced name is declared; every bit select is in range; every
//!   literal fits its width; every local parameter is used (Verilator `-Wall` checks that too);
//! * only clocked `always @(posedge clk)` blocks exist, so no latch can be inferred;
//! * binary and conditional operators are fully parenthesized, so precedence is never guessed;
//! * bits a generator declares as intentionally unused ([`Module::discard`]) are collected into
//!   one `<signal>_unused` wire each, inside a `verilator lint_off UNUSED` region, with the reason
//!   as a comment — and only the bits that really are unused, found by scanning every read.
//!
//! Width agreement of expressions is left to Verilator's lint, which the tests run with `-Wall`.

mod check;
mod error;
mod render;

pub use error::HdlError;
pub use render::render_file;

use super::names::is_legal_identifier;
use super::PortDir;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Bits `(msb, lsb)` of a signal, inclusive.
type BitRange = (u32, u32);

/// How an expression touches a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// The whole net (`name`).
    Whole,
    /// A bit or part select (`name[i]`, `name[m:l]`).
    Bits(BitRange),
    /// One word of a memory (`name[address]`).
    Word,
}

/// Bits of one signal nobody reads, with the reason they may go unread.
#[derive(Debug, Clone)]
struct UnusedBits {
    discard: Discard,
    /// Unread runs, most significant first.
    runs: Vec<BitRange>,
}

/// One factor of a [`Size`]: a number or a local parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Factor {
    Lit(u32),
    Param(String),
}

/// The number of bits of a vector, rendered as `[S-1:0]`, where `S` is a number or a product of
/// local parameters (`[LANES*LATENCY-1:0]`) so the declaration reads like the design intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Size {
    bits: u32,
    factors: Vec<Factor>,
}

impl Size {
    /// A 1-bit scalar: declared without a range, so it may not be bit-selected.
    pub fn scalar() -> Self {
        Size {
            bits: 1,
            factors: Vec::new(),
        }
    }
    /// A plain number of bits, declared `[bits-1:0]` (even for 1 bit).
    pub fn lit(bits: u32) -> Self {
        Size {
            bits,
            factors: vec![Factor::Lit(bits)],
        }
    }
    /// The value of a local parameter.
    pub fn param(p: &Param) -> Self {
        Size {
            bits: p.value,
            factors: vec![Factor::Param(p.name.clone())],
        }
    }
    /// The product of two local parameters.
    pub fn product(a: &Param, b: &Param) -> Self {
        Size {
            bits: a.value * b.value,
            factors: vec![Factor::Param(a.name.clone()), Factor::Param(b.name.clone())],
        }
    }
    /// Number of bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }
    fn is_scalar(&self) -> bool {
        self.factors.is_empty()
    }
    /// The range with a leading space, or nothing for a scalar.
    fn render(&self) -> String {
        if self.is_scalar() {
            return String::new();
        }
        if let [Factor::Lit(n)] = self.factors.as_slice() {
            return format!(" [{}:0]", n - 1);
        }
        let text: Vec<String> = self
            .factors
            .iter()
            .map(|f| match f {
                Factor::Lit(n) => n.to_string(),
                Factor::Param(p) => p.clone(),
            })
            .collect();
        format!(" [{}-1:0]", text.join("*"))
    }
}

/// A `localparam` holding a width or count. Obtain it from [`Module::localparam`] and use it in
/// [`Size`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    name: String,
    value: u32,
    comment: String,
}

impl Param {
    /// The value.
    pub fn value(&self) -> u32 {
        self.value
    }
}

/// A sized constant. Signed constants render as `W'sh…` (two's complement) so that they keep
/// an expression signed; unsigned ones as `W'd…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lit {
    width: u32,
    value: i128,
    signed: bool,
}

/// Operators with two operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `>=` (signed when both operands are signed)
    Ge,
    /// `<` (signed when both operands are signed)
    Lt,
    /// `==`
    Eq,
    /// `&&`
    LogicAnd,
    /// `||`
    LogicOr,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Ge => ">=",
            BinOp::Lt => "<",
            BinOp::Eq => "==",
            BinOp::LogicAnd => "&&",
            BinOp::LogicOr => "||",
        }
    }
}

/// Operators with one operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `!` logical not
    Not,
    /// `~` bitwise not
    BitNot,
    /// `&` reduction and
    ReduceAnd,
    /// `|` reduction or
    ReduceOr,
}

impl UnOp {
    fn symbol(self) -> &'static str {
        match self {
            UnOp::Not => "!",
            UnOp::BitNot => "~",
            UnOp::ReduceAnd => "&",
            UnOp::ReduceOr => "|",
        }
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A whole net, port or register.
    Ref(String),
    /// One bit: `name[i]`.
    Bit(String, u32),
    /// A part select `name[msb:lsb]`.
    Slice(String, u32, u32),
    /// A sized constant.
    Lit(Lit),
    /// A unary operator.
    Unary(UnOp, Box<Expr>),
    /// A binary operator.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `cond ? a : b`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `{a, b, …}`, most significant first.
    Concat(Vec<Expr>),
    /// `{n{a}}`.
    Repeat(u32, Box<Expr>),
    /// One word of a memory: `mem[address]`.
    Index(String, Box<Expr>),
}

impl Expr {
    /// A whole signal.
    pub fn name(n: &str) -> Expr {
        Expr::Ref(n.to_string())
    }
    /// One bit of a signal.
    pub fn bit(n: &str, i: u32) -> Expr {
        Expr::Bit(n.to_string(), i)
    }
    /// Bits `msb..=lsb` of a signal (a single bit renders as `n[i]`).
    pub fn slice(n: &str, msb: u32, lsb: u32) -> Expr {
        if msb == lsb {
            Expr::Bit(n.to_string(), msb)
        } else {
            Expr::Slice(n.to_string(), msb, lsb)
        }
    }
    /// An unsigned constant of `width` bits.
    pub fn uint(width: u32, value: u64) -> Expr {
        Expr::Lit(Lit {
            width,
            value: value as i128,
            signed: false,
        })
    }
    /// A signed constant of `width` bits.
    pub fn sint(width: u32, value: i64) -> Expr {
        Expr::Lit(Lit {
            width,
            value: value as i128,
            signed: true,
        })
    }
    /// `1'b0` or `1'b1`.
    pub fn bool(b: bool) -> Expr {
        Expr::uint(1, b as u64)
    }
    /// `{n{self}}`; just `self` when `n == 1`.
    pub fn repeat(self, n: u32) -> Expr {
        if n == 1 {
            self
        } else {
            Expr::Repeat(n, Box::new(self))
        }
    }
    /// `{parts…}`; a single part is returned as is.
    pub fn concat(mut parts: Vec<Expr>) -> Expr {
        if parts.len() == 1 {
            parts.pop().unwrap_or(Expr::Concat(Vec::new()))
        } else {
            Expr::Concat(parts)
        }
    }
    fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Binary(op, Box::new(a), Box::new(b))
    }
    /// `self + b`.
    pub fn plus(self, b: Expr) -> Expr {
        Expr::bin(BinOp::Add, self, b)
    }
    /// `self - b`.
    pub fn minus(self, b: Expr) -> Expr {
        Expr::bin(BinOp::Sub, self, b)
    }
    /// `self * b`.
    pub fn times(self, b: Expr) -> Expr {
        Expr::bin(BinOp::Mul, self, b)
    }
    /// `self >= b`.
    pub fn ge(self, b: Expr) -> Expr {
        Expr::bin(BinOp::Ge, self, b)
    }
    /// `self < b`.
    pub fn lt(self, b: Expr) -> Expr {
        Expr::bin(BinOp::Lt, self, b)
    }
    /// `self == b`.
    pub fn eq(self, b: Expr) -> Expr {
        Expr::bin(BinOp::Eq, self, b)
    }
    /// Word `address` of memory `mem` (declared with [`Module::memory`]).
    pub fn index(mem: &str, address: Expr) -> Expr {
        Expr::Index(mem.to_string(), Box::new(address))
    }
    /// `self && b`.
    pub fn logic_and(self, b: Expr) -> Expr {
        Expr::bin(BinOp::LogicAnd, self, b)
    }
    /// `self || b`.
    pub fn logic_or(self, b: Expr) -> Expr {
        Expr::bin(BinOp::LogicOr, self, b)
    }
    /// `!self`.
    pub fn logic_not(self) -> Expr {
        Expr::Unary(UnOp::Not, Box::new(self))
    }
    /// `~self`.
    pub fn bit_not(self) -> Expr {
        Expr::Unary(UnOp::BitNot, Box::new(self))
    }
    /// `&self`.
    pub fn reduce_and(self) -> Expr {
        Expr::Unary(UnOp::ReduceAnd, Box::new(self))
    }
    /// `|self`.
    pub fn reduce_or(self) -> Expr {
        Expr::Unary(UnOp::ReduceOr, Box::new(self))
    }
    /// `cond ? self : otherwise`.
    pub fn when(cond: Expr, then: Expr, otherwise: Expr) -> Expr {
        Expr::Cond(Box::new(cond), Box::new(then), Box::new(otherwise))
    }

    /// The expression as Verilog text.
    pub fn to_verilog(&self) -> String {
        self.render(false)
    }

    fn render(&self, nested: bool) -> String {
        let wrap = |s: String| if nested { format!("({s})") } else { s };
        match self {
            Expr::Ref(n) => n.clone(),
            Expr::Bit(n, i) => format!("{n}[{i}]"),
            Expr::Slice(n, m, l) => format!("{n}[{m}:{l}]"),
            Expr::Lit(l) => l.render(),
            // `!|a` does not parse in every tool: a unary operand of a unary gets parentheses.
            Expr::Unary(op, e) if matches!(**e, Expr::Unary(..)) => {
                format!("{}({})", op.symbol(), e.render(false))
            }
            Expr::Unary(op, e) => format!("{}{}", op.symbol(), e.render(true)),
            Expr::Binary(op, a, b) => wrap(format!(
                "{} {} {}",
                a.render(true),
                op.symbol(),
                b.render(true)
            )),
            Expr::Cond(c, a, b) => wrap(format!(
                "{} ? {} : {}",
                c.render(true),
                a.render(true),
                b.render(true)
            )),
            Expr::Concat(parts) => {
                let p: Vec<String> = parts.iter().map(|e| e.render(false)).collect();
                format!("{{{}}}", p.join(", "))
            }
            Expr::Repeat(n, e) => format!("{{{n}{{{}}}}}", e.render(false)),
            Expr::Index(n, a) => format!("{n}[{}]", a.render(false)),
        }
    }

    /// Calls `f(name, bits)` for every signal this expression reads (`None` = all bits).
    fn visit_reads(&self, f: &mut dyn FnMut(&str, Access)) {
        match self {
            Expr::Ref(n) => f(n, Access::Whole),
            Expr::Bit(n, i) => f(n, Access::Bits((*i, *i))),
            Expr::Slice(n, m, l) => f(n, Access::Bits((*m, *l))),
            Expr::Index(n, a) => {
                f(n, Access::Word);
                a.visit_reads(f);
            }
            Expr::Lit(_) => {}
            Expr::Unary(_, e) | Expr::Repeat(_, e) => e.visit_reads(f),
            Expr::Binary(_, a, b) => {
                a.visit_reads(f);
                b.visit_reads(f);
            }
            Expr::Cond(c, a, b) => {
                c.visit_reads(f);
                a.visit_reads(f);
                b.visit_reads(f);
            }
            Expr::Concat(parts) => parts.iter().for_each(|e| e.visit_reads(f)),
        }
    }

    fn visit_lits(&self, f: &mut dyn FnMut(&Lit)) {
        match self {
            Expr::Lit(l) => f(l),
            Expr::Ref(_) | Expr::Bit(..) | Expr::Slice(..) => {}
            Expr::Unary(_, e) | Expr::Repeat(_, e) | Expr::Index(_, e) => e.visit_lits(f),
            Expr::Binary(_, a, b) => {
                a.visit_lits(f);
                b.visit_lits(f);
            }
            Expr::Cond(c, a, b) => {
                c.visit_lits(f);
                a.visit_lits(f);
                b.visit_lits(f);
            }
            Expr::Concat(parts) => parts.iter().for_each(|e| e.visit_lits(f)),
        }
    }
}

impl Lit {
    fn fits(&self) -> bool {
        if self.width == 0 || self.width > 64 {
            return false;
        }
        let w = self.width;
        if self.signed {
            let (lo, hi) = (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1);
            (lo..=hi).contains(&self.value)
        } else {
            (0..(1i128 << w)).contains(&self.value)
        }
    }
    fn render(&self) -> String {
        if self.signed {
            let bits = (self.value as u128) & ((1u128 << self.width) - 1);
            let digits = self.width.div_ceil(4) as usize;
            format!("{}'sh{:0digits$X}", self.width, bits)
        } else if self.width == 1 {
            format!("1'b{}", self.value)
        } else {
            format!("{}'d{}", self.width, self.value)
        }
    }
}

/// A statement inside a clocked `always` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    /// `target <= value;` (non-blocking: every statement here is clocked).
    Set(Expr, Expr),
    /// `if (cond) begin … end else begin … end`.
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    /// `case (sel) … endcase`; arms are (unsigned label, statements, comment), then `default`.
    Case {
        /// The selector.
        sel: Expr,
        /// Width of the labels.
        label_width: u32,
        /// The arms.
        arms: Vec<CaseArm>,
        /// The `default` arm, required unless the labels cover every selector value.
        default: Option<Vec<Stmt>>,
    },
    /// A `//` comment line.
    Comment(String),
}

/// One arm of a [`Stmt::Case`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseArm {
    /// The label value.
    pub label: u64,
    /// A comment after the label.
    pub comment: String,
    /// The statements.
    pub body: Vec<Stmt>,
}

impl Stmt {
    /// `target <= value;`.
    pub fn set(target: &str, value: Expr) -> Stmt {
        Stmt::Set(Expr::name(target), value)
    }
    /// `if (cond) begin then end`.
    pub fn when(cond: Expr, then: Vec<Stmt>) -> Stmt {
        Stmt::If(cond, then, Vec::new())
    }

    fn visit(&self, reads: &mut dyn FnMut(&Expr), writes: &mut dyn FnMut(&Expr)) {
        match self {
            Stmt::Set(t, v) => {
                writes(t);
                if let Expr::Index(_, address) = t {
                    reads(address);
                }
                reads(v);
            }
            Stmt::If(c, a, b) => {
                reads(c);
                a.iter().chain(b).for_each(|s| s.visit(reads, writes));
            }
            Stmt::Case {
                sel, arms, default, ..
            } => {
                reads(sel);
                for arm in arms {
                    arm.body.iter().for_each(|s| s.visit(reads, writes));
                }
                default
                    .iter()
                    .flatten()
                    .for_each(|s| s.visit(reads, writes));
            }
            Stmt::Comment(_) => {}
        }
    }

    fn render(&self, out: &mut String, indent: usize) {
        let pad = "    ".repeat(indent);
        match self {
            Stmt::Set(t, v) => {
                let _ = writeln!(out, "{pad}{} <= {};", t.render(false), v.render(false));
            }
            Stmt::If(c, a, b) => {
                let _ = writeln!(out, "{pad}if ({}) begin", c.render(false));
                a.iter().for_each(|s| s.render(out, indent + 1));
                if b.is_empty() {
                    let _ = writeln!(out, "{pad}end");
                } else if let [inner @ Stmt::If(..)] = b.as_slice() {
                    let _ = write!(out, "{pad}end else ");
                    let mut tail = String::new();
                    inner.render(&mut tail, indent);
                    out.push_str(tail.trim_start());
                } else {
                    let _ = writeln!(out, "{pad}end else begin");
                    b.iter().for_each(|s| s.render(out, indent + 1));
                    let _ = writeln!(out, "{pad}end");
                }
            }
            Stmt::Case {
                sel,
                label_width,
                arms,
                default,
            } => {
                let _ = writeln!(out, "{pad}case ({})", sel.render(false));
                for arm in arms {
                    let comment = if arm.comment.is_empty() {
                        String::new()
                    } else {
                        format!(" // {}", arm.comment)
                    };
                    let _ = writeln!(out, "{pad}    {label_width}'d{}: begin{comment}", arm.label);
                    arm.body.iter().for_each(|s| s.render(out, indent + 2));
                    let _ = writeln!(out, "{pad}    end");
                }
                if let Some(d) = default {
                    let _ = writeln!(out, "{pad}    default: begin");
                    d.iter().for_each(|s| s.render(out, indent + 2));
                    let _ = writeln!(out, "{pad}    end");
                }
                let _ = writeln!(out, "{pad}endcase");
            }
            Stmt::Comment(c) => {
                let _ = writeln!(out, "{pad}// {c}");
            }
        }
    }
}

/// Whether a net is a `wire` or a `reg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    /// Driven by a continuous assignment or an instance output.
    Wire,
    /// Driven by a clocked `always` block.
    Reg,
}

/// A module port (always `wire`: outputs are assigned from registers, verilog-axis style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Name.
    pub name: String,
    /// Direction.
    pub dir: PortDir,
    /// Width.
    pub size: Size,
    /// Declared `signed`.
    pub signed: bool,
}

#[derive(Debug, Clone)]
struct PortGroup {
    title: Vec<String>,
    ports: Vec<Port>,
}

#[derive(Debug, Clone)]
struct Net {
    kind: NetKind,
    name: String,
    size: Size,
    signed: bool,
    comment: Option<String>,
    init: Option<Expr>,
    /// Words of a memory (`reg [..] name [0:depth-1]`); `None` for a plain net.
    depth: Option<u32>,
}

#[derive(Debug, Clone)]
struct Instance {
    module: String,
    name: String,
    /// (port, expression, direction of the port).
    conns: Vec<(String, Expr, PortDir)>,
}

#[derive(Debug, Clone)]
enum Item {
    Comment(Vec<String>),
    Net(Net),
    Assign(Expr, Expr),
    Always {
        clock: String,
        comment: Vec<String>,
        body: Vec<Stmt>,
    },
    Instance(Instance),
}

#[derive(Debug, Clone)]
struct Discard {
    signal: String,
    reason: String,
}

/// What the checker knows of a declared signal.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// Bits (of one word, for a memory).
    bits: u32,
    /// Declared without a range.
    scalar: bool,
    /// Words, for a memory.
    depth: Option<u32>,
}

/// One Verilog module under construction.
#[derive(Debug, Clone)]
pub struct Module {
    name: String,
    doc: Vec<String>,
    groups: Vec<PortGroup>,
    params: Vec<Param>,
    items: Vec<Item>,
    discards: Vec<Discard>,
    lint_off: Vec<(&'static str, String)>,
}

impl Module {
    /// A new module; `doc` lines become a `//` comment block right above `module`.
    pub fn new(name: &str, doc: Vec<String>) -> Self {
        Module {
            name: name.to_string(),
            doc,
            groups: Vec::new(),
            params: Vec::new(),
            items: Vec::new(),
            discards: Vec::new(),
            lint_off: Vec::new(),
        }
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts a commented group of ports; following [`Module::port`] calls join it.
    pub fn port_group(&mut self, title: &[&str]) {
        self.groups.push(PortGroup {
            title: title.iter().map(|s| s.to_string()).collect(),
            ports: Vec::new(),
        });
    }

    /// Adds a port to the current group.
    pub fn port(&mut self, dir: PortDir, name: &str, size: Size, signed: bool) {
        if self.groups.is_empty() {
            self.port_group(&[]);
        }
        if let Some(g) = self.groups.last_mut() {
            g.ports.push(Port {
                name: name.to_string(),
                dir,
                size,
                signed,
            });
        }
    }

    /// All ports in declaration order.
    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.groups.iter().flat_map(|g| g.ports.iter())
    }

    /// Declares `localparam NAME = value;` (with a trailing comment) and returns its handle.
    pub fn localparam(&mut self, name: &str, value: u32, comment: &str) -> Param {
        let p = Param {
            name: name.to_string(),
            value,
            comment: comment.to_string(),
        };
        self.params.push(p.clone());
        p
    }

    /// Wraps the whole module in `verilator lint_off RULE` … `lint_on` with `why` as a comment.
    /// Only for file-organisation rules that conflict with a requirement (e.g. DECLFILENAME for
    /// the second module of a one-file core), never for logic warnings.
    pub fn lint_off_around(&mut self, rule: &'static str, why: &str) {
        self.lint_off.push((rule, why.to_string()));
    }

    /// A `//` comment block between items (a blank line precedes it).
    pub fn comment(&mut self, lines: &[&str]) {
        self.items
            .push(Item::Comment(lines.iter().map(|s| s.to_string()).collect()));
    }

    fn net(&mut self, kind: NetKind, name: &str, size: Size, signed: bool, init: Option<Expr>) {
        self.items.push(Item::Net(Net {
            kind,
            name: name.to_string(),
            size,
            signed,
            comment: None,
            init,
            depth: None,
        }));
    }

    /// `wire [..] name;` (driven by an instance output).
    pub fn wire(&mut self, name: &str, size: Size, signed: bool) {
        self.net(NetKind::Wire, name, size, signed, None);
    }

    /// `wire [..] name = value;`.
    pub fn wire_eq(&mut self, name: &str, size: Size, signed: bool, value: Expr) {
        self.net(NetKind::Wire, name, size, signed, Some(value));
    }

    /// `reg [..] name;` (driven by an `always` block; no initial value: resets are explicit).
    pub fn reg(&mut self, name: &str, size: Size, signed: bool) {
        self.net(NetKind::Reg, name, size, signed, None);
    }

    /// `reg [..] name [0:depth-1];`: a memory of `depth` words, written only by indexed
    /// non-blocking assignments in a clocked block and read only as words
    /// ([`Expr::index`]). An asynchronous read of it is what FPGA tools infer as distributed
    /// (LUT) RAM.
    pub fn memory(&mut self, name: &str, word: Size, signed: bool, depth: u32) {
        self.net(NetKind::Reg, name, word, signed, None);
        if let Some(Item::Net(n)) = self.items.last_mut() {
            n.depth = Some(depth);
        }
    }

    /// Adds a trailing comment to the most recent net declaration.
    pub fn note(&mut self, text: &str) {
        if let Some(Item::Net(n)) = self.items.last_mut() {
            n.comment = Some(text.to_string());
        }
    }

    /// `assign target = value;`.
    pub fn assign(&mut self, target: &str, value: Expr) {
        self.items.push(Item::Assign(Expr::name(target), value));
    }

    /// `always @(posedge clock) begin body end`, preceded by `comment` lines.
    pub fn always_ff(&mut self, clock: &str, comment: &[&str], body: Vec<Stmt>) {
        self.items.push(Item::Always {
            clock: clock.to_string(),
            comment: comment.iter().map(|s| s.to_string()).collect(),
            body,
        });
    }

    /// Instantiates `module` as `name`; `conns` maps each of its ports to an expression (a net
    /// or a part select for outputs). Every port must be connected exactly once.
    pub fn instance(
        &mut self,
        module: &Module,
        name: &str,
        conns: Vec<(&str, Expr)>,
    ) -> Result<(), HdlError> {
        let connection = |problem, port: &str| HdlError::Connection {
            module: self.name.clone(),
            instance: name.to_string(),
            problem,
            port: port.to_string(),
        };
        let mut out = Vec::new();
        let given: BTreeSet<&str> = conns.iter().map(|(p, _)| *p).collect();
        if given.len() != conns.len() {
            let twice = conns
                .iter()
                .find(|(p, _)| conns.iter().filter(|(q, _)| q == p).count() > 1);
            return Err(connection(
                "connects twice port",
                twice.map_or("", |(p, _)| p),
            ));
        }
        for port in module.ports() {
            let Some((_, e)) = conns.iter().find(|(p, _)| *p == port.name) else {
                return Err(connection("leaves open port", &port.name));
            };
            out.push((port.name.clone(), e.clone(), port.dir));
        }
        if out.len() != conns.len() {
            let extra = conns
                .iter()
                .find(|(p, _)| module.ports().all(|q| q.name != *p));
            return Err(connection(
                "connects a port its module lacks:",
                extra.map_or("", |(p, _)| p),
            ));
        }
        self.items.push(Item::Instance(Instance {
            module: module.name.clone(),
            name: name.to_string(),
            conns: out,
        }));
        Ok(())
    }

    /// Declares that `signal` may have bits nobody reads, for `reason`: such bits are collected
    /// into `<signal>_unused` (lint-off region) at render time. Bits that are read are not listed.
    /// Declaring the same signal again adds the reason.
    pub fn discard(&mut self, signal: &str, reason: &str) {
        if let Some(d) = self.discards.iter_mut().find(|d| d.signal == signal) {
            if !d.reason.contains(reason) {
                d.reason = format!("{}; {reason}", d.reason);
            }
            return;
        }
        self.discards.push(Discard {
            signal: signal.to_string(),
            reason: reason.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_render_and_fit() {
        assert_eq!(Expr::sint(8, -1).render(false), "8'shFF");
        assert_eq!(Expr::sint(6, -32).render(false), "6'sh20");
        assert_eq!(Expr::uint(3, 5).render(false), "3'd5");
        assert_eq!(Expr::bool(true).render(false), "1'b1");
        assert!(!Lit {
            width: 4,
            value: 8,
            signed: true
        }
        .fits());
        assert!(Lit {
            width: 4,
            value: -8,
            signed: true
        }
        .fits());
        assert!(!Lit {
            width: 4,
            value: 16,
            signed: false
        }
        .fits());
    }

    #[test]
    fn operators_are_parenthesized() {
        let e = Expr::name("a").plus(Expr::name("b").times(Expr::name("c")));
        assert_eq!(e.render(false), "a + (b * c)");
        let e = Expr::when(
            Expr::name("s"),
            Expr::name("a"),
            Expr::name("b").reduce_and(),
        );
        assert_eq!(e.render(false), "s ? a : &b");
        // `!|b` does not parse in Icarus.
        let e = Expr::name("b").reduce_or().logic_not();
        assert_eq!(e.render(false), "!(|b)");
    }

    fn tiny() -> Module {
        let mut m = Module::new("tiny", vec![]);
        m.port_group(&["Clock"]);
        m.port(PortDir::In, "clk", Size::scalar(), false);
        m.port(PortDir::In, "d", Size::lit(8), false);
        m.port(PortDir::Out, "q", Size::lit(4), false);
        m.reg("q_reg", Size::lit(4), false);
        m.always_ff("clk", &[], vec![Stmt::set("q_reg", Expr::slice("d", 5, 2))]);
        m.assign("q", Expr::name("q_reg"));
        m
    }

    #[test]
    fn unused_bits_are_gathered_only_when_declared() {
        let mut m = tiny();
        m.discard("d", "only bits 5:2 matter");
        let text = m.render().unwrap();
        assert!(
            text.contains("wire [3:0] d_unused = {d[7:6], d[1:0]};"),
            "{text}"
        );
    }

    #[test]
    fn memories_render_and_must_be_indexed() {
        let mut m = tiny();
        m.memory("table_mem", Size::lit(4), true, 5);
        m.always_ff(
            "clk",
            &[],
            vec![Stmt::Set(
                Expr::index("table_mem", Expr::slice("d", 2, 0)),
                Expr::slice("d", 7, 4),
            )],
        );
        m.wire_eq(
            "word",
            Size::lit(4),
            true,
            Expr::index("table_mem", Expr::slice("d", 5, 3)),
        );
        m.discard("word", "only a rendering test");
        let text = m.render().unwrap();
        assert!(text.contains("reg signed [3:0] table_mem [0:4];"), "{text}");
        assert!(text.contains("table_mem[d[2:0]] <= d[7:4];"), "{text}");
        assert!(
            text.contains("wire signed [3:0] word = table_mem[d[5:3]];"),
            "{text}"
        );
        let mut m = tiny();
        m.memory("table_mem", Size::lit(4), false, 5);
        m.wire_eq("all", Size::lit(4), false, Expr::name("table_mem"));
        assert!(matches!(
            m.render().unwrap_err(),
            HdlError::WrongShape { signal, .. } if signal == "table_mem"
        ));
        let mut m = tiny();
        m.wire_eq("w", Size::lit(1), false, Expr::index("d", Expr::uint(3, 0)));
        assert!(matches!(
            m.render().unwrap_err(),
            HdlError::WrongShape { signal, .. } if signal == "d"
        ));
    }

    #[test]
    fn undeclared_and_out_of_range_are_errors() {
        let mut m = tiny();
        m.assign("q", Expr::name("nope"));
        assert!(matches!(
            m.render().unwrap_err(),
            HdlError::Undeclared { signal, .. } if signal == "nope"
        ));
        let mut m = tiny();
        m.always_ff("clk", &[], vec![Stmt::set("q_reg", Expr::slice("d", 9, 6))]);
        assert!(matches!(
            m.render().unwrap_err(),
            HdlError::OutOfRange { signal, msb: 9, lsb: 6, .. } if signal == "d"
        ));
        let mut m = tiny();
        m.reg("reg", Size::scalar(), false);
        assert!(matches!(
            m.render().unwrap_err(),
            HdlError::BadIdentifier { name, .. } if name == "reg"
        ));
        let mut m = tiny();
        m.localparam("UNUSED_WIDTH", 3, "");
        assert_eq!(
            m.render().unwrap_err().to_string(),
            format!(
                "module `{}`: localparam `UNUSED_WIDTH` is never used",
                m.name()
            )
        );
    }
}
