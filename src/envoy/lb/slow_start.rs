//! Envoy's slow start for the round-robin and least-request balancers (`EdfLoadBalancerBase` in
//! `common/load_balancer_impl.cc`: `recalculateHostsInSlowStart`, `noHostsAreInSlowStart`,
//! `applySlowStartFactor`, `applyAggressionFactor`; `hostWeight` in `round_robin_lb.h` and
//! `least_request_lb.cc`).
//!
//! Which hosts are in slow start:
//!
//! * A host's window starts at its `last_hc_pass_time`. Active health checking sets it when a
//!   check passes; Istio configures none, so the balancer sets it itself the first time it sees
//!   the host **healthy** (in `recalculateHostsInSlowStart`, run on the hosts added by an EDS
//!   update and on every host of a priority whose host set is rebuilt). A pod that joins EDS
//!   unready (Istio 1.31 sends it as UNHEALTHY) starts its window when it turns ready.
//! * The hosts present when the balancer is created are stamped at that moment too: they all
//!   start in slow start together, with equal factors, so their relative shares do not change.
//! * A host returning from an outlier ejection keeps its old stamp: outlier detection never sets
//!   `last_hc_pass_time` (only active health checks and this balancer do), so it does **not**
//!   re-enter slow start. A host removed from EDS and added back is a new host object in Envoy,
//!   with no stamp, and starts a new window.
//! * `latest_host_added_time` starts at the balancer's creation and moves to the newest stamp
//!   that is still inside the window. While it is within the window of now
//!   (`noHostsAreInSlowStart` false), host weights carry the factor and every host source is
//!   scheduled by EDF even when all weights are equal; the EDF stays until the next rebuild.
//!
//! The factor of a healthy host stamped `t` at time `now` (both in whole milliseconds, as
//! Envoy's `duration_cast` truncates): with `d = now − t < window`,
//! `time_factor = max(1 ms, d) / window` and the weight is multiplied by
//! `max(time_factor^(1/aggression), min_weight_percent / 100)` (`libm::pow`; no power when the
//! aggression or the time factor is 1). Past the window, or for a host that is not healthy, the
//! weight is unchanged.

use crate::engine::SimTime;
use crate::envoy::config::SlowStartConfig;
use crate::model::ids::EndpointId;

/// No stamp yet.
const UNSTAMPED: u64 = u64::MAX;

/// One balancer's slow-start state.
#[derive(Clone, Debug)]
pub struct SlowStart {
    window_ms: u64,
    aggression: f64,
    min_weight: f64,
    latest_host_added_ms: u64,
    /// `last_hc_pass_time` in ms per endpoint id (`UNSTAMPED` when none).
    stamps: Vec<u64>,
}

impl SlowStart {
    /// The state of a balancer created at `now`, or `None` when the window is zero.
    pub fn new(config: &SlowStartConfig, now: SimTime) -> Option<SlowStart> {
        let window_ms = config.window.as_millis();
        if window_ms == 0 {
            return None;
        }
        let aggression = if config.aggression.is_nan() || config.aggression <= 0.0 { 1.0 } else { config.aggression };
        Some(SlowStart {
            window_ms,
            aggression,
            min_weight: config.min_weight_percent / 100.0,
            latest_host_added_ms: ms(now),
            stamps: Vec::new(),
        })
    }

    /// `recalculateHostsInSlowStart` over `hosts` (id, healthy): a healthy host without a stamp
    /// is stamped now; a stamp newer than `latest_host_added_time` and still inside the window
    /// becomes the new `latest_host_added_time`.
    pub fn recalculate(&mut self, now: SimTime, hosts: impl Iterator<Item = (EndpointId, bool)>) {
        let now_ms = ms(now);
        for (id, healthy) in hosts {
            if !healthy {
                continue;
            }
            let i = id.idx();
            if self.stamps.len() <= i {
                self.stamps.resize(i + 1, UNSTAMPED);
            }
            if self.stamps[i] == UNSTAMPED {
                self.stamps[i] = now_ms;
            }
            let stamp = self.stamps[i];
            if stamp > self.latest_host_added_ms && now_ms - stamp <= self.window_ms {
                self.latest_host_added_ms = stamp;
            }
        }
    }

    /// A host left the cluster: its host object (and stamp) is gone.
    pub fn forget(&mut self, id: EndpointId) {
        if let Some(s) = self.stamps.get_mut(id.idx()) {
            *s = UNSTAMPED;
        }
    }

    /// `noHostsAreInSlowStart`: the newest stamp is more than a window old.
    #[inline]
    pub fn no_hosts_in_slow_start(&self, now: SimTime) -> bool {
        ms(now).saturating_sub(self.latest_host_added_ms) > self.window_ms
    }

    /// `applySlowStartFactor`: the multiplier of a host's weight at `now`.
    #[inline]
    pub fn factor(&self, id: EndpointId, healthy: bool, now: SimTime) -> f64 {
        let stamp = self.stamps.get(id.idx()).copied().unwrap_or(UNSTAMPED);
        if !healthy || stamp == UNSTAMPED {
            return 1.0;
        }
        let in_healthy_ms = ms(now).saturating_sub(stamp);
        if in_healthy_ms >= self.window_ms {
            return 1.0;
        }
        let time_factor = in_healthy_ms.max(1) as f64 / self.window_ms as f64;
        aggression_factor(time_factor, self.aggression).max(self.min_weight)
    }

    /// `latest_host_added_time`.
    pub fn latest_host_added_time(&self) -> SimTime {
        SimTime::from_millis(self.latest_host_added_ms)
    }

    /// When `id` was stamped, if it was.
    pub fn stamp(&self, id: EndpointId) -> Option<SimTime> {
        let s = self.stamps.get(id.idx()).copied().unwrap_or(UNSTAMPED);
        (s != UNSTAMPED).then(|| SimTime::from_millis(s))
    }

    /// Bytes held per endpoint id.
    pub const BYTES_PER_HOST: usize = std::mem::size_of::<u64>();
}

/// `applyAggressionFactor`: `time_factor^(1/aggression)`, skipped when either is 1.
#[inline]
pub fn aggression_factor(time_factor: f64, aggression: f64) -> f64 {
    if aggression == 1.0 || time_factor == 1.0 { time_factor } else { libm::pow(time_factor, 1.0 / aggression) }
}

#[inline]
fn ms(t: SimTime) -> u64 {
    t.as_nanos() / 1_000_000
}
