//! `meshsim check`: run scenarios and report each expectation as pass/fail, for CI.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use rayon::prelude::*;

use meshsim::check::junit::{FileResult, junit_xml};
use meshsim::output::Guard;
use meshsim::output::file::write_file;

/// `writeln!` into a `String` (which cannot fail).
macro_rules! outln {
    ($s:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($s, $($arg)*);
    }};
}
use meshsim::scenario;

/// Arguments of `meshsim check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenario files, or folders whose `*.toml` scenarios are checked (recursively, sorted;
    /// `sweeps/` folders are skipped).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also write the results as JUnit XML to this file: a new path or a regular file, in an
    /// existing folder (checked before any scenario runs).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Run each scenario twice and fail, naming the first differing event, if the runs differ.
    #[arg(long)]
    determinism: bool,
    /// Run every scenario with this seed instead of its own.
    #[arg(long)]
    seed: Option<u64>,
    /// Override a key of every scenario by its dotted path, as for `run`. Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Print the results as JSON (files with their verdicts or errors, then the totals)
    /// instead of text. File errors still go to stderr too.
    #[arg(long)]
    json: bool,
}

/// Runs `meshsim check`. Exit code 0: every expectation passed; 1: some failed; 2: a file could
/// not be loaded or run.
pub fn cmd_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for p in &args.paths {
        meshsim::scenario::collect_files(p, &mut files).with_context(|| format!("reading {}", p.display()))?;
    }
    if files.is_empty() {
        anyhow::bail!("no scenario files (*.toml) found in {}", join(&args.paths));
    }
    if let Some(path) = &args.junit {
        let guard = files.iter().fold(Guard::new(), |g, f| g.protect_input(f));
        meshsim::output::file::check_file_target(path, &guard).context("writing the JUnit report")?;
    }
    let results: Vec<FileResult> =
        files.par_iter().map(|f| check_file(f, &args.sets, args.seed, args.determinism)).collect();
    let (mut passed, mut failed, mut errors, mut skipped) = (0usize, 0usize, 0usize, 0usize);
    let mut text = String::new();
    for r in &results {
        match r {
            FileResult::Checked(c) => {
                outln!(text, "{} ({}, seed {})", c.scenario, c.file, c.seed);
                if c.verdicts.is_empty() && c.skipped.is_empty() {
                    outln!(text, "  (no expectations)");
                }
                for v in &c.verdicts {
                    outln!(text, "  {}", v.line());
                }
                for (name, why) in &c.skipped {
                    outln!(text, "  SKIP  {name}: {why}");
                }
                skipped += c.skipped.len();
                if let Some(d) = &c.determinism {
                    outln!(text, "  {}  determinism: {}", if d.passed { "PASS" } else { "FAIL" }, d.message);
                }
                let f = c.failures();
                failed += f;
                passed += c.verdicts.len() + usize::from(c.determinism.is_some()) - f;
            }
            FileResult::Error { file, message } => {
                // On stderr, like every other error: stdout holds only the results.
                if message.starts_with(file.as_str()) {
                    eprintln!("meshsim: error: {message}");
                } else {
                    eprintln!("meshsim: error: {file}: {message}");
                }
                errors += 1;
            }
        }
    }
    let errs = if errors > 0 { format!(", {errors} files with errors") } else { String::new() };
    let skips = if skipped > 0 { format!(", {skipped} skipped") } else { String::new() };
    outln!(text, "{passed} passed, {failed} failed{skips}{errs}");
    if args.json {
        let mut json = serde_json::to_string_pretty(&meshsim::check::results_json(&results))?;
        json.push('\n');
        super::print_all(&json)?;
    } else {
        super::print_all(&text)?;
    }
    if let Some(path) = &args.junit {
        let xml = junit_xml(&results).context("encoding the JUnit report")?;
        let guard = files.iter().fold(Guard::new(), |g, f| g.protect_input(f));
        write_file(path, xml.as_bytes(), &guard).context("writing the JUnit report")?;
    }
    Ok(if errors > 0 {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn check_file(file: &Path, sets: &[String], seed: Option<u64>, determinism: bool) -> FileResult {
    let label = file.display().to_string();
    let scenario = match scenario::load(file, sets) {
        Ok(s) => s,
        Err(e) => return FileResult::Error { file: label, message: e.to_string() },
    };
    let seed = seed.unwrap_or(scenario.seed);
    match meshsim::check::check_scenario(&label, Arc::new(scenario), seed, determinism) {
        Ok(c) => FileResult::Checked(c),
        Err(e) => FileResult::Error { file: label, message: format!("run with seed {seed} stopped: {e}") },
    }
}

fn join(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
