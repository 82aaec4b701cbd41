//! PNG grids of images for `pixelcnn sample` and `pixelcnn complete-eval`.

use std::error::Error;
use std::path::Path;

use pixelcnn::PixelCnnConfig;

/// One image in the grid, as RGB bytes.
pub struct Cell {
    rgb: Vec<[u8; 3]>,
}

pub struct Grid {
    width: usize,
    height: usize,
    channels: usize,
    /// Largest level (K − 1), shown as full intensity.
    max_level: f32,
    scale: usize,
    rows: Vec<Vec<Cell>>,
}

impl Grid {
    pub fn new(config: &PixelCnnConfig, scale: usize) -> Self {
        Self {
            width: config.width,
            height: config.height,
            channels: config.channels,
            max_level: (config.levels - 1) as f32,
            scale: scale.max(1),
            rows: Vec::new(),
        }
    }

    /// A generated or original image, level indices [C, H, W]: grey for one channel, RGB for
    /// three.
    pub fn image(&self, levels: &[f32]) -> Cell {
        let plane = self.width * self.height;
        let byte = |v: f32| (v / self.max_level * 255.0).round().clamp(0.0, 255.0) as u8;
        let rgb = (0..plane)
            .map(|p| {
                if self.channels >= 3 {
                    [
                        byte(levels[p]),
                        byte(levels[plane + p]),
                        byte(levels[2 * plane + p]),
                    ]
                } else {
                    [byte(levels[p]); 3]
                }
            })
            .collect();
        Cell { rgb }
    }

    /// The input with hidden pixels shown in red, as in the PixelRNN figure's occluded column.
    pub fn occluded(&self, levels: &[f32], known: &[bool]) -> Cell {
        let mut cell = self.image(levels);
        for (pixel, &k) in cell.rgb.iter_mut().zip(known) {
            if !k {
                *pixel = [120, 30, 30];
            }
        }
        cell
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
