//! Regression checks: measure a finished run against the scenario's expectations
//! ([`crate::scenario::expect`]), check that a run is deterministic, and write JUnit XML.
//!
//! * [`evaluate`] turns one run into a [`Verdict`] per expectation, each with the measured value
//!   beside its bound;
//! * [`determinism::compare_runs`] runs a scenario twice and names the first differing event;
//! * [`junit::junit_xml`] renders results for CI systems.

pub mod determinism;
pub mod junit;
mod measure;

use std::sync::Arc;

use crate::engine::SimError;
use crate::metrics::report::{RunReport, report};
use crate::model::world::World;
use crate::scenario::{Expectation, Scenario};

/// The result of one expectation. Its JSON form (`check --json`, the teaching page) has these
/// five fields.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    /// The expectation's name.
    pub name: String,
    /// Its kind, as written in the scenario (`share`, `failover`, ...).
    pub kind: &'static str,
    /// Whether the measured value is within the bound.
    pub passed: bool,
    /// What was measured, e.g. `share of europe-west1 in phase "healthy" = 0.500`.
    pub measured: String,
    /// The bound, e.g. `in [0.450, 0.550]`.
    pub bound: String,
}

impl Verdict {
    /// `PASS`/`FAIL`, the name, the measured value and the bound, on one line.
    pub fn line(&self) -> String {
        let status = if self.passed { "PASS" } else { "FAIL" };
        format!("{status}  {}: {} (expected {})", self.name, self.measured, self.bound)
    }
}

/// The outcome of checking one scenario file.
#[derive(Debug, Clone)]
pub struct ScenarioCheck {
    /// The file as given.
    pub file: String,
    /// The scenario's name.
    pub scenario: String,
    /// The seed it ran with.
    pub seed: u64,
    /// One verdict per expectation, in file order.
    pub verdicts: Vec<Verdict>,
    /// The determinism check, when it was asked for.
    pub determinism: Option<DeterminismVerdict>,
    /// Expectations not measured, with why (past the end of the run): `(name, why)`.
    pub skipped: Vec<(String, String)>,
}

/// The result of a determinism check.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeterminismVerdict {
    /// The two runs matched (trace hash, event count and every output byte).
    pub passed: bool,
    /// What was compared, or the first difference.
    pub message: String,
}

impl ScenarioCheck {
    /// Expectations that failed, plus one for a failed determinism check.
    pub fn failures(&self) -> usize {
        self.verdicts.iter().filter(|v| !v.passed).count()
            + usize::from(self.determinism.as_ref().is_some_and(|d| !d.passed))
    }
}

/// The results of `meshsim check` as JSON: per file either its verdicts or its error, then the
/// totals, counted as the text report counts them (a determinism check is one more verdict).
pub fn results_json(results: &[junit::FileResult]) -> serde_json::Value {
    use serde_json::json;
    let (mut passed, mut failed, mut errors) = (0usize, 0usize, 0usize);
    let files: Vec<serde_json::Value> = results
        .iter()
        .map(|r| match r {
            junit::FileResult::Checked(c) => {
                let f = c.failures();
                failed += f;
                passed += c.verdicts.len() + usize::from(c.determinism.is_some()) - f;
                let skipped: Vec<serde_json::Value> =
                    c.skipped.iter().map(|(name, why)| json!({"name": name, "why": why})).collect();
                json!({
                    "file": c.file, "scenario": c.scenario, "seed": c.seed, "passed": f == 0,
                    "verdicts": c.verdicts, "determinism": c.determinism, "skipped": skipped,
                })
            }
            junit::FileResult::Error { file, message } => {
                errors += 1;
                json!({"file": file, "error": message})
            }
        })
        .collect();
    json!({"files": files, "passed": passed, "failed": failed, "errors": errors})
}

/// Measures every expectation of the run's scenario.
pub fn evaluate(world: &World, report: &RunReport) -> Vec<Verdict> {
    world.scenario.expectations.iter().map(|e| evaluate_one(e, world, report)).collect()
}

/// Measures one expectation.
pub fn evaluate_one(e: &Expectation, world: &World, report: &RunReport) -> Verdict {
    let m = measure::measure(e, world, report);
    Verdict { name: e.name.clone(), kind: e.check.kind(), passed: m.passed, measured: m.measured, bound: m.bound }
}

/// Runs each variant of a scenario (an `[[expect]]` with `set`) with `seed` and measures its
/// expectation; the measured text starts with the overrides.
pub fn evaluate_variants(scenario: &Scenario, seed: u64) -> Result<Vec<Verdict>, SimError> {
    scenario
        .variants
        .iter()
        .map(|v| {
            let out = crate::model::run(v.scenario.clone(), seed)?;
            let r = report(&out.world, seed, out.events);
            let mut verdict = evaluate_one(&v.expectation, &out.world, &r);
            let sets: Vec<String> = v.sets.iter().map(|s| format!("--set '{s}'")).collect();
            verdict.measured = format!("with {}: {}", sets.join(" "), verdict.measured);
            Ok(verdict)
        })
        .collect()
}

/// Runs a scenario once with `seed` and evaluates its expectations, then its variants; with `determinism`, runs it
/// a second time and compares the two runs event by event and byte by byte.
pub fn check_scenario(
    file: &str,
    scenario: Arc<Scenario>,
    seed: u64,
    determinism: bool,
) -> Result<ScenarioCheck, SimError> {
    let (verdicts, det) = if determinism {
        let cmp = determinism::compare_runs(scenario.clone(), seed)?;
        let r = report(&cmp.first.world, seed, cmp.first.events);
        (evaluate(&cmp.first.world, &r), Some(cmp.verdict))
    } else {
        let out = crate::model::run(scenario.clone(), seed)?;
        let r = report(&out.world, seed, out.events);
        (evaluate(&out.world, &r), None)
    };
    let mut verdicts = verdicts;
    verdicts.extend(evaluate_variants(&scenario, seed)?);
    Ok(ScenarioCheck {
        file: file.to_string(),
        scenario: scenario.name.clone(),
        seed,
        verdicts,
        determinism: det,
        skipped: scenario.skipped_expectations.clone(),
    })
}
