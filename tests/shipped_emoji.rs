//! The shipped colour model: its manifest is complete and reproducible, and inside a pixel the
//! trained network generates R, then G given R, then B given R and G — the channel order holds
//! in the trained weights, not only on random ones.

mod common;

use std::path::Path;

use burn::tensor::Device;
use pixelcnn::weights;

#[test]
fn shipped_emoji_model_generates_r_then_g_then_b() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (model, manifest) =
        weights::load_model(&root.join("www/models/emoji.json"), &Device::flex())
            .expect("shipped emoji model loads");
    let c = manifest.config.clone();
    assert_eq!((c.channels, c.levels, c.height, c.width), (3, 256, 16, 16));
    assert!(
        manifest.params <= 1_000_000,
        "{} parameters",
        manifest.params
    );
    assert!(
        manifest.dataset.contains("Apache-2.0"),
        "{}",
        manifest.dataset
    );
    assert!(manifest.metrics.epochs > 0.0 && !manifest.metrics.device.is_empty());

    let image: Vec<f32> = common::page_test_image("emoji-images.json", 0)
        .into_iter()
        .map(f32::from)
        .collect();
    let plane = c.height * c.width;
    let (k, base) = (c.levels, common::logits(&model, &image));
    // Logits [C, K, H, W] at pixel p of channel ch.
    let at = |l: &[f32], ch: usize, p: usize| -> Vec<f32> {
        (0..k)
            .map(|level| l[(ch * k + level) * plane + p])
            .collect()
    };
    let differs = |a: Vec<f32>, b: Vec<f32>| a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-4);
    for p in [0, 37, 120, 255] {
        let mut red = image.clone();
        red[p] = 255.0 - red[p];
        let after_red = common::logits(&model, &red);
        assert!(
            !differs(at(&base, 0, p), at(&after_red, 0, p)),
            "R at {p} sees its own R"
        );
        assert!(
            differs(at(&base, 1, p), at(&after_red, 1, p)),
            "G at {p} ignores R"
        );
        assert!(
            differs(at(&base, 2, p), at(&after_red, 2, p)),
            "B at {p} ignores R"
        );

        let mut green = image.clone();
        green[plane + p] = 255.0 - green[plane + p];
        let after_green = common::logits(&model, &green);
        assert!(
            !differs(at(&base, 0, p), at(&after_green, 0, p)),
            "R at {p} sees G"
        );
        assert!(
            differs(at(&base, 2, p), at(&after_green, 2, p)),
            "B at {p} ignores G"
        );

        let mut blue = image.clone();
        blue[2 * plane + p] = 255.0 - blue[2 * plane + p];
        let after_blue = common::logits(&model, &blue);
        for ch in 0..3 {
            assert!(
                !differs(at(&base, ch, p), at(&after_blue, ch, p)),
                "channel {ch} at {p} sees B of its own pixel"
            );
        }
    }
}
