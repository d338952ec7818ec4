//! Our own JSON weights format, version 1 (described in the parent module).
//!
//! The text is parsed by `serde_json` into an order-keeping tree that refuses duplicate keys,
//! then checked by hand so that each message can name the layer and the field. Numbers are
//! re-read from their source text with Rust's correctly rounded parser: `serde_json` without
//! its `float_roundtrip` feature is off by one unit in the last place for about one f32 value
//! in ten, and these files promise the exact trained values.

use super::{read_file, LoadOptions, Problem, Said};
use crate::model::activation::{activation_names, ParamValue};
use crate::model::{
    Activation, BatchNorm, Branch, BranchOrder, Layer, LayerKind, Network, PiecewiseParams,
    RepActParams, Variant, ACTIVATIONS,
};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

/// The format version this build reads and writes.
const VERSION: u64 = 1;

const TOP_KEYS: &[&str] = &["repact_weights", "layers"];
const REPACT_KEYS: &[&str] = &[
    "name",
    "variant",
    "actor_atn",
    "branch_order",
    "prelu_weight",
    "bn",
];
const PIECEWISE_KEYS: &[&str] = &["name", "piecewise"];
const BN_KEYS: &[&str] = &["weight", "bias", "running_mean", "running_var", "eps"];
const PIECEWISE_INNER_KEYS: &[&str] = &["breakpoints", "segments"];

/// PyTorch's BatchNorm default, used when a `bn` object has no `eps`.
const DEFAULT_EPS: f64 = 1e-5;

/// The largest JSON weights file read (the bundled ones are 2 kB; even a per-channel PReLU of
/// 65 536 channels per layer is a few MB). Nesting is limited to 128 levels by `serde_json`.
pub(crate) const MAX_JSON_BYTES: u64 = 16 << 20;

pub(crate) fn load(path: &Path, opts: &LoadOptions) -> Result<Vec<Layer>, Problem> {
    let bytes = read_file(path, MAX_JSON_BYTES)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|e| Problem::new(format!("not UTF-8 text: {e}")))?;
    parse(text, opts)
}

/// Parses the text of a JSON weights file.
pub(crate) fn parse(text: &str, opts: &LoadOptions) -> Result<Vec<Layer>, Problem> {
    let mut root: Json = serde_json::from_str(text)
        .map_err(|e| Problem::new(format!("invalid JSON: {e}{}", syntax_hint(text, &e))))?;
    let mut tokens = number_tokens(text);
    exact_numbers(&mut root, &mut tokens)?;
    if tokens.next().is_some() {
        return Err(Problem::internal(
            "JSON numbers could not be matched to their text",
        ));
    }

    let top = root
        .as_object()
        .ok_or_else(|| Problem::new(format!("must be a JSON object, got {}", root.describe())))?;
    let version =
        match lookup(top, "repact_weights") {
            Some(v) => v,
            None => {
                let keys: Vec<String> = top.iter().take(6).map(|(k, _)| format!("`{k}`")).collect();
                return Err(Problem::new(format!(
                "not a repact-hw weights file: no `repact_weights` version key (top-level keys: \
                 {}); state dicts are read from .safetensors or .pth files",
                if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
            ))
                .field("repact_weights"));
            }
        };
    match version {
        Json::Num(v) if *v == VERSION as f64 => {}
        Json::Num(v) => {
            return Err(Problem::new(format!(
                "version {v} is not supported; this build reads version {VERSION}"
            ))
            .field("repact_weights"))
        }
        other => {
            return Err(Problem::new(format!(
                "must be the version number {VERSION}, got {}",
                other.describe()
            ))
            .field("repact_weights"))
        }
    }
    check_keys(top, TOP_KEYS, "", "the top level")?;
    let layers = match lookup(top, "layers") {
        Some(Json::Arr(a)) => a,
        Some(other) => {
            return Err(Problem::new(format!(
                "must be an array of layers, got {}",
                other.describe()
            ))
            .field("layers"))
        }
        None => return Err(Problem::new("missing: the file lists no layers").field("layers")),
    };
    if layers.is_empty() {
        return Err(
            Problem::new("is empty: the file must hold at least one layer").field("layers"),
        );
    }

    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let obj = layer.as_object().ok_or_else(|| {
            Problem::new(format!("must be an object, got {}", layer.describe()))
                .field(format!("layers[{i}]"))
        })?;
        let name = match lookup(obj, "name") {
            Some(Json::Str(s)) if !s.is_empty() => s.as_str(),
            Some(Json::Str(_)) => {
                return Err(Problem::new("must not be empty").field(format!("layers[{i}].name")))
            }
            Some(other) => {
                return Err(
                    Problem::new(format!("must be a string, got {}", other.describe()))
                        .field(format!("layers[{i}].name")),
                )
            }
            None => {
                return Err(Problem::new("missing: every layer needs a name")
                    .field(format!("layers[{i}].name")))
            }
        };
        if let Some(first) = seen.insert(name, i) {
            return Err(Problem::new(format!(
                "duplicate layer name: layers[{first}] and layers[{i}] are both called `{name}`"
            ))
            .layer(name)
            .field("name"));
        }
        let kind = parse_layer(obj, name, opts).map_err(|p| Problem {
            layer: Some(name.to_string()),
            ..p
        })?;
        out.push(Layer {
            name: name.to_string(),
            kind,
        });
    }
    Ok(out)
}

fn parse_layer(
    obj: &[(String, Json)],
    name: &str,
    opts: &LoadOptions,
) -> Result<LayerKind, Problem> {
    if let Some(act) = lookup(obj, "activation") {
        return parse_activation(act, obj).map(LayerKind::Activation);
    }
    if let Some(pw) = lookup(obj, "piecewise") {
        if let Some((k, _)) = obj
            .iter()
            .find(|(k, _)| !PIECEWISE_KEYS.contains(&k.as_str()))
        {
            let reason = if REPACT_KEYS.contains(&k.as_str()) {
                format!(
                    "a layer is either RepAct or piecewise, not both: remove `{k}` or `piecewise`"
                )
            } else {
                unknown_key_reason(k, PIECEWISE_KEYS, "a piecewise layer")
            };
            return Err(Problem::new(reason).field(k.as_str()));
        }
        return parse_piecewise(pw).map(LayerKind::Piecewise);
    }
    if let Some((k, _)) = obj.iter().find(|(k, _)| !REPACT_KEYS.contains(&k.as_str())) {
        let mut candidates = REPACT_KEYS.to_vec();
        candidates.extend(["piecewise", "activation"]);
        return Err(Problem::new(format!(
            "unknown key; {}a RepAct layer takes {} (a piecewise layer: name, piecewise; a \
             library activation: name, activation and its parameters)",
            did_you_mean(k, &candidates),
            REPACT_KEYS.join(", ")
        ))
        .field(k.as_str()));
    }

    let variant = match lookup(obj, "variant") {
        Some(Json::Str(s)) => s
            .parse::<Variant>()
            .map_err(|e| Problem::new(e).field("variant"))?,
        Some(other) => {
            return Err(Problem::new(format!(
                "must be one of \"origin\", \"softmax\", \"bn\", got {}",
                other.describe()
            ))
            .field("variant"))
        }
        None => {
            return Err(Problem::new(
                "missing: say \"origin\", \"softmax\" or \"bn\" (or give `piecewise` instead)",
            )
            .field("variant"))
        }
    };
    // A bare --variant is for layers whose file does not tell; a JSON layer always does.
    if let Said::Layer(wanted) = opts.variant_of(name) {
        if wanted != variant {
            return Err(Problem::new(format!(
                "the file says `{variant}` but --variant {name}={wanted} says `{wanted}`"
            ))
            .field("variant"));
        }
    }

    let atn = numbers(required(obj, "actor_atn")?, "actor_atn")?;
    let actor_atn: [f64; 4] = atn.as_slice().try_into().map_err(|_| {
        Problem::new(format!(
            "must hold 4 numbers (one per branch), got {}",
            atn.len()
        ))
        .field("actor_atn")
    })?;

    let file_order = match lookup(obj, "branch_order") {
        None => None,
        Some(v) => Some(parse_branch_order(v)?),
    };

    let prelu_weight = numbers(required(obj, "prelu_weight")?, "prelu_weight")?;

    let bn = match lookup(obj, "bn") {
        None => None,
        Some(v) => Some(parse_bn(v)?),
    };

    RepActParams::new(
        variant,
        actor_atn,
        opts.branch_order.or(file_order),
        prelu_weight,
        bn,
    )
    .map(LayerKind::RepAct)
    .map_err(|e| Problem::new(e.reason).field(e.field))
}

/// A library activation layer: `{"name": ..., "activation": "leaky_relu", "negative_slope": 0.1}`;
/// every other key is one of the activation's parameters.
fn parse_activation(act: &Json, obj: &[(String, Json)]) -> Result<Activation, Problem> {
    let name = match act {
        Json::Str(s) => s.as_str(),
        other => {
            return Err(Problem::new(format!(
                "must be an activation name ({}), got {}",
                activation_names(),
                other.describe()
            ))
            .field("activation"))
        }
    };
    let mut params = Vec::new();
    for (k, v) in obj {
        if k == "name" || k == "activation" {
            continue;
        }
        if REPACT_KEYS.contains(&k.as_str()) || k == "piecewise" {
            return Err(Problem::new(format!(
                "a layer is either a library activation or RepAct/piecewise, not both: remove \
                 `{k}` or `activation`"
            ))
            .field(k.as_str()));
        }
        let value = match v {
            Json::Num(x) => ParamValue::Num(*x),
            Json::Str(s) => ParamValue::Text(s.clone()),
            Json::Arr(items) if items.iter().all(|i| matches!(i, Json::Num(_))) => {
                ParamValue::Nums(
                    items
                        .iter()
                        .filter_map(|i| match i {
                            Json::Num(x) => Some(*x),
                            _ => None,
                        })
                        .collect(),
                )
            }
            other => ParamValue::Other(other.describe()),
        };
        params.push((k.clone(), value));
    }
    Activation::from_params(name, &params).map_err(|e| {
        let reason = if e.field == "activation" {
            let names: Vec<&str> = ACTIVATIONS.iter().map(|a| a.name).collect();
            format!("{}{}", did_you_mean(name, &names), e.reason)
        } else {
            e.reason
        };
        let problem = if e.internal {
            Problem::internal(reason)
        } else {
            Problem::new(reason)
        };
        problem.field(e.field)
    })
}

fn parse_branch_order(v: &Json) -> Result<BranchOrder, Problem> {
    let items = match v {
        Json::Arr(a) => a,
        other => {
            return Err(Problem::new(format!(
                "must be an array of 4 branch names, got {}",
                other.describe()
            ))
            .field("branch_order"))
        }
    };
    let mut branches = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("branch_order[{i}]");
        match item {
            Json::Str(s) => branches.push(
                s.parse::<Branch>()
                    .map_err(|e| Problem::new(e).field(field))?,
            ),
            other => {
                return Err(Problem::new(format!(
                    "must be a branch name (identity, relu, hardswish or prelu), got {}",
                    other.describe()
                ))
                .field(field))
            }
        }
    }
    BranchOrder::new(&branches).map_err(|e| Problem::new(e).field("branch_order"))
}

fn parse_bn(v: &Json) -> Result<BatchNorm, Problem> {
    let obj = v.as_object().ok_or_else(|| {
        Problem::new(format!(
            "must be an object with weight, bias, running_mean, running_var (and eps), got {}",
            v.describe()
        ))
        .field("bn")
    })?;
    check_keys(obj, BN_KEYS, "bn.", "`bn`")?;
    let get = |key: &str| -> Result<f64, Problem> {
        let field = format!("bn.{key}");
        match lookup(obj, key) {
            Some(v) => number(v, &field),
            None => Err(Problem::new(
                "missing: `bn` needs weight, bias, running_mean and running_var",
            )
            .field(field)),
        }
    };
    let weight = get("weight")?;
    let bias = get("bias")?;
    let running_mean = get("running_mean")?;
    let running_var = get("running_var")?;
    let eps = match lookup(obj, "eps") {
        Some(v) => number(v, "bn.eps")?,
        None => DEFAULT_EPS,
    };
    Ok(BatchNorm {
        weight,
        bias,
        running_mean,
        running_var,
        eps,
    })
}

fn parse_piecewise(v: &Json) -> Result<PiecewiseParams, Problem> {
    let obj = v.as_object().ok_or_else(|| {
        Problem::new(format!(
            "must be an object with breakpoints and segments, got {}",
            v.describe()
        ))
        .field("piecewise")
    })?;
    check_keys(obj, PIECEWISE_INNER_KEYS, "piecewise.", "`piecewise`")?;
    let breakpoints = match lookup(obj, "breakpoints") {
        Some(v) => numbers(v, "piecewise.breakpoints")?,
        None => {
            return Err(Problem::new("missing (use [] for a single segment)")
                .field("piecewise.breakpoints"))
        }
    };
    let segs = match lookup(obj, "segments") {
        Some(Json::Arr(a)) => a,
        Some(other) => {
            return Err(Problem::new(format!(
                "must be an array of [c0, c1, c2] arrays, got {}",
                other.describe()
            ))
            .field("piecewise.segments"))
        }
        None => return Err(Problem::new("missing").field("piecewise.segments")),
    };
    let segments = segs
        .iter()
        .enumerate()
        .map(|(i, s)| numbers(s, &format!("piecewise.segments[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    PiecewiseParams::new(breakpoints, segments).map_err(|e| Problem::new(e.reason).field(e.field))
}

/// A word on the likely cause of a syntax error where serde_json's own message is terse.
fn syntax_hint(text: &str, e: &serde_json::Error) -> &'static str {
    if e.to_string().starts_with("number out of range") {
        return " (numbers must fit in an f64; infinities are not allowed)";
    }
    let at = text
        .lines()
        .nth(e.line().saturating_sub(1))
        .and_then(|l| l.get(e.column().saturating_sub(1)..))
        .unwrap_or("");
    let words = ["NaN", "nan", "Infinity", "-Infinity", "inf", "-inf"];
    if words.iter().any(|w| at.starts_with(w)) {
        " (JSON has no NaN or infinity, and the values must be finite numbers)"
    } else {
        ""
    }
}

fn required<'a>(obj: &'a [(String, Json)], key: &str) -> Result<&'a Json, Problem> {
    lookup(obj, key).ok_or_else(|| Problem::new("missing").field(key))
}

fn lookup<'a>(obj: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    obj.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Refuses keys outside `allowed`, so that a misspelt optional key is not silently ignored.
fn check_keys(
    obj: &[(String, Json)],
    allowed: &[&str],
    field_prefix: &str,
    what: &str,
) -> Result<(), Problem> {
    match obj.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((k, _)) => {
            Err(Problem::new(unknown_key_reason(k, allowed, what))
                .field(format!("{field_prefix}{k}")))
        }
        None => Ok(()),
    }
}

fn unknown_key_reason(key: &str, allowed: &[&str], what: &str) -> String {
    format!(
        "unknown key; {}{what} takes {}",
        did_you_mean(key, allowed),
        allowed.join(", ")
    )
}

/// `did you mean `x`? ` for the candidate within two edits of `key`, else nothing.
fn did_you_mean(key: &str, candidates: &[&str]) -> String {
    match candidates
        .iter()
        .map(|c| (edit_distance(key, c), *c))
        .min()
        .filter(|(d, _)| *d <= 2)
    {
        Some((_, c)) => format!("did you mean `{c}`? "),
        None => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn number(v: &Json, field: &str) -> Result<f64, Problem> {
    match v {
        Json::Num(x) if x.is_finite() => Ok(*x),
        Json::Num(x) => Err(Problem::new(format!("must be a finite number, got {x}")).field(field)),
        Json::Str(s) if s.trim().parse::<f64>().is_ok_and(|x| !x.is_finite()) => Err(Problem::new(
            format!("must be a finite number, got the string {s:?} (NaN and infinities are not allowed)"),
        )
        .field(field)),
        other => Err(Problem::new(format!("must be a number, got {}", other.describe())).field(field)),
    }
}

fn numbers(v: &Json, field: &str) -> Result<Vec<f64>, Problem> {
    match v {
        Json::Arr(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| number(x, &format!("{field}[{i}]")))
            .collect(),
        other => Err(Problem::new(format!(
            "must be an array of numbers, got {}",
            other.describe()
        ))
        .field(field)),
    }
}

/// A JSON value that keeps object keys in file order (for error messages that point at the
/// first bad key) and was checked for duplicate keys while parsing.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Obj(o) => Some(o),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Json::Null => "null".to_string(),
            Json::Bool(b) => b.to_string(),
            Json::Num(x) => format!("the number {x}"),
            Json::Str(s) => format!("the string {s:?}"),
            Json::Arr(a) => format!("an array of {} items", a.len()),
            Json::Obj(_) => "an object".to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Num(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Num(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Num(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Json>()? {
            items.push(v);
        }
        Ok(Json::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut items: Vec<(String, Json)> = Vec::new();
        // A hash set keeps the duplicate check linear (a list scan was quadratic: 400 000
        // keys took minutes).
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                // serde_json adds the line and column of the second occurrence.
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value::<Json>()?;
            items.push((key, value));
        }
        Ok(Json::Obj(items))
    }
}

/// The text of every number in `text`, in document order, produced lazily (a list of them
/// would cost 16 bytes per number on top of the tree). Only used on text `serde_json` has
/// accepted, so strings and literals are well formed.
fn number_tokens(text: &str) -> impl Iterator<Item = &str> {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            match b[i] {
                b'"' => {
                    i += 1;
                    while i < b.len() {
                        match b[i] {
                            b'\\' => i += 2,
                            b'"' => {
                                i += 1;
                                break;
                            }
                            _ => i += 1,
                        }
                    }
                }
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    while i < b.len()
                        && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                    {
                        i += 1;
                    }
                    return Some(&text[start..i]);
                }
                _ => i += 1,
            }
        }
        None
    })
}

/// Replaces every number of the tree, in document order, by the correctly rounded value of
/// its source text.
fn exact_numbers<'a>(
    v: &mut Json,
    tokens: &mut impl Iterator<Item = &'a str>,
) -> Result<(), Problem> {
    match v {
        Json::Num(x) => {
            let tok = tokens.next().ok_or_else(|| {
                Problem::internal("JSON numbers could not be matched to their text")
            })?;
            *x = tok
                .parse::<f64>()
                .map_err(|e| Problem::internal(format!("cannot re-read number `{tok}`: {e}")))?;
            Ok(())
        }
        Json::Arr(items) => items.iter_mut().try_for_each(|x| exact_numbers(x, tokens)),
        Json::Obj(items) => items
            .iter_mut()
            .try_for_each(|(_, x)| exact_numbers(x, tokens)),
        Json::Null | Json::Bool(_) | Json::Str(_) => Ok(()),
    }
}

/// Writes `network` in the JSON format [`load`](super::load) reads, one layer per line.
///
/// Numbers are written in the shortest form that reads back to the same f64, so a
/// write-then-load round trip is exact. `branch_order` is written only where it differs
/// from the variant's default. Values must be finite (as `load` guarantees): a non-finite
/// value is written as `null` and will not load back.
pub fn to_json(network: &Network) -> String {
    let mut out = String::from("{\n  \"repact_weights\": 1,\n  \"layers\": [\n");
    for (i, layer) in network.layers.iter().enumerate() {
        let mut line = format!("    {{\"name\": {}", json_str(&layer.name));
        match &layer.kind {
            LayerKind::RepAct(p) => {
                line += &format!(", \"variant\": {}", json_str(p.variant.name()));
                line += &format!(", \"actor_atn\": {}", json_nums(&p.actor_atn));
                if p.branch_order != p.variant.default_branch_order() {
                    let names: Vec<String> = p
                        .branch_order
                        .0
                        .iter()
                        .map(|b| json_str(b.name()))
                        .collect();
                    line += &format!(", \"branch_order\": [{}]", names.join(", "));
                }
                line += &format!(", \"prelu_weight\": {}", json_nums(&p.prelu_weight));
                if let Some(bn) = &p.bn {
                    line += &format!(
                        ", \"bn\": {{\"weight\": {}, \"bias\": {}, \"running_mean\": {}, \
                         \"running_var\": {}, \"eps\": {}}}",
                        json_num(bn.weight),
                        json_num(bn.bias),
                        json_num(bn.running_mean),
                        json_num(bn.running_var),
                        json_num(bn.eps)
                    );
                }
            }
            LayerKind::Activation(a) => {
                line += &format!(", \"activation\": {}", json_str(a.name()));
                for (k, v) in a.params() {
                    let value = match v {
                        ParamValue::Num(x) => json_num(x),
                        ParamValue::Nums(xs) => json_nums(&xs),
                        ParamValue::Text(t) | ParamValue::Other(t) => json_str(&t),
                    };
                    line += &format!(", {}: {value}", json_str(k));
                }
            }
            LayerKind::Piecewise(p) => {
                let segs: Vec<String> = p.segments.iter().map(|s| json_nums(s)).collect();
                line += &format!(
                    ", \"piecewise\": {{\"breakpoints\": {}, \"segments\": [{}]}}",
                    json_nums(&p.breakpoints),
                    segs.join(", ")
                );
            }
        }
        line += "}";
        if i + 1 < network.layers.len() {
            line += ",";
        }
        out += &line;
        out += "\n";
    }
    out += "  ]\n}\n";
    out
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn json_num(x: f64) -> String {
    serde_json::Value::from(x).to_string()
}

fn json_nums(xs: &[f64]) -> String {
    let parts: Vec<String> = xs.iter().map(|x| json_num(*x)).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_tokens_skip_strings() {
        let text = r#"{"a-1": [1, -2.5e-3], "b\"3": "x4", "c": 1E+5}"#;
        assert_eq!(
            number_tokens(text).collect::<Vec<_>>(),
            vec!["1", "-2.5e-3", "1E+5"]
        );
    }

    #[test]
    fn numbers_are_exact() {
        // serde_json's default parser reads this as 2.724570035934448.
        let text = "[2.7245700359344482]";
        let mut v: Json = serde_json::from_str(text).unwrap();
        exact_numbers(&mut v, &mut number_tokens(text)).unwrap();
        assert_eq!(v, Json::Arr(vec![Json::Num(2.7245700359344482)]));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("actor_atm", "actor_atn"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("prelu", "prelu"), 0);
    }
}
