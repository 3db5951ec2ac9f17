//! Per-proxy endpoint assignment: what one client proxy receives in EDS for a service, following
//! `pilot/pkg/networking/core/loadbalancer/loadbalancer.go` (`ApplyLocalityLoadBalancer`,
//! `applyLocalityWeights`, `applyLocalityFailover`, `applyFailoverPriorities`),
//! `pilot/pkg/networking/util/util.go` (`LbPriority`, `LocalityMatch`) and
//! `pilot/pkg/xds/endpoints/ep_filters.go` (`EndpointsByNetworkFilter`); envoy-semantics §5.4–§5.6.
//!
//! Order of the steps, as in `endpoint_builder.go`: unready filtering, grouping by locality
//! (sorted by locality string), network filtering, then the locality setting.

use std::collections::{BTreeMap, BTreeSet};

use super::manifest::LocalityLbSetting;
use crate::envoy::config::Locality;
use crate::model::ids::EndpointId;

/// Label keys Istio adds to proxy and endpoint labels (`pilot/pkg/serviceregistry/util/label`).
pub mod labels {
    /// Network label.
    pub const NETWORK: &str = "topology.istio.io/network";
    /// Kubernetes cluster label.
    pub const CLUSTER: &str = "topology.istio.io/cluster";
    /// Region label.
    pub const REGION: &str = "topology.kubernetes.io/region";
    /// Zone label.
    pub const ZONE: &str = "topology.kubernetes.io/zone";
    /// Sub-zone label.
    pub const SUBZONE: &str = "topology.istio.io/subzone";
}

/// The client proxy's identity as istiod sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyMeta {
    /// The proxy's locality.
    pub locality: Locality,
    /// The proxy's network (`topology.istio.io/network`); empty = the default network.
    pub network: String,
    /// The proxy's Kubernetes cluster.
    pub cluster: String,
    /// The proxy's pod labels.
    pub labels: BTreeMap<String, String>,
}

/// One endpoint of the service as the registry knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IstioEndpoint {
    /// The host address.
    pub id: EndpointId,
    /// The endpoint's locality; an empty region means "no locality".
    pub locality: Locality,
    /// The endpoint's network.
    pub network: String,
    /// The endpoint's Kubernetes cluster.
    pub cluster: String,
    /// The pod labels.
    pub labels: BTreeMap<String, String>,
    /// `LbWeight`; 0 means 1.
    pub weight: u32,
    /// Pod readiness.
    pub ready: bool,
}

/// An east-west gateway through which endpoints of `network` are reached from other networks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EastWestGateway {
    /// The gateway's address as an upstream host.
    pub id: EndpointId,
    /// The network it fronts.
    pub network: String,
    /// The cluster it runs in.
    pub cluster: String,
}

/// One host in the assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignedEndpoint {
    /// The host (an endpoint or an east-west gateway).
    pub id: EndpointId,
    /// `load_balancing_weight`.
    pub weight: u32,
    /// Sent with EDS health status UNHEALTHY (unready pod under Istio 1.31).
    pub unhealthy: bool,
}

/// One `LocalityLbEndpoints` group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignedLocality {
    /// The group's locality.
    pub locality: Locality,
    /// The group's `load_balancing_weight`. Zero for groups that `distribute` empties.
    pub weight: u32,
    /// The hosts, in EDS order. May be empty (a locality `distribute` does not list).
    pub endpoints: Vec<AssignedEndpoint>,
}

/// The ClusterLoadAssignment one proxy receives, grouped by priority.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// `locality_weighted_lb_config` is set on the cluster.
    pub locality_weighted: bool,
    /// `priorities[p]` holds the groups at priority `p`, in EDS order; no gaps.
    pub priorities: Vec<Vec<AssignedLocality>>,
}

/// Everything besides the endpoints and the proxy that shapes the assignment.
#[derive(Clone, Copy, Debug, Default)]
pub struct AssignOptions<'a> {
    /// The effective locality setting; `None` = locality load balancing disabled.
    pub setting: Option<&'a LocalityLbSetting>,
    /// The merged DR policy has `outlierDetection` (failover priorities apply).
    pub enable_failover: bool,
    /// Unready endpoints are sent as unhealthy rather than dropped.
    pub send_unhealthy: bool,
    /// `ENABLE_LOCALITY_WEIGHTED_LB_CONFIG`.
    pub locality_weighted_flag: bool,
    /// East-west gateways of the remote networks; empty = single network.
    pub gateways: &'a [EastWestGateway],
}

/// A group while it is being built: the Envoy group plus the labels of each endpoint, which
/// `failoverPriority` needs (Istio's `WrappedLocalityLbEndpoints`).
#[derive(Clone, Debug)]
struct Group {
    locality: Locality,
    weight: u32,
    priority: u32,
    endpoints: Vec<AssignedEndpoint>,
    labels: Vec<BTreeMap<String, String>>,
}

/// Computes the assignment one proxy receives (envoy-semantics §5.4.3, §5.5, §5.6).
pub fn assign_endpoints(proxy: &ProxyMeta, endpoints: &[IstioEndpoint], opts: &AssignOptions<'_>) -> Assignment {
    let mut groups = group_by_locality(endpoints, opts.send_unhealthy);
    if !opts.gateways.is_empty() {
        groups = filter_by_network(groups, endpoints, proxy, opts.gateways);
    }
    let locality_weighted =
        needs_locality_weighted_config(opts.setting, opts.enable_failover, opts.locality_weighted_flag);
    if let Some(setting) = opts.setting {
        groups = apply_locality_setting(groups, proxy, setting, opts.enable_failover);
    }
    Assignment { locality_weighted, priorities: bucket_by_priority(dedup_hosts(groups)) }
}

/// `applyLocalityLoadBalancer`: `locality_weighted_lb_config` is set iff `flag`
/// (`ENABLE_LOCALITY_WEIGHTED_LB_CONFIG`) is on, or failover is enabled and `failover` or
/// `failoverPriority` is non-empty, or `distribute` is non-empty (envoy-semantics §5.4.3).
pub fn needs_locality_weighted_config(setting: Option<&LocalityLbSetting>, enable_failover: bool, flag: bool) -> bool {
    let Some(s) = setting else { return flag };
    flag || !s.distribute().is_empty()
        || (enable_failover && (!s.failover().is_empty() || !s.failover_priority().is_empty()))
}

/// Unready filtering and grouping: one group per locality string, sorted by it; endpoint weight
/// `LbWeight` or 1; group weight = saturating sum.
fn group_by_locality(endpoints: &[IstioEndpoint], send_unhealthy: bool) -> Vec<Group> {
    let mut by_locality: BTreeMap<String, Group> = BTreeMap::new();
    for ep in endpoints {
        if !ep.ready && !send_unhealthy {
            continue;
        }
        let group = by_locality.entry(ep.locality.to_string()).or_insert_with(|| Group {
            locality: ep.locality.clone(),
            weight: 0,
            priority: 0,
            endpoints: Vec::new(),
            labels: Vec::new(),
        });
        let weight = ep.weight.max(1);
        group.weight = group.weight.saturating_add(weight);
        group.endpoints.push(AssignedEndpoint { id: ep.id, weight, unhealthy: !ep.ready });
        group.labels.push(augment_labels(&ep.labels, &ep.network, &ep.cluster, &ep.locality));
    }
    by_locality.into_values().collect()
}

/// `AugmentLabels`: adds network, cluster, region, zone and sub-zone labels (non-empty only).
fn augment_labels(
    labels: &BTreeMap<String, String>,
    network: &str,
    cluster: &str,
    locality: &Locality,
) -> BTreeMap<String, String> {
    let mut out = labels.clone();
    for (key, value) in [
        (labels::NETWORK, network),
        (labels::CLUSTER, cluster),
        (labels::REGION, locality.region.as_str()),
        (labels::ZONE, locality.zone.as_str()),
        (labels::SUBZONE, locality.sub_zone.as_str()),
    ] {
        if !value.is_empty() {
            out.insert(key.to_string(), value.to_string());
        }
    }
    out
}

/// `EndpointsByNetworkFilter` (§5.6). Every weight is scaled by the LCM of the gateway counts
/// per network and per (network, cluster). An endpoint on another network that has gateways is
/// replaced by its network's gateways (those of its own cluster if any, else all of the
/// network), each receiving `weight / n_gateways` (at least 1); gateway hosts are appended to the
/// group sorted by (network, cluster, id). An endpoint on a network without gateways stays.
fn filter_by_network(
    groups: Vec<Group>,
    endpoints: &[IstioEndpoint],
    proxy: &ProxyMeta,
    gateways: &[EastWestGateway],
) -> Vec<Group> {
    let by_id: BTreeMap<EndpointId, &IstioEndpoint> = endpoints.iter().map(|e| (e.id, e)).collect();
    let scale = gateway_scale_factor(gateways);
    groups
        .into_iter()
        .map(|g| {
            let mut out = Group { endpoints: Vec::new(), labels: Vec::new(), ..g.clone() };
            let mut gateway_weights: BTreeMap<(String, String, EndpointId), u32> = BTreeMap::new();
            for (ep, ep_labels) in g.endpoints.iter().zip(&g.labels) {
                let meta = by_id[&ep.id];
                let weight = ep.weight.saturating_mul(scale);
                let selected = select_gateways(gateways, &meta.network, &meta.cluster);
                if meta.network == proxy.network || selected.is_empty() {
                    out.endpoints.push(AssignedEndpoint { weight, ..ep.clone() });
                    out.labels.push(ep_labels.clone());
                    continue;
                }
                let per_gateway = weight / selected.len() as u32;
                for gw in selected {
                    let key = (gw.network.clone(), gw.cluster.clone(), gw.id);
                    let w = gateway_weights.entry(key).or_insert(0);
                    *w = w.saturating_add(per_gateway);
                }
            }
            for ((network, cluster, id), weight) in gateway_weights {
                let labels = augment_labels(&BTreeMap::new(), &network, &cluster, &Locality::default());
                out.endpoints.push(AssignedEndpoint { id, weight: weight.max(1), unhealthy: false });
                out.labels.push(labels);
            }
            out.weight = out.endpoints.iter().fold(0u32, |acc, e| acc.saturating_add(e.weight));
            out
        })
        .collect()
}

/// `selectNetworkGateways`: the gateways of (network, cluster), else those of the network.
fn select_gateways<'a>(gateways: &'a [EastWestGateway], network: &str, cluster: &str) -> Vec<&'a EastWestGateway> {
    let exact: Vec<_> = gateways.iter().filter(|g| g.network == network && g.cluster == cluster).collect();
    if !exact.is_empty() {
        return exact;
    }
    gateways.iter().filter(|g| g.network == network).collect()
}

/// `GetLBWeightScaleFactor`: LCM of the gateway counts per network and per (network, cluster).
fn gateway_scale_factor(gateways: &[EastWestGateway]) -> u32 {
    let mut per_network: BTreeMap<&str, u32> = BTreeMap::new();
    let mut per_cluster: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for g in gateways {
        *per_network.entry(&g.network).or_insert(0) += 1;
        *per_cluster.entry((&g.network, &g.cluster)).or_insert(0) += 1;
    }
    per_network.values().chain(per_cluster.values()).fold(1u32, |acc, &n| lcm(acc, n))
}

fn lcm(a: u32, b: u32) -> u32 {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    if a == 0 || b == 0 { a.max(b) } else { (a / gcd(a, b)).saturating_mul(b) }
}

/// `ApplyLocalityLoadBalancer`: distribute, or failover priorities when failover is enabled.
fn apply_locality_setting(
    mut groups: Vec<Group>,
    proxy: &ProxyMeta,
    setting: &LocalityLbSetting,
    enable_failover: bool,
) -> Vec<Group> {
    if !setting.distribute().is_empty() {
        apply_locality_weights(&mut groups, &proxy.locality, setting);
    } else if enable_failover {
        if !setting.failover_priority().is_empty() {
            groups = apply_failover_priorities(groups, proxy, setting.failover_priority());
            if !setting.failover().is_empty() {
                apply_locality_failover(&mut groups, &proxy.locality, setting);
            }
        } else {
            apply_locality_failover(&mut groups, &proxy.locality, setting);
        }
    }
    groups
}

/// `LocalityMatch`: a pattern `region[/zone[/subzone]]`; an absent segment or `*` matches
/// anything. (Istio compares the region exactly unless it is `*`.)
pub fn locality_matches(locality: &Locality, pattern: &str) -> bool {
    let mut parts = pattern.splitn(3, '/');
    let region = parts.next().unwrap_or("");
    let zone = parts.next().unwrap_or("");
    let sub_zone = parts.next().unwrap_or("");
    (region == "*" || locality.region == region)
        && (zone == "*" || zone.is_empty() || locality.zone == zone)
        && (sub_zone == "*" || sub_zone.is_empty() || locality.sub_zone == sub_zone)
}

/// `applyLocalityWeights`: the first rule whose `from` matches the proxy decides. Each `to`
/// entry (in key order; validation forbids overlaps, so the order cannot matter) claims the
/// not-yet-claimed groups it matches and gives each `⌈orig × W / total⌉`. Unclaimed groups are
/// emptied (their weight is zeroed too: Istio leaves the weight, but a group without hosts is
/// never picked either way).
fn apply_locality_weights(groups: &mut [Group], proxy: &Locality, setting: &LocalityLbSetting) {
    let Some(rule) = setting.distribute().iter().find(|d| locality_matches(proxy, &d.from)) else {
        return;
    };
    let mut unclaimed: BTreeSet<usize> = (0..groups.len()).collect();
    for (pattern, &share) in &rule.to {
        let claimed: Vec<usize> =
            unclaimed.iter().copied().filter(|&i| locality_matches(&groups[i].locality, pattern)).collect();
        let total: u64 = claimed.iter().map(|&i| u64::from(groups[i].weight.max(1))).sum();
        for &i in &claimed {
            unclaimed.remove(&i);
            let orig = u64::from(groups[i].weight.max(1));
            let weight = (orig * u64::from(share)).div_ceil(total);
            if weight > 0 {
                groups[i].weight = u32::try_from(weight).unwrap_or(u32::MAX);
            }
        }
    }
    for i in unclaimed {
        groups[i].endpoints.clear();
        groups[i].labels.clear();
        groups[i].weight = 0;
    }
}

/// `LbPriority`: 0 same sub-zone, 1 same zone, 2 same region, 3 other region.
pub fn lb_priority(proxy: &Locality, group: &Locality) -> u32 {
    if proxy.region != group.region {
        3
    } else if proxy.zone != group.zone {
        2
    } else if proxy.sub_zone != group.sub_zone {
        1
    } else {
        0
    }
}

/// `applyLocalityFailover`: base priority from [`lb_priority`]; at 3, the first `failover` rule
/// whose `from` is the proxy's region keeps its `to` region at 3 and sends every other group
/// (including ones without a locality) to 4. Composed as `prev × 5 + base`, then compacted.
fn apply_locality_failover(groups: &mut [Group], proxy: &Locality, setting: &LocalityLbSetting) {
    for g in groups.iter_mut() {
        let mut base = lb_priority(proxy, &g.locality);
        if base == 3
            && let Some(rule) = setting.failover().iter().find(|f| f.from == proxy.region)
            && (g.locality.region.is_empty() || g.locality.region != rule.to)
        {
            base = 4;
        }
        g.priority = g.priority * 5 + base;
    }
    compact_priorities(groups);
}

/// `applyFailoverPriorities`: each group is split by endpoint priority (§5.4.3), then the
/// priorities are compacted over the cluster. Skipped when the proxy has no labels at all.
fn apply_failover_priorities(groups: Vec<Group>, proxy: &ProxyMeta, keys: &[String]) -> Vec<Group> {
    let proxy_labels = augment_labels(&proxy.labels, &proxy.network, &proxy.cluster, &proxy.locality);
    if proxy_labels.is_empty() {
        return groups;
    }
    let mut out = Vec::new();
    for g in groups {
        let mut split: BTreeMap<u32, Group> = BTreeMap::new();
        for (ep, ep_labels) in g.endpoints.iter().zip(&g.labels) {
            let p = label_priority(&proxy_labels, ep_labels, keys);
            let part = split.entry(p).or_insert_with(|| Group {
                weight: 0,
                priority: p,
                endpoints: Vec::new(),
                labels: Vec::new(),
                ..g.clone()
            });
            part.weight = part.weight.saturating_add(ep.weight);
            part.endpoints.push(ep.clone());
            part.labels.push(ep_labels.clone());
        }
        out.extend(split.into_values());
    }
    compact_priorities(&mut out);
    out
}

/// The priority of one endpoint under `failoverPriority` (`applyFailoverPriorityPerLocality`):
/// N − j at the first mismatching label j, 0 if all match. A `key=value` entry compares with the
/// fixed value. Special case (current Istio): a mismatching first label
/// `topology.istio.io/network` adds N and the scan continues, so cross-network endpoints rank
/// after every same-network endpoint.
fn label_priority(
    proxy_labels: &BTreeMap<String, String>,
    ep_labels: &BTreeMap<String, String>,
    keys: &[String],
) -> u32 {
    let n = keys.len() as u32;
    let mut priority = 0;
    for (j, entry) in keys.iter().enumerate() {
        let (key, wanted) = match entry.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (entry.as_str(), None),
        };
        let wanted = wanted.or_else(|| proxy_labels.get(key).map(String::as_str)).unwrap_or("");
        let actual = ep_labels.get(key).map(String::as_str).unwrap_or("");
        if wanted != actual {
            if j == 0 && key == labels::NETWORK {
                priority += n;
                continue;
            }
            return priority + n - j as u32;
        }
    }
    priority
}

/// Renumbers the distinct priorities to 0..K-1, keeping their order.
fn compact_priorities(groups: &mut [Group]) {
    let distinct: BTreeSet<u32> = groups.iter().map(|g| g.priority).collect();
    let rank: BTreeMap<u32, u32> = distinct.into_iter().zip(0..).collect();
    for g in groups.iter_mut() {
        g.priority = rank[&g.priority];
    }
}

/// Envoy keeps one host per address: a host listed twice keeps its first occurrence in EDS
/// order (envoy-semantics §5.6.3, §8.6). Group weights stay as sent.
fn dedup_hosts(mut groups: Vec<Group>) -> Vec<Group> {
    let mut seen = BTreeSet::new();
    for g in &mut groups {
        g.endpoints.retain(|e| seen.insert(e.id));
    }
    groups
}

fn bucket_by_priority(groups: Vec<Group>) -> Vec<Vec<AssignedLocality>> {
    let n_priorities = groups.iter().map(|g| g.priority as usize + 1).max().unwrap_or(0);
    let mut out: Vec<Vec<AssignedLocality>> = vec![Vec::new(); n_priorities];
    for g in groups {
        out[g.priority as usize].push(AssignedLocality {
            locality: g.locality,
            weight: g.weight,
            endpoints: g.endpoints,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::istio::manifest::Distribute;

    fn group(region: &str, zone: &str, sub_zone: &str) -> Group {
        Group {
            locality: Locality::new(region, zone, sub_zone),
            weight: 1,
            priority: 0,
            endpoints: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// The fixture of `buildFakeCluster` in Istio's `loadbalancer_test.go`: seven groups, two of
    /// them in the same sub-zone (Istio's fixture has no endpoints, so each weighs 1).
    fn fake_cluster() -> Vec<Group> {
        vec![
            group("region1", "zone1", "subzone1"),
            group("region1", "zone1", "subzone1"),
            group("region1", "zone1", "subzone2"),
            group("region1", "zone1", "subzone3"),
            group("region1", "zone2", ""),
            group("region2", "", ""),
            group("region3", "", ""),
        ]
    }

    /// I2: `TestApplyLocalitySetting/Distribute/"distribution between subzones"`.
    #[test]
    fn distribute_between_subzones_gives_40_40_15_5_0_0_0() {
        let setting = LocalityLbSetting {
            distribute: Some(vec![Distribute {
                from: "region1/zone1/subzone1".into(),
                to: [
                    ("region1/zone1/subzone1".to_string(), 80),
                    ("region1/zone1/subzone2".to_string(), 15),
                    ("region1/zone1/subzone3".to_string(), 5),
                ]
                .into_iter()
                .collect(),
            }]),
            ..Default::default()
        };
        let mut groups = fake_cluster();
        apply_locality_weights(&mut groups, &Locality::new("region1", "zone1", "subzone1"), &setting);
        let weights: Vec<u32> = groups.iter().map(|g| g.weight).collect();
        assert_eq!(weights, [40, 40, 15, 5, 0, 0, 0]);
    }

    /// I3 on the same fixture: `TestApplyLocalitySetting/"Failover: all priorities"`.
    #[test]
    fn failover_all_priorities_on_the_istio_fixture() {
        let setting = LocalityLbSetting {
            failover: Some(vec![crate::istio::manifest::Failover { from: "region1".into(), to: "region2".into() }]),
            ..Default::default()
        };
        let mut groups = fake_cluster();
        apply_locality_failover(&mut groups, &Locality::new("region1", "zone1", "subzone1"), &setting);
        let priorities: Vec<u32> = groups.iter().map(|g| g.priority).collect();
        assert_eq!(priorities, [0, 0, 1, 1, 2, 3, 4]);
    }

    #[test]
    fn locality_match_follows_istio() {
        let l = Locality::new("r1", "z1", "s1");
        assert!(locality_matches(&l, "r1"));
        assert!(locality_matches(&l, "r1/*"));
        assert!(locality_matches(&l, "*"));
        assert!(locality_matches(&l, "r1/z1/s1"));
        assert!(!locality_matches(&l, "r1/z2"));
        assert!(!locality_matches(&l, "r2/*"));
        assert!(!locality_matches(&Locality::default(), "r1"));
    }

    #[test]
    fn gateway_scale_factor_is_the_lcm_of_counts() {
        let gw = |id, network: &str, cluster: &str| EastWestGateway {
            id: EndpointId(id),
            network: network.into(),
            cluster: cluster.into(),
        };
        assert_eq!(gateway_scale_factor(&[]), 1);
        let gws = [gw(1, "n2", "c2"), gw(2, "n2", "c2"), gw(3, "n3", "c3"), gw(4, "n3", "c3"), gw(5, "n3", "c4")];
        // n2: 2, n3: 3, (n2,c2): 2, (n3,c3): 2, (n3,c4): 1 → lcm 6.
        assert_eq!(gateway_scale_factor(&gws), 6);
    }
}
