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

/// The policy blocks a knob can be about: `trafficPolicy.BLOCK.FIELD...`.
const BLOCKS: [&str; 3] = ["outlierDetection", "loadBalancer", "connectionPool"];

/// Where Istio takes a cluster's `block` from, as a path inside the DestinationRule's spec, by
/// `MergeSubsetTrafficPolicy` (`pilot/pkg/networking/util/util.go`; the merge itself is
/// `istio::translate::merged_traffic_policy`): the subset's `portLevelSettings` entry for the
/// cluster's port when there is one (it replaces every block, set or not), else the subset's own
/// block when it sets it, else the top-level entry for the port (which also replaces every
/// block), else the top-level block. `subset` is the cluster's subset (`None`: the default
/// cluster); a subset the rule does not define has no cluster (`None`).
fn block_in_force(
    spec: &crate::istio::manifest::DestinationRuleSpec,
    subset: Option<&str>,
    port: u32,
    block: &str,
) -> Option<(String, String)> {
    let sets = |od: bool, lb: bool, cp: bool| match block {
        "outlierDetection" => od,
        "loadBalancer" => lb,
        _ => cp,
    };
    let entry = |tp: &crate::istio::manifest::TrafficPolicy| {
        tp.port_level_settings.iter().flatten().position(|p| p.port.as_ref().and_then(|p| p.number) == Some(port))
    };
    if let Some(name) = subset {
        let i = spec.subsets.iter().flatten().position(|x| x.name == name)?;
        let both = |tail: String| (format!("subsets[{i}].{tail}"), format!("subsets[name={name}].{tail}"));
        if let Some(tp) = spec.subsets.iter().flatten().nth(i).and_then(|x| x.traffic_policy.as_ref()) {
            if let Some(j) = entry(tp) {
                return Some(both(format!("trafficPolicy.portLevelSettings[{j}].{block}")));
            }
            if sets(tp.outlier_detection.is_some(), tp.load_balancer.is_some(), tp.connection_pool.is_some()) {
                return Some(both(format!("trafficPolicy.{block}")));
            }
        }
    }
    let top = match spec.traffic_policy.as_ref().and_then(entry) {
        Some(j) => format!("trafficPolicy.portLevelSettings[{j}].{block}"),
        None => format!("trafficPolicy.{block}"),
    };
    Some((top.clone(), top))
}

/// For a knob about a DestinationRule block (`policy.destination_rule.trafficPolicy.BLOCK...`):
/// the block in force (a path in the rule's spec) for every cluster a client group's routes reach,
/// each as (path, the path with the subset named, groups), in group order then route order, and
/// the knob's field inside the block; `None` for other knobs.
#[allow(clippy::type_complexity)]
fn blocks_in_force<'a>(
    s: &'a crate::scenario::Scenario,
    path: &str,
) -> Option<(Vec<(String, String, Vec<&'a str>)>, String)> {
    let rest = path.strip_prefix("policy.destination_rule.trafficPolicy.")?;
    let (block, field) = rest.split_once('.').unwrap_or((rest, ""));
    if !BLOCKS.contains(&block) {
        return None;
    }
    let mut found: Vec<(String, String, Vec<&str>)> = Vec::new();
    for g in &s.proxy_groups {
        let Some(dr) = g.selection.destination_rule.as_ref() else { continue };
        let port = crate::model::build::group_port(s, &g.selection);
        // Every destination of every route of its table (Istio's default route: the default
        // cluster).
        let mut subsets: Vec<Option<&str>> = Vec::new();
        let dests = g.selection.route.iter().flat_map(|c| &c.entries).flat_map(|e| e.route.route.iter().flatten());
        for d in dests {
            let sub = d.destination.subset.as_deref();
            if !subsets.contains(&sub) {
                subsets.push(sub);
            }
        }
        if subsets.is_empty() {
            subsets.push(None);
        }
        for sub in subsets {
            let Some((by, label)) = block_in_force(&dr.spec, sub, port, block) else { continue };
            match found.iter_mut().find(|(b, _, _)| *b == by) {
                Some((_, _, groups)) if groups.contains(&g.name.as_str()) => {}
                Some((_, _, groups)) => groups.push(&g.name),
                None => found.push((by, label, vec![&g.name])),
            }
        }
    }
    Some((found, field.to_string()))
}

/// The scenario paths a knob writes in scenario `s`: the knob's own path, except for a knob about
/// a DestinationRule block (`outlierDetection`, `loadBalancer`, `connectionPool`), which writes
/// the block in force for each cluster the client groups' routes reach ([`block_in_force`]): a
/// subset's own block when it sets one, a port-level entry when one replaces the policy, the
/// top-level block otherwise. So moving a knob always changes the clusters the routes use. A
/// block that is in force but not written yet is created by the override (the subset's
/// `portLevelSettings[j].outlierDetection`, ...), and the strict schema checks it as usual.
pub fn edits(s: &crate::scenario::Scenario, path: &str) -> Vec<String> {
    let Some((found, field)) = blocks_in_force(s, path) else { return vec![path.to_string()] };
    let mut out: Vec<String> = found
        .into_iter()
        .map(|(by, _, _)| {
            let at = format!("policy.destination_rule.{by}");
            if field.is_empty() { at } else { format!("{at}.{field}") }
        })
        .collect();
    if out.is_empty() {
        out.push(path.to_string());
    }
    out
}

/// What shadows a knob's top-level block in scenario `s`: Istio merges a cluster's policy block
/// by block, top level, then port-level, then the subset's, then the subset's port-level
/// (`MergeSubsetTrafficPolicy`): when a later layer gives the block for a cluster a group's routes
/// reach, that block is in force whole, and the knob edits it there ([`edits`]). The answer names
/// the block and the groups, e.g. ``subsets[name=v1].trafficPolicy.outlierDetection (route of
/// `ingress`)``; `None` when every such cluster takes the block from the top level.
pub fn shadowed_by(s: &crate::scenario::Scenario, path: &str) -> Option<String> {
    let (found, _) = blocks_in_force(s, path)?;
    let parts: Vec<String> = found
        .iter()
        .filter(|(by, _, _)| !by.starts_with("trafficPolicy.") || by.contains("portLevelSettings"))
        .map(|(_, by, groups)| {
            let names: Vec<String> = groups.iter().map(|n| format!("`{n}`")).collect();
            format!("{by} (route of {})", names.join(", "))
        })
        .collect();
    if parts.is_empty() { None } else { Some(parts.join("; ")) }
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

    /// A `portLevelSettings` entry for the cluster's port (80 here: no route names a port)
    /// replaces the whole policy, set blocks or not (`MergeSubsetTrafficPolicy`): an entry that
    /// sets only `connectionPool` still puts the top-level `outlierDetection` out of force, so the
    /// outlier knobs edit the entry's (absent, so Envoy's defaults) block; an entry for another
    /// port changes nothing for this cluster and the knobs edit the top level.
    #[test]
    fn port_level_entry_for_the_clusters_port_takes_the_knob() {
        let scenario = |port: u32| {
            let text = format!(
                r#"
name = "t"
duration = "10s"
[[clusters]]
name = "a"
region = "r1"
[service]
host = "svc.default.svc.cluster.local"
[[service.deployments]]
cluster = "a"
replicas = 2
[[proxies]]
name = "client"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "client"
rate = 10
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
[policy.destination_rule.trafficPolicy.outlierDetection]
consecutive5xxErrors = 3
[[policy.destination_rule.trafficPolicy.portLevelSettings]]
port = {{ number = {port} }}
connectionPool = {{ http = {{ http2MaxRequests = 10 }} }}
"#
            );
            crate::scenario::from_str(&text, "t.toml", std::path::Path::new("."), &[]).expect("scenario")
        };
        let od = od!("consecutive5xxErrors");
        let pool = pool!("http.http2MaxRequests");
        let on80 = scenario(80);
        assert_eq!(
            edits(&on80, od),
            ["policy.destination_rule.trafficPolicy.portLevelSettings[0].outlierDetection.consecutive5xxErrors"]
        );
        assert_eq!(
            shadowed_by(&on80, od).as_deref(),
            Some("trafficPolicy.portLevelSettings[0].outlierDetection (route of `client`)")
        );
        assert_eq!(
            edits(&on80, pool),
            ["policy.destination_rule.trafficPolicy.portLevelSettings[0].connectionPool.http.http2MaxRequests"]
        );
        let on9090 = scenario(9090);
        assert_eq!(edits(&on9090, od), [od]);
        assert_eq!(edits(&on9090, pool), [pool]);
        assert_eq!(shadowed_by(&on9090, pool), None);
        // Knobs about other things are written where they say.
        assert_eq!(edits(&on80, "workload[0].rate"), ["workload[0].rate"]);
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
