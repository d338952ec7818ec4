//! Reading weights files: the bundled repact-digits networks in all three formats, and every
//! way a file can be wrong. Fixtures that need changing are written at test time into temp
//! dirs: safetensors with the `safetensors` crate, `.pth` archives with the `zip` crate and a
//! small pickle writer below that emits what `torch.save` emits.

use proptest::prelude::*;
use repact_hw::model::{
    Branch, BranchOrder, Layer, LayerKind, Network, PiecewiseParams, RepActParams, Variant,
};
use repact_hw::weights::{load, to_json, LoadOptions};
use safetensors::{Dtype, SafeTensors};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn ex(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/repact-digits")
        .join(rel)
}

fn opts(variant: Option<Variant>) -> LoadOptions {
    LoadOptions {
        variant,
        ..LoadOptions::default()
    }
}

const ORIGIN: LoadOptions = LoadOptions {
    variant: Some(Variant::Origin),
    layer_variants: Vec::new(),
    branch_order: None,
};
const NONE: LoadOptions = LoadOptions {
    variant: None,
    layer_variants: Vec::new(),
    branch_order: None,
};

fn load_ok(path: &Path, o: &LoadOptions) -> Network {
    match load(path, o) {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    }
}

fn load_err(path: &Path, o: &LoadOptions) -> String {
    match load(path, o) {
        Ok(n) => panic!(
            "{} loaded, expected an error: {:?}",
            path.display(),
            n.layers
        ),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn has(msg: &str, parts: &[&str]) {
    // `SHOW_MESSAGES=1 cargo test --test weights -- --nocapture` prints them for review.
    if std::env::var_os("SHOW_MESSAGES").is_some() {
        println!("{msg}");
    }
    for p in parts {
        assert!(msg.contains(p), "`{p}` is not in the message: {msg}");
    }
}

fn repact(l: &Layer) -> &RepActParams {
    match &l.kind {
        LayerKind::RepAct(p) => p,
        LayerKind::Piecewise(_) => panic!("{} is piecewise", l.name),
        LayerKind::Activation(a) => panic!("{} is a library activation ({a})", l.name),
    }
}

fn names(n: &Network) -> Vec<&str> {
    n.layers.iter().map(|l| l.name.as_str()).collect()
}

const BLOCKS: [&str; 5] = [
    "block1.act",
    "block2.act",
    "block3.act",
    "block4.act",
    "block5.act",
];

// ---------------------------------------------------------------------------------------
// The bundled networks
// ---------------------------------------------------------------------------------------

#[test]
fn bundled_origin_agrees_in_all_formats() {
    let st = load_ok(&ex("origin/model.safetensors"), &ORIGIN);
    let pth = load_ok(&ex("origin/model.pth"), &ORIGIN);
    let json = load_ok(&ex("origin/weights.json"), &ORIGIN);
    assert_eq!(names(&st), BLOCKS);
    assert_eq!(st.layers, pth.layers);
    assert_eq!(st.layers, json.layers);
    for l in &st.layers {
        let p = repact(l);
        assert_eq!(p.variant, Variant::Origin);
        assert_eq!(p.branch_order, Variant::Origin.default_branch_order());
        assert_eq!(p.bn, None);
        assert_eq!(p.channels(), 1);
    }
    // The JSON file says its variant, so it also loads without --variant.
    assert_eq!(load_ok(&ex("origin/weights.json"), &NONE).layers, st.layers);
}

#[test]
fn bundled_bn_agrees_in_all_formats() {
    let st = load_ok(&ex("bn/model.safetensors"), &NONE);
    let pth = load_ok(&ex("bn/model.pth"), &NONE);
    let json = load_ok(&ex("bn/weights.json"), &NONE);
    assert_eq!(names(&st), BLOCKS);
    assert_eq!(st.layers, pth.layers);
    assert_eq!(st.layers, json.layers);
    for l in &st.layers {
        let p = repact(l);
        assert_eq!(p.variant, Variant::Bn);
        assert_eq!(p.bn.map(|b| b.eps), Some(1e-5));
    }
    // Saying the variant that the keys show is fine.
    let with_bn = load_ok(&ex("bn/model.pth"), &opts(Some(Variant::Bn)));
    assert_eq!(with_bn.layers, st.layers);
}

/// The exact float32 bit patterns of `field` in repact_params.json, as f64.
fn f32hex(layer: &serde_json::Value, field: &str) -> Vec<f64> {
    layer[format!("{field}_f32hex")]
        .as_array()
        .unwrap_or_else(|| panic!("no {field}_f32hex"))
        .iter()
        .map(|h| {
            let bits = u32::from_str_radix(h.as_str().unwrap_or_default(), 16).unwrap_or(0);
            f64::from(f32::from_bits(bits))
        })
        .collect()
}

#[test]
fn bundled_values_equal_repact_params_json() {
    for (dir, o) in [("origin", ORIGIN), ("bn", NONE)] {
        let text = std::fs::read_to_string(ex(&format!("{dir}/repact_params.json"))).unwrap();
        let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
        for file in ["model.safetensors", "model.pth", "weights.json"] {
            let net = load_ok(&ex(&format!("{dir}/{file}")), &o);
            for name in BLOCKS {
                let r = &reference["layers"][name];
                let p = repact(net.layer(name).unwrap());
                assert_eq!(
                    p.actor_atn.to_vec(),
                    f32hex(r, "ActorAtn"),
                    "{dir}/{file} {name}"
                );
                assert_eq!(p.prelu_weight, f32hex(r, "actor_PReLU.weight"));
                // The decimal values are the same numbers (to serde_json's parsing accuracy).
                for (a, d) in p.actor_atn.iter().zip(r["ActorAtn"].as_array().unwrap()) {
                    assert!((a - d.as_f64().unwrap()).abs() < 1e-15);
                }
                match (dir, &p.bn) {
                    ("bn", Some(bn)) => {
                        assert_eq!(vec![bn.weight], f32hex(r, "bn.weight"));
                        assert_eq!(vec![bn.bias], f32hex(r, "bn.bias"));
                        assert_eq!(vec![bn.running_mean], f32hex(r, "bn.running_mean"));
                        assert_eq!(vec![bn.running_var], f32hex(r, "bn.running_var"));
                        assert_eq!(Some(bn.eps), r["bn.eps"].as_f64());
                    }
                    ("origin", None) => {}
                    _ => panic!("{dir}/{file} {name}: bn is {:?}", p.bn),
                }
            }
        }
    }
}

/// `examples/repact-digits/*/weights.json` are `to_json` of the safetensors. Run with
/// `REPACT_BLESS=1` to rewrite them.
#[test]
fn bundled_json_files_are_written_from_the_state_dicts() {
    for (dir, o) in [("origin", ORIGIN), ("bn", NONE)] {
        let net = load_ok(&ex(&format!("{dir}/model.safetensors")), &o);
        let text = to_json(&net);
        let path = ex(&format!("{dir}/weights.json"));
        if std::env::var_os("REPACT_BLESS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "{}",
            path.display()
        );
    }
}

#[test]
fn softmax_variant_is_taken_from_the_options() {
    let o = opts(Some(Variant::Softmax));
    for f in ["origin/model.safetensors", "origin/model.pth"] {
        let net = load_ok(&ex(f), &o);
        for l in &net.layers {
            let p = repact(l);
            assert_eq!(p.variant, Variant::Softmax);
            assert_eq!(p.branch_order, Variant::Softmax.default_branch_order());
        }
    }
}

#[test]
fn branch_order_option_overrides_default_and_file() {
    use Branch::*;
    let order = BranchOrder([Identity, Relu, Prelu, Hardswish]);
    let o = LoadOptions {
        variant: None,
        layer_variants: Vec::new(),
        branch_order: Some(order),
    };
    for f in ["bn/model.safetensors", "bn/model.pth", "bn/weights.json"] {
        let net = load_ok(&ex(f), &o);
        assert!(
            net.layers.iter().all(|l| repact(l).branch_order == order),
            "{f}"
        );
    }
    // A file's own branch_order is used, unless the option says otherwise.
    let dir = TempDir::new().unwrap();
    let layer = r#"{"name": "a", "variant": "origin", "actor_atn": [1, 2, 3, 4],
        "branch_order": ["prelu", "hardswish", "relu", "identity"], "prelu_weight": [0.5]}"#;
    let p = write_json(&dir, &wrap(layer));
    let file_order = BranchOrder([Prelu, Hardswish, Relu, Identity]);
    assert_eq!(
        repact(&load_ok(&p, &NONE).layers[0]).branch_order,
        file_order
    );
    assert_eq!(repact(&load_ok(&p, &o).layers[0]).branch_order, order);
}

// ---------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------

fn wrap(layer: &str) -> String {
    format!("{{\"repact_weights\": 1, \"layers\": [{layer}]}}")
}

fn write_json(dir: &TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("w.json");
    std::fs::write(&p, text).unwrap();
    p
}

fn json_err(text: &str, o: &LoadOptions) -> String {
    let dir = TempDir::new().unwrap();
    load_err(&write_json(&dir, text), o)
}

const GOOD: &str = r#"{"name": "a", "variant": "origin", "actor_atn": [0.1, 0.2, 0.3, 0.4], "prelu_weight": [0.25]}"#;

fn bn_layer(bn: &str) -> String {
    wrap(&format!(
        r#"{{"name": "b", "variant": "bn", "actor_atn": [0.1, 0.2, 0.3, 0.4],
            "prelu_weight": [0.25], "bn": {bn}}}"#
    ))
}

#[test]
fn json_accepts_the_documented_shape() {
    let text = r#"{"repact_weights": 1,
     "layers": [
       {"name": "block1.act", "variant": "bn",
        "actor_atn": [-0.17, 0.39, 0.16, 0.58],
        "branch_order": ["identity", "relu", "hardswish", "prelu"],
        "prelu_weight": [-0.21, 0.1, 0.2],
        "bn": {"weight": 1.28, "bias": 0.006, "running_mean": 0.48, "running_var": 0.26}},
       {"name": "soft", "variant": "softmax", "actor_atn": [1, 2, 3, 4], "prelu_weight": [1e-3]},
       {"name": "my_act", "piecewise": {"breakpoints": [-1, 2.5],
                                        "segments": [[0.5], [0, 1, 0.25], [1, -2]]}}
     ]}"#;
    let dir = TempDir::new().unwrap();
    let net = load_ok(&write_json(&dir, text), &NONE);
    assert_eq!(names(&net), ["block1.act", "soft", "my_act"]);
    let p = repact(&net.layers[0]);
    assert_eq!(p.channels(), 3);
    assert_eq!(p.bn.map(|b| b.eps), Some(1e-5));
    assert_eq!(p.actor_atn, [-0.17, 0.39, 0.16, 0.58]);
    assert_eq!(
        repact(&net.layers[1]).branch_order,
        Variant::Softmax.default_branch_order()
    );
    match &net.layers[2].kind {
        LayerKind::Piecewise(pw) => {
            assert_eq!(pw.breakpoints, [-1.0, 2.5]);
            assert_eq!(
                pw.segments,
                [[0.5, 0.0, 0.0], [0.0, 1.0, 0.25], [1.0, -2.0, 0.0]]
            );
        }
        _ => panic!("my_act should be piecewise"),
    }
    // Written back and read again, nothing changes.
    let again = write_json(&dir, &to_json(&net));
    assert_eq!(load_ok(&again, &NONE).layers, net.layers);
}

#[test]
fn json_numbers_are_read_exactly() {
    // serde_json's default float parser reads these one unit in the last place off.
    let layer = r#"{"name": "a", "variant": "origin",
        "actor_atn": [2.7245700359344482, -0.11394263058900833, -18.461271286010742, 0.011828592047095299],
        "prelu_weight": [0.0118285920470953]}"#;
    let dir = TempDir::new().unwrap();
    let net = load_ok(&write_json(&dir, &wrap(layer)), &NONE);
    let p = repact(&net.layers[0]);
    assert_eq!(
        p.actor_atn,
        [
            2.7245700359344482,
            -0.11394263058900833,
            -18.461271286010742,
            0.011828592047095299
        ]
    );
    assert_eq!(p.prelu_weight, [0.0118285920470953]);
}

#[test]
fn json_variant_option_must_agree_with_the_file() {
    // A per-layer --variant must agree; a bare --variant is for layers whose file does not
    // tell, so a JSON layer (which always does) keeps its own.
    let a_bn = LoadOptions {
        layer_variants: vec![("a".to_string(), Variant::Bn)],
        ..LoadOptions::default()
    };
    let m = json_err(&wrap(GOOD), &a_bn);
    has(
        &m,
        &[
            "w.json",
            "layer `a`",
            "field `variant`",
            "`origin`",
            "--variant",
            "`bn`",
        ],
    );
    let dir = TempDir::new().unwrap();
    let p = write_json(&dir, &wrap(GOOD));
    assert_eq!(
        repact(&load_ok(&p, &ORIGIN).layers[0]).variant,
        Variant::Origin
    );
    assert_eq!(
        repact(&load_ok(&p, &opts(Some(Variant::Bn))).layers[0]).variant,
        Variant::Origin
    );
}

#[test]
fn json_errors_name_file_layer_and_field() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            wrap(&GOOD.replace("actor_atn", "actor_atm")),
            vec!["layer `a`", "field `actor_atm`", "unknown key", "did you mean `actor_atn`"],
        ),
        (
            wrap(&GOOD.replace("\"origin\"", "\"relu6\"")),
            vec!["layer `a`", "field `variant`", "relu6", "origin, softmax or bn"],
        ),
        (
            wrap(&GOOD.replace("\"prelu_weight\"", "\"variant_x\": 1, \"prelu_weight\"")),
            vec!["layer `a`", "field `variant_x`", "unknown key"],
        ),
        (
            wrap(&GOOD.replace("[0.1, 0.2, 0.3, 0.4]", "[0.1, 0.2, 0.3]")),
            vec!["layer `a`", "field `actor_atn`", "4 numbers", "got 3"],
        ),
        (
            wrap(&GOOD.replace("[0.1, 0.2, 0.3, 0.4]", "[0.1, 0.2, 0.3, 0.4, 0.5]")),
            vec!["layer `a`", "field `actor_atn`", "got 5"],
        ),
        (
            wrap(&GOOD.replace("[0.25]", "[]")),
            vec!["layer `a`", "field `prelu_weight`", "at least one"],
        ),
        (
            wrap(&GOOD.replace("[0.25]", "0.25")),
            vec!["layer `a`", "field `prelu_weight`", "array of numbers"],
        ),
        (
            wrap(&GOOD.replace("0.2,", "\"0.2\",")),
            vec!["layer `a`", "field `actor_atn[1]`", "must be a number", "\"0.2\""],
        ),
        (
            wrap(&GOOD.replace("0.3,", "null,")),
            vec!["layer `a`", "field `actor_atn[2]`", "must be a number", "null"],
        ),
        (
            wrap(&GOOD.replace("[0.25]", "[\"NaN\"]")),
            vec!["layer `a`", "field `prelu_weight[0]`", "finite", "NaN"],
        ),
        (
            wrap(&GOOD.replace("0.4]", "\"-Infinity\"]")),
            vec!["layer `a`", "field `actor_atn[3]`", "finite", "-Infinity"],
        ),
        (
            wrap(&GOOD.replace(
                "\"prelu_weight\"",
                "\"branch_order\": [\"identity\", \"relu\", \"gelu\", \"prelu\"], \"prelu_weight\"",
            )),
            vec![
                "layer `a`",
                "field `branch_order[2]`",
                "gelu",
                "identity, relu, hardswish or prelu",
            ],
        ),
        (
            wrap(&GOOD.replace(
                "\"prelu_weight\"",
                "\"branch_order\": [\"identity\", \"relu\", \"relu\", \"prelu\"], \"prelu_weight\"",
            )),
            vec!["layer `a`", "field `branch_order`", "`hardswish` is missing"],
        ),
        (
            wrap(&GOOD.replace(
                "\"prelu_weight\"",
                "\"branch_order\": [\"identity\", \"relu\"], \"prelu_weight\"",
            )),
            vec!["layer `a`", "field `branch_order`", "exactly 4"],
        ),
        (
            wrap(&GOOD.replace("\"variant\": \"origin\", ", "")),
            vec!["layer `a`", "field `variant`", "missing"],
        ),
        (
            wrap(&GOOD.replace("\"actor_atn\": [0.1, 0.2, 0.3, 0.4], ", "")),
            vec!["layer `a`", "field `actor_atn`", "missing"],
        ),
        (
            bn_layer(r#"{"weight": 1, "bias": 0, "running_mean": 0}"#),
            vec!["layer `b`", "field `bn.running_var`", "missing"],
        ),
        (
            bn_layer(r#"{"weight": 1, "bias": 0, "running_mean": 0, "running_var": -0.5}"#),
            vec!["layer `b`", "field `bn.running_var`", ">= 0", "-0.5"],
        ),
        (
            bn_layer(r#"{"weight": 1, "bias": 0, "running_mean": 0, "running_var": 1, "eps": 0}"#),
            vec!["layer `b`", "field `bn.eps`", "> 0"],
        ),
        (
            bn_layer(r#"{"weight": 1, "bias": 0, "running_mean": 0, "running_var": 1, "esp": 1}"#),
            vec!["layer `b`", "field `bn.esp`", "unknown key", "did you mean `eps`"],
        ),
        (
            bn_layer(r#"{"weight": 1, "bias": 0, "running_mean": "NaN", "running_var": 1}"#),
            vec!["layer `b`", "field `bn.running_mean`", "finite", "NaN"],
        ),
        (
            bn_layer("[1, 0, 0, 1]"),
            vec!["layer `b`", "field `bn`", "must be an object"],
        ),
        (
            wrap(&GOOD.replace("[0.25]", "[0.25], \"bn\": {\"weight\": 1, \"bias\": 0, \"running_mean\": 0, \"running_var\": 1}")),
            vec!["layer `a`", "field `bn`", "only allowed for variant `bn`"],
        ),
        (
            wrap(&GOOD.replace("\"actor_atn\"", "\"piecewize\"")),
            vec!["layer `a`", "field `piecewize`", "did you mean `piecewise`"],
        ),
        (
            wrap(&GOOD.replace("\"origin\"", "\"bn\"")),
            vec!["layer `a`", "field `bn`", "required"],
        ),
        (
            wrap(r#"{"name": "p", "piecewise": {"breakpoints": [0, 1], "segments": [[0], [1]]}}"#),
            vec!["layer `p`", "field `piecewise.segments`", "needs 3 segments"],
        ),
        (
            wrap(r#"{"name": "p", "piecewise": {"breakpoints": [1, 0], "segments": [[0], [1], [2]]}}"#),
            vec!["layer `p`", "field `piecewise.breakpoints[1]`", "increase strictly"],
        ),
        (
            wrap(r#"{"name": "p", "piecewise": {"breakpoints": [0], "segments": [[0], [1, 2, 3, 4]]}}"#),
            vec!["layer `p`", "field `piecewise.segments[1]`", "1 to 3 coefficients"],
        ),
        (
            wrap(r#"{"name": "p", "variant": "origin", "piecewise": {"breakpoints": [], "segments": [[0]]}}"#),
            vec!["layer `p`", "field `variant`", "either RepAct or piecewise"],
        ),
        (
            wrap(r#"{"name": "p", "piecewise": {"breakpoints": []}}"#),
            vec!["layer `p`", "field `piecewise.segments`", "missing"],
        ),
        (
            format!("{{\"repact_weights\": 1, \"layers\": [{GOOD}, {GOOD}]}}"),
            vec!["layer `a`", "field `name`", "duplicate layer name", "layers[0] and layers[1]"],
        ),
        (
            wrap(r#"{"variant": "origin", "actor_atn": [1, 2, 3, 4], "prelu_weight": [1]}"#),
            vec!["field `layers[0].name`", "missing"],
        ),
        (
            "{\"repact_weights\": 1, \"layers\": []}".to_string(),
            vec!["field `layers`", "at least one layer"],
        ),
        (
            format!("{{\"repact_weights\": 2, \"layers\": [{GOOD}]}}"),
            vec!["field `repact_weights`", "version 2", "reads version 1"],
        ),
        (
            format!("{{\"repact_weights\": \"1\", \"layers\": [{GOOD}]}}"),
            vec!["field `repact_weights`", "must be the version number 1"],
        ),
        (
            format!("{{\"layers\": [{GOOD}]}}"),
            vec!["field `repact_weights`", "not a repact-hw weights file", "`layers`"],
        ),
        (
            format!("{{\"repact_weights\": 1, \"layer\": [{GOOD}]}}"),
            vec!["field `layer`", "unknown key", "did you mean `layers`"],
        ),
        (
            "[1, 2]".to_string(),
            vec!["must be a JSON object", "an array of 2 items"],
        ),
    ];
    for (text, parts) in cases {
        let m = json_err(&text, &NONE);
        let mut all = vec!["w.json"];
        all.extend(parts);
        has(&m, &all);
    }
}

#[test]
fn malformed_json_reports_line_and_column() {
    let full = format!("{{\"repact_weights\": 1,\n \"layers\": [{GOOD}]}}");
    let m = json_err(&full[..full.len() - 20], &NONE);
    has(&m, &["w.json", "invalid JSON", "EOF", "line 2", "column"]);
    // JSON has no NaN or Infinity literal, and a number too large for f64 is refused.
    let m = json_err(&wrap(&GOOD.replace("0.25", "NaN")), &NONE);
    has(
        &m,
        &[
            "w.json",
            "invalid JSON",
            "line 1",
            "column",
            "JSON has no NaN",
        ],
    );
    let m = json_err(&wrap(&GOOD.replace("0.25", "-Infinity")), &NONE);
    has(
        &m,
        &[
            "w.json",
            "invalid JSON",
            "line 1",
            "column",
            "JSON has no NaN",
        ],
    );
    let m = json_err(&wrap(&GOOD.replace("0.25", "1e999")), &NONE);
    has(
        &m,
        &["w.json", "invalid JSON", "out of range", "line 1", "column"],
    );
    let m = json_err(&wrap(&GOOD.replace("0.1,", "-1e400,")), &NONE);
    has(&m, &["w.json", "out of range"]);
    // A key given twice is refused rather than the first one silently dropped.
    let m = json_err(
        &wrap(&GOOD.replace(
            "\"prelu_weight\"",
            "\"actor_atn\": [1, 1, 1, 1], \"prelu_weight\"",
        )),
        &NONE,
    );
    has(
        &m,
        &["w.json", "duplicate key `actor_atn`", "line 1", "column"],
    );
    let m = json_err("", &NONE);
    has(&m, &["w.json", "invalid JSON", "EOF"]);
}

#[test]
fn foreign_json_is_recognised() {
    // repact_params.json describes the data set; it is not a weights file.
    let m = load_err(&ex("bn/repact_params.json"), &NONE);
    has(
        &m,
        &[
            "repact_params.json",
            "not a repact-hw weights file",
            "`variant`",
        ],
    );
}

#[test]
fn unknown_extension_and_missing_file() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("w.npy");
    std::fs::write(&p, b"x").unwrap();
    has(
        &load_err(&p, &NONE),
        &[
            "w.npy",
            "unknown extension `.npy`",
            ".json, .safetensors, .pth or .pt",
        ],
    );
    let p = dir.path().join("weights");
    std::fs::write(&p, b"x").unwrap();
    has(&load_err(&p, &NONE), &["weights", "no extension"]);
    let p = dir.path().join("nope.safetensors");
    has(&load_err(&p, &NONE), &["nope.safetensors", "cannot read"]);
}

fn layer_strategy() -> impl Strategy<Value = Layer> {
    let num = prop_oneof![
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        any::<f32>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(f64::from),
    ];
    (
        prop::array::uniform4(num.clone()),
        prop::collection::vec(num.clone(), 1..4),
        prop::option::of((num.clone(), num.clone(), num.clone(), 0.0..1e3f64)),
        any::<bool>(),
    )
        .prop_map(|(atn, prelu, bn, softmax)| {
            let (variant, bn) = match bn {
                Some((w, b, m, v)) => (
                    Variant::Bn,
                    Some(repact_hw::model::BatchNorm {
                        weight: w,
                        bias: b,
                        running_mean: m,
                        running_var: v,
                        eps: 1e-3,
                    }),
                ),
                None if softmax => (Variant::Softmax, None),
                None => (Variant::Origin, None),
            };
            let params = RepActParams::new(variant, atn, None, prelu, bn).unwrap();
            Layer {
                name: "x".to_string(),
                kind: LayerKind::RepAct(params),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    /// Whatever finite values a layer holds, writing and reading JSON gives them back exactly.
    #[test]
    fn json_round_trip_is_exact(layer in layer_strategy()) {
        let dir = TempDir::new().unwrap();
        let net = Network { source: PathBuf::new(), layers: vec![layer] };
        let p = write_json(&dir, &to_json(&net));
        let back = load(&p, &NONE).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.layers, net.layers);
    }
}

#[test]
fn to_json_writes_branch_order_and_piecewise() {
    use Branch::*;
    let order = BranchOrder([Prelu, Identity, Relu, Hardswish]);
    let net = Network {
        source: PathBuf::new(),
        layers: vec![
            Layer {
                name: "odd \"name\"".to_string(),
                kind: LayerKind::RepAct(
                    RepActParams::new(
                        Variant::Origin,
                        [1.0, 2.0, 3.0, 4.0],
                        Some(order),
                        vec![0.5, 0.25],
                        None,
                    )
                    .unwrap(),
                ),
            },
            Layer {
                name: "pw".to_string(),
                kind: LayerKind::Piecewise(
                    PiecewiseParams::new(vec![0.0], vec![vec![0.0, 0.1], vec![0.0, 1.0, 1e-300]])
                        .unwrap(),
                ),
            },
        ],
    };
    let text = to_json(&net);
    has(
        &text,
        &[
            "\"branch_order\": [\"prelu\", \"identity\", \"relu\", \"hardswish\"]",
            "\\\"name\\\"",
        ],
    );
    let dir = TempDir::new().unwrap();
    assert_eq!(load_ok(&write_json(&dir, &text), &NONE).layers, net.layers);
}

// ---------------------------------------------------------------------------------------
// safetensors
// ---------------------------------------------------------------------------------------

struct Tensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn st_tensors(rel: &str) -> Vec<Tensor> {
    let bytes = std::fs::read(ex(rel)).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Vec<Tensor> = st
        .tensors()
        .into_iter()
        .map(|(name, t)| Tensor {
            name,
            dtype: t.dtype(),
            shape: t.shape().to_vec(),
            data: t.data().to_vec(),
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write_st(dir: &TempDir, file: &str, tensors: &[Tensor]) -> PathBuf {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|t| {
            let v =
                safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.data).unwrap();
            (t.name.clone(), v)
        })
        .collect();
    let bytes = safetensors::serialize(views, &None).unwrap();
    let p = dir.path().join(file);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The bundled `dir`'s safetensors, changed by `edit`, written to a temp file.
fn st_fixture(dir_name: &str, edit: impl FnOnce(&mut Vec<Tensor>)) -> (TempDir, PathBuf) {
    let mut t = st_tensors(&format!("{dir_name}/model.safetensors"));
    edit(&mut t);
    let dir = TempDir::new().unwrap();
    let p = write_st(&dir, "m.safetensors", &t);
    (dir, p)
}

fn find<'a>(t: &'a mut [Tensor], name: &str) -> &'a mut Tensor {
    t.iter_mut().find(|t| t.name == name).unwrap()
}

#[test]
fn safetensors_float_dtypes_are_converted_exactly() {
    let reference = load_ok(&ex("bn/model.safetensors"), &NONE);
    // float64: the same values widened.
    let (_d, p) = st_fixture("bn", |t| {
        for x in t.iter_mut().filter(|x| x.dtype == Dtype::F32) {
            x.data = x
                .data
                .chunks_exact(4)
                .flat_map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_le_bytes())
                .collect();
            x.dtype = Dtype::F64;
        }
    });
    assert_eq!(load_ok(&p, &NONE).layers, reference.layers);
    // float16 and bfloat16: values that those types hold exactly.
    let (_d, p) = st_fixture("origin", |t| {
        let a = find(t, "block1.act.ActorAtn");
        a.dtype = Dtype::F16;
        // 1.0, -2.0, 0.333251953125, 2^-24
        a.data = [0x3c00u16, 0xc000, 0x3555, 0x0001]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let w = find(t, "block1.act.actor_PReLU.weight");
        w.dtype = Dtype::BF16;
        w.data = 0xbe2fu16.to_le_bytes().to_vec();
    });
    let n = load_ok(&p, &ORIGIN);
    let b1 = repact(&n.layers[0]);
    assert_eq!(b1.actor_atn, [1.0, -2.0, 0.333251953125, 2f64.powi(-24)]);
    assert_eq!(b1.prelu_weight, [-0.1708984375]);
}

#[test]
fn safetensors_module_prefix_is_stripped_and_order_is_natural() {
    let reference = load_ok(&ex("bn/model.safetensors"), &NONE);
    let (_d, p) = st_fixture("bn", |t| {
        for x in t.iter_mut() {
            x.name = format!("module.{}", x.name);
        }
    });
    assert_eq!(load_ok(&p, &NONE).layers, reference.layers);

    // Lexical order would put block10 before block2.
    let (_d, p) = st_fixture("origin", |t| {
        for x in t.iter_mut() {
            x.name = x
                .name
                .replace("block1.", "block10.")
                .replace("block3.", "block30.");
        }
    });
    assert_eq!(
        names(&load_ok(&p, &ORIGIN)),
        [
            "block2.act",
            "block4.act",
            "block5.act",
            "block10.act",
            "block30.act"
        ]
    );
}

#[test]
fn safetensors_per_channel_prelu() {
    let (_d, p) = st_fixture("origin", |t| {
        let w = find(t, "block2.act.actor_PReLU.weight");
        w.shape = vec![3];
        w.data = f32s(&[0.5, -0.25, 0.125]);
    });
    let n = load_ok(&p, &ORIGIN);
    assert_eq!(repact(&n.layers[1]).prelu_weight, [0.5, -0.25, 0.125]);
}

#[test]
fn safetensors_state_dict_errors() {
    // Origin and softmax cannot be told apart.
    let m = load_err(&ex("origin/model.safetensors"), &NONE);
    has(
        &m,
        &[
            "model.safetensors",
            "layer `block1.act`",
            "origin and softmax RepAct layers have the same keys",
            "--variant origin|softmax",
        ],
    );
    // The keys say bn, the option for that layer says otherwise, and the other way round.
    // A bare --variant is for ambiguous layers only: bn layers keep their variant.
    let block1_origin = LoadOptions {
        layer_variants: vec![("block1.act".to_string(), Variant::Origin)],
        ..LoadOptions::default()
    };
    let m = load_err(&ex("bn/model.safetensors"), &block1_origin);
    has(
        &m,
        &[
            "model.safetensors",
            "layer `block1.act`",
            "field `bn`",
            "--variant block1.act=origin says `origin`",
        ],
    );
    let n = load_ok(&ex("bn/model.safetensors"), &ORIGIN);
    assert!(n.layers.iter().all(|l| repact(l).variant == Variant::Bn));
    let m = load_err(&ex("origin/model.safetensors"), &opts(Some(Variant::Bn)));
    has(
        &m,
        &[
            "layer `block1.act`",
            "field `bn.weight`",
            "missing",
            "block1.act.bn.weight",
        ],
    );

    type Edit = Box<dyn FnOnce(&mut Vec<Tensor>)>;
    let cases: Vec<(&str, LoadOptions, Edit, Vec<&str>)> = vec![
        (
            "bn",
            NONE,
            Box::new(|t| t.retain(|x| x.name != "block3.act.bn.running_var")),
            vec![
                "layer `block3.act`",
                "field `bn.running_var`",
                "missing",
                "block3.act.bn.running_var",
            ],
        ),
        (
            "bn",
            NONE,
            Box::new(|t| {
                t.retain(|x| !x.name.starts_with("block2.act.bn.") || x.name.ends_with("bias"))
            }),
            vec!["layer `block2.act`", "field `bn.weight`", "missing"],
        ),
        (
            "bn",
            NONE,
            Box::new(|t| find(t, "block4.act.bn.running_var").data = f32s(&[-0.01])),
            vec!["layer `block4.act`", "field `bn.running_var`", ">= 0"],
        ),
        (
            "bn",
            NONE,
            Box::new(|t| {
                let x = find(t, "block4.act.bn.weight");
                x.shape = vec![2];
                x.data = f32s(&[1.0, 2.0]);
            }),
            vec![
                "layer `block4.act`",
                "field `bn.weight`",
                "1 value",
                "BatchNorm2d(1)",
            ],
        ),
        (
            "origin",
            ORIGIN,
            Box::new(|t| {
                let x = find(t, "block2.act.ActorAtn");
                x.shape = vec![3];
                x.data = f32s(&[1.0, 2.0, 3.0]);
            }),
            vec![
                "layer `block2.act`",
                "field `ActorAtn`",
                "4 values",
                "got 3",
            ],
        ),
        (
            "origin",
            ORIGIN,
            Box::new(|t| find(t, "block5.act.ActorAtn").data = f32s(&[1.0, f32::NAN, 0.0, 0.0])),
            vec!["layer `block5.act`", "field `ActorAtn[1]`", "finite"],
        ),
        (
            "origin",
            ORIGIN,
            Box::new(|t| find(t, "block5.act.actor_PReLU.weight").data = f32s(&[f32::INFINITY])),
            vec![
                "layer `block5.act`",
                "field `actor_PReLU.weight`",
                "finite",
                "inf",
            ],
        ),
        (
            "origin",
            ORIGIN,
            Box::new(|t| t.retain(|x| x.name != "block1.act.actor_PReLU.weight")),
            vec![
                "layer `block1.act`",
                "field `actor_PReLU.weight`",
                "missing",
            ],
        ),
        (
            "origin",
            ORIGIN,
            Box::new(|t| t.retain(|x| x.name != "block1.act.ActorAtn")),
            vec!["layer `block1.act`", "field `ActorAtn`", "missing"],
        ),
        (
            "origin",
            ORIGIN,
            Box::new(|t| {
                let x = find(t, "block1.act.ActorAtn");
                x.dtype = Dtype::I64;
                x.data = [1i64, 2, 3, 4]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
            }),
            vec![
                "layer `block1.act`",
                "field `ActorAtn`",
                "floating-point",
                "I64",
            ],
        ),
        (
            "origin",
            ORIGIN,
            Box::new(|t| t.retain(|x| !x.name.contains(".act."))),
            vec![
                "no RepAct layers found",
                "<prefix>.ActorAtn",
                "<prefix>.actor_PReLU.weight",
                "block1.conv.weight",
            ],
        ),
        (
            "origin",
            ORIGIN,
            Box::new(|t| {
                let dup = Tensor {
                    name: "module.block1.act.ActorAtn".to_string(),
                    dtype: Dtype::F32,
                    shape: vec![4],
                    data: f32s(&[0.0; 4]),
                };
                t.push(dup);
            }),
            vec![
                "`module.block1.act.ActorAtn`",
                "`block1.act.ActorAtn`",
                "module.",
            ],
        ),
    ];
    for (dir, o, edit, parts) in cases {
        let (_d, p) = st_fixture(dir, edit);
        let m = load_err(&p, &o);
        let mut all = vec!["m.safetensors"];
        all.extend(parts);
        has(&m, &all);
    }
}

#[test]
fn truncated_safetensors() {
    let bytes = std::fs::read(ex("bn/model.safetensors")).unwrap();
    let dir = TempDir::new().unwrap();
    for cut in [bytes.len() - 100, 1000, 5] {
        let p = dir.path().join("cut.safetensors");
        std::fs::write(&p, &bytes[..cut]).unwrap();
        has(
            &load_err(&p, &NONE),
            &["cut.safetensors", "not a valid safetensors file"],
        );
    }
}

// ---------------------------------------------------------------------------------------
// .pth
// ---------------------------------------------------------------------------------------

/// Writes pickles the way `torch.save` does (protocol 2).
struct Pickle {
    b: Vec<u8>,
}

/// One tensor of a fixture: storage class, storage key, storage length, offset, size, stride.
struct T<'a> {
    class: &'a str,
    key: &'a str,
    numel: u64,
    offset: u64,
    shape: &'a [u64],
    stride: &'a [u64],
}

fn contiguous<'a>(class: &'a str, key: &'a str, shape: &'a [u64], stride: &'a [u64]) -> T<'a> {
    T {
        class,
        key,
        numel: shape.iter().product(),
        offset: 0,
        shape,
        stride,
    }
}

impl Pickle {
    fn new() -> Self {
        Pickle { b: vec![0x80, 2] }
    }
    fn op(&mut self, op: u8) -> &mut Self {
        self.b.push(op);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.b.push(b'X');
        self.b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.b.extend_from_slice(s.as_bytes());
        self
    }
    fn int(&mut self, i: i64) -> &mut Self {
        if (0..256).contains(&i) {
            self.b.extend_from_slice(&[b'K', i as u8]);
        } else if (0..65536).contains(&i) {
            self.b.push(b'M');
            self.b.extend_from_slice(&(i as u16).to_le_bytes());
        } else if i32::try_from(i).is_ok() {
            self.b.push(b'J');
            self.b.extend_from_slice(&(i as i32).to_le_bytes());
        } else {
            self.b.extend_from_slice(&[0x8a, 8]);
            self.b.extend_from_slice(&i.to_le_bytes());
        }
        self
    }
    fn float(&mut self, x: f64) -> &mut Self {
        self.b.push(b'G');
        self.b.extend_from_slice(&x.to_be_bytes());
        self
    }
    fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.b.push(b'c');
        self.b
            .extend_from_slice(format!("{module}\n{name}\n").as_bytes());
        self
    }
    fn ints(&mut self, v: &[u64]) -> &mut Self {
        if v.is_empty() {
            return self.op(b')');
        }
        self.op(b'(');
        for &x in v {
            self.int(x as i64);
        }
        self.op(b't')
    }
    fn tensor(&mut self, t: &T<'_>) -> &mut Self {
        self.global("torch._utils", "_rebuild_tensor_v2").op(b'(');
        self.op(b'(')
            .str("storage")
            .global("torch", t.class)
            .str(t.key)
            .str("cpu")
            .int(t.numel as i64)
            .op(b't')
            .op(b'Q');
        self.int(t.offset as i64)
            .ints(t.shape)
            .ints(t.stride)
            .op(0x89);
        self.global("collections", "OrderedDict").op(b')').op(b'R');
        self.op(b't').op(b'R')
    }
    /// An `OrderedDict` of tensors with torch's `_metadata` state.
    fn state_dict(&mut self, entries: &[(&str, T<'_>)]) -> &mut Self {
        self.global("collections", "OrderedDict")
            .op(b')')
            .op(b'R')
            .op(b'(');
        for (k, t) in entries {
            self.str(k).tensor(t);
        }
        self.op(b'u');
        self.op(b'}')
            .str("_metadata")
            .global("collections", "OrderedDict");
        self.op(b')').op(b'R').op(b's').op(b'b')
    }
    fn stop(&mut self) -> Vec<u8> {
        self.op(b'.');
        std::mem::take(&mut self.b)
    }
}

/// Writes a torch.save-style zip: `archive/data.pkl`, `archive/data/<key>`, `archive/version`.
fn write_pth(path: &Path, pkl: &[u8], storages: &[(&str, Vec<u8>)], deflate: bool) {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let o = zip::write::SimpleFileOptions::default().compression_method(method);
    w.start_file("archive/data.pkl", o).unwrap();
    w.write_all(pkl).unwrap();
    for (k, data) in storages {
        w.start_file(format!("archive/data/{k}"), o).unwrap();
        w.write_all(data).unwrap();
    }
    w.start_file("archive/version", o).unwrap();
    w.write_all(b"3\n").unwrap();
    let bytes = w.finish().unwrap().into_inner();
    std::fs::write(path, bytes).unwrap();
}

/// The entries of a bundled .pth.
fn pth_entries(rel: &str) -> Vec<(String, Vec<u8>)> {
    fuzz_support::unzip(&std::fs::read(ex(rel)).unwrap())
}

/// A copy of a bundled .pth with `data.pkl` replaced by `edit(old data.pkl)`.
fn pth_with_pickle(rel: &str, out: &Path, edit: impl FnOnce(&[u8]) -> Vec<u8>) {
    let mut edit = Some(edit);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in pth_entries(rel) {
        let data = match edit.take() {
            Some(f) if name.ends_with("/data.pkl") => f(&data),
            other => {
                edit = other;
                data
            }
        };
        w.start_file(name, o).unwrap();
        w.write_all(&data).unwrap();
    }
    std::fs::write(out, w.finish().unwrap().into_inner()).unwrap();
}

/// Rewrites the BINUNICODE strings of a torch.save pickle (knows the opcodes torch uses).
fn rewrite_strings(pkl: &[u8], f: impl Fn(&str) -> Option<String>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < pkl.len() {
        let op = pkl[i];
        let arg = match op {
            0x80 | b'q' | b'h' | b'K' => 1,
            b'M' => 2,
            b'r' | b'j' | b'J' => 4,
            b'c' => {
                let first = pkl[i + 1..].iter().position(|&c| c == b'\n').unwrap() + 1;
                let second = pkl[i + 1 + first..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .unwrap()
                    + 1;
                first + second
            }
            b'X' => {
                let n = u32::from_le_bytes(pkl[i + 1..i + 5].try_into().unwrap()) as usize;
                let s = std::str::from_utf8(&pkl[i + 5..i + 5 + n]).unwrap();
                let s = f(s).unwrap_or_else(|| s.to_string());
                out.push(b'X');
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
                i += 5 + n;
                continue;
            }
            b')' | b'}' | b'(' | b't' | 0x85 | 0x86 | 0x87 | b'Q' | b'R' | b'b' | b's' | b'u'
            | 0x88 | 0x89 | b'.' => 0,
            other => panic!("opcode 0x{other:02x} not expected in a torch.save pickle"),
        };
        out.extend_from_slice(&pkl[i..i + 1 + arg]);
        i += 1 + arg;
    }
    out
}

/// The body of a pickle (without PROTO and STOP), to embed it in another.
fn body(pkl: &[u8]) -> &[u8] {
    assert_eq!(&pkl[..2], b"\x80\x02");
    assert_eq!(pkl.last(), Some(&b'.'));
    &pkl[2..pkl.len() - 1]
}

#[test]
fn pth_checkpoint_dicts() {
    let reference = load_ok(&ex("bn/model.pth"), &NONE);
    let dir = TempDir::new().unwrap();
    for (key, prefix) in [
        ("state_dict", ""),
        ("model_state_dict", "module."),
        ("model", "module."),
    ] {
        let p = dir.path().join("ckpt.pth");
        pth_with_pickle("bn/model.pth", &p, |sd| {
            let sd = rewrite_strings(sd, |s| {
                s.starts_with("block").then(|| format!("{prefix}{s}"))
            });
            let mut pk = Pickle::new();
            pk.op(b'}').op(b'(');
            pk.str("epoch")
                .int(300)
                .str("best_acc")
                .float(0.9972)
                .str("note")
                .op(b'N');
            // An object of a class the reader does not know is kept as an inert placeholder.
            pk.str("args")
                .global("argparse", "Namespace")
                .op(b')')
                .op(0x81);
            pk.op(b'}').str("lr").float(0.01).op(b's').op(b'b');
            // An optimizer state with integer keys, lists and tensors outside the state dict.
            pk.str("optimizer").op(b'}').op(b'(').str("state").op(b'}');
            pk.int(0)
                .op(b'}')
                .str("step")
                .tensor(&contiguous("FloatStorage", "999", &[], &[]));
            pk.op(b's').op(b's');
            pk.str("param_groups")
                .op(b']')
                .op(b'(')
                .op(b'}')
                .str("params")
                .op(b']');
            pk.op(b'(')
                .int(0)
                .int(1)
                .int(-7)
                .int(1 << 40)
                .op(b'e')
                .op(b's');
            pk.str("amsgrad").op(0x89).op(b's').op(b'e').op(b'u');
            pk.str(key);
            pk.b.extend_from_slice(body(&sd));
            pk.op(b'u');
            pk.stop()
        });
        let net = load_ok(&p, &NONE);
        assert_eq!(net.layers, reference.layers, "checkpoint under `{key}`");
    }
}

#[test]
fn pth_module_prefix_is_stripped() {
    let reference = load_ok(&ex("origin/model.pth"), &ORIGIN);
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("dp.pth");
    pth_with_pickle("origin/model.pth", &p, |sd| {
        rewrite_strings(sd, |s| {
            s.starts_with("block").then(|| format!("module.{s}"))
        })
    });
    assert_eq!(load_ok(&p, &ORIGIN).layers, reference.layers);
}

#[test]
fn pth_dtypes_strides_and_channels() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("syn.pth");
    // `a`: ActorAtn at an offset into a shared float32 storage, PReLU per channel (4) as a
    // transposed 2x2 float64 view; `b`: bfloat16 with a size-1 view of odd strides; `c`: ActorAtn
    // every other element of a storage.
    let atn: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let shared = f32s(&[9.0, 0.5, -0.25, 0.125, 9.0]);
    let bf: Vec<u8> = [0x3f80u16, 0xbf80, 0x4000, 0x0000, 0xbe2f]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let strided_atn = f32s(&[0.0, 10.0, 0.0, 20.0, 0.0, 30.0, 0.0, 40.0, 0.0]);
    let entries = [
        (
            "a.ActorAtn",
            T {
                class: "FloatStorage",
                key: "1",
                numel: 5,
                offset: 1,
                shape: &[4],
                stride: &[1],
            },
        ),
        (
            "a.actor_PReLU.weight",
            contiguous("DoubleStorage", "0", &[2, 2], &[1, 2]),
        ),
        (
            "b.ActorAtn",
            T {
                class: "BFloat16Storage",
                key: "4",
                numel: 5,
                offset: 0,
                shape: &[4],
                stride: &[1],
            },
        ),
        (
            "b.actor_PReLU.weight",
            T {
                class: "BFloat16Storage",
                key: "4",
                numel: 5,
                offset: 4,
                shape: &[1, 1],
                stride: &[u64::MAX / 2, 3],
            },
        ),
        (
            "c.ActorAtn",
            T {
                class: "FloatStorage",
                key: "5",
                numel: 9,
                offset: 1,
                shape: &[4],
                stride: &[2],
            },
        ),
        (
            "c.actor_PReLU.weight",
            T {
                class: "FloatStorage",
                key: "1",
                numel: 5,
                offset: 3,
                shape: &[1],
                stride: &[1],
            },
        ),
    ];
    let pkl = Pickle::new().state_dict(&entries).stop();
    let storages = [("0", atn), ("1", shared), ("4", bf), ("5", strided_atn)];
    for deflate in [false, true] {
        write_pth(&p, &pkl, &storages, deflate);
        let net = load_ok(&p, &ORIGIN);
        assert_eq!(names(&net), ["a", "b", "c"]);
        let a = repact(&net.layers[0]);
        assert_eq!(a.actor_atn, [0.5, -0.25, 0.125, 9.0]);
        assert_eq!(a.prelu_weight, [1.0, 3.0, 2.0, 4.0]);
        let b = repact(&net.layers[1]);
        assert_eq!(b.actor_atn, [1.0, -1.0, 2.0, 0.0]);
        assert_eq!(b.prelu_weight, [-0.1708984375]);
        let c = repact(&net.layers[2]);
        assert_eq!(c.actor_atn, [10.0, 20.0, 30.0, 40.0]);
        assert_eq!(c.prelu_weight, [0.125]);
    }

    // A bn layer stored in float16, one buffer a 0-d tensor, with an int64 counter.
    let half: Vec<u8> = [0x3c00u16, 0x0000, 0x3800, 0x4000, 0x3400]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let h = |offset, shape: &'static [u64], stride: &'static [u64]| T {
        class: "HalfStorage",
        key: "0",
        numel: 5,
        offset,
        shape,
        stride,
    };
    let entries = [
        ("n.ActorAtn", h(0, &[4], &[1])),
        ("n.actor_PReLU.weight", h(4, &[1], &[1])),
        ("n.bn.weight", h(0, &[1], &[1])),
        ("n.bn.bias", h(1, &[1], &[1])),
        ("n.bn.running_mean", h(2, &[1], &[1])),
        ("n.bn.running_var", h(3, &[], &[])),
        (
            "n.bn.num_batches_tracked",
            contiguous("LongStorage", "1", &[], &[]),
        ),
    ];
    let pkl = Pickle::new().state_dict(&entries).stop();
    write_pth(
        &p,
        &pkl,
        &[("0", half), ("1", 6900i64.to_le_bytes().to_vec())],
        false,
    );
    let net = load_ok(&p, &NONE);
    let n = repact(&net.layers[0]);
    assert_eq!(n.variant, Variant::Bn);
    assert_eq!(n.actor_atn, [1.0, 0.0, 0.5, 2.0]);
    assert_eq!(n.prelu_weight, [0.25]);
    let bn = n.bn.unwrap();
    assert_eq!(
        [bn.weight, bn.bias, bn.running_mean, bn.running_var],
        [1.0, 0.0, 0.5, 2.0]
    );
}

#[test]
fn truncated_and_broken_pth() {
    let bytes = std::fs::read(ex("bn/model.pth")).unwrap();
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("cut.pth");
    for cut in [bytes.len() - 10, bytes.len() / 2, 100] {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        has(
            &load_err(&p, &NONE),
            &["cut.pth", "not a valid torch.save zip archive"],
        );
    }
    std::fs::write(&p, b"").unwrap();
    has(
        &load_err(&p, &NONE),
        &["cut.pth", "not a torch.save archive"],
    );
    // The pre-1.6 format starts with a pickled magic number.
    std::fs::write(&p, b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.").unwrap();
    has(
        &load_err(&p, &NONE),
        &["cut.pth", "legacy torch.save format"],
    );

    type Edit = Box<dyn FnOnce(&[u8]) -> Vec<u8>>;
    let broken: Vec<(&str, Edit, Vec<&str>)> = vec![
        (
            "truncated data.pkl",
            Box::new(|pkl| pkl[..pkl.len() / 2].to_vec()),
            vec!["archive/data.pkl", "truncated"],
        ),
        (
            "no STOP",
            Box::new(|pkl| pkl[..pkl.len() - 1].to_vec()),
            vec!["archive/data.pkl", "truncated"],
        ),
        (
            "unsupported opcode",
            Box::new(|pkl| {
                let mut v = pkl[..pkl.len() - 1].to_vec();
                v.extend_from_slice(b"I1\n.");
                v
            }),
            vec!["archive/data.pkl", "INT (0x49)", "not supported"],
        ),
        (
            "missing storage",
            Box::new(|pkl| rewrite_strings(pkl, |s| (s == "6").then(|| "1006".to_string()))),
            vec![
                "layer `block1.act`",
                "field `ActorAtn`",
                "`block1.act.ActorAtn`",
                "archive/data/1006",
                "lacks",
            ],
        ),
        (
            "whole model",
            Box::new(|_| {
                let mut pk = Pickle::new();
                pk.global("__main__", "Net")
                    .op(b')')
                    .op(0x81)
                    .op(b'}')
                    .op(b'b');
                pk.stop()
            }),
            vec!["`__main__.Net`", "whole-model", "state_dict()"],
        ),
        (
            "no tensors",
            Box::new(|_| {
                let mut pk = Pickle::new();
                pk.op(b'}').str("epoch").int(3).op(b's');
                pk.stop()
            }),
            vec!["no state dict found", "`epoch`"],
        ),
        (
            "a list",
            Box::new(|_| Pickle::new().op(b']').stop()),
            vec!["a list of 0 items", "not a state dict"],
        ),
    ];
    for (what, edit, parts) in broken {
        let p = dir.path().join("broken.pth");
        pth_with_pickle("bn/model.pth", &p, edit);
        let m = load_err(&p, &NONE);
        if std::env::var_os("SHOW_MESSAGES").is_some() {
            println!("{m}");
        }
        let mut all = vec!["broken.pth"];
        all.extend(parts);
        for part in &all {
            assert!(
                m.contains(part),
                "{what}: `{part}` is not in the message: {m}"
            );
        }
    }
}

#[test]
fn pth_storage_problems() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("s.pth");
    let cases: Vec<(T<'_>, Vec<u8>, Vec<&str>)> = vec![
        // The storage holds fewer bytes than the pickle says.
        (
            contiguous("FloatStorage", "0", &[4], &[1]),
            f32s(&[1.0, 2.0, 3.0]),
            vec![
                "layer `x`",
                "field `ActorAtn`",
                "archive/data/0",
                "holds 12 bytes",
                "need 16",
            ],
        ),
        // The view reaches past its storage.
        (
            T {
                class: "FloatStorage",
                key: "0",
                numel: 4,
                offset: 1,
                shape: &[4],
                stride: &[1],
            },
            f32s(&[1.0, 2.0, 3.0, 4.0]),
            vec![
                "layer `x`",
                "field `ActorAtn`",
                "reach element 4 of a storage of 4",
            ],
        ),
        // An integer tensor where floats are needed.
        (
            contiguous("LongStorage", "0", &[4], &[1]),
            [1i64, 2, 3, 4]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            vec!["layer `x`", "field `ActorAtn`", "floating-point", "int64"],
        ),
        // A storage type that does not exist.
        (
            contiguous("ComplexFloatStorage", "0", &[4], &[1]),
            f32s(&[0.0; 8]),
            vec!["storage type `torch.ComplexFloatStorage` is not supported"],
        ),
        // A stride-0 view that claims an enormous size.
        (
            T {
                class: "FloatStorage",
                key: "0",
                numel: 4,
                offset: 0,
                shape: &[1 << 40, 4],
                stride: &[0, 1],
            },
            f32s(&[1.0, 2.0, 3.0, 4.0]),
            vec!["layer `x`", "field `ActorAtn`", "implausibly large"],
        ),
    ];
    for (atn, data, parts) in cases {
        let pkl = Pickle::new()
            .state_dict(&[
                ("x.ActorAtn", atn),
                (
                    "x.actor_PReLU.weight",
                    contiguous("FloatStorage", "1", &[1], &[1]),
                ),
            ])
            .stop();
        write_pth(&p, &pkl, &[("0", data), ("1", f32s(&[0.5]))], false);
        let m = load_err(&p, &ORIGIN);
        let mut all = vec!["s.pth"];
        all.extend(parts);
        has(&m, &all);
    }
}

#[test]
fn pth_state_dict_errors_match_safetensors() {
    let m = load_err(&ex("origin/model.pth"), &NONE);
    has(
        &m,
        &[
            "model.pth",
            "layer `block1.act`",
            "origin and softmax",
            "--variant origin|softmax",
        ],
    );
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("partial.pth");
    pth_with_pickle("bn/model.pth", &p, |pkl| {
        rewrite_strings(pkl, |s| {
            (s == "block2.act.bn.running_mean").then(|| "block2.act.bn.running_avg".to_string())
        })
    });
    has(
        &load_err(&p, &NONE),
        &[
            "partial.pth",
            "layer `block2.act`",
            "field `bn.running_mean`",
            "missing",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Issue 9 regressions: variants per layer, tensor shapes
// ---------------------------------------------------------------------------------------

/// The bundled bn network with block3's BatchNorm removed: block3 is then an origin/softmax
/// layer among bn layers.
fn mixed_bn_and_plain() -> (TempDir, PathBuf) {
    st_fixture("bn", |t| {
        t.retain(|x| !x.name.starts_with("block3.act.bn."))
    })
}

#[test]
fn state_dict_mixing_bn_and_origin_layers_loads() {
    let (_d, p) = mixed_bn_and_plain();
    let variants =
        |n: &Network| -> Vec<Variant> { n.layers.iter().map(|l| repact(l).variant).collect() };
    use Variant::{Bn, Origin, Softmax};
    // Without --variant only the ambiguous layer is a problem, and the message says how to
    // name it alone.
    let m = load_err(&p, &NONE);
    has(
        &m,
        &["layer `block3.act`", "--variant block3.act=origin|softmax"],
    );
    // A default applies to the ambiguous layer only.
    assert_eq!(variants(&load_ok(&p, &ORIGIN)), [Bn, Bn, Origin, Bn, Bn]);
    // Per layer.
    let per_layer = LoadOptions {
        layer_variants: vec![("block3.act".to_string(), Softmax)],
        ..LoadOptions::default()
    };
    assert_eq!(
        variants(&load_ok(&p, &per_layer)),
        [Bn, Bn, Softmax, Bn, Bn]
    );
    // Per layer wins over the default.
    let both = LoadOptions {
        variant: Some(Origin),
        ..per_layer.clone()
    };
    assert_eq!(variants(&load_ok(&p, &both)), [Bn, Bn, Softmax, Bn, Bn]);
    // A layer name the file does not have is refused, not ignored.
    let typo = LoadOptions {
        layer_variants: vec![("block3.ac".to_string(), Softmax)],
        variant: Some(Origin),
        ..LoadOptions::default()
    };
    has(
        &load_err(&p, &typo),
        &[
            "--variant block3.ac=softmax",
            "names a layer the file does not have",
            "`block3.act`",
        ],
    );
    // The .pth reader shares the logic; so does JSON for the per-layer form.
    let json = load_ok(&p, &both);
    let dir = TempDir::new().unwrap();
    let jp = write_json(&dir, &to_json(&json));
    assert_eq!(variants(&load_ok(&jp, &ORIGIN)), [Bn, Bn, Softmax, Bn, Bn]);
}

#[test]
fn actor_atn_of_shape_2x2_is_refused() {
    let (_d, p) = st_fixture("origin", |t| {
        find(t, "block2.act.ActorAtn").shape = vec![2, 2]
    });
    has(
        &load_err(&p, &ORIGIN),
        &[
            "layer `block2.act`",
            "field `ActorAtn`",
            "vector of 4",
            "[2, 2]",
        ],
    );
    // [1, 4] is no vector either.
    let (_d, p) = st_fixture("origin", |t| {
        find(t, "block2.act.ActorAtn").shape = vec![1, 4]
    });
    has(&load_err(&p, &ORIGIN), &["field `ActorAtn`", "[1, 4]"]);
}

// ---------------------------------------------------------------------------------------
// Issue 9 regressions: parsers bounded in time and memory
// ---------------------------------------------------------------------------------------

mod fuzz_support;

/// The go-between of `fuzz_support::run_measured` (a no-op in a normal run).
#[test]
fn measure_entry() {
    fuzz_support::measure_entry();
}
use fuzz_support::{run_measured, within};

fn npy_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn npy_err(dir: &TempDir, bytes: Vec<u8>) -> String {
    let p = dir.path().join("t.npy");
    std::fs::write(&p, bytes).unwrap();
    within(
        10,
        "reading a hostile .npy",
        move || match repact_hw::tensor::NpyReader::open(&p) {
            Ok(r) => panic!("accepted: {:?}", r.header()),
            Err(e) => e.to_string(),
        },
    )
}

#[test]
fn npy_header_with_nested_lists_is_refused_in_linear_time() {
    // Depth 26 took more than 60 s in ndarray-npy's header parser.
    let dir = TempDir::new().unwrap();
    for depth in [26, 20_000] {
        let nest = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let shape = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {nest}, }}");
        has(
            &npy_err(&dir, npy_bytes(&shape, &[])),
            &["t.npy", "shape must be a tuple"],
        );
        let descr = format!("{{'descr': {nest}, 'fortran_order': False, 'shape': (1,), }}");
        has(
            &npy_err(&dir, npy_bytes(&descr, &[0; 4])),
            &["t.npy", "structured dtypes"],
        );
    }
    // Past the header size limit.
    let huge = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }}{}",
        " ".repeat(70_000)
    );
    let mut b = b"\x93NUMPY\x02\x00".to_vec();
    b.extend_from_slice(&(huge.len() as u32).to_le_bytes());
    b.extend_from_slice(huge.as_bytes());
    has(
        &npy_err(&dir, b),
        &["header is", "more than the 65536 allowed"],
    );
}

#[test]
fn truncated_or_over_long_float32_npy_says_what_is_wrong() {
    // It said "incorrect descriptor ('<f4')".
    let dir = TempDir::new().unwrap();
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    has(
        &npy_err(&dir, npy_bytes(h, &[0; 20])),
        &[
            "t.npy",
            "truncated",
            "shape [2, 3]",
            "6 float32 values (24 bytes)",
            "only 20 bytes",
        ],
    );
    has(
        &npy_err(&dir, npy_bytes(h, &[0; 28])),
        &[
            "t.npy",
            "28 bytes of data",
            "24 bytes",
            "longer than its shape says",
        ],
    );
    // A shape declaring 10^10 elements over a few bytes is refused before allocating.
    let big = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }";
    has(
        &npy_err(&dir, npy_bytes(big, &[0; 8])),
        &["truncated", "10000000000 float64 values"],
    );
    let overflow =
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }";
    has(
        &npy_err(&dir, npy_bytes(overflow, &[0; 8])),
        &["more values than can exist"],
    );
}

#[test]
fn json_with_400k_keys_is_checked_for_duplicates_in_linear_time() {
    // The duplicate-key check compared every key with every earlier one: > 120 s.
    let mut text = String::from("{\"repact_weights\": 1, \"layers\": []");
    for i in 0..400_000 {
        text += &format!(", \"k{i}\": 0");
    }
    text += ", \"k7\": 1}";
    let dir = TempDir::new().unwrap();
    let p = write_json(&dir, &text);
    let m = within(30, "400k JSON keys", move || load_err(&p, &NONE));
    has(&m, &["w.json", "duplicate key `k7`"]);
}

/// A zip holding `archive/data.pkl` = `pkl` and storages, deflated at level 1 (fast).
/// Writes a storage's bytes into the zip entry.
type Fill<'a> = &'a dyn Fn(&mut dyn Write);

fn write_pth_fast(path: &Path, pkl: &[u8], storages: &[(&str, Fill<'_>)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    w.start_file("archive/data.pkl", o).unwrap();
    w.write_all(pkl).unwrap();
    for (k, fill) in storages {
        w.start_file(format!("archive/data/{k}"), o).unwrap();
        fill(&mut w);
    }
    w.finish().unwrap();
}

fn zeros(n: u64) -> impl Fn(&mut dyn Write) {
    move |w: &mut dyn Write| {
        let block = vec![0u8; 1 << 20];
        let mut left = n;
        while left > 0 {
            let k = left.min(block.len() as u64) as usize;
            w.write_all(&block[..k]).unwrap();
            left -= k as u64;
        }
    }
}

fn origin_layer_pickle(atn_numel: u64) -> Vec<u8> {
    Pickle::new()
        .state_dict(&[
            (
                "x.ActorAtn",
                T {
                    class: "FloatStorage",
                    key: "0",
                    numel: atn_numel,
                    offset: 0,
                    shape: &[4],
                    stride: &[1],
                },
            ),
            (
                "x.actor_PReLU.weight",
                contiguous("FloatStorage", "1", &[1], &[1]),
            ),
        ])
        .stop()
}

#[test]
fn four_element_tensor_over_a_deflated_1gib_storage_reads_only_its_bytes() {
    // It decompressed the whole storage: 1 GB RSS for 16 bytes of ActorAtn.
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("big.pth");
    let n = 1u64 << 28; // floats: 1 GiB
    write_pth_fast(
        &p,
        &origin_layer_pickle(n),
        &[("0", &zeros(4 * n)), ("1", &zeros(4))],
    );
    let m = run_measured(
        dir.path(),
        &["inspect", "--weights", "big.pth", "--variant", "origin"],
    );
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    eprintln!(
        "inspect of a 4-element tensor over a 1 GiB deflated storage: peak RSS {:.0} MB",
        m.peak_mb
    );
    assert!(m.peak_mb < 100.0, "peak RSS {:.0} MB", m.peak_mb);
}

#[test]
fn pth_whose_pickle_expands_past_the_limit_is_refused() {
    // A 1 MB .pth whose data.pkl inflates to 1 GB of opcodes aborted with exit 134.
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("bomb.pth");
    let f = std::fs::File::create(&p).unwrap();
    let mut w = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    w.start_file("archive/data.pkl", o).unwrap();
    w.write_all(b"\x80\x02").unwrap();
    // 80 MB of NONE opcodes.
    let filler = vec![b'N'; 1 << 20];
    for _ in 0..80 {
        w.write_all(&filler).unwrap();
    }
    w.finish().unwrap();
    let m = run_measured(
        dir.path(),
        &["inspect", "--weights", "bomb.pth", "--variant", "origin"],
    );
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    has(&m.stderr, &["bomb.pth", "data.pkl", "67108864"]);
    assert!(m.peak_mb < 150.0, "peak RSS {:.0} MB", m.peak_mb);
}

#[test]
fn tiny_pickles_building_10m_objects_are_refused() {
    // 10^7 NONEs, EMPTY_DICTs or memo entries took 0.8-1.3 GB.
    let dir = TempDir::new().unwrap();
    let cases: [(&str, Vec<u8>); 3] = [
        ("none", [b'N'].repeat(10_000_000)),
        ("dict", [b'}'].repeat(10_000_000)),
        (
            "memo",
            (0u32..10_000_000)
                .flat_map(|i| {
                    let mut op = vec![b'r'];
                    op.extend_from_slice(&i.to_le_bytes());
                    op
                })
                .collect(),
        ),
    ];
    for (what, body) in cases {
        let mut pkl = b"\x80\x02N".to_vec();
        pkl.extend_from_slice(&body);
        pkl.push(b'.');
        let p = dir.path().join(format!("{what}.pth"));
        write_pth_fast(&p, &pkl, &[]);
        let m = run_measured(
            dir.path(),
            &["inspect", "--weights", &format!("{what}.pth")],
        );
        assert_eq!(m.code, Some(1), "{what}: {}", m.stderr);
        has(&m.stderr, &["data.pkl", "more than 2000000 values"]);
        eprintln!(
            "pickle of 10^7 {what} opcodes: refused, peak RSS {:.0} MB",
            m.peak_mb
        );
        assert!(m.peak_mb < 400.0, "{what}: peak RSS {:.0} MB", m.peak_mb);
    }
}

/// A safetensors file with the given header text and data.
fn raw_safetensors(dir: &TempDir, header: &str, data: &[u8]) -> PathBuf {
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    let p = dir.path().join("raw.safetensors");
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn safetensors_with_duplicated_keys_or_unknown_entry_fields_is_refused() {
    let dir = TempDir::new().unwrap();
    let atn = r#""x.ActorAtn": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}"#;
    let prelu =
        r#""x.actor_PReLU.weight": {"dtype": "F32", "shape": [1], "data_offsets": [16, 20]}"#;
    let data = f32s(&[0.1, 0.2, 0.3, 0.4, 0.5]);
    let good = raw_safetensors(&dir, &format!("{{{atn}, {prelu}}}"), &data);
    assert_eq!(load_ok(&good, &ORIGIN).layers.len(), 1);
    let cases = [
        (
            format!("{{{atn}, {prelu}, {atn}}}"),
            "names `x.ActorAtn` twice",
        ),
        (
            format!(r#"{{"__metadata__": {{"a": "1", "a": "2"}}, {atn}, {prelu}}}"#),
            "`__metadata__` names `a` twice",
        ),
        (
            format!("{{{}, {prelu}}}", atn.replace("}", r#", "extra": 1}"#)),
            "unknown field `extra`",
        ),
        (
            format!(
                "{{{}, {prelu}}}",
                atn.replace(r#""dtype": "F32", "#, r#""dtype": "F32", "dtype": "F32", "#)
            ),
            "duplicate field `dtype`",
        ),
        (
            format!("{{{}, {prelu}}}", atn.replace("[0, 16]", "[0, 12]")),
            "need 16",
        ),
    ];
    for (header, why) in cases {
        let p = raw_safetensors(&dir, &header, &data);
        has(
            &load_err(&p, &ORIGIN),
            &["raw.safetensors", "not a valid safetensors file", why],
        );
    }
}

#[test]
fn prelu_with_more_than_65536_channels_is_refused() {
    let slopes = vec!["0.25"; 65_537].join(", ");
    let m = json_err(
        &wrap(&GOOD.replace("[0.25]", &format!("[{slopes}]"))),
        &NONE,
    );
    has(
        &m,
        &[
            "layer `a`",
            "field `prelu_weight`",
            "65537 slopes",
            "at most 65536 channels",
        ],
    );
    let slopes = vec!["0.25"; 65_536].join(", ");
    let dir = TempDir::new().unwrap();
    let p = write_json(&dir, &wrap(&GOOD.replace("[0.25]", &format!("[{slopes}]"))));
    assert_eq!(
        repact(&load_ok(&p, &NONE).layers[0]).prelu_weight.len(),
        65_536
    );
}

#[test]
fn json_at_the_size_limit_stays_in_bounded_memory() {
    // Every number becomes a tree node: the file size limit bounds the tree.
    let dir = TempDir::new().unwrap();
    let zeros = vec!["0"; 8_300_000].join(",");
    let text = wrap(&GOOD.replace("[0.25]", &format!("[{zeros}]")));
    assert!(text.len() < 16 << 20);
    std::fs::write(dir.path().join("w.json"), &text).unwrap();
    let m = run_measured(dir.path(), &["inspect", "--weights", "w.json"]);
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    has(&m.stderr, &["prelu_weight", "at most 65536 channels"]);
    eprintln!("16 MiB JSON of 8.3 M numbers: peak RSS {:.0} MB", m.peak_mb);
    assert!(m.peak_mb < 600.0, "peak RSS {:.0} MB", m.peak_mb);
    // One byte over the limit is refused before parsing.
    let over = format!("{text}{}", " ".repeat((16 << 20) - text.len() + 1));
    std::fs::write(dir.path().join("w.json"), over).unwrap();
    let m = run_measured(dir.path(), &["inspect", "--weights", "w.json"]);
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    has(&m.stderr, &["w.json", "more than the 16777216 bytes"]);
}

#[test]
fn pth_with_300k_zip_entries_is_refused_before_reading_its_directory() {
    // The zip reader keeps every central-directory entry: 34 MB of empty entries took 180 MB.
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("many.pth");
    let f = std::fs::File::create(&p).unwrap();
    let mut w = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    w.start_file("archive/data.pkl", o).unwrap();
    w.write_all(b"\x80\x02}.").unwrap();
    for i in 0..300_000 {
        w.start_file(format!("archive/data/{i}"), o).unwrap();
    }
    w.finish().unwrap();
    let m = run_measured(dir.path(), &["inspect", "--weights", "many.pth"]);
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    has(
        &m.stderr,
        &["many.pth", "300001 entries", "more than the 262144"],
    );
    assert!(m.peak_mb < 50.0, "peak RSS {:.0} MB", m.peak_mb);
}
