//! `ap_fixed<W,I>` formats: W total bits, I integer bits including the sign, as Vitis HLS and
//! hls4ml write them. A value is a W-bit two's-complement integer `raw` meaning `raw · 2^-(W-I)`.

use crate::{Error, Result};
use fixed::types::I64F0;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Narrowest supported sample width.
pub const MIN_WIDTH: u32 = 2;
/// Widest supported sample width (keeps every datapath stage inside 64 bits).
pub const MAX_WIDTH: u32 = 24;
/// Largest supported number of fractional bits.
pub const MAX_FRAC: i32 = 32;

/// A signed fixed-point format `ap_fixed<W,I>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ApFixed {
    width: u32,
    int_bits: i32,
}

impl ApFixed {
    /// `ap_fixed<width, int_bits>`; the fractional bits `width - int_bits` must be in 0..=32.
    pub fn new(width: u32, int_bits: i32) -> Result<Self> {
        let text = format!("ap_fixed<{width},{int_bits}>");
        if !(MIN_WIDTH..=MAX_WIDTH).contains(&width) {
            return Err(Error::Format {
                text,
                reason: format!("width must be {MIN_WIDTH}..={MAX_WIDTH} bits"),
            });
        }
        let frac = width as i32 - int_bits;
        if !(0..=MAX_FRAC).contains(&frac) {
            return Err(Error::Format {
                text,
                reason: format!(
                    "fractional bits W-I = {frac} must be 0..={MAX_FRAC} (I may not exceed W)"
                ),
            });
        }
        Ok(ApFixed { width, int_bits })
    }

    /// Total bits W.
    pub fn width(self) -> u32 {
        self.width
    }
    /// Integer bits I, sign included.
    pub fn int_bits(self) -> i32 {
        self.int_bits
    }
    /// Fractional bits F = W - I.
    pub fn frac(self) -> u32 {
        (self.width as i32 - self.int_bits) as u32
    }
    /// Smallest raw value, `-2^(W-1)`.
    pub fn min_raw(self) -> i64 {
        -(1i64 << (self.width - 1))
    }
    /// Largest raw value, `2^(W-1) - 1`.
    pub fn max_raw(self) -> i64 {
        (1i64 << (self.width - 1)) - 1
    }
    /// One unit in the last place, `2^-F`.
    pub fn ulp(self) -> f64 {
        (-(self.frac() as f64)).exp2()
    }
    /// The real value of `raw`.
    pub fn to_f64(self, raw: i64) -> f64 {
        raw as f64 * self.ulp()
    }
    /// Smallest and largest representable values.
    pub fn range(self) -> (f64, f64) {
        (self.to_f64(self.min_raw()), self.to_f64(self.max_raw()))
    }
    /// Clamps a real value to the representable range (the f64 reference's saturation).
    pub fn saturate_f64(self, v: f64) -> f64 {
        let (lo, hi) = self.range();
        v.clamp(lo, hi)
    }
    /// Bits one sample occupies in an AXI4-Stream word: W rounded up to whole bytes.
    pub fn slot_bits(self) -> u32 {
        self.width.div_ceil(8) * 8
    }

    /// Quantizes a real value: round to nearest with ties to even (the `fixed` crate's
    /// `from_num`), then saturate to the format. NaN has no fixed-point value: `None`.
    pub fn quantize(self, v: f64) -> Option<i64> {
        if v.is_nan() {
            return None;
        }
        // Multiplying by a power of two is exact in f64, so the only rounding is from_num's.
        let scaled = v * (self.frac() as f64).exp2();
        let raw = I64F0::saturating_from_num(scaled).to_bits();
        Some(raw.clamp(self.min_raw(), self.max_raw()))
    }

    /// Interprets the low W bits of `bits` as a two's-complement raw value.
    pub fn sign_extend(self, bits: u64) -> i64 {
        let shift = 64 - self.width;
        ((bits << shift) as i64) >> shift
    }
}

impl fmt::Display for ApFixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ap_fixed<{},{}>", self.width, self.int_bits)
    }
}

impl FromStr for ApFixed {
    type Err = Error;
    /// Accepts `ap_fixed<16,6>` or the short `16,6`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Format {
            text: s.to_string(),
            reason: reason.to_string(),
        };
        let t = s.trim();
        let inner = match t.strip_prefix("ap_fixed<") {
            Some(rest) => rest
                .strip_suffix('>')
                .ok_or_else(|| bad("expected `ap_fixed<W,I>`"))?,
            None => t,
        };
        let (w, i) = inner
            .split_once(',')
            .ok_or_else(|| bad("expected `ap_fixed<W,I>` (W total bits, I integer bits)"))?;
        let w: u32 = w
            .trim()
            .parse()
            .map_err(|_| bad("W must be a whole number"))?;
        let i: i32 = i
            .trim()
            .parse()
            .map_err(|_| bad("I must be a whole number"))?;
        ApFixed::new(w, i)
    }
}

/// Signed bits needed to hold every integer in `lo..=hi`.
pub fn signed_width(lo: i64, hi: i64) -> u32 {
    let bits = |v: i64| {
        if v >= 0 {
            65 - v.leading_zeros()
        } else {
            65 - (!v).leading_zeros()
        }
    };
    bits(lo).max(bits(hi)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_spellings() {
        let f: ApFixed = "ap_fixed<16,6>".parse().unwrap();
        assert_eq!((f.width(), f.int_bits(), f.frac()), (16, 6, 10));
        assert_eq!(
            "12, 4".parse::<ApFixed>().unwrap(),
            ApFixed::new(12, 4).unwrap()
        );
        assert!("ap_fixed<16,6".parse::<ApFixed>().is_err());
        assert!("ap_fixed<40,6>".parse::<ApFixed>().is_err());
        assert!("ap_fixed<8,9>".parse::<ApFixed>().is_err());
    }

    #[test]
    fn quantize_rounds_ties_to_even_and_saturates() {
        let f = ApFixed::new(8, 8).unwrap(); // integers -128..=127
        assert_eq!(f.quantize(2.5), Some(2));
        assert_eq!(f.quantize(3.5), Some(4));
        assert_eq!(f.quantize(-2.5), Some(-2));
        assert_eq!(f.quantize(1e9), Some(127));
        assert_eq!(f.quantize(f64::NEG_INFINITY), Some(-128));
        assert_eq!(f.quantize(f64::NAN), None);
    }

    #[test]
    fn signed_widths() {
        assert_eq!(signed_width(0, 0), 1);
        assert_eq!(signed_width(-1, 0), 1);
        assert_eq!(signed_width(-128, 127), 8);
        assert_eq!(signed_width(0, 128), 9);
        assert_eq!(signed_width(-129, 0), 9);
    }
}
