//! Event-queue throughput: push/pop pairs per second at a steady queue size, the pattern of a
//! simulation with a few thousand requests in flight.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshsim::engine::{EventQueue, SimRng, SimTime};

fn queue_steady_state(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue");
    for &size in &[1_000usize, 100_000] {
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("push_pop_at_{size}"), |b| {
            let mut q = EventQueue::new();
            let mut rng = SimRng::new(1);
            for _ in 0..size {
                q.push(SimTime(rng.below(1_000_000_000)), 0u64);
            }
            b.iter(|| {
                let (t, _, e) = q.pop().expect("non-empty");
                q.push(SimTime(t.0 + rng.below(100_000_000)), e + 1);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, queue_steady_state);
criterion_main!(benches);
