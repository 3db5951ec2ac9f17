//! Exact sequences for lessons and regression tests (issue 12, "Expressiveness"): scripted pod
//! answers, uniform and scripted arrivals, the outlier timer's start, and the per-host counts of
//! `hosts.csv`. Every number below is derived by hand in the comments.

use std::sync::Arc;

use meshsim::engine::SimTime;
use meshsim::metrics::hosts::{HostRow, host_rows};
use meshsim::metrics::recorder::{ClientOutcome, LogKind};
use meshsim::model::world::World;

use crate::util::parse;

/// One zone, one pod, one sidecar; 1 ms one-way latency without jitter and a constant 5 ms
/// service time, so an attempt sent at t is answered at t + 7 ms. Outlier detection: 5
/// consecutive 5xx, interval 1 s, base ejection 3 s, up to 100 % ejected.
const LAB: &str = r#"name = "t"
duration = "12.05s"
[[clusters]]
name = "a"
region = "r1"
zone = "z1"
[network]
same_zone = "1ms"
jitter = 0.0
[service]
host = "svc.default.svc.cluster.local"
service_time = { distribution = "constant", mean = "5ms" }
deployments = [{ cluster = "a", replicas = 1 }]
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
[policy.destination_rule.trafficPolicy.outlierDetection]
consecutive5xxErrors = 5
interval = "1s"
baseEjectionTime = "3s"
maxEjectionPercent = 100
[[proxies]]
name = "c"
kind = "sidecar"
cluster = "a"
outlier_timer_start = "50ms"
[[workload]]
proxy = "c"
rate = 10
arrivals = "uniform"
[[faults]]
at = "0s"
action = "script"
cluster = "a"
responses = [500, 500, 500, 500, 404, 500, 500, 500, 500, 500]
then = 503
"#;

fn run(text: &str) -> World {
    let s = parse(text).unwrap_or_else(|e| panic!("{e}"));
    let seed = s.seed;
    meshsim::model::run(Arc::new(s), seed).unwrap().world
}

fn ms(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e6
}

/// (time in ms, multiplier) of every ejection.
type Ejections = Vec<(f64, u32)>;
/// (time in ms, ejected for in ms) of every un-ejection.
type Unejections = Vec<(f64, f64)>;

fn ejections(w: &World) -> (Ejections, Unejections) {
    let (mut ej, mut un) = (Vec::new(), Vec::new());
    for e in &w.rec.log {
        match &e.kind {
            LogKind::Eject { multiplier, .. } => ej.push((ms(e.time), *multiplier)),
            LogKind::Uneject { ejected_for, .. } => un.push((ms(e.time), ejected_for.as_nanos() as f64 / 1e6)),
            _ => {}
        }
    }
    (ej, un)
}

fn finished(w: &World, o: ClientOutcome) -> u64 {
    (0..w.rec.n_slots()).map(|s| u64::from(w.rec.finished_in(s, o))).sum()
}

/// Requests come at 0.1 s, 0.2 s, ... The pod answers its 1st to 4th with 500, the 5th with
/// 404 (a success: the streak restarts), the 6th to 10th with 500: the 10th, sent at 1.0 s,
/// makes five in a row and is answered at 1.007 s: ejection ×1, for 3 s. The timer was armed at
/// 50 ms, so it ticks at 1.05, 2.05, ...: the first tick at or after 4.007 s is 4.05 s (out for
/// 3.043 s). The pod now holds 503: requests of 4.1 to 4.5 s make five more, ejection ×2 at
/// 4.507 s for 6 s, back at the tick of 11.05 s (out 6.543 s); 11.1 to 11.5 s: ejection ×3 at
/// 11.507 s. Meanwhile no host is healthy and requests fail with "no healthy upstream"
/// (Istio's panic threshold is 0).
#[test]
fn a_scripted_pod_is_ejected_at_exact_times() {
    let w = run(LAB);
    let (ej, un) = ejections(&w);
    assert_eq!(ej, [(1007.0, 1), (4507.0, 2), (11507.0, 3)]);
    assert_eq!(un, [(4050.0, 3043.0), (11050.0, 6543.0)]);
    // 120 requests (0.1 s to 12.0 s): 20 reach the pod (1.0-1.0 s, 4.1-4.5 s, 11.1-11.5 s),
    // the 100 others find no healthy host; the 404 is a client success.
    assert_eq!(finished(&w, ClientOutcome::NoHealthyUpstream), 100);
    assert_eq!(finished(&w, ClientOutcome::Upstream5xx), 19);
    assert_eq!(finished(&w, ClientOutcome::Success), 1);
    let rows = host_rows(&w);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r: &HostRow = &rows[0];
    assert_eq!((r.phase.as_str(), r.proxy.as_str(), r.endpoint.as_str()), ("healthy + a scripted", "c-0", "a/0"));
    assert_eq!((r.attempts, r.retries, r.status_4xx, r.status_5xx, r.status_2xx), (20, 0, 1, 19, 0));
}

/// The timer's start moves the ticks: armed at 0.5 s, they fall at 1.5, 2.5, ...; the first
/// ejection (1.007 s, due 4.007 s) ends at 4.5 s. One start per replica is accepted too.
#[test]
fn the_outlier_timer_start_sets_the_ticks() {
    let w = run(&LAB.replace("outlier_timer_start = \"50ms\"", "outlier_timer_start = [\"500ms\"]"));
    let (_, un) = ejections(&w);
    assert_eq!(un[0], (4500.0, 3493.0));
    let err = parse(&LAB.replace("outlier_timer_start = \"50ms\"", "outlier_timer_start = [\"0s\", \"1s\"]"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("proxies[0].outlier_timer_start: lists 2 starts for 1 replicas"), "{err}");
    // Without outlier detection there is no timer to start: an error, not a silent no-op.
    let no_od = LAB.replace("[policy.destination_rule.trafficPolicy.outlierDetection]", "[policy.destination_rule.x]");
    let no_od = no_od[..no_od.find("[policy.destination_rule.x]").unwrap()].to_string()
        + &no_od[no_od.find("[[proxies]]").unwrap()..];
    let err = parse(&no_od).unwrap_err().to_string();
    assert!(err.contains("proxies[0].outlier_timer_start: there is no outlier-detection timer"), "{err}");
}

/// Setting the timer's start changes when ticks fall and nothing else: the proxy still draws
/// its random phase, so host picks stay the same. With no errors the ticks change nothing, so
/// the runs are identical, request for request.
#[test]
fn setting_the_timer_start_keeps_the_other_draws() {
    let base = LAB
        .replace("replicas = 1 }]", "replicas = 4 }]")
        .replace("arrivals = \"uniform\"", "")
        .replace("rate = 10", "rate = 400")
        .replace("jitter = 0.0", "jitter = 0.3");
    let base = &base[..base.find("[[faults]]").unwrap()];
    let unset = run(&base.replace("outlier_timer_start = \"50ms\"\n", ""));
    let set = run(base);
    assert_eq!(host_rows(&unset), host_rows(&set));
    assert_eq!(unset.rec.loc_attempts, set.rec.loc_attempts);
    assert!(host_rows(&set).iter().all(|r| r.attempts > 500), "{:?}", host_rows(&set));
}

/// Uniform arrivals at 10/s come at 0.1 s, 0.2 s, ...; from a change to 20/s at 0.55 s, at
/// 0.6 s, 0.65 s, ...: per 100 ms slot, one request up to 0.5 s, then two (the last slot holds
/// 1.0 s and 1.05 s, the end of the run, whose events still run).
#[test]
fn uniform_arrivals_are_evenly_spaced() {
    let text = LAB
        .replace("duration = \"12.05s\"", "duration = \"1.05s\"")
        .replace("arrivals = \"uniform\"", "arrivals = \"uniform\"\nrate_changes = [{ at = \"0.55s\", rate = 20 }]");
    let w = run(&text);
    assert_eq!(w.rec.requests, [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
}

/// Scripted arrivals come exactly at the listed times (a time twice is two requests), and
/// replicas take them in turn.
#[test]
fn scripted_arrivals_come_at_their_times() {
    let text = LAB
        .replace("duration = \"12.05s\"", "duration = \"1s\"")
        .replace("rate = 10\narrivals = \"uniform\"", "times = [\"0.25s\", \"0.25s\", \"0.7s\", \"2s\"]")
        .replace("name = \"c\"\nkind", "name = \"c\"\nreplicas = 2\nkind")
        .replace("outlier_timer_start = \"50ms\"", "outlier_timer_start = [\"50ms\", \"50ms\"]");
    let w = run(&text);
    assert_eq!(w.rec.requests, [0, 0, 2, 0, 0, 0, 0, 1, 0, 0]);
    let attempts: Vec<(String, u64)> = host_rows(&w).into_iter().map(|r| (r.proxy, r.attempts)).collect();
    assert_eq!(attempts, [("c-0".to_string(), 2), ("c-1".to_string(), 1)]);
    for (bad, why) in [
        ("times = [\"0.5s\", \"0.25s\"]", "workload[0].times[1]: arrival times must be in time order"),
        ("times = []", "workload[0].times: lists no arrival"),
        ("times = [\"1s\"]\nrate = 5", "workload[0].rate: does not apply to scripted arrivals"),
    ] {
        let err = parse(&LAB.replace("rate = 10\narrivals = \"uniform\"", bad)).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
    let err = parse(&LAB.replace("arrivals = \"uniform\"", "arrivals = \"uniform2\"")).unwrap_err().to_string();
    assert!(err.contains("did you mean \"uniform\"?"), "{err}");
    let err = parse(&LAB.replace("rate = 10\n", "")).unwrap_err().to_string();
    assert!(err.contains("workload[0].rate: is required (or list the arrival `times`)"), "{err}");
}

/// Scripted connection answers: the pod refuses its first two connections, then is healthy.
/// Istio's default retry policy retries a connect failure twice, so the first request takes
/// three attempts (two refused, one 200) and succeeds; every later one takes one.
#[test]
fn a_scripted_refusal_is_retried() {
    let text = LAB.replace("duration = \"12.05s\"", "duration = \"1.05s\"").replace(
        "responses = [500, 500, 500, 500, 404, 500, 500, 500, 500, 500]\nthen = 503",
        "responses = [\"refuse\", \"refuse\"]",
    );
    let w = run(&text);
    let r = &host_rows(&w)[0];
    assert_eq!((r.attempts, r.retries, r.connect_failure, r.status_2xx), (12, 2, 2, 10));
    assert_eq!(finished(&w, ClientOutcome::Success), 10);
    for (bad, why) in [
        ("responses = [700]", "faults[0].responses[0]: `700` is not an answer"),
        ("responses = []", "faults[0].responses: lists no answer"),
        ("responses = [500]\nthen = \"sometimes\"", "faults[0].then: `\"sometimes\"` is not \"healthy\", \"repeat\""),
    ] {
        let err =
            parse(&LAB.replace("responses = [500, 500, 500, 500, 404, 500, 500, 500, 500, 500]\nthen = 503", bad))
                .unwrap_err()
                .to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
    let err =
        parse(&LAB.replace("action = \"script\"", "action = \"http-error\"\nstatus = 503")).unwrap_err().to_string();
    assert!(err.contains("faults[0].responses: does not apply to action `http-error`"), "{err}");
}

/// `then = "repeat"` starts the script again: answers 500, 200, 500, 200, ... With outlier
/// detection needing 5 in a row, nothing is ejected; half the requests fail.
#[test]
fn a_repeated_script_cycles() {
    let text = LAB.replace("duration = \"12.05s\"", "duration = \"2.05s\"").replace(
        "responses = [500, 500, 500, 500, 404, 500, 500, 500, 500, 500]\nthen = 503",
        "responses = [500, 200]\nthen = \"repeat\"",
    );
    let w = run(&text);
    assert_eq!(ejections(&w).0, []);
    assert_eq!((finished(&w, ClientOutcome::Upstream5xx), finished(&w, ClientOutcome::Success)), (10, 10));
}

/// Verdicts of `expect` (TOML `[[expect]]` tables) appended to the lab, as `name: PASS|FAIL`
/// with the measured text.
fn verdicts(expect: &str) -> Vec<(bool, String, String)> {
    let s = parse(&format!("{LAB}{expect}")).unwrap_or_else(|e| panic!("{e}"));
    let out = meshsim::model::run(Arc::new(s), 1).unwrap();
    let report = meshsim::metrics::report::report(&out.world, 1, out.events);
    meshsim::check::evaluate(&out.world, &report).into_iter().map(|v| (v.passed, v.measured, v.bound)).collect()
}

/// The ejection kinds pin what happened above exactly: which host, by which proxy, when, with
/// which multiplier, for how long; and count them with filters.
#[test]
fn expectations_about_single_ejections() {
    let v = verdicts(
        r#"
[[expect]]
name = "first"
kind = "ejection"
endpoint = "a/0"
proxy = "c"
at = "1.007s"
multiplier = 1
ejected_for = "3.043s"
[[expect]]
name = "second, off by a nanosecond"
kind = "ejection"
nth = 2
at = "4.507000001s"
[[expect]]
name = "second, within a millisecond"
kind = "ejection"
nth = 2
at = "4.5s"
tolerance = "7ms"
ejected_for = "6.543s"
[[expect]]
name = "third is still out"
kind = "ejection"
nth = 3
multiplier = 3
ejected_for = "1s"
[[expect]]
name = "no fourth"
kind = "ejection"
nth = 4
[[expect]]
name = "none in the first second"
kind = "ejection"
to = "1s"
"#,
    );
    assert_eq!(
        v[0],
        (
            true,
            "the first ejection over the run: a/0 by c-0 at 1.007s, x1, out for 3.043s (until 4.05s)".into(),
            "at 1.007s, x1, out for 3.043s".into()
        )
    );
    assert_eq!(
        v[1],
        (
            false,
            "ejection #2 over the run: a/0 by c-0 at 4.507s, x2, out for 6.543s (until 11.05s)".into(),
            "at 4.507000001s".into()
        )
    );
    assert_eq!((v[2].0, v[2].2.as_str()), (true, "at 4.5s ± 0.007s, out for 6.543s ± 0.007s"));
    assert_eq!(
        (v[3].0, v[3].1.as_str()),
        (false, "ejection #3 over the run: a/0 by c-0 at 11.507s, x3, still ejected at the end of the run")
    );
    assert_eq!((v[4].0, v[4].1.as_str(), v[4].2.as_str()), (false, "no ejection #4 over the run", "some ejection"));
    assert_eq!((v[5].0, v[5].1.as_str()), (false, "no ejection in 0s-1s"));
}

#[test]
fn expectations_count_ejections_retries_and_attempts() {
    let v = verdicts(
        r#"
[[expect]]
name = "three ejections of a/0 by c-0"
kind = "ejections"
endpoint = "a/0"
proxy = "c-0"
min = 3
max = 3
[[expect]]
name = "one with multiplier 2"
kind = "ejections"
multiplier = 2
max = 1
min = 1
[[expect]]
name = "no retries"
kind = "retries"
max = 0
[[expect]]
name = "20 attempts to a/0"
kind = "attempts"
endpoint = "a/0"
proxy = "c"
min = 20
max = 20
[[expect]]
name = "attempts in the phase"
kind = "attempts"
phase = "healthy + a scripted"
locality = "a"
min = 21
"#,
    );
    let got: Vec<(bool, &str)> = v.iter().map(|(p, m, _)| (*p, m.as_str())).collect();
    assert_eq!(
        got,
        [
            (true, "3 ejections of a/0 by c-0 over the run"),
            (true, "1 ejections with multiplier 2 over the run"),
            (true, "0 retries over the run"),
            (true, "20 attempts to a/0 by c over the run"),
            (false, "20 attempts to a endpoints in phase \"healthy + a scripted\""),
        ]
    );
    assert_eq!(v[3].2, "exactly 20");
    assert_eq!(v[4].2, "at least 21");
}

#[test]
fn expectation_fields_are_checked() {
    for (table, why) in [
        ("kind = \"ejection\"\nendpoint = \"b/0\"", "expect[0].endpoint: `b/0` is not a pod: write `cluster/ordinal`"),
        (
            "kind = \"ejection\"\nproxy = \"cc\"",
            "expect[0].proxy: no proxy or proxy group named `cc` (groups: c; a replica is `GROUP-N`); did you mean `c`?",
        ),
        ("kind = \"ejection\"\nnth = 0", "expect[0].nth: counts from 1"),
        ("kind = \"ejection\"\ntolerance = \"1ms\"", "expect[0].tolerance: applies to `at` and `ejected_for`"),
        ("kind = \"ejection\"\nmin = 1", "expect[0].min: does not apply to kind `ejection`"),
        ("kind = \"attempts\"\nmin = 1\nfrom = \"1s\"", "expect[0].from: attempts per host are counted per phase"),
        ("kind = \"retries\"", "expect[0].max: kind `retries` needs `min`, `max` or both"),
        ("kind = \"ejections\"\nlocality = \"a\"\nendpoint = \"a/0\"\nmin = 1", "give either `locality` or `endpoint`"),
        ("kind = \"ejectoin\"", "did you mean \"ejection\"?"),
    ] {
        let err = parse(&format!("{LAB}[[expect]]\nname = \"x\"\n{table}\n")).unwrap_err().to_string();
        assert!(err.contains(why), "{table}: {err}");
    }
}

/// A share over a window in which nothing at all was sent is 0 of 0: undefined. The
/// expectation fails and says so, even with `max = 0` (decided: never read as 0). From 1.1 s
/// to 4.0 s the only host is ejected and every request ends with "no healthy upstream".
#[test]
fn a_share_of_no_attempts_fails_explicitly() {
    let v = verdicts(
        "[[expect]]\nname = \"nothing\"\nkind = \"share\"\nlocality = \"a\"\nfrom = \"1.1s\"\nto = \"4s\"\nmax = 0.0\n",
    );
    assert_eq!(
        v[0],
        (false, "no upstream attempts in 1.1s-4s, so no share of a".to_string(), "in [0.000, 0.000]".to_string())
    );
}

/// Issue 15: `kind = "in-flight"` counts the requests still waiting at an instant. One pod, no
/// timeout anywhere (Istio's default route has none), HTTP/1.1 keep-alive; one request a second
/// from 1 s, each answered 7 ms later unless it hangs. The pod's script answers 200, hang, 200,
/// hang, then healthy:
/// * 1 s: a new connection, 200; 2 s: reuses it and hangs (on an open connection nothing ever
///   comes back and no timeout ends it: hung); 3 s: the first connection is busy, so a second
///   one opens, 200; 4 s: reuses the second and hangs; 5 s and 6 s: a third connection, 200.
/// * In flight at 3.5 s: the 2 s request (1, hung); at the end of the phase "scripted" (the
///   recover at 4.5 s, which ends the script but not what already hangs) both hung ones; at the
///   run's end still those 2, hung; at 1.003 s the first request is on its way (1, not hung).
#[test]
fn in_flight_counts_the_requests_left_hanging() {
    let text = r#"name = "t"
duration = "10s"
[[clusters]]
name = "a"
region = "r1"
zone = "z1"
[network]
same_zone = "1ms"
jitter = 0.0
[service]
host = "svc.default.svc.cluster.local"
service_time = { distribution = "constant", mean = "5ms" }
deployments = [{ cluster = "a", replicas = 1 }]
[[proxies]]
name = "client"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "client"
times = ["1s", "2s", "3s", "4s", "5s", "6s"]
[[faults]]
at = "0.5s"
action = "script"
cluster = "a"
name = "scripted"
responses = [200, "hang", 200, "hang"]
[[faults]]
at = "4.5s"
action = "recover"
cluster = "a"
name = "recovered"
[[expect]]
name = "one hangs at 3.5 s"
kind = "in-flight"
at = "3.5s"
hung = true
min = 1
max = 1
[[expect]]
name = "one in flight at 3.5 s"
kind = "in-flight"
at = "3.5s"
min = 1
max = 1
[[expect]]
name = "the first on its way at 1.003 s, not hung"
kind = "in-flight"
at = "1.003s"
min = 1
max = 1
[[expect]]
name = "none hung at 1.003 s"
kind = "in-flight"
at = "1.003s"
hung = true
max = 0
[[expect]]
name = "two hung when the script ends"
kind = "in-flight"
phase = "scripted"
hung = true
min = 2
max = 2
[[expect]]
name = "two in flight at the end of the run, both hung"
kind = "in-flight"
min = 2
max = 2
[[expect]]
name = "two hung at the end of the run"
kind = "in-flight"
hung = true
min = 2
max = 2
[[expect]]
name = "a wrong bound fails"
kind = "in-flight"
max = 1
"#;
    let s = parse(text).unwrap();
    let out = meshsim::model::run(Arc::new(s), 1).unwrap();
    let r = meshsim::metrics::report::report(&out.world, 1, out.events);
    assert_eq!((r.hung, r.in_flight_at_end), (2, 2));
    let v = meshsim::check::evaluate(&out.world, &r);
    let got: Vec<(bool, &str)> = v.iter().map(|v| (v.passed, v.measured.as_str())).collect();
    assert_eq!(
        got,
        [
            (true, "1 hung requests at 3.5s"),
            (true, "1 requests in flight at 3.5s"),
            (true, "1 requests in flight at 1.003s"),
            (true, "0 hung requests at 1.003s"),
            (true, "2 hung requests at the end of phase \"scripted\" (4.5s)"),
            (true, "2 requests in flight at the end of the run"),
            (true, "2 hung requests at the end of the run"),
            (false, "2 requests in flight at the end of the run"),
        ]
    );
}
