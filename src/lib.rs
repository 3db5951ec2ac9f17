//! meshsim: a deterministic discrete-event simulator of Istio/Envoy multi-cluster locality
//! failover.
//!
//! ```no_run
//! use std::sync::Arc;
//! let scenario = meshsim::scenario::load("scenarios/seed-failover.toml".as_ref(), &[]).unwrap();
//! let out = meshsim::model::run(Arc::new(scenario), 1).unwrap();
//! let report = meshsim::metrics::report::report(&out.world, 1, out.events);
//! println!("failover took {:?} s", report.failover_s);
//! ```

pub mod check;
pub mod engine;
pub mod envoy;
pub mod explain;
pub mod import;
pub mod input;
pub mod istio;
pub mod kube;
pub mod lessons;
pub mod metrics;
pub mod model;
pub mod output;
pub mod plot;
pub mod scenario;
pub mod serve;
pub mod suggest;
pub mod sweep;

#[cfg(test)]
#[path = "../tests/support/scratch.rs"]
mod scratch;

use std::path::Path;
use std::sync::Arc;

/// Any failure of a run that writes its output.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The simulation stopped early.
    #[error(transparent)]
    Sim(#[from] engine::SimError),
    /// Output could not be written.
    #[error(transparent)]
    Output(#[from] output::OutputError),
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

/// Runs a scenario and writes its tables, plots and `report.html` to `out` (replacing it
/// atomically: a failed run leaves the previous folder as it was). `out` must be absent, an
/// empty folder, or a run folder meshsim wrote ([`output::folder::inspect`] with `guard`);
/// anything else is refused before the simulation starts. The folder also holds the marker
/// `.meshsim-output`.
///
/// Files: `timeseries.csv`, `client.csv`, `events.jsonl`, `summary.json`, `ejections.csv`,
/// `latency_ecdf.csv`, `hosts.csv`, `traffic.{png,svg}`, `ejections.{png,svg}`, `latency.{png,svg}` and
/// `report.html` (every chart inlined, with the phase summary, transitions, expectations and
/// lints).
pub fn run_to_dir(
    scenario: Arc<scenario::Scenario>,
    seed: u64,
    out: &Path,
    guard: &output::Guard,
) -> Result<metrics::report::RunReport, RunError> {
    // Refuses a target meshsim may not replace before simulating anything.
    let staging = output::Staging::new(out, output::Kind::Run, &scenario.name, guard)?;
    let result = model::run(scenario, seed)?;
    let world = &result.world;
    let report = metrics::report::report(world, seed, result.events);
    // The text files and the three charts (each PNG beside its SVG) are written on two threads:
    // the traffic chart's PNG, the largest piece (about half of the drawing), on one, the rest on
    // this one. Each goes to a file of its own, so the bytes are the same as one by one. (On
    // rayon's pool the split depended on when the second worker woke up to steal: one profiled
    // run of the seed lab drew 102 M of the 105 M instructions of charts on one thread.)
    let ejections = output::ejection_records(world);
    let traffic = output::run_chart(&report, world);
    let (texts, traffic_png, others) = std::thread::scope(|s| {
        let traffic_png = || plot::Figure::Traffic(&traffic).write_png(&staging.path("traffic.png"));
        // A thread the system refuses (a process limit) only costs the parallelism.
        let png = std::thread::Builder::new().name("traffic.png".into()).spawn_scoped(s, traffic_png).ok();
        let texts = (|| -> Result<(), RunError> {
            for (name, bytes) in output::text_files(world, &report)? {
                staging.write(name, &bytes)?;
            }
            Ok(())
        })();
        let others = (|| -> Result<(), plot::PlotError> {
            plot::Figure::Traffic(&traffic).write_svg(&staging.path("traffic.svg"))?;
            let timeline = output::ejection_chart(&ejections, &report);
            let timeline = plot::Figure::Ejections(&timeline);
            timeline.write_png(&staging.path("ejections.png"))?;
            timeline.write_svg(&staging.path("ejections.svg"))?;
            let ecdf = output::latency_chart(&report);
            let ecdf = plot::Figure::Latency(&ecdf);
            ecdf.write_png(&staging.path("latency.png"))?;
            ecdf.write_svg(&staging.path("latency.svg"))
        })();
        let traffic_png = match png {
            Some(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => traffic_png(),
        };
        (texts, traffic_png, others)
    });
    texts?;
    traffic_png?;
    others?;
    let figures = [
        (
            "Traffic share",
            "traffic.svg",
            "Share of upstream attempts per locality (stacked); client errors and failed upstream attempts per second \
             by cause, on one scale (the difference is what retries hid); endpoints ejected, each counted once, by how \
             many proxies eject it; panic per priority. Fault phases shaded; failover and fail-back instants marked.",
        ),
        (
            "Ejection timeline",
            "ejections.svg",
            "One row per (proxy, endpoint): bars are ejections, each labelled at its start with the back-off \
             multiplier (darker as it grows); east-west gateway hosts are named by their gateway.",
        ),
        (
            "Client latency",
            "latency.svg",
            "Empirical CDF of client latency per phase (retries and back-off included); p50 and p99 as in the \
             phase table; local replies (overflow, no healthy upstream) drawn at the left edge.",
        ),
    ];
    let mut figs = Vec::new();
    for (heading, file, caption) in figures {
        let path = staging.path(file);
        let svg = std::fs::read_to_string(&path)
            .map_err(|error| output::OutputError::Io { path: path.display().to_string(), error })?;
        figs.push(output::html::Figure { heading: heading.into(), caption: caption.into(), svg });
    }
    let verdicts = check::evaluate(world, &report);
    let lints = explain::lint_scenario(&world.scenario);
    let html = output::html::report_html(&report, &world.scenario, &verdicts, &lints, &figs);
    staging.write("report.html", html.as_bytes())?;
    staging.commit()?;
    Ok(report)
}
