//! Istio's admission validation of DestinationRules and VirtualServices, following
//! `pkg/config/validation/validation.go` (`validateTrafficPolicy`, `validateOutlierDetection`,
//! `validateConnectionPool`, `ValidateDuration`, `ValidatePercent`, HTTP retry checks) and
//! `pkg/config/validation/agent/validation.go` (`ValidateLocalityLbSetting`).
//!
//! Every error names the field path from the spec root. Deprecated fields that Istio only warns
//! about (`consecutiveErrors`) are accepted silently.

use super::manifest::{
    ConnectionPoolSettings, DestinationRuleSpec, HttpRetry, LocalityLbSetting, OutlierDetection, TrafficPolicy,
    VirtualServiceSpec,
};
use super::{FieldError, IstioError};
use crate::engine::SimDuration;
use crate::istio::duration::GoDuration;

/// Validates a DestinationRule spec; the error lists every invalid field.
pub fn validate_destination_rule(spec: &DestinationRuleSpec) -> Result<(), IstioError> {
    let mut errors = Vec::new();
    if spec.host.is_empty() {
        push(&mut errors, "host", "host must be set");
    }
    if let Some(tp) = &spec.traffic_policy {
        validate_traffic_policy(tp, "trafficPolicy", &mut errors);
    }
    for (i, subset) in spec.subsets.iter().flatten().enumerate() {
        let path = format!("subsets[{i}]");
        if subset.name.is_empty() {
            push(&mut errors, &format!("{path}.name"), "subset name must be set");
        } else if !is_dns1123_label(&subset.name) {
            // `validateSubset` → `validateSubsetName` (`pkg/config/validation/validation.go`).
            push(&mut errors, &format!("{path}.name"), format!("subset name is invalid: {}", subset.name));
        }
        // `labels.Instance.Validate` (`pkg/config/labels/instance.go`): each key a qualified
        // name, each value a label value.
        for (k, v) in subset.labels.iter().flatten() {
            if let Err(m) = validate_label(k, v) {
                push(&mut errors, &format!("{path}.labels"), m);
            }
        }
        if let Some(tp) = &subset.traffic_policy {
            validate_traffic_policy(tp, &format!("{path}.trafficPolicy"), &mut errors);
        }
    }
    finish("DestinationRule", errors)
}

/// Validates a VirtualService spec: retry attempts, durations and route weights.
pub fn validate_virtual_service(spec: &VirtualServiceSpec) -> Result<(), IstioError> {
    let mut errors = Vec::new();
    for (i, route) in spec.http.iter().flatten().enumerate() {
        let path = format!("http[{i}]");
        // `validateHTTPRoute`: a route needs destinations unless it redirects, answers directly
        // or delegates.
        let elsewhere = route.redirect.is_some() || route.direct_response.is_some() || route.delegate.is_some();
        if route.route.as_ref().is_none_or(Vec::is_empty) && !elsewhere {
            push(&mut errors, &format!("{path}.route"), "HTTP route or redirect is required");
        }
        if let Some(r) = &route.retries {
            validate_retry(r, &format!("{path}.retries"), &mut errors);
        }
        if let Some(t) = route.timeout {
            // A zero timeout is allowed and means "disabled".
            if !t.0.is_zero() {
                validate_duration(t, &format!("{path}.timeout"), &mut errors);
            }
        }
        if let Some(f) = &route.fault {
            validate_fault(f, &format!("{path}.fault"), &mut errors);
        }
        // `validateHTTPRouteDestinations`: weights are relative (any value >= 0); with several
        // destinations their total must be positive.
        let mut total: i64 = 0;
        for (j, dest) in route.route.iter().flatten().enumerate() {
            let dpath = format!("{path}.route[{j}]");
            if dest.destination.host.is_empty() {
                push(&mut errors, &format!("{dpath}.destination.host"), "host must be set");
            }
            // `validateDestination` → `validateSubsetName`.
            if let Some(name) = dest.destination.subset.as_deref()
                && !name.is_empty()
                && !is_dns1123_label(name)
            {
                push(&mut errors, &format!("{dpath}.destination.subset"), format!("subset name is invalid: {name}"));
            }
            if let Some(w) = dest.weight {
                if w < 0 {
                    push(&mut errors, &format!("{dpath}.weight"), format!("weight {w} < 0"));
                }
                total += i64::from(w.max(0));
            }
        }
        if route.route.as_ref().is_some_and(|r| r.len() > 1) && total == 0 {
            push(&mut errors, &format!("{path}.route"), "total destination weight = 0");
        }
        // The match conditions as pilot translates them (`istio::route`), refusing by name what
        // meshsim does not model.
        for (j, m) in route.match_.iter().flatten().enumerate() {
            if let Err((field, message)) = super::route::translate_match(m) {
                push(&mut errors, &format!("{path}.match[{j}].{field}"), message);
            }
        }
    }
    finish("VirtualService", errors)
}

/// The checks of `ValidateDestinationRule` and `ValidateVirtualService` that need the resource's
/// namespace: `exportTo` (`validateExportTo`: no duplicates, `.` and the own namespace count
/// once, entries are `*`, `.`, `~` or a namespace name; a rule with a `workloadSelector` may be
/// exported to its own namespace only), unique subset names, and workload-selector labels.
pub fn validate_in_namespace(spec: &crate::istio::select::ResourceSpec, namespace: &str) -> Vec<FieldError> {
    use crate::istio::select::ResourceSpec;
    let mut errors = Vec::new();
    match spec {
        ResourceSpec::DestinationRule(dr) => {
            let mut names = std::collections::BTreeSet::new();
            for (i, s) in dr.subsets.iter().flatten().enumerate() {
                if !names.insert(s.name.as_str()) {
                    push(&mut errors, &format!("subsets[{i}].name"), format!("duplicate subset names: {}", s.name));
                }
            }
            let selector = dr.workload_selector.as_ref();
            validate_export_to(namespace, dr.export_to.as_deref().unwrap_or(&[]), selector.is_some(), &mut errors);
            for (k, _) in selector.and_then(|w| w.match_labels.as_ref()).into_iter().flatten() {
                if k.is_empty() {
                    push(&mut errors, "workloadSelector.matchLabels", "empty key is not supported in selector");
                }
            }
        }
        ResourceSpec::VirtualService(vs) => {
            validate_export_to(namespace, vs.export_to.as_deref().unwrap_or(&[]), false, &mut errors);
        }
        ResourceSpec::Gateway(_) => {}
    }
    errors
}

fn validate_export_to(namespace: &str, export_to: &[String], with_selector: bool, errors: &mut Vec<FieldError>) {
    let mut seen: Vec<&str> = Vec::new();
    for (i, e) in export_to.iter().enumerate() {
        let key = if e == "." { namespace } else { e.as_str() };
        if seen.contains(&key) {
            let m = if key != e {
                format!("duplicate entries in exportTo: . and current namespace {namespace}")
            } else {
                format!("duplicate entries in exportTo for entry {e}")
            };
            push(errors, &format!("exportTo[{i}]"), m);
            continue;
        }
        let dns_label = key.len() <= 63
            && !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !key.starts_with('-')
            && !key.ends_with('-');
        if !(key == "*" || key == "~" || dns_label) {
            push(
                errors,
                &format!("exportTo[{i}]"),
                format!("only . or * or ~ or a valid DNS 1123 label is allowed as exportTo entry, got {e}"),
            );
            continue;
        }
        seen.push(key);
    }
    if with_selector && !seen.is_empty() {
        if seen.contains(&namespace) {
            if seen.len() > 1 {
                push(
                    errors,
                    "exportTo",
                    "destination rule with workload selector cannot have multiple entries in exportTo",
                );
            }
        } else {
            push(
                errors,
                "exportTo",
                "destination rule with workload selector cannot have exportTo beyond current namespace",
            );
        }
    }
}

/// `validateHTTPFaultInjection` (`pkg/config/validation/validation.go`): an abort and/or a delay;
/// percentages in 0..=100; an HTTP status in 200..=600 (Istio's own bounds); a gRPC status one of
/// the codes Istio knows; a fixed delay at least 1 ms. An exponential delay is not a field here,
/// so the strict reader rejects it, as Istio does ("exponentialDelay not supported yet").
fn validate_fault(f: &crate::istio::manifest::HttpFaultInjection, path: &str, errors: &mut Vec<FieldError>) {
    let percentage = |p: &Option<crate::istio::manifest::Percent>, at: &str, errors: &mut Vec<FieldError>| {
        if let Some(p) = p
            && !(0.0..=100.0).contains(&p.value)
        {
            push(errors, at, format!("percentage {} is not in range 0..100", p.value));
        }
    };
    if f.abort.is_none() && f.delay.is_none() {
        push(errors, path, "HTTP fault injection must have an abort and/or a delay");
    }
    if let Some(a) = &f.abort {
        percentage(&a.percentage, &format!("{path}.abort.percentage.value"), errors);
        if let Some(code) = a.http_status
            && !(200..=600).contains(&code)
        {
            push(errors, &format!("{path}.abort.httpStatus"), format!("HTTP status {code} is not in range 200-599"));
        }
        if let Some(g) = &a.grpc_status
            && crate::istio::translate::grpc_to_http_status(g).is_none()
        {
            push(errors, &format!("{path}.abort.grpcStatus"), format!("invalid gRPC status {g:?}"));
        }
        if a.http_status.is_some() && a.grpc_status.is_some() {
            push(errors, &format!("{path}.abort"), "httpStatus and grpcStatus are one field (a oneof): set one");
        }
    }
    if let Some(d) = &f.delay {
        percentage(&d.percentage, &format!("{path}.delay.percentage.value"), errors);
        if let Some(p) = d.percent
            && !(0..=100).contains(&p)
        {
            push(errors, &format!("{path}.delay.percent"), format!("percent {p} is not in range 0..100"));
        }
        if let Some(t) = d.fixed_delay {
            validate_duration(t, &format!("{path}.delay.fixedDelay"), errors);
        }
    }
}

/// `IsDNS1123Label` (`pkg/config/labels`): at most 63 characters, lowercase letters, digits and
/// `-`, starting and ending with a letter or digit.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// One label of `labels.Instance.Validate`: the key a qualified name (`[prefix/]name`, the prefix
/// a DNS-1123 subdomain of at most 253 characters, the name 1–63 characters of letters, digits,
/// `-`, `_`, `.` that start and end with a letter or digit), the value empty or such a name.
fn validate_label(key: &str, value: &str) -> Result<(), String> {
    fn name_ok(n: &str) -> bool {
        let b = n.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
    }
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && p.split('.').all(is_dns1123_label));
    if !prefix_ok || !name_ok(name) {
        return Err(format!("invalid tag key: {key:?}"));
    }
    if !value.is_empty() && !name_ok(value) {
        return Err(format!("invalid tag value: {value:?}"));
    }
    Ok(())
}

fn finish(kind: &'static str, errors: Vec<FieldError>) -> Result<(), IstioError> {
    if errors.is_empty() { Ok(()) } else { Err(IstioError::Invalid { kind, errors }) }
}

fn push(errors: &mut Vec<FieldError>, path: &str, message: impl Into<String>) {
    errors.push(FieldError { path: path.to_string(), message: message.into() });
}

fn validate_traffic_policy(tp: &TrafficPolicy, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(od) = &tp.outlier_detection {
        validate_outlier_detection(od, &format!("{path}.outlierDetection"), errors);
    }
    if let Some(cp) = &tp.connection_pool {
        validate_connection_pool(cp, &format!("{path}.connectionPool"), errors);
    }
    if let Some(lb) = tp.load_balancer.as_ref().and_then(|lb| lb.locality_lb_setting.as_ref()) {
        validate_locality_lb_setting(lb, &format!("{path}.loadBalancer.localityLbSetting"), errors);
    }
    if let Some(lb) = &tp.load_balancer {
        super::lb_policy::validate_load_balancer(lb, &format!("{path}.loadBalancer"), errors);
    }
    if let Some(budget) = &tp.retry_budget
        && let Some(p) = budget.percent
        && !(0.0..=100.0).contains(&p)
    {
        push(errors, &format!("{path}.retryBudget.percent"), "must be in 0..=100");
    }
    for (i, port) in tp.port_level_settings.iter().flatten().enumerate() {
        let ppath = format!("{path}.portLevelSettings[{i}]");
        if port.port.as_ref().and_then(|p| p.number).is_none() {
            push(errors, &format!("{ppath}.port"), "port number must be set");
        }
        if let Some(od) = &port.outlier_detection {
            validate_outlier_detection(od, &format!("{ppath}.outlierDetection"), errors);
        }
        if let Some(cp) = &port.connection_pool {
            validate_connection_pool(cp, &format!("{ppath}.connectionPool"), errors);
        }
        if let Some(lb) = port.load_balancer.as_ref().and_then(|lb| lb.locality_lb_setting.as_ref()) {
            let lpath = format!("{ppath}.loadBalancer.localityLbSetting");
            validate_locality_lb_setting(lb, &lpath, errors);
        }
        if let Some(lb) = &port.load_balancer {
            super::lb_policy::validate_load_balancer(lb, &format!("{ppath}.loadBalancer"), errors);
        }
    }
}

fn validate_outlier_detection(od: &OutlierDetection, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(d) = od.interval {
        validate_duration(d, &format!("{path}.interval"), errors);
    }
    if let Some(d) = od.base_ejection_time {
        validate_duration(d, &format!("{path}.baseEjectionTime"), errors);
    }
    if let Some(p) = od.max_ejection_percent {
        validate_percent(p, &format!("{path}.maxEjectionPercent"), errors);
    }
    if let Some(p) = od.min_health_percent {
        validate_percent(p, &format!("{path}.minHealthPercent"), errors);
    }
    if od.consecutive_local_origin_failures.is_some() && !od.split_external_local_origin_errors.unwrap_or(false) {
        push(
            errors,
            &format!("{path}.consecutiveLocalOriginFailures"),
            "consecutiveLocalOriginFailures requires splitExternalLocalOriginErrors: true",
        );
    }
}

fn validate_connection_pool(cp: &ConnectionPoolSettings, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(tcp) = &cp.tcp {
        non_negative(tcp.max_connections, &format!("{path}.tcp.maxConnections"), errors);
        if let Some(d) = tcp.connect_timeout {
            validate_duration(d, &format!("{path}.tcp.connectTimeout"), errors);
        }
        if let Some(d) = tcp.max_connection_duration {
            validate_duration(d, &format!("{path}.tcp.maxConnectionDuration"), errors);
        }
    }
    if let Some(http) = &cp.http {
        let p = |f: &str| format!("{path}.http.{f}");
        non_negative(http.http1_max_pending_requests, &p("http1MaxPendingRequests"), errors);
        non_negative(http.http2_max_requests, &p("http2MaxRequests"), errors);
        non_negative(http.max_requests_per_connection, &p("maxRequestsPerConnection"), errors);
        non_negative(http.max_retries, &p("maxRetries"), errors);
        non_negative(http.max_concurrent_streams, &p("maxConcurrentStreams"), errors);
        if let Some(d) = http.idle_timeout {
            validate_duration(d, &p("idleTimeout"), errors);
        }
    }
}

/// `validateHTTPRetry` (istio/istio `pkg/config/validation/validation.go`, 1.31): attempts not
/// negative; with `attempts: 0` (retries off) no other retry field may be set; every
/// comma-separated `retryOn` token is an HTTP status code with a Go `http.StatusText` or one of
/// `supportedRetryOnPolicies`, compared as written (Istio does not trim the tokens, so
/// `"5xx, reset"` is refused for its `" reset"`).
fn validate_retry(r: &HttpRetry, path: &str, errors: &mut Vec<FieldError>) {
    if r.attempts < 0 {
        push(errors, &format!("{path}.attempts"), "attempts cannot be negative");
    }
    if r.attempts == 0 && (r.per_try_timeout.is_some() || r.retry_on.is_some() || r.retry_remote_localities.is_some()) {
        push(errors, path, "http retry policy configured when attempts are set to 0 (disabled)");
    }
    if let Some(text) = r.retry_on.as_deref().filter(|t| !t.is_empty()) {
        for token in text.split(',') {
            let is_status = token.parse::<u16>().is_ok_and(super::translate::is_known_http_status);
            if !is_status && !SUPPORTED_RETRY_ON.contains(&token) {
                push(
                    errors,
                    &format!("{path}.retryOn"),
                    format!(
                        "{token:?} is not a valid retryOn policy (expected HTTP status codes or {})",
                        SUPPORTED_RETRY_ON.join(", ")
                    ),
                );
            }
        }
    }
    if let Some(d) = r.per_try_timeout {
        validate_duration(d, &format!("{path}.perTryTimeout"), errors);
    }
    if let Some(d) = r.backoff {
        validate_duration(d, &format!("{path}.backoff"), errors);
    }
}

/// Istio's `supportedRetryOnPolicies` (`pkg/config/validation/validation.go`): Envoy's
/// `x-envoy-retry-on` and `x-envoy-retry-grpc-on` conditions.
pub const SUPPORTED_RETRY_ON: [&str; 16] = [
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// `ValidateLocalityLbSetting`: distribute weights, wildcard placement, overlaps, and the
/// distribute/failover exclusion.
fn validate_locality_lb_setting(lb: &LocalityLbSetting, path: &str, errors: &mut Vec<FieldError>) {
    if !lb.distribute().is_empty() && !lb.failover().is_empty() {
        push(errors, path, "can not simultaneously specify 'distribute' and 'failover'");
    }
    let mut froms: Vec<&str> = Vec::new();
    for (i, d) in lb.distribute().iter().enumerate() {
        let dpath = format!("{path}.distribute[{i}]");
        if let Err(m) = validate_locality_pattern(&d.from) {
            push(errors, &format!("{dpath}.from"), m);
        }
        if froms.contains(&d.from.as_str()) {
            push(errors, &format!("{dpath}.from"), format!("duplicate 'from' {:?}", d.from));
        }
        froms.push(&d.from);
        validate_distribute_to(&d.to, &format!("{dpath}.to"), errors);
    }
    for (i, f) in lb.failover().iter().enumerate() {
        let fpath = format!("{path}.failover[{i}]");
        for (name, value) in [("from", &f.from), ("to", &f.to)] {
            if value.is_empty() || value.contains('/') || value.contains('*') {
                push(errors, &format!("{fpath}.{name}"), "failover only supports a region name");
            }
        }
        if f.from == f.to {
            push(errors, &fpath, "failover 'from' and 'to' must be different regions");
        }
    }
    for (i, label) in lb.failover_priority().iter().enumerate() {
        if label.is_empty() || label.matches('=').count() > 1 || label.starts_with('=') {
            let lpath = format!("{path}.failoverPriority[{i}]");
            push(errors, &lpath, "must be a label key or key=value");
        }
    }
}

fn validate_distribute_to(to: &std::collections::BTreeMap<String, u32>, path: &str, errors: &mut Vec<FieldError>) {
    let mut sum: u64 = 0;
    for (locality, &weight) in to {
        if let Err(m) = validate_locality_pattern(locality) {
            push(errors, &format!("{path}[{locality}]"), m);
        }
        if !(1..=100).contains(&weight) {
            push(errors, &format!("{path}[{locality}]"), "weight must be in 1..=100");
        }
        sum += u64::from(weight);
    }
    if sum != 100 {
        push(errors, path, format!("weights must sum to 100, got {sum}"));
    }
    let keys: Vec<&String> = to.keys().collect();
    for (a_idx, a) in keys.iter().enumerate() {
        for b in &keys[a_idx + 1..] {
            if patterns_overlap(a, b) {
                push(errors, path, format!("localities {a:?} and {b:?} overlap"));
            }
        }
    }
}

/// A locality pattern: 1 to 3 non-empty `/`-separated segments, `*` only as the last one.
fn validate_locality_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("locality must not be empty".into());
    }
    let segments: Vec<&str> = pattern.split('/').collect();
    if segments.len() > 3 {
        return Err(format!("locality {pattern:?} has more than region/zone/subzone"));
    }
    for (i, s) in segments.iter().enumerate() {
        if s.is_empty() {
            return Err(format!("locality {pattern:?} has an empty segment"));
        }
        if s.contains('*') && (*s != "*" || i + 1 != segments.len()) {
            return Err(format!("locality {pattern:?}: wildcard is allowed only as the last segment"));
        }
    }
    Ok(())
}

/// Two patterns overlap when some locality matches both: segment by segment, equal, or either
/// one absent or `*`.
fn patterns_overlap(a: &str, b: &str) -> bool {
    let sa: Vec<&str> = a.split('/').collect();
    let sb: Vec<&str> = b.split('/').collect();
    (0..3).all(|i| {
        let x = sa.get(i).copied().unwrap_or("");
        let y = sb.get(i).copied().unwrap_or("");
        x == y || x.is_empty() || y.is_empty() || x == "*" || y == "*"
    })
}

/// `ValidateDuration`: at least 1 ms, whole milliseconds.
fn validate_duration(d: GoDuration, path: &str, errors: &mut Vec<FieldError>) {
    let ns = d.0.as_nanos();
    if d.0 < SimDuration::from_millis(1) {
        push(errors, path, format!("duration {d} must be at least 1ms"));
    } else if !ns.is_multiple_of(1_000_000) {
        push(errors, path, format!("duration {d}: only millisecond precision is supported"));
    }
}

fn validate_percent(p: i32, path: &str, errors: &mut Vec<FieldError>) {
    if !(0..=100).contains(&p) {
        push(errors, path, format!("percentage {p} must be in 0..=100"));
    }
}

fn non_negative(v: Option<i32>, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(v) = v
        && v < 0
    {
        push(errors, path, format!("{v} must not be negative"));
    }
}
