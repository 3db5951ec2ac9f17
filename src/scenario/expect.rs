//! Expectations written in a scenario (`[[expect]]`), checked by `meshsim check` and shown in
//! each run's `report.html`.
//!
//! A scenario lists any number of expectations, each a TOML table with a `name` and a `kind`:
//!
//! | kind | measures | bound fields | where |
//! |---|---|---|---|
//! | `share` | a locality's share of upstream attempts | `min`, `max` (fractions) | window |
//! | `failover` | time from a fault until its localities' share stays ≤ `output.failover_share` (`measure = "settled"`, the default) or first falls there (`"left"`) | `within` | `fault` |
//! | `failback` | time from a recovery until the share returns to its first-phase value | `within` | `fault` |
//! | `errors` | client errors, all or one `cause` | `min`/`max` (counts), `min_ratio`/`max_ratio` (of finished requests) | window |
//! | `ejections` | ejections of a locality's or one endpoint's hosts, by any proxy or one (`proxy`), of any multiplier or one (`multiplier`) | `min`, `max` (counts) | window |
//! | `no-ejections` | same, bound 0 | — | window |
//! | `ejection` | the `nth` (default 1st) ejection matching `endpoint`/`locality` and `proxy` whose start lies in the window | `at` (start), `multiplier`, `ejected_for` (until the tick that returned it), with `tolerance` for the two times (default 0s: exact) | window |
//! | `retries` | retries sent (all proxies) | `min`, `max` (counts) | window |
//! | `attempts` | upstream attempts (retries included) to `endpoint` or a `locality`'s hosts, by any proxy or one | `min`, `max` (counts) | a phase or the run |
//! | `panic` | some proxy's load balancer has a priority in panic | — | window |
//! | `no-panic` | no proxy has a priority in panic | — | window |
//! | `latency` | a quantile of client latency | `max_latency` (duration), `quantile` (default 0.99) | window |
//! | `in-flight` | client requests still in flight at an instant, all or only the `hung` ones (black-holed on an open connection, no timeout to end them) | `min`, `max` (counts) | `at`, a phase's end, or the run's end |
//! | `keys-moved` | of the workload users seen in a phase and the one before it (or the earlier phase `since`), the fraction whose requests went to another host (consistent hashing) | `min`, `max` (fractions) | a phase after the first |
//!
//! The window is `phase = "<name>"`, or `from`/`to` durations (either may be left out: the run's
//! start and end), or the whole run. Slot-based measures (share, errors) round the window out to
//! the recorder's 100 ms slots; latency uses the output buckets whose start lies in the window.
//! `locality` is a Kubernetes cluster name, or a locality pattern `region[/zone[/sub_zone]]`
//! matching every locality that starts with those segments. `endpoint` is a host as the outputs
//! name it (a pod `cluster/ordinal`, an east-west gateway replica by its gateway,
//! `eastwest-CLUSTER-N` such as `eastwest-cluster-b-0`); `proxy` a proxy replica (`ingress-0`), a proxy group (`ingress`) or an
//! east-west gateway replica. `ejections`, `no-ejections`, `ejection` and `attempts` may add
//! `subset`: a DestinationRule subset, counting only the proxies' clusters built for it
//! (`outbound|PORT|SUBSET|HOST`; without it every cluster counts), and `host`: `[service]`'s
//! host or a `[[services]]` host, counting only the clusters of that host (with `subset`: that
//! host's subset). A `[[services]]` host's pod is `cluster/NAME-ordinal`, NAME its host's first
//! label.
//!
//! Any expectation may add `set = ["PATH=VALUE", ...]`: it is then measured on a second run of
//! the scenario with those overrides (the same seed), not on the scenario's own run, e.g. the
//! same lesson on another Istio release. `meshsim check` runs these variants; `report.html` and
//! the teaching page show only the expectations of the run they show.
//!
//! A `share` over a window in which no upstream attempt was sent at all is undefined (0 of 0):
//! the expectation fails and says so, whatever its bounds, rather than reading it as 0.

use serde::{Deserialize, Serialize};

use crate::engine::{SimDuration, SimTime};

use super::types::{
    EastWestGatewaySpec, FaultAction, FaultSpec, KubeClusterSpec, PhaseSpec, ProxyGroupSpec, ServiceSpec,
};

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
    /// `failover`: which time `within` bounds, `"settled"` (default) or `"left"`.
    #[serde(default)]
    pub measure: Option<String>,
    /// `latency`: the quantile, in (0, 1] (default 0.99).
    #[serde(default)]
    pub quantile: Option<f64>,
    /// `latency`: the bound on the quantile.
    #[serde(default)]
    pub max_latency: Option<String>,
    /// `ejection(s)`, `attempts`: one host, `cluster/ordinal`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `ejection(s)`, `attempts`: one proxy replica or group.
    #[serde(default)]
    pub proxy: Option<String>,
    /// `ejection(s)`, `attempts`: only the proxies' Envoy clusters built for this
    /// DestinationRule subset (`outbound|PORT|SUBSET|HOST`).
    #[serde(default)]
    pub subset: Option<String>,
    /// `ejection(s)`, `attempts`: only the proxies' Envoy clusters of this host (`[service]`'s
    /// or a `[[services]]` entry's).
    #[serde(default)]
    pub host: Option<String>,
    /// `ejections`: count only ejections with this back-off multiplier; `ejection`: its
    /// expected multiplier.
    #[serde(default)]
    pub multiplier: Option<u32>,
    /// `ejection`: which matching ejection, 1 for the first (default 1).
    #[serde(default)]
    pub nth: Option<u32>,
    /// `ejection`: when it starts.
    #[serde(default)]
    pub at: Option<String>,
    /// `ejection`: how long it lasts.
    #[serde(default)]
    pub ejected_for: Option<String>,
    /// `ejection`: allowed distance of `at` and `ejected_for` from the measured times (default
    /// 0s: exact to the nanosecond).
    #[serde(default)]
    pub tolerance: Option<String>,
    /// `in-flight`: count only hung requests (sent on an open connection to a black-holed pod,
    /// with no timeout to end them).
    #[serde(default)]
    pub hung: Option<bool>,
    /// `keys-moved`: compare with this earlier phase instead of the one before (did the users
    /// come back to the host they had before a failure?).
    #[serde(default)]
    pub since: Option<String>,
    /// Overrides (`PATH=VALUE`, as `--set`) of a variant run on which this expectation is
    /// measured instead. Taken out of the tree by [`crate::scenario::from_tree`] before this
    /// table is read, so it is always `None` here; listed so that a misspelling is suggested.
    #[serde(default)]
    pub set: Option<Vec<String>>,
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
    /// An abort injected by the fault filter.
    FaultAbort,
    /// No route matched the request (404 NR).
    NoRoute,
}

impl ErrorCause {
    /// Every cause with its name in scenario files.
    pub const ALL: [(&'static str, ErrorCause); 7] = [
        ("upstream_5xx", ErrorCause::Upstream5xx),
        ("connect_failure", ErrorCause::ConnectFailure),
        ("no_healthy_upstream", ErrorCause::NoHealthyUpstream),
        ("overflow", ErrorCause::Overflow),
        ("timeout", ErrorCause::Timeout),
        ("fault_abort", ErrorCause::FaultAbort),
        ("no_route", ErrorCause::NoRoute),
    ];

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, c)| *c == self).map(|(n, _)| *n).unwrap_or("?")
    }
}

/// Which time of a failover a `failover` expectation bounds (`metrics::report` defines both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailoverMeasure {
    /// Until the share stays at or below the threshold (probes aside): the failover time.
    #[default]
    Settled,
    /// Until the share first falls to the threshold.
    Left,
}

impl FailoverMeasure {
    /// The name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            FailoverMeasure::Settled => "settled",
            FailoverMeasure::Left => "left",
        }
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
        /// Which time is bounded.
        measure: FailoverMeasure,
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
    /// Ejections matching `hosts` (and `multiplier`, when given) within `[min, max]`.
    Ejections {
        /// Which ejections count.
        hosts: HostFilter,
        /// Only ejections with this back-off multiplier.
        multiplier: Option<u32>,
        /// At least this many.
        min: u64,
        /// At most this many.
        max: Option<u64>,
    },
    /// The `nth` ejection matching `hosts` in the window starts at `at`, has `multiplier`, and
    /// lasts `ejected_for` (each when given; times within `tolerance`).
    Ejection {
        /// Which ejections are candidates.
        hosts: HostFilter,
        /// 1 for the first.
        nth: u32,
        /// Its start.
        at: Option<SimTime>,
        /// Its back-off multiplier.
        multiplier: Option<u32>,
        /// From its start to the tick that returned it (or its host leaving EDS).
        ejected_for: Option<SimDuration>,
        /// Allowed distance of the measured times.
        tolerance: SimDuration,
    },
    /// Retries sent (all proxies) within `[min, max]`.
    Retries {
        /// At least this many.
        min: u64,
        /// At most this many.
        max: Option<u64>,
    },
    /// Upstream attempts to the hosts matched by `hosts` within `[min, max]`.
    Attempts {
        /// Which proxy-host pairs count.
        hosts: HostFilter,
        /// At least this many.
        min: u64,
        /// At most this many.
        max: Option<u64>,
    },
    /// Of the users seen in the phase and the one before it (or phase `since`), the fraction
    /// sent to another host lies in `[min, max]` (`metrics::keys`).
    KeysMoved {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// The earlier phase compared with, by index and name; `None`: the one before.
        since: Option<(usize, String)>,
    },
    /// Client requests still in flight at `at`, else at the window's end (a phase's end, or the
    /// run's), all or only the hung ones, number in `[min, max]`.
    InFlight {
        /// Only requests that hang (no answer will come, no timeout will end them).
        hung: bool,
        /// The instant; `None`: the end of the window.
        at: Option<SimTime>,
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

/// Which hosts, and which proxies' view of them, an expectation looks at. Empty fields match
/// everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostFilter {
    /// The locality selector as written.
    pub locality: Option<String>,
    /// Matched locality labels (empty = all).
    pub matched: Vec<String>,
    /// One host, `cluster/ordinal`.
    pub endpoint: Option<String>,
    /// One proxy replica (`ingress-0`) or group (`ingress`).
    pub proxy: Option<String>,
    /// One DestinationRule subset: only the clusters built for it count.
    pub subset: Option<String>,
    /// One host (0: `[service]`, `h`: `[[services]]` entry `h - 1`) and its name as written:
    /// only its clusters count.
    pub host: Option<(u32, String)>,
}

impl HostFilter {
    /// Whether a proxy named `name` is selected: by its name, or by its group's
    /// (`ingress` selects `ingress-0`, `ingress-1`, ...).
    pub fn proxy_selected(&self, name: &str) -> bool {
        self.proxy.as_deref().is_none_or(|wanted| proxy_name_matches(name, wanted))
    }

    /// Whether an Envoy cluster of host `host` built for `subset` (`None`: the default cluster)
    /// is selected.
    pub fn cluster_selected(&self, host: u32, subset: Option<&str>) -> bool {
        self.subset.as_deref().is_none_or(|wanted| subset == Some(wanted))
            && self.host.as_ref().is_none_or(|(h, _)| *h == host)
    }

    /// Whether a host, by its name and locality label, is selected.
    pub fn host_selected(&self, endpoint: &str, locality: &str) -> bool {
        self.endpoint.as_deref().is_none_or(|e| e == endpoint)
            && (self.matched.is_empty() || self.matched.iter().any(|m| m == locality))
    }

    /// The filter in words, e.g. ` of a/0 by ingress`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.endpoint {
            s.push_str(&format!(" of {e}"));
        } else if let Some(l) = &self.locality {
            s.push_str(&format!(" of {l} endpoints"));
        }
        if let Some(p) = &self.proxy {
            s.push_str(&format!(" by {p}"));
        }
        if let Some(x) = &self.subset {
            s.push_str(&format!(" in subset {x}"));
        }
        if let Some((_, h)) = &self.host {
            s.push_str(&format!(" of host {h}"));
        }
        s
    }
}

/// A proxy named `name` is selected by `wanted`: its own name, or its group's name followed
/// by `-<replica>`.
pub fn proxy_name_matches(name: &str, wanted: &str) -> bool {
    name == wanted || name.rsplit_once('-').is_some_and(|(group, n)| group == wanted && n.parse::<u32>().is_ok())
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
            Check::Ejection { .. } => "ejection",
            Check::Retries { .. } => "retries",
            Check::Attempts { .. } => "attempts",
            Check::KeysMoved { .. } => "keys-moved",
            Check::Panic { expected: true, .. } => "panic",
            Check::Panic { expected: false, .. } => "no-panic",
            Check::Latency { .. } => "latency",
            Check::InFlight { .. } => "in-flight",
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
    /// The other hosts (`[[services]]`).
    pub services: &'a [super::types::OtherServiceSpec],
    /// Client proxy groups (for `proxy`).
    pub groups: &'a [ProxyGroupSpec],
    /// East-west gateways (their replicas are proxies too).
    pub gateways: &'a [EastWestGatewaySpec],
    /// Length of the run.
    pub run: SimDuration,
}

/// The kinds, for error messages.
const KINDS: &str = "\"share\", \"failover\", \"failback\", \"errors\", \"ejections\", \"no-ejections\", \"ejection\", \"retries\", \"attempts\", \"keys-moved\", \"panic\", \"no-panic\", \"latency\", \"in-flight\"";

/// The kinds, for suggestions.
const KIND_NAMES: [&str; 14] = [
    "share",
    "failover",
    "failback",
    "errors",
    "ejections",
    "no-ejections",
    "ejection",
    "retries",
    "attempts",
    "keys-moved",
    "panic",
    "no-panic",
    "latency",
    "in-flight",
];

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
            "ejection" => self.ejection()?,
            "retries" => {
                self.only(&["min", "max"])?;
                let (min, max) = self.count_bounds()?;
                Check::Retries { min, max }
            }
            "attempts" => self.attempts()?,
            "keys-moved" => self.keys_moved()?,
            "panic" | "no-panic" => {
                self.only(&[])?;
                Check::Panic { expected: kind == "panic" }
            }
            "latency" => self.latency()?,
            "in-flight" => self.in_flight()?,
            other => {
                let hint = crate::suggest::closest(other, KIND_NAMES)
                    .map(|k| format!("; did you mean \"{k}\"?"))
                    .unwrap_or_default();
                return Err(self.err("kind", format!("`{other}` is not one of {KINDS}{hint}")));
            }
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
            ("measure", r.measure.is_some()),
            ("quantile", r.quantile.is_some()),
            ("max_latency", r.max_latency.is_some()),
            ("endpoint", r.endpoint.is_some()),
            ("proxy", r.proxy.is_some()),
            ("subset", r.subset.is_some()),
            ("host", r.host.is_some()),
            ("multiplier", r.multiplier.is_some()),
            ("nth", r.nth.is_some()),
            ("at", r.at.is_some()),
            ("ejected_for", r.ejected_for.is_some()),
            ("tolerance", r.tolerance.is_some()),
            ("since", r.since.is_some()),
            ("hung", r.hung.is_some()),
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
        self.only(if failover { &["fault", "within", "measure"] } else { &["fault", "within"] })?;
        let r = self.raw;
        let measure = match r.measure.as_deref() {
            None | Some("settled") => FailoverMeasure::Settled,
            Some("left") => FailoverMeasure::Left,
            Some(other) => {
                return Err(self.err("measure", format!("`{other}` is not one of \"settled\", \"left\"")));
            }
        };
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
        Ok(if failover { Check::Failover { fault, within, measure } } else { Check::Failback { fault, within } })
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
        if let (Some(a), Some(b)) = (min, max)
            && a > b
        {
            return Err(self.err("max", format!("{b} is below `min` ({a})")));
        }
        if let (Some(a), Some(b)) = (min_ratio, max_ratio)
            && a > b
        {
            return Err(self.err("max_ratio", format!("{b} is below `min_ratio` ({a})")));
        }
        Ok(Check::Errors { cause, min, max, min_ratio, max_ratio })
    }

    /// `min`/`max` as counts, at least one given and `min ≤ max`.
    fn count_bounds(&self) -> Result<(u64, Option<u64>), (String, String)> {
        let r = self.raw;
        let min = self.count("min", r.min)?;
        let max = self.count("max", r.max)?;
        if min.is_none() && max.is_none() {
            return Err(self.err("max", format!("kind `{}` needs `min`, `max` or both", r.kind)));
        }
        if let (Some(a), Some(b)) = (min, max)
            && a > b
        {
            return Err(self.err("max", format!("{b} is below `min` ({a})")));
        }
        Ok((min.unwrap_or(0), max))
    }

    /// `locality`, `endpoint` and `proxy`, each checked against the scenario.
    fn host_filter(&self) -> Result<HostFilter, (String, String)> {
        let r = self.raw;
        if r.locality.is_some() && r.endpoint.is_some() {
            return Err(self.err("endpoint", "give either `locality` or `endpoint`, not both"));
        }
        let matched = match &r.locality {
            Some(l) => self.localities(l)?,
            None => Vec::new(),
        };
        if let Some(e) = &r.endpoint {
            self.check_endpoint(e)?;
        }
        if let Some(p) = &r.proxy {
            self.check_proxy(p)?;
        }
        if let Some(x) = &r.subset {
            self.check_subset(x)?;
        }
        let host = match &r.host {
            Some(h) => Some((self.check_host(h)?, h.clone())),
            None => None,
        };
        Ok(HostFilter {
            locality: r.locality.clone(),
            matched,
            endpoint: r.endpoint.clone(),
            proxy: r.proxy.clone(),
            subset: r.subset.clone(),
            host,
        })
    }

    /// `[service]`'s host or a `[[services]]` host (its index), else an error with a hint.
    fn check_host(&self, h: &str) -> Result<u32, (String, String)> {
        let known: Vec<&str> = std::iter::once(self.ctx.service.host.as_str())
            .chain(self.ctx.services.iter().map(|o| o.host.as_str()))
            .collect();
        if let Some(i) = known.iter().position(|k| k.eq_ignore_ascii_case(h)) {
            return Ok(i as u32);
        }
        let hint = known
            .iter()
            .copied()
            .find(|k| k.split('.').next() == Some(h))
            .or_else(|| crate::suggest::closest(h, known.iter().copied()))
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        Err(self.err(
            "host",
            format!(
                "no service `{h}`: the hosts are [service]'s and each [[services]] entry's ({}){hint}",
                known.join(", ")
            ),
        ))
    }

    /// A subset some proxy's DestinationRule defines (so that some proxy has a cluster for it).
    fn check_subset(&self, x: &str) -> Result<(), (String, String)> {
        let mut names: Vec<&str> = Vec::new();
        let rules = self
            .ctx
            .groups
            .iter()
            .flat_map(|g| std::iter::once(&g.selection).chain(&g.host_selections))
            .chain(self.ctx.gateways.iter().flat_map(|g| std::iter::once(&g.selection).chain(&g.host_selections)))
            .filter_map(|sel| sel.destination_rule.as_ref());
        for d in rules {
            for sub in d.spec.subsets.iter().flatten() {
                if !names.contains(&sub.name.as_str()) {
                    names.push(&sub.name);
                }
            }
        }
        if names.contains(&x) {
            return Ok(());
        }
        if names.is_empty() {
            return Err(self.err(
                "subset",
                format!("no DestinationRule in force defines subsets, so no proxy has a cluster for `{x}`"),
            ));
        }
        let hint = crate::suggest::closest(x, names.iter().copied())
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        Err(self.err(
            "subset",
            format!("no DestinationRule in force defines a subset `{x}` (subsets: {}){hint}", names.join(", ")),
        ))
    }

    /// A pod is `cluster/ordinal`; names without `/` (east-west gateway hosts) are checked when
    /// measured.
    fn check_endpoint(&self, e: &str) -> Result<(), (String, String)> {
        let Some((cluster, ordinal)) = e.split_once('/') else { return Ok(()) };
        let known = self.ctx.clusters.iter().any(|c| c.name == cluster);
        // A `[[services]]` host's pod: `cluster/NAME-ordinal`.
        let ordinal = self
            .ctx
            .services
            .iter()
            .filter_map(|o| ordinal.strip_prefix(o.host.split('.').next().unwrap_or(&o.host))?.strip_prefix('-'))
            .next()
            .unwrap_or(ordinal);
        if !known || ordinal.parse::<u32>().is_err() {
            let names: Vec<&str> = self.ctx.clusters.iter().map(|c| c.name.as_str()).collect();
            return Err(self.err(
                "endpoint",
                format!(
                    "`{e}` is not a pod: write `cluster/ordinal`, e.g. `{}/0` (clusters: {})",
                    names[0],
                    names.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// A proxy group, one of its replicas, or an east-west gateway replica.
    fn check_proxy(&self, p: &str) -> Result<(), (String, String)> {
        let mut names: Vec<String> = Vec::new();
        for g in self.ctx.groups {
            names.push(g.name.clone());
            names.extend((0..g.replicas).map(|r| format!("{}-{r}", g.name)));
        }
        for gw in self.ctx.gateways {
            let cluster = &self.ctx.clusters[gw.cluster.idx()].name;
            names.extend((0..gw.replicas).map(|r| format!("eastwest-{cluster}-{r}")));
        }
        if names.iter().any(|n| n == p) {
            return Ok(());
        }
        let groups: Vec<&str> = self.ctx.groups.iter().map(|g| g.name.as_str()).collect();
        let hint = crate::suggest::closest(p, names.iter().map(String::as_str))
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        Err(self.err(
            "proxy",
            format!(
                "no proxy or proxy group named `{p}` (groups: {}; a replica is `GROUP-N`){hint}",
                groups.join(", ")
            ),
        ))
    }

    fn ejections(&self, none: bool) -> Result<Check, (String, String)> {
        if none {
            self.only(&["locality", "endpoint", "proxy", "subset", "host"])?;
        } else {
            self.only(&["locality", "endpoint", "proxy", "subset", "host", "multiplier", "min", "max"])?;
        }
        let hosts = self.host_filter()?;
        let (min, max) = if none { (0, Some(0)) } else { self.count_bounds()? };
        Ok(Check::Ejections { hosts, multiplier: self.raw.multiplier, min, max })
    }

    fn ejection(&self) -> Result<Check, (String, String)> {
        self.only(&[
            "locality",
            "endpoint",
            "proxy",
            "subset",
            "host",
            "nth",
            "at",
            "multiplier",
            "ejected_for",
            "tolerance",
        ])?;
        let r = self.raw;
        let hosts = self.host_filter()?;
        let nth = r.nth.unwrap_or(1);
        if nth == 0 {
            return Err(self.err("nth", "counts from 1 (the first matching ejection)"));
        }
        let at = match &r.at {
            Some(t) => Some(SimTime(self.duration("at", t)?.as_nanos())),
            None => None,
        };
        let ejected_for = match &r.ejected_for {
            Some(t) => Some(self.duration("ejected_for", t)?),
            None => None,
        };
        if r.tolerance.is_some() && at.is_none() && ejected_for.is_none() {
            return Err(self.err("tolerance", "applies to `at` and `ejected_for`; give one of them"));
        }
        let tolerance = match &r.tolerance {
            Some(t) => self.duration("tolerance", t)?,
            None => SimDuration::ZERO,
        };
        Ok(Check::Ejection { hosts, nth, at, multiplier: r.multiplier, ejected_for, tolerance })
    }

    fn attempts(&self) -> Result<Check, (String, String)> {
        self.only(&["locality", "endpoint", "proxy", "subset", "host", "min", "max"])?;
        let r = self.raw;
        if r.from.is_some() || r.to.is_some() {
            let field = if r.from.is_some() { "from" } else { "to" };
            return Err(self.err(
                field,
                "attempts per host are counted per phase (hosts.csv): give a `phase`, or no window for the whole run",
            ));
        }
        let hosts = self.host_filter()?;
        let (min, max) = self.count_bounds()?;
        Ok(Check::Attempts { hosts, min, max })
    }

    fn in_flight(&self) -> Result<Check, (String, String)> {
        self.only(&["at", "hung", "min", "max"])?;
        let r = self.raw;
        if r.from.is_some() || r.to.is_some() {
            let field = if r.from.is_some() { "from" } else { "to" };
            return Err(self.err(
                field,
                "in-flight counts requests at one instant: give `at`, a `phase` (counted at its end), or neither \
                 (the run's end)",
            ));
        }
        let at = match &r.at {
            Some(_) if r.phase.is_some() => {
                return Err(self.err("at", "give either `at` or `phase` (counted at its end), not both"));
            }
            // One after the end of a run shortened with `--set duration` is dropped with the
            // run's tail (`validate::expectation_past_end`).
            Some(t) => Some(SimTime(self.duration("at", t)?.as_nanos())),
            None => None,
        };
        let (min, max) = self.count_bounds()?;
        Ok(Check::InFlight { hung: r.hung.unwrap_or(false), at, min, max })
    }

    fn keys_moved(&self) -> Result<Check, (String, String)> {
        self.only(&["min", "max", "since"])?;
        let r = self.raw;
        match &r.phase {
            None => {
                let field = if r.from.is_some() {
                    "from"
                } else if r.to.is_some() {
                    "to"
                } else {
                    "phase"
                };
                return Err(self.err(
                    field,
                    "keys moved compare a phase with the one before it: give the `phase` (not the first)",
                ));
            }
            Some(name) if self.ctx.phases.first().is_some_and(|p| &p.name == name) => {
                return Err(self.err(
                    "phase",
                    format!("\"{name}\" is the first phase: there is no phase before it to compare with"),
                ));
            }
            Some(_) => {}
        }
        let min = self.fraction("min", r.min)?;
        let max = self.fraction("max", r.max)?;
        if min.is_none() && max.is_none() {
            return Err(self.err("max", "kind `keys-moved` needs `min`, `max` or both"));
        }
        let (min, max) = (min.unwrap_or(0.0), max.unwrap_or(1.0));
        if min > max {
            return Err(self.err("max", format!("{max} is below `min` ({min})")));
        }
        let phase = self.ctx.phases.iter().position(|p| Some(&p.name) == r.phase.as_ref());
        let since = match &r.since {
            None => None,
            Some(name) => match self.ctx.phases.iter().position(|p| &p.name == name) {
                Some(j) if phase.is_some_and(|i| j < i) => Some((j, name.clone())),
                Some(_) => {
                    return Err(self.err(
                        "since",
                        format!(
                            "\"{name}\" is not before phase \"{}\": name an earlier phase",
                            r.phase.as_deref().unwrap_or("")
                        ),
                    ));
                }
                None => {
                    let names: Vec<String> = self.ctx.phases.iter().map(|p| format!("\"{}\"", p.name)).collect();
                    return Err(self.err("since", format!("no phase \"{name}\" (phases: {})", names.join(", "))));
                }
            },
        };
        Ok(Check::KeysMoved { min, max, since })
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
