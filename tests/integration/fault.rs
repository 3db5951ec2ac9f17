//! VirtualService fault injection (issue 13 item 3), as Envoy's fault filter applies it
//! (`source/extensions/filters/http/fault/fault_filter.cc`), with cases ported from Envoy's
//! `test/extensions/filters/http/fault/fault_filter_test.cc` (named below) and Istio's
//! `TranslateFault` (`pilot/pkg/networking/core/route/route.go`).

use std::sync::Arc;

use meshsim::metrics::recorder::{ClientOutcome, LogKind};
use meshsim::metrics::report::RunReport;

use crate::util;

/// The small two-region scenario of `bin::BASE` (one sidecar, 2 s) with a VirtualService route
/// carrying `fault` (TOML inline table) and `extra` route keys, and scripted arrivals at `times`.
fn scenario(fault: &str, extra: &str, times: Option<&str>) -> meshsim::scenario::Scenario {
    let mut text = crate::bin::BASE.to_string();
    if let Some(t) = times {
        text = text.replace("rate = 100", &format!("times = {t}"));
    }
    text.push_str(&format!(
        "[policy.virtual_service]\nhosts = [\"svc.default.svc.cluster.local\"]\n[[policy.virtual_service.http]]\n\
         route = [{{ destination = {{ host = \"svc.default.svc.cluster.local\" }} }}]\nfault = {fault}\n{extra}\n\
         [policy.destination_rule]\nhost = \"svc\"\ntrafficPolicy = {{ outlierDetection = {{ consecutive5xxErrors = 1, \
         maxEjectionPercent = 100 }} }}\n"
    ));
    util::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn run(s: &meshsim::scenario::Scenario, seed: u64) -> (RunReport, meshsim::model::RunOutput) {
    let out = meshsim::model::run(Arc::new(s.clone()), seed).unwrap();
    (meshsim::metrics::report::report(&out.world, seed, out.events), out)
}

fn attempts(r: &RunReport) -> u64 {
    r.locality_rows.iter().map(|x| x.attempts).sum()
}

/// `AbortWithHttpStatus` (100 % abort, status 429): every request is answered by the proxy with
/// the status, nothing goes upstream, nothing is ejected or retried, and each is counted as
/// `fault_abort`.
#[test]
fn abort_answers_locally() {
    let s = scenario(
        "{ abort = { httpStatus = 429, percentage = { value = 100.0 } } }",
        "retries = { attempts = 3, retryOn = \"5xx,retriable-4xx\" }",
        None,
    );
    let (r, out) = run(&s, 1);
    assert!(r.requests > 150, "{}", r.requests);
    assert_eq!(r.phases[0].errors_by_cause.fault_abort, r.requests - r.in_flight_at_end);
    assert_eq!(r.phases[0].errors, r.phases[0].errors_by_cause.fault_abort);
    assert_eq!((attempts(&r), r.ejections, r.phases[0].retries), (0, 0, 0));
    // A local reply takes no time.
    assert_eq!(r.phases[0].p99_ms, Some(0.0), "{:?}", r.phases[0].p99_ms);
    assert!(!out.world.rec.log.iter().any(|e| matches!(e.kind, LogKind::Eject { .. })));
}

/// `FixedDelayAndAbort`: a 5 s delay for every request, then an abort for every request: each is
/// answered 5 s after it arrived, still without going upstream. Scripted arrivals at 0.1 s and
/// 0.2 s; a 2 s run ends with both in flight, so the run is 6 s.
#[test]
fn delay_then_abort() {
    let mut s = scenario(
        "{ delay = { fixedDelay = \"5s\", percentage = { value = 100.0 } }, abort = { httpStatus = 503, percentage = { value = 100.0 } } }",
        "",
        Some("[\"100ms\", \"200ms\"]"),
    );
    s.duration = meshsim::engine::SimDuration::from_secs(6);
    let (r, _) = run(&s, 1);
    assert_eq!((r.requests, r.errors, attempts(&r)), (2, 2, 0));
    let done: Vec<(f64, u64)> =
        r.client_rows.iter().filter(|c| c.fault_abort > 0).map(|c| (c.time_s, c.fault_abort)).collect();
    assert_eq!(done, [(5.0, 2)], "both answered in the bucket of 5.1 s and 5.2 s");
    assert!(r.phases[0].p50_ms.is_some_and(|p| (4700.0..=5300.0).contains(&p)), "{:?}", r.phases[0].p50_ms);
}

/// `FixedDelayNonZeroDuration` with a route timeout shorter than the delay: the router's timer
/// starts only when the fault filter lets the request through, so a 2 s delay and a 1 s route
/// timeout still succeed (2 s + the service's ~5 ms).
#[test]
fn delay_does_not_count_against_the_route_timeout() {
    let s = scenario(
        "{ delay = { fixedDelay = \"2s\", percentage = { value = 100.0 } } }",
        "timeout = \"1s\"",
        Some("[\"100ms\"]"),
    );
    let mut s = s;
    s.duration = meshsim::engine::SimDuration::from_secs(4);
    let (r, _) = run(&s, 1);
    assert_eq!((r.requests, r.errors, attempts(&r)), (1, 0, 1));
    // The quantile is a histogram bucket's midpoint, within 6.25 % of the value.
    let p50 = r.phases[0].p50_ms.unwrap();
    assert!((1875.0..2200.0).contains(&p50), "{p50}");
}

/// Percentages are fractions of a million (`translatePercentToFractionalPercent`), drawn per
/// request: over 40 seeds of ~200 requests, 30 % aborts lands within 3 standard deviations of
/// 0.3 overall (sd = sqrt(0.3 x 0.7 / 8000) = 0.0051), and every seed's aborted requests never
/// reach a pod (attempts = finished requests - aborts).
#[test]
fn abort_percentage_is_a_per_request_draw() {
    let s = scenario("{ abort = { httpStatus = 503, percentage = { value = 30.0 } } }", "", None);
    let (mut aborted, mut finished) = (0u64, 0u64);
    for seed in 1..=40 {
        let (r, out) = run(&s, seed);
        let done = r.requests - r.in_flight_at_end;
        let a = r.phases[0].errors_by_cause.fault_abort;
        assert_eq!(attempts(&r), r.requests - a, "seed {seed}: attempts are the requests not aborted");
        assert_eq!(r.ejections, 0, "seed {seed}");
        let logged =
            out.world.rec.finished.chunks(1 + ClientOutcome::ERRORS.len()).map(|c| u64::from(c[6])).sum::<u64>();
        assert_eq!(logged, a, "fault_abort is the seventh outcome");
        aborted += a;
        finished += done;
    }
    let ratio = aborted as f64 / finished as f64;
    assert!((ratio - 0.3).abs() < 3.0 * 0.0052, "{ratio} over {finished}");
    let _ = ClientOutcome::FaultAbort;
}

/// Istio's `TranslateFault`: an abort without `percentage` becomes Envoy's empty fraction (0 %),
/// a delay without `percentage` uses the deprecated integer `percent` (of a hundred); both are
/// linted when they inject nothing.
#[test]
fn missing_percentages_inject_nothing_and_are_linted() {
    let s = scenario("{ abort = { httpStatus = 503 } }", "", None);
    let (r, _) = run(&s, 1);
    assert_eq!(r.errors, 0);
    let lints = meshsim::explain::lint_scenario(&s);
    assert!(lints.iter().any(|l| l.code == "fault-injects-nothing" && l.reason.contains("0 %")), "{lints:?}");
    let s = scenario("{ delay = { fixedDelay = \"1s\", percent = 100 } }", "", Some("[\"100ms\"]"));
    let (r, _) = run(&s, 1);
    assert!(r.phases[0].p50_ms.is_some_and(|p| p >= 1000.0 * 0.9375), "{:?}", r.phases[0].p50_ms);
    assert!(!meshsim::explain::lint_scenario(&s).iter().any(|l| l.code == "fault-injects-nothing"));
}

/// Istio's validation of `fault` (`validateHTTPFaultInjection`): each bad field is exit 2 naming it.
#[test]
fn bad_faults_are_refused_naming_the_field() {
    let cases = [
        ("{ }", "http[0].fault"),
        ("{ abort = { httpStatus = 700, percentage = { value = 1.0 } } }", "http[0].fault.abort.httpStatus"),
        ("{ abort = { httpStatus = 503, percentage = { value = 101.0 } } }", "http[0].fault.abort.percentage.value"),
        ("{ abort = { grpcStatus = \"NOPE\", percentage = { value = 1.0 } } }", "http[0].fault.abort.grpcStatus"),
        ("{ delay = { fixedDelay = \"500us\", percentage = { value = 1.0 } } }", "http[0].fault.delay.fixedDelay"),
        ("{ delay = { fixedDelay = \"1s\", percent = 200 } }", "http[0].fault.delay.percent"),
        ("{ delay = { exponentialDelay = \"1s\" } }", "exponentialDelay"),
    ];
    for (fault, path) in cases {
        let mut text = crate::bin::BASE.to_string();
        text.push_str(&format!(
            "[policy.virtual_service]\nhosts = [\"svc\"]\n[[policy.virtual_service.http]]\n\
             route = [{{ destination = {{ host = \"svc\" }} }}]\nfault = {fault}\n"
        ));
        let e = util::parse(&text).unwrap_err().to_string();
        assert!(e.contains(path), "{fault}: {e}");
    }
}

/// A `grpcStatus` abort answers a plain HTTP request with the status's HTTP equivalent
/// (`Grpc::Utility::grpcToHttpStatus`): UNAVAILABLE is 503.
#[test]
fn grpc_abort_maps_to_http() {
    use meshsim::istio::translate::{fault_injection, grpc_to_http_status};
    assert_eq!(grpc_to_http_status("UNAVAILABLE"), Some(503));
    assert_eq!(grpc_to_http_status("DEADLINE_EXCEEDED"), Some(504));
    let f: meshsim::istio::manifest::HttpFaultInjection =
        serde_json::from_str(r#"{"abort":{"grpcStatus":"UNAVAILABLE","percentage":{"value":12.5}}}"#).unwrap();
    let cfg = fault_injection(&f).unwrap();
    let a = cfg.abort.unwrap();
    assert_eq!((a.http_status, a.percentage.numerator, a.percentage.denominator), (503, 125_000, 1_000_000));
}
