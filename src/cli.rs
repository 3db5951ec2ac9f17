//! Command-line interface (binary only): argument parsing and the subcommands, one file each.

mod run;

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
}

/// Parses arguments and runs the subcommand.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::cmd_run(args),
    }
}
