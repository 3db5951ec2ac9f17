//! Host picking inside one host source (envoy-semantics §2.7): round robin
//! (`round_robin/round_robin_lb.h`), least request (`least_request/least_request_lb.cc`),
//! random (`random/random_lb.cc`), and the weighted EDF variants built by
//! `EdfLoadBalancerBase::refresh` (`common/load_balancer_impl.cc`), with slow start's factor
//! (`slow_start`).

use super::LbRandom;
use super::edf::EdfScheduler;
use super::slow_start::SlowStart;
use crate::engine::SimTime;
use crate::envoy::config::LbPolicy;
use crate::envoy::lb::HostHealth;
use crate::model::ids::EndpointId;

/// What `hostWeight` reads: the priority's host table and, while some host is in slow start,
/// the slow-start state and the time.
#[derive(Clone, Copy)]
pub(super) struct HostWeights<'a> {
    /// The policy (least request divides by active requests).
    pub policy: LbPolicy,
    /// `load_balancing_weight` by host-table position.
    pub weights: &'a [u32],
    /// Endpoint index by host-table position.
    pub ids: &'a [u32],
    /// Health by host-table position.
    pub health: &'a [HostHealth],
    /// Active requests by endpoint index (missing entries count as 0).
    pub active: &'a [u32],
    /// Slow start, present only while `noHostsAreInSlowStart` is false at `now`.
    pub slow: Option<(&'a SlowStart, SimTime)>,
}

impl HostWeights<'_> {
    /// `hostWeight`: RR `weight`, LR `weight / (active + 1)` (bias 1.0), each times the slow-start
    /// factor while some host is in slow start.
    #[inline]
    pub fn host_weight(&self, h: usize) -> f64 {
        let mut w = f64::from(self.weights[h]);
        if let LbPolicy::LeastRequest { .. } = self.policy {
            w /= active(self.active, self.ids[h]) as f64 + 1.0;
        }
        if let Some((slow, now)) = self.slow {
            w *= slow.factor(EndpointId(self.ids[h]), self.health[h] == HostHealth::Healthy, now);
        }
        w
    }
}

/// One host source of a priority (all hosts, healthy, degraded, or one locality's healthy or
/// degraded hosts): positions into the priority's host table, the round-robin counter, and the
/// EDF scheduler when the hosts' weights differ or some host is in slow start.
#[derive(Clone, Debug, Default)]
pub(super) struct HostSource {
    /// Indices into the priority's host table, in host order.
    pub hosts: Vec<u32>,
    /// Round-robin counter (`rr_indexes_[source]`); starts at the LB's seed and survives
    /// rebuilds of the same source.
    pub rr: u64,
    /// Weighted scheduler, present iff the policy uses one, there are at least 2 hosts, and
    /// their weights are not all equal or some host is in slow start (`in_slow_start`).
    pub edf: Option<EdfScheduler>,
}

impl HostSource {
    /// `add_hosts_source` in `EdfLoadBalancerBase::refresh`. The EDF is created with `seed`
    /// pre-picks (`createWithPicks(..., seed_)`; Envoy passes the 64-bit seed to a 32-bit
    /// parameter, so it is truncated) and `hostWeight` of each host at creation (least request's
    /// counts the host's active requests at that moment).
    pub fn build(hosts: Vec<u32>, w: &HostWeights<'_>, in_slow_start: bool, seed: u64, rr: u64) -> Self {
        let uses_edf = matches!(w.policy, LbPolicy::RoundRobin | LbPolicy::LeastRequest { .. });
        let differ = hosts.windows(2).any(|p| w.weights[p[0] as usize] != w.weights[p[1] as usize]);
        let edf = (uses_edf && hosts.len() > 1 && (differ || in_slow_start)).then(|| {
            let ws: Vec<f64> = hosts.iter().map(|&h| w.host_weight(h as usize)).collect();
            EdfScheduler::create_with_picks(&ws, seed as u32)
        });
        HostSource { hosts, rr, edf }
    }

    /// `chooseHostOnce` after the source is known: the index into the host table, or `None`
    /// when the source is empty. `r` is the random value already drawn for the priority hash
    /// (RANDOM reuses it).
    #[inline]
    pub fn pick<R: LbRandom + ?Sized>(&mut self, w: &HostWeights<'_>, rng: &mut R, r: u64) -> Option<u32> {
        let hosts = &self.hosts;
        if let Some(edf) = self.edf.as_mut() {
            let pos = edf.pick_and_add(|pos| w.host_weight(hosts[pos] as usize))?;
            return Some(hosts[pos]);
        }
        self.pick_unweighted(w.policy, w.ids, w.active, rng, r)
    }

    /// [`HostSource::pick`] for a source without an EDF scheduler, which reads no host weight:
    /// `ids` and `active` as in [`HostWeights`].
    #[inline]
    pub fn pick_unweighted<R: LbRandom + ?Sized>(
        &mut self,
        policy: LbPolicy,
        ids: &[u32],
        active: &[u32],
        rng: &mut R,
        r: u64,
    ) -> Option<u32> {
        let hosts = &self.hosts;
        if hosts.is_empty() {
            return None;
        }
        let len = hosts.len() as u64;
        match policy {
            LbPolicy::RoundRobin => {
                let i = self.rr % len;
                self.rr = self.rr.wrapping_add(1);
                Some(hosts[i as usize])
            }
            LbPolicy::LeastRequest { choice_count } => Some(n_choices(hosts, ids, active, choice_count, rng)),
            // RANDOM, and the hashing policies' fallback (never reached: they pick from their
            // tables).
            _ => Some(hosts[(r % len) as usize]),
        }
    }
}

#[inline]
fn active(active_requests: &[u32], id: u32) -> u32 {
    active_requests.get(id as usize).copied().unwrap_or(0)
}

/// `unweightedHostPickNChoices`: `choice_count` uniform draws with replacement
/// (`random() mod |hosts|`); a later draw replaces the candidate only with strictly fewer
/// active requests. A `choice_count` of 0 means unset, i.e. Envoy's default of 2.
#[inline]
fn n_choices<R: LbRandom + ?Sized>(
    hosts: &[u32],
    ids: &[u32],
    active_requests: &[u32],
    choice_count: u32,
    rng: &mut R,
) -> u32 {
    let choices = if choice_count == 0 { 2 } else { choice_count };
    let len = hosts.len() as u64;
    let mut candidate = hosts[(rng.random() % len) as usize];
    for _ in 1..choices {
        let sampled = hosts[(rng.random() % len) as usize];
        if active(active_requests, ids[sampled as usize]) < active(active_requests, ids[candidate as usize]) {
            candidate = sampled;
        }
    }
    candidate
}
