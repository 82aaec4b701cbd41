//! IDX reading and binarization on fixtures the test writes itself.

mod common;

use burn::tensor::Device;
use common::TempDir;
use pixelcnn::data::{Dataset, DatasetKind, SOURCE_FILE, Split, read_idx, source_of, write_idx};

fn fixture(tag: &str, images: &[u8], labels: &[u8], n: usize) -> TempDir {
    let dir = TempDir::new(&format!("data-{tag}"));
    write_idx(&dir.join("t10k-images-idx3-ubyte.gz"), &[n, 4, 4], images).expect("write");
    write_idx(&dir.join("t10k-labels-idx1-ubyte.gz"), &[n], labels).expect("write");
    dir
}

#[test]
fn binarization_is_fixed_and_follows_intensity() {
    let n = 50;
    let images: Vec<u8> = (0..n * 16)
        .map(|i| {
            if i % 16 < 8 {
                0
            } else if i % 16 < 12 {
                255
            } else {
                128
            }
        })
        .collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let dir = fixture("bin", &images, &labels, n);
    let a = Dataset::load(DatasetKind::Mnist, &dir, Split::Test, 2).expect("load");
    let b = Dataset::load(DatasetKind::Mnist, &dir, Split::Test, 2).expect("load");
    assert_eq!(
        a.images, b.images,
        "binarization must not change between loads"
    );
    assert_eq!(a.len(), n);
    assert_eq!(a.labels, labels);
    let ones_at = |range: std::ops::Range<usize>| -> f64 {
        let hits: usize = (0..n)
            .map(|i| range.clone().filter(|&p| a.images[i * 16 + p] == 1).count())
            .sum();
        hits as f64 / (n * range.len()) as f64
    };
    assert_eq!(ones_at(0..8), 0.0, "black pixels are never on");
    assert_eq!(ones_at(8..12), 1.0, "white pixels are always on");
    let grey = ones_at(12..16);
    assert!(
        (0.35..0.65).contains(&grey),
        "mid-grey pixels are on about half the time: {grey}"
    );
    let full = Dataset::load(DatasetKind::Mnist, &dir, Split::Test, 256).expect("load");
    assert_eq!(full.images, images);
    let (x, y) = a.batch(&[0, 3], &Device::flex());
    assert_eq!(x.dims(), [2, 1, 4, 4]);
    assert_eq!(
        y.into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("labels"),
        vec![0, 3]
    );
}

#[test]
fn bad_idx_files_give_clear_errors() {
    let dir = fixture("bad", &[0; 16], &[1], 1);
    let missing =
        Dataset::load(DatasetKind::Mnist, &dir, Split::Train, 2).expect_err("no train split");
    assert!(missing.to_string().contains("prepare_data.py"), "{missing}");
    let short = dir.join("short.gz");
    write_idx(&short, &[2, 4, 4], &[0; 16]).expect("write");
    let err = read_idx(&short, "").expect_err("too short");
    assert!(err.to_string().contains("need 32 bytes"), "{err}");
    let err = Dataset::load(DatasetKind::Mnist, &dir, Split::Test, 7).expect_err("levels");
    assert!(err.to_string().contains("levels"), "{err}");
}

#[test]
fn fresh_binarization_is_deterministic_per_seed_and_epoch_and_differs_across_epochs() {
    let n = 20;
    let images: Vec<u8> = (0..n * 16).map(|i| [0, 255, 128, 64][i % 4]).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let dir = fixture("draw", &images, &labels, n);
    let set = Dataset::load(DatasetKind::Mnist, &dir, Split::Test, 2).expect("load");
    let device = Device::flex();
    let items: Vec<usize> = (0..n).collect();
    let draw = |epoch: usize, seed: u64| -> Vec<i64> {
        set.batch_drawn(&items, &vec![epoch; n], seed, &device)
            .0
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("levels")
    };
    assert_eq!(draw(0, 7), draw(0, 7), "same seed and epoch, same bits");
    assert_ne!(draw(0, 7), draw(1, 7), "another epoch draws other bits");
    assert_ne!(draw(0, 7), draw(0, 8), "another seed draws other bits");
    let fixed: Vec<i64> = set.images.iter().map(|&v| i64::from(v)).collect();
    assert_ne!(draw(0, 7), fixed, "a draw is not the fixed binarization");
    // Every draw still follows the intensities: black never, white always, grey sometimes.
    for epoch in 0..3 {
        let bits = draw(epoch, 7);
        for (i, &b) in bits.iter().enumerate() {
            match images[i] {
                0 => assert_eq!(b, 0),
                255 => assert_eq!(b, 1),
                _ => assert!(b == 0 || b == 1),
            }
        }
        let mid: Vec<i64> = bits.iter().skip(2).step_by(4).copied().collect();
        let share = mid.iter().sum::<i64>() as f64 / mid.len() as f64;
        assert!(
            (0.3..0.7).contains(&share),
            "pixel 128 is on about half the time: {share}"
        );
    }
    let (rest, tail) = set.clone().split_off_last(5);
    assert_eq!((rest.len(), tail.len()), (15, 5));
    assert_eq!(tail.image(0), set.image(15));
    let again = tail.clone().rebinarized(3);
    assert_eq!(again.images, tail.clone().rebinarized(3).images);
    assert_ne!(
        again.images, tail.images,
        "another fixed seed gives other bits"
    );
}

#[test]
fn colour_images_load_as_channel_planes() {
    let dir = TempDir::new("data-rgb");
    // Two 2×2 images, [N, H, W, C]: pixel p of image n has R = 10n + p, G = 100 + p, B = 200 + p.
    let mut raw = Vec::new();
    for n in 0..2u8 {
        for p in 0..4u8 {
            raw.extend([10 * n + p, 100 + p, 200 + p]);
        }
    }
    write_idx(&dir.join("t10k-images-idx4-ubyte.gz"), &[2, 2, 2, 3], &raw).expect("write");
    write_idx(&dir.join("t10k-labels-idx1-ubyte.gz"), &[2], &[0, 0]).expect("write");
    let set = Dataset::load(DatasetKind::Emoji, &dir, Split::Test, 256).expect("load");
    assert_eq!(
        (set.len(), set.channels, set.height, set.width),
        (2, 3, 2, 2)
    );
    assert_eq!(
        set.image(1),
        &[10, 11, 12, 13, 100, 101, 102, 103, 200, 201, 202, 203]
    );
    let err = Dataset::load(DatasetKind::Emoji, &dir, Split::Test, 2).expect_err("binarized rgb");
    assert!(err.to_string().contains("colour"), "{err}");
    let missing = Dataset::load(DatasetKind::Emoji, &dir, Split::Train, 256).expect_err("missing");
    assert!(
        missing.to_string().contains("prepare_emoji.py"),
        "{missing}"
    );
}

#[test]
fn sets_of_one_shape_concatenate_and_others_are_refused() {
    let a = fixture("concat-a", &[0; 32], &[1, 2], 2);
    let b = fixture("concat-b", &[255; 16], &[3], 1);
    let load =
        |dir: &TempDir| Dataset::load(DatasetKind::Mnist, dir, Split::Test, 2).expect("load");
    let names = ["a".to_string(), "b".to_string()];
    let union = Dataset::concat(vec![load(&a), load(&b)], &names).expect("same shape");
    assert_eq!(union.len(), 3);
    assert_eq!(union.labels, [1, 2, 3]);
    assert_eq!(union.image(2), load(&b).image(0));
    assert_eq!(union.grey.as_ref().map(Vec::len), Some(48));

    let wide = TempDir::new("data-concat-wide");
    write_idx(
        &wide.join("t10k-images-idx3-ubyte.gz"),
        &[1, 4, 5],
        &[0; 20],
    )
    .expect("write");
    write_idx(&wide.join("t10k-labels-idx1-ubyte.gz"), &[1], &[0]).expect("write");
    let err = Dataset::concat(vec![load(&a), load(&wide)], &names).expect_err("other shape");
    assert!(
        err.to_string()
            .contains("`a` has [1, 4, 4, 2], `b` has [1, 4, 5, 2]"),
        "{err}"
    );
}

#[test]
fn a_folder_names_its_source_or_gets_its_kinds() {
    let plain = fixture("source-none", &[0; 16], &[0], 1);
    let built_in = source_of(DatasetKind::Emoji, &plain, 256).expect("built-in");
    assert_eq!(
        (built_in.name.as_str(), built_in.licence.as_str()),
        ("Noto Color Emoji", "Apache-2.0")
    );
    assert_eq!(
        built_in.description,
        pixelcnn::data::describe(DatasetKind::Emoji, 256)
    );

    let own = common::data_source("Twemoji", "prepared");
    common::write_source(&plain, &own);
    assert_eq!(
        source_of(DatasetKind::Emoji, &plain, 256).expect("own"),
        own
    );

    std::fs::write(plain.join(SOURCE_FILE), r#"{"name": "no licence"}"#).unwrap();
    let err = source_of(DatasetKind::Emoji, &plain, 256).expect_err("incomplete");
    assert!(
        err.to_string().contains("does not describe a data set")
            && err.to_string().contains("credit"),
        "{err}"
    );
}

#[test]
fn shipped_models_credit_the_data_they_were_trained_on() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, kind, levels) in [
        ("mnist.json", DatasetKind::Mnist, 2),
        ("emoji.json", DatasetKind::Emoji, 256),
    ] {
        let (_, manifest) =
            pixelcnn::weights::load_model(&root.join("www/models").join(file), &Device::flex())
                .expect("shipped model loads");
        let nowhere = root.join("tests/no-such-folder");
        let expected = source_of(kind, &nowhere, levels).expect("built-in");
        assert_eq!(manifest.sources.first(), Some(&expected), "{file}");
        assert_eq!(
            manifest.stated_test_nll(&expected),
            Some(manifest.metrics.test_nll_nats)
        );
        for source in &manifest.sources {
            assert!(
                source.url.starts_with("https://")
                    && !source.credit.is_empty()
                    && !source.licence.is_empty()
            );
        }
    }
}
