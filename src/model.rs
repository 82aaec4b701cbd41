//! The Gated PixelCNN: one backend-generic definition used for training, native sampling and
//! the browser.
//!
//! Each layer has a vertical stack (sees every row above, through a (k/2+1)×k kernel whose
//! output is shifted down one row before the horizontal stack reads it) and a horizontal stack
//! (sees the pixels to the left in the current row through a 1×(k/2+1) kernel). Together they
//! cover the whole causal context, so there is no blind spot.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::{log_softmax, relu, sigmoid};
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::config::PixelCnnConfig;
use crate::dense::Dense;
use crate::error::ConfigError;
use crate::mask::{MaskKind, gate_groups, horizontal_mask, logit_groups, plain_groups};

/// A convolution whose weights are multiplied by a constant causal mask, with padding chosen
/// so that the output has the input's height and width.
#[derive(Module, Debug)]
pub struct MaskedConv {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    /// Not trained and not saved: rebuilt from the config.
    pub mask: Tensor<4>,
    pub pad_top: usize,
    pub pad_left: usize,
    pub pad_right: usize,
}

impl MaskedConv {
    fn new(
        channels: [usize; 2],
        kernel: [usize; 2],
        pads: [usize; 3],
        mask: Option<Vec<f32>>,
        device: &Device,
    ) -> Self {
        let [c_in, c_out] = channels;
        let [kh, kw] = kernel;
        let shape = [c_out, c_in, kh, kw];
        let fan_in = c_in * kh * kw;
        let init = Initializer::KaimingUniform {
            gain: 1.0 / 3f64.sqrt(),
            fan_out_only: false,
        };
        let weight = init.init_with(shape, Some(fan_in), Some(c_out * kh * kw), device);
        let bias = Initializer::Zeros.init([c_out], device);
        let mask = match mask {
            Some(values) => Tensor::from_data(TensorData::new(values, shape), device),
            None => Tensor::ones(shape, device),
        };
        Self {
            weight,
            bias,
            mask,
            pad_top: pads[0],
            pad_left: pads[1],
            pad_right: pads[2],
        }
    }

    /// Weights with the causal mask applied; what inference actually convolves with.
    pub fn masked_weight(&self) -> Tensor<4> {
        self.weight.val() * self.mask.clone()
    }

    /// "Same" convolution of a channels-last image [B, H, W, C_in] → [B, H, W, C_out].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Dense::new(self).conv_same(x)
    }
}

/// One gated layer: vertical and horizontal stacks with tanh·sigmoid gates.
#[derive(Module, Debug)]
pub struct GatedLayer {
    /// (k/2+1)×k kernel over the rows up to and including the current one.
    pub vertical: MaskedConv,
    /// 1×(k/2+1) kernel over the current row up to the current pixel (masked A or B).
    pub horizontal: MaskedConv,
    /// 1×1 link from the vertical pre-activations (shifted one row down) into the horizontal.
    pub vertical_to_horizontal: MaskedConv,
    /// 1×1 projection of the gated horizontal output, added to the residual stream.
    pub output: MaskedConv,
    /// Per-class bias added inside both gates, [classes + 1, 2·hidden]; the last row is
    /// "no class", so one model serves both conditional and unconditional use.
    pub class_bias: Option<Param<Tensor<2>>>,
    pub residual: bool,
}

/// Channels-last [B, H, W, n] outputs of one layer: what the next layer's two stacks read.
pub struct LayerOutput {
    pub vertical: Tensor<4>,
    pub horizontal: Tensor<4>,
}

impl GatedLayer {
    fn new(config: &PixelCnnConfig, first: bool, device: &Device) -> Self {
        let c = config.channels;
        let n = config.hidden;
        let (c_in, kernel, kind) = if first {
            (c, config.first_kernel, MaskKind::A)
        } else {
            (n, config.kernel, MaskKind::B)
        };
        let half = kernel / 2;
        let in_groups = if first {
            plain_groups(c, c)
        } else {
            plain_groups(n, c)
        };
        let gates = gate_groups(n, c);
        let vertical = MaskedConv::new(
            [c_in, 2 * n],
            [half + 1, kernel],
            [half, half, half],
            None,
            device,
        );
        let horizontal = MaskedConv::new(
            [c_in, 2 * n],
            [1, half + 1],
            [0, half, 0],
            Some(horizontal_mask(&gates, &in_groups, half + 1, kind)),
            device,
        );
        let vertical_to_horizontal =
            MaskedConv::new([2 * n, 2 * n], [1, 1], [0, 0, 0], None, device);
        let hidden_groups = plain_groups(n, c);
        let output = MaskedConv::new(
            [n, n],
            [1, 1],
            [0, 0, 0],
            Some(horizontal_mask(
                &hidden_groups,
                &hidden_groups,
                1,
                MaskKind::B,
            )),
            device,
        );
        let class_bias = (config.classes > 0)
            .then(|| Initializer::Zeros.init([config.classes + 1, 2 * n], device));
        Self {
            vertical,
            horizontal,
            vertical_to_horizontal,
            output,
            class_bias,
            residual: !first,
        }
    }

    /// Class bias shaped to broadcast over channels-last [B, H, W, 2n]; without labels, the
    /// "no class" row.
    pub fn class_term(&self, labels: Option<&Tensor<1, Int>>) -> Option<Tensor<4>> {
        let bias = self.class_bias.as_ref()?.val();
        let rows = match labels {
            Some(labels) => bias.select(0, labels.clone()),
            None => {
                let [classes, _] = bias.dims();
                bias.narrow(0, classes - 1, 1)
            }
        };
        let [b, d] = rows.dims();
        Some(rows.reshape([b, 1, 1, d]))
    }

    /// Full-image forward pass of this layer, channels-last.
    pub fn forward(&self, v: Tensor<4>, h: Tensor<4>, class: Option<&Tensor<4>>) -> LayerOutput {
        let v_pre = self.vertical.forward(v);
        let h_pre = self.horizontal.forward(h.clone())
            + self
                .vertical_to_horizontal
                .forward(shift_down(v_pre.clone()));
        self.finish(v_pre, h_pre, h, class)
    }

    /// Gates and residual, shared by the full and the cached forward passes.
    pub fn finish(
        &self,
        v_pre: Tensor<4>,
        h_pre: Tensor<4>,
        h_in: Tensor<4>,
        class: Option<&Tensor<4>>,
    ) -> LayerOutput {
        let (v_pre, h_pre) = match class {
            Some(c) => (v_pre + c.clone(), h_pre + c.clone()),
            None => (v_pre, h_pre),
        };
        let h_out = self.output.forward(gate(h_pre, 3));
        let horizontal = if self.residual { h_in + h_out } else { h_out };
        LayerOutput {
            vertical: gate(v_pre, 3),
            horizontal,
        }
    }
}

/// tanh(a) ⊙ σ(b) over the two halves of `axis` (the channel axis).
pub fn gate<const D: usize>(x: Tensor<D>, axis: usize) -> Tensor<D> {
    let half = x.dims()[axis] / 2;
    let a = x.clone().narrow(axis, 0, half);
    let b = x.narrow(axis, half, half);
    a.tanh() * sigmoid(b)
}

/// Moves every row of a channels-last [B, H, W, C] tensor one down (row 0 becomes zeros), so
/// row i sees only rows < i.
pub fn shift_down(x: Tensor<4>) -> Tensor<4> {
    let h = x.dims()[1];
    x.narrow(1, 0, h - 1)
        .pad([(1, 0), (0, 0), (0, 0)], PadMode::Constant(0.0))
}

#[derive(Module, Debug)]
pub struct PixelCnn {
    pub layers: Vec<GatedLayer>,
    pub head_hidden: MaskedConv,
    pub head_out: MaskedConv,
    #[module(skip)]
    pub config: PixelCnnConfig,
}

impl PixelCnn {
    pub fn new(config: &PixelCnnConfig, device: &Device) -> Result<Self, ConfigError> {
        config.validate()?;
        let c = config.channels;
        let layers = (0..config.layers)
            .map(|i| GatedLayer::new(config, i == 0, device))
            .collect();
        let hidden = plain_groups(config.hidden, c);
        let head = plain_groups(config.head, c);
        let logits = logit_groups(c, config.levels);
        let head_hidden = MaskedConv::new(
            [config.hidden, config.head],
            [1, 1],
            [0, 0, 0],
            Some(horizontal_mask(&head, &hidden, 1, MaskKind::B)),
            device,
        );
        let head_out = MaskedConv::new(
            [config.head, c * config.levels],
            [1, 1],
            [0, 0, 0],
            Some(horizontal_mask(&logits, &head, 1, MaskKind::B)),
            device,
        );
        Ok(Self {
            layers,
            head_hidden,
            head_out,
            config: config.clone(),
        })
    }

    /// Maps level indices 0..K-1 to [-1, 1], the range the first layer was trained on.
    pub fn normalize(&self, levels: Tensor<4>) -> Tensor<4> {
        let scale = 2.0 / (self.config.levels - 1) as f64;
        levels * scale - 1.0
    }

    /// Logits [B, C, K, H, W] for images given as level indices [B, C, H, W] (as floats).
    ///
    /// Runs channels-last inside (see [`crate::dense`]).
    pub fn forward(&self, levels: Tensor<4>, labels: Option<&Tensor<1, Int>>) -> Tensor<5> {
        let x = self.normalize(levels).permute([0, 2, 3, 1]);
        let mut v = x.clone();
        let mut h = x;
        for layer in &self.layers {
            let class = layer.class_term(labels);
            let out = layer.forward(v, h, class.as_ref());
            v = out.vertical;
            h = out.horizontal;
        }
        self.head(h)
    }

    /// Output head on the last channels-last horizontal features: logits [B, C, K, H, W].
    pub fn head(&self, h: Tensor<4>) -> Tensor<5> {
        let [b, height, width, _] = h.dims();
        let hidden = relu(self.head_hidden.forward(relu(h)));
        let logits = self.head_out.forward(hidden);
        logits
            .reshape([b, height, width, self.config.channels, self.config.levels])
            .permute([0, 3, 4, 1, 2])
    }

    /// Negative log-likelihood in nats per image, [B].
    pub fn nll(&self, levels: Tensor<4, Int>, labels: Option<&Tensor<1, Int>>) -> Tensor<1> {
        let logits = self.forward(levels.clone().float(), labels);
        nll_from_logits(logits, levels)
    }

    pub fn num_params(&self) -> usize {
        self.num_params_tensor()
    }

    fn num_params_tensor(&self) -> usize {
        use burn::store::ModuleSnapshot;
        self.collect(None, None, false)
            .iter()
            .map(|t| t.shape.iter().product::<usize>())
            .sum()
    }
}

/// Summed cross-entropy per image between logits [B, C, K, H, W] and targets [B, C, H, W].
pub fn nll_from_logits(logits: Tensor<5>, targets: Tensor<4, Int>) -> Tensor<1> {
    let b = logits.dims()[0];
    let log_probs = log_softmax(logits, 2);
    let picked = log_probs.gather(2, targets.unsqueeze_dim::<5>(2));
    picked.reshape([b as i32, -1]).sum_dim(1).reshape([b]).neg()
}
