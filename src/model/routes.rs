//! Each client proxy group's route table for the service, and which route each of a workload's
//! request classes takes.
//!
//! A table is built from the group's Istio selection (`istio::select::RouteChoice`): one Envoy
//! route per entry, with its match translated as pilot does (`istio::route`), its own retries,
//! timeout and fault filter (`istio::translate::route_config`), and its weighted destinations
//! (Istio's `applyHTTPRouteDestination`: a single destination is the route's cluster whatever its
//! weight; with several, those of weight 0 are dropped and the others keep their weights as
//! given). Without a VirtualService the table is Istio's default route: one catch-all route with
//! the mesh's default retry policy.
//!
//! Requests are matched per class: every request of a class carries the same attributes, so the
//! route a class takes is found once, here, and a request only draws its class
//! (`World::on_arrival`). A class no route matches is answered 404 NR by the client proxy.

use crate::envoy::config::RouteConfig;
use crate::envoy::route::{RequestAttrs, RouteMatch};
use crate::istio::manifest::TrafficPolicy;
use crate::istio::select::Selection;
use crate::istio::translate::{MeshSettings, route_config};
use crate::scenario::{RequestClass, Scenario};

/// The most routes a proxy group's table may hold (bounded so a route index fits a `u16` and a
/// request's route lookup stays small).
pub const MAX_ROUTES: usize = 256;
/// The most destinations one route may split its requests over.
pub const MAX_DESTINATIONS: usize = 64;
/// The most regex work a workload's classes may cost at a run's start: steps, about 50 ns each
/// (0.2 s). Real route tables cost thousands.
pub const MAX_REGEX_WORK: u64 = 4_000_000;

/// One weighted destination of a route.
#[derive(Clone, Debug, PartialEq)]
pub struct Destination {
    /// The destination host (FQDN).
    pub host: String,
    /// The DestinationRule subset it names, if any.
    pub subset: Option<String>,
    /// Its weight as Istio passes it to Envoy (100 for a lone destination without one).
    pub weight: u32,
    /// The Envoy cluster of the group's proxies it resolves to (`Proxy::clusters`, every proxy
    /// of a group has the same), found once when the table is built; `None`: no such cluster
    /// (an undefined subset: 503 NC; a host the scenario does not declare, refused by
    /// validation for any request class that takes it).
    pub cluster: Option<crate::model::proxy::ClusterIdx>,
}

/// One Envoy route of a proxy's table.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// `VirtualService ns/name http[1] (canary)`, or `default route` without a VirtualService.
    pub label: String,
    /// What a request must carry to take it.
    pub matcher: RouteMatch,
    /// Its retries, timeout, hash policy and fault filter.
    pub config: RouteConfig,
    /// Where it sends requests; one entry, or several weighted clusters.
    pub destinations: Vec<Destination>,
    /// The destinations' weights, in order (for `envoy::route::pick_weighted`).
    pub weights: Vec<u32>,
    /// `statPrefix` of its match, if any (only names Envoy's stats: no effect on routing).
    pub stat_prefix: Option<String>,
}

impl Route {
    /// Whether it splits requests over several destinations (a draw per request).
    pub fn is_weighted(&self) -> bool {
        self.destinations.len() > 1
    }
}

/// The route table of one client proxy group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteTable {
    /// The routes, in match order.
    pub routes: Vec<Route>,
}

impl RouteTable {
    /// The table the selection `sel` gives. `policy_of(host, subset)` is the traffic policy of the
    /// cluster a destination to `host` and `subset` (`None`: the default cluster) goes to: a route carries
    /// the hash policy of its (first) destination's cluster, as Istio's `LookupHash` does.
    pub fn build(
        sel: &Selection,
        policy_of: &dyn Fn(&str, Option<&str>) -> Option<TrafficPolicy>,
        mesh: &MeshSettings,
        service_host: &str,
        resources: &[crate::istio::select::ConfigResource],
    ) -> RouteTable {
        let Some(choice) = &sel.route else {
            let mut config = route_config(None, mesh);
            crate::istio::lb_policy::apply_to_route(&mut config, policy_of(service_host, None).as_ref(), None);
            let destinations =
                vec![Destination { host: service_host.to_string(), subset: None, weight: 100, cluster: Some(0) }];
            return RouteTable {
                routes: vec![Route {
                    label: "default route".into(),
                    matcher: RouteMatch::default(),
                    config,
                    destinations,
                    weights: vec![100],
                    stat_prefix: None,
                }],
            };
        };
        let id = resources.get(choice.resource).map(|r| r.id()).unwrap_or_default();
        let routes = choice
            .entries
            .iter()
            .map(|e| {
                let dests: Vec<&crate::istio::manifest::HttpRouteDestination> =
                    e.route.route.iter().flatten().collect();
                let weighted = dests.len() > 1;
                let mut config = route_config(Some(&e.route), mesh);
                // `applyHTTPRouteDestination`: a lone destination's hash makes the retry policy drop
                // `previous_hosts` (`ConvertPolicy(…, consistentHash)`); weighted clusters keep it
                // and only add the hash policy.
                let vs_retry = if weighted { None } else { Some(e.route.retries.as_ref()) };
                let tp = dests.first().and_then(|d| policy_of(&d.destination.host, d.destination.subset.as_deref()));
                crate::istio::lb_policy::apply_to_route(&mut config, tp.as_ref(), vs_retry);
                let destinations: Vec<Destination> = dests
                    .iter()
                    .filter(|d| !weighted || d.weight.unwrap_or(0) > 0)
                    .map(|d| Destination {
                        host: d.destination.host.clone(),
                        subset: d.destination.subset.clone(),
                        weight: if weighted { d.weight.unwrap_or(0).max(0) as u32 } else { 100 },
                        cluster: None,
                    })
                    .collect();
                Route {
                    label: format!("{id} {}", e.label()),
                    matcher: crate::istio::route::entry_match(e.request_match()),
                    config,
                    weights: destinations.iter().map(|d| d.weight).collect(),
                    destinations,
                    stat_prefix: e.request_match().and_then(|m| m.stat_prefix.clone()),
                }
            })
            .collect();
        RouteTable { routes }
    }

    /// Resolves each destination's cluster among `plans` (a proxy's clusters, in order): the
    /// cluster of the destination's host (`Scenario::host_index`) and subset.
    pub fn resolve_clusters(&mut self, s: &Scenario, plans: &[crate::model::build::ClusterPlan]) {
        for d in self.routes.iter_mut().flat_map(|r| r.destinations.iter_mut()) {
            d.cluster = s.host_index(&d.host).and_then(|h| {
                plans
                    .iter()
                    .position(|p| p.host as usize == h && p.subset.as_deref() == d.subset.as_deref())
                    .map(|i| i as crate::model::proxy::ClusterIdx)
            });
        }
    }

    /// The first route whose match `req` satisfies (`None`: Envoy answers 404 NR).
    pub fn route_for(&self, req: &RequestAttrs) -> Option<usize> {
        self.routes.iter().position(|r| r.matcher.matches(req))
    }
}

/// A request that `m` matches, built from its conditions (for `meshsim import`, which gives a
/// gateway's workload the path its VirtualService routes to the service): the prefix or exact
/// path, each header's exact value or prefix, `:method` and `:authority` when matched exactly.
/// `None` when the conditions cannot be met this simply (a query parameter, a regex other than
/// plain text or `.*`); the caller checks the result with [`RouteTable::route_for`].
pub fn example_request(m: &RouteMatch, authority: &str) -> Option<RequestAttrs> {
    use crate::envoy::route::{HeaderTest, PathMatch, StringMatcher};
    if !m.query_params.is_empty() {
        return None;
    }
    let mut req = RequestClass::default_attrs(authority);
    req.path = match &m.path {
        PathMatch::Prefix(p) | PathMatch::Exact(p) => p.clone(),
        PathMatch::Regex(r) if r.is_any() => "/".into(),
        PathMatch::Regex(r) => r.literal()?.to_string(),
    };
    for h in m.headers.iter().filter(|h| !h.invert) {
        let value = match &h.test {
            HeaderTest::Present => "1".to_string(),
            HeaderTest::Value(StringMatcher::Exact(v) | StringMatcher::Prefix(v)) => v.clone(),
            HeaderTest::Value(StringMatcher::Regex(r)) if r.is_any() => "1".to_string(),
            HeaderTest::Value(StringMatcher::Regex(r)) => r.literal()?.to_string(),
        };
        match h.name.as_str() {
            ":method" => req.method = value,
            ":authority" => req.authority = value,
            ":scheme" | ":path" => return None,
            name => req.headers.push((name.to_string(), value)),
        }
    }
    req.headers.sort();
    m.matches(&req).then_some(req)
}

/// The route each class of a workload takes in `table` (one entry for a workload without
/// classes: `GET /`).
pub fn class_routes(table: &RouteTable, classes: &[RequestClass], service_host: &str) -> Vec<Option<u16>> {
    if classes.is_empty() {
        let attrs = RequestClass::default_attrs(service_host);
        return vec![table.route_for(&attrs).map(|i| i as u16)];
    }
    classes.iter().map(|c| table.route_for(&c.attrs).map(|i| i as u16)).collect()
}

/// Every proxy group's table for scenario `s` (DestinationRule policy as each group gets it).
pub fn tables(s: &Scenario) -> Vec<RouteTable> {
    s.proxy_groups
        .iter()
        .map(|g| {
            let plans = crate::model::build::all_cluster_plans(s, &g.selection, &g.host_selections);
            // A host the scenario does not declare counts as the service here (validation refuses
            // a request class that takes it).
            let policy_of = |host: &str, subset: Option<&str>| {
                let h = s.host_index(host).unwrap_or(0) as u32;
                let of_host = |p: &&crate::model::build::ClusterPlan| p.host == h;
                let found = plans.iter().filter(of_host).find(|p| p.subset.as_deref() == subset);
                found.or_else(|| plans.iter().find(of_host)).unwrap_or(&plans[0]).policy.clone()
            };
            let mut t =
                RouteTable::build(&g.selection, &policy_of, &s.mesh.settings, &s.service.host, &s.policy.resources);
            t.resolve_clusters(s, &plans);
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::istio::manifest::{Destination as IstioDest, HttpRoute, HttpRouteDestination};
    use crate::istio::select::{RouteChoice, RouteEntry};

    const SVC: &str = "reviews.shop.svc.cluster.local";

    fn dest(subset: &str, weight: Option<i32>) -> HttpRouteDestination {
        HttpRouteDestination {
            destination: IstioDest { host: SVC.into(), subset: Some(subset.into()), ..Default::default() },
            weight,
            ..Default::default()
        }
    }

    fn table(route: Vec<HttpRouteDestination>) -> RouteTable {
        let entry =
            RouteEntry { http: 0, match_index: None, route: HttpRoute { route: Some(route), ..Default::default() } };
        let sel = Selection {
            route: Some(RouteChoice { resource: 0, entries: vec![entry], gateway: None }),
            ..Default::default()
        };
        RouteTable::build(&sel, &|_, _| None, &MeshSettings::default(), SVC, &[])
    }

    /// Istio's `applyHTTPRouteDestination` (`route_test.go` "for virtual service with weighted
    /// destinations" / "…with a zero-weight destination"): a lone destination is the route's
    /// cluster whatever its weight; several keep their weights as given, dropping those of 0.
    #[test]
    fn weights_as_istio_passes_them() {
        let t = table(vec![dest("v1", Some(7))]);
        assert_eq!(t.routes[0].weights, [100]);
        assert!(!t.routes[0].is_weighted());
        let t = table(vec![dest("v1", Some(90)), dest("v2", Some(10))]);
        assert_eq!(t.routes[0].weights, [90, 10]);
        assert_eq!(t.routes[0].destinations[1].subset.as_deref(), Some("v2"));
        let t = table(vec![dest("v1", Some(0)), dest("v2", Some(3)), dest("v3", None)]);
        assert_eq!(t.routes[0].weights, [3]);
        assert_eq!(t.routes[0].destinations[0].subset.as_deref(), Some("v2"));
    }

    /// Without a VirtualService the table is Istio's default route: one catch-all with the mesh's
    /// default retries; a class that matches nothing gets `None` (404 NR).
    #[test]
    fn default_route_and_unmatched_classes() {
        let t = RouteTable::build(&Selection::default(), &|_, _| None, &MeshSettings::default(), SVC, &[]);
        assert_eq!(t.routes.len(), 1);
        assert!(t.routes[0].matcher.is_catch_all());
        assert_eq!(t.routes[0].config.retry.as_ref().map(|r| r.num_retries), Some(2));
        assert_eq!(class_routes(&t, &[], SVC), [Some(0)]);
        let mut only_api = t.clone();
        only_api.routes[0].matcher.path = crate::envoy::route::PathMatch::Prefix("/api".into());
        assert_eq!(class_routes(&only_api, &[], SVC), [None]);
        let api = RequestClass {
            fraction: 1.0,
            upto: 1.0,
            attrs: RequestAttrs { path: "/api/v1".into(), ..RequestClass::default_attrs(SVC) },
        };
        assert_eq!(class_routes(&only_api, &[api], SVC), [Some(0)]);
    }

    /// `example_request` builds a request the match accepts, or gives up.
    #[test]
    fn example_requests() {
        let m = crate::istio::route::translate_match(
            &crate::istio::manifest::from_yaml(
                "uri: {prefix: /checkout}\nmethod: {exact: POST}\nheaders: {x-user: {prefix: t-}}",
            )
            .unwrap(),
        )
        .unwrap();
        let r = example_request(&m, SVC).unwrap();
        assert_eq!((r.path.as_str(), r.method.as_str()), ("/checkout", "POST"));
        assert_eq!(r.headers, [("x-user".to_string(), "t-".to_string())]);
        let q = RouteMatch { query_params: vec!["a".into()], ..RouteMatch::default() };
        assert_eq!(example_request(&q, SVC), None);
    }
}
