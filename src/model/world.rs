//! The world: all mutable state of a run, and one handler per event kind.
//!
//! A request's life: `Arrival` → the entry proxy checks its `max_requests` breaker, picks a host
//! with its own load balancer, asks that host's connection pool for a connection, and sends the
//! attempt. The pod's verdict (answer, refuse, hang) is decided when the request reaches it; when
//! no fault or pod lifecycle change can happen before then, it is decided at send time and only
//! the `Response` is scheduled (two events per request on the fast path). The `Response` feeds
//! the proxy's outlier detector, then the retry policy decides between a retry (after back-off)
//! and the client's answer.
//!
//! # Connections (envoy-semantics §3, §4.2, §8.5)
//!
//! Each proxy keeps, per host, a count of open connections, and cluster-wide counts of
//! connections (`max_connections`) and of requests waiting for one (`max_pending_requests`).
//! Decisions, where the spec leaves the model open:
//!
//! * **HTTP/1.1** (`[service] protocol = "http1"`, the default: Istio keeps the port's protocol
//!   unless `h2UpgradePolicy: UPGRADE`): one request per connection at a time. A request uses a
//!   free connection of its host, else opens one, else (at `max_connections`, and the host has a
//!   connection already) waits as pending for a connection of that host to free. Connections stay
//!   open after a response (keep-alive; idle timeouts are not modelled), so a proxy holds as many
//!   connections to a host as it ever had requests in flight to it at once.
//! * **HTTP/2**: one connection per host carries every request (Envoy's default
//!   `max_concurrent_streams` is 2^31−1), so `max_connections` never binds below the host count.
//! * **Handshakes** take no time with a reachable pod (the pool is treated as warm; modelling a
//!   round trip per new connection would move every run's latencies for little insight). A
//!   **black-holed pod never completes a handshake**: a request that opened a new connection to
//!   it waits, as pending, until `connect_timeout` (DR `tcp.connectTimeout`, else mesh
//!   `connectTimeout`, 10 s), then fails as a connect failure — fed to outlier detection as 503
//!   (non-split) and retried under `connect-failure`. Envoy fails every pending request of that
//!   host's pool at the same moment (`ConnPoolImplBase`: "we purge all pending streams"); here the
//!   queued ones do, while each other handshake keeps its own timer. A request sent on an
//!   **already open** connection to a black-holed pod hangs: only a per-try or route timeout ends
//!   it, and with neither it is still pending at the end of the run, counted in `report.hung`.
//!   Not modelled: the kernel ends such a connection after `net.ipv4.tcp_retries2` unanswered
//!   retransmissions (Linux default 15, about 15 minutes), which Envoy sees as a reset (TCP
//!   keepalive probes, when configured, do not apply to a connection with unacknowledged data).
//! * **Resets**: a per-try or route timeout cancels the request; on HTTP/1.1 that closes its
//!   connection, on HTTP/2 it resets one stream. A refused or reset connection is closed.
//! * **`maxRequestsPerConnection` N**: every N completed requests on a host's connections close
//!   one of them (a per-host aggregate rather than a per-connection count). It matters with a
//!   black hole: with N = 1 every request needs a handshake, so a black-holed pod yields connect
//!   failures after `connect_timeout` instead of silent hangs.
//! * **Overflow** of `max_requests` or `max_pending_requests` is a 503 UO at once, never retried,
//!   never fed to outlier detection (Envoy ≥ 1.26). `max_requests` is checked before the host pick
//!   and again when a pending request is attached to a connection.
//! * The **per-try timer** starts when the attempt is on a connection (`onPoolReady`); the route
//!   timer spans the whole request, back-off and pending time included. A route timeout reports
//!   to outlier detection only for an attempt on a connection.
//!
//! # East-west gateways (§5.6)
//!
//! A client on another network sees each gateway replica as one host in the remote locality,
//! weighted by the endpoints behind it. An attempt to it reaches the gateway's own Envoy, which
//! starts a request of its own (`Request::parent`) over its network's pods with its own load
//! balancer, outlier detector and pools, and hands the result back. The gateway proxies raw TCP
//! (`AUTO_PASSTHROUGH`), so it has no retries or timeouts and its outlier detector sees only
//! connection results (refused, connect timeout), never HTTP codes; a connection failure behind
//! it reaches the client as a connect failure.
//!
//! It balances per **client connection** (`model::tunnel`): the client proxy tracks its
//! connections to each gateway replica one by one, the gateway picks a pod for a connection's
//! first request and every later request on it goes to that pod (no pick), until the
//! connection ends (`max_requests_per_connection`, `max_connection_duration`, idle timeout, the
//! pod terminating, a connection failure). `[[east_west_gateways]] balance = "request"` keeps
//! the per-request pick, as an HTTP-terminating gateway would. Deviation: the gateway's own
//! pool toward a pinned pod is counted per host as for any host (one HTTP/2 connection), not
//! one TCP connection per client connection, which matters only with its `maxConnections`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::{Model, Scheduler, SimDuration, SimRng, SimTime};
use crate::envoy::config::{RetryOn, RetryPolicy, RouteConfig};
use crate::envoy::lb::{Pick, PickContext, PreviousPriorities, PriorityLoadRef};
use crate::envoy::outlier::{LocalOriginEvent, OutlierEvent};
use crate::metrics::recorder::{AttemptEnd, ClientOutcome, LogKind, Recorder};
use crate::model::event::{Event, Outcome, ReqId};
use crate::model::ids::{EndpointId, LocalityId, ProxyId};
use crate::model::pod::{Pod, PodState, PodVerdict};
use crate::model::proxy::{Cluster, ClusterIdx, HostPool, Proxy};
use crate::model::request::{ConnState, NO_CLUSTER, NO_TUNNEL, RequestSlab};
use crate::model::topology::Topology;
use crate::model::tunnel::TunnelEnd;
use crate::scenario::Scenario;

/// One workload stream's state.
#[derive(Clone, Debug)]
pub struct Stream {
    /// First proxy of the entry group.
    pub first_proxy: u32,
    /// Number of replicas in the group.
    pub n_proxies: u32,
    /// Current rate, requests per second.
    pub rate: f64,
    /// Rate changes `(time, rate)`.
    pub changes: Vec<(SimTime, f64)>,
    /// Generation, bumped at each rate change so the pending arrival is redrawn.
    pub epoch: u32,
    /// How arrivals are spaced.
    pub arrivals: crate::scenario::Arrivals,
    /// Uniform and scripted arrivals: when the current rate started (uniform), and requests
    /// sent since then (uniform) or in all (scripted).
    pub anchor: SimTime,
    /// See `anchor`.
    pub sent: u64,
    /// Uniform and scripted arrivals: requests sent in all; the next goes to replica
    /// `turn % n_proxies`.
    pub turn: u64,
    /// The users behind its requests, if the workload names them.
    pub users: Option<crate::model::keys::UserSampler>,
}

/// What a request of a workload stream takes from its route when every request takes the same
/// one, with one destination, no hash policy and no fault filter: nothing to draw, nothing to
/// decide. Resolved once when the world is built (the route tables never change during a run),
/// it spares `on_arrival` the lookups of the class, the route and its destination (56
/// instructions a request on the e2e bench).
#[derive(Clone, Copy, Debug)]
pub struct DirectRoute {
    /// The route's index in its proxy group's table.
    pub route: u8,
    /// Its destination's Envoy cluster (`NO_CLUSTER`: a subset the DestinationRule does not
    /// define).
    pub cluster: ClusterIdx,
    /// Retries allowed and the back-off base (both 0 without a retry policy).
    pub retries: u32,
    /// See `retries`.
    pub backoff: SimDuration,
    /// The route timeout.
    pub timeout: Option<SimDuration>,
}

impl DirectRoute {
    /// The direct route of a stream whose request classes have cumulative shares `upto` and take
    /// routes `class_routes` of `table`, if it has one: at most one class (no class draw), whose
    /// route exists and sends to one destination (no weighted draw), without a hash policy or a
    /// fault filter.
    pub fn of(upto: &[f64], class_routes: &[Option<u16>], table: &crate::model::routes::RouteTable) -> Option<Self> {
        if upto.len() > 1 {
            return None;
        }
        let route = (*class_routes.first()?)?;
        let rt = table.routes.get(usize::from(route))?;
        let cfg = &rt.config;
        if rt.is_weighted() || cfg.hash_policy.is_some() || cfg.fault.is_some() {
            return None;
        }
        let (retries, backoff) = match &cfg.retry {
            Some(r) => (r.num_retries, r.backoff_base),
            None => (0, SimDuration::ZERO),
        };
        Some(DirectRoute {
            route: route as u8,
            cluster: rt.destinations.first()?.cluster.unwrap_or(NO_CLUSTER),
            retries,
            backoff,
            timeout: cfg.timeout,
        })
    }
}

/// All mutable state of a run.
pub struct World {
    /// The scenario being run.
    pub scenario: std::sync::Arc<Scenario>,
    /// Localities and latencies.
    pub topo: Topology,
    /// Every pod ever created, indexed by `EndpointId`.
    pub pods: Vec<Pod>,
    /// Current pods of each deployment, in ordinal order.
    pub deployments: Vec<Vec<EndpointId>>,
    /// Next ordinal per deployment.
    pub next_ordinal: Vec<u32>,
    /// Client proxies.
    pub proxies: Vec<Proxy>,
    /// Arrival streams.
    pub streams: Vec<Stream>,
    /// In-flight requests.
    pub requests: RequestSlab,
    /// Counts and the event log.
    pub rec: Recorder,
    /// Times at which some pod's behaviour or lifecycle changes, earliest first.
    pub changes: BinaryHeap<Reverse<SimTime>>,
    /// An EDS push is scheduled.
    pub push_pending: bool,
    /// Random streams.
    pub rng_workload: SimRng,
    /// Network jitter draws.
    pub rng_network: SimRng,
    /// Service-time and fault-probability draws.
    pub rng_service: SimRng,
    /// The user of each request (drawn only by workloads with `users`).
    pub rng_users: SimRng,
    /// Which host each user's key maps to, phase by phase (only with `users`).
    pub keys: Option<crate::metrics::keys::KeyTracker>,
    /// The fault filter's draws (VirtualService `fault`): its own stream, so that a scenario
    /// without injected faults draws exactly as before.
    pub rng_fault_filter: SimRng,
    /// Each request class's draw (`[[workload.requests]]`): its own stream, drawn only by
    /// workloads that declare classes, so that other scenarios draw exactly as before.
    pub rng_requests: SimRng,
    /// The weighted-cluster draw of a route with several destinations (Envoy's per-request
    /// random value): its own stream, drawn only for such routes.
    pub rng_route_weights: SimRng,
    /// Each client proxy group's route table (`model::routes`), indexed by group.
    pub routes: Vec<crate::model::routes::RouteTable>,
    /// Per workload stream, the route each of its request classes takes (`None`: 404 NR).
    pub class_routes: Vec<Vec<Option<u16>>>,
    /// Per workload stream, the cumulative shares of its request classes (empty: no classes).
    pub class_upto: Vec<Vec<f64>>,
    /// Per workload stream, its one route when it is direct (see [`DirectRoute::of`]).
    pub direct_routes: Vec<Option<DirectRoute>>,
    /// The settings of a request without a route (a gateway hop): no retries, no timeouts.
    pub no_route: RouteConfig,
    /// Scratch buffer for outlier events (never shrinks, so no allocation per request).
    pub scratch: Vec<OutlierEvent>,
    /// Healthy service-time distribution.
    pub service_times: Vec<crate::model::pod::ServiceSampler>,
    /// `previous_priorities` retry-plugin state per request slot (only with
    /// `retryRemoteLocalities`).
    pub prev_prio: Vec<Option<PreviousPriorities>>,
    /// What istiod derives from the policy.
    pub control: crate::model::build::ControlPlane,
    /// Client requests in flight (gateway hops not counted), held under `limits.max_in_flight`.
    pub clients_in_flight: u64,
    /// Set when a limit of the model is reached; the engine then stops the run.
    pub limit_reached: Option<String>,
    /// Work done inside single events, in host visits: an EDS push visits every proxy's view of
    /// every pod, an outlier tick every host of its proxy. Held under `limits.max_events` like
    /// the events themselves, so that a few events cannot hide hours of work.
    pub work: u64,
}

impl Model for World {
    type Event = Event;

    fn handle(&mut self, event: Event, sched: &mut Scheduler<Event>) {
        match event {
            Event::Arrival { stream } => self.on_arrival(stream, sched),
            Event::RateChange { stream, change } => self.on_rate_change(stream, change, sched),
            Event::AtPod { req, epoch } => self.on_at_pod(req, epoch, sched),
            Event::PodDone { endpoint, req, epoch, status } => self.on_pod_done(endpoint, req, epoch, status, sched),
            Event::Response { req, epoch, outcome } => self.on_response(req, epoch, outcome, sched),
            Event::PerTryTimeout { req, epoch } => self.on_per_try_timeout(req, epoch, sched),
            Event::RouteTimeout { req, epoch } => self.on_route_timeout(req, epoch, sched),
            Event::RetryReady { req, epoch } => self.on_retry_ready(req, epoch, sched),
            Event::FaultDelayDone { req, epoch } => self.on_fault_delay_done(req, epoch, sched),
            Event::OutlierTick { proxy, cluster } => self.on_outlier_tick(proxy, cluster, sched),
            Event::Fault { idx } => self.on_fault(idx, sched),
            Event::PodReady { endpoint } => self.on_pod_ready(endpoint, sched),
            Event::PodGone { endpoint } => self.on_pod_gone(endpoint),
            Event::EdsPush => self.on_eds_push(sched.now()),
            Event::PhaseStart { phase } => self.on_phase_start(phase, sched.now()),
        }
    }

    fn limit_reached(&self) -> Option<String> {
        if self.rec.log_full() {
            return Some(format!(
                "the event log outgrew the memory left by the run's estimate ({} entries; limits.max_memory): \
                 raise limits.max_memory, or make the run shorter or quieter",
                self.rec.log.len()
            ));
        }
        self.limit_reached.clone()
    }
}

/// The delay to a stream's next arrival (none while its rate is 0); a Poisson stream draws it
/// from `rng` (the `workload` stream).
#[inline(always)]
fn next_arrival_delay(s: &Stream, rng: &mut SimRng, now: SimTime) -> Option<SimDuration> {
    use crate::scenario::Arrivals;
    let rate = s.rate;
    match &s.arrivals {
        Arrivals::Poisson if rate > 0.0 => Some(SimDuration(rng.exp_nanos(1e9 / rate).max(1))),
        Arrivals::Uniform if rate > 0.0 => {
            // The k-th request after the rate change at `anchor` comes at anchor + ⌊k × 1e9/rate⌋
            // ns, from its own multiple so that rounding never accumulates.
            let offset = crate::engine::time::nanos_from_f64((s.sent + 1) as f64 * 1e9 / rate);
            Some((s.anchor + SimDuration(offset)).saturating_since(now))
        }
        Arrivals::Scripted(times) => times.get(s.sent as usize).map(|t| t.saturating_since(now)),
        _ => None,
    }
}

/// The replica of a stream's group that takes the next request: a random one for Poisson
/// arrivals (as Envoy's callers spread over replicas, drawn from `rng`, the `workload` stream),
/// in turn for uniform and scripted ones.
#[inline(always)]
fn entry_proxy(s: &mut Stream, rng: &mut SimRng) -> u32 {
    if matches!(s.arrivals, crate::scenario::Arrivals::Poisson) {
        return s.first_proxy + rng.below(u64::from(s.n_proxies)) as u32;
    }
    let replica = (s.turn % u64::from(s.n_proxies)) as u32;
    s.turn += 1;
    s.sent += 1;
    s.first_proxy + replica
}

/// Draws a stream's next arrival and puts it in its lane (none while its rate is 0). The
/// generation rides in the upper bits so a rate change voids the pending arrival. Each stream
/// has one arrival pending (two only just after a rate change), so it waits in a lane beside
/// the heap: the same order, without the heap's cost. Out of line: inlined in the event
/// handler, the lane's push was left out of line and cost more than this call.
#[inline(never)]
fn schedule_next_arrival(s: &Stream, stream: u32, rng: &mut SimRng, sched: &mut Scheduler<Event>) {
    if let Some(d) = next_arrival_delay(s, rng, sched.now()) {
        sched.schedule_in_lane(stream as usize, d, Event::Arrival { stream: stream | (s.epoch << 16) });
    }
}

impl World {
    /// Schedules the next arrival of a stream (none while its rate is 0).
    pub fn schedule_arrival(&mut self, stream: u32, sched: &mut Scheduler<Event>) {
        schedule_next_arrival(&self.streams[stream as usize], stream, &mut self.rng_workload, sched);
    }

    /// A client request arrives. The stream is looked up once for its generation, its replica
    /// (the `workload` draw), its user (the `users` draw) and its next arrival (the `workload`
    /// draw), in that order.
    fn on_arrival(&mut self, tagged: u32, sched: &mut Scheduler<Event>) {
        let (stream, epoch) = (tagged & 0xFFFF, tagged >> 16);
        let s = &mut self.streams[stream as usize];
        if s.epoch & 0xFFFF != epoch {
            return; // superseded by a rate change
        }
        let proxy = entry_proxy(s, &mut self.rng_workload);
        let user = match &s.users {
            Some(u) => u.sample(&mut self.rng_users),
            None => crate::model::keys::NO_USER,
        };
        schedule_next_arrival(s, stream, &mut self.rng_workload, sched);
        let now = sched.now();
        if self.clients_in_flight >= self.scenario.max_in_flight {
            self.limit_reached = Some(format!(
                "a request arrived with {} client requests already in flight, the limit (limits.max_in_flight): \
                 the service cannot keep up with the load or requests hang; lower the load, add timeouts, or \
                 raise limits.max_in_flight",
                self.clients_in_flight
            ));
            return;
        }
        self.clients_in_flight += 1;
        self.rec.client_request(now);
        if let Some(d) = self.direct_routes[stream as usize] {
            // What follows for such a route, resolved once (`DirectRoute`).
            let (req, r) = self.requests.alloc(ProxyId(proxy), d.cluster, now, d.retries, d.backoff);
            r.user = user;
            r.route = d.route;
            self.route_with(req, d.cluster, d.timeout, sched);
            return;
        }
        // The request's class (a draw only when the workload declares classes), then the route
        // its class takes, then a weighted destination when that route splits.
        let uptos = &self.class_upto[stream as usize];
        let class = if uptos.len() > 1 {
            let u = self.rng_requests.unit();
            uptos.iter().position(|&upto| u < upto).unwrap_or(uptos.len() - 1)
        } else {
            0
        };
        let p = &self.proxies[proxy as usize];
        let group = p.group;
        let Some(route) = self.class_routes[stream as usize][class] else {
            // No route matches: the router's local reply 404 NR, before any filter's per-route
            // config (there is none) and before any upstream attempt.
            let (req, r) = self.requests.alloc(ProxyId(proxy), NO_CLUSTER, now, 0, SimDuration::ZERO);
            r.user = user;
            self.finish_with(req, now, ClientOutcome::NoRoute, 404, sched);
            return;
        };
        let rt = &self.routes[group.idx()].routes[usize::from(route)];
        // Envoy picks the weighted cluster when it resolves the route (`pickWeightedCluster`),
        // with its own draw; a route with one destination draws nothing.
        let dest = if rt.is_weighted() {
            crate::envoy::route::pick_weighted(&rt.weights, self.rng_route_weights.next_u64())
        } else {
            0
        };
        let cfg = &rt.config;
        let (retries, backoff) = match &cfg.retry {
            Some(r) => (r.num_retries, r.backoff_base),
            None => (0, SimDuration::ZERO),
        };
        // A route without a hash policy has no request hash: `request_hash` would say `None`.
        let hash = match cfg.hash_policy.as_ref() {
            None => None,
            Some(policy) => {
                let at_gateway = self.scenario.proxy_groups[group.idx()].kind == crate::scenario::ProxyKind::Gateway;
                crate::model::keys::request_hash(Some(policy), at_gateway, ProxyId(proxy), user)
            }
        };
        let (has_fault, timeout) = (cfg.fault.is_some(), cfg.timeout);
        // The destination's Envoy cluster: `None` when it names a subset the DestinationRule does
        // not define (503 NC in `route`).
        // Resolved once per group when the table was built (`model::routes::tables`).
        let d = &rt.destinations[dest];
        let cluster = d.cluster.unwrap_or(NO_CLUSTER);
        let (req, r) = self.requests.alloc(ProxyId(proxy), cluster, now, retries, backoff);
        r.user = user;
        r.hash = hash;
        r.route = route as u8;
        if has_fault {
            self.fault_filter(req, sched);
        } else {
            // What `fault_filter` does for a route that injects nothing, its route read once.
            self.route_with(req, cluster, timeout, sched);
        }
    }

    /// The route settings of request `req`.
    fn route_of(&self, req: ReqId) -> &RouteConfig {
        let r = self.requests.get(req);
        route_cfg(&self.routes, &self.no_route, self.proxies[r.proxy.idx()].group, r.route)
    }

    /// Envoy's fault filter (`FaultFilter::decodeHeaders`), before the router: a delay drawn
    /// first holds the request (its abort is drawn when the delay ends); otherwise the abort is
    /// drawn at once. An abort is a local reply with the configured status: it never reaches a
    /// pod, outlier detection never sees it, and the router never retries it.
    fn fault_filter(&mut self, req: ReqId, sched: &mut Scheduler<Event>) {
        let Some(fault) = self.route_of(req).fault.as_ref() else {
            self.route(req, sched);
            return;
        };
        if let Some(d) = fault.delay
            && d.percentage.enabled(self.rng_fault_filter.next_u64())
        {
            let epoch = self.requests.get(req).id_gen;
            sched.schedule(d.fixed_delay, Event::FaultDelayDone { req, epoch });
            return;
        }
        self.abort_or_route(req, sched);
    }

    fn on_fault_delay_done(&mut self, req: ReqId, id_gen: u32, sched: &mut Scheduler<Event>) {
        if self.requests.is_live(req, id_gen) {
            self.abort_or_route(req, sched);
        }
    }

    /// The fault filter's abort draw (`isAbortEnabled`), then the router.
    fn abort_or_route(&mut self, req: ReqId, sched: &mut Scheduler<Event>) {
        let abort = self.route_of(req).fault.as_ref().and_then(|f| f.abort);
        if let Some(a) = abort
            && a.percentage.enabled(self.rng_fault_filter.next_u64())
        {
            self.finish_with(req, sched.now(), ClientOutcome::FaultAbort, a.http_status, sched);
            return;
        }
        self.route(req, sched);
    }

    /// The router takes a client request: its route timeout starts, then its first attempt.
    fn route(&mut self, req: ReqId, sched: &mut Scheduler<Event>) {
        let cluster = self.requests.get(req).cluster;
        let timeout = self.route_of(req).timeout;
        self.route_with(req, cluster, timeout, sched);
    }

    /// [`World::route`] with the request's cluster and its route's timeout known.
    #[inline(always)]
    fn route_with(
        &mut self,
        req: ReqId,
        cluster: ClusterIdx,
        timeout: Option<SimDuration>,
        sched: &mut Scheduler<Event>,
    ) {
        if cluster == NO_CLUSTER {
            // The route names a cluster that was never built (a subset the DestinationRule does
            // not define): Envoy's router answers 503 at once with flag NC, "cluster not found"
            // (`Router::Filter::decodeHeaders`, `cluster_not_found_response_code` defaults to 503),
            // with no upstream attempt and no retry. meshsim counts it with
            // `no_healthy_upstream`, the other 503 local reply without an upstream.
            self.finish_with(req, sched.now(), ClientOutcome::NoHealthyUpstream, 503, sched);
            return;
        }
        if let Some(t) = timeout {
            let epoch = self.requests.get(req).id_gen;
            sched.schedule(t, Event::RouteTimeout { req, epoch });
        }
        self.start_attempt(req, sched);
    }

    fn on_rate_change(&mut self, stream: u32, change: u32, sched: &mut Scheduler<Event>) {
        let s = &mut self.streams[stream as usize];
        if change != u32::MAX {
            s.rate = s.changes[change as usize].1;
        }
        if matches!(s.arrivals, crate::scenario::Arrivals::Uniform) {
            (s.anchor, s.sent) = (sched.now(), 0);
        }
        s.epoch = (s.epoch + 1) & 0xFFFF;
        self.schedule_arrival(stream, sched);
    }

    /// Starts one upstream attempt for `req`: the `max_requests` breaker, the host pick, then the
    /// host's connection pool (attach, queue, or overflow). Finishes the request with overflow or
    /// no healthy upstream when it cannot start.
    ///
    /// Run once per attempt, so it looks up the request, its proxy's cluster and its route once
    /// each and copies out what it reads; the tunnel lookup is made only for a gateway hop (a
    /// request with a parent), the only one that can ride a tunnel.
    fn start_attempt(&mut self, req: ReqId, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = self.requests.get(req);
        let (proxy_id, ci, route_idx, parent, hash) = (r.proxy, r.cluster as usize, r.route, r.parent, r.hash);
        let is_retry = r.attempts > 0;
        let pinned = parent.and_then(|parent| self.pinned_backend(parent));
        let pr = &mut self.proxies[proxy_id.idx()];
        let retry = route_cfg(&self.routes, &self.no_route, pr.group, route_idx).retry.as_ref();
        let p = &mut pr.clusters[ci];
        if p.in_flight >= p.config.circuit_breakers.max_requests {
            // Overflow: 503 UO at once, never retried, never seen by outlier detection (§3).
            // Envoy checks `max_requests` when the stream is attached to a connection, after the
            // pick; checking first gives the same answer whenever a connection is free, and
            // keeps the load balancer's random stream untouched by shed requests.
            self.finish_with(req, now, ClientOutcome::Overflow, 503, sched);
            return;
        }
        let pick = if let Some((_, _, _, _, Some(backend))) = pinned {
            // A gateway hop on a connection already pinned: the pod it was pinned to, whatever
            // the gateway's balancer would say now (`model::tunnel`).
            let info = &p.hosts[backend.idx()];
            Some(Pick { host: backend, priority: info.priority as usize, locality: info.locality, panic: false })
        } else {
            let mut ctx = PickContext {
                now,
                hash,
                previous_hosts: &[],
                host_selection_retry_max_attempts: 0,
                priority_load: None,
            };
            if let (Some(policy), true) = (retry, is_retry) {
                if policy.previous_hosts {
                    ctx.previous_hosts = self.requests.get(req).tried();
                }
                ctx.host_selection_retry_max_attempts = policy.host_selection_retry_max_attempts;
                if policy.previous_priorities_update_frequency.is_some()
                    && let Some(Some(pp)) = self.prev_prio.get_mut(req.0 as usize)
                {
                    ctx.priority_load = pp
                        .determine_priority_load(p.lb.priority_state())
                        .map(|(healthy, degraded)| PriorityLoadRef { healthy, degraded });
                }
            }
            p.lb.choose_host(&mut pr.rng, &p.active, &ctx)
        };
        let Some(pick) = pick else {
            // 503 "no healthy upstream": a local reply, no upstream request, not retried.
            self.finish_with(req, now, ClientOutcome::NoHealthyUpstream, 503, sched);
            return;
        };
        let (per_try, pp_frequency) = match retry {
            Some(r) => (r.per_try_timeout, r.previous_priorities_update_frequency),
            None => (None, None),
        };
        if let Some((client, client_cluster, idx, generation, None)) = pinned {
            // The first request on a client connection: the gateway's pick pins it.
            self.proxies[client.idx()].clusters[client_cluster as usize].tunnels.pin(idx, generation, pick.host);
        }
        let h = pick.host.idx();
        let p = &mut self.proxies[proxy_id.idx()].clusters[ci];
        if p.hosts[h].tunnel {
            expire_tunnels(p, &self.pods, pick.host, now);
        }
        let grant = pool_grant(p, pick.host);
        if grant == Grant::Overflow {
            // `max_pending_requests` overflow: 503 UO, not retried, not fed to outlier detection.
            self.finish_with(req, now, ClientOutcome::Overflow, 503, sched);
            return;
        }
        let counts = &mut p.counts[h];
        counts.attempts += 1;
        counts.retries += u64::from(is_retry);
        if let Some(freq) = pp_frequency {
            let slot = req.0 as usize;
            if self.prev_prio.len() <= slot {
                self.prev_prio.resize(slot + 1, None);
            }
            let pp = self.prev_prio[slot].get_or_insert_with(|| PreviousPriorities::new(freq));
            if !is_retry {
                *pp = PreviousPriorities::new(freq);
            }
            pp.on_host_attempted(pick.priority);
        }
        let r = self.requests.get_mut(req);
        r.epoch = r.epoch.wrapping_add(1);
        r.attempts += 1;
        r.hung = false;
        r.host = pick.host;
        r.locality = self.pods[h].locality;
        r.priority = pick.priority as u16;
        r.remember(pick.host);
        let (to, epoch, user) = (r.locality, r.epoch, r.user);
        if grant == Grant::Queue {
            r.conn = ConnState::Pending;
            p.n_pending += 1;
            p.n_queued += 1;
            p.pending[h].push_back((req, epoch));
        }
        if parent.is_none() {
            self.rec.attempt(now, to, is_retry);
            if let (false, Some(k)) = (is_retry, self.keys.as_mut()) {
                k.observe(user, pick.host);
            }
        }
        if grant != Grant::Queue {
            self.send_attempt(req, grant == Grant::Open, per_try, sched);
        }
    }

    /// Attaches the current attempt of `req` to a connection of its host (a new one if
    /// `new_conn`) and sends it: `rq_active`, the per-try timer (`per_try`, the route's
    /// `per_try_timeout`: Envoy arms it when the pool is ready, envoy-semantics §8.5), the trip
    /// to the pod.
    #[inline(always)]
    fn send_attempt(&mut self, req: ReqId, new_conn: bool, per_try: Option<SimDuration>, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = self.requests.get_mut(req);
        // `r.locality` is the pod's, set when the attempt started: read here, it spares a
        // lookup of the pod.
        let (proxy, ci, host, epoch, to) = (r.proxy, r.cluster as usize, r.host, r.epoch, r.locality);
        r.attempt_active = true;
        r.conn = ConnState::Attached;
        r.new_conn = new_conn;
        r.sent_at = now;
        let pr = &mut self.proxies[proxy.idx()];
        let from = pr.locality;
        let p = &mut pr.clusters[ci];
        let h = host.idx();
        let mut new_conn = new_conn;
        if p.hosts[h].tunnel {
            let limits = p.tunnel_limits();
            let reuse = if new_conn { None } else { p.tunnels.usable(host, p.http2) };
            // `connection_for` found a usable tunnel when it granted reuse; should none be found,
            // a new connection is opened rather than the attempt lost.
            new_conn = reuse.is_none();
            let idx = reuse.unwrap_or_else(|| p.tunnels.open(host, now));
            p.tunnels.attach(idx, &limits);
            r.tunnel = idx;
            r.tunnel_gen = p.tunnels.get(idx).generation;
            r.new_conn = new_conn;
        }
        if new_conn {
            p.pool[h].conns += 1;
            p.n_conns += 1;
        }
        p.in_flight += 1;
        p.active[h] += 1;
        let split = p.outlier.as_ref().is_some_and(|o| o.config().split_external_local_origin_errors);
        if let Some(t) = per_try {
            sched.schedule(t, Event::PerTryTimeout { req, epoch });
        }
        if split {
            // Envoy's `UpstreamRequest::onPoolReady` reports `LocalOriginConnectSuccess` for every
            // request that gets a connection: at once on a warm one, and for a new one only if
            // the handshake can complete. Only split mode counts it (it resets the local-origin
            // counter, envoy-semantics §1.2); non-split ignores it, so it is skipped there.
            let pod = &self.pods[h];
            if !new_conn || (pod.accepts() && !pod.behavior.blackhole) {
                self.feed_outlier(proxy, ci, host, OutlierInput::Local(LocalOriginEvent::ConnectSuccess), now);
            }
        }
        let out = self.topo.sample_latency(from, to, &mut self.rng_network);
        let arrive = now + out;
        // A change time already passed was handled by its event (a fault, a pod ready or gone):
        // it no longer stands between this request and its pod. One at exactly `now` may still
        // be pending in the queue, so it stays.
        while self.changes.peek().is_some_and(|Reverse(t)| *t < now) {
            self.changes.pop();
        }
        let pod = &mut self.pods[h];
        // A scripted pod answers its requests in the order they reach it, so it decides on
        // arrival.
        let fast = self.scenario.max_concurrency_of(pod.host as usize) == 0
            && pod.gateway.is_none()
            && pod.script.is_none()
            && self.changes.peek().is_none_or(|Reverse(t)| arrive < *t);
        if fast {
            let verdict = pod.verdict(&self.service_times[pod.host as usize], &mut self.rng_service);
            self.deliver_verdict_between(req, epoch, verdict, out, (to, from), sched);
        } else {
            sched.schedule(out, Event::AtPod { req, epoch });
        }
    }

    /// Schedules the response of a pod verdict. `lead` is the time already spent on the way.
    fn deliver_verdict(
        &mut self,
        req: ReqId,
        epoch: u32,
        verdict: PodVerdict,
        lead: SimDuration,
        sched: &mut Scheduler<Event>,
    ) {
        let r = self.requests.get(req);
        let locs = (self.pods[r.host.idx()].locality, self.proxies[r.proxy.idx()].locality);
        self.deliver_verdict_between(req, epoch, verdict, lead, locs, sched);
    }

    /// [`World::deliver_verdict`] with the localities of the way back, `(pod, proxy)`, known.
    #[inline(always)]
    fn deliver_verdict_between(
        &mut self,
        req: ReqId,
        epoch: u32,
        verdict: PodVerdict,
        lead: SimDuration,
        (from, to): (LocalityId, LocalityId),
        sched: &mut Scheduler<Event>,
    ) {
        let r = self.requests.get(req);
        match verdict {
            PodVerdict::Answer { service, outcome } => {
                let back = self.topo.sample_latency(from, to, &mut self.rng_network);
                sched.schedule(lead + service + back, Event::Response { req, epoch, outcome });
            }
            PodVerdict::Refuse => {
                let back = self.topo.sample_latency(from, to, &mut self.rng_network);
                sched.schedule(lead + back, Event::Response { req, epoch, outcome: Outcome::ConnectFailed });
            }
            PodVerdict::Hang if r.new_conn => {
                // A black-holed pod never completes a TCP handshake: the request waits for its
                // new connection until `connect_timeout`, then fails as a connect failure. It is
                // pending, not active, meanwhile, and no per-try timer runs (none is armed before
                // the pool is ready).
                let (proxy, host) = (r.proxy, r.host);
                let p = &mut self.proxies[proxy.idx()].clusters[r.cluster as usize];
                let at = r.sent_at + p.config.connect_timeout;
                p.in_flight -= 1;
                p.active[host.idx()] -= 1;
                p.pool[host.idx()].connecting += 1;
                p.n_pending += 1;
                let r = self.requests.get_mut(req);
                r.attempt_active = false;
                r.conn = ConnState::Connecting;
                let delay = at.saturating_since(sched.now());
                sched.schedule(delay, Event::Response { req, epoch, outcome: Outcome::ConnectFailed });
            }
            PodVerdict::Hang => {
                // Sent on an open connection: nothing comes back, ever; only a timeout ends it.
                match r.parent {
                    Some((parent, parent_epoch)) if self.requests.is_current(parent, parent_epoch) => {
                        self.requests.get_mut(parent).hung = true;
                    }
                    Some(_) => {}
                    None => self.requests.get_mut(req).hung = true,
                }
            }
        }
    }

    fn on_at_pod(&mut self, req: ReqId, epoch: u32, sched: &mut Scheduler<Event>) {
        if !self.requests.is_current(req, epoch) {
            return; // the proxy already gave up on this attempt; the pod never notices in time
        }
        let host = self.requests.get(req).host;
        if let Some(gw) = self.pods[host.idx()].gateway {
            self.through_gateway(req, epoch, gw, sched);
            return;
        }
        let pod = &mut self.pods[host.idx()];
        let limit = self.scenario.max_concurrency_of(pod.host as usize);
        if limit > 0 && pod.accepts() && !pod.behavior.blackhole {
            if pod.busy >= limit {
                pod.queue.push_back((req, epoch));
                return;
            }
            pod.busy += 1;
            self.serve_limited(host, req, epoch, sched);
            return;
        }
        let verdict = pod.verdict(&self.service_times[pod.host as usize], &mut self.rng_service);
        self.deliver_verdict(req, epoch, verdict, SimDuration::ZERO, sched);
    }

    /// An attempt reached an east-west gateway: the gateway's own Envoy forwards it to one of
    /// its local pods, with its own load balancer, outlier detector and pools (envoy-semantics
    /// §5.6 item 4). The hop is a request of its own on the gateway proxy; its result travels
    /// back to the client as the client attempt's result.
    ///
    /// The client's cluster names its host and subset in the SNI (`outbound_.PORT_.SUBSET_.HOST`),
    /// and the gateway forwards through its own cluster of that name (`buildSniDnatClusters` in
    /// `pilot/pkg/networking/core/cluster.go` builds one per subset of the DestinationRule the
    /// gateway sees). When the gateway has no such cluster, no filter chain matches the SNI and
    /// the gateway closes the connection: the client sees a connect failure.
    fn through_gateway(&mut self, req: ReqId, epoch: u32, gw: ProxyId, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = self.requests.get(req);
        let client = &self.proxies[r.proxy.idx()];
        let c = &client.clusters[r.cluster as usize];
        let Some(cluster) = self.proxies[gw.idx()].cluster_for(c.host as usize, c.subset.as_deref()) else {
            let to = client.locality;
            let back = self.topo.sample_latency(self.proxies[gw.idx()].locality, to, &mut self.rng_network);
            sched.schedule(back, Event::Response { req, epoch, outcome: Outcome::ConnectFailed });
            return;
        };
        let (child, r) = self.requests.alloc(gw, cluster, now, 0, SimDuration::ZERO);
        r.parent = Some((req, epoch));
        self.start_attempt(child, sched);
    }

    /// Hands a gateway hop's result back to the client attempt it carries. A connection-level
    /// failure behind the gateway (refused, connect timeout, nothing healthy, overflow) closes the
    /// client's connection too, which the client sees as a connect failure.
    #[inline(never)]
    fn relay_to_client(&mut self, child: ReqId, outcome: ClientOutcome, status: u16, sched: &mut Scheduler<Event>) {
        let r = self.requests.get(child);
        let Some((parent, parent_epoch)) = r.parent else { return };
        if !self.requests.is_current(parent, parent_epoch) {
            return; // the client gave up (timeout) on this attempt
        }
        let gw_locality = self.proxies[r.proxy.idx()].locality;
        let client = self.requests.get(parent).proxy;
        let back = self.topo.sample_latency(gw_locality, self.proxies[client.idx()].locality, &mut self.rng_network);
        let outcome = match outcome {
            ClientOutcome::Success | ClientOutcome::Upstream5xx => Outcome::Status(status),
            _ => Outcome::ConnectFailed,
        };
        sched.schedule(back, Event::Response { req: parent, epoch: parent_epoch, outcome });
    }

    /// Starts serving a request in a concurrency-limited pod (a slot is already taken).
    fn serve_limited(&mut self, host: EndpointId, req: ReqId, epoch: u32, sched: &mut Scheduler<Event>) {
        let pod = &mut self.pods[host.idx()];
        match pod.verdict(&self.service_times[pod.host as usize], &mut self.rng_service) {
            PodVerdict::Answer { service, outcome } => {
                let status = match outcome {
                    Outcome::Status(s) => s,
                    Outcome::ConnectFailed => 503,
                };
                sched.schedule(service, Event::PodDone { endpoint: host, req, epoch, status });
            }
            other => {
                self.pods[host.idx()].busy -= 1;
                self.deliver_verdict(req, epoch, other, SimDuration::ZERO, sched);
            }
        }
    }

    fn on_pod_done(&mut self, host: EndpointId, req: ReqId, epoch: u32, status: u16, sched: &mut Scheduler<Event>) {
        // The slot frees whether or not the proxy still waits for this answer.
        if self.requests.is_current(req, epoch) {
            self.deliver_verdict(
                req,
                epoch,
                PodVerdict::Answer { service: SimDuration::ZERO, outcome: Outcome::Status(status) },
                SimDuration::ZERO,
                sched,
            );
        }
        let pod = &mut self.pods[host.idx()];
        pod.busy -= 1;
        while let Some((next, next_gen)) = pod.queue.pop_front() {
            if self.requests.is_current(next, next_gen) {
                self.pods[host.idx()].busy += 1;
                self.serve_limited(host, next, next_gen, sched);
                break;
            }
        }
    }

    /// Ends the current attempt's accounting: `rq_active`, the pending count, and what happens
    /// to its connection (`end`). Returns the host whose pool changed, if any.
    ///
    /// Always inlined, as is [`World::feed_outlier`]: a plain `#[inline]` left both out of line,
    /// and the two calls per response cost 46 instructions a request on the e2e bench
    /// (callgrind, stop 21).
    #[inline(always)]
    fn end_attempt(&mut self, req: ReqId, end: ConnEnd, now: SimTime) -> Option<EndpointId> {
        let r = self.requests.get_mut(req);
        let state = std::mem::replace(&mut r.conn, ConnState::Idle);
        r.attempt_active = false;
        let tunnel = std::mem::replace(&mut r.tunnel, NO_TUNNEL);
        let (proxy, host, tunnel_gen) = (r.proxy, r.host, r.tunnel_gen);
        let p = &mut self.proxies[proxy.idx()].clusters[r.cluster as usize];
        let h = host.idx();
        match state {
            ConnState::Idle => return None,
            ConnState::Pending => {
                // Its queue entry goes stale: the generation moves on below or when the slot is
                // freed, and the entry is skipped when popped.
                p.n_pending -= 1;
                self.requests.get_mut(req).epoch = self.requests.get(req).epoch.wrapping_add(1);
                return None;
            }
            ConnState::Connecting => {
                p.n_pending -= 1;
                p.pool[h].connecting -= 1;
                p.pool[h].conns -= 1;
                p.n_conns -= 1;
            }
            ConnState::Attached if tunnel != NO_TUNNEL => {
                p.in_flight -= 1;
                p.active[h] -= 1;
                let limits = p.tunnel_limits();
                let end = match end {
                    ConnEnd::Done => TunnelEnd::Done,
                    ConnEnd::Reset => TunnelEnd::Reset,
                    ConnEnd::Failed => TunnelEnd::Failed,
                };
                if p.tunnels.release(tunnel, tunnel_gen, end, &limits, now) && p.pool[h].conns > 0 {
                    p.pool[h].conns -= 1;
                    p.n_conns -= 1;
                }
            }
            ConnState::Attached => {
                p.in_flight -= 1;
                p.active[h] -= 1;
                let close = match end {
                    ConnEnd::Done => {
                        // `max_requests_per_connection`: every N requests one connection closes
                        // (per-host aggregate; see the module docs).
                        let n = p.config.max_requests_per_connection;
                        if n > 0 {
                            p.pool[h].served += 1;
                            if p.pool[h].served >= n {
                                p.pool[h].served -= n;
                            }
                            p.pool[h].served == 0
                        } else {
                            false
                        }
                    }
                    // HTTP/1.1 has no way to cancel one request but closing its connection; an
                    // HTTP/2 stream reset leaves the connection up.
                    ConnEnd::Reset => !p.http2,
                    ConnEnd::Failed => true,
                };
                if close && p.pool[h].conns > 0 {
                    p.pool[h].conns -= 1;
                    p.n_conns -= 1;
                }
            }
        }
        Some(host)
    }

    /// Gives freed or newly allowed connections of `host` to the requests waiting for them, in
    /// arrival order. Each is checked against `max_requests` as it is attached.
    #[inline]
    fn drain_pending(&mut self, proxy: ProxyId, ci: usize, host: EndpointId, sched: &mut Scheduler<Event>) {
        if self.proxies[proxy.idx()].clusters[ci].n_queued > 0 {
            self.drain_pending_slow(proxy, ci, host, sched);
        }
    }

    #[inline(never)]
    fn drain_pending_slow(&mut self, proxy: ProxyId, ci: usize, host: EndpointId, sched: &mut Scheduler<Event>) {
        let h = host.idx();
        if self.proxies[proxy.idx()].clusters[ci].hosts[h].tunnel {
            expire_tunnels(&mut self.proxies[proxy.idx()].clusters[ci], &self.pods, host, sched.now());
        }
        loop {
            let p = &mut self.proxies[proxy.idx()].clusters[ci];
            if p.n_queued == 0 {
                return;
            }
            let Some(&(req, epoch)) = p.pending[h].front() else { return };
            if !self.requests.is_current(req, epoch) || self.requests.get(req).conn != ConnState::Pending {
                p.pending[h].pop_front();
                p.n_queued -= 1;
                continue;
            }
            let new_conn = match connection_for(p, host) {
                Some(new_conn) => new_conn,
                None => return,
            };
            p.pending[h].pop_front();
            p.n_queued -= 1;
            p.n_pending -= 1;
            self.requests.get_mut(req).conn = ConnState::Idle;
            if p.in_flight >= p.config.circuit_breakers.max_requests {
                self.finish_with(req, sched.now(), ClientOutcome::Overflow, 503, sched);
                continue;
            }
            let per_try =
                route_cfg(&self.routes, &self.no_route, self.proxies[proxy.idx()].group, self.requests.get(req).route)
                    .retry
                    .as_ref()
                    .and_then(|r| r.per_try_timeout);
            self.send_attempt(req, new_conn, per_try, sched);
        }
    }

    /// For a gateway hop (`parent`: its client request and that request's attempt generation)
    /// whose client attempt rides a tunnel: the client proxy and its cluster,
    /// the tunnel slot and generation, and the pod the tunnel is pinned to (`None` before its
    /// first hop).
    #[allow(clippy::type_complexity)]
    fn pinned_backend(
        &self,
        (parent, parent_epoch): (ReqId, u32),
    ) -> Option<(ProxyId, ClusterIdx, u32, u32, Option<EndpointId>)> {
        if !self.requests.is_current(parent, parent_epoch) {
            return None;
        }
        let pr = self.requests.get(parent);
        if pr.tunnel == NO_TUNNEL {
            return None;
        }
        let tunnels = &self.proxies[pr.proxy.idx()].clusters[pr.cluster as usize].tunnels;
        if !tunnels.is_live(pr.tunnel, pr.tunnel_gen) {
            return None;
        }
        Some((pr.proxy, pr.cluster, pr.tunnel, pr.tunnel_gen, tunnels.get(pr.tunnel).backend))
    }

    /// A connect failure empties the host's pending queue: Envoy fails every pending stream of
    /// the pool when a connection attempt fails (`ConnPoolImplBase::onConnectionEvent`, "we purge
    /// all pending streams"). Each is a connect failure of its own attempt.
    fn purge_pending(&mut self, proxy: ProxyId, ci: usize, host: EndpointId, sched: &mut Scheduler<Event>) {
        while let Some((req, epoch)) = self.proxies[proxy.idx()].clusters[ci].pending[host.idx()].pop_front() {
            self.proxies[proxy.idx()].clusters[ci].n_queued -= 1;
            if !self.requests.is_current(req, epoch) || self.requests.get(req).conn != ConnState::Pending {
                continue;
            }
            self.proxies[proxy.idx()].clusters[ci].n_pending -= 1;
            let r = self.requests.get_mut(req);
            r.conn = ConnState::Idle;
            r.epoch = r.epoch.wrapping_add(1);
            self.attempt_failed(req, AttemptEnd::ConnectFailed, sched);
        }
    }

    fn on_response(&mut self, req: ReqId, epoch: u32, outcome: Outcome, sched: &mut Scheduler<Event>) {
        let r = self.requests.get(req);
        if r.epoch != epoch {
            return; // stale: this attempt already ended by a timeout
        }
        let (proxy, ci, was_connecting) = (r.proxy, r.cluster as usize, r.conn == ConnState::Connecting);
        let end = match outcome {
            Outcome::Status(s) => AttemptEnd::Status(s),
            Outcome::ConnectFailed => AttemptEnd::ConnectFailed,
        };
        let conn_end = if matches!(outcome, Outcome::Status(_)) { ConnEnd::Done } else { ConnEnd::Failed };
        let host = self.end_attempt(req, conn_end, sched.now());
        self.attempt_failed(req, end, sched);
        if let Some(host) = host {
            if was_connecting {
                self.purge_pending(proxy, ci, host, sched);
            } else {
                self.drain_pending(proxy, ci, host, sched);
            }
        }
    }

    /// What follows the end of an attempt whose pool accounting is done: the attempt series, the
    /// outlier detector, then a retry or the client's answer.
    #[inline(always)]
    fn attempt_failed(&mut self, req: ReqId, end: AttemptEnd, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = self.requests.get(req);
        let (proxy, ci, host, locality, child) = (r.proxy, r.cluster as usize, r.host, r.locality, r.parent.is_some());
        if !child {
            self.rec.attempt_end(now, locality, end);
        }
        let pr = &mut self.proxies[proxy.idx()];
        let tcp_passthrough = pr.tcp_passthrough;
        let c = &mut pr.clusters[ci];
        c.counts[host.idx()].end(end);
        let input = match end {
            AttemptEnd::Status(s) => OutlierInput::Status(s),
            AttemptEnd::ConnectFailed => OutlierInput::Local(LocalOriginEvent::ConnectFailed),
            AttemptEnd::Timeout => OutlierInput::Local(LocalOriginEvent::Timeout { code: None }),
        };
        // A TCP-passthrough gateway sees connection results only, never HTTP codes; a cluster
        // without outlier detection sees nothing. Fed through the proxy already at hand (what
        // `feed_outlier` does, without looking the cluster up again).
        if !(tcp_passthrough && matches!(input, OutlierInput::Status(_)))
            && put_outlier(c, &mut pr.rng, host, input, now, &mut self.scratch)
        {
            self.apply_outlier_events(proxy, ci, now);
        }
        let client = match end {
            AttemptEnd::Status(s) if s >= 500 => ClientOutcome::Upstream5xx,
            AttemptEnd::Status(_) => ClientOutcome::Success,
            AttemptEnd::ConnectFailed => ClientOutcome::ConnectFailure,
            AttemptEnd::Timeout => ClientOutcome::Timeout,
        };
        if client != ClientOutcome::Success && self.should_retry(req, end) {
            self.schedule_retry(req, sched);
        } else {
            let status = match end {
                AttemptEnd::Status(s) => s,
                _ => 503,
            };
            // `finish_with`, the request's parent already known.
            if child {
                self.relay_to_client(req, client, status, sched);
            }
            self.finish(req, now, client);
        }
    }

    fn on_per_try_timeout(&mut self, req: ReqId, epoch: u32, sched: &mut Scheduler<Event>) {
        // Armed only once the attempt is on a connection; an attempt still waiting for its
        // handshake has no per-try timer in Envoy, so this one is void.
        if !self.requests.is_current(req, epoch) || self.requests.get(req).conn != ConnState::Attached {
            return;
        }
        let (proxy, ci) = (self.requests.get(req).proxy, self.requests.get(req).cluster as usize);
        let host = self.end_attempt(req, ConnEnd::Reset, sched.now());
        let r = self.requests.get_mut(req);
        r.epoch = r.epoch.wrapping_add(1); // void the in-flight response
        self.attempt_failed(req, AttemptEnd::Timeout, sched);
        if let Some(host) = host {
            self.drain_pending(proxy, ci, host, sched);
        }
    }

    fn on_route_timeout(&mut self, req: ReqId, id_gen: u32, sched: &mut Scheduler<Event>) {
        if !self.requests.is_live(req, id_gen) {
            return; // the request already finished
        }
        let now = sched.now();
        let r = self.requests.get(req);
        let (proxy, ci, host, locality, state) = (r.proxy, r.cluster as usize, r.host, r.locality, r.conn);
        if state != ConnState::Idle {
            self.rec.attempt_end(now, locality, AttemptEnd::Timeout);
            self.proxies[proxy.idx()].clusters[ci].counts[host.idx()].end(AttemptEnd::Timeout);
        }
        if state == ConnState::Attached {
            // Only an attempt with an upstream host on a connection reports the timeout to the
            // outlier detector (`onResponseTimeout` skips requests still waiting for the pool).
            self.feed_outlier(proxy, ci, host, OutlierInput::Local(LocalOriginEvent::Timeout { code: None }), now);
        }
        let changed = self.end_attempt(req, ConnEnd::Reset, now);
        self.finish(req, now, ClientOutcome::Timeout);
        if let Some(host) = changed {
            self.drain_pending(proxy, ci, host, sched);
        }
    }

    fn on_retry_ready(&mut self, req: ReqId, epoch: u32, sched: &mut Scheduler<Event>) {
        if !self.requests.is_current(req, epoch) {
            return;
        }
        self.start_attempt(req, sched);
    }

    /// Envoy's `shouldRetry` (envoy-semantics §4.2–§4.3): the condition, the retry count, then
    /// the retry circuit breaker or budget.
    fn should_retry(&mut self, req: ReqId, end: AttemptEnd) -> bool {
        let r = self.requests.get(req);
        let pr = &self.proxies[r.proxy.idx()];
        let Some(policy) = &route_cfg(&self.routes, &self.no_route, pr.group, r.route).retry else { return false };
        if !retriable(policy, end) || r.retries_left == 0 {
            return false;
        }
        let p = &pr.clusters[r.cluster as usize];
        let cb = &p.config.circuit_breakers;
        let limit = match &cb.retry_budget {
            // `max(⌊percent/100 × (active + pending)⌋, min_retry_concurrency)` (§3).
            Some(b) => ((u64::from(b.budget_percent) * (u64::from(p.in_flight) + u64::from(p.n_pending))) / 100)
                .max(u64::from(b.min_retry_concurrency)),
            None => u64::from(cb.max_retries),
        };
        let holds = r.holds_retry;
        let active = u64::from(p.retries_active) - u64::from(holds);
        let r = self.requests.get_mut(req);
        r.retries_left -= 1;
        if active >= limit {
            return false; // retry overflow: the last answer goes back to the client
        }
        if !holds {
            r.holds_retry = true;
            self.proxies[r.proxy.idx()].clusters[r.cluster as usize].retries_active += 1;
        }
        true
    }

    /// Schedules the next attempt after Envoy's jittered exponential back-off (§4.4).
    fn schedule_retry(&mut self, req: ReqId, sched: &mut Scheduler<Event>) {
        let r = self.requests.get_mut(req);
        let proxy = r.proxy;
        let p = &mut self.proxies[proxy.idx()];
        let max = route_cfg(&self.routes, &self.no_route, p.group, r.route)
            .retry
            .as_ref()
            .map_or(SimDuration::ZERO, |x| x.backoff_max);
        let interval_ms = r.backoff_interval.as_millis().max(1);
        let delay = SimDuration::from_millis(p.rng.below(interval_ms));
        r.backoff_interval =
            if r.backoff_interval.as_nanos() < max.as_nanos() / 2 { r.backoff_interval.saturating_mul(2) } else { max };
        r.epoch = r.epoch.wrapping_add(1);
        let epoch = r.epoch;
        sched.schedule(delay, Event::RetryReady { req, epoch });
    }

    /// Answers the client and frees the request (no gateway hop can reach here).
    fn finish(&mut self, req: ReqId, now: SimTime, outcome: ClientOutcome) {
        if self.requests.get(req).conn != ConnState::Idle {
            self.end_attempt(req, ConnEnd::Reset, now);
        }
        let r = self.requests.get(req);
        let (holds_retry, proxy, cluster, child, started) =
            (r.holds_retry, r.proxy, r.cluster, r.parent.is_some(), r.started);
        // Freed before the counts, right after the read: the slot is looked up once.
        self.requests.free(req);
        if holds_retry {
            self.proxies[proxy.idx()].clusters[cluster as usize].retries_active -= 1;
        }
        if !child {
            self.rec.client_done(now, now.saturating_since(started), outcome);
            self.clients_in_flight -= 1;
        }
    }

    /// Ends a request with its last answer: a client request answers its client; a gateway hop
    /// hands the answer back to the client attempt it carries.
    #[inline]
    fn finish_with(
        &mut self,
        req: ReqId,
        now: SimTime,
        outcome: ClientOutcome,
        status: u16,
        sched: &mut Scheduler<Event>,
    ) {
        if self.requests.get(req).parent.is_some() {
            self.relay_to_client(req, outcome, status, sched);
        }
        self.finish(req, now, outcome);
    }

    /// Feeds one attempt result to the proxy's outlier detector and applies what it decides.
    #[inline(always)]
    fn feed_outlier(&mut self, proxy: ProxyId, ci: usize, host: EndpointId, input: OutlierInput, now: SimTime) {
        let pr = &mut self.proxies[proxy.idx()];
        if put_outlier(&mut pr.clusters[ci], &mut pr.rng, host, input, now, &mut self.scratch) {
            self.apply_outlier_events(proxy, ci, now);
        }
    }

    /// Logs the events in `scratch` and refreshes the proxy's load balancer if health changed.
    fn apply_outlier_events(&mut self, proxy: ProxyId, ci: usize, now: SimTime) {
        let mut changed = false;
        let events = std::mem::take(&mut self.scratch);
        let cluster = ci as ClusterIdx;
        for ev in &events {
            let p = &mut self.proxies[proxy.idx()].clusters[ci];
            match *ev {
                OutlierEvent::Ejected { host, kind, multiplier, planned, log, figures, .. } => {
                    let locality = p.hosts[host.idx()].locality;
                    let healthy_target = self.pods[host.idx()].is_healthy();
                    p.n_ejected += 1;
                    changed = true;
                    self.rec.ejection_change(now, (proxy, cluster), host, locality, 1);
                    self.rec.log(
                        now,
                        LogKind::Eject {
                            proxy,
                            cluster,
                            endpoint: host,
                            locality,
                            kind,
                            multiplier,
                            planned,
                            healthy_target,
                            log,
                            figures,
                        },
                    );
                }
                OutlierEvent::Unejected { host, ejected_for, num_ejections } => {
                    let locality = p.hosts[host.idx()].locality;
                    p.n_ejected -= 1;
                    changed = true;
                    self.rec.ejection_change(now, (proxy, cluster), host, locality, -1);
                    let multiplier = p.outlier.as_ref().and_then(|o| o.host_state(host)).map_or(0, |h| h.multiplier);
                    self.rec.log(
                        now,
                        LogKind::Uneject {
                            proxy,
                            cluster,
                            endpoint: host,
                            locality,
                            ejected_for,
                            multiplier,
                            num_ejections,
                        },
                    );
                }
                OutlierEvent::Overflow { host, kind } => {
                    let locality = p.hosts[host.idx()].locality;
                    self.rec.log(now, LogKind::EjectOverflow { proxy, cluster, endpoint: host, locality, kind });
                }
                OutlierEvent::NotEnforced { host, kind, log, figures } => {
                    self.rec.log(now, LogKind::EjectNotEnforced { proxy, cluster, endpoint: host, kind, log, figures });
                }
            }
        }
        self.scratch = events;
        if changed {
            self.proxies[proxy.idx()].refresh_health(cluster, now);
            self.log_panic(proxy, ci, now);
        }
    }

    /// Logs a panic transition of a proxy's load balancer.
    pub(crate) fn log_panic(&mut self, proxy: ProxyId, ci: usize, now: SimTime) {
        let p = &mut self.proxies[proxy.idx()].clusters[ci];
        let st = p.lb.priority_state();
        let on = st.in_panic.iter().any(|x| *x);
        let total = on && st.total_panic;
        // Logged on every change of the priorities in panic or of total panic, so a second
        // priority entering panic, or partial becoming total panic, shows too.
        let same = p.panic.len() == st.in_panic.iter().filter(|x| **x).count()
            && st.in_panic.iter().enumerate().filter(|(_, x)| **x).zip(&p.panic).all(|((i, _), q)| i as u32 == *q);
        if !(same && total == p.panic_total) {
            p.panic = st.in_panic.iter().enumerate().filter(|(_, x)| **x).map(|(i, _)| i as u32).collect();
            p.panic_total = total;
            let cluster = ci as ClusterIdx;
            self.rec.log(now, LogKind::Panic { proxy, cluster, on, total, priorities: p.panic.clone() });
        }
    }

    /// Logs the phase and closes the per-host counts of the one before.
    fn on_phase_start(&mut self, phase: u32, now: SimTime) {
        self.rec.log(now, LogKind::Phase { index: phase });
        if phase > 0 {
            let closed = self.rec.phase;
            for (p, proxy) in self.proxies.iter_mut().enumerate() {
                for (ci, cluster) in proxy.clusters.iter_mut().enumerate() {
                    for (h, c) in cluster.counts.iter_mut().enumerate() {
                        if !c.is_empty() {
                            let key = (closed, ProxyId(p as u32), ci as ClusterIdx, EndpointId(h as u32));
                            self.rec.host_counts.push((key, *c));
                            *c = Default::default();
                        }
                    }
                }
            }
        }
        self.rec.phase = phase;
        if let Some(k) = self.keys.as_mut() {
            k.start_phase(phase as usize);
        }
    }

    fn on_outlier_tick(&mut self, proxy: ProxyId, cluster: ClusterIdx, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let ci = cluster as usize;
        let pr = &mut self.proxies[proxy.idx()];
        let p = &mut pr.clusters[ci];
        let Some(od) = p.outlier.as_mut() else { return };
        let interval = od.config().interval;
        let visits = p.hosts.len() as u64;
        self.scratch.clear();
        od.on_interval_tick(now, &mut pr.rng, &mut self.scratch);
        if !self.scratch.is_empty() {
            self.apply_outlier_events(proxy, ci, now);
        }
        if self.scenario.log_interval_ticks {
            let od = self.proxies[proxy.idx()].clusters[ci].outlier.as_ref().expect("a tick needs a detector");
            let kind = LogKind::IntervalTick {
                proxy,
                cluster,
                ejected: od.active_ejections(),
                hosts: od.n_members(),
                success_rate: od.success_rate_stats(crate::envoy::outlier::SuccessRateOrigin::External),
            };
            self.rec.log(now, kind);
        }
        sched.schedule(interval, Event::OutlierTick { proxy, cluster });
        self.add_work(visits);
    }

    /// Whether `cluster` is the one `proxy`'s route sends to (the default one when the route
    /// names no existing cluster). Panic reports (charts, expectations, sweep metrics) follow
    /// that cluster only: a proxy's other clusters (the default cluster beside a subset route,
    /// or unused subsets) carry no traffic of its own.
    pub fn is_route_cluster(&self, proxy: ProxyId, cluster: ClusterIdx) -> bool {
        self.proxies[proxy.idx()].route_cluster.unwrap_or(crate::model::proxy::DEFAULT_CLUSTER) == cluster
    }

    /// Counts work done inside one event (see [`World::work`]); past `limits.max_events`, the run
    /// stops.
    pub fn add_work(&mut self, visits: u64) {
        self.work = self.work.saturating_add(visits);
        if self.work > self.scenario.max_events && self.limit_reached.is_none() {
            self.limit_reached = Some(format!(
                "EDS pushes and outlier sweeps visited more than {} hosts (limits.max_events bounds this work \
                 too: each push visits every proxy's hosts, each sweep its proxy's): raise limits.max_events, or \
                 use fewer proxy replicas, fewer pod changes or a longer outlier interval",
                self.scenario.max_events
            ));
        }
    }
}

/// What an attempt result means to the outlier detector.
#[derive(Clone, Copy, Debug)]
enum OutlierInput {
    Status(u16),
    Local(LocalOriginEvent),
}

/// Whether `end` matches the policy's `retry_on` (envoy-semantics §4.2).
pub fn retriable(policy: &RetryPolicy, end: AttemptEnd) -> bool {
    let on: &RetryOn = &policy.retry_on;
    match end {
        AttemptEnd::Status(s) => {
            (on.five_xx && (500..600).contains(&s))
                || (on.gateway_error && (502..=504).contains(&s))
                || (on.retriable_4xx && s == 409)
                || (on.retriable_status_codes && policy.retriable_status_codes.contains(&s))
        }
        AttemptEnd::ConnectFailed => {
            on.connect_failure || on.five_xx || on.gateway_error || on.reset || on.reset_before_request
        }
        // A per-try timeout is a local reset, not a connect failure.
        AttemptEnd::Timeout => on.reset || on.five_xx || on.gateway_error,
    }
}

/// How an attempt leaves its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnEnd {
    /// A complete response: the connection stays (unless `max_requests_per_connection` closes it).
    Done,
    /// The attempt was cancelled (per-try or route timeout): HTTP/1.1 closes the connection,
    /// HTTP/2 resets the stream only.
    Reset,
    /// The connection failed (refused, reset, connect timeout).
    Failed,
}

/// Closes `host`'s tunnels in cluster `p` that expired by `now` (idle, too old, drained, or
/// pinned to a pod that stopped serving) and gives their connections back to the pool counts.
fn expire_tunnels(p: &mut Cluster, pods: &[Pod], host: EndpointId, now: SimTime) {
    let limits = p.tunnel_limits();
    let closed = p.tunnels.expire(host, now, &limits, |b| pods[b.idx()].state == PodState::Ready);
    let h = host.idx();
    let closed = closed.min(p.pool[h].conns);
    p.pool[h].conns -= closed;
    p.n_conns -= closed;
}

/// What a host's connection pool can do for a new attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grant {
    /// Send on an open connection (a free HTTP/1.1 connection, or the HTTP/2 connection).
    Reuse,
    /// Open a new connection and send on it.
    Open,
    /// Wait in the pending queue (`max_connections` reached, or the host's only HTTP/2
    /// connection is still handshaking).
    Queue,
    /// `max_pending_requests` is full: 503 UO.
    Overflow,
}

/// Feeds one attempt result to cluster `c`'s outlier detector, if it has one (`rng`: its proxy's
/// stream); the detector's decisions land in `scratch` (cleared first). Returns whether there
/// are any, for [`World::apply_outlier_events`].
#[inline(always)]
fn put_outlier(
    c: &mut Cluster,
    rng: &mut SimRng,
    host: EndpointId,
    input: OutlierInput,
    now: SimTime,
    scratch: &mut Vec<OutlierEvent>,
) -> bool {
    let Some(od) = c.outlier.as_mut() else { return false };
    scratch.clear();
    match input {
        OutlierInput::Status(s) => od.put_http_status(host, s, now, rng, scratch),
        OutlierInput::Local(ev) => od.put_local_origin(host, ev, now, rng, scratch),
    }
    !scratch.is_empty()
}

/// Envoy's `newStreamImpl` for one host's pool (envoy-semantics §3): a ready connection is used
/// at once; otherwise the request becomes pending (refused with overflow when
/// `max_pending_requests` is full) and a new connection is opened if `max_connections` allows or
/// the pool has none.
fn pool_grant(p: &Cluster, host: EndpointId) -> Grant {
    match connection_for(p, host) {
        Some(false) => Grant::Reuse,
        _ if p.n_pending >= p.config.circuit_breakers.max_pending_requests => Grant::Overflow,
        Some(true) => Grant::Open,
        None => Grant::Queue,
    }
}

/// `Some(false)`: a ready connection is free; `Some(true)`: a new one may be opened; `None`:
/// wait.
#[inline(always)]
fn connection_for(p: &Cluster, host: EndpointId) -> Option<bool> {
    let h = host.idx();
    if p.hosts[h].tunnel {
        // Connections to a per-connection gateway are tracked one by one (`model::tunnel`).
        if p.tunnels.usable(host, p.http2).is_some() {
            return Some(false);
        }
        let none_open = p.tunnels.count_open(host) == 0;
        return if p.n_conns < p.config.circuit_breakers.max_connections || none_open { Some(true) } else { None };
    }
    let HostPool { conns, connecting, .. } = p.pool[h];
    if p.http2 {
        if conns > connecting {
            return Some(false);
        }
        if connecting > 0 {
            return None; // streams wait for the handshaking connection
        }
    } else if conns > p.active[h] + connecting {
        return Some(false);
    }
    if p.n_conns < p.config.circuit_breakers.max_connections || conns == 0 { Some(true) } else { None }
}

/// The route settings of a request at a proxy of `group` that took route `route` of its table;
/// a gateway hop (no group) has none: no retries, no timeouts, no fault filter.
#[inline]
fn route_cfg<'a>(
    routes: &'a [crate::model::routes::RouteTable],
    none: &'a RouteConfig,
    group: crate::model::ids::ProxyGroupId,
    route: u8,
) -> &'a RouteConfig {
    routes.get(group.idx()).and_then(|t| t.routes.get(usize::from(route))).map_or(none, |r| &r.config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One cluster `a` with `replicas` pods of service `s`, `service_extra` lines in its
    /// `[service]` table, one sidecar `c` sending `rate` requests a second, `duration` long, and
    /// `tail` appended (faults).
    fn one_cluster(duration: &str, service_extra: &str, replicas: u32, rate: u32, tail: &str) -> Scenario {
        let text = format!(
            r#"
name = "t"
duration = "{duration}"
[[clusters]]
name = "a"
region = "r"
[service]
host = "s"
{service_extra}
[[service.deployments]]
cluster = "a"
replicas = {replicas}
[[proxies]]
name = "c"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "c"
rate = {rate}
{tail}"#
        );
        crate::scenario::from_str(&text, "t.toml", std::path::Path::new("."), &[]).expect("scenario")
    }

    fn proxy(http2: bool, max_connections: u32, max_pending: u32) -> Cluster {
        let s = one_cluster("1s", "", 2, 1, "");
        let (mut world, _) = crate::model::build::build(std::sync::Arc::new(s), 1);
        let mut p = world.proxies.remove(0).clusters.remove(0);
        p.http2 = http2;
        p.config.circuit_breakers.max_connections = max_connections;
        p.config.circuit_breakers.max_pending_requests = max_pending;
        p
    }

    /// HTTP/1.1: a free connection is reused; a busy one makes a new one; at max_connections a
    /// host that already has a connection waits, one that has none may still open one (§3).
    #[test]
    fn http1_pool_grants() {
        let (h0, h1) = (EndpointId(0), EndpointId(1));
        let mut p = proxy(false, 1, 1);
        assert_eq!(pool_grant(&p, h0), Grant::Open);
        p.pool[0].conns = 1;
        p.n_conns = 1;
        assert_eq!(pool_grant(&p, h0), Grant::Reuse);
        p.active[0] = 1;
        assert_eq!(pool_grant(&p, h0), Grant::Queue);
        assert_eq!(pool_grant(&p, h1), Grant::Open, "an empty pool may always open one");
        p.n_pending = 1;
        assert_eq!(pool_grant(&p, h0), Grant::Overflow);
        assert_eq!(pool_grant(&p, h1), Grant::Overflow, "the request is pending while it connects");
    }

    /// HTTP/2: one connection carries every stream; streams wait while its handshake hangs.
    #[test]
    fn http2_pool_grants() {
        let h0 = EndpointId(0);
        let mut p = proxy(true, 1, u32::MAX);
        assert_eq!(pool_grant(&p, h0), Grant::Open);
        p.pool[0].conns = 1;
        p.n_conns = 1;
        p.active[0] = 50;
        assert_eq!(pool_grant(&p, h0), Grant::Reuse);
        p.active[0] = 0;
        p.pool[0].connecting = 1;
        assert_eq!(pool_grant(&p, h0), Grant::Queue);
    }

    /// A pod's change time that has passed (here the scaled-down pods' `PodGone` at 600 ms)
    /// no longer keeps later requests from being decided when they are sent: after it, no
    /// request goes through `AtPod`. Before, every request after the last passed change waited
    /// for its pod's arrival event until the next fault (1 324 `AtPod` events here).
    #[test]
    fn passed_change_time_keeps_requests_on_the_fast_path() {
        let scale = r#"
[[faults]]
at = "500ms"
action = "scale"
cluster = "a"
replicas = 1
"#;
        let s = std::sync::Arc::new(one_cluster("2s", "termination_grace = \"100ms\"", 3, 1000, scale));
        let (max_events, max_pending) = (s.max_events, crate::model::build::max_pending(&s));
        let end = s.end();
        let (world, init) = crate::model::build::build(s, 1);
        let mut sim = crate::engine::Simulation::new(world, max_events, max_pending);
        sim.enable_trace(1 << 20, 0..u64::MAX);
        for (t, e) in init {
            sim.schedule_at(t, e);
        }
        sim.run_until(end).expect("run");
        let captured = &sim.trace().expect("trace").captured;
        let gone = SimTime::ZERO + SimDuration::from_millis(600);
        let arrivals_after = captured.iter().filter(|e| e.time > gone && e.what.starts_with("Arrival")).count();
        let at_pod_after = captured.iter().filter(|e| e.time > gone && e.what.starts_with("AtPod")).count();
        assert!(arrivals_after > 1_200, "{arrivals_after} arrivals after the pods are gone");
        assert_eq!(at_pod_after, 0, "requests decided on arrival after the last change");
    }
}
