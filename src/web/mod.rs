//! Browser glue: a thin wasm-bindgen layer over the library.
//!
//! One [`Engine`] owns one backend, a loaded model, the user's canvas and at most one
//! completion in progress. The page runs one per Web Worker (www/engine-worker.js), a CPU one
//! and, where it pays, a WebGPU one, and www/engine.js decides which runs what; an engine also
//! works on a page's main thread. Every method returns a
//! `Result` so that failures reach JavaScript as exceptions with a readable message; nothing
//! here unwraps data that came from the user or the network.
//!
//! Built twice for the browser: with the `web` feature it is the small CPU-only engine (burn
//! flex) every visitor loads; with `webgpu` it also carries burn-wgpu, and the page fetches it
//! only when WebGPU is measured (or asked) to be faster.
//!
//! WebGPU never allows a synchronous readback, so every read of device data goes through
//! `into_data_async().await`; the samplers themselves never read back (see
//! [`Completion`]), which is what lets the page animate a completion frame by frame.

mod api;
mod benchmark;
#[cfg(feature = "fused")]
mod fused_run;
mod platform;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::tensor::{Device, Int, Tensor, TensorData};
use wasm_bindgen::prelude::*;

pub use api::{BackendName, Frame, ModelInfo, SamplerName};
use api::{Plan, Shown, StartOptions};
use platform::{
    fetch_bytes, fetch_text, js_err, parse_options, read_floats, read_levels, resolve_url, to_js,
    webgpu_device,
};

use crate::cached::CachedSampler;
use crate::config::PixelCnnConfig;
use crate::importance::{ImportanceCompletion, ImportanceRequest, PoolShare};
use crate::model::{Condition, PixelCnn};
use crate::order::Order;
use crate::progress::{Phase, step_pixels};
use crate::sample::{Completion, Framed, NaiveSampler, SampleError, SampleRequest};
use crate::weights::{Manifest, load_from_bytes, parse_manifest};

/// Installs the panic hook before anything else runs, so a bug shows as a readable console
/// message instead of `unreachable executed`.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Builds the model from manifest + weights bytes on one device (the library checks the
/// sha256, the config and every tensor's name, shape and dtype).
fn load_model(
    manifest_json: &str,
    weights: &[u8],
    device: &Device,
) -> Result<(PixelCnn, Manifest), String> {
    load_from_bytes(manifest_json, weights, device).map_err(|e| e.to_string())
}

/// Builds the requested sampler.
fn make_sampler(
    kind: SamplerName,
    model: &PixelCnn,
    request: SampleRequest,
    device: &Device,
) -> Result<Box<dyn Completion>, SampleError> {
    Ok(match kind {
        SamplerName::Cached => Box::new(CachedSampler::new(model, request, device)?),
        SamplerName::Naive => Box::new(NaiveSampler::new(model, request, device)?),
    })
}

/// A completion in progress: a plain sampler, or an importance-resampled one whose pool
/// weights must be read back (asynchronously) before its alternatives can be chosen.
enum Run {
    Plain(Box<dyn Completion>),
    Importance(Box<ImportanceCompletion>),
    /// On the fused WebGPU kernels (the WebGPU engine's cached sampler).
    #[cfg(feature = "fused")]
    Fused(Box<fused_run::FusedRun>),
}

impl Run {
    /// The completion of a run on burn's ops; None on the fused kernels.
    fn completion(&mut self) -> Option<&mut dyn Completion> {
        match self {
            Run::Plain(c) => Some(c.as_mut()),
            Run::Importance(c) => Some(c.as_mut()),
            #[cfg(feature = "fused")]
            Run::Fused(_) => None,
        }
    }

    /// (pixels drawn, pixels to draw, whether the pool is ranked).
    fn progress(&self) -> (usize, usize, bool) {
        let ((done, total), ranked) = match self {
            Run::Plain(c) => (c.progress(), false),
            Run::Importance(c) => (c.progress(), c.ranked()),
            #[cfg(feature = "fused")]
            Run::Fused(c) => (c.progress(), c.ranked()),
        };
        (done, total, ranked)
    }
}

struct Job {
    run: Run,
}

/// What a started completion does: `start`'s plan, less what the caller knows.
struct Begun {
    order: Order,
    candidates: usize,
    ranked: bool,
    pool_units: usize,
}

/// The browser engine: its backend, the model, the canvas, and the completion in progress.
#[wasm_bindgen]
pub struct Engine {
    backend: BackendName,
    device: Device,
    model: RefCell<Option<PixelCnn>>,
    /// One image: level indices [C, H, W] and the known mask [H, W].
    canvas: RefCell<Option<(Vec<f32>, Vec<bool>)>>,
    job: RefCell<Option<Job>>,
    /// Whether the last completion was cancelled (rather than never started): a `step` called
    /// just before `cancel` then resolves as cancelled instead of failing.
    cancelled_job: Cell<bool>,
    /// Bumped by every `start` and `cancel`, so a frame read back meanwhile knows it is stale.
    generation: Rc<Cell<u64>>,
    /// The WebGPU engine's kernels for the loaded model: its cached sampler runs on them.
    #[cfg(feature = "fused")]
    kernels: Kernels,
}

/// The fused kernels' device and the loaded model on it.
#[cfg(feature = "fused")]
#[derive(Default)]
struct Kernels {
    gpu: Option<crate::fused::Gpu>,
    model: RefCell<Option<crate::fused::FusedModel>>,
}

#[wasm_bindgen]
impl Engine {
    /// Creates an engine on `backend`: "cpu" (the default) or "webgpu" (only in the WebGPU
    /// build, and where the browser has a WebGPU adapter).
    pub async fn create(
        #[wasm_bindgen(unchecked_param_type = "BackendName | undefined | null")] backend: Option<
            String,
        >,
    ) -> Result<Engine, JsError> {
        #[cfg(feature = "fused")]
        let mut kernels = Kernels::default();
        let (backend, device) = match backend.as_deref().unwrap_or("cpu") {
            "cpu" => (BackendName::Cpu, Device::flex()),
            "webgpu" => {
                let device = webgpu_device().await.map_err(js_err)?;
                // Where the kernels' device cannot be had, the cached sampler runs on burn's ops.
                #[cfg(feature = "fused")]
                {
                    kernels.gpu = crate::fused::Gpu::new().await.ok();
                }
                (BackendName::Webgpu, device)
            }
            other => {
                return Err(js_err(format!(
                    "unknown backend \"{other}\": use \"cpu\" or \"webgpu\""
                )));
            }
        };
        Ok(Engine {
            backend,
            device,
            model: RefCell::new(None),
            canvas: RefCell::new(None),
            job: RefCell::new(None),
            cancelled_job: Cell::new(false),
            generation: Rc::new(Cell::new(0)),
            #[cfg(feature = "fused")]
            kernels,
        })
    }

    /// Fetches a manifest and its weights (URL relative to the manifest), checks the sha256
    /// and the config, and builds the model on the engine's backend.
    #[wasm_bindgen(js_name = loadModel)]
    #[wasm_bindgen(unchecked_return_type = "ModelInfo")]
    pub async fn load_model(&self, manifest_url: String) -> Result<JsValue, JsError> {
        let manifest_json = fetch_text(&manifest_url).await.map_err(js_err)?;
        let head = parse_manifest(&manifest_json)
            .map_err(|e| js_err(format!("cannot load the model from {manifest_url}: {e}")))?;
        let weights_url = resolve_url(&head.weights, &manifest_url).map_err(js_err)?;
        let weights = fetch_bytes(&weights_url).await.map_err(js_err)?;
        let (model, manifest) = load_model(&manifest_json, &weights, &self.device)
            .map_err(|e| js_err(format!("cannot load the model from {manifest_url}: {e}")))?;
        self.cancel();
        #[cfg(feature = "fused")]
        if let Some(gpu) = &self.kernels.gpu {
            // The kernels' weights are packed on the CPU (a WebGPU tensor cannot be read
            // synchronously): the same bytes, loaded once more on flex.
            let (cpu_model, _) = load_model(&manifest_json, &weights, &Device::flex())
                .map_err(|e| js_err(format!("cannot load the model from {manifest_url}: {e}")))?;
            // A model the kernels cannot hold runs on burn's ops instead.
            *self.kernels.model.borrow_mut() = crate::fused::FusedModel::new(gpu, &cpu_model).ok();
        }
        *self.canvas.borrow_mut() = None;
        *self.model.borrow_mut() = Some(model);
        to_js(&ModelInfo::of(&manifest))
    }

    /// Sets the canvas: `pixels` are level indices [C, H, W] (values at unknown pixels are
    /// ignored), `known` is [H, W] with 1 = keep, 0 = generate.
    #[wasm_bindgen(js_name = setCanvas)]
    pub fn set_canvas(&self, pixels: &[u8], known: &[u8]) -> Result<(), JsError> {
        let config = self.config().map_err(js_err)?;
        let want = config.values_per_image();
        let want_known = config.height * config.width;
        if pixels.len() != want {
            return Err(js_err(format!(
                "setCanvas: expected {want} pixel values ({}×{}×{}), got {}",
                config.channels,
                config.height,
                config.width,
                pixels.len()
            )));
        }
        if known.len() != want_known {
            return Err(js_err(format!(
                "setCanvas: expected {want_known} mask values ({}×{}), got {}",
                config.height,
                config.width,
                known.len()
            )));
        }
        check_levels(pixels, &config, "setCanvas")?;
        let levels = pixels.iter().map(|&v| v as f32).collect();
        let known = known.iter().map(|&k| k != 0).collect();
        *self.canvas.borrow_mut() = Some((levels, known));
        Ok(())
    }

    /// Starts a completion of the canvas (replacing any in progress). Drive it with `step`.
    /// Returns its plan: the backend, the generation order, the pool.
    #[wasm_bindgen(unchecked_return_type = "Plan")]
    pub fn start(
        &self,
        #[wasm_bindgen(unchecked_param_type = "StartOptions | undefined")] options: JsValue,
    ) -> Result<JsValue, JsError> {
        let options: StartOptions = parse_options(options, "start")?;
        let config = self.config().map_err(js_err)?;
        let order = options.checked_order(config.orders).map_err(js_err)?;
        let batch = options.checked_alternatives().map_err(js_err)?;
        let seed = options.checked_seed().map_err(js_err)?;
        let candidates = options.checked_candidates().map_err(js_err)?;
        let (levels, known) = self
            .canvas
            .borrow()
            .clone()
            .ok_or_else(|| js_err("start: call setCanvas first"))?;
        let temperature = options.temperature.unwrap_or(1.0);
        let sampler = options.sampler.unwrap_or_default();
        let mask = known.clone();
        let begun = if let Some(candidates) = candidates {
            self.start_pool(
                ImportanceRequest {
                    levels,
                    known,
                    alternatives: batch,
                    candidates,
                    temperature,
                    seed,
                    label: options.label,
                    order,
                    share: options.share.map(|s| PoolShare {
                        first: s.first,
                        count: s.count,
                    }),
                },
                sampler,
            )?
        } else {
            if options.share.is_some() {
                return Err(js_err(
                    "start: share is a part of a pool of candidates: give candidates too",
                ));
            }
            let order = order.unwrap_or_else(|| {
                crate::order::choose(&known, config.height, config.width, config.orders)
            });
            let request =
                SampleRequest::repeated(&levels, &known, batch, temperature, seed, options.label)
                    .in_order(&config, order);
            self.begin(request, sampler, order)?
        };
        to_js(&Plan {
            backend: self.backend,
            order: begun.order.name(),
            order_index: begun.order.index(),
            candidates: begun.candidates,
            ranked: begun.ranked,
            pool_units: begun.pool_units,
            generated: begun
                .order
                .hidden_in_order(&mask, config.height, config.width),
        })
    }

    /// Advances the completion by up to `pixels` pixels, then reads the canvas back.
    #[wasm_bindgen(unchecked_return_type = "Frame")]
    pub async fn step(&self, pixels: usize) -> Result<JsValue, JsError> {
        to_js(&self.next_frame(pixels).await?)
    }

    /// For a pool shared by several engines (`share` in `start`): chooses the alternatives
    /// from the log-weights of the whole pool, every share's in pool order; the next `step`
    /// returns the ones this engine holds, with their ranks.
    pub fn choose(&self, log_weights: &[f32]) -> Result<(), JsError> {
        match self.job.borrow_mut().as_mut().map(|j| &mut j.run) {
            Some(Run::Importance(c)) if c.awaiting_choice() => {
                c.choose(log_weights).map_err(|e| js_err(e.to_string()))
            }
            #[cfg(feature = "fused")]
            Some(Run::Fused(c)) if c.awaiting_choice() => {
                c.choose(log_weights).map_err(|e| js_err(e.to_string()))
            }
            _ => Err(js_err(
                "choose: no completion waits for a choice (start one with a share of the pool and step until its frame has logWeights)",
            )),
        }
    }

    /// Per-value surprise of complete images: `pixels` are level indices [B, C, H, W]
    /// (B ≥ 1 whole images); returns −log p(x_i | x_<i) in nats, [B, C, H, W], where x_<i are
    /// the values before x_i in generation order `order` (an index into `ModelInfo.orders`;
    /// default 0, raster order). Their sum over an image is its negative log-likelihood in
    /// that order.
    pub async fn score(
        &self,
        pixels: &[u8],
        #[wasm_bindgen(unchecked_param_type = "number | null | undefined")] label: Option<f64>,
        #[wasm_bindgen(unchecked_param_type = "number | null | undefined")] order: Option<f64>,
    ) -> Result<Vec<f32>, JsError> {
        let config = self.config().map_err(js_err)?;
        let size = config.values_per_image();
        if pixels.is_empty() || !pixels.len().is_multiple_of(size) {
            return Err(js_err(format!(
                "score: expected whole images of {size} values ({}×{}×{}), got {}",
                config.channels,
                config.height,
                config.width,
                pixels.len()
            )));
        }
        check_levels(pixels, &config, "score")?;
        let order = match order {
            None => Order::IDENTITY,
            Some(o) if o.fract() == 0.0 && o >= 0.0 && (o as usize) < config.orders => {
                Order::new(o as usize).unwrap_or(Order::IDENTITY)
            }
            Some(o) => {
                return Err(js_err(format!(
                    "score: order must be an integer in 0..{} for this model, got {o}",
                    config.orders
                )));
            }
        };
        let batch = pixels.len() / size;
        let labels = match label {
            None => None,
            Some(l) if l.fract() == 0.0 && l >= 0.0 && (l as usize) < config.classes => {
                Some(vec![l as i64; batch])
            }
            Some(l) => {
                return Err(js_err(format!(
                    "score: label must be an integer in 0..{} for this model, got {l}",
                    config.classes
                )));
            }
        };
        let model = self.model().map_err(js_err)?;
        let device = &self.device;
        let (h, w) = (config.height, config.width);
        let levels: Vec<i64> = order
            .to_frame(pixels, h, w)
            .into_iter()
            .map(i64::from)
            .collect();
        let levels = Tensor::<4, Int>::from_data(
            TensorData::new(
                levels,
                [batch, config.channels, config.height, config.width],
            ),
            device,
        );
        let labels =
            labels.map(|l| Tensor::<1, Int>::from_data(TensorData::new(l, [batch]), device));
        let orders = Condition::one_order(&config, order.index(), device);
        let surprise = model.log_probs(levels, &Condition { labels, orders }).neg();
        let data = surprise
            .into_data_async()
            .await
            .map_err(|e| js_err(format!("score: reading back failed: {e}")))?;
        let framed = data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| js_err(format!("score: {e:?}")))?;
        Ok(order.from_frame(&framed, h, w))
    }

    /// Runs the completion to the end (for a share of a pool: until its log-weights are out)
    /// and returns the last frame.
    #[wasm_bindgen(unchecked_return_type = "Frame")]
    pub async fn sample(&self) -> Result<JsValue, JsError> {
        loop {
            let frame = self.next_frame(usize::MAX).await?;
            if frame.finished || frame.cancelled || frame.phase == Phase::Choosing {
                return to_js(&frame);
            }
        }
    }

    /// Drops the completion in progress; a `step` awaiting its readback returns `cancelled`.
    pub fn cancel(&self) {
        self.generation.set(self.generation.get() + 1);
        if self.job.borrow_mut().take().is_some() {
            self.cancelled_job.set(true);
        }
    }
}

impl Engine {
    /// `step`'s frame: the completion advanced by up to `pixels` pixels (see
    /// [`step_pixels`]), its canvas read back.
    async fn next_frame(&self, pixels: usize) -> Result<Frame, JsError> {
        let generation = self.generation.get();
        if self.job.borrow().is_none() && self.cancelled_job.get() {
            return Ok(Frame::stale());
        }
        let pixels = match self.job.borrow().as_ref() {
            Some(job) => {
                let (done, total, ranked) = job.run.progress();
                step_pixels(pixels, done, total, ranked)
            }
            None => pixels,
        };
        #[cfg(feature = "fused")]
        if matches!(
            self.job.borrow().as_ref().map(|j| &j.run),
            Some(Run::Fused(_))
        ) {
            return self.step_fused(pixels, generation).await;
        }
        let (pending_weights, shared) = self.advance(pixels)?;
        let log_weights = match pending_weights {
            Some(weights) => self.settle_weights(weights, shared, generation).await?,
            None => None,
        };
        if self.generation.get() != generation {
            return Ok(Frame::stale());
        }
        let frame = self.read_frame(shared, log_weights).await?;
        Ok(Frame {
            cancelled: self.generation.get() != generation,
            ..frame
        })
    }

    /// Steps the (unfused) completion by `pixels`; returns its pool's log-weights once they
    /// are out, and whether the pool is shared with other engines.
    fn advance(&self, pixels: usize) -> Result<(Option<Tensor<1>>, bool), JsError> {
        let mut job = self.job.borrow_mut();
        let job = job
            .as_mut()
            .ok_or_else(|| js_err("step: no completion in progress (call start first)"))?;
        if let Some(completion) = job.run.completion() {
            completion.step(pixels.max(1));
        }
        Ok(match &job.run {
            Run::Importance(c) => (c.log_weights(), c.is_shared()),
            _ => (None, false),
        })
    }

    /// Reads the pool's log-weights back: a shared pool hands them to the page (the other
    /// shares' come with `choose`), a whole one chooses its alternatives from them.
    async fn settle_weights(
        &self,
        weights: Tensor<1>,
        shared: bool,
        generation: u64,
    ) -> Result<Option<Vec<f32>>, JsError> {
        let weights = read_floats(weights).await.map_err(js_err)?;
        if shared {
            return Ok(Some(weights));
        }
        if self.generation.get() == generation
            && let Some(Job {
                run: Run::Importance(c),
            }) = self.job.borrow_mut().as_mut()
        {
            c.choose(&weights).map_err(js_err)?;
        }
        Ok(None)
    }

    /// The frame of the (unfused) completion as it stands, its canvas read back.
    async fn read_frame(
        &self,
        shared: bool,
        log_weights: Option<Vec<f32>>,
    ) -> Result<Frame, JsError> {
        let (canvas, (done, total, ranked), scores, ranks) = {
            let mut job = self.job.borrow_mut();
            let job = job
                .as_mut()
                .ok_or_else(|| js_err("step: no completion in progress (call start first)"))?;
            let (scores, ranks) = match &job.run {
                Run::Importance(c) => (
                    c.scores().map(<[f64]>::to_vec),
                    c.ranks().filter(|_| shared).map(<[usize]>::to_vec),
                ),
                _ => (None, None),
            };
            let progress = job.run.progress();
            let completion = job
                .run
                .completion()
                .ok_or_else(|| js_err("step: the completion changed backend"))?;
            (completion.canvas(), progress, scores, ranks)
        };
        // A share that holds none of the chosen alternatives has nothing to show.
        let (pixels, batch) = match &ranks {
            Some(r) if r.is_empty() => (Vec::new(), 0),
            _ => {
                let batch = canvas.dims()[0];
                (read_levels(canvas).await.map_err(js_err)?, batch)
            }
        };
        let shown = Shown {
            batch,
            pixels,
            scores,
            ranks,
            log_weights,
        };
        Ok(Frame::new(done, total, ranked, shown))
    }

    fn config(&self) -> Result<PixelCnnConfig, String> {
        self.model().map(|m| m.config)
    }

    /// The loaded model (a cheap handle: its tensors are shared).
    fn model(&self) -> Result<PixelCnn, String> {
        self.model
            .borrow()
            .clone()
            .ok_or_else(|| "no model loaded (call loadModel first)".to_string())
    }

    /// Installs a plain sampler for `request` (in `order`'s frame).
    fn begin(
        &self,
        request: SampleRequest,
        sampler: SamplerName,
        order: Order,
    ) -> Result<Begun, JsError> {
        let candidates = request.batch;
        let begun = |pool_units| Begun {
            order,
            candidates,
            ranked: false,
            pool_units,
        };
        #[cfg(feature = "fused")]
        if let Some(kernels) = self.kernels.model.borrow().as_ref()
            && sampler == SamplerName::Cached
        {
            let run = fused_run::FusedRun::plain(kernels, request, order).map_err(js_err)?;
            let units = run.progress().1;
            self.install(Run::Fused(Box::new(run)));
            return Ok(begun(units));
        }
        let model = self.model().map_err(js_err)?;
        let inner = make_sampler(sampler, &model, request, &self.device).map_err(js_err)?;
        let completion = Box::new(Framed { inner, order });
        let units = completion.progress().1;
        self.install(Run::Plain(completion));
        Ok(begun(units))
    }

    /// Installs an importance-resampled completion of `request`.
    fn start_pool(
        &self,
        request: ImportanceRequest,
        sampler: SamplerName,
    ) -> Result<Begun, JsError> {
        let model = self.model().map_err(js_err)?;
        #[cfg(feature = "fused")]
        if let Some(kernels) = self.kernels.model.borrow().as_ref()
            && sampler == SamplerName::Cached
        {
            let plan = crate::importance::PoolPlan::new(&model, request)
                .map_err(|e| js_err(format!("start: {e}")))?;
            let (order, candidates, ranked) = (plan.order, plan.pool_size, plan.ranked);
            let run = fused_run::FusedRun::pool(kernels, plan).map_err(js_err)?;
            let pool_units = run.progress().1;
            self.install(Run::Fused(Box::new(run)));
            return Ok(Begun {
                order,
                candidates,
                ranked,
                pool_units,
            });
        }
        // Without the fused kernels a pool always runs the cached sampler.
        #[cfg(not(feature = "fused"))]
        let _ = sampler;
        let completion = ImportanceCompletion::new(&model, request, &self.device)
            .map_err(|e| js_err(format!("start: {e}")))?;
        let begun = Begun {
            order: completion.order(),
            candidates: completion.candidates(),
            ranked: completion.ranked(),
            pool_units: completion.pool_units(),
        };
        self.install(Run::Importance(Box::new(completion)));
        Ok(begun)
    }

    /// `step` for a completion on the fused kernels: the same frames, read from the GPU.
    #[cfg(feature = "fused")]
    async fn step_fused(&self, pixels: usize, generation: u64) -> Result<Frame, JsError> {
        let stale = || self.generation.get() != generation;
        let with_run = |f: &mut dyn FnMut(&mut fused_run::FusedRun)| {
            if let Some(Job {
                run: Run::Fused(run),
            }) = self.job.borrow_mut().as_mut()
            {
                f(run);
            }
        };
        let mut weights_read = None;
        with_run(&mut |run| {
            run.step(pixels.max(1));
            weights_read = run.wants_weights().then(|| run.read_weights());
        });
        let mut log_weights = None;
        if let Some(read) = weights_read {
            let weights = read.await.map_err(js_err)?.unwrap_or_default();
            if stale() {
                return Ok(Frame::stale());
            }
            let mut chosen = Ok(());
            with_run(&mut |run| {
                if run.is_shared() {
                    run.await_choice();
                    log_weights = Some(weights.clone());
                } else {
                    chosen = run.choose(&weights);
                }
            });
            chosen.map_err(js_err)?;
        }
        let mut canvas_read = None;
        with_run(&mut |run| canvas_read = Some(run.read_canvas()));
        let canvas = canvas_read
            .ok_or_else(|| js_err("step: no completion in progress (call start first)"))?
            .await
            .map_err(js_err)?;
        if stale() {
            return Ok(Frame::stale());
        }
        let config = self.config().map_err(js_err)?;
        let mut frame = None;
        with_run(&mut |run| {
            let (done, total) = run.progress();
            let shown = Shown {
                log_weights: log_weights.clone(),
                ..run.frame(&canvas, config.height, config.width)
            };
            frame = Some(Frame::new(done, total, run.ranked(), shown));
        });
        Ok(frame.unwrap_or_else(Frame::stale))
    }

    /// Replaces any completion in progress by `run`.
    fn install(&self, run: Run) {
        self.cancel();
        self.cancelled_job.set(false);
        *self.job.borrow_mut() = Some(Job { run });
    }
}

/// Every pixel value must be a level of the model (0..K−1).
fn check_levels(pixels: &[u8], config: &PixelCnnConfig, method: &str) -> Result<(), JsError> {
    match pixels.iter().find(|&&v| v as usize >= config.levels) {
        Some(v) => Err(js_err(format!(
            "{method}: pixel value {v} is outside 0..{}",
            config.levels - 1
        ))),
        None => Ok(()),
    }
}
