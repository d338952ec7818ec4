//! Co-simulation: a fast Verilator bridge, an Icarus Verilog replay, and the AXI4-Stream
//! testbench that compares generated cores with the golden model bit for bit.

pub mod axilite_bench;
pub mod axis_bench;
pub mod expected;
pub mod full_rate;
pub mod icarus;
pub mod integrity;
pub mod jobs;
pub mod ordered;
pub mod phase;
pub mod ports;
pub mod run;
pub mod verify;
pub mod verilator;
