//! A Gated PixelCNN in burn that trains natively and runs in the browser.

pub mod config;
pub mod error;
pub mod mask;
pub mod model;

pub use config::{CONFIG_VERSION, PixelCnnConfig};
pub use model::PixelCnn;
pub mod sample;
pub mod cached;
#[cfg(feature = "cli")]
pub mod bench;
