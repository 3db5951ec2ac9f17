//! Priority health, priority load, panic and priority choice (envoy-semantics §2.2–§2.4), and the
//! effective locality weight (§2.6): pure integer arithmetic, as in Envoy's
//! `load_balancer_impl.cc` (`recalculatePerPriorityState`, `distributeLoad`,
//! `recalculatePerPriorityPanic`, `isHostSetInPanic`, `recalculateLoadInTotalPanic`,
//! `choosePriority`) and `locality_wrr.cc` (`effectiveLocalityWeight`).

/// The health of one priority in percent: `min(100, ⌊opf × healthy / total⌋)`, 0 when
/// `total == 0` (§2.2). `total` is `|hosts| − |excluded|`; integer arithmetic as in Envoy.
pub fn priority_health(healthy: u32, total: u32, opf: u32) -> u32 {
    if total == 0 {
        return 0;
    }
    (u64::from(opf) * u64::from(healthy) / u64::from(total)).min(100) as u32
}

/// Host counts of one priority, the input of [`compute_priority_state`].
///
/// `healthy`, `degraded` and `excluded` are disjoint subsets of `hosts` (§2.1). With Envoy's
/// `weighted_priority_health` (never set by Istio) `healthy`, `degraded` and `hosts − excluded`
/// would be weight sums for the health computation; this type carries counts, and callers who
/// want the weighted variant may pass weight sums, at the price of the panic test (which Envoy
/// always does on host counts) also using them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PriorityCounts {
    /// All hosts of the priority, excluded ones included (`hosts()`).
    pub hosts: u32,
    /// Healthy hosts (`healthyHosts()`).
    pub healthy: u32,
    /// Degraded hosts (`degradedHosts()`).
    pub degraded: u32,
    /// Excluded hosts (`excludedHosts()`), subtracted from the denominators.
    pub excluded: u32,
}

impl PriorityCounts {
    /// `|hosts| − |excluded|`, the denominator of the health and panic computations.
    #[inline]
    pub fn denominator(&self) -> u32 {
        self.hosts.saturating_sub(self.excluded)
    }
}

/// Which host class a priority pick targets (`LoadBalancerBase::HostAvailability`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Availability {
    /// The pick came from the healthy loads; use healthy hosts.
    Healthy,
    /// The pick came from the degraded loads; use degraded hosts.
    Degraded,
}

/// The per-priority health, load and panic state of one cluster, as one Envoy load balancer
/// holds it (`per_priority_health_`, `per_priority_degraded_`, `per_priority_load_`,
/// `per_priority_panic_`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriorityState {
    /// Healthy availability per priority, 0..=100 (§2.2).
    pub health: Vec<u32>,
    /// Degraded availability per priority, 0..=100.
    pub degraded_health: Vec<u32>,
    /// Share of requests, in percent, that go to each priority's healthy hosts.
    pub healthy_load: Vec<u32>,
    /// Share of requests, in percent, that go to each priority's degraded hosts.
    pub degraded_load: Vec<u32>,
    /// Whether each priority is in panic (picks from all its hosts, §2.3).
    pub in_panic: Vec<bool>,
    /// Every priority is in panic; loads are by raw host counts.
    pub total_panic: bool,
    /// `N = min(100, Σ (health + degraded))`.
    pub normalized_total: u32,
}

/// `distributeLoad`: hand out `total_load` in priority order, each priority taking up to
/// `⌊availability × 100 / normalized⌋`. Returns the first priority with non-zero availability and
/// the load left over.
fn distribute_load(
    load: &mut [u32],
    availability: &[u32],
    mut total_load: u32,
    normalized: u32,
) -> (Option<usize>, u32) {
    let mut first_available = None;
    for (i, (l, &a)) in load.iter_mut().zip(availability).enumerate() {
        if first_available.is_none() && a > 0 {
            first_available = Some(i);
        }
        *l = total_load.min(a * 100 / normalized);
        total_load -= *l;
    }
    (first_available, total_load)
}

/// `isHostSetInPanic`: `100·healthy/T + 100·degraded/T < threshold`, in doubles with a strict
/// `<`; a priority with `T = 0` counts as 0 %.
fn is_in_panic(c: &PriorityCounts, threshold: u32) -> bool {
    let t = c.denominator();
    let (h, d) = if t == 0 {
        (0.0, 0.0)
    } else {
        (100.0 * f64::from(c.healthy) / f64::from(t), 100.0 * f64::from(c.degraded) / f64::from(t))
    };
    h + d < f64::from(threshold)
}

/// Health, loads and panic of every priority (§2.2 and §2.3).
///
/// `counts` has one entry per priority; an empty slice is treated as one empty P0, because
/// Envoy always has a P0 host set. `opf` is the overprovisioning factor in percent (140 by
/// default) and `panic_threshold` the healthy panic threshold in percent (clamped to 100).
///
/// Where Envoy leaves stale loads in place (N = 0 with threshold 0, N = 0 without total panic,
/// or no hosts at all in total panic) this function sets them to 0 before giving P0 100 %; the
/// cumulative walk of [`choose_priority`] stops at P0 either way, so picks are the same as
/// Envoy's and the loads always sum to 100.
pub fn compute_priority_state(counts: &[PriorityCounts], opf: u32, panic_threshold: u32) -> PriorityState {
    const EMPTY: [PriorityCounts; 1] = [PriorityCounts { hosts: 0, healthy: 0, degraded: 0, excluded: 0 }];
    let counts = if counts.is_empty() { &EMPTY[..] } else { counts };
    let n = counts.len();
    let health: Vec<u32> = counts.iter().map(|c| priority_health(c.healthy, c.denominator(), opf)).collect();
    let degraded_health: Vec<u32> = counts.iter().map(|c| priority_health(c.degraded, c.denominator(), opf)).collect();
    let normalized_total = health.iter().zip(&degraded_health).map(|(h, d)| h + d).sum::<u32>().min(100);

    let mut s = PriorityState {
        health,
        degraded_health,
        healthy_load: vec![0; n],
        degraded_load: vec![0; n],
        in_panic: vec![false; n],
        total_panic: false,
        normalized_total,
    };

    if normalized_total > 0 {
        let (first_healthy, remaining) = distribute_load(&mut s.healthy_load, &s.health, 100, normalized_total);
        let (first_degraded, remaining) =
            distribute_load(&mut s.degraded_load, &s.degraded_health, remaining, normalized_total);
        if remaining != 0 {
            match (first_healthy, first_degraded) {
                (Some(p), _) => s.healthy_load[p] += remaining,
                (None, Some(p)) => s.degraded_load[p] += remaining,
                // Unreachable: N > 0 means some priority has availability.
                (None, None) => s.healthy_load[0] += remaining,
            }
        }
    }

    // recalculatePerPriorityPanic.
    let threshold = panic_threshold.min(100);
    if threshold == 0 && normalized_total == 0 {
        s.healthy_load[0] = 100;
        return s;
    }
    let mut total_panic = true;
    for (p, c) in counts.iter().enumerate() {
        s.in_panic[p] = normalized_total != 100 && is_in_panic(c, threshold);
        total_panic &= s.in_panic[p];
    }
    s.total_panic = total_panic;
    if normalized_total == 0 && !total_panic {
        // N = 0 with a positive threshold, yet some priority is not in panic: possible only when
        // healthy% + degraded% reaches the threshold while both availabilities floor to 0 (for
        // example 1 healthy and 1 degraded host out of 150 with threshold 1). Envoy keeps stale
        // loads here and, when they are zero, `choosePriority` falls back to (P0, healthy);
        // giving P0 100 % makes the same pick and keeps the loads summing to 100.
        s.healthy_load[0] = 100;
        return s;
    }
    if total_panic {
        // recalculateLoadInTotalPanic: raw host counts, excluded hosts included.
        let total_hosts: u64 = counts.iter().map(|c| u64::from(c.hosts)).sum();
        s.healthy_load.iter_mut().for_each(|l| *l = 0);
        s.degraded_load.iter_mut().for_each(|l| *l = 0);
        if total_hosts == 0 {
            s.healthy_load[0] = 100;
            return s;
        }
        let mut left = 100u32;
        for (p, c) in counts.iter().enumerate() {
            let l = (100 * u64::from(c.hosts) / total_hosts) as u32;
            s.healthy_load[p] = l;
            left -= l;
        }
        let first_nonempty = counts.iter().position(|c| c.hosts != 0).unwrap_or(0);
        s.healthy_load[first_nonempty] += left;
    }
    s
}

/// `choosePriority` over the state's own loads (§2.4). `hash_1_to_100` is `(random() mod 100) + 1`.
pub fn choose_priority(state: &PriorityState, hash_1_to_100: u32) -> (usize, Availability) {
    choose_priority_with_load(&state.healthy_load, &state.degraded_load, hash_1_to_100)
}

/// `choosePriority` over explicit loads (for a retry plugin's override): the first priority
/// whose cumulative healthy load reaches `hash_1_to_100` is a healthy pick; failing that, the
/// walk continues over the degraded loads. Loads that do not reach the hash give
/// `(0, Healthy)`, as Envoy's fallback does.
pub fn choose_priority_with_load(
    healthy_load: &[u32],
    degraded_load: &[u32],
    hash_1_to_100: u32,
) -> (usize, Availability) {
    let mut acc = 0u32;
    for (p, &l) in healthy_load.iter().enumerate() {
        acc += l;
        if hash_1_to_100 <= acc {
            return (p, Availability::Healthy);
        }
    }
    for (p, &l) in degraded_load.iter().enumerate() {
        acc += l;
        if hash_1_to_100 <= acc {
            return (p, Availability::Degraded);
        }
    }
    (0, Availability::Healthy)
}

/// The effective weight of a locality (§2.6, `LocalityWrr::effectiveLocalityWeight`):
/// `weight × min(1, (opf/100) × eligible / (hosts − excluded))` in doubles, evaluated in
/// Envoy's order so that the result is bit-identical; 0 when the denominator is 0.
pub fn effective_locality_weight(weight: u32, eligible: u32, hosts_minus_excluded: u32, opf: u32) -> f64 {
    if hosts_minus_excluded == 0 {
        return 0.0;
    }
    let availability_ratio = 1.0 * f64::from(eligible) / f64::from(hosts_minus_excluded);
    let effective_ratio = (f64::from(opf) / 100.0 * availability_ratio).min(1.0);
    f64::from(weight) * effective_ratio
}
