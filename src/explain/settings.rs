//! The Envoy settings a scenario's policy puts in force, each with its source: the manifest, an
//! Istio default, an Envoy default Istio leaves alone, or the scenario's `[mesh]` knobs.

use crate::envoy::config::{HashPolicy, LbPolicy, MaxEjectionRule, OutlierConfig, RouteConfig};
use crate::istio::manifest::OutlierDetection;
use crate::istio::manifest::{HttpRetry, HttpRoute, TrafficPolicy};
use crate::istio::translate::{LbSettingSource, sends_unhealthy_endpoints};
use crate::scenario::EnvoyOutlierOverride;
use crate::scenario::Scenario;

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Written in the DestinationRule (its top-level `trafficPolicy`) or VirtualService.
    Manifest,
    /// Written in the DestinationRule's top-level `portLevelSettings` for the service port.
    PortLevel,
    /// Written in the subset's `trafficPolicy` (for a subset's cluster).
    Subset,
    /// Written in the subset's own `portLevelSettings` for the service port.
    SubsetPortLevel,
    /// A value Istio sets when the manifest does not.
    IstioDefault,
    /// Istio leaves the field unset, so Envoy's default applies.
    EnvoyDefault,
    /// A mesh-wide or version setting (`[mesh]` in the scenario, or its default).
    Mesh,
    /// Derived from other settings (explained in the value).
    Derived,
    /// Set in the scenario's `[envoy_outlier]`, over whatever Istio would give.
    EnvoyOutlier,
}

impl Source {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Source::Manifest => "manifest",
            Source::PortLevel => "port-level",
            Source::Subset => "subset",
            Source::SubsetPortLevel => "subset port-level",
            Source::IstioDefault => "Istio default",
            Source::EnvoyDefault => "Envoy default",
            Source::Mesh => "mesh",
            Source::Derived => "derived",
            Source::EnvoyOutlier => "[envoy_outlier]",
        }
    }
}

/// One setting in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Envoy's field name (Istio's in parentheses where it differs).
    pub name: String,
    /// The value, with a note where useful.
    pub value: String,
    /// Where it comes from.
    pub source: Source,
}

fn set(name: &str, value: impl Into<String>, source: Source) -> Setting {
    Setting { name: name.to_string(), value: value.into(), source }
}

fn from(manifest: bool, otherwise: Source) -> Source {
    if manifest { Source::Manifest } else { otherwise }
}

/// The subset a proxy's route sends to (the first destination's), if any.
pub fn route_subset(sel: &crate::istio::select::Selection) -> Option<&str> {
    sel.http_route()
        .and_then(|r| r.route.as_ref())
        .and_then(|d| d.first())
        .and_then(|d| d.destination.subset.as_deref())
}

/// The settings in force in a proxy's cluster for `subset` (`None`: the default cluster; a
/// subset the rule does not define also gives the default cluster's), each manifest value
/// labelled with the layer it came from: top-level (`manifest`), `port-level`, `subset` or
/// `subset port-level`. Istio merges whole blocks (`MergeTrafficPolicy`): the last layer that sets
/// `outlierDetection`, `loadBalancer` or `connectionPool` gives every field of it.
pub fn settings_for(s: &Scenario, sel: &crate::istio::select::Selection, subset: Option<&str>) -> Vec<Setting> {
    host_settings_for(s, 0, sel, subset)
}

/// [`settings_for`] for a cluster of host `h` (0: `[service]`, `h`: `services[h - 1]`), whose
/// DestinationRule selection is `sel`: the rule's `portLevelSettings` are looked up with that
/// host's cluster port (`model::build::cluster_port`), and `trafficDistribution` is the host's
/// own (`Scenario::traffic_distribution_of`), exactly as `model::build` builds the cluster.
pub fn host_settings_for(
    s: &Scenario,
    h: usize,
    sel: &crate::istio::select::Selection,
    subset: Option<&str>,
) -> Vec<Setting> {
    let plans = crate::model::build::host_cluster_plans(s, h, sel);
    let plan = plans.iter().find(|p| p.subset.as_deref() == subset).unwrap_or(&plans[0]);
    let no_rule = crate::explain::resources::no_rule_reason(s, h, sel);
    let mut out = host_cluster_settings(s, h, plan.policy.as_ref(), no_rule.as_deref());
    let Some(dr) = sel.destination_rule.as_ref() else { return out };
    let port = crate::model::build::cluster_port(s, h, sel);
    let sub_tp = plan
        .subset
        .as_deref()
        .and_then(|n| dr.spec.subsets.iter().flatten().find(|x| x.name == n))
        .and_then(|x| x.traffic_policy.as_ref());
    let port_entry = |tp: &TrafficPolicy| {
        tp.port_level_settings.iter().flatten().find(|p| p.port.as_ref().and_then(|p| p.number) == Some(port)).cloned()
    };
    // (outlierDetection, loadBalancer, connectionPool) set by each layer, in merge order. A
    // port-level entry for the port replaces its policy whole (`GetPortLevelTrafficPolicy`), so
    // it stands instead of that policy's own blocks.
    let mut layers: Vec<(Source, [bool; 3])> = Vec::new();
    if let Some(tp) = dr.spec.traffic_policy.as_ref() {
        layers.push(match port_entry(tp) {
            Some(p) => (
                Source::PortLevel,
                [p.outlier_detection.is_some(), p.load_balancer.is_some(), p.connection_pool.is_some()],
            ),
            None => (
                Source::Manifest,
                [tp.outlier_detection.is_some(), tp.load_balancer.is_some(), tp.connection_pool.is_some()],
            ),
        });
    }
    if let Some(tp) = sub_tp {
        layers.push(match port_entry(tp) {
            Some(p) => (
                Source::SubsetPortLevel,
                [p.outlier_detection.is_some(), p.load_balancer.is_some(), p.connection_pool.is_some()],
            ),
            None => (
                Source::Subset,
                [tp.outlier_detection.is_some(), tp.load_balancer.is_some(), tp.connection_pool.is_some()],
            ),
        });
    }
    let layer_of = |block: usize| layers.iter().rev().find(|(_, b)| b[block]).map(|(src, _)| *src);
    for x in &mut out {
        if x.source != Source::Manifest {
            continue;
        }
        let n = x.name.as_str();
        let block = if n.starts_with("max_requests")
            || n.starts_with("max_pending")
            || n.starts_with("max_retries")
            || n.starts_with("max_connections")
            || n.starts_with("connect_timeout")
        {
            2
        } else if n == "locality setting" || n.starts_with("lb_policy") || n.starts_with("slow_start") {
            1
        } else {
            0
        };
        if let Some(src) = layer_of(block) {
            x.source = src;
        }
    }
    out
}

/// The settings of the Envoy cluster for the service that the DestinationRule traffic policy
/// `tp` (the one a proxy's selection gives) puts in force: the final cluster configuration
/// (Istio's translation, `trafficDistribution`, the version knobs and `[envoy_outlier]` laid over
/// it, as `model::build::cluster_and_control` builds it), each value with where it comes from.
/// `no_rule` is why no DestinationRule applies to the proxy (`explain::resources::no_rule_reason`),
/// `None` when one does: Istio then builds the cluster from its defaults, so nothing is "set in the
/// manifest", not even an absent `outlierDetection`.
pub fn cluster_settings(s: &Scenario, tp: Option<&TrafficPolicy>, no_rule: Option<&str>) -> Vec<Setting> {
    host_cluster_settings(s, 0, tp, no_rule)
}

/// [`cluster_settings`] for a cluster of host `h`, built as `model::build::host_cluster_and_control`
/// builds it: only a host with a `trafficDistribution` of its own gets one.
pub fn host_cluster_settings(
    s: &Scenario,
    h: usize,
    tp: Option<&TrafficPolicy>,
    no_rule: Option<&str>,
) -> Vec<Setting> {
    let mesh = &s.mesh.settings;
    let (cfg, eff, enable_failover, _) = crate::model::build::host_cluster_and_control(s, h, tp);
    let by_traffic_distribution = s.traffic_distribution_of(h).is_some()
        && tp.and_then(|t| t.load_balancer.as_ref()).and_then(|lb| lb.locality_lb_setting.as_ref()).is_none();
    let od = tp.and_then(|t| t.outlier_detection.as_ref());
    let mut out = Vec::new();
    match &cfg.outlier {
        Some(o) => outlier_settings(&mut out, o, od, s.envoy_outlier.as_ref()),
        None if let Some(why) = no_rule => out.push(set(
            "outlier_detection",
            format!("off: {why}, so Istio's defaults apply: no outlier detection, nothing is ever ejected"),
            Source::IstioDefault,
        )),
        None => out.push(set(
            "outlier_detection",
            "off: the DestinationRule has no outlierDetection, so nothing is ever ejected",
            Source::Manifest,
        )),
    }
    let threshold = cfg.lb.healthy_panic_threshold;
    let (panic_source, why) = match od {
        Some(od) if od.min_health_percent.is_some() && !sends_unhealthy_endpoints(tp, mesh) => {
            (Source::Manifest, "minHealthPercent")
        }
        Some(_) if sends_unhealthy_endpoints(tp, mesh) => {
            (Source::IstioDefault, "0 whenever unready endpoints are sent as unhealthy (Istio 1.31)")
        }
        Some(_) => (Source::IstioDefault, "minHealthPercent unset: 0 whenever outlierDetection is present"),
        None if threshold == 0 => (Source::IstioDefault, "0 whenever unready endpoints are sent as unhealthy"),
        None => (Source::EnvoyDefault, "Istio leaves it unset"),
    };
    let meaning = if threshold == 0 { "panic disabled" } else { "panic below this healthy %" };
    out.push(set("healthy_panic_threshold", format!("{threshold}% ({meaning}; {why})"), panic_source));
    let (setting_text, setting_source) = match eff.source {
        _ if by_traffic_distribution => (
            "failoverPriority from the Service's trafficDistribution (the DR has no localityLbSetting)",
            Source::Derived,
        ),
        LbSettingSource::DestinationRule => ("the DestinationRule's localityLbSetting", Source::Manifest),
        LbSettingSource::DisabledByDestinationRule => ("off (DestinationRule enabled: false)", Source::Manifest),
        LbSettingSource::MeshDefault => ("the mesh localityLbSetting {enabled: true}", Source::IstioDefault),
        LbSettingSource::DisabledByMesh => ("off (mesh localityLbSetting enabled: false)", Source::Mesh),
    };
    out.push(set("locality setting", setting_text, setting_source));
    let distribute = eff.setting.as_ref().is_some_and(|x| !x.distribute().is_empty());
    let failover_prio = eff.setting.is_some() && enable_failover && !distribute;
    // trafficDistribution's ranking depends on the release (sub-zone on 1.25 and 1.26).
    let by_labels = eff.setting.as_ref().and_then(|x| x.failover_priority.as_ref()).map(|keys| {
        let short: Vec<&str> = keys.iter().map(|k| k.rsplit('/').next().unwrap_or(k)).collect();
        format!("on: trafficDistribution ranks endpoints by {} (P0 = closest)", short.join(", "))
    });
    out.push(set(
        "failover priorities",
        if failover_prio && by_traffic_distribution {
            by_labels.as_deref().unwrap_or("on: trafficDistribution ranks endpoints by locality (P0 = closest)")
        } else if failover_prio && od.is_none() {
            "on: endpoints are ranked by locality (P0 = closest)"
        } else if failover_prio {
            "on: outlierDetection is present, so endpoints are ranked by locality (P0 = closest)"
        } else if distribute {
            "off: distribute keeps every endpoint in P0"
        } else if eff.setting.is_none() {
            "off: locality load balancing is disabled"
        } else {
            "off: no outlierDetection, so every endpoint is in P0"
        },
        Source::Derived,
    ));
    out.push(set(
        "locality_weighted_lb_config",
        if cfg.lb.locality_weighted {
            "on: localities are picked by weight"
        } else {
            "off: hosts are picked across the priority, localities ignored"
        },
        Source::Derived,
    ));
    let lbs = tp.and_then(|t| t.load_balancer.as_ref());
    let simple = lbs.is_some_and(|lb| lb.simple.is_some() || lb.consistent_hash.is_some());
    let policy = match cfg.lb.policy {
        LbPolicy::RoundRobin => "ROUND_ROBIN".to_string(),
        LbPolicy::Random => "RANDOM".to_string(),
        LbPolicy::LeastRequest { choice_count } => format!("LEAST_REQUEST ({choice_count} choices)"),
        LbPolicy::RingHash { minimum_ring_size, .. } => format!("RING_HASH (minimum ring size {minimum_ring_size})"),
        LbPolicy::Maglev { table_size } => format!("MAGLEV (table size {table_size})"),
    };
    out.push(set("lb_policy", policy, from(simple, Source::IstioDefault)));
    let warmup_set = lbs.is_some_and(|lb| lb.warmup.is_some() || lb.warmup_duration_secs.is_some());
    match &cfg.lb.slow_start {
        Some(ss) => out.push(set(
            "slow_start_config (warmup)",
            format!("window {}, aggression {}, min_weight_percent {}", ss.window, ss.aggression, ss.min_weight_percent),
            Source::Manifest,
        )),
        None if warmup_set => out.push(set(
            "slow_start_config (warmup)",
            format!("none: {} has no slow start, so Istio drops warmup", cfg.lb.policy.envoy_name()),
            Source::Derived,
        )),
        None => {}
    }
    out.push(set("overprovisioning_factor", format!("{}%", cfg.lb.overprovisioning_factor), Source::EnvoyDefault));
    let http = tp.and_then(|t| t.connection_pool.as_ref()).and_then(|p| p.http.as_ref());
    let limit = |v: u32| if v == u32::MAX { "2^32-1 (unlimited)".to_string() } else { v.to_string() };
    let cb = &cfg.circuit_breakers;
    out.push(set(
        "max_requests (http2MaxRequests)",
        limit(cb.max_requests),
        from(http.and_then(|h| h.http2_max_requests).is_some_and(|v| v > 0), Source::IstioDefault),
    ));
    out.push(set(
        "max_pending_requests (http1MaxPendingRequests)",
        limit(cb.max_pending_requests),
        from(http.and_then(|h| h.http1_max_pending_requests).is_some_and(|v| v > 0), Source::IstioDefault),
    ));
    out.push(set(
        "max_retries (maxRetries)",
        limit(cb.max_retries),
        from(http.and_then(|h| h.max_retries).is_some_and(|v| v > 0), Source::IstioDefault),
    ));
    out
}

/// The route settings of one proxy: retries and timeout, from its VirtualService route or Istio's
/// defaults.
pub fn route_settings(route: &RouteConfig, vs_route: Option<&HttpRoute>, s: &Scenario) -> Vec<Setting> {
    let retries: Option<&HttpRetry> = vs_route.and_then(|r| r.retries.as_ref());
    let mut out = Vec::new();
    match &route.retry {
        None => out.push(set("retries", "none (retries.attempts: 0)", Source::Manifest)),
        Some(p) => {
            let codes = if p.retriable_status_codes.is_empty() {
                String::new()
            } else {
                format!(", codes {:?}", p.retriable_status_codes)
            };
            let src = if retries.is_some() { Source::Manifest } else { Source::IstioDefault };
            out.push(set("num_retries", p.num_retries.to_string(), src));
            out.push(set("retry_on", format!("{}{codes}", p.retry_on_text), src));
            if retries.is_none() && !s.mesh.settings.retry_503_by_default {
                out.push(set(
                    "503 retried",
                    "no: Istio >= 1.24 dropped 503 from the default retry policy",
                    Source::Mesh,
                ));
            }
            out.push(set(
                "per_try_timeout",
                p.per_try_timeout.map_or("none".to_string(), |d| d.to_string()),
                from(retries.is_some_and(|r| r.per_try_timeout.is_some()), Source::IstioDefault),
            ));
            out.push(set(
                "retry_host_predicate previous_hosts",
                if p.previous_hosts { "on (5 re-draws)" } else { "off" },
                from(retries.is_some_and(|r| r.retry_ignore_previous_hosts.is_some()), Source::IstioDefault),
            ));
            out.push(set(
                "retry_priority previous_priorities (retryRemoteLocalities)",
                if p.previous_priorities_update_frequency.is_some() {
                    "on"
                } else {
                    "off: retries stay in the same priority"
                },
                from(retries.is_some_and(|r| r.retry_remote_localities.is_some()), Source::IstioDefault),
            ));
        }
    }
    if let Some(h) = &route.hash_policy {
        let text = match h {
            HashPolicy::Header { name } => format!("header {name}"),
            HashPolicy::Cookie { name, ttl: Some(t) } => format!("cookie {name} (generated with ttl {t} when absent)"),
            HashPolicy::Cookie { name, ttl: None } => format!("cookie {name}"),
            HashPolicy::SourceIp => "connection source IP".to_string(),
            HashPolicy::QueryParameter { name } => format!("query parameter {name}"),
        };
        out.push(set("hash_policy (consistentHash)", text, Source::Manifest));
    }
    out.push(set(
        "route timeout",
        route.timeout.map_or("none".to_string(), |d| d.to_string()),
        from(vs_route.is_some_and(|r| r.timeout.is_some()), Source::IstioDefault),
    ));
    if let Some(f) = &route.fault {
        let pct = |p: crate::envoy::config::FractionalPercent| {
            format!("{}%", f64::from(p.numerator) * 100.0 / f64::from(p.denominator.max(1)))
        };
        if let Some(d) = f.delay {
            out.push(set(
                "fault delay",
                format!("{} for {} of requests, before routing", d.fixed_delay, pct(d.percentage)),
                Source::Manifest,
            ));
        }
        if let Some(a) = f.abort {
            out.push(set(
                "fault abort",
                format!(
                    "HTTP {} for {} of requests: answered by this proxy, never sent upstream, never retried",
                    a.http_status,
                    pct(a.percentage)
                ),
                Source::Manifest,
            ));
        }
    }
    out
}

/// The outlier-detection settings in force, `o`, with their sources: `[envoy_outlier]` (`eo`) wins,
/// then the DestinationRule's `outlierDetection` (`od`), then Istio's or Envoy's default.
fn outlier_settings(
    out: &mut Vec<Setting>,
    o: &OutlierConfig,
    od: Option<&OutlierDetection>,
    eo: Option<&EnvoyOutlierOverride>,
) {
    // Where a field comes from: `[envoy_outlier]`, the manifest, or `otherwise`.
    let src = |in_eo: bool, in_od: bool, otherwise: Source| {
        if in_eo {
            Source::EnvoyOutlier
        } else if in_od {
            Source::Manifest
        } else {
            otherwise
        }
    };
    let eo_has = |f: fn(&EnvoyOutlierOverride) -> bool| eo.is_some_and(f);
    let od_has = |f: fn(&OutlierDetection) -> bool| od.is_some_and(f);
    out.push(set("outlier_detection", "on", if od.is_some() { Source::Manifest } else { Source::EnvoyOutlier }));
    let enforced = |pct: u32| match pct {
        0 => "not enforced".to_string(),
        100 => "enforced".to_string(),
        p => format!("enforced {p}% of the time"),
    };
    out.push(set(
        "consecutive_5xx (consecutive5xxErrors)",
        format!("{} ({})", o.consecutive_5xx, enforced(o.enforcing_consecutive_5xx)),
        src(
            eo_has(|e| e.consecutive_5xx.is_some() || e.enforcing_consecutive_5xx.is_some()),
            od_has(|d| d.consecutive_5xx_errors.is_some()),
            Source::EnvoyDefault,
        ),
    ));
    out.push(set(
        "consecutive_gateway_failure (consecutiveGatewayErrors)",
        format!("{} ({})", o.consecutive_gateway_failure, enforced(o.enforcing_consecutive_gateway_failure)),
        src(
            eo_has(|e| e.consecutive_gateway_failure.is_some() || e.enforcing_consecutive_gateway_failure.is_some()),
            od_has(|d| d.consecutive_gateway_errors.is_some()),
            Source::EnvoyDefault,
        ),
    ));
    if o.split_external_local_origin_errors {
        out.push(set(
            "consecutive_local_origin_failure (consecutiveLocalOriginFailures)",
            format!(
                "{} ({}; split_external_local_origin_errors on)",
                o.consecutive_local_origin_failure,
                enforced(o.enforcing_consecutive_local_origin_failure)
            ),
            src(
                eo_has(|e| {
                    e.consecutive_local_origin_failure.is_some()
                        || e.enforcing_consecutive_local_origin_failure.is_some()
                        || e.split_external_local_origin_errors.is_some()
                }),
                od_has(|d| d.split_external_local_origin_errors.is_some()),
                Source::EnvoyDefault,
            ),
        ));
    }
    out.push(set(
        "interval",
        o.interval.to_string(),
        src(eo_has(|e| e.interval.is_some()), od_has(|d| d.interval.is_some()), Source::EnvoyDefault),
    ));
    out.push(set(
        "base_ejection_time (baseEjectionTime)",
        o.base_ejection_time.to_string(),
        src(
            eo_has(|e| e.base_ejection_time.is_some()),
            od_has(|d| d.base_ejection_time.is_some()),
            Source::EnvoyDefault,
        ),
    ));
    let max_set = eo_has(|e| e.max_ejection_time.is_some());
    out.push(set(
        "max_ejection_time",
        if max_set {
            o.max_ejection_time.to_string()
        } else {
            format!("{} (unset: max(300s, base_ejection_time); Istio cannot set it)", o.max_ejection_time)
        },
        if max_set { Source::EnvoyOutlier } else { Source::EnvoyDefault },
    ));
    if eo_has(|e| e.max_ejection_time_jitter.is_some()) {
        out.push(set("max_ejection_time_jitter", o.max_ejection_time_jitter.to_string(), Source::EnvoyOutlier));
    }
    let mep_in_od = od.and_then(|d| d.max_ejection_percent);
    let note = if mep_in_od == Some(0) && !eo_has(|e| e.max_ejection_percent.is_some()) {
        " (0 cannot be expressed: Envoy's 10 applies)"
    } else {
        ""
    };
    out.push(set(
        "max_ejection_percent (maxEjectionPercent)",
        format!("{}%{note}", o.max_ejection_percent),
        src(eo_has(|e| e.max_ejection_percent.is_some()), mep_in_od.is_some_and(|p| p > 0), Source::EnvoyDefault),
    ));
    if eo_has(|e| e.always_eject_one_host.is_some()) {
        out.push(set("always_eject_one_host", o.always_eject_one_host.to_string(), Source::EnvoyOutlier));
    }
    let rule = match o.max_ejection_rule {
        MaxEjectionRule::AfterEjection => "eject iff 100 x (ejected + 1) / hosts <= max (Envoy >= 1.28)",
        MaxEjectionRule::FirstOrAfterEjection => "first ejection always, then after-ejection rule (Envoy 1.27)",
        MaxEjectionRule::BeforeEjection => "eject if 100 x ejected / hosts < max (Envoy <= 1.26)",
    };
    out.push(set("max-ejection admission", rule, Source::Mesh));
    let sr_eo = eo_has(|e| e.enforcing_success_rate.is_some());
    out.push(set(
        "enforcing_success_rate",
        if o.enforcing_success_rate == 0 {
            "0 (success-rate ejection off)".to_string()
        } else {
            format!(
                "{}% (success rate below mean - {}.{:03} x stdev, over hosts with >= {} requests per interval, \
                 when >= {} such hosts)",
                o.enforcing_success_rate,
                o.success_rate_stdev_factor / 1000,
                o.success_rate_stdev_factor % 1000,
                o.success_rate_request_volume,
                o.success_rate_minimum_hosts
            )
        },
        if sr_eo {
            Source::EnvoyOutlier
        } else if od.is_some() {
            Source::IstioDefault
        } else {
            Source::EnvoyDefault
        },
    ));
    out.push(set(
        "enforcing_failure_percentage",
        if o.enforcing_failure_percentage == 0 {
            "0 (failure-percentage ejection off)".to_string()
        } else {
            format!(
                "{}% (failure rate >= {}%, over hosts with >= {} requests per interval, when >= {} such hosts)",
                o.enforcing_failure_percentage,
                o.failure_percentage_threshold,
                o.failure_percentage_request_volume,
                o.failure_percentage_minimum_hosts
            )
        },
        if eo_has(|e| e.enforcing_failure_percentage.is_some()) { Source::EnvoyOutlier } else { Source::EnvoyDefault },
    ));
}
