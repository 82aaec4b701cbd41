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
    if model.config.orders > 1 {
        let nll = train::evaluate_orders(&model, &test_set, args.batch, workers, &device, true);
        println!(
            "{}: test NLL in the identity order {:.3} nats/image ({:.4} bits/dim), mixture of {} orders {:.3} nats/image, over {} images (manifest: {:.3} and {} nats)",
            manifest.name,
            nll.identity,
            bits_per_dim(nll.identity, &manifest.config),
            model.config.orders,
            nll.mixture,
            test_set.len(),
            manifest.metrics.test_nll_nats,
            manifest
                .metrics
                .test_mixture_nll_nats
                .map_or("no".into(), |m| format!("{m:.3}"))
        );
        return Ok(());
    }
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
