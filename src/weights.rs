//! Weights as static files: a JSON manifest plus a safetensors file, validated on load.
//!
//! safetensors is a documented format that other tools read and that cannot carry code. The
//! manifest pins the weights by sha256, so a browser or a CLI never runs a model that is not
//! the one its metrics were measured on.

use std::collections::BTreeMap;

use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::{Device, TensorData};
use half::f16;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::PixelCnnConfig;
use crate::error::LoadError;
use crate::model::PixelCnn;

/// Version of the manifest layout itself.
pub const MANIFEST_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageShape {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Test-set negative log-likelihood, nats per image, of the weights as stored.
    pub test_nll_nats: f64,
    pub test_bits_per_dim: f64,
    /// The same, measured with the f32 weights before they were stored as f16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_nll_nats_f32: Option<f64>,
    pub epochs: f64,
    pub train_seconds: f64,
    /// Where it was trained, e.g. "cuda (NVIDIA H200)" or "cpu (flex, 2 cores)".
    pub device: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    /// Data set and how it was prepared (e.g. the binarization).
    pub dataset: String,
    pub image: ImageShape,
    pub levels: usize,
    pub classes: usize,
    pub config: PixelCnnConfig,
    /// File name of the weights, relative to the manifest.
    pub weights: String,
    /// "f16" or "f32".
    pub dtype: String,
    pub sha256: String,
    pub params: usize,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredDType {
    F16,
    F32,
}

impl StoredDType {
    pub fn name(self) -> &'static str {
        match self {
            Self::F16 => "f16",
            Self::F32 => "f32",
        }
    }

    fn bytes(self) -> usize {
        match self {
            Self::F16 => 2,
            Self::F32 => 4,
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::F16, Self::F32]
            .into_iter()
            .find(|d| d.name() == name)
    }
}

/// Room a safetensors header may take besides the tensors' data (names, shapes, offsets).
const MAX_HEADER_BYTES: usize = 1 << 20;

/// The dtype to store trained weights in: f16 when it costs no measurable likelihood (less
/// than 0.01 nats per image on the test set), else f32.
pub fn storage_dtype(test_nll_f32: f64, test_nll_f16: f64) -> StoredDType {
    if test_nll_f16 - test_nll_f32 < 0.01 {
        StoredDType::F16
    } else {
        StoredDType::F32
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A parameter's name, shape and f32 values.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// The model's parameters in a stable order.
///
/// Reads tensors synchronously, so it is for native code (the browser never saves).
pub fn named_parameters(model: &PixelCnn) -> Result<Vec<NamedTensor>, LoadError> {
    model
        .collect(None, None, false)
        .into_iter()
        .map(|t| {
            let data = bridge::to_data(&t).map_err(|e| LoadError::Apply(e.to_string()))?;
            let values = data
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| LoadError::Apply(format!("{e:?}")))?;
            Ok((t.name.clone(), t.shape.to_vec(), values))
        })
        .collect()
}

/// Serializes the model's parameters as safetensors bytes.
pub fn to_safetensors(model: &PixelCnn, dtype: StoredDType) -> Result<Vec<u8>, LoadError> {
    let params = named_parameters(model)?;
    let encoded: Vec<(String, Vec<usize>, Vec<u8>)> = params
        .into_iter()
        .map(|(name, shape, values)| {
            let bytes = match dtype {
                StoredDType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                StoredDType::F16 => values
                    .iter()
                    .flat_map(|v| f16::from_f32(*v).to_le_bytes())
                    .collect(),
            };
            (name, shape, bytes)
        })
        .collect();
    let st_dtype = match dtype {
        StoredDType::F16 => Dtype::F16,
        StoredDType::F32 => Dtype::F32,
    };
    let views = encoded
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(st_dtype, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
                .map_err(|e| LoadError::Format(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| LoadError::Format(e.to_string()))
}

/// Parses and checks a manifest (format and config version) without touching the weights.
pub fn parse_manifest(json: &str) -> Result<Manifest, LoadError> {
    // Read the format first so an old or future manifest gets a version error, not a
    // confusing "missing field" one.
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| LoadError::ManifestJson(e.to_string()))?;
    let format = value.get("format").and_then(|f| f.as_u64()).unwrap_or(0) as u32;
    if format != MANIFEST_FORMAT {
        return Err(LoadError::ManifestVersion {
            found: format,
            expected: MANIFEST_FORMAT,
        });
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| LoadError::ManifestJson(e.to_string()))?;
    manifest.config.validate()?;
    let expected = manifest.config.param_count();
    if manifest.params != expected {
        return Err(LoadError::ManifestJson(format!(
            "`params` says {} but the config has {expected} parameters",
            manifest.params
        )));
    }
    if StoredDType::parse(&manifest.dtype).is_none() {
        return Err(LoadError::ManifestJson(format!(
            "`dtype` is \"{}\"; only \"f16\" and \"f32\" are supported",
            manifest.dtype
        )));
    }
    Ok(manifest)
}

/// Builds the model a manifest describes from its weights file, checking hash, tensor names,
/// shapes and dtypes. Works on every backend, the browser's included.
pub fn load_from_bytes(
    manifest_json: &str,
    weights: &[u8],
    device: &Device,
) -> Result<(PixelCnn, Manifest), LoadError> {
    let manifest = parse_manifest(manifest_json)?;
    // Checked before hashing or parsing: a file far from the size the config implies (as
    // f16 at least, as f32 plus a header at most) is not this model's.
    let params = manifest.params;
    let (low, high) = (
        params
            .saturating_mul(StoredDType::F16.bytes())
            .saturating_add(8),
        params
            .saturating_mul(StoredDType::F32.bytes())
            .saturating_add(8 + MAX_HEADER_BYTES),
    );
    if !(low..=high).contains(&weights.len()) {
        return Err(LoadError::Length {
            found: weights.len(),
            params,
            low,
            high,
        });
    }
    let actual = sha256_hex(weights);
    if actual != manifest.sha256 {
        return Err(LoadError::Hash {
            expected: manifest.sha256.clone(),
            actual,
        });
    }
    let model = model_from_safetensors(&manifest.config, weights, device)?;
    Ok((model, manifest))
}

/// Builds a model from safetensors bytes, validating every tensor against the config.
pub fn model_from_safetensors(
    config: &PixelCnnConfig,
    weights: &[u8],
    device: &Device,
) -> Result<PixelCnn, LoadError> {
    let file = SafeTensors::deserialize(weights).map_err(|e| LoadError::Format(e.to_string()))?;
    let mut model = PixelCnn::new(config, device)?;
    let expected: BTreeMap<String, Vec<usize>> = model
        .collect(None, None, false)
        .into_iter()
        .map(|t| (t.name.clone(), t.shape.to_vec()))
        .collect();
    if let Some(extra) = file
        .names()
        .into_iter()
        .find(|n| !expected.contains_key(*n))
    {
        return Err(LoadError::UnexpectedTensor(extra.to_string()));
    }
    let mut tensors = Vec::with_capacity(expected.len());
    for (name, shape) in &expected {
        let view = file
            .tensor(name)
            .map_err(|_| LoadError::MissingTensor(name.clone()))?;
        if view.shape() != shape.as_slice() {
            return Err(LoadError::Shape {
                name: name.clone(),
                found: view.shape().to_vec(),
                expected: shape.clone(),
            });
        }
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => view
                .data()
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(LoadError::DType {
                    name: name.clone(),
                    found: format!("{other:?}"),
                });
            }
        };
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(LoadError::NonFinite {
                name: name.clone(),
                index,
                value: values[index],
            });
        }
        let data = TensorData::new(values, shape.clone());
        tensors.push(bridge::from_data(data, name.clone(), None));
    }
    let result = model.apply(tensors, None, None, false);
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(LoadError::Apply(format!(
            "{} errors, {} parameters missing",
            result.errors.len(),
            result.missing.len()
        )));
    }
    Ok(model)
}

/// Native helpers: read and write manifests and weights on disk.
#[cfg(not(target_family = "wasm"))]
mod files {
    use std::path::{Path, PathBuf};

    use super::*;

    fn io_error(path: &Path, e: std::io::Error) -> LoadError {
        LoadError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// Loads the model a manifest file describes; the weights file is resolved next to it.
    pub fn load_model(
        manifest_path: &Path,
        device: &Device,
    ) -> Result<(PixelCnn, Manifest), LoadError> {
        let json =
            std::fs::read_to_string(manifest_path).map_err(|e| io_error(manifest_path, e))?;
        let manifest = parse_manifest(&json)?;
        let weights_path = weights_path(manifest_path, &manifest);
        let weights = std::fs::read(&weights_path).map_err(|e| io_error(&weights_path, e))?;
        load_from_bytes(&json, &weights, device)
    }

    pub fn weights_path(manifest_path: &Path, manifest: &Manifest) -> PathBuf {
        manifest_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&manifest.weights)
    }

    /// Writes `dir/NAME.safetensors` and `dir/NAME.json`; returns the manifest written.
    pub fn save_model(
        model: &PixelCnn,
        dir: &Path,
        name: &str,
        dataset: &str,
        dtype: StoredDType,
        metrics: Metrics,
    ) -> Result<Manifest, LoadError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let bytes = to_safetensors(model, dtype)?;
        let weights = format!("{name}.safetensors");
        let weights_path = dir.join(&weights);
        std::fs::write(&weights_path, &bytes).map_err(|e| io_error(&weights_path, e))?;
        let config = model.config.clone();
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            name: name.to_string(),
            dataset: dataset.to_string(),
            image: ImageShape {
                width: config.width,
                height: config.height,
                channels: config.channels,
            },
            levels: config.levels,
            classes: config.classes,
            params: model.num_params(),
            config,
            weights,
            dtype: dtype.name().to_string(),
            sha256: sha256_hex(&bytes),
            metrics,
        };
        let manifest_path = dir.join(format!("{name}.json"));
        let json = serde_json::to_string_pretty(&manifest)
            .map_err(|e| LoadError::ManifestJson(e.to_string()))?;
        std::fs::write(&manifest_path, json + "\n").map_err(|e| io_error(&manifest_path, e))?;
        Ok(manifest)
    }
}

#[cfg(not(target_family = "wasm"))]
pub use files::{load_model, save_model, weights_path};
