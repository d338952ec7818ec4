//! `.safetensors` state dicts.
//!
//! The file is an 8-byte little-endian header length, a JSON header mapping tensor names to
//! `{"dtype", "shape", "data_offsets"}` (plus an optional `__metadata__` map of strings), and
//! the data. The header is parsed here, strictly — duplicate keys and unknown fields in a
//! tensor entry are refused, the entries must tile the data section exactly as the format
//! requires — and only the tensors a RepAct layer needs are read, each from where it lies, so
//! memory does not grow with the file.
//!
//! The format keeps no tensor order (its header is a JSON object, and writers sort tensors by
//! dtype and name), so layers come out in natural order of their keys: `block2` before
//! `block10`.

use super::state_dict::{self, bare_name, bf16_to_f64, f16_to_f64, Entry, StateDict, Values};
use super::{open_file, LoadOptions, Problem};
use crate::model::Layer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The largest header read (the format's own reader allows 100 MB; a state dict of 10 000
/// tensors needs about 1 MB).
pub(crate) const MAX_HEADER_BYTES: u64 = 16 << 20;

pub(crate) fn load(path: &Path, opts: &LoadOptions) -> Result<Vec<Layer>, Problem> {
    let mut file = open_file(path)?;
    let sd = read(&mut file)?;
    state_dict::layers(&sd, opts, &bare_name(path))
}

fn invalid(reason: impl fmt::Display) -> Problem {
    Problem::new(format!(
        "not a valid safetensors file (truncated or another format?): {reason}"
    ))
}

/// One tensor entry of the header, exactly as the format defines it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// The header: tensors in file order, refusing a key given twice.
struct Header(Vec<(String, RawEntry)>);

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of tensor names to entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("the header names `{key}` twice")));
            }
            if key == "__metadata__" {
                map.next_value::<Metadata>()?;
            } else {
                let entry = map
                    .next_value::<RawEntry>()
                    .map_err(|e| de::Error::custom(format!("tensor `{key}`: {e}")))?;
                out.push((key, entry));
            }
        }
        Ok(Header(out))
    }
}

/// `__metadata__`: free-form strings, checked only for shape and duplicate keys.
struct Metadata;

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MetadataVisitor)
    }
}

struct MetadataVisitor;

impl<'de> Visitor<'de> for MetadataVisitor {
    type Value = Metadata;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`__metadata__`: a map of strings to strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "`__metadata__` names `{key}` twice"
                )));
            }
            map.next_value::<String>()?;
        }
        Ok(Metadata)
    }
}

/// Bytes per element of a safetensors dtype name; `None` for names the format does not have
/// (or sub-byte types, which a RepAct layer never uses).
fn dtype_size(name: &str) -> Option<usize> {
    Some(match name {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 1,
        "U16" | "I16" | "F16" | "BF16" => 2,
        "U32" | "I32" | "F32" => 4,
        "U64" | "I64" | "F64" | "C64" => 8,
        _ => return None,
    })
}

/// Reads the RepAct-relevant tensors of a safetensors file.
fn read(file: &mut File) -> Result<StateDict, Problem> {
    let io = |e: std::io::Error| Problem::new(format!("cannot read the file: {e}"));
    let file_len = file.metadata().map_err(io)?.len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| invalid("the file is shorter than the 8-byte header length"))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER_BYTES {
        return Err(invalid(format!(
            "the header declares {n} bytes, more than the {MAX_HEADER_BYTES} read"
        )));
    }
    if n > file_len - 8 {
        return Err(invalid(format!(
            "the header declares {n} bytes but the file has only {} after the length",
            file_len - 8
        )));
    }
    let mut text = vec![0u8; n as usize];
    file.read_exact(&mut text).map_err(io)?;
    if text.first() != Some(&b'{') {
        return Err(invalid("the header is not a JSON object"));
    }
    let Header(entries) = serde_json::from_slice(&text).map_err(invalid)?;
    let data_start = 8 + n;
    let data_len = file_len - data_start;

    // The entries must tile the data section, as the format requires.
    let mut sizes = Vec::with_capacity(entries.len());
    for (name, e) in &entries {
        let size = dtype_size(&e.dtype)
            .ok_or_else(|| invalid(format!("tensor `{name}`: unknown dtype `{}`", e.dtype)))?;
        let (begin, end) = e.data_offsets;
        let bytes = e
            .shape
            .iter()
            .try_fold(size as u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| invalid(format!("tensor `{name}`: shape {:?} overflows", e.shape)))?;
        if end < begin || end - begin != bytes {
            return Err(invalid(format!(
                "tensor `{name}`: data_offsets [{begin}, {end}] hold {} bytes, but {} of shape \
                 {:?} need {bytes}",
                end.saturating_sub(begin),
                e.dtype,
                e.shape
            )));
        }
        sizes.push((begin, end, name));
    }
    sizes.sort_unstable();
    let mut at = 0;
    for &(begin, end, name) in &sizes {
        if begin != at {
            return Err(invalid(format!(
                "tensor `{name}` starts at byte {begin} of the data, expected {at} (tensors \
                 must follow each other without gaps or overlap)"
            )));
        }
        at = end;
    }
    if at != data_len {
        return Err(invalid(format!(
            "the tensors hold {at} bytes but the data section has {data_len}"
        )));
    }

    let mut names: Vec<usize> = (0..entries.len()).collect();
    names.sort_by(|&a, &b| state_dict::natural_cmp(&entries[a].0, &entries[b].0));
    let mut sd = StateDict::default();
    for i in names {
        let (name, e) = &entries[i];
        if !sd.note_key(name) {
            continue;
        }
        let shape: Vec<usize> = e.shape.iter().map(|&d| d as usize).collect();
        let values = if matches!(e.dtype.as_str(), "F64" | "F32" | "F16" | "BF16") {
            let count = e.shape.iter().product::<u64>();
            state_dict::check_tensor_size(name, count)?;
            let (begin, end) = e.data_offsets;
            let mut data = vec![0u8; (end - begin) as usize];
            file.seek(SeekFrom::Start(data_start + begin))
                .and_then(|_| file.read_exact(&mut data))
                .map_err(io)?;
            Values::Float(to_f64(&e.dtype, &data))
        } else {
            Values::Other(format!("a tensor of dtype {}", e.dtype))
        };
        sd.add(Entry {
            name: name.to_string(),
            shape,
            values,
        })?;
    }
    Ok(sd)
}

/// Little-endian floats of `dtype` (F64, F32, F16 or BF16) as f64, exactly.
fn to_f64(dtype: &str, data: &[u8]) -> Vec<f64> {
    match dtype {
        "F64" => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        "F32" => data
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        "F16" => data
            .chunks_exact(2)
            .map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        _ => data
            .chunks_exact(2)
            .map(|c| bf16_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
    }
}
