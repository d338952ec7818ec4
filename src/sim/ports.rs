//! What the simulator bridges need of a port list ([`Port`], the crate's one port type).
//!
//! The bridges know a design only through its top-level ports: name, width and direction, in
//! one fixed order. That order is the index of a port in [`crate::sim::verilator`] and the
//! order of values in the flat word layout used by [`crate::sim::icarus`].

use crate::hdl::{Port, PortDir};

/// Number of 64-bit words that hold `port`'s value (`ceil(width / 64)`, at least one).
pub fn words(port: &Port) -> usize {
    words64(port.width)
}

/// Number of 64-bit words needed for `width` bits (at least one).
pub fn words64(width: u32) -> usize {
    (width as usize).div_ceil(64).max(1)
}

/// Mask of the valid bits in the most significant 64-bit word of a `width`-bit value.
pub fn top_word_mask(width: u32) -> u64 {
    match width % 64 {
        0 => u64::MAX,
        r => (1u64 << r) - 1,
    }
}

/// Sign-extends the low `width` bits of `raw` (as returned zero-extended by the bridges).
///
/// `width` must be in 1..=64; a width of 64 returns the bits unchanged.
pub fn sign_extend(raw: u64, width: u32) -> i64 {
    debug_assert!((1..=64).contains(&width));
    let shift = 64 - width.clamp(1, 64);
    ((raw << shift) as i64) >> shift
}

/// Total number of 64-bit words of the input ports other than `clock`, in port order: the
/// length of one cycle's stimulus vector in [`crate::sim::icarus::replay`].
pub fn input_words(ports: &[Port], clock: &str) -> usize {
    ports
        .iter()
        .filter(|p| p.dir == PortDir::In && p.name != clock)
        .map(words)
        .sum()
}

/// Total number of 64-bit words of the output ports, in port order: the length of one cycle's
/// output vector in [`crate::sim::icarus::IcarusRun`].
pub fn output_words(ports: &[Port]) -> usize {
    ports
        .iter()
        .filter(|p| p.dir == PortDir::Out)
        .map(words)
        .sum()
}

/// Whether `name` is a plain Verilog identifier, `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What both simulator bridges require of a port list: every name acceptable to the bridge
/// (`name_problem` returns the complaint), widths of at least one bit, no name twice, and
/// `clock` a 1-bit input. Returns the first problem found.
pub(crate) fn check_port_list(
    ports: &[Port],
    clock: &str,
    name_problem: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    for (i, p) in ports.iter().enumerate() {
        if let Some(why) = name_problem(&p.name) {
            return Err(why);
        }
        if p.width == 0 {
            return Err(format!("port `{}` has width 0", p.name));
        }
        if ports[..i].iter().any(|q| q.name == p.name) {
            return Err(format!("port `{}` is listed twice", p.name));
        }
    }
    match ports.iter().find(|p| p.name == clock) {
        Some(p) if p.dir == PortDir::In && p.width == 1 => Ok(()),
        Some(_) => Err(format!("clock `{clock}` must be a 1-bit input")),
        None => Err(format!("clock `{clock}` is not in the port list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_masks() {
        assert_eq!(words64(1), 1);
        assert_eq!(words64(64), 1);
        assert_eq!(words64(65), 2);
        assert_eq!(words64(100), 2);
        assert_eq!(top_word_mask(100), (1u64 << 36) - 1);
        assert_eq!(top_word_mask(64), u64::MAX);
        assert_eq!(top_word_mask(1), 1);
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sign_extend(0xffff, 16), -1);
        assert_eq!(sign_extend(0x7fff, 16), 0x7fff);
        assert_eq!(sign_extend(0x8000, 16), -0x8000);
        assert_eq!(sign_extend(u64::MAX, 64), -1);
        assert_eq!(sign_extend(1, 1), -1);
    }

    #[test]
    fn layout_sizes() {
        let ports = [
            Port::input("clk", 1),
            Port::input("a", 100),
            Port::input("b", 8),
            Port::output("y", 72),
            Port::output("z", 1),
        ];
        assert_eq!(input_words(&ports, "clk"), 3);
        assert_eq!(output_words(&ports), 3);
    }
}
