//! Sampling: the request shared by all samplers, seeded Gumbel noise, on-device categorical
//! sampling, the per-pixel loop every sampler runs, and the naive source (a full forward pass
//! per value) that the cached one must match.

use std::ops::Range;

use burn::tensor::{Device, Tensor, TensorData};

use crate::config::PixelCnnConfig;
use crate::model::{Condition, PixelCnn};

/// What to complete: a batch of canvases, which pixels are known, and how to sample.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    pub batch: usize,
    /// Level indices, [B, C, H, W] row-major; values at hidden pixels are ignored.
    pub levels: Vec<f32>,
    /// 1 = known (kept), 0 = hidden (sampled); [B, H, W] row-major, shared by the channels.
    pub known: Vec<bool>,
    /// Softmax temperature; 0 means greedy (argmax).
    pub temperature: f32,
    pub seed: u64,
    /// Index of batch item 0 in the noise stream: item b draws the noise of item
    /// `first_item + b`, so a batch split into parts (one per engine) samples what the whole
    /// batch would have.
    pub first_item: usize,
    /// Class per batch item for class-conditional models.
    pub labels: Option<Vec<i64>>,
    /// Generation order ([`crate::order::Order::index`]) of the whole batch: `levels` and
    /// `known` are already in that order's frame; 0 (the identity) for raster-only models.
    pub order: usize,
}

impl SampleRequest {
    /// `batch` completions of one canvas (`levels` [C, H, W], `known` [H, W]) in raster order,
    /// all of class `label` when given.
    pub fn repeated(
        levels: &[f32],
        known: &[bool],
        batch: usize,
        temperature: f32,
        seed: u64,
        label: Option<i64>,
    ) -> Self {
        Self {
            batch,
            levels: levels.repeat(batch),
            known: known.repeat(batch),
            temperature,
            seed,
            first_item: 0,
            labels: label.map(|l| vec![l; batch]),
            order: 0,
        }
    }

    /// Everything hidden: unconditional samples.
    pub fn unconditional(model: &PixelCnn, batch: usize, temperature: f32, seed: u64) -> Self {
        let c = &model.config;
        Self {
            batch,
            levels: vec![0.0; batch * c.values_per_image()],
            known: vec![false; batch * c.height * c.width],
            temperature,
            seed,
            first_item: 0,
            labels: None,
            order: 0,
        }
    }

    /// The same request seen in `order`'s frame: every canvas and mask moved there, and the
    /// order's bias asked for. Run it inside [`Framed`] to get canvases in the image's frame.
    pub fn in_order(self, config: &PixelCnnConfig, order: crate::order::Order) -> Self {
        let (h, w) = (config.height, config.width);
        Self {
            levels: order.to_frame(&self.levels, h, w),
            known: order.to_frame(&self.known, h, w),
            order: order.index(),
            ..self
        }
    }

    /// Positions (row-major pixel index) that are hidden in at least one batch item.
    pub fn hidden_positions(&self, height: usize, width: usize) -> Vec<usize> {
        let pixels = height * width;
        (0..pixels)
            .filter(|&p| (0..self.batch).any(|b| !self.known[b * pixels + p]))
            .collect()
    }

    /// Checks positions to score ([H, W] row-major): one flag per pixel, each scored one known
    /// in every batch item.
    pub fn check_scored(
        &self,
        scored: &[bool],
        height: usize,
        width: usize,
    ) -> Result<(), SampleError> {
        let pixels = height * width;
        if scored.len() != pixels {
            return Err(SampleError::Request(format!(
                "expected {pixels} scored-position flags, got {}",
                scored.len()
            )));
        }
        let known_everywhere =
            |p: usize| (0..self.batch).all(|i| self.known.get(i * pixels + p) == Some(&true));
        if let Some(p) = (0..pixels).find(|&p| scored[p] && !known_everywhere(p)) {
            return Err(SampleError::Request(format!(
                "scored position {p} is hidden in some batch item"
            )));
        }
        Ok(())
    }

    /// The rows ([H, W] row-major `scored`, `width` columns) holding a scored position, in
    /// order: the rows a scoring sampler runs its head over.
    pub fn scored_rows(scored: &[bool], width: usize) -> Vec<usize> {
        scored
            .chunks(width)
            .enumerate()
            .filter(|(_, row)| row.iter().any(|&s| s))
            .map(|(r, _)| r)
            .collect()
    }

    pub fn check(&self, model: &PixelCnn) -> Result<(), SampleError> {
        let c = &model.config;
        let want_levels = self.batch * c.values_per_image();
        let want_known = self.batch * c.height * c.width;
        if self.batch == 0 {
            return Err(SampleError::Request("batch must be at least 1".into()));
        }
        if self.levels.len() != want_levels {
            return Err(SampleError::Request(format!(
                "expected {want_levels} pixel values (batch {} × {}×{}×{}), got {}",
                self.batch,
                c.channels,
                c.height,
                c.width,
                self.levels.len()
            )));
        }
        if self.known.len() != want_known {
            return Err(SampleError::Request(format!(
                "expected {want_known} mask values, got {}",
                self.known.len()
            )));
        }
        if let Some(v) = self
            .levels
            .iter()
            .find(|v| !(0.0..c.levels as f32).contains(*v))
        {
            return Err(SampleError::Request(format!(
                "pixel value {v} is outside 0..{}",
                c.levels - 1
            )));
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(SampleError::Request("temperature must be ≥ 0".into()));
        }
        match (&self.labels, c.classes) {
            (Some(l), classes) if classes > 0 => {
                if l.len() != self.batch || l.iter().any(|&x| x < 0 || x as usize >= classes) {
                    return Err(SampleError::Request(format!(
                        "labels must be {} values in 0..{}",
                        self.batch,
                        classes - 1
                    )));
                }
            }
            (Some(_), _) => {
                return Err(SampleError::Request(
                    "this model is not class-conditional".into(),
                ));
            }
            (None, _) => {}
        }
        if self.order >= c.orders {
            return Err(SampleError::Request(match c.orders {
                1 => "this model generates in raster order only".into(),
                n => format!("order must be in 0..{}", n - 1),
            }));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SampleError {
    #[error("invalid sampling request: {0}")]
    Request(String),
}

/// Per-batch tensors both samplers use.
pub struct SampleState {
    /// Current canvas, level indices [B, C, H, W].
    pub canvas: Tensor<4>,
    /// 1.0 where known, [B, 1, H, W].
    pub known: Tensor<4>,
    pub condition: Condition,
    /// Pixel positions still to generate, in raster order.
    pub todo: Vec<usize>,
    pub done: usize,
}

impl SampleState {
    pub fn new(
        model: &PixelCnn,
        request: &SampleRequest,
        device: &Device,
    ) -> Result<Self, SampleError> {
        request.check(model)?;
        let c = &model.config;
        let canvas = Tensor::from_data(
            TensorData::new(
                request.levels.clone(),
                [request.batch, c.channels, c.height, c.width],
            ),
            device,
        );
        let known: Vec<f32> = request
            .known
            .iter()
            .map(|&k| if k { 1.0 } else { 0.0 })
            .collect();
        let known = Tensor::from_data(
            TensorData::new(known, [request.batch, 1, c.height, c.width]),
            device,
        );
        // Hidden pixels start at 0 so the canvas never depends on whatever the caller left there.
        let canvas = canvas * known.clone();
        let labels = request
            .labels
            .as_ref()
            .map(|l| Tensor::from_data(TensorData::new(l.clone(), [l.len()]), device));
        let orders = Condition::one_order(c, request.order, device);
        Ok(Self {
            canvas,
            known,
            condition: Condition { labels, orders },
            todo: request.hidden_positions(c.height, c.width),
            done: 0,
        })
    }

    /// Writes sampled levels [B] for (channel, row, col), keeping known pixels.
    pub fn write(&mut self, values: Tensor<1>, channel: usize, row: usize, col: usize) {
        let b = values.dims()[0];
        let values = values.reshape([b, 1, 1, 1]);
        let region = [0..b, channel..channel + 1, row..row + 1, col..col + 1];
        let known = self
            .known
            .clone()
            .slice([0..b, 0..1, row..row + 1, col..col + 1]);
        let current = self.canvas.clone().slice(region.clone());
        let merged = current * known.clone() + values * (known.neg() + 1.0);
        assign_in_place(&mut self.canvas, region, merged);
    }

    pub fn is_done(&self) -> bool {
        self.done >= self.todo.len()
    }
}

/// `slot[region] = value` without copying `slot`: the tensor is moved out of its slot before
/// the write, so the backend owns its buffer alone and writes into it (a buffer still shared
/// with `slot`, as after `slot.clone()`, is copied whole first). The caches of the cached
/// sampler are written one pixel at a time; a copy per write would cost more than the maths.
pub(crate) fn assign_in_place<const D: usize>(
    slot: &mut Tensor<D>,
    region: [Range<usize>; D],
    value: Tensor<D>,
) {
    let placeholder = Tensor::empty([0; D], &slot.device());
    let tensor = std::mem::replace(slot, placeholder);
    *slot = tensor.slice_assign(region, value);
}

/// Deterministic uniform in (0, 1) for one (seed, batch item, channel, pixel, level): the noise
/// is addressed by position, so every sampler sees the same stream whatever its order of work.
pub fn uniform(seed: u64, item: usize, channel: usize, pixel: usize, level: usize) -> f64 {
    let mut z = seed ^ 0x9E37_79B9_7F4A_7C15;
    for part in [item, channel, pixel, level] {
        z = splitmix64(z ^ (part as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    }
    ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Gumbel noise [B, K] for one value position of the batch items `items`.
pub fn gumbel_noise(
    seed: u64,
    items: std::ops::Range<usize>,
    channel: usize,
    pixel: usize,
    levels: usize,
) -> Vec<f32> {
    items
        .flat_map(|b| {
            (0..levels).map(move |k| -(-uniform(seed, b, channel, pixel, k).ln()).ln() as f32)
        })
        .collect()
}

/// Draws one level per row of `logits` [B, K] on the device: argmax(logits / T + Gumbel).
pub fn sample_levels(logits: Tensor<2>, temperature: f32, noise: Option<Tensor<2>>) -> Tensor<1> {
    let b = logits.dims()[0];
    let scores = match noise {
        Some(g) if temperature > 0.0 => logits / temperature as f64 + g,
        _ => logits,
    };
    scores.argmax(1).float().reshape([b])
}

/// Noise tensor for one value position, or None for greedy sampling.
pub fn noise_tensor(
    request: &SampleRequest,
    channel: usize,
    pixel: usize,
    levels: usize,
    device: &Device,
) -> Option<Tensor<2>> {
    (request.temperature > 0.0).then(|| {
        let items = request.first_item..request.first_item + request.batch;
        let g = gumbel_noise(request.seed, items, channel, pixel, levels);
        Tensor::from_data(TensorData::new(g, [request.batch, levels]), device)
    })
}

/// A completion in progress, advanced a few pixels at a time so a page can animate it.
/// No method reads data back from the device: call `canvas()` and read it (async on the web)
/// only when the display needs it.
pub trait Completion {
    /// Generates up to `pixels` more pixels (all channels of each); returns how many were done.
    fn step(&mut self, pixels: usize) -> usize;
    /// (pixels generated, pixels to generate in total).
    fn progress(&self) -> (usize, usize);
    fn is_done(&self) -> bool {
        let (done, total) = self.progress();
        done >= total
    }
    /// Current canvas, level indices [B, C, H, W], known pixels included.
    fn canvas(&self) -> Tensor<4>;
    /// Runs to the end.
    fn finish(&mut self) {
        while !self.is_done() {
            self.step(usize::MAX);
        }
    }
}

impl<C: Completion + ?Sized> Completion for Box<C> {
    fn step(&mut self, pixels: usize) -> usize {
        (**self).step(pixels)
    }

    fn progress(&self) -> (usize, usize) {
        (**self).progress()
    }

    fn canvas(&self) -> Tensor<4> {
        (**self).canvas()
    }
}

/// A completion run in a generation order's frame ([`crate::order`]), seen from the image's
/// own frame: its canvas is moved back on every read.
pub struct Framed<C> {
    pub inner: C,
    pub order: crate::order::Order,
}

impl<C: Completion> Completion for Framed<C> {
    fn step(&mut self, pixels: usize) -> usize {
        self.inner.step(pixels)
    }

    fn progress(&self) -> (usize, usize) {
        self.inner.progress()
    }

    fn canvas(&self) -> Tensor<4> {
        self.order.unapply(self.inner.canvas())
    }
}

/// Where a sampler's logits come from. The per-pixel loop (noise, draw, write, count) is
/// [`Sampler`]'s, shared by every source.
pub trait LogitSource {
    /// Called before the channels of pixel (row, col) are generated.
    fn prepare(&mut self, _state: &SampleState, _row: usize, _col: usize) {}
    /// Logits [B, K] for `channel` of pixel (row, col); earlier values are on the canvas.
    fn logits(&mut self, state: &SampleState, channel: usize, row: usize, col: usize) -> Tensor<2>;
    /// Called after `channel` of pixel (row, col) was written to the canvas.
    fn written(&mut self, _state: &SampleState, _channel: usize, _row: usize, _col: usize) {}
    /// Called once, right after the last value was generated.
    fn finish(&mut self, _state: &SampleState) {}
}

/// Generates the hidden pixels of a request in raster order, channel after channel, drawing
/// each value on the device with positional Gumbel noise: the same request gives the same
/// pixels whatever the source of the logits.
pub struct Sampler<S> {
    request: SampleRequest,
    pub state: SampleState,
    pub(crate) source: S,
    config: PixelCnnConfig,
}

impl<S: LogitSource> Sampler<S> {
    pub(crate) fn with_source(
        model: &PixelCnn,
        request: SampleRequest,
        device: &Device,
        source: impl FnOnce(&SampleState) -> S,
    ) -> Result<Self, SampleError> {
        let state = SampleState::new(model, &request, device)?;
        Ok(Self {
            source: source(&state),
            request,
            state,
            config: model.config.clone(),
        })
    }

    /// Like [`Completion::step`], and hands `observe(pixel, channel, logits [B, K])` the logits
    /// each value was sampled from (tests compare samplers with them).
    pub fn step_observed(
        &mut self,
        pixels: usize,
        mut observe: impl FnMut(usize, usize, &Tensor<2>),
    ) -> usize {
        let (width, channels, levels) =
            (self.config.width, self.config.channels, self.config.levels);
        let device = self.state.canvas.device();
        let mut n = 0;
        while n < pixels && !self.state.is_done() {
            let p = self.state.todo[self.state.done];
            let (row, col) = (p / width, p % width);
            self.source.prepare(&self.state, row, col);
            for channel in 0..channels {
                let logits = self.source.logits(&self.state, channel, row, col);
                observe(p, channel, &logits);
                let noise = noise_tensor(&self.request, channel, p, levels, &device);
                let values = sample_levels(logits, self.request.temperature, noise);
                self.state.write(values, channel, row, col);
                self.source.written(&self.state, channel, row, col);
            }
            self.state.done += 1;
            n += 1;
            if self.state.is_done() {
                self.source.finish(&self.state);
            }
        }
        n
    }

    pub fn request(&self) -> &SampleRequest {
        &self.request
    }
}

impl<S: LogitSource> Completion for Sampler<S> {
    fn step(&mut self, pixels: usize) -> usize {
        self.step_observed(pixels, |_, _, _| {})
    }

    fn progress(&self) -> (usize, usize) {
        (self.state.done, self.state.todo.len())
    }

    fn canvas(&self) -> Tensor<4> {
        self.state.canvas.clone()
    }
}

/// The textbook source: one full forward pass over the whole image per generated value.
pub struct FullPass {
    model: PixelCnn,
}

/// The reference sampler that the cached one must match.
pub type NaiveSampler = Sampler<FullPass>;

impl NaiveSampler {
    pub fn new(
        model: &PixelCnn,
        request: SampleRequest,
        device: &Device,
    ) -> Result<Self, SampleError> {
        Self::with_source(model, request, device, |_| FullPass {
            model: model.clone(),
        })
    }

    /// Logits [B, K] for one value, computed from the full current canvas.
    pub fn logits_at(&self, channel: usize, row: usize, col: usize) -> Tensor<2> {
        self.source.full_logits(&self.state, channel, row, col)
    }
}

impl FullPass {
    fn full_logits(
        &self,
        state: &SampleState,
        channel: usize,
        row: usize,
        col: usize,
    ) -> Tensor<2> {
        let logits = self.model.forward(state.canvas.clone(), &state.condition);
        let [b, _, k, _, _] = logits.dims();
        logits
            .slice([0..b, channel..channel + 1, 0..k, row..row + 1, col..col + 1])
            .reshape([b, k])
    }
}

impl LogitSource for FullPass {
    fn logits(&mut self, state: &SampleState, channel: usize, row: usize, col: usize) -> Tensor<2> {
        self.full_logits(state, channel, row, col)
    }
}
