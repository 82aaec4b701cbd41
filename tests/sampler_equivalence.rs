//! The cached sampler must be an exact drop-in for the naive one: same pixels for the same
//! request (same positional Gumbel noise), and at every generated value the logits it sampled
//! from must equal the naive full-image logits.

mod common;

use burn::tensor::Device;
use common::sampling::{Hidden, request, seeded_model};
use common::{small_config as config, to_vec};
use pixelcnn::PixelCnn;
use pixelcnn::PixelCnnConfig;
use pixelcnn::cached::CachedSampler;
use pixelcnn::sample::{Completion, NaiveSampler, SampleRequest};

/// Runs both samplers to the end and compares pixels exactly and logits within 1e-4.
fn check(model: &PixelCnn, request: SampleRequest) {
    let device = Device::flex();
    let cfg = &model.config;
    let label = format!(
        "C={} batch={} T={} classes={}",
        cfg.channels, request.batch, request.temperature, cfg.classes
    );
    let mut naive = NaiveSampler::new(model, request.clone(), &device).expect("valid request");
    naive.finish();
    let mut cached = CachedSampler::new(model, request.clone(), &device).expect("valid request");
    let mut seen = Vec::new();
    while !cached.is_done() {
        cached.step_observed(usize::MAX, |pixel, channel, logits| {
            seen.push((pixel, channel, logits.clone()))
        });
    }
    let want = to_vec(naive.canvas());
    let got = to_vec(cached.canvas());
    assert_eq!(got, want, "{label}: cached pixels differ from naive ones");

    // Known pixels are kept.
    let (h, w, c) = (cfg.height, cfg.width, cfg.channels);
    for b in 0..request.batch {
        for p in 0..h * w {
            if request.known[b * h * w + p] {
                for ch in 0..c {
                    let i = (b * c + ch) * h * w + p;
                    assert_eq!(got[i], request.levels[i], "{label}: known pixel changed");
                }
            }
        }
    }

    // Every value of every hidden position was generated, once, in raster order.
    let expected: Vec<(usize, usize)> = request
        .hidden_positions(h, w)
        .into_iter()
        .flat_map(|p| (0..c).map(move |ch| (p, ch)))
        .collect();
    let order: Vec<(usize, usize)> = seen.iter().map(|(p, ch, _)| (*p, *ch)).collect();
    assert_eq!(order, expected, "{label}: values generated out of order");

    // The naive sampler's logits at each value depend only on earlier values (causality is
    // tested elsewhere), so its finished canvas gives the logits it sampled from.
    for (pixel, channel, logits) in seen {
        let reference = to_vec(naive.logits_at(channel, pixel / w, pixel % w));
        let logits = to_vec(logits);
        for (a, b) in logits.iter().zip(&reference) {
            assert!(
                (a - b).abs() <= 1e-4,
                "{label}: logits at pixel {pixel} channel {channel} differ: cached {logits:?} naive {reference:?}"
            );
        }
    }
}

fn check_all(channels: usize, side: usize, layers: usize, classes: usize, seed: u64) {
    let cfg = config(channels, side, layers, classes);
    let model = seeded_model(&cfg, seed);
    for hidden in [Hidden::All, Hidden::BottomHalf, Hidden::PerItem] {
        for temperature in [0.0, 0.7, 1.0] {
            check(&model, request(&cfg, 3, hidden, temperature, 42));
        }
    }
    if classes > 0 {
        // A conditional model sampled without labels.
        let mut unlabeled = request(&cfg, 2, Hidden::PerItem, 1.0, 43);
        unlabeled.labels = None;
        check(&model, unlabeled);
    }
}

#[test]
fn grey_cached_equals_naive() {
    check_all(1, 6, 4, 0, 1);
}

#[test]
fn grey_class_conditional_cached_equals_naive() {
    check_all(1, 6, 3, 3, 2);
}

#[test]
fn rgb_cached_equals_naive() {
    check_all(3, 5, 3, 0, 3);
}

#[test]
fn rgb_class_conditional_cached_equals_naive() {
    check_all(3, 5, 4, 2, 4);
}

/// A model with eight generation orders, each order's bias random: both samplers must
/// condition on the order asked for (and the orders must differ, or the bias is not used).
#[test]
fn cached_equals_naive_in_every_order() {
    for (channels, classes) in [(1, 0), (3, 2)] {
        let cfg = PixelCnnConfig {
            orders: 8,
            ..config(channels, 5, 3, classes)
        };
        let model = seeded_model(&cfg, 7);
        for order in [0, 3, 6] {
            let mut req = request(&cfg, 2, Hidden::PerItem, 1.0, 44);
            req.order = order;
            check(&model, req);
        }
        let logits = |order: usize| {
            let mut req = request(&cfg, 1, Hidden::All, 0.0, 1);
            req.order = order;
            let mut naive = NaiveSampler::new(&model, req, &Device::flex()).expect("valid");
            let mut first = vec![];
            naive.step_observed(1, |_, _, l| first = to_vec(l.clone()));
            first
        };
        assert_ne!(logits(0), logits(5), "the order bias changes the logits");
    }
}

/// The scores the cached sampler sums as it passes the known values after the first hidden
/// pixel equal the log-probabilities a full forward pass gives the finished canvas, for holes
/// that leave known pixels inside their rows, between them and after them, in any order.
#[test]
fn scores_from_the_sampling_pass_equal_a_full_pass() {
    let device = Device::flex();
    for (channels, orders) in [(1, 1), (3, 1), (1, 8)] {
        let cfg = PixelCnnConfig {
            orders,
            ..config(channels, 6, 3, 2)
        };
        let model = seeded_model(&cfg, 8);
        let (c, h, w) = (channels, cfg.height, cfg.width);
        let holes: [&dyn Fn(usize, usize) -> bool; 4] = [
            &|_, col| col < 3,
            &|r, _| (2..4).contains(&r),
            &|r, col| (r == 1 && col == 4) || (r == 3 && (1..3).contains(&col)),
            &|r, col| r >= 4 && col == 5,
        ];
        for (i, hidden) in holes.iter().enumerate() {
            let batch = 3;
            let known_one: Vec<bool> = (0..h * w).map(|p| !hidden(p / w, p % w)).collect();
            let first = known_one.iter().position(|&k| !k).expect("a hole");
            let scored: Vec<bool> = (0..h * w).map(|p| p > first && known_one[p]).collect();
            let mut req = request(&cfg, batch, Hidden::All, 1.0, 50 + i as u64);
            req.known = known_one.repeat(batch);
            req.order = if orders > 1 { 5 } else { 0 };
            let mut sampler =
                CachedSampler::scoring(&model, req.clone(), &scored, &device).expect("request");
            assert!(sampler.scores().is_none(), "no scores before the end");
            sampler.finish();
            let got = to_vec(sampler.scores().expect("scores").reshape([batch, 1, 1, 1]));
            // The reference: one full forward pass over the finished canvases.
            let canvas = sampler.canvas();
            let condition = sampler.state.condition.clone();
            let log_probs = to_vec(model.log_probs(canvas.int(), &condition));
            for b in 0..batch {
                let want: f64 = (0..c * h * w)
                    .filter(|&v| scored[v % (h * w)])
                    .map(|v| f64::from(log_probs[b * c * h * w + v]))
                    .sum();
                assert!(
                    (f64::from(got[b]) - want).abs() < 1e-4,
                    "C={c} orders={orders} hole {i} item {b}: {} vs {want}",
                    got[b]
                );
            }
            // Scoring changes nothing about the pixels.
            let mut plain = CachedSampler::new(&model, req, &device).expect("request");
            plain.finish();
            assert_eq!(to_vec(plain.canvas()), to_vec(sampler.canvas()), "hole {i}");
        }
    }
}

#[test]
fn batch_of_one_cached_equals_naive() {
    let cfg = config(1, 6, 4, 0);
    let model = seeded_model(&cfg, 5);
    check(&model, request(&cfg, 1, Hidden::All, 1.0, 9));
}

/// A page advances the sampler a few pixels per animation frame: stepping in chunks must give
/// the same canvas as running to the end at once.
#[test]
fn stepping_in_chunks_equals_finish() {
    for channels in [1, 3] {
        let cfg = config(channels, 5, 3, 2);
        let model = seeded_model(&cfg, 6);
        let device = Device::flex();
        for hidden in [Hidden::All, Hidden::PerItem] {
            let req = request(&cfg, 3, hidden, 1.0, 11);
            let mut whole =
                CachedSampler::new(&model, req.clone(), &device).expect("valid request");
            whole.finish();
            let mut chunked = CachedSampler::new(&model, req, &device).expect("valid request");
            let total = chunked.progress().1;
            let mut done = 0;
            for chunk in [1, 2, 3, 5, 8].into_iter().cycle() {
                if chunked.is_done() {
                    break;
                }
                let n = chunked.step(chunk);
                assert_eq!(
                    n,
                    chunk.min(total - done),
                    "step returns how many pixels it did"
                );
                done += n;
                assert_eq!(chunked.progress(), (done, total));
            }
            assert_eq!(chunked.step(4), 0, "a finished sampler does nothing");
            assert_eq!(
                to_vec(chunked.canvas()),
                to_vec(whole.canvas()),
                "C={channels} {hidden:?}"
            );
        }
    }
}

#[test]
fn invalid_request_is_an_error() {
    let cfg = config(1, 4, 2, 0);
    let model = seeded_model(&cfg, 7);
    let mut req = request(&cfg, 2, Hidden::All, 1.0, 1);
    req.known.pop();
    assert!(CachedSampler::new(&model, req, &Device::flex()).is_err());
}
