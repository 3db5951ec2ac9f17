//! Shared helpers: load a scenario from the repository's `scenarios/` folder with overrides, run
//! it, and build its report.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use meshsim::metrics::report::{RunReport, report};
use meshsim::scenario::Scenario;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads `scenarios/<name>` with `--set` overrides.
pub fn load(name: &str, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    meshsim::scenario::load(&root().join("scenarios").join(name), &sets)
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// Loads a scenario from TOML text, resolving manifests against `scenarios/`.
pub fn parse(text: &str) -> Result<Scenario, meshsim::scenario::ScenarioError> {
    meshsim::scenario::from_str(text, "inline.toml", &root().join("scenarios"), &[])
}

/// Runs a scenario with a seed and returns its report.
pub fn run(s: &Scenario, seed: u64) -> RunReport {
    let out = meshsim::model::run(Arc::new(s.clone()), seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    report(&out.world, seed, out.events)
}

/// The share of the locality whose name starts with `prefix` in phase `phase`.
pub fn phase_share(r: &RunReport, phase: usize, prefix: &str) -> f64 {
    r.phases[phase]
        .share
        .iter()
        .find(|s| s.locality.starts_with(prefix))
        .map(|s| s.share)
        .unwrap_or_else(|| panic!("no locality {prefix} in {:?}", r.phases[phase].share))
}

/// Reads a whole file.
pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
