//! Output folders that meshsim owns, and the only code that replaces or removes one.
//!
//! The rule: **meshsim replaces or removes only what it wrote itself.** Every output folder holds a
//! marker file, [`MARKER`] (`.meshsim-output`), naming the kind of output, the scenario, the meshsim
//! version and the files meshsim wrote there. An output folder may be written to a path that
//! ([`inspect`]):
//!
//! - does not exist, in an existing parent folder (the default `output/` is created);
//! - is an empty folder;
//! - is a folder with meshsim's marker for the same kind of output and, for the kinds that are
//!   replaced as a whole (a run, a sweep's charts), nothing but the files the marker lists.
//!   A folder where the user added a file of their own is refused: meshsim never guesses.
//!
//! Anything else is refused, naming the path and the reason, and is not touched: a non-empty
//! folder without the marker, a file, a symbolic link, a device or FIFO, `.`, `..`, `/`, a mount
//! point, the current folder or one of its ancestors, the home folder or one of its ancestors,
//! and any folder holding one of the inputs (the scenario, a sweep file).
//!
//! Replacing ([`Staging`]): files are written into a staging folder `.NAME.partial-N` beside the
//! target, which carries the marker from the start and holds an exclusive advisory lock on it
//! while it lives. On commit the target is checked again; an empty or absent one is replaced by
//! one rename; a marked one is renamed aside to `.NAME.old-N` (its marker locked), the staging
//! folder is renamed into place, then the old folder's listed files, its marker and the folder
//! itself are removed. Removal never recurses: it unlinks plain files (and symbolic links
//! themselves, never what they point to) on the folder's own file system, and stops, keeping
//! everything, at anything else.
//!
//! A staging or aside folder left by a killed meshsim is removed by the next meshsim writing the
//! same output, and only if it carries the marker and its lock can be taken: the lock of a live
//! process is never taken, so a running meshsim's staging folder is never touched.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OutputError;
use super::interrupt;

/// The marker file in every folder meshsim writes.
pub const MARKER: &str = ".meshsim-output";

/// Markers are small; a larger file under that name is not one.
const MARKER_MAX_BYTES: u64 = 64 * 1024;

/// Most staging or aside folders tried for one target before giving up.
const SIBLINGS_MAX: u32 = 10_000;

/// What an output folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// One run's files (`meshsim run`); replaced as a whole.
    Run,
    /// A sweep folder (`meshsim sweep`, `meshsim merge`); resumed, never replaced.
    Sweep,
    /// A sweep's `charts/`; replaced as a whole.
    SweepCharts,
}

impl Kind {
    /// The name written in markers and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Sweep => "sweep",
            Kind::SweepCharts => "sweep-charts",
        }
    }

    /// Whether a folder of this kind is replaced as a whole (and so must hold nothing else).
    fn replaced_whole(self) -> bool {
        matches!(self, Kind::Run | Kind::SweepCharts)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The content of [`MARKER`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    /// What the folder holds.
    pub kind: Kind,
    /// The scenario's `name`.
    pub scenario: String,
    /// The version of meshsim that wrote the folder.
    pub meshsim_version: String,
    /// The files meshsim wrote in the folder (for the kinds replaced as a whole), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

impl Marker {
    /// A marker for a folder of `kind` written now.
    pub fn new(kind: Kind, scenario: &str) -> Marker {
        Marker {
            kind,
            scenario: scenario.to_string(),
            meshsim_version: env!("CARGO_PKG_VERSION").to_string(),
            files: Vec::new(),
        }
    }

    /// The file's bytes: a comment for whoever opens it, then TOML.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = String::from(if self.kind.replaced_whole() {
            "# This folder was written by meshsim. meshsim replaces it only while it holds nothing but\n\
             # the files listed here; delete this file to keep meshsim from ever replacing it.\n"
        } else {
            "# This folder was written by meshsim. meshsim resumes the sweep in it and removes only its\n\
             # own files; delete this file to keep meshsim from ever writing here.\n"
        });
        text.push_str(&toml::to_string(self).expect("a marker serializes"));
        text.into_bytes()
    }

    /// Parses a marker; the message says what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Marker, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
        let m: Marker = toml::from_str(text).map_err(|e| e.message().to_string())?;
        if let Some(bad) = m.files.iter().find(|f| !is_plain_name(f) || *f == MARKER) {
            return Err(format!("it lists `{bad}`, which is not a plain file name"));
        }
        Ok(m)
    }
}

/// Whether `name` is one plain file name (no separator, not `.` or `..`, not empty).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Where output folders may go: the paths they may never be or contain, and whether a missing
/// parent folder may be created.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Canonical paths with what they are, e.g. (`/home/ann`, "your home folder").
    protected: Vec<(PathBuf, String)>,
    /// Whether a missing parent of the target is created (the default `output/` folders).
    create_parent: bool,
}

impl Default for Guard {
    fn default() -> Guard {
        Guard::new()
    }
}

impl Guard {
    /// Protects the current folder and the home folder (`$HOME`); creates no parent folder.
    pub fn new() -> Guard {
        let mut g = Guard { protected: Vec::new(), create_parent: false };
        if let Ok(cwd) = std::env::current_dir() {
            g = g.protect(&cwd, "the current folder");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            g = g.protect(Path::new(&home), "your home folder");
        }
        g
    }

    /// Also protects `path` (an input file or folder), described as `what`. A path that does not
    /// exist protects nothing.
    pub fn protect(mut self, path: &Path, what: &str) -> Guard {
        if let Ok(canonical) = fs::canonicalize(path) {
            self.protected.push((canonical, what.to_string()));
        }
        self
    }

    /// Protects an input file, described by its path.
    pub fn protect_input(self, path: &Path) -> Guard {
        let what = format!("the input {}", path.display());
        self.protect(path, &what)
    }

    /// Lets a missing parent of the target be created (for meshsim's default `output/` folders).
    pub fn create_parent(mut self, yes: bool) -> Guard {
        self.create_parent = yes;
        self
    }

    /// Whether a missing parent of the target may be created.
    pub fn creates_parent(&self) -> bool {
        self.create_parent
    }

    /// The protected path equal to the canonical file `path`, if any.
    pub(crate) fn protected_file(&self, path: &Path) -> Option<&str> {
        let canonical = fs::canonicalize(path).ok()?;
        self.protected.iter().find(|(p, _)| *p == canonical).map(|(_, what)| what.as_str())
    }
}

/// What is at an output folder's path, when meshsim may write there.
#[derive(Debug, Clone, PartialEq)]
pub enum Existing {
    /// Nothing yet.
    Absent,
    /// An empty folder.
    Empty,
    /// A folder meshsim wrote, with its marker.
    Owned(Marker),
}

pub(crate) fn refused(path: &Path, reason: impl Into<String>) -> OutputError {
    OutputError::Refused { path: path.display().to_string(), reason: reason.into() }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |error| OutputError::Io { path: path.display().to_string(), error }
}

/// The parent folder of `path` as a path to use (`.` for a bare name).
pub(crate) fn parent_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Decides whether meshsim may write an output folder of `kind` at `target`, looking only (it
/// changes nothing). `Err` names the path and why not.
pub fn inspect(target: &Path, kind: Kind, guard: &Guard) -> Result<Existing, OutputError> {
    match target.components().next_back() {
        None => return Err(refused(target, "is an empty path")),
        Some(Component::RootDir | Component::Prefix(_)) => {
            return Err(refused(target, "is the root of the file system"));
        }
        Some(Component::CurDir) => return Err(refused(target, "is the current folder")),
        Some(Component::ParentDir) => return Err(refused(target, "ends in `..`: name the folder itself")),
        Some(Component::Normal(_)) => {}
    }
    let meta = match fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = parent_of(target);
            return match fs::metadata(parent) {
                Ok(m) if m.is_dir() => Ok(Existing::Absent),
                Ok(_) => Err(refused(parent, "is not a folder")),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && guard.create_parent => Ok(Existing::Absent),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(refused(
                    parent,
                    format!("does not exist (meshsim does not create missing folders for {})", target.display()),
                )),
                Err(e) => Err(io_err(parent)(e)),
            };
        }
        Err(e) => return Err(io_err(target)(e)),
    };
    if !meta.is_dir() {
        return Err(refused(
            target,
            format!("is {}, not a folder; meshsim writes its output only to a folder", what_is(&meta)),
        ));
    }
    let canonical = fs::canonicalize(target).map_err(io_err(target))?;
    if let Some(reason) = protected_reason(&canonical, &meta, guard) {
        return Err(refused(target, reason));
    }
    // A marker being published by another process (a shard starting at the same moment) does
    // not make the folder non-empty.
    let mut entries = fs::read_dir(target)
        .map_err(io_err(target))?
        .filter(|e| !e.as_ref().is_ok_and(|e| is_marker_temporary(&e.file_name())))
        .peekable();
    if entries.peek().is_none() {
        return Ok(Existing::Empty);
    }
    let marker = read_marker(target)?.ok_or_else(|| {
        refused(
            target,
            "is not empty and has no .meshsim-output marker, so meshsim did not write it (if an older \
             meshsim did, delete or move it yourself); meshsim replaces only folders it wrote",
        )
    })?;
    if marker.kind != kind {
        return Err(refused(target, format!("holds meshsim {} output, not {kind} output", marker.kind)));
    }
    if kind.replaced_whole() {
        for e in entries {
            let e = e.map_err(io_err(target))?;
            let name = e.file_name();
            if name == MARKER {
                continue;
            }
            let path = target.join(&name);
            let m = fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let listed = name.to_str().is_some_and(|n| marker.files.iter().any(|f| f == n));
            if !listed || !m.is_file() || !same_device(&m, &meta) {
                return Err(refused(
                    target,
                    format!(
                        "holds {}, which meshsim did not write there; meshsim replaces its output folder \
                         only while it holds nothing else (move it out, or choose another folder)",
                        path.display()
                    ),
                ));
            }
        }
    }
    Ok(Existing::Owned(marker))
}

/// Whether `name` is a temporary file of [`publish_marker`].
pub(crate) fn is_marker_temporary(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with(".meshsim-output.tmp-"))
}

/// Why the existing folder at `canonical` (its metadata `meta`) may never be an output folder:
/// it is or contains a protected path, is the root, or is a mount point.
fn protected_reason(canonical: &Path, meta: &fs::Metadata, guard: &Guard) -> Option<String> {
    for (p, what) in &guard.protected {
        if p == canonical {
            return Some(format!("is {what}"));
        }
        if p.starts_with(canonical) {
            return Some(format!("contains {what}"));
        }
    }
    let Some(parent) = canonical.parent() else {
        return Some("is the root of the file system".into());
    };
    if is_mount_point(meta, parent) {
        return Some("is a mount point; choose a folder inside it".into());
    }
    None
}

/// "a file", "a symbolic link", ... for messages.
pub(crate) fn what_is(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        return "a symbolic link";
    }
    if t.is_dir() {
        return "a folder";
    }
    if t.is_file() {
        return "a file";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(unix)]
fn same_device(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev()
}

#[cfg(not(unix))]
fn same_device(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    true
}

#[cfg(unix)]
fn same_inode(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_inode(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    true
}

/// A folder is a mount point when it is on another device than its parent (or is the root).
fn is_mount_point(meta: &fs::Metadata, canonical_parent: &Path) -> bool {
    match fs::metadata(canonical_parent) {
        Ok(p) => !same_device(meta, &p),
        Err(_) => true,
    }
}

/// Reads `dir`'s marker: `None` when there is none (or it is not a plain file), an error when it
/// is there but is not one meshsim wrote.
pub fn read_marker(dir: &Path) -> Result<Option<Marker>, OutputError> {
    let path = dir.join(MARKER);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    }
    let file = File::open(&path).map_err(io_err(&path))?;
    parse_marker_file(&file, &path).map(Some)
}

fn parse_marker_file(mut file: &File, path: &Path) -> Result<Marker, OutputError> {
    let mut bytes = Vec::new();
    file.rewind().map_err(io_err(path))?;
    file.take(MARKER_MAX_BYTES + 1).read_to_end(&mut bytes).map_err(io_err(path))?;
    if bytes.len() as u64 > MARKER_MAX_BYTES {
        return Err(refused(path, "is too large to be a meshsim marker"));
    }
    Marker::parse(&bytes).map_err(|m| refused(path, format!("is not a marker meshsim wrote: {m}")))
}

/// Takes `dir`'s marker lock if no process holds it, checking that the locked file is still the
/// marker at that path. `None` when the folder has no marker, a live process holds it, or the
/// marker is not one meshsim wrote.
pub(crate) fn claim(dir: &Path) -> Option<(File, Marker)> {
    let path = dir.join(MARKER);
    let before = fs::symlink_metadata(&path).ok().filter(fs::Metadata::is_file)?;
    let file = OpenOptions::new().read(true).write(true).open(&path).ok()?;
    file.try_lock().ok()?;
    let locked = file.metadata().ok()?;
    let after = fs::symlink_metadata(&path).ok()?;
    if !same_inode(&before, &locked) || !same_inode(&locked, &after) {
        return None;
    }
    let marker = parse_marker_file(&file, &path).ok()?;
    Some((file, marker))
}

/// Removes the flat folder `dir` that meshsim owns: first checks that every entry but the marker
/// is a plain file or a symbolic link on the folder's device that `allowed` accepts (else removes
/// nothing and names the entry), then unlinks them, the marker, and the folder. Never descends
/// into a folder and never follows a link.
pub(crate) fn remove_flat(dir: &Path, allowed: &dyn Fn(&OsStr) -> bool) -> Result<(), OutputError> {
    let dmeta = fs::symlink_metadata(dir).map_err(io_err(dir))?;
    if !dmeta.is_dir() {
        return Err(refused(dir, format!("is {}, not a folder meshsim wrote", what_is(&dmeta))));
    }
    let mut victims: Vec<PathBuf> = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let name = e.map_err(io_err(dir))?.file_name();
        if name == MARKER {
            continue;
        }
        let path = dir.join(&name);
        let m = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        if !(m.is_file() || m.is_symlink()) || !same_device(&m, &dmeta) || !allowed(&name) {
            return Err(refused(&path, format!("was not written by meshsim, so {} was left as it is", dir.display())));
        }
        victims.push(path);
    }
    for p in victims.iter().chain(std::iter::once(&dir.join(MARKER))) {
        match fs::remove_file(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(p)(e)),
            _ => {}
        }
    }
    fs::remove_dir(dir).map_err(io_err(dir))
}

/// `.NAME.partial-N` and `.NAME.old-N` beside `target`.
fn sibling(target: &Path, what: &str, n: u32) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(target.file_name().unwrap_or(OsStr::new("out")));
    name.push(format!(".{what}-{n}"));
    parent_of(target).join(name)
}

/// Which sibling of `name` an entry is: `Some(true)` a staging folder, `Some(false)` an aside
/// folder, `None` neither.
fn sibling_kind(entry: &OsStr, name: &OsStr) -> Option<bool> {
    let entry = entry.to_str()?;
    let rest = entry.strip_prefix('.')?.strip_prefix(name.to_str()?)?;
    let (partial, digits) = match (rest.strip_prefix(".partial-"), rest.strip_prefix(".old-")) {
        (Some(d), _) => (true, d),
        (None, Some(d)) => (false, d),
        _ => return None,
    };
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(partial)
}

/// Removes the staging (`.NAME.partial-N`) and aside (`.NAME.old-N`) folders of `target` that a
/// meshsim left when it was killed: only those with a marker whose lock no process holds. Best
/// effort: a folder that cannot be removed is left as it is.
pub fn clean_stale(target: &Path) {
    let (parent, Some(name)) = (parent_of(target), target.file_name()) else { return };
    let Ok(pmeta) = fs::metadata(parent) else { return };
    let Ok(entries) = fs::read_dir(parent) else { return };
    for e in entries.filter_map(Result::ok) {
        let Some(partial) = sibling_kind(&e.file_name(), name) else { continue };
        let path = parent.join(e.file_name());
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() && same_device(&m, &pmeta) => {}
            _ => continue,
        }
        if let Some((lock, marker)) = claim(&path) {
            let listed = |n: &OsStr| partial || n.to_str().is_some_and(|n| marker.files.iter().any(|f| f == n));
            let _ = remove_flat(&path, &listed);
            drop(lock);
        }
    }
}

/// Writes `marker` into the folder `dir` as [`MARKER`] without ever showing a half-written or
/// unlocked marker: a temporary file is locked, written and then hard-linked (or renamed) to the
/// final name. Returns the locked file. `AlreadyExists` if `dir` already has a marker (when `dir`
/// may be shared, as a new sweep folder is).
pub(crate) fn publish_marker(dir: &Path, marker: &Marker, exclusive_name: bool) -> std::io::Result<File> {
    // `.meshsim-output.tmp-PID-N`: see [`is_marker_temporary`].
    let tmp = dir.join(super::file::temp_name(OsStr::new("meshsim-output")));
    let mut file = OpenOptions::new().read(true).write(true).create_new(true).open(&tmp)?;
    let published = (|| {
        file.lock()?;
        file.write_all(&marker.to_bytes())?;
        let path = dir.join(MARKER);
        if exclusive_name { fs::hard_link(&tmp, &path) } else { fs::rename(&tmp, &path) }
    })();
    if exclusive_name || published.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    published.map(|()| file)
}

/// A folder being filled; it replaces `target` on [`Staging::commit`] and is removed if dropped
/// before that (or when the process is interrupted, see [`interrupt`]).
pub struct Staging {
    dir: PathBuf,
    target: PathBuf,
    marker: Marker,
    guard: Guard,
    /// The staging folder's marker, locked for as long as the folder is being written.
    lock: File,
    committed: bool,
}

impl Staging {
    /// Checks that `target` may be written ([`inspect`], so a refusal comes before any work),
    /// removes stale staging folders of the same target, and creates an empty staging folder
    /// beside it with its marker locked.
    pub fn new(target: &Path, kind: Kind, scenario: &str, guard: &Guard) -> Result<Staging, OutputError> {
        inspect(target, kind, guard)?;
        let parent = parent_of(target);
        if guard.create_parent && !parent.exists() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        clean_stale(target);
        let marker = Marker::new(kind, scenario);
        for n in 0..SIBLINGS_MAX {
            let dir = sibling(target, "partial", n);
            // Registered first, so that an interrupt right after the folder is made removes it.
            interrupt::add_folder(&dir);
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) => {
                    interrupt::remove(&dir);
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        continue;
                    }
                    return Err(io_err(&dir)(e));
                }
            }
            let lock = match publish_marker(&dir, &marker, false) {
                Ok(lock) => lock,
                Err(e) => {
                    let _ = fs::remove_dir(&dir);
                    interrupt::remove(&dir);
                    return Err(io_err(&dir)(e));
                }
            };
            return Ok(Staging {
                dir,
                target: target.to_path_buf(),
                marker,
                guard: guard.clone(),
                lock,
                committed: false,
            });
        }
        Err(refused(target, format!("has {SIBLINGS_MAX} staging folders beside it; remove them")))
    }

    /// Path of a file inside the staging folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a whole file.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let p = self.path(name);
        fs::write(&p, bytes).map_err(io_err(&p))
    }

    /// Lists the staged files in the marker, then replaces the target with the staged folder (see
    /// the module's docs). The target is checked again first: if it changed into something meshsim
    /// may not replace, nothing is replaced.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        let mut files = Vec::new();
        for e in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let name = e.map_err(io_err(&self.dir))?.file_name();
            if name != MARKER {
                files.push(name.to_string_lossy().into_owned());
            }
        }
        files.sort();
        self.marker.files = files;
        let marker_path = self.dir.join(MARKER);
        // The first marker (no files) is a prefix of this one, so the marker reads as one at any
        // moment of the rewrite but the last bytes'.
        let bytes = self.marker.to_bytes();
        (|| {
            self.lock.rewind()?;
            self.lock.write_all(&bytes)?;
            self.lock.set_len(bytes.len() as u64)
        })()
        .map_err(io_err(&marker_path))?;
        // Held until the end: an interrupt waits for the swap to finish instead of racing it.
        let mut pending = interrupt::hold();
        match inspect(&self.target, self.marker.kind, &self.guard)? {
            Existing::Absent | Existing::Empty => {
                fs::rename(&self.dir, &self.target).map_err(io_err(&self.target))?;
            }
            Existing::Owned(_) => self.replace_owned()?,
        }
        self.committed = true;
        pending.remove(&self.dir);
        Ok(self.target.clone())
    }

    /// Swaps a marked target for the staged folder, then removes the old folder's files.
    fn replace_owned(&self) -> Result<(), OutputError> {
        let Some((old_lock, old)) = claim(&self.target) else {
            return Err(refused(&self.target, "is being written by another meshsim process right now"));
        };
        let mut aside = None;
        for n in 0..SIBLINGS_MAX {
            let p = sibling(&self.target, "old", n);
            if fs::symlink_metadata(&p).is_ok() {
                continue;
            }
            match fs::rename(&self.target, &p) {
                Ok(()) => {
                    aside = Some(p);
                    break;
                }
                Err(e) if fs::symlink_metadata(&p).is_ok() => {
                    let _ = e;
                    continue;
                }
                Err(e) => return Err(io_err(&self.target)(e)),
            }
        }
        let aside = aside.ok_or_else(|| refused(&self.target, "has too many .old folders beside it; remove them"))?;
        if let Err(e) = fs::rename(&self.dir, &self.target) {
            let _ = fs::rename(&aside, &self.target);
            return Err(io_err(&self.target)(e));
        }
        let listed = |n: &OsStr| n.to_str().is_some_and(|n| old.files.iter().any(|f| f == n));
        let removed = remove_flat(&aside, &listed);
        drop(old_lock);
        removed.map_err(|e| {
            refused(
                &aside,
                format!("holds the previous output of {}, which was kept because {e}", self.target.display()),
            )
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_flat(&self.dir, &|_| true);
            interrupt::remove(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(target: &Path, guard: &Guard) -> String {
        match inspect(target, Kind::Run, guard) {
            Err(OutputError::Refused { reason, .. }) => reason,
            other => panic!("{}: expected a refusal, got {other:?}", target.display()),
        }
    }

    #[test]
    fn the_root_and_dot_paths_are_refused_by_name() {
        let g = Guard::new();
        assert_eq!(refusal(Path::new("/"), &g), "is the root of the file system");
        assert_eq!(refusal(Path::new("//"), &g), "is the root of the file system");
        assert_eq!(refusal(Path::new("/."), &g), "is the root of the file system");
        assert_eq!(refusal(Path::new("."), &g), "is the current folder");
        assert_eq!(refusal(Path::new("./"), &g), "is the current folder");
        assert!(refusal(Path::new(".."), &g).contains("`..`"));
        assert!(refusal(Path::new("/tmp/.."), &g).contains("`..`"));
        assert_eq!(refusal(Path::new(""), &g), "is an empty path");
    }

    #[test]
    fn the_root_is_refused_even_past_the_name_check() {
        // Whatever spelling reaches it, `/` contains the current folder, and alone it is the root.
        let root = fs::canonicalize("/").unwrap();
        let meta = fs::metadata(&root).unwrap();
        assert_eq!(protected_reason(&root, &meta, &Guard::new()).unwrap(), "contains the current folder");
        let bare = Guard { protected: Vec::new(), create_parent: false };
        assert_eq!(protected_reason(&root, &meta, &bare).unwrap(), "is the root of the file system");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn mount_points_are_refused() {
        // /proc is a mount point on every Linux machine.
        if fs::metadata("/proc/self").is_ok() {
            let bare = Guard { protected: Vec::new(), create_parent: false };
            assert_eq!(refusal(Path::new("/proc"), &bare), "is a mount point; choose a folder inside it");
        }
    }

    #[test]
    fn home_and_ancestors_of_protected_paths_are_refused() {
        let tmp = crate::scratch::tempdir().unwrap();
        let home = tmp.path().join("home");
        fs::create_dir_all(home.join("work")).unwrap();
        fs::write(home.join("work/lab.toml"), "x").unwrap();
        let g = Guard { protected: Vec::new(), create_parent: false }
            .protect(&home, "your home folder")
            .protect_input(&home.join("work/lab.toml"));
        assert_eq!(refusal(&home, &g), "is your home folder");
        assert_eq!(refusal(tmp.path(), &g), "contains your home folder");
        assert!(refusal(&home.join("work"), &g).starts_with("contains the input"));
    }

    #[test]
    fn devices_links_and_files_are_refused() {
        let g = Guard::new();
        assert!(refusal(Path::new("/dev/null"), &g).starts_with("is a device, not a folder"));
        let tmp = crate::scratch::tempdir().unwrap();
        let file = tmp.path().join("f");
        fs::write(&file, "x").unwrap();
        assert!(refusal(&file, &g).starts_with("is a file, not a folder"));
        #[cfg(unix)]
        {
            let link = tmp.path().join("l");
            std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
            assert!(refusal(&link, &g).starts_with("is a symbolic link, not a folder"));
        }
    }

    #[test]
    fn owned_folders_are_recognised_by_marker_and_contents() {
        let tmp = crate::scratch::tempdir().unwrap();
        let g = Guard::new();
        let dir = tmp.path().join("out");
        assert_eq!(inspect(&dir, Kind::Run, &g).unwrap(), Existing::Absent);
        assert!(refusal(&tmp.path().join("missing/out"), &g).contains("does not exist"));
        fs::create_dir(&dir).unwrap();
        assert_eq!(inspect(&dir, Kind::Run, &g).unwrap(), Existing::Empty);
        fs::write(dir.join("a.csv"), "x").unwrap();
        assert!(refusal(&dir, &g).contains("no .meshsim-output marker"));
        let mut m = Marker::new(Kind::Run, "lab");
        m.files = vec!["a.csv".into()];
        fs::write(dir.join(MARKER), m.to_bytes()).unwrap();
        assert_eq!(inspect(&dir, Kind::Run, &g).unwrap(), Existing::Owned(m.clone()));
        assert!(inspect(&dir, Kind::Sweep, &g).unwrap_err().to_string().contains("holds meshsim run output"));
        fs::write(dir.join("notes.txt"), "mine").unwrap();
        assert!(refusal(&dir, &g).contains("notes.txt, which meshsim did not write"));
        fs::remove_file(dir.join("notes.txt")).unwrap();
        fs::write(
            dir.join(MARKER),
            "kind = \"run\"\nscenario = \"lab\"\nmeshsim_version = \"1\"\nfiles = [\"../x\"]\n",
        )
        .unwrap();
        assert!(refusal(&dir, &g).contains("not a plain file name"));
    }

    #[test]
    fn sibling_names_are_matched_exactly() {
        let name = OsStr::new("lab");
        assert_eq!(sibling_kind(OsStr::new(".lab.partial-0"), name), Some(true));
        assert_eq!(sibling_kind(OsStr::new(".lab.old-12"), name), Some(false));
        assert_eq!(sibling_kind(OsStr::new(".lab.partial-"), name), None);
        assert_eq!(sibling_kind(OsStr::new(".lab2.partial-0"), name), None);
        assert_eq!(sibling_kind(OsStr::new(".lab.partial-0x"), name), None);
        assert_eq!(sibling_kind(OsStr::new("lab.partial-0"), name), None);
    }

    #[test]
    fn removal_never_descends_and_keeps_foreign_entries() {
        let tmp = crate::scratch::tempdir().unwrap();
        let dir = tmp.path().join("d");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(MARKER), Marker::new(Kind::Run, "x").to_bytes()).unwrap();
        fs::write(dir.join("a"), "x").unwrap();
        fs::create_dir(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/keep"), "k").unwrap();
        let err = remove_flat(&dir, &|_| true).unwrap_err().to_string();
        assert!(err.contains("sub") && err.contains("was not written by meshsim"), "{err}");
        assert!(dir.join("a").exists() && dir.join("sub/keep").exists() && dir.join(MARKER).exists());
        fs::remove_dir_all(dir.join("sub")).unwrap();
        #[cfg(unix)]
        {
            // A link is unlinked, never followed.
            let outside = tmp.path().join("outside");
            fs::write(&outside, "precious").unwrap();
            std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        }
        let err = remove_flat(&dir, &|n| n == "a").unwrap_err().to_string();
        assert!(err.contains("link"), "{err}");
        remove_flat(&dir, &|_| true).unwrap();
        assert!(!dir.exists());
        #[cfg(unix)]
        assert_eq!(fs::read(tmp.path().join("outside")).unwrap(), b"precious");
    }
}
