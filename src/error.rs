//! The one error type of the library. Every message names what a person needs to find the
//! problem: the file, the layer, the field. Only `main` prints errors and picks exit codes.

use std::path::PathBuf;

/// Everything that can go wrong in repact-hw, as values (the library never panics on bad input).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weights file could not be read or holds values that cannot be a RepAct layer.
    #[error("{}: {}{}", file.display(), location(layer, field), reason)]
    Weights {
        /// The weights file.
        file: PathBuf,
        /// The layer (state-dict prefix or JSON name), when the problem belongs to one.
        layer: Option<String>,
        /// The field inside the layer, e.g. `bn.running_var`.
        field: Option<String>,
        /// What is wrong, in words.
        reason: String,
    },
    /// A fixed-point format that is malformed or out of the supported range.
    #[error("format `{text}`: {reason}")]
    Format {
        /// The format as the user wrote it.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// The datapath cannot be built for this layer with the requested formats or limits.
    #[error("layer `{layer}`: {reason}")]
    Spec {
        /// The layer.
        layer: String,
        /// What is wrong and what to change.
        reason: String,
    },
    /// A tensor file (.npy) that cannot be used.
    #[error("{}: {}", file.display(), reason)]
    Tensor {
        /// The .npy file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The command line asks for something impossible or ambiguous.
    #[error("{0}")]
    Usage(String),
    /// An external tool (Verilator, Icarus, Yosys, a C++ compiler) is missing or failed.
    #[error("{tool}: {reason}")]
    Tool {
        /// The tool's name.
        tool: String,
        /// What happened, with the tool's own output where it helps.
        reason: String,
    },
    /// The hardware disagrees with the golden model, or a protocol check failed.
    #[error("verification failed: {0}")]
    Verify(String),
    /// A generated IP directory's manifest (`repact_ip.json`) is missing, malformed or does not
    /// match the files beside it.
    #[error("{}: {}", path.display(), reason)]
    Manifest {
        /// The manifest (or the file it lists that is wrong).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A bug in repact-hw itself: an invariant the code relies on does not hold.
    #[error("internal error (a bug in repact-hw, please report it): {0}")]
    Internal(String),
    /// Reading or writing a file failed.
    #[error("{}: {}", path.display(), source)]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
}

fn location(layer: &Option<String>, field: &Option<String>) -> String {
    match (layer, field) {
        (Some(l), Some(f)) => format!("layer `{l}`, field `{f}`: "),
        (Some(l), None) => format!("layer `{l}`: "),
        (None, Some(f)) => format!("field `{f}`: "),
        (None, None) => String::new(),
    }
}

/// Exit codes of the `repact-hw` command (the README's table is kept equal to these by a test).
pub mod exit_code {
    /// Success.
    pub const OK: u8 = 0;
    /// Bad input: weights, tensors, formats, a manifest, an unmeetable budget, an I/O failure.
    pub const INPUT: u8 = 1;
    /// `verify` found a mismatch between the hardware and the golden model.
    pub const MISMATCH: u8 = 2;
    /// An external tool (Verilator, Icarus, Yosys, a C++ compiler) is missing or failed.
    pub const TOOL: u8 = 3;
    /// The command line is malformed or asks for something impossible (`EX_USAGE`).
    pub const USAGE: u8 = 64;
    /// A bug in repact-hw (`EX_SOFTWARE`).
    pub const INTERNAL: u8 = 70;
    /// Interrupted by SIGINT or SIGTERM (128 + SIGINT).
    pub const INTERRUPTED: u8 = 130;
}

impl Error {
    /// The process exit code this error maps to (see [`exit_code`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit_code::USAGE,
            Error::Internal(_) => exit_code::INTERNAL,
            Error::Tool { .. } => exit_code::TOOL,
            Error::Verify(_) => exit_code::MISMATCH,
            Error::Weights { .. }
            | Error::Format { .. }
            | Error::Spec { .. }
            | Error::Tensor { .. }
            | Error::Manifest { .. }
            | Error::Io { .. } => exit_code::INPUT,
        }
    }

    /// Shorthand for a manifest error on `path`.
    pub fn manifest(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Manifest {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for an I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_error_exits_70_and_asks_for_a_report() {
        let e = Error::Internal("packager: a register field is missing".into());
        assert_eq!(e.exit_code(), 70);
        assert_eq!(
            e.to_string(),
            "internal error (a bug in repact-hw, please report it): \
             packager: a register field is missing"
        );
    }

    #[test]
    fn usage_and_bad_input_keep_their_own_exit_codes() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 64);
        assert_eq!(Error::manifest("m.json", "x").exit_code(), 1);
    }
}
