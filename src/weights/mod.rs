//! Reading weights files. (Being written: see src/weights/ owner.)

use crate::model::{BranchOrder, Network, Variant};
use crate::Result;
use std::path::Path;

/// What the user said on the command line about how to read the file.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadOptions {
    /// `--variant`: required for state dicts without a BatchNorm (origin and softmax look alike).
    pub variant: Option<Variant>,
    /// `--branch-order`: overrides the variant's default order.
    pub branch_order: Option<BranchOrder>,
}

/// Reads every activation layer of a weights file (.json, .safetensors or .pth).
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Network> {
    let _ = (path, opts);
    todo!()
}
