//! Istio's own test cases for resource selection, ported (each names its Go test), and meshsim's
//! cases for the parts Istio tests through whole pushes (routes per proxy, gateways, notes).

use std::collections::BTreeMap;

use super::*;
use crate::istio::manifest::{
    Destination, HttpRouteDestination, OutlierDetection, Server, ServerPort, Subset, TrafficPolicy, WorkloadSelector,
};

const ROOT: &str = "istio-system";
const DOMAIN: &str = "cluster.local";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn subsets(names: &[&str]) -> Option<Vec<Subset>> {
    Some(names.iter().map(|n| Subset { name: n.to_string(), ..Default::default() }).collect())
}

fn tp(consecutive_5xx: u32) -> Option<TrafficPolicy> {
    Some(TrafficPolicy {
        outlier_detection: Some(OutlierDetection {
            consecutive_5xx_errors: Some(consecutive_5xx),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[derive(Default)]
struct Dr<'a> {
    name: &'a str,
    ns: &'a str,
    created: Option<i64>,
    host: &'a str,
    export_to: &'a [&'a str],
    selector: Option<&'a [(&'a str, &'a str)]>,
    subsets: &'a [&'a str],
    tp: Option<TrafficPolicy>,
}

fn dr(d: Dr) -> ConfigResource {
    ConfigResource {
        name: d.name.into(),
        namespace: d.ns.into(),
        created: d.created,
        cluster_ids: None,
        source: "test".into(),
        spec: ResourceSpec::DestinationRule(DestinationRuleSpec {
            host: d.host.into(),
            export_to: (!d.export_to.is_empty()).then(|| d.export_to.iter().map(|s| s.to_string()).collect()),
            workload_selector: d.selector.map(|s| WorkloadSelector { match_labels: Some(labels(s)) }),
            subsets: if d.subsets.is_empty() { None } else { subsets(d.subsets) },
            traffic_policy: d.tp,
        }),
    }
}

fn names(rs: &[ConfigResource], rules: &[&MergedDestinationRule]) -> Vec<String> {
    rules.iter().map(|r| rs[r.from[0]].name.clone()).collect()
}

fn subset_names(r: &MergedDestinationRule) -> Vec<String> {
    r.spec.subsets.iter().flatten().map(|s| s.name.clone()).collect()
}

/// `TestSetDestinationRuleWithWorkloadSelector` (`pilot/pkg/model/push_context_test.go`): rules
/// with a selector are private and come first; rules with the same selector merge; a rule
/// without one merges into each and stays on its own (its exportTo is wider).
#[test]
fn istio_set_destination_rule_with_workload_selector() {
    let host = "httpbin.org";
    let rs = vec![
        dr(Dr {
            name: "nsRule1",
            ns: "test",
            created: Some(0),
            host,
            export_to: &["test2", "."],
            selector: Some(&[("app", "app1")]),
            tp: tp(1),
            ..Default::default()
        }),
        dr(Dr {
            name: "nsRule2",
            ns: "test",
            created: Some(1),
            host,
            export_to: &["test2", "."],
            selector: Some(&[("app", "app2")]),
            tp: tp(3),
            ..Default::default()
        }),
        dr(Dr {
            name: "nsRule3",
            ns: "test",
            created: Some(1),
            host,
            export_to: &["test2", "."],
            selector: Some(&[("app", "app2")]),
            tp: tp(3),
            ..Default::default()
        }),
        dr(Dr {
            name: "nsRule4",
            ns: "test",
            created: Some(-1),
            host,
            export_to: &[".", "test2"],
            tp: tp(3),
            ..Default::default()
        }),
    ];
    let idx = DestinationRuleIndex::new(&rs, |_| true, ROOT, DOMAIN);
    // "return list of DRs for specific host" and "rules with same workloadselector should be merged"
    let (rules, step) = idx.lookup("test", host, "test").unwrap();
    assert_eq!(step, LookupStep::ProxyNamespace);
    assert_eq!(names(&rs, &rules), ["nsRule1", "nsRule2", "nsRule4"]);
    let from: Vec<Vec<String>> = idx.namespace_local["test"].specific[host]
        .iter()
        .map(|r| r.from.iter().map(|&i| rs[i].name.clone()).collect())
        .collect();
    assert_eq!(from, [vec!["nsRule1", "nsRule4"], vec!["nsRule2", "nsRule3", "nsRule4"], vec!["nsRule4"]]);
    // "workload specific DR should not be exported"
    let (rules, step) = idx.lookup("test2", host, "test").unwrap();
    assert_eq!((names(&rs, &rules), step), (vec!["nsRule4".to_string()], LookupStep::ServiceNamespace));
    // And what SidecarScope.DestinationRule then gives each proxy (derived from sidecar.go).
    let (rules, _) = idx.lookup("test", host, "test").unwrap();
    let pick =
        |l: &[(&str, &str)]| destination_rule_for_proxy(&rules, "test", &labels(l)).map(|r| rs[r.from[0]].name.clone());
    assert_eq!(pick(&[("app", "app2")]).as_deref(), Some("nsRule2"));
    assert_eq!(pick(&[("app", "app1"), ("v", "1")]).as_deref(), Some("nsRule1"));
    assert_eq!(pick(&[("app", "other")]).as_deref(), Some("nsRule4"));
    // A selector rule applies only to proxies in its own namespace.
    assert_eq!(
        destination_rule_for_proxy(&rules, "elsewhere", &labels(&[("app", "app1")])).map(|r| r.from[0]),
        Some(3)
    );
}

/// `TestSetDestinationRuleMerging` (`pilot/pkg/model/push_context_test.go`).
#[test]
fn istio_set_destination_rule_merging() {
    let host = "httpbin.org";
    let rs = vec![
        dr(Dr { name: "rule1", ns: "test", host, subsets: &["subset1", "subset2"], ..Default::default() }),
        dr(Dr { name: "rule2", ns: "test", host, subsets: &["subset3", "subset4"], ..Default::default() }),
        dr(Dr {
            name: "rule3",
            ns: "test",
            host,
            export_to: &["istio-system"],
            subsets: &["subset5", "subset6"],
            ..Default::default()
        }),
    ];
    let idx = DestinationRuleIndex::new(&rs, |_| true, ROOT, DOMAIN);
    let private = &idx.namespace_local["test"].specific[host];
    let public = &idx.exported["test"].specific[host];
    assert_eq!((private.len(), public.len()), (1, 2));
    assert_eq!(private[0].from, [0, 1]);
    assert_eq!(public[0].from, [0, 1]);
    assert_eq!(subset_names(&private[0]).len(), 4);
    assert_eq!(subset_names(&public[0]).len(), 4);
    assert_eq!(public[1].from, [2]);
    assert_eq!(subset_names(&public[1]), ["subset5", "subset6"]);
    assert!(public[1].export_to.contains("istio-system"));
}

/// The merge keeps the oldest rule's top-level trafficPolicy (`mergeDestinationRule`,
/// "first-wins"), whatever the file order.
#[test]
fn merged_rules_keep_the_oldest_traffic_policy() {
    let host = "reviews.shop.svc.cluster.local";
    let rs = vec![
        dr(Dr {
            name: "newer",
            ns: "shop",
            created: Some(20),
            host: "reviews",
            tp: tp(7),
            subsets: &["v2"],
            ..Default::default()
        }),
        dr(Dr {
            name: "older",
            ns: "shop",
            created: Some(10),
            host,
            tp: tp(2),
            subsets: &["v1", "v2"],
            ..Default::default()
        }),
    ];
    let idx = DestinationRuleIndex::new(&rs, |_| true, ROOT, DOMAIN);
    let (rules, _) = idx.lookup("shop", host, "shop").unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].from, [1, 0]);
    let od = rules[0].spec.traffic_policy.as_ref().unwrap().outlier_detection.as_ref().unwrap();
    assert_eq!(od.consecutive_5xx_errors, Some(2));
    assert_eq!(subset_names(rules[0]), ["v1", "v2"], "a subset already present is not added twice");
}

/// `TestSetDestinationRuleWithExportTo` (`pilot/pkg/model/push_context_test.go`), every case.
#[test]
fn istio_set_destination_rule_with_export_to() {
    let testhost = "httpbin.org";
    let rs = vec![
        dr(Dr {
            name: "rule1",
            ns: "test1",
            host: testhost,
            export_to: &[".", "ns1"],
            subsets: &["subset1", "subset2"],
            ..Default::default()
        }),
        dr(Dr {
            name: "rule2",
            ns: "test2",
            host: testhost,
            export_to: &["test2", "ns1", "test1", "newNS"],
            subsets: &["subset3", "subset4"],
            ..Default::default()
        }),
        dr(Dr {
            name: "rule3",
            ns: "test3",
            host: testhost,
            export_to: &["test1", "test2", "*"],
            subsets: &["subset5", "subset6"],
            ..Default::default()
        }),
        dr(Dr {
            name: "rule4-local",
            ns: "test4",
            host: testhost,
            export_to: &["test4"],
            subsets: &["subset15", "subset16"],
            ..Default::default()
        }),
        dr(Dr {
            name: "rule4",
            ns: "istio-system",
            host: testhost,
            subsets: &["subset7", "subset8"],
            ..Default::default()
        }),
        dr(Dr {
            name: "rule1",
            ns: "istio-system",
            host: testhost,
            export_to: &["."],
            subsets: &["subset9", "subset10"],
            ..Default::default()
        }),
        dr(Dr {
            name: "rule2",
            ns: "istio-system",
            host: "*.org",
            export_to: &["."],
            subsets: &["subset11", "subset12"],
            ..Default::default()
        }),
        dr(Dr {
            name: "rule3",
            ns: "istio-system",
            host: "*.app.org",
            export_to: &["."],
            subsets: &["subset13", "subset14"],
            ..Default::default()
        }),
        dr(Dr {
            name: "rule5",
            ns: "test5",
            host: "api.test.com",
            export_to: &["istio-system"],
            subsets: &["subset5-0", "subset5-1"],
            ..Default::default()
        }),
        dr(Dr {
            name: "rule6",
            ns: "test6",
            host: "api.test.com",
            export_to: &["istio-system"],
            subsets: &["subset6-0", "subset6-1"],
            ..Default::default()
        }),
    ];
    let idx = DestinationRuleIndex::new(&rs, |_| true, ROOT, DOMAIN);
    for (proxy_ns, service_ns, host, want) in [
        ("test1", "test1", testhost, Some(&["subset1", "subset2"][..])),
        ("test1", "test2", testhost, Some(&["subset1", "subset2"])),
        ("test2", "test1", testhost, Some(&["subset3", "subset4"])),
        ("newNS", "test2", testhost, Some(&["subset3", "subset4"])),
        ("test3", "test1", testhost, Some(&["subset5", "subset6"])),
        ("test5", "test4", testhost, Some(&["subset7", "subset8"])),
        ("ns1", "test1", testhost, Some(&["subset1", "subset2"])),
        ("ns1", "random", testhost, Some(&["subset7", "subset8"])),
        ("random", "random", testhost, Some(&["subset7", "subset8"])),
        ("test3", "random", testhost, Some(&["subset5", "subset6"])),
        ("istio-system", "random", testhost, Some(&["subset9", "subset10"])),
        ("istio-system", "istio-system", testhost, Some(&["subset9", "subset10"])),
        ("istio-system", "istio-system", "foo.app.org", Some(&["subset13", "subset14"])),
        ("istio-system", "test5", "api.test.com", Some(&["subset5-0", "subset5-1"])),
        ("istio-system", "test6", "api.test.com", Some(&["subset6-0", "subset6-1"])),
        ("istio-system", "test7", "api.test.com", None),
    ] {
        let got = idx.lookup(proxy_ns, host, service_ns).map(|(rules, _)| subset_names(rules[0]));
        assert_eq!(got, want.map(|w| w.iter().map(|s| s.to_string()).collect()), "{proxy_ns}-{service_ns} {host}");
    }
}

// ---------------------------------------------------------------------------------------------
// VirtualServices
// ---------------------------------------------------------------------------------------------

fn vs(
    name: &str,
    ns: &str,
    created: Option<i64>,
    hosts: &[&str],
    gateways: &[&str],
    export_to: &[&str],
) -> ConfigResource {
    ConfigResource {
        name: name.into(),
        namespace: ns.into(),
        created,
        cluster_ids: None,
        source: "test".into(),
        spec: ResourceSpec::VirtualService(VirtualServiceSpec {
            hosts: Some(hosts.iter().map(|s| s.to_string()).collect()),
            gateways: (!gateways.is_empty()).then(|| gateways.iter().map(|s| s.to_string()).collect()),
            export_to: (!export_to.is_empty()).then(|| export_to.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }),
    }
}

/// `TestVirtualServiceWithExportTo` (`pilot/pkg/model/push_context_test.go`), every case.
#[test]
fn istio_virtual_service_with_export_to() {
    let gw = "default/gateway";
    let rs = vec![
        vs("rule1", "test1", None, &["rule1.com"], &[], &[".", "ns1"]),
        vs("rule2", "test2", None, &["rule2.com"], &[], &["test2", "ns1", "test1"]),
        vs("rule3", "test3", None, &["rule3.com"], &["mesh"], &["test1", "test2", "*"]),
        vs("rule2Gw", "test2", None, &["rule2gw.com"], &[gw, "mesh"], &["test2", "ns1", "test1"]),
        vs("rule3Gw", "test3", None, &["rule3gw.com"], &[gw], &["test1", "test2", "*"]),
        vs("zzz", "zzz", None, &["rootNS.com"], &[], &[]),
    ];
    let idx = VirtualServiceIndex::new(&rs, |_| true, DOMAIN);
    for (proxy_ns, gateway, want) in [
        ("test1", "mesh", &["rule1.com", "rule2.com", "rule2gw.com", "rule3.com", "rootNS.com"][..]),
        ("test2", "mesh", &["rule2.com", "rule2gw.com", "rule3.com", "rootNS.com"]),
        ("ns1", "mesh", &["rule1.com", "rule2.com", "rule2gw.com", "rule3.com", "rootNS.com"]),
        ("random", "mesh", &["rule3.com", "rootNS.com"]),
        ("test1", gw, &["rule2gw.com", "rule3gw.com"]),
        ("test2", gw, &["rule2gw.com", "rule3gw.com"]),
        ("ns1", gw, &["rule2gw.com", "rule3gw.com"]),
        ("random", gw, &["rule3gw.com"]),
    ] {
        let got: Vec<String> = idx
            .for_gateway(proxy_ns, gateway)
            .iter()
            .flat_map(|&i| idx.spec(i).unwrap().hosts.clone().unwrap())
            .collect();
        assert_eq!(got, want, "{proxy_ns}-{gateway}");
    }
}

/// `TestComputeWildcardHostVirtualServiceIndex` (`pilot/pkg/model/sidecar_test.go`): the most
/// specific wildcard wins, and among holders of the same host the first in Istio's order. The Go
/// test feeds an unsorted list to show the index keeps its input order; pilot always sorts it
/// by creation time first, so here `foo2` (older) takes `foo.example.com`.
#[test]
fn istio_compute_wildcard_host_virtual_service_index() {
    let (oldest, older, newer) = (0, 3600, 7200);
    let rs = vec![
        vs("foo", "default", Some(newer), &["foo.example.com"], &[], &[]),
        vs("foo2", "default", Some(older + 1800), &["foo.example.com"], &[], &[]),
        vs("wild", "default", Some(older), &["*.example.com"], &[], &[]),
        vs("barwild", "default", Some(oldest), &["*.bar.example.com"], &[], &[]),
        vs("barwild2", "default", Some(older), &["*.bar.example.com"], &[], &[]),
    ];
    let idx = VirtualServiceIndex::new(&rs, |_| true, DOMAIN);
    let candidates = idx.for_gateway("default", "mesh");
    let claim = |host: &str| claimants(&idx, &candidates, host).iter().map(|&i| rs[i].name.clone()).collect::<Vec<_>>();
    assert_eq!(claim("foo.example.com"), ["foo2", "foo"], "every exact holder, oldest first");
    assert_eq!(claim("baz.example.com"), ["wild"]);
    assert_eq!(claim("qux.bar.example.com"), ["barwild"]);
    assert!(claim("example.org").is_empty());
}

/// `TestSourceMatchHTTP` (`pilot/pkg/networking/core/route/route_internal_test.go`), every case.
#[test]
fn istio_source_match_http() {
    let none = BTreeMap::new();
    let client = |ns: &'static str| Client { cluster_id: "c", namespace: ns, labels: &none, role: Role::Sidecar };
    let m = |ns: Option<&str>| HttpMatchRequest { source_namespace: ns.map(str::to_string), ..Default::default() };
    assert!(source_matches(&m(Some("foo")), &[], &client("foo")));
    assert!(!source_matches(&m(Some("foo")), &[], &client("bar")));
    assert!(!source_matches(&m(Some("foo")), &[], &client("")));
    assert!(source_matches(&m(None), &[], &client("bar")));
}

// ---------------------------------------------------------------------------------------------
// Whole selections: routes per proxy, gateways, notes
// ---------------------------------------------------------------------------------------------

const SVC: &str = "reviews.shop.svc.cluster.local";

fn service() -> Service<'static> {
    Service { host: SVC, namespace: "shop", domain: DOMAIN, others: &[] }
}

fn route(name: &str, matches: Option<Vec<HttpMatchRequest>>, to: &str) -> HttpRoute {
    HttpRoute {
        name: Some(name.into()),
        match_: matches,
        route: Some(vec![HttpRouteDestination {
            destination: Destination { host: to.into(), ..Default::default() },
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn vs_routes(name: &str, ns: &str, hosts: &[&str], gateways: &[&str], http: Vec<HttpRoute>) -> ConfigResource {
    let mut r = vs(name, ns, None, hosts, gateways, &[]);
    if let ResourceSpec::VirtualService(s) = &mut r.spec {
        s.http = Some(http);
    }
    r
}

fn uri_prefix(p: &str) -> HttpMatchRequest {
    HttpMatchRequest { uri: Some(serde_json::json!({ "prefix": p })), ..Default::default() }
}

#[test]
fn a_sidecar_takes_the_first_route_every_request_matches() {
    let rs = vec![vs_routes(
        "reviews",
        "shop",
        &["reviews"],
        &[],
        vec![
            route("api", Some(vec![uri_prefix("/api")]), "reviews"),
            route(
                "canary",
                Some(vec![HttpMatchRequest {
                    source_labels: Some(labels(&[("canary", "yes")])),
                    ..Default::default()
                }]),
                "reviews",
            ),
            route("rest", Some(vec![uri_prefix("/")]), "reviews"),
        ],
    )];
    let l = labels(&[("app", "frontend")]);
    let client = Client { cluster_id: "a", namespace: "shop", labels: &l, role: Role::Sidecar };
    let sel = select(&rs, &client, &service(), ROOT).unwrap();
    // The table: http[0]'s match, then http[2]'s catch-all (http[1]'s match names other sources).
    let table = |sel: &Selection| -> Vec<(usize, Option<usize>)> {
        sel.route.as_ref().unwrap().entries.iter().map(|e| (e.http, e.match_index)).collect()
    };
    assert_eq!(table(&sel), [(0, Some(0)), (2, Some(0))]);
    assert_eq!(sel.route.as_ref().unwrap().entries[1].route.route.as_ref().unwrap()[0].destination.host, SVC);
    assert!(sel.warnings.is_empty(), "{:?}", sel.warnings);
    // A canary proxy also gets the second route, by its labels; with no request condition it is
    // a catch-all (`IsCatchAllRoute`), so the table stops there.
    let l = labels(&[("app", "frontend"), ("canary", "yes")]);
    let sel = select(&rs, &Client { labels: &l, ..client }, &service(), ROOT).unwrap();
    assert_eq!(table(&sel), [(0, Some(0)), (1, Some(0))]);
}

/// `TranslateRoute` drops a match whose `port` is not the listener's; the routes stop at the
/// first catch-all (`BuildHTTPRoutesForVirtualService`).
#[test]
fn a_match_on_another_port_is_dropped_and_routes_stop_at_the_catch_all() {
    let on_port = |p: u32| HttpMatchRequest { port: Some(p), ..uri_prefix("/x") };
    let rs = vec![vs_routes(
        "reviews",
        "shop",
        &["reviews"],
        &[],
        vec![
            route("p9080", Some(vec![on_port(9080), on_port(80)]), "reviews"),
            route("all", None, "reviews"),
            route("never", Some(vec![uri_prefix("/y")]), "reviews"),
        ],
    )];
    let l = BTreeMap::new();
    let client = Client { cluster_id: "a", namespace: "shop", labels: &l, role: Role::Sidecar };
    let sel = select(&rs, &client, &service(), ROOT).unwrap();
    let table: Vec<_> = sel.route.as_ref().unwrap().entries.iter().map(|e| (e.http, e.match_index)).collect();
    assert_eq!(table, [(0, Some(1)), (1, None)]);
    assert_eq!(sel.route.as_ref().unwrap().entries[0].label(), "http[0] (p9080) match[1]");
}

#[test]
fn a_route_to_another_host_is_kept_in_the_table_with_a_warning() {
    let rs = vec![vs_routes("reviews", "shop", &["reviews"], &[], vec![route("to-v2", None, "reviews-v2")])];
    let l = BTreeMap::new();
    let client = Client { cluster_id: "a", namespace: "shop", labels: &l, role: Role::Sidecar };
    let sel = select(&rs, &client, &service(), ROOT).unwrap();
    assert_eq!(sel.route.as_ref().unwrap().entries.len(), 1);
    assert!(
        sel.warnings[0].contains(
            "http[0] sends requests to reviews-v2.shop.svc.cluster.local (weight 0), which the scenario does not \
             declare"
        ),
        "{:?}",
        sel.warnings
    );
    // Declared as a `[[services]]` host, it is simulated: no warning.
    let others = ["reviews-v2.shop.svc.cluster.local".to_string()];
    let svc = Service { others: &others, ..service() };
    let sel = select(&rs, &client, &svc, ROOT).unwrap();
    assert!(sel.warnings.is_empty(), "{:?}", sel.warnings);
}

#[test]
fn virtual_services_bind_to_gateways_and_sidecars_as_istio_resolves_them() {
    let gw = |name: &str, ns: &str, selector: &[(&str, &str)], hosts: &[&str]| ConfigResource {
        name: name.into(),
        namespace: ns.into(),
        created: None,
        cluster_ids: None,
        source: "test".into(),
        spec: ResourceSpec::Gateway(GatewaySpec {
            selector: Some(labels(selector)),
            servers: Some(vec![Server {
                port: ServerPort { number: 80, ..Default::default() },
                hosts: Some(hosts.iter().map(|h| h.to_string()).collect()),
                ..Default::default()
            }]),
        }),
    };
    let rs = vec![
        gw("public", "shop", &[("istio", "ingressgateway")], &["*/shop.example.com"]),
        gw("internal", "shop", &[("istio", "internal")], &["*"]),
        vs_routes("edge", "shop", &["shop.example.com"], &["public"], vec![route("r", None, "reviews")]),
        vs_routes("mesh", "shop", &["reviews"], &[], vec![route("m", None, "reviews")]),
    ];
    let l = labels(&[("istio", "ingressgateway"), ("app", "istio-ingressgateway")]);
    let ingress =
        Client { cluster_id: "a", namespace: "istio-system", labels: &l, role: Role::Gateway { named: None } };
    let sel = select(&rs, &ingress, &service(), ROOT).unwrap();
    assert_eq!(sel.gateways, ["shop/public"]);
    let r = sel.route.as_ref().unwrap();
    assert_eq!((r.resource, r.gateway.as_deref()), (2, Some("shop/public")));
    assert!(sel.notes[0].applied && !sel.notes[1].applied && sel.notes[2].applied && !sel.notes[3].applied);
    assert!(sel.notes[1].why.contains("selector does not match"), "{:?}", sel.notes[1]);
    assert!(sel.notes[3].why.contains("bound to mesh, not to a Gateway this proxy serves"), "{:?}", sel.notes[3]);
    let none = BTreeMap::new();
    let sidecar = Client { cluster_id: "a", namespace: "shop", labels: &none, role: Role::Sidecar };
    let sel = select(&rs, &sidecar, &service(), ROOT).unwrap();
    assert_eq!(sel.route.unwrap().resource, 3);
    // A gateway proxy that names a Gateway no resource defines serves every host of it.
    let named = Client { role: Role::Gateway { named: Some("other") }, ..ingress };
    let sel = select(&rs, &named, &service(), ROOT).unwrap();
    assert_eq!(sel.gateways, ["istio-system/other"]);
    assert!(sel.route.is_none());
    assert!(sel.warnings[0].contains("Istio would answer 404"), "{:?}", sel.warnings);
}

#[test]
fn notes_say_why_each_destination_rule_did_not_apply() {
    let rs = vec![
        dr(Dr { name: "reviews", ns: "shop", host: "reviews", tp: tp(1), ..Default::default() }),
        dr(Dr { name: "catch-all", ns: "istio-system", host: "*.cluster.local", tp: tp(5), ..Default::default() }),
        dr(Dr { name: "ratings", ns: "shop", host: "ratings", ..Default::default() }),
        dr(Dr { name: "private", ns: "team", host: SVC, export_to: &["."], ..Default::default() }),
        dr(Dr {
            name: "canary",
            ns: "shop",
            host: "reviews",
            selector: Some(&[("canary", "yes")]),
            ..Default::default()
        }),
    ];
    let l = labels(&[("app", "frontend")]);
    let client = Client { cluster_id: "a", namespace: "web", labels: &l, role: Role::Sidecar };
    let sel = select(&rs, &client, &service(), ROOT).unwrap();
    let d = sel.destination_rule.as_ref().unwrap();
    assert_eq!((d.from.as_slice(), sel.dr_step), (&[0][..], Some(LookupStep::ServiceNamespace)));
    let why: Vec<(bool, &str)> = sel.notes.iter().map(|n| (n.applied, n.why.as_str())).collect();
    assert!(why[0].0 && why[0].1.contains("exported by the service's namespace `shop`"), "{why:?}");
    assert!(why[1].1.contains("DestinationRule shop/reviews came first"), "{why:?}");
    assert!(why[2].1.contains("does not cover the service"), "{why:?}");
    assert!(why[3].1.starts_with("not visible from namespace `web`: exportTo [.]"), "{why:?}");
    assert!(why[4].1.contains("applies only to proxies in its namespace `shop`"), "{why:?}");
    // A proxy of the root namespace finds the root's rule? No: the root's exported rules come
    // after the service's namespace, so shop/reviews still wins.
    let root_client = Client { namespace: ROOT, ..client };
    let sel = select(&rs, &root_client, &service(), ROOT).unwrap();
    assert_eq!(sel.destination_rule.unwrap().from, [0]);
    // A rule read only by another cluster's istiod does not apply.
    let mut scoped = rs.clone();
    scoped[0].cluster_ids = Some(vec!["b".into()]);
    let sel = select(&scoped, &client, &service(), ROOT).unwrap();
    assert_eq!(sel.destination_rule.unwrap().from, [1]);
    assert!(sel.notes[0].why.starts_with("read only by the istiod of b"), "{:?}", sel.notes[0]);
}
