//! `repact-hw eval`: quantize a real tensor, run the golden model, write the result.

use super::{FormatArgs, WeightsArgs};
use clap::Args;
use repact_hw::fit::build::{build_fitted, smooth_activation};
use repact_hw::fixedpoint::DatapathSpec;
use repact_hw::model::fold;
use repact_hw::{tensor, Error, Result};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `eval`.
#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub(super) weights: WeightsArgs,
    /// The layer to run (its state-dict prefix or JSON name) [default: the only layer].
    #[arg(long)]
    layer: Option<String>,
    /// Input tensor, float32 or float64 .npy of any shape.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Where to write the dequantized float32 result (same shape).
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
    /// Axis of the channel dimension, for layers with per-channel PReLU [default: 1 (NCHW)].
    #[arg(long, value_name = "AXIS")]
    channel_axis: Option<usize>,
    /// Another tensor to compare with, e.g. PyTorch's own output of the layer.
    #[arg(long, value_name = "FILE")]
    reference: Option<PathBuf>,
    #[command(flatten)]
    formats: FormatArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Absolute error statistics.
#[derive(Default)]
struct ErrStats {
    max: f64,
    sum: f64,
    n: usize,
}

impl ErrStats {
    fn add(&mut self, e: f64) {
        self.max = self.max.max(e.abs());
        self.sum += e.abs();
        self.n += 1;
    }
    fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }
    fn json(&self, ulp: f64) -> serde_json::Value {
        json!({"max_abs": self.max, "mean_abs": self.mean(), "max_ulp": self.max / ulp})
    }
}

/// Elements per chunk: eval holds a few chunks of this size, whatever the tensor's size.
const CHUNK: usize = 1 << 16;

/// Which channel each element of the input (in file order) belongs to.
struct Channels {
    /// Elements between consecutive channels along the channel axis, in file order.
    inner: u64,
    count: u64,
}

impl Channels {
    fn of(&self, i: u64) -> usize {
        ((i / self.inner) % self.count) as usize
    }
}

fn channel_layout(
    header: &tensor::NpyHeader,
    channels: usize,
    axis: Option<usize>,
    layer: &str,
) -> Result<Channels> {
    let shape = &header.shape;
    if channels == 1 {
        if let Some(axis) = axis {
            // A warning, not an error: scripts that pass the axis for every layer of a
            // network keep working on its single-slope layers.
            eprintln!(
                "warning: --channel-axis {axis} ignored: layer `{layer}` has a single PReLU \
                 slope, so every element uses the same coefficients"
            );
        }
        return Ok(Channels { inner: 1, count: 1 });
    }
    let axis = axis.unwrap_or(1);
    let dim = shape.get(axis).copied().ok_or_else(|| {
        Error::Usage(format!(
            "layer `{layer}` has {channels} channels but the input has no axis {axis} (shape {shape:?}); \
             pass --channel-axis"
        ))
    })?;
    if dim != channels {
        return Err(Error::Usage(format!(
            "layer `{layer}` has {channels} channels but input axis {axis} has length {dim} \
             (shape {shape:?}); pass --channel-axis"
        )));
    }
    // Row-major files vary the last axis fastest, column-major ones the first.
    let faster = if header.fortran_order {
        &shape[..axis]
    } else {
        &shape[axis + 1..]
    };
    Ok(Channels {
        inner: faster.iter().map(|&d| d as u64).product::<u64>().max(1),
        count: channels as u64,
    })
}

fn order_name(h: &tensor::NpyHeader) -> &'static str {
    if h.fortran_order {
        "column-major, the file's order"
    } else {
        "row-major"
    }
}

/// Refuses a non-finite element of `chunk` (element `first` is the chunk's first).
fn check_finite(
    chunk: &[f64],
    first: u64,
    file: &std::path::Path,
    h: &tensor::NpyHeader,
    what: &str,
) -> Result<()> {
    match chunk.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::Tensor {
            file: file.to_path_buf(),
            reason: format!(
                "element {} ({}) is {}: {what} must hold finite numbers",
                first + i as u64,
                order_name(h),
                chunk[i]
            ),
        }),
        None => Ok(()),
    }
}

pub fn run(args: &EvalArgs) -> Result<ExitCode> {
    let net = args.weights.network()?;
    let layer = match &args.layer {
        Some(name) => net.layer(name)?,
        None if net.layers.len() == 1 => &net.layers[0],
        None => {
            return Err(Error::Usage(format!(
                "{} has {} layers; say which with --layer",
                net.source.display(),
                net.layers.len()
            )))
        }
    };
    let opts = args.formats.spec_options();
    let spec = match smooth_activation(layer) {
        Some(a) => build_fitted(&layer.name, a, &opts, args.formats.datapath)?.spec,
        None => DatapathSpec::build(&[fold(layer)?], &opts)?,
    };
    let mut input = tensor::NpyReader::open(&args.input)?;
    let header = input.header().clone();
    let mut reference = match &args.reference {
        Some(p) => {
            let r = tensor::NpyReader::open(p)?;
            let rh = r.header();
            if rh.shape != header.shape {
                return Err(Error::Tensor {
                    file: p.clone(),
                    reason: format!(
                        "shape {:?} differs from the input's {:?}",
                        rh.shape, header.shape
                    ),
                });
            }
            if rh.fortran_order != header.fortran_order {
                return Err(Error::Tensor {
                    file: p.clone(),
                    reason: format!(
                        "its elements are stored {} but the input's {}; save both in the same \
                         order (numpy.ascontiguousarray)",
                        order_name(rh),
                        order_name(&header)
                    ),
                });
            }
            Some(r)
        }
        None => None,
    };
    let channels = channel_layout(
        &header,
        spec.layers()[0].channels(),
        args.channel_axis,
        &layer.name,
    )?;
    let mut out = tensor::NpyWriter::create(&args.output, &header.shape, header.fortran_order)?;

    let (fin, fout) = (spec.input(), spec.output());
    let folded = &spec.layers()[0].folded;
    let (mut vs_quantized, mut vs_float, mut vs_ref) = (
        ErrStats::default(),
        ErrStats::default(),
        ErrStats::default(),
    );
    let (mut x, mut r, mut y) = (Vec::new(), Vec::new(), Vec::with_capacity(CHUNK));
    let mut raw = Vec::with_capacity(CHUNK);
    let mut seconds = 0.0;
    let mut first = 0u64;
    while input.read_chunk(&mut x, CHUNK)? > 0 {
        check_finite(&x, first, &args.input, &header, "the input")?;
        if let (Some(rr), Some(p)) = (&mut reference, &args.reference) {
            rr.read_chunk(&mut r, CHUNK)?;
            check_finite(&r, first, p, &header, "a reference")?;
        }
        let start = Instant::now();
        raw.clear();
        raw.extend(x.iter().enumerate().map(|(k, &v)| {
            let c = channels.of(first + k as u64);
            let ri = fin.quantize(v).unwrap_or(0);
            (c, ri, spec.eval_raw(0, c, ri))
        }));
        seconds += start.elapsed().as_secs_f64();
        y.clear();
        for (k, &(c, ri, ro)) in raw.iter().enumerate() {
            let o = fout.to_f64(ro);
            y.push(o as f32);
            vs_quantized.add(o - spec.reference(0, c, ri));
            vs_float.add(o - folded.eval(c, x[k]));
            if reference.is_some() {
                vs_ref.add(o - r[k]);
            }
        }
        out.write(&y)?;
        first += x.len() as u64;
    }
    out.finish()?;

    let ulp = fout.ulp();
    let bound = spec.layers()[0].bound;
    let values = header.len();
    let rate = values as f64 / seconds.max(1e-9);
    if args.json {
        let doc = json!({
            "layer": layer.name,
            "values": values,
            "shape": header.shape,
            "input_format": fin.to_string(),
            "output_format": fout.to_string(),
            "error_vs_f64_at_quantized_input": vs_quantized.json(ulp),
            "error_vs_f64_at_float_input": vs_float.json(ulp),
            "error_vs_reference": reference.as_ref().map(|_| vs_ref.json(ulp)),
            "proven_bound_ulp": bound.total_ulp,
            "golden_model_seconds": seconds,
            "values_per_second": rate,
            "output": args.output.display().to_string(),
        });
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default())?;
    } else {
        outln!(
            "layer {}: {} values, {} -> {}, written to {}",
            layer.name,
            values,
            fin,
            fout,
            args.output.display()
        )?;
        outln!(
            "  vs f64 at the quantized input: max {:.3e} ({:.4} ULP, proven bound {:.4} ULP), mean {:.3e}",
            vs_quantized.max,
            vs_quantized.max / ulp,
            bound.total_ulp,
            vs_quantized.mean()
        )?;
        outln!(
            "  vs f64 at the float input:     max {:.3e} ({:.4} ULP), mean {:.3e}",
            vs_float.max,
            vs_float.max / ulp,
            vs_float.mean()
        )?;
        if reference.is_some() {
            outln!(
                "  vs reference tensor:           max {:.3e} ({:.4} ULP), mean {:.3e}",
                vs_ref.max,
                vs_ref.max / ulp,
                vs_ref.mean()
            )?;
        }
        outln!("  golden model: {:.1} M values/s", rate / 1e6)?;
    }
    Ok(ExitCode::SUCCESS)
}
