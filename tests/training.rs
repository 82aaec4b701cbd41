//! Training: a run split in two (even with different batch sizes) continues from the same image
//! position and on the same learning-rate curve, the checkpoint keeps a per-device history for
//! the manifest, a short run lowers the loss, splitting a batch over workers does not change
//! its gradients, and averaging checkpoints gives the mean of every parameter.

mod common;

use burn::tensor::{Device, Int, Tensor, TensorData};
use common::TempDir;
use pixelcnn::average::{AverageError, mean_of};
use pixelcnn::data::Dataset;
use pixelcnn::train::{
    Schedule, TrainOptions, TrainSegment, TrainState, batch_gradients, describe_history,
    load_checkpoint, save_weights_checkpoint, train,
};
use pixelcnn::weights::{NamedTensor, named_parameters};
use pixelcnn::{PixelCnn, PixelCnnConfig};

fn tiny_set(n: usize) -> Dataset {
    Dataset {
        images: (0..n * 16)
            .map(|i| ((i * 7 + i / 5) % 3 == 0) as u8)
            .collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        channels: 1,
        height: 4,
        width: 4,
        levels: 2,
        grey: None,
    }
}

fn tiny_config() -> PixelCnnConfig {
    PixelCnnConfig {
        height: 4,
        width: 4,
        hidden: 4,
        layers: 2,
        first_kernel: 3,
        head: 8,
        ..PixelCnnConfig::mnist()
    }
}

fn options(dir: &std::path::Path, epochs: f64, batch: usize, device: &str) -> TrainOptions {
    TrainOptions {
        schedule: Some(Schedule::new(1e-3, epochs)),
        batch_size: batch,
        label_dropout: 0.2,
        resample_binarization: true,
        seed: 3,
        checkpoint_dir: dir.to_path_buf(),
        checkpoint_seconds: 1e9,
        resume: true,
        max_seconds: None,
        device_name: device.to_string(),
        workers: 2,
        validation_images: 0,
        keep_snapshots: false,
        mixture_validation_images: 0,
        init_from: None,
        mirror: false,
        identity_share: None,
    }
}

fn state(dir: &std::path::Path) -> TrainState {
    let json = std::fs::read_to_string(dir.join("state.json")).expect("state.json");
    serde_json::from_str(&json).expect("state parses")
}

#[test]
fn resuming_with_another_batch_size_continues_at_the_same_image() {
    let _guard = common::seed_lock();
    let dir = TempDir::new("resume");
    let dir: &std::path::Path = &dir;
    let (set, config, device) = (tiny_set(20), tiny_config(), Device::flex());

    let first = train(&config, &set, None, &device, &options(dir, 1.0, 8, "gpu A")).expect("train");
    let after_first = state(dir);
    assert_eq!(after_first.images, 24, "3 steps of 8 cover one epoch of 20");
    assert_eq!(after_first.step, 3);
    assert!((first.epochs - 1.2).abs() < 1e-9, "{}", first.epochs);

    let second =
        train(&config, &set, None, &device, &options(dir, 2.0, 3, "cpu B")).expect("resume");
    let after_second = state(dir);
    assert_eq!(
        after_second.images,
        24 + 6 * 3,
        "6 steps of 3 reach 2 epochs"
    );
    assert_eq!(after_second.step, 9);
    assert_eq!(
        after_second
            .history
            .iter()
            .map(|s| (s.device.as_str(), s.images))
            .collect::<Vec<_>>(),
        vec![("gpu A", 24), ("cpu B", 18)]
    );
    assert_eq!(second.history, after_second.history);
    assert!(
        (after_second.train_seconds - after_second.history.iter().map(|s| s.seconds).sum::<f64>())
            .abs()
            < 1e-6
    );
}

#[test]
fn history_names_each_device_with_its_share() {
    let one = [TrainSegment {
        device: "cpu".into(),
        images: 600,
        seconds: 10.0,
    }];
    assert_eq!(describe_history(&one, 60), "cpu");
    let two = [
        TrainSegment {
            device: "gpu".into(),
            images: 87_000,
            seconds: 692.0,
        },
        one[0].clone(),
    ];
    assert_eq!(
        describe_history(&two, 60_000),
        "gpu: 1.45 epochs in 692 s; cpu: 0.01 epochs in 10 s"
    );
}

#[test]
fn a_resumed_run_follows_the_same_learning_rate_curve_and_losses() {
    // Both runs must start from the same weights.
    let _guard = common::seed_lock();
    let (set, config, device) = (tiny_set(20), tiny_config(), Device::flex());
    let whole_dir = TempDir::new("curve-whole");
    let whole = train(
        &config,
        &set,
        None,
        &device,
        &options(&whole_dir, 2.0, 4, "cpu"),
    )
    .expect("train");
    assert_eq!(whole.rates.len(), 10, "2 epochs of 20 in steps of 4");

    // The same plan, stopped after its first step by the time budget, then resumed with the
    // checkpoint's own schedule.
    let split_dir = TempDir::new("curve-split");
    let mut first_part = options(&split_dir, 2.0, 4, "cpu");
    first_part.max_seconds = Some(0.0);
    let first = train(&config, &set, None, &device, &first_part).expect("first part");
    assert_eq!(first.rates.len(), 1);
    let mut second_part = options(&split_dir, 2.0, 4, "cpu");
    second_part.schedule = None;
    let second = train(&config, &set, None, &device, &second_part).expect("second part");

    let split_rates: Vec<(usize, f64)> = first.rates.iter().chain(&second.rates).copied().collect();
    println!("one run: {:?}", whole.rates);
    println!("split:   {split_rates:?}");
    assert_eq!(
        whole.rates, split_rates,
        "the split run restarted its schedule"
    );
    let peak = whole.rates.iter().map(|r| r.1).fold(0.0, f64::max);
    assert!(whole.rates[9].1 < peak, "the rate decays by the end");
    let split_losses: Vec<f64> = first.losses.iter().chain(&second.losses).copied().collect();
    for (a, b) in whole.losses.iter().zip(&split_losses) {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
            "{:?} vs {split_losses:?}",
            whole.losses
        );
    }
}

#[test]
fn fifty_steps_lower_the_loss_on_a_tiny_set() {
    let _guard = common::seed_lock();
    let (set, config, device) = (tiny_set(40), tiny_config(), Device::flex());
    let dir = TempDir::new("lowers");
    let mut opts = options(&dir, 10.0, 8, "cpu");
    opts.schedule = Some(Schedule::new(1e-2, 10.0));
    let outcome = train(&config, &set, None, &device, &opts).expect("train");
    let losses = &outcome.losses;
    assert_eq!(losses.len(), 50);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (start, end) = (mean(&losses[..5]), mean(&losses[45..]));
    println!("loss over the first 5 steps {start:.3} nats, over the last 5 {end:.3} nats");
    assert!(
        end < 0.8 * start,
        "loss went from {start:.3} to {end:.3} nats"
    );
}

#[test]
fn two_workers_give_the_gradients_of_one() {
    let (set, config) = (tiny_set(12), tiny_config());
    let device = Device::flex().autodiff();
    let model = common::seeded_model(&config, &device, 4);
    let dir = TempDir::new("workers");
    let indices: Vec<usize> = (0..12).rev().collect();
    let epochs = vec![0; 12];
    let mut one = options(&dir, 1.0, 12, "cpu");
    one.workers = 1;
    let mut two = options(&dir, 1.0, 12, "cpu");
    two.workers = 2;
    let (grads_one, loss_one) = batch_gradients(&model, &set, &indices, &epochs, &one, &device);
    let (grads_two, loss_two) = batch_gradients(&model, &set, &indices, &epochs, &two, &device);
    assert!(
        (loss_one - loss_two).abs() < 1e-5 * loss_one.abs(),
        "{loss_one} vs {loss_two}"
    );
    let (compared, worst) = weight_gradient_difference(&model, &grads_one, &grads_two);
    println!("{compared} weight gradients compared, largest relative difference {worst:e}");
    assert_eq!(compared, 2 * 4 + 2);
    assert!(worst < 1e-5, "gradients differ by {worst:e}");
    // Biases and class biases too.
    for layer in &model.layers {
        let id = layer.output.bias.id;
        let bias_gradient = |grads: &burn::optim::GradientsParams| -> Vec<f32> {
            grads
                .get::<1>(id)
                .expect("bias gradient")
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32")
        };
        let (a, b) = (bias_gradient(&grads_one), bias_gradient(&grads_two));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5 * x.abs().max(1e-2), "{x} vs {y}");
        }
        let class = layer.class_bias.as_ref().expect("class bias");
        assert!(grads_one.get::<2>(class.id).is_some() && grads_two.get::<2>(class.id).is_some());
    }
}

/// How many weight gradients two backward passes of `model` both have, and their largest
/// difference relative to each gradient's largest entry.
fn weight_gradient_difference(
    model: &PixelCnn,
    a: &burn::optim::GradientsParams,
    b: &burn::optim::GradientsParams,
) -> (usize, f32) {
    let mut compared = 0;
    let mut worst = 0.0f32;
    let mut check = |a: Option<Tensor<4>>, b: Option<Tensor<4>>| {
        let (a, b) = (a.expect("gradient"), b.expect("gradient"));
        let a: Vec<f32> = a.into_data().try_into_vec::<f32>().expect("f32");
        let b: Vec<f32> = b.into_data().try_into_vec::<f32>().expect("f32");
        let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
        for (x, y) in a.iter().zip(&b) {
            worst = worst.max((x - y).abs() / scale);
        }
        compared += 1;
    };
    for (_, conv) in model.convolutions() {
        let id = conv.weight.id;
        check(a.get::<4>(id), b.get::<4>(id));
    }
    (compared, worst)
}

/// The optional libtorch training backend computes the loss and gradients flex does.
#[cfg(feature = "tch")]
#[test]
#[allow(deprecated)] // burn marks burn-tch deprecated; it is the optional fast CPU trainer
fn libtorch_gives_the_loss_and_gradients_of_flex() {
    use burn::module::Module;
    let (set, config) = (tiny_set(12), tiny_config());
    let flex = Device::flex().autodiff();
    let libtorch = Device::libtorch().autodiff();
    let model = common::seeded_model(&config, &flex, 5);
    let dir = TempDir::new("libtorch");
    let indices: Vec<usize> = (0..12).collect();
    let epochs = vec![1; 12];
    let mut one = options(&dir, 1.0, 12, "cpu");
    one.workers = 1;
    let (grads_flex, loss_flex) = batch_gradients(&model, &set, &indices, &epochs, &one, &flex);
    let on_libtorch = model.clone().fork(&libtorch);
    let (grads_torch, loss_torch) =
        batch_gradients(&on_libtorch, &set, &indices, &epochs, &one, &libtorch);
    assert!(
        (loss_flex - loss_torch).abs() < 1e-5 * loss_flex.abs(),
        "{loss_flex} vs {loss_torch}"
    );
    let (compared, worst) = weight_gradient_difference(&model, &grads_flex, &grads_torch);
    println!("{compared} weight gradients compared, largest relative difference {worst:e}");
    assert_eq!(compared, 2 * 4 + 2);
    assert!(worst < 1e-4, "gradients differ by {worst:e}");
}

#[test]
fn the_mean_of_checkpoints_is_the_mean_of_each_parameter() {
    let (config, device) = (tiny_config(), Device::flex());
    let models: Vec<PixelCnn> = (10..13)
        .map(|seed| common::seeded_model(&config, &device, seed))
        .collect();
    let inputs: Vec<Vec<NamedTensor>> = models
        .iter()
        .map(|m| named_parameters(m).expect("parameters"))
        .collect();
    let mean = named_parameters(&mean_of(&models).expect("mean")).expect("parameters");
    assert_eq!(mean.len(), inputs[0].len());
    let mut differing = 0;
    for (i, (name, shape, values)) in mean.iter().enumerate() {
        assert_eq!((name, shape), (&inputs[0][i].0, &inputs[0][i].1));
        for (j, value) in values.iter().enumerate() {
            let expected = inputs.iter().map(|p| p[i].2[j]).sum::<f32>() / 3.0;
            assert!(
                (value - expected).abs() < 1e-6,
                "{name}[{j}]: {value} vs {expected}"
            );
            differing += usize::from(inputs[0][i].2[j] != inputs[1][i].2[j]);
        }
    }
    assert!(
        differing > 100,
        "the models must differ for the mean to be tested"
    );
}

#[test]
fn averaging_refuses_no_checkpoints_and_checkpoints_of_other_models() {
    let device = Device::flex();
    assert_eq!(mean_of(&[]).err(), Some(AverageError::Empty));
    let other = PixelCnnConfig {
        hidden: 6,
        ..tiny_config()
    };
    let models = [
        PixelCnn::new(&tiny_config(), &device).expect("config"),
        PixelCnn::new(&other, &device).expect("config"),
    ];
    assert_eq!(
        mean_of(&models).err(),
        Some(AverageError::Config { index: 1 })
    );
}

#[test]
fn kept_snapshots_average_into_a_checkpoint_that_exports_but_does_not_resume() {
    let (set, config, device) = (tiny_set(8), tiny_config(), Device::flex());
    let dir = TempDir::new("averaged-run");
    let mut run = options(&dir, 1.0, 2, "cpu");
    run.keep_snapshots = true;
    run.checkpoint_seconds = 0.0;
    train(&config, &set, None, &device, &run).expect("train");
    let snapshots: Vec<std::path::PathBuf> = ["step-000002", "step-000004"]
        .iter()
        .map(|name| dir.join("snapshots").join(name))
        .collect();
    let (first, _) = load_checkpoint(&snapshots[0], &device).expect("first snapshot");
    let (model, state) = load_checkpoint(&snapshots[1], &device).expect("last snapshot");
    let (last, _) = load_checkpoint(&dir, &device).expect("checkpoint");
    assert_eq!(
        named_parameters(&model).expect("parameters"),
        named_parameters(&last).expect("parameters"),
        "the last snapshot is the final checkpoint"
    );
    assert_ne!(
        named_parameters(&first).expect("parameters"),
        named_parameters(&last).expect("parameters")
    );
    let mean = mean_of(&[first, model]).expect("mean");
    let out = TempDir::new("averaged");
    let averaged = TrainState {
        averaged_epochs: vec![0.5, 1.0],
        ..state
    };
    save_weights_checkpoint(&out, &mean, &averaged).expect("save");
    let (loaded, loaded_state) = load_checkpoint(&out, &device).expect("load");
    assert_eq!(loaded_state.averaged_epochs, vec![0.5, 1.0]);
    assert_eq!(loaded_state.images, averaged.images);
    let (a, b) = (
        named_parameters(&loaded).expect("parameters"),
        named_parameters(&mean).expect("parameters"),
    );
    assert_eq!(a, b, "the averaged weights come back as saved");
    let refused = train(&config, &set, None, &device, &options(&out, 2.0, 4, "cpu"))
        .err()
        .expect("resuming an averaged checkpoint must fail");
    assert!(
        refused.to_string().contains("no optimizer state"),
        "{refused}"
    );
}

/// A raster-only run continued with eight generation orders (`init_from`): the new run starts
/// at the old run's image and schedule with the old weights, trains its order biases away from
/// zero, and resumes from its own folder afterwards; the old folder is left as it was.
#[test]
fn a_raster_run_continues_with_orders_from_its_checkpoint() {
    let _guard = common::seed_lock();
    let raster_dir = TempDir::new("raster");
    let orders_dir = TempDir::new("orders");
    let (raster_dir, orders_dir): (&std::path::Path, &std::path::Path) = (&raster_dir, &orders_dir);
    let (set, device) = (tiny_set(20), Device::flex());
    let raster = tiny_config();
    let mut first = options(raster_dir, 4.0, 8, "cpu");
    first.max_seconds = Some(0.0); // one step, then a checkpoint
    train(&raster, &set, None, &device, &first).expect("raster run");
    let before = state(raster_dir);
    let old_model = std::fs::read(raster_dir.join("model.bpk")).expect("old weights");

    let with_orders = PixelCnnConfig {
        orders: 8,
        ..raster.clone()
    };
    let mut continued = options(orders_dir, 4.0, 8, "cpu");
    continued.schedule = None; // the old run's
    continued.init_from = Some(raster_dir.to_path_buf());
    let outcome = train(&with_orders, &set, None, &device, &continued).expect("continued");
    assert!(outcome.completed);
    let after = state(orders_dir);
    assert_eq!(after.config.as_ref().map(|c| c.orders), Some(8));
    assert_eq!(after.schedule, before.schedule, "the old run's schedule");
    assert_eq!(
        outcome.rates.first().map(|&(images, _)| images),
        Some(before.images),
        "the new run starts at the old run's image"
    );
    let moved = outcome.model.layers.iter().any(|layer| {
        let bias = layer.order_bias.as_ref().expect("order bias").val();
        bias.abs().max().into_scalar::<f32>() > 0.0
    });
    assert!(moved, "the order biases were trained");
    assert_eq!(
        std::fs::read(raster_dir.join("model.bpk")).expect("old weights"),
        old_model,
        "the raster checkpoint is untouched"
    );
    // The new folder resumes by itself; a raster config cannot resume it.
    let (model, _) = load_checkpoint(orders_dir, &device).expect("loads");
    assert_eq!(model.config.orders, 8);
    let mut again = options(orders_dir, 4.0, 8, "cpu");
    again.schedule = None;
    assert!(train(&raster, &set, None, &device, &again).is_err());
}

#[test]
fn mirroring_flips_a_seeded_half_of_the_images_left_to_right() {
    let device = Device::flex();
    let values: Vec<i64> = (0..64 * 6).map(|v| v % 7).collect();
    let images = Tensor::<4, Int>::from_data(TensorData::new(values, [64, 1, 2, 3]), &device);
    let indices: Vec<usize> = (0..64).collect();
    let values = |t: Tensor<4, Int>| t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
    let mirrored = |epoch: usize| {
        values(pixelcnn::train::mirrored(
            images.clone(),
            &indices,
            &[epoch; 64],
            3,
            &device,
        ))
    };
    let original = values(images.clone());
    let flipped = values(images.clone().flip([3]));
    let first = mirrored(0);
    let mut flips = 0;
    for item in 0..64 {
        let span = item * 6..(item + 1) * 6;
        let is_flipped = first[span.clone()] == flipped[span.clone()];
        assert!(
            is_flipped || first[span.clone()] == original[span.clone()],
            "item {item}"
        );
        flips += usize::from(is_flipped);
    }
    assert!((20..=44).contains(&flips), "{flips} of 64 mirrored");
    assert_eq!(first, mirrored(0), "the draw is seeded");
    assert_ne!(first, mirrored(1), "and differs per epoch");
}
