//! Running one case in process, as `meshsim run` would (load, validate, run, report, render the
//! tables and chart data, check expectations, lint, sometimes `explain`), with caps that keep a
//! case near a millisecond; and writing a case out as files for the real binary.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use meshsim::engine::SimTime;
use meshsim::scenario::overrides::{get_path, set_path};
use toml::Value;

use crate::mutate::{Case, Corpus};

/// The budget a case runs under: small, so a case that passes it cannot take much time or
/// memory, and the estimate's soundness is tested at a scale the harness can afford.
pub const MAX_MEMORY: &str = "256MiB";
/// Events a case may process.
pub const MAX_EVENTS: i64 = 30_000;
/// Requests per second a workload may keep (mutated rates above are lowered to this).
pub const MAX_RATE: f64 = 20.0;

/// A folder mirroring `scenarios/` (its manifests), where a case's mutated manifests are written
/// for the length of the case.
pub struct Scratch {
    /// The folder.
    pub dir: PathBuf,
}

impl Scratch {
    /// Creates `dir` with a copy of every corpus manifest.
    pub fn new(dir: PathBuf, corpus: &Corpus) -> Scratch {
        for m in &corpus.manifests {
            let p = dir.join(&m.rel);
            std::fs::create_dir_all(p.parent().expect("a manifest has a folder")).expect("scratch folder");
            std::fs::write(&p, &m.text).expect("scratch manifest");
        }
        Scratch { dir }
    }

    /// Writes the case's mutated manifests; returns the ones to restore.
    fn apply(&self, corpus: &Corpus, case: &Case) -> Vec<usize> {
        for (m, text) in &case.manifests {
            std::fs::write(self.dir.join(&corpus.manifests[*m].rel), text).expect("scratch manifest");
        }
        case.manifests.iter().map(|(m, _)| *m).collect()
    }

    fn restore(&self, corpus: &Corpus, which: &[usize]) {
        for m in which {
            std::fs::write(self.dir.join(&corpus.manifests[*m].rel), &corpus.manifests[*m].text)
                .expect("scratch manifest");
        }
    }
}

/// How a case ended when it did not panic: as `meshsim run` exits 0, or 2 with this message.
pub enum Verdict {
    /// Ran and reported.
    Ran,
    /// Refused or stopped with an error (exit 2).
    Refused(String),
}

/// The scenario tree of a case with the harness's caps, or the loader's error.
pub fn capped_tree(case: &Case, dir: &Path) -> Result<Value, String> {
    let mut tree = meshsim::scenario::load_tree(&case.text, "case.toml", dir, &[]).map_err(|e| e.to_string())?;
    cap(&mut tree);
    Ok(tree)
}

/// Lowers the limits and the arrival rates (only numbers above the caps: a mutated rate of NaN,
/// -1 or a string is left for validation to judge).
fn cap(tree: &mut Value) {
    let _ = set_path(tree, "limits.max_memory", Value::String(MAX_MEMORY.into()));
    let events = get_path(tree, "limits.max_events").and_then(Value::as_integer);
    if events.is_none_or(|n| n > MAX_EVENTS) {
        let _ = set_path(tree, "limits.max_events", Value::Integer(MAX_EVENTS));
    }
    let n_workloads = get_path(tree, "workload").and_then(Value::as_array).map_or(0, Vec::len);
    for i in 0..n_workloads {
        lower_rate(tree, &format!("workload[{i}].rate"));
        let n_changes =
            get_path(tree, &format!("workload[{i}].rate_changes")).and_then(Value::as_array).map_or(0, Vec::len);
        for j in 0..n_changes {
            lower_rate(tree, &format!("workload[{i}].rate_changes[{j}].rate"));
        }
    }
}

fn lower_rate(tree: &mut Value, path: &str) {
    let rate = match get_path(tree, path) {
        Some(Value::Float(f)) => *f,
        Some(Value::Integer(n)) => *n as f64,
        _ => return,
    };
    if rate > MAX_RATE {
        let _ = set_path(tree, path, Value::Float(MAX_RATE));
    }
}

/// Runs a case in process. Panics propagate (the caller catches them).
pub fn run_case(corpus: &Corpus, scratch: &Scratch, case: &Case) -> Verdict {
    let written = scratch.apply(corpus, case);
    let verdict = run_loaded(case, &scratch.dir);
    scratch.restore(corpus, &written);
    verdict
}

fn run_loaded(case: &Case, dir: &Path) -> Verdict {
    let tree = match capped_tree(case, dir) {
        Ok(t) => t,
        Err(e) => return Verdict::Refused(e),
    };
    let scenario = match meshsim::scenario::from_tree(tree, "case.toml") {
        Ok(s) => Arc::new(s),
        Err(e) => return Verdict::Refused(e.to_string()),
    };
    if let Some(frac) = case.explain_at {
        let at = SimTime((scenario.end().as_nanos() as f64 * frac) as u64);
        match meshsim::explain::snapshot(scenario.clone(), case.run_seed, at) {
            Ok(snap) => {
                let _ = meshsim::explain::render(&snap, None);
            }
            Err(e) => return Verdict::Refused(e.to_string()),
        }
    }
    let out = match meshsim::model::run(scenario.clone(), case.run_seed) {
        Ok(o) => o,
        Err(e) => return Verdict::Refused(e.to_string()),
    };
    let world = &out.world;
    let report = meshsim::metrics::report::report(world, case.run_seed, out.events);
    // Everything `run_to_dir` renders, short of drawing and writing files.
    let _ = meshsim::output::csv_bytes(&report.locality_rows, "timeseries.csv");
    let _ = meshsim::output::csv_bytes(&report.client_rows, "client.csv");
    let _ = meshsim::output::events_jsonl(world);
    let _ = meshsim::output::summary_json(&report);
    let ejections = meshsim::output::ejection_records(world);
    let _ = meshsim::output::csv_bytes(&ejections, "ejections.csv");
    let _ = meshsim::output::csv_bytes(&meshsim::output::ecdf_rows(&report), "latency_ecdf.csv");
    let _ = meshsim::output::run_chart(&report, world);
    let _ = meshsim::output::ejection_chart(&ejections, &report);
    let _ = meshsim::output::latency_chart(&report);
    let _ = meshsim::output::terminal_summary(&report);
    let _ = meshsim::check::evaluate(world, &report);
    let _ = meshsim::explain::lint_scenario(&world.scenario);
    Verdict::Ran
}

/// Writes a case as files a user (or the binary) can run: `dir/case.toml`, with the harness's
/// caps when the case loads (manifests spliced in), else the raw text next to the manifests it
/// names (mutated or not).
pub fn write_case(corpus: &Corpus, case: &Case, scratch: &Scratch, dir: &Path, capped: bool) {
    std::fs::create_dir_all(dir).expect("case folder");
    let written = scratch.apply(corpus, case);
    let tree = if capped { capped_tree(case, &scratch.dir).ok() } else { None };
    scratch.restore(corpus, &written);
    let text = tree.and_then(|t| toml::to_string(&t).ok()).unwrap_or_else(|| case.text.clone());
    std::fs::write(dir.join("case.toml"), text).expect("case file");
    for (i, m) in corpus.manifests.iter().enumerate() {
        let mutated = case.manifests.iter().find(|(j, _)| *j == i).map(|(_, t)| t.as_str());
        let p = dir.join(&m.rel);
        std::fs::create_dir_all(p.parent().expect("a manifest has a folder")).expect("case folder");
        std::fs::write(&p, mutated.unwrap_or(&m.text)).expect("case manifest");
    }
}
