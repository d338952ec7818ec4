//! From a smooth activation to its datapath spec: the fitter's plan, quantized by
//! [`DatapathSpec::build_table`] or [`DatapathSpec::build_rom`]. When the quantized table
//! misses the budget (the fit left too little room for coefficient rounding), the fitter is
//! stepped deterministically to plans that leave more room — smaller fit shares, so more
//! segments or degree 2 — until one fits; the refusal names what would be needed.
//!
//! `gen`, `eval`, `inspect` and `verify` all build fitted layers here, so `verify` rebuilds
//! exactly the spec `gen` built from the activation and the datapath recorded in the
//! manifest ([`FittedLayer`]).

use super::{plan_table, plan_table_at, rom_estimate, DatapathChoice, FitOptions, Plan};
use super::{Samples, TablePlan};
use crate::fixedpoint::table::CodeValues;
use crate::fixedpoint::{
    ApFixed, DatapathSpec, OuterSegments, RealFn, SpecOptions, TableRequest, MAX_ROM_INPUT_WIDTH,
};
use crate::model::activation::ParamValue;
use crate::model::{Activation, FoldedLayer};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The datapath a fitted layer was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuiltDatapath {
    /// Table-indexed segment select with outer comparator segments.
    Table,
    /// A ROM of every correctly rounded output.
    Rom,
}

impl BuiltDatapath {
    /// `table` or `rom`.
    pub fn name(self) -> &'static str {
        match self {
            BuiltDatapath::Table => "table",
            BuiltDatapath::Rom => "rom",
        }
    }
}

/// How a fitted layer is recorded in the manifest: enough to rebuild its spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedLayer {
    /// The activation as `--activation` text (`elu:alpha=0.5`), numbers in Rust's shortest
    /// round-trip form so parsing gives the same f64 bits.
    pub activation: String,
    /// The datapath built.
    pub datapath: BuiltDatapath,
}

/// A fitted layer's spec and how it was built.
pub struct FittedBuild {
    /// The quantized spec (one layer).
    pub spec: DatapathSpec,
    /// The datapath chosen.
    pub datapath: BuiltDatapath,
    /// The table plan the spec was built from (`None` for the ROM).
    pub plan: Option<TablePlan>,
}

/// `activation` as `--activation` text that parses back to the same value.
pub fn activation_text(a: &Activation) -> String {
    let params: Vec<String> = a
        .params()
        .into_iter()
        .filter_map(|(name, v)| match v {
            ParamValue::Num(x) => Some(format!("{name}={x}")),
            ParamValue::Text(t) => Some(format!("{name}={t}")),
            // Smooth activations have no list parameters.
            ParamValue::Nums(_) | ParamValue::Other(_) => None,
        })
        .collect();
    if params.is_empty() {
        a.name().to_string()
    } else {
        format!("{}:{}", a.name(), params.join(","))
    }
}

/// The manifest's folded-layer slot of a fitted layer: its name and activation, no
/// breakpoints (the function is the spec's reference).
pub fn fitted_folded(name: &str, a: &Activation) -> FoldedLayer {
    FoldedLayer {
        name: name.to_string(),
        variant: a.to_string(),
        breakpoints: Vec::new(),
        segments: vec![Vec::new()],
    }
}

/// What `build_table` is asked for, from a plan: offsets in real units, outer spans clipped
/// to the regions outside the table.
pub fn table_request(plan: &TablePlan, input: ApFixed) -> TableRequest {
    let end = plan.lo_raw + (1i64 << (plan.index_bits + plan.offset_bits));
    let outer = |span: Option<&super::OuterSpan>, empty: bool| match span {
        Some(o) if !empty => OuterSegments {
            thresholds: Vec::new(),
            polys: vec![[o.poly[0], o.poly[1], 0.0]],
        },
        _ => OuterSegments::default(),
    };
    // A bridge is a comparator piece of its region: after the below region's segment, before
    // the above region's.
    let mut below = outer(plan.below.as_ref(), plan.lo_raw <= input.min_raw());
    let mut above = outer(plan.above.as_ref(), end > input.max_raw());
    for b in &plan.bridges {
        if b.hi_raw < plan.lo_raw {
            if b.lo_raw > input.min_raw() {
                below.thresholds.push(b.lo_raw);
            }
            below.polys.push(b.poly);
        } else {
            if !above.polys.is_empty() {
                above.thresholds.push(b.hi_raw + 1);
            }
            above.polys.insert(0, b.poly);
        }
    }
    TableRequest {
        lo_raw: plan.lo_raw,
        index_bits: plan.index_bits,
        offset_bits: plan.offset_bits,
        degree: plan.degree as u32,
        polys: plan
            .polys
            .iter()
            .map(|&p| TableRequest::poly_from_code_units(p, input))
            .collect(),
        below,
        above,
    }
}

/// Fit shares tried, in order, when the quantized table misses the budget: less of the
/// budget for the fit leaves more for quantization (more segments, or degree 2).
const STEP_SHARES: [f64; 4] = [0.375, 0.25, 0.125, 0.0625];

fn spec_err(layer: &str, reason: String) -> Error {
    Error::Spec {
        layer: layer.to_string(),
        reason,
    }
}

/// Builds the spec of the smooth activation `a` for layer `layer`: the fitter's choice for
/// [`DatapathChoice::Auto`], or the forced datapath.
pub fn build_fitted(
    layer: &str,
    a: &Activation,
    opts: &SpecOptions,
    choice: DatapathChoice,
) -> Result<FittedBuild> {
    let name = activation_text(a);
    let act = a.clone();
    let f: RealFn = Arc::new(move |x| act.eval(0, x));
    build_fitted_fn(layer, &name, f, opts, choice)
}

/// [`build_fitted`] for any f64 function `f` named `name` (the spec records the name and a
/// fingerprint of `f`'s values): what the activations go through, open to property tests of
/// functions that are no activation.
pub fn build_fitted_fn(
    layer: &str,
    name: &str,
    f: RealFn,
    opts: &SpecOptions,
    choice: DatapathChoice,
) -> Result<FittedBuild> {
    let fit = FitOptions::new(opts.input, opts.output, opts.max_error_ulp);
    let rom_fits = opts.input.width() <= MAX_ROM_INPUT_WIDTH;
    let rom = |f: RealFn| -> Result<FittedBuild> {
        Ok(FittedBuild {
            spec: DatapathSpec::build_rom(layer, name, f, opts)?,
            datapath: BuiltDatapath::Rom,
            plan: None,
        })
    };
    if choice == DatapathChoice::Rom {
        if !rom_fits {
            return Err(spec_err(
                layer,
                format!(
                    "--datapath rom: a ROM of every output needs 2^{} entries for {}; the ROM \
                     datapath takes inputs of at most {MAX_ROM_INPUT_WIDTH} bits (use \
                     --datapath poly or auto)",
                    opts.input.width(),
                    opts.input
                ),
            ));
        }
        return rom(f);
    }
    let s = Samples::new(&*f, opts.input, opts.output);
    let first = plan_table(&s, &fit);
    if choice == DatapathChoice::Auto && rom_fits {
        let rom_cost = rom_estimate(&fit);
        let rom_cheaper = match &first {
            Ok(t) => rom_cost < t.estimate,
            Err(_) => rom_cost.bram == 0,
        };
        if rom_cheaper {
            return rom(f);
        }
    }
    let mut last_reason = match first {
        Ok(plan) => match build_plan(layer, name, &f, plan, opts, s.values()) {
            Ok(b) => return Ok(b),
            Err(e) => e.to_string(),
        },
        Err(r) => r.reason,
    };
    for share in STEP_SHARES {
        let stepped = FitOptions {
            fit_share: share,
            ..fit
        };
        match plan_table_at(&s, &stepped) {
            Ok(plan) => match build_plan(layer, name, &f, plan, opts, s.values()) {
                Ok(b) => return Ok(b),
                Err(e) => last_reason = e.to_string(),
            },
            Err(r) => last_reason = r.reason,
        }
    }
    if choice == DatapathChoice::Auto && rom_fits {
        // Every table missed; the ROM meets any budget ≥ 0.5 ULP.
        return rom(f);
    }
    Err(spec_err(
        layer,
        format!(
            "no table-indexed datapath for `{name}` meets {} ULP at {} -> {} (tried fit shares \
             down to {}); the last attempt: {last_reason}",
            opts.max_error_ulp,
            opts.input,
            opts.output,
            STEP_SHARES[STEP_SHARES.len() - 1]
        ),
    ))
}

fn build_plan(
    layer: &str,
    name: &str,
    f: &RealFn,
    plan: TablePlan,
    opts: &SpecOptions,
    values: &CodeValues,
) -> Result<FittedBuild> {
    let req = table_request(&plan, opts.input);
    Ok(FittedBuild {
        spec: DatapathSpec::build_table_sampled(layer, name, f.clone(), &req, opts, values)?,
        datapath: BuiltDatapath::Table,
        plan: Some(plan),
    })
}

/// Rebuilds a recorded fitted layer (what `verify` does): the activation parsed back, the
/// recorded datapath forced.
pub fn rebuild(layer: &str, rec: &FittedLayer, opts: &SpecOptions) -> Result<DatapathSpec> {
    let a = Activation::parse_cli(&rec.activation).map_err(|e| {
        spec_err(
            layer,
            format!("the recorded activation `{}`: {e}", rec.activation),
        )
    })?;
    let choice = match rec.datapath {
        BuiltDatapath::Table => DatapathChoice::Poly,
        BuiltDatapath::Rom => DatapathChoice::Rom,
    };
    Ok(build_fitted(layer, &a, opts, choice)?.spec)
}

/// The smooth activation of `layer`, if it is one (exact activations fold).
pub fn smooth_activation(layer: &crate::model::Layer) -> Option<&Activation> {
    match &layer.kind {
        crate::model::LayerKind::Activation(a) if !a.is_exact() => Some(a),
        _ => None,
    }
}

/// Keeps `Plan` reachable from here for callers that show the choice.
pub fn plan_of(b: &FittedBuild, opts: &SpecOptions) -> Plan {
    match &b.plan {
        Some(p) => Plan::Table(p.clone()),
        None => Plan::Rom {
            estimate: rom_estimate(&FitOptions::new(
                opts.input,
                opts.output,
                opts.max_error_ulp,
            )),
        },
    }
}
