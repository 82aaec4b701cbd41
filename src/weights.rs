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
    /// The same, measured with the f32 weights before they were stored (as int8, f16 or f32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_nll_nats_f32: Option<f64>,
    /// For a model with several generation orders (`test_nll_nats` is the identity order's):
    /// the test NLL of the uniform mixture over its orders, −log(1/O Σ_o p_o(x)), nats per
    /// image, of the weights as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_mixture_nll_nats: Option<f64>,
    pub epochs: f64,
    pub train_seconds: f64,
    /// Where it was trained, e.g. "cuda (NVIDIA H200)" or "cpu (flex, 2 cores)".
    pub device: String,
    /// When the weights are the parameter-wise mean of several checkpoints of one run: the
    /// epoch of each (`epochs` is then that of the newest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub averaged_epochs: Vec<f64>,
    /// For a model trained on several data sets: each one's test split as stored, in the order
    /// of `Manifest::sources` (the first is the one `test_nll_nats` states).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_sets: Vec<SetFigures>,
}

/// One data set's test split scored by a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetFigures {
    /// The data set's name, as in its [`DataSource`].
    pub name: String,
    pub images: usize,
    pub test_nll_nats: f64,
    pub test_bits_per_dim: f64,
}

/// A data set a model was trained on: what a page or a README must credit, and how its images
/// were prepared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "web", derive(tsify::Tsify))]
pub struct DataSource {
    /// e.g. "Twemoji".
    pub name: String,
    /// Who made it, as its licence asks them to be credited.
    pub credit: String,
    /// SPDX identifier of the images' licence, e.g. "CC-BY-4.0".
    pub licence: String,
    /// Where the images are published.
    pub url: String,
    /// How the images were prepared (e.g. the binarization or the downsampling).
    pub description: String,
}

impl DataSource {
    /// The manifest's one-line `dataset` for a model trained on `sources`.
    pub fn describe_all(sources: &[DataSource]) -> String {
        if sources.is_empty() {
            return "none (not trained on any data)".into();
        }
        sources
            .iter()
            .map(|s| s.description.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    }
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
    /// How each of the model's generation orders (`config.orders`, by index) walks the
    /// image, for people reading the manifest; none for a raster-only model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<String>,
    /// File name of the weights, relative to the manifest.
    pub weights: String,
    /// How the weights are stored: "int8", "f16" or "f32" (see [`StoredDType`]).
    pub dtype: String,
    /// For int8: the quantization steps on each side of zero (127 = the whole int8 range;
    /// fewer steps compress better). Informational: the loader needs only the scales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8_steps: Option<u8>,
    pub sha256: String,
    pub params: usize,
    pub metrics: Metrics,
    /// The softmax temperature the page starts with for this model, chosen by measurement
    /// (`pixelcnn temperature --write`); 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_temperature: Option<f32>,
    /// The data sets it was trained on (older manifests name them in `dataset` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<DataSource>,
}

impl Manifest {
    /// The test NLL (nats per image) the manifest states for one of its data sets, if it
    /// scored that one: a model of several sets lists each, one of a single set has it as
    /// the headline figure.
    pub fn stated_test_nll(&self, source: &DataSource) -> Option<f64> {
        if self.metrics.test_sets.is_empty() {
            return (self.dataset == source.description).then_some(self.metrics.test_nll_nats);
        }
        self.metrics
            .test_sets
            .iter()
            .find(|s| s.name == source.name)
            .map(|s| s.test_nll_nats)
    }
}

/// How a weights file stores the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredDType {
    /// Every tensor of rank ≥ 2 as safetensors `I8`, quantized symmetrically per output
    /// channel (dim 0), with its scales in an F32 tensor `<name>.scale` of shape [dim 0]:
    /// value = q · scale. Convolution weights are stored with their causal masks applied.
    /// Tensors of rank < 2 (biases) stay F32.
    I8,
    F16,
    F32,
}

impl StoredDType {
    /// Smallest first.
    pub const ALL: [Self; 3] = [Self::I8, Self::F16, Self::F32];

    /// The name a manifest's `dtype` field uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::I8 => "int8",
            Self::F16 => "f16",
            Self::F32 => "f32",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The safetensors dtype a tensor of `rank` is stored as.
    fn tensor_dtype(self, rank: usize) -> Dtype {
        match self {
            Self::I8 if rank >= 2 => Dtype::I8,
            Self::I8 | Self::F32 => Dtype::F32,
            Self::F16 => Dtype::F16,
        }
    }
}

/// Room a safetensors header may take besides the tensors' data (names, shapes, offsets).
const MAX_HEADER_BYTES: usize = 1 << 20;

/// Test NLL (nats per image) a smaller format may add to the f32 weights' and still be stored.
pub const STORAGE_TOLERANCE_NATS: f64 = 0.1;

/// How trained weights are encoded: the file's dtype and, for int8, the quantization steps on
/// each side of zero. Fewer steps leave gzip (what a browser downloads) less to encode: with
/// 31 steps an int8 file compresses to about 6 bits per weight, with 127 to about 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    pub dtype: StoredDType,
    /// 1..=127; only meaningful for int8.
    pub int8_steps: u8,
}

impl Encoding {
    pub const F32: Self = Self::plain(StoredDType::F32);
    pub const F16: Self = Self::plain(StoredDType::F16);

    const fn plain(dtype: StoredDType) -> Self {
        Self {
            dtype,
            int8_steps: 127,
        }
    }

    /// int8 with `steps` quantization steps on each side of zero (clamped to 1..=127).
    pub fn int8(steps: u8) -> Self {
        Self {
            dtype: StoredDType::I8,
            int8_steps: steps.clamp(1, 127),
        }
    }

    /// Smallest download first: the encodings `pixelcnn export` tries in this order.
    pub fn candidates() -> [Self; 5] {
        [
            Self::int8(31),
            Self::int8(63),
            Self::int8(127),
            Self::F16,
            Self::F32,
        ]
    }

    /// "int8 (31 steps)", "f16", "f32".
    pub fn describe(self) -> String {
        match self.dtype {
            StoredDType::I8 => format!("int8 ({} steps)", self.int8_steps),
            other => other.name().to_string(),
        }
    }
}

impl From<StoredDType> for Encoding {
    fn from(dtype: StoredDType) -> Self {
        Self::plain(dtype)
    }
}

/// Whether weights with test NLL `nll` may be stored in place of f32 weights with `nll_f32`.
// Why 0.1: far below run-to-run training noise, invisible in samples; each step halves the file.
pub fn within_tolerance(nll_f32: f64, nll: f64) -> bool {
    nll - nll_f32 <= STORAGE_TOLERANCE_NATS
}

/// The encoding to store trained weights in: the first of [`Encoding::candidates`] (smallest
/// download first) whose test NLL, measured by `nll_of`, is at most [`STORAGE_TOLERANCE_NATS`]
/// above the f32 weights' `nll_f32`; f32 when none is. Candidates after the chosen one are
/// not measured. Returns the encoding and its NLL.
pub fn choose_encoding<E>(
    nll_f32: f64,
    mut nll_of: impl FnMut(Encoding) -> Result<f64, E>,
) -> Result<(Encoding, f64), E> {
    for encoding in Encoding::candidates() {
        if encoding == Encoding::F32 {
            break;
        }
        let nll = nll_of(encoding)?;
        if within_tolerance(nll_f32, nll) {
            return Ok((encoding, nll));
        }
    }
    Ok((Encoding::F32, nll_f32))
}

/// Bytes of tensor data (the file without its header) that a weights file of `config` stored
/// as `dtype` holds, from the config alone; saturates instead of overflowing.
fn data_bytes(config: &PixelCnnConfig, dtype: StoredDType) -> usize {
    let params = config.param_count();
    match dtype {
        StoredDType::F32 => params.saturating_mul(4),
        StoredDType::F16 => params.saturating_mul(2),
        StoredDType::I8 => {
            // Every convolution has a bias of its output channels, which are also its weight's
            // rows: 7·hidden per gated layer (vertical, horizontal and link 2·hidden each,
            // output hidden), then the head's two convolutions.
            let biases = config
                .hidden
                .saturating_mul(7)
                .saturating_mul(config.layers)
                .saturating_add(config.head)
                .saturating_add(config.channels.saturating_mul(config.levels));
            // Each gated layer's class bias [classes + 1, 2·hidden] and order bias
            // [orders, 2·hidden] are rank 2: one scale a row.
            let class_rows = if config.classes > 0 {
                config.classes + 1
            } else {
                0
            };
            let class_rows = config
                .layers
                .saturating_mul(class_rows.saturating_add(config.order_bias_rows()));
            // Rank ≥ 2 values one byte each, biases 4 bytes each, one 4-byte scale per row.
            params
                .saturating_sub(biases)
                .saturating_add(biases.saturating_mul(4))
                .saturating_add(biases.saturating_add(class_rows).saturating_mul(4))
        }
    }
}

/// The manifest's `orders`: each order's name, none for a raster-only model.
pub fn order_names(config: &PixelCnnConfig) -> Vec<String> {
    if config.orders <= 1 {
        return vec![];
    }
    crate::order::Order::first(config.orders)
        .map(|o| o.name().to_string())
        .collect()
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

/// The weights of every masked convolution with its causal mask applied, by parameter name:
/// the values the model computes with. (Masked-out entries keep their initial values through
/// training; they must not set an int8 scale.)
fn masked_weights(model: &PixelCnn) -> Result<BTreeMap<String, Vec<f32>>, LoadError> {
    model
        .convolutions()
        .into_iter()
        .map(|(path, conv)| {
            let name = format!("{path}.weight");
            let values = conv
                .masked_weight()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| LoadError::Apply(format!("{e:?}")))?;
            Ok((name, values))
        })
        .collect()
}

/// The parameters as an int8 file stores them before quantization: [`named_parameters`] with
/// every convolution's causal mask applied (what the model computes with).
pub fn effective_parameters(model: &PixelCnn) -> Result<Vec<NamedTensor>, LoadError> {
    let mut masked = masked_weights(model)?;
    Ok(named_parameters(model)?
        .into_iter()
        .map(|(name, shape, values)| {
            let values = masked.remove(&name).unwrap_or(values);
            (name, shape, values)
        })
        .collect())
}

/// Symmetric int8 quantization of each of `rows` equal rows of `values` with `steps` steps on
/// each side of zero (at most 127): scale = max|v| / steps (0 for a row of zeros),
/// q = round(v / scale) in [-steps, steps]. Returns (q, scales).
pub fn quantize_rows(values: &[f32], rows: usize, steps: u8) -> (Vec<i8>, Vec<f32>) {
    let steps = f32::from(steps.clamp(1, 127));
    let row_len = values.len().checked_div(rows).unwrap_or(0).max(1);
    let mut q = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(rows);
    for row in values.chunks(row_len) {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = max / steps;
        scales.push(scale);
        q.extend(row.iter().map(|v| {
            if scale > 0.0 {
                (v / scale).round().clamp(-steps, steps) as i8
            } else {
                0
            }
        }));
    }
    (q, scales)
}

/// Serializes the model's parameters as safetensors bytes (`encoding`: a [`StoredDType`] or
/// an [`Encoding`]).
pub fn to_safetensors(
    model: &PixelCnn,
    encoding: impl Into<Encoding>,
) -> Result<Vec<u8>, LoadError> {
    let Encoding { dtype, int8_steps } = encoding.into();
    let params = match dtype {
        StoredDType::I8 => effective_parameters(model)?,
        StoredDType::F16 | StoredDType::F32 => named_parameters(model)?,
    };
    let mut encoded: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape, values) in params {
        let st_dtype = dtype.tensor_dtype(shape.len());
        let bytes = match st_dtype {
            Dtype::I8 => {
                let rows = shape[0];
                let (q, scales) = quantize_rows(&values, rows, int8_steps);
                encoded.push((
                    format!("{name}.scale"),
                    Dtype::F32,
                    vec![rows],
                    scales.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ));
                q.iter().map(|v| v.to_le_bytes()[0]).collect()
            }
            Dtype::F16 => values
                .iter()
                .flat_map(|v| f16::from_f32(*v).to_le_bytes())
                .collect(),
            _ => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        encoded.push((name, st_dtype, shape, bytes));
    }
    let views = encoded
        .iter()
        .map(|(name, st_dtype, shape, bytes)| {
            TensorView::new(*st_dtype, shape.clone(), bytes)
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
    if !manifest.orders.is_empty() && manifest.orders != order_names(&manifest.config) {
        return Err(LoadError::ManifestJson(format!(
            "`orders` names {} orders that do not match the config's {}",
            manifest.orders.len(),
            manifest.config.orders
        )));
    }
    if let Some(t) = manifest.default_temperature
        && !(t.is_finite() && t > 0.0)
    {
        return Err(LoadError::ManifestJson(format!(
            "`default_temperature` is {t}; it must be a positive number"
        )));
    }
    if StoredDType::parse(&manifest.dtype).is_none() {
        return Err(LoadError::ManifestJson(format!(
            "`dtype` is \"{}\"; only \"int8\", \"f16\" and \"f32\" are supported",
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
    let dtype = StoredDType::parse(&manifest.dtype).ok_or_else(|| {
        LoadError::ManifestJson(format!("`dtype` \"{}\" is not supported", manifest.dtype))
    })?;
    // Checked before hashing or parsing: a file shorter than the config's tensors in the
    // smallest format (int8 with its scales) or longer than them in f32 plus a header is not
    // this model's. Which dtype each tensor has is checked against the manifest's below.
    let sizes = StoredDType::ALL.map(|d| data_bytes(&manifest.config, d));
    let (low, high) = (
        sizes.into_iter().min().unwrap_or(0).saturating_add(8),
        sizes
            .into_iter()
            .max()
            .unwrap_or(usize::MAX)
            .saturating_add(8 + MAX_HEADER_BYTES),
    );
    if !(low..=high).contains(&weights.len()) {
        return Err(LoadError::Length {
            found: weights.len(),
            params: manifest.params,
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
    let model = model_from_safetensors(&manifest.config, weights, dtype, device)?;
    Ok((model, manifest))
}

/// Little-endian F32 values of a tensor view.
fn f32_values(view: &TensorView<'_>) -> Vec<f32> {
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The per-row scales of int8 tensor `name`: the F32 tensor `<name>.scale` of shape [rows],
/// every value finite and ≥ 0.
fn int8_scales(file: &SafeTensors<'_>, name: &str, rows: usize) -> Result<Vec<f32>, LoadError> {
    let scale_name = format!("{name}.scale");
    let view = file
        .tensor(&scale_name)
        .map_err(|_| LoadError::MissingScale(name.to_string()))?;
    if view.shape() != [rows] {
        return Err(LoadError::Shape {
            name: scale_name,
            found: view.shape().to_vec(),
            expected: vec![rows],
        });
    }
    if view.dtype() != Dtype::F32 {
        return Err(LoadError::DType {
            name: scale_name,
            found: format!("{:?}", view.dtype()),
            expected: "F32".into(),
            format: StoredDType::I8.name(),
        });
    }
    let scales = f32_values(&view);
    if let Some(index) = scales.iter().position(|v| !v.is_finite()) {
        return Err(LoadError::NonFinite {
            name: scale_name,
            index,
            value: scales[index],
        });
    }
    if let Some(index) = scales.iter().position(|v| *v < 0.0) {
        return Err(LoadError::NegativeScale {
            name: scale_name,
            index,
            value: scales[index],
        });
    }
    Ok(scales)
}

/// The values of the file's tensor `name`, checked: present, of `shape`, stored as `dtype`
/// says for its rank, finite.
fn tensor_values(
    file: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    dtype: StoredDType,
) -> Result<Vec<f32>, LoadError> {
    let view = file
        .tensor(name)
        .map_err(|_| LoadError::MissingTensor(name.to_string()))?;
    if view.shape() != shape {
        return Err(LoadError::Shape {
            name: name.to_string(),
            found: view.shape().to_vec(),
            expected: shape.to_vec(),
        });
    }
    let stored = dtype.tensor_dtype(shape.len());
    if view.dtype() != stored {
        return Err(LoadError::DType {
            name: name.to_string(),
            found: format!("{:?}", view.dtype()),
            expected: format!("{stored:?}"),
            format: dtype.name(),
        });
    }
    let values: Vec<f32> = match stored {
        Dtype::I8 => {
            let rows = shape.first().copied().unwrap_or(1);
            let scales = int8_scales(file, name, rows)?;
            let row_len = view.data().len().checked_div(rows).unwrap_or(0).max(1);
            view.data()
                .chunks(row_len)
                .zip(&scales)
                .flat_map(|(row, scale)| {
                    row.iter()
                        .map(move |&b| f32::from(i8::from_le_bytes([b])) * scale)
                })
                .collect()
        }
        Dtype::F16 => view
            .data()
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        _ => f32_values(&view),
    };
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(LoadError::NonFinite {
            name: name.to_string(),
            index,
            value: values[index],
        });
    }
    Ok(values)
}

/// Builds a model from safetensors bytes stored as `dtype`, validating every tensor against
/// the config: names, shapes, dtypes (and an int8 file's scales), finite values.
pub fn model_from_safetensors(
    config: &PixelCnnConfig,
    weights: &[u8],
    dtype: StoredDType,
    device: &Device,
) -> Result<PixelCnn, LoadError> {
    let file = SafeTensors::deserialize(weights).map_err(|e| LoadError::Format(e.to_string()))?;
    let mut model = PixelCnn::new(config, device)?;
    let expected: BTreeMap<String, Vec<usize>> = model
        .collect(None, None, false)
        .into_iter()
        .map(|t| (t.name.clone(), t.shape.to_vec()))
        .collect();
    // `<name>.scale` belongs to the file exactly when `<name>` is stored as int8.
    let is_scale = |name: &str| {
        name.strip_suffix(".scale").is_some_and(|weight| {
            expected
                .get(weight)
                .is_some_and(|shape| dtype.tensor_dtype(shape.len()) == Dtype::I8)
        })
    };
    let mut tensors = Vec::with_capacity(expected.len());
    for (name, shape) in &expected {
        let values = tensor_values(&file, name, shape, dtype)?;
        let data = TensorData::new(values, shape.clone());
        tensors.push(bridge::from_data(data, name.clone(), None));
    }
    // After the tensors, so that a file in another dtype than the manifest's (whose scales
    // would be extra) is reported as that.
    if let Some(extra) = file
        .names()
        .into_iter()
        .find(|n| !expected.contains_key(*n) && !is_scale(n))
    {
        return Err(LoadError::UnexpectedTensor(extra.to_string()));
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

    /// Rewrites the manifest at `manifest_path` with `temperature` as its
    /// `default_temperature` (the weights and every other field stay as they are).
    pub fn set_default_temperature(
        manifest_path: &Path,
        temperature: f32,
    ) -> Result<(), LoadError> {
        let json =
            std::fs::read_to_string(manifest_path).map_err(|e| io_error(manifest_path, e))?;
        let mut manifest = parse_manifest(&json)?;
        manifest.default_temperature = Some(temperature);
        let json = serde_json::to_string_pretty(&manifest)
            .map_err(|e| LoadError::ManifestJson(e.to_string()))?;
        std::fs::write(manifest_path, json + "\n").map_err(|e| io_error(manifest_path, e))
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
        sources: &[DataSource],
        encoding: impl Into<Encoding>,
        metrics: Metrics,
    ) -> Result<Manifest, LoadError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let encoding = encoding.into();
        let dtype = encoding.dtype;
        let bytes = to_safetensors(model, encoding)?;
        let weights = format!("{name}.safetensors");
        let weights_path = dir.join(&weights);
        std::fs::write(&weights_path, &bytes).map_err(|e| io_error(&weights_path, e))?;
        let config = model.config.clone();
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            name: name.to_string(),
            dataset: DataSource::describe_all(sources),
            image: ImageShape {
                width: config.width,
                height: config.height,
                channels: config.channels,
            },
            levels: config.levels,
            classes: config.classes,
            params: model.num_params(),
            orders: order_names(&config),
            config,
            weights,
            dtype: dtype.name().to_string(),
            int8_steps: (dtype == StoredDType::I8).then_some(encoding.int8_steps),
            sha256: sha256_hex(&bytes),
            metrics,
            default_temperature: None,
            sources: sources.to_vec(),
        };
        let manifest_path = dir.join(format!("{name}.json"));
        let json = serde_json::to_string_pretty(&manifest)
            .map_err(|e| LoadError::ManifestJson(e.to_string()))?;
        std::fs::write(&manifest_path, json + "\n").map_err(|e| io_error(&manifest_path, e))?;
        Ok(manifest)
    }
}

#[cfg(not(target_family = "wasm"))]
pub use files::{load_model, save_model, set_default_temperature, weights_path};

#[cfg(test)]
mod tests {
    use super::*;

    /// Measured NLLs per encoding; records which were asked for.
    fn choose(nll_f32: f64, measured: &[(Encoding, f64)]) -> (Encoding, Vec<Encoding>) {
        let mut asked = vec![];
        let (chosen, _) = choose_encoding::<()>(nll_f32, |e| {
            asked.push(e);
            Ok(measured
                .iter()
                .find(|(m, _)| *m == e)
                .map_or(f64::INFINITY, |m| m.1))
        })
        .expect("no error");
        (chosen, asked)
    }

    #[test]
    fn the_smallest_encoding_within_a_tenth_of_a_nat_is_stored() {
        let [i31, i63, i127, f16, _] = Encoding::candidates();
        // The smallest already fits (the limit included): nothing else is measured.
        assert_eq!(choose(90.0, &[(i31, 90.1)]), (i31, vec![i31]));
        // 31 steps over, 63 within.
        assert_eq!(
            choose(90.0, &[(i31, 90.4), (i63, 90.05)]),
            (i63, vec![i31, i63])
        );
        // Only f16 fits.
        let measured = [(i31, 91.0), (i63, 90.3), (i127, 90.1001), (f16, 90.03)];
        assert_eq!(choose(90.0, &measured), (f16, vec![i31, i63, i127, f16]));
        // Nothing fits: f32.
        assert_eq!(choose(1650.59, &[(f16, 1650.8)]).0, Encoding::F32);
        // A format that measures better than f32 (noise) fits too.
        assert_eq!(choose(90.0, &[(i31, 89.98)]).0, i31);
    }

    #[test]
    fn dtype_names_round_trip() {
        for dtype in StoredDType::ALL {
            assert_eq!(StoredDType::parse(dtype.name()), Some(dtype));
        }
        assert_eq!(StoredDType::I8.name(), "int8");
        assert_eq!(StoredDType::parse("bf16"), None);
    }

    #[test]
    fn quantize_rows_is_symmetric_per_row() {
        let values = [0.5, -1.27, 0.0, 0.0, 0.0, 0.0, 2.54, 1.0, -0.01];
        let (q, scales) = quantize_rows(&values, 3, 127);
        assert_eq!(scales, [0.01, 0.0, 0.02]);
        assert_eq!(q, [50, -127, 0, 0, 0, 0, 127, 50, -1]);
        // Fewer steps: the same rows on a coarser grid.
        let (q, scales) = quantize_rows(&values, 3, 31);
        assert_eq!(scales, [1.27 / 31.0, 0.0, 2.54 / 31.0]);
        assert_eq!(q, [12, -31, 0, 0, 0, 0, 31, 12, 0]);
    }

    #[cfg(feature = "cli")] // gzip comes with the CLI's dependencies
    #[test]
    fn fewer_int8_steps_make_a_file_that_compresses_better_and_loads_the_same_way() {
        let device = Device::flex();
        device.seed(5);
        let config = PixelCnnConfig {
            hidden: 16,
            layers: 2,
            head: 16,
            ..PixelCnnConfig::mnist()
        };
        let model = PixelCnn::new(&config, &device).expect("config");
        let gzip = |bytes: &[u8]| {
            use std::io::Write;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(bytes).expect("gzip");
            encoder.finish().expect("gzip").len()
        };
        let wide = to_safetensors(&model, Encoding::int8(127)).expect("127");
        let narrow = to_safetensors(&model, Encoding::int8(31)).expect("31");
        assert_eq!(
            wide.len(),
            narrow.len(),
            "the same tensors, the same dtypes"
        );
        assert!(
            gzip(&narrow) < gzip(&wide) * 9 / 10,
            "{} vs {} bytes gzipped",
            gzip(&narrow),
            gzip(&wide)
        );
        let loaded = model_from_safetensors(&config, &narrow, StoredDType::I8, &device)
            .expect("a 31-step file loads as int8");
        assert_eq!(loaded.num_params(), model.num_params());
    }

    /// The length check's data sizes equal what `to_safetensors` writes, for every dtype and
    /// a grey, a colour, a conditional and an unconditional model.
    #[test]
    fn data_bytes_match_the_written_files() {
        let device = Device::flex();
        let small = PixelCnnConfig {
            hidden: 6,
            layers: 2,
            head: 6,
            height: 5,
            width: 5,
            ..PixelCnnConfig::mnist()
        };
        let configs = [
            small.clone(),
            PixelCnnConfig {
                classes: 0,
                ..small.clone()
            },
            PixelCnnConfig {
                channels: 3,
                levels: 16,
                classes: 0,
                ..small.clone()
            },
            PixelCnnConfig {
                channels: 3,
                levels: 4,
                classes: 4,
                layers: 3,
                ..small
            },
        ];
        for config in configs {
            let model = PixelCnn::new(&config, &device).expect("config");
            for dtype in StoredDType::ALL {
                let bytes = to_safetensors(&model, dtype).expect("serialize");
                let header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
                assert_eq!(
                    bytes.len() - 8 - header,
                    data_bytes(&config, dtype),
                    "{config:?} as {}",
                    dtype.name()
                );
            }
        }
    }

    /// Every convolution weight an int8 file stores is found with its mask.
    #[test]
    fn every_convolution_weight_has_its_mask() {
        let config = PixelCnnConfig {
            channels: 3,
            hidden: 6,
            head: 6,
            layers: 2,
            ..PixelCnnConfig::mnist()
        };
        let model = PixelCnn::new(&config, &Device::flex()).expect("config");
        let masked = masked_weights(&model).expect("masked");
        let params = named_parameters(&model).expect("params");
        let convs: Vec<&String> = params
            .iter()
            .filter(|(_, shape, _)| shape.len() == 4)
            .map(|(name, _, _)| name)
            .collect();
        assert_eq!(convs.len(), masked.len());
        for name in convs {
            assert!(masked.contains_key(name), "{name} has no mask");
        }
        // The first layer's horizontal kernel hides the current pixel's own and later channels.
        let effective = effective_parameters(&model).expect("effective");
        let zeros = |name: &str, list: &[NamedTensor]| {
            list.iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, _, v)| v.iter().filter(|x| **x == 0.0).count())
                .expect("tensor")
        };
        let name = "layers.0.horizontal.weight";
        assert!(zeros(name, &effective) > zeros(name, &params));
    }
}
