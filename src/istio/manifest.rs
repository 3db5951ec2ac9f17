//! Istio networking manifests as users write them (istio/api `networking/v1alpha3`
//! `destination_rule.proto`, `virtual_service.proto`, `gateway.proto`), with a strict loader.
//!
//! Every struct under `spec` denies unknown fields, so a misspelled key is an error that names
//! it. Field names are Istio's own camelCase. Fields the simulator does not model but real
//! manifests often carry (`tls`, `headers`, `corsPolicy`, ...) are accepted as opaque JSON values
//! so that such manifests still load; they are documented as "not simulated".
//!
//! All structs serialize back (None fields skipped), so a spec can be spliced into a TOML tree,
//! edited with `--set trafficPolicy.outlierDetection.interval=5s`, and deserialized again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::IstioError;
use super::duration::GoDuration;
use crate::kube::{Object, Origin, ReadError};

/// An opaque value for fields accepted but not simulated.
pub type Opaque = serde_json::Value;

// ---------------------------------------------------------------------------------------------
// DestinationRule
// ---------------------------------------------------------------------------------------------

/// `DestinationRule.spec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationRuleSpec {
    /// The service the rule applies to, e.g. `hello-world.default.svc.cluster.local`.
    pub host: String,
    /// The service-wide traffic policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named subsets with their own label selector and policy overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsets: Option<Vec<Subset>>,
    /// Namespaces the rule is visible to (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_to: Option<Vec<String>>,
    /// Workloads the rule applies to (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<WorkloadSelector>,
}

/// `WorkloadSelector`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSelector {
    /// Label selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// `Subset`: a named group of the service's endpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subset {
    /// Subset name, referenced by `VirtualService` destinations.
    pub name: String,
    /// Endpoint labels the subset selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Overrides of the service-wide policy, block by block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<TrafficPolicy>,
}

/// `TrafficPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficPolicy {
    /// Load-balancing algorithm and locality settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Circuit-breaker thresholds and connection settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Outlier detection; its presence also turns on locality failover (envoy-semantics §5.4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    /// Client TLS settings (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Opaque>,
    /// Per-port overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_level_settings: Option<Vec<PortTrafficPolicy>>,
    /// Tunnel settings (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Opaque>,
    /// Upstream PROXY protocol (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<Opaque>,
    /// Envoy retry budget, which replaces `max_retries` (envoy-semantics §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_budget: Option<RetryBudgetSettings>,
}

/// `TrafficPolicy.PortTrafficPolicy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortTrafficPolicy {
    /// The port these settings apply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
    /// Overrides `loadBalancer` for this port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Overrides `connectionPool` for this port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Overrides `outlierDetection` for this port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    /// Client TLS settings (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Opaque>,
}

/// `PortSelector`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSelector {
    /// Port number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
}

/// `TrafficPolicy.retryBudget`. Defaults per envoy-semantics §3: 20 % and 3.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryBudgetSettings {
    /// Percent of active plus pending requests that may be retries (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Retries always allowed (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_retry_concurrency: Option<u32>,
}

/// `LoadBalancerSettings.SimpleLB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimpleLb {
    /// Istio's default: LEAST_REQUEST.
    Unspecified,
    /// Deprecated alias of LEAST_REQUEST.
    LeastConn,
    /// Uniform random.
    Random,
    /// Original destination (not simulated; treated as the default).
    Passthrough,
    /// Round robin.
    RoundRobin,
    /// Least request, power of two choices.
    LeastRequest,
}

/// `LoadBalancerSettings`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerSettings {
    /// A standard algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple: Option<SimpleLb>,
    /// Consistent hashing: RING_HASH or MAGLEV over a request key (`istio::lb_policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent_hash: Option<ConsistentHashLb>,
    /// Locality load-balancing settings; replaces the mesh setting entirely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality_lb_setting: Option<LocalityLbSetting>,
    /// Slow-start window (deprecated since Istio 1.24 in favour of `warmup`; from Istio 1.14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_duration_secs: Option<GoDuration>,
    /// Slow-start settings (Istio 1.24 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmupConfiguration>,
}

/// `LoadBalancerSettings.ConsistentHashLB`: one hash key (`httpHeaderName`, `httpCookie`,
/// `useSourceIp` or `httpQueryParameterName`) and one algorithm (`ringHash`, `maglev`, or the
/// deprecated top-level `minimumRingSize`; ring hash by default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsistentHashLb {
    /// Hash the value of this request header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_header_name: Option<String>,
    /// Hash the value of this cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_cookie: Option<HttpCookie>,
    /// Hash the downstream connection's source IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_source_ip: Option<bool>,
    /// Hash the value of this query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_query_parameter_name: Option<String>,
    /// Ketama ring settings (Istio 1.16 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_hash: Option<RingHashSettings>,
    /// Maglev settings (Istio 1.16 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maglev: Option<MaglevSettings>,
    /// Deprecated: `ringHash.minimumRingSize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_ring_size: Option<u64>,
}

/// `ConsistentHashLB.HTTPCookie`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCookie {
    /// Cookie name (required).
    #[serde(default)]
    pub name: String,
    /// Path of a generated cookie (does not change which host is picked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// With a TTL, Envoy generates the cookie for a request that has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<GoDuration>,
    /// Attributes of a generated cookie (Istio 1.28 and later; do not change which host is
    /// picked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<CookieAttribute>>,
}

/// `HTTPCookie.Attribute`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CookieAttribute {
    /// Attribute name (required).
    #[serde(default)]
    pub name: String,
    /// Attribute value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `ConsistentHashLB.RingHash`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RingHashSettings {
    /// Minimum number of ring entries (default 1024; 0 means the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_ring_size: Option<u64>,
}

/// `ConsistentHashLB.MagLev`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaglevSettings {
    /// Table size: a prime below 5000011 (Istio requires it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_size: Option<u64>,
}

/// `WarmupConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmupConfiguration {
    /// The slow-start window (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<GoDuration>,
    /// Floor of the weight factor, percent (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_percent: Option<f64>,
    /// Ramp shape: the factor is `time_factor^(1/aggression)` (default 1.0, linear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggression: Option<f64>,
}

/// `LocalityLoadBalancerSetting`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityLbSetting {
    /// `false` turns locality load balancing off; unset means on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Explicit traffic shares per source locality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribute: Option<Vec<Distribute>>,
    /// Region failover overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<Vec<Failover>>,
    /// Ordered labels that define failover priorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_priority: Option<Vec<String>>,
}

impl LocalityLbSetting {
    /// The `distribute` rules, empty when unset.
    pub fn distribute(&self) -> &[Distribute] {
        self.distribute.as_deref().unwrap_or(&[])
    }
    /// The `failover` rules, empty when unset.
    pub fn failover(&self) -> &[Failover] {
        self.failover.as_deref().unwrap_or(&[])
    }
    /// The `failoverPriority` labels, empty when unset.
    pub fn failover_priority(&self) -> &[String] {
        self.failover_priority.as_deref().unwrap_or(&[])
    }
}

/// `LocalityLoadBalancerSetting.Distribute`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Distribute {
    /// Source locality pattern `region[/zone[/subzone]]`, `*` allowed as the last segment.
    pub from: String,
    /// Destination locality pattern → weight (1..=100, summing to 100).
    pub to: BTreeMap<String, u32>,
}

/// `LocalityLoadBalancerSetting.Failover`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Failover {
    /// The client's region.
    pub from: String,
    /// The region to fail over to before any other.
    #[serde(default)]
    pub to: String,
}

/// `ConnectionPoolSettings`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionPoolSettings {
    /// TCP settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpSettings>,
    /// HTTP settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSettings>,
}

/// `ConnectionPoolSettings.TCPSettings`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSettings {
    /// `max_connections` (only values > 0 apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i32>,
    /// Cluster `connect_timeout` (mesh default 10 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<GoDuration>,
    /// TCP keep-alive (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_keepalive: Option<Opaque>,
    /// Maximum connection duration (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_duration: Option<GoDuration>,
    /// Idle timeout (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<GoDuration>,
}

/// `ConnectionPoolSettings.HTTPSettings`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    /// `max_pending_requests` (only values > 0 apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http1_max_pending_requests: Option<i32>,
    /// `max_requests` (only values > 0 apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_max_requests: Option<i32>,
    /// Requests per upstream connection (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_connection: Option<i32>,
    /// `max_retries` (only values > 0 apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    /// Idle timeout (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<GoDuration>,
    /// HTTP/2 upgrade policy (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2_upgrade_policy: Option<String>,
    /// Use the client's protocol upstream (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_client_protocol: Option<bool>,
    /// HTTP/2 concurrent streams per connection (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_streams: Option<i32>,
}

/// `OutlierDetection`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    /// Split local-origin (connect) failures from HTTP responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_external_local_origin_errors: Option<bool>,
    /// Local-origin threshold (split mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_local_origin_failures: Option<u32>,
    /// 502/503/504 threshold; 0 disables it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_gateway_errors: Option<u32>,
    /// 5xx threshold; 0 disables it.
    #[serde(default, rename = "consecutive5xxErrors", skip_serializing_if = "Option::is_none")]
    pub consecutive_5xx_errors: Option<u32>,
    /// Deprecated; accepted and ignored, as current pilot does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_errors: Option<i32>,
    /// Sweep interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<GoDuration>,
    /// Base ejection time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ejection_time: Option<GoDuration>,
    /// Maximum ejected percentage; applied only when > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<i32>,
    /// Panic threshold (default 0 when this block exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_health_percent: Option<i32>,
    /// Status codes that count as errors (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection_http_error_codes: Option<Opaque>,
}

// ---------------------------------------------------------------------------------------------
// VirtualService
// ---------------------------------------------------------------------------------------------

/// `VirtualService.spec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualServiceSpec {
    /// Hosts the routes apply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// Gateways (`name` or `namespace/name`) and/or `mesh`; empty means `mesh` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateways: Option<Vec<String>>,
    /// HTTP routes, first match wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Vec<HttpRoute>>,
    /// TLS routes (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Opaque>,
    /// TCP routes (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Opaque>,
    /// Namespaces the service is visible to (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_to: Option<Vec<String>>,
}

/// `HTTPRoute`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    /// Route name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Match conditions (ORed).
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<Vec<HttpMatchRequest>>,
    /// Weighted destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Vec<HttpRouteDestination>>,
    /// Retry policy; absent means Istio's default policy (envoy-semantics §5.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<HttpRetry>,
    /// Route timeout; absent or 0 means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Fault injection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<HttpFaultInjection>,
    /// Redirect (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Opaque>,
    /// Direct response (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_response: Option<Opaque>,
    /// Rewrite (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Opaque>,
    /// Header manipulation (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Opaque>,
    /// Mirroring (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Opaque>,
    /// Mirroring percentage (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_percentage: Option<Opaque>,
    /// Multiple mirrors (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirrors: Option<Opaque>,
    /// CORS policy (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_policy: Option<Opaque>,
    /// Delegate (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate: Option<Opaque>,
}

/// `HTTPMatchRequest`. String matches are kept opaque: the simulator routes every request of a
/// route the same way.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpMatchRequest {
    /// Match name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// URI match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<Opaque>,
    /// Scheme match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Opaque>,
    /// Method match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Opaque>,
    /// Authority match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<Opaque>,
    /// Header matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Opaque>,
    /// Port match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    /// Source workload labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_labels: Option<BTreeMap<String, String>>,
    /// Gateways this match is restricted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateways: Option<Vec<String>>,
    /// Query parameter matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_params: Option<Opaque>,
    /// Case-insensitive URI matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_uri_case: Option<bool>,
    /// Negative header matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub without_headers: Option<Opaque>,
    /// Source namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_namespace: Option<String>,
    /// Stat prefix (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat_prefix: Option<String>,
}

/// `HTTPRouteDestination`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteDestination {
    /// Where the request goes.
    pub destination: Destination,
    /// Relative weight (0..=100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// Header manipulation (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Opaque>,
}

/// `Destination`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    /// Service host.
    pub host: String,
    /// Subset name from the DestinationRule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    /// Service port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

/// `HTTPRetry`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRetry {
    /// Number of retries; 0 (or less) disables retries.
    #[serde(default)]
    pub attempts: i32,
    /// Timeout per attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<GoDuration>,
    /// Envoy `retry_on` conditions plus HTTP status codes, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<String>,
    /// Add the `previous_priorities` retry plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_remote_localities: Option<bool>,
    /// Keep (true) or drop (false) the `previous_hosts` predicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Back-off base interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<GoDuration>,
}

/// `HTTPFaultInjection`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpFaultInjection {
    /// Delay injection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<FaultDelay>,
    /// Abort injection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<FaultAbort>,
}

/// `HTTPFaultInjection.Delay`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultDelay {
    /// Fixed delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_delay: Option<GoDuration>,
    /// Share of requests delayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
    /// Deprecated integer percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i32>,
}

/// `HTTPFaultInjection.Abort`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultAbort {
    /// HTTP status returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<i32>,
    /// gRPC status returned (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<String>,
    /// Share of requests aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

/// `Percent`: a value in 0.0..=100.0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Percent {
    /// The percentage.
    #[serde(default)]
    pub value: f64,
}

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

/// `Gateway.spec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewaySpec {
    /// Labels of the gateway pods this applies to, e.g. `istio: ingressgateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<BTreeMap<String, String>>,
    /// Listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<Server>>,
}

/// `Server`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    /// The listening port.
    pub port: ServerPort,
    /// Hosts exposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// TLS settings (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Opaque>,
    /// Server name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Bind address (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// Default endpoint (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_endpoint: Option<String>,
}

/// `Port` of a gateway server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerPort {
    /// Port number.
    pub number: u32,
    /// Protocol: HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP, TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Port name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Target port (not simulated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u32>,
}

// ---------------------------------------------------------------------------------------------
// Resources and the loader
// ---------------------------------------------------------------------------------------------

/// The parts of `metadata` Istio's selection reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `metadata.namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.creationTimestamp` (RFC 3339): Istio merges and orders resources by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
}

/// One Kubernetes object: its metadata, the `apiVersion` it was written with, and its spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource<S> {
    /// `apiVersion`, e.g. `networking.istio.io/v1beta1`.
    pub api_version: String,
    /// Name, namespace and creation time.
    pub metadata: ObjectMeta,
    /// The typed spec.
    pub spec: S,
}

/// One Istio networking resource meshsim models.
// A handful are parsed per scenario; boxing the large variant would only complicate matching.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Manifest {
    /// `kind: DestinationRule`.
    DestinationRule(Resource<DestinationRuleSpec>),
    /// `kind: VirtualService`.
    VirtualService(Resource<VirtualServiceSpec>),
    /// `kind: Gateway` (`networking.istio.io`, not the Gateway API's).
    Gateway(Resource<GatewaySpec>),
}

impl Manifest {
    /// The `kind` string.
    pub fn kind(&self) -> &'static str {
        match self {
            Manifest::DestinationRule(_) => "DestinationRule",
            Manifest::VirtualService(_) => "VirtualService",
            Manifest::Gateway(_) => "Gateway",
        }
    }
    /// `metadata`.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Manifest::DestinationRule(r) => &r.metadata,
            Manifest::VirtualService(r) => &r.metadata,
            Manifest::Gateway(r) => &r.metadata,
        }
    }
}

/// The `apiVersion`s accepted for Istio networking kinds.
pub const API_VERSIONS: [&str; 3] =
    ["networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1"];

/// The kinds meshsim models.
pub const MODELLED_KINDS: [&str; 3] = ["DestinationRule", "VirtualService", "Gateway"];

/// A resource of a kind that changes traffic but that meshsim does not model: a lint names it
/// when it concerns the simulated traffic (its namespace is the service's, a client's or the
/// root namespace, or its hosts cover the service).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmodelled {
    /// The kind as shown, e.g. `EnvoyFilter` or `HTTPRoute (gateway.networking.k8s.io)`.
    pub kind: String,
    /// Its namespace (empty for cluster-scoped kinds).
    #[serde(default)]
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Hosts it names (`ServiceEntry.spec.hosts`, `HTTPRoute.spec.hostnames`), when any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// What its kind does to traffic ([`unmodelled_effect`]).
    #[serde(default)]
    pub effect: String,
    /// Where it was read.
    pub source: String,
}

/// What changes traffic among the kinds meshsim skips, and why (shown by the lint).
pub fn unmodelled_effect(api_version: &str, kind: &str) -> Option<&'static str> {
    let group = crate::kube::group_of(api_version);
    Some(match (group, kind) {
        ("networking.istio.io", "EnvoyFilter") => "patches the Envoy configuration directly",
        ("networking.istio.io", "Sidecar") => "can limit which services a proxy sees (egress) and its outbound policy",
        ("networking.istio.io", "ServiceEntry") => "adds hosts and endpoints to the mesh",
        ("networking.istio.io", "WorkloadEntry" | "WorkloadGroup") => "adds endpoints outside Kubernetes",
        ("security.istio.io", "AuthorizationPolicy") => "can deny requests (403)",
        ("security.istio.io", "PeerAuthentication") => "sets mTLS modes that can refuse connections",
        ("security.istio.io", "RequestAuthentication") => "can reject requests with invalid tokens (401)",
        ("extensions.istio.io", "WasmPlugin") => "runs extensions in the request path",
        ("networking.k8s.io", "NetworkPolicy") => "can block connections between pods",
        ("networking.k8s.io", "Ingress") => "routes ingress traffic (Istio can serve Ingress objects)",
        ("gateway.networking.k8s.io", "HTTPRoute" | "GRPCRoute" | "TCPRoute" | "TLSRoute" | "Gateway") => {
            "routes traffic (Gateway API), which meshsim does not read"
        }
        (g, "BackendTLSPolicy" | "XBackendTrafficPolicy" | "BackendTrafficPolicy")
            if g.starts_with("gateway.networking") =>
        {
            "becomes DestinationRule settings in istiod, which meshsim does not read"
        }
        _ => return None,
    })
}

/// The Istio resources of one file, with what was skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ManifestFile {
    /// The modelled resources, in file order, with where each was read.
    pub manifests: Vec<(Manifest, Origin)>,
    /// Objects of every other kind, counted by kind as shown (`ConfigMap`, `Pod`, ...).
    pub skipped: BTreeMap<String, u64>,
    /// The skipped objects whose kind changes traffic.
    pub unmodelled: Vec<Unmodelled>,
}

/// Reads a file of Kubernetes objects ([`crate::kube::read_objects`]: documents, `List`s, typed
/// lists) and types its DestinationRules, VirtualServices and Gateways strictly. Every other
/// kind is counted in [`ManifestFile::skipped`]; those that change traffic are also listed in
/// [`ManifestFile::unmodelled`]. Errors name the file, the document (and item), the resource and
/// the field. The specs are not validated here; see [`super::validate`].
pub fn read_manifests(text: &str, file: &str) -> Result<ManifestFile, IstioError> {
    let mut out = ManifestFile::default();
    crate::kube::read_objects(text, file, |obj| -> Result<(), IstioError> {
        let istio_group = obj.group() == "networking.istio.io";
        if istio_group && MODELLED_KINDS.contains(&obj.kind.as_str()) {
            let m = type_manifest(&obj)?;
            out.manifests.push((m, obj.origin));
            return Ok(());
        }
        let shown = crate::kube::display_kind(&obj.api_version, &obj.kind);
        if let Some(effect) = unmodelled_effect(&obj.api_version, &obj.kind) {
            out.unmodelled.push(Unmodelled {
                kind: shown.clone(),
                namespace: obj.meta.namespace.clone(),
                name: obj.meta.name.clone(),
                hosts: hosts_of(&obj),
                effect: effect.to_string(),
                source: obj.origin.to_string(),
            });
        }
        *out.skipped.entry(shown).or_insert(0) += 1;
        Ok(())
    })?;
    Ok(out)
}

/// Parses the Istio resources of a multi-document text, in file order (other kinds skipped).
pub fn parse_manifests(text: &str, file: &str) -> Result<Vec<Manifest>, IstioError> {
    Ok(read_manifests(text, file)?.manifests.into_iter().map(|(m, _)| m).collect())
}

/// `spec.hosts` (ServiceEntry) or `spec.hostnames` (Gateway API routes), as strings.
fn hosts_of(obj: &Object) -> Vec<String> {
    let spec = obj.get("spec").and_then(|s| s.as_mapping());
    let list = spec.and_then(|s| s.get("hosts").or_else(|| s.get("hostnames"))).and_then(|h| h.as_sequence());
    list.map(|l| l.iter().filter_map(|h| h.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Types one Istio networking object: a supported `apiVersion`, a name, a strict spec, and no
/// top-level key but `spec` and `status` (which is output, never input).
fn type_manifest(obj: &Object) -> Result<Manifest, IstioError> {
    let err = |path: Option<String>, message: String| {
        IstioError::Parse(ReadError {
            origin: Box::new(obj.origin.clone()),
            resource: Some(obj.id()),
            path,
            line: None,
            message,
        })
    };
    if !API_VERSIONS.contains(&obj.api_version.as_str()) {
        return Err(err(
            Some("apiVersion".into()),
            format!("unsupported apiVersion {:?}, expected one of {}", obj.api_version, API_VERSIONS.join(", ")),
        ));
    }
    if obj.meta.name.is_empty() {
        return Err(err(Some("metadata.name".into()), "is missing; every resource needs a name".into()));
    }
    if let Some(key) = obj.body.keys().filter_map(|k| k.as_str()).find(|k| !matches!(*k, "spec" | "status")) {
        return Err(err(
            Some(key.to_string()),
            format!("unknown field `{key}`, expected one of `apiVersion`, `kind`, `metadata`, `spec`, `status`"),
        ));
    }
    let spec = obj.get("spec").cloned().ok_or_else(|| err(Some("spec".into()), "is missing".into()))?;
    fn typed<T: serde::de::DeserializeOwned>(v: serde_yaml_ng::Value) -> Result<T, (String, String)> {
        serde_path_to_error::deserialize(v).map_err(|e| {
            let p = e.path().to_string();
            (if p == "." { "spec".to_string() } else { format!("spec.{p}") }, e.into_inner().to_string())
        })
    }
    let metadata = ObjectMeta {
        name: Some(obj.meta.name.clone()),
        namespace: (!obj.meta.namespace.is_empty()).then(|| obj.meta.namespace.clone()),
        creation_timestamp: obj.meta.creation_timestamp.clone(),
    };
    let api_version = obj.api_version.clone();
    let wrap = |r: Result<Manifest, (String, String)>| r.map_err(|(p, m)| err(Some(p), m));
    wrap(match obj.kind.as_str() {
        "DestinationRule" => {
            typed(spec).map(|spec| Manifest::DestinationRule(Resource { api_version, metadata, spec }))
        }
        "VirtualService" => typed(spec).map(|spec| Manifest::VirtualService(Resource { api_version, metadata, spec })),
        _ => typed(spec).map(|spec| Manifest::Gateway(Resource { api_version, metadata, spec })),
    })
}

/// Tests' shorthand: `T` from YAML text the way [`read_manifests`] types a spec (a YAML value
/// tree, then `serde_path_to_error`), so a test compiles no second copy of the Istio types'
/// deserializers (plain `serde_yaml_ng::from_str` would, for its event reader: issue 11).
#[cfg(test)]
pub(crate) fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    serde_path_to_error::deserialize(value).map_err(|e| e.to_string())
}
