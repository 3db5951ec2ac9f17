//! What an interrupted meshsim leaves behind: nothing it can help. Every staging folder and
//! temporary file is registered here while it exists; [`clean_up`] (called by the binary on
//! SIGINT, SIGTERM or SIGHUP) removes them all, then holds the registry so that no commit starts
//! before the process exits. A process killed outright (SIGKILL, power loss) cannot clean up: its
//! staging folders are removed by the next meshsim writing the same output (their lock is gone),
//! and a sweep folder's temporary files by the next meshsim working in that folder.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// A registered path.
#[derive(Debug)]
enum Entry {
    /// A staging folder (flat, meshsim's own).
    Folder(PathBuf),
    /// A temporary file.
    File(PathBuf),
}

impl Entry {
    fn path(&self) -> &Path {
        match self {
            Entry::Folder(p) | Entry::File(p) => p,
        }
    }
}

/// The paths to remove on an interrupt.
static PENDING: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn pending() -> MutexGuard<'static, Vec<Entry>> {
    PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers a staging folder.
pub(crate) fn add_folder(path: &Path) {
    pending().push(Entry::Folder(path.to_path_buf()));
}

/// Registers a temporary file.
pub(crate) fn add_file(path: &Path) {
    pending().push(Entry::File(path.to_path_buf()));
}

/// Forgets a path (it was renamed into place or removed).
pub(crate) fn remove(path: &Path) {
    pending().retain(|e| e.path() != path);
}

/// The registry, held: an interrupt waits until it is dropped.
pub(crate) struct Held(MutexGuard<'static, Vec<Entry>>);

impl Held {
    /// Forgets a path while holding the registry.
    pub(crate) fn remove(&mut self, path: &Path) {
        self.0.retain(|e| e.path() != path);
    }
}

/// Holds the registry while a staging folder is renamed into place.
pub(crate) fn hold() -> Held {
    Held(pending())
}

/// Removes every registered staging folder and temporary file, and keeps the registry locked
/// for good (the caller exits next). Returns how many were removed.
pub fn clean_up() -> usize {
    let guard = pending();
    let mut removed = 0;
    for e in guard.iter() {
        let ok = match e {
            Entry::Folder(p) => super::folder::remove_flat(p, &|_| true).is_ok(),
            Entry::File(p) => std::fs::remove_file(p).is_ok(),
        };
        removed += usize::from(ok);
    }
    std::mem::forget(guard);
    removed
}
