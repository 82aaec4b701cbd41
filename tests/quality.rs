//! Precision and recall of samples against real images, and roughness: the statistics that
//! choose a model's default temperature.

use pixelcnn::quality::{Manifold, distance, precision_recall, radii, roughness};

/// Images of 4 values: a spread of real ones along a line.
fn line(n: usize, offset: f32) -> Vec<Vec<f32>> {
    (0..n).map(|i| vec![i as f32 + offset; 4]).collect()
}

fn refs(images: &[Vec<f32>]) -> Vec<&[f32]> {
    images.iter().map(Vec::as_slice).collect()
}

#[test]
fn radii_are_the_distance_to_the_kth_neighbour() {
    assert_eq!(distance(&[0.0, 2.0], &[1.0, 0.0]), 1.5);
    let images = line(5, 0.0);
    assert_eq!(radii(&refs(&images), 1), [1.0, 1.0, 1.0, 1.0, 1.0]);
    assert_eq!(radii(&refs(&images), 2), [2.0, 1.0, 1.0, 1.0, 2.0]);
    assert!(
        radii(&refs(&images[..2]), 2)
            .iter()
            .all(|r| r.is_infinite())
    );
}

#[test]
fn samples_like_the_data_score_full_precision_and_recall() {
    let real = line(20, 0.0);
    let real = Manifold::new(&refs(&real), 3);
    let (p, r) = precision_recall(&real, &refs(&line(20, 0.25)), 3);
    assert_eq!((p, r), (1.0, 1.0));
}

#[test]
fn noise_lowers_precision_and_collapse_lowers_recall() {
    let real = line(20, 0.0);
    let real = Manifold::new(&refs(&real), 3);
    // Far from every real image, but spread like them.
    let noise = line(20, 100.0);
    let (p, r) = precision_recall(&real, &refs(&noise), 3);
    assert_eq!((p, r), (0.0, 0.0));
    // Every sample one plain image inside the data: precise, covering almost nothing.
    let collapsed = vec![vec![0.0; 4]; 20];
    let (p, r) = precision_recall(&real, &refs(&collapsed), 3);
    assert_eq!(p, 1.0);
    assert_eq!(
        r,
        1.0 / 20.0,
        "only the real image equal to the collapsed one"
    );
}

#[test]
fn roughness_is_zero_for_flat_images_and_grows_with_noise() {
    assert_eq!(roughness(&[5.0; 2 * 3 * 3], 3, 3), 0.0);
    // A checkerboard: every neighbour differs by 1.
    let board: Vec<f32> = (0..9).map(|i| ((i / 3 + i % 3) % 2) as f32).collect();
    assert_eq!(roughness(&board, 3, 3), 1.0);
}
