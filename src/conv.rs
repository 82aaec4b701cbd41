//! Masked convolutions, and the matrix-product form every pass computes them in.
//!
//! On burn's flex CPU backend a direct `conv2d` (and, in training, its transposed-convolution
//! backward) runs several times slower than a matmul of the same size, so the full forward pass
//! and the cached sampler alike gather each kernel window by hand (im2col) and multiply once.
//! Channels-last keeps every 1×1 convolution a plain [pixels, C_in] × [C_in, C_out] product.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor, TensorData};

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
    /// `channels` = [in, out], `kernel` = [height, width], `pads` = [top, left, right];
    /// `mask` is [out, in, height, width] row-major (None: nothing masked).
    pub fn new(
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

    /// The convolution as a matrix product (gradients flow back to the parameters).
    pub fn matmul(&self) -> MatmulConv {
        MatmulConv::new(self)
    }
}

/// A masked convolution as a matrix product: [N, kh·kw·C_in] windows, gathered in
/// (row, column, channel) order, times [kh·kw·C_in, C_out], plus the bias.
pub struct MatmulConv {
    weight: Tensor<2>,
    bias: Tensor<2>,
    kernel: [usize; 2],
    /// Zero padding (top, left, right) that keeps the output the input's size.
    pads: [usize; 3],
}

impl MatmulConv {
    /// Built from the masked weights, so gradients flow back to the convolution's parameters.
    pub fn new(conv: &MaskedConv) -> Self {
        let [c_out, c_in, kh, kw] = conv.weight.dims();
        Self {
            weight: conv
                .masked_weight()
                .permute([2, 3, 1, 0])
                .reshape([kh * kw * c_in, c_out]),
            bias: conv.bias.val().reshape([1, c_out]),
            kernel: [kh, kw],
            pads: [conv.pad_top, conv.pad_left, conv.pad_right],
        }
    }

    pub fn outputs(&self) -> usize {
        self.bias.dims()[1]
    }

    /// The masked weights as [kh·kw·C_in, C_out].
    pub fn weight(&self) -> Tensor<2> {
        self.weight.clone()
    }

    /// The bias as [1, C_out], for terms that fold it in elsewhere.
    pub fn bias(&self) -> Tensor<2> {
        self.bias.clone()
    }

    /// Rows [N, C_in] → [N, C_out]; only for 1×1 kernels or pre-gathered windows.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_unbiased(x) + self.bias.clone()
    }

    /// For terms whose bias is folded in elsewhere.
    pub fn forward_unbiased(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.clone())
    }

    /// A 1×1 convolution over the last axis of a channels-last tensor of any rank:
    /// [..., C_in] → [..., C_out].
    pub fn pointwise<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let mut dims = x.dims();
        let c_in = dims[D - 1];
        let rows = dims.iter().product::<usize>() / c_in.max(1);
        let out = self.forward(x.reshape([rows, c_in]));
        dims[D - 1] = self.outputs();
        out.reshape(dims)
    }

    /// "Same" convolution of a whole channels-last image [B, H, W, C_in] → [B, H, W, C_out],
    /// with the causal zero padding of the convolution it was built from.
    pub fn conv_same(&self, x: Tensor<4>, biased: bool) -> Tensor<4> {
        let [top, left, right] = self.pads;
        let x = if top + left + right > 0 {
            x.pad([(top, 0), (left, right), (0, 0)], PadMode::Constant(0.0))
        } else {
            x
        };
        self.conv(x, biased)
    }

    /// "Valid" convolution of a channels-last window [B, rows + kh - 1, cols + kw - 1, C_in]:
    /// returns [B, rows, cols, C_out], with the bias unless it is folded in elsewhere.
    pub fn conv(&self, window: Tensor<4>, biased: bool) -> Tensor<4> {
        let [b, in_rows, in_cols, c_in] = window.dims();
        let [kh, kw] = self.kernel;
        let (rows, cols) = (in_rows + 1 - kh, in_cols + 1 - kw);
        let gathered = if kh * kw == 1 {
            window.reshape([b * rows * cols, c_in])
        } else {
            let taps = (0..kh)
                .flat_map(|dy| (0..kw).map(move |dx| (dy, dx)))
                .map(|(dy, dx)| {
                    window
                        .clone()
                        .slice([0..b, dy..dy + rows, dx..dx + cols, 0..c_in])
                })
                .collect();
            Tensor::cat(taps, 3).reshape([b * rows * cols, kh * kw * c_in])
        };
        let out = if biased {
            self.forward(gathered)
        } else {
            self.forward_unbiased(gathered)
        };
        out.reshape([b, rows, cols, self.outputs()])
    }
}
