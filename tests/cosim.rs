//! The co-simulation regression matrix: generated cores against the golden model, bit for
//! bit, through exactly the code `repact-hw gen` and `repact-hw verify` run. Every case must
//! show zero mismatches. Verilator and Icarus are required: without them these tests fail
//! with an install hint (scripts/test.sh installs them).

pub mod common;

use common::cosim::Cosim;
use common::fmt;
use repact_hw::model::{BatchNorm, Layer, LayerKind, PiecewiseParams, RepActParams, Variant};
use repact_hw::weights::{load, LoadOptions};

fn repact(
    name: &str,
    variant: Variant,
    atn: [f64; 4],
    prelu: Vec<f64>,
    bn: Option<BatchNorm>,
) -> Layer {
    Layer {
        name: name.into(),
        kind: LayerKind::RepAct(RepActParams::new(variant, atn, None, prelu, bn).unwrap()),
    }
}

fn piecewise(name: &str, b: Vec<f64>, s: Vec<Vec<f64>>) -> Layer {
    Layer {
        name: name.into(),
        kind: LayerKind::Piecewise(PiecewiseParams::new(b, s).unwrap()),
    }
}

fn bn(weight: f64, var: f64) -> Option<BatchNorm> {
    Some(BatchNorm {
        weight,
        bias: 0.1,
        running_mean: 0.3,
        running_var: var,
        eps: 1e-5,
    })
}

fn bundled(net: &str) -> Vec<Layer> {
    let path = common::example(&format!("{net}/model.safetensors"));
    let variant = (net == "origin").then_some(Variant::Origin);
    load(
        &path,
        &LoadOptions {
            variant,
            ..Default::default()
        },
    )
    .unwrap()
    .layers
}

#[test]
fn bundled_repact_iii_network_full_stress() {
    let f = fmt(16, 6);
    let (_, r) = Cosim::new(bundled("bn"), f, f)
        .phases(1_000_000, 20_000)
        .run("digits_bn");
    assert_eq!(r.len(), 5);
}

#[test]
fn bundled_repact_i_network_four_lanes() {
    let f = fmt(16, 6);
    Cosim::new(bundled("origin"), f, f)
        .lanes(4)
        .run("digits_origin");
}

#[test]
fn formats_8_12_16_18_bits() {
    let layer = || {
        vec![repact(
            "l",
            Variant::Origin,
            [0.4, 0.3, 0.9, -0.2],
            vec![-0.25],
            None,
        )]
    };
    Cosim::new(layer(), fmt(8, 4), fmt(8, 4)).run("w8");
    Cosim::new(layer(), fmt(12, 5), fmt(12, 5))
        .lanes(4)
        .run("w12");
    Cosim::new(layer(), fmt(16, 6), fmt(16, 6)).run("w16");
    Cosim::new(layer(), fmt(18, 7), fmt(18, 7))
        .lanes(4)
        .run("w18");
}

#[test]
fn mixed_input_and_output_formats() {
    let layer = || {
        vec![repact(
            "l",
            Variant::Bn,
            [0.2, 0.5, 0.7, 0.1],
            vec![0.3],
            bn(1.3, 0.4),
        )]
    };
    Cosim::new(layer(), fmt(12, 4), fmt(8, 3)).run("in12_out8");
    Cosim::new(layer(), fmt(8, 3), fmt(18, 6))
        .lanes(4)
        .run("in8_out18");
}

#[test]
fn all_three_variants() {
    let layers = vec![
        repact(
            "origin",
            Variant::Origin,
            [-0.17, 0.40, 0.16, 0.59],
            vec![-0.21],
            None,
        ),
        repact(
            "softmax",
            Variant::Softmax,
            [0.3, -1.2, 2.0, 0.4],
            vec![0.1],
            None,
        ),
        repact(
            "bn",
            Variant::Bn,
            [-0.17, 0.40, 0.16, 0.59],
            vec![-0.21],
            bn(1.28, 0.26),
        ),
    ];
    Cosim::new(layers, fmt(16, 6), fmt(16, 6))
        .tuser(3)
        .run("variants");
}

#[test]
fn per_channel_prelu() {
    let three = vec![repact(
        "pc3",
        Variant::Origin,
        [0.1, 0.5, 0.3, 0.6],
        vec![-0.5, 0.0, 0.75],
        None,
    )];
    Cosim::new(three.clone(), fmt(12, 5), fmt(12, 5)).run("pc3_lane1");
    Cosim::new(three, fmt(12, 5), fmt(12, 5))
        .lanes(4)
        .tuser(2)
        .run("pc3_lane4");
    let four = vec![repact(
        "pc4",
        Variant::Bn,
        [0.1, 0.5, 0.3, 0.6],
        vec![-0.5, 0.0, 0.75, 2.0],
        bn(0.9, 1.7),
    )];
    Cosim::new(four, fmt(12, 5), fmt(12, 5))
        .lanes(4)
        .run("pc4_lane4");
}

#[test]
fn adversarial_coefficients() {
    let layers = vec![
        // Non-monotonic, several sign changes, a jump at a breakpoint.
        piecewise(
            "nonmono",
            vec![-5.0, -1.0, 0.5, 2.0, 6.0],
            vec![
                vec![3.0, 0.5, 0.05],
                vec![-2.0, -1.0, 0.9],
                vec![0.7, 4.0, -3.0],
                vec![1.0, -2.5, 0.0],
                vec![-4.0, 0.0, 0.3],
                vec![10.0],
            ],
        ),
        // A BatchNorm with a tiny running variance: huge, partly cancelling coefficients.
        repact(
            "huge_bn",
            Variant::Bn,
            [0.9, -0.8, 0.5, 0.2],
            vec![-0.3],
            bn(2.0, 1e-4),
        ),
        // Breakpoints outside the input range, a near-zero quadratic.
        piecewise(
            "outside",
            vec![-100.0, 50.0],
            vec![vec![1.0, 1.0, 1e-7], vec![0.0, 0.5, 0.01], vec![-1.0]],
        ),
    ];
    // The huge BN needs operands wider than a DSP48E1 port: multi-DSP multipliers.
    Cosim::new(layers, fmt(16, 6), fmt(16, 6))
        .coef_width(32)
        .run("adversarial");
}

#[test]
fn narrow_format_that_cannot_hold_three() {
    let layer = vec![repact(
        "narrow",
        Variant::Bn,
        [0.2, 0.5, 0.7, 0.1],
        vec![0.3],
        bn(1.3, 0.4),
    )];
    Cosim::new(layer, fmt(8, 2), fmt(8, 2))
        .lanes(4)
        .run("narrow");
}

#[test]
fn axilite_core_loads_every_bundled_layer_over_the_bus() {
    let f = fmt(16, 6);
    let (_, r) = Cosim::new(bundled("bn"), f, f).axilite().run("axilite_bn");
    assert_eq!(r.len(), 5);
    assert!(r
        .iter()
        .all(|r| r.axilite_transactions > 0 && r.axilite_problems == 0));
    Cosim::new(bundled("origin"), f, f)
        .axilite()
        .lanes(4)
        .tuser(1)
        .run("axilite_origin_x4");
}

#[test]
fn axilite_core_with_mixed_layers_and_channels() {
    let layers = vec![
        repact(
            "pc3",
            Variant::Origin,
            [0.1, 0.5, 0.3, 0.6],
            vec![-0.5, 0.0, 0.75],
            None,
        ),
        repact(
            "softmax",
            Variant::Softmax,
            [0.3, -1.2, 2.0, 0.4],
            vec![0.1],
            None,
        ),
        piecewise(
            "two_seg",
            vec![0.25],
            vec![vec![0.0, 0.1], vec![0.5, 1.0, -0.2]],
        ),
        repact(
            "bn4",
            Variant::Bn,
            [0.1, 0.5, 0.3, 0.6],
            vec![-0.5, 0.0, 0.75, 2.0],
            bn(0.9, 1.7),
        ),
    ];
    Cosim::new(layers.clone(), fmt(12, 5), fmt(12, 5))
        .axilite()
        .run("axilite_mixed_x1");
    Cosim::new(layers, fmt(8, 3), fmt(8, 3))
        .axilite()
        .lanes(4)
        .run("axilite_mixed_x4");
}

/// A wrapper around a generated core with the same ports: output beat 5000 (counting
/// handshakes from reset) has bit 0 of lane 1 flipped, and beat 9000 its TLAST inverted.
fn tampered_wrapper(core: &repact_hw::manifest::CoreEntry) -> String {
    use repact_hw::hdl::PortDir;
    let iface = &core.interface;
    let mut v = String::from("module tampered (\n");
    let decls: Vec<String> = iface
        .ports
        .iter()
        .map(|p| {
            let dir = if p.dir == PortDir::In {
                "input"
            } else {
                "output"
            };
            format!("    {dir} wire [{}:0] {}", p.width - 1, p.name)
        })
        .collect();
    v += &decls.join(",\n");
    v += "\n);\n";
    let data_w = iface
        .ports
        .iter()
        .find(|p| p.name == "m_axis_tdata")
        .unwrap()
        .width;
    v += &format!(
        "    wire [{}:0] data;\n    wire last;\n    reg [31:0] n;\n",
        data_w - 1
    );
    v += "    always @(posedge aclk)\n        if (!aresetn) n <= 32'd0;\n        \
          else if (m_axis_tvalid && m_axis_tready) n <= n + 32'd1;\n";
    v += &format!(
        "    assign m_axis_tdata = data ^ ((n == 32'd5000) ? {data_w}'d{} : {data_w}'d0);\n",
        1u64 << iface.stream.m_slot
    );
    v += "    assign m_axis_tlast = last ^ (n == 32'd9000);\n";
    let conns: Vec<String> = iface
        .ports
        .iter()
        .map(|p| match p.name.as_str() {
            "m_axis_tdata" => ".m_axis_tdata(data)".to_string(),
            "m_axis_tlast" => ".m_axis_tlast(last)".to_string(),
            n => format!(".{n}({n})"),
        })
        .collect();
    v += &format!(
        "    {} core ({});\nendmodule\n",
        iface.top,
        conns.join(", ")
    );
    v
}

/// The exhaustive phase runs in batches through the shim (or cycle by cycle while stimulus
/// is recorded): a single flipped output bit in the middle of a batch and one wrong TLAST
/// must still be found, named by lane, channel and input, and both ways must agree.
#[test]
fn exhaustive_phase_in_batches_catches_a_flipped_sample_and_a_wrong_tlast() {
    use repact_hw::fixedpoint::SpecOptions;
    use repact_hw::flow::{generate, write_bundle, GenOptions};
    use repact_hw::manifest::{CoeffMode, Manifest};
    use repact_hw::model::Network;
    use repact_hw::sim::axis_bench::{AxisDut, CLOCK};
    use repact_hw::sim::verify::{exhaustive, VerifyOptions};
    use repact_hw::sim::verilator::{build, default_cache_dir, BuildOptions};
    use std::path::PathBuf;
    let layers = vec![repact(
        "pc3",
        Variant::Origin,
        [0.1, 0.5, 0.3, 0.6],
        vec![-0.5, 0.0, 0.75],
        None,
    )];
    let f = fmt(14, 5);
    let net = Network {
        source: PathBuf::from("tampered"),
        layers,
    };
    let bundle = generate(
        &net,
        &GenOptions {
            spec: SpecOptions::with_formats(f, f),
            name: "tamper_me".into(),
            lanes: 4,
            tuser_width: 5,
            coeffs: CoeffMode::Baked,
            layer: None,
            command_line: "cosim test tampered".into(),
            package: Default::default(),
        },
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ip");
    write_bundle(&bundle, &dir).unwrap();
    let manifest = Manifest::read(&dir).unwrap();
    let core = &manifest.cores[0];
    let spec = manifest.spec_for(core).unwrap();
    let verilog = std::fs::read_to_string(dir.join(&core.file)).unwrap() + &tampered_wrapper(core);
    let model = build(
        &verilog,
        "tampered",
        &core.interface.ports,
        CLOCK,
        &default_cache_dir(),
        &BuildOptions::default(),
    )
    .unwrap_or_else(|e| panic!("the co-simulation needs Verilator and g++: {e}"));
    let mut results = Vec::new();
    for (golden_thread, recorded) in [(false, false), (true, false), (false, true)] {
        let mut dut = AxisDut::new(model.new_instance().unwrap()).unwrap();
        if recorded {
            dut.record(usize::MAX);
        }
        let opts = VerifyOptions {
            golden_thread,
            ..VerifyOptions::default()
        };
        let (r, latency) = exhaustive(&mut dut, &spec, 0, &core.interface.stream, &opts, &|_| {});
        // 2^14 codes × 3 channels in beats of 4 samples: three batches and more.
        assert_eq!(r.samples, 3 << 14);
        assert_eq!(r.beats, 3 << 12);
        assert_eq!((r.mismatches, r.protocol_errors), (1, 1), "{r:?}");
        assert_eq!(latency, Some(core.interface.latency_cycles as u64));
        // Beat 5000, lane 1: sample 20001 = code 6667, channel 0.
        let x = f.min_raw() + 20001 / 3;
        let what = &r.first_failure.as_ref().unwrap().what;
        assert!(
            what.starts_with(&format!("lane 1, channel 0: input raw {x} -> ")),
            "{what}"
        );
        if recorded {
            assert!(dut.recorded_inputs.len() as u64 >= r.cycles);
        }
        results.push(format!("{r:?}"));
    }
    assert_eq!(results[0], results[1], "with the golden model on a thread");
    assert_eq!(results[0], results[2], "recorded, cycle by cycle");
}
