//! The loader meets many generated bad manifests and corrupted weight files — random bytes,
//! flipped bits, files cut at every tensor boundary, absurd dimensions, non-finite values — and
//! must answer each with a typed error (or, for a flip that happens to leave a valid file, a
//! model), never a panic.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::tensor::Device;
use pixelcnn::error::LoadError;
use pixelcnn::weights::{self, StoredDType};
use pixelcnn::{PixelCnn, PixelCnnConfig};

fn config() -> PixelCnnConfig {
    PixelCnnConfig {
        levels: 2,
        hidden: 4,
        first_kernel: 3,
        head: 8,
        ..common::small_config(1, 6, 2, 2)
    }
}

/// A valid manifest and weights file for `config()`.
fn valid(dtype: StoredDType) -> (serde_json::Value, Vec<u8>) {
    let (_dir, json, bytes, _) =
        common::saved_model(&config(), dtype, &format!("bad-models-{}", dtype.name()));
    (serde_json::from_str(&json).expect("json"), bytes)
}

/// Deterministic pseudo-random numbers for the generated cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Default, Debug)]
struct Tally {
    tried: usize,
    errors: usize,
    loaded: usize,
    panics: usize,
}

impl Tally {
    /// Runs one case; `must_fail` says the input is invalid for sure.
    fn case(&mut self, what: &str, json: &str, bytes: &[u8], must_fail: bool) {
        self.tried += 1;
        let result = catch_unwind(AssertUnwindSafe(|| {
            weights::load_from_bytes(json, bytes, &Device::flex()).map(|_| ())
        }));
        match result {
            Err(_) => {
                self.panics += 1;
                eprintln!("PANIC on {what}");
            }
            Ok(Err(e)) => {
                self.errors += 1;
                assert!(!e.to_string().is_empty());
            }
            Ok(Ok(())) => {
                self.loaded += 1;
                assert!(!must_fail, "{what} loaded without an error");
            }
        }
    }
}

#[test]
fn generated_bad_inputs_give_typed_errors_and_never_panic() {
    // Keep the expected panics' messages (there should be none) out of the way of the count.
    let mut tally = Tally::default();
    let mut rng = Rng(2026);
    for dtype in StoredDType::ALL {
        let (manifest, bytes) = valid(dtype);
        let json = manifest.to_string();

        // Random bytes of many lengths, with the hash pinned so they reach the parser.
        for _ in 0..150 {
            let len = match rng.below(3) {
                0 => rng.below(64),
                1 => rng.below(bytes.len() * 2),
                _ => bytes.len(),
            };
            let random: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            tally.case(
                "random bytes",
                &common::with_hash_of(&manifest.to_string(), &random),
                &random,
                true,
            );
        }
        // Random bytes behind a valid-looking safetensors length prefix.
        for _ in 0..50 {
            let mut random: Vec<u8> = (0..bytes.len()).map(|_| rng.next() as u8).collect();
            let header = (rng.below(bytes.len() * 2) as u64).to_le_bytes();
            random[..8].copy_from_slice(&header);
            tally.case(
                "random body",
                &common::with_hash_of(&manifest.to_string(), &random),
                &random,
                true,
            );
        }
        // Single and multiple bit flips anywhere, hash pinned. A flip in a tensor's data may
        // leave a valid file (or a NaN, which must be caught).
        for flips in [1, 3, 16] {
            for _ in 0..100 {
                let mut flipped = bytes.clone();
                for _ in 0..flips {
                    let at = rng.below(flipped.len());
                    flipped[at] ^= 1 << rng.below(8);
                }
                tally.case(
                    "bit flips",
                    &common::with_hash_of(&manifest.to_string(), &flipped),
                    &flipped,
                    false,
                );
            }
        }
        // Cut at every tensor boundary (and one byte either side of it), hash pinned.
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        let header: serde_json::Value =
            serde_json::from_slice(&bytes[8..8 + header_len]).expect("header");
        let mut cuts = vec![0, 4, 8, 8 + header_len / 2, 8 + header_len];
        for info in header.as_object().expect("object").values() {
            if let Some(offsets) = info.get("data_offsets").and_then(|o| o.as_array()) {
                for o in offsets {
                    let at = 8 + header_len + o.as_u64().expect("offset") as usize;
                    cuts.extend([at.saturating_sub(1), at, at + 1]);
                }
            }
        }
        for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
            let short = &bytes[..cut];
            tally.case(
                "cut file",
                &common::with_hash_of(&manifest.to_string(), short),
                short,
                true,
            );
        }
        // Non-finite values: a NaN, +inf or -inf written into each float tensor in turn (in an
        // int8 file: the biases and the scales); a negative value into each int8 scale.
        let data_start = 8 + header_len;
        for (name, info) in header.as_object().expect("object") {
            let Some(offsets) = info.get("data_offsets").and_then(|o| o.as_array()) else {
                continue;
            };
            let begin = data_start + offsets[0].as_u64().expect("offset") as usize;
            let encode = |value: f32| -> Option<Vec<u8>> {
                match info["dtype"].as_str() {
                    Some("F32") => Some(value.to_le_bytes().to_vec()),
                    Some("F16") => Some(half::f16::from_f32(value).to_le_bytes().to_vec()),
                    _ => None,
                }
            };
            for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let Some(encoded) = encode(value) else {
                    continue;
                };
                let mut bad = bytes.clone();
                bad[begin..begin + encoded.len()].copy_from_slice(&encoded);
                let what = format!("{value} in {name}");
                let json = common::with_hash_of(&manifest.to_string(), &bad);
                let err = weights::load_from_bytes(&json, &bad, &Device::flex())
                    .err()
                    .unwrap_or_else(|| panic!("{what} loaded"));
                assert!(matches!(err, LoadError::NonFinite { .. }), "{what}: {err}");
                assert!(err.to_string().contains(name.as_str()), "{err}");
                tally.case(&what, &json, &bad, true);
            }
            if name.ends_with(".scale") {
                let mut bad = bytes.clone();
                bad[begin..begin + 4].copy_from_slice(&(-0.5f32).to_le_bytes());
                let json = common::with_hash_of(&manifest.to_string(), &bad);
                let err = weights::load_from_bytes(&json, &bad, &Device::flex())
                    .err()
                    .unwrap_or_else(|| panic!("a negative {name} loaded"));
                assert!(matches!(err, LoadError::NegativeScale { .. }), "{err}");
                assert!(err.to_string().contains(name.as_str()), "{err}");
                tally.case(&format!("negative {name}"), &json, &bad, true);
            }
        }
        // Manifests with absurd or broken fields; the weights stay valid.
        let edits: Vec<(&str, serde_json::Value)> = vec![
            ("width", 100_000.into()),
            ("height", 100_000.into()),
            ("hidden", 1_000_000_000u64.into()),
            ("layers", 1_000_000.into()),
            ("head", u64::MAX.into()),
            ("levels", 1_000_000.into()),
            ("channels", 1000.into()),
            ("classes", 1_000_000_000u64.into()),
            ("first_kernel", 4095.into()),
            ("kernel", 2.into()),
            ("levels", 1.into()),
            ("hidden", 0.into()),
            ("width", (-3).into()),
            ("width", 1.5.into()),
            ("width", "wide".into()),
            ("version", 99.into()),
        ];
        for (field, value) in &edits {
            let mut m = manifest.clone();
            m["config"][field] = value.clone();
            tally.case(
                &format!("config.{field} = {value}"),
                &m.to_string(),
                &bytes,
                true,
            );
        }
        for (field, value) in [
            ("params", serde_json::Value::from(12)),
            ("params", u64::MAX.into()),
            ("dtype", "bf16".into()),
            ("format", 7.into()),
            ("sha256", "00".into()),
            ("config", serde_json::Value::Null),
            ("metrics", serde_json::Value::Null),
        ] {
            let mut m = manifest.clone();
            m[field] = value.clone();
            tally.case(&format!("{field} = {value}"), &m.to_string(), &bytes, true);
        }
        // Truncated and garbled manifest text.
        for cut in (0..json.len()).step_by(7) {
            tally.case("cut manifest", &json[..cut], &bytes, true);
        }
    }
    println!("{tally:?}");
    assert!(tally.tried >= 1000, "only {} cases", tally.tried);
    assert_eq!(tally.panics, 0, "{tally:?}");
}

/// The error an edited int8 file must give: its variant, and a word its message must hold.
type Expect = (fn(&LoadError) -> bool, String);

/// Int8 files broken in each way the int8 format adds (scales missing, of the wrong shape,
/// dtype or value; tensors in the wrong dtype; extra tensors) and files whose dtype is not
/// the manifest's: each gives its own typed error naming the tensor, never a panic.
#[test]
fn broken_int8_files_give_their_own_errors() {
    use common::RawTensor;
    use safetensors::Dtype;

    let (manifest, bytes) = valid(StoredDType::I8);
    let tensors = common::raw_tensors(&bytes);
    let weight = "head_out.weight";
    let scale = format!("{weight}.scale");
    let bias = "head_out.bias";
    let class_bias = "layers.1.class_bias";
    let find = |list: &[RawTensor], name: &str| {
        list.iter()
            .position(|t| t.0 == name)
            .unwrap_or_else(|| panic!("{name} not in the file"))
    };
    let rows = tensors[find(&tensors, weight)].2[0];
    let f32s = |bytes: &[u8]| -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect()
    };
    let set_scale = |value: f32, at: usize| {
        move |t: &mut Vec<RawTensor>| {
            let i = find(t, &format!("{weight}.scale"));
            t[i].3[at * 4..at * 4 + 4].copy_from_slice(&value.to_le_bytes());
        }
    };
    let shape: fn(&LoadError) -> bool = |e| matches!(e, LoadError::Shape { .. });
    let dtype: fn(&LoadError) -> bool = |e| matches!(e, LoadError::DType { .. });
    let non_finite: fn(&LoadError) -> bool = |e| matches!(e, LoadError::NonFinite { .. });
    let negative: fn(&LoadError) -> bool = |e| matches!(e, LoadError::NegativeScale { .. });
    let unexpected: fn(&LoadError) -> bool = |e| matches!(e, LoadError::UnexpectedTensor(_));
    let missing_scale: fn(&LoadError) -> bool = |e| matches!(e, LoadError::MissingScale(_));
    type Edit<'a> = Box<dyn Fn(&mut Vec<RawTensor>) + 'a>;
    let cases: Vec<(&str, Edit, Expect)> = vec![
        (
            "scale removed",
            Box::new(|t| {
                let i = find(t, &scale);
                t.remove(i);
            }),
            (missing_scale, scale.clone()),
        ),
        (
            "scale renamed",
            Box::new(|t| {
                let i = find(t, &scale);
                t[i].0 = format!("{weight}.scales");
            }),
            (missing_scale, scale.clone()),
        ),
        (
            "scale one longer",
            Box::new(|t| {
                let i = find(t, &scale);
                t[i].2 = vec![rows + 1];
                t[i].3.extend(1f32.to_le_bytes());
            }),
            (shape, scale.clone()),
        ),
        (
            "scale one shorter",
            Box::new(|t| {
                let i = find(t, &scale);
                t[i].2 = vec![rows - 1];
                t[i].3.truncate((rows - 1) * 4);
            }),
            (shape, scale.clone()),
        ),
        (
            "scale [rows, 1]",
            Box::new(|t| {
                let i = find(t, &scale);
                t[i].2 = vec![rows, 1];
            }),
            (shape, scale.clone()),
        ),
        (
            "scale as I32",
            Box::new(|t| {
                let i = find(t, &scale);
                t[i].1 = Dtype::I32;
            }),
            (dtype, scale.clone()),
        ),
        (
            "scale as F16",
            Box::new(|t| {
                let i = find(t, &scale);
                let values = f32s(&t[i].3);
                t[i].1 = Dtype::F16;
                t[i].3 = values
                    .iter()
                    .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                    .collect();
            }),
            (dtype, scale.clone()),
        ),
        (
            "scale as F64",
            Box::new(|t| {
                let i = find(t, &scale);
                let values = f32s(&t[i].3);
                t[i].1 = Dtype::F64;
                t[i].3 = values
                    .iter()
                    .flat_map(|v| f64::from(*v).to_le_bytes())
                    .collect();
            }),
            (dtype, scale.clone()),
        ),
        (
            "NaN scale",
            Box::new(set_scale(f32::NAN, rows - 1)),
            (non_finite, scale.clone()),
        ),
        (
            "infinite scale",
            Box::new(set_scale(f32::INFINITY, 0)),
            (non_finite, scale.clone()),
        ),
        (
            "negative scale",
            Box::new(set_scale(-1e-3, rows - 1)),
            (negative, scale.clone()),
        ),
        (
            "scale so large that q·scale overflows",
            Box::new(set_scale(f32::MAX, 0)),
            (non_finite, weight.to_string()),
        ),
        (
            "int8 weight as U8",
            Box::new(|t| {
                let i = find(t, weight);
                t[i].1 = Dtype::U8;
            }),
            (dtype, weight.to_string()),
        ),
        (
            "int8 weight as F32",
            Box::new(|t| {
                let i = find(t, weight);
                t[i].1 = Dtype::F32;
                t[i].3 = t[i]
                    .3
                    .iter()
                    .flat_map(|q| f32::from(*q as i8).to_le_bytes())
                    .collect();
            }),
            (dtype, weight.to_string()),
        ),
        (
            "int8 class bias as F16",
            Box::new(|t| {
                let i = find(t, class_bias);
                t[i].1 = Dtype::F16;
                t[i].3 = t[i]
                    .3
                    .iter()
                    .flat_map(|q| half::f16::from_f32(f32::from(*q as i8)).to_le_bytes())
                    .collect();
            }),
            (dtype, class_bias.to_string()),
        ),
        (
            "int8 weight flattened to rank 2",
            Box::new(|t| {
                let i = find(t, weight);
                let len = t[i].3.len();
                t[i].2 = vec![rows, len / rows];
            }),
            (shape, weight.to_string()),
        ),
        (
            "bias as I8 with a scale",
            Box::new(|t| {
                let i = find(t, bias);
                let values = f32s(&t[i].3);
                let (q, scales) = weights::quantize_rows(&values, 1, 127);
                t[i].1 = Dtype::I8;
                t[i].3 = q.iter().map(|v| *v as u8).collect();
                t.push((
                    format!("{bias}.scale"),
                    Dtype::F32,
                    vec![1],
                    scales[0].to_le_bytes().to_vec(),
                ));
            }),
            (dtype, bias.to_string()),
        ),
        (
            "bias as F16",
            Box::new(|t| {
                let i = find(t, bias);
                let values = f32s(&t[i].3);
                t[i].1 = Dtype::F16;
                t[i].3 = values
                    .iter()
                    .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                    .collect();
            }),
            (dtype, bias.to_string()),
        ),
        (
            "a scale for a bias",
            Box::new(|t| {
                t.push((
                    format!("{bias}.scale"),
                    Dtype::F32,
                    vec![1],
                    1f32.to_le_bytes().to_vec(),
                ));
            }),
            (unexpected, format!("{bias}.scale")),
        ),
        (
            "an extra tensor",
            Box::new(|t| {
                t.push(("extra".into(), Dtype::F32, vec![2], vec![0; 8]));
            }),
            (unexpected, "extra".to_string()),
        ),
    ];
    let mut tally = Tally::default();
    for (what, edit, (is_expected, names)) in &cases {
        let mut edited = tensors.clone();
        edit(&mut edited);
        let bad = common::raw_file(&edited, bytes.len());
        let json = common::with_hash_of(&manifest.to_string(), &bad);
        tally.case(what, &json, &bad, true);
        let err = weights::load_from_bytes(&json, &bad, &Device::flex())
            .err()
            .unwrap_or_else(|| panic!("{what} loaded"));
        assert!(is_expected(&err), "{what}: {err}");
        assert!(err.to_string().contains(names.as_str()), "{what}: {err}");
    }

    // A file in another dtype than its manifest says, the length check passed.
    for (file_dtype, manifest_dtype) in [
        (StoredDType::F32, StoredDType::I8),
        (StoredDType::F16, StoredDType::I8),
        (StoredDType::I8, StoredDType::F16),
        (StoredDType::I8, StoredDType::F32),
        (StoredDType::F16, StoredDType::F32),
        (StoredDType::F32, StoredDType::F16),
    ] {
        let (_, file) = valid(file_dtype);
        let mut m = manifest.clone();
        m["dtype"] = manifest_dtype.name().into();
        let json = common::with_hash_of(&m.to_string(), &file);
        let what = format!(
            "{} file under a {} manifest",
            file_dtype.name(),
            manifest_dtype.name()
        );
        tally.case(&what, &json, &file, true);
        let err = weights::load_from_bytes(&json, &file, &Device::flex())
            .err()
            .unwrap_or_else(|| panic!("{what} loaded"));
        assert!(dtype(&err), "{what}: {err}");
        assert!(
            err.to_string().contains(manifest_dtype.name()),
            "{what}: {err}"
        );
    }
    println!("{tally:?}");
    assert_eq!(tally.panics, 0, "{tally:?}");
}

#[test]
fn absurd_sizes_are_refused_before_anything_is_allocated() {
    let (manifest, bytes) = valid(StoredDType::F32);
    let mut m = manifest.clone();
    m["config"]["width"] = 100_000.into();
    let err = weights::load_from_bytes(&m.to_string(), &bytes, &Device::flex())
        .map(|_| ())
        .expect_err("refused");
    assert!(err.to_string().contains("`width` is 100000"), "{err}");
    assert!(err.to_string().contains("at most 256"), "{err}");
    let mut m = manifest.clone();
    m["config"]["hidden"] = 1000.into();
    m["config"]["layers"] = 60.into();
    let err = weights::load_from_bytes(&m.to_string(), &bytes, &Device::flex())
        .map(|_| ())
        .expect_err("refused");
    assert!(err.to_string().contains("parameters"), "{err}");
    // A weights file of another size than the config implies.
    let err = weights::load_from_bytes(&manifest.to_string(), &bytes[..100], &Device::flex())
        .map(|_| ())
        .expect_err("refused");
    assert!(matches!(err, LoadError::Length { .. }), "{err}");
}

#[test]
fn param_count_from_the_config_matches_the_model() {
    for cfg in [
        config(),
        PixelCnnConfig::mnist(),
        PixelCnnConfig {
            channels: 3,
            levels: 256,
            hidden: 48,
            head: 96,
            classes: 0,
            ..PixelCnnConfig::mnist()
        },
    ] {
        let model = PixelCnn::new(&cfg, &Device::flex()).expect("config");
        assert_eq!(cfg.param_count(), model.num_params(), "{cfg:?}");
    }
}
