//! RING_HASH and MAGLEV, ported from Envoy's `ring_hash_lb_test.cc` and `maglev_lb_test.cc`
//! (test names in each doc). Envoy's hosts are `127.0.0.1:<port>`; host id `p` here has port `p`
//! (`addr` in the parent module), so the rings and tables hash the same keys and the expected
//! hosts are Envoy's own.

use super::*;
use crate::envoy::lb::hashing::{DEFAULT_MAX_RING_SIZE, envoy_is_prime};

fn ring(min: u64) -> LbConfig {
    cfg(LbPolicy::RingHash { minimum_ring_size: min, maximum_ring_size: DEFAULT_MAX_RING_SIZE }, 50, false)
}

fn maglev(table_size: u64) -> LbConfig {
    cfg(LbPolicy::Maglev { table_size }, 50, false)
}

fn built(config: LbConfig, priorities: Vec<Vec<LbLocality>>, down: &[u32]) -> (ClusterLb, Scripted) {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::new(config, &mut rng);
    lb.set_hosts(T0, priorities, &unhealthy(down), &[], &mut rng);
    (lb, rng)
}

/// The host for request hash `hash` (`TestLoadBalancerContext(hash)`).
fn for_hash(lb: &mut ClusterLb, rng: &mut Scripted, hash: u64) -> u32 {
    let ctx = PickContext { hash: Some(hash), ..PickContext::default() };
    lb.choose_host(rng, &[], &ctx).unwrap().host.0
}

/// With `host_selection_retry_max_attempts = retries` and the `previous_hosts` predicate
/// rejecting `rejected` (`TestLoadBalancerContext(hash, retries, predicate)`).
fn for_hash_rejecting(lb: &mut ClusterLb, rng: &mut Scripted, hash: u64, retries: u32, rejected: &[u32]) -> u32 {
    let rejected: Vec<EndpointId> = rejected.iter().map(|&i| EndpointId(i)).collect();
    let ctx = PickContext {
        hash: Some(hash),
        previous_hosts: &rejected,
        host_selection_retry_max_attempts: retries,
        ..PickContext::default()
    };
    lb.choose_host(rng, &[], &ctx).unwrap().host.0
}

const SIX: [u32; 6] = [90, 91, 92, 93, 94, 95];

/// `RingHashLoadBalancerTest.Basic`: six hosts, minimum ring size 12, so 2 entries each; the
/// ring Envoy prints (:94 first at 833437586790550860, :90 last at 16117243373044804889)
/// decides each lookup; without a hash the random value is used; with every host unhealthy the
/// priority is in panic and the ring is built over all hosts.
#[test]
fn ring_basic() {
    let (mut lb, mut rng) = built(ring(12), vec![vec![loc(0, 0, &SIX)]], &[]);
    assert_eq!(lb.hash_table_stats(), vec![(12, 2, 2)]);
    assert_eq!(for_hash(&mut lb, &mut rng, 0), 94);
    assert_eq!(for_hash(&mut lb, &mut rng, u64::MAX), 94);
    assert_eq!(for_hash(&mut lb, &mut rng, 3_551_244_743_356_806_947), 95);
    assert_eq!(for_hash(&mut lb, &mut rng, 3_551_244_743_356_806_948), 93);
    rng.push(&[16_117_243_373_044_804_880]);
    assert_eq!(lb.choose_host(&mut rng, &[], &PickContext::default()).unwrap().host.0, 90);
    lb.refresh_health(T0, &unhealthy(&SIX), &[], &mut rng);
    let pick = lb.choose_host(&mut rng, &[], &PickContext { hash: Some(0), ..PickContext::default() }).unwrap();
    assert_eq!((pick.host.0, pick.panic), (94, true));
}

/// `RingHashFailoverTest.BasicFailover`: the hash also picks the priority (`hash mod 100 + 1`
/// against the loads): P0 with one of two hosts healthy has load 70, so 69 stays in P0 and 71
/// goes to P1.
#[test]
fn ring_basic_failover() {
    let topo = vec![vec![loc(0, 0, &[80])], vec![loc(1, 0, &[82])]];
    let (mut lb, mut rng) = built(ring(12), topo, &[80]);
    assert_eq!(lb.hash_table_stats()[1], (12, 12, 12));
    assert_eq!(lb.choose_host(&mut rng, &[], &PickContext::default()).unwrap().host.0, 82);
    lb.refresh_health(T0, &unhealthy(&[]), &[], &mut rng);
    assert_eq!(lb.choose_host(&mut rng, &[], &PickContext::default()).unwrap().host.0, 80);
    lb.refresh_health(T0, &unhealthy(&[80]), &[], &mut rng);
    assert_eq!(lb.choose_host(&mut rng, &[], &PickContext::default()).unwrap().host.0, 82);
    let topo = vec![vec![loc(0, 0, &[80, 81])], vec![loc(1, 0, &[82])]];
    lb.set_hosts(T0, topo, &unhealthy(&[81]), &[], &mut rng);
    assert_eq!(lb.priority_state().healthy_load, vec![70, 30]);
    rng.push(&[69]);
    assert_eq!(lb.choose_host(&mut rng, &[], &PickContext::default()).unwrap().host.0, 80);
    rng.push(&[71]);
    assert_eq!(lb.choose_host(&mut rng, &[], &PickContext::default()).unwrap().host.0, 82);
}

/// `RingHashLoadBalancerTest.BasicWithRetryHostPredicate`: later host-selection attempts walk
/// the ring (:94 → :92 → :90), the last one is returned when all are rejected, and the walk
/// wraps (13 retries land one entry past :94).
#[test]
fn ring_retry_host_predicate() {
    let (mut lb, mut rng) = built(ring(12), vec![vec![loc(0, 0, &SIX)]], &[]);
    assert_eq!(for_hash_rejecting(&mut lb, &mut rng, 0, 2, &[]), 94);
    assert_eq!(for_hash_rejecting(&mut lb, &mut rng, 0, 2, &[94]), 92);
    assert_eq!(for_hash_rejecting(&mut lb, &mut rng, 0, 2, &SIX), 90);
    assert_eq!(for_hash_rejecting(&mut lb, &mut rng, 0, 13, &SIX), 92);
}

/// `RingHashLoadBalancerTest.UnevenHosts`: 2 hosts, minimum ring size 3: ⌈1.5⌉ = 2 entries
/// each, ring size 4; replacing :80 by :82 moves only the keys :80 held.
#[test]
fn ring_uneven_hosts() {
    let (mut lb, mut rng) = built(ring(3), vec![vec![loc(0, 0, &[80, 81])]], &[]);
    assert_eq!(lb.hash_table_stats(), vec![(4, 2, 2)]);
    assert_eq!(for_hash(&mut lb, &mut rng, 0), 80);
    lb.set_hosts(T0, vec![vec![loc(0, 0, &[81, 82])]], &unhealthy(&[]), &[], &mut rng);
    assert_eq!(for_hash(&mut lb, &mut rng, 0), 81);
}

/// `RingHashLoadBalancerTest.HostWeightedTinyRing`: weights 1, 2, 3 on a ring of exactly 6
/// give 1, 2 and 3 entries, at the positions Envoy lists.
#[test]
fn ring_host_weighted_tiny() {
    let config = cfg(LbPolicy::RingHash { minimum_ring_size: 6, maximum_ring_size: 6 }, 50, false);
    let (mut lb, mut rng) = built(config, vec![vec![weighted_loc(0, &[(90, 1), (91, 2), (92, 3)])]], &[]);
    assert_eq!(lb.hash_table_stats(), vec![(6, 1, 3)]);
    let expected: [(u64, u32); 6] = [
        (928_266_305_478_181_108, 92),
        (4_443_673_547_860_492_590, 92),
        (5_583_722_120_771_150_861, 91),
        (6_311_230_543_546_372_928, 91),
        (13_444_792_449_719_432_967, 92),
        (16_117_243_373_044_804_889, 90),
    ];
    for (hash, host) in expected {
        assert_eq!(for_hash(&mut lb, &mut rng, hash), host, "hash {hash}");
    }
}

/// Hits of 6000 hashes spread evenly over the 64-bit space, per host.
fn spread_counts(lb: &mut ClusterLb, rng: &mut Scripted, hosts: &[u32]) -> Vec<u32> {
    let mut counts = vec![0u32; hosts.len()];
    for i in 0..6000u64 {
        let h = for_hash(lb, rng, i * (u64::MAX / 6000));
        counts[hosts.iter().position(|&x| x == h).unwrap()] += 1;
    }
    counts
}

/// `RingHashLoadBalancerTest.HostWeightedLargeRing`: weights 1, 2, 3 with minimum ring size
/// 6144 give 1024, 2048 and 3072 entries, and 6000 spread hashes land 987 / 1932 / 3081.
#[test]
fn ring_host_weighted_large() {
    let (mut lb, mut rng) = built(ring(6144), vec![vec![weighted_loc(0, &[(90, 1), (91, 2), (92, 3)])]], &[]);
    assert_eq!(lb.hash_table_stats(), vec![(6144, 1024, 3072)]);
    assert_eq!(spread_counts(&mut lb, &mut rng, &[90, 91, 92]), vec![987, 1932, 3081]);
}

fn four_localities() -> Vec<Vec<LbLocality>> {
    vec![vec![loc(0, 1, &[90]), loc(1, 2, &[91]), loc(2, 3, &[92]), loc(3, 0, &[93])]]
}

/// `RingHashLoadBalancerTest.LocalityWeightedTinyRing` and `…LargeRing`: with
/// `locality_weighted_lb_config`, locality weights 1, 2, 3, 0 (one host each) act like host
/// weights, and the weight-0 locality is left off the ring.
#[test]
fn ring_locality_weighted() {
    let tiny = cfg(LbPolicy::RingHash { minimum_ring_size: 6, maximum_ring_size: 6 }, 50, true);
    let (mut lb, mut rng) = built(tiny, four_localities(), &[]);
    assert_eq!(lb.hash_table_stats(), vec![(6, 1, 3)]);
    assert_eq!(for_hash(&mut lb, &mut rng, 16_117_243_373_044_804_889), 90);
    assert_eq!(for_hash(&mut lb, &mut rng, 5_583_722_120_771_150_861), 91);
    assert_eq!(for_hash(&mut lb, &mut rng, 928_266_305_478_181_108), 92);
    let large = LbConfig { locality_weighted: true, ..ring(6144) };
    let (mut lb, mut rng) = built(large, four_localities(), &[]);
    assert_eq!(lb.hash_table_stats(), vec![(6144, 1024, 3072)]);
    assert_eq!(spread_counts(&mut lb, &mut rng, &[90, 91, 92, 93]), vec![987, 1932, 3081, 0]);
}

/// `RingHashLoadBalancerTest.ZeroLocalityWeights`: every locality weight 0 leaves the ring
/// empty, so nothing is picked.
#[test]
fn ring_zero_locality_weights() {
    let config = LbConfig { locality_weighted: true, ..ring(1024) };
    let (mut lb, mut rng) = built(config, vec![vec![loc(0, 0, &[90]), loc(1, 0, &[91])]], &[]);
    assert!(lb.choose_host(&mut rng, &[], &PickContext::default()).is_none());
}

/// `MaglevLoadBalancerTest.Basic`: table size 7 over six hosts; slot i holds
/// :92 :94 :90 :91 :95 :90 :93, and hash i looks up slot i mod 7.
#[test]
fn maglev_basic() {
    let (mut lb, mut rng) = built(maglev(7), vec![vec![loc(0, 0, &SIX)]], &[]);
    assert_eq!(lb.hash_table_stats(), vec![(7, 1, 2)]);
    let expected = [92, 94, 90, 91, 95, 90, 93];
    for i in 0..21u64 {
        assert_eq!(for_hash(&mut lb, &mut rng, i), expected[(i % 7) as usize]);
    }
}

/// `MaglevLoadBalancerTest.BasicWithRetryHostPredicate`: hash 10 is slot 3 (:91); a later
/// attempt flips the hash with `~0 − attempt + 1` (:90), and the last attempt is returned when
/// all are rejected (:95).
#[test]
fn maglev_retry_host_predicate() {
    let (mut lb, mut rng) = built(maglev(7), vec![vec![loc(0, 0, &SIX)]], &[]);
    assert_eq!(for_hash(&mut lb, &mut rng, 10), 91);
    assert_eq!(for_hash_rejecting(&mut lb, &mut rng, 10, 2, &[]), 91);
    assert_eq!(for_hash_rejecting(&mut lb, &mut rng, 10, 2, &[91]), 90);
    assert_eq!(for_hash_rejecting(&mut lb, &mut rng, 10, 2, &SIX), 95);
}

/// `MaglevLoadBalancerTest.BasicStability`: hosts are sorted by address before the table is
/// filled, so their order in EDS does not matter.
#[test]
fn maglev_stability() {
    let (mut lb, mut rng) = built(maglev(7), vec![vec![loc(0, 0, &[93, 95, 90, 94, 91, 92])]], &[]);
    let expected = [92, 94, 90, 91, 95, 90, 93];
    for i in 0..7u64 {
        assert_eq!(for_hash(&mut lb, &mut rng, i), expected[i as usize]);
    }
}

/// `MaglevLoadBalancerTest.Weighted`: weights 1 and 2, table size 17: 6 and 11 slots, in
/// Envoy's order.
#[test]
fn maglev_weighted() {
    let (mut lb, mut rng) = built(maglev(17), vec![vec![weighted_loc(0, &[(90, 1), (91, 2)])]], &[]);
    assert_eq!(lb.hash_table_stats(), vec![(17, 6, 11)]);
    let expected = [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1];
    for i in 0..51u64 {
        assert_eq!(for_hash(&mut lb, &mut rng, i), 90 + expected[(i % 17) as usize]);
    }
}

/// An ejected host leaves the ring and every key it held moves; the keys come back when it
/// returns. Keys of the other hosts move too: the ring is re-scaled to the new lightest host.
/// With 6 hosts and minimum ring size 1024 each host has ⌈1024/6⌉ = 171 entries; with 5 it has
/// ⌈1024/5⌉ = 205, and the 34 new entries of each survivor take keys from the others. So
/// ejecting one of six moves more than the sixth it held.
#[test]
fn ring_ejection_moves_the_ejected_hosts_keys_and_rescales() {
    let (mut lb, mut rng) = built(ring(1024), vec![vec![loc(0, 0, &SIX)]], &[]);
    assert_eq!(lb.hash_table_stats(), vec![(1026, 171, 171)]);
    let keys: Vec<u64> = (0..6000u64).map(|i| i * (u64::MAX / 6000)).collect();
    let before: Vec<u32> = keys.iter().map(|&k| for_hash(&mut lb, &mut rng, k)).collect();
    lb.refresh_health(T0, &unhealthy(&[92]), &[], &mut rng);
    assert_eq!(lb.hash_table_stats(), vec![(1025, 205, 205)]);
    let during: Vec<u32> = keys.iter().map(|&k| for_hash(&mut lb, &mut rng, k)).collect();
    let held = before.iter().filter(|&&h| h == 92).count();
    assert!(during.iter().all(|&h| h != 92));
    let moved = before.iter().zip(&during).filter(|(a, b)| a != b).count();
    let moved_among_survivors = moved - held;
    assert!(moved_among_survivors > 0, "re-scaling moves survivors' keys too");
    lb.refresh_health(T0, &unhealthy(&[]), &[], &mut rng);
    let after: Vec<u32> = keys.iter().map(|&k| for_hash(&mut lb, &mut rng, k)).collect();
    assert_eq!(after, before);
}

/// Envoy's `Primes::isPrime` (and Istio's copy) calls 1, 2 and 3 prime and the rest as usual.
#[test]
fn envoy_prime_test() {
    let primes: Vec<u64> = (0..30).filter(|&x| envoy_is_prime(x)).collect();
    assert_eq!(primes, vec![1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
    assert!(envoy_is_prime(65_537));
    assert!(!envoy_is_prime(65_536));
    assert!(envoy_is_prime(5_000_011));
}
