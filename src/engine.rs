//! The domain-agnostic discrete-event core: virtual time, the event queue, the seeded PRNG and
//! the event loop. Nothing here knows what a proxy, locality or request is.

pub mod queue;
pub mod rng;
pub mod sim;
pub mod time;

pub use queue::EventQueue;
pub use rng::SimRng;
pub use sim::{INTERRUPT_EVERY, Interrupt, Model, Scheduler, SimError, Simulation, Trace, TracedEvent};
pub use time::{SimDuration, SimTime};
