//! Which DestinationRule and which VirtualService route apply to one client proxy for the
//! simulated service, as istiod decides it. Ported from istio/istio (2026-08 `master`):
//!
//! **DestinationRules** (`pilot/pkg/model/push_context.go` `setDestinationRules`,
//! `destinationRule`, `getExportedDestinationRuleFromNamespace`; `destination_rule.go`
//! `mergeDestinationRule`; `sidecar.go` `SidecarScope.DestinationRule`):
//! 1. Each rule's `host` is resolved in its namespace (`ResolveShortnameToFQDN`). Rules are sorted
//!    with `workloadSelector` first, then by `creationTimestamp`, name and namespace.
//! 2. A rule's `exportTo` (a rule with a `workloadSelector` is private: `.`) files it into its
//!    namespace's local index when visible there (empty, `*`, `.` or its own namespace), into its
//!    namespace's exported index unless it is private only, and a private rule of the root
//!    namespace also into the root-local index.
//! 3. Rules for the same host in one index merge (`ENABLE_ENHANCED_DESTINATIONRULE_MERGE`, on by
//!    default): only rules with equal `exportTo` (or a wider one, which also stays on its own),
//!    and equal or absent selectors, merge; the merged rule keeps the first rule's top-level
//!    `trafficPolicy` (the oldest) unless it had none, and gains the subsets it lacks.
//! 4. Lookup for a client in namespace N, service S in namespace M: N's local index (the
//!    root-local one when N is the root namespace), then M's exported index, then the root
//!    namespace's exported index, the last two filtered by `exportTo` containing `*` or N. In
//!    each index the exact host wins, else the most specific wildcard (`MostSpecificHostMatch`).
//! 5. Of the rules found, the first whose `workloadSelector` matches the proxy's labels and whose
//!    namespace is the proxy's; else the last one without a selector.
//!
//! **VirtualServices** (`push_context.go` `initVirtualServices`, `VirtualServicesForGateway`;
//! `virtualservice.go` `SelectVirtualServices`, `ResolveVirtualServiceShortnames`;
//! `sidecar.go` `computeWildcardHostVirtualServiceIndex`; `networking/core/route/route.go`
//! `BuildSidecarVirtualHostWrapper`, `BuildHTTPRoutesForVirtualService`, `TranslateRoute`,
//! `sourceMatchHTTP`; `networking/core/gateway.go` `buildGatewayRoutes`;
//! `push_context.go` `mergeGateways` for which Gateways a gateway proxy serves):
//! 1. Hosts, gateways and destinations are resolved in the VirtualService's namespace; a service
//!    without `hosts` is a delegate (not followed by meshsim: a lint says so). They are ordered by
//!    creation time, and indexed by gateway (`mesh` when `gateways` is empty) and `exportTo`
//!    (default `*`; `.` is the own namespace; `~` hides it).
//! 2. A proxy in namespace N bound to gateway G sees the private ones of N, those exported to N,
//!    then the public ones, each in creation order.
//! 3. A sidecar uses, for the service, the first VirtualService with the service's exact host
//!    that yields routes for it, else the one holding the most specific wildcard host that
//!    covers the service (the first to hold it); with none, Istio's default route.
//! 4. A gateway proxy serves the Gateways whose `selector` its labels contain (or the one its
//!    `[[proxies]]` entry names); a VirtualService bound to one of them applies when the
//!    Gateway's server hosts (`ns/host` qualified) intersect its hosts. meshsim's gateway requests
//!    are the ones bound for the service, so the first such VirtualService with a route to the
//!    service carries them.
//! 5. Within a VirtualService, a match whose `gateways`, `sourceLabels`, `sourceNamespace` do not
//!    fit the proxy, or whose `port` is not the listener's, is dropped for it (`TranslateRoute`);
//!    the others become the proxy's route table, one Envoy route per match, in order, up to the
//!    first catch-all. Each request then takes the first route it matches (`envoy::route`,
//!    `model::world`).
//!
//! Everything here is pure and uses ordered maps only.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::host::{most_specific_match, resolve_gateway_name, resolve_short_name, subset_of};
use super::manifest::{DestinationRuleSpec, GatewaySpec, HttpMatchRequest, HttpRoute, VirtualServiceSpec};

/// Istio's default root (config) namespace.
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";

/// The spec of a resource meshsim models.
// A handful per scenario; boxing would only complicate matching.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum ResourceSpec {
    /// `DestinationRule.spec`.
    DestinationRule(DestinationRuleSpec),
    /// `VirtualService.spec`.
    VirtualService(VirtualServiceSpec),
    /// `Gateway.spec` (`networking.istio.io`).
    Gateway(GatewaySpec),
}

/// One Istio resource as the istiods of the scenario read it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigResource {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.creationTimestamp` in seconds since 1970; `None` sorts first, as Go's zero time.
    pub created: Option<i64>,
    /// The clusters (Istio cluster IDs) whose istiod reads it; `None`: every cluster.
    pub cluster_ids: Option<Vec<String>>,
    /// Where it was read, for messages: a file and document, or `policy.destination_rule`.
    pub source: String,
    /// The spec.
    pub spec: ResourceSpec,
}

impl ConfigResource {
    /// `DestinationRule`, `VirtualService` or `Gateway`.
    pub fn kind(&self) -> &'static str {
        match self.spec {
            ResourceSpec::DestinationRule(_) => "DestinationRule",
            ResourceSpec::VirtualService(_) => "VirtualService",
            ResourceSpec::Gateway(_) => "Gateway",
        }
    }

    /// `Kind namespace/name`.
    pub fn id(&self) -> String {
        crate::kube::resource_id(self.kind(), &self.namespace, &self.name)
    }

    /// Whether the istiod of cluster `cluster_id` reads it.
    pub fn read_by(&self, cluster_id: &str) -> bool {
        self.cluster_ids.as_ref().is_none_or(|c| c.iter().any(|x| x == cluster_id))
    }

    fn dr(&self) -> Option<&DestinationRuleSpec> {
        match &self.spec {
            ResourceSpec::DestinationRule(s) => Some(s),
            _ => None,
        }
    }

    fn vs(&self) -> Option<&VirtualServiceSpec> {
        match &self.spec {
            ResourceSpec::VirtualService(s) => Some(s),
            _ => None,
        }
    }

    fn gateway(&self) -> Option<&GatewaySpec> {
        match &self.spec {
            ResourceSpec::Gateway(s) => Some(s),
            _ => None,
        }
    }
}

/// `configCompareByCreationTime`: creation time, then name, then namespace.
fn by_creation(a: &ConfigResource, b: &ConfigResource) -> Ordering {
    a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)).then_with(|| a.namespace.cmp(&b.namespace))
}

/// `labels.Instance.SubsetOf`: every selector label is among `labels` with the same value.
pub fn labels_subset(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The simulated service as istiod sees it.
#[derive(Clone, Copy, Debug)]
pub struct Service<'a> {
    /// Its FQDN, e.g. `reviews.shop.svc.cluster.local`.
    pub host: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// The cluster domain short names resolve with (`cluster.local`).
    pub domain: &'a str,
    /// The other hosts the scenario simulates (`[[services]]`): routes may send to them.
    pub others: &'a [String],
}

/// What a client proxy is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role<'a> {
    /// A sidecar (`gateways: [mesh]`).
    Sidecar,
    /// An ingress (or egress) gateway: serves the Gateway `named` (`ns/name` or `name`), or else
    /// the Gateways whose selector its labels contain.
    Gateway {
        /// The `gateway` of its `[[proxies]]` entry.
        named: Option<&'a str>,
    },
    /// An east-west gateway in AUTO_PASSTHROUGH: only the DestinationRule applies.
    EastWest,
}

/// One client proxy (a group of identical replicas) as istiod sees it.
#[derive(Clone, Copy, Debug)]
pub struct Client<'a> {
    /// The Istio cluster ID of its cluster: its istiod reads the resources of that cluster.
    pub cluster_id: &'a str,
    /// Its namespace (`ConfigNamespace`).
    pub namespace: &'a str,
    /// Its pod labels.
    pub labels: &'a BTreeMap<String, String>,
    /// Sidecar or gateway.
    pub role: Role<'a>,
}

/// A DestinationRule as a proxy receives it: one rule, or several merged (`ConsolidatedDestRule`).
#[derive(Clone, Debug, PartialEq)]
pub struct MergedDestinationRule {
    /// The merged spec: the base rule's, its `host` resolved, with the subsets of the rules merged
    /// into it and the first top-level `trafficPolicy` among them. Kept whole (subsets,
    /// port-level settings) for the layers built on it.
    pub spec: DestinationRuleSpec,
    /// The resources merged, base first (indices into the scenario's resources).
    pub from: Vec<usize>,
    /// The base rule's namespace.
    pub namespace: String,
    export_to: BTreeSet<String>,
}

/// Where Istio's lookup found the DestinationRule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LookupStep {
    /// Among the rules of the proxy's own namespace.
    ProxyNamespace,
    /// Among the private rules of the root namespace (the proxy is in it).
    RootNamespaceLocal,
    /// Among the rules the service's namespace exports to the proxy's.
    ServiceNamespace,
    /// Among the rules the root namespace exports.
    RootNamespace,
}

impl LookupStep {
    /// In words, for explanations.
    pub fn describe(self, proxy_ns: &str, service_ns: &str, root: &str) -> String {
        match self {
            LookupStep::ProxyNamespace => format!("found in the proxy's namespace `{proxy_ns}`"),
            LookupStep::RootNamespaceLocal => format!("found among the private rules of the root namespace `{root}`"),
            LookupStep::ServiceNamespace => format!("exported by the service's namespace `{service_ns}`"),
            LookupStep::RootNamespace => format!("exported by the root namespace `{root}`"),
        }
    }
}

/// The route table a proxy's requests to the service go through: the Envoy routes pilot builds
/// from one VirtualService for this proxy (`BuildHTTPRoutesForVirtualService`), in order. A
/// request takes the first whose match it satisfies (`model::world`); with none, Envoy answers
/// 404 (NR).
#[derive(Clone, Debug, PartialEq)]
pub struct RouteChoice {
    /// The VirtualService (index into the scenario's resources).
    pub resource: usize,
    /// The Envoy routes, in order: one per `HTTPMatchRequest` that fits the proxy (its
    /// `sourceLabels`, `gateways`, `sourceNamespace`, `port`), or one for a route without
    /// `match`, up to the first catch-all. Never empty.
    pub entries: Vec<RouteEntry>,
    /// For gateway proxies: the Gateway (`ns/name`) the VirtualService is bound through.
    pub gateway: Option<String>,
}

/// One Envoy route built from a VirtualService `http` route and one of its matches.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteEntry {
    /// Index of the route in the VirtualService's `http`.
    pub http: usize,
    /// Index of the match in the route's `match` (`None`: the route has no `match`).
    pub match_index: Option<usize>,
    /// The whole route, with destination hosts resolved to FQDNs.
    pub route: HttpRoute,
}

impl RouteEntry {
    /// The `HTTPMatchRequest` this entry was built from (`None`: every request).
    pub fn request_match(&self) -> Option<&HttpMatchRequest> {
        self.match_index.and_then(|j| self.route.match_.as_ref().and_then(|m| m.get(j)))
    }

    /// `http[1] (canary)` or `http[1] (canary) match[0]`.
    pub fn label(&self) -> String {
        let base = match self.route.name.as_deref() {
            Some(n) => format!("http[{}] ({n})", self.http),
            None => format!("http[{}]", self.http),
        };
        match (self.match_index, self.route.match_.as_ref().map_or(0, Vec::len)) {
            (Some(j), n) if n > 1 => format!("{base} match[{j}]"),
            _ => base,
        }
    }
}

impl RouteChoice {
    /// The first route of the table.
    pub fn first(&self) -> &RouteEntry {
        &self.entries[0]
    }
}

/// Whether a resource applied to a proxy, and why (or why not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Index into the scenario's resources.
    pub resource: usize,
    /// It is (part of) what the proxy uses.
    pub applied: bool,
    /// Why, in one line.
    pub why: String,
}

/// What applies to one client proxy for the simulated service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// The DestinationRule the proxy's cluster for the service is built from, if any.
    pub destination_rule: Option<MergedDestinationRule>,
    /// Where it was found.
    pub dr_step: Option<LookupStep>,
    /// The route table of the VirtualService its requests go through; `None`: Istio's default
    /// route (one route, every request).
    pub route: Option<RouteChoice>,
    /// For gateway proxies: the Gateways it serves (`ns/name`).
    pub gateways: Vec<String>,
    /// One note per resource of the scenario, in resource order.
    pub notes: Vec<Note>,
    /// Where meshsim simplifies what Istio would do for this proxy (the lints say it).
    pub warnings: Vec<String>,
}

impl Selection {
    /// The traffic policy of the DestinationRule in force (top level; subsets are not applied).
    pub fn traffic_policy(&self) -> Option<&super::manifest::TrafficPolicy> {
        self.destination_rule.as_ref().and_then(|d| d.spec.traffic_policy.as_ref())
    }

    /// The first route of its table, if a VirtualService applies.
    pub fn http_route(&self) -> Option<&HttpRoute> {
        self.route.as_ref().map(|r| &r.first().route)
    }
}

// ---------------------------------------------------------------------------------------------
// DestinationRules
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Consolidated {
    specific: BTreeMap<String, Vec<MergedDestinationRule>>,
    wildcard: BTreeMap<String, Vec<MergedDestinationRule>>,
}

impl Consolidated {
    fn most_specific(&self, host: &str) -> Option<&Vec<MergedDestinationRule>> {
        most_specific_match(host, &self.specific, &self.wildcard).map(|(_, v)| v)
    }
}

/// The DestinationRules one istiod holds, indexed as `setDestinationRules` does.
#[derive(Clone, Debug)]
pub struct DestinationRuleIndex {
    namespace_local: BTreeMap<String, Consolidated>,
    exported: BTreeMap<String, Consolidated>,
    root_local: Consolidated,
    root: String,
}

impl DestinationRuleIndex {
    /// Indexes the DestinationRules among `resources` for which `read` holds. `domain` completes
    /// short hosts; `root` is the root namespace.
    pub fn new(resources: &[ConfigResource], read: impl Fn(usize) -> bool, root: &str, domain: &str) -> Self {
        let mut rules: Vec<usize> = (0..resources.len()).filter(|&i| resources[i].dr().is_some() && read(i)).collect();
        rules.sort_by(|&a, &b| {
            let (ra, rb) = (&resources[a], &resources[b]);
            let (sa, sb) = (
                ra.dr().and_then(|d| d.workload_selector.as_ref()),
                rb.dr().and_then(|d| d.workload_selector.as_ref()),
            );
            match (sa.is_some(), sb.is_some()) {
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => by_creation(ra, rb),
            }
        });
        let mut idx = DestinationRuleIndex {
            namespace_local: BTreeMap::new(),
            exported: BTreeMap::new(),
            root_local: Consolidated::default(),
            root: root.to_string(),
        };
        for i in rules {
            let r = &resources[i];
            let mut spec = r.dr().expect("filtered").clone();
            spec.host = resolve_short_name(&spec.host, &r.namespace, domain);
            let ns = r.namespace.as_str();
            let export_to: BTreeSet<String> = if spec.workload_selector.is_none() {
                spec.export_to.iter().flatten().cloned().collect()
            } else {
                BTreeSet::from([".".to_string()])
            };
            if export_to.is_empty() || export_to.contains("*") || export_to.contains(".") || export_to.contains(ns) {
                merge_destination_rule(
                    idx.namespace_local.entry(ns.to_string()).or_default(),
                    i,
                    &spec,
                    ns,
                    &export_to,
                );
            }
            // The mesh's defaultDestinationRuleExportTo is `*` (meshsim reads no MeshConfig).
            let private_only = export_to.len() == 1 && (export_to.contains(".") || export_to.contains(ns));
            if !private_only {
                merge_destination_rule(idx.exported.entry(ns.to_string()).or_default(), i, &spec, ns, &export_to);
            } else if ns == root {
                merge_destination_rule(&mut idx.root_local, i, &spec, ns, &export_to);
            }
        }
        idx
    }

    /// `PushContext.destinationRule`: the rules for `host` (a service in `service_ns`) seen from a
    /// proxy in `proxy_ns`, and where they were found.
    pub fn lookup(
        &self,
        proxy_ns: &str,
        host: &str,
        service_ns: &str,
    ) -> Option<(Vec<&MergedDestinationRule>, LookupStep)> {
        if proxy_ns != self.root {
            if let Some(drs) = self.namespace_local.get(proxy_ns).and_then(|c| c.most_specific(host)) {
                return Some((drs.iter().collect(), LookupStep::ProxyNamespace));
            }
        } else if let Some(drs) = self.root_local.most_specific(host) {
            return Some((drs.iter().collect(), LookupStep::RootNamespaceLocal));
        }
        let exported = |owner: &str| -> Vec<&MergedDestinationRule> {
            let Some(drs) = self.exported.get(owner).and_then(|c| c.most_specific(host)) else { return Vec::new() };
            drs.iter()
                .filter(|d| d.export_to.is_empty() || d.export_to.contains("*") || d.export_to.contains(proxy_ns))
                .collect()
        };
        if !service_ns.is_empty() {
            let out = exported(service_ns);
            if !out.is_empty() {
                return Some((out, LookupStep::ServiceNamespace));
            }
        }
        let out = exported(&self.root);
        if !out.is_empty() {
            return Some((out, LookupStep::RootNamespace));
        }
        None
    }
}

/// `mergeDestinationRule` with `ENABLE_ENHANCED_DESTINATIONRULE_MERGE` (default true).
fn merge_destination_rule(
    c: &mut Consolidated,
    idx: usize,
    spec: &DestinationRuleSpec,
    namespace: &str,
    export_to: &BTreeSet<String>,
) {
    let new = || MergedDestinationRule {
        spec: spec.clone(),
        from: vec![idx],
        namespace: namespace.to_string(),
        export_to: export_to.clone(),
    };
    let map = if spec.host.starts_with('*') { &mut c.wildcard } else { &mut c.specific };
    let Some(list) = map.get_mut(&spec.host) else {
        map.insert(spec.host.clone(), vec![new()]);
        return;
    };
    let selector =
        |s: &DestinationRuleSpec| s.workload_selector.as_ref().and_then(|w| w.match_labels.clone()).unwrap_or_default();
    let mut append_separately = true;
    for mdr in list.iter_mut() {
        if *export_to == mdr.export_to {
            append_separately = false;
        } else if !mdr.export_to.is_empty() && export_to.is_superset(&mdr.export_to) {
            append_separately = true; // merged, and kept on its own too
        } else {
            append_separately = true;
            continue;
        }
        let both_without = spec.workload_selector.is_none() && mdr.spec.workload_selector.is_none();
        let both_with = spec.workload_selector.is_some() && mdr.spec.workload_selector.is_some();
        let selectors_match = selector(&mdr.spec) == selector(spec);
        if both_with && !selectors_match {
            append_separately = true;
            continue;
        }
        if both_without || (both_with && selectors_match) {
            append_separately = false;
        }
        mdr.from.push(idx);
        let existing: BTreeSet<String> = mdr.spec.subsets.iter().flatten().map(|s| s.name.clone()).collect();
        for s in spec.subsets.iter().flatten() {
            if !existing.contains(&s.name) {
                mdr.spec.subsets.get_or_insert_with(Vec::new).push(s.clone());
            }
        }
        if mdr.spec.traffic_policy.is_none() && spec.traffic_policy.is_some() {
            mdr.spec.traffic_policy = spec.traffic_policy.clone();
        }
    }
    if append_separately {
        list.push(new());
    }
}

/// `SidecarScope.DestinationRule` (outbound): the first rule whose selector matches the proxy
/// (only rules of the proxy's own namespace), else the last rule without a selector.
pub fn destination_rule_for_proxy<'a>(
    rules: &[&'a MergedDestinationRule],
    proxy_ns: &str,
    labels: &BTreeMap<String, String>,
) -> Option<&'a MergedDestinationRule> {
    let mut catch_all = None;
    for dr in rules {
        match &dr.spec.workload_selector {
            None => catch_all = Some(*dr),
            Some(sel) if dr.namespace == proxy_ns => {
                if labels_subset(sel.match_labels.as_ref().unwrap_or(&BTreeMap::new()), labels) {
                    return Some(dr);
                }
            }
            Some(_) => {}
        }
    }
    catch_all
}

// ---------------------------------------------------------------------------------------------
// VirtualServices and Gateways
// ---------------------------------------------------------------------------------------------

/// The VirtualServices one istiod holds, resolved and indexed as `initVirtualServices` does.
#[derive(Clone, Debug, Default)]
pub struct VirtualServiceIndex {
    private: BTreeMap<(String, String), Vec<usize>>,
    exported: BTreeMap<(String, String), Vec<usize>>,
    public: BTreeMap<String, Vec<usize>>,
    /// Resolved specs by resource index.
    resolved: BTreeMap<usize, VirtualServiceSpec>,
}

impl VirtualServiceIndex {
    /// Indexes the VirtualServices with hosts among `resources` for which `read` holds.
    pub fn new(resources: &[ConfigResource], read: impl Fn(usize) -> bool, domain: &str) -> Self {
        let mut vss: Vec<usize> = (0..resources.len())
            .filter(|&i| resources[i].vs().is_some_and(|v| !v.hosts.as_deref().unwrap_or(&[]).is_empty()) && read(i))
            .collect();
        vss.sort_by(|&a, &b| by_creation(&resources[a], &resources[b]));
        let mut idx = VirtualServiceIndex::default();
        for i in vss {
            let r = &resources[i];
            let spec = resolve_virtual_service(r.vs().expect("filtered"), &r.namespace, domain);
            let gateways: Vec<String> = match spec.gateways.as_deref() {
                Some(g) if !g.is_empty() => g.to_vec(),
                _ => vec!["mesh".to_string()],
            };
            let mut export_to: BTreeSet<String> = spec
                .export_to
                .iter()
                .flatten()
                .map(|e| if e == "." { r.namespace.clone() } else { e.clone() })
                .collect();
            if export_to.is_empty() {
                export_to.insert("*".into()); // the mesh's defaultVirtualServiceExportTo
            }
            if export_to.contains("*") {
                for g in &gateways {
                    idx.public.entry(g.clone()).or_default().push(i);
                }
            } else if !export_to.contains("~") {
                for e in &export_to {
                    let map = if *e == r.namespace { &mut idx.private } else { &mut idx.exported };
                    for g in &gateways {
                        map.entry((e.clone(), g.clone())).or_default().push(i);
                    }
                }
            }
            idx.resolved.insert(i, spec);
        }
        idx
    }

    /// `VirtualServicesForGateway`: what a proxy in `proxy_ns` bound to `gateway` (`mesh` or
    /// `ns/name`) sees, in order.
    pub fn for_gateway(&self, proxy_ns: &str, gateway: &str) -> Vec<usize> {
        let key = (proxy_ns.to_string(), gateway.to_string());
        let mut out: Vec<usize> = Vec::new();
        for list in [self.private.get(&key), self.exported.get(&key), self.public.get(gateway)].into_iter().flatten() {
            for &i in list {
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
        out
    }

    /// The resolved spec of resource `i`.
    pub fn spec(&self, i: usize) -> Option<&VirtualServiceSpec> {
        self.resolved.get(&i)
    }
}

/// `ResolveVirtualServiceShortnames`: hosts and destination hosts as FQDNs, gateways as
/// `ns/name` (lower-cased hosts, as the route builder compares them).
pub fn resolve_virtual_service(vs: &VirtualServiceSpec, namespace: &str, domain: &str) -> VirtualServiceSpec {
    let mut out = vs.clone();
    for h in out.hosts.iter_mut().flatten() {
        *h = resolve_short_name(h, namespace, domain);
    }
    for g in out.gateways.iter_mut().flatten() {
        *g = resolve_gateway_name(g, namespace);
    }
    for r in out.http.iter_mut().flatten() {
        for m in r.match_.iter_mut().flatten() {
            for g in m.gateways.iter_mut().flatten() {
                *g = resolve_gateway_name(g, namespace);
            }
        }
        for d in r.route.iter_mut().flatten() {
            d.destination.host = resolve_short_name(&d.destination.host, namespace, domain);
        }
    }
    out
}

/// `sourceMatchHTTP`: the match's `gateways` contain one of the proxy's, or else its
/// `sourceLabels` are among the proxy's labels and its `sourceNamespace` (if any) is the proxy's.
fn source_matches(m: &HttpMatchRequest, gateways: &[String], client: &Client) -> bool {
    match m.gateways.as_deref() {
        Some(g) if !g.is_empty() => g.iter().any(|x| gateways.contains(x)),
        _ => {
            labels_subset(m.source_labels.as_ref().unwrap_or(&BTreeMap::new()), client.labels)
                && m.source_namespace.as_deref().is_none_or(|ns| ns.is_empty() || ns == client.namespace)
        }
    }
}

/// The port of the service's listener that pilot builds the routes for (`listenPort`): meshsim
/// does not model service ports, so it is the first port a destination to the service names in
/// the VirtualService, else 80 (the port `explain` names the cluster with).
pub fn listen_port(vs: &VirtualServiceSpec, service_host: &str) -> u32 {
    vs.http
        .iter()
        .flatten()
        .flat_map(|r| r.route.iter().flatten())
        .filter(|d| d.destination.host.eq_ignore_ascii_case(service_host))
        .find_map(|d| d.destination.port.as_ref().and_then(|p| p.number))
        .unwrap_or(80)
}

/// `BuildHTTPRoutesForVirtualService` for one proxy: one entry per match that fits it
/// (`TranslateRoute` drops a match whose `port` is not the listener's or whose source does not
/// fit), one for a route without `match`, up to the first catch-all (`IsCatchAllRoute`).
fn route_entries(vs: &VirtualServiceSpec, gateways: &[String], client: &Client, port: u32) -> Vec<RouteEntry> {
    let mut out = Vec::new();
    for (i, r) in vs.http.iter().flatten().enumerate() {
        match r.match_.as_deref() {
            None | Some([]) => {
                out.push(RouteEntry { http: i, match_index: None, route: r.clone() });
                return out;
            }
            Some(ms) => {
                for (j, m) in ms.iter().enumerate() {
                    if m.port.is_some_and(|p| p != 0 && p != port) || !source_matches(m, gateways, client) {
                        continue;
                    }
                    out.push(RouteEntry { http: i, match_index: Some(j), route: r.clone() });
                    if super::route::entry_match(Some(m)).is_catch_all() {
                        return out;
                    }
                }
            }
        }
    }
    out
}

fn has_destination(r: &HttpRoute, host: &str) -> bool {
    r.route.iter().flatten().any(|d| d.destination.host.eq_ignore_ascii_case(host))
}

/// The server hosts of a Gateway visible to a VirtualService in `vs_ns` (`NamesForNamespace`),
/// with `./host` meaning the Gateway's namespace.
fn server_hosts(gw: &GatewaySpec, gw_ns: &str, vs_ns: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in gw.servers.iter().flatten() {
        for h in s.hosts.iter().flatten() {
            let host = match h.split_once('/') {
                Some((ns, name)) => {
                    let ns = if ns == "." { gw_ns } else { ns };
                    if ns != vs_ns && ns != "*" {
                        continue;
                    }
                    name
                }
                None => h.as_str(),
            };
            out.push(host.to_lowercase());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Selection for one client
// ---------------------------------------------------------------------------------------------

/// Istio's selection for `client` among `resources`, with a note per resource. Errors when the
/// proxy names a Gateway ambiguously, or its requests for the service go elsewhere.
pub fn select(
    resources: &[ConfigResource],
    client: &Client,
    service: &Service,
    root: &str,
) -> Result<Selection, String> {
    let read = |i: usize| resources[i].read_by(client.cluster_id);
    let mut sel = Selection::default();
    // DestinationRule.
    let dr_index = DestinationRuleIndex::new(resources, read, root, service.domain);
    if let Some((rules, step)) = dr_index.lookup(client.namespace, service.host, service.namespace)
        && let Some(dr) = destination_rule_for_proxy(&rules, client.namespace, client.labels)
    {
        sel.destination_rule = Some(dr.clone());
        sel.dr_step = Some(step);
    }
    // Gateways and the route.
    let vs_index = VirtualServiceIndex::new(resources, read, service.domain);
    match client.role {
        Role::Sidecar => sel.route = sidecar_route(&vs_index, client, service),
        Role::Gateway { named } => {
            sel.gateways = served_gateways(resources, client, named)?;
            sel.route = gateway_route(&vs_index, resources, client, service, &sel.gateways, &mut sel.warnings);
        }
        Role::EastWest => {}
    }
    if let Some(r) = &sel.route {
        route_warnings(resources, r, service, &mut sel.warnings);
    }
    sel.notes =
        (0..resources.len()).map(|i| note(resources, i, client, service, root, &sel, &dr_index, &vs_index)).collect();
    Ok(sel)
}

/// The Gateways a gateway proxy serves (`mergeGateways`): the one its entry names, else those
/// whose `selector` its labels contain, in creation order.
fn served_gateways(resources: &[ConfigResource], client: &Client, named: Option<&str>) -> Result<Vec<String>, String> {
    let read: Vec<usize> = (0..resources.len())
        .filter(|&i| resources[i].gateway().is_some() && resources[i].read_by(client.cluster_id))
        .collect();
    if let Some(name) = named {
        if name.contains('/') {
            return Ok(vec![name.to_string()]);
        }
        let found: Vec<&ConfigResource> = read.iter().map(|&i| &resources[i]).filter(|r| r.name == name).collect();
        return match found.as_slice() {
            [] => Ok(vec![format!("{}/{name}", client.namespace)]),
            [one] => Ok(vec![format!("{}/{}", one.namespace, one.name)]),
            many => match many.iter().find(|r| r.namespace == client.namespace) {
                Some(r) => Ok(vec![format!("{}/{}", r.namespace, r.name)]),
                None => Err(format!(
                    "gateway `{name}` is ambiguous: Gateways {} all have that name; write it as `namespace/name`",
                    many.iter().map(|r| format!("{}/{}", r.namespace, r.name)).collect::<Vec<_>>().join(", ")
                )),
            },
        };
    }
    let mut found: Vec<&ConfigResource> = read
        .iter()
        .map(|&i| &resources[i])
        .filter(|r| {
            labels_subset(r.gateway().and_then(|g| g.selector.as_ref()).unwrap_or(&BTreeMap::new()), client.labels)
        })
        .collect();
    found.sort_by(|a, b| by_creation(a, b));
    Ok(found.iter().map(|r| format!("{}/{}", r.namespace, r.name)).collect())
}

/// A sidecar's route table for the service (rule 3 of the module docs): the first claimant
/// VirtualService that yields routes for the proxy.
fn sidecar_route(vs_index: &VirtualServiceIndex, client: &Client, service: &Service) -> Option<RouteChoice> {
    let mesh = ["mesh".to_string()];
    let candidates = vs_index.for_gateway(client.namespace, "mesh");
    for i in claimants(vs_index, &candidates, service.host) {
        let vs = vs_index.spec(i).expect("indexed");
        let entries = route_entries(vs, &mesh, client, listen_port(vs, service.host));
        if !entries.is_empty() {
            return Some(RouteChoice { resource: i, entries, gateway: None });
        }
    }
    None
}

/// The VirtualServices that take a sidecar's requests for `host`, in order: those with `host`
/// among their hosts (compared lower-cased, as `separateVSHostsAndServices` does), else the
/// first holder of the most specific wildcard host covering it
/// (`computeWildcardHostVirtualServiceIndex` over `candidates`, which are in Istio's order).
fn claimants(vs_index: &VirtualServiceIndex, candidates: &[usize], host: &str) -> Vec<usize> {
    let hosts = |i: usize| -> Vec<String> {
        vs_index.spec(i).and_then(|v| v.hosts.clone()).unwrap_or_default().iter().map(|h| h.to_lowercase()).collect()
    };
    let exact: Vec<usize> = candidates.iter().copied().filter(|&i| hosts(i).iter().any(|h| h == host)).collect();
    if !exact.is_empty() {
        return exact;
    }
    let mut wildcards: BTreeMap<String, usize> = BTreeMap::new();
    for &i in candidates {
        for h in hosts(i).into_iter().filter(|h| h.starts_with('*')) {
            wildcards.entry(h).or_insert(i);
        }
    }
    most_specific_match(host, &BTreeMap::<String, usize>::new(), &wildcards).map(|(_, &i)| vec![i]).unwrap_or_default()
}

/// A gateway proxy's route table for the service (rule 4 of the module docs): the first
/// VirtualService bound to one of its Gateways (and to the Gateway's hosts) that has a route to
/// the service for this proxy.
fn gateway_route(
    vs_index: &VirtualServiceIndex,
    resources: &[ConfigResource],
    client: &Client,
    service: &Service,
    gateways: &[String],
    warnings: &mut Vec<String>,
) -> Option<RouteChoice> {
    for g in gateways {
        let gw_resource = resources.iter().find(|r| {
            r.gateway().is_some() && r.read_by(client.cluster_id) && format!("{}/{}", r.namespace, r.name) == *g
        });
        for i in vs_index.for_gateway(client.namespace, g) {
            let vs = vs_index.spec(i).expect("indexed");
            let vs_ns = &resources[i].namespace;
            let servers = match gw_resource {
                Some(r) => server_hosts(r.gateway().expect("a gateway"), &r.namespace, vs_ns),
                None => vec!["*".to_string()], // a Gateway named but not given: every host
            };
            let vs_hosts: Vec<String> = vs.hosts.iter().flatten().map(|h| h.to_lowercase()).collect();
            if !servers.iter().any(|s| vs_hosts.iter().any(|h| subset_of(h, s) || subset_of(s, h))) {
                continue;
            }
            let entries = route_entries(vs, std::slice::from_ref(g), client, listen_port(vs, service.host));
            if entries.iter().any(|e| has_destination(&e.route, service.host)) {
                return Some(RouteChoice { resource: i, entries, gateway: Some(g.clone()) });
            }
        }
    }
    warnings.push(format!(
        "no VirtualService bound to its Gateways ({}) routes to {}: Istio would answer 404; meshsim sends its \
         requests with Istio's default route",
        if gateways.is_empty() { "none".to_string() } else { gateways.join(", ") },
        service.host
    ));
    None
}

/// What the route table holds that meshsim does not model yet: destinations to other hosts
/// (a request class that reaches one is refused by the scenario's validation), query parameters
/// (never matched: requests carry no query string), delegation. Subsets are modelled (their own
/// clusters, `model::build`), and so are weighted splits (`model::routes`).
fn route_warnings(resources: &[ConfigResource], r: &RouteChoice, service: &Service, warnings: &mut Vec<String>) {
    let id = resources[r.resource].id();
    let mut seen: Vec<usize> = Vec::new();
    for e in &r.entries {
        if e.request_match().is_some_and(|m| m.query_params.is_some()) {
            warnings.push(format!(
                "{id} {} matches query parameters: meshsim's requests carry no query string, so it never matches",
                e.label()
            ));
        }
        if seen.contains(&e.http) {
            continue;
        }
        seen.push(e.http);
        let dests: Vec<_> = e.route.route.iter().flatten().collect();
        let others: Vec<String> = dests
            .iter()
            .filter(|d| !d.destination.host.eq_ignore_ascii_case(service.host))
            .filter(|d| !service.others.iter().any(|o| d.destination.host.eq_ignore_ascii_case(o)))
            .map(|d| format!("{} (weight {})", d.destination.host, d.weight.unwrap_or(0)))
            .collect();
        if !others.is_empty() {
            warnings.push(format!(
                "{id} http[{}] sends requests to {}, which the scenario does not declare (it simulates {} and each \
                 [[services]] host): a request class that takes this route is refused",
                e.http,
                others.join(", "),
                service.host
            ));
        }
        if e.route.delegate.is_some() {
            warnings.push(format!(
                "{id} http[{}] delegates to another VirtualService, which meshsim does not follow",
                e.http
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Notes: why each resource applied or not
// ---------------------------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
fn note(
    resources: &[ConfigResource],
    i: usize,
    client: &Client,
    service: &Service,
    root: &str,
    sel: &Selection,
    dr_index: &DestinationRuleIndex,
    vs_index: &VirtualServiceIndex,
) -> Note {
    let r = &resources[i];
    let no = |why: String| Note { resource: i, applied: false, why };
    let yes = |why: String| Note { resource: i, applied: true, why };
    if !r.read_by(client.cluster_id) {
        return no(format!(
            "read only by the istiod of {} (this proxy's cluster is {})",
            r.cluster_ids.as_ref().map(|c| c.join(", ")).unwrap_or_default(),
            client.cluster_id
        ));
    }
    match &r.spec {
        ResourceSpec::DestinationRule(spec) => {
            let host = resolve_short_name(&spec.host, &r.namespace, service.domain);
            if !subset_of(service.host, &host) {
                return no(format!("its host `{host}` does not cover the service"));
            }
            if let Some(dr) = &sel.destination_rule {
                let step = sel.dr_step.expect("set with the rule").describe(client.namespace, service.namespace, root);
                if dr.from.first() == Some(&i) {
                    let merged = if dr.from.len() > 1 {
                        format!(
                            "; merged with {}",
                            dr.from[1..].iter().map(|&j| resources[j].id()).collect::<Vec<_>>().join(", ")
                        )
                    } else {
                        String::new()
                    };
                    return yes(format!("host `{}`, {step}{merged}", dr.spec.host));
                }
                if dr.from.contains(&i) {
                    let tp = if spec.traffic_policy.is_some() {
                        " (its trafficPolicy is not used: the older rule's comes first)"
                    } else {
                        ""
                    };
                    return yes(format!("merged into {}: adds the subsets it lacks{tp}", resources[dr.from[0]].id()));
                }
            }
            no(dr_miss_reason(resources, i, client, service, root, sel, dr_index))
        }
        ResourceSpec::VirtualService(_) => {
            if let Some(rc) = sel.route.as_ref().filter(|rc| rc.resource == i) {
                let via = rc.gateway.as_ref().map(|g| format!(" through Gateway {g}")).unwrap_or_default();
                let n = rc.entries.len();
                let routes =
                    if n == 1 { rc.first().label() } else { format!("{n} routes, from {}", rc.first().label()) };
                return yes(format!("its route table ({routes}) carries the requests{via}"));
            }
            no(vs_miss_reason(resources, i, client, service, sel, vs_index))
        }
        ResourceSpec::Gateway(spec) => {
            let id = format!("{}/{}", r.namespace, r.name);
            match client.role {
                Role::Gateway { .. } if sel.gateways.contains(&id) => yes(format!(
                    "served by this gateway proxy{}",
                    match &spec.selector {
                        Some(s) if !s.is_empty() => format!(
                            " (selector {})",
                            s.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
                        ),
                        _ => String::new(),
                    }
                )),
                Role::Gateway { named: Some(n) } => no(format!("this proxy serves the Gateway named `{n}`")),
                Role::Gateway { named: None } => no("its selector does not match this proxy's labels".into()),
                _ => no("Gateways configure gateway proxies only".into()),
            }
        }
    }
}

/// Why a DestinationRule whose host covers the service did not apply: found alone, where would
/// Istio have found it, and what came first.
fn dr_miss_reason(
    resources: &[ConfigResource],
    i: usize,
    client: &Client,
    service: &Service,
    root: &str,
    sel: &Selection,
    dr_index: &DestinationRuleIndex,
) -> String {
    let r = &resources[i];
    let spec = r.dr().expect("a DestinationRule");
    let alone = DestinationRuleIndex::new(resources, |j| j == i, &dr_index.root, service.domain);
    let found = alone.lookup(client.namespace, service.host, service.namespace);
    let Some((rules, step)) = found else {
        if spec.workload_selector.is_some() && r.namespace != client.namespace {
            return format!(
                "it has a workloadSelector, so it applies only to proxies in its namespace `{}`",
                r.namespace
            );
        }
        let export = spec.export_to.as_ref().map(|e| format!("[{}]", e.join(", "))).unwrap_or_else(|| "[*]".into());
        return format!(
            "not visible from namespace `{}`: exportTo {export} in namespace `{}`, and Istio looks only in the proxy's \
             namespace, the service's `{}` and the root namespace `{root}`",
            client.namespace, r.namespace, service.namespace
        );
    };
    if destination_rule_for_proxy(&rules, client.namespace, client.labels).is_none() {
        let labels = spec.workload_selector.as_ref().and_then(|w| w.match_labels.as_ref());
        return format!(
            "its workloadSelector {} does not match this proxy's labels",
            labels.map(|l| l.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")).unwrap_or_default()
        );
    }
    let Some(dr) = &sel.destination_rule else {
        return "not selected".into();
    };
    let winner = resources[dr.from[0]].id();
    let sel_step = sel.dr_step.expect("set with the rule");
    if sel_step < step {
        return format!(
            "{winner} came first: {}, before {}",
            sel_step.describe(client.namespace, service.namespace, root),
            step.describe(client.namespace, service.namespace, root)
        );
    }
    let my_host = resolve_short_name(&spec.host, &r.namespace, service.domain);
    if my_host != dr.spec.host {
        return format!("{winner} has the more specific host `{}` (this one: `{my_host}`)", dr.spec.host);
    }
    if spec.workload_selector.is_some() {
        return format!("{winner}, which also selects this proxy, comes first (older, or by name)");
    }
    format!(
        "kept apart from {winner} (a different exportTo or workloadSelector), and Istio uses the last rule without a \
         selector, or the first whose selector matches"
    )
}

/// Why a VirtualService did not carry the proxy's requests.
fn vs_miss_reason(
    resources: &[ConfigResource],
    i: usize,
    client: &Client,
    service: &Service,
    sel: &Selection,
    vs_index: &VirtualServiceIndex,
) -> String {
    let Some(vs) = vs_index.spec(i) else {
        return "it has no hosts: a delegate, which meshsim does not follow".into();
    };
    let hosts: Vec<String> = vs.hosts.iter().flatten().map(|h| h.to_lowercase()).collect();
    let bound: Vec<String> = match vs.gateways.as_deref() {
        Some(g) if !g.is_empty() => g.to_vec(),
        _ => vec!["mesh".into()],
    };
    let visible = |g: &str| vs_index.for_gateway(client.namespace, g).contains(&i);
    match client.role {
        Role::EastWest => "east-west gateways pass connections through; no route applies".into(),
        Role::Sidecar => {
            if !bound.iter().any(|g| g == "mesh") {
                return format!("bound to {} only, not to sidecars (`mesh`)", bound.join(", "));
            }
            if !visible("mesh") {
                return format!("not exported to namespace `{}`", client.namespace);
            }
            if !hosts.iter().any(|h| subset_of(service.host, h)) {
                return format!("its hosts {} do not cover the service", hosts.join(", "));
            }
            match &sel.route {
                Some(rc) => format!("{} takes the service's requests first", resources[rc.resource].id()),
                None => "no route of it applies to this proxy (its matches name other sources)".into(),
            }
        }
        Role::Gateway { .. } => {
            let served: Vec<&String> = bound.iter().filter(|g| sel.gateways.contains(g)).collect();
            if served.is_empty() {
                return format!(
                    "bound to {}, not to a Gateway this proxy serves ({})",
                    bound.join(", "),
                    if sel.gateways.is_empty() { "none".to_string() } else { sel.gateways.join(", ") }
                );
            }
            if !served.iter().any(|g| visible(g)) {
                return format!("not exported to namespace `{}`", client.namespace);
            }
            if !vs.http.iter().flatten().any(|rt| has_destination(rt, service.host)) {
                return format!("no route of it leads to {}", service.host);
            }
            match &sel.route {
                Some(rc) => format!("{} routes to the service first", resources[rc.resource].id()),
                None => "its Gateway's hosts do not include its hosts, or its routes name other sources".into(),
            }
        }
    }
}

#[cfg(test)]
mod tests;
