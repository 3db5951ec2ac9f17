//! Sweep throughput: runs per second of `sweep::execute` on the seed scenario (full length, 8 runs:
//! 2 settings x 4 seeds, run files and tables included, charts left out), with 1 and 2 worker
//! threads. Criterion's "thrpt" line is runs per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use meshsim::sweep::{Options, Plan, SweepSpec, execute};

fn sweep_scaling(c: &mut Criterion) {
    let grid = "policy.destination_rule.trafficPolicy.outlierDetection.consecutive5xxErrors=1,2".to_string();
    let mut spec = SweepSpec::from_grid("scenarios/seed-failover.toml".as_ref(), &[grid]).expect("spec");
    spec.seeds = 4;
    let plan = Plan::new(spec).expect("plan");
    let tmp = tempfile::tempdir().expect("temporary folder");
    let mut group = c.benchmark_group("sweep");
    group.sample_size(10);
    group.throughput(Throughput::Elements(plan.n_runs() as u64));
    for jobs in [1usize, 2] {
        let dir = tmp.path().join(format!("j{jobs}"));
        // `fresh` discards the previous iteration's runs, so every iteration runs all of them.
        let opts = Options { jobs, fresh: true, charts: false, ..Options::default() };
        group.bench_function(format!("seed_failover_8_runs_{jobs}_threads"), |b| {
            b.iter(|| execute(&plan, &dir, &opts, &|_| {}).expect("sweep").ran);
        });
    }
    group.finish();
}

criterion_group!(benches, sweep_scaling);
criterion_main!(benches);
