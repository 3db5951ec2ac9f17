//! The sweep folder on disk: the manifest, the expanded scenario, one small file per finished run,
//! and atomic writes. Everything a finished sweep shows is derived from these files alone, so a
//! resumed sweep, a merge of shards and an uninterrupted sweep end with the same bytes.
//!
//! ```text
//! OUT/manifest.json      what the sweep is (spec hash, axes, seeds, objective); written first
//! OUT/scenario.toml      the scenario with fixed overrides and manifests spliced in
//! OUT/runs/r0000042.json one finished run: its index, seed and metrics
//! OUT/.meshsim-output    the marker: meshsim wrote this folder (see `output::folder`)
//! OUT/.meshsim-lock      the lock file of the processes working in the folder (see [`Hold`])
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SweepError;
use super::axis::Axis;
use super::metrics::{METRICS, N_METRICS, RunMetrics};
use super::select::Objective;
use super::spec::{Plan, RunSpec, run_seed};
use crate::output::folder::{self, Existing, Guard, Kind, MARKER, Marker};
use crate::output::interrupt;
use crate::scenario::overrides::parse_value;

/// File name of the manifest.
pub const MANIFEST: &str = "manifest.json";
/// File name of the expanded scenario.
pub const SCENARIO: &str = "scenario.toml";
/// Folder of the run files.
pub const RUNS: &str = "runs";
/// The lock file every process working in the folder holds shared (see [`Hold`]).
pub const PRESENCE: &str = ".meshsim-lock";

/// `manifest.json`: everything needed to check, merge and summarize a sweep folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Version of meshsim that wrote it.
    pub meshsim_version: String,
    /// Hash of what decides the runs (see [`super::spec::spec_hash`]).
    pub spec_hash: String,
    /// The scenario's `name`.
    pub scenario: String,
    /// Base seed.
    pub base_seed: u64,
    /// Runs per point.
    pub seeds: u32,
    /// Axes, with values as TOML text.
    pub axes: Vec<ManifestAxis>,
    /// Number of points.
    pub n_points: usize,
    /// Number of runs.
    pub n_runs: usize,
    /// Metric names, in column order.
    pub metrics: Vec<String>,
    /// Objective: metric, goal and constraints.
    pub objective: ManifestObjective,
    /// Pareto fronts as metric-name pairs.
    pub pareto: Vec<[String; 2]>,
}

/// One axis in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestAxis {
    /// Label.
    pub name: String,
    /// Dotted scenario path.
    pub path: String,
    /// Values as TOML text (`5`, `"30s"`).
    pub values: Vec<String>,
}

/// The objective in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestObjective {
    /// Metric name.
    pub metric: String,
    /// `minimize` or `maximize`.
    pub goal: String,
    /// Constraints as text.
    pub constraints: Vec<String>,
}

impl Manifest {
    /// The manifest of a plan.
    pub fn of(plan: &Plan) -> Manifest {
        let spec = &plan.spec;
        let o = &spec.objective;
        Manifest {
            meshsim_version: env!("CARGO_PKG_VERSION").into(),
            spec_hash: plan.spec_hash.clone(),
            scenario: plan.scenario_name.clone(),
            base_seed: plan.base_seed,
            seeds: spec.seeds,
            axes: spec
                .axes
                .iter()
                .map(|a| ManifestAxis {
                    name: a.name.clone(),
                    path: a.path.clone(),
                    values: a.values.iter().map(|v| v.to_string()).collect(),
                })
                .collect(),
            n_points: plan.n_points,
            n_runs: plan.n_runs(),
            metrics: METRICS.iter().map(|m| m.name.to_string()).collect(),
            objective: ManifestObjective {
                metric: METRICS[o.metric].name.into(),
                goal: o.goal.as_str().into(),
                constraints: o.constraints.iter().map(|c| c.to_string()).collect(),
            },
            pareto: spec.pareto.iter().map(|&(x, y)| [METRICS[x].name.into(), METRICS[y].name.into()]).collect(),
        }
    }

    /// The axes with typed values.
    pub fn axes(&self) -> Vec<Axis> {
        self.axes
            .iter()
            .map(|a| Axis {
                name: a.name.clone(),
                path: a.path.clone(),
                values: a.values.iter().map(|v| parse_value(v)).collect(),
            })
            .collect()
    }

    /// The objective, parsed back.
    pub fn objective(&self, file: &Path) -> Result<Objective, SweepError> {
        let o = &self.objective;
        Objective::new(&o.metric, &o.goal, &o.constraints).map_err(|m| corrupt(file, m))
    }

    /// The pareto pairs as metric indices.
    pub fn pareto(&self, file: &Path) -> Result<Vec<(usize, usize)>, SweepError> {
        let m = |n: &str| super::metrics::metric_index(n).ok_or_else(|| corrupt(file, format!("unknown metric `{n}`")));
        self.pareto.iter().map(|[x, y]| Ok((m(x)?, m(y)?))).collect()
    }

    /// Run `idx` as the manifest defines it.
    pub fn run(&self, idx: usize) -> RunSpec {
        let seeds = self.seeds as usize;
        let replicate = (idx % seeds) as u32;
        RunSpec { idx, point: idx / seeds, replicate, seed: run_seed(self.base_seed, replicate) }
    }

    /// Pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest serializes");
        s.push('\n');
        s.into_bytes()
    }

    /// Reads `dir/manifest.json`, `None` if absent.
    pub fn read(dir: &Path) -> Result<Option<Manifest>, SweepError> {
        let path = dir.join(MANIFEST);
        match crate::input::read_bytes(&path, crate::input::SWEEP_STATE_CAP, "a sweep manifest (JSON)") {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| corrupt(&path, e.to_string())),
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// One run file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile {
    spec_hash: String,
    idx: usize,
    point: usize,
    replicate: u32,
    seed: u64,
    metrics: BTreeMap<String, Option<f64>>,
}

/// The path of run `idx`'s file.
pub fn run_path(dir: &Path, idx: usize) -> PathBuf {
    dir.join(RUNS).join(format!("r{idx:07}.json"))
}

/// Writes run `r`'s file atomically.
pub fn write_run(dir: &Path, m: &Manifest, r: RunSpec, metrics: &RunMetrics) -> Result<(), SweepError> {
    let file = RunFile {
        spec_hash: m.spec_hash.clone(),
        idx: r.idx,
        point: r.point,
        replicate: r.replicate,
        seed: r.seed,
        metrics: METRICS.iter().zip(metrics.0).map(|(d, v)| (d.name.to_string(), v)).collect(),
    };
    let mut text = serde_json::to_string(&file).expect("a run file serializes");
    text.push('\n');
    write_atomic(&run_path(dir, r.idx), text.as_bytes())
}

/// Reads run `idx`'s file: `Ok(None)` if absent, an error if it does not belong to this sweep.
pub fn read_run(dir: &Path, m: &Manifest, idx: usize) -> Result<Option<RunMetrics>, SweepError> {
    let path = run_path(dir, idx);
    let bytes = match read_run_bytes(&path) {
        Ok(b) => b,
        Err(SweepError::Input(e)) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let f: RunFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e.to_string()))?;
    let want = m.run(idx);
    if f.spec_hash != m.spec_hash
        || (f.idx, f.point, f.replicate, f.seed) != (idx, want.point, want.replicate, want.seed)
    {
        return Err(corrupt(
            &path,
            format!("it belongs to another sweep or run (spec {}, run {})", f.spec_hash, f.idx),
        ));
    }
    let mut values = [None; N_METRICS];
    for (i, d) in METRICS.iter().enumerate() {
        values[i] = *f.metrics.get(d.name).ok_or_else(|| corrupt(&path, format!("metric `{}` is missing", d.name)))?;
    }
    Ok(Some(RunMetrics(values)))
}

/// Reads a run file (a regular file of at most [`crate::input::RUN_FILE_CAP`]).
pub fn read_run_bytes(path: &Path) -> Result<Vec<u8>, SweepError> {
    Ok(crate::input::read_bytes(path, crate::input::RUN_FILE_CAP, "a sweep run file (JSON)")?)
}

/// Which runs have a file. Cheap: looks at names only.
pub fn finished(dir: &Path, n_runs: usize) -> Result<Vec<bool>, SweepError> {
    let mut done = vec![false; n_runs];
    let runs = dir.join(RUNS);
    let entries = match fs::read_dir(&runs) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
        Err(source) => return Err(io(&runs)(source)),
    };
    for e in entries {
        let name = e.map_err(io(&runs))?.file_name();
        let name = name.to_string_lossy();
        if let Some(idx) =
            name.strip_prefix('r').and_then(|n| n.strip_suffix(".json")).and_then(|n| n.parse::<usize>().ok())
            && idx < n_runs
        {
            done[idx] = true;
        }
    }
    Ok(done)
}

/// A process's stay in a sweep folder, from [`open`] to [`Hold::finish`] (or drop).
///
/// Any number of processes (shards, on one machine or several sharing a file system) may work in
/// one sweep folder at once. Two advisory locks keep them apart:
///
/// - the marker `.meshsim-output`, locked exclusively, is the folder's mutex: held while the
///   folder is set up, and while the finished sweep's tables and charts are written, so those
///   shared steps run one process at a time (each writes the same bytes, so the last one changes
///   nothing);
/// - `.meshsim-lock` is locked shared by every process for as long as it works in the folder, and
///   temporary files (of writes a killed process never finished) are removed only by a process
///   that can lock it exclusively, that is, one alone in the folder: a live process's temporary
///   file is never removed under it.
///
/// Run files need no lock: each is written under a name of its own and renamed into place.
pub struct Hold {
    dir: PathBuf,
    marker: File,
    presence: File,
}

/// Opens `dir` for the sweep of `manifest`: creates it (or takes an empty folder), or checks that
/// it is a sweep folder meshsim wrote holding the same sweep (`fresh` discards a different or
/// finished one instead), writes the manifest and scenario, and removes leftover temporaries if no
/// other process is working there. The folder's rules are [`folder::inspect`]'s.
pub fn open(dir: &Path, manifest: &Manifest, base_toml: &str, fresh: bool, guard: &Guard) -> Result<Hold, SweepError> {
    let marker = marked(dir, &manifest.scenario, guard)?;
    let marker_path = dir.join(MARKER);
    marker.lock().map_err(io(&marker_path))?;
    prepare(dir, manifest, base_toml, fresh)?;
    let presence_path = dir.join(PRESENCE);
    match fs::symlink_metadata(&presence_path) {
        Ok(m) if !m.is_file() => {
            return Err(SweepError::Mismatch {
                dir: dir.display().to_string(),
                message: format!("{PRESENCE} is not a file meshsim wrote"),
            });
        }
        _ => {}
    }
    let presence = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&presence_path)
        .map_err(io(&presence_path))?;
    if presence.try_lock().is_ok() {
        clean_temporaries(dir)?;
        presence.unlock().map_err(io(&presence_path))?;
    }
    presence.lock_shared().map_err(io(&presence_path))?;
    marker.unlock().map_err(io(&marker_path))?;
    Ok(Hold { dir: dir.to_path_buf(), marker, presence })
}

impl Hold {
    /// Ends this process's stay: runs `last` (which writes the finished sweep's files, if it is
    /// finished) holding the folder's mutex, then removes leftover temporaries if this process is
    /// the last one in the folder.
    pub fn finish<T>(self, last: impl FnOnce() -> Result<T, SweepError>) -> Result<T, SweepError> {
        let Hold { dir, marker, presence } = self;
        marker.lock().map_err(io(&dir.join(MARKER)))?;
        let result = last();
        let _ = presence.unlock();
        let cleaned = if presence.try_lock().is_ok() { clean_temporaries(&dir) } else { Ok(()) };
        // The presence lock goes first: a process waiting for the mutex then finds it free.
        drop(presence);
        drop(marker);
        result.and_then(|r| cleaned.map(|()| r))
    }
}

/// The marker of `dir`, opened: creates the folder and its marker if needed, refuses a path
/// meshsim may not write to.
fn marked(dir: &Path, scenario: &str, guard: &Guard) -> Result<File, SweepError> {
    let marker_path = dir.join(MARKER);
    // Absent, then empty, then owned: three steps, each of which another process may have taken.
    for _ in 0..4 {
        match folder::inspect(dir, Kind::Sweep, guard)? {
            Existing::Absent => {
                if guard.creates_parent() {
                    let parent = folder::parent_of(dir);
                    fs::create_dir_all(parent).map_err(io(parent))?;
                }
                match fs::create_dir(dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(io(dir)(e)),
                    _ => {}
                }
            }
            Existing::Empty => match folder::publish_marker(dir, &Marker::new(Kind::Sweep, scenario), true) {
                Ok(_) => {}
                Err(_) if fs::symlink_metadata(&marker_path).is_ok_and(|m| m.is_file()) => {}
                Err(e) => return Err(io(&marker_path)(e)),
            },
            Existing::Owned(_) => {
                return OpenOptions::new().read(true).write(true).open(&marker_path).map_err(io(&marker_path));
            }
        }
    }
    Err(SweepError::Mismatch { dir: dir.display().to_string(), message: "changed while meshsim was opening it".into() })
}

/// Checks the sweep already in `dir` against `manifest` and writes the manifest and scenario.
/// Runs holding the folder's mutex.
fn prepare(dir: &Path, manifest: &Manifest, base_toml: &str, fresh: bool) -> Result<(), SweepError> {
    match Manifest::read(dir)? {
        Some(_) if fresh => discard(dir)?,
        Some(old) if (&old.spec_hash, &old.meshsim_version) != (&manifest.spec_hash, &manifest.meshsim_version) => {
            return Err(SweepError::Mismatch {
                dir: dir.display().to_string(),
                message: format!(
                    "it holds another sweep (spec {} by meshsim {}; this one is spec {} by meshsim {}); \
                     pass --fresh to discard it or choose another --out",
                    old.spec_hash, old.meshsim_version, manifest.spec_hash, manifest.meshsim_version
                ),
            });
        }
        _ => {}
    }
    let runs = dir.join(RUNS);
    match fs::symlink_metadata(&runs) {
        Ok(m) if m.is_dir() => {}
        Ok(m) => {
            return Err(SweepError::Mismatch {
                dir: dir.display().to_string(),
                message: format!("{RUNS} is {}, not a folder meshsim wrote", folder::what_is(&m)),
            });
        }
        Err(_) => match fs::create_dir(&runs) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(io(&runs)(e)),
            _ => {}
        },
    }
    write_if_changed(&dir.join(MANIFEST), &manifest.to_bytes())?;
    write_if_changed(&dir.join(SCENARIO), base_toml.as_bytes())
}

/// Whether `name` is a run file's (`r0000042.json`).
fn is_run_file(name: &str) -> bool {
    name.strip_prefix('r')
        .and_then(|n| n.strip_suffix(".json"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `name` is a temporary file of an atomic write (`.NAME.tmp-PID-N`).
fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Removes `path` if it is a file or a link (never what a link points to); leaves anything else.
fn remove_if_file(path: &Path) -> Result<(), SweepError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() || m.is_symlink() => match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Removes the run files, derived files and charts of a sweep folder; everything else stays,
/// including files the user put there. Runs holding the folder's mutex.
fn discard(dir: &Path) -> Result<(), SweepError> {
    let runs = dir.join(RUNS);
    if fs::symlink_metadata(&runs).is_ok_and(|m| m.is_dir()) {
        for e in fs::read_dir(&runs).map_err(io(&runs))? {
            let name = e.map_err(io(&runs))?.file_name();
            if name.to_str().is_some_and(|n| is_run_file(n) || is_temporary(n)) {
                remove_if_file(&runs.join(name))?;
            }
        }
    }
    for name in super::report::DERIVED_FILES {
        remove_if_file(&dir.join(name))?;
    }
    let charts = dir.join(super::report::CHARTS);
    if fs::symlink_metadata(&charts).is_ok_and(|m| m.is_dir()) {
        let (lock, marker) = folder::claim(&charts).ok_or_else(|| SweepError::Mismatch {
            dir: charts.display().to_string(),
            message: "it was not written by meshsim (or another meshsim is writing it); move it out of the way".into(),
        })?;
        let listed = |n: &std::ffi::OsStr| n.to_str().is_some_and(|n| marker.files.iter().any(|f| f == n));
        folder::remove_flat(&charts, &listed)?;
        drop(lock);
    }
    Ok(())
}

/// Removes the temporary files (`.NAME.tmp-PID-N`) in `dir` and `dir/runs`, and the staging
/// folders of `charts/` that a killed meshsim left. Only for a process alone in the folder (see
/// [`Hold`]); staging folders are removed only if their lock is free.
pub fn clean_temporaries(dir: &Path) -> Result<(), SweepError> {
    for d in [dir.to_path_buf(), dir.join(RUNS)] {
        if !fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        for e in fs::read_dir(&d).map_err(io(&d))? {
            let name = e.map_err(io(&d))?.file_name();
            if name.to_str().is_some_and(is_temporary) {
                remove_if_file(&d.join(name))?;
            }
        }
    }
    folder::clean_stale(&dir.join(super::report::CHARTS));
    Ok(())
}

/// Writes `bytes` to `path` through a temporary sibling and a rename, so readers never see a
/// half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let name = path.file_name().unwrap_or_default();
    let tmp = folder::parent_of(path).join(crate::output::file::temp_name(name));
    interrupt::add_file(&tmp);
    let result = crate::output::file::write_new(&tmp, bytes)
        .map_err(SweepError::from)
        .and_then(|()| fs::rename(&tmp, path).map_err(io(path)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    interrupt::remove(&tmp);
    result
}

/// [`write_atomic`] unless the file already holds exactly `bytes` (keeps timestamps of resumed
/// sweeps' unchanged files).
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    // Read through the bounded reader: a FIFO put in place of a table never blocks here, and a
    // file larger than the new bytes cannot be equal to them.
    let same =
        crate::input::read_bytes(path, bytes.len() as u64, "a table of this sweep").is_ok_and(|old| old == bytes);
    if same {
        return Ok(());
    }
    write_atomic(path, bytes)
}

/// An I/O error naming `path`.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    move |error| SweepError::Io { path: path.display().to_string(), error }
}

fn corrupt(path: &Path, message: String) -> SweepError {
    SweepError::Corrupt { path: path.display().to_string(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            meshsim_version: "0.1.0".into(),
            spec_hash: "00000000000000aa".into(),
            scenario: "s".into(),
            base_seed: 1,
            seeds: 2,
            axes: vec![ManifestAxis {
                name: "x".into(),
                path: "a.x".into(),
                values: vec!["1".into(), "\"2s\"".into()],
            }],
            n_points: 2,
            n_runs: 4,
            metrics: METRICS.iter().map(|m| m.name.to_string()).collect(),
            objective: ManifestObjective { metric: "errors".into(), goal: "minimize".into(), constraints: vec![] },
            pareto: vec![],
        }
    }

    #[test]
    fn run_files_round_trip_and_belong_to_their_sweep() {
        let tmp = crate::scratch::tempdir().unwrap();
        let dir = &tmp.path().join("sweep");
        let m = manifest();
        let _hold = open(dir, &m, "name = \"s\"\n", false, &Guard::new()).unwrap();
        let mut values = [Some(1.0); N_METRICS];
        values[3] = None;
        values[4] = Some(31.7);
        write_run(dir, &m, m.run(3), &RunMetrics(values)).unwrap();
        assert_eq!(read_run(dir, &m, 3).unwrap(), Some(RunMetrics(values)));
        assert_eq!(read_run(dir, &m, 2).unwrap(), None);
        assert_eq!(finished(dir, 4).unwrap(), vec![false, false, false, true]);
        // Run 3 is point 1, replicate 1, with the seed of replicate 1.
        assert_eq!(m.run(3), RunSpec { idx: 3, point: 1, replicate: 1, seed: run_seed(1, 1) });
        // The same file under another sweep's manifest is refused.
        let other = Manifest { spec_hash: "00000000000000bb".into(), ..manifest() };
        let err = read_run(dir, &other, 3).unwrap_err().to_string();
        assert!(err.contains("belongs to another sweep"), "{err}");
        // Axis values come back typed.
        assert_eq!(m.axes()[0].values, vec![toml::Value::Integer(1), toml::Value::String("2s".into())]);
    }

    #[test]
    fn temporaries_are_cleaned_and_other_files_kept() {
        let tmp = crate::scratch::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join(RUNS)).unwrap();
        std::fs::write(dir.join(".sweep.csv.tmp-12-0"), "x").unwrap();
        std::fs::write(dir.join(RUNS).join(".r0000001.json.tmp-12-3"), "x").unwrap();
        std::fs::write(dir.join(RUNS).join("r0000001.json"), "x").unwrap();
        // A staging folder of the charts left by a killed meshsim (its marker is not locked)...
        let stale = dir.join(".charts.partial-0");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join(MARKER), Marker::new(Kind::SweepCharts, "s").to_bytes()).unwrap();
        std::fs::write(stale.join("errors.png"), "x").unwrap();
        // ... and folders that are not meshsim's, or a temporary name on a folder.
        std::fs::create_dir_all(dir.join(".charts.partial-1")).unwrap();
        std::fs::create_dir_all(dir.join(".notes.tmp-1")).unwrap();
        clean_temporaries(dir).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.join(RUNS))
            .unwrap()
            .chain(std::fs::read_dir(dir).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".charts.partial-1", ".notes.tmp-1", "r0000001.json", RUNS]);
    }

    #[test]
    fn run_file_names_are_recognised() {
        assert!(is_run_file("r0000042.json"));
        assert!(!is_run_file("r.json") && !is_run_file("r12a.json") && !is_run_file("notes.json"));
    }
}
