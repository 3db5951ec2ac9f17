//! The metrics of one sweep run, measured from its report and event log. `docs/sweeps.md` defines
//! each one; [`METRICS`] holds the same definitions for `--help`, tables and charts.
//!
//! Background faults (`phase = false`, such as a 1 % random 503 rate) are noise, not the failure
//! under study: they start no failover, and ejecting an endpoint that suffers only from them is a
//! false ejection.

use crate::engine::SimTime;
use crate::metrics::recorder::{ClientOutcome, FINE_SLOT, LogKind, Recorder};
use crate::metrics::report::{RunTotals, Transition};
use crate::model::RunOutput;
use crate::model::proxy::ClusterIdx;
use crate::scenario::Scenario;

/// Whether a metric is better low or high.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Lower is better.
    Minimize,
    /// Higher is better.
    Maximize,
}

impl Goal {
    /// `minimize` or `maximize`.
    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Minimize => "minimize",
            Goal::Maximize => "maximize",
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Goal::Minimize => a < b,
            Goal::Maximize => a > b,
        }
    }
}

/// The definition of one metric.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Column name, e.g. `failover_s`.
    pub name: &'static str,
    /// Chart axis title with unit.
    pub label: &'static str,
    /// One-sentence definition.
    pub doc: &'static str,
    /// Which direction is better (for heatmap outlines and Pareto fronts).
    pub goal: Goal,
    /// Whether a run may have no value (e.g. no failover completed).
    pub optional: bool,
}

/// Number of metrics per run.
pub const N_METRICS: usize = 10;

/// The metrics, in column order.
pub const METRICS: [MetricDef; N_METRICS] = [
    MetricDef {
        name: "errors",
        label: "client errors (whole run)",
        doc: "client requests that ended in an error during the whole run",
        goal: Goal::Minimize,
        optional: false,
    },
    MetricDef {
        name: "errors_failover",
        label: "client errors, failure to recovery",
        doc: "client errors from each failure fault until the next failure or recovery fault (or the end)",
        goal: Goal::Minimize,
        optional: true,
    },
    MetricDef {
        name: "errors_recovery",
        label: "client errors after recovery",
        doc: "client errors from each recovery fault until the next failure fault (or the end)",
        goal: Goal::Minimize,
        optional: true,
    },
    MetricDef {
        name: "failover_s",
        label: "time to fail over (s)",
        doc: "seconds from the first failure fault until the faulted localities' share stays at or below output.failover_share (settled: probes after un-ejections aside); empty if it never does",
        goal: Goal::Minimize,
        optional: true,
    },
    MetricDef {
        name: "failback_s",
        label: "time to fail back (s)",
        doc: "seconds from the last recovery until the recovered localities' share stays within output.failback_tolerance of its healthy share; empty if it never does",
        goal: Goal::Minimize,
        optional: true,
    },
    MetricDef {
        name: "false_ejections",
        label: "false ejections",
        doc: "ejections of endpoints that no failure fault affected at the time (background noise aside)",
        goal: Goal::Minimize,
        optional: false,
    },
    MetricDef {
        name: "ejections",
        label: "ejections",
        doc: "all ejections, summed over client proxies",
        goal: Goal::Minimize,
        optional: false,
    },
    MetricDef {
        name: "ejections_overflow",
        label: "ejections refused by maxEjectionPercent",
        doc: "detections that maxEjectionPercent refused to eject",
        goal: Goal::Minimize,
        optional: false,
    },
    MetricDef {
        name: "panic_s",
        label: "panic time (proxy-seconds)",
        doc: "seconds a client proxy's load balancer spent in panic mode, summed over proxies",
        goal: Goal::Minimize,
        optional: false,
    },
    MetricDef {
        name: "requests",
        label: "client requests",
        doc: "client requests started during the run",
        goal: Goal::Maximize,
        optional: false,
    },
];

/// The index of a metric by name.
pub fn metric_index(name: &str) -> Option<usize> {
    METRICS.iter().position(|m| m.name == name)
}

/// The names of all metrics, comma-separated (for error messages).
pub fn metric_names() -> String {
    METRICS.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
}

/// The metrics of one run, in [`METRICS`] order; `None` where a run has no value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunMetrics(pub [Option<f64>; N_METRICS]);

impl RunMetrics {
    /// The value of metric `i`.
    pub fn get(&self, i: usize) -> Option<f64> {
        self.0[i]
    }
}

/// Measures a finished run from its totals ([`crate::metrics::report::totals`]).
pub fn measure(out: &RunOutput, report: &RunTotals) -> RunMetrics {
    let world = &out.world;
    let s: &Scenario = &world.scenario;
    let rec = &world.rec;
    let studied: Vec<&Transition> = report.transitions.iter().filter(|t| !is_background(s, t)).collect();
    let failover_s = studied.iter().find(|t| t.kind == "failover").and_then(|t| t.time_s);
    let failback_s = studied.iter().rev().find(|t| t.kind == "failback").and_then(|t| t.time_s);
    let (errors_failover, errors_recovery) = window_errors(rec, &studied);
    let false_ejections = report.false_ejections;
    let route_clusters: Vec<ClusterIdx> =
        world.proxies.iter().map(|p| p.route_cluster.unwrap_or(crate::model::proxy::DEFAULT_CLUSTER)).collect();
    let panic_ns = panic_nanos(&rec.log, &route_clusters, s.end());
    RunMetrics([
        Some(report.errors as f64),
        errors_failover.map(|e| e as f64),
        errors_recovery.map(|e| e as f64),
        failover_s,
        failback_s,
        Some(false_ejections as f64),
        Some(report.ejections as f64),
        Some(report.ejections_overflow as f64),
        Some((panic_ns as f64 / 1e3).round() / 1e6),
        Some(report.requests as f64),
    ])
}

/// Whether a transition was started by a background fault (`phase = false`) rather than by the
/// failure under study.
fn is_background(s: &Scenario, t: &Transition) -> bool {
    let same = |f: &&crate::scenario::FaultSpec| f.name == t.fault && f.at.as_secs_f64() == t.at_s;
    s.faults.iter().filter(same).all(|f| !f.starts_phase)
}

/// Client errors in the windows that start at each failover and at each fail-back transition and
/// end at the next studied transition (or the end of the run). `None` when there is no such window.
fn window_errors(rec: &Recorder, studied: &[&Transition]) -> (Option<u64>, Option<u64>) {
    let slot_of = |t_s: f64| ((t_s * 1e9).round() as u64 / FINE_SLOT.as_nanos()) as usize;
    let errors_in = |a: usize, b: usize| -> u64 {
        (a..b.min(rec.n_slots()))
            .map(|s| ClientOutcome::ERRORS.iter().map(|o| u64::from(rec.finished_in(s, *o))).sum::<u64>())
            .sum()
    };
    let (mut failover, mut recovery) = (None, None);
    for (i, t) in studied.iter().enumerate() {
        let end = studied.get(i + 1).map_or(rec.n_slots(), |n| slot_of(n.at_s));
        let e = errors_in(slot_of(t.at_s), end);
        let slot = if t.kind == "failover" { &mut failover } else { &mut recovery };
        *slot = Some(slot.unwrap_or(0) + e);
    }
    (failover, recovery)
}

/// Proxy-nanoseconds spent in panic: each proxy is in panic from a `panic_on` to the next
/// `panic_off` (or the end of the run) of the cluster its route sends to (`route_clusters`, per
/// proxy).
fn panic_nanos(log: &[crate::metrics::recorder::LogEvent], route_clusters: &[ClusterIdx], end: SimTime) -> u64 {
    let mut since: Vec<Option<SimTime>> = vec![None; route_clusters.len()];
    let mut total = 0u64;
    for e in log {
        if let LogKind::Panic { proxy, cluster, on, .. } = &e.kind
            && route_clusters[proxy.idx()] == *cluster
        {
            let (proxy, on) = (*proxy, *on);
            let slot = &mut since[proxy.idx()];
            match (on, *slot) {
                (true, None) => *slot = Some(e.time),
                (false, Some(start)) => {
                    total += e.time.as_nanos() - start.as_nanos();
                    *slot = None;
                }
                _ => {}
            }
        }
    }
    total + since.iter().flatten().map(|s| end.as_nanos().saturating_sub(s.as_nanos())).sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder::LogEvent;
    use crate::model::ids::ProxyId;

    #[test]
    fn panic_time_sums_intervals_per_proxy() {
        let ev = |t: u64, p: u32, on: bool| LogEvent {
            time: SimTime::from_secs(t),
            kind: LogKind::Panic { proxy: ProxyId(p), cluster: 0, on, total: false, priorities: Vec::new() },
        };
        // Proxy 0: 10–15 s and 20 s to the end (100 s); proxy 1: 30–32 s. A repeated `on` keeps
        // the first start.
        let log = vec![
            ev(10, 0, true),
            ev(12, 0, true),
            ev(15, 0, false),
            ev(20, 0, true),
            ev(30, 1, true),
            ev(32, 1, false),
        ];
        assert_eq!(panic_nanos(&log, &[0, 0], SimTime::from_secs(100)), (5 + 80 + 2) * 1_000_000_000);
    }

    #[test]
    fn metric_names_are_unique() {
        for (i, m) in METRICS.iter().enumerate() {
            assert_eq!(metric_index(m.name), Some(i));
        }
    }
}
