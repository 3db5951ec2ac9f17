//! Single-file outputs (`check --junit`): written only to a regular file or a new path, through a
//! temporary file in the same folder whose name is unique to the process, and renamed into place.
//!
//! Refused, with the path and the reason, leaving it untouched: a folder, a symbolic link, a
//! device (including `/dev/null`), a FIFO, a socket, a path whose folder does not exist (meshsim
//! creates no folder for a single file), a path with no file name, and an input of the same
//! command. A failed write removes its temporary file.

use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::OutputError;
use super::folder::{Guard, parent_of, refused, what_is};
use super::interrupt;

/// A temporary name for a file to be renamed to `name`, unique to this process and call:
/// `.NAME.tmp-PID-N`.
pub fn temp_name(name: &OsStr) -> OsString {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut s = OsString::from(".");
    s.push(name);
    s.push(format!(".tmp-{}-{n}", std::process::id()));
    s
}

/// Checks that `path` may receive a single-file output: a regular file or nothing, in an existing
/// folder, and not an input (`guard`).
pub fn check_file_target(path: &Path, guard: &Guard) -> Result<(), OutputError> {
    if path.file_name().is_none() || path.as_os_str().to_string_lossy().ends_with('/') {
        return Err(refused(path, "names no file"));
    }
    let parent = parent_of(path);
    match fs::metadata(parent) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(refused(parent, format!("is not a folder, so {} cannot be written", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refused(
                parent,
                format!("does not exist (meshsim does not create missing folders for {})", path.display()),
            ));
        }
        Err(error) => return Err(OutputError::Io { path: parent.display().to_string(), error }),
    }
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => match guard.protected_file(path) {
            Some(what) => Err(refused(path, format!("is {what}"))),
            None => Ok(()),
        },
        Ok(m) => Err(refused(
            path,
            format!("is {}; meshsim writes this output only to a regular file or a new path", what_is(&m)),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(OutputError::Io { path: path.display().to_string(), error }),
    }
}

/// Writes `bytes` to `path` (see the module's docs): a temporary sibling, then a rename.
pub fn write_file(path: &Path, bytes: &[u8], guard: &Guard) -> Result<(), OutputError> {
    check_file_target(path, guard)?;
    let name = path.file_name().expect("checked");
    let tmp: PathBuf = parent_of(path).join(temp_name(name));
    interrupt::add_file(&tmp);
    let result = write_new(&tmp, bytes).and_then(|()| check_file_target(path, guard)).and_then(|()| {
        fs::rename(&tmp, path).map_err(|error| OutputError::Io { path: path.display().to_string(), error })
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    interrupt::remove(&tmp);
    result
}

/// Writes a new file (never an existing one: `create_new` does not follow a link either).
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let io = |error| OutputError::Io { path: path.display().to_string(), error };
    let mut f = OpenOptions::new().write(true).create_new(true).open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(path: &Path) -> String {
        match check_file_target(path, &Guard::new()) {
            Err(OutputError::Refused { reason, .. }) => reason,
            other => panic!("{}: expected a refusal, got {other:?}", path.display()),
        }
    }

    #[test]
    fn only_regular_files_and_new_paths_are_written() {
        assert!(reason(Path::new("/dev/null")).starts_with("is a device;"));
        assert_eq!(reason(Path::new("/")), "names no file");
        assert_eq!(reason(Path::new("x/..")), "names no file");
        let tmp = crate::scratch::tempdir().unwrap();
        assert!(reason(tmp.path()).starts_with("is a folder;"));
        assert!(reason(&tmp.path().join("no/such/file.xml")).starts_with("does not exist"));
        let f = tmp.path().join("a.xml");
        check_file_target(&f, &Guard::new()).unwrap();
        write_file(&f, b"one", &Guard::new()).unwrap();
        write_file(&f, b"two", &Guard::new()).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        let g = Guard::new().protect_input(&f);
        assert!(check_file_target(&f, &g).unwrap_err().to_string().contains("is the input"));
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn temporary_names_are_unique_per_call_and_carry_the_process_id() {
        let (a, b) = (temp_name(OsStr::new("x")), temp_name(OsStr::new("x")));
        assert_ne!(a, b);
        assert!(a.to_string_lossy().starts_with(&format!(".x.tmp-{}-", std::process::id())));
    }
}
