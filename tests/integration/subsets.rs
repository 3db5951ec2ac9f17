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
