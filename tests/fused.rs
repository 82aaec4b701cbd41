//! The fused WebGPU kernels against the CPU engine's cached sampler: the same pixels for the
//! same request, the same logits at every value (within 1e-4), the same scores, and one
//! dispatch per generated value. Runs on whatever adapter wgpu finds (Mesa's lavapipe, a
//! software Vulkan, on a machine without a GPU).
#![cfg(feature = "fused")]

mod common;

use burn::tensor::Device;
use common::sampling::{Hidden, request, seeded_model};
use common::{small_config as config, to_vec};
use futures_lite::future::block_on;
use pixelcnn::cached::CachedSampler;
use pixelcnn::fused::{Extras, FusedModel, FusedSampler, Gpu};
use pixelcnn::sample::{Completion, SampleRequest};
use pixelcnn::{PixelCnn, PixelCnnConfig};

fn gpu() -> Gpu {
    block_on(Gpu::new()).unwrap_or_else(|e| {
        panic!("{e}: these tests need a WebGPU-capable adapter (e.g. Mesa's lavapipe)")
    })
}

/// The adapter with each workgroup size the kernels are built with (a GPU's and a CPU
/// adapter's), whichever this adapter would choose.
fn gpus() -> Vec<Gpu> {
    let gpu = gpu();
    [16, 64]
        .map(|threads| Gpu {
            threads,
            ..gpu.clone()
        })
        .to_vec()
}

/// The CPU engine's pixels and, per generated value in order, its logits.
fn cached_run(model: &PixelCnn, request: &SampleRequest) -> (Vec<f32>, Vec<Vec<f32>>) {
    let device = Device::flex();
    let mut cached = CachedSampler::new(model, request.clone(), &device).expect("request");
    let mut logits = Vec::new();
    while !cached.is_done() {
        cached.step_observed(usize::MAX, |_, _, l| logits.push(to_vec(l.clone())));
    }
    (to_vec(cached.canvas()), logits)
}

/// Steps the fused sampler one pixel at a time, reading the logits of each of its values.
fn fused_run(gpu: &Gpu, model: &PixelCnn, request: &SampleRequest) -> (Vec<f32>, Vec<Vec<f32>>) {
    let fused = FusedModel::new(gpu, model).expect("kernels");
    let extras = Extras {
        logits: true,
        ..Extras::default()
    };
    let mut sampler = FusedSampler::new(&fused, request.clone(), extras).expect("request");
    let (b, c, k) = (request.batch, model.config.channels, model.config.levels);
    let mut logits = Vec::new();
    while !sampler.is_done() {
        sampler.step(1);
        let step = block_on(sampler.step_logits()).expect("logits");
        logits.extend((0..c).map(|ch| step[ch * b * k..(ch + 1) * b * k].to_vec()));
    }
    (block_on(sampler.canvas()).expect("canvas"), logits)
}

fn check(gpu: &Gpu, model: &PixelCnn, request: SampleRequest) {
    let cfg = &model.config;
    let label = format!(
        "C={} batch={} T={} classes={} order={}",
        cfg.channels, request.batch, request.temperature, cfg.classes, request.order
    );
    let (want, want_logits) = cached_run(model, &request);
    let (got, got_logits) = fused_run(gpu, model, &request);
    assert_eq!(
        got_logits.len(),
        want_logits.len(),
        "{label}: values generated"
    );
    for (i, (g, w)) in got_logits.iter().zip(&want_logits).enumerate() {
        let worst = g
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= 1e-4,
            "{label}: logits of value {i} differ by {worst}: {g:?} vs {w:?}"
        );
    }
    assert_eq!(
        got, want,
        "{label}: fused pixels differ from the cached sampler's"
    );
}

fn check_all(gpu: &Gpu, cfg: &PixelCnnConfig, seed: u64) {
    let model = seeded_model(cfg, seed);
    for hidden in [Hidden::All, Hidden::BottomHalf, Hidden::PerItem] {
        for temperature in [0.0, 0.7, 1.0] {
            check(gpu, &model, request(cfg, 3, hidden, temperature, 42));
        }
    }
    check(gpu, &model, request(cfg, 1, Hidden::All, 1.0, 9));
}

#[test]
fn grey_fused_equals_cached() {
    for gpu in gpus() {
        check_all(&gpu, &config(1, 6, 4, 0), 1);
        check_all(&gpu, &config(1, 6, 3, 3), 2);
    }
}

#[test]
fn rgb_fused_equals_cached() {
    for gpu in gpus() {
        check_all(&gpu, &config(3, 5, 3, 0), 3);
        check_all(&gpu, &config(3, 5, 4, 2), 4);
    }
}

#[test]
fn fused_equals_cached_in_every_order_and_share_of_a_pool() {
    let gpu = gpu();
    let cfg = PixelCnnConfig {
        orders: 8,
        ..config(3, 5, 3, 2)
    };
    let model = seeded_model(&cfg, 7);
    for order in [0, 3, 6] {
        let mut req = request(&cfg, 2, Hidden::PerItem, 1.0, 44);
        req.order = order;
        req.first_item = 5;
        check(&gpu, &model, req);
    }
}

/// Scores summed over the known values after the hole, as the cached sampler sums them, for
/// holes that leave known pixels inside their rows, between them and after them.
#[test]
fn fused_scores_equal_the_cached_samplers() {
    let gpu = gpu();
    let device = Device::flex();
    for channels in [1, 3] {
        let cfg = config(channels, 6, 3, 2);
        let model = seeded_model(&cfg, 8);
        let fused = FusedModel::new(&gpu, &model).expect("kernels");
        let (h, w) = (cfg.height, cfg.width);
        let holes: [&dyn Fn(usize, usize) -> bool; 3] =
            [&|_, col| col < 3, &|r, _| (2..4).contains(&r), &|r, col| {
                (r == 1 && col == 4) || (r == 3 && (1..3).contains(&col))
            }];
        for (i, hidden) in holes.iter().enumerate() {
            let batch = 3;
            let known: Vec<bool> = (0..h * w).map(|p| !hidden(p / w, p % w)).collect();
            let first = known.iter().position(|&k| !k).expect("a hole");
            let scored: Vec<bool> = (0..h * w).map(|p| p > first && known[p]).collect();
            let mut req = request(&cfg, batch, Hidden::All, 1.0, 50 + i as u64);
            req.known = known.repeat(batch);
            let mut cached =
                CachedSampler::scoring(&model, req.clone(), &scored, &device).expect("request");
            cached.finish();
            let want = to_vec(cached.scores().expect("scores"));
            let extras = Extras {
                scored: Some(&scored),
                ..Extras::default()
            };
            let mut sampler = FusedSampler::new(&fused, req, extras).expect("request");
            assert_eq!(
                block_on(sampler.scores()).expect("read"),
                None,
                "none before the end"
            );
            sampler.step(usize::MAX);
            let got = block_on(sampler.scores()).expect("read").expect("scores");
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() < 1e-4,
                    "C={channels} hole {i}: {got:?} vs {want:?}"
                );
            }
            let pixels = block_on(sampler.canvas()).expect("canvas");
            assert_eq!(
                pixels,
                to_vec(cached.canvas()),
                "C={channels} hole {i}: pixels"
            );
        }
    }
}

/// One `value` dispatch per generated value; the row kernels add at most two per row.
#[test]
fn one_dispatch_per_value() {
    let gpu = gpu();
    let cfg = config(3, 6, 3, 0);
    let model = seeded_model(&cfg, 9);
    let fused = FusedModel::new(&gpu, &model).expect("kernels");
    let req = request(&cfg, 4, Hidden::PerItem, 1.0, 3);
    let values = req.hidden_positions(cfg.height, cfg.width).len() * cfg.channels;
    let mut sampler = FusedSampler::new(&fused, req, Extras::default()).expect("request");
    sampler.step(usize::MAX);
    assert!(sampler.is_done());
    let extra = sampler.dispatches() - values;
    assert!(
        extra <= 1 + 2 * cfg.height,
        "{} dispatches for {values} values",
        sampler.dispatches()
    );
}

/// The shipped digit model, on the page's first test digit with rows 10–17 hidden (the
/// e2e middle-band case): its full size (28×28, 64 channels, a 7×7 first layer, a head of
/// 256) exercises loop trip counts and workgroup sizes the small models above do not.
#[test]
fn shipped_digit_model_fused_equals_cached() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (model, _) =
        pixelcnn::weights::load_model(&root.join("www/models/mnist.json"), &Device::flex())
            .expect("shipped model loads");
    let cfg = &model.config;
    let (h, w) = (cfg.height, cfg.width);
    let digit: Vec<f32> = common::page_test_image("mnist-digits.json", 0)
        .into_iter()
        .map(f32::from)
        .collect();
    let known: Vec<bool> = (0..h * w).map(|p| !(10..18).contains(&(p / w))).collect();
    for temperature in [0.0, 1.0] {
        let batch = 2;
        let req = SampleRequest {
            batch,
            levels: digit.repeat(batch),
            known: known.repeat(batch),
            temperature,
            seed: 3,
            first_item: 0,
            labels: None,
            order: 0,
        };
        for gpu in gpus() {
            check(&gpu, &model, req.clone());
        }
    }
}
