//! The weights the page loads: the manifest is complete, the hash matches, and they load.

use std::path::Path;

use burn::tensor::Device;
use pixelcnn::weights;

#[test]
fn shipped_mnist_model_loads_and_matches_its_manifest() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/mnist.json");
    let (model, manifest) =
        weights::load_model(&path, &Device::flex()).expect("shipped model loads");
    let bytes = std::fs::read(weights::weights_path(&path, &manifest)).expect("weights file");
    assert_eq!(manifest.sha256, weights::sha256_hex(&bytes));
    assert_eq!(manifest.params, model.num_params());
    assert!(
        manifest.params <= 1_000_000,
        "{} parameters",
        manifest.params
    );
    assert_eq!(
        (manifest.image.width, manifest.image.height, manifest.levels),
        (28, 28, 2)
    );
    let nll = manifest.metrics.test_nll_nats;
    let bpd = nll / (784.0 * std::f64::consts::LN_2);
    assert!((manifest.metrics.test_bits_per_dim - bpd).abs() < 1e-9);
    assert!(!manifest.metrics.device.is_empty());
}
