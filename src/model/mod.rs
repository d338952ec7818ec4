//! The activation model in real numbers: typed parameters and their exact f64 fold.

pub mod activation;
mod field_error;
pub mod fold;
pub mod params;

pub use activation::{Activation, GeluApproximate, ACTIVATIONS};
pub use fold::{fold, FoldedLayer, REPACT_BREAKPOINTS};
pub use params::{
    BatchNorm, Branch, BranchOrder, FieldError, Layer, LayerKind, Network, PiecewiseParams,
    RepActParams, Variant,
};
