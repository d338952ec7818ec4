//! Command-line definitions (clap) and dispatch to the subcommands.

/// `println!` that reports a closed stdout (`repact-hw inspect | head`) as an error instead of
/// panicking; `main` turns a broken pipe into a quiet exit.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}
/// `print!` with the same behaviour as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(&format!($($arg)*))
    };
}

mod eval;
mod gen;
mod inspect;
mod verify;

use clap::{Args, Parser, Subcommand};
use repact_hw::fixedpoint::{ApFixed, SpecOptions, DEFAULT_MAX_COEF_WIDTH, DEFAULT_MAX_ERROR_ULP};
use repact_hw::model::activation;
use repact_hw::model::{Activation, BranchOrder, Network, Variant};
use repact_hw::weights::{self, LoadOptions};
use repact_hw::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Turns trained RepAct activation functions into verified fixed-point FPGA IP.
#[derive(Parser)]
#[command(name = "repact-hw", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show every activation layer: folded coefficients, chosen fixed-point formats, error bound.
    Inspect(inspect::InspectArgs),
    /// Run the bit-exact golden model of one layer on a float tensor (.npy).
    Eval(eval::EvalArgs),
    /// Generate the Verilog IP (one directory) for the activation layers.
    Gen(gen::GenArgs),
    /// Prove with Verilator and Icarus that a generated IP equals the golden model bit for bit.
    Verify(verify::VerifyArgs),
}

/// Where the weights come from and how to read them.
#[derive(Args)]
pub struct WeightsArgs {
    /// Weights file: our JSON (.json), a PyTorch state dict (.safetensors, .pth/.pt).
    #[arg(long, value_name = "FILE", required_unless_present = "activation")]
    pub weights: Option<PathBuf>,
    /// One library activation instead of a weights file, e.g. silu, gelu:approximate=tanh,
    /// leaky_relu:negative_slope=0.1 (the layer is named after it).
    #[arg(long, value_name = "NAME[:PARAM=VALUE,...]", conflicts_with = "weights",
          value_parser = Activation::parse_cli, long_help = activation::cli_help())]
    pub activation: Option<Activation>,
    /// RepAct variant of layers without a BatchNorm (origin and softmax have the same keys).
    #[arg(long, value_name = "origin|softmax|bn")]
    pub variant: Option<Variant>,
    /// Which branch each ActorAtn entry multiplies, e.g. identity,relu,prelu,hardswish
    /// [default: origin/bn identity,relu,hardswish,prelu; softmax identity,relu,prelu,hardswish].
    #[arg(long, value_name = "B0,B1,B2,B3", value_parser = BranchOrder::parse_list)]
    pub branch_order: Option<BranchOrder>,
}

impl WeightsArgs {
    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            variant: self.variant,
            branch_order: self.branch_order,
        }
    }

    /// The layers asked for: the weights file's, or the one `--activation`.
    pub fn network(&self) -> Result<Network> {
        match (&self.weights, &self.activation) {
            (Some(path), _) => weights::load(path, &self.load_options()),
            (None, Some(a)) => Ok(activation::single_layer_network(a)),
            (None, None) => Err(repact_hw::Error::Usage(
                "say --weights FILE or --activation NAME".into(),
            )),
        }
    }
}

/// Fixed-point formats and the error budget.
#[derive(Args)]
pub struct FormatArgs {
    /// Input format ap_fixed<W,I> (W total bits, I integer bits incl. sign); samples are
    /// rounded to nearest (ties to even) and saturated.
    #[arg(long, value_name = "ap_fixed<W,I>", default_value = "ap_fixed<16,6>")]
    pub in_format: ApFixed,
    /// Output format ap_fixed<W,I>; rounded to nearest (ties toward +inf, AP_RND) and
    /// saturated (AP_SAT).
    #[arg(long, value_name = "ap_fixed<W,I>", default_value = "ap_fixed<16,6>")]
    pub out_format: ApFixed,
    /// Largest allowed error against the saturated f64 function, in output ULPs.
    #[arg(long, value_name = "ULP", default_value_t = DEFAULT_MAX_ERROR_ULP)]
    pub max_error_ulp: f64,
    /// Largest width of a multiplier operand (c2 and t); 25 is the DSP48E1 A port.
    #[arg(long, value_name = "BITS", default_value_t = DEFAULT_MAX_COEF_WIDTH)]
    pub max_coef_width: u32,
}

impl FormatArgs {
    fn spec_options(&self) -> SpecOptions {
        SpecOptions {
            input: self.in_format,
            output: self.out_format,
            max_error_ulp: self.max_error_ulp,
            max_coef_width: self.max_coef_width,
        }
    }
}

/// Writes `text` to stdout, reporting failures (a closed pipe) as errors.
pub fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut lock = std::io::stdout().lock();
    lock.write_all(text.as_bytes())
        .and_then(|()| lock.flush())
        .map_err(|e| repact_hw::Error::io("<stdout>", e))
}

/// Why the command did not succeed.
pub enum Failure {
    /// The command line could not be parsed (or asked for help or the version).
    Usage(clap::Error),
    /// The library reported an error.
    Run(repact_hw::Error),
}

/// Parses the command line and runs the subcommand.
pub fn run() -> std::result::Result<ExitCode, Failure> {
    let cli = Cli::try_parse().map_err(Failure::Usage)?;
    dispatch(cli).map_err(Failure::Run)
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Gen(args) => gen::run(&args),
        Command::Verify(args) => verify::run(&args),
    }
}
