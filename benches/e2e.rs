//! End to end: simulated client requests per wall-clock second on the seed topology at high
//! load (the seed scenario with its rate raised), one core.

mod harness;

use std::sync::Arc;

fn main() {
    let h = harness::Harness::from_args();
    let sets = vec![
        "duration=30s".to_string(),
        "workload.0.rate=20000".to_string(),
        // The breaker would shed most of this load; lift it so every request is simulated in full.
        "policy.destination_rule.trafficPolicy.connectionPool.http.http2MaxRequests=1000000".to_string(),
        "faults.0.at=10s".to_string(),
        "faults.1.at=20s".to_string(),
    ];
    let scenario = Arc::new(meshsim::scenario::load("scenarios/seed-failover.toml".as_ref(), &sets).expect("scenario"));
    let probe = meshsim::model::run(scenario.clone(), 1).expect("run");
    let requests: u64 = probe.world.rec.requests.iter().map(|x| u64::from(*x)).sum();
    h.case("e2e/seed_failover_20k_rps_30s", 10, (requests as f64, "client requests"), || {
        meshsim::model::run(scenario.clone(), 1).expect("run").events
    });
}
