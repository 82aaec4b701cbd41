//! `pixelcnn digits`: a few held-out test images for the web page's "Test image" button —
//! binarized digits per class for MNIST, an even spread of the test split for emoji.

use std::error::Error;
use std::path::PathBuf;

use clap::Args;
use pixelcnn::data::{Dataset, DatasetKind, Split};
use pixelcnn::weights::DataSource;

use crate::{DataArgs, write_file};

#[derive(Args)]
pub struct DigitsArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Output JSON [default: www/models/mnist-digits.json, emoji: www/models/emoji-images.json].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Images per class (data sets without classes: ten times as many, spread evenly).
    #[arg(long, default_value_t = 2)]
    per_class: usize,
}

pub fn run(args: DigitsArgs) -> Result<(), Box<dyn Error>> {
    let kind = args.data.kind();
    let levels = if kind == DatasetKind::Emoji { 256 } else { 2 };
    let sets = args.data.load_sets(kind, Split::Test, levels)?;
    let per_set: Vec<Vec<serde_json::Value>> = sets
        .iter()
        .map(|set| picks(&set.data, args.per_class, sets.len()))
        .collect();
    // One set after another in turn, so that the Test image button shows every set early.
    let longest = per_set.iter().map(Vec::len).max().unwrap_or(0);
    let images: Vec<&serde_json::Value> = (0..longest)
        .flat_map(|k| per_set.iter().filter_map(move |picked| picked.get(k)))
        .collect();
    let first = &sets[0].data;
    let sources: Vec<_> = sets.iter().map(|s| s.source.clone()).collect();
    let json = serde_json::json!({
        "width": first.width,
        "height": first.height,
        "channels": first.channels,
        "levels": levels,
        "source": DataSource::describe_all(&sources),
        "digits": images,
    });
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(match kind {
            DatasetKind::Emoji => "www/models/emoji-images.json",
            _ => "www/models/mnist-digits.json",
        })
    });
    write_file(&out, &serde_json::to_vec(&json)?)?;
    println!("wrote {} images to {}", images.len(), out.display());
    Ok(())
}

/// `per_class` test images of each class, or for a set without classes its share of ten
/// times as many (one of `sets`), spread evenly over it.
fn picks(test_set: &Dataset, per_class: usize, sets: usize) -> Vec<serde_json::Value> {
    let labels = &test_set.labels;
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let indices: Vec<usize> = if classes > 1 {
        (0..classes)
            .flat_map(|class| {
                (0..labels.len())
                    .filter(move |&i| labels[i] == class)
                    .take(per_class)
            })
            .collect()
    } else {
        let count = (per_class * 10).div_ceil(sets).min(test_set.len());
        (0..count)
            .map(|k| k * test_set.len() / count.max(1))
            .collect()
    };
    indices
        .iter()
        .map(|&i| {
            serde_json::json!({
                "label": test_set.labels[i],
                "index": i,
                "pixels": test_set.image(i),
            })
        })
        .collect()
}
