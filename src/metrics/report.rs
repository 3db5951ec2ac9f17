//! The report of one run: the time series, per-phase summaries, and the measured failover and
//! fail-back times, derived from the recorder after the run. Pure; writing is `output`'s job.
//!
//! Definitions (also in the README):
//! * **share** of a locality in a window: its upstream attempts (retries included) over all
//!   upstream attempts in that window.
//! * **failover** of a fault that degrades localities L, measured three ways:
//!   - **left**: from the fault to the first 100 ms slot with attempts in which the combined
//!     share of L is at or below `failover_share` (default 5 %);
//!   - **settled** (the failover time): from the fault until the share of L is at or below
//!     `failover_share` in a 100 ms slot and stays there, over 1 s windows, until the next fault,
//!     leaving out the probes;
//!   - **probes**: un-ejections of L's endpoints (by any proxy) after traffic left and before the
//!     next fault. Each returns an endpoint that may still be failing; the attempts to L in the
//!     second that follows are the probe's, and do not restart the settled clock. A share that
//!     stays above the threshold after that second does.
//! * **fail-back time** of a recovery of L: from the recovery until every locality of L has a
//!   share within `failback_tolerance` (default 0.10) of its share in the first phase, over the
//!   same centred windows, until the next fault.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::engine::SimTime;
use crate::model::ids::LocalityId;
use crate::model::world::World;
use crate::scenario::{FaultAction, Scenario};

use super::histogram::Histogram;
use super::recorder::{ClientOutcome, FINE_SLOT, LogKind, Recorder, SlotView};

/// Fine slots in the centred window used to time fail-back (1 s), which smooths Poisson noise.
const WINDOW_SLOTS: usize = 10;

/// One row of `timeseries.csv`: one bucket and locality.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LocalityRow {
    /// Bucket start in seconds.
    pub time_s: f64,
    /// Locality, `region/zone/sub_zone`.
    pub locality: String,
    /// Upstream attempts sent to it.
    pub attempts: u64,
    /// Its fraction of all attempts in the bucket (0 when there were none).
    pub share: f64,
    /// Its endpoints ejected by at least one proxy at the bucket's end.
    pub ejected_endpoints: u32,
    /// (proxy, endpoint) pairs ejected at the bucket's end: an endpoint ejected by 3 proxies
    /// counts 3, and an endpoint ejected by two clusters (subsets) of one proxy counts once.
    pub ejected_pairs: i64,
    /// Attempts answered 5xx.
    pub upstream_5xx: u64,
    /// Attempts that failed to connect.
    pub connect_failure: u64,
    /// Attempts that timed out.
    pub timeout: u64,
}

/// One row of `client.csv`: what clients saw in one bucket.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ClientRow {
    /// Bucket start in seconds.
    pub time_s: f64,
    /// Requests started.
    pub requests: u64,
    /// Requests finished without error.
    pub success: u64,
    /// Requests finished with an error (sum of the causes).
    pub errors: u64,
    /// … an upstream 5xx.
    pub upstream_5xx: u64,
    /// … a connect failure.
    pub connect_failure: u64,
    /// … no healthy upstream.
    pub no_healthy_upstream: u64,
    /// … circuit-breaker overflow.
    pub overflow: u64,
    /// … a timeout.
    pub timeout: u64,
    /// … an abort injected by the fault filter (VirtualService `fault.abort`).
    pub fault_abort: u64,
    /// … no route matched (404 NR).
    pub no_route: u64,
    /// Retries sent.
    pub retries: u64,
    /// Upstream attempts sent (first tries and retries).
    pub attempts: u64,
    /// Upstream attempts answered 5xx (whether or not a retry hid them from the client).
    pub attempts_5xx: u64,
    /// Upstream attempts that failed to connect.
    pub attempts_connect_failure: u64,
    /// Upstream attempts that timed out (per-try or route timeout).
    pub attempts_timeout: u64,
    /// Median latency of finished requests, ms (empty when none).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<f64>,
}

/// Share of one locality in a phase.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LocalityShare {
    /// Locality.
    pub locality: String,
    /// Fraction of the phase's attempts.
    pub share: f64,
}

/// Client errors by cause.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct ErrorCounts {
    /// Upstream 5xx.
    pub upstream_5xx: u64,
    /// Connect failures.
    pub connect_failure: u64,
    /// No healthy upstream.
    pub no_healthy_upstream: u64,
    /// Circuit-breaker overflow.
    pub overflow: u64,
    /// Timeouts.
    pub timeout: u64,
    /// Aborts injected by the fault filter.
    pub fault_abort: u64,
    /// Requests no route matched (404 NR).
    pub no_route: u64,
}

impl ErrorCounts {
    /// Client errors finished in a range of fine slots, by cause.
    pub fn in_slots(rec: &Recorder, slots: std::ops::Range<usize>) -> ErrorCounts {
        ErrorCounts::in_view(&rec.hundred_ms_view(), slots)
    }

    /// Client errors finished in a range of slots of `v`, by cause.
    pub fn in_view(v: &SlotView<'_>, slots: std::ops::Range<usize>) -> ErrorCounts {
        let count = |o: ClientOutcome| -> u64 { slots.clone().map(|s| u64::from(v.finished_in(s, o))).sum() };
        ErrorCounts {
            upstream_5xx: count(ClientOutcome::Upstream5xx),
            connect_failure: count(ClientOutcome::ConnectFailure),
            no_healthy_upstream: count(ClientOutcome::NoHealthyUpstream),
            overflow: count(ClientOutcome::Overflow),
            timeout: count(ClientOutcome::Timeout),
            fault_abort: count(ClientOutcome::FaultAbort),
            no_route: count(ClientOutcome::NoRoute),
        }
    }

    /// Sum of all causes.
    pub fn total(&self) -> u64 {
        self.upstream_5xx
            + self.connect_failure
            + self.no_healthy_upstream
            + self.overflow
            + self.timeout
            + self.fault_abort
            + self.no_route
    }
}

/// Upstream attempts that failed, by how. A retry can hide each of them from the client.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct AttemptFailures {
    /// Answered 5xx.
    pub upstream_5xx: u64,
    /// Failed to connect (refused, reset, connect timeout).
    pub connect_failure: u64,
    /// Timed out (per-try or route timeout).
    pub timeout: u64,
}

impl AttemptFailures {
    /// Failed attempts in a range of fine slots, over all localities.
    pub fn in_slots(rec: &Recorder, slots: std::ops::Range<usize>) -> AttemptFailures {
        AttemptFailures::in_view(&rec.hundred_ms_view(), rec.n_localities(), slots)
    }

    /// Failed attempts in a range of slots of `v` (with `l` localities), over all localities.
    pub fn in_view(v: &SlotView<'_>, l: usize, slots: std::ops::Range<usize>) -> AttemptFailures {
        let sum = |x: &[u32]| -> u64 {
            slots.clone().flat_map(|s| (0..l).map(move |loc| s * l + loc)).map(|i| u64::from(x[i])).sum()
        };
        AttemptFailures {
            upstream_5xx: sum(v.loc_5xx),
            connect_failure: sum(v.loc_connect_fail),
            timeout: sum(v.loc_timeout),
        }
    }

    /// Sum of all causes.
    pub fn total(&self) -> u64 {
        self.upstream_5xx + self.connect_failure + self.timeout
    }
}

/// One phase of `summary.json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PhaseSummary {
    /// Name.
    pub name: String,
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Client requests started.
    pub requests: u64,
    /// Client errors finished in the phase.
    pub errors: u64,
    /// Errors by cause.
    pub errors_by_cause: ErrorCounts,
    /// Retries sent.
    pub retries: u64,
    /// Upstream attempts.
    pub attempts: u64,
    /// Upstream attempts that failed, by cause (retried or not).
    pub failed_attempts: AttemptFailures,
    /// Share per locality.
    pub share: Vec<LocalityShare>,
    /// Most endpoints ejected (by at least one proxy) at once during the phase.
    pub max_ejected_endpoints: u32,
    /// Most (proxy, endpoint) pairs ejected at once during the phase.
    pub max_ejected_pairs: i64,
    /// Median latency, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<f64>,
    /// With users (consistent hashing): the users of this phase and the one before it whose
    /// requests went to a different host (`metrics::keys`). Absent without users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_moved: Option<crate::metrics::keys::KeysMoved>,
    /// With users: this phase's users compared with each earlier phase (index `j`: phase `j`),
    /// for `keys-moved` expectations with `since`. Not in `summary.json`.
    #[serde(skip)]
    pub keys_since: Vec<Option<crate::metrics::keys::KeysMoved>>,
}

/// A measured failover or fail-back.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Transition {
    /// `failover` or `failback`.
    pub kind: &'static str,
    /// The fault that started it.
    pub fault: String,
    /// When that fault happened, seconds.
    pub at_s: f64,
    /// The localities involved.
    pub localities: Vec<String>,
    /// Seconds until the transition completed (a failover: settled); `None` if it did not
    /// before the next fault.
    pub time_s: Option<f64>,
    /// A failover's other measures: when traffic left, and the probes.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverDetail>,
    /// Client errors between the fault and completion (to the phase end if it never completed).
    pub errors: u64,
    /// The same errors by cause.
    pub errors_by_cause: ErrorCounts,
}

/// What a failover measures besides the settled time (module docs).
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct FailoverDetail {
    /// Seconds from the fault until traffic left: the first 100 ms slot with attempts in which
    /// the localities' share was at or below the threshold; `None` if it never was.
    pub left_s: Option<f64>,
    /// Un-ejections of the localities' endpoints after traffic left and before the next fault.
    pub probes: u64,
    /// When each probe happened, seconds since the start of the run.
    pub probe_times_s: Vec<f64>,
    /// Attempts to the localities in the second after each probe.
    pub probe_attempts: u64,
}

/// Everything a run reports.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Root seed.
    pub seed: u64,
    /// Virtual duration, seconds.
    pub duration_s: f64,
    /// Locality names, in `LocalityId` order.
    pub localities: Vec<String>,
    /// Phases.
    pub phases: Vec<PhaseSummary>,
    /// Failover and fail-back measurements, in fault order.
    pub transitions: Vec<Transition>,
    /// Time of the first failover (settled), seconds (null when there was none or it never
    /// completed).
    pub failover_s: Option<f64>,
    /// When traffic left in the first failover, seconds (null when there was none or it never
    /// left).
    pub failover_left_s: Option<f64>,
    /// Time of the last fail-back, seconds.
    pub failback_s: Option<f64>,
    /// Client requests in the whole run.
    pub requests: u64,
    /// Client errors in the whole run.
    pub errors: u64,
    /// Ejections in the whole run (all proxies).
    pub ejections: u64,
    /// Detections refused by max-ejection-percent.
    pub ejections_overflow: u64,
    /// Requests still in flight at the end of the run (normal traffic, black-holed ones included).
    pub in_flight_at_end: u64,
    /// Requests black-holed with no timeout to end them, still waiting at the end.
    pub hung: u64,
    /// Ejections of endpoints that were ready and had no injected fault.
    pub false_ejections: u64,
    /// Events processed.
    pub events: u64,
    /// The time series: one row per bucket and locality.
    #[serde(skip)]
    pub locality_rows: Vec<LocalityRow>,
    /// The client series: one row per bucket.
    #[serde(skip)]
    pub client_rows: Vec<ClientRow>,
    /// Latency per phase, for eCDFs.
    #[serde(skip)]
    pub phase_latency: Vec<Histogram>,
    /// Latency of local replies per phase (overflow, no healthy upstream: answered by the
    /// client proxy itself, never sent upstream), a part of `phase_latency`.
    #[serde(skip)]
    pub phase_local_latency: Vec<Histogram>,
    /// Per output bucket, the endpoints ejected at its end by how many proxies eject each:
    /// `ejected_by[bucket][k - 1]` endpoints are ejected by exactly `k` proxies (a proxy ejects
    /// an endpoint while any of its clusters does).
    #[serde(skip)]
    pub ejected_by: Vec<Vec<u32>>,
}

/// Builds the report of a finished run.
pub fn report(world: &World, seed: u64, events: u64) -> RunReport {
    let s = &world.scenario;
    let rec = &world.rec;
    let localities: Vec<String> = world.topo.localities.iter().map(|l| l.to_string()).collect();
    let ejected = EjectedSeries::of(rec, FINE_SLOT, rec.n_slots());
    // The output rows come from the recorder's row view: its 100 ms slots, or the finer slots
    // of a bucket that is not a whole number of them.
    let view = rec.row_view();
    let fine_ejected = (view.slot != FINE_SLOT).then(|| EjectedSeries::of(rec, view.slot, view.n_slots));
    let row_ejected = fine_ejected.as_ref().unwrap_or(&ejected);
    let (locality_rows, client_rows) = series(rec, &view, &localities, row_ejected);
    let mut phases = phase_summaries(s, rec, &localities, &ejected);
    if let Some(k) = &world.keys {
        for (i, p) in phases.iter_mut().enumerate() {
            p.keys_moved = k.result(i);
            p.keys_since = (0..i).map(|j| k.result_since(i, j)).collect();
        }
    }
    let RunTotals { transitions, requests, errors, ejections, ejections_overflow, false_ejections } = totals(world);
    let first_failover = transitions.iter().find(|t| t.kind == "failover");
    let failover_s = first_failover.and_then(|t| t.time_s);
    let failover_left_s = first_failover.and_then(|t| t.failover.as_ref()).and_then(|f| f.left_s);
    let failback_s = transitions.iter().rev().find(|t| t.kind == "failback").and_then(|t| t.time_s);
    let phase_latency = phase_histograms(s, rec, &rec.latency);
    let phase_local_latency = phase_histograms(s, rec, &rec.latency_local);
    let bs = slots_per_bucket(rec, &view);
    let ejected_by = (0..view.n_slots.div_ceil(bs))
        .map(|b| row_ejected.by_count[((b + 1) * bs).min(view.n_slots) - 1].clone())
        .collect();
    RunReport {
        scenario: s.name.clone(),
        seed,
        duration_s: s.duration.as_secs_f64(),
        localities,
        phases,
        transitions,
        failover_s,
        failover_left_s,
        failback_s,
        requests,
        errors,
        ejections,
        ejections_overflow,
        in_flight_at_end: world.requests.live() as u64,
        hung: world.requests.live_requests().filter(|r| r.hung).count() as u64,
        false_ejections,
        events,
        locality_rows,
        client_rows,
        phase_latency,
        phase_local_latency,
        ejected_by,
    }
}

/// A run's transitions and whole-run counts: the part of its [`RunReport`] a sweep measures,
/// without the time series, phase summaries and histograms (which cost a sweep run more than
/// these, about 3 M instructions of the 503 lab's 4 M report).
#[derive(Debug, Clone, PartialEq)]
pub struct RunTotals {
    /// As [`RunReport::transitions`].
    pub transitions: Vec<Transition>,
    /// As [`RunReport::requests`].
    pub requests: u64,
    /// As [`RunReport::errors`].
    pub errors: u64,
    /// As [`RunReport::ejections`].
    pub ejections: u64,
    /// As [`RunReport::ejections_overflow`].
    pub ejections_overflow: u64,
    /// As [`RunReport::false_ejections`].
    pub false_ejections: u64,
}

/// The transitions and whole-run counts of a finished run; [`report`] takes them from here.
pub fn totals(world: &World) -> RunTotals {
    let rec = &world.rec;
    let mut t = RunTotals {
        transitions: transitions(world),
        requests: rec.requests.iter().map(|x| u64::from(*x)).sum(),
        errors: (0..rec.n_slots()).map(|i| errors_in(rec, i)).sum(),
        ejections: 0,
        ejections_overflow: 0,
        false_ejections: 0,
    };
    for e in &rec.log {
        match e.kind {
            super::recorder::LogKind::Eject { healthy_target, .. } => {
                t.ejections += 1;
                t.false_ejections += u64::from(healthy_target);
            }
            super::recorder::LogKind::EjectOverflow { .. } => t.ejections_overflow += 1,
            _ => {}
        }
    }
    t
}

fn errors_in(rec: &Recorder, slot: usize) -> u64 {
    ClientOutcome::ERRORS.iter().map(|o| u64::from(rec.finished_in(slot, *o))).sum()
}

/// Slots of `view` per output bucket (a whole number by construction of the view).
fn slots_per_bucket(rec: &Recorder, view: &SlotView<'_>) -> usize {
    usize::try_from(rec.bucket().as_nanos() / view.slot.as_nanos()).unwrap_or(usize::MAX).max(1)
}

/// Ejections at the end of every slot (100 ms, or the row view's finer slots), from the
/// recorder's ejection changes.
struct EjectedSeries {
    /// (proxy, endpoint) pairs ejected, per locality: `[slot * L + loc]`.
    pairs: Vec<i64>,
    /// Endpoints ejected by at least one proxy, per locality: `[slot * L + loc]`.
    endpoints: Vec<u32>,
    /// Per slot, the endpoints ejected by exactly `k` proxies at `[k - 1]`.
    by_count: Vec<Vec<u32>>,
}

impl EjectedSeries {
    fn of(rec: &Recorder, slot_width: crate::engine::SimDuration, n: usize) -> EjectedSeries {
        let l = rec.n_localities();
        let n_endpoints = rec.ejection_changes.iter().map(|c| c.endpoint.idx() + 1).max().unwrap_or(0);
        let mut pairs = vec![0i64; n * l];
        let mut endpoints = vec![0u32; n * l];
        let mut by_count = Vec::with_capacity(n);
        let (mut cur_pairs, mut cur_endpoints) = (vec![0i64; l], vec![0u32; l]);
        // Proxies ejecting each endpoint now, and how many endpoints have each such count.
        let mut ejecting = vec![0u32; n_endpoints];
        // A proxy ejects an endpoint while any of its clusters does (one per DestinationRule
        // subset, each with its own detector): the clusters ejecting each (proxy, endpoint).
        let mut clusters_ejecting: std::collections::BTreeMap<(u32, u32), u32> = std::collections::BTreeMap::new();
        let mut hist: Vec<u32> = Vec::new();
        let mut changes = rec.ejection_changes.iter().peekable();
        for slot in 0..n {
            let slot_end = SimTime((slot as u64 + 1) * slot_width.as_nanos());
            while let Some(c) = changes.peek() {
                if c.time >= slot_end {
                    break;
                }
                let c = *changes.next().expect("peeked");
                let n = clusters_ejecting.entry((c.proxy.0, c.endpoint.0)).or_insert(0);
                let was = *n;
                *n = n.saturating_add_signed(c.delta);
                if (was > 0) == (*n > 0) {
                    continue; // another cluster of the proxy ejects it still, or already did
                }
                let (loc, e) = (c.locality.idx(), c.endpoint.idx());
                cur_pairs[loc] += i64::from(c.delta);
                let before = ejecting[e];
                let after = before.saturating_add_signed(c.delta);
                ejecting[e] = after;
                match (before, after) {
                    (0, 1..) => cur_endpoints[loc] += 1,
                    (1.., 0) => cur_endpoints[loc] = cur_endpoints[loc].saturating_sub(1),
                    _ => {}
                }
                if before > 0 {
                    hist[before as usize - 1] -= 1;
                }
                if after > 0 {
                    if hist.len() < after as usize {
                        hist.resize(after as usize, 0);
                    }
                    hist[after as usize - 1] += 1;
                }
            }
            pairs[slot * l..(slot + 1) * l].copy_from_slice(&cur_pairs);
            endpoints[slot * l..(slot + 1) * l].copy_from_slice(&cur_endpoints);
            let used = hist.iter().rposition(|c| *c > 0).map_or(0, |i| i + 1);
            by_count.push(hist[..used].to_vec());
        }
        EjectedSeries { pairs, endpoints, by_count }
    }
}

fn ms(ns: Option<u64>) -> Option<f64> {
    ns.map(|v| (v as f64 / 1e6 * 1000.0).round() / 1000.0)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The rows of `timeseries.csv` and `client.csv`, one per output bucket, from `v`, the
/// recorder's row view, and the ejections at the end of each of its slots.
fn series(
    rec: &Recorder,
    v: &SlotView<'_>,
    localities: &[String],
    ejected: &EjectedSeries,
) -> (Vec<LocalityRow>, Vec<ClientRow>) {
    let l = rec.n_localities();
    let bs = slots_per_bucket(rec, v);
    let n_buckets = v.n_slots.div_ceil(bs);
    let mut loc_rows = Vec::with_capacity(n_buckets * l);
    let mut client_rows = Vec::with_capacity(n_buckets);
    let last_slot = v.n_slots - 1;
    for b in 0..n_buckets {
        let slots = b * bs..((b + 1) * bs).min(v.n_slots);
        let time_s = round6((b as u64 * rec.bucket().as_nanos()) as f64 / 1e9);
        let sum = |x: &[u32], loc: usize| -> u64 { slots.clone().map(|s| u64::from(x[s * l + loc])).sum() };
        let total: u64 = (0..l).map(|loc| sum(v.loc_attempts, loc)).sum();
        let end_slot = (slots.end - 1).min(last_slot);
        for (loc, name) in localities.iter().enumerate() {
            let attempts = sum(v.loc_attempts, loc);
            loc_rows.push(LocalityRow {
                time_s,
                locality: name.clone(),
                attempts,
                share: if total == 0 { 0.0 } else { round6(attempts as f64 / total as f64) },
                ejected_endpoints: ejected.endpoints[end_slot * l + loc],
                ejected_pairs: ejected.pairs[end_slot * l + loc],
                upstream_5xx: sum(v.loc_5xx, loc),
                connect_failure: sum(v.loc_connect_fail, loc),
                timeout: sum(v.loc_timeout, loc),
            });
        }
        let count = |o: ClientOutcome| -> u64 { slots.clone().map(|s| u64::from(v.finished_in(s, o))).sum() };
        let errs = ErrorCounts::in_view(v, slots.clone());
        let failed = AttemptFailures::in_view(v, l, slots.clone());
        let h = &rec.latency[b.min(rec.latency.len() - 1)];
        client_rows.push(ClientRow {
            time_s,
            requests: slots.clone().map(|s| u64::from(v.requests[s])).sum(),
            success: count(ClientOutcome::Success),
            errors: errs.total(),
            upstream_5xx: errs.upstream_5xx,
            connect_failure: errs.connect_failure,
            no_healthy_upstream: errs.no_healthy_upstream,
            overflow: errs.overflow,
            timeout: errs.timeout,
            fault_abort: errs.fault_abort,
            no_route: errs.no_route,
            retries: slots.clone().map(|s| u64::from(v.retries[s])).sum(),
            attempts: total,
            attempts_5xx: failed.upstream_5xx,
            attempts_connect_failure: failed.connect_failure,
            attempts_timeout: failed.timeout,
            p50_ms: ms(h.quantile(0.5)),
            p99_ms: ms(h.quantile(0.99)),
        });
    }
    (loc_rows, client_rows)
}

fn slot_range(s: &Scenario, rec: &Recorder, start: SimTime, end: SimTime) -> std::ops::Range<usize> {
    let _ = s;
    let a = (start.as_nanos() / FINE_SLOT.as_nanos()) as usize;
    let b = (end.as_nanos().div_ceil(FINE_SLOT.as_nanos()) as usize).min(rec.n_slots());
    a.min(b)..b
}

fn phase_summaries(s: &Scenario, rec: &Recorder, localities: &[String], ejected: &EjectedSeries) -> Vec<PhaseSummary> {
    let l = rec.n_localities();
    let hists = phase_histograms(s, rec, &rec.latency);
    (0..s.phases.len())
        .map(|i| {
            let (start, end) = s.phase_bounds(i);
            let slots = slot_range(s, rec, start, end);
            let per_loc: Vec<u64> =
                (0..l).map(|loc| slots.clone().map(|x| u64::from(rec.loc_attempts[x * l + loc])).sum()).collect();
            let attempts: u64 = per_loc.iter().sum();
            let errs = ErrorCounts::in_slots(rec, slots.clone());
            let in_slot = |x: usize| x * l..(x + 1) * l;
            let max_ejected_pairs =
                slots.clone().map(|x| ejected.pairs[in_slot(x)].iter().sum::<i64>()).max().unwrap_or(0);
            let max_ejected_endpoints =
                slots.clone().map(|x| ejected.endpoints[in_slot(x)].iter().sum::<u32>()).max().unwrap_or(0);
            PhaseSummary {
                name: s.phases[i].name.clone(),
                start_s: start.as_secs_f64(),
                end_s: end.as_secs_f64(),
                requests: slots.clone().map(|x| u64::from(rec.requests[x])).sum(),
                errors: errs.total(),
                errors_by_cause: errs,
                retries: slots.clone().map(|x| u64::from(rec.retries[x])).sum(),
                attempts,
                failed_attempts: AttemptFailures::in_slots(rec, slots.clone()),
                share: localities
                    .iter()
                    .zip(&per_loc)
                    .map(|(name, a)| LocalityShare {
                        locality: name.clone(),
                        share: if attempts == 0 { 0.0 } else { round6(*a as f64 / attempts as f64) },
                    })
                    .collect(),
                max_ejected_endpoints,
                max_ejected_pairs,
                p50_ms: ms(hists[i].quantile(0.5)),
                p99_ms: ms(hists[i].quantile(0.99)),
                keys_moved: None,
                keys_since: Vec::new(),
            }
        })
        .collect()
}

/// Latency histograms per phase, merged from the output buckets (of `per_bucket`) whose start
/// lies in the phase.
fn phase_histograms(s: &Scenario, rec: &Recorder, per_bucket: &[Histogram]) -> Vec<Histogram> {
    let bucket_ns = rec.bucket().as_nanos();
    (0..s.phases.len())
        .map(|i| {
            let (start, end) = s.phase_bounds(i);
            let mut h = Histogram::default();
            for (b, bh) in per_bucket.iter().enumerate() {
                let t = b as u64 * bucket_ns;
                if t >= start.as_nanos() && t < end.as_nanos() {
                    h.merge(bh);
                }
            }
            h
        })
        .collect()
}

/// Localities a fault action degrades or restores.
fn fault_localities(world: &World, deployment: usize) -> BTreeSet<LocalityId> {
    let cluster = world.scenario.service.deployments[deployment].cluster;
    [world.topo.locality_of(cluster)].into_iter().collect()
}

/// Whether a fault restores its locality (its fail-back is measured) rather than degrading it:
/// `recover`, or a scale-up to at least the initial replica count.
pub fn restores(s: &crate::scenario::Scenario, f: &crate::scenario::FaultSpec) -> bool {
    match f.action {
        FaultAction::Recover => true,
        FaultAction::Scale { replicas } => replicas >= s.service.deployments[f.deployment].replicas.max(1),
        _ => false,
    }
}

fn transitions(world: &World) -> Vec<Transition> {
    let s = &world.scenario;
    let rec = &world.rec;
    let healthy_end = s.phases.get(1).map(|p| p.start).unwrap_or(s.end());
    let baseline = slot_range(s, rec, SimTime::ZERO, healthy_end);
    let mut out = Vec::new();
    let mut degraded: BTreeSet<LocalityId> = BTreeSet::new();
    for (i, f) in s.faults.iter().enumerate() {
        let locs = fault_localities(world, f.deployment);
        // Background faults (`phase = false`, e.g. a 1 % error rate) are not transitions.
        if !f.starts_phase {
            continue;
        }
        // Each transition is measured until the next phase-opening fault (or the end of the run).
        let next = s.faults.iter().skip(i + 1).find(|g| g.starts_phase && g.at > f.at).map(|g| g.at).unwrap_or(s.end());
        let range = slot_range(s, rec, f.at, next);
        let restores = restores(s, f);
        let names: Vec<String> = locs.iter().map(|l| world.topo.localities[l.idx()].to_string()).collect();
        if restores {
            if !locs.iter().any(|l| degraded.contains(l)) {
                continue;
            }
            let target: Vec<(LocalityId, f64)> =
                locs.iter().map(|l| (*l, window_share(rec, baseline.clone(), &[*l]))).collect();
            let tol = s.failback_tolerance;
            let done = first_sustained(rec, range.clone(), WINDOW_SLOTS, |w| {
                target.iter().all(|(l, base)| (window_share(rec, w.clone(), &[*l]) - base).abs() <= tol)
            });
            out.push(transition(rec, "failback", f, names, range, done, None));
            for l in &locs {
                degraded.remove(l);
            }
        } else {
            let locs_v: Vec<LocalityId> = locs.iter().copied().collect();
            let (done, detail) = failover(world, f.at, range.clone(), &locs_v);
            out.push(transition(rec, "failover", f, names, range, done, Some(detail)));
            // Only a locality that traffic actually left can fail back.
            if done.is_some() {
                degraded.extend(locs);
            }
        }
    }
    out
}

fn transition(
    rec: &Recorder,
    kind: &'static str,
    f: &crate::scenario::FaultSpec,
    localities: Vec<String>,
    range: std::ops::Range<usize>,
    done: Option<usize>,
    failover: Option<FailoverDetail>,
) -> Transition {
    // Errors up to and including the slot in which the transition completed.
    let end = done.map_or(range.end, |d| (d + 1).min(range.end));
    let errors_by_cause = ErrorCounts::in_slots(rec, range.start..end.max(range.start));
    let at_s = f.at.as_secs_f64();
    Transition {
        kind,
        fault: f.name.clone(),
        at_s,
        localities,
        time_s: done.map(|d| since(d, at_s)),
        failover,
        errors: errors_by_cause.total(),
        errors_by_cause,
    }
}

/// Seconds from `at_s` to the start of slot `slot` (0 if the fault fell inside that slot).
fn since(slot: usize, at_s: f64) -> f64 {
    round6((slot as f64 * FINE_SLOT.as_secs_f64() - at_s).max(0.0))
}

/// The failover of `locs` over `range` (the slots from the fault to the next fault): the slot in
/// which it settled, and when traffic left and the probes (module docs).
fn failover(
    world: &World,
    at: SimTime,
    range: std::ops::Range<usize>,
    locs: &[LocalityId],
) -> (Option<usize>, FailoverDetail) {
    let rec = &world.rec;
    let thr = world.scenario.failover_share;
    let at_s = at.as_secs_f64();
    let counts = |s: usize| -> (u64, u64) {
        let l = rec.n_localities();
        let all: u64 = (0..l).map(|loc| u64::from(rec.loc_attempts[s * l + loc])).sum();
        let hit: u64 = locs.iter().map(|loc| u64::from(rec.loc_attempts[s * l + loc.idx()])).sum();
        (hit, all)
    };
    let first_left = range.clone().find(|&s| {
        let (hit, all) = counts(s);
        all > 0 && hit as f64 / all as f64 <= thr
    });
    // Probes: un-ejections of the localities' endpoints from the slot traffic left on.
    let mut excused = vec![false; range.len()];
    let mut probe_times_s = Vec::new();
    if let Some(left) = first_left {
        for e in &world.rec.log {
            if let LogKind::Uneject { locality, .. } = e.kind {
                let slot = (e.time.as_nanos() / FINE_SLOT.as_nanos()) as usize;
                if slot < left || slot >= range.end || !locs.contains(&locality) {
                    continue;
                }
                probe_times_s.push(e.time.as_secs_f64());
                for x in slot..(slot + WINDOW_SLOTS).min(range.end) {
                    excused[x - range.start] = true;
                }
            }
        }
    }
    let probe_attempts = range.clone().filter(|s| excused[s - range.start]).map(|s| counts(s).0).sum();
    let settled = settled(rec, range.clone(), &excused, thr, &counts);
    let left = match (first_left, settled) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let detail = FailoverDetail {
        left_s: left.map(|s| since(s, at_s)),
        probes: probe_times_s.len() as u64,
        probe_times_s,
        probe_attempts,
    };
    (settled, detail)
}

/// The slot in which the failover settled: the first slot `t` whose share passes the threshold,
/// such that the 1 s windows centred on every slot from `t + 0.5 s` to the end of the range pass
/// too, counting only the slots not `excused` (the second after each probe). The slot gives
/// 100 ms resolution; the windows keep a lone request to a returned host (a few attempts among
/// hundreds) from restarting the clock, and the excused slots a whole probe burst (every proxy
/// trying every returned endpoint once).
fn settled(
    rec: &Recorder,
    range: std::ops::Range<usize>,
    excused: &[bool],
    thr: f64,
    counts: &dyn Fn(usize) -> (u64, u64),
) -> Option<usize> {
    if range.is_empty() {
        return None;
    }
    let _ = rec;
    let counted = |s: &usize| !excused[*s - range.start];
    // Whether the share in the counted slots of `w` is above the threshold (false without attempts).
    let above = |w: std::ops::Range<usize>| {
        let (hit, all) = w.filter(counted).map(counts).fold((0, 0), |(h, a), (x, y)| (h + x, a + y));
        all > 0 && hit as f64 / all as f64 > thr
    };
    let half = WINDOW_SLOTS / 2;
    let last_bad =
        range.clone().rev().find(|&c| above(c.saturating_sub(half).max(range.start)..(c + half).min(range.end)));
    let from = last_bad.map_or(range.start, |c| (c + 1).saturating_sub(half).max(range.start));
    (from..range.end).find(|t| counted(t) && !above(*t..*t + 1))
}

/// Share of `locs` among all attempts in a range of slots (0 when there were no attempts).
fn window_share(rec: &Recorder, slots: std::ops::Range<usize>, locs: &[LocalityId]) -> f64 {
    let l = rec.n_localities();
    let mut hit = 0u64;
    let mut all = 0u64;
    for s in slots {
        for loc in 0..l {
            let a = u64::from(rec.loc_attempts[s * l + loc]);
            all += a;
            if locs.iter().any(|x| x.idx() == loc) {
                hit += a;
            }
        }
    }
    if all == 0 { 0.0 } else { hit as f64 / all as f64 }
}

/// The first slot `t` in `range` such that `ok` holds for the window of `window` slots centred
/// on every slot from `t` to the end of the range (windows are clipped to the range; windows without any
/// attempt are skipped). A centred window times a clean step change to within one slot.
fn first_sustained(
    rec: &Recorder,
    range: std::ops::Range<usize>,
    window: usize,
    ok: impl Fn(&std::ops::Range<usize>) -> bool,
) -> Option<usize> {
    if range.is_empty() {
        return None;
    }
    let l = rec.n_localities();
    let half = window / 2;
    let mut candidate = None;
    // Walk backwards: the answer is one past the last failing window.
    for t in range.clone().rev() {
        let w = t.saturating_sub(half).max(range.start)..(t + half.max(1)).min(range.end);
        let has_traffic = w.clone().any(|s| (0..l).any(|loc| rec.loc_attempts[s * l + loc] > 0));
        if has_traffic && !ok(&w) {
            break;
        }
        candidate = Some(t);
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;
    use crate::model::ids::{EndpointId, ProxyId};

    /// A proxy ejects an endpoint while any of its clusters does: two subsets' clusters of one
    /// proxy ejecting the same pod count one (proxy, endpoint) pair and one proxy, not two.
    /// Proxy 0's clusters 0 and 1 eject endpoint 0 at 0.1 s and 0.2 s, cluster 0 returns it at
    /// 0.3 s, cluster 1 at 0.5 s; proxy 1 ejects it from 0.2 s to 0.4 s.
    #[test]
    fn two_clusters_of_one_proxy_eject_an_endpoint_once() {
        let mut rec = Recorder::new(SimDuration::from_secs(1), SimDuration::from_secs(1), 1);
        let ms = |m: u64| SimTime(m * 1_000_000);
        let (e, l) = (EndpointId(0), LocalityId(0));
        rec.ejection_change(ms(100), (ProxyId(0), 0), e, l, 1);
        rec.ejection_change(ms(200), (ProxyId(0), 1), e, l, 1);
        rec.ejection_change(ms(250), (ProxyId(1), 0), e, l, 1);
        rec.ejection_change(ms(300), (ProxyId(0), 0), e, l, -1);
        rec.ejection_change(ms(450), (ProxyId(1), 0), e, l, -1);
        rec.ejection_change(ms(500), (ProxyId(0), 1), e, l, -1);
        let s = EjectedSeries::of(&rec, FINE_SLOT, 6);
        // Pairs at the end of each 100 ms slot: 0, 1, 2 (proxy 0 once, proxy 1), 2, 1, 0.
        assert_eq!(s.pairs, [0, 1, 2, 2, 1, 0]);
        assert_eq!(s.endpoints, [0, 1, 1, 1, 1, 0]);
        let by: Vec<Vec<u32>> = vec![vec![], vec![1], vec![0, 1], vec![0, 1], vec![1], vec![]];
        assert_eq!(s.by_count, by);
    }
}
