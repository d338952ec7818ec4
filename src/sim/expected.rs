//! Expected outputs of the exhaustive phase, computed by the golden model ahead of the
//! simulation in blocks, so that the loop driving the simulator only compares integers.
//!
//! The phase sends sample `s` = (input code index `s / C`, channel `s % C`) for a layer with C
//! channels, so a block is a flat slice of golden outputs in exactly that order: the checking
//! loop walks it with one index, no division, no f64. A producer thread fills blocks while the
//! simulator runs (bounded: at most [`BLOCKS_IN_FLIGHT`] blocks exist at a time, so memory does
//! not grow with the channel count or the input width).
//!
//! Entries are `i16` when the output format is at most 16 bits wide and `i32` otherwise (up to
//! 24 bits): the narrow table halves the memory the checking loop streams through, and a
//! block of 2^18 `i16` entries (512 KiB) stays in the L2 cache next to the model's state.

use crate::fixedpoint::DatapathSpec;
use std::sync::mpsc::{sync_channel, Receiver};

/// Samples per block: large enough to amortize the hand-over, small enough for the cache.
pub const BLOCK_SAMPLES: u64 = 1 << 18;
/// Blocks computed ahead of the simulation (plus one being checked).
pub const BLOCKS_IN_FLIGHT: usize = 2;

/// The input codes of the exhaustive phase, in sending order.
#[derive(Debug, Clone)]
pub enum Codes {
    /// Every code from `min` on, `count` of them.
    Range {
        /// First code.
        min: i64,
        /// Number of codes.
        count: u64,
    },
    /// An explicit list (random samples plus corners, for `--random-samples`).
    List(Vec<i64>),
}

impl Codes {
    /// Number of codes.
    pub fn len(&self) -> u64 {
        match self {
            Codes::Range { count, .. } => *count,
            Codes::List(v) => v.len() as u64,
        }
    }

    /// True when there is no code.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Code number `i`.
    #[inline]
    pub fn get(&self, i: u64) -> i64 {
        match self {
            Codes::Range { min, .. } => min + i as i64,
            Codes::List(v) => v[i as usize],
        }
    }
}

/// An expected-output entry: a raw output sample of the golden model.
pub trait Entry: Copy + Send + 'static {
    /// From a raw output sample (which fits the entry type by construction).
    fn from_raw(raw: i64) -> Self;
    /// Back to the raw sample.
    fn raw(self) -> i64;
}

impl Entry for i16 {
    #[inline]
    fn from_raw(raw: i64) -> Self {
        raw as i16
    }
    #[inline]
    fn raw(self) -> i64 {
        self as i64
    }
}

impl Entry for i32 {
    #[inline]
    fn from_raw(raw: i64) -> Self {
        raw as i32
    }
    #[inline]
    fn raw(self) -> i64 {
        self as i64
    }
}

/// Golden outputs of consecutive samples, and the golden model's largest error on them.
pub struct Block<T> {
    /// First sample (index into the phase's sample sequence).
    pub start: u64,
    /// One raw output per sample.
    pub outputs: Vec<T>,
    /// Largest |golden − saturated f64 function| over these samples, in output ULPs.
    pub max_error_ulp: f64,
}

/// Computes the block of samples `start..start + n`.
pub fn compute_block<T: Entry>(
    spec: &DatapathSpec,
    layer: usize,
    codes: &Codes,
    start: u64,
    n: u64,
) -> Block<T> {
    let channels = spec.layers()[layer].channels() as u64;
    let out = spec.output();
    let mut outputs = Vec::with_capacity(n as usize);
    let mut max_err = 0f64;
    let (mut ci, mut ch) = (start / channels, (start % channels) as usize);
    for _ in 0..n {
        let x = codes.get(ci);
        let y = spec.eval_raw(layer, ch, x);
        let err = (out.to_f64(y) - spec.reference(layer, ch, x)).abs();
        max_err = max_err.max(err);
        outputs.push(T::from_raw(y));
        ch += 1;
        if ch as u64 == channels {
            ch = 0;
            ci += 1;
        }
    }
    Block {
        start,
        outputs,
        max_error_ulp: max_err / out.ulp(),
    }
}

/// Runs `body` with a receiver of the blocks covering all `codes.len() × C` samples, in
/// order, computed by a producer thread (which stops early if `body` returns first).
pub fn with_blocks<T: Entry, R>(
    spec: &DatapathSpec,
    layer: usize,
    codes: &Codes,
    body: impl FnOnce(&Receiver<Block<T>>) -> R,
) -> R {
    let total = codes.len() * spec.layers()[layer].channels() as u64;
    let (tx, rx) = sync_channel(BLOCKS_IN_FLIGHT);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut start = 0;
            while start < total {
                let n = BLOCK_SAMPLES.min(total - start);
                if tx
                    .send(compute_block(spec, layer, codes, start, n))
                    .is_err()
                {
                    return;
                }
                start += n;
            }
        });
        let r = body(&rx);
        // Dropping the receiver ends the producer at its next send.
        drop(rx);
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_index_in_order() {
        let r = Codes::Range { min: -4, count: 8 };
        assert_eq!(
            (0..8).map(|i| r.get(i)).collect::<Vec<_>>(),
            (-4..4).collect::<Vec<_>>()
        );
        assert_eq!(Codes::List(vec![7, -1]).get(1), -1);
        assert!(Codes::List(vec![]).is_empty());
    }
}
