//! The datapath spec as one IR, and its table-indexed and ROM variants: the golden model
//! (fused fast path and step-by-step interpreter alike) against an independent exact i128
//! evaluation for random tables, the exhaustive budget of fitted SiLU and Sigmoid, the ROM's
//! correct rounding, refusals, determinism, and the stage list every renderer reads.

use proptest::prelude::*;
use repact_hw::fixedpoint::{
    output_quantization, ApFixed, BoundKind, DatapathSpec, OuterSegments, RealFn, SegmentSelect,
    SpecOptions, TableRequest,
};
use repact_hw::model::FoldedLayer;
use repact_hw::Error;
use std::sync::Arc;

fn fmt(w: u32, i: i32) -> ApFixed {
    ApFixed::new(w, i).unwrap()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn elu(x: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        x.exp_m1()
    }
}

fn silu(x: f64) -> f64 {
    x * sigmoid(x)
}

/// Least-squares polynomial of degree `deg` (1 or 2) in the offset `u` over the `2^s` codes of
/// a segment starting at raw `lo`: the normal equations, solved by Gaussian elimination.
#[allow(clippy::needless_range_loop)] // row and column indices of one small matrix
fn fit_segment(f: &dyn Fn(f64) -> f64, input: ApFixed, lo: i64, s: u32, deg: usize) -> [f64; 3] {
    let n = deg + 1;
    let mut a = [[0.0f64; 4]; 3];
    for r in 0..(1i64 << s) {
        let u = input.to_f64(r);
        let y = f(input.to_f64(lo + r));
        let pw = [1.0, u, u * u];
        for i in 0..n {
            for j in 0..n {
                a[i][j] += pw[i] * pw[j];
            }
            a[i][3] += pw[i] * y;
        }
    }
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, p);
        for r in 0..n {
            if r != c && a[c][c] != 0.0 {
                let k = a[r][c] / a[c][c];
                for j in 0..4 {
                    a[r][j] -= k * a[c][j];
                }
            }
        }
    }
    let mut out = [0.0; 3];
    for i in 0..n {
        out[i] = if a[i][i] == 0.0 {
            0.0
        } else {
            a[i][3] / a[i][i]
        };
    }
    out
}

/// A table request for `f` over the core interval `[lo, lo + 2^(k+s))`, outer pieces constant
/// polynomials `below` and `above` (each `[c0, c1, c2]` in x).
#[allow(clippy::too_many_arguments)] // a test helper spelling out every knob
fn table_for(
    f: &dyn Fn(f64) -> f64,
    input: ApFixed,
    lo: i64,
    k: u32,
    s: u32,
    degree: u32,
    below: [f64; 3],
    above: [f64; 3],
) -> TableRequest {
    let polys = (0..1i64 << k)
        .map(|i| fit_segment(f, input, lo + (i << s), s, degree as usize))
        .collect();
    let outer = |p: [f64; 3], empty: bool| OuterSegments {
        thresholds: Vec::new(),
        polys: if empty { Vec::new() } else { vec![p] },
    };
    TableRequest {
        lo_raw: lo,
        index_bits: k,
        offset_bits: s,
        degree,
        polys,
        below: outer(below, lo == input.min_raw()),
        above: outer(above, lo + (1i64 << (k + s)) - 1 == input.max_raw()),
    }
}

/// SiLU at ap_fixed<16,6>: 128 quadratic segments of 0.25 over [-16, 16), 0 below, x above.
fn silu_16_6() -> (TableRequest, SpecOptions) {
    let f = fmt(16, 6);
    let req = table_for(&silu, f, -16 << 10, 7, 8, 2, [0.0; 3], [0.0, 1.0, 0.0]);
    (req, SpecOptions::with_formats(f, f))
}

fn arc(f: fn(f64) -> f64) -> RealFn {
    Arc::new(f)
}

/// Exact evaluation straight from the documented table semantics, in i128, never wrapping:
/// segment by the geometry, `v` = offset inside a table segment (else x), Horner with floors.
fn exact_i128(spec: &DatapathSpec, x: i64) -> i64 {
    let l = &spec.layers()[0];
    let SegmentSelect::Table(g) = *spec.select() else {
        panic!("not a table spec")
    };
    let hi = g.lo_raw + (1i64 << (g.index_bits + g.offset_bits));
    let (seg, v) = if x < g.lo_raw {
        let below_th: Vec<i64> = l.segments[..g.outer_below].iter().map(|s| s.lo).collect();
        (below_th.iter().filter(|&&t| x >= t).count() - 1, x)
    } else if x < hi {
        let i = ((x - g.lo_raw) >> g.offset_bits) as usize;
        (
            g.outer_below + i,
            (x - g.lo_raw) & ((1i64 << g.offset_bits) - 1),
        )
    } else {
        let first = g.outer_below + (1usize << g.index_bits);
        let above_th: Vec<i64> = l.segments[first..].iter().map(|s| s.lo).collect();
        (first + above_th.iter().filter(|&&t| x >= t).count() - 1, x)
    };
    let c = l.coefs[0][seg];
    let v = v as i128;
    let t = (c.c2 as i128 * v + c.k1 as i128).div_euclid(1i128 << spec.shift1());
    let y = t * v + c.k0 as i128;
    let q = y.div_euclid(1i128 << spec.shift2());
    let out = spec.output();
    q.clamp(out.min_raw() as i128, out.max_raw() as i128) as i64
}

fn all_inputs(f: ApFixed) -> impl Iterator<Item = i64> {
    f.min_raw()..=f.max_raw()
}

/// The largest error in output ULP over every input code, measured here independently.
fn max_error(spec: &DatapathSpec, f: &dyn Fn(f64) -> f64) -> f64 {
    let (i, o) = (spec.input(), spec.output());
    all_inputs(i)
        .map(|x| {
            (o.to_f64(spec.eval_raw(0, 0, x)) - o.saturate_f64(f(i.to_f64(x)))).abs() / o.ulp()
        })
        .fold(0.0, f64::max)
}

#[test]
fn silu_table_meets_the_budget_on_all_2_pow_16_inputs() {
    let (req, opts) = silu_16_6();
    let spec = DatapathSpec::build_table("act.silu", "silu", arc(silu), &req, &opts).unwrap();
    let l = &spec.layers()[0];
    assert_eq!(l.bound_kind, BoundKind::MeasuredOnAllInputs);
    let measured = max_error(&spec, &silu);
    assert_eq!(
        measured, l.bound.total_ulp,
        "the spec stores what it measured"
    );
    assert!(measured <= 0.5625, "{measured}");
    assert!(measured > 0.45, "a non-vacuous measurement: {measured}");
    for x in all_inputs(opts.input) {
        assert_eq!(spec.eval_raw(0, 0, x), exact_i128(&spec, x), "x = {x}");
        assert_eq!(spec.eval_raw(0, 0, x), spec.eval_raw_unfused(0, 0, x));
    }
    let w = spec.widths();
    eprintln!(
        "silu: c2 {} t {} k1 {} k0 {} p1 {} p2 {} bits, measured {measured:.4} ULP",
        w.c2, w.t, w.k1, w.k0, w.p1, w.p2
    );
    assert!(w.c2 <= 25 && w.t <= 25);
}

#[test]
fn sigmoid_linear_table_meets_the_budget() {
    let f = fmt(16, 6);
    // Degree 1 needs short segments: 512 of 1/32 over [-8, 8).
    let req = table_for(&sigmoid, f, -8 << 10, 9, 5, 1, [0.0; 3], [1.0, 0.0, 0.0]);
    let opts = SpecOptions::with_formats(f, f);
    let spec = DatapathSpec::build_table("sig", "sigmoid", arc(sigmoid), &req, &opts).unwrap();
    assert!(spec.layers()[0].coefs[0].iter().all(|c| c.c2 == 0));
    assert!(max_error(&spec, &sigmoid) <= 0.5625);
}

#[test]
fn a_table_too_coarse_for_the_budget_is_refused_naming_what_is_needed() {
    let f = fmt(16, 6);
    let req = table_for(&silu, f, -16 << 10, 3, 12, 2, [0.0; 3], [0.0, 1.0, 0.0]);
    let opts = SpecOptions::with_formats(f, f);
    let Err(Error::Spec { layer, reason }) =
        DatapathSpec::build_table("act.silu", "silu", arc(silu), &req, &opts)
    else {
        panic!("8 segments of 4.0 cannot meet 0.5625 ULP")
    };
    assert_eq!(layer, "act.silu");
    assert!(
        reason.contains("measured on all 2^16 inputs") && reason.contains("more segments"),
        "{reason}"
    );
}

#[test]
fn malformed_table_requests_are_refused() {
    let (mut req, opts) = silu_16_6();
    req.lo_raw += 3;
    let msg = DatapathSpec::build_table("a", "silu", arc(silu), &req, &opts)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not a multiple of 2^8"), "{msg}");
    let (mut req, _) = silu_16_6();
    req.polys.pop();
    let msg = DatapathSpec::build_table("a", "silu", arc(silu), &req, &opts)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("need 128 polynomials, got 127"), "{msg}");
    let (mut req, _) = silu_16_6();
    req.degree = 1;
    let msg = DatapathSpec::build_table("a", "silu", arc(silu), &req, &opts)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("but the degree is 1"), "{msg}");
}

#[test]
fn table_specs_are_deterministic_and_serialize_the_stage_list() {
    let (req, opts) = silu_16_6();
    let a = DatapathSpec::build_table("a", "silu", arc(silu), &req, &opts).unwrap();
    let b = DatapathSpec::build_table("a", "silu", arc(silu), &req, &opts).unwrap();
    let (ja, jb) = (
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap(),
    );
    assert_eq!(ja, jb);
    assert_eq!(a, b);
    for key in [
        "\"pipeline\"",
        "\"op\":\"offset\"",
        "\"kind\":\"table\"",
        "\"rounding\":\"HalfUp\"",
        "\"overflow\":\"Saturate\"",
        "\"digest\"",
    ] {
        assert!(ja.contains(key), "{key} missing");
    }
    assert_eq!(a.latency(), a.pipeline().len());
    assert_eq!(a.latency(), 6);
}

#[test]
fn rom_is_correctly_rounded_on_every_input() {
    let f = fmt(8, 3);
    let opts = SpecOptions::with_formats(f, f);
    for (name, func) in [("sigmoid", sigmoid as fn(f64) -> f64), ("silu", silu)] {
        let spec = DatapathSpec::build_rom("r", name, arc(func), &opts).unwrap();
        assert_eq!(*spec.select(), SegmentSelect::Rom);
        assert_eq!(spec.latency(), 3);
        for x in all_inputs(f) {
            // Independent: nearest with ties toward +inf in exact rational terms, then clamp.
            let v = func(f.to_f64(x)) * 32.0;
            let expect = ((v + 0.5).floor() as i64).clamp(f.min_raw(), f.max_raw());
            assert_eq!(spec.eval_raw(0, 0, x), expect, "{name} x = {x}");
        }
        let e = max_error(&spec, &func);
        assert!(e <= 0.5, "{name}: {e}");
        assert_eq!(e, spec.layers()[0].bound.total_ulp);
    }
}

#[test]
fn code_unit_polynomials_convert_exactly() {
    let f = fmt(16, 6);
    let c = TableRequest::poly_from_code_units([0.5, 0.25, 0.125], f);
    let n = 37.0;
    let u = n * f.ulp();
    assert_eq!(0.5 + n * (0.25 + 0.125 * n), c[0] + u * (c[1] + c[2] * u));
}

#[test]
fn rom_refuses_wide_inputs() {
    let f = fmt(18, 6);
    let msg = DatapathSpec::build_rom("wide", "silu", arc(silu), &SpecOptions::with_formats(f, f))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("wide") && msg.contains("at most 16 bits"),
        "{msg}"
    );
}

#[test]
fn rounding_and_overflow_print_one_vocabulary() {
    assert_eq!(output_quantization(), "AP_RND / AP_SAT");
    let f = fmt(16, 6);
    let l = FoldedLayer {
        name: "hs".into(),
        variant: "piecewise".into(),
        breakpoints: vec![-3.0, 3.0],
        segments: vec![vec![[0.0; 3], [0.0, 0.5, 1.0 / 6.0], [0.0, 1.0, 0.0]]],
    };
    let spec = DatapathSpec::build(&[l], &SpecOptions::with_formats(f, f)).unwrap();
    assert_eq!(spec.rounding2().to_string(), "AP_RND");
    assert_eq!(spec.output_overflow().to_string(), "AP_SAT");
    assert_eq!(spec.latency(), 6);
}

/// A random table: geometry inside the format, random polynomials; the reference is the
/// table's own f64 piecewise polynomial, so the budget is met by quantization alone.
fn arb_table() -> impl Strategy<Value = (ApFixed, ApFixed, TableRequest)> {
    (6u32..=14, 0i32..=4, 6u32..=14, 0i32..=4).prop_flat_map(|(wi, ii, wo, io)| {
        let (fi, fo) = (fmt(wi, ii.min(wi as i32)), fmt(wo, io.min(wo as i32)));
        (1u32..=4)
            .prop_flat_map(move |k| (Just(k), 1u32..=(wi - k)))
            .prop_flat_map(move |(k, s)| {
                let span = 1i64 << (k + s);
                let slots = ((1i64 << wi) - span) >> s;
                let coef = prop_oneof![3 => -3.0..3.0f64, 1 => Just(0.0)];
                (
                    0..=slots,
                    prop::collection::vec(prop::array::uniform3(coef.clone()), 1usize << k),
                    prop::array::uniform3(coef.clone()),
                    prop::array::uniform3(coef),
                    1u32..=2,
                )
                    .prop_map(move |(slot, mut polys, below, above, degree)| {
                        if degree == 1 {
                            polys.iter_mut().for_each(|p| p[2] = 0.0);
                        }
                        let lo = fi.min_raw() + (slot << s);
                        let hi = lo + span - 1;
                        let outer = |p, empty: bool| OuterSegments {
                            thresholds: Vec::new(),
                            polys: if empty { Vec::new() } else { vec![p] },
                        };
                        let req = TableRequest {
                            lo_raw: lo,
                            index_bits: k,
                            offset_bits: s,
                            degree,
                            polys,
                            below: outer(below, lo == fi.min_raw()),
                            above: outer(above, hi == fi.max_raw()),
                        };
                        (fi, fo, req)
                    })
            })
    })
}

/// The f64 function a request's own polynomials describe.
fn piecewise_of(req: &TableRequest, input: ApFixed) -> RealFn {
    let req = req.clone();
    Arc::new(move |x: f64| {
        let raw = (x / input.ulp()).round() as i64;
        let span = 1i64 << (req.index_bits + req.offset_bits);
        let ev = |p: [f64; 3], v: f64| p[0] + v * (p[1] + p[2] * v);
        if raw < req.lo_raw {
            ev(req.below.polys[0], x)
        } else if raw < req.lo_raw + span {
            let i = (raw - req.lo_raw) >> req.offset_bits;
            let seg_lo = req.lo_raw + (i << req.offset_bits);
            ev(req.polys[i as usize], input.to_f64(raw - seg_lo))
        } else {
            ev(req.above.polys[0], x)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]
    #[test]
    fn table_golden_equals_exact_integer_evaluation((fi, fo, req) in arb_table()) {
        let opts = SpecOptions { max_coef_width: 32, ..SpecOptions::with_formats(fi, fo) };
        let f = piecewise_of(&req, fi);
        let spec = match DatapathSpec::build_table("rand", "piecewise", f.clone(), &req, &opts) {
            Ok(s) => s,
            Err(Error::Spec { .. }) => return Ok(()),
            Err(e) => panic!("unexpected error {e}"),
        };
        for x in all_inputs(fi) {
            let g = spec.eval_raw(0, 0, x);
            prop_assert_eq!(g, exact_i128(&spec, x), "x={}", x);
            prop_assert_eq!(g, spec.eval_raw_unfused(0, 0, x));
        }
        prop_assert!(max_error(&spec, &*f) <= spec.layers()[0].bound.total_ulp);
        prop_assert!(spec.layers()[0].bound.total_ulp <= opts.max_error_ulp);
    }
}

// ---------------------------------------------------------------------------------------------
// Hardware: the table and ROM cores generated, linted, co-simulated against the golden model
// on every input and under stress, and synthesized for 7-series. The simulators and Yosys are
// required (scripts/test.sh installs them); without them these tests fail with a hint.

use repact_hw::hdl::{generate_baked, CoreOptions, GeneratedCore};
use repact_hw::package::{synthesize, ResourceCounts};
use repact_hw::sim::axis_bench::{AxisDut, CLOCK};
use repact_hw::sim::verify::{exhaustive, stress, VerifyOptions};
use repact_hw::sim::verilator::{build, default_cache_dir, BuildOptions};
use std::process::Command;

/// Runs `tool args… file` on the core's Verilog and returns what it printed.
fn lint(core: &GeneratedCore, tool: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(core.file_name());
    std::fs::write(&file, &core.verilog).unwrap();
    let out = Command::new(tool)
        .current_dir(dir.path())
        .args(args)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is required (scripts/test.sh installs it): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{tool} failed on {}:\n{text}",
        core.top()
    );
    text
}

/// Lints `spec`'s baked core, co-simulates it exhaustively and under stress with Verilator
/// (0 mismatches, the stated latency) and returns its Yosys resources.
fn check_core(spec: &DatapathSpec, top: &str) -> ResourceCounts {
    let core = generate_baked(spec, 0, &CoreOptions::new(top)).unwrap();
    assert_eq!(core.interface.latency_cycles, spec.latency());
    if let Some(dir) = std::env::var_os("DATAPATH_IR_KEEP") {
        std::fs::write(
            std::path::Path::new(&dir).join(core.file_name()),
            &core.verilog,
        )
        .unwrap();
    }
    let text = lint(
        &core,
        "verilator",
        &["--lint-only", "-Wall", "--top-module", top],
    );
    assert!(text.trim().is_empty(), "verilator -Wall on {top}:\n{text}");
    let text = lint(
        &core,
        "iverilog",
        &["-g2005", "-Wall", "-o", "a.out", "-s", top],
    );
    assert!(text.trim().is_empty(), "iverilog -Wall on {top}:\n{text}");

    let model = build(
        &core.verilog,
        top,
        &core.interface.ports,
        CLOCK,
        &default_cache_dir(),
        &BuildOptions::default(),
    )
    .unwrap();
    let mut dut = AxisDut::new(model).unwrap();
    let layout = core.interface.stream;
    let opts = VerifyOptions {
        stress_beats: 50_000,
        ..VerifyOptions::default()
    };
    let (ex, latency) = exhaustive(&mut dut, spec, 0, &layout, &opts, &|_| {});
    let (st, _) = stress(&mut dut, spec, 0, &layout, &opts, &|_| {});
    eprintln!(
        "{top}: {} samples + {} stress beats, {} mismatches, {} protocol errors, latency {latency:?}, max error {:.4} ULP",
        ex.samples,
        st.beats,
        ex.mismatches + st.mismatches,
        ex.protocol_errors + st.protocol_errors,
        ex.max_error_ulp
    );
    assert!(
        ex.passed() && st.passed(),
        "{top}: {:?}",
        ex.first_failure.or(st.first_failure)
    );
    assert_eq!(ex.samples, 1u64 << spec.input().width());
    assert_eq!(latency, Some(spec.latency() as u64));
    assert!(ex.max_error_ulp <= spec.layers()[0].bound.total_ulp + 1e-12);

    let r = synthesize(&core.verilog, top).unwrap();
    eprintln!(
        "{top}: Yosys synth_xilinx: {} LUT, {} LUTRAM, {} FF, {} DSP48E1, {} CARRY4, {} BRAM36",
        r.lut, r.lutram, r.ff, r.dsp48e1, r.carry4, r.bram36
    );
    r
}

#[test]
fn silu_table_core_is_bit_exact_and_small() {
    let (req, opts) = silu_16_6();
    let spec = DatapathSpec::build_table("act.silu", "silu", arc(silu), &req, &opts).unwrap();
    let r = check_core(&spec, "silu_table");
    assert_eq!(r.bram36, 0.0, "the coefficient ROM must be LUTs");
    assert!(r.dsp48e1 <= 2, "{r:?}");
}

#[test]
fn elu_table_core_with_rotated_rom_is_bit_exact() {
    // ELU at ap_fixed<12,4>: a core interval [-7, 1) not aligned to its own span (the ROM is
    // stored rotated), -1 below it, x above.
    let f = fmt(12, 4);
    let req = table_for(&elu, f, -7 << 8, 7, 4, 2, [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]);
    let spec = DatapathSpec::build_table(
        "elu",
        "elu",
        arc(elu),
        &req,
        &SpecOptions::with_formats(f, f),
    )
    .unwrap();
    assert!(max_error(&spec, &elu) <= 0.5625);
    check_core(&spec, "elu_table");
}

#[test]
fn rom_core_is_bit_exact_and_uses_no_dsp() {
    let f = fmt(8, 3);
    let spec = DatapathSpec::build_rom(
        "act.sig",
        "sigmoid",
        arc(sigmoid),
        &SpecOptions::with_formats(f, f),
    )
    .unwrap();
    let r = check_core(&spec, "sigmoid_rom");
    assert_eq!(r.dsp48e1, 0, "{r:?}");
    assert_eq!(r.bram36, 0.0, "{r:?}");
}

#[test]
fn run_time_cores_refuse_table_layers_with_the_reason() {
    let (req, opts) = silu_16_6();
    let spec = DatapathSpec::build_table("act.silu", "silu", arc(silu), &req, &opts).unwrap();
    let err = repact_hw::hdl::generate_axilite(&spec, &CoreOptions::new("rt")).unwrap_err();
    // A user's choice of flags (exit 1), not a generator bug (it used to surface as the lane's
    // internal "run-time coefficients serve comparator datapaths only").
    assert_eq!(err.exit_code(), 1);
    assert_eq!(
        err.to_string(),
        "layer `act.silu`: the table-indexed datapath keeps its segments' coefficients in a ROM \
         inside the core, but --coeffs axilite loads run-time coefficients into comparator \
         datapaths only; build this layer with --coeffs baked"
    );
    let f = fmt(8, 3);
    let rom = DatapathSpec::build_rom(
        "act.sig",
        "sigmoid",
        arc(sigmoid),
        &SpecOptions::with_formats(f, f),
    )
    .unwrap();
    let err = repact_hw::hdl::generate_axilite(&rom, &CoreOptions::new("rt")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer `act.sig`: the ROM datapath keeps every input code's output in a ROM inside the \
         core, but --coeffs axilite loads run-time coefficients into comparator datapaths only; \
         build this layer with --coeffs baked"
    );
}
