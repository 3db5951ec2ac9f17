//! Slow start (`warmup`) end to end: how a fail-back after a scale-up ramps, and when it does
//! not. Numbers derived by hand in each test's doc from `envoy::lb::slow_start`'s rules.

use crate::util::{parse, run};

/// A: 3 pods near the clients, B: 3 pods in another region; A scaled to 0 at 90 s and back to 3
/// at 120 s; pods ready 5 s after they start. `lb` is the `loadBalancer` table body,
/// `od` an optional `outlierDetection` line.
fn lab(lb: &str, od: &str) -> String {
    format!(
        r#"
name = "t"
duration = "200s"
[[clusters]]
name = "a"
region = "r1"
zone = "r1-a"
[[clusters]]
name = "b"
region = "r2"
zone = "r2-a"
[network]
cross_region = "5ms"
[service]
host = "svc.default.svc.cluster.local"
readiness_delay = "5s"
service_time = {{ distribution = "constant", mean = "4ms" }}
[[service.deployments]]
cluster = "a"
replicas = 3
[[service.deployments]]
cluster = "b"
replicas = 3
[[proxies]]
name = "client"
kind = "sidecar"
cluster = "a"
replicas = 2
[[workload]]
proxy = "client"
rate = 1000
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
[policy.destination_rule.trafficPolicy]
loadBalancer = {{ {lb} }}
{od}
[[faults]]
at = "90s"
action = "scale"
cluster = "a"
replicas = 0
[[faults]]
at = "120s"
action = "scale"
cluster = "a"
replicas = 3
"#
    )
}

fn failback(text: &str) -> f64 {
    let r = run(&parse(text).unwrap(), 1);
    r.transitions.iter().find(|t| t.kind == "failback").and_then(|t| t.time_s).expect("a fail-back")
}

/// One flat host set (`localityLbSetting.enabled: false`), ROUND_ROBIN: the 3 new pods of A,
/// stamped when the push after their readiness reaches the clients (125.1 s), weigh
/// f = max(t / 60 s, 0.1) against B's 3 old pods, so A's share is 3f / (3f + 3) = f / (1 + f).
/// Fail-back (within 10 % of the first phase's 50 %) needs f / (1 + f) ≥ 0.4, i.e. f ≥ 2/3: 40 s
/// into the window, 45.1 s after the scale-up (±0.5 s, the measure's accuracy). Without warmup
/// (a 1 ms window) A is back at the push after readiness: 5.1 s.
#[test]
fn warmup_slows_fail_back_in_one_host_set() {
    let flat = r#"simple = "ROUND_ROBIN", localityLbSetting = { enabled = false }"#;
    let t = failback(&lab(&format!(r#"{flat}, warmup = {{ duration = "60s" }}"#), ""));
    assert!((44.6..=45.7).contains(&t), "{t}");
    let t = failback(&lab(&format!(r#"{flat}, warmup = {{ duration = "1ms" }}"#), ""));
    assert!((4.6..=5.7).contains(&t), "{t}");
}

/// The same with aggression 2: f = √(t / 60 s), f ≥ 2/3 at t = 60 × 4/9 = 26.7 s: fail-back
/// 31.8 s after the scale-up. A 50 % floor (`minimumPercent: 50`) gives f ≥ 1/2 from the first
/// moment, A's share 1/3: fail-back needs t / 60 ≥ 2/3 all the same (45.1 s).
#[test]
fn aggression_and_floor_shape_the_ramp() {
    let flat = r#"simple = "ROUND_ROBIN", localityLbSetting = { enabled = false }"#;
    let t = failback(&lab(&format!(r#"{flat}, warmup = {{ duration = "60s", aggression = 2.0 }}"#), ""));
    assert!((31.3..=32.4).contains(&t), "{t}");
    let t = failback(&lab(&format!(r#"{flat}, warmup = {{ duration = "60s", minimumPercent = 50.0 }}"#), ""));
    assert!((44.6..=45.7).contains(&t), "{t}");
}

/// With outlierDetection, A is P0 and B P1 for these clients: the new pods make P0 fully
/// healthy at once and P0 takes 100 % of the load again, warmup or not (priority load follows
/// health, not weights): fail-back 5.1 s either way. The same holds for the older
/// `warmupDurationSecs`.
#[test]
fn warmup_does_not_slow_fail_back_between_priorities() {
    let od = r#"outlierDetection = { consecutive5xxErrors = 5, interval = "1s" }"#;
    for lb in [r#"simple = "ROUND_ROBIN", warmup = { duration = "60s" }"#, r#"warmupDurationSecs = "60s""#] {
        let t = failback(&lab(lb, od));
        assert!((4.6..=5.7).contains(&t), "{lb}: {t}");
    }
}

/// `warmup` needs Istio 1.24 (`warmupDurationSecs` 1.14): an older release would drop it, so
/// meshsim refuses it, naming the field and the release.
#[test]
fn warmup_needs_istio_1_24() {
    let text = lab(r#"warmup = { duration = "60s" }"#, "")
        .replace("[[clusters]]\nname = \"a\"", "[mesh]\nistio_version = \"1.22\"\n[[clusters]]\nname = \"a\"");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("policy.destination_rule.trafficPolicy.loadBalancer.warmup") && e.contains("1.24"), "{e}");
    let text = lab(r#"warmupDurationSecs = "60s""#, "")
        .replace("[[clusters]]\nname = \"a\"", "[mesh]\nistio_version = \"1.22\"\n[[clusters]]\nname = \"a\"");
    assert!(parse(&text).is_ok());
}

/// Istio's validation of `warmup`: a duration is required and at least 1 ms, `minimumPercent`
/// is a percentage, `aggression` is positive.
#[test]
fn warmup_validation() {
    for (lb, field, what) in [
        (r#"warmup = { minimumPercent = 5.0 }"#, "warmup.duration", "required"),
        (r#"warmup = { duration = "0s" }"#, "warmup.duration", "1ms"),
        (r#"warmup = { duration = "60s", minimumPercent = 150.0 }"#, "warmup.minimumPercent", "percentage"),
        (r#"warmup = { duration = "60s", aggression = -0.1 }"#, "warmup.aggression", "greater than 0"),
    ] {
        let e = parse(&lab(lb, "")).unwrap_err().to_string();
        assert!(e.contains(field) && e.contains(what), "{lb}: {e}");
    }
}
