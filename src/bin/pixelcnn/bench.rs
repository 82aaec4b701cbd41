//! `pixelcnn bench`: naive against cached sampling on a shipped model; with `--scoring`, the
//! importance weights of a pool from the sampling pass against a separate pass; with
//! `--fused`, the CPU engine against the fused GPU kernels.

use std::error::Error;
use std::path::PathBuf;

use burn::tensor::Device;
use clap::Args;
use pixelcnn::bench::{run_bench, run_scoring_bench, scoring_table};

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Model manifest (JSON); the weights file is found next to it.
    #[arg(long, default_value = "www/models/mnist.json")]
    pub model: PathBuf,
    /// Batch size to time; repeat the flag for several.
    #[arg(long = "batch", default_values_t = [1usize, 16])]
    pub batches: Vec<usize>,
    /// Timed runs per sampler and batch size; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Time the naive sampler on only the first N pixels and scale to the full image (every
    /// naive step is one full forward pass, so its cost per pixel is constant); a full naive
    /// completion at batch 16 takes over ten minutes on a 2-core CPU. Default: one row (28
    /// pixels), extrapolated and marked so in the report; `--naive-pixels 0` times it all.
    #[arg(long, default_value_t = 28)]
    pub naive_pixels: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Instead: time drawing a pool of each --batch size for a top-half hole with its
    /// importance weights summed in the sampling pass, against a separate forward pass.
    #[arg(long)]
    pub scoring: bool,
    /// Instead: time the CPU engine against the fused GPU kernels (on the default wgpu
    /// adapter) on full completions and on scored top-half pools of each --batch size.
    #[arg(long, conflicts_with = "scoring")]
    pub fused: bool,
}

pub fn run(args: &BenchArgs) -> Result<(), Box<dyn Error>> {
    if args.batches.contains(&0) {
        return Err("--batch must be at least 1".into());
    }
    let device = Device::flex();
    let (model, _manifest) = pixelcnn::weights::load_model(&args.model, &device)?;
    if args.fused {
        return run_fused(args, &model, &device);
    }
    if args.scoring {
        let rows = run_scoring_bench(&model, &device, &args.batches, args.repeats)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else {
            print!("{}", scoring_table(&rows, args.repeats));
        }
        return Ok(());
    }
    let report = run_bench(
        &model,
        &device,
        &args.batches,
        args.repeats,
        (args.naive_pixels > 0).then_some(args.naive_pixels),
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

#[cfg(feature = "fused")]
fn run_fused(
    args: &BenchArgs,
    model: &pixelcnn::PixelCnn,
    device: &Device,
) -> Result<(), Box<dyn Error>> {
    let gpu = futures_lite::future::block_on(pixelcnn::fused::Gpu::new())?;
    let rows = pixelcnn::bench::run_fused_bench(model, device, &gpu, &args.batches, args.repeats)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let table = pixelcnn::bench::fused_table(&rows, &gpu.adapter, args.repeats);
        print!("{table}");
    }
    Ok(())
}

#[cfg(not(feature = "fused"))]
fn run_fused(_: &BenchArgs, _: &pixelcnn::PixelCnn, _: &Device) -> Result<(), Box<dyn Error>> {
    Err("this binary was built without the fused kernels; rebuild with `--features fused`".into())
}
