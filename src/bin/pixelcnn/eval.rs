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
    let config = &manifest.config;
    let kind = args.model.data.kind_for(config);
    let workers = default_workers(args.model.backend);
    for set in args
        .model
        .data
        .load_sets(kind, Split::Test, config.levels)?
    {
        let test_set = set.data.truncate(args.limit.unwrap_or(usize::MAX));
        let stated = manifest
            .stated_test_nll(&set.source)
            .map_or("none".into(), |nll| format!("{nll:.3} nats"));
        let on = format!("{} on {}", manifest.name, set.source.name);
        if model.config.orders > 1 {
            let nll = train::evaluate_orders(&model, &test_set, args.batch, workers, &device, true);
            println!(
                "{on}: test NLL in the identity order {:.3} nats/image ({:.4} bits/dim), mixture of {} orders {:.3} nats/image, over {} images (manifest: {stated} and {} nats)",
                nll.identity,
                bits_per_dim(nll.identity, config),
                model.config.orders,
                nll.mixture,
                test_set.len(),
                manifest
                    .metrics
                    .test_mixture_nll_nats
                    .map_or("no".into(), |m| format!("{m:.3}"))
            );
        } else {
            let nll = train::evaluate(&model, &test_set, args.batch, workers, &device, true);
            println!(
                "{on}: test NLL {nll:.3} nats/image, {:.4} bits/dim over {} images (manifest: {stated})",
                bits_per_dim(nll, config),
                test_set.len(),
            );
        }
    }
    Ok(())
}
