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

impl Error {
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
