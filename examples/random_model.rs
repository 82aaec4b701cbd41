//! Writes an untrained (randomly initialised) model in the shipped format, for the browser
//! tests when no trained weights are around: `cargo run --example random_model -- DIR [NAME]`.
//! Its metrics are zero and its samples noise, but loading, masking, batching and determinism behave as with real
//! weights.

use std::path::PathBuf;

use burn::tensor::Device;
use pixelcnn::weights::{Metrics, StoredDType, save_model};
use pixelcnn::{PixelCnn, PixelCnnConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: random_model DIR [NAME]")?);
    let name = args.next().unwrap_or_else(|| "mnist".into());
    let device = Device::flex();
    let model = PixelCnn::new(&PixelCnnConfig::mnist(), &device)?;
    let metrics = Metrics {
        test_nll_nats: 0.0,
        test_bits_per_dim: 0.0,
        test_nll_nats_f32: None,
        epochs: 0.0,
        train_seconds: 0.0,
        device: "untrained".into(),
        averaged_epochs: vec![],
    };
    let manifest = save_model(
        &model,
        &dir,
        &name,
        "none (random weights, for tests)",
        StoredDType::F16,
        metrics,
    )?;
    println!(
        "wrote {}/{}.json ({} parameters)",
        dir.display(),
        name,
        manifest.params
    );
    Ok(())
}
