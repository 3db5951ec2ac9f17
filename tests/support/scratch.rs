//! Temporary folders for tests and benches: a fresh, empty folder under the system's temporary
//! folder, removed with everything in it when the handle is dropped. (In place of the `tempfile`
//! crate, whose dependencies changed the feature sets of crates the release build shares, so
//! `cargo test --release` rebuilt them.) Each file that needs one includes this file with
//! `#[path]`: the unit tests, the integration tests and the benches.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A folder this process created; removed, with its contents, on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A new empty folder, `meshsim-test-<pid>-<n>`, under `std::env::temp_dir()`. A name already
/// taken (left by a killed process with the same id) is skipped, never reused.
pub fn tempdir() -> std::io::Result<TempDir> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::env::temp_dir();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("meshsim-test-{}-{n}", std::process::id()));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(TempDir { path }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}
