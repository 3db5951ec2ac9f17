//! Measuring one expectation on a finished run, from the recorder's counts and event log and
//! from the report's transitions.

use crate::engine::{SimDuration, SimTime};
use crate::metrics::histogram::Histogram;
use crate::metrics::recorder::{ClientOutcome, FINE_SLOT, LogKind, Recorder};
use crate::metrics::report::RunReport;
use crate::model::world::World;
use crate::scenario::Scenario;
use crate::scenario::expect::{Check, ErrorCause, Expectation, FailoverMeasure, Window};

/// A measurement: the value and the bound, as text, and whether it passed.
pub(super) struct Measured {
    pub passed: bool,
    pub measured: String,
    pub bound: String,
}

pub(super) fn measure(e: &Expectation, world: &World, report: &RunReport) -> Measured {
    let s = &world.scenario;
    let (start, end) = window_bounds(&e.window, s);
    let within = window_text(&e.window, start, end);
    match &e.check {
        Check::Share { locality, matched, min, max } => {
            let share = share(&world.rec, world, matched, start, end);
            match share {
                Some(x) => Measured {
                    passed: *min <= x && x <= *max,
                    measured: format!("share of {locality} {within} = {x:.3}"),
                    bound: format!("in [{min:.3}, {max:.3}]"),
                },
                None => Measured {
                    passed: false,
                    measured: format!("no upstream attempts {within}, so no share of {locality}"),
                    bound: format!("in [{min:.3}, {max:.3}]"),
                },
            }
        }
        Check::Failover { fault, within, measure } => transition(s, report, "failover", *fault, *within, *measure),
        Check::Failback { fault, within } => {
            transition(s, report, "failback", *fault, *within, FailoverMeasure::Settled)
        }
        Check::Errors { cause, min, max, min_ratio, max_ratio } => {
            let bounds = ErrorBounds { min: *min, max: *max, min_ratio: *min_ratio, max_ratio: *max_ratio };
            errors(&world.rec, *cause, &bounds, start, end, &within)
        }
        Check::Ejections { hosts, multiplier, min, max } => {
            let n = ejection_spans(world)
                .iter()
                .filter(|e| e.start >= start && e.start < end && e.matches(hosts))
                .filter(|e| multiplier.is_none_or(|m| e.multiplier == m))
                .count() as u64;
            let with = multiplier.map(|m| format!(" with multiplier {m}")).unwrap_or_default();
            Measured {
                passed: n >= *min && max.is_none_or(|m| n <= m),
                measured: format!("{n} ejections{}{with} {within}", hosts.describe()),
                bound: count_bound(*min, *max),
            }
        }
        Check::Ejection { hosts, nth, at, multiplier, ejected_for, tolerance } => {
            let spans = ejection_spans(world);
            let found =
                spans.iter().filter(|e| e.start >= start && e.start < end && e.matches(hosts)).nth(*nth as usize - 1);
            ejection(found, hosts, *nth, &within, *at, *multiplier, *ejected_for, *tolerance)
        }
        Check::Retries { min, max } => {
            let n: u64 = slots(&world.rec, start, end).map(|s| u64::from(world.rec.retries[s])).sum();
            Measured {
                passed: n >= *min && max.is_none_or(|m| n <= m),
                measured: format!("{n} retries {within}"),
                bound: count_bound(*min, *max),
            }
        }
        Check::Attempts { hosts, min, max } => {
            let phase = match &e.window {
                Window::Phase { index, .. } => Some(*index as u32),
                _ => None,
            };
            let n: u64 = crate::metrics::hosts::host_counts(world)
                .filter(|((p, ..), _)| phase.is_none_or(|want| *p == want))
                .filter(|((_, proxy, cluster, host), _)| {
                    let locality = world.topo.localities[world.pods[host.idx()].locality.idx()].to_string();
                    let proxy = &world.proxies[proxy.idx()];
                    hosts.proxy_selected(&proxy.name)
                        && hosts.cluster_selected(
                            proxy.clusters[*cluster as usize].host,
                            proxy.clusters[*cluster as usize].subset.as_deref(),
                        )
                        && hosts.host_selected(&crate::output::endpoint_name(world, *host), &locality)
                })
                .map(|(_, c)| c.attempts)
                .sum();
            Measured {
                passed: n >= *min && max.is_none_or(|m| n <= m),
                measured: format!("{n} attempts{} {within}", describe_attempts(hosts)),
                bound: count_bound(*min, *max),
            }
        }
        Check::KeysMoved { min, max, since } => {
            let bound = format!("in [{min:.3}, {max:.3}]");
            let moved = match (&e.window, since) {
                (Window::Phase { index, .. }, None) => report.phases.get(*index).and_then(|p| p.keys_moved),
                (Window::Phase { index, .. }, Some((j, _))) => {
                    report.phases.get(*index).and_then(|p| p.keys_since.get(*j).copied().flatten())
                }
                _ => None,
            };
            let (before, than) = match since {
                Some((_, name)) => (format!("in phase \"{name}\""), format!(" than in phase \"{name}\"")),
                None => ("in the phase before".to_string(), String::new()),
            };
            match moved {
                Some(k) if k.compared > 0 => Measured {
                    passed: *min <= k.fraction && k.fraction <= *max,
                    measured: format!(
                        "{} of {} users moved to another host {within}{than} = {:.3}",
                        k.moved, k.compared, k.fraction
                    ),
                    bound,
                },
                _ => Measured {
                    passed: false,
                    measured: format!("no workload user was seen both {within} and {before}"),
                    bound,
                },
            }
        }
        Check::InFlight { hung, at, min, max } => {
            let instant = at.unwrap_or(end);
            let what = if *hung { "hung requests" } else { "requests in flight" };
            let when = match (at, &e.window) {
                (Some(t), _) => format!("at {}s", t.as_secs_f64()),
                (None, Window::Phase { name, .. }) => format!("at the end of phase \"{name}\" ({})", secs(end)),
                (None, _) => "at the end of the run".to_string(),
            };
            let bound = count_bound(*min, *max);
            match in_flight_at(world, report.seed, instant, *hung) {
                Ok(n) => Measured {
                    passed: n >= *min && max.is_none_or(|m| n <= m),
                    measured: format!("{n} {what} {when}"),
                    bound,
                },
                Err(err) => Measured {
                    passed: false,
                    measured: format!("{what} {when}: the run up to it failed: {err}"),
                    bound,
                },
            }
        }
        Check::Panic { expected } => {
            let seen = first_panic(world, start, end);
            let what = "panic";
            let measured = match &seen {
                Some((t, proxy)) => format!("{what} at {:.1}s ({proxy}) {within}", t.as_secs_f64()),
                None => format!("no {what} {within}"),
            };
            let bound = if *expected { format!("some {what}") } else { format!("no {what}") };
            Measured { passed: seen.is_some() == *expected, measured, bound }
        }
        Check::Latency { quantile, max } => {
            let h = latency(&world.rec, start, end);
            let q = format!("p{}", fmt_quantile(*quantile));
            let bound = format!("at most {:.1} ms", max.as_secs_f64() * 1e3);
            match h.quantile(*quantile) {
                Some(ns) => Measured {
                    passed: ns <= max.as_nanos(),
                    measured: format!("{q} latency {within} = {:.1} ms", ns as f64 / 1e6),
                    bound,
                },
                None => Measured { passed: false, measured: format!("no finished requests {within}"), bound },
            }
        }
    }
}

/// A count bound in words.
fn count_bound(min: u64, max: Option<u64>) -> String {
    match max {
        Some(0) => "0".to_string(),
        Some(m) if min == m => format!("exactly {m}"),
        Some(m) if min > 0 => format!("between {min} and {m}"),
        Some(m) => format!("at most {m}"),
        None => format!("at least {min}"),
    }
}

/// `to a/0 by ingress` for attempts.
fn describe_attempts(hosts: &crate::scenario::expect::HostFilter) -> String {
    let mut s = String::new();
    if let Some(e) = &hosts.endpoint {
        s.push_str(&format!(" to {e}"));
    } else if let Some(l) = &hosts.locality {
        s.push_str(&format!(" to {l} endpoints"));
    }
    if let Some(p) = &hosts.proxy {
        s.push_str(&format!(" by {p}"));
    }
    if let Some(x) = &hosts.subset {
        s.push_str(&format!(" in subset {x}"));
    }
    if let Some((_, h)) = &hosts.host {
        s.push_str(&format!(" of host {h}"));
    }
    s
}

/// One ejection of a host by a proxy, from the event log.
struct Span {
    proxy: String,
    /// The host and subset of the ejecting cluster (`None`: the default cluster).
    host: u32,
    subset: Option<String>,
    endpoint: String,
    locality: String,
    multiplier: u32,
    start: SimTime,
    /// The un-ejection tick, or the EDS update that removed the host; `None` if still ejected
    /// at the end of the run.
    end: Option<SimTime>,
}

impl Span {
    fn matches(&self, f: &crate::scenario::expect::HostFilter) -> bool {
        f.proxy_selected(&self.proxy)
            && f.cluster_selected(self.host, self.subset.as_deref())
            && f.host_selected(&self.endpoint, &self.locality)
    }
}

/// Every ejection of a run in time order, ended by its un-ejection or by its host leaving the
/// proxy's EDS (as `ejections.csv` records them).
fn ejection_spans(world: &World) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    // Keyed by (proxy, cluster, endpoint): each of a proxy's clusters ejects on its own.
    let mut open: std::collections::BTreeMap<(u32, crate::model::proxy::ClusterIdx, u32), usize> =
        std::collections::BTreeMap::new();
    for e in &world.rec.log {
        match &e.kind {
            LogKind::Eject { proxy, cluster, endpoint, locality, multiplier, .. } => {
                open.insert((proxy.0, *cluster, endpoint.0), out.len());
                out.push(Span {
                    proxy: world.proxies[proxy.idx()].name.clone(),
                    host: world.proxies[proxy.idx()].clusters[*cluster as usize].host,
                    subset: world.proxies[proxy.idx()].clusters[*cluster as usize].subset.clone(),
                    endpoint: crate::output::endpoint_name(world, *endpoint),
                    locality: world.topo.localities[locality.idx()].to_string(),
                    multiplier: *multiplier,
                    start: e.time,
                    end: None,
                });
            }
            LogKind::Uneject { proxy, cluster, endpoint, .. } => {
                if let Some(i) = open.remove(&(proxy.0, *cluster, endpoint.0)) {
                    out[i].end = Some(e.time);
                }
            }
            LogKind::Eds { proxy, cluster, removed, .. } if *removed > 0 => {
                let hosts = &world.proxies[proxy.idx()].clusters[*cluster as usize].hosts;
                let gone: Vec<(u32, crate::model::proxy::ClusterIdx, u32)> = open
                    .keys()
                    .filter(|(p, c, ep)| *p == proxy.0 && *c == *cluster && !hosts[*ep as usize].member)
                    .copied()
                    .collect();
                for k in gone {
                    let i = open.remove(&k).expect("listed");
                    out[i].end = Some(e.time);
                }
            }
            _ => {}
        }
    }
    out
}

/// Seconds with every significant digit down to the nanosecond: `1.007s`, `4.05s`, `30s`.
pub(super) fn exact_secs(ns: u64) -> String {
    let whole = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    if frac == 0 {
        return format!("{whole}s");
    }
    let digits = format!("{frac:09}");
    format!("{whole}.{}s", digits.trim_end_matches('0'))
}

/// Whether `measured` lies within `tolerance` of `expected`.
fn near(measured: u64, expected: u64, tolerance: SimDuration) -> bool {
    measured.abs_diff(expected) <= tolerance.as_nanos()
}

fn ejection(
    found: Option<&Span>,
    hosts: &crate::scenario::expect::HostFilter,
    nth: u32,
    within: &str,
    at: Option<SimTime>,
    multiplier: Option<u32>,
    ejected_for: Option<SimDuration>,
    tolerance: SimDuration,
) -> Measured {
    let which = if nth == 1 { "the first ejection".to_string() } else { format!("ejection #{nth}") };
    let pm = if tolerance.is_zero() { String::new() } else { format!(" ± {}", exact_secs(tolerance.as_nanos())) };
    let mut bounds = Vec::new();
    if let Some(t) = at {
        bounds.push(format!("at {}{pm}", exact_secs(t.as_nanos())));
    }
    if let Some(m) = multiplier {
        bounds.push(format!("x{m}"));
    }
    if let Some(d) = ejected_for {
        bounds.push(format!("out for {}{pm}", exact_secs(d.as_nanos())));
    }
    let bound = if bounds.is_empty() { "some ejection".to_string() } else { bounds.join(", ") };
    let Some(e) = found else {
        let missing = if nth == 1 { "no ejection".to_string() } else { format!("no ejection #{nth}") };
        return Measured { passed: false, measured: format!("{missing}{} {within}", hosts.describe()), bound };
    };
    let out_for = e.end.map(|t| t.saturating_since(e.start));
    let passed = at.is_none_or(|t| near(e.start.as_nanos(), t.as_nanos(), tolerance))
        && multiplier.is_none_or(|m| e.multiplier == m)
        && ejected_for.is_none_or(|d| out_for.is_some_and(|o| near(o.as_nanos(), d.as_nanos(), tolerance)));
    let lasted = match (out_for, e.end) {
        (Some(o), Some(t)) => format!("out for {} (until {})", exact_secs(o.as_nanos()), exact_secs(t.as_nanos())),
        _ => "still ejected at the end of the run".to_string(),
    };
    Measured {
        passed,
        measured: format!(
            "{which} {within}: {} by {} at {}, x{}, {lasted}",
            e.endpoint,
            e.proxy,
            exact_secs(e.start.as_nanos()),
            e.multiplier
        ),
        bound,
    }
}

/// `[start, end)` of a window.
/// Client requests (not a gateway's hops) still in flight at `t`, all or only the hung ones (sent
/// on an open connection to a black-holed pod: `model::world` sets `hung`, and only a timeout
/// ends them). At the run's end they are read from `world`; at an earlier instant the scenario is
/// run again with the same seed up to it (every event at or before `t` handled, as `explain`
/// does), which is the same run cut short.
fn in_flight_at(world: &World, seed: u64, t: SimTime, hung: bool) -> Result<u64, crate::engine::SimError> {
    let count =
        |w: &World| w.requests.live_requests().filter(|r| r.parent.is_none() && (!hung || r.hung)).count() as u64;
    if t >= world.scenario.end() {
        return Ok(count(world));
    }
    let out = crate::model::run_until(world.scenario.clone(), seed, t, None)?;
    Ok(count(&out.world))
}

fn window_bounds(w: &Window, s: &Scenario) -> (SimTime, SimTime) {
    match w {
        Window::Run => (SimTime::ZERO, s.end()),
        Window::Phase { index, .. } => s.phase_bounds(*index),
        Window::Span { from, to } => (*from, *to),
    }
}

fn window_text(w: &Window, start: SimTime, end: SimTime) -> String {
    match w {
        Window::Run => "over the run".to_string(),
        Window::Phase { name, .. } => format!("in phase \"{name}\""),
        Window::Span { .. } => format!("in {}-{}", secs(start), secs(end)),
    }
}

fn secs(t: SimTime) -> String {
    let s = t.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0}s") } else { format!("{s:.1}s") }
}

fn fmt_quantile(q: f64) -> String {
    let p = q * 100.0;
    if p.fract() == 0.0 { format!("{p:.0}") } else { format!("{p}") }
}

/// The recorder slots covering `[start, end)`, rounded outwards.
fn slots(rec: &Recorder, start: SimTime, end: SimTime) -> std::ops::Range<usize> {
    let a = (start.as_nanos() / FINE_SLOT.as_nanos()) as usize;
    let b = (end.as_nanos().div_ceil(FINE_SLOT.as_nanos()) as usize).min(rec.n_slots());
    a.min(b)..b
}

/// Share of attempts to the `matched` localities; `None` without any attempt.
fn share(rec: &Recorder, world: &World, matched: &[String], start: SimTime, end: SimTime) -> Option<f64> {
    let l = rec.n_localities();
    let selected: Vec<bool> = world.topo.localities.iter().map(|x| matched.contains(&x.to_string())).collect();
    let (mut hit, mut all) = (0u64, 0u64);
    for s in slots(rec, start, end) {
        for (loc, sel) in selected.iter().enumerate() {
            let a = u64::from(rec.loc_attempts[s * l + loc]);
            all += a;
            if *sel {
                hit += a;
            }
        }
    }
    (all > 0).then(|| hit as f64 / all as f64)
}

fn transition(
    s: &Scenario,
    report: &RunReport,
    kind: &str,
    fault: usize,
    within: crate::engine::SimDuration,
    measure: FailoverMeasure,
) -> Measured {
    let f = &s.faults[fault];
    let bound = format!("within {}", secs(SimTime(within.as_nanos())));
    let t = report.transitions.iter().find(|t| t.kind == kind && t.fault == f.name && t.at_s == f.at.as_secs_f64());
    // What is timed: a failover's settled time or when its traffic left, a fail-back's end.
    let (time, done, not_done) = match (kind, measure) {
        ("failover", FailoverMeasure::Left) => {
            (t.and_then(|t| t.failover.as_ref()).and_then(|d| d.left_s), "traffic left", "traffic did not leave")
        }
        ("failover", FailoverMeasure::Settled) => {
            (t.and_then(|t| t.time_s), "failover settled", "failover did not settle")
        }
        _ => (t.and_then(|t| t.time_s), "failback took", "failback did not complete"),
    };
    let name = &f.name;
    match (t, time) {
        (Some(t), Some(x)) => {
            let errors = match measure {
                FailoverMeasure::Left => String::new(),
                FailoverMeasure::Settled => format!(" ({} client errors until then)", t.errors),
            };
            Measured {
                passed: x <= within.as_secs_f64() + 1e-9,
                measured: format!("after \"{name}\": {done} in {x:.1}s{errors}"),
                bound,
            }
        }
        (Some(_), None) => {
            Measured { passed: false, measured: format!("after \"{name}\": {not_done} before its phase ended"), bound }
        }
        (None, _) => Measured {
            passed: false,
            measured: format!("no {kind} was measured after \"{name}\" (nothing had failed over)"),
            bound,
        },
    }
}

struct ErrorBounds {
    min: Option<u64>,
    max: Option<u64>,
    min_ratio: Option<f64>,
    max_ratio: Option<f64>,
}

fn errors(
    rec: &Recorder,
    cause: Option<ErrorCause>,
    b: &ErrorBounds,
    start: SimTime,
    end: SimTime,
    within: &str,
) -> Measured {
    let wanted: Vec<ClientOutcome> = match cause {
        None => ClientOutcome::ERRORS.to_vec(),
        Some(c) => vec![outcome_of(c)],
    };
    let (mut n, mut finished) = (0u64, 0u64);
    for s in slots(rec, start, end) {
        n += wanted.iter().map(|o| u64::from(rec.finished_in(s, *o))).sum::<u64>();
        finished += u64::from(rec.finished_in(s, ClientOutcome::Success))
            + ClientOutcome::ERRORS.iter().map(|o| u64::from(rec.finished_in(s, *o))).sum::<u64>();
    }
    let ratio = if finished == 0 { 0.0 } else { n as f64 / finished as f64 };
    let what = cause.map(|c| format!("{} errors", c.name())).unwrap_or_else(|| "client errors".to_string());
    let mut bounds = Vec::new();
    match (b.min, b.max) {
        (Some(lo), Some(hi)) if lo == hi => bounds.push(format!("exactly {lo}")),
        (lo, hi) => {
            if let Some(m) = lo {
                bounds.push(format!("at least {m}"));
            }
            if let Some(m) = hi {
                bounds.push(format!("at most {m}"));
            }
        }
    }
    if let Some(r) = b.min_ratio {
        bounds.push(format!("at least {:.3}% of finished requests", r * 100.0));
    }
    if let Some(r) = b.max_ratio {
        bounds.push(format!("at most {:.3}% of finished requests", r * 100.0));
    }
    let passed = b.min.is_none_or(|m| n >= m)
        && b.max.is_none_or(|m| n <= m)
        && b.min_ratio.is_none_or(|r| ratio >= r)
        && b.max_ratio.is_none_or(|r| ratio <= r);
    Measured {
        passed,
        measured: format!("{n} {what} {within} ({:.3}% of {finished} finished)", ratio * 100.0),
        bound: bounds.join(" and "),
    }
}

fn outcome_of(c: ErrorCause) -> ClientOutcome {
    match c {
        ErrorCause::Upstream5xx => ClientOutcome::Upstream5xx,
        ErrorCause::ConnectFailure => ClientOutcome::ConnectFailure,
        ErrorCause::NoHealthyUpstream => ClientOutcome::NoHealthyUpstream,
        ErrorCause::Overflow => ClientOutcome::Overflow,
        ErrorCause::Timeout => ClientOutcome::Timeout,
        ErrorCause::FaultAbort => ClientOutcome::FaultAbort,
        ErrorCause::NoRoute => ClientOutcome::NoRoute,
    }
}

/// The first moment in `[start, end)` at which some proxy is in panic, and that proxy's name. A
/// proxy already in panic at `start` counts at `start`.
fn first_panic(world: &World, start: SimTime, end: SimTime) -> Option<(SimTime, String)> {
    let name = |p: usize| world.proxies[p].name.clone();
    let mut state = vec![false; world.proxies.len()];
    let mut start_checked = false;
    for e in world.rec.log.iter().take_while(|e| e.time < end) {
        if !start_checked && e.time >= start {
            start_checked = true;
            if let Some(p) = state.iter().position(|x| *x) {
                return Some((start, name(p)));
            }
        }
        if let LogKind::Panic { proxy, cluster, on, .. } = &e.kind
            && world.is_route_cluster(*proxy, *cluster)
        {
            let (proxy, on) = (*proxy, *on);
            if e.time >= start && on {
                return Some((e.time, name(proxy.idx())));
            }
            state[proxy.idx()] = on;
        }
    }
    if start_checked { None } else { state.iter().position(|x| *x).map(|p| (start, name(p))) }
}

/// Latency of requests finished in the output buckets whose start lies in `[start, end)`.
fn latency(rec: &Recorder, start: SimTime, end: SimTime) -> Histogram {
    let bucket_ns = rec.bucket().as_nanos();
    let mut h = Histogram::default();
    for (b, bh) in rec.latency.iter().enumerate() {
        let t = b as u64 * bucket_ns;
        if t >= start.as_nanos() && t < end.as_nanos() {
            h.merge(bh);
        }
    }
    h
}
