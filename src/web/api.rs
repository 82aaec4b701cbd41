//! What the page sees of the engine: the options and results it exchanges as plain objects
//! (their TypeScript derived from these structs by tsify, doc comments included), the backend
//! and sampler names, the model's description and one frame of a completion.

use serde::{Deserialize, Serialize};
use tsify::Tsify;
use wasm_bindgen::prelude::*;

use crate::weights::Manifest;

/// The backend an engine runs on: each engine (and each worker of www/engine.js) has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    Webgpu,
    Cpu,
}

/// The fast sampler, or the naive one it is checked against (a full forward pass per value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum SamplerName {
    #[default]
    Cached,
    Naive,
}

impl SamplerName {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            SamplerName::Cached => "cached",
            SamplerName::Naive => "naive",
        }
    }
}

/// What the page needs to know about a loaded model.
#[wasm_bindgen]
#[derive(Clone)]
pub struct ModelInfo {
    pub(super) manifest: Manifest,
}

#[wasm_bindgen]
impl ModelInfo {
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.manifest.name.clone()
    }
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> usize {
        self.manifest.config.width
    }
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> usize {
        self.manifest.config.height
    }
    #[wasm_bindgen(getter)]
    pub fn channels(&self) -> usize {
        self.manifest.config.channels
    }
    /// Levels per channel (2 = binary pixels).
    #[wasm_bindgen(getter)]
    pub fn levels(&self) -> usize {
        self.manifest.config.levels
    }
    /// Number of classes; 0 = unconditional.
    #[wasm_bindgen(getter)]
    pub fn classes(&self) -> usize {
        self.manifest.config.classes
    }
    /// Trainable parameters.
    #[wasm_bindgen(getter)]
    pub fn params(&self) -> usize {
        self.manifest.params
    }
    /// Test-set negative log-likelihood in nats per image, as the manifest states it.
    #[wasm_bindgen(getter, js_name = testNllNats)]
    pub fn test_nll_nats(&self) -> f64 {
        self.manifest.metrics.test_nll_nats
    }
    /// sha256 of the weights file (hex): identifies the model, e.g. for cached timings.
    #[wasm_bindgen(getter)]
    pub fn sha256(&self) -> String {
        self.manifest.sha256.clone()
    }
    /// The data set and how it was prepared.
    #[wasm_bindgen(getter)]
    pub fn dataset(&self) -> String {
        self.manifest.dataset.clone()
    }
    /// How each generation order of the model walks the image (`StartOptions.order` indexes
    /// it); one entry, "top to bottom", for a raster-only model.
    #[wasm_bindgen(getter)]
    pub fn orders(&self) -> Vec<String> {
        crate::order::Order::first(self.manifest.config.orders)
            .map(|o| o.name().to_string())
            .collect()
    }
}

/// One animation frame of a completion.
#[wasm_bindgen]
pub struct Frame {
    pub(super) done: usize,
    pub(super) total: usize,
    pub(super) batch: usize,
    pub(super) cancelled: bool,
    pub(super) pixels: Vec<u8>,
    pub(super) scores: Option<Vec<f64>>,
    pub(super) ranks: Option<Vec<usize>>,
    pub(super) log_weights: Option<Vec<f32>>,
}

#[wasm_bindgen]
impl Frame {
    /// Pixels generated so far (of `total`).
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> usize {
        self.done
    }
    /// Pixels to generate in total (hidden pixels, in raster order).
    #[wasm_bindgen(getter)]
    pub fn total(&self) -> usize {
        self.total
    }
    /// Every pixel drawn and, for a shared pool, the alternatives chosen.
    #[wasm_bindgen(getter)]
    pub fn finished(&self) -> bool {
        self.done >= self.total && self.log_weights.is_none()
    }
    /// True when `cancel()` or a new `start()` came while this frame was being read back.
    #[wasm_bindgen(getter)]
    pub fn cancelled(&self) -> bool {
        self.cancelled
    }
    /// Number of alternatives in `pixels`.
    #[wasm_bindgen(getter)]
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Level indices, [batch, channels, height, width] row-major (known pixels included).
    #[wasm_bindgen(getter)]
    pub fn pixels(&self) -> Vec<u8> {
        self.pixels.clone()
    }
    /// With `candidates`, once finished: log p(known pixels after the hole | alternative) per
    /// alternative, in nats, best (highest) first, in the order of `pixels`.
    #[wasm_bindgen(getter)]
    pub fn scores(&self) -> Option<Vec<f64>> {
        self.scores.clone()
    }
    /// With a `share` of the pool, once chosen: the rank among all alternatives of each one
    /// in `pixels` (this share may hold any number of them, none included).
    #[wasm_bindgen(getter)]
    pub fn ranks(&self) -> Option<Vec<usize>> {
        self.ranks.clone()
    }
    /// With a `share` of the pool, once it is drawn: its candidates' log-weights, for
    /// `choose`.
    #[wasm_bindgen(getter, js_name = logWeights)]
    pub fn log_weights(&self) -> Option<Vec<f32>> {
        self.log_weights.clone()
    }
}

/// What `start` takes; every field may be left out.
#[derive(Deserialize, Default, Tsify)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct StartOptions {
    /// Number of alternative completions, run side by side as one batch (1..=64).
    #[tsify(optional)]
    pub(super) alternatives: Option<usize>,
    /// Softmax temperature; 0 = greedy. Default 1.
    #[tsify(optional)]
    pub(super) temperature: Option<f32>,
    /// Same seed, same canvas, same model → same pixels. Default 0.
    #[tsify(optional)]
    pub(super) seed: Option<f64>,
    /// Class for class-conditional models (e.g. the digit 0..9); omit (or null) for none.
    #[tsify(optional, type = "number | null")]
    pub(super) label: Option<i64>,
    /// Default "cached" (the fast sampler).
    #[tsify(optional)]
    pub(super) sampler: Option<SamplerName>,
    /// Candidates drawn for importance resampling (1..=64, at least `alternatives`): the
    /// alternatives are then chosen from that many candidates by how well they fit the known
    /// pixels after the hole, best first, and frames carry their `scores`. Omit for the plain
    /// sampler (no scores).
    #[tsify(optional)]
    pub(super) candidates: Option<f64>,
    /// Generation order: "auto" (default) picks, among the model's orders, the one that leaves
    /// the fewest known pixels after the first hidden one (a top-half hole is then generated
    /// bottom to top); or an index into `ModelInfo.orders`. Raster-only models have one order.
    #[tsify(optional, type = "\"auto\" | number")]
    pub(super) order: Option<OrderOption>,
    /// With `candidates`, when several engines share the pool: this engine draws candidates
    /// `first .. first + count` of it. Its last frame before the choice then carries
    /// `logWeights` instead of being finished; `choose(all)` with every share's log-weights
    /// (pool order) picks the alternatives, and the next frame holds the ones this share has,
    /// with `ranks`.
    #[tsify(optional)]
    pub(super) share: Option<PoolShareOption>,
}

/// A part of a pool of candidates: `first .. first + count`.
#[derive(Deserialize, Tsify)]
#[serde(deny_unknown_fields)]
pub(super) struct PoolShareOption {
    pub(super) first: usize,
    pub(super) count: usize,
}

/// `order`: "auto" or an order's index.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OrderOption {
    Named(String),
    Index(f64),
}

/// What `start` set going.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub(super) struct Plan {
    pub(super) backend: BackendName,
    /// How the completion walks the image, e.g. "bottom to top" ("top to bottom" is raster
    /// order).
    pub(super) order: &'static str,
    /// Its index in `ModelInfo.orders` (0 = raster order).
    pub(super) order_index: usize,
    /// Candidates drawn: the pool the alternatives are chosen from (= alternatives when not
    /// ranked).
    pub(super) candidates: usize,
    /// Whether the alternatives are ranked by how well they fit the known pixels after the
    /// hole (only when some known pixel comes after the first hidden one in the chosen order).
    pub(super) ranked: bool,
    /// Of a frame's `total`, the units spent drawing the pool (all of them: the scores come
    /// from the same pass).
    pub(super) pool_units: usize,
    /// The hidden pixels' row-major indices in the order they are generated: a frame's first
    /// `done` of them are final, the rest still placeholders.
    pub(super) generated: Vec<usize>,
}

impl Frame {
    /// What `step` returns when `cancel()` or a new `start()` came while it waited.
    pub(super) fn stale() -> Self {
        Self {
            done: 0,
            total: 0,
            batch: 0,
            cancelled: true,
            pixels: Vec::new(),
            scores: None,
            ranks: None,
            log_weights: None,
        }
    }
}
