//! DestinationRule subsets (issue 13 item 1): one Envoy cluster per subset per proxy, holding the
//! pods whose labels match, with the subset's merged policy and its own outlier detector.

use std::sync::Arc;

use meshsim::metrics::recorder::ClientOutcome;
use meshsim::model::world::World;

use crate::util::{load, parse, run};

fn finished(w: &World, o: ClientOutcome) -> u64 {
    (0..w.rec.n_slots()).map(|s| u64::from(w.rec.finished_in(s, o))).sum()
}

fn world(text: &str) -> World {
    meshsim::model::run(Arc::new(parse(text).unwrap_or_else(|e| panic!("{e}"))), 1).expect("run").world
}

/// Two regions of two pods each; `labels_a` / `labels_b` are each deployment's extra fields, and
/// `policy` the DestinationRule and VirtualService.
fn lab(labels_a: &str, labels_b: &str, policy: &str) -> String {
    format!(
        r#"
name = "t"
duration = "10s"
[[clusters]]
name = "a"
region = "r1"
[[clusters]]
name = "b"
region = "r2"
[service]
host = "svc.default.svc.cluster.local"
[[service.deployments]]
cluster = "a"
replicas = 2
{labels_a}
[[service.deployments]]
cluster = "b"
replicas = 2
{labels_b}
[[proxies]]
name = "p"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "p"
rate = 100
arrivals = "uniform"
{policy}
"#
    )
}

const V1_ROUTE: &str = r#"
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
[[policy.destination_rule.subsets]]
name = "v1"
labels = { version = "v1" }
[policy.virtual_service]
hosts = ["svc.default.svc.cluster.local"]
[[policy.virtual_service.http]]
route = [{ destination = { host = "svc.default.svc.cluster.local", subset = "v1" } }]
"#;

/// A subset selects by labels: only B's pods carry `version: v1`, so every attempt goes to B,
/// while the default cluster (unused by the route) still holds all four pods.
#[test]
fn a_subset_cluster_holds_only_the_pods_with_its_labels() {
    let w = world(&lab("", "labels = { version = \"v1\" }", V1_ROUTE));
    let p = &w.proxies[0];
    let names: Vec<&str> = p.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["outbound|80||svc.default.svc.cluster.local", "outbound|80|v1|svc.default.svc.cluster.local"]);
    let members = |c: usize| p.clusters[c].hosts.iter().filter(|h| h.member).count();
    assert_eq!((members(0), members(1)), (4, 2));
    assert_eq!(p.route_cluster, Some(1));
    let rows = meshsim::metrics::hosts::host_rows(&w);
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.endpoint.starts_with("b/")), "{rows:?}");
    // 100 req/s, uniform, 10 s: 1000 requests, all sent to B; those not still on their way back
    // at the end succeeded.
    assert_eq!(rows.iter().map(|r| r.attempts).sum::<u64>(), 1000);
    assert_eq!(finished(&w, ClientOutcome::Success) + w.clients_in_flight, 1000);
}

/// The issue's trap: the subset selects no pod, so its cluster has no endpoints and every
/// request is a local 503 "no healthy upstream" that never reaches a pod; the lint says so.
#[test]
fn a_subset_that_selects_no_pod_fails_every_request() {
    let text = lab("labels = { version = \"v2\" }", "labels = { version = \"v2\" }", V1_ROUTE);
    let w = world(&text);
    assert_eq!(finished(&w, ClientOutcome::NoHealthyUpstream), 1000);
    assert_eq!(finished(&w, ClientOutcome::Success), 0);
    assert!(meshsim::metrics::hosts::host_rows(&w).is_empty(), "no pod is ever attempted");
    let lints = meshsim::explain::lint::lint_scenario(&parse(&text).unwrap());
    assert!(lints.iter().any(|l| l.code == "subset-selects-no-pod"), "{lints:?}");
}

/// A route to a subset the DestinationRule does not define names a cluster Istio never built:
/// Envoy answers 503 NC at once, counted with no_healthy_upstream; its own lint names it.
#[test]
fn a_route_to_an_undefined_subset_fails_every_request() {
    let policy = V1_ROUTE.replace("subset = \"v1\"", "subset = \"v9\"");
    let text = lab("labels = { version = \"v1\" }", "labels = { version = \"v1\" }", &policy);
    let w = world(&text);
    assert_eq!(w.proxies[0].route_cluster, None);
    assert_eq!(finished(&w, ClientOutcome::NoHealthyUpstream), 1000);
    let lints = meshsim::explain::lint::lint_scenario(&parse(&text).unwrap());
    assert!(lints.iter().any(|l| l.code == "subset-not-defined"), "{lints:?}");
}

/// The subset's policy is merged over the top-level one: the top level has no outlier detection,
/// the subset ejects at the first 5xx. Pod a/0 answers 503 from 2 s on: the subset's cluster
/// ejects it (consecutive5xxErrors 1, maxEjectionPercent 100) at its first 503, for the 30 s
/// baseEjectionTime, so it stays out to the end; the default cluster (no outlierDetection)
/// never ejects anything.
#[test]
fn a_subset_policy_brings_its_own_outlier_detection() {
    let policy = format!(
        "{V1_ROUTE}
[policy.destination_rule.subsets.trafficPolicy.outlierDetection]
consecutive5xxErrors = 1
interval = \"1s\"
baseEjectionTime = \"30s\"
maxEjectionPercent = 100
[[faults]]
at = \"2s\"
action = \"http-error\"
cluster = \"a\"
pods = [0]
status = 503
"
    );
    let text = lab("labels = { version = \"v1\" }", "labels = { version = \"v1\" }", &policy);
    let w = world(&text);
    let p = &w.proxies[0];
    assert!(p.clusters[0].outlier.is_none(), "the default cluster has no outlier detection");
    let od = p.clusters[1].outlier.as_ref().expect("the subset's cluster has it");
    assert_eq!(od.active_ejections(), 1);
    assert_eq!(p.clusters[1].n_ejected, 1);
    // Exactly one 503 reaches the client: the one that ejected a/0 (no retry of 503 on Istio's
    // default policy since 1.24).
    assert_eq!(finished(&w, ClientOutcome::Upstream5xx), 1);
    let events = meshsim::output::events_jsonl(&w);
    let eject = events.lines().find(|l| l.contains("\"event\":\"eject\"")).expect("an ejection");
    assert!(eject.contains("\"cluster_name\":\"outbound|80|v1|svc.default.svc.cluster.local\""), "{eject}");
    // `ejections.csv` names the same cluster.
    let rows = meshsim::output::ejection_records(&w);
    let named: Vec<(&str, &str, &str)> =
        rows.iter().map(|r| (r.proxy.as_str(), r.cluster.as_str(), r.endpoint.as_str())).collect();
    assert_eq!(named, [("p-0", "outbound|80|v1|svc.default.svc.cluster.local", "a/0")]);
}

/// The merged configuration of every cluster is validated as Envoy validates it: a subset whose
/// `baseEjectionTime` exceeds `[envoy_outlier] max_ejection_time` is refused, naming the subset,
/// its cluster and both fields.
#[test]
fn a_subset_policy_envoy_rejects_is_refused() {
    let policy = format!(
        "{V1_ROUTE}
[policy.destination_rule.subsets.trafficPolicy.outlierDetection]
consecutive5xxErrors = 1
baseEjectionTime = \"10s\"
[policy.destination_rule.trafficPolicy.outlierDetection]
baseEjectionTime = \"2s\"
[envoy_outlier]
max_ejection_time = \"5s\"
"
    );
    let Err(e) = parse(&lab("", "", &policy)) else { panic!("accepted") };
    let e = e.to_string();
    for needle in [
        "envoy_outlier.max_ejection_time",
        "subset `v1`",
        "outbound|80|v1|svc.default.svc.cluster.local",
        "subsets[name=v1].trafficPolicy.outlierDetection.baseEjectionTime",
    ] {
        assert!(e.contains(needle), "{needle}: {e}");
    }
}

/// Across networks: B (`v1`) and C (`v2`) share network2, each behind its own east-west gateway.
/// The client's subset cluster reaches only B's gateway (C's pods are not in the subset, so C's
/// gateway gets no weight), and B's gateway, which sees every pod of network2, forwards through
/// its own cluster `outbound_.80_.v1_.HOST` to the subset's pods only: B's.
#[test]
fn an_east_west_gateway_forwards_a_subset_to_its_pods_only() {
    let text = r#"
name = "t"
duration = "10s"
[[clusters]]
name = "a"
region = "r1"
[[clusters]]
name = "b"
region = "r2"
network = "network2"
[[clusters]]
name = "c"
region = "r2"
network = "network2"
[service]
host = "svc.default.svc.cluster.local"
[[service.deployments]]
cluster = "b"
replicas = 2
labels = { version = "v1" }
[[service.deployments]]
cluster = "c"
replicas = 2
labels = { version = "v2" }
[[east_west_gateways]]
cluster = "b"
balance = "request"
[[east_west_gateways]]
cluster = "c"
balance = "request"
[[proxies]]
name = "p"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "p"
rate = 100
arrivals = "uniform"
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
[[policy.destination_rule.subsets]]
name = "v1"
labels = { version = "v1" }
[policy.virtual_service]
hosts = ["svc.default.svc.cluster.local"]
[[policy.virtual_service.http]]
route = [{ destination = { host = "svc.default.svc.cluster.local", subset = "v1" } }]
"#;
    let w = world(text);
    let gw = w.proxies.iter().find(|p| p.tcp_passthrough).expect("a gateway");
    let names: Vec<&str> = gw.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["outbound_.80_._.svc.default.svc.cluster.local", "outbound_.80_.v1_.svc.default.svc.cluster.local"]
    );
    let members = |c: usize| gw.clusters[c].hosts.iter().filter(|h| h.member).count();
    assert_eq!((members(0), members(1)), (4, 2), "the gateway sees network2's pods, its v1 cluster B's");
    let client = &w.proxies[0];
    let subset_hosts: Vec<String> = (0..client.clusters[1].hosts.len())
        .filter(|&h| client.clusters[1].hosts[h].member)
        .map(|h| meshsim::output::endpoint_name(&w, meshsim::model::ids::EndpointId(h as u32)))
        .collect();
    assert_eq!(subset_hosts, ["eastwest-b-0"], "only B's gateway stands for the subset");
    let rows = meshsim::metrics::hosts::host_rows(&w);
    let gateway_rows: Vec<_> = rows.iter().filter(|r| r.proxy.starts_with("eastwest-")).collect();
    assert!(!gateway_rows.is_empty());
    assert!(gateway_rows.iter().all(|r| r.proxy == "eastwest-b-0" && r.endpoint.starts_with("b/")), "{gateway_rows:?}");
    // 1000 requests, all sent to B's gateway; each that reached it by the end went on to a v1
    // pod of B.
    let to_gateway: u64 = rows.iter().filter(|r| r.proxy == "p-0").map(|r| r.attempts).sum();
    assert_eq!(to_gateway, 1000);
    let forwarded: u64 = gateway_rows.iter().map(|r| r.attempts).sum();
    assert!(forwarded <= 1000 && forwarded + w.clients_in_flight >= 1000, "{forwarded}");
    assert_eq!(finished(&w, ClientOutcome::Success) + w.clients_in_flight, 1000);
}

/// The catalogue scenario's two halves at a glance: labelled v1 the subset's cluster behaves as
/// the seed lab's (ejections while A fails, no "no healthy upstream"); labelled v2 nothing works.
#[test]
fn the_catalogue_subset_scenario_runs_both_ways() {
    let r = run(&load("subset-outlier-detection.toml", &[]), 1);
    assert_eq!(r.ejections, 6);
    let v2 = ["service.deployments[0].labels.version=\"v2\"", "service.deployments[1].labels.version=\"v2\""];
    let r = run(&load("subset-outlier-detection.toml", &v2), 1);
    assert_eq!(r.ejections, 0);
    assert_eq!(r.errors, r.requests);
}

/// An east-west gateway with two clusters in use: clients in `default` route to the service
/// (the gateway's default cluster, SNI `outbound_.80_._.HOST`), clients in `team` to subset `v1`
/// (its `outbound_.80_.v1_.HOST`). B's pods carry `version: v1`, so both clusters of `eastwest-b-0`
/// send to the same pods: `hosts.csv` keeps one row per (phase, proxy, cluster, host), never a
/// sum over clusters, and an `attempts` expectation can count one subset's cluster.
#[test]
fn hosts_csv_counts_each_cluster_of_a_proxy_apart() {
    let tmp = crate::scratch::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("rules.yaml"),
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: svc\n  namespace: default\n\
         spec:\n  host: svc.default.svc.cluster.local\n  subsets:\n  - name: v1\n    labels:\n      version: v1\n---\n\
         apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: svc\n  namespace: team\n\
         spec:\n  hosts: [svc.default.svc.cluster.local]\n  exportTo: [\".\"]\n  http:\n  - route:\n    - destination:\n        \
         host: svc.default.svc.cluster.local\n        subset: v1\n",
    )
    .unwrap();
    let scenario = |expect: &str| {
        format!(
            r#"
name = "t"
duration = "10s"
[[clusters]]
name = "a"
region = "r1"
[[clusters]]
name = "b"
region = "r2"
network = "network2"
[service]
host = "svc.default.svc.cluster.local"
[[service.deployments]]
cluster = "b"
replicas = 2
labels = {{ version = "v1" }}
[[east_west_gateways]]
cluster = "b"
balance = "request"
[policy]
manifests = ["rules.yaml"]
[[proxies]]
name = "p"
kind = "sidecar"
cluster = "a"
[[proxies]]
name = "q"
kind = "sidecar"
cluster = "a"
namespace = "team"
[[workload]]
proxy = "p"
rate = 100
arrivals = "uniform"
[[workload]]
proxy = "q"
rate = 50
arrivals = "uniform"
{expect}
"#
        )
    };
    let attempts = |subset: &str, max: u32| {
        format!(
            "[[expect]]\nname = \"{subset} {max}\"\nkind = \"attempts\"\nproxy = \"eastwest-b-0\"\nsubset = \"{subset}\"\n\
             max = {max}\n"
        )
    };
    std::fs::write(tmp.path().join("s.toml"), scenario(&attempts("v1", 500))).unwrap();
    let s = meshsim::scenario::load(&tmp.path().join("s.toml"), &[]).unwrap();
    let out = meshsim::model::run(Arc::new(s), 1).unwrap();
    let w = &out.world;
    let rows = meshsim::metrics::hosts::host_rows(w);
    let sent = |proxy: &str, cluster: &str| -> u64 {
        rows.iter().filter(|r| r.proxy == proxy && r.cluster == cluster).map(|r| r.attempts).sum()
    };
    const HOST: &str = "svc.default.svc.cluster.local";
    // 1000 requests from p to the default cluster, 500 from q to v1's, all to B's gateway.
    assert_eq!(sent("p-0", &format!("outbound|80||{HOST}")), 1000);
    assert_eq!(sent("q-0", &format!("outbound|80|v1|{HOST}")), 500);
    let gw = |cluster: &str| sent("eastwest-b-0", &format!("outbound_.80_.{cluster}_.{HOST}"));
    let (default, v1) = (gw(""), gw("v1"));
    // Each request that reached the gateway by the end went on through the cluster its SNI names.
    assert!(default <= 1000 && default + 10 >= 1000, "{default}");
    assert!(v1 <= 500 && v1 + 10 >= 500, "{v1}");
    // Both clusters sent to both pods: four rows, one per (cluster, pod).
    let gateway_rows: Vec<(&str, &str)> =
        rows.iter().filter(|r| r.proxy == "eastwest-b-0").map(|r| (r.cluster.as_str(), r.endpoint.as_str())).collect();
    assert_eq!(gateway_rows.len(), 4, "{gateway_rows:?}");
    // The expectation counts the gateway's v1 cluster only.
    let report = meshsim::metrics::report::report(w, 1, out.events);
    let verdicts = meshsim::check::evaluate(w, &report);
    assert_eq!(verdicts.len(), 1);
    assert!(verdicts[0].passed, "{verdicts:?}");
    assert!(verdicts[0].measured.starts_with(&format!("{v1} attempts by eastwest-b-0 in subset v1 ")), "{verdicts:?}");
    // A subset no DestinationRule defines is refused, with the ones that exist.
    std::fs::write(tmp.path().join("s.toml"), scenario(&attempts("v2", 500))).unwrap();
    let e = meshsim::scenario::load(&tmp.path().join("s.toml"), &[]).map(|_| ()).expect_err("refused").to_string();
    assert!(
        e.contains("expect[0].subset") && e.contains("no DestinationRule in force defines a subset `v2` (subsets: v1)"),
        "{e}"
    );
}

/// Two client groups whose routes name different ports of the service (`sourceLabels` picks the
/// route): Istio builds a cluster per service port, so group `a` uses `outbound|8080||HOST` and
/// group `b` `outbound|9090||HOST`, each with its port's `portLevelSettings` entry, which replaces
/// the top-level policy (`MergeSubsetTrafficPolicy`): `a` ejects after 5 consecutive 5xx (top
/// level), `b` after 1 (its port's entry). Before, both took the first route's port (8080) and
/// the top-level policy. A table naming two ports in one group is linted
/// (`route-port-simplified`).
#[test]
fn each_group_builds_the_clusters_of_the_port_its_routes_name() {
    let text = |b_port: &str| {
        format!(
            r#"
name = "t"
duration = "10s"
[[clusters]]
name = "a"
region = "r1"
[service]
host = "svc.default.svc.cluster.local"
[[service.deployments]]
cluster = "a"
replicas = 2
[[proxies]]
name = "a"
kind = "sidecar"
cluster = "a"
labels = {{ app = "a" }}
[[proxies]]
name = "b"
kind = "sidecar"
cluster = "a"
labels = {{ app = "b" }}
[[workload]]
proxy = "a"
rate = 10
[[workload]]
proxy = "b"
rate = 10
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
[policy.destination_rule.trafficPolicy]
outlierDetection = {{ consecutive5xxErrors = 5 }}
portLevelSettings = [{{ port = {{ number = 9090 }}, outlierDetection = {{ consecutive5xxErrors = 1 }} }}]
[policy.virtual_service]
hosts = ["svc.default.svc.cluster.local"]
[[policy.virtual_service.http]]
match = [{{ sourceLabels = {{ app = "a" }} }}]
route = [{{ destination = {{ host = "svc.default.svc.cluster.local", port = {{ number = 8080 }} }} }}]
[[policy.virtual_service.http]]
match = [{{ sourceLabels = {{ app = "b" }} }}]
route = [{{ destination = {{ host = "svc.default.svc.cluster.local", port = {{ number = {b_port} }} }} }}]
"#
        )
    };
    let s = Arc::new(parse(&text("9090")).unwrap_or_else(|e| panic!("{e}")));
    let (w, _) = meshsim::model::build::build(s.clone(), 1);
    let got: Vec<(&str, &str, u32)> = w
        .proxies
        .iter()
        .map(|p| {
            let c = &p.clusters[0];
            (p.name.as_str(), c.name.as_str(), c.config.outlier.as_ref().expect("outlier detection").consecutive_5xx)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a-0", "outbound|8080||svc.default.svc.cluster.local", 5),
            ("b-0", "outbound|9090||svc.default.svc.cluster.local", 1)
        ]
    );
    let snap = meshsim::explain::snapshot(s.clone(), 1, meshsim::engine::SimTime::ZERO).unwrap();
    let names: Vec<&str> = snap.proxies.iter().map(|p| p.envoy_cluster.as_str()).collect();
    assert_eq!(names, ["outbound|8080||svc.default.svc.cluster.local", "outbound|9090||svc.default.svc.cluster.local"]);
    assert!(!meshsim::explain::lint_scenario(&s).iter().any(|l| l.code == "route-port-simplified"));
    // One group whose table names both ports: linted, and its clusters are the first port's.
    let both = text("9090")
        .replace("sourceLabels = { app = \"a\" }", "sourceLabels = { app = \"a\" }, uri = { prefix = \"/a\" }")
        .replace("sourceLabels = { app = \"b\" }", "sourceLabels = { app = \"a\" }");
    let s2 = parse(&both).unwrap_or_else(|e| panic!("{e}"));
    let lint =
        meshsim::explain::lint_scenario(&s2).into_iter().find(|l| l.code == "route-port-simplified").expect("lint");
    assert!(lint.reason.starts_with("proxies a: the routes name ports 8080, 9090"), "{}", lint.reason);
}
