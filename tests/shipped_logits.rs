//! Pins the model maths to the shipped weights: the logits of the shipped MNIST model on a few
//! of the page's test digits must stay what they were when the weights were exported. A change
//! to the forward pass, the masks, the weight layout or the loader that moves any logit fails.
//!
//! `tests/fixtures/shipped_logits.json` was written by this test (with
//! `PIXELCNN_WRITE_GOLDEN=1`) from the code the weights were trained with; regenerate it only
//! together with new shipped weights.

mod common;

use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};
use pixelcnn::model::{Condition, nll_from_logits};
use pixelcnn::weights;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Golden {
    /// sha256 of the weights the figures belong to.
    sha256: String,
    /// Indices into www/models/mnist-digits.json.
    digits: Vec<usize>,
    /// NLL in nats of each digit, unconditional.
    nll: Vec<f64>,
    /// All logits [C, K, H, W] of the first digit.
    first_logits: Vec<f32>,
}

#[test]
fn shipped_model_logits_are_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let device = Device::flex();
    let (model, manifest) =
        weights::load_model(&root.join("www/models/mnist.json"), &device).expect("loads");
    let picks = vec![0usize, 5, 11, 19];
    let pixels: Vec<i64> = picks
        .iter()
        .flat_map(|&i| common::page_test_image("mnist-digits.json", i))
        .map(i64::from)
        .collect();
    let levels = Tensor::<4, Int>::from_data(TensorData::new(pixels, [4, 1, 28, 28]), &device);
    let logits = model.forward(levels.clone().float(), &Condition::none());
    let first: Vec<f32> = logits
        .clone()
        .narrow(0, 0, 1)
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    let nll: Vec<f64> = nll_from_logits(logits, levels)
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32")
        .into_iter()
        .map(f64::from)
        .collect();

    let path = root.join("tests/fixtures/shipped_logits.json");
    if std::env::var_os("PIXELCNN_WRITE_GOLDEN").is_some() {
        let golden = Golden {
            sha256: manifest.sha256.clone(),
            digits: picks,
            nll,
            first_logits: first,
        };
        std::fs::write(&path, serde_json::to_string(&golden).expect("json")).expect("write");
        return;
    }
    let golden: Golden =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file")).expect("json");
    assert_eq!(
        golden.sha256, manifest.sha256,
        "the shipped weights changed: regenerate the golden file with PIXELCNN_WRITE_GOLDEN=1"
    );
    assert_eq!(golden.digits, picks);
    println!("NLL now {nll:?}, golden {:?}", golden.nll);
    for (now, then) in nll.iter().zip(&golden.nll) {
        assert!((now - then).abs() < 1e-3, "NLL {now} vs {then}");
    }
    assert_eq!(first.len(), golden.first_logits.len());
    let worst = first
        .iter()
        .zip(&golden.first_logits)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    println!("largest relative logit change: {worst:e}");
    assert!(worst < 1e-5, "logits moved by up to {worst:e}");
}

/// The per-value scores the page shows (and its heat-map draws) add up to the NLL that
/// `pixelcnn eval` reports for the same images.
#[test]
fn scores_sum_to_the_evaluated_nll() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let device = Device::flex();
    let (model, _) =
        weights::load_model(&root.join("www/models/mnist.json"), &device).expect("loads");
    let images: Vec<u8> = (0..6)
        .flat_map(|i| common::page_test_image("mnist-digits.json", i))
        .collect();
    let set = pixelcnn::data::Dataset {
        labels: vec![0; 6],
        images: images.clone(),
        channels: 1,
        height: 28,
        width: 28,
        levels: 2,
        grey: None,
    };
    let eval_nll = pixelcnn::train::evaluate(&model, &set, 4, 2, &device, false);
    let levels = Tensor::<4, Int>::from_data(
        TensorData::new(
            images.iter().map(|&v| i64::from(v)).collect::<Vec<_>>(),
            [6, 1, 28, 28],
        ),
        &device,
    );
    let log_probs: Vec<f32> = model
        .log_probs(levels, &Condition::none())
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    assert_eq!(log_probs.len(), 6 * 784);
    assert!(log_probs.iter().all(|&lp| lp <= 0.0 && lp.is_finite()));
    let per_image: Vec<f64> = log_probs
        .chunks(784)
        .map(|image| -image.iter().map(|&v| f64::from(v)).sum::<f64>())
        .collect();
    let mean = per_image.iter().sum::<f64>() / 6.0;
    println!("scores: {per_image:.3?}, mean {mean:.4}; pixelcnn eval's NLL {eval_nll:.4}");
    assert!((mean - eval_nll).abs() < 1e-3, "{mean} vs {eval_nll}");
}
