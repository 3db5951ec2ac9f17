//! The event loop: pops `(time, seq, event)` in order and hands each event to a [`Model`].

use super::queue::EventQueue;
use super::time::{SimDuration, SimTime};

/// Something that reacts to events. The model owns all mutable state; the loop owns the clock
/// and the queue.
pub trait Model {
    /// The closed set of events this model understands.
    type Event;
    /// Handles one event at virtual time `sched.now()`, scheduling follow-ups through `sched`.
    fn handle(&mut self, event: Self::Event, sched: &mut Scheduler<Self::Event>);
}

/// The handle a model uses to read the clock and schedule events. Delays are relative and
/// non-negative, so nothing can be scheduled in the past.
pub struct Scheduler<E> {
    now: SimTime,
    queue: EventQueue<E>,
}

impl<E> Scheduler<E> {
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
    #[error("event queue grew past {bound} pending events at t={at}")]
    QueueBoundExceeded {
        /// The bound.
        bound: usize,
        /// Virtual time when it was hit.
        at: SimTime,
    },
}

/// Drives a model: a clock, a queue and a budget.
pub struct Simulation<M: Model> {
    /// The model under simulation.
    pub model: M,
    sched: Scheduler<M::Event>,
    events_processed: u64,
    max_events: u64,
    max_pending: usize,
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
        }
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
        while let Some(t) = self.sched.queue.peek_time() {
            if t > horizon {
                break;
            }
            let (time, _seq, event) = self.sched.queue.pop().expect("peeked");
            debug_assert!(time >= self.sched.now, "event queue went backwards");
            self.sched.now = time;
            self.events_processed += 1;
            if self.events_processed > self.max_events {
                return Err(SimError::EventBudgetExceeded { budget: self.max_events, at: time });
            }
            self.model.handle(event, &mut self.sched);
            if self.sched.queue.len() > self.max_pending {
                return Err(SimError::QueueBoundExceeded { bound: self.max_pending, at: time });
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

    #[test]
    fn budget_is_an_error_not_a_hang() {
        let mut sim = Simulation::new(Ticker { log: vec![] }, 10, 1_000);
        sim.schedule_at(SimTime::ZERO, 0); // period 0: would spin forever
        let err = sim.run_until(SimTime::from_secs(1)).unwrap_err();
        assert!(matches!(err, SimError::EventBudgetExceeded { budget: 10, .. }));
    }
}
