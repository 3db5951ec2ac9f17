//! Envoy's own cases, ported: `test/common/http/header_utility_test.cc` (`MatchHeadersTest`),
//! `test/common/router/config_impl_test.cc` (path specifiers, `case_sensitive`, weighted
//! clusters), with the expected values derived by hand from the rules in the module docs.

use super::*;

fn req(path: &str, headers: &[(&str, &str)]) -> RequestAttrs {
    RequestAttrs::get(path, headers)
}

fn header(name: &str, test: HeaderTest, invert: bool) -> HeaderMatcher {
    HeaderMatcher { name: name.into(), test, invert, treat_missing_as_empty: false }
}

fn exact(v: &str) -> HeaderTest {
    HeaderTest::Value(StringMatcher::Exact(v.into()))
}

/// `MatchHeadersTest.HeaderPresence` and `HeaderPresentMatch`.
#[test]
fn header_presence() {
    let m = header("match-header", HeaderTest::Present, false);
    assert!(m.matches(&req("/", &[("match-header", "value")])));
    assert!(!m.matches(&req("/", &[("other-header", "value")])));
}

/// `MatchHeadersTest.HeaderPresentInverseMatch`: an inverted present matcher matches only a
/// missing header.
#[test]
fn header_present_inverse() {
    let m = header("match-header", HeaderTest::Present, true);
    assert!(m.matches(&req("/", &[("other-header", "1")])));
    assert!(!m.matches(&req("/", &[("match-header", "123")])));
}

/// `MatchHeadersTest.HeaderExactMatch` and `HeaderExactMatchInverse`. The inverse case's
/// "matching" request carries the header with another value: a missing header never matches an
/// inverted value matcher unless it is treated as empty.
#[test]
fn header_exact_and_inverse() {
    let m = header("match-header", exact("match-value"), false);
    assert!(m.matches(&req("/", &[("match-header", "match-value")])));
    assert!(!m.matches(&req("/", &[("match-header", "other-value"), ("other-header", "match-value")])));
    let inv = header("match-header", exact("match-value"), true);
    assert!(inv.matches(&req("/", &[("match-header", "other-value"), ("other-header", "match-value")])));
    assert!(!inv.matches(&req("/", &[("match-header", "match-value")])));
    assert!(!inv.matches(&req("/", &[("other-header", "x")])), "missing header, not treated as empty");
    let istio_without = HeaderMatcher { treat_missing_as_empty: true, ..inv };
    assert!(istio_without.matches(&req("/", &[("other-header", "x")])), "Istio's withoutHeaders reads it as empty");
}

/// `MatchHeadersTest.MustMatchAllHeaderData`: every matcher must match.
#[test]
fn must_match_all() {
    let ms =
        [header("match-header-a", HeaderTest::Present, false), header("match-header-b", HeaderTest::Present, false)];
    let all = |r: &RequestAttrs| ms.iter().all(|m| m.matches(r));
    assert!(all(&req("/", &[("match-header-a", "1"), ("match-header-b", "2")])));
    assert!(all(&req("/", &[("match-header-a", "3"), ("match-header-b", "4"), ("match-header-c", "5")])));
    assert!(!all(&req("/", &[("match-header-a", "6")])));
    assert!(!all(&req("/", &[("match-header-b", "7")])));
    assert!(!all(&req("/", &[("match-header-a", "8"), ("match-header-c", "9")])));
    assert!(!all(&req("/", &[("match-header-c", "10"), ("match-header-d", "11")])));
}

/// Prefix and regex header values (`HeaderPrefixMatch`; a regex is a full match, so `abc` does
/// not match `abcd`).
#[test]
fn header_prefix_and_regex() {
    let p = header("match-header", HeaderTest::Value(StringMatcher::Prefix("value".into())), false);
    assert!(p.matches(&req("/", &[("match-header", "value123")])));
    assert!(!p.matches(&req("/", &[("match-header", "123value")])));
    let r = header("match-header", HeaderTest::Value(StringMatcher::Regex(Re2::new("abc").unwrap())), false);
    assert!(r.matches(&req("/", &[("match-header", "abc")])));
    assert!(!r.matches(&req("/", &[("match-header", "abcd")])));
    let any = header("match-header", HeaderTest::Value(StringMatcher::Regex(Re2::any())), false);
    assert!(any.matches(&req("/", &[("match-header", "")])));
    assert!(!any.matches(&req("/", &[])), "a value regex needs the header");
}

/// A path regex matches the whole path without its query string (`RegexRouteEntryImpl`:
/// `config_impl_test.cc`'s `/regex/[0-9]+` matches `/regex/1?x=y`, not `/regex/1/extra`).
#[test]
fn path_regex_full_match_without_query() {
    let r = RouteMatch { path: PathMatch::Regex(Re2::new("/regex/[0-9]+").unwrap()), ..RouteMatch::default() };
    assert!(r.matches(&req("/regex/1", &[])));
    assert!(r.matches(&req("/regex/1?x=y", &[])));
    assert!(!r.matches(&req("/regex/1/extra", &[])));
    assert!(!r.matches(&req("/regex/", &[])));
    assert!(!r.is_catch_all());
}

/// Pseudo-headers: `:method` and `:authority` are matched as headers (Istio's `method` and
/// `authority`).
#[test]
fn pseudo_headers() {
    let m = header(":method", exact("GET"), false);
    assert!(m.matches(&req("/", &[])));
    let post = header(":method", exact("POST"), false);
    assert!(!post.matches(&req("/", &[])));
}

/// `config_impl_test.cc` path cases: a prefix compares the start of the path (query string
/// included), an exact path ignores the query string; `case_sensitive: false` folds ASCII case
/// for both; a regex matches the whole path.
#[test]
fn path_specifiers() {
    let prefix = RouteMatch { path: PathMatch::Prefix("/new_endpoint".into()), ..RouteMatch::default() };
    assert!(prefix.matches(&req("/new_endpoint/foo", &[])));
    assert!(!prefix.matches(&req("/New_Endpoint/foo", &[])));
    let folded = RouteMatch { case_sensitive: false, ..prefix.clone() };
    assert!(folded.matches(&req("/New_Endpoint/foo", &[])));
    let exact = RouteMatch { path: PathMatch::Exact("/api".into()), ..RouteMatch::default() };
    assert!(exact.matches(&req("/api", &[])));
    assert!(exact.matches(&req("/api?x=1", &[])));
    assert!(!exact.matches(&req("/api/", &[])));
    assert!(!exact.matches(&req("/API", &[])));
    let exact_folded = RouteMatch { case_sensitive: false, ..exact };
    assert!(exact_folded.matches(&req("/API", &[])));
    let any = RouteMatch { path: PathMatch::Regex(Re2::any()), ..RouteMatch::default() };
    assert!(any.matches(&req("/anything/at/all", &[])));
    assert!(any.is_catch_all());
    assert!(RouteMatch::default().is_catch_all());
    let with_header = RouteMatch { headers: vec![header("x", HeaderTest::Present, false)], ..RouteMatch::default() };
    assert!(!with_header.is_catch_all(), "IsCatchAllRoute: no header matchers");
}

/// A route with a query-parameter matcher never matches meshsim's requests (no query string).
#[test]
fn query_params_never_match() {
    let m = RouteMatch { query_params: vec!["user".into()], ..RouteMatch::default() };
    assert!(!m.matches(&req("/", &[])));
}

/// `pickWeightedCluster`: weights 30/30/40 (total 100), as in `config_impl_test.cc`'s weighted
/// cluster cases: random values 115, 445 and 560 fall at 15, 45 and 60 of the total, in the
/// ranges [0,30), [30,60) and [60,100).
#[test]
fn weighted_pick_walks_cumulative_ranges() {
    let w = [30, 30, 40];
    assert_eq!(pick_weighted(&w, 115), 0);
    assert_eq!(pick_weighted(&w, 445), 1);
    assert_eq!(pick_weighted(&w, 560), 2);
    assert_eq!(pick_weighted(&w, 29), 0);
    assert_eq!(pick_weighted(&w, 30), 1);
    assert_eq!(pick_weighted(&w, 59), 1);
    assert_eq!(pick_weighted(&w, 60), 2);
    assert_eq!(pick_weighted(&w, 99), 2);
    assert_eq!(pick_weighted(&w, 100), 0);
}

/// Weights need not sum to 100 (Istio passes them as given), and a weight of 0 is never picked.
#[test]
fn weighted_pick_any_total_and_zero_weight() {
    let w = [1, 0, 3];
    let counts = (0..4000u64).fold([0u32; 3], |mut c, r| {
        c[pick_weighted(&w, r)] += 1;
        c
    });
    assert_eq!(counts, [1000, 0, 3000]);
}
