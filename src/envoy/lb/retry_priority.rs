//! The `previous_priorities` retry-priority plugin (envoy-semantics §4.6), after Envoy's
//! `source/extensions/retry/priority/previous_priorities/previous_priorities.cc`.

use super::priority::PriorityState;

/// `adjustForAttemptedPriorities` without the reset: the healthy and degraded loads recomputed
/// over the priorities not in `excluded`, from the unchanged per-priority `health` and
/// `degraded` availabilities. `None` when the remaining availability is 0.
///
/// Availability is `min(100, Σ health + degraded)` over the kept priorities. The load is handed
/// out like `distributeLoad`, healthy first then degraded, but inside a loop that repeats until
/// all 100 % is placed, so rounding leftovers go round the priorities again rather than to the
/// first available one. Panic is not considered (the plugin does not look at it).
/// `excluded` shorter than `health` means "not excluded" for the missing entries.
pub fn previous_priorities_load(health: &[u32], degraded: &[u32], excluded: &[bool]) -> Option<(Vec<u32>, Vec<u32>)> {
    let mut healthy_load = vec![0; health.len()];
    let mut degraded_load = vec![0; degraded.len()];
    if fill_previous_priorities_load(health, degraded, excluded, &mut healthy_load, &mut degraded_load) {
        Some((healthy_load, degraded_load))
    } else {
        None
    }
}

fn is_excluded(excluded: &[bool], p: usize) -> bool {
    excluded.get(p).copied().unwrap_or(false)
}

/// `adjustedAvailability`: the availability left after zeroing excluded priorities.
fn adjusted_availability(health: &[u32], degraded: &[u32], excluded: &[bool]) -> u32 {
    let total: u32 = (0..health.len())
        .filter(|&p| !is_excluded(excluded, p))
        .map(|p| health[p] + degraded.get(p).copied().unwrap_or(0))
        .sum();
    total.min(100)
}

fn fill_previous_priorities_load(
    health: &[u32],
    degraded: &[u32],
    excluded: &[bool],
    healthy_load: &mut [u32],
    degraded_load: &mut [u32],
) -> bool {
    let total = adjusted_availability(health, degraded, excluded);
    if total == 0 {
        return false;
    }
    healthy_load.iter_mut().for_each(|l| *l = 0);
    degraded_load.iter_mut().for_each(|l| *l = 0);
    let adj = |v: &[u32], p: usize| if is_excluded(excluded, p) { 0 } else { v[p] };
    let mut left = 100u32;
    // Terminates: some kept priority has availability a ≥ 1 and total ≤ 100, so a·100/total ≥ 1
    // is placed each round until nothing is left.
    while left != 0 {
        for (p, load) in healthy_load.iter_mut().enumerate() {
            let delta = left.min(adj(health, p) * 100 / total);
            *load += delta;
            left -= delta;
        }
        for (p, load) in degraded_load.iter_mut().enumerate() {
            let delta = left.min(adj(degraded, p) * 100 / total);
            *load += delta;
            left -= delta;
        }
    }
    true
}

/// The per-request state of the `previous_priorities` plugin (Istio configures it with
/// `update_frequency = 2` for `retryRemoteLocalities: true`).
///
/// The router calls [`on_host_attempted`](Self::on_host_attempted) for every attempt's host and
/// [`determine_priority_load`](Self::determine_priority_load) before each attempt's selection,
/// passing the result to `PickContext::priority_load`.
///
/// Decisions where Envoy's behaviour is an artefact of its call pattern:
/// * Envoy maps an attempted host to its priority when the load is determined
///   (`host.priority()`); this type records the priority at attempt time (the `Pick`'s
///   priority). They differ only if an EDS update moves a host between priorities mid-request.
/// * Envoy consults the plugin on every draw of host re-selection (§4.5). After a reset it has
///   cleared its attempted hosts, so its second and later draws of that attempt see the original
///   load. This type is consulted once per attempt, so all draws of the attempt use the same
///   load.
/// * Between updates (attempt counts that are not multiples of the frequency) Envoy returns the
///   last computed load; if no load was ever computed (the only update fell back to the
///   original), this type returns the original load rather than an empty one.
#[derive(Clone, Debug)]
pub struct PreviousPriorities {
    update_frequency: u32,
    attempted: Vec<usize>,
    excluded: Vec<bool>,
    healthy_load: Vec<u32>,
    degraded_load: Vec<u32>,
    has_load: bool,
}

impl PreviousPriorities {
    /// A fresh plugin for one request. `update_frequency` is at least 1 (Envoy's proto requires
    /// `> 0`; 0 is read as 1).
    pub fn new(update_frequency: u32) -> PreviousPriorities {
        PreviousPriorities {
            update_frequency: update_frequency.max(1),
            attempted: Vec::new(),
            excluded: Vec::new(),
            healthy_load: Vec::new(),
            degraded_load: Vec::new(),
            has_load: false,
        }
    }

    /// `onHostAttempted`: record the priority of a host selected for an attempt.
    pub fn on_host_attempted(&mut self, priority: usize) {
        self.attempted.push(priority);
    }

    /// `determinePriorityLoad`: `None` means "use the load balancer's own load"; otherwise the
    /// healthy and degraded loads to choose the priority from.
    pub fn determine_priority_load(&mut self, state: &PriorityState) -> Option<(&[u32], &[u32])> {
        let n_attempted = self.attempted.len() as u32;
        if n_attempted < self.update_frequency {
            return None;
        }
        if n_attempted.is_multiple_of(self.update_frequency) {
            let n = state.health.len();
            if self.excluded.len() < n {
                self.excluded.resize(n, false);
            }
            for &p in &self.attempted {
                if p < self.excluded.len() {
                    self.excluded[p] = true;
                }
            }
            self.healthy_load.resize(n, 0);
            self.degraded_load.resize(state.degraded_health.len(), 0);
            let mut ok = fill_previous_priorities_load(
                &state.health,
                &state.degraded_health,
                &self.excluded,
                &mut self.healthy_load,
                &mut self.degraded_load,
            );
            if !ok {
                // Nothing left: forget the exclusions (and the attempted hosts) and retry.
                self.excluded.iter_mut().for_each(|e| *e = false);
                self.attempted.clear();
                ok = fill_previous_priorities_load(
                    &state.health,
                    &state.degraded_health,
                    &self.excluded,
                    &mut self.healthy_load,
                    &mut self.degraded_load,
                );
            }
            if !ok {
                return None;
            }
            self.has_load = true;
        }
        if self.has_load { Some((&self.healthy_load, &self.degraded_load)) } else { None }
    }
}
