//! A scratch directory for one test's files, removed on drop.

use std::path::{Path, PathBuf};

use crate::netns::unique_name;

/// A fresh directory under the system temp dir, named per test
/// (`te-ROLE-PID-N`), deleted with its contents on drop.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates the directory.
    pub fn new(role: &str) -> Self {
        let path = std::env::temp_dir().join(unique_name(role));
        std::fs::create_dir_all(&path).unwrap();
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to the file `name` inside and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let file = self.path.join(name);
        std::fs::write(&file, contents).unwrap();
        file
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
