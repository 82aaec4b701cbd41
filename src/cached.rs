//! Cached incremental sampling (the Fast PixelCNN++ idea, Ramachandran et al. 2017).
//!
//! The naive sampler runs the whole network over the whole image for every generated value.
//! Here every layer's inputs are kept in caches and only what a new value can affect is
//! recomputed:
//!
//! - the vertical stack once per row: when row i-1 is complete, every layer's vertical
//!   pre-activation for that row is computed from a window of (k/2+1) cached rows, which also
//!   gives the vertical→horizontal term of row i;
//! - the horizontal stack once per generated value: a 1×(k/2+1) window of the current row's
//!   cached horizontal inputs, layer after layer, then the 1×1 head at that one pixel.
//!
//! Everything stays on the device: no method reads tensor data back (on WebGPU a synchronous
//! read panics), so pixels are sampled with Gumbel-max on the device exactly like
//! [`NaiveSampler`](crate::sample::NaiveSampler), with the same positional noise.

use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::model::{PixelCnn, gate};
use crate::sample::{
    Completion, SampleError, SampleRequest, SampleState, noise_tensor, sample_levels,
};

/// Constant per-layer tensors plus the layer's caches.
struct LayerCache {
    /// k/2 of this layer: rows above / columns to each side the vertical kernel sees, and
    /// columns to the left the horizontal kernel sees.
    half: usize,
    /// Masked weights, computed once: masking per step would be one more op per layer.
    vertical_w: Tensor<4>,
    vertical_b: Tensor<1>,
    horizontal_w: Tensor<4>,
    horizontal_b: Tensor<1>,
    link_w: Tensor<4>,
    link_b: Tensor<1>,
    output_w: Tensor<4>,
    output_b: Tensor<1>,
    /// Class bias [B, 2n, 1, 1], added inside both gates.
    class: Option<Tensor<4>>,
    /// Vertical-stack input with the model's zero padding already in place:
    /// [B, C_in, half + H, half + W + half]. Image row r lives at row half + r.
    v_in: Tensor<4>,
    /// Horizontal-stack input of the current row, zero-padded on the left:
    /// [B, C_in, 1, half + W]. Column c lives at column half + c.
    h_in: Tensor<4>,
    /// vertical_to_horizontal(vertical pre-activation of the row above) + class bias, for the
    /// current row: [B, 2n, 1, W]. Everything the horizontal stack adds that does not depend
    /// on the current row.
    link: Tensor<4>,
}

/// A [`Completion`] that recomputes only what each new value affects; produces the same
/// pixels as [`NaiveSampler`](crate::sample::NaiveSampler) for the same request.
pub struct CachedSampler {
    model: PixelCnn,
    request: SampleRequest,
    pub state: SampleState,
    layers: Vec<LayerCache>,
    head_hidden_w: Tensor<4>,
    head_hidden_b: Tensor<1>,
    head_out_w: Tensor<4>,
    head_out_b: Tensor<1>,
    device: Device,
    /// Rows 0..vertical_rows have their vertical pre-activations in the caches.
    vertical_rows: usize,
    /// (row, column) such that the horizontal caches hold final values for every column
    /// before `column` of `row`; None before the first pixel.
    horizontal_at: Option<(usize, usize)>,
}

impl CachedSampler {
    pub fn new(
        model: &PixelCnn,
        request: SampleRequest,
        device: &Device,
    ) -> Result<Self, SampleError> {
        let state = SampleState::new(model, &request, device)?;
        let config = &model.config;
        let (b, h, w) = (request.batch, config.height, config.width);
        let layers = model
            .layers
            .iter()
            .enumerate()
            .map(|(index, layer)| {
                let half = layer.horizontal.pad_left;
                let c_in = if index == 0 {
                    config.channels
                } else {
                    config.hidden
                };
                let class = layer.class_term(state.labels.as_ref());
                let link_w = layer.vertical_to_horizontal.masked_weight();
                let link_b = layer.vertical_to_horizontal.bias.val();
                // Row 0 has no row above: the full pass shifts in a zero row, so its link term
                // is the 1×1 conv of zeros.
                let zeros = Tensor::zeros([b, 2 * config.hidden, 1, w], device);
                let link = layer.vertical_to_horizontal.forward_with(
                    zeros,
                    link_w.clone(),
                    link_b.clone(),
                    false,
                );
                let link = with_class(link, class.as_ref());
                LayerCache {
                    half,
                    vertical_w: layer.vertical.masked_weight(),
                    vertical_b: layer.vertical.bias.val(),
                    horizontal_w: layer.horizontal.masked_weight(),
                    horizontal_b: layer.horizontal.bias.val(),
                    link_w,
                    link_b,
                    output_w: layer.output.masked_weight(),
                    output_b: layer.output.bias.val(),
                    class,
                    v_in: Tensor::zeros([b, c_in, half + h, w + 2 * half], device),
                    h_in: Tensor::zeros([b, c_in, 1, half + w], device),
                    link,
                }
            })
            .collect();
        Ok(Self {
            model: model.clone(),
            request,
            state,
            layers,
            head_hidden_w: model.head_hidden.masked_weight(),
            head_hidden_b: model.head_hidden.bias.val(),
            head_out_w: model.head_out.masked_weight(),
            head_out_b: model.head_out.bias.val(),
            device: device.clone(),
            vertical_rows: 0,
            horizontal_at: None,
        })
    }

    /// Like [`Completion::step`], and hands `observe(pixel, channel, logits [B, K])` the logits
    /// each value was sampled from (tests compare them with the naive sampler's).
    pub fn step_observed(
        &mut self,
        pixels: usize,
        mut observe: impl FnMut(usize, usize, &Tensor<2>),
    ) -> usize {
        let (width, channels) = (self.model.config.width, self.model.config.channels);
        let mut n = 0;
        while n < pixels && !self.state.is_done() {
            let p = self.state.todo[self.state.done];
            let (row, col) = (p / width, p % width);
            self.prepare(row, col);
            for channel in 0..channels {
                let logits = self.pixel_logits(col, channel);
                observe(p, channel, &logits);
                let noise = noise_tensor(
                    &self.request,
                    channel,
                    p,
                    self.model.config.levels,
                    &self.device,
                );
                let values = sample_levels(logits, self.request.temperature, noise);
                self.state.write(values, channel, row, col);
                self.refresh_input(row, col, channel);
            }
            self.horizontal_at = Some((row, col + 1));
            self.state.done += 1;
            n += 1;
        }
        n
    }

    /// Brings the caches up to date for generating pixel (row, col): every earlier position
    /// is final (raster order), but positions skipped because they are known in every batch
    /// item have not been through the caches yet.
    fn prepare(&mut self, row: usize, col: usize) {
        if self.vertical_rows < row {
            self.vertical_pass(self.vertical_rows, row);
            self.vertical_rows = row;
        }
        // At column 0 the horizontal windows see only padding and the current pixel, which
        // the per-value pass writes itself; elsewhere the columns to the left must be final.
        if col > 0 && self.horizontal_at != Some((row, col)) {
            self.horizontal_row_pass(row);
        }
    }

    /// Vertical stack for the complete rows first..last (exclusive), all in one window per
    /// layer, and the link term of row `last`.
    fn vertical_pass(&mut self, first: usize, last: usize) {
        let config = &self.model.config;
        let (b, c, w) = (self.request.batch, config.channels, config.width);
        let m = last - first;
        let x =
            self.model.normalize(
                self.state
                    .canvas
                    .clone()
                    .slice([0..b, 0..c, first..last, 0..w]),
            );
        let half0 = self.layers[0].half;
        let rows = first + half0..last + half0;
        self.layers[0].v_in = self.layers[0]
            .v_in
            .clone()
            .slice_assign([0..b, 0..c, rows, half0..half0 + w], x);
        for l in 0..self.layers.len() {
            let model_layer = &self.model.layers[l];
            let layer = &self.layers[l];
            let [_, c_in, _, padded_w] = layer.v_in.dims();
            // Padded rows first..last+half hold image rows first-half..last-1: exactly what
            // the (half+1)-row kernel needs for output rows first..last.
            let window =
                layer
                    .v_in
                    .clone()
                    .slice([0..b, 0..c_in, first..last + layer.half, 0..padded_w]);
            let v_pre = model_layer.vertical.forward_with(
                window,
                layer.vertical_w.clone(),
                layer.vertical_b.clone(),
                false,
            );
            let above = v_pre.clone().narrow(2, m - 1, 1);
            let link = model_layer.vertical_to_horizontal.forward_with(
                above,
                layer.link_w.clone(),
                layer.link_b.clone(),
                false,
            );
            let link = with_class(link, layer.class.as_ref());
            // The last layer's vertical output feeds nothing.
            let next_in =
                (l + 1 < self.layers.len()).then(|| gate(with_class(v_pre, layer.class.as_ref())));
            self.layers[l].link = link;
            if let Some(v) = next_in {
                let next = &mut self.layers[l + 1];
                let [_, n_in, _, _] = next.v_in.dims();
                let region = [
                    0..b,
                    0..n_in,
                    first + next.half..last + next.half,
                    next.half..next.half + w,
                ];
                next.v_in = next.v_in.clone().slice_assign(region, v);
            }
        }
    }

    /// Horizontal stack over the whole current row from the canvas, with row-wide ops: fills
    /// the row caches with final values for every column before the next hidden pixel.
    fn horizontal_row_pass(&mut self, row: usize) {
        let config = &self.model.config;
        let (b, c, w) = (self.request.batch, config.channels, config.width);
        let x =
            self.model.normalize(
                self.state
                    .canvas
                    .clone()
                    .slice([0..b, 0..c, row..row + 1, 0..w]),
            );
        let half0 = self.layers[0].half;
        self.layers[0].h_in = self.layers[0]
            .h_in
            .clone()
            .slice_assign([0..b, 0..c, 0..1, half0..half0 + w], x);
        for l in 0..self.layers.len() - 1 {
            let out =
                self.horizontal_layer(l, self.layers[l].h_in.clone(), self.layers[l].link.clone());
            let next = &mut self.layers[l + 1];
            let [_, n_in, _, _] = next.h_in.dims();
            next.h_in = next
                .h_in
                .clone()
                .slice_assign([0..b, 0..n_in, 0..1, next.half..next.half + w], out);
        }
    }

    /// One layer of the horizontal stack on a window [B, C_in, 1, half + cols] of its padded
    /// input; `link` [B, 2n, 1, cols] is the matching slice of the link term. Returns the
    /// layer's horizontal output [B, n, 1, cols].
    fn horizontal_layer(&self, l: usize, window: Tensor<4>, link: Tensor<4>) -> Tensor<4> {
        let model_layer = &self.model.layers[l];
        let layer = &self.layers[l];
        let h_pre = model_layer.horizontal.forward_with(
            window.clone(),
            layer.horizontal_w.clone(),
            layer.horizontal_b.clone(),
            false,
        ) + link;
        let out = model_layer.output.forward_with(
            gate(h_pre),
            layer.output_w.clone(),
            layer.output_b.clone(),
            false,
        );
        if model_layer.residual {
            let cols = window.dims()[3] - layer.half;
            out + window.narrow(3, layer.half, cols)
        } else {
            out
        }
    }

    /// Logits [B, K] for `channel` at column `col` of the current row: the horizontal stack at
    /// that one pixel, layer after layer, writing each layer's output into the next layer's row
    /// cache.
    fn pixel_logits(&mut self, col: usize, channel: usize) -> Tensor<2> {
        let b = self.request.batch;
        let mut h = None;
        for l in 0..self.layers.len() {
            let layer = &self.layers[l];
            let [_, c_in, _, _] = layer.h_in.dims();
            let [_, d, _, _] = layer.link.dims();
            let window = layer
                .h_in
                .clone()
                .slice([0..b, 0..c_in, 0..1, col..col + layer.half + 1]);
            let link = layer.link.clone().slice([0..b, 0..d, 0..1, col..col + 1]);
            let out = self.horizontal_layer(l, window, link);
            if let Some(next) = self.layers.get_mut(l + 1) {
                let [_, n_in, _, _] = next.h_in.dims();
                let at = col + next.half;
                next.h_in = next
                    .h_in
                    .clone()
                    .slice_assign([0..b, 0..n_in, 0..1, at..at + 1], out.clone());
            }
            h = Some(out);
        }
        let h = h.expect("a model has at least one layer");
        let hidden = self.model.head_hidden.forward_with(
            relu(h),
            self.head_hidden_w.clone(),
            self.head_hidden_b.clone(),
            false,
        );
        let logits = self.model.head_out.forward_with(
            relu(hidden),
            self.head_out_w.clone(),
            self.head_out_b.clone(),
            false,
        );
        let levels = self.model.config.levels;
        logits
            .slice([0..b, channel * levels..(channel + 1) * levels, 0..1, 0..1])
            .reshape([b, levels])
    }

    /// Copies the value just written at (row, col, channel) into the first layer's horizontal
    /// row cache, where the next channel and the next pixels read it.
    fn refresh_input(&mut self, row: usize, col: usize, channel: usize) {
        let b = self.request.batch;
        let value = self.state.canvas.clone().slice([
            0..b,
            channel..channel + 1,
            row..row + 1,
            col..col + 1,
        ]);
        let value = self.model.normalize(value);
        let first = &mut self.layers[0];
        let at = col + first.half;
        first.h_in = first
            .h_in
            .clone()
            .slice_assign([0..b, channel..channel + 1, 0..1, at..at + 1], value);
    }
}

fn with_class(x: Tensor<4>, class: Option<&Tensor<4>>) -> Tensor<4> {
    match class {
        Some(c) => x + c.clone(),
        None => x,
    }
}

impl Completion for CachedSampler {
    fn step(&mut self, pixels: usize) -> usize {
        self.step_observed(pixels, |_, _, _| {})
    }

    fn progress(&self) -> (usize, usize) {
        (self.state.done, self.state.todo.len())
    }

    fn canvas(&self) -> Tensor<4> {
        self.state.canvas.clone()
    }
}
