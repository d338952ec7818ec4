//! Fixed point: `ap_fixed` formats, the datapath spec (the single source of truth for the
//! integer computation: a typed list of pipeline stages), and the golden model that executes it.

mod exact;
pub mod format;
pub mod golden;
pub mod reference;
pub mod spec;
pub mod stage;
pub mod table;
mod table_trim;

pub use format::ApFixed;
pub use reference::ReferenceFn;
pub use spec::{
    BoundKind, CoefFracs, DatapathSpec, ErrorBound, LayerSpec, Segment, SegmentCoefs,
    SegmentSelect, SpecOptions, StageWidths, TableGeometry, DEFAULT_MAX_COEF_WIDTH,
    DEFAULT_MAX_ERROR_ULP,
};
pub use stage::{output_quantization, Overflow, PipelineStage, Rounding, Signal, Step};
pub use table::{OuterSegments, RealFn, TableRequest, MAX_INDEX_BITS, MAX_ROM_INPUT_WIDTH};
