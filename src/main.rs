//! `pixelcnn`: train, evaluate, sample and benchmark the Gated PixelCNN.

use std::error::Error;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use clap::{Args, Parser, Subcommand, ValueEnum};

use pixelcnn::data::{self, Dataset, DatasetKind, Split};
use pixelcnn::sample::{Completion, SampleRequest};
use pixelcnn::train::{self, Schedule, TrainOptions};
use pixelcnn::weights::{self, Metrics, StoredDType};
use pixelcnn::{PixelCnn, PixelCnnConfig};

mod grid;

#[derive(Parser)]
#[command(
    name = "pixelcnn",
    version,
    about = "Gated PixelCNN: train, evaluate, sample, benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model and write www/models/NAME.{json,safetensors}.
    Train(TrainArgs),
    /// Test-set negative log-likelihood of a shipped model.
    Eval(EvalArgs),
    /// Write a PNG grid of samples and of completions of half-hidden test images.
    Sample(SampleArgs),
    /// Time naive vs cached sampling.
    Bench(pixelcnn::bench::BenchArgs),
    /// Export a few binarized test digits for the web page.
    Digits(DigitsArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    /// burn's flex CPU backend (pure Rust; the fastest burn CPU backend measured here).
    Cpu,
    /// burn-cuda (build with `--features cuda`).
    Cuda,
    /// burn-wgpu on Vulkan, any GPU vendor (build with `--features vulkan`).
    Vulkan,
}

fn device(backend: Backend) -> Result<Device, Box<dyn Error>> {
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        Backend::Cuda => Ok(Device::cuda(0)),
        #[cfg(not(feature = "cuda"))]
        Backend::Cuda => Err("this binary was built without CUDA support; rebuild with `cargo build --release --features cuda`".into()),
        #[cfg(feature = "vulkan")]
        Backend::Vulkan => Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "vulkan"))]
        Backend::Vulkan => Err("this binary was built without Vulkan support; rebuild with `cargo build --release --features vulkan`".into()),
    }
}

fn device_name(backend: Backend) -> String {
    match backend {
        Backend::Cpu => format!(
            "cpu (burn flex, {} threads)",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        ),
        Backend::Cuda => "cuda (burn-cuda)".to_string(),
        Backend::Vulkan => format!("vulkan (burn-wgpu){}", gpu_name()),
    }
}

/// Threads that share each batch: one per core on the CPU (flex keeps most element-wise ops
/// on one core), one on a GPU.
fn default_workers(backend: Backend) -> usize {
    match backend {
        Backend::Cpu => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Backend::Cuda | Backend::Vulkan => 1,
    }
}

/// The GPU's name when nvidia-smi can tell it, for the manifest's `device` field.
fn gpu_name() -> String {
    std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.lines().next().unwrap_or("").trim().to_string())
        .filter(|s| !s.is_empty())
        .map(|s| format!(", {s}"))
        .unwrap_or_default()
}

#[derive(Args)]
struct DataArgs {
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetKind,
    /// Folder with the IDX files (default: data/mnist or /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl DataArgs {
    fn load(&self, split: Split, levels: usize) -> Result<Dataset, data::DataError> {
        let dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| self.dataset.default_dir());
        Dataset::load(self.dataset, &dir, split, levels)
    }
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Backend,
    #[arg(long, default_value = "mnist")]
    name: String,
    #[arg(long, default_value = "www/models")]
    out_dir: PathBuf,
    /// Epochs planned in all, resumed runs included: the learning rate follows one cosine
    /// over them and training stops there [default on a new run: 15; on resume: the
    /// checkpoint's].
    #[arg(long, alias = "epochs")]
    total_epochs: Option<f64>,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Peak learning rate, after the warm-up [default on a new run: 1e-3; on resume: the
    /// checkpoint's].
    #[arg(long)]
    lr: Option<f64>,
    /// Train on one fixed binarization instead of fresh bits every epoch.
    #[arg(long)]
    fixed_binarization: bool,
    /// Training images held out (the last ones of the training split) for the validation
    /// curve; they get their own fixed binarization.
    #[arg(long, default_value_t = 5000)]
    validation_split: usize,
    /// Validation images scored at each checkpoint.
    #[arg(long, default_value_t = 500)]
    validation_images: usize,
    #[arg(long, default_value_t = 0.2)]
    label_dropout: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Levels per pixel: 2 (binarized) or 256.
    #[arg(long, default_value_t = 2)]
    levels: usize,
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    #[arg(long, default_value_t = 10)]
    layers: usize,
    #[arg(long, default_value_t = 256)]
    head: usize,
    /// Train on the first N training images only (smoke tests).
    #[arg(long)]
    limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    test_limit: Option<usize>,
    #[arg(long, default_value = "checkpoints")]
    checkpoint_dir: PathBuf,
    /// Minutes between checkpoints.
    #[arg(long, default_value_t = 10.0)]
    checkpoint_minutes: f64,
    /// Continue from the last checkpoint in --checkpoint-dir.
    #[arg(long)]
    resume: bool,
    /// Threads sharing each batch (default: one per core on the CPU, 1 on a GPU).
    #[arg(long)]
    workers: Option<usize>,
    /// Stop after this many minutes of training (a checkpoint is written).
    #[arg(long)]
    max_minutes: Option<f64>,
    #[arg(long, default_value_t = 500)]
    eval_batch: usize,
}

/// A shipped model, the backend to run it on, and its data set.
#[derive(Args)]
struct ModelArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, default_value = "www/models/mnist.json")]
    model: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Backend,
}

impl ModelArgs {
    fn load(&self) -> Result<(PixelCnn, weights::Manifest, Device), Box<dyn Error>> {
        let device = device(self.backend)?;
        let (model, manifest) = weights::load_model(&self.model, &device)?;
        Ok((model, manifest, device))
    }
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Args)]
struct SampleArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value = "samples.png")]
    out: PathBuf,
    /// Unconditional samples (first rows of the grid).
    #[arg(long, default_value_t = 16)]
    samples: usize,
    /// Test images whose bottom half is hidden and completed.
    #[arg(long, default_value_t = 6)]
    completions: usize,
    /// Completions per test image.
    #[arg(long, default_value_t = 4)]
    alternatives: usize,
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Pixels per grid cell side.
    #[arg(long, default_value_t = 3)]
    scale: usize,
}

#[derive(Args)]
struct DigitsArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, default_value = "www/models/mnist-digits.json")]
    out: PathBuf,
    /// Digits per class.
    #[arg(long, default_value_t = 2)]
    per_class: usize,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => run_train(args),
        Command::Eval(args) => run_eval(args),
        Command::Sample(args) => run_sample(args),
        Command::Bench(args) => pixelcnn::bench::run(&args),
        Command::Digits(args) => run_digits(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn bits_per_dim(nats: f64, config: &PixelCnnConfig) -> f64 {
    nats / (config.values_per_image() as f64 * std::f64::consts::LN_2)
}

fn run_train(args: TrainArgs) -> Result<(), Box<dyn Error>> {
    let device = device(args.backend)?;
    let (mut train_set, validation) = args
        .data
        .load(Split::Train, args.levels)?
        .split_off_last(args.validation_split);
    let validation = validation.rebinarized(data::VALIDATION_BINARIZE_SEED);
    if let Some(n) = args.limit {
        train_set = train_set.truncate(n);
    }
    let mut test_set = args.data.load(Split::Test, args.levels)?;
    if let Some(n) = args.test_limit {
        test_set = test_set.truncate(n);
    }
    let config = PixelCnnConfig {
        levels: args.levels,
        height: train_set.height,
        width: train_set.width,
        channels: train_set.channels,
        hidden: args.hidden,
        layers: args.layers,
        head: args.head,
        ..PixelCnnConfig::mnist()
    };
    let resuming = args.resume && args.checkpoint_dir.join("state.json").exists();
    let schedule = match (args.lr, args.total_epochs, resuming) {
        (Some(lr), Some(epochs), _) => Some(Schedule::new(lr, epochs)),
        // The checkpoint's own schedule.
        (None, None, true) => None,
        (_, _, true) => {
            return Err("on resume give both --lr and --total-epochs, or neither (to keep the checkpoint's schedule)".into());
        }
        (lr, epochs, false) => Some(Schedule::new(lr.unwrap_or(1e-3), epochs.unwrap_or(15.0))),
    };
    let options = TrainOptions {
        schedule,
        batch_size: args.batch_size,
        label_dropout: args.label_dropout,
        resample_binarization: !args.fixed_binarization,
        seed: args.seed,
        checkpoint_dir: args.checkpoint_dir.clone(),
        checkpoint_seconds: args.checkpoint_minutes * 60.0,
        validation_images: args.validation_images,
        resume: args.resume,
        max_seconds: args.max_minutes.map(|m| m * 60.0),
        device_name: device_name(args.backend),
        workers: args.workers.unwrap_or(default_workers(args.backend)),
    };
    eprintln!(
        "training {} ({} params) on {} images with {}",
        args.name,
        PixelCnn::new(&config, &device)?.num_params(),
        train_set.len(),
        device_name(args.backend)
    );
    let outcome = train::train(&config, &train_set, Some(&validation), &device, &options)?;
    eprintln!(
        "trained {:.2} epochs in {:.0} s ({:.0} img/s at the end)",
        outcome.epochs, outcome.train_seconds, outcome.images_per_second
    );

    eprintln!("evaluating on {} test images", test_set.len());
    let nll_f32 = train::evaluate(
        &outcome.model,
        &test_set,
        args.eval_batch,
        options.workers,
        &device,
        true,
    );
    // Store f16 only if it costs no measurable likelihood (< 0.01 nats per image).
    let f16_bytes = weights::to_safetensors(&outcome.model, StoredDType::F16)?;
    let f16_model = weights::model_from_safetensors(&config, &f16_bytes, &device)?;
    let nll_f16 = train::evaluate(
        &f16_model,
        &test_set,
        args.eval_batch,
        options.workers,
        &device,
        true,
    );
    let (dtype, nll) = if nll_f16 - nll_f32 < 0.01 {
        (StoredDType::F16, nll_f16)
    } else {
        (StoredDType::F32, nll_f32)
    };
    println!(
        "test NLL: f32 {nll_f32:.3} nats, f16 {nll_f16:.3} nats; storing {}",
        dtype.name()
    );
    let metrics = Metrics {
        test_nll_nats: nll,
        test_bits_per_dim: bits_per_dim(nll, &config),
        test_nll_nats_f32: Some(nll_f32),
        epochs: (outcome.epochs * 100.0).round() / 100.0,
        train_seconds: outcome.train_seconds.round(),
        device: train::describe_history(&outcome.history, train_set.len()),
    };
    let dataset = data::describe(args.data.dataset, args.levels);
    let manifest = weights::save_model(
        &outcome.model,
        &args.out_dir,
        &args.name,
        &dataset,
        dtype,
        metrics,
    )?;
    println!("{}", serde_json::to_string_pretty(&manifest.metrics)?);
    println!(
        "wrote {}",
        args.out_dir.join(format!("{}.json", args.name)).display()
    );
    Ok(())
}

fn run_eval(args: EvalArgs) -> Result<(), Box<dyn Error>> {
    let (model, manifest, device) = args.model.load()?;
    let mut test_set = args.model.data.load(Split::Test, manifest.levels)?;
    if let Some(n) = args.limit {
        test_set = test_set.truncate(n);
    }
    let workers = default_workers(args.model.backend);
    let nll = train::evaluate(&model, &test_set, args.batch, workers, &device, true);
    println!(
        "{}: test NLL {:.3} nats/image, {:.4} bits/dim over {} images (manifest: {:.3} nats)",
        manifest.name,
        nll,
        bits_per_dim(nll, &manifest.config),
        test_set.len(),
        manifest.metrics.test_nll_nats
    );
    Ok(())
}

/// Completes a request to the end with the cached sampler; level indices [B, C, H, W].
fn complete(
    model: &PixelCnn,
    request: SampleRequest,
    device: &Device,
) -> Result<Vec<f32>, Box<dyn Error>> {
    let mut sampler = pixelcnn::cached::CachedSampler::new(model, request, device)?;
    sampler.finish();
    Ok(sampler
        .canvas()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?)
}

fn run_sample(args: SampleArgs) -> Result<(), Box<dyn Error>> {
    let (model, manifest, device) = args.model.load()?;
    let config = &manifest.config;
    let image = config.values_per_image();
    let mut grid = grid::Grid::new(config, args.scale);

    if args.samples > 0 {
        let request =
            SampleRequest::unconditional(&model, args.samples, args.temperature, args.seed);
        let samples = complete(&model, request, &device)?;
        // Rows as wide as the completion rows below: occluded + alternatives + original.
        let per_row = (args.alternatives + 2).max(4);
        for row in samples.chunks(image * per_row) {
            grid.add_row(row.chunks(image).map(grid::Cell::image).collect());
        }
    }
    if args.completions > 0 {
        let test_set = args.model.data.load(Split::Test, manifest.levels)?;
        let pixels = config.height * config.width;
        let hidden_from = pixels / 2;
        for t in 0..args.completions.min(test_set.len()) {
            let original: Vec<f32> = test_set.image(t).iter().map(|&v| v as f32).collect();
            let known: Vec<bool> = (0..pixels).map(|p| p < hidden_from).collect();
            let request = SampleRequest {
                batch: args.alternatives,
                levels: original.repeat(args.alternatives),
                known: known.repeat(args.alternatives),
                temperature: args.temperature,
                seed: args.seed + t as u64 + 1,
                labels: None,
            };
            let completed = complete(&model, request, &device)?;
            let mut row = vec![grid::Cell::occluded(&original, &known)];
            row.extend(completed.chunks(image).map(grid::Cell::image));
            row.push(grid::Cell::image(&original));
            grid.add_row(row);
        }
    }
    grid.write_png(&args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

fn run_digits(args: DigitsArgs) -> Result<(), Box<dyn Error>> {
    let test_set = args.data.load(Split::Test, 2)?;
    let mut digits = Vec::new();
    for class in 0..10u8 {
        let picks = (0..test_set.len())
            .filter(|&i| test_set.labels[i] == class)
            .take(args.per_class);
        for i in picks {
            digits.push(
                serde_json::json!({ "label": class, "index": i, "pixels": test_set.image(i) }),
            );
        }
    }
    let json = serde_json::json!({
        "width": test_set.width,
        "height": test_set.height,
        "source": data::describe(args.data.dataset, 2),
        "digits": digits,
    });
    write_file(&args.out, &serde_json::to_vec(&json)?)?;
    println!("wrote {} digits to {}", digits.len(), args.out.display());
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)
        .map_err(|e| format!("could not write {}: {e}", path.display()).into())
}
