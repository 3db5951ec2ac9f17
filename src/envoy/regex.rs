//! Envoy's `safe_regex` matcher: RE2 syntax, whole-string match.
//!
//! Envoy compiles a route's or header matcher's regex with Google RE2 and calls
//! `RE2::FullMatch` (`source/common/common/regex.cc`, `CompiledGoogleReMatcher::match`): the
//! pattern must match the whole value. Istio's webhook accepts a regex only when Go's `regexp`
//! (the same RE2 syntax) compiles it and it is at most 1024 bytes long
//! (`pkg/config/validation/agent/validation.go`, `validateStringRegexp`); istiod then raises
//! Envoy's program-size limit to 32768 (`re2.max_program_size.error_level` in the bootstrap's
//! runtime), far above what 1024 bytes can build, so that limit never refuses what the webhook
//! let through.
//!
//! meshsim matches with `regex-lite`, whose syntax and meaning are RE2's for everything a route
//! uses (ASCII Perl classes `\d \w \s`, `.` without newline, flags `i m s U`, POSIX classes,
//! non-greedy repetition). Where the two differ, meshsim refuses by name rather than match
//! differently:
//!
//! * RE2 features `regex-lite` lacks: Unicode classes (`\pL`, `\p{Greek}`); the error says so.
//!   `\Q...\E` (a quoted literal) is supported: it is rewritten as escaped text first.
//! * `regex-lite` extensions that Go's `regexp` rejects, so Istio refuses them: flags other
//!   than `i m s U` (`(?x)`, `(?R)`), `\<`, `\>`, `\b{start}` and its kin, repeat counts above
//!   1000, and nested repetition (`a**`, `a+*`, `a*??`).
//!
//! * Patterns that expand to more than [`MAX_EXPANDED`] items once repeat counts are applied
//!   (`(.*a){300}`): RE2 runs them fast, `regex-lite` slowly; no real route needs them.
//!
//! One difference is left: `\s` in RE2 is `[\t\n\f\r ]` and in `regex-lite` also takes `\v`;
//! request attributes are checked to be printable header text, so no value holds a `\v`.
//! `(?i)` folds ASCII letters in `regex-lite` and all of Unicode's simple folds in RE2: a pattern
//! with `(?i)` and non-ASCII letters is refused.

use std::fmt;

/// Istio's bound on a regex's length, in bytes.
pub const MAX_REGEX_LEN: usize = 1024;

/// RE2's bound on a repeat count (`{n}`, `{n,m}`).
const MAX_REPEAT: u32 = 1000;

/// meshsim's bound on a pattern's size once repeat counts are applied (`(ab){300}` is 600): its
/// engine takes time proportional to that size times the value's length, and a scenario may
/// test 64 request classes against 256 routes.
pub const MAX_EXPANDED: u64 = 2000;

/// A compiled `safe_regex`, matched against whole values.
#[derive(Clone)]
pub struct Re2 {
    pattern: String,
    kind: Kind,
    /// Its size once repeat counts are applied (0 for `.*` and plain text, which need no engine).
    size: u64,
}

#[derive(Clone)]
enum Kind {
    /// `.*`: every value without a newline.
    Any,
    /// No metacharacter: string equality.
    Literal,
    /// Anything else, anchored at both ends.
    Compiled(regex_lite::Regex),
}

impl PartialEq for Re2 {
    fn eq(&self, other: &Re2) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Re2 {}

impl fmt::Debug for Re2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Re2({:?})", self.pattern)
    }
}

impl Re2 {
    /// Compiles `pattern` as Istio's webhook and Envoy would accept it; `Err` says what is wrong,
    /// in words a user can act on (the caller adds the file and field).
    pub fn new(pattern: &str) -> Result<Re2, String> {
        if pattern.is_empty() {
            return Err("regex string match should not be empty".into());
        }
        if pattern.len() > MAX_REGEX_LEN {
            return Err(format!("regex is too large ({} bytes): Istio allows at most {MAX_REGEX_LEN}", pattern.len()));
        }
        let (kind, size) = if pattern == ".*" {
            (Kind::Any, 0)
        } else if !pattern.contains(is_meta) {
            (Kind::Literal, 0)
        } else {
            let (body, size) = check_syntax(pattern)?;
            let anchored = format!(r"\A(?:{body})\z");
            let re = regex_lite::RegexBuilder::new(&anchored)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("regex `{pattern}` is not valid RE2: {}", first_line(&e.to_string())))?;
            (Kind::Compiled(re), size)
        };
        Ok(Re2 { pattern: pattern.to_string(), kind, size })
    }

    /// `.*`, the catch-all.
    pub fn any() -> Re2 {
        Re2 { pattern: ".*".into(), kind: Kind::Any, size: 0 }
    }

    /// RE2 `FullMatch`.
    pub fn full_match(&self, value: &str) -> bool {
        match &self.kind {
            Kind::Any => !value.contains('\n'),
            Kind::Literal => value == self.pattern,
            Kind::Compiled(re) => re.is_match(value),
        }
    }

    /// The pattern's size once repeat counts are applied, 0 when no engine runs (`.*`, plain
    /// text): matching a value costs at most about this many steps per byte.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether this is `.*`.
    pub fn is_any(&self) -> bool {
        matches!(self.kind, Kind::Any)
    }

    /// The text it matches, when it is plain text without metacharacters.
    pub fn literal(&self) -> Option<&str> {
        matches!(self.kind, Kind::Literal).then_some(self.pattern.as_str())
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

fn is_meta(c: char) -> bool {
    "\\.+*?()|[]{}^$".contains(c)
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

/// Refuses what Go's `regexp` (Istio's webhook) refuses but `regex-lite` would accept, and
/// patterns that expand to more than [`MAX_EXPANDED`] items; rewrites `\Q...\E` and literal
/// braces as `regex-lite` wants them. Returns the pattern to compile.
fn check_syntax(pattern: &str) -> Result<(String, u64), String> {
    let refuse = |what: &str| {
        Err(format!("regex `{pattern}`: {what}; Istio uses RE2 syntax (github.com/google/re2/wiki/Syntax)"))
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    // Whether the previous item was a repetition operator (for nested repetition), and whether
    // that operator already took its lazy `?`.
    let mut after_repeat = false;
    let mut lazy_taken = false;
    let mut case_insensitive = false;
    // The expanded size: items of the enclosing groups, and the size of the last item (which a
    // repeat count multiplies).
    let mut sizes: Vec<u64> = vec![0];
    let mut last: u64 = 0;
    let atom = |sizes: &mut Vec<u64>, last: &mut u64, n: u64| {
        if let Some(s) = sizes.last_mut() {
            *s = s.saturating_add(n);
        }
        *last = n;
    };
    while i < chars.len() {
        let c = chars[i];
        let was_repeat = std::mem::replace(&mut after_repeat, false);
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return refuse("trailing backslash");
                };
                if n == 'Q' {
                    let rest: String = chars[i + 2..].iter().collect();
                    let (quoted, tail) = match rest.find(r"\E") {
                        Some(end) => (&rest[..end], end + 2),
                        None => (rest.as_str(), rest.len()),
                    };
                    out.push_str(&regex_lite::escape(quoted));
                    atom(&mut sizes, &mut last, quoted.chars().count() as u64);
                    i += 2 + rest[..tail].chars().count();
                    continue;
                }
                if matches!(n, '<' | '>') {
                    return refuse(&format!("`\\{n}` is not an RE2 escape"));
                }
                if matches!(n, 'b' | 'B') && chars.get(i + 2) == Some(&'{') {
                    return refuse(&format!("`\\{n}{{...}}` word boundaries are not RE2 syntax"));
                }
                out.push(c);
                out.push(n);
                atom(&mut sizes, &mut last, 1);
                i += 2;
            }
            '[' => {
                let end = class_end(&chars, i)
                    .ok_or_else(|| format!("regex `{pattern}` is not valid RE2: unclosed character class"))?;
                let class: String = chars[i..end].iter().collect();
                if class.contains("\\<") || class.contains("\\>") {
                    return refuse("`\\<` and `\\>` are not RE2 escapes");
                }
                out.push_str(&class);
                atom(&mut sizes, &mut last, 1);
                i = end;
            }
            '(' => {
                if chars.get(i + 1) == Some(&'?') && !matches!(chars.get(i + 2), Some('P' | '=' | '!' | '<')) {
                    // Flags `(?i)` or `(?i:...)`; named groups and look-around (refused by
                    // `regex-lite`'s own error) are skipped.
                    let mut j = i + 2;
                    while j < chars.len() && !matches!(chars[j], ')' | ':') {
                        match chars[j] {
                            'i' => case_insensitive = true,
                            'm' | 's' | 'U' | '-' => {}
                            f => {
                                return refuse(&format!(
                                    "flag `{f}` in `(?...)` is not RE2 syntax (RE2 has i, m, s, U)"
                                ));
                            }
                        }
                        j += 1;
                    }
                }
                sizes.push(0);
                out.push(c);
                i += 1;
            }
            ')' => {
                let inner = if sizes.len() > 1 { sizes.pop().unwrap_or(0) } else { 0 };
                atom(&mut sizes, &mut last, inner);
                out.push(c);
                i += 1;
            }
            '*' | '+' | '?' | '{' => {
                let (count, len) = if c == '{' { repeat_count(&chars[i..])? } else { (Some(1), 1) };
                let Some(count) = count else {
                    // A brace that starts no repeat is a literal in RE2; `regex-lite` wants it escaped.
                    out.push_str("\\{");
                    atom(&mut sizes, &mut last, 1);
                    i += 1;
                    continue;
                };
                let lazy_mark = c == '?' && !lazy_taken;
                if was_repeat && !lazy_mark {
                    return refuse("nested repetition operator (e.g. `a**`) is not RE2 syntax");
                }
                lazy_taken = was_repeat;
                after_repeat = true;
                let grown = last.saturating_mul(u64::from(count.max(1)));
                if let Some(s) = sizes.last_mut() {
                    *s = s.saturating_add(grown - last);
                }
                last = grown;
                out.extend(&chars[i..i + len]);
                i += len;
            }
            '|' | '^' | '$' | '.' => {
                if c == '.' {
                    atom(&mut sizes, &mut last, 1);
                }
                out.push(c);
                i += 1;
            }
            _ => {
                atom(&mut sizes, &mut last, 1);
                out.push(c);
                i += 1;
            }
        }
    }
    if case_insensitive && !pattern.is_ascii() {
        return refuse("`(?i)` with non-ASCII letters is not modelled (meshsim folds ASCII case only)");
    }
    let expanded = sizes.iter().fold(0u64, |a, &b| a.saturating_add(b));
    if expanded > MAX_EXPANDED {
        return Err(format!(
            "regex `{pattern}` expands to {expanded} items once its repeat counts are applied; meshsim matches \
             at most {MAX_EXPANDED} (its engine is slower than Envoy's on large patterns: write the repeat \
             with `+` or `*`, or match a prefix)"
        ));
    }
    Ok((out, expanded))
}

/// The index just past the `]` closing the bracket expression that opens at `start` (a `]`
/// right after `[` or `[^` is a literal; `[:alpha:]` and escapes are skipped whole).
fn class_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '[' if chars.get(i + 1) == Some(&':') => {
                let end = chars[i + 2..].windows(2).position(|w| w == [':', ']'])?;
                i += 2 + end + 2;
            }
            ']' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// At a `{`: the count of the repeat `{n}`, `{n,}` or `{n,m}` it starts (the larger bound;
/// `None` when it starts none and is a literal brace, as in RE2) and its length. Counts above
/// 1000 are refused, as RE2 refuses them.
fn repeat_count(s: &[char]) -> Result<(Option<u32>, usize), String> {
    let Some(end) = s.iter().position(|&c| c == '}') else {
        return Ok((None, 1));
    };
    let inner: String = s[1..end].iter().collect();
    let mut parts = inner.splitn(2, ',');
    let lo = parts.next().unwrap_or("");
    let hi = parts.next();
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(lo) || hi.is_some_and(|h| !h.is_empty() && !digits(h)) {
        return Ok((None, 1));
    }
    let mut count = 0;
    for n in std::iter::once(lo).chain(hi.filter(|h| !h.is_empty())) {
        match n.parse::<u32>() {
            Ok(v) if v <= MAX_REPEAT => count = count.max(v),
            _ => return Err(format!("repeat count {{{inner}}} is above RE2's limit of {MAX_REPEAT}")),
        }
    }
    Ok((Some(count), end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, v: &str) -> bool {
        Re2::new(p).unwrap_or_else(|e| panic!("{p}: {e}")).full_match(v)
    }

    /// Whole-value match, RE2's `FullMatch`: Envoy's `RegexRouteEntryImpl` and header matchers
    /// (`config_impl_test.cc` `TEST_F(RouteMatcherTest, Regex...)` cases: `/regex/[0-9]+` matches
    /// `/regex/1` but not `/regex/1/extra` nor `/xregex/1`).
    #[test]
    fn full_match_semantics() {
        assert!(m("/regex/[0-9]+", "/regex/1"));
        assert!(m("/regex/[0-9]+", "/regex/123"));
        assert!(!m("/regex/[0-9]+", "/regex/1/extra"));
        assert!(!m("/regex/[0-9]+", "/xregex/1"));
        assert!(m("/api/v[12]/.*", "/api/v2/cart"));
        assert!(!m("/api/v[12]/.*", "/api/v3/cart"));
        // Alternation is anchored as a whole, not per branch.
        assert!(!m("a|b", "ab"));
        assert!(m("a|b", "b"));
        assert!(m("(?i)chrome", "CHROME"));
        assert!(m(r"\d{3}", "503"));
        assert!(!m(r"\d{3}", "5030"));
        assert!(m("[[:alpha:]]+", "abc"));
        assert!(!m(".*", "a\nb"));
        assert!(m(r"\Qa.b\E", "a.b"));
        assert!(!m(r"\Qa.b\E", "axb"));
        assert!(m(r"x\Q*+\E", "x*+"));
    }

    #[test]
    fn literal_and_any_forms() {
        assert!(Re2::new(".*").unwrap().is_any());
        assert_eq!(Re2::new("v2").unwrap().literal(), Some("v2"));
        assert_eq!(Re2::new("v.2").unwrap().literal(), None);
        assert!(m("v2", "v2") && !m("v2", "v22"));
    }

    /// What Go's `regexp` (Istio's webhook) refuses, each by name.
    #[test]
    fn refuses_what_istio_refuses() {
        for (p, needle) in [
            ("", "should not be empty"),
            ("(?x) a b", "flag `x`"),
            ("(?R)a", "flag `R`"),
            (r"\<word\>", "not an RE2 escape"),
            (r"\b{start}a", "word boundaries"),
            ("a{1001}", "above RE2's limit"),
            ("a{2,1001}", "above RE2's limit"),
            ("a**", "nested repetition"),
            ("a+*", "nested repetition"),
            ("a*??", "nested repetition"),
            (r"(a)\1", "backreferences"),
            ("(?=a)", "look-around"),
            (r"\pL", "Unicode"),
            ("(?i)straße", "non-ASCII"),
            ("[a", "not valid RE2"),
            ("a\\", "trailing backslash"),
            ("(.*a){1100}", "above RE2's limit"),
            ("((.*a){30}){40}", "expands to 2400"),
            ("((a{100}){100}){100}", "expands to"),
        ] {
            let err = Re2::new(p).expect_err(p);
            assert!(err.contains(needle), "{p}: {err}");
        }
        assert!(Re2::new(&"a".repeat(1025)).unwrap_err().contains("at most 1024"));
        assert!(Re2::new(&format!("{}.", "a".repeat(1023))).is_ok());
        // Sizes: each item counts 1, a group its items, a repeat count multiplies.
        assert_eq!(Re2::new("(.*a){300}").unwrap().size(), 600);
        assert_eq!(Re2::new(r"/api/v[0-9]+/\d{3}").unwrap().size(), 11);
        assert_eq!(Re2::new("((ab){10}c){50}").unwrap().size(), 1050);
        assert_eq!(Re2::new("v2").unwrap().size(), 0);
    }

    /// Accepted forms that look close to the refused ones.
    #[test]
    fn accepts_valid_re2() {
        for p in [
            "a*?", "a+?", "a??", "a{2}?", "a{1000}", "x{", "x{a}", "(?i:a)b", "(?P<n>a)", "(?<n>a)", "(?s-m:.)",
            r"[\]]", "[]a]", "[^]a]", r"[*+]+",
        ] {
            assert!(Re2::new(p).is_ok(), "{p}: {:?}", Re2::new(p).err());
        }
        assert!(m("x{", "x{"));
        assert!(m("[*+]+", "*+*"));
        assert!(m("[]a]+", "]a"));
    }
}
