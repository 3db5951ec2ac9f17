//! One client-side Envoy (a gateway replica or a sidecar) and its view of the upstream service:
//! the endpoints its EDS gave it, its own outlier detector, its own load balancer, its own
//! request counters. Nothing here is shared between proxies (envoy-semantics §1.10).

use std::collections::VecDeque;

use crate::engine::{SimRng, SimTime};
use crate::envoy::config::{ClusterConfig, RouteConfig};
use crate::envoy::lb::{ClusterLb, HostHealth, LbHost, LbLocality};
use crate::envoy::outlier::OutlierDetector;
use crate::istio::locality::Assignment;
use crate::model::event::ReqId;
use crate::model::ids::{EndpointId, KubeClusterId, LocalityId, ProxyGroupId};
use crate::model::pod::Pod;
use crate::model::topology::Topology;
use crate::model::tunnel::{TunnelLimits, Tunnels};

/// What a proxy knows about one host of its EDS.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostInfo {
    /// Present in the proxy's current EDS.
    pub member: bool,
    /// Sent with EDS status UNHEALTHY (an unready pod, Istio 1.31).
    pub eds_unhealthy: bool,
    /// Locality of the host.
    pub locality: LocalityId,
    /// Priority the host is in for this proxy.
    pub priority: u32,
    /// An east-west gateway replica that pins each connection to one pod (`model::tunnel`).
    pub tunnel: bool,
}

/// One host's connection pool in one proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostPool {
    /// Open connections (handshaking ones included).
    pub conns: u32,
    /// Connections whose handshake hangs (black-holed pod).
    pub connecting: u32,
    /// Requests completed on the host's connections since one was last closed for
    /// `max_requests_per_connection`.
    pub served: u32,
}

/// What an EDS update changed in a proxy.
#[derive(Clone, Debug, Default)]
pub struct AssignmentChange {
    /// Hosts added.
    pub added: u32,
    /// Hosts removed.
    pub removed: u32,
    /// Removed hosts that were ejected, with their localities (their ejection ends with them).
    pub removed_ejected: Vec<(EndpointId, LocalityId)>,
}

/// Index of an Envoy cluster within its proxy (`Proxy::clusters`): 0 is the service's default
/// cluster `outbound|PORT||HOST`, then one per DestinationRule subset in the rule's order; then
/// the same for each `[[services]]` host in turn (`model::build::all_cluster_plans`).
pub type ClusterIdx = u8;

/// The default cluster of every proxy.
pub const DEFAULT_CLUSTER: ClusterIdx = 0;

/// One Envoy cluster of one proxy for the simulated service: the default cluster, or the cluster
/// of one DestinationRule subset (`outbound|PORT|SUBSET|HOST`, built by pilot's
/// `buildOutboundClusters` / `ClusterBuilder::applyDestinationRule` in
/// `pilot/pkg/networking/core/cluster.go` and `cluster_builder.go`). Each has its own endpoints,
/// outlier detector, load balancer, connection pools and circuit-breaker counters, as in Envoy.
pub struct Cluster {
    /// Envoy's name for it: `outbound|80|v1|reviews.prod.svc.cluster.local` in a client,
    /// `outbound_.80_.v1_.reviews.prod.svc.cluster.local` in an east-west gateway.
    pub name: String,
    /// The host it is for: 0 for `[service]`, `h` for `[[services]]` entry `h - 1`.
    pub host: u32,
    /// The subset it is built for (`None`: the default cluster).
    pub subset: Option<String>,
    /// Envoy cluster settings (the traffic policy merged for this cluster).
    pub config: ClusterConfig,
    /// Outlier detection, when the merged policy has it.
    pub outlier: Option<OutlierDetector>,
    /// The load balancer.
    pub lb: ClusterLb,
    /// Per-host view, indexed by `EndpointId`.
    pub hosts: Vec<HostInfo>,
    /// Requests in flight per host (`rq_active`), indexed by `EndpointId`.
    pub active: Vec<u32>,
    /// Requests in flight to the cluster (the `max_requests` counter).
    pub in_flight: u32,
    /// Connection-pool counters per host, indexed by `EndpointId` (one cache line per host).
    pub pool: Vec<HostPool>,
    /// Requests waiting for a connection, per host: `(request, generation)`; stale entries are
    /// skipped when popped.
    pub pending: Vec<VecDeque<(ReqId, u32)>>,
    /// Entries in all `pending` queues, stale ones included (0: nothing to drain).
    pub n_queued: u32,
    /// All open connections (the `max_connections` counter).
    pub n_conns: u32,
    /// Requests waiting for a connection, handshaking ones included (`max_pending_requests`).
    pub n_pending: u32,
    /// Upstream connections are HTTP/2 (one multiplexed connection per host).
    pub http2: bool,
    /// This cluster's attempts to each host in the phase under way, indexed by `EndpointId`
    /// (`hosts.csv`).
    pub counts: Vec<crate::metrics::recorder::HostCounts>,
    /// Retries in flight (the `max_retries` counter).
    pub retries_active: u32,
    /// Ejected hosts right now.
    pub n_ejected: u32,
    /// The priorities in panic at the last refresh, in order.
    pub panic: Vec<u32>,
    /// Whether every priority was in panic (total panic) at the last refresh.
    pub panic_total: bool,
    /// Connections to east-west gateway replicas that balance per connection, each pinned to a
    /// pod behind the gateway.
    pub tunnels: Tunnels,
}

/// One client proxy: its identity, its route, its random stream and its Envoy clusters for the
/// service.
pub struct Proxy {
    /// Display name, e.g. `ingress-0`.
    pub name: String,
    /// Its group.
    pub group: ProxyGroupId,
    /// The Kubernetes cluster it runs in.
    pub kube_cluster: KubeClusterId,
    /// Its locality.
    pub locality: LocalityId,
    /// Route settings (retries, timeout) for requests through this proxy.
    pub route: RouteConfig,
    /// The cluster its route sends to; `None`: the route names a subset the DestinationRule does
    /// not define, so the cluster does not exist and Envoy answers 503 (`model::build`).
    pub route_cluster: Option<ClusterIdx>,
    /// Its Envoy clusters for the service: the default first, then one per subset.
    pub clusters: Vec<Cluster>,
    /// This proxy is an east-west gateway replica: it forwards raw TCP (AUTO_PASSTHROUGH), so it
    /// sees connection results but no HTTP status codes.
    pub tcp_passthrough: bool,
    /// This proxy's random stream (LB picks, enforcement rolls, jitter, back-off), shared by its
    /// clusters.
    pub rng: SimRng,
    /// When the outlier interval timer was armed, if the scenario sets it
    /// (`[[proxies]] outlier_timer_start`); else a random phase is drawn.
    pub timer_start: Option<SimTime>,
}

impl Proxy {
    /// Grows the per-host vectors of every cluster to cover `n` endpoints.
    pub fn ensure_hosts(&mut self, n: usize) {
        for c in &mut self.clusters {
            c.ensure_hosts(n);
        }
    }

    /// The cluster a route destination resolves to: host `h` (0: `[service]`, `h`:
    /// `[[services]]` entry `h - 1`, see `Scenario::host_index`) and `subset`, one the
    /// DestinationRule the proxy gets for that host defines (`None`: the default cluster). `None`
    /// when no such cluster exists: Envoy then answers 503 with flag NC ("cluster not found"),
    /// as Istio routes to `outbound|PORT|SUBSET|HOST` whether or not it built that cluster.
    pub fn cluster_for(&self, host: usize, subset: Option<&str>) -> Option<ClusterIdx> {
        self.clusters
            .iter()
            .position(|c| c.host as usize == host && c.subset.as_deref() == subset)
            .map(|i| i as ClusterIdx)
    }

    /// Applies a new EDS assignment to cluster `c` (see [`Cluster::apply_assignment`]).
    pub fn apply_assignment(
        &mut self,
        c: ClusterIdx,
        now: SimTime,
        assignment: &Assignment,
        topo: &Topology,
        pods: &[Pod],
    ) -> AssignmentChange {
        self.ensure_hosts(pods.len());
        self.clusters[c as usize].apply_assignment(now, assignment, topo, pods, &mut self.rng)
    }

    /// Recomputes cluster `c`'s load balancer after a health change at `now`.
    pub fn refresh_health(&mut self, c: ClusterIdx, now: SimTime) {
        self.clusters[c as usize].refresh_health(now, &mut self.rng);
    }

    /// Time of the first outlier tick of cluster `c`: Envoy arms the interval timer when the
    /// cluster is created in the proxy (`DetectorImpl::initialize`, `outlier_detection_impl.cc`),
    /// and it first fires one interval later. By default each cluster gets its own phase, drawn
    /// in `[0, interval)` as the moment its timer was armed; `timer_start` sets that moment
    /// instead. The phase is drawn either way, so setting the start leaves the proxy's other
    /// random draws (host picks, jitter, back-off) exactly as they were.
    pub fn first_tick(&mut self, c: ClusterIdx) -> Option<SimTime> {
        let interval = self.clusters[c as usize].outlier.as_ref()?.config().interval;
        let phase = self.rng.below(interval.as_nanos().max(1));
        Some(self.timer_start.unwrap_or(SimTime(phase)) + interval)
    }
}

impl Cluster {
    /// Grows the per-host vectors to cover `n` endpoints.
    pub fn ensure_hosts(&mut self, n: usize) {
        if self.hosts.len() < n {
            self.hosts.resize(n, HostInfo::default());
            self.active.resize(n, 0);
            self.pool.resize(n, HostPool::default());
            self.pending.resize_with(n, VecDeque::new);
            self.counts.resize(n, Default::default());
        }
    }

    /// Applies a new EDS assignment: hosts are matched by id (address), so survivors keep their
    /// outlier state, removed hosts lose theirs, new hosts start fresh (envoy-semantics §1.8).
    pub fn apply_assignment(
        &mut self,
        now: SimTime,
        assignment: &Assignment,
        topo: &Topology,
        pods: &[Pod],
        rng: &mut SimRng,
    ) -> AssignmentChange {
        let n_endpoints = pods.len();
        self.ensure_hosts(n_endpoints);
        let mut present = vec![false; n_endpoints];
        let mut priorities: Vec<Vec<LbLocality>> = Vec::with_capacity(assignment.priorities.len());
        for (p, groups) in assignment.priorities.iter().enumerate() {
            let mut localities = Vec::new();
            for g in groups {
                if g.endpoints.is_empty() {
                    continue;
                }
                let loc = topo.locality_id(&g.locality).unwrap_or_default();
                let mut hosts = Vec::with_capacity(g.endpoints.len());
                for e in &g.endpoints {
                    if present[e.id.idx()] {
                        continue; // duplicate address: the first occurrence wins (§1.8)
                    }
                    present[e.id.idx()] = true;
                    let info = &mut self.hosts[e.id.idx()];
                    info.eds_unhealthy = e.unhealthy;
                    info.locality = loc;
                    info.priority = p as u32;
                    let pod = &pods[e.id.idx()];
                    info.tunnel = pod.gateway.is_some() && pod.per_connection;
                    let address = pods[e.id.idx()].address(e.id);
                    hosts.push(LbHost { id: e.id, weight: e.weight.max(1), address });
                }
                localities.push(LbLocality { locality: loc, weight: g.weight, hosts });
            }
            priorities.push(localities);
        }
        let mut change = AssignmentChange::default();
        for (i, now_present) in present.iter().enumerate() {
            let id = EndpointId(i as u32);
            let info = &mut self.hosts[i];
            match (info.member, *now_present) {
                (false, true) => {
                    info.member = true;
                    change.added += 1;
                    if let Some(o) = self.outlier.as_mut() {
                        o.add_host(id);
                    }
                }
                (true, false) => {
                    info.member = false;
                    change.removed += 1;
                    if let Some(o) = self.outlier.as_mut() {
                        if o.is_ejected(id) {
                            self.n_ejected -= 1;
                            change.removed_ejected.push((id, info.locality));
                        }
                        o.remove_host(id);
                    }
                }
                _ => {}
            }
        }
        let (hosts, outlier) = (&self.hosts, &self.outlier);
        let health = |id: EndpointId| health_of(hosts, outlier.as_ref(), id);
        self.lb.set_hosts(now, priorities, &health, &self.active, rng);
        change
    }

    /// Recomputes the load balancer after a health change (an ejection or un-ejection) at `now`.
    pub fn refresh_health(&mut self, now: SimTime, rng: &mut SimRng) {
        let (hosts, outlier) = (&self.hosts, &self.outlier);
        let health = |id: EndpointId| health_of(hosts, outlier.as_ref(), id);
        self.lb.refresh_health(now, &health, &self.active, rng);
    }

    /// The connection settings that end its tunnels.
    pub fn tunnel_limits(&self) -> TunnelLimits {
        TunnelLimits {
            max_requests: self.config.max_requests_per_connection,
            idle_timeout: self.config.idle_timeout,
            max_duration: self.config.max_connection_duration,
            http2: self.http2,
        }
    }
}

/// Health of a host as the load balancer must see it (envoy-semantics §2.1): EDS UNHEALTHY or an
/// outlier ejection makes it unhealthy; neither removes it from the denominators.
pub fn health_of(hosts: &[HostInfo], outlier: Option<&OutlierDetector>, id: EndpointId) -> HostHealth {
    let ejected = outlier.is_some_and(|o| o.is_ejected(id));
    if hosts[id.idx()].eds_unhealthy || ejected { HostHealth::Unhealthy } else { HostHealth::Healthy }
}
