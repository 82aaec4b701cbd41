//! `pixelcnn temperature`: what the softmax temperature does to a model's samples and to its
//! completions of held-out images, so that the page's default temperature for the model is a
//! measured choice. Samples are judged by precision and recall against held-out images
//! ([`pixelcnn::quality`]): noise lowers precision, samples that fade to a plain background
//! (colour samples at low temperatures) lower recall. The chosen temperature is the highest
//! whose F1 (their harmonic mean) is within `--tolerance` of the best: F1 over a thousand
//! samples moves by about a hundredth from one draw to the next, and among temperatures that
//! score alike the one nearest the model's own distribution is kept.

use std::error::Error;

use burn::tensor::Device;
use clap::Args;
use pixelcnn::PixelCnn;
use pixelcnn::cached::CachedSampler;
use pixelcnn::data::{Dataset, Split};
use pixelcnn::hole::Hole;
use pixelcnn::quality::{self, Manifold};
use pixelcnn::sample::{Completion, SampleRequest};
use pixelcnn::weights;
use serde::Serialize;

use crate::ModelArgs;
use crate::complete_eval::{score, to_vec};

#[derive(Args)]
pub struct TemperatureArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Temperatures to compare; repeat the flag for several.
    #[arg(long = "temperature", default_values_t = [1.0f32, 0.95, 0.9, 0.85, 0.8, 0.7])]
    temperatures: Vec<f32>,
    /// Unconditional samples per temperature, and held-out images they are compared with
    /// (spread over the test split; fewer if it is smaller).
    #[arg(long, default_value_t = 256)]
    samples: usize,
    /// F1 difference from the best within which the highest temperature is chosen.
    #[arg(long, default_value_t = 0.01)]
    tolerance: f64,
    /// Neighbour whose distance sets the radius of each image's ball.
    #[arg(long, default_value_t = 3)]
    k: usize,
    /// Held-out images completed per hole shape.
    #[arg(long, default_value_t = 8)]
    images: usize,
    /// Alternatives per completion (no pool).
    #[arg(long, default_value_t = 4)]
    alternatives: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Store the chosen temperature in the manifest (`default_temperature`): the page starts
    /// with it for this model.
    #[arg(long)]
    write: bool,
    /// Print the rows as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One temperature's figures (or, with no temperature, the held-out images' own).
#[derive(Serialize)]
struct Row {
    temperature: Option<f32>,
    /// Share of samples inside the held-out images' manifold.
    precision: Option<f64>,
    /// Share of held-out images inside the samples' manifold.
    recall: Option<f64>,
    /// Mean difference of neighbouring values, as a fraction of the level range.
    roughness: f64,
    /// Mean −log p(known values after the hole | completion), nats, over every hole shape.
    completion_fit_nats: f64,
    /// Mean |completed − original| over the hidden values, as a fraction of the level range.
    completion_error: f64,
}

impl Row {
    fn f1(&self) -> f64 {
        match (self.precision, self.recall) {
            (Some(p), Some(r)) if p + r > 0.0 => 2.0 * p * r / (p + r),
            _ => 0.0,
        }
    }
}

pub fn run(args: TemperatureArgs) -> Result<(), Box<dyn Error>> {
    let (model, manifest, device) = args.model.load()?;
    let test_set = args.model.data.load_for(&manifest.config, Split::Test)?;
    let real = held_out(&test_set, args.samples);
    let real: Vec<&[f32]> = real.iter().map(Vec::as_slice).collect();
    let study = Study {
        model: &model,
        device: &device,
        real: Manifold::new(&real, args.k),
        completed: held_out(&test_set, args.images),
        args: &args,
    };
    let mut rows = vec![study.reference()?];
    for &t in &args.temperatures {
        rows.push(study.at(t)?);
        eprintln!("temperature {t}: done");
    }
    let chosen = choose(&rows[1..], args.tolerance);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&rows, &args, study.real.images().len()));
    }
    println!(
        "chosen: temperature {chosen} (the highest within {} of the best F1)",
        args.tolerance
    );
    if args.write {
        weights::set_default_temperature(&args.model.model, chosen)?;
        println!(
            "wrote default_temperature {chosen} to {}",
            args.model.model.display()
        );
    }
    Ok(())
}

/// The highest temperature whose F1 is within `tolerance` of the best (1 without rows).
fn choose(rows: &[Row], tolerance: f64) -> f32 {
    let best = rows.iter().map(Row::f1).fold(f64::NEG_INFINITY, f64::max);
    rows.iter()
        .filter(|r| r.f1() >= best - tolerance)
        .filter_map(|r| r.temperature)
        .fold(None, |high: Option<f32>, t| {
            Some(high.map_or(t, |h| h.max(t)))
        })
        .unwrap_or(1.0)
}

/// `count` held-out images spread over the test split, as level values.
fn held_out(test_set: &Dataset, count: usize) -> Vec<Vec<f32>> {
    let n = test_set.len();
    let count = count.min(n).max(1);
    (0..count)
        .map(|k| {
            let image = test_set.image(k * n / count);
            image.iter().map(|&v| f32::from(v)).collect()
        })
        .collect()
}

struct Study<'a> {
    model: &'a PixelCnn,
    device: &'a Device,
    /// The held-out images the samples are compared with, and their balls.
    real: Manifold<'a>,
    /// The held-out images completed under every hole shape.
    completed: Vec<Vec<f32>>,
    args: &'a TemperatureArgs,
}

impl Study<'_> {
    /// The range of the values: distances are stated as fractions of it.
    fn top(&self) -> f64 {
        (self.model.config.levels - 1) as f64
    }

    fn roughness(&self, images: &[&[f32]]) -> f64 {
        let c = &self.model.config;
        let each = images
            .iter()
            .map(|i| quality::roughness(i, c.height, c.width));
        each.sum::<f64>() / images.len().max(1) as f64 / self.top()
    }

    /// The held-out images' roughness and the fit of the originals themselves.
    fn reference(&self) -> Result<Row, Box<dyn Error>> {
        let config = &self.model.config;
        let mut fits = vec![];
        for (t, original) in self.completed.iter().enumerate() {
            for hole in Hole::ALL {
                let known = hole.known(config.height, config.width, t as u64);
                fits.push(-score(self.model, original, &known, self.device)?[0]);
            }
        }
        Ok(Row {
            temperature: None,
            precision: None,
            recall: None,
            roughness: self.roughness(self.real.images()),
            completion_fit_nats: mean(&fits),
            completion_error: 0.0,
        })
    }

    /// Samples and completions at temperature `t`.
    fn at(&self, t: f32) -> Result<Row, Box<dyn Error>> {
        let config = &self.model.config;
        let count = self.real.images().len();
        let request = SampleRequest::unconditional(self.model, count, t, self.args.seed);
        let samples = self.finish(request)?;
        let generated: Vec<&[f32]> = samples.chunks(config.values_per_image()).collect();
        let (precision, recall) = quality::precision_recall(&self.real, &generated, self.args.k);
        let (mut fits, mut errors) = (vec![], vec![]);
        for (i, original) in self.completed.iter().enumerate() {
            for hole in Hole::ALL {
                let known = hole.known(config.height, config.width, i as u64);
                let (k, seed) = (self.args.alternatives, self.args.seed + 1 + i as u64);
                let request = SampleRequest::repeated(original, &known, k, t, seed, None);
                let canvas = self.finish(request)?;
                let scores = score(self.model, &canvas, &known, self.device)?;
                fits.extend(scores.iter().map(|s| -s));
                errors.extend(
                    canvas
                        .chunks(config.values_per_image())
                        .map(|c| hidden_error(c, original, &known) / self.top()),
                );
            }
        }
        Ok(Row {
            temperature: Some(t),
            precision: Some(precision),
            recall: Some(recall),
            roughness: self.roughness(&generated),
            completion_fit_nats: mean(&fits),
            completion_error: mean(&errors),
        })
    }

    fn finish(&self, request: SampleRequest) -> Result<Vec<f32>, Box<dyn Error>> {
        let mut sampler = CachedSampler::new(self.model, request, self.device)?;
        sampler.finish();
        to_vec(sampler.canvas())
    }
}

/// Mean |completion − original| over the hidden values (`known` per pixel, for every channel).
fn hidden_error(image: &[f32], original: &[f32], known: &[bool]) -> f64 {
    let pixels = known.len();
    let errors: Vec<f64> = (0..image.len())
        .filter(|&i| !known[i % pixels])
        .map(|i| f64::from((image[i] - original[i]).abs()))
        .collect();
    mean(&errors)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn table(rows: &[Row], args: &TemperatureArgs, samples: usize) -> String {
    let mut out = format!(
        "{} samples per temperature against as many held-out images (k = {}): precision = share of samples among the held-out images, recall = share of held-out images among the samples; roughness = mean difference of neighbouring values (fraction of the level range; first row: the held-out images); completions of {} held-out images per hole shape, every shape, {} alternatives, no pool: fit = mean −log p(known values after the hole | completion), nats (first row: the originals); error = mean |completed − original| over the hidden values\n",
        samples, args.k, args.images, args.alternatives
    );
    out.push_str(&format!(
        "{:<12} {:>9} {:>7} {:>6} {:>10} {:>15} {:>17}\n",
        "temperature",
        "precision",
        "recall",
        "F1",
        "roughness",
        "completion fit",
        "completion error"
    ));
    for row in rows {
        let name = row
            .temperature
            .map_or("held-out".into(), |t| format!("{t:.2}"));
        let share = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
        let f1 = row
            .temperature
            .map_or(String::new(), |_| format!("{:.3}", row.f1()));
        out.push_str(&format!(
            "{name:<12} {:>9} {:>7} {f1:>6} {:>10.4} {:>15.1} {:>17.4}\n",
            share(row.precision),
            share(row.recall),
            row.roughness,
            row.completion_fit_nats,
            row.completion_error
        ));
    }
    out
}
