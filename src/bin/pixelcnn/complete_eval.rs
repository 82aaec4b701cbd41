//! `pixelcnn complete-eval`: how well completions fit the known pixels after the hole, for the
//! raster sampler and for importance resampling at several pool sizes, on held-out digits.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::Args;
use pixelcnn::PixelCnn;
use pixelcnn::data::Split;
use pixelcnn::importance::{ImportanceCompletion, ImportanceRequest};
use pixelcnn::sample::{Completion, uniform};
use serde::Serialize;

use crate::{ModelArgs, grid};

#[derive(Args)]
pub struct CompleteEvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Test images to complete per hole shape (the first ones of the test split).
    #[arg(long, default_value_t = 20)]
    digits: usize,
    /// Alternatives per completion, K.
    #[arg(long, default_value_t = 4)]
    alternatives: usize,
    /// Pool sizes N for importance resampling; repeat the flag for several.
    #[arg(long = "candidates", default_values_t = [8usize, 32, 64])]
    candidates: Vec<usize>,
    #[arg(long, default_value_t = 1.0)]
    temperature: f32,
    /// Folder for one PNG grid per hole shape (input, raster alternatives, alternatives of the
    /// largest pool, original); none when omitted.
    #[arg(long)]
    grid_dir: Option<PathBuf>,
    /// Digits shown per grid.
    #[arg(long, default_value_t = 6)]
    grid_digits: usize,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// The holes a person paints.
#[derive(Clone, Copy)]
enum Hole {
    BottomHalf,
    TopHalf,
    LeftHalf,
    MiddleBand,
    Blob,
}

impl Hole {
    const ALL: [Hole; 5] = [
        Hole::BottomHalf,
        Hole::TopHalf,
        Hole::LeftHalf,
        Hole::MiddleBand,
        Hole::Blob,
    ];

    fn name(self) -> &'static str {
        match self {
            Hole::BottomHalf => "bottom half",
            Hole::TopHalf => "top half",
            Hole::LeftHalf => "left half",
            Hole::MiddleBand => "middle band (rows 10-17 of 28)",
            Hole::Blob => "blob (~25 %)",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Hole::BottomHalf => "bottom",
            Hole::TopHalf => "top",
            Hole::LeftHalf => "left",
            Hole::MiddleBand => "band",
            Hole::Blob => "blob",
        }
    }

    /// Known mask [H, W]; the blob is a disc of about a quarter of the image, its centre drawn
    /// per image from `seed`.
    fn known(self, height: usize, width: usize, seed: u64) -> Vec<bool> {
        let (cy, cx) = (
            height as f64 * (0.3 + 0.4 * uniform(seed, 0, 0, 0, 1)),
            width as f64 * (0.3 + 0.4 * uniform(seed, 0, 0, 0, 2)),
        );
        let radius = (0.25 * (height * width) as f64 / std::f64::consts::PI).sqrt();
        (0..height * width)
            .map(|p| {
                let (r, c) = (p / width, p % width);
                let hidden = match self {
                    Hole::BottomHalf => r >= height / 2,
                    Hole::TopHalf => r < height / 2,
                    Hole::LeftHalf => c < width / 2,
                    Hole::MiddleBand => (height * 5 / 14..height * 9 / 14).contains(&r),
                    Hole::Blob => {
                        let (dy, dx) = (r as f64 + 0.5 - cy, c as f64 + 0.5 - cx);
                        dy * dy + dx * dx <= radius * radius
                    }
                };
                !hidden
            })
            .collect()
    }
}

#[derive(Serialize)]
struct Row {
    hole: &'static str,
    /// "raster" or "sir".
    method: &'static str,
    /// Pool size N (K for the raster sampler).
    candidates: usize,
    alternatives: usize,
    /// Mean −log p(known pixels after the first hidden one | completion) over every
    /// alternative of every image, nats; lower fits the rest of the drawing better.
    mean_nats: f64,
    /// Mean wall time of one completion (all K alternatives), seconds.
    seconds: f64,
    images: usize,
}

pub fn run(args: CompleteEvalArgs) -> Result<(), Box<dyn Error>> {
    if args.digits == 0 {
        return Err("--digits must be at least 1".into());
    }
    let (model, manifest, device) = args.model.load()?;
    let config = &manifest.config;
    let test_set = args.model.data.load_for(&manifest.config, Split::Test)?;
    let images = args.digits.min(test_set.len());
    let k = args.alternatives;
    let mut rows = Vec::new();
    for hole in Hole::ALL {
        let methods: Vec<(&'static str, usize)> = std::iter::once(("raster", k))
            .chain(args.candidates.iter().map(|&n| ("sir", n)))
            .collect();
        let mut grid = grid::Grid::new(config, 3);
        let mut totals = vec![(0.0, 0.0); methods.len()];
        for t in 0..images {
            let original: Vec<f32> = test_set.image(t).iter().map(|&v| f32::from(v)).collect();
            let known = hole.known(config.height, config.width, t as u64);
            let mut cells = vec![grid.occluded(&original, &known)];
            for (m, &(method, n)) in methods.iter().enumerate() {
                let request = ImportanceRequest {
                    levels: original.clone(),
                    known: known.clone(),
                    alternatives: k,
                    candidates: n,
                    temperature: args.temperature,
                    seed: t as u64,
                    label: None,
                };
                let start = Instant::now();
                let (canvas, scores) = if method == "raster" {
                    let canvas = raster(&model, request, &device)?;
                    let seconds = start.elapsed().as_secs_f64();
                    totals[m].1 += seconds;
                    let scores = score(&model, &canvas, &known, &device)?;
                    (canvas, scores)
                } else {
                    let mut completion = ImportanceCompletion::new(&model, request, &device)?;
                    completion.finish_blocking()?;
                    let canvas = to_vec(completion.canvas())?;
                    totals[m].1 += start.elapsed().as_secs_f64();
                    (canvas, completion.scores().unwrap_or_default().to_vec())
                };
                totals[m].0 += -scores.iter().sum::<f64>() / scores.len() as f64;
                let last = m + 1 == methods.len();
                if m == 0 || last {
                    cells.extend(
                        canvas
                            .chunks(config.values_per_image())
                            .map(|c| grid.image(c)),
                    );
                }
            }
            cells.push(grid.image(&original));
            if t < args.grid_digits {
                grid.add_row(cells);
            }
        }
        for (&(method, n), &(nats, seconds)) in methods.iter().zip(&totals) {
            rows.push(Row {
                hole: hole.name(),
                method,
                candidates: n,
                alternatives: k,
                mean_nats: nats / images as f64,
                seconds: seconds / images as f64,
                images,
            });
        }
        if let Some(dir) = &args.grid_dir {
            std::fs::create_dir_all(dir)?;
            let path = dir.join(format!("complete-{}.png", hole.slug()));
            grid.write_png(&path)?;
            eprintln!("wrote {}", path.display());
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&rows, &args.candidates));
    }
    Ok(())
}

/// The raster sampler's K alternatives: a pool of exactly K is never resampled.
fn raster(
    model: &PixelCnn,
    request: ImportanceRequest,
    device: &Device,
) -> Result<Vec<f32>, Box<dyn Error>> {
    let k = request.alternatives;
    let mut sampler = pixelcnn::cached::CachedSampler::new(
        model,
        pixelcnn::sample::SampleRequest {
            batch: k,
            levels: request.levels.repeat(k),
            known: request.known.repeat(k),
            temperature: request.temperature,
            seed: request.seed,
            labels: None,
        },
        device,
    )?;
    sampler.finish();
    to_vec(sampler.canvas())
}

/// log p(known pixels after the first hidden one | the rest) of each completed image.
fn score(
    model: &PixelCnn,
    canvas: &[f32],
    known: &[bool],
    device: &Device,
) -> Result<Vec<f64>, Box<dyn Error>> {
    let c = &model.config;
    let batch = canvas.len() / c.values_per_image();
    let levels: Vec<i64> = canvas.iter().map(|&v| v as i64).collect();
    let levels = Tensor::<4, Int>::from_data(
        TensorData::new(levels, [batch, c.channels, c.height, c.width]),
        device,
    );
    let log_probs = to_vec(model.log_probs(levels, None))?;
    let pixels = c.height * c.width;
    let first = known.iter().position(|&k| !k).unwrap_or(pixels);
    Ok(log_probs
        .chunks(c.values_per_image())
        .map(|image| {
            image
                .iter()
                .enumerate()
                .filter(|&(i, _)| {
                    let p = i % pixels;
                    p > first && known[p]
                })
                .map(|(_, &lp)| f64::from(lp))
                .sum()
        })
        .collect())
}

fn to_vec(t: Tensor<4>) -> Result<Vec<f32>, Box<dyn Error>> {
    Ok(t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?)
}

fn table(rows: &[Row], pools: &[usize]) -> String {
    let mut out = format!(
        "mean −log p(known pixels after the hole | completion), nats (lower fits better); seconds per completion of {} alternatives; {} test images per hole\n",
        rows.first().map_or(0, |r| r.alternatives),
        rows.first().map_or(0, |r| r.images),
    );
    out.push_str(&format!("{:<26} {:>16}", "hole", "raster"));
    for n in pools {
        out.push_str(&format!(" {:>16}", format!("SIR N={n}")));
    }
    out.push('\n');
    let mut current = "";
    for row in rows {
        if row.hole != current {
            if !current.is_empty() {
                out.push('\n');
            }
            current = row.hole;
            out.push_str(&format!("{:<26}", row.hole));
        }
        out.push_str(&format!(
            " {:>16}",
            format!("{:.1} ({:.2} s)", row.mean_nats, row.seconds)
        ));
    }
    out.push('\n');
    out
}
