//! The matrix-product convolutions every pass runs must equal burn's own `conv2d` with the same
//! masked weights and the same causal zero padding: several kernel shapes and paddings, with
//! and without the colour-group masks of an RGB model.

mod common;

use burn::module::Param;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use common::to_vec;
use pixelcnn::mask::{MaskKind, gate_groups, horizontal_mask, plain_groups};
use pixelcnn::model::MaskedConv;

/// (c_in, c_out, kernel [h, w], pads [top, left, right], masked with RGB groups)
type Case = (usize, usize, [usize; 2], [usize; 3], Option<MaskKind>);

const CASES: [Case; 7] = [
    // First-layer vertical kernel, 7×7 → 4×7 rows above and the current one.
    (1, 8, [4, 7], [3, 3, 3], None),
    // Later vertical kernel, 3×3 → 2×3.
    (6, 12, [2, 3], [1, 1, 1], None),
    // Horizontal kernels over the row up to the current pixel, mask A and B, RGB groups.
    (3, 12, [1, 4], [0, 3, 0], Some(MaskKind::A)),
    (6, 12, [1, 2], [0, 1, 0], Some(MaskKind::B)),
    // 1×1 convolutions (link, output, head), masked and not.
    (12, 12, [1, 1], [0, 0, 0], None),
    (6, 6, [1, 1], [0, 0, 0], Some(MaskKind::B)),
    // An odd one: wide and asymmetric.
    (2, 5, [3, 5], [2, 4, 0], None),
];

#[test]
fn matmul_convolutions_equal_burns_conv2d() {
    let device = Device::flex();
    device.seed(21);
    for (i, &(c_in, c_out, kernel, pads, mask_kind)) in CASES.iter().enumerate() {
        let mask = mask_kind.map(|kind| {
            let out_groups = if c_out == 12 && kind == MaskKind::A {
                gate_groups(c_out / 2, 3)
            } else {
                plain_groups(c_out, 3)
            };
            horizontal_mask(&out_groups, &plain_groups(c_in, 3), kernel[1], kind)
        });
        let mut conv = MaskedConv::new([c_in, c_out], kernel, pads, mask, &device);
        conv.bias = Param::from_tensor(Tensor::random(
            [c_out],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        ));
        let (h, w, b) = (6, 7, 2);
        let x = Tensor::<4>::random([b, c_in, h, w], Distribution::Uniform(-1.0, 1.0), &device);

        let options = ConvOptions {
            stride: [1, 1],
            padding: [(pads[0], 0), (pads[1], pads[2])],
            dilation: [1, 1],
            groups: 1,
        };
        let reference = conv2d(
            x.clone(),
            conv.masked_weight(),
            Some(conv.bias.val()),
            options,
        );
        let ours = conv
            .matmul()
            .conv_same(x.clone().permute([0, 2, 3, 1]), true)
            .permute([0, 3, 1, 2]);
        assert_eq!(ours.dims(), reference.dims(), "case {i}: output shape");
        let (ours, reference) = (to_vec(ours), to_vec(reference));
        let worst = ours
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-5,
            "case {i}: matmul and conv2d differ by {worst:e}"
        );

        // Unbiased: the bias folded in elsewhere.
        let unbiased = to_vec(
            conv.matmul()
                .conv_same(x.permute([0, 2, 3, 1]), false)
                .permute([0, 3, 1, 2]),
        );
        let bias: Vec<f32> = conv
            .bias
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        let per_map = ours.len() / (b * c_out);
        for (j, (with, without)) in ours.iter().zip(&unbiased).enumerate() {
            let map = (j / per_map) % c_out;
            assert!((with - without - bias[map]).abs() < 1e-5, "case {i}: bias");
        }
    }
}
