//! PNG grids of images for `pixelcnn sample`.

use std::error::Error;
use std::path::Path;

use pixelcnn::PixelCnnConfig;

/// One image in the grid, as RGB bytes.
pub struct Cell {
    rgb: Vec<[u8; 3]>,
}

impl Cell {
    fn grey(levels: &[f32], max: f32) -> Vec<[u8; 3]> {
        levels
            .iter()
            .map(|&v| {
                let g = (v / max * 255.0).round().clamp(0.0, 255.0) as u8;
                [g, g, g]
            })
            .collect()
    }

    /// A generated or original image (single channel, binarized levels 0/1).
    pub fn image(levels: &[f32]) -> Self {
        let max = levels.iter().cloned().fold(1.0, f32::max);
        Self {
            rgb: Self::grey(levels, max),
        }
    }

    /// The input with hidden pixels shown in red, as in the PixelRNN figure's occluded column.
    pub fn occluded(levels: &[f32], known: &[bool]) -> Self {
        let max = levels.iter().cloned().fold(1.0, f32::max);
        let mut rgb = Self::grey(levels, max);
        for (pixel, &k) in rgb.iter_mut().zip(known) {
            if !k {
                *pixel = [120, 30, 30];
            }
        }
        Self { rgb }
    }
}

pub struct Grid {
    width: usize,
    height: usize,
    scale: usize,
    rows: Vec<Vec<Cell>>,
}

impl Grid {
    pub fn new(config: &PixelCnnConfig, scale: usize) -> Self {
        Self {
            width: config.width,
            height: config.height,
            scale: scale.max(1),
            rows: Vec::new(),
        }
    }

    pub fn add_row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    pub fn write_png(&self, path: &Path) -> Result<(), Box<dyn Error>> {
        const GAP: usize = 2;
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let cell_w = self.width * self.scale + GAP;
        let cell_h = self.height * self.scale + GAP;
        let (w, h) = (cols * cell_w + GAP, self.rows.len() * cell_h + GAP);
        let mut pixels = vec![255u8; w * h * 3];
        for (r, row) in self.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                for y in 0..self.height * self.scale {
                    for x in 0..self.width * self.scale {
                        let rgb = cell.rgb[(y / self.scale) * self.width + x / self.scale];
                        let at = ((r * cell_h + GAP + y) * w + c * cell_w + GAP + x) * 3;
                        pixels[at..at + 3].copy_from_slice(&rgb);
                    }
                }
            }
        }
        let file = std::fs::File::create(path)
            .map_err(|e| format!("could not create {}: {e}", path.display()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&pixels)?;
        Ok(())
    }
}
