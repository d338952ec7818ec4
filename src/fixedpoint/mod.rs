//! Fixed point: `ap_fixed` formats, the datapath spec (the single source of truth for the
//! integer computation), and the golden model that executes it.

pub mod format;
pub mod golden;
pub mod spec;

pub use format::ApFixed;
pub use spec::{
    DatapathSpec, ErrorBound, LayerSpec, Overflow, Rounding, SegmentCoefs, SpecOptions,
    StageWidths, DEFAULT_MAX_COEF_WIDTH, DEFAULT_MAX_ERROR_ULP, PIPELINE_STAGES,
};
