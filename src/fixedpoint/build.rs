//! Building the comparator datapath of folded layers: the one entry point
//! [`DatapathSpec::build`] that dispatches between the correctly rounded search for the exact
//! activations ([`super::exact`]) and the analytic-bound search every other layer gets
//! ([`super::spec::search_formats`]).
//!
//! This module sits above both `spec` (the types and the format search) and `exact` (which
//! uses those types), so neither of them imports the other's builder: the dependency graph of
//! `fixedpoint` stays one-way (`build` → `exact` → `spec` → `stage`/`format`).

use super::exact::{
    build_correctly_rounded, is_exact_activation, MAX_CORRECTLY_ROUNDED_INPUT_WIDTH,
};
use super::format::ApFixed;
use super::spec::{
    check_budget, regions_of, search_formats, segments_of_thresholds, BoundKind, CoefFracs,
    DatapathSpec, LayerSpec, Problem, Region, Segment, SegmentSelect, SpecOptions,
};
use crate::model::FoldedLayer;
use crate::{Error, Result};

/// The thresholds of a comparator layer and its segments.
fn comparator_segments(
    l: &FoldedLayer,
    input: ApFixed,
    segments: usize,
) -> (Vec<i64>, Vec<Segment>) {
    let (min_raw, max_raw) = (input.min_raw(), input.max_raw());
    let mut th: Vec<i64> = l
        .breakpoints
        .iter()
        .map(|&b| {
            let scaled = (b * (input.frac() as f64).exp2()).ceil();
            scaled.clamp(min_raw as f64, (max_raw + 1) as f64) as i64
        })
        .collect();
    th.resize(segments - 1, max_raw + 1);
    let segs = segments_of_thresholds(&th, input, |s| s);
    (th, segs)
}

impl DatapathSpec {
    /// Builds the spec for `layers` sharing one core (one layer for a baked core, several for a
    /// core whose coefficients are loaded at run time). Picks the narrowest coefficient formats
    /// that meet the error budget for every layer, or says which limit prevents it.
    pub fn build(layers: &[FoldedLayer], opts: &SpecOptions) -> Result<Self> {
        let input = opts.input;
        let all_names = || {
            layers
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if layers.is_empty() {
            return Err(Error::Usage("no layers to build a datapath for".into()));
        }
        check_budget(opts, &all_names())?;
        let segments = layers
            .iter()
            .map(|l| l.breakpoints.len() + 1)
            .max()
            .unwrap_or(1);

        // Thresholds and segments, once per layer.
        let (thresholds, segs): (Vec<_>, Vec<_>) = layers
            .iter()
            .map(|l| comparator_segments(l, input, segments))
            .unzip();
        // Exact activations: correctly rounded where a format within the limits allows it.
        if input.width() <= MAX_CORRECTLY_ROUNDED_INPUT_WIDTH
            && layers.iter().all(is_exact_activation)
        {
            if let Some(spec) = build_correctly_rounded(layers, &thresholds, &segs, segments, opts)
            {
                return Ok(spec);
            }
        }
        let regions: Vec<Vec<Region>> = segs.iter().map(|s| regions_of(s)).collect();
        let polys: Vec<&[Vec<[f64; 3]>]> = layers.iter().map(|l| l.segments.as_slice()).collect();
        let approx = vec![0.0; layers.len()];

        // The output rounding may cost half an ULP; the rest of the budget is for the rest.
        let problem = Problem {
            polys: &polys,
            regions: &regions,
            segments,
            input,
            output: opts.output,
            pre_budget: (opts.max_error_ulp - 0.5) * opts.output.ulp(),
            approx: &approx,
        };
        let select = SegmentSelect::Comparators;
        let best = search_formats(&problem, &select, opts).map_err(|reason| Error::Spec {
            layer: all_names(),
            reason,
        })?;
        let layer_specs = layers
            .iter()
            .zip(thresholds)
            .zip(segs)
            .zip(best.layers)
            .map(|(((l, th), segs), (coefs, bound))| LayerSpec {
                folded: l.clone(),
                thresholds: th,
                coefs,
                reachable: segs.iter().map(|s| s.reachable).collect(),
                segments: segs,
                rom: Vec::new(),
                bound,
                bound_kind: BoundKind::Proven,
                reference: None,
            })
            .collect();
        Ok(DatapathSpec::from_parts(
            input,
            opts.output,
            select,
            Some(CoefFracs {
                c2_frac: best.c2_frac,
                t_frac: best.t_frac,
            }),
            segments,
            best.pipeline,
            opts.max_error_ulp,
            layer_specs,
        ))
    }
}
