//! What the page sees of the engine: the options and results it exchanges as plain objects
//! (their TypeScript derived from these structs by tsify, doc comments included), the backend
//! and sampler names, the model's description and one frame of a completion; every one of them
//! reaches JS as a plain object.

use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::importance::MAX_CANDIDATES;
use crate::order::Order;
use crate::progress::Phase;
use crate::weights::{DataSource, Manifest};

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
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    name: String,
    width: usize,
    height: usize,
    channels: usize,
    /// Levels per channel (2 = binary pixels).
    levels: usize,
    /// Number of classes; 0 = unconditional.
    classes: usize,
    /// Trainable parameters.
    params: usize,
    /// Test-set negative log-likelihood in nats per image, as the manifest states it.
    test_nll_nats: f64,
    /// sha256 of the weights file (hex): identifies the model, e.g. for cached timings.
    sha256: String,
    /// The data set and how it was prepared.
    dataset: String,
    /// How each generation order of the model walks the image (`StartOptions.order` indexes
    /// it); one entry, "top to bottom", for a raster-only model.
    orders: Vec<String>,
    /// The softmax temperature the page starts with: the manifest's measured choice, else 1.
    default_temperature: f32,
    /// The data sets it was trained on, to credit them (empty for manifests that name them in
    /// `dataset` only).
    sources: Vec<DataSource>,
}

impl ModelInfo {
    pub(super) fn of(manifest: &Manifest) -> Self {
        let config = &manifest.config;
        Self {
            name: manifest.name.clone(),
            width: config.width,
            height: config.height,
            channels: config.channels,
            levels: config.levels,
            classes: config.classes,
            params: manifest.params,
            test_nll_nats: manifest.metrics.test_nll_nats,
            sha256: manifest.sha256.clone(),
            dataset: manifest.dataset.clone(),
            orders: crate::order::Order::first(config.orders)
                .map(|o| o.name().to_string())
                .collect(),
            default_temperature: manifest.default_temperature.unwrap_or(1.0),
            sources: manifest.sources.clone(),
        }
    }
}

/// One animation frame of a completion.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    /// Pixels generated so far (of `total`).
    pub(super) done: usize,
    /// Pixels to generate in total (the hidden pixels).
    pub(super) total: usize,
    /// What the completion is doing: the page says "scoring" before the step that scores.
    pub(super) phase: Phase,
    /// Every pixel drawn and, for a pool, the alternatives chosen (`phase` is "done").
    pub(super) finished: bool,
    /// True when `cancel()` or a new `start()` came while this frame was being read back.
    pub(super) cancelled: bool,
    /// Number of alternatives in `pixels`.
    pub(super) batch: usize,
    /// Level indices, [batch, channels, height, width] row-major (known pixels included).
    #[serde(with = "serde_bytes")]
    #[tsify(type = "Uint8Array")]
    pub(super) pixels: Vec<u8>,
    /// With `candidates`, once finished: log p(known pixels after the hole | alternative) per
    /// alternative, in nats, best (highest) first, in the order of `pixels`.
    pub(super) scores: Option<Vec<f64>>,
    /// With a `share` of the pool, once chosen: the rank among all alternatives of each one
    /// in `pixels` (this share may hold any number of them, none included).
    pub(super) ranks: Option<Vec<usize>>,
    /// With a `share` of the pool, once it is drawn: its candidates' log-weights, for
    /// `choose`.
    pub(super) log_weights: Option<Vec<f32>>,
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

/// Most alternatives one `start` may ask for.
pub(super) const MAX_ALTERNATIVES: usize = 64;

impl StartOptions {
    /// `order` for a model with `orders` generation orders; `None`: the engine chooses.
    pub(super) fn checked_order(&self, orders: usize) -> Result<Option<Order>, String> {
        match &self.order {
            None => Ok(None),
            Some(OrderOption::Named(name)) if name == "auto" => Ok(None),
            Some(OrderOption::Index(i))
                if i.fract() == 0.0 && *i >= 0.0 && (*i as usize) < orders =>
            {
                Ok(Order::new(*i as usize))
            }
            Some(_) => Err(format!(
                "start: order must be \"auto\" or an integer in 0..{orders} for this model"
            )),
        }
    }

    pub(super) fn checked_alternatives(&self) -> Result<usize, String> {
        let batch = self.alternatives.unwrap_or(1);
        if (1..=MAX_ALTERNATIVES).contains(&batch) {
            Ok(batch)
        } else {
            Err(format!(
                "alternatives must be in 1..={MAX_ALTERNATIVES}, got {batch}"
            ))
        }
    }

    pub(super) fn checked_seed(&self) -> Result<u64, String> {
        let seed = self.seed.unwrap_or(0.0);
        if seed.is_finite() && seed.fract() == 0.0 && (0.0..=2f64.powi(53)).contains(&seed) {
            Ok(seed as u64)
        } else {
            Err(format!(
                "start: seed must be an integer in 0..=2^53, got {seed}"
            ))
        }
    }

    pub(super) fn checked_candidates(&self) -> Result<Option<usize>, String> {
        match self.candidates {
            None => Ok(None),
            Some(n) if n.fract() == 0.0 && (1.0..=MAX_CANDIDATES as f64).contains(&n) => {
                Ok(Some(n as usize))
            }
            Some(n) => Err(format!(
                "start: candidates must be an integer in 1..={MAX_CANDIDATES}, got {n}"
            )),
        }
    }
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
    /// A frame of a completion with `done` of `total` pixels drawn (see [`Phase::of`]).
    pub(super) fn new(done: usize, total: usize, ranked: bool, shown: Shown) -> Self {
        let phase = Phase::of(done, total, ranked, shown.log_weights.is_some());
        Self {
            done,
            total,
            phase,
            finished: phase == Phase::Done,
            cancelled: false,
            batch: shown.batch,
            pixels: shown.pixels,
            scores: shown.scores,
            ranks: shown.ranks,
            log_weights: shown.log_weights,
        }
    }

    /// What `step` returns when `cancel()` or a new `start()` came while it waited.
    pub(super) fn stale() -> Self {
        Self {
            done: 0,
            total: 0,
            phase: Phase::Done,
            finished: true,
            cancelled: true,
            batch: 0,
            pixels: Vec::new(),
            scores: None,
            ranks: None,
            log_weights: None,
        }
    }
}

/// What a frame shows: its alternatives (or a share's) and what comes with them.
#[derive(Default)]
pub(super) struct Shown {
    pub(super) batch: usize,
    pub(super) pixels: Vec<u8>,
    pub(super) scores: Option<Vec<f64>>,
    pub(super) ranks: Option<Vec<usize>>,
    pub(super) log_weights: Option<Vec<f32>>,
}
