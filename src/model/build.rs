//! Building a world from a scenario, and running it.

use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use crate::engine::{Interrupt, SimError, SimRng, SimTime, Simulation};
use crate::envoy::config::{ClusterConfig, OutlierConfig, RouteConfig};
use crate::envoy::lb::ClusterLb;
use crate::envoy::outlier::OutlierDetector;
use crate::istio::locality::{AssignOptions, Assignment, EastWestGateway, IstioEndpoint, ProxyMeta};
use crate::istio::manifest::{LocalityLbSetting, TrafficPolicy};
use crate::istio::translate::{
    EffectiveLbSetting, LbSettingSource, cluster_config, effective_lb_setting, merged_traffic_policy, route_config,
    sends_unhealthy_endpoints,
};
use crate::metrics::recorder::Recorder;
use crate::model::event::Event;
use crate::model::ids::{EndpointId, ProxyGroupId, ProxyId};
use crate::model::pod::{Behavior, Pod, PodState};
use crate::model::proxy::{Cluster, ClusterIdx, DEFAULT_CLUSTER, Proxy};
use crate::model::request::RequestSlab;
use crate::model::topology::Topology;
use crate::model::world::{Stream, World};
use crate::scenario::{Scenario, TrafficDistribution, UpstreamProtocol};

/// What the control plane derives once from the DestinationRule a proxy gets, for every push.
#[derive(Clone, Debug)]
pub struct LbControl {
    /// The locality setting in force.
    pub lb_setting: crate::istio::translate::EffectiveLbSetting,
    /// The DR has outlierDetection (or `trafficDistribution` forces it), so failover priorities
    /// apply.
    pub enable_failover: bool,
    /// Unready endpoints are sent as UNHEALTHY.
    pub send_unhealthy: bool,
    /// For a subset's cluster: the labels an endpoint must carry to be in it (`None`: the
    /// default cluster, every endpoint of the service).
    pub labels: Option<BTreeMap<String, String>>,
    /// The host whose endpoints it holds (0: `[service]`, `h`: `services[h - 1]`).
    pub host: u32,
}

/// What the control plane derives once from the policy for every push.
#[derive(Clone, Debug)]
pub struct ControlPlane {
    /// One per client proxy group, then one per east-west gateway deployment: what its
    /// DestinationRule gives (Istio's selection is per proxy), one entry per Envoy cluster
    /// (`Proxy::clusters`).
    pub lb: Vec<Vec<LbControl>>,
    /// Per proxy: its entry of `lb`.
    pub lb_of: Vec<u32>,
    /// Proxy identities as istiod sees them, per proxy.
    pub metas: Vec<ProxyMeta>,
    /// East-west gateway addresses, for clients on other networks.
    pub gateways: Vec<EastWestGateway>,
    /// Per proxy: it is an east-west gateway replica (it sees only its own network's pods).
    pub is_ew_gateway: Vec<bool>,
}

/// The outcome of one run: the world as it ended, with all its recordings.
pub struct RunOutput {
    /// The final state (recorder, proxies, pods).
    pub world: World,
    /// Events processed.
    pub events: u64,
}

/// The failoverPriority that Kubernetes `trafficDistribution` stands for (envoy-semantics
/// §5.4.2 item 3: `GetLocalityLbSetting`), used only when the DestinationRule has no
/// `localityLbSetting` of its own, on Istio release `1.{istio_minor}`.
///
/// Checked in istio/istio's source (`pilot/pkg/networking/core/loadbalancer/loadbalancer.go`,
/// `GetLocalityLbSetting`, at the tags `1.25.0` to `1.28.0`): Envoy proxies read `PreferClose`
/// from 1.25 (istio/istio#54715, commit b2aba6fb, release note `traffic-distribution.yaml`: before,
/// only ztunnel did) as `[network, region, zone, subzone]`; from 1.27 (istio/istio#56042, commit
/// 6e14c7dc) `PreferClose` is an alias of the new `PreferSameZone`, `[network, region, zone]`
/// (`pilot/pkg/model/service.go`), and `PreferSameNode` adds sub-zone and hostname. In every
/// release the service then sends unready endpoints as unhealthy (`SupportsUnhealthyEndpoints`).
pub fn traffic_distribution_setting(td: TrafficDistribution, istio_minor: u32) -> LocalityLbSetting {
    use crate::istio::locality::labels;
    let mut keys = vec![labels::NETWORK.to_string(), labels::REGION.to_string(), labels::ZONE.to_string()];
    if td == TrafficDistribution::PreferSameZone && istio_minor < 27 {
        keys.push(labels::SUBZONE.to_string());
    }
    if td == TrafficDistribution::PreferSameNode {
        keys.push(labels::SUBZONE.to_string());
        keys.push("kubernetes.io/hostname".to_string());
    }
    LocalityLbSetting { enabled: Some(true), failover_priority: Some(keys), ..Default::default() }
}

/// The Envoy cluster and the control-plane view that the traffic policy `tp` of the
/// DestinationRule a proxy gets gives: Istio's translation, then `trafficDistribution` (when
/// the DR has no `localityLbSetting`), then the plain-Envoy `[envoy_outlier]` fields.
///
/// `trafficDistribution` (Istio 1.31 `GetLocalityLbSetting`, `ep_filters`): failover is forced
/// on, locality weighting is set (a failoverPriority list is present), unready endpoints are
/// sent as unhealthy (a non-default `trafficDistribution` "supports unhealthy endpoints" in
/// every release, §5.5), and so the panic threshold is 0 when there is no outlierDetection
/// (§5.2 rule 2).
pub fn cluster_and_control(
    s: &Scenario,
    tp: Option<&TrafficPolicy>,
) -> (ClusterConfig, EffectiveLbSetting, bool, bool) {
    host_cluster_and_control(s, 0, tp)
}

/// [`cluster_and_control`] for a cluster of host `h`: `trafficDistribution` is `[service]`'s
/// only (a `[[services]]` host has none); `[envoy_outlier]` applies to every host's clusters, as
/// it stands for Envoy settings meshsim lays over every cluster.
pub fn host_cluster_and_control(
    s: &Scenario,
    h: usize,
    tp: Option<&TrafficPolicy>,
) -> (ClusterConfig, EffectiveLbSetting, bool, bool) {
    let mesh = &s.mesh.settings;
    let mut cluster = cluster_config(tp, mesh);
    let mut lb_setting = effective_lb_setting(tp, mesh);
    let mut enable_failover = tp.is_some_and(|t| t.outlier_detection.is_some());
    let mut send_unhealthy = sends_unhealthy_endpoints(tp, mesh);
    let dr_setting = tp.and_then(|t| t.load_balancer.as_ref()).and_then(|lb| lb.locality_lb_setting.as_ref());
    let traffic_distribution = s.traffic_distribution_of(h);
    if let (Some(td), None) = (traffic_distribution, dr_setting) {
        lb_setting = EffectiveLbSetting {
            setting: Some(traffic_distribution_setting(td, mesh.istio_minor)),
            source: LbSettingSource::MeshDefault,
        };
        enable_failover = true;
        send_unhealthy = true;
        cluster.lb.locality_weighted = true;
        if cluster.outlier.is_none() {
            cluster.lb.healthy_panic_threshold = 0;
        }
    }
    if let Some(o) = &s.envoy_outlier {
        let mut c = cluster
            .outlier
            .take()
            .unwrap_or(OutlierConfig { max_ejection_rule: mesh.max_ejection_rule, ..OutlierConfig::default() });
        o.apply(&mut c);
        cluster.outlier = Some(c);
    }
    (cluster, lb_setting, enable_failover, send_unhealthy)
}

/// The service's port, as far as meshsim knows it. meshsim does not model a service's ports: it
/// is the first port a route destination to the service names (client groups in order, each
/// group's route table in order), else 80. A group whose routes name no port sends to it, as
/// Istio lets a route leave the port out when the service has one.
pub fn service_port(s: &Scenario) -> u32 {
    s.proxy_groups.iter().find_map(|g| named_port(s, &g.selection)).unwrap_or(80)
}

/// The first port a destination to the service names in `sel`'s route table.
fn named_port(s: &Scenario, sel: &crate::istio::select::Selection) -> Option<u32> {
    sel.route
        .iter()
        .flat_map(|c| &c.entries)
        .flat_map(|e| e.route.route.iter().flatten())
        .filter(|d| d.destination.host.eq_ignore_ascii_case(&s.service.host))
        .find_map(|d| d.destination.port.as_ref().and_then(|p| p.number))
}

/// The service port a proxy's clusters are built for, named with (`outbound|PORT|SUBSET|HOST`)
/// and whose `portLevelSettings` entries apply: the port its routes' destinations name (Istio
/// builds a cluster per service port, and a route's `destination.port` picks one), else the
/// service's ([`service_port`]). A proxy holds the clusters of one port in meshsim: a table whose
/// routes name two ports sends all to the first (the lint `route-port-simplified` says so). An
/// east-west gateway's selection has no route: it builds the service port's.
pub fn group_port(s: &Scenario, sel: &crate::istio::select::Selection) -> u32 {
    named_port(s, sel).unwrap_or_else(|| service_port(s))
}

/// The port meshsim names host `h`'s clusters with: `[service]`'s is [`service_port`]; another
/// host's is the port of the first route destination to it that names one, else 80.
pub fn host_port(s: &Scenario, h: usize) -> u32 {
    if h == 0 {
        return service_port(s);
    }
    let host = s.host_name(h);
    s.proxy_groups
        .iter()
        .filter_map(|g| g.selection.route.as_ref())
        .flat_map(|r| r.entries.iter())
        .flat_map(|e| e.route.route.iter().flatten())
        .filter(|d| d.destination.host.eq_ignore_ascii_case(host))
        .find_map(|d| d.destination.port.as_ref().and_then(|p| p.number))
        .unwrap_or(80)
}

/// The port host `h`'s clusters are built for in a proxy whose selection for that host is `sel`:
/// [`group_port`] for `[service]`, [`host_port`] for a `[[services]]` host.
pub fn cluster_port(s: &Scenario, h: usize, sel: &crate::istio::select::Selection) -> u32 {
    if h == 0 { group_port(s, sel) } else { host_port(s, h) }
}

/// One Envoy cluster pilot builds for the service in a proxy.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterPlan {
    /// The host it is for (0: `[service]`, `h`: `services[h - 1]`).
    pub host: u32,
    /// The subset (`None`: the default cluster).
    pub subset: Option<String>,
    /// The subset's labels (`None`: the default cluster; an empty map selects every endpoint).
    pub labels: Option<BTreeMap<String, String>>,
    /// The traffic policy in force for it: top-level → port-level → subset → subset port-level
    /// (`istio::translate::merged_traffic_policy`).
    pub policy: Option<TrafficPolicy>,
}

/// The clusters pilot builds for the service in a proxy whose selection is `sel`
/// (`buildOutboundClusters` → `ClusterBuilder::applyDestinationRule`,
/// `pilot/pkg/networking/core/cluster.go` and `cluster_builder.go`): the default cluster
/// `outbound|PORT||HOST` with the rule's top-level policy merged with its port-level settings,
/// then one cluster `outbound|PORT|SUBSET|HOST` per subset of the DestinationRule in force, in
/// the rule's order, with `MergeSubsetTrafficPolicy` (`pilot/pkg/networking/util`) over it. East-
/// west gateways in AUTO_PASSTHROUGH build the same set for SNI routing (`buildSniDnatClusters`,
/// named `outbound_.PORT_.SUBSET_.HOST`).
pub fn cluster_plans(s: &Scenario, sel: &crate::istio::select::Selection) -> Vec<ClusterPlan> {
    host_cluster_plans(s, 0, sel)
}

/// Every cluster pilot builds in a proxy: `[service]`'s ([`cluster_plans`]), then each
/// `[[services]]` host's from the DestinationRule the proxy gets for that host
/// (`others[h - 1]`), in declaration order. A proxy's `clusters` follow this order, so a
/// scenario without `[[services]]` has exactly the clusters it had before they existed.
pub fn all_cluster_plans(
    s: &Scenario,
    main: &crate::istio::select::Selection,
    others: &[crate::istio::select::Selection],
) -> Vec<ClusterPlan> {
    let mut out = host_cluster_plans(s, 0, main);
    for (i, sel) in others.iter().enumerate() {
        out.extend(host_cluster_plans(s, i + 1, sel));
    }
    out
}

/// [`cluster_plans`] for host `h`, whose DestinationRule (if any) is in `sel`.
pub fn host_cluster_plans(s: &Scenario, h: usize, sel: &crate::istio::select::Selection) -> Vec<ClusterPlan> {
    let port = Some(cluster_port(s, h, sel));
    let host = h as u32;
    let Some(dr) = sel.destination_rule.as_ref() else {
        return vec![ClusterPlan { host, subset: None, labels: None, policy: None }];
    };
    let mut out =
        vec![ClusterPlan { host, subset: None, labels: None, policy: merged_traffic_policy(&dr.spec, None, port) }];
    for sub in dr.spec.subsets.iter().flatten() {
        out.push(ClusterPlan {
            host,
            subset: Some(sub.name.clone()),
            labels: Some(sub.labels.clone().unwrap_or_default()),
            policy: merged_traffic_policy(&dr.spec, Some(&sub.name), port),
        });
    }
    out
}

/// Envoy's name for a cluster of the service: `outbound|PORT|SUBSET|HOST` in a client
/// (`model.BuildSubsetKey`, `pilot/pkg/model/service.go`), `outbound_.PORT_.SUBSET_.HOST` in an
/// east-west gateway (`model.BuildDNSSrvSubsetKey`; `_` for no subset), for service port `port`
/// ([`group_port`]).
pub fn cluster_name(s: &Scenario, port: u32, subset: Option<&str>, gateway: bool) -> String {
    host_cluster_name(s, 0, port, subset, gateway)
}

/// [`cluster_name`] for a cluster of host `h` (its port: [`group_port`] for `[service]`,
/// [`host_port`] for a `[[services]]` host).
pub fn host_cluster_name(s: &Scenario, h: usize, port: u32, subset: Option<&str>, gateway: bool) -> String {
    let host = s.host_name(h);
    if gateway {
        format!("outbound_.{port}_.{}_.{host}", subset.unwrap_or(""))
    } else {
        format!("outbound|{port}|{}|{host}", subset.unwrap_or(""))
    }
}

fn new_cluster(
    name: String,
    host: u32,
    subset: Option<String>,
    config: &ClusterConfig,
    http2: bool,
    rng: &mut SimRng,
) -> Cluster {
    Cluster {
        name,
        host,
        subset,
        config: config.clone(),
        outlier: config.outlier.clone().map(OutlierDetector::new),
        lb: ClusterLb::new(config.lb.clone(), rng),
        hosts: Vec::new(),
        active: Vec::new(),
        in_flight: 0,
        pool: Vec::new(),
        n_queued: 0,
        pending: Vec::new(),
        counts: Vec::new(),
        n_conns: 0,
        n_pending: 0,
        http2,
        retries_active: 0,
        n_ejected: 0,
        panic: Vec::new(),
        panic_total: false,
        tunnels: Default::default(),
    }
}

/// The configuration of each cluster of a proxy: its Envoy settings and its control-plane view.
struct BuiltCluster {
    port: u32,
    host: u32,
    subset: Option<String>,
    config: ClusterConfig,
    http2: bool,
    control: LbControl,
}

fn built_clusters(
    s: &Scenario,
    sel: &crate::istio::select::Selection,
    others: &[crate::istio::select::Selection],
) -> Vec<BuiltCluster> {
    let main_port = group_port(s, sel);
    all_cluster_plans(s, sel, others)
        .into_iter()
        .map(|plan| {
            let h = plan.host as usize;
            let port = if h == 0 { main_port } else { host_port(s, h) };
            let (config, lb_setting, enable_failover, send_unhealthy) =
                host_cluster_and_control(s, h, plan.policy.as_ref());
            let http2 = s.protocol_of(h) == UpstreamProtocol::Http2 || config.h2_upgrade;
            let control =
                LbControl { lb_setting, enable_failover, send_unhealthy, labels: plan.labels, host: plan.host };
            BuiltCluster { port, host: plan.host, subset: plan.subset, config, http2, control }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn new_proxy(
    s: &Scenario,
    name: String,
    group: ProxyGroupId,
    kube_cluster: crate::model::ids::KubeClusterId,
    topo: &Topology,
    built: &[BuiltCluster],
    route: RouteConfig,
    mut rng: SimRng,
    tcp_passthrough: bool,
) -> Proxy {
    let clusters = built
        .iter()
        .map(|b| {
            let name = host_cluster_name(s, b.host as usize, b.port, b.subset.as_deref(), tcp_passthrough);
            new_cluster(name, b.host, b.subset.clone(), &b.config, b.http2, &mut rng)
        })
        .collect();
    Proxy {
        name,
        group,
        kube_cluster,
        locality: topo.locality_of(kube_cluster),
        route,
        route_cluster: Some(DEFAULT_CLUSTER),
        clusters,
        tcp_passthrough,
        rng,
        timer_start: None,
    }
}

/// The cluster a client group's route resolves to: the cluster of its VirtualService route's
/// first destination (its host's, the subset's when it names one), else the default cluster.
/// `None` when the subset is not defined (Envoy: 503 NC). A host the scenario does not declare
/// counts as the service here (validation refuses a request class that takes such a route).
fn route_cluster(s: &Scenario, proxy: &Proxy, route: Option<&crate::istio::manifest::HttpRoute>) -> Option<ClusterIdx> {
    let Some(dest) = route.and_then(|r| r.route.as_ref()).and_then(|d| d.first()) else {
        return Some(DEFAULT_CLUSTER);
    };
    let h = s.host_index(&dest.destination.host).unwrap_or(0);
    proxy.cluster_for(h, dest.destination.subset.as_deref())
}

/// Builds the world at time zero and the events that start it.
pub fn build(scenario: Arc<Scenario>, seed: u64) -> (World, Vec<(SimTime, Event)>) {
    let root = SimRng::new(seed);
    let topo = Topology::new(&scenario);
    let mesh = &scenario.mesh.settings;
    let mut proxies = Vec::new();
    let mut metas = Vec::new();
    let mut lb = Vec::new();
    let mut lb_of = Vec::new();
    for (g, group) in scenario.proxy_groups.iter().enumerate() {
        let built = built_clusters(&scenario, &group.selection, &group.host_selections);
        lb.push(built.iter().map(|b| b.control.clone()).collect());
        let vs_route = group.selection.http_route();
        let mut route = route_config(vs_route, mesh);
        // `Proxy::route` keeps the first route's settings (for `explain` and the lints);
        // requests use their own route's (`World::routes`).
        // The policy of the cluster the route goes to (a subset's merged policy, when it names
        // one that exists).
        // (another host's policy when the first destination is a `[[services]]` host).
        let plans = all_cluster_plans(&scenario, &group.selection, &group.host_selections);
        let first = vs_route.and_then(|r| r.route.as_ref()).and_then(|d| d.first());
        let route_host = first.and_then(|d| scenario.host_index(&d.destination.host)).unwrap_or(0) as u32;
        let route_subset = first.and_then(|d| d.destination.subset.as_deref());
        let of_host = |p: &&ClusterPlan| p.host == route_host;
        let route_policy = plans
            .iter()
            .filter(of_host)
            .find(|p| p.subset.as_deref() == route_subset)
            .or_else(|| plans.iter().find(of_host))
            .unwrap_or(&plans[0])
            .policy
            .as_ref();
        // A consistent-hash destination: the route carries the hash key, and a VirtualService
        // route drops `previous_hosts` (`istio::lb_policy`).
        let vs_retry = vs_route.map(|r| r.retries.as_ref());
        crate::istio::lb_policy::apply_to_route(&mut route, route_policy, vs_retry);
        let kc = &scenario.kube_clusters[group.cluster.idx()];
        for r in 0..group.replicas {
            let idx = proxies.len() as u64;
            let rng = root.fork_indexed("proxy", idx);
            let name = format!("{}-{r}", group.name);
            let gid = ProxyGroupId(g as u32);
            let mut proxy = new_proxy(&scenario, name, gid, group.cluster, &topo, &built, route.clone(), rng, false);
            proxy.timer_start = group.timer_start(r);
            proxy.route_cluster = route_cluster(&scenario, &proxy, vs_route);
            proxies.push(proxy);
            lb_of.push(g as u32);
            metas.push(ProxyMeta {
                locality: kc.locality.clone(),
                network: kc.network.clone(),
                cluster: kc.cluster_id.clone(),
                labels: group.labels.clone(),
            });
        }
    }
    let n_clients = proxies.len();
    // East-west gateway replicas: each is a proxy of its own (after the clients, so client ids
    // and random streams do not depend on them) and an address that remote clients send to.
    // A gateway proxies raw TCP (AUTO_PASSTHROUGH): no route, no retries, no timeouts.
    let mut gateways = Vec::new();
    for gw in &scenario.east_west_gateways {
        let kc = &scenario.kube_clusters[gw.cluster.idx()];
        let built = built_clusters(&scenario, &gw.selection, &gw.host_selections);
        lb.push(built.iter().map(|b| b.control.clone()).collect());
        for r in 0..gw.replicas {
            let idx = proxies.len() - n_clients;
            let rng = root.fork_indexed("ew-gateway", idx as u64);
            let name = format!("eastwest-{}-{r}", kc.name);
            let route = RouteConfig::default();
            let gid = ProxyGroupId(u32::MAX);
            proxies.push(new_proxy(&scenario, name, gid, gw.cluster, &topo, &built, route, rng, true));
            lb_of.push(lb.len() as u32 - 1);
            metas.push(ProxyMeta {
                locality: kc.locality.clone(),
                network: kc.network.clone(),
                cluster: kc.cluster_id.clone(),
                labels: gw.labels.clone(),
            });
            gateways.push((ProxyId(proxies.len() as u32 - 1), gw.cluster, r, gw.per_connection));
        }
    }
    let mut is_ew_gateway = vec![false; proxies.len()];
    for (p, _, _, _) in &gateways {
        is_ew_gateway[p.idx()] = true;
    }
    let control = ControlPlane { lb, lb_of, metas, gateways: Vec::new(), is_ew_gateway };
    let mut first_proxy = vec![0u32; scenario.proxy_groups.len()];
    let mut acc = 0;
    for (g, group) in scenario.proxy_groups.iter().enumerate() {
        first_proxy[g] = acc;
        acc += group.replicas;
    }
    let streams = scenario
        .workload
        .iter()
        .map(|w| Stream {
            first_proxy: first_proxy[w.group.idx()],
            n_proxies: scenario.proxy_groups[w.group.idx()].replicas,
            rate: w.rate,
            changes: w.changes.clone(),
            epoch: 0,
            arrivals: w.arrivals.clone(),
            anchor: SimTime::ZERO,
            sent: 0,
            turn: 0,
            users: w.users.as_ref().map(crate::model::keys::UserSampler::new),
        })
        .collect::<Vec<_>>();
    let mut rec = Recorder::new(scenario.duration, scenario.bucket, topo.localities.len());
    // The event log is not in the memory estimate (it grows with what happens): it may use what
    // the estimate leaves of the budget.
    // The largest budget means no limit at all (the estimate saturates there too).
    if scenario.max_memory < u64::MAX {
        let room = scenario.max_memory.saturating_sub(crate::scenario::budget::estimate(&scenario).total());
        rec.set_log_room(room);
    }
    let n_deployments = scenario.service.deployments.len();
    let routes = crate::model::routes::tables(&scenario);
    let class_routes: Vec<Vec<Option<u16>>> = scenario
        .workload
        .iter()
        .map(|w| crate::model::routes::class_routes(&routes[w.group.idx()], &w.requests, &scenario.service.host))
        .collect();
    let class_upto: Vec<Vec<f64>> =
        scenario.workload.iter().map(|w| w.requests.iter().map(|c| c.upto).collect()).collect();
    let direct_routes = scenario
        .workload
        .iter()
        .enumerate()
        .map(|(i, w)| crate::model::world::DirectRoute::of(&class_upto[i], &class_routes[i], &routes[w.group.idx()]))
        .collect();
    let mut world = World {
        scenario: scenario.clone(),
        topo,
        pods: Vec::new(),
        deployments: vec![Vec::new(); n_deployments],
        next_ordinal: vec![0; n_deployments],
        proxies,
        streams,
        requests: RequestSlab::default(),
        rec,
        changes: BinaryHeap::new(),
        push_pending: false,
        rng_workload: root.fork("workload"),
        rng_fault_filter: root.fork("fault-filter"),
        rng_network: root.fork("network"),
        rng_service: root.fork("service"),
        rng_users: root.fork("users"),
        rng_requests: root.fork("request-attributes"),
        rng_route_weights: root.fork("route-weights"),
        routes,
        class_routes,
        class_upto,
        direct_routes,
        no_route: RouteConfig::default(),
        keys: scenario
            .workload
            .iter()
            .filter_map(|w| w.users.as_ref().map(|u| u.count as usize))
            .max()
            .map(crate::metrics::keys::KeyTracker::new),
        scratch: Vec::with_capacity(8),
        service_times: (0..scenario.n_hosts()).map(|h| scenario.service_time_of(h).into()).collect(),
        prev_prio: Vec::new(),
        control,
        clients_in_flight: 0,
        limit_reached: None,
        work: 0,
    };
    // Gateway addresses are created before the service's pods, so they never share an id.
    for (proxy, kc, r, per_connection) in &gateways {
        let id = EndpointId(world.pods.len() as u32);
        world.pods.push(Pod {
            deployment: u32::MAX,
            ordinal: *r,
            cluster: *kc,
            locality: world.topo.locality_of(*kc),
            state: PodState::Ready,
            behavior: Behavior::default(),
            busy: 0,
            queue: Default::default(),
            gateway: Some(*proxy),
            script: None,
            per_connection: *per_connection,
            host: 0,
        });
        let spec = &scenario.kube_clusters[kc.idx()];
        world.control.gateways.push(EastWestGateway {
            id,
            network: spec.network.clone(),
            cluster: spec.cluster_id.clone(),
        });
    }
    for (d, dep) in scenario.service.deployments.iter().enumerate() {
        for _ in 0..dep.replicas {
            world.create_pod(d, true);
        }
    }
    world.push_endpoints(SimTime::ZERO, false);
    let mut init = Vec::new();
    for (i, s) in world.streams.iter().enumerate() {
        init.push((SimTime::ZERO, Event::RateChange { stream: i as u32, change: u32::MAX }));
        for (c, (at, _)) in s.changes.iter().enumerate() {
            init.push((*at, Event::RateChange { stream: i as u32, change: c as u32 }));
        }
    }
    for (i, f) in scenario.faults.iter().enumerate() {
        init.push((f.at, Event::Fault { idx: i as u32 }));
        world.changes.push(std::cmp::Reverse(f.at));
    }
    for (i, p) in scenario.phases.iter().enumerate() {
        init.push((p.start, Event::PhaseStart { phase: i as u32 }));
    }
    for i in 0..world.proxies.len() {
        for c in 0..world.proxies[i].clusters.len() as ClusterIdx {
            if let Some(t) = world.proxies[i].first_tick(c) {
                init.push((t, Event::OutlierTick { proxy: ProxyId(i as u32), cluster: c }));
            }
        }
    }
    (world, init)
}

/// The bound on pending events of a run: four per client request `limits.max_in_flight` allows
/// (its response and its timers), plus one per proxy (outlier ticks), pod (lifecycle), fault,
/// phase and rate change, plus room for the control plane. Saturating: a huge limit gives the
/// largest bound, never a wrapped small one.
pub fn max_pending(scenario: &Scenario) -> usize {
    let proxies: u64 = scenario.proxy_groups.iter().map(|g| u64::from(g.replicas)).sum::<u64>()
        + scenario.east_west_gateways.iter().map(|g| u64::from(g.replicas)).sum::<u64>();
    let rate_changes: u64 = scenario.workload.iter().map(|w| w.changes.len() as u64 + 1).sum();
    let control = [
        1024,
        proxies,
        crate::scenario::budget::pods_created(scenario).saturating_mul(2),
        scenario.faults.len() as u64,
        scenario.phases.len() as u64,
        rate_changes,
    ]
    .iter()
    .fold(0u64, |acc, x| acc.saturating_add(*x));
    let bound = scenario.max_in_flight.saturating_mul(4).saturating_add(control);
    usize::try_from(bound).unwrap_or(usize::MAX)
}

/// Runs a scenario with a seed to its end.
pub fn run(scenario: Arc<Scenario>, seed: u64) -> Result<RunOutput, SimError> {
    let end = scenario.end();
    run_until(scenario, seed, end, None)
}

/// Runs a scenario with a seed up to `until` (every event at or before it is handled), asking
/// `interrupt`, when given, whether to stop early. [`run`] and `explain` both come here.
pub fn run_until(
    scenario: Arc<Scenario>,
    seed: u64,
    until: SimTime,
    interrupt: Option<Interrupt>,
) -> Result<RunOutput, SimError> {
    let (max_events, max_pending) = (scenario.max_events, max_pending(&scenario));
    let (world, init) = build(scenario, seed);
    let mut sim = Simulation::new(world, max_events, max_pending);
    if let Some(stop) = interrupt {
        sim.set_interrupt(stop);
    }
    for (t, e) in init {
        sim.schedule_at(t, e);
    }
    sim.run_until(until)?;
    let events = sim.events_processed();
    sim.model.rec.finish();
    Ok(RunOutput { world: sim.model, events })
}

impl World {
    /// The endpoints istiod knows now: ready and starting pods (terminating pods are dropped).
    pub fn istio_endpoints(&self) -> Vec<IstioEndpoint> {
        let mut out = Vec::new();
        for (i, pod) in self.pods.iter().enumerate() {
            if pod.gateway.is_some() {
                continue; // an east-west gateway address, not an endpoint of the service
            }
            let Some(ready) = pod.eds_status() else { continue };
            let kc = &self.scenario.kube_clusters[pod.cluster.idx()];
            out.push(IstioEndpoint {
                id: EndpointId(i as u32),
                locality: kc.locality.clone(),
                network: kc.network.clone(),
                cluster: kc.cluster_id.clone(),
                labels: self.scenario.service.deployments[pod.deployment as usize].labels.clone(),
                weight: 1,
                ready,
            });
        }
        out
    }

    /// The assignment istiod computes for one proxy. A client proxy reaches other networks
    /// through their east-west gateways (§5.6); a gateway replica sees only the endpoints of its
    /// own network (it never forwards to another gateway).
    ///
    /// For a subset's cluster (`cluster` > 0), only the endpoints whose labels carry the
    /// subset's (`labels.Instance.SubsetOf`, as pilot's `EndpointBuilder` filters a subset
    /// cluster's endpoints) are assigned, so a remote network's gateway is weighted by the
    /// subset's endpoints behind it only, and absent when it has none.
    pub fn assignment_for(&self, proxy: ProxyId, cluster: ClusterIdx, endpoints: &[IstioEndpoint]) -> Assignment {
        let cp = &self.control;
        let meta = &cp.metas[proxy.idx()];
        let is_gateway = cp.is_ew_gateway[proxy.idx()];
        let lb = &cp.lb[cp.lb_of[proxy.idx()] as usize][cluster as usize];
        let opts = AssignOptions {
            setting: lb.lb_setting.setting.as_ref(),
            enable_failover: lb.enable_failover,
            send_unhealthy: lb.send_unhealthy,
            locality_weighted_flag: self.scenario.mesh.settings.enable_locality_weighted_lb_config,
            gateways: if is_gateway { &[] } else { &cp.gateways },
        };
        // With `[[services]]`, a cluster holds its own host's endpoints only.
        let filtered: Vec<IstioEndpoint>;
        let endpoints = if self.scenario.services.is_empty() {
            endpoints
        } else {
            filtered = endpoints.iter().filter(|e| self.pods[e.id.idx()].host == lb.host).cloned().collect();
            &filtered
        };
        if let Some(want) = &lb.labels {
            let subset: Vec<IstioEndpoint> = endpoints
                .iter()
                .filter(|e| crate::istio::select::labels_subset(want, &e.labels))
                .filter(|e| !is_gateway || e.network == meta.network)
                .cloned()
                .collect();
            return crate::istio::locality::assign_endpoints(meta, &subset, &opts);
        }
        if is_gateway {
            let local: Vec<IstioEndpoint> = endpoints.iter().filter(|e| e.network == meta.network).cloned().collect();
            return crate::istio::locality::assign_endpoints(meta, &local, &opts);
        }
        crate::istio::locality::assign_endpoints(meta, endpoints, &opts)
    }
}
