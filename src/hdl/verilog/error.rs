//! What the Verilog builder's checks detect, each naming the module and the signal: a failed
//! check is a bug of the generator, reported as `Error::Internal` at the `hdl` boundary.

use thiserror::Error;

/// A generated module that would not be legal, lint-clean Verilog-2001.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HdlError {
    /// A module, signal, parameter or instance name is not a Verilog identifier.
    #[error("module `{module}`: `{name}` is not a legal identifier")]
    BadIdentifier { module: String, name: String },
    /// A signal has zero bits or a memory zero words.
    #[error("module `{module}`: `{signal}` has zero width or depth")]
    ZeroWidth { module: String, signal: String },
    /// A name is declared twice (signal, localparam, instance or `_unused` sink).
    #[error("module `{module}`: `{name}` is declared twice")]
    DuplicateName { module: String, name: String },
    /// A signal is read or written before its declaration.
    #[error("module `{module}`: `{signal}` is used before its declaration")]
    DeclarationOrder { module: String, signal: String },
    /// A signal is used but never declared.
    #[error("module `{module}`: `{signal}` is used but not declared")]
    Undeclared { module: String, signal: String },
    /// A signal is used with the wrong shape (an index on a non-memory, a memory without an
    /// index, a bit select of a scalar).
    #[error("module `{module}`: `{signal}` {problem}")]
    WrongShape {
        module: String,
        signal: String,
        problem: &'static str,
    },
    /// A bit select outside the signal's width.
    #[error("module `{module}`: `{signal}[{msb}:{lsb}]` is out of range [{top}:0]")]
    OutOfRange {
        module: String,
        signal: String,
        msb: u32,
        lsb: u32,
        top: u32,
    },
    /// A literal does not fit its width.
    #[error("module `{module}`: a literal does not fit its width")]
    BadLiteral { module: String },
    /// A localparam sizes nothing.
    #[error("module `{module}`: localparam `{name}` is never used")]
    UnusedParam { module: String, name: String },
    /// An instance's port connections do not match the instantiated module's ports.
    #[error("module `{module}`: instance `{instance}` {problem} `{port}`")]
    Connection {
        module: String,
        instance: String,
        problem: &'static str,
        port: String,
    },
    /// A generator's own structural invariant (lane count, stage order, datapath kind).
    #[error("module `{module}`: {reason}")]
    Lowering { module: String, reason: String },
    /// A pipeline step sits in a stage its lowering cannot serve (e.g. the coefficient
    /// lookup after stage 1, an unregistered ROM read): the spec's pipeline and the lane's
    /// lowering disagree.
    #[error("module `{module}`: the {step} step is in stage {stage}, but {rule}")]
    StagePlacement {
        module: String,
        step: &'static str,
        stage: usize,
        rule: &'static str,
    },
    /// A step or coefficient source that the spec's datapath kind does not have (e.g.
    /// run-time coefficients for a table-indexed datapath, an offset step in a comparator
    /// datapath).
    #[error("module `{module}`: {what} does not exist for the {datapath} datapath")]
    WrongDatapath {
        module: String,
        what: &'static str,
        datapath: &'static str,
    },
    /// A layer of the spec whose tables do not have the shape its datapath needs.
    #[error("module `{module}`, layer `{layer}`: {reason}")]
    LayerShape {
        module: String,
        layer: String,
        reason: String,
    },
    /// A pipeline too short to lower: the last stage is the caller's output register, so the
    /// lane needs at least one register stage before it.
    #[error(
        "module `{module}`: the spec's pipeline has {stages} stage(s); a lane needs at least \
         one register stage before the output register"
    )]
    TooFewStages { module: String, stages: usize },
}
