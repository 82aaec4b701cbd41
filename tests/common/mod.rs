//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// A temporary folder, removed when dropped (also when the test panics).
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty folder named after `tag` and the test process.
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("pixelcnn-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
