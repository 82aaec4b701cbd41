//! Sample quality without a feature network: improved precision and recall (Kynkäänniemi et
//! al. 2019) in pixel space, and the roughness of images. `pixelcnn temperature` chooses a
//! model's default temperature with them.
//!
//! Each set of images spans a "manifold": the union of balls around its images, each as wide
//! as the distance to that image's k-th nearest neighbour in its own set. Precision is the
//! share of generated images inside the real images' manifold (do samples look like data?);
//! recall is the share of real images inside the generated images' manifold (do samples cover
//! the data?). Noise lowers precision; samples collapsed onto a few plain images lower recall.

/// Images as values (any range), all of one length.
pub type Images<'a> = [&'a [f32]];

/// Mean absolute difference of two images' values.
pub fn distance(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from((x - y).abs()))
        .sum();
    sum / a.len().max(1) as f64
}

/// Each image's distance to its `k`-th nearest neighbour in its own set (itself excluded);
/// infinite when the set has no `k` other images.
pub fn radii(set: &Images, k: usize) -> Vec<f64> {
    set.iter()
        .enumerate()
        .map(|(i, a)| {
            let mut d: Vec<f64> = set
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, b)| distance(a, b))
                .collect();
            d.sort_by(f64::total_cmp);
            d.get(k.max(1) - 1).copied().unwrap_or(f64::INFINITY)
        })
        .collect()
}

/// A set of images with the ball of each: built once, it judges any number of other sets.
pub struct Manifold<'a> {
    images: Vec<&'a [f32]>,
    radii: Vec<f64>,
}

impl<'a> Manifold<'a> {
    /// Balls reaching each image's `k`-th nearest neighbour in `images`.
    pub fn new(images: &Images<'a>, k: usize) -> Self {
        Self {
            radii: radii(images, k),
            images: images.to_vec(),
        }
    }

    pub fn images(&self) -> &Images<'a> {
        &self.images
    }

    /// The share of `points` inside some ball of the manifold.
    pub fn share_inside(&self, points: &Images) -> f64 {
        let inside = points
            .iter()
            .filter(|p| {
                let mut balls = self.images.iter().zip(&self.radii);
                balls.any(|(s, &r)| distance(p, s) <= r)
            })
            .count();
        inside as f64 / points.len().max(1) as f64
    }
}

/// (precision, recall) of `generated` against the manifold of the real images, with the
/// same `k` for the generated images' balls.
pub fn precision_recall(real: &Manifold, generated: &Images, k: usize) -> (f64, f64) {
    let precision = real.share_inside(generated);
    let recall = Manifold::new(generated, k).share_inside(&real.images);
    (precision, recall)
}

/// Mean absolute difference of horizontally and vertically neighbouring values of an image
/// [C, H, W] (`height` × `width` planes).
pub fn roughness(image: &[f32], height: usize, width: usize) -> f64 {
    let (mut sum, mut pairs) = (0.0, 0usize);
    for plane in image.chunks(height * width) {
        for r in 0..height {
            for c in 0..width {
                let v = f64::from(plane[r * width + c]);
                if c + 1 < width {
                    sum += (v - f64::from(plane[r * width + c + 1])).abs();
                    pairs += 1;
                }
                if r + 1 < height {
                    sum += (v - f64::from(plane[(r + 1) * width + c])).abs();
                    pairs += 1;
                }
            }
        }
    }
    sum / pairs.max(1) as f64
}
