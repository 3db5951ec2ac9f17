//! Writing a run's files: CSV tables, the event log, the summary and the plots. Everything is
//! written into a fresh staging folder beside the target, which replaces the target only when
//! every file is complete, so a failed run never leaves half-written output behind; and only a
//! folder meshsim wrote itself is ever replaced ([`folder`]).

pub mod file;
pub mod folder;
pub mod html;
pub mod interrupt;

pub use folder::{Guard, Kind, Staging};

use std::fmt::Write as _;

use serde_json::json;

use crate::metrics::recorder::LogKind;
use crate::metrics::report::RunReport;
use crate::model::ids::EndpointId;
use crate::model::world::World;

/// Why output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file or folder operation failed.
    #[error("{path}: {error}")]
    Io {
        /// The path involved.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// meshsim may not write there: the path is not one it wrote itself, or not one it may
    /// create (see [`folder`] and [`file`]).
    #[error("{path}: {reason}")]
    Refused {
        /// The path refused.
        path: String,
        /// Why.
        reason: String,
    },
    /// A table could not be encoded.
    #[error("{path}: {message}")]
    Encode {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

/// Encodes serializable rows as CSV with a header, which is written even when there are no rows
/// (pandas and most CSV readers refuse an empty file).
pub fn csv_bytes<T: serde::Serialize + Default>(rows: &[T], label: &str) -> Result<Vec<u8>, OutputError> {
    if rows.is_empty() {
        // The writer emits the header with the first record: encode a default row, keep the header.
        let mut bytes = csv_bytes(&[T::default()], label)?;
        bytes.truncate(bytes.iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| i + 1));
        return Ok(bytes);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| OutputError::Encode { path: label.into(), message: e.to_string() })?;
    }
    w.into_inner().map_err(|e| OutputError::Encode { path: label.into(), message: e.to_string() })
}

/// The text files of a run, in the order `meshsim run` writes them: `summary.json`,
/// `timeseries.csv`, `client.csv`, `events.jsonl`, `ejections.csv`, `latency_ecdf.csv` and
/// `hosts.csv`. The golden test (`tests/golden/`) and `check --determinism` compare exactly
/// these bytes.
pub fn text_files(world: &World, report: &RunReport) -> Result<Vec<(&'static str, Vec<u8>)>, OutputError> {
    Ok(vec![
        ("summary.json", summary_json(report).into_bytes()),
        ("timeseries.csv", csv_bytes(&report.locality_rows, "timeseries.csv")?),
        ("client.csv", csv_bytes(&report.client_rows, "client.csv")?),
        ("events.jsonl", events_jsonl(world).into_bytes()),
        ("ejections.csv", csv_bytes(&ejection_records(world), "ejections.csv")?),
        ("latency_ecdf.csv", csv_bytes(&ecdf_rows(report), "latency_ecdf.csv")?),
        ("hosts.csv", csv_bytes(&crate::metrics::hosts::host_rows(world), "hosts.csv")?),
    ])
}

/// Display name of a pod: `cluster/ordinal`.
pub fn endpoint_name(world: &World, id: EndpointId) -> String {
    let pod = &world.pods[id.idx()];
    format!("{}/{}", world.scenario.kube_clusters[pod.cluster.idx()].name, pod.ordinal)
}

/// `events.jsonl`: one JSON object per line, in time order.
pub fn events_jsonl(world: &World) -> String {
    let mut out = String::new();
    let loc = |l: crate::model::ids::LocalityId| world.topo.localities[l.idx()].to_string();
    let proxy = |p: crate::model::ids::ProxyId| world.proxies[p.idx()].name.clone();
    for e in &world.rec.log {
        let t = e.time.as_secs_f64();
        let v = match &e.kind {
            LogKind::Eject { proxy: p, endpoint, locality, reason, multiplier, planned, healthy_target } => json!({
                "time_s": t, "event": "eject", "proxy": proxy(*p), "endpoint": endpoint_name(world, *endpoint),
                "locality": loc(*locality), "reason": reason, "multiplier": multiplier, "planned_s": planned.as_secs_f64(),
                "endpoint_healthy": healthy_target,
            }),
            LogKind::Uneject { proxy: p, endpoint, locality, ejected_for, multiplier } => json!({
                "time_s": t, "event": "uneject", "proxy": proxy(*p), "endpoint": endpoint_name(world, *endpoint),
                "locality": loc(*locality), "reason": "interval_tick", "ejected_s": ejected_for.as_secs_f64(),
                "multiplier": multiplier,
            }),
            LogKind::EjectOverflow { proxy: p, endpoint, locality, reason } => json!({
                "time_s": t, "event": "eject_overflow", "proxy": proxy(*p), "endpoint": endpoint_name(world, *endpoint),
                "locality": loc(*locality), "reason": reason,
            }),
            LogKind::EjectNotEnforced { proxy: p, endpoint, reason } => json!({
                "time_s": t, "event": "eject_not_enforced", "proxy": proxy(*p), "endpoint": endpoint_name(world, *endpoint), "reason": reason,
            }),
            LogKind::Eds { proxy: p, added, removed, hosts, priorities } => json!({
                "time_s": t, "event": "eds", "proxy": proxy(*p), "added": added, "removed": removed, "hosts": hosts, "priorities": priorities,
            }),
            LogKind::Panic { proxy: p, on, total } => json!({
                "time_s": t, "event": if *on { "panic_on" } else { "panic_off" }, "proxy": proxy(*p), "total_panic": total,
            }),
            LogKind::Phase { index } => json!({
                "time_s": t, "event": "phase", "phase": world.scenario.phases[*index as usize].name,
            }),
            LogKind::Fault { index } => json!({
                "time_s": t, "event": "fault", "fault": world.scenario.faults[*index as usize].name,
            }),
        };
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// `summary.json`.
pub fn summary_json(report: &RunReport) -> String {
    let mut s = serde_json::to_string_pretty(&summary_value(report)).expect("json");
    s.push('\n');
    s
}

/// The contents of `summary.json` as a JSON value.
pub fn summary_value(report: &RunReport) -> serde_json::Value {
    let mut v = serde_json::to_value(report).expect("report serializes");
    if let Some(o) = v.as_object_mut() {
        o.insert("meshsim_version".into(), json!(env!("CARGO_PKG_VERSION")));
        o.insert(
            "definitions".into(),
            json!({
                "share": "a locality's upstream attempts (retries included) over all upstream attempts",
                "failover_s": "from a fault until the faulted localities' share is at or below output.failover_share in a 100 ms slot and stays there, over 1 s windows, until the next fault",
                "failback_s": "from a recovery until each recovered locality's share, over 1 s windows centred on each 100 ms slot, stays within output.failback_tolerance of its first-phase share until the next fault",
            }),
        );
    }
    v
}

/// The terminal summary: one line per phase, then the transitions.
pub fn terminal_summary(report: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} (seed {}): {} requests, {} errors, {} ejections",
        report.scenario, report.seed, report.requests, report.errors, report.ejections
    );
    let _ = write!(s, "{:<28} {:>15}", "phase", "time");
    for l in &report.localities {
        let _ = write!(s, " {:>16}", truncate(l, 16));
    }
    let _ = writeln!(s, " {:>9} {:>8} {:>9}", "requests", "errors", "p99 ms");
    for p in &report.phases {
        let _ = write!(s, "{:<28} {:>15}", truncate(&p.name, 28), format!("{:.0}-{:.0}s", p.start_s, p.end_s));
        for sh in &p.share {
            let _ = write!(s, " {:>15.1}%", sh.share * 100.0);
        }
        let p99 = p.p99_ms.map_or("-".to_string(), |v| format!("{v:.1}"));
        let _ = writeln!(s, " {:>9} {:>8} {:>9}", p.requests, p.errors, p99);
    }
    for t in &report.transitions {
        let time = t.time_s.map_or("did not complete before the next fault".to_string(), |v| format!("{v:.1}s"));
        let _ = writeln!(
            s,
            "{} after \"{}\" at {:.0}s: {} ({} client errors on the way)",
            t.kind, t.fault, t.at_s, time, t.errors
        );
    }
    if report.hung > 0 {
        let _ = writeln!(s, "{} requests never finished: they were black-holed and no timeout ended them", report.hung);
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).chain(std::iter::once('~')).collect() }
}

/// The data of the main chart of a run.
pub fn run_chart(report: &RunReport, scenario: &crate::scenario::Scenario) -> crate::plot::RunChart {
    let n_loc = report.localities.len();
    let n_b = report.client_rows.len();
    let bucket_s = scenario.bucket.as_secs_f64();
    let mut share = vec![vec![0.0; n_b]; n_loc];
    let mut ejected = vec![0.0; n_b];
    for (i, row) in report.locality_rows.iter().enumerate() {
        let (b, l) = (i / n_loc, i % n_loc);
        share[l][b] = row.share;
        ejected[b] += row.ejected as f64;
    }
    let per_s = |f: &dyn Fn(&crate::metrics::report::ClientRow) -> u64| -> Vec<f64> {
        report.client_rows.iter().map(|r| f(r) as f64 / bucket_s).collect()
    };
    let error_series = vec![
        ("upstream 5xx".to_string(), per_s(&|r| r.upstream_5xx)),
        ("connect failure".to_string(), per_s(&|r| r.connect_failure)),
        ("no healthy upstream".to_string(), per_s(&|r| r.no_healthy_upstream)),
        ("overflow".to_string(), per_s(&|r| r.overflow)),
        ("timeout".to_string(), per_s(&|r| r.timeout)),
    ];
    crate::plot::RunChart {
        title: format!("{} (seed {})", report.scenario, report.seed),
        time_s: report.client_rows.iter().map(|r| r.time_s).collect(),
        bucket_s,
        localities: report.localities.clone(),
        share,
        error_series,
        requests_per_s: per_s(&|r| r.requests),
        ejected,
        phases: report.phases.iter().map(|p| crate::plot::PhaseBand::new(p.name.clone(), p.start_s, p.end_s)).collect(),
    }
}

/// One row of `ejections.csv`: one ejection of an endpoint by a proxy.
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
pub struct EjectionRecord {
    /// The proxy that ejected it.
    pub proxy: String,
    /// The endpoint, `cluster/ordinal`.
    pub endpoint: String,
    /// Its locality.
    pub locality: String,
    /// The detector that fired.
    pub reason: String,
    /// Back-off multiplier of this ejection.
    pub multiplier: u32,
    /// When it was ejected, seconds.
    pub start_s: f64,
    /// When it returned (an interval tick) or left EDS; empty if still ejected at the end.
    pub end_s: Option<f64>,
    /// How it ended: `uneject`, `removed` (the pod left EDS) or `end of run`.
    pub ended_by: &'static str,
}

/// Every ejection of the run, from the Eject/Uneject log, in ejection order. An ejected host
/// that leaves EDS (scale-down) has no Uneject: its interval ends at that proxy's first EDS
/// update removing hosts after the ejection.
pub fn ejection_records(world: &World) -> Vec<EjectionRecord> {
    let mut out: Vec<EjectionRecord> = Vec::new();
    // Open ejection per (proxy, endpoint): index into `out`.
    let mut open: std::collections::BTreeMap<(u32, u32), usize> = std::collections::BTreeMap::new();
    for e in &world.rec.log {
        let t = e.time.as_secs_f64();
        match &e.kind {
            LogKind::Eject { proxy, endpoint, locality, reason, multiplier, .. } => {
                open.insert((proxy.0, endpoint.0), out.len());
                out.push(EjectionRecord {
                    proxy: world.proxies[proxy.idx()].name.clone(),
                    endpoint: endpoint_name(world, *endpoint),
                    locality: world.topo.localities[locality.idx()].to_string(),
                    reason: reason.to_string(),
                    multiplier: *multiplier,
                    start_s: t,
                    end_s: None,
                    ended_by: "end of run",
                });
            }
            LogKind::Uneject { proxy, endpoint, .. } => {
                if let Some(i) = open.remove(&(proxy.0, endpoint.0)) {
                    out[i].end_s = Some(t);
                    out[i].ended_by = "uneject";
                }
            }
            LogKind::Eds { proxy, removed, .. } if *removed > 0 => {
                let gone: Vec<(u32, u32)> = open
                    .keys()
                    .filter(|(p, ep)| *p == proxy.0 && !world.proxies[proxy.idx()].hosts[*ep as usize].member)
                    .copied()
                    .collect();
                for k in gone {
                    let i = open.remove(&k).expect("listed");
                    out[i].end_s = Some(t);
                    out[i].ended_by = "removed";
                }
            }
            _ => {}
        }
    }
    out
}

/// The data of the ejection timeline: one row per (proxy, endpoint) that was ever ejected.
pub fn ejection_chart(records: &[EjectionRecord], report: &RunReport) -> crate::plot::EjectionTimeline {
    let mut rows: Vec<crate::plot::EjectionRow> = Vec::new();
    for r in records {
        let iv = crate::plot::EjectionInterval {
            start_s: r.start_s,
            end_s: r.end_s.unwrap_or(f64::NAN),
            multiplier: r.multiplier,
        };
        match rows.iter_mut().find(|x| x.proxy == r.proxy && x.endpoint == r.endpoint) {
            Some(row) => row.intervals.push(iv),
            None => rows.push(crate::plot::EjectionRow {
                proxy: r.proxy.clone(),
                endpoint: r.endpoint.clone(),
                locality: r.locality.clone(),
                intervals: vec![iv],
            }),
        }
    }
    rows.sort_by(|a, b| (&a.proxy, &a.endpoint).cmp(&(&b.proxy, &b.endpoint)));
    crate::plot::EjectionTimeline {
        title: format!("{} (seed {}): ejections", report.scenario, report.seed),
        start_s: 0.0,
        end_s: report.duration_s,
        localities: report.localities.clone(),
        rows,
        phases: report.phases.iter().map(|p| crate::plot::PhaseBand::new(p.name.clone(), p.start_s, p.end_s)).collect(),
    }
}

/// Points of the eCDF drawn per phase: the histogram's quantiles at 1000 evenly spaced ranks,
/// so the curve follows the histogram (within its 6.25 % bucket error) with bounded size.
const ECDF_POINTS: usize = 1000;

/// Latencies below this (local replies such as overflow, which take no time) are drawn at it, so
/// the log axis is not stretched to nanoseconds.
const ECDF_FLOOR_MS: f64 = 0.01;

/// The data of the latency eCDF: one curve per phase with finished requests. Each curve is named
/// with the phase and its number of finished requests (the chart's own `n` counts the sampled
/// points).
pub fn latency_chart(report: &RunReport) -> crate::plot::LatencyEcdf {
    let series = report
        .phases
        .iter()
        .zip(&report.phase_latency)
        .filter(|(_, h)| h.total() > 0)
        .map(|(p, h)| {
            let ms: Vec<f64> = (0..ECDF_POINTS)
                .filter_map(|i| h.quantile((i as f64 + 0.5) / ECDF_POINTS as f64))
                .map(|ns| (ns as f64 / 1e6).max(ECDF_FLOOR_MS))
                .collect();
            (format!("{} ({} finished)", p.name, h.total()), ms)
        })
        .collect();
    crate::plot::LatencyEcdf { title: format!("{} (seed {}): client latency", report.scenario, report.seed), series }
}

/// One row of `latency_ecdf.csv`.
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
pub struct EcdfRow {
    /// Phase name.
    pub phase: String,
    /// Upper bound of a histogram bucket, ms.
    pub latency_ms: f64,
    /// Fraction of the phase's finished requests at or below it.
    pub fraction: f64,
}

/// The eCDF of each phase's latency histogram, one row per non-empty bucket.
pub fn ecdf_rows(report: &RunReport) -> Vec<EcdfRow> {
    let mut out = Vec::new();
    for (p, h) in report.phases.iter().zip(&report.phase_latency) {
        for (ns, f) in h.ecdf() {
            out.push(EcdfRow { phase: p.name.clone(), latency_ms: ns as f64 / 1e6, fraction: (f * 1e6).round() / 1e6 });
        }
    }
    out
}
