//! Sampling benchmark: naive (one full forward pass per value) against cached (only what each
//! value affects), on a full unconditional completion. Native only: completion is forced by
//! reading the final canvas back synchronously.

use std::time::Instant;

use burn::tensor::Device;
use serde::Serialize;

use crate::cached::CachedSampler;
use crate::model::PixelCnn;
use crate::sample::{Completion, NaiveSampler, SampleError, SampleRequest};

/// Median wall times for one batch size.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    pub batch: usize,
    pub naive_ms: f64,
    pub cached_ms: f64,
    /// naive_ms / cached_ms.
    pub ratio: f64,
    /// Pixels the naive time was measured on before scaling to the full image; None when the
    /// naive completion ran in full.
    pub naive_measured_pixels: Option<usize>,
    /// Every timed run, in order, for judging the spread.
    pub naive_runs_ms: Vec<f64>,
    pub cached_runs_ms: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub backend: String,
    /// height × width × channels values generated per image.
    pub values_per_image: usize,
    pub layers: usize,
    pub hidden: usize,
    pub repeats: usize,
    pub rows: Vec<BenchRow>,
}

impl BenchReport {
    pub fn table(&self) -> String {
        let mut out = format!(
            "full completion, {} values/image, {} layers × {} hidden, {} (median of {})\n",
            self.values_per_image, self.layers, self.hidden, self.backend, self.repeats
        );
        out.push_str(&format!(
            "{:>6} {:>12} {:>12} {:>8}\n",
            "batch", "naive ms", "cached ms", "ratio"
        ));
        for row in &self.rows {
            let note = match row.naive_measured_pixels {
                Some(n) => format!("  (naive scaled from {n} pixels)"),
                None => String::new(),
            };
            out.push_str(&format!(
                "{:>6} {:>12.1} {:>12.1} {:>7.1}×{note}\n",
                row.batch, row.naive_ms, row.cached_ms, row.ratio
            ));
        }
        out
    }
}

/// Runs `pixels` pixels of a completion (all of them for None); the readback at the end
/// waits for all queued device work.
fn complete(mut sampler: impl Completion, pixels: Option<usize>) {
    match pixels {
        Some(n) => {
            sampler.step(n);
        }
        None => sampler.finish(),
    }
    // The value is irrelevant; reading it forces the lazy/async backends to finish.
    let _ = sampler.canvas().into_data();
}

fn timed(run: impl FnOnce() -> Result<(), SampleError>) -> Result<f64, SampleError> {
    let start = Instant::now();
    run()?;
    Ok(start.elapsed().as_secs_f64() * 1e3)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Times naive and cached full completions (everything hidden, temperature 1), alternating the
/// two within each repeat so that load from other processes hits both alike.
/// With `naive_pixels`, the naive sampler is timed on its first pixels only and scaled to the
/// whole image (each of its steps is one full forward pass, so its cost per pixel is constant).
pub fn run_bench(
    model: &PixelCnn,
    device: &Device,
    batches: &[usize],
    repeats: usize,
    naive_pixels: Option<usize>,
) -> Result<BenchReport, SampleError> {
    let repeats = repeats.max(1);
    let total = model.config.height * model.config.width;
    let naive_pixels = naive_pixels
        .map(|n| n.clamp(1, total))
        .filter(|&n| n < total);
    let scale = naive_pixels.map_or(1.0, |n| total as f64 / n as f64);
    let mut rows = Vec::new();
    for &batch in batches {
        let request = SampleRequest::unconditional(model, batch, 1.0, 1);
        // One untimed run of each: first-use allocation and lazy initialisation.
        complete(CachedSampler::new(model, request.clone(), device)?, None);
        complete(NaiveSampler::new(model, request.clone(), device)?, Some(1));
        let mut naive_runs_ms = Vec::new();
        let mut cached_runs_ms = Vec::new();
        for _ in 0..repeats {
            let naive = timed(|| {
                complete(
                    NaiveSampler::new(model, request.clone(), device)?,
                    naive_pixels,
                );
                Ok(())
            })?;
            naive_runs_ms.push(naive * scale);
            cached_runs_ms.push(timed(|| {
                complete(CachedSampler::new(model, request.clone(), device)?, None);
                Ok(())
            })?);
        }
        let naive_ms = median(&naive_runs_ms);
        let cached_ms = median(&cached_runs_ms);
        rows.push(BenchRow {
            batch,
            naive_ms,
            cached_ms,
            ratio: naive_ms / cached_ms,
            naive_measured_pixels: naive_pixels,
            naive_runs_ms,
            cached_runs_ms,
        });
    }
    let c = &model.config;
    Ok(BenchReport {
        backend: format!("{device:?}"),
        values_per_image: c.values_per_image(),
        layers: c.layers,
        hidden: c.hidden,
        repeats,
        rows,
    })
}
