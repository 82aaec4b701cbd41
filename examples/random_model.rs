//! Writes an untrained (randomly initialised) model in the shipped format, for the browser
//! tests when no trained weights are around:
//! `cargo run --example random_model -- DIR [NAME] [--orders N] [--tiny]`.
//! Its metrics are zero and its samples noise, but loading, masking, batching and determinism
//! behave as with real weights. `--orders N` gives it N generation orders; `--tiny` makes it a
//! few kilobytes (8 feature maps, 2 layers) for a fixture that is committed.

use std::path::PathBuf;

use burn::tensor::Device;
use pixelcnn::weights::{Metrics, StoredDType, save_model};
use pixelcnn::{PixelCnn, PixelCnnConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: random_model DIR [NAME] [--orders N] [--tiny]";
    let mut positional = vec![];
    let mut config = PixelCnnConfig::mnist();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--orders" => config.orders = args.next().ok_or(usage)?.parse()?,
            "--tiny" => {
                config.hidden = 8;
                config.layers = 2;
                config.head = 16;
            }
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let dir = PathBuf::from(positional.next().ok_or(usage)?);
    let name = positional.next().unwrap_or_else(|| "mnist".into());
    let device = Device::flex();
    device.seed(1);
    let model = PixelCnn::new(&config, &device)?;
    let metrics = Metrics {
        test_nll_nats: 0.0,
        test_bits_per_dim: 0.0,
        test_nll_nats_f32: None,
        test_mixture_nll_nats: None,
        epochs: 0.0,
        train_seconds: 0.0,
        device: "untrained".into(),
        averaged_epochs: vec![],
        test_sets: vec![],
    };
    let manifest = save_model(&model, &dir, &name, &[], StoredDType::F16, metrics)?;
    println!(
        "wrote {}/{}.json ({} parameters)",
        dir.display(),
        name,
        manifest.params
    );
    Ok(())
}
