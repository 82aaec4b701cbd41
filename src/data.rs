//! Data sets: IDX files (MNIST as prepared by scripts/prepare_data.py, Fashion-MNIST from
//! Debian's dataset-fashion-mnist, colour emoji as prepared by scripts/prepare_emoji.py),
//! quantized to the model's levels.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::sample::uniform;
use crate::weights::DataSource;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("could not read `{path}`: {message}. {hint}")]
    Io {
        path: String,
        message: String,
        hint: &'static str,
    },
    #[error("`{path}` is not a valid IDX file: {message}")]
    Format { path: String, message: String },
    #[error("images and labels disagree: {images} images but {labels} labels")]
    Mismatch { images: usize, labels: usize },
    #[error("`{path}` does not describe a data set: {message}")]
    Source { path: String, message: String },
    #[error(
        "data sets that are trained or scored together need the same image shape: `{first}` has {first_shape:?}, `{other}` has {other_shape:?}"
    )]
    Shapes {
        first: String,
        first_shape: [usize; 4],
        other: String,
        other_shape: [usize; 4],
    },
    #[error(
        "unsupported number of levels {0}: use 2 (binarized grey images) or 256 (8-bit; the only choice for colour)"
    )]
    Levels(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetKind {
    /// MNIST digits (prepare with `python3 scripts/prepare_data.py`).
    Mnist,
    /// Fashion-MNIST (`apt-get install dataset-fashion-mnist`).
    FashionMnist,
    /// Colour emoji, 16×16 RGB (prepare with `/usr/bin/python3 scripts/prepare_emoji.py`).
    Emoji,
}

impl DatasetKind {
    pub fn default_dir(self) -> PathBuf {
        match self {
            Self::Mnist => PathBuf::from("data/mnist"),
            Self::FashionMnist => PathBuf::from("/usr/share/datasets/fashion-mnist"),
            Self::Emoji => PathBuf::from("data/emoji"),
        }
    }

    /// Colour images come as [N, H, W, C] (rank 4), grey ones as [N, H, W].
    fn image_rank(self) -> usize {
        match self {
            Self::Emoji => 4,
            Self::Mnist | Self::FashionMnist => 3,
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Self::Mnist => "Run `python3 scripts/prepare_data.py` to create data/mnist.",
            Self::FashionMnist => "Run `apt-get install dataset-fashion-mnist`.",
            Self::Emoji => "Run `/usr/bin/python3 scripts/prepare_emoji.py` to create data/emoji.",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
            Self::Emoji => "emoji",
        }
    }
}

impl std::str::FromStr for DatasetKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        [Self::Mnist, Self::FashionMnist, Self::Emoji]
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| {
                format!("unknown data set `{name}`: use `mnist`, `fashion-mnist` or `emoji`")
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "t10k",
        }
    }

    /// Seeds of the one-time binarization: fixed, and different per split.
    fn binarize_seed(self) -> u64 {
        match self {
            Self::Train => 1,
            Self::Test => 2,
        }
    }
}

/// Seed of the fixed binarization of the validation slice carved from the training split:
/// its own draw, so the bits it is scored on are not the ones training saw with seed 1.
pub const VALIDATION_BINARIZE_SEED: u64 = 3;

/// Images as level indices, [N, C, H, W] row-major, with labels.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub levels: usize,
    /// The 8-bit pixels behind a binarized set, kept so that training can draw fresh bits
    /// each epoch ([`Dataset::batch_drawn`]); None for sets that are used as they are.
    pub grey: Option<Vec<u8>>,
}

/// The file in a data folder that says where its images come from (a JSON [`DataSource`]);
/// scripts/prepare_emoji.py writes it for the sets it adds to Noto.
pub const SOURCE_FILE: &str = "source.json";

/// Where the images of `dir` come from: its [`SOURCE_FILE`], or for folders without one the
/// data set its kind names (MNIST, Fashion-MNIST, Noto Color Emoji).
pub fn source_of(kind: DatasetKind, dir: &Path, levels: usize) -> Result<DataSource, DataError> {
    let path = dir.join(SOURCE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(json) => serde_json::from_str(&json).map_err(|e| DataError::Source {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(built_in_source(kind, levels)),
        Err(e) => Err(DataError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
            hint: kind.hint(),
        }),
    }
}

fn built_in_source(kind: DatasetKind, levels: usize) -> DataSource {
    let (name, credit, licence, url) = match kind {
        DatasetKind::Mnist => (
            "MNIST",
            "Yann LeCun, Corinna Cortes and Christopher J. C. Burges",
            "CC-BY-SA-3.0",
            "https://yann.lecun.com/exdb/mnist/",
        ),
        DatasetKind::FashionMnist => (
            "Fashion-MNIST",
            "Zalando Research",
            "MIT",
            "https://github.com/zalandoresearch/fashion-mnist",
        ),
        DatasetKind::Emoji => (
            "Noto Color Emoji",
            "Google",
            "Apache-2.0",
            "https://github.com/googlefonts/noto-emoji",
        ),
    };
    DataSource {
        name: name.into(),
        credit: credit.into(),
        licence: licence.into(),
        url: url.into(),
        description: describe(kind, levels),
    }
}

/// How the levels were made, for manifests and the README.
pub fn describe(kind: DatasetKind, levels: usize) -> String {
    if kind == DatasetKind::Emoji {
        return "Noto Color Emoji (Apache-2.0, Google; Debian fonts-noto-color-emoji): every colour bitmap composited on white, padded square and box-downsampled to 16x16 RGB, 8 bits per channel; split by base emoji (skin-tone and other variants on the same side), 10 % of the images in the test split".to_string();
    }
    match levels {
        2 => format!(
            "{}, binarized: each pixel is 1 with probability pixel/255, drawn from seeded generators; the test split binarized once (seed 2) and used for evaluation only; training draws fresh bits every epoch unless trained with --fixed-binarization",
            kind.name()
        ),
        _ => format!("{}, 8-bit grey levels", kind.name()),
    }
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn load(
        kind: DatasetKind,
        dir: &Path,
        split: Split,
        levels: usize,
    ) -> Result<Self, DataError> {
        let rank = kind.image_rank();
        let images = dir.join(format!("{}-images-idx{rank}-ubyte.gz", split.prefix()));
        let labels = dir.join(format!("{}-labels-idx1-ubyte.gz", split.prefix()));
        let (dims, pixels) = read_idx(&images, kind.hint())?;
        let (label_dims, labels) = read_idx(&labels, kind.hint())?;
        if dims.len() != rank || label_dims.len() != 1 {
            return Err(DataError::Format {
                path: images.display().to_string(),
                message: format!(
                    "expected [N, H, W{}] images and [N] labels, got {dims:?} and {label_dims:?}",
                    if rank == 4 { ", C" } else { "" }
                ),
            });
        }
        if dims[0] != label_dims[0] {
            return Err(DataError::Mismatch {
                images: dims[0],
                labels: label_dims[0],
            });
        }
        let channels = if rank == 4 { dims[3] } else { 1 };
        if channels > 1 && levels != 256 {
            return Err(DataError::Levels(levels));
        }
        let pixels = if channels > 1 {
            channels_first(&pixels, dims[1] * dims[2], channels)
        } else {
            pixels
        };
        let image_size = dims[1] * dims[2] * channels;
        let images = quantize(&pixels, levels, split.binarize_seed(), image_size)?;
        Ok(Self {
            images,
            labels,
            channels,
            height: dims[1],
            width: dims[2],
            levels,
            grey: (levels == 2).then_some(pixels),
        })
    }

    /// The items of several sets of one shape, one set after another (`names` label them in
    /// the error when the shapes differ).
    pub fn concat(sets: Vec<Self>, names: &[String]) -> Result<Self, DataError> {
        let mut sets = sets.into_iter().zip(names);
        let (mut union, first) = sets.next().expect("at least one data set");
        for (set, name) in sets {
            if set.shape() != union.shape() {
                return Err(DataError::Shapes {
                    first: first.clone(),
                    first_shape: union.shape(),
                    other: name.clone(),
                    other_shape: set.shape(),
                });
            }
            union.images.extend(set.images);
            union.labels.extend(set.labels);
            union.grey = union.grey.zip(set.grey).map(|(mut a, b)| {
                a.extend(b);
                a
            });
        }
        Ok(union)
    }

    /// Channels, height, width and levels: what sets must share to be used together.
    fn shape(&self) -> [usize; 4] {
        [self.channels, self.height, self.width, self.levels]
    }

    /// The first `n` items (for quick evaluations and fixtures).
    pub fn truncate(mut self, n: usize) -> Self {
        let n = n.min(self.len());
        let size = self.image_size();
        self.images.truncate(n * size);
        if let Some(grey) = self.grey.as_mut() {
            grey.truncate(n * size);
        }
        self.labels.truncate(n);
        self
    }

    /// Splits off the last `n` items (fewer if the set is smaller), e.g. a validation slice.
    pub fn split_off_last(mut self, n: usize) -> (Self, Self) {
        let keep = self.len() - n.min(self.len());
        let size = self.image_size();
        let tail = Self {
            images: self.images.split_off(keep * size),
            labels: self.labels.split_off(keep),
            grey: self.grey.as_mut().map(|g| g.split_off(keep * size)),
            ..self.clone()
        };
        (self, tail)
    }

    /// The same images binarized once more with another fixed seed; unchanged for sets that
    /// keep no 8-bit source.
    pub fn rebinarized(mut self, seed: u64) -> Self {
        if let Some(grey) = &self.grey {
            let size = self.image_size();
            self.images = grey
                .iter()
                .enumerate()
                .map(|(i, &p)| binary_draw(p, uniform(seed, i / size, 0, i % size, 0)))
                .collect();
        }
        self
    }

    /// Level indices [B, C, H, W] and labels [B] for the given items.
    pub fn batch(&self, indices: &[usize], device: &Device) -> (Tensor<4, Int>, Tensor<1, Int>) {
        let size = self.image_size();
        let mut values = Vec::with_capacity(indices.len() * size);
        for &i in indices {
            values.extend(self.image(i).iter().map(|&v| v as i64));
        }
        self.tensors(values, indices, device)
    }

    /// Like [`Dataset::batch`], with the bits of a binarized set drawn afresh: item
    /// `indices[j]` gets draw `draws[j]` (training uses the epoch). Each pixel is 1 with
    /// probability pixel/255, deterministic in (seed, draw, item, pixel). Sets without an 8-bit
    /// source are returned as they are.
    pub fn batch_drawn(
        &self,
        indices: &[usize],
        draws: &[usize],
        seed: u64,
        device: &Device,
    ) -> (Tensor<4, Int>, Tensor<1, Int>) {
        let Some(grey) = &self.grey else {
            return self.batch(indices, device);
        };
        let size = self.image_size();
        let mut values = Vec::with_capacity(indices.len() * size);
        for (&i, &draw) in indices.iter().zip(draws) {
            values.extend(
                grey[i * size..(i + 1) * size]
                    .iter()
                    .enumerate()
                    .map(|(p, &g)| {
                        i64::from(binary_draw(g, uniform(seed ^ DRAW_SALT, i, 1, p, draw)))
                    }),
            );
        }
        self.tensors(values, indices, device)
    }

    fn tensors(
        &self,
        values: Vec<i64>,
        indices: &[usize],
        device: &Device,
    ) -> (Tensor<4, Int>, Tensor<1, Int>) {
        let labels: Vec<i64> = indices.iter().map(|&i| self.labels[i] as i64).collect();
        let shape = [indices.len(), self.channels, self.height, self.width];
        (
            Tensor::from_data(TensorData::new(values, shape), device),
            Tensor::from_data(TensorData::new(labels, [indices.len()]), device),
        )
    }

    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.image_size();
        &self.images[index * size..(index + 1) * size]
    }
}

/// [N, H·W, C] interleaved pixels → [N, C, H·W] planes, the layout of [`Dataset::images`].
fn channels_first(pixels: &[u8], plane: usize, channels: usize) -> Vec<u8> {
    let image = plane * channels;
    let mut out = vec![0; pixels.len()];
    for (n, src) in pixels.chunks_exact(image).enumerate() {
        for p in 0..plane {
            for c in 0..channels {
                out[n * image + c * plane + p] = src[p * channels + c];
            }
        }
    }
    out
}

/// Keeps per-epoch draws apart from the fixed binarizations, whatever the training seed.
const DRAW_SALT: u64 = 0xB1A5_ED00_D5A3_F00D;

/// One Bernoulli(pixel/255) bit from a uniform in (0, 1).
fn binary_draw(pixel: u8, u: f64) -> u8 {
    u8::from(u < f64::from(pixel) / 255.0)
}

/// Maps 8-bit pixels to `levels` values. Binarization draws each pixel once from
/// Bernoulli(pixel/255) with a position-addressed seed, so it is the same on every machine.
fn quantize(
    pixels: &[u8],
    levels: usize,
    seed: u64,
    image_size: usize,
) -> Result<Vec<u8>, DataError> {
    match levels {
        2 => Ok(pixels
            .iter()
            .enumerate()
            .map(|(i, &p)| binary_draw(p, uniform(seed, i / image_size, 0, i % image_size, 0)))
            .collect()),
        256 => Ok(pixels.to_vec()),
        other => Err(DataError::Levels(other)),
    }
}

/// Reads a (gzip-compressed) IDX file of unsigned bytes: returns its dimensions and data.
pub fn read_idx(path: &Path, hint: &'static str) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let io = |e: std::io::Error| DataError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
        hint,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let format = |message: String| DataError::Format {
        path: path.display().to_string(),
        message,
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(format("missing IDX magic number".into()));
    }
    if bytes[2] != 0x08 {
        return Err(format(format!(
            "element type 0x{:02x} is not unsigned byte (0x08)",
            bytes[2]
        )));
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(format("header is truncated".into()));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|d| {
            let at = 4 + 4 * d;
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        })
        .collect();
    let expected: usize = dims.iter().product();
    if bytes.len() - header != expected {
        return Err(format(format!(
            "dimensions {dims:?} need {expected} bytes, the file has {}",
            bytes.len() - header
        )));
    }
    bytes.drain(..header);
    Ok((dims, bytes))
}

/// Writes a gzip-compressed IDX file of unsigned bytes (used by tests to make fixtures).
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out =
        flate2::write::GzEncoder::new(std::fs::File::create(path)?, flate2::Compression::fast());
    out.write_all(&[0, 0, 0x08, dims.len() as u8])?;
    for &d in dims {
        out.write_all(&(d as u32).to_be_bytes())?;
    }
    out.write_all(data)?;
    out.finish()?;
    Ok(())
}
