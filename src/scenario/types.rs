//! The validated scenario: typed, resolved, ready to build a world from.

use std::collections::BTreeMap;

use crate::engine::{SimDuration, SimTime};
use crate::envoy::config::Locality;
use crate::istio::manifest::Unmodelled;
use crate::istio::select::{ConfigResource, Selection};
use crate::istio::translate::MeshSettings;
use crate::model::ids::{KubeClusterId, ProxyGroupId};

use super::expect::Expectation;

/// A scenario after validation. Built only by [`crate::scenario::load`] or
/// [`crate::scenario::from_str`].
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// The question it answers.
    pub description: String,
    /// Root seed.
    pub seed: u64,
    /// Virtual length of the run.
    pub duration: SimDuration,
    /// Time-series bucket width.
    pub bucket: SimDuration,
    /// `output.log_interval_ticks`: log each outlier interval tick.
    pub log_interval_ticks: bool,
    /// Share at or below which a faulted locality counts as failed over.
    pub failover_share: f64,
    /// Distance from the healthy share within which a locality counts as failed back.
    pub failback_tolerance: f64,
    /// Event budget of a run.
    pub max_events: u64,
    /// Bound on client requests in flight at once.
    pub max_in_flight: u64,
    /// Memory budget of a run, in bytes (see [`crate::scenario::budget`]).
    pub max_memory: u64,
    /// istiod and version settings.
    pub mesh: MeshConfig,
    /// Kubernetes clusters.
    pub kube_clusters: Vec<KubeClusterSpec>,
    /// Latency model.
    pub network: NetworkSpec,
    /// The upstream service. Its `deployments` hold every host's: `[service]`'s first, then
    /// each `[[services]]` entry's in order (`DeploymentSpec::host` tells them apart).
    pub service: ServiceSpec,
    /// The other hosts routes send to (`[[services]]`); host `h` (1-based) is `services[h - 1]`.
    pub services: Vec<OtherServiceSpec>,
    /// The Istio resources and what the manifests held besides.
    pub policy: Policy,
    /// Plain-Envoy outlier-detection fields laid over the translated cluster.
    pub envoy_outlier: Option<EnvoyOutlierOverride>,
    /// East-west gateways (multi-network meshes).
    pub east_west_gateways: Vec<EastWestGatewaySpec>,
    /// Client proxy groups.
    pub proxy_groups: Vec<ProxyGroupSpec>,
    /// Arrival streams.
    pub workload: Vec<WorkloadSpec>,
    /// The fault timeline, in time order.
    pub faults: Vec<FaultSpec>,
    /// Phases, in time order, the first at 0.
    pub phases: Vec<PhaseSpec>,
    /// Expectations for `meshsim check`, measured on this scenario's run.
    pub expectations: Vec<Expectation>,
    /// Expectations measured on a run of this scenario with overrides (`[[expect]]` `set`).
    pub variants: Vec<Variant>,
    /// Expectations about an instant, fault or window at or after the run's end (a run shortened
    /// with `--set duration`, or a typo): not measured, but named by `check` with the reason, so
    /// none disappears silently. `(name, why)`, in file order.
    pub skipped_expectations: Vec<(String, String)>,
}

/// An expectation about the same scenario with overrides (`[[expect]]` with `set`), such as
/// another Istio release: `meshsim check` runs the variant with the same seed and measures it.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The overrides, as `--set` takes them.
    pub sets: Vec<String>,
    /// The expectation, validated against the variant.
    pub expectation: Expectation,
    /// The scenario with the overrides (holding only this expectation).
    pub scenario: std::sync::Arc<Scenario>,
}

/// The Istio resources of a scenario.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Every DestinationRule, VirtualService and Gateway, whole: those of `policy.resources`, then
    /// the inline ones (`policy.destination_rule`, `virtual_service`, `gateways`, in the service's
    /// namespace). Selections refer to them by index.
    pub resources: Vec<ConfigResource>,
    /// Istio's root namespace.
    pub root_namespace: String,
    /// Per manifest file, the kinds skipped and how many.
    pub skipped: Vec<(String, BTreeMap<String, u64>)>,
    /// Skipped resources of kinds that change traffic.
    pub unmodelled: Vec<Unmodelled>,
}

/// `[limits]` after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Event budget.
    pub max_events: u64,
    /// Client requests in flight at once.
    pub max_in_flight: u64,
    /// Memory budget in bytes.
    pub max_memory: u64,
}

/// Mesh-wide settings.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Version knobs and mesh defaults used by the Istio translation.
    pub settings: MeshSettings,
    /// Delay from an endpoint change to the EDS push.
    pub eds_push_delay: SimDuration,
}

/// A Kubernetes cluster.
#[derive(Debug, Clone)]
pub struct KubeClusterSpec {
    /// Its name.
    pub name: String,
    /// Where its pods run.
    pub locality: Locality,
    /// Its network (`topology.istio.io/network`).
    pub network: String,
    /// Istio's cluster ID (`topology.istio.io/cluster`): its istiod, its cluster label.
    pub cluster_id: String,
}

/// One-way latency settings.
#[derive(Debug, Clone)]
pub struct NetworkSpec {
    /// Same locality.
    pub same_zone: SimDuration,
    /// Same region, other zone or sub-zone.
    pub same_region: SimDuration,
    /// Other region.
    pub cross_region: SimDuration,
    /// Jitter as a fraction of the one-way latency, drawn uniformly per trip.
    pub jitter: f64,
    /// Pairwise overrides, symmetric, later ones win.
    pub overrides: Vec<LatencyOverride>,
}

/// A latency override between two places.
#[derive(Debug, Clone)]
pub struct LatencyOverride {
    /// One end.
    pub from: LocalitySelector,
    /// The other end.
    pub to: LocalitySelector,
    /// One-way latency.
    pub latency: SimDuration,
}

/// A place named in a latency override.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalitySelector {
    /// A Kubernetes cluster.
    Cluster(KubeClusterId),
    /// A region, optionally narrowed to a zone.
    Region {
        /// Region name.
        region: String,
        /// Zone name, if given.
        zone: Option<String>,
    },
}

/// The upstream service.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// FQDN.
    pub host: String,
    /// Its namespace.
    pub namespace: String,
    /// The cluster domain (`cluster.local`): short hosts in resources are completed with it.
    pub domain: String,
    /// Healthy service time.
    pub service_time: ServiceTime,
    /// Concurrent requests per pod (0 = unlimited).
    pub max_concurrency: u32,
    /// From pod start to ready.
    pub readiness_delay: SimDuration,
    /// How long a deleted pod keeps serving.
    pub termination_grace: SimDuration,
    /// Protocol between proxies and pods (shapes connection pools).
    pub protocol: UpstreamProtocol,
    /// Kubernetes `trafficDistribution` of the Service.
    pub traffic_distribution: Option<TrafficDistribution>,
    /// One deployment per cluster.
    pub deployments: Vec<DeploymentSpec>,
}

/// Another service that routes send to (`[[services]]`), simulated beside the main one.
#[derive(Debug, Clone)]
pub struct OtherServiceSpec {
    /// FQDN.
    pub host: String,
    /// Its namespace.
    pub namespace: String,
    /// Healthy service time.
    pub service_time: ServiceTime,
    /// Protocol between proxies and its pods.
    pub protocol: UpstreamProtocol,
    /// Concurrent requests per pod (0 = unlimited).
    pub max_concurrency: u32,
    /// From pod start to ready.
    pub readiness_delay: SimDuration,
    /// How long a deleted pod keeps serving.
    pub termination_grace: SimDuration,
}

/// The most `[[services]]` a scenario may declare.
pub const MAX_OTHER_SERVICES: usize = 16;

/// The upstream protocol, which decides how requests share connections (see `model::world`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamProtocol {
    /// HTTP/1.1: one request at a time per connection; a reset closes the connection.
    #[default]
    Http1,
    /// HTTP/2: every request to a host multiplexed on one connection; a reset ends one stream.
    Http2,
}

/// Kubernetes `Service.spec.trafficDistribution` (envoy-semantics §5.4.2, item 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficDistribution {
    /// `PreferClose` / `PreferSameZone`: failoverPriority `[network, region, zone]`, forced (Istio
    /// 1.25 and 1.26, which know only `PreferClose`: `[network, region, zone, subzone]`).
    PreferSameZone,
    /// `PreferSameNode`: the same plus sub-zone and hostname.
    PreferSameNode,
}

/// An east-west gateway deployment.
#[derive(Debug, Clone)]
pub struct EastWestGatewaySpec {
    /// The cluster it runs in; it fronts the pods of that cluster's network.
    pub cluster: KubeClusterId,
    /// Replicas, each one address and one Envoy.
    pub replicas: u32,
    /// Whether it picks a pod per client connection (AUTO_PASSTHROUGH, the default) or per
    /// request.
    pub per_connection: bool,
    /// Its namespace.
    pub namespace: String,
    /// Its pod labels.
    pub labels: BTreeMap<String, String>,
    /// The DestinationRule that applies to it (its clusters for the service).
    pub selection: Selection,
    /// Per `[[services]]` host, in order: the DestinationRule that applies to it for that host.
    pub host_selections: Vec<Selection>,
}

/// `[envoy_outlier]` after validation: each `Some` replaces the field of Envoy's
/// `OutlierDetection` it names.
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct EnvoyOutlierOverride {
    pub consecutive_5xx: Option<u32>,
    pub consecutive_gateway_failure: Option<u32>,
    pub consecutive_local_origin_failure: Option<u32>,
    pub split_external_local_origin_errors: Option<bool>,
    pub interval: Option<SimDuration>,
    pub base_ejection_time: Option<SimDuration>,
    pub max_ejection_time: Option<SimDuration>,
    pub max_ejection_time_jitter: Option<SimDuration>,
    pub max_ejection_percent: Option<u32>,
    pub always_eject_one_host: Option<bool>,
    pub enforcing_consecutive_5xx: Option<u32>,
    pub enforcing_consecutive_gateway_failure: Option<u32>,
    pub enforcing_consecutive_local_origin_failure: Option<u32>,
    pub enforcing_success_rate: Option<u32>,
    pub enforcing_local_origin_success_rate: Option<u32>,
    pub enforcing_failure_percentage: Option<u32>,
    pub enforcing_failure_percentage_local_origin: Option<u32>,
    pub success_rate_minimum_hosts: Option<u32>,
    pub success_rate_request_volume: Option<u32>,
    pub success_rate_stdev_factor: Option<u32>,
    pub failure_percentage_threshold: Option<u32>,
    pub failure_percentage_minimum_hosts: Option<u32>,
    pub failure_percentage_request_volume: Option<u32>,
}

impl EnvoyOutlierOverride {
    /// Lays the given fields over `c`.
    pub fn apply(&self, c: &mut crate::envoy::config::OutlierConfig) {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { c.$f = v; } )* };
        }
        set!(
            consecutive_5xx,
            consecutive_gateway_failure,
            consecutive_local_origin_failure,
            split_external_local_origin_errors,
            interval,
            base_ejection_time,
            max_ejection_time,
            max_ejection_time_jitter,
            max_ejection_percent,
            always_eject_one_host,
            enforcing_consecutive_5xx,
            enforcing_consecutive_gateway_failure,
            enforcing_consecutive_local_origin_failure,
            enforcing_success_rate,
            enforcing_local_origin_success_rate,
            enforcing_failure_percentage,
            enforcing_failure_percentage_local_origin,
            success_rate_minimum_hosts,
            success_rate_request_volume,
            success_rate_stdev_factor,
            failure_percentage_threshold,
            failure_percentage_minimum_hosts,
            failure_percentage_request_volume
        );
        if self.max_ejection_time.is_none() {
            // Neither Istio nor `[envoy_outlier]` sets it: Envoy's default, max(300 s, base).
            c.max_ejection_time = crate::istio::translate::default_max_ejection_time(c.base_ejection_time);
        }
    }
}

/// A service-time distribution.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceTime {
    /// Exponential with this mean.
    Exponential {
        /// Mean.
        mean: SimDuration,
    },
    /// Log-normal with this median and log-σ.
    LogNormal {
        /// Median.
        median: SimDuration,
        /// σ of the underlying normal.
        sigma: f64,
    },
    /// Always the same.
    Constant {
        /// The value.
        value: SimDuration,
    },
}

/// The service's pods in one cluster.
#[derive(Debug, Clone)]
pub struct DeploymentSpec {
    /// The cluster.
    pub cluster: KubeClusterId,
    /// Pods at the start.
    pub replicas: u32,
    /// Pod labels.
    pub labels: BTreeMap<String, String>,
    /// The host whose pods these are: 0 for `[service]`, `h` for `services[h - 1]`.
    pub host: u32,
}

/// Gateway or sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// An ingress (or egress) gateway: VirtualServices bind to it by Gateway name.
    Gateway,
    /// An in-mesh sidecar: VirtualServices apply when their `gateways` is empty or has `mesh`.
    Sidecar,
}

/// A group of client proxies.
#[derive(Debug, Clone)]
pub struct ProxyGroupSpec {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ProxyKind,
    /// Where they run.
    pub cluster: KubeClusterId,
    /// How many replicas, each its own Envoy.
    pub replicas: u32,
    /// The Gateway named in its entry (or the group's name when no Gateway selects it), for
    /// gateways.
    pub gateway: Option<String>,
    /// Pod labels of the proxies.
    pub labels: BTreeMap<String, String>,
    /// When each replica's outlier interval timer was armed: one entry for all replicas or one
    /// per replica; `None` draws a random phase per replica.
    pub outlier_timer_start: Option<Vec<SimTime>>,
    /// Their namespace.
    pub namespace: String,
    /// The Istio resources that apply to them, and why the others do not.
    pub selection: Selection,
    /// Per `[[services]]` host, in order: the selection for that host (its DestinationRule).
    pub host_selections: Vec<Selection>,
}

impl ProxyGroupSpec {
    /// The interval timer's start of replica `r`, when set.
    pub fn timer_start(&self, r: u32) -> Option<SimTime> {
        let starts = self.outlier_timer_start.as_ref()?;
        starts.get(r as usize).or(starts.first()).copied()
    }
}

/// An arrival stream.
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// Entry proxy group.
    pub group: ProxyGroupId,
    /// How requests arrive.
    pub arrivals: Arrivals,
    /// Initial rate (requests per second; 0 for scripted arrivals).
    pub rate: f64,
    /// Later `(time, rate)` changes, in time order.
    pub changes: Vec<(SimTime, f64)>,
    /// The users the requests come from, if the workload names them.
    pub users: Option<Users>,
    /// The classes of its requests (`[[workload.requests]]`); empty: every request is `GET /`
    /// with no headers and no draw is made.
    pub requests: Vec<RequestClass>,
}

/// The most request classes a workload may declare (`[[workload.requests]]`).
pub const MAX_REQUEST_CLASSES: usize = 64;
/// The most headers one request class may carry.
pub const MAX_CLASS_HEADERS: usize = 32;
/// The longest path, header name or header value a request class may give, in bytes.
pub const MAX_ATTR_LEN: usize = 1024;

/// One class of a workload's requests: its share and what each of its requests carries.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestClass {
    /// Share of the workload's requests, in (0, 1]; the shares sum to 1.
    pub fraction: f64,
    /// Cumulative share up to and including this class: a request whose uniform draw `u` is below
    /// it (and not below the previous class's) is of this class; the last class takes the rest.
    pub upto: f64,
    /// Path, method, authority and headers.
    pub attrs: crate::envoy::route::RequestAttrs,
}

impl RequestClass {
    /// `GET /` to `authority`, no headers: what a workload without classes sends.
    pub fn default_attrs(authority: &str) -> crate::envoy::route::RequestAttrs {
        crate::envoy::route::RequestAttrs {
            path: "/".into(),
            method: "GET".into(),
            authority: authority.to_string(),
            scheme: "http".into(),
            headers: Vec::new(),
        }
    }

    /// `GET /api (x-canary: true)`, for explanations.
    pub fn describe(&self) -> String {
        let a = &self.attrs;
        let mut s = format!("{} {}", a.method, a.path);
        if !a.headers.is_empty() {
            let h: Vec<String> = a.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            s.push_str(&format!(" ({})", h.join(", ")));
        }
        s
    }
}

/// The most users a workload may have: meshsim keeps a few bytes per user to measure which keys
/// move between phases.
pub const MAX_USERS: u64 = 1_000_000;

/// The users behind a workload's requests, each request drawn from them (stream `users`).
#[derive(Debug, Clone, PartialEq)]
pub struct Users {
    /// Number of distinct users, `1..=MAX_USERS`.
    pub count: u32,
    /// How often each user sends.
    pub distribution: UserDistribution,
}

/// How requests are spread over users.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UserDistribution {
    /// Every user equally often.
    Uniform,
    /// User `k` (from 1) in proportion to `k^(−exponent)`.
    Zipf {
        /// The exponent, > 0.
        exponent: f64,
    },
}

/// How a workload's requests arrive.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrivals {
    /// Exponential gaps at the current rate; a random replica of the group takes each.
    Poisson,
    /// One request every `1/rate` s (the k-th at `k/rate` after the last rate change, rounded
    /// down to the nanosecond); replicas take them in turn.
    Uniform,
    /// One request at each of these times (in order, within the run); replicas take them in
    /// turn.
    Scripted(Vec<SimTime>),
}

/// One fault action.
#[derive(Debug, Clone)]
pub struct FaultSpec {
    /// When.
    pub at: SimTime,
    /// What.
    pub action: FaultAction,
    /// Index into `ServiceSpec::deployments` (every host's).
    pub deployment: usize,
    /// Pod indices within the deployment; `None` = all.
    pub pods: Option<Vec<u32>>,
    /// Label.
    pub name: String,
    /// Whether it opens a phase.
    pub starts_phase: bool,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Set the deployment's replica count.
    Scale {
        /// New count.
        replicas: u32,
    },
    /// Pods answer with `status`, with this probability per request.
    HttpError {
        /// Status code.
        status: u16,
        /// Chance per request.
        probability: f64,
    },
    /// Pods refuse connections (connect failure after a round trip).
    Refuse,
    /// Pods never answer.
    Blackhole,
    /// Each pod answers the requests it receives with `steps`, in order, then as `then` says.
    Script {
        /// The answers, in order.
        steps: Vec<ScriptStep>,
        /// What follows the last one.
        then: ScriptThen,
    },
    /// Pods take this much longer.
    Latency {
        /// Added service time.
        extra: SimDuration,
    },
    /// Clear every behavioural fault on the target pods.
    Recover,
}

/// One scripted answer of a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptStep {
    /// Answer with this HTTP status (after the usual service time).
    Status(u16),
    /// Refuse the connection (a connect failure for the proxy).
    Refuse,
    /// Never answer (a new connection's handshake hangs until `connect_timeout`).
    Hang,
}

/// What a scripted pod does after its last scripted answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptThen {
    /// Answer normally (200), as a pod without faults.
    Healthy,
    /// Start the script again.
    Repeat,
    /// Give this answer to every later request.
    Hold(ScriptStep),
}

/// A named phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpec {
    /// Name.
    pub name: String,
    /// Start; the end is the next phase's start or the end of the run.
    pub start: SimTime,
}

impl Scenario {
    /// Hosts simulated: `[service]` and each `[[services]]` entry.
    pub fn n_hosts(&self) -> usize {
        1 + self.services.len()
    }

    /// The FQDN of host `h` (0: `[service]`).
    pub fn host_name(&self, h: usize) -> &str {
        if h == 0 { &self.service.host } else { &self.services[h - 1].host }
    }

    /// The host `name` is (compared as Istio compares hosts, ignoring case), if declared.
    pub fn host_index(&self, name: &str) -> Option<usize> {
        (0..self.n_hosts()).find(|&h| self.host_name(h).eq_ignore_ascii_case(name))
    }

    /// The name of host `h`'s pod `ordinal` in the Kubernetes cluster `cluster`: `cluster/ordinal`
    /// for `[service]`'s pods, `cluster/NAME-ordinal` for a `[[services]]` host's, NAME being its
    /// host's first label (`green/reviews-v2-0`), so pods of two hosts in one cluster never share
    /// a name.
    pub fn pod_name(&self, cluster: &str, h: usize, ordinal: u32) -> String {
        if h == 0 {
            format!("{cluster}/{ordinal}")
        } else {
            let host = self.host_name(h);
            format!("{cluster}/{}-{ordinal}", host.split('.').next().unwrap_or(host))
        }
    }

    /// Host `h`'s healthy service time.
    pub fn service_time_of(&self, h: usize) -> &ServiceTime {
        if h == 0 { &self.service.service_time } else { &self.services[h - 1].service_time }
    }

    /// Host `h`'s Kubernetes `trafficDistribution`: a field of each Service, so `[service]`'s
    /// never reaches a `[[services]]` host's clusters (which declare none).
    pub fn traffic_distribution_of(&self, h: usize) -> Option<TrafficDistribution> {
        if h == 0 { self.service.traffic_distribution } else { None }
    }

    /// Host `h`'s concurrent requests per pod (0 = unlimited).
    pub fn max_concurrency_of(&self, h: usize) -> u32 {
        if h == 0 { self.service.max_concurrency } else { self.services[h - 1].max_concurrency }
    }

    /// Host `h`'s delay from pod start to ready.
    pub fn readiness_delay_of(&self, h: usize) -> SimDuration {
        if h == 0 { self.service.readiness_delay } else { self.services[h - 1].readiness_delay }
    }

    /// How long a deleted pod of host `h` keeps serving.
    pub fn termination_grace_of(&self, h: usize) -> SimDuration {
        if h == 0 { self.service.termination_grace } else { self.services[h - 1].termination_grace }
    }

    /// Host `h`'s upstream protocol.
    pub fn protocol_of(&self, h: usize) -> UpstreamProtocol {
        if h == 0 { self.service.protocol } else { self.services[h - 1].protocol }
    }

    /// Host `h`'s selection for the proxy whose main-host selection is `main` and whose other
    /// hosts' selections are `others`.
    pub fn selection_of<'a>(main: &'a Selection, others: &'a [Selection], h: usize) -> &'a Selection {
        if h == 0 { main } else { &others[h - 1] }
    }

    /// The `[start, end)` of phase `i`.
    pub fn phase_bounds(&self, i: usize) -> (SimTime, SimTime) {
        let start = self.phases[i].start;
        let end = self.phases.get(i + 1).map(|p| p.start).unwrap_or(SimTime(self.duration.as_nanos()));
        (start, end)
    }

    /// The end of the run.
    pub fn end(&self) -> SimTime {
        SimTime(self.duration.as_nanos())
    }
}
