//! `pixelcnn sample`: a PNG grid of samples and of completions of half-hidden test images.

use std::error::Error;
use std::path::PathBuf;

use burn::tensor::Device;
use clap::Args;
use pixelcnn::PixelCnn;
use pixelcnn::data::Split;
use pixelcnn::sample::{Completion, SampleRequest};

use crate::{ModelArgs, grid};

#[derive(Args)]
pub struct SampleArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value = "samples.png")]
    out: PathBuf,
    /// Unconditional samples (first rows of the grid).
    #[arg(long, default_value_t = 16)]
    samples: usize,
    /// Test images (spread over the test split) whose bottom half is hidden and completed.
    #[arg(long, default_value_t = 6)]
    completions: usize,
    /// Completions per test image.
    #[arg(long, default_value_t = 4)]
    alternatives: usize,
    /// Softmax temperature [default: the manifest's `default_temperature`, else 1].
    #[arg(long)]
    temperature: Option<f32>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Pixels per grid cell side.
    #[arg(long, default_value_t = 3)]
    scale: usize,
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

pub fn run(args: SampleArgs) -> Result<(), Box<dyn Error>> {
    let (model, manifest, device) = args.model.load()?;
    let config = &manifest.config;
    let temperature = args
        .temperature
        .or(manifest.default_temperature)
        .unwrap_or(1.0);
    let image = config.values_per_image();
    let mut grid = grid::Grid::new(config, args.scale);

    if args.samples > 0 {
        let request = SampleRequest::unconditional(&model, args.samples, temperature, args.seed);
        let samples = complete(&model, request, &device)?;
        // Rows as wide as the completion rows below: occluded + alternatives + original.
        let per_row = (args.alternatives + 2).max(4);
        for row in samples.chunks(image * per_row) {
            let cells = row.chunks(image).map(|c| grid.image(c)).collect();
            grid.add_row(cells);
        }
    }
    if args.completions > 0 {
        let test_set = args.model.data.load_for(&manifest.config, Split::Test)?;
        let pixels = config.height * config.width;
        let hidden_from = pixels / 2;
        let count = args.completions.min(test_set.len());
        for t in 0..count {
            // Spread over the test split: neighbouring test images can be near-duplicates
            // (emoji variants sit next to each other).
            let index = t * test_set.len() / count;
            let original: Vec<f32> = test_set.image(index).iter().map(|&v| v as f32).collect();
            let known: Vec<bool> = (0..pixels).map(|p| p < hidden_from).collect();
            let request = SampleRequest::repeated(
                &original,
                &known,
                args.alternatives,
                temperature,
                args.seed + t as u64 + 1,
                None,
            );
            let completed = complete(&model, request, &device)?;
            let mut row = vec![grid.occluded(&original, &known)];
            row.extend(completed.chunks(image).map(|c| grid.image(c)));
            row.push(grid.image(&original));
            grid.add_row(row);
        }
    }
    grid.write_png(&args.out)?;
    println!("wrote {} (temperature {temperature})", args.out.display());
    Ok(())
}
