//! The sink the model pushes observations into. Counts go into fine time slots (100 ms), which
//! the reports aggregate into output buckets and use to time failover and fail-back.

use crate::engine::{SimDuration, SimTime};
use crate::model::ids::{EndpointId, LocalityId, ProxyId};

use super::histogram::Histogram;

/// Width of the fine slots that all series are counted in.
pub const FINE_SLOT: SimDuration = SimDuration::from_millis(100);

/// Why a client request failed (or that it did not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientOutcome {
    /// A non-5xx response.
    Success,
    /// The upstream answered 5xx and it was not (or no longer) retried.
    Upstream5xx,
    /// The last attempt failed to connect (Envoy flag UF, 503).
    ConnectFailure,
    /// Nothing could be picked (flag UH, 503 "no healthy upstream").
    NoHealthyUpstream,
    /// A circuit breaker overflowed (flag UO, 503 with `x-envoy-overloaded`).
    Overflow,
    /// The route or per-try timeout fired (flag UT, 504).
    Timeout,
}

impl ClientOutcome {
    /// Every error cause, in column order.
    pub const ERRORS: [ClientOutcome; 5] = [
        ClientOutcome::Upstream5xx,
        ClientOutcome::ConnectFailure,
        ClientOutcome::NoHealthyUpstream,
        ClientOutcome::Overflow,
        ClientOutcome::Timeout,
    ];

    /// Column-name form, e.g. `no_healthy_upstream`.
    pub fn name(self) -> &'static str {
        match self {
            ClientOutcome::Success => "success",
            ClientOutcome::Upstream5xx => "upstream_5xx",
            ClientOutcome::ConnectFailure => "connect_failure",
            ClientOutcome::NoHealthyUpstream => "no_healthy_upstream",
            ClientOutcome::Overflow => "overflow",
            ClientOutcome::Timeout => "timeout",
        }
    }

    /// Whether the client proxy answered itself, without an upstream answer: overflow (UO) and
    /// no healthy upstream (UH) are Envoy local replies.
    pub fn is_local_reply(self) -> bool {
        matches!(self, ClientOutcome::Overflow | ClientOutcome::NoHealthyUpstream)
    }

    fn error_idx(self) -> Option<usize> {
        ClientOutcome::ERRORS.iter().position(|e| *e == self)
    }
}

/// How one upstream attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptEnd {
    /// A response with this status.
    Status(u16),
    /// Connection refused or reset.
    ConnectFailed,
    /// Per-try or route timeout.
    Timeout,
}

/// One proxy's attempts to one host in one phase, by how they ended (`hosts.csv`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCounts {
    /// Attempts sent (retries included).
    pub attempts: u64,
    /// Of which retries.
    pub retries: u64,
    /// Attempts answered with a status, by class: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub status: [u64; 5],
    /// Attempts whose connection was refused, reset or timed out before a response.
    pub connect_failure: u64,
    /// Attempts ended by a per-try or route timeout.
    pub timeout: u64,
}

impl HostCounts {
    /// Counts how an attempt ended.
    #[inline]
    pub fn end(&mut self, end: AttemptEnd) {
        match end {
            AttemptEnd::Status(s) => self.status[(usize::from(s / 100)).clamp(1, 5) - 1] += 1,
            AttemptEnd::ConnectFailed => self.connect_failure += 1,
            AttemptEnd::Timeout => self.timeout += 1,
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        *self == HostCounts::default()
    }
}

/// A line of `events.jsonl`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEvent {
    /// When.
    pub time: SimTime,
    /// What.
    pub kind: LogKind,
}

/// What a logged event says.
#[derive(Clone, Debug, PartialEq)]
pub enum LogKind {
    /// A proxy ejected a host.
    Eject {
        /// The proxy.
        proxy: ProxyId,
        /// The host.
        endpoint: EndpointId,
        /// The host's locality.
        locality: LocalityId,
        /// The detector that fired, e.g. `consecutive_5xx`.
        reason: &'static str,
        /// The back-off multiplier after this ejection.
        multiplier: u32,
        /// `min(base × multiplier, max) + jitter`; the host returns at the first tick after.
        planned: SimDuration,
        /// The pod was ready and had no injected fault: a false ejection.
        healthy_target: bool,
    },
    /// A proxy returned a host to service at an interval tick.
    Uneject {
        /// The proxy.
        proxy: ProxyId,
        /// The host.
        endpoint: EndpointId,
        /// The host's locality.
        locality: LocalityId,
        /// How long it was out.
        ejected_for: SimDuration,
        /// The back-off multiplier it keeps (decays by one per interval tick while healthy).
        multiplier: u32,
    },
    /// A detection that max-ejection-percent refused (`ejections_overflow`).
    EjectOverflow {
        /// The proxy.
        proxy: ProxyId,
        /// The host.
        endpoint: EndpointId,
        /// The host's locality.
        locality: LocalityId,
        /// The detector that fired.
        reason: &'static str,
    },
    /// A detection that the enforcement roll skipped.
    EjectNotEnforced {
        /// The proxy.
        proxy: ProxyId,
        /// The host.
        endpoint: EndpointId,
        /// The detector that fired.
        reason: &'static str,
    },
    /// An EDS push changed a proxy's hosts.
    Eds {
        /// The proxy.
        proxy: ProxyId,
        /// Hosts added.
        added: u32,
        /// Hosts removed.
        removed: u32,
        /// Hosts in the assignment afterwards.
        hosts: u32,
        /// Number of priorities afterwards.
        priorities: u32,
    },
    /// A proxy's load balancer entered or left panic.
    Panic {
        /// The proxy.
        proxy: ProxyId,
        /// Whether it is in panic now.
        on: bool,
        /// Whether every priority is in panic.
        total: bool,
        /// The priorities in panic now, in order (empty when `on` is false).
        priorities: Vec<u32>,
    },
    /// A phase started.
    Phase {
        /// Its index.
        index: u32,
    },
    /// A fault action was applied.
    Fault {
        /// Index into the scenario's faults.
        index: u32,
    },
}

/// A proxy ejected a host (`delta` +1) or stopped ejecting it (−1: un-ejected, or removed from
/// its endpoints while ejected).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EjectionChange {
    /// When.
    pub time: SimTime,
    /// The proxy.
    pub proxy: ProxyId,
    /// The host.
    pub endpoint: EndpointId,
    /// The host's locality.
    pub locality: LocalityId,
    /// +1 or −1.
    pub delta: i32,
}

/// All counts of one run.
///
/// The per-slot vectors grow as virtual time advances, up to the run's length, instead of being
/// allocated for the whole run up front: a run stopped early (an error, or `explain --at`) holds
/// only the slots it reached. [`Recorder::finish`] completes them for the report.
#[derive(Clone, Debug)]
pub struct Recorder {
    n_localities: usize,
    n_slots: usize,
    bucket_slots: usize,
    /// Slots allocated so far in every per-slot vector (at most `n_slots`).
    len_slots: usize,
    /// Attempts sent per `[slot * L + locality]`.
    pub loc_attempts: Vec<u32>,
    /// Attempts answered 5xx, per slot and locality.
    pub loc_5xx: Vec<u32>,
    /// Attempts that failed to connect, per slot and locality.
    pub loc_connect_fail: Vec<u32>,
    /// Attempts that timed out, per slot and locality.
    pub loc_timeout: Vec<u32>,
    /// Client requests started per slot.
    pub requests: Vec<u32>,
    /// Client requests finished per slot and outcome `[slot * 6 + outcome]` (success first).
    pub finished: Vec<u32>,
    /// Retries sent per slot.
    pub retries: Vec<u32>,
    /// Latency of finished requests per output bucket.
    pub latency: Vec<Histogram>,
    /// Latency of the local replies among them (overflow and no healthy upstream, which the
    /// client proxy answers itself), per output bucket.
    pub latency_local: Vec<Histogram>,
    /// Every ejection (+1) and un-ejection (−1, also when an ejected host leaves EDS), in time
    /// order.
    pub ejection_changes: Vec<EjectionChange>,
    /// The event log.
    pub log: Vec<LogEvent>,
    /// The phase under way (its index), for the per-host counts.
    pub phase: u32,
    /// Per-host counts of the phases already over: `(phase, proxy, host, counts)`, non-empty
    /// ones only, in phase, proxy and host order. The phase under way is still counted in each
    /// proxy (`Proxy::counts`).
    pub host_counts: Vec<(u32, ProxyId, EndpointId, HostCounts)>,
    /// Entries the log may hold (see [`Recorder::set_log_room`]).
    log_cap: usize,
    /// An entry was dropped for want of room.
    log_overflow: bool,
}

const N_OUTCOMES: usize = 6;

/// Bytes an entry of the event log costs: the entry (and its ejection change), the growth of
/// the vector, and its line of `events.jsonl` while that file is written.
pub const LOG_ENTRY_BYTES: u64 =
    2 * (std::mem::size_of::<LogEvent>() as u64 + std::mem::size_of::<EjectionChange>() as u64) + 256;

/// Slots allocated at the first growth.
const FIRST_SLOTS: usize = 256;

/// Grows `v` to `len` elements with exactly that capacity (no doubling past the run's length).
fn grow<T: Clone>(v: &mut Vec<T>, len: usize, fill: T) {
    if len > v.len() {
        v.reserve_exact(len - v.len());
        v.resize(len, fill);
    }
}

impl Recorder {
    /// A recorder for a run of `duration` with `n_localities` and output buckets of `bucket`.
    pub fn new(duration: SimDuration, bucket: SimDuration, n_localities: usize) -> Recorder {
        let n_slots = usize::try_from(duration.as_nanos().div_ceil(FINE_SLOT.as_nanos())).unwrap_or(usize::MAX).max(1);
        let bucket_slots = usize::try_from(bucket.as_nanos() / FINE_SLOT.as_nanos()).unwrap_or(usize::MAX).max(1);
        Recorder {
            n_localities,
            n_slots,
            bucket_slots,
            len_slots: 0,
            loc_attempts: Vec::new(),
            loc_5xx: Vec::new(),
            loc_connect_fail: Vec::new(),
            loc_timeout: Vec::new(),
            requests: Vec::new(),
            finished: Vec::new(),
            retries: Vec::new(),
            latency: Vec::new(),
            latency_local: Vec::new(),
            ejection_changes: Vec::new(),
            log: Vec::new(),
            phase: 0,
            host_counts: Vec::new(),
            log_cap: usize::MAX,
            log_overflow: false,
        }
    }

    /// Lets the event log use `bytes` of memory ([`LOG_ENTRY_BYTES`] per entry); entries past
    /// that are dropped and [`Recorder::log_full`] turns true, which stops the run.
    pub fn set_log_room(&mut self, bytes: u64) {
        self.log_cap = usize::try_from(bytes / LOG_ENTRY_BYTES).unwrap_or(usize::MAX);
    }

    /// The event log had no room for an entry.
    #[inline]
    pub fn log_full(&self) -> bool {
        self.log_overflow
    }

    /// Allocates every slot of the run (zeros where nothing was recorded): call once the run is
    /// over, before reading the per-slot vectors.
    pub fn finish(&mut self) {
        self.grow_to(self.n_slots);
    }

    /// Grows every per-slot vector to at least `need` slots: doubling, capped at the run's length.
    #[cold]
    fn grow_to(&mut self, need: usize) {
        let len = need.max(self.len_slots.saturating_mul(2)).max(FIRST_SLOTS).min(self.n_slots);
        let l = self.n_localities;
        for v in [&mut self.loc_attempts, &mut self.loc_5xx, &mut self.loc_connect_fail, &mut self.loc_timeout] {
            grow(v, len * l, 0);
        }
        grow(&mut self.requests, len, 0);
        grow(&mut self.retries, len, 0);
        grow(&mut self.finished, len * N_OUTCOMES, 0);
        grow(&mut self.latency, len.div_ceil(self.bucket_slots), Histogram::default());
        grow(&mut self.latency_local, len.div_ceil(self.bucket_slots), Histogram::default());
        self.len_slots = len;
    }

    #[inline]
    fn slot(&mut self, t: SimTime) -> usize {
        let s = usize::try_from(t.as_nanos() / FINE_SLOT.as_nanos()).unwrap_or(usize::MAX).min(self.n_slots - 1);
        if s >= self.len_slots {
            self.grow_to(s + 1);
        }
        s
    }

    /// Number of fine slots.
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// Number of localities.
    pub fn n_localities(&self) -> usize {
        self.n_localities
    }

    /// Fine slots per output bucket.
    pub fn bucket_slots(&self) -> usize {
        self.bucket_slots
    }

    /// A client request arrived.
    #[inline]
    pub fn client_request(&mut self, now: SimTime) {
        let s = self.slot(now);
        self.requests[s] += 1;
    }

    /// An upstream attempt was sent to `locality`.
    #[inline]
    pub fn attempt(&mut self, now: SimTime, locality: LocalityId, is_retry: bool) {
        let s = self.slot(now);
        self.loc_attempts[s * self.n_localities + locality.idx()] += 1;
        if is_retry {
            self.retries[s] += 1;
        }
    }

    /// An upstream attempt to `locality` ended.
    #[inline]
    pub fn attempt_end(&mut self, now: SimTime, locality: LocalityId, end: AttemptEnd) {
        let i = self.slot(now) * self.n_localities + locality.idx();
        match end {
            AttemptEnd::Status(s) if s >= 500 => self.loc_5xx[i] += 1,
            AttemptEnd::Status(_) => {}
            AttemptEnd::ConnectFailed => self.loc_connect_fail[i] += 1,
            AttemptEnd::Timeout => self.loc_timeout[i] += 1,
        }
    }

    /// A client request finished.
    #[inline]
    pub fn client_done(&mut self, now: SimTime, latency: SimDuration, outcome: ClientOutcome) {
        let s = self.slot(now);
        let o = outcome.error_idx().map_or(0, |i| i + 1);
        self.finished[s * N_OUTCOMES + o] += 1;
        let b = (s / self.bucket_slots).min(self.latency.len() - 1);
        self.latency[b].record(latency.as_nanos());
        if outcome.is_local_reply() {
            self.latency_local[b].record(latency.as_nanos());
        }
    }

    /// Requests finished in slot `s` with `outcome`.
    pub fn finished_in(&self, s: usize, outcome: ClientOutcome) -> u32 {
        let o = outcome.error_idx().map_or(0, |i| i + 1);
        self.finished[s * N_OUTCOMES + o]
    }

    /// Counts an ejection (+1) or un-ejection (−1) of `endpoint` (in `locality`) by `proxy`.
    pub fn ejection_change(
        &mut self,
        now: SimTime,
        proxy: ProxyId,
        endpoint: EndpointId,
        locality: LocalityId,
        delta: i32,
    ) {
        self.ejection_changes.push(EjectionChange { time: now, proxy, endpoint, locality, delta });
    }

    /// Appends to the event log.
    pub fn log(&mut self, time: SimTime, kind: LogKind) {
        if self.log.len() < self.log_cap {
            self.log.push(LogEvent { time, kind });
        } else {
            self.log_overflow = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_grow_with_time_and_finish_completes_them() {
        let mut rec = Recorder::new(SimDuration::from_secs(36_000), SimDuration::from_secs(1), 3);
        assert_eq!((rec.n_slots(), rec.loc_attempts.len()), (360_000, 0), "nothing allocated up front");
        rec.client_request(SimTime::from_millis(250));
        rec.attempt(SimTime::from_millis(250), LocalityId(2), true);
        assert_eq!(rec.requests.len(), FIRST_SLOTS);
        assert_eq!(rec.loc_attempts.len(), FIRST_SLOTS * 3);
        rec.client_done(SimTime::from_secs(60), SimDuration::from_millis(5), ClientOutcome::Timeout);
        assert_eq!(rec.requests.len(), 601.max(2 * FIRST_SLOTS), "doubling, not the whole run");
        rec.finish();
        assert_eq!(rec.requests.len(), 360_000);
        assert_eq!(rec.requests.capacity(), 360_000, "no capacity past the run");
        assert_eq!(rec.latency.len(), 36_000);
        assert_eq!((rec.requests[2], rec.retries[2], rec.loc_attempts[2 * 3 + 2]), (1, 1, 1));
        assert_eq!(rec.finished_in(600, ClientOutcome::Timeout), 1);
        assert_eq!(rec.latency[60].quantile(0.5).map(|ns| ns / 1_000_000), Some(5), "bucket 60 holds it");
    }
}
