//! Envoy's configuration for one upstream cluster as one client proxy receives it: the typed
//! result of Istio's translation, and the input of every mechanism in `envoy/`.
//!
//! Field names follow Envoy's protos (`outlier_detection.proto`, `cluster.proto`,
//! `circuit_breaker.proto`, `route_components.proto`). Defaults are Envoy's, not Istio's; Istio's
//! defaults are applied by `istio::translate`.

use crate::engine::SimDuration;

/// Envoy's `core.v3.Locality`. Ordered by (region, zone, sub_zone) as Envoy orders localities.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Locality {
    /// Region, e.g. `europe-west1`.
    pub region: String,
    /// Zone, e.g. `europe-west1-b`; empty when unknown.
    pub zone: String,
    /// Sub-zone; empty when unknown.
    pub sub_zone: String,
}

impl Locality {
    /// A locality from its three parts.
    pub fn new(region: &str, zone: &str, sub_zone: &str) -> Locality {
        Locality { region: region.into(), zone: zone.into(), sub_zone: sub_zone.into() }
    }
}

impl std::fmt::Display for Locality {
    /// Istio's label form: `region/zone/sub_zone`, trailing empty parts dropped.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.region)?;
        if !self.zone.is_empty() || !self.sub_zone.is_empty() {
            write!(f, "/{}", self.zone)?;
        }
        if !self.sub_zone.is_empty() {
            write!(f, "/{}", self.sub_zone)?;
        }
        Ok(())
    }
}

/// Which max-ejection-percent admission rule the detector applies (envoy-semantics §1.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MaxEjectionRule {
    /// Envoy ≤ 1.26: eject if `100·active/total < M`, checked before the ejection, so the first
    /// ejection is always allowed when M > 0.
    BeforeEjection,
    /// Envoy 1.27 (PR #27624): eject if `active == 0` or `100·(active+1)/total ≤ M`.
    FirstOrAfterEjection,
    /// Envoy ≥ 1.28 (PR #27909): eject iff `100·(active+1)/total ≤ M`. Current behaviour.
    #[default]
    AfterEjection,
}

/// `envoy.config.cluster.v3.OutlierDetection`, with Envoy's defaults (`outlier_detection_impl.h`).
#[derive(Clone, Debug, PartialEq)]
pub struct OutlierConfig {
    /// Threshold of the consecutive-5xx counter.
    pub consecutive_5xx: u32,
    /// Threshold of the consecutive 502/503/504 counter.
    pub consecutive_gateway_failure: u32,
    /// Threshold of the local-origin counter (split mode only).
    pub consecutive_local_origin_failure: u32,
    /// Count connect failures and timeouts separately from HTTP responses.
    pub split_external_local_origin_errors: bool,
    /// Period of the un-ejection and statistics sweep.
    pub interval: SimDuration,
    /// Base ejection time, multiplied by the back-off multiplier.
    pub base_ejection_time: SimDuration,
    /// Cap on `base × multiplier`.
    pub max_ejection_time: SimDuration,
    /// Upper bound of the random jitter added to each ejection.
    pub max_ejection_time_jitter: SimDuration,
    /// Maximum percentage of the cluster's hosts that may be ejected (0..=100).
    pub max_ejection_percent: u32,
    /// Envoy ≥ 1.31: eject one host even when the percentage forbids it, if none is ejected.
    pub always_eject_one_host: bool,
    /// Percent chance of enforcing a consecutive-5xx detection.
    pub enforcing_consecutive_5xx: u32,
    /// Percent chance of enforcing a consecutive-gateway detection.
    pub enforcing_consecutive_gateway_failure: u32,
    /// Percent chance of enforcing a consecutive local-origin detection.
    pub enforcing_consecutive_local_origin_failure: u32,
    /// Percent chance of enforcing a success-rate detection.
    pub enforcing_success_rate: u32,
    /// Percent chance of enforcing a local-origin success-rate detection.
    pub enforcing_local_origin_success_rate: u32,
    /// Percent chance of enforcing a failure-percentage detection.
    pub enforcing_failure_percentage: u32,
    /// Percent chance of enforcing a local-origin failure-percentage detection.
    pub enforcing_failure_percentage_local_origin: u32,
    /// Hosts with enough volume needed before success-rate ejection runs.
    pub success_rate_minimum_hosts: u32,
    /// Requests per interval a host needs to be included in success-rate statistics.
    pub success_rate_request_volume: u32,
    /// Standard-deviation factor, in thousandths (1900 = 1.9).
    pub success_rate_stdev_factor: u32,
    /// Failure percentage at or above which a host is ejected.
    pub failure_percentage_threshold: u32,
    /// Hosts with enough volume needed before failure-percentage ejection runs.
    pub failure_percentage_minimum_hosts: u32,
    /// Requests per interval a host needs to be included in failure-percentage checks.
    pub failure_percentage_request_volume: u32,
    /// The admission rule of the Envoy version being modelled.
    pub max_ejection_rule: MaxEjectionRule,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            consecutive_5xx: 5,
            consecutive_gateway_failure: 5,
            consecutive_local_origin_failure: 5,
            split_external_local_origin_errors: false,
            interval: SimDuration::from_millis(10_000),
            base_ejection_time: SimDuration::from_millis(30_000),
            max_ejection_time: SimDuration::from_millis(300_000),
            max_ejection_time_jitter: SimDuration::ZERO,
            max_ejection_percent: 10,
            always_eject_one_host: false,
            enforcing_consecutive_5xx: 100,
            enforcing_consecutive_gateway_failure: 0,
            enforcing_consecutive_local_origin_failure: 100,
            enforcing_success_rate: 100,
            enforcing_local_origin_success_rate: 100,
            enforcing_failure_percentage: 0,
            enforcing_failure_percentage_local_origin: 0,
            success_rate_minimum_hosts: 5,
            success_rate_request_volume: 100,
            success_rate_stdev_factor: 1900,
            failure_percentage_threshold: 85,
            failure_percentage_minimum_hosts: 5,
            failure_percentage_request_volume: 50,
            max_ejection_rule: MaxEjectionRule::AfterEjection,
        }
    }
}

/// The load-balancing policy inside a host source (envoy-semantics §2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbPolicy {
    /// Round robin (EDF by host weight when weights differ).
    RoundRobin,
    /// Least request: power of `choice_count` choices (EDF with `weight/(active+1)` when weights
    /// differ). Istio's default, with 2 choices.
    LeastRequest {
        /// Number of random candidates compared.
        choice_count: u32,
    },
    /// Uniform random; ignores host weights.
    Random,
    /// `RING_HASH`: a Ketama ring per priority (`ring_hash_lb.cc`), sized so the lightest host
    /// gets at least `minimum_ring_size × its weight` entries, at most `maximum_ring_size`.
    RingHash {
        /// `minimum_ring_size` (Envoy default 1024).
        minimum_ring_size: u64,
        /// `maximum_ring_size` (Envoy default 8 Mi; Istio never sets it).
        maximum_ring_size: u64,
    },
    /// `MAGLEV`: a Maglev lookup table per priority (`maglev_lb.cc`).
    Maglev {
        /// `table_size`, a prime (Envoy default 65537).
        table_size: u64,
    },
}

impl LbPolicy {
    /// A consistent-hashing policy (`ThreadAwareLoadBalancerBase`): the host follows the request
    /// hash, not a per-request draw.
    pub fn is_hashing(self) -> bool {
        matches!(self, LbPolicy::RingHash { .. } | LbPolicy::Maglev { .. })
    }

    /// Envoy's name of the policy, as `istioctl proxy-config cluster` prints it.
    pub fn envoy_name(self) -> &'static str {
        match self {
            LbPolicy::RoundRobin => "ROUND_ROBIN",
            LbPolicy::LeastRequest { .. } => "LEAST_REQUEST",
            LbPolicy::Random => "RANDOM",
            LbPolicy::RingHash { .. } => "RING_HASH",
            LbPolicy::Maglev { .. } => "MAGLEV",
        }
    }
}

/// `SlowStartConfig` of the round-robin and least-request policies (`cluster.proto`); see
/// `envoy::lb::slow_start` for what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct SlowStartConfig {
    /// `slow_start_window`.
    pub window: SimDuration,
    /// `aggression` (default 1.0: a linear ramp).
    pub aggression: f64,
    /// `min_weight_percent` (default 10).
    pub min_weight_percent: f64,
}

impl Default for SlowStartConfig {
    fn default() -> Self {
        SlowStartConfig { window: SimDuration::ZERO, aggression: 1.0, min_weight_percent: 10.0 }
    }
}

/// One `RouteAction.hash_policy` entry (`route_components.proto`): what the request hash of a
/// consistent-hashing cluster is computed from (`source/common/http/hash_policy.cc`). A request
/// that lacks the header, cookie or parameter has no hash, and the balancer draws a random one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashPolicy {
    /// `header`: `xxHash64` of the header's value.
    Header {
        /// Header name.
        name: String,
    },
    /// `cookie`: `xxHash64` of the cookie's value.
    Cookie {
        /// Cookie name.
        name: String,
        /// `ttl`: with one, Envoy makes up a cookie for a request that has none (from the
        /// connection's addresses) and sets it on the response.
        ttl: Option<SimDuration>,
    },
    /// `connection_properties.source_ip`: `xxHash64` of the downstream address's IP.
    SourceIp,
    /// `query_parameter`: `xxHash64` of the parameter's value.
    QueryParameter {
        /// Parameter name.
        name: String,
    },
}

impl Default for LbPolicy {
    fn default() -> Self {
        LbPolicy::LeastRequest { choice_count: 2 }
    }
}

/// The cluster-wide load-balancer settings that shape priority and locality choice.
#[derive(Clone, Debug, PartialEq)]
pub struct LbConfig {
    /// Host picking inside the chosen host source.
    pub policy: LbPolicy,
    /// Overprovisioning factor in percent (Envoy default 140).
    pub overprovisioning_factor: u32,
    /// `common_lb_config.healthy_panic_threshold` in percent (Envoy default 50; Istio sets it to
    /// `minHealthPercent`, default 0, whenever outlierDetection is present).
    pub healthy_panic_threshold: u32,
    /// `common_lb_config.locality_weighted_lb_config` present.
    pub locality_weighted: bool,
    /// `slow_start_config` of ROUND_ROBIN or LEAST_REQUEST; `None` when unset (or for the other
    /// policies, which have none).
    pub slow_start: Option<SlowStartConfig>,
}

impl Default for LbConfig {
    fn default() -> Self {
        LbConfig {
            policy: LbPolicy::default(),
            overprovisioning_factor: 140,
            healthy_panic_threshold: 50,
            locality_weighted: false,
            slow_start: None,
        }
    }
}

/// Circuit-breaker thresholds for the DEFAULT routing priority (`circuit_breaker.proto`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitBreakers {
    /// `max_connections`.
    pub max_connections: u32,
    /// `max_pending_requests`.
    pub max_pending_requests: u32,
    /// `max_requests`: requests in flight from this proxy to the cluster.
    pub max_requests: u32,
    /// `max_retries`: retries in flight.
    pub max_retries: u32,
    /// `retry_budget`, which replaces `max_retries` when set.
    pub retry_budget: Option<RetryBudget>,
}

/// `circuit_breakers.thresholds.retry_budget`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryBudget {
    /// Percent of active plus pending requests that may be retries.
    pub budget_percent: u32,
    /// Retries always allowed regardless of the percentage.
    pub min_retry_concurrency: u32,
}

impl CircuitBreakers {
    /// Istio's thresholds for outbound clusters when the DestinationRule sets nothing: 2^32−1.
    pub fn istio_unlimited() -> CircuitBreakers {
        CircuitBreakers {
            max_connections: u32::MAX,
            max_pending_requests: u32::MAX,
            max_requests: u32::MAX,
            max_retries: u32::MAX,
            retry_budget: None,
        }
    }
}

impl Default for CircuitBreakers {
    /// Envoy's own defaults: 1024, 1024, 1024, 3.
    fn default() -> Self {
        CircuitBreakers {
            max_connections: 1024,
            max_pending_requests: 1024,
            max_requests: 1024,
            max_retries: 3,
            retry_budget: None,
        }
    }
}

/// The conditions of `retry_on` this simulator distinguishes (envoy-semantics §4.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryOn {
    /// `5xx`: any 5xx response, and any reset or timeout.
    pub five_xx: bool,
    /// `gateway-error`: 502, 503, 504, and any reset or timeout.
    pub gateway_error: bool,
    /// `reset`: any reset, per-try timeouts included.
    pub reset: bool,
    /// `reset-before-request`: a reset before anything was sent upstream.
    pub reset_before_request: bool,
    /// `connect-failure`: connection refused or connect timeout.
    pub connect_failure: bool,
    /// `refused-stream`: HTTP/2 REFUSED_STREAM.
    pub refused_stream: bool,
    /// `retriable-4xx`: 409 only.
    pub retriable_4xx: bool,
    /// `retriable-status-codes`: the codes in `RetryPolicy::retriable_status_codes`.
    pub retriable_status_codes: bool,
    /// gRPC `unavailable`, `cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`:
    /// recorded for reporting; the simulated service speaks plain HTTP so they never match.
    pub grpc: bool,
}

/// A route's retry policy (`route_components.proto`, `RetryPolicy`).
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// `num_retries`.
    pub num_retries: u32,
    /// Parsed `retry_on`.
    pub retry_on: RetryOn,
    /// The `retry_on` string as configured, for reports.
    pub retry_on_text: String,
    /// `retriable_status_codes`.
    pub retriable_status_codes: Vec<u16>,
    /// `per_try_timeout`; `None` means the route timeout bounds each try.
    pub per_try_timeout: Option<SimDuration>,
    /// `host_selection_retry_max_attempts`.
    pub host_selection_retry_max_attempts: u32,
    /// `retry_host_predicate: previous_hosts`.
    pub previous_hosts: bool,
    /// `retry_priority: previous_priorities` with this `update_frequency`.
    pub previous_priorities_update_frequency: Option<u32>,
    /// Back-off base interval (default 25 ms).
    pub backoff_base: SimDuration,
    /// Back-off cap (default 10 × base).
    pub backoff_max: SimDuration,
}

/// The route-level settings that shape one request's life (`RouteAction`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RouteConfig {
    /// Global route timeout; `None` means disabled (Istio's default).
    pub timeout: Option<SimDuration>,
    /// The retry policy; `None` means no retries.
    pub retry: Option<RetryPolicy>,
    /// `hash_policy`, set when the destination's cluster hashes (Istio copies the
    /// DestinationRule's `consistentHash` key onto the route).
    pub hash_policy: Option<HashPolicy>,
    /// The fault filter's per-route settings; `None` when the route injects nothing.
    pub fault: Option<FaultInjection>,
}

/// `envoy.type.v3.FractionalPercent`: `numerator / denominator`, the denominator 100 (`HUNDRED`)
/// or 1 000 000 (`MILLION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FractionalPercent {
    /// Numerator.
    pub numerator: u32,
    /// Denominator.
    pub denominator: u32,
}

impl FractionalPercent {
    /// Envoy's `ProtobufPercentHelper::evaluateFractionalPercent`: enabled iff
    /// `random % denominator < numerator` (a numerator above the denominator counts as 100 %).
    pub fn enabled(self, random: u64) -> bool {
        random % u64::from(self.denominator.max(1)) < u64::from(self.numerator.min(self.denominator))
    }
}

/// The fault filter's settings for one route (`extensions.filters.http.fault.v3.HTTPFault`, as
/// Istio's `TranslateFault` writes them, `pilot/pkg/networking/core/route/route.go`).
///
/// Envoy's `FaultFilter::decodeHeaders` (`source/extensions/filters/http/fault/fault_filter.cc`)
/// runs before the router: it draws the delay first; a delayed request draws the abort when the
/// delay ends (`postDelayInjection`), any other draws it at once. An aborted request is a local
/// reply: it never reaches the router, so no upstream host sees it, outlier detection never
/// counts it, and it is never retried. The route timeout starts in the router, after the delay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultInjection {
    /// `delay`: a fixed delay for a fraction of the requests.
    pub delay: Option<FaultDelay>,
    /// `abort`: a local reply for a fraction of the requests.
    pub abort: Option<FaultAbort>,
}

/// `FaultDelay` with `fixed_delay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultDelay {
    /// `fixed_delay`.
    pub fixed_delay: SimDuration,
    /// `percentage`.
    pub percentage: FractionalPercent,
}

/// `FaultAbort`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultAbort {
    /// The HTTP status of the local reply (for a `grpcStatus` abort, its HTTP equivalent).
    pub http_status: u16,
    /// `percentage`.
    pub percentage: FractionalPercent,
}

/// Everything one client proxy knows about the upstream service's Envoy cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// Outlier detection; `None` when the DestinationRule has no `outlierDetection`.
    pub outlier: Option<OutlierConfig>,
    /// Load-balancer settings.
    pub lb: LbConfig,
    /// Circuit-breaker thresholds.
    pub circuit_breakers: CircuitBreakers,
    /// `connect_timeout` (Istio mesh default 10 s).
    pub connect_timeout: SimDuration,
    /// `max_requests_per_connection` (HTTP protocol options); 0 = unlimited (Istio's default).
    pub max_requests_per_connection: u32,
    /// `common_http_protocol_options.idle_timeout`: a connection with no request for this long is
    /// closed (Envoy's default 1 h; `None` when set to 0, which disables it). Istio sets it from
    /// `connectionPool.http.idleTimeout`, else `connectionPool.tcp.idleTimeout`.
    pub idle_timeout: Option<SimDuration>,
    /// `common_http_protocol_options.max_connection_duration`: a connection older than this is
    /// drained (Istio's `connectionPool.tcp.maxConnectionDuration`); `None` when unset.
    pub max_connection_duration: Option<SimDuration>,
    /// The upstream connection speaks HTTP/2 although the service port is HTTP/1.1
    /// (`h2UpgradePolicy: UPGRADE`).
    pub h2_upgrade: bool,
}
