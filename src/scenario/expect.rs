//! Expectations written in a scenario (`[[expect]]`), checked by `meshsim check` and shown in
//! each run's `report.html`.
//!
//! A scenario lists any number of expectations, each a TOML table with a `name` and a `kind`:
//!
//! | kind | measures | bound fields | where |
//! |---|---|---|---|
//! | `share` | a locality's share of upstream attempts | `min`, `max` (fractions) | window |
//! | `failover` | time from a fault until its localities' share stays ≤ `output.failover_share` | `within` | `fault` |
//! | `failback` | time from a recovery until the share returns to its first-phase value | `within` | `fault` |
//! | `errors` | client errors, all or one `cause` | `min`/`max` (counts), `min_ratio`/`max_ratio` (of finished requests) | window |
//! | `ejections` | ejections (by any proxy) of a locality's endpoints | `min`, `max` (counts) | window |
//! | `no-ejections` | same, bound 0 | — | window |
//! | `panic` | some proxy's load balancer has a priority in panic | — | window |
//! | `no-panic` | no proxy has a priority in panic | — | window |
//! | `latency` | a quantile of client latency | `max_latency` (duration), `quantile` (default 0.99) | window |
//!
//! The window is `phase = "<name>"`, or `from`/`to` durations (either may be left out: the run's
//! start and end), or the whole run. Slot-based measures (share, errors) round the window out to
//! the recorder's 100 ms slots; latency uses the output buckets whose start lies in the window.
//! `locality` is a Kubernetes cluster name, or a locality pattern `region[/zone[/sub_zone]]`
//! matching every locality that starts with those segments.

use serde::{Deserialize, Serialize};

use crate::engine::{SimDuration, SimTime};

use super::types::{FaultAction, FaultSpec, KubeClusterSpec, PhaseSpec, ServiceSpec};

/// One `[[expect]]` table as written. Which fields apply depends on `kind`; a field that does
/// not apply is an error.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Shown in reports; unique within the scenario.
    pub name: String,
    /// `share`, `failover`, `failback`, `errors`, `ejections`, `no-ejections`, `panic`,
    /// `no-panic` or `latency`.
    pub kind: String,
    /// Window: a phase name.
    #[serde(default)]
    pub phase: Option<String>,
    /// Window start (default: the run's start).
    #[serde(default)]
    pub from: Option<String>,
    /// Window end (default: the run's end).
    #[serde(default)]
    pub to: Option<String>,
    /// A cluster name or a locality pattern `region[/zone[/sub_zone]]`.
    #[serde(default)]
    pub locality: Option<String>,
    /// Lower bound: a share (fraction) or a count.
    #[serde(default)]
    pub min: Option<f64>,
    /// Upper bound: a share (fraction) or a count.
    #[serde(default)]
    pub max: Option<f64>,
    /// `errors`: upper bound on errors over finished requests (fraction).
    #[serde(default)]
    pub max_ratio: Option<f64>,
    /// `errors`: lower bound on errors over finished requests (fraction).
    #[serde(default)]
    pub min_ratio: Option<f64>,
    /// `errors`: count only this cause.
    #[serde(default)]
    pub cause: Option<String>,
    /// `failover` / `failback`: the fault's name (default: the only fault of that kind).
    #[serde(default)]
    pub fault: Option<String>,
    /// `failover` / `failback`: the bound on the measured time.
    #[serde(default)]
    pub within: Option<String>,
    /// `latency`: the quantile, in (0, 1] (default 0.99).
    #[serde(default)]
    pub quantile: Option<f64>,
    /// `latency`: the bound on the quantile.
    #[serde(default)]
    pub max_latency: Option<String>,
}

/// One named, validated expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Its name, shown in reports.
    pub name: String,
    /// What is measured and the bound.
    pub check: Check,
    /// The part of the run it looks at (failover and fail-back use their fault instead).
    pub window: Window,
}

/// The part of a run an expectation measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Window {
    /// The whole run.
    Run,
    /// A phase.
    Phase {
        /// Index into the scenario's phases.
        index: usize,
        /// Its name.
        name: String,
    },
    /// `[from, to)`.
    Span {
        /// Start.
        from: SimTime,
        /// End.
        to: SimTime,
    },
}

/// A client error cause (the columns of `client.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCause {
    /// The upstream answered 5xx.
    Upstream5xx,
    /// The last attempt failed to connect.
    ConnectFailure,
    /// No healthy upstream (Envoy flag UH).
    NoHealthyUpstream,
    /// Circuit-breaker overflow (UO).
    Overflow,
    /// Route or per-try timeout.
    Timeout,
}

impl ErrorCause {
    /// Every cause with its name in scenario files.
    pub const ALL: [(&'static str, ErrorCause); 5] = [
        ("upstream_5xx", ErrorCause::Upstream5xx),
        ("connect_failure", ErrorCause::ConnectFailure),
        ("no_healthy_upstream", ErrorCause::NoHealthyUpstream),
        ("overflow", ErrorCause::Overflow),
        ("timeout", ErrorCause::Timeout),
    ];

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, c)| *c == self).map(|(n, _)| *n).unwrap_or("?")
    }
}

/// What an expectation measures, with its bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The share of attempts to the localities matched by `locality` lies in `[min, max]`.
    Share {
        /// The selector as written.
        locality: String,
        /// Matched locality labels (`region/zone/sub_zone`).
        matched: Vec<String>,
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// The failover after fault `fault` completes within `within`.
    Failover {
        /// Index into the scenario's faults.
        fault: usize,
        /// Bound.
        within: SimDuration,
    },
    /// The fail-back after recovery `fault` completes within `within`.
    Failback {
        /// Index into the scenario's faults.
        fault: usize,
        /// Bound.
        within: SimDuration,
    },
    /// Client errors (of one cause, or all) stay within the bounds.
    Errors {
        /// Only this cause, or all.
        cause: Option<ErrorCause>,
        /// At least this many.
        min: Option<u64>,
        /// At most this many.
        max: Option<u64>,
        /// At least this fraction of finished requests.
        min_ratio: Option<f64>,
        /// At most this fraction of finished requests.
        max_ratio: Option<f64>,
    },
    /// Ejections of endpoints in the matched localities (by any proxy) within `[min, max]`.
    Ejections {
        /// The selector as written, or `None` for every locality.
        locality: Option<String>,
        /// Matched locality labels (empty = all).
        matched: Vec<String>,
        /// At least this many.
        min: u64,
        /// At most this many.
        max: Option<u64>,
    },
    /// Some proxy is (`expected`) or no proxy is (`!expected`) in panic during the window: some
    /// priority of its load balancer is below the panic threshold while the priorities together
    /// are under 100 % health.
    Panic {
        /// Whether panic is expected.
        expected: bool,
    },
    /// The `quantile` of client latency is at most `max`.
    Latency {
        /// In (0, 1].
        quantile: f64,
        /// Bound.
        max: SimDuration,
    },
}

impl Check {
    /// The `kind` as written in scenario files.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Share { .. } => "share",
            Check::Failover { .. } => "failover",
            Check::Failback { .. } => "failback",
            Check::Errors { .. } => "errors",
            Check::Ejections { max: Some(0), .. } => "no-ejections",
            Check::Ejections { .. } => "ejections",
            Check::Panic { expected: true, .. } => "panic",
            Check::Panic { expected: false, .. } => "no-panic",
            Check::Latency { .. } => "latency",
        }
    }
}

/// What expectations may refer to: the rest of the validated scenario.
#[derive(Debug, Clone, Copy)]
pub struct ExpectContext<'a> {
    /// Phases, in time order.
    pub phases: &'a [PhaseSpec],
    /// Faults, in time order.
    pub faults: &'a [FaultSpec],
    /// Kubernetes clusters (for locality selectors).
    pub clusters: &'a [KubeClusterSpec],
    /// The service (initial replica counts decide whether a `scale` fault restores).
    pub service: &'a ServiceSpec,
    /// Length of the run.
    pub run: SimDuration,
}

/// The kinds, for error messages.
const KINDS: &str = "\"share\", \"failover\", \"failback\", \"errors\", \"ejections\", \"no-ejections\", \"panic\", \"no-panic\", \"latency\"";

/// Whether a fault restores its localities (a fail-back follows) rather than degrading them (a
/// failover follows). Mirrors `metrics::report`: `recover`, or `scale` to at least the initial
/// replica count.
pub fn fault_restores(fault: &FaultSpec, service: &ServiceSpec) -> bool {
    match fault.action {
        FaultAction::Recover => true,
        FaultAction::Scale { replicas } => replicas >= service.deployments[fault.deployment].replicas.max(1),
        _ => false,
    }
}

/// Parses and checks `[[expect]]` tables. Errors are `(path, message)`, the path like
/// `expect[2].within`.
pub fn parse_expectations(raw: &[RawExpect], ctx: &ExpectContext<'_>) -> Result<Vec<Expectation>, (String, String)> {
    let mut out: Vec<Expectation> = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let p = Parser { path: format!("expect[{i}]"), raw: r, ctx };
        let e = p.parse()?;
        if out.iter().any(|o| o.name == e.name) {
            return Err(p.err("name", format!("`{}` is used by an earlier expectation; names must be unique", e.name)));
        }
        out.push(e);
    }
    Ok(out)
}

struct Parser<'a> {
    path: String,
    raw: &'a RawExpect,
    ctx: &'a ExpectContext<'a>,
}

impl Parser<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> (String, String) {
        (format!("{}.{field}", self.path), message.into())
    }

    fn parse(&self) -> Result<Expectation, (String, String)> {
        let r = self.raw;
        if r.name.trim().is_empty() {
            return Err(self.err("name", "must not be empty"));
        }
        let kind = r.kind.as_str();
        let check = match kind {
            "share" => self.share()?,
            "failover" | "failback" => self.transition(kind == "failover")?,
            "errors" => self.errors()?,
            "ejections" | "no-ejections" => self.ejections(kind == "no-ejections")?,
            "panic" | "no-panic" => {
                self.only(&[])?;
                Check::Panic { expected: kind == "panic" }
            }
            "latency" => self.latency()?,
            other => return Err(self.err("kind", format!("`{other}` is not one of {KINDS}"))),
        };
        let window = match check {
            Check::Failover { .. } | Check::Failback { .. } => Window::Run,
            _ => self.window()?,
        };
        Ok(Expectation { name: r.name.clone(), check, window })
    }

    /// Rejects fields given that the kind does not use (window fields are checked separately).
    fn only(&self, allowed: &[&str]) -> Result<(), (String, String)> {
        let r = self.raw;
        let present = [
            ("locality", r.locality.is_some()),
            ("min", r.min.is_some()),
            ("max", r.max.is_some()),
            ("max_ratio", r.max_ratio.is_some()),
            ("min_ratio", r.min_ratio.is_some()),
            ("cause", r.cause.is_some()),
            ("fault", r.fault.is_some()),
            ("within", r.within.is_some()),
            ("quantile", r.quantile.is_some()),
            ("max_latency", r.max_latency.is_some()),
        ];
        for (field, is) in present {
            if is && !allowed.contains(&field) {
                return Err(self.err(field, format!("does not apply to kind `{}`", r.kind)));
            }
        }
        Ok(())
    }

    fn duration(&self, field: &str, text: &str) -> Result<SimDuration, (String, String)> {
        text.parse::<SimDuration>().map_err(|e| self.err(field, e.to_string()))
    }

    fn window(&self) -> Result<Window, (String, String)> {
        let r = self.raw;
        if let Some(name) = &r.phase {
            if r.from.is_some() || r.to.is_some() {
                let field = if r.from.is_some() { "from" } else { "to" };
                return Err(self.err(field, "give either `phase` or `from`/`to`, not both"));
            }
            let index = self.ctx.phases.iter().position(|p| &p.name == name).ok_or_else(|| {
                let known: Vec<String> = self.ctx.phases.iter().map(|p| format!("\"{}\"", p.name)).collect();
                self.err("phase", format!("no phase named \"{name}\" (phases: {})", known.join(", ")))
            })?;
            return Ok(Window::Phase { index, name: name.clone() });
        }
        if r.from.is_none() && r.to.is_none() {
            return Ok(Window::Run);
        }
        let run = self.ctx.run;
        let at = |field: &str, text: &Option<String>, default: SimDuration| -> Result<SimTime, (String, String)> {
            let d = match text {
                Some(t) => self.duration(field, t)?,
                None => default,
            };
            Ok(SimTime(d.as_nanos()))
        };
        // A window past the end of a shortened run is clipped to it (and one that starts after
        // the end is dropped with the run's tail by validation).
        let from = at("from", &r.from, SimDuration::ZERO)?;
        let to = at("to", &r.to, run)?;
        let starts_in_run = from.as_nanos() < self.ctx.run.as_nanos();
        if to <= from && (starts_in_run || r.to.is_some()) {
            return Err(self.err("to", format!("must be after `from` ({from})")));
        }
        Ok(Window::Span { from, to })
    }

    /// Resolves a locality selector to the labels it matches.
    fn localities(&self, selector: &str) -> Result<Vec<String>, (String, String)> {
        let clusters = self.ctx.clusters;
        if let Some(c) = clusters.iter().find(|c| c.name == selector) {
            return Ok(vec![c.locality.to_string()]);
        }
        let mut out: Vec<String> = clusters
            .iter()
            .filter(|c| locality_selected(&c.locality.to_string(), selector))
            .map(|c| c.locality.to_string())
            .collect();
        out.sort();
        out.dedup();
        if out.is_empty() {
            let mut known: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
            known.extend(clusters.iter().map(|c| c.locality.to_string()));
            return Err(self.err(
                "locality",
                format!(
                    "`{selector}` is neither a cluster name nor a prefix of a locality (known: {})",
                    known.join(", ")
                ),
            ));
        }
        Ok(out)
    }

    fn fraction(&self, field: &str, v: Option<f64>) -> Result<Option<f64>, (String, String)> {
        match v {
            Some(x) if !(0.0..=1.0).contains(&x) => {
                Err(self.err(field, format!("{x} is not a fraction between 0 and 1")))
            }
            other => Ok(other),
        }
    }

    fn count(&self, field: &str, v: Option<f64>) -> Result<Option<u64>, (String, String)> {
        match v {
            Some(x) if !(x >= 0.0 && x.fract() == 0.0 && x < 1e15) => {
                Err(self.err(field, format!("{x} is not a count (a whole number ≥ 0)")))
            }
            Some(x) => Ok(Some(x as u64)),
            None => Ok(None),
        }
    }

    fn share(&self) -> Result<Check, (String, String)> {
        self.only(&["locality", "min", "max"])?;
        let r = self.raw;
        let locality = r.locality.clone().ok_or_else(|| self.err("locality", "is required for kind `share`"))?;
        let matched = self.localities(&locality)?;
        let min = self.fraction("min", r.min)?;
        let max = self.fraction("max", r.max)?;
        if min.is_none() && max.is_none() {
            return Err(self.err("max", "kind `share` needs `min`, `max` or both"));
        }
        let (min, max) = (min.unwrap_or(0.0), max.unwrap_or(1.0));
        if min > max {
            return Err(self.err("max", format!("{max} is below `min` ({min})")));
        }
        Ok(Check::Share { locality, matched, min, max })
    }

    fn transition(&self, failover: bool) -> Result<Check, (String, String)> {
        self.only(&["fault", "within"])?;
        let r = self.raw;
        for (field, present) in [("phase", r.phase.is_some()), ("from", r.from.is_some()), ("to", r.to.is_some())] {
            if present {
                return Err(
                    self.err(field, format!("does not apply to kind `{}`: it is timed from its `fault`", r.kind))
                );
            }
        }
        let within =
            r.within.as_ref().ok_or_else(|| self.err("within", format!("is required for kind `{}`", r.kind)))?;
        let within = self.duration("within", within)?;
        let (faults, service) = (self.ctx.faults, self.ctx.service);
        let wanted = |f: &FaultSpec| fault_restores(f, service) != failover;
        let what = if failover {
            "a fault that degrades (not `recover`, not a scale back up)"
        } else {
            "a recovery (`recover`, or `scale` back to the initial replicas)"
        };
        let fault = match &r.fault {
            Some(name) => {
                let i = faults.iter().position(|f| &f.name == name).ok_or_else(|| {
                    let known: Vec<String> = faults.iter().map(|f| format!("\"{}\"", f.name)).collect();
                    self.err("fault", format!("no fault named \"{name}\" (faults: {})", known.join(", ")))
                })?;
                if let Some(j) = faults.iter().skip(i + 1).position(|f| &f.name == name) {
                    return Err(self.err(
                        "fault",
                        format!(
                            "\"{name}\" is the name of faults[{i}] and faults[{}]; give the faults distinct `name`s",
                            i + 1 + j
                        ),
                    ));
                }
                if !wanted(&faults[i]) {
                    return Err(self.err("fault", format!("\"{name}\" is not {what}")));
                }
                i
            }
            None => {
                let candidates: Vec<usize> = (0..faults.len()).filter(|i| wanted(&faults[*i])).collect();
                match candidates.as_slice() {
                    [one] => *one,
                    [] => return Err(self.err("fault", format!("the scenario has no {what}"))),
                    _ => return Err(self.err("fault", "several faults qualify; name one")),
                }
            }
        };
        Ok(if failover { Check::Failover { fault, within } } else { Check::Failback { fault, within } })
    }

    fn errors(&self) -> Result<Check, (String, String)> {
        self.only(&["min", "max", "min_ratio", "max_ratio", "cause"])?;
        let r = self.raw;
        let cause = match &r.cause {
            None => None,
            Some(c) => Some(ErrorCause::ALL.iter().find(|(n, _)| n == c).map(|(_, k)| *k).ok_or_else(|| {
                let names: Vec<&str> = ErrorCause::ALL.iter().map(|(n, _)| *n).collect();
                self.err("cause", format!("`{c}` is not one of {}", names.join(", ")))
            })?),
        };
        let min = self.count("min", r.min)?;
        let max = self.count("max", r.max)?;
        let min_ratio = self.fraction("min_ratio", r.min_ratio)?;
        let max_ratio = self.fraction("max_ratio", r.max_ratio)?;
        if min.is_none() && max.is_none() && min_ratio.is_none() && max_ratio.is_none() {
            return Err(self.err("max", "kind `errors` needs a bound: `max`, `min`, `max_ratio` or `min_ratio`"));
        }
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                return Err(self.err("max", format!("{b} is below `min` ({a})")));
            }
        }
        if let (Some(a), Some(b)) = (min_ratio, max_ratio) {
            if a > b {
                return Err(self.err("max_ratio", format!("{b} is below `min_ratio` ({a})")));
            }
        }
        Ok(Check::Errors { cause, min, max, min_ratio, max_ratio })
    }

    fn ejections(&self, none: bool) -> Result<Check, (String, String)> {
        if none {
            self.only(&["locality"])?;
        } else {
            self.only(&["locality", "min", "max"])?;
        }
        let r = self.raw;
        let matched = match &r.locality {
            Some(l) => self.localities(l)?,
            None => Vec::new(),
        };
        let (min, max) = if none {
            (0, Some(0))
        } else {
            let min = self.count("min", r.min)?;
            let max = self.count("max", r.max)?;
            if min.is_none() && max.is_none() {
                return Err(self.err("max", "kind `ejections` needs `min`, `max` or both"));
            }
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    return Err(self.err("max", format!("{b} is below `min` ({a})")));
                }
            }
            (min.unwrap_or(0), max)
        };
        Ok(Check::Ejections { locality: r.locality.clone(), matched, min, max })
    }

    fn latency(&self) -> Result<Check, (String, String)> {
        self.only(&["quantile", "max_latency"])?;
        let r = self.raw;
        let quantile = r.quantile.unwrap_or(0.99);
        if !(quantile > 0.0 && quantile <= 1.0) {
            return Err(self.err("quantile", format!("{quantile} is not in (0, 1]")));
        }
        let text = r.max_latency.as_ref().ok_or_else(|| self.err("max_latency", "is required for kind `latency`"))?;
        Ok(Check::Latency { quantile, max: self.duration("max_latency", text)? })
    }
}

/// Whether locality label `label` (`region/zone/sub_zone`) is selected by `pattern`: the
/// pattern's `/`-separated segments equal the label's first segments.
pub fn locality_selected(label: &str, pattern: &str) -> bool {
    let mut l = label.split('/');
    pattern.split('/').all(|seg| l.next() == Some(seg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locality_patterns_match_whole_segments() {
        assert!(locality_selected("europe-west1/europe-west1-b", "europe-west1"));
        assert!(locality_selected("europe-west1/europe-west1-b", "europe-west1/europe-west1-b"));
        assert!(!locality_selected("europe-west1/europe-west1-b", "europe-west"));
        assert!(!locality_selected("europe-west1", "europe-west1/europe-west1-b"));
    }
}
