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
