//! The result of a verification phase and the words its failures are reported in, shared by
//! the phases in `verify` and the full-rate loop in `full_rate` (both below nothing else).

use serde::Serialize;

/// The first thing that went wrong, with enough context to find it in a waveform.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Clock cycle (rising edges since the model was created).
    pub cycle: u64,
    /// Phase: `exhaustive`, `stress` or `icarus`.
    pub phase: String,
    /// What differed.
    pub what: String,
}

/// Results of one phase or of a whole core.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseResult {
    /// Samples compared with the golden model.
    pub samples: u64,
    /// Beats received on the master side.
    pub beats: u64,
    /// Samples whose output slot differed from the golden model.
    pub mismatches: u64,
    /// Beats whose TLAST, TKEEP or TUSER differed, missing or unexpected beats, and AXI
    /// stability violations.
    pub protocol_errors: u64,
    /// Largest error of the hardware's output against the saturated f64 function, in ULPs.
    pub max_error_ulp: f64,
    /// The first failure, if any.
    pub first_failure: Option<Failure>,
    /// Clock cycles simulated.
    pub cycles: u64,
}

impl PhaseResult {
    /// True when nothing differed.
    pub fn passed(&self) -> bool {
        self.mismatches == 0 && self.protocol_errors == 0
    }

    pub(super) fn fail(&mut self, cycle: u64, phase: &str, what: String) {
        if self.first_failure.is_none() {
            self.first_failure = Some(Failure {
                cycle,
                phase: phase.to_string(),
                what,
            });
        }
    }
}

/// What a failing output sample looks like in a report.
pub(super) fn lane_mismatch(lane: usize, ch: usize, x: i64, got: u64, y: i64, want: u64) -> String {
    format!(
        "lane {lane}, channel {ch}: input raw {x} -> hardware slot 0x{got:x}, golden raw {y} \
         (slot 0x{want:x})"
    )
}

/// What a failing (tkeep, tlast, tuser) looks like in a report.
pub(super) fn sideband_mismatch(got: (u64, bool, u64), want: (u64, bool, u64)) -> String {
    format!(
        "sideband: got tkeep 0x{:x} tlast {} tuser 0x{:x}, want tkeep 0x{:x} tlast {} tuser \
         0x{:x}",
        got.0, got.1, got.2, want.0, want.1, want.2
    )
}
