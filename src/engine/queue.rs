//! The event queue: a min-heap ordered by `(time, seq)`, with a few lanes beside it.
//!
//! Events at the same virtual time pop in the order they were pushed (FIFO): each push takes the
//! next value of a monotonically increasing sequence number, and the queue orders by time first,
//! then by that number. This contract is pinned by the test `equal_times_pop_in_push_order`.
//!
//! A lane holds at most one event of a source that always has exactly one pending (a workload
//! stream's next arrival): it skips the heap's push and pop, and since it takes its sequence
//! number from the same counter, the order of events is exactly the order without lanes (pinned
//! by `lanes_keep_the_heap_order`). A push to a full lane, or to a lane past [`LANES`], goes to
//! the heap.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::SimTime;

/// Lanes beside the heap; each pop looks at all of them, so there are few.
pub const LANES: usize = 4;

/// A scheduled event, ordered by `(time, seq)`, earliest first.
///
/// Both are packed into one `u128`, time in the high half: comparing the packed keys is the
/// lexicographic `(time, seq)` order in one branch-free comparison, where comparing the pair
/// took a branch per field on every level of the heap's sift.
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> Entry<E> {
    #[inline]
    fn new(time: SimTime, seq: u64, event: E) -> Self {
        Entry { key: (u128::from(time.0) << 64) | u128::from(seq), event }
    }

    /// The order key: `(time, seq)` packed.
    #[inline]
    fn key(&self) -> u128 {
        self.key
    }

    #[inline]
    fn time(&self) -> SimTime {
        SimTime((self.key >> 64) as u64)
    }

    #[inline]
    fn into_parts(self) -> (SimTime, u64, E) {
        (self.time(), self.key as u64, self.event)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest `(time, seq)` first.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// A priority queue of events keyed by virtual time, FIFO among equal times.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    lanes: [Option<Entry<E>>; LANES],
    /// Events in the lanes.
    in_lanes: usize,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::with_capacity(1024), lanes: [const { None }; LANES], in_lanes: 0, next_seq: 0 }
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules `event` at `time`. Returns the sequence number it was given.
    pub fn push(&mut self, time: SimTime, event: E) -> u64 {
        let seq = self.next_seq();
        self.heap.push(Entry::new(time, seq, event));
        seq
    }

    /// Schedules `event` at `time` in lane `lane` if that lane is free, else in the heap: the
    /// same order either way. Returns the sequence number it was given.
    pub fn push_lane(&mut self, lane: usize, time: SimTime, event: E) -> u64 {
        let seq = self.next_seq();
        let entry = Entry::new(time, seq, event);
        match self.lanes.get_mut(lane) {
            Some(slot @ None) => {
                *slot = Some(entry);
                self.in_lanes += 1;
            }
            _ => self.heap.push(entry),
        }
        seq
    }

    /// The lane holding the earliest event, if it is earlier than the heap's.
    fn earliest_lane(&self) -> Option<usize> {
        if self.in_lanes == 0 {
            return None;
        }
        let mut best = self.heap.peek().map_or(u128::MAX, Entry::key);
        let mut lane = None;
        for (i, slot) in self.lanes.iter().enumerate() {
            if let Some(e) = slot
                && e.key() < best
            {
                best = e.key();
                lane = Some(i);
            }
        }
        lane
    }

    /// Removes and returns the earliest event with its time and sequence number.
    pub fn pop(&mut self) -> Option<(SimTime, u64, E)> {
        self.pop_until(SimTime(u64::MAX))
    }

    /// Removes and returns the earliest event if it is due at or before `horizon`.
    #[inline]
    pub fn pop_until(&mut self, horizon: SimTime) -> Option<(SimTime, u64, E)> {
        match self.earliest_lane() {
            Some(i) => {
                if self.lanes[i].as_ref().is_some_and(|e| e.time() > horizon) {
                    return None;
                }
                self.in_lanes -= 1;
                self.lanes[i].take().map(Entry::into_parts)
            }
            None => {
                if self.heap.peek()?.time() > horizon {
                    return None;
                }
                self.heap.pop().map(Entry::into_parts)
            }
        }
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        match self.earliest_lane() {
            Some(i) => self.lanes[i].as_ref().map(Entry::time),
            None => self.heap.peek().map(Entry::time),
        }
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.in_lanes
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_pop_in_push_order() {
        let mut q = EventQueue::new();
        let t = SimTime(10);
        for i in 0..100u32 {
            q.push(t, i);
        }
        q.push(SimTime(5), 1000);
        assert_eq!(q.pop().map(|(t, _, e)| (t, e)), Some((SimTime(5), 1000)));
        for i in 0..100u32 {
            assert_eq!(q.pop().unwrap().2, i);
        }
        assert!(q.pop().is_none());
    }

    /// Many random pushes (seeded: the same cases every run) pop sorted by time, then by push
    /// order.
    #[test]
    fn pops_are_sorted_by_time_then_seq() {
        let mut rng = crate::engine::SimRng::new(3).fork("pops_are_sorted_by_time_then_seq");
        for case in 0..500 {
            let times: Vec<u64> = (0..rng.below(300)).map(|_| rng.below(50)).collect();
            let mut q = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.push(SimTime(*t), i);
            }
            let mut last: Option<(SimTime, u64)> = None;
            let mut n = 0;
            while let Some((t, seq, i)) = q.pop() {
                assert_eq!(SimTime(times[i]), t, "case {case}");
                if let Some(prev) = last {
                    assert!(prev < (t, seq), "case {case}: {prev:?} then {:?}", (t, seq));
                }
                last = Some((t, seq));
                n += 1;
            }
            assert_eq!(n, times.len(), "case {case}");
        }
    }

    /// The same pushes, some through lanes (and some to a lane already full or past the last),
    /// pop in exactly the order they pop from the heap alone.
    #[test]
    fn lanes_keep_the_heap_order() {
        let mut rng = crate::engine::SimRng::new(5).fork("lanes_keep_the_heap_order");
        for case in 0..300 {
            let mut plain = EventQueue::new();
            let mut laned = EventQueue::new();
            let mut popped = (Vec::new(), Vec::new());
            for i in 0..rng.below(400) {
                match rng.below(4) {
                    0 => {
                        popped.0.push(plain.pop());
                        popped.1.push(laned.pop());
                    }
                    _ => {
                        // Times in a small range, so that many are equal.
                        let t = SimTime(rng.below(30));
                        let lane = rng.below(LANES as u64 + 2) as usize;
                        assert_eq!(plain.push(t, i), laned.push_lane(lane, t, i), "case {case}");
                    }
                }
                assert_eq!(plain.len(), laned.len(), "case {case}");
                assert_eq!(plain.peek_time(), laned.peek_time(), "case {case}");
            }
            while !plain.is_empty() || !laned.is_empty() {
                popped.0.push(plain.pop());
                popped.1.push(laned.pop());
            }
            assert_eq!(popped.0, popped.1, "case {case}");
        }
    }

    #[test]
    fn pop_until_leaves_later_events() {
        let mut q = EventQueue::new();
        q.push(SimTime(20), 'h');
        q.push_lane(0, SimTime(10), 'l');
        assert_eq!(q.pop_until(SimTime(5)), None);
        assert_eq!(q.pop_until(SimTime(10)), Some((SimTime(10), 1, 'l')));
        assert_eq!(q.pop_until(SimTime(19)), None);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_until(SimTime(20)), Some((SimTime(20), 0, 'h')));
        assert!(q.is_empty());
    }
}
