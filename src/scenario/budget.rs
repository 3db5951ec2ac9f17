//! The memory budget: from a validated scenario, an upper estimate of the memory one run needs,
//! checked against `[limits] max_memory` before anything is allocated.
//!
//! A run's memory grows with a few products of the scenario's sizes; each is a term here:
//!
//! | term | grows with | shrink it with |
//! | --- | --- | --- |
//! | time series | `duration` / 100 ms × localities, and `duration` / `output.bucket` (and, for a bucket that is not a whole number of 100 ms, `duration` / gcd(bucket, 100 ms) × localities) | `duration`, `output.bucket` |
//! | proxies × pods | client proxies and east-west gateway replicas × every pod the run creates (`replicas`, and the pods each scale-up adds), the latter also × phases for `hosts.csv` | `proxies[].replicas`, `service.deployments[].replicas`, `faults[].replicas` |
//! | pods | every pod the run creates | the same replicas |
//! | proxies × localities | proxies × localities (load-balancer and EDS state) | `proxies[].replicas`, `[[clusters]]` |
//! | requests in flight | `limits.max_in_flight`: request slots, their events, queues and client connections to east-west gateways | `limits.max_in_flight` |
//! | hash tables | proxies × localities × the ring or Maglev table of a consistent-hash cluster | `minimumRingSize`, `maglev.tableSize`, proxy `replicas` |
//! | users | a workload's `users` (which host each user's key maps to, in every phase) | `workload.users.count`, fewer faults |
//!
//! The per-item sizes below are upper bounds of what the model keeps (they include the doubling
//! of growing vectors); `tests/integration/limits.rs` runs scenarios near the budget under an
//! address-space limit to keep them honest. Not in the estimate: the event log (`events.jsonl`),
//! which grows with what happens (ejections, pushes) rather than with the scenario's size; it may
//! use what the estimate leaves of the budget (`Recorder::set_log_room`), and the run stops when
//! it outgrows that.
//!
//! A sweep adds a few hundred bytes per run and per point for its tables, and runs as many
//! simulations at once as the budget allows (see [`crate::sweep`]).

use std::mem::size_of;

use crate::input::human_bytes;
use crate::metrics::histogram::N_BUCKETS;
use crate::metrics::recorder::FINE_SLOT;

use super::{FaultAction, Scenario};

/// Default `limits.max_memory`: 4 GiB, a sixth of a 24 GiB build machine (room for a sweep's two
/// simulations and the rest of the machine) and safe on an 8 GiB laptop.
pub const MAX_MEMORY_DEFAULT: u64 = 4 << 30;
/// Default `limits.max_events`: 500 million events.
pub const MAX_EVENTS_DEFAULT: u64 = 500_000_000;
/// Default `limits.max_in_flight`: 100 000 client requests, a thousand times what the shipped
/// scenarios reach, and about 180 MB of the budget.
pub const MAX_IN_FLIGHT_DEFAULT: u64 = 100_000;

/// Bytes per fine slot and locality: four `u32` counters in the recorder and the `i64` of
/// ejected hosts the report derives.
const PER_SLOT_LOCALITY: u64 = 4 * 4 + 8;
/// Bytes per fine slot: requests, retries and one counter per outcome (success and each error).
const PER_SLOT: u64 = (1 + 1 + 1 + crate::metrics::recorder::ClientOutcome::ERRORS.len() as u64) * 4;
/// Bytes per output bucket: its latency histogram, its `client.csv` row and the chart points.
const PER_BUCKET: u64 = (N_BUCKETS as u64) * 4 + 64 + 1024;
/// Bytes per output bucket and locality: its `timeseries.csv` row (in memory and as text) and
/// the chart points.
const PER_BUCKET_LOCALITY: u64 = 512;
/// Bytes per (proxy, pod): the proxy's host record, pool counters, pending queue header,
/// outlier monitor, load-balancer entry and slow-start stamp, and its attempt counts for
/// `hosts.csv` (doubled for the growth of their vector).
const PER_PROXY_POD: u64 = 384 + 2 * size_of::<crate::metrics::recorder::HostCounts>() as u64;
/// Bytes per (phase, proxy, pod) that saw an attempt: the counts kept when the phase ends, and
/// its `hosts.csv` row (in memory, with its four names, and as text).
const PER_HOST_ROW: u64 = 512;
/// Bytes per pod: the pod, and its endpoint in istiod's snapshot at a push.
const PER_POD: u64 = 512;
/// Bytes per (proxy, locality): priorities and locality weights in the load balancer and the
/// proxy's endpoint assignment.
const PER_PROXY_LOCALITY: u64 = 256;
/// Bytes per proxy: settings, detector, balancer, random stream.
const PER_PROXY: u64 = 4096;
/// Bytes per client request allowed in flight: a request slot for it and one for a hop through an
/// east-west gateway (each with its `previous_priorities` state and up to 128 bytes of that
/// state's vectors), four pending events of 32 bytes, its places in a pool queue, a pod queue and
/// the free list, and the client connection it may hold to an east-west gateway replica; doubled
/// for the growth of the vectors that hold them.
const PER_IN_FLIGHT: u64 = 2
    * (2 * (size_of::<crate::model::request::Request>()
        + size_of::<Option<crate::envoy::lb::PreviousPriorities>>()
        + 128)
        + 4 * 32
        + 3 * 8
        + size_of::<crate::model::tunnel::Tunnel>()) as u64;
/// Bytes per ring entry while a ring is built (its hash and host, sorted as pairs, then split).
const PER_RING_ENTRY: u64 = 32;
/// Bytes per Maglev slot (a host index) and per slot of the fill's bookkeeping.
const PER_MAGLEV_SLOT: u64 = 4;
/// Bytes per cluster: its spec, locality and names.
const PER_CLUSTER: u64 = 512;
/// Bytes per route of a proxy group's table (its match, settings, destinations and label) and per
/// request class (its attributes, and its route in each table): bounded by `model::routes`'
/// and `[[workload.requests]]`'s limits, so never large, but proportional to the input.
const PER_ROUTE: u64 = 2048;
/// What every run needs whatever its size: the program, its threads' stacks and the fonts of
/// the charts.
pub const BASE: u64 = 64 << 20;

/// One product in the estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Short name, e.g. "time series".
    pub name: &'static str,
    /// Estimated bytes.
    pub bytes: u64,
    /// The sizes it multiplies, e.g. "36000000 slots of 100 ms × 2 localities".
    pub detail: String,
    /// The scenario keys that make it smaller.
    pub shrink: &'static str,
}

/// The estimate of one run: its terms, largest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// The terms, largest first.
    pub terms: Vec<Term>,
}

impl Estimate {
    /// The sum of the terms and [`BASE`] (saturating).
    pub fn total(&self) -> u64 {
        self.terms.iter().fold(BASE, |acc, t| acc.saturating_add(t.bytes))
    }

    /// The largest term.
    pub fn dominant(&self) -> &Term {
        &self.terms[0]
    }
}

/// Saturating product of sizes.
fn mul(xs: &[u64]) -> u64 {
    xs.iter().fold(1u64, |acc, &x| acc.saturating_mul(x))
}

/// Every pod the run creates: the initial replicas, the pods each scale-up adds, and the
/// east-west gateway replicas (each is an address, i.e. a host, too).
pub fn pods_created(s: &Scenario) -> u64 {
    let mut current: Vec<u64> = s.service.deployments.iter().map(|d| u64::from(d.replicas)).collect();
    let mut created: u64 = current.iter().sum();
    for f in &s.faults {
        if let FaultAction::Scale { replicas } = f.action {
            let target = u64::from(replicas);
            created = created.saturating_add(target.saturating_sub(current[f.deployment]));
            current[f.deployment] = target;
        }
    }
    let gateways: u64 = s.east_west_gateways.iter().map(|g| u64::from(g.replicas)).sum();
    created.saturating_add(gateways)
}

/// Number of distinct localities of the scenario's clusters.
pub fn n_localities(s: &Scenario) -> u64 {
    let mut l: Vec<&crate::envoy::config::Locality> = s.kube_clusters.iter().map(|c| &c.locality).collect();
    l.sort();
    l.dedup();
    l.len() as u64
}

/// The estimate of one run of `s`.
pub fn estimate(s: &Scenario) -> Estimate {
    let n_slots = s.duration.as_nanos().div_ceil(FINE_SLOT.as_nanos()).max(1);
    let n_buckets = s.duration.as_nanos().div_ceil(s.bucket.as_nanos().max(1)).max(1);
    // A bucket that is not a whole number of 100 ms slots is counted in finer slots too.
    let fine = crate::metrics::recorder::fine_slot(s.bucket);
    let n_fine = fine.map_or(0, |f| s.duration.as_nanos().div_ceil(f.as_nanos()).max(1));
    let n_loc = n_localities(s);
    let proxies: u64 = s.proxy_groups.iter().map(|g| u64::from(g.replicas)).sum::<u64>()
        + s.east_west_gateways.iter().map(|g| u64::from(g.replicas)).sum::<u64>();
    let pods = pods_created(s);
    let series = mul(&[n_slots, n_loc, PER_SLOT_LOCALITY])
        .saturating_add(mul(&[n_slots, PER_SLOT]))
        .saturating_add(mul(&[n_buckets, PER_BUCKET]))
        .saturating_add(mul(&[n_buckets, n_loc, PER_BUCKET_LOCALITY]))
        .saturating_add(mul(&[n_fine, n_loc, PER_SLOT_LOCALITY]))
        .saturating_add(mul(&[n_fine, PER_SLOT]));
    let mut terms = vec![
        Term {
            name: "time series",
            bytes: series,
            detail: match fine {
                None => format!(
                    "duration {} in {n_slots} slots of 100 ms and {n_buckets} buckets of {}, × {n_loc} localities",
                    s.duration, s.bucket
                ),
                Some(f) => format!(
                    "duration {} in {n_slots} slots of 100 ms, {n_fine} slots of {f} and {n_buckets} buckets of {}, \
                     × {n_loc} localities",
                    s.duration, s.bucket
                ),
            },
            shrink: "a shorter `duration` or a longer `output.bucket`",
        },
        Term {
            name: "proxies × pods",
            bytes: mul(&[proxies, pods, PER_PROXY_POD]).saturating_add(mul(&[
                proxies,
                pods,
                s.phases.len() as u64,
                PER_HOST_ROW,
            ])),
            detail: format!(
                "{proxies} proxies × {pods} pods created over the run, and their hosts.csv rows in {} phases",
                s.phases.len()
            ),
            shrink: "fewer `replicas` (proxies, deployments, scale faults)",
        },
        Term {
            name: "pods",
            bytes: mul(&[pods, PER_POD]),
            detail: format!("{pods} pods created over the run"),
            shrink: "fewer `replicas` (deployments, scale faults)",
        },
        Term {
            name: "proxies × localities",
            bytes: mul(&[proxies, n_loc, PER_PROXY_LOCALITY])
                .saturating_add(mul(&[proxies, PER_PROXY]))
                .saturating_add(mul(&[s.kube_clusters.len() as u64, PER_CLUSTER])),
            detail: format!("{proxies} proxies × {n_loc} localities, {} clusters", s.kube_clusters.len()),
            shrink: "fewer proxy `replicas` or `[[clusters]]`",
        },
        Term {
            name: "requests in flight",
            bytes: mul(&[s.max_in_flight, PER_IN_FLIGHT]),
            detail: format!("limits.max_in_flight = {}", s.max_in_flight),
            shrink: "a lower `limits.max_in_flight`",
        },
        hash_tables(s, proxies, n_loc, pods),
        subset_clusters(s, n_loc, pods),
        Term {
            name: "routes and request classes",
            bytes: mul(&[routes_and_classes(s), PER_ROUTE]),
            detail: format!("{} routes over the proxy groups' tables and request classes", routes_and_classes(s)),
            shrink: "fewer VirtualService `http` routes or `match` entries, fewer `[[workload.requests]]`",
        },
        Term {
            name: "users",
            bytes: mul(&[
                max_users(s),
                s.phases.len() as u64,
                crate::metrics::keys::KeyTracker::BYTES_PER_USER_PHASE as u64,
            ]),
            detail: format!("{} users × {} phases", max_users(s), s.phases.len()),
            shrink: "fewer `workload.users.count`, or fewer faults (phases)",
        },
    ];
    terms.retain(|t| t.bytes > 0 || t.name != "subset clusters");
    terms.sort_by_key(|t| std::cmp::Reverse(t.bytes));
    Estimate { terms }
}

/// Routes in every proxy group's table (one per `match` entry, as the selection counts them), and
/// the request classes with their headers.
fn routes_and_classes(s: &Scenario) -> u64 {
    let routes: u64 =
        s.proxy_groups.iter().map(|g| g.selection.route.as_ref().map_or(1, |r| r.entries.len() as u64)).sum();
    let classes: u64 = s.workload.iter().flat_map(|w| &w.requests).map(|c| 1 + c.attrs.headers.len() as u64).sum();
    routes.saturating_add(classes)
}

/// The clusters a proxy has beyond its default one (one per DestinationRule subset, and each
/// `[[services]]` host's default and subset clusters, `model::build::all_cluster_plans`): each holds per-pod host vectors, a balancer over the
/// localities and a detector of its own, as a proxy's default cluster does, and its own
/// `hosts.csv` rows per phase.
fn subset_clusters(s: &Scenario, n_loc: u64, pods: u64) -> Term {
    let count = |sel: &crate::istio::select::Selection| {
        sel.destination_rule.as_ref().map_or(0, |d| d.spec.subsets.as_ref().map_or(0, Vec::len) as u64)
    };
    // Per proxy: its subsets, and per other host one default cluster plus that host's subsets.
    let subsets = |main: &crate::istio::select::Selection, others: &[crate::istio::select::Selection]| {
        others.iter().fold(count(main), |n, o| n.saturating_add(1).saturating_add(count(o)))
    };
    let extra: u64 = s
        .proxy_groups
        .iter()
        .map(|g| u64::from(g.replicas).saturating_mul(subsets(&g.selection, &g.host_selections)))
        .chain(
            s.east_west_gateways
                .iter()
                .map(|g| u64::from(g.replicas).saturating_mul(subsets(&g.selection, &g.host_selections))),
        )
        .fold(0u64, u64::saturating_add);
    Term {
        name: "subset clusters",
        bytes: mul(&[extra, pods, PER_PROXY_POD])
            .saturating_add(mul(&[extra, pods, s.phases.len() as u64, PER_HOST_ROW]))
            .saturating_add(mul(&[extra, n_loc, PER_PROXY_LOCALITY]))
            .saturating_add(mul(&[extra, PER_PROXY])),
        detail: format!(
            "{extra} subset clusters (proxies × DestinationRule subsets, and × each [[services]] host's clusters) × \
             {pods} pods, and their hosts.csv rows in {} phases",
            s.phases.len()
        ),
        shrink: "fewer DestinationRule `subsets`, `[[services]]` or proxy `replicas`",
    }
}

/// The most users of a workload (the key tracker holds one record per user and phase).
fn max_users(s: &Scenario) -> u64 {
    s.workload.iter().filter_map(|w| w.users.as_ref()).map(|u| u64::from(u.count)).max().unwrap_or(0)
}

/// The consistent-hash tables: each proxy keeps one per priority (at most one per locality). A
/// Maglev table has `tableSize` slots. A ring has `scale` entries, `scale ≤ minimumRingSize +
/// 1/w_min` (the lightest host's normalised weight `w_min`, `hashing::Ring::build`), capped at
/// Envoy's `maximum_ring_size`; `1/w_min` is at most hosts × the spread of host weights (an
/// east-west gateway weighs up to pods × 100) × the spread of locality weights when they count
/// (up to localities × max(100, pods)). Istio selects the DestinationRule per proxy, so each client
/// proxy group and each east-west gateway counts with the tables of its own rule: one per Envoy
/// cluster it holds (the default one and one per subset, `model::build::cluster_plans`, each with
/// its merged policy); proxies' tables that are alike are summed into one part of the detail.
fn hash_tables(s: &Scenario, proxies: u64, n_loc: u64, pods: u64) -> Term {
    let sets: Vec<(u32, &crate::istio::select::Selection, &[crate::istio::select::Selection])> = s
        .proxy_groups
        .iter()
        .map(|g| (g.replicas, &g.selection, g.host_selections.as_slice()))
        .chain(s.east_west_gateways.iter().map(|g| (g.replicas, &g.selection, g.host_selections.as_slice())))
        .collect();
    // (replicas, entries per table, bytes per entry, what the table is), alike tables summed.
    let mut parts: Vec<(u64, u64, u64, String)> = Vec::new();
    for (replicas, sel, others) in sets {
        for plan in crate::model::build::all_cluster_plans(s, sel, others) {
            let (entries, per_entry, what) = hash_table(s, plan.policy.as_ref(), n_loc, pods);
            match parts.iter_mut().find(|p| p.1 == entries && p.2 == per_entry && p.3 == what) {
                Some(p) => p.0 = p.0.saturating_add(u64::from(replicas)),
                None => parts.push((u64::from(replicas), entries, per_entry, what)),
            }
        }
    }
    parts.retain(|p| p.1 > 0);
    let bytes = parts.iter().fold(0u64, |sum, p| sum.saturating_add(mul(&[p.0, n_loc, p.1, p.2])));
    let detail = if parts.is_empty() {
        format!("{proxies} proxies × {n_loc} priorities × no consistent hashing")
    } else {
        let list: Vec<String> =
            parts.iter().map(|p| format!("{} proxies × {n_loc} priorities × {}", p.0, p.3)).collect();
        list.join(" + ")
    };
    Term {
        name: "hash tables",
        bytes,
        detail,
        shrink: "a smaller `consistentHash` `minimumRingSize` or `maglev.tableSize`, or fewer proxy `replicas`",
    }
}

/// One proxy's consistent-hash table under traffic policy `tp`: entries, bytes per entry, and
/// what it is (no entries without consistent hashing).
fn hash_table(
    s: &Scenario,
    tp: Option<&crate::istio::manifest::TrafficPolicy>,
    n_loc: u64,
    pods: u64,
) -> (u64, u64, String) {
    use crate::envoy::config::LbPolicy;
    let (policy, _) = crate::istio::lb_policy::policy_and_slow_start(tp.and_then(|t| t.load_balancer.as_ref()));
    match policy {
        LbPolicy::Maglev { table_size } => {
            (table_size, PER_MAGLEV_SLOT, format!("Maglev tables of {table_size} slots"))
        }
        LbPolicy::RingHash { minimum_ring_size, maximum_ring_size } => {
            let host_spread = if s.east_west_gateways.is_empty() { 1 } else { pods.saturating_mul(100) };
            let mesh = &s.mesh.settings;
            let setting = crate::istio::translate::effective_lb_setting(tp, mesh).setting;
            let failover = tp.is_some_and(|t| t.outlier_detection.is_some());
            let weighted = s.service.traffic_distribution.is_some()
                || crate::istio::locality::needs_locality_weighted_config(
                    setting.as_ref(),
                    failover,
                    mesh.enable_locality_weighted_lb_config,
                );
            let locality_spread = if weighted { mul(&[n_loc, pods.max(100)]) } else { 1 };
            let inverse_min_weight = mul(&[pods, host_spread, locality_spread]);
            let ring = minimum_ring_size.saturating_add(inverse_min_weight).min(maximum_ring_size).saturating_add(pods);
            (ring, PER_RING_ENTRY, format!("rings of up to {ring} entries"))
        }
        _ => (0, 0, "no consistent hashing".to_string()),
    }
}

/// Refuses a run whose estimate exceeds `limits.max_memory`, naming the dominant term, what
/// shrinks it and the key that raises the budget.
pub fn check(s: &Scenario) -> Result<Estimate, String> {
    let e = estimate(s);
    if e.total() <= s.max_memory {
        return Ok(e);
    }
    Err(over_budget(&e, s.max_memory, "a run"))
}

/// The message for an estimate over the budget.
pub fn over_budget(e: &Estimate, budget: u64, what: &str) -> String {
    let d = e.dominant();
    format!(
        "{what} of this scenario would need about {} of memory, more than limits.max_memory = {}; \
         most of it is the {} ({}: {}); use {}, or raise limits.max_memory if the machine has the memory",
        human_bytes(e.total()),
        human_bytes(budget),
        d.name,
        human_bytes(d.bytes),
        d.detail,
        d.shrink,
    )
}

/// Parses a byte size: an integer (bytes) or a string `N[.F]UNIT` with a binary unit `B`,
/// `KiB`, `MiB`, `GiB`, `TiB` (`K`, `M`, `G`, `T` and `KB`, `MB`, `GB`, `TB` are read the same
/// way, as binary units).
pub fn parse_bytes(v: &toml::Value) -> Result<u64, String> {
    let text = match v {
        toml::Value::Integer(n) if *n >= 0 => return Ok(*n as u64),
        toml::Value::String(t) => t.as_str(),
        other => return Err(format!("`{other}` is not a size; write bytes or a size such as \"4GiB\" or \"512MiB\"")),
    };
    let bad = || format!("`{text}` is not a size; write bytes or a size such as \"4GiB\" or \"512MiB\"");
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let shift = match unit {
        "" | "B" => 0,
        "K" | "KB" | "KiB" => 10,
        "M" | "MB" | "MiB" => 20,
        "G" | "GB" | "GiB" => 30,
        "T" | "TB" | "TiB" => 40,
        "P" | "PB" | "PiB" => 50,
        "E" | "EB" | "EiB" => 60,
        _ => return Err(bad()),
    };
    let too_large = || format!("`{text}` is too large (at most 18446744073709551615 bytes)");
    let bytes: u128 = if number.contains('.') {
        let value: f64 = number.parse().map_err(|_| bad())?;
        let b = value * (1u128 << shift) as f64;
        if !b.is_finite() || b >= u64::MAX as f64 {
            return Err(too_large());
        }
        b as u128
    } else {
        let whole: u128 = number.parse().map_err(|_| if number.is_empty() { bad() } else { too_large() })?;
        whole.checked_mul(1u128 << shift).ok_or_else(too_large)?
    };
    u64::try_from(bytes).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units() {
        let s = |t: &str| parse_bytes(&toml::Value::String(t.into()));
        assert_eq!(s("4GiB"), Ok(4 << 30));
        assert_eq!(s("512MiB"), Ok(512 << 20));
        assert_eq!(s("1.5G"), Ok(1536 << 20));
        assert_eq!(s("100"), Ok(100));
        assert_eq!(parse_bytes(&toml::Value::Integer(7)), Ok(7));
        assert!(s("4 GiB").is_err());
        assert!(s("lots").is_err());
        assert!(s("1e30TiB").is_err());
        assert_eq!(s("18446744073709551615"), Ok(u64::MAX));
        assert!(s("16EiB").unwrap_err().contains("too large"));
        assert!(s("99999999999999999999999999999999999999999").unwrap_err().contains("too large"));
        assert!(parse_bytes(&toml::Value::Integer(-1)).is_err());
    }

    #[test]
    fn per_item_sizes_cover_the_model_types() {
        // An event in the queue: its time, its sequence number and the event.
        assert!(16 + size_of::<crate::model::event::Event>() <= 32);
        let host = (size_of::<crate::model::proxy::HostInfo>()
            + size_of::<crate::model::proxy::HostPool>()
            + size_of::<u32>()
            + size_of::<std::collections::VecDeque<(u32, u32)>>()
            + crate::envoy::lb::slow_start::SlowStart::BYTES_PER_HOST) as u64;
        assert!(host + 200 <= PER_PROXY_POD, "per-host records are {host} bytes");
        let pod = size_of::<crate::model::pod::Pod>() as u64;
        assert!(pod + 256 <= PER_POD, "Pod is {pod} bytes");
    }
}
