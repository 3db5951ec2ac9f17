//! Host picking inside one host source (envoy-semantics §2.7): round robin
//! (`round_robin/round_robin_lb.h`), least request (`least_request/least_request_lb.cc`),
//! random (`random/random_lb.cc`), and the weighted EDF variants built by
//! `EdfLoadBalancerBase::refresh` (`common/load_balancer_impl.cc`).

use super::LbRandom;
use super::edf::EdfScheduler;
use crate::envoy::config::LbPolicy;

/// One host source of a priority (all hosts, healthy, degraded, or one locality's healthy or
/// degraded hosts): positions into the priority's host table, the round-robin counter, and the
/// EDF scheduler when the hosts' weights differ.
#[derive(Clone, Debug, Default)]
pub(super) struct HostSource {
    /// Indices into the priority's host table, in host order.
    pub hosts: Vec<u32>,
    /// Round-robin counter (`rr_indexes_[source]`); starts at the LB's seed and survives
    /// rebuilds of the same source.
    pub rr: u64,
    /// Weighted scheduler, present iff the policy uses one, there are at least 2 hosts and
    /// their weights are not all equal.
    pub edf: Option<EdfScheduler>,
}

impl HostSource {
    /// `add_hosts_source` in `EdfLoadBalancerBase::refresh`. `weights[i]` is the weight of host
    /// table entry `i`. The EDF is created with `seed` pre-picks (`createWithPicks(..., seed_)`;
    /// Envoy passes the 64-bit seed to a 32-bit parameter, so it is truncated).
    ///
    /// Envoy builds the EDF with `hostWeight(host)`, which for LEAST_REQUEST divides by
    /// `active + 1` at rebuild time. Rebuilds here happen without the active counts, so the
    /// initial deadlines use the static weights; from its first pick onwards every entry is
    /// re-inserted with its dynamic weight, as in Envoy.
    pub fn build(hosts: Vec<u32>, weights: &[u32], policy: LbPolicy, seed: u64, rr: u64) -> Self {
        let uses_edf = !matches!(policy, LbPolicy::Random);
        let differ = hosts.windows(2).any(|w| weights[w[0] as usize] != weights[w[1] as usize]);
        let edf = (uses_edf && hosts.len() > 1 && differ).then(|| {
            let ws: Vec<f64> = hosts.iter().map(|&h| f64::from(weights[h as usize])).collect();
            EdfScheduler::create_with_picks(&ws, seed as u32)
        });
        HostSource { hosts, rr, edf }
    }

    /// `chooseHostOnce` after the source is known: the index into the host table, or `None`
    /// when the source is empty. `r` is the random value already drawn for the priority hash
    /// (RANDOM reuses it); `ids[i]` maps a table index to the endpoint's index into
    /// `active_requests`.
    #[inline]
    pub fn pick<R: LbRandom + ?Sized>(
        &mut self,
        policy: LbPolicy,
        weights: &[u32],
        ids: &[u32],
        active_requests: &[u32],
        rng: &mut R,
        r: u64,
    ) -> Option<u32> {
        let hosts = &self.hosts;
        if let Some(edf) = self.edf.as_mut() {
            let pos = match policy {
                LbPolicy::LeastRequest { .. } => edf.pick_and_add(|pos| {
                    let h = hosts[pos] as usize;
                    f64::from(weights[h]) / (active(active_requests, ids[h]) as f64 + 1.0)
                }),
                _ => edf.pick_and_add(|pos| f64::from(weights[hosts[pos] as usize])),
            }?;
            return Some(hosts[pos]);
        }
        if hosts.is_empty() {
            return None;
        }
        let len = hosts.len() as u64;
        match policy {
            LbPolicy::Random => Some(hosts[(r % len) as usize]),
            LbPolicy::RoundRobin => {
                let i = self.rr % len;
                self.rr = self.rr.wrapping_add(1);
                Some(hosts[i as usize])
            }
            LbPolicy::LeastRequest { choice_count } => Some(n_choices(hosts, ids, active_requests, choice_count, rng)),
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
