//! What a sweep is: the scenario, fixed overrides, axes, seeds and objective, read from a sweep
//! file (strict TOML) or from `--grid` arguments; and its expansion into a [`Plan`] of validated
//! points and runs.
//!
//! Points are the Cartesian product of the axes, the first axis varying slowest. Run `idx` is
//! point `idx / seeds`, replicate `idx % seeds`. Every point uses the same seeds ("common random
//! numbers"): replicate `r` runs with seed [`run_seed`]`(base_seed, r)` whatever the point, so
//! differences between points come from the settings, not from luck of the draw.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Value;

use super::SweepError;
use super::axis::{self, Axis};
use super::select::Objective;
use crate::engine::rng::mix64;
use crate::scenario::{self, Scenario, overrides};

/// Most runs one sweep may have.
pub const RUNS_MAX: usize = 10_000_000;

/// Seeds per point when neither the sweep file nor `--seeds` says.
pub const SEEDS_DEFAULT: u32 = 10;

/// A sweep before expansion.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// Name of the sweep (the sweep file's stem, or `sweep-<scenario stem>`); default output folder
    /// `output/sweeps/<name>`.
    pub name: String,
    /// The scenario file.
    pub scenario: PathBuf,
    /// Fixed `PATH=VALUE` overrides applied before the axes.
    pub sets: Vec<String>,
    /// The swept parameters.
    pub axes: Vec<Axis>,
    /// Runs per point.
    pub seeds: u32,
    /// Seed the per-run seeds derive from (default: the scenario's `seed`).
    pub base_seed: Option<u64>,
    /// What "best" means.
    pub objective: Objective,
    /// Pairs of metrics whose Pareto fronts are reported.
    pub pareto: Vec<(usize, usize)>,
}

/// The seed of replicate `replicate` of every point: `mix64(base_seed XOR mix64(replicate))`.
pub fn run_seed(base_seed: u64, replicate: u32) -> u64 {
    mix64(base_seed ^ mix64(u64::from(replicate)))
}

/// The sweep file as written (`deny_unknown_fields` everywhere).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    /// The scenario, relative to the sweep file.
    scenario: String,
    /// Free text.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    /// Fixed overrides.
    #[serde(default)]
    set: Vec<String>,
    /// Runs per point.
    #[serde(default)]
    seeds: Option<u32>,
    /// Base seed.
    #[serde(default)]
    base_seed: Option<u64>,
    /// The swept parameters.
    axes: Vec<RawAxis>,
    /// What "best" means.
    #[serde(default)]
    objective: Option<RawObjective>,
    /// Metric pairs for Pareto fronts.
    #[serde(default)]
    pareto: Option<Vec<[String; 2]>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAxis {
    path: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    values: Option<Vec<Value>>,
    #[serde(default)]
    range: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    metric: String,
    #[serde(default)]
    goal: Option<String>,
    #[serde(default)]
    constraints: Vec<String>,
}

/// The default Pareto fronts: errors against false ejections, and errors against fail-back time.
pub fn default_pareto() -> Vec<(usize, usize)> {
    vec![(0, 5), (0, 4)]
}

impl SweepSpec {
    /// A sweep of `scenario` over `--grid PATH=VALUES` arguments.
    pub fn from_grid(scenario: &Path, grids: &[String]) -> Result<SweepSpec, SweepError> {
        let stem = scenario.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "sweep".into());
        let mut spec = SweepSpec {
            name: format!("sweep-{stem}"),
            scenario: scenario.to_path_buf(),
            sets: Vec::new(),
            axes: Vec::new(),
            seeds: SEEDS_DEFAULT,
            base_seed: None,
            objective: Objective::default(),
            pareto: default_pareto(),
        };
        spec.add_grids(grids)?;
        Ok(spec)
    }

    /// Adds axes from `--grid PATH=VALUES` arguments.
    pub fn add_grids(&mut self, grids: &[String]) -> Result<(), SweepError> {
        for g in grids {
            let bad = |message: String| SweepError::Spec { file: format!("--grid {g}"), field: String::new(), message };
            let (path, values) = g.split_once('=').ok_or_else(|| bad("expected PATH=V1,V2,... or PATH=A..B".into()))?;
            let path = path.trim();
            overrides::check_path(path).map_err(bad)?;
            let values = axis::parse_values(values).map_err(bad)?;
            self.axes.push(Axis { name: axis::default_name(path), path: path.to_string(), values });
        }
        self.dedup_names();
        Ok(())
    }

    /// Reads a sweep file.
    pub fn from_file(path: &Path) -> Result<SweepSpec, SweepError> {
        let text = crate::input::read_text(path, crate::input::TEXT_CAP, "a sweep file (TOML)")?;
        Self::from_text(&text, path)
    }

    /// Parses a sweep file's text; `path` names it in errors and anchors the scenario path.
    pub fn from_text(text: &str, path: &Path) -> Result<SweepSpec, SweepError> {
        let file = path.display().to_string();
        let field =
            |field: &str, message: String| SweepError::Spec { file: file.clone(), field: field.into(), message };
        let raw: RawSweep = toml::from_str(text).map_err(|e: toml::de::Error| {
            let span = e.span().map(|s| line_of(text, s.start)).map_or(String::new(), |l| format!("line {l}"));
            field(if span.is_empty() { "(top level)" } else { &span }, e.message().to_string())
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut axes = Vec::new();
        for (i, a) in raw.axes.iter().enumerate() {
            let at = |f: &str| format!("axes[{i}]{f}");
            overrides::check_path(&a.path).map_err(|m| field(&at(".path"), m))?;
            let values = match (&a.values, &a.range) {
                (Some(v), None) => {
                    axis::check_values(v).map_err(|m| field(&at(".values"), m))?;
                    v.clone()
                }
                (None, Some(r)) => axis::parse_range(r)
                    .and_then(|v| axis::check_values(&v).map(|()| v))
                    .map_err(|m| field(&at(".range"), m))?,
                _ => return Err(field(&at(""), "give exactly one of `values` or `range`".into())),
            };
            let name = a.name.clone().unwrap_or_else(|| axis::default_name(&a.path));
            axes.push(Axis { name, path: a.path.clone(), values });
        }
        let objective = match &raw.objective {
            None => Objective::default(),
            Some(o) => Objective::new(&o.metric, o.goal.as_deref().unwrap_or("minimize"), &o.constraints)
                .map_err(|m| field("objective", m))?,
        };
        let pareto = match &raw.pareto {
            None => default_pareto(),
            Some(pairs) => pairs
                .iter()
                .enumerate()
                .map(|(i, [x, y])| {
                    let m = |n: &str| {
                        super::metrics::metric_index(n).ok_or_else(|| {
                            field(
                                &format!("pareto[{i}]"),
                                format!("`{n}` is not a metric; the metrics are {}", super::metrics::metric_names()),
                            )
                        })
                    };
                    Ok((m(x)?, m(y)?))
                })
                .collect::<Result<_, SweepError>>()?,
        };
        let spec = SweepSpec {
            name: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "sweep".into()),
            scenario: base.join(&raw.scenario),
            sets: raw.set,
            axes,
            seeds: raw.seeds.unwrap_or(SEEDS_DEFAULT),
            base_seed: raw.base_seed,
            objective,
            pareto,
        };
        spec.check(&file)?;
        Ok(spec)
    }

    /// Checks the parts that need no scenario: seeds, axes present and distinct, run count.
    pub fn check(&self, file: &str) -> Result<(), SweepError> {
        let field = |field: &str, message: String| SweepError::Spec { file: file.into(), field: field.into(), message };
        if self.seeds == 0 {
            return Err(field("seeds", "must be at least 1".into()));
        }
        if self.axes.is_empty() {
            return Err(field("axes", "give at least one axis (--grid PATH=V1,V2,... or [[axes]])".into()));
        }
        for (i, a) in self.axes.iter().enumerate() {
            if let Some(j) = self.axes[..i].iter().position(|b| b.path == a.path) {
                return Err(field(&format!("axes[{i}]"), format!("path `{}` is already swept by axes[{j}]", a.path)));
            }
            if let Some(j) = self.axes[..i].iter().position(|b| b.name == a.name) {
                return Err(field(
                    &format!("axes[{i}].name"),
                    format!("`{}` is already the name of axes[{j}]", a.name),
                ));
            }
            if let Some(s) = self.sets.iter().find(|s| s.split_once('=').is_some_and(|(p, _)| p.trim() == a.path)) {
                return Err(field(&format!("axes[{i}]"), format!("`{}` is both swept and set by `{s}`", a.path)));
            }
        }
        let runs = self.axes.iter().try_fold(self.seeds as usize, |n, a| n.checked_mul(a.values.len()));
        if runs.is_none_or(|n| n > RUNS_MAX) {
            return Err(field("axes", format!("the sweep has more than {RUNS_MAX} runs")));
        }
        Ok(())
    }

    /// Gives axes whose default names collide their full paths as names.
    fn dedup_names(&mut self) {
        let names: Vec<String> = self.axes.iter().map(|a| a.name.clone()).collect();
        for a in &mut self.axes {
            if names.iter().filter(|n| **n == a.name).count() > 1 {
                a.name = a.path.clone();
            }
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// One simulation of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSpec {
    /// Run index: `point * seeds + replicate`.
    pub idx: usize,
    /// Point index.
    pub point: usize,
    /// Replicate index (which seed).
    pub replicate: u32,
    /// The run's seed.
    pub seed: u64,
}

/// A sweep expanded and validated: every point's scenario is built and checked before any run
/// starts, then dropped; a run builds its point's scenario again from the base tree. So the plan
/// holds the same few kilobytes whatever the number of points.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The spec it was expanded from.
    pub spec: SweepSpec,
    /// The base seed in effect.
    pub base_seed: u64,
    /// The scenario with fixed overrides applied and manifests spliced in, as TOML.
    pub base_toml: String,
    /// Hash of everything that decides the runs' results (see [`Plan::spec_hash`]).
    pub spec_hash: String,
    /// Number of points (the product of the axes' lengths).
    pub n_points: usize,
    /// The scenario's `name` (the same for every point: `name` cannot be swept).
    pub scenario_name: String,
    /// The largest memory estimate of one run over all points (see [`crate::scenario::budget`]).
    pub run_bytes: u64,
    /// The smallest `limits.max_memory` over all points: the sweep's memory budget.
    pub max_memory: u64,
    /// The base scenario tree the points are built from.
    tree: Value,
    /// The scenario file, for error messages.
    file: String,
}

impl Plan {
    /// Reads the scenario, applies the fixed overrides, and builds and validates every point (in
    /// parallel, keeping only the first error by point index and the largest memory estimate).
    pub fn new(spec: SweepSpec) -> Result<Plan, SweepError> {
        use rayon::prelude::*;
        spec.check(&spec.scenario.display().to_string())?;
        let file = spec.scenario.display().to_string();
        let text = crate::input::read_text(&spec.scenario, crate::input::TEXT_CAP, "a scenario file (TOML)")
            .map_err(|error| scenario::ScenarioError::Read { error, context: "the sweep's scenario".into() })?;
        let base_dir = spec.scenario.parent().map(Path::to_path_buf).unwrap_or_default();
        let tree = scenario::load_tree(&text, &file, &base_dir, &spec.sets)?;
        let base_toml = toml::to_string(&tree).map_err(|e| SweepError::Spec {
            file: file.clone(),
            field: "(top level)".into(),
            message: format!("cannot write the expanded scenario back as TOML: {e}"),
        })?;
        let n_points: usize = spec.axes.iter().map(|a| a.values.len()).product();
        let mut plan = Plan {
            spec,
            base_seed: 0,
            base_toml,
            spec_hash: String::new(),
            n_points,
            scenario_name: String::new(),
            run_bytes: 0,
            max_memory: u64::MAX,
            tree,
            file,
        };
        // Point 0 whole, with its variants: a scenario whose `[[expect]] set` is invalid is
        // refused as `meshsim check` would; the other points are checked for their runs only.
        let first = scenario::from_tree(plan.point_tree(0)?, &plan.file).map_err(|e| plan.point_error(0, e))?;
        let checked = (0..n_points)
            .into_par_iter()
            .map(|p| plan.point(p).map(|s| (crate::scenario::budget::estimate(&s).total(), s.max_memory)))
            .try_reduce(|| (0, u64::MAX), |a, b| Ok((a.0.max(b.0), a.1.min(b.1))));
        // `try_reduce` stops at some error, not necessarily the first: find the first in order.
        let (run_bytes, max_memory) = match checked {
            Ok(v) => v,
            Err(_) => {
                let first_bad = (0..n_points).find_map(|p| plan.point(p).err());
                return Err(first_bad.expect("some point failed"));
            }
        };
        plan.base_seed = plan.spec.base_seed.unwrap_or(first.seed);
        plan.spec_hash = spec_hash(&plan.spec, plan.base_seed, &plan.base_toml);
        plan.scenario_name = first.name.clone();
        plan.run_bytes = run_bytes;
        plan.max_memory = max_memory;
        Ok(plan)
    }

    /// Point `p`'s tree: the base tree with the axes' values set.
    fn point_tree(&self, p: usize) -> Result<Value, SweepError> {
        let coords = coords_of(&self.spec.axes, p);
        let mut t = self.tree.clone();
        for (a, &c) in self.spec.axes.iter().zip(&coords) {
            overrides::set(&mut t, &a.path, a.values[c].clone()).map_err(|message| SweepError::Point {
                point: p,
                settings: settings_text(&self.spec.axes, &coords),
                error: scenario::ScenarioError::Override { assignment: a.path.clone(), message },
            })?;
        }
        Ok(t)
    }

    /// Builds point `p`'s scenario for its runs (see [`scenario::from_tree_for_runs`]: the
    /// variants of `[[expect]]` tables with `set` are left out, a sweep measures no expectation;
    /// [`Plan::new`] checks them on point 0).
    pub fn point(&self, p: usize) -> Result<Arc<Scenario>, SweepError> {
        let t = self.point_tree(p)?;
        let s = scenario::from_tree_for_runs(t, &self.file).map_err(|error| self.point_error(p, error))?;
        Ok(Arc::new(s))
    }

    fn point_error(&self, p: usize, error: scenario::ScenarioError) -> SweepError {
        SweepError::Point { point: p, settings: self.settings(p), error }
    }

    /// Number of runs.
    pub fn n_runs(&self) -> usize {
        self.n_points * self.spec.seeds as usize
    }

    /// Run `idx`.
    pub fn run(&self, idx: usize) -> RunSpec {
        let seeds = self.spec.seeds as usize;
        let replicate = (idx % seeds) as u32;
        RunSpec { idx, point: idx / seeds, replicate, seed: run_seed(self.base_seed, replicate) }
    }

    /// `name=value` for each axis of a point.
    pub fn settings(&self, point: usize) -> String {
        settings_text(&self.spec.axes, &coords_of(&self.spec.axes, point))
    }
}

/// The value index on each axis of point `p` (first axis slowest).
pub fn coords_of(axes: &[Axis], mut p: usize) -> Vec<usize> {
    let mut coords = vec![0; axes.len()];
    for (i, a) in axes.iter().enumerate().rev() {
        coords[i] = p % a.values.len();
        p /= a.values.len();
    }
    coords
}

fn settings_text(axes: &[Axis], coords: &[usize]) -> String {
    axes.iter()
        .zip(coords)
        .map(|(a, &c)| format!("{}={}", a.name, Axis::display(&a.values[c])))
        .collect::<Vec<_>>()
        .join(", ")
}

/// FNV-1a (64 bit) of the text that decides a sweep's results and tables: the meshsim version,
/// base seed, seeds, axes (names, paths, values) and the expanded scenario. The objective is left
/// out: changing it re-ranks finished runs without running them again.
pub fn spec_hash(spec: &SweepSpec, base_seed: u64, base_toml: &str) -> String {
    let mut text = format!("meshsim {}\nbase_seed {base_seed}\nseeds {}\n", env!("CARGO_PKG_VERSION"), spec.seeds);
    for a in &spec.axes {
        let values: Vec<String> = a.values.iter().map(Value::to_string).collect();
        text.push_str(&format!("axis {} {} [{}]\n", a.name, a.path, values.join(", ")));
    }
    text.push_str(base_toml);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<SweepSpec, SweepError> {
        SweepSpec::from_text(text, Path::new("scenarios/sweeps/x.toml"))
    }

    const OD: &str = "policy.destination_rule.trafficPolicy.outlierDetection";

    #[test]
    fn seeds_are_common_to_all_points() {
        assert_eq!(run_seed(7, 3), mix64(7 ^ mix64(3)));
        assert_ne!(run_seed(7, 3), run_seed(7, 4));
        assert_ne!(run_seed(7, 3), run_seed(8, 3));
    }

    #[test]
    fn coordinates_put_the_first_axis_slowest() {
        let ax = |n: usize| Axis { name: "a".into(), path: "a".into(), values: vec![Value::Integer(0); n] };
        let axes = vec![ax(2), ax(3)];
        assert_eq!(coords_of(&axes, 0), vec![0, 0]);
        assert_eq!(coords_of(&axes, 1), vec![0, 1]);
        assert_eq!(coords_of(&axes, 3), vec![1, 0]);
        assert_eq!(coords_of(&axes, 5), vec![1, 2]);
    }

    #[test]
    fn a_sweep_file_reads_axes_objective_and_pareto() {
        let spec = file(&format!(
            r#"scenario = "../seed-failover-503.toml"
seeds = 4
base_seed = 9
set = ["duration=30s"]
[[axes]]
path = "{OD}.consecutive5xxErrors"
range = "1..5 step 2"
[[axes]]
path = "{OD}.baseEjectionTime"
name = "base"
values = ["10s", "30s"]
[objective]
metric = "errors"
constraints = ["false_ejections == 0"]
pareto = [["errors", "panic_s"]]
"#
        ))
        .unwrap_err();
        // `pareto` after [objective] belongs to the objective table, which has no such key.
        assert!(spec.to_string().contains("unknown field `pareto`"), "{spec}");
        let spec = file(&format!(
            r#"scenario = "../seed-failover-503.toml"
seeds = 4
base_seed = 9
set = ["duration=30s"]
pareto = [["errors", "panic_s"]]
[[axes]]
path = "{OD}.consecutive5xxErrors"
range = "1..5 step 2"
[[axes]]
path = "{OD}.baseEjectionTime"
name = "base"
values = ["10s", "30s"]
[objective]
metric = "errors"
constraints = ["false_ejections == 0"]
"#
        ))
        .unwrap();
        assert_eq!(spec.name, "x");
        assert_eq!(spec.scenario, Path::new("scenarios/sweeps/../seed-failover-503.toml"));
        assert_eq!((spec.seeds, spec.base_seed), (4, Some(9)));
        assert_eq!(spec.axes[0].name, "consecutive5xxErrors");
        assert_eq!(spec.axes[0].values, vec![Value::Integer(1), Value::Integer(3), Value::Integer(5)]);
        assert_eq!(spec.axes[1].name, "base");
        assert_eq!(spec.pareto, vec![(0, 8)]);
        assert_eq!(spec.objective.constraints.len(), 1);
    }

    #[test]
    fn sweep_files_are_strict() {
        let base = format!("scenario = \"s.toml\"\n[[axes]]\npath = \"{OD}.interval\"\nvalues = [\"1s\"]\n");
        let err = file(&format!("{base}bogus = 1\n")).unwrap_err().to_string();
        assert!(err.contains("unknown field `bogus`"), "{err}");
        let err = file(&format!("{base}range = \"1..2\"\n")).unwrap_err().to_string();
        assert!(err.contains("axes[0]: give exactly one of `values` or `range`"), "{err}");
        let err = file(&format!("{base}[objective]\nmetric = \"speed\"\n")).unwrap_err().to_string();
        assert!(err.contains("objective: `speed` is not a metric"), "{err}");
        let err = file(&format!("seeds = 0\n{base}")).unwrap_err().to_string();
        assert!(err.contains("seeds: must be at least 1"), "{err}");
        let err =
            file(&format!("{base}[[axes]]\npath = \"{OD}.interval\"\nvalues = [\"2s\"]\n")).unwrap_err().to_string();
        assert!(err.contains("already swept by axes[0]"), "{err}");
        let err = file(&format!("set = [\"{OD}.interval=3s\"]\n{base}")).unwrap_err().to_string();
        assert!(err.contains("both swept and set"), "{err}");
    }

    #[test]
    fn grid_arguments_name_their_errors() {
        let err = SweepSpec::from_grid(Path::new("s.toml"), &["a.b".into()]).unwrap_err().to_string();
        assert!(err.starts_with("--grid a.b: expected PATH="), "{err}");
        let err = SweepSpec::from_grid(Path::new("s.toml"), &["a.b=3..1".into()]).unwrap_err().to_string();
        assert!(err.contains("must not exceed"), "{err}");
        let spec = SweepSpec::from_grid(Path::new("s.toml"), &["faults[0].at=1s,2s".into(), "faults[1].at=3s".into()])
            .unwrap();
        assert_eq!(spec.axes[0].name, "faults[0].at", "colliding default names fall back to paths");
        assert_eq!(spec.name, "sweep-s");
    }
}
