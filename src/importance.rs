//! Completions that honour every known pixel: sampling–importance–resampling (SIR).
//!
//! The raster-order sampler draws each hidden value from p(x_i | x_<i): it never looks at the
//! known pixels that come after the hole, so a stroke below a hole is ignored while the hole is
//! filled. Here the cached sampler is only the proposal. It draws a pool of N candidates; each
//! candidate x is weighted by the factors the proposal left out,
//!
//!   w(x) = Π p(x_j | x_<j) over the known values j after the first hidden pixel,
//!
//! computed for the whole pool in one scoring pass of the model. Self-normalised, these weights
//! turn the pool into a sample of p(hidden | every known pixel): exact as N grows. K
//! alternatives are then drawn from the pool *without replacement* in proportion to the
//! weights (Gumbel-top-k on log w): the weights are usually sharply peaked, and drawing with
//! replacement would show the same completion several times. Each alternative keeps log w as
//! its score (nats; higher fits the rest of the drawing better) and they are returned best
//! first.
//!
//! When no known pixel comes after the first hidden one, every weight is 1: the pool is then
//! just the K alternatives the raster sampler would draw, and no scoring pass runs.
//!
//! Nothing here reads device data back by itself: after the scoring pass the caller reads the
//! pool's log-weights (asynchronously on the web) and hands them to [`ImportanceCompletion::choose`].

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::cached::CachedSampler;
use crate::model::PixelCnn;
use crate::sample::{Completion, SampleError, SampleRequest, uniform};

/// Largest pool a completion may draw.
pub const MAX_CANDIDATES: usize = 64;

/// One canvas to complete and how.
#[derive(Debug, Clone)]
pub struct ImportanceRequest {
    /// Level indices [C, H, W] row-major; values at hidden pixels are ignored.
    pub levels: Vec<f32>,
    /// [H, W] row-major, true = known.
    pub known: Vec<bool>,
    /// Alternatives returned, K.
    pub alternatives: usize,
    /// Pool size N (at least K; raised to K when smaller).
    pub candidates: usize,
    pub temperature: f32,
    pub seed: u64,
    pub label: Option<i64>,
}

impl ImportanceRequest {
    fn check(&self) -> Result<(), SampleError> {
        if !(1..=MAX_CANDIDATES).contains(&self.alternatives) {
            return Err(SampleError::Request(format!(
                "alternatives must be in 1..={MAX_CANDIDATES}, got {}",
                self.alternatives
            )));
        }
        if !(1..=MAX_CANDIDATES).contains(&self.candidates) {
            return Err(SampleError::Request(format!(
                "candidates must be in 1..={MAX_CANDIDATES}, got {}",
                self.candidates
            )));
        }
        Ok(())
    }
}

/// Where the completion is.
enum Phase {
    /// Drawing the pool.
    Pool,
    /// Scoring the pool a few candidates per step (so that a page can repaint and cancel
    /// between steps): log-weights of candidates 0..scored so far.
    Scoring {
        scored: usize,
        parts: Vec<Tensor<1>>,
    },
    /// Pool drawn and scored; waiting for [`ImportanceCompletion::choose`].
    Scored { log_weights: Tensor<1> },
    /// Alternatives chosen: canvas [K, C, H, W] and their scores, best first.
    Chosen { canvas: Tensor<4>, scores: Vec<f64> },
}

/// A completion of one canvas whose alternatives are importance-resampled from a pool.
pub struct ImportanceCompletion {
    model: PixelCnn,
    pool: CachedSampler,
    alternatives: usize,
    seed: u64,
    /// 1.0 at the known pixels after the first hidden one, [1, 1, H, W]; None when there are
    /// none (no scoring needed).
    scored_mask: Option<Tensor<4>>,
    phase: Phase,
}

impl ImportanceCompletion {
    pub fn new(
        model: &PixelCnn,
        request: ImportanceRequest,
        device: &Device,
    ) -> Result<Self, SampleError> {
        request.check()?;
        let config = &model.config;
        let pixels = config.height * config.width;
        if request.known.len() != pixels {
            return Err(SampleError::Request(format!(
                "expected {pixels} mask values, got {}",
                request.known.len()
            )));
        }
        let first_hidden = request.known.iter().position(|&k| !k);
        let scored: Vec<f32> = (0..pixels)
            .map(|p| match first_hidden {
                Some(first) if p > first && request.known[p] => 1.0,
                _ => 0.0,
            })
            .collect();
        let needs_scoring = scored.iter().any(|&s| s > 0.0);
        let k = request.alternatives;
        let pool_size = if needs_scoring {
            request.candidates.max(k)
        } else {
            k
        };
        let pool = CachedSampler::new(
            model,
            SampleRequest {
                batch: pool_size,
                levels: request.levels.repeat(pool_size),
                known: request.known.repeat(pool_size),
                temperature: request.temperature,
                seed: request.seed,
                labels: request.label.map(|l| vec![l; pool_size]),
            },
            device,
        )?;
        let scored_mask = needs_scoring.then(|| {
            Tensor::from_data(
                TensorData::new(scored, [1, 1, config.height, config.width]),
                device,
            )
        });
        Ok(Self {
            model: model.clone(),
            pool,
            alternatives: k,
            seed: request.seed,
            scored_mask,
            phase: Phase::Pool,
        })
    }

    /// Pool size N.
    pub fn candidates(&self) -> usize {
        self.pool.request().batch
    }

    /// Progress in pixel-sized units: the pool's hidden pixels, then the scoring pass, which
    /// costs about as much as sampling half an image at the pool's batch size (and counts at
    /// least one unit per candidate, so every scoring step shows).
    fn scoring_units(&self) -> usize {
        self.scored_mask.as_ref().map_or(0, |_| {
            let c = &self.model.config;
            (c.height * c.width / 2).max(self.candidates())
        })
    }

    /// Candidates scored by a step worth `pixels` units (at least one).
    fn candidates_per_step(&self, pixels: usize) -> usize {
        let n = self.candidates();
        let per_candidate = (self.scoring_units() / n).max(1);
        pixels.div_ceil(per_candidate).clamp(1, n)
    }

    /// The pool's log-weights [N] once it is drawn and scored, for the caller to read back
    /// and pass to [`choose`](Self::choose).
    pub fn log_weights(&self) -> Option<Tensor<1>> {
        match &self.phase {
            Phase::Scored { log_weights } => Some(log_weights.clone()),
            _ => None,
        }
    }

    /// Whether the pool is scored and waits for [`choose`](Self::choose).
    pub fn awaiting_choice(&self) -> bool {
        matches!(self.phase, Phase::Scored { .. })
    }

    /// Draws the K alternatives from the pool given its log-weights (as read back from
    /// [`log_weights`](Self::log_weights)), best first.
    pub fn choose(&mut self, log_weights: &[f32]) -> Result<(), SampleError> {
        if !self.awaiting_choice() {
            return Err(SampleError::Request(
                "choose: the pool is not scored yet".into(),
            ));
        }
        if log_weights.len() != self.candidates() {
            return Err(SampleError::Request(format!(
                "choose: expected {} log-weights, got {}",
                self.candidates(),
                log_weights.len()
            )));
        }
        let weights: Vec<f64> = log_weights.iter().map(|&w| f64::from(w)).collect();
        let picks = choose_without_replacement(&weights, self.alternatives, self.seed);
        self.finish_with(picks, weights);
        Ok(())
    }

    fn finish_with(&mut self, picks: Vec<usize>, weights: Vec<f64>) {
        let device = self.pool.state.canvas.device();
        let index: Vec<i64> = picks.iter().map(|&i| i as i64).collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [picks.len()]), &device);
        let canvas = self.pool.canvas().select(0, index);
        let scores = picks.iter().map(|&i| weights[i]).collect();
        self.phase = Phase::Chosen { canvas, scores };
    }

    /// Scores of the alternatives once chosen (log w in nats, best first).
    pub fn scores(&self) -> Option<&[f64]> {
        match &self.phase {
            Phase::Chosen { scores, .. } => Some(scores),
            _ => None,
        }
    }

    /// Runs to the end, reading the log-weights back synchronously (native only: on WebGPU a
    /// blocking read panics).
    pub fn finish_blocking(&mut self) -> Result<(), SampleError> {
        self.finish();
        if let Some(weights) = self.log_weights() {
            let weights = weights
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| SampleError::Request(format!("reading weights: {e:?}")))?;
            self.choose(&weights)?;
        }
        Ok(())
    }

    /// log w of pool members first..first+count: the log-probability of the scored known
    /// values.
    fn score_candidates(&self, mask: &Tensor<4>, first: usize, count: usize) -> Tensor<1> {
        let canvas = self.pool.canvas().narrow(0, first, count).int();
        let labels = self
            .pool
            .state
            .labels
            .as_ref()
            .map(|l| l.clone().narrow(0, first, count));
        let log_probs = self.model.log_probs(canvas, labels.as_ref());
        let [n, c, h, w] = log_probs.dims();
        (log_probs * mask.clone())
            .reshape([n, c * h * w])
            .sum_dim(1)
            .reshape([n])
    }
}

impl Completion for ImportanceCompletion {
    /// Draws up to `pixels` pixels of the pool; once it is drawn, scores about `pixels`
    /// units' worth of candidates per call.
    fn step(&mut self, pixels: usize) -> usize {
        if matches!(self.phase, Phase::Pool) {
            let done = self.pool.step(pixels);
            if !self.pool.is_done() {
                return done;
            }
            if self.scored_mask.is_none() {
                // Nothing known after the hole: the pool is the K raster alternatives.
                let k = self.alternatives;
                self.finish_with((0..k).collect(), vec![0.0; k]);
                return done;
            }
            self.phase = Phase::Scoring {
                scored: 0,
                parts: Vec::new(),
            };
            if done > 0 {
                return done;
            }
        }
        let n = self.candidates();
        let count = self.candidates_per_step(pixels);
        if let (Phase::Scoring { scored, .. }, Some(mask)) = (&self.phase, &self.scored_mask) {
            let first = *scored;
            let count = count.min(n - first);
            let part = self.score_candidates(mask, first, count);
            if let Phase::Scoring { scored, parts } = &mut self.phase {
                *scored += count;
                parts.push(part);
                if *scored >= n {
                    let log_weights = Tensor::cat(std::mem::take(parts), 0);
                    self.phase = Phase::Scored { log_weights };
                }
            }
        }
        0
    }

    fn progress(&self) -> (usize, usize) {
        let (done, total) = self.pool.progress();
        let scoring = self.scoring_units();
        let scored = match &self.phase {
            Phase::Pool => 0,
            Phase::Scoring { scored, .. } => scoring * scored / self.candidates().max(1),
            Phase::Scored { .. } | Phase::Chosen { .. } => scoring,
        };
        (done + scored, total + scoring)
    }

    /// The chosen alternatives once there are any; before that the first K of the pool.
    fn canvas(&self) -> Tensor<4> {
        match &self.phase {
            Phase::Chosen { canvas, .. } => canvas.clone(),
            _ => {
                let k = self.alternatives.min(self.candidates());
                self.pool.canvas().narrow(0, 0, k)
            }
        }
    }
}

/// Draws `k` distinct indices with probability proportional to exp(log_weights), one after
/// the other without replacement (Gumbel-top-k), and returns them ordered by weight, best
/// first. Indices whose weight is NaN come last; an all −inf pool still yields `k` indices.
pub fn choose_without_replacement(log_weights: &[f64], k: usize, seed: u64) -> Vec<usize> {
    let mut keyed: Vec<(f64, usize)> = log_weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let gumbel = -(-uniform(seed ^ RESAMPLE_SALT, i, 0, 0, 0).ln()).ln();
            let key = if w.is_nan() {
                f64::NEG_INFINITY
            } else {
                w + gumbel
            };
            (key, i)
        })
        .collect();
    // Ties (−inf keys) fall back to pool order, so the result is deterministic.
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut picks: Vec<usize> = keyed.into_iter().take(k).map(|(_, i)| i).collect();
    let weight = |i: usize| {
        let w = log_weights[i];
        if w.is_nan() { f64::NEG_INFINITY } else { w }
    };
    picks.sort_by(|&a, &b| weight(b).total_cmp(&weight(a)).then(a.cmp(&b)));
    picks
}

/// Keeps the resampling noise apart from the sampling noise of the same seed.
const RESAMPLE_SALT: u64 = 0x51A5_0F7E_C0DE_5EED;

/// Effective sample size of a pool, (Σw)² / Σw², from log-weights; 0 for an all −inf pool.
pub fn effective_sample_size(log_weights: &[f64]) -> f64 {
    let max = log_weights
        .iter()
        .copied()
        .filter(|w| !w.is_nan())
        .fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return 0.0;
    }
    let w: Vec<f64> = log_weights
        .iter()
        .map(|&l| if l.is_nan() { 0.0 } else { (l - max).exp() })
        .collect();
    let sum: f64 = w.iter().sum();
    sum * sum / w.iter().map(|x| x * x).sum::<f64>()
}
