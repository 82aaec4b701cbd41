//! Writes a training checkpoint's weights in every encoding, to compare their sizes:
//! `cargo run --release --example store_formats -- CHECKPOINT_DIR OUT_DIR` writes
//! `OUT_DIR/{int8-31,int8-63,int8-127,f16,f32}.safetensors` (exactly the bytes `pixelcnn
//! export` would store in that encoding) and prints each size. `pixelcnn export` measures
//! their test NLL.

#[cfg(feature = "cli")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::path::PathBuf;

    use burn::tensor::Device;
    use pixelcnn::weights::{Encoding, StoredDType, to_safetensors};

    let mut args = std::env::args().skip(1);
    let usage = "usage: store_formats CHECKPOINT_DIR OUT_DIR";
    let checkpoint = PathBuf::from(args.next().ok_or(usage)?);
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let (model, _) = pixelcnn::train::load_checkpoint(&checkpoint, &Device::flex())?;
    std::fs::create_dir_all(&out)?;
    for encoding in Encoding::candidates() {
        let bytes = to_safetensors(&model, encoding)?;
        let name = match encoding.dtype {
            StoredDType::I8 => format!("int8-{}", encoding.int8_steps),
            other => other.name().to_string(),
        };
        let path = out.join(format!("{name}.safetensors"));
        std::fs::write(&path, &bytes)?;
        println!("{}: {} bytes", path.display(), bytes.len());
    }
    Ok(())
}

#[cfg(not(feature = "cli"))]
fn main() {
    eprintln!("store_formats needs the `cli` feature (on by default)");
}
