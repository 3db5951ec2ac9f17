//! The sweep folder on disk: the manifest, the expanded scenario, one small file per finished run,
//! and atomic writes. Everything a finished sweep shows is derived from these files alone, so a
//! resumed sweep, a merge of shards and an uninterrupted sweep end with the same bytes.
//!
//! ```text
//! OUT/manifest.json      what the sweep is (spec hash, axes, seeds, objective); written first
//! OUT/scenario.toml      the scenario with fixed overrides and manifests spliced in
//! OUT/runs/r0000042.json one finished run: its index, seed and metrics
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SweepError;
use super::axis::Axis;
use super::metrics::{METRICS, N_METRICS, RunMetrics};
use super::select::Objective;
use super::spec::{Plan, RunSpec, run_seed};
use crate::scenario::overrides::parse_value;

/// File name of the manifest.
pub const MANIFEST: &str = "manifest.json";
/// File name of the expanded scenario.
pub const SCENARIO: &str = "scenario.toml";
/// Folder of the run files.
pub const RUNS: &str = "runs";

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
            scenario: plan.points[0].scenario.name.clone(),
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
            n_points: plan.points.len(),
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
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| corrupt(&path, e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io(&path)(source)),
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
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io(&path)(source)),
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

/// Prepares `dir` for `manifest`: creates it, or checks that the sweep already in it is the same
/// one (`fresh` discards a different or finished one instead). Writes the manifest and scenario.
pub fn prepare(dir: &Path, manifest: &Manifest, base_toml: &str, fresh: bool) -> Result<(), SweepError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    match Manifest::read(dir)? {
        Some(old)
            if fresh || (&old.spec_hash, &old.meshsim_version) == (&manifest.spec_hash, &manifest.meshsim_version) =>
        {
            if fresh {
                discard(dir)?;
            }
        }
        Some(old) => {
            return Err(SweepError::Mismatch {
                dir: dir.display().to_string(),
                message: format!(
                    "it holds another sweep (spec {} by meshsim {}; this one is spec {} by meshsim {}); \
                     pass --fresh to discard it or choose another --out",
                    old.spec_hash, old.meshsim_version, manifest.spec_hash, manifest.meshsim_version
                ),
            });
        }
        None => {
            if fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
                return Err(SweepError::Mismatch {
                    dir: dir.display().to_string(),
                    message: "it is not empty and holds no sweep manifest.json; choose another --out".into(),
                });
            }
        }
    }
    fs::create_dir_all(dir.join(RUNS)).map_err(io(dir))?;
    clean_temporaries(dir)?;
    write_if_changed(&dir.join(MANIFEST), &manifest.to_bytes())?;
    write_if_changed(&dir.join(SCENARIO), base_toml.as_bytes())
}

/// Removes the run files and derived files of a sweep folder (its other files stay).
fn discard(dir: &Path) -> Result<(), SweepError> {
    let runs = dir.join(RUNS);
    fs::remove_dir_all(&runs).map_err(io(&runs))?;
    fs::create_dir_all(&runs).map_err(io(&runs))?;
    for name in super::report::DERIVED_FILES.iter().chain([&super::report::CHARTS]) {
        let p = dir.join(name);
        if p.is_dir() {
            fs::remove_dir_all(&p).map_err(io(&p))?;
        } else if p.exists() {
            fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    Ok(())
}

/// Removes temporary files and folders a killed sweep may have left (`.NAME.tmp-PID`,
/// `.charts.partial-N`) in `dir` and `dir/runs`.
pub fn clean_temporaries(dir: &Path) -> Result<(), SweepError> {
    for d in [dir.to_path_buf(), dir.join(RUNS)] {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && (name.contains(".tmp-") || name.contains(".partial-")) {
                let p = e.path();
                let r = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
                r.map_err(io(&p))?;
            }
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary sibling and a rename, so readers never see a
/// half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        io(path)(source)
    })
}

/// [`write_atomic`] unless the file already holds exactly `bytes` (keeps timestamps of resumed
/// sweeps' unchanged files).
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
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
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let m = manifest();
        prepare(dir, &m, "name = \"s\"\n", false).unwrap();
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
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join(RUNS)).unwrap();
        std::fs::write(dir.join(".sweep.csv.tmp-12"), "x").unwrap();
        std::fs::write(dir.join(RUNS).join(".r0000001.json.tmp-12"), "x").unwrap();
        std::fs::create_dir_all(dir.join(".charts.partial-0")).unwrap();
        std::fs::write(dir.join(RUNS).join("r0000001.json"), "x").unwrap();
        clean_temporaries(dir).unwrap();
        let left: Vec<String> = std::fs::read_dir(dir.join(RUNS))
            .unwrap()
            .chain(std::fs::read_dir(dir).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.contains(&"r0000001.json".to_string()) && left.contains(&RUNS.to_string()));
    }
}
