//! Command-line interface (binary only): argument parsing and the subcommands, one file each.

mod check;
mod explain;
mod import;
mod merge;
mod run;
mod serve;
mod sweep;

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};

/// `meshsim --version`: the crate version and the commit it was built from (`build.rs`:
/// "unknown" outside a git checkout).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("MESHSIM_COMMIT"), ")");

/// Deterministic simulator of Istio/Envoy multi-cluster locality failover.
///
/// Exit codes: 0 success, 1 an expectation failed (check), 2 bad input or usage.
#[derive(Parser, Debug)]
#[command(name = "meshsim", version = VERSION, about, long_about = None)]
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
    /// Build a runnable scenario from cluster exports (`kubectl get ... -o yaml`).
    Import(import::ImportArgs),
    /// Run a scenario over a grid of settings and seeds, in parallel, and rank the settings.
    Sweep(sweep::SweepArgs),
    /// Combine the output folders of a sharded sweep.
    Merge(merge::MergeArgs),
    /// Serve the teaching page: move a knob, watch failover change (http://127.0.0.1:8080/).
    Serve(serve::ServeArgs),
    /// Print a shell completion script, e.g. `meshsim completions bash > ~/.local/share/bash-completion/completions/meshsim`.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Parses arguments and runs the subcommand.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    clean_up_on_interrupt()?;
    match cli.command {
        Command::Run(args) => run::cmd_run(args),
        Command::Check(args) => check::cmd_check(args),
        Command::Explain(args) => explain::cmd_explain(args),
        Command::Import(args) => import::cmd_import(args),
        Command::Sweep(args) => sweep::cmd_sweep(args),
        Command::Merge(args) => merge::cmd_merge(args),
        Command::Serve(args) => serve::cmd_serve(args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "meshsim", &mut script);
            print_all(&String::from_utf8_lossy(&script))?;
            Ok(ExitCode::SUCCESS)
        }
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

/// On SIGINT or SIGTERM, removes the unfinished output of this process (staging folders and
/// temporary files, see `meshsim::output::interrupt`) and exits with 128 + the signal's number
/// (130 for Ctrl-C). A second signal during the cleanup exits at once.
///
/// `signal-hook` is the one safe way to see a signal without `unsafe` (forbidden here); it costs
/// two small crates over `libc`, which was already built.
fn clean_up_on_interrupt() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, signalled.clone())
            .context("installing the signal handler")?;
        signal_hook::flag::register(sig, signalled.clone()).context("installing the signal handler")?;
    }
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).context("installing the signal handler")?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let removed = meshsim::output::interrupt::clean_up();
            match removed {
                0 => eprintln!("meshsim: interrupted"),
                1 => eprintln!("meshsim: interrupted; removed the unfinished output it was writing"),
                n => eprintln!("meshsim: interrupted; removed the unfinished output it was writing ({n} items)"),
            }
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}
