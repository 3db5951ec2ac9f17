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

/// Display name of an endpoint: a pod is `cluster/ordinal` (`cluster/NAME-ordinal` for a
/// `[[services]]` host's, `Scenario::pod_name`); an east-west gateway replica (the
/// one host that stands for a remote network's pods) is named as the gateway it is, by its
/// proxy's name (`eastwest-cluster-b-0`), so it never reads like the pod `cluster-b/0`.
pub fn endpoint_name(world: &World, id: EndpointId) -> String {
    let pod = &world.pods[id.idx()];
    match pod.gateway {
        Some(proxy) => world.proxies[proxy.idx()].name.clone(),
        None => {
            let s = &world.scenario;
            s.pod_name(&s.kube_clusters[pod.cluster.idx()].name, pod.host as usize, pod.ordinal)
        }
    }
}

/// What kind of host an endpoint is: `pod` or `east-west gateway`.
pub fn endpoint_kind(world: &World, id: EndpointId) -> &'static str {
    if world.pods[id.idx()].gateway.is_some() { "east-west gateway" } else { "pod" }
}

/// `events.jsonl`: one JSON object per line, in time order.
///
/// Outlier events carry, besides meshsim's own fields, those of Envoy's outlier event log
/// (`envoy.data.cluster.v3.OutlierDetectionEvent`, written by `EventLoggerImpl` in
/// `source/common/upstream/outlier_detection_impl.cc`) with Envoy's names: `type`, `cluster_name`,
/// `upstream_url`, `action`, `num_ejections`, `enforced`, `secs_since_last_action` (left out when
/// there was no earlier action, as Envoy does) and the `eject_*_event` figures. meshsim has no IP
/// addresses, so `upstream_url` is the endpoint's name.
pub fn events_jsonl(world: &World) -> String {
    let mut out = String::new();
    let loc = |l: crate::model::ids::LocalityId| world.topo.localities[l.idx()].to_string();
    let proxy = |p: crate::model::ids::ProxyId| world.proxies[p.idx()].name.clone();
    // Envoy's name of the proxy's cluster: `outbound|PORT|SUBSET|HOST`, or
    // `outbound_.PORT_.SUBSET_.HOST` in an east-west gateway.
    let cluster = |p: crate::model::ids::ProxyId, c: crate::model::proxy::ClusterIdx| {
        world.proxies[p.idx()].clusters[c as usize].name.clone()
    };
    // EDS and panic events name their cluster only in a proxy with several (subsets), so the
    // log of a proxy with one cluster reads as before.
    let several = |p: crate::model::ids::ProxyId| world.proxies[p.idx()].clusters.len() > 1;
    for e in &world.rec.log {
        let t = e.time.as_secs_f64();
        let v = match &e.kind {
            LogKind::Eject {
                proxy: p,
                cluster: c,
                endpoint,
                locality,
                kind,
                multiplier,
                planned,
                healthy_target,
                log,
                figures,
            } => {
                let mut v = json!({
                    "time_s": t, "event": "eject", "proxy": proxy(*p), "endpoint": endpoint_name(world, *endpoint),
                    "locality": loc(*locality), "reason": kind.stat_name(), "multiplier": multiplier,
                    "planned_s": planned.as_secs_f64(), "endpoint_healthy": healthy_target,
                });
                envoy_eject_fields(&mut v, cluster(*p, *c), endpoint_name(world, *endpoint), *kind, true, log, figures);
                v
            }
            LogKind::Uneject { proxy: p, cluster: c, endpoint, locality, ejected_for, multiplier, num_ejections } => {
                json!({
                    "time_s": t, "event": "uneject", "proxy": proxy(*p), "endpoint": endpoint_name(world, *endpoint),
                    "locality": loc(*locality), "reason": "interval_tick", "ejected_s": ejected_for.as_secs_f64(),
                    "multiplier": multiplier,
                    "cluster_name": cluster(*p, *c), "upstream_url": endpoint_name(world, *endpoint), "action": "UNEJECT",
                    "num_ejections": num_ejections, "secs_since_last_action": whole_secs(*ejected_for),
                })
            }
            LogKind::EjectOverflow { proxy: p, cluster: c, endpoint, locality, kind } => json!({
                "time_s": t, "event": "eject_overflow", "proxy": proxy(*p), "endpoint": endpoint_name(world, *endpoint),
                "locality": loc(*locality), "reason": kind.stat_name(),
                "type": kind.envoy_type(), "cluster_name": cluster(*p, *c), "upstream_url": endpoint_name(world, *endpoint),
            }),
            LogKind::EjectNotEnforced { proxy: p, cluster: c, endpoint, kind, log, figures } => {
                let mut v = json!({
                    "time_s": t, "event": "eject_not_enforced", "proxy": proxy(*p), "endpoint": endpoint_name(world, *endpoint),
                    "reason": kind.stat_name(),
                });
                envoy_eject_fields(
                    &mut v,
                    cluster(*p, *c),
                    endpoint_name(world, *endpoint),
                    *kind,
                    false,
                    log,
                    figures,
                );
                v
            }
            LogKind::IntervalTick { proxy: p, cluster: c, ejected, hosts, success_rate } => {
                let mut v = json!({
                    "time_s": t, "event": "interval_tick", "proxy": proxy(*p), "cluster_name": cluster(*p, *c),
                    "ejected": ejected, "hosts": hosts,
                });
                if let Some(sr) = success_rate {
                    v["cluster_average_success_rate"] = json!(sr.mean);
                    v["cluster_success_rate_ejection_threshold"] = json!(sr.ejection_threshold);
                }
                v
            }
            LogKind::Eds { proxy: p, cluster: c, added, removed, hosts, priorities } => {
                let mut v = json!({
                    "time_s": t, "event": "eds", "proxy": proxy(*p), "added": added, "removed": removed, "hosts": hosts, "priorities": priorities,
                });
                if several(*p) {
                    v["cluster_name"] = json!(cluster(*p, *c));
                }
                v
            }
            LogKind::Panic { proxy: p, cluster: c, on, total, priorities } => {
                let mut v = json!({
                    "time_s": t, "event": if *on { "panic_on" } else { "panic_off" }, "proxy": proxy(*p), "total_panic": total,
                    "priorities": priorities,
                });
                if several(*p) {
                    v["cluster_name"] = json!(cluster(*p, *c));
                }
                v
            }
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

/// Whole seconds of `d`, truncated as Envoy's `duration_cast<seconds>` does.
fn whole_secs(d: crate::engine::SimDuration) -> u64 {
    d.as_nanos() / 1_000_000_000
}

/// Adds the fields of Envoy's `OutlierDetectionEvent` for an ejection (`logEject`) to `v`.
fn envoy_eject_fields(
    v: &mut serde_json::Value,
    cluster_name: String,
    upstream_url: String,
    kind: crate::envoy::outlier::EjectionKind,
    enforced: bool,
    log: &crate::envoy::outlier::HostLogState,
    figures: &Option<crate::envoy::outlier::EjectFigures>,
) {
    use crate::envoy::outlier::EjectionKind as K;
    v["type"] = json!(kind.envoy_type());
    v["cluster_name"] = json!(cluster_name);
    v["upstream_url"] = json!(upstream_url);
    v["action"] = json!("EJECT");
    v["num_ejections"] = json!(log.num_ejections);
    v["enforced"] = json!(enforced);
    if let Some(d) = log.since_last_action {
        v["secs_since_last_action"] = json!(whole_secs(d));
    }
    match (kind, figures) {
        (K::SuccessRate | K::SuccessRateLocalOrigin, Some(f)) => {
            v["eject_success_rate_event"] = json!({
                "host_success_rate": f.host_success_rate,
                "cluster_average_success_rate": f.cluster_average_success_rate,
                "cluster_success_rate_ejection_threshold": f.cluster_success_rate_ejection_threshold,
            });
        }
        (K::FailurePercentage | K::FailurePercentageLocalOrigin, Some(f)) => {
            v["eject_failure_percentage_event"] = json!({ "host_success_rate": f.host_success_rate });
        }
        _ => v["eject_consecutive_event"] = json!({}),
    }
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
                "failover_s": "settled: from a fault until the faulted localities' share is at or below output.failover_share in a 100 ms slot and stays there, over 1 s windows, until the next fault; the second after each probe does not count",
                "left_s": "from a fault to the first 100 ms slot with attempts in which the faulted localities' share is at or below output.failover_share",
                "probes": "un-ejections of the faulted localities' endpoints (by any proxy) after traffic left and before the next fault; probe_attempts counts the attempts to those localities in the second after each",
                "ejected_endpoints": "endpoints ejected by at least one proxy, each counted once; ejected_pairs counts (proxy, endpoint) pairs",
                "local_replies": "overflow and no_healthy_upstream errors are answered by the client proxy itself, without an upstream attempt",
                "failback_s": "from a recovery until each recovered locality's share, over 1 s windows centred on each 100 ms slot, stays within output.failback_tolerance of its first-phase share until the next fault",
            }),
        );
    }
    v
}

/// The terminal summary: one line per phase (share per locality under labels that stay unique,
/// errors named by cause), then the transitions.
pub fn terminal_summary(report: &RunReport) -> String {
    let mut s = String::new();
    let total_causes = phases_causes(report);
    let _ = writeln!(
        s,
        "{} (seed {}): {} requests, {} errors{}, {} ejections",
        report.scenario,
        report.seed,
        report.requests,
        report.errors,
        if total_causes.is_empty() { String::new() } else { format!(" ({total_causes})") },
        report.ejections
    );
    let labels = crate::plot::locality_labels(&report.localities);
    let widths: Vec<usize> = labels.iter().map(|l| l.chars().count().max(7)).collect();
    let name_w = report.phases.iter().map(|p| p.name.chars().count()).max().unwrap_or(0).clamp(5, 40);
    let _ = write!(s, "{:<name_w$} {:>9}", "phase", "time");
    for (l, w) in labels.iter().zip(&widths) {
        let _ = write!(s, "  {l:>w$}");
    }
    let _ = writeln!(s, "  {:>9} {:>7} {:>7}  errors by cause", "requests", "errors", "p99 ms");
    for p in &report.phases {
        let _ = write!(s, "{:<name_w$} {:>9}", p.name, format!("{:.0}-{:.0}s", p.start_s, p.end_s));
        for (sh, w) in p.share.iter().zip(&widths) {
            let _ = write!(s, "  {:>w$}", format!("{:.1}%", sh.share * 100.0));
        }
        let p99 = p.p99_ms.map_or("-".to_string(), |v| format!("{v:.1}"));
        let failed = p.failed_attempts.total();
        let mut why = causes(&p.errors_by_cause);
        if failed > 0 {
            let sep = if why.is_empty() { "" } else { "; " };
            why = format!("{why}{sep}{failed} failed upstream attempts");
        }
        let _ = writeln!(s, "  {:>9} {:>7} {:>7}  {why}", p.requests, p.errors, p99);
    }
    for t in &report.transitions {
        let _ = writeln!(s, "{}", transition_line(t));
    }
    if report.hung > 0 {
        let _ = writeln!(s, "{} requests never finished: they were black-holed and no timeout ended them", report.hung);
    }
    // Trailing spaces of rows without errors.
    s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n") + "\n"
}

/// Client errors by cause in words, largest first, e.g. `1552 overflow, 3 upstream 5xx`; empty
/// when there are none.
pub fn causes(e: &crate::metrics::report::ErrorCounts) -> String {
    let mut v = [
        (e.overflow, "overflow"),
        (e.upstream_5xx, "upstream 5xx"),
        (e.no_healthy_upstream, "no healthy upstream"),
        (e.connect_failure, "connect failure"),
        (e.timeout, "timeout"),
        (e.no_route, "no route (404)"),
    ];
    v.sort_by_key(|x| std::cmp::Reverse(x.0));
    v.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect::<Vec<_>>().join(", ")
}

fn phases_causes(report: &RunReport) -> String {
    let mut e = crate::metrics::report::ErrorCounts::default();
    for p in &report.phases {
        let c = &p.errors_by_cause;
        e.upstream_5xx += c.upstream_5xx;
        e.connect_failure += c.connect_failure;
        e.no_healthy_upstream += c.no_healthy_upstream;
        e.overflow += c.overflow;
        e.timeout += c.timeout;
        e.no_route += c.no_route;
    }
    causes(&e)
}

/// One transition for the console: when traffic left and settled (a failover), the probes, and
/// the client errors until then by cause.
pub fn transition_line(t: &crate::metrics::report::Transition) -> String {
    let errors = if t.errors == 0 {
        "no client errors until then".to_string()
    } else {
        format!("{} client errors until then: {}", t.errors, causes(&t.errors_by_cause))
    };
    let head = format!("{} after \"{}\" at {}", t.kind, t.fault, secs(t.at_s));
    match &t.failover {
        Some(f) => {
            let left = f.left_s.map_or("traffic never left".to_string(), |x| format!("traffic left in {}", secs(x)));
            let settled = t
                .time_s
                .map_or("did not settle before the next fault".to_string(), |x| format!("settled in {}", secs(x)));
            let probes = match f.probes {
                0 => String::new(),
                n => {
                    let (a, b) = (f.probe_times_s[0], f.probe_times_s[f.probe_times_s.len() - 1]);
                    let when =
                        if b - a < 0.05 { format!("at {}", secs(a)) } else { format!("{}-{}", secs(a), secs(b)) };
                    let probe = if n == 1 { "probe" } else { "probes" };
                    format!("; {n} {probe} after un-ejections, {when}, drew {} attempts", f.probe_attempts)
                }
            };
            format!("{head}: {left}, {settled} ({errors}){probes}")
        }
        None => {
            let took = t.time_s.map_or("did not complete before the next fault".to_string(), secs);
            format!("{head}: {took} ({errors})")
        }
    }
}

/// The data of the main chart of a run.
pub fn run_chart(report: &RunReport, world: &World) -> crate::plot::RunChart {
    let scenario = &world.scenario;
    let n_loc = report.localities.len();
    let n_b = report.client_rows.len();
    let bucket_s = scenario.bucket.as_secs_f64();
    let mut share = vec![vec![0.0; n_b]; n_loc];
    for (i, row) in report.locality_rows.iter().enumerate() {
        let (b, l) = (i / n_loc, i % n_loc);
        share[l][b] = row.share;
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
    // Injected aborts get a line only when there are some, so charts without faults stay as they were.
    let mut error_series = error_series;
    if report.client_rows.iter().any(|r| r.fault_abort > 0) {
        error_series.push(("fault abort".to_string(), per_s(&|r| r.fault_abort)));
    }
    // Likewise requests no route matched (404 NR).
    if report.client_rows.iter().any(|r| r.no_route > 0) {
        error_series.push(("no route".to_string(), per_s(&|r| r.no_route)));
    }
    let failed_attempts = vec![
        ("upstream 5xx".to_string(), per_s(&|r| r.attempts_5xx)),
        ("connect failure".to_string(), per_s(&|r| r.attempts_connect_failure)),
        ("timeout".to_string(), per_s(&|r| r.attempts_timeout)),
    ];
    let title = if scenario.description.is_empty() { report.scenario.clone() } else { scenario.description.clone() };
    crate::plot::RunChart {
        title,
        subtitle: format!("{}, seed {}", report.scenario, report.seed),
        time_s: report.client_rows.iter().map(|r| r.time_s).collect(),
        bucket_s,
        localities: report.localities.clone(),
        share,
        error_series,
        failed_attempts,
        requests_per_s: per_s(&|r| r.requests),
        ejected: ejected_layers(&report.ejected_by, world.proxies.len()),
        panic: panic_rows(world, n_b),
        marks: transition_marks(report),
        phases: report.phases.iter().map(|p| crate::plot::PhaseBand::new(p.name.clone(), p.start_s, p.end_s)).collect(),
    }
}

/// The ejected-endpoints layers of the chart: endpoints ejected by exactly `k` of the run's
/// `n_proxies` proxies, one layer per `k` (in ranges of `k` when there are more than five).
fn ejected_layers(ejected_by: &[Vec<u32>], n_proxies: usize) -> Vec<(String, Vec<f64>)> {
    let max_k = ejected_by.iter().map(Vec::len).max().unwrap_or(0);
    if max_k == 0 {
        return Vec::new();
    }
    // Ranges of k, 1-based and inclusive.
    let ranges: Vec<(usize, usize)> = if max_k <= 5 {
        (1..=max_k).map(|k| (k, k)).collect()
    } else {
        let mid = max_k / 2;
        vec![(1, 1), (2, mid), (mid + 1, max_k - 1), (max_k, max_k)]
    };
    let noun = if n_proxies == 1 { "proxy" } else { "proxies" };
    ranges
        .into_iter()
        .map(|(a, b)| {
            let label = if a == b {
                format!("by {a} of {n_proxies} {noun}")
            } else {
                format!("by {a}-{b} of {n_proxies} {noun}")
            };
            let values = ejected_by.iter().map(|c| c.iter().take(b).skip(a - 1).map(|x| f64::from(*x)).sum()).collect();
            (label, values)
        })
        .collect()
}

/// Per priority, the share of proxies with it in panic, averaged over each output bucket (from
/// the `panic_on` / `panic_off` events).
fn panic_rows(world: &World, n_buckets: usize) -> Vec<(String, Vec<f64>)> {
    let bucket_ns = world.scenario.bucket.as_nanos().max(1);
    let end_ns = world.scenario.end().as_nanos();
    let n_proxies = world.proxies.len().max(1);
    let mut now: Vec<Vec<u32>> = vec![Vec::new(); world.proxies.len()];
    let mut since: Vec<u64> = vec![0; world.proxies.len()];
    // ns in panic per priority and bucket.
    let mut acc: Vec<Vec<u64>> = Vec::new();
    let add = |prios: &[u32], from: u64, to: u64, acc: &mut Vec<Vec<u64>>| {
        for &p in prios {
            let p = p as usize;
            if acc.len() <= p {
                acc.resize(p + 1, vec![0; n_buckets]);
            }
            let mut t = from;
            while t < to {
                let b = (t / bucket_ns) as usize;
                let b_end = ((b as u64 + 1) * bucket_ns).min(to);
                if b < n_buckets {
                    acc[p][b] += b_end - t;
                }
                t = b_end;
            }
        }
    };
    for e in &world.rec.log {
        if let LogKind::Panic { proxy, cluster, priorities, .. } = &e.kind
            && world.is_route_cluster(*proxy, *cluster)
        {
            let i = proxy.idx();
            let t = e.time.as_nanos();
            add(&now[i], since[i], t, &mut acc);
            now[i] = priorities.clone();
            since[i] = t;
        }
    }
    for i in 0..now.len() {
        add(&now[i], since[i], end_ns, &mut acc);
    }
    acc.into_iter()
        .enumerate()
        .map(|(p, ns)| {
            let values = ns
                .iter()
                .enumerate()
                .map(|(b, v)| {
                    let width = (end_ns.min((b as u64 + 1) * bucket_ns)).saturating_sub(b as u64 * bucket_ns).max(1);
                    *v as f64 / (width as f64 * n_proxies as f64)
                })
                .collect();
            (format!("P{p}"), values)
        })
        .collect()
}

/// The failover and fail-back instants of the chart: when traffic left and when it settled (one
/// mark when they coincide), and when it failed back.
fn transition_marks(report: &RunReport) -> Vec<crate::plot::TimeMark> {
    let mut marks = Vec::new();
    let mark = |t: f64, label: String| crate::plot::TimeMark { t_s: t, label };
    for t in &report.transitions {
        match (&t.failover, t.time_s) {
            (Some(f), settled) => {
                let left = f.left_s;
                match (left, settled) {
                    (Some(l), Some(s)) if (s - l).abs() < 0.05 => {
                        marks.push(mark(t.at_s + s, format!("failed over +{}", secs(s))));
                    }
                    (l, s) => {
                        if let Some(l) = l {
                            marks.push(mark(t.at_s + l, format!("traffic left +{}", secs(l))));
                        }
                        if let Some(s) = s {
                            marks.push(mark(t.at_s + s, format!("settled +{}", secs(s))));
                        }
                    }
                }
            }
            (None, Some(s)) => marks.push(mark(t.at_s + s, format!("failed back +{}", secs(s)))),
            (None, None) => {}
        }
    }
    marks
}

/// Seconds for people: one decimal, `s`.
fn secs(x: f64) -> String {
    format!("{x:.1}s")
}

/// One row of `ejections.csv`: one ejection of an endpoint by a proxy.
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
pub struct EjectionRecord {
    /// The proxy that ejected it.
    pub proxy: String,
    /// The proxy's Envoy cluster whose detector ejected it (`outbound|80|v1|HOST`, as
    /// `events.jsonl`'s `cluster_name`): each cluster of a proxy ejects on its own.
    pub cluster: String,
    /// The endpoint: a pod `cluster/ordinal`, or an east-west gateway by its proxy's name.
    pub endpoint: String,
    /// `pod` or `east-west gateway`.
    pub endpoint_kind: &'static str,
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
/// that leaves EDS (scale-down) has no Uneject: its interval ends with the EDS update that
/// removed it from that proxy.
pub fn ejection_records(world: &World) -> Vec<EjectionRecord> {
    let mut out: Vec<EjectionRecord> = Vec::new();
    // Every end of an ejection (un-ejection or removal), by (time, proxy, cluster, endpoint).
    let ended: std::collections::BTreeSet<(u64, u32, crate::model::proxy::ClusterIdx, u32)> = world
        .rec
        .ejection_changes
        .iter()
        .filter(|c| c.delta < 0)
        .map(|c| (c.time.as_nanos(), c.proxy.0, c.cluster, c.endpoint.0))
        .collect();
    // Open ejection per (proxy, cluster, endpoint): index into `out`.
    let mut open: std::collections::BTreeMap<(u32, crate::model::proxy::ClusterIdx, u32), usize> =
        std::collections::BTreeMap::new();
    for e in &world.rec.log {
        let t = e.time.as_secs_f64();
        match &e.kind {
            LogKind::Eject { proxy, cluster, endpoint, locality, kind, multiplier, .. } => {
                open.insert((proxy.0, *cluster, endpoint.0), out.len());
                out.push(EjectionRecord {
                    proxy: world.proxies[proxy.idx()].name.clone(),
                    cluster: world.proxies[proxy.idx()].clusters[*cluster as usize].name.clone(),
                    endpoint: endpoint_name(world, *endpoint),
                    endpoint_kind: endpoint_kind(world, *endpoint),
                    locality: world.topo.localities[locality.idx()].to_string(),
                    reason: kind.stat_name().to_string(),
                    multiplier: *multiplier,
                    start_s: t,
                    end_s: None,
                    ended_by: "end of run",
                });
            }
            LogKind::Uneject { proxy, cluster, endpoint, .. } => {
                if let Some(i) = open.remove(&(proxy.0, *cluster, endpoint.0)) {
                    out[i].end_s = Some(t);
                    out[i].ended_by = "uneject";
                }
            }
            LogKind::Eds { proxy, cluster, removed, .. } if *removed > 0 => {
                let gone: Vec<(u32, crate::model::proxy::ClusterIdx, u32)> = open
                    .keys()
                    .filter(|(p, c, ep)| {
                        *p == proxy.0 && *c == *cluster && ended.contains(&(e.time.as_nanos(), *p, *c, *ep))
                    })
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

/// The subset an Envoy cluster name is built for (empty for the default cluster):
/// `outbound|80|v1|HOST` in a client, `outbound_.80_.v1_.HOST` in an east-west gateway.
fn subset_of_cluster(name: &str) -> &str {
    if name.contains('|') { name.split('|').nth(2) } else { name.split("_.").nth(2) }.unwrap_or("")
}

/// The data of the ejection timeline: one row per (proxy, cluster, endpoint) that was ever
/// ejected.
pub fn ejection_chart(records: &[EjectionRecord], report: &RunReport) -> crate::plot::EjectionTimeline {
    let mut rows: Vec<crate::plot::EjectionRow> = Vec::new();
    for r in records {
        let iv = crate::plot::EjectionInterval {
            start_s: r.start_s,
            end_s: r.end_s.unwrap_or(f64::NAN),
            multiplier: r.multiplier,
        };
        // Each cluster of a proxy ejects on its own: a subset's cluster gets rows of its own,
        // its proxy labelled `ingress-0 [v1]`.
        let proxy = match subset_of_cluster(&r.cluster) {
            "" => r.proxy.clone(),
            subset => format!("{} [{subset}]", r.proxy),
        };
        match rows.iter_mut().find(|x| x.proxy == proxy && x.endpoint == r.endpoint) {
            Some(row) => row.intervals.push(iv),
            None => rows.push(crate::plot::EjectionRow {
                proxy,
                endpoint: r.endpoint.clone(),
                gateway: r.endpoint_kind != "pod",
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

/// The data of the latency eCDF: one curve per phase with finished requests, drawn from the
/// phase's histogram (the steps at the values its quantiles report, so the legend's p50 and p99
/// are `summary.json`'s and lie on the curve). Local replies (overflow, no healthy upstream:
/// answered by the client proxy itself, in about no time) stay in the curve, as the client saw
/// them, but the axis is fitted to the requests answered upstream and they are drawn at its left
/// edge, as the legend says.
pub fn latency_chart(report: &RunReport) -> crate::plot::LatencyEcdf {
    let mut any_local = false;
    let series = report
        .phases
        .iter()
        .zip(report.phase_latency.iter().zip(&report.phase_local_latency))
        .filter(|(_, (h, _))| h.total() > 0)
        .map(|(p, (all, local))| {
            let upstream = all.without(local);
            let fit_from = upstream.min_bucket_low().or(all.min_bucket_low()).map(|ns| ns as f64 / 1e6);
            let note = if local.total() == 0 {
                String::new()
            } else {
                any_local = true;
                let c = &p.errors_by_cause;
                let what = [
                    (c.overflow > 0, "overflow"),
                    (c.no_healthy_upstream > 0, "no healthy upstream"),
                    (c.fault_abort > 0, "fault abort"),
                    (c.no_route > 0, "no route"),
                ]
                .iter()
                .filter(|(any, _)| *any)
                .map(|(_, name)| *name)
                .collect::<Vec<_>>()
                .join(", ");
                format!("incl. {} local replies ({what})", local.total())
            };
            crate::plot::EcdfCurve {
                name: p.name.clone(),
                requests: all.total(),
                points: all.ecdf_mid().into_iter().map(|(ns, f)| (ns as f64 / 1e6, f)).collect(),
                p50_ms: p.p50_ms,
                p99_ms: p.p99_ms,
                fit_from_ms: fit_from,
                note,
            }
        })
        .collect();
    let footnote = if any_local {
        "Local replies (answered by the proxy itself, in no time) count in the curves and quantiles; they are drawn \
         at the left edge."
            .to_string()
    } else {
        String::new()
    };
    crate::plot::LatencyEcdf {
        title: format!("{} (seed {}): client latency", report.scenario, report.seed),
        series,
        footnote,
    }
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

#[cfg(test)]
mod tests {
    /// The subset read back from Envoy's cluster names, as `model::build` writes them.
    #[test]
    fn subset_of_cluster_reads_both_name_forms() {
        let h = "svc.default.svc.cluster.local";
        assert_eq!(super::subset_of_cluster(&format!("outbound|80||{h}")), "");
        assert_eq!(super::subset_of_cluster(&format!("outbound|80|v1|{h}")), "v1");
        assert_eq!(super::subset_of_cluster(&format!("outbound_.80_._.{h}")), "");
        assert_eq!(super::subset_of_cluster(&format!("outbound_.80_.v1_.{h}")), "v1");
    }
}
