//! `pixelcnn curve`: the training curve of a checkpoint folder as a PNG (training loss and
//! validation NLL from `curve.csv` against epochs, plus test-set points given on the command
//! line or read from a manifest).

use std::error::Error;
use std::path::PathBuf;

use clap::Args;
use pixelcnn::train::CurvePoint;

#[derive(Args)]
pub struct CurveArgs {
    #[arg(long, default_value = "checkpoints/mnist")]
    checkpoint_dir: PathBuf,
    #[arg(long, default_value = "docs/training-curve.png")]
    out: PathBuf,
    /// Test-set NLL measured at an epoch, as EPOCH:NATS; repeat for several.
    #[arg(long = "test-point", value_parser = parse_point)]
    test_points: Vec<(f64, f64)>,
    /// Also mark the test NLL recorded in this manifest at its epochs.
    #[arg(long)]
    manifest: Option<PathBuf>,
}

fn parse_point(text: &str) -> Result<(f64, f64), String> {
    let (epoch, nats) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}`: expected EPOCH:NATS, e.g. 2.3:90.19"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|e| format!("`{text}`: {e}"))
    };
    Ok((number(epoch)?, number(nats)?))
}

pub fn run(args: CurveArgs) -> Result<(), Box<dyn Error>> {
    let path = args.checkpoint_dir.join("curve.csv");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("could not read {}: {e}", path.display()))?;
    let points = CurvePoint::read_csv(&text);
    if points.is_empty() {
        return Err(format!("{} has no curve points yet", path.display()).into());
    }
    let mut tests = args.test_points.clone();
    if let Some(manifest) = &args.manifest {
        let json = std::fs::read_to_string(manifest)
            .map_err(|e| format!("could not read {}: {e}", manifest.display()))?;
        let manifest = pixelcnn::weights::parse_manifest(&json)?;
        tests.push((manifest.metrics.epochs, manifest.metrics.test_nll_nats));
    }
    let series = [
        Series {
            name: "training loss (mean since the previous checkpoint)",
            colour: [70, 110, 200],
            points: points.iter().map(|p| (p.epoch, p.train_nll)).collect(),
            joined: true,
        },
        Series {
            name: "validation NLL (held-out training images)",
            colour: [230, 120, 20],
            points: points
                .iter()
                .filter(|p| p.valid_nll.is_finite())
                .map(|p| (p.epoch, p.valid_nll))
                .collect(),
            joined: true,
        },
        Series {
            name: "test NLL (test split)",
            colour: [200, 30, 30],
            points: tests,
            joined: false,
        },
    ];
    let chart = Chart::new(900, 460);
    let png = chart.render(&series, "nats per image against epochs");
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::File::create(&args.out)
        .map_err(|e| format!("could not create {}: {e}", args.out.display()))?;
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(file),
        chart.width as u32,
        chart.height as u32,
    );
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&png)?;
    println!(
        "wrote {} ({} curve points)",
        args.out.display(),
        points.len()
    );
    Ok(())
}

struct Series {
    name: &'static str,
    colour: [u8; 3],
    points: Vec<(f64, f64)>,
    /// Lines between the points, or markers only.
    joined: bool,
}

struct Chart {
    width: usize,
    height: usize,
    /// Plot area: left, top, right, bottom.
    area: [usize; 4],
}

struct Canvas {
    width: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, rgb: [u8; 3]) {
        let height = self.pixels.len() / 3 / self.width;
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < height {
            let at = (y as usize * self.width + x as usize) * 3;
            self.pixels[at..at + 3].copy_from_slice(&rgb);
        }
    }

    fn line(&mut self, from: (f64, f64), to: (f64, f64), rgb: [u8; 3], thick: i64) {
        let steps = (to.0 - from.0)
            .abs()
            .max((to.1 - from.1).abs())
            .ceil()
            .max(1.0) as i64;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let (x, y) = (from.0 + (to.0 - from.0) * t, from.1 + (to.1 - from.1) * t);
            for dx in 0..thick {
                for dy in 0..thick {
                    self.set(x.round() as i64 + dx, y.round() as i64 + dy, rgb);
                }
            }
        }
    }

    /// Text in the 8×8 bitmap font, top-left at (x, y), `scale` pixels per font pixel.
    fn text(&mut self, x: i64, y: i64, text: &str, rgb: [u8; 3], scale: i64) {
        for (i, ch) in text.chars().enumerate() {
            let glyph = font8x8::legacy::BASIC_LEGACY
                .get(ch as usize)
                .copied()
                .unwrap_or(font8x8::legacy::NOTHING_TO_DISPLAY);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for sx in 0..scale {
                            for sy in 0..scale {
                                self.set(
                                    x + (i as i64 * 8 + col) * scale + sx,
                                    y + row as i64 * scale + sy,
                                    rgb,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Chart {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            area: [70, 40, width - 20, height - 110],
        }
    }

    fn render(&self, series: &[Series], title: &str) -> Vec<u8> {
        let mut canvas = Canvas {
            width: self.width,
            pixels: vec![255; self.width * self.height * 3],
        };
        let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.points.clone()).collect();
        let (x_lo, x_hi) = padded_range(all.iter().map(|p| p.0), 0.02);
        let (y_lo, y_hi) = padded_range(all.iter().map(|p| p.1), 0.08);
        let [left, top, right, bottom] = self.area.map(|v| v as f64);
        let to_px = |(x, y): (f64, f64)| {
            (
                left + (x - x_lo) / (x_hi - x_lo) * (right - left),
                bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top),
            )
        };
        let (grid, axis, ink) = ([225, 225, 225], [90, 90, 90], [30, 30, 30]);
        for tick in ticks(y_lo, y_hi) {
            let (_, y) = to_px((x_lo, tick));
            canvas.line((left, y), (right, y), grid, 1);
            let label = format!("{tick:.0}");
            canvas.text(
                left as i64 - 10 - 8 * label.len() as i64,
                y as i64 - 4,
                &label,
                ink,
                1,
            );
        }
        for tick in ticks(x_lo, x_hi) {
            let (x, _) = to_px((tick, y_lo));
            canvas.line((x, top), (x, bottom), grid, 1);
            let label = format_tick(tick);
            canvas.text(
                x as i64 - 4 * label.len() as i64,
                bottom as i64 + 8,
                &label,
                ink,
                1,
            );
        }
        canvas.line((left, bottom), (right, bottom), axis, 1);
        canvas.line((left, top), (left, bottom), axis, 1);
        canvas.text(left as i64, 12, title, ink, 2);
        canvas.text(right as i64 - 6 * 8, bottom as i64 + 24, "epochs", ink, 1);
        for s in series {
            let pixels: Vec<(f64, f64)> = s.points.iter().map(|&p| to_px(p)).collect();
            if s.joined {
                for pair in pixels.windows(2) {
                    canvas.line(pair[0], pair[1], s.colour, 2);
                }
            }
            for &(x, y) in &pixels {
                let r = if s.joined { 2.0 } else { 4.0 };
                canvas.line((x - r, y - r), (x + r, y - r), s.colour, 2);
                canvas.line((x - r, y + r), (x + r, y + r), s.colour, 2);
                canvas.line((x - r, y - r), (x - r, y + r), s.colour, 2);
                canvas.line((x + r, y - r), (x + r, y + r), s.colour, 2);
            }
        }
        for (i, s) in series.iter().enumerate() {
            let y = bottom + 44.0 + 18.0 * i as f64;
            canvas.line((left, y), (left + 24.0, y), s.colour, 3);
            canvas.text(left as i64 + 34, y as i64 - 4, s.name, ink, 1);
        }
        canvas.pixels
    }
}

fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(1e-6);
    (lo - pad * span, hi + pad * span)
}

/// Round tick positions: five to ten per axis at 1, 2 or 5 × a power of ten.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 7.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * power);
    let mut tick = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while tick <= hi {
        out.push(tick);
        tick += step;
    }
    out
}

fn format_tick(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}
