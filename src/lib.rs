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

pub mod engine;
pub mod envoy;
pub mod istio;
pub mod metrics;
pub mod model;
pub mod output;
pub mod plot;
pub mod scenario;
pub mod sweep;

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

/// Runs a scenario and writes its tables and plots to `out` (replacing it atomically).
pub fn run_to_dir(
    scenario: Arc<scenario::Scenario>,
    seed: u64,
    out: &Path,
) -> Result<metrics::report::RunReport, RunError> {
    let result = model::run(scenario, seed)?;
    let report = metrics::report::report(&result.world, seed, result.events);
    let staging = output::Staging::new(out)?;
    staging.write("timeseries.csv", &output::csv_bytes(&report.locality_rows, "timeseries.csv")?)?;
    staging.write("client.csv", &output::csv_bytes(&report.client_rows, "client.csv")?)?;
    staging.write("events.jsonl", output::events_jsonl(&result.world).as_bytes())?;
    staging.write("summary.json", output::summary_json(&report).as_bytes())?;
    let chart = output::run_chart(&report, &result.world.scenario);
    plot::traffic_share(&chart, &staging.path("traffic.png"), &staging.path("traffic.svg"))?;
    staging.commit()?;
    Ok(report)
}
