//! The catalogue's lessons cannot drift: every number a lesson states is the name of an
//! expectation in the same file (`meshsim::lessons`), every `--set` a question or lesson suggests
//! is accepted, a lesson that names an Istio or Envoy release pins `mesh.istio_version`, `docs/catalogue.md` is exactly what the scenarios and
//! their runs generate, and the README counts the scenarios there are.
//!
//! `docs/catalogue.md` is regenerated and compared, as rust-analyzer tests its generated docs;
//! after changing a scenario, update it with
//! `MESHSIM_BLESS=1 cargo test --test integration catalogue`.

use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use meshsim::lessons::{CatalogueEntry, catalogue_markdown, releases, set_commands, unbacked};

use crate::util::root;

/// The catalogue: `scenarios/*.toml`, sorted (the sweeps in `scenarios/sweeps/` are not runs).
fn scenario_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// `mesh.istio_version` as written in a scenario file, if any.
fn pinned_istio(text: &str) -> Option<String> {
    let tree: toml::Value = toml::from_str(text).expect("scenario TOML");
    tree.get("mesh")?.get("istio_version")?.as_str().map(str::to_string)
}

/// Loads, runs and measures one scenario.
fn entry(path: &PathBuf) -> CatalogueEntry {
    let text = std::fs::read_to_string(path).expect("scenario file");
    let scenario = meshsim::scenario::load(path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let seed = scenario.seed;
    let name = scenario.name.clone();
    let out = meshsim::model::run(Arc::new(scenario), seed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report = meshsim::metrics::report::report(&out.world, seed, out.events);
    let mut figures = meshsim::check::evaluate(&out.world, &report);
    figures.extend(meshsim::check::evaluate_variants(&out.world.scenario, seed).expect("the variants run"));
    let (question, lesson) = meshsim::serve::catalogue::header(&text);
    let file = format!("scenarios/{}", path.file_name().expect("file name").to_string_lossy());
    CatalogueEntry {
        file,
        name,
        seed,
        istio_version: pinned_istio(&text),
        question,
        lesson,
        figures,
        phases: report.phases.iter().map(|p| (p.name.clone(), p.start_s, p.end_s, p.requests, p.errors)).collect(),
    }
}

fn bless() -> bool {
    std::env::var_os("MESHSIM_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

#[test]
fn every_lesson_number_is_an_expectation_and_every_release_is_pinned() {
    let mut problems = Vec::new();
    for path in scenario_files() {
        let text = std::fs::read_to_string(&path).expect("scenario file");
        let (question, lesson) = meshsim::serve::catalogue::header(&text);
        let file = path.file_name().expect("name").to_string_lossy().into_owned();
        if question.is_empty() || lesson.is_empty() {
            problems.push(format!("{file}: no `# Question:` or no `# Lesson:` paragraph"));
            continue;
        }
        let scenario = meshsim::scenario::load(&path, &[]).unwrap_or_else(|e| panic!("{file}: {e}"));
        let names: Vec<String> = scenario
            .expectations
            .iter()
            .chain(scenario.variants.iter().map(|v| &v.expectation))
            .map(|e| e.name.clone())
            .collect();
        for u in unbacked(&lesson, &names) {
            problems.push(format!(
                "{file}: the lesson states {} (\"…{}…\") but no [[expect]] name states it",
                u.number, u.context
            ));
        }
        for sets in set_commands(&question).into_iter().chain(set_commands(&lesson)) {
            match meshsim::scenario::load(&path, &sets) {
                Ok(_) => {}
                // A command the lesson shows being refused must be refused with the words it quotes.
                Err(meshsim::scenario::ScenarioError::Field { message, .. }) if lesson.contains(&message) => {}
                Err(e) => problems
                    .push(format!("{file}: the command `--set {}` it suggests fails: {e}", sets.join(" --set "))),
            }
        }
        let named = releases(&lesson);
        if !named.is_empty() && pinned_istio(&text).is_none() {
            problems.push(format!(
                "{file}: the lesson names {} {} but the scenario does not pin mesh.istio_version",
                named[0].0, named[0].1
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "lessons must state only what their expectations check (src/lessons.rs):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn docs_catalogue_is_generated_from_the_scenarios_and_their_runs() {
    let entries: Vec<CatalogueEntry> = scenario_files().par_iter().map(entry).collect();
    let failing: Vec<String> = entries
        .iter()
        .flat_map(|e| e.figures.iter().filter(|v| !v.passed).map(move |v| format!("{}: {}", e.name, v.line())))
        .collect();
    assert!(failing.is_empty(), "catalogue expectations fail:\n  {}", failing.join("\n  "));
    let generated = catalogue_markdown(&entries, meshsim::lessons::MOVED);
    let path = root().join("docs").join("catalogue.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != generated {
        if bless() {
            std::fs::write(&path, &generated).expect("writing docs/catalogue.md");
        } else {
            let first = current.lines().zip(generated.lines()).position(|(a, b)| a != b);
            let line = first.unwrap_or(current.lines().count().min(generated.lines().count()));
            panic!(
                "docs/catalogue.md is out of date (first difference at line {}: now {:?}); update it with\n  \
                 MESHSIM_BLESS=1 cargo test --test integration catalogue",
                line + 1,
                generated.lines().nth(line).unwrap_or("")
            );
        }
    }
}

#[test]
fn the_readme_counts_the_catalogue() {
    let n = scenario_files().len();
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let stated = format!("`scenarios/` holds {n} scenarios");
    assert!(readme.contains(&stated), "README.md should say \"{stated}\" (the catalogue has {n})");
}
