//! The logistic function σ, the one transcendental function of the gates.
//!
//! flex computes `sigmoid` with a scalar libm `exp` per element, and the browser build's
//! size-optimised profile does not vectorise loops: there that σ takes a quarter of a ranked
//! completion's time, next to SIMD matrix products. On flex, σ here is a branch-free exp
//! (Cody–Waite range reduction and Cephes' `expf` polynomial, within a few ulp), run four
//! lanes at a time with wasm simd128 in the browser and as a plain loop natively (which release
//! builds may vectorise), registered as a burn backend extension. Every other backend keeps its
//! own σ, and so does autodiff, which training uses.

use std::ops::{Add, Div, Mul, Sub};

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::tensor::{DType, Tensor};
use burn_flex::ops::unary::unary_op;

/// σ(x) = 1 / (1 + e^(−x)), elementwise.
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    // The extension runs on flex only; an autodiff device is another variant and keeps
    // burn's σ with its gradient.
    if matches!(x.device().as_dispatch(), DispatchDevice::Flex(_)) {
        Tensor::from_dispatch(<Dispatch as LogisticOps>::logistic(x.into_dispatch()))
    } else {
        burn::tensor::activation::sigmoid(x)
    }
}

#[backend_extension(Flex)]
trait LogisticOps: Backend {
    fn logistic(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl LogisticOps for Flex {
    fn logistic(x: FloatTensor<Self>) -> FloatTensor<Self> {
        if x.dtype() != DType::F32 {
            return unary_op(x, logistic::<f32>, |x: f64| 1.0 / (1.0 + (-x).exp()));
        }
        // In place when the buffer is this tensor's alone and laid out plainly; otherwise
        // first a copy of its own (flex's identity map: contiguous, or a permutation that
        // covers its whole buffer, which an elementwise map may walk in storage order).
        let plain = x.is_unique() && x.is_contiguous() && x.layout().start_offset() == 0;
        let mut x = if plain { x } else { unary_op(x, |v| v, |v| v) };
        let n = x.layout().num_elements();
        let values = x
            .try_storage_mut::<f32>()
            .expect("a flex tensor of its own is uniquely owned");
        logistic_in_place(&mut values[..n]);
        x
    }
}

/// One f32 or several in SIMD lanes: the operations [`exp`] is made of.
trait Lanes:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    fn splat(value: f32) -> Self;
    /// max(self, low), keeping NaN.
    fn at_least(self, low: f32) -> Self;
    /// min(self, high), keeping NaN.
    fn at_most(self, high: f32) -> Self;
    /// 2^n for integral n in [−126, 127], from the exponent bits.
    fn exp2_integral(n: Self) -> Self;
}

impl Lanes for f32 {
    fn splat(value: f32) -> Self {
        value
    }
    fn at_least(self, low: f32) -> Self {
        if self < low { low } else { self }
    }
    fn at_most(self, high: f32) -> Self {
        if self > high { high } else { self }
    }
    fn exp2_integral(n: Self) -> Self {
        f32::from_bits(((n as i32 + 127) as u32) << 23)
    }
}

/// e^x without branches or table lookups.
///
/// x is clamped to [−87, 88] (e^88 < f32::MAX; e^−87 is far below any σ that matters), then
/// e^x = 2^n · e^r with n = round(x / ln 2) and |r| ≤ ln 2 / 2.
#[inline(always)]
fn exp<L: Lanes>(x: L) -> L {
    let x = x.at_least(-87.0).at_most(88.0);
    // Adding 1.5·2^23 rounds to the nearest integer in the default rounding mode.
    let round = L::splat(12_582_912.0);
    let n = (x * L::splat(std::f32::consts::LOG2_E) + round) - round;
    // ln 2 in two parts, so that n · ln2_hi is exact.
    let r = x - n * L::splat(0.693_359_4) - n * L::splat(-2.121_944_4e-4);
    let mut p = L::splat(1.987_569_2e-4);
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = p * r + L::splat(c);
    }
    (p * r * r + r + L::splat(1.0)) * L::exp2_integral(n)
}

#[inline(always)]
fn logistic<L: Lanes>(x: L) -> L {
    L::splat(1.0) / (L::splat(1.0) + exp(L::splat(0.0) - x))
}

fn logistic_in_place(values: &mut [f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let values = simd128::logistic_in_place(values);
    for v in values {
        *v = logistic(*v);
    }
}

/// Four lanes of wasm simd128.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use std::arch::wasm32::*;
    use std::ops::{Add, Div, Mul, Sub};

    use super::{Lanes, logistic};

    #[derive(Clone, Copy)]
    struct X4(v128);

    /// σ over every whole group of four values; returns the rest (< 4 values).
    pub(super) fn logistic_in_place(values: &mut [f32]) -> &mut [f32] {
        let (groups, rest) = values.as_chunks_mut::<4>();
        for group in groups {
            // SAFETY: `group` is 16 readable and writable bytes, and wasm's v128 loads and
            // stores need no alignment.
            let x = X4(unsafe { v128_load(group.as_ptr().cast()) });
            unsafe { v128_store(group.as_mut_ptr().cast(), logistic(x).0) };
        }
        rest
    }

    /// The four arithmetic operators, lane by lane.
    macro_rules! lanewise {
        ($($op:ident $method:ident $intrinsic:ident),*) => {$(
            impl $op for X4 {
                type Output = Self;
                fn $method(self, other: Self) -> Self {
                    X4($intrinsic(self.0, other.0))
                }
            }
        )*};
    }
    lanewise!(Add add f32x4_add, Sub sub f32x4_sub, Mul mul f32x4_mul, Div div f32x4_div);

    impl Lanes for X4 {
        fn splat(value: f32) -> Self {
            X4(f32x4_splat(value))
        }
        // pmax(a, b) = a < b ? b : a, so NaN in `self` stays.
        fn at_least(self, low: f32) -> Self {
            X4(f32x4_pmax(self.0, f32x4_splat(low)))
        }
        // pmin(a, b) = b < a ? b : a.
        fn at_most(self, high: f32) -> Self {
            X4(f32x4_pmin(self.0, f32x4_splat(high)))
        }
        fn exp2_integral(n: Self) -> Self {
            let biased = i32x4_add(i32x4_trunc_sat_f32x4(n.0), i32x4_splat(127));
            X4(i32x4_shl(biased, 23))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn logistic_is_within_a_few_ulp_of_the_exact_value() {
        // ±80: beyond, σ is within 2e-35 of 0 or 1.
        let mut values: Vec<f32> = (-3_200_000..=3_200_000)
            .map(|i| i as f32 * 2.5e-5)
            .collect();
        let inputs = values.clone();
        logistic_in_place(&mut values);
        let worst = inputs
            .iter()
            .zip(&values)
            .map(|(&x, &y)| {
                let exact = 1.0 / (1.0 + (-f64::from(x)).exp());
                (f64::from(y) - exact).abs() / exact
            })
            .fold(0.0, f64::max);
        assert!(worst < 4.0 * f64::from(f32::EPSILON), "{worst:e}");
    }

    #[test]
    fn logistic_saturates_and_keeps_nan() {
        let mut values = [-1e30, -1000.0, -88.5, 88.5, 1000.0, f32::INFINITY, f32::NAN];
        logistic_in_place(&mut values);
        assert!(
            values[..3].iter().all(|&v| (0.0..1e-37).contains(&v)),
            "{values:?}"
        );
        assert_eq!(&values[3..6], &[1.0, 1.0, 1.0]);
        assert!(values[6].is_nan());
    }

    #[test]
    fn flex_tensors_take_the_extension_and_match_burns_sigmoid() {
        let device = Device::flex();
        let values: Vec<f32> = (-200..201).map(|i| i as f32 * 0.37).collect();
        let x = Tensor::<1>::from_floats(values.as_slice(), &device);
        let read = |t: Tensor<1>| t.into_data().try_into_vec::<f32>().expect("f32");
        // A shared tensor, one of its own and a strided view take the three paths.
        let ours = read(sigmoid(x.clone()));
        let burns = read(burn::tensor::activation::sigmoid(x));
        // Bit for bit the extension's function, so the tensor did not fall back to burn's σ.
        let direct: Vec<f32> = values.iter().map(|&v| logistic(v)).collect();
        assert_eq!(ours, direct);
        assert_ne!(
            ours, burns,
            "a sweep this dense should differ from libm somewhere"
        );
        for (a, b) in ours.iter().zip(&burns) {
            assert!(
                (a - b).abs() <= 4.0 * f32::EPSILON * b.abs().max(1e-30),
                "{a} vs {b}"
            );
        }
        let own = Tensor::<1>::from_floats(values.as_slice(), &device);
        assert_eq!(read(sigmoid(own)), direct);
        let strided = Tensor::<2>::from_floats([[1.0, -2.0], [3.0, -4.0]], &device)
            .narrow(1, 1, 1)
            .reshape([2]);
        assert_eq!(read(sigmoid(strided)), vec![logistic(-2.0), logistic(-4.0)]);
    }
}
