//! Command-line interface (binary only): argument parsing and the subcommands, one file each.

mod check;
mod explain;
mod merge;
mod run;
mod sweep;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Deterministic simulator of Istio/Envoy multi-cluster locality failover.
///
/// Exit codes: 0 success, 1 an expectation failed (check), 2 bad input or usage.
#[derive(Parser, Debug)]
#[command(name = "meshsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario and write its plots and tables.
    Run(run::RunArgs),
    /// Run scenarios and check their expectations (exit 0 all pass, 1 some fail, 2 bad input).
    Check(check::CheckArgs),
    /// Show what each client proxy's Envoy sees at a moment, and lint the policy for traps.
    Explain(explain::ExplainArgs),
    /// Run a scenario over a grid of settings and seeds, in parallel, and rank the settings.
    Sweep(sweep::SweepArgs),
    /// Combine the output folders of a sharded sweep.
    Merge(merge::MergeArgs),
}

/// Parses arguments and runs the subcommand.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::cmd_run(args),
        Command::Check(args) => check::cmd_check(args),
        Command::Explain(args) => explain::cmd_explain(args),
        Command::Sweep(args) => sweep::cmd_sweep(args),
        Command::Merge(args) => merge::cmd_merge(args),
    }
}

/// Prints `text` to stdout; a closed pipe (`meshsim ... | head`) is not an error.
pub(crate) fn print_all(text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}
