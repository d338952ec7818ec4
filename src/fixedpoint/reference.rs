//! The f64 function a table or ROM layer approximates, kept with the spec so the golden model's
//! error can be measured against it anywhere (verify, reports, plots).

use super::format::ApFixed;
use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// A named f64 function with a fingerprint of its values on every input code.
///
/// Two references are equal when their names and fingerprints are: the fingerprint is an FNV-1a
/// hash of the f64 bits of the function at every input code of the format it was made for, so a
/// changed function (or parameter) changes the serialized spec even if its name does not.
#[derive(Clone)]
pub struct ReferenceFn {
    name: String,
    digest: u64,
    f: Arc<dyn Fn(f64) -> f64 + Send + Sync>,
}

impl ReferenceFn {
    /// Wraps `f` under `name` (which should say the function and its parameters, e.g.
    /// `leaky_relu(negative_slope=0.1)`), fingerprinted on every input code of `input`.
    pub fn new(name: &str, f: Arc<dyn Fn(f64) -> f64 + Send + Sync>, input: ApFixed) -> Self {
        let values: Vec<f64> = (input.min_raw()..=input.max_raw())
            .map(|raw| f(input.to_f64(raw)))
            .collect();
        Self::from_values(name, f, &values)
    }
    /// [`ReferenceFn::new`] from `f`'s values at every input code, `min_raw` first (already
    /// evaluated by the caller, which saves a pass over 2^W codes).
    pub fn from_values(
        name: &str,
        f: Arc<dyn Fn(f64) -> f64 + Send + Sync>,
        values: &[f64],
    ) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for v in values {
            for b in v.to_bits().to_le_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        ReferenceFn {
            name: name.to_string(),
            digest: h,
            f,
        }
    }
    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The fingerprint of its values on every input code.
    pub fn digest(&self) -> u64 {
        self.digest
    }
    /// The function at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        (self.f)(x)
    }
}

impl PartialEq for ReferenceFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.digest == other.digest
    }
}

impl fmt::Debug for ReferenceFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReferenceFn({}, {:016x})", self.name, self.digest)
    }
}

impl Serialize for ReferenceFn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ReferenceFn", 2)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("digest", &format!("{:016x}", self.digest))?;
        st.end()
    }
}
