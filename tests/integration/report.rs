//! What a run reports, checked against numbers derived from the scenarios: the three measures of
//! a failover (left, settled, probes), the console naming error causes, the latency chart
//! agreeing with `summary.json`, ejected endpoints counted once each, panic per priority, and
//! east-west gateway hosts named as gateways.

use std::sync::Arc;

use meshsim::metrics::report::{RunReport, report};
use meshsim::model::RunOutput;

use crate::util;

fn run_text(text: &str) -> (RunOutput, RunReport) {
    let s = util::parse(text).unwrap_or_else(|e| panic!("{e}"));
    let out = meshsim::model::run(Arc::new(s), 1).unwrap();
    let r = report(&out.world, 1, out.events);
    (out, r)
}

fn run_catalogue(name: &str) -> (RunOutput, RunReport) {
    let s = util::load(name, &[]);
    let seed = s.seed;
    let out = meshsim::model::run(Arc::new(s), seed).unwrap();
    let r = report(&out.world, seed, out.events);
    (out, r)
}

/// The issue's three-region case: europe-west1 has two zones; three sidecars in zone b send
/// 1200 requests/s, all to zone b's 4 pods while healthy (locality failover); zone b answers 503
/// from 30 s. Each sidecar sends each pod 100 requests/s, so 5 consecutive 503s eject a pod
/// within ~50 ms: traffic leaves zone b in the first or second 100 ms slot, for zone c. The
/// ejections last 30 s and end at the next 1 s interval tick, between 60 s and 61.1 s: 3
/// sidecars x 4 pods = 12 un-ejections while zone b still fails, each re-ejected after 5 more
/// 503s, i.e. 60 probe attempts plus the few already in flight.
fn three_regions(recovery: &str) -> String {
    format!(
        r#"
name = "three-regions"
description = "Three regions, two zones in europe-west1: zone b answers 503"
duration = "{duration}"

[[clusters]]
name = "eu-b"
region = "europe-west1"
zone = "europe-west1-b"

[[clusters]]
name = "eu-c"
region = "europe-west1"
zone = "europe-west1-c"

[[clusters]]
name = "us"
region = "us-central1"
zone = "us-central1-a"

[service]
host = "backend.default.svc.cluster.local"
service_time = {{ distribution = "lognormal", median = "4ms", sigma = 0.5 }}

[[service.deployments]]
cluster = "eu-b"
replicas = 4

[[service.deployments]]
cluster = "eu-c"
replicas = 4

[[service.deployments]]
cluster = "us"
replicas = 4

[policy.destination_rule]
host = "backend.default.svc.cluster.local"

[policy.destination_rule.trafficPolicy.outlierDetection]
consecutive5xxErrors = 5
interval = "1s"
baseEjectionTime = "30s"
maxEjectionPercent = 100

[[proxies]]
name = "frontend"
kind = "sidecar"
cluster = "eu-b"
replicas = 3

[[workload]]
proxy = "frontend"
rate = 1200

[[faults]]
at = "30s"
action = "http-error"
cluster = "eu-b"
status = 503
name = "zone b answers 503"
{recovery}
"#,
        duration = "80s",
    )
}

#[test]
fn failover_reports_when_traffic_left_when_it_settled_and_the_probes() {
    let (_, r) = run_text(&three_regions(""));
    let t = &r.transitions[0];
    assert_eq!(t.kind, "failover");
    let f = t.failover.as_ref().expect("a failover has its details");
    let left = f.left_s.expect("traffic left");
    assert!(left <= 0.2, "left {left}");
    // The probes at ~60 s do not restart the clock (before the fix: "failover took 30.5 s").
    assert_eq!(t.time_s, Some(left), "settled when it left");
    assert_eq!((r.failover_s, r.failover_left_s), (Some(left), Some(left)));
    assert_eq!(f.probes, 12, "3 sidecars x 4 pods: {f:?}");
    assert_eq!(f.probe_times_s.len(), 12);
    assert!(f.probe_times_s.iter().all(|t| (60.0..61.2).contains(t)), "{:?}", f.probe_times_s);
    assert!((60..=90).contains(&f.probe_attempts), "{}", f.probe_attempts);
    // The errors until it settled are the 503s of the first ejections: 3 sidecars x 4 pods x 5,
    // plus those in flight, all upstream 5xx.
    assert!((60..=80).contains(&t.errors), "{}", t.errors);
    assert_eq!(t.errors, t.errors_by_cause.upstream_5xx);
}

#[test]
fn traffic_that_really_returns_after_an_unejection_is_not_a_probe() {
    // Zone b recovers at 45 s without opening a phase (`phase = false`), so the failover is
    // measured to the end of the run: the pods returned at ~60 s answer and keep their traffic.
    // That is not a probe (the share stays up after its second): the failover never settled.
    let recover =
        "[[faults]]\nat = \"45s\"\naction = \"recover\"\ncluster = \"eu-b\"\nphase = false\nname = \"quietly\"\n";
    let (_, r) = run_text(&three_regions(recover));
    let t = &r.transitions[0];
    let f = t.failover.as_ref().unwrap();
    assert!(f.left_s.is_some_and(|l| l <= 0.2), "{f:?}");
    assert_eq!(t.time_s, None, "traffic came back for good: {t:?}");
}

#[test]
fn a_failover_expectation_bounds_the_settled_time_or_when_traffic_left() {
    let expect = r#"
[[expect]]
name = "left within 0.2s"
kind = "failover"
measure = "left"
within = "200ms"

[[expect]]
name = "settled within 0.2s"
kind = "failover"
within = "200ms"
"#;
    let mut text = three_regions("");
    text.push_str(expect);
    let (out, r) = run_text(&text);
    let v = meshsim::check::evaluate(&out.world, &r);
    assert!(v.iter().all(|v| v.passed), "{v:#?}");
    assert!(v[0].measured.contains("traffic left in 0."), "{}", v[0].measured);
    assert!(v[1].measured.contains("failover settled in 0."), "{}", v[1].measured);
    // With the return for good, "left" still passes and "settled" fails.
    let mut text = three_regions(
        "[[faults]]\nat = \"45s\"\naction = \"recover\"\ncluster = \"eu-b\"\nphase = false\nname = \"q\"\n",
    );
    text.push_str(expect);
    let (out, r) = run_text(&text);
    let v = meshsim::check::evaluate(&out.world, &r);
    assert_eq!(v.iter().map(|v| v.passed).collect::<Vec<_>>(), [true, false], "{v:#?}");
    assert!(v[1].measured.contains("did not settle"), "{}", v[1].measured);
}

#[test]
fn measure_is_checked_like_every_field() {
    let base = three_regions("");
    let err = |expect: &str| match util::parse(&format!("{base}{expect}")) {
        Err(meshsim::scenario::ScenarioError::Field { path, message, .. }) => (path, message),
        other => panic!("expected a field error, got {other:?}"),
    };
    let (p, m) = err("[[expect]]\nname = \"x\"\nkind = \"failover\"\nmeasure = \"soon\"\nwithin = \"1s\"\n");
    assert_eq!(p, "expect[0].measure");
    assert!(m.contains("\"settled\", \"left\""), "{m}");
    let (p, m) = err("[[expect]]\nname = \"x\"\nkind = \"share\"\nlocality = \"us\"\nmin = 0.0\nmeasure = \"left\"\n");
    assert_eq!(p, "expect[0].measure");
    assert!(m.contains("does not apply"), "{m}");
}

#[test]
fn the_console_names_the_error_causes() {
    // Scale-to-zero: nothing fails upstream, but the gateway's 100 requests in flight overflow
    // while the whole load crosses the ocean: the errors are overflow 503s, and the console says so.
    let (_, r) = run_catalogue("seed-failover.toml");
    let text = meshsim::output::terminal_summary(&r);
    let phase = &r.phases[1];
    assert!(phase.errors_by_cause.overflow > 0 && phase.errors_by_cause.upstream_5xx == 0, "{phase:?}");
    let row = text.lines().find(|l| l.starts_with(&phase.name)).unwrap();
    assert!(row.contains(&format!("{} overflow", phase.errors_by_cause.overflow)), "{row}");
    let failover = text.lines().find(|l| l.starts_with("failover")).unwrap();
    assert!(failover.contains("no client errors until then"), "{failover}");
    assert!(!text.contains("0 client errors"), "{text}");
    // The locality columns keep the zones apart (`europe-west1/eu~` twice before).
    let header = text.lines().nth(1).unwrap();
    assert!(header.contains("europe-west1-b") && header.contains("us-central1-a"), "{header}");
}

#[test]
fn the_console_keeps_two_zones_of_one_region_apart() {
    let (_, r) = run_text(&three_regions(""));
    let text = meshsim::output::terminal_summary(&r);
    let header = text.lines().nth(1).unwrap();
    assert!(header.contains("europe-west1-b") && header.contains("europe-west1-c"), "{header}");
    let probes = text.lines().find(|l| l.starts_with("failover")).unwrap();
    assert!(probes.contains("12 probes after un-ejections"), "{probes}");
}

#[test]
fn the_latency_chart_agrees_with_the_summary() {
    let (_, r) = run_catalogue("seed-failover.toml");
    let chart = meshsim::output::latency_chart(&r);
    assert_eq!(chart.series.len(), r.phases.len());
    for (c, p) in chart.series.iter().zip(&r.phases) {
        // Finished requests of the phase (1 s buckets, phases on whole seconds), not sampled points.
        let b = |t: f64| (t as usize)..(t as usize);
        let finished: u64 =
            r.client_rows[b(p.start_s).start..b(p.end_s).end].iter().map(|row| row.success + row.errors).sum();
        assert_eq!(c.requests, finished, "{}", p.name);
        assert_eq!((c.p50_ms, c.p99_ms), (p.p50_ms, p.p99_ms), "{}", p.name);
        // The curve reaches 99 % exactly at the p99 the summary reports (to the µs it rounds to).
        let at99 = c.points.iter().find(|(_, f)| *f >= 0.99).unwrap().0;
        assert!((at99 - p.p99_ms.unwrap()).abs() < 0.001, "{} {at99} vs {:?}", p.name, p.p99_ms);
        // The axis is fitted to requests answered upstream (> 1 ms here), not to the local
        // replies (overflow, answered in no time), which the legend counts.
        assert!(c.fit_from_ms.unwrap() > 0.5, "{:?}", c.fit_from_ms);
        let local = p.errors_by_cause.overflow;
        if local > 0 {
            assert!(c.note.contains(&format!("{local} local replies (overflow)")), "{}", c.note);
            assert!(c.points[0].0 < 0.01, "the local replies are in the curve, at ~0 ms");
        } else {
            assert!(c.note.is_empty(), "{}", c.note);
        }
    }
}

#[test]
fn ejected_endpoints_count_each_endpoint_once() {
    // One bad pod behind a 4-replica gateway: every replica ejects it within moments of 20 s, and
    // each ejection lasts 30 s at least. At 30 s: one endpoint, ejected by 4 proxies.
    let (out, r) = run_catalogue("gateway-replicas.toml");
    let p = &r.phases[1];
    assert_eq!((p.max_ejected_endpoints, p.max_ejected_pairs), (1, 4));
    assert_eq!(r.ejected_by[30], vec![0, 0, 0, 1]);
    let chart = meshsim::output::run_chart(&r, &out.world);
    let layer = chart.ejected.iter().find(|(name, _)| name == "by 4 of 4 proxies").expect("a layer per count");
    assert_eq!(layer.1[30], 1.0);
    let total_at_30: f64 = chart.ejected.iter().map(|(_, v)| v[30]).sum();
    assert_eq!(total_at_30, 1.0, "one endpoint, however many proxies eject it");
}

#[test]
fn the_run_chart_marks_the_transitions_and_takes_the_description_as_title() {
    let (out, r) = run_catalogue("seed-failover-503.toml");
    let chart = meshsim::output::run_chart(&r, &out.world);
    assert_eq!(chart.title, out.world.scenario.description);
    assert!(chart.subtitle.contains("seed-failover-503"), "{}", chart.subtitle);
    // Failover at 30 s (left and settled together), fail-back at 90 s + its time.
    let fb = r.transitions.iter().find(|t| t.kind == "failback").unwrap();
    let want = [30.0 + r.failover_s.unwrap(), 90.0 + fb.time_s.unwrap()];
    let got: Vec<f64> = chart.marks.iter().map(|m| m.t_s).collect();
    assert_eq!(got, want, "{:?}", chart.marks);
    assert!(chart.marks[1].label.starts_with("failed back"), "{:?}", chart.marks);
    // Failed upstream attempts beside the client errors: the 503s are both (no retry of 503).
    let sum =
        |v: &[(String, Vec<f64>)], name: &str| -> f64 { v.iter().find(|(n, _)| n == name).unwrap().1.iter().sum() };
    assert!(sum(&chart.failed_attempts, "upstream 5xx") >= sum(&chart.error_series, "upstream 5xx"));
    assert!(sum(&chart.failed_attempts, "upstream 5xx") > 0.0);
}

#[test]
fn retries_show_as_failed_attempts_beside_few_client_errors() {
    // A fails 30 % of requests with 503 and the route retries them: most failed attempts are
    // hidden from the clients.
    let (_, r) = run_catalogue("retries-hide-failing-region.toml");
    let failed: u64 = r.client_rows.iter().map(|c| c.attempts_5xx).sum();
    let seen: u64 = r.client_rows.iter().map(|c| c.upstream_5xx).sum();
    assert!(failed > 10 * seen.max(1), "failed attempts {failed}, client 5xx {seen}");
    let attempts: u64 = r.client_rows.iter().map(|c| c.attempts).sum();
    let from_rows: u64 = r.locality_rows.iter().map(|l| l.attempts).sum();
    assert_eq!(attempts, from_rows);
}

#[test]
fn panic_is_logged_and_drawn_per_priority() {
    // Both regions answer 503 from 60 s: every host is ejected, both priorities of the client
    // (its own region, the other) go into panic; before 60 s there is none.
    let (out, r) = run_catalogue("total-panic-min-health.toml");
    let events = meshsim::output::events_jsonl(&out.world);
    let first = events.lines().find(|l| l.contains("\"panic_on\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(first).unwrap();
    assert!(v["time_s"].as_f64().unwrap() >= 60.0, "{first}");
    assert!(!v["priorities"].as_array().unwrap().is_empty(), "{first}");
    let chart = meshsim::output::run_chart(&r, &out.world);
    let names: Vec<&str> = chart.panic.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["P0", "P1"]);
    for (_, v) in &chart.panic {
        assert!(v[..60].iter().all(|x| *x == 0.0));
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    }
    assert!(chart.panic.iter().any(|(_, v)| v[75] > 0.0));
}

#[test]
fn east_west_gateway_hosts_are_named_as_gateways() {
    // The sidecars in A reach B's pods through B's east-west gateway, one host named after the
    // gateway, never `cluster-b/0` like a pod.
    let (out, _) = run_catalogue("east-west-gateway-trap.toml");
    let records = meshsim::output::ejection_records(&out.world);
    let gw: Vec<_> = records.iter().filter(|e| e.endpoint_kind == "east-west gateway").collect();
    assert!(!gw.is_empty(), "{records:?}");
    assert!(gw.iter().all(|e| e.endpoint == "eastwest-cluster-b-0"), "{gw:?}");
    assert!(records.iter().filter(|e| e.endpoint_kind == "pod").all(|e| !e.endpoint.starts_with("eastwest")));
    let events = meshsim::output::events_jsonl(&out.world);
    assert!(events.contains("\"endpoint\":\"eastwest-cluster-b-0\""));
    assert!(!events.contains("\"endpoint\":\"cluster-b/0\",\"event\":\"eject\",\"locality\":\"us-central1"));
    let snap = meshsim::explain::snapshot(
        Arc::new(util::load("east-west-gateway-trap.toml", &[])),
        1,
        meshsim::engine::SimTime::from_secs(10),
    )
    .unwrap();
    let text = meshsim::explain::render(&snap, Some("frontend-0"));
    assert!(text.contains("eastwest-cluster-b-0"), "{text}");
}
