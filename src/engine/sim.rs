//! The event loop: pops `(time, seq, event)` in order and hands each event to a [`Model`].
//!
//! An optional [`Trace`] keeps a running hash of `(time, seq, event kind)` over every event, with
//! checkpoints, so that two runs of the same `(scenario, seed)` can be compared and the first
//! event where they part named (`meshsim check --determinism`).

use std::fmt::Debug;
use std::ops::Range;

use super::queue::EventQueue;
use super::time::{SimDuration, SimTime};

/// Something that reacts to events. The model owns all mutable state; the loop owns the clock
/// and the queue.
pub trait Model {
    /// The closed set of events this model understands: small values (tags and indices), which
    /// the queue copies while it sifts.
    type Event: Copy;
    /// Handles one event at virtual time `sched.now()`, scheduling follow-ups through `sched`.
    fn handle(&mut self, event: Self::Event, sched: &mut Scheduler<Self::Event>);

    /// Checked after every event: a model that has reached one of its own limits says which, and
    /// the run stops with [`SimError::ModelLimit`]. The default never stops.
    fn limit_reached(&self) -> Option<String> {
        None
    }
}

/// The handle a model uses to read the clock and schedule events. Delays are relative and
/// non-negative, so nothing can be scheduled in the past.
pub struct Scheduler<E> {
    now: SimTime,
    queue: EventQueue<E>,
}

impl<E: Copy> Scheduler<E> {
    /// The current virtual time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` after `delay`.
    #[inline]
    pub fn schedule(&mut self, delay: SimDuration, event: E) {
        self.queue.push(self.now + delay, event);
    }

    /// Schedules `event` at absolute time `at`, which must not be in the past.
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) {
        debug_assert!(at >= self.now, "scheduling in the past: {at} < {}", self.now);
        self.queue.push(at.max(self.now), event);
    }

    /// Schedules `event` after `delay` in lane `lane` (below [`super::queue::LANES`]): for a
    /// source that always has exactly one event pending, such as a workload stream's next
    /// arrival. The order of events is the same as with [`Scheduler::schedule`]; a lane that is
    /// taken, or out of range, falls back to the wheel or the heap.
    #[inline]
    pub fn schedule_in_lane(&mut self, lane: usize, delay: SimDuration, event: E) {
        self.queue.push_lane(lane, self.now + delay, event);
    }

    /// Number of pending events.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// More events were processed than the run's budget allows: the scenario probably creates
    /// work faster than it finishes it.
    #[error("event budget of {budget} events exhausted at t={at} (raise limits.max_events or lower the load)")]
    EventBudgetExceeded {
        /// The budget.
        budget: u64,
        /// Virtual time when it ran out.
        at: SimTime,
    },
    /// More events were pending at once than the queue bound allows.
    #[error(
        "event queue grew past {bound} pending events at t={at} (the bound allows 4 per request of \
         limits.max_in_flight: raise it, or lower the load or the timeouts, whose timers stay queued until \
         they expire)"
    )]
    QueueBoundExceeded {
        /// The bound.
        bound: usize,
        /// Virtual time when it was hit.
        at: SimTime,
    },
    /// The caller's [`Interrupt`] asked the run to stop (a newer request replaced it, or its
    /// wall-clock budget ran out).
    #[error("run interrupted at t={at}")]
    Interrupted {
        /// Virtual time when it stopped.
        at: SimTime,
    },
    /// The model reached one of its own limits ([`Model::limit_reached`]).
    #[error("{message} (at t={at})")]
    ModelLimit {
        /// The model's message, naming the limit and the key that raises it.
        message: String,
        /// Virtual time when it was reached.
        at: SimTime,
    },
}

/// Asked every [`INTERRUPT_EVERY`] events whether the run should stop, by callers outside the
/// model (the teaching server cancels stale runs and enforces a time budget with it). It can only
/// end a run early: a run that completes handled exactly the events it would have handled
/// without one.
pub type Interrupt = Box<dyn FnMut() -> bool>;

/// How many events run between two calls of the [`Interrupt`] (a power of two).
pub const INTERRUPT_EVERY: u64 = 4096;

/// Drives a model: a clock, a queue and a budget.
pub struct Simulation<M: Model> {
    /// The model under simulation.
    pub model: M,
    sched: Scheduler<M::Event>,
    events_processed: u64,
    max_events: u64,
    max_pending: usize,
    trace: Option<Trace>,
    describe: Option<fn(&M::Event) -> String>,
    interrupt: Option<Interrupt>,
}

/// One event recorded by a [`Trace`] in its capture range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedEvent {
    /// 1-based index of the event in the run.
    pub index: u64,
    /// When it ran.
    pub time: SimTime,
    /// Its queue sequence number.
    pub seq: u64,
    /// The event, as its `Debug` text.
    pub what: String,
}

/// A running hash of the event sequence: FNV-1a over `(time, seq, event discriminant)` of every
/// event, a checkpoint of the hash every `checkpoint_every` events, and the full events of one
/// index range. Two runs with equal final hashes and event counts handled the same events in the
/// same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The hash after the last event.
    pub hash: u64,
    /// Events hashed.
    pub events: u64,
    /// Distance between checkpoints, in events.
    pub checkpoint_every: u64,
    /// `checkpoints[k]` is the hash after event `(k + 1) × checkpoint_every`.
    pub checkpoints: Vec<u64>,
    /// 1-based event indices whose events are kept in `captured`.
    pub capture: Range<u64>,
    /// The events of `capture`, in order.
    pub captured: Vec<TracedEvent>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, used for the trace hash: fixed, seedless and the same on every platform.
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(FNV_PRIME);
        }
    }
}

impl Trace {
    /// An empty trace.
    pub fn new(checkpoint_every: u64, capture: Range<u64>) -> Trace {
        Trace {
            hash: FNV_OFFSET,
            events: 0,
            checkpoint_every: checkpoint_every.max(1),
            checkpoints: Vec::new(),
            capture,
            captured: Vec::new(),
        }
    }

    /// Folds one event into the hash; returns whether its index is in the capture range.
    fn record<E>(&mut self, time: SimTime, seq: u64, event: &E) -> bool {
        use std::hash::{Hash, Hasher};
        let mut h = Fnv(self.hash);
        h.write(&time.as_nanos().to_le_bytes());
        h.write(&seq.to_le_bytes());
        std::mem::discriminant(event).hash(&mut h);
        self.hash = h.finish();
        self.events += 1;
        if self.events.is_multiple_of(self.checkpoint_every) {
            self.checkpoints.push(self.hash);
        }
        self.capture.contains(&self.events)
    }

    /// The 1-based event range in which two traces (with the same `checkpoint_every`) first
    /// differ, or `None` when they are equal. The range is one checkpoint block long; rerun
    /// both with it as `capture` to find the exact event.
    pub fn first_difference(a: &Trace, b: &Trace) -> Option<Range<u64>> {
        if a.hash == b.hash && a.events == b.events {
            return None;
        }
        let every = a.checkpoint_every;
        let k = a
            .checkpoints
            .iter()
            .zip(&b.checkpoints)
            .position(|(x, y)| x != y)
            .unwrap_or_else(|| a.checkpoints.len().min(b.checkpoints.len())) as u64;
        Some(k * every + 1..(k + 1) * every + 1)
    }
}

impl<M: Model> Simulation<M> {
    /// A simulation at time zero with an empty queue.
    pub fn new(model: M, max_events: u64, max_pending: usize) -> Self {
        Simulation {
            model,
            sched: Scheduler { now: SimTime::ZERO, queue: EventQueue::new() },
            events_processed: 0,
            max_events,
            max_pending,
            trace: None,
            describe: None,
            interrupt: None,
        }
    }

    /// Starts hashing every event from now on (see [`Trace`]); events with 1-based index in
    /// `capture` are also kept with their `Debug` text.
    pub fn enable_trace(&mut self, checkpoint_every: u64, capture: Range<u64>)
    where
        M::Event: Debug,
    {
        self.trace = Some(Trace::new(checkpoint_every, capture));
        self.describe = Some(|e| format!("{e:?}"));
    }

    /// Installs an [`Interrupt`], asked every [`INTERRUPT_EVERY`] events.
    pub fn set_interrupt(&mut self, interrupt: Interrupt) {
        self.interrupt = Some(interrupt);
    }

    /// The trace, when enabled.
    pub fn trace(&self) -> Option<&Trace> {
        self.trace.as_ref()
    }

    /// Schedules an event from outside the model (initial events).
    pub fn schedule_at(&mut self, at: SimTime, event: M::Event) {
        self.sched.schedule_at(at, event);
    }

    /// Current virtual time.
    pub fn now(&self) -> SimTime {
        self.sched.now
    }

    /// Events handled so far.
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// Runs every event with time ≤ `horizon`, then sets the clock to `horizon`.
    pub fn run_until(&mut self, horizon: SimTime) -> Result<(), SimError> {
        while let Some((time, seq, event)) = self.sched.queue.pop_until(horizon) {
            if let Some(trace) = self.trace.as_mut()
                && trace.record(time, seq, &event)
            {
                let what = self.describe.map(|d| d(&event)).unwrap_or_default();
                trace.captured.push(TracedEvent { index: trace.events, time, seq, what });
            }
            debug_assert!(time >= self.sched.now, "event queue went backwards");
            self.sched.now = time;
            self.events_processed += 1;
            if self.events_processed > self.max_events {
                return Err(SimError::EventBudgetExceeded { budget: self.max_events, at: time });
            }
            self.model.handle(event, &mut self.sched);
            if let Some(message) = self.model.limit_reached() {
                return Err(SimError::ModelLimit { message, at: time });
            }
            if self.sched.queue.len() > self.max_pending {
                return Err(SimError::QueueBoundExceeded { bound: self.max_pending, at: time });
            }
            if self.events_processed & (INTERRUPT_EVERY - 1) == 0
                && let Some(stop) = self.interrupt.as_mut()
                && stop()
            {
                return Err(SimError::Interrupted { at: time });
            }
        }
        self.sched.now = self.sched.now.max(horizon);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy model: each event re-schedules itself `period` later and records when it ran.
    struct Ticker {
        log: Vec<(SimTime, u32)>,
    }

    impl Model for Ticker {
        type Event = u32;
        fn handle(&mut self, id: u32, sched: &mut Scheduler<u32>) {
            self.log.push((sched.now(), id));
            sched.schedule(SimDuration::from_millis(u64::from(id)), id);
        }
    }

    #[test]
    fn toy_model_runs_in_time_order() {
        let mut sim = Simulation::new(Ticker { log: vec![] }, 1_000, 1_000);
        sim.schedule_at(SimTime::ZERO, 3);
        sim.schedule_at(SimTime::ZERO, 2);
        sim.run_until(SimTime::from_millis(6)).unwrap();
        let got: Vec<(u64, u32)> = sim.model.log.iter().map(|(t, i)| (t.0 / 1_000_000, *i)).collect();
        assert_eq!(got, vec![(0, 3), (0, 2), (2, 2), (3, 3), (4, 2), (6, 3), (6, 2)]);
        assert_eq!(sim.now(), SimTime::from_millis(6));
    }

    fn traced(first: u32, capture: Range<u64>) -> Trace {
        let mut sim = Simulation::new(Ticker { log: vec![] }, 1_000, 1_000);
        sim.enable_trace(4, capture);
        sim.schedule_at(SimTime::ZERO, 3);
        sim.schedule_at(SimTime::ZERO, first);
        sim.run_until(SimTime::from_millis(12)).unwrap();
        sim.trace().unwrap().clone()
    }

    #[test]
    fn equal_runs_have_equal_traces() {
        let (a, b) = (traced(2, 0..0), traced(2, 0..0));
        assert_eq!(a, b);
        assert_eq!(Trace::first_difference(&a, &b), None);
        // 3 fires at 0,3,6,9,12 and 2 at 0,2,4,...,12: 5 + 7 events; checkpoints after 4 and 8.
        assert_eq!(a.events, 12);
        assert_eq!(a.checkpoints.len(), 3);
    }

    #[test]
    fn first_difference_names_the_block_then_the_event() {
        // Ticker 2 vs ticker 4: both runs start (t=0: 3, then 2|4), then at t=2 run A handles 2
        // while run B's next event is 3 at t=3. Event #3 is the first that differs.
        let (a, b) = (traced(2, 0..0), traced(4, 0..0));
        let block = Trace::first_difference(&a, &b).unwrap();
        assert_eq!(block, 1..5);
        let (a, b) = (traced(2, block.clone()), traced(4, block));
        let first = a.captured.iter().zip(&b.captured).find(|(x, y)| x.time != y.time || x.seq != y.seq).unwrap();
        assert_eq!(first.0.index, 3);
        assert_eq!((first.0.time, first.1.time), (SimTime::from_millis(2), SimTime::from_millis(3)));
    }

    #[test]
    fn an_interrupt_stops_a_run_and_a_silent_one_changes_nothing() {
        let run = |stop_after: Option<u64>| {
            let mut sim = Simulation::new(Ticker { log: vec![] }, 1_000_000, 1_000);
            if let Some(n) = stop_after {
                let mut calls = 0;
                sim.set_interrupt(Box::new(move || {
                    calls += 1;
                    calls > n
                }));
            }
            sim.schedule_at(SimTime::ZERO, 1);
            let result = sim.run_until(SimTime::from_secs(20));
            (result, sim.model.log)
        };
        // 20 s of a 1 ms ticker: 20 001 events, so the interrupt is asked 4 times.
        let (plain, plain_log) = run(None);
        let (silent, silent_log) = run(Some(u64::MAX));
        assert_eq!((plain, silent), (Ok(()), Ok(())));
        assert_eq!(plain_log, silent_log);
        let (stopped, log) = run(Some(1));
        assert_eq!(stopped, Err(SimError::Interrupted { at: SimTime::from_millis(2 * INTERRUPT_EVERY - 1) }));
        assert_eq!(log.len() as u64, 2 * INTERRUPT_EVERY);
    }

    #[test]
    fn budget_is_an_error_not_a_hang() {
        let mut sim = Simulation::new(Ticker { log: vec![] }, 10, 1_000);
        sim.schedule_at(SimTime::ZERO, 0); // period 0: would spin forever
        let err = sim.run_until(SimTime::from_secs(1)).unwrap_err();
        assert!(matches!(err, SimError::EventBudgetExceeded { budget: 10, .. }));
    }
}
