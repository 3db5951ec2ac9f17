//! `meshsim merge`: combine the folders of a sharded sweep into what one machine would write.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `meshsim merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Sweep folders written by `meshsim sweep --shard I/N` (same sweep arguments otherwise).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// The combined folder (may be one of the inputs): a new path in an existing folder, an empty
    /// folder, or a sweep folder meshsim wrote.
    #[arg(long)]
    out: PathBuf,
    /// Skip the charts.
    #[arg(long)]
    no_charts: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `meshsim merge`.
pub fn cmd_merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let guard = meshsim::output::Guard::new();
    let outcome = meshsim::sweep::merge(&args.dirs, &args.out, !args.no_charts, &guard)
        .with_context(|| format!("merging into {}", args.out.display()))?;
    if !args.quiet {
        let summary = outcome.summary.as_deref().unwrap_or_default();
        let text = format!(
            "{summary}\nwrote {} ({} runs from {} folders)\n",
            args.out.display(),
            outcome.total,
            args.dirs.len()
        );
        super::sweep::print_stdout(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}
