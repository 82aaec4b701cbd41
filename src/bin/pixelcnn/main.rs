//! `pixelcnn`: train, evaluate, sample and benchmark the Gated PixelCNN.

use std::error::Error;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use clap::{Args, Parser, Subcommand, ValueEnum};

use pixelcnn::data::{self, Dataset, DatasetKind, Split};
use pixelcnn::weights::{self, DataSource};
use pixelcnn::{PixelCnn, PixelCnnConfig};

mod average;
mod bench;
mod complete_eval;
mod curve;
mod digits;
mod eval;
mod grid;
mod sample;
mod temperature;
mod train;

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

// Parsed once per run: the size of the largest arguments struct costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Train or resume a model; when the planned epochs are done, write
    /// www/models/NAME.{json,safetensors}.
    Train(train::TrainArgs),
    /// Evaluate a training checkpoint on the test split and write its weights and manifest.
    Export(train::ExportArgs),
    /// Average the weights of several checkpoints of one run into a checkpoint to export.
    Average(average::AverageArgs),
    /// Test-set negative log-likelihood of a shipped model.
    Eval(eval::EvalArgs),
    /// Write a PNG grid of samples and of completions of half-hidden test images.
    Sample(sample::SampleArgs),
    /// Time naive vs cached sampling.
    Bench(bench::BenchArgs),
    /// Compare raster and importance-resampled completions on several hole shapes.
    CompleteEval(complete_eval::CompleteEvalArgs),
    /// Draw a checkpoint's training curve as a PNG.
    Curve(curve::CurveArgs),
    /// Export a few binarized test digits for the web page.
    Digits(digits::DigitsArgs),
    /// Compare softmax temperatures on samples and completions; choose the page's default.
    Temperature(temperature::TemperatureArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    /// burn's flex CPU backend (pure Rust, nothing to install).
    Cpu,
    /// burn-cuda (build with `--features cuda`).
    Cuda,
    /// burn-wgpu on Vulkan, any GPU vendor (build with `--features vulkan`).
    Vulkan,
    /// libtorch's CPU kernels through burn-tch: faster training (build with `--features tch`).
    Libtorch,
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
        // burn marks burn-tch deprecated in favour of its CubeCL backends, whose CPU runtime
        // cannot be built offline; on the CPU libtorch's kernels are what trains fastest.
        #[cfg(feature = "tch")]
        #[allow(deprecated)]
        Backend::Libtorch => Ok(Device::libtorch()),
        #[cfg(not(feature = "tch"))]
        Backend::Libtorch => Err("this binary was built without libtorch support; rebuild with `LIBTORCH_USE_PYTORCH=1 cargo build --release --features tch` in a Python environment that has `torch` installed".into()),
    }
}

fn device_name(backend: Backend) -> String {
    match backend {
        Backend::Cpu => format!("cpu (burn flex, {} threads)", cpu_threads()),
        Backend::Cuda => "cuda (burn-cuda)".to_string(),
        Backend::Vulkan => format!("vulkan (burn-wgpu){}", gpu_name()),
        Backend::Libtorch => format!("cpu (burn-tch, libtorch {} threads)", cpu_threads()),
    }
}

fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Threads that share each batch: one per core on flex (it keeps most element-wise ops on one
/// core), one where the backend spreads each op over the cores itself (libtorch, a GPU).
fn default_workers(backend: Backend) -> usize {
    match backend {
        Backend::Cpu => cpu_threads(),
        Backend::Cuda | Backend::Vulkan | Backend::Libtorch => 1,
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
    /// `mnist`, `fashion-mnist` or `emoji` [default: mnist; for a shipped model, the data set
    /// its config fits: emoji for colour].
    #[arg(long)]
    dataset: Option<DatasetKind>,
    /// Folder with the IDX files (default: data/mnist, /usr/share/datasets/fashion-mnist or
    /// data/emoji). Repeat it to use several sets of one shape together: training concatenates
    /// their training splits (each gives its own validation slice), and every set's test split
    /// is scored on its own, the first one's figure being the model's headline.
    #[arg(long = "data-dir")]
    data_dirs: Vec<PathBuf>,
}

/// One data folder's split, and where its images come from.
struct DataSet {
    source: DataSource,
    data: Dataset,
}

impl DataArgs {
    fn kind(&self) -> DatasetKind {
        self.dataset.unwrap_or(DatasetKind::Mnist)
    }

    /// The kind of data a model was trained on: the one named on the command line, else emoji
    /// for a colour model and MNIST otherwise.
    fn kind_for(&self, config: &PixelCnnConfig) -> DatasetKind {
        self.dataset.unwrap_or(if config.channels == 3 {
            DatasetKind::Emoji
        } else {
            DatasetKind::Mnist
        })
    }

    /// Every set's `split`, each with its source, in the order given.
    fn load_sets(
        &self,
        kind: DatasetKind,
        split: Split,
        levels: usize,
    ) -> Result<Vec<DataSet>, data::DataError> {
        let dirs = if self.data_dirs.is_empty() {
            vec![kind.default_dir()]
        } else {
            self.data_dirs.clone()
        };
        dirs.iter()
            .map(|dir| {
                Ok(DataSet {
                    source: data::source_of(kind, dir, levels)?,
                    data: Dataset::load(kind, dir, split, levels)?,
                })
            })
            .collect()
    }

    /// The split of every set given, one set after another, of the kind a model was trained
    /// on ([`DataArgs::kind_for`]).
    fn load_for(&self, config: &PixelCnnConfig, split: Split) -> Result<Dataset, data::DataError> {
        union(self.load_sets(self.kind_for(config), split, config.levels)?)
    }
}

/// The sets' images one set after another.
fn union(sets: Vec<DataSet>) -> Result<Dataset, data::DataError> {
    let names: Vec<String> = sets.iter().map(|s| s.source.name.clone()).collect();
    Dataset::concat(sets.into_iter().map(|s| s.data).collect(), &names)
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

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Export(args) => train::run_export(args),
        Command::Average(args) => average::run(args),
        Command::CompleteEval(args) => complete_eval::run(args),
        Command::Curve(args) => curve::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Bench(args) => bench::run(&args),
        Command::Digits(args) => digits::run(args),
        Command::Temperature(args) => temperature::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn bits_per_dim(nats: f64, config: &PixelCnnConfig) -> f64 {
    nats / (config.values_per_image() as f64 * std::f64::consts::LN_2)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)
        .map_err(|e| format!("could not write {}: {e}", path.display()).into())
}
