//! Sweep throughput: runs per second of `sweep::execute` on the 503 lab (full length, 16 runs:
//! 2 settings x 8 seeds, run files and tables included, charts left out), with 1 and 2 worker
//! threads, and the speed-up from one to two.
//!
//! Each case also prints the process's CPU time per run and how many cores were busy on average
//! (CPU time over wall time, warm-up included): the speed-up is the busy cores times the ratio of
//! CPU per run, so a shortfall from x2 is either idle cores (work the sweep leaves serial or
//! unbalanced) or each run costing more CPU when both cores run (the machine's shared caches,
//! memory and, on a virtual machine, its host).

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
        let (cpu0, wall0, mut iterations) = (cpu_seconds(), std::time::Instant::now(), 0u64);
        medians.push(h.case(&name, 10, (runs, "runs"), || {
            iterations += 1;
            execute(&plan, &dir, &opts, &|_| {}).expect("sweep").ran
        }));
        if let (Some(a), Some(b), true) = (cpu0, cpu_seconds(), medians.last().is_some_and(Option::is_some)) {
            let cpu = b - a;
            let busy = cpu / wall0.elapsed().as_secs_f64();
            println!(
                "  {jobs} job(s): {:.1} ms of CPU per run, {busy:.2} cores busy on average",
                cpu / (runs * iterations as f64) * 1e3
            );
        }
    }
    if let [Some(one), Some(two)] = medians[..] {
        println!("sweep: {:.1} runs/s on 1 job, {:.1} runs/s on 2 jobs: x{:.2}", runs / one, runs / two, one / two);
    }
}

/// User and system CPU time of the whole process so far (every thread's, finished ones
/// included), in seconds, from `/proc/self/stat` (Linux; fields 14 and 15, in clock ticks of
/// 1/100 s, Linux's `USER_HZ`); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}
