//! The event queue: a min-heap ordered by `(time, seq)`.
//!
//! Events at the same virtual time pop in the order they were pushed (FIFO): each push takes the
//! next value of a monotonically increasing sequence number, and the heap orders by time first,
//! then by that number. This contract is pinned by the test `equal_times_pop_in_push_order`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::SimTime;

/// A scheduled event, ordered by `(time, seq)`, earliest first.
struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
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
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A priority queue of events keyed by virtual time, FIFO among equal times.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
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
        EventQueue { heap: BinaryHeap::with_capacity(1024), next_seq: 0 }
    }

    /// Schedules `event` at `time`. Returns the sequence number it was given.
    pub fn push(&mut self, time: SimTime, event: E) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, event });
        seq
    }

    /// Removes and returns the earliest event with its time and sequence number.
    pub fn pop(&mut self) -> Option<(SimTime, u64, E)> {
        self.heap.pop().map(|e| (e.time, e.seq, e.event))
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
}
