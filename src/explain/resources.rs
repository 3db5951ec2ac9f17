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
pub fn no_rule_reason(s: &Scenario, selection: &Selection) -> Option<String> {
    if selection.destination_rule.is_some() {
        return None;
    }
    let why = rules_not_applied(s, selection);
    Some(if why.is_empty() {
        format!("the scenario has no DestinationRule for {}", s.service.host)
    } else {
        format!("no DestinationRule applies ({why})")
    })
}

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
