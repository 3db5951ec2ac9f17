//! `meshsim explain`: what each client proxy's Envoy sees at a moment of a run, after Istio's
//! translation, much as `istioctl proxy-config endpoints` and `proxy-config cluster` would show
//! it: priorities with their health, load and panic state; localities with weights and effective
//! weights; endpoints healthy or ejected (with the multiplier and when they return); the
//! outlier, load-balancing and retry settings in force with their source; and lints for known
//! traps ([`lint`]).

pub mod lint;
pub mod resources;
pub mod settings;

use std::fmt::Write as _;
use std::sync::Arc;

use crate::engine::{Interrupt, SimError, SimTime};
use crate::model::ids::EndpointId;
use crate::model::world::World;
use crate::scenario::{ProxyKind, Scenario};

pub use lint::{Lint, lint_scenario};
pub use settings::{Setting, Source};

/// What one client proxy sees at the snapshot time.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyView {
    /// Proxy name, e.g. `ingress-0`.
    pub name: String,
    /// `gateway` or `sidecar`.
    pub kind: &'static str,
    /// Its Kubernetes cluster.
    pub cluster: String,
    /// Its locality.
    pub locality: String,
    /// Its priorities, P0 first.
    pub priorities: Vec<PriorityView>,
    /// Every priority is in panic (load split by host counts).
    pub total_panic: bool,
    /// Hosts ejected now / hosts known to the outlier detector (None without outlier detection).
    pub ejected: Option<(u32, u32)>,
    /// Route settings (retries, timeout) with their source: of its only route, or of the first
    /// route of its table.
    pub route: Vec<Setting>,
    /// Its route table (client proxies): every route in match order, with its match, its
    /// destinations, its settings and the request classes that take it; empty for an east-west
    /// gateway.
    pub routes: Vec<RouteView>,
    /// The request classes of its workloads that no route matches (answered 404 NR).
    pub unrouted: Vec<String>,
    /// Its cluster settings, when they differ between proxies (else [`Snapshot::settings`]).
    pub settings: Vec<Setting>,
    /// Its namespace.
    pub namespace: String,
    /// The Istio resources that applied to it and those about the service that did not, with why.
    pub resources: Vec<resources::ResourceNote>,
    /// Resources not shown: they are for other hosts.
    pub other_resources: usize,
    /// The Envoy cluster shown (the one its route sends to; the default one when the route
    /// names a subset that does not exist), e.g. `outbound|80|v1|HOST`.
    pub envoy_cluster: String,
    /// Every Envoy cluster the proxy has for the service, with the endpoints in its EDS: the
    /// default cluster, then one per DestinationRule subset; then each `[[services]]` host's.
    pub clusters: Vec<(String, u32)>,
    /// The other clusters its routes reach (a weighted split, a later route to another subset),
    /// each with its own priorities, locality weights, panic state and settings: a subset's
    /// cluster holds only its own pods, so its priority table is its own. In the order the route
    /// table names them; the shown cluster ([`ProxyView::envoy_cluster`]) is not repeated.
    pub other_clusters: Vec<ClusterView>,
}

/// One more Envoy cluster a proxy's routes reach, as that proxy holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    /// `outbound|PORT|SUBSET|HOST`.
    pub name: String,
    /// The routes that send to it, e.g. `route [0] weight 10 (10%)`.
    pub reached_by: Vec<String>,
    /// Its priorities, P0 first.
    pub priorities: Vec<PriorityView>,
    /// Every priority is in panic.
    pub total_panic: bool,
    /// Hosts ejected now / hosts known to its outlier detector.
    pub ejected: Option<(u32, u32)>,
    /// Its settings in force, with their source (the subset's merged policy).
    pub settings: Vec<Setting>,
}

/// One route of a client proxy's table.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteView {
    /// `VirtualService ns/name http[1] (canary)`, or `default route`.
    pub label: String,
    /// Its match in words (`uri prefix "/"` matches every request).
    pub matches: String,
    /// Its destinations `(host, subset, weight)`, in order.
    pub destinations: Vec<(String, Option<String>, u32)>,
    /// Its retries, timeout and faults, with their source.
    pub settings: Vec<Setting>,
    /// The request classes that take it, e.g. `workload[0] GET /api (x-canary: true), 10%`.
    pub classes: Vec<String>,
    /// Its match's `statPrefix` (names Envoy's stats only).
    pub stat_prefix: Option<String>,
}

/// One priority of a proxy's cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorityView {
    /// Priority index.
    pub index: usize,
    /// `min(100, ⌊140 × healthy / hosts⌋)`.
    pub health: u32,
    /// Percent of new requests sent to this priority.
    pub load: u32,
    /// Healthy percentage below the panic threshold: hosts are picked among all, ejected included.
    pub in_panic: bool,
    /// Its localities.
    pub localities: Vec<LocalityView>,
}

/// One locality of one priority.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalityView {
    /// `region/zone/sub_zone`.
    pub locality: String,
    /// `load_balancing_weight` from EDS.
    pub weight: u32,
    /// `weight × min(1, 1.4 × healthy / hosts)`; only used with `locality_weighted_lb_config`.
    pub effective_weight: f64,
    /// Hosts.
    pub hosts: u32,
    /// Healthy hosts.
    pub healthy: u32,
    /// The hosts.
    pub endpoints: Vec<EndpointView>,
}

/// One host as a proxy sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointView {
    /// `cluster/ordinal`.
    pub name: String,
    /// Its state.
    pub state: EndpointState,
}

/// The health of a host in a proxy.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointState {
    /// Healthy; `multiplier` is the back-off multiplier still carried from earlier ejections.
    Healthy {
        /// Current back-off multiplier (0 when never ejected or fully decayed).
        multiplier: u32,
    },
    /// Ejected by outlier detection.
    Ejected {
        /// The detector that fired.
        reason: &'static str,
        /// Back-off multiplier of this ejection.
        multiplier: u32,
        /// When it was ejected.
        since: SimTime,
        /// The earliest time an interval tick returns it.
        due: SimTime,
    },
    /// Sent by EDS as UNHEALTHY (an unready pod, Istio 1.31).
    EdsUnhealthy,
}

/// What `meshsim explain` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Scenario name.
    pub scenario: String,
    /// Seed of the run.
    pub seed: u64,
    /// The moment shown.
    pub at: SimTime,
    /// The Envoy cluster's name as Istio writes it, `outbound|PORT||HOST` ([`envoy_cluster_name`]).
    pub envoy_cluster: String,
    /// The cluster settings of every proxy, with their source; empty when proxies get different
    /// DestinationRules (each [`ProxyView`] then holds its own).
    pub settings: Vec<Setting>,
    /// What the manifests held that meshsim skipped, one line per file.
    pub skipped: Vec<String>,
    /// One entry per client proxy.
    pub proxies: Vec<ProxyView>,
    /// Traps in the policy.
    pub lints: Vec<Lint>,
}

/// Runs `scenario` with `seed` up to `at` (every event at or before `at` is handled) and reports
/// what each client proxy sees then. `at` beyond the run is clamped to its end.
pub fn snapshot(scenario: Arc<Scenario>, seed: u64, at: SimTime) -> Result<Snapshot, SimError> {
    snapshot_with(scenario, seed, at, None)
}

/// [`snapshot`], asking `interrupt` (when given) whether to stop early.
pub fn snapshot_with(
    scenario: Arc<Scenario>,
    seed: u64,
    at: SimTime,
    interrupt: Option<Interrupt>,
) -> Result<Snapshot, SimError> {
    let at = at.min(scenario.end());
    let out = crate::model::build::run_until(scenario.clone(), seed, at, interrupt)?;
    let world = &out.world;
    let mut proxies: Vec<ProxyView> = (0..world.proxies.len()).map(|i| proxy_view(world, i)).collect();
    // One block of settings when every proxy has the same, as in a mesh with one DestinationRule.
    let uniform = proxies.windows(2).all(|w| w[0].settings == w[1].settings);
    // The cluster the settings are those of: the clients' route cluster when they all share one.
    let clients: Vec<&ProxyView> = proxies.iter().filter(|p| p.kind != "east-west gateway").collect();
    let envoy_cluster = match clients.first() {
        Some(first) if clients.iter().all(|p| p.envoy_cluster == first.envoy_cluster) => first.envoy_cluster.clone(),
        _ => envoy_cluster_name(&scenario),
    };
    let settings = if uniform {
        let common = proxies.first().map(|p| p.settings.clone()).unwrap_or_default();
        for p in &mut proxies {
            p.settings.clear();
        }
        common
    } else {
        Vec::new()
    };
    Ok(Snapshot {
        scenario: scenario.name.clone(),
        seed,
        at,
        envoy_cluster,
        settings,
        skipped: resources::manifest_summary(&scenario),
        proxies,
        lints: lint_scenario(&scenario),
    })
}

/// The name Istio gives the service's outbound Envoy cluster, `outbound|PORT||HOST`
/// (`model.BuildSubsetKey` in `pilot/pkg/model/service.go`), PORT the service's
/// ([`crate::model::build::service_port`]: the first port a route names, else 80; a group whose
/// routes name another port has its own, in its [`ProxyView::envoy_cluster`]).
pub fn envoy_cluster_name(s: &Scenario) -> String {
    crate::model::build::cluster_name(s, crate::model::build::service_port(s), None, false)
}

/// The Istio selection of proxy `p`: its group's, or its east-west gateway deployment's.
fn selection_of<'a>(s: &'a Scenario, p: &crate::model::proxy::Proxy) -> Option<&'a crate::istio::select::Selection> {
    match s.proxy_groups.get(p.group.idx()) {
        Some(g) => Some(&g.selection),
        None => s.east_west_gateways.iter().find(|g| g.cluster == p.kube_cluster).map(|g| &g.selection),
    }
}

/// The Istio selection proxy `p` gets for host `h` (0: `[service]`, `h`: `services[h - 1]`).
fn host_selection<'a>(
    s: &'a Scenario,
    p: &crate::model::proxy::Proxy,
    h: usize,
) -> Option<&'a crate::istio::select::Selection> {
    if h == 0 {
        return selection_of(s, p);
    }
    let others = match s.proxy_groups.get(p.group.idx()) {
        Some(g) => &g.host_selections,
        None => &s.east_west_gateways.iter().find(|g| g.cluster == p.kube_cluster)?.host_selections,
    };
    others.get(h - 1)
}

/// The cluster an east-west gateway forwards the service's traffic with (AUTO_PASSTHROUGH, by
/// SNI): `outbound_.PORT_._.HOST` (`model.BuildDNSSrvSubsetKey` in
/// `pilot/pkg/model/service.go`), with the port chosen as for [`envoy_cluster_name`].
pub fn gateway_cluster_name(s: &Scenario) -> String {
    let client = envoy_cluster_name(s);
    let port = client.split('|').nth(1).unwrap_or("80");
    format!("outbound_.{port}_._.{}", s.service.host)
}

fn proxy_view(world: &World, i: usize) -> ProxyView {
    let s = &world.scenario;
    let p = &world.proxies[i];
    // East-west gateways are Envoys of their own, outside the scenario's client groups.
    let group = s.proxy_groups.get(p.group.idx());
    let kind = match group.map(|g| g.kind) {
        Some(ProxyKind::Gateway) => "gateway",
        Some(ProxyKind::Sidecar) => "sidecar",
        None => "east-west gateway",
    };
    // The cluster its route sends to (`model::build::route_cluster`).
    let shown = p.route_cluster.unwrap_or(crate::model::proxy::DEFAULT_CLUSTER) as usize;
    let cl = &p.clusters[shown];
    let (priorities, total_panic, ejected) = cluster_state(world, cl);
    let selection = selection_of(s, p);
    let routes = route_views(world, p.group);
    let (mut resources, mut other_resources) = selection.map(|sel| resources::notes(s, sel)).unwrap_or_default();
    // The DestinationRule each `[[services]]` host's clusters are built from, for this proxy.
    let others = match s.proxy_groups.get(p.group.idx()) {
        Some(g) => Some(&g.host_selections),
        None => s.east_west_gateways.iter().find(|g| g.cluster == p.kube_cluster).map(|g| &g.host_selections),
    };
    for (i, sel) in others.into_iter().flatten().enumerate() {
        let host = s.host_name(i + 1);
        for n in sel.notes.iter().filter(|n| n.applied) {
            let r = &s.policy.resources[n.resource];
            if !matches!(r.spec, crate::istio::select::ResourceSpec::DestinationRule(_)) {
                continue;
            }
            other_resources = other_resources.saturating_sub(1);
            let why = format!("for host {host} (its clusters): {}", n.why);
            resources.push(resources::ResourceNote { id: r.id(), source: r.source.clone(), applied: true, why });
        }
    }
    let namespace = match group {
        Some(g) => g.namespace.clone(),
        None => s
            .east_west_gateways
            .iter()
            .find(|g| g.cluster == p.kube_cluster)
            .map(|g| g.namespace.clone())
            .unwrap_or_default(),
    };
    ProxyView {
        name: p.name.clone(),
        kind,
        cluster: s.kube_clusters[p.kube_cluster.idx()].name.clone(),
        locality: world.topo.localities[p.locality.idx()].to_string(),
        priorities,
        total_panic,
        ejected,
        other_clusters: other_clusters(world, p, shown, &routes),
        routes,
        unrouted: class_names(world, p.group, None),
        route: if group.is_some() {
            settings::route_settings(&p.route, group.and_then(|g| g.selection.http_route()), s)
        } else {
            Vec::new()
        },
        // The shown cluster may be another host's (a route whose first destination is it).
        settings: match host_selection(s, p, cl.host as usize) {
            Some(sel) => settings::host_settings_for(s, cl.host as usize, sel, cl.subset.as_deref()),
            None => settings::host_cluster_settings(s, cl.host as usize, None, None),
        },
        namespace,
        resources,
        other_resources,
        envoy_cluster: cl.name.clone(),
        clusters: p
            .clusters
            .iter()
            .map(|c| (c.name.clone(), c.hosts.iter().filter(|h| h.member).count() as u32))
            .collect(),
    }
}

/// A cluster's priorities (with their localities and endpoints), whether every priority is in
/// panic, and its ejected / known hosts.
fn cluster_state(world: &World, cl: &crate::model::proxy::Cluster) -> (Vec<PriorityView>, bool, Option<(u32, u32)>) {
    let state = cl.lb.priority_state();
    let views = cl.lb.locality_view();
    let mut priorities: Vec<PriorityView> = (0..cl.lb.num_priorities())
        .map(|index| PriorityView {
            index,
            health: state.health.get(index).copied().unwrap_or(0),
            load: state.healthy_load.get(index).copied().unwrap_or(0)
                + state.degraded_load.get(index).copied().unwrap_or(0),
            in_panic: state.in_panic.get(index).copied().unwrap_or(false),
            localities: Vec::new(),
        })
        .collect();
    for v in views {
        let endpoints = (0..cl.hosts.len())
            .filter(|&h| {
                let info = &cl.hosts[h];
                info.member && info.priority as usize == v.priority && info.locality == v.locality
            })
            .map(|h| endpoint_view(world, cl, EndpointId(h as u32)))
            .collect();
        if let Some(pr) = priorities.get_mut(v.priority) {
            pr.localities.push(LocalityView {
                locality: world.topo.localities[v.locality.idx()].to_string(),
                weight: v.weight,
                effective_weight: v.effective_weight,
                hosts: v.hosts,
                healthy: v.healthy,
                endpoints,
            });
        }
    }
    let ejected = cl.outlier.as_ref().map(|o| (o.active_ejections(), o.n_members()));
    (priorities, state.total_panic, ejected)
}

/// The clusters of proxy `p` that its route table reaches besides `shown`, in the order the
/// routes name them, each with the routes that send to it. A destination whose subset has no
/// cluster (503 NC) or whose host is another service reaches none.
fn other_clusters(
    world: &World,
    p: &crate::model::proxy::Proxy,
    shown: usize,
    routes: &[RouteView],
) -> Vec<ClusterView> {
    let s = &world.scenario;
    let mut order: Vec<(usize, Vec<String>)> = Vec::new();
    for (k, r) in routes.iter().enumerate() {
        let total: u64 = r.destinations.iter().map(|d| u64::from(d.2)).sum();
        for (host, subset, w) in &r.destinations {
            let Some(c) = s.host_index(host).and_then(|h| p.cluster_for(h, subset.as_deref())) else { continue };
            let c = c as usize;
            if c == shown {
                continue;
            }
            let label = if r.destinations.len() > 1 {
                let pct = (*w as f64) * 100.0 / (total.max(1) as f64);
                format!("route [{k}] weight {w} ({}%)", (pct * 100.0).round() / 100.0)
            } else {
                format!("route [{k}]")
            };
            match order.iter_mut().find(|(x, _)| *x == c) {
                Some((_, labels)) => labels.push(label),
                None => order.push((c, vec![label])),
            }
        }
    }
    order
        .into_iter()
        .map(|(c, reached_by)| {
            let cl = &p.clusters[c];
            let (priorities, total_panic, ejected) = cluster_state(world, cl);
            // A `[[services]]` host's cluster: the settings of the rule the proxy gets for it.
            let settings = match host_selection(s, p, cl.host as usize) {
                Some(sel) => settings::host_settings_for(s, cl.host as usize, sel, cl.subset.as_deref()),
                None => Vec::new(),
            };
            ClusterView { name: cl.name.clone(), reached_by, priorities, total_panic, ejected, settings }
        })
        .collect()
}

/// The request classes of the workloads entering through `group` whose route is `route` (`None`:
/// those no route matches), described for explanations.
fn class_names(world: &World, group: crate::model::ids::ProxyGroupId, route: Option<u16>) -> Vec<String> {
    let s = &world.scenario;
    let mut out = Vec::new();
    for (i, w) in s.workload.iter().enumerate() {
        if w.group != group {
            continue;
        }
        for (c, r) in world.class_routes[i].iter().enumerate() {
            if *r != route {
                continue;
            }
            out.push(match w.requests.get(c) {
                Some(class) => format!("workload[{i}] {}, {}%", class.describe(), fmt_share(class.fraction)),
                None => format!("workload[{i}] GET /{NO_CLASSES}"),
            });
        }
    }
    out
}

/// How a workload without `[[workload.requests]]` is named in a route's classes.
const NO_CLASSES: &str = " (no request classes)";

fn fmt_share(f: f64) -> String {
    let pct = (f * 1e6).round() / 1e4;
    format!("{pct}")
}

fn route_views(world: &World, group: crate::model::ids::ProxyGroupId) -> Vec<RouteView> {
    let s = &world.scenario;
    let (Some(table), Some(g)) = (world.routes.get(group.idx()), s.proxy_groups.get(group.idx())) else {
        return Vec::new();
    };
    let entries = g.selection.route.as_ref().map(|c| &c.entries);
    table
        .routes
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let vs_route = entries.and_then(|e| e.get(k)).map(|e| &e.route);
            RouteView {
                label: r.label.clone(),
                matches: r.matcher.describe(),
                destinations: r.destinations.iter().map(|d| (d.host.clone(), d.subset.clone(), d.weight)).collect(),
                settings: settings::route_settings(&r.config, vs_route, s),
                classes: class_names(world, group, Some(k as u16)),
                stat_prefix: r.stat_prefix.clone(),
            }
        })
        .collect()
}

fn endpoint_view(world: &World, p: &crate::model::proxy::Cluster, id: EndpointId) -> EndpointView {
    let name = crate::output::endpoint_name(world, id);
    let hs = p.outlier.as_ref().and_then(|o| o.host_state(id));
    let state = match hs {
        Some(h) if h.ejected => EndpointState::Ejected {
            reason: h.last_ejection_kind.map_or("?", |k| k.stat_name()),
            multiplier: h.multiplier,
            since: h.last_ejection.unwrap_or(SimTime::ZERO),
            due: h.uneject_due.unwrap_or(SimTime::ZERO),
        },
        _ if p.hosts[id.idx()].eds_unhealthy => EndpointState::EdsUnhealthy,
        Some(h) => EndpointState::Healthy { multiplier: h.multiplier },
        None => EndpointState::Healthy { multiplier: 0 },
    };
    EndpointView { name, state }
}

/// The snapshot as text; only proxies named `proxy` (or whose group is `proxy`) when given.
///
/// Per proxy: its route settings, then per priority a locality table and an endpoint table with
/// `istioctl proxy-config endpoints`' columns (`ENDPOINT`, `STATUS`, `OUTLIER CHECK`, `CLUSTER`)
/// followed by meshsim's own (`LOCALITY`, `DETAIL`: multiplier, ejection time, return).
pub fn render(snap: &Snapshot, proxy: Option<&str>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} at t={} (seed {})", snap.scenario, snap.at, snap.seed);
    for line in &snap.skipped {
        let _ = writeln!(s, "{line}");
    }
    if snap.settings.is_empty() {
        let _ = writeln!(
            s,
            "\nCluster {} settings differ between proxies (they get different DestinationRules): see each",
            snap.envoy_cluster
        );
    } else {
        let _ = writeln!(s, "\nCluster {} settings in force (every client proxy)", snap.envoy_cluster);
        render_settings(&mut s, &snap.settings);
    }
    let selected = snap.proxies.iter().filter(|p| proxy.is_none_or(|name| proxy_matches(&p.name, name)));
    for p in selected {
        let _ = writeln!(
            s,
            "\nProxy {} ({} in {}, namespace {}, locality {})",
            p.name, p.kind, p.cluster, p.namespace, p.locality
        );
        if !p.resources.is_empty() || p.other_resources > 0 {
            let _ = writeln!(s, "  Istio resources");
            for r in &p.resources {
                let verdict = if r.applied { "applied    " } else { "not applied" };
                let _ = writeln!(s, "    {verdict} {} ({}): {}", r.id, r.source, r.why);
            }
            if p.other_resources > 0 {
                let _ = writeln!(s, "    ({} more resources are for other hosts)", p.other_resources);
            }
        }
        if p.clusters.len() > 1 {
            let _ = writeln!(
                s,
                "  Envoy clusters (per host, [service]'s first: the default, then one per DestinationRule subset)"
            );
            // Every cluster a route of its table sends to (a weighted split reaches several).
            let reached = |name: &str| {
                let subset = name.split('|').nth(2).filter(|x| !x.is_empty());
                let host = name.split('|').nth(3).unwrap_or("");
                p.routes
                    .iter()
                    .flat_map(|r| &r.destinations)
                    .any(|(h, sub, _)| sub.as_deref() == subset && h.eq_ignore_ascii_case(host))
            };
            for (name, n) in &p.clusters {
                let mark = if *name == p.envoy_cluster {
                    "  <- its route"
                } else if reached(name) {
                    "  <- its route (a weighted destination)"
                } else {
                    ""
                };
                let _ = writeln!(s, "    {name}: {n} endpoints{mark}");
            }
            if p.other_clusters.is_empty() {
                let _ = writeln!(s, "  Shown below: {}", p.envoy_cluster);
            } else {
                let _ = writeln!(s, "  Shown below: each cluster marked `<-`, one section each");
            }
        }
        if !p.settings.is_empty() {
            let _ = writeln!(s, "  Cluster settings in force");
            render_settings(&mut s, &p.settings);
        }
        if p.routes.len() > 1 || p.routes.iter().any(|r| r.destinations.len() > 1) || !p.unrouted.is_empty() {
            render_routes(&mut s, p);
        } else {
            render_settings(&mut s, &p.route);
            // A one-route table: name the request classes only when the workloads declare some.
            for c in p.routes.iter().flat_map(|r| &r.classes).filter(|c| !c.ends_with(NO_CLASSES)) {
                let _ = writeln!(s, "  {:<58} {c}", "requests");
            }
        }
        if !p.other_clusters.is_empty() {
            let _ = writeln!(s, "  Cluster {} (its first route's first destination)", p.envoy_cluster);
        }
        render_cluster(&mut s, &p.envoy_cluster, p.ejected, p.total_panic, &p.priorities);
        // Every other cluster its routes reach: a subset's cluster holds its own pods, so its
        // own priorities, weights and panic state.
        let shown_settings = if p.settings.is_empty() { &snap.settings } else { &p.settings };
        for c in &p.other_clusters {
            let _ = writeln!(s, "  Cluster {} ({})", c.name, c.reached_by.join(", "));
            let differ: Vec<Setting> = c.settings.iter().filter(|x| !shown_settings.contains(x)).cloned().collect();
            if !differ.is_empty() {
                let _ = writeln!(s, "  Its settings where they differ from {}", p.envoy_cluster);
                render_settings(&mut s, &differ);
            }
            render_cluster(&mut s, &c.name, c.ejected, c.total_panic, &c.priorities);
        }
    }
    let _ = writeln!(s, "\nLints");
    if snap.lints.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for l in &snap.lints {
        let _ = writeln!(s, "  [{}] {}\n      fix: {}", l.code, l.reason, l.fix);
    }
    s
}

/// The snapshot as JSON (`meshsim explain --json`, and the teaching page's explain answer): the
/// same facts as [`render`], only the proxies selected by `proxy` when given. Times in seconds.
pub fn to_json(snap: &Snapshot, proxy: Option<&str>) -> serde_json::Value {
    use serde_json::json;
    let setting = |s: &Setting| json!({"name": s.name, "value": s.value, "source": s.source.label()});
    let proxies: Vec<serde_json::Value> = snap
        .proxies
        .iter()
        .filter(|p| proxy.is_none_or(|name| proxy_matches(&p.name, name)))
        .map(|p| {
            let priorities: Vec<serde_json::Value> = p.priorities.iter().map(priority_json).collect();
            let resources: Vec<serde_json::Value> = p
                .resources
                .iter()
                .map(|r| json!({"resource": r.id, "source": r.source, "applied": r.applied, "why": r.why}))
                .collect();
            let mut v = json!({
                "name": p.name, "kind": p.kind, "cluster": p.cluster, "namespace": p.namespace, "locality": p.locality,
                "resources": resources, "other_resources": p.other_resources,
                "settings": p.settings.iter().map(setting).collect::<Vec<_>>(),
                "total_panic": p.total_panic,
                "ejected": p.ejected.map(|(now, hosts)| json!({"now": now, "hosts": hosts})),
                "route": p.route.iter().map(setting).collect::<Vec<_>>(),
                "routes": p.routes.iter().map(|r| json!({
                    "route": r.label,
                    "match": r.matches,
                    "stat_prefix": r.stat_prefix,
                    "destinations": r.destinations.iter().map(|(h, sub, w)| json!({"host": h, "subset": sub, "weight": w})).collect::<Vec<_>>(),
                    "settings": r.settings.iter().map(setting).collect::<Vec<_>>(),
                    "classes": r.classes,
                })).collect::<Vec<_>>(),
                "unrouted": p.unrouted,
                "priorities": priorities,
            });
            // A proxy with subset clusters names them, and the one shown; each other cluster its
            // routes reach carries its own priorities, panic state, ejections and settings.
            if p.clusters.len() > 1 {
                v["envoy_cluster"] = json!(p.envoy_cluster);
                v["clusters"] = json!(p
                    .clusters
                    .iter()
                    .map(|(name, n)| json!({"name": name, "endpoints": n}))
                    .collect::<Vec<_>>());
                v["other_clusters"] = json!(p
                    .other_clusters
                    .iter()
                    .map(|c| json!({
                        "name": c.name,
                        "reached_by": c.reached_by,
                        "total_panic": c.total_panic,
                        "ejected": c.ejected.map(|(now, hosts)| json!({"now": now, "hosts": hosts})),
                        "settings": c.settings.iter().map(setting).collect::<Vec<_>>(),
                        "priorities": c.priorities.iter().map(priority_json).collect::<Vec<_>>(),
                    }))
                    .collect::<Vec<_>>());
            }
            v
        })
        .collect();
    json!({
        "scenario": snap.scenario,
        "seed": snap.seed,
        "at_s": snap.at.as_secs_f64(),
        "envoy_cluster": snap.envoy_cluster,
        "skipped": snap.skipped,
        "settings": snap.settings.iter().map(setting).collect::<Vec<_>>(),
        "proxies": proxies,
        "lints": snap.lints,
    })
}

/// One priority: its health, load and panic, and its localities with their endpoints.
fn priority_json(pr: &PriorityView) -> serde_json::Value {
    use serde_json::json;
    let localities: Vec<serde_json::Value> = pr
        .localities
        .iter()
        .map(|l| {
            let endpoints: Vec<serde_json::Value> = l.endpoints.iter().map(endpoint_json).collect();
            json!({
                "locality": l.locality, "weight": l.weight, "effective_weight": l.effective_weight,
                "hosts": l.hosts, "healthy": l.healthy, "endpoints": endpoints,
            })
        })
        .collect();
    json!({"index": pr.index, "health": pr.health, "load": pr.load, "in_panic": pr.in_panic, "localities": localities})
}

/// One endpoint: `state` (`healthy`, `ejected`, `unhealthy`), istioctl's `status` and
/// `outlier_check`, the multiplier, and for an ejection its reason, start and earliest return.
fn endpoint_json(e: &EndpointView) -> serde_json::Value {
    use serde_json::json;
    let mut v = match &e.state {
        EndpointState::Healthy { multiplier } => json!({"name": e.name, "state": "healthy", "multiplier": multiplier}),
        EndpointState::Ejected { reason, multiplier, since, due } => json!({
            "name": e.name, "state": "ejected", "reason": reason, "multiplier": multiplier,
            "since_s": since.as_secs_f64(), "returns_after_s": due.as_secs_f64(),
        }),
        EndpointState::EdsUnhealthy => json!({"name": e.name, "state": "unhealthy", "multiplier": 0}),
    };
    v["status"] = json!(e.state.status());
    v["outlier_check"] = json!(e.state.outlier_check());
    v
}

/// A proxy is selected by its own name or its group's (`ingress` selects `ingress-0`, ...).
fn proxy_matches(name: &str, wanted: &str) -> bool {
    name == wanted || name.rsplit_once('-').is_some_and(|(group, n)| group == wanted && n.parse::<u32>().is_ok())
}

/// Whether any proxy of `snap` is selected by `wanted`.
pub fn has_proxy(snap: &Snapshot, wanted: &str) -> bool {
    snap.proxies.iter().any(|p| proxy_matches(&p.name, wanted))
}

/// The route table: each route with its match, destinations, settings and the request classes
/// that take it (the first matching route wins), then the classes no route matches.
fn render_routes(s: &mut String, p: &ProxyView) {
    let _ = writeln!(s, "  Route table ({} routes; a request takes the first it matches)", p.routes.len());
    for (k, r) in p.routes.iter().enumerate() {
        let _ = writeln!(s, "  [{k}] {}", r.label);
        let _ = writeln!(s, "      match: {}", r.matches);
        if let Some(sp) = &r.stat_prefix {
            let _ = writeln!(s, "      statPrefix: {sp} (names Envoy's stats only)");
        }
        let total: u64 = r.destinations.iter().map(|d| u64::from(d.2)).sum();
        for (host, subset, w) in &r.destinations {
            let sub = subset.as_deref().map(|x| format!(" subset {x}")).unwrap_or_default();
            if r.destinations.len() > 1 {
                let pct = (*w as f64) * 100.0 / (total.max(1) as f64);
                let _ = writeln!(s, "      -> {host}{sub}  weight {w} ({}%)", (pct * 100.0).round() / 100.0);
            } else {
                let _ = writeln!(s, "      -> {host}{sub}");
            }
        }
        for x in &r.settings {
            let _ = writeln!(s, "      {:<54} {:<15} {}", x.name, x.source.label(), x.value);
        }
        for c in &r.classes {
            let _ = writeln!(s, "      takes: {c}");
        }
    }
    for c in &p.unrouted {
        let _ = writeln!(s, "  no route matches: {c} -> 404 NR");
    }
}

/// One cluster's outlier state, panic and priority tables: per priority a locality table and an
/// endpoint table with istioctl's columns.
fn render_cluster(
    s: &mut String,
    cluster: &str,
    ejected_now: Option<(u32, u32)>,
    total_panic: bool,
    priorities: &[PriorityView],
) {
    if let Some((ejected, hosts)) = ejected_now {
        let _ = writeln!(s, "  ejected now: {ejected} of {hosts} hosts");
    }
    if total_panic {
        let _ = writeln!(s, "  TOTAL PANIC: every priority is in panic; load is split by host counts");
    }
    for pr in priorities {
        let panic = if pr.in_panic { "yes: picks among all hosts, ejected included" } else { "no" };
        let _ = writeln!(s, "  P{}  health {}%  load {}%  panic {panic}", pr.index, pr.health, pr.load);
        let _ =
            writeln!(s, "      {:<40} {:>6} {:>9} {:>5} {:>7}", "LOCALITY", "WEIGHT", "EFFECTIVE", "HOSTS", "HEALTHY");
        for l in &pr.localities {
            let _ = writeln!(
                s,
                "      {:<40} {:>6} {:>9.1} {:>5} {:>7}",
                l.locality, l.weight, l.effective_weight, l.hosts, l.healthy
            );
        }
        let endpoints: Vec<(&LocalityView, &EndpointView)> =
            pr.localities.iter().flat_map(|l| l.endpoints.iter().map(move |e| (l, e))).collect();
        if endpoints.is_empty() {
            continue;
        }
        let name_w = endpoints.iter().map(|(_, e)| e.name.len()).max().unwrap_or(0).max("ENDPOINT".len());
        let cluster_w = cluster.len().max("CLUSTER".len());
        let loc_w = endpoints.iter().map(|(l, _)| l.locality.len()).max().unwrap_or(0).max("LOCALITY".len());
        let row = |s: &mut String, cells: [&str; 6]| {
            let line = format!(
                "      {:<name_w$}  {:<9}  {:<13}  {:<cluster_w$}  {:<loc_w$}  {}",
                cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
            );
            let _ = writeln!(s, "{}", line.trim_end());
        };
        row(s, ["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER", "LOCALITY", "DETAIL"]);
        for (l, e) in endpoints {
            let detail = detail_text(&e.state);
            row(s, [&e.name, e.state.status(), e.state.outlier_check(), cluster, &l.locality, &detail]);
        }
    }
}

fn render_settings(s: &mut String, settings: &[Setting]) {
    for x in settings {
        let _ = writeln!(s, "  {:<58} {:<15} {}", x.name, x.source.label(), x.value);
    }
}

fn detail_text(state: &EndpointState) -> String {
    match state {
        EndpointState::Healthy { multiplier: 0 } => String::new(),
        EndpointState::Healthy { multiplier } => format!("back-off multiplier {multiplier}, decaying"),
        EndpointState::Ejected { reason, multiplier, since, due } => {
            format!("ejected x{multiplier} ({reason}) since {since}, returns at the first interval tick after {due}")
        }
        EndpointState::EdsUnhealthy => "unready pod, sent by EDS as unhealthy".to_string(),
    }
}

impl EndpointState {
    /// istioctl's `STATUS`: the EDS health (`HEALTHY`, or `UNHEALTHY` for an unready pod). An
    /// outlier ejection does not change it; it shows in [`EndpointState::outlier_check`].
    pub fn status(&self) -> &'static str {
        match self {
            EndpointState::EdsUnhealthy => "UNHEALTHY",
            _ => "HEALTHY",
        }
    }

    /// istioctl's `OUTLIER CHECK`: `FAILED` while ejected by outlier detection, else `OK`.
    pub fn outlier_check(&self) -> &'static str {
        match self {
            EndpointState::Ejected { .. } => "FAILED",
            _ => "OK",
        }
    }
}
