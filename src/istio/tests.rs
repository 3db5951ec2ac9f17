//! Tests of the Istio layer, ported from istio/istio (`cluster_test.go` `TestApplyOutlierDetection`,
//! `loadbalancer_test.go` `TestApplyLocalitySetting`, `retry_test.go` `TestRetry`) with the
//! expected values of envoy-semantics §6.3 (I1–I8), plus the seed manifests of the reference lab.

use std::collections::BTreeMap;

use super::IstioError;
use super::duration::parse_duration;
use super::locality::{AssignOptions, Assignment, EastWestGateway, IstioEndpoint, ProxyMeta, assign_endpoints, labels};
use super::manifest::{
    DestinationRuleSpec, Failover, HttpRetry, HttpRoute, LocalityLbSetting, Manifest, OutlierDetection, Subset,
    TrafficPolicy, VirtualServiceSpec, parse_manifests, read_manifests,
};
use super::translate::{
    ClientProxy, LbSettingSource, MeshSettings, UnreadyEndpoints, assignment_for, cluster_config, effective_lb_setting,
    merged_traffic_policy, outlier_config, retry_policy, route_config, route_for_host, virtual_service_applies,
};
use super::validate::{validate_destination_rule, validate_virtual_service};
use crate::engine::SimDuration;
use crate::envoy::config::{LbPolicy, Locality, OutlierConfig};
use crate::model::ids::EndpointId;

// The reference lab's manifests, verbatim from `shared/seed/`.
const SEED_DR: &str = r#"apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: hello-world
  namespace: default
spec:
  host: hello-world.default.svc.cluster.local
  trafficPolicy:
    connectionPool:
      http:
        http2MaxRequests: 100
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 100
    loadBalancer:
      localityLbSetting:
        enabled: true
        distribute:
        - from: europe-west1
          to:
            europe-west1: 50
            us-central1: 50
        - from: us-central1
          to:
            us-central1: 50
            europe-west1: 50
"#;

const SEED_GATEWAY: &str = r#"apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: public-gateway
  namespace: default
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - '*'
"#;

const SEED_VS: &str = r#"apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: hello-world
  namespace: default
spec:
  hosts:
  - '*'
  gateways:
  - public-gateway
  http:
  - route:
    - destination:
        host: hello-world.default.svc.cluster.local
"#;

const HELLO: &str = "hello-world.default.svc.cluster.local";

fn seed_dr() -> DestinationRuleSpec {
    match parse_manifests(SEED_DR, "destination-rule.yaml").unwrap().remove(0) {
        Manifest::DestinationRule(r) => r.spec,
        other => panic!("expected a DestinationRule, got {}", other.kind()),
    }
}

fn seed_vs() -> VirtualServiceSpec {
    match parse_manifests(SEED_VS, "virtual-service.yaml").unwrap().remove(0) {
        Manifest::VirtualService(r) => r.spec,
        other => panic!("expected a VirtualService, got {}", other.kind()),
    }
}

fn dr_from_yaml(spec_yaml: &str) -> DestinationRuleSpec {
    super::manifest::from_yaml(spec_yaml).unwrap()
}

fn ep(id: u32, locality: &str) -> IstioEndpoint {
    let mut parts = locality.splitn(3, '/');
    IstioEndpoint {
        id: EndpointId(id),
        locality: Locality::new(parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or("")),
        weight: 1,
        ready: true,
        ..Default::default()
    }
}

fn proxy_at(locality: &str) -> ProxyMeta {
    ProxyMeta { locality: ep(0, locality).locality, ..Default::default() }
}

/// `(priority, locality string, weight, endpoint ids)` per group, for compact assertions.
fn summary(a: &Assignment) -> Vec<(usize, String, u32, Vec<u32>)> {
    let mut out = Vec::new();
    for (p, groups) in a.priorities.iter().enumerate() {
        for g in groups {
            let ids = g.endpoints.iter().map(|e| e.id.0).collect();
            out.push((p, g.locality.to_string(), g.weight, ids));
        }
    }
    out
}

fn failover_setting(from: &str, to: &str) -> LocalityLbSetting {
    LocalityLbSetting { failover: Some(vec![Failover { from: from.into(), to: to.into() }]), ..Default::default() }
}

fn failover_opts(setting: &LocalityLbSetting) -> AssignOptions<'_> {
    AssignOptions { setting: Some(setting), enable_failover: true, ..Default::default() }
}

// ---------------------------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------------------------

#[test]
fn durations_parse_like_go() {
    let ms = SimDuration::from_millis;
    assert_eq!(parse_duration("1m30s").unwrap(), SimDuration::from_secs(90));
    assert_eq!(parse_duration("0.5s").unwrap(), ms(500));
    assert_eq!(parse_duration("1s").unwrap(), ms(1000));
    assert_eq!(parse_duration("100ms").unwrap(), ms(100));
    assert_eq!(parse_duration("10m").unwrap(), SimDuration::from_secs(600));
    assert_eq!(parse_duration("1.5h").unwrap(), SimDuration::from_secs(5400));
    assert_eq!(parse_duration("250us").unwrap(), SimDuration::from_micros(250));
    assert_eq!(parse_duration("250µs").unwrap(), SimDuration::from_micros(250));
    assert_eq!(parse_duration("7ns").unwrap(), SimDuration::from_nanos(7));
    assert_eq!(parse_duration(".5s").unwrap(), ms(500));
    assert_eq!(parse_duration("0").unwrap(), SimDuration::ZERO);
    assert_eq!(parse_duration("+2s").unwrap(), ms(2000));
}

#[test]
fn bad_durations_are_rejected() {
    for bad in ["", "1", "s", "1x", "1sec", "-1s", "1s2", ".s", "1..5s", "ms", "99999999999h"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
    }
    let e = parse_duration("5 s").unwrap_err();
    assert!(e.to_string().contains("\"5 s\""), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Manifests: parsing, unknown fields, round trip
// ---------------------------------------------------------------------------------------------

#[test]
fn seed_manifests_parse_as_they_are() {
    let text = [SEED_DR, SEED_GATEWAY, SEED_VS].join("---\n");
    let manifests = parse_manifests(&text, "seed.yaml").unwrap();
    let kinds: Vec<_> = manifests.iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, ["DestinationRule", "Gateway", "VirtualService"]);
    assert_eq!(manifests[0].metadata().name.as_deref(), Some("hello-world"));
    assert_eq!(manifests[1].metadata().namespace.as_deref(), Some("default"));
    let Manifest::Gateway(gw) = &manifests[1] else { unreachable!() };
    let servers = gw.spec.servers.as_ref().unwrap();
    assert_eq!(servers[0].port.number, 80);
    assert_eq!(gw.spec.selector.as_ref().unwrap()["istio"], "ingressgateway");
    validate_destination_rule(&seed_dr()).unwrap();
    validate_virtual_service(&seed_vs()).unwrap();
}

#[test]
fn empty_documents_and_leading_separator_are_skipped() {
    let text = format!("---\n{SEED_GATEWAY}---\n---\n");
    assert_eq!(parse_manifests(&text, "x.yaml").unwrap().len(), 1);
}

#[test]
fn unknown_field_in_spec_is_an_error_naming_the_file_resource_and_field() {
    let text = SEED_DR.replace("maxEjectionPercent: 100", "maxEjectionPrecent: 100");
    let text = format!("{SEED_GATEWAY}---\n{text}");
    let err = parse_manifests(&text, "dr.yaml").unwrap_err();
    let IstioError::Parse(e) = &err else { panic!("expected a parse error, got {err:?}") };
    assert_eq!((e.origin.file.as_str(), e.origin.doc), ("dr.yaml", 1));
    assert_eq!(e.resource.as_deref(), Some("DestinationRule default/hello-world"));
    assert_eq!(e.path.as_deref(), Some("spec.trafficPolicy.outlierDetection.maxEjectionPrecent"));
    assert!(e.message.starts_with("unknown field `maxEjectionPrecent`, expected one of"), "{}", e.message);
    let text = err.to_string();
    assert!(
        text.starts_with("dr.yaml: document 1: DestinationRule default/hello-world: spec.trafficPolicy.outlierDetection.maxEjectionPrecent: unknown field"),
        "{text}"
    );
}

#[test]
fn other_kinds_are_skipped_and_counted_and_bad_versions_and_keys_are_errors() {
    let other = SEED_GATEWAY.replace("kind: Gateway", "kind: ServiceEntry");
    let file = read_manifests(&other, "f").unwrap();
    assert!(file.manifests.is_empty());
    assert_eq!(file.skipped.get("ServiceEntry"), Some(&1));
    assert_eq!(file.unmodelled.len(), 1, "a ServiceEntry changes traffic");
    let bad_version = SEED_GATEWAY.replace("v1alpha3", "v2");
    let e = parse_manifests(&bad_version, "f").unwrap_err().to_string();
    assert!(e.contains("networking.istio.io/v2") && e.contains("Gateway default/public-gateway: apiVersion"), "{e}");
    let bad_top = format!("{SEED_GATEWAY}specs: {{}}\n");
    let e = parse_manifests(&bad_top, "f").unwrap_err().to_string();
    assert!(e.contains("unknown field `specs`"), "{e}");
    let bad_type = SEED_DR.replace("interval: 1s", "interval: soon");
    let e = parse_manifests(&bad_type, "f").unwrap_err().to_string();
    assert!(e.contains("spec.trafficPolicy.outlierDetection.interval") && e.contains("soon"), "{e}");
    let gateway_api = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {}\n";
    let file = read_manifests(gateway_api, "f").unwrap();
    assert!(file.manifests.is_empty(), "the Gateway API's Gateway is not Istio's");
    assert_eq!(file.skipped.get("Gateway (gateway.networking.k8s.io)"), Some(&1));
}

#[test]
fn a_kubectl_list_export_reads_with_its_status_and_managed_fields() {
    let text = format!(
        "apiVersion: v1\nitems:\n{}kind: List\nmetadata:\n  resourceVersion: \"\"\n",
        [SEED_DR, SEED_VS]
            .iter()
            .map(|d| {
                let d = d.replace("metadata:\n", "metadata:\n  creationTimestamp: \"2024-05-01T10:00:00Z\"\n  managedFields:\n  - manager: kubectl\n    operation: Update\n  resourceVersion: \"4711\"\n");
                let indented: String = d.lines().map(|l| format!("  {l}\n")).collect();
                format!("- {}status: {{}}\n", &indented[2..]) .replace("status: {}\n", "  status: {}\n")
            })
            .collect::<String>()
    );
    let file = read_manifests(&text, "export.yaml").unwrap();
    assert_eq!(file.manifests.len(), 2, "{text}");
    assert_eq!(file.manifests[0].0.metadata().creation_timestamp.as_deref(), Some("2024-05-01T10:00:00Z"));
    assert_eq!(file.manifests[1].1.item, Some(1));
}

#[test]
fn spec_round_trips_through_toml_and_json_with_an_override() {
    let spec = seed_dr();
    let mut value = toml::Value::try_from(&spec).unwrap();
    let od = value["trafficPolicy"]["outlierDetection"].as_table_mut().unwrap();
    assert!(!od.contains_key("consecutiveGatewayErrors"), "None fields are skipped");
    od.insert("interval".into(), toml::Value::String("5s".into()));
    let edited: DestinationRuleSpec = crate::scenario::deserialize_tracked(value).unwrap();
    let interval = edited.traffic_policy.as_ref().unwrap().outlier_detection.as_ref().unwrap();
    assert_eq!(interval.interval.unwrap().0, SimDuration::from_secs(5));
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["trafficPolicy"]["outlierDetection"]["baseEjectionTime"], "30s");
    assert_eq!(json["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"], 1);
    // Back through the scenario tree's one deserializer (issue 11: no JSON copy of the types').
    let back: DestinationRuleSpec =
        crate::scenario::deserialize_tracked(serde_json::from_value::<toml::Value>(json).unwrap()).unwrap();
    assert_eq!(back, spec);
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

fn validation_paths(spec: &DestinationRuleSpec) -> Vec<String> {
    match validate_destination_rule(spec) {
        Ok(()) => Vec::new(),
        Err(IstioError::Invalid { errors, .. }) => errors.into_iter().map(|e| e.path).collect(),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn validation_errors_name_the_field() {
    let spec = dr_from_yaml(
        r#"
host: a
trafficPolicy:
  outlierDetection:
    maxEjectionPercent: 101
    minHealthPercent: -1
    interval: 500us
    consecutiveLocalOriginFailures: 3
  connectionPool:
    tcp: {connectTimeout: 0s}
    http: {http2MaxRequests: -5}
  loadBalancer:
    localityLbSetting:
      distribute:
      - from: us-east/*/z
        to: {"us-east/a": 60, "us-east/*": 30}
      failover:
      - {from: us-east, to: us-east}
"#,
    );
    let paths = validation_paths(&spec);
    let lb = "trafficPolicy.loadBalancer.localityLbSetting";
    for expected in [
        "trafficPolicy.outlierDetection.maxEjectionPercent".to_string(),
        "trafficPolicy.outlierDetection.minHealthPercent".to_string(),
        "trafficPolicy.outlierDetection.interval".to_string(),
        "trafficPolicy.outlierDetection.consecutiveLocalOriginFailures".to_string(),
        "trafficPolicy.connectionPool.tcp.connectTimeout".to_string(),
        "trafficPolicy.connectionPool.http.http2MaxRequests".to_string(),
        lb.to_string(),
        format!("{lb}.distribute[0].from"),
        format!("{lb}.distribute[0].to"),
        format!("{lb}.failover[0]"),
    ] {
        assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
    }
}

#[test]
fn distribute_weights_must_each_be_1_to_100_and_sum_to_100() {
    let lb = "trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to";
    let spec = dr_from_yaml(
        "host: a\ntrafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: r1, to: {r1: 0, r2: 100}}]}}}",
    );
    assert_eq!(validation_paths(&spec), [format!("{lb}[r1]")]);
    let spec = dr_from_yaml(
        "host: a\ntrafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: r1, to: {r1: 50, r2: 40}}]}}}",
    );
    assert_eq!(validation_paths(&spec), [lb.to_string()]);
    let ok = dr_from_yaml(
        "host: a\ntrafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: '*', to: {'r1/*': 50, r2: 50}}]}}}",
    );
    assert_eq!(validation_paths(&ok), Vec::<String>::new());
}

#[test]
fn split_local_origin_with_a_threshold_is_valid() {
    let spec = dr_from_yaml(
        "host: a\ntrafficPolicy: {outlierDetection: {splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 10}}",
    );
    validate_destination_rule(&spec).unwrap();
}

// ---------------------------------------------------------------------------------------------
// I1: TestApplyOutlierDetection
// ---------------------------------------------------------------------------------------------

#[test]
fn i1_empty_outlier_detection_only_disables_success_rate() {
    let out = outlier_config(&OutlierDetection::default(), &MeshSettings::default());
    assert_eq!(out, OutlierConfig { enforcing_success_rate: 0, ..OutlierConfig::default() });
}

/// Istio never sets `max_ejection_time`, so Envoy's default rule applies: `max(300 s, base)`
/// (`DetectorConfig`, `outlier_detection_impl.cc`). A 10 min base ejects for 10 min, not 5.
#[test]
fn i1_max_ejection_time_is_envoys_default_of_the_base() {
    let od = |base: &str| OutlierDetection {
        base_ejection_time: Some(super::duration::GoDuration(parse_duration(base).unwrap())),
        ..Default::default()
    };
    let out = outlier_config(&od("10m"), &MeshSettings::default());
    assert_eq!(
        (out.base_ejection_time, out.max_ejection_time),
        (SimDuration::from_secs(600), SimDuration::from_secs(600))
    );
    let out = outlier_config(&od("30s"), &MeshSettings::default());
    assert_eq!(out.max_ejection_time, SimDuration::from_secs(300));
    let out = outlier_config(&od("301s"), &MeshSettings::default());
    assert_eq!(out.max_ejection_time, SimDuration::from_secs(301));
}

#[test]
fn i1_consecutive_errors_are_enforced_at_100() {
    let od =
        OutlierDetection { consecutive_5xx_errors: Some(4), consecutive_gateway_errors: Some(3), ..Default::default() };
    let out = outlier_config(&od, &MeshSettings::default());
    assert_eq!((out.consecutive_5xx, out.enforcing_consecutive_5xx), (4, 100));
    assert_eq!((out.consecutive_gateway_failure, out.enforcing_consecutive_gateway_failure), (3, 100));
}

#[test]
fn i1_zero_threshold_is_not_enforced() {
    let od = OutlierDetection { consecutive_gateway_errors: Some(0), ..Default::default() };
    let out = outlier_config(&od, &MeshSettings::default());
    assert_eq!((out.consecutive_gateway_failure, out.enforcing_consecutive_gateway_failure), (0, 0));
    let od = OutlierDetection { consecutive_5xx_errors: Some(0), ..Default::default() };
    let out = outlier_config(&od, &MeshSettings::default());
    assert_eq!((out.consecutive_5xx, out.enforcing_consecutive_5xx), (0, 0));
}

#[test]
fn i1_split_local_origin() {
    let od = OutlierDetection {
        split_external_local_origin_errors: Some(true),
        consecutive_local_origin_failures: Some(10),
        ..Default::default()
    };
    let out = outlier_config(&od, &MeshSettings::default());
    assert!(out.split_external_local_origin_errors);
    assert_eq!(out.consecutive_local_origin_failure, 10);
    assert_eq!(out.enforcing_consecutive_local_origin_failure, 100);
    assert_eq!(out.enforcing_local_origin_success_rate, 0);
    assert_eq!(out.enforcing_success_rate, 0);
}

#[test]
fn max_ejection_percent_zero_falls_back_to_envoy_default() {
    let od = OutlierDetection { max_ejection_percent: Some(0), ..Default::default() };
    assert_eq!(outlier_config(&od, &MeshSettings::default()).max_ejection_percent, 10);
}

// ---------------------------------------------------------------------------------------------
// Cluster translation: seed DR and defaults
// ---------------------------------------------------------------------------------------------

#[test]
fn seed_destination_rule_translates() {
    let spec = seed_dr();
    let mesh = MeshSettings::default();
    let c = cluster_config(spec.traffic_policy.as_ref(), &mesh);
    assert_eq!(c.circuit_breakers.max_requests, 100);
    assert_eq!(c.circuit_breakers.max_pending_requests, u32::MAX);
    assert_eq!(c.circuit_breakers.max_connections, u32::MAX);
    assert_eq!(c.circuit_breakers.max_retries, u32::MAX);
    let od = c.outlier.as_ref().unwrap();
    assert_eq!((od.consecutive_5xx, od.enforcing_consecutive_5xx), (1, 100));
    assert_eq!(od.interval, SimDuration::from_secs(1));
    assert_eq!(od.base_ejection_time, SimDuration::from_secs(30));
    assert_eq!(od.max_ejection_percent, 100);
    assert_eq!(od.enforcing_success_rate, 0);
    assert_eq!(c.lb.healthy_panic_threshold, 0);
    assert!(c.lb.locality_weighted);
    assert_eq!(c.lb.policy, LbPolicy::LeastRequest { choice_count: 2 });
    assert_eq!(c.connect_timeout, SimDuration::from_secs(10));
}

#[test]
fn seed_assignment_for_a_europe_proxy_is_50_50_in_p0() {
    let spec = seed_dr();
    let endpoints = [
        ep(1, "europe-west1/europe-west1-b"),
        ep(2, "europe-west1/europe-west1-b"),
        ep(3, "europe-west1/europe-west1-b"),
        ep(4, "us-central1/us-central1-a"),
        ep(5, "us-central1/us-central1-a"),
    ];
    let proxy = proxy_at("europe-west1/europe-west1-b");
    let a = assignment_for(spec.traffic_policy.as_ref(), &MeshSettings::default(), &proxy, &endpoints, &[]);
    assert!(a.locality_weighted);
    assert_eq!(
        summary(&a),
        [
            (0, "europe-west1/europe-west1-b".into(), 50, vec![1, 2, 3]),
            (0, "us-central1/us-central1-a".into(), 50, vec![4, 5]),
        ]
    );
}

#[test]
fn no_destination_rule_gives_istio_defaults() {
    let c = cluster_config(None, &MeshSettings::default());
    assert!(c.outlier.is_none());
    assert!(!c.lb.locality_weighted);
    assert_eq!(c.circuit_breakers, crate::envoy::config::CircuitBreakers::istio_unlimited());
    assert_eq!(c.connect_timeout, SimDuration::from_secs(10));
    // 1.31 sends unready endpoints as unhealthy and so disables panic; ≤ 1.30 keeps Envoy's 50.
    assert_eq!(c.lb.healthy_panic_threshold, 0);
    let old = cluster_config(None, &MeshSettings::for_istio_minor(30));
    assert_eq!(old.lb.healthy_panic_threshold, 50);
}

#[test]
fn min_health_percent_sets_the_panic_threshold_and_stops_unhealthy_endpoints() {
    let spec = dr_from_yaml("host: a\ntrafficPolicy: {outlierDetection: {minHealthPercent: 30}}");
    let tp = spec.traffic_policy.as_ref();
    assert_eq!(cluster_config(tp, &MeshSettings::default()).lb.healthy_panic_threshold, 30);
    let endpoints = [ep(1, "r1/z1"), IstioEndpoint { ready: false, ..ep(2, "r1/z1") }];
    let a = assignment_for(tp, &MeshSettings::default(), &proxy_at("r1/z1"), &endpoints, &[]);
    assert_eq!(summary(&a), [(0, "r1/z1".into(), 1, vec![1])]);
}

#[test]
fn connection_pool_and_algorithm_mapping() {
    let spec = dr_from_yaml(
        r#"
host: a
trafficPolicy:
  loadBalancer: {simple: ROUND_ROBIN}
  connectionPool:
    tcp: {maxConnections: 7, connectTimeout: 250ms}
    http: {http1MaxPendingRequests: 0, maxRetries: 4}
  retryBudget: {percent: 25}
"#,
    );
    let c = cluster_config(spec.traffic_policy.as_ref(), &MeshSettings::default());
    assert_eq!(c.lb.policy, LbPolicy::RoundRobin);
    assert_eq!(c.circuit_breakers.max_connections, 7);
    assert_eq!(c.circuit_breakers.max_pending_requests, u32::MAX, "0 means default");
    assert_eq!(c.circuit_breakers.max_retries, 4);
    let budget = c.circuit_breakers.retry_budget.unwrap();
    assert_eq!((budget.budget_percent, budget.min_retry_concurrency), (25, 3));
    assert_eq!(c.connect_timeout, SimDuration::from_millis(250));
}

#[test]
fn subset_and_port_policies_merge_block_by_block() {
    let spec = dr_from_yaml(
        r#"
host: a
trafficPolicy:
  connectionPool: {http: {http2MaxRequests: 10}}
  outlierDetection: {consecutive5xxErrors: 7}
  portLevelSettings:
  - port: {number: 8080}
    outlierDetection: {consecutive5xxErrors: 3}
subsets:
- name: v2
  labels: {version: v2}
  trafficPolicy:
    connectionPool: {http: {http2MaxRequests: 20}}
"#,
    );
    let mesh = MeshSettings::default();
    let tp = merged_traffic_policy(&spec, Some("v2"), Some(8080));
    let c = cluster_config(tp.as_ref(), &mesh);
    assert_eq!(c.circuit_breakers.max_requests, 20);
    assert_eq!(c.outlier.unwrap().consecutive_5xx, 3);
    let tp = merged_traffic_policy(&spec, None, Some(9090));
    let c = cluster_config(tp.as_ref(), &mesh);
    assert_eq!((c.circuit_breakers.max_requests, c.outlier.unwrap().consecutive_5xx), (10, 7));
}

#[test]
fn effective_lb_setting_reports_its_source() {
    let mesh = MeshSettings::default();
    let e = effective_lb_setting(None, &mesh);
    assert_eq!(e.source, LbSettingSource::MeshDefault);
    assert_eq!(e.setting.unwrap().enabled, Some(true));
    let off = dr_from_yaml("host: a\ntrafficPolicy: {loadBalancer: {localityLbSetting: {enabled: false}}}");
    let e = effective_lb_setting(off.traffic_policy.as_ref(), &mesh);
    assert_eq!((e.source, e.setting), (LbSettingSource::DisabledByDestinationRule, None));
    let seed = seed_dr();
    let e = effective_lb_setting(seed.traffic_policy.as_ref(), &mesh);
    assert_eq!(e.source, LbSettingSource::DestinationRule);
    let mesh_off = MeshSettings {
        locality_lb_setting: LocalityLbSetting { enabled: Some(false), ..Default::default() },
        ..MeshSettings::default()
    };
    assert_eq!(effective_lb_setting(None, &mesh_off).source, LbSettingSource::DisabledByMesh);
}

// ---------------------------------------------------------------------------------------------
// I2–I6: TestApplyLocalitySetting through the public assignment
// ---------------------------------------------------------------------------------------------

#[test]
fn i2_distribute_between_subzones_with_real_groups() {
    // Real EDS has one group per locality: the two sub-zone-1 endpoints share one group.
    let spec = dr_from_yaml(
        r#"
host: a
trafficPolicy:
  loadBalancer:
    localityLbSetting:
      distribute:
      - from: region1/zone1/subzone1
        to: {region1/zone1/subzone1: 80, region1/zone1/subzone2: 15, region1/zone1/subzone3: 5}
"#,
    );
    let endpoints = [
        ep(1, "region1/zone1/subzone1"),
        ep(2, "region1/zone1/subzone1"),
        ep(3, "region1/zone1/subzone2"),
        ep(4, "region1/zone1/subzone3"),
        ep(5, "region1/zone2"),
        ep(6, "region2"),
        ep(7, "region3"),
    ];
    let proxy = proxy_at("region1/zone1/subzone1");
    let a = assignment_for(spec.traffic_policy.as_ref(), &MeshSettings::default(), &proxy, &endpoints, &[]);
    let weights: Vec<_> = summary(&a).into_iter().map(|(p, _, w, ids)| (p, w, ids.len())).collect();
    assert_eq!(weights, [(0, 80, 2), (0, 15, 1), (0, 5, 1), (0, 0, 0), (0, 0, 0), (0, 0, 0)]);
}

#[test]
fn i3_failover_all_priorities() {
    let setting = failover_setting("region1", "region2");
    let endpoints = [
        ep(1, "region1/zone1/subzone1"),
        ep(2, "region1/zone1/subzone2"),
        ep(3, "region1/zone1/subzone3"),
        ep(4, "region1/zone2"),
        ep(5, "region2"),
        ep(6, "region3"),
    ];
    let a = assign_endpoints(&proxy_at("region1/zone1/subzone1"), &endpoints, &failover_opts(&setting));
    let got: Vec<_> = summary(&a).into_iter().map(|(p, l, _, _)| (p, l)).collect();
    let expected = [
        (0, "region1/zone1/subzone1"),
        (1, "region1/zone1/subzone2"),
        (1, "region1/zone1/subzone3"),
        (2, "region1/zone2"),
        (3, "region2"),
        (4, "region3"),
    ];
    assert_eq!(got, expected.map(|(p, l)| (p, l.to_string())));
    assert!(a.locality_weighted, "an explicit failover list turns on locality weighting");
}

#[test]
fn i4_failover_priorities_with_gaps_are_compacted() {
    let setting = failover_setting("region1", "region2");
    let endpoints = [ep(1, "region1/zone1/subzone2"), ep(2, "region2/zone1/subzone2"), ep(3, "region2/zone1/subzone2")];
    let a = assign_endpoints(&proxy_at("region1/zone1/subzone1"), &endpoints, &failover_opts(&setting));
    assert_eq!(
        summary(&a),
        [(0, "region1/zone1/subzone2".into(), 1, vec![1]), (1, "region2/zone1/subzone2".into(), 2, vec![2, 3])]
    );
}

#[test]
fn i5_failover_with_nil_localities() {
    let setting = failover_setting("region1", "region2");
    let endpoints = [ep(1, "region1/zone1/subzone2"), ep(2, ""), ep(3, "region2/zone1/subzone2")];
    let a = assign_endpoints(&proxy_at("region1/zone1/subzone1"), &endpoints, &failover_opts(&setting));
    let got: Vec<_> = summary(&a).into_iter().map(|(p, l, _, _)| (p, l)).collect();
    assert_eq!(got, [(0, "region1/zone1/subzone2".into()), (1, "region2/zone1/subzone2".into()), (2, "".into())]);
}

#[test]
fn default_failover_without_rules_puts_other_regions_in_one_tier_and_no_weighting() {
    let spec = dr_from_yaml("host: a\ntrafficPolicy: {outlierDetection: {}}");
    let endpoints = [ep(1, "r1/z1"), ep(2, "r1/z2"), ep(3, "r2/z1"), ep(4, "r3/z1")];
    let a = assignment_for(spec.traffic_policy.as_ref(), &MeshSettings::default(), &proxy_at("r1/z1"), &endpoints, &[]);
    let got: Vec<_> = summary(&a).into_iter().map(|(p, _, _, ids)| (p, ids)).collect();
    assert_eq!(got, [(0, vec![1]), (1, vec![2]), (2, vec![3]), (2, vec![4])]);
    assert!(!a.locality_weighted);
}

#[test]
fn without_outlier_detection_everything_is_in_p0() {
    let endpoints = [ep(1, "r1/z1"), ep(2, "r1/z2"), ep(3, "r2/z1")];
    let a = assignment_for(None, &MeshSettings::default(), &proxy_at("r1/z1"), &endpoints, &[]);
    assert_eq!(a.priorities.len(), 1);
    assert_eq!(a.priorities[0].len(), 3);
    assert!(!a.locality_weighted);
}

/// Istio's `buildWrappedLocalityLbEndpoints` fixture: three localities, two endpoints each.
fn failover_priority_fixture() -> Vec<IstioEndpoint> {
    let with = |id, locality, key: bool, network: &str, cluster: &str| {
        let mut labels = BTreeMap::new();
        if key {
            labels.insert("key".to_string(), "value".to_string());
        }
        IstioEndpoint { network: network.into(), cluster: cluster.into(), labels, ..ep(id, locality) }
    };
    vec![
        with(1, "region1/zone1/subzone1", false, "n1", "c1"),
        with(2, "region1/zone1/subzone1", true, "n2", "c2"),
        with(3, "region2/zone2/subzone2", true, "n1", "c3"),
        with(4, "region2/zone2/subzone2", true, "n2", "c4"),
        with(5, "region3/zone3/subzone3", true, "n1", "c1"),
        with(6, "region3/zone3/subzone3", true, "n2", "c2"),
    ]
}

fn failover_priority_assignment(network: &str, cluster: &str, keys: &[&str]) -> Assignment {
    let setting = LocalityLbSetting {
        failover_priority: Some(keys.iter().map(|k| k.to_string()).collect()),
        ..Default::default()
    };
    // Istio's "match all labels" proxy also carries key=value; other cases don't list "key".
    let proxy = ProxyMeta {
        network: network.into(),
        cluster: cluster.into(),
        labels: [("key".to_string(), "value".to_string())].into_iter().collect(),
        ..Default::default()
    };
    assign_endpoints(&proxy, &failover_priority_fixture(), &failover_opts(&setting))
}

#[test]
fn i6_failover_priority_match_none_label() {
    let a = failover_priority_assignment("test", "test", &[labels::NETWORK, labels::CLUSTER]);
    assert_eq!(
        summary(&a),
        [
            (0, "region1/zone1/subzone1".into(), 2, vec![1, 2]),
            (0, "region2/zone2/subzone2".into(), 2, vec![3, 4]),
            (0, "region3/zone3/subzone3".into(), 2, vec![5, 6]),
        ]
    );
}

#[test]
fn i6_failover_priority_match_network_label() {
    let a = failover_priority_assignment("n1", "test", &[labels::NETWORK, labels::CLUSTER]);
    assert_eq!(
        summary(&a),
        [
            (0, "region1/zone1/subzone1".into(), 1, vec![1]),
            (0, "region2/zone2/subzone2".into(), 1, vec![3]),
            (0, "region3/zone3/subzone3".into(), 1, vec![5]),
            (1, "region1/zone1/subzone1".into(), 1, vec![2]),
            (1, "region2/zone2/subzone2".into(), 1, vec![4]),
            (1, "region3/zone3/subzone3".into(), 1, vec![6]),
        ]
    );
}

#[test]
fn i6_failover_priority_match_all_labels() {
    let a = failover_priority_assignment("n2", "c2", &["key", labels::NETWORK, labels::CLUSTER]);
    let got: Vec<_> = summary(&a).into_iter().map(|(p, _, _, ids)| (p, ids)).collect();
    // 2 and 6 match all three labels; 4 matches key and network; 3 and 5 match key only;
    // 1 matches nothing.
    assert_eq!(got, [(0, vec![2]), (0, vec![6]), (1, vec![4]), (2, vec![3]), (2, vec![5]), (3, vec![1])]);
}

#[test]
fn failover_priority_cross_network_ranks_after_every_same_network_endpoint() {
    // envoy-semantics §5.4.3 special case, proxy on n1/c2, labels [network, cluster] (N = 2):
    // n1 endpoints (1, 3, 5) mismatch the cluster → 1; n2 endpoints add N and keep scanning:
    // 2 and 6 (c2) → 2, 4 (c4) → 3. Without the special case 4 would tie with 2 and 6.
    let a = failover_priority_assignment("n1", "c2", &[labels::NETWORK, labels::CLUSTER]);
    let got: Vec<_> = summary(&a).into_iter().map(|(p, _, _, ids)| (p, ids)).collect();
    assert_eq!(got, [(0, vec![1]), (0, vec![3]), (0, vec![5]), (1, vec![2]), (1, vec![6]), (2, vec![4])]);
}

#[test]
fn failover_priority_composes_with_failover_rules() {
    let setting = LocalityLbSetting {
        failover_priority: Some(vec![labels::NETWORK.to_string()]),
        failover: Some(vec![Failover { from: "region1".into(), to: "region3".into() }]),
        ..Default::default()
    };
    let mut proxy = proxy_at("region1/zone1/subzone1");
    proxy.network = "n1".into();
    let a = assign_endpoints(&proxy, &failover_priority_fixture(), &failover_opts(&setting));
    let got: Vec<_> = summary(&a).into_iter().map(|(p, _, _, ids)| (p, ids)).collect();
    // n1 first (1 local, then 5 in the failover region, then 3 elsewhere), then n2 likewise.
    assert_eq!(got, [(0, vec![1]), (1, vec![5]), (2, vec![3]), (3, vec![2]), (4, vec![6]), (5, vec![4])]);
}

// ---------------------------------------------------------------------------------------------
// Unready endpoints and multi-network
// ---------------------------------------------------------------------------------------------

#[test]
fn unready_endpoints_are_dropped_or_sent_unhealthy_by_version() {
    let endpoints = [ep(1, "r1/z1"), IstioEndpoint { ready: false, ..ep(2, "r1/z1") }];
    let proxy = proxy_at("r1/z1");
    let new = assignment_for(None, &MeshSettings::default(), &proxy, &endpoints, &[]);
    let unhealthy: Vec<_> = new.priorities[0][0].endpoints.iter().map(|e| e.unhealthy).collect();
    assert_eq!(unhealthy, [false, true]);
    assert_eq!(new.priorities[0][0].weight, 2);
    let mesh = MeshSettings { unready_endpoints: UnreadyEndpoints::Drop, ..MeshSettings::default() };
    let old = assignment_for(None, &mesh, &proxy, &endpoints, &[]);
    assert_eq!(summary(&old), [(0, "r1/z1".into(), 1, vec![1])]);
}

#[test]
fn remote_network_endpoints_are_replaced_by_their_gateways() {
    let on = |id, locality, network: &str, cluster: &str| IstioEndpoint {
        network: network.into(),
        cluster: cluster.into(),
        ..ep(id, locality)
    };
    let endpoints = [
        on(1, "eu/eu-b", "net-a", "a"),
        on(2, "eu/eu-b", "net-a", "a"),
        on(3, "us/us-a", "net-b", "b"),
        on(4, "us/us-a", "net-b", "b"),
        on(5, "us/us-c", "net-b", "b"),
    ];
    let gateways = [EastWestGateway { id: EndpointId(100), network: "net-b".into(), cluster: "b".into() }];
    let proxy = ProxyMeta { network: "net-a".into(), cluster: "a".into(), ..proxy_at("eu/eu-b") };
    let a = assignment_for(None, &MeshSettings::default(), &proxy, &endpoints, &gateways);
    // The gateway first appears in us/us-a with weight 2; its later occurrence in us/us-c is
    // dropped (Envoy keeps one host per address), the group keeping the weight sent.
    assert_eq!(
        summary(&a),
        [(0, "eu/eu-b".into(), 2, vec![1, 2]), (0, "us/us-a".into(), 2, vec![100]), (0, "us/us-c".into(), 1, vec![]),]
    );
}

#[test]
fn weights_split_evenly_across_two_gateways() {
    let remote = |id| IstioEndpoint { network: "n2".into(), cluster: "c2".into(), ..ep(id, "us/us-a") };
    let endpoints = [ep(1, "eu/eu-b"), remote(2), remote(3), remote(4)];
    let gw = |id| EastWestGateway { id: EndpointId(id), network: "n2".into(), cluster: "c2".into() };
    let a = assignment_for(None, &MeshSettings::default(), &proxy_at("eu/eu-b"), &endpoints, &[gw(100), gw(101)]);
    let weights: Vec<Vec<(u32, u32)>> =
        a.priorities[0].iter().map(|g| g.endpoints.iter().map(|e| (e.id.0, e.weight)).collect()).collect();
    // Scale factor 2: the local endpoint weighs 2, each remote one 2, split over 2 gateways.
    assert_eq!(weights, [vec![(1, 2)], vec![(100, 3), (101, 3)]]);
}

// ---------------------------------------------------------------------------------------------
// I8: TestRetry, routes and VirtualService binding
// ---------------------------------------------------------------------------------------------

#[test]
fn i8_no_retries_gives_the_default_policy() {
    let p = retry_policy(None, &MeshSettings::default()).unwrap();
    assert_eq!(p.num_retries, 2);
    assert_eq!(p.retry_on_text, "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes");
    assert!(p.retry_on.connect_failure && p.retry_on.refused_stream && p.retry_on.grpc);
    assert!(p.retry_on.retriable_status_codes && !p.retry_on.five_xx && !p.retry_on.gateway_error);
    assert!(p.retriable_status_codes.is_empty());
    assert_eq!(p.host_selection_retry_max_attempts, 5);
    assert!(p.previous_hosts);
    assert_eq!(p.previous_priorities_update_frequency, None);
    assert_eq!(p.per_try_timeout, None);
    assert_eq!((p.backoff_base, p.backoff_max), (SimDuration::from_millis(25), SimDuration::from_millis(250)));
    let old = retry_policy(None, &MeshSettings::for_istio_minor(23)).unwrap();
    assert_eq!(old.retriable_status_codes, [503]);
}

#[test]
fn i8_zero_attempts_disables_retries() {
    let r = HttpRetry { attempts: 0, ..Default::default() };
    assert_eq!(retry_policy(Some(&r), &MeshSettings::default()), None);
}

#[test]
fn i8_retry_on_with_status_codes() {
    let r = HttpRetry { attempts: 3, retry_on: Some("gateway-error,503".into()), ..Default::default() };
    let p = retry_policy(Some(&r), &MeshSettings::default()).unwrap();
    assert_eq!(p.num_retries, 3);
    assert_eq!(p.retry_on_text, "gateway-error,retriable-status-codes");
    assert_eq!(p.retriable_status_codes, [503]);
    assert!(p.retry_on.gateway_error && p.retry_on.retriable_status_codes && !p.retry_on.connect_failure);
    let r =
        HttpRetry { attempts: 1, retry_on: Some(" 5xx , 999,retriable-status-codes,409".into()), ..Default::default() };
    let p = retry_policy(Some(&r), &MeshSettings::default()).unwrap();
    assert_eq!(p.retry_on_text, "5xx,999,retriable-status-codes");
    assert_eq!(p.retriable_status_codes, [409]);
}

#[test]
fn i8_retry_fields_override_the_default() {
    let r: HttpRetry = super::manifest::from_yaml(
        "{attempts: 4, perTryTimeout: 2s, backoff: 100ms, retryRemoteLocalities: true, retryIgnorePreviousHosts: false}",
    )
    .unwrap();
    let p = retry_policy(Some(&r), &MeshSettings::default()).unwrap();
    assert_eq!(p.num_retries, 4);
    assert_eq!(p.per_try_timeout, Some(SimDuration::from_secs(2)));
    assert_eq!((p.backoff_base, p.backoff_max), (SimDuration::from_millis(100), SimDuration::from_secs(1)));
    assert_eq!(p.previous_priorities_update_frequency, Some(2));
    assert!(!p.previous_hosts);
    assert_eq!(p.retry_on_text, super::translate::DEFAULT_RETRY_ON, "retryOn unset keeps the default");
}

#[test]
fn route_timeout_and_seed_route() {
    let vs = seed_vs();
    let route = route_for_host(&vs, HELLO).unwrap();
    let rc = route_config(Some(route), &MeshSettings::default());
    assert_eq!(rc.timeout, None);
    assert_eq!(rc.retry.unwrap().num_retries, 2);
    let timed = HttpRoute { timeout: Some(SimDuration::from_secs(3).into()), ..Default::default() };
    assert_eq!(route_config(Some(&timed), &MeshSettings::default()).timeout, Some(SimDuration::from_secs(3)));
    let zero = HttpRoute { timeout: Some(SimDuration::ZERO.into()), ..Default::default() };
    assert_eq!(route_config(Some(&zero), &MeshSettings::default()).timeout, None);
    assert!(route_for_host(&vs, "other.default.svc.cluster.local").is_none());
}

#[test]
fn virtual_service_binding_to_gateways_and_sidecars() {
    let vs = seed_vs();
    let gw = |name, namespace| ClientProxy::Gateway { name, namespace };
    assert!(virtual_service_applies(&vs, "default", gw("public-gateway", "default")));
    assert!(!virtual_service_applies(&vs, "default", gw("public-gateway", "istio-system")));
    assert!(!virtual_service_applies(&vs, "default", ClientProxy::Sidecar));
    let mut both = vs.clone();
    both.gateways = Some(vec!["istio-system/public-gateway".into(), "mesh".into()]);
    assert!(virtual_service_applies(&both, "default", gw("public-gateway", "istio-system")));
    assert!(virtual_service_applies(&both, "default", ClientProxy::Sidecar));
    let mut none = vs;
    none.gateways = None;
    assert!(virtual_service_applies(&none, "default", ClientProxy::Sidecar));
    assert!(!virtual_service_applies(&none, "default", gw("public-gateway", "default")));
}

#[test]
fn virtual_service_validation_names_the_field() {
    let vs: VirtualServiceSpec = super::manifest::from_yaml(
        "http: [{route: [{destination: {host: a}}], retries: {attempts: -1, perTryTimeout: 0.5ms}}]",
    )
    .unwrap();
    let Err(IstioError::Invalid { errors, .. }) = validate_virtual_service(&vs) else { panic!() };
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["http[0].retries.attempts", "http[0].retries.perTryTimeout"]);
}

/// `validateHTTPRetry`: each `retryOn` token is a known status code or a supported policy, as
/// written; `validateHTTPRoute`: a route without destinations needs a redirect.
#[test]
fn virtual_service_validation_follows_istio_for_retry_on_and_routes() {
    let errors_of = |yaml: &str| -> Vec<String> {
        let vs: VirtualServiceSpec = super::manifest::from_yaml(yaml).unwrap();
        match validate_virtual_service(&vs) {
            Ok(()) => vec![],
            Err(IstioError::Invalid { errors, .. }) => errors.iter().map(|e| e.to_string()).collect(),
            Err(e) => panic!("{e}"),
        }
    };
    let route = "route: [{destination: {host: a}}]";
    for ok in ["5xx,connect-failure,503", "gateway-error,reset-before-request,429", "unavailable,retriable-headers"] {
        assert_eq!(errors_of(&format!("http: [{{{route}, retries: {{attempts: 2, retryOn: '{ok}'}}}}]")), [""; 0]);
    }
    let bad = errors_of(&format!("http: [{{{route}, retries: {{attempts: 2, retryOn: 'bogus,5xx, reset,599'}}}}]"));
    assert_eq!(bad.len(), 3, "{bad:?}");
    assert!(bad[0].starts_with("http[0].retries.retryOn: \"bogus\" is not a valid retryOn policy"), "{bad:?}");
    assert!(bad[1].contains("\" reset\""), "Istio does not trim tokens: {bad:?}");
    assert!(bad[2].contains("\"599\""), "599 has no status text: {bad:?}");
    let zero = errors_of(&format!("http: [{{{route}, retries: {{attempts: 0, retryOn: 5xx}}}}]"));
    assert_eq!(zero, ["http[0].retries: http retry policy configured when attempts are set to 0 (disabled)"]);
    assert_eq!(errors_of("http: [{route: []}]"), ["http[0].route: HTTP route or redirect is required"]);
    assert_eq!(errors_of("http: [{retries: {attempts: 1}}]"), ["http[0].route: HTTP route or redirect is required"]);
    assert_eq!(errors_of("http: [{redirect: {uri: /x}}]"), [""; 0]);
}

#[test]
fn traffic_policy_type_is_usable_standalone() {
    // The scenario loader deserializes a bare traffic policy from TOML.
    let from_toml = |text: &str| {
        let table: toml::Table = text.parse().unwrap();
        crate::scenario::deserialize_tracked::<TrafficPolicy>(toml::Value::Table(table))
    };
    let tp = from_toml("[outlierDetection]\ninterval = \"5s\"\n").unwrap();
    assert_eq!(tp.outlier_detection.unwrap().interval.unwrap().0, SimDuration::from_secs(5));
    let err = from_toml("[outlierDetection]\nintervall = \"5s\"\n").unwrap_err();
    assert!(err.to_string().contains("intervall"), "{err}");
}

/// `TestMergeTrafficPolicy` (`pilot/pkg/networking/core/v1alpha3/cluster_traffic_policy_test.go`
/// in Istio, since moved beside `MergeSubsetTrafficPolicy`), every case: `original` is the
/// DestinationRule's top-level policy, `subset` the policy of subset `s`, `port` the cluster's
/// port (`None`: no port). `consecutiveErrors` there is `consecutive5xxErrors` here.
#[test]
fn istio_merge_traffic_policy_cases() {
    let tp = |yaml: &str| -> Option<TrafficPolicy> {
        if yaml.is_empty() { None } else { Some(super::manifest::from_yaml(yaml).expect("policy")) }
    };
    let case = |name: &str, original: &str, subset: &str, port: Option<u32>, expected: &str| {
        let spec = DestinationRuleSpec {
            host: "a".into(),
            traffic_policy: tp(original),
            subsets: Some(vec![Subset { name: "s".into(), labels: None, traffic_policy: tp(subset) }]),
            ..Default::default()
        };
        assert_eq!(merged_traffic_policy(&spec, Some("s"), port), tp(expected), "{name}");
    };
    case("all nil policies", "", "", None, "");
    case(
        "no subset policy",
        "connectionPool: {http: {maxRetries: 10}}",
        "",
        None,
        "connectionPool: {http: {maxRetries: 10}}",
    );
    case(
        "no parent policy",
        "",
        "connectionPool: {http: {maxRetries: 10}}",
        None,
        "connectionPool: {http: {maxRetries: 10}}",
    );
    case(
        "merge non-conflicting fields",
        "tls: {mode: ISTIO_MUTUAL}",
        "connectionPool: {http: {maxRetries: 10}}",
        None,
        "{connectionPool: {http: {maxRetries: 10}}, tls: {mode: ISTIO_MUTUAL}}",
    );
    case(
        "subset overwrite top-level fields",
        "{tls: {mode: ISTIO_MUTUAL}, connectionPool: {http: {maxRetries: 10}}}",
        "tls: {mode: SIMPLE}",
        None,
        "{tls: {mode: SIMPLE}, connectionPool: {http: {maxRetries: 10}}}",
    );
    case(
        "merge port level policy, and do not inherit top-level fields (no parent)",
        "",
        "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {http: {maxRetries: 10}},
          portLevelSettings: [{port: {number: 8080}, loadBalancer: {simple: LEAST_REQUEST}}]}",
        Some(8080),
        "loadBalancer: {simple: LEAST_REQUEST}",
    );
    case(
        "merge port level policy, and do not inherit top-level fields",
        "{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: {consecutive5xxErrors: 20},
          portLevelSettings: [{port: {number: 8080}, outlierDetection: {consecutive5xxErrors: 15}}]}",
        "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {http: {maxRetries: 10}},
          portLevelSettings: [{port: {number: 8080}, outlierDetection: {consecutive5xxErrors: 13}}]}",
        Some(8080),
        "outlierDetection: {consecutive5xxErrors: 13}",
    );
    case(
        "default cluster, non-matching port selector",
        "{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: {consecutive5xxErrors: 20},
          portLevelSettings: [{port: {number: 8080}, outlierDetection: {consecutive5xxErrors: 15}}]}",
        "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {http: {maxRetries: 10}},
          portLevelSettings: [{port: {number: 8080}, outlierDetection: {consecutive5xxErrors: 13}}]}",
        Some(9090),
        "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {http: {maxRetries: 10}},
          outlierDetection: {consecutive5xxErrors: 20}}",
    );
}

/// The default cluster takes the top-level policy through `GetPortLevelTrafficPolicy` too: a
/// port-level entry for its port replaces the whole policy (the top-level `connectionPool` is
/// not inherited), another port's entry changes nothing.
#[test]
fn default_cluster_port_level_entry_replaces_the_whole_policy() {
    let spec = dr_from_yaml(
        "host: a\ntrafficPolicy:\n  connectionPool: {http: {http2MaxRequests: 10}}\n  outlierDetection: {consecutive5xxErrors: 7}\n  portLevelSettings:\n  - port: {number: 80}\n    outlierDetection: {consecutive5xxErrors: 3}\n",
    );
    let c = cluster_config(merged_traffic_policy(&spec, None, Some(80)).as_ref(), &MeshSettings::default());
    assert_eq!(c.outlier.as_ref().map(|o| o.consecutive_5xx), Some(3));
    assert_eq!(c.circuit_breakers.max_requests, u32::MAX, "connectionPool is not inherited");
    let c = cluster_config(merged_traffic_policy(&spec, None, Some(81)).as_ref(), &MeshSettings::default());
    assert_eq!((c.circuit_breakers.max_requests, c.outlier.map(|o| o.consecutive_5xx)), (10, Some(7)));
}

/// `validateSubset`: a subset name must be a DNS-1123 label, label keys qualified names and
/// values label values; a VirtualService destination's subset name too (`validateSubsetName`).
#[test]
fn subset_names_and_labels_are_validated_as_istio_does() {
    let dr =
        |name: &str, labels: &str| dr_from_yaml(&format!("host: a\nsubsets:\n- name: {name}\n  labels: {labels}\n"));
    assert!(validate_destination_rule(&dr("v1", "{version: v1}")).is_ok());
    assert!(validate_destination_rule(&dr("v1", "{app.kubernetes.io/version: \"1.2\"}")).is_ok());
    for (name, labels, needle) in [
        ("V1", "{version: v1}", "subset name is invalid: V1"),
        ("v_1", "{version: v1}", "subset name is invalid: v_1"),
        ("v1", "{\"-bad\": v1}", "invalid tag key"),
        ("v1", "{version: \"v 1\"}", "invalid tag value"),
    ] {
        let e = validate_destination_rule(&dr(name, labels)).expect_err(name).to_string();
        assert!(e.contains(needle) && e.contains("subsets[0]"), "{e}");
    }
    let vs: VirtualServiceSpec =
        super::manifest::from_yaml("hosts: [a]\nhttp:\n- route:\n  - destination: {host: a, subset: Not_A_Label}\n")
            .unwrap();
    let e = validate_virtual_service(&vs).unwrap_err().to_string();
    assert!(e.contains("http[0].route[0].destination.subset") && e.contains("subset name is invalid"), "{e}");
}
