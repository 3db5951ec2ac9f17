//! The sink the model pushes observations into. Counts go into fine time slots (100 ms), which
//! the reports aggregate into output buckets and use to time failover and fail-back. An
//! `output.bucket` that is not a whole number of 100 ms slots (`10ms`, `1ms`, `250ms`) gets a
//! second, finer series (a [`SlotSeries`] too, in slots of gcd(bucket, 100 ms)) that only the output
//! rows read; everything timed in 100 ms slots stays as it is.

use crate::engine::{SimDuration, SimTime};
use crate::envoy::outlier::{EjectFigures, EjectionKind, HostLogState, SuccessRateStats};
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
    /// The fault filter aborted it (flag FI): a local reply that never went upstream.
    FaultAbort,
    /// No route of the proxy's table matched it (flag NR): the router's 404 local reply.
    NoRoute,
}

impl ClientOutcome {
    /// Every error cause, in column order.
    pub const ERRORS: [ClientOutcome; 7] = [
        ClientOutcome::Upstream5xx,
        ClientOutcome::ConnectFailure,
        ClientOutcome::NoHealthyUpstream,
        ClientOutcome::Overflow,
        ClientOutcome::Timeout,
        ClientOutcome::FaultAbort,
        ClientOutcome::NoRoute,
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
            ClientOutcome::FaultAbort => "fault_abort",
            ClientOutcome::NoRoute => "no_route",
        }
    }

    /// Whether the client proxy answered itself, without an upstream answer: overflow (UO), no
    /// healthy upstream (UH), an injected abort (FI) and no route (NR) are Envoy local replies.
    pub fn is_local_reply(self) -> bool {
        matches!(
            self,
            ClientOutcome::Overflow
                | ClientOutcome::NoHealthyUpstream
                | ClientOutcome::FaultAbort
                | ClientOutcome::NoRoute
        )
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

/// What one `hosts.csv` row counts: `(phase index, proxy, its cluster, host)`.
pub type HostKey = (u32, ProxyId, crate::model::proxy::ClusterIdx, EndpointId);

/// One cluster's attempts to one host in one phase, by how they ended (`hosts.csv`).
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

/// The finest output bucket: 1 ms (a bucket must be a whole number of milliseconds).
pub const MIN_BUCKET: SimDuration = SimDuration::from_millis(1);

/// The slot of the fine series for `bucket`: gcd(bucket, 100 ms), or `None` when `bucket` is a
/// whole number of 100 ms slots (the 100 ms series serves it).
pub fn fine_slot(bucket: SimDuration) -> Option<SimDuration> {
    let (mut a, mut b) = (bucket.as_nanos(), FINE_SLOT.as_nanos());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    (a != FINE_SLOT.as_nanos()).then_some(SimDuration::from_nanos(a))
}

/// The per-slot counts of one series: attempts and their ends per slot and locality, client
/// requests started and finished, retries. The recorder keeps one in 100 ms slots (failover and
/// fail-back are timed in it) and, for an output bucket that is not a whole number of 100 ms, a
/// second one in finer slots that only the output rows read.
///
/// The vectors grow as virtual time advances, up to the run's length, instead of being
/// allocated for the whole run up front: a run stopped early (an error, or `explain --at`) holds
/// only the slots it reached. [`Recorder::finish`] completes them for the report.
#[derive(Clone, Debug)]
pub struct SlotSeries {
    /// Width of a slot: 100 ms, or a width that divides both the bucket and 100 ms.
    pub slot: SimDuration,
    n_slots: usize,
    /// Slots allocated so far in every vector (at most `n_slots`).
    len_slots: usize,
    n_localities: usize,
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
    /// Client requests finished per slot and outcome `[slot * N_OUTCOMES + outcome]` (success first).
    pub finished: Vec<u32>,
    /// Retries sent per slot.
    pub retries: Vec<u32>,
}

impl SlotSeries {
    fn new(slot: SimDuration, duration: SimDuration, n_localities: usize) -> SlotSeries {
        let n_slots = usize::try_from(duration.as_nanos().div_ceil(slot.as_nanos())).unwrap_or(usize::MAX).max(1);
        SlotSeries {
            slot,
            n_slots,
            len_slots: 0,
            n_localities,
            loc_attempts: Vec::new(),
            loc_5xx: Vec::new(),
            loc_connect_fail: Vec::new(),
            loc_timeout: Vec::new(),
            requests: Vec::new(),
            finished: Vec::new(),
            retries: Vec::new(),
        }
    }

    /// Number of slots of the run.
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// Grows every vector to at least `need` slots: doubling, capped at the run's length.
    /// Returns the slots allocated.
    #[cold]
    fn grow_to(&mut self, need: usize) -> usize {
        let len = need.max(self.len_slots.saturating_mul(2)).max(FIRST_SLOTS).min(self.n_slots);
        let l = self.n_localities;
        for v in [&mut self.loc_attempts, &mut self.loc_5xx, &mut self.loc_connect_fail, &mut self.loc_timeout] {
            grow(v, len * l, 0);
        }
        grow(&mut self.requests, len, 0);
        grow(&mut self.retries, len, 0);
        grow(&mut self.finished, len * N_OUTCOMES, 0);
        self.len_slots = len;
        len
    }

    /// The slot holding `t` (the last one for times past the run), for slots of `width_ns`
    /// nanoseconds: the caller passes `self.slot`, or the constant [`FINE_SLOT`] for the
    /// 100 ms series so that the division is by a constant. Allocates nothing.
    #[inline(always)]
    fn slot_of(&self, t: SimTime, width_ns: u64) -> usize {
        debug_assert_eq!(width_ns, self.slot.as_nanos());
        usize::try_from(t.as_nanos() / width_ns).unwrap_or(usize::MAX).min(self.n_slots - 1)
    }

    /// [`SlotSeries::slot_of`], the vectors grown to hold it.
    #[inline(always)]
    fn slot(&mut self, t: SimTime, width_ns: u64) -> usize {
        let s = self.slot_of(t, width_ns);
        if s >= self.len_slots {
            self.grow_to(s + 1);
        }
        s
    }

    /// Counts a client request started in slot `s`.
    #[inline(always)]
    fn client_request(&mut self, s: usize) {
        self.requests[s] += 1;
    }

    /// Counts an attempt sent to `locality` in slot `s`.
    #[inline(always)]
    fn attempt(&mut self, s: usize, locality: LocalityId, is_retry: bool) {
        self.loc_attempts[s * self.n_localities + locality.idx()] += 1;
        if is_retry {
            self.retries[s] += 1;
        }
    }

    /// Counts how an attempt to `locality` ended in slot `s`.
    #[inline(always)]
    fn attempt_end(&mut self, s: usize, locality: LocalityId, end: AttemptEnd) {
        let i = s * self.n_localities + locality.idx();
        match end {
            AttemptEnd::Status(st) if st >= 500 => self.loc_5xx[i] += 1,
            AttemptEnd::Status(_) => {}
            AttemptEnd::ConnectFailed => self.loc_connect_fail[i] += 1,
            AttemptEnd::Timeout => self.loc_timeout[i] += 1,
        }
    }

    /// Counts a client request finished in slot `s` with outcome column `o`.
    #[inline(always)]
    fn client_done(&mut self, s: usize, o: usize) {
        self.finished[s * N_OUTCOMES + o] += 1;
    }

    /// The series as a view.
    pub fn view(&self) -> SlotView<'_> {
        SlotView {
            slot: self.slot,
            n_slots: self.n_slots,
            loc_attempts: &self.loc_attempts,
            loc_5xx: &self.loc_5xx,
            loc_connect_fail: &self.loc_connect_fail,
            loc_timeout: &self.loc_timeout,
            requests: &self.requests,
            finished: &self.finished,
            retries: &self.retries,
        }
    }
}

/// The width of the 100 ms series' slots in nanoseconds, a constant divisor.
const FINE_SLOT_NS: u64 = FINE_SLOT.as_nanos();

/// The counts the output rows are built from: the 100 ms series, or the fine one.
#[derive(Clone, Copy, Debug)]
pub struct SlotView<'a> {
    /// Width of a slot.
    pub slot: SimDuration,
    /// Number of slots.
    pub n_slots: usize,
    /// Attempts sent per `[slot * L + locality]`.
    pub loc_attempts: &'a [u32],
    /// Attempts answered 5xx, per slot and locality.
    pub loc_5xx: &'a [u32],
    /// Attempts that failed to connect, per slot and locality.
    pub loc_connect_fail: &'a [u32],
    /// Attempts that timed out, per slot and locality.
    pub loc_timeout: &'a [u32],
    /// Client requests started per slot.
    pub requests: &'a [u32],
    /// Client requests finished per slot and outcome.
    pub finished: &'a [u32],
    /// Retries sent per slot.
    pub retries: &'a [u32],
}

impl SlotView<'_> {
    /// Requests finished in slot `s` with `outcome`.
    pub fn finished_in(&self, s: usize, outcome: ClientOutcome) -> u32 {
        let o = outcome.error_idx().map_or(0, |i| i + 1);
        self.finished[s * N_OUTCOMES + o]
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
        /// Its Envoy cluster (`Proxy::clusters`).
        cluster: crate::model::proxy::ClusterIdx,
        /// The host.
        endpoint: EndpointId,
        /// The host's locality.
        locality: LocalityId,
        /// The detector that fired.
        kind: EjectionKind,
        /// The back-off multiplier after this ejection.
        multiplier: u32,
        /// `min(base × multiplier, max) + jitter`; the host returns at the first tick after.
        planned: SimDuration,
        /// The pod was ready and had no injected fault: a false ejection.
        healthy_target: bool,
        /// Envoy's `num_ejections` and `secs_since_last_action`.
        log: HostLogState,
        /// The success-rate figures of a statistical ejection.
        figures: Option<EjectFigures>,
    },
    /// A proxy returned a host to service at an interval tick.
    Uneject {
        /// The proxy.
        proxy: ProxyId,
        /// Its Envoy cluster (`Proxy::clusters`).
        cluster: crate::model::proxy::ClusterIdx,
        /// The host.
        endpoint: EndpointId,
        /// The host's locality.
        locality: LocalityId,
        /// How long it was out.
        ejected_for: SimDuration,
        /// The back-off multiplier it keeps (decays by one per interval tick while healthy).
        multiplier: u32,
        /// Envoy's `num_ejections`.
        num_ejections: u32,
    },
    /// A detection that max-ejection-percent refused (`ejections_overflow`).
    EjectOverflow {
        /// The proxy.
        proxy: ProxyId,
        /// Its Envoy cluster (`Proxy::clusters`).
        cluster: crate::model::proxy::ClusterIdx,
        /// The host.
        endpoint: EndpointId,
        /// The host's locality.
        locality: LocalityId,
        /// The detector that fired.
        kind: EjectionKind,
    },
    /// A detection that the enforcement roll skipped (Envoy logs it with `enforced: false`).
    EjectNotEnforced {
        /// The proxy.
        proxy: ProxyId,
        /// Its Envoy cluster (`Proxy::clusters`).
        cluster: crate::model::proxy::ClusterIdx,
        /// The host.
        endpoint: EndpointId,
        /// The detector that fired.
        kind: EjectionKind,
        /// Envoy's `num_ejections` and `secs_since_last_action`.
        log: HostLogState,
        /// The success-rate figures of a statistical detection.
        figures: Option<EjectFigures>,
    },
    /// A proxy's outlier-detection interval timer fired (logged only with
    /// `output.log_interval_ticks`).
    IntervalTick {
        /// The proxy.
        proxy: ProxyId,
        /// Its Envoy cluster (`Proxy::clusters`).
        cluster: crate::model::proxy::ClusterIdx,
        /// Hosts ejected after the tick.
        ejected: u32,
        /// Hosts of the cluster.
        hosts: u32,
        /// The external success-rate sweep's cluster figures, when it had enough hosts.
        success_rate: Option<SuccessRateStats>,
    },
    /// An EDS push changed a proxy's hosts.
    Eds {
        /// The proxy.
        proxy: ProxyId,
        /// Its Envoy cluster (`Proxy::clusters`).
        cluster: crate::model::proxy::ClusterIdx,
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
        /// Its Envoy cluster (`Proxy::clusters`).
        cluster: crate::model::proxy::ClusterIdx,
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

/// One of a proxy's clusters ejected a host (`delta` +1) or stopped ejecting it (−1:
/// un-ejected, or removed from its endpoints while ejected).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EjectionChange {
    /// When.
    pub time: SimTime,
    /// The proxy.
    pub proxy: ProxyId,
    /// The proxy's cluster whose detector ejected it (each cluster ejects on its own).
    pub cluster: crate::model::proxy::ClusterIdx,
    /// The host.
    pub endpoint: EndpointId,
    /// The host's locality.
    pub locality: LocalityId,
    /// +1 or −1.
    pub delta: i32,
}

/// All counts of one run.
///
/// Its 100 ms series is read through the recorder itself (`rec.requests`, `rec.loc_attempts`:
/// the recorder dereferences to it); the per-slot vectors grow with virtual time (see
/// [`SlotSeries`]), and so do the latency histograms beside them.
#[derive(Clone, Debug)]
pub struct Recorder {
    bucket: SimDuration,
    n_buckets: usize,
    /// The counts in 100 ms slots.
    base: SlotSeries,
    /// Latency of finished requests per output bucket.
    pub latency: Vec<Histogram>,
    /// Latency of the local replies among them (overflow and no healthy upstream, which the
    /// client proxy answers itself), per output bucket.
    pub latency_local: Vec<Histogram>,
    /// The output rows' counts in slots finer than 100 ms, when the bucket needs them.
    pub fine: Option<Box<SlotSeries>>,
    /// Every ejection (+1) and un-ejection (−1, also when an ejected host leaves EDS), in time
    /// order.
    pub ejection_changes: Vec<EjectionChange>,
    /// The event log.
    pub log: Vec<LogEvent>,
    /// The phase under way (its index), for the per-host counts.
    pub phase: u32,
    /// Per-host counts of the phases already over: `((phase, proxy, cluster, host), counts)`,
    /// non-empty ones only, in phase, proxy, cluster and host order. The phase under way is
    /// still counted in each proxy's clusters (`Cluster::counts`).
    pub host_counts: Vec<(HostKey, HostCounts)>,
    /// Entries the log may hold (see [`Recorder::set_log_room`]).
    log_cap: usize,
    /// An entry was dropped for want of room.
    log_overflow: bool,
    /// The output bucket of the last finished request: its times `start..end` in nanoseconds
    /// and its index, so that the next request, nearly always in the same bucket, needs no
    /// 64-bit division (tens of cycles each; `bucket` is a run setting, not a constant).
    latency_at: (u64, u64, usize),
    /// The 100 ms slot of the last count: its times `start..end` in nanoseconds (`end` is
    /// `u64::MAX` for the run's last slot, which holds every later time) and its index, already
    /// allocated. A request is counted three or four times, nearly always within one slot, and
    /// the range test costs fewer instructions than the division, clamp and length test
    /// ([`SlotSeries::slot`]): about 5 M fewer a run of the 503 lab (288 000 requests).
    slot_at: (u64, u64, usize),
}

const N_OUTCOMES: usize = 1 + ClientOutcome::ERRORS.len();

impl std::ops::Deref for Recorder {
    type Target = SlotSeries;

    /// The 100 ms series.
    fn deref(&self) -> &SlotSeries {
        &self.base
    }
}

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
        let bucket = bucket.max(MIN_BUCKET);
        let n_buckets = usize::try_from(duration.as_nanos().div_ceil(bucket.as_nanos())).unwrap_or(usize::MAX).max(1);
        Recorder {
            bucket,
            n_buckets,
            base: SlotSeries::new(FINE_SLOT, duration, n_localities),
            fine: fine_slot(bucket).map(|slot| Box::new(SlotSeries::new(slot, duration, n_localities))),
            latency: Vec::new(),
            latency_local: Vec::new(),
            ejection_changes: Vec::new(),
            log: Vec::new(),
            phase: 0,
            host_counts: Vec::new(),
            log_cap: usize::MAX,
            log_overflow: false,
            latency_at: (0, 0, 0),
            slot_at: (1, 0, 0), // an empty range: the first count computes its slot
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
        self.grow_to(self.base.n_slots);
        if let Some(f) = self.fine.as_mut() {
            f.grow_to(f.n_slots);
        }
    }

    /// Grows the 100 ms series to at least `need` slots, and the latency histograms to the
    /// output buckets those slots cover.
    #[cold]
    fn grow_to(&mut self, need: usize) {
        let len = self.base.grow_to(need);
        let covered = (len as u64).saturating_mul(FINE_SLOT.as_nanos()).div_ceil(self.bucket.as_nanos());
        let n_buckets = usize::try_from(covered).unwrap_or(usize::MAX).min(self.n_buckets);
        grow(&mut self.latency, n_buckets, Histogram::default());
        grow(&mut self.latency_local, n_buckets, Histogram::default());
    }

    /// The 100 ms slot holding `t`, the series (and the latency histograms) grown to hold it.
    #[inline(always)]
    fn slot(&mut self, t: SimTime) -> usize {
        let ns = t.as_nanos();
        let (start, end, s) = self.slot_at;
        if start <= ns && ns < end {
            return s;
        }
        self.slot_computed(t)
    }

    /// [`Recorder::slot`] outside the last count's slot: computes it, grows the series to hold
    /// it and remembers its time range.
    #[inline(never)]
    fn slot_computed(&mut self, t: SimTime) -> usize {
        let s = self.base.slot_of(t, FINE_SLOT_NS);
        if s >= self.base.len_slots {
            self.grow_to(s + 1);
        }
        let start = s as u64 * FINE_SLOT_NS;
        let end = if s + 1 >= self.base.n_slots { u64::MAX } else { start + FINE_SLOT_NS };
        self.slot_at = (start, end, s);
        s
    }

    /// Number of fine slots.
    pub fn n_slots(&self) -> usize {
        self.base.n_slots
    }

    /// Number of localities.
    pub fn n_localities(&self) -> usize {
        self.base.n_localities
    }

    /// The output bucket's width.
    pub fn bucket(&self) -> SimDuration {
        self.bucket
    }

    /// Number of output buckets of the run.
    pub fn n_buckets(&self) -> usize {
        self.n_buckets
    }

    /// The 100 ms series as a view.
    pub fn hundred_ms_view(&self) -> SlotView<'_> {
        self.base.view()
    }

    /// The counts the output rows are built from: the fine series when the bucket needs it,
    /// else the 100 ms one. Call after [`Recorder::finish`].
    pub fn row_view(&self) -> SlotView<'_> {
        self.fine.as_deref().unwrap_or(&self.base).view()
    }

    /// A client request arrived.
    #[inline]
    pub fn client_request(&mut self, now: SimTime) {
        let s = self.slot(now);
        self.base.client_request(s);
        if let Some(f) = self.fine.as_mut() {
            let s = f.slot(now, f.slot.as_nanos());
            f.client_request(s);
        }
    }

    /// An upstream attempt was sent to `locality`.
    #[inline]
    pub fn attempt(&mut self, now: SimTime, locality: LocalityId, is_retry: bool) {
        let s = self.slot(now);
        self.base.attempt(s, locality, is_retry);
        if let Some(f) = self.fine.as_mut() {
            let s = f.slot(now, f.slot.as_nanos());
            f.attempt(s, locality, is_retry);
        }
    }

    /// An upstream attempt to `locality` ended.
    #[inline(always)]
    pub fn attempt_end(&mut self, now: SimTime, locality: LocalityId, end: AttemptEnd) {
        let s = self.slot(now);
        self.base.attempt_end(s, locality, end);
        if let Some(f) = self.fine.as_mut() {
            let s = f.slot(now, f.slot.as_nanos());
            f.attempt_end(s, locality, end);
        }
    }

    /// A client request finished.
    #[inline]
    pub fn client_done(&mut self, now: SimTime, latency: SimDuration, outcome: ClientOutcome) {
        let s = self.slot(now);
        let o = outcome.error_idx().map_or(0, |i| i + 1);
        self.base.client_done(s, o);
        let b = self.output_bucket(now).min(self.latency.len() - 1);
        self.latency[b].record(latency.as_nanos());
        if outcome.is_local_reply() {
            self.latency_local[b].record(latency.as_nanos());
        }
        if let Some(f) = self.fine.as_mut() {
            let s = f.slot(now, f.slot.as_nanos());
            f.client_done(s, o);
        }
    }

    /// Requests finished in slot `s` with `outcome`.
    pub fn finished_in(&self, s: usize, outcome: ClientOutcome) -> u32 {
        let o = outcome.error_idx().map_or(0, |i| i + 1);
        self.finished[s * N_OUTCOMES + o]
    }

    /// The index of the output bucket holding `now`: `now / bucket`, divided only when `now` is
    /// outside the bucket of the last call.
    #[inline]
    fn output_bucket(&mut self, now: SimTime) -> usize {
        let t = now.as_nanos();
        let (start, end, b) = self.latency_at;
        if start <= t && t < end {
            return b;
        }
        let width = self.bucket.as_nanos();
        let q = t / width;
        let start = q * width;
        let b = usize::try_from(q).unwrap_or(usize::MAX);
        self.latency_at = (start, start.saturating_add(width), b);
        b
    }

    /// Counts an ejection (+1) or un-ejection (−1) of `endpoint` (in `locality`) by `proxy`'s
    /// `cluster`.
    pub fn ejection_change(
        &mut self,
        now: SimTime,
        (proxy, cluster): (ProxyId, crate::model::proxy::ClusterIdx),
        endpoint: EndpointId,
        locality: LocalityId,
        delta: i32,
    ) {
        self.ejection_changes.push(EjectionChange { time: now, proxy, cluster, endpoint, locality, delta });
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

    /// Counts land in slot `⌊time / 100 ms⌋` (the last slot for times past the run) whatever
    /// the order of the times: the remembered slot of the previous count is used only for a
    /// time inside it, at either edge of it, going back in time and after the end.
    #[test]
    fn counts_land_in_their_slot_in_any_time_order() {
        // A run of 1 s: slots 0..10; 99.999 999 ms is slot 0, 100 ms slot 1, 0.9 s and later slot 9.
        let mut rec = Recorder::new(SimDuration::from_secs(1), SimDuration::from_secs(1), 1);
        let ns = [
            150_000_000,
            100_000_000,
            199_999_999,
            99_999_999,
            0,
            200_000_000,
            950_000_000,
            5_000_000_000,
            u64::MAX,
            899_999_999,
            900_000_000,
            150_000_000,
        ];
        for t in ns {
            rec.client_request(SimTime(t));
        }
        rec.finish();
        assert_eq!(rec.requests, [2, 4, 1, 0, 0, 0, 0, 0, 1, 4]);
    }

    /// The fine series (a bucket of 250 ms: 50 ms slots) counts what the 100 ms series counts,
    /// each in the slot `⌊time / slot⌋`: two fine slots add up to their 100 ms slot, column by
    /// column, and a time past the run lands in the last slot of each.
    #[test]
    fn fine_series_counts_what_the_100ms_series_counts() {
        let duration = SimDuration::from_secs(2);
        let mut rec = Recorder::new(duration, SimDuration::from_millis(250), 2);
        let mut rng = crate::engine::SimRng::new(7).fork("fine_series_counts_what_the_100ms_series_counts");
        let ends = [AttemptEnd::Status(200), AttemptEnd::Status(503), AttemptEnd::ConnectFailed, AttemptEnd::Timeout];
        let mut want_fine_requests = vec![0u32; 40];
        for _ in 0..5_000 {
            let t = SimTime(rng.below(duration.as_nanos() + 300_000_000));
            let loc = LocalityId(rng.below(2) as u32);
            match rng.below(4) {
                0 => {
                    rec.client_request(t);
                    want_fine_requests[((t.as_nanos() / 50_000_000) as usize).min(39)] += 1;
                }
                1 => rec.attempt(t, loc, rng.below(2) == 0),
                2 => rec.attempt_end(t, loc, ends[rng.below(4) as usize]),
                _ => rec.client_done(t, SimDuration::from_millis(1), ClientOutcome::ERRORS[rng.below(7) as usize]),
            }
        }
        rec.finish();
        let (base, fine) = (rec.hundred_ms_view(), rec.row_view());
        assert_eq!(
            (base.slot, base.n_slots, fine.slot, fine.n_slots),
            (FINE_SLOT, 20, SimDuration::from_millis(50), 40)
        );
        assert_eq!(fine.requests, want_fine_requests.as_slice());
        let pairs = |v: &[u32], width: usize| -> Vec<u32> {
            (0..v.len() / width / 2)
                .flat_map(|s| (0..width).map(move |c| (s, c)))
                .map(|(s, c)| v[2 * s * width + c] + v[(2 * s + 1) * width + c])
                .collect()
        };
        for (name, b, f, width) in [
            ("requests", base.requests, fine.requests, 1),
            ("retries", base.retries, fine.retries, 1),
            ("finished", base.finished, fine.finished, N_OUTCOMES),
            ("loc_attempts", base.loc_attempts, fine.loc_attempts, 2),
            ("loc_5xx", base.loc_5xx, fine.loc_5xx, 2),
            ("loc_connect_fail", base.loc_connect_fail, fine.loc_connect_fail, 2),
            ("loc_timeout", base.loc_timeout, fine.loc_timeout, 2),
        ] {
            assert!(b.iter().sum::<u32>() > 100, "{name}: enough counted");
            assert_eq!(pairs(f, width), b, "{name}");
        }
    }

    /// Finished requests land in the output bucket `⌊time / bucket⌋` whatever the order of the
    /// times (the bucket of the last one is remembered), with a bucket that is not a whole number
    /// of 100 ms, times on bucket edges, and the last bucket taking what lies past the run.
    #[test]
    fn latency_lands_in_the_bucket_of_its_finish_time() {
        let bucket = SimDuration::from_millis(250);
        let duration = SimDuration::from_secs(30);
        let mut rec = Recorder::new(duration, bucket, 1);
        let n_buckets = duration.as_nanos().div_ceil(bucket.as_nanos()) as usize;
        let mut want = vec![0u64; n_buckets];
        let mut rng = crate::engine::SimRng::new(13).fork("latency_lands_in_the_bucket_of_its_finish_time");
        for i in 0..20_000u64 {
            let t = match i % 4 {
                // Runs of nearby times, as a simulation finishes them.
                0 | 1 => i * 1_500_000 + rng.below(1_000_000),
                // Bucket edges and the nanosecond before them.
                2 => (rng.below(n_buckets as u64) * bucket.as_nanos()).saturating_sub(rng.below(2)),
                // Anywhere, past the run's end too.
                _ => rng.below(duration.as_nanos() + 5 * bucket.as_nanos()),
            };
            rec.client_done(SimTime(t), SimDuration::from_millis(1), ClientOutcome::Success);
            want[((t / bucket.as_nanos()) as usize).min(n_buckets - 1)] += 1;
        }
        rec.finish();
        let got: Vec<u64> = rec.latency.iter().map(Histogram::total).collect();
        assert_eq!(got, want);
    }
}
