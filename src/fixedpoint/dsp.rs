//! How the datapath's multipliers map onto DSP48E1 slices: the one place the DSP count of a
//! multiply is computed (the format search ranks candidates by it, the pipeline adds a
//! register stage after a multiply that needs more than one slice, and the spec, `inspect`
//! and the resource report print it).
//!
//! A DSP48E1 multiplies a 25-bit by an 18-bit signed operand. A wider signed product is
//! tiled as in Xilinx UG479 ("Two DSP48E1 slices implement a 25 × 35 multiplier"): each
//! operand is cut into chunks whose low chunks are unsigned (24 bits on the 25-bit A port,
//! 17 bits on the 18-bit B port, one bit of each port being the zero sign) and whose top
//! chunk is signed; every pair of chunks is one slice, the partial products summed through the
//! slices' post-adders (`PCIN` shifted by 17 along the cascade). The operands take either
//! port, whichever gives fewer slices. Vivado infers this tiling from a plain `*`.
//!
//! Yosys' `synth_xilinx` (0.23, `mul2dsp`) tiles differently: it puts the wider operand on A
//! and cuts it into 17-bit chunks, so e.g. a 30 × 24 product takes 4 slices in its estimate
//! against the 2 counted here. The resource report shows both: this count and Yosys' cells.

use super::stage::{signal_widths, PipelineStage, Signal, Step};
use serde::Serialize;

/// Width of the DSP48E1 A port (signed): the widest operand one slice takes.
pub const DSP48E1_A_WIDTH: u32 = 25;
/// Width of the DSP48E1 B port (signed).
pub const DSP48E1_B_WIDTH: u32 = 18;

/// Chunks of a `w`-bit signed operand on a `port`-bit signed port: `port - 1` magnitude bits
/// per chunk, the top chunk keeping the sign.
fn chunks(w: u32, port: u32) -> u32 {
    (w - 1).div_ceil(port - 1)
}

/// DSP48E1 slices of a signed `a`-bit × `b`-bit multiply. An operand of one bit is 0 or -1,
/// so its product is a negation at most: no slice (both Yosys and Vivado build it from LUTs).
pub fn dsp48e1_slices(a: u32, b: u32) -> u32 {
    if a <= 1 || b <= 1 {
        return 0;
    }
    let on = |wa: u32, wb: u32| chunks(wa, DSP48E1_A_WIDTH) * chunks(wb, DSP48E1_B_WIDTH);
    on(a, b).min(on(b, a))
}

/// One multiply of a pipeline and the DSP48E1 slices it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Multiplier {
    /// The product.
    pub product: Signal,
    /// The factors.
    pub factors: [Signal; 2],
    /// Their widths, in bits.
    pub widths: [u32; 2],
    /// DSP48E1 slices ([`dsp48e1_slices`]).
    pub slices: u32,
}

impl Multiplier {
    /// E.g. `p2 = t*x: 30 x 24 bits, 2 DSP48E1`.
    pub fn describe(&self) -> String {
        let [a, b] = self.factors;
        let [wa, wb] = self.widths;
        format!(
            "{} = {}*{}: {wa} x {wb} bits, {} DSP48E1",
            self.product.name(),
            a.name(),
            b.name(),
            self.slices
        )
    }
}

/// Every multiply of `pipeline` (input `x` of `x_width` bits), in order.
pub fn multipliers(pipeline: &[PipelineStage], x_width: u32) -> Vec<Multiplier> {
    let widths = signal_widths(pipeline, x_width);
    let w = |s: Signal| widths[s.slot()].unwrap_or(0);
    pipeline
        .iter()
        .flat_map(|s| &s.steps)
        .filter_map(|step| match *step {
            Step::Mul { dst, a, b, .. } => Some(Multiplier {
                product: dst,
                factors: [a, b],
                widths: [w(a), w(b)],
                slices: dsp48e1_slices(w(a), w(b)),
            }),
            _ => None,
        })
        .collect()
}

/// DSP48E1 slices of one lane of `pipeline`: the sum over its multiplies.
pub fn lane_dsp48e1(pipeline: &[PipelineStage], x_width: u32) -> u32 {
    multipliers(pipeline, x_width)
        .iter()
        .map(|m| m.slices)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slice_up_to_25_by_18_in_either_order() {
        assert_eq!(dsp48e1_slices(25, 18), 1);
        assert_eq!(dsp48e1_slices(18, 25), 1);
        assert_eq!(dsp48e1_slices(2, 2), 1);
        assert_eq!(dsp48e1_slices(1, 24), 0);
        assert_eq!(dsp48e1_slices(24, 1), 0);
    }

    #[test]
    fn wide_products_follow_the_ug479_tiling() {
        // 25 x 35: the UG479 example, two slices (17 + 18 bits on B).
        assert_eq!(dsp48e1_slices(25, 35), 2);
        assert_eq!(dsp48e1_slices(35, 25), 2);
        assert_eq!(dsp48e1_slices(25, 36), 3);
        assert_eq!(dsp48e1_slices(25, 19), 2);
        assert_eq!(dsp48e1_slices(19, 19), 2);
        // The 24-bit formats: a 22-bit c2 and a 30-bit t against a 24-bit x.
        assert_eq!(dsp48e1_slices(22, 24), 2);
        assert_eq!(dsp48e1_slices(30, 24), 2);
        assert_eq!(dsp48e1_slices(18, 24), 1);
        // Both operands beyond one port: 2 x 2 chunks.
        assert_eq!(dsp48e1_slices(42, 35), 4);
        assert_eq!(dsp48e1_slices(49, 18), 2);
        assert_eq!(dsp48e1_slices(50, 18), 3);
    }
}
