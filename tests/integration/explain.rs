//! `meshsim explain` and the lints, and the teaching outputs of a run (`report.html`, the
//! ejection timeline).

use std::process::Command;
use std::sync::Arc;

use meshsim::engine::SimTime;
use meshsim::explain::{EndpointState, Snapshot, lint::LintInput, lint_scenario};

use crate::util;

fn snapshot(name: &str, at_s: u64) -> Snapshot {
    let s = util::load(name, &[]);
    let seed = s.seed;
    meshsim::explain::snapshot(Arc::new(s), seed, SimTime::from_secs(at_s)).unwrap()
}

fn codes(name: &str) -> Vec<&'static str> {
    lint_scenario(&util::load(name, &[])).iter().map(|l| l.code).collect()
}

#[test]
fn seed_scenario_shows_both_regions_at_weight_50_in_p0() {
    // distribute 50/50 keeps every endpoint in P0 (no failover priorities) with locality weights
    // 50 and 50; all 6 hosts are healthy, so P0 has health 100 and load 100.
    let snap = snapshot("seed-failover.toml", 0);
    assert_eq!(snap.proxies.len(), 1);
    for p in &snap.proxies {
        assert_eq!(p.priorities.len(), 1, "{}", p.name);
        let p0 = &p.priorities[0];
        assert_eq!((p0.health, p0.load, p0.in_panic), (100, 100, false));
        let rows: Vec<(&str, u32, f64, u32)> =
            p0.localities.iter().map(|l| (l.locality.as_str(), l.weight, l.effective_weight, l.healthy)).collect();
        assert_eq!(rows, [("europe-west1/europe-west1-b", 50, 50.0, 3), ("us-central1/us-central1-a", 50, 50.0, 3)]);
    }
    let text = meshsim::explain::render(&snap, Some("ingress-0"));
    assert!(text.contains("Proxy ingress-0 (gateway in cluster-a"), "{text}");
    assert!(!text.contains("Proxy ingress-1"), "{text}");
    assert!(text.contains("P0  health 100%  load 100%  panic no"), "{text}");
}

#[test]
fn ejected_hosts_show_multiplier_and_return_time() {
    // A answers 503 from 30 s; the gateway ejects each of A's pods at its first 503 (x1, 30 s),
    // so at 45 s they are out until ~60 s and A's effective weight is
    // 50 x min(1, 1.4 x 0 / 3) = 0, while P0 stays at load 100 (health min(100, 140 x 3 / 6) = 70).
    let snap = snapshot("seed-failover-503.toml", 45);
    let p = &snap.proxies[0];
    let p0 = &p.priorities[0];
    assert_eq!((p0.health, p0.load), (70, 100));
    assert_eq!(p.ejected, Some((3, 6)));
    let a = &p0.localities[0];
    assert_eq!((a.weight, a.effective_weight, a.healthy), (50, 0.0, 0));
    for e in &a.endpoints {
        match e.state {
            EndpointState::Ejected { reason, multiplier, since, due } => {
                assert_eq!((reason, multiplier), ("consecutive_5xx", 1));
                assert!(since >= SimTime::from_secs(30) && since < SimTime::from_secs(31), "{since}");
                assert_eq!(due.as_nanos() - since.as_nanos(), 30_000_000_000);
            }
            ref other => panic!("{}: {other:?}", e.name),
        }
    }
    let b = &p0.localities[1];
    assert_eq!((b.effective_weight, b.healthy), (50.0, 3));
}

#[test]
fn settings_name_their_source() {
    let snap = snapshot("seed-failover-503.toml", 0);
    let find = |name: &str| snap.settings.iter().find(|s| s.name.starts_with(name)).unwrap().clone();
    let c5xx = find("consecutive_5xx");
    assert_eq!((c5xx.value.as_str(), c5xx.source.label()), ("1 (enforced)", "manifest"));
    let max_time = find("max_ejection_time");
    assert_eq!(max_time.source.label(), "Envoy default");
    assert!(max_time.value.starts_with("300s"));
    assert_eq!(find("max_requests").value, "100");
    assert_eq!(find("max_pending_requests").source.label(), "Istio default");
    let retries = &snap.proxies[0].route;
    let n = retries.iter().find(|s| s.name == "num_retries").unwrap();
    assert_eq!((n.value.as_str(), n.source.label()), ("2", "Istio default"));
}

#[test]
fn lints_do_not_fire_on_the_seed_scenarios() {
    assert!(codes("seed-failover.toml").is_empty());
    assert!(codes("seed-failover-503.toml").is_empty());
}

#[test]
fn lints_fire_on_the_trap_scenarios() {
    assert!(codes("default-max-ejection-percent.toml").contains(&"max-ejection-percent-too-low"));
    assert!(codes("distribute-unlisted-region.toml").contains(&"distribute-hides-localities"));
    assert_eq!(codes("od-pins-local-zone.toml"), ["outlier-detection-pins-local"]);
    // Istio default 10 % of 6 hosts: 100 x 1 / 6 = 16.7 > 10, nothing is ejectable; a whole
    // region (3 hosts) needs 100 x 3 / 6 = 50.
    let lints = lint_scenario(&util::load("default-max-ejection-percent.toml", &[]));
    let l = lints.iter().find(|l| l.code == "max-ejection-percent-too-low").unwrap();
    assert!(l.reason.contains("never ejects any"), "{}", l.reason);
    assert!(l.fix.contains("at least 50"), "{}", l.fix);
    let lints = lint_scenario(&util::load("distribute-unlisted-region.toml", &[]));
    assert_eq!(lints.len(), 1);
    assert!(lints[0].reason.contains("region-c/region-c-1"), "{}", lints[0].reason);
}

#[test]
fn max_ejection_percent_lint_follows_the_strict_rule() {
    // 3 + 3 hosts: ejecting region A whole needs 100 x 3 / 6 = 50 <= M.
    let at = |m: &str| {
        lint_scenario(&util::load(
            "seed-failover-503.toml",
            &[&format!("policy.destination_rule.trafficPolicy.outlierDetection.maxEjectionPercent={m}")],
        ))
        .iter()
        .any(|l| l.code == "max-ejection-percent-too-low")
    };
    assert!(at("49"));
    assert!(!at("50"));
    let lints = lint_scenario(&util::load(
        "seed-failover-503.toml",
        &["policy.destination_rule.trafficPolicy.outlierDetection.maxEjectionPercent=34"],
    ));
    // 34 % of 6: 100 x 2 / 6 = 33.3 <= 34 but 100 x 3 / 6 = 50 > 34, so 2 of the 6.
    assert!(lints[0].reason.contains("ejects at most 2 of the 6"), "{}", lints[0].reason);
}

#[test]
fn failover_without_outlier_detection_is_flagged() {
    let s = util::parse(
        r#"
name = "fo"
duration = "10s"
[[clusters]]
name = "a"
region = "r1"
[[clusters]]
name = "b"
region = "r2"
[service]
host = "svc.ns.svc.cluster.local"
[[service.deployments]]
cluster = "a"
replicas = 2
[[service.deployments]]
cluster = "b"
replicas = 2
[policy.destination_rule]
host = "svc.ns.svc.cluster.local"
[[policy.destination_rule.trafficPolicy.loadBalancer.localityLbSetting.failover]]
from = "r1"
to = "r2"
[[proxies]]
name = "c"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "c"
rate = 10
"#,
    )
    .unwrap();
    let codes: Vec<&str> = lint_scenario(&s).iter().map(|l| l.code).collect();
    assert_eq!(codes, ["failover-without-outlier-detection"]);
}

#[test]
fn distribute_with_failover_and_single_gateway_are_flagged() {
    // Scenario loading rejects distribute + failover (Istio's validation), so the lint is tested
    // on the policy directly.
    let mut s = util::load("seed-failover.toml", &[]);
    let mut tp = s.proxy_groups[0].selection.traffic_policy().cloned().unwrap();
    let lb = tp.load_balancer.as_mut().unwrap().locality_lb_setting.as_mut().unwrap();
    lb.failover =
        Some(vec![meshsim::istio::manifest::Failover { from: "europe-west1".into(), to: "us-central1".into() }]);
    let input = LintInput::from_scenario(&s, Some(&tp), &[0]);
    let codes: Vec<&str> = meshsim::explain::lint::lint(&input).iter().map(|l| l.code).collect();
    assert!(codes.contains(&"distribute-with-failover"), "{codes:?}");
    // Cluster B on another network: the gateway reaches its 3 pods through one east-west
    // gateway endpoint.
    s.kube_clusters[1].network = "network2".into();
    let lints = lint_scenario(&s);
    let l = lints.iter().find(|l| l.code == "single-east-west-gateway").unwrap();
    assert!(l.reason.contains("reach the 3 endpoints of network network2"), "{}", l.reason);
}

#[test]
fn explain_command_prints_proxies_and_rejects_unknown_ones() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_meshsim")).args(args).current_dir(util::root()).output().unwrap()
    };
    let out = run(&["explain", "scenarios/od-pins-local-zone.toml", "--at", "50s", "--proxy", "client"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // At 50 s zone 1 is ejected (its pods answer 503 since 45 s): P0 health 0, P1 takes 100.
    assert!(text.contains("P0  health 0%  load 0%"), "{text}");
    assert!(text.contains("P1  health 100%  load 100%"), "{text}");
    assert!(text.contains("[outlier-detection-pins-local]"), "{text}");
    let out = run(&["explain", "scenarios/od-pins-local-zone.toml", "--proxy", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--proxy nope: no such proxy"));
    let out = run(&["explain", "scenarios/od-pins-local-zone.toml", "--at", "91s"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_run_writes_the_teaching_report() {
    let dir = crate::scratch::tempdir().unwrap();
    let out = dir.path().join("run");
    let s = Arc::new(util::load("flapping-backoff.toml", &[]));
    meshsim::run_to_dir(s, 1, &out, &meshsim::output::Guard::new()).unwrap();
    for f in ["report.html", "ejections.csv", "ejections.svg", "ejections.png", "latency.svg", "latency_ecdf.csv"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let html = String::from_utf8(util::read(&out.join("report.html"))).unwrap();
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(!html.contains("<script"));
    assert!(html.contains("Expectations") && html.contains("PASS"));
    // 3 hosts x 3 ejections, with multipliers 1, 2, 3 (see the scenario's comments).
    let csv = String::from_utf8(util::read(&out.join("ejections.csv"))).unwrap();
    let multipliers: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(6).unwrap()).collect();
    assert_eq!(multipliers, ["1", "1", "1", "2", "2", "2", "3", "3", "3"]);
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",uneject")), "{csv}");
}

/// Issue 9: two sidecar groups in one cluster get different DestinationRules, as istiod would
/// give them, and the run follows each. `team/svc` (in the client's namespace, exported to it
/// only) is found before `default/svc` for the proxies in `team` (`pilot/pkg/model/
/// push_context.go`: the proxy's namespace first); it has no outlierDetection, so those
/// proxies keep every endpoint in one priority. The proxies in `default` get `default/svc` with
/// outlierDetection, so they rank endpoints by locality: P0 = r1 (2 hosts), P1 = r2 (2 hosts).
#[test]
fn each_proxy_group_gets_the_rule_istio_selects_for_it() {
    let tmp = crate::scratch::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("rules.yaml"),
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: svc\n  namespace: default\n\
         spec:\n  host: svc\n  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 1\n---\n\
         apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata:\n  name: svc\n  namespace: team\n\
         spec:\n  host: svc.default.svc.cluster.local\n  exportTo: [\".\"]\n  trafficPolicy:\n    connectionPool:\n      \
         http:\n        http2MaxRequests: 7\n",
    )
    .unwrap();
    let text = "name = \"t\"\nduration = \"2s\"\n[[clusters]]\nname = \"a\"\nregion = \"r1\"\n[[clusters]]\nname = \"b\"\n\
                region = \"r2\"\n[service]\nhost = \"svc.default.svc.cluster.local\"\ndeployments = [{ cluster = \"a\", \
                replicas = 2 }, { cluster = \"b\", replicas = 2 }]\n[policy]\nmanifests = [\"rules.yaml\"]\n\
                [[proxies]]\nname = \"p\"\nkind = \"sidecar\"\ncluster = \"a\"\n[[proxies]]\nname = \"q\"\nkind = \
                \"sidecar\"\ncluster = \"a\"\nnamespace = \"team\"\n[[workload]]\nproxy = \"p\"\nrate = 10\n\
                [[workload]]\nproxy = \"q\"\nrate = 10\n";
    std::fs::write(tmp.path().join("s.toml"), text).unwrap();
    let s = meshsim::scenario::load(&tmp.path().join("s.toml"), &[]).unwrap();
    let rule = |g: usize| s.proxy_groups[g].selection.destination_rule.as_ref().map(|d| d.namespace.clone());
    assert_eq!(rule(0).as_deref(), Some("default"));
    assert_eq!(rule(1).as_deref(), Some("team"));
    let snap = meshsim::explain::snapshot(Arc::new(s), 1, SimTime::ZERO).unwrap();
    let p = snap.proxies.iter().find(|p| p.name == "p-0").unwrap();
    let q = snap.proxies.iter().find(|p| p.name == "q-0").unwrap();
    let hosts = |v: &meshsim::explain::ProxyView| -> Vec<u32> {
        v.priorities.iter().map(|pr| pr.localities.iter().map(|l| l.hosts).sum()).collect()
    };
    assert_eq!(hosts(p), [2, 2]);
    assert_eq!(hosts(q), [4]);
    // Different rules: no common block; each proxy shows its own, and why the other rule lost.
    assert!(snap.settings.is_empty());
    let text = meshsim::explain::render(&snap, None);
    assert!(text.contains("settings differ between proxies"), "{text}");
    let why: Vec<(&str, bool)> = q.resources.iter().map(|r| (r.id.as_str(), r.applied)).collect();
    assert_eq!(why, [("DestinationRule default/svc", false), ("DestinationRule team/svc", true)], "{text}");
    assert!(q.settings.iter().any(|st| st.value.contains('7')), "{:?}", q.settings);
}

fn snapshot_with(name: &str, sets: &[&str]) -> Snapshot {
    let s = util::load(name, sets);
    let seed = s.seed;
    meshsim::explain::snapshot(Arc::new(s), seed, SimTime::ZERO).unwrap()
}

fn setting(snap: &Snapshot, name: &str) -> (String, &'static str) {
    let s = snap.settings.iter().find(|s| s.name.starts_with(name)).unwrap_or_else(|| panic!("no {name}"));
    (s.value.clone(), s.source.label())
}

/// Issue 13 item 7: explain shows what is in force, `[envoy_outlier]` included.
#[test]
fn settings_show_envoy_outlier_and_envoys_max_ejection_default() {
    let snap = snapshot_with("seed-failover-503.toml", &["envoy_outlier.max_ejection_time=\"45s\""]);
    assert_eq!(setting(&snap, "max_ejection_time"), ("45s".to_string(), "[envoy_outlier]"));
    assert_eq!(setting(&snap, "base_ejection_time").1, "manifest");
    // Unset, Envoy's default is max(300 s, base): 600 s for a 10 min base.
    let snap = snapshot_with(
        "seed-failover-503.toml",
        &["policy.destination_rule.trafficPolicy.outlierDetection.baseEjectionTime=\"10m\""],
    );
    let (value, source) = setting(&snap, "max_ejection_time");
    assert!(value.starts_with("600s (unset: max(300s, base_ejection_time)"), "{value}");
    assert_eq!(source, "Envoy default");
    let snap = snapshot_with("seed-failover-503.toml", &["envoy_outlier.enforcing_success_rate=100"]);
    let (value, source) = setting(&snap, "enforcing_success_rate");
    assert!(value.starts_with("100% (success rate below mean - 1.900 x stdev"), "{value}");
    assert_eq!(source, "[envoy_outlier]");
    let (value, source) = setting(&snap, "consecutive_5xx");
    assert_eq!((value.as_str(), source), ("1 (enforced)", "manifest"));
    // Without [envoy_outlier], Istio's translation turns success-rate ejection off.
    let snap = snapshot("seed-failover-503.toml", 0);
    assert_eq!(
        setting(&snap, "enforcing_success_rate"),
        ("0 (success-rate ejection off)".to_string(), "Istio default")
    );
}

/// `[envoy_outlier]` alone turns outlier detection on with Envoy's defaults (the DR has none).
#[test]
fn settings_with_envoy_outlier_only_start_from_envoys_defaults() {
    let s = util::parse(&format!("{}[envoy_outlier]\ninterval = \"1s\"\n", crate::bin::BASE)).unwrap();
    let snap = meshsim::explain::snapshot(Arc::new(s), 1, SimTime::ZERO).unwrap();
    assert_eq!(setting(&snap, "outlier_detection"), ("on".to_string(), "[envoy_outlier]"));
    assert_eq!(setting(&snap, "interval"), ("1s".to_string(), "[envoy_outlier]"));
    assert_eq!(setting(&snap, "consecutive_5xx"), ("5 (enforced)".to_string(), "Envoy default"));
    assert_eq!(setting(&snap, "max_ejection_percent").0, "10%");
}

/// The report shows the same settings in force as explain.
#[test]
fn report_lists_the_settings_in_force() {
    let s = util::load("seed-failover-503.toml", &["envoy_outlier.max_ejection_time=\"45s\"", "duration=\"2s\""]);
    let html = meshsim::output::html::report_html(&util::run(&s, 1), &s, &[], &[], &[]);
    assert!(html.contains("<h2>Settings in force (outbound|80||"), "settings heading");
    assert!(html.contains("<tr><td>max_ejection_time</td><td>[envoy_outlier]</td><td>45s</td></tr>"));
}

/// Issue 13's headline trap: the seed lab's policy moved into a subset `v1` that no pod is
/// labelled with, the route sending to it. Istio builds `outbound|80|v1|host` with no endpoints;
/// meshsim simulates it and says so; `route-simplified` no longer fires for a plain subset route.
/// With the pods labelled `version: v1` the trap is gone; an undefined subset has its own lint.
#[test]
fn routes_to_subsets_are_linted() {
    let text = |labels: &str| {
        format!(
            "{}[policy.destination_rule]\nhost = \"svc\"\nsubsets = [{{ name = \"v1\", labels = {{ version = \"v1\" }} }}]\n\
             [policy.virtual_service]\nhosts = [\"svc\"]\n[[policy.virtual_service.http]]\n\
             route = [{{ destination = {{ host = \"svc\", subset = \"v1\" }} }}]\n",
            crate::bin::BASE.replace(
                "deployments = [{ cluster = \"a\", replicas = 2 }, { cluster = \"b\", replicas = 2 }]",
                &format!("deployments = [{{ cluster = \"a\", replicas = 2{labels} }}, {{ cluster = \"b\", replicas = 2{labels} }}]"),
            )
        )
    };
    let codes = |t: &str| lint_scenario(&util::parse(t).unwrap()).iter().map(|l| l.code).collect::<Vec<_>>();
    let has = |t: &str, code: &str| codes(t).contains(&code);
    assert!(has(&text(""), "subset-selects-no-pod"), "{:?}", codes(&text("")));
    assert!(!has(&text(""), "route-simplified"), "a subset route is simulated: {:?}", codes(&text("")));
    assert!(!has(&text(", labels = { version = \"v1\" }"), "subset-selects-no-pod"));
    let undefined = text("").replace("subset = \"v1\"", "subset = \"v2\"");
    assert!(has(&undefined, "subset-not-defined"), "{:?}", codes(&undefined));
    assert!(!has(&undefined, "subset-selects-no-pod"));
}

/// The route table of per-route-retries: two routes in order, each with its match, its own
/// retries and the request class that takes it; no lint says the routes are simplified.
#[test]
fn the_route_table_shows_each_route_its_retries_and_its_classes() {
    let snap = snapshot("per-route-retries.toml", 0);
    let routes = &snap.proxies[0].routes;
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0].label, "VirtualService default/inline http[0] (checkout)");
    assert_eq!(routes[0].matches, "uri prefix \"/checkout\"");
    assert_eq!(routes[0].classes, ["workload[0] POST /checkout/cart-7, 20%"]);
    let value = |r: &meshsim::explain::RouteView, name: &str| {
        r.settings.iter().find(|s| s.name == name).map(|s| s.value.clone())
    };
    assert_eq!(value(&routes[0], "retries").as_deref(), Some("none (retries.attempts: 0)"));
    assert_eq!(value(&routes[1], "num_retries").as_deref(), Some("3"));
    assert_eq!(routes[1].classes, ["workload[0] GET /products, 80%"]);
    assert!(snap.proxies[0].unrouted.is_empty());
    assert!(!codes("per-route-retries.toml").contains(&"route-simplified"));
    let text = meshsim::explain::render(&snap, None);
    assert!(text.contains("Route table (2 routes; a request takes the first it matches)"), "{text}");
    assert!(text.contains("takes: workload[0] POST /checkout/cart-7, 20%"), "{text}");
}

/// A 90/10 split across subsets: the table shows both weighted destinations, the clusters list
/// marks both as reached, and no lint fires (each subset's pods sit in one zone, so the
/// locality-failover trap does not apply to either cluster; the split is modelled, not
/// simplified).
#[test]
fn a_weighted_split_shows_both_destinations_and_no_lint() {
    let snap = snapshot("canary-split-is-not-failover.toml", 0);
    let r = &snap.proxies[0].routes[0];
    let dests: Vec<(Option<&str>, u32)> = r.destinations.iter().map(|(_, sub, w)| (sub.as_deref(), *w)).collect();
    assert_eq!(dests, [(Some("v1"), 90), (Some("v2"), 10)]);
    let text = meshsim::explain::render(&snap, None);
    assert!(text.contains("subset v2  weight 10 (10%)"), "{text}");
    assert!(
        text.contains("v2|reviews.default.svc.cluster.local: 2 endpoints  <- its route (a weighted destination)"),
        "{text}"
    );
    assert!(codes("canary-split-is-not-failover.toml").is_empty(), "{:?}", codes("canary-split-is-not-failover.toml"));
}

/// Every cluster a proxy's routes reach gets its own section: in the 90/10 canary split at 40 s,
/// v1's cluster (3 healthy pods in the proxy's zone europe-west1-b) and v2's (its 2 pods in
/// europe-west1-c, both answering 503 since 20 s: with consecutive5xxErrors 5 at 10 % of 400
/// rps each is ejected within a second or so, for baseEjectionTime 30 s, so both are still out
/// at 40 s). v2's own P0 is zone c with 0 of 2 hosts healthy (health 0 %); no panic, since
/// Istio 1.31 sets the panic threshold to 0. Before, only v1's table was shown.
#[test]
fn every_cluster_a_split_reaches_shows_its_own_priorities() {
    let snap = snapshot("canary-split-is-not-failover.toml", 40);
    let p = &snap.proxies[0];
    assert_eq!(p.envoy_cluster, "outbound|80|v1|reviews.default.svc.cluster.local");
    let locs = |prs: &[meshsim::explain::PriorityView]| -> Vec<(usize, String, u32, u32, u32)> {
        prs.iter()
            .flat_map(|pr| {
                pr.localities.iter().map(move |l| (pr.index, l.locality.clone(), l.weight, l.hosts, l.healthy))
            })
            .collect()
    };
    assert_eq!(locs(&p.priorities), [(0, "europe-west1/europe-west1-b".to_string(), 3, 3, 3)]);
    assert_eq!(p.ejected, Some((0, 3)));
    assert_eq!(p.other_clusters.len(), 1, "{:?}", p.other_clusters);
    let v2 = &p.other_clusters[0];
    assert_eq!(v2.name, "outbound|80|v2|reviews.default.svc.cluster.local");
    assert_eq!(v2.reached_by, ["route [0] weight 10 (10%)"]);
    assert_eq!(locs(&v2.priorities), [(0, "europe-west1/europe-west1-c".to_string(), 2, 2, 0)]);
    assert_eq!((v2.priorities[0].health, v2.priorities[0].in_panic), (0, false));
    assert_eq!(v2.ejected, Some((2, 2)));
    let text = meshsim::explain::render(&snap, None);
    assert!(text.contains("Cluster outbound|80|v2|reviews.default.svc.cluster.local (route [0] weight 10 (10%))\n  ejected now: 2 of 2 hosts\n  P0  health 0%  load 100%  panic no"), "{text}");
    assert!(text.contains("canary/0  HEALTHY    FAILED         outbound|80|v2|"), "{text}");
    let json = meshsim::explain::to_json(&snap, None);
    let other = &json["proxies"][0]["other_clusters"][0];
    assert_eq!(other["name"], "outbound|80|v2|reviews.default.svc.cluster.local");
    assert_eq!(other["priorities"][0]["localities"][0]["healthy"], 0);
    assert_eq!(other["ejected"]["now"], 2);
    // A proxy whose route reaches one cluster has no other section.
    assert!(snapshot("subset-outlier-detection.toml", 40).proxies.iter().all(|p| p.other_clusters.is_empty()));
}

/// Every row of the settings in force, as (name, source), cluster settings then the proxy's route.
fn sources(snap: &Snapshot) -> Vec<(String, &'static str)> {
    let p = &snap.proxies[0];
    let cluster = if snap.settings.is_empty() { &p.settings } else { &snap.settings };
    cluster.iter().chain(&p.route).map(|s| (s.name.split(' ').next().unwrap().to_string(), s.source.label())).collect()
}

fn rows(list: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    list.iter().map(|&(n, s)| (n.to_string(), s)).collect()
}

/// The route rows of a proxy no VirtualService applies to: Istio's default retry policy.
const DEFAULT_ROUTE: [(&str, &str); 7] = [
    ("num_retries", "Istio default"),
    ("retry_on", "Istio default"),
    ("503", "mesh"),
    ("per_try_timeout", "Istio default"),
    ("retry_host_predicate", "Istio default"),
    ("retry_priority", "Istio default"),
    ("route", "Istio default"),
];

/// Issue 9: with no DestinationRule for the proxy nothing comes from a manifest; `outlier_detection
/// off` is Istio's default and says why no rule applies, as the resources panel does. A rule
/// without `outlierDetection` is the manifest's choice; `[envoy_outlier]` rows name it.
#[test]
fn every_settings_row_names_its_source_with_and_without_a_destination_rule() {
    let at0 = |s| meshsim::explain::snapshot(Arc::new(s), 1, SimTime::ZERO).unwrap();
    let tail: [(&str, &str); 9] = [
        ("healthy_panic_threshold", "Istio default"),
        ("locality", "Istio default"),
        ("failover", "derived"),
        ("locality_weighted_lb_config", "derived"),
        ("lb_policy", "Istio default"),
        ("overprovisioning_factor", "Envoy default"),
        ("max_requests", "Istio default"),
        ("max_pending_requests", "Istio default"),
        ("max_retries", "Istio default"),
    ];
    let with_route = |mut head: Vec<(&str, &'static str)>| {
        head.extend(DEFAULT_ROUTE);
        rows(&head)
    };

    // No DestinationRule at all.
    let snap = at0(util::parse(crate::bin::BASE).unwrap());
    let mut want = vec![("outlier_detection", "Istio default")];
    want.extend(tail);
    assert_eq!(sources(&snap), with_route(want.clone()));
    assert_eq!(
        snap.settings[0].value,
        "off: the scenario has no DestinationRule for svc.default.svc.cluster.local, so Istio's defaults apply: \
         no outlier detection, nothing is ever ejected"
    );

    // A DestinationRule in another namespace: the reason names it and why it did not apply.
    let tmp = crate::scratch::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("prod.yaml"),
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: x\n  namespace: prod\n\
         spec:\n  host: svc\n  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 1\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("s.toml"), format!("{}[policy]\nmanifests = [\"prod.yaml\"]\n", crate::bin::BASE))
        .unwrap();
    let snap = at0(meshsim::scenario::load(&tmp.path().join("s.toml"), &[]).unwrap());
    assert_eq!(sources(&snap), with_route(want.clone()));
    let value = &snap.settings[0].value;
    assert!(
        value.starts_with(
            "off: no DestinationRule applies (DestinationRule prod/x: its host `svc.prod.svc.cluster.local`"
        ) && value.ends_with("), so Istio's defaults apply: no outlier detection, nothing is ever ejected"),
        "{value}"
    );

    // A DestinationRule without outlierDetection (and with a connection pool): its choice.
    let text = format!(
        "{}[policy.destination_rule]\nhost = \"svc\"\n\
         trafficPolicy = {{ connectionPool = {{ http = {{ http2MaxRequests = 50 }} }} }}\n",
        crate::bin::BASE
    );
    let snap = at0(util::parse(&text).unwrap());
    let mut want = vec![("outlier_detection", "manifest")];
    want.extend(tail);
    want[7].1 = "manifest";
    assert_eq!(sources(&snap), with_route(want));
    assert_eq!(snap.settings[0].value, "off: the DestinationRule has no outlierDetection, so nothing is ever ejected");

    // No DestinationRule, `[envoy_outlier]`: outlier detection from Envoy's defaults and the table.
    let text = format!(
        "{}[envoy_outlier]\ninterval = \"1s\"\nenforcing_success_rate = 100\nmax_ejection_time = \"100s\"\n",
        crate::bin::BASE
    );
    let snap = at0(util::parse(&text).unwrap());
    let mut want = vec![
        ("outlier_detection", "[envoy_outlier]"),
        ("consecutive_5xx", "Envoy default"),
        ("consecutive_gateway_failure", "Envoy default"),
        ("interval", "[envoy_outlier]"),
        ("base_ejection_time", "Envoy default"),
        ("max_ejection_time", "[envoy_outlier]"),
        ("max_ejection_percent", "Envoy default"),
        ("max-ejection", "mesh"),
        ("enforcing_success_rate", "[envoy_outlier]"),
        ("enforcing_failure_percentage", "Envoy default"),
    ];
    want.extend(tail);
    assert_eq!(sources(&snap), with_route(want));
}

/// The failover-priorities row says what trafficDistribution ranks by on the release in force:
/// Istio 1.25 and 1.26 add the sub-zone to PreferClose, 1.27 on does not (istio/istio#56042).
#[test]
fn prefer_close_ranking_names_the_release_labels() {
    for (version, labels) in [("1.25", "network, region, zone, subzone"), ("1.27", "network, region, zone")] {
        let set = format!("mesh.istio_version=\"{version}\"");
        let out = Command::new(env!("CARGO_BIN_EXE_meshsim"))
            .args(["explain", "scenarios/prefer-close-no-outlier-detection.toml", "--set", &set])
            .current_dir(util::root())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let want = format!("on: trafficDistribution ranks endpoints by {labels} (P0 = closest)");
        assert!(text.contains(&want), "{version}: {text}");
    }
}

/// Lints count the endpoints of the cluster each group's route uses: subset `v1` holds only A's
/// pods (labelled `version: v1`; B's are `v2`), so a distribute rule sending r1's traffic to r1
/// only hides nothing from it, and `maxEjectionPercent: 10` (which lets a proxy eject none of
/// A's 2 pods) is the trap it is. Counting B's pods too, the lints would say the rule hides r2
/// and that 10 % ejects "at most 0 of the 4".
#[test]
fn lints_count_the_pods_of_the_routes_subset() {
    let text = format!(
        "{}[policy.destination_rule]\nhost = \"svc\"\n\
         [policy.destination_rule.trafficPolicy.outlierDetection]\nconsecutive5xxErrors = 1\nmaxEjectionPercent = 10\n\
         [policy.destination_rule.trafficPolicy.loadBalancer.localityLbSetting]\n\
         distribute = [{{ from = \"r1/*\", to = {{ \"r1/*\" = 100 }} }}]\n\
         [[policy.destination_rule.subsets]]\nname = \"v1\"\nlabels = {{ version = \"v1\" }}\n\
         [policy.virtual_service]\nhosts = [\"svc\"]\n[[policy.virtual_service.http]]\n\
         route = [{{ destination = {{ host = \"svc\", subset = \"v1\" }} }}]\n",
        crate::bin::BASE.replace(
            "deployments = [{ cluster = \"a\", replicas = 2 }, { cluster = \"b\", replicas = 2 }]",
            "deployments = [{ cluster = \"a\", replicas = 2, labels = { version = \"v1\" } }, \
             { cluster = \"b\", replicas = 2, labels = { version = \"v2\" } }]",
        )
    );
    let lints = lint_scenario(&util::parse(&text).unwrap());
    let codes: Vec<&str> = lints.iter().map(|l| l.code).collect();
    assert!(!codes.contains(&"distribute-hides-localities"), "{lints:?}");
    // One locality in the subset: ejecting a whole one cannot matter, nothing to fail over to.
    assert!(!codes.contains(&"max-ejection-percent-too-low"), "{lints:?}");
    // The same rule on the default cluster (no route to the subset) counts all four pods.
    let default = text.replace(", subset = \"v1\"", "");
    let lints = lint_scenario(&util::parse(&default).unwrap());
    let codes: Vec<&str> = lints.iter().map(|l| l.code).collect();
    assert!(codes.contains(&"distribute-hides-localities"), "{lints:?}");
    let low = lints.iter().find(|l| l.code == "max-ejection-percent-too-low").expect("the default cluster's trap");
    assert!(low.reason.contains("never ejects any endpoints") && low.reason.contains("/ 4 <= 10"), "{}", low.reason);
}
