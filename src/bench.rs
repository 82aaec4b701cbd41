//! Sampling benchmarks: naive (one full forward pass per value) against cached (only what each
//! value affects), on a full unconditional completion; and the importance weights of a pool
//! summed by the cached sampler as it draws it, against a separate forward pass over the drawn
//! pool. Native only: completion is forced by reading the final canvas back synchronously.

use std::time::Instant;

use burn::tensor::Device;
use serde::Serialize;

use crate::cached::CachedSampler;
use crate::model::{Condition, PixelCnn};
use crate::sample::{Completion, NaiveSampler, SampleError, SampleRequest};
use crate::timing::median;

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

/// Median wall times of drawing and scoring one pool (top half hidden, the bottom half known
/// and scored), both ways.
#[derive(Debug, Clone, Serialize)]
pub struct ScoringRow {
    pub pool: usize,
    /// The cached sampler, then one forward pass over the pool for the weights.
    pub separate_pass_ms: f64,
    /// The cached sampler summing the weights as it draws ([`CachedSampler::scoring`]).
    pub in_pass_ms: f64,
    /// separate_pass_ms / in_pass_ms.
    pub ratio: f64,
    pub separate_runs_ms: Vec<f64>,
    pub in_pass_runs_ms: Vec<f64>,
}

/// The table of [`run_scoring_bench`].
pub fn scoring_table(rows: &[ScoringRow], repeats: usize) -> String {
    let mut out = format!(
        "top half hidden, pool drawn and scored (median of {repeats})\n{:>6} {:>18} {:>14} {:>8}\n",
        "pool", "separate pass ms", "in-pass ms", "ratio"
    );
    for row in rows {
        out.push_str(&format!(
            "{:>6} {:>18.1} {:>14.1} {:>7.2}×\n",
            row.pool, row.separate_pass_ms, row.in_pass_ms, row.ratio
        ));
    }
    out
}

/// Times drawing a pool of each size for a top-half hole with its importance weights computed
/// both ways, alternated within each repeat.
pub fn run_scoring_bench(
    model: &PixelCnn,
    device: &Device,
    pools: &[usize],
    repeats: usize,
) -> Result<Vec<ScoringRow>, SampleError> {
    let c = &model.config;
    let (h, w) = (c.height, c.width);
    let known: Vec<bool> = (0..h * w).map(|p| p >= (h / 2) * w).collect();
    let scored = known.clone();
    let mut rows = Vec::new();
    for &pool in pools {
        let request = SampleRequest {
            known: known.repeat(pool),
            ..SampleRequest::unconditional(model, pool, 1.0, 1)
        };
        let separate = || -> Result<(), SampleError> {
            let mut sampler = CachedSampler::new(model, request.clone(), device)?;
            sampler.finish();
            let canvas = sampler.canvas().int();
            let log_probs = model.log_probs(canvas, &Condition::none());
            let mask: Vec<f32> = scored.iter().map(|&s| f32::from(u8::from(s))).collect();
            let mask = burn::tensor::Tensor::<4>::from_data(
                burn::tensor::TensorData::new(mask, [1, 1, h, w]),
                device,
            );
            let _ = (log_probs * mask).sum_dim(3).into_data();
            Ok(())
        };
        let in_pass = || -> Result<(), SampleError> {
            let mut sampler = CachedSampler::scoring(model, request.clone(), &scored, device)?;
            sampler.finish();
            let _ = sampler.scores().map(|s| s.into_data());
            Ok(())
        };
        separate()?;
        in_pass()?;
        let (mut separate_runs_ms, mut in_pass_runs_ms) = (vec![], vec![]);
        for _ in 0..repeats.max(1) {
            separate_runs_ms.push(timed(separate)?);
            in_pass_runs_ms.push(timed(in_pass)?);
        }
        let (separate_pass_ms, in_pass_ms) = (median(&separate_runs_ms), median(&in_pass_runs_ms));
        rows.push(ScoringRow {
            pool,
            separate_pass_ms,
            in_pass_ms,
            ratio: separate_pass_ms / in_pass_ms,
            separate_runs_ms,
            in_pass_runs_ms,
        });
    }
    Ok(rows)
}

/// One case of [`run_fused_bench`]: the CPU engine's cached sampler against the fused GPU
/// kernels on the same request.
#[cfg(feature = "fused")]
#[derive(Debug, Clone, Serialize)]
pub struct FusedRow {
    /// "full" (every pixel hidden) or "top half, scored" (a pool for a top-half hole with its
    /// importance weights).
    pub case: String,
    pub batch: usize,
    pub cpu_ms: f64,
    pub fused_ms: f64,
    /// cpu_ms / fused_ms.
    pub ratio: f64,
    /// Kernel launches of one fused completion per generated value.
    pub dispatches_per_value: f64,
    pub cpu_runs_ms: Vec<f64>,
    pub fused_runs_ms: Vec<f64>,
}

/// The table of [`run_fused_bench`].
#[cfg(feature = "fused")]
pub fn fused_table(rows: &[FusedRow], adapter: &str, repeats: usize) -> String {
    let mut out = format!(
        "CPU engine (cached, flex) vs fused kernels on {adapter} (median of {repeats})\n{:<18} {:>6} {:>10} {:>10} {:>8} {:>16}\n",
        "case", "batch", "cpu ms", "fused ms", "ratio", "dispatches/value"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<18} {:>6} {:>10.1} {:>10.1} {:>7.2}× {:>16.3}\n",
            r.case, r.batch, r.cpu_ms, r.fused_ms, r.ratio, r.dispatches_per_value
        ));
    }
    out
}

/// Times full completions and scored top-half pools of each batch size on the CPU engine and
/// with the fused kernels, alternated within each repeat.
#[cfg(feature = "fused")]
pub fn run_fused_bench(
    model: &PixelCnn,
    device: &Device,
    gpu: &crate::fused::Gpu,
    batches: &[usize],
    repeats: usize,
) -> Result<Vec<FusedRow>, crate::fused::FusedError> {
    use crate::fused::{Extras, FusedModel, FusedSampler};
    let fused = FusedModel::new(gpu, model)?;
    let c = &model.config;
    let (h, w) = (c.height, c.width);
    let top_known: Vec<bool> = (0..h * w).map(|p| p >= (h / 2) * w).collect();
    let mut rows = Vec::new();
    for (case, known) in [("full", None), ("top half, scored", Some(top_known))] {
        for &batch in batches {
            let mut request = SampleRequest::unconditional(model, batch, 1.0, 1);
            if let Some(k) = &known {
                request.known = k.repeat(batch);
            }
            let scored = known.as_deref();
            let cpu = || -> Result<(), SampleError> {
                let mut sampler = match scored {
                    Some(s) => CachedSampler::scoring(model, request.clone(), s, device)?,
                    None => CachedSampler::new(model, request.clone(), device)?,
                };
                sampler.finish();
                let _ = sampler.canvas().into_data();
                Ok(())
            };
            let mut dispatches = 0;
            let mut gpu_run = || -> Result<(), crate::fused::FusedError> {
                let extras = Extras {
                    scored,
                    ..Extras::default()
                };
                let mut sampler = FusedSampler::new(&fused, request.clone(), extras)?;
                sampler.step(usize::MAX);
                futures_lite::future::block_on(sampler.canvas())?;
                dispatches = sampler.dispatches();
                Ok(())
            };
            cpu()?;
            gpu_run()?;
            let (mut cpu_runs_ms, mut fused_runs_ms) = (vec![], vec![]);
            for _ in 0..repeats.max(1) {
                cpu_runs_ms.push(timed(cpu)?);
                let start = Instant::now();
                gpu_run()?;
                fused_runs_ms.push(start.elapsed().as_secs_f64() * 1e3);
            }
            let values = request.hidden_positions(h, w).len() * c.channels;
            let (cpu_ms, fused_ms) = (median(&cpu_runs_ms), median(&fused_runs_ms));
            rows.push(FusedRow {
                case: case.to_string(),
                batch,
                cpu_ms,
                fused_ms,
                ratio: cpu_ms / fused_ms,
                dispatches_per_value: dispatches as f64 / values as f64,
                cpu_runs_ms,
                fused_runs_ms,
            });
        }
    }
    Ok(rows)
}
