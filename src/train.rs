//! Training loop: Adam, cosine learning-rate decay, label dropout for classifier-free use,
//! progress bar, periodic resumable checkpoints, deterministic seed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::config::PixelCnnConfig;
use crate::data::Dataset;
use crate::model::{Condition, PixelCnn};
use crate::order::Order;
use crate::sample::uniform;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The learning-rate schedule; on resume, the checkpoint's unless given anew.
    pub schedule: Option<Schedule>,
    pub batch_size: usize,
    /// Probability of replacing a label by "no class" so one model also samples unconditionally.
    pub label_dropout: f64,
    /// Draw fresh bits from the grey values every epoch (binarized sets with an 8-bit source).
    pub resample_binarization: bool,
    pub seed: u64,
    pub checkpoint_dir: PathBuf,
    /// Wall-clock seconds between checkpoints (one is also written at the end).
    pub checkpoint_seconds: f64,
    pub resume: bool,
    /// Stop (and checkpoint) after this much wall time, whatever the schedule says.
    pub max_seconds: Option<f64>,
    /// Recorded in the checkpoint's training history, e.g. "cpu (burn flex, 2 threads)".
    pub device_name: String,
    /// Threads that each take a share of every batch, forward and backward, on their own copy
    /// of the parameters; their gradients are summed before the Adam step. On the CPU, flex
    /// runs most element-wise ops on one core, so a second worker keeps the second core busy.
    /// Use 1 on a GPU.
    pub workers: usize,
    /// Validation images scored at each checkpoint (0: none).
    pub validation_images: usize,
    /// Also keep each checkpoint's weights and state in `snapshots/step-N` of the checkpoint
    /// folder, for `pixelcnn average`.
    pub keep_snapshots: bool,
    /// Validation images (the first ones) whose NLL under the mixture of the model's orders
    /// is scored at each checkpoint, for a model with several orders (0: none). It costs one
    /// pass per order.
    pub mixture_validation_images: usize,
    /// Start a new run from another run's checkpoint folder: its weights, optimizer state,
    /// progress and schedule, with what `config` adds to its model (order biases, zero).
    /// Ignored when the checkpoint folder has a checkpoint to resume.
    pub init_from: Option<PathBuf>,
    /// Show each training image mirrored left to right with probability ½, drawn per image
    /// and epoch (augmentation for sets whose mirror images are as plausible as they are).
    pub mirror: bool,
    /// For a model with several orders: the share of training images seen in the identity
    /// order, the others spread evenly over the rest (None: every order equally often). A
    /// larger share spends more of the network on the order that every figure is quoted in.
    pub identity_share: Option<f64>,
}

/// Learning rate as a function of the training images seen, over the whole planned run:
/// a linear warm-up, then one cosine from `learning_rate` down to 5 % of it at `total_epochs`.
/// A resumed run continues the same curve, whatever its time budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub learning_rate: f64,
    /// Epochs planned in all; training stops there.
    pub total_epochs: f64,
    pub warmup_images: usize,
}

impl Schedule {
    pub fn new(learning_rate: f64, total_epochs: f64) -> Self {
        Self {
            learning_rate,
            total_epochs,
            warmup_images: 6_400,
        }
    }

    pub fn total_images(&self, train_len: usize) -> usize {
        (self.total_epochs * train_len as f64).ceil() as usize
    }

    /// The rate for the step that starts at image `images`.
    pub fn rate(&self, images: usize, train_len: usize) -> f64 {
        let total = self.total_images(train_len).max(1) as f64;
        let warmup = (self.warmup_images as f64).min(total / 10.0).max(1.0);
        let ramp = ((images as f64 + 1.0) / warmup).min(1.0);
        let progress = (images as f64 / total).min(1.0);
        let cosine = 0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.learning_rate * ramp * cosine
    }
}

/// Progress saved next to each checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainState {
    pub step: usize,
    /// Training images seen. Positions in the data are counted in images, not steps, so a run
    /// may resume with another batch size. Checkpoints written before this field existed
    /// resume at `step` × the new batch size.
    #[serde(default)]
    pub images: usize,
    pub train_seconds: f64,
    pub config: Option<PixelCnnConfig>,
    /// One entry per device a run trained on, in order (a resumed run on the same device
    /// extends the last entry).
    #[serde(default)]
    pub history: Vec<TrainSegment>,
    /// The learning-rate schedule the run follows.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// When the weights are the mean of several checkpoints of the run (`pixelcnn average`):
    /// the epoch of each. Such a checkpoint has no optimizer state and cannot be resumed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub averaged_epochs: Vec<f64>,
}

/// Training done on one device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainSegment {
    pub device: String,
    pub images: usize,
    pub seconds: f64,
}

impl TrainState {
    fn record(&mut self, device: &str, images: usize, seconds: f64) {
        match self.history.last_mut() {
            Some(last) if last.device == device => {
                last.images += images;
                last.seconds += seconds;
            }
            _ => self.history.push(TrainSegment {
                device: device.to_string(),
                images,
                seconds,
            }),
        }
    }
}

/// The manifest's `device` field: the device, or each device with its share of the training.
pub fn describe_history(history: &[TrainSegment], train_len: usize) -> String {
    match history {
        [only] => only.device.clone(),
        _ => history
            .iter()
            .map(|s| {
                format!(
                    "{}: {:.2} epochs in {:.0} s",
                    s.device,
                    s.images as f64 / train_len as f64,
                    s.seconds
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

pub struct TrainOutcome {
    pub model: PixelCnn,
    pub history: Vec<TrainSegment>,
    pub epochs: f64,
    pub train_seconds: f64,
    pub images_per_second: f64,
    /// (images seen before the step, learning rate) for every step of this run.
    pub rates: Vec<(usize, f64)>,
    /// Mean training loss (nats per image) of every step of this run.
    pub losses: Vec<f64>,
    /// Whether the run reached the schedule's planned total (false when the time budget
    /// stopped it first).
    pub completed: bool,
}

/// One line of the training curve, appended to `curve.csv` in the checkpoint folder at every
/// checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    pub images: usize,
    pub epoch: f64,
    pub learning_rate: f64,
    /// Mean training loss since the previous point, nats per image.
    pub train_nll: f64,
    /// NLL on the validation images (identity order), nats per image; NaN when none were
    /// scored.
    pub valid_nll: f64,
    /// NLL of the mixture over the model's orders on the first
    /// [`TrainOptions::mixture_validation_images`]; NaN when not scored.
    pub valid_mixture_nll: f64,
}

impl CurvePoint {
    /// The log line of the checkpoint at `step` of a model with `orders` orders.
    fn describe(&self, step: usize, orders: usize) -> String {
        let mut line = format!(
            "checkpoint at step {step}: epoch {:.3}, train {:.3} nats, validation {:.3} nats",
            self.epoch, self.train_nll, self.valid_nll
        );
        if !self.valid_mixture_nll.is_nan() {
            line += &format!(
                ", mixture of {orders} orders {:.3} nats",
                self.valid_mixture_nll
            );
        }
        line
    }
}

impl CurvePoint {
    pub const HEADER: &'static str =
        "images,epoch,learning_rate,train_nll,valid_nll,valid_mixture_nll";

    fn to_csv(&self) -> String {
        format!(
            "{},{:.4},{:.3e},{:.3},{:.3},{:.3}",
            self.images,
            self.epoch,
            self.learning_rate,
            self.train_nll,
            self.valid_nll,
            self.valid_mixture_nll
        )
    }

    /// Reads a curve file written by [`train`]; lines that do not parse are skipped.
    pub fn read_csv(text: &str) -> Vec<Self> {
        text.lines()
            .skip(1)
            .filter_map(|line| {
                let f: Vec<&str> = line.split(',').collect();
                Some(Self {
                    images: f.first()?.parse().ok()?,
                    epoch: f.get(1)?.parse().ok()?,
                    learning_rate: f.get(2)?.parse().ok()?,
                    train_nll: f.get(3)?.parse().ok()?,
                    valid_nll: f.get(4)?.parse().ok()?,
                    // Curves of raster-only runs have no such column.
                    valid_mixture_nll: f.get(5).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN),
                })
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("checkpoint error at `{path}`: {message}")]
    Checkpoint { path: String, message: String },
    #[error(transparent)]
    Config(#[from] crate::error::ConfigError),
    #[error("the training set is empty")]
    Empty,
    #[error(
        "no learning-rate schedule: pass --lr and --total-epochs (a new run, or a checkpoint made before schedules were stored)"
    )]
    NoSchedule,
}

fn checkpoint_error(path: &Path, message: impl ToString) -> TrainError {
    TrainError::Checkpoint {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Item order for one epoch: a seeded Fisher–Yates shuffle, reproducible across runs.
fn epoch_order(len: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        let j = (uniform(seed ^ 0x5EED, epoch, 1, i, 0) * (i + 1) as f64) as usize;
        order.swap(i, j.min(i));
    }
    order
}

/// What this run adds to the state it started from: its time and its images.
struct ThisRun {
    started: Instant,
    last_checkpoint: Instant,
    seconds_before: f64,
    images_before: usize,
    history_before: Vec<TrainSegment>,
}

impl ThisRun {
    fn new(state: &TrainState) -> Self {
        Self {
            started: Instant::now(),
            last_checkpoint: Instant::now(),
            seconds_before: state.train_seconds,
            images_before: state.images,
            history_before: state.history.clone(),
        }
    }

    /// Brings `state.train_seconds` up to now; returns this run's seconds so far.
    fn clock(&self, state: &mut TrainState) -> f64 {
        let run_seconds = self.started.elapsed().as_secs_f64();
        state.train_seconds = self.seconds_before + run_seconds;
        run_seconds
    }

    fn checkpoint_due(&self, every_seconds: f64) -> bool {
        self.last_checkpoint.elapsed().as_secs_f64() >= every_seconds
    }

    /// `state`'s history with this run's images and its `run_seconds` so far on `device`, for
    /// the checkpoint about to be written (the same seconds as `state.train_seconds`).
    fn record(&mut self, state: &mut TrainState, device: &str, run_seconds: f64) {
        self.last_checkpoint = Instant::now();
        state.history = self.history_before.clone();
        let images = state.images - self.images_before;
        state.record(device, images, run_seconds);
    }
}

/// The mean training loss since it was last taken.
#[derive(Default)]
struct MeanLoss {
    sum: f64,
    count: usize,
}

impl MeanLoss {
    fn add(&mut self, loss: f64) {
        self.sum += loss;
        self.count += 1;
    }

    fn take(&mut self) -> f64 {
        let mean = self.sum / self.count.max(1) as f64;
        *self = Self::default();
        mean
    }
}

/// The progress bar's message for a step whose loss is `nats` per image of `values` values.
fn step_line(epoch: f64, nats: f64, values: f64, images_per_second: f64, lr: f64) -> String {
    format!(
        "epoch {epoch:.2}  loss {nats:.2} nats ({:.4} bits/dim)  {images_per_second:.1} img/s  lr {lr:.2e}",
        nats / values / std::f64::consts::LN_2,
    )
}

/// Trains (or resumes) a model on `train_set`, scoring `validation` at every checkpoint.
pub fn train(
    config: &PixelCnnConfig,
    train_set: &Dataset,
    validation: Option<&Dataset>,
    device: &Device,
    options: &TrainOptions,
) -> Result<TrainOutcome, TrainError> {
    if train_set.is_empty() {
        return Err(TrainError::Empty);
    }
    let eval_device = device.clone();
    let device = device.clone().autodiff();
    device.seed(options.seed);
    let len = train_set.len();
    let (mut model, mut optim, mut state) = start_run(config, options, len, &device)?;
    let schedule = state.schedule.clone().ok_or(TrainError::NoSchedule)?;
    let checkpoints = Checkpoints::new(options);
    let batch = options.batch_size.min(len);
    let total_images = schedule.total_images(len);
    let total_steps = state.step + total_images.saturating_sub(state.images).div_ceil(batch);
    let mut progress = Progress::new(total_steps, state.step);
    let pixels = config.values_per_image() as f64;
    let mut this_run = ThisRun::new(&state);
    let (mut rates, mut losses) = (Vec::new(), Vec::new());
    let mut since_checkpoint = MeanLoss::default();
    let mut shuffles = EpochShuffles::new(len, options.seed);
    while state.images < total_images {
        let (indices, epochs) = shuffles.batch(state.images, batch);
        let lr = schedule.rate(state.images, len);
        rates.push((state.images, lr));
        let (grads, loss_value) =
            batch_gradients(&model, train_set, &indices, &epochs, options, &device);
        losses.push(loss_value);
        since_checkpoint.add(loss_value);
        model = optim.step(lr, model, grads);
        state.step += 1;
        state.images += batch;
        progress.advance(&state, batch, total_images, |images_per_second| {
            let epoch = state.images as f64 / len as f64;
            step_line(epoch, loss_value, pixels, images_per_second, lr)
        });
        let run_seconds = this_run.clock(&mut state);
        let out_of_time = options.max_seconds.is_some_and(|max| run_seconds >= max);
        let finished = state.images >= total_images;
        if this_run.checkpoint_due(options.checkpoint_seconds) || finished || out_of_time {
            this_run.record(&mut state, &options.device_name, run_seconds);
            let (valid_nll, valid_mixture_nll) =
                validate(&model.valid(), validation, options, &eval_device);
            let point = CurvePoint {
                images: state.images,
                epoch: state.images as f64 / len as f64,
                learning_rate: lr,
                train_nll: since_checkpoint.take(),
                valid_nll,
                valid_mixture_nll,
            };
            checkpoints.save(&model, &optim, &state, &point)?;
            progress.line(point.describe(state.step, config.orders));
        }
        if out_of_time {
            progress.line(format!("time budget reached at step {}", state.step));
            break;
        }
    }
    progress.finish();
    Ok(TrainOutcome {
        model: model.valid(),
        history: state.history,
        epochs: state.images as f64 / len as f64,
        train_seconds: state.train_seconds,
        images_per_second: progress.images_per_second,
        rates,
        losses,
        completed: state.images >= total_images,
    })
}

/// A fresh model, optimizer and state for `config`, or those of the checkpoint the run
/// resumes (or starts from, with `init_from`); the schedule given replaces the stored one.
fn start_run(
    config: &PixelCnnConfig,
    options: &TrainOptions,
    len: usize,
    device: &Device,
) -> Result<(PixelCnn, burn::optim::ModuleOptimizer, TrainState), TrainError> {
    let mut model = PixelCnn::new(config, device)?;
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let mut state = TrainState {
        config: Some(config.clone()),
        ..Default::default()
    };
    let resuming = options.resume && options.checkpoint_dir.join("state.json").exists();
    let source = match (&options.init_from, resuming) {
        (_, true) => Some(options.checkpoint_dir.as_path()),
        (Some(dir), false) => Some(dir.as_path()),
        (None, false) => None,
    };
    if let Some(dir) = source {
        (model, optim, state) = restore(dir, config, model, optim, options.batch_size)?;
        eprintln!(
            "{} step {} of {} ({:.2} epochs, {:.0} s trained)",
            if resuming {
                "resumed from"
            } else {
                "started from"
            },
            state.step,
            dir.display(),
            state.images as f64 / len as f64,
            state.train_seconds
        );
    }
    if let Some(schedule) = &options.schedule {
        state.schedule = Some(schedule.clone());
    }
    Ok((model, optim, state))
}

/// Each epoch's shuffle of the training set, in order: where every batch's images come from.
struct EpochShuffles {
    len: usize,
    seed: u64,
    epoch: usize,
    order: Vec<usize>,
}

impl EpochShuffles {
    fn new(len: usize, seed: u64) -> Self {
        Self {
            len,
            seed,
            epoch: usize::MAX,
            order: Vec::new(),
        }
    }

    /// The images of the batch that starts at image `from` of the run, with each one's epoch
    /// (a batch may straddle two epochs, each with its own shuffle and its own bits).
    fn batch(&mut self, from: usize, batch: usize) -> (Vec<usize>, Vec<usize>) {
        (from..from + batch)
            .map(|position| {
                if position / self.len != self.epoch {
                    self.epoch = position / self.len;
                    self.order = epoch_order(self.len, self.seed, self.epoch);
                }
                (self.order[position % self.len], self.epoch)
            })
            .unzip()
    }
}

/// The progress bar, or (when stderr is not a terminal, where the bar is invisible) a plain
/// line every 250 steps, with the images per second of the last 25 steps.
struct Progress {
    bar: ProgressBar,
    plain: bool,
    total_steps: usize,
    window_start: Instant,
    window_images: usize,
    images_per_second: f64,
}

impl Progress {
    fn new(total_steps: usize, step: usize) -> Self {
        let bar = ProgressBar::new(total_steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(step as u64);
        Self {
            bar,
            plain: !std::io::IsTerminal::is_terminal(&std::io::stderr()),
            total_steps,
            window_start: Instant::now(),
            window_images: 0,
            images_per_second: 0.0,
        }
    }

    /// A step of `batch` images is done; `message(images per second)` is shown every 25
    /// steps and at the end.
    fn advance(
        &mut self,
        state: &TrainState,
        batch: usize,
        total_images: usize,
        message: impl FnOnce(f64) -> String,
    ) {
        self.window_images += batch;
        if state.step.is_multiple_of(25) || state.images >= total_images {
            let elapsed = self.window_start.elapsed().as_secs_f64();
            if elapsed > 0.0 {
                self.images_per_second = self.window_images as f64 / elapsed;
            }
            self.window_start = Instant::now();
            self.window_images = 0;
            let message = message(self.images_per_second);
            if self.plain && state.step.is_multiple_of(250) {
                eprintln!("step {}/{}  {message}", state.step, self.total_steps);
            }
            self.bar.set_message(message);
        }
        self.bar.set_position(state.step as u64);
    }

    fn line(&self, line: String) {
        if self.plain {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    fn finish(&self) {
        self.bar.finish();
    }
}

/// Writes a run's checkpoints: optimizer state, weights and progress, the curve.
struct Checkpoints<'a> {
    options: &'a TrainOptions,
    optim: PathBuf,
    curve: PathBuf,
}

impl<'a> Checkpoints<'a> {
    fn new(options: &'a TrainOptions) -> Self {
        Self {
            options,
            optim: options.checkpoint_dir.join("optim.bpk"),
            curve: options.checkpoint_dir.join("curve.csv"),
        }
    }

    fn save(
        &self,
        model: &PixelCnn,
        optim: &burn::optim::ModuleOptimizer,
        state: &TrainState,
        point: &CurvePoint,
    ) -> Result<(), TrainError> {
        let dir = &self.options.checkpoint_dir;
        std::fs::create_dir_all(dir).map_err(|e| checkpoint_error(dir, e))?;
        // The state goes last, so it never names progress whose weights are not on disk.
        optim
            .save(&self.optim)
            .map_err(|e| checkpoint_error(&self.optim, format!("{e:?}")))?;
        save_weights_checkpoint(dir, model, state)?;
        if self.options.keep_snapshots {
            let snapshot = dir
                .join("snapshots")
                .join(format!("step-{:06}", state.step));
            save_weights_checkpoint(&snapshot, model, state)?;
        }
        append_curve(&self.curve, point)
    }
}

/// The model, optimizer and progress of the checkpoint in `dir`, for a run of `config`:
/// the checkpoint's own run resumed, or (when its model has fewer orders than `config`) a new
/// run that starts from it with zero order biases added. `model` and `optim` are fresh ones
/// of `config` to load into.
fn restore(
    dir: &Path,
    config: &PixelCnnConfig,
    model: PixelCnn,
    optim: burn::optim::ModuleOptimizer,
    batch_size: usize,
) -> Result<(PixelCnn, burn::optim::ModuleOptimizer, TrainState), TrainError> {
    let state_path = dir.join("state.json");
    let model_path = dir.join("model.bpk");
    let optim_path = dir.join("optim.bpk");
    let json =
        std::fs::read_to_string(&state_path).map_err(|e| checkpoint_error(&state_path, e))?;
    let mut state: TrainState =
        serde_json::from_str(&json).map_err(|e| checkpoint_error(&state_path, e))?;
    if !state.averaged_epochs.is_empty() {
        return Err(checkpoint_error(
            &state_path,
            "this checkpoint holds the mean of several checkpoints and no optimizer state: resume from the run's own checkpoint folder instead",
        ));
    }
    let saved = state
        .config
        .clone()
        .ok_or_else(|| checkpoint_error(&state_path, "the checkpoint names no model config"))?;
    let same_but_orders = PixelCnnConfig {
        orders: config.orders,
        ..saved.current()
    } == config.current();
    if !same_but_orders || saved.orders > config.orders {
        return Err(checkpoint_error(
            &state_path,
            "checkpoint was made with another model config",
        ));
    }
    let device = model.head_out.weight.val().device();
    let model = if saved.orders == config.orders {
        model
            .try_load_file(&model_path)
            .map_err(|e| checkpoint_error(&model_path, format!("{e:?}")))?
    } else {
        PixelCnn::new(&saved, &device)?
            .try_load_file(&model_path)
            .map_err(|e| checkpoint_error(&model_path, format!("{e:?}")))?
            .with_orders(config.orders)?
    };
    let optim = optim
        .load(&optim_path)
        .map_err(|e| checkpoint_error(&optim_path, format!("{e:?}")))?;
    if state.images == 0 {
        state.images = state.step * batch_size;
    }
    state.config = Some(config.clone());
    Ok((model, optim, state))
}

/// Validation NLL (identity order) of `model` on the first
/// [`TrainOptions::validation_images`], and that of its orders' mixture on the first
/// [`TrainOptions::mixture_validation_images`]; NaN for what is not scored.
fn validate(
    model: &PixelCnn,
    validation: Option<&Dataset>,
    options: &TrainOptions,
    device: &Device,
) -> (f64, f64) {
    let Some(set) = validation else {
        return (f64::NAN, f64::NAN);
    };
    let identity = if options.validation_images > 0 {
        let set = set.clone().truncate(options.validation_images);
        evaluate(model, &set, 100, options.workers, device, false)
    } else {
        f64::NAN
    };
    let mixture = if model.config.orders > 1 && options.mixture_validation_images > 0 {
        let set = set.clone().truncate(options.mixture_validation_images);
        evaluate_orders(model, &set, 100, options.workers, device, false).mixture
    } else {
        f64::NAN
    };
    (identity, mixture)
}

/// Writes a checkpoint's weights and progress (model.bpk, then state.json): the part of every
/// checkpoint that `pixelcnn export` and `pixelcnn average` read, and all of a snapshot or an
/// averaged checkpoint, which have no optimizer state.
pub fn save_weights_checkpoint(
    dir: &Path,
    model: &PixelCnn,
    state: &TrainState,
) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| checkpoint_error(dir, e))?;
    let model_path = dir.join("model.bpk");
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| checkpoint_error(&model_path, format!("{e:?}")))?;
    let state_path = dir.join("state.json");
    let json = serde_json::to_string_pretty(state).map_err(|e| checkpoint_error(&state_path, e))?;
    std::fs::write(&state_path, json).map_err(|e| checkpoint_error(&state_path, e))
}

/// The model and progress saved in a checkpoint folder.
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<(PixelCnn, TrainState), TrainError> {
    let state_path = dir.join("state.json");
    let model_path = dir.join("model.bpk");
    let json =
        std::fs::read_to_string(&state_path).map_err(|e| checkpoint_error(&state_path, e))?;
    let state: TrainState =
        serde_json::from_str(&json).map_err(|e| checkpoint_error(&state_path, e))?;
    let config = state
        .config
        .clone()
        .ok_or_else(|| checkpoint_error(&state_path, "the checkpoint names no model config"))?;
    let model = PixelCnn::new(&config, device)?
        .try_load_file(&model_path)
        .map_err(|e| checkpoint_error(&model_path, format!("{e:?}")))?;
    Ok((model, state))
}

fn append_curve(path: &Path, point: &CurvePoint) -> Result<(), TrainError> {
    use std::io::Write;
    let fresh = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| checkpoint_error(path, e))?;
    if fresh {
        writeln!(file, "{}", CurvePoint::HEADER).map_err(|e| checkpoint_error(path, e))?;
    }
    writeln!(file, "{}", point.to_csv()).map_err(|e| checkpoint_error(path, e))
}

/// Gradients of the mean NLL over one batch (items `indices`, item j in epoch `epochs[j]`),
/// and that mean in nats per image. The batch is split over `options.workers` threads (see
/// [`TrainOptions::workers`]); the shards' gradients are summed, so any number of workers gives
/// the gradients of the whole batch. `device` is the autodiff device the model lives on.
pub fn batch_gradients(
    model: &PixelCnn,
    set: &Dataset,
    indices: &[usize],
    epochs: &[usize],
    options: &TrainOptions,
    device: &Device,
) -> (GradientsParams, f64) {
    let batch = indices.len();
    let shard = batch.div_ceil(options.workers.clamp(1, batch.max(1)));
    let shards: Vec<(&[usize], &[usize])> =
        indices.chunks(shard).zip(epochs.chunks(shard)).collect();
    let shard_gradients = |(shard, shard_epochs): (&[usize], &[usize]), model: &PixelCnn| {
        let (images, condition) =
            training_batch(&model.config, set, shard, shard_epochs, options, device);
        // Summed over the shard, divided by the whole batch: the shards' gradients add up
        // to the batch mean's.
        let loss = model.nll(images, &condition).sum() / batch as f64;
        let value = f64::from(loss.clone().into_scalar::<f32>());
        (GradientsParams::from_grads(loss.backward(), model), value)
    };
    let results: Vec<(GradientsParams, f64)> = if shards.len() == 1 {
        vec![shard_gradients(shards[0], model)]
    } else {
        // Each worker gets its own copy of the parameters (`fork`), hence its own autodiff
        // graph: a graph shared through the parameter leaves would serialize the backward
        // passes behind one lock.
        let work = &shard_gradients;
        in_parallel(shards.iter().map(|&shard| {
            let replica = model.clone().fork(device);
            move || work(shard, &replica)
        }))
    };
    let loss: f64 = results.iter().map(|(_, v)| v).sum();
    let mut accumulator = GradientsAccumulator::<PixelCnn>::new();
    for (grads, _) in results {
        accumulator.accumulate(model, grads);
    }
    (accumulator.grads(), loss)
}

/// The generation order item `index` is seen in during `epoch` (seeded; the identity for a
/// raster-only model): uniform over the orders, or the identity with probability
/// `identity_share` and the other orders evenly otherwise.
pub fn training_order(
    config: &PixelCnnConfig,
    seed: u64,
    index: usize,
    epoch: usize,
    identity_share: Option<f64>,
) -> Order {
    let draw = uniform(seed ^ ORDER_SALT, epoch, 3, index, 0);
    let index = match identity_share {
        None => (draw * config.orders as f64) as usize,
        Some(share) if draw < share => 0,
        Some(share) => {
            let rest = (draw - share) / (1.0 - share);
            1 + (rest * (config.orders - 1) as f64) as usize
        }
    };
    Order::new(index.min(config.orders - 1)).unwrap_or(Order::IDENTITY)
}

/// Keeps the order draws apart from the other draws of the same seed.
const ORDER_SALT: u64 = 0x0DE2_5EED_F11B_7A05;

/// One shard of a training batch (items `indices`, item j in epoch `epochs[j]`): the images,
/// each in its drawn generation order, and what the gates are conditioned on. The items are
/// grouped by order, one transform per group: the loss sums over the images, so their place
/// in the batch does not matter.
fn training_batch(
    config: &PixelCnnConfig,
    set: &Dataset,
    indices: &[usize],
    epochs: &[usize],
    options: &TrainOptions,
    device: &Device,
) -> (Tensor<4, Int>, Condition) {
    let mut items: Vec<(Order, usize, usize)> = indices
        .iter()
        .zip(epochs)
        .map(|(&i, &epoch)| {
            (
                training_order(config, options.seed, i, epoch, options.identity_share),
                i,
                epoch,
            )
        })
        .collect();
    items.sort_by_key(|&(order, _, _)| order);
    let indices: Vec<usize> = items.iter().map(|&(_, i, _)| i).collect();
    let epochs: Vec<usize> = items.iter().map(|&(_, _, e)| e).collect();
    let (images, labels) = if options.resample_binarization {
        set.batch_drawn(&indices, &epochs, options.seed, device)
    } else {
        set.batch(&indices, device)
    };
    let labels = drop_labels(labels, &indices, &epochs, config.classes, options, device);
    let images = if options.mirror {
        mirrored(images, &indices, &epochs, options.seed, device)
    } else {
        images
    };
    if config.orders <= 1 {
        return (images, Condition::labels(labels));
    }
    let mut groups = Vec::new();
    let mut start = 0;
    for run in items.chunk_by(|a, b| a.0 == b.0) {
        groups.push(run[0].0.apply(images.clone().narrow(0, start, run.len())));
        start += run.len();
    }
    let orders: Vec<i64> = items.iter().map(|&(o, _, _)| o.index() as i64).collect();
    let orders = Tensor::from_data(TensorData::new(orders, [items.len()]), device);
    (
        Tensor::cat(groups, 0),
        Condition {
            labels,
            orders: Some(orders),
        },
    )
}

/// Images [B, C, H, W] with a seeded half of them mirrored left to right (item `indices[j]`
/// drawn for epoch `epochs[j]`).
pub fn mirrored(
    images: Tensor<4, Int>,
    indices: &[usize],
    epochs: &[usize],
    seed: u64,
    device: &Device,
) -> Tensor<4, Int> {
    let flips: Vec<bool> = indices
        .iter()
        .zip(epochs)
        .map(|(&i, &epoch)| uniform(seed ^ MIRROR_SALT, epoch, 4, i, 0) < 0.5)
        .collect();
    let shape = images.dims();
    let flips = Tensor::<1, Bool>::from_data(TensorData::new(flips, [shape[0]]), device)
        .reshape([shape[0], 1, 1, 1])
        .expand(shape);
    images.clone().mask_where(flips, images.flip([3]))
}

/// Keeps the mirror draws apart from the other draws of the same seed.
const MIRROR_SALT: u64 = 0x3122_0E5E_ED5F_11B5;

/// Replaces a seeded fraction of labels by the "no class" index (item j drawn for its epoch).
fn drop_labels(
    labels: Tensor<1, Int>,
    indices: &[usize],
    epochs: &[usize],
    classes: usize,
    options: &TrainOptions,
    device: &Device,
) -> Option<Tensor<1, Int>> {
    if classes == 0 {
        return None;
    }
    let keep: Vec<i64> = indices
        .iter()
        .zip(epochs)
        .map(|(&i, &epoch)| {
            i64::from(uniform(options.seed ^ 0xD209, epoch, 2, i, 0) >= options.label_dropout)
        })
        .collect();
    let keep = Tensor::<1, Int>::from_data(TensorData::new(keep, [indices.len()]), device);
    // label * keep + classes * (1 - keep)
    Some(labels * keep.clone() + (keep.neg() + 1) * classes as i64)
}

/// Mean test NLL in nats per image in the identity order, without labels (the unconditional
/// likelihood). `workers` threads each take a share of every batch (see
/// [`TrainOptions::workers`]).
pub fn evaluate(
    model: &PixelCnn,
    data: &Dataset,
    batch_size: usize,
    workers: usize,
    device: &Device,
    show_progress: bool,
) -> f64 {
    let [identity] = mean_over(data, batch_size, workers, show_progress, |shard| {
        let (images, _) = data.batch(shard, device);
        [f64::from(
            model
                .nll(images, &Condition::none())
                .sum()
                .into_scalar::<f32>(),
        )]
    });
    identity
}

/// Test NLL of a model with several generation orders, nats per image, without labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderNll {
    /// In the identity (raster) order: comparable with any raster-order model.
    pub identity: f64,
    /// Of the uniform mixture over the model's orders, −log(1/O Σ_o p_o(x)): a likelihood of
    /// the same model, never worse than the best single order by more than log O.
    pub mixture: f64,
}

/// [`evaluate`] in every order of the model and of their mixture (the identity alone for a
/// raster-only model, where both figures are the same).
pub fn evaluate_orders(
    model: &PixelCnn,
    data: &Dataset,
    batch_size: usize,
    workers: usize,
    device: &Device,
    show_progress: bool,
) -> OrderNll {
    let orders: Vec<Order> = Order::first(model.config.orders).collect();
    let [identity, mixture] = mean_over(data, batch_size, workers, show_progress, |shard| {
        let (images, _) = data.batch(shard, device);
        let per_order: Vec<Vec<f64>> = orders
            .iter()
            .map(|&order| {
                let condition = Condition {
                    labels: None,
                    orders: Condition::one_order(&model.config, order.index(), device),
                };
                let nll = model.nll(order.apply(images.clone()), &condition);
                nll.into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .unwrap_or_default()
                    .into_iter()
                    .map(f64::from)
                    .collect()
            })
            .collect();
        let identity = per_order[0].iter().sum();
        let mixture = (0..shard.len())
            .map(|i| mixture_nll(per_order.iter().map(|nll| nll[i])))
            .sum();
        [identity, mixture]
    });
    OrderNll { identity, mixture }
}

/// −log(1/O Σ_o exp(−nll_o)) for one image's NLL in each of O orders, computed stably.
pub fn mixture_nll(nll: impl Iterator<Item = f64> + Clone) -> f64 {
    let count = nll.clone().count() as f64;
    let best = nll.clone().fold(f64::INFINITY, f64::min);
    let sum: f64 = nll.map(|n| (best - n).exp()).sum();
    best - sum.ln() + count.ln()
}

/// Means per image of the M sums `score` returns for each shard of `data`, batch after batch,
/// `workers` shards per batch in parallel.
fn mean_over<const M: usize>(
    data: &Dataset,
    batch_size: usize,
    workers: usize,
    show_progress: bool,
    score: impl Fn(&[usize]) -> [f64; M] + Sync,
) -> [f64; M] {
    let bar = if show_progress {
        ProgressBar::new(data.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    let mut total = [0.0; M];
    let mut start = 0;
    while start < data.len() {
        let end = (start + batch_size).min(data.len());
        let indices: Vec<usize> = (start..end).collect();
        let shard = indices.len().div_ceil(workers.max(1));
        let score = &score;
        for sums in in_parallel(indices.chunks(shard).map(|chunk| move || score(chunk))) {
            for (t, s) in total.iter_mut().zip(sums) {
                *t += s;
            }
        }
        bar.set_position(end as u64);
        start = end;
    }
    bar.finish_and_clear();
    total.map(|t| t / data.len().max(1) as f64)
}

/// Runs each job on its own scoped thread and returns the results in order; a panic in a job
/// is re-raised here.
fn in_parallel<T: Send, F: FnOnce() -> T + Send>(jobs: impl Iterator<Item = F>) -> Vec<T> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.map(|job| scope.spawn(job)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
