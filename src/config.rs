//! Model hyper-parameters, stored verbatim in every manifest.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Version of the weight layout described by [`PixelCnnConfig`]. Bump it whenever a change
/// to the model makes old weight files load into the wrong places.
pub const CONFIG_VERSION: u32 = 1;

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
        }
    }

    /// Checks every constraint the model relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.version != CONFIG_VERSION {
            return Err(ConfigError::Version {
                found: self.version,
                expected: CONFIG_VERSION,
            });
        }
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

    /// Number of scalar values (pixel channels) generated per image.
    pub fn values_per_image(&self) -> usize {
        self.channels * self.height * self.width
    }
}
