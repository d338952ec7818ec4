//! `.pth` / `.pt` files written by `torch.save` (PyTorch >= 1.6).
//!
//! Such a file is a zip archive: `<archive>/data.pkl` is the pickled object, whose tensors
//! point (by persistent id) at raw little-endian storages `<archive>/data/<key>`. The object
//! is a `state_dict` (an `OrderedDict` of tensors) or a checkpoint dict holding one under
//! `state_dict`, `model_state_dict` or `model`. Layers come out in the state dict's order.

use super::pickle::{self, Dict, StorageRef, StorageType, TensorRef, Value};
use super::state_dict::{self, bare_name, bf16_to_f64, f16_to_f64, Entry, StateDict, Values};
use super::{open_file, LoadOptions, Problem};
use crate::model::Layer;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;
use std::rc::Rc;

/// Keys under which checkpoint dicts commonly keep the model's state dict, in order of trust.
const STATE_DICT_KEYS: [&str; 3] = ["state_dict", "model_state_dict", "model"];

/// A `data.pkl` larger than this is refused rather than decompressed into memory (it holds
/// only names and tensor metadata: 10 000 tensors take about 1 MB).
pub(crate) const MAX_PICKLE_BYTES: u64 = 64 << 20;

/// The most storage bytes decompressed for one file's RepAct tensors (a view far into a
/// storage makes us decompress everything before it, and a deflated storage can expand
/// 1000-fold).
pub(crate) const MAX_STORAGE_BYTES_READ: u64 = 1 << 30;

/// The most zip entries read (a torch.save archive has one per storage, plus four; the zip
/// reader keeps about 500 bytes per entry in memory).
pub(crate) const MAX_ZIP_ENTRIES: u64 = 1 << 18;

/// The entry count the zip's end-of-central-directory record declares (zip64 included);
/// `None` when there is no such record (the zip reader then says what is wrong).
fn zip_entry_count(file: &mut File) -> std::io::Result<Option<u64>> {
    use std::io::SeekFrom;
    let len = file.seek(SeekFrom::End(0))?;
    let tail_len = len.min(22 + 65_535);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail)?;
    let Some(eocd) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
    else {
        return Ok(None);
    };
    let u16_at = |b: &[u8], i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let count = u16_at(&tail, eocd + 10);
    if count != 0xffff {
        return Ok(Some(count));
    }
    // Zip64: a locator just before the record points at the zip64 record.
    let Some(loc) = eocd
        .checked_sub(20)
        .filter(|&l| tail[l..].starts_with(b"PK\x06\x07"))
    else {
        return Ok(Some(count));
    };
    let at = u64::from_le_bytes(tail[loc + 8..loc + 16].try_into().unwrap_or_default());
    let mut rec = [0u8; 40];
    if file.seek(SeekFrom::Start(at)).is_err() || file.read_exact(&mut rec).is_err() {
        return Ok(None);
    }
    if !rec.starts_with(b"PK\x06\x06") {
        return Ok(None);
    }
    Ok(Some(u64::from_le_bytes(
        rec[32..40].try_into().unwrap_or_default(),
    )))
}

pub(crate) fn load(path: &Path, opts: &LoadOptions) -> Result<Vec<Layer>, Problem> {
    let mut file = open_file(path)?;
    let io = |e: std::io::Error| Problem::new(format!("cannot read the file: {e}"));
    if let Some(n) = zip_entry_count(&mut file).map_err(io)? {
        if n > MAX_ZIP_ENTRIES {
            return Err(Problem::new(format!(
                "the archive declares {n} entries, more than the {MAX_ZIP_ENTRIES} read (a \
                 torch.save archive has one per storage)"
            )));
        }
    }
    file.rewind().map_err(io)?;
    let mut magic = [0u8; 2];
    let n = file
        .read(&mut magic)
        .map_err(|e| Problem::new(format!("cannot read the file: {e}")))?;
    file.rewind()
        .map_err(|e| Problem::new(format!("cannot read the file: {e}")))?;
    let sd = read(BufReader::new(file), &magic[..n])?;
    state_dict::layers(&sd, opts, &bare_name(path))
}

type Zip = zip::ZipArchive<BufReader<File>>;

/// Reads the RepAct-relevant tensors of a `torch.save` archive (`magic`: its first bytes).
fn read(file: BufReader<File>, magic: &[u8]) -> Result<StateDict, Problem> {
    let bytes = magic;
    if !bytes.starts_with(b"PK") {
        return Err(Problem::new(if bytes.first() == Some(&0x80) {
            "this is the legacy torch.save format (PyTorch < 1.6), which is not supported: \
             re-save it with a newer PyTorch, or save it as .safetensors"
        } else {
            "not a torch.save archive (no zip signature)"
        }));
    }
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
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

    let mut storages = Storages { zip, root, read: 0 };
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
        sd.add(Entry {
            name: name.to_string(),
            shape,
            values,
        })?;
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
fn read_entry(zip: &mut Zip, name: &str, limit: Option<u64>) -> Result<Option<Vec<u8>>, Problem> {
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

/// The storages of the archive, read tensor by tensor: only the elements a tensor's view
/// reaches are kept, and the rest of the entry is skipped (or never decompressed).
struct Storages {
    zip: Zip,
    root: String,
    /// Storage bytes decompressed so far, for [`MAX_STORAGE_BYTES_READ`].
    read: u64,
}

impl Storages {
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
            .ok_or_else(|| bad(format!("shape {:?} is implausibly large", t.shape)))?;
        state_dict::check_tensor_size(name, count)?;
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
        // Storage position of every element, in row-major order of the view.
        let mut wanted: Vec<(u64, usize)> = Vec::with_capacity(count as usize);
        let mut index = vec![0u64; t.shape.len()];
        let mut pos = t.offset;
        for i in 0..count as usize {
            wanted.push((pos, i));
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
        wanted.sort_unstable();
        let out = self.gather(&t.storage, &wanted).map_err(|p| Problem {
            reason: format!("tensor `{name}`: {}", p.reason),
            ..p
        })?;
        Ok(Values::Float(out))
    }

    /// Reads the elements at the storage positions of `wanted` (sorted; `(position, index in
    /// the result)`), decompressing the entry only up to the last of them.
    fn gather(&mut self, s: &StorageRef, wanted: &[(u64, usize)]) -> Result<Vec<f64>, Problem> {
        let name = format!("{}data/{}", self.root, s.key);
        let size = s.dtype.size() as u64;
        let want = s
            .numel
            .checked_mul(size)
            .ok_or_else(|| Problem::new(format!("storage `{name}` is impossibly large")))?;
        let end = wanted.last().map_or(0, |&(p, _)| (p + 1) * size);
        self.read += end;
        if self.read > MAX_STORAGE_BYTES_READ {
            return Err(Problem::new(format!(
                "reading it would decompress more than {MAX_STORAGE_BYTES_READ} bytes of \
                 storage for this file's RepAct tensors"
            )));
        }
        let entry = match self.zip.by_name(&name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(Problem::new(format!(
                    "the pickle refers to storage `{name}`, which the archive lacks"
                )))
            }
            Err(e) => {
                return Err(Problem::new(format!(
                    "cannot open `{name}` in the archive: {e}"
                )))
            }
        };
        if entry.size() != want {
            return Err(Problem::new(format!(
                "storage `{name}` holds {} bytes, but {} {} elements need {want}",
                entry.size(),
                s.numel,
                s.dtype.name()
            )));
        }
        let mut input = entry.take(end);
        let mut out = vec![0.0; wanted.len()];
        let mut at = 0u64;
        let mut prev: Option<(u64, f64)> = None;
        let mut b = [0u8; 8];
        let b = &mut b[..size as usize];
        for &(pos, i) in wanted {
            let x = match prev {
                Some((p, x)) if p == pos => x,
                _ => {
                    let skip = pos * size - at;
                    let skipped = {
                        let mut gap = (&mut input).take(skip);
                        std::io::copy(&mut gap, &mut std::io::sink())
                    };
                    skipped.and_then(|_| input.read_exact(b)).map_err(|e| {
                        Problem::new(format!(
                            "storage `{name}` cannot be read up to element {pos} (truncated or \
                             corrupt archive?): {e}"
                        ))
                    })?;
                    at = (pos + 1) * size;
                    decode(s.dtype, b)
                }
            };
            out[i] = x;
            prev = Some((pos, x));
        }
        Ok(out)
    }
}

/// One little-endian float of `dtype` (a float storage type) as f64, exactly.
fn decode(dtype: StorageType, b: &[u8]) -> f64 {
    match dtype {
        StorageType::F64 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        StorageType::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        StorageType::F16 => f16_to_f64(u16::from_le_bytes([b[0], b[1]])),
        _ => bf16_to_f64(u16::from_le_bytes([b[0], b[1]])),
    }
}
