//! `pixelcnn complete-eval`: how well completions fit the known pixels after the hole, for the
//! raster order and (for a model with several) the order chosen for the hole, each without a
//! pool and with importance resampling at several pool sizes, on held-out digits; and the
//! same figure for the original digit, what a perfect completion would score.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::Args;
use pixelcnn::PixelCnn;
use pixelcnn::cached::CachedSampler;
use pixelcnn::data::{Dataset, Split};
use pixelcnn::hole::Hole;
use pixelcnn::importance::{ImportanceCompletion, ImportanceRequest};
use pixelcnn::order::Order;
use pixelcnn::sample::{Completion, Framed, SampleRequest};
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

#[derive(Serialize)]
struct Row {
    hole: &'static str,
    /// The generation order completed in: "top to bottom" (raster) or the one chosen for the
    /// hole; for the reference row, none.
    order: String,
    /// "plain" (the sampler's K alternatives), "sir" (K importance-resampled from a pool of
    /// `candidates`) or "original" (the test digit itself: what a perfect completion scores).
    method: &'static str,
    /// Pool size N (K for the plain sampler, 1 for the original).
    candidates: usize,
    alternatives: usize,
    /// Mean −log p(known pixels after the first hidden one | completion) in the identity
    /// order, over every alternative of every image, nats; lower fits the rest of the drawing
    /// better. Every row is scored this way, whatever order it was completed in.
    mean_nats: f64,
    /// Mean wall time of one completion (all K alternatives), seconds.
    seconds: f64,
    images: usize,
}

/// One way of completing: an order (None: the one chosen for the hole) and a pool size.
#[derive(Clone, Copy)]
struct Method {
    order: Option<Order>,
    candidates: usize,
}

pub fn run(args: CompleteEvalArgs) -> Result<(), Box<dyn Error>> {
    if args.digits == 0 {
        return Err("--digits must be at least 1".into());
    }
    let (model, manifest, device) = args.model.load()?;
    let config = &manifest.config;
    let test_set = args.model.data.load_for(&manifest.config, Split::Test)?;
    let k = args.alternatives;
    let pools: Vec<usize> = std::iter::once(k)
        .chain(args.candidates.iter().copied())
        .collect();
    let orders: Vec<Option<Order>> = if config.orders > 1 {
        vec![Some(Order::IDENTITY), None]
    } else {
        vec![Some(Order::IDENTITY)]
    };
    let methods: Vec<Method> = orders
        .iter()
        .flat_map(|&order| {
            pools
                .iter()
                .map(move |&candidates| Method { order, candidates })
        })
        .collect();
    let evaluation = Evaluation {
        model: &model,
        device: &device,
        test_set: &test_set,
        images: args.digits.min(test_set.len()),
        methods,
        args: &args,
    };
    let mut rows = Vec::new();
    for hole in Hole::ALL {
        let (hole_rows, grid) = evaluation.hole(hole)?;
        rows.extend(hole_rows);
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

/// Every method on the first `images` test digits.
struct Evaluation<'a> {
    model: &'a PixelCnn,
    device: &'a Device,
    test_set: &'a Dataset,
    images: usize,
    methods: Vec<Method>,
    args: &'a CompleteEvalArgs,
}

impl Evaluation<'_> {
    /// The rows of one hole shape (each method's, then the original's) and its grid.
    fn hole(&self, hole: Hole) -> Result<(Vec<Row>, grid::Grid), Box<dyn Error>> {
        let config = &self.model.config;
        let mut grid = grid::Grid::new(config, 3);
        let mut totals = vec![(0.0, 0.0); self.methods.len()];
        let mut reference = 0.0;
        let mut chosen_names = Vec::new();
        for t in 0..self.images {
            let original: Vec<f32> = self
                .test_set
                .image(t)
                .iter()
                .map(|&v| f32::from(v))
                .collect();
            let known = hole.known(config.height, config.width, t as u64);
            reference -= score(self.model, &original, &known, self.device)?[0];
            let mut cells = vec![grid.occluded(&original, &known)];
            for (m, &method) in self.methods.iter().enumerate() {
                let (canvas, order, seconds) = self.complete(method, &original, &known, t)?;
                if method.order.is_none() && !chosen_names.contains(&order.name()) {
                    chosen_names.push(order.name());
                }
                let scores = score(self.model, &canvas, &known, self.device)?;
                totals[m].0 += -scores.iter().sum::<f64>() / scores.len() as f64;
                totals[m].1 += seconds;
                // The grid shows the raster sampler's alternatives and the last method's.
                if m == 0 || m + 1 == self.methods.len() {
                    let images = canvas.chunks(config.values_per_image());
                    cells.extend(images.map(|c| grid.image(c)));
                }
            }
            cells.push(grid.image(&original));
            if t < self.args.grid_digits {
                grid.add_row(cells);
            }
        }
        Ok((
            self.rows(hole, &totals, reference, &chosen_names.join(" / ")),
            grid,
        ))
    }

    /// Completes digit `t` with `method`: the canvas of its alternatives, the order it ran
    /// in and the seconds it took.
    fn complete(
        &self,
        method: Method,
        original: &[f32],
        known: &[bool],
        t: usize,
    ) -> Result<(Vec<f32>, Order, f64), Box<dyn Error>> {
        let request = ImportanceRequest {
            levels: original.to_vec(),
            known: known.to_vec(),
            alternatives: self.args.alternatives,
            candidates: method.candidates,
            temperature: self.args.temperature,
            seed: t as u64,
            label: None,
            order: method.order,
            share: None,
        };
        let order = request.order_for(self.model);
        let start = Instant::now();
        let canvas = if method.candidates == self.args.alternatives {
            plain(self.model, request, self.device)?
        } else {
            let mut completion = ImportanceCompletion::new(self.model, request, self.device)?;
            completion.finish_blocking()?;
            to_vec(completion.canvas())?
        };
        Ok((canvas, order, start.elapsed().as_secs_f64()))
    }

    /// The rows of a hole from each method's (summed nats, summed seconds) and the original's
    /// summed nats; `chosen`: the orders chosen for the hole.
    fn rows(&self, hole: Hole, totals: &[(f64, f64)], reference: f64, chosen: &str) -> Vec<Row> {
        let (k, images) = (self.args.alternatives, self.images);
        let mut rows: Vec<Row> = self
            .methods
            .iter()
            .zip(totals)
            .map(|(method, &(nats, seconds))| Row {
                hole: hole.name(),
                order: method
                    .order
                    .map_or(chosen.to_string(), |o| o.name().to_string()),
                method: if method.candidates == k {
                    "plain"
                } else {
                    "sir"
                },
                candidates: method.candidates,
                alternatives: k,
                mean_nats: nats / images as f64,
                seconds: seconds / images as f64,
                images,
            })
            .collect();
        rows.push(Row {
            hole: hole.name(),
            order: String::new(),
            method: "original",
            candidates: 1,
            alternatives: k,
            mean_nats: reference / images as f64,
            seconds: 0.0,
            images,
        });
        rows
    }
}

/// The cached sampler's K alternatives in the request's order, with no pool: what a
/// completion costs without importance resampling.
fn plain(
    model: &PixelCnn,
    request: ImportanceRequest,
    device: &Device,
) -> Result<Vec<f32>, Box<dyn Error>> {
    let k = request.alternatives;
    let order = request.order_for(model);
    let sample = SampleRequest::repeated(
        &request.levels,
        &request.known,
        k,
        request.temperature,
        request.seed,
        None,
    )
    .in_order(&model.config, order);
    let mut sampler = Framed {
        inner: CachedSampler::new(model, sample, device)?,
        order,
    };
    sampler.finish();
    to_vec(sampler.canvas())
}

/// log p(known pixels after the first hidden one | the rest) of each completed image.
pub fn score(
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
    let log_probs = to_vec(model.log_probs(levels, &pixelcnn::model::Condition::none()))?;
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

pub fn to_vec(t: Tensor<4>) -> Result<Vec<f32>, Box<dyn Error>> {
    Ok(t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?)
}

fn table(rows: &[Row], pools: &[usize]) -> String {
    let mut out = format!(
        "mean −log p(known pixels after the hole | completion) in raster order, nats (lower fits better); seconds per completion of {} alternatives; {} test images per hole\n",
        rows.first().map_or(0, |r| r.alternatives),
        rows.first().map_or(0, |r| r.images),
    );
    out.push_str(&format!("{:<31} {:<30} {:>16}", "hole", "order", "no pool"));
    for n in pools {
        out.push_str(&format!(" {:>16}", format!("SIR N={n}")));
    }
    out.push_str(&format!(" {:>10}\n", "original"));
    let mut current = ("", "");
    for row in rows {
        if row.method == "original" {
            out.push_str(&format!(" {:>10.1}", row.mean_nats));
            continue;
        }
        if (row.hole, row.order.as_str()) != current {
            if !current.0.is_empty() {
                out.push('\n');
            }
            current = (row.hole, row.order.as_str());
            out.push_str(&format!("{:<31} {:<30}", row.hole, row.order));
        }
        out.push_str(&format!(
            " {:>16}",
            format!("{:.1} ({:.2} s)", row.mean_nats, row.seconds)
        ));
    }
    out.push('\n');
    out
}
