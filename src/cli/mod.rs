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
use repact_hw::fit::DatapathChoice;
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
    /// RepAct variant of the layers whose keys do not tell (origin and softmax state-dict
    /// layers look alike): `V` for all of them, `LAYER=V` for one (repeatable; overrides `V`).
    /// BatchNorm layers are recognised by their `bn.*` keys.
    #[arg(long, value_name = "[LAYER=]origin|softmax|bn", value_parser = parse_variant_arg)]
    pub variant: Vec<VariantArg>,
    /// Which branch each ActorAtn entry multiplies, e.g. identity,relu,prelu,hardswish
    /// [default: origin/bn identity,relu,hardswish,prelu; softmax identity,relu,prelu,hardswish].
    #[arg(long, value_name = "B0,B1,B2,B3", value_parser = BranchOrder::parse_list)]
    pub branch_order: Option<BranchOrder>,
}

/// One `--variant` value: a default, or one layer's variant.
#[derive(Clone, Debug)]
pub enum VariantArg {
    /// `--variant V`.
    Default(Variant),
    /// `--variant LAYER=V`.
    Layer(String, Variant),
}

fn parse_variant_arg(s: &str) -> std::result::Result<VariantArg, String> {
    // Layer names may hold `=`, variant names never do.
    match s.rsplit_once('=') {
        Some((layer, v)) if !layer.is_empty() => {
            Ok(VariantArg::Layer(layer.to_string(), v.parse()?))
        }
        Some(_) => Err(format!("`{s}`: expected LAYER=origin|softmax|bn")),
        None => Ok(VariantArg::Default(s.parse()?)),
    }
}

impl WeightsArgs {
    /// What `--variant` and `--branch-order` say (after [`WeightsArgs::check`]).
    fn load_options(&self) -> LoadOptions {
        let mut opts = LoadOptions {
            branch_order: self.branch_order,
            ..LoadOptions::default()
        };
        for v in &self.variant {
            match v {
                VariantArg::Default(v) => opts.variant = Some(*v),
                VariantArg::Layer(name, v) => opts.layer_variants.push((name.clone(), *v)),
            }
        }
        opts
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

    /// Refuses contradictory `--variant`s: two defaults, or two for one layer.
    fn check(&self) -> Result<()> {
        let mut default: Option<Variant> = None;
        let mut layers: Vec<(&str, Variant)> = Vec::new();
        for v in &self.variant {
            let clash = match v {
                VariantArg::Default(v) => default.replace(*v).map(|old| format!("--variant {old} and --variant {v}: give one default variant (and LAYER=VARIANT for single layers)")),
                VariantArg::Layer(name, v) => match layers.iter().find(|(n, _)| n == name) {
                    Some((_, old)) => Some(format!("--variant {name}={old} and --variant {name}={v}: one variant per layer")),
                    None => {
                        layers.push((name, *v));
                        None
                    }
                },
            };
            if let Some(reason) = clash {
                return Err(repact_hw::Error::Usage(reason));
            }
        }
        Ok(())
    }
}

/// Names the weights file in a datapath refusal (`Error::Spec` knows only the layer): the
/// quantizer's "no coefficient format meets …" and "--max-coef-width" messages then say which
/// file they are about.
pub fn name_weights_file(e: repact_hw::Error, file: &std::path::Path) -> repact_hw::Error {
    match e {
        repact_hw::Error::Spec { layer, reason } => repact_hw::Error::Weights {
            file: file.to_path_buf(),
            layer: Some(layer),
            field: None,
            reason,
        },
        other => other,
    }
}

/// `--max-error-ulp`: a finite number of ULPs above the 0.5 that output rounding costs.
fn parse_max_error_ulp(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if !v.is_finite() {
        return Err(format!(
            "`{s}` is not a finite number: the budget must be a finite number of output ULPs \
             (above 0.5, which output rounding alone can cost)"
        ));
    }
    if v <= 0.5 {
        return Err(format!(
            "{v} cannot be met: rounding to the output format alone can cost 0.5 ULP; ask for \
             more than 0.5"
        ));
    }
    Ok(v)
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
    #[arg(long, value_name = "ULP", default_value_t = DEFAULT_MAX_ERROR_ULP,
          value_parser = parse_max_error_ulp)]
    pub max_error_ulp: f64,
    /// Largest width of a multiplier operand (c2 and t). A multiply wider than one DSP48E1
    /// (25 x 18 signed) is split across slices; the search takes the fewest slices first.
    #[arg(long, value_name = "BITS", default_value_t = DEFAULT_MAX_COEF_WIDTH)]
    pub max_coef_width: u32,
    /// Datapath of smooth (fitted) activations: auto = the cheaper by estimated cost, poly =
    /// table-indexed polynomial segments, rom = a table of every correctly rounded output
    /// (inputs of at most 16 bits). Exact activations and RepAct always use comparators.
    #[arg(long, value_enum, default_value_t = DatapathChoice::Auto)]
    pub datapath: DatapathChoice,
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
    // SIGINT/SIGTERM remove staging output and exit 130.
    repact_hw::staging::remove_on_signal()
        .map_err(|e| Failure::Run(repact_hw::Error::Internal(e)))?;
    dispatch(cli).map_err(Failure::Run)
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    let weights = |w: &WeightsArgs, run: &dyn Fn() -> Result<ExitCode>| {
        w.check()?;
        run().map_err(|e| match &w.weights {
            Some(file) => name_weights_file(e, file),
            None => e,
        })
    };
    match cli.command {
        Command::Inspect(args) => weights(&args.weights, &|| inspect::run(&args)),
        Command::Eval(args) => weights(&args.weights, &|| eval::run(&args)),
        Command::Gen(args) => weights(&args.weights, &|| gen::run(&args)),
        Command::Verify(args) => verify::run(&args),
    }
}
