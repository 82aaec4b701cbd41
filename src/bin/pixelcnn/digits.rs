//! `pixelcnn digits`: a few held-out test images for the web page's "Test image" button —
//! binarized digits per class for MNIST, an even spread of the test split for emoji.

use std::error::Error;
use std::path::PathBuf;

use clap::Args;
use pixelcnn::data::{self, DatasetKind, Split};

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
    let test_set = args.data.load(Split::Test, levels)?;
    let labels = &test_set.labels;
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let picks: Vec<usize> = if classes > 1 {
        (0..classes)
            .flat_map(|class| {
                (0..labels.len())
                    .filter(move |&i| labels[i] == class)
                    .take(args.per_class)
            })
            .collect()
    } else {
        let count = (args.per_class * 10).min(test_set.len());
        (0..count)
            .map(|k| k * test_set.len() / count.max(1))
            .collect()
    };
    let images: Vec<serde_json::Value> = picks
        .iter()
        .map(|&i| {
            serde_json::json!({
                "label": test_set.labels[i],
                "index": i,
                "pixels": test_set.image(i),
            })
        })
        .collect();
    let json = serde_json::json!({
        "width": test_set.width,
        "height": test_set.height,
        "channels": test_set.channels,
        "levels": levels,
        "source": data::describe(kind, levels),
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
