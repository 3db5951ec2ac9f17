//! The event queue: a min-heap ordered by `(time, seq)`, with a few lanes beside it.
//!
//! Events at the same virtual time pop in the order they were pushed (FIFO): each push takes the
//! next value of a monotonically increasing sequence number, and the queue orders by time first,
//! then by that number. This contract is pinned by the test `equal_times_pop_in_push_order`.
//!
//! The heap is 4-ary (each node has four children, so it is half as deep as a binary heap) and
//! removes its root bottom-up: the hole left at the root is filled by the smallest child, level
//! by level down to a leaf, and the heap's last entry is then sifted up from there. A
//! simulation's last entry is usually a late event that belongs near the bottom anyway, so this
//! saves the comparison with it on every level. The keys are unique, so the order in which
//! entries pop does not depend on the heap's shape: any correct priority queue pops the same
//! sequence (pinned against a sorted list by `pops_are_sorted_by_time_then_seq`).
//!
//! A lane holds at most one event of a source that always has exactly one pending (a workload
//! stream's next arrival): it skips the heap's push and pop, and since it takes its sequence
//! number from the same counter, the order of events is exactly the order without lanes (pinned
//! by `lanes_keep_the_heap_order`). A push to a full lane, or to a lane past [`LANES`], goes to
//! the heap.

use super::time::SimTime;

/// Lanes beside the heap; each pop looks at those used so far, so there are few.
pub const LANES: usize = 4;

/// Children per heap node.
const ARITY: usize = 4;

/// A scheduled event, ordered by `(time, seq)`, earliest first.
///
/// Both are packed into one `u128`, time in the high half: comparing the packed keys is the
/// lexicographic `(time, seq)` order in one branch-free comparison, where comparing the pair
/// took a branch per field on every level of the heap's sift.
#[derive(Clone, Copy)]
struct Entry<E> {
    key: u128,
    event: E,
}

/// The key of `(time, seq)`.
#[inline]
fn key_of(time: SimTime, seq: u64) -> u128 {
    (u128::from(time.0) << 64) | u128::from(seq)
}

/// The time of a key.
#[inline]
fn time_of(key: u128) -> SimTime {
    SimTime((key >> 64) as u64)
}

impl<E> Entry<E> {
    #[inline]
    fn into_parts(self) -> (SimTime, u64, E) {
        (time_of(self.key), self.key as u64, self.event)
    }
}

/// A priority queue of events keyed by virtual time, FIFO among equal times.
///
/// Events are `Copy` (a model's events are small tags and indices): the heap moves them by
/// value while it sifts, without unsafe code.
pub struct EventQueue<E> {
    /// A 4-ary min-heap on `key`: the children of `i` are `4i + 1 ..= 4i + 4`.
    heap: Vec<Entry<E>>,
    lanes: [Option<Entry<E>>; LANES],
    /// Lanes `lanes_used..` have never held an event, so a pop need not look at them.
    lanes_used: usize,
    /// Events in the lanes.
    in_lanes: usize,
    /// The smallest key in the lanes (`u128::MAX` when they are empty: no event has that key,
    /// since its sequence number would be the last of 2^64) and its lane, so that a pop
    /// compares one key with the heap's instead of looking at every lane.
    lane_key: u128,
    lane_min: usize,
    next_seq: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::with_capacity(1024),
            lanes: [const { None }; LANES],
            lanes_used: 0,
            in_lanes: 0,
            lane_key: u128::MAX,
            lane_min: 0,
            next_seq: 0,
        }
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules `event` at `time`. Returns the sequence number it was given.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) -> u64 {
        let seq = self.next_seq();
        self.heap_push(Entry { key: key_of(time, seq), event });
        seq
    }

    /// Schedules `event` at `time` in lane `lane` if that lane is free, else in the heap: the
    /// same order either way. Returns the sequence number it was given.
    #[inline]
    pub fn push_lane(&mut self, lane: usize, time: SimTime, event: E) -> u64 {
        let seq = self.next_seq();
        let entry = Entry { key: key_of(time, seq), event };
        match self.lanes.get_mut(lane) {
            Some(slot @ None) => {
                *slot = Some(entry);
                self.in_lanes += 1;
                self.lanes_used = self.lanes_used.max(lane + 1);
                if entry.key < self.lane_key {
                    (self.lane_key, self.lane_min) = (entry.key, lane);
                }
            }
            _ => self.heap_push(entry),
        }
        seq
    }

    /// Adds an entry to the heap: appended as a leaf, then moved up past every parent with a
    /// larger key.
    #[inline]
    fn heap_push(&mut self, entry: Entry<E>) {
        let mut i = self.heap.len();
        self.heap.push(entry);
        while i > 0 {
            let parent = (i - 1) / ARITY;
            let p = self.heap[parent];
            if p.key < entry.key {
                break;
            }
            self.heap[i] = p;
            i = parent;
        }
        self.heap[i] = entry;
    }

    /// Removes the heap's root (which must exist) and restores the heap.
    #[inline]
    fn heap_pop(&mut self) -> Option<Entry<E>> {
        let last = self.heap.pop()?;
        let n = self.heap.len();
        if n == 0 {
            return Some(last);
        }
        let top = self.heap[0];
        let heap = &mut self.heap[..];
        // The hole at the root moves down to a leaf, each level taking its smallest child.
        let mut hole = 0;
        loop {
            let first = ARITY * hole + 1;
            let child = if let Some(kids) = heap.get(first..first + ARITY) {
                // A full node: the smallest of four keys in three branch-free comparisons.
                let a = if kids[1].key < kids[0].key { 1 } else { 0 };
                let b = if kids[3].key < kids[2].key { 3 } else { 2 };
                first + if kids[b].key < kids[a].key { b } else { a }
            } else if first < n {
                // The last node with children: fewer than four.
                let mut best = first;
                for c in first + 1..n {
                    if heap[c].key < heap[best].key {
                        best = c;
                    }
                }
                best
            } else {
                break;
            };
            heap[hole] = heap[child];
            hole = child;
        }
        // The last entry fills the hole, moved up past every parent with a larger key.
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            if heap[parent].key < last.key {
                break;
            }
            heap[hole] = heap[parent];
            hole = parent;
        }
        heap[hole] = last;
        Some(top)
    }

    /// Whether the lanes hold the earliest event (the heap's otherwise, if any).
    #[inline]
    fn lane_first(&self) -> bool {
        match self.heap.first() {
            Some(e) => self.lane_key < e.key,
            None => self.in_lanes > 0,
        }
    }

    /// Takes the earliest lane's event and finds the next earliest lane.
    #[inline]
    fn lane_pop(&mut self) -> Option<Entry<E>> {
        let entry = self.lanes[self.lane_min].take();
        self.in_lanes -= 1;
        (self.lane_key, self.lane_min) = (u128::MAX, 0);
        for (i, slot) in self.lanes[..self.lanes_used].iter().enumerate() {
            if let Some(e) = slot
                && e.key < self.lane_key
            {
                (self.lane_key, self.lane_min) = (e.key, i);
            }
        }
        entry
    }

    /// Removes and returns the earliest event with its time and sequence number.
    pub fn pop(&mut self) -> Option<(SimTime, u64, E)> {
        self.pop_until(SimTime(u64::MAX))
    }

    /// Removes and returns the earliest event if it is due at or before `horizon`.
    #[inline]
    pub fn pop_until(&mut self, horizon: SimTime) -> Option<(SimTime, u64, E)> {
        if self.lane_first() {
            if time_of(self.lane_key) > horizon {
                return None;
            }
            self.lane_pop().map(Entry::into_parts)
        } else {
            if time_of(self.heap.first()?.key) > horizon {
                return None;
            }
            self.heap_pop().map(Entry::into_parts)
        }
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        if self.lane_first() { Some(time_of(self.lane_key)) } else { self.heap.first().map(|e| time_of(e.key)) }
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

    /// Pushes and pops interleaved as in a simulation (each push at or after the time of the
    /// last pop, many at equal times), against a sorted map of `(time, seq)`: the same event,
    /// time and sequence number at every pop, with heaps of up to a few thousand entries (five
    /// levels, and a last node with one to four children).
    #[test]
    fn interleaved_pushes_and_pops_match_a_sorted_map() {
        use std::collections::BTreeMap;
        let mut rng = crate::engine::SimRng::new(7).fork("interleaved_pushes_and_pops_match_a_sorted_map");
        for case in 0..60 {
            let mut q = EventQueue::new();
            let mut reference: BTreeMap<(SimTime, u64), u32> = BTreeMap::new();
            let mut now = 0;
            let pop_one_in = 2 + rng.below(3);
            for i in 0..rng.below(6000) as u32 {
                if rng.below(pop_one_in) == 0 {
                    let want = reference.pop_first().map(|((t, seq), e)| (t, seq, e));
                    let got = q.pop();
                    assert_eq!(got, want, "case {case}, step {i}");
                    if let Some((t, _, _)) = got {
                        now = t.0;
                    }
                } else {
                    let t = SimTime(now + rng.below(200));
                    let seq = q.push(t, i);
                    reference.insert((t, seq), i);
                }
                assert_eq!(q.len(), reference.len(), "case {case}, step {i}");
            }
            while let Some(((t, seq), e)) = reference.pop_first() {
                assert_eq!(q.pop(), Some((t, seq, e)), "case {case}");
            }
            assert!(q.is_empty(), "case {case}");
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
