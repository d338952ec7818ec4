//! `.pth` / `.pt` files written by `torch.save` (PyTorch >= 1.6).
//!
//! Such a file is a zip archive: `<archive>/data.pkl` is the pickled object, whose tensors
//! point (by persistent id) at raw little-endian storages `<archive>/data/<key>`. The object
//! is a `state_dict` (an `OrderedDict` of tensors) or a checkpoint dict holding one under
//! `state_dict`, `model_state_dict` or `model`. Layers come out in the state dict's order.

use super::pickle::{self, Dict, StorageRef, StorageType, TensorRef, Value};
use super::state_dict::{self, bare_name, bf16_to_f64, f16_to_f64, Entry, StateDict, Values};
use super::{read_file, LoadOptions, Problem};
use crate::model::Layer;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;
use std::rc::Rc;

/// Keys under which checkpoint dicts commonly keep the model's state dict, in order of trust.
const STATE_DICT_KEYS: [&str; 3] = ["state_dict", "model_state_dict", "model"];

/// A `data.pkl` larger than this is refused rather than decompressed into memory.
const MAX_PICKLE_BYTES: u64 = 1 << 30;

/// A RepAct tensor holds a handful of values; far larger views (a stride-0 `expand` can
/// declare any size) are refused instead of being gathered.
const MAX_TENSOR_ELEMENTS: u64 = 1 << 26;

pub(crate) fn load(path: &Path, opts: &LoadOptions) -> Result<Vec<Layer>, Problem> {
    let bytes = read_file(path)?;
    let sd = read(&bytes)?;
    state_dict::layers(&sd, opts, &bare_name(path))
}

type Zip<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

/// Reads the RepAct-relevant tensors of a `torch.save` archive.
fn read(bytes: &[u8]) -> Result<StateDict, Problem> {
    if !bytes.starts_with(b"PK") {
        return Err(Problem::new(if bytes.first() == Some(&0x80) {
            "this is the legacy torch.save format (PyTorch < 1.6), which is not supported: \
             re-save it with a newer PyTorch, or save it as .safetensors"
        } else {
            "not a torch.save archive (no zip signature)"
        }));
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        Problem::new(format!(
            "not a valid torch.save zip archive (truncated or corrupt?): {e}"
        ))
    })?;

    let pickles: Vec<String> = zip
        .file_names()
        .filter(|n| {
            // `<archive>/data.pkl` at the top of the zip; deeper ones are not torch's.
            n.strip_suffix("data.pkl")
                .is_some_and(|d| d.is_empty() || (d.matches('/').count() == 1 && d.ends_with('/')))
        })
        .map(str::to_string)
        .collect();
    let pkl = match pickles.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(Problem::new(
                "the zip archive has no `<archive>/data.pkl`: not written by torch.save",
            ))
        }
        many => {
            return Err(Problem::new(format!(
                "the zip archive has several pickles ({}); expected one torch.save archive",
                many.join(", ")
            )))
        }
    };
    let root = pkl.strip_suffix("data.pkl").unwrap_or_default().to_string();

    if let Some(order) = read_entry(&mut zip, &format!("{root}byteorder"), Some(64))? {
        if order.trim_ascii() != b"little" {
            return Err(Problem::new(format!(
                "the archive's byte order is `{}`; only little-endian archives are supported",
                String::from_utf8_lossy(&order).trim()
            )));
        }
    }

    let data = read_entry(&mut zip, &pkl, Some(MAX_PICKLE_BYTES))?
        .ok_or_else(|| Problem::new(format!("cannot open `{pkl}`")))?;
    let top = pickle::unpickle(&data).map_err(|e| Problem::new(format!("`{pkl}`: {e}")))?;
    let dict = find_state_dict(&top)?;

    let mut storages = Storages {
        zip,
        root,
        cache: HashMap::new(),
    };
    let mut sd = StateDict::default();
    let d = dict.borrow();
    for (k, v) in &d.items {
        let Value::Str(name) = k else {
            continue;
        };
        if !sd.note_key(name) {
            continue;
        }
        let (shape, values) = match v {
            Value::Tensor(t) => {
                let shape = t.shape.iter().map(|&d| d as usize).collect();
                let values = storages
                    .values(name, t)
                    .map_err(|p| state_dict::locate(p, name))?;
                (shape, values)
            }
            other => (Vec::new(), Values::Other(other.describe())),
        };
        sd.entries.push(Entry {
            name: name.to_string(),
            shape,
            values,
        });
    }
    Ok(sd)
}

/// The dict of tensors inside `top`: `top` itself, or a checkpoint's state dict.
fn find_state_dict(top: &Value) -> Result<Rc<std::cell::RefCell<Dict>>, Problem> {
    let d = match top {
        Value::Dict(d) => d,
        Value::Object(name) => {
            return Err(Problem::new(format!(
                "the file holds a pickled `{name}` object (a whole-model `torch.save(model)`?); \
                 save `model.state_dict()` instead"
            )))
        }
        other => {
            return Err(Problem::new(format!(
                "the file holds {}, not a state dict",
                other.describe()
            )))
        }
    };
    let has_tensors = |d: &Dict| d.items.iter().any(|(_, v)| matches!(v, Value::Tensor(_)));
    let dict = d.borrow();
    for key in STATE_DICT_KEYS {
        if let Some(Value::Dict(inner)) = dict.get_str(key) {
            if has_tensors(&inner.borrow()) {
                return Ok(inner.clone());
            }
        }
    }
    if has_tensors(&dict) {
        return Ok(d.clone());
    }
    let keys: Vec<String> = dict
        .items
        .iter()
        .take(8)
        .map(|(k, _)| match k {
            Value::Str(s) => format!("`{s}`"),
            other => other.describe(),
        })
        .collect();
    Err(Problem::new(format!(
        "no state dict found: the top-level dict holds no tensors and none of `state_dict`, \
         `model_state_dict`, `model` is a dict of tensors (its keys: {})",
        if keys.is_empty() {
            "none".to_string()
        } else {
            keys.join(", ")
        }
    )))
}

/// Reads a whole zip entry, `None` if it does not exist; `limit` caps its size.
fn read_entry(
    zip: &mut Zip<'_>,
    name: &str,
    limit: Option<u64>,
) -> Result<Option<Vec<u8>>, Problem> {
    let mut f = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => {
            return Err(Problem::new(format!(
                "cannot open `{name}` in the archive: {e}"
            )))
        }
    };
    let limit = limit.unwrap_or(u64::MAX);
    if f.size() > limit {
        return Err(Problem::new(format!(
            "`{name}` is {} bytes, more than the {limit} expected",
            f.size()
        )));
    }
    let mut out = Vec::new();
    (&mut f)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| Problem::new(format!("cannot read `{name}` in the archive: {e}")))?;
    if out.len() as u64 > limit {
        return Err(Problem::new(format!(
            "`{name}` is larger than the {limit} bytes expected"
        )));
    }
    Ok(Some(out))
}

/// The storages of the archive, read on first use.
struct Storages<'a> {
    zip: Zip<'a>,
    root: String,
    cache: HashMap<String, Rc<Vec<u8>>>,
}

impl Storages<'_> {
    fn bytes(&mut self, s: &StorageRef) -> Result<Rc<Vec<u8>>, Problem> {
        if let Some(b) = self.cache.get(&s.key) {
            return Ok(b.clone());
        }
        let name = format!("{}data/{}", self.root, s.key);
        let want = s
            .numel
            .checked_mul(s.dtype.size() as u64)
            .ok_or_else(|| Problem::new(format!("storage `{name}` is impossibly large")))?;
        let data = read_entry(&mut self.zip, &name, Some(want))?.ok_or_else(|| {
            Problem::new(format!(
                "the pickle refers to storage `{name}`, which the archive lacks"
            ))
        })?;
        if data.len() as u64 != want {
            return Err(Problem::new(format!(
                "storage `{name}` holds {} bytes, but {} {} elements need {want}",
                data.len(),
                s.numel,
                s.dtype.name()
            )));
        }
        let data = Rc::new(data);
        self.cache.insert(s.key.clone(), data.clone());
        Ok(data)
    }

    /// The tensor's elements in row-major order, following its offset and strides.
    fn values(&mut self, name: &str, t: &TensorRef) -> Result<Values, Problem> {
        let dtype = t.storage.dtype;
        if !matches!(
            dtype,
            StorageType::F64 | StorageType::F32 | StorageType::F16 | StorageType::BF16
        ) {
            return Ok(Values::Other(format!("a tensor of dtype {}", dtype.name())));
        }
        let bad = |reason: String| Problem::new(format!("tensor `{name}`: {reason}"));
        let count = t
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
            .ok_or_else(|| bad(format!("shape {:?} is implausibly large", t.shape)))?;
        if count == 0 {
            return Ok(Values::Float(Vec::new()));
        }
        // The last element the view reaches must lie inside the storage.
        let last = t
            .shape
            .iter()
            .zip(&t.stride)
            .try_fold(t.offset, |acc, (&d, &s)| {
                acc.checked_add((d - 1).checked_mul(s)?)
            })
            .ok_or_else(|| bad("offset and strides overflow".to_string()))?;
        if last >= t.storage.numel {
            return Err(bad(format!(
                "shape {:?}, stride {:?} and offset {} reach element {last} of a storage of {}",
                t.shape, t.stride, t.offset, t.storage.numel
            )));
        }
        let data = self.bytes(&t.storage).map_err(|p| Problem {
            reason: format!("tensor `{name}`: {}", p.reason),
            ..p
        })?;
        let size = dtype.size();
        let at = |i: u64| -> Option<f64> {
            let p = usize::try_from(i).ok()?.checked_mul(size)?;
            let b = data.get(p..p.checked_add(size)?)?;
            Some(match dtype {
                StorageType::F64 => {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                }
                StorageType::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                StorageType::F16 => f16_to_f64(u16::from_le_bytes([b[0], b[1]])),
                _ => bf16_to_f64(u16::from_le_bytes([b[0], b[1]])),
            })
        };
        let mut out = Vec::with_capacity(count as usize);
        let mut index = vec![0u64; t.shape.len()];
        let mut pos = t.offset;
        for _ in 0..count {
            // `pos` is offset + sum(index * stride) <= `last`, checked above.
            let x = at(pos).ok_or_else(|| bad(format!("element {pos} is outside its storage")))?;
            out.push(x);
            // Odometer over the multi-index, last dimension fastest. Wrapping arithmetic: a
            // size-1 dimension may carry any stride, and the sum is exact again once the
            // carry has been taken back.
            for dim in (0..index.len()).rev() {
                index[dim] += 1;
                pos = pos.wrapping_add(t.stride[dim]);
                if index[dim] < t.shape[dim] {
                    break;
                }
                pos = pos.wrapping_sub(t.stride[dim].wrapping_mul(t.shape[dim]));
                index[dim] = 0;
            }
        }
        Ok(Values::Float(out))
    }
}
