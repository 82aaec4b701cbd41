//! `pixelcnn digits`: a few binarized test digits for the web page.

use std::error::Error;
use std::path::PathBuf;

use clap::Args;
use pixelcnn::data::{self, Split};

use crate::{DataArgs, write_file};

#[derive(Args)]
pub struct DigitsArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, default_value = "www/models/mnist-digits.json")]
    out: PathBuf,
    /// Digits per class.
    #[arg(long, default_value_t = 2)]
    per_class: usize,
}

pub fn run(args: DigitsArgs) -> Result<(), Box<dyn Error>> {
    let test_set = args.data.load(Split::Test, 2)?;
    let mut digits = Vec::new();
    for class in 0..10u8 {
        let picks = (0..test_set.len())
            .filter(|&i| test_set.labels[i] == class)
            .take(args.per_class);
        for i in picks {
            digits.push(
                serde_json::json!({ "label": class, "index": i, "pixels": test_set.image(i) }),
            );
        }
    }
    let json = serde_json::json!({
        "width": test_set.width,
        "height": test_set.height,
        "source": data::describe(args.data.dataset, 2),
        "digits": digits,
    });
    write_file(&args.out, &serde_json::to_vec(&json)?)?;
    println!("wrote {} digits to {}", digits.len(), args.out.display());
    Ok(())
}
