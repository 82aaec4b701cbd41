//! Masked convolutions as matrix products over channels-last tensors.
//!
//! On burn's flex CPU backend a direct `conv2d` (and, in training, its transposed-convolution
//! backward) runs several times slower than a matmul of the same size, so both the full forward
//! pass and the cached sampler gather each kernel window by hand (im2col) and multiply once.
//! Channels-last keeps every 1×1 convolution a plain [pixels, C_in] × [C_in, C_out] product.

use burn::tensor::Tensor;
use burn::tensor::ops::PadMode;

use crate::model::MaskedConv;

/// A masked convolution as a matrix product: [N, kh·kw·C_in] windows, gathered in
/// (row, column, channel) order, times [kh·kw·C_in, C_out], plus the bias.
pub struct Dense {
    weight: Tensor<2>,
    pub(crate) bias: Tensor<2>,
    kernel: [usize; 2],
    /// Zero padding (top, left, right) that keeps the output the input's size.
    pads: [usize; 3],
}

impl Dense {
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

    /// Rows [N, C_in] → [N, C_out]; only for 1×1 kernels or pre-gathered windows.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_unbiased(x) + self.bias.clone()
    }

    /// For terms whose bias is folded in elsewhere.
    pub fn forward_unbiased(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.clone())
    }

    /// "Same" convolution of a whole channels-last image [B, H, W, C_in] → [B, H, W, C_out],
    /// with the causal zero padding of the convolution it was built from.
    pub fn conv_same(&self, x: Tensor<4>) -> Tensor<4> {
        let [top, left, right] = self.pads;
        let x = if top + left + right > 0 {
            x.pad([(top, 0), (left, right), (0, 0)], PadMode::Constant(0.0))
        } else {
            x
        };
        self.conv(x, true)
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
