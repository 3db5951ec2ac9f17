//! The load-balancing algorithm part of a DestinationRule's `loadBalancer`: `simple`,
//! `consistentHash` and `warmup`/`warmupDurationSecs`, as Istio validates and translates them.
//!
//! Sources (istio/istio `86c9f01f`, istio/api `b8f8791`):
//!
//! * `pilot/pkg/networking/core/cluster_traffic_policy.go`: `applyLoadBalancer` picks the
//!   policy (`simple` unset → LEAST_REQUEST; LEAST_CONN is LEAST_REQUEST), then
//!   `applyRoundRobinLoadBalancer`/`applyLeastRequestLoadBalancer` set `slow_start_config` from
//!   `warmup` (window, `aggression` default 1, `minimumPercent` default 10; the runtime key is a
//!   dummy, so the values are fixed), else from the deprecated `warmupDurationSecs` (window only:
//!   Envoy's defaults 1.0 and 10 %); RANDOM has no slow start. Then `ApplyRingHashLoadBalancer`
//!   turns the cluster into MAGLEV (`tableSize`) or RING_HASH (`ringHash.minimumRingSize`, or
//!   the deprecated top-level `minimumRingSize`, default 1024) and replaces the cluster's
//!   `lb_config`, so `warmup` has no effect with `consistentHash`.
//! * `pilot/pkg/networking/core/route/route.go`: `ConsistentHashToHashPolicy` puts the hash key
//!   on the route (`header`, `cookie` with name and TTL, `connection_properties.source_ip`,
//!   `query_parameter`); `useSourceIp: false` gives a hash policy that hashes nothing, and no
//!   key at all gives none: either way Envoy draws a random hash for every request.
//! * `pilot/pkg/networking/core/route/retry/retry.go`: a VirtualService route to a
//!   consistent-hash destination gets no `previous_hosts` predicate ("we don't want to use other
//!   hosts during retries") unless `retryIgnorePreviousHosts` says otherwise; the default route
//!   of a service without VirtualService keeps it (`BuildDefaultHTTPOutboundRoute` converts the
//!   mesh policy with `hashPolicy = false`).
//! * `pkg/config/validation/validation.go` (`validateLoadBalancer`) and the CRD schema: the
//!   checks of [`validate_load_balancer`].
//! * istio/api history: `warmupDurationSecs` from 1.14, `consistentHash.ringHash`/`maglev`
//!   from 1.16, `warmup` from 1.24, `httpCookie.attributes` from 1.28; an older release's CRD
//!   does not have the field ([`check_istio_version`]).

use super::FieldError;
use super::manifest::{
    ConsistentHashLb, DestinationRuleSpec, HttpRetry, LoadBalancerSettings, SimpleLb, TrafficPolicy,
};
use crate::envoy::config::{HashPolicy, LbPolicy, RouteConfig, SlowStartConfig};
use crate::envoy::lb::hashing::{
    DEFAULT_MAGLEV_TABLE_SIZE, DEFAULT_MAX_RING_SIZE, DEFAULT_MIN_RING_SIZE, envoy_is_prime,
};

/// `applyLoadBalancer`: the Envoy policy and slow start a `loadBalancer` block gives.
pub fn policy_and_slow_start(lb: Option<&LoadBalancerSettings>) -> (LbPolicy, Option<SlowStartConfig>) {
    let Some(lb) = lb else { return (LbPolicy::LeastRequest { choice_count: 2 }, None) };
    if let Some(ch) = &lb.consistent_hash {
        return (hash_policy_kind(ch), None);
    }
    match lb.simple {
        Some(SimpleLb::Random) => (LbPolicy::Random, None),
        Some(SimpleLb::RoundRobin) => (LbPolicy::RoundRobin, slow_start(lb)),
        _ => (LbPolicy::LeastRequest { choice_count: 2 }, slow_start(lb)),
    }
}

/// `ApplyRingHashLoadBalancer`.
fn hash_policy_kind(ch: &ConsistentHashLb) -> LbPolicy {
    if let Some(m) = &ch.maglev {
        let table_size = m.table_size.filter(|&t| t != 0).unwrap_or(DEFAULT_MAGLEV_TABLE_SIZE);
        return LbPolicy::Maglev { table_size };
    }
    let minimum_ring_size = match &ch.ring_hash {
        Some(r) => r.minimum_ring_size.filter(|&m| m != 0).unwrap_or(DEFAULT_MIN_RING_SIZE),
        None => ch.minimum_ring_size.filter(|&m| m != 0).unwrap_or(DEFAULT_MIN_RING_SIZE),
    };
    LbPolicy::RingHash { minimum_ring_size, maximum_ring_size: DEFAULT_MAX_RING_SIZE }
}

/// `setWarmup`, else `setSlowStartConfig`.
fn slow_start(lb: &LoadBalancerSettings) -> Option<SlowStartConfig> {
    if let Some(w) = &lb.warmup {
        return Some(SlowStartConfig {
            window: w.duration.map(|d| d.0).unwrap_or_default(),
            aggression: w.aggression.unwrap_or(1.0),
            min_weight_percent: w.minimum_percent.unwrap_or(10.0),
        });
    }
    lb.warmup_duration_secs.map(|d| SlowStartConfig { window: d.0, ..SlowStartConfig::default() })
}

/// `ConsistentHashToHashPolicy`: the route's hash policy, `None` when it hashes nothing (no key,
/// or `useSourceIp: false`).
pub fn hash_policy(tp: Option<&TrafficPolicy>) -> Option<HashPolicy> {
    let ch = tp?.load_balancer.as_ref()?.consistent_hash.as_ref()?;
    if let Some(name) = &ch.http_header_name {
        return Some(HashPolicy::Header { name: name.clone() });
    }
    if let Some(c) = &ch.http_cookie {
        return Some(HashPolicy::Cookie { name: c.name.clone(), ttl: c.ttl.map(|d| d.0) });
    }
    if ch.use_source_ip == Some(true) {
        return Some(HashPolicy::SourceIp);
    }
    ch.http_query_parameter_name.as_ref().map(|name| HashPolicy::QueryParameter { name: name.clone() })
}

/// Whether the DestinationRule's policy makes the destination consistent-hash (`LookupHash`
/// non-nil), whatever its key.
pub fn is_consistent_hash(tp: Option<&TrafficPolicy>) -> bool {
    tp.and_then(|tp| tp.load_balancer.as_ref()).is_some_and(|lb| lb.consistent_hash.is_some())
}

/// The route side of a consistent-hash destination: the hash policy, and `ConvertPolicy(…,
/// hashPolicy = true)`'s missing `previous_hosts` predicate on a VirtualService route (`vs_route`)
/// unless its `retryIgnorePreviousHosts` is set; the default route (no VirtualService) keeps it.
pub fn apply_to_route(route: &mut RouteConfig, tp: Option<&TrafficPolicy>, vs_route: Option<Option<&HttpRetry>>) {
    if !is_consistent_hash(tp) {
        return;
    }
    route.hash_policy = hash_policy(tp);
    if let (Some(retry), Some(vs_retry)) = (route.retry.as_mut(), vs_route) {
        let explicit = vs_retry.and_then(|r| r.retry_ignore_previous_hosts);
        retry.previous_hosts = explicit.unwrap_or(false);
    }
}

/// `validateLoadBalancer`'s algorithm checks, plus what Envoy itself refuses: `simple` and
/// `consistentHash` together (a protobuf `oneof`), more than one hash key or algorithm (also
/// `oneof`s), a cookie without a name or with empty or repeated attribute names, the deprecated
/// `minimumRingSize` next to `ringHash`/`maglev`, a Maglev `tableSize` that is 0, at least
/// 5000011 or not prime, and `warmup` without a valid `duration`, with `minimumPercent`
/// outside 0..=100 or `aggression` ≤ 0. Two more come from Envoy: `minimumRingSize` above
/// Envoy's `maximum_ring_size` (8388608; Istio never sets the maximum, and Envoy rejects the
/// cluster), and a Maglev `tableSize` of 1 (Istio's `isPrime` accepts it, and Envoy then takes a
/// remainder modulo 0).
pub fn validate_load_balancer(lb: &LoadBalancerSettings, path: &str, errors: &mut Vec<FieldError>) {
    let mut push = |field: &str, message: String| {
        errors.push(FieldError { path: format!("{path}.{field}"), message });
    };
    if let Some(ch) = &lb.consistent_hash {
        if lb.simple.is_some() {
            push(
                "consistentHash",
                "only one of `simple` and `consistentHash` can be set (lb_policy is a oneof)".into(),
            );
        }
        validate_consistent_hash(ch, &mut |field, message| push(&format!("consistentHash.{field}"), message));
    }
    if let Some(w) = &lb.warmup {
        match w.duration {
            None => push("warmup.duration", "duration is required".into()),
            Some(d) if d.0.as_nanos() < 1_000_000 => {
                push("warmup.duration", "duration must be greater than 1ms".into())
            }
            Some(d) if d.0.as_nanos() % 1_000_000 != 0 => {
                push("warmup.duration", "only durations to ms precision are supported".into())
            }
            Some(_) => {}
        }
        if let Some(m) = w.minimum_percent
            && !(0.0..=100.0).contains(&m)
        {
            push("warmup.minimumPercent", format!("{m} is not a percentage between 0 and 100"));
        }
        if let Some(a) = w.aggression
            && (a.is_nan() || a <= 0.0)
        {
            push("warmup.aggression", "aggression should be greater than 0".into());
        }
    }
}

fn validate_consistent_hash(ch: &ConsistentHashLb, push: &mut dyn FnMut(&str, String)) {
    let keys = [
        ("httpHeaderName", ch.http_header_name.is_some()),
        ("httpCookie", ch.http_cookie.is_some()),
        ("useSourceIp", ch.use_source_ip.is_some()),
        ("httpQueryParameterName", ch.http_query_parameter_name.is_some()),
    ];
    let set: Vec<&str> = keys.iter().filter(|(_, is)| *is).map(|(k, _)| *k).collect();
    if set.len() > 1 {
        push(set[1], format!("only one hash key can be set (hash_key is a oneof; `{}` is set too)", set[0]));
    }
    if ch.ring_hash.is_some() && ch.maglev.is_some() {
        push("maglev", "only one of `ringHash` and `maglev` can be set (hash_algorithm is a oneof)".into());
    }
    if let Some(c) = &ch.http_cookie {
        if c.name.is_empty() {
            push("httpCookie.name", "name required for HttpCookie".into());
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, a) in c.attributes.iter().flatten().enumerate() {
            if a.name.is_empty() {
                push(&format!("httpCookie.attributes[{i}].name"), "cookie attribute name cannot be empty".into());
            } else if seen.contains(&a.name.as_str()) {
                push(
                    &format!("httpCookie.attributes[{i}].name"),
                    format!("duplicate cookie attribute name: {}", a.name),
                );
            } else {
                seen.push(&a.name);
            }
        }
    }
    let deprecated = ch.minimum_ring_size.filter(|&m| m != 0);
    if deprecated.is_some() && (ch.ring_hash.is_some() || ch.maglev.is_some()) {
        push("minimumRingSize", "only one of MinimumRingSize or Maglev/Ringhash can be set".into());
    }
    let ring_min = ch.ring_hash.as_ref().and_then(|r| r.minimum_ring_size).or(deprecated);
    if let Some(m) = ring_min.filter(|&m| m > DEFAULT_MAX_RING_SIZE) {
        let field = if ch.ring_hash.is_some() { "ringHash.minimumRingSize" } else { "minimumRingSize" };
        push(
            field,
            format!(
                "{m} is above Envoy's maximum_ring_size ({DEFAULT_MAX_RING_SIZE}), which Istio does not raise: \
                 Envoy rejects the cluster (\"minimum_ring_size > maximum_ring_size\")"
            ),
        );
    }
    if let Some(m) = &ch.maglev {
        let t = m.table_size.unwrap_or(0);
        if t == 0 {
            push("maglev.tableSize", "tableSize must be set for maglev".into());
        } else if t >= 5_000_011 {
            push("maglev.tableSize", "tableSize must be less than 5000011 for maglev".into());
        } else if !envoy_is_prime(t) {
            push("maglev.tableSize", "tableSize must be a prime number for maglev".into());
        } else if t == 1 {
            push(
                "maglev.tableSize",
                "a table of 1 slot passes Istio's check but breaks Envoy (it computes a skip modulo tableSize - 1): \
                 use a prime of at least 2, such as 65537"
                    .into(),
            );
        }
    }
}

/// The first field of the DestinationRule that the Istio release `1.<minor>` does not know,
/// with the release that introduced it: such a field would be dropped by that release's API
/// server (an unknown field of a structural CRD), so meshsim refuses it rather than run a
/// policy the mesh would not have.
pub fn check_istio_version(dr: &DestinationRuleSpec, minor: u32) -> Result<(), FieldError> {
    let mut policies: Vec<(String, &TrafficPolicy)> = Vec::new();
    if let Some(tp) = &dr.traffic_policy {
        policies.push(("trafficPolicy".into(), tp));
    }
    for (i, s) in dr.subsets.iter().flatten().enumerate() {
        if let Some(tp) = &s.traffic_policy {
            policies.push((format!("subsets[{i}].trafficPolicy"), tp));
        }
    }
    for (path, tp) in policies {
        let mut lbs: Vec<(String, &LoadBalancerSettings)> = Vec::new();
        if let Some(lb) = &tp.load_balancer {
            lbs.push((format!("{path}.loadBalancer"), lb));
        }
        for (j, p) in tp.port_level_settings.iter().flatten().enumerate() {
            if let Some(lb) = &p.load_balancer {
                lbs.push((format!("{path}.portLevelSettings[{j}].loadBalancer"), lb));
            }
        }
        for (lpath, lb) in lbs {
            let ch = lb.consistent_hash.as_ref();
            let fields: [(&str, bool, u32); 5] = [
                ("warmupDurationSecs", lb.warmup_duration_secs.is_some(), 14),
                ("consistentHash.ringHash", ch.is_some_and(|c| c.ring_hash.is_some()), 16),
                ("consistentHash.maglev", ch.is_some_and(|c| c.maglev.is_some()), 16),
                ("warmup", lb.warmup.is_some(), 24),
                (
                    "consistentHash.httpCookie.attributes",
                    ch.and_then(|c| c.http_cookie.as_ref()).is_some_and(|c| c.attributes.is_some()),
                    28,
                ),
            ];
            for (field, set, since) in fields {
                if set && minor < since {
                    return Err(FieldError {
                        path: format!("{lpath}.{field}"),
                        message: format!(
                            "Istio 1.{minor} does not have this field (it arrived in 1.{since}): its API server \
                             would drop it; remove it or set mesh.istio_version to \"1.{since}\" or later"
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}
