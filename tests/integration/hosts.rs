//! Routes to other hosts (issue 13 item 2, last part): `[[services]]` declares the other
//! Kubernetes Services a VirtualService sends to, each with its own pods, DestinationRule and
//! Envoy clusters `outbound|PORT|SUBSET|HOST` in every client proxy.

use std::sync::Arc;

use meshsim::metrics::report::RunReport;
use meshsim::model::world::World;

use crate::util;

const SVC: &str = "svc.default.svc.cluster.local";
const SVC2: &str = "svc2.default.svc.cluster.local";

/// `bin::BASE` with the main service's pods in cluster a only, a second host `svc2` with 2 pods
/// in cluster b, a VirtualService splitting `w1`/`w2` across them, and `extra` appended.
fn two_hosts(w1: u32, w2: u32, extra: &str) -> String {
    let base = crate::bin::BASE.replace(
        "deployments = [{ cluster = \"a\", replicas = 2 }, { cluster = \"b\", replicas = 2 }]",
        "deployments = [{ cluster = \"a\", replicas = 2 }]",
    );
    format!(
        "{base}
[[services]]
host = \"{SVC2}\"
deployments = [{{ cluster = \"b\", replicas = 2 }}]
[policy.virtual_service]
hosts = [\"{SVC}\"]
[[policy.virtual_service.http]]
route = [{{ destination = {{ host = \"svc\" }}, weight = {w1} }}, {{ destination = {{ host = \"svc2\" }}, weight = {w2} }}]
{extra}"
    )
}

fn parse(text: &str) -> meshsim::scenario::Scenario {
    util::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn refused(text: &str) -> String {
    util::parse(text).map(|_| ()).expect_err("refused").to_string()
}

fn world(text: &str, seed: u64) -> World {
    meshsim::model::run(Arc::new(parse(text)), seed).unwrap().world
}

fn report(w: &World, seed: u64) -> RunReport {
    meshsim::metrics::report::report(w, seed, 0)
}

/// Attempts per locality (`r1`: cluster a, the main service's pods; `r2`: cluster b, svc2's).
fn attempts(r: &RunReport, locality_prefix: &str) -> u64 {
    r.locality_rows.iter().filter(|x| x.locality.starts_with(locality_prefix)).map(|x| x.attempts).sum()
}

/// Each client proxy holds one cluster per host, named after it, with that host's pods only.
#[test]
fn each_host_is_its_own_cluster_with_its_own_pods() {
    let w = world(&two_hosts(50, 50, ""), 1);
    let p = &w.proxies[0];
    let names: Vec<&str> = p.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, [format!("outbound|80||{SVC}"), format!("outbound|80||{SVC2}")]);
    let members = |c: usize| -> Vec<String> {
        (0..w.pods.len())
            .filter(|&i| p.clusters[c].hosts.get(i).is_some_and(|h| h.member))
            .map(|i| meshsim::output::endpoint_name(&w, meshsim::model::ids::EndpointId(i as u32)))
            .collect()
    };
    assert_eq!(members(0), ["a/0", "a/1"]);
    assert_eq!(members(1), ["b/svc2-0", "b/svc2-1"]);
}

/// A 50/50 split across two hosts: each request picks a host with probability 1/2. Over 20 seeds
/// of ~200 requests (about 4 000), the share of attempts to svc2's pods is 0.5 within 3σ,
/// σ = sqrt(0.25 / n) ≈ 0.008. Before `[[services]]` the route was refused.
#[test]
fn a_fifty_fifty_split_across_two_hosts() {
    let text = two_hosts(50, 50, "");
    let (mut b, mut all) = (0u64, 0u64);
    for seed in 1..=20 {
        let r = report(&world(&text, seed), seed);
        assert_eq!(r.errors, 0);
        b += attempts(&r, "r2");
        all += attempts(&r, "r1") + attempts(&r, "r2");
    }
    assert!(all > 3500, "{all}");
    let share = b as f64 / all as f64;
    let sigma = (0.25 / all as f64).sqrt();
    assert!((share - 0.5).abs() < 3.0 * sigma, "{share} of {all} (3σ = {})", 3.0 * sigma);
}

/// Ejections per cluster name, from `ejections.csv`'s rows.
fn ejections_by_cluster(w: &World) -> (usize, usize) {
    let rows = meshsim::output::ejection_records(w);
    let of = |host: &str| rows.iter().filter(|r| r.cluster == format!("outbound|80||{host}")).count();
    assert_eq!(of(SVC) + of(SVC2), rows.len());
    (of(SVC), of(SVC2))
}

const OD: &str = "outlierDetection = { consecutive5xxErrors = 3, interval = \"1s\", baseEjectionTime = \"30s\", \
                  maxEjectionPercent = 100 }";

/// Every pod of both hosts answers 503 from 1 s. Each host's DestinationRule applies to its own
/// cluster only: with outlier detection in svc's rule alone, svc's 2 pods are each ejected once
/// (3 consecutive 503s; the 30 s base outlasts the run) and svc2's none; with it in svc2's rule
/// alone (a `[[policy.resources]]` rule), the reverse.
#[test]
fn each_hosts_destination_rule_applies_to_its_own_cluster_only() {
    let faults = "[[faults]]\nat = \"1s\"\naction = \"http-error\"\ncluster = \"a\"\nstatus = 503\n\
                  [[faults]]\nat = \"1s\"\naction = \"http-error\"\ncluster = \"b\"\nhost = \"svc2.default.svc.cluster.local\"\nstatus = 503\nphase = false\n";
    let main_dr = format!("[policy.destination_rule]\nhost = \"svc\"\ntrafficPolicy = {{ {OD} }}\n{faults}");
    let w = world(&two_hosts(50, 50, &main_dr), 1);
    assert!(w.proxies[0].clusters[0].outlier.is_some() && w.proxies[0].clusters[1].outlier.is_none());
    assert_eq!(ejections_by_cluster(&w), (2, 0));
    let other_dr = format!(
        "[[policy.resources]]\nkind = \"DestinationRule\"\nname = \"svc2\"\nnamespace = \"default\"\n\
         spec = {{ host = \"svc2\", trafficPolicy = {{ {OD} }} }}\n{faults}"
    );
    let w = world(&two_hosts(50, 50, &other_dr), 1);
    assert!(w.proxies[0].clusters[0].outlier.is_none() && w.proxies[0].clusters[1].outlier.is_some());
    assert_eq!(ejections_by_cluster(&w), (0, 2));
}

/// A fault with `host` hits that host's pods: svc2's pods answer 503 from 1 s, svc's never do.
/// Istio 1.31's default retry policy does not retry 503, and there is no outlier detection, so
/// every attempt the split sends to svc2 after 1 s fails, and svc's pods never answer 5xx.
#[test]
fn a_fault_names_the_other_hosts_pods() {
    let fault = "[[faults]]\nat = \"1s\"\naction = \"http-error\"\ncluster = \"b\"\nhost = \"svc2\"\nstatus = 503\n";
    // A fault names the host as declared (its FQDN), with a hint when it does not.
    let e = refused(&two_hosts(50, 50, fault));
    assert!(e.contains("faults[0].host") && e.contains("no service `svc2`"), "{e}");
    assert!(e.contains(&format!("did you mean `{SVC2}`")), "{e}");
    let w = world(&two_hosts(50, 50, &fault.replace("\"svc2\"", &format!("\"{SVC2}\""))), 1);
    let rows = meshsim::metrics::hosts::host_rows(&w);
    let sum = |host: &str, phase: usize, f: fn(&meshsim::metrics::hosts::HostRow) -> u64| -> u64 {
        let phase_name = &w.scenario.phases[phase].name;
        rows.iter().filter(|r| &r.phase == phase_name && r.cluster == format!("outbound|80||{host}")).map(f).sum()
    };
    // Counts go to the phase in which they happen: an attempt when sent, its status when
    // answered. Every svc2 attempt sent after the fault fails (those still in flight at the end
    // have no answer yet), and every svc2 success was sent before it.
    let in_flight_at_end = report(&w, 1).in_flight_at_end;
    assert!(sum(SVC2, 1, |r| r.status_5xx) > 20);
    assert!(sum(SVC2, 1, |r| r.attempts) - sum(SVC2, 1, |r| r.status_5xx) <= in_flight_at_end);
    assert!(sum(SVC2, 0, |r| r.status_2xx) + sum(SVC2, 1, |r| r.status_2xx) <= sum(SVC2, 0, |r| r.attempts));
    assert_eq!(sum(SVC2, 0, |r| r.status_5xx), 0);
    assert_eq!(sum(SVC, 1, |r| r.status_5xx), 0);
    // Without `host`, a fault names `[service]`'s pods: it has none in cluster b.
    let e = refused(&two_hosts(50, 50, &fault.replace("host = \"svc2\"\n", "")));
    assert!(e.contains("faults[0].cluster") && e.contains("the service has no deployment in `b`"), "{e}");
}

/// A route to a host the scenario does not declare is refused for the request class that takes
/// it, naming the class, the route and the host, and saying how to declare it.
#[test]
fn a_route_to_an_undeclared_host_is_refused_by_name() {
    let text = two_hosts(50, 50, "").replace(
        "{ destination = { host = \"svc2\" }, weight = 50 }",
        "{ destination = { host = \"ratings\" }, weight = 50 }",
    );
    let e = refused(&text);
    assert!(e.contains("workload[0]") && e.contains("VirtualService default/inline http[0]"), "{e}");
    assert!(e.contains("ratings.default.svc.cluster.local, a host the scenario does not declare"), "{e}");
    assert!(
        e.contains("declare it as a [[services]] table with `host = \"ratings.default.svc.cluster.local\"`"),
        "{e}"
    );
}

/// `[[services]]` is checked by name: a duplicate, the main service's host, a wildcard, no
/// deployment, two deployments in one cluster, an unknown cluster, two hosts whose pods would
/// share a name, too many hosts.
#[test]
fn bad_services_are_refused_by_name() {
    let e = refused(&two_hosts(
        50,
        50,
        &format!("[[services]]\nhost = \"{SVC2}\"\ndeployments = [{{ cluster = \"a\", replicas = 1 }}]\n"),
    ));
    assert!(e.contains("services[1].host") && e.contains("declared twice"), "{e}");
    let e = refused(&two_hosts(
        50,
        50,
        &format!("[[services]]\nhost = \"{SVC}\"\ndeployments = [{{ cluster = \"a\", replicas = 1 }}]\n"),
    ));
    assert!(e.contains("services[1].host") && e.contains("[service]'s host"), "{e}");
    let e = refused(&two_hosts(
        50,
        50,
        "[[services]]\nhost = \"*.example.com\"\ndeployments = [{ cluster = \"a\", replicas = 1 }]\n",
    ));
    assert!(e.contains("services[1].host") && e.contains("wildcard"), "{e}");
    let e = refused(&two_hosts(50, 50, "[[services]]\nhost = \"x.default.svc.cluster.local\"\ndeployments = []\n"));
    assert!(e.contains("services[1].deployments") && e.contains("at least one"), "{e}");
    let e = refused(&two_hosts(
        50,
        50,
        "[[services]]\nhost = \"x.default.svc.cluster.local\"\ndeployments = [{ cluster = \"a\", replicas = 1 }, { cluster = \"a\", replicas = 1 }]\n",
    ));
    assert!(e.contains("services[1].deployments[1].cluster") && e.contains("one deployment per cluster"), "{e}");
    let e = refused(&two_hosts(
        50,
        50,
        "[[services]]\nhost = \"x.default.svc.cluster.local\"\ndeployments = [{ cluster = \"c\", replicas = 1 }]\n",
    ));
    assert!(e.contains("services[1].deployments[0].cluster") && e.contains("no cluster named `c`"), "{e}");
    let e = refused(&two_hosts(
        50,
        50,
        "[[services]]\nhost = \"svc2.other.svc.cluster.local\"\ndeployments = [{ cluster = \"a\", replicas = 1 }]\n",
    ));
    assert!(e.contains("services[1].host") && e.contains("share the name `svc2`"), "{e}");
    let many: String = (0..17)
        .map(|i| format!("[[services]]\nhost = \"h{i}.default.svc.cluster.local\"\ndeployments = [{{ cluster = \"a\", replicas = 1 }}]\n"))
        .collect();
    let e = refused(&format!("{}{many}", crate::bin::BASE));
    assert!(e.contains("services") && e.contains("declares 17 services; meshsim simulates at most 16"), "{e}");
    let e = refused(&two_hosts(50, 50, "").replace("host = \"svc2.default", "hots = \"x\"\nhost = \"svc2.default"));
    assert!(e.contains("hots") && e.contains("host"), "{e}");
}

/// A `[[services]]` host's own service time and protocol: svc2's pods take a constant 40 ms, so
/// every request the split sends there takes at least 40 ms, and svc's (5 ms exponential mean)
/// are mostly faster.
#[test]
fn each_host_has_its_own_service_time() {
    let text = two_hosts(0, 100, "").replace(
        "[[services]]\nhost = \"svc2.default.svc.cluster.local\"\n",
        "[[services]]\nhost = \"svc2.default.svc.cluster.local\"\nservice_time = { distribution = \"constant\", mean = \"40ms\" }\n",
    );
    let w = world(&text, 1);
    let r = report(&w, 1);
    assert_eq!(attempts(&r, "r1"), 0);
    assert!(r.phase_latency[0].total() > 150);
    // The lowest bucket's lower bound is within the histogram's bucket width of 40 ms.
    let low = r.phase_latency[0].min_bucket_low().unwrap();
    assert!(low >= 38_000_000, "{low}");
    // The same split to svc (its 5 ms exponential) has requests far below that.
    let r = report(
        &world(&text.replace("weight = 0 }", "weight = 100 }").replace("weight = 100 }]", "weight = 0 }]"), 1),
        1,
    );
    assert!(r.phase_latency[0].min_bucket_low().unwrap() < 5_000_000);
}

/// Multi-network: svc2's pods sit on network n2, behind an east-west gateway in cluster b. The
/// client's cluster for svc2 holds the gateway, weighted by svc2's pods behind it; the gateway
/// forwards by SNI through its own cluster of svc2 (`outbound_.80_._.svc2...`), whose endpoints
/// are svc2's pods only (not svc's pod in b). Every request succeeds, and the gateway's attempts
/// go to svc2's 2 pods alone.
#[test]
fn an_east_west_gateway_forwards_to_the_other_hosts_pods() {
    let text = two_hosts(0, 100, "[[east_west_gateways]]\ncluster = \"b\"\nreplicas = 1\n")
        .replace("name = \"b\"\nregion = \"r2\"", "name = \"b\"\nregion = \"r2\"\nnetwork = \"n2\"")
        .replace(
            "deployments = [{ cluster = \"a\", replicas = 2 }]",
            "deployments = [{ cluster = \"a\", replicas = 2 }, { cluster = \"b\", replicas = 1 }]",
        );
    let w = world(&text, 1);
    let r = report(&w, 1);
    assert_eq!(r.errors, 0);
    assert!(r.requests > 150);
    let gw = w.proxies.iter().position(|p| p.name.starts_with("eastwest-")).unwrap();
    let names: Vec<&str> = w.proxies[gw].clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, [format!("outbound_.80_._.{SVC}"), format!("outbound_.80_._.{SVC2}")]);
    let rows = meshsim::metrics::hosts::host_rows(&w);
    let gw_name = &w.proxies[gw].name;
    let mut gw_hosts: Vec<&str> =
        rows.iter().filter(|r| &r.proxy == gw_name && r.attempts > 0).map(|r| r.endpoint.as_str()).collect();
    gw_hosts.sort();
    gw_hosts.dedup();
    assert_eq!(gw_hosts, ["b/svc2-0", "b/svc2-1"]);
    let gw_attempts: u64 = rows.iter().filter(|r| &r.proxy == gw_name).map(|r| r.attempts).sum();
    let client_attempts: u64 = rows.iter().filter(|r| r.proxy == "p-0").map(|r| r.attempts).sum();
    // Each client attempt becomes one gateway attempt when it reaches the gateway (those still
    // on their way at the end have none yet).
    assert!(gw_attempts <= client_attempts && client_attempts - gw_attempts <= r.in_flight_at_end);
    assert!(rows.iter().filter(|r| r.proxy == "p-0").all(|r| r.cluster == format!("outbound|80||{SVC2}")));
}

/// `explain` lists every host's clusters with the endpoints in their EDS, marks the ones the
/// route's split reaches, and names the DestinationRule each `[[services]]` host's clusters are
/// built from.
#[test]
fn explain_lists_every_hosts_clusters_and_rules() {
    let dr = "[[policy.resources]]\nkind = \"DestinationRule\"\nname = \"svc2\"\nnamespace = \"default\"\n\
              spec = { host = \"svc2\", trafficPolicy = { loadBalancer = { simple = \"RANDOM\" } } }\n";
    let s = parse(&two_hosts(70, 30, dr));
    let snap = meshsim::explain::snapshot(Arc::new(s), 1, meshsim::engine::SimTime::ZERO).unwrap();
    let text = meshsim::explain::render(&snap, Some("p-0"));
    assert!(text.contains(&format!("    outbound|80||{SVC}: 2 endpoints  <- its route\n")), "{text}");
    assert!(
        text.contains(&format!("    outbound|80||{SVC2}: 2 endpoints  <- its route (a weighted destination)\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("applied     DestinationRule default/svc2 (policy.resources[0]): for host {SVC2}")),
        "{text}"
    );
    assert!(!text.contains("more resources are for other hosts"), "{text}");
    // Its balancer is that rule's: RANDOM in svc2's cluster, Istio's LEAST_REQUEST in svc's.
    let w = world(&two_hosts(70, 30, dr), 1);
    let lb = |c: usize| format!("{:?}", w.proxies[0].clusters[c].config.lb.policy);
    assert_eq!((lb(0).as_str(), lb(1).as_str()), ("LeastRequest { choice_count: 2 }", "Random"));
}

/// The settings `explain` (text, `--json`) and the report show for another host's cluster are the
/// ones it runs with: `[service]`'s `trafficDistribution` is a field of `[service]`'s Kubernetes
/// Service, so svc2's cluster has none (its locality setting is the mesh default, and its
/// failover priorities come from its own outlierDetection); its rule's `portLevelSettings` are
/// looked up with svc2's port (9080, the one its route destination names), not svc's (80).
#[test]
fn explain_shows_what_another_hosts_clusters_run_with() {
    let dr = "[[policy.resources]]\nkind = \"DestinationRule\"\nname = \"svc2\"\nnamespace = \"default\"\n\
              spec = { host = \"svc2\", trafficPolicy = { portLevelSettings = [\
              { port = { number = 9080 }, outlierDetection = { consecutive5xxErrors = 3 } }, \
              { port = { number = 80 }, loadBalancer = { simple = \"RANDOM\" } }] } }\n";
    let text = two_hosts(70, 30, dr)
        .replacen("[service]\n", "[service]\ntraffic_distribution = \"PreferClose\"\n", 1)
        .replace("{ host = \"svc2\" }", "{ host = \"svc2\", port = { number = 9080 } }");
    let s = parse(&text);
    // The model: svc2's cluster has outlier detection (port 9080's entry) and Istio's balancer.
    let w = world(&text, 1);
    let c = &w.proxies[0].clusters[1];
    assert_eq!(c.name, format!("outbound|9080||{SVC2}"));
    assert_eq!(c.config.outlier.as_ref().map(|o| o.consecutive_5xx), Some(3));
    assert_eq!(format!("{:?}", c.config.lb.policy), "LeastRequest { choice_count: 2 }");
    assert!(!c.config.lb.locality_weighted, "trafficDistribution is svc's only");
    let snap = meshsim::explain::snapshot(Arc::new(s.clone()), 1, meshsim::engine::SimTime::ZERO).unwrap();
    let p = &snap.proxies[0];
    let other = p.other_clusters.iter().find(|c| c.name.ends_with(SVC2)).expect("svc2's cluster");
    let get = |set: &[meshsim::explain::settings::Setting], name: &str| {
        let x = set.iter().find(|x| x.name.starts_with(name)).unwrap_or_else(|| panic!("{name}: {set:?}"));
        (x.value.clone(), x.source.label())
    };
    assert_eq!(get(&other.settings, "consecutive_5xx"), ("3 (enforced)".to_string(), "port-level"));
    assert_eq!(get(&other.settings, "lb_policy"), ("LEAST_REQUEST (2 choices)".to_string(), "Istio default"));
    assert_eq!(
        get(&other.settings, "locality setting"),
        ("the mesh localityLbSetting {enabled: true}".to_string(), "Istio default")
    );
    assert_eq!(
        get(&other.settings, "failover priorities").0,
        "on: outlierDetection is present, so endpoints are ranked by locality (P0 = closest)"
    );
    assert_eq!(
        get(&other.settings, "locality_weighted_lb_config").0,
        "off: hosts are picked across the priority, localities ignored"
    );
    // svc's own cluster keeps its trafficDistribution.
    let main = if p.settings.is_empty() { &snap.settings } else { &p.settings };
    assert!(get(main, "locality setting").0.contains("trafficDistribution"), "{main:?}");
    let text_out = meshsim::explain::render(&snap, Some("p-0"));
    assert!(text_out.contains("consecutive_5xx (consecutive5xxErrors)"), "{text_out}");
    let json = meshsim::explain::to_json(&snap, Some("p-0")).to_string();
    assert!(json.contains("the mesh localityLbSetting {enabled: true}"), "{json}");
    // The report has a table for svc2's cluster with the same values.
    let html = meshsim::output::html::report_html(&report(&w, 1), &s, &[], &[], &[]);
    let at = html.find(&format!("<h2>Settings in force (outbound|9080||{SVC2}, proxies p)</h2>")).expect("svc2 table");
    let table = &html[at..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(
        table.contains(
            "<tr><td>consecutive_5xx (consecutive5xxErrors)</td><td>port-level</td><td>3 (enforced)</td></tr>"
        ),
        "{table}"
    );
    assert!(table.contains("<tr><td>locality setting</td><td>Istio default</td>"), "{table}");
}

/// The blue-green catalogue scenario with `[[services]]`' DestinationRule spec replaced by `spec`
/// and `extra` appended to reviews-v2's deployments.
fn blue_green(spec: &str, extra_deployment: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/blue-green-by-host.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let old = "trafficPolicy = { loadBalancer = { simple = \"LEAST_REQUEST\" } }";
    assert!(text.contains(old));
    let text = text.replace(old, spec);
    let old = "[[services.deployments]]\ncluster = \"green\"\nreplicas = 2\n";
    assert!(text.contains(old));
    text.replace(old, &format!("{old}{extra_deployment}"))
}

/// The rule-level lints run on each `[[services]]` host's DestinationRule with that host's pods,
/// and name the host: the same mistakes that are flagged on `[service]`'s rule are flagged on
/// reviews-v2's.
#[test]
fn lints_read_each_hosts_destination_rule_and_pods() {
    let lints = |text: &str| meshsim::explain::lint_scenario(&parse(text));
    let v2 = "host reviews-v2.default.svc.cluster.local's clusters: ";
    // The catalogue scenario as it is: reviews-v2's rule has nothing to flag.
    let base = lints(&blue_green("trafficPolicy = { loadBalancer = { simple = \"LEAST_REQUEST\" } }", ""));
    assert!(!base.iter().any(|l| l.reason.contains(v2)), "{base:?}");
    // failover rules with no outlierDetection in reviews-v2's rule.
    let found = lints(&blue_green(
        "trafficPolicy = { loadBalancer = { localityLbSetting = { failover = [{ from = \"europe-west1\", to = \"us-east1\" }] } } }",
        "",
    ));
    let l = found.iter().find(|l| l.code == "failover-without-outlier-detection").expect("lint");
    assert!(l.reason.starts_with(v2), "{}", l.reason);
    // outlierDetection with Envoy's maxEjectionPercent (10) over 4 pods in two zones (2 more in
    // blue): each client ejects none of them, and the mesh-default failover pins productpage (in
    // blue's zone b) to reviews-v2's blue pods.
    let found = lints(&blue_green(
        "trafficPolicy = { outlierDetection = { consecutive5xxErrors = 5 } }",
        "\n[[services.deployments]]\ncluster = \"blue\"\nreplicas = 2\n",
    ));
    let codes: Vec<&str> = found.iter().filter(|l| l.reason.starts_with(v2)).map(|l| l.code).collect();
    assert_eq!(codes, ["max-ejection-percent-too-low", "outlier-detection-pins-local"], "{found:?}");
    let l = found.iter().find(|l| l.code == "max-ejection-percent-too-low").unwrap();
    assert!(l.reason.contains("never ejects any endpoints"), "{}", l.reason);
    assert!(l.reason.contains("has 2"), "{}", l.reason);
    // A route to a subset of reviews-v2 that selects none of its pods is checked against
    // reviews-v2's rule and pods, and reviews' rule (no subsets) does not call it undefined.
    let text = blue_green(
        "trafficPolicy = { loadBalancer = { simple = \"LEAST_REQUEST\" } }, subsets = [{ name = \"canary\", labels = { track = \"canary\" } }]",
        "",
    )
    .replace(
        "{ destination = { host = \"reviews-v2.default.svc.cluster.local\" }, weight = 10 }",
        "{ destination = { host = \"reviews-v2.default.svc.cluster.local\", subset = \"canary\" }, weight = 10 }",
    );
    let found = lints(&text);
    assert!(!found.iter().any(|l| l.code == "subset-not-defined"), "{found:?}");
    let l = found.iter().find(|l| l.code == "subset-selects-no-pod").expect("lint");
    assert!(l.reason.starts_with(v2), "{}", l.reason);
}

/// `two_hosts` with `keys` set in svc2's `[[services]]` table.
fn two_hosts_with(w1: u32, w2: u32, keys: &str, extra: &str) -> String {
    let old = "deployments = [{ cluster = \"b\", replicas = 2 }]";
    two_hosts(w1, w2, extra).replacen(old, &format!("{keys}\n{old}"), 1)
}

/// The states of svc2's pods after `at` (a run of `text`).
fn svc2_pods_at(text: &str, at_ms: u64) -> Vec<meshsim::model::pod::PodState> {
    let s = Arc::new(parse(text));
    let out = meshsim::model::build::run_until(s, 1, meshsim::engine::SimTime::from_millis(at_ms), None).unwrap();
    out.world.pods.iter().filter(|p| p.host == 1).map(|p| p.state).collect()
}

/// A `[[services]]` host sets its own `max_concurrency`, `readiness_delay` and
/// `termination_grace` (each `[service]`'s when left out), validated as `[service]`'s.
#[test]
fn a_host_sets_its_own_pod_lifecycle_and_concurrency() {
    use meshsim::model::pod::PodState::{Gone, Ready, Starting, Terminating};
    let host = format!("\"{SVC2}\"");
    // A scale-up at 0.5 s: the new pod is ready 1 s later with svc2's readiness_delay, still
    // starting at 1.6 s with [service]'s default 5 s.
    let up = format!("[[faults]]\nat = \"0.5s\"\naction = \"scale\"\ncluster = \"b\"\nhost = {host}\nreplicas = 3\n");
    assert_eq!(svc2_pods_at(&two_hosts_with(50, 50, "readiness_delay = \"1s\"", &up), 1600), [Ready, Ready, Ready]);
    assert_eq!(svc2_pods_at(&two_hosts(50, 50, &up), 1600), [Ready, Ready, Starting]);
    // [service]'s readiness_delay is svc2's default.
    let text = two_hosts(50, 50, &up).replacen("[service]\n", "[service]\nreadiness_delay = \"1s\"\n", 1);
    assert_eq!(svc2_pods_at(&text, 1600), [Ready, Ready, Ready]);
    // A scale-down at 0.5 s: the deleted pod is gone 0.2 s later with svc2's termination_grace,
    // still terminating at 1 s with the default 5 s.
    let down = up.replace("replicas = 3", "replicas = 1");
    assert_eq!(svc2_pods_at(&two_hosts_with(50, 50, "termination_grace = \"0.2s\"", &down), 1000), [Ready, Gone]);
    assert_eq!(svc2_pods_at(&two_hosts(50, 50, &down), 1000), [Ready, Terminating]);
    // One request at a time per svc2 pod, 100 ms each, 50 requests/s per pod: requests queue at
    // svc2's pods; svc's pods (unlimited) never queue.
    let slow = "max_concurrency = 1\nservice_time = { distribution = \"constant\", mean = \"100ms\" }";
    let s = Arc::new(parse(&two_hosts_with(0, 100, slow, "")));
    let w = meshsim::model::build::run_until(s, 1, meshsim::engine::SimTime::from_millis(1500), None).unwrap().world;
    let queued = |h: u32| w.pods.iter().filter(|p| p.host == h).map(|p| p.queue.len()).sum::<usize>();
    assert!(queued(1) > 20, "{}", queued(1));
    let s = Arc::new(parse(&two_hosts_with(0, 100, &slow.replace("max_concurrency = 1\n", ""), "")));
    let w = meshsim::model::build::run_until(s, 1, meshsim::engine::SimTime::from_millis(1500), None).unwrap().world;
    assert_eq!(w.pods.iter().map(|p| p.queue.len()).sum::<usize>(), 0);
    // Validated as [service]'s, named by path.
    let e = refused(&two_hosts_with(50, 50, "readiness_delay = \"soon\"", ""));
    assert!(e.contains("services[0].readiness_delay"), "{e}");
    let e = refused(&two_hosts_with(50, 50, "termination_grace = 5", ""));
    assert!(e.contains("services[0].termination_grace") || e.contains("termination_grace"), "{e}");
}

/// A proxy's first route (what `explain` and the lints read) carries the hash policy of the
/// cluster its first destination goes to, as Istio's `LookupHash` does, also when that is
/// another host's: svc2's rule hashes on `x-user`, `[service]` has no rule, and the only route
/// goes to svc2. (Before, it was looked up among `[service]`'s clusters: no hash policy.)
#[test]
fn the_first_route_carries_the_hash_policy_of_its_destination_host() {
    let dr = "[[policy.resources]]\nkind = \"DestinationRule\"\nname = \"svc2\"\nnamespace = \"default\"\n\
              spec = { host = \"svc2\", trafficPolicy = { loadBalancer = { consistentHash = { httpHeaderName = \"x-user\" } } } }\n";
    let split = "route = [{ destination = { host = \"svc\" }, weight = 50 }, { destination = { host = \"svc2\" }, weight = 50 }]";
    let text = two_hosts(50, 50, dr);
    assert!(text.contains(split), "{text}");
    let text = text.replace(split, "route = [{ destination = { host = \"svc2\" } }]");
    let w = world(&text, 1);
    let hash = w.proxies[0].route.hash_policy.as_ref().map(|h| format!("{h:?}"));
    assert!(hash.as_deref().is_some_and(|h| h.contains("x-user")), "{hash:?}");
}

/// `fault-abort-bypasses-outlier-detection` looks at the host a route sends to: svc2 has outlier
/// detection, `[service]` has none, and the split aborts half of its requests. The lint fires
/// for svc2's clusters only (before, the `[[services]]` pass did not run it, and `[service]`'s
/// pass stayed silent: it has no outlier detection). A route to `[service]` alone does not make
/// svc2's pass fire.
#[test]
fn fault_abort_lint_follows_the_host_the_route_sends_to() {
    let fault = "fault = { abort = { httpStatus = 503, percentage = { value = 50.0 } } }\n";
    let od = "[[policy.resources]]\nkind = \"DestinationRule\"\nname = \"svc2\"\nnamespace = \"default\"\n\
              spec = { host = \"svc2\", trafficPolicy = { outlierDetection = { consecutive5xxErrors = 5 } } }\n";
    let aborts = |text: &str| -> Vec<String> {
        meshsim::explain::lint_scenario(&parse(text))
            .into_iter()
            .filter(|l| l.code == "fault-abort-bypasses-outlier-detection")
            .map(|l| l.reason)
            .collect()
    };
    let found = aborts(&two_hosts(50, 50, &format!("{fault}{od}")));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with(&format!("host {SVC2}'s clusters: ")), "{found:?}");
    let split = "route = [{ destination = { host = \"svc\" }, weight = 50 }, { destination = { host = \"svc2\" }, weight = 50 }]";
    let only_svc =
        two_hosts(50, 50, &format!("{fault}{od}")).replace(split, "route = [{ destination = { host = \"svc\" } }]");
    assert!(aborts(&only_svc).is_empty());
}
