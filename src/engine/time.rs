//! Virtual time: integer nanoseconds, never floating point.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Whole nanoseconds from a float: rounded toward zero, negative values and NaN give 0, values
/// past `u64::MAX` give `u64::MAX`. This is Rust's `as` conversion, which the language defines
/// the same way on every platform (no C library, no rounding mode); it is the one rule by which
/// a sampled float becomes virtual time.
#[inline]
pub fn nanos_from_f64(ns: f64) -> u64 {
    ns as u64
}

/// A point on the virtual clock, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable time, used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the start of the run.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed since `earlier`; zero if `earlier` is later than `self`.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// Seconds as a float, for reports and plots only (never for model arithmetic).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// A time given in whole milliseconds.
    pub const fn from_millis(ms: u64) -> SimTime {
        SimTime(ms * 1_000_000)
    }

    /// A time given in whole seconds.
    pub const fn from_secs(s: u64) -> SimTime {
        SimTime(s * 1_000_000_000)
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration in nanoseconds.
    pub const fn from_nanos(ns: u64) -> SimDuration {
        SimDuration(ns)
    }
    /// A duration from a float number of nanoseconds, rounded down: see [`nanos_from_f64`].
    #[inline]
    pub fn from_nanos_f64(ns: f64) -> SimDuration {
        SimDuration(nanos_from_f64(ns))
    }
    /// A duration in microseconds.
    pub const fn from_micros(us: u64) -> SimDuration {
        SimDuration(us * 1_000)
    }
    /// A duration in milliseconds.
    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms * 1_000_000)
    }
    /// A duration in seconds.
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * 1_000_000_000)
    }
    /// Nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Whole milliseconds, rounded down (Envoy's outlier arithmetic works in ms).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    /// Seconds as a float, for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Multiply, saturating at the largest duration.
    pub const fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
    /// True for the zero duration.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Panics in debug builds if `rhs` is later than `self`; use `saturating_since` when unsure.
    fn sub(self, rhs: SimTime) -> SimDuration {
        debug_assert!(self.0 >= rhs.0, "time went backwards: {} - {}", self.0, rhs.0);
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for SimTime {
    /// Seconds with millisecond precision, e.g. `61.250s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1_000_000_000, (self.0 / 1_000_000) % 1000)
    }
}

impl fmt::Display for SimDuration {
    /// The shortest exact unit among s, ms, us and ns, e.g. `30s`, `250ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            write!(f, "0s")
        } else if ns.is_multiple_of(1_000_000_000) {
            write!(f, "{}s", ns / 1_000_000_000)
        } else if ns.is_multiple_of(1_000_000) {
            write!(f, "{}ms", ns / 1_000_000)
        } else if ns.is_multiple_of(1_000) {
            write!(f, "{}us", ns / 1_000)
        } else {
            write!(f, "{}ns", ns)
        }
    }
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration: {reason} (expected e.g. \"250ms\", \"30s\", \"1m30s\")")]
pub struct ParseDurationError {
    /// The text given.
    pub text: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl std::str::FromStr for SimDuration {
    type Err = ParseDurationError;

    /// Go's `time.ParseDuration` format, which Istio uses: one or more decimal numbers, each
    /// with an optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g.
    /// `"1m30s"`, `"0.5s"`, `"100ms"`. A bare `"0"` is zero. Negative durations are rejected.
    fn from_str(text: &str) -> Result<SimDuration, ParseDurationError> {
        let err = |reason| ParseDurationError { text: text.to_string(), reason };
        // Go's `time.ParseDuration` (and so Istio) rejects spaces anywhere, leading and trailing
        // ones included; accepting " 5s" here would accept a scenario Istio would refuse.
        if text.trim() != text {
            return Err(err("it has a leading or trailing space"));
        }
        let s = text;
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if s.starts_with('-') {
            return Err(err("it is negative"));
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        let mut total: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            if num_len == 0 {
                return Err(err("a number is missing"));
            }
            let (num, after) = rest.split_at(num_len);
            let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_len);
            let unit_ns: u128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "" => return Err(err("a unit is missing")),
                _ => return Err(err("the unit is not one of ns, us, ms, s, m, h")),
            };
            let (int_part, frac_part) = match num.split_once('.') {
                Some((i, f)) => (i, f),
                None => (num, ""),
            };
            if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
                return Err(err("a number is malformed"));
            }
            let int: u128 =
                if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| err("a number is too large"))? };
            let mut value = int.checked_mul(unit_ns).ok_or_else(|| err("it is too large"))?;
            let mut scale = unit_ns;
            for d in frac_part.bytes() {
                scale /= 10;
                value += u128::from(d - b'0') * scale;
            }
            total = total.checked_add(value).ok_or_else(|| err("it is too large"))?;
            rest = next;
        }
        u64::try_from(total).map(SimDuration).map_err(|_| err("it is too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_become_nanoseconds_by_truncation() {
        assert_eq!(nanos_from_f64(1.999_999), 1);
        assert_eq!(nanos_from_f64(4e6), 4_000_000);
        assert_eq!(nanos_from_f64(-3.5), 0);
        assert_eq!(nanos_from_f64(f64::NAN), 0);
        assert_eq!(nanos_from_f64(1e30), u64::MAX);
        assert_eq!(SimDuration::from_nanos_f64(2.5e9), SimDuration::from_millis(2500));
    }

    #[test]
    fn display_picks_the_exact_unit() {
        assert_eq!(SimDuration::from_secs(30).to_string(), "30s");
        assert_eq!(SimDuration::from_millis(250).to_string(), "250ms");
        assert_eq!(SimDuration::from_micros(1500).to_string(), "1500us");
        assert_eq!(SimTime::from_millis(61_250).to_string(), "61.250s");
    }

    #[test]
    fn durations_parse_like_go() {
        let p = |s: &str| s.parse::<SimDuration>();
        assert_eq!(p("1m30s"), Ok(SimDuration::from_secs(90)));
        assert_eq!(p("0.5s"), Ok(SimDuration::from_millis(500)));
        assert_eq!(p("100ms"), Ok(SimDuration::from_millis(100)));
        assert_eq!(p("250us"), Ok(SimDuration::from_micros(250)));
        assert_eq!(p("1h"), Ok(SimDuration::from_secs(3600)));
        assert_eq!(p("0"), Ok(SimDuration::ZERO));
        for bad in ["", "5", "1x", "-1s", "1..2s", "s", "1s5", " 5s", "5s ", "1m 30s"] {
            assert!(p(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(SimTime(5).saturating_since(SimTime(9)), SimDuration::ZERO);
    }
}
