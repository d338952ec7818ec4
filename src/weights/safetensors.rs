//! `.safetensors` state dicts.
//!
//! The format keeps no tensor order (its header is a JSON object, and writers sort tensors by
//! dtype and name), so layers come out in natural order of their keys: `block2` before
//! `block10`.

use super::state_dict::{self, bare_name, bf16_to_f64, f16_to_f64, Entry, StateDict, Values};
use super::{read_file, LoadOptions, Problem};
use crate::model::Layer;
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

pub(crate) fn load(path: &Path, opts: &LoadOptions) -> Result<Vec<Layer>, Problem> {
    let bytes = read_file(path)?;
    let sd = read(&bytes)?;
    state_dict::layers(&sd, opts, &bare_name(path))
}

/// Reads the RepAct-relevant tensors of a safetensors file.
fn read(bytes: &[u8]) -> Result<StateDict, Problem> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        Problem::new(format!(
            "not a valid safetensors file (truncated or another format?): {e}"
        ))
    })?;
    let mut names: Vec<&str> = st.names().into_iter().map(String::as_str).collect();
    names.sort_by(|a, b| state_dict::natural_cmp(a, b));
    let mut sd = StateDict::default();
    for name in names {
        if !sd.note_key(name) {
            continue;
        }
        let view = st
            .tensor(name)
            .map_err(|e| Problem::new(format!("tensor `{name}`: {e}")))?;
        let values = match to_f64(view.dtype(), view.data()) {
            Some(v) => Values::Float(v),
            None => Values::Other(format!("a tensor of dtype {:?}", view.dtype())),
        };
        sd.entries.push(Entry {
            name: name.to_string(),
            shape: view.shape().to_vec(),
            values,
        });
    }
    Ok(sd)
}

/// Little-endian floats of `dtype` as f64 (exact for every supported dtype); `None` for
/// integer, boolean and 8-bit float tensors.
fn to_f64(dtype: Dtype, data: &[u8]) -> Option<Vec<f64>> {
    Some(match dtype {
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| bf16_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        _ => return None,
    })
}
