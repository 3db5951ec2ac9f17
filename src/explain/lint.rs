//! Lints for known traps of Istio's locality failover (envoy-semantics §5.4, §7). Each lint has a
//! stable code, a one-line reason and the fix. They read the policy and the endpoint counts, not
//! a run, so they are the same at every moment of a scenario.

mod lb;

use std::collections::BTreeMap;

use crate::envoy::config::Locality;
use crate::envoy::config::OutlierConfig;
use crate::envoy::outlier::admits;
use crate::istio::locality::{lb_priority, locality_matches};
use crate::istio::manifest::TrafficPolicy;
use crate::istio::translate::{LbSettingSource, MeshSettings, effective_lb_setting};
use crate::scenario::Scenario;

/// One trap found in a policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lint {
    /// Stable identifier, e.g. `max-ejection-percent-too-low`.
    pub code: &'static str,
    /// Why this is a trap, in one line.
    pub reason: String,
    /// What to change.
    pub fix: String,
}

/// A group of client proxies as the lints see it.
#[derive(Debug, Clone)]
pub struct LintProxy {
    /// Group name.
    pub name: String,
    /// Its locality.
    pub locality: Locality,
    /// Its network.
    pub network: String,
}

/// The service's endpoints in one Kubernetes cluster.
#[derive(Debug, Clone)]
pub struct LintEndpoints {
    /// The cluster.
    pub cluster: String,
    /// Its locality.
    pub locality: Locality,
    /// Its network.
    pub network: String,
    /// Endpoints (pods) at the start of the run.
    pub count: u32,
    /// The pods' labels.
    pub labels: BTreeMap<String, String>,
}

/// Everything the lints read.
#[derive(Debug, Clone)]
pub struct LintInput<'a> {
    /// The host whose clusters these are (0: `[service]`, `h`: `services[h - 1]`).
    pub host: usize,
    /// Every host the scenario declares, `[service]`'s first (`Scenario::host_name`).
    pub hosts: Vec<&'a str>,
    /// The DestinationRule's traffic policy.
    pub policy: Option<&'a TrafficPolicy>,
    /// Mesh settings and version knobs.
    pub mesh: &'a MeshSettings,
    /// The outlier detection in force (the DestinationRule's translation with `[envoy_outlier]`
    /// laid over it); `None` when there is none.
    pub outlier: Option<OutlierConfig>,
    /// The VirtualService HTTP routes the groups' requests take, with their index in `http`.
    pub routes: Vec<(usize, &'a crate::istio::manifest::HttpRoute)>,
    /// The subsets of the DestinationRule these groups get.
    pub subsets: &'a [crate::istio::manifest::Subset],
    /// The labels of the subset the groups' (first) route sends to, if it names a defined one:
    /// only endpoints carrying them are in that cluster.
    pub route_labels: Option<BTreeMap<String, String>>,
    /// Client proxy groups.
    pub proxies: Vec<LintProxy>,
    /// The service's endpoints, per Kubernetes cluster: those of the Envoy cluster the groups'
    /// route uses (a subset's pods only, selected by its labels).
    pub endpoints: Vec<LintEndpoints>,
    /// Every endpoint of the service, whatever its labels (what a route's other subsets select
    /// from).
    pub all_endpoints: Vec<LintEndpoints>,
    /// East-west gateway endpoints per remote network. meshsim does not model several gateway
    /// replicas yet, so [`lint_scenario`] counts one per network.
    pub gateways_per_network: BTreeMap<String, u32>,
}

impl<'a> LintInput<'a> {
    /// The lint input of a scenario's proxy groups `groups` (those that get the DestinationRule
    /// traffic policy `policy` and whose routes send to the same cluster), with endpoint counts
    /// at its start: the pods of that cluster, a subset's only those carrying its labels (as
    /// Istio builds the subset's endpoints, `pilot/pkg/networking/core/cluster_builder.go`
    /// `buildSubsetCluster`). A route to a subset the rule does not define keeps every pod: it
    /// has no cluster, and the lint `subset-not-defined` says so.
    pub fn from_scenario(s: &'a Scenario, policy: Option<&'a TrafficPolicy>, groups: &[usize]) -> LintInput<'a> {
        Self::for_host(s, 0, policy, groups)
    }

    /// [`LintInput::from_scenario`] for the clusters of host `h` (0: `[service]`, `h`:
    /// `services[h - 1]`): the DestinationRule the groups get for that host, that host's pods, and
    /// the subset their route's first destination to that host names.
    pub fn for_host(s: &'a Scenario, h: usize, policy: Option<&'a TrafficPolicy>, groups: &[usize]) -> LintInput<'a> {
        let sel = |g: usize| -> &'a crate::istio::select::Selection {
            let g = &s.proxy_groups[g];
            Scenario::selection_of(&g.selection, &g.host_selections, h)
        };
        let proxies = groups
            .iter()
            .map(|&g| &s.proxy_groups[g])
            .map(|g| {
                let kc = &s.kube_clusters[g.cluster.idx()];
                LintProxy { name: g.name.clone(), locality: kc.locality.clone(), network: kc.network.clone() }
            })
            .collect();
        let subsets: &'a [crate::istio::manifest::Subset] = groups
            .first()
            .and_then(|&g| sel(g).destination_rule.as_ref())
            .and_then(|d| d.spec.subsets.as_deref())
            .unwrap_or(&[]);
        let route_subset = groups
            .first()
            .and_then(|&g| host_route_subset(s, h, &s.proxy_groups[g].selection))
            .and_then(|name| subsets.iter().find(|x| x.name == name));
        let want = route_subset.and_then(|x| x.labels.clone()).unwrap_or_default();
        let all_endpoints: Vec<LintEndpoints> = s
            .service
            .deployments
            .iter()
            // The lints read host `h`'s DestinationRule: its pods only.
            .filter(|d| d.host as usize == h)
            .map(|d| {
                let kc = &s.kube_clusters[d.cluster.idx()];
                LintEndpoints {
                    cluster: kc.name.clone(),
                    locality: kc.locality.clone(),
                    network: kc.network.clone(),
                    count: d.replicas,
                    labels: d.labels.clone(),
                }
            })
            .collect();
        let endpoints: Vec<LintEndpoints> =
            all_endpoints.iter().filter(|e| want.iter().all(|(k, v)| e.labels.get(k) == Some(v))).cloned().collect();
        let gateways_per_network = endpoints.iter().map(|e| (e.network.clone(), 1)).collect();
        let outlier = crate::model::build::host_cluster_and_control(s, h, policy).0.outlier;
        // The routes these groups' requests take (the VirtualService route Istio selects for each).
        let mut routes: Vec<(usize, &'a crate::istio::manifest::HttpRoute)> = Vec::new();
        for &g in groups {
            for e in s.proxy_groups[g].selection.route.iter().flat_map(|c| &c.entries) {
                if !routes.iter().any(|(i, r)| *i == e.http && **r == e.route) {
                    routes.push((e.http, &e.route));
                }
            }
        }
        let route_labels = route_subset.map(|x| x.labels.clone().unwrap_or_default());
        LintInput {
            host: h,
            hosts: (0..s.n_hosts()).map(|x| s.host_name(x)).collect(),
            policy,
            mesh: &s.mesh.settings,
            outlier,
            routes,
            subsets,
            route_labels,
            proxies,
            endpoints,
            all_endpoints,
            gateways_per_network,
        }
    }
}

/// The lints of a scenario's policy: the traps of each DestinationRule its client proxies get
/// (one pass per distinct rule, over the groups that get it), then what the selection or the
/// manifests leave unmodelled ([`super::resources`]).
pub fn lint_scenario(s: &Scenario) -> Vec<Lint> {
    let mut out: Vec<Lint> = Vec::new();
    let mut done: Vec<usize> = Vec::new();
    let route_policy = |g: usize| route_policy(s, g);
    for g in 0..s.proxy_groups.len() {
        if done.contains(&g) {
            continue;
        }
        let rule = &s.proxy_groups[g].selection.destination_rule;
        let policy = route_policy(g);
        let subset = super::settings::route_subset(&s.proxy_groups[g].selection);
        let same: Vec<usize> = (g..s.proxy_groups.len())
            .filter(|&h| {
                let sel = &s.proxy_groups[h].selection;
                sel.destination_rule == *rule
                    && super::settings::route_subset(sel) == subset
                    && route_policy(h) == policy
            })
            .collect();
        done.extend(&same);
        for l in lint(&LintInput::from_scenario(s, policy.as_ref(), &same)) {
            if !out.contains(&l) {
                out.push(l);
            }
        }
    }
    // Each `[[services]]` host's rule, with that host's pods: the same traps, named by host.
    for h in 1..s.n_hosts() {
        let mut done: Vec<usize> = Vec::new();
        for g in 0..s.proxy_groups.len() {
            if done.contains(&g) {
                continue;
            }
            let key = |x: usize| {
                let sel = &s.proxy_groups[x].host_selections[h - 1];
                (&sel.destination_rule, host_route_policy(s, h, x))
            };
            let mine = key(g);
            let same: Vec<usize> = (g..s.proxy_groups.len()).filter(|&x| key(x) == mine).collect();
            done.extend(&same);
            let policy = mine.1;
            for mut l in lint(&LintInput::for_host(s, h, policy.as_ref(), &same)) {
                l.reason = format!("host {}'s clusters: {}", s.host_name(h), l.reason);
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        }
    }
    out.extend(super::resources::resource_lints(s));
    out.extend(lb::lints(s));
    out
}

/// The policy of the cluster proxy group `g`'s route sends to: a subset's merged policy, else the
/// default cluster's (`model::build::cluster_plans`).
fn route_policy(s: &Scenario, g: usize) -> Option<TrafficPolicy> {
    let sel = &s.proxy_groups[g].selection;
    let plans = crate::model::build::cluster_plans(s, sel);
    let subset = super::settings::route_subset(sel);
    plans.iter().find(|p| p.subset.as_deref() == subset).unwrap_or(&plans[0]).policy.clone()
}

/// The subset the first destination to host `h` of `sel`'s route names (for `[service]`, the
/// route's first destination's, as [`super::settings::route_subset`]).
fn host_route_subset<'a>(s: &Scenario, h: usize, sel: &'a crate::istio::select::Selection) -> Option<&'a str> {
    if h == 0 {
        return super::settings::route_subset(sel);
    }
    sel.http_route()
        .and_then(|r| r.route.as_ref())
        .and_then(|d| d.iter().find(|d| s.host_index(&d.destination.host) == Some(h)))
        .and_then(|d| d.destination.subset.as_deref())
}

/// The policy of host `h`'s cluster that proxy group `g`'s route sends to (its subset's, else
/// the default cluster's), from the DestinationRule the group gets for that host.
fn host_route_policy(s: &Scenario, h: usize, g: usize) -> Option<TrafficPolicy> {
    let group = &s.proxy_groups[g];
    let sel = Scenario::selection_of(&group.selection, &group.host_selections, h);
    let plans = crate::model::build::host_cluster_plans(s, h, sel);
    let subset = host_route_subset(s, h, &group.selection);
    plans.iter().find(|p| p.subset.as_deref() == subset).unwrap_or(&plans[0]).policy.clone()
}

/// Every lint that fires for `input`, in a fixed order. A `[[services]]` host's pass
/// (`input.host > 0`) skips `fault-injects-nothing`, which is about the route alone:
/// `[service]`'s pass says it.
pub fn lint(input: &LintInput<'_>) -> Vec<Lint> {
    let mut out = Vec::new();
    distribute_with_failover(input, &mut out);
    failover_without_outlier_detection(input, &mut out);
    max_ejection_percent_too_low(input, &mut out);
    distribute_hides_localities(input, &mut out);
    outlier_detection_pins_local(input, &mut out);
    single_east_west_gateway(input, &mut out);
    if input.host == 0 {
        fault_injects_nothing(input, &mut out);
    }
    fault_abort_bypasses_outlier_detection(input, &mut out);
    route_to_subset(input, &mut out);
    out
}

/// A route to a DestinationRule subset that selects no pod (`subset-selects-no-pod`) or that the
/// rule does not define (`subset-not-defined`). Istio builds `outbound|PORT|SUBSET|HOST` with no
/// endpoints in the first case, and no cluster at all in the second (the route still names it:
/// Envoy answers 503 NC, "cluster not found"); every request routed there fails with 503, as
/// meshsim simulates it (`no_healthy_upstream` in both cases).
fn route_to_subset(input: &LintInput<'_>, out: &mut Vec<Lint>) {
    let mut seen: Vec<&str> = Vec::new();
    for &(i, r) in &input.routes {
        for (j, d) in r.route.iter().flatten().enumerate() {
            // A destination to another host is checked against that host's rule (a host declared
            // nowhere counts as `[service]`, as `model::build::route_cluster` routes it).
            let to = input.hosts.iter().position(|x| x.eq_ignore_ascii_case(&d.destination.host)).unwrap_or(0);
            if to != input.host {
                continue;
            }
            let Some(name) = d.destination.subset.as_deref() else { continue };
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let at = format!("VirtualService http[{i}].route[{j}] (subset `{name}`)");
            match input.subsets.iter().find(|s| s.name == name) {
                None => out.push(Lint {
                    code: "subset-not-defined",
                    reason: format!(
                        "{at}: the DestinationRule defines no subset `{name}`, so Istio builds no cluster for it; the \
                         route still names it, and Envoy answers every request routed there with 503 \"cluster not \
                         found\" (flag NC; meshsim counts them as no_healthy_upstream)"
                    ),
                    fix: format!("define subset `{name}` in the DestinationRule, with labels its pods carry"),
                }),
                Some(sub) => {
                    let want = sub.labels.clone().unwrap_or_default();
                    let pods: u32 = input
                        .all_endpoints
                        .iter()
                        .filter(|e| want.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
                        .map(|e| e.count)
                        .sum();
                    if pods == 0 {
                        out.push(Lint {
                            code: "subset-selects-no-pod",
                            reason: format!(
                                "{at}: no pod of the service carries the labels {want:?}, so Istio's cluster for the \
                                 subset has no endpoints and every request routed there fails with 503 \"no healthy \
                                 upstream\" (as meshsim simulates it: no outlier detection, no failover can help)"
                            ),
                            fix: "label the pods (service.deployments[].labels) or fix the subset's labels".into(),
                        });
                    }
                }
            }
        }
    }
}

/// A `fault` part that Istio accepts but translates to nothing (`TranslateFault`): an abort
/// without `percentage` (Envoy's empty fraction, 0 %), a delay with neither `percentage` nor
/// `percent`, an abort without a status, a delay without `fixedDelay`.
fn fault_injects_nothing(input: &LintInput<'_>, out: &mut Vec<Lint>) {
    for &(i, r) in &input.routes {
        let Some(f) = &r.fault else { continue };
        let mut why = Vec::new();
        if let Some(a) = &f.abort {
            if a.http_status.is_none() && a.grpc_status.is_none() {
                why.push("the abort has no httpStatus or grpcStatus, so Istio drops it");
            } else if a.percentage.is_none() {
                why.push("the abort has no percentage: Envoy reads that as 0 %, so it never aborts");
            }
        }
        if let Some(d) = &f.delay {
            if d.fixed_delay.is_none() {
                why.push("the delay has no fixedDelay, so Istio drops it");
            } else if d.percentage.is_none() && d.percent.unwrap_or(0) == 0 {
                why.push("the delay has no percentage: Envoy reads that as 0 %, so it never delays");
            }
        }
        if !why.is_empty() {
            out.push(Lint {
                code: "fault-injects-nothing",
                reason: format!("VirtualService http[{i}].fault: {}", why.join("; ")),
                fix: "give each abort a status and each fault a percentage, e.g. `percentage: {value: 100}`".into(),
            });
        }
    }
}

/// An abort injected on a route that sends to these clusters' host, which has outlier detection:
/// the aborts are local replies of the fault filter, so they never eject anything (nor are they
/// retried). Each host's pass looks at the routes with a destination to it (a route without
/// destinations goes to `[service]`).
fn fault_abort_bypasses_outlier_detection(input: &LintInput<'_>, out: &mut Vec<Lint>) {
    if input.outlier.is_none() {
        return;
    }
    let host = input.hosts.get(input.host).copied().unwrap_or_default();
    let sends_here = |r: &crate::istio::manifest::HttpRoute| match r.route.as_deref() {
        None | Some([]) => input.host == 0,
        Some(dests) => dests.iter().any(|d| d.destination.host.eq_ignore_ascii_case(host)),
    };
    for &(i, r) in input.routes.iter().filter(|(_, r)| sends_here(r)) {
        let aborts = r.fault.as_ref().and_then(|f| f.abort.as_ref()).is_some_and(|a| {
            a.percentage.as_ref().is_some_and(|p| p.value > 0.0) && (a.http_status.is_some() || a.grpc_status.is_some())
        });
        if aborts {
            out.push(Lint {
                code: "fault-abort-bypasses-outlier-detection",
                reason: format!(
                    "VirtualService http[{i}].fault.abort answers in the client proxy, before routing: the aborted \
                     requests never reach a pod, so outlier detection never counts them and nothing is ejected \
                     (and they are never retried)"
                ),
                fix: "to exercise outlier detection and failover, make the pods fail (an `http-error` fault), not the \
                      route"
                    .into(),
            });
        }
    }
}

fn distribute_with_failover(input: &LintInput<'_>, out: &mut Vec<Lint>) {
    let setting = effective_lb_setting(input.policy, input.mesh).setting;
    let Some(s) = setting else { return };
    if !s.distribute().is_empty() && !s.failover().is_empty() {
        out.push(Lint {
            code: "distribute-with-failover",
            reason: "localityLbSetting sets both `distribute` and `failover`: Istio rejects this, and distribute puts \
                     every endpoint in one priority, so failover could never apply"
                .into(),
            fix: "keep one: `distribute` for fixed weights, or `failover` (with outlierDetection) for ordered failover"
                .into(),
        });
    }
}

fn failover_without_outlier_detection(input: &LintInput<'_>, out: &mut Vec<Lint>) {
    let has_od = input.policy.is_some_and(|tp| tp.outlier_detection.is_some());
    let setting = effective_lb_setting(input.policy, input.mesh).setting;
    let Some(s) = setting else { return };
    if !has_od && (!s.failover().is_empty() || !s.failover_priority().is_empty()) {
        out.push(Lint {
            code: "failover-without-outlier-detection",
            reason: "localityLbSetting has failover rules but the DestinationRule has no outlierDetection: Istio \
                     assigns failover priorities only with outlier detection, so every endpoint stays in P0 and the \
                     rules do nothing"
                .into(),
            fix: "add trafficPolicy.outlierDetection (for example consecutive5xxErrors: 5, maxEjectionPercent: 100)"
                .into(),
        });
    }
}

/// The most hosts the max-ejection admission rule lets one proxy eject out of `total`.
pub fn max_ejectable(input: &LintInput<'_>, total: u32) -> Option<(u32, u32)> {
    let cfg = input.outlier.as_ref()?;
    let mut ejected = 0;
    while ejected < total
        && admits(cfg.max_ejection_rule, cfg.always_eject_one_host, cfg.max_ejection_percent, ejected, total)
    {
        ejected += 1;
    }
    Some((ejected, cfg.max_ejection_percent))
}

fn max_ejection_percent_too_low(input: &LintInput<'_>, out: &mut Vec<Lint>) {
    let total: u32 = input.endpoints.iter().map(|e| e.count).sum();
    let mut per_locality: BTreeMap<String, u32> = BTreeMap::new();
    for e in &input.endpoints {
        *per_locality.entry(e.locality.to_string()).or_default() += e.count;
    }
    // Ejecting a whole locality matters only when there is another one to fail over to.
    if per_locality.values().filter(|n| **n > 0).count() < 2 {
        return;
    }
    // The largest locality; the first in name order among equals.
    let Some((largest, k)) = per_locality
        .iter()
        .fold(None, |best: Option<(&String, u32)>, (l, n)| match best {
            Some((_, b)) if b >= *n => best,
            _ => Some((l, *n)),
        })
        .map(|(l, n)| (l.clone(), n))
    else {
        return;
    };
    let Some((ejectable, m)) = max_ejectable(input, total) else { return };
    if k == 0 || ejectable >= k {
        return;
    }
    let needed = (100 * u64::from(k)).div_ceil(u64::from(total.max(1)));
    let what = if ejectable == 0 {
        "never ejects any".to_string()
    } else {
        format!("ejects at most {ejectable} of the {total}")
    };
    out.push(Lint {
        code: "max-ejection-percent-too-low",
        reason: format!(
            "maxEjectionPercent {m} means each proxy {what} endpoints (Envoy >= 1.28 ejects only if \
             100 x (ejected + 1) / {total} <= {m}), but {largest} has {k}: a failing {largest} is never ejected whole, \
             so its traffic never fully fails over"
        ),
        fix: format!("set outlierDetection.maxEjectionPercent to at least {needed} (100 is common for failover)"),
    });
}

fn distribute_hides_localities(input: &LintInput<'_>, out: &mut Vec<Lint>) {
    let Some(s) = effective_lb_setting(input.policy, input.mesh).setting else { return };
    let mut seen: Vec<(String, String)> = Vec::new();
    for p in &input.proxies {
        let Some(rule) = s.distribute().iter().find(|d| locality_matches(&p.locality, &d.from)) else { continue };
        for e in &input.endpoints {
            let listed = rule.to.keys().any(|pattern| locality_matches(&e.locality, pattern));
            let key = (rule.from.clone(), e.locality.to_string());
            if listed || e.count == 0 || seen.contains(&key) {
                continue;
            }
            seen.push(key);
            out.push(Lint {
                code: "distribute-hides-localities",
                reason: format!(
                    "the distribute rule from `{}` (used by {}) has no `to` entry matching {}: its endpoints are \
                     removed from those proxies' EDS, get no traffic and are never used for failover",
                    rule.from, p.name, e.locality
                ),
                fix: format!(
                    "list {} in the rule's `to` (a small weight keeps it in reserve), or use `failover` instead of \
                     `distribute`",
                    e.locality
                ),
            });
        }
    }
}

fn outlier_detection_pins_local(input: &LintInput<'_>, out: &mut Vec<Lint>) {
    if input.policy.is_none_or(|tp| tp.outlier_detection.is_none()) {
        return;
    }
    let eff = effective_lb_setting(input.policy, input.mesh);
    let Some(s) = eff.setting else { return };
    if eff.source != LbSettingSource::MeshDefault || !s.distribute().is_empty() {
        return;
    }
    // The endpoints of the cluster the route sends to (a subset's pods only).
    let in_cluster = |e: &LintEndpoints| {
        input.route_labels.as_ref().is_none_or(|l| crate::istio::select::labels_subset(l, &e.labels))
    };
    for p in &input.proxies {
        let present: Vec<&LintEndpoints> = input.endpoints.iter().filter(|e| e.count > 0 && in_cluster(e)).collect();
        let Some(best) = present.iter().map(|e| lb_priority(&p.locality, &e.locality)).min() else { continue };
        let others: Vec<String> = present
            .iter()
            .filter(|e| lb_priority(&p.locality, &e.locality) > best)
            .map(|e| e.locality.to_string())
            .collect();
        if others.is_empty() {
            continue;
        }
        let closest: Vec<String> = present
            .iter()
            .filter(|e| lb_priority(&p.locality, &e.locality) == best)
            .map(|e| e.locality.to_string())
            .collect();
        out.push(Lint {
            code: "outlier-detection-pins-local",
            reason: format!(
                "outlierDetection silently turns on the mesh default locality failover: {} (in {}) sends all its \
                 traffic to {} and none to {} while the closer endpoints are healthy",
                p.name,
                p.locality,
                closest.join(", "),
                others.join(", ")
            ),
            fix: "to keep spreading traffic, set trafficPolicy.loadBalancer.localityLbSetting.enabled: false (or use \
                  `distribute`); to keep failover, state it explicitly with localityLbSetting"
                .into(),
        });
    }
}

fn single_east_west_gateway(input: &LintInput<'_>, out: &mut Vec<Lint>) {
    let mut seen: Vec<(String, String)> = Vec::new();
    for p in &input.proxies {
        for e in input.endpoints.iter().filter(|e| e.network != p.network && e.count > 0) {
            let gateways = input.gateways_per_network.get(&e.network).copied().unwrap_or(1);
            let key = (p.network.clone(), e.network.clone());
            if gateways != 1 || seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let remote: u32 = input.endpoints.iter().filter(|x| x.network == e.network).map(|x| x.count).sum();
            out.push(Lint {
                code: "single-east-west-gateway",
                reason: format!(
                    "proxies in {} reach the {remote} endpoints of network {} through one east-west gateway \
                     endpoint: outlier detection sees one host, so one ejection removes the whole remote network",
                    p.network, e.network
                ),
                fix: "expose several east-west gateway addresses per network (for example one per zone), or size \
                      consecutive errors for a host that aggregates many pods"
                    .into(),
            });
        }
    }
}
