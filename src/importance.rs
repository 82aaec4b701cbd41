//! Completions that honour every known pixel: sampling–importance–resampling (SIR).
//!
//! The raster-order sampler draws each hidden value from p(x_i | x_<i): it never looks at the
//! known pixels that come after the hole, so a stroke below a hole is ignored while the hole is
//! filled. Here the cached sampler is only the proposal. It draws a pool of N candidates; each
//! candidate x is weighted by the factors the proposal left out,
//!
//!   w(x) = Π p(x_j | x_<j) over the known values j after the first hidden pixel,
//!
//! which the cached sampler sums for the whole pool as it draws it (see [`crate::cached`]). Self-normalised, these weights
//! turn the pool into a sample of p(hidden | every known pixel): exact as N grows. K
//! alternatives are then drawn from the pool *without replacement* in proportion to the
//! weights (Gumbel-top-k on log w): the weights are usually sharply peaked, and drawing with
//! replacement would show the same completion several times. Each alternative keeps log w as
//! its score (nats; higher fits the rest of the drawing better) and they are returned best
//! first.
//!
//! When no known pixel comes after the first hidden one, every weight is 1: the pool is then
//! just the K alternatives the raster sampler would draw, and nothing is scored.
//!
//! A model trained with several generation orders ([`crate::order`]) completes in the order
//! that leaves the fewest known values after the first hidden one (or the one asked for):
//! the canvas and mask are moved into that order's frame, completed there, and the
//! alternatives moved back. For a top-half hole the bottom-to-top order leaves none, and the
//! completion is an exact sample of p(hidden | every known pixel) without a pool.
//!
//! Nothing here reads device data back by itself: once the pool is drawn the caller reads its
//! log-weights (asynchronously on the web) and hands them to [`ImportanceCompletion::choose`].
//!
//! Several engines (the page's workers) can share one pool: each draws a [`PoolShare`], a
//! contiguous range of candidates with the noise of their place in the whole pool, and is
//! handed the log-weights of the whole pool to choose from. Every engine makes the same
//! choice; each returns the chosen candidates it holds with their ranks, so the alternatives
//! are the same for any number of engines.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::cached::CachedSampler;
use crate::model::PixelCnn;
use crate::order::{self, Order};
use crate::sample::{Completion, SampleError, SampleRequest, uniform};

/// Largest pool a completion may draw.
pub const MAX_CANDIDATES: usize = 64;

/// The candidates `first..first + count` of a pool, drawn by one of the engines sharing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolShare {
    pub first: usize,
    pub count: usize,
}

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
    /// Generation order; None: the model's order with the fewest known values after the
    /// first hidden one ([`order::choose`]).
    pub order: Option<Order>,
    /// The part of the pool this completion draws; None: all of it. A completion that ranks
    /// nothing (no known pixel after the hole) draws its K alternatives whatever the share.
    pub share: Option<PoolShare>,
}

impl ImportanceRequest {
    /// The order this request completes in with `model`.
    pub fn order_for(&self, model: &PixelCnn) -> Order {
        let c = &model.config;
        self.order
            .unwrap_or_else(|| order::choose(&self.known, c.height, c.width, c.orders))
    }

    fn check(&self, model: &PixelCnn) -> Result<(), SampleError> {
        if let Some(order) = self.order
            && order.index() >= model.config.orders
        {
            return Err(SampleError::Request(format!(
                "this model has {} generation order(s); order {} is not one of them",
                model.config.orders,
                order.index()
            )));
        }
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
        let pool = self.candidates.max(self.alternatives);
        if let Some(PoolShare { first, count }) = self.share
            && (count == 0 || first + count > pool)
        {
            return Err(SampleError::Request(format!(
                "a share of the pool must be a non-empty part of its {pool} candidates, got {count} from {first}"
            )));
        }
        Ok(())
    }
}

/// What an importance-resampled completion draws: its order, its pool and the share of it
/// drawn here, the positions scored, and the sampling request of that share (in the order's
/// frame). Shared by every engine that draws a pool, on the CPU or on the GPU.
#[derive(Debug, Clone)]
pub struct PoolPlan {
    pub order: Order,
    /// Whether known pixels follow the hole (in the order's frame), so the pool is scored.
    pub ranked: bool,
    /// The pool's size N.
    pub pool_size: usize,
    pub share: PoolShare,
    pub alternatives: usize,
    pub seed: u64,
    /// [H, W] in the order's frame: the known values after the first hidden one.
    pub scored: Vec<bool>,
    /// The share's candidates, each the canvas in the order's frame.
    pub request: SampleRequest,
}

/// The alternatives picked from a pool that one share holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Picks {
    /// Their ranks among the K alternatives (all K, best first, for a whole pool).
    pub ranks: Vec<usize>,
    /// Their indices within the share.
    pub held: Vec<usize>,
    /// Their log-weights (nats).
    pub scores: Vec<f64>,
}

impl PoolPlan {
    pub fn new(model: &PixelCnn, request: ImportanceRequest) -> Result<Self, SampleError> {
        request.check(model)?;
        let config = &model.config;
        let (c, h, w) = (config.channels, config.height, config.width);
        let pixels = h * w;
        if request.known.len() != pixels || request.levels.len() != c * pixels {
            return Err(SampleError::Request(format!(
                "expected {pixels} mask values and {} pixel values, got {} and {}",
                c * pixels,
                request.known.len(),
                request.levels.len()
            )));
        }
        let order = request.order_for(model);
        let known = order.to_frame(&request.known, h, w);
        let levels = order.to_frame(&request.levels, h, w);
        let scored = order::known_after_first_hidden(&known);
        let ranked = scored.contains(&true);
        let k = request.alternatives;
        let pool_size = if ranked { request.candidates.max(k) } else { k };
        let whole = PoolShare {
            first: 0,
            count: pool_size,
        };
        let share = match request.share {
            Some(share) if ranked => share,
            _ => whole,
        };
        let batch = share.count;
        Ok(Self {
            order,
            ranked,
            pool_size,
            share,
            alternatives: k,
            seed: request.seed,
            scored,
            request: SampleRequest {
                first_item: share.first,
                order: order.index(),
                ..SampleRequest::repeated(
                    &levels,
                    &known,
                    batch,
                    request.temperature,
                    request.seed,
                    request.label,
                )
            },
        })
    }

    /// Whether other engines draw the rest of the pool.
    pub fn is_shared(&self) -> bool {
        self.share.count < self.pool_size
    }

    /// Draws the K alternatives given the log-weights of the whole pool (every share's, in
    /// pool order), best first, and keeps those this share holds.
    pub fn pick(&self, log_weights: &[f32]) -> Result<Picks, SampleError> {
        if log_weights.len() != self.pool_size {
            return Err(SampleError::Request(format!(
                "choose: expected {} log-weights, got {}",
                self.pool_size,
                log_weights.len()
            )));
        }
        let weights: Vec<f64> = log_weights.iter().map(|&w| f64::from(w)).collect();
        let picks = choose_without_replacement(&weights, self.alternatives, self.seed);
        Ok(self.held(&picks, &weights))
    }

    /// The candidates (indices within the share) a frame shows: once chosen, the picks this
    /// share holds, or its first candidate when it holds none (its ranks are then empty);
    /// before that, its first K.
    pub fn shown(&self, picks: Option<&Picks>) -> Vec<usize> {
        match picks {
            Some(p) if p.held.is_empty() => vec![0],
            Some(p) => p.held.clone(),
            None => (0..self.alternatives.min(self.share.count)).collect(),
        }
    }

    /// The alternatives of a pool that nothing ranks: its first K, score 0.
    pub fn unranked(&self) -> Picks {
        let k = self.alternatives;
        self.held(&(0..k).collect::<Vec<_>>(), &vec![0.0; k])
    }

    /// Of the picks (pool indices, best first), those this share holds.
    fn held(&self, picks: &[usize], weights: &[f64]) -> Picks {
        let PoolShare { first, count } = self.share;
        let (ranks, held): (Vec<usize>, Vec<usize>) = picks
            .iter()
            .enumerate()
            .filter(|&(_, &i)| (first..first + count).contains(&i))
            .map(|(rank, &i)| (rank, i - first))
            .unzip();
        let scores = held.iter().map(|&i| weights[first + i]).collect();
        Picks {
            ranks,
            held,
            scores,
        }
    }
}

/// Where the completion is.
enum Phase {
    /// Drawing (and scoring) the pool.
    Pool,
    /// Pool drawn and scored; waiting for [`ImportanceCompletion::choose`].
    Scored { log_weights: Tensor<1> },
    /// Alternatives chosen: those this share holds.
    Chosen { picks: Picks },
}

/// A completion of one canvas whose alternatives are importance-resampled from a pool.
pub struct ImportanceCompletion {
    plan: PoolPlan,
    pool: CachedSampler,
    phase: Phase,
}

impl ImportanceCompletion {
    pub fn new(
        model: &PixelCnn,
        request: ImportanceRequest,
        device: &Device,
    ) -> Result<Self, SampleError> {
        let plan = PoolPlan::new(model, request)?;
        let pool = CachedSampler::scoring(model, plan.request.clone(), &plan.scored, device)?;
        Ok(Self {
            plan,
            pool,
            phase: Phase::Pool,
        })
    }

    /// The generation order the completion runs in.
    pub fn order(&self) -> Order {
        self.plan.order
    }

    /// Whether the pool is scored against known values after the hole (otherwise the
    /// alternatives are the sampler's first K, unranked).
    pub fn ranked(&self) -> bool {
        self.plan.ranked
    }

    /// Of [`Completion::progress`]'s total, the units spent drawing the pool: all of them
    /// (the scores come from the same pass).
    pub fn pool_units(&self) -> usize {
        self.pool.progress().1
    }

    /// Pool size N.
    pub fn candidates(&self) -> usize {
        self.plan.pool_size
    }

    /// The candidates of the pool this completion draws.
    pub fn share(&self) -> PoolShare {
        self.plan.share
    }

    /// Whether other engines draw the rest of the pool: [`choose`](Self::choose) then wants
    /// the log-weights of all of it, theirs included.
    pub fn is_shared(&self) -> bool {
        self.plan.is_shared()
    }

    /// This share's log-weights once it is drawn and scored, for the caller to read back
    /// and pass to [`choose`](Self::choose) (with the other shares', when shared).
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

    /// Draws the K alternatives from the pool given the log-weights of the whole pool (as read
    /// back from [`log_weights`](Self::log_weights) of every share, in pool order), best
    /// first, and keeps those this share holds.
    pub fn choose(&mut self, log_weights: &[f32]) -> Result<(), SampleError> {
        if !self.awaiting_choice() {
            return Err(SampleError::Request(
                "choose: the pool is not scored yet".into(),
            ));
        }
        let picks = self.plan.pick(log_weights)?;
        self.finish_with(picks);
        Ok(())
    }

    /// Keeps the picks this share holds.
    fn finish_with(&mut self, picks: Picks) {
        self.phase = Phase::Chosen { picks };
    }

    /// Scores of the chosen alternatives this share holds (log w in nats; all K, best first,
    /// for a whole pool).
    pub fn scores(&self) -> Option<&[f64]> {
        match &self.phase {
            Phase::Chosen { picks, .. } => Some(&picks.scores),
            _ => None,
        }
    }

    /// Ranks among the K alternatives of the chosen ones this share holds, in the order of
    /// [`Completion::canvas`] and [`scores`](Self::scores).
    pub fn ranks(&self) -> Option<&[usize]> {
        match &self.phase {
            Phase::Chosen { picks, .. } => Some(&picks.ranks),
            _ => None,
        }
    }

    /// Runs a whole pool to the end, reading the log-weights back synchronously (native only:
    /// on WebGPU a blocking read panics).
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
}

impl Completion for ImportanceCompletion {
    /// Draws (and scores) up to `pixels` pixels of the pool.
    fn step(&mut self, pixels: usize) -> usize {
        if !matches!(self.phase, Phase::Pool) {
            return 0;
        }
        let done = self.pool.step(pixels);
        if self.pool.is_done() {
            match self.pool.scores() {
                Some(log_weights) if self.plan.ranked => self.phase = Phase::Scored { log_weights },
                // Nothing known after the hole: the pool is the K raster alternatives.
                _ => self.finish_with(self.plan.unranked()),
            }
        }
        done
    }

    fn progress(&self) -> (usize, usize) {
        self.pool.progress()
    }

    /// The chosen alternatives once there are any; before that the first K of the pool;
    /// in the image's own frame. A share that holds none of the chosen ones shows its first
    /// candidate ([`ImportanceCompletion::ranks`] is then empty).
    fn canvas(&self) -> Tensor<4> {
        let picks = match &self.phase {
            Phase::Chosen { picks } => Some(picks),
            _ => None,
        };
        let shown: Vec<i64> = self.plan.shown(picks).iter().map(|&i| i as i64).collect();
        let n = shown.len();
        let pool = self.pool.canvas();
        let index = Tensor::<1, Int>::from_data(TensorData::new(shown, [n]), &pool.device());
        self.plan.order.unapply(pool.select(0, index))
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
