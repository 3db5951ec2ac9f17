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
//! * `host.Name.Matches`: the same, in either direction (used where Istio intersects host lists).
//! * `host.MoreSpecific` (`pkg/config/host/names.go`) and `MostSpecificHostMatch`
//!   (`pilot/pkg/model/config.go`): an exact host first, else the longest wildcard that covers it.
//! * `resolveGatewayName` (`pilot/pkg/model/config.go`): how a VirtualService names a Gateway.
//!
//! Every host comparison of [`super::select`] goes through these functions.

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

/// `host.Name.Matches`: whether `n` and `o` overlap (either covers the other).
pub fn matches(n: &str, o: &str) -> bool {
    let wild = |h: &str| h.starts_with('*');
    match (wild(n), wild(o)) {
        (true, true) => {
            if n.len() < o.len() {
                o[1..].ends_with(&n[1..])
            } else {
                n[1..].ends_with(&o[1..])
            }
        }
        (true, false) => o.ends_with(&n[1..]),
        (false, true) => n.ends_with(&o[1..]),
        (false, false) => n == o,
    }
}

/// `host.MoreSpecific`: exact hosts before wildcards, then longer before shorter, then
/// alphabetical. A strict total order on distinct names.
pub fn more_specific(a: &str, b: &str) -> bool {
    if a.is_empty() && b.is_empty() {
        return true;
    }
    let (aw, bw) = (a.starts_with('*'), b.starts_with('*'));
    if aw != bw {
        return !aw;
    }
    if a.len() == b.len() {
        return a < b;
    }
    a.len() > b.len()
}

/// `MostSpecificHostMatch` for a non-wildcard `needle`: the exact key if present, else the most
/// specific wildcard key that covers it (`strings.HasSuffix(needle, h[1:])`).
pub fn most_specific_match<'a, V>(
    needle: &str,
    specific: &'a std::collections::BTreeMap<String, V>,
    wildcard: &'a std::collections::BTreeMap<String, V>,
) -> Option<(&'a str, &'a V)> {
    if let Some((k, v)) = specific.get_key_value(needle) {
        return Some((k.as_str(), v));
    }
    let mut best: Option<(&'a str, &'a V)> = None;
    for (h, v) in wildcard {
        if needle.ends_with(&h[1..]) && best.is_none_or(|(b, _)| more_specific(h, b)) {
            best = Some((h.as_str(), v));
        }
    }
    best
}

/// `resolveGatewayName`: a VirtualService's gateway reference as `namespace/name`. `name`
/// alone is in the VirtualService's namespace; `./name` too; a legacy FQDN
/// `name.namespace.svc.cluster.local` becomes `namespace/name`; `mesh` stays `mesh`.
pub fn resolve_gateway_name(gateway: &str, namespace: &str) -> String {
    if gateway == "mesh" {
        return gateway.to_string();
    }
    match gateway.split_once('/') {
        Some((".", name)) => format!("{namespace}/{name}"),
        Some(_) => gateway.to_string(),
        None => match gateway.split_once('.') {
            None => format!("{namespace}/{gateway}"),
            Some((name, rest)) => {
                let ns = rest.split('.').next().unwrap_or(rest);
                format!("{ns}/{name}")
            }
        },
    }
}

/// The namespace and cluster domain of a Kubernetes service host `name.namespace.svc.domain`.
pub fn service_namespace_and_domain(service_host: &str) -> (&str, &str) {
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

    /// `TestNameMatches` (`pkg/config/host/name_test.go`), every case.
    #[test]
    fn istio_name_matches() {
        for (a, b, want) in [
            ("", "", true),
            ("a.facebook.com", "*.facebook.COM", false),
            ("", "foo.com", false),
            ("foo.com", "", false),
            ("foo.com", "foo.com", true),
            ("bar.com", "foo.com", false),
            ("foo.com", "bar.com", false),
            ("bar.foo.com", "foo.com", false),
            ("foo.com", "bar.foo.com", false),
            ("*.com", "foo.com", true),
            ("*.com", "bar.com", true),
            ("*.foo.com", "bar.foo.com", true),
            ("*", "foo.com", true),
            ("*", "*.com", true),
            ("*", "com", true),
            ("*", "*", true),
            ("*", "", true),
            ("*.com", "*.foo.com", true),
            ("foo.com", "*.foo.com", false),
            ("*.foo.com", "foo.com", false),
            ("*.foo.bar.baz", "baz", false),
            ("baz", "*.foo.bar.baz", false),
            ("*.foo.bar.baz", "*.baz", true),
            ("foo.bar.baz", "*.baz", true),
        ] {
            assert_eq!(matches(a, b), want, "{a:?} matches {b:?}");
        }
    }

    /// `TestNameSubsetOf` (`pkg/config/host/name_test.go`), every case.
    #[test]
    fn istio_name_subset_of() {
        for (a, b, want) in [
            ("", "", true),
            ("", "foo.com", false),
            ("foo.com", "", false),
            ("foo.com", "foo.com", true),
            ("bar.com", "foo.com", false),
            ("foo.com", "bar.com", false),
            ("bar.foo.com", "foo.com", false),
            ("foo.com", "bar.foo.com", false),
            ("foo.com", "*.com", true),
            ("bar.com", "*.com", true),
            ("bar.foo.com", "*.foo.com", true),
            ("foo.com", "*", true),
            ("*.com", "*", true),
            ("com", "*", true),
            ("*", "*", true),
            ("", "*", true),
            ("*.foo.com", "*.com", true),
            ("*.foo.com", "foo.com", false),
            ("*.foo.bar.baz", "baz", false),
            ("foo.bar.baz", "*.baz", true),
        ] {
            assert_eq!(subset_of(a, b), want, "{a:?} subset of {b:?}");
        }
    }

    /// `TestMoreSpecific` (`pkg/config/host/names_test.go`), every case.
    #[test]
    fn istio_more_specific() {
        for (a, b, want) in [
            ("", "", true),
            ("", "example.com", false),
            ("example.com", "", true),
            ("example.com", "example.net", true),
            ("example.net", "example.com", false),
            ("example.com", "test.example.com", false),
            ("test.example.com", "example.com", true),
            ("*.example.com", "*.example.co.in", false),
            ("*.example.co.in", "*.example.com", true),
            ("*.example.com", "example.net", false),
            ("example.net", "*.example.com", true),
        ] {
            assert_eq!(more_specific(a, b), want, "{a:?} more specific than {b:?}");
        }
    }

    /// `TestMostSpecificHostMatch` (`pilot/pkg/model/config_test.go`): the cases whose needle is a
    /// service host (meshsim never looks up a wildcard needle).
    #[test]
    fn istio_most_specific_host_match() {
        use std::collections::BTreeMap;
        let case = |hosts: &[&str], needle: &str| -> Option<String> {
            let (mut specific, mut wildcard) = (BTreeMap::new(), BTreeMap::new());
            for h in hosts {
                if h.starts_with('*') {
                    wildcard.insert(h.to_string(), ())
                } else {
                    specific.insert(h.to_string(), ())
                };
            }
            most_specific_match(needle, &specific, &wildcard).map(|(h, _)| h.to_string())
        };
        let s = |x: &str| Some(x.to_string());
        assert_eq!(case(&["*.foo.com", "*.com"], "bar.foo.com"), s("*.foo.com"));
        assert_eq!(case(&["*.foo.com", "*.com"], "foo.com"), s("*.com"));
        assert_eq!(case(&["*.foo.com", "foo.com"], "foo.com"), s("foo.com"));
        assert_eq!(case(&["*.bar.com", "foo.bar.com"], "foo.bar.com"), s("foo.bar.com"));
        assert_eq!(case(&["*.foo.bar.com", "bar.foo.bar.com"], "bar.foo.bar.com"), s("bar.foo.bar.com"));
        assert_eq!(case(&["bar.com", "foo.com"], "a.foo.com"), None);
        assert_eq!(case(&["*", "*.com"], "foo.com"), s("*.com"));
    }

    /// `TestResolveGatewayName` (`pilot/pkg/model/virtualservice_test.go`, `gatewayNameTests`).
    #[test]
    fn istio_resolve_gateway_name() {
        for (gw, ns, want) in [
            ("./gateway", "default", "default/gateway"),
            ("gateway", "default", "default/gateway"),
            ("default/gateway", "foo", "default/gateway"),
            ("gateway.default", "default", "default/gateway"),
            ("gateway.default", "foo", "default/gateway"),
            ("private.ingress.svc.cluster.local", "foo", "ingress/private"),
            ("mesh", "default", "mesh"),
        ] {
            assert_eq!(resolve_gateway_name(gw, ns), want, "{gw} in {ns}");
        }
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
