//! Slow start, ported from Envoy's `round_robin_lb_test.cc` and `least_request_lb_test.cc`
//! (test names in each doc), and the rules of `slow_start`'s module docs that Envoy's tests do
//! not cover (ejection, removal, a host that joins unready). Envoy's `MockRandomGenerator`
//! returns 0, so `Scripted::zeros()` gives the same seed (0) and pre-pick count.
//! `force_refresh` stands for Envoy's `runCallbacks({}, {})` ("recalculate weights").

use super::*;
use crate::engine::{SimDuration, SimTime};
use crate::envoy::config::SlowStartConfig;

fn at(secs: u64) -> SimTime {
    SimTime::from_secs(secs)
}

fn ss(policy: LbPolicy, window_secs: u64, aggression: f64, min_weight_percent: f64) -> LbConfig {
    LbConfig {
        slow_start: Some(SlowStartConfig {
            window: SimDuration::from_secs(window_secs),
            aggression,
            min_weight_percent,
        }),
        ..cfg(policy, 50, false)
    }
}

fn all_healthy(_: EndpointId) -> HostHealth {
    HostHealth::Healthy
}

fn hosts(ids: &[u32]) -> Vec<Vec<LbLocality>> {
    vec![vec![loc(0, 0, ids)]]
}

fn picks_at(lb: &mut ClusterLb, rng: &mut Scripted, now: SimTime, active: &[u32], n: usize) -> Vec<u32> {
    let ctx = PickContext { now, ..PickContext::default() };
    (0..n).map(|_| lb.choose_host(rng, active, &ctx).unwrap().host.0).collect()
}

/// `RoundRobinLoadBalancerTest.SlowStartNoWait`: a host added 56 s after the window of the
/// first host ran out gets 12/60 = 0.2 of its weight 12 s later (4:1), 20/60 after 20 s (2:1),
/// and its full weight once its window is over (1:1, plain round robin again).
#[test]
fn rr_slow_start_no_wait() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::created_at(ss(RR, 60, 1.0, 10.0), at(1), &mut rng);
    lb.set_hosts(at(1), hosts(&[80]), &all_healthy, &[], &mut rng);
    lb.set_hosts(at(6), hosts(&[80]), &all_healthy, &[], &mut rng);
    // Stamped at the balancer's creation time: not newer than it.
    assert_eq!(lb.latest_host_added_time(), Some(SimTime::from_millis(1000)));
    lb.set_hosts(at(62), hosts(&[80, 90]), &all_healthy, &[], &mut rng);
    assert_eq!(lb.latest_host_added_time(), Some(SimTime::from_millis(62_000)));
    lb.force_refresh(at(74), &all_healthy, &[], &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(74), &[], 5), vec![80, 80, 80, 80, 90]);
    lb.force_refresh(at(82), &all_healthy, &[], &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(82), &[], 3), vec![80, 80, 90]);
    lb.force_refresh(at(127), &all_healthy, &[], &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(127), &[], 4), vec![80, 90, 80, 90]);
}

/// `RoundRobinLoadBalancerTest.SlowStartNoWaitNonLinearAggression`: aggression 2, so the
/// factor is √(time factor): 6 s into a 60 s window √0.1 = 0.32 (3:1), 26 s in √0.43 = 0.66
/// (the 5:3 pattern), then 1:1.
#[test]
fn rr_slow_start_non_linear_aggression() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::created_at(ss(RR, 60, 2.0, 10.0), at(1), &mut rng);
    // The first host is first seen at 6 s: its window starts then.
    lb.set_hosts(at(6), hosts(&[80]), &all_healthy, &[], &mut rng);
    lb.set_hosts(at(62), hosts(&[80, 90]), &all_healthy, &[], &mut rng);
    lb.force_refresh(at(68), &all_healthy, &[], &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(68), &[], 4), vec![80, 80, 80, 90]);
    lb.force_refresh(at(88), &all_healthy, &[], &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(88), &[], 8), vec![80, 90, 80, 80, 90, 80, 90, 80]);
    lb.force_refresh(at(129), &all_healthy, &[], &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(129), &[], 4), vec![80, 90, 80, 90]);
}

/// `RoundRobinLoadBalancerTest.SlowStartNoWaitMinWeightPercent35`: the factor never drops
/// below 0.35 (12 s in: max(0.2, 0.35), the 5:2 pattern), 30 s in it is 0.5 (2:1).
#[test]
fn rr_slow_start_min_weight_percent_35() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::created_at(ss(RR, 60, 1.0, 35.0), at(1), &mut rng);
    lb.set_hosts(at(1), hosts(&[80]), &all_healthy, &[], &mut rng);
    lb.set_hosts(at(62), hosts(&[80, 90]), &all_healthy, &[], &mut rng);
    assert_eq!(lb.latest_host_added_time(), Some(SimTime::from_millis(62_000)));
    lb.force_refresh(at(74), &all_healthy, &[], &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(74), &[], 7), vec![80, 80, 90, 80, 80, 80, 90]);
    lb.force_refresh(at(92), &all_healthy, &[], &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(92), &[], 7), vec![80, 90, 80, 80, 90, 80, 80]);
    lb.force_refresh(at(137), &all_healthy, &[], &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(137), &[], 4), vec![80, 90, 80, 90]);
}

/// `LeastRequestLoadBalancerTest.SlowStartNoWait`: least request's weight `1/(active + 1)`
/// times the slow-start factor. 10 s into the window the new host has 1 × 0.16 against the old
/// host's 1/2 once it has a request in flight (3:1); 40 s in, 0.66 against 0.5 from a scheduler
/// built with those weights (the 4:3 alternation).
#[test]
fn lr_slow_start_no_wait() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::created_at(ss(LR, 60, 1.0, 10.0), at(0), &mut rng);
    let mut active = vec![0u32; 100];
    lb.set_hosts(at(1), hosts(&[80]), &all_healthy, &active, &mut rng);
    assert_eq!(lb.latest_host_added_time(), Some(SimTime::from_millis(1000)));
    lb.set_hosts(at(62), hosts(&[80, 90]), &all_healthy, &active, &mut rng);
    assert_eq!(lb.latest_host_added_time(), Some(SimTime::from_millis(62_000)));
    lb.force_refresh(at(72), &all_healthy, &active, &mut rng);
    active[80] = 1;
    assert_eq!(picks_at(&mut lb, &mut rng, at(72), &active, 4), vec![80, 80, 80, 90]);
    lb.force_refresh(at(102), &all_healthy, &active, &mut rng);
    assert_eq!(picks_at(&mut lb, &mut rng, at(102), &active, 7), vec![90, 80, 90, 80, 90, 80, 90]);
}

/// Outlier detection never stamps a host: a host ejected and returned after its window does
/// not re-enter slow start; removed from EDS and added back, it is a new host and does.
#[test]
fn ejection_does_not_restart_slow_start_but_readding_does() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::created_at(ss(RR, 60, 1.0, 10.0), at(0), &mut rng);
    lb.set_hosts(at(0), hosts(&[1, 2]), &all_healthy, &[], &mut rng);
    // Both hosts were stamped at creation; 30 s in, each has factor 0.5.
    assert_eq!(lb.slow_start_of(EndpointId(1), at(30)), Some((at(0), 0.5)));
    lb.refresh_health(at(100), &unhealthy(&[1]), &[], &mut rng);
    lb.refresh_health(at(130), &all_healthy, &[], &mut rng);
    assert_eq!(lb.slow_start_of(EndpointId(1), at(130)), None, "back from ejection: full weight");
    assert_eq!(picks_at(&mut lb, &mut rng, at(130), &[], 4), vec![1, 2, 1, 2]);
    lb.set_hosts(at(140), hosts(&[2]), &all_healthy, &[], &mut rng);
    lb.set_hosts(at(150), hosts(&[1, 2]), &all_healthy, &[], &mut rng);
    // 1 ms into its new window the factor is max(1/60000, 0.1).
    assert_eq!(lb.slow_start_of(EndpointId(1), at(150) + SimDuration::from_millis(1)), Some((at(150), 0.1)));
}

/// A pod that joins EDS unready (Istio 1.31 sends it as UNHEALTHY) is stamped when it turns
/// ready, not when it was added: its window starts with its first traffic.
#[test]
fn unready_host_starts_its_window_when_ready() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::created_at(ss(RR, 60, 1.0, 10.0), at(0), &mut rng);
    lb.set_hosts(at(0), hosts(&[1]), &all_healthy, &[], &mut rng);
    lb.set_hosts(at(10), hosts(&[1, 2]), &unhealthy(&[2]), &[], &mut rng);
    assert_eq!(lb.slow_start_of(EndpointId(2), at(20)), None, "never seen healthy: no stamp");
    lb.refresh_health(at(40), &all_healthy, &[], &mut rng);
    assert_eq!(lb.slow_start_of(EndpointId(2), at(70)), Some((at(40), 0.5)));
    assert_eq!(lb.latest_host_added_time(), Some(at(40)));
}

/// Hosts present when the balancer is created share one window: equal factors, so the split
/// stays even while every source is scheduled by EDF (weights equal, `latest_host_added_time`
/// inside the window).
#[test]
fn hosts_present_at_creation_ramp_together() {
    let mut rng = Scripted::zeros();
    let mut lb = ClusterLb::created_at(ss(RR, 60, 1.0, 10.0), at(0), &mut rng);
    lb.set_hosts(at(0), hosts(&[1, 2, 3]), &all_healthy, &[], &mut rng);
    for id in 1..=3 {
        assert_eq!(lb.slow_start_of(EndpointId(id), at(15)), Some((at(0), 0.25)));
    }
    let picks = picks_at(&mut lb, &mut rng, at(15), &[], 300);
    for id in 1..=3 {
        assert_eq!(picks.iter().filter(|&&p| p == id).count(), 100);
    }
}

/// RANDOM and the hashing policies have no slow start (Envoy's `RandomLoadBalancer` and the
/// thread-aware balancers take no `slow_start_config`).
#[test]
fn slow_start_only_for_round_robin_and_least_request() {
    for policy in [LbPolicy::Random, LbPolicy::Maglev { table_size: 7 }] {
        let mut rng = Scripted::zeros();
        let mut lb = ClusterLb::created_at(ss(policy, 60, 1.0, 10.0), at(0), &mut rng);
        lb.set_hosts(at(0), hosts(&[1, 2]), &all_healthy, &[], &mut rng);
        assert_eq!(lb.slow_start_of(EndpointId(1), at(10)), None);
        assert_eq!(lb.latest_host_added_time(), None);
    }
}
