//! The fold is exact: for every variant and every branch order, the piecewise quadratic equals
//! the branch-by-branch sum the training module computes.

use proptest::prelude::*;
use repact_hw::model::{
    fold, BatchNorm, Branch, BranchOrder, Layer, LayerKind, RepActParams, Variant,
};

fn all_orders() -> Vec<BranchOrder> {
    let b = Branch::ALL;
    let mut out = Vec::new();
    for i in 0..4 {
        for j in 0..4 {
            for k in 0..4 {
                for l in 0..4 {
                    let idx = [i, j, k, l];
                    let mut seen = [false; 4];
                    idx.iter().for_each(|&n| seen[n] = true);
                    if seen.iter().all(|&s| s) {
                        out.push(BranchOrder::new(&idx.map(|n| b[n])).unwrap());
                    }
                }
            }
        }
    }
    out
}

fn param() -> impl Strategy<Value = f64> {
    prop_oneof![-5.0..5.0f64, -1e3..1e3f64, Just(0.0)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn folded_equals_branch_sum(
        variant in prop::sample::select(Variant::ALL.to_vec()),
        order in prop::sample::select(all_orders()),
        atn in prop::array::uniform4(param()),
        prelu in prop::collection::vec(param(), 1..4),
        bn in (param(), param(), param(), 0.0..50.0f64, 1e-6..1e-3f64),
        xs in prop::collection::vec(prop_oneof![-10.0..10.0f64, -3.0..3.0f64,
            prop::sample::select(vec![-3.0, 0.0, 3.0, -0.0, -3.0000001, 2.9999999])], 1..20),
    ) {
        let bn = (variant == Variant::Bn).then_some(BatchNorm {
            weight: bn.0, bias: bn.1, running_mean: bn.2, running_var: bn.3, eps: bn.4,
        });
        let p = RepActParams::new(variant, atn, Some(order), prelu, bn).unwrap();
        let layer = Layer { name: "l".into(), kind: LayerKind::RepAct(p.clone()) };
        let f = fold(&layer).unwrap();
        prop_assert_eq!(&f.breakpoints, &vec![-3.0, 0.0, 3.0]);
        for ch in 0..p.channels() {
            for &x in &xs {
                let want = p.eval_branches(ch, x);
                let got = f.eval(ch, x);
                // Relative to the size of the terms that are summed, so cancellation between
                // large branch weights does not make the comparison meaningless.
                let w = p.effective_weights();
                let scale = p.bn.map_or(1.0, |b| b.scale_shift().0.abs().max(1.0))
                    * (w.iter().map(|a| a.abs()).sum::<f64>() * (1.0 + x.abs() * x.abs())
                        * (1.0 + p.prelu_weight[ch].abs()))
                    + p.bn.map_or(0.0, |b| b.scale_shift().1.abs());
                prop_assert!((got - want).abs() <= 1e-12 * scale.max(1.0),
                    "x={x} got={got} want={want}");
            }
        }
    }
}

#[test]
fn softmax_weights_sum_to_one_and_default_orders_follow_the_training_modules() {
    let p = RepActParams::new(
        Variant::Softmax,
        [1.0, -2.0, 0.5, 3.0],
        None,
        vec![0.25],
        None,
    )
    .unwrap();
    let w = p.effective_weights();
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    assert_eq!(p.branch_order.to_string(), "identity,relu,prelu,hardswish");
    let o = RepActParams::new(Variant::Origin, [1.0; 4], None, vec![0.25], None).unwrap();
    assert_eq!(o.branch_order.to_string(), "identity,relu,hardswish,prelu");
}

#[test]
fn hand_checked_origin_fold() {
    // a·x + b·relu + c·hardswish + d·prelu with p = 0.5
    let p =
        RepActParams::new(Variant::Origin, [1.0, 2.0, 6.0, 4.0], None, vec![0.5], None).unwrap();
    let f = fold(&Layer {
        name: "l".into(),
        kind: LayerKind::RepAct(p),
    })
    .unwrap();
    assert_eq!(f.segments[0][0], [0.0, 1.0 + 4.0 * 0.5, 0.0]);
    assert_eq!(f.segments[0][1], [0.0, 1.0 + 3.0 + 2.0, 1.0]);
    assert_eq!(f.segments[0][2], [0.0, 1.0 + 2.0 + 3.0 + 4.0, 1.0]);
    assert_eq!(f.segments[0][3], [0.0, 1.0 + 2.0 + 6.0 + 4.0, 0.0]);
}
