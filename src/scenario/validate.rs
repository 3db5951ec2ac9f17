//! `RawScenario` → `Scenario`: units converted, names resolved to ids, invariants checked. Every
//! error names the scenario path of the offending field.

use crate::engine::{SimDuration, SimTime};
use crate::envoy::config::{Locality, MaxEjectionRule};
use crate::istio::select::{ConfigResource, ResourceSpec};
use crate::istio::translate::{MeshSettings, UnreadyEndpoints};
use crate::model::ids::{KubeClusterId, ProxyGroupId};

use super::ScenarioError;
use super::expect::{ExpectContext, Expectation, parse_expectations};
use super::schema::*;
use super::types::*;

/// Converts and checks a parsed scenario. `file` labels errors.
pub fn validate(mut raw: RawScenario, file: &str) -> Result<Scenario, ScenarioError> {
    let v = Validator { file };
    if let Err(why) = check_name(&raw.name) {
        return Err(v.err("name", &why));
    }
    let duration = v.duration("duration", &raw.duration)?;
    if duration.is_zero() {
        return Err(v.err("duration", "must be longer than 0s"));
    }
    let output = raw.output.clone().unwrap_or_default();
    let bucket = v.opt_duration("output.bucket", &output.bucket, SimDuration::from_secs(1))?;
    if bucket < crate::metrics::recorder::MIN_BUCKET {
        return Err(v.err("output.bucket", "must be at least 1ms"));
    }
    if crate::metrics::recorder::fine_slot(bucket).is_some_and(|slot| slot < crate::metrics::recorder::MIN_BUCKET) {
        return Err(v.err(
            "output.bucket",
            &format!("{bucket} is not a whole number of milliseconds (the finest time series is 1ms)"),
        ));
    }
    let failover_share = v.fraction("output.failover_share", output.failover_share.unwrap_or(0.05))?;
    let failback_tolerance = v.fraction("output.failback_tolerance", output.failback_tolerance.unwrap_or(0.10))?;
    let limits = v.limits(raw.limits.clone().unwrap_or_default())?;
    let mesh = v.mesh(raw.mesh.clone().unwrap_or_default())?;
    let kube_clusters = v.kube_clusters(&raw.clusters)?;
    let network = v.network(raw.network.clone().unwrap_or_default(), &kube_clusters)?;
    let mut service = v.service(&raw.service, &kube_clusters)?;
    let services = v.other_services(&raw.services, &mut service, &kube_clusters)?;
    v.traffic_distribution_supported(&raw.service, &mesh)?;
    let proxy_groups = v.proxy_groups(&raw.proxies, &kube_clusters, &service)?;
    let workload = v.workload(&raw.workload, &proxy_groups, duration, &service.host)?;
    let faults = v.faults(&raw.faults, &service, &services, &kube_clusters)?;
    let phases = v.phases(&raw.phases, &faults)?;
    let policy = raw.policy.take().unwrap_or_default();
    if !policy.manifests.is_empty() {
        return Err(v.err(
            "policy.manifests",
            "was set after the manifests were read (by a sweep axis?); manifests are read once, when the \
             scenario loads: name them in the scenario or with --set, and sweep their fields instead",
        ));
    }
    let envoy_outlier = v.envoy_outlier(&raw.envoy_outlier)?;
    let mut east_west_gateways = v.east_west_gateways(&raw.east_west_gateways, &kube_clusters)?;
    let root_namespace = match &raw.mesh.as_ref().and_then(|m| m.root_namespace.clone()) {
        Some(ns) if ns.is_empty() => return Err(v.err("mesh.root_namespace", "must not be empty")),
        Some(ns) => ns.clone(),
        None => crate::istio::select::DEFAULT_ROOT_NAMESPACE.to_string(),
    };
    let resources = v.resources(&policy, &service, &kube_clusters)?;
    // A field newer than the mesh's Istio release would be dropped by its API server.
    for (i, r) in resources.iter().enumerate() {
        if let ResourceSpec::DestinationRule(dr) = &r.spec
            && let Err(e) = crate::istio::lb_policy::check_istio_version(dr, mesh.settings.istio_minor)
        {
            let (path, prefix) = if r.source.starts_with("policy.") {
                (format!("{}.{}", r.source, e.path), String::new())
            } else {
                (format!("policy.resources[{i}].spec.{}", e.path), format!("{} ({}): ", r.id(), r.source))
            };
            return Err(v.err(&path, &format!("{prefix}{}", e.message)));
        }
    }
    let mut proxy_groups = proxy_groups;
    v.select(
        &resources,
        &service,
        &services,
        &kube_clusters,
        &root_namespace,
        &mut proxy_groups,
        &mut east_west_gateways,
    )?;
    let policy = Policy {
        resources,
        root_namespace,
        skipped: policy.skipped.iter().map(|s| (s.source.clone(), s.kinds.clone())).collect(),
        unmodelled: policy.unmodelled.clone(),
    };
    let ctx = ExpectContext {
        phases: &phases,
        faults: &faults,
        clusters: &kube_clusters,
        service: &service,
        services: &services,
        groups: &proxy_groups,
        gateways: &east_west_gateways,
        run: duration,
    };
    let mut expectations: Vec<Expectation> =
        parse_expectations(&raw.expect, &ctx).map_err(|(path, msg)| v.err(&path, &msg))?;
    // A run shortened with `--set duration=...` drops the faults and phases past its end, and the
    // expectations about them. Both lists are in time order, so what remains is a prefix and the
    // indices held by the remaining expectations stay valid.
    let end = SimTime(duration.as_nanos());
    let mut faults = faults;
    let mut phases = phases;
    let mut skipped_expectations = Vec::new();
    expectations.retain(|e| {
        let past = expectation_past_end(e, &faults, &phases, end);
        if past {
            let why = format!("not measured: what it measures is at or after the end of the run ({duration})");
            skipped_expectations.push((e.name.clone(), why));
        }
        !past
    });
    faults.retain(|f| f.at < end);
    phases.retain(|p| p.start < end);
    for e in &mut expectations {
        if let super::expect::Window::Span { to, .. } = &mut e.window {
            *to = (*to).min(end);
        }
    }
    // Per group: the DestinationRule Istio's selection gave it.
    let has_outlier_detection = |g: &ProxyGroupSpec| {
        g.selection.traffic_policy().is_some_and(|tp| tp.outlier_detection.is_some()) || envoy_outlier.is_some()
    };
    if let Some(i) = proxy_groups.iter().position(|g| g.outlier_timer_start.is_some() && !has_outlier_detection(g)) {
        return Err(v.err(
            &format!("proxies[{i}].outlier_timer_start"),
            "there is no outlier-detection timer: the DestinationRule this proxy gets has no outlierDetection and \
             there is no [envoy_outlier]",
        ));
    }
    let scenario = Scenario {
        name: raw.name.clone(),
        description: raw.description.clone().unwrap_or_default(),
        seed: raw.seed.unwrap_or(1),
        duration,
        bucket,
        log_interval_ticks: output.log_interval_ticks.unwrap_or(false),
        failover_share,
        failback_tolerance,
        max_events: limits.max_events,
        max_in_flight: limits.max_in_flight,
        max_memory: limits.max_memory,
        mesh,
        kube_clusters,
        network,
        service,
        services,
        policy,
        envoy_outlier,
        east_west_gateways,
        proxy_groups,
        workload,
        faults,
        phases,
        expectations,
        variants: Vec::new(),
        skipped_expectations,
    };
    v.outlier_in_force(&scenario)?;
    v.routes_in_force(&scenario)?;
    super::budget::check(&scenario).map_err(|m| v.err("limits.max_memory", &m))?;
    Ok(scenario)
}

/// Longest scenario `name`.
pub const NAME_MAX: usize = 100;

/// A scenario's `name` names its default output folder, `output/<name>`, so it must be one plain
/// file name: 1 to [`NAME_MAX`] ASCII letters, digits, `.`, `_` or `-`, not starting with `.`
/// (which also rules out `.` and `..`, and meshsim's own hidden staging names).
pub fn check_name(name: &str) -> Result<(), String> {
    let rule = "must be a plain file name (it names the output folder): 1 to 100 letters, digits, `.`, `_` or `-`, \
                not starting with `.`";
    if name.is_empty() {
        return Err(format!("is empty; {rule}"));
    }
    if name.len() > NAME_MAX {
        return Err(format!("is {} characters long; {rule}", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("`{name}` contains {c:?}; {rule}"));
    }
    if name.starts_with('.') {
        return Err(format!("`{name}` starts with `.`; {rule}"));
    }
    Ok(())
}

struct Validator<'a> {
    file: &'a str,
}

impl Validator<'_> {
    fn err(&self, path: &str, message: &str) -> ScenarioError {
        ScenarioError::Field { file: self.file.to_string(), path: path.to_string(), message: message.to_string() }
    }

    fn duration(&self, path: &str, text: &str) -> Result<SimDuration, ScenarioError> {
        text.parse::<SimDuration>().map_err(|e| self.err(path, &e.to_string()))
    }

    fn opt_duration(
        &self,
        path: &str,
        text: &Option<String>,
        default: SimDuration,
    ) -> Result<SimDuration, ScenarioError> {
        match text {
            Some(t) => self.duration(path, t),
            None => Ok(default),
        }
    }

    /// `outlier_timer_start`: one duration for every replica, or one per replica.
    fn timer_starts(
        &self,
        path: &str,
        v: Option<&toml::Value>,
        replicas: u32,
    ) -> Result<Option<Vec<SimTime>>, ScenarioError> {
        let field = format!("{path}.outlier_timer_start");
        let at = |p: &str, v: &toml::Value| -> Result<SimTime, ScenarioError> {
            let text =
                v.as_str().ok_or_else(|| self.err(p, &format!("expected a duration such as \"0s\", got `{v}`")))?;
            Ok(SimTime(self.duration(p, text)?.as_nanos()))
        };
        match v {
            None => Ok(None),
            Some(toml::Value::Array(list)) => {
                if list.len() != replicas as usize {
                    return Err(self.err(
                        &field,
                        &format!(
                            "lists {} starts for {replicas} replicas: give one per replica, or one string for all",
                            list.len()
                        ),
                    ));
                }
                let starts = list.iter().enumerate().map(|(i, x)| at(&format!("{field}[{i}]"), x));
                Ok(Some(starts.collect::<Result<_, _>>()?))
            }
            Some(one) => Ok(Some(vec![at(&field, one)?])),
        }
    }

    /// Scripted arrival times: durations in non-decreasing order; those at or after the end of
    /// the run are dropped (as a shortened run drops its later faults).
    fn arrival_times(&self, path: &str, times: &[String], run: SimDuration) -> Result<Vec<SimTime>, ScenarioError> {
        let mut out: Vec<SimTime> = Vec::with_capacity(times.len());
        for (i, t) in times.iter().enumerate() {
            let at = SimTime(self.duration(&format!("{path}[{i}]"), t)?.as_nanos());
            if out.last().is_some_and(|prev| *prev > at) {
                return Err(self.err(&format!("{path}[{i}]"), "arrival times must be in time order"));
            }
            out.push(at);
        }
        if out.is_empty() {
            return Err(self.err(path, "lists no arrival; give at least one time"));
        }
        out.retain(|t| t.as_nanos() < run.as_nanos());
        Ok(out)
    }

    /// One scripted answer: an HTTP status, `"refuse"` or `"hang"`.
    fn script_step(&self, path: &str, v: &toml::Value) -> Result<ScriptStep, ScenarioError> {
        match v {
            toml::Value::Integer(code) if (100..=599).contains(code) => Ok(ScriptStep::Status(*code as u16)),
            toml::Value::String(s) if s == "refuse" => Ok(ScriptStep::Refuse),
            toml::Value::String(s) if s == "hang" => Ok(ScriptStep::Hang),
            other => Err(self.err(
                path,
                &format!("`{other}` is not an answer: give an HTTP status (100 to 599), \"refuse\" or \"hang\""),
            )),
        }
    }

    fn script(&self, path: &str, f: &RawFault) -> Result<FaultAction, ScenarioError> {
        let list = f.responses.as_ref().ok_or_else(|| {
            self.err(&format!("{path}.responses"), "is required for action `script` (e.g. [500, 500, 404])")
        })?;
        if list.is_empty() {
            return Err(self.err(&format!("{path}.responses"), "lists no answer; give at least one"));
        }
        let steps = list
            .iter()
            .enumerate()
            .map(|(i, v)| self.script_step(&format!("{path}.responses[{i}]"), v))
            .collect::<Result<Vec<_>, _>>()?;
        let then = match &f.then {
            None => ScriptThen::Healthy,
            Some(toml::Value::String(s)) if s == "healthy" => ScriptThen::Healthy,
            Some(toml::Value::String(s)) if s == "repeat" => ScriptThen::Repeat,
            Some(v) => ScriptThen::Hold(self.script_step(&format!("{path}.then"), v).map_err(|_| {
                self.err(
                    &format!("{path}.then"),
                    &format!("`{v}` is not \"healthy\", \"repeat\", an HTTP status, \"refuse\" or \"hang\""),
                )
            })?),
        };
        Ok(FaultAction::Script { steps, then })
    }

    fn fraction(&self, path: &str, x: f64) -> Result<f64, ScenarioError> {
        if !(0.0..=1.0).contains(&x) {
            return Err(self.err(path, &format!("{x} is not a fraction between 0 and 1")));
        }
        Ok(x)
    }

    /// `[limits]`: each at least 1; `max_memory` a byte size.
    fn limits(&self, l: RawLimits) -> Result<Limits, ScenarioError> {
        let positive = |key: &str, v: Option<u64>, default: u64| -> Result<u64, ScenarioError> {
            match v {
                Some(0) => {
                    Err(self.err(&format!("limits.{key}"), "must be at least 1 (0 would stop every run at once)"))
                }
                Some(n) => Ok(n),
                None => Ok(default),
            }
        };
        let max_memory = match &l.max_memory {
            None => super::budget::MAX_MEMORY_DEFAULT,
            Some(v) => super::budget::parse_bytes(v).map_err(|m| self.err("limits.max_memory", &m))?,
        };
        if max_memory == 0 {
            return Err(self.err("limits.max_memory", "must be more than 0 bytes"));
        }
        Ok(Limits {
            max_events: positive("max_events", l.max_events, super::budget::MAX_EVENTS_DEFAULT)?,
            max_in_flight: positive("max_in_flight", l.max_in_flight, super::budget::MAX_IN_FLIGHT_DEFAULT)?,
            max_memory,
        })
    }

    fn mesh(&self, m: RawMesh) -> Result<MeshConfig, ScenarioError> {
        let mut settings = match &m.istio_version {
            None => MeshSettings::default(),
            Some(toml::Value::String(v)) => MeshSettings::for_istio_minor(self.istio_minor("mesh.istio_version", v)?),
            Some(other) => {
                return Err(self.err(
                    "mesh.istio_version",
                    &format!(
                        "write the release as a string, e.g. \"1.30\" (got `{other}`; as a number 1.30 would read as 1.3)"
                    ),
                ));
            }
        };
        if let Some(rule) = &m.max_ejection_rule {
            settings.max_ejection_rule = match rule.as_str() {
                "after-ejection" => MaxEjectionRule::AfterEjection,
                "first-or-after-ejection" => MaxEjectionRule::FirstOrAfterEjection,
                "before-ejection" => MaxEjectionRule::BeforeEjection,
                other => {
                    return Err(self.err(
                        "mesh.max_ejection_rule",
                        &format!("`{other}` is not one of \"after-ejection\" (Envoy >= 1.28), \"first-or-after-ejection\" (1.27), \"before-ejection\" (<= 1.26)"),
                    ));
                }
            };
        }
        if let Some(b) = m.default_retry_503 {
            settings.retry_503_by_default = b;
        }
        if let Some(b) = m.send_unready_endpoints {
            settings.unready_endpoints = if b { UnreadyEndpoints::SendUnhealthy } else { UnreadyEndpoints::Drop };
        }
        if let Some(b) = m.enable_locality_weighted_lb_config {
            settings.enable_locality_weighted_lb_config = b;
        }
        if let Some(b) = m.locality_lb_enabled {
            settings.locality_lb_setting.enabled = Some(b);
        }
        if let Some(t) = &m.connect_timeout {
            settings.connect_timeout = self.duration("mesh.connect_timeout", t)?;
        }
        let eds_push_delay =
            self.opt_duration("mesh.eds_push_delay", &m.eds_push_delay, SimDuration::from_millis(100))?;
        Ok(MeshConfig { settings, eds_push_delay })
    }

    /// Service `trafficDistribution` on a release whose sidecars and gateways read it: `PreferClose`
    /// from Istio 1.25 (istio/istio#54715, commit b2aba6fb, first in the tag `1.25.0`, release note
    /// `releasenotes/notes/traffic-distribution.yaml`; before, only ambient's ztunnel did),
    /// `PreferSameZone` and `PreferSameNode` from 1.27 (istio/istio#56042, commit 6e14c7dc, first in
    /// `1.27.0`: `TrafficDistributionPreferSameZone` and `...PreferSameNode` in
    /// `pilot/pkg/model/service.go`). Checked in pilot's source at those tags; what each stands for
    /// is [`crate::model::build::traffic_distribution_setting`]. On an older release the field
    /// would do nothing, so it is refused rather than ignored.
    fn traffic_distribution_supported(&self, s: &RawService, mesh: &MeshConfig) -> Result<(), ScenarioError> {
        let Some(td) = s.traffic_distribution.as_deref() else { return Ok(()) };
        let since = if td == "PreferClose" { 25 } else { 27 };
        let minor = mesh.settings.istio_minor;
        if minor < since {
            return Err(self.err(
                "service.traffic_distribution",
                &format!(
                    "Istio 1.{minor} sidecars and gateways ignore `{td}` (read from Istio 1.{since} on): remove it, \
                     use a DestinationRule localityLbSetting, or set mesh.istio_version to \"1.{since}\" or later"
                ),
            ));
        }
        Ok(())
    }

    /// The minor of an Istio release written `1.N` or `1.N.P`.
    fn istio_minor(&self, path: &str, text: &str) -> Result<u32, ScenarioError> {
        let bad = || self.err(path, &format!("`{text}` is not an Istio release such as \"1.22\" or \"1.22.3\""));
        let mut parts = text.trim().split('.');
        let (major, minor) = (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
        let patch_ok = match (parts.next(), parts.next()) {
            (None, _) => true,
            (Some(p), None) => p.parse::<u32>().is_ok(),
            _ => false,
        };
        if major != "1" || !patch_ok {
            return Err(bad());
        }
        minor.parse::<u32>().map_err(|_| bad())
    }

    fn envoy_outlier(&self, raw: &Option<RawEnvoyOutlier>) -> Result<Option<EnvoyOutlierOverride>, ScenarioError> {
        let Some(o) = raw else { return Ok(None) };
        let p = "envoy_outlier";
        let percent = |field: &str, v: Option<u32>| -> Result<Option<u32>, ScenarioError> {
            match v {
                Some(x) if x > 100 => {
                    Err(self.err(&format!("{p}.{field}"), &format!("{x} is not a percentage 0..=100")))
                }
                _ => Ok(v),
            }
        };
        let dur = |field: &str, v: &Option<String>| -> Result<Option<SimDuration>, ScenarioError> {
            v.as_ref().map(|t| self.duration(&format!("{p}.{field}"), t)).transpose()
        };
        let out = EnvoyOutlierOverride {
            consecutive_5xx: o.consecutive_5xx,
            consecutive_gateway_failure: o.consecutive_gateway_failure,
            consecutive_local_origin_failure: o.consecutive_local_origin_failure,
            split_external_local_origin_errors: o.split_external_local_origin_errors,
            interval: dur("interval", &o.interval)?,
            base_ejection_time: dur("base_ejection_time", &o.base_ejection_time)?,
            max_ejection_time: dur("max_ejection_time", &o.max_ejection_time)?,
            max_ejection_time_jitter: dur("max_ejection_time_jitter", &o.max_ejection_time_jitter)?,
            max_ejection_percent: percent("max_ejection_percent", o.max_ejection_percent)?,
            always_eject_one_host: o.always_eject_one_host,
            enforcing_consecutive_5xx: percent("enforcing_consecutive_5xx", o.enforcing_consecutive_5xx)?,
            enforcing_consecutive_gateway_failure: percent(
                "enforcing_consecutive_gateway_failure",
                o.enforcing_consecutive_gateway_failure,
            )?,
            enforcing_consecutive_local_origin_failure: percent(
                "enforcing_consecutive_local_origin_failure",
                o.enforcing_consecutive_local_origin_failure,
            )?,
            enforcing_success_rate: percent("enforcing_success_rate", o.enforcing_success_rate)?,
            enforcing_local_origin_success_rate: percent(
                "enforcing_local_origin_success_rate",
                o.enforcing_local_origin_success_rate,
            )?,
            enforcing_failure_percentage: percent("enforcing_failure_percentage", o.enforcing_failure_percentage)?,
            enforcing_failure_percentage_local_origin: percent(
                "enforcing_failure_percentage_local_origin",
                o.enforcing_failure_percentage_local_origin,
            )?,
            success_rate_minimum_hosts: o.success_rate_minimum_hosts,
            success_rate_request_volume: o.success_rate_request_volume,
            success_rate_stdev_factor: o.success_rate_stdev_factor,
            failure_percentage_threshold: percent("failure_percentage_threshold", o.failure_percentage_threshold)?,
            failure_percentage_minimum_hosts: o.failure_percentage_minimum_hosts,
            failure_percentage_request_volume: o.failure_percentage_request_volume,
        };
        for (field, d) in [("interval", out.interval), ("base_ejection_time", out.base_ejection_time)] {
            if d.is_some_and(|d| d < SimDuration::from_millis(1)) {
                return Err(self.err(&format!("{p}.{field}"), "must be at least 1ms (Envoy requires > 0)"));
            }
        }
        if let (Some(max), Some(base)) = (out.max_ejection_time, out.base_ejection_time)
            && max < base
        {
            return Err(self.err(
                &format!("{p}.max_ejection_time"),
                &format!("{max} is below base_ejection_time {base}; Envoy rejects such a cluster"),
            ));
        }
        Ok(Some(out))
    }

    /// The Istio resources: `policy.resources` typed and validated as Istio's webhook would, then
    /// the inline `destination_rule`, `virtual_service` and `gateways` (in the service's
    /// namespace). Errors name the resource and the field.
    fn resources(
        &self,
        policy: &RawPolicy,
        service: &ServiceSpec,
        clusters: &[KubeClusterSpec],
    ) -> Result<Vec<ConfigResource>, ScenarioError> {
        let mut out = Vec::new();
        for (i, r) in policy.resources.iter().enumerate() {
            let path = format!("policy.resources[{i}]");
            let id = crate::kube::resource_id(&r.kind, &r.namespace, &r.name);
            let from = r.source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
            let at =
                |field: &str, message: &str| self.err(&format!("{path}.{field}"), &format!("{id}{from}: {message}"));
            fn typed<T: serde::de::DeserializeOwned>(v: &toml::Value) -> Result<T, (String, String)> {
                crate::scenario::deserialize_tracked(v.clone()).map_err(|e| {
                    let p = e.path().to_string();
                    (
                        if p == "." { String::new() } else { format!(".{p}") },
                        crate::suggest::with_suggestion(e.into_inner().message().trim_end()),
                    )
                })
            }
            let spec = match r.kind.as_str() {
                "DestinationRule" => typed(&r.spec).map(ResourceSpec::DestinationRule),
                "VirtualService" => typed(&r.spec).map(ResourceSpec::VirtualService),
                "Gateway" => typed(&r.spec).map(ResourceSpec::Gateway),
                other => {
                    return Err(self.err(
                        &format!("{path}.kind"),
                        &format!("`{other}` is not one of \"DestinationRule\", \"VirtualService\", \"Gateway\""),
                    ));
                }
            }
            .map_err(|(p, m)| at(&format!("spec{p}"), &m))?;
            for (field, value) in [("name", &r.name), ("namespace", &r.namespace)] {
                if value.is_empty() {
                    return Err(at(field, "must not be empty"));
                }
            }
            let created = match &r.created {
                None => None,
                Some(t) => Some(crate::kube::parse_timestamp(t).map_err(|m| at("created", &m))?),
            };
            if let Some(list) = &r.clusters {
                for (j, c) in list.iter().enumerate() {
                    if !clusters.iter().any(|k| k.cluster_id == *c) {
                        let known: std::collections::BTreeSet<&str> =
                            clusters.iter().map(|k| k.cluster_id.as_str()).collect();
                        return Err(at(
                            &format!("clusters[{j}]"),
                            &format!(
                                "no cluster has the ID `{c}` (cluster IDs: {})",
                                known.into_iter().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                }
            }
            self.istio_valid(&spec, &r.namespace, &format!("{path}.spec"), &format!("{id}{from}: "))?;
            out.push(ConfigResource {
                name: r.name.clone(),
                namespace: r.namespace.clone(),
                created,
                cluster_ids: r.clusters.clone(),
                source: r.source.clone().unwrap_or_else(|| path.clone()),
                spec,
            });
        }
        let inline = |name: &str, source: &str, spec: ResourceSpec| ConfigResource {
            name: name.to_string(),
            namespace: service.namespace.clone(),
            created: None,
            cluster_ids: None,
            source: source.to_string(),
            spec,
        };
        if let Some(dr) = &policy.destination_rule {
            let spec = ResourceSpec::DestinationRule(dr.clone());
            self.istio_valid(&spec, &service.namespace, "policy.destination_rule", "")?;
            if let Some(message) = crate::istio::host::destination_rule_mismatch(&dr.host, None, &service.host) {
                return Err(self.err("policy.destination_rule.host", &message));
            }
            out.push(inline("inline", "policy.destination_rule", spec));
        }
        if let Some(vs) = &policy.virtual_service {
            let spec = ResourceSpec::VirtualService(vs.clone());
            self.istio_valid(&spec, &service.namespace, "policy.virtual_service", "")?;
            out.push(inline("inline", "policy.virtual_service", spec));
        }
        for (name, gw) in &policy.gateways {
            out.push(inline(name, &format!("policy.gateways.{name}"), ResourceSpec::Gateway(gw.clone())));
        }
        Ok(out)
    }

    /// Istio's admission checks of one resource; the first error, at `path`.
    fn istio_valid(&self, spec: &ResourceSpec, namespace: &str, path: &str, prefix: &str) -> Result<(), ScenarioError> {
        let mut errors = match spec {
            ResourceSpec::DestinationRule(dr) => crate::istio::validate::validate_destination_rule(dr).err(),
            ResourceSpec::VirtualService(vs) => crate::istio::validate::validate_virtual_service(vs).err(),
            ResourceSpec::Gateway(_) => None,
        }
        .map(|e| match e {
            crate::istio::IstioError::Invalid { errors, .. } => errors,
            _ => Vec::new(),
        })
        .unwrap_or_default();
        errors.extend(crate::istio::validate::validate_in_namespace(spec, namespace));
        match errors.first() {
            None => Ok(()),
            Some(first) => Err(self.err(&format!("{path}.{}", first.path), &format!("{prefix}{}", first.message))),
        }
    }

    /// Runs Istio's selection for every client proxy group and east-west gateway.
    fn select(
        &self,
        resources: &[ConfigResource],
        service: &ServiceSpec,
        others: &[OtherServiceSpec],
        clusters: &[KubeClusterSpec],
        root: &str,
        groups: &mut [ProxyGroupSpec],
        ew: &mut [EastWestGatewaySpec],
    ) -> Result<(), ScenarioError> {
        use crate::istio::select::{Client, Role, Service, select};
        let other_hosts: Vec<String> = others.iter().map(|o| o.host.clone()).collect();
        let svc = Service {
            host: &service.host,
            namespace: &service.namespace,
            domain: &service.domain,
            others: &other_hosts,
        };
        // Each other host's DestinationRule, selected for the proxy as Istio selects it for that
        // host (`Role::EastWest`: the DestinationRule only; routes are the main host's).
        let host_selections =
            |cluster_id: &str, namespace: &str, labels: &std::collections::BTreeMap<String, String>| {
                others
                    .iter()
                    .map(|o| {
                        let other =
                            Service { host: &o.host, namespace: &o.namespace, domain: &service.domain, others: &[] };
                        let client = Client { cluster_id, namespace, labels, role: Role::EastWest };
                        select(resources, &client, &other, root).unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
            };
        for (i, g) in groups.iter_mut().enumerate() {
            let cluster_id = clusters[g.cluster.idx()].cluster_id.clone();
            let run = |named: Option<&str>, role_kind: ProxyKind| {
                let role = match role_kind {
                    ProxyKind::Sidecar => Role::Sidecar,
                    ProxyKind::Gateway => Role::Gateway { named },
                };
                let client = Client { cluster_id: &cluster_id, namespace: &g.namespace, labels: &g.labels, role };
                select(resources, &client, &svc, root)
            };
            let mut selection = run(g.gateway.as_deref(), g.kind);
            // A gateway no Gateway selects keeps the old default: it serves a Gateway named as
            // the group (which VirtualServices may bind to by name).
            if g.kind == ProxyKind::Gateway
                && g.gateway.is_none()
                && selection.as_ref().is_ok_and(|s| s.gateways.is_empty())
            {
                g.gateway = Some(g.name.clone());
                selection = run(g.gateway.as_deref(), g.kind);
            }
            g.selection = selection.map_err(|m| self.err(&format!("proxies[{i}]"), &format!("`{}`: {m}", g.name)))?;
            g.host_selections = host_selections(&cluster_id, &g.namespace, &g.labels);
        }
        for (i, gw) in ew.iter_mut().enumerate() {
            let cluster_id = clusters[gw.cluster.idx()].cluster_id.clone();
            let client =
                Client { cluster_id: &cluster_id, namespace: &gw.namespace, labels: &gw.labels, role: Role::EastWest };
            gw.selection = select(resources, &client, &svc, root)
                .map_err(|m| self.err(&format!("east_west_gateways[{i}]"), &m))?;
            gw.host_selections = host_selections(&cluster_id, &gw.namespace, &gw.labels);
        }
        Ok(())
    }

    /// Each proxy group's route table (`model::routes`) checked for what meshsim cannot run: more
    /// than [`crate::model::routes::MAX_ROUTES`] routes or a route over more than
    /// [`crate::model::routes::MAX_DESTINATIONS`] destinations, and a request class whose route
    /// sends it to a host the scenario does not declare (`[service]` and `[[services]]`).
    fn routes_in_force(&self, s: &Scenario) -> Result<(), ScenarioError> {
        use crate::model::routes::{MAX_DESTINATIONS, MAX_REGEX_WORK, MAX_ROUTES, class_routes, tables};
        let tables = tables(s);
        for (g, t) in tables.iter().enumerate() {
            let name = &s.proxy_groups[g].name;
            if t.routes.len() > MAX_ROUTES {
                return Err(self.err(
                    &format!("proxies[{g}]"),
                    &format!(
                        "`{name}` gets {} routes (one per `match` entry); meshsim takes at most {MAX_ROUTES}",
                        t.routes.len()
                    ),
                ));
            }
            if let Some(r) = t.routes.iter().find(|r| r.destinations.len() > MAX_DESTINATIONS) {
                return Err(self.err(
                    &format!("proxies[{g}]"),
                    &format!(
                        "{} splits over {} destinations; meshsim takes at most {MAX_DESTINATIONS}",
                        r.label,
                        r.destinations.len()
                    ),
                ));
            }
        }
        for (i, w) in s.workload.iter().enumerate() {
            let t = &tables[w.group.idx()];
            // Regex matching runs once per class and route at every run's start: bound its work
            // (steps ≈ regex size × bytes of the request's attributes) before doing it.
            let per_byte: u64 = t.routes.iter().map(|r| r.matcher.regex_size()).fold(0, u64::saturating_add);
            let bytes: u64 = w.requests.iter().map(|c| c.attrs.longest_value()).max().unwrap_or(64);
            let work = per_byte.saturating_mul(bytes).saturating_mul(w.requests.len().max(1) as u64);
            if work > MAX_REGEX_WORK {
                return Err(self.err(
                    &format!("workload[{i}].requests"),
                    &format!(
                        "matching its {} request classes against the regexes of `{}`'s routes would take about \
                         {work} steps per run (meshsim allows {MAX_REGEX_WORK}): use fewer or smaller regexes, \
                         `prefix`/`exact` matches, or fewer classes",
                        w.requests.len().max(1),
                        s.proxy_groups[w.group.idx()].name
                    ),
                ));
            }
            for (c, route) in class_routes(t, &w.requests, &s.service.host).iter().enumerate() {
                let Some(r) = route.map(|r| &t.routes[usize::from(r)]) else { continue };
                if let Some(d) = r.destinations.iter().find(|d| s.host_index(&d.host).is_none()) {
                    let (path, class) = if w.requests.is_empty() {
                        (format!("workload[{i}]"), "its requests (GET /)".to_string())
                    } else {
                        (format!("workload[{i}].requests[{c}]"), format!("its requests `{}`", w.requests[c].describe()))
                    };
                    return Err(self.err(
                        &path,
                        &format!(
                            "{class} through `{}` take {}, which sends them to {}, a host the scenario does not \
                             declare (it simulates {}): declare it as a [[services]] table with `host = \"{}\"` and \
                             its `deployments`, or route this class elsewhere",
                            s.proxy_groups[w.group.idx()].name,
                            r.label,
                            d.host,
                            (0..s.n_hosts()).map(|h| s.host_name(h)).collect::<Vec<_>>().join(", "),
                            d.host
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The outlier detection in force (the DestinationRule's translation with `[envoy_outlier]`
    /// laid over it) checked as Envoy checks a cluster: `DetectorImpl::create`
    /// (`source/common/upstream/outlier_detection_impl.cc`) rejects a `max_ejection_time` below
    /// `base_ejection_time`. The error names both fields, wherever each was set. Every cluster
    /// a proxy gets is checked: the default one and each subset's, with its merged policy
    /// (`model::build::cluster_plans`); a subset's error names the subset and its cluster.
    fn outlier_in_force(&self, s: &Scenario) -> Result<(), ScenarioError> {
        let selections = s
            .proxy_groups
            .iter()
            .map(|g| (&g.selection, &g.host_selections))
            .chain(s.east_west_gateways.iter().map(|g| (&g.selection, &g.host_selections)));
        for (main, others) in selections {
            let all = crate::model::build::all_cluster_plans(s, main, others);
            // A request carries its cluster's index in a byte (`model::proxy::ClusterIdx`).
            let most = usize::from(crate::model::proxy::ClusterIdx::MAX) - 1;
            if all.len() > most {
                return Err(self.err(
                    "policy",
                    &format!(
                        "the DestinationRules in force give a proxy {} Envoy clusters (one per host, plus one per \
                         subset); meshsim simulates at most {most}",
                        all.len(),
                    ),
                ));
            }
            for plan in &all {
                let h = plan.host as usize;
                let sel = Scenario::selection_of(main, others, h);
                let Some(o) = crate::model::build::host_cluster_and_control(s, h, plan.policy.as_ref()).0.outlier
                else {
                    continue;
                };
                if o.max_ejection_time >= o.base_ejection_time {
                    continue;
                }
                let eo = s.envoy_outlier.as_ref();
                let dr_base = plan
                    .policy
                    .as_ref()
                    .and_then(|tp| tp.outlier_detection.as_ref())
                    .and_then(|od| od.base_ejection_time)
                    .is_some();
                // The subset's own block wins the merge when it has one.
                let subset_block = plan.subset.as_deref().and_then(|name| {
                    let spec = &sel.destination_rule.as_ref()?.spec;
                    let sub = spec.subsets.iter().flatten().find(|x| x.name == name)?;
                    let tp = sub.traffic_policy.as_ref()?;
                    let own = tp.outlier_detection.is_some()
                        || tp.port_level_settings.iter().flatten().any(|p| p.outlier_detection.is_some());
                    own.then(|| format!("subsets[name={name}].trafficPolicy"))
                });
                let base_from = if eo.is_some_and(|e| e.base_ejection_time.is_some()) {
                    "envoy_outlier.base_ejection_time".to_string()
                } else if dr_base {
                    let dr = sel
                        .destination_rule
                        .as_ref()
                        .and_then(|d| d.from.first())
                        .and_then(|i| s.policy.resources.get(*i));
                    let name = dr.map_or("the DestinationRule".to_string(), |r| {
                        format!("{} ({})", crate::kube::resource_id("DestinationRule", &r.namespace, &r.name), r.source)
                    });
                    let block = subset_block.unwrap_or_else(|| "trafficPolicy".to_string());
                    format!("{block}.outlierDetection.baseEjectionTime of {name}")
                } else {
                    "Envoy's default base_ejection_time".to_string()
                };
                let cluster = match plan.subset.as_deref() {
                    Some(name) => format!(
                        " in the cluster of subset `{name}` ({})",
                        crate::model::build::host_cluster_name(
                            s,
                            h,
                            crate::model::build::cluster_port(s, h, sel),
                            Some(name),
                            false
                        )
                    ),
                    None if h > 0 => {
                        let port = crate::model::build::cluster_port(s, h, sel);
                        format!(" in the cluster {}", crate::model::build::host_cluster_name(s, h, port, None, false))
                    }
                    None => String::new(),
                };
                return Err(self.err(
                    "envoy_outlier.max_ejection_time",
                    &format!(
                        "{} is below base_ejection_time {}{cluster} (set by {base_from}); Envoy rejects such a \
                         cluster (\"outlier detector's max_ejection_time cannot be smaller than base_ejection_time\")",
                        o.max_ejection_time, o.base_ejection_time
                    ),
                ));
            }
        }
        Ok(())
    }

    fn east_west_gateways(
        &self,
        raw: &[RawEastWestGateway],
        clusters: &[KubeClusterSpec],
    ) -> Result<Vec<EastWestGatewaySpec>, ScenarioError> {
        let mut out: Vec<EastWestGatewaySpec> = Vec::new();
        for (i, g) in raw.iter().enumerate() {
            let path = format!("east_west_gateways[{i}]");
            let cluster = self.cluster_id(&format!("{path}.cluster"), &g.cluster, clusters)?;
            if out.iter().any(|o| o.cluster == cluster) {
                return Err(self.err(&format!("{path}.cluster"), "one east-west gateway deployment per cluster"));
            }
            let replicas = g.replicas.unwrap_or(1);
            if replicas == 0 || replicas > 100 {
                return Err(self.err(&format!("{path}.replicas"), "must be between 1 and 100"));
            }
            let per_connection = match g.balance.as_deref().unwrap_or("connection") {
                "connection" => true,
                "request" => false,
                other => {
                    return Err(self.err(
                        &format!("{path}.balance"),
                        &format!(
                            "`{other}` is not one of \"connection\" (Istio's AUTO_PASSTHROUGH gateway), \"request\""
                        ),
                    ));
                }
            };
            out.push(EastWestGatewaySpec {
                cluster,
                replicas,
                per_connection,
                namespace: g.namespace.clone().unwrap_or_else(|| crate::istio::select::DEFAULT_ROOT_NAMESPACE.into()),
                labels: g
                    .labels
                    .clone()
                    .unwrap_or_else(|| [("istio".to_string(), "eastwestgateway".to_string())].into_iter().collect()),
                selection: Default::default(),
                host_selections: Vec::new(),
            });
        }
        Ok(out)
    }

    fn kube_clusters(&self, raw: &[RawKubeCluster]) -> Result<Vec<KubeClusterSpec>, ScenarioError> {
        if raw.is_empty() {
            return Err(self.err("clusters", "at least one cluster is needed"));
        }
        let mut out: Vec<KubeClusterSpec> = Vec::new();
        // A set, not a scan of `out`: a scenario may list tens of thousands of clusters.
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in raw.iter().enumerate() {
            if c.name.is_empty() {
                return Err(self.err(&format!("clusters[{i}].name"), "must not be empty"));
            }
            if !names.insert(c.name.as_str()) {
                return Err(self.err(&format!("clusters[{i}].name"), &format!("`{}` is defined twice", c.name)));
            }
            if c.region.is_empty() {
                return Err(self.err(&format!("clusters[{i}].region"), "must not be empty"));
            }
            out.push(KubeClusterSpec {
                name: c.name.clone(),
                locality: Locality::new(
                    &c.region,
                    c.zone.as_deref().unwrap_or(""),
                    c.sub_zone.as_deref().unwrap_or(""),
                ),
                network: c.network.clone().unwrap_or_else(|| "network1".into()),
                cluster_id: match &c.cluster_id {
                    Some(id) if id.is_empty() => {
                        return Err(self.err(&format!("clusters[{i}].cluster_id"), "must not be empty"));
                    }
                    Some(id) => id.clone(),
                    None => c.name.clone(),
                },
            });
        }
        Ok(out)
    }

    fn cluster_id(&self, path: &str, name: &str, clusters: &[KubeClusterSpec]) -> Result<KubeClusterId, ScenarioError> {
        clusters.iter().position(|c| c.name == name).map(|i| KubeClusterId(i as u32)).ok_or_else(|| {
            let known: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
            self.err(path, &format!("no cluster named `{name}` (known: {})", known.join(", ")))
        })
    }

    fn network(&self, n: RawNetwork, clusters: &[KubeClusterSpec]) -> Result<NetworkSpec, ScenarioError> {
        let same_zone = self.opt_duration("network.same_zone", &n.same_zone, SimDuration::from_micros(200))?;
        let same_region = self.opt_duration("network.same_region", &n.same_region, SimDuration::from_millis(1))?;
        let cross_region = self.opt_duration("network.cross_region", &n.cross_region, SimDuration::from_millis(50))?;
        let jitter = n.jitter.unwrap_or(0.1);
        if !(0.0..=10.0).contains(&jitter) {
            return Err(self.err("network.jitter", "must be a fraction between 0 and 10"));
        }
        let mut overrides = Vec::new();
        for (i, o) in n.overrides.iter().enumerate() {
            let from = self.selector(&format!("network.overrides[{i}].from"), &o.from, clusters)?;
            let to = self.selector(&format!("network.overrides[{i}].to"), &o.to, clusters)?;
            let latency = self.duration(&format!("network.overrides[{i}].latency"), &o.latency)?;
            overrides.push(LatencyOverride { from, to, latency });
        }
        Ok(NetworkSpec { same_zone, same_region, cross_region, jitter, overrides })
    }

    fn selector(
        &self,
        path: &str,
        text: &str,
        clusters: &[KubeClusterSpec],
    ) -> Result<LocalitySelector, ScenarioError> {
        if let Some(c) = clusters.iter().position(|c| c.name == text) {
            return Ok(LocalitySelector::Cluster(KubeClusterId(c as u32)));
        }
        let mut parts = text.splitn(2, '/');
        let region = parts.next().unwrap_or("").to_string();
        let zone = parts.next().map(str::to_string);
        let known =
            clusters.iter().any(|c| c.locality.region == region && zone.as_ref().is_none_or(|z| &c.locality.zone == z));
        if !known {
            return Err(
                self.err(path, &format!("`{text}` is neither a cluster name nor a region[/zone] of any cluster"))
            );
        }
        Ok(LocalitySelector::Region { region, zone })
    }

    fn service(&self, s: &RawService, clusters: &[KubeClusterSpec]) -> Result<ServiceSpec, ScenarioError> {
        let service_time = match &s.service_time {
            None => ServiceTime::Exponential { mean: SimDuration::from_millis(5) },
            Some(st) => self.service_time("service.service_time", st)?,
        };
        let mut deployments = Vec::new();
        for (i, d) in s.deployments.iter().enumerate() {
            let cluster = self.cluster_id(&format!("service.deployments[{i}].cluster"), &d.cluster, clusters)?;
            if deployments.iter().any(|x: &DeploymentSpec| x.cluster == cluster) {
                return Err(self.err(&format!("service.deployments[{i}].cluster"), "one deployment per cluster"));
            }
            deployments.push(DeploymentSpec { cluster, replicas: d.replicas, labels: d.labels.clone(), host: 0 });
        }
        if deployments.is_empty() {
            return Err(self.err("service.deployments", "at least one deployment is needed"));
        }
        let protocol = match s.protocol.as_deref() {
            None | Some("http1") => UpstreamProtocol::Http1,
            Some("http2") => UpstreamProtocol::Http2,
            Some(other) => {
                return Err(self.err("service.protocol", &format!("`{other}` is not \"http1\" or \"http2\"")));
            }
        };
        let traffic_distribution = match s.traffic_distribution.as_deref() {
            None => None,
            Some("PreferClose" | "PreferSameZone") => Some(TrafficDistribution::PreferSameZone),
            Some("PreferSameNode") => Some(TrafficDistribution::PreferSameNode),
            Some(other) => {
                return Err(self.err(
                    "service.traffic_distribution",
                    &format!("`{other}` is not \"PreferClose\", \"PreferSameZone\" or \"PreferSameNode\""),
                ));
            }
        };
        let (host_ns, domain) = crate::istio::host::service_namespace_and_domain(&s.host);
        let namespace = match &s.namespace {
            Some(ns) if ns.is_empty() => return Err(self.err("service.namespace", "must not be empty")),
            Some(ns) => ns.clone(),
            None if host_ns.is_empty() => "default".to_string(),
            None => host_ns.to_string(),
        };
        Ok(ServiceSpec {
            host: s.host.clone(),
            namespace,
            domain: domain.to_string(),
            protocol,
            traffic_distribution,
            service_time,
            max_concurrency: s.max_concurrency.unwrap_or(0),
            readiness_delay: self.opt_duration(
                "service.readiness_delay",
                &s.readiness_delay,
                SimDuration::from_secs(5),
            )?,
            termination_grace: self.opt_duration(
                "service.termination_grace",
                &s.termination_grace,
                SimDuration::from_secs(5),
            )?,
            deployments,
        })
    }

    /// `[[services]]`: each other host with its deployments, appended to `service.deployments`
    /// (so the main service's deployments keep their indices).
    fn other_services(
        &self,
        raw: &[RawOtherService],
        service: &mut ServiceSpec,
        clusters: &[KubeClusterSpec],
    ) -> Result<Vec<OtherServiceSpec>, ScenarioError> {
        if raw.len() > MAX_OTHER_SERVICES {
            return Err(self.err(
                "services",
                &format!(
                    "declares {} services; meshsim simulates at most {MAX_OTHER_SERVICES} besides [service]",
                    raw.len()
                ),
            ));
        }
        let mut out: Vec<OtherServiceSpec> = Vec::new();
        for (h, o) in raw.iter().enumerate() {
            let p = format!("services[{h}]");
            if o.host.is_empty() {
                return Err(self.err(&format!("{p}.host"), "must not be empty"));
            }
            if o.host.contains('*') {
                return Err(
                    self.err(&format!("{p}.host"), &format!("`{}` is a wildcard; name one service's FQDN", o.host))
                );
            }
            if o.host.eq_ignore_ascii_case(&service.host) {
                return Err(self.err(
                    &format!("{p}.host"),
                    &format!("`{}` is [service]'s host; [[services]] declares the other hosts routes send to", o.host),
                ));
            }
            if out.iter().any(|x| x.host.eq_ignore_ascii_case(&o.host)) {
                return Err(self.err(&format!("{p}.host"), &format!("`{}` is declared twice", o.host)));
            }
            let short = |h: &str| h.split('.').next().unwrap_or(h).to_ascii_lowercase();
            if let Some(x) = out.iter().find(|x| short(&x.host) == short(&o.host)) {
                return Err(self.err(
                    &format!("{p}.host"),
                    &format!(
                        "`{}` and `{}` share the name `{}`, which names their pods (`cluster/{}-0`): meshsim needs \
                         distinct first labels",
                        x.host,
                        o.host,
                        short(&o.host),
                        short(&o.host)
                    ),
                ));
            }
            let service_time = match &o.service_time {
                None => service.service_time.clone(),
                Some(st) => self.service_time(&format!("{p}.service_time"), st)?,
            };
            let protocol = match o.protocol.as_deref() {
                None => service.protocol,
                Some("http1") => UpstreamProtocol::Http1,
                Some("http2") => UpstreamProtocol::Http2,
                Some(other) => {
                    return Err(self.err(&format!("{p}.protocol"), &format!("`{other}` is not \"http1\" or \"http2\"")));
                }
            };
            let (host_ns, _) = crate::istio::host::service_namespace_and_domain(&o.host);
            let namespace = match &o.namespace {
                Some(ns) if ns.is_empty() => return Err(self.err(&format!("{p}.namespace"), "must not be empty")),
                Some(ns) => ns.clone(),
                None if host_ns.is_empty() => service.namespace.clone(),
                None => host_ns.to_string(),
            };
            if o.deployments.is_empty() {
                return Err(self.err(&format!("{p}.deployments"), "at least one deployment is needed"));
            }
            let first = service.deployments.len();
            for (i, d) in o.deployments.iter().enumerate() {
                let path = format!("{p}.deployments[{i}].cluster");
                let cluster = self.cluster_id(&path, &d.cluster, clusters)?;
                if service.deployments[first..].iter().any(|x| x.cluster == cluster) {
                    return Err(self.err(&path, "one deployment per cluster"));
                }
                service.deployments.push(DeploymentSpec {
                    cluster,
                    replicas: d.replicas,
                    labels: d.labels.clone(),
                    host: h as u32 + 1,
                });
            }
            out.push(OtherServiceSpec {
                host: o.host.clone(),
                namespace,
                service_time,
                protocol,
                max_concurrency: o.max_concurrency.unwrap_or(service.max_concurrency),
                readiness_delay: self.opt_duration(
                    &format!("{p}.readiness_delay"),
                    &o.readiness_delay,
                    service.readiness_delay,
                )?,
                termination_grace: self.opt_duration(
                    &format!("{p}.termination_grace"),
                    &o.termination_grace,
                    service.termination_grace,
                )?,
            });
        }
        Ok(out)
    }

    fn service_time(&self, p: &str, st: &RawServiceTime) -> Result<ServiceTime, ScenarioError> {
        let need = |field: &str, v: &Option<String>| -> Result<SimDuration, ScenarioError> {
            let text = v.as_ref().ok_or_else(|| {
                self.err(&format!("{p}.{field}"), &format!("is required for distribution `{}`", st.distribution))
            })?;
            self.duration(&format!("{p}.{field}"), text)
        };
        match st.distribution.as_str() {
            "exponential" => Ok(ServiceTime::Exponential { mean: need("mean", &st.mean)? }),
            "constant" => Ok(ServiceTime::Constant { value: need("mean", &st.mean)? }),
            "lognormal" => {
                let sigma = st.sigma.unwrap_or(0.5);
                if !(sigma > 0.0 && sigma < 5.0) {
                    return Err(self.err(&format!("{p}.sigma"), "must be between 0 and 5 (exclusive)"));
                }
                Ok(ServiceTime::LogNormal { median: need("median", &st.median)?, sigma })
            }
            other => Err(self.err(
                &format!("{p}.distribution"),
                &format!("`{other}` is not one of \"exponential\", \"lognormal\", \"constant\""),
            )),
        }
    }

    fn proxy_groups(
        &self,
        raw: &[RawProxyGroup],
        clusters: &[KubeClusterSpec],
        service: &ServiceSpec,
    ) -> Result<Vec<ProxyGroupSpec>, ScenarioError> {
        let mut out: Vec<ProxyGroupSpec> = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            let path = format!("proxies[{i}]");
            if out.iter().any(|o| o.name == p.name) {
                return Err(self.err(&format!("{path}.name"), &format!("`{}` is defined twice", p.name)));
            }
            let kind = match p.kind.as_str() {
                "gateway" => ProxyKind::Gateway,
                "sidecar" => ProxyKind::Sidecar,
                other => {
                    return Err(
                        self.err(&format!("{path}.kind"), &format!("`{other}` is not \"gateway\" or \"sidecar\""))
                    );
                }
            };
            let replicas = p.replicas.unwrap_or(1);
            if replicas == 0 || replicas > 10_000 {
                return Err(self.err(&format!("{path}.replicas"), "must be between 1 and 10000"));
            }
            let cluster = self.cluster_id(&format!("{path}.cluster"), &p.cluster, clusters)?;
            let gateway = match (kind, &p.gateway) {
                (ProxyKind::Sidecar, Some(_)) => {
                    return Err(self.err(&format!("{path}.gateway"), "only gateway proxies name a Gateway"));
                }
                (_, g) => g.clone(),
            };
            let namespace = match &p.namespace {
                Some(ns) if ns.is_empty() => return Err(self.err(&format!("{path}.namespace"), "must not be empty")),
                Some(ns) => ns.clone(),
                None => service.namespace.clone(),
            };
            let outlier_timer_start = self.timer_starts(&path, p.outlier_timer_start.as_ref(), replicas)?;
            out.push(ProxyGroupSpec {
                name: p.name.clone(),
                kind,
                cluster,
                replicas,
                gateway,
                labels: p.labels.clone(),
                outlier_timer_start,
                namespace,
                selection: Default::default(),
                host_selections: Vec::new(),
            });
        }
        if out.is_empty() {
            return Err(self.err("proxies", "at least one proxy group is needed"));
        }
        Ok(out)
    }

    fn workload(
        &self,
        raw: &[RawWorkload],
        groups: &[ProxyGroupSpec],
        run: SimDuration,
        service_host: &str,
    ) -> Result<Vec<WorkloadSpec>, ScenarioError> {
        let mut out = Vec::new();
        for (i, w) in raw.iter().enumerate() {
            let path = format!("workload[{i}]");
            let requests = self.request_classes(&format!("{path}.requests"), &w.requests, service_host)?;
            let group = groups
                .iter()
                .position(|g| g.name == w.proxy)
                .ok_or_else(|| self.err(&format!("{path}.proxy"), &format!("no proxy group named `{}`", w.proxy)))?;
            let rate_ok = |r: f64| r.is_finite() && (0.0..=10_000_000.0).contains(&r);
            if let Some(times) = &w.times {
                for (field, given) in [
                    ("rate", w.rate.is_some()),
                    ("arrivals", w.arrivals.is_some()),
                    ("rate_changes", !w.rate_changes.is_empty()),
                ] {
                    if given {
                        return Err(self.err(
                            &format!("{path}.{field}"),
                            "does not apply to scripted arrivals (`times`): each request is listed",
                        ));
                    }
                }
                let times = self.arrival_times(&format!("{path}.times"), times, run)?;
                let users = w.users.as_ref().map(|u| self.users(&format!("{path}.users"), u)).transpose()?;
                out.push(WorkloadSpec {
                    group: ProxyGroupId(group as u32),
                    arrivals: Arrivals::Scripted(times),
                    rate: 0.0,
                    changes: Vec::new(),
                    users,
                    requests,
                });
                continue;
            }
            let rate =
                w.rate.ok_or_else(|| self.err(&format!("{path}.rate"), "is required (or list the arrival `times`)"))?;
            if !rate_ok(rate) {
                return Err(self.err(&format!("{path}.rate"), "must be between 0 and 1e7 requests per second"));
            }
            let arrivals = match w.arrivals.as_deref() {
                None | Some("poisson") => Arrivals::Poisson,
                Some("uniform") => Arrivals::Uniform,
                Some(other) => {
                    let hint = crate::suggest::closest(other, ["poisson", "uniform"])
                        .map(|c| format!("; did you mean \"{c}\"?"))
                        .unwrap_or_default();
                    return Err(self.err(
                        &format!("{path}.arrivals"),
                        &format!("`{other}` is not \"poisson\" or \"uniform\" (or list `times`){hint}"),
                    ));
                }
            };
            let mut changes = Vec::new();
            let mut last = SimTime::ZERO;
            for (j, c) in w.rate_changes.iter().enumerate() {
                let at = SimTime(self.duration(&format!("{path}.rate_changes[{j}].at"), &c.at)?.as_nanos());
                if at < last {
                    return Err(self.err(&format!("{path}.rate_changes[{j}].at"), "rate changes must be in time order"));
                }
                if !rate_ok(c.rate) {
                    return Err(self.err(&format!("{path}.rate_changes[{j}].rate"), "must be between 0 and 1e7"));
                }
                last = at;
                changes.push((at, c.rate));
            }
            changes.retain(|(at, _)| at.as_nanos() < run.as_nanos());
            let users = w.users.as_ref().map(|u| self.users(&format!("{path}.users"), u)).transpose()?;
            out.push(WorkloadSpec { group: ProxyGroupId(group as u32), arrivals, rate, changes, users, requests });
        }
        if out.is_empty() {
            return Err(self.err("workload", "at least one workload is needed"));
        }
        Ok(out)
    }

    /// `[[workload.requests]]`: bounded in number and size, each attribute checked as Envoy
    /// would accept it on a request, the shares summing to 1 (one class may leave its share out
    /// and take the rest).
    fn request_classes(
        &self,
        path: &str,
        raw: &[RawRequestClass],
        service_host: &str,
    ) -> Result<Vec<RequestClass>, ScenarioError> {
        if raw.len() > MAX_REQUEST_CLASSES {
            return Err(self.err(path, &format!("{} classes; at most {MAX_REQUEST_CLASSES}", raw.len())));
        }
        let token =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let visible = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t');
        let mut out = Vec::new();
        let mut rest: Option<usize> = None;
        let mut sum = 0.0;
        for (j, c) in raw.iter().enumerate() {
            let at = format!("{path}[{j}]");
            let fraction = match c.fraction {
                Some(f) if f.is_finite() && f > 0.0 && f <= 1.0 => f,
                Some(f) => return Err(self.err(&format!("{at}.fraction"), &format!("{f} is not in (0, 1]"))),
                None if rest.is_some() => {
                    return Err(self.err(
                        &format!("{at}.fraction"),
                        &format!("is needed: {path}[{}] already takes the rest of the requests", rest.unwrap_or(0)),
                    ));
                }
                None => {
                    rest = Some(j);
                    0.0
                }
            };
            sum += fraction;
            let p = c.path.clone().unwrap_or_else(|| "/".into());
            if !p.starts_with('/') || p.len() > MAX_ATTR_LEN || !p.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                return Err(self.err(
                    &format!("{at}.path"),
                    &format!("`{p}` must start with `/`, hold no spaces or control characters, and be at most {MAX_ATTR_LEN} bytes"),
                ));
            }
            if p.contains(['?', '#']) {
                return Err(self.err(
                    &format!("{at}.path"),
                    &format!("`{p}` has a query string or fragment, which meshsim's requests do not carry"),
                ));
            }
            let method = c.method.clone().unwrap_or_else(|| "GET".into());
            if !token(&method) || method.len() > 64 {
                return Err(self.err(&format!("{at}.method"), &format!("`{method}` is not an HTTP method token")));
            }
            let authority = c.authority.clone().unwrap_or_else(|| service_host.to_string());
            if authority.is_empty()
                || authority.len() > MAX_ATTR_LEN
                || !authority.bytes().all(|b| (0x21..0x7f).contains(&b))
            {
                return Err(self.err(&format!("{at}.authority"), &format!("`{authority}` is not a host[:port]")));
            }
            if c.headers.len() > MAX_CLASS_HEADERS {
                return Err(self.err(
                    &format!("{at}.headers"),
                    &format!("{} headers; at most {MAX_CLASS_HEADERS}", c.headers.len()),
                ));
            }
            let mut headers = Vec::new();
            for (name, value) in &c.headers {
                let hp = format!("{at}.headers.{name}");
                if name.starts_with(':') || name.eq_ignore_ascii_case("host") {
                    return Err(self.err(&hp, "pseudo-headers and `host` are set by `path`, `method` and `authority`"));
                }
                if !token(name) || name.len() > MAX_ATTR_LEN {
                    return Err(self.err(&hp, "is not a valid header name"));
                }
                if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(self.err(
                        &hp,
                        &format!("header names are lower case in Envoy; write `{}`", name.to_ascii_lowercase()),
                    ));
                }
                if value.len() > MAX_ATTR_LEN || !visible(value) {
                    return Err(
                        self.err(&hp, &format!("the value must be printable ASCII of at most {MAX_ATTR_LEN} bytes"))
                    );
                }
                headers.push((name.clone(), value.clone()));
            }
            let attrs =
                crate::envoy::route::RequestAttrs { path: p, method, authority, scheme: "http".into(), headers };
            out.push(RequestClass { fraction, upto: 0.0, attrs });
        }
        match rest {
            Some(j) => {
                let left = 1.0 - sum;
                if left <= 1e-9 {
                    return Err(self.err(
                        &format!("{path}[{j}].fraction"),
                        &format!("the other classes' shares already sum to {sum}: this class would get no requests"),
                    ));
                }
                out[j].fraction = left;
            }
            None if !out.is_empty() && (sum - 1.0).abs() > 1e-9 => {
                return Err(
                    self.err(path, &format!("the classes' fractions sum to {sum}, not 1 (or leave one class's out)"))
                );
            }
            None => {}
        }
        let mut upto = 0.0;
        for c in &mut out {
            upto += c.fraction;
            c.upto = upto;
        }
        Ok(out)
    }

    fn users(&self, path: &str, u: &RawUsers) -> Result<Users, ScenarioError> {
        if !(1..=MAX_USERS).contains(&u.count) {
            return Err(self.err(&format!("{path}.count"), &format!("{} is not between 1 and {MAX_USERS}", u.count)));
        }
        let distribution = match u.distribution.as_deref().unwrap_or("uniform") {
            "uniform" => {
                if u.exponent.is_some() {
                    return Err(self.err(&format!("{path}.exponent"), "only a \"zipf\" distribution has an exponent"));
                }
                UserDistribution::Uniform
            }
            "zipf" => {
                let exponent = u.exponent.unwrap_or(1.0);
                if !(exponent.is_finite() && exponent > 0.0 && exponent <= 100.0) {
                    return Err(self
                        .err(&format!("{path}.exponent"), &format!("{exponent} is not between 0 (excluded) and 100")));
                }
                UserDistribution::Zipf { exponent }
            }
            other => {
                return Err(self
                    .err(&format!("{path}.distribution"), &format!("`{other}` is not one of \"uniform\", \"zipf\"")));
            }
        };
        Ok(Users { count: u.count as u32, distribution })
    }

    fn faults(
        &self,
        raw: &[RawFault],
        service: &ServiceSpec,
        others: &[OtherServiceSpec],
        clusters: &[KubeClusterSpec],
    ) -> Result<Vec<FaultSpec>, ScenarioError> {
        let mut out: Vec<FaultSpec> = Vec::new();
        let mut ordinals = Ordinals::new(service);
        let mut named: Vec<bool> = Vec::new();
        for (i, f) in raw.iter().enumerate() {
            let path = format!("faults[{i}]");
            let at = SimTime(self.duration(&format!("{path}.at"), &f.at)?.as_nanos());
            if out.last().is_some_and(|prev| prev.at > at) {
                return Err(self.err(&format!("{path}.at"), "faults must be listed in time order"));
            }
            let cluster = self.cluster_id(&format!("{path}.cluster"), &f.cluster, clusters)?;
            let host = match &f.host {
                None => 0,
                Some(h) if h.eq_ignore_ascii_case(&service.host) => 0,
                Some(h) => match others.iter().position(|o| o.host.eq_ignore_ascii_case(h)) {
                    Some(i) => i as u32 + 1,
                    None => {
                        let known: Vec<&str> = std::iter::once(service.host.as_str())
                            .chain(others.iter().map(|o| o.host.as_str()))
                            .collect();
                        // A short name (`reviews-v2`) names the host it is the first label of.
                        let short = known.iter().copied().find(|k| k.split('.').next() == Some(h.as_str()));
                        let hint = short
                            .or_else(|| crate::suggest::closest(h, known.iter().copied()))
                            .map(|k| format!("; did you mean `{k}`?"))
                            .unwrap_or_default();
                        return Err(self.err(
                            &format!("{path}.host"),
                            &format!(
                                "no service `{h}`: the hosts are [service]'s and each [[services]] entry's ({}){hint}",
                                known.join(", ")
                            ),
                        ));
                    }
                },
            };
            let deployment =
                service.deployments.iter().position(|d| d.cluster == cluster && d.host == host).ok_or_else(|| {
                    let whose =
                        if host == 0 { "the service".to_string() } else { others[host as usize - 1].host.clone() };
                    self.err(&format!("{path}.cluster"), &format!("{whose} has no deployment in `{}`", f.cluster))
                })?;
            let unexpected = |field: &str, present: bool| -> Result<(), ScenarioError> {
                if present {
                    Err(self.err(&format!("{path}.{field}"), &format!("does not apply to action `{}`", f.action)))
                } else {
                    Ok(())
                }
            };
            let action = match f.action.as_str() {
                "scale" => {
                    unexpected("status", f.status.is_some())?;
                    unexpected("latency", f.latency.is_some())?;
                    unexpected("pods", f.pods.is_some())?;
                    let replicas = f
                        .replicas
                        .ok_or_else(|| self.err(&format!("{path}.replicas"), "is required for action `scale`"))?;
                    FaultAction::Scale { replicas }
                }
                "http-error" => {
                    unexpected("replicas", f.replicas.is_some())?;
                    let status = f
                        .status
                        .ok_or_else(|| self.err(&format!("{path}.status"), "is required for action `http-error`"))?;
                    if !(400..=599).contains(&status) {
                        return Err(self.err(
                            &format!("{path}.status"),
                            &format!(
                                "{status} is not an error status; `http-error` takes a 4xx or 5xx status \
                                 (to end a fault, use action = \"recover\")"
                            ),
                        ));
                    }
                    let probability = self.fraction(&format!("{path}.probability"), f.probability.unwrap_or(1.0))?;
                    FaultAction::HttpError { status, probability }
                }
                "script" => {
                    unexpected("status", f.status.is_some())?;
                    unexpected("latency", f.latency.is_some())?;
                    self.script(&path, f)?
                }
                "refuse" => FaultAction::Refuse,
                "blackhole" => FaultAction::Blackhole,
                "latency" => {
                    let text = f
                        .latency
                        .as_ref()
                        .ok_or_else(|| self.err(&format!("{path}.latency"), "is required for action `latency`"))?;
                    FaultAction::Latency { extra: self.duration(&format!("{path}.latency"), text)? }
                }
                "recover" => FaultAction::Recover,
                other => {
                    return Err(self.err(&format!("{path}.action"), &format!("`{other}` is not one of \"scale\", \"http-error\", \"script\", \"refuse\", \"blackhole\", \"latency\", \"recover\"")));
                }
            };
            if !matches!(action, FaultAction::HttpError { .. }) {
                unexpected("probability", f.probability.is_some())?;
            }
            if !matches!(action, FaultAction::Scale { .. }) {
                unexpected("replicas", f.replicas.is_some())?;
            }
            if !matches!(action, FaultAction::Script { .. }) {
                unexpected("responses", f.responses.is_some())?;
                unexpected("then", f.then.is_some())?;
            }
            let name = f.name.clone().unwrap_or_else(|| default_fault_name(&action, &f.cluster));
            // Two faults left to their derived names may share one (a flapping region fails the same
            // way twice); an expectation naming such a fault is refused as ambiguous instead.
            let clash =
                out.iter().zip(&named).position(|(o, &o_named)| o.name == name && (o_named || f.name.is_some()));
            named.push(f.name.is_some());
            if let Some(j) = clash {
                return Err(self.err(
                    &format!("{path}.name"),
                    &format!(
                        "`{name}` is already the name of faults[{j}]; reports and expectations name faults, \
                         so give each a name of its own"
                    ),
                ));
            }
            if let Some(pods) = &f.pods {
                ordinals.check(self, &path, pods, deployment, at)?;
            }
            if let FaultAction::Scale { replicas } = action {
                ordinals.scale(deployment, replicas);
            }
            out.push(FaultSpec {
                at,
                action,
                deployment,
                pods: f.pods.clone(),
                name,
                starts_phase: f.phase.unwrap_or(true),
            });
        }
        Ok(out)
    }

    fn phases(&self, raw: &[RawPhase], faults: &[FaultSpec]) -> Result<Vec<PhaseSpec>, ScenarioError> {
        let mut phases = Vec::new();
        if raw.is_empty() {
            phases.push(PhaseSpec { name: "healthy".into(), start: SimTime::ZERO });
            for f in faults.iter().filter(|f| f.starts_phase) {
                match phases.last_mut() {
                    Some(last) if last.start == f.at => last.name = format!("{} + {}", last.name, f.name),
                    _ => phases.push(PhaseSpec { name: f.name.clone(), start: f.at }),
                }
            }
            if phases.len() > 1 && phases[1].start == SimTime::ZERO {
                phases.remove(0);
            }
        } else {
            for (i, p) in raw.iter().enumerate() {
                let start = SimTime(self.duration(&format!("phases[{i}].start"), &p.start)?.as_nanos());
                if i == 0 && start != SimTime::ZERO {
                    return Err(self.err("phases[0].start", "the first phase must start at 0s"));
                }
                if phases.last().is_some_and(|prev: &PhaseSpec| prev.start >= start) {
                    return Err(self.err(&format!("phases[{i}].start"), "phases must start in increasing time order"));
                }
                phases.push(PhaseSpec { name: p.name.clone(), start });
            }
        }
        Ok(phases)
    }
}

/// The pod ordinals of each deployment along the fault timeline, to check that a fault's `pods`
/// name pods that exist when it happens. Pods are numbered from 0 in creation order; a scale-up
/// adds the next ordinals, a scale-down removes the newest pods (as `World::scale` does). The
/// ordinals present are kept as sorted runs `[start, end)`, one per scale-up, so a deployment of
/// a billion pods costs nothing here.
struct Ordinals {
    /// Per deployment: the runs of present ordinals, and the next ordinal to create.
    runs: Vec<(Vec<(u64, u64)>, u64)>,
}

impl Ordinals {
    fn new(service: &ServiceSpec) -> Ordinals {
        let runs = service
            .deployments
            .iter()
            .map(|d| {
                let n = u64::from(d.replicas);
                (if n == 0 { Vec::new() } else { vec![(0, n)] }, n)
            })
            .collect();
        Ordinals { runs }
    }

    fn count(&self, d: usize) -> u64 {
        self.runs[d].0.iter().map(|(a, b)| b - a).sum()
    }

    fn scale(&mut self, d: usize, replicas: u32) {
        let target = u64::from(replicas);
        let have = self.count(d);
        let (runs, next) = &mut self.runs[d];
        if target > have {
            runs.push((*next, *next + (target - have)));
            *next += target - have;
        } else {
            let mut keep = target;
            runs.retain_mut(|(a, b)| {
                let take = (*b - *a).min(keep);
                keep -= take;
                *b = *a + take;
                take > 0
            });
        }
    }

    fn check(&self, v: &Validator, path: &str, pods: &[u32], d: usize, at: SimTime) -> Result<(), ScenarioError> {
        if pods.is_empty() {
            return Err(
                v.err(&format!("{path}.pods"), "an empty list selects no pod; remove `pods` to target every pod")
            );
        }
        let runs = &self.runs[d].0;
        for (k, &p) in pods.iter().enumerate() {
            let p64 = u64::from(p);
            if !runs.iter().any(|(a, b)| (*a..*b).contains(&p64)) {
                let present: Vec<String> = runs
                    .iter()
                    .map(|(a, b)| if b - a == 1 { a.to_string() } else { format!("{a}..={}", b - 1) })
                    .collect();
                return Err(v.err(
                    &format!("{path}.pods[{k}]"),
                    &format!(
                        "pod {p} does not exist at {at}: the deployment has {} then ({}); pods are numbered \
                         from 0 in creation order, and a scale-down removes the newest",
                        if present.is_empty() { "no pods".to_string() } else { format!("pods {}", present.join(", ")) },
                        plural(self.count(d), "pod"),
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

fn default_fault_name(action: &FaultAction, cluster: &str) -> String {
    match action {
        FaultAction::Scale { replicas } => format!("{cluster} scaled to {replicas}"),
        FaultAction::HttpError { status, probability } if *probability >= 1.0 => format!("{cluster} answers {status}"),
        FaultAction::HttpError { status, probability } => {
            format!("{cluster} answers {status} ({:.0}%)", probability * 100.0)
        }
        FaultAction::Script { .. } => format!("{cluster} scripted"),
        FaultAction::Refuse => format!("{cluster} refuses connections"),
        FaultAction::Blackhole => format!("{cluster} black-holed"),
        FaultAction::Latency { extra } => format!("{cluster} +{extra} latency"),
        FaultAction::Recover => format!("{cluster} recovered"),
    }
}

/// Whether an expectation is about a fault or phase that starts at or after `end`.
fn expectation_past_end(e: &Expectation, faults: &[FaultSpec], phases: &[PhaseSpec], end: SimTime) -> bool {
    use super::expect::{Check, Window};
    let fault_past = match &e.check {
        Check::Failover { fault, .. } | Check::Failback { fault, .. } => faults[*fault].at >= end,
        Check::InFlight { at: Some(t), .. } => *t > end,
        _ => false,
    };
    let window_past = match &e.window {
        Window::Phase { index, .. } => phases[*index].start >= end,
        Window::Span { from, .. } => *from >= end,
        _ => false,
    };
    fault_past || window_past
}

#[cfg(test)]
mod name_tests {
    use super::check_name;

    #[test]
    fn names_are_plain_file_names() {
        for ok in ["seed-failover", "a", "lab_2.v1", &"x".repeat(100)] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "is empty"),
            (".", "starts with `.`"),
            ("..", "starts with `.`"),
            (".hidden", "starts with `.`"),
            ("/abs", "contains '/'"),
            ("../x", "contains '/'"),
            ("a\\b", "contains '\\\\'"),
            ("my lab", "contains ' '"),
            ("é", "contains 'é'"),
        ] {
            let err = check_name(bad).unwrap_err();
            assert!(err.contains(why) && err.contains("plain file name"), "{bad:?}: {err}");
        }
        assert!(check_name(&"x".repeat(101)).unwrap_err().starts_with("is 101 characters long"));
    }
}
