//! Manifest + safetensors round trip, and every way a weights file can be wrong giving its own
//! error.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::TempDir;
use pixelcnn::error::LoadError;
use pixelcnn::weights::{self, StoredDType};
use pixelcnn::{CONFIG_VERSION, PixelCnn, PixelCnnConfig};

fn config() -> PixelCnnConfig {
    PixelCnnConfig {
        version: CONFIG_VERSION,
        channels: 1,
        levels: 2,
        height: 8,
        width: 8,
        hidden: 8,
        layers: 3,
        first_kernel: 5,
        kernel: 3,
        head: 16,
        classes: 3,
    }
}

fn logits(model: &PixelCnn) -> Vec<f32> {
    let x = Tensor::<4>::from_data(
        TensorData::new(
            (0..64).map(|i| (i % 2) as f32).collect::<Vec<_>>(),
            [1, 1, 8, 8],
        ),
        &Device::flex(),
    );
    model
        .forward(x, None)
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32")
}

/// Saves a fresh model into a temp dir; returns (dir, manifest json, weights bytes, model).
fn saved(dtype: StoredDType, tag: &str) -> (TempDir, String, Vec<u8>, PixelCnn) {
    common::saved_model(&config(), dtype, &format!("weights-{tag}"))
}

#[test]
fn f32_round_trip_is_exact_and_manifest_is_complete() {
    let (dir, json, bytes, model) = saved(StoredDType::F32, "f32");
    let (loaded, manifest) =
        weights::load_model(&dir.join("m.json"), &Device::flex()).expect("load");
    assert_eq!(logits(&model), logits(&loaded));
    assert_eq!(manifest.sha256, weights::sha256_hex(&bytes));
    assert_eq!(manifest.config, config());
    assert_eq!(manifest.params, model.num_params());
    let value: serde_json::Value = serde_json::from_str(&json).expect("json");
    for field in [
        "name", "dataset", "image", "levels", "classes", "config", "weights", "sha256", "params",
        "metrics",
    ] {
        assert!(value.get(field).is_some(), "manifest lacks `{field}`");
    }
    for field in [
        "test_nll_nats",
        "test_bits_per_dim",
        "epochs",
        "train_seconds",
        "device",
    ] {
        assert!(
            value["metrics"].get(field).is_some(),
            "metrics lack `{field}`"
        );
    }
}

#[test]
fn f16_round_trip_is_close() {
    let (dir, _, _, model) = saved(StoredDType::F16, "f16");
    let (loaded, manifest) =
        weights::load_model(&dir.join("m.json"), &Device::flex()).expect("load");
    assert_eq!(manifest.dtype, "f16");
    for (a, b) in logits(&model).iter().zip(logits(&loaded)) {
        assert!((a - b).abs() < 1e-2, "{a} vs {b}");
    }
}

#[test]
fn truncated_file_is_a_format_error() {
    let (_, json, bytes, _) = saved(StoredDType::F32, "trunc");
    let cut = &bytes[..bytes.len() / 2];
    // Re-pin the hash so the truncation itself is what gets reported.
    let json = json.replace(&weights::sha256_hex(&bytes), &weights::sha256_hex(cut));
    let err = weights::load_from_bytes(&json, cut, &Device::flex()).expect_err("must fail");
    assert!(matches!(err, LoadError::Format(_)), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn wrong_hash_is_reported() {
    let (_, json, mut bytes, _) = saved(StoredDType::F32, "hash");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let err = weights::load_from_bytes(&json, &bytes, &Device::flex()).expect_err("must fail");
    assert!(matches!(err, LoadError::Hash { .. }), "{err}");
    assert!(err.to_string().contains("sha256"), "{err}");
}

#[test]
fn wrong_shape_names_the_tensor() {
    let (_, json, bytes, _) = saved(StoredDType::F32, "shape");
    // Weights of a wider model under the manifest of the narrow one.
    let wide = PixelCnn::new(
        &PixelCnnConfig {
            hidden: 16,
            ..config()
        },
        &Device::flex(),
    )
    .expect("config");
    let wide_bytes = weights::to_safetensors(&wide, StoredDType::F32).expect("serialize");
    let json = json.replace(
        &weights::sha256_hex(&bytes),
        &weights::sha256_hex(&wide_bytes),
    );
    let err = weights::load_from_bytes(&json, &wide_bytes, &Device::flex()).expect_err("must fail");
    assert!(matches!(err, LoadError::Shape { .. }), "{err}");
    assert!(err.to_string().contains("has shape"), "{err}");
}

#[test]
fn unknown_config_version_is_reported() {
    let (_, json, bytes, _) = saved(StoredDType::F32, "version");
    let mut value: serde_json::Value = serde_json::from_str(&json).expect("json");
    value["config"]["version"] = serde_json::json!(99);
    let err = weights::load_from_bytes(&value.to_string(), &bytes, &Device::flex())
        .expect_err("must fail");
    assert!(matches!(err, LoadError::Config(_)), "{err}");
    assert!(err.to_string().contains("version 99"), "{err}");
}

#[test]
fn unknown_manifest_format_is_reported() {
    let (_, json, bytes, _) = saved(StoredDType::F32, "format");
    let mut value: serde_json::Value = serde_json::from_str(&json).expect("json");
    value["format"] = serde_json::json!(7);
    let err = weights::load_from_bytes(&value.to_string(), &bytes, &Device::flex())
        .expect_err("must fail");
    assert!(
        matches!(err, LoadError::ManifestVersion { found: 7, .. }),
        "{err}"
    );
}

#[test]
fn missing_tensor_is_reported() {
    let (_, json, bytes, _) = saved(StoredDType::F32, "missing");
    // One layer fewer: the file lacks the last layer's tensors.
    let short = PixelCnn::new(
        &PixelCnnConfig {
            layers: 2,
            ..config()
        },
        &Device::flex(),
    )
    .expect("config");
    let short_bytes = weights::to_safetensors(&short, StoredDType::F32).expect("serialize");
    let json = json.replace(
        &weights::sha256_hex(&bytes),
        &weights::sha256_hex(&short_bytes),
    );
    let err =
        weights::load_from_bytes(&json, &short_bytes, &Device::flex()).expect_err("must fail");
    assert!(matches!(err, LoadError::MissingTensor(_)), "{err}");
}

#[test]
fn malformed_manifest_is_reported() {
    let err = weights::load_from_bytes("{not json", &[], &Device::flex()).expect_err("must fail");
    assert!(matches!(err, LoadError::ManifestJson(_)), "{err}");
}
