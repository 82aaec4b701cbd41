//! A browser engine module: the main crate's wasm-bindgen API, linked into its own `.wasm`.
//! The features of the `pixelcnn` dependency (see this package's Cargo.toml) decide which
//! backends it carries.

pub use pixelcnn::web::*;
