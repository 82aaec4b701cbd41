//! Generation orders: the transforms, the order a completion picks for each hole, that a
//! raster-only checkpoint given orders computes what it did, and that a completion in another
//! order keeps every known pixel.

mod common;

use burn::module::Param;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use common::to_vec;
use pixelcnn::hole::{Hole, disc};
use pixelcnn::importance::{ImportanceCompletion, ImportanceRequest};
use pixelcnn::model::Condition;
use pixelcnn::order::{self, ORDERS, Order};
use pixelcnn::sample::Completion;
use pixelcnn::train::mixture_nll;
use pixelcnn::{CONFIG_VERSION, PixelCnn, PixelCnnConfig};

fn config(channels: usize, side: usize, orders: usize) -> PixelCnnConfig {
    PixelCnnConfig {
        hidden: 6,
        head: 12,
        orders,
        ..common::small_config(channels, side, 3, 2)
    }
}

fn all_orders() -> Vec<Order> {
    Order::first(ORDERS).collect()
}

#[test]
fn every_order_is_a_distinct_permutation_undone_by_its_inverse() {
    let (planes, h, w) = (2, 3, 4);
    let values: Vec<usize> = (0..2 * planes * h * w).collect();
    let mut seen = Vec::new();
    for order in all_orders() {
        let framed = order.to_frame(&values, h, w);
        let mut sorted = framed.clone();
        sorted.sort();
        assert_eq!(sorted, values, "{order:?} is a permutation");
        assert_eq!(order.from_frame(&framed, h, w), values, "{order:?}");
        assert!(!seen.contains(&framed), "{order:?} repeats another order");
        seen.push(framed);
    }
    assert_eq!(
        Order::IDENTITY.to_frame(&values, h, w),
        values,
        "the identity changes nothing"
    );
}

#[test]
fn tensor_transforms_equal_the_pixel_transforms() {
    let device = Device::flex();
    let (b, c, side) = (2, 3, 4);
    let values: Vec<f32> = (0..b * c * side * side).map(|v| v as f32).collect();
    let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [b, c, side, side]), &device);
    for order in all_orders() {
        let framed = order.apply(x.clone());
        assert_eq!(
            to_vec(framed.clone()),
            order.to_frame(&values, side, side),
            "{order:?}"
        );
        assert_eq!(to_vec(order.unapply(framed)), values, "{order:?} undone");
    }
}

#[test]
fn bottom_to_top_puts_the_bottom_row_first() {
    let (h, w) = (3, 2);
    let values: Vec<u8> = (0..6).collect();
    // Rows [0 1] [2 3] [4 5]: bottom to top sees [4 5] [2 3] [0 1].
    let bottom_to_top = Order::new(2).expect("order 2");
    assert_eq!(bottom_to_top.name(), "bottom to top");
    assert_eq!(
        bottom_to_top.to_frame(&values, h, w),
        vec![4, 5, 2, 3, 0, 1]
    );
    // Column by column from the left: [0 2 4] then [1 3 5].
    let left_to_right = Order::new(4).expect("order 4");
    assert_eq!(left_to_right.name(), "left to right");
    assert_eq!(
        left_to_right.to_frame(&values, h, w),
        vec![0, 2, 4, 1, 3, 5]
    );
}

#[test]
fn hidden_pixels_are_listed_in_the_order_they_are_generated() {
    let (h, w) = (3, 2);
    // Rows [0 1] [2 3] [4 5] with 1, 2 and 5 hidden.
    let known = [true, false, false, true, true, false];
    let order = |i| Order::new(i).expect("an order");
    assert_eq!(Order::IDENTITY.hidden_in_order(&known, h, w), vec![1, 2, 5]);
    assert_eq!(order(2).hidden_in_order(&known, h, w), vec![5, 2, 1]);
    assert_eq!(order(4).hidden_in_order(&known, h, w), vec![2, 1, 5]);
    for o in all_orders() {
        let mut listed = o.hidden_in_order(&known, h, w);
        listed.sort_unstable();
        assert_eq!(listed, vec![1, 2, 5], "{}", o.name());
    }
}

/// The order each hole of a 28×28 canvas is completed in: the one that leaves no known pixel
/// after the hole where there is one, and the identity where every order leaves as many.
#[test]
fn each_hole_is_completed_in_the_expected_order() {
    let side = 28;
    let expected = [
        (Hole::BottomHalf, 0, "top to bottom"),
        (Hole::TopHalf, 2, "bottom to top"),
        (Hole::LeftHalf, 6, "right to left"),
        (Hole::RightHalf, 4, "left to right"),
        // Rows 10-17 hidden: 280 known rows after it downwards and upwards alike.
        (Hole::MiddleBand, 0, "top to bottom"),
    ];
    for (hole, index, name) in expected {
        let known = hole.known(side, side, 0);
        let chosen = order::choose(&known, side, side, ORDERS);
        assert_eq!(chosen.index(), index, "{}", hole.name());
        assert_eq!(chosen.name(), name);
    }
    for hole in [Hole::TopHalf, Hole::LeftHalf, Hole::RightHalf] {
        let known = hole.known(side, side, 0);
        let best = order::choose(&known, side, side, ORDERS);
        assert_eq!(order::known_after_hole(best, &known, side, side), 0);
        assert!(order::known_after_hole(Order::IDENTITY, &known, side, side) > 0);
    }
    // A blob in the upper left: generated from the bottom right, the row (or column) it ends
    // in has no known pixels after it on the right; both tie, and the lower index wins.
    let upper_left = disc(side, side, (0.3 * side as f64, 0.3 * side as f64));
    assert_eq!(order::choose(&upper_left, side, side, ORDERS).index(), 3);
    // A raster-only model has one order to choose from.
    let known = Hole::TopHalf.known(side, side, 0);
    assert_eq!(order::choose(&known, side, side, 1), Order::IDENTITY);
    // Every blob of complete-eval gets an order with fewer known pixels after it than raster.
    for seed in 0..10 {
        let known = Hole::Blob.known(side, side, seed);
        let best = order::choose(&known, side, side, ORDERS);
        assert!(
            order::known_after_hole(best, &known, side, side)
                <= order::known_after_hole(Order::IDENTITY, &known, side, side)
        );
    }
}

/// A raster-only checkpoint given eight orders starts as the model it was: identical logits
/// in the identity order (the order biases are zero), in a layout that saves and reloads.
#[test]
fn a_raster_model_given_orders_computes_what_it_did() {
    let device = Device::flex();
    let raster = common::seeded_model(&config(1, 6, 1), &Device::flex(), 11);
    let levels: Vec<i64> = (0..2 * 36).map(|i| (i * 7 % 4) as i64).collect();
    let levels = Tensor::<4, Int>::from_data(TensorData::new(levels, [2, 1, 6, 6]), &device);
    let labels = Some(Tensor::<1, Int>::from_data(
        TensorData::new(vec![1i64, 0], [2]),
        &device,
    ));
    let before = to_vec(raster.forward(levels.clone().float(), &Condition::labels(labels.clone())));
    let with_orders = raster.with_orders(8).expect("8 orders");
    assert_eq!(with_orders.config.orders, 8);
    assert_eq!(with_orders.config.version, CONFIG_VERSION);
    let identity = Condition {
        labels: labels.clone(),
        orders: Some(Tensor::from_data(
            TensorData::new(vec![0i64, 0], [2]),
            &device,
        )),
    };
    let after = to_vec(with_orders.forward(levels.clone().float(), &identity));
    assert_eq!(after, before, "identity-order logits unchanged");
    let none = to_vec(with_orders.forward(levels.float(), &Condition::labels(labels)));
    assert_eq!(none, before, "no order given means the identity");
    assert_eq!(
        with_orders.num_params(),
        with_orders.config.param_count(),
        "the config counts the order biases"
    );
    assert!(
        with_orders.with_orders(4).is_err(),
        "orders are not taken away"
    );
}

/// A model of an older layout version (before orders) still validates.
#[test]
fn a_version_1_config_still_loads() {
    let json = r#"{"version":1,"channels":1,"levels":2,"height":28,"width":28,"hidden":64,
        "layers":10,"first_kernel":7,"kernel":3,"head":256,"classes":10}"#;
    let old: PixelCnnConfig = serde_json::from_str(json).expect("parses");
    assert_eq!(old.orders, 1);
    old.validate().expect("version 1 is still read");
    assert_eq!(old.current(), PixelCnnConfig::mnist());
    let bad = PixelCnnConfig {
        orders: 8,
        ..old.clone()
    };
    assert!(bad.validate().is_err(), "version 1 has no orders");
    let non_square = PixelCnnConfig {
        width: 27,
        orders: 8,
        ..PixelCnnConfig::mnist()
    };
    assert!(
        non_square.validate().is_err(),
        "transposed orders need a square"
    );
}

/// A model with random order biases, so a completion in the wrong order would differ.
fn model_with_orders(channels: usize) -> PixelCnn {
    let _guard = common::seed_lock();
    let device = Device::flex();
    device.seed(21);
    let mut model = PixelCnn::new(&config(channels, 6, ORDERS), &device).expect("config");
    for layer in &mut model.layers {
        let bias = layer.order_bias.as_ref().expect("order bias");
        layer.order_bias = Some(Param::from_tensor(Tensor::random(
            bias.dims(),
            Distribution::Uniform(-1.0, 1.0),
            &device,
        )));
    }
    model
}

#[test]
fn a_completion_in_another_order_keeps_every_known_pixel() {
    let device = Device::flex();
    for channels in [1, 3] {
        let model = model_with_orders(channels);
        let (c, side) = (channels, 6);
        let pixels = side * side;
        let levels: Vec<f32> = (0..c * pixels)
            .map(|i| ((i * 5 + i / 7) % 4) as f32)
            .collect();
        for hole in [
            Hole::TopHalf,
            Hole::LeftHalf,
            Hole::RightHalf,
            Hole::MiddleBand,
        ] {
            let known = hole.known(side, side, 0);
            let request = ImportanceRequest {
                levels: levels.clone(),
                known: known.clone(),
                alternatives: 3,
                candidates: 6,
                temperature: 1.0,
                seed: 5,
                label: Some(1),
                order: None,
                share: None,
            };
            let expected = order::choose(&known, side, side, ORDERS);
            let mut completion =
                ImportanceCompletion::new(&model, request.clone(), &device).expect("request");
            assert_eq!(completion.order(), expected, "{}", hole.name());
            completion.finish_blocking().expect("finish");
            let out = to_vec(completion.canvas());
            assert_eq!(out.len(), 3 * c * pixels);
            for (k, image) in out.chunks(c * pixels).enumerate() {
                for ch in 0..c {
                    for p in (0..pixels).filter(|&p| known[p]) {
                        assert_eq!(
                            image[ch * pixels + p],
                            levels[ch * pixels + p],
                            "{} alternative {k}: known pixel {p} changed",
                            hole.name()
                        );
                    }
                }
            }
            // The same request in the identity order gives other hidden pixels: the order
            // (and its bias) was really used.
            let mut raster = ImportanceCompletion::new(
                &model,
                ImportanceRequest {
                    order: Some(Order::IDENTITY),
                    share: None,
                    ..request
                },
                &device,
            )
            .expect("request");
            raster.finish_blocking().expect("finish");
            if expected != Order::IDENTITY {
                assert_ne!(to_vec(raster.canvas()), out, "{}", hole.name());
            }
        }
    }
}

#[test]
fn an_order_the_model_lacks_is_refused() {
    let model = common::seeded_model(&config(1, 6, 1), &Device::flex(), 3);
    let request = ImportanceRequest {
        levels: vec![0.0; 36],
        known: vec![false; 36],
        alternatives: 1,
        candidates: 1,
        temperature: 1.0,
        seed: 0,
        label: None,
        order: Order::new(2),
        share: None,
    };
    assert!(ImportanceCompletion::new(&model, request, &Device::flex()).is_err());
}

#[test]
fn the_mixture_of_orders_is_a_log_mean_exp() {
    // Equal NLLs: the mixture is the same NLL.
    assert!((mixture_nll([80.0; 8].into_iter()) - 80.0).abs() < 1e-12);
    // One order far better than the rest: the mixture pays log 8 for the uniform weights.
    let nll = [50.0, 500.0, 500.0, 500.0, 500.0, 500.0, 500.0, 500.0];
    assert!((mixture_nll(nll.into_iter()) - (50.0 + 8f64.ln())).abs() < 1e-9);
    // Two orders: −log((e^-1 + e^-2) / 2).
    let want = -((-1f64).exp() / 2.0 + (-2f64).exp() / 2.0).ln();
    assert!((mixture_nll([1.0, 2.0].into_iter()) - want).abs() < 1e-12);
}

#[test]
fn training_orders_follow_the_identity_share() {
    let c = config(1, 4, 8);
    let counts = |share: Option<f64>| {
        let mut counts = [0usize; 8];
        for index in 0..8000 {
            counts[pixelcnn::train::training_order(&c, 5, index, 2, share).index()] += 1;
        }
        counts
    };
    let uniform = counts(None);
    assert!(
        uniform.iter().all(|&n| (850..=1150).contains(&n)),
        "{uniform:?}"
    );
    let weighted = counts(Some(0.5));
    assert!((3800..=4200).contains(&weighted[0]), "{weighted:?}");
    assert!(
        weighted[1..].iter().all(|&n| (450..=700).contains(&n)),
        "{weighted:?}"
    );
    let raster = config(1, 4, 1);
    assert!(
        (0..100).all(|i| pixelcnn::train::training_order(&raster, 5, i, 0, Some(0.5)).index() == 0)
    );
}
