//! The holes a person paints, as known-pixel masks: what `pixelcnn complete-eval` measures
//! completions on, and what the order tests check the order choice with.

use crate::sample::uniform;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hole {
    BottomHalf,
    TopHalf,
    LeftHalf,
    RightHalf,
    MiddleBand,
    Blob,
}

impl Hole {
    pub const ALL: [Hole; 6] = [
        Hole::BottomHalf,
        Hole::TopHalf,
        Hole::LeftHalf,
        Hole::RightHalf,
        Hole::MiddleBand,
        Hole::Blob,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Hole::BottomHalf => "bottom half",
            Hole::TopHalf => "top half",
            Hole::LeftHalf => "left half",
            Hole::RightHalf => "right half",
            Hole::MiddleBand => "middle band (rows 10-17 of 28)",
            Hole::Blob => "blob (~25 %)",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Hole::BottomHalf => "bottom",
            Hole::TopHalf => "top",
            Hole::LeftHalf => "left",
            Hole::RightHalf => "right",
            Hole::MiddleBand => "band",
            Hole::Blob => "blob",
        }
    }

    /// Known mask [H, W] (true = known); the blob is a disc of about a quarter of the image,
    /// its centre drawn per image from `seed` within the middle 40 % of each side.
    pub fn known(self, height: usize, width: usize, seed: u64) -> Vec<bool> {
        let band = height * 5 / 14..height * 9 / 14;
        match self {
            Hole::BottomHalf => mask(height, width, |r, _| r >= height / 2),
            Hole::TopHalf => mask(height, width, |r, _| r < height / 2),
            Hole::LeftHalf => mask(height, width, |_, c| c < width / 2),
            Hole::RightHalf => mask(height, width, |_, c| c >= width / 2),
            Hole::MiddleBand => mask(height, width, |r, _| band.contains(&r)),
            Hole::Blob => disc(
                height,
                width,
                (
                    height as f64 * (0.3 + 0.4 * uniform(seed, 0, 0, 0, 1)),
                    width as f64 * (0.3 + 0.4 * uniform(seed, 0, 0, 0, 2)),
                ),
            ),
        }
    }
}

/// Known mask [H, W]: every pixel (row, column) that `hidden` does not claim.
fn mask(height: usize, width: usize, hidden: impl Fn(usize, usize) -> bool) -> Vec<bool> {
    (0..height * width)
        .map(|p| !hidden(p / width, p % width))
        .collect()
}

/// Known mask [H, W] with a hidden disc of about a quarter of the image at `centre`
/// (row, column, in pixels).
pub fn disc(height: usize, width: usize, centre: (f64, f64)) -> Vec<bool> {
    let radius = (0.25 * (height * width) as f64 / std::f64::consts::PI).sqrt();
    mask(height, width, |r, c| {
        let (dy, dx) = (r as f64 + 0.5 - centre.0, c as f64 + 0.5 - centre.1);
        dy * dy + dx * dx <= radius * radius
    })
}
