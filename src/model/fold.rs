//! Folding: every RepAct variant becomes one piecewise quadratic with breakpoints -3, 0, 3.
//!
//! On each of the four intervals every branch is a polynomial of degree <= 2:
//!
//! | interval   | identity | relu | hardswish     | prelu |
//! |------------|----------|------|---------------|-------|
//! | x < -3     | x        | 0    | 0             | p·x   |
//! | -3 <= x < 0| x        | 0    | x²/6 + x/2    | p·x   |
//! | 0 <= x < 3 | x        | x    | x²/6 + x/2    | x     |
//! | x >= 3     | x        | x    | x             | x     |
//!
//! so the weighted sum is a weighted sum of these rows, and an eval-mode BatchNorm
//! `y·s + t` scales all coefficients by `s` and adds `t` to `c0`.

use super::params::{Branch, Layer, LayerKind, RepActParams};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The breakpoints every RepAct layer folds to.
pub const REPACT_BREAKPOINTS: [f64; 3] = [-3.0, 0.0, 3.0];

/// A folded activation: per channel, one quadratic `c0 + c1·x + c2·x²` per segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldedLayer {
    /// The layer's name.
    pub name: String,
    /// `origin`, `softmax`, `bn` or `piecewise`.
    pub variant: String,
    /// Strictly increasing; segment `i` covers `[breakpoints[i-1], breakpoints[i])`.
    pub breakpoints: Vec<f64>,
    /// `segments[channel][segment] = [c0, c1, c2]`.
    pub segments: Vec<Vec<[f64; 3]>>,
}

impl FoldedLayer {
    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.segments.len()
    }

    /// The segment `x` falls in: the number of breakpoints `<= x`.
    pub fn segment_of(&self, x: f64) -> usize {
        self.breakpoints.iter().take_while(|&&b| b <= x).count()
    }

    /// The folded function in f64.
    pub fn eval(&self, channel: usize, x: f64) -> f64 {
        let [c0, c1, c2] = self.segments[channel][self.segment_of(x)];
        c0 + x * (c1 + c2 * x)
    }
}

/// `[c0, c1, c2]` of one branch on each of the four RepAct segments.
fn branch_polys(branch: Branch, p: f64) -> [[f64; 3]; 4] {
    let hs = [0.0, 0.5, 1.0 / 6.0];
    match branch {
        Branch::Identity => [[0.0, 1.0, 0.0]; 4],
        Branch::Relu => [[0.0; 3], [0.0; 3], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]],
        Branch::Hardswish => [[0.0; 3], hs, hs, [0.0, 1.0, 0.0]],
        Branch::Prelu => [
            [0.0, p, 0.0],
            [0.0, p, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 1.0, 0.0],
        ],
    }
}

/// Folds one channel of a RepAct layer into four quadratics.
pub fn fold_repact_channel(params: &RepActParams, channel: usize) -> Vec<[f64; 3]> {
    let p = params.prelu_weight[channel];
    let w = params.effective_weights();
    let mut segs = [[0.0f64; 3]; 4];
    for (weight, branch) in w.iter().zip(params.branch_order.0) {
        for (seg, poly) in segs.iter_mut().zip(branch_polys(branch, p)) {
            for k in 0..3 {
                seg[k] += weight * poly[k];
            }
        }
    }
    if let Some(bn) = &params.bn {
        let (scale, shift) = bn.scale_shift();
        for seg in &mut segs {
            *seg = [seg[0] * scale + shift, seg[1] * scale, seg[2] * scale];
        }
    }
    segs.to_vec()
}

/// Folds a layer into a piecewise quadratic. Smooth library activations (SiLU, GELU, ...)
/// are not piecewise polynomials: they are fitted by [`crate::fit`], and folding them is an
/// [`Error::Spec`] that says so.
pub fn fold(layer: &Layer) -> Result<FoldedLayer> {
    Ok(match &layer.kind {
        LayerKind::RepAct(p) => FoldedLayer {
            name: layer.name.clone(),
            variant: layer.variant_name().to_string(),
            breakpoints: REPACT_BREAKPOINTS.to_vec(),
            segments: (0..p.channels())
                .map(|c| fold_repact_channel(p, c))
                .collect(),
        },
        LayerKind::Piecewise(pw) => FoldedLayer {
            name: layer.name.clone(),
            variant: layer.variant_name().to_string(),
            breakpoints: pw.breakpoints.clone(),
            segments: vec![pw.segments.clone()],
        },
        LayerKind::Activation(a) => {
            let (breakpoints, segments) = a.piecewise().ok_or_else(|| Error::Spec {
                layer: layer.name.clone(),
                reason: format!(
                    "`{}` is smooth, not a piecewise polynomial: it needs the fitted \
                     (table-indexed or ROM) datapath",
                    a.name()
                ),
            })?;
            FoldedLayer {
                name: layer.name.clone(),
                variant: a.to_string(),
                breakpoints,
                segments,
            }
        }
    })
}
