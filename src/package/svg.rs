//! The per-layer plot, `plots/<layer>.svg`: the f64 function and the hardware's output over the
//! whole input range, and beneath it the error in output ULP. Built as an [`Element`] tree.
//!
//! The input range has up to 2^24 points and the plot some hundreds of pixel columns, so each
//! column shows the error's minimum and maximum over all inputs that fall in it (a filled
//! envelope): no error spike is lost to sampling.

use super::xml::Element;
use crate::fixedpoint::DatapathSpec;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 560.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP_PANEL: (f64, f64) = (40.0, 330.0);
const BOTTOM_PANEL: (f64, f64) = (380.0, 520.0);
const COLUMNS: usize = 710;

fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    if s == "-0.00" {
        "0.00".into()
    } else {
        s
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks.
fn tick_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// Tick positions and their labels, with as many decimals as the step needs.
fn ticks(lo: f64, hi: f64, target: f64) -> Vec<(f64, String)> {
    let step = tick_step(hi - lo, target);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            let text = format!("{:.*}", decimals, v);
            let text =
                if text.starts_with('-') && text.trim_start_matches(['-', '0', '.']).is_empty() {
                    text[1..].to_string()
                } else {
                    text
                };
            (v, text)
        })
        .collect()
}

/// A linear map from data to pixels on one axis.
#[derive(Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
}

impl Scale {
    fn at(self, v: f64) -> f64 {
        self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }
}

fn text(x: f64, y: f64, anchor: &str, s: &str) -> Element {
    Element::leaf("text", s)
        .attr("x", num(x))
        .attr("y", num(y))
        .attr("text-anchor", anchor)
}

fn polyline(points: &[(f64, f64)], stroke: &str, extra: &[(&str, &str)]) -> Element {
    let pts: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
        .collect();
    let mut e = Element::new("polyline")
        .attr("points", pts.join(" "))
        .attr("fill", "none")
        .attr("stroke", stroke);
    for (k, v) in extra {
        e = e.attr(k, v);
    }
    e
}

/// Axes, grid and labels of one panel.
fn panel(xs: Scale, ys: Scale, y_label: &str, x_label: Option<&str>) -> Element {
    let mut g = Element::new("g").attr("class", "axes");
    g.push(
        Element::new("rect")
            .attr("x", num(xs.p0))
            .attr("y", num(ys.p1))
            .attr("width", num(xs.p1 - xs.p0))
            .attr("height", num(ys.p0 - ys.p1))
            .attr("fill", "none")
            .attr("stroke", "#444"),
    );
    for (t, t_label) in ticks(xs.d0, xs.d1, 8.0) {
        let x = xs.at(t);
        g.push(
            Element::new("line")
                .attr("x1", num(x))
                .attr("x2", num(x))
                .attr("y1", num(ys.p1))
                .attr("y2", num(ys.p0))
                .attr("stroke", "#ddd"),
        );
        g.push(text(x, ys.p0 + 16.0, "middle", &t_label));
    }
    for (t, t_label) in ticks(ys.d0, ys.d1, 6.0) {
        let y = ys.at(t);
        g.push(
            Element::new("line")
                .attr("x1", num(xs.p0))
                .attr("x2", num(xs.p1))
                .attr("y1", num(y))
                .attr("y2", num(y))
                .attr("stroke", "#ddd"),
        );
        g.push(text(xs.p0 - 6.0, y + 4.0, "end", &t_label));
    }
    let mid = (ys.p0 + ys.p1) / 2.0;
    g.push(
        text(16.0, mid, "middle", y_label)
            .attr("transform", format!("rotate(-90 16 {})", num(mid))),
    );
    if let Some(l) = x_label {
        g.push(text((xs.p0 + xs.p1) / 2.0, ys.p0 + 34.0, "middle", l));
    }
    g
}

/// The plot of channel `channel` of layer `layer` of `spec`.
pub fn plot(spec: &DatapathSpec, layer: usize, channel: usize, title: &str) -> String {
    let (inp, out) = (spec.input(), spec.output());
    let (lo, hi) = (inp.min_raw(), inp.max_raw());
    let n = (hi - lo + 1) as usize;
    let cols = COLUMNS.min(n);
    // Per column: the input at its middle, the function and output there, and the error range.
    let mut f = Vec::with_capacity(cols);
    let mut hw = Vec::with_capacity(cols);
    let mut err = Vec::with_capacity(cols);
    for c in 0..cols {
        let a = lo + (c * n / cols) as i64;
        let b = lo + ((c + 1) * n / cols) as i64 - 1;
        let mid = a + (b - a) / 2;
        let (mut emin, mut emax) = (f64::INFINITY, f64::NEG_INFINITY);
        for x in a..=b {
            let e = (out.to_f64(spec.eval_raw(layer, channel, x))
                - spec.reference(layer, channel, x))
                / out.ulp();
            emin = emin.min(e);
            emax = emax.max(e);
        }
        let x = inp.to_f64(mid);
        f.push((x, spec.reference(layer, channel, mid)));
        hw.push((x, out.to_f64(spec.eval_raw(layer, channel, mid))));
        err.push((x, emin, emax));
    }
    let (xmin, xmax) = inp.range();
    let xs = Scale {
        d0: xmin,
        d1: xmax,
        p0: LEFT,
        p1: WIDTH - RIGHT,
    };
    let (ymin, ymax) = f
        .iter()
        .chain(&hw)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &(_, y)| {
            (a.min(y), b.max(y))
        });
    let pad = ((ymax - ymin) * 0.05).max(out.ulp());
    let ys = Scale {
        d0: ymin - pad,
        d1: ymax + pad,
        p0: TOP_PANEL.1,
        p1: TOP_PANEL.0,
    };
    let emax = err
        .iter()
        .fold(0.5f64, |m, &(_, a, b)| m.max(a.abs()).max(b.abs()))
        * 1.1;
    let es = Scale {
        d0: -emax,
        d1: emax,
        p0: BOTTOM_PANEL.1,
        p1: BOTTOM_PANEL.0,
    };
    let px = |pts: &[(f64, f64)], s: Scale| -> Vec<(f64, f64)> {
        pts.iter().map(|&(x, y)| (xs.at(x), s.at(y))).collect()
    };
    // The envelope: along the maxima left to right, back along the minima.
    let mut envelope: Vec<(f64, f64)> = err.iter().map(|&(x, _, b)| (x, b)).collect();
    envelope.extend(err.iter().rev().map(|&(x, a, _)| (x, a)));
    let env_pts: Vec<String> = px(&envelope, es)
        .iter()
        .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
        .collect();
    let half = |v: f64| {
        Element::new("line")
            .attr("x1", num(xs.p0))
            .attr("x2", num(xs.p1))
            .attr("y1", num(es.at(v)))
            .attr("y2", num(es.at(v)))
            .attr("stroke", "#c33")
            .attr("stroke-dasharray", "4 3")
    };
    let root = Element::new("svg")
        .attr("xmlns", "http://www.w3.org/2000/svg")
        .attr("width", WIDTH)
        .attr("height", HEIGHT)
        .attr("viewBox", format!("0 0 {WIDTH} {HEIGHT}"))
        .attr("font-family", "sans-serif")
        .attr("font-size", "11")
        .child(Element::leaf("title", title))
        .child(
            Element::new("rect")
                .attr("width", WIDTH)
                .attr("height", HEIGHT)
                .attr("fill", "white"),
        )
        .child(text(WIDTH / 2.0, 22.0, "middle", title).attr("font-size", "14"))
        .child(panel(xs, ys, "f(x)", None))
        .child(polyline(&px(&f, ys), "#1f77b4", &[("stroke-width", "2")]))
        .child(polyline(
            &px(&hw, ys),
            "#ff7f0e",
            &[("stroke-width", "1"), ("stroke-dasharray", "5 3")],
        ))
        .child(
            text(
                xs.p0 + 10.0,
                TOP_PANEL.0 + 16.0,
                "start",
                "f64 function (saturated)",
            )
            .attr("fill", "#1f77b4"),
        )
        .child(
            text(
                xs.p0 + 10.0,
                TOP_PANEL.0 + 30.0,
                "start",
                &format!("hardware output, {out}"),
            )
            .attr("fill", "#ff7f0e"),
        )
        .child(panel(
            xs,
            es,
            "error (ULP)",
            Some(&format!("x ({inp}, every input)")),
        ))
        .child(
            Element::new("polygon")
                .attr("points", env_pts.join(" "))
                .attr("fill", "#2ca02c")
                .attr("fill-opacity", "0.5")
                .attr("stroke", "#2ca02c")
                .attr("stroke-width", "0.5"),
        )
        .child(half(0.5))
        .child(half(-0.5))
        .child(
            text(
                xs.p1 - 6.0,
                BOTTOM_PANEL.0 - 6.0,
                "end",
                "error range per pixel column; dashed: +/-0.5 ULP",
            )
            .attr("fill", "#555"),
        );
    super::xml::render_document(&root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        let labels = |t: Vec<(f64, String)>| t.into_iter().map(|(_, s)| s).collect::<Vec<_>>();
        assert_eq!(
            labels(ticks(-32.0, 32.0, 8.0)),
            ["-30", "-20", "-10", "0", "10", "20", "30"]
        );
        assert_eq!(
            labels(ticks(-0.6, 0.6, 6.0)),
            ["-0.6", "-0.4", "-0.2", "0.0", "0.2", "0.4", "0.6"]
        );
    }
}
