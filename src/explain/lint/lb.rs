//! Lints for the load-balancing algorithm: slow start that cannot do what it is set for,
//! consistent hashing that hashes nothing useful, and the per-connection pinning of east-west
//! gateways. They read the scenario (its workload and gateways as well as its policy), once per
//! DestinationRule the client proxy groups get (Istio selects one per proxy), and name the groups
//! a lint concerns when it does not concern them all.

use super::Lint;
use crate::envoy::config::HashPolicy;
use crate::istio::lb_policy::{hash_policy, is_consistent_hash, policy_and_slow_start};
use crate::istio::locality::needs_locality_weighted_config;
use crate::istio::manifest::TrafficPolicy;
use crate::istio::translate::effective_lb_setting;
use crate::scenario::{ProxyKind, Scenario, UpstreamProtocol};

/// The client proxy groups whose requests go to clusters with one traffic policy and one set of
/// pods, that policy, and the labels that select the pods.
struct Groups {
    /// Indices into `proxy_groups`.
    ids: Vec<usize>,
    tp: Option<TrafficPolicy>,
    /// The labels of the subset their route sends to (`None`: the default cluster, every pod of
    /// the service).
    labels: Option<std::collections::BTreeMap<String, String>>,
}

impl Groups {
    fn has(&self, g: usize) -> bool {
        self.ids.contains(&g)
    }

    /// The deployments whose pods are in the cluster their route uses: a subset's cluster holds
    /// only the pods carrying its labels (`labels.Instance.SubsetOf`).
    fn deployments<'a>(&'a self, s: &'a Scenario) -> impl Iterator<Item = &'a crate::scenario::DeploymentSpec> + 'a {
        // `[service]`'s pods only: the lints read its DestinationRule, not a `[[services]]` host's.
        s.service.deployments.iter().filter(move |d| {
            d.host == 0 && self.labels.as_ref().is_none_or(|want| crate::istio::select::labels_subset(want, &d.labels))
        })
    }
}

/// The labels of the subset proxy group `g`'s route sends to (its first destination's, as
/// [`super::route_policy`] takes the policy), `None` for the default cluster or a subset the rule
/// does not define.
fn route_labels(s: &Scenario, g: usize) -> Option<std::collections::BTreeMap<String, String>> {
    let sel = &s.proxy_groups[g].selection;
    let name = crate::explain::settings::route_subset(sel)?;
    let dr = sel.destination_rule.as_ref()?;
    let sub = dr.spec.subsets.iter().flatten().find(|x| x.name == name)?;
    Some(sub.labels.clone().unwrap_or_default())
}

/// Every load-balancing lint that fires for `s`, in a fixed order: per distinct traffic policy
/// of the cluster the groups' routes send to and set of pods in it (as [`super::lint_scenario`]
/// groups them: a subset's merged policy and pods, else the default cluster's), in the order of the first group that gets it, each
/// lint once; a lint that fires for some groups only says which (`proxies a, b: ...`), and the
/// same lint from several policies is listed once with all their groups.
pub fn lints(s: &Scenario) -> Vec<Lint> {
    let policies: Vec<Option<TrafficPolicy>> = (0..s.proxy_groups.len()).map(|g| super::route_policy(s, g)).collect();
    let labels: Vec<_> = (0..s.proxy_groups.len()).map(|g| route_labels(s, g)).collect();
    let mut found: Vec<(Lint, Vec<usize>)> = Vec::new();
    let mut done: Vec<usize> = Vec::new();
    for g in 0..s.proxy_groups.len() {
        if done.contains(&g) {
            continue;
        }
        let ids: Vec<usize> =
            (g..s.proxy_groups.len()).filter(|&h| policies[h] == policies[g] && labels[h] == labels[g]).collect();
        done.extend(&ids);
        let groups = Groups { tp: policies[g].clone(), labels: labels[g].clone(), ids };
        let mut out = Vec::new();
        warmup_without_effect(&groups, &mut out);
        warmup_between_localities(s, &groups, &mut out);
        hash_without_key(s, &groups, &mut out);
        source_ip_hash_at_sidecar(s, &groups, &mut out);
        hash_through_passthrough_gateway(s, &groups, &mut out);
        east_west_connection_pinning(s, &groups, &mut out);
        for l in out {
            match found.iter_mut().find(|(x, _)| *x == l) {
                Some((_, ids)) => ids.extend(&groups.ids),
                None => found.push((l, groups.ids.clone())),
            }
        }
    }
    found
        .into_iter()
        .map(|(mut l, mut ids)| {
            ids.sort_unstable();
            if ids.len() < s.proxy_groups.len() {
                let names: Vec<&str> = ids.iter().map(|&g| s.proxy_groups[g].name.as_str()).collect();
                l.reason = format!("proxies {}: {}", names.join(", "), l.reason);
            }
            l
        })
        .collect()
}

/// `warmup` or `warmupDurationSecs` that Istio drops (`lb_policy`): with RANDOM or
/// `consistentHash` there is no slow start; with both fields, `warmupDurationSecs` is ignored.
fn warmup_without_effect(groups: &Groups, out: &mut Vec<Lint>) {
    let Some(lb) = groups.tp.as_ref().and_then(|tp| tp.load_balancer.as_ref()) else { return };
    let set = lb.warmup.is_some() || lb.warmup_duration_secs.is_some();
    let (policy, slow) = policy_and_slow_start(Some(lb));
    if set && slow.is_none() {
        out.push(Lint {
            code: "warmup-without-effect",
            reason: format!(
                "warmup is set but the cluster is {}: Envoy has slow start for ROUND_ROBIN and LEAST_REQUEST only, \
                 so Istio leaves it out and new pods get their full share at once",
                policy.envoy_name()
            ),
            fix: "remove warmup, or use simple: ROUND_ROBIN or LEAST_REQUEST".into(),
        });
    }
    if lb.warmup.is_some() && lb.warmup_duration_secs.is_some() {
        out.push(Lint {
            code: "warmup-duration-secs-ignored",
            reason: "both warmup and warmupDurationSecs are set: Istio uses warmup and ignores warmupDurationSecs"
                .into(),
            fix: "remove warmupDurationSecs".into(),
        });
    }
}

/// Slow start changes host weights, and host weights decide picks only among the hosts of one
/// host source: they move nothing between priorities (loads follow health) or between weighted
/// localities (locality weights follow health too). So with failover priorities or
/// `distribute`, a recovered locality takes back its whole share at once, warmup or not.
fn warmup_between_localities(s: &Scenario, groups: &Groups, out: &mut Vec<Lint>) {
    let tp = groups.tp.as_ref();
    let (_, slow) = policy_and_slow_start(tp.and_then(|tp| tp.load_balancer.as_ref()));
    if slow.is_none() {
        return;
    }
    let mesh = &s.mesh.settings;
    let setting = effective_lb_setting(tp, mesh).setting;
    let failover = tp.is_some_and(|tp| tp.outlier_detection.is_some()) || s.service.traffic_distribution.is_some();
    let weighted = needs_locality_weighted_config(setting.as_ref(), failover, mesh.enable_locality_weighted_lb_config);
    // The localities of the pods in the groups' cluster (a subset's pods may sit in one).
    let mut localities: Vec<&crate::envoy::config::Locality> = Vec::new();
    for d in groups.deployments(s) {
        let loc = &s.kube_clusters[d.cluster.idx()].locality;
        if !localities.contains(&loc) {
            localities.push(loc);
        }
    }
    let localities = localities.len() > 1;
    if localities && setting.is_some() && (failover || weighted) {
        out.push(Lint {
            code: "warmup-between-localities",
            reason: "warmup ramps a new pod against the other pods of its own locality and priority only: a \
                     locality that comes back (fail-back) takes its full share at once, because priority load and \
                     locality weights follow health, not host weights"
                .into(),
            fix: "to soften fail-back, keep the recovering pods in the same host set as the survivors \
                  (localityLbSetting.enabled: false), or bring pods back a few at a time"
                .into(),
        });
    }
}

/// A consistent-hash policy whose requests carry no key: Envoy draws a random hash per request.
fn hash_without_key(s: &Scenario, groups: &Groups, out: &mut Vec<Lint>) {
    let tp = groups.tp.as_ref();
    if !is_consistent_hash(tp) {
        return;
    }
    let has_users = s.workload.iter().any(|w| groups.has(w.group.idx()) && w.users.is_some());
    let reason = match hash_policy(tp) {
        None => "consistentHash has no hash key (or useSourceIp: false): Envoy hashes nothing and picks a random \
                 host for every request"
            .to_string(),
        Some(HashPolicy::SourceIp) => return,
        Some(_) if !has_users => "consistentHash hashes a header, cookie or query parameter, but the workload \
                                  sends no users: without the key every request gets a random host"
            .to_string(),
        Some(_) => return,
    };
    out.push(Lint {
        code: "hash-without-key",
        reason,
        fix: "name the key (httpHeaderName, httpCookie, httpQueryParameterName or useSourceIp: true) and give the \
              workload users (workload.users)"
            .into(),
    });
}

/// `useSourceIp` at a sidecar hashes the sidecar's own pod address.
fn source_ip_hash_at_sidecar(s: &Scenario, groups: &Groups, out: &mut Vec<Lint>) {
    if hash_policy(groups.tp.as_ref()) != Some(HashPolicy::SourceIp) {
        return;
    }
    if let Some(g) = groups.ids.iter().map(|&g| &s.proxy_groups[g]).find(|g| g.kind == ProxyKind::Sidecar) {
        out.push(Lint {
            code: "source-ip-hash-at-sidecar",
            reason: format!(
                "useSourceIp hashes the downstream address; for the sidecars of `{}` that is their own pod's address, \
                 so each sidecar replica sends all its requests to one host ({} replicas, at most {} hosts used)",
                g.name, g.replicas, g.replicas
            ),
            fix: "hash a header or cookie that identifies the user (httpHeaderName, httpCookie)".into(),
        });
    }
}

/// Through an AUTO_PASSTHROUGH east-west gateway the remote pod is picked per connection, at
/// random (the gateway's `tcp_proxy` carries no hash): affinity stops at the gateway.
fn hash_through_passthrough_gateway(s: &Scenario, groups: &Groups, out: &mut Vec<Lint>) {
    if !is_consistent_hash(groups.tp.as_ref()) || !s.east_west_gateways.iter().any(|g| g.per_connection) {
        return;
    }
    out.push(Lint {
        code: "hash-through-passthrough-gateway",
        reason: "consistentHash picks an east-west gateway replica per key, but the gateway forwards TLS it cannot \
                 read and picks the remote pod once per connection, with no hash: keys that cross networks keep no \
                 affinity to a pod"
            .into(),
        fix: "keep session affinity within one network, or accept per-connection placement across networks".into(),
    });
}

/// HTTP/2 through a per-connection gateway, with nothing that ends connections: each client
/// replica sends everything it routes through one gateway replica to one pod.
fn east_west_connection_pinning(s: &Scenario, groups: &Groups, out: &mut Vec<Lint>) {
    let tp = groups.tp.as_ref();
    let pool = tp.and_then(|tp| tp.connection_pool.as_ref());
    let http = pool.and_then(|p| p.http.as_ref());
    let h2 = s.service.protocol == UpstreamProtocol::Http2
        || http.and_then(|h| h.h2_upgrade_policy.as_deref()) == Some("UPGRADE");
    let renews = http.and_then(|h| h.max_requests_per_connection).is_some_and(|v| v > 0)
        || pool.and_then(|p| p.tcp.as_ref()).and_then(|t| t.max_connection_duration).is_some_and(|d| !d.0.is_zero());
    if !h2 || renews || policy_and_slow_start(tp.and_then(|t| t.load_balancer.as_ref())).0.is_hashing() {
        return;
    }
    for gw in s.east_west_gateways.iter().filter(|g| g.per_connection) {
        let kc = &s.kube_clusters[gw.cluster.idx()];
        let remote_pods: u32 = groups
            .deployments(s)
            .filter(|d| s.kube_clusters[d.cluster.idx()].network == kc.network)
            .map(|d| d.replicas)
            .sum();
        let clients: u32 = groups
            .ids
            .iter()
            .map(|&g| &s.proxy_groups[g])
            .filter(|g| s.kube_clusters[g.cluster.idx()].network != kc.network)
            .map(|g| g.replicas)
            .sum();
        if clients == 0 || remote_pods == 0 {
            continue;
        }
        let connections = clients * gw.replicas;
        let idle = if connections < remote_pods {
            format!(", so at least {} of the {remote_pods} pods get nothing", remote_pods - connections)
        } else {
            String::new()
        };
        out.push(Lint {
            code: "east-west-connection-pinning",
            reason: format!(
                "network {} is reached through an AUTO_PASSTHROUGH gateway, which picks a pod once per connection; \
                 over HTTP/2 each of the {clients} client proxies keeps one connection per gateway replica ({}): \
                 {connections} connections share {remote_pods} pods, each pinned for up to an hour (idle timeout){idle}",
                kc.network, gw.replicas
            ),
            fix: "set connectionPool.http.maxRequestsPerConnection (for example 100) or \
                  connectionPool.tcp.maxConnectionDuration so that connections, and their pods, are re-picked"
                .into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::explain::lint_scenario;

    fn scenario(extra: &str) -> crate::scenario::Scenario {
        let text = format!(
            r#"
name = "t"
duration = "10s"
[[clusters]]
name = "a"
region = "r1"
[[clusters]]
name = "b"
region = "r2"
network = "n2"
[service]
host = "svc.default.svc.cluster.local"
protocol = "http2"
[[service.deployments]]
cluster = "a"
replicas = 2
[[service.deployments]]
cluster = "b"
replicas = 6
[[east_west_gateways]]
cluster = "b"
[[proxies]]
name = "client"
kind = "sidecar"
cluster = "a"
replicas = 2
[[workload]]
proxy = "client"
rate = 10
{extra}
"#
        );
        crate::scenario::from_str(&text, "t.toml", std::path::Path::new("."), &[]).expect("scenario")
    }

    fn codes(extra: &str) -> Vec<&'static str> {
        lint_scenario(&scenario(extra)).into_iter().map(|l| l.code).collect()
    }

    /// 2 client replicas × 1 gateway replica = 2 HTTP/2 connections for 6 remote pods: the
    /// lint names the 4 idle pods; `maxRequestsPerConnection` silences it.
    #[test]
    fn connection_pinning() {
        let l = lint_scenario(&scenario(""));
        let pin = l.iter().find(|l| l.code == "east-west-connection-pinning").expect("lint");
        assert!(pin.reason.contains("2 connections share 6 pods"), "{}", pin.reason);
        assert!(pin.reason.contains("at least 4 of the 6 pods get nothing"), "{}", pin.reason);
        let fixed = r#"
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
trafficPolicy = { connectionPool = { http = { maxRequestsPerConnection = 100 } } }
"#;
        assert!(!codes(fixed).contains(&"east-west-connection-pinning"));
    }

    /// A sidecar routed to subset `v1`: its cluster holds only the pods labelled `version: v1`.
    /// Network n2 (clusters b and c, the gateway in b) has 6 pods: `remote_v1` in b carry v1, the
    /// rest, in c, v2; cluster a's 2 pods carry v1. The lints count the subset's pods, not the service's.
    fn subset_scenario(remote_v1: u32, extra: &str) -> crate::scenario::Scenario {
        let remote = if remote_v1 > 0 {
            format!(
                "[[service.deployments]]\ncluster = \"b\"\nreplicas = {remote_v1}\nlabels = {{ version = \"v1\" }}\n"
            )
        } else {
            String::new()
        };
        let text = format!(
            r#"
name = "t"
duration = "10s"
[[clusters]]
name = "a"
region = "r1"
[[clusters]]
name = "b"
region = "r2"
network = "n2"
[[clusters]]
name = "c"
region = "r2"
zone = "r2-c"
network = "n2"
[service]
host = "svc.default.svc.cluster.local"
protocol = "http2"
[[service.deployments]]
cluster = "a"
replicas = 2
labels = {{ version = "v1" }}
{remote}
[[service.deployments]]
cluster = "c"
replicas = {}
labels = {{ version = "v2" }}
[[east_west_gateways]]
cluster = "b"
[[proxies]]
name = "client"
kind = "sidecar"
cluster = "a"
replicas = 2
[[workload]]
proxy = "client"
rate = 10
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
subsets = [{{ name = "v1", labels = {{ version = "v1" }} }}]
{extra}
[policy.virtual_service]
hosts = ["svc.default.svc.cluster.local"]
[[policy.virtual_service.http]]
route = [{{ destination = {{ host = "svc.default.svc.cluster.local", subset = "v1" }} }}]
"#,
            6 - remote_v1
        );
        crate::scenario::from_str(&text, "t.toml", std::path::Path::new("."), &[]).expect("scenario")
    }

    /// With no v1 pod behind the east-west gateway, nothing of the route's cluster is pinned
    /// there (counting the service's 6 remote pods, the lint fired); with 2 v1 pods there, the 2
    /// client replicas' 2 connections share those 2 pods (not 6, with 4 idle).
    #[test]
    fn connection_pinning_counts_the_subsets_pods() {
        let pin = |remote_v1| {
            lint_scenario(&subset_scenario(remote_v1, ""))
                .into_iter()
                .find(|l| l.code == "east-west-connection-pinning")
                .map(|l| l.reason)
        };
        assert_eq!(pin(0), None);
        let two = pin(2).expect("lint");
        assert!(two.contains("2 connections share 2 pods"), "{two}");
        assert!(!two.contains("get nothing"), "{two}");
    }

    /// Slow start with failover: the trap is a recovering locality taking its share back at once.
    /// A subset whose pods all sit in one locality has no other locality to fail over to or back
    /// from, so the lint stays silent (it fired when counting the service's two localities); with
    /// v1 pods in both it fires.
    #[test]
    fn warmup_between_localities_counts_the_subsets_localities() {
        let extra = "trafficPolicy = { loadBalancer = { warmup = { duration = \"60s\" } }, outlierDetection = { consecutive5xxErrors = 5 } }";
        let fires = |remote_v1| {
            lint_scenario(&subset_scenario(remote_v1, extra)).iter().any(|l| l.code == "warmup-between-localities")
        };
        assert!(!fires(0));
        assert!(fires(2));
    }

    #[test]
    fn warmup_lints() {
        let random = r#"
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
trafficPolicy = { loadBalancer = { simple = "RANDOM", warmup = { duration = "60s" } } }
"#;
        assert!(codes(random).contains(&"warmup-without-effect"));
        let failover = r#"
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
trafficPolicy = { loadBalancer = { warmup = { duration = "60s" } }, outlierDetection = { consecutive5xxErrors = 5 } }
"#;
        assert!(codes(failover).contains(&"warmup-between-localities"));
        let flat = r#"
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
trafficPolicy = { loadBalancer = { warmup = { duration = "60s" }, localityLbSetting = { enabled = false } } }
"#;
        let c = codes(flat);
        assert!(!c.contains(&"warmup-between-localities") && !c.contains(&"warmup-without-effect"), "{c:?}");
    }

    #[test]
    fn hash_lints() {
        let no_users = r#"
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
trafficPolicy = { loadBalancer = { consistentHash = { httpHeaderName = "x-user" } } }
"#;
        let c = codes(no_users);
        assert!(c.contains(&"hash-without-key") && c.contains(&"hash-through-passthrough-gateway"), "{c:?}");
        assert!(!c.contains(&"east-west-connection-pinning"), "hashing has its own lint");
        let source_ip = r#"
[policy.destination_rule]
host = "svc.default.svc.cluster.local"
trafficPolicy = { loadBalancer = { consistentHash = { useSourceIp = true } } }
"#;
        assert!(codes(source_ip).contains(&"source-ip-hash-at-sidecar"));
    }
}
