//! `pixelcnn average`: the parameter-wise mean of several checkpoints of one run, written as a
//! checkpoint for `pixelcnn export`, with the validation NLL of each input and of the mean.

use std::error::Error;
use std::path::PathBuf;

use clap::Args;
use pixelcnn::average;
use pixelcnn::train::{self, TrainState};

use crate::train::training_split;
use crate::{Backend, DataArgs, default_workers, device};

#[derive(Args)]
pub struct AverageArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Backend,
    /// Checkpoint folders of one run (each with model.bpk and state.json), e.g. copies of
    /// `checkpoints/mnist` taken at successive checkpoints.
    #[arg(required = true, num_args = 2..)]
    checkpoints: Vec<PathBuf>,
    /// Where to write the mean (model.bpk and state.json, no optimizer state).
    #[arg(long)]
    out_dir: PathBuf,
    /// Training images that were held out for validation [default: 5000, emoji 350].
    #[arg(long)]
    validation_split: Option<usize>,
    /// Validation images to score each checkpoint and the mean on (0: none).
    #[arg(long, default_value_t = 500)]
    validation_images: usize,
}

pub fn run(args: AverageArgs) -> Result<(), Box<dyn Error>> {
    let device = device(args.backend)?;
    let mut models = vec![];
    let mut states: Vec<TrainState> = vec![];
    for dir in &args.checkpoints {
        let (model, state) = train::load_checkpoint(dir, &device)?;
        models.push(model);
        states.push(state);
    }
    let levels = models[0].config.levels;
    let (train_set, validation) = training_split(&args.data, levels, args.validation_split)?;
    let validation = validation.truncate(args.validation_images);
    let epoch = |state: &TrainState| state.images as f64 / train_set.len() as f64;
    let score = |model: &pixelcnn::PixelCnn| {
        train::evaluate(
            model,
            &validation,
            250,
            default_workers(args.backend),
            &device,
            false,
        )
    };
    for ((dir, model), state) in args.checkpoints.iter().zip(&models).zip(&states) {
        if validation.is_empty() {
            println!("{}: epoch {:.3}", dir.display(), epoch(state));
        } else {
            println!(
                "{}: epoch {:.3}, validation {:.3} nats",
                dir.display(),
                epoch(state),
                score(model)
            );
        }
    }
    let mean = average::mean_of(&models)?;
    let newest = states
        .iter()
        .max_by_key(|s| s.images)
        .cloned()
        .unwrap_or_default();
    let state = TrainState {
        averaged_epochs: states
            .iter()
            .map(|s| (epoch(s) * 1000.0).round() / 1000.0)
            .collect(),
        ..newest
    };
    if !validation.is_empty() {
        println!(
            "mean of {} checkpoints: validation {:.3} nats",
            models.len(),
            score(&mean)
        );
    }
    train::save_weights_checkpoint(&args.out_dir, &mean, &state)?;
    println!(
        "wrote {}: evaluate and store it with `pixelcnn export --checkpoint-dir {}`",
        args.out_dir.display(),
        args.out_dir.display()
    );
    Ok(())
}
