//! `meshsim run`: one scenario, one seed, its plots and tables.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use meshsim::RunError;
use meshsim::output::{Guard, OutputError};
use meshsim::scenario;

/// Arguments of `meshsim run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Output folder (default: output/<scenario name>). It must not exist yet, be empty, or be a
    /// run folder meshsim wrote; anything else is refused.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Root seed (default: the scenario's `seed`, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scenario key by its dotted path, e.g.
    /// `policy.destination_rule.trafficPolicy.outlierDetection.interval=5s`. Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    /// Print the summary as JSON (the contents of `summary.json`) instead of the tables.
    #[arg(long, conflicts_with = "quiet")]
    json: bool,
}

/// Runs `meshsim run`.
pub fn cmd_run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = scenario::load(&args.scenario, &args.sets)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    // The default `output/` is created if missing; an explicit --out's parent must exist.
    let guard = Guard::new().protect_input(&args.scenario).create_parent(args.out.is_none());
    let out = args.out.unwrap_or_else(|| PathBuf::from("output").join(&scenario.name));
    let scenario = Arc::new(scenario);
    let report = meshsim::run_to_dir(scenario.clone(), seed, &out, &guard).map_err(|e| match e {
        RunError::Output(refused @ OutputError::Refused { .. }) => {
            anyhow::Error::new(refused).context("cannot write the output")
        }
        e => anyhow::Error::new(e).context(format!("running {} with seed {seed}", args.scenario.display())),
    })?;
    if args.json {
        super::print_all(&meshsim::output::summary_json(&report))?;
    } else if !args.quiet {
        let mut text = meshsim::output::terminal_summary(&report);
        for l in meshsim::explain::lint_scenario(&scenario) {
            text.push_str(&format!("lint [{}] {}\n  fix: {}\n", l.code, l.reason, l.fix));
        }
        text.push_str(&format!("wrote {}\n", out.display()));
        super::print_all(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}
