//! The knobs the teaching page shows, as data: each is a dotted scenario path (the same paths
//! `meshsim run --set` takes) with its Istio default and meaning. The page draws one control per
//! knob from `GET /api/knobs`, so a new scenario field becomes a knob by adding a row here.

use serde::Serialize;

/// How a knob is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A whole number (a slider between `min` and `max`).
    Int,
    /// A real number (a slider).
    Float,
    /// A Go duration such as `"30s"` (a slider over seconds, sent as a string).
    Duration,
    /// One of `options`.
    Choice,
    /// On or off.
    Bool,
    /// A JSON value typed in a text box (lists such as `distribute`).
    Json,
}

/// One knob.
#[derive(Debug, Clone, Serialize)]
pub struct Knob {
    /// The dotted scenario path, as for `--set`.
    pub path: &'static str,
    /// Group heading on the page.
    pub group: &'static str,
    /// Short label (Istio's field name).
    pub label: &'static str,
    /// How it is edited.
    pub kind: Kind,
    /// The value Istio (or Envoy, or meshsim for scenario fields) uses when the field is unset,
    /// as text.
    pub default: &'static str,
    /// What it does, in one or two sentences.
    pub meaning: &'static str,
    /// Slider bounds and step (in seconds for durations); unused for other kinds.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// Step.
    pub step: f64,
    /// Allowed values of a choice.
    pub options: &'static [&'static str],
}

const fn knob(
    path: &'static str,
    group: &'static str,
    label: &'static str,
    kind: Kind,
    default: &'static str,
    meaning: &'static str,
) -> Knob {
    Knob { path, group, label, kind, default, meaning, min: 0.0, max: 0.0, step: 1.0, options: &[] }
}

const fn range(mut k: Knob, min: f64, max: f64, step: f64) -> Knob {
    k.min = min;
    k.max = max;
    k.step = step;
    k
}

const fn choice(mut k: Knob, options: &'static [&'static str]) -> Knob {
    k.options = options;
    k
}

macro_rules! od {
    ($field:literal) => {
        concat!("policy.destination_rule.trafficPolicy.outlierDetection.", $field)
    };
}
macro_rules! lb {
    ($field:literal) => {
        concat!("policy.destination_rule.trafficPolicy.loadBalancer.", $field)
    };
}
macro_rules! pool {
    ($field:literal) => {
        concat!("policy.destination_rule.trafficPolicy.connectionPool.", $field)
    };
}
macro_rules! envoy {
    ($field:literal) => {
        concat!("envoy_outlier.", $field)
    };
}
macro_rules! route {
    ($field:literal) => {
        concat!("policy.virtual_service.http[0].", $field)
    };
}

/// The group of Envoy's outlier-detection fields that Istio does not expose.
const ENVOY: &str = "Envoy outlier detection ([envoy_outlier])";

/// Every knob, in page order.
pub fn knobs() -> Vec<Knob> {
    use Kind::*;
    vec![
        range(
            knob(
                od!("consecutive5xxErrors"),
                "outlierDetection",
                "consecutive5xxErrors",
                Int,
                "5",
                "Consecutive 5xx answers (or connect failures) after which a proxy ejects a host; 0 turns this detector off.",
            ),
            0.0,
            20.0,
            1.0,
        ),
        range(
            knob(
                od!("consecutiveGatewayErrors"),
                "outlierDetection",
                "consecutiveGatewayErrors",
                Int,
                "0 (off)",
                "Consecutive 502/503/504 (or connect failures) after which a host is ejected; 0 turns it off.",
            ),
            0.0,
            20.0,
            1.0,
        ),
        range(
            knob(
                od!("interval"),
                "outlierDetection",
                "interval",
                Duration,
                "10s",
                "How often each proxy sweeps its hosts: ejected hosts return only at a sweep, so it rounds every ejection up.",
            ),
            0.1,
            30.0,
            0.1,
        ),
        range(
            knob(
                od!("baseEjectionTime"),
                "outlierDetection",
                "baseEjectionTime",
                Duration,
                "30s",
                "An ejection lasts this long times the host's ejection count (capped at 300 s), so a host that fails again stays out longer.",
            ),
            1.0,
            120.0,
            1.0,
        ),
        range(
            knob(
                od!("maxEjectionPercent"),
                "outlierDetection",
                "maxEjectionPercent",
                Int,
                "10",
                "At most this percentage of a proxy's hosts may be ejected at once; Istio's 10 % with few hosts can mean no ejection at all.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                od!("minHealthPercent"),
                "outlierDetection",
                "minHealthPercent",
                Int,
                "0",
                "Panic threshold: below this percentage of healthy hosts a priority ignores health and sends to all hosts, ejected ones included.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        knob(
            od!("splitExternalLocalOriginErrors"),
            "outlierDetection",
            "splitExternalLocalOriginErrors",
            Bool,
            "false",
            "Count connect failures and timeouts separately from HTTP answers (see consecutiveLocalOriginFailures).",
        ),
        range(
            knob(
                od!("consecutiveLocalOriginFailures"),
                "outlierDetection",
                "consecutiveLocalOriginFailures",
                Int,
                "5",
                "With the split on: consecutive local-origin failures (refused, reset, timed out) that eject a host.",
            ),
            0.0,
            20.0,
            1.0,
        ),
        knob(
            lb!("localityLbSetting.enabled"),
            "localityLbSetting",
            "enabled",
            Bool,
            "true (mesh)",
            "Locality-aware load balancing; false sends to every locality by host count.",
        ),
        knob(
            lb!("localityLbSetting.distribute"),
            "localityLbSetting",
            "distribute",
            Json,
            "unset",
            "Weights per destination locality for each source locality, e.g. [{\"from\":\"europe-west1/*\",\"to\":{\"europe-west1/*\":80,\"us-central1/*\":20}}].",
        ),
        knob(
            lb!("localityLbSetting.failover"),
            "localityLbSetting",
            "failover",
            Json,
            "unset (any other region)",
            "Which region takes over when a region fails, e.g. [{\"from\":\"europe-west1\",\"to\":\"us-central1\"}]. Needs outlierDetection.",
        ),
        knob(
            lb!("localityLbSetting.failoverPriority"),
            "localityLbSetting",
            "failoverPriority",
            Json,
            "unset",
            "Ordered labels that rank endpoints by how many they share with the client, e.g. [\"topology.kubernetes.io/region\"].",
        ),
        choice(
            knob(
                lb!("simple"),
                "loadBalancer",
                "simple",
                Choice,
                "LEAST_REQUEST",
                "How a proxy picks a host inside a locality.",
            ),
            &["LEAST_REQUEST", "ROUND_ROBIN", "RANDOM"],
        ),
        range(
            knob(
                lb!("warmup.duration"),
                "loadBalancer",
                "warmup.duration",
                Duration,
                "off",
                "Slow start (Istio 1.24+): a pod new to a proxy gets a share of its weight that grows over this window (ROUND_ROBIN and LEAST_REQUEST only); it ramps against the other pods of its locality, not between localities.",
            ),
            1.0,
            300.0,
            1.0,
        ),
        range(
            knob(
                lb!("warmup.aggression"),
                "loadBalancer",
                "warmup.aggression",
                Float,
                "1.0",
                "Shape of the ramp: the weight factor is (time in window / window)^(1/aggression); above 1 the ramp is faster early. Needs warmup.duration.",
            ),
            0.1,
            10.0,
            0.1,
        ),
        range(
            knob(
                lb!("warmup.minimumPercent"),
                "loadBalancer",
                "warmup.minimumPercent",
                Float,
                "10",
                "The least share of its weight a pod in warmup gets. Needs warmup.duration.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                lb!("warmupDurationSecs"),
                "loadBalancer",
                "warmupDurationSecs",
                Duration,
                "off",
                "The older slow-start field (Istio 1.14+): a linear ramp with a 10 % floor; warmup wins when both are set.",
            ),
            1.0,
            300.0,
            1.0,
        ),
        knob(
            lb!("consistentHash"),
            "loadBalancer",
            "consistentHash",
            Json,
            "unset",
            "Send each key to the same pod: RING_HASH or MAGLEV over a header, cookie, query parameter or source IP, e.g. {\"httpHeaderName\":\"x-user\",\"ringHash\":{\"minimumRingSize\":1024}} (the workload needs users; clear simple first).",
        ),
        range(
            knob(
                pool!("http.http2MaxRequests"),
                "connectionPool",
                "http.http2MaxRequests",
                Int,
                "unlimited (2^32-1)",
                "Requests in flight from one proxy to the service; beyond it requests fail at once with 503 overflow.",
            ),
            1.0,
            2000.0,
            1.0,
        ),
        range(
            knob(
                pool!("http.http1MaxPendingRequests"),
                "connectionPool",
                "http.http1MaxPendingRequests",
                Int,
                "unlimited (2^32-1)",
                "Requests that may wait for a connection (HTTP/1.1); beyond it: 503 overflow.",
            ),
            1.0,
            2000.0,
            1.0,
        ),
        range(
            knob(
                pool!("http.maxRetries"),
                "connectionPool",
                "http.maxRetries",
                Int,
                "unlimited (2^32-1)",
                "Retries in flight at once from one proxy; beyond it retries are skipped.",
            ),
            1.0,
            1000.0,
            1.0,
        ),
        range(
            knob(
                pool!("http.maxRequestsPerConnection"),
                "connectionPool",
                "http.maxRequestsPerConnection",
                Int,
                "unlimited (0)",
                "Requests per upstream connection before it is closed and a new one opened; through an east-west gateway it also re-picks the remote pod a connection is pinned to.",
            ),
            1.0,
            1000.0,
            1.0,
        ),
        range(
            knob(
                pool!("http.idleTimeout"),
                "connectionPool",
                "http.idleTimeout",
                Duration,
                "1h (Envoy)",
                "An upstream connection idle this long is closed; through an east-west gateway the next connection gets a new remote pod.",
            ),
            1.0,
            3600.0,
            1.0,
        ),
        range(
            knob(
                pool!("tcp.maxConnectionDuration"),
                "connectionPool",
                "tcp.maxConnectionDuration",
                Duration,
                "unlimited",
                "An upstream connection older than this is drained and replaced; through an east-west gateway that re-picks the remote pod.",
            ),
            1.0,
            600.0,
            1.0,
        ),
        range(
            knob(
                pool!("tcp.maxConnections"),
                "connectionPool",
                "tcp.maxConnections",
                Int,
                "unlimited (2^32-1)",
                "Connections from one proxy to the service.",
            ),
            1.0,
            2000.0,
            1.0,
        ),
        range(
            knob(
                pool!("tcp.connectTimeout"),
                "connectionPool",
                "tcp.connectTimeout",
                Duration,
                "10s (mesh)",
                "How long a connection attempt to an unresponsive pod may take before it counts as a connect failure.",
            ),
            0.1,
            30.0,
            0.1,
        ),
        range(
            knob(
                route!("retries.attempts"),
                "retries and timeouts",
                "retries.attempts",
                Int,
                "2 (Istio's default policy)",
                "Retries per request (the route's own policy replaces Istio's default).",
            ),
            0.0,
            10.0,
            1.0,
        ),
        range(
            knob(
                route!("retries.perTryTimeout"),
                "retries and timeouts",
                "retries.perTryTimeout",
                Duration,
                "none",
                "Time limit of each attempt; set retries.attempts with it.",
            ),
            0.01,
            10.0,
            0.01,
        ),
        choice(
            knob(
                route!("retries.retryOn"),
                "retries and timeouts",
                "retries.retryOn",
                Choice,
                "connect-failure,refused-stream,unavailable,cancelled",
                "Which failures are retried (Envoy conditions and status codes); set retries.attempts with it.",
            ),
            &[
                "connect-failure,refused-stream,unavailable,cancelled",
                "connect-failure,refused-stream,unavailable,cancelled,503",
                "5xx",
                "gateway-error",
                "connect-failure",
            ],
        ),
        knob(
            route!("retries.retryRemoteLocalities"),
            "retries and timeouts",
            "retries.retryRemoteLocalities",
            Bool,
            "false",
            "Retries may go to another priority (locality) than the one that failed.",
        ),
        range(
            knob(
                route!("timeout"),
                "retries and timeouts",
                "timeout",
                Duration,
                "none",
                "The whole request's time limit, retries included.",
            ),
            0.1,
            60.0,
            0.1,
        ),
        range(
            knob(
                route!("route[0].weight"),
                "routes",
                "route[0].weight",
                Int,
                "100 (a lone destination)",
                "Weight of the first destination of the first route (Envoy's weighted clusters): each request goes to a destination with probability weight / total weight.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                route!("route[1].weight"),
                "routes",
                "route[1].weight",
                Int,
                "none",
                "Weight of the second destination of the first route, e.g. the canary of a 90/10 split (weights are relative: they need not sum to 100).",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                route!("fault.abort.percentage.value"),
                "fault injection",
                "fault.abort.percentage",
                Float,
                "none",
                "Share of requests the client proxy answers itself with fault.abort.httpStatus, before routing: they never reach a pod, are never ejected for, never retried.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                route!("fault.abort.httpStatus"),
                "fault injection",
                "fault.abort.httpStatus",
                Int,
                "none",
                "The status of an injected abort; set fault.abort.percentage with it.",
            ),
            200.0,
            599.0,
            1.0,
        ),
        range(
            knob(
                route!("fault.delay.fixedDelay"),
                "fault injection",
                "fault.delay.fixedDelay",
                Duration,
                "none",
                "Delay the client proxy adds before routing (the route timeout starts after it); set fault.delay.percentage with it.",
            ),
            0.001,
            10.0,
            0.001,
        ),
        range(
            knob(
                route!("fault.delay.percentage.value"),
                "fault injection",
                "fault.delay.percentage",
                Float,
                "none",
                "Share of requests delayed by fault.delay.fixedDelay.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        // Envoy's own outlier-detection fields, which Istio does not expose (the scenario's
        // `[envoy_outlier]`): defaults from `outlier_detection_impl.h` (envoy-semantics §1.1), and
        // where Istio's translation sets the field (§7), what it sets.
        range(
            knob(
                envoy!("enforcing_consecutive_5xx"),
                ENVOY,
                "enforcing_consecutive_5xx",
                Int,
                "100 (Istio: 100 when consecutive5xxErrors > 0, else 0)",
                "Percent chance that a host found by the consecutive-5xx detector is really ejected.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                envoy!("enforcing_consecutive_gateway_failure"),
                ENVOY,
                "enforcing_consecutive_gateway_failure",
                Int,
                "0 (Istio: 100 when consecutiveGatewayErrors > 0)",
                "Percent chance that a host found by the consecutive-gateway-failure detector is ejected; Envoy's 0 means detected, never enforced.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                envoy!("enforcing_success_rate"),
                ENVOY,
                "enforcing_success_rate",
                Int,
                "0 (Istio sets it; Envoy's own default is 100)",
                "Percent chance of ejecting a host whose success rate falls below the mean minus success_rate_stdev_factor / 1000 standard deviations, checked every interval.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                envoy!("success_rate_minimum_hosts"),
                ENVOY,
                "success_rate_minimum_hosts",
                Int,
                "5",
                "The success-rate detector runs only when at least this many hosts have success_rate_request_volume requests in the interval.",
            ),
            0.0,
            20.0,
            1.0,
        ),
        range(
            knob(
                envoy!("success_rate_request_volume"),
                ENVOY,
                "success_rate_request_volume",
                Int,
                "100",
                "Requests a host needs in one interval to count in the success-rate statistics.",
            ),
            0.0,
            1000.0,
            10.0,
        ),
        range(
            knob(
                envoy!("success_rate_stdev_factor"),
                ENVOY,
                "success_rate_stdev_factor",
                Int,
                "1900",
                "Standard deviations below the mean, × 1000, at which a host's success rate is an outlier (1900: 1.9).",
            ),
            0.0,
            5000.0,
            100.0,
        ),
        range(
            knob(
                envoy!("enforcing_failure_percentage"),
                ENVOY,
                "enforcing_failure_percentage",
                Int,
                "0",
                "Percent chance of ejecting a host whose failure rate in the interval reaches failure_percentage_threshold; 0 turns this detector off.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                envoy!("failure_percentage_threshold"),
                ENVOY,
                "failure_percentage_threshold",
                Int,
                "85",
                "Failure percentage at or above which the failure-percentage detector ejects a host.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                envoy!("failure_percentage_minimum_hosts"),
                ENVOY,
                "failure_percentage_minimum_hosts",
                Int,
                "5",
                "The failure-percentage detector runs only when at least this many hosts have failure_percentage_request_volume requests in the interval.",
            ),
            0.0,
            20.0,
            1.0,
        ),
        range(
            knob(
                envoy!("failure_percentage_request_volume"),
                ENVOY,
                "failure_percentage_request_volume",
                Int,
                "50",
                "Requests a host needs in one interval for the failure-percentage detector to judge it.",
            ),
            0.0,
            1000.0,
            10.0,
        ),
        range(
            knob(
                envoy!("max_ejection_time"),
                ENVOY,
                "max_ejection_time",
                Duration,
                "max(300s, baseEjectionTime)",
                "Cap on an ejection's length, base × multiplier; Envoy rejects a value below baseEjectionTime.",
            ),
            1.0,
            1200.0,
            1.0,
        ),
        range(
            knob(
                envoy!("max_ejection_time_jitter"),
                ENVOY,
                "max_ejection_time_jitter",
                Duration,
                "0s",
                "Each ejection lasts a random extra 0 to this long, drawn once per ejection.",
            ),
            0.0,
            60.0,
            0.1,
        ),
        knob(
            envoy!("always_eject_one_host"),
            ENVOY,
            "always_eject_one_host",
            Bool,
            "false",
            "Eject one host even when max_ejection_percent allows none (Envoy ≥ 1.31).",
        ),
        range(
            knob(
                envoy!("enforcing_consecutive_local_origin_failure"),
                ENVOY,
                "enforcing_consecutive_local_origin_failure",
                Int,
                "100",
                "With splitExternalLocalOriginErrors: percent chance that a host with consecutive local-origin failures (connect failures, resets) is ejected.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                envoy!("enforcing_local_origin_success_rate"),
                ENVOY,
                "enforcing_local_origin_success_rate",
                Int,
                "100 (Istio: 0 with splitExternalLocalOriginErrors)",
                "With splitExternalLocalOriginErrors: percent chance of ejecting a host by its local-origin success rate.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                envoy!("enforcing_failure_percentage_local_origin"),
                ENVOY,
                "enforcing_failure_percentage_local_origin",
                Int,
                "0",
                "With splitExternalLocalOriginErrors: percent chance of ejecting a host by its local-origin failure percentage.",
            ),
            0.0,
            100.0,
            1.0,
        ),
        range(
            knob(
                "workload[0].rate",
                "load and version",
                "request rate",
                Float,
                "the scenario's",
                "Requests per second arriving at the first client proxy group.",
            ),
            10.0,
            5000.0,
            10.0,
        ),
        choice(
            knob(
                "mesh.istio_version",
                "load and version",
                "Istio version",
                Choice,
                "1.31",
                "Sets how maxEjectionPercent is enforced (≤ 1.18, 1.19, ≥ 1.20), whether 503 is retried by default (≤ 1.23) and whether unready pods are sent (≥ 1.31).",
            ),
            &["1.18", "1.19", "1.20", "1.22", "1.23", "1.24", "1.28", "1.30", "1.31"],
        ),
    ]
}

/// What shadows a knob in scenario `s`: a knob edits the DestinationRule's top-level
/// `trafficPolicy`, but Istio merges a cluster's policy block by block, top level, then
/// port-level, then the subset's, then the subset's port-level (`MergeSubsetTrafficPolicy`,
/// `pilot/pkg/networking/core/cluster_traffic_policy.go`): when a later layer sets the knob's
/// block (`outlierDetection`, `loadBalancer`, `connectionPool`) for the cluster a group's route
/// uses, that block is in force whole and the knob changes nothing there. The answer names the
/// block and the groups, e.g. ``subsets[name=v1].trafficPolicy.outlierDetection (route of
/// `ingress`)``; `None` when every group's cluster takes the knob's block from the top level.
pub fn shadowed_by(s: &crate::scenario::Scenario, path: &str) -> Option<String> {
    let rest = path.strip_prefix("policy.destination_rule.trafficPolicy.")?;
    let block = rest.split('.').next()?;
    let sets = |od: bool, lb: bool, cp: bool| match block {
        "outlierDetection" => od,
        "loadBalancer" => lb,
        "connectionPool" => cp,
        _ => false,
    };
    let port_sets = |p: &crate::istio::manifest::PortTrafficPolicy| {
        sets(p.outlier_detection.is_some(), p.load_balancer.is_some(), p.connection_pool.is_some())
    };
    // (shadowing block, groups whose route cluster it is in force for), in group order.
    let mut found: Vec<(String, Vec<&str>)> = Vec::new();
    for g in &s.proxy_groups {
        let Some(dr) = g.selection.destination_rule.as_ref() else { continue };
        let spec = &dr.spec;
        let subset = crate::explain::settings::route_subset(&g.selection)
            .and_then(|name| spec.subsets.iter().flatten().find(|x| x.name == name));
        let sub_tp = subset.and_then(|x| x.traffic_policy.as_ref());
        let by = if let Some(tp) = sub_tp
            && let Some(i) = tp.port_level_settings.iter().flatten().position(port_sets)
        {
            Some(format!("subsets[name={}].trafficPolicy.portLevelSettings[{i}].{block}", subset?.name))
        } else if let Some(tp) = sub_tp
            && sets(tp.outlier_detection.is_some(), tp.load_balancer.is_some(), tp.connection_pool.is_some())
        {
            Some(format!("subsets[name={}].trafficPolicy.{block}", subset?.name))
        } else {
            spec.traffic_policy
                .as_ref()
                .and_then(|tp| tp.port_level_settings.iter().flatten().position(port_sets))
                .map(|i| format!("trafficPolicy.portLevelSettings[{i}].{block}"))
        };
        let Some(by) = by else { continue };
        match found.iter_mut().find(|(b, _)| *b == by) {
            Some((_, groups)) => groups.push(&g.name),
            None => found.push((by, vec![&g.name])),
        }
    }
    if found.is_empty() {
        return None;
    }
    let parts: Vec<String> = found
        .iter()
        .map(|(by, groups)| {
            let names: Vec<String> = groups.iter().map(|n| format!("`{n}`")).collect();
            format!("{by} (route of {})", names.join(", "))
        })
        .collect();
    Some(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Envoy knob's key is accepted by `--set` on the seed lab (which has no
    /// `[envoy_outlier]` table) and changes the outlier detection in force: each is set to a value
    /// its default is not (the middle of its range, the top for durations, `true`).
    #[test]
    fn every_envoy_knob_is_a_set_key_that_changes_outlier_detection() {
        let lab = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/seed-failover-503.toml");
        let outlier = |sets: &[String]| {
            let s = crate::scenario::load(&lab, sets).unwrap_or_else(|e| panic!("{sets:?}: {e}"));
            let tp = s.proxy_groups[0].selection.traffic_policy();
            crate::model::build::cluster_and_control(&s, tp).0.outlier.expect("outlier detection")
        };
        let base = outlier(&[]);
        let envoy: Vec<Knob> = knobs().into_iter().filter(|k| k.group == ENVOY).collect();
        assert_eq!(envoy.len(), 16);
        for k in envoy {
            assert!(k.path.starts_with("envoy_outlier."), "{}", k.path);
            let value = match k.kind {
                Kind::Int => format!("{}", ((k.min + k.max) / 2.0).round()),
                Kind::Duration => format!("\"{}s\"", k.max),
                Kind::Bool => "true".to_string(),
                other => panic!("{}: {other:?}", k.path),
            };
            let set = format!("{}={value}", k.path);
            assert_ne!(outlier(std::slice::from_ref(&set)), base, "{set} changed nothing");
        }
    }

    #[test]
    fn every_knob_path_parses_and_is_unique() {
        let ks = knobs();
        let mut paths: Vec<&str> = ks.iter().map(|k| k.path).collect();
        for p in &paths {
            crate::scenario::overrides::parse_path(p).unwrap();
        }
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), ks.len());
        for k in &ks {
            assert!(k.kind != Kind::Choice || !k.options.is_empty(), "{} has no options", k.path);
            assert!(matches!(k.kind, Kind::Bool | Kind::Json | Kind::Choice) || k.min < k.max, "{}", k.path);
        }
    }
}
