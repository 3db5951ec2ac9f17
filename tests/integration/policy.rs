//! The traffic policy end to end (issue 3): retries and timeouts, connection pools and circuit
//! breakers, black holes, the statistical detectors, failoverPriority and trafficDistribution,
//! east-west gateways, and the version settings. Every expected number is derived in the comment
//! above its assertion, from envoy-semantics or by hand.
//!
//! The labs are small: cluster A (europe-west1, where the client runs) and cluster B
//! (us-central1), constant 2 ms service time, no network jitter. Most stop their workload one
//! second before the end so that every request has finished and counts are exact.

use std::sync::Arc;

use meshsim::metrics::recorder::{ClientOutcome, LogKind};
use meshsim::model::build::RunOutput;
use meshsim::scenario::Scenario;

use crate::util;

/// A lab scenario; each field is TOML spliced into the template.
struct Lab {
    duration: &'static str,
    mesh: String,
    network_b: &'static str,
    service: String,
    a: u32,
    b: u32,
    labels_a: &'static str,
    labels_b: &'static str,
    proxy: String,
    rate: u32,
    /// Stop the workload at this time (default: 1 s before the end).
    stop: Option<String>,
    rest: String,
}

impl Default for Lab {
    fn default() -> Self {
        Lab {
            duration: "10s",
            mesh: String::new(),
            network_b: "",
            service: String::new(),
            a: 3,
            b: 3,
            labels_a: "",
            labels_b: "",
            proxy: String::new(),
            rate: 200,
            stop: None,
            rest: String::new(),
        }
    }
}

const HOST: &str = "svc.default.svc.cluster.local";

impl Lab {
    fn toml(&self) -> String {
        let secs: u64 = self.duration.trim_end_matches('s').parse().unwrap();
        let stop = self.stop.clone().unwrap_or(format!("{}s", secs - 1));
        format!(
            r#"
name = "lab"
duration = "{duration}"
seed = 1

[mesh]
{mesh}

[[clusters]]
name = "cluster-a"
region = "europe-west1"
zone = "europe-west1-b"

[[clusters]]
name = "cluster-b"
region = "us-central1"
zone = "us-central1-a"
{network_b}

[network]
same_zone = "250us"
same_region = "1ms"
cross_region = "50ms"
jitter = 0.0

[service]
host = "{HOST}"
service_time = {{ distribution = "constant", mean = "2ms" }}
readiness_delay = "5s"
{service}

[[service.deployments]]
cluster = "cluster-a"
replicas = {a}
{labels_a}

[[service.deployments]]
cluster = "cluster-b"
replicas = {b}
{labels_b}

[[proxies]]
name = "client"
kind = "sidecar"
cluster = "cluster-a"
{proxy}

[[workload]]
proxy = "client"
rate = {rate}
rate_changes = [{{ at = "{stop}", rate = 0 }}]

{rest}
"#,
            duration = self.duration,
            mesh = self.mesh,
            network_b = self.network_b,
            service = self.service,
            a = self.a,
            b = self.b,
            labels_a = self.labels_a,
            labels_b = self.labels_b,
            proxy = self.proxy,
            rate = self.rate,
            rest = self.rest,
        )
    }

    fn scenario(&self) -> Scenario {
        util::parse(&self.toml()).unwrap_or_else(|e| panic!("{e}\n{}", self.toml()))
    }

    fn run(&self) -> RunOutput {
        meshsim::model::run(Arc::new(self.scenario()), 1).expect("run")
    }
}

/// A DestinationRule with this `trafficPolicy` body (TOML lines under it).
fn dr(body: &str) -> String {
    format!("[policy.destination_rule]\nhost = \"{HOST}\"\n[policy.destination_rule.trafficPolicy]\n{body}\n")
}

/// A VirtualService whose single route has this `retries` table (empty: none) and extra keys.
fn vs(retries: &str, route_keys: &str) -> String {
    let retries = if retries.is_empty() { String::new() } else { format!("retries = {{ {retries} }}\n") };
    format!(
        "[policy.virtual_service]\nhosts = [\"{HOST}\"]\n[[policy.virtual_service.http]]\n{retries}{route_keys}\nroute = [{{ destination = {{ host = \"{HOST}\" }} }}]\n"
    )
}

fn fault(at: &str, action: &str, cluster: &str, extra: &str) -> String {
    format!("[[faults]]\nat = \"{at}\"\naction = \"{action}\"\ncluster = \"{cluster}\"\n{extra}\n")
}

/// Attempts sent to A and to B over the whole run.
fn attempts(out: &RunOutput) -> [u64; 2] {
    let rec = &out.world.rec;
    let l = rec.n_localities();
    let mut per = [0u64; 2];
    for (i, n) in rec.loc_attempts.iter().enumerate() {
        per[i % l] += u64::from(*n);
    }
    per
}

/// Client requests finished with `o`.
fn finished(out: &RunOutput, o: ClientOutcome) -> u64 {
    let rec = &out.world.rec;
    (0..rec.n_slots()).map(|s| u64::from(rec.finished_in(s, o))).sum()
}

fn all_finished(out: &RunOutput) -> u64 {
    [ClientOutcome::Success].iter().chain(ClientOutcome::ERRORS.iter()).map(|o| finished(out, *o)).sum()
}

fn requests(out: &RunOutput) -> u64 {
    out.world.rec.requests.iter().map(|x| u64::from(*x)).sum()
}

fn retries(out: &RunOutput) -> u64 {
    out.world.rec.retries.iter().map(|x| u64::from(*x)).sum()
}

/// `(proxy name, endpoint, reason)` of every ejection.
fn ejections(out: &RunOutput) -> Vec<(String, u32, &'static str)> {
    out.world
        .rec
        .log
        .iter()
        .filter_map(|e| match e.kind {
            LogKind::Eject { proxy, endpoint, kind, .. } => {
                Some((out.world.proxies[proxy.idx()].name.clone(), endpoint.0, kind.stat_name()))
            }
            _ => None,
        })
        .collect()
}

fn eject_overflows(out: &RunOutput) -> Vec<&'static str> {
    out.world
        .rec
        .log
        .iter()
        .filter_map(|e| match e.kind {
            LogKind::EjectOverflow { kind, .. } => Some(kind.stat_name()),
            _ => None,
        })
        .collect()
}

fn share_b(r: &meshsim::metrics::report::RunReport, phase: usize) -> f64 {
    util::phase_share(r, phase, "us-central1")
}

// ---------------------------------------------------------------------------------------------
// Retries

/// Outlier detection is on (so A is P0 with 100 % of the load for a client in A) but can never
/// eject: 6 hosts, default maxEjectionPercent 10, and 100·1/6 = 16.7 > 10 (§1.4). A answers 503;
/// the route retries twice on 5xx. A retry re-runs priority selection with the same load
/// (§0 rule 14), so all three attempts of every request land in A and every request fails:
/// attempts(A) = 3 × requests, attempts(B) = 0, retries = 2 × requests.
#[test]
fn a_retry_stays_in_p0_while_p0_has_all_the_load() {
    let lab = Lab {
        rest: dr("outlierDetection = { consecutive5xxErrors = 5 }")
            + &vs("attempts = 2, retryOn = \"5xx\"", "")
            + &fault("0s", "http-error", "cluster-a", "status = 503"),
        ..Lab::default()
    };
    let out = lab.run();
    let n = requests(&out);
    assert!(n > 1500, "{n}");
    assert_eq!(all_finished(&out), n);
    assert_eq!(attempts(&out), [3 * n, 0]);
    assert_eq!(retries(&out), 2 * n);
    assert_eq!(finished(&out, ClientOutcome::Upstream5xx), n);
    assert!(ejections(&out).is_empty());
    assert!(!eject_overflows(&out).is_empty(), "detections are refused by max-ejection-percent");
}

/// The same with `retryRemoteLocalities: true` (previous_priorities, update frequency 2, §4.6):
/// attempt 1 and attempt 2 see the original load (fewer than 2 hosts attempted before attempt 2),
/// so both go to A; after two attempted hosts P0 is excluded and the third attempt goes to B,
/// which answers 200. attempts(A) = 2n, attempts(B) = n, every request succeeds.
#[test]
fn retry_remote_localities_leaves_p0_on_the_third_attempt() {
    let lab = Lab {
        rest: dr("outlierDetection = { consecutive5xxErrors = 5 }")
            + &vs("attempts = 2, retryOn = \"5xx\", retryRemoteLocalities = true", "")
            + &fault("0s", "http-error", "cluster-a", "status = 503"),
        ..Lab::default()
    };
    let out = lab.run();
    let n = requests(&out);
    assert_eq!(attempts(&out), [2 * n, n]);
    assert_eq!(finished(&out, ClientOutcome::Success), n);
}

/// Istio's default policy (no VirtualService): 2 retries on connect-failure, and since 1.24 no
/// retriable status codes (§5.8). One pod answering 503: no retries, n errors. Under
/// `istio_version = "1.23"` 503 is retriable: 2n retries, still n errors (the only pod is
/// tried three times; previous_hosts accepts the last of 6 draws, §4.5).
#[test]
fn default_retry_policy_retries_503_only_up_to_istio_1_23() {
    let base = |mesh: &str| Lab {
        a: 1,
        b: 0,
        mesh: mesh.into(),
        rest: fault("0s", "http-error", "cluster-a", "status = 503"),
        ..Lab::default()
    };
    let now = base("").run();
    let n = requests(&now);
    assert_eq!(retries(&now), 0);
    assert_eq!(finished(&now, ClientOutcome::Upstream5xx), n);
    let old = base("istio_version = \"1.23\"").run();
    let n = requests(&old);
    assert_eq!(retries(&old), 2 * n);
    assert_eq!(attempts(&old)[0], 3 * n);
    assert_eq!(finished(&old, ClientOutcome::Upstream5xx), n);
}

/// A refusing pod: each attempt fails after a round trip, is fed to outlier detection, and is
/// retried under the default `connect-failure`: 3 attempts per request, all connect failures.
#[test]
fn refused_connections_are_retried_by_the_default_policy() {
    let lab = Lab { a: 1, b: 0, rest: fault("0s", "refuse", "cluster-a", ""), ..Lab::default() };
    let out = lab.run();
    let n = requests(&out);
    assert_eq!(attempts(&out)[0], 3 * n);
    assert_eq!(finished(&out, ClientOutcome::ConnectFailure), n);
    // Round trip 2 × 250 µs per attempt, plus back-off: every request ends in under 0.4 s
    // (windows [0, 25) and [0, 50) ms).
    let r = util::run(&lab.scenario(), 1);
    assert!(r.client_rows.iter().filter_map(|c| c.p99_ms).all(|p| p < 80.0));
}

/// `retryOn` with status codes (§5.8): "503" becomes retriable-status-codes [503]; "502" does
/// not match a 503.
#[test]
fn retry_on_status_codes() {
    let lab = |on: &str| Lab {
        a: 1,
        b: 0,
        rest: vs(&format!("attempts = 1, retryOn = \"{on}\""), "")
            + &fault("0s", "http-error", "cluster-a", "status = 503"),
        ..Lab::default()
    };
    let out = lab("503").run();
    assert_eq!(retries(&out), requests(&out));
    let out = lab("502").run();
    assert_eq!(retries(&out), 0);
}

/// `retryIgnorePreviousHosts: false` drops the previous_hosts predicate. Two pods under RANDOM,
/// pod 0 answers 503, one retry on 5xx. With the predicate a retry after pod 0 lands on pod 0
/// again only if all 6 draws pick it: a request fails with probability ½ · (½)^6 = 0.78 %.
/// Without it: ½ · ½ = 25 %.
#[test]
fn retry_ignore_previous_hosts() {
    let lab = |keep: bool| Lab {
        a: 2,
        b: 0,
        rate: 1000,
        rest: dr("loadBalancer = { simple = \"RANDOM\" }")
            + &vs(&format!("attempts = 1, retryOn = \"5xx\", retryIgnorePreviousHosts = {keep}"), "")
            + &fault("0s", "http-error", "cluster-a", "status = 503\npods = [0]"),
        ..Lab::default()
    };
    let rate = |out: &RunOutput| finished(out, ClientOutcome::Upstream5xx) as f64 / requests(out) as f64;
    let with = rate(&lab(true).run());
    let without = rate(&lab(false).run());
    assert!((0.003..0.015).contains(&with), "{with}");
    assert!((0.23..0.27).contains(&without), "{without}");
}

/// The route timeout (VS `timeout`) ends the request, back-offs included: pods 100 ms slower
/// than a 50 ms timeout → every request times out, and the attempt is counted as a timeout.
#[test]
fn route_timeout_ends_every_slow_request() {
    let lab = Lab {
        a: 1,
        b: 0,
        rest: vs("", "timeout = \"50ms\"") + &fault("0s", "latency", "cluster-a", "latency = \"100ms\""),
        ..Lab::default()
    };
    let out = lab.run();
    let n = requests(&out);
    assert_eq!(finished(&out, ClientOutcome::Timeout), n);
    let timeouts: u64 = out.world.rec.loc_timeout.iter().map(|x| u64::from(*x)).sum();
    assert_eq!(timeouts, n);
}

// ---------------------------------------------------------------------------------------------
// Circuit breakers

/// `http2MaxRequests: 1` at 2000 rps with 2.5 ms per request sheds most requests with 503 UO.
/// Overflow is never fed to outlier detection (Envoy ≥ 1.26): with `consecutive5xxErrors: 1`
/// and 100 % max ejection, not one ejection.
#[test]
fn overflow_never_feeds_outlier_detection() {
    let lab = Lab {
        rate: 2000,
        rest: dr("connectionPool = { http = { http2MaxRequests = 1 } }\n\
                  outlierDetection = { consecutive5xxErrors = 1, maxEjectionPercent = 100 }"),
        ..Lab::default()
    };
    let out = lab.run();
    assert!(finished(&out, ClientOutcome::Overflow) > 1000);
    assert!(ejections(&out).is_empty());
    assert_eq!(retries(&out), 0, "overflow is never retried");
}

/// `tcp.maxConnections: 1` with `http1MaxPendingRequests: 1` on HTTP/1.1: a second connection is
/// opened only to a host whose pool is empty (§3), so at most 3 connections to A's 3 hosts, and
/// at most 1 request waits; the rest overflow, and none of it ejects anything.
#[test]
fn max_connections_and_pending_requests_shed_without_ejecting() {
    let lab = Lab {
        rate: 3000,
        service: "max_concurrency = 0".into(),
        rest: dr("connectionPool = { tcp = { maxConnections = 1 }, http = { http1MaxPendingRequests = 1 } }\n\
                  outlierDetection = { consecutive5xxErrors = 1, maxEjectionPercent = 100 }")
            + &fault("0s", "latency", "cluster-a", "latency = \"20ms\""),
        ..Lab::default()
    };
    let out = lab.run();
    let p = &out.world.proxies[0].clusters[0];
    assert!(p.pool.iter().map(|x| x.conns).sum::<u32>() <= 3, "{:?}", &p.pool[..6]);
    assert!(p.pool.iter().all(|x| x.conns <= 1));
    // Each of the 3 connections serves one request per ~22.5 ms: about 3 × 44 = 133 per second
    // out of 3000; the rest overflow.
    let ok = finished(&out, ClientOutcome::Success) as f64 / 9.0;
    assert!((100.0..180.0).contains(&ok), "{ok} per second");
    assert!(finished(&out, ClientOutcome::Overflow) > 20_000);
    assert!(ejections(&out).is_empty());
    // HTTP/2 multiplexes: one connection per host, max_connections never binds, nothing waits.
    let h2 = Lab { service: "protocol = \"http2\"".into(), ..lab };
    let out = h2.run();
    assert_eq!(finished(&out, ClientOutcome::Overflow), 0);
}

/// A retry budget replaces `maxRetries` (§3): at most max(⌊percent/100 × (active + pending)⌋,
/// minRetryConcurrency) retries at once. At 50 rps against a 503 pod about 2 requests are in
/// flight, so 20 % allows ⌊0.4⌋ = 0 and the minimum decides: with `minRetryConcurrency: 100`
/// nothing is ever refused (every request is retried twice); with Istio's default 3, the retry
/// slots are sometimes all taken and some retries are refused.
#[test]
fn retry_budget_and_max_retries_bound_concurrent_retries() {
    let lab = |min: &str| Lab {
        a: 1,
        b: 0,
        rate: 50,
        rest: dr(&format!("retryBudget = {{ percent = 20.0{min} }}"))
            + &vs("attempts = 2, retryOn = \"5xx\"", "")
            + &fault("0s", "http-error", "cluster-a", "status = 503"),
        ..Lab::default()
    };
    let out = lab(", minRetryConcurrency = 100").run();
    assert_eq!(retries(&out), 2 * requests(&out));
    let out = lab("").run();
    assert!(retries(&out) < 2 * requests(&out));
    assert!(retries(&out) > requests(&out));
    // `maxRetries: 1` with a 100 ms slow 503 pod at 200 rps: ~20 requests in flight, one retry
    // slot: most retries overflow (the 503 goes back to the client).
    let lab = Lab {
        a: 1,
        b: 0,
        rate: 200,
        rest: dr("connectionPool = { http = { maxRetries = 1 } }")
            + &vs("attempts = 2, retryOn = \"5xx\"", "")
            + &fault("0s", "http-error", "cluster-a", "status = 503")
            + &fault("0s", "latency", "cluster-a", "latency = \"100ms\""),
        ..Lab::default()
    };
    let out = lab.run();
    let n = requests(&out);
    assert!(retries(&out) < n / 2, "{} retries for {n}", retries(&out));
    assert!(retries(&out) > 0);
}

// ---------------------------------------------------------------------------------------------
// Black holes and timeouts

/// HTTP/2, no per-try timeout (Istio's default): every request sent to black-holed A rides the
/// one open connection and never ends. No error, no ejection, no failover: the requests are
/// reported as hung, every one of them still in flight at the end.
#[test]
fn black_holed_locality_without_per_try_timeout_hangs_forever() {
    let lab = Lab {
        duration: "20s",
        service: "protocol = \"http2\"".into(),
        stop: Some("20s".into()),
        rate: 100,
        rest: dr("outlierDetection = { consecutive5xxErrors = 5, maxEjectionPercent = 100 }")
            + &fault("5s", "blackhole", "cluster-a", ""),
        ..Lab::default()
    };
    let r = util::run(&lab.scenario(), 1);
    assert_eq!(r.errors, 0);
    assert_eq!(r.ejections, 0);
    assert_eq!(r.hung, r.in_flight_at_end);
    assert!(r.hung >= r.phases[1].requests, "{} hung, {} sent after the fault", r.hung, r.phases[1].requests);
    assert_eq!(share_b(&r, 1), 0.0);
}

/// The same with `perTryTimeout: 300ms`: each attempt to A ends after 300 ms as a 504 timeout,
/// which outlier detection counts as a 5xx (non-split) but Istio's default `retryOn` does not
/// retry (§4.2). Each A host is ejected on its 5th timeout, so at least 3 × 5 = 15 requests fail;
/// with base ejection 30 s every A host is ejected exactly once in 20 s, and once all three are,
/// B has all the load (P0 health 0). Nothing hangs. (A per-try timeout under B's 100 ms round
/// trip would eject B's hosts too, leaving nothing healthy: see
/// `scenarios/per-try-timeout-below-rtt.toml`.)
#[test]
fn black_holed_locality_with_per_try_timeout_fails_over() {
    let lab = Lab {
        duration: "20s",
        service: "protocol = \"http2\"".into(),
        rate: 100,
        rest: dr("outlierDetection = { consecutive5xxErrors = 5, maxEjectionPercent = 100 }")
            + &vs("attempts = 2, perTryTimeout = \"300ms\"", "")
            + &fault("5s", "blackhole", "cluster-a", "")
            + "[[phases]]\nname = \"healthy\"\nstart = \"0s\"\n[[phases]]\nname = \"blackhole\"\nstart = \"5s\"\n\
               [[phases]]\nname = \"settled\"\nstart = \"10s\"\n",
        ..Lab::default()
    };
    let out = lab.run();
    let r = meshsim::metrics::report::report(&out.world, 1, out.events);
    assert_eq!(r.hung, 0);
    assert_eq!(r.errors, finished(&out, ClientOutcome::Timeout));
    assert!(r.errors >= 15, "{}", r.errors);
    let ej = ejections(&out);
    assert_eq!(ej.len(), 3, "{ej:?}");
    assert!(ej.iter().all(|(_, e, reason)| *e < 3 && *reason == "consecutive_5xx"));
    assert_eq!(share_b(&r, 2), 1.0);
    assert_eq!(r.phases[2].errors, 0);
}

/// HTTP/1.1 with `connectTimeout: 1s` and no per-try timeout. The requests that find an idle
/// connection to a black-holed pod hang forever (one per open connection at most); every other
/// one needs a new connection, whose handshake never completes, so it fails as a connect failure
/// after exactly 1 s. That failure counts as a 503 for outlier detection and is retried under
/// `connect-failure`: the A hosts are ejected and the retries reach B. Clients see slow successes
/// rather than errors.
#[test]
fn black_hole_on_http1_fails_new_connections_at_connect_timeout() {
    let lab = Lab {
        duration: "20s",
        rate: 100,
        rest: dr("connectionPool = { tcp = { connectTimeout = \"1s\" } }\n\
                  outlierDetection = { consecutive5xxErrors = 5, maxEjectionPercent = 100 }")
            + &fault("5s", "blackhole", "cluster-a", "")
            + "[[phases]]\nname = \"healthy\"\nstart = \"0s\"\n[[phases]]\nname = \"blackhole\"\nstart = \"5s\"\n\
               [[phases]]\nname = \"settled\"\nstart = \"8s\"\n",
        ..Lab::default()
    };
    let out = lab.run();
    let r = meshsim::metrics::report::report(&out.world, 1, out.events);
    let connect_failures: u64 = out.world.rec.loc_connect_fail.iter().map(|x| u64::from(*x)).sum();
    assert!(connect_failures >= 15, "{connect_failures}");
    assert!(r.hung >= 1);
    // At most the connections open at the fault: no more than a few per host at 100 rps.
    assert!(r.hung <= 12, "{}", r.hung);
    assert_eq!(ejections(&out).len(), 3);
    assert_eq!(share_b(&r, 2), 1.0);
    assert_eq!(r.phases[2].errors, 0);
}

/// `maxRequestsPerConnection: 1` makes every request open a connection, so a black-holed pod
/// never swallows a request: each attempt fails at the 200 ms connect timeout and is retried
/// (3 attempts, all to the only pod), and nothing hangs. With keep-alive (the default) the
/// request that finds the idle connection hangs forever.
#[test]
fn max_requests_per_connection_turns_hangs_into_connect_timeouts() {
    let lab = |per_conn: &str| Lab {
        a: 1,
        b: 0,
        rate: 20,
        rest: dr(&format!("connectionPool = {{ tcp = {{ connectTimeout = \"200ms\" }}{per_conn} }}"))
            + &fault("2s", "blackhole", "cluster-a", ""),
        ..Lab::default()
    };
    let r = util::run(&lab(", http = { maxRequestsPerConnection = 1 }").scenario(), 1);
    assert_eq!(r.hung, 0);
    assert_eq!(r.in_flight_at_end, 0);
    assert_eq!(r.errors, r.phases[1].errors_by_cause.connect_failure);
    assert!(r.errors > 100);
    let r = util::run(&lab("").scenario(), 1);
    assert!(r.hung >= 1);
}

// ---------------------------------------------------------------------------------------------
// Statistical detectors (plain Envoy settings)

fn five_pods_one_bad(probability: f64, envoy: &str) -> Lab {
    Lab {
        a: 5,
        b: 0,
        rate: 1000,
        rest: format!(
            "[envoy_outlier]\ninterval = \"1s\"\nconsecutive_5xx = 0\nenforcing_consecutive_5xx = 0\n{envoy}\n"
        ) + &fault(
            "0s",
            "http-error",
            "cluster-a",
            &format!("status = 503\nprobability = {probability}\npods = [0]"),
        ),
        ..Lab::default()
    }
}

/// Success rate (§1.7), 5 hosts, about 200 requests each per 1 s interval (≥ volume 100). Pod 0
/// fails half its requests, the others none. With rates {x, 100, 100, 100, 100}, μ = 80 + x/5 and
/// σ = 0.4 (100 − x), so the threshold μ − 1.9σ = 100 − 0.96 (100 − x) lies above x for every
/// x < 100: pod 0 is ejected at the first full interval, by the success-rate detector, once (base
/// 30 s > the run).
#[test]
fn success_rate_ejects_the_outlier_pod() {
    let out = five_pods_one_bad(0.5, "enforcing_success_rate = 100\nmax_ejection_percent = 100").run();
    let ej = ejections(&out);
    assert_eq!(ej, vec![("client-0".to_string(), 0, "success_rate")]);
    // Envoy's default max_ejection_percent 10 refuses it: 100 · 1/5 = 20 > 10.
    let out = five_pods_one_bad(0.5, "enforcing_success_rate = 100").run();
    assert!(ejections(&out).is_empty());
    assert!(eject_overflows(&out).contains(&"success_rate"));
    // Fewer hosts with volume than success_rate_minimum_hosts: no analysis.
    let out = five_pods_one_bad(
        0.5,
        "enforcing_success_rate = 100\nmax_ejection_percent = 100\nsuccess_rate_minimum_hosts = 6",
    )
    .run();
    assert!(ejections(&out).is_empty());
    // Volume below success_rate_request_volume (≈200 per interval < 1000): no analysis.
    let out = five_pods_one_bad(
        0.5,
        "enforcing_success_rate = 100\nmax_ejection_percent = 100\nsuccess_rate_request_volume = 1000",
    )
    .run();
    assert!(ejections(&out).is_empty());
}

/// Failure percentage (§1.7): a pod failing 100 % (≥ threshold 85) is ejected; one failing 50 %
/// is not. Success-rate enforcement off (`enforcing_success_rate = 0`).
#[test]
fn failure_percentage_ejects_above_its_threshold_only() {
    let fp = "enforcing_success_rate = 0\nenforcing_failure_percentage = 100\nmax_ejection_percent = 100";
    let out = five_pods_one_bad(1.0, fp).run();
    assert_eq!(ejections(&out), vec![("client-0".to_string(), 0, "failure_percentage")]);
    let out = five_pods_one_bad(0.5, fp).run();
    assert!(ejections(&out).is_empty());
}

// ---------------------------------------------------------------------------------------------
// failoverPriority, trafficDistribution

/// failoverPriority on a pod label (§5.4.3): the client (version=v2) puts the v2 pods of B at P0
/// and the v1 pods of its own cluster at P1, so B gets 100 % although A is local.
#[test]
fn failover_priority_follows_labels_over_locality() {
    let lab = Lab {
        labels_a: "labels = { version = \"v1\" }",
        labels_b: "labels = { version = \"v2\" }",
        proxy: "labels = { version = \"v2\" }".into(),
        rest: dr("outlierDetection = {}\nloadBalancer = { localityLbSetting = { failoverPriority = [\"version\"] } }"),
        ..Lab::default()
    };
    let r = util::run(&lab.scenario(), 1);
    assert_eq!(share_b(&r, 0), 1.0);
}

/// `trafficDistribution: PreferClose` with a DestinationRule that has no `localityLbSetting`
/// (here only RANDOM) forces failover on [network, region, zone] (§5.4.2): the client's own zone
/// gets 100 %. Without it (and without outlierDetection) every endpoint is in P0 and RANDOM
/// spreads uniformly over the 6 hosts: 50 %.
#[test]
fn traffic_distribution_prefer_close_keeps_traffic_local() {
    let random = dr("loadBalancer = { simple = \"RANDOM\" }");
    let lab = Lab { service: "traffic_distribution = \"PreferClose\"".into(), rest: random.clone(), ..Lab::default() };
    let r = util::run(&lab.scenario(), 1);
    assert_eq!(share_b(&r, 0), 0.0);
    let r = util::run(&Lab { rest: random, ..Lab::default() }.scenario(), 1);
    assert!((0.46..0.54).contains(&share_b(&r, 0)), "{}", share_b(&r, 0));
}

// ---------------------------------------------------------------------------------------------
// Multi-network

fn trap(multi_network: bool) -> Lab {
    Lab {
        duration: "30s",
        rate: 400,
        network_b: if multi_network { "network = \"network2\"" } else { "" },
        rest: dr("outlierDetection = { consecutive5xxErrors = 5, maxEjectionPercent = 100, interval = \"1s\" }\n\
                  loadBalancer = { localityLbSetting = { distribute = [{ from = \"europe-west1\", to = { \"europe-west1\" = 50, \"us-central1\" = 50 } }] } }")
            + &fault("5s", "http-error", "cluster-b", "status = 503\npods = [0, 1]")
            + if multi_network { "[[east_west_gateways]]\ncluster = \"cluster-b\"\n" } else { "" }
            + "[[phases]]\nname = \"healthy\"\nstart = \"0s\"\n[[phases]]\nname = \"fault\"\nstart = \"5s\"\n\
               [[phases]]\nname = \"settled\"\nstart = \"8s\"\n",
        ..Lab::default()
    }
}

/// Two of B's three pods answer 503. Flat network: the client ejects those two; B keeps weight
/// 50 × min(1, 1.4 × 1/3) = 23.33 against A's 50 (§2.10 b): 31.82 % of the traffic, all on the
/// healthy pod. Multi-network: the client sees B as one host, the east-west gateway, of weight 3
/// in B's locality. Two thirds of what it forwards hit bad pods, so it soon sends 5 consecutive
/// 503s and is ejected: B gets nothing at all for the 30 s ejection although one pod is fine. The
/// gateway's own Envoy proxies TCP and never sees the 503s, so it never ejects a pod.
#[test]
fn one_ejection_of_the_east_west_gateway_takes_the_remote_cluster_out() {
    let out = trap(false).run();
    let r = meshsim::metrics::report::report(&out.world, 1, out.events);
    let mut ej = ejections(&out);
    ej.sort();
    assert_eq!(
        ej,
        vec![("client-0".to_string(), 3, "consecutive_5xx"), ("client-0".to_string(), 4, "consecutive_5xx")]
    );
    assert!((0.30..0.335).contains(&share_b(&r, 2)), "{}", share_b(&r, 2));

    let out = trap(true).run();
    let r = meshsim::metrics::report::report(&out.world, 1, out.events);
    let w = &out.world;
    // Endpoint 0 is the gateway address (created before the pods).
    assert!(w.pods[0].gateway.is_some());
    let endpoints = w.istio_endpoints();
    let a = w.assignment_for(meshsim::model::ids::ProxyId(0), 0, &endpoints);
    let b_group = a.priorities[0].iter().find(|g| g.locality.region == "us-central1").unwrap();
    assert_eq!(b_group.endpoints.len(), 1);
    assert_eq!((b_group.endpoints[0].id.0, b_group.endpoints[0].weight), (0, 3));
    let ej = ejections(&out);
    assert_eq!(ej, vec![("client-0".to_string(), 0, "consecutive_5xx")]);
    assert_eq!(share_b(&r, 2), 0.0);
    // Before the fault B had its 50 %.
    assert!((0.47..0.53).contains(&share_b(&r, 0)), "{}", share_b(&r, 0));
}

// ---------------------------------------------------------------------------------------------
// Version settings

/// Scale A from 3 to 10 pods: 7 pods start, unready for 5 s. Istio 1.31 sends them as UNHEALTHY
/// (§5.5), so P0 health is ⌊140 × 3/10⌋ = 42 and B gets 58 % until they are ready. Istio 1.30
/// drops them: P0 keeps 100 %.
#[test]
fn unready_endpoints_shift_load_only_from_istio_1_31() {
    let lab = |mesh: &str| Lab {
        duration: "20s",
        rate: 1000,
        mesh: mesh.into(),
        rest: dr("outlierDetection = {}")
            + &fault("5s", "scale", "cluster-a", "replicas = 10")
            + "[[phases]]\nname = \"healthy\"\nstart = \"0s\"\n[[phases]]\nname = \"starting\"\nstart = \"5.2s\"\n\
               [[phases]]\nname = \"ready\"\nstart = \"10.2s\"\n",
        ..Lab::default()
    };
    let r = util::run(&lab("").scenario(), 1);
    assert!((0.56..0.60).contains(&share_b(&r, 1)), "{}", share_b(&r, 1));
    assert_eq!(share_b(&r, 2), 0.0);
    let r = util::run(&lab("istio_version = \"1.30\"").scenario(), 1);
    assert_eq!(share_b(&r, 1), 0.0);
}

/// Max-ejection-percent admission (§1.4) with Istio's default 10 % and 6 hosts: current Envoy
/// refuses even the first ejection (16.7 > 10); Istio 1.18's Envoy (≤ 1.26, "before ejection")
/// allows it (0 < 10), but never a second at once (16.7 ≥ 10).
#[test]
fn max_ejection_rule_follows_the_istio_version() {
    let lab = |mesh: &str| Lab {
        mesh: mesh.into(),
        rest: dr("outlierDetection = { consecutive5xxErrors = 5 }")
            + &fault("1s", "http-error", "cluster-a", "status = 503"),
        ..Lab::default()
    };
    let out = lab("").run();
    assert!(ejections(&out).is_empty());
    let out = lab("istio_version = \"1.18\"").run();
    let ej = ejections(&out);
    assert!(!ej.is_empty());
    // Only one at a time: with base 30 s and a 10 s run, exactly one.
    assert_eq!(ej.len(), 1);
}

/// `istio_version` maps to the version knobs; explicit keys win; bad values name the field.
#[test]
fn istio_version_shortcut() {
    use meshsim::envoy::config::MaxEjectionRule;
    use meshsim::istio::translate::UnreadyEndpoints;
    let s = Lab { mesh: "istio_version = \"1.22.4\"".into(), ..Lab::default() }.scenario();
    let m = &s.mesh.settings;
    assert_eq!(
        (m.max_ejection_rule, m.retry_503_by_default, m.unready_endpoints),
        (MaxEjectionRule::AfterEjection, true, UnreadyEndpoints::Drop)
    );
    let s = Lab { mesh: "istio_version = \"1.22\"\ndefault_retry_503 = false".into(), ..Lab::default() }.scenario();
    assert!(!s.mesh.settings.retry_503_by_default);
    let s = Lab { mesh: "istio_version = \"1.19\"".into(), ..Lab::default() }.scenario();
    assert_eq!(s.mesh.settings.max_ejection_rule, MaxEjectionRule::FirstOrAfterEjection);
    let s = Lab { mesh: "istio_version = \"1.31\"".into(), ..Lab::default() }.scenario();
    assert_eq!(s.mesh.settings, meshsim::istio::translate::MeshSettings::default());
    let e = util::parse(&Lab { mesh: "istio_version = 1.30".into(), ..Lab::default() }.toml()).unwrap_err();
    assert!(e.to_string().contains("mesh.istio_version") && e.to_string().contains("string"), "{e}");
    for bad in ["2.0", "1", "1.x", "1.22.3.4"] {
        let e = util::parse(&Lab { mesh: format!("istio_version = \"{bad}\""), ..Lab::default() }.toml()).unwrap_err();
        assert!(e.to_string().contains("mesh.istio_version"), "{e}");
    }
}

/// Bad new fields are errors naming the file and field, never panics.
#[test]
fn new_fields_are_validated() {
    let cases = [
        ("[envoy_outlier]\nenforcing_success_rate = 101\n", "envoy_outlier.enforcing_success_rate"),
        ("[envoy_outlier]\ninterval = \"0s\"\n", "envoy_outlier.interval"),
        (
            "[envoy_outlier]\nbase_ejection_time = \"60s\"\nmax_ejection_time = \"30s\"\n",
            "envoy_outlier.max_ejection_time",
        ),
        ("[envoy_outlier]\nnope = 1\n", "nope"),
        ("[[east_west_gateways]]\ncluster = \"cluster-z\"\n", "east_west_gateways[0].cluster"),
        ("[[east_west_gateways]]\ncluster = \"cluster-b\"\nreplicas = 0\n", "east_west_gateways[0].replicas"),
    ];
    for (rest, path) in cases {
        let e = util::parse(&Lab { rest: rest.into(), ..Lab::default() }.toml()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("inline.toml") && msg.contains(path), "{msg}");
    }
    let e = util::parse(&Lab { service: "protocol = \"http3\"".into(), ..Lab::default() }.toml()).unwrap_err();
    assert!(e.to_string().contains("service.protocol"));
    let e =
        util::parse(&Lab { service: "traffic_distribution = \"Nearby\"".into(), ..Lab::default() }.toml()).unwrap_err();
    assert!(e.to_string().contains("service.traffic_distribution"));
}

/// Every scenario of this issue loads and runs (at a low rate) without error.
#[test]
fn policy_scenarios_load_and_run() {
    for name in [
        "retries-hide-failing-region.toml",
        "retry-remote-localities.toml",
        "breaker-sheds-during-failover.toml",
        "blackhole-connect-timeout.toml",
        "per-try-timeout-below-rtt.toml",
        "pending-queue.toml",
        "success-rate-detector.toml",
        "failover-priority-labels.toml",
        "east-west-gateway-trap.toml",
        "unready-endpoints-version.toml",
    ] {
        let s = util::load(name, &["workload.0.rate=50"]);
        util::run(&s, 1);
    }
}

/// Issue 13 item 7: the final outlier configuration is validated as Envoy validates a cluster
/// (`DetectorImpl::create`): a `max_ejection_time` below the base is rejected, naming both
/// fields, wherever the base was set. Before, a DR base of 10 s with `[envoy_outlier]
/// max_ejection_time = "5s"` ran with ~10 s ejections.
#[test]
fn max_ejection_time_below_the_drs_base_is_refused() {
    let dir = std::env::temp_dir().join(format!("meshsim-traffic-maxej-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "{}[policy.destination_rule]\nhost = \"svc\"\ntrafficPolicy = {{ outlierDetection = {{ baseEjectionTime = \
         \"10s\" }} }}\n[envoy_outlier]\nmax_ejection_time = \"5s\"\n",
        crate::bin::BASE
    );
    let path = crate::bin::write(&dir, "t.toml", &text);
    let out = crate::bin::run(&dir, &["run", path.to_str().unwrap(), "--out", dir.join("o").to_str().unwrap()]);
    out.refused(&[
        "t.toml",
        "envoy_outlier.max_ejection_time",
        "5s is below base_ejection_time 10s",
        "trafficPolicy.outlierDetection.baseEjectionTime of DestinationRule",
    ]);
    // The same base with a max at or above it runs; and Envoy's own default base (30 s) counts too.
    let ok = text.replace("\"5s\"", "\"10s\"");
    util::parse(&ok).unwrap();
    let e = util::parse(&format!("{}[envoy_outlier]\nmax_ejection_time = \"20s\"\n", crate::bin::BASE)).unwrap_err();
    assert!(e.to_string().contains("below base_ejection_time 30s (set by Envoy's default"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Service `trafficDistribution` is refused on a release whose proxies ignore it, naming the
/// key and the first release that reads it: `PreferClose` from Istio 1.25, `PreferSameZone` and
/// `PreferSameNode` from 1.27.
#[test]
fn traffic_distribution_needs_a_release_that_reads_it() {
    let lab = |td: &str, version: &str| Lab {
        service: format!("traffic_distribution = \"{td}\""),
        mesh: format!("istio_version = \"{version}\""),
        ..Lab::default()
    };
    for (td, version, since) in
        [("PreferClose", "1.24", "1.25"), ("PreferSameZone", "1.26", "1.27"), ("PreferSameNode", "1.26.3", "1.27")]
    {
        let e = util::parse(&lab(td, version).toml()).unwrap_err().to_string();
        assert!(e.contains("service.traffic_distribution") && e.contains(td) && e.contains(since), "{e}");
    }
    for (td, version) in [("PreferClose", "1.25"), ("PreferSameZone", "1.27"), ("PreferClose", "1.31")] {
        util::parse(&lab(td, version).toml()).unwrap_or_else(|e| panic!("{td} on {version}: {e}"));
    }
}

/// `PreferClose` on Istio 1.25 and 1.26 ranks by sub-zone too (`GetLocalityLbSetting` at the tags
/// `1.25.0` and `1.26.0`: `[network, region, zone, subzone]`); from 1.27 it is `PreferSameZone`,
/// `[network, region, zone]`. The client is in zone z1, sub-zone s1; one pod in z1/s1, one in
/// z1/s2, RANDOM picking, no outlierDetection. On 1.26 the s1 pod alone is P0: it takes 100 %.
/// On 1.27 both pods are P0 (same network, region and zone): each about 50 % (RANDOM over 2
/// hosts, about 1 800 requests: 0.5 ± 0.04 is over 3σ).
#[test]
fn prefer_close_ranks_by_sub_zone_before_istio_1_27() {
    let text = |version: &str| {
        format!(
            "name = \"t\"\nduration = \"10s\"\nseed = 1\n[mesh]\nistio_version = \"{version}\"\n\
             [[clusters]]\nname = \"a\"\nregion = \"r\"\nzone = \"z1\"\nsub_zone = \"s1\"\n\
             [[clusters]]\nname = \"b\"\nregion = \"r\"\nzone = \"z1\"\nsub_zone = \"s2\"\n\
             [service]\nhost = \"{HOST}\"\ntraffic_distribution = \"PreferClose\"\n\
             deployments = [{{ cluster = \"a\", replicas = 1 }}, {{ cluster = \"b\", replicas = 1 }}]\n\
             [policy.destination_rule]\nhost = \"{HOST}\"\ntrafficPolicy = {{ loadBalancer = {{ simple = \"RANDOM\" }} }}\n\
             [[proxies]]\nname = \"client\"\nkind = \"sidecar\"\ncluster = \"a\"\n\
             [[workload]]\nproxy = \"client\"\nrate = 200\n"
        )
    };
    let s2 = |version: &str| {
        let r = util::run(&util::parse(&text(version)).unwrap(), 1);
        util::phase_share(&r, 0, "r/z1/s2")
    };
    assert_eq!(s2("1.26"), 0.0);
    assert_eq!(s2("1.25"), 0.0);
    let x = s2("1.27");
    assert!((0.46..0.54).contains(&x), "{x}");
}
