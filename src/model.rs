//! The Gated PixelCNN: one definition of its maths, used by training, evaluation, scoring,
//! both samplers and the browser.
//!
//! Each layer has a vertical stack (sees every row above, through a (k/2+1)×k kernel whose
//! output is shifted down one row before the horizontal stack reads it) and a horizontal stack
//! (sees the pixels to the left in the current row through a 1×(k/2+1) kernel). Together they
//! cover the whole causal context, so there is no blind spot.
//!
//! Everything runs channels-last. [`LayerOps`] and [`HeadOps`] hold a layer's (or the head's)
//! weights as matrices and carry each piece of the layer maths — gate, output projection and
//! residual, class bias, head — exactly once: the full forward pass applies them to whole
//! images, the cached sampler to one row or one pixel at a time.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::activation::sigmoid;
use crate::config::PixelCnnConfig;
pub use crate::conv::MaskedConv;
use crate::conv::MatmulConv;
use crate::error::ConfigError;
use crate::mask::{MaskKind, gate_groups, horizontal_mask, logit_groups, plain_groups};

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
    /// Per-order bias added inside both gates, [orders, 2·hidden], for a model trained with
    /// several generation orders ([`crate::order`]); zero-initialised, so a raster-only
    /// model given order biases computes exactly what it did.
    pub order_bias: Option<Param<Tensor<2>>>,
    pub residual: bool,
}

/// What the gates are conditioned on, per batch item (or one for the whole batch).
#[derive(Debug, Clone, Default)]
pub struct Condition {
    /// Class per item; None: "no class".
    pub labels: Option<Tensor<1, Int>>,
    /// Generation order per item ([`crate::order::Order::index`]); None: the identity.
    pub orders: Option<Tensor<1, Int>>,
}

impl Condition {
    /// No class, raster order.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn labels(labels: Option<Tensor<1, Int>>) -> Self {
        Self {
            labels,
            orders: None,
        }
    }

    /// `orders` for a whole batch in the order with index `order`: None for a raster-only
    /// model (it has no order bias).
    pub fn one_order(
        config: &PixelCnnConfig,
        order: usize,
        device: &Device,
    ) -> Option<Tensor<1, Int>> {
        (config.orders > 1)
            .then(|| Tensor::from_data(TensorData::new(vec![order as i64], [1]), device))
    }
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
            order_bias: order_bias(config, device),
            residual: !first,
        }
    }

    /// Class and order biases, summed and shaped to broadcast over channels-last
    /// [B, H, W, 2n]: without labels the "no class" row, without orders the identity's row.
    pub fn condition_term(&self, condition: &Condition) -> Option<Tensor<4>> {
        let class = self.class_bias.as_ref().map(|bias| {
            let bias = bias.val();
            match &condition.labels {
                Some(labels) => bias.select(0, labels.clone()),
                None => {
                    let [classes, _] = bias.dims();
                    bias.narrow(0, classes - 1, 1)
                }
            }
        });
        let order = self
            .order_bias
            .as_ref()
            .map(|bias| match &condition.orders {
                Some(orders) => bias.val().select(0, orders.clone()),
                None => bias.val().narrow(0, 0, 1),
            });
        let rows = match (class, order) {
            (Some(c), Some(o)) => c + o,
            (one, other) => one.or(other)?,
        };
        let [b, d] = rows.dims();
        Some(rows.reshape([b, 1, 1, d]))
    }

    /// The layer's masked convolutions, each with its field name.
    pub fn convolutions(&self) -> [(&'static str, &MaskedConv); 4] {
        [
            ("vertical", &self.vertical),
            ("horizontal", &self.horizontal),
            ("vertical_to_horizontal", &self.vertical_to_horizontal),
            ("output", &self.output),
        ]
    }

    /// The same convolutions, to change (in the same order).
    pub fn convolutions_mut(&mut self) -> [&mut MaskedConv; 4] {
        let Self {
            vertical,
            horizontal,
            vertical_to_horizontal,
            output,
            ..
        } = self;
        [vertical, horizontal, vertical_to_horizontal, output]
    }

    /// k/2: rows above and columns to each side the vertical kernel sees, and columns to the
    /// left the horizontal kernel sees.
    pub fn half(&self) -> usize {
        self.horizontal.pad_left
    }
}

/// The zero order bias of a gated layer of `config`, when it has several orders.
fn order_bias(config: &PixelCnnConfig, device: &Device) -> Option<Param<Tensor<2>>> {
    let rows = config.order_bias_rows();
    (rows > 0).then(|| Initializer::Zeros.init([rows, 2 * config.hidden], device))
}

/// A gated layer's weights as matrices, with the condition bias of one batch: built once per
/// forward pass (or once per sampler) and applied to whole images, rows or single pixels.
pub struct LayerOps {
    pub vertical: MatmulConv,
    pub horizontal: MatmulConv,
    link: MatmulConv,
    output: MatmulConv,
    /// Class and order bias, [B or 1, 1, 1, 2n], added inside both gates.
    condition: Option<Tensor<4>>,
    residual: bool,
    pub half: usize,
}

impl LayerOps {
    pub fn new(layer: &GatedLayer, condition: &Condition) -> Self {
        Self {
            vertical: layer.vertical.matmul(),
            horizontal: layer.horizontal.matmul(),
            link: layer.vertical_to_horizontal.matmul(),
            output: layer.output.matmul(),
            condition: layer.condition_term(condition),
            residual: layer.residual,
            half: layer.half(),
        }
    }

    /// The vertical stack's output (the next layer's vertical input) from this layer's
    /// vertical pre-activations [B, rows, W, 2n].
    pub fn vertical_output(&self, v_pre: Tensor<4>) -> Tensor<4> {
        gate(self.with_condition(v_pre), 3)
    }

    /// Everything a horizontal pre-activation gets besides its own (unbiased) convolution:
    /// the link from the vertical pre-activations of the row above [B, rows, W, 2n] (zeros for
    /// row 0), the horizontal bias and the class and order biases.
    pub fn horizontal_context(&self, v_pre_above: Tensor<4>) -> Tensor<4> {
        let d = v_pre_above.dims()[3];
        let bias = self.horizontal.bias().reshape([1, 1, 1, d]);
        self.with_condition(self.link.pointwise(v_pre_above) + bias)
    }

    /// The horizontal stack's output from its pre-activations [..., 2n]: gate, 1×1 output
    /// projection, and the residual from the layer's input `h_in` [..., n] at the same pixels.
    pub fn horizontal_output<const D: usize>(
        &self,
        h_pre: Tensor<D>,
        h_in: Tensor<D>,
    ) -> Tensor<D> {
        let out = self.output.pointwise(gate(h_pre, D - 1));
        if self.residual { h_in + out } else { out }
    }

    /// The whole layer over whole channels-last images.
    pub fn forward(&self, v: Tensor<4>, h: Tensor<4>) -> LayerOutput {
        let v_pre = self.vertical.conv_same(v, true);
        let h_pre = self.horizontal.conv_same(h.clone(), false)
            + self.horizontal_context(shift_down(v_pre.clone()));
        LayerOutput {
            horizontal: self.horizontal_output(h_pre, h),
            vertical: self.vertical_output(v_pre),
        }
    }

    fn with_condition(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.condition {
            Some(c) => x + c.clone(),
            None => x,
        }
    }
}

/// The output head's weights as matrices.
pub struct HeadOps {
    hidden: MatmulConv,
    out: MatmulConv,
}

impl HeadOps {
    /// Logits [..., C·K] (channel-major) from the last layer's horizontal output [..., n].
    pub fn logits<const D: usize>(&self, h: Tensor<D>) -> Tensor<D> {
        self.out.pointwise(relu(self.hidden.pointwise(relu(h))))
    }
}

/// tanh(a) ⊙ σ(b) over the two halves of `axis` (the channel axis).
pub fn gate<const D: usize>(x: Tensor<D>, axis: usize) -> Tensor<D> {
    let half = x.dims()[axis] / 2;
    let a = x.clone().narrow(axis, 0, half);
    let b = x.narrow(axis, half, half);
    tanh(a) * sigmoid(b)
}

/// tanh(a) = 2σ(2a) − 1, computed through the logistic function.
///
/// On the CPU backend `tanh` is a scalar libm call several times slower than the `exp` behind
/// σ, and autodiff evaluates it twice (forward, and again for the backward pass): written this
/// way training runs measurably faster (see the README's training-speed table). It also
/// sidesteps WebGPU implementations (SwiftShader among them) whose `tanh` returns NaN for
/// |a| ≳ 89, where σ saturates cleanly to 0 or 1.
///
/// 2a is written a + a: `a` is a strided view (one half of the channels), and on flex a binary
/// op walks such views in contiguous runs while a scalar op steps through them index by index.
fn tanh<const D: usize>(a: Tensor<D>) -> Tensor<D> {
    sigmoid(a.clone() + a) * 2.0 - 1.0
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

    /// Every masked convolution of the model with its module path (its weight is
    /// "PATH.weight"), the layers' first, then the head's.
    pub fn convolutions(&self) -> Vec<(String, &MaskedConv)> {
        let layers = self.layers.iter().enumerate().flat_map(|(i, layer)| {
            layer
                .convolutions()
                .map(|(name, conv)| (format!("layers.{i}.{name}"), conv))
        });
        layers
            .chain([
                ("head_hidden".to_string(), &self.head_hidden),
                ("head_out".to_string(), &self.head_out),
            ])
            .collect()
    }

    /// The same convolutions, to change (in the same order).
    pub fn convolutions_mut(&mut self) -> Vec<&mut MaskedConv> {
        let Self {
            layers,
            head_hidden,
            head_out,
            ..
        } = self;
        layers
            .iter_mut()
            .flat_map(|layer| layer.convolutions_mut())
            .chain([head_hidden, head_out])
            .collect()
    }

    /// Every layer's weights as matrices, with the class and order biases for `condition`.
    pub fn layer_ops(&self, condition: &Condition) -> Vec<LayerOps> {
        self.layers
            .iter()
            .map(|layer| LayerOps::new(layer, condition))
            .collect()
    }

    /// This model with `orders` generation orders: zero order biases where it had none (so
    /// it computes exactly what it did, in the identity order), its own where it had them.
    /// Every other parameter is kept as it is, with its identity (an optimizer's state for it
    /// still applies).
    pub fn with_orders(self, orders: usize) -> Result<Self, ConfigError> {
        if orders == self.config.orders {
            return Ok(self);
        }
        let config = PixelCnnConfig {
            orders,
            ..self.config.current()
        };
        config.validate()?;
        if self.config.orders > 1 {
            return Err(ConfigError::Invalid(format!(
                "the model already has {} orders; it cannot be given {orders}",
                self.config.orders
            )));
        }
        let device = self.head_out.weight.val().device();
        let layers = self
            .layers
            .into_iter()
            .map(|layer| GatedLayer {
                order_bias: order_bias(&config, &device),
                ..layer
            })
            .collect();
        Ok(Self {
            layers,
            config,
            ..self
        })
    }

    pub fn head_ops(&self) -> HeadOps {
        HeadOps {
            hidden: self.head_hidden.matmul(),
            out: self.head_out.matmul(),
        }
    }

    /// Maps level indices 0..K-1 to [-1, 1], the range the first layer was trained on.
    pub fn normalize<const D: usize>(&self, levels: Tensor<D>) -> Tensor<D> {
        let scale = 2.0 / (self.config.levels - 1) as f64;
        levels * scale - 1.0
    }

    /// Logits [B, C, K, H, W] for images given as level indices [B, C, H, W] (as floats),
    /// each seen in its order's frame.
    pub fn forward(&self, levels: Tensor<4>, condition: &Condition) -> Tensor<5> {
        let x = self.normalize(levels).permute([0, 2, 3, 1]);
        let mut v = x.clone();
        let mut h = x;
        for ops in self.layer_ops(condition) {
            let out = ops.forward(v, h);
            v = out.vertical;
            h = out.horizontal;
        }
        let [b, height, width, _] = h.dims();
        self.head_ops()
            .logits(h)
            .reshape([b, height, width, self.config.channels, self.config.levels])
            .permute([0, 3, 4, 1, 2])
    }

    /// log p(x_i | x_<i) of every value, [B, C, H, W], for images given as level indices.
    pub fn log_probs(&self, levels: Tensor<4, Int>, condition: &Condition) -> Tensor<4> {
        let logits = self.forward(levels.clone().float(), condition);
        log_probs_from_logits(logits, levels)
    }

    /// Negative log-likelihood in nats per image, [B].
    pub fn nll(&self, levels: Tensor<4, Int>, condition: &Condition) -> Tensor<1> {
        let logits = self.forward(levels.clone().float(), condition);
        nll_from_logits(logits, levels)
    }

    pub fn num_params(&self) -> usize {
        use burn::store::ModuleSnapshot;
        self.collect(None, None, false)
            .iter()
            .map(|t| t.shape.iter().product::<usize>())
            .sum()
    }
}

/// log-probability of each target value, [B, C, H, W], under logits [B, C, K, H, W].
pub fn log_probs_from_logits(logits: Tensor<5>, targets: Tensor<4, Int>) -> Tensor<4> {
    let [b, c, _, h, w] = logits.dims();
    log_softmax(logits, 2)
        .gather(2, targets.unsqueeze_dim::<5>(2))
        .reshape([b, c, h, w])
}

/// Summed cross-entropy per image between logits [B, C, K, H, W] and targets [B, C, H, W].
pub fn nll_from_logits(logits: Tensor<5>, targets: Tensor<4, Int>) -> Tensor<1> {
    let b = logits.dims()[0];
    log_probs_from_logits(logits, targets)
        .reshape([b as i32, -1])
        .sum_dim(1)
        .reshape([b])
        .neg()
}
