//! Envoy's client-side load balancer for one upstream cluster (envoy-semantics §2, §4.5, §4.6),
//! after `source/extensions/load_balancing_policies/common/load_balancer_impl.cc`,
//! `common/locality_wrr.cc`, `source/common/upstream/edf_scheduler.h`,
//! `round_robin/round_robin_lb.h`, `least_request/least_request_lb.cc`, `random/random_lb.cc`
//! and `source/extensions/retry/priority/previous_priorities/previous_priorities.cc`.
//!
//! The pure arithmetic (priority health and load, panic, priority choice, effective locality
//! weights) is in [`priority`]; [`ClusterLb`] is the stateful balancer a client proxy owns for
//! one cluster. All recomputation happens in [`ClusterLb::set_hosts`] and
//! [`ClusterLb::refresh_health`]; [`ClusterLb::choose_host`] only reads precomputed lists and
//! never allocates.
//!
//! Slow start (`slow_start`) applies to ROUND_ROBIN and LEAST_REQUEST as in
//! `EdfLoadBalancerBase`. RING_HASH and MAGLEV (`hashing`) follow `ThreadAwareLoadBalancerBase`
//! (`common/thread_aware_lb_impl.cc`): the request hash (or a random value when the request has
//! none) picks the priority by the same `hash mod 100 + 1` walk over the priority loads, then
//! the priority's ring or table picks the host; host-selection retries move along the ring or
//! flip the hash instead of redrawing. A retry-priority plugin's load is not consulted there
//! (Envoy's thread-aware balancer reads its own loads), and there is no slow start.
//!
//! Not modelled, because Istio never configures them: zone-aware routing (§2.8, it needs a
//! local cluster, which Istio sidecars do not have), `fail_traffic_on_panic`,
//! `weighted_priority_health`, LEAST_REQUEST `active_request_bias` other than 1 and
//! `FULL_SCAN`, bounded-load hashing (`hash_balance_factor`), `use_hostname_for_hashing`, and
//! preconnect peeking. One balancer models one Envoy worker (§2.7); Envoy's hashing tables are
//! shared by the workers, which gives the same picks.

mod edf;
pub mod hashing;
mod host_pick;
pub mod priority;
mod retry_priority;
pub mod slow_start;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::SocketAddrV4;

pub use edf::EdfScheduler;
pub use priority::{
    Availability, PriorityCounts, PriorityState, choose_priority, choose_priority_with_load, compute_priority_state,
    effective_locality_weight, priority_health,
};
pub use retry_priority::{PreviousPriorities, previous_priorities_load};

use crate::engine::{SimRng, SimTime};
use crate::envoy::config::{LbConfig, LbPolicy};
use crate::model::ids::{EndpointId, LocalityId};
use hashing::{HashTable, Maglev, PriorityHosts, Ring};
use host_pick::{HostSource, HostWeights};
use slow_start::SlowStart;

/// A source of Envoy's `random()` values. [`SimRng`] is the one used in simulation; tests use
/// scripted values to port Envoy's mock-random tests.
pub trait LbRandom {
    /// A uniform 64-bit value.
    fn random(&mut self) -> u64;
}

impl LbRandom for SimRng {
    #[inline]
    fn random(&mut self) -> u64 {
        self.next_u64()
    }
}

/// The coarse health class of a host as the load balancer sees it (§2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostHealth {
    /// In `healthyHosts()`.
    Healthy,
    /// In `degradedHosts()`.
    Degraded,
    /// In `hosts()` only: ejected by outlier detection, failed health check, EDS unhealthy.
    Unhealthy,
    /// In `excludedHosts()`: subtracted from the denominators, still in `hosts()`.
    Excluded,
}

/// One upstream host as EDS delivers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LbHost {
    /// The endpoint (its index into `active_requests`).
    pub id: EndpointId,
    /// `load_balancing_weight` (at least 1 in Envoy; 0 is read as 1).
    pub weight: u32,
    /// The address Envoy knows the host by (`ip:port`); consistent hashing hashes it.
    pub address: SocketAddrV4,
}

/// One `LocalityLbEndpoints` of one priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbLocality {
    /// The locality.
    pub locality: LocalityId,
    /// `load_balancing_weight`; 0 (or absent) means the locality is never picked by the
    /// locality scheduler.
    pub weight: u32,
    /// The locality's hosts, in EDS order.
    pub hosts: Vec<LbHost>,
}

/// One chosen host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    /// The endpoint.
    pub host: EndpointId,
    /// The priority it was chosen in.
    pub priority: usize,
    /// The host's locality.
    pub locality: LocalityId,
    /// The priority was in panic, so the host came from all its hosts regardless of health.
    pub panic: bool,
}

/// A priority load that replaces the balancer's own for one selection (what a retry-priority
/// plugin's `determinePriorityLoad` returns).
#[derive(Clone, Copy, Debug)]
pub struct PriorityLoadRef<'a> {
    /// Healthy load per priority, percent.
    pub healthy: &'a [u32],
    /// Degraded load per priority, percent.
    pub degraded: &'a [u32],
}

/// The `LoadBalancerContext` of one selection. `PickContext::default()` is a first attempt at
/// time zero: nothing rejected, the balancer's own priority load, one draw, no request hash.
#[derive(Clone, Copy, Debug, Default)]
pub struct PickContext<'a> {
    /// When the pick happens (slow start reads it, as Envoy's balancer reads its time source).
    pub now: SimTime,
    /// The request hash (`computeHashKey`), for the consistent-hashing policies; `None` when
    /// the request carries no hash key, and then they draw a random value.
    pub hash: Option<u64>,
    /// Hosts already attempted by this request, rejected by the `previous_hosts` predicate
    /// (compared by id). Empty when the predicate is not configured or on the first attempt.
    pub previous_hosts: &'a [EndpointId],
    /// `host_selection_retry_max_attempts`: extra draws allowed when a draw is rejected (§4.5).
    pub host_selection_retry_max_attempts: u32,
    /// Priority load override from `previous_priorities` (§4.6); `None` uses the balancer's.
    pub priority_load: Option<PriorityLoadRef<'a>>,
}

/// One row of [`ClusterLb::locality_view`].
#[derive(Clone, Debug, PartialEq)]
pub struct LocalityView {
    /// Priority index.
    pub priority: usize,
    /// Locality.
    pub locality: LocalityId,
    /// Configured `load_balancing_weight`.
    pub weight: u32,
    /// Effective weight for the healthy scheduler (§2.6); used only with
    /// `locality_weighted_lb_config`.
    pub effective_weight: f64,
    /// Hosts in the locality.
    pub hosts: u32,
    /// Healthy hosts.
    pub healthy: u32,
    /// Degraded hosts.
    pub degraded: u32,
    /// Excluded hosts.
    pub excluded: u32,
}

/// A locality of one priority: its slice of the host table and its counts.
#[derive(Clone, Debug, PartialEq)]
struct LocalitySlot {
    locality: LocalityId,
    weight: u32,
    start: u32,
    end: u32,
    healthy: u32,
    degraded: u32,
    excluded: u32,
    eff_healthy: f64,
    eff_degraded: f64,
}

/// A locality scheduler (`LocalityWrr`'s healthy or degraded half): EDF positions map to
/// locality indices.
#[derive(Clone, Debug)]
struct LocalityScheduler {
    edf: EdfScheduler,
    localities: Vec<u32>,
    weights: Vec<f64>,
}

impl LocalityScheduler {
    /// `rebuildLocalityScheduler`: only localities with a positive effective weight enter; no
    /// scheduler if the priority has no eligible host or every weight is 0.
    fn build(effective: &[f64], any_eligible: bool, seed: u64) -> Option<LocalityScheduler> {
        if !any_eligible {
            return None;
        }
        let (localities, weights): (Vec<u32>, Vec<f64>) =
            effective.iter().enumerate().filter(|(_, w)| **w > 0.0).map(|(i, &w)| (i as u32, w)).unzip();
        if localities.is_empty() {
            return None;
        }
        let edf = EdfScheduler::create_with_picks(&weights, seed as u32);
        Some(LocalityScheduler { edf, localities, weights })
    }

    #[inline]
    fn choose(&mut self) -> Option<usize> {
        let weights = &self.weights;
        let pos = self.edf.pick_and_add(|p| weights[p])?;
        Some(self.localities[pos] as usize)
    }
}

/// One priority's host set and every structure picking needs.
#[derive(Clone, Debug, Default)]
struct PriorityLb {
    /// Host table, struct of arrays: endpoint index, weight, locality, health, address.
    ids: Vec<u32>,
    weights: Vec<u32>,
    host_locality: Vec<LocalityId>,
    health: Vec<HostHealth>,
    addresses: Vec<SocketAddrV4>,
    localities: Vec<LocalitySlot>,
    all: HostSource,
    healthy: HostSource,
    degraded: HostSource,
    loc_healthy: Vec<HostSource>,
    loc_degraded: Vec<HostSource>,
    healthy_sched: Option<LocalityScheduler>,
    degraded_sched: Option<LocalityScheduler>,
    /// The consistent-hashing table (RING_HASH, MAGLEV only).
    hash: HashTable,
}

impl PriorityLb {
    fn counts(&self) -> PriorityCounts {
        let mut c = PriorityCounts { hosts: self.ids.len() as u32, ..Default::default() };
        for h in &self.health {
            match h {
                HostHealth::Healthy => c.healthy += 1,
                HostHealth::Degraded => c.degraded += 1,
                HostHealth::Unhealthy => {}
                HostHealth::Excluded => c.excluded += 1,
            }
        }
        c
    }

    /// Same membership, weights, localities and health: Envoy would not run the priority
    /// update callbacks, so nothing is rebuilt.
    fn same_as(&self, other: &PriorityLb) -> bool {
        self.ids == other.ids
            && self.weights == other.weights
            && self.addresses == other.addresses
            && self.host_locality == other.host_locality
            && self.health == other.health
            && self.localities.len() == other.localities.len()
            && self
                .localities
                .iter()
                .zip(&other.localities)
                .all(|(a, b)| a.locality == b.locality && a.weight == b.weight && a.start == b.start && a.end == b.end)
    }

    /// The raw host table of a priority, before health is known.
    fn from_localities(localities: &[LbLocality], seen: &mut BTreeSet<EndpointId>) -> PriorityLb {
        let mut p = PriorityLb::default();
        for loc in localities {
            let start = p.ids.len() as u32;
            for h in &loc.hosts {
                if !seen.insert(h.id) {
                    continue;
                }
                p.ids.push(h.id.0);
                p.weights.push(h.weight.max(1));
                p.addresses.push(h.address);
                p.host_locality.push(loc.locality);
            }
            let end = p.ids.len() as u32;
            if end > start {
                p.localities.push(LocalitySlot {
                    locality: loc.locality,
                    weight: loc.weight,
                    start,
                    end,
                    healthy: 0,
                    degraded: 0,
                    excluded: 0,
                    eff_healthy: 0.0,
                    eff_degraded: 0.0,
                });
            }
        }
        p
    }

    /// With `self.health` set, fill the health-dependent structures (`HostSetImpl::updateHosts` partitions,
    /// `rebuildLocalityWrrForPriority`, `EdfLoadBalancerBase::refresh`). Round-robin counters are
    /// carried over from `old` source by source, as Envoy's `rr_indexes_.insert` keeps them.
    /// `slow` is the slow-start state and the time while some host is in slow start.
    fn rebuild<R: LbRandom + ?Sized>(
        &mut self,
        old: Option<&PriorityLb>,
        config: &LbConfig,
        seed: u64,
        slow: Option<(&SlowStart, SimTime)>,
        active_requests: &[u32],
        rng: &mut R,
    ) {
        let policy = config.policy;
        let opf = config.overprovisioning_factor;
        let with = |pred: HostHealth, range: std::ops::Range<u32>| -> Vec<u32> {
            range.filter(|&i| self.health[i as usize] == pred).collect()
        };
        let n = self.ids.len() as u32;
        let rr_of = |f: &dyn Fn(&PriorityLb) -> Option<u64>| old.and_then(f).unwrap_or(seed);

        let all: Vec<u32> = (0..n).collect();
        let healthy = with(HostHealth::Healthy, 0..n);
        let degraded = with(HostHealth::Degraded, 0..n);
        let any_healthy = !healthy.is_empty();
        let any_degraded = !degraded.is_empty();
        let all_rr = rr_of(&|o| Some(o.all.rr));
        let healthy_rr = rr_of(&|o| Some(o.healthy.rr));
        let degraded_rr = rr_of(&|o| Some(o.degraded.rr));

        let mut loc_healthy = Vec::with_capacity(self.localities.len());
        let mut loc_degraded = Vec::with_capacity(self.localities.len());
        let mut eff_h = Vec::with_capacity(self.localities.len());
        let mut eff_d = Vec::with_capacity(self.localities.len());
        for (li, loc) in self.localities.iter().enumerate() {
            let hs = with(HostHealth::Healthy, loc.start..loc.end);
            let ds = with(HostHealth::Degraded, loc.start..loc.end);
            let excluded = with(HostHealth::Excluded, loc.start..loc.end).len() as u32;
            let denom = loc.end - loc.start - excluded;
            eff_h.push(effective_locality_weight(loc.weight, hs.len() as u32, denom, opf));
            eff_d.push(effective_locality_weight(loc.weight, ds.len() as u32, denom, opf));
            let rr_h = rr_of(&|o| o.loc_healthy.get(li).map(|s| s.rr));
            let rr_d = rr_of(&|o| o.loc_degraded.get(li).map(|s| s.rr));
            loc_healthy.push((hs, rr_h, excluded));
            loc_degraded.push((ds, rr_d));
        }
        for (li, loc) in self.localities.iter_mut().enumerate() {
            loc.healthy = loc_healthy[li].0.len() as u32;
            loc.degraded = loc_degraded[li].0.len() as u32;
            loc.excluded = loc_healthy[li].2;
            loc.eff_healthy = eff_h[li];
            loc.eff_degraded = eff_d[li];
        }

        let w = HostWeights {
            policy,
            weights: &self.weights,
            ids: &self.ids,
            health: &self.health,
            active: active_requests,
            slow,
        };
        let ss = slow.is_some();
        self.all = HostSource::build(all, &w, ss, seed, all_rr);
        self.healthy = HostSource::build(healthy, &w, ss, seed, healthy_rr);
        self.degraded = HostSource::build(degraded, &w, ss, seed, degraded_rr);
        self.loc_healthy = loc_healthy.into_iter().map(|(hs, rr, _)| HostSource::build(hs, &w, ss, seed, rr)).collect();
        self.loc_degraded = loc_degraded.into_iter().map(|(ds, rr)| HostSource::build(ds, &w, ss, seed, rr)).collect();

        // The hashing balancers have no locality scheduler (their tables fold the locality
        // weights in), so they draw nothing here.
        if config.locality_weighted && !policy.is_hashing() {
            // One `random()` per rebuilt priority, shared by both halves (`LocalityWrr` ctor).
            let loc_seed = rng.random();
            self.healthy_sched = LocalityScheduler::build(&eff_h, any_healthy, loc_seed);
            self.degraded_sched = LocalityScheduler::build(&eff_d, any_degraded, loc_seed);
        } else {
            self.healthy_sched = None;
            self.degraded_sched = None;
        }
    }

    /// `ThreadAwareLoadBalancerBase::refresh` for this priority: normalise the weights of its
    /// healthy hosts (all hosts in panic) and build the ring or table.
    fn rebuild_hash(&mut self, policy: LbPolicy, locality_weighted: bool, in_panic: bool) {
        let eligible: Vec<u32> = (0..self.ids.len() as u32)
            .filter(|&i| in_panic || self.health[i as usize] == HostHealth::Healthy)
            .collect();
        let per_locality: Vec<Vec<u32>> = self
            .localities
            .iter()
            .map(|l| (l.start..l.end).filter(|&i| in_panic || self.health[i as usize] == HostHealth::Healthy).collect())
            .collect();
        let localities: Vec<(u32, &[u32])> =
            self.localities.iter().zip(&per_locality).map(|(l, hs)| (l.weight, hs.as_slice())).collect();
        let input = PriorityHosts {
            weights: &self.weights,
            addresses: &self.addresses,
            eligible: &eligible,
            localities: &localities,
        };
        let (hosts, min_w, max_w) = hashing::normalize(&input, locality_weighted);
        self.hash = if hosts.is_empty() {
            HashTable::Empty
        } else {
            match policy {
                LbPolicy::RingHash { minimum_ring_size, maximum_ring_size } => {
                    HashTable::Ring(Ring::build(&hosts, min_w, minimum_ring_size, maximum_ring_size))
                }
                LbPolicy::Maglev { table_size } => HashTable::Maglev(Maglev::build(&hosts, max_w, table_size)),
                _ => HashTable::Empty,
            }
        };
    }
}

/// Envoy's load balancer for one upstream cluster in one client proxy (one worker).
#[derive(Clone, Debug)]
pub struct ClusterLb {
    config: LbConfig,
    seed: u64,
    priorities: Vec<PriorityLb>,
    state: PriorityState,
    /// Slow start, when configured (ROUND_ROBIN and LEAST_REQUEST only).
    slow: Option<SlowStart>,
}

impl ClusterLb {
    /// A balancer with no hosts, created at time zero ([`ClusterLb::created_at`]).
    pub fn new<R: LbRandom + ?Sized>(config: LbConfig, rng: &mut R) -> ClusterLb {
        ClusterLb::created_at(config, SimTime::ZERO, rng)
    }

    /// A balancer with no hosts, created at `now` (slow start's `latest_host_added_time` starts
    /// there). Draws the LB's `seed_` (the round-robin start and the number of EDF pre-picks)
    /// for ROUND_ROBIN and LEAST_REQUEST, as `EdfLoadBalancerBase`'s constructor does; RANDOM
    /// and the hashing policies draw nothing.
    pub fn created_at<R: LbRandom + ?Sized>(config: LbConfig, now: SimTime, rng: &mut R) -> ClusterLb {
        let edf_based = matches!(config.policy, LbPolicy::RoundRobin | LbPolicy::LeastRequest { .. });
        let seed = if edf_based { rng.random() } else { 0 };
        let slow = if edf_based { config.slow_start.as_ref().and_then(|c| SlowStart::new(c, now)) } else { None };
        let state = compute_priority_state(
            &[PriorityCounts::default()],
            config.overprovisioning_factor,
            config.healthy_panic_threshold,
        );
        // The empty P0 Envoy always has; its sources' counters start at the seed.
        let mut p0 = PriorityLb::default();
        for source in [&mut p0.all, &mut p0.healthy, &mut p0.degraded] {
            source.rr = seed;
        }
        ClusterLb { config, seed, priorities: vec![p0], state, slow }
    }

    /// The configuration.
    pub fn config(&self) -> &LbConfig {
        &self.config
    }

    /// An EDS update: `priorities[p]` lists priority p's localities, already ordered (the
    /// proxy's own locality first, §2.6).
    ///
    /// * A host listed twice keeps its first occurrence (priority and locality), as
    ///   `updateDynamicHostList` de-duplicates addresses (§8.6). A locality left with no hosts
    ///   does not exist (§2.6).
    /// * Priorities only grow: if the update has fewer priorities, the higher ones become empty
    ///   (§2.9).
    /// * A priority whose hosts, weights, localities and health are unchanged keeps its
    ///   structures (Envoy runs no update callback for it); a changed one is rebuilt, drawing one
    ///   `random()` for its locality scheduler when locality weighting is on.
    /// * Slow start: a removed host forgets its stamp; the hosts of a rebuilt priority are
    ///   stamped if healthy and new (`recalculateHostsInSlowStart`).
    pub fn set_hosts<R: LbRandom + ?Sized>(
        &mut self,
        now: SimTime,
        priorities: Vec<Vec<LbLocality>>,
        health: &dyn Fn(EndpointId) -> HostHealth,
        active_requests: &[u32],
        rng: &mut R,
    ) {
        let n = priorities.len().max(self.priorities.len()).max(1);
        let mut seen = BTreeSet::new();
        let mut new = Vec::with_capacity(n);
        for p in 0..n {
            let locs = priorities.get(p).map(Vec::as_slice).unwrap_or(&[]);
            new.push(PriorityLb::from_localities(locs, &mut seen));
        }
        if let Some(slow) = self.slow.as_mut() {
            for old in &self.priorities {
                for &id in &old.ids {
                    if !seen.contains(&EndpointId(id)) {
                        slow.forget(EndpointId(id));
                    }
                }
            }
        }
        self.install(now, new, health, active_requests, false, rng);
    }

    /// Re-read every host's health after an ejection, un-ejection or health change, and rebuild
    /// the priorities where a host changed class: priority state, healthy lists, effective
    /// locality weights and schedulers (with a fresh random pre-pick count, §2.6).
    /// `active_requests` (by endpoint index) gives least request's EDF its starting weights.
    pub fn refresh_health<R: LbRandom + ?Sized>(
        &mut self,
        now: SimTime,
        health: &dyn Fn(EndpointId) -> HostHealth,
        active_requests: &[u32],
        rng: &mut R,
    ) {
        self.reinstall(now, health, active_requests, false, rng);
    }

    /// Rebuilds every priority as if each had changed: the update callbacks Envoy's tests fire
    /// with `runCallbacks({}, {})` ("recalculate weights").
    #[cfg(test)]
    pub(crate) fn force_refresh<R: LbRandom + ?Sized>(
        &mut self,
        now: SimTime,
        health: &dyn Fn(EndpointId) -> HostHealth,
        active_requests: &[u32],
        rng: &mut R,
    ) {
        self.reinstall(now, health, active_requests, true, rng);
    }

    fn reinstall<R: LbRandom + ?Sized>(
        &mut self,
        now: SimTime,
        health: &dyn Fn(EndpointId) -> HostHealth,
        active_requests: &[u32],
        force: bool,
        rng: &mut R,
    ) {
        let new: Vec<PriorityLb> = self
            .priorities
            .iter()
            .map(|p| PriorityLb {
                ids: p.ids.clone(),
                weights: p.weights.clone(),
                host_locality: p.host_locality.clone(),
                addresses: p.addresses.clone(),
                localities: p.localities.clone(),
                ..Default::default()
            })
            .collect();
        self.install(now, new, health, active_requests, force, rng);
    }

    fn install<R: LbRandom + ?Sized>(
        &mut self,
        now: SimTime,
        mut new: Vec<PriorityLb>,
        health: &dyn Fn(EndpointId) -> HostHealth,
        active_requests: &[u32],
        force: bool,
        rng: &mut R,
    ) {
        let mut changed = false;
        for (p, np) in new.iter_mut().enumerate() {
            np.health = np.ids.iter().map(|&id| health(EndpointId(id))).collect();
            match self.priorities.get_mut(p) {
                Some(old) if !force && old.same_as(np) => *np = std::mem::take(old),
                old => {
                    changed = true;
                    if let Some(slow) = self.slow.as_mut() {
                        let hosts = np.ids.iter().zip(&np.health);
                        slow.recalculate(now, hosts.map(|(&id, &h)| (EndpointId(id), h == HostHealth::Healthy)));
                    }
                    let slow = self.slow.as_ref().filter(|s| !s.no_hosts_in_slow_start(now)).map(|s| (s, now));
                    np.rebuild(old.as_deref(), &self.config, self.seed, slow, active_requests, rng);
                }
            }
        }
        self.priorities = new;
        let counts: Vec<PriorityCounts> = self.priorities.iter().map(PriorityLb::counts).collect();
        self.state =
            compute_priority_state(&counts, self.config.overprovisioning_factor, self.config.healthy_panic_threshold);
        if changed && self.config.policy.is_hashing() {
            // `ThreadAwareLoadBalancerBase::refresh` rebuilds every priority's table on any
            // update, with the panic flags just computed.
            let (policy, locality_weighted) = (self.config.policy, self.config.locality_weighted);
            for (p, pr) in self.priorities.iter_mut().enumerate() {
                let in_panic = self.state.in_panic.get(p).copied().unwrap_or(false);
                pr.rebuild_hash(policy, locality_weighted, in_panic);
            }
        }
    }

    /// `ZoneAwareLoadBalancerBase::chooseHost`: up to `host_selection_retry_max_attempts + 1`
    /// draws of the whole selection (priority, host source, host), returning the first host the
    /// context does not reject, or the last draw if all are rejected (§4.5). `None` is "no
    /// healthy upstream": the chosen source was empty (for example threshold 0 and nothing
    /// healthy). `active_requests` is indexed by `EndpointId` (missing entries count as 0).
    #[inline(always)]
    pub fn choose_host<R: LbRandom + ?Sized>(
        &mut self,
        rng: &mut R,
        active_requests: &[u32],
        ctx: &PickContext<'_>,
    ) -> Option<Pick> {
        if self.config.policy.is_hashing() {
            return self.choose_hashed(rng, ctx);
        }
        if ctx.host_selection_retry_max_attempts == 0 {
            // One draw, returned whether the context rejects it or not (the loop below would
            // return it too): most picks, without the loop, whose setup the compiler hoists out
            // of it at a cost of some sixty instructions per pick.
            return self.choose_host_once(rng, active_requests, ctx);
        }
        let attempts = ctx.host_selection_retry_max_attempts.saturating_add(1);
        let mut last = None;
        for _ in 0..attempts {
            let pick = self.choose_host_once(rng, active_requests, ctx)?;
            if !ctx.previous_hosts.contains(&pick.host) {
                return Some(pick);
            }
            last = Some(pick);
        }
        last
    }

    /// `EdfLoadBalancerBase::chooseHostOnce` / `RandomLoadBalancer::peekOrChoose`: one
    /// `random()` for the priority hash (reused as the host index by RANDOM), then the host
    /// source of §2.5, then the host of §2.7.
    #[inline]
    fn choose_host_once<R: LbRandom + ?Sized>(
        &mut self,
        rng: &mut R,
        active_requests: &[u32],
        ctx: &PickContext<'_>,
    ) -> Option<Pick> {
        let r = rng.random();
        let hash = (r % 100 + 1) as u32;
        let (p, availability) = match ctx.priority_load {
            Some(l) => choose_priority_with_load(l.healthy, l.degraded, hash),
            None => choose_priority(&self.state, hash),
        };
        let panic = self.state.in_panic.get(p).copied().unwrap_or(false);
        let policy = self.config.policy;
        let pr = self.priorities.get_mut(p)?;
        let PriorityLb {
            ids,
            weights,
            host_locality,
            health,
            all,
            healthy,
            degraded,
            loc_healthy,
            loc_degraded,
            healthy_sched,
            degraded_sched,
            ..
        } = pr;
        let source = if panic {
            all
        } else {
            let locality = if self.config.locality_weighted {
                match availability {
                    Availability::Healthy => healthy_sched.as_mut().and_then(|s| s.choose()),
                    Availability::Degraded => degraded_sched.as_mut().and_then(|s| s.choose()),
                }
            } else {
                None
            };
            match (locality, availability) {
                (Some(l), Availability::Healthy) => &mut loc_healthy[l],
                (Some(l), Availability::Degraded) => &mut loc_degraded[l],
                (None, Availability::Healthy) => healthy,
                (None, Availability::Degraded) => degraded,
            }
        };
        let h = if source.edf.is_none() {
            // No host weight is read: the weights table is built only for an EDF source, which
            // spares its stores on most picks (14 instructions a request on the e2e bench).
            source.pick_unweighted(policy, ids, active_requests, rng, r)?
        } else {
            let slow = self.slow.as_ref().filter(|s| !s.no_hosts_in_slow_start(ctx.now)).map(|s| (s, ctx.now));
            let w = HostWeights { policy, weights, ids, health, active: active_requests, slow };
            source.pick(&w, rng, r)?
        } as usize;
        Some(Pick { host: EndpointId(ids[h]), priority: p, locality: host_locality[h], panic })
    }

    /// `ThreadAwareLoadBalancerBase::LoadBalancerImpl::chooseHost`: the request hash (a
    /// `random()` when the request has none) chooses the priority (`hash mod 100 + 1` over the
    /// balancer's own loads), then up to `host_selection_retry_max_attempts + 1` lookups of that
    /// priority's table with attempt 0, 1, …, returning the first host the context does not
    /// reject, or the last. `None` when the table is empty.
    fn choose_hashed<R: LbRandom + ?Sized>(&mut self, rng: &mut R, ctx: &PickContext<'_>) -> Option<Pick> {
        let h = ctx.hash.unwrap_or_else(|| rng.random());
        let (p, _) = choose_priority(&self.state, (h % 100 + 1) as u32);
        let panic = self.state.in_panic.get(p).copied().unwrap_or(false);
        let pr = self.priorities.get(p)?;
        let attempts = ctx.host_selection_retry_max_attempts.saturating_add(1);
        let mut last = None;
        for attempt in 0..attempts {
            let i = pr.hash.choose(h, attempt)? as usize;
            let pick = Pick { host: EndpointId(pr.ids[i]), priority: p, locality: pr.host_locality[i], panic };
            if !ctx.previous_hosts.contains(&pick.host) {
                return Some(pick);
            }
            last = Some(pick);
        }
        last
    }

    /// Per priority: the consistent-hashing table's entries, and the fewest and most entries
    /// one host has (empty for the other policies).
    pub fn hash_table_stats(&self) -> Vec<(u64, u64, u64)> {
        if !self.config.policy.is_hashing() {
            return Vec::new();
        }
        self.priorities.iter().map(|p| p.hash.stats()).collect()
    }

    /// Bytes held by the consistent-hashing tables.
    pub fn hash_table_bytes(&self) -> usize {
        self.priorities.iter().map(|p| p.hash.bytes()).sum()
    }

    /// Slow start's `latest_host_added_time`, for tests that port Envoy's
    /// `EdfLoadBalancerBasePeer::latestHostAddedTime`.
    #[cfg(test)]
    pub(crate) fn latest_host_added_time(&self) -> Option<SimTime> {
        self.slow.as_ref().map(SlowStart::latest_host_added_time)
    }

    /// Slow start of a host at `now`: when its window started and the factor its weight has,
    /// or `None` when slow start is off, the host was never seen healthy, or its window is over.
    pub fn slow_start_of(&self, id: EndpointId, now: SimTime) -> Option<(SimTime, f64)> {
        let slow = self.slow.as_ref()?;
        let stamp = slow.stamp(id)?;
        let factor = slow.factor(id, true, now);
        (factor < 1.0).then_some((stamp, factor))
    }

    /// The current priority health, load and panic state.
    pub fn priority_state(&self) -> &PriorityState {
        &self.state
    }

    /// Number of priorities (at least 1; never shrinks, §2.9).
    pub fn num_priorities(&self) -> usize {
        self.priorities.len()
    }

    /// Per priority, per locality: weights, effective weight and host counts, for reports.
    pub fn locality_view(&self) -> Vec<LocalityView> {
        let mut out = Vec::new();
        for (p, pr) in self.priorities.iter().enumerate() {
            for l in &pr.localities {
                out.push(LocalityView {
                    priority: p,
                    locality: l.locality,
                    weight: l.weight,
                    effective_weight: l.eff_healthy,
                    hosts: l.end - l.start,
                    healthy: l.healthy,
                    degraded: l.degraded,
                    excluded: l.excluded,
                });
            }
        }
        out
    }
}
