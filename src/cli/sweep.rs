//! `meshsim sweep`: many runs of one scenario over a grid of settings and seeds, in parallel.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use meshsim::sweep::{self, Objective, Options, Plan, Progress, Shard, SweepSpec};

/// Arguments of `meshsim sweep`.
#[derive(clap::Args, Debug)]
#[command(after_help = sweep_help())]
pub struct SweepArgs {
    /// A sweep file (TOML with `scenario` and `[[axes]]`), or a scenario file swept with `--grid`.
    input: PathBuf,
    /// Sweep a scenario path over values: `PATH=V1,V2,...`, `PATH=1..10`, `PATH=1..10 step 2` or
    /// `PATH=1s..30s step 5s` (both ends included when on the grid). Repeatable; adds to a sweep
    /// file's axes.
    #[arg(long = "grid", value_name = "PATH=VALUES")]
    grids: Vec<String>,
    /// Runs (seeds) per point [default: the sweep file's `seeds`, else 10].
    #[arg(long)]
    seeds: Option<u32>,
    /// Seed the per-run seeds derive from [default: the sweep file's `base_seed`, else the scenario's `seed`].
    #[arg(long)]
    base_seed: Option<u64>,
    /// Output folder [default: output/sweeps/<sweep name>]: a new path in an existing folder, an
    /// empty folder, or a sweep folder meshsim wrote (resumed).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads [default: all cores, or RAYON_NUM_THREADS].
    #[arg(long, short, value_name = "J")]
    jobs: Option<usize>,
    /// Run only the I-th of N interleaved slices of the runs (0-based), for several machines;
    /// combine the folders with `meshsim merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Override a scenario key for every point, as `run --set`. Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Metric to optimize [default: the sweep file's, else errors].
    #[arg(long, value_name = "METRIC")]
    objective: Option<String>,
    /// Whether to minimize or maximize the objective [default: minimize].
    #[arg(long, value_name = "GOAL")]
    goal: Option<String>,
    /// A condition the chosen point must meet, e.g. 'false_ejections == 0' or
    /// 'max(failover_s) <= 5'. Repeatable; replaces a sweep file's constraints.
    #[arg(long = "constraint", value_name = "EXPR")]
    constraints: Vec<String>,
    /// Discard a different or earlier sweep in the output folder instead of refusing to run.
    #[arg(long)]
    fresh: bool,
    /// Skip the charts.
    #[arg(long)]
    no_charts: bool,
    /// Validate every point and print the plan; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print nothing but errors (no progress bar, no summary).
    #[arg(long, short)]
    quiet: bool,
}

fn sweep_help() -> String {
    let mut s = String::from("Metrics (one column each in sweep.csv; see docs/sweeps.md):\n");
    for m in &sweep::METRICS {
        s.push_str(&format!("  {:<20} {}\n", m.name, m.doc));
    }
    s.push_str("\nA restarted sweep with the same arguments skips the runs already in the output folder.");
    s
}

/// Whether a TOML file is a sweep file rather than a scenario: it has a top-level `scenario` or
/// `axes` key, which no scenario has (so a sweep file missing its `scenario` is still read as a
/// sweep file, and its error says so).
fn is_sweep_file(path: &Path) -> anyhow::Result<bool> {
    let text = meshsim::input::read_text(path, meshsim::input::TEXT_CAP, "a sweep file or a scenario file (TOML)")?;
    Ok(text.parse::<toml::Table>().is_ok_and(|t| t.contains_key("scenario") || t.contains_key("axes")))
}

/// The spec from the input file and the options that refine it.
fn spec_of(args: &SweepArgs) -> anyhow::Result<SweepSpec> {
    let mut spec = if is_sweep_file(&args.input)? {
        let mut spec = SweepSpec::from_file(&args.input)?;
        spec.add_grids(&args.grids)?;
        spec
    } else {
        SweepSpec::from_grid(&args.input, &args.grids)?
    };
    spec.sets.extend(args.sets.iter().cloned());
    if let Some(n) = args.seeds {
        spec.seeds = n;
    }
    if args.base_seed.is_some() {
        spec.base_seed = args.base_seed;
    }
    if args.objective.is_some() || args.goal.is_some() || !args.constraints.is_empty() {
        let old = &spec.objective;
        let metric = args.objective.clone().unwrap_or_else(|| sweep::METRICS[old.metric].name.to_string());
        let goal = args.goal.clone().unwrap_or_else(|| old.goal.as_str().to_string());
        let constraints = if args.constraints.is_empty() {
            old.constraints.iter().map(|c| c.to_string()).collect()
        } else {
            args.constraints.clone()
        };
        // Metric and goal first, so that an error is labelled with the option that caused it.
        Objective::new(&metric, &goal, &[]).map_err(|m| {
            let option = if sweep::METRICS.iter().any(|d| d.name == metric) { "--goal" } else { "--objective" };
            anyhow::anyhow!("{option}: {m}")
        })?;
        spec.objective =
            Objective::new(&metric, &goal, &constraints).map_err(|m| anyhow::anyhow!("--constraint: {m}"))?;
    }
    Ok(spec)
}

fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style =
        ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} runs ({per_sec}, ETA {eta}) {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// Runs `meshsim sweep`.
pub fn cmd_sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let spec = spec_of(&args)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?.unwrap_or(Shard::ALL);
    // The default `output/sweeps/` is created if missing; an explicit --out's parent must exist.
    let mut guard = meshsim::output::Guard::new().protect_input(&args.input).protect_input(&spec.scenario);
    guard = guard.create_parent(args.out.is_none());
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("output").join("sweeps").join(&spec.name));
    let plan = Plan::new(spec)?;
    if args.dry_run {
        print_plan(&plan, shard)?;
        return Ok(ExitCode::SUCCESS);
    }
    let bar = progress_bar(args.quiet);
    let opts = Options { jobs: args.jobs.unwrap_or(0), shard, fresh: args.fresh, charts: !args.no_charts, guard };
    let on_progress = |p: Progress| match p {
        Progress::Start { in_shard, skipped, jobs, jobs_capped } => {
            if jobs_capped && !args.quiet {
                eprintln!("meshsim: running {jobs} simulations at once to stay within limits.max_memory");
            }
            bar.set_length(in_shard as u64);
            bar.set_position(skipped as u64);
            bar.reset_eta();
            if skipped > 0 {
                bar.println(format!("resuming: {skipped} of {in_shard} runs already in the output folder"));
            }
        }
        Progress::RunDone => bar.inc(1),
        Progress::Finalizing => bar.set_message("writing tables and charts"),
    };
    let outcome = sweep::execute(&plan, &out, &opts, &on_progress)
        .with_context(|| format!("sweeping {} into {}", plan.spec.scenario.display(), out.display()))?;
    bar.finish_and_clear();
    if args.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    let text = match &outcome.summary {
        Some(summary) => {
            format!("{summary}\nwrote {} ({} runs now, {} already done)\n", out.display(), outcome.ran, outcome.skipped)
        }
        None => format!(
            "shard {}/{}: {} runs now, {} already done; {} of {} runs of the sweep are in {}; \
             combine the shard folders with `meshsim merge DIR... --out DIR`\n",
            shard.index,
            shard.count,
            outcome.ran,
            outcome.skipped,
            outcome.finished,
            outcome.total,
            out.display()
        ),
    };
    print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`meshsim sweep ... | head`) is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

fn print_plan(plan: &Plan, shard: Shard) -> anyhow::Result<()> {
    let spec = &plan.spec;
    let count = meshsim::sweep::report::count;
    let mut s = format!(
        "{}: {} x {} = {} (base seed {}, spec {})\n",
        spec.scenario.display(),
        count(plan.n_points, "point", "points"),
        count(spec.seeds as usize, "seed", "seeds"),
        count(plan.n_runs(), "run", "runs"),
        plan.base_seed,
        plan.spec_hash
    );
    for a in &spec.axes {
        s.push_str(&format!("  {} ({}): {}\n", a.name, a.path, a.labels().join(", ")));
    }
    s.push_str(&format!("objective: {}\n", spec.objective));
    if shard != Shard::ALL {
        let n = (0..plan.n_runs()).filter(|&i| shard.contains(i)).count();
        s.push_str(&format!("shard {}/{}: {}\n", shard.index, shard.count, count(n, "run", "runs")));
    }
    s.push_str("every point is a valid scenario\n");
    print_stdout(&s)
}
