//! Duration strings as Istio manifests write them, parsed with Go's `time.ParseDuration` grammar
//! (`src/time/format.go`), which Istio's YAML loader accepts for `google.protobuf.Duration` fields.
//!
//! Grammar: an optional `+`, then either `0` or a sequence of `<decimal>[.<fraction>]<unit>` with
//! units `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m`, `h`: `"1s"`, `"100ms"`, `"1m30s"`, `"0.5s"`.
//! Negative durations are rejected (no Istio duration field accepts them). Fractions below one
//! nanosecond are truncated, as Go does.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::SimDuration;

/// Why a duration string was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    /// The string as written.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Largest duration Go can represent (`math.MaxInt64` ns); larger values are an overflow error.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a Go duration string such as `"1m30s"` into a [`SimDuration`].
pub fn parse_duration(input: &str) -> Result<SimDuration, DurationError> {
    let err = |reason| DurationError { input: input.to_string(), reason };
    let mut s = input;
    if let Some(rest) = s.strip_prefix('-') {
        if rest == "0" {
            return Ok(SimDuration::ZERO);
        }
        return Err(err("negative durations are not allowed"));
    }
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(SimDuration::ZERO);
    }
    if s.is_empty() {
        return Err(err("empty duration"));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let (whole, rest) = split_digits(s);
        let has_whole = !whole.is_empty();
        s = rest;
        let mut fraction = "";
        if let Some(rest) = s.strip_prefix('.') {
            let (f, rest) = split_digits(rest);
            fraction = f;
            s = rest;
            if !has_whole && fraction.is_empty() {
                return Err(err("expected a number"));
            }
        } else if !has_whole {
            return Err(err("expected a number"));
        }
        let unit_len = s.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(s.len());
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(err("missing unit (one of ns, us, ms, s, m, h)")),
            _ => return Err(err("unknown unit (expected one of ns, us, ms, s, m, h)")),
        };
        let whole_value: u128 = if has_whole { whole.parse().map_err(|_| err("number too large"))? } else { 0 };
        let mut part = whole_value.checked_mul(unit_ns).ok_or_else(|| err("overflow"))?;
        if !fraction.is_empty() {
            // Only the first 30 fraction digits can matter at nanosecond precision.
            let digits = &fraction[..fraction.len().min(30)];
            let numerator: u128 = digits.parse().map_err(|_| err("bad fraction"))?;
            let scale = 10u128.pow(digits.len() as u32);
            part += numerator.saturating_mul(unit_ns) / scale;
        }
        total = total.checked_add(part).ok_or_else(|| err("overflow"))?;
        if total > MAX_NANOS {
            return Err(err("overflow"));
        }
    }
    Ok(SimDuration::from_nanos(total as u64))
}

/// Splits the leading ASCII digits off `s`.
fn split_digits(s: &str) -> (&str, &str) {
    let n = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(n)
}

/// A duration field of an Istio manifest. Deserializes from a Go duration string and serializes
/// back to the shortest exact form (`"1s"`, `"250ms"`), so manifests round-trip through TOML/JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(pub SimDuration);

impl GoDuration {
    /// The duration as simulator time.
    pub fn get(self) -> SimDuration {
        self.0
    }
}

impl From<SimDuration> for GoDuration {
    fn from(d: SimDuration) -> Self {
        GoDuration(d)
    }
}

impl std::str::FromStr for GoDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(GoDuration)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"1s\", \"100ms\" or \"1m30s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GoDuration, E> {
                parse_duration(v).map(GoDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}
