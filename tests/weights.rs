//! Manifest + safetensors round trip, and every way a weights file can be wrong giving its own
//! error.

mod common;

use burn::tensor::Device;
use common::TempDir;
use pixelcnn::error::LoadError;
use pixelcnn::weights::{self, StoredDType};
use pixelcnn::{PixelCnn, PixelCnnConfig};
use safetensors::Dtype;

fn config() -> PixelCnnConfig {
    PixelCnnConfig {
        levels: 2,
        hidden: 8,
        head: 16,
        ..common::small_config(1, 8, 3, 3)
    }
}

/// The logits of a fixed 8×8 image of alternating 0s and 1s.
fn logits(model: &PixelCnn) -> Vec<f32> {
    let image: Vec<f32> = (0..64).map(|i| (i % 2) as f32).collect();
    common::logits(model, &image)
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

/// A model of `config()` whose every parameter, biases included, comes from a fixed
/// pseudo-random sequence: uniform in ±1/√fan-in. (burn's random initialisation is global and
/// shared with the tests running alongside, so a fresh model differs from run to run.)
fn fixed_model() -> PixelCnn {
    let device = Device::flex();
    let fresh = PixelCnn::new(&config(), &device).expect("config");
    let mut state = 2026u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let tensors: Vec<common::RawTensor> = weights::named_parameters(&fresh)
        .expect("params")
        .into_iter()
        .map(|(name, shape, values)| {
            let fan_in = (values.len() / shape[0]).max(1) as f32;
            let bytes = values
                .iter()
                .flat_map(|_| (uniform() / fan_in.sqrt()).to_le_bytes())
                .collect();
            (name, Dtype::F32, shape, bytes)
        })
        .collect();
    let bytes = common::raw_file(&tensors, 0);
    weights::model_from_safetensors(&config(), &bytes, StoredDType::F32, &device).expect("load")
}

/// An int8 file: every rank ≥ 2 tensor within half a quantization step of the (masked)
/// weights, biases exact, logits close to the f32 model's, and the file about half of f16.
#[test]
fn int8_round_trip_is_within_half_a_step_and_smaller_than_f16() {
    let model = fixed_model();
    let (dir, json, bytes) = common::save_fixture(&model, StoredDType::I8, "weights-int8");
    let (loaded, manifest) =
        weights::load_model(&dir.join("m.json"), &Device::flex()).expect("load");
    assert_eq!(manifest.dtype, "int8");
    assert_eq!(manifest.sha256, weights::sha256_hex(&bytes));
    assert!(json.contains("\"int8\""));

    let tensors = common::raw_tensors(&bytes);
    let raw = |name: &str| {
        tensors
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("{name} not in the file"))
    };
    let original = weights::effective_parameters(&model).expect("params");
    let stored = weights::named_parameters(&loaded).expect("params");
    let mut checked = 0;
    for ((name, shape, want), (loaded_name, _, got)) in original.iter().zip(&stored) {
        assert_eq!(name, loaded_name);
        let (_, dtype, _, data) = raw(name);
        if shape.len() < 2 {
            assert_eq!(*dtype, Dtype::F32, "{name}");
            assert_eq!(want, got, "{name}");
            continue;
        }
        assert_eq!(*dtype, Dtype::I8, "{name}");
        let (_, scale_dtype, scale_shape, scale_bytes) = raw(&format!("{name}.scale"));
        assert_eq!(*scale_dtype, Dtype::F32);
        assert_eq!(scale_shape, &vec![shape[0]]);
        let scales: Vec<f32> = scale_bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        let row_len = want.len() / shape[0];
        for (i, (w, g)) in want.iter().zip(got).enumerate() {
            let scale = scales[i / row_len];
            let q = data[i] as i8;
            assert!((-127..=127).contains(&q), "{name}[{i}] = {q}");
            assert_eq!(*g, f32::from(q) * scale, "{name}[{i}] is not q·scale");
            let bound = scale / 2.0 * (1.0 + 1e-5) + 1e-12;
            assert!(
                (w - g).abs() <= bound,
                "{name}[{i}]: {w} vs {g}, scale {scale}"
            );
        }
        for (row, scale) in want.chunks(row_len).zip(&scales) {
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_eq!(*scale, max / 127.0, "{name}");
        }
        checked += 1;
    }
    // Every convolution of the 3 layers and the head, and the class biases.
    assert_eq!(checked, 3 * 5 + 2, "int8 tensors checked");

    let (a, b) = (logits(&model), logits(&loaded));
    let largest = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    println!("largest logit {largest}, largest change {worst}");
    assert!(
        largest > 0.1 && worst <= 0.01 * largest,
        "logits moved by up to {worst}"
    );

    // On the shipped architecture the int8 file is a little over half of f16.
    let mnist = PixelCnn::new(&PixelCnnConfig::mnist(), &Device::flex()).expect("config");
    let size = |dtype| {
        weights::to_safetensors(&mnist, dtype)
            .expect("serialize")
            .len()
    };
    let (int8, f16) = (size(StoredDType::I8), size(StoredDType::F16));
    println!("mnist architecture: int8 {int8} bytes, f16 {f16} bytes");
    assert!(int8 < f16 * 55 / 100, "int8 {int8} vs f16 {f16}");
    assert!(
        bytes.len()
            < weights::to_safetensors(&model, StoredDType::F16)
                .expect("f16")
                .len()
    );
}

/// A channel whose scale is 0 loads as zeros (what a channel of all-zero weights is stored as).
#[test]
fn int8_zero_scale_loads_as_a_zero_channel() {
    let (_, json, bytes, _) = saved(StoredDType::I8, "int8-zero");
    let mut tensors = common::raw_tensors(&bytes);
    let name = "head_out.weight";
    let scale = tensors
        .iter_mut()
        .find(|t| t.0 == format!("{name}.scale"))
        .expect("scale");
    scale.3[..4].copy_from_slice(&0f32.to_le_bytes());
    let edited = common::raw_file(&tensors, bytes.len());
    let json = common::with_hash_of(&json, &edited);
    let (loaded, _) =
        weights::load_from_bytes(&json, &edited, &Device::flex()).expect("a zero scale is valid");
    let params = weights::named_parameters(&loaded).expect("params");
    let (_, shape, values) = params.iter().find(|t| t.0 == name).expect("tensor");
    let row_len = values.len() / shape[0];
    assert!(values[..row_len].iter().all(|v| *v == 0.0));
    assert!(values[row_len..].iter().any(|v| *v != 0.0));
}

#[test]
fn truncated_file_is_a_format_error() {
    let (_, json, bytes, _) = saved(StoredDType::F32, "trunc");
    let cut = &bytes[..bytes.len() / 2];
    // The hash of the cut bytes, so that the truncation itself is what gets reported.
    let json = common::with_hash_of(&json, cut);
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
    let (_, json, _, _) = saved(StoredDType::F32, "shape");
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
    let json = common::with_hash_of(&json, &wide_bytes);
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
    let (_, json, _, _) = saved(StoredDType::F32, "missing");
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
    let json = common::with_hash_of(&json, &short_bytes);
    let err =
        weights::load_from_bytes(&json, &short_bytes, &Device::flex()).expect_err("must fail");
    assert!(matches!(err, LoadError::MissingTensor(_)), "{err}");
}

#[test]
fn malformed_manifest_is_reported() {
    let err = weights::load_from_bytes("{not json", &[], &Device::flex()).expect_err("must fail");
    assert!(matches!(err, LoadError::ManifestJson(_)), "{err}");
}

#[test]
fn a_measured_default_temperature_is_stored_checked_and_kept_with_the_weights() {
    let config = PixelCnnConfig {
        levels: 2,
        hidden: 4,
        first_kernel: 3,
        head: 8,
        ..common::small_config(1, 6, 2, 2)
    };
    let (dir, json, _, _) = common::saved_model(&config, StoredDType::F16, "default-temperature");
    let path = dir.join("m.json");
    assert_eq!(
        weights::parse_manifest(&json).unwrap().default_temperature,
        None
    );
    weights::set_default_temperature(&path, 0.85).expect("written");
    let (_, manifest) = weights::load_model(&path, &Device::flex()).expect("still loads");
    assert_eq!(manifest.default_temperature, Some(0.85));
    let before: serde_json::Value = serde_json::from_str(&json).unwrap();
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for key in ["sha256", "metrics", "config", "sources", "dataset"] {
        assert_eq!(before[key], after[key], "{key}");
    }
    for bad in ["0", "-1", "1e40"] {
        let edited = json.replacen(
            "\"format\": 1",
            &format!("\"format\": 1, \"default_temperature\": {bad}"),
            1,
        );
        let err = weights::parse_manifest(&edited).expect_err(bad);
        assert!(
            err.to_string().contains("default_temperature"),
            "{bad}: {err}"
        );
    }
}
