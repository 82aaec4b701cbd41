//! Resumable training: a run split in two with different batch sizes continues from the same
//! image position, and the checkpoint keeps a per-device history for the manifest.

use burn::tensor::Device;
use pixelcnn::PixelCnnConfig;
use pixelcnn::data::Dataset;
use pixelcnn::train::{TrainOptions, TrainSegment, TrainState, describe_history, train};

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
        epochs,
        batch_size: batch,
        learning_rate: 1e-3,
        label_dropout: 0.2,
        seed: 3,
        checkpoint_dir: dir.to_path_buf(),
        checkpoint_every_steps: 1000,
        resume: true,
        max_seconds: None,
        device_name: device.to_string(),
        workers: 2,
    }
}

fn state(dir: &std::path::Path) -> TrainState {
    let json = std::fs::read_to_string(dir.join("state.json")).expect("state.json");
    serde_json::from_str(&json).expect("state parses")
}

#[test]
fn resuming_with_another_batch_size_continues_at_the_same_image() {
    let dir = std::env::temp_dir().join(format!("pixelcnn-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (set, config, device) = (tiny_set(20), tiny_config(), Device::flex());

    let first = train(&config, &set, &device, &options(&dir, 1.0, 8, "gpu A")).expect("train");
    let after_first = state(&dir);
    assert_eq!(after_first.images, 24, "3 steps of 8 cover one epoch of 20");
    assert_eq!(after_first.step, 3);
    assert!((first.epochs - 1.2).abs() < 1e-9, "{}", first.epochs);

    let second = train(&config, &set, &device, &options(&dir, 2.0, 3, "cpu B")).expect("resume");
    let after_second = state(&dir);
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
    let _ = std::fs::remove_dir_all(&dir);
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
