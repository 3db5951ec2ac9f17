//! Parameter sweeps: many runs of one scenario across a grid of settings and seeds, in parallel,
//! summarized per point and ranked under an objective. `docs/sweeps.md` is the user's guide.
//!
//! The flow: a [`SweepSpec`] (from a sweep file or `--grid` arguments) expands into a [`Plan`]
//! whose points are all validated before anything runs; [`execute`] runs the plan's runs (or one
//! shard of them) with rayon, one single-threaded simulation per task, writing each run's metrics
//! to its own file as it finishes; when every run of the sweep has a file, [`report::finalize`]
//! derives the tables, summary and charts from those files alone. Because the derived files
//! depend only on the run files, and each run only on its scenario and seed, the output is the
//! same whatever the thread count, the sharding, or how often the sweep was interrupted.

pub mod axis;
mod charts;
pub mod metrics;
pub mod report;
pub mod select;
pub mod spec;
pub mod stats;
pub mod store;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use axis::Axis;
pub use metrics::{METRICS, RunMetrics};
pub use select::Objective;
pub use spec::{Plan, RunSpec, SweepSpec};
pub use store::Manifest;

/// Why a sweep could not be set up, run or merged. Every variant names the file, argument or run
/// concerned.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The sweep file or a `--grid`/`--shard` argument is malformed.
    #[error("{file}{}{field}: {message}", if field.is_empty() { "" } else { ": " })]
    Spec {
        /// The sweep file, or the option (`--grid`).
        file: String,
        /// The field or argument.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The base scenario could not be loaded.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// One point of the grid gives an invalid scenario.
    #[error("point {point} ({settings}): {error}")]
    Point {
        /// Point index.
        point: usize,
        /// Its axis values.
        settings: String,
        /// The validation error (shown in the message, so not a `source`).
        error: crate::scenario::ScenarioError,
    },
    /// A simulation stopped with an error.
    #[error("run {idx} (point {point}: {settings}; seed {seed}): {error}")]
    Run {
        /// Run index.
        idx: usize,
        /// Point index.
        point: usize,
        /// Its axis values.
        settings: String,
        /// The run's seed.
        seed: u64,
        /// The error (shown in the message, so not a `source`).
        error: crate::engine::SimError,
    },
    /// The output folder holds another sweep or foreign files.
    #[error("{dir}: {message}")]
    Mismatch {
        /// The folder.
        dir: String,
        /// What differs.
        message: String,
    },
    /// A sweep file in the output folder cannot be read back.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Runs are missing where a complete sweep is needed (merge).
    #[error("{dir}: {missing} of {total} runs are missing (first: {first:?}); run the missing shards and merge again")]
    Incomplete {
        /// The folder.
        dir: String,
        /// Number of missing runs.
        missing: usize,
        /// Runs in the sweep.
        total: usize,
        /// The first missing run indices.
        first: Vec<usize>,
    },
    /// An input file could not be read (it names the file).
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// The sweep would need more memory than `limits.max_memory`.
    #[error("{0}")]
    Memory(String),
    /// A file operation failed.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: String,
        /// The error (shown in the message, so not a `source`).
        error: std::io::Error,
    },
    /// A staged output folder could not be written.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// A chart could not be drawn.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
}

/// One slice of a sweep: the runs whose index is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, `0..count`.
    pub index: usize,
    /// Number of slices.
    pub count: usize,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with `I < N`.
    pub fn parse(text: &str) -> Result<Shard, SweepError> {
        let bad = |message: &str| SweepError::Spec {
            file: format!("--shard {text}"),
            field: String::new(),
            message: message.into(),
        };
        let (i, n) = text.split_once('/').ok_or_else(|| bad("expected I/N, e.g. 0/4"))?;
        let index: usize = i.trim().parse().map_err(|_| bad("I is not a number"))?;
        let count: usize = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if count == 0 || index >= count {
            return Err(bad("expected 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether run `idx` belongs to this shard. Interleaved, so that each shard gets a share of
    /// every region of the grid (and so of cheap and expensive runs alike).
    pub fn contains(&self, idx: usize) -> bool {
        idx % self.count == self.index
    }
}

/// How to execute a plan.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads; 0 lets rayon decide (`RAYON_NUM_THREADS` or the number of cores).
    pub jobs: usize,
    /// Which slice to run.
    pub shard: Shard,
    /// Discard a different or earlier sweep in the output folder instead of refusing.
    pub fresh: bool,
    /// Draw charts when the sweep is complete.
    pub charts: bool,
    /// Where the output folder may go (see [`crate::output::folder::inspect`]).
    pub guard: crate::output::Guard,
}

impl Default for Options {
    fn default() -> Self {
        Options { jobs: 0, shard: Shard::ALL, fresh: false, charts: true, guard: crate::output::Guard::new() }
    }
}

/// What [`execute`] reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Before any run: how many runs the shard has, how many were already done, how many remain.
    Start {
        /// Runs in this shard.
        in_shard: usize,
        /// Of which already finished (skipped).
        skipped: usize,
        /// Simulations run at once.
        jobs: usize,
        /// Whether `jobs` is below what was asked for, to stay within `limits.max_memory`.
        jobs_capped: bool,
    },
    /// A run finished.
    RunDone,
    /// All runs are done; the tables and charts are being written.
    Finalizing,
}

/// What [`execute`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Runs executed now.
    pub ran: usize,
    /// Runs skipped because their file existed.
    pub skipped: usize,
    /// Runs of the whole sweep with a file, after this execution.
    pub finished: usize,
    /// Runs in the whole sweep.
    pub total: usize,
    /// The summary text, when the sweep is complete.
    pub summary: Option<String>,
}

/// Runs the plan's runs in `opts.shard` that have no file in `dir` yet, writing each as it
/// finishes, then writes the derived files if the whole sweep is done. The first failing run (by
/// index) is returned as the error after all others have finished and been saved.
pub fn execute(
    plan: &Plan,
    dir: &Path,
    opts: &Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Outcome, SweepError> {
    let manifest = Manifest::of(plan);
    let requested = if opts.jobs == 0 { rayon::current_num_threads() } else { opts.jobs };
    let jobs = jobs_within_budget(plan, requested)?;
    let hold = store::open(dir, &manifest, &plan.base_toml, opts.fresh, &opts.guard)?;
    let done = store::finished(dir, plan.n_runs())?;
    // Runs are streamed by index, never listed: memory does not grow with the number of runs
    // beyond `done` (one byte each).
    let n_runs = plan.n_runs();
    let todo = |i: &usize| opts.shard.contains(*i) && !done[*i];
    let in_shard = (0..n_runs).filter(|&i| opts.shard.contains(i)).count();
    let n_todo = (0..n_runs).filter(todo).count();
    let skipped = in_shard - n_todo;
    progress(Progress::Start { in_shard, skipped, jobs, jobs_capped: jobs < requested });
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build().map_err(|e| SweepError::Spec {
        file: "--jobs".into(),
        field: jobs.to_string(),
        message: format!("cannot start the worker threads: {e}"),
    })?;
    let first_error: Option<(usize, SweepError)> = pool.install(|| {
        // One run per rayon task (`with_max_len(1)`). By default rayon cuts the range into about
        // two pieces per thread, and a piece that no idle thread stole before it started runs
        // to its end on one thread: when runs differ in cost (from point to point, or runs of a
        // resumed sweep skipped), one thread was left with a piece of many runs while the others
        // idled. A task costs microseconds; a run, milliseconds.
        (0..n_runs)
            .into_par_iter()
            .with_max_len(1)
            .filter(todo)
            .filter_map(|idx| {
                let r = plan.run(idx);
                let result = run_one(plan, r).and_then(|metrics| store::write_run(dir, &manifest, r, &metrics));
                progress(Progress::RunDone);
                result.err().map(|e| (idx, e))
            })
            .min_by_key(|(idx, _)| *idx)
    });
    if let Some((_, err)) = first_error {
        return Err(err);
    }
    hold.finish(|| complete(dir, &manifest, n_todo, skipped, opts.charts, progress))
}

/// Bytes of a sweep's tables per run (its metrics read back, `sweep.csv` row, finished flag) and
/// per point (statistics, `points.csv` row, chart data): see [`crate::scenario::budget`].
const TABLE_BYTES_PER_RUN: u64 = 640;
const TABLE_BYTES_PER_POINT: u64 = 2048;

/// How many simulations may run at once within the sweep's memory budget (`limits.max_memory`,
/// the smallest over its points): at most `requested`, at least one; an error when even one
/// run next to the tables does not fit.
pub fn jobs_within_budget(plan: &Plan, requested: usize) -> Result<usize, SweepError> {
    use crate::input::human_bytes;
    use crate::scenario::budget::BASE;
    let tables = (plan.n_runs() as u64)
        .saturating_mul(TABLE_BYTES_PER_RUN)
        .saturating_add((plan.n_points as u64).saturating_mul(TABLE_BYTES_PER_POINT));
    let per_run = plan.run_bytes.saturating_sub(BASE);
    let room = plan.max_memory.saturating_sub(BASE).saturating_sub(tables);
    if per_run > room {
        return Err(SweepError::Memory(format!(
            "the sweep would need about {} of memory (its tables: {} runs and {} points, {}; one run: {}), \
             more than limits.max_memory = {}; sweep fewer points or seeds, or raise limits.max_memory \
             (e.g. with --set limits.max_memory=8GiB) if the machine has the memory",
            human_bytes(BASE.saturating_add(tables).saturating_add(per_run)),
            plan.n_runs(),
            plan.n_points,
            human_bytes(tables),
            human_bytes(plan.run_bytes),
            human_bytes(plan.max_memory),
        )));
    }
    let fit = room.checked_div(per_run).map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok(requested.clamp(1, fit.max(1)))
}

/// Runs one simulation and measures it.
pub fn run_one(plan: &Plan, r: RunSpec) -> Result<RunMetrics, SweepError> {
    let scenario = plan.point(r.point)?;
    let out = crate::model::run(scenario, r.seed).map_err(|error| SweepError::Run {
        idx: r.idx,
        point: r.point,
        settings: plan.settings(r.point),
        seed: r.seed,
        error,
    })?;
    // Only the totals: a whole report's series, phases and histograms are not metrics.
    let totals = crate::metrics::report::totals(&out.world);
    Ok(metrics::measure(&out, &totals))
}

/// Finalizes `dir` if every run has a file. Runs holding the folder's mutex ([`store::Hold`]).
fn complete(
    dir: &Path,
    m: &Manifest,
    ran: usize,
    skipped: usize,
    charts: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Outcome, SweepError> {
    let finished = store::finished(dir, m.n_runs)?.iter().filter(|d| **d).count();
    let summary = if finished == m.n_runs {
        progress(Progress::Finalizing);
        Some(report::finalize(dir, m, charts)?)
    } else {
        None
    };
    Ok(Outcome { ran, skipped, finished, total: m.n_runs, summary })
}

/// Combines the run files of sweep folders (shards) into `out` and writes the derived files,
/// exactly as one machine running the whole sweep into `out` would. The inputs must hold the same
/// sweep (same manifest); `out` may be one of them. Errors if runs are still missing after the
/// merge (the runs found are kept in `out`), or if two inputs disagree on a run's result. `out`
/// follows the rules of every sweep folder (`guard`, [`crate::output::folder::inspect`]).
pub fn merge(
    inputs: &[PathBuf],
    out: &Path,
    charts: bool,
    guard: &crate::output::Guard,
) -> Result<Outcome, SweepError> {
    let first = inputs.first().ok_or_else(|| SweepError::Spec {
        file: "merge".into(),
        field: "DIR".into(),
        message: "give at least one sweep folder".into(),
    })?;
    let read_manifest = |d: &Path| -> Result<(Manifest, Vec<u8>), SweepError> {
        let m = Manifest::read(d)?.ok_or_else(|| SweepError::Mismatch {
            dir: d.display().to_string(),
            message: "holds no sweep manifest.json".into(),
        })?;
        let scenario = crate::input::read_bytes(
            &d.join(store::SCENARIO),
            crate::input::SWEEP_STATE_CAP,
            "the expanded scenario of a sweep folder",
        )?;
        Ok((m, scenario))
    };
    let (manifest, scenario) = read_manifest(first)?;
    for d in &inputs[1..] {
        let (m, s) = read_manifest(d)?;
        if m != manifest || s != scenario {
            return Err(SweepError::Mismatch {
                dir: d.display().to_string(),
                message: format!("its sweep differs from the one in {} (manifest or scenario.toml)", first.display()),
            });
        }
    }
    let base_toml = String::from_utf8_lossy(&scenario).into_owned();
    let hold = store::open(out, &manifest, &base_toml, false, guard)?;
    let mut have = store::finished(out, manifest.n_runs)?;
    for d in inputs {
        let theirs = store::finished(d, manifest.n_runs)?;
        for idx in (0..manifest.n_runs).filter(|&i| theirs[i]) {
            let src = store::run_path(d, idx);
            let bytes = store::read_run_bytes(&src)?;
            let dst = store::run_path(out, idx);
            if have[idx] {
                if store::read_run_bytes(&dst)? != bytes {
                    return Err(SweepError::Corrupt {
                        path: src.display().to_string(),
                        message: format!("differs from {}: the same run gave two results", dst.display()),
                    });
                }
                continue;
            }
            store::read_run(d, &manifest, idx)?;
            store::write_atomic(&dst, &bytes)?;
            have[idx] = true;
        }
    }
    let missing: Vec<usize> = (0..manifest.n_runs).filter(|&i| !have[i]).collect();
    if !missing.is_empty() {
        return Err(SweepError::Incomplete {
            dir: out.display().to_string(),
            missing: missing.len(),
            total: manifest.n_runs,
            first: missing.into_iter().take(5).collect(),
        });
    }
    hold.finish(|| complete(out, &manifest, 0, 0, charts, &|_| {}))
}
