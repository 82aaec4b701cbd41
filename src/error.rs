//! Typed errors with messages a user can act on.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "model config version {found} is not supported (this build reads versions 1 to {expected}); re-export the model with this version of pixelcnn"
    )]
    Version { found: u32, expected: u32 },
    #[error("invalid model config: {0}")]
    Invalid(String),
}

/// Everything that can go wrong while reading a manifest and its weights.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("manifest is not valid JSON for a pixelcnn model: {0}")]
    ManifestJson(String),
    #[error("manifest format version {found} is not supported (expected {expected})")]
    ManifestVersion { found: u32, expected: u32 },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "weights file does not match the manifest's sha256 (expected {expected}, got {actual}); the file is corrupt or belongs to another model"
    )]
    Hash { expected: String, actual: String },
    #[error("weights file is truncated or not a safetensors file: {0}")]
    Format(String),
    #[error("weights file lacks tensor `{0}` that the model config needs")]
    MissingTensor(String),
    #[error("weights file has tensor `{0}` that the model config does not use")]
    UnexpectedTensor(String),
    #[error("tensor `{name}` has shape {found:?}, but the model config needs {expected:?}")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error(
        "tensor `{name}` is stored as {found}, but a weights file whose manifest says `dtype` \"{format}\" stores it as {expected}: the file does not match its manifest"
    )]
    DType {
        name: String,
        found: String,
        expected: String,
        /// The manifest's `dtype`.
        format: &'static str,
    },
    #[error(
        "int8 tensor `{0}` has no `{0}.scale` tensor of per-channel scales: the weights file is incomplete"
    )]
    MissingScale(String),
    #[error(
        "int8 scale tensor `{name}` holds a negative scale ({value} at index {index}): the weights are corrupt"
    )]
    NegativeScale {
        name: String,
        index: usize,
        value: f32,
    },
    #[error("could not read `{path}`: {message}")]
    Io { path: String, message: String },
    #[error("could not apply weights to the model: {0}")]
    Apply(String),
    #[error(
        "weights file has {found} bytes, but the config's {params} parameters need {low}..={high} bytes (as int8, f16 or f32): it is truncated or belongs to another model"
    )]
    Length {
        found: usize,
        params: usize,
        low: usize,
        high: usize,
    },
    #[error(
        "tensor `{name}` holds a non-finite value ({value} at index {index}): the weights are corrupt (training diverged?)"
    )]
    NonFinite {
        name: String,
        index: usize,
        value: f32,
    },
}
