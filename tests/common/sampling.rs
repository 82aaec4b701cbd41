//! Small models with random weights and requests that exercise every path of the samplers,
//! shared by the sampler tests.

use burn::module::Param;
use burn::tensor::{Device, Distribution, Tensor};
use pixelcnn::model::MaskedConv;
use pixelcnn::sample::SampleRequest;
use pixelcnn::{PixelCnn, PixelCnnConfig};

fn randomize_bias(conv: &mut MaskedConv, device: &Device) {
    let n = conv.bias.dims()[0];
    conv.bias = Param::from_tensor(Tensor::random(
        [n],
        Distribution::Uniform(-0.5, 0.5),
        device,
    ));
}

/// Random weights, and random biases and class biases too (they start at zero, which would
/// let a sampler that drops a bias term pass). The same weights on every run (see
/// `common::seed_lock`).
pub fn seeded_model(cfg: &PixelCnnConfig, seed: u64) -> PixelCnn {
    let _guard = super::seed_lock();
    let device = Device::flex();
    device.seed(seed);
    let mut model = PixelCnn::new(cfg, &device).expect("valid config");
    for conv in model.convolutions_mut() {
        randomize_bias(conv, &device);
    }
    for layer in &mut model.layers {
        for bias in [&mut layer.class_bias, &mut layer.order_bias] {
            if let Some(b) = bias {
                let dims = b.dims();
                *bias = Some(Param::from_tensor(Tensor::random(
                    dims,
                    Distribution::Uniform(-1.0, 1.0),
                    &device,
                )));
            }
        }
    }
    model
}

/// Which pixels are hidden, per batch item.
#[derive(Clone, Copy, Debug)]
pub enum Hidden {
    All,
    BottomHalf,
    /// A different pattern per batch item, with positions known in every item between hidden
    /// ones (so the sampler must skip pixels inside a row and whole rows).
    PerItem,
}

pub fn request(
    cfg: &PixelCnnConfig,
    batch: usize,
    hidden: Hidden,
    temperature: f32,
    seed: u64,
) -> SampleRequest {
    let (h, w, c) = (cfg.height, cfg.width, cfg.channels);
    let mut known = vec![false; batch * h * w];
    for b in 0..batch {
        for r in 0..h {
            for col in 0..w {
                let hide = match hidden {
                    Hidden::All => true,
                    Hidden::BottomHalf => r >= h / 2,
                    Hidden::PerItem => match b % 3 {
                        0 => (2..4).contains(&r) && (1..w - 1).contains(&col),
                        1 => (r == 2 && col == w - 1) || (r == 3 && col == 2) || r == h - 1,
                        _ => r >= 3 && col >= 2,
                    },
                };
                known[(b * h + r) * w + col] = !hide;
            }
        }
    }
    // Known values everywhere (ignored where hidden): a fixed pattern over all levels.
    let levels = (0..batch * c * h * w)
        .map(|i| ((i * 7 + i / 5) % cfg.levels) as f32)
        .collect();
    let labels = (cfg.classes > 0).then(|| (0..batch).map(|b| (b % cfg.classes) as i64).collect());
    SampleRequest {
        batch,
        levels,
        known,
        temperature,
        seed,
        first_item: 0,
        labels,
        order: 0,
    }
}
