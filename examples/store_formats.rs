//! Writes a training checkpoint's weights in every storage format, to compare their sizes:
//! `cargo run --release --example store_formats -- CHECKPOINT_DIR OUT_DIR` writes
//! `OUT_DIR/{int8,f16,f32}.safetensors` (exactly the bytes `pixelcnn export` would store in
//! that format) and prints each size. `pixelcnn export` measures their test NLL.

#[cfg(feature = "cli")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::path::PathBuf;

    use burn::tensor::Device;
    use pixelcnn::weights::{StoredDType, to_safetensors};

    let mut args = std::env::args().skip(1);
    let usage = "usage: store_formats CHECKPOINT_DIR OUT_DIR";
    let checkpoint = PathBuf::from(args.next().ok_or(usage)?);
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let (model, _) = pixelcnn::train::load_checkpoint(&checkpoint, &Device::flex())?;
    std::fs::create_dir_all(&out)?;
    for dtype in StoredDType::ALL {
        let bytes = to_safetensors(&model, dtype)?;
        let path = out.join(format!("{}.safetensors", dtype.name()));
        std::fs::write(&path, &bytes)?;
        println!("{}: {} bytes", path.display(), bytes.len());
    }
    Ok(())
}

#[cfg(not(feature = "cli"))]
fn main() {
    eprintln!("store_formats needs the `cli` feature (on by default)");
}
