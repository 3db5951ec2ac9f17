//! What `explain` and the lints say about the Istio resources: per proxy, which applied and why
//! the others did not (from Istio's selection, [`crate::istio::select`]); what the manifests
//! held that meshsim skipped; and lints for what it does not model.

use crate::istio::host::{matches, resolve_short_name, subset_of};
use crate::istio::select::{ResourceSpec, Selection};
use crate::scenario::Scenario;

use super::Lint;

/// One resource as a proxy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNote {
    /// `Kind namespace/name`.
    pub id: String,
    /// Where it was read.
    pub source: String,
    /// It (or part of it) is what the proxy uses.
    pub applied: bool,
    /// Why, or why not.
    pub why: String,
}

/// The notes worth showing for one selection: every resource that applied or that concerns the
/// service (and every DestinationRule when none applied, so the reader sees why), then one line
/// counting the rest (resources for other hosts).
pub fn notes(s: &Scenario, sel: &Selection) -> (Vec<ResourceNote>, usize) {
    let mut out = Vec::new();
    let mut other = 0;
    let no_rule = sel.destination_rule.is_none();
    for n in &sel.notes {
        let r = &s.policy.resources[n.resource];
        let rule_missing = no_rule && matches!(r.spec, ResourceSpec::DestinationRule(_));
        if !n.applied && !rule_missing && !concerns_service(s, &r.spec, &r.namespace) {
            other += 1;
            continue;
        }
        out.push(ResourceNote { id: r.id(), source: r.source.clone(), applied: n.applied, why: n.why.clone() });
    }
    (out, other)
}

/// Whether a resource could concern the simulated service: a DestinationRule whose host covers
/// it, a VirtualService that routes to it or whose hosts cover it, any Gateway.
fn concerns_service(s: &Scenario, spec: &ResourceSpec, namespace: &str) -> bool {
    let svc = &s.service;
    match spec {
        ResourceSpec::DestinationRule(d) => subset_of(&svc.host, &resolve_short_name(&d.host, namespace, &svc.domain)),
        ResourceSpec::VirtualService(v) => {
            v.hosts.iter().flatten().any(|h| subset_of(&svc.host, &resolve_short_name(h, namespace, &svc.domain)))
                || v.http
                    .iter()
                    .flatten()
                    .flat_map(|r| r.route.iter().flatten())
                    .any(|d| resolve_short_name(&d.destination.host, namespace, &svc.domain) == svc.host)
        }
        ResourceSpec::Gateway(_) => true,
    }
}

/// One line per manifest file that held kinds meshsim skipped: `skipped in FILE: 12 ConfigMap,
/// 3 EnvoyFilter`.
pub fn manifest_summary(s: &Scenario) -> Vec<String> {
    s.policy
        .skipped
        .iter()
        .map(|(file, kinds)| {
            let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            format!("skipped in {file}: {}", list.join(", "))
        })
        .collect()
}

/// Why each DestinationRule of the scenario did not apply to a proxy with `selection` (the first
/// four, `Kind namespace/name: why`, joined by `; `), as the resources panel says it.
fn rules_not_applied(s: &Scenario, selection: &Selection) -> String {
    let why: Vec<String> = selection
        .notes
        .iter()
        .filter(|n| matches!(s.policy.resources[n.resource].spec, ResourceSpec::DestinationRule(_)))
        .take(4)
        .map(|n| format!("{}: {}", s.policy.resources[n.resource].id(), n.why))
        .collect();
    why.join("; ")
}

/// Why no DestinationRule applies to a proxy with `selection`, for the settings in force (`no
/// DestinationRule applies (DestinationRule prod/x: its host ...)`); `None` when one does.
pub fn no_rule_reason(s: &Scenario, h: usize, selection: &Selection) -> Option<String> {
    if selection.destination_rule.is_some() {
        return None;
    }
    let why = rules_not_applied(s, selection);
    Some(if why.is_empty() {
        format!("the scenario has no DestinationRule for {}", s.host_name(h))
    } else {
        format!("no DestinationRule applies ({why})")
    })
}

/// Why a route's `headers` (request `set`/`add`/`remove`, response too) are linted, not modelled.
/// Envoy applies a route's header changes to the request it forwards, after the route (and its
/// weighted cluster) is chosen, so they never change which route the same proxy takes; they could
/// matter only to a later hop's routing (a gateway's VirtualService setting a header that a
/// sidecar's routes match). meshsim has no later hop: every client proxy, gateway or sidecar,
/// sends straight to the service's pods, so there is no second route table the header could
/// reach. What the header means to the application is not simulated either.
const HEADERS: &str = "header manipulation: applied after the route is chosen, and meshsim has no later hop whose \
                       routes could match the header (clients send straight to the service's pods)";

/// The lints about resources: what each proxy's selection simplifies, a service no
/// DestinationRule applies to, and skipped resources that change the simulated traffic.
pub fn resource_lints(s: &Scenario) -> Vec<Lint> {
    let mut out: Vec<Lint> = Vec::new();
    // What the selection simplifies, once per warning with the groups it concerns.
    let mut warnings: Vec<(String, Vec<&str>)> = Vec::new();
    for g in &s.proxy_groups {
        for w in &g.selection.warnings {
            match warnings.iter_mut().find(|(x, _)| x == w) {
                Some((_, groups)) => groups.push(&g.name),
                None => warnings.push((w.clone(), vec![&g.name])),
            }
        }
    }
    for (w, groups) in warnings {
        out.push(Lint {
            code: "route-simplified",
            reason: format!("proxies {}: {w}", groups.join(", ")),
            fix: "check that the simulated requests stand for the traffic you care about (`meshsim explain --proxy \
                  NAME` shows the route and why); weighted splits and request matching are not modelled yet"
                .into(),
        });
    }
    // A route table naming two ports of the service: Istio sends each route to its port's
    // cluster; meshsim builds the clusters of one port per proxy (`model::build::group_port`).
    for g in &s.proxy_groups {
        let mut ports: Vec<u32> = Vec::new();
        let dests = g.selection.route.iter().flat_map(|c| &c.entries).flat_map(|e| e.route.route.iter().flatten());
        for d in dests.filter(|d| d.destination.host.eq_ignore_ascii_case(&s.service.host)) {
            if let Some(p) = d.destination.port.as_ref().and_then(|p| p.number)
                && !ports.contains(&p)
            {
                ports.push(p);
            }
        }
        if ports.len() > 1 {
            let list: Vec<String> = ports.iter().map(u32::to_string).collect();
            out.push(Lint {
                code: "route-port-simplified",
                reason: format!(
                    "proxies {}: the routes name ports {} of {}; Istio sends each to that port's cluster, meshsim \
                     builds one port's clusters per proxy and sends every route to port {} \
                     (outbound|{}|SUBSET|HOST, with that port's portLevelSettings)",
                    g.name,
                    list.join(", "),
                    s.service.host,
                    ports[0],
                    ports[0]
                ),
                fix: "simulate one port per proxy group: give each port's traffic its own group and route".into(),
            });
        }
    }
    // DestinationRules that exist but apply to no proxy.
    let has_dr = s.policy.resources.iter().any(|r| matches!(r.spec, ResourceSpec::DestinationRule(_)));
    let without: Vec<&crate::scenario::ProxyGroupSpec> =
        s.proxy_groups.iter().filter(|g| g.selection.destination_rule.is_none()).collect();
    if has_dr && !without.is_empty() {
        let why = rules_not_applied(s, &without[0].selection);
        out.push(Lint {
            code: "no-destination-rule",
            reason: format!(
                "no DestinationRule applies to {} for proxies {}, so they use Istio's defaults (no outlier detection, \
                 hence no locality failover); {}",
                s.service.host,
                without.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", "),
                why
            ),
            fix: "check the rule's host, namespace and exportTo (`meshsim explain` lists why each rule did not apply)"
                .into(),
        });
    }
    // Fields that are read (so real manifests load) but not simulated, in resources that apply
    // to some proxy: named, so that none is ignored silently.
    for (i, r) in s.policy.resources.iter().enumerate() {
        let applied = s.proxy_groups.iter().any(|g| g.selection.notes.iter().any(|n| n.resource == i && n.applied));
        let fields = unsimulated_fields(&r.spec);
        if !applied || fields.is_empty() {
            continue;
        }
        let list: Vec<String> = fields.iter().map(|(path, effect)| format!("`{path}` ({effect})")).collect();
        out.push(Lint {
            code: "field-not-simulated",
            reason: format!(
                "{} sets {}; meshsim reads these fields but simulates as if they were absent",
                r.id(),
                list.join(", ")
            ),
            fix: "check that they leave the simulated traffic alone; where one matters (a mirror to this service, a \
                  direct response), model its effect by hand"
                .into(),
        });
    }
    // Skipped resources of kinds that change traffic, where they concern the simulated traffic.
    let mut namespaces: Vec<&str> = vec![s.service.namespace.as_str(), s.policy.root_namespace.as_str()];
    namespaces.extend(s.proxy_groups.iter().map(|g| g.namespace.as_str()));
    namespaces.extend(s.east_west_gateways.iter().map(|g| g.namespace.as_str()));
    for u in &s.policy.unmodelled {
        let by_host =
            u.hosts.iter().any(|h| matches(&s.service.host, &resolve_short_name(h, &u.namespace, &s.service.domain)));
        let by_namespace = u.namespace.is_empty() || namespaces.contains(&u.namespace.as_str());
        if !(by_host || by_namespace) {
            continue;
        }
        out.push(Lint {
            code: "not-modelled",
            reason: format!(
                "{} {}{} ({}) {}; meshsim does not model it and simulates as if it were absent",
                u.kind,
                if u.namespace.is_empty() { String::new() } else { format!("{}/", u.namespace) },
                u.name,
                u.source,
                if u.effect.is_empty() { "changes traffic" } else { &u.effect },
            ),
            fix: "check that it leaves this service's traffic alone, or model its effect by hand (a [[faults]] entry, \
                  an [envoy_outlier] field)"
                .into(),
        });
    }
    out
}

/// The fields of a resource that meshsim accepts (real manifests carry them) but does not
/// simulate, each with its path in the spec and what it would change. Kept beside the manifest
/// structs' `Opaque` fields (`istio::manifest`): a field added there as opaque belongs here.
pub fn unsimulated_fields(spec: &ResourceSpec) -> Vec<(String, &'static str)> {
    use crate::istio::manifest::TrafficPolicy;
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let policy = |at: &str, tp: &TrafficPolicy, out: &mut Vec<(String, &'static str)>| {
        if tp.tls.is_some() {
            out.push((format!("{at}tls"), "TLS to the upstream: no handshake cost or TLS failure is simulated"));
        }
        if tp.tunnel.is_some() {
            out.push((format!("{at}tunnel"), "tunnelling through a proxy"));
        }
        if tp.proxy_protocol.is_some() {
            out.push((format!("{at}proxyProtocol"), "the PROXY protocol header"));
        }
        if tp.connection_pool.as_ref().and_then(|c| c.tcp.as_ref()).is_some_and(|t| t.tcp_keepalive.is_some()) {
            out.push((format!("{at}connectionPool.tcp.tcpKeepalive"), "TCP keepalive probes"));
        }
        if tp.outlier_detection.as_ref().is_some_and(|o| o.outlier_detection_http_error_codes.is_some()) {
            out.push((
                format!("{at}outlierDetection.outlierDetectionHttpErrorCodes"),
                "which status codes count as errors: meshsim counts 5xx",
            ));
        }
        for (j, p) in tp.port_level_settings.iter().flatten().enumerate() {
            if p.tls.is_some() {
                out.push((format!("{at}portLevelSettings[{j}].tls"), "TLS to the upstream on that port"));
            }
            if p.connection_pool.as_ref().and_then(|c| c.tcp.as_ref()).is_some_and(|t| t.tcp_keepalive.is_some()) {
                out.push((
                    format!("{at}portLevelSettings[{j}].connectionPool.tcp.tcpKeepalive"),
                    "TCP keepalive probes",
                ));
            }
        }
    };
    match spec {
        ResourceSpec::DestinationRule(dr) => {
            if let Some(tp) = &dr.traffic_policy {
                policy("trafficPolicy.", tp, &mut out);
            }
            for sub in dr.subsets.iter().flatten() {
                if let Some(tp) = &sub.traffic_policy {
                    policy(&format!("subsets[{}].trafficPolicy.", sub.name), tp, &mut out);
                }
            }
        }
        ResourceSpec::VirtualService(vs) => {
            if vs.tls.is_some() {
                out.push(("tls".into(), "TLS routes: meshsim simulates HTTP traffic only"));
            }
            if vs.tcp.is_some() {
                out.push(("tcp".into(), "TCP routes: meshsim simulates HTTP traffic only"));
            }
            for (i, h) in vs.http.iter().flatten().enumerate() {
                let fields: [(bool, &str, &'static str); 8] = [
                    (h.redirect.is_some(), "redirect", "the proxy answers a redirect itself"),
                    (h.direct_response.is_some(), "directResponse", "the proxy answers itself"),
                    (h.rewrite.is_some(), "rewrite", "path and authority rewriting"),
                    (h.headers.is_some(), "headers", HEADERS),
                    (h.mirror.is_some(), "mirror", "copies of requests to another destination"),
                    (h.mirror_percentage.is_some(), "mirrorPercentage", "the share of requests mirrored"),
                    (h.mirrors.is_some(), "mirrors", "copies of requests to other destinations"),
                    (h.cors_policy.is_some(), "corsPolicy", "CORS preflight answers"),
                ];
                for (set, name, effect) in fields {
                    if set {
                        out.push((format!("http[{i}].{name}"), effect));
                    }
                }
                for (j, d) in h.route.iter().flatten().enumerate() {
                    if d.headers.is_some() {
                        out.push((format!("http[{i}].route[{j}].headers"), HEADERS));
                    }
                }
            }
        }
        ResourceSpec::Gateway(g) => {
            for (i, srv) in g.servers.iter().flatten().enumerate() {
                if srv.tls.is_some() {
                    out.push((format!("servers[{i}].tls"), "TLS termination at the gateway"));
                }
            }
        }
    }
    out
}
