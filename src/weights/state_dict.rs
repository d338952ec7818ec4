//! Turning the named tensors of a PyTorch `state_dict` into RepAct layers; shared by the
//! `.safetensors` and `.pth` readers.
//!
//! A RepAct module stores `ActorAtn` and `actor_PReLU.weight`, and `RepAct_BN` adds its
//! `bn.*` buffers. The module's prefix (`block1.act`) becomes the layer name. The exact
//! float16/bfloat16 conversions both readers need live here too.

use super::{LoadOptions, Problem, Said};
use crate::model::{BatchNorm, Layer, LayerKind, RepActParams, Variant};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;

/// PyTorch's BatchNorm default; `eps` is a module attribute, not stored in the state dict.
const BN_EPS: f64 = 1e-5;

const ACTOR_ATN: &str = "ActorAtn";
const PRELU: &str = "actor_PReLU.weight";
const BN_FIELDS: [&str; 4] = ["weight", "bias", "running_mean", "running_var"];

/// The values of one tensor, as far as a RepAct layer cares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    /// A floating-point tensor, flattened in row-major order.
    Float(Vec<f64>),
    /// Anything else, described for the error message (`a tensor of dtype I64`, `the int 3`).
    Other(String),
}

/// One named tensor of a state dict.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key as stored in the file (a `module.` prefix is still there).
    pub(crate) name: String,
    /// The tensor's shape, for error messages.
    pub(crate) shape: Vec<usize>,
    pub(crate) values: Values,
}

/// The tensors of a state dict that [`is_wanted`] picked, in the order layers should come
/// out, plus a short account of the rest for the "nothing found" message.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StateDict {
    pub(crate) entries: Vec<Entry>,
    /// How many tensors the file holds in all.
    pub(crate) total: usize,
    /// The first few keys of the file, to show what it holds when no layer is found.
    pub(crate) sample: Vec<String>,
    /// Float values in `entries`, for [`MAX_TOTAL_ELEMENTS`].
    values: u64,
}

/// The most elements one RepAct tensor may hold (a per-channel PReLU of a million channels);
/// larger ones are refused before they are read.
pub(crate) const MAX_TENSOR_ELEMENTS: u64 = 1 << 20;
/// The most elements all RepAct tensors of one file may hold together.
pub(crate) const MAX_TOTAL_ELEMENTS: u64 = 1 << 24;

/// Refuses a RepAct tensor of implausible size before it is read.
pub(crate) fn check_tensor_size(name: &str, count: u64) -> Result<(), Problem> {
    if count > MAX_TENSOR_ELEMENTS {
        return Err(locate(
            Problem::new(format!(
                "tensor `{name}` has {count} elements, implausibly large: more than the {MAX_TENSOR_ELEMENTS} a \
                 RepAct tensor may hold"
            )),
            name,
        ));
    }
    Ok(())
}

impl StateDict {
    /// Adds a tensor, refusing more than [`MAX_TOTAL_ELEMENTS`] float values in all.
    pub(crate) fn add(&mut self, e: Entry) -> Result<(), Problem> {
        if let Values::Float(v) = &e.values {
            self.values += v.len() as u64;
            if self.values > MAX_TOTAL_ELEMENTS {
                return Err(Problem::new(format!(
                    "the RepAct tensors of this file hold more than {MAX_TOTAL_ELEMENTS} values \
                     in all"
                )));
            }
        }
        self.entries.push(e);
        Ok(())
    }

    /// Notes one key of the file for the totals; returns whether its values are needed.
    pub(crate) fn note_key(&mut self, name: &str) -> bool {
        self.total += 1;
        if self.sample.len() < 5 {
            self.sample.push(name.to_string());
        }
        is_wanted(name)
    }
}

/// `name` without the `module.` prefixes `DataParallel` adds.
pub(crate) fn strip_module(mut name: &str) -> &str {
    while let Some(rest) = name.strip_prefix("module.") {
        name = rest;
    }
    name
}

/// Adds the layer and field that state-dict key `key` belongs to, if it is a RepAct key.
pub(crate) fn locate(p: Problem, key: &str) -> Problem {
    match classify(strip_module(key)) {
        Some((prefix, part)) => {
            let field = match part {
                Part::ActorAtn => ACTOR_ATN.to_string(),
                Part::Prelu => PRELU.to_string(),
                Part::Bn(k) => format!("bn.{}", BN_FIELDS[k]),
            };
            let p = p.field(field);
            if prefix.is_empty() {
                p
            } else {
                p.layer(prefix)
            }
        }
        None => p,
    }
}

/// What part of a RepAct layer a key is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    ActorAtn,
    Prelu,
    Bn(usize),
}

/// Splits `key` (after [`strip_module`]) into its module prefix and the RepAct part it is.
fn classify(key: &str) -> Option<(&str, Part)> {
    let suffixes = [(ACTOR_ATN, Part::ActorAtn), (PRELU, Part::Prelu)]
        .into_iter()
        .map(|(s, p)| (s.to_string(), p))
        .chain(
            BN_FIELDS
                .iter()
                .enumerate()
                .map(|(i, f)| (format!("bn.{f}"), Part::Bn(i))),
        );
    for (suffix, part) in suffixes {
        if key == suffix {
            return Some(("", part));
        }
        if let Some(prefix) = key
            .strip_suffix(suffix.as_str())
            .and_then(|p| p.strip_suffix('.'))
        {
            return Some((prefix, part));
        }
    }
    None
}

/// Whether a key can belong to a RepAct layer, so that readers convert only those tensors.
pub(crate) fn is_wanted(key: &str) -> bool {
    classify(strip_module(key)).is_some()
}

/// The keys of one candidate layer, as indices into the entries.
#[derive(Debug, Default)]
struct Slots {
    actor_atn: Option<usize>,
    prelu: Option<usize>,
    bn: [Option<usize>; 4],
}

/// Finds the RepAct layers of a state dict, in order of their first key in `sd.entries`.
///
/// `bare_name` names a layer whose keys have no prefix (a lone RepAct module saved by itself).
pub(crate) fn layers(
    sd: &StateDict,
    opts: &LoadOptions,
    bare_name: &str,
) -> Result<Vec<Layer>, Problem> {
    let mut order: Vec<&str> = Vec::new();
    let mut slots: HashMap<&str, Slots> = HashMap::new();
    let mut stripped_from: HashMap<&str, &str> = HashMap::new();
    for (i, e) in sd.entries.iter().enumerate() {
        let key = strip_module(&e.name);
        if let Some(other) = stripped_from.insert(key, &e.name) {
            return Err(Problem::new(format!(
                "keys `{other}` and `{}` both name `{key}` once `module.` is stripped",
                e.name
            )));
        }
        let Some((prefix, part)) = classify(key) else {
            continue;
        };
        let s = slots.entry(prefix).or_insert_with(|| {
            order.push(prefix);
            Slots::default()
        });
        match part {
            Part::ActorAtn => s.actor_atn = Some(i),
            Part::Prelu => s.prelu = Some(i),
            Part::Bn(k) => s.bn[k] = Some(i),
        }
    }

    let mut out: Vec<Layer> = Vec::new();
    for prefix in order {
        let Some(s) = slots.get(prefix) else {
            continue;
        };
        // A `bn.*` group alone is an ordinary BatchNorm, not part of a RepAct layer.
        if s.actor_atn.is_none() && s.prelu.is_none() {
            continue;
        }
        let name = if prefix.is_empty() { bare_name } else { prefix };
        let layer = one_layer(sd, s, prefix, name, opts).map_err(|p| p.layer(name))?;
        if out.iter().any(|l| l.name == name) {
            return Err(Problem::new("two layers have this name").layer(name));
        }
        out.push(Layer {
            name: name.to_string(),
            kind: LayerKind::RepAct(layer),
        });
    }

    if out.is_empty() {
        let sample = if sd.sample.is_empty() {
            String::new()
        } else {
            let keys: Vec<String> = sd.sample.iter().map(|k| format!("`{k}`")).collect();
            format!(
                " (it starts with {}{})",
                keys.join(", "),
                if sd.total > sd.sample.len() {
                    ", …"
                } else {
                    ""
                }
            )
        };
        return Err(Problem::new(format!(
            "no RepAct layers found among {} tensors{sample}: looked for keys \
             `<prefix>.{ACTOR_ATN}` and `<prefix>.{PRELU}` (RepAct_BN layers also have \
             `<prefix>.bn.weight`, `.bias`, `.running_mean`, `.running_var`)",
            sd.total
        )));
    }
    Ok(out)
}

fn one_layer(
    sd: &StateDict,
    s: &Slots,
    prefix: &str,
    name: &str,
    opts: &LoadOptions,
) -> Result<RepActParams, Problem> {
    let full = |part: &str| {
        if prefix.is_empty() {
            part.to_string()
        } else {
            format!("{prefix}.{part}")
        }
    };
    let actor_idx = s.actor_atn.ok_or_else(|| {
        Problem::new(format!(
            "missing: the file has `{}` but no `{}`",
            full(PRELU),
            full(ACTOR_ATN)
        ))
        .field(ACTOR_ATN)
    })?;
    let prelu_idx = s.prelu.ok_or_else(|| {
        Problem::new(format!(
            "missing: the file has `{}` but no `{}`",
            full(ACTOR_ATN),
            full(PRELU)
        ))
        .field(PRELU)
    })?;

    let atn = float_values(&sd.entries[actor_idx], ACTOR_ATN)?;
    let shape = &sd.entries[actor_idx].shape;
    let actor_atn: [f64; 4] = atn
        .try_into()
        .ok()
        .filter(|_| shape.as_slice() == [4])
        .ok_or_else(|| {
            Problem::new(format!(
                "must be a vector of 4 values (one per branch, shape [4]), got {} values (shape {shape:?})",
                atn.len()
            ))
            .field(ACTOR_ATN)
        })?;
    let prelu = float_values(&sd.entries[prelu_idx], PRELU)?.to_vec();

    let present: Vec<&str> = (0..4)
        .filter(|&k| s.bn[k].is_some())
        .map(|k| BN_FIELDS[k])
        .collect();
    let bn = if present.is_empty() {
        None
    } else {
        let mut v = [0.0; 4];
        for (k, slot) in s.bn.iter().enumerate() {
            let field = format!("bn.{}", BN_FIELDS[k]);
            let idx = slot.ok_or_else(|| {
                Problem::new(format!(
                    "missing: the layer has bn.{} but no `{}`",
                    present.join(", bn."),
                    full(&field)
                ))
                .field(field.as_str())
            })?;
            let vals = float_values(&sd.entries[idx], &field)?;
            v[k] = match vals {
                [x] => *x,
                _ => {
                    return Err(Problem::new(format!(
                        "must hold 1 value (RepAct_BN uses BatchNorm2d(1)), got {} (shape {:?})",
                        vals.len(),
                        sd.entries[idx].shape
                    ))
                    .field(field))
                }
            };
        }
        Some(BatchNorm {
            weight: v[0],
            bias: v[1],
            running_mean: v[2],
            running_var: v[3],
            eps: BN_EPS,
        })
    };

    // `bn.*` keys make a RepAct_BN layer whatever the default says; a bare --variant is for
    // the layers whose keys cannot tell origin from softmax.
    let variant = match (bn.is_some(), opts.variant_of(name)) {
        (true, Said::Layer(v)) if v != Variant::Bn => {
            return Err(Problem::new(format!(
                "the layer has `bn.*` keys, so it is a RepAct_BN (bn) layer, but --variant \
                 {name}={v} says `{v}`"
            ))
            .field("bn"))
        }
        (true, _) => Variant::Bn,
        (false, Said::Layer(Variant::Bn) | Said::Default(Variant::Bn)) => {
            return Err(Problem::new(format!(
                "missing: --variant bn needs `{}` and the other bn.* keys",
                full("bn.weight")
            ))
            .field("bn.weight"))
        }
        (false, Said::Layer(v) | Said::Default(v)) => v,
        (false, Said::Nothing) => {
            return Err(Problem::new(format!(
                "origin and softmax RepAct layers have the same keys; say which with \
                 --variant origin|softmax (all such layers) or --variant {name}=origin|softmax"
            )))
        }
    };

    RepActParams::new(variant, actor_atn, opts.branch_order, prelu, bn)
        .map_err(|e| Problem::new(e.reason).field(state_dict_field(&e.field)))
}

fn float_values<'a>(e: &'a Entry, field: &str) -> Result<&'a [f64], Problem> {
    match &e.values {
        Values::Float(v) => Ok(v),
        Values::Other(what) => Err(Problem::new(format!(
            "must be a floating-point tensor, `{}` is {what}",
            e.name
        ))
        .field(field)),
    }
}

/// The model's field names (`actor_atn[2]`) as state-dict keys (`ActorAtn[2]`).
fn state_dict_field(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("actor_atn") {
        format!("{ACTOR_ATN}{rest}")
    } else if let Some(rest) = field.strip_prefix("prelu_weight") {
        format!("{PRELU}{rest}")
    } else {
        field.to_string()
    }
}

/// Orders names so that runs of digits compare as numbers: `block2` before `block10`.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let dx = trim_zeros(&x[..nx]);
                let dy = trim_zeros(&y[..ny]);
                let ord = dx.len().cmp(&dy.len()).then_with(|| dx.cmp(dy));
                if ord != Ordering::Equal {
                    return ord;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let n = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[n..]
}

/// The name of a layer stored without a prefix: the file's stem.
pub(crate) fn bare_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repact".to_string())
}

/// IEEE 754 binary16 to f64, exactly (subnormals, infinities and NaN included).
pub(crate) fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// bfloat16 is the upper half of an f32.
pub(crate) fn bf16_to_f64(bits: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(bits) << 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec![
            "block10.act",
            "block2.act",
            "block1.act",
            "a",
            "block02.act",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            vec![
                "a",
                "block1.act",
                "block02.act",
                "block2.act",
                "block10.act"
            ]
        );
    }

    #[test]
    fn classify_keys() {
        assert_eq!(classify("b.act.ActorAtn"), Some(("b.act", Part::ActorAtn)));
        assert_eq!(classify("ActorAtn"), Some(("", Part::ActorAtn)));
        assert_eq!(classify("b.bn.running_var"), Some(("b", Part::Bn(3))));
        assert_eq!(classify("b.xActorAtn"), None);
        assert_eq!(classify("b.bn.num_batches_tracked"), None);
        assert_eq!(strip_module("module.module.a"), "a");
    }

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x3555), 0.333251953125);
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
        assert_eq!(bf16_to_f64(0x3f80), 1.0);
        assert_eq!(bf16_to_f64(0xbe2f), -0.1708984375);
    }
}
