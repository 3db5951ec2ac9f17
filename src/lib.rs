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
    // The output is written on two threads, and the second one starts now, before the
    // simulation, whose results everything depends on: while the simulation runs on this thread
    // (the second core would be idle), the chart thread does what drawing needs whatever the
    // results. It makes the white pixel buffers of the three PNGs (touching their pages costs
    // the kernel's page faults; two are sent back to this thread), then registers the fonts and
    // rasterizes the common glyphs of chart text for both threads ([`plot::prepare`], which
    // stops as soon as the results are in): 27 M instructions for the seed lab. Then it takes
    // the traffic and latency charts and writes `traffic.png`, the largest piece (about half
    // of the drawing), and `latency.svg`; this thread writes the text files and the other
    // charts. For the seed lab that is 43 M and 46 M instructions after the simulation (51 M
    // and 59 M with the traffic PNG alone on the chart thread and nothing made ahead). Each file
    // is a file of its own, a canvas is white whoever made it and a glyph's raster depends only
    // on its key, so the bytes are the same as one by one on one thread. (On rayon's pool the
    // split depended on when the second worker woke up to steal: one profiled run of the seed
    // lab drew 102 M of the 105 M instructions of charts on one thread.)
    let staged = &staging;
    let (to_charts, from_run) = std::sync::mpsc::sync_channel::<(plot::RunChart, plot::LatencyEcdf)>(1);
    let (to_run, from_charts) = std::sync::mpsc::sync_channel::<(plot::Canvas, plot::Canvas)>(1);
    let chart_thread = move || -> Result<(), plot::PlotError> {
        let mut charts = None;
        // Whether the charts have come, kept if so (or never will: the simulation failed).
        let mut results_in = || {
            charts.is_some()
                || match from_run.try_recv() {
                    Ok(received) => {
                        charts = Some(received);
                        true
                    }
                    Err(std::sync::mpsc::TryRecvError::Empty) => false,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => true,
                }
        };
        // Its own canvas first; the other two only while this thread would wait anyway (after
        // a short simulation this thread draws at once, and the other makes its own).
        let canvas = plot::Canvas::traffic();
        if !results_in() {
            let _ = to_run.send((plot::Canvas::ejections(), plot::Canvas::latency()));
        }
        plot::prepare(&mut results_in)?;
        // Nothing comes if the simulation failed (the sender is dropped).
        let Some((traffic, latency)) = charts.or_else(|| from_run.recv().ok()) else { return Ok(()) };
        plot::Figure::Traffic(&traffic).write_png(&staged.path("traffic.png"), canvas)?;
        plot::Figure::Latency(&latency).write_svg(&staged.path("latency.svg"))
    };
    let (run, charts) = std::thread::scope(|s| {
        // A thread the system refuses (a process limit) only costs the parallelism: the charts
        // cannot be sent and are drawn on this thread.
        let charts = std::thread::Builder::new().name("charts".into()).spawn_scoped(s, chart_thread).ok();
        // A closure that owns the sender, so that a failed simulation drops it and the chart
        // thread stops waiting.
        let run = move || -> Result<_, RunError> {
            let result = model::run(scenario, seed)?;
            let world = &result.world;
            let report = metrics::report::report(world, seed, result.events);
            // The charts to the chart thread for its files, and kept here for the others (and
            // for all of them if there is no chart thread).
            let traffic = output::run_chart(&report, world);
            let latency = output::latency_chart(&report);
            let all_here = to_charts.send((traffic.clone(), latency.clone())).is_err();
            // The canvases if the chart thread has made them (else they are made as needed).
            let (ejections_canvas, latency_canvas) = from_charts.try_recv().unwrap_or_default();
            for (name, bytes) in output::text_files(world, &report)? {
                staged.write(name, &bytes)?;
            }
            let ejections = output::ejection_records(world);
            plot::Figure::Traffic(&traffic).write_svg(&staged.path("traffic.svg"))?;
            let timeline = output::ejection_chart(&ejections, &report);
            let timeline = plot::Figure::Ejections(&timeline);
            timeline.write_png(&staged.path("ejections.png"), ejections_canvas)?;
            timeline.write_svg(&staged.path("ejections.svg"))?;
            plot::Figure::Latency(&latency).write_png(&staged.path("latency.png"), latency_canvas)?;
            if all_here {
                plot::Figure::Traffic(&traffic).write_png(&staged.path("traffic.png"), plot::Canvas::default())?;
                plot::Figure::Latency(&latency).write_svg(&staged.path("latency.svg"))?;
            }
            Ok((result, report))
        };
        let run = run();
        let charts = match charts {
            Some(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => Ok(()),
        };
        (run, charts)
    });
    let (result, report) = run?;
    charts?;
    let world = &result.world;
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
