//! Naive vs cached sampling speed on a randomly initialised model of the shipped MNIST
//! architecture (random weights take exactly as long as trained ones), flex CPU backend.
//!
//! `cargo run --release --example bench_sampler -- [REPEATS] [NAIVE_PIXELS] [BATCH...]`
//! (defaults: 3 repeats, the full naive completion (0 = full), batches 1 and 16).

#[cfg(feature = "cli")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use burn::tensor::Device;
    use pixelcnn::{PixelCnn, PixelCnnConfig};

    let mut args = std::env::args().skip(1);
    let repeats = match args.next() {
        Some(r) => r.parse().map_err(|e| format!("REPEATS `{r}`: {e}"))?,
        None => 3,
    };
    let naive_pixels = match args.next() {
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|e| format!("NAIVE_PIXELS `{n}`: {e}"))?,
        )
        .filter(|&n| n > 0),
        None => None,
    };
    let mut batches = args
        .map(|b| b.parse::<usize>().map_err(|e| format!("BATCH `{b}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if batches.is_empty() {
        batches = vec![1, 16];
    }
    let device = Device::flex();
    device.seed(0);
    let model = PixelCnn::new(&PixelCnnConfig::mnist(), &device)?;
    let report = pixelcnn::bench::run_bench_with(&model, &device, &batches, repeats, naive_pixels)?;
    print!("{}", report.table());
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

#[cfg(not(feature = "cli"))]
fn main() {
    eprintln!("bench_sampler needs the `cli` feature");
}
