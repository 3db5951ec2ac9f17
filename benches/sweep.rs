//! Sweep throughput: runs per second of `sweep::execute` on the 503 lab (full length, 16 runs:
//! 2 settings x 8 seeds, run files and tables included, charts left out), with 1 and 2 worker
//! threads, and the speed-up from one to two.

mod harness;
#[path = "../tests/support/scratch.rs"]
mod scratch;

use meshsim::sweep::{Options, Plan, SweepSpec, execute};

fn main() {
    let h = harness::Harness::from_args();
    let grid = "policy.destination_rule.trafficPolicy.outlierDetection.consecutive5xxErrors=1,2".to_string();
    let mut spec = SweepSpec::from_grid("scenarios/seed-failover-503.toml".as_ref(), &[grid]).expect("spec");
    spec.seeds = 8;
    let plan = Plan::new(spec).expect("plan");
    let runs = plan.n_runs() as f64;
    let tmp = scratch::tempdir().expect("temporary folder");
    let mut medians = Vec::new();
    for jobs in [1usize, 2] {
        let dir = tmp.path().join(format!("j{jobs}"));
        // `fresh` discards the previous iteration's runs, so every iteration runs all of them.
        let opts = Options { jobs, fresh: true, charts: false, ..Options::default() };
        let name = format!("sweep/seed_failover_503_16_runs_{jobs}_jobs");
        medians.push(h.case(&name, 10, (runs, "runs"), || execute(&plan, &dir, &opts, &|_| {}).expect("sweep").ran));
    }
    if let [Some(one), Some(two)] = medians[..] {
        println!("sweep: {:.1} runs/s on 1 job, {:.1} runs/s on 2 jobs: x{:.2}", runs / one, runs / two, one / two);
    }
}
