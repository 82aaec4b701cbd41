//! The autoregressive property, checked exhaustively on small images with random weights:
//! changing the value at position p (pixel-major, channel-minor: R→G→B inside a pixel) must
//! leave every logit at positions ≤ p unchanged and change at least one logit after p.

mod common;

use burn::tensor::Device;
use pixelcnn::PixelCnnConfig;

fn config(channels: usize, levels: usize, side: usize) -> PixelCnnConfig {
    PixelCnnConfig {
        levels,
        ..common::small_config(channels, side, 4, 0)
    }
}

/// Value position (raster pixel, then channel) of a logit index in [1, C, K, H, W].
fn logit_position(index: usize, cfg: &PixelCnnConfig) -> usize {
    let pixels = cfg.height * cfg.width;
    let pixel = index % pixels;
    let channel = index / (pixels * cfg.levels);
    pixel * cfg.channels + channel
}

/// Input index in [1, C, H, W] of value position p.
fn input_index(p: usize, cfg: &PixelCnnConfig) -> usize {
    let (pixel, channel) = (p / cfg.channels, p % cfg.channels);
    channel * cfg.height * cfg.width + pixel
}

fn check_causality(channels: usize, side: usize) {
    let cfg = config(channels, 4, side);
    let model = common::seeded_model(&cfg, &Device::flex(), 7);
    let n = cfg.values_per_image();
    let base: Vec<f32> = (0..n).map(|i| ((i * 7 + 3) % cfg.levels) as f32).collect();
    let reference = common::logits(&model, &base);
    for p in 0..n {
        let mut changed = base.clone();
        let at = input_index(p, &cfg);
        changed[at] = (changed[at] + 1.0) % cfg.levels as f32;
        let out = common::logits(&model, &changed);
        let mut later_changed = false;
        for (i, (a, b)) in reference.iter().zip(&out).enumerate() {
            let q = logit_position(i, &cfg);
            let differs = (a - b).abs() > 1e-6;
            if q <= p {
                assert!(
                    !differs,
                    "C={channels}: logit for position {q} changed when value {p} changed"
                );
            } else if differs {
                later_changed = true;
            }
        }
        if p + 1 < n {
            assert!(
                later_changed,
                "C={channels}: value {p} influences no later logit"
            );
        }
    }
}

#[test]
fn grey_images_are_causal() {
    check_causality(1, 6);
}

#[test]
fn rgb_images_are_causal_across_pixels_and_channels() {
    check_causality(3, 4);
}

/// The original PixelCNN cannot see the top-right corner from the last pixel; the gated one
/// with its vertical stack can.
#[test]
fn no_blind_spot_last_pixel_sees_top_right_corner() {
    let cfg = config(1, 4, 6);
    let model = common::seeded_model(&cfg, &Device::flex(), 11);
    let n = cfg.values_per_image();
    let base = vec![1.0; n];
    let mut changed = base.clone();
    changed[cfg.width - 1] = 3.0; // row 0, last column
    let a = common::logits(&model, &base);
    let b = common::logits(&model, &changed);
    let last_pixel = n - 1;
    let pixels = cfg.height * cfg.width;
    let differs = (0..cfg.levels)
        .any(|k| (a[k * pixels + last_pixel] - b[k * pixels + last_pixel]).abs() > 1e-6);
    assert!(
        differs,
        "the last pixel's logits ignore the top-right pixel: blind spot"
    );
}
