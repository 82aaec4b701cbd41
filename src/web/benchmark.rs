//! The browser benchmark: full completions timed per batch size and sampler on one backend.

use serde::{Deserialize, Serialize};
use tsify::Tsify;
use wasm_bindgen::prelude::*;

use super::Engine;
use super::api::{BackendName, SamplerName};
use super::platform::{js_err, now_ms, parse_options, read_levels, to_js};
use crate::order::Order;
use crate::sample::SampleRequest;
use crate::timing::median;

/// What `benchmark` takes; every field may be left out.
#[derive(Deserialize, Default, Tsify)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct BenchOptions {
    /// Batch sizes to time. Default [1, 16].
    #[tsify(optional)]
    batches: Option<Vec<usize>>,
    /// Samplers to time. Default ["naive", "cached"].
    #[tsify(optional)]
    samplers: Option<Vec<SamplerName>>,
    /// Stop each timed run after this many pixels (of H·W) and extrapolate. Default: all.
    #[tsify(optional)]
    max_pixels: Option<usize>,
    /// A per-sampler limit that overrides maxPixels, e.g. { naive: 32 }.
    #[tsify(optional, type = "Partial<Record<SamplerName, number>>")]
    max_pixels_by_sampler: Option<std::collections::HashMap<String, usize>>,
    /// Timed runs per configuration (the median is reported). Default 1.
    #[tsify(optional)]
    repeats: Option<usize>,
}

/// One timed configuration of a `benchmark`.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
struct BenchRow {
    backend: BackendName,
    sampler: SamplerName,
    batch: usize,
    /// Pixels actually generated in each timed run.
    pixels: usize,
    /// Pixels of a full completion (H·W).
    total_pixels: usize,
    /// Median wall time of the timed runs, ms.
    ms: f64,
    /// All timed runs, ms.
    runs_ms: Vec<f64>,
    /// Estimated time of the full completion: ms × totalPixels / pixels.
    full_ms: f64,
    /// True when pixels < totalPixels, i.e. fullMs is extrapolated.
    extrapolated: bool,
    /// First, untimed run of one pixel (shader compilation, allocation), ms.
    warmup_ms: f64,
}

/// What `benchmark` returns.
#[derive(Serialize, Tsify)]
struct BenchReport {
    backend: BackendName,
    rows: Vec<BenchRow>,
    notes: Vec<String>,
}

#[wasm_bindgen]
impl Engine {
    /// Times full completions (everything hidden) per batch size and sampler on the engine's
    /// backend. Slow configurations can be cut short with `maxPixels` and are extrapolated.
    #[wasm_bindgen(unchecked_return_type = "BenchReport")]
    pub async fn benchmark(
        &self,
        #[wasm_bindgen(unchecked_param_type = "BenchOptions | undefined")] options: JsValue,
    ) -> Result<JsValue, JsError> {
        let options: BenchOptions = parse_options(options, "benchmark")?;
        let backend = self.backend;
        let config = self.config().map_err(js_err)?;
        let total = config.height * config.width;
        let repeats = options.repeats.unwrap_or(1).max(1);
        let mut notes = vec![];
        let mut rows = vec![];
        for &batch in options.batches.as_deref().unwrap_or(&[1, 16]) {
            for &sampler in options
                .samplers
                .as_deref()
                .unwrap_or(&[SamplerName::Naive, SamplerName::Cached])
            {
                let limit = options
                    .max_pixels_by_sampler
                    .as_ref()
                    .and_then(|m| m.get(sampler.as_str()).copied())
                    .or(options.max_pixels)
                    .unwrap_or(total)
                    .clamp(1, total);
                let request = SampleRequest {
                    batch,
                    levels: vec![0.0; batch * config.values_per_image()],
                    known: vec![false; batch * total],
                    temperature: 1.0,
                    seed: 1,
                    first_item: 0,
                    labels: (config.classes > 0).then(|| vec![0; batch]),
                    order: 0,
                };
                // Untimed: the first pass pays shader compilation and buffer allocation.
                let warmup_start = now_ms();
                self.begin(request.clone(), sampler, Order::IDENTITY)?;
                self.run_to(1).await?;
                let warmup_ms = now_ms() - warmup_start;
                let mut runs_ms = vec![];
                for _ in 0..repeats {
                    let t0 = now_ms();
                    self.begin(request.clone(), sampler, Order::IDENTITY)?;
                    self.run_to(limit).await?;
                    runs_ms.push(now_ms() - t0);
                }
                self.cancel();
                let ms = median(&runs_ms);
                rows.push(BenchRow {
                    backend,
                    sampler,
                    batch,
                    pixels: limit,
                    total_pixels: total,
                    ms,
                    runs_ms,
                    full_ms: ms * total as f64 / limit as f64,
                    extrapolated: limit < total,
                    warmup_ms,
                });
            }
        }
        if rows.iter().any(|r| r.extrapolated) {
            notes.push("rows with extrapolated=true timed only `pixels` of `totalPixels` pixels; fullMs scales that linearly".into());
        }
        let report = BenchReport {
            backend,
            rows,
            notes,
        };
        to_js(&report)
    }
}

impl Engine {
    /// Steps until `pixels` pixels are done, then waits for the device (one readback).
    async fn run_to(&self, pixels: usize) -> Result<(), JsError> {
        let canvas = {
            let mut job = self.job.borrow_mut();
            let job = job
                .as_mut()
                .ok_or_else(|| js_err("benchmark: completion vanished"))?;
            match job.run.completion() {
                Some(completion) => {
                    completion.step(pixels);
                    Some(completion.canvas())
                }
                None => None,
            }
        };
        match canvas {
            Some(canvas) => {
                read_levels(canvas).await.map_err(js_err)?;
            }
            None => {
                // On the fused kernels the same run, stepped through `step`.
                self.step(pixels).await?;
            }
        }
        Ok(())
    }
}
