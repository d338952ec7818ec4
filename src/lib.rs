//! repact-hw: turns trained RepAct activation functions into verified fixed-point FPGA IP.
//!
//! Data flows one way: [`weights`] reads files into [`model`] parameters, which fold into
//! f64 piecewise quadratics; [`fixedpoint`] quantizes them into a [`fixedpoint::DatapathSpec`],
//! the single description of the integer datapath that both the golden model and the HDL
//! generator follow.

pub mod bundle;
pub mod error;
pub mod escape;
pub mod fit;
pub mod fixedpoint;
pub mod flow;
pub mod hdl;
pub mod manifest;
pub mod model;
pub mod package;
pub mod sim;
pub mod staging;
pub mod tensor;
pub mod weights;

pub use error::{Error, Result};
