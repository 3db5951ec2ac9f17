//! `meshsim import`: a runnable scenario built from one `kubectl get -o yaml` export per cluster.
//!
//! What is read, per cluster export (any mix of documents, `kind: List` and typed lists, see
//! [`crate::kube`]):
//! * **Nodes**: the locality of the pods they run, from `topology.kubernetes.io/region` and
//!   `topology.kubernetes.io/zone` (or the older `failure-domain.beta.kubernetes.io/*`) and
//!   `topology.istio.io/subzone`. A pod's `istio-locality` label (`region.zone.subzone`)
//!   overrides its node, as Istio's kube controller does (`pilot/pkg/serviceregistry/kube/
//!   controller/pod.go`, `getPodLocality`).
//! * **Namespaces**: the cluster's network, from the `topology.istio.io/network` label of the
//!   system namespace `istio-system` (Istio's `network` of the cluster); a gateway pod's own
//!   label of that name counts when the namespace has none. No label anywhere: one flat network.
//! * **Services** and **EndpointSlices**: the service named by `--service` (its FQDN
//!   `name.namespace.svc.cluster.local`, or `name.namespace`); its *ready* endpoints (the
//!   EndpointSlice `conditions.ready`, unset meaning ready; terminating ones are left out), by
//!   locality: one `[[service.deployments]]` entry per locality. Without an EndpointSlice, the
//!   ready pods the Service's `selector` matches. Every other host a VirtualService for the
//!   service routes to (a blue/green Service, another service) whose Service an export holds
//!   becomes a `[[services]]` table, its ready endpoints read the same way (and its pods are not
//!   clients); a host no export holds is named in a note.
//! * **Pods**: ingress gateways (the pods a Gateway's `selector` matches, when a VirtualService
//!   bound to that Gateway routes to the service) and sidecar clients (ready pods with an
//!   `istio-proxy` container that are neither the service's pods nor gateways) become
//!   `[[proxies]]`, one group per workload (the pod's ReplicaSet without its hash, else its `app`
//!   label) and locality, with the ready pods as replicas. East-west gateways (`istio:
//!   eastwestgateway` pods, or pods of a Gateway on port 15443) become `[[east_west_gateways]]`
//!   when the clusters are on more than one network.
//! * **The Istio resources** are not copied: each export is named in `policy.manifests` with the
//!   cluster whose istiod reads it, so `meshsim run` reads them as they are.
//!
//! What is made up, and said so in the file's comments: one-way latencies from [`latency_for`]'s
//! table, the client request rates, a fault timeline (the first region's pods answer 503 from
//! 30 s to 90 s) and an `[[expect]]` skeleton for it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::istio::manifest::Manifest;
use crate::kube::objects::{Endpoint, PodSpec, PodStatus, SERVICE_NAME_LABEL, ServiceSpec, part};
use crate::kube::{Object, ReadError};

/// The first line of every scenario `meshsim import` writes: `--out` overwrites only a file that
/// starts with it.
pub const MARKER: &str = "# Written by `meshsim import`";

/// The labels of a node's locality, in Istio's order of preference.
const REGION_LABELS: [&str; 2] = ["topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"];
const ZONE_LABELS: [&str; 2] = ["topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"];
const SUBZONE_LABEL: &str = "topology.istio.io/subzone";
const NETWORK_LABEL: &str = "topology.istio.io/network";
const LOCALITY_LABEL: &str = "istio-locality";
/// Pod labels that name one ReplicaSet or revision, not the workload: left out of proxy labels.
const NOISY_LABELS: [&str; 3] = ["pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name"];

/// One `[[service.deployments]]` (or `[[services.deployments]]`) entry: its `[[clusters]]`
/// entry, its replicas and where they were found.
type Deployment = (usize, u32, String);

/// One `--cluster NAME=EXPORT.yaml`.
#[derive(Debug, Clone)]
pub struct ExportArg {
    /// The cluster's name (and Istio cluster ID).
    pub name: String,
    /// The export file.
    pub path: PathBuf,
    /// How the scenario names the file in `policy.manifests` (relative to the scenario's folder).
    pub reference: String,
}

/// A locality as Istio writes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Loc {
    region: String,
    zone: String,
    sub_zone: String,
}

/// A pod, as import uses it.
#[derive(Debug, Clone)]
struct Pod {
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
    node: String,
    ready: bool,
    sidecar: bool,
    workload: String,
}

/// What one cluster's export holds that import uses.
#[derive(Debug, Default)]
struct Export {
    file: String,
    nodes: BTreeMap<String, Object>,
    namespaces: BTreeMap<String, Object>,
    pods: Vec<Pod>,
    services: Vec<Object>,
    slices: Vec<Object>,
    gateways: Vec<(String, String, BTreeMap<String, String>, bool)>, // namespace, name, selector, east-west
    virtual_services: Vec<(String, crate::istio::manifest::VirtualServiceSpec)>,
    destination_rules: usize,
    skipped: BTreeMap<String, u64>,
}

/// One `[[clusters]]` entry: a cluster's locality.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    cluster: String,
    loc: Loc,
    network: String,
    from: String,
}

/// The scenario import writes, and what it found.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The scenario file's text.
    pub text: String,
    /// One line per cluster: what was found.
    pub summary: Vec<String>,
}

fn read_export(arg: &ExportArg) -> Result<Export, String> {
    let label = arg.path.display().to_string();
    let text = crate::input::read_text(&arg.path, crate::input::EXPORT_CAP, "a cluster export (YAML)")
        .map_err(|e| format!("--cluster {}={label}: {e}", arg.name))?;
    let mut ex = Export { file: label.clone(), ..Default::default() };
    let mut objects = 0usize;
    crate::kube::read_objects(&text, &label, |obj| -> Result<(), ReadError> {
        objects += 1;
        let core = obj.group().is_empty();
        match (core, obj.kind.as_str()) {
            (true, "Node") => {
                ex.nodes.insert(obj.meta.name.clone(), obj);
            }
            (true, "Namespace") => {
                ex.namespaces.insert(obj.meta.name.clone(), obj);
            }
            (true, "Pod") => {
                let spec: PodSpec = part(&obj, "spec")?;
                let status: PodStatus = part(&obj, "status")?;
                let sidecar = spec.containers.iter().any(|c| c.name == "istio-proxy")
                    || obj.meta.annotations.contains_key("sidecar.istio.io/status");
                let workload = workload_of(&obj);
                ex.pods.push(Pod {
                    name: obj.meta.name.clone(),
                    namespace: obj.meta.namespace.clone(),
                    labels: obj.meta.labels.clone(),
                    node: spec.node_name,
                    ready: status.ready(),
                    sidecar,
                    workload,
                });
            }
            (true, "Service") => ex.services.push(obj),
            (false, "EndpointSlice") if obj.group() == "discovery.k8s.io" => ex.slices.push(obj),
            _ => {
                let modelled = ["DestinationRule", "VirtualService", "Gateway"];
                if obj.group() != "networking.istio.io" || !modelled.contains(&obj.kind.as_str()) {
                    *ex.skipped.entry(crate::kube::display_kind(&obj.api_version, &obj.kind)).or_insert(0) += 1;
                }
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    if objects == 0 {
        return Err(format!(
            "{label}: holds no Kubernetes object; expected what `kubectl get nodes,namespaces,pods,services,\
             endpointslices,gateways,virtualservices,destinationrules -A -o yaml` writes"
        ));
    }
    let istio =
        crate::istio::manifest::read_manifests(&text, &label).map_err(|e| format!("{label}: {}", e.detail()))?;
    for (m, _) in istio.manifests {
        let meta = m.metadata().clone();
        let ns = meta.namespace.unwrap_or_else(|| "default".into());
        let name = meta.name.unwrap_or_default();
        match m {
            Manifest::Gateway(g) => {
                let selector = g.spec.selector.clone().unwrap_or_default();
                let east_west = g.spec.servers.iter().flatten().any(|s| s.port.number == 15443);
                ex.gateways.push((ns, name, selector, east_west));
            }
            Manifest::VirtualService(v) => ex.virtual_services.push((ns, v.spec)),
            Manifest::DestinationRule(_) => ex.destination_rules += 1,
        }
    }
    Ok(ex)
}

/// The workload a pod belongs to: its ReplicaSet's name without the pod-template hash (the
/// Deployment's name), another owner's name, else its `app` label, else its own name.
fn workload_of(obj: &Object) -> String {
    if let Some(o) = obj.meta.owner_references.first() {
        if o.kind == "ReplicaSet"
            && let Some((base, hash)) = o.name.rsplit_once('-')
            && obj.meta.labels.get("pod-template-hash").is_none_or(|h| h == hash)
        {
            return base.to_string();
        }
        return o.name.clone();
    }
    obj.meta.labels.get("app").cloned().unwrap_or_else(|| obj.meta.name.clone())
}

fn label<'a>(o: &'a Object, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| o.meta.labels.get(*k)).map(String::as_str).filter(|s| !s.is_empty())
}

/// Where a pod runs: its `istio-locality` label, else its node's labels. Errors name the node
/// and the label missing. `zone_hint` (an EndpointSlice's `zone`) fills a missing zone.
fn locality_of(
    ex: &Export,
    pod_labels: Option<&BTreeMap<String, String>>,
    node: &str,
    zone_hint: Option<&str>,
    who: &str,
) -> Result<(Loc, String), String> {
    if let Some(l) = pod_labels.and_then(|l| l.get(LOCALITY_LABEL)) {
        let mut parts = l.splitn(3, '.');
        let region = parts.next().unwrap_or_default().to_string();
        if !region.is_empty() {
            let loc = Loc {
                region,
                zone: parts.next().unwrap_or_default().into(),
                sub_zone: parts.next().unwrap_or_default().into(),
            };
            return Ok((loc, format!("{who}'s label {LOCALITY_LABEL}")));
        }
    }
    let Some(n) = ex.nodes.get(node) else {
        // No node: the EndpointSlice's zone, with the region of a node in that zone.
        if let Some(z) = zone_hint
            && let Some(n) = ex.nodes.values().find(|n| label(n, &ZONE_LABELS) == Some(z))
            && let Some(r) = label(n, &REGION_LABELS)
        {
            let loc = Loc { region: r.into(), zone: z.into(), sub_zone: String::new() };
            return Ok((loc, format!("the EndpointSlice zone of {who}, region of Node {}", n.meta.name)));
        }
        return Err(format!(
            "{}: {who}: runs on node `{node}`, which the export does not hold, and has no {LOCALITY_LABEL} label: \
             add the Nodes to the export (`kubectl get nodes -o yaml`)",
            ex.file
        ));
    };
    let Some(region) = label(n, &REGION_LABELS) else {
        return Err(format!(
            "{}: {}: Node {}: metadata.labels: no topology.kubernetes.io/region label, so Istio gives {who} no locality \
             and meshsim cannot place it; label the node, or give the pod an {LOCALITY_LABEL} label (region.zone.subzone)",
            ex.file, n.origin, n.meta.name
        ));
    };
    let zone = label(n, &ZONE_LABELS).or(zone_hint).unwrap_or_default();
    let sub_zone = label(n, &[SUBZONE_LABEL]).unwrap_or_default();
    let mut from = format!("Node {} labels", n.meta.name);
    if zone.is_empty() {
        from.push_str(" (no zone label: zone left empty, as Istio does)");
    }
    Ok((Loc { region: region.into(), zone: zone.into(), sub_zone: sub_zone.into() }, from))
}

/// The network of a cluster: the `istio-system` namespace's label, else an Istio gateway pod's.
fn network_of(ex: &Export) -> Option<(String, String)> {
    if let Some(n) = ex.namespaces.get("istio-system").and_then(|n| label(n, &[NETWORK_LABEL])) {
        return Some((n.to_string(), "label topology.istio.io/network of Namespace istio-system".into()));
    }
    ex.pods.iter().filter(|p| p.namespace == "istio-system").find_map(|p| {
        p.labels
            .get(NETWORK_LABEL)
            .map(|n| (n.clone(), format!("label {NETWORK_LABEL} of Pod istio-system/{}", p.name)))
    })
}

/// The one-way latency between two regions, from a table of typical cloud figures (half the
/// round trips public cloud latency dashboards show, rounded): same continent 10 ms (North
/// America 20 ms, Asia-Pacific 35 ms), Europe–North America 50 ms, North America–Asia-Pacific
/// 75 ms, Europe–Asia-Pacific 110 ms, South America–North America 70 ms, South America–Europe
/// 100 ms, South America–Asia-Pacific 150 ms. Regions are placed on a continent by their name
/// (`europe-west1`, `eu-west-1`, `westeurope`; `us-central1`, `us-east-1`, `eastus`, `ca-*`,
/// `northamerica-*`; `asia-*`, `ap-*`, `australia*`, `japan*`; `southamerica-*`, `sa-*`).
/// Unknown: `None` (the `cross_region` default, 50 ms).
pub fn latency_for(a: &str, b: &str) -> Option<u32> {
    fn continent(r: &str) -> Option<u8> {
        let r = r.to_lowercase();
        if r.starts_with("europe") || r.starts_with("eu-") || r.contains("europe") || r.starts_with("uk") {
            Some(0)
        } else if r.starts_with("us") || r.starts_with("northamerica") || r.starts_with("ca-") || r.contains("us") {
            Some(1)
        } else if r.starts_with("asia") || r.starts_with("ap-") || r.starts_with("australia") || r.starts_with("japan")
        {
            Some(2)
        } else if r.starts_with("southamerica") || r.starts_with("sa-") || r.starts_with("brazil") {
            Some(3)
        } else {
            None
        }
    }
    let (x, y) = (continent(a)?, continent(b)?);
    let (x, y) = (x.min(y), x.max(y));
    Some(match (x, y) {
        (0, 0) => 10,
        (1, 1) => 20,
        (2, 2) => 35,
        (3, 3) => 20,
        (0, 1) => 50,
        (1, 2) => 75,
        (0, 2) => 110,
        (1, 3) => 70,
        (0, 3) => 100,
        _ => 150,
    })
}

/// A TOML string literal.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// `path` relative to the folder `base` (both made absolute first), for `policy.manifests`.
pub fn relative_to(path: &Path, base: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (p, b) = (abs(path), abs(base));
    let pc: Vec<Component> = p.components().collect();
    let bc: Vec<Component> = b.components().collect();
    let common = pc.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    // Only the root in common (or nothing, on another drive): the absolute path says more.
    if common <= 1 {
        return p.display().to_string();
    }
    let mut out = PathBuf::new();
    for _ in common..bc.len() {
        out.push("..");
    }
    for c in &pc[common..] {
        out.push(c.as_os_str());
    }
    out.display().to_string()
}

/// A proxy group found in the exports.
struct Group {
    name: String,
    kind: &'static str,
    entry: usize,
    namespace: String,
    replicas: u32,
    labels: BTreeMap<String, String>,
    from: String,
}

/// Builds the scenario (see the module's docs).
pub fn import(args: &[ExportArg], service: &str) -> Result<Imported, String> {
    if args.is_empty() {
        return Err("give at least one --cluster NAME=EXPORT.yaml".into());
    }
    let mut seen = BTreeSet::new();
    for a in args {
        if a.name.is_empty() || !a.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err(format!("--cluster {}=...: the name must be letters, digits, '-', '_' or '.'", a.name));
        }
        if !seen.insert(a.name.clone()) {
            return Err(format!("--cluster {}: given twice", a.name));
        }
    }
    let exports: Vec<Export> = args.iter().map(read_export).collect::<Result<_, _>>()?;
    // The service.
    let host =
        if service.matches('.').count() == 1 { format!("{service}.svc.cluster.local") } else { service.to_string() };
    let (svc_name, svc_ns) = match host.split('.').collect::<Vec<_>>().as_slice() {
        [n, ns, "svc", ..] => (n.to_string(), ns.to_string()),
        _ => {
            return Err(format!(
                "--service {service}: expected a Kubernetes service host, name.namespace.svc.cluster.local (or name.namespace)"
            ));
        }
    };
    let domain = host.splitn(4, '.').nth(3).unwrap_or("cluster.local").to_string();
    let holders: Vec<usize> = (0..exports.len())
        .filter(|&i| exports[i].services.iter().any(|s| s.meta.name == svc_name && s.meta.namespace == svc_ns))
        .collect();
    if holders.is_empty() {
        let hosts: BTreeSet<String> = exports
            .iter()
            .flat_map(|e| e.services.iter().map(|s| format!("{}.{}.svc.{domain}", s.meta.name, s.meta.namespace)))
            .collect();
        return Err(format!(
            "--service {service}: no export holds Service {svc_ns}/{svc_name} ({}); hosts seen: {}",
            args.iter().map(|a| a.path.display().to_string()).collect::<Vec<_>>().join(", "),
            if hosts.is_empty() {
                "none (export the Services too)".into()
            } else {
                hosts.into_iter().collect::<Vec<_>>().join(", ")
            }
        ));
    }
    // Other hosts the VirtualServices for the service route to (a blue/green Service, another
    // service): those whose Service some export holds become `[[services]]`; the others are
    // named in a note (a request class routed to them is refused when the scenario runs).
    let mut other_hosts: Vec<(String, String, String)> = Vec::new(); // host, name, namespace
    for ex in &exports {
        for (vs_ns, vs) in &ex.virtual_services {
            let resolve = |h: &str| crate::istio::host::resolve_short_name(h, vs_ns, &domain);
            let dests: Vec<String> = vs
                .http
                .iter()
                .flatten()
                .flat_map(|r| r.route.iter().flatten())
                .map(|d| resolve(&d.destination.host))
                .collect();
            let for_service = vs.hosts.iter().flatten().any(|h| resolve(h) == host) || dests.contains(&host);
            if !for_service {
                continue;
            }
            for d in dests {
                if d == host || other_hosts.iter().any(|o| o.0 == d) {
                    continue;
                }
                if let [n, ns, "svc", ..] = d.split('.').collect::<Vec<_>>().as_slice() {
                    other_hosts.push((d.clone(), n.to_string(), ns.to_string()));
                }
            }
        }
    }
    let mut unheld: Vec<String> = Vec::new();
    other_hosts.retain(|(h, n, ns)| {
        let held = exports.iter().any(|e| e.services.iter().any(|s| s.meta.name == *n && s.meta.namespace == *ns));
        if !held {
            unheld.push(h.clone());
        }
        held
    });
    other_hosts.truncate(crate::scenario::MAX_OTHER_SERVICES);
    let mut other_deployments: Vec<Vec<Deployment>> = vec![Vec::new(); other_hosts.len()];
    let mut summary = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut deployments: Vec<(usize, u32, String)> = Vec::new(); // entry, replicas, where from
    let mut groups: Vec<Group> = Vec::new();
    let mut east_west: Vec<Group> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut traffic_distribution: Option<(String, String)> = None;
    let networks: Vec<Option<(String, String)>> = exports.iter().map(network_of).collect();
    let multi_network = networks.iter().map(|n| n.as_ref().map(|x| x.0.as_str())).collect::<BTreeSet<_>>().len() > 1;
    for (ci, (arg, ex)) in args.iter().zip(&exports).enumerate() {
        let network = networks[ci].clone().map(|n| n.0).unwrap_or_else(|| "network1".into());
        let network_from = networks[ci]
            .clone()
            .map(|n| n.1)
            .unwrap_or_else(|| "no topology.istio.io/network label: one flat network".into());
        let entry_for = |loc: &Loc, from: &str, entries: &mut Vec<Entry>| -> usize {
            if let Some(i) = entries.iter().position(|e| e.cluster == arg.name && e.loc == *loc) {
                return i;
            }
            entries.push(Entry {
                name: arg.name.clone(),
                cluster: arg.name.clone(),
                loc: loc.clone(),
                network: network.clone(),
                from: format!("{from}; network: {network_from}"),
            });
            entries.len() - 1
        };
        // The service's ready endpoints, by locality.
        let svc = ex.services.iter().find(|s| s.meta.name == svc_name && s.meta.namespace == svc_ns);
        if let Some(s) = svc {
            let spec: ServiceSpec = part(s, "spec").map_err(|e| e.to_string())?;
            if let Some(td) = spec.traffic_distribution.clone() {
                traffic_distribution = Some((td, format!("{}: {}", s.origin, s.id())));
            }
        }
        let (by_loc, service_pods, unready) = service_endpoints(ex, &svc_name, &svc_ns)?;
        // The other hosts' ready endpoints (their pods are no clients either).
        let mut other_pods: BTreeSet<String> = BTreeSet::new();
        for (k, (other, name, ns)) in other_hosts.iter().enumerate() {
            let (by_loc, pods, _) = service_endpoints(ex, name, ns)?;
            other_pods.extend(pods.into_iter().map(|p| format!("{ns}/{p}")));
            for (loc, (n, from)) in &by_loc {
                let entry = entry_for(loc, from, &mut entries);
                other_deployments[k].push((
                    entry,
                    *n,
                    format!("{n} ready endpoints of {other} in {} ({from})", arg.name),
                ));
            }
        }
        let ready: u32 = by_loc.values().map(|v| v.0).sum();
        for (loc, (n, from)) in &by_loc {
            let entry = entry_for(loc, from, &mut entries);
            deployments.push((entry, *n, format!("{n} ready endpoints of {} in {} ({from})", host, arg.name)));
        }
        if unready > 0 {
            notes.push(format!(
                "{}: {unready} endpoints of {host} not ready (left out: they serve no traffic at t = 0)",
                arg.name
            ));
        }
        // Gateways bound by a VirtualService that routes to the service.
        let routes_here =
            |gw_ns: &str, gw_name: &str| {
                ex.virtual_services.iter().any(|(vs_ns, vs)| {
                    let binds =
                        vs.gateways.iter().flatten().any(|g| {
                            crate::istio::host::resolve_gateway_name(g, vs_ns) == format!("{gw_ns}/{gw_name}")
                        });
                    let to =
                        vs.http.iter().flatten().flat_map(|r| r.route.iter().flatten()).any(|d| {
                            crate::istio::host::resolve_short_name(&d.destination.host, vs_ns, &domain) == host
                        });
                    binds && to
                })
            };
        let mut gateway_pods: BTreeSet<String> = BTreeSet::new();
        let mut found: BTreeMap<(usize, String, String, bool), Group> = BTreeMap::new();
        for (gw_ns, gw_name, selector, ew_port) in &ex.gateways {
            if selector.is_empty() {
                continue;
            }
            for p in ex.pods.iter().filter(|p| crate::istio::select::labels_subset(selector, &p.labels)) {
                gateway_pods.insert(format!("{}/{}", p.namespace, p.name));
                let ew = *ew_port || p.labels.get("istio").is_some_and(|v| v == "eastwestgateway");
                if !ew && !routes_here(gw_ns, gw_name) {
                    continue;
                }
                if !p.ready {
                    continue;
                }
                let (loc, from) =
                    locality_of(ex, Some(&p.labels), &p.node, None, &format!("Pod {}/{}", p.namespace, p.name))?;
                let entry = entry_for(&loc, &from, &mut entries);
                let key = (entry, p.namespace.clone(), p.workload.clone(), ew);
                let g = found.entry(key).or_insert_with(|| Group {
                    name: p.workload.clone(),
                    kind: "gateway",
                    entry,
                    namespace: p.namespace.clone(),
                    replicas: 0,
                    labels: p
                        .labels
                        .iter()
                        .filter(|(k, _)| !NOISY_LABELS.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    from: format!("ready pods of {} selected by Gateway {gw_ns}/{gw_name}", p.workload),
                });
                if !g.from.contains(&format!("Gateway {gw_ns}/{gw_name}")) {
                    g.from.push_str(&format!(", Gateway {gw_ns}/{gw_name}"));
                }
                g.replicas += 1;
            }
        }
        // East-west gateway pods no Gateway selects (the `istio: eastwestgateway` sample).
        for p in ex.pods.iter().filter(|p| p.ready && p.labels.get("istio").is_some_and(|v| v == "eastwestgateway")) {
            if gateway_pods.contains(&format!("{}/{}", p.namespace, p.name)) {
                continue;
            }
            gateway_pods.insert(format!("{}/{}", p.namespace, p.name));
            let (loc, from) =
                locality_of(ex, Some(&p.labels), &p.node, None, &format!("Pod {}/{}", p.namespace, p.name))?;
            let entry = entry_for(&loc, &from, &mut entries);
            let key = (entry, p.namespace.clone(), p.workload.clone(), true);
            let g = found.entry(key).or_insert_with(|| Group {
                name: p.workload.clone(),
                kind: "eastwest",
                entry,
                namespace: p.namespace.clone(),
                replicas: 0,
                labels: BTreeMap::new(),
                from: format!("ready pods of {} labelled istio=eastwestgateway", p.workload),
            });
            g.replicas += 1;
        }
        let mut n_gw = 0;
        for ((_, _, _, ew), g) in found {
            if ew {
                east_west.push(Group { kind: "eastwest", ..g });
            } else {
                n_gw += g.replicas;
                groups.push(g);
            }
        }
        // Sidecar clients.
        let mut sidecars: BTreeMap<(usize, String, String), Group> = BTreeMap::new();
        for p in ex.pods.iter().filter(|p| p.sidecar && p.ready) {
            if service_pods.contains(&p.name) && p.namespace == svc_ns
                || other_pods.contains(&format!("{}/{}", p.namespace, p.name))
                || gateway_pods.contains(&format!("{}/{}", p.namespace, p.name))
                || p.namespace == "istio-system"
            {
                continue;
            }
            let (loc, from) =
                locality_of(ex, Some(&p.labels), &p.node, None, &format!("Pod {}/{}", p.namespace, p.name))?;
            let entry = entry_for(&loc, &from, &mut entries);
            let key = (entry, p.namespace.clone(), p.workload.clone());
            let g = sidecars.entry(key).or_insert_with(|| Group {
                name: p.workload.clone(),
                kind: "sidecar",
                entry,
                namespace: p.namespace.clone(),
                replicas: 0,
                labels: p
                    .labels
                    .iter()
                    .filter(|(k, _)| !NOISY_LABELS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                from: format!("ready pods of {} with an istio-proxy sidecar", p.workload),
            });
            g.replicas += 1;
        }
        let n_sc: u32 = sidecars.values().map(|g| g.replicas).sum();
        groups.extend(sidecars.into_values());
        // A cluster with nothing placed still needs an entry: its istiod reads its export.
        if !entries.iter().any(|e| e.cluster == arg.name) {
            let node = ex.nodes.values().find(|n| label(n, &REGION_LABELS).is_some()).ok_or_else(|| {
                format!(
                    "{}: no Node with a topology.kubernetes.io/region label, and no endpoint or proxy of {host}: \
                     meshsim cannot place cluster {}",
                    ex.file, arg.name
                )
            })?;
            let (loc, from) = locality_of(ex, None, &node.meta.name, None, &format!("cluster {}", arg.name))?;
            entry_for(&loc, &from, &mut entries);
        }
        let skipped: Vec<String> = ex.skipped.iter().map(|(k, n)| format!("{n} {k}")).collect();
        summary.push(format!(
            "{}: {} ready endpoints of {host}, {n_gw} ingress gateway and {n_sc} sidecar client pods, network {network}, \
             {} Istio resources{}",
            arg.name,
            ready,
            ex.gateways.len() + ex.virtual_services.len() + ex.destination_rules,
            if skipped.is_empty() { String::new() } else { format!("; skipped: {}", skipped.join(", ")) }
        ));
    }
    // Several localities in one cluster: entries named cluster-zone.
    for c in args {
        let idx: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].cluster == c.name).collect();
        if idx.len() > 1 {
            for &i in &idx {
                let l = &entries[i].loc;
                let suffix = if l.sub_zone.is_empty() {
                    if l.zone.is_empty() { l.region.clone() } else { l.zone.clone() }
                } else {
                    format!("{}-{}", l.zone, l.sub_zone)
                };
                entries[i].name = format!("{}-{suffix}", c.name);
            }
        }
    }
    if deployments.is_empty() {
        return Err(format!(
            "--service {host}: the exports hold Service {svc_ns}/{svc_name} but no ready endpoint of it (EndpointSlices \
             labelled {SERVICE_NAME_LABEL}={svc_name} in {svc_ns}, or ready pods its selector matches)"
        ));
    }
    for h in &unheld {
        notes.push(format!(
            "a VirtualService for {host} routes to {h}, whose Service no export holds: requests routed there are \
             refused when the scenario runs (export its Service and EndpointSlices to simulate it)"
        ));
    }
    let others: Vec<(String, Vec<Deployment>)> = other_hosts
        .into_iter()
        .zip(other_deployments)
        .filter_map(|((h, ..), d)| {
            if d.is_empty() {
                notes.push(format!(
                    "{h}: no ready endpoint in the exports (left out: requests routed there are refused)"
                ));
                None
            } else {
                Some((h, d))
            }
        })
        .collect();
    if groups.is_empty() {
        return Err(format!(
            "found no client proxy of {host}: no ingress gateway pod of a Gateway that a VirtualService routing to it is \
             bound to, and no ready pod with an istio-proxy sidecar; add the Pods and Istio resources to the exports"
        ));
    }
    Ok(Imported {
        text: render(
            args,
            &host,
            &entries,
            &deployments,
            &others,
            &groups,
            &east_west,
            multi_network,
            traffic_distribution,
            &notes,
            &summary,
        ),
        summary,
    })
}

/// The ready endpoints of Service `ns/name` in one export, by locality (with where each count came
/// from), the names of all its pods (ready or not) and how many endpoints are not ready: from its
/// EndpointSlices, or without any, from the ready pods its `selector` matches.
#[allow(clippy::type_complexity)]
fn service_endpoints(
    ex: &Export,
    name: &str,
    ns: &str,
) -> Result<(BTreeMap<Loc, (u32, String)>, BTreeSet<String>, u32), String> {
    let svc_name = name.to_string();
    let mut by_loc: BTreeMap<Loc, (u32, String)> = BTreeMap::new();
    let svc = ex.services.iter().find(|s| s.meta.name == name && s.meta.namespace == ns);
    let slices: Vec<&Object> = ex
        .slices
        .iter()
        .filter(|s| s.meta.namespace == ns && s.meta.labels.get(SERVICE_NAME_LABEL) == Some(&svc_name))
        .collect();
    let mut service_pods: BTreeSet<String> = BTreeSet::new();
    let mut unready = 0;
    for slice in &slices {
        let endpoints: Vec<Endpoint> = part(slice, "endpoints").map_err(|e| e.to_string())?;
        for (k, ep) in endpoints.iter().enumerate() {
            let pod = ep.target_ref.as_ref().filter(|t| t.kind == "Pod" || t.kind.is_empty()).and_then(|t| {
                ex.pods.iter().find(|p| p.name == t.name && (t.namespace.is_empty() || p.namespace == t.namespace))
            });
            if let Some(p) = pod {
                service_pods.insert(p.name.clone());
            }
            if !ep.conditions.is_ready() {
                unready += 1;
                continue;
            }
            let node = ep.node_name.clone().or_else(|| pod.map(|p| p.node.clone())).unwrap_or_default();
            let who = format!("{} endpoints[{k}]", slice.id());
            let (loc, from) = locality_of(ex, pod.map(|p| &p.labels), &node, ep.zone.as_deref(), &who)?;
            let e = by_loc.entry(loc).or_insert((0, from));
            e.0 += 1;
        }
    }
    if slices.is_empty()
        && let Some(s) = svc
    {
        let spec: ServiceSpec = part(s, "spec").map_err(|e| e.to_string())?;
        if !spec.selector.is_empty() {
            for p in ex
                .pods
                .iter()
                .filter(|p| p.namespace == ns && crate::istio::select::labels_subset(&spec.selector, &p.labels))
            {
                service_pods.insert(p.name.clone());
                if !p.ready {
                    unready += 1;
                    continue;
                }
                let (loc, from) =
                    locality_of(ex, Some(&p.labels), &p.node, None, &format!("Pod {}/{}", p.namespace, p.name))?;
                by_loc
                    .entry(loc)
                    .or_insert((0, format!("{from} (no EndpointSlice: pods by the Service's selector)")))
                    .0 += 1;
            }
        }
    }
    Ok((by_loc, service_pods, unready))
}

/// The scenario's text.
#[allow(clippy::too_many_arguments)]
fn render(
    args: &[ExportArg],
    host: &str,
    entries: &[Entry],
    deployments: &[(usize, u32, String)],
    others: &[(String, Vec<Deployment>)],
    groups: &[Group],
    east_west: &[Group],
    multi_network: bool,
    traffic_distribution: Option<(String, String)>,
    notes: &[String],
    summary: &[String],
) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "{MARKER} from the cluster exports below. Edit it freely; `meshsim import --out` overwrites");
    let _ = writeln!(w, "# only a file that starts with the line above. Every value says where it came from.");
    let _ = writeln!(w, "#");
    let cmd: Vec<String> = args.iter().map(|a| format!("--cluster {}={}", a.name, a.reference)).collect();
    let _ = writeln!(w, "#   meshsim import {} --service {host}", cmd.join(" "));
    let _ = writeln!(w, "#");
    let _ = writeln!(w, "# Found:");
    for line in summary {
        let _ = writeln!(w, "#   {line}");
    }
    for n in notes {
        let _ = writeln!(w, "#   {n}");
    }
    let _ =
        writeln!(w, "# Skipped kinds are not needed to simulate the service; `meshsim explain` lists them again, and");
    let _ = writeln!(
        w,
        "# lints name every skipped resource that changes traffic (EnvoyFilter, Sidecar, ServiceEntry, ...)."
    );
    let short = host.split('.').next().unwrap_or(host);
    let _ = writeln!(w, "\nname = {}", q(&format!("imported-{short}")));
    let _ = writeln!(
        w,
        "description = {}",
        q(&format!(
            "{host} as the exports of {} show it",
            args.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
        ))
    );
    let _ = writeln!(w, "seed = 1");
    let _ = writeln!(w, "duration = \"150s\"");
    let _ = writeln!(w, "\n[output]\nbucket = \"1s\"");
    // Clusters.
    let _ = writeln!(w, "\n# One entry per cluster and locality. Region, zone and sub-zone from the node labels");
    let _ = writeln!(
        w,
        "# (topology.kubernetes.io/region|zone, topology.istio.io/subzone) or a pod's istio-locality label."
    );
    for e in entries {
        let _ = writeln!(w, "\n[[clusters]]\n# {}", e.from);
        let _ = writeln!(w, "name = {}", q(&e.name));
        let _ = writeln!(w, "region = {}", q(&e.loc.region));
        if !e.loc.zone.is_empty() {
            let _ = writeln!(w, "zone = {}", q(&e.loc.zone));
        }
        if !e.loc.sub_zone.is_empty() {
            let _ = writeln!(w, "sub_zone = {}", q(&e.loc.sub_zone));
        }
        if multi_network || e.network != "network1" {
            let _ = writeln!(w, "network = {}", q(&e.network));
        }
        if e.name != e.cluster {
            let _ = writeln!(w, "cluster_id = {}", q(&e.cluster));
        }
    }
    // Latencies.
    let _ = writeln!(
        w,
        "\n# One-way latencies: meshsim import's default table (README, \"meshsim import\"), not measured."
    );
    let _ = writeln!(w, "# Replace them with your own figures (half the round trip between pods).");
    let _ =
        writeln!(w, "[network]\nsame_zone = \"250us\"\nsame_region = \"1ms\"\ncross_region = \"50ms\"\njitter = 0.1");
    let regions: BTreeSet<&str> = entries.iter().map(|e| e.loc.region.as_str()).collect();
    let regions: Vec<&str> = regions.into_iter().collect();
    for (i, a) in regions.iter().enumerate() {
        for b in &regions[i + 1..] {
            match latency_for(a, b) {
                Some(ms) => {
                    let _ =
                        writeln!(w, "\n[[network.overrides]]\nfrom = {}\nto = {}\nlatency = \"{ms}ms\"", q(a), q(b));
                }
                None => {
                    let _ = writeln!(w, "# {a} <-> {b}: not in the table, so cross_region applies");
                }
            }
        }
    }
    // Service.
    let _ = writeln!(w, "\n# The service. Service time, readiness delay and termination grace are meshsim's defaults:");
    let _ = writeln!(w, "# set them to what your pods do (see README, [service]).");
    let _ = writeln!(w, "[service]\nhost = {}", q(host));
    if let Some((td, from)) = &traffic_distribution {
        if matches!(td.as_str(), "PreferClose" | "PreferSameZone" | "PreferSameNode") {
            let _ = writeln!(w, "# from {from}\ntraffic_distribution = {}", q(td));
        } else {
            let _ = writeln!(w, "# {from} has trafficDistribution {td}, which meshsim does not model (left out)");
        }
    }
    for (entry, n, from) in deployments {
        let _ =
            writeln!(w, "\n[[service.deployments]]\n# {from}\ncluster = {}\nreplicas = {n}", q(&entries[*entry].name));
    }
    for (other, deployments) in others {
        let _ = writeln!(w, "\n# Another host its VirtualService routes to, with its own pods and DestinationRule.");
        let _ = writeln!(w, "[[services]]\nhost = {}", q(other));
        for (entry, n, from) in deployments {
            let _ = writeln!(
                w,
                "\n[[services.deployments]]\n# {from}\ncluster = {}\nreplicas = {n}",
                q(&entries[*entry].name)
            );
        }
    }
    // Policy.
    let _ =
        writeln!(w, "\n# The Istio resources, read from the exports as they are: each cluster's istiod reads its own");
    let _ = writeln!(w, "# export. Everything else in them (Pods, Nodes, ...) is counted and skipped.");
    let _ = writeln!(w, "[policy]\nmanifests = [");
    for a in args {
        let _ = writeln!(w, "  {{ file = {}, clusters = [{}] }},", q(&a.reference), q(&a.name));
    }
    let _ = writeln!(w, "]");
    // East-west gateways.
    if multi_network {
        let covered: BTreeSet<&str> = east_west.iter().map(|g| entries[g.entry].cluster.as_str()).collect();
        for g in east_west {
            let _ = writeln!(w, "\n[[east_west_gateways]]\n# {} in {}", g.from, entries[g.entry].cluster);
            let _ = writeln!(
                w,
                "cluster = {}\nreplicas = {}\nnamespace = {}",
                q(&entries[g.entry].name),
                g.replicas,
                q(&g.namespace)
            );
            if !g.labels.is_empty() {
                let labels: Vec<String> = g.labels.iter().map(|(k, v)| format!("{} = {}", q(k), q(v))).collect();
                let _ = writeln!(w, "labels = {{ {} }}", labels.join(", "));
            }
        }
        for a in args {
            if !covered.contains(a.name.as_str()) {
                let _ = writeln!(
                    w,
                    "# {}: no ready east-west gateway pod, so clients on other networks cannot reach its endpoints (Istio drops them)",
                    a.name
                );
            }
        }
    } else if !east_west.is_empty() {
        let _ = writeln!(
            w,
            "# East-west gateways left out: every cluster is on one network, so clients reach pods directly."
        );
    }
    // Proxies and workload.
    let names = proxy_names(groups, entries);
    let _ =
        writeln!(w, "\n# Client proxies: ingress gateways and sidecar clients, one group per workload and locality,");
    let _ = writeln!(w, "# with their ready pods as replicas. Delete the groups that do not call the service.");
    for (g, name) in groups.iter().zip(&names) {
        let _ = writeln!(w, "\n[[proxies]]\n# {}", g.from);
        let _ = writeln!(w, "name = {}\nkind = {}\ncluster = {}", q(name), q(g.kind), q(&entries[g.entry].name));
        let _ = writeln!(w, "namespace = {}\nreplicas = {}", q(&g.namespace), g.replicas);
        if !g.labels.is_empty() {
            let labels: Vec<String> = g.labels.iter().map(|(k, v)| format!("{} = {}", q(k), q(v))).collect();
            let _ = writeln!(w, "labels = {{ {} }}", labels.join(", "));
        }
    }
    let _ =
        writeln!(w, "\n# Request rates are a starting point (100 req/s per gateway replica, 20 per sidecar replica):");
    let _ = writeln!(w, "# set them to your traffic.");
    for (g, name) in groups.iter().zip(&names) {
        let per = if g.kind == "gateway" { 100 } else { 20 };
        let _ = writeln!(w, "\n[[workload]]\nproxy = {}\nrate = {}", q(name), per * g.replicas);
    }
    // Faults and expectations.
    let first = entries[deployments[0].0].loc.region.clone();
    let regions_with_pods: BTreeSet<&str> = deployments.iter().map(|d| entries[d.0].loc.region.as_str()).collect();
    let targets: Vec<&Entry> = if regions_with_pods.len() > 1 {
        deployments.iter().map(|d| &entries[d.0]).filter(|e| e.loc.region == first).collect()
    } else {
        vec![&entries[deployments[0].0]]
    };
    let what = if regions_with_pods.len() > 1 { first.clone() } else { targets[0].name.clone() };
    let _ = writeln!(
        w,
        "\n# A starting fault timeline: {what}'s pods answer 503 from 30 s to 90 s. Replace it with the failure"
    );
    let _ = writeln!(w, "# you want to rehearse (scale, refuse, blackhole, latency: see README, [[faults]]).");
    for (action, at, name) in
        [("http-error", "30s", format!("{what} fails")), ("recover", "90s", format!("{what} recovers"))]
    {
        for (i, e) in targets.iter().enumerate() {
            let _ = writeln!(w, "\n[[faults]]\nat = \"{at}\"\naction = \"{action}\"\ncluster = {}", q(&e.name));
            if action == "http-error" {
                let _ = writeln!(w, "status = 503");
            }
            if i == 0 {
                let _ = writeln!(w, "name = {}", q(&name));
            } else {
                let _ = writeln!(w, "phase = false");
            }
        }
    }
    let _ = writeln!(
        w,
        "\n# Expectations to start from (`meshsim check`): tune the bounds to what you need. Failover needs"
    );
    let _ = writeln!(
        w,
        "# outlierDetection in the DestinationRule; without it, `meshsim explain` lints why nothing moves."
    );
    let _ = writeln!(
        w,
        "\n[[expect]]\nname = {}\nkind = \"failover\"\nfault = {}\nwithin = \"10s\"",
        q(&format!("traffic leaves {what} within 10s")),
        q(&format!("{what} fails"))
    );
    let _ = writeln!(
        w,
        "\n[[expect]]\nname = {}\nkind = \"failback\"\nfault = {}\nwithin = \"50s\"",
        q(&format!("traffic returns to {what} within 50s of its recovery")),
        q(&format!("{what} recovers"))
    );
    s
}

/// Unique proxy group names: `WORKLOAD-ENTRY`, with the namespace when two would clash.
fn proxy_names(groups: &[Group], entries: &[Entry]) -> Vec<String> {
    let plain: Vec<String> = groups.iter().map(|g| format!("{}-{}", g.name, entries[g.entry].name)).collect();
    plain
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if plain.iter().filter(|m| *m == n).count() > 1 {
                format!("{}-{}-{}", groups[i].name, groups[i].namespace, entries[groups[i].entry].name)
            } else {
                n.clone()
            }
        })
        .collect()
}

/// Gives each workload whose requests (`GET /`) no route of its proxy's table matches one request
/// class that takes the first route to the service, built from that route's match
/// ([`crate::model::routes::example_request`]): an imported ingress gateway whose VirtualService
/// routes only `/checkout` to the service then sends `/checkout`, as the real traffic does. `s`
/// is the scenario `text` gives; a workload left as it is keeps its 404s (the run shows them).
pub fn route_request_classes(text: &str, s: &crate::scenario::Scenario) -> String {
    use crate::model::routes::{class_routes, example_request, tables};
    let tables = tables(s);
    let mut classes: Vec<Option<String>> = Vec::new();
    for w in &s.workload {
        let t = &tables[w.group.idx()];
        if !w.requests.is_empty() || class_routes(t, &w.requests, &s.service.host)[0].is_some() {
            classes.push(None);
            continue;
        }
        let found = t.routes.iter().enumerate().find_map(|(i, r)| {
            if !r.destinations.iter().all(|d| s.host_index(&d.host).is_some()) {
                return None;
            }
            let req = example_request(&r.matcher, &s.service.host)?;
            (t.route_for(&req) == Some(i)).then_some((r, req))
        });
        classes.push(found.map(|(r, req)| {
            let mut out = format!(
                "# Its VirtualService routes only some requests to the service: these match {} ({}).\n\
                 [[workload.requests]]\npath = {}\n",
                r.label,
                r.matcher.describe(),
                q(&req.path)
            );
            if req.method != "GET" {
                out.push_str(&format!("method = {}\n", q(&req.method)));
            }
            if req.authority != s.service.host {
                out.push_str(&format!("authority = {}\n", q(&req.authority)));
            }
            if !req.headers.is_empty() {
                let h: Vec<String> = req.headers.iter().map(|(k, v)| format!("{} = {}", q(k), q(v))).collect();
                out.push_str(&format!("headers = {{ {} }}\n", h.join(", ")));
            }
            out
        }));
    }
    if classes.iter().all(Option::is_none) {
        return text.to_string();
    }
    // Insert each class after its `[[workload]]` block (the blocks are written in order, each
    // ending at a blank line or the next table).
    let mut out = String::new();
    let mut k = 0usize;
    let mut pending: Option<String> = None;
    for line in text.lines() {
        let is_table = line.starts_with('[');
        if (is_table || line.is_empty())
            && let Some(c) = pending.take()
        {
            out.push_str(&c);
        }
        if line == "[[workload]]" {
            pending = classes.get(k).cloned().flatten();
            k += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if let Some(c) = pending {
        out.push_str(&c);
    }
    out
}
