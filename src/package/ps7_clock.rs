//! The fabric clock the Zynq-7000 PS can really make for a requested `--clock-mhz`.
//!
//! FCLK_CLK0 is the IO PLL divided by two 6-bit dividers (`FPGA0_CLK_CTRL.DIVISOR0` and
//! `DIVISOR1`, 1..=63 each; UG585, "PL Clocks"). With the IO PLL at 1000 MHz (the PYNQ-Z1/Z2
//! and most board presets; UG585's default 33.333 MHz crystal times 30) only 1000/n MHz exists
//! for n = d0·d1, so `--clock-mhz 150` gives 142.857 MHz, not 150. `create_bd.tcl` asks for the
//! achievable frequency nearest to the request, so Vivado's clock wizard has nothing left to
//! round and the block design propagates exactly that frequency to the core's `aclk`.

/// The IO PLL frequency assumed, in MHz.
pub const IO_PLL_MHZ: f64 = 1000.0;
/// Largest value of each fabric-clock divider (6 bits).
pub const MAX_DIVISOR: u32 = 63;
/// Fastest fabric clock of the PS7 (DS187: FCLK up to 250 MHz).
pub const MAX_FCLK_MHZ: f64 = 250.0;

/// An achievable fabric clock: the IO PLL divided by `divisor0 * divisor1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fclk {
    /// The first divider, 1..=63.
    pub divisor0: u32,
    /// The second divider, 1..=63.
    pub divisor1: u32,
    /// The resulting frequency in MHz.
    pub mhz: f64,
}

impl Fclk {
    /// The achievable frequency nearest to `requested_mhz` (the lower one on a tie, and never
    /// above [`MAX_FCLK_MHZ`]); the smallest `divisor0` among equal products.
    pub fn nearest(requested_mhz: f64) -> Fclk {
        let mut best: Option<(f64, u32, u32)> = None;
        for product in 1..=MAX_DIVISOR * MAX_DIVISOR {
            let mhz = IO_PLL_MHZ / f64::from(product);
            if mhz > MAX_FCLK_MHZ {
                continue;
            }
            let Some(d0) =
                (1..=MAX_DIVISOR).find(|d| product % d == 0 && product / d <= MAX_DIVISOR)
            else {
                continue; // a product no two 6-bit dividers make
            };
            let err = (mhz - requested_mhz).abs();
            // Products ascend, frequencies descend: a later equal error is the lower frequency.
            if best.is_none_or(|(e, _, _)| err <= e) {
                best = Some((err, d0, product / d0));
            }
        }
        let (_, divisor0, divisor1) = best.expect("1000/4 = 250 MHz is always achievable");
        Fclk {
            divisor0,
            divisor1,
            mhz: IO_PLL_MHZ / f64::from(divisor0 * divisor1),
        }
    }

    /// The frequency as `PCW_FPGA0_PERIPHERAL_FREQMHZ` takes it: MHz to six decimals.
    pub fn tcl_mhz(&self) -> String {
        let s = format!("{:.6}", self.mhz);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }

    /// One sentence saying what was asked for and what the PS7 gives.
    pub fn describe(&self, requested_mhz: f64) -> String {
        let exact = (self.mhz - requested_mhz).abs() < 1e-9;
        format!(
            "PS7 FCLK_CLK0 = IO PLL {IO_PLL_MHZ} MHz / {} / {} = {} MHz{}",
            self.divisor0,
            self.divisor1,
            self.tcl_mhz(),
            if exact {
                String::from(" (as requested)")
            } else {
                format!(
                    ", the achievable frequency nearest to --clock-mhz {requested_mhz} (the OOC \
                     constraint keeps {requested_mhz} MHz)"
                )
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_fabric_clocks_are_the_io_pll_divided() {
        let f = |mhz: f64| Fclk::nearest(mhz);
        assert_eq!(f(200.0).tcl_mhz(), "200");
        assert_eq!(f(100.0).tcl_mhz(), "100");
        assert_eq!(f(150.0).tcl_mhz(), "142.857143");
        assert_eq!((f(150.0).divisor0, f(150.0).divisor1), (1, 7));
        assert_eq!(f(125.0).tcl_mhz(), "125");
        // Above the PS7's limit: the fastest it makes.
        assert_eq!(f(400.0).tcl_mhz(), "250");
        // Far below: 1000 / 3969 MHz is the slowest; a product no two 6-bit dividers make
        // (67, a prime) is skipped.
        assert!((f(0.1).mhz - 1000.0 / 3969.0).abs() < 1e-12);
        assert_ne!(f(1000.0 / 67.0).divisor0 * f(1000.0 / 67.0).divisor1, 67);
        // Every result is exactly IO PLL / (d0 * d1) with 6-bit dividers.
        for req in [10.0, 33.3, 50.0, 76.0, 111.0, 166.0, 187.5, 240.0] {
            let c = f(req);
            assert!((1..=63).contains(&c.divisor0) && (1..=63).contains(&c.divisor1));
            assert_eq!(c.mhz, 1000.0 / f64::from(c.divisor0 * c.divisor1));
        }
    }
}
