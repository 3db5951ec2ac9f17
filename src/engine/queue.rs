//! The event queue: a timing wheel for the near future, a min-heap for the rest, and a few lanes
//! beside them, all ordered by `(time, seq)`.
//!
//! Events at the same virtual time pop in the order they were pushed (FIFO): each push takes the
//! next value of a monotonically increasing sequence number, and the queue orders by time first,
//! then by that number. This contract is pinned by the test `equal_times_pop_in_push_order`. The
//! keys are unique, so the order in which entries pop does not depend on where they are held:
//! every pop takes the smallest key of the three places below, and the sequence popped is the
//! same as from one sorted list (pinned against a `BTreeMap` by
//! `interleaved_pushes_and_pops_match_a_sorted_map` and `wheel_heap_and_lanes_match_a_sorted_map`).
//!
//! **The wheel** (a calendar queue) holds the events due within [`WHEEL_SPAN_NS`] of the current
//! bucket: [`BUCKETS`] buckets of [`BUCKET_NS`] nanoseconds each in a ring, a bucket being an
//! unsorted `Vec` that keeps its capacity, with a bitmap of the non-empty ones. An event goes to
//! the bucket of `time / BUCKET_NS`, in O(1). When the current bucket is used up, the next
//! non-empty one (found a word of the bitmap at a time) is swapped out of the ring and sorted
//! once; a push into the current bucket is inserted in order. A simulation's responses and
//! timers come back a few to a few hundred milliseconds after they are scheduled, so nearly
//! every event takes this path, which costs a few instructions where a heap's push and pop
//! cost a sift over its depth each.
//!
//! **The heap** (4-ary: half as deep as a binary heap) takes the events beyond the wheel's span
//! (long timers, faults, outlier ticks) and any event earlier than the current bucket (a
//! simulation never schedules one, but the queue does not rely on it). It removes its root
//! bottom-up: the hole left at the root is filled by the smallest child, level by level down to
//! a leaf, and the heap's last entry is then sifted up from there.
//!
//! **A lane** holds at most one event of a source that always has exactly one pending (a
//! workload stream's next arrival). Since it takes its sequence number from the same counter, the
//! order of events is exactly the order without lanes (pinned by `lanes_keep_the_heap_order`). A
//! push to a full lane, or to a lane past [`LANES`], goes to the wheel or the heap.
//!
//! Memory: the heap and the buckets hold the pending events (their number is what
//! `Simulation`'s `max_pending` bounds), plus the ring itself: [`BUCKETS`] empty `Vec`s
//! (24 bytes each) and the bitmap, 49 KB. A bucket's `Vec` keeps its capacity so that a
//! steady run allocates nothing, except that one found holding more than [`BUCKET_KEEP`]
//! entries' worth when it is used up is shrunk back to that: the capacity kept beyond the pending
//! events is at most `(BUCKETS + 1) × BUCKET_KEEP` entries (32 bytes each for the mesh model's
//! events: 1.05 MB), whatever the run's length.

use super::time::SimTime;

/// Lanes beside the heap; each pop looks at those used so far, so there are few.
pub const LANES: usize = 4;

/// Children per heap node.
const ARITY: usize = 4;

/// log2 of [`BUCKET_NS`].
const BUCKET_SHIFT: u32 = 17;
/// The width of a wheel bucket: 131.072 µs, about three events per bucket at 20 000 requests per
/// second. On the e2e bench (callgrind) 2^17 ns over 2 048 buckets took 0.5 % fewer instructions
/// than 2^16 ns over 4 096 (the same span): fewer buckets to step through, slightly longer
/// sorts; see `benches/results/2026-12-01.csv`.
pub const BUCKET_NS: u64 = 1 << BUCKET_SHIFT;
/// Buckets in the wheel's ring (a power of two).
pub const BUCKETS: usize = 2048;
/// How far ahead of its current bucket the wheel holds events: 268 ms, past a cross-region
/// round trip with its service time; later events wait in the heap.
pub const WHEEL_SPAN_NS: u64 = BUCKET_NS * BUCKETS as u64;
/// Entries' worth of capacity a used-up bucket keeps.
pub const BUCKET_KEEP: usize = 16;

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

/// The wheel bucket number of a key (not wrapped to the ring).
#[inline]
fn bucket_of(key: u128) -> u64 {
    time_of(key).0 >> BUCKET_SHIFT
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
    /// The wheel's current bucket, sorted by key; `current[head..]` are pending (it is cleared
    /// when the last is popped, so `head` is 0 when none is).
    current: Vec<Entry<E>>,
    head: usize,
    /// The number of the current bucket (`time / BUCKET_NS`). Events of buckets
    /// `cur + 1 .. cur + BUCKETS` wait in `ring[bucket % BUCKETS]`; `ring[cur % BUCKETS]` is empty.
    cur: u64,
    ring: Box<[Vec<Entry<E>>; BUCKETS]>,
    /// Bit `i` is set when `ring[i]` is not empty.
    occupied: [u64; BUCKETS / 64],
    /// Events in `ring`.
    in_ring: usize,
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
    /// Pending events (checked after every event against the run's bound).
    len: usize,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the earliest event is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Wheel,
    Heap,
    Lane,
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::with_capacity(64),
            current: Vec::new(),
            head: 0,
            cur: 0,
            ring: (0..BUCKETS)
                .map(|_| Vec::new())
                .collect::<Box<[_]>>()
                .try_into()
                .unwrap_or_else(|_| unreachable!("BUCKETS buckets")),
            occupied: [0; BUCKETS / 64],
            in_ring: 0,
            lanes: [const { None }; LANES],
            lanes_used: 0,
            in_lanes: 0,
            lane_key: u128::MAX,
            lane_min: 0,
            next_seq: 0,
            len: 0,
        }
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        seq
    }

    /// Schedules `event` at `time`. Returns the sequence number it was given.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) -> u64 {
        let seq = self.next_seq();
        self.push_entry(Entry { key: key_of(time, seq), event });
        seq
    }

    /// Schedules `event` at `time` in lane `lane` if that lane is free, else in the wheel or the
    /// heap: the same order either way. Returns the sequence number it was given.
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
            _ => self.push_entry(entry),
        }
        seq
    }

    /// Puts an entry in the wheel if its bucket is in the wheel's span, else in the heap.
    #[inline(always)]
    fn push_entry(&mut self, entry: Entry<E>) {
        let ahead = bucket_of(entry.key).wrapping_sub(self.cur);
        if ahead == 0 {
            // The current bucket: in order. Its key is the largest pushed so far, so it goes
            // after every pending entry of its time; usually it is the last of all.
            let pending = &self.current[self.head..];
            let at = self.head + pending.partition_point(|e| e.key < entry.key);
            self.current.insert(at, entry);
        } else if ahead < BUCKETS as u64 {
            let slot = (bucket_of(entry.key) as usize) & (BUCKETS - 1);
            self.ring[slot].push(entry);
            self.occupied[slot / 64] |= 1 << (slot % 64);
            self.in_ring += 1;
        } else {
            self.heap_push(entry);
        }
    }

    /// The number of the first non-empty bucket after the current one (the ring must hold an
    /// event).
    #[inline]
    fn next_occupied(&self) -> u64 {
        let start = (self.cur as usize + 1) & (BUCKETS - 1);
        let mut word = start / 64;
        let mut bits = self.occupied[word] & (u64::MAX << (start % 64));
        loop {
            if bits != 0 {
                let slot = word * 64 + bits.trailing_zeros() as usize;
                return self.cur + 1 + (slot.wrapping_sub(start) & (BUCKETS - 1)) as u64;
            }
            word = (word + 1) % (BUCKETS / 64);
            bits = self.occupied[word];
        }
    }

    /// Makes bucket `bucket` (the first non-empty one) current: its entries are sorted once.
    #[inline(never)]
    fn advance_to(&mut self, bucket: u64) {
        debug_assert!(self.current.is_empty() && self.head == 0);
        let slot = (bucket as usize) & (BUCKETS - 1);
        if self.current.capacity() > BUCKET_KEEP {
            self.current.shrink_to(BUCKET_KEEP);
        }
        std::mem::swap(&mut self.current, &mut self.ring[slot]);
        self.occupied[slot / 64] &= !(1 << (slot % 64));
        self.in_ring -= self.current.len();
        self.cur = bucket;
        self.current.sort_unstable_by_key(|e| e.key);
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

    /// The smallest key outside the wheel (`u128::MAX` when there is none) and where it is.
    #[inline]
    fn other_head(&self) -> (u128, Source) {
        match self.heap.first() {
            Some(e) if e.key < self.lane_key => (e.key, Source::Heap),
            _ => (self.lane_key, Source::Lane),
        }
    }

    /// Where the earliest event is and its key (`None` when the queue is empty), making the
    /// wheel's next bucket current if the earliest event may be in it.
    #[inline]
    fn first(&mut self) -> Option<(u128, Source)> {
        let (other, source) = self.other_head();
        if let Some(e) = self.current.get(self.head) {
            return Some(if e.key < other { (e.key, Source::Wheel) } else { (other, source) });
        }
        if self.in_ring > 0 {
            let bucket = self.next_occupied();
            // Every entry of `bucket` is due at or after its start: if the other head is
            // earlier, it goes first, and the current bucket stays where it is so that the
            // events it schedules still land in the wheel.
            if (bucket << BUCKET_SHIFT) <= time_of(other).0 {
                self.advance_to(bucket);
                let e = self.current[0].key;
                return Some(if e < other { (e, Source::Wheel) } else { (other, source) });
            }
        }
        (other != u128::MAX || self.in_lanes > 0).then_some((other, source))
    }

    /// Removes and returns the earliest event with its time and sequence number.
    pub fn pop(&mut self) -> Option<(SimTime, u64, E)> {
        self.pop_until(SimTime(u64::MAX))
    }

    /// Removes and returns the earliest event if it is due at or before `horizon`.
    #[inline]
    pub fn pop_until(&mut self, horizon: SimTime) -> Option<(SimTime, u64, E)> {
        let (key, source) = self.first()?;
        if time_of(key) > horizon {
            return None;
        }
        self.len -= 1;
        let entry = match source {
            Source::Wheel => {
                let e = self.current[self.head];
                self.head += 1;
                if self.head == self.current.len() {
                    self.current.clear();
                    self.head = 0;
                }
                return Some(e.into_parts());
            }
            Source::Heap => self.heap_pop(),
            Source::Lane => self.lane_pop(),
        };
        // With the wheel empty, its current bucket follows the clock (any bucket is valid for an
        // empty wheel), so that the events scheduled from here land in the wheel, not the heap.
        if self.current.is_empty() && self.in_ring == 0 {
            self.cur = bucket_of(key);
        }
        entry.map(Entry::into_parts)
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        let (other, _) = self.other_head();
        let wheel = match self.current.get(self.head) {
            Some(e) => e.key,
            None if self.in_ring > 0 => {
                let slot = (self.next_occupied() as usize) & (BUCKETS - 1);
                self.ring[slot].iter().map(|e| e.key).min().unwrap_or(u128::MAX)
            }
            None => u128::MAX,
        };
        let key = wheel.min(other);
        (key != u128::MAX || self.in_lanes > 0).then(|| time_of(key))
    }

    /// Number of pending events.
    #[inline]
    pub fn len(&self) -> usize {
        debug_assert_eq!(self.len, self.heap.len() + self.in_lanes + self.in_ring + (self.current.len() - self.head));
        self.len
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

    /// Pushes and pops as a simulation does them, with delays that reach every part of the
    /// queue: zero (equal times), within the current bucket, across the wheel's span and
    /// beyond it, long idle gaps, lanes (free, taken or out of range), a few pushes earlier than
    /// the last pop, and `pop_until` horizons; against a sorted map of `(time, seq)`, with the
    /// length and the next time checked after every step.
    #[test]
    fn wheel_heap_and_lanes_match_a_sorted_map() {
        use std::collections::BTreeMap;
        let mut rng = crate::engine::SimRng::new(11).fork("wheel_heap_and_lanes_match_a_sorted_map");
        let span = WHEEL_SPAN_NS;
        for case in 0..200 {
            let mut q = EventQueue::new();
            let mut reference: BTreeMap<(SimTime, u64), u32> = BTreeMap::new();
            let mut now = rng.below(3) * (u64::MAX / 4);
            // Some cases start far from zero, some near it; some pop more often than they push.
            let pop_one_in = 2 + rng.below(3);
            for i in 0..rng.below(3000) as u32 {
                let step = rng.below(pop_one_in);
                if step == 0 {
                    let horizon = match rng.below(3) {
                        0 => SimTime(now + rng.below(2 * BUCKET_NS)),
                        1 => SimTime(now + rng.below(2 * span)),
                        _ => SimTime(u64::MAX),
                    };
                    let want = reference
                        .first_key_value()
                        .filter(|((t, _), _)| *t <= horizon)
                        .map(|(&(t, seq), &e)| (t, seq, e));
                    if want.is_some() {
                        reference.pop_first();
                    }
                    let got = q.pop_until(horizon);
                    assert_eq!(got, want, "case {case}, step {i}");
                    now = match got {
                        Some((t, _, _)) => t.0,
                        None if horizon.0 < u64::MAX => horizon.0,
                        None => now,
                    };
                } else {
                    let delay = match rng.below(16) {
                        0 => 0,
                        1 => rng.below(BUCKET_NS),
                        2 => span - BUCKET_NS + rng.below(2 * BUCKET_NS),
                        3 => span + rng.below(3 * span),
                        4 => 10_000_000_000 + rng.below(span),
                        _ => rng.below(span / 2),
                    };
                    let t = if rng.below(50) == 0 { now.saturating_sub(rng.below(span)) } else { now + delay };
                    let t = SimTime(t);
                    let seq =
                        if step == 1 { q.push_lane(rng.below(LANES as u64 + 2) as usize, t, i) } else { q.push(t, i) };
                    reference.insert((t, seq), i);
                }
                assert_eq!(q.len(), reference.len(), "case {case}, step {i}");
                assert_eq!(q.peek_time(), reference.keys().next().map(|k| k.0), "case {case}, step {i}");
            }
            while let Some(((t, seq), e)) = reference.pop_first() {
                assert_eq!(q.pop(), Some((t, seq, e)), "case {case}");
            }
            assert!(q.is_empty(), "case {case}");
            assert_eq!(q.pop(), None, "case {case}");
        }
    }

    /// After an idle gap (the wheel empty, the clock moved on by an event from the heap), the
    /// events scheduled from the new time go to the wheel, not the heap.
    #[test]
    fn the_wheel_follows_the_clock_across_idle_gaps() {
        let mut q = EventQueue::new();
        let far = SimTime(60_000_000_000);
        q.push(far, 0u32);
        assert_eq!(q.heap.len(), 1);
        assert_eq!(q.pop().map(|(t, _, _)| t), Some(far));
        for i in 1..=100 {
            q.push(SimTime(far.0 + i * 1_000_000), i as u32);
        }
        assert_eq!((q.heap.len(), q.in_ring), (0, 100));
        for i in 1..=100 {
            assert_eq!(q.pop().map(|(_, _, e)| e), Some(i as u32));
        }
    }

    /// A burst into one bucket grows its `Vec`; once used up it is shrunk back, so the ring's
    /// capacity stays within `(BUCKETS + 1) × BUCKET_KEEP` entries whatever ran before.
    #[test]
    fn a_burst_leaves_no_capacity_behind() {
        let mut q = EventQueue::new();
        let capacity = |q: &EventQueue<u32>| q.current.capacity() + q.ring.iter().map(Vec::capacity).sum::<usize>();
        for round in 0..3u64 {
            let t = SimTime((round * 10 + 5) * BUCKET_NS);
            for i in 0..10_000 {
                q.push(t, i);
            }
            assert!(capacity(&q) >= 10_000);
            while q.pop().is_some() {}
        }
        q.push(SimTime(100 * BUCKET_NS), 0);
        q.pop();
        assert!(capacity(&q) <= (BUCKETS + 1) * BUCKET_KEEP, "{}", capacity(&q));
    }
}
