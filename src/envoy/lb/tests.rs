//! Tests ported from Envoy's suite (envoy-semantics §6.2, L1–L11), the §2.2 lookup table, the
//! §2.10 worked examples, §4.5/§4.6 retry selection, and property tests. Expected numbers come
//! from the spec, from Envoy's tests, or are derived by hand in the comments.

use std::collections::VecDeque;

mod hashing;
mod slow_start;

use super::*;
use crate::engine::SimRng;
use crate::envoy::config::{LbConfig, LbPolicy};
use crate::model::ids::{EndpointId, LocalityId};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Envoy's `MockRandomGenerator`: scripted values, then a constant.
struct Scripted {
    queue: VecDeque<u64>,
    then: u64,
    draws: usize,
}

impl Scripted {
    fn new(vals: &[u64], then: u64) -> Scripted {
        Scripted { queue: vals.iter().copied().collect(), then, draws: 0 }
    }
    fn zeros() -> Scripted {
        Scripted::new(&[], 0)
    }
    fn push(&mut self, vals: &[u64]) {
        self.queue.extend(vals.iter().copied());
    }
}

impl LbRandom for Scripted {
    fn random(&mut self) -> u64 {
        self.draws += 1;
        self.queue.pop_front().unwrap_or(self.then)
    }
}

fn pc(hosts: u32, healthy: u32) -> PriorityCounts {
    PriorityCounts { hosts, healthy, degraded: 0, excluded: 0 }
}

fn pcx(hosts: u32, healthy: u32, degraded: u32, excluded: u32) -> PriorityCounts {
    PriorityCounts { hosts, healthy, degraded, excluded }
}

/// Healthy loads with OPF 140 and threshold 50 (Envoy's defaults).
fn loads(counts: &[PriorityCounts]) -> Vec<u32> {
    compute_priority_state(counts, 140, 50).healthy_load
}

fn cfg(policy: LbPolicy, threshold: u32, locality_weighted: bool) -> LbConfig {
    LbConfig {
        policy,
        overprovisioning_factor: 140,
        healthy_panic_threshold: threshold,
        locality_weighted,
        slow_start: None,
    }
}

/// Time zero, for tests where time does not matter.
const T0: crate::engine::SimTime = crate::engine::SimTime::ZERO;

/// Envoy's test hosts are `127.0.0.1:<port>`; host `id` here is port `id`.
fn addr(id: u32) -> std::net::SocketAddrV4 {
    std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, id as u16)
}

const RR: LbPolicy = LbPolicy::RoundRobin;
const LR: LbPolicy = LbPolicy::LeastRequest { choice_count: 2 };

fn loc(locality: u32, weight: u32, ids: &[u32]) -> LbLocality {
    LbLocality {
        locality: LocalityId(locality),
        weight,
        hosts: ids.iter().map(|&id| LbHost { id: EndpointId(id), weight: 1, address: addr(id) }).collect(),
    }
}

fn weighted_loc(locality: u32, hosts: &[(u32, u32)]) -> LbLocality {
    LbLocality {
        locality: LocalityId(locality),
        weight: 1,
        hosts: hosts.iter().map(|&(id, weight)| LbHost { id: EndpointId(id), weight, address: addr(id) }).collect(),
    }
}

/// Health from a list of unhealthy ids; everything else healthy.
fn unhealthy(ids: &[u32]) -> impl Fn(EndpointId) -> HostHealth + '_ {
    move |id| {
        if ids.contains(&id.0) { HostHealth::Unhealthy } else { HostHealth::Healthy }
    }
}

fn pick(lb: &mut ClusterLb, rng: &mut impl LbRandom) -> Option<Pick> {
    lb.choose_host(rng, &[], &PickContext::default())
}

fn pick_ids(lb: &mut ClusterLb, rng: &mut impl LbRandom, active: &[u32], n: usize) -> Vec<u32> {
    (0..n).map(|_| lb.choose_host(rng, active, &PickContext::default()).unwrap().host.0).collect()
}

/// Share of `n` picks landing in each locality id `0..k`.
fn locality_shares(lb: &mut ClusterLb, rng: &mut impl LbRandom, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0usize; k];
    for _ in 0..n {
        c[pick(lb, rng).unwrap().locality.0 as usize] += 1;
    }
    c.iter().map(|&x| x as f64 / n as f64).collect()
}

// ---------------------------------------------------------------------------------------------
// §2.2 lookup table

#[test]
fn priority_health_lookup_table() {
    // (total, healthy, expected) with OPF 140, from the table in §2.2.
    let table: &[(u32, u32, u32)] = &[
        (2, 2, 100),
        (2, 1, 70),
        (3, 3, 100),
        (3, 2, 93),
        (3, 1, 46),
        (4, 3, 100),
        (4, 4, 100),
        (4, 2, 70),
        (4, 1, 35),
        (5, 4, 100),
        (5, 5, 100),
        (5, 3, 84),
        (5, 2, 56),
        (5, 1, 28),
        (6, 5, 100),
        (6, 6, 100),
        (6, 4, 93),
        (6, 3, 70),
        (6, 2, 46),
        (6, 1, 23),
        (10, 8, 100),
        (10, 9, 100),
        (10, 10, 100),
        (10, 7, 98),
        (10, 6, 84),
        (10, 5, 70),
        (10, 4, 56),
        (10, 3, 42),
        (10, 2, 28),
        (10, 1, 14),
    ];
    for &(total, healthy, want) in table {
        assert_eq!(priority_health(healthy, total, 140), want, "{healthy}/{total}");
    }
    assert_eq!(priority_health(0, 0, 140), 0);
    assert_eq!(priority_health(0, 7, 140), 0);
}

// ---------------------------------------------------------------------------------------------
// L1 `OverProvisioningFactor`

#[test]
fn l1_overprovisioning_factor() {
    // OPF 140: health 70 each, N = 100: P0 takes 70, P1 the remaining 30.
    assert_eq!(loads(&[pc(4, 2), pc(4, 2)]), vec![70, 30]);
    // OPF 100: health 50 each.
    assert_eq!(compute_priority_state(&[pc(4, 2), pc(4, 2)], 100, 50).healthy_load, vec![50, 50]);
}

// ---------------------------------------------------------------------------------------------
// L2 `GentleFailover`

#[test]
fn l2_gentle_failover() {
    assert_eq!(loads(&[pc(1, 1), pc(1, 1)]), vec![100, 0]);

    let s = compute_priority_state(&[pc(2, 1), pc(2, 1)], 140, 50);
    assert_eq!(s.healthy_load, vec![70, 30]);
    assert_eq!(s.in_panic, vec![false, false]);

    // P0 at 25 % is below 50 but N = 35 + 100 → 100, so panic is never evaluated.
    let s = compute_priority_state(&[pc(4, 1), pc(2, 2)], 140, 50);
    assert_eq!(s.healthy_load, vec![35, 65]);
    assert_eq!(s.in_panic, vec![false, false]);
    assert!(!s.total_panic);

    // N = 70; both at 25 % → total panic, loads by host count 4/8.
    let s = compute_priority_state(&[pc(4, 1), pc(4, 1)], 140, 50);
    assert_eq!(s.normalized_total, 70);
    assert_eq!(s.healthy_load, vec![50, 50]);
    assert_eq!(s.in_panic, vec![true, true]);
    assert!(s.total_panic);

    // P0: 4 hosts, 1 healthy, 3 excluded → T = 1, health 100.
    assert_eq!(loads(&[pcx(4, 1, 0, 3), pc(5, 1)]), vec![100, 0]);

    // P0 all excluded → T = 0, health 0, in panic; P1 25 % → total panic by raw counts 4/8.
    let s = compute_priority_state(&[pcx(4, 0, 0, 4), pc(4, 1)], 140, 50);
    assert_eq!(s.healthy_load, vec![50, 50]);
    assert!(s.total_panic);

    // Counts include excluded hosts: 4/10 and 6/10.
    let s = compute_priority_state(&[pcx(4, 0, 0, 1), pcx(6, 1, 0, 2)], 140, 50);
    assert_eq!(s.healthy_load, vec![40, 60]);
    assert!(s.total_panic);
}

// ---------------------------------------------------------------------------------------------
// L3 `GentleFailoverWithExtraLevels`

#[test]
fn l3_gentle_failover_with_extra_levels() {
    assert_eq!(loads(&[pc(2, 1), pc(2, 1), pc(2, 1)]), vec![70, 30, 0]);
    assert_eq!(loads(&[pc(4, 1), pc(2, 2), pc(2, 1)]), vec![35, 65, 0]);
    assert_eq!(loads(&[pc(4, 1), pc(4, 1), pc(4, 1)]), vec![35, 35, 30]);

    // Health 28 each, N = 84, all at 20 % → total panic 5/15 each, leftover 1 to P0.
    let s = compute_priority_state(&[pc(5, 1), pc(5, 1), pc(5, 1)], 140, 50);
    assert_eq!(s.healthy_load, vec![34, 33, 33]);
    assert_eq!(s.in_panic, vec![true, true, true]);

    let s = compute_priority_state(&[pc(5, 0), pc(5, 0), pc(5, 5)], 140, 50);
    assert_eq!(s.healthy_load, vec![0, 0, 100]);
    assert_eq!(s.in_panic, vec![false, false, false]);
    assert_eq!(loads(&[pc(5, 0), pc(5, 0), pc(5, 4)]), vec![0, 0, 100]);

    let s = compute_priority_state(&[pc(5, 0), pc(5, 0), pc(5, 2)], 140, 50);
    assert_eq!(s.healthy_load, vec![34, 33, 33]);
    assert!(s.total_panic);

    assert_eq!(loads(&[pc(5, 0), pc(3, 0), pc(2, 0)]), vec![50, 30, 20]);

    // Health 0, 46, 46 (N = 92); all below 50 % → 500/14, 600/14, 300/14 = 35, 42, 21, +2 to P0.
    assert_eq!(loads(&[pc(5, 0), pc(6, 2), pc(3, 1)]), vec![37, 42, 21]);

    // Degraded spill-over: health 0, 0, 28; degraded 28, 100, 0; N = 100.
    let s = compute_priority_state(&[pcx(5, 0, 1, 0), pcx(5, 0, 5, 0), pc(5, 1)], 140, 50);
    assert_eq!(s.healthy_load, vec![0, 0, 28]);
    assert_eq!(s.degraded_load, vec![28, 44, 0]);

    // Threshold 0: degraded 0, 56, 28 (N = 84) → 0, 66, 33, leftover 1 to the first degraded.
    let s = compute_priority_state(&[pc(5, 0), pcx(5, 0, 2, 0), pcx(5, 0, 1, 0)], 140, 0);
    assert_eq!(s.healthy_load, vec![0, 0, 0]);
    assert_eq!(s.degraded_load, vec![0, 67, 33]);
    assert!(!s.total_panic);

    // Empty P0: N = 0, total panic over 0 + 6 + 3 hosts → 0, 66, 33, leftover to P1.
    assert_eq!(loads(&[pc(0, 0), pc(6, 0), pc(3, 0)]), vec![0, 67, 33]);
}

// ---------------------------------------------------------------------------------------------
// L4 `PrioritySelection`

#[test]
fn l4_priority_selection() {
    let s = compute_priority_state(&[pc(1, 0), pc(1, 0)], 140, 50);
    assert_eq!(s.healthy_load, vec![50, 50]);
    assert!(s.total_panic);

    let s = compute_priority_state(&[pc(1, 0), pc(2, 0)], 140, 50);
    assert_eq!(s.healthy_load, vec![34, 66]);
    assert_eq!(choose_priority(&s, 1), (0, Availability::Healthy));
    assert_eq!(choose_priority(&s, 34), (0, Availability::Healthy));
    assert_eq!(choose_priority(&s, 35), (1, Availability::Healthy));
    assert_eq!(choose_priority(&s, 100), (1, Availability::Healthy));

    let s = compute_priority_state(&[pc(1, 0), pc(2, 0), pc(1, 1)], 140, 50);
    assert_eq!(s.healthy_load, vec![0, 0, 100]);
    assert_eq!(choose_priority(&s, 1), (2, Availability::Healthy));

    // Degraded walk continues after the healthy loads (L3's spill-over state).
    let s = compute_priority_state(&[pcx(5, 0, 1, 0), pcx(5, 0, 5, 0), pc(5, 1)], 140, 50);
    assert_eq!(choose_priority(&s, 28), (2, Availability::Healthy));
    assert_eq!(choose_priority(&s, 29), (0, Availability::Degraded));
    assert_eq!(choose_priority(&s, 56), (0, Availability::Degraded));
    assert_eq!(choose_priority(&s, 57), (1, Availability::Degraded));
    assert_eq!(choose_priority(&s, 100), (1, Availability::Degraded));
}

// ---------------------------------------------------------------------------------------------
// L5 `WeightedPriorityHealth*` (weight sums passed as counts, OPF 100)

#[test]
fn l5_weighted_priority_health() {
    // P0: healthy weights 3 + 3, unhealthy 2 + 2 → 6/10 → 60.
    let s = compute_priority_state(&[pc(10, 6), pc(1, 1)], 100, 50);
    assert_eq!(s.healthy_load, vec![60, 40]);
    // P0: healthy 4, excluded 10, unhealthy 6 → 4/(20 − 10) → 40.
    let s = compute_priority_state(&[pcx(20, 4, 0, 10), pc(1, 1)], 100, 50);
    assert_eq!(s.healthy_load, vec![40, 60]);
}

// ---------------------------------------------------------------------------------------------
// L6 `LocalityWrrTest.UnhealthyFailover`

#[test]
fn l6_locality_unhealthy_failover() {
    // A (locality 0) weight 1 with hosts 0..5, B (locality 1) weight 2 with host 5. Random
    // always 0: LB seed 0, locality scheduler seed 0, priority hash 1. Threshold 0 keeps the
    // priority out of panic, as Envoy's test exercises `LocalityWrr` alone.
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 0, true), &mut rng);
    let topo = vec![vec![loc(0, 1, &[0, 1, 2, 3, 4]), loc(1, 2, &[5])]];
    let expected = [(5, 33), (4, 33), (3, 29), (2, 22), (1, 12), (0, 0)];
    for (i, &(healthy_in_a, a_picks)) in expected.iter().enumerate() {
        let down: Vec<u32> = (healthy_in_a..5).collect();
        if i == 0 {
            lb.set_hosts(T0, topo.clone(), &unhealthy(&down), &[], &mut rng);
        } else {
            lb.refresh_health(T0, &unhealthy(&down), &[], &mut rng);
        }
        let mut a = 0;
        for _ in 0..100 {
            let p = pick(&mut lb, &mut rng).unwrap();
            assert!(!p.panic);
            if p.locality == LocalityId(0) {
                a += 1;
            }
        }
        assert_eq!((a, 100 - a), (a_picks, 100 - a_picks), "A healthy {healthy_in_a}");
    }
}

// ---------------------------------------------------------------------------------------------
// L7 `LocalityWrrTest.WeightedLocalities` / `MissingWeight` / `AllZeroWeights`

fn locality_sequence(weights: &[u32], n: usize) -> Vec<u32> {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 50, true), &mut rng);
    let locs = weights.iter().enumerate().map(|(i, &w)| loc(i as u32, w, &[i as u32])).collect();
    lb.set_hosts(T0, vec![locs], &unhealthy(&[]), &[], &mut rng);
    (0..n).map(|_| pick(&mut lb, &mut rng).unwrap().locality.0).collect()
}

#[test]
fn l7_weighted_localities() {
    assert_eq!(locality_sequence(&[1, 2], 6), vec![1, 0, 1, 1, 0, 1]);
    // `UnweightedLocalities`.
    assert_eq!(locality_sequence(&[1, 1, 1], 6), vec![0, 1, 2, 0, 1, 2]);
}

#[test]
fn l7_missing_weight_is_never_picked() {
    assert_eq!(locality_sequence(&[1, 0, 1], 6), vec![0, 2, 0, 2, 0, 2]);
}

#[test]
fn l7_all_zero_weights_fall_back_to_priority_healthy_list() {
    // No scheduler: the priority's healthy hosts are used, round robin from seed 0.
    assert_eq!(locality_sequence(&[0, 0], 3), vec![0, 1, 0]);
    // No host in a locality → no locality at all (§2.6), so it cannot be picked.
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 50, true), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 5, &[]), loc(1, 1, &[7])]], &unhealthy(&[]), &[], &mut rng);
    assert_eq!(lb.locality_view().len(), 1);
    assert_eq!(pick(&mut lb, &mut rng).unwrap().host, EndpointId(7));
}

// ---------------------------------------------------------------------------------------------
// L8 `OverProvisioningFactorTest.LocalityPickChanges`

#[test]
fn l8_overprovisioning_factor_changes_locality_picks() {
    for (opf, a_want) in [(100, 33), (200, 50)] {
        let mut rng = Scripted::zeros();
        let config = LbConfig { overprovisioning_factor: opf, ..cfg(RR, 0, true) };
        let mut lb = ClusterLb::new(config, &mut rng);
        // A: hosts 0, 1 (1 unhealthy); B: host 2.
        lb.set_hosts(T0, vec![vec![loc(0, 1, &[0, 1]), loc(1, 1, &[2])]], &unhealthy(&[1]), &[], &mut rng);
        let a = (0..100).filter(|_| pick(&mut lb, &mut rng).unwrap().locality.0 == 0).count();
        assert_eq!(a, a_want, "opf {opf}");
    }
}

// ---------------------------------------------------------------------------------------------
// L9 `RoundRobinLoadBalancerTest.Seed` / `Normal`

#[test]
fn l9_round_robin_seed() {
    // The first draw is the LB seed (1); every priority hash after is 0.
    let mut rng = Scripted::new(&[1], 0);
    let mut lb = ClusterLb::new(cfg(RR, 50, false), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0, 1, 2])]], &unhealthy(&[]), &[], &mut rng);
    assert_eq!(pick_ids(&mut lb, &mut rng, &[], 4), vec![1, 2, 0, 1]);

    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 50, false), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0, 1])]], &unhealthy(&[]), &[], &mut rng);
    assert_eq!(pick_ids(&mut lb, &mut rng, &[], 3), vec![0, 1, 0]);
}

#[test]
fn round_robin_counter_survives_host_list_changes() {
    // Envoy keeps `rr_indexes_[source]` across refreshes; only the modulus changes.
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 0, false), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0, 1, 2])]], &unhealthy(&[]), &[], &mut rng);
    assert_eq!(pick_ids(&mut lb, &mut rng, &[], 2), vec![0, 1]);
    lb.refresh_health(T0, &unhealthy(&[2]), &[], &mut rng);
    // Counter is 2; healthy list is [0, 1]: 2 mod 2 = 0.
    assert_eq!(pick_ids(&mut lb, &mut rng, &[], 3), vec![0, 1, 0]);
}

#[test]
fn weighted_round_robin_uses_edf() {
    // Host weights 1 and 2 with seed 0: the same EDF pattern as L7's localities.
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 50, false), &mut rng);
    lb.set_hosts(T0, vec![vec![weighted_loc(0, &[(0, 1), (1, 2)])]], &unhealthy(&[]), &[], &mut rng);
    assert_eq!(pick_ids(&mut lb, &mut rng, &[], 6), vec![1, 0, 1, 1, 0, 1]);
}

// ---------------------------------------------------------------------------------------------
// L10 `LeastRequestLoadBalancerTest.Normal` / `WeightImbalance`

#[test]
fn l10_least_request_normal() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(LR, 50, false), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0, 1])]], &unhealthy(&[]), &[], &mut rng);

    // Draws: priority 0, then candidates 2 mod 2 = host0 and 3 mod 2 = host1.
    rng.push(&[0, 2, 3]);
    assert_eq!(pick_ids(&mut lb, &mut rng, &[1, 2], 1), vec![0]);
    rng.push(&[0, 2, 3]);
    assert_eq!(pick_ids(&mut lb, &mut rng, &[2, 1], 1), vec![1]);
    // Tie: the first draw is kept.
    rng.push(&[0, 3, 2]);
    assert_eq!(pick_ids(&mut lb, &mut rng, &[5, 5], 1), vec![1]);
}

#[test]
fn l10_least_request_pnc() {
    // `LeastRequestLoadBalancerTest.PNC`: 4 hosts with active 4, 3, 2, 1; five choices drawing
    // 3, 0, 3, 2, 1 (after the priority draw 0) end on host 3, the least loaded.
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(LbPolicy::LeastRequest { choice_count: 5 }, 50, false), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0, 1, 2, 3])]], &unhealthy(&[]), &[], &mut rng);
    rng.push(&[0, 3, 0, 3, 2, 1]);
    assert_eq!(pick_ids(&mut lb, &mut rng, &[4, 3, 2, 1], 1), vec![3]);
    assert_eq!(rng.queue.len(), 0);
}

#[test]
fn l10_least_request_weight_imbalance() {
    // Weights 1, 2; random always 0 (seed 0, no pre-picks).
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(LR, 50, false), &mut rng);
    lb.set_hosts(T0, vec![vec![weighted_loc(0, &[(0, 1), (1, 2)])]], &unhealthy(&[]), &[], &mut rng);
    // 2:1 for host1.
    assert_eq!(pick_ids(&mut lb, &mut rng, &[0, 0], 6), vec![1, 0, 1, 1, 0, 1]);
    // host1 with one active request: weight 2/2 = 1 → 1:1.
    assert_eq!(pick_ids(&mut lb, &mut rng, &[0, 1], 5), vec![1, 0, 1, 0, 1]);
    // host0 active 1 (weight 1/2), host1 active 0 (weight 2) → 4:1.
    assert_eq!(pick_ids(&mut lb, &mut rng, &[1, 0], 10), vec![0, 1, 1, 1, 0, 1, 1, 1, 1, 0]);
}

// ---------------------------------------------------------------------------------------------
// L11 `FailoverTest.BasicFailover`

#[test]
fn l11_basic_failover() {
    let topo = vec![vec![loc(0, 0, &[0])], vec![loc(1, 0, &[1])]];
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 50, false), &mut rng);
    // P0's only host unhealthy, P1 healthy: loads 0/100.
    lb.set_hosts(T0, topo.clone(), &unhealthy(&[0]), &[], &mut rng);
    let p = pick(&mut lb, &mut rng).unwrap();
    assert_eq!((p.host, p.priority, p.panic), (EndpointId(1), 1, false));

    // Both unhealthy: total panic 50/50; hash 1 → P0, whose unhealthy host is picked.
    lb.refresh_health(T0, &unhealthy(&[0, 1]), &[], &mut rng);
    assert!(lb.priority_state().total_panic);
    let p = pick(&mut lb, &mut rng).unwrap();
    assert_eq!((p.host, p.priority, p.panic), (EndpointId(0), 0, true));
    // Hash 100 → P1's unhealthy host.
    rng.push(&[99]);
    let p = pick(&mut lb, &mut rng).unwrap();
    assert_eq!((p.host, p.priority, p.panic), (EndpointId(1), 1, true));
}

#[test]
fn threshold_zero_and_nothing_healthy_is_no_healthy_upstream() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(LR, 0, false), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0])], vec![loc(1, 0, &[1])]], &unhealthy(&[0, 1]), &[], &mut rng);
    let s = lb.priority_state();
    assert_eq!(s.healthy_load, vec![100, 0]);
    assert_eq!(s.in_panic, vec![false, false]);
    for h in 1..=100 {
        rng.push(&[h - 1]);
        assert_eq!(pick(&mut lb, &mut rng), None);
    }
}

#[test]
fn empty_balancer_picks_nothing() {
    let mut rng = SimRng::new(1);
    let mut lb = ClusterLb::new(cfg(LR, 50, false), &mut rng);
    assert_eq!(pick(&mut lb, &mut rng), None);
    assert_eq!(lb.priority_state().healthy_load, vec![100]);
}

// ---------------------------------------------------------------------------------------------
// RANDOM: one value for the priority hash and the host index

#[test]
fn random_uses_one_value_for_priority_and_host() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(LbPolicy::Random, 50, false), &mut rng);
    assert_eq!(rng.draws, 0, "RANDOM draws no seed");
    // Hosts with different weights: ignored by RANDOM.
    lb.set_hosts(T0, vec![vec![weighted_loc(0, &[(0, 1), (1, 5), (2, 1)])]], &unhealthy(&[]), &[], &mut rng);
    rng.push(&[57, 5]);
    assert_eq!(pick_ids(&mut lb, &mut rng, &[], 2), vec![0, 2]); // 57 mod 3, 5 mod 3
    assert_eq!(rng.draws, 2);
}

// ---------------------------------------------------------------------------------------------
// §2.10 (a): failover between priorities

fn example_a(threshold: u32, ejected: &[u32]) -> ClusterLb {
    // A = hosts 0..3 in P0 (locality 0), B = hosts 3..6 in P1 (locality 1).
    let mut rng = SimRng::new(7);
    let mut lb = ClusterLb::new(cfg(LR, threshold, false), &mut rng);
    let topo = vec![vec![loc(0, 0, &[0, 1, 2])], vec![loc(1, 0, &[3, 4, 5])]];
    lb.set_hosts(T0, topo, &unhealthy(ejected), &[], &mut rng);
    lb
}

#[test]
fn example_a_failover_loads_and_traffic() {
    let rows: [(&[u32], [u32; 2], [u32; 2]); 4] = [
        (&[], [100, 100], [100, 0]),
        (&[0], [93, 100], [93, 7]),
        (&[0, 1], [46, 100], [46, 54]),
        (&[0, 1, 2], [0, 100], [0, 100]),
    ];
    for threshold in [0, 50] {
        for (ejected, health, load) in rows {
            let mut lb = example_a(threshold, ejected);
            let s = lb.priority_state().clone();
            assert_eq!(s.health, health.to_vec(), "{ejected:?}");
            assert_eq!(s.healthy_load, load.to_vec(), "{ejected:?}");
            assert_eq!(s.normalized_total, 100);
            assert!(s.in_panic.iter().all(|p| !p), "N = 100 never panics");

            let mut rng = SimRng::new(11);
            let n = 20_000;
            let mut in_a = 0;
            for _ in 0..n {
                let p = pick(&mut lb, &mut rng).unwrap();
                assert!(!ejected.contains(&p.host.0), "an ejected host was picked");
                in_a += usize::from(p.priority == 0);
            }
            let share = in_a as f64 / n as f64;
            assert!((share - f64::from(load[0]) / 100.0).abs() < 0.01, "{ejected:?}: {share}");
        }
    }
}

#[test]
fn example_a_panic_cases() {
    let mut rng = SimRng::new(3);
    // A: 3 ejected, B: 2 ejected, threshold 50 → health [0, 46], total panic, [50, 50].
    let mut lb = example_a(50, &[0, 1, 2, 3, 4]);
    let s = lb.priority_state();
    assert_eq!((s.health.clone(), s.normalized_total), (vec![0, 46], 46));
    assert!(s.total_panic);
    assert_eq!(s.healthy_load, vec![50, 50]);
    let n = 20_000;
    let mut in_a = 0;
    for _ in 0..n {
        let p = pick(&mut lb, &mut rng).unwrap();
        assert!(p.panic);
        in_a += usize::from(p.priority == 0);
    }
    assert!((in_a as f64 / n as f64 - 0.5).abs() < 0.01);

    // Same state, threshold 0 → [0, 100], all on the single healthy B host (5).
    let mut lb = example_a(0, &[0, 1, 2, 3, 4]);
    assert_eq!(lb.priority_state().healthy_load, vec![0, 100]);
    for _ in 0..1000 {
        let p = pick(&mut lb, &mut rng).unwrap();
        assert_eq!((p.host, p.panic), (EndpointId(5), false));
    }

    // A: 3 ejected, B: 1 ejected, threshold 50 → health [0, 93], P0 in panic, P1 not, [0, 100].
    let lb = example_a(50, &[0, 1, 2, 3]);
    let s = lb.priority_state();
    assert_eq!(s.health, vec![0, 93]);
    assert_eq!(s.in_panic, vec![true, false]);
    assert!(!s.total_panic);
    assert_eq!(s.healthy_load, vec![0, 100]);
}

// ---------------------------------------------------------------------------------------------
// §2.10 (b): locality weighting inside one priority

fn example_b(threshold: u32, ejected: &[u32]) -> ClusterLb {
    let mut rng = SimRng::new(5);
    let mut lb = ClusterLb::new(cfg(LR, threshold, true), &mut rng);
    let topo = vec![vec![loc(0, 50, &[0, 1, 2]), loc(1, 50, &[3, 4, 5])]];
    lb.set_hosts(T0, topo, &unhealthy(ejected), &[], &mut rng);
    lb
}

#[test]
fn example_b_locality_weighted_shares() {
    // (ejected in A, eff A, share A, P0 health).
    let rows: [(&[u32], f64, f64, u32); 4] = [
        (&[], 50.0, 0.5, 100),
        (&[0], 50.0 * 1.4 * 2.0 / 3.0, 0.4828, 100),
        (&[0, 1], 50.0 * 1.4 / 3.0, 0.3182, 93),
        (&[0, 1, 2], 0.0, 0.0, 70),
    ];
    for (ejected, eff_a, share_a, health) in rows {
        let mut lb = example_b(50, ejected);
        assert_eq!(lb.priority_state().health, vec![health]);
        assert_eq!(lb.priority_state().healthy_load, vec![100]);
        let view = lb.locality_view();
        assert!((view[0].effective_weight - eff_a).abs() < 1e-9, "{ejected:?}");
        assert!((view[1].effective_weight - 50.0).abs() < 1e-9);
        let mut rng = SimRng::new(9);
        let shares = locality_shares(&mut lb, &mut rng, 20_000, 2);
        assert!((shares[0] - share_a).abs() < 0.001, "{ejected:?}: {shares:?}");
    }
    // (d): B = 3 × min(1, 1.4 × 1/3) = 1.4 against C = 3 → 31.8 %.
    let b = effective_locality_weight(3, 1, 3, 140);
    assert!((b - 1.4).abs() < 1e-12);
    assert!((100.0 * b / (b + 3.0) - 31.82).abs() < 0.01);
}

#[test]
fn example_b_panic_ignores_locality_weights() {
    // 3 of 6 ejected is 50 %, not < 50: no panic.
    let lb = example_b(50, &[0, 1, 2]);
    assert_eq!(lb.priority_state().in_panic, vec![false]);

    // A: 3 ejected, B: 1 ejected: 33 % < 50 and N = 46 → panic, uniform over all 6 hosts.
    let mut lb = example_b(50, &[0, 1, 2, 3]);
    let s = lb.priority_state();
    assert_eq!((s.normalized_total, s.in_panic.clone()), (46, vec![true]));
    let mut rng = SimRng::new(13);
    let n = 20_000;
    let mut per_host = [0usize; 6];
    for _ in 0..n {
        let p = pick(&mut lb, &mut rng).unwrap();
        assert!(p.panic);
        per_host[p.host.idx()] += 1;
    }
    let a = per_host[..3].iter().sum::<usize>() as f64 / n as f64;
    assert!((a - 0.5).abs() < 0.015, "{a}");
    assert!(per_host.iter().all(|&c| (c as f64 / n as f64 - 1.0 / 6.0).abs() < 0.015));

    // Threshold 0: 100 % to B's 2 healthy hosts.
    let mut lb = example_b(0, &[0, 1, 2, 3]);
    for _ in 0..1000 {
        let p = pick(&mut lb, &mut rng).unwrap();
        assert!(p.host == EndpointId(4) || p.host == EndpointId(5));
    }
}

#[test]
fn docs_locality_weight_formula() {
    // `locality_weight.rst`: X weight 1, Y weight 2 fully healthy; X's share as its health
    // falls: 100 % → 33, 70 % → 33, 69 % → 32, 50 % → 26, 25 % → 15, 0 % → 0 (rounded in the
    // docs; asserted within one point).
    for (healthy_pct, share) in [(100, 33.0), (70, 33.0), (69, 32.0), (50, 26.0), (25, 15.0), (0, 0.0)] {
        let x = effective_locality_weight(1, healthy_pct, 100, 140);
        let got = 100.0 * x / (x + 2.0);
        assert!((got - share).abs() < 1.0, "{healthy_pct}: {got}");
    }
    assert_eq!(effective_locality_weight(5, 0, 0, 140), 0.0);
}

// ---------------------------------------------------------------------------------------------
// EDF scheduler

#[test]
fn edf_weighted_all_chosen() {
    // `LocalityWrrTest.WeightedAllChosen`: weights 1, 6, 3; one pick after seeds 0..9 visits
    // each entry in proportion to its weight.
    let mut count = [0; 3];
    for seed in 0..10 {
        let w = [1.0, 6.0, 3.0];
        let mut edf = EdfScheduler::create_with_picks(&w, seed);
        count[edf.pick_and_add(|p| w[p]).unwrap()] += 1;
    }
    assert_eq!(count, [1, 6, 3]);
}

/// `EdfSchedulerTest::compareEdfSchedulers`: same entries in the same order, deadlines within
/// 1e-5.
fn assert_same_queue(a: &EdfScheduler, b: &EdfScheduler) {
    let (qa, qb) = (a.queued(), b.queued());
    assert_eq!(qa.len(), qb.len());
    for (i, ((da, pa), (db, pb))) in qa.iter().zip(&qb).enumerate() {
        assert!((da - db).abs() < 1e-5, "deadline {i}: {da} vs {db}");
        assert_eq!(pa, pb, "entry {i}");
    }
}

#[test]
fn edf_zero_picks_equal_to_adding_entries() {
    // `SchedulerWithZeroPicksEqualToEmptyWithAddedEntries`: weights 1..=128.
    let w: Vec<f64> = (1..=128).map(f64::from).collect();
    let mut added = EdfScheduler::default();
    for (i, &x) in w.iter().enumerate() {
        added.add(x, i);
    }
    assert_same_queue(&added, &EdfScheduler::create_with_picks(&w, 0));
}

#[test]
fn edf_some_picks_equal_to_picking_one_by_one() {
    // `SchedulerWithSomePicksEqualToEmptyWithAddedEntries`: 128 distinct weights in
    // [0.01, 100.5]; P emulated pre-picks leave the queue of P real picks.
    let n = 128;
    let w: Vec<f64> = (0..n).map(|i| (100.5 - 0.01) / f64::from(n) * f64::from(i) + 0.01).collect();
    for picks in [5u32, 140, 501, 123_456] {
        let mut one_by_one = EdfScheduler::default();
        for (i, &x) in w.iter().enumerate() {
            one_by_one.add(x, i);
        }
        for _ in 0..picks {
            one_by_one.pick_and_add(|i| w[i]);
        }
        assert_same_queue(&one_by_one, &EdfScheduler::create_with_picks(&w, picks));
    }
    assert!(EdfScheduler::create_with_picks(&[], 5).is_empty());
}

#[test]
fn edf_picks_follow_the_earliest_deadline_then_insertion_order() {
    // The scheduler's heap against a linear scan of Envoy's rule: the entry with the earliest
    // deadline, ties to the earliest inserted, re-added at `time + 1/weight` with the next
    // order. Equal weights (ties at every step) and mixed ones, 1 to 9 entries, 2 000 picks,
    // each weight re-drawn between picks as least request's would change.
    let mut rng = SimRng::new(7);
    for n in 1..=9usize {
        for equal in [true, false] {
            let mut w: Vec<f64> = (0..n).map(|i| if equal { 3.0 } else { 1.0 + (i % 4) as f64 }).collect();
            let mut s = EdfScheduler::default();
            let mut naive: Vec<(f64, u64, usize)> = Vec::new();
            let (mut time, mut order) = (0.0f64, 0u64);
            for (i, &x) in w.iter().enumerate() {
                s.add(x, i);
                naive.push((time + 1.0 / x, order, i));
                order += 1;
            }
            for step in 0..2000 {
                let k = (0..naive.len())
                    .min_by(|&a, &b| naive[a].0.total_cmp(&naive[b].0).then(naive[a].1.cmp(&naive[b].1)))
                    .unwrap();
                let (deadline, _, pos) = naive[k];
                time = deadline;
                naive[k] = (time + 1.0 / w[pos], order, pos);
                order += 1;
                assert_eq!(s.pick_and_add(|p| w[p]), Some(pos), "{n} entries, equal {equal}, pick {step}");
                if !equal {
                    w[rng.below(n as u64) as usize] = 1.0 + rng.below(5) as f64;
                }
            }
        }
    }
    assert_eq!(EdfScheduler::default().pick_and_add(|_| 1.0), None);
}

#[test]
fn edf_first_pick_distribution_with_random_prepicks() {
    // `SchedulerWithRandomPicksFirstPickDistribution`: the first pick after a random number of
    // pre-picks follows the weights (Envoy: 4e5 iterations, 1 point tolerance).
    let mut rng = SimRng::new(21);
    for w in [vec![25.0, 75.0], vec![1.0, 99.0], vec![50.0, 50.0], vec![1.0, 20.0, 79.0]] {
        let iterations = 100_000;
        let mut count = vec![0usize; w.len()];
        for _ in 0..iterations {
            let mut s = EdfScheduler::create_with_picks(&w, rng.next_u64() as u32);
            count[s.pick_and_add(|i| w[i]).unwrap()] += 1;
        }
        for (i, &c) in count.iter().enumerate() {
            let observed = 100.0 * c as f64 / iterations as f64;
            assert!((observed - w[i]).abs() < 1.0, "{w:?}: {i} got {observed}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// §4.5 host re-selection

#[test]
fn retry_reselection_returns_last_draw_when_all_rejected() {
    // P0 has a single host with 100 % load: all 6 draws return it, so the retry goes to it.
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 0, false), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0])], vec![loc(1, 0, &[1])]], &unhealthy(&[]), &[], &mut rng);
    let before = rng.draws;
    let tried = [EndpointId(0)];
    let ctx = PickContext { previous_hosts: &tried, host_selection_retry_max_attempts: 5, ..Default::default() };
    let p = lb.choose_host(&mut rng, &[], &ctx).unwrap();
    assert_eq!(p.host, EndpointId(0));
    assert_eq!(rng.draws - before, 6, "host_selection_retry_max_attempts + 1 draws");
}

#[test]
fn retry_reselection_takes_first_accepted_draw() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 0, false), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0, 1, 2])]], &unhealthy(&[]), &[], &mut rng);
    let tried = [EndpointId(0), EndpointId(1)];
    let ctx = PickContext { previous_hosts: &tried, host_selection_retry_max_attempts: 5, ..Default::default() };
    let before = rng.draws;
    // RR from 0: draws give 0 (rejected), 1 (rejected), 2 (accepted).
    assert_eq!(lb.choose_host(&mut rng, &[], &ctx).unwrap().host, EndpointId(2));
    assert_eq!(rng.draws - before, 3);
    // Without the predicate's retry budget, one draw is all there is.
    let ctx = PickContext { previous_hosts: &tried, ..Default::default() };
    assert_eq!(lb.choose_host(&mut rng, &[], &ctx).unwrap().host, EndpointId(0));
}

#[test]
fn retry_priority_override_steers_selection() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 0, false), &mut rng);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0])], vec![loc(1, 0, &[1])]], &unhealthy(&[]), &[], &mut rng);
    let mut plugin = PreviousPriorities::new(2);
    plugin.on_host_attempted(0);
    assert!(plugin.determine_priority_load(lb.priority_state()).is_none());
    plugin.on_host_attempted(0);
    let state = lb.priority_state().clone();
    let (h, d) = plugin.determine_priority_load(&state).unwrap();
    assert_eq!((h, d), (&[0, 100][..], &[0, 0][..]));
    let ctx = PickContext { priority_load: Some(PriorityLoadRef { healthy: h, degraded: d }), ..Default::default() };
    let p = lb.choose_host(&mut rng, &[], &ctx).unwrap();
    assert_eq!((p.host, p.priority), (EndpointId(1), 1));
}

// ---------------------------------------------------------------------------------------------
// §4.6 previous_priorities

#[test]
fn previous_priorities_load_excludes_attempted() {
    let none = |n| vec![0; n];
    assert_eq!(
        previous_priorities_load(&[100, 100, 100], &none(3), &[true, false, false]),
        Some((vec![0, 100, 0], none(3)))
    );
    // Health 46 + 46 = 92 → ⌊4600/92⌋ = 50 each.
    assert_eq!(previous_priorities_load(&[100, 46, 46], &none(3), &[true]), Some((vec![0, 50, 50], none(3))));
    // 70 + 70 → availability capped at 100 → 70, then the remaining 30.
    assert_eq!(
        previous_priorities_load(&[100, 70, 70], &none(3), &[true, false, false]),
        Some((vec![0, 70, 30], none(3)))
    );
    // 28 × 3 = 84 → 33 each, 1 left: a second round gives it to the first kept priority.
    assert_eq!(
        previous_priorities_load(&[100, 28, 28, 28], &none(4), &[true, false, false, false]),
        Some((vec![0, 34, 33, 33], none(4)))
    );
    // Degraded availability takes what healthy leaves.
    assert_eq!(previous_priorities_load(&[100, 0], &[0, 50], &[true, false]), Some((vec![0, 0], vec![0, 100])));
    assert_eq!(previous_priorities_load(&[100, 0], &[0, 0], &[true, false]), None);
}

#[test]
fn previous_priorities_plugin_updates_every_second_attempt() {
    let state = compute_priority_state(&[pc(1, 1), pc(1, 1), pc(1, 1)], 140, 0);
    assert_eq!(state.healthy_load, vec![100, 0, 0]);
    let mut plugin = PreviousPriorities::new(2);
    assert!(plugin.determine_priority_load(&state).is_none());
    plugin.on_host_attempted(0);
    assert!(plugin.determine_priority_load(&state).is_none(), "first retry keeps the load");
    plugin.on_host_attempted(0);
    assert_eq!(plugin.determine_priority_load(&state).unwrap().0, &[0, 100, 0]);
    plugin.on_host_attempted(1);
    // 3 attempts: not a multiple of 2 → the last computed load.
    assert_eq!(plugin.determine_priority_load(&state).unwrap().0, &[0, 100, 0]);
    plugin.on_host_attempted(1);
    assert_eq!(plugin.determine_priority_load(&state).unwrap().0, &[0, 0, 100]);
    plugin.on_host_attempted(2);
    plugin.on_host_attempted(2);
    // Every priority excluded → reset, and the load over all priorities is used.
    assert_eq!(plugin.determine_priority_load(&state).unwrap().0, &[100, 0, 0]);
    // The reset forgot the attempted hosts: the next attempts are below the frequency again.
    assert!(plugin.determine_priority_load(&state).is_none());
    plugin.on_host_attempted(0);
    assert!(plugin.determine_priority_load(&state).is_none());
    plugin.on_host_attempted(0);
    assert_eq!(plugin.determine_priority_load(&state).unwrap().0, &[0, 100, 0]);

    // Nothing available at all: the original load.
    let dead = compute_priority_state(&[pc(1, 0), pc(1, 0)], 140, 50);
    let mut plugin = PreviousPriorities::new(2);
    plugin.on_host_attempted(0);
    plugin.on_host_attempted(1);
    assert!(plugin.determine_priority_load(&dead).is_none());
}

// ---------------------------------------------------------------------------------------------
// Host set updates

#[test]
fn priorities_only_grow_and_duplicates_keep_first_occurrence() {
    let mut rng = SimRng::new(1);
    let mut lb = ClusterLb::new(cfg(LR, 50, false), &mut rng);
    // Host 1 appears in P0 and P1: it stays in P0.
    let topo = vec![vec![loc(0, 0, &[0, 1])], vec![loc(1, 0, &[1, 2])]];
    lb.set_hosts(T0, topo, &unhealthy(&[]), &[], &mut rng);
    let view = lb.locality_view();
    assert_eq!((view[0].hosts, view[1].hosts), (2, 1));
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0])]], &unhealthy(&[]), &[], &mut rng);
    assert_eq!(lb.num_priorities(), 2);
    assert_eq!(lb.priority_state().healthy_load, vec![100, 0]);
}

#[test]
fn unchanged_priorities_are_not_rebuilt() {
    // Envoy runs the update callbacks only for priorities that changed; each rebuilt priority
    // draws one `random()` for its locality scheduler.
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 0, true), &mut rng);
    let topo = vec![vec![loc(0, 1, &[0, 1])], vec![loc(1, 1, &[2, 3])]];
    lb.set_hosts(T0, topo.clone(), &unhealthy(&[]), &[], &mut rng);
    assert_eq!(rng.draws, 1 + 2, "seed, then one per priority");
    lb.set_hosts(T0, topo, &unhealthy(&[]), &[], &mut rng);
    lb.refresh_health(T0, &unhealthy(&[]), &[], &mut rng);
    assert_eq!(rng.draws, 3, "nothing changed");
    lb.refresh_health(T0, &unhealthy(&[3]), &[], &mut rng);
    assert_eq!(rng.draws, 4, "only P1 changed");
}

#[test]
fn excluded_hosts_leave_the_denominator_but_not_panic_picks() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(cfg(RR, 50, false), &mut rng);
    let health = |id: EndpointId| match id.0 {
        0 => HostHealth::Healthy,
        _ => HostHealth::Excluded,
    };
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[0, 1, 2, 3])], vec![loc(1, 0, &[4])]], &health, &[], &mut rng);
    // P0: 4 hosts, 1 healthy, 3 excluded (L2) → 100/0.
    assert_eq!(lb.priority_state().healthy_load, vec![100, 0]);
    let v = &lb.locality_view()[0];
    assert_eq!((v.hosts, v.healthy, v.excluded), (4, 1, 3));
    assert_eq!(pick_ids(&mut lb, &mut rng, &[], 3), vec![0, 0, 0]);
}

#[test]
fn panic_is_not_monotone_in_p0_health() {
    // A documented consequence of §2.3: leaving total panic can lower P0's load.
    // P0 100 hosts / 49 healthy (health 68), P1 10 / 2 (28): N = 96, both below 50 % → total
    // panic by host count: ⌊10000/110⌋ = 90, ⌊1000/110⌋ = 9, +1 → [91, 9].
    assert_eq!(loads(&[pc(100, 49), pc(10, 2)]), vec![91, 9]);
    // One more healthy host: P0 at 50 % leaves panic; health 70, N = 98 → 71, 28, +1 → [72, 28].
    assert_eq!(loads(&[pc(100, 50), pc(10, 2)]), vec![72, 28]);
}

#[test]
fn zero_availability_without_total_panic_goes_to_p0() {
    // Found by `loads_always_sum_to_100`: 150 hosts, 1 healthy, 1 degraded → health ⌊140/150⌋ = 0
    // and degraded 0, so N = 0; but 0.67 % + 0.67 % ≥ threshold 1, so no panic. Envoy's
    // `choosePriority` then falls back to P0, healthy.
    let s = compute_priority_state(&[pcx(150, 1, 1, 0), pc(2, 0)], 140, 1);
    assert_eq!(s.normalized_total, 0);
    assert_eq!(s.in_panic, vec![false, true]);
    assert!(!s.total_panic);
    assert_eq!(s.healthy_load, vec![100, 0]);
    assert_eq!(choose_priority(&s, 100), (0, Availability::Healthy));
}

// ---------------------------------------------------------------------------------------------
// Property tests: many cases drawn from a seeded stream (the same cases every run; a failure
// prints its case).

/// A draw in `lo..hi`.
fn draw(rng: &mut SimRng, lo: u32, hi: u32) -> u32 {
    lo + rng.below(u64::from(hi - lo)) as u32
}

/// A priority of up to 19 hosts, each of them healthy, degraded, excluded or none.
fn draw_counts(rng: &mut SimRng) -> PriorityCounts {
    let hosts = draw(rng, 0, 20);
    let healthy = draw(rng, 0, 20).min(hosts);
    let degraded = draw(rng, 0, 20).min(hosts - healthy);
    let excluded = draw(rng, 0, 20).min(hosts - healthy - degraded);
    PriorityCounts { hosts, healthy, degraded, excluded }
}

#[test]
fn loads_always_sum_to_100() {
    let mut rng = SimRng::new(11).fork("loads_always_sum_to_100");
    for case in 0..5_000 {
        let n = draw(&mut rng, 0, 6);
        let counts: Vec<PriorityCounts> = (0..n).map(|_| draw_counts(&mut rng)).collect();
        let opf = draw(&mut rng, 1, 300);
        let threshold = draw(&mut rng, 0, 120);
        let s = compute_priority_state(&counts, opf, threshold);
        let total: u32 = s.healthy_load.iter().chain(&s.degraded_load).sum();
        let at = format!("case {case}: {counts:?}, opf {opf}, threshold {threshold}");
        assert_eq!(total, 100, "{at}");
        assert!(s.health.iter().chain(&s.degraded_health).all(|&h| h <= 100), "{at}");
        assert!(s.normalized_total <= 100, "{at}");
    }
}

#[test]
fn p0_load_is_monotone_in_p0_healthy_without_panic() {
    let mut rng = SimRng::new(11).fork("p0_load_is_monotone_in_p0_healthy_without_panic");
    for case in 0..2_000 {
        let p0_hosts = draw(&mut rng, 1, 20);
        let n = draw(&mut rng, 0, 5);
        // Threshold 0 (Istio's default with outlier detection): no panic, so the claim holds.
        // With panic it does not (see `panic_is_not_monotone_in_p0_health`).
        let rest: Vec<PriorityCounts> = (0..n)
            .map(|_| {
                let h = draw(&mut rng, 0, 20);
                pc(h, draw(&mut rng, 0, 20).min(h))
            })
            .collect();
        let opf = draw(&mut rng, 100, 300);
        let mut prev = 0;
        for healthy in 0..=p0_hosts {
            let mut counts = vec![pc(p0_hosts, healthy)];
            counts.extend_from_slice(&rest);
            let l = compute_priority_state(&counts, opf, 0).healthy_load[0];
            assert!(l >= prev, "case {case}: {counts:?}, opf {opf}: healthy {healthy} gave {l} after {prev}");
            prev = l;
        }
    }
}
