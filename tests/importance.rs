//! Importance-resampled completions are samples of p(hidden | every known pixel).
//!
//! On a tiny random model the exact posterior over a few hidden pixels can be enumerated from
//! the model's joint; the SIR sampler's empirical distribution over many seeds must come close
//! to it, while the raster sampler (which ignores the known pixels after the hole) must not.

mod common;

use burn::module::Param;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use common::to_vec;
use pixelcnn::cached::CachedSampler;
use pixelcnn::importance::{
    ImportanceCompletion, ImportanceRequest, PoolPlan, PoolShare, choose_without_replacement,
};
use pixelcnn::model::{Condition, MaskedConv};
use pixelcnn::sample::{Completion, SampleRequest};
use pixelcnn::{PixelCnn, PixelCnnConfig};

const SIDE: usize = 3;
/// Hidden pixels (raster indices); pixels 2, 5, 6, 7 and 8 are known and come after the hole.
const HIDDEN: [usize; 3] = [1, 3, 4];
const KNOWN_LEVELS: [f32; 9] = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0];

fn config() -> PixelCnnConfig {
    PixelCnnConfig {
        levels: 2,
        hidden: 8,
        first_kernel: 3,
        head: 16,
        ..common::small_config(1, SIDE, 3, 0)
    }
}

/// Random weights scaled up (and random biases), so that the known pixels after the hole
/// depend strongly on the hidden ones. The same weights on
/// every run (see `common::seed_lock`).
fn informative_model(device: &Device) -> PixelCnn {
    let _guard = common::seed_lock();
    device.seed(11);
    let mut model = PixelCnn::new(&config(), device).expect("config");
    let sharpen = |conv: &mut MaskedConv| {
        conv.weight = Param::from_tensor(conv.weight.val() * 3.0);
        let n = conv.bias.dims()[0];
        conv.bias = Param::from_tensor(Tensor::random(
            [n],
            Distribution::Uniform(-1.0, 1.0),
            device,
        ));
    };
    for conv in model.convolutions_mut() {
        sharpen(conv);
    }
    model
}

fn known_mask() -> Vec<bool> {
    (0..SIDE * SIDE).map(|p| !HIDDEN.contains(&p)).collect()
}

/// A completion of the test canvas (hidden pixels 1, 3 and 4) at temperature 1.
fn request(alternatives: usize, candidates: usize, seed: u64) -> ImportanceRequest {
    ImportanceRequest {
        levels: KNOWN_LEVELS.to_vec(),
        known: known_mask(),
        alternatives,
        candidates,
        temperature: 1.0,
        seed,
        label: None,
        order: None,
        share: None,
    }
}

/// Index of the hidden pattern (bit i = value of HIDDEN[i]) in a completed image.
fn pattern(image: &[f32]) -> usize {
    HIDDEN
        .iter()
        .enumerate()
        .map(|(i, &p)| (image[p].round() as usize) << i)
        .sum()
}

/// p(hidden pattern | known pixels) from the model's joint, by enumeration.
fn exact_posterior(model: &PixelCnn, device: &Device) -> Vec<f64> {
    let patterns = 1 << HIDDEN.len();
    let mut images = Vec::new();
    for m in 0..patterns {
        let mut image = KNOWN_LEVELS.map(|v| v as i64);
        for (i, &p) in HIDDEN.iter().enumerate() {
            image[p] = ((m >> i) & 1) as i64;
        }
        images.extend(image);
    }
    let levels =
        Tensor::<4, Int>::from_data(TensorData::new(images, [patterns, 1, SIDE, SIDE]), device);
    let joint: Vec<f64> = model
        .nll(levels, &Condition::none())
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .expect("f64")
        .into_iter()
        .map(|nll| (-nll).exp())
        .collect();
    let total: f64 = joint.iter().sum();
    joint.into_iter().map(|p| p / total).collect()
}

fn histogram(patterns: impl Iterator<Item = usize>) -> Vec<f64> {
    let mut counts = vec![0.0; 1 << HIDDEN.len()];
    let mut n = 0.0;
    for p in patterns {
        counts[p] += 1.0;
        n += 1.0;
    }
    counts.into_iter().map(|c| c / n).collect()
}

fn total_variation(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / 2.0
}

#[test]
fn importance_resampling_matches_the_exact_posterior_and_raster_does_not() {
    let device = Device::flex();
    let model = informative_model(&device);
    let exact = exact_posterior(&model, &device);
    let draws = 3000;

    // The raster sampler: one batch of independent draws.
    let raster_request = SampleRequest {
        batch: draws,
        levels: KNOWN_LEVELS.repeat(draws),
        known: known_mask().repeat(draws),
        temperature: 1.0,
        seed: 5,
        first_item: 0,
        labels: None,
        order: 0,
    };
    let mut raster = CachedSampler::new(&model, raster_request, &device).expect("request");
    raster.finish();
    let raster_images = to_vec(raster.canvas());
    let raster_hist = histogram(raster_images.chunks(SIDE * SIDE).map(pattern));

    // SIR: one completion per seed, K = 1 from a pool of 64.
    let mut sir_patterns = Vec::with_capacity(draws);
    for seed in 0..draws as u64 {
        let mut completion =
            ImportanceCompletion::new(&model, request(1, 64, seed), &device).expect("request");
        completion.finish_blocking().expect("completes");
        let image = to_vec(completion.canvas());
        for p in (0..SIDE * SIDE).filter(|p| !HIDDEN.contains(p)) {
            assert_eq!(image[p], KNOWN_LEVELS[p], "known pixel {p} changed");
        }
        sir_patterns.push(pattern(&image));
    }
    let sir_hist = histogram(sir_patterns.into_iter());

    let tv_sir = total_variation(&sir_hist, &exact);
    let tv_raster = total_variation(&raster_hist, &exact);
    println!("exact posterior: {exact:.3?}");
    println!("SIR (N = 64):    {sir_hist:.3?}  total variation {tv_sir:.4}");
    println!("raster:          {raster_hist:.3?}  total variation {tv_raster:.4}");
    assert!(tv_sir < 0.05, "SIR is {tv_sir:.4} from the posterior");
    assert!(
        tv_raster > 0.15 && tv_raster > 3.0 * tv_sir,
        "the raster sampler is only {tv_raster:.4} from the posterior (SIR {tv_sir:.4}): the test model is not informative enough to tell them apart"
    );
}

#[test]
fn alternatives_come_best_first_with_their_scores_and_known_pixels_kept() {
    let device = Device::flex();
    let model = informative_model(&device);
    let request = request(4, 16, 3);
    let mut a = ImportanceCompletion::new(&model, request.clone(), &device).expect("request");
    assert_eq!(a.candidates(), 16);
    a.finish_blocking().expect("completes");
    let scores = a.scores().expect("scores").to_vec();
    assert_eq!(scores.len(), 4);
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(
        scores.iter().all(|s| s.is_finite() && *s <= 0.0),
        "{scores:?}"
    );
    let pixels = to_vec(a.canvas());
    for image in pixels.chunks(SIDE * SIDE) {
        for p in (0..SIDE * SIDE).filter(|p| !HIDDEN.contains(p)) {
            assert_eq!(image[p], KNOWN_LEVELS[p]);
        }
    }
    // The scores are the log-probability of the known pixels after the hole.
    let again = to_vec(a.canvas());
    let levels = Tensor::<4, Int>::from_data(
        TensorData::new(
            again.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            [4, 1, SIDE, SIDE],
        ),
        &device,
    );
    let log_probs = to_vec(model.log_probs(levels, &Condition::none()));
    for (i, image_lp) in log_probs.chunks(SIDE * SIDE).enumerate() {
        let expected: f64 = [2, 5, 6, 7, 8]
            .iter()
            .map(|&p| f64::from(image_lp[p]))
            .sum();
        assert!(
            (expected - scores[i]).abs() < 1e-4,
            "{expected} vs {}",
            scores[i]
        );
    }
    // Same seed, same alternatives and scores.
    let mut b = ImportanceCompletion::new(&model, request, &device).expect("request");
    b.finish_blocking().expect("completes");
    assert_eq!(to_vec(b.canvas()), pixels);
    assert_eq!(b.scores().expect("scores"), scores.as_slice());
}

#[test]
fn without_known_pixels_after_the_hole_it_is_the_raster_sampler() {
    let device = Device::flex();
    let model = informative_model(&device);
    // Hide the last row: nothing known comes after the first hidden pixel.
    let known: Vec<bool> = (0..SIDE * SIDE).map(|p| p < 6).collect();
    let mut sir = ImportanceCompletion::new(
        &model,
        ImportanceRequest {
            levels: KNOWN_LEVELS.to_vec(),
            known: known.clone(),
            alternatives: 3,
            candidates: 32,
            temperature: 1.0,
            seed: 9,
            label: None,
            order: None,
            share: None,
        },
        &device,
    )
    .expect("request");
    assert_eq!(
        sir.candidates(),
        3,
        "no pool beyond K when nothing is scored"
    );
    sir.finish_blocking().expect("completes");
    let mut raster = CachedSampler::new(
        &model,
        SampleRequest {
            batch: 3,
            levels: KNOWN_LEVELS.repeat(3),
            known: known.repeat(3),
            temperature: 1.0,
            seed: 9,
            first_item: 0,
            labels: None,
            order: 0,
        },
        &device,
    )
    .expect("request");
    raster.finish();
    assert_eq!(to_vec(sir.canvas()), to_vec(raster.canvas()));
    assert_eq!(sir.scores().expect("scores"), &[0.0, 0.0, 0.0]);
}

#[test]
fn resampling_is_without_replacement_and_survives_degenerate_weights() {
    let picks = choose_without_replacement(&[-1.0, -50.0, -2.0, -0.5], 3, 1);
    assert_eq!(picks.len(), 3);
    let mut sorted = picks.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 3, "distinct picks: {picks:?}");
    let all_neg_inf = choose_without_replacement(&[f64::NEG_INFINITY; 5], 2, 1);
    assert_eq!(all_neg_inf, vec![0, 1]);
    let with_nan = choose_without_replacement(&[f64::NAN, -1.0, f64::NAN], 3, 2);
    assert_eq!(
        with_nan[0], 1,
        "a NaN weight never comes first: {with_nan:?}"
    );
    // Over many seeds, a weight twice another's is drawn first about twice as often.
    let first_is_zero = (0..4000u64)
        .filter(|&s| choose_without_replacement(&[2f64.ln(), 0.0], 1, s)[0] == 0)
        .count() as f64
        / 4000.0;
    assert!((first_is_zero - 2.0 / 3.0).abs() < 0.03, "{first_is_zero}");
}

#[test]
fn bad_options_are_errors() {
    let device = Device::flex();
    let model = informative_model(&device);
    for (alternatives, candidates) in [(0, 8), (1, 0), (1, 65), (65, 65)] {
        let err = ImportanceCompletion::new(&model, request(alternatives, candidates, 0), &device)
            .err()
            .expect("rejected");
        assert!(err.to_string().contains("must be in 1..=64"), "{err}");
    }
}

#[test]
fn stepping_one_pixel_at_a_time_gives_the_same_result() {
    let device = Device::flex();
    let model = informative_model(&device);
    let request = request(3, 12, 4);
    let mut whole = ImportanceCompletion::new(&model, request.clone(), &device).expect("request");
    whole.finish_blocking().expect("completes");

    let mut stepped = ImportanceCompletion::new(&model, request, &device).expect("request");
    let mut steps = 0;
    let mut last = stepped.progress();
    while !stepped.is_done() {
        stepped.step(1);
        steps += 1;
        let now = stepped.progress();
        assert!(
            now.0 > last.0 || stepped.is_done(),
            "a step made no progress: {now:?}"
        );
        assert_eq!(now.1, last.1, "the total changed");
        last = now;
    }
    // 3 hidden pixels one per step: the scores come from the same pass, with no steps of
    // their own.
    assert_eq!(steps, 3);
    assert_eq!(last.1, 3, "progress counts the hidden pixels");
    stepped.finish_blocking().expect("chooses");
    assert_eq!(to_vec(stepped.canvas()), to_vec(whole.canvas()));
    assert_eq!(stepped.scores(), whole.scores());
}

/// A pool drawn in shares (as the page's workers draw it), chosen from with the log-weights
/// of all shares, gives the alternatives and scores of the whole pool, in the same order.
#[test]
fn a_pool_drawn_in_shares_gives_the_alternatives_of_the_whole_pool() {
    let device = Device::flex();
    let model = informative_model(&device);
    let request = request(4, 14, 9);
    let mut whole = ImportanceCompletion::new(&model, request.clone(), &device).expect("request");
    assert!(!whole.is_shared());
    whole.finish_blocking().expect("completes");
    let expected = to_vec(whole.canvas());
    let expected_scores = whole.scores().expect("scores").to_vec();
    assert_eq!(whole.ranks().expect("ranks"), [0, 1, 2, 3]);

    let image = SIDE * SIDE;
    for parts in [
        vec![(0, 14)],
        vec![(0, 7), (7, 7)],
        vec![(0, 5), (5, 5), (10, 4)],
    ] {
        let mut shares: Vec<ImportanceCompletion> = parts
            .iter()
            .map(|&(first, count)| {
                let share = Some(PoolShare { first, count });
                ImportanceCompletion::new(
                    &model,
                    ImportanceRequest {
                        share,
                        ..request.clone()
                    },
                    &device,
                )
                .expect("share")
            })
            .collect();
        let mut weights = vec![];
        for share in &mut shares {
            share.finish();
            let w = share.log_weights().expect("scored");
            weights.extend(
                w.into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .expect("f32"),
            );
        }
        assert_eq!(weights.len(), 14);
        let mut pixels = vec![f32::NAN; 4 * image];
        let mut scores = vec![f64::NAN; 4];
        for share in &mut shares {
            share.choose(&weights).expect("chooses");
            let ranks = share.ranks().expect("ranks").to_vec();
            let held = to_vec(share.canvas());
            for (j, &rank) in ranks.iter().enumerate() {
                pixels[rank * image..(rank + 1) * image]
                    .copy_from_slice(&held[j * image..(j + 1) * image]);
                scores[rank] = share.scores().expect("scores")[j];
            }
        }
        assert_eq!(pixels, expected, "{} shares", parts.len());
        assert_eq!(scores, expected_scores, "{} shares", parts.len());
    }
}

#[test]
fn a_share_outside_the_pool_is_an_error() {
    let device = Device::flex();
    let model = informative_model(&device);
    for (first, count) in [(0, 0), (10, 7), (16, 1)] {
        let request = ImportanceRequest {
            share: Some(PoolShare { first, count }),
            ..request(2, 16, 0)
        };
        let err = ImportanceCompletion::new(&model, request, &device)
            .err()
            .expect("rejected");
        assert!(err.to_string().contains("share of the pool"), "{err}");
    }
}

/// What a frame shows, for both engines: the first K candidates of a share before the choice,
/// then the picks it holds, or its first candidate when it holds none.
#[test]
fn a_frame_shows_the_first_candidates_then_the_picks_a_share_holds() {
    let device = Device::flex();
    let model = informative_model(&device);
    let share = Some(PoolShare { first: 6, count: 3 });
    let plan = PoolPlan::new(
        &model,
        ImportanceRequest {
            share,
            ..request(4, 12, 5)
        },
    )
    .expect("plan");
    assert_eq!(
        plan.shown(None),
        [0, 1, 2],
        "min(K, share) before the choice"
    );
    // Four candidates are possible (0, 1, 2 and 7), so those are the four picks.
    let weights: Vec<f32> = (0..12)
        .map(|i| {
            if i < 3 || i == 7 {
                0.0
            } else {
                f32::NEG_INFINITY
            }
        })
        .collect();
    let picks = plan.pick(&weights).expect("picks");
    assert_eq!(picks.held, [1], "pool index 7 is this share's second");
    assert_eq!(plan.shown(Some(&picks)), [1]);
    let far: Vec<f32> = (0..12)
        .map(|i| if i < 4 { 0.0 } else { f32::NEG_INFINITY })
        .collect();
    let none = plan.pick(&far).expect("picks");
    assert!(none.held.is_empty() && none.ranks.is_empty());
    assert_eq!(
        plan.shown(Some(&none)),
        [0],
        "a share holding no pick shows its first"
    );
}
