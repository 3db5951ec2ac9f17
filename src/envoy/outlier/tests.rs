//! Tests of the outlier detector: envoy-semantics §6.1 (O1–O17, ported from Envoy's
//! `test/common/upstream/outlier_detection_impl_test.cc`) and the worked numbers of §1.4.
//! Every expected value is derived from the spec's rules, not from this implementation's output.

use super::*;
use EjectionKind::*;
use OutlierEvent::*;

fn ms(x: u64) -> SimTime {
    SimTime::from_millis(x)
}

fn secs(x: u64) -> SimTime {
    SimTime::from_secs(x)
}

fn h(i: u32) -> EndpointId {
    EndpointId(i)
}

/// An `Ejected` event with no jitter.
fn ejected(host: u32, kind: EjectionKind, multiplier: u32, planned_ms: u64) -> OutlierEvent {
    Ejected {
        host: h(host),
        kind,
        multiplier,
        planned: SimDuration::from_millis(planned_ms),
        jitter: SimDuration::ZERO,
        log: NO_LOG,
        figures: None,
    }
}

/// The event-log fields zeroed: most tests compare the detector's decisions only (the log
/// fields have tests of their own).
const NO_LOG: HostLogState = HostLogState { num_ejections: 0, since_last_action: None };

fn plain(e: OutlierEvent) -> OutlierEvent {
    match e {
        Ejected { host, kind, multiplier, planned, jitter, .. } => {
            Ejected { host, kind, multiplier, planned, jitter, log: NO_LOG, figures: None }
        }
        NotEnforced { host, kind, .. } => NotEnforced { host, kind, log: NO_LOG, figures: None },
        Unejected { host, ejected_for, .. } => Unejected { host, ejected_for, num_ejections: 0 },
        other => other,
    }
}

fn unejected(host: u32, ejected_for_ms: u64) -> OutlierEvent {
    Unejected { host: h(host), ejected_for: SimDuration::from_millis(ejected_for_ms), num_ejections: 0 }
}

/// Envoy's defaults with the max ejection percent at 100, as the newer Envoy tests run.
fn max100() -> OutlierConfig {
    OutlierConfig { max_ejection_percent: 100, ..OutlierConfig::default() }
}

/// A detector with hosts `0..n`, a seeded stream, and the events of the last call.
struct Rig {
    d: OutlierDetector,
    rng: SimRng,
    out: Vec<OutlierEvent>,
}

impl Rig {
    fn new(config: OutlierConfig, n: u32) -> Rig {
        let mut d = OutlierDetector::new(config);
        for i in 0..n {
            d.add_host(h(i));
        }
        Rig { d, rng: SimRng::new(7), out: Vec::new() }
    }

    fn http(&mut self, host: u32, status: u16, n: usize, now: SimTime) -> Vec<OutlierEvent> {
        self.out.clear();
        for _ in 0..n {
            self.d.put_http_status(h(host), status, now, &mut self.rng, &mut self.out);
        }
        self.out.iter().copied().map(plain).collect()
    }

    fn local(&mut self, host: u32, ev: LocalOriginEvent, n: usize, now: SimTime) -> Vec<OutlierEvent> {
        self.out.clear();
        for _ in 0..n {
            self.d.put_local_origin(h(host), ev, now, &mut self.rng, &mut self.out);
        }
        self.out.iter().copied().map(plain).collect()
    }

    fn tick(&mut self, now: SimTime) -> Vec<OutlierEvent> {
        self.out.clear();
        self.d.on_interval_tick(now, &mut self.rng, &mut self.out);
        self.out.iter().copied().map(plain).collect()
    }

    fn st(&self, host: u32) -> HostOutlierState {
        self.d.host_state(h(host)).expect("member")
    }
}

const FAILED: LocalOriginEvent = LocalOriginEvent::ConnectFailed;
const CONNECTED: LocalOriginEvent = LocalOriginEvent::ConnectSuccess;

fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

// ---------------------------------------------------------------------------------------------
// §6.1 O1–O17

#[test]
fn o1_basic_flow_5xx_via_http_codes() {
    let mut r = Rig::new(max100(), 2);
    assert!(r.http(0, 500, 1, ms(0)).is_empty());
    assert!(r.http(0, 200, 1, ms(0)).is_empty());
    assert!(r.http(0, 500, 4, ms(0)).is_empty());
    assert!(!r.d.is_ejected(h(0)), "the 200 reset the counter");
    // Base 30 s, multiplier 1, no jitter.
    assert_eq!(r.http(0, 500, 1, ms(0)), vec![ejected(0, Consecutive5xx, 1, 30_000)]);
    assert!(r.d.is_ejected(h(0)));
    assert_eq!(r.d.active_ejections(), 1);

    assert!(r.tick(ms(9_999)).is_empty());
    assert!(r.d.is_ejected(h(0)));
    assert_eq!(r.st(0).last_unejection, None);

    assert_eq!(r.tick(ms(30_001)), vec![unejected(0, 30_001)]);
    assert!(!r.d.is_ejected(h(0)));
    assert_eq!(r.st(0).last_unejection, Some(ms(30_001)));

    assert!(r.http(0, 500, 4, ms(40_000)).is_empty());
    // No tick since the un-ejection, so no decay: the multiplier goes 1 → 2, 60 s.
    assert_eq!(r.http(0, 500, 1, ms(40_000)), vec![ejected(0, Consecutive5xx, 2, 60_000)]);
    assert_eq!(r.d.active_ejections(), 1);

    r.d.remove_host(h(0));
    r.d.remove_host(h(1));
    assert_eq!(r.d.active_ejections(), 0);
    assert_eq!(r.d.n_members(), 0);
    let s = r.d.stats();
    assert_eq!(s.ejections_total, 2);
    assert_eq!(s.detected(Consecutive5xx), 2);
    assert_eq!(s.enforced(Consecutive5xx), 2);
    assert_eq!(s.enforced_total, 2);
    assert_eq!(s.detected(ConsecutiveGatewayFailure), 0);
    assert_eq!(s.enforced(ConsecutiveGatewayFailure), 0);
}

#[test]
fn o2_basic_flow_gateway_failure() {
    let cfg = OutlierConfig { enforcing_consecutive_gateway_failure: 100, enforcing_consecutive_5xx: 0, ..max100() };
    let mut r = Rig::new(cfg, 1);
    for s in [503, 500, 503, 503] {
        assert!(r.http(0, s, 1, ms(0)).is_empty());
    }
    // 5th response: c5xx = 5 → detected, not enforced, reset; cgw = 3 (the 500 reset it).
    assert_eq!(
        r.http(0, 503, 1, ms(0)),
        vec![NotEnforced { host: h(0), kind: Consecutive5xx, log: NO_LOG, figures: None }]
    );
    assert_eq!((r.st(0).consecutive_5xx, r.st(0).consecutive_gateway_failure), (0, 3));
    assert!(r.http(0, 503, 1, ms(0)).is_empty());
    assert_eq!(r.st(0).consecutive_gateway_failure, 4);
    // 7th response: cgw = 5 → ejected as gateway failure.
    assert_eq!(r.http(0, 503, 1, ms(0)), vec![ejected(0, ConsecutiveGatewayFailure, 1, 30_000)]);
    assert_eq!((r.st(0).consecutive_5xx, r.st(0).consecutive_gateway_failure), (2, 0));

    assert_eq!(r.tick(ms(30_001)), vec![unejected(0, 30_001)]);
    assert_eq!((r.st(0).consecutive_5xx, r.st(0).consecutive_gateway_failure), (0, 0));

    assert!(r.http(0, 503, 4, ms(30_001)).is_empty());
    // Both counters reach 5: the gateway detection ejects, the 5xx one finds the host ejected
    // and is dropped without resetting c5xx.
    assert_eq!(r.http(0, 503, 1, ms(30_001)), vec![ejected(0, ConsecutiveGatewayFailure, 2, 60_000)]);
    assert_eq!((r.st(0).consecutive_5xx, r.st(0).consecutive_gateway_failure), (5, 0));

    let s = r.d.stats();
    assert_eq!(s.detected(Consecutive5xx), 1);
    assert_eq!(s.enforced(Consecutive5xx), 0);
    assert_eq!(s.detected(ConsecutiveGatewayFailure), 2);
    assert_eq!(s.enforced(ConsecutiveGatewayFailure), 2);
}

#[test]
fn o3_non_http_codes_external_origin() {
    let mut r = Rig::new(max100(), 2);
    // A success (200) cancels each connect failure.
    for _ in 0..100 {
        assert!(r.local(0, FAILED, 1, ms(0)).is_empty());
        assert!(r.http(0, 200, 1, ms(0)).is_empty());
    }
    assert!(!r.d.is_ejected(h(0)));
    // A connect success does not interrupt the run of connect failures.
    assert!(r.local(0, FAILED, 1, ms(0)).is_empty());
    assert!(r.local(0, CONNECTED, 1, ms(0)).is_empty());
    assert!(r.local(0, FAILED, 3, ms(0)).is_empty());
    assert_eq!((r.st(0).consecutive_5xx, r.st(0).consecutive_gateway_failure), (4, 4));
    // Connect failure = 503: gateway detection first (enforcement 0 by default), then 5xx.
    assert_eq!(
        r.local(0, FAILED, 1, ms(0)),
        vec![
            NotEnforced { host: h(0), kind: ConsecutiveGatewayFailure, log: NO_LOG, figures: None },
            ejected(0, Consecutive5xx, 1, 30_000),
        ]
    );
    assert_eq!(r.d.active_ejections(), 1);
    assert_eq!(r.d.stats().detected(ConsecutiveGatewayFailure), 1);
    assert_eq!(r.d.stats().enforced(ConsecutiveGatewayFailure), 0);
}

#[test]
fn o4_timeout_with_http_code() {
    let mut r = Rig::new(max100(), 3);
    let t500 = LocalOriginEvent::Timeout { code: Some(500) };
    let t200 = LocalOriginEvent::Timeout { code: Some(200) };
    let t_none = LocalOriginEvent::Timeout { code: None };
    assert!(r.local(0, t500, 4, ms(0)).is_empty());
    assert_eq!(r.local(0, t500, 1, ms(0)), vec![ejected(0, Consecutive5xx, 1, 30_000)]);
    assert!(r.local(1, t200, 5, ms(0)).is_empty());
    assert!(!r.d.is_ejected(h(1)));
    assert_eq!(r.st(1).consecutive_5xx, 0);
    // No code → 504: a 5xx and a gateway error.
    assert!(r.local(2, t_none, 4, ms(0)).is_empty());
    assert_eq!(
        r.local(2, t_none, 1, ms(0)),
        vec![
            NotEnforced { host: h(2), kind: ConsecutiveGatewayFailure, log: NO_LOG, figures: None },
            ejected(2, Consecutive5xx, 1, 30_000),
        ]
    );
}

#[test]
fn o5_basic_flow_local_origin_failure_split() {
    let cfg = OutlierConfig { split_external_local_origin_errors: true, ..max100() };
    let mut r = Rig::new(cfg, 1);
    assert!(r.local(0, FAILED, 4, ms(0)).is_empty());
    assert_eq!(r.local(0, FAILED, 1, ms(0)), vec![ejected(0, ConsecutiveLocalOriginFailure, 1, 30_000)]);
    // While ejected: no effect (the detection is ignored, the counter keeps growing).
    assert!(r.local(0, FAILED, 5, ms(0)).is_empty());
    assert_eq!(r.st(0).consecutive_local_origin_failure, 5);
    assert_eq!(r.d.stats().detected(ConsecutiveLocalOriginFailure), 1);
    // Local-origin results never touch the external counters in split mode.
    assert_eq!(r.st(0).consecutive_5xx, 0);

    assert!(r.tick(ms(9_999)).is_empty());
    assert!(r.d.is_ejected(h(0)));
    assert_eq!(r.tick(ms(30_001)), vec![unejected(0, 30_001)]);
    assert_eq!(r.st(0).consecutive_local_origin_failure, 0);

    assert_eq!(r.local(0, FAILED, 5, ms(30_001)), vec![ejected(0, ConsecutiveLocalOriginFailure, 2, 60_000)]);
    assert!(r.tick(ms(40_000)).is_empty());
    assert!(r.d.is_ejected(h(0)));
    assert_eq!(r.tick(ms(90_002)), vec![unejected(0, 60_001)]);

    assert!(r.local(0, FAILED, 4, ms(90_002)).is_empty());
    assert!(r.local(0, CONNECTED, 1, ms(90_002)).is_empty());
    assert!(r.local(0, FAILED, 2, ms(90_002)).is_empty());
    assert!(!r.d.is_ejected(h(0)));
    assert_eq!(r.st(0).consecutive_local_origin_failure, 2);
    // And an HTTP 503 counts as external only.
    assert!(r.http(0, 503, 1, ms(90_002)).is_empty());
    assert_eq!(r.st(0).consecutive_local_origin_failure, 2);
    assert_eq!(r.st(0).consecutive_5xx, 1);
}

#[test]
fn o6_eject_time_backoff() {
    let cfg = OutlierConfig {
        base_ejection_time: SimDuration::from_secs(10),
        interval: SimDuration::from_secs(10),
        max_ejection_time: SimDuration::from_secs(300),
        ..max100()
    };
    let mut r = Rig::new(cfg, 1);
    assert_eq!(r.http(0, 500, 5, secs(0)), vec![ejected(0, Consecutive5xx, 1, 10_000)]);
    assert_eq!(r.tick(secs(10)), vec![unejected(0, 10_000)]);

    assert_eq!(r.http(0, 500, 5, secs(10)), vec![ejected(0, Consecutive5xx, 2, 20_000)]);
    assert!(r.tick(secs(20)).is_empty());
    assert_eq!(r.tick(secs(30)), vec![unejected(0, 20_000)]);

    assert_eq!(r.http(0, 500, 5, secs(30)), vec![ejected(0, Consecutive5xx, 3, 30_000)]);
    assert!(r.tick(secs(40)).is_empty());
    assert!(r.tick(secs(50)).is_empty());
    assert_eq!(r.tick(secs(60)), vec![unejected(0, 30_000)]);
    // Un-ejected in this tick: not decayed in it (0 < interval).
    assert_eq!(r.st(0).multiplier, 3);

    assert!(r.tick(secs(70)).is_empty());
    assert_eq!(r.st(0).multiplier, 2);
    assert!(r.tick(secs(80)).is_empty());
    assert_eq!(r.st(0).multiplier, 1);

    assert_eq!(r.http(0, 500, 5, secs(80)), vec![ejected(0, Consecutive5xx, 2, 20_000)]);
    assert!(r.tick(secs(90)).is_empty());
    assert_eq!(r.tick(secs(100)), vec![unejected(0, 20_000)]);

    for i in 1..=50 {
        assert!(r.tick(secs(100 + 10 * i)).is_empty());
    }
    assert_eq!(r.st(0).multiplier, 0);
    assert_eq!(r.http(0, 500, 5, secs(610)), vec![ejected(0, Consecutive5xx, 1, 10_000)]);
    assert_eq!(r.tick(secs(620)), vec![unejected(0, 10_000)]);
}

/// Ejects host 0 at every un-ejection tick: `first` ejections lasting `i` ticks, then `more`
/// ejections lasting `capped_ticks` ticks each (10 s base, 10 s interval).
fn run_max_eject_time(max_s: u64, first: u64, capped_ticks: u64, more: u64) -> Rig {
    let cfg = OutlierConfig {
        base_ejection_time: SimDuration::from_secs(10),
        interval: SimDuration::from_secs(10),
        max_ejection_time: SimDuration::from_secs(max_s),
        ..max100()
    };
    let mut r = Rig::new(cfg, 1);
    let mut tick = 0;
    let lengths = (1..=first).chain(std::iter::repeat_n(capped_ticks, more as usize));
    for (n, ticks) in lengths.enumerate() {
        let now = secs(tick * 10);
        let ev = r.http(0, 500, 5, now);
        assert_eq!(ev.len(), 1, "ejection {}", n + 1);
        assert!(r.d.is_ejected(h(0)));
        for _ in 1..ticks {
            tick += 1;
            assert!(r.tick(secs(tick * 10)).is_empty(), "ejection {} tick {tick}", n + 1);
            assert!(r.d.is_ejected(h(0)));
        }
        tick += 1;
        assert_eq!(r.tick(secs(tick * 10)), vec![unejected(0, ticks * 10_000)]);
        assert_eq!(r.d.active_ejections(), 0);
    }
    r
}

#[test]
fn o7_max_eject_time() {
    // Ejections 1..=30 last i × 10 s; every later one lasts 300 s (30 ticks).
    let r = run_max_eject_time(300, 30, 30, 9);
    // Ceiling: smallest k with k·10 ≥ 300 + 10.
    assert_eq!(r.st(0).multiplier, 31);
    assert_eq!(r.st(0).num_ejections, 39);
}

#[test]
fn o8_max_eject_time_not_aligned() {
    // Ejections 1..=31 last i × 10 s (the 31st: min(310, 305) = 305 → the tick at 310 s);
    // afterwards 305 s rounded up to the next tick, 310 s.
    let r = run_max_eject_time(305, 31, 31, 9);
    // Ceiling: smallest k with k·10 ≥ 305 + 10.
    assert_eq!(r.st(0).multiplier, 32);
}

#[test]
fn o9_max_ejection_percentage() {
    let cfg = OutlierConfig { max_ejection_percent: 50, ..OutlierConfig::default() };
    let mut r = Rig::new(cfg, 3);
    assert_eq!(r.http(0, 500, 5, ms(0)), vec![ejected(0, Consecutive5xx, 1, 30_000)]);
    assert_eq!(r.http(1, 500, 5, ms(0)), vec![Overflow { host: h(1), kind: Consecutive5xx }]);
    assert_eq!(r.http(2, 500, 5, ms(0)), vec![Overflow { host: h(2), kind: Consecutive5xx }]);
    assert_eq!(r.d.active_ejections(), 1);
    assert_eq!(r.d.stats().overflow, 2);
    assert_eq!(r.d.stats().detected(Consecutive5xx), 3);
    // The triggering counter is reset even when admission fails.
    assert_eq!(r.st(1).consecutive_5xx, 0);
}

#[test]
fn o10_max_ejection_percentage_single_host() {
    let cfg = OutlierConfig { max_ejection_percent: 90, ..OutlierConfig::default() };
    let mut r = Rig::new(cfg, 1);
    assert_eq!(r.http(0, 500, 5, ms(0)), vec![Overflow { host: h(0), kind: Consecutive5xx }]);
    assert!(!r.d.is_ejected(h(0)));
    assert_eq!(r.d.stats().overflow, 1);
    assert_eq!(r.st(0).consecutive_5xx, 0);
}

#[test]
fn o11_overflow_newer_and_older_eras() {
    let cfg = OutlierConfig { max_ejection_percent: 60, ..OutlierConfig::default() };
    let mut r = Rig::new(cfg, 2);
    assert_eq!(r.http(0, 500, 5, ms(0)), vec![ejected(0, Consecutive5xx, 1, 30_000)]);
    assert_eq!(r.http(1, 500, 5, ms(0)), vec![Overflow { host: h(1), kind: Consecutive5xx }]);
    assert_eq!(r.d.active_ejections(), 1);
    assert_eq!(r.d.stats().overflow, 1);

    // Older revision: max 1 %, host0 still ejected ("first host always").
    for rule in [MaxEjectionRule::BeforeEjection, MaxEjectionRule::FirstOrAfterEjection] {
        let cfg = OutlierConfig { max_ejection_percent: 1, max_ejection_rule: rule, ..OutlierConfig::default() };
        let mut r = Rig::new(cfg, 2);
        assert_eq!(r.http(0, 500, 5, ms(0)), vec![ejected(0, Consecutive5xx, 1, 30_000)], "{rule:?}");
        assert_eq!(r.http(1, 500, 5, ms(0)), vec![Overflow { host: h(1), kind: Consecutive5xx }]);
        assert_eq!(r.d.active_ejections(), 1);
        assert_eq!(r.d.stats().overflow, 1);
    }
    // Era C with max 1 %: not even the first.
    let cfg = OutlierConfig { max_ejection_percent: 1, ..OutlierConfig::default() };
    let mut r = Rig::new(cfg, 2);
    assert_eq!(r.http(0, 500, 5, ms(0)), vec![Overflow { host: h(0), kind: Consecutive5xx }]);
}

#[test]
fn o12_not_enforcing() {
    let cfg = OutlierConfig { max_ejection_percent: 35, enforcing_consecutive_5xx: 0, ..OutlierConfig::default() };
    let mut r = Rig::new(cfg, 3);
    assert!(r.http(0, 503, 4, ms(0)).is_empty());
    assert_eq!(
        r.http(0, 503, 1, ms(0)),
        vec![
            NotEnforced { host: h(0), kind: ConsecutiveGatewayFailure, log: NO_LOG, figures: None },
            NotEnforced { host: h(0), kind: Consecutive5xx, log: NO_LOG, figures: None },
        ]
    );
    assert!(!r.d.is_ejected(h(0)));
    let s = r.d.stats();
    assert_eq!(s.ejections_active, 0);
    assert_eq!(s.ejections_total, 1);
    assert_eq!(s.enforced_total, 0);
    assert_eq!(s.overflow, 0);
    assert_eq!(s.detected(Consecutive5xx), 1);
    assert_eq!(s.enforced(Consecutive5xx), 0);
    assert_eq!(s.detected(ConsecutiveGatewayFailure), 1);
    assert_eq!(s.enforced(ConsecutiveGatewayFailure), 0);
}

#[test]
fn o13_ejection_time_jitter_is_in_range() {
    assert_eq!(ejection_jitter_ms(123_456_789, 10_000), 4_445);

    let cfg = OutlierConfig { max_ejection_time_jitter: SimDuration::from_secs(10), ..max100() };
    let mut r = Rig::new(cfg, 1);
    // Enforcement at 100 % draws nothing, so the ejection's only draw is the jitter.
    let jitter = r.rng.clone().next_u64() % 10_001;
    assert!(jitter <= 10_000);
    let planned = SimDuration::from_millis(30_000 + jitter);
    assert_eq!(
        r.http(0, 500, 5, ms(0)),
        vec![Ejected {
            host: h(0),
            kind: Consecutive5xx,
            multiplier: 1,
            planned,
            jitter: SimDuration::from_millis(jitter),
            log: NO_LOG,
            figures: None,
        }]
    );
    assert_eq!(r.st(0).uneject_due, Some(ms(0) + planned));
    // The comparison is exact in ns: one ns early is still ejected.
    assert!(r.tick(SimTime(planned.as_nanos() - 1)).is_empty());
    assert_eq!(
        r.tick(SimTime(planned.as_nanos())),
        vec![Unejected { host: h(0), ejected_for: planned, num_ejections: 0 }]
    );
}

#[test]
fn o14_basic_flow_success_rate_external_origin() {
    let cfg = OutlierConfig { enforcing_consecutive_5xx: 0, ..max100() };
    let mut r = Rig::new(cfg, 5);
    for i in 0..5 {
        assert!(r.http(i, 200, 200, ms(0)).is_empty());
    }
    // 200 consecutive 503s: 40 unenforced detections of each consecutive kind.
    let ev = r.http(4, 503, 200, ms(0));
    assert_eq!(ev.len(), 80);
    assert!(ev.iter().all(|e| matches!(e, NotEnforced { host: EndpointId(4), .. })));

    assert_eq!(r.tick(ms(10_000)), vec![ejected(4, SuccessRate, 1, 30_000)]);
    assert_eq!(r.st(4).success_rate, Some(50.0));
    let sr = r.d.success_rate_stats(SuccessRateOrigin::External).expect("enough hosts");
    assert_close(sr.mean, 90.0);
    assert_close(sr.ejection_threshold, 52.0);
    assert_eq!(r.st(4).local_origin_success_rate, None);
    assert_eq!(r.d.success_rate_stats(SuccessRateOrigin::LocalOrigin), None);
    assert_eq!(r.d.active_ejections(), 1);

    assert!(r.tick(ms(19_999)).is_empty());
    assert!(r.d.is_ejected(h(4)));
    assert_eq!(r.tick(ms(50_001)), vec![unejected(4, 40_001)]);
    assert_eq!(r.d.active_ejections(), 0);

    // 25 requests per host: below the SR volume (100); host4's 50 reach the FP volume (50), so
    // its rate is computed, but there is no mean and no ejection.
    for i in 0..5 {
        assert!(r.http(i, 200, 25, ms(50_001)).is_empty());
    }
    assert_eq!(r.http(4, 503, 25, ms(50_001)).len(), 10);
    assert!(r.tick(ms(60_001)).is_empty());
    assert_eq!(r.d.active_ejections(), 0);
    assert_eq!(r.st(4).success_rate, Some(50.0));
    assert_eq!(r.st(0).success_rate, None);
    assert_eq!(r.d.success_rate_stats(SuccessRateOrigin::External), None);

    let s = r.d.stats();
    assert_eq!(s.detected(SuccessRate), 1);
    assert_eq!(s.enforced(SuccessRate), 1);
    assert_eq!(s.detected(Consecutive5xx), 45);
    assert_eq!(s.detected(ConsecutiveGatewayFailure), 45);
}

#[test]
fn o15_basic_flow_failure_percentage_external_origin() {
    let cfg = OutlierConfig {
        enforcing_consecutive_5xx: 0,
        enforcing_success_rate: 0,
        enforcing_failure_percentage: 100,
        ..max100()
    };
    let mut r = Rig::new(cfg, 5);
    for i in 0..5 {
        r.http(i, 200, 50, ms(0));
    }
    assert_eq!(r.http(3, 503, 250, ms(0)).len(), 2 * 50);
    assert_eq!(r.http(4, 503, 300, ms(0)).len(), 2 * 60);

    // Failure 83.3 % (< 85) and 85.7 % (≥ 85): only host4. Only hosts 3 and 4 reach the SR
    // volume (100), fewer than 5, so no success-rate analysis.
    assert_eq!(r.tick(ms(10_000)), vec![ejected(4, FailurePercentage, 1, 30_000)]);
    assert_close(r.st(3).success_rate.unwrap(), 100.0 * 50.0 / 300.0);
    assert_close(r.st(4).success_rate.unwrap(), 100.0 * 50.0 / 350.0);
    assert_eq!(r.d.success_rate_stats(SuccessRateOrigin::External), None);
    assert_eq!(r.d.success_rate_stats(SuccessRateOrigin::LocalOrigin), None);
    assert!(!r.d.is_ejected(h(3)));
    assert_eq!(r.d.active_ejections(), 1);

    assert!(r.tick(ms(19_999)).is_empty());
    assert_eq!(r.tick(ms(50_001)), vec![unejected(4, 40_001)]);

    for i in 0..5 {
        r.http(i, 200, 25, ms(50_001));
    }
    r.http(4, 503, 25, ms(50_001));
    assert!(r.tick(ms(60_001)).is_empty());
    assert_eq!(r.st(4).success_rate, Some(50.0));

    let s = r.d.stats();
    assert_eq!(s.detected(FailurePercentage), 1);
    assert_eq!(s.enforced(FailurePercentage), 1);
    assert_eq!(s.detected(SuccessRate), 0);
    assert_eq!(s.detected(Consecutive5xx), 50 + 60 + 5);
}

#[test]
fn o16_success_rate_threshold() {
    let st = success_rate_threshold(&[50.0, 100.0, 100.0, 100.0, 100.0], 1.9);
    assert_close(st.mean, 90.0);
    assert_close(st.ejection_threshold, 52.0);
}

#[test]
fn o17_remove_while_ejected() {
    let mut r = Rig::new(max100(), 1);
    assert_eq!(r.http(0, 500, 5, ms(0)).len(), 1);
    assert_eq!(r.d.active_ejections(), 1);
    r.d.remove_host(h(0));
    assert_eq!(r.d.active_ejections(), 0);
    assert!(!r.d.is_member(h(0)));
    assert!(!r.d.is_ejected(h(0)));
    assert_eq!(r.d.host_state(h(0)), None);
    assert!(r.tick(ms(9_999)).is_empty());
}

#[test]
fn o17_cross_thread_remove_race() {
    let mut r = Rig::new(max100(), 1);
    assert!(r.http(0, 500, 4, ms(0)).is_empty());
    r.d.remove_host(h(0));
    // The detection posted before the removal arrives after it: ignored.
    r.d.on_consecutive_error(h(0), Consecutive5xx, ms(0), &mut r.rng, &mut r.out);
    assert!(r.out.is_empty());
    // So are later reports for the removed host.
    assert!(r.http(0, 500, 5, ms(0)).is_empty());
    assert_eq!(r.d.active_ejections(), 0);
    assert_eq!(r.d.stats().detected(Consecutive5xx), 0);
}

#[test]
fn o17_cross_thread_fail_race() {
    let mut r = Rig::new(max100(), 1);
    assert_eq!(r.http(0, 500, 5, ms(0)), vec![ejected(0, Consecutive5xx, 1, 30_000)]);
    // The same detection delivered twice: a single ejection.
    r.out.clear();
    r.d.on_consecutive_error(h(0), Consecutive5xx, ms(0), &mut r.rng, &mut r.out);
    assert!(r.out.is_empty());
    assert_eq!(r.d.active_ejections(), 1);
    assert_eq!(r.d.stats().detected(Consecutive5xx), 1);
    assert_eq!(r.d.stats().enforced(Consecutive5xx), 1);
    // Consecutive_5xxAlreadyEjected: another run of errors while ejected changes nothing.
    assert!(r.http(0, 200, 1, ms(0)).is_empty());
    assert!(r.http(0, 500, 5, ms(0)).is_empty());
    assert_eq!(r.d.active_ejections(), 1);
}

// ---------------------------------------------------------------------------------------------
// §1.4 worked numbers, back-off ceilings

/// How many of `n` hosts, each failing 5 times in turn, end up ejected.
fn ejected_count(cfg: OutlierConfig, n: u32) -> u32 {
    let mut r = Rig::new(cfg, n);
    for i in 0..n {
        r.http(i, 500, 5, ms(0));
    }
    assert_eq!(r.d.stats().overflow, u64::from(n - r.d.active_ejections()));
    r.d.active_ejections()
}

fn mep(m: u32, rule: MaxEjectionRule) -> OutlierConfig {
    OutlierConfig { max_ejection_percent: m, max_ejection_rule: rule, ..OutlierConfig::default() }
}

#[test]
fn admission_worked_numbers() {
    use MaxEjectionRule::*;
    // Current rule, M = 10, 6 hosts: 16.7 % > 10, even the first is refused.
    assert!(!admits(AfterEjection, false, 10, 0, 6));
    assert_eq!(ejected_count(mep(10, AfterEjection), 6), 0);
    // Default M = 10 needs total ≥ 10.
    assert!(!admits(AfterEjection, false, 10, 0, 9));
    assert!(admits(AfterEjection, false, 10, 0, 10));
    assert_eq!(ejected_count(OutlierConfig::default(), 10), 1);
    // M = 50: 6 hosts → 3; 3 hosts → 1.
    assert_eq!(ejected_count(mep(50, AfterEjection), 6), 3);
    assert_eq!(ejected_count(mep(50, AfterEjection), 3), 1);
    // M = 100: all.
    assert_eq!(ejected_count(mep(100, AfterEjection), 4), 4);
    // Capped at 100.
    assert_eq!(ejected_count(mep(150, AfterEjection), 4), 4);
    // Era A, 3 hosts, M = 50: 0 % and 33 % are both < 50 → 2.
    assert_eq!(ejected_count(mep(50, BeforeEjection), 3), 2);
    // Era A, M = 0: nothing, not even the first.
    assert_eq!(ejected_count(mep(0, BeforeEjection), 3), 0);
    // Era B, 3 hosts, M = 50: first always, then 66.7 % > 50 → 1; 6 hosts, M = 10 → 1.
    assert_eq!(ejected_count(mep(50, FirstOrAfterEjection), 3), 1);
    assert_eq!(ejected_count(mep(10, FirstOrAfterEjection), 6), 1);
    // always_eject_one_host: 6 hosts, M = 10 → exactly one.
    let cfg = OutlierConfig { always_eject_one_host: true, ..mep(10, AfterEjection) };
    assert_eq!(ejected_count(cfg, 6), 1);
    assert!(admits(AfterEjection, true, 0, 0, 1));
    assert!(!admits(AfterEjection, true, 0, 1, 2));
}

#[test]
fn backoff_ceilings() {
    fn ceiling(base_ms: u64, max_ms: u64) -> u32 {
        let mut b = 0;
        loop {
            let next = next_multiplier(b, base_ms, max_ms);
            if next == b {
                return b;
            }
            b = next;
        }
    }
    assert_eq!(ceiling(30_000, 300_000), 11);
    assert_eq!(ceiling(10_000, 305_000), 32);
    assert_eq!(ceiling(10_000, 300_000), 31);
    // Istio-like defaults through the detector: 12 back-to-back ejections end at 11, 300 s.
    let mut r = Rig::new(max100(), 1);
    let mut now = ms(0);
    let mut last = Vec::new();
    for _ in 0..12 {
        last = r.http(0, 500, 5, now);
        now += SimDuration::from_secs(300);
        assert_eq!(r.tick(now).len(), 1);
    }
    assert_eq!(last, vec![ejected(0, Consecutive5xx, 11, 300_000)]);
}

// ---------------------------------------------------------------------------------------------
// Other rules

#[test]
fn threshold_zero_never_fires() {
    let cfg = OutlierConfig {
        consecutive_5xx: 0,
        consecutive_gateway_failure: 0,
        consecutive_local_origin_failure: 0,
        enforcing_consecutive_gateway_failure: 100,
        ..max100()
    };
    let mut r = Rig::new(cfg.clone(), 1);
    assert!(r.http(0, 503, 1_000, ms(0)).is_empty());
    assert!(r.local(0, FAILED, 1_000, ms(0)).is_empty());
    let split = OutlierConfig { split_external_local_origin_errors: true, ..cfg };
    let mut r2 = Rig::new(split, 1);
    assert!(r2.local(0, FAILED, 1_000, ms(0)).is_empty());
    for s in [r.d.stats(), r2.d.stats()] {
        assert_eq!(s.detected, [0; 7]);
    }
}

#[test]
fn removed_then_readded_host_is_fresh() {
    let mut r = Rig::new(max100(), 2);
    r.http(0, 500, 5, ms(0));
    r.tick(ms(30_000));
    r.http(0, 500, 5, ms(30_000));
    assert_eq!(r.st(0).multiplier, 2);
    r.http(0, 500, 3, ms(30_000));
    r.d.remove_host(h(0));
    assert_eq!(r.d.n_members(), 1);
    r.d.add_host(h(0));
    assert_eq!(r.d.n_members(), 2);
    assert_eq!(r.d.active_ejections(), 0);
    let st = r.st(0);
    assert!(!st.ejected);
    assert_eq!((st.consecutive_5xx, st.consecutive_gateway_failure, st.multiplier), (0, 0, 0));
    assert_eq!((st.num_ejections, st.last_ejection, st.last_unejection), (0, None, None));
    assert!(r.http(0, 500, 4, ms(31_000)).is_empty());
    assert_eq!(r.http(0, 500, 1, ms(31_000)), vec![ejected(0, Consecutive5xx, 1, 30_000)]);
}

#[test]
fn add_host_twice_keeps_state() {
    let mut r = Rig::new(max100(), 2);
    r.http(0, 500, 3, ms(0));
    r.d.add_host(h(0));
    assert_eq!(r.d.n_members(), 2);
    assert_eq!(r.st(0).consecutive_5xx, 3);
    // Ids need not be dense among members.
    r.d.add_host(h(9));
    assert_eq!(r.d.n_members(), 3);
    assert!(!r.d.is_member(h(5)));
}

#[test]
fn hot_path_does_not_draw_without_a_detection() {
    let cfg = OutlierConfig { enforcing_consecutive_5xx: 50, ..max100() };
    let mut r = Rig::new(cfg, 1);
    let before = r.rng.clone();
    for _ in 0..100 {
        r.http(0, 500, 4, ms(0));
        r.http(0, 200, 1, ms(0));
    }
    assert_eq!(r.rng.next_u64(), before.clone().next_u64());
}

#[test]
fn local_origin_success_rate_and_failure_percentage_split() {
    // BasicFlowFailurePercentageLocalOrigin: threshold 40, local SR detected but not enforced,
    // local FP enforced.
    let cfg = OutlierConfig {
        split_external_local_origin_errors: true,
        enforcing_consecutive_local_origin_failure: 0,
        enforcing_local_origin_success_rate: 0,
        enforcing_failure_percentage_local_origin: 100,
        failure_percentage_threshold: 40,
        ..max100()
    };
    let mut r = Rig::new(cfg, 5);
    for i in 0..5 {
        r.local(i, CONNECTED, 200, ms(0));
    }
    assert_eq!(r.local(4, FAILED, 200, ms(0)).len(), 40);
    assert_eq!(
        r.tick(ms(10_000)),
        vec![
            NotEnforced { host: h(4), kind: SuccessRateLocalOrigin, log: NO_LOG, figures: None },
            ejected(4, FailurePercentageLocalOrigin, 1, 30_000),
        ]
    );
    assert_eq!(r.st(4).local_origin_success_rate, Some(50.0));
    assert_eq!(r.st(4).success_rate, None);
    let sr = r.d.success_rate_stats(SuccessRateOrigin::LocalOrigin).unwrap();
    assert_close(sr.mean, 90.0);
    assert_close(sr.ejection_threshold, 52.0);
    assert_eq!(r.d.success_rate_stats(SuccessRateOrigin::External), None);
}

#[test]
fn success_rate_and_failure_percentage_eject_once() {
    // Both statistical detectors flag host4 in the same sweep: one ejection (module docs).
    let cfg = OutlierConfig {
        enforcing_consecutive_5xx: 0,
        enforcing_failure_percentage: 100,
        failure_percentage_threshold: 40,
        ..max100()
    };
    let mut r = Rig::new(cfg, 5);
    for i in 0..5 {
        r.http(i, 200, 200, ms(0));
    }
    r.http(4, 503, 200, ms(0));
    assert_eq!(r.tick(ms(10_000)), vec![ejected(4, SuccessRate, 1, 30_000)]);
    assert_eq!(r.d.active_ejections(), 1);
    assert_eq!(r.d.stats().detected(FailurePercentage), 0);
}

#[test]
fn statistical_sweeps_need_minimum_hosts() {
    // 4 hosts < both minimums (5): nothing is analysed, no rate is recorded.
    let cfg = OutlierConfig {
        enforcing_consecutive_5xx: 0,
        enforcing_success_rate: 0,
        enforcing_failure_percentage: 100,
        ..max100()
    };
    let mut r = Rig::new(cfg, 4);
    for i in 0..4 {
        r.http(i, 200, 100, ms(0));
    }
    r.http(3, 500, 1_000, ms(0));
    assert!(r.tick(ms(10_000)).is_empty());
    assert_eq!(r.st(3).success_rate, None);
    // A fifth member makes both sweeps run (5 hosts with volume ≥ 100).
    r.d.add_host(h(4));
    for i in 0..5 {
        r.http(i, 200, 100, ms(10_000));
    }
    r.http(3, 500, 1_000, ms(10_000));
    assert_eq!(
        r.tick(ms(20_000)),
        vec![
            NotEnforced { host: h(3), kind: SuccessRate, log: NO_LOG, figures: None },
            ejected(3, FailurePercentage, 1, 30_000),
        ]
    );
}

#[test]
fn enforcement_fraction_matches_percentage() {
    // enforcing_consecutive_5xx = 30: P(enforced) = 0.30. With N = 10 000 independent seeds the
    // standard error is √(0.3·0.7/N) ≈ 0.0046; the tolerance ±0.02 is over 4 standard errors.
    let cfg = OutlierConfig { enforcing_consecutive_5xx: 30, ..max100() };
    let n = 10_000u64;
    let mut enforced = 0u64;
    for seed in 0..n {
        let mut d = OutlierDetector::new(cfg.clone());
        d.add_host(h(0));
        let mut rng = SimRng::new(seed);
        let mut out = Vec::new();
        for _ in 0..5 {
            d.put_http_status(h(0), 500, ms(0), &mut rng, &mut out);
        }
        assert_eq!(out.len(), 1);
        match out[0] {
            Ejected { .. } => enforced += 1,
            NotEnforced { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let frac = enforced as f64 / n as f64;
    assert!((frac - 0.30).abs() < 0.02, "enforced fraction {frac}");
}

#[test]
fn decay_skips_never_ejected_and_requires_a_full_interval() {
    let mut r = Rig::new(max100(), 2);
    r.http(0, 500, 5, ms(0));
    assert_eq!(r.tick(ms(30_000)), vec![unejected(0, 30_000)]);
    // 9 999 ms after the un-ejection: less than one interval, no decay.
    r.tick(ms(39_999));
    assert_eq!(r.st(0).multiplier, 1);
    r.tick(ms(40_000));
    assert_eq!(r.st(0).multiplier, 0);
    r.tick(ms(50_000));
    assert_eq!(r.st(0).multiplier, 0);
    assert_eq!(r.st(1).multiplier, 0);
    assert_eq!(r.st(1).last_unejection, None);
}

/// Envoy's event-log fields (`EventLoggerImpl::logEject`/`logUneject`, `setCommonEventParams`):
/// `num_ejections` counts enforced ejections, this one included; `secs_since_last_action` is
/// absent before the first un-ejection, then the time since it (for an ejection) or since the
/// ejection (for an un-ejection, in the event's `ejected_for`).
#[test]
fn event_log_fields_follow_envoys_logger() {
    let mut r = Rig::new(max100(), 2);
    r.http(0, 500, 5, ms(0));
    let log = |e: &OutlierEvent| match *e {
        Ejected { log, .. } | NotEnforced { log, .. } => (log.num_ejections, log.since_last_action),
        Unejected { num_ejections, ejected_for, .. } => (num_ejections, Some(ejected_for)),
        Overflow { .. } => panic!("overflow"),
    };
    assert_eq!(r.out.iter().map(log).collect::<Vec<_>>(), [(1, None)]);
    r.tick(secs(30));
    assert_eq!(r.out.iter().map(log).collect::<Vec<_>>(), [(1, Some(SimDuration::from_secs(30)))]);
    r.http(0, 500, 5, ms(42_500));
    assert_eq!(r.out.iter().map(log).collect::<Vec<_>>(), [(2, Some(SimDuration::from_millis(12_500)))]);
}

/// Envoy's worked example of `successRateEjectionThreshold` ({50, 100, 100, 100, 100} with factor
/// 1.9: mean 90, threshold 52) as the figures of the ejection event: host 50 %, cluster average
/// 90 %, threshold 52 %. A failure-percentage ejection carries the host's rate only.
#[test]
fn success_rate_ejection_carries_envoys_figures() {
    let cfg = OutlierConfig { enforcing_consecutive_5xx: 0, ..max100() };
    let mut r = Rig::new(cfg, 5);
    for host in 0..4 {
        r.http(host, 200, 100, ms(1_000));
    }
    r.http(4, 200, 50, ms(1_000));
    r.http(4, 500, 50, ms(1_000));
    r.tick(secs(10));
    let figures: Vec<_> = r
        .out
        .iter()
        .filter_map(|e| match e {
            Ejected { kind: SuccessRate, figures, .. } => Some(figures.expect("figures")),
            _ => None,
        })
        .collect();
    assert_eq!(figures.len(), 1, "{:?}", r.out);
    let f = figures[0];
    assert_eq!(f.host_success_rate, 50.0);
    assert_eq!(f.cluster_average_success_rate, Some(90.0));
    let t = f.cluster_success_rate_ejection_threshold.unwrap();
    assert!((t - 52.0).abs() < 1e-9, "{t}");
    let cfg = OutlierConfig {
        enforcing_consecutive_5xx: 0,
        enforcing_success_rate: 0,
        enforcing_failure_percentage: 100,
        failure_percentage_threshold: 50,
        ..max100()
    };
    let mut r = Rig::new(cfg, 5);
    for host in 0..4 {
        r.http(host, 200, 100, ms(1_000));
    }
    r.http(4, 500, 60, ms(1_000));
    r.http(4, 200, 40, ms(1_000));
    r.tick(secs(10));
    let fp: Vec<_> = r
        .out
        .iter()
        .filter_map(|e| match e {
            Ejected { kind: FailurePercentage, figures, .. } => Some(figures.expect("figures")),
            _ => None,
        })
        .collect();
    assert_eq!(
        fp,
        [EjectFigures {
            host_success_rate: 40.0,
            cluster_average_success_rate: None,
            cluster_success_rate_ejection_threshold: None
        }]
    );
}
