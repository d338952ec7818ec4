//! Float tensors in .npy files: reading any float dtype, writing float32 atomically.

use crate::{Error, Result};
use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::io::{BufReader, BufWriter};
use std::path::Path;

/// Reads a float32 or float64 .npy file of any shape as f64.
pub fn read_npy(path: &Path) -> Result<ArrayD<f64>> {
    let open = || {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|e| Error::io(path, e))
    };
    if let Ok(a) = ArrayD::<f32>::read_npy(open()?) {
        return Ok(a.mapv(f64::from));
    }
    ArrayD::<f64>::read_npy(open()?).map_err(|e| Error::Tensor {
        file: path.to_path_buf(),
        reason: format!("not a float32 or float64 .npy array ({e})"),
    })
}

/// Writes `data` as a float32 .npy file. The file appears complete or not at all: it is
/// written next to `path` under a temporary name and renamed into place.
pub fn write_npy_f32(path: &Path, data: &ArrayD<f32>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        data.write_npy(&mut w).map_err(|e| Error::Tensor {
            file: path.to_path_buf(),
            reason: format!("cannot write .npy: {e}"),
        })?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
