//! The activation library: exact activations equal PyTorch's definition to the last bit at
//! every input code, the JSON and command-line forms, and their errors.

use repact_hw::fixedpoint::{ApFixed, DatapathSpec, SpecOptions};
use repact_hw::model::{fold, Activation, Layer, LayerKind, ACTIVATIONS};
use repact_hw::weights::{load, LoadOptions};
use repact_hw::Error;
use std::process::Command;

fn fmt(w: u32, i: i32) -> ApFixed {
    ApFixed::new(w, i).unwrap()
}

fn act(text: &str) -> Activation {
    Activation::parse_cli(text).unwrap()
}

fn layer(a: &Activation) -> Layer {
    Layer {
        name: a.name().to_string(),
        kind: LayerKind::Activation(a.clone()),
    }
}

/// An exact rational `num / den`, `den > 0`.
#[derive(Clone, Copy)]
struct Ratio {
    num: i128,
    den: i128,
}

impl Ratio {
    fn int(v: i128) -> Self {
        Ratio { num: v, den: 1 }
    }
    /// The exact value of an f64 (a dyadic rational).
    fn of_f64(v: f64) -> Self {
        if v == 0.0 {
            return Ratio::int(0);
        }
        let bits = v.abs().to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32;
        let (mant, e) = if exp == 0 {
            ((bits & ((1 << 52) - 1)) as i128, -1074)
        } else {
            (((bits & ((1 << 52) - 1)) | (1 << 52)) as i128, exp - 1075)
        };
        let m = if v < 0.0 { -mant } else { mant };
        if e >= 0 {
            Ratio::int(m << e)
        } else {
            // Strip trailing zero bits so the denominator stays small.
            let tz = (m.trailing_zeros() as i32).min(-e);
            Ratio {
                num: m >> tz,
                den: 1i128 << (-e - tz),
            }
        }
    }
    fn mul(self, o: Ratio) -> Ratio {
        Ratio {
            num: self.num * o.num,
            den: self.den * o.den,
        }
    }
    /// Round to `frac` fractional bits, ties toward +inf (AP_RND), as a raw integer.
    fn round_half_up(self, frac: u32) -> i128 {
        let n = 2 * self.num * (1i128 << frac) + self.den;
        n.div_euclid(2 * self.den)
    }
}

/// The exact value of PyTorch's definition at the input code `x_raw`, computed in rationals
/// (no floating point): the reference the exact activations must equal after rounding.
fn exact_value(a: &Activation, channel: usize, x_raw: i64, fin: ApFixed) -> Ratio {
    let fi = fin.frac();
    let x = Ratio {
        num: x_raw as i128,
        den: 1i128 << fi,
    };
    let xf = fin.to_f64(x_raw); // exact: x is a dyadic with few bits
    let three = 3i128 << fi;
    match a {
        Activation::Relu => {
            if xf >= 0.0 {
                x
            } else {
                Ratio::int(0)
            }
        }
        Activation::Relu6 => {
            if xf < 0.0 {
                Ratio::int(0)
            } else if xf > 6.0 {
                Ratio::int(6)
            } else {
                x
            }
        }
        Activation::LeakyRelu { negative_slope: s } => {
            if xf >= 0.0 {
                x
            } else {
                x.mul(Ratio::of_f64(*s))
            }
        }
        Activation::Prelu { weight } => {
            if xf >= 0.0 {
                x
            } else {
                x.mul(Ratio::of_f64(weight[channel]))
            }
        }
        Activation::Hardtanh { min_val, max_val } => {
            if xf < *min_val {
                Ratio::of_f64(*min_val)
            } else if xf > *max_val {
                Ratio::of_f64(*max_val)
            } else {
                x
            }
        }
        // x·relu6(x + 3)/6
        Activation::Hardswish => {
            if xf <= -3.0 {
                Ratio::int(0)
            } else if xf >= 3.0 {
                x
            } else {
                Ratio {
                    num: x_raw as i128 * (x_raw as i128 + three),
                    den: 6i128 << (2 * fi),
                }
            }
        }
        // relu6(x + 3)/6
        Activation::Hardsigmoid => {
            if xf <= -3.0 {
                Ratio::int(0)
            } else if xf >= 3.0 {
                Ratio::int(1)
            } else {
                Ratio {
                    num: x_raw as i128 + three,
                    den: 6i128 << fi,
                }
            }
        }
        other => panic!("{} is not exact", other.name()),
    }
}

/// Exact activations with their defaults and with other parameters.
fn exact_cases() -> Vec<Activation> {
    let mut v: Vec<Activation> = ACTIVATIONS
        .iter()
        .filter(|a| a.exact)
        .map(|a| Activation::from_params(a.name, &[]).unwrap())
        .collect();
    v.push(act("leaky_relu:negative_slope=0.1"));
    v.push(act("hardtanh:min_val=-2.5,max_val=0.75"));
    v.push(Activation::Prelu {
        weight: vec![-0.21, 0.3, 1.7],
    });
    v
}

const FORMATS: [(u32, i32); 5] = [(8, 3), (12, 4), (16, 6), (18, 6), (24, 8)];

/// Error of `got` (raw output) against the exact value saturated to the output range, in
/// output ULPs, computed in exact integers.
fn exact_error_ulp(got: i64, exact: Ratio, fout: ApFixed) -> f64 {
    let scaled = exact.num * (1i128 << fout.frac()); // exact value in ULPs is scaled / den
    let (lo, hi) = (fout.min_raw() as i128, fout.max_raw() as i128);
    let target_num = scaled.clamp(lo * exact.den, hi * exact.den);
    (got as i128 * exact.den - target_num) as f64 / exact.den as f64
}

/// The golden model of every exact activation is within its proven bound of PyTorch's
/// definition, evaluated in exact rationals at every input code; the codes where the output
/// is not the correctly rounded value are counted and shown (the comparator datapath
/// guarantees the budget, 0.5625 ULP, not correct rounding).
#[test]
fn exact_activations_meet_the_bound_against_exact_definitions_at_every_code() {
    let mut failures = Vec::new();
    for a in exact_cases() {
        for (w, i) in FORMATS {
            let (fin, fout) = (fmt(w, i), fmt(w, i));
            // 24-bit slopes such as 0.01 need a t wider than the DSP48E1 port.
            let opts = SpecOptions {
                max_coef_width: if w > 18 { 32 } else { 25 },
                ..SpecOptions::with_formats(fin, fout)
            };
            let spec = DatapathSpec::build(&[fold(&layer(&a)).unwrap()], &opts)
                .unwrap_or_else(|e| panic!("{a} at {fin}: {e}"));
            let bound = spec.layers()[0].bound.total_ulp;
            for ch in 0..a.channels() {
                let (mut worst, mut not_correctly_rounded) = (0.0f64, 0usize);
                for x in fin.min_raw()..=fin.max_raw() {
                    let exact = exact_value(&a, ch, x, fin);
                    let got = spec.eval_raw(0, ch, x);
                    let err = exact_error_ulp(got, exact, fout).abs();
                    worst = worst.max(err);
                    let rounded = exact
                        .round_half_up(fout.frac())
                        .clamp(fout.min_raw() as i128, fout.max_raw() as i128);
                    not_correctly_rounded += usize::from(got as i128 != rounded);
                    if err > bound + 1e-12 {
                        failures.push(format!(
                            "{a} ch {ch} at {fin}, x_raw {x}: {err} ULP > {bound}"
                        ));
                        break;
                    }
                }
                eprintln!(
                    "{a} ch {ch} at {fin}: max {worst:.4} ULP (bound {bound:.4}), {not_correctly_rounded} \
                     of {} codes not correctly rounded",
                    1u64 << w
                );
                // Relu, ReLU6 and dyadic Hardtanh bounds have exact coefficients.
                if matches!(a, Activation::Relu | Activation::Relu6) {
                    assert_eq!(not_correctly_rounded, 0, "{a} at {fin}");
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn folded_exact_activations_equal_the_direct_definition_in_f64() {
    let fin = fmt(16, 6);
    for a in exact_cases() {
        let f = fold(&layer(&a)).unwrap();
        for ch in 0..a.channels() {
            for x_raw in fin.min_raw()..=fin.max_raw() {
                let x = fin.to_f64(x_raw);
                let (folded, direct) = (f.eval(ch, x), a.eval(ch, x));
                assert!(
                    (folded - direct).abs() <= 2f64.powi(-50) * direct.abs().max(1.0),
                    "{a} at {x}: folded {folded} vs definition {direct}"
                );
            }
        }
    }
}

fn write_json(dir: &std::path::Path, layers: &str) -> std::path::PathBuf {
    let path = dir.join("net.json");
    std::fs::write(
        &path,
        format!("{{\"repact_weights\": 1, \"layers\": [{layers}]}}"),
    )
    .unwrap();
    path
}

/// `(layer, field, reason)` of the weights error loading `layers` gives.
fn json_error(layers: &str) -> (Option<String>, Option<String>, String) {
    let tmp = tempfile::tempdir().unwrap();
    match load(&write_json(tmp.path(), layers), &LoadOptions::default()) {
        Err(Error::Weights {
            layer,
            field,
            reason,
            ..
        }) => (layer, field, reason),
        other => panic!("expected a weights error for {layers}, got {other:?}"),
    }
}

const REPACT_LAYER: &str = r#"{"name": "block1.act", "variant": "origin",
    "actor_atn": [0.1, 0.2, 0.3, 0.4], "prelu_weight": [0.25]}"#;

#[test]
fn json_activation_layers_load_next_to_repact_layers_and_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = format!(
        r#"{REPACT_LAYER},
        {{"name": "se.gate", "activation": "hardsigmoid"}},
        {{"name": "a3", "activation": "leaky_relu", "negative_slope": 0.1}},
        {{"name": "a4", "activation": "gelu", "approximate": "tanh"}},
        {{"name": "a5", "activation": "prelu", "weight": [0.1, -0.2]}},
        {{"name": "a6", "activation": "softplus", "beta": 2, "threshold": 10}}"#
    );
    let net = load(&write_json(tmp.path(), &layers), &LoadOptions::default()).unwrap();
    let kinds: Vec<_> = net
        .layers
        .iter()
        .map(|l| match &l.kind {
            LayerKind::Activation(a) => a.clone(),
            LayerKind::RepAct(_) => act("relu"),
            LayerKind::Piecewise(_) => panic!("no piecewise layer here"),
        })
        .collect();
    assert!(matches!(net.layers[0].kind, LayerKind::RepAct(_)));
    assert_eq!(kinds[1], Activation::Hardsigmoid);
    assert_eq!(kinds[2], act("leaky_relu:negative_slope=0.1"));
    assert_eq!(kinds[3], act("gelu:approximate=tanh"));
    assert_eq!(
        kinds[4],
        Activation::Prelu {
            weight: vec![0.1, -0.2]
        }
    );
    assert_eq!(kinds[5], act("softplus:beta=2,threshold=10"));
    // Written back and read again: the same network.
    let again = tmp.path().join("again.json");
    std::fs::write(&again, repact_hw::weights::to_json(&net)).unwrap();
    let net2 = load(&again, &LoadOptions::default()).unwrap();
    assert_eq!(net.layers, net2.layers);
}

#[test]
fn json_activation_errors_name_the_layer_and_the_field() {
    let cases = [
        (
            r#"{"name": "a", "activation": "swish"}"#,
            "activation",
            "unknown activation",
        ),
        (
            r#"{"name": "a", "activation": "hardswsh"}"#,
            "activation",
            "did you mean `hardswish`",
        ),
        (
            r#"{"name": "a", "activation": 3}"#,
            "activation",
            "must be an activation name",
        ),
        (
            r#"{"name": "a", "activation": "relu", "alpha": 1}"#,
            "alpha",
            "takes no parameters",
        ),
        (
            r#"{"name": "a", "activation": "elu", "alpah": 1}"#,
            "alpah",
            "unknown parameter: `elu` takes alpha",
        ),
        (
            r#"{"name": "a", "activation": "celu", "alpha": 0}"#,
            "alpha",
            "must not be 0",
        ),
        (
            r#"{"name": "a", "activation": "softplus", "beta": -1}"#,
            "beta",
            "must be > 0",
        ),
        (
            r#"{"name": "a", "activation": "hardtanh", "min_val": 1, "max_val": 1}"#,
            "max_val",
            "greater than min_val",
        ),
        (
            r#"{"name": "a", "activation": "leaky_relu", "negative_slope": "0.1"}"#,
            "negative_slope",
            "must be a number",
        ),
        (
            r#"{"name": "a", "activation": "prelu", "weight": []}"#,
            "weight",
            "at least one",
        ),
        (
            r#"{"name": "a", "activation": "gelu", "approximate": "fast"}"#,
            "approximate",
            "\"none\" or \"tanh\"",
        ),
        (
            r#"{"name": "a", "activation": "relu", "variant": "bn"}"#,
            "variant",
            "either a library activation or RepAct",
        ),
    ];
    for (layer, field, reason) in cases {
        let (l, f, r) = json_error(layer);
        assert_eq!(l.as_deref(), Some("a"), "{layer}");
        assert_eq!(f.as_deref(), Some(field), "{layer}: {r}");
        assert!(r.contains(reason), "{layer}: {r}");
    }
}

fn bin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_repact-hw"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn help_lists_every_activation() {
    for cmd in ["gen", "inspect", "eval"] {
        let o = bin(&[cmd, "--help"]);
        let text = String::from_utf8_lossy(&o.stdout);
        for a in ACTIVATIONS {
            assert!(
                text.contains(&format!("  {:<12} {}", a.name, a.torch)),
                "{cmd} --help misses {}",
                a.name
            );
        }
    }
}

#[test]
fn cli_activation_errors_are_usage_errors() {
    for (arg, want) in [
        ("swish", "unknown activation `swish`"),
        ("elu:beta=1", "unknown parameter"),
        ("celu:alpha=0", "must not be 0"),
        ("leaky_relu:negative_slope", "PARAM=VALUE"),
    ] {
        let o = bin(&["inspect", "--activation", arg]);
        assert_eq!(o.status.code(), Some(64), "{arg}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{arg}: {err}");
    }
    let o = bin(&["inspect", "--activation", "relu", "--weights", "x.json"]);
    assert_eq!(o.status.code(), Some(64));
}

#[test]
fn cli_inspect_and_gen_build_an_exact_activation() {
    let o = bin(&["inspect", "--activation", "hardswish", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["layers"][0]["name"], "hardswish");
    assert_eq!(
        doc["layers"][0]["breakpoints"],
        serde_json::json!([-3.0, 3.0])
    );

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ip");
    let o = bin(&[
        "gen",
        "--activation",
        "leaky_relu:negative_slope=0.1",
        "--in-format",
        "ap_fixed<12,4>",
        "--out-format",
        "ap_fixed<12,4>",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest = std::fs::read_to_string(out.join("repact_ip.json")).unwrap();
    assert!(manifest.contains("leaky_relu(negative_slope=0.1)"));
}

#[test]
fn cli_smooth_activations_show_the_fit_plan_and_gen_builds_them() {
    let o = bin(&["inspect", "--activation", "silu", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let plan = &doc["layers"][0]["fit_plan"]["Table"];
    assert_eq!(plan["degree"], 2);
    assert!(plan["fit_error_ulp"].as_f64().unwrap() <= 0.75 / 16.0);

    // gen used to refuse smooth activations; it now builds the fitted table core.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ip");
    let o = bin(&[
        "gen",
        "--activation",
        "silu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest = std::fs::read_to_string(out.join("repact_ip.json")).unwrap();
    assert!(manifest.contains("\"fitted\""), "{manifest}");
}

#[test]
fn cli_axilite_refuses_a_smooth_activation_naming_the_layer_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ip");
    let o = bin(&[
        "gen",
        "--activation",
        "silu",
        "--coeffs",
        "axilite",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: layer `silu`: a smooth (fitted) activation keeps its coefficients (table-indexed \
         datapath) or its outputs (ROM datapath) in a ROM inside the core, which --coeffs \
         axilite cannot load at run time; build it with --coeffs baked (`--coeffs baked --layer \
         silu` builds it alone)\n"
    );
    assert!(!out.exists(), "nothing written");
}
