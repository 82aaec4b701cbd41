//! The WebGPU engine's completions: the fused kernels ([`crate::fused`]) draw the pixels, one
//! dispatch per value, instead of burn's ops; plain completions and importance-resampled pools
//! alike, with the pool plan and the choice shared with the CPU engine ([`PoolPlan`]).

use crate::fused::{Extras, FusedError, FusedModel, FusedSampler};
use crate::importance::{Picks, PoolPlan};
use crate::order::Order;
use crate::sample::{SampleError, SampleRequest};

use super::api::Shown;

/// A completion on the fused kernels.
pub(super) struct FusedRun {
    sampler: FusedSampler,
    order: Order,
    /// For an importance-resampled completion: its pool.
    pool: Option<PoolPlan>,
    /// The alternatives picked from the pool, once chosen.
    picks: Option<Picks>,
    /// A shared pool's log-weights were handed out; `choose` brings the whole pool's.
    awaiting_choice: bool,
}

impl FusedRun {
    /// A plain completion of `request` (in `order`'s frame).
    pub fn plain(
        model: &FusedModel,
        request: SampleRequest,
        order: Order,
    ) -> Result<Self, FusedError> {
        Ok(Self {
            sampler: FusedSampler::new(model, request, Extras::default())?,
            order,
            pool: None,
            picks: None,
            awaiting_choice: false,
        })
    }

    /// A pool drawn and scored in one pass.
    pub fn pool(model: &FusedModel, plan: PoolPlan) -> Result<Self, FusedError> {
        let extras = Extras {
            scored: Some(&plan.scored),
            ..Extras::default()
        };
        let sampler = FusedSampler::new(model, plan.request.clone(), extras)?;
        Ok(Self {
            sampler,
            order: plan.order,
            pool: Some(plan),
            picks: None,
            awaiting_choice: false,
        })
    }

    pub fn step(&mut self, pixels: usize) {
        self.sampler.step(pixels);
        if let Some(plan) = &self.pool
            && self.sampler.is_done()
            && !plan.ranked
            && self.picks.is_none()
        {
            self.picks = Some(plan.unranked());
        }
    }

    pub fn progress(&self) -> (usize, usize) {
        self.sampler.progress()
    }

    /// Whether the pool is scored against known pixels after the hole.
    pub fn ranked(&self) -> bool {
        self.pool.as_ref().is_some_and(|p| p.ranked)
    }

    pub fn is_shared(&self) -> bool {
        self.pool.as_ref().is_some_and(PoolPlan::is_shared)
    }

    /// The pool is drawn and scored and nothing is chosen yet: its log-weights are to be read.
    pub fn wants_weights(&self) -> bool {
        self.pool.as_ref().is_some_and(|p| p.ranked)
            && self.sampler.is_done()
            && self.picks.is_none()
            && !self.awaiting_choice
    }

    /// The pool's scores, read back (call when [`wants_weights`](Self::wants_weights)).
    pub fn read_weights(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<f32>>, FusedError>> + use<> {
        self.sampler.scores()
    }

    /// The weights of this share were handed out; the whole pool's come with `choose`.
    pub fn await_choice(&mut self) {
        self.awaiting_choice = true;
    }

    pub fn awaiting_choice(&self) -> bool {
        self.awaiting_choice
    }

    /// Picks the alternatives from the log-weights of the whole pool.
    pub fn choose(&mut self, log_weights: &[f32]) -> Result<(), SampleError> {
        let plan = self
            .pool
            .as_ref()
            .ok_or_else(|| SampleError::Request("choose: this completion has no pool".into()))?;
        self.picks = Some(plan.pick(log_weights)?);
        self.awaiting_choice = false;
        Ok(())
    }

    /// The canvas of every candidate, read back.
    pub fn read_canvas(&self) -> impl Future<Output = Result<Vec<f32>, FusedError>> + use<> {
        self.sampler.canvas()
    }

    /// What a frame shows, from the candidates' canvas [B, C, H, W] in the order's frame: the
    /// picks once chosen (a share holding none shows its first candidate), before that the
    /// first K candidates of the pool; every image moved back to the image's frame.
    pub fn frame(&self, canvas: &[f32], height: usize, width: usize) -> Shown {
        let per_image = canvas.len() / self.sampler.batch().max(1);
        let (shown, scores, ranks) = match &self.pool {
            Some(plan) => (
                plan.shown(self.picks.as_ref()),
                self.picks.as_ref().map(|p| p.scores.clone()),
                self.picks.as_ref().map(|p| p.ranks.clone()),
            ),
            None => ((0..self.sampler.batch()).collect(), None, None),
        };
        let ranks = ranks.filter(|_| self.is_shared());
        let framed: Vec<u8> = shown
            .iter()
            .flat_map(|&i| &canvas[i * per_image..(i + 1) * per_image])
            .map(|&v| v as u8)
            .collect();
        let batch = if ranks.as_ref().is_some_and(Vec::is_empty) {
            0
        } else {
            shown.len()
        };
        let pixels = match batch {
            0 => Vec::new(),
            _ => self.order.from_frame(&framed, height, width),
        };
        Shown {
            batch,
            pixels,
            scores,
            ranks,
            log_weights: None,
        }
    }
}
