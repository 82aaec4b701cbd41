//! A Gated PixelCNN in burn that trains natively and runs in the browser.
//!
//! Modules import downwards only: `activation` (σ), `mask` and `conv` (masked convolutions),
//! `order` (the generation orders) → `config`, `model`
//! (all model maths) → `sample` (the sampling loop), `cached`, `importance` → `weights`,
//! `data`, `train`, `average`, `bench`, `quality` (sample statistics) → `web` (the browser glue); both benchmarks take their
//! medians from `timing`.

pub mod activation;
pub mod config;
pub mod conv;
pub mod error;
pub mod mask;
pub mod model;
pub mod order;
pub mod progress;

pub use config::{CONFIG_VERSION, PixelCnnConfig};
pub use model::PixelCnn;
#[cfg(feature = "cli")]
pub mod average;
#[cfg(feature = "cli")]
pub mod bench;
pub mod cached;
#[cfg(feature = "cli")]
pub mod data;
#[cfg(feature = "fused")]
pub mod fused;
pub mod hole;
pub mod importance;
#[cfg(feature = "cli")]
pub mod quality;
pub mod sample;
pub mod timing;
#[cfg(feature = "cli")]
pub mod train;
#[cfg(feature = "web")]
pub mod web;
pub mod weights;
