//! The command-line tool end to end: a model trained on two data sets at once credits both in
//! its manifest and states each one's test figure.

mod common;

use std::process::Command;

use burn::tensor::Device;
use common::TempDir;
use pixelcnn::data::write_idx;
use pixelcnn::weights;

/// A colour set of 4×4 images: `train` training and 2 test images of flat colour `value`.
fn colour_set(tag: &str, train: usize, value: u8) -> TempDir {
    let dir = TempDir::new(tag);
    for (split, n) in [("train", train), ("t10k", 2)] {
        let images = dir.join(format!("{split}-images-idx4-ubyte.gz"));
        write_idx(&images, &[n, 4, 4, 3], &vec![value; n * 48]).expect("write");
        let labels = dir.join(format!("{split}-labels-idx1-ubyte.gz"));
        write_idx(&labels, &[n], &vec![0; n]).expect("write");
    }
    dir
}

#[test]
fn training_on_two_sets_credits_and_scores_each() {
    let noto_like = colour_set("cli-first", 6, 250);
    let other = colour_set("cli-second", 5, 10);
    let source = common::data_source("Second", "flat dark squares");
    common::write_source(&other, &source);
    let out = TempDir::new("cli-out");
    let run = Command::new(env!("CARGO_BIN_EXE_pixelcnn"))
        .args(["train", "--dataset", "emoji", "--name", "two"])
        .arg("--data-dir")
        .arg(&*noto_like)
        .arg("--data-dir")
        .arg(&*other)
        .args([
            "--validation-split",
            "1",
            "--validation-images",
            "2",
            "--batch-size",
            "3",
        ])
        .args([
            "--total-epochs",
            "1",
            "--hidden",
            "6",
            "--layers",
            "1",
            "--head",
            "6",
        ])
        .args(["--first-kernel", "3", "--eval-batch", "2"])
        .arg("--checkpoint-dir")
        .arg(out.join("run"))
        .arg("--out-dir")
        .arg(&*out)
        .output()
        .expect("pixelcnn runs");
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{log}");
    // One validation image held out of each set: 5 + 4 training images.
    assert!(log.contains("on 9 images"), "{log}");

    let (_, manifest) =
        weights::load_model(&out.join("two.json"), &Device::flex()).expect("manifest");
    let names: Vec<&str> = manifest.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Noto Color Emoji", "Second"]);
    assert_eq!(manifest.sources[1], source);
    let sets = &manifest.metrics.test_sets;
    assert_eq!(
        sets.iter()
            .map(|s| (s.name.as_str(), s.images))
            .collect::<Vec<_>>(),
        [("Noto Color Emoji", 2), ("Second", 2)]
    );
    assert_eq!(sets[0].test_nll_nats, manifest.metrics.test_nll_nats);
    assert_ne!(sets[0].test_nll_nats, sets[1].test_nll_nats);
    assert_eq!(
        manifest.stated_test_nll(&source),
        Some(sets[1].test_nll_nats)
    );
    assert!(manifest.dataset.contains("flat dark squares") && manifest.dataset.contains("Noto"));
}
