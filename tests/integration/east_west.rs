//! East-west gateways that balance per client connection (`model::tunnel`): the connection
//! bookkeeping stays consistent through every way a connection ends, and the settings that end
//! connections are read from the DestinationRule.

use std::sync::Arc;

use meshsim::model::ids::EndpointId;

use crate::util::parse;

/// Frontends in A (network1) call a service whose pods run in B (network2), behind `gw`
/// east-west gateway replicas; `protocol`, the DestinationRule's `trafficPolicy` body and faults.
fn remote(protocol: &str, gw: u32, traffic_policy: &str, faults: &str) -> String {
    format!(
        r#"
name = "t"
duration = "40s"
[[clusters]]
name = "a"
region = "r1"
[[clusters]]
name = "b"
region = "r2"
network = "network2"
[network]
cross_region = "20ms"
[service]
host = "svc.default.svc.cluster.local"
protocol = "{protocol}"
readiness_delay = "2s"
termination_grace = "2s"
[[service.deployments]]
cluster = "b"
replicas = 4
[[east_west_gateways]]
cluster = "b"
replicas = {gw}
[[proxies]]
name = "frontend"
kind = "sidecar"
cluster = "a"
replicas = 3
[[workload]]
proxy = "frontend"
rate = 600
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
[policy.destination_rule.trafficPolicy]
{traffic_policy}
{faults}
"#
    )
}

/// After the run, every client proxy's pool counts for a gateway host equal its open tunnels to
/// it, and the proxy's connection count is the sum over its hosts.
fn assert_consistent(text: &str) {
    let s = parse(text).unwrap_or_else(|e| panic!("{e}"));
    let out = meshsim::model::run(Arc::new(s), 1).expect("run");
    for proxy in &out.world.proxies {
        for p in &proxy.clusters {
            let mut total = 0;
            for (h, info) in p.hosts.iter().enumerate() {
                total += p.pool[h].conns;
                if info.tunnel {
                    let open = p.tunnels.count_open(EndpointId(h as u32));
                    assert_eq!(p.pool[h].conns, open, "{} {} host {h}", proxy.name, p.name);
                }
            }
            assert_eq!(p.n_conns, total, "{} {}", proxy.name, p.name);
        }
    }
}

/// Every way a tunnel ends, over HTTP/1.1 and HTTP/2: the stream limit, the connection age, the
/// idle timeout (with a 40 s run and pods idle between 15 s and 25 s), pods refusing (reset
/// connections), a scale-down (GOAWAY) and a scale-up, per-try timeouts (a reset ends an
/// HTTP/1.1 connection), and outlier ejections.
#[test]
fn tunnel_bookkeeping_stays_consistent() {
    let faults = r#"
[[faults]]
at = "5s"
action = "refuse"
cluster = "b"
pods = [1]
[[faults]]
at = "8s"
action = "latency"
cluster = "b"
pods = [2]
latency = "300ms"
[[faults]]
at = "12s"
action = "recover"
cluster = "b"
[[faults]]
at = "15s"
action = "scale"
cluster = "b"
replicas = 2
[[faults]]
at = "25s"
action = "scale"
cluster = "b"
replicas = 5
"#;
    let policies = [
        "",
        "connectionPool = { http = { maxRequestsPerConnection = 7 } }",
        "connectionPool = { tcp = { maxConnectionDuration = \"3s\" }, http = { idleTimeout = \"1s\" } }",
        "outlierDetection = { consecutive5xxErrors = 2, consecutiveGatewayErrors = 1, interval = \"1s\", maxEjectionPercent = 100 }",
        "connectionPool = { tcp = { maxConnections = 2 }, http = { http1MaxPendingRequests = 50 } }",
    ];
    let vs = "[policy.virtual_service]\nhosts = [\"svc.default.svc.cluster.local\"]\nhttp = [{ route = [{ destination = { host = \"svc.default.svc.cluster.local\" } }], \
              retries = { attempts = 2, perTryTimeout = \"100ms\", retryOn = \"5xx,reset,connect-failure\" } }]\n";
    for protocol in ["http1", "http2"] {
        for gw in [1, 2] {
            for tp in policies {
                assert_consistent(&remote(protocol, gw, tp, &format!("{faults}{vs}")));
            }
        }
    }
}

/// `idleTimeout` (http, else tcp) and `maxConnectionDuration` reach the cluster; Envoy's default
/// idle timeout is one hour (Istio refuses 0, which would disable it).
#[test]
fn connection_lifetimes_from_the_destination_rule() {
    use meshsim::engine::SimDuration;
    let cfg = |tp: &str| {
        let s = parse(&remote("http2", 1, tp, "")).unwrap();
        meshsim::model::build::cluster_and_control(&s, s.proxy_groups[0].selection.traffic_policy()).0
    };
    assert_eq!(cfg("").idle_timeout, Some(SimDuration::from_secs(3600)));
    assert_eq!(cfg("").max_connection_duration, None);
    let c = cfg("connectionPool = { tcp = { idleTimeout = \"30s\", maxConnectionDuration = \"5m\" } }");
    assert_eq!(
        (c.idle_timeout, c.max_connection_duration),
        (Some(SimDuration::from_secs(30)), Some(SimDuration::from_secs(300)))
    );
    let c = cfg("connectionPool = { tcp = { idleTimeout = \"30s\" }, http = { idleTimeout = \"10s\" } }");
    assert_eq!(c.idle_timeout, Some(SimDuration::from_secs(10)), "http wins");
}

/// `balance` is `connection` (default) or `request`, anything else is an error naming it.
#[test]
fn balance_is_validated() {
    let text = remote("http2", 1, "", "")
        .replace("replicas = 1\n[[proxies]]", "replicas = 1\nbalance = \"stream\"\n[[proxies]]");
    let e = parse(&text).unwrap_err().to_string();
    assert!(e.contains("east_west_gateways[0].balance") && e.contains("connection"), "{e}");
}

/// The fix the `east-west-h2-pinning` lesson shows: with `maxRequestsPerConnection = 100` each
/// frontend (200 req/s) opens a new connection every 0.5 s and the gateway re-picks a pod each
/// time, so the 2 pods added at 30 s (ready at 35 s) take about half of the gateway's attempts
/// for the 55 s they are ready of the 60 s phase: 55/60 × 1/2 = 46 %, 0.38 to 0.54 here (the
/// gateway's picks among the 4 pods and Poisson arrivals). Without it they get none (the
/// scenario's own expectations).
#[test]
fn max_requests_per_connection_spreads_a_scale_up() {
    let s = crate::util::load(
        "east-west-h2-pinning.toml",
        &["policy.destination_rule.trafficPolicy.connectionPool.http.maxRequestsPerConnection=100"],
    );
    let out = meshsim::model::run(Arc::new(s), 1).unwrap();
    let w = &out.world;
    let (mut new, mut all) = (0u64, 0u64);
    for (phase, proxy, host, c) in meshsim::metrics::hosts::host_counts(w) {
        if phase != 1 || !w.proxies[proxy.idx()].name.starts_with("eastwest-") {
            continue;
        }
        all += c.attempts;
        if w.pods[host.idx()].ordinal >= 2 {
            new += c.attempts;
        }
    }
    let share = new as f64 / all as f64;
    assert!(all > 20_000, "{all}");
    assert!((0.38..0.54).contains(&share), "the new pods' share {share} ({new} of {all})");
}
