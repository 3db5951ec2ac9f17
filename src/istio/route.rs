//! A VirtualService's `match` as pilot translates it into Envoy's `RouteMatch`
//! (`pilot/pkg/networking/core/route/route.go`, istio/istio 2026-08 `master`):
//!
//! * `TranslateRouteMatch`: the path specifier defaults to prefix `/`; `uri` `exact` becomes
//!   `path`, `prefix` becomes `prefix`, `regex` becomes `safe_regex`; `case_sensitive` is
//!   `!ignoreUriCase`. `headers` become header matchers; `withoutHeaders` the same, inverted, and
//!   (unless the match can become a present match) with `treat_missing_header_as_empty`.
//!   `method`, `authority` and `scheme` become matchers on `:method`, `:authority`, `:scheme`.
//!   `queryParams` become query-parameter matchers.
//! * `translateHeaderMatch` / `canBeConvertedToPresentMatch`: an empty `StringMatch` (`{}`) or
//!   the regex `*` becomes `present_match: true`; otherwise `ConvertToEnvoyMatch` (exact, prefix,
//!   regex).
//! * `IsCatchAllRoute`: prefix `/` or regex `.*`, with no header or query matcher; the routes of a
//!   VirtualService stop after the first catch-all (`BuildHTTPRoutesForVirtualService`).
//!
//! Regular expressions are RE2, matched whole (`envoy::regex`): what Istio's webhook refuses is
//! refused with its reason. Matches meshsim does not model are refused by [`translate_match`]
//! with the field's name: JWT-claim headers (`@request.auth.claims…`: meshsim's requests carry
//! no token).

use std::collections::BTreeMap;

use super::manifest::{HttpMatchRequest, Opaque};
use crate::envoy::regex::Re2;
use crate::envoy::route::{HeaderMatcher, HeaderTest, PathMatch, RouteMatch, StringMatcher};

/// Istio's `StringMatch`: one of `exact`, `prefix`, `regex`, or none (`{}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IstioStringMatch {
    /// `exact`.
    Exact(String),
    /// `prefix`.
    Prefix(String),
    /// `regex` (RE2).
    Regex(String),
    /// `{}`: no match type.
    Empty,
}

/// Reads a `StringMatch` written as YAML: an object with at most one of `exact`, `prefix`,
/// `regex`, each a string. `Err` names what is wrong (the caller adds the field path).
pub fn parse_string_match(v: &Opaque) -> Result<IstioStringMatch, String> {
    let Some(obj) = v.as_object() else {
        return Err("must be a StringMatch: an object with one of `exact`, `prefix`, `regex`".into());
    };
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "exact" | "prefix" | "regex")) {
        let hint = crate::suggest::closest(k, ["exact", "prefix", "regex"])
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(format!("unknown field `{k}`{hint}, expected one of `exact`, `prefix`, `regex`"));
    }
    if obj.len() > 1 {
        return Err("only one of `exact`, `prefix`, `regex` may be set".into());
    }
    let Some((k, val)) = obj.iter().next() else { return Ok(IstioStringMatch::Empty) };
    let Some(s) = val.as_str() else { return Err(format!("`{k}` must be a string")) };
    Ok(match k.as_str() {
        "exact" => IstioStringMatch::Exact(s.to_string()),
        "prefix" => IstioStringMatch::Prefix(s.to_string()),
        _ => IstioStringMatch::Regex(s.to_string()),
    })
}

/// A map of header (or query) names to `StringMatch`es, in name order.
fn parse_map(v: &Opaque) -> Result<BTreeMap<String, IstioStringMatch>, (String, String)> {
    let Some(obj) = v.as_object() else {
        return Err((String::new(), "must be a map of names to StringMatch".into()));
    };
    let mut out = BTreeMap::new();
    for (name, sm) in obj {
        let parsed = parse_string_match(sm).map_err(|m| (format!(".{name}"), m))?;
        out.insert(name.clone(), parsed);
    }
    Ok(out)
}

/// Istio's `validateStringRegexp` and Envoy's compile (`envoy::regex`).
fn regex(pattern: &str) -> Result<Re2, String> {
    Re2::new(pattern)
}

/// `ConvertToEnvoyMatch` for a header value (the caller handled the present-match forms).
fn envoy_string_match(sm: &IstioStringMatch) -> Result<StringMatcher, String> {
    Ok(match sm {
        IstioStringMatch::Exact(s) => StringMatcher::Exact(s.clone()),
        IstioStringMatch::Prefix(s) if s.is_empty() => return Err("prefix string match should not be empty".into()),
        IstioStringMatch::Prefix(s) => StringMatcher::Prefix(s.clone()),
        IstioStringMatch::Regex(r) => StringMatcher::Regex(regex(r)?),
        IstioStringMatch::Empty => unreachable!("a present match"),
    })
}

/// `canBeConvertedToPresentMatch`.
fn is_present_match(sm: &IstioStringMatch) -> bool {
    matches!(sm, IstioStringMatch::Empty) || *sm == IstioStringMatch::Regex("*".into())
}

/// `translateHeaderMatch` (names lower-cased, as Envoy's `LowerCaseString` stores them).
fn header_matcher(name: &str, sm: &IstioStringMatch) -> Result<HeaderMatcher, String> {
    let test = if is_present_match(sm) { HeaderTest::Present } else { HeaderTest::Value(envoy_string_match(sm)?) };
    Ok(HeaderMatcher { name: name.to_ascii_lowercase(), test, invert: false, treat_missing_as_empty: false })
}

fn header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if name.starts_with("@request.auth.claims") {
        return Err(format!(
            "`{name}` matches a JWT claim, which is not modelled (meshsim's requests carry no token); remove it"
        ));
    }
    let pseudo = matches!(name, ":method" | ":scheme" | ":authority" | ":path");
    if !pseudo && !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(format!("header name {name} is not a valid header name"));
    }
    Ok(())
}

/// `TranslateRouteMatch` for one `HTTPMatchRequest`. `Err((field, message))` names the field
/// (relative to the match) that is invalid or not modelled.
pub fn translate_match(m: &HttpMatchRequest) -> Result<RouteMatch, (String, String)> {
    let mut out = RouteMatch::default();
    let mut headers = Vec::new();
    for (key, invert) in [("headers", false), ("withoutHeaders", true)] {
        let v = if invert { &m.without_headers } else { &m.headers };
        let Some(v) = v else { continue };
        let map = parse_map(v).map_err(|(p, msg)| (format!("{key}{p}"), msg))?;
        for (name, sm) in &map {
            let at = format!("{key}.{name}");
            header_name(name).map_err(|msg| (at.clone(), msg))?;
            let mut h = header_matcher(name, sm).map_err(|msg| (at.clone(), msg))?;
            if invert {
                h.invert = true;
                h.treat_missing_as_empty = !is_present_match(sm);
            }
            headers.push(h);
        }
    }
    // "guarantee ordering of headers": by name (stable, so `headers` before `withoutHeaders`).
    headers.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(uri) = &m.uri {
        let sm = parse_string_match(uri).map_err(|msg| ("uri".to_string(), msg))?;
        out.path = match sm {
            IstioStringMatch::Exact(s) => PathMatch::Exact(s),
            IstioStringMatch::Prefix(s) if s.is_empty() => {
                return Err(("uri.prefix".into(), "prefix string match should not be empty".into()));
            }
            IstioStringMatch::Prefix(s) => PathMatch::Prefix(s),
            IstioStringMatch::Regex(r) => PathMatch::Regex(regex(&r).map_err(|msg| ("uri.regex".to_string(), msg))?),
            IstioStringMatch::Empty => PathMatch::Prefix("/".into()),
        };
    }
    out.case_sensitive = !m.ignore_uri_case.unwrap_or(false);
    for (key, name, v) in
        [("method", ":method", &m.method), ("authority", ":authority", &m.authority), ("scheme", ":scheme", &m.scheme)]
    {
        if let Some(v) = v {
            let sm = parse_string_match(v).map_err(|msg| (key.to_string(), msg))?;
            headers.push(header_matcher(name, &sm).map_err(|msg| (key.to_string(), msg))?);
        }
    }
    if let Some(q) = &m.query_params {
        let map = parse_map(q).map_err(|(p, msg)| (format!("queryParams{p}"), msg))?;
        for (name, sm) in &map {
            if let IstioStringMatch::Regex(r) = sm
                && !is_present_match(sm)
            {
                regex(r).map_err(|msg| (format!("queryParams.{name}"), msg))?;
            }
            out.query_params.push(name.clone());
        }
    }
    out.headers = headers;
    Ok(out)
}

/// The translated match of a route entry: `None` (a route without `match`) is prefix `/`.
pub fn entry_match(m: Option<&HttpMatchRequest>) -> RouteMatch {
    m.and_then(|m| translate_match(m).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::route::RequestAttrs;

    fn yaml(s: &str) -> HttpMatchRequest {
        crate::istio::manifest::from_yaml(s).expect("a valid HTTPMatchRequest")
    }

    fn req(path: &str, headers: &[(&str, &str)]) -> RequestAttrs {
        RequestAttrs::get(path, headers)
    }

    /// Istio's `route_test.go` ("for virtual service with regex matching on URI", "…exact match
    /// on URI", "…prefix…", "ignoreUriCase"): the path specifier and `case_sensitive`.
    #[test]
    fn uri_and_case() {
        let m = translate_match(&yaml("uri: {exact: /foo}")).unwrap();
        assert_eq!(m.path, PathMatch::Exact("/foo".into()));
        assert!(m.case_sensitive);
        let m = translate_match(&yaml("uri: {prefix: /foo}\nignoreUriCase: true")).unwrap();
        assert_eq!(m.path, PathMatch::Prefix("/foo".into()));
        assert!(!m.case_sensitive);
        assert!(m.matches(&req("/FOO/bar", &[])));
        let m = translate_match(&yaml("uri: {regex: '.*'}")).unwrap();
        assert!(m.is_catch_all());
        assert_eq!(RouteMatch::default().path, PathMatch::Prefix("/".into()));
    }

    /// `route_test.go` "for virtual service with presence matching on header" and "…regex
    /// matching on without header": `{}` and regex `*` become present matches (without
    /// `treat_missing_header_as_empty`), other `withoutHeaders` are inverted and treat a missing
    /// header as empty.
    #[test]
    fn headers_and_without_headers() {
        let m = translate_match(&yaml("headers: {FOO-HEADER: {}}")).unwrap();
        assert_eq!(m.headers[0].name, "foo-header");
        assert_eq!(m.headers[0].test, HeaderTest::Present);
        let m = translate_match(&yaml("withoutHeaders: {x-canary: {exact: 'true'}}")).unwrap();
        let h = &m.headers[0];
        assert!(h.invert && h.treat_missing_as_empty);
        assert!(m.matches(&req("/", &[])), "a request without the header matches");
        assert!(m.matches(&req("/", &[("x-canary", "false")])));
        assert!(!m.matches(&req("/", &[("x-canary", "true")])));
        let m = translate_match(&yaml("withoutHeaders: {x-debug: {regex: '*'}}")).unwrap();
        assert!(m.headers[0].invert && !m.headers[0].treat_missing_as_empty);
        assert!(m.matches(&req("/", &[])));
        assert!(!m.matches(&req("/", &[("x-debug", "1")])));
    }

    /// `method`, `authority`, `scheme` match pseudo-headers; several conditions must all hold.
    #[test]
    fn method_and_all_conditions() {
        let m =
            translate_match(&yaml("uri: {prefix: /api}\nmethod: {exact: POST}\nheaders: {x-user: {prefix: test-}}"))
                .unwrap();
        let mut post = req("/api/cart", &[("x-user", "test-7")]);
        post.method = "POST".into();
        assert!(m.matches(&post));
        assert!(!m.matches(&req("/api/cart", &[("x-user", "test-7")])), "GET");
        post.headers = vec![("x-user".into(), "prod-7".into())];
        assert!(!m.matches(&post));
    }

    /// Refused by name: regexes Istio's webhook refuses (Go's `regexp`: look-around, `(?x)`),
    /// empty prefixes, JWT claims, malformed StringMatches.
    #[test]
    fn refused() {
        let err = |s: &str| translate_match(&yaml(s)).unwrap_err();
        assert_eq!(err("uri: {regex: '/api/(?=v)'}").0, "uri.regex");
        assert!(err("uri: {regex: '/api/(?=v)'}").1.contains("look-around"));
        assert_eq!(err("headers: {x: {regex: '(?x)a b'}}").0, "headers.x");
        assert!(err("headers: {x: {regex: '(?x)a b'}}").1.contains("RE2 syntax"));
        assert!(translate_match(&yaml("uri: {regex: '/api/v[0-9]+'}")).is_ok());
        assert_eq!(err("uri: {prefix: ''}").0, "uri.prefix");
        assert_eq!(err("headers: {'@request.auth.claims.group': {exact: a}}").0, "headers.@request.auth.claims.group");
        assert!(err("uri: {exact: /a, prefix: /b}").1.contains("only one"));
        assert!(err("uri: {exakt: /a}").1.contains("did you mean `exact`"));
    }
}
