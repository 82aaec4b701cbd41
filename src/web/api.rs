//! What the page sees of the engine: the TypeScript types of the options objects, the backend
//! and sampler names, the model's description and one frame of a completion.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::weights::Manifest;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The backend an engine runs on: each engine (and each worker of www/engine.js) has one. */
export type BackendName = "webgpu" | "cpu";
export type SamplerName = "cached" | "naive";

export interface StartOptions {
  /** Number of alternative completions, run side by side as one batch (1..=64). */
  alternatives?: number;
  /** Softmax temperature; 0 = greedy. Default 1. */
  temperature?: number;
  /** Same seed, same canvas, same model → same pixels. Default 0. */
  seed?: number;
  /** Class for class-conditional models (e.g. the digit 0..9); omit for none. */
  label?: number | null;
  /** Default "cached" (the fast sampler). */
  sampler?: SamplerName;
  /**
   * Candidates drawn for importance resampling (1..=64, at least `alternatives`): the
   * alternatives are then chosen from that many candidates by how well they fit the known
   * pixels after the hole, best first, and frames carry their `scores`. Omit for the plain
   * raster-order sampler (no scores).
   */
  candidates?: number;
  /**
   * Generation order: "auto" (default) picks, among the model's orders, the one that leaves
   * the fewest known pixels after the first hidden one (a top-half hole is then generated
   * bottom to top); or an index into `ModelInfo.orders`. Raster-only models have one order.
   */
  order?: "auto" | number;
  /**
   * With `candidates`, when several engines share the pool: this engine draws candidates
   * `first .. first + count` of it. Its last frame before the choice then carries `logWeights`
   * instead of being finished; `choose(all)` with every share's log-weights (pool order)
   * picks the alternatives, and the next frame holds the ones this share has, with `ranks`.
   */
  share?: { first: number; count: number };
}

/** What `start` set going. */
export interface Plan {
  backend: BackendName;
  /** How the completion walks the image, e.g. "bottom to top" ("top to bottom" is raster order). */
  order: string;
  /** Its index in `ModelInfo.orders` (0 = raster order). */
  orderIndex: number;
  /** Candidates drawn: the pool the alternatives are chosen from (= alternatives when not ranked). */
  candidates: number;
  /** Whether the alternatives are ranked by how well they fit the known pixels after the hole
   *  (only when some known pixel comes after the first hidden one in the chosen order). */
  ranked: boolean;
  /** Of a frame's `total`, the units spent drawing the pool; the rest is scoring it. */
  poolUnits: number;
  /** The hidden pixels' row-major indices in the order they are generated: a frame's first
   *  `done` of them are final, the rest still placeholders. */
  generated: number[];
}

export interface BenchOptions {
  /** Batch sizes to time. Default [1, 16]. */
  batches?: number[];
  /** Samplers to time. Default ["naive", "cached"]. */
  samplers?: SamplerName[];
  /** Stop each timed run after this many pixels (of H·W) and extrapolate. Default: all. */
  maxPixels?: number;
  /** A per-sampler limit that overrides maxPixels, e.g. { naive: 32 }. */
  maxPixelsBySampler?: Partial<Record<SamplerName, number>>;
  /** Timed runs per configuration (the median is reported). Default 1. */
  repeats?: number;
}

export interface BenchRow {
  backend: BackendName;
  sampler: SamplerName;
  batch: number;
  /** Pixels actually generated in each timed run. */
  pixels: number;
  /** Pixels of a full completion (H·W). */
  totalPixels: number;
  /** Median wall time of the timed runs, ms. */
  ms: number;
  /** All timed runs, ms. */
  runsMs: number[];
  /** Estimated time of the full completion: ms × totalPixels / pixels. */
  fullMs: number;
  /** True when pixels < totalPixels, i.e. fullMs is extrapolated. */
  extrapolated: boolean;
  /** First, untimed run of one pixel (shader compilation, allocation), ms. */
  warmupMs: number;
}

export interface BenchReport {
  backend: BackendName;
  rows: BenchRow[];
  notes: string[];
}
"#;

/// Backend names as the page and the URL parameter spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    Webgpu,
    Cpu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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

/// StartOptions as JSON-ish input; every field optional.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct StartOptions {
    pub(super) alternatives: Option<usize>,
    pub(super) temperature: Option<f32>,
    pub(super) seed: Option<f64>,
    pub(super) label: Option<i64>,
    pub(super) sampler: Option<SamplerName>,
    pub(super) candidates: Option<f64>,
    pub(super) order: Option<OrderOption>,
    pub(super) share: Option<ShareOption>,
}

/// `share`: the part of a pool this engine draws.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ShareOption {
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

/// What `start` returns (the `Plan` type above).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Plan {
    pub(super) backend: BackendName,
    pub(super) order: &'static str,
    pub(super) order_index: usize,
    pub(super) candidates: usize,
    pub(super) ranked: bool,
    pub(super) pool_units: usize,
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
