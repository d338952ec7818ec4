//! The typed stage list of a datapath: the one description of the integer computation that
//! the golden model executes ([`super::golden`]), the interval analysis walks (in
//! [`super::spec`]), the HDL lowers stage by stage (`hdl/lane.rs`) and the Verilog header
//! prints (`hdl/header.rs`).
//!
//! A datapath is a list of [`PipelineStage`]s; each holds the [`Step`]s computed between two
//! pipeline registers. Every stage but the last ends in a register of every value a later
//! stage reads; the last stage's result is registered by the AXI4-Stream output (skid)
//! register, so the latency is the number of stages. Adding a pipeline stage means adding it
//! to the list a builder makes (e.g. [`super::spec::poly_pipeline`]) and, for a new kind of
//! step, its case in the golden model, the interval analysis and the HDL lowering.

use serde::Serialize;
use std::fmt;

/// How a step discards low bits. `Display` gives the Vitis HLS name every renderer prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Rounding {
    /// Round to nearest, ties to even (float to fixed: input samples and coefficients),
    /// Vitis `AP_RND_CONV`.
    HalfEven,
    /// Round to nearest, ties toward +inf (Vitis `AP_RND`): bias folded into a constant, then
    /// floor.
    HalfUp,
    /// No bits are discarded.
    Exact,
}

impl Rounding {
    /// The Vitis HLS quantization mode (`AP_RND`, `AP_RND_CONV`) or `exact`.
    pub fn vitis_name(self) -> &'static str {
        match self {
            Rounding::HalfEven => "AP_RND_CONV",
            Rounding::HalfUp => "AP_RND",
            Rounding::Exact => "exact",
        }
    }
    /// The mode and what it does, in words (e.g. for file headers).
    pub fn describe(self) -> &'static str {
        match self {
            Rounding::HalfUp => "AP_RND: round to nearest, ties toward +inf (round half up)",
            Rounding::HalfEven => "round to nearest, ties to even",
            Rounding::Exact => "exact (no bits discarded)",
        }
    }
}

impl fmt::Display for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.vitis_name())
    }
}

/// What a step does with values outside its range. `Display` gives the Vitis HLS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Overflow {
    /// Clamp to the nearest representable value (Vitis `AP_SAT`).
    Saturate,
    /// Cannot happen: the width holds the stage's whole range.
    Impossible,
}

impl Overflow {
    /// `AP_SAT`, or `none` when the range is proven to fit.
    pub fn vitis_name(self) -> &'static str {
        match self {
            Overflow::Saturate => "AP_SAT",
            Overflow::Impossible => "none",
        }
    }
    /// The mode in words.
    pub fn describe(self) -> &'static str {
        match self {
            Overflow::Saturate => "saturate",
            Overflow::Impossible => "impossible",
        }
    }
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.vitis_name())
    }
}

/// The output quantization of every core: `AP_RND` then `AP_SAT`, as one phrase
/// ("AP_RND / AP_SAT") for renderers that state it.
pub fn output_quantization() -> String {
    format!("{} / {}", Rounding::HalfUp, Overflow::Saturate)
}

/// A value of the datapath: a wire or register in the HDL (its name is [`Signal::name`]), a
/// local in the golden model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// The input sample (raw).
    X,
    /// The multiplier operand: `x` minus its segment's origin (the offset inside a table
    /// segment; `x` itself in comparator segments).
    V,
    /// Quadratic coefficient of the selected segment.
    C2,
    /// Linear constant with rounding bias.
    K1,
    /// Constant term with rounding bias.
    K0,
    /// `c2 · v`.
    P1,
    /// `p1 + k1`.
    S1,
    /// Inner Horner term after the first rounding.
    T,
    /// `t · v`.
    P2,
    /// `p2 + k0`.
    Y,
    /// `y` after the final rounding shift, before saturation.
    Q,
    /// The output sample (raw).
    Out,
}

/// Number of [`Signal`]s (the golden model keeps one slot each).
pub const SIGNALS: usize = 12;

impl Signal {
    /// Every signal, in declaration order (the HDL declares widths in this order).
    pub const ALL: [Signal; SIGNALS] = [
        Signal::X,
        Signal::V,
        Signal::C2,
        Signal::K1,
        Signal::K0,
        Signal::P1,
        Signal::S1,
        Signal::T,
        Signal::P2,
        Signal::Y,
        Signal::Q,
        Signal::Out,
    ];
    /// Lower-case name, as in the HDL and the header (`x`, `c2`, `p1`, …).
    pub fn name(self) -> &'static str {
        match self {
            Signal::X => "x",
            Signal::V => "v",
            Signal::C2 => "c2",
            Signal::K1 => "k1",
            Signal::K0 => "k0",
            Signal::P1 => "p1",
            Signal::S1 => "s1",
            Signal::T => "t",
            Signal::P2 => "p2",
            Signal::Y => "y",
            Signal::Q => "q",
            Signal::Out => "out",
        }
    }
    /// Slot in the golden model's register array.
    pub fn slot(self) -> usize {
        self as usize
    }
}

/// One operation of the datapath. Every step but the selects is exact arithmetic on signals
/// whose widths the interval analysis proved sufficient; `width` is the destination's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    /// `(c2, k1, k0) = coef[channel][segment(x)]`, the segment found by the spec's
    /// [`super::spec::SegmentSelect`].
    Lookup {
        /// Widths of `c2`, `k1`, `k0`.
        widths: [u32; 3],
    },
    /// `v = x - origin[segment]`: the offset inside a table segment (the low bits of `x`),
    /// `x` itself in a comparator segment.
    Offset {
        /// Width of `v`.
        width: u32,
    },
    /// `dst = a · b`, exact.
    Mul {
        /// Product.
        dst: Signal,
        /// First factor.
        a: Signal,
        /// Second factor.
        b: Signal,
        /// Width of `dst`.
        width: u32,
    },
    /// `dst = a + b`, exact.
    Add {
        /// Sum.
        dst: Signal,
        /// First term.
        a: Signal,
        /// Second term (a constant of the segment).
        b: Signal,
        /// Width of `dst`.
        width: u32,
    },
    /// `dst = src >> shift`: an arithmetic shift (a floor); with `HalfUp` the constant added
    /// before it carries half an LSB of `dst`, so it rounds half up.
    ShiftRound {
        /// Result.
        dst: Signal,
        /// Source.
        src: Signal,
        /// Bits discarded.
        shift: u32,
        /// What the floor amounts to.
        rounding: Rounding,
        /// Width of `dst`.
        width: u32,
    },
    /// `dst = clamp(src)` to the output range.
    Saturate {
        /// Result (the output).
        dst: Signal,
        /// Source.
        src: Signal,
        /// The policy.
        overflow: Overflow,
        /// Width of `dst` (the output width).
        width: u32,
    },
    /// `out = rom[x]`: the layer's table of every output, indexed by the input code.
    Rom {
        /// Width of `out`.
        width: u32,
    },
}

impl Step {
    /// The signals this step writes.
    pub fn writes(&self) -> &'static [Signal] {
        match self {
            Step::Lookup { .. } => &[Signal::C2, Signal::K1, Signal::K0],
            Step::Offset { .. } => &[Signal::V],
            Step::Rom { .. } => &[Signal::Out],
            Step::Mul { dst, .. }
            | Step::Add { dst, .. }
            | Step::ShiftRound { dst, .. }
            | Step::Saturate { dst, .. } => std::slice::from_ref(signal_ref(*dst)),
        }
    }
    /// The signals this step reads.
    pub fn reads(&self) -> Vec<Signal> {
        match *self {
            Step::Lookup { .. } | Step::Offset { .. } | Step::Rom { .. } => vec![Signal::X],
            Step::Mul { a, b, .. } | Step::Add { a, b, .. } => vec![a, b],
            Step::ShiftRound { src, .. } | Step::Saturate { src, .. } => vec![src],
        }
    }
    /// Width of each signal written, in [`Step::writes`] order.
    pub fn widths(&self) -> Vec<u32> {
        match *self {
            Step::Lookup { widths } => widths.to_vec(),
            Step::Offset { width }
            | Step::Rom { width }
            | Step::Mul { width, .. }
            | Step::Add { width, .. }
            | Step::ShiftRound { width, .. }
            | Step::Saturate { width, .. } => vec![width],
        }
    }
    /// The formula, as the header and the HDL comments print it (`c2*v`, `s1 >>> 7`, …).
    pub fn formula(&self) -> String {
        match *self {
            Step::Lookup { .. } => "coef[channel][segment]".into(),
            Step::Offset { .. } => "x - origin[segment]".into(),
            Step::Mul { a, b, .. } => format!("{}*{}", a.name(), b.name()),
            Step::Add { a, b, .. } => format!("{} + {}", a.name(), b.name()),
            Step::ShiftRound { src, shift, .. } => format!("{} >>> {shift}", src.name()),
            Step::Saturate { src, .. } => format!("saturate({})", src.name()),
            Step::Rom { .. } => "rom[x]".into(),
        }
    }
}

/// `&'static` of a signal value (so [`Step::writes`] can return a slice).
fn signal_ref(s: Signal) -> &'static Signal {
    &Signal::ALL[s.slot()]
}

/// The steps between two pipeline registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineStage {
    /// What the stage does, in words (printed in the HDL).
    pub what: String,
    /// Its steps, in order.
    pub steps: Vec<Step>,
}

/// The width of every signal some step of `pipeline` writes (`x` is `x_width`).
pub fn signal_widths(pipeline: &[PipelineStage], x_width: u32) -> [Option<u32>; SIGNALS] {
    let mut w = [None; SIGNALS];
    w[Signal::X.slot()] = Some(x_width);
    for step in pipeline.iter().flat_map(|s| &s.steps) {
        for (sig, width) in step.writes().iter().zip(step.widths()) {
            w[sig.slot()] = Some(width);
        }
    }
    w
}

/// A [`Step`] compiled for the golden model: signal slots as small indices and each width as
/// the shift pair that wraps a 64-bit value to it (`(v << sh) >> sh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exec {
    Lookup {
        sh: [u32; 3],
    },
    Offset {
        sh: u32,
    },
    Mul {
        d: u8,
        a: u8,
        b: u8,
        sh: u32,
    },
    Add {
        d: u8,
        a: u8,
        b: u8,
        sh: u32,
    },
    Shr {
        d: u8,
        s: u8,
        n: u32,
        sh: u32,
    },
    Sat {
        d: u8,
        s: u8,
        lo: i64,
        hi: i64,
    },
    Rom,
    /// The whole Horner pipeline fused (see [`fuse_horner`]): the same operations in the
    /// same order, with every value in a register instead of the slot array.
    Horner(Horner),
}

/// The parameters of a fused Horner pipeline: wrap shifts of every signal, the two rounding
/// shifts, whether the operand is the offset `v` (else `x`), the output range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Horner {
    pub coef: [u32; 3],
    pub v: Option<u32>,
    pub p1: u32,
    pub s1: u32,
    pub n1: u32,
    pub t: u32,
    pub p2: u32,
    pub y: u32,
    pub n2: u32,
    pub q: u32,
    pub lo: i64,
    pub hi: i64,
}

/// Recognizes the exact step sequence of [`super::spec::poly_pipeline`] and fuses it into one
/// [`Exec::Horner`], so the golden model runs it as straight-line code (the interpreter's
/// slot array costs a factor of 3 in speed). Any other sequence (a stage added, a step
/// changed) is left to the step-by-step interpreter, which is always correct; a test checks
/// that both give the same result.
fn fuse_horner(steps: &[Step], out_range: (i64, i64)) -> Option<Exec> {
    use Signal::*;
    let sh = |w: u32| 64 - w.clamp(1, 64);
    let (lookup, rest) = steps.split_first()?;
    let Step::Lookup { widths } = *lookup else {
        return None;
    };
    let (v, rest, op) = match rest.split_first()? {
        (Step::Offset { width }, rest) => (Some(sh(*width)), rest, V),
        _ => (None, rest, X),
    };
    match *rest {
        [Step::Mul {
            dst: P1,
            a: C2,
            b: b1,
            width: p1,
        }, Step::Add {
            dst: S1,
            a: P1,
            b: K1,
            width: s1,
        }, Step::ShiftRound {
            dst: T,
            src: S1,
            shift: n1,
            width: t,
            ..
        }, Step::Mul {
            dst: P2,
            a: T,
            b: b2,
            width: p2,
        }, Step::Add {
            dst: Y,
            a: P2,
            b: K0,
            width: y,
        }, Step::ShiftRound {
            dst: Q,
            src: Y,
            shift: n2,
            width: q,
            ..
        }, Step::Saturate {
            dst: Out, src: Q, ..
        }] if b1 == op && b2 == op => Some(Exec::Horner(Horner {
            coef: widths.map(sh),
            v,
            p1: sh(p1),
            s1: sh(s1),
            n1: n1.min(63),
            t: sh(t),
            p2: sh(p2),
            y: sh(y),
            n2: n2.min(63),
            q: sh(q),
            lo: out_range.0,
            hi: out_range.1,
        })),
        _ => None,
    }
}

/// The steps of `pipeline` in execution order, compiled (fused where [`fuse_horner`]
/// applies); `out_range` is the output's raw range.
pub(crate) fn compile(pipeline: &[PipelineStage], out_range: (i64, i64)) -> Vec<Exec> {
    let steps: Vec<Step> = pipeline
        .iter()
        .flat_map(|s| s.steps.iter().copied())
        .collect();
    match fuse_horner(&steps, out_range) {
        Some(fused) => vec![fused],
        None => compile_steps(&steps, out_range),
    }
}

/// The steps compiled one by one, unfused.
pub(crate) fn compile_steps(steps: &[Step], out_range: (i64, i64)) -> Vec<Exec> {
    let sh = |w: u32| 64 - w.clamp(1, 64);
    let slot = |s: Signal| s.slot() as u8;
    steps
        .iter()
        .map(|step| match *step {
            Step::Lookup { widths } => Exec::Lookup { sh: widths.map(sh) },
            Step::Offset { width } => Exec::Offset { sh: sh(width) },
            Step::Mul { dst, a, b, width } => Exec::Mul {
                d: slot(dst),
                a: slot(a),
                b: slot(b),
                sh: sh(width),
            },
            Step::Add { dst, a, b, width } => Exec::Add {
                d: slot(dst),
                a: slot(a),
                b: slot(b),
                sh: sh(width),
            },
            Step::ShiftRound {
                dst,
                src,
                shift,
                width,
                ..
            } => Exec::Shr {
                d: slot(dst),
                s: slot(src),
                n: shift.min(63),
                sh: sh(width),
            },
            Step::Saturate { dst, src, .. } => Exec::Sat {
                d: slot(dst),
                s: slot(src),
                lo: out_range.0,
                hi: out_range.1,
            },
            Step::Rom { .. } => Exec::Rom,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vitis_names() {
        assert_eq!(output_quantization(), "AP_RND / AP_SAT");
        assert_eq!(Rounding::HalfEven.to_string(), "AP_RND_CONV");
        assert_eq!(Rounding::Exact.to_string(), "exact");
        assert_eq!(Overflow::Impossible.to_string(), "none");
    }

    #[test]
    fn signals_are_numbered_in_order() {
        for (i, s) in Signal::ALL.iter().enumerate() {
            assert_eq!(s.slot(), i);
        }
    }
}
