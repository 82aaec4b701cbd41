//! Helpers shared by the integration tests.

// Each test crate compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod sampling;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// burn's random seed is global to the process and the tests of one file run in parallel: a
/// test holds this lock from seeding until its model is built (or its training run ends), so
/// it gets the same weights on every run.
pub fn seed_lock() -> std::sync::MutexGuard<'static, ()> {
    static SEED: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SEED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A model with the same random weights on every run: seeded and built under [`seed_lock`].
pub fn seeded_model(
    config: &pixelcnn::PixelCnnConfig,
    device: &burn::tensor::Device,
    seed: u64,
) -> pixelcnn::PixelCnn {
    let _guard = seed_lock();
    device.seed(seed);
    pixelcnn::PixelCnn::new(config, device).expect("valid config")
}

/// A small config: 4 levels, hidden 12, kernels 5 and 3, head 24, raster order only; tests
/// change the fields they are about with `..small_config(..)`.
pub fn small_config(
    channels: usize,
    side: usize,
    layers: usize,
    classes: usize,
) -> pixelcnn::PixelCnnConfig {
    pixelcnn::PixelCnnConfig {
        version: pixelcnn::CONFIG_VERSION,
        channels,
        levels: 4,
        height: side,
        width: side,
        hidden: 12,
        layers,
        first_kernel: 5,
        kernel: 3,
        head: 24,
        classes,
        orders: 1,
    }
}

/// A tensor's values as f32, row-major.
pub fn to_vec<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor")
}

/// A temporary folder, removed when dropped (also when the test panics).
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty folder named after `tag`, the test process and a counter (tests in one
    /// process run in parallel and may use the same tag).
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("pixelcnn-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A freshly initialised model of `config`, saved with placeholder metrics into a temporary
/// folder: (folder, manifest JSON, weights bytes, model).
pub fn saved_model(
    config: &pixelcnn::PixelCnnConfig,
    dtype: pixelcnn::weights::StoredDType,
    tag: &str,
) -> (TempDir, String, Vec<u8>, pixelcnn::PixelCnn) {
    let model = pixelcnn::PixelCnn::new(config, &burn::tensor::Device::flex()).expect("config");
    let (dir, json, bytes) = save_fixture(&model, dtype, tag);
    (dir, json, bytes, model)
}

/// A data set made by the tests, described as `description`.
pub fn data_source(name: &str, description: &str) -> pixelcnn::weights::DataSource {
    pixelcnn::weights::DataSource {
        name: name.into(),
        credit: "the tests".into(),
        licence: "CC0-1.0".into(),
        url: format!("https://example.org/{name}"),
        description: description.into(),
    }
}

/// A data folder that names its own source.
pub fn write_source(dir: &std::path::Path, source: &pixelcnn::weights::DataSource) {
    let json = serde_json::to_string(source).expect("json");
    std::fs::write(dir.join(pixelcnn::data::SOURCE_FILE), json).expect("source.json");
}

/// `model` saved as `m.json` + `m.safetensors` with placeholder metrics into a temporary
/// folder: (folder, manifest JSON, weights bytes).
pub fn save_fixture(
    model: &pixelcnn::PixelCnn,
    dtype: pixelcnn::weights::StoredDType,
    tag: &str,
) -> (TempDir, String, Vec<u8>) {
    let dir = TempDir::new(tag);
    let metrics = pixelcnn::weights::Metrics {
        test_nll_nats: 1.0,
        test_bits_per_dim: 0.1,
        test_nll_nats_f32: None,
        test_mixture_nll_nats: None,
        epochs: 0.0,
        train_seconds: 0.0,
        device: "test".into(),
        averaged_epochs: vec![],
        test_sets: vec![],
    };
    let source = data_source("fixture", "fixture");
    pixelcnn::weights::save_model(model, &dir, "m", &[source], dtype, metrics).expect("save");
    let json = std::fs::read_to_string(dir.join("m.json")).expect("manifest");
    let bytes = std::fs::read(dir.join("m.safetensors")).expect("weights");
    (dir, json, bytes)
}

/// The logits [1, C, K, H, W] (flattened) of one image of level values [C, H, W], no class.
pub fn logits(model: &pixelcnn::PixelCnn, image: &[f32]) -> Vec<f32> {
    use burn::tensor::{Device, Tensor, TensorData};
    let c = &model.config;
    let x = Tensor::<4>::from_data(
        TensorData::new(image.to_vec(), [1, c.channels, c.height, c.width]),
        &Device::flex(),
    );
    model
        .forward(x, &pixelcnn::model::Condition::none())
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 logits")
}

/// Level values of test image `index` in one of the page's JSON files under www/models/.
pub fn page_test_image(file: &str, index: usize) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("www/models")
        .join(file);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("test images")).expect("json");
    json["digits"][index]["pixels"]
        .as_array()
        .expect("pixels")
        .iter()
        .map(|v| v.as_u64().expect("level") as u8)
        .collect()
}

/// One tensor of a safetensors file: (name, dtype, shape, raw little-endian bytes).
pub type RawTensor = (String, safetensors::Dtype, Vec<usize>, Vec<u8>);

/// The tensors of a valid safetensors file, sorted by name.
pub fn raw_tensors(bytes: &[u8]) -> Vec<RawTensor> {
    let file = safetensors::SafeTensors::deserialize(bytes).expect("safetensors");
    let mut tensors: Vec<RawTensor> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                view.dtype(),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    tensors
}

/// Serializes `tensors` as safetensors; if that is shorter than `min_len` bytes, a
/// `__metadata__` entry pads the header up to at least `min_len`, so that a file with a
/// tensor removed or narrowed still passes the loader's length check and reaches the check it
/// is meant for.
pub fn raw_file(tensors: &[RawTensor], min_len: usize) -> Vec<u8> {
    let serialize = |metadata: Option<std::collections::HashMap<String, String>>| {
        let views = tensors.iter().map(|(name, dtype, shape, bytes)| {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .expect("consistent tensor");
            (name.clone(), view)
        });
        safetensors::serialize(views, metadata).expect("serialize")
    };
    let plain = serialize(None);
    if plain.len() >= min_len {
        return plain;
    }
    let pad = "x".repeat(min_len - plain.len());
    serialize(Some([("pad".to_string(), pad)].into_iter().collect()))
}

/// The manifest (JSON) with its sha256 set to that of `bytes`, so that a loader given those
/// bytes reports what is wrong with them, not the hash.
pub fn with_hash_of(manifest: &str, bytes: &[u8]) -> String {
    let mut value: serde_json::Value = serde_json::from_str(manifest).expect("manifest json");
    value["sha256"] = pixelcnn::weights::sha256_hex(bytes).into();
    value.to_string()
}
