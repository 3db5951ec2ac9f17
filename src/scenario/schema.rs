//! The scenario file as written: serde structs, strict (`deny_unknown_fields` everywhere), with
//! durations as humane strings (`"250ms"`, `"1m30s"`). `validate.rs` turns this into the typed
//! [`crate::scenario::Scenario`].
//!
//! Every field is documented in the README's "Scenario format" section; keep the two in step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::istio::manifest::{DestinationRuleSpec, GatewaySpec, Unmodelled, VirtualServiceSpec};

/// The root of a scenario file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Short name; the default output folder is `output/<name>`.
    pub name: String,
    /// The question the scenario answers, shown in reports.
    #[serde(default)]
    pub description: Option<String>,
    /// Root seed of the run (default 1).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Virtual length of the run, e.g. `"240s"`.
    pub duration: String,
    /// Output and measurement settings.
    #[serde(default)]
    pub output: Option<RawOutput>,
    /// Safety bounds.
    #[serde(default)]
    pub limits: Option<RawLimits>,
    /// Mesh-wide and version-dependent settings.
    #[serde(default)]
    pub mesh: Option<RawMesh>,
    /// Kubernetes clusters and where they are.
    pub clusters: Vec<RawKubeCluster>,
    /// Network latency between localities.
    #[serde(default)]
    pub network: Option<RawNetwork>,
    /// The upstream service and its deployments.
    pub service: RawService,
    /// Other services that routes of the VirtualService send to (`[[services]]`): each a
    /// Kubernetes Service with its own pods, simulated beside `[service]`.
    #[serde(default)]
    pub services: Vec<RawOtherService>,
    /// The traffic policy under study.
    #[serde(default)]
    pub policy: Option<RawPolicy>,
    /// Plain-Envoy outlier-detection fields laid over what the DestinationRule gives (for users
    /// of Envoy without Istio, and for the detectors Istio cannot switch on).
    #[serde(default)]
    pub envoy_outlier: Option<RawEnvoyOutlier>,
    /// East-west gateways: how clusters on other networks are reached.
    #[serde(default)]
    pub east_west_gateways: Vec<RawEastWestGateway>,
    /// Client proxy groups (ingress gateway replicas, sidecars).
    pub proxies: Vec<RawProxyGroup>,
    /// Request arrivals, per proxy group.
    pub workload: Vec<RawWorkload>,
    /// The fault timeline.
    #[serde(default)]
    pub faults: Vec<RawFault>,
    /// Named phases; derived from the faults when absent.
    #[serde(default)]
    pub phases: Vec<RawPhase>,
    /// Expectations checked by `meshsim check` (see [`crate::scenario::expect`]).
    #[serde(default)]
    pub expect: Vec<super::expect::RawExpect>,
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// Width of a time-series bucket (default `"1s"`).
    pub bucket: Option<String>,
    /// A faulted locality has failed over when its share stays at or below this (default 0.05).
    pub failover_share: Option<f64>,
    /// A locality has failed back when its share stays within this of its healthy-phase share
    /// (default 0.10, absolute).
    pub failback_tolerance: Option<f64>,
    /// Log every outlier-detection interval tick of every proxy in `events.jsonl` (default
    /// false: a tick per second per proxy would swamp the log).
    pub log_interval_ticks: Option<bool>,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Events a run may process before it is stopped with an error (default 500 million).
    pub max_events: Option<u64>,
    /// Client requests that may be in flight at once across the mesh (default 100 000).
    pub max_in_flight: Option<u64>,
    /// Memory a run (or a sweep) may plan to use, as bytes or a size such as `"4GiB"`
    /// (default 4 GiB); see [`crate::scenario::budget`].
    pub max_memory: Option<toml::Value>,
}

/// `[mesh]`: istiod and version settings.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMesh {
    /// Istio release, e.g. `"1.22"`: sets `max_ejection_rule`, `default_retry_503` and
    /// `send_unready_endpoints` as that release (with its usual Envoy) behaves. The explicit keys
    /// below win over it. Default: current behaviour (1.31). A string: as a TOML number `1.30`
    /// would read as 1.3, so numbers are rejected with that explanation.
    pub istio_version: Option<toml::Value>,
    /// Delay between an endpoint change and the EDS push reaching proxies (default `"100ms"`,
    /// istiod's `PILOT_DEBOUNCE_AFTER`).
    pub eds_push_delay: Option<String>,
    /// Max-ejection-percent admission rule: `"after-ejection"` (Envoy ≥ 1.28, default),
    /// `"first-or-after-ejection"` (1.27), `"before-ejection"` (≤ 1.26).
    pub max_ejection_rule: Option<String>,
    /// Istio ≤ 1.23 retried HTTP 503 in its default retry policy (default false).
    pub default_retry_503: Option<bool>,
    /// Istio 1.31 sends unready endpoints as unhealthy (default true); ≤ 1.30 drops them.
    pub send_unready_endpoints: Option<bool>,
    /// Istio's root (config) namespace, where mesh-wide DestinationRules live (default
    /// `"istio-system"`).
    pub root_namespace: Option<String>,
    /// `ENABLE_LOCALITY_WEIGHTED_LB_CONFIG` (default false).
    pub enable_locality_weighted_lb_config: Option<bool>,
    /// The mesh-wide `localityLbSetting.enabled` (default true).
    pub locality_lb_enabled: Option<bool>,
    /// Mesh `connectTimeout` (default `"10s"`).
    pub connect_timeout: Option<String>,
}

/// `[[clusters]]`: one Kubernetes cluster.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubeCluster {
    /// Cluster name, used by deployments, proxies and faults.
    pub name: String,
    /// `topology.kubernetes.io/region`.
    pub region: String,
    /// `topology.kubernetes.io/zone` (default empty).
    #[serde(default)]
    pub zone: Option<String>,
    /// `topology.istio.io/subzone` (default empty).
    #[serde(default)]
    pub sub_zone: Option<String>,
    /// `topology.istio.io/network` (default `"network1"`, one flat network).
    #[serde(default)]
    pub network: Option<String>,
    /// Istio's cluster ID (`topology.istio.io/cluster`): set it when several entries are the
    /// zones of one Kubernetes cluster, so they share one istiod and one cluster label (default:
    /// `name`).
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// `[network]`: one-way latency between localities.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// Same region, zone and sub-zone (default `"200us"`).
    pub same_zone: Option<String>,
    /// Same region, other zone (default `"1ms"`).
    pub same_region: Option<String>,
    /// Other region (default `"50ms"`).
    pub cross_region: Option<String>,
    /// Uniform jitter added to each one-way trip, as a fraction of it (default 0.1).
    pub jitter: Option<f64>,
    /// Per-pair overrides, symmetric.
    #[serde(default)]
    pub overrides: Vec<RawLatencyOverride>,
}

/// `[[network.overrides]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLatencyOverride {
    /// A region, or `region/zone`, or a cluster name.
    pub from: String,
    /// Same form as `from`.
    pub to: String,
    /// One-way latency.
    pub latency: String,
}

/// `[service]`: the upstream service.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// The service's FQDN, matched against the DestinationRule `host`.
    pub host: String,
    /// Its namespace (default: the second label of a `name.namespace.svc...` host, else
    /// `"default"`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Service time of a healthy pod.
    #[serde(default)]
    pub service_time: Option<RawServiceTime>,
    /// Requests a pod works on at once; more wait in its queue (default 0 = unlimited).
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// From pod start to ready (default `"5s"`).
    #[serde(default)]
    pub readiness_delay: Option<String>,
    /// How long a deleted pod keeps serving before it refuses connections (default `"5s"`).
    #[serde(default)]
    pub termination_grace: Option<String>,
    /// Protocol between proxies and pods: `"http1"` (default; one request per connection at a
    /// time) or `"http2"` (all requests to a pod multiplexed on one connection).
    #[serde(default)]
    pub protocol: Option<String>,
    /// Kubernetes `spec.trafficDistribution` of the Service: `"PreferClose"`, `"PreferSameZone"`
    /// or `"PreferSameNode"` (default none).
    #[serde(default)]
    pub traffic_distribution: Option<String>,
    /// Where the service runs.
    pub deployments: Vec<RawDeployment>,
}

/// `[[services]]`: another Kubernetes Service that a route sends to (a canary or blue/green
/// Service of its own, or another service). `service_time`, `protocol`, `max_concurrency`,
/// `readiness_delay` and `termination_grace` default to `[service]`'s.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawOtherService {
    /// Its FQDN, as route destinations and DestinationRules name it.
    pub host: String,
    /// Its namespace (default: the second label of a `name.namespace.svc...` host, else
    /// `[service]`'s).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Service time of a healthy pod (default `[service]`'s).
    #[serde(default)]
    pub service_time: Option<RawServiceTime>,
    /// `"http1"` or `"http2"` (default `[service]`'s).
    #[serde(default)]
    pub protocol: Option<String>,
    /// Requests a pod works on at once, 0 = unlimited (default `[service]`'s).
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// From pod start to ready (default `[service]`'s).
    #[serde(default)]
    pub readiness_delay: Option<String>,
    /// How long a deleted pod keeps serving (default `[service]`'s).
    #[serde(default)]
    pub termination_grace: Option<String>,
    /// Where it runs: one deployment per cluster.
    pub deployments: Vec<RawDeployment>,
}

/// `[service.service_time]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceTime {
    /// `"exponential"`, `"lognormal"` or `"constant"`.
    pub distribution: String,
    /// Mean (exponential) or the constant value.
    #[serde(default)]
    pub mean: Option<String>,
    /// Median (lognormal).
    #[serde(default)]
    pub median: Option<String>,
    /// Shape σ of the log (lognormal, default 0.5).
    #[serde(default)]
    pub sigma: Option<f64>,
}

/// `[[service.deployments]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeployment {
    /// The cluster it runs in.
    pub cluster: String,
    /// Pods at the start.
    pub replicas: u32,
    /// Pod labels (for `failoverPriority`); Istio adds network, cluster and locality labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `[policy]`: the Istio resources. Manifests load first (into `resources`); inline keys are
/// merged over the one resource of their kind, or stand for a resource of their own.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// YAML files (paths relative to the scenario file) of Kubernetes objects: the Istio
    /// resources are read, every other kind is counted and skipped.
    #[serde(default)]
    pub manifests: Vec<RawManifestEntry>,
    /// The Istio resources, whole (what the manifests hold once read, or written inline).
    #[serde(default)]
    pub resources: Vec<RawResource>,
    /// What the manifests held that meshsim skipped, per file (written when they are read).
    #[serde(default)]
    pub skipped: Vec<RawSkipped>,
    /// Skipped resources of kinds that change traffic (written when the manifests are read).
    #[serde(default)]
    pub unmodelled: Vec<Unmodelled>,
    /// The DestinationRule's `spec`, with Istio's field names.
    #[serde(default)]
    pub destination_rule: Option<DestinationRuleSpec>,
    /// The VirtualService's `spec`.
    #[serde(default)]
    pub virtual_service: Option<VirtualServiceSpec>,
    /// Gateways by name (their `spec`).
    #[serde(default)]
    pub gateways: BTreeMap<String, GatewaySpec>,
}

/// One entry of `policy.manifests`: a path, or a path with the clusters whose istiod reads it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RawManifestEntry {
    /// Read by every cluster's istiod.
    Path(String),
    /// Read by the istiods of `clusters` only (a cluster's own export).
    Scoped {
        /// The file.
        file: String,
        /// Istio cluster IDs (`[[clusters]]` `cluster_id`, default their `name`).
        clusters: Vec<String>,
    },
}

/// `[[policy.resources]]`: one Istio resource.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawResource {
    /// `DestinationRule`, `VirtualService` or `Gateway`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.creationTimestamp` (RFC 3339): Istio orders and merges resources by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The clusters whose istiod reads it (default: every cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Vec<String>>,
    /// Where it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The spec, with Istio's field names.
    pub spec: toml::Value,
}

/// `[[policy.skipped]]`: the kinds a manifest held that meshsim skipped.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSkipped {
    /// The file.
    pub source: String,
    /// Objects per kind.
    pub kinds: BTreeMap<String, u64>,
}

/// `[[proxies]]`: a group of client proxies.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxyGroup {
    /// Group name, used by the workload.
    pub name: String,
    /// `"gateway"` or `"sidecar"`.
    pub kind: String,
    /// The cluster the proxies run in (gives their locality and network).
    pub cluster: String,
    /// Their namespace: Istio looks up DestinationRules and VirtualServices from it (default: the
    /// service's namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Number of replicas; each is its own Envoy (default 1).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// For gateways: the Gateway resource (`name` or `namespace/name`) it serves. Default: the
    /// Gateways whose `selector` its labels contain, else one named as the group.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Pod labels of the proxies (for `failoverPriority`); Istio adds network, cluster and
    /// locality labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When each replica's outlier-detection interval timer was armed: one duration for every
    /// replica, or a list with one per replica (default: a random phase per replica).
    #[serde(default)]
    pub outlier_timer_start: Option<toml::Value>,
}

/// `[[workload]]`: an open-loop arrival stream entering through a proxy group: Poisson (the
/// default), uniform (one request every `1/rate` s) or scripted (`times`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    /// The proxy group requests enter through; replicas share arrivals uniformly.
    pub proxy: String,
    /// Requests per second at the start (required unless `times` is given).
    #[serde(default)]
    pub rate: Option<f64>,
    /// `"poisson"` (default) or `"uniform"`.
    #[serde(default)]
    pub arrivals: Option<String>,
    /// Scripted arrivals: the time of each request, in order (instead of `rate`).
    #[serde(default)]
    pub times: Option<Vec<String>>,
    /// Later rate changes.
    #[serde(default)]
    pub rate_changes: Vec<RawRateChange>,
    /// The users behind the requests: each request carries one user's key, which a
    /// consistent-hash DestinationRule hashes (header, cookie or query value, or client address).
    #[serde(default)]
    pub users: Option<RawUsers>,
    /// What its requests carry (path, method, headers), as classes each with a share of the
    /// requests; none: every request is `GET /` with no headers.
    #[serde(default)]
    pub requests: Vec<RawRequestClass>,
}

/// `[[workload.requests]]`: one class of requests.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequestClass {
    /// Its share of the workload's requests (0..=1); one class may leave it out and take the rest.
    #[serde(default)]
    pub fraction: Option<f64>,
    /// `:path`, default `/`.
    #[serde(default)]
    pub path: Option<String>,
    /// `:method`, default `GET`.
    #[serde(default)]
    pub method: Option<String>,
    /// `:authority`, default the service's host.
    #[serde(default)]
    pub authority: Option<String>,
    /// Other headers, name → value.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `[workload.users]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsers {
    /// How many distinct users.
    pub count: u64,
    /// `"uniform"` (default) or `"zipf"`.
    #[serde(default)]
    pub distribution: Option<String>,
    /// Zipf exponent (default 1.0).
    #[serde(default)]
    pub exponent: Option<f64>,
}

/// `[[workload.rate_changes]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateChange {
    /// When the new rate starts.
    pub at: String,
    /// Requests per second from then on.
    pub rate: f64,
}

/// `[[faults]]`: one action on the timeline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// When it happens.
    pub at: String,
    /// `"scale"`, `"http-error"`, `"script"`, `"refuse"`, `"blackhole"`, `"latency"` or
    /// `"recover"`.
    pub action: String,
    /// The target deployment's cluster.
    pub cluster: String,
    /// The service whose pods it hits: `[service]`'s host (the default) or a `[[services]]` host.
    #[serde(default)]
    pub host: Option<String>,
    /// Pod indices within that deployment (default: all its pods).
    #[serde(default)]
    pub pods: Option<Vec<u32>>,
    /// For `scale`: the new replica count.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// For `http-error`: the status code.
    #[serde(default)]
    pub status: Option<u16>,
    /// For `http-error`: the chance each request gets it (default 1.0).
    #[serde(default)]
    pub probability: Option<f64>,
    /// For `latency`: added to each request's service time.
    #[serde(default)]
    pub latency: Option<String>,
    /// For `script`: each pod's answers to the requests it receives, in order: HTTP statuses
    /// (`500`, `404`) or `"refuse"` / `"hang"`.
    #[serde(default)]
    pub responses: Option<Vec<toml::Value>>,
    /// For `script`: what each pod does after its last scripted answer: `"healthy"` (default),
    /// `"repeat"`, or an answer to hold (a status, `"refuse"`, `"hang"`).
    #[serde(default)]
    pub then: Option<toml::Value>,
    /// Label for the phase this fault starts (default derived from the action).
    #[serde(default)]
    pub name: Option<String>,
    /// Whether this fault starts a new phase (default true).
    #[serde(default)]
    pub phase: Option<bool>,
}

/// `[[phases]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    /// Name shown in tables and plots.
    pub name: String,
    /// Start time; a phase ends where the next starts, the last at the end of the run.
    pub start: String,
}

/// `[[east_west_gateways]]`: an Istio east-west gateway fronting one cluster's pods for clients on
/// other networks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawEastWestGateway {
    /// The cluster it runs in (its network is the one it fronts).
    pub cluster: String,
    /// Replicas; each is one address (one host for remote clients) and its own Envoy (default 1).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// `"connection"` (default: Istio's AUTO_PASSTHROUGH gateway picks a pod once per client
    /// connection) or `"request"` (an HTTP-terminating gateway, for comparison).
    #[serde(default)]
    pub balance: Option<String>,
    /// Its namespace, for DestinationRule lookup (default `"istio-system"`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Its pod labels (default `istio = "eastwestgateway"`).
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `[envoy_outlier]`: fields of Envoy's `OutlierDetection` proto, by their Envoy names, laid over
/// the cluster's outlier detection. Durations as strings, percentages 0..=100. When the
/// DestinationRule has no `outlierDetection`, Envoy's defaults are the base.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RawEnvoyOutlier {
    pub consecutive_5xx: Option<u32>,
    pub consecutive_gateway_failure: Option<u32>,
    pub consecutive_local_origin_failure: Option<u32>,
    pub split_external_local_origin_errors: Option<bool>,
    pub interval: Option<String>,
    pub base_ejection_time: Option<String>,
    pub max_ejection_time: Option<String>,
    pub max_ejection_time_jitter: Option<String>,
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
