//! Envoy outlier detection, ported from `source/common/upstream/outlier_detection_impl.cc`.
//!
//! One detector per cluster per proxy, as a pure state machine (`DetectorImpl` and
//! `DetectorHostMonitorImpl`), following envoy-semantics §1.
//!
//! The caller (the proxy model) owns time and randomness: it reports every response or
//! local-origin result with `put_*`, and calls [`OutlierDetector::on_interval_tick`] at
//! `t_create + k·interval`. Every state change is pushed as an [`OutlierEvent`] onto a
//! caller-owned `Vec`.
//!
//! Decisions where the spec is silent, each taken from `outlier_detection_impl.cc`:
//!
//! * **Time resolution.** Envoy reads `interval`, `base_ejection_time`, `max_ejection_time` and
//!   `max_ejection_time_jitter` as whole milliseconds (`PROTOBUF_GET_MS_OR_DEFAULT`), so they are
//!   truncated to whole ms here. The elapsed times it compares them with (`now −
//!   last_ejection_time`, `now − last_unejection_time`) are `MonotonicTime` differences in ns,
//!   and `std::chrono` compares ms and ns durations exactly, so the comparisons are made in ns
//!   here too: there is no rounding of `now` to whole ms.
//! * **`max_ejection_time < base_ejection_time`.** Envoy rejects such a config
//!   (`DetectorImpl::create`), and when `max_ejection_time` is unset it uses
//!   `max(300 s, base)`. [`OutlierConfig`] cannot say "unset", so the effective maximum is
//!   `max(max_ejection_time, base_ejection_time)`; this reproduces the unset case and gives a
//!   defined behaviour instead of a rejected config.
//! * **Order of hosts in a tick.** Envoy iterates an `unordered_map` of host pointers, an
//!   unspecified order. Here hosts are visited in ascending [`EndpointId`]; the order matters
//!   only when several statistical ejections compete for the max-ejection-percent budget.
//! * **Jitter draw.** Envoy draws `random() % (jitter_ms + 1)` on every enforced ejection, even
//!   when the jitter maximum is 0; so does this port (one draw per enforced ejection). The
//!   enforcement roll draws only when `0 < enforcing_x < 100` ([`SimRng::percent_chance`]).
//!   Nothing is drawn on the hot path unless a detector fires.
//! * **A host ejected twice in one sweep.** `processSuccessRateEjections` collects the valid
//!   hosts first, then runs the success-rate loop and the failure-percentage loop over them. A
//!   host ejected by the success-rate loop would reach `ejectHost` again from the
//!   failure-percentage loop, where Envoy only has a debug `ASSERT` against a second ejection
//!   (a release build would count it twice in `ejections_active`). Here the failure-percentage
//!   loop skips a host that is already ejected, without counting a detection.
//! * **Removed hosts.** Envoy deletes the monitor of a removed host and ignores detections that
//!   arrive for it afterwards (`onConsecutiveErrorWorker`). Here `put_*` for a host that is not a
//!   member does nothing at all, which is equivalent since that monitor is never used again.

use crate::engine::{SimDuration, SimRng, SimTime};
use crate::envoy::config::{MaxEjectionRule, OutlierConfig};
use crate::model::ids::EndpointId;

#[cfg(test)]
mod tests;

/// Why a host was detected as an outlier (`envoy.data.cluster.v3.OutlierEjectionType`, without
/// the extension type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EjectionKind {
    /// `consecutive_5xx` consecutive 5xx responses (`CONSECUTIVE_5XX`).
    Consecutive5xx,
    /// `consecutive_gateway_failure` consecutive 502/503/504 (`CONSECUTIVE_GATEWAY_FAILURE`).
    ConsecutiveGatewayFailure,
    /// Consecutive local-origin failures, split mode only (`CONSECUTIVE_LOCAL_ORIGIN_FAILURE`).
    ConsecutiveLocalOriginFailure,
    /// External-origin success rate below the cluster threshold (`SUCCESS_RATE`).
    SuccessRate,
    /// Local-origin success rate below the cluster threshold (`SUCCESS_RATE_LOCAL_ORIGIN`).
    SuccessRateLocalOrigin,
    /// External-origin failure percentage at or above the threshold (`FAILURE_PERCENTAGE`).
    FailurePercentage,
    /// Local-origin failure percentage at or above the threshold
    /// (`FAILURE_PERCENTAGE_LOCAL_ORIGIN`).
    FailurePercentageLocalOrigin,
}

impl EjectionKind {
    /// Every kind, in the order of [`EjectionKind::index`].
    pub const ALL: [EjectionKind; 7] = [
        EjectionKind::Consecutive5xx,
        EjectionKind::ConsecutiveGatewayFailure,
        EjectionKind::ConsecutiveLocalOriginFailure,
        EjectionKind::SuccessRate,
        EjectionKind::SuccessRateLocalOrigin,
        EjectionKind::FailurePercentage,
        EjectionKind::FailurePercentageLocalOrigin,
    ];

    /// A dense index `0..7`, used by the per-kind arrays of [`OutlierStats`].
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The suffix Envoy uses in its stat names, e.g. `consecutive_5xx` in
    /// `outlier_detection.ejections_detected_consecutive_5xx`.
    pub const fn stat_name(self) -> &'static str {
        match self {
            EjectionKind::Consecutive5xx => "consecutive_5xx",
            EjectionKind::ConsecutiveGatewayFailure => "consecutive_gateway_failure",
            EjectionKind::ConsecutiveLocalOriginFailure => "consecutive_local_origin_failure",
            EjectionKind::SuccessRate => "success_rate",
            EjectionKind::SuccessRateLocalOrigin => "local_origin_success_rate",
            EjectionKind::FailurePercentage => "failure_percentage",
            EjectionKind::FailurePercentageLocalOrigin => "local_origin_failure_percentage",
        }
    }

    /// Envoy's `OutlierEjectionType` enum name, as its event log writes it, e.g.
    /// `CONSECUTIVE_5XX`.
    pub const fn envoy_type(self) -> &'static str {
        match self {
            EjectionKind::Consecutive5xx => "CONSECUTIVE_5XX",
            EjectionKind::ConsecutiveGatewayFailure => "CONSECUTIVE_GATEWAY_FAILURE",
            EjectionKind::ConsecutiveLocalOriginFailure => "CONSECUTIVE_LOCAL_ORIGIN_FAILURE",
            EjectionKind::SuccessRate => "SUCCESS_RATE",
            EjectionKind::SuccessRateLocalOrigin => "SUCCESS_RATE_LOCAL_ORIGIN",
            EjectionKind::FailurePercentage => "FAILURE_PERCENTAGE",
            EjectionKind::FailurePercentageLocalOrigin => "FAILURE_PERCENTAGE_LOCAL_ORIGIN",
        }
    }

    /// The `enforcing_*` percentage of `config` that applies to this kind
    /// (`DetectorImpl::enforceEjection`).
    pub fn enforcing_percent(self, config: &OutlierConfig) -> u32 {
        match self {
            EjectionKind::Consecutive5xx => config.enforcing_consecutive_5xx,
            EjectionKind::ConsecutiveGatewayFailure => config.enforcing_consecutive_gateway_failure,
            EjectionKind::ConsecutiveLocalOriginFailure => config.enforcing_consecutive_local_origin_failure,
            EjectionKind::SuccessRate => config.enforcing_success_rate,
            EjectionKind::SuccessRateLocalOrigin => config.enforcing_local_origin_success_rate,
            EjectionKind::FailurePercentage => config.enforcing_failure_percentage,
            EjectionKind::FailurePercentageLocalOrigin => config.enforcing_failure_percentage_local_origin,
        }
    }
}

/// A connection-level result reported with Envoy's `putResult` (envoy-semantics §1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalOriginEvent {
    /// `LocalOriginConnectSuccess`: the connection pool connected. Ignored in non-split mode; a
    /// local success (resets the local-origin counter) in split mode.
    ConnectSuccess,
    /// `LocalOriginConnectFailed`: connect failure, connect timeout, or reset. Counts as HTTP 503
    /// in non-split mode; a local-origin failure in split mode.
    ConnectFailed,
    /// `LocalOriginTimeout`: a per-try or route timeout. In non-split mode it counts as `code`,
    /// or 504 when there is none; in split mode it is a local-origin failure and `code` is
    /// ignored.
    Timeout {
        /// The HTTP code the router attached to the timeout, if any.
        code: Option<u16>,
    },
}

/// The figures Envoy's event log carries with a statistical ejection
/// (`EventLoggerImpl::logEject`, `outlier_detection_event.proto`): the host's success rate, and
/// for a success-rate ejection the cluster's average and ejection threshold of that sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EjectFigures {
    /// `host_success_rate`, percent.
    pub host_success_rate: f64,
    /// `cluster_average_success_rate` (success-rate ejections only), percent.
    pub cluster_average_success_rate: Option<f64>,
    /// `cluster_success_rate_ejection_threshold` (success-rate ejections only), percent.
    pub cluster_success_rate_ejection_threshold: Option<f64>,
}

/// What Envoy's event log says of the host with every eject and uneject event
/// (`EventLoggerImpl::setCommonEventParams`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostLogState {
    /// `num_ejections`: enforced ejections of the host so far (this one included).
    pub num_ejections: u32,
    /// `secs_since_last_action`: for an ejection, the time since the host's last un-ejection;
    /// for an un-ejection, the time since its ejection. `None` when there was none (Envoy then
    /// leaves the field out).
    pub since_last_action: Option<SimDuration>,
}

/// One state change of the detector, for the caller to act on and record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OutlierEvent {
    /// The host was ejected: it is now unhealthy for load balancing.
    Ejected {
        /// The ejected host.
        host: EndpointId,
        /// The detector that fired.
        kind: EjectionKind,
        /// The back-off multiplier after this ejection's increment.
        multiplier: u32,
        /// `min(base × multiplier, max) + jitter`: the host is un-ejected at the first interval
        /// tick at or after `now + planned`.
        planned: SimDuration,
        /// The random jitter drawn for this ejection, included in `planned`.
        jitter: SimDuration,
        /// Envoy's event-log fields of the host.
        log: HostLogState,
        /// The success-rate figures of a statistical ejection.
        figures: Option<EjectFigures>,
    },
    /// A detector fired and admission passed, but the enforcement roll said no (Envoy logs the
    /// event with `enforced=false`).
    NotEnforced {
        /// The detected host.
        host: EndpointId,
        /// The detector that fired.
        kind: EjectionKind,
        /// Envoy's event-log fields of the host (its ejections so far, not counting this one).
        log: HostLogState,
        /// The success-rate figures of a statistical detection.
        figures: Option<EjectFigures>,
    },
    /// A detector fired but the max-ejection-percent admission refused the ejection
    /// (`ejections_overflow`).
    Overflow {
        /// The detected host.
        host: EndpointId,
        /// The detector that fired.
        kind: EjectionKind,
    },
    /// An interval tick brought the host back.
    Unejected {
        /// The host, healthy again.
        host: EndpointId,
        /// Time since its ejection.
        ejected_for: SimDuration,
        /// Enforced ejections of the host so far (`num_ejections`).
        num_ejections: u32,
    },
}

/// The detector's counters, named after Envoy's `outlier_detection.*` stats.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutlierStats {
    /// `ejections_detected_<kind>`, indexed by [`EjectionKind::index`]. Counts every detection
    /// that reached `ejectHost` (not those dropped because the host was already ejected).
    pub detected: [u64; 7],
    /// `ejections_enforced_<kind>`, indexed by [`EjectionKind::index`].
    pub enforced: [u64; 7],
    /// `ejections_enforced_total`.
    pub enforced_total: u64,
    /// `ejections_overflow`: detections refused by the max-ejection-percent admission.
    pub overflow: u64,
    /// The deprecated `ejections_total`: consecutive-5xx and (external) success-rate detections
    /// that passed admission, enforced or not.
    pub ejections_total: u64,
    /// `ejections_active`: hosts currently ejected.
    pub ejections_active: u32,
}

impl OutlierStats {
    /// `ejections_detected_<kind>`.
    pub fn detected(&self, kind: EjectionKind) -> u64 {
        self.detected[kind.index()]
    }
    /// `ejections_enforced_<kind>`.
    pub fn enforced(&self, kind: EjectionKind) -> u64 {
        self.enforced[kind.index()]
    }
}

/// Which success-rate monitor (`DetectorHostMonitor::SuccessRateMonitorType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SuccessRateOrigin {
    /// HTTP responses (and, in non-split mode, local-origin results mapped to codes).
    External,
    /// Local-origin results, split mode only.
    LocalOrigin,
}

impl SuccessRateOrigin {
    const fn index(self) -> usize {
        match self {
            SuccessRateOrigin::External => 0,
            SuccessRateOrigin::LocalOrigin => 1,
        }
    }
}

/// The cluster-wide success-rate numbers of the last sweep (`successRateAverage`,
/// `successRateEjectionThreshold`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SuccessRateStats {
    /// Mean success rate (percent) of the hosts with enough volume.
    pub mean: f64,
    /// `mean − (stdev_factor / 1000) × population stdev`; hosts strictly below are outliers.
    pub ejection_threshold: f64,
}

/// A snapshot of one host's outlier state, for reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HostOutlierState {
    /// `FAILED_OUTLIER_CHECK` is set.
    pub ejected: bool,
    /// Consecutive 5xx counter.
    pub consecutive_5xx: u32,
    /// Consecutive gateway-failure counter.
    pub consecutive_gateway_failure: u32,
    /// Consecutive local-origin failure counter (split mode).
    pub consecutive_local_origin_failure: u32,
    /// The back-off multiplier (`ejectTimeBackoff`).
    pub multiplier: u32,
    /// Enforced ejections of this host since it was added (`num_ejections`).
    pub num_ejections: u32,
    /// The detector of the last enforced ejection.
    pub last_ejection_kind: Option<EjectionKind>,
    /// Time of the last enforced ejection.
    pub last_ejection: Option<SimTime>,
    /// Time of the last un-ejection.
    pub last_unejection: Option<SimTime>,
    /// Jitter drawn at the last enforced ejection.
    pub jitter: SimDuration,
    /// While ejected: `last_ejection + min(base × multiplier, max) + jitter`, the earliest time
    /// a tick un-ejects the host.
    pub uneject_due: Option<SimTime>,
    /// External success rate (percent) computed at the last sweep, if the host had the volume.
    pub success_rate: Option<f64>,
    /// Local-origin success rate computed at the last sweep, if the host had the volume.
    pub local_origin_success_rate: Option<f64>,
}

/// The max-ejection-percent admission of `DetectorImpl::ejectHost` (envoy-semantics §1.4), for
/// `active` hosts already ejected out of `total` hosts of the cluster (all priorities).
///
/// Envoy computes the percentages in `double`; the equivalent exact integer comparisons are used
/// here (`100·a/t < M` ⇔ `100·a < M·t` for `t > 0`). `always_eject_one_host` (Envoy ≥ 1.31) is
/// an OR with `active == 0` as in Envoy's code, applied whatever the rule.
pub fn admits(
    rule: MaxEjectionRule,
    always_eject_one_host: bool,
    max_ejection_percent: u32,
    active: u32,
    total: u32,
) -> bool {
    let m = u64::from(max_ejection_percent.min(100));
    let (a, t) = (u64::from(active), u64::from(total));
    let after_ok = 100 * (a + 1) <= m * t;
    let by_rule = match rule {
        MaxEjectionRule::BeforeEjection => 100 * a < m * t,
        MaxEjectionRule::FirstOrAfterEjection => a == 0 || after_ok,
        MaxEjectionRule::AfterEjection => after_ok,
    };
    by_rule || (always_eject_one_host && active == 0)
}

/// The back-off multiplier after one more ejection: `backoff + 1` while
/// `backoff × base < max + base`, else unchanged (`DetectorImpl::ejectHost`). The ceiling is the
/// smallest `k` with `k·base ≥ max + base`.
pub fn next_multiplier(backoff: u32, base_ms: u64, max_ms: u64) -> u32 {
    if u64::from(backoff).saturating_mul(base_ms) < max_ms.saturating_add(base_ms) {
        backoff.saturating_add(1)
    } else {
        backoff
    }
}

/// Envoy's `successRateEjectionThreshold`: the mean of `rates` and `mean − factor × σ` with σ the
/// population standard deviation. `stdev_factor` is `success_rate_stdev_factor / 1000`.
/// Worked case: {50, 100, 100, 100, 100} with 1.9 → mean 90, threshold 52. `rates` must not be
/// empty.
pub fn success_rate_threshold(rates: &[f64], stdev_factor: f64) -> SuccessRateStats {
    let n = rates.len() as f64;
    let sum: f64 = rates.iter().sum();
    let mean = sum / n;
    let mut variance = 0.0;
    for &r in rates {
        variance += (r - mean) * (r - mean);
    }
    variance /= n;
    SuccessRateStats { mean, ejection_threshold: mean - stdev_factor * variance.sqrt() }
}

/// Envoy's jitter: `random() % (max_ejection_time_jitter_ms + 1)` ms, drawn once per enforced
/// ejection (`DetectorImpl::ejectHost`). Equal to `rng.below(max + 1)`.
fn ejection_jitter_ms(random: u64, max_jitter_ms: u64) -> u64 {
    random % (max_jitter_ms + 1)
}

/// `success` and `total` requests counted in one interval (`SuccessRateAccumulatorBucket`).
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    success: u64,
    total: u64,
}

/// The two buckets of one success-rate monitor: `current` is written, `closed` was filled during
/// the previous interval and is the one analysed (`SuccessRateAccumulator`).
#[derive(Clone, Copy, Debug, Default)]
struct SrMonitor {
    current: Bucket,
    closed: Bucket,
}

/// `DetectorHostMonitorImpl` plus the `FAILED_OUTLIER_CHECK` flag. `Default` is a fresh monitor
/// of a non-member.
#[derive(Clone, Copy, Debug, Default)]
struct HostMonitor {
    member: bool,
    ejected: bool,
    c5xx: u32,
    cgw: u32,
    clocal: u32,
    backoff: u32,
    num_ejections: u32,
    last_kind: Option<EjectionKind>,
    last_ejection: Option<SimTime>,
    last_unejection: Option<SimTime>,
    jitter_ms: u64,
    sr: [SrMonitor; 2],
    success_rate: [Option<f64>; 2],
}

/// The outlier detector of one Envoy cluster in one proxy (`DetectorImpl`).
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    config: OutlierConfig,
    /// Effective durations in whole ms (see the module docs).
    base_ms: u64,
    max_ms: u64,
    jitter_max_ms: u64,
    interval_ns: u64,
    /// Indexed by `EndpointId`; non-members have `member == false`.
    hosts: Vec<HostMonitor>,
    n_members: u32,
    stats: OutlierStats,
    sr_stats: [Option<SuccessRateStats>; 2],
    /// Reusable scratch for the sweeps: host indices and rates.
    scratch_sr: Vec<(u32, f64)>,
    scratch_fp: Vec<(u32, f64)>,
    scratch_rates: Vec<f64>,
}

const NS_PER_MS: u64 = 1_000_000;

impl OutlierDetector {
    /// A detector with no hosts. Durations are truncated to whole ms, and the effective
    /// `max_ejection_time` is `max(max_ejection_time, base_ejection_time)` (see module docs).
    pub fn new(config: OutlierConfig) -> Self {
        let base_ms = config.base_ejection_time.as_millis();
        let max_ms = config.max_ejection_time.as_millis().max(base_ms);
        let jitter_max_ms = config.max_ejection_time_jitter.as_millis();
        let interval_ns = config.interval.as_millis() * NS_PER_MS;
        OutlierDetector {
            config,
            base_ms,
            max_ms,
            jitter_max_ms,
            interval_ns,
            hosts: Vec::new(),
            n_members: 0,
            stats: OutlierStats::default(),
            sr_stats: [None, None],
            scratch_sr: Vec::new(),
            scratch_fp: Vec::new(),
            scratch_rates: Vec::new(),
        }
    }

    /// The configuration as given to [`OutlierDetector::new`].
    pub fn config(&self) -> &OutlierConfig {
        &self.config
    }

    /// Adds a host with a fresh monitor: counters 0, multiplier 0, not ejected (§1.8). A host
    /// that is already a member keeps its state (an EDS update that still lists it).
    pub fn add_host(&mut self, host: EndpointId) {
        let idx = host.idx();
        if idx >= self.hosts.len() {
            self.hosts.resize_with(idx + 1, HostMonitor::default);
        }
        let h = &mut self.hosts[idx];
        if h.member {
            return;
        }
        *h = HostMonitor { member: true, ..HostMonitor::default() };
        self.n_members += 1;
    }

    /// Removes a host and deletes its monitor. If it was ejected, `ejections_active` drops by
    /// one; other ejections are not reverted even if the percentage is now exceeded (§1.8).
    /// Later reports for it are ignored. Removing a non-member does nothing.
    pub fn remove_host(&mut self, host: EndpointId) {
        let Some(h) = member_mut(&mut self.hosts, host) else {
            return;
        };
        if h.ejected {
            self.stats.ejections_active -= 1;
        }
        *h = HostMonitor::default();
        self.n_members -= 1;
    }

    /// True if the host is currently known to the detector.
    pub fn is_member(&self, host: EndpointId) -> bool {
        self.hosts.get(host.idx()).is_some_and(|h| h.member)
    }

    /// True if the host is a member and currently ejected (`FAILED_OUTLIER_CHECK`).
    pub fn is_ejected(&self, host: EndpointId) -> bool {
        self.hosts.get(host.idx()).is_some_and(|h| h.member && h.ejected)
    }

    /// Number of member hosts: the denominator of the max-ejection-percent check.
    pub fn n_members(&self) -> u32 {
        self.n_members
    }

    /// Number of hosts currently ejected.
    pub fn active_ejections(&self) -> u32 {
        self.stats.ejections_active
    }

    /// The detector's counters.
    pub fn stats(&self) -> &OutlierStats {
        &self.stats
    }

    /// The success-rate mean and threshold of the last sweep for `origin`, or `None` (Envoy's
    /// −1) when too few hosts had the volume.
    pub fn success_rate_stats(&self, origin: SuccessRateOrigin) -> Option<SuccessRateStats> {
        self.sr_stats[origin.index()]
    }

    /// A snapshot of the host's state, or `None` if it is not a member.
    pub fn host_state(&self, host: EndpointId) -> Option<HostOutlierState> {
        let h = self.hosts.get(host.idx()).filter(|h| h.member)?;
        let uneject_due = match (h.ejected, h.last_ejection) {
            (true, Some(t)) => Some(t + self.planned(h.backoff, h.jitter_ms)),
            _ => None,
        };
        Some(HostOutlierState {
            ejected: h.ejected,
            consecutive_5xx: h.c5xx,
            consecutive_gateway_failure: h.cgw,
            consecutive_local_origin_failure: h.clocal,
            multiplier: h.backoff,
            num_ejections: h.num_ejections,
            last_ejection_kind: h.last_kind,
            last_ejection: h.last_ejection,
            last_unejection: h.last_unejection,
            jitter: SimDuration::from_millis(h.jitter_ms),
            uneject_due,
            success_rate: h.success_rate[0],
            local_origin_success_rate: h.success_rate[1],
        })
    }

    /// `min(base × backoff, max) + jitter`.
    fn planned(&self, backoff: u32, jitter_ms: u64) -> SimDuration {
        let ms = self.base_ms.saturating_mul(u64::from(backoff)).min(self.max_ms);
        SimDuration::from_millis(ms.saturating_add(jitter_ms))
    }

    /// Envoy's `putHttpResponseCode`: an HTTP response with `status` from `host` (§1.3). O(1),
    /// no allocation; draws from `rng` only if a detector fires.
    #[inline(always)]
    pub fn put_http_status(
        &mut self,
        host: EndpointId,
        status: u16,
        now: SimTime,
        rng: &mut SimRng,
        out: &mut Vec<OutlierEvent>,
    ) {
        let (t5xx, tgw) = (self.config.consecutive_5xx, self.config.consecutive_gateway_failure);
        let Some(h) = member_mut(&mut self.hosts, host) else {
            return;
        };
        let ext = &mut h.sr[0].current;
        ext.total += 1;
        let mut fire_gw = false;
        let mut fire_5xx = false;
        if (500..600).contains(&status) {
            if (502..=504).contains(&status) {
                h.cgw = h.cgw.saturating_add(1);
                fire_gw = h.cgw == tgw;
            } else {
                h.cgw = 0;
            }
            h.c5xx = h.c5xx.saturating_add(1);
            fire_5xx = h.c5xx == t5xx;
        } else {
            ext.success += 1;
            h.c5xx = 0;
            h.cgw = 0;
        }
        // The gateway detection is raised first, so it is processed first (§1.3).
        if fire_gw {
            self.on_consecutive_error(host, EjectionKind::ConsecutiveGatewayFailure, now, rng, out);
        }
        if fire_5xx {
            self.on_consecutive_error(host, EjectionKind::Consecutive5xx, now, rng, out);
        }
    }

    /// Envoy's `putResult` for a connection-level result (§1.2). Non-split mode maps it to an
    /// HTTP code (`ConnectFailed` → 503, `Timeout` → its code or 504, `ConnectSuccess` →
    /// nothing); split mode feeds the local-origin counter and success-rate monitor.
    pub fn put_local_origin(
        &mut self,
        host: EndpointId,
        ev: LocalOriginEvent,
        now: SimTime,
        rng: &mut SimRng,
        out: &mut Vec<OutlierEvent>,
    ) {
        if !self.config.split_external_local_origin_errors {
            // putResultNoLocalExternalSplit / resultToHttpCode.
            match ev {
                LocalOriginEvent::ConnectSuccess => {}
                LocalOriginEvent::ConnectFailed => self.put_http_status(host, 503, now, rng, out),
                LocalOriginEvent::Timeout { code } => self.put_http_status(host, code.unwrap_or(504), now, rng, out),
            }
            return;
        }
        let threshold = self.config.consecutive_local_origin_failure;
        let Some(h) = member_mut(&mut self.hosts, host) else {
            return;
        };
        let local = &mut h.sr[1].current;
        local.total += 1;
        match ev {
            // localOriginNoFailure
            LocalOriginEvent::ConnectSuccess => {
                local.success += 1;
                h.clocal = 0;
            }
            // localOriginFailure
            LocalOriginEvent::ConnectFailed | LocalOriginEvent::Timeout { .. } => {
                h.clocal = h.clocal.saturating_add(1);
                if h.clocal == threshold {
                    self.on_consecutive_error(host, EjectionKind::ConsecutiveLocalOriginFailure, now, rng, out);
                }
            }
        }
    }

    /// `onConsecutiveErrorWorker`: ignore non-members and already-ejected hosts (no counter
    /// reset); otherwise count the detection, run `ejectHost`, then reset the triggering counter
    /// whatever the outcome.
    fn on_consecutive_error(
        &mut self,
        host: EndpointId,
        kind: EjectionKind,
        now: SimTime,
        rng: &mut SimRng,
        out: &mut Vec<OutlierEvent>,
    ) {
        match self.hosts.get(host.idx()) {
            Some(h) if h.member && !h.ejected => {}
            _ => return,
        }
        self.stats.detected[kind.index()] += 1;
        self.eject_host(host, kind, None, now, rng, out);
        let h = &mut self.hosts[host.idx()];
        match kind {
            EjectionKind::Consecutive5xx => h.c5xx = 0,
            EjectionKind::ConsecutiveGatewayFailure => h.cgw = 0,
            EjectionKind::ConsecutiveLocalOriginFailure => h.clocal = 0,
            _ => unreachable!("not a consecutive detector: {kind:?}"),
        }
    }

    /// `DetectorImpl::ejectHost` (§1.4): admission, enforcement roll, then the ejection itself
    /// with its jitter and back-off increment. `figures` are what the event log carries of a
    /// statistical detection.
    fn eject_host(
        &mut self,
        host: EndpointId,
        kind: EjectionKind,
        figures: Option<EjectFigures>,
        now: SimTime,
        rng: &mut SimRng,
        out: &mut Vec<OutlierEvent>,
    ) {
        let admitted = admits(
            self.config.max_ejection_rule,
            self.config.always_eject_one_host,
            self.config.max_ejection_percent,
            self.stats.ejections_active,
            self.n_members,
        );
        if !admitted {
            self.stats.overflow += 1;
            out.push(OutlierEvent::Overflow { host, kind });
            return;
        }
        if matches!(kind, EjectionKind::Consecutive5xx | EjectionKind::SuccessRate) {
            self.stats.ejections_total += 1;
        }
        // `logEject` reads the host's last un-ejection, which an ejection does not change.
        let h = &self.hosts[host.idx()];
        let since_last_action = h.last_unejection.map(|t| now.saturating_since(t));
        if !rng.percent_chance(kind.enforcing_percent(&self.config)) {
            let log = HostLogState { num_ejections: h.num_ejections, since_last_action };
            out.push(OutlierEvent::NotEnforced { host, kind, log, figures });
            return;
        }
        self.stats.ejections_active += 1;
        self.stats.enforced[kind.index()] += 1;
        self.stats.enforced_total += 1;
        let jitter_ms = ejection_jitter_ms(rng.next_u64(), self.jitter_max_ms);
        let (base_ms, max_ms) = (self.base_ms, self.max_ms);
        let h = &mut self.hosts[host.idx()];
        h.ejected = true;
        h.num_ejections += 1;
        h.last_kind = Some(kind);
        h.last_ejection = Some(now);
        h.jitter_ms = jitter_ms;
        h.backoff = next_multiplier(h.backoff, base_ms, max_ms);
        let multiplier = h.backoff;
        let log = HostLogState { num_ejections: h.num_ejections, since_last_action };
        out.push(OutlierEvent::Ejected {
            host,
            kind,
            multiplier,
            planned: self.planned(multiplier, jitter_ms),
            jitter: SimDuration::from_millis(jitter_ms),
            log,
            figures,
        });
    }

    /// `DetectorImpl::onIntervalTimer` (§1.5), in Envoy's order: for each host, the un-eject
    /// check and the bucket swap; then the external and local-origin success-rate and
    /// failure-percentage sweeps (§1.7); then the back-off decay. The caller re-arms the timer.
    pub fn on_interval_tick(&mut self, now: SimTime, rng: &mut SimRng, out: &mut Vec<OutlierEvent>) {
        for idx in 0..self.hosts.len() {
            let h = self.hosts[idx];
            if !h.member {
                continue;
            }
            if h.ejected {
                let since = h.last_ejection.expect("ejected host has an ejection time");
                let elapsed = now.saturating_since(since);
                if elapsed >= self.planned(h.backoff, h.jitter_ms) {
                    self.stats.ejections_active -= 1;
                    let h = &mut self.hosts[idx];
                    h.ejected = false;
                    h.c5xx = 0;
                    h.cgw = 0;
                    h.clocal = 0;
                    h.last_unejection = Some(now);
                    let num_ejections = h.num_ejections;
                    out.push(OutlierEvent::Unejected {
                        host: EndpointId(idx as u32),
                        ejected_for: elapsed,
                        num_ejections,
                    });
                }
            }
            let h = &mut self.hosts[idx];
            for m in &mut h.sr {
                m.closed = m.current;
                m.current = Bucket::default();
            }
            h.success_rate = [None, None];
        }

        self.sweep(SuccessRateOrigin::External, now, rng, out);
        self.sweep(SuccessRateOrigin::LocalOrigin, now, rng, out);

        let interval_ns = self.interval_ns;
        for h in self.hosts.iter_mut().filter(|h| h.member && !h.ejected) {
            let healthy_for_an_interval =
                h.last_unejection.is_some_and(|t| now.saturating_since(t).as_nanos() >= interval_ns);
            if healthy_for_an_interval && h.backoff != 0 {
                h.backoff -= 1;
            }
        }
    }

    /// `processSuccessRateEjections` for one monitor type (§1.7).
    fn sweep(&mut self, origin: SuccessRateOrigin, now: SimTime, rng: &mut SimRng, out: &mut Vec<OutlierEvent>) {
        let o = origin.index();
        self.sr_stats[o] = None;
        let cfg = &self.config;
        let (sr_min_hosts, sr_volume) =
            (u64::from(cfg.success_rate_minimum_hosts), u64::from(cfg.success_rate_request_volume));
        let (fp_min_hosts, fp_volume) =
            (u64::from(cfg.failure_percentage_minimum_hosts), u64::from(cfg.failure_percentage_request_volume));
        let members = u64::from(self.n_members);
        if members < sr_min_hosts && members < fp_min_hosts {
            return;
        }
        let (sr_kind, fp_kind) = match origin {
            SuccessRateOrigin::External => (EjectionKind::SuccessRate, EjectionKind::FailurePercentage),
            SuccessRateOrigin::LocalOrigin => {
                (EjectionKind::SuccessRateLocalOrigin, EjectionKind::FailurePercentageLocalOrigin)
            }
        };
        let stdev_factor = f64::from(cfg.success_rate_stdev_factor) / 1000.0;
        let fp_threshold = f64::from(cfg.failure_percentage_threshold);

        let mut valid_sr = std::mem::take(&mut self.scratch_sr);
        let mut valid_fp = std::mem::take(&mut self.scratch_fp);
        let mut rates = std::mem::take(&mut self.scratch_rates);
        valid_sr.clear();
        valid_fp.clear();
        rates.clear();
        for (idx, h) in self.hosts.iter_mut().enumerate() {
            if !h.member || h.ejected {
                continue;
            }
            let b = h.sr[o].closed;
            if b.total == 0 {
                continue;
            }
            let rate = b.success as f64 * 100.0 / b.total as f64;
            if b.total >= sr_volume.min(fp_volume) {
                h.success_rate[o] = Some(rate);
            }
            if b.total >= sr_volume {
                valid_sr.push((idx as u32, rate));
                rates.push(rate);
            }
            if b.total >= fp_volume {
                valid_fp.push((idx as u32, rate));
            }
        }

        if !valid_sr.is_empty() && valid_sr.len() as u64 >= sr_min_hosts {
            let st = success_rate_threshold(&rates, stdev_factor);
            self.sr_stats[o] = Some(st);
            for &(idx, rate) in &valid_sr {
                if rate < st.ejection_threshold {
                    self.stats.detected[sr_kind.index()] += 1;
                    let figures = EjectFigures {
                        host_success_rate: rate,
                        cluster_average_success_rate: Some(st.mean),
                        cluster_success_rate_ejection_threshold: Some(st.ejection_threshold),
                    };
                    self.eject_host(EndpointId(idx), sr_kind, Some(figures), now, rng, out);
                }
            }
        }

        if !valid_fp.is_empty() && valid_fp.len() as u64 >= fp_min_hosts {
            for &(idx, rate) in &valid_fp {
                if 100.0 - rate >= fp_threshold && !self.hosts[idx as usize].ejected {
                    self.stats.detected[fp_kind.index()] += 1;
                    let figures = EjectFigures {
                        host_success_rate: rate,
                        cluster_average_success_rate: None,
                        cluster_success_rate_ejection_threshold: None,
                    };
                    self.eject_host(EndpointId(idx), fp_kind, Some(figures), now, rng, out);
                }
            }
        }

        self.scratch_sr = valid_sr;
        self.scratch_fp = valid_fp;
        self.scratch_rates = rates;
    }
}

/// The monitor of `host` if it is a current member; a detection or result for a host that left
/// the cluster is dropped (envoy-semantics §1.8).
#[inline]
fn member_mut(hosts: &mut [HostMonitor], host: EndpointId) -> Option<&mut HostMonitor> {
    hosts.get_mut(host.idx()).filter(|h| h.member)
}
