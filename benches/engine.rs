//! Event-queue throughput: push/pop pairs per second at a steady queue size, the pattern of a
//! simulation with a few thousand requests in flight.

mod harness;

use meshsim::engine::{EventQueue, SimRng, SimTime};

fn main() {
    let h = harness::Harness::from_args();
    for size in [1_000usize, 100_000] {
        let mut q = EventQueue::new();
        let mut rng = SimRng::new(1);
        for _ in 0..size {
            q.push(SimTime(rng.below(1_000_000_000)), 0u64);
        }
        h.case(&format!("queue/push_pop_at_{size}"), 20, (1.0, "push-pop pairs"), || {
            let (t, _, e) = q.pop().expect("non-empty");
            q.push(SimTime(t.0 + rng.below(100_000_000)), e + 1);
        });
    }
}
