//! `repact-hw eval`: quantize a real tensor, run the golden model, write the result.

use super::{FormatArgs, WeightsArgs};
use clap::Args;
use ndarray::{ArrayD, Axis};
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
    weights: WeightsArgs,
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

/// The channel index of every element of `x`, in its logical (row-major) order.
fn channel_indices(
    x: &ArrayD<f64>,
    channels: usize,
    axis: Option<usize>,
    layer: &str,
) -> Result<Vec<usize>> {
    if channels == 1 {
        return Ok(vec![0; x.len()]);
    }
    let axis = axis.unwrap_or(1);
    let dim = x.shape().get(axis).copied().ok_or_else(|| {
        Error::Usage(format!(
            "layer `{layer}` has {channels} channels but the input has no axis {axis} (shape {:?}); \
             pass --channel-axis",
            x.shape()
        ))
    })?;
    if dim != channels {
        return Err(Error::Usage(format!(
            "layer `{layer}` has {channels} channels but input axis {axis} has length {dim} \
             (shape {:?}); pass --channel-axis",
            x.shape()
        )));
    }
    let mut idx = ArrayD::<usize>::zeros(x.raw_dim());
    for (c, mut lane) in idx.axis_iter_mut(Axis(axis)).enumerate() {
        lane.fill(c);
    }
    Ok(idx.iter().copied().collect())
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
    let spec = DatapathSpec::build(&[fold(layer)?], &args.formats.spec_options())?;
    let x = tensor::read_npy(&args.input)?;
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Tensor {
            file: args.input.clone(),
            reason: format!("element {i} (row-major) is not a finite number"),
        });
    }
    let reference = match &args.reference {
        Some(p) => {
            let r = tensor::read_npy(p)?;
            if r.shape() != x.shape() {
                return Err(Error::Tensor {
                    file: p.clone(),
                    reason: format!(
                        "shape {:?} differs from the input's {:?}",
                        r.shape(),
                        x.shape()
                    ),
                });
            }
            Some(r.iter().copied().collect::<Vec<f64>>())
        }
        None => None,
    };
    let channels = channel_indices(
        &x,
        spec.layers()[0].channels(),
        args.channel_axis,
        &layer.name,
    )?;

    let (fin, fout) = (spec.input(), spec.output());
    let start = Instant::now();
    let raw_in: Vec<i64> = x.iter().map(|&v| fin.quantize(v).unwrap_or(0)).collect();
    let raw_out: Vec<i64> = raw_in
        .iter()
        .zip(&channels)
        .map(|(&r, &c)| spec.eval_raw(0, c, r))
        .collect();
    let seconds = start.elapsed().as_secs_f64();

    let y = ArrayD::from_shape_vec(
        x.raw_dim(),
        raw_out.iter().map(|&r| fout.to_f64(r) as f32).collect(),
    )
    .map_err(|e| Error::Internal(format!("output tensor shape: {e}")))?;

    let (mut vs_quantized, mut vs_float, mut vs_ref) = (
        ErrStats::default(),
        ErrStats::default(),
        ErrStats::default(),
    );
    let folded = &spec.layers()[0].folded;
    for (i, ((&xv, &ri), &ro)) in x.iter().zip(&raw_in).zip(&raw_out).enumerate() {
        let out = fout.to_f64(ro);
        vs_quantized.add(out - spec.reference(0, channels[i], ri));
        vs_float.add(out - folded.eval(channels[i], xv));
        if let Some(r) = &reference {
            vs_ref.add(out - r[i]);
        }
    }
    tensor::write_npy_f32(&args.output, &y)?;

    let ulp = fout.ulp();
    let bound = spec.layers()[0].bound;
    let rate = x.len() as f64 / seconds.max(1e-9);
    if args.json {
        let doc = json!({
            "layer": layer.name,
            "values": x.len(),
            "shape": x.shape(),
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
            x.len(),
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
