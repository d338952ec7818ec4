//! Float tensors in .npy files: a bounded header parser, reading float32/float64 in chunks,
//! and writing float32 in chunks to a staging file that is renamed into place when complete.
//!
//! The header (a Python dict literal such as `{'descr': '<f4', 'fortran_order': False,
//! 'shape': (2, 3), }`) is parsed here in one linear pass: only the three keys numpy writes,
//! a string dtype and a flat tuple of integers are accepted, so nesting or structured dtypes
//! are refused at once. Limits: the header is at most [`MAX_HEADER_BYTES`], at most
//! [`MAX_NDIM`] dimensions, and the element count the shape declares must match the bytes
//! the file holds exactly — checked before anything is allocated.

use crate::{staging, Error, Result};
use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The longest .npy header read (numpy itself writes at most a few hundred bytes).
pub const MAX_HEADER_BYTES: usize = 1 << 16;
/// The most dimensions a .npy array may have (numpy's own limit is 64).
pub const MAX_NDIM: usize = 64;
/// The most elements [`read_npy`] loads into memory at once; [`NpyReader`] streams any size.
pub const MAX_IN_MEMORY_ELEMENTS: u64 = 1 << 27;

const MAGIC: &[u8] = b"\x93NUMPY";

/// The element type of a float .npy array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatType {
    /// `f4`.
    F32,
    /// `f8`.
    F64,
}

impl FloatType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            FloatType::F32 => 4,
            FloatType::F64 => 8,
        }
    }

    /// numpy's name.
    pub fn name(self) -> &'static str {
        match self {
            FloatType::F32 => "float32",
            FloatType::F64 => "float64",
        }
    }
}

/// What a .npy header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Element type.
    pub dtype: FloatType,
    /// Whether elements are stored most significant byte first.
    pub big_endian: bool,
    /// Column-major element order (`fortran_order: True`).
    pub fortran_order: bool,
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Byte offset of the first element.
    pub data_offset: u64,
}

impl NpyHeader {
    /// Number of elements (the product of the shape; checked against the file when read).
    pub fn len(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Tensor {
        file: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Parses the header of a .npy file from its first bytes (the file's length is checked
/// separately, by [`NpyReader::open`]).
pub fn parse_header(bytes: &[u8]) -> std::result::Result<NpyHeader, String> {
    if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
        return Err("not a .npy file (no \\x93NUMPY magic)".to_string());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len, start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        2 | 3 => return Err("the .npy header is truncated".to_string()),
        _ => {
            return Err(format!(
                ".npy format version {major}.{minor} is not supported (1.0 to 3.0 are)"
            ))
        }
    };
    if len > MAX_HEADER_BYTES {
        return Err(format!(
            "the .npy header is {len} bytes, more than the {MAX_HEADER_BYTES} allowed"
        ));
    }
    let text = bytes
        .get(start..start + len)
        .ok_or_else(|| format!("the .npy header declares {len} bytes but the file is shorter"))?;
    let (dtype, big_endian, fortran_order, shape) = HeaderParser { s: text, i: 0 }.dict()?;
    Ok(NpyHeader {
        dtype,
        big_endian,
        fortran_order,
        shape,
        data_offset: (start + len) as u64,
    })
}

/// A one-pass parser of the header's dict literal; every byte is looked at once.
struct HeaderParser<'a> {
    s: &'a [u8],
    i: usize,
}

type Parsed = (FloatType, bool, bool, Vec<usize>);

impl HeaderParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8, what: &str) -> std::result::Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!(
                "malformed .npy header: expected {what} at byte {}",
                self.i
            ))
        }
    }

    fn string(&mut self) -> std::result::Result<&str, String> {
        let q = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "malformed .npy header: expected a string at byte {}",
                    self.i
                ))
            }
        };
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == q)
            .ok_or("malformed .npy header: unterminated string")?;
        self.i = start + len + 1;
        std::str::from_utf8(&self.s[start..start + len])
            .map_err(|_| "malformed .npy header: a string is not text".to_string())
    }

    fn word(&mut self) -> &[u8] {
        self.ws();
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    fn shape(&mut self) -> std::result::Result<Vec<usize>, String> {
        self.expect(b'(', "`(` (shape must be a tuple of integers)")?;
        let mut dims = Vec::new();
        loop {
            if self.peek() == Some(b')') {
                self.i += 1;
                return Ok(dims);
            }
            let w = self.word();
            let d: usize = std::str::from_utf8(w)
                .ok()
                .filter(|t| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|t| t.parse().ok())
                .ok_or(
                    "malformed .npy header: shape must be a flat tuple of non-negative integers",
                )?;
            dims.push(d);
            if dims.len() > MAX_NDIM {
                return Err(format!(
                    "the .npy array has more than {MAX_NDIM} dimensions"
                ));
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b')') => {}
                _ => {
                    return Err(
                        "malformed .npy header: expected `,` or `)` in the shape".to_string()
                    )
                }
            }
        }
    }

    fn dict(mut self) -> std::result::Result<Parsed, String> {
        self.expect(b'{', "`{`")?;
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        loop {
            if self.peek() == Some(b'}') {
                self.i += 1;
                break;
            }
            let key = self.string()?.to_string();
            self.expect(b':', "`:`")?;
            let dup = match key.as_str() {
                "descr" => {
                    if self.peek() != Some(b'\'') && self.peek() != Some(b'"') {
                        return Err("structured dtypes are not supported: expected a float32 \
                                    or float64 array ('<f4' or '<f8')"
                            .to_string());
                    }
                    descr.replace(self.string()?.to_string()).is_some()
                }
                "fortran_order" => {
                    let v = match self.word() {
                        b"True" => true,
                        b"False" => false,
                        _ => {
                            return Err(
                                "malformed .npy header: fortran_order must be True or False"
                                    .to_string(),
                            )
                        }
                    };
                    fortran.replace(v).is_some()
                }
                "shape" => {
                    let s = self.shape()?;
                    shape.replace(s).is_some()
                }
                other => {
                    return Err(format!(
                        "malformed .npy header: unknown key `{other}` (expected descr, \
                         fortran_order, shape)"
                    ))
                }
            };
            if dup {
                return Err(format!("malformed .npy header: key `{key}` appears twice"));
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err("malformed .npy header: expected `,` or `}`".to_string()),
            }
        }
        if self.s[self.i..]
            .iter()
            .any(|c| !c.is_ascii_whitespace() && *c != 0)
        {
            return Err("malformed .npy header: text after the dict".to_string());
        }
        let descr = descr.ok_or("malformed .npy header: no `descr`")?;
        let (big, dtype) = match descr.as_bytes() {
            [e @ (b'<' | b'>' | b'='), b'f', n] => {
                let t = match n {
                    b'4' => FloatType::F32,
                    b'8' => FloatType::F64,
                    _ => return Err(unsupported(&descr)),
                };
                (*e == b'>', t)
            }
            _ => return Err(unsupported(&descr)),
        };
        Ok((
            dtype,
            big,
            fortran.ok_or("malformed .npy header: no `fortran_order`")?,
            shape.ok_or("malformed .npy header: no `shape`")?,
        ))
    }
}

fn unsupported(descr: &str) -> String {
    format!(
        "dtype '{descr}' is not supported: expected a float32 or float64 array ('<f4' or '<f8')"
    )
}

/// Reads a float .npy file in chunks, as f64, in the file's element order.
pub struct NpyReader {
    path: PathBuf,
    header: NpyHeader,
    input: BufReader<File>,
    left: u64,
    buf: Vec<u8>,
}

impl NpyReader {
    /// Opens `path`, parses its header and checks that the data is exactly as long as the
    /// shape says (a truncated or over-long file is refused here, before any element is read).
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut input = BufReader::new(file);
        let mut head = Vec::new();
        (&mut input)
            .take((MAX_HEADER_BYTES + 12) as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, e))?;
        let header = parse_header(&head).map_err(|r| bad(path, r))?;
        let data = file_len.saturating_sub(header.data_offset);
        let count = header
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d as u64));
        let need = count.and_then(|n| n.checked_mul(header.dtype.size() as u64));
        let what = |n: Option<u64>| match n {
            Some(n) => format!("{n} {} values", header.dtype.name()),
            None => "more values than can exist".to_string(),
        };
        if need != Some(data) {
            let why = match need {
                Some(need) if data < need => format!(
                    "truncated: the header declares shape {:?}, {} ({need} bytes), but only \
                     {data} bytes of data follow it",
                    header.shape,
                    what(count)
                ),
                Some(need) => format!(
                    "{} bytes of data follow the header but shape {:?} holds {} ({need} bytes): \
                     the file is longer than its shape says",
                    data,
                    header.shape,
                    what(count)
                ),
                None => format!(
                    "the header declares shape {:?}, {}, but the file has {data} bytes of data",
                    header.shape,
                    what(count)
                ),
            };
            return Err(bad(path, why));
        }
        input
            .seek_relative(header.data_offset as i64 - head.len() as i64)
            .map_err(|e| Error::io(path, e))?;
        Ok(NpyReader {
            path: path.to_path_buf(),
            left: count.unwrap_or(0),
            header,
            input,
            buf: Vec::new(),
        })
    }

    /// The header.
    pub fn header(&self) -> &NpyHeader {
        &self.header
    }

    /// Replaces `out` by the next up to `max` elements; returns how many (0 at the end).
    pub fn read_chunk(&mut self, out: &mut Vec<f64>, max: usize) -> Result<usize> {
        out.clear();
        let n = self.left.min(max as u64) as usize;
        let size = self.header.dtype.size();
        self.buf.resize(n * size, 0);
        self.input
            .read_exact(&mut self.buf)
            .map_err(|e| Error::io(&self.path, e))?;
        let big = self.header.big_endian;
        match self.header.dtype {
            FloatType::F32 => out.extend(self.buf.chunks_exact(4).map(|c| {
                let b = [c[0], c[1], c[2], c[3]];
                f64::from(if big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                })
            })),
            FloatType::F64 => out.extend(self.buf.chunks_exact(8).map(|c| {
                let b = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
                if big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                }
            })),
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Reads a float32 or float64 .npy file of any shape as f64, whole (at most
/// [`MAX_IN_MEMORY_ELEMENTS`]; use [`NpyReader`] for larger arrays).
pub fn read_npy(path: &Path) -> Result<ArrayD<f64>> {
    let mut r = NpyReader::open(path)?;
    let n = r.header().len();
    if n > MAX_IN_MEMORY_ELEMENTS {
        return Err(bad(
            path,
            format!("{n} elements is more than the {MAX_IN_MEMORY_ELEMENTS} read at once"),
        ));
    }
    let mut all = Vec::with_capacity(n as usize);
    let mut chunk = Vec::new();
    while r.read_chunk(&mut chunk, 1 << 16)? > 0 {
        all.extend_from_slice(&chunk);
    }
    let shape = IxDyn(&r.header().shape).set_f(r.header().fortran_order);
    ArrayD::from_shape_vec(shape, all).map_err(|e| bad(path, format!("shape: {e}")))
}

/// The header numpy writes for a little-endian float32 array (format 1.0, padded to 64 bytes).
fn header_bytes(shape: &[usize], fortran_order: bool) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let order = if fortran_order { "True" } else { "False" };
    let mut text = format!("{{'descr': '<f4', 'fortran_order': {order}, 'shape': {tuple}, }}");
    while (MAGIC.len() + 4 + text.len() + 1) % 64 != 0 {
        text.push(' ');
    }
    text.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// Writes a float32 .npy file in chunks to a staging file next to `path`; [`finish`]
/// renames it into place. Dropped unfinished (an error, a signal), it leaves nothing behind.
///
/// [`finish`]: NpyWriter::finish
pub struct NpyWriter {
    path: PathBuf,
    staged: staging::Staged,
    out: BufWriter<File>,
    left: u64,
}

impl NpyWriter {
    /// Starts a float32 array of `shape` in row-major (or, with `fortran_order`, column-major)
    /// element order.
    pub fn create(path: &Path, shape: &[usize], fortran_order: bool) -> Result<Self> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let (staged, file) = staging::file(dir, "npy", ".tmp").map_err(|e| Error::io(dir, e))?;
        let mut out = BufWriter::new(file);
        out.write_all(&header_bytes(shape, fortran_order))
            .map_err(|e| Error::io(staged.path(), e))?;
        Ok(NpyWriter {
            path: path.to_path_buf(),
            staged,
            out,
            left: shape.iter().map(|&d| d as u64).product(),
        })
    }

    /// Appends elements in the array's element order.
    pub fn write(&mut self, values: &[f32]) -> Result<()> {
        if values.len() as u64 > self.left {
            return Err(Error::Internal(format!(
                "{}: more elements written than the shape holds",
                self.path.display()
            )));
        }
        self.left -= values.len() as u64;
        for v in values {
            self.out
                .write_all(&v.to_le_bytes())
                .map_err(|e| Error::io(self.staged.path(), e))?;
        }
        Ok(())
    }

    /// Checks that every element was written, flushes, and renames the file into place.
    pub fn finish(self) -> Result<()> {
        if self.left != 0 {
            return Err(Error::Internal(format!(
                "{}: {} elements were never written",
                self.path.display(),
                self.left
            )));
        }
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(self.staged.path(), e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io(self.staged.path(), e))?;
        let path = self.path;
        self.staged
            .commit(|tmp| std::fs::rename(tmp, &path))
            .map_err(|e| Error::io(&path, e))
    }
}

/// Writes `data` as a float32 .npy file. The file appears complete or not at all: it is
/// written next to `path` under a staging name and renamed into place.
pub fn write_npy_f32(path: &Path, data: &ArrayD<f32>) -> Result<()> {
    let mut w = NpyWriter::create(path, data.shape(), false)?;
    let mut chunk = Vec::with_capacity(1 << 16);
    for &v in data.iter() {
        chunk.push(v);
        if chunk.len() == chunk.capacity() {
            w.write(&chunk)?;
            chunk.clear();
        }
    }
    w.write(&chunk)?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_numpy_writes_parse() {
        let mut b = header_bytes(&[2, 3], false);
        let h = parse_header(&b).unwrap();
        assert_eq!(h.shape, [2, 3]);
        assert_eq!(h.data_offset as usize, b.len());
        assert_eq!(b.len() % 64, 0);
        b = header_bytes(&[5], true);
        let h = parse_header(&b).unwrap();
        assert_eq!((h.shape.as_slice(), h.fortran_order), (&[5][..], true));
        assert_eq!(
            parse_header(&header_bytes(&[], false)).unwrap().shape,
            Vec::<usize>::new()
        );
    }

    fn with_header(text: &str) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        out
    }

    #[test]
    fn malformed_headers_are_refused_with_a_reason() {
        for (text, why) in [
            (
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
                "structured",
            ),
            (
                "{'descr': '<i8', 'fortran_order': False, 'shape': (1,)}",
                "'<i8' is not supported",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': ((1,),)}",
                "flat tuple",
            ),
            (
                "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
                "twice",
            ),
            ("{'descr': '<f4', 'shape': (1,)}", "no `fortran_order`"),
            (
                "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
                "True or False",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
                "non-negative",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                "unknown key",
            ),
        ] {
            let e = parse_header(&with_header(text)).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
