//! Which service a host name in an Istio resource refers to, as pilot decides it.
//!
//! Two rules, from istio/istio:
//! * `model.ResolveShortnameToFQDN` (`pilot/pkg/model/service.go`): a host without a dot (other
//!   than `*`) is a short name, completed with the resource's namespace and the cluster domain:
//!   `reviews` in namespace `prod` is `reviews.prod.svc.cluster.local`. A host with a dot is taken
//!   as written (`reviews.prod` is not completed).
//! * `host.Name.SubsetOf` (`pkg/config/host/name.go`): a service host is covered by a resource
//!   host when they are equal, or the resource host is a wildcard `*.suffix` and the service host
//!   ends with `.suffix` (`*` covers everything). This is how a DestinationRule is picked for a
//!   service (`MostSpecificHostMatch`).
//!
//! meshsim simulates one service, so today this decides whether the scenario's DestinationRule
//! applies to it at all; it is kept here, in one place, for when meshsim reads many resources.

/// The cluster domain when the service host does not show one.
const DEFAULT_DOMAIN: &str = "cluster.local";

/// `ResolveShortnameToFQDN`: completes a short name with `namespace` and `domain`.
pub fn resolve_short_name(host: &str, namespace: &str, domain: &str) -> String {
    if host.is_empty() || host == "*" || host.contains('.') || host.parse::<std::net::IpAddr>().is_ok() {
        return host.to_string();
    }
    let mut out = host.to_string();
    if !namespace.is_empty() {
        out = format!("{out}.{namespace}");
    }
    if !domain.is_empty() {
        out = format!("{out}.svc.{domain}");
    }
    out
}

/// `host.Name.SubsetOf`: whether every name `n` stands for is covered by `o`.
pub fn subset_of(n: &str, o: &str) -> bool {
    let wild = |h: &str| h.starts_with('*');
    match (wild(n), wild(o)) {
        (true, true) => n.len() >= o.len() && n[1..].ends_with(&o[1..]),
        (true, false) => false,
        (false, true) => n.ends_with(&o[1..]),
        (false, false) => n == o,
    }
}

/// The namespace and cluster domain of a Kubernetes service host `name.namespace.svc.domain`.
fn service_namespace_and_domain(service_host: &str) -> (&str, &str) {
    let mut parts = service_host.splitn(4, '.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(ns), Some("svc"), Some(domain)) => (ns, domain),
        (Some(_), Some(ns), None, None) => (ns, DEFAULT_DOMAIN),
        _ => ("", DEFAULT_DOMAIN),
    }
}

/// Why a DestinationRule with `host`, written in `namespace` (`None`: the service's own, as for
/// an inline rule or a manifest without `metadata.namespace`), does not apply to the service
/// `service_host`; `None` when it applies.
pub fn destination_rule_mismatch(host: &str, namespace: Option<&str>, service_host: &str) -> Option<String> {
    let (service_ns, domain) = service_namespace_and_domain(service_host);
    let ns = namespace.unwrap_or(service_ns);
    let resolved = resolve_short_name(host, ns, domain);
    if subset_of(service_host, &resolved) {
        return None;
    }
    let written =
        if resolved == host { format!("`{host}`") } else { format!("`{host}` (`{resolved}` in namespace `{ns}`)") };
    Some(format!(
        "the DestinationRule host {written} does not match the simulated service `{service_host}` \
         (service.host), so Istio would not apply it; write the service's host, a short name in its \
         namespace, or a wildcard such as `*.{service_ns}.svc.{domain}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVC: &str = "reviews.prod.svc.cluster.local";

    #[test]
    fn short_names_resolve_in_the_namespace() {
        assert_eq!(resolve_short_name("reviews", "prod", "cluster.local"), SVC);
        assert_eq!(resolve_short_name("reviews.prod", "x", "cluster.local"), "reviews.prod");
        assert_eq!(resolve_short_name("*", "x", "cluster.local"), "*");
        assert_eq!(resolve_short_name("10.0.0.1", "x", "cluster.local"), "10.0.0.1");
    }

    #[test]
    fn wildcards_cover_suffixes_as_istio_does() {
        assert!(subset_of(SVC, SVC));
        assert!(subset_of(SVC, "*.prod.svc.cluster.local"));
        assert!(subset_of(SVC, "*.cluster.local"));
        assert!(subset_of(SVC, "*"));
        assert!(!subset_of(SVC, "*.default.svc.cluster.local"));
        assert!(!subset_of("xprod.svc.cluster.local", "*.prod.svc.cluster.local"));
        assert!(!subset_of("*.prod.svc.cluster.local", SVC));
        assert!(subset_of("*.a.com", "*.com"));
        assert!(!subset_of("*.com", "*.a.com"));
    }

    #[test]
    fn a_destination_rule_applies_to_the_service_it_names() {
        assert_eq!(destination_rule_mismatch(SVC, None, SVC), None);
        assert_eq!(destination_rule_mismatch("reviews", None, SVC), None);
        assert_eq!(destination_rule_mismatch("reviews", Some("prod"), SVC), None);
        assert_eq!(destination_rule_mismatch("*.svc.cluster.local", Some("other"), SVC), None);
        let err = destination_rule_mismatch("reviews", Some("default"), SVC).unwrap();
        assert!(err.contains("`reviews` (`reviews.default.svc.cluster.local` in namespace `default`)"), "{err}");
        let err = destination_rule_mismatch("ratings.prod.svc.cluster.local", None, SVC).unwrap();
        assert!(err.starts_with("the DestinationRule host `ratings.prod.svc.cluster.local` does not match"), "{err}");
        assert!(destination_rule_mismatch("reviews.prod", None, SVC).is_some(), "a dotted name is not completed");
    }
}
