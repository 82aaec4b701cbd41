//! The parameter-wise mean of several checkpoints of one training run.
//!
//! Late in a run Adam's steps still move the weights around a minimum faster than they approach
//! it; the mean of snapshots taken along the way (stochastic weight averaging) usually sits
//! closer to that minimum than any one snapshot.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;
use thiserror::Error;

use crate::PixelCnn;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AverageError {
    #[error("no checkpoints to average")]
    Empty,
    #[error(
        "checkpoint {index} has another model config than the first: only checkpoints of one run can be averaged"
    )]
    Config { index: usize },
}

/// Each float parameter, flattened, in the order the module visits them.
#[derive(Default)]
struct Flattened(Vec<Tensor<1>>);

impl ModuleVisitor for Flattened {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let len = value.shape().num_elements();
        self.0.push(value.reshape([len]));
    }
}

/// Puts the given flattened values back into the parameters, in the same visiting order.
struct Replace(std::vec::IntoIter<Tensor<1>>);

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.0.next() {
            Some(value) => param.map(|old| value.reshape(old.dims())),
            None => param,
        }
    }
}

fn flattened(model: &PixelCnn) -> Vec<Tensor<1>> {
    let mut visitor = Flattened::default();
    model.visit(&mut visitor);
    visitor.0
}

/// The model whose every parameter is the mean of that parameter over `models` (all on one
/// device, with one config; the causal masks come from that config).
pub fn mean_of(models: &[PixelCnn]) -> Result<PixelCnn, AverageError> {
    let (first, rest) = models.split_first().ok_or(AverageError::Empty)?;
    if let Some(index) = rest.iter().position(|m| m.config != first.config) {
        return Err(AverageError::Config { index: index + 1 });
    }
    let mut sums = flattened(first);
    for model in rest {
        for (sum, value) in sums.iter_mut().zip(flattened(model)) {
            *sum = sum.clone() + value;
        }
    }
    let scale = 1.0 / models.len() as f64;
    let means: Vec<Tensor<1>> = sums.into_iter().map(|sum| sum.mul_scalar(scale)).collect();
    Ok(first.clone().map(&mut Replace(means.into_iter())))
}
