//! Pilot's translation of a DestinationRule into Envoy cluster settings and of a VirtualService
//! route into Envoy route settings, following `pilot/pkg/networking/core/cluster_traffic_policy.go`
//! (`applyOutlierDetection`, `applyConnectionPool`, `applyLoadBalancer`,
//! `applyLocalityLoadBalancer`), `.../loadbalancer/loadbalancer.go` (`GetLocalityLbSetting`) and
//! `.../route/retry/retry.go` (`ConvertPolicy`, `parseRetryOn`); envoy-semantics §5.

use super::locality::{
    AssignOptions, Assignment, EastWestGateway, IstioEndpoint, ProxyMeta, assign_endpoints,
    needs_locality_weighted_config,
};
use super::manifest::{
    ConnectionPoolSettings, DestinationRuleSpec, HttpRetry, HttpRoute, LocalityLbSetting, OutlierDetection,
    TrafficPolicy, VirtualServiceSpec,
};
use crate::engine::SimDuration;
use crate::envoy::config::{
    CircuitBreakers, ClusterConfig, FaultAbort, FaultDelay, FaultInjection, FractionalPercent, LbConfig,
    MaxEjectionRule, OutlierConfig, RetryBudget, RetryOn, RetryPolicy, RouteConfig,
};

/// What happens to endpoints whose pod is not ready (envoy-semantics §5.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnreadyEndpoints {
    /// Istio ≤ 1.30 (`PILOT_SEND_UNHEALTHY_ENDPOINTS=false`): unready endpoints leave EDS.
    Drop,
    /// Istio 1.31 (`PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS=true`, commit `a7c9ae034fb`): unready
    /// endpoints are sent with status UNHEALTHY, unless the DR's `minHealthPercent` > 0.
    #[default]
    SendUnhealthy,
}

/// Mesh-wide settings and the knobs that changed between Istio/Envoy versions. `Default` is
/// current Istio (1.31) on Envoy ≥ 1.31.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshSettings {
    /// Envoy's max-ejection-percent admission rule (envoy-semantics §1.4, §8.1).
    pub max_ejection_rule: MaxEjectionRule,
    /// Istio ≤ 1.23: the default retry policy also retries HTTP 503 (§5.8).
    pub retry_503_by_default: bool,
    /// Unready endpoints dropped (≤ 1.30) or sent as unhealthy (1.31).
    pub unready_endpoints: UnreadyEndpoints,
    /// `ENABLE_LOCALITY_WEIGHTED_LB_CONFIG` (default false).
    pub enable_locality_weighted_lb_config: bool,
    /// `meshConfig.localityLbSetting`; the built-in default is `{enabled: true}`.
    pub locality_lb_setting: LocalityLbSetting,
    /// `meshConfig.connectTimeout` (default 10 s).
    pub connect_timeout: SimDuration,
    /// The Istio minor release (`mesh.istio_version`; 31 by default). Fields newer than the
    /// release are refused (`lb_policy::check_istio_version`, and Service `trafficDistribution` in
    /// validation).
    pub istio_minor: u32,
}

impl Default for MeshSettings {
    fn default() -> Self {
        MeshSettings {
            max_ejection_rule: MaxEjectionRule::AfterEjection,
            retry_503_by_default: false,
            unready_endpoints: UnreadyEndpoints::SendUnhealthy,
            enable_locality_weighted_lb_config: false,
            locality_lb_setting: LocalityLbSetting { enabled: Some(true), ..Default::default() },
            connect_timeout: SimDuration::from_secs(10),
            istio_minor: 31,
        }
    }
}

impl MeshSettings {
    /// The knobs of Istio `1.<minor>` with its usual Envoy. The Istio ↔ Envoy pairing is
    /// approximate (envoy-semantics §8.1): ≤ 1.18 ↔ Envoy ≤ 1.26, 1.19 ↔ 1.27, ≥ 1.20 ↔ ≥ 1.28.
    pub fn for_istio_minor(minor: u32) -> MeshSettings {
        MeshSettings {
            max_ejection_rule: match minor {
                0..=18 => MaxEjectionRule::BeforeEjection,
                19 => MaxEjectionRule::FirstOrAfterEjection,
                _ => MaxEjectionRule::AfterEjection,
            },
            retry_503_by_default: minor <= 23,
            unready_endpoints: if minor <= 30 { UnreadyEndpoints::Drop } else { UnreadyEndpoints::SendUnhealthy },
            istio_minor: minor,
            ..MeshSettings::default()
        }
    }
}

/// Where the locality setting in force comes from (envoy-semantics §5.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbSettingSource {
    /// The DestinationRule's `localityLbSetting` (replaces the mesh setting entirely).
    DestinationRule,
    /// The DestinationRule sets `localityLbSetting.enabled: false`.
    DisabledByDestinationRule,
    /// The mesh `localityLbSetting` (built-in default `{enabled: true}`).
    MeshDefault,
    /// The mesh setting has `enabled: false`.
    DisabledByMesh,
}

/// The locality setting in force for a cluster, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveLbSetting {
    /// The setting applied; `None` when locality load balancing is off.
    pub setting: Option<LocalityLbSetting>,
    /// Which configuration decided.
    pub source: LbSettingSource,
}

/// `GetLocalityLbSetting`: the DR setting if present (none when it says `enabled: false`),
/// otherwise the mesh setting (none when it says `enabled: false`). Kubernetes
/// `trafficDistribution` (between the two) is applied by `model::build::cluster_and_control`;
/// zone-aware settings are not modelled.
pub fn effective_lb_setting(tp: Option<&TrafficPolicy>, mesh: &MeshSettings) -> EffectiveLbSetting {
    let dr = tp.and_then(|tp| tp.load_balancer.as_ref()).and_then(|lb| lb.locality_lb_setting.as_ref());
    match dr {
        Some(s) if s.enabled == Some(false) => {
            EffectiveLbSetting { setting: None, source: LbSettingSource::DisabledByDestinationRule }
        }
        Some(s) => EffectiveLbSetting { setting: Some(s.clone()), source: LbSettingSource::DestinationRule },
        None if mesh.locality_lb_setting.enabled == Some(false) => {
            EffectiveLbSetting { setting: None, source: LbSettingSource::DisabledByMesh }
        }
        None => {
            EffectiveLbSetting { setting: Some(mesh.locality_lb_setting.clone()), source: LbSettingSource::MeshDefault }
        }
    }
}

/// `applyLocalityLoadBalancer`: `locality_weighted_lb_config` is set iff the flag is on, or
/// failover is enabled and `failover`/`failoverPriority` is non-empty, or `distribute` is
/// non-empty (envoy-semantics §5.4.3).
pub fn locality_weighted(setting: Option<&LocalityLbSetting>, enable_failover: bool, mesh: &MeshSettings) -> bool {
    needs_locality_weighted_config(setting, enable_failover, mesh.enable_locality_weighted_lb_config)
}

/// Whether unready endpoints are sent to proxies as UNHEALTHY for this service (§5.5): under
/// [`UnreadyEndpoints::SendUnhealthy`], unless the DR's `minHealthPercent` > 0.
pub fn sends_unhealthy_endpoints(tp: Option<&TrafficPolicy>, mesh: &MeshSettings) -> bool {
    match mesh.unready_endpoints {
        UnreadyEndpoints::Drop => false,
        UnreadyEndpoints::SendUnhealthy => {
            let min_health =
                tp.and_then(|tp| tp.outlier_detection.as_ref()).and_then(|od| od.min_health_percent).unwrap_or(0);
            min_health <= 0
        }
    }
}

/// Merges a DestinationRule's policies for one subset and port, as Istio's
/// `MergeSubsetTrafficPolicy` (`pilot/pkg/networking/util/util.go`) does:
///
/// 1. `GetPortLevelTrafficPolicy` on the top-level policy: a `portLevelSettings` entry for the
///    port *replaces* the whole policy ("port level policies do not inherit and instead [fall
///    back] to defaults if not provided", `shadowCopyPortTrafficPolicy`): only the entry's
///    `connectionPool`, `loadBalancer`, `outlierDetection` and `tls` remain.
/// 2. The same on the subset's policy (`hasPortLevel` when an entry matched).
/// 3. `mergeTrafficPolicy`: each of the four blocks the subset's policy sets replaces the
///    top-level one; when the subset's port-level entry matched, all four are the entry's, set
///    or not. `tunnel` and `proxyProtocol` come from the subset when it sets them.
///
/// `retryBudget` (a newer field) follows the subset when it sets one, and is dropped with the
/// rest when a port-level entry replaces a policy, as the shallow copies above carry only the
/// listed fields.
pub fn merged_traffic_policy(
    dr: &DestinationRuleSpec,
    subset: Option<&str>,
    port: Option<u32>,
) -> Option<TrafficPolicy> {
    let (original, _) = port_level_policy(dr.traffic_policy.as_ref(), port);
    let subset_tp = subset
        .and_then(|name| dr.subsets.iter().flatten().find(|s| s.name == name))
        .and_then(|s| s.traffic_policy.as_ref());
    let Some(subset_tp) = subset_tp else { return original };
    let (sub, has_port_level) = port_level_policy(Some(subset_tp), port);
    let sub = sub.expect("a policy in gives a policy out");
    let Some(mut merged) = original else { return Some(sub) };
    if sub.connection_pool.is_some() || has_port_level {
        merged.connection_pool = sub.connection_pool;
    }
    if sub.outlier_detection.is_some() || has_port_level {
        merged.outlier_detection = sub.outlier_detection;
    }
    if sub.load_balancer.is_some() || has_port_level {
        merged.load_balancer = sub.load_balancer;
    }
    if sub.tls.is_some() || has_port_level {
        merged.tls = sub.tls;
    }
    if sub.tunnel.is_some() {
        merged.tunnel = sub.tunnel;
    }
    if sub.proxy_protocol.is_some() {
        merged.proxy_protocol = sub.proxy_protocol;
    }
    if sub.retry_budget.is_some() {
        merged.retry_budget = sub.retry_budget;
    }
    Some(merged)
}

/// `GetPortLevelTrafficPolicy`: the policy's `portLevelSettings` entry for `port`, as a policy of
/// its own (nothing inherited), and `true`; else the policy without its port-level settings, and
/// `false`.
fn port_level_policy(tp: Option<&TrafficPolicy>, port: Option<u32>) -> (Option<TrafficPolicy>, bool) {
    let Some(tp) = tp else { return (None, false) };
    let entry = port.and_then(|port| {
        tp.port_level_settings.iter().flatten().find(|p| p.port.as_ref().and_then(|p| p.number) == Some(port))
    });
    match entry {
        Some(p) => (
            Some(TrafficPolicy {
                load_balancer: p.load_balancer.clone(),
                connection_pool: p.connection_pool.clone(),
                outlier_detection: p.outlier_detection.clone(),
                tls: p.tls.clone(),
                ..TrafficPolicy::default()
            }),
            true,
        ),
        None => {
            let mut out = tp.clone();
            out.port_level_settings = None;
            (Some(out), false)
        }
    }
}

/// The Envoy cluster one proxy receives for a service whose (merged) DR traffic policy is `tp`.
///
/// Panic threshold (§5.2): `minHealthPercent` (default 0) when outlier detection is present;
/// otherwise 0 when the service sends unready endpoints as unhealthy (Istio 1.31 default, as
/// `applyLoadBalancer` disables panic whenever unhealthy endpoints are sent), else Envoy's 50.
/// The algorithm, slow start and consistent hashing follow `lb_policy`. `PASSTHROUGH` is not
/// simulated and falls back to LEAST_REQUEST.
pub fn cluster_config(tp: Option<&TrafficPolicy>, mesh: &MeshSettings) -> ClusterConfig {
    let od = tp.and_then(|tp| tp.outlier_detection.as_ref());
    let outlier = od.map(|od| outlier_config(od, mesh));
    let send_unhealthy = sends_unhealthy_endpoints(tp, mesh);
    let healthy_panic_threshold = match od {
        Some(_) if send_unhealthy => 0,
        Some(od) => od.min_health_percent.unwrap_or(0).clamp(0, 100) as u32,
        None if send_unhealthy => 0,
        None => LbConfig::default().healthy_panic_threshold,
    };
    let effective = effective_lb_setting(tp, mesh);
    let (policy, slow_start) = super::lb_policy::policy_and_slow_start(tp.and_then(|tp| tp.load_balancer.as_ref()));
    let lb = LbConfig {
        policy,
        slow_start,
        healthy_panic_threshold,
        locality_weighted: locality_weighted(effective.setting.as_ref(), od.is_some(), mesh),
        ..LbConfig::default()
    };
    let pool = tp.and_then(|tp| tp.connection_pool.as_ref());
    let mut circuit_breakers = circuit_breakers(pool);
    if let Some(b) = tp.and_then(|tp| tp.retry_budget.as_ref()) {
        circuit_breakers.retry_budget = Some(RetryBudget {
            budget_percent: b.percent.map(|p| p.clamp(0.0, 100.0).round() as u32).unwrap_or(20),
            min_retry_concurrency: b.min_retry_concurrency.unwrap_or(3),
        });
    }
    let connect_timeout =
        pool.and_then(|p| p.tcp.as_ref()).and_then(|t| t.connect_timeout).map(|d| d.0).unwrap_or(mesh.connect_timeout);
    let http = pool.and_then(|p| p.http.as_ref());
    // `applyConnectionPool`: `maxRequestsPerConnection` applies when > 0; `h2UpgradePolicy:
    // UPGRADE` makes the upstream connection HTTP/2 (`setH2Options` via the protocol options).
    let max_requests_per_connection =
        http.and_then(|h| h.max_requests_per_connection).filter(|&v| v > 0).map_or(0, |v| v as u32);
    let h2_upgrade = http.and_then(|h| h.h2_upgrade_policy.as_deref()) == Some("UPGRADE");
    // `applyConnectionPool`: `http.idleTimeout`, else `tcp.idleTimeout`, becomes the cluster's HTTP
    // `idle_timeout` (Envoy's default one hour; 0 disables it); `tcp.maxConnectionDuration` its
    // `max_connection_duration`.
    let tcp = pool.and_then(|p| p.tcp.as_ref());
    let idle_timeout = match http.and_then(|h| h.idle_timeout).or(tcp.and_then(|t| t.idle_timeout)) {
        None => Some(SimDuration::from_secs(3600)),
        Some(d) if d.0.is_zero() => None,
        Some(d) => Some(d.0),
    };
    let max_connection_duration = tcp.and_then(|t| t.max_connection_duration).map(|d| d.0).filter(|d| !d.is_zero());
    ClusterConfig {
        outlier,
        lb,
        circuit_breakers,
        connect_timeout,
        max_requests_per_connection,
        idle_timeout,
        max_connection_duration,
        h2_upgrade,
    }
}

/// `applyOutlierDetection` (envoy-semantics §5.1).
pub fn outlier_config(od: &OutlierDetection, mesh: &MeshSettings) -> OutlierConfig {
    let enforce = |v: u32| if v > 0 { 100 } else { 0 };
    let mut out = OutlierConfig {
        enforcing_success_rate: 0,
        max_ejection_rule: mesh.max_ejection_rule,
        ..OutlierConfig::default()
    };
    if let Some(v) = od.consecutive_5xx_errors {
        out.consecutive_5xx = v;
        out.enforcing_consecutive_5xx = enforce(v);
    }
    if let Some(v) = od.consecutive_gateway_errors {
        out.consecutive_gateway_failure = v;
        out.enforcing_consecutive_gateway_failure = enforce(v);
    }
    if let Some(d) = od.interval {
        out.interval = d.0;
    }
    if let Some(d) = od.base_ejection_time {
        out.base_ejection_time = d.0;
    }
    // Istio never sets `max_ejection_time`, so Envoy's default applies: the larger of 300 s and
    // the base (`DetectorConfig` in `source/common/upstream/outlier_detection_impl.cc`).
    out.max_ejection_time = default_max_ejection_time(out.base_ejection_time);
    if let Some(p) = od.max_ejection_percent
        && p > 0
    {
        out.max_ejection_percent = p.min(100) as u32;
    }
    if od.split_external_local_origin_errors == Some(true) {
        out.split_external_local_origin_errors = true;
        if let Some(v) = od.consecutive_local_origin_failures.filter(|&v| v > 0) {
            out.consecutive_local_origin_failure = v;
            out.enforcing_consecutive_local_origin_failure = 100;
        }
        out.enforcing_local_origin_success_rate = 0;
    }
    out
}

/// Envoy's `max_ejection_time` when the cluster does not set it: `max(300 s, base_ejection_time)`
/// (`DetectorConfig`, `source/common/upstream/outlier_detection_impl.cc`).
pub fn default_max_ejection_time(base: SimDuration) -> SimDuration {
    OutlierConfig::default().max_ejection_time.max(base)
}

/// `applyConnectionPool` thresholds: values > 0 apply, everything else is 2^32−1 (§5.3).
fn circuit_breakers(pool: Option<&ConnectionPoolSettings>) -> CircuitBreakers {
    let mut cb = CircuitBreakers::istio_unlimited();
    let positive = |v: Option<i32>| v.filter(|&v| v > 0).map(|v| v as u32);
    if let Some(http) = pool.and_then(|p| p.http.as_ref()) {
        if let Some(v) = positive(http.http2_max_requests) {
            cb.max_requests = v;
        }
        if let Some(v) = positive(http.http1_max_pending_requests) {
            cb.max_pending_requests = v;
        }
        if let Some(v) = positive(http.max_retries) {
            cb.max_retries = v;
        }
    }
    if let Some(v) = positive(pool.and_then(|p| p.tcp.as_ref()).and_then(|t| t.max_connections)) {
        cb.max_connections = v;
    }
    cb
}

/// The default route retry condition list (`retry.go` `defaultPolicy`).
pub const DEFAULT_RETRY_ON: &str = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// Istio's built-in default retry policy (§5.8); 503 is retriable only with
/// [`MeshSettings::retry_503_by_default`] (Istio ≤ 1.23).
pub fn default_retry_policy(mesh: &MeshSettings) -> RetryPolicy {
    RetryPolicy {
        num_retries: 2,
        retry_on: parse_retry_on_conditions(DEFAULT_RETRY_ON),
        retry_on_text: DEFAULT_RETRY_ON.to_string(),
        retriable_status_codes: if mesh.retry_503_by_default { vec![503] } else { vec![] },
        per_try_timeout: None,
        host_selection_retry_max_attempts: 5,
        previous_hosts: true,
        previous_priorities_update_frequency: None,
        backoff_base: SimDuration::from_millis(25),
        backoff_max: SimDuration::from_millis(250),
    }
}

/// `ConvertPolicy`: `None` → the default policy; `attempts <= 0` → no retries; otherwise the
/// default policy with the fields the VirtualService sets (§5.8). Consistent-hash routes (which
/// drop `previous_hosts`) are not modelled.
pub fn retry_policy(retry: Option<&HttpRetry>, mesh: &MeshSettings) -> Option<RetryPolicy> {
    let mut out = default_retry_policy(mesh);
    let Some(r) = retry else { return Some(out) };
    if r.attempts <= 0 {
        return None;
    }
    out.num_retries = r.attempts as u32;
    if let Some(text) = r.retry_on.as_deref().filter(|t| !t.is_empty()) {
        let (mut conditions, codes) = split_retry_on(text);
        if !codes.is_empty() && !conditions.contains("retriable-status-codes") {
            conditions.push_str(",retriable-status-codes");
        }
        out.retry_on = parse_retry_on_conditions(&conditions);
        out.retry_on_text = conditions;
        out.retriable_status_codes = codes;
    }
    if let Some(d) = r.per_try_timeout {
        out.per_try_timeout = Some(d.0);
    }
    if let Some(keep) = r.retry_ignore_previous_hosts {
        out.previous_hosts = keep;
    }
    if r.retry_remote_localities == Some(true) {
        out.previous_priorities_update_frequency = Some(2);
    }
    if let Some(d) = r.backoff {
        // Envoy: max defaults to 10 × base when only the base is given.
        out.backoff_base = d.0;
        out.backoff_max = d.0.saturating_mul(10);
    }
    Some(out)
}

/// `parseRetryOn`: splits on commas, trims, and moves integers that are valid HTTP status codes
/// (Go's `http.StatusText` is non-empty) into the code list. Returns the remaining conditions
/// joined by commas, and the codes.
pub fn split_retry_on(text: &str) -> (String, Vec<u16>) {
    let mut conditions = Vec::new();
    let mut codes = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<u16>() {
            Ok(code) if is_known_http_status(code) => codes.push(code),
            _ => conditions.push(part),
        }
    }
    (conditions.join(","), codes)
}

/// Envoy's `retry_on` conditions this simulator distinguishes; unknown ones are ignored.
pub fn parse_retry_on_conditions(text: &str) -> RetryOn {
    let mut on = RetryOn::default();
    for part in text.split(',').map(str::trim) {
        match part {
            "5xx" => on.five_xx = true,
            "gateway-error" => on.gateway_error = true,
            "reset" => on.reset = true,
            "reset-before-request" => on.reset_before_request = true,
            "connect-failure" => on.connect_failure = true,
            "refused-stream" => on.refused_stream = true,
            "retriable-4xx" => on.retriable_4xx = true,
            "retriable-status-codes" => on.retriable_status_codes = true,
            "cancelled" | "deadline-exceeded" | "internal" | "resource-exhausted" | "unavailable" => on.grpc = true,
            _ => {}
        }
    }
    on
}

/// Status codes with a Go `http.StatusText` (net/http `status.go`).
pub fn is_known_http_status(code: u16) -> bool {
    matches!(code,
        100..=103 | 200..=208 | 226 | 300..=305 | 307 | 308 | 400..=418 | 421..=426 | 428 | 429
        | 431 | 451 | 500..=508 | 510 | 511)
}

/// The route settings for one VirtualService HTTP route; `None` (no VirtualService) gets the
/// default retry policy and no timeout, as pilot's default route does.
pub fn route_config(route: Option<&HttpRoute>, mesh: &MeshSettings) -> RouteConfig {
    RouteConfig {
        timeout: route.and_then(|r| r.timeout).map(|d| d.0).filter(|d| !d.is_zero()),
        retry: retry_policy(route.and_then(|r| r.retries.as_ref()), mesh),
        hash_policy: None,
        fault: route.and_then(|r| r.fault.as_ref()).and_then(fault_injection),
    }
}

/// Istio's `TranslateFault` (`pilot/pkg/networking/core/route/route.go`): `percentage` becomes a
/// fraction of a million (`value × 10000`, truncated); without it the deprecated integer
/// `percent` is a fraction of a hundred (0 when absent, so such a delay never fires). An abort
/// without `percentage` gets Envoy's empty `FractionalPercent`, 0 %: it never fires (the lint
/// `fault-abort-without-percentage` says so). A `grpcStatus` abort answers a plain HTTP request
/// with the status's HTTP equivalent. `None` when neither a delay nor an abort remains.
pub fn fault_injection(f: &super::manifest::HttpFaultInjection) -> Option<FaultInjection> {
    let million = |p: f64| FractionalPercent { numerator: (p * 10000.0) as u32, denominator: 1_000_000 };
    let delay = f.delay.as_ref().and_then(|d| {
        let percentage = match &d.percentage {
            Some(p) => million(p.value),
            None => FractionalPercent { numerator: d.percent.unwrap_or(0).max(0) as u32, denominator: 100 },
        };
        d.fixed_delay.map(|fixed| FaultDelay { fixed_delay: fixed.0, percentage })
    });
    let abort = f.abort.as_ref().and_then(|a| {
        let percentage =
            a.percentage.as_ref().map_or(FractionalPercent { numerator: 0, denominator: 100 }, |p| million(p.value));
        let http_status = match (a.http_status, a.grpc_status.as_deref()) {
            (Some(code), _) => u16::try_from(code).ok()?,
            (None, Some(grpc)) => grpc_to_http_status(grpc)?,
            (None, None) => return None,
        };
        Some(FaultAbort { http_status, percentage })
    });
    (delay.is_some() || abort.is_some()).then_some(FaultInjection { delay, abort })
}

/// Envoy's `Grpc::Utility::grpcToHttpStatus` (`source/common/grpc/status.cc`) for the gRPC code
/// names Istio accepts; `None` for an unknown name (validation rejects it first).
pub fn grpc_to_http_status(name: &str) -> Option<u16> {
    Some(match name {
        "OK" => 200,
        "CANCELLED" => 499,
        "UNKNOWN" => 500,
        "INVALID_ARGUMENT" => 400,
        "DEADLINE_EXCEEDED" => 504,
        "NOT_FOUND" => 404,
        "ALREADY_EXISTS" => 409,
        "PERMISSION_DENIED" => 403,
        "RESOURCE_EXHAUSTED" => 429,
        "FAILED_PRECONDITION" => 400,
        "ABORTED" => 409,
        "OUT_OF_RANGE" => 400,
        "UNIMPLEMENTED" => 501,
        "INTERNAL" => 500,
        "UNAVAILABLE" => 503,
        "DATA_LOSS" => 500,
        "UNAUTHENTICATED" => 401,
        _ => return None,
    })
}

/// The kind of client proxy a VirtualService may be bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientProxy<'a> {
    /// A sidecar: bound by `gateways` empty or containing `mesh`.
    Sidecar,
    /// A gateway deployment selected by the Gateway resource `namespace/name`.
    Gateway {
        /// The Gateway resource's name.
        name: &'a str,
        /// The Gateway resource's namespace.
        namespace: &'a str,
    },
}

/// Whether a VirtualService (in namespace `vs_namespace`) applies to `client`. A gateway entry
/// is `name` (same namespace as the VirtualService) or `namespace/name`; `mesh` means sidecars;
/// an empty list means `mesh` only.
pub fn virtual_service_applies(vs: &VirtualServiceSpec, vs_namespace: &str, client: ClientProxy<'_>) -> bool {
    let gateways = vs.gateways.as_deref().unwrap_or(&[]);
    match client {
        ClientProxy::Sidecar => gateways.is_empty() || gateways.iter().any(|g| g == "mesh"),
        ClientProxy::Gateway { name, namespace } => gateways.iter().any(|g| {
            let (ns, n) = g.split_once('/').unwrap_or((vs_namespace, g.as_str()));
            n == name && ns == namespace
        }),
    }
}

/// The first HTTP route of `vs` with a destination for `host`, matching the FQDN exactly or by
/// its short name (first label). Request matching (`match`) is not modelled: the first such
/// route carries every request.
pub fn route_for_host<'a>(vs: &'a VirtualServiceSpec, host: &str) -> Option<&'a HttpRoute> {
    let short = host.split('.').next().unwrap_or(host);
    vs.http
        .iter()
        .flatten()
        .find(|r| r.route.iter().flatten().any(|d| d.destination.host == host || d.destination.host == short))
}

/// The endpoint assignment one proxy receives for a service whose merged DR traffic policy is
/// `tp`: the effective locality setting, failover on iff `outlierDetection` is present, unready
/// endpoints per [`sends_unhealthy_endpoints`], and the mesh flag.
pub fn assignment_for(
    tp: Option<&TrafficPolicy>,
    mesh: &MeshSettings,
    proxy: &ProxyMeta,
    endpoints: &[IstioEndpoint],
    gateways: &[EastWestGateway],
) -> Assignment {
    let effective = effective_lb_setting(tp, mesh);
    let opts = AssignOptions {
        setting: effective.setting.as_ref(),
        enable_failover: tp.is_some_and(|tp| tp.outlier_detection.is_some()),
        send_unhealthy: sends_unhealthy_endpoints(tp, mesh),
        locality_weighted_flag: mesh.enable_locality_weighted_lb_config,
        gateways,
    };
    assign_endpoints(proxy, endpoints, &opts)
}
