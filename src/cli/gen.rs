//! `repact-hw gen`: weights in, an IP directory out.

use super::{FormatArgs, WeightsArgs};
use clap::Args;
use repact_hw::flow::{self, GenOptions};
use repact_hw::manifest::CoeffMode;
use repact_hw::package::{self, PackageOptions};
use repact_hw::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `gen`.
#[derive(Args)]
pub struct GenArgs {
    #[command(flatten)]
    pub(super) weights: WeightsArgs,
    #[command(flatten)]
    formats: FormatArgs,
    /// Output directory (created; replaced if it is an earlier repact-hw IP directory).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Top module name; with several layers each baked core is `<NAME>_<layer>`.
    #[arg(long, default_value = "repact_act")]
    name: String,
    /// Only this layer [default: all].
    #[arg(long)]
    layer: Option<String>,
    /// Samples per AXI4-Stream beat (1, 2, 4, 8 or 16), each with its own datapath.
    #[arg(long, default_value_t = 1)]
    lanes: usize,
    /// Width of a TUSER passed through beside the data (0: no TUSER).
    #[arg(long, default_value_t = 0)]
    tuser_width: u32,
    /// Coefficients as constants (one core per layer) or AXI4-Lite registers (one core).
    #[arg(long, value_enum, default_value_t = CoeffMode::Baked)]
    coeffs: CoeffMode,
    /// IP vendor (VLNV).
    #[arg(long, default_value = package::DEFAULT_VENDOR)]
    vendor: String,
    /// IP library (VLNV).
    #[arg(long, default_value = package::DEFAULT_LIBRARY)]
    library: String,
    /// IP version MAJOR.MINOR (VLNV).
    #[arg(long, default_value = package::DEFAULT_VERSION)]
    ip_version: String,
    /// Target clock in MHz (FREQ_HZ, the OOC constraint, the PS7 fabric clock).
    #[arg(long, default_value_t = package::DEFAULT_CLOCK_MHZ)]
    clock_mhz: f64,
    /// Vivado part of the block-design project.
    #[arg(long, default_value = package::DEFAULT_PART)]
    part: String,
    /// Make create_bd.tcl run implementation and write a bitstream by default.
    #[arg(long)]
    bitstream: bool,
    /// Estimate LUT/FF/DSP/CARRY4/BRAM with Yosys (synth_xilinx) into the report, next to a
    /// HardSwish unit built by the same datapath.
    #[arg(long)]
    estimate: bool,
}

/// The command line as a user would retype it: the program as `repact-hw` (not the path it
/// was run from, so regenerating from another build gives identical files), arguments quoted
/// for a POSIX shell where needed.
fn quoted_command_line() -> String {
    std::iter::once("repact-hw".to_string())
        .chain(std::env::args().skip(1))
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=,".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(args: &GenArgs) -> Result<ExitCode> {
    let net = args.weights.network()?;
    let bundle = flow::generate_with_datapath(
        &net,
        &GenOptions {
            spec: args.formats.spec_options(),
            name: args.name.clone(),
            lanes: args.lanes,
            tuser_width: args.tuser_width,
            coeffs: args.coeffs,
            layer: args.layer.clone(),
            command_line: quoted_command_line(),
            package: PackageOptions {
                vendor: args.vendor.clone(),
                library: args.library.clone(),
                version: args.ip_version.clone(),
                clock_mhz: args.clock_mhz,
                part: args.part.clone(),
                bitstream: args.bitstream,
                estimate: args.estimate,
            },
        },
        args.formats.datapath,
    )?;
    flow::write_bundle(&bundle, &args.out)?;
    outln!(
        "wrote {} ({} files)",
        args.out.display(),
        bundle.files.len()
    )?;
    let fclk = package::Fclk::nearest(args.clock_mhz);
    outln!("  block design: {}", fclk.describe(args.clock_mhz))?;
    for built in &bundle.cores {
        let (core, spec) = (&built.interface, &built.spec);
        let names: Vec<_> = spec.layers().iter().map(|l| l.name()).collect();
        outln!(
            "  {:<28} {}  {} -> {}, {} lane(s), latency {} cycles, proven bound {:.4} ULP",
            core.top,
            names.join(","),
            spec.input(),
            spec.output(),
            core.stream.lanes,
            core.latency_cycles,
            spec.layers()
                .iter()
                .map(|l| l.bound.total_ulp)
                .fold(0.0, f64::max)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
