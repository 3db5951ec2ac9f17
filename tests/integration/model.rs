//! Model behaviour on small inline scenarios: workload rate changes, sidecar clients, targeted
//! pod faults, ejected hosts leaving EDS, panic, and pod concurrency limits.

use crate::util::{parse, phase_share, run};

/// Two clusters in two regions with 3 pods each, clients at `proxy_cluster`, and the given
/// DestinationRule `trafficPolicy` body, faults and extra keys.
fn scenario(proxy_kind: &str, proxy_cluster: &str, traffic_policy: &str, tail: &str) -> String {
    format!(
        r#"
name = "t"
duration = "60s"
[[clusters]]
name = "a"
region = "r1"
zone = "r1-a"
[[clusters]]
name = "b"
region = "r2"
zone = "r2-a"
[network]
cross_region = "40ms"
[service]
host = "svc.default.svc.cluster.local"
service_time = {{ distribution = "constant", mean = "5ms" }}
[[service.deployments]]
cluster = "a"
replicas = 3
[[service.deployments]]
cluster = "b"
replicas = 3
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
[policy.destination_rule.trafficPolicy]
{traffic_policy}
[[proxies]]
name = "client"
kind = "{proxy_kind}"
cluster = "{proxy_cluster}"
replicas = 2
{tail}
"#
    )
}

const OD: &str = r#"outlierDetection = { consecutive5xxErrors = 1, interval = "1s", baseEjectionTime = "30s", maxEjectionPercent = 100 }"#;

#[test]
fn rate_changes_take_effect_at_their_time() {
    let text = scenario(
        "sidecar",
        "a",
        OD,
        "[[workload]]\nproxy = \"client\"\nrate = 1000\nrate_changes = [{ at = \"20s\", rate = 0 }, { at = \"40s\", rate = 200 }]\n",
    );
    let r = run(&parse(&text).unwrap(), 3);
    let per_bucket: Vec<u64> = r.client_rows.iter().map(|c| c.requests).collect();
    // Poisson at 1000/s: each 1 s bucket within ±5σ ≈ ±160.
    assert!(per_bucket[..20].iter().all(|n| (840..=1160).contains(n)), "{per_bucket:?}");
    assert!(per_bucket[20..40].iter().all(|n| *n == 0), "{per_bucket:?}");
    assert!(per_bucket[40..].iter().all(|n| (130..=270).contains(n)), "{per_bucket:?}");
}

/// With outlierDetection and the mesh default locality setting, Istio puts the client's own
/// region in P0 and the other in P1 (§5.4.3): all healthy, P0 takes 100 %. Sidecars in `b` keep
/// their traffic in `b` (the "pinning" of §5.4.4).
#[test]
fn outlier_detection_pins_sidecar_traffic_to_the_local_region() {
    let text = scenario("sidecar", "b", OD, "[[workload]]\nproxy = \"client\"\nrate = 500\n");
    let r = run(&parse(&text).unwrap(), 1);
    assert_eq!(phase_share(&r, 0, "r2"), 1.0);
    // Without outlierDetection every endpoint is in P0. Round robin is host-uniform: 50/50
    // (±5σ of 30 000 attempts).
    let rr = r#"loadBalancer = { simple = "ROUND_ROBIN" }"#;
    let text = scenario("sidecar", "b", rr, "[[workload]]\nproxy = \"client\"\nrate = 500\n");
    let r = run(&parse(&text).unwrap(), 1);
    assert!((phase_share(&r, 0, "r2") - 0.5).abs() < 0.015);
    // Istio's default LEAST_REQUEST (two random choices, fewer active requests wins) favours the
    // local pods, which answer in ~5 ms and so hold fewer requests than the remote ones (~85 ms).
    let text = scenario("sidecar", "b", "", "[[workload]]\nproxy = \"client\"\nrate = 500\n");
    let r = run(&parse(&text).unwrap(), 1);
    assert!(phase_share(&r, 0, "r2") > 0.55, "{}", phase_share(&r, 0, "r2"));
}

/// Only pod 0 of `a` fails: each of the 2 client replicas ejects exactly that endpoint
/// (2 ejections), the other 2 pods of `a` stay healthy, so P0 health is ⌊140·2/3⌋ = 93 and P0
/// keeps 93 % of the load (§2.2); 7 % spills to `b`.
#[test]
fn a_fault_on_one_pod_ejects_only_that_endpoint() {
    let tail = "[[workload]]\nproxy = \"client\"\nrate = 1000\n[[faults]]\nat = \"10s\"\naction = \"http-error\"\ncluster = \"a\"\npods = [0]\nstatus = 500\n";
    let r = run(&parse(&scenario("sidecar", "a", OD, tail)).unwrap(), 1);
    // One per replica at ~10 s, and again when the 30 s ejection ends while the pod still fails.
    assert_eq!(r.ejections, 4, "two per replica");
    // Phase 1 runs 10–60 s; the ejection at ~10 s lasts 30 s, then pod 0 is re-ejected with a
    // 60 s ejection on its first request: it is out for (almost) the whole phase.
    let b = phase_share(&r, 1, "r2");
    assert!((b - 0.07).abs() < 0.01, "{b}");
}

/// An ejected endpoint that leaves EDS takes its ejection with it (§1.8): the ejected series
/// drops to 0 at the push after the scale-down, and `ejections.csv` ends each ejection there.
/// Each endpoint counts once however many proxies eject it, beside the (proxy, endpoint) pairs.
#[test]
fn ejected_hosts_removed_from_eds_stop_counting() {
    let tail = "[[workload]]\nproxy = \"client\"\nrate = 1000\n[[faults]]\nat = \"10s\"\naction = \"http-error\"\ncluster = \"a\"\nstatus = 503\n[[faults]]\nat = \"20s\"\naction = \"scale\"\ncluster = \"a\"\nreplicas = 0\n";
    let s = std::sync::Arc::new(parse(&scenario("sidecar", "a", OD, tail)).unwrap());
    let out = meshsim::model::run(s, 1).unwrap();
    let r = meshsim::metrics::report::report(&out.world, 1, out.events);
    let at = |t: f64, f: &dyn Fn(&meshsim::metrics::report::LocalityRow) -> i64| -> i64 {
        r.locality_rows.iter().filter(|x| x.time_s == t).map(f).sum()
    };
    assert_eq!(at(15.0, &|x| x.ejected_pairs), 6, "2 replicas × 3 pods");
    assert_eq!(at(15.0, &|x| i64::from(x.ejected_endpoints)), 3, "3 pods, each ejected by both replicas");
    assert_eq!(r.ejected_by[15], vec![0, 3], "3 endpoints ejected by exactly 2 proxies");
    assert_eq!(at(21.0, &|x| x.ejected_pairs), 0);
    assert_eq!(at(21.0, &|x| i64::from(x.ejected_endpoints)), 0);
    let records = meshsim::output::ejection_records(&out.world);
    let removed: Vec<_> = records.iter().filter(|e| e.ended_by == "removed").collect();
    assert_eq!(removed.len(), 6, "{records:?}");
    // Removed at the EDS push that follows the scale-down (after the grace period and the push delay).
    assert!(removed.iter().all(|e| e.end_s.is_some_and(|t| t > 20.0 && t < 21.0)), "{removed:?}");
}

/// minHealthPercent 50 with both regions in one priority (distribute 50/50): A fully ejected is
/// 3 of 6 healthy = 50 %, not below 50: no panic. Then B loses one pod too (2 of 6 = 33 % < 50,
/// N = ⌊140·2/6⌋ = 46 < 100): panic, and traffic spreads over all 6 hosts by count, half to the
/// ejected A pods (§2.10(b)). Round robin makes "by count" exact; least request would favour
/// the local pods, whose 503s come back fastest.
#[test]
fn min_health_percent_turns_on_panic() {
    let tp = format!(
        "{}\nloadBalancer = {{ simple = \"ROUND_ROBIN\", localityLbSetting = {{ distribute = [{{ from = \"r1/*\", to = {{ \"r1/*\" = 50, \"r2/*\" = 50 }} }}] }} }}",
        OD.replace("maxEjectionPercent = 100", "maxEjectionPercent = 100, minHealthPercent = 50")
    );
    let tail = "[[workload]]\nproxy = \"client\"\nrate = 1000\n[[faults]]\nat = \"10s\"\naction = \"http-error\"\ncluster = \"a\"\nstatus = 503\n[[faults]]\nat = \"20s\"\naction = \"http-error\"\ncluster = \"b\"\npods = [0]\nstatus = 503\n";
    let r = run(&parse(&scenario("sidecar", "a", &tp, tail)).unwrap(), 1);
    assert!(phase_share(&r, 1, "r1") < 0.01, "no panic at exactly 50 %");
    let a = phase_share(&r, 2, "r1");
    assert!((a - 0.5).abs() < 0.05, "panic spreads by host count: {a}");
    assert!(r.phases[2].errors > r.phases[2].requests / 3, "A's pods answer 503 again in panic");
}

/// A pod that serves one request at a time (constant 5 ms) caps each pod at 200 requests per
/// second; 6 pods at 1500/s are at 125 % load on the local region's 3 pods, so requests queue
/// and latency grows well beyond the 5 ms service time.
#[test]
fn pod_concurrency_limit_queues_requests() {
    let tail = "[[workload]]\nproxy = \"client\"\nrate = 700\n";
    let base = scenario("sidecar", "a", OD, tail);
    let unlimited = run(&parse(&base).unwrap(), 1);
    let limited = run(&parse(&base.replace("service_time =", "max_concurrency = 1\nservice_time =")).unwrap(), 1);
    let p50 = |r: &meshsim::metrics::report::RunReport| r.phases[0].p50_ms.unwrap();
    // Unlimited: 5 ms service + 2 × 0.2 ms same-zone trips, within the histogram's 6.25 %.
    assert!((p50(&unlimited) - 5.4).abs() < 0.4, "{}", p50(&unlimited));
    // 700/s over 3 local pods = 233/s each against a capacity of 200/s: an overloaded queue.
    assert!(p50(&limited) > 50.0, "{}", p50(&limited));
}

/// False ejections: with consecutive5xxErrors 1, a 2 % background 503 rate on `b` (a
/// `phase = false` fault, i.e. noise, not the failure under study) gets `b`'s healthy pods
/// ejected, and each of those counts as false; the pods of `a`, which answer 503 for real from
/// 10 s, are ejected too, and those do not count.
#[test]
fn ejections_of_pods_with_only_background_noise_are_false() {
    let tp = r#"outlierDetection = { consecutive5xxErrors = 1, interval = "1s", baseEjectionTime = "5s", maxEjectionPercent = 100 }
loadBalancer = { localityLbSetting = { enabled = false } }"#;
    let tail = "[[workload]]\nproxy = \"client\"\nrate = 600\n[[faults]]\nat = \"0s\"\naction = \"http-error\"\ncluster = \"b\"\nstatus = 503\nprobability = 0.02\nphase = false\n[[faults]]\nat = \"10s\"\naction = \"http-error\"\ncluster = \"a\"\nstatus = 503\n";
    let r = run(&parse(&scenario("sidecar", "a", tp, tail)).unwrap(), 1);
    let b_ejections = r.phases.iter().map(|p| p.max_ejected_endpoints).max().unwrap();
    assert!(b_ejections > 0);
    assert!(r.false_ejections > 0, "noise on b ejects healthy pods");
    assert!(r.false_ejections < r.ejections, "a's real failure ejections are not false");
}

/// Split mode (`splitExternalLocalOriginErrors`): connection refusals count only toward the
/// local-origin detector, so a refusing pod is ejected as `consecutive_local_origin_failure`
/// after 3 of them, while the 5xx counter (threshold 1 here) never sees them; every request that
/// gets a connection reports a connect success, which resets the local-origin counter, so a
/// healthy pod is never ejected for local origin. Counted per client replica: 2 ejections at once.
#[test]
fn split_mode_ejects_refusing_pods_for_local_origin_failures() {
    let tp = r#"outlierDetection = { consecutive5xxErrors = 1, splitExternalLocalOriginErrors = true, consecutiveLocalOriginFailures = 3, interval = "1s", baseEjectionTime = "60s", maxEjectionPercent = 100 }"#;
    let tail = "[[workload]]\nproxy = \"client\"\nrate = 600\n[[faults]]\nat = \"10s\"\naction = \"refuse\"\ncluster = \"a\"\npods = [0]\n";
    let s = parse(&scenario("sidecar", "a", tp, tail)).unwrap();
    let out = meshsim::model::run(std::sync::Arc::new(s), 1).unwrap();
    let reasons: Vec<&str> = out
        .world
        .rec
        .log
        .iter()
        .filter_map(|e| match e.kind {
            meshsim::metrics::recorder::LogKind::Eject { kind, .. } => Some(kind.stat_name()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, ["consecutive_local_origin_failure"; 2], "one per client replica");
}

/// Issue 13 item 8: `output.bucket` below 100 ms (or not a whole number of 100 ms) gives rows of
/// that width, whose counts add up to the 1 s rows of the same run; a bucket that is not a whole
/// number of milliseconds is refused.
#[test]
fn buckets_down_to_one_ms_are_real() {
    let one_s = crate::util::run(&crate::util::load("seed-failover-503.toml", &["duration=\"3s\""]), 1);
    for (bucket, width_s) in [("\"10ms\"", 0.01_f64), ("\"1ms\"", 0.001), ("\"150ms\"", 0.15), ("\"250ms\"", 0.25)] {
        let set = format!("output.bucket={bucket}");
        let r = crate::util::run(&crate::util::load("seed-failover-503.toml", &["duration=\"3s\"", &set]), 1);
        let n = (3.0 / width_s).ceil() as usize;
        assert_eq!(r.client_rows.len(), n, "{bucket}");
        assert_eq!(r.client_rows[1].time_s, width_s, "{bucket}");
        assert_eq!(r.locality_rows.len(), 2 * n, "{bucket}");
        let total: u64 = r.client_rows.iter().map(|x| x.requests).sum();
        assert_eq!(total, one_s.requests, "{bucket}");
        // Rows that tile one second add up to that second's row.
        if (1.0 / width_s).fract() == 0.0 {
            let per_s = (1.0 / width_s) as usize;
            for (sec, row) in one_s.client_rows.iter().enumerate() {
                let fine = &r.client_rows[sec * per_s..(sec + 1) * per_s];
                assert_eq!(fine.iter().map(|x| x.requests).sum::<u64>(), row.requests, "{bucket} second {sec}");
                assert_eq!(fine.iter().map(|x| x.success).sum::<u64>(), row.success, "{bucket} second {sec}");
                let att = |rows: &[meshsim::metrics::report::LocalityRow]| rows.iter().map(|x| x.attempts).sum::<u64>();
                assert_eq!(
                    att(&r.locality_rows[2 * sec * per_s..2 * (sec + 1) * per_s]),
                    att(&one_s.locality_rows[2 * sec..2 * sec + 2])
                );
            }
        }
        // Every bucket with finished requests has its own latency quantiles.
        assert!(r.client_rows.iter().all(|x| (x.success + x.errors > 0) == x.p50_ms.is_some()), "{bucket}");
        // Failover, fail-back and phases are timed in 100 ms slots whatever the bucket.
        assert_eq!(r.phases[0].requests, one_s.phases[0].requests);
    }
    for bad in ["\"1500us\"", "\"100500us\"", "\"999us\""] {
        let e = meshsim::scenario::load(
            &crate::util::root().join("scenarios/seed-failover-503.toml"),
            &[format!("output.bucket={bad}")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("output.bucket"), "{e}");
    }
}

/// Issue 13 item 8: `output.log_interval_ticks` logs each interval tick (the timer armed at 0 s,
/// a 10 s interval, a 45 s run: ticks at 10, 20, 30 and 40 s, the pod ejected at 1.407 s still
/// out after the first three and back at the fourth); off by default.
#[test]
fn interval_ticks_are_logged_on_request() {
    use meshsim::metrics::recorder::LogKind;
    let ticks = |sets: &[&str]| -> Vec<(u64, u32, u32)> {
        let s = crate::util::load("ejection-ends-on-tick.toml", sets);
        let out = meshsim::model::run(std::sync::Arc::new(s), 1).unwrap();
        out.world
            .rec
            .log
            .iter()
            .filter_map(|e| match e.kind {
                LogKind::IntervalTick { ejected, hosts, .. } => {
                    Some((e.time.as_nanos() / 1_000_000_000, ejected, hosts))
                }
                _ => None,
            })
            .collect()
    };
    assert!(ticks(&[]).is_empty());
    let t = ticks(&["output.log_interval_ticks=true"]);
    assert_eq!(t.iter().map(|x| x.0).collect::<Vec<_>>(), [10, 20, 30, 40]);
    assert_eq!(t.iter().map(|x| x.1).collect::<Vec<_>>(), [1, 1, 1, 0]);
}
