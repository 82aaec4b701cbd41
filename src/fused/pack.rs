//! The model as the kernels read it: every weight matrix in one flat buffer, the condition
//! biases per batch item, and the kernels' source with the model's dimensions and offsets
//! written in as constants.

use burn::tensor::Tensor;

use crate::config::PixelCnnConfig;
use crate::model::{Condition, GatedLayer, MaskedConv, PixelCnn};

/// Threads per workgroup (one workgroup per batch item) on an adapter of this type. A GPU runs
/// the 64 in parallel. A CPU adapter (SwiftShader, which is Chrome's fallback, and lavapipe) runs
/// a workgroup on one core in groups of four invocations and switches between the groups at
/// every barrier, so fewer threads are faster there: of 4, 16, 32 and 64, 16 was fastest on
/// SwiftShader (`pixelcnn bench --fused`, full completions at batch 1 and 16).
pub fn workgroup_threads(device_type: wgpu::DeviceType) -> usize {
    match device_type {
        wgpu::DeviceType::Cpu => 16,
        _ => 64,
    }
}

const KERNELS: &str = include_str!("kernels.wgsl");

/// Where each of one layer's matrices starts in the weight buffer.
#[derive(Debug, Clone, Copy, Default)]
struct LayerOffsets {
    vertical: usize,
    vertical_bias: usize,
    horizontal: usize,
    horizontal_bias: usize,
    link: usize,
    link_bias: usize,
    output: usize,
    output_bias: usize,
}

impl LayerOffsets {
    /// The kernels' names of the fields of [`LayerOffsets::all`].
    const NAMES: [&str; 8] = [
        "VERTICAL",
        "VERTICAL_BIAS",
        "HORIZONTAL",
        "HORIZONTAL_BIAS",
        "LINK",
        "LINK_BIAS",
        "OUTPUT",
        "OUTPUT_BIAS",
    ];

    fn all(&self) -> [usize; 8] {
        [
            self.vertical,
            self.vertical_bias,
            self.horizontal,
            self.horizontal_bias,
            self.link,
            self.link_bias,
            self.output,
            self.output_bias,
        ]
    }
}

/// Every weight the kernels read, and where.
pub struct PackedWeights {
    pub data: Vec<f32>,
    layers: Vec<LayerOffsets>,
    head_hidden: [usize; 2],
    head_out: [usize; 2],
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec()
        .expect("f32 tensor data")
}

/// Appends a convolution's [inputs, outputs] matrix and its bias; returns where each starts.
/// Each starts at a multiple of 4 floats, so the kernels can read it as `vec4`s.
fn push_matrix(data: &mut Vec<f32>, conv: &MaskedConv) -> [usize; 2] {
    let m = conv.matmul();
    let mut push = |values: Vec<f32>| {
        data.resize(data.len().next_multiple_of(4), 0.0);
        let at = data.len();
        data.extend(values);
        at
    };
    [push(floats(m.weight())), push(floats(m.bias()))]
}

impl PackedWeights {
    /// The model's masked convolutions as [inputs, outputs] matrices with their biases.
    pub fn new(model: &PixelCnn) -> Self {
        let mut data = Vec::new();
        let layers = model
            .layers
            .iter()
            .map(|layer: &GatedLayer| {
                let [vertical, vertical_bias] = push_matrix(&mut data, &layer.vertical);
                let [horizontal, horizontal_bias] = push_matrix(&mut data, &layer.horizontal);
                let [link, link_bias] = push_matrix(&mut data, &layer.vertical_to_horizontal);
                let [output, output_bias] = push_matrix(&mut data, &layer.output);
                LayerOffsets {
                    vertical,
                    vertical_bias,
                    horizontal,
                    horizontal_bias,
                    link,
                    link_bias,
                    output,
                    output_bias,
                }
            })
            .collect();
        let head_hidden = push_matrix(&mut data, &model.head_hidden);
        let head_out = push_matrix(&mut data, &model.head_out);
        Self {
            data,
            layers,
            head_hidden,
            head_out,
        }
    }
}

/// Each layer's class and order bias for every batch item, [B, L, 2n] (zeros where the model
/// has neither).
pub fn condition_biases(model: &PixelCnn, condition: &Condition, batch: usize) -> Vec<f32> {
    let d = 2 * model.config.hidden;
    let per_layer: Vec<Vec<f32>> = model
        .layers
        .iter()
        .map(|layer| match layer.condition_term(condition) {
            Some(term) => {
                let rows = term.dims()[0];
                let values = floats(term);
                (0..batch)
                    .flat_map(|b| values[(b % rows) * d..(b % rows + 1) * d].to_vec())
                    .collect()
            }
            None => vec![0.0; batch * d],
        })
        .collect();
    (0..batch)
        .flat_map(|b| {
            per_layer
                .iter()
                .flat_map(move |l| l[b * d..(b + 1) * d].to_vec())
        })
        .collect()
}

/// How one batch item's block of the `work` buffer is laid out (in floats).
#[derive(Debug, Clone, Copy)]
pub struct WorkLayout {
    pub ring: usize,
    pub row_terms: usize,
    pub hcache: usize,
    pub scratch: usize,
    pub scratch2: usize,
    pub condition: usize,
    pub item: usize,
}

impl WorkLayout {
    pub fn new(config: &PixelCnnConfig) -> Self {
        let (w, n, l) = (config.width, config.hidden, config.layers);
        let d = 2 * n;
        let half = config.kernel / 2;
        let ring = 0;
        let row_terms = ring + (l - 1) * (half + 1) * w * n;
        let hcache = row_terms + l * w * d;
        let scratch = hcache + (l - 1) * w * n;
        let scratch2 = scratch + w * d.max(n);
        let condition = scratch2 + w * n.max(config.head);
        let item = condition + l * d;
        Self {
            ring,
            row_terms,
            hcache,
            scratch,
            scratch2,
            condition,
            item,
        }
    }
}

/// Floats of the kernels' staged input row: the widest layer input with its padding.
fn row_inputs(config: &PixelCnnConfig) -> usize {
    let w = config.width;
    let first = (w + 2 * (config.first_kernel / 2)) * config.channels;
    let rest = (w + 2 * (config.kernel / 2)) * config.hidden;
    first.max(rest)
}

/// Columns of the vertical stack's output that `row_in` holds at once while the link reads
/// them: whole tiles of four columns, at least one.
fn link_columns(config: &PixelCnnConfig) -> usize {
    let d = 2 * config.hidden;
    let tiles = (row_inputs(config) / d / 4).max(1);
    (4 * tiles).min(config.width.next_multiple_of(4))
}

/// Floats of `row_in`: a staged input row, or a chunk of the vertical stack's output.
fn row_in_floats(config: &PixelCnnConfig) -> usize {
    row_inputs(config).max(link_columns(config) * 2 * config.hidden)
}

/// Bytes of workgroup memory the kernels declare for this model.
pub fn workgroup_bytes(config: &PixelCnnConfig, threads: usize) -> usize {
    let n = config.hidden;
    4 * (2 * n + n + n + config.head + config.levels + threads + row_in_floats(config))
}

/// The kernels' source for this model: its constants, then the kernels.
pub fn shader_source(config: &PixelCnnConfig, weights: &PackedWeights, threads: usize) -> String {
    let work = WorkLayout::new(config);
    let mut s = String::new();
    let mut constant = |name: &str, value: usize| {
        s.push_str(&format!("const {name}: u32 = {value}u;\n"));
    };
    constant("CHANNELS", config.channels);
    constant("LEVELS", config.levels);
    constant("HEIGHT", config.height);
    constant("WIDTH", config.width);
    constant("N", config.hidden);
    constant("D", 2 * config.hidden);
    constant("N4", config.hidden / 4);
    constant("D4", config.hidden / 2);
    constant("LAYERS", config.layers);
    constant("HEAD", config.head);
    constant("HALF0", config.first_kernel / 2);
    constant("KERNEL0", config.first_kernel);
    constant("HALF", config.kernel / 2);
    constant("KERNEL", config.kernel);
    constant("WG", threads);
    constant("ROW_IN", row_in_floats(config));
    constant("LINK_COLS", link_columns(config));
    constant("RING", work.ring);
    constant("ROW_TERMS", work.row_terms);
    constant("HCACHE", work.hcache);
    constant("SCRATCH", work.scratch);
    constant("SCRATCH2", work.scratch2);
    constant("CONDITION", work.condition);
    constant("ITEM", work.item);
    let [hh, hhb] = weights.head_hidden;
    let [ho, hob] = weights.head_out;
    constant("HEAD_HIDDEN", hh);
    constant("HEAD_HIDDEN_BIAS", hhb);
    constant("HEAD_OUT", ho);
    constant("HEAD_OUT_BIAS", hob);
    let scale = 2.0 / (config.levels - 1) as f64;
    s.push_str(&format!(
        "const NORMALIZE_SCALE: f32 = {:?};\n",
        scale as f32
    ));
    for (field, name) in LayerOffsets::NAMES.iter().enumerate() {
        let values: Vec<String> = weights
            .layers
            .iter()
            .map(|o| format!("{}u", o.all()[field]))
            .collect();
        s.push_str(&format!(
            "var<private> {name}: array<u32, {}> = array<u32, {}>({});\n",
            values.len(),
            values.len(),
            values.join(", ")
        ));
    }
    s.push_str(KERNELS);
    s
}
