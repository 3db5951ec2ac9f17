//! Envoy's route matching and weighted clusters, as pure functions over a request's attributes.
//!
//! * Path matching: `source/common/router/config_impl.cc` (`PrefixRouteEntryImpl`,
//!   `PathRouteEntryImpl`, `RegexRouteEntryImpl`, `RouteEntryImplBase::matchRoute`): a prefix is
//!   compared with the start of `:path` (with its query string), an exact path with `:path`
//!   without its query string, both case-insensitively when `case_sensitive` is false (Istio's
//!   `ignoreUriCase`); a regex must match the whole path (RE2 `FullMatch`) whatever
//!   `case_sensitive` says.
//! * Header matching: `source/common/http/header_utility.cc` (`HeaderUtility::matchHeaders`):
//!   every matcher of a route must match; a missing header matches only an inverted present
//!   matcher, unless `treat_missing_header_as_empty` reads it as the empty string; the result of a
//!   value match is XORed with `invert_match`. `:method`, `:authority`, `:scheme` and `:path` are
//!   headers like the others.
//! * Weighted clusters: `RouteEntryImplBase::pickWeightedCluster` (`config_impl.cc`): the
//!   request's random value modulo the total weight, then the first entry whose cumulative range
//!   `[begin, begin + weight)` holds it, in configuration order.
//!
//! Regular expressions: RE2 syntax, whole-value match ([`Re2`], `envoy::regex`).

use crate::envoy::regex::Re2;

/// A request's attributes as the router sees them: `:path`, `:method`, `:authority`,
/// `:scheme` and the other headers (lower-case names, sorted by name, one value each).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestAttrs {
    /// `:path`, e.g. `/api/v2/cart` (with its query string, if any).
    pub path: String,
    /// `:method`, e.g. `GET`.
    pub method: String,
    /// `:authority`, e.g. `reviews.shop.svc.cluster.local`.
    pub authority: String,
    /// `:scheme`: `http` for plain mesh traffic.
    pub scheme: String,
    /// Ordinary headers, lower-case names, sorted by name.
    pub headers: Vec<(String, String)>,
}

impl RequestAttrs {
    /// The length in bytes of its longest value (path, method, authority, scheme, headers): what
    /// one regex test may have to read.
    pub fn longest_value(&self) -> u64 {
        let fixed = [&self.path, &self.method, &self.authority, &self.scheme].map(|v| v.len());
        let headers = self.headers.iter().map(|(_, v)| v.len());
        fixed.into_iter().chain(headers).max().unwrap_or(0) as u64
    }

    /// The value of header `name` (lower case), pseudo-headers included.
    pub fn header(&self, name: &str) -> Option<&str> {
        match name {
            ":path" => Some(&self.path),
            ":method" => Some(&self.method),
            ":authority" | "host" => Some(&self.authority),
            ":scheme" => Some(&self.scheme),
            _ => self.headers.binary_search_by(|(k, _)| k.as_str().cmp(name)).ok().map(|i| self.headers[i].1.as_str()),
        }
    }

    /// `:path` without its query string and fragment (`Http::PathUtil::removeQueryAndFragment`).
    pub fn path_only(&self) -> &str {
        let end = self.path.find(['?', '#']).unwrap_or(self.path.len());
        &self.path[..end]
    }
}

#[cfg(test)]
impl RequestAttrs {
    /// A `GET` of `path` to `reviews.shop.svc.cluster.local` with `headers` (lower-case names),
    /// for tests.
    pub(crate) fn get(path: &str, headers: &[(&str, &str)]) -> RequestAttrs {
        let mut h: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        h.sort();
        RequestAttrs {
            path: path.into(),
            method: "GET".into(),
            authority: "reviews.shop.svc.cluster.local".into(),
            scheme: "http".into(),
            headers: h,
        }
    }
}

/// Envoy's `StringMatcher` (`source/common/common/matchers.h`), the forms Istio produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StringMatcher {
    /// `exact`.
    Exact(String),
    /// `prefix`.
    Prefix(String),
    /// `safe_regex` (full match).
    Regex(Re2),
}

impl StringMatcher {
    /// Whether `value` matches (case-sensitive, as Istio leaves `ignore_case` unset).
    pub fn matches(&self, value: &str) -> bool {
        match self {
            StringMatcher::Exact(s) => value == s,
            StringMatcher::Prefix(p) => value.starts_with(p.as_str()),
            StringMatcher::Regex(r) => r.full_match(value),
        }
    }

    /// `exact: "v"`, `prefix: "v"` or `regex: "v"`, for explanations.
    pub fn describe(&self) -> String {
        match self {
            StringMatcher::Exact(s) => format!("exact {s:?}"),
            StringMatcher::Prefix(s) => format!("prefix {s:?}"),
            StringMatcher::Regex(r) => format!("regex {:?}", r.pattern()),
        }
    }
}

/// What a header matcher tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderTest {
    /// `present_match: true`.
    Present,
    /// `string_match`.
    Value(StringMatcher),
}

/// Envoy's `HeaderMatcher`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderMatcher {
    /// Lower-case header name (pseudo-headers such as `:method` included).
    pub name: String,
    /// The test.
    pub test: HeaderTest,
    /// `invert_match`.
    pub invert: bool,
    /// `treat_missing_header_as_empty`.
    pub treat_missing_as_empty: bool,
}

impl HeaderMatcher {
    /// `HeaderUtility::matchHeaders` for one matcher.
    pub fn matches(&self, req: &RequestAttrs) -> bool {
        let value = match (req.header(&self.name), self.treat_missing_as_empty) {
            (Some(v), _) => v,
            (None, true) => "",
            (None, false) => {
                // Only a present matcher can match a missing header: inverted (`present: true`
                // inverted means "absent").
                return self.invert && self.test == HeaderTest::Present;
            }
        };
        let matched = match &self.test {
            HeaderTest::Present => true,
            HeaderTest::Value(m) => m.matches(value),
        };
        matched != self.invert
    }

    /// One line for explanations, e.g. `x-canary exact "true"` or `without x-canary present`.
    pub fn describe(&self) -> String {
        let test = match &self.test {
            HeaderTest::Present => "present".to_string(),
            HeaderTest::Value(m) => m.describe(),
        };
        if self.invert { format!("not {} {test}", self.name) } else { format!("{} {test}", self.name) }
    }
}

/// How a route matches `:path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    /// `prefix`.
    Prefix(String),
    /// `path`: the whole path, query string excluded.
    Exact(String),
    /// `safe_regex`: the whole path, query string excluded.
    Regex(Re2),
}

/// Envoy's `RouteMatch` as Istio's `TranslateRouteMatch` builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch {
    /// The path specifier (Istio's default: prefix `/`).
    pub path: PathMatch,
    /// `case_sensitive` (false with Istio's `ignoreUriCase`).
    pub case_sensitive: bool,
    /// Header matchers, all of which must match.
    pub headers: Vec<HeaderMatcher>,
    /// Query parameter matchers (meshsim's requests carry no query string, so a route with one
    /// never matches; `path` may not carry `?` in a workload).
    pub query_params: Vec<String>,
}

impl Default for RouteMatch {
    fn default() -> Self {
        RouteMatch {
            path: PathMatch::Prefix("/".into()),
            case_sensitive: true,
            headers: Vec::new(),
            query_params: Vec::new(),
        }
    }
}

impl RouteMatch {
    /// `RouteEntryImplBase::matchRoute` with the path specifier's own test.
    pub fn matches(&self, req: &RequestAttrs) -> bool {
        let path_ok = match &self.path {
            PathMatch::Prefix(p) if self.case_sensitive => req.path.starts_with(p.as_str()),
            PathMatch::Prefix(p) => {
                req.path.len() >= p.len() && req.path.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            PathMatch::Exact(p) if self.case_sensitive => req.path_only() == p,
            PathMatch::Exact(p) => req.path_only().eq_ignore_ascii_case(p),
            PathMatch::Regex(r) => r.full_match(req.path_only()),
        };
        path_ok && self.headers.iter().all(|h| h.matches(req)) && self.query_params.is_empty()
    }

    /// The summed sizes of its regexes ([`Re2::size`]): testing a request against it costs at most
    /// about this many steps per byte of the request's path and header values.
    pub fn regex_size(&self) -> u64 {
        let path = match &self.path {
            PathMatch::Regex(r) => r.size(),
            _ => 0,
        };
        let headers = self.headers.iter().map(|h| match &h.test {
            HeaderTest::Value(StringMatcher::Regex(r)) => r.size(),
            _ => 0,
        });
        headers.fold(path, u64::saturating_add)
    }

    /// Istio's `IsCatchAllRoute`: prefix `/` or regex `.*`, and nothing else to match.
    pub fn is_catch_all(&self) -> bool {
        let all_paths = match &self.path {
            PathMatch::Prefix(p) => p == "/",
            PathMatch::Regex(r) => r.is_any(),
            PathMatch::Exact(_) => false,
        };
        all_paths && self.headers.is_empty() && self.query_params.is_empty()
    }

    /// The conditions in words, e.g. `uri prefix "/api", x-canary exact "true"`.
    pub fn describe(&self) -> String {
        let mut parts = vec![match &self.path {
            PathMatch::Prefix(p) => format!("uri prefix {p:?}"),
            PathMatch::Exact(p) => format!("uri exact {p:?}"),
            PathMatch::Regex(r) => format!("uri regex {:?}", r.pattern()),
        }];
        if !self.case_sensitive {
            parts.push("ignoreUriCase".into());
        }
        parts.extend(self.headers.iter().map(HeaderMatcher::describe));
        parts.extend(self.query_params.iter().map(|q| format!("query {q} (never: requests carry no query string)")));
        parts.join(", ")
    }
}

/// `pickWeightedCluster`: the index of the entry that `random_value` selects among `weights`
/// (their sum must be positive): `random_value % total`, then the first entry whose range holds
/// it. Entries of weight 0 are never picked.
pub fn pick_weighted(weights: &[u32], random_value: u64) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    debug_assert!(total > 0, "weighted clusters with total weight 0");
    let selected = random_value % total.max(1);
    let mut begin = 0u64;
    for (i, &w) in weights.iter().enumerate() {
        let end = begin + u64::from(w);
        if selected >= begin && selected < end {
            return i;
        }
        begin = end;
    }
    weights.len().saturating_sub(1)
}

#[cfg(test)]
mod tests;
