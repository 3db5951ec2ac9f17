//! Routes (issue 13 item 2): request classes on workloads, a route table per proxy with Envoy's
//! first-match rule, per-route retries, timeouts and faults, weighted destinations, and 404 NR
//! when no route matches.

use std::sync::Arc;

use meshsim::metrics::report::RunReport;

use crate::util;

/// `bin::BASE` (one sidecar `p` in cluster a, 2 s, 100 req/s Poisson) with `workload_extra`
/// appended to its workload and `policy` after it.
fn scenario(workload_extra: &str, policy: &str) -> meshsim::scenario::Scenario {
    let text = format!("{}{workload_extra}\n{policy}\n", crate::bin::BASE);
    util::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn refused(workload_extra: &str, policy: &str) -> String {
    let text = format!("{}{workload_extra}\n{policy}\n", crate::bin::BASE);
    util::parse(&text).map(|_| ()).expect_err("refused").to_string()
}

fn run(s: &meshsim::scenario::Scenario, seed: u64) -> RunReport {
    let out = meshsim::model::run(Arc::new(s.clone()), seed).unwrap();
    meshsim::metrics::report::report(&out.world, seed, out.events)
}

const VS: &str = "[policy.virtual_service]\nhosts = [\"svc.default.svc.cluster.local\"]\n";

fn finished(r: &RunReport) -> u64 {
    r.requests - r.in_flight_at_end
}

/// Over seeds 1..=20, the share of finished requests answered 404 NR is `p` within 3σ
/// (σ = sqrt(p (1 − p) / n) over the n requests of all 20 runs).
fn assert_no_route_share(s: &meshsim::scenario::Scenario, p: f64) {
    let (mut nr, mut all) = (0u64, 0u64);
    for seed in 1..=20 {
        let r = run(s, seed);
        nr += r.phases[0].errors_by_cause.no_route;
        all += finished(&r);
    }
    let share = nr as f64 / all as f64;
    assert!((share - p).abs() < 3.0 * (p * (1.0 - p) / all as f64).sqrt(), "{share} of {all}");
}

/// A workload without request classes sends `GET /`: a table whose only route matches `/api`
/// answers every request 404 NR, locally (no attempt), counted as `no_route`, never retried.
#[test]
fn no_route_is_a_local_404_counted_as_its_own_cause() {
    let s = scenario(
        "",
        &format!(
            "{VS}[[policy.virtual_service.http]]\nmatch = [{{ uri = {{ prefix = \"/api\" }} }}]\n\
             route = [{{ destination = {{ host = \"svc\" }} }}]\nretries = {{ attempts = 3, retryOn = \"5xx,retriable-4xx\" }}\n"
        ),
    );
    let r = run(&s, 1);
    assert!(r.requests > 150, "{}", r.requests);
    let e = &r.phases[0].errors_by_cause;
    assert_eq!(e.no_route, finished(&r));
    assert_eq!(r.phases[0].errors, e.no_route);
    let attempts: u64 = r.locality_rows.iter().map(|x| x.attempts).sum();
    assert_eq!((attempts, r.phases[0].retries), (0, 0));
    assert_eq!(r.client_rows.iter().map(|c| c.no_route).sum::<u64>(), e.no_route);
}

/// Two classes, 30 % `x-canary: true` and the rest plain: the first route matches the header,
/// the second (`uri prefix /api`) matches neither class's `/` path, so the plain class gets 404.
/// Across 20 seeds of ~200 requests each (4 000 in all), the share of 404s is 0.7 ± 3σ
/// (σ = sqrt(0.7 × 0.3 / 4000) = 0.0072).
#[test]
fn classes_take_the_first_route_they_match() {
    let s = scenario(
        "[[workload.requests]]\nfraction = 0.3\nheaders = { \"x-canary\" = \"true\" }\n[[workload.requests]]\npath = \"/\"\n",
        &format!(
            "{VS}[[policy.virtual_service.http]]\nmatch = [{{ headers = {{ x-canary = {{ exact = \"true\" }} }} }}]\n\
             route = [{{ destination = {{ host = \"svc\" }} }}]\n\
             [[policy.virtual_service.http]]\nmatch = [{{ uri = {{ prefix = \"/api\" }} }}]\n\
             route = [{{ destination = {{ host = \"svc\" }} }}]\n"
        ),
    );
    assert_no_route_share(&s, 0.7);
}

/// RE2 routes, matched whole: classes `/api/v1/cart` (40 %), `/api/v12/cart` (30 %) and
/// `/api/v1/cart/x` (30 %) against a single route `regex: /api/v[0-9]/[a-z]+`. Only the first
/// class matches (`v12` has two digits, the third class has a trailing segment: a full match, not
/// a search), so 60 % of requests get 404 NR. Over 20 seeds of ~200 requests (4 000 in all):
/// 0.6 ± 3σ, σ = sqrt(0.6 × 0.4 / 4000) = 0.0077.
#[test]
fn regex_routes_match_the_whole_path() {
    let s = scenario(
        "[[workload.requests]]\nfraction = 0.4\npath = \"/api/v1/cart\"\n\
         [[workload.requests]]\nfraction = 0.3\npath = \"/api/v12/cart\"\n\
         [[workload.requests]]\nfraction = 0.3\npath = \"/api/v1/cart/x\"\n",
        &format!(
            "{VS}[[policy.virtual_service.http]]\nmatch = [{{ uri = {{ regex = \"/api/v[0-9]/[a-z]+\" }} }}]\n\
             route = [{{ destination = {{ host = \"svc\" }} }}]\n"
        ),
    );
    assert_no_route_share(&s, 0.6);
}

/// Per-route retries: pods answer 503 with probability 0.5. Requests with `x-retry: yes` take a
/// route with 3 retries on 5xx (a client error needs 4 failures: 0.5^4 = 1/16 of them); the
/// others take a route with none (1/2 fail). With half the requests in each class the client
/// error ratio is (1/2 + 1/16) / 2 = 0.28125; over 20 seeds (~4 000 requests) σ ≈ 0.0071, so
/// ± 0.03 is over four of them. Retries are sent only for the first class.
#[test]
fn each_route_keeps_its_own_retries() {
    let s = scenario(
        "[[workload.requests]]\nfraction = 0.5\nheaders = { \"x-retry\" = \"yes\" }\n[[workload.requests]]\nfraction = 0.5\n\
         [[faults]]\nat = \"0s\"\naction = \"http-error\"\ncluster = \"a\"\nstatus = 503\nprobability = 0.5\n\
         [[faults]]\nat = \"0s\"\naction = \"http-error\"\ncluster = \"b\"\nstatus = 503\nprobability = 0.5\n",
        &format!(
            "{VS}[[policy.virtual_service.http]]\nmatch = [{{ headers = {{ x-retry = {{ exact = \"yes\" }} }} }}]\n\
             route = [{{ destination = {{ host = \"svc\" }} }}]\nretries = {{ attempts = 3, retryOn = \"5xx\" }}\n\
             [[policy.virtual_service.http]]\nroute = [{{ destination = {{ host = \"svc\" }} }}]\n\
             retries = {{ attempts = 0 }}\n"
        ),
    );
    let (mut errors, mut all, mut retries) = (0u64, 0u64, 0u64);
    for seed in 1..=20 {
        let r = run(&s, seed);
        errors += r.phases.iter().map(|p| p.errors).sum::<u64>();
        all += finished(&r);
        retries += r.phases.iter().map(|p| p.retries).sum::<u64>();
    }
    let ratio = errors as f64 / all as f64;
    assert!((ratio - 0.28125).abs() < 0.03, "{ratio} of {all}");
    // Retries per retrying request: 1/2 + 1/4 + 1/8 = 0.875 for the half that retries.
    let per_request = retries as f64 / all as f64;
    assert!((per_request - 0.4375).abs() < 0.04, "{per_request}");
}

/// Per-route timeouts and faults: a route's fault filter applies only to its own requests.
#[test]
fn faults_are_per_route() {
    let s = scenario(
        "[[workload.requests]]\nfraction = 0.5\nmethod = \"POST\"\n[[workload.requests]]\nfraction = 0.5\n",
        &format!(
            "{VS}[[policy.virtual_service.http]]\nmatch = [{{ method = {{ exact = \"POST\" }} }}]\n\
             route = [{{ destination = {{ host = \"svc\" }} }}]\n\
             fault = {{ abort = {{ httpStatus = 503, percentage = {{ value = 100.0 }} }} }}\n\
             [[policy.virtual_service.http]]\nroute = [{{ destination = {{ host = \"svc\" }} }}]\n"
        ),
    );
    let (mut aborts, mut all, mut others) = (0u64, 0u64, 0u64);
    for seed in 1..=10 {
        let r = run(&s, seed);
        aborts += r.phases[0].errors_by_cause.fault_abort;
        others += r.phases[0].errors - r.phases[0].errors_by_cause.fault_abort;
        all += finished(&r);
    }
    // 10 seeds × ~200 requests: the POST half, σ = sqrt(0.25 / 2000) ≈ 0.011.
    let share = aborts as f64 / all as f64;
    assert!((share - 0.5).abs() < 0.045, "{share}");
    assert_eq!(others, 0);
}

/// A workload without classes draws nothing from the request-attribute stream, and a route
/// without weights draws nothing from the weight stream: a one-route VirtualService with a
/// catch-all match runs exactly as the same VirtualService without `match`.
#[test]
fn no_classes_and_one_destination_draw_nothing_new() {
    let with_match = scenario(
        "",
        &format!(
            "{VS}[[policy.virtual_service.http]]\nmatch = [{{ uri = {{ prefix = \"/\" }} }}]\nroute = [{{ destination = {{ host = \"svc\" }} }}]\n"
        ),
    );
    let plain = scenario(
        "",
        &format!("{VS}[[policy.virtual_service.http]]\nroute = [{{ destination = {{ host = \"svc\" }} }}]\n"),
    );
    let (a, b) = (run(&with_match, 7), run(&plain, 7));
    assert_eq!(a.client_rows, b.client_rows);
    assert_eq!(a.locality_rows, b.locality_rows);
}

/// Bad input is refused naming the field: shares not summing to 1, two classes without a share,
/// a path with a query string, an upper-case header name, a regex Istio refuses (look-around is
/// not RE2), a class routed to another host.
#[test]
fn bad_routes_and_classes_are_refused_by_name() {
    let e = refused("[[workload.requests]]\nfraction = 0.5\n[[workload.requests]]\nfraction = 0.4\n", "");
    assert!(e.contains("workload[0].requests") && e.contains("sum to 0.9"), "{e}");
    let e = refused("[[workload.requests]]\npath = \"/a\"\n[[workload.requests]]\npath = \"/b\"\n", "");
    assert!(e.contains("workload[0].requests[1].fraction"), "{e}");
    let e = refused("[[workload.requests]]\npath = \"/a?x=1\"\n", "");
    assert!(e.contains("workload[0].requests[0].path") && e.contains("query string"), "{e}");
    let e = refused("[[workload.requests]]\nheaders = { \"X-Canary\" = \"1\" }\n", "");
    assert!(e.contains("workload[0].requests[0].headers.X-Canary") && e.contains("x-canary"), "{e}");
    let e = refused(
        "",
        &format!(
            "{VS}[[policy.virtual_service.http]]\nmatch = [{{ uri = {{ regex = \"/v(?=[0-9])\" }} }}]\nroute = [{{ destination = {{ host = \"svc\" }} }}]\n"
        ),
    );
    assert!(e.contains("http[0].match[0].uri.regex") && e.contains("look-around"), "{e}");
    let e = refused(
        "[[workload.requests]]\npath = \"/v2\"\n",
        &format!(
            "{VS}[[policy.virtual_service.http]]\nmatch = [{{ uri = {{ prefix = \"/v2\" }} }}]\nroute = [{{ destination = {{ host = \"reviews-v2\" }} }}]\n\
                  [[policy.virtual_service.http]]\nroute = [{{ destination = {{ host = \"svc\" }} }}]\n"
        ),
    );
    assert!(e.contains("workload[0].requests[0]") && e.contains("reviews-v2.default.svc.cluster.local"), "{e}");
    assert!(e.contains("a host the scenario does not declare (it simulates svc.default.svc.cluster.local)"), "{e}");
    // Regex work bounded before it is done: 64 classes with 1 000-byte paths against a route
    // whose regex expands to 1 800 items would cost ~115 M steps per run.
    let classes: String = (0..64)
        .map(|i| format!("[[workload.requests]]\nfraction = 0.015625\npath = \"/{i}{}\"\n", "x".repeat(1000)))
        .collect();
    let e = refused(
        &classes,
        &format!(
            "{VS}[[policy.virtual_service.http]]\nmatch = [{{ uri = {{ regex = \"(/[a-z]+.){{600}}\" }} }}]\n\
             route = [{{ destination = {{ host = \"svc\" }} }}]\n"
        ),
    );
    assert!(e.contains("workload[0].requests") && e.contains("regexes"), "{e}");
    let too_many: String =
        (0..65).map(|i| format!("[[workload.requests]]\nfraction = 0.01\npath = \"/{i}\"\n")).collect();
    let e = refused(&too_many, "");
    assert!(e.contains("65 classes; at most 64"), "{e}");
}

/// Two regions, one subset each: v1's pods in cluster a (region r1), v2's in cluster b (r2),
/// and a VirtualService split `weights` across subsets v1 and v2.
fn canary(weights: (u32, u32)) -> meshsim::scenario::Scenario {
    let text = crate::bin::BASE.replace(
        "deployments = [{ cluster = \"a\", replicas = 2 }, { cluster = \"b\", replicas = 2 }]",
        "deployments = [{ cluster = \"a\", replicas = 2, labels = { version = \"v1\" } }, \
         { cluster = \"b\", replicas = 2, labels = { version = \"v2\" } }]",
    );
    let text = format!(
        "{text}[policy.destination_rule]\nhost = \"svc\"\nsubsets = [{{ name = \"v1\", labels = {{ version = \"v1\" }} }}, \
         {{ name = \"v2\", labels = {{ version = \"v2\" }} }}]\n{VS}[[policy.virtual_service.http]]\n\
         route = [{{ destination = {{ host = \"svc\", subset = \"v1\" }}, weight = {} }}, \
         {{ destination = {{ host = \"svc\", subset = \"v2\" }}, weight = {} }}]\n",
        weights.0, weights.1
    );
    util::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn share_of(r: &RunReport, region_prefix: &str) -> (u64, u64) {
    let of = r.locality_rows.iter().filter(|x| x.locality.starts_with(region_prefix)).map(|x| x.attempts).sum();
    (of, r.locality_rows.iter().map(|x| x.attempts).sum())
}

/// Envoy's weighted clusters across subsets: a 90/10 split sends 10 % of the requests to v2's
/// cluster. Over 20 seeds (~4 000 requests, no retries: every pod answers) v2's share is
/// 0.10 ± 3σ, σ = sqrt(0.1 × 0.9 / 4000) = 0.0047.
#[test]
fn a_90_10_split_sends_a_tenth_to_the_canary() {
    let s = canary((90, 10));
    let (mut v2, mut all) = (0u64, 0u64);
    for seed in 1..=20 {
        let r = run(&s, seed);
        let (a, b) = share_of(&r, "r2");
        v2 += a;
        all += b;
        assert_eq!(r.phases[0].errors, 0, "seed {seed}");
    }
    let share = v2 as f64 / all as f64;
    let sigma = (0.1f64 * 0.9 / all as f64).sqrt();
    assert!((share - 0.10).abs() < 3.0 * sigma, "{share} over {all} attempts");
}

/// Weights are relative (`1` and `3`: a quarter to v2), and a split's draw comes from its own
/// stream: the same seed gives the same split.
#[test]
fn weights_are_relative_and_the_draw_is_seeded() {
    let s = canary((1, 3));
    let (mut v2, mut all) = (0u64, 0u64);
    for seed in 1..=10 {
        let (a, b) = share_of(&run(&s, seed), "r2");
        v2 += a;
        all += b;
    }
    let share = v2 as f64 / all as f64;
    assert!((share - 0.75).abs() < 3.0 * (0.75f64 * 0.25 / all as f64).sqrt(), "{share} over {all}");
    assert_eq!(run(&s, 3).locality_rows, run(&s, 3).locality_rows);
}

/// Fields meshsim reads but does not simulate are named by the lint `field-not-simulated`, with
/// their path, for the resources that apply; a policy without them gets no such lint.
#[test]
fn fields_read_but_not_simulated_are_named_by_a_lint() {
    let policy = format!(
        "{VS}[[policy.virtual_service.http]]\nroute = [{{ destination = {{ host = \"svc\" }}, headers = {{ request = {{ set = {{ x-a = \"1\" }} }} }} }}]\n\
         mirror = {{ host = \"svc\" }}\ncorsPolicy = {{ allowOrigins = [{{ exact = \"*\" }}] }}\n\
         [policy.destination_rule]\nhost = \"svc\"\ntrafficPolicy = {{ tls = {{ mode = \"ISTIO_MUTUAL\" }} }}\n"
    );
    let s = scenario("", &policy);
    let lints = meshsim::explain::lint_scenario(&s);
    let ours: Vec<&meshsim::explain::Lint> = lints.iter().filter(|l| l.code == "field-not-simulated").collect();
    assert_eq!(ours.len(), 2, "{lints:?}");
    let all: String = ours.iter().map(|l| l.reason.as_str()).collect::<Vec<_>>().join("\n");
    for path in ["`http[0].mirror`", "`http[0].corsPolicy`", "`http[0].route[0].headers`", "`trafficPolicy.tls`"] {
        assert!(all.contains(path), "{path} not named: {all}");
    }
    // Header changes are left unmodelled on purpose, and the lint says why.
    assert!(all.contains("`http[0].route[0].headers` (header manipulation: applied after the route is chosen, and meshsim has no later hop"), "{all}");
    let plain = scenario(
        "",
        &format!("{VS}[[policy.virtual_service.http]]\nroute = [{{ destination = {{ host = \"svc\" }} }}]\n"),
    );
    assert!(!meshsim::explain::lint_scenario(&plain).iter().any(|l| l.code == "field-not-simulated"));
}
