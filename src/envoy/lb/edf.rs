//! Envoy's earliest-deadline-first scheduler (`source/common/upstream/edf_scheduler.h`), used
//! for locality picking (§2.6) and weighted host picking (§2.7).
//!
//! Entries are positions `0..n` into a list the owner keeps; the owner supplies the weight of a
//! position when it is re-inserted. Picks never allocate: a pick replaces the heap's top with
//! its new deadline and sifts it down once (Envoy pops it and pushes it back; the entries are
//! totally ordered by `(deadline, order)`, `order` unique, so any heap yields the same picks).

use std::cmp::Ordering;

/// Envoy caps the emulated pre-picks at `u32::MAX / 10` (`createWithPicks`).
const MAX_PICKS: u32 = 429_496_729;

/// Envoy adds this to every weight when emulating pre-picks, so that weights that are multiples
/// of each other do not produce deadlines that differ from one-by-one picking.
const PREPICK_EPSILON: f64 = 1e-13;

#[derive(Clone, Copy, Debug)]
struct Entry {
    deadline: f64,
    order: u64,
    pos: u32,
}

impl Entry {
    /// Whether `self` is picked before `other`: the earlier deadline, ties going to the earlier
    /// insertion (`order_offset_`).
    #[inline(always)]
    fn before(&self, other: &Entry) -> bool {
        match self.deadline.total_cmp(&other.deadline) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => self.order < other.order,
        }
    }
}

/// A binary min-heap of entries by [`Entry::before`].
#[derive(Clone, Debug, Default)]
struct MinHeap {
    v: Vec<Entry>,
}

impl MinHeap {
    fn with_capacity(n: usize) -> MinHeap {
        MinHeap { v: Vec::with_capacity(n) }
    }

    fn push(&mut self, e: Entry) {
        let v = &mut self.v;
        let mut i = v.len();
        v.push(e);
        while i > 0 {
            let parent = (i - 1) / 2;
            if !e.before(&v[parent]) {
                break;
            }
            v[i] = v[parent];
            i = parent;
        }
        v[i] = e;
    }

    /// Replaces the top entry (the heap must not be empty) by `e` and restores the order.
    #[inline(always)]
    fn replace_top(&mut self, e: Entry) {
        let v = &mut self.v[..];
        let n = v.len();
        let mut i = 0;
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && v[right].before(&v[left]) { right } else { left };
            if !v[child].before(&e) {
                break;
            }
            v[i] = v[child];
            i = child;
        }
        v[i] = e;
    }
}

/// An EDF scheduler over positions `0..n`.
#[derive(Clone, Debug, Default)]
pub struct EdfScheduler {
    heap: MinHeap,
    current_time: f64,
    order_offset: u64,
}

impl EdfScheduler {
    /// `EdfScheduler::createWithPicks`: a scheduler over `weights` (all positive) in the state it
    /// would have after `picks` picks (`picks` is taken modulo `u32::MAX / 10` as in Envoy).
    /// Envoy emulates `⌊P·wᵢ/W⌋` picks per entry with an epsilon added to every weight, then
    /// performs the remaining (fewer than n) picks one by one with the plain weights.
    pub fn create_with_picks(weights: &[f64], picks: u32) -> EdfScheduler {
        let picks = picks % MAX_PICKS;
        if weights.is_empty() {
            return EdfScheduler::default();
        }
        debug_assert!(weights.iter().all(|&w| w > 0.0), "EDF weights must be positive");
        let aug = |w: f64| w + PREPICK_EPSILON;
        let weights_sum: f64 = weights.iter().fold(0.0, |s, &w| s + aug(w));
        let mut heap = MinHeap::with_capacity(weights.len());
        let mut picks_so_far: u32 = 0;
        let mut max_pick_time = 0.0f64;
        for (i, &w) in weights.iter().enumerate() {
            let weight = aug(w);
            let mut floor_picks = (weight * f64::from(picks) / weights_sum) as u32;
            if floor_picks > 0 && f64::from(floor_picks) / weight >= f64::from(picks) / weights_sum {
                floor_picks -= 1;
            }
            let pick_time = f64::from(floor_picks) / weight;
            let deadline = f64::from(floor_picks + 1) / weight;
            heap.push(Entry { deadline, order: i as u64, pos: i as u32 });
            max_pick_time = max_pick_time.max(pick_time);
            picks_so_far += floor_picks;
        }
        let mut s = EdfScheduler { heap, current_time: max_pick_time, order_offset: weights.len() as u64 };
        while picks_so_far < picks {
            s.pick_and_add(|pos| weights[pos]);
            picks_so_far += 1;
        }
        s
    }

    /// `pickAndAdd`: take the entry with the earliest deadline, advance the scheduler's time to
    /// it, and re-insert it with deadline `now + 1/weight(pos)`. `None` when empty.
    #[inline]
    pub fn pick_and_add(&mut self, weight: impl Fn(usize) -> f64) -> Option<usize> {
        let top = *self.heap.v.first()?;
        self.current_time = top.deadline;
        let pos = top.pos as usize;
        let weight = weight(pos);
        debug_assert!(weight > 0.0, "EDF weight must be positive");
        // The same deadline and order as `add` would give it.
        let deadline = self.current_time + 1.0 / weight;
        self.heap.replace_top(Entry { deadline, order: self.order_offset, pos: top.pos });
        self.order_offset += 1;
        Some(pos)
    }

    /// `add`: insert `pos` with deadline `now + 1/weight`.
    #[inline]
    pub fn add(&mut self, weight: f64, pos: usize) {
        debug_assert!(weight > 0.0, "EDF weight must be positive");
        let deadline = self.current_time + 1.0 / weight;
        self.heap.push(Entry { deadline, order: self.order_offset, pos: pos as u32 });
        self.order_offset += 1;
    }

    /// The queued `(deadline, position)` pairs in pick order (for tests comparing schedulers).
    #[cfg(test)]
    pub(crate) fn queued(&self) -> Vec<(f64, usize)> {
        let mut v: Vec<Entry> = self.heap.v.clone();
        v.sort_by(|a, b| if a.before(b) { Ordering::Less } else { Ordering::Greater });
        v.into_iter().map(|e| (e.deadline, e.pos as usize)).collect()
    }

    /// Whether the scheduler has no entries.
    pub fn is_empty(&self) -> bool {
        self.heap.v.is_empty()
    }
}
