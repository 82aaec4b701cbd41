//! `pixelcnn eval`: test-set likelihood of a shipped model.

use std::error::Error;

use clap::Args;
use pixelcnn::data::Split;
use pixelcnn::train;

use crate::{ModelArgs, bits_per_dim, default_workers};

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    limit: Option<usize>,
}

pub fn run(args: EvalArgs) -> Result<(), Box<dyn Error>> {
    let (model, manifest, device) = args.model.load()?;
    let mut test_set = args.model.data.load_for(&manifest.config, Split::Test)?;
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
