//! Model hyper-parameters, stored verbatim in every manifest.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Version of the weight layout described by [`PixelCnnConfig`]. Bump it whenever a change
/// to the model makes old weight files load into the wrong places.
///
/// Version 2 added `orders` (generation orders with a per-order gate bias); a version-1
/// config is a version-2 config with one order and still loads.
pub const CONFIG_VERSION: u32 = 2;

/// The oldest layout this build still reads.
pub const OLDEST_CONFIG_VERSION: u32 = 1;

/// Upper bounds a model must respect to load: generous for any model that makes sense in a
/// browser, and small enough that checking them first keeps a corrupt or hostile manifest
/// from allocating gigabytes.
pub struct Limits {
    pub channels: usize,
    pub levels: usize,
    /// Height and width.
    pub side: usize,
    pub hidden: usize,
    pub layers: usize,
    pub head: usize,
    pub kernel: usize,
    pub classes: usize,
    pub params: usize,
}

pub const LIMITS: Limits = Limits {
    channels: 4,
    levels: 256,
    side: 256,
    hidden: 1024,
    layers: 64,
    head: 4096,
    kernel: 15,
    classes: 1000,
    params: 50_000_000,
};

/// Architecture of a Gated PixelCNN (van den Oord et al. 2016).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixelCnnConfig {
    /// Layout version; must equal [`CONFIG_VERSION`].
    pub version: u32,
    /// Image channels C (1 = grey, 3 = RGB, generated R→G→B inside a pixel).
    pub channels: usize,
    /// Levels K per channel (2 for binarized MNIST, 256 for 8-bit images).
    pub levels: usize,
    pub height: usize,
    pub width: usize,
    /// Feature maps per stack; must be a multiple of `channels`.
    pub hidden: usize,
    /// Gated layers, the first one included.
    pub layers: usize,
    /// Kernel size of the first layer (odd).
    pub first_kernel: usize,
    /// Kernel size of the later layers (odd).
    pub kernel: usize,
    /// Feature maps of the 1×1 output head; must be a multiple of `channels`.
    pub head: usize,
    /// Number of classes for conditioning; 0 = unconditional.
    pub classes: usize,
    /// Generation orders the model was trained with (see [`crate::order`]): 1 = raster
    /// order only (no order bias), up to 8; more than 4 need a square image.
    #[serde(default = "one_order")]
    pub orders: usize,
}

fn one_order() -> usize {
    1
}

impl PixelCnnConfig {
    /// The shipped binarized-MNIST architecture.
    pub fn mnist() -> Self {
        Self {
            version: CONFIG_VERSION,
            channels: 1,
            levels: 2,
            height: 28,
            width: 28,
            hidden: 64,
            layers: 10,
            first_kernel: 7,
            kernel: 3,
            head: 256,
            classes: 10,
            orders: 1,
        }
    }

    /// The same model in the current layout version: configs of older versions that describe
    /// the same weights compare equal after this.
    pub fn current(&self) -> Self {
        Self {
            version: CONFIG_VERSION,
            ..self.clone()
        }
    }

    /// Checks every constraint the model relies on, and that the model is small enough to
    /// build in a browser tab, before anything is allocated.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(OLDEST_CONFIG_VERSION..=CONFIG_VERSION).contains(&self.version) {
            return Err(ConfigError::Version {
                found: self.version,
                expected: CONFIG_VERSION,
            });
        }
        self.validate_orders()?;
        self.validate_shapes()?;
        self.validate_limits()
    }

    /// The generation orders: as many as there are, and the config version that has them.
    fn validate_orders(&self) -> Result<(), ConfigError> {
        if self.version < 2 && self.orders != 1 {
            return Err(ConfigError::Invalid(format!(
                "`orders` needs config version 2 (this config says version {})",
                self.version
            )));
        }
        if !(1..=crate::order::ORDERS).contains(&self.orders) {
            return Err(ConfigError::Invalid(format!(
                "`orders` is {}; it must be 1..={}",
                self.orders,
                crate::order::ORDERS
            )));
        }
        if self.orders > 4 && self.height != self.width {
            return Err(ConfigError::Invalid(format!(
                "{} orders need a square image (transposed orders); this one is {}×{}",
                self.orders, self.height, self.width
            )));
        }
        Ok(())
    }

    /// The sizes the layers need: positive, channel groups that divide, odd kernels.
    fn validate_shapes(&self) -> Result<(), ConfigError> {
        let positive = [
            ("channels", self.channels),
            ("levels", self.levels),
            ("height", self.height),
            ("width", self.width),
            ("hidden", self.hidden),
            ("layers", self.layers),
            ("head", self.head),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("`{name}` must be at least 1")));
            }
        }
        if self.levels < 2 {
            return Err(ConfigError::Invalid("`levels` must be at least 2".into()));
        }
        for (name, value) in [("hidden", self.hidden), ("head", self.head)] {
            if value % self.channels != 0 {
                return Err(ConfigError::Invalid(format!(
                    "`{name}` ({value}) must be a multiple of `channels` ({})",
                    self.channels
                )));
            }
        }
        for (name, value) in [("first_kernel", self.first_kernel), ("kernel", self.kernel)] {
            if value % 2 == 0 {
                return Err(ConfigError::Invalid(format!(
                    "`{name}` ({value}) must be odd"
                )));
            }
        }
        Ok(())
    }

    /// What this build can hold (a browser tab's memory).
    fn validate_limits(&self) -> Result<(), ConfigError> {
        for (name, value, max) in [
            ("channels", self.channels, LIMITS.channels),
            ("levels", self.levels, LIMITS.levels),
            ("height", self.height, LIMITS.side),
            ("width", self.width, LIMITS.side),
            ("hidden", self.hidden, LIMITS.hidden),
            ("layers", self.layers, LIMITS.layers),
            ("head", self.head, LIMITS.head),
            ("first_kernel", self.first_kernel, LIMITS.kernel),
            ("kernel", self.kernel, LIMITS.kernel),
            ("classes", self.classes, LIMITS.classes),
        ] {
            if value > max {
                return Err(ConfigError::Invalid(format!(
                    "`{name}` is {value}; this build supports at most {max}"
                )));
            }
        }
        let params = self.param_count();
        if params > LIMITS.params {
            return Err(ConfigError::Invalid(format!(
                "the model would have {params} parameters; this build supports at most {}",
                LIMITS.params
            )));
        }
        Ok(())
    }

    /// Number of trainable parameters, from the config alone (equals
    /// [`PixelCnn::num_params`](crate::PixelCnn::num_params)). Saturates instead of
    /// overflowing, so absurd configs give a huge number rather than a panic.
    pub fn param_count(&self) -> usize {
        let n2 = self.hidden.saturating_mul(2);
        let conv = |c_in: usize, c_out: usize, kh: usize, kw: usize| {
            c_out
                .saturating_mul(c_in)
                .saturating_mul(kh)
                .saturating_mul(kw)
                .saturating_add(c_out)
        };
        let layer = |c_in: usize, kernel: usize| {
            let half = kernel / 2;
            conv(c_in, n2, half + 1, kernel)
                .saturating_add(conv(c_in, n2, 1, half + 1))
                .saturating_add(conv(n2, n2, 1, 1))
                .saturating_add(conv(self.hidden, self.hidden, 1, 1))
                .saturating_add(if self.classes > 0 {
                    (self.classes + 1).saturating_mul(n2)
                } else {
                    0
                })
                .saturating_add(self.order_bias_rows().saturating_mul(n2))
        };
        let later = layer(self.hidden, self.kernel).saturating_mul(self.layers.saturating_sub(1));
        layer(self.channels, self.first_kernel)
            .saturating_add(later)
            .saturating_add(conv(self.hidden, self.head, 1, 1))
            .saturating_add(conv(
                self.head,
                self.channels.saturating_mul(self.levels),
                1,
                1,
            ))
    }

    /// Rows of each gated layer's order bias: one per order, none for a raster-only model.
    pub fn order_bias_rows(&self) -> usize {
        if self.orders > 1 { self.orders } else { 0 }
    }

    /// Number of scalar values (pixel channels) generated per image.
    pub fn values_per_image(&self) -> usize {
        self.channels * self.height * self.width
    }
}
