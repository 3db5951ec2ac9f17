//! The one reader of every file meshsim reads: scenarios, YAML manifests, sweep files, and the
//! files of a sweep folder (`manifest.json`, `scenario.toml`, run files) that `sweep` and `merge`
//! read back.
//!
//! Only regular files are read (a symbolic link to one is fine). A FIFO, socket, device or folder
//! is refused before it is opened, so a FIFO never blocks and `/dev/zero` is never read; the file
//! is then opened non-blocking and its type checked again on the open handle, which closes the
//! window in which the path could be swapped. At most `cap + 1` bytes are read, so a file that
//! grows while it is read (or lies about its size) cannot grow memory past the cap.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// Largest scenario, manifest or sweep file meshsim reads: 16 MiB. The shipped scenarios are a
/// few KiB; a generated scenario with 10 000 clusters is about 1 MiB.
pub const TEXT_CAP: u64 = 16 << 20;

/// Largest cluster export or manifest file meshsim reads: 128 MiB. `kubectl get pods -A -o yaml`
/// of a cluster of a few thousand pods stays below it; a larger cluster is better exported by
/// namespace (`-n shop`). A file is parsed whole, so a run holds up to a few times this in memory.
pub const EXPORT_CAP: u64 = 128 << 20;

/// Largest sweep-folder file meshsim reads back (`manifest.json`, `scenario.toml`): 256 MiB. A
/// manifest lists every axis value, and a sweep may have up to 10 million runs.
pub const SWEEP_STATE_CAP: u64 = 256 << 20;

/// Largest run file of a sweep folder: 1 MiB (they are about 600 bytes).
pub const RUN_FILE_CAP: u64 = 1 << 20;

/// Why a file could not be read.
#[derive(Debug)]
pub enum InputError {
    /// The path exists but is not a regular file.
    NotRegular {
        /// The path.
        file: String,
        /// What it is instead, e.g. "a FIFO".
        found: &'static str,
        /// What was expected, e.g. "a scenario file (TOML)".
        expected: &'static str,
    },
    /// The file is larger than the cap.
    TooLarge {
        /// The path.
        file: String,
        /// The cap in bytes.
        cap: u64,
        /// What was expected.
        expected: &'static str,
    },
    /// The file is not UTF-8 text.
    NotText {
        /// The path.
        file: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The operating system refused (missing file, no permission, ...).
    Io {
        /// The path.
        file: String,
        /// The error.
        error: std::io::Error,
    },
}

impl InputError {
    /// The I/O error kind, for callers that treat a missing file as "absent".
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            InputError::Io { error, .. } => Some(error.kind()),
            _ => None,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::NotRegular { file, found, expected } => {
                write!(f, "{file}: is {found}, not a regular file; expected {expected}")
            }
            InputError::TooLarge { file, cap, expected } => {
                write!(f, "{file}: is larger than {}; expected {expected} of at most that size", human_bytes(*cap))
            }
            InputError::NotText { file, expected } => {
                write!(f, "{file}: is not UTF-8 text (nor UTF-16 with a byte-order mark); expected {expected}")
            }
            InputError::Io { file, error } => write!(f, "{file}: cannot read: {error}"),
        }
    }
}

impl std::error::Error for InputError {}

/// Reads a regular file of at most `cap` bytes as text. `expected` says what the file should be,
/// for the error message ("a scenario file (TOML)").
///
/// The text is UTF-8. A byte-order mark at the start says otherwise and is honoured: a UTF-8 mark
/// (Windows Notepad writes one) is dropped, and a file marked UTF-16 is decoded (Windows
/// PowerShell 5's `kubectl get ... -o yaml > export.yaml` writes UTF-16 little-endian with a mark).
/// YAML allows all three; the text meshsim parses is the same as if the file had been saved as
/// plain UTF-8.
pub fn read_text(path: &Path, cap: u64, expected: &'static str) -> Result<String, InputError> {
    let bytes = read_bytes(path, cap, expected)?;
    let not_text = || InputError::NotText { file: path.display().to_string(), expected };
    match bytes.as_slice() {
        [0xef, 0xbb, 0xbf, rest @ ..] => std::str::from_utf8(rest).map(str::to_owned).map_err(|_| not_text()),
        [0xff, 0xfe, rest @ ..] => utf16(rest, u16::from_le_bytes).ok_or_else(not_text),
        [0xfe, 0xff, rest @ ..] => utf16(rest, u16::from_be_bytes).ok_or_else(not_text),
        _ => String::from_utf8(bytes).map_err(|_| not_text()),
    }
}

/// Decodes UTF-16 code units of the given byte order; `None` for an odd length or an unpaired
/// surrogate.
fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes.chunks_exact(2).map(|b| unit([b[0], b[1]]));
    char::decode_utf16(units).collect::<Result<String, _>>().ok()
}

/// Reads a regular file of at most `cap` bytes.
pub fn read_bytes(path: &Path, cap: u64, expected: &'static str) -> Result<Vec<u8>, InputError> {
    let file = || path.display().to_string();
    let io = |error| InputError::Io { file: file(), error };
    // The type is checked on the path first, so that nothing blocks on opening a FIFO.
    let meta = std::fs::metadata(path).map_err(io)?;
    check_type(&meta, path, expected)?;
    let handle = open_nonblocking(path).map_err(io)?;
    check_type(&handle.metadata().map_err(io)?, path, expected)?;
    let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize + 1);
    handle.take(cap.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(InputError::TooLarge { file: file(), cap, expected });
    }
    Ok(bytes)
}

fn check_type(meta: &std::fs::Metadata, path: &Path, expected: &'static str) -> Result<(), InputError> {
    if meta.is_file() {
        return Ok(());
    }
    Err(InputError::NotRegular { file: path.display().to_string(), found: kind_of(meta), expected })
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    "not a regular file"
}

/// Opens for reading without blocking on a FIFO (should one appear between the check and the
/// open); a regular file reads the same either way.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    opts.open(path)
}

/// `16 MiB`, `1.5 GiB`, `512 KiB`, `100 B`: binary units, at most one decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_up_to_the_cap() {
        let tmp = crate::scratch::tempdir().unwrap();
        let p = tmp.path().join("a.toml");
        std::fs::write(&p, "0123456789").unwrap();
        assert_eq!(read_text(&p, 10, "a test file").unwrap(), "0123456789");
        let err = read_text(&p, 9, "a test file").unwrap_err().to_string();
        assert_eq!(err, format!("{}: is larger than 9 B; expected a test file of at most that size", p.display()));
        let err = read_text(tmp.path(), 9, "a test file").unwrap_err().to_string();
        assert!(err.ends_with("is a folder, not a regular file; expected a test file"), "{err}");
        std::fs::write(&p, [0xfe, 0xfe]).unwrap();
        assert!(read_text(&p, 10, "x").unwrap_err().to_string().contains("is not UTF-8 text"));
    }

    #[test]
    fn a_byte_order_mark_says_how_the_text_is_encoded() {
        let tmp = crate::scratch::tempdir().unwrap();
        let p = tmp.path().join("export.yaml");
        let text = "kind: List\r\nitems: [] # é ✓ 𝄞\r\n";
        let read = |bytes: Vec<u8>| {
            std::fs::write(&p, bytes).unwrap();
            read_text(&p, 1000, "a cluster export (YAML)")
        };
        // UTF-8 with a mark (Windows Notepad): the mark is dropped.
        assert_eq!(read([&[0xef, 0xbb, 0xbf], text.as_bytes()].concat()).unwrap(), text);
        // UTF-16 little-endian with a mark (Windows PowerShell 5's `>`), and big-endian.
        let le: Vec<u8> = [0xff, 0xfe].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(read(le.clone()).unwrap(), text);
        let be: Vec<u8> = [0xfe, 0xff].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(read(be).unwrap(), text);
        // A truncated UTF-16 file (odd length) and an unpaired surrogate are not text.
        let not_text = |r: Result<String, InputError>| r.unwrap_err().to_string().contains("is not UTF-8 text");
        assert!(not_text(read(le[..le.len() - 1].to_vec())));
        assert!(not_text(read(vec![0xff, 0xfe, 0x00, 0xd8, 0x41, 0x00])));
        // Invalid UTF-8 after a UTF-8 mark stays an error.
        assert!(not_text(read(vec![0xef, 0xbb, 0xbf, 0xff])));
        // Without a mark, UTF-8 as before.
        assert_eq!(read(text.as_bytes().to_vec()).unwrap(), text);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn devices_are_refused_before_reading() {
        let err = read_text(Path::new("/dev/zero"), TEXT_CAP, "a scenario").unwrap_err().to_string();
        assert_eq!(err, "/dev/zero: is a device, not a regular file; expected a scenario");
    }

    #[test]
    fn sizes_read_as_binary_units() {
        assert_eq!(human_bytes(16 << 20), "16 MiB");
        assert_eq!(human_bytes(1536 << 20), "1.5 GiB");
        assert_eq!(human_bytes(100), "100 B");
    }
}
