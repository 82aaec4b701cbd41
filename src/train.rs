//! Training loop: Adam, cosine learning-rate decay, label dropout for classifier-free use,
//! progress bar, periodic resumable checkpoints, deterministic seed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::config::PixelCnnConfig;
use crate::data::Dataset;
use crate::model::PixelCnn;
use crate::sample::uniform;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub epochs: f64,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Probability of replacing a label by "no class" so one model also samples unconditionally.
    pub label_dropout: f64,
    pub seed: u64,
    pub checkpoint_dir: PathBuf,
    pub checkpoint_every_steps: usize,
    pub resume: bool,
    /// Stop (and checkpoint) after this much wall time, whatever `epochs` says.
    pub max_seconds: Option<f64>,
    /// Recorded in the checkpoint's training history, e.g. "cpu (burn flex, 2 threads)".
    pub device_name: String,
    /// Threads that each take a share of every batch, forward and backward, on their own copy
    /// of the parameters; their gradients are summed before the Adam step. On the CPU, flex
    /// runs most element-wise ops on one core, so a second worker keeps the second core busy.
    /// Use 1 on a GPU.
    pub workers: usize,
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
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("checkpoint error at `{path}`: {message}")]
    Checkpoint { path: String, message: String },
    #[error(transparent)]
    Config(#[from] crate::error::ConfigError),
    #[error("the training set is empty")]
    Empty,
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

/// Linear warm-up over the first steps, then cosine decay driven by whichever runs out first:
/// the planned images or the time budget (`time_fraction`), so a time-limited run still ends
/// at a low learning rate.
fn learning_rate(base: f64, step: usize, total_steps: usize, progress: f64) -> f64 {
    let warmup = 200.min(total_steps / 10).max(1);
    if step < warmup {
        return base * (step + 1) as f64 / warmup as f64;
    }
    // Cosine decay to 5% of the base rate.
    base * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos()))
}

pub fn train(
    config: &PixelCnnConfig,
    train_set: &Dataset,
    device: &Device,
    options: &TrainOptions,
) -> Result<TrainOutcome, TrainError> {
    if train_set.is_empty() {
        return Err(TrainError::Empty);
    }
    let device = device.clone().autodiff();
    device.seed(options.seed);
    let mut model = PixelCnn::new(config, &device)?;
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let mut state = TrainState {
        config: Some(config.clone()),
        ..Default::default()
    };

    let model_path = options.checkpoint_dir.join("model.bpk");
    let optim_path = options.checkpoint_dir.join("optim.bpk");
    let state_path = options.checkpoint_dir.join("state.json");
    if options.resume && state_path.exists() {
        let json =
            std::fs::read_to_string(&state_path).map_err(|e| checkpoint_error(&state_path, e))?;
        state = serde_json::from_str(&json).map_err(|e| checkpoint_error(&state_path, e))?;
        if state.config.as_ref() != Some(config) {
            return Err(checkpoint_error(
                &state_path,
                "checkpoint was made with another model config",
            ));
        }
        model = model
            .try_load_file(&model_path)
            .map_err(|e| checkpoint_error(&model_path, format!("{e:?}")))?;
        optim = optim
            .load(&optim_path)
            .map_err(|e| checkpoint_error(&optim_path, format!("{e:?}")))?;
        if state.images == 0 {
            state.images = state.step * options.batch_size;
        }
        eprintln!(
            "resumed from step {} ({:.2} epochs, {:.0} s trained)",
            state.step,
            state.images as f64 / train_set.len() as f64,
            state.train_seconds
        );
    }
    let save = |model: &PixelCnn,
                optim: &burn::optim::ModuleOptimizer,
                state: &TrainState|
     -> Result<(), TrainError> {
        std::fs::create_dir_all(&options.checkpoint_dir)
            .map_err(|e| checkpoint_error(&options.checkpoint_dir, e))?;
        model
            .clone()
            .save_file(&model_path)
            .map_err(|e| checkpoint_error(&model_path, format!("{e:?}")))?;
        optim
            .save(&optim_path)
            .map_err(|e| checkpoint_error(&optim_path, format!("{e:?}")))?;
        let json =
            serde_json::to_string_pretty(state).map_err(|e| checkpoint_error(&state_path, e))?;
        std::fs::write(&state_path, json).map_err(|e| checkpoint_error(&state_path, e))
    };

    let batch = options.batch_size.min(train_set.len());
    let len = train_set.len();
    let total_images = (options.epochs * len as f64).ceil() as usize;
    let total_steps = state.step + total_images.saturating_sub(state.images).div_ceil(batch);
    let bar = ProgressBar::new(total_steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(state.step as u64);

    let plain_log = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let started = Instant::now();
    let seconds_before = state.train_seconds;
    let images_before = state.images;
    let history_before = state.history.clone();
    let mut window_start = Instant::now();
    let mut window_images = 0usize;
    let mut images_per_second = 0.0;
    let pixels = config.values_per_image() as f64;
    let mut order = Vec::new();
    let mut order_epoch = usize::MAX;
    while state.images < total_images {
        let epoch = state.images / len;
        // A batch may straddle two epochs, each with its own shuffle.
        let mut indices = Vec::with_capacity(batch);
        for position in state.images..state.images + batch {
            if position / len != order_epoch {
                order_epoch = position / len;
                order = epoch_order(len, options.seed, order_epoch);
            }
            indices.push(order[position % len]);
        }
        let time_fraction = options
            .max_seconds
            .map_or(0.0, |max| started.elapsed().as_secs_f64() / max);
        let lr = learning_rate(
            options.learning_rate,
            state.step,
            total_steps,
            (state.images as f64 / total_images as f64).max(time_fraction),
        );
        let report = state.step.is_multiple_of(25) || state.step + 1 == total_steps;
        let shard = batch.div_ceil(options.workers.clamp(1, batch));
        let shards: Vec<&[usize]> = indices.chunks(shard).collect();
        let shard_gradients = |shard: &[usize], model: &PixelCnn| {
            let (images, labels) = train_set.batch(shard, &device);
            let labels = drop_labels(labels, shard, config.classes, options, epoch, &device);
            // Summed over the shard, divided by the whole batch: the shards' gradients add up
            // to the batch mean's.
            let loss = model.nll(images, labels.as_ref()).sum() / batch as f64;
            let value = report.then(|| loss.clone().into_scalar::<f32>());
            (GradientsParams::from_grads(loss.backward(), model), value)
        };
        let results: Vec<(GradientsParams, Option<f32>)> = if shards.len() == 1 {
            vec![shard_gradients(shards[0], &model)]
        } else {
            // Each worker gets its own copy of the parameters (`fork`), hence its own autodiff
            // graph: a graph shared through the parameter leaves would serialize the backward
            // passes behind one lock.
            let work = &shard_gradients;
            in_parallel(shards.iter().map(|&shard| {
                let replica = model.clone().fork(&device);
                move || work(shard, &replica)
            }))
        };
        let loss_value = report.then(|| results.iter().filter_map(|(_, v)| *v).sum::<f32>());
        let mut accumulator = GradientsAccumulator::<PixelCnn>::new();
        for (grads, _) in results {
            accumulator.accumulate(&model, grads);
        }
        model = optim.step(lr, model, accumulator.grads());
        state.step += 1;
        state.images += batch;
        window_images += batch;
        if let Some(loss_value) = loss_value {
            let elapsed = window_start.elapsed().as_secs_f64();
            if elapsed > 0.0 && state.step > 1 {
                images_per_second = window_images as f64 / elapsed;
            }
            window_start = Instant::now();
            window_images = 0;
            let message = format!(
                "epoch {:.2}  loss {:.2} nats ({:.4} bits/dim)  {:.0} img/s  lr {:.1e}",
                state.images as f64 / len as f64,
                loss_value,
                loss_value as f64 / pixels / std::f64::consts::LN_2,
                images_per_second,
                lr
            );
            // Without a terminal the bar is invisible: log a plain line now and then instead.
            if plain_log && state.step % 250 == 1 {
                eprintln!("step {}/{}  {message}", state.step, total_steps);
            }
            bar.set_message(message);
        }
        bar.set_position(state.step as u64);
        let run_seconds = started.elapsed().as_secs_f64();
        state.train_seconds = seconds_before + run_seconds;
        state.history = history_before.clone();
        state.record(
            &options.device_name,
            state.images - images_before,
            run_seconds,
        );
        let out_of_time = options
            .max_seconds
            .is_some_and(|max| started.elapsed().as_secs_f64() >= max);
        if state.step.is_multiple_of(options.checkpoint_every_steps)
            || state.images >= total_images
            || out_of_time
        {
            save(&model, &optim, &state)?;
        }
        if out_of_time {
            bar.println(format!("time budget reached at step {}", state.step));
            break;
        }
    }
    bar.finish();
    Ok(TrainOutcome {
        model: model.valid(),
        history: state.history,
        epochs: state.images as f64 / len as f64,
        train_seconds: state.train_seconds,
        images_per_second,
    })
}

/// Replaces a seeded fraction of labels by the "no class" index.
fn drop_labels(
    labels: Tensor<1, Int>,
    indices: &[usize],
    classes: usize,
    options: &TrainOptions,
    epoch: usize,
    device: &Device,
) -> Option<Tensor<1, Int>> {
    if classes == 0 {
        return None;
    }
    let keep: Vec<i64> = indices
        .iter()
        .map(|&i| {
            i64::from(uniform(options.seed ^ 0xD209, epoch, 2, i, 0) >= options.label_dropout)
        })
        .collect();
    let keep = Tensor::<1, Int>::from_data(TensorData::new(keep, [indices.len()]), device);
    // label * keep + classes * (1 - keep)
    Some(labels * keep.clone() + (keep.neg() + 1) * classes as i64)
}

/// Mean test NLL in nats per image, without labels (the unconditional likelihood).
/// `workers` threads each take a share of every batch (see [`TrainOptions::workers`]).
pub fn evaluate(
    model: &PixelCnn,
    data: &Dataset,
    batch_size: usize,
    workers: usize,
    device: &Device,
    show_progress: bool,
) -> f64 {
    let bar = if show_progress {
        ProgressBar::new(data.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    let shard_nll = |shard: &[usize]| -> f64 {
        let (images, _) = data.batch(shard, device);
        f64::from(model.nll(images, None).sum().into_scalar::<f32>())
    };
    let mut total = 0.0;
    let mut start = 0;
    while start < data.len() {
        let end = (start + batch_size).min(data.len());
        let indices: Vec<usize> = (start..end).collect();
        let shard = indices.len().div_ceil(workers.max(1));
        let shard_nll = &shard_nll;
        total += in_parallel(indices.chunks(shard).map(|chunk| move || shard_nll(chunk)))
            .into_iter()
            .sum::<f64>();
        bar.set_position(end as u64);
        start = end;
    }
    bar.finish_and_clear();
    total / data.len() as f64
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
