//! `pixelcnn train` (train or resume from a checkpoint; export when the plan is complete) and
//! `pixelcnn export` (evaluate a checkpoint on the test split and write weights + manifest).

use std::error::Error;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use clap::Args;
use pixelcnn::data::{self, Dataset, DatasetKind, Split};
use pixelcnn::train::{self, Schedule, TrainOptions, TrainSegment};
use pixelcnn::weights::{self, DataSource, Encoding, Metrics, SetFigures};
use pixelcnn::{PixelCnn, PixelCnnConfig};

use crate::{
    Backend, DataArgs, DataSet, bits_per_dim, default_workers, device, device_name, union,
};

/// Where and how a trained model is written.
#[derive(Args)]
pub struct ExportOptions {
    /// The model's name: www/models/NAME.{json,safetensors} [default: the data set's, e.g.
    /// mnist or emoji].
    #[arg(long)]
    name: Option<String>,
    #[arg(long, default_value = "www/models")]
    out_dir: PathBuf,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    test_limit: Option<usize>,
    #[arg(long, default_value_t = 500)]
    eval_batch: usize,
    /// Write nothing unless the test NLL of the weights as stored beats the one of the manifest
    /// already at the destination. Without it the export always writes (e.g. to re-store the
    /// same checkpoint in another format).
    #[arg(long)]
    only_if_better: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Backend,
    #[arg(long, default_value = "checkpoints")]
    checkpoint_dir: PathBuf,
    /// Training images held out for validation from each set when the checkpoint was trained
    /// (they do not count towards its epochs) [default: 5000, emoji 350].
    #[arg(long)]
    validation_split: Option<usize>,
    #[command(flatten)]
    export: ExportOptions,
}

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Backend,
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
    /// Training images held out (the last ones of each set's training split) for the
    /// validation curve; they get their own fixed binarization [default: 5000, emoji 350].
    #[arg(long)]
    validation_split: Option<usize>,
    /// Validation images scored at each checkpoint.
    #[arg(long, default_value_t = 500)]
    validation_images: usize,
    /// Also keep every checkpoint's weights in CHECKPOINT_DIR/snapshots/step-N (3.3 MB each
    /// for the digit model), to average the last ones with `pixelcnn average`.
    #[arg(long)]
    keep_snapshots: bool,
    #[arg(long, default_value_t = 0.2)]
    label_dropout: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Levels per pixel: 2 (binarized) or 256 [default: 2, emoji 256].
    #[arg(long)]
    levels: Option<usize>,
    /// Feature maps per stack, a multiple of the image channels [default: 64, emoji 60].
    #[arg(long)]
    hidden: Option<usize>,
    /// Gated layers [default: 10, emoji 8].
    #[arg(long)]
    layers: Option<usize>,
    /// Feature maps of the output head [default: 256, emoji 192].
    #[arg(long)]
    head: Option<usize>,
    /// Kernel size of the first layer [default: 7, emoji 5].
    #[arg(long)]
    first_kernel: Option<usize>,
    /// Classes to condition on, 0 for none [default: 10, emoji 0].
    #[arg(long)]
    classes: Option<usize>,
    /// Generation orders to train with: 1 (raster order) or up to 8 (the flips and
    /// transposes of the image, each with its own gate bias); each training image gets a
    /// random one.
    #[arg(long, default_value_t = 1)]
    orders: usize,
    /// Start from another run's checkpoint folder (weights, optimizer, progress, schedule),
    /// adding zero order biases when --orders asks for more orders than it has: the model
    /// starts as it was. New checkpoints go to --checkpoint-dir.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Validation images scored under the mixture of all orders at each checkpoint (one pass
    /// per order), for a model with several orders.
    #[arg(long, default_value_t = 100)]
    mixture_validation_images: usize,
    /// Show each training image mirrored left to right with probability ½ (drawn per image and
    /// epoch): augmentation for sets whose mirror images are as plausible as they are.
    #[arg(long)]
    mirror: bool,
    /// With several orders: the share of training images seen in the identity order (between
    /// 0 and 1), the rest spread evenly over the other orders [default: every order equally].
    /// Not stored in the checkpoint: give it again on resume.
    #[arg(long)]
    identity_share: Option<f64>,
    /// Train on the first N training images only (smoke tests).
    #[arg(long)]
    limit: Option<usize>,
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
    #[command(flatten)]
    export: ExportOptions,
}

/// The architecture and split each data set trains with unless told otherwise.
struct Defaults {
    levels: usize,
    hidden: usize,
    layers: usize,
    head: usize,
    first_kernel: usize,
    classes: usize,
    validation_split: usize,
}

fn defaults(kind: DatasetKind) -> Defaults {
    match kind {
        DatasetKind::Emoji => Defaults {
            levels: 256,
            hidden: 60,
            layers: 8,
            head: 192,
            first_kernel: 5,
            classes: 0,
            validation_split: 350,
        },
        DatasetKind::Mnist | DatasetKind::FashionMnist => Defaults {
            levels: 2,
            hidden: 64,
            layers: 10,
            head: 256,
            first_kernel: 7,
            classes: 10,
            validation_split: 5000,
        },
    }
}

/// The training images and the held-out validation images: the last `validation_split` of
/// each set's training split, with their own fixed binarization.
pub fn training_split(
    data: &DataArgs,
    levels: usize,
    validation_split: Option<usize>,
) -> Result<(Dataset, Dataset), data::DataError> {
    let held_out = validation_split.unwrap_or(defaults(data.kind()).validation_split);
    let sets = data.load_sets(data.kind(), Split::Train, levels)?;
    let (train_sets, validation_sets): (Vec<_>, Vec<_>) = sets
        .into_iter()
        .map(|DataSet { source, data }| {
            let (train, validation) = data.split_off_last(held_out);
            let validation = DataSet {
                source: source.clone(),
                data: validation,
            };
            (
                DataSet {
                    source,
                    data: train,
                },
                validation,
            )
        })
        .unzip();
    Ok((
        union(train_sets)?,
        union(validation_sets)?.rebinarized(data::VALIDATION_BINARIZE_SEED),
    ))
}

/// The identity order's share of training images, checked against the orders trained.
fn identity_share(share: Option<f64>, orders: usize) -> Result<Option<f64>, Box<dyn Error>> {
    match share {
        Some(_) if orders <= 1 => Err("--identity-share needs --orders 2 or more".into()),
        Some(s) if !(s > 0.0 && s < 1.0) => {
            Err(format!("--identity-share must be between 0 and 1, not {s}").into())
        }
        share => Ok(share),
    }
}

pub fn run(args: TrainArgs) -> Result<(), Box<dyn Error>> {
    let device = device(args.backend)?;
    let d = defaults(args.data.kind());
    let levels = args.levels.unwrap_or(d.levels);
    let (mut train_set, validation) = training_split(&args.data, levels, args.validation_split)?;
    if let Some(n) = args.limit {
        train_set = train_set.truncate(n);
    }
    let config = PixelCnnConfig {
        levels,
        height: train_set.height,
        width: train_set.width,
        channels: train_set.channels,
        hidden: args.hidden.unwrap_or(d.hidden),
        layers: args.layers.unwrap_or(d.layers),
        head: args.head.unwrap_or(d.head),
        first_kernel: args.first_kernel.unwrap_or(d.first_kernel),
        classes: args.classes.unwrap_or(d.classes),
        orders: args.orders,
        ..PixelCnnConfig::mnist()
    };
    let resuming = args.resume && args.checkpoint_dir.join("state.json").exists();
    let continuing = resuming || args.init_from.is_some();
    let schedule = match (args.lr, args.total_epochs, continuing) {
        (Some(lr), Some(epochs), _) => Some(Schedule::new(lr, epochs)),
        // The checkpoint's own schedule.
        (None, None, true) => None,
        (_, _, true) => {
            return Err("on resume (or --init-from) give both --lr and --total-epochs, or neither (to keep the checkpoint's schedule)".into());
        }
        (lr, epochs, false) => Some(Schedule::new(lr.unwrap_or(1e-3), epochs.unwrap_or(15.0))),
    };
    let workers = args.workers.unwrap_or(default_workers(args.backend));
    let options = TrainOptions {
        schedule,
        batch_size: args.batch_size,
        label_dropout: args.label_dropout,
        resample_binarization: !args.fixed_binarization,
        seed: args.seed,
        checkpoint_dir: args.checkpoint_dir.clone(),
        checkpoint_seconds: args.checkpoint_minutes * 60.0,
        validation_images: args.validation_images,
        keep_snapshots: args.keep_snapshots,
        mixture_validation_images: args.mixture_validation_images,
        init_from: args.init_from.clone(),
        mirror: args.mirror,
        identity_share: identity_share(args.identity_share, args.orders)?,
        resume: args.resume,
        max_seconds: args.max_minutes.map(|m| m * 60.0),
        device_name: device_name(args.backend),
        workers,
    };
    eprintln!(
        "training {} ({} params) on {} images with {}",
        args.export.name(&args.data),
        PixelCnn::new(&config, &device)?.num_params(),
        train_set.len(),
        device_name(args.backend)
    );
    let outcome = train::train(&config, &train_set, Some(&validation), &device, &options)?;
    eprintln!(
        "trained {:.2} epochs in {:.0} s ({:.1} img/s at the end)",
        outcome.epochs, outcome.train_seconds, outcome.images_per_second
    );
    if !outcome.completed {
        eprintln!(
            "the time budget ended the run before the planned total: continue with `--resume`, or evaluate and write this checkpoint with `pixelcnn export --checkpoint-dir {}`",
            args.checkpoint_dir.display()
        );
        return Ok(());
    }
    let trained = Trained {
        model: &outcome.model,
        history: &outcome.history,
        averaged_epochs: &[],
        epochs: outcome.epochs,
        train_seconds: outcome.train_seconds,
        train_len: train_set.len(),
    };
    export(&trained, &args.data, &args.export, workers, &device)
}

/// `pixelcnn export`: the checkpoint's model, evaluated and written like a finished run.
pub fn run_export(args: ExportArgs) -> Result<(), Box<dyn Error>> {
    let device = device(args.backend)?;
    let (model, state) = train::load_checkpoint(&args.checkpoint_dir, &device)?;
    let train_len = training_split(&args.data, model.config.levels, args.validation_split)?
        .0
        .len();
    let trained = Trained {
        model: &model,
        history: &state.history,
        averaged_epochs: &state.averaged_epochs,
        epochs: state.images as f64 / train_len as f64,
        train_seconds: state.train_seconds,
        train_len,
    };
    let workers = default_workers(args.backend);
    export(&trained, &args.data, &args.export, workers, &device)
}

/// A trained model and the run behind it, as its manifest records them.
struct Trained<'a> {
    model: &'a PixelCnn,
    history: &'a [TrainSegment],
    averaged_epochs: &'a [f64],
    epochs: f64,
    train_seconds: f64,
    /// Images in the training split (the history's epochs are counted in them).
    train_len: usize,
}

/// The test split's figures of a model as each encoding would store it.
struct TestRun<'a> {
    model: &'a PixelCnn,
    test_set: &'a Dataset,
    eval_batch: usize,
    workers: usize,
    device: &'a Device,
}

impl ExportOptions {
    fn name(&self, data: &DataArgs) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| data.kind().name().to_string())
    }
}

impl<'a> TestRun<'a> {
    fn new(
        model: &'a PixelCnn,
        test_set: &'a Dataset,
        eval_batch: usize,
        workers: usize,
        device: &'a Device,
    ) -> Self {
        Self {
            model,
            test_set,
            eval_batch,
            workers,
            device,
        }
    }

    /// The model as the loader rebuilds it from the bytes `encoding` would store.
    fn stored(&self, encoding: Encoding) -> Result<(PixelCnn, usize), Box<dyn Error>> {
        let bytes = weights::to_safetensors(self.model, encoding)?;
        let model = weights::model_from_safetensors(
            &self.model.config,
            &bytes,
            encoding.dtype,
            self.device,
        )?;
        Ok((model, bytes.len()))
    }

    fn nll(&self, encoding: Encoding) -> Result<f64, Box<dyn Error>> {
        let (stored, size) = self.stored(encoding)?;
        let nll = train::evaluate(
            &stored,
            self.test_set,
            self.eval_batch,
            self.workers,
            self.device,
            true,
        );
        eprintln!("{}: {nll:.3} nats, {size} bytes", encoding.describe());
        Ok(nll)
    }

    /// The encoding to store (see [`weights::choose_encoding`]): (it, its NLL, f32's NLL).
    fn choose_encoding(&self) -> Result<(Encoding, f64, f64), Box<dyn Error>> {
        let nll_f32 = self.nll(Encoding::F32)?;
        let mut measured = vec![];
        let (encoding, nll) = weights::choose_encoding(nll_f32, |encoding| {
            let nll = self.nll(encoding)?;
            measured.push(format!("{} {nll:.3} nats", encoding.describe()));
            Ok::<_, Box<dyn Error>>(nll)
        })?;
        println!(
            "test NLL: f32 {nll_f32:.3} nats, {}; storing {}",
            measured.join(", "),
            encoding.describe()
        );
        Ok((encoding, nll, nll_f32))
    }

    /// The NLL of the mixture of the model's orders, as `encoding` stores it.
    fn mixture_nll(&self, encoding: Encoding) -> Result<f64, Box<dyn Error>> {
        let (stored, _) = self.stored(encoding)?;
        let orders = self.model.config.orders;
        eprintln!("evaluating the mixture of {orders} orders");
        let nll = train::evaluate_orders(
            &stored,
            self.test_set,
            self.eval_batch,
            self.workers,
            self.device,
            true,
        );
        println!(
            "test NLL as stored: identity order {:.3} nats, mixture of {orders} orders {:.3} nats",
            nll.identity, nll.mixture
        );
        Ok(nll.mixture)
    }
}

/// Evaluates on the (first set's) test split in f32, then the smaller encodings from the
/// smallest download up until one costs at most 0.1 nats per image (see
/// [`weights::choose_encoding`]); scores every other set's test split as stored; writes that
/// encoding's weights + manifest.
fn export(
    trained: &Trained,
    data: &DataArgs,
    options: &ExportOptions,
    workers: usize,
    device: &Device,
) -> Result<(), Box<dyn Error>> {
    let model = trained.model;
    let config = &model.config;
    let sets: Vec<DataSet> = data
        .load_sets(data.kind(), Split::Test, config.levels)?
        .into_iter()
        .map(|set| DataSet {
            data: set.data.truncate(options.test_limit.unwrap_or(usize::MAX)),
            source: set.source,
        })
        .collect();
    let test_run = |set| TestRun::new(model, set, options.eval_batch, workers, device);
    let headline = &sets[0];
    eprintln!(
        "evaluating on {} test images of {}",
        headline.data.len(),
        headline.source.name
    );
    let test = test_run(&headline.data);
    let (encoding, nll, nll_f32) = test.choose_encoding()?;
    let test_mixture_nll_nats = if config.orders > 1 {
        Some(test.mixture_nll(encoding)?)
    } else {
        None
    };
    let name = options.name(data);
    let manifest_path = options.out_dir.join(format!("{name}.json"));
    if options.only_if_better && !beats_manifest(&manifest_path, nll, device) {
        return Ok(());
    }
    let mut test_sets = vec![];
    if sets.len() > 1 {
        for (i, set) in sets.iter().enumerate() {
            let nll = if i == 0 {
                nll
            } else {
                test_run(&set.data).nll(encoding)?
            };
            test_sets.push(set_figures(set, nll, config));
        }
    }
    let metrics = Metrics {
        test_nll_nats: nll,
        test_bits_per_dim: bits_per_dim(nll, config),
        test_nll_nats_f32: Some(nll_f32),
        test_mixture_nll_nats,
        epochs: (trained.epochs * 100.0).round() / 100.0,
        train_seconds: trained.train_seconds.round(),
        device: train::describe_history(trained.history, trained.train_len),
        averaged_epochs: trained.averaged_epochs.to_vec(),
        test_sets,
    };
    let sources: Vec<DataSource> = sets.into_iter().map(|s| s.source).collect();
    let manifest =
        weights::save_model(model, &options.out_dir, &name, &sources, encoding, metrics)?;
    println!("{}", serde_json::to_string_pretty(&manifest.metrics)?);
    println!("wrote {}", manifest_path.display());
    Ok(())
}

/// Whether `nll` beats the model already at `manifest_path` (true when there is none); says so
/// when it does not.
fn beats_manifest(manifest_path: &Path, nll: f64, device: &Device) -> bool {
    match weights::load_model(manifest_path, device) {
        Ok((_, current)) if current.metrics.test_nll_nats <= nll => {
            println!(
                "not written: {} already has {:.3} nats",
                manifest_path.display(),
                current.metrics.test_nll_nats
            );
            false
        }
        _ => true,
    }
}

/// One set's test figures for the manifest.
fn set_figures(set: &DataSet, nll: f64, config: &PixelCnnConfig) -> SetFigures {
    println!(
        "{}: test NLL {nll:.3} nats ({:.4} bits/dim) over {} images",
        set.source.name,
        bits_per_dim(nll, config),
        set.data.len()
    );
    SetFigures {
        name: set.source.name.clone(),
        images: set.data.len(),
        test_nll_nats: nll,
        test_bits_per_dim: bits_per_dim(nll, config),
    }
}
