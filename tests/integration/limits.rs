//! Issue 8, items 6 and 7: memory follows the scenario's size and is checked against
//! `limits.max_memory` before anything is allocated; every limit saturates, refuses 0 and names
//! its key.
//!
//! The refusals run under a small address space (`ulimit -v`): a binary that allocated before
//! refusing would die there instead of exiting 2.

use std::time::Duration;

use crate::bin::{BASE, copy_seed_manifests, run, run_in, write};

const QUICK: Duration = Duration::from_secs(10);
/// 512 MiB: plenty for a refusal, far below what the refused runs would take.
const SMALL_AS: u64 = 512 << 20;

fn refused_quickly(extra: &str, sets: &[&str], needles: &[&str]) {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", &format!("{BASE}{extra}"));
    let mut args = vec!["run", "s.toml", "--out", "o"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = run_in(tmp.path(), &args, QUICK, Some(SMALL_AS));
    out.refused(needles);
    assert!(!tmp.path().join("o").exists(), "nothing written");
}

#[test]
fn issue8_6_a_billion_replicas_are_refused_before_allocating() {
    refused_quickly(
        "",
        &["service.deployments[0].replicas=1000000000"],
        &[
            "s.toml: limits.max_memory: a run of this scenario would need about",
            "more than limits.max_memory = 4 GiB; most of it is the proxies × pods (",
            "1 proxies × 1000000002 pods created over the run",
            "use fewer `replicas` (proxies, deployments, scale faults), or raise limits.max_memory",
        ],
    );
}

#[test]
fn issue8_6_a_scale_fault_to_a_billion_replicas_is_refused_before_allocating() {
    refused_quickly(
        "[[faults]]\nat = \"1s\"\naction = \"scale\"\ncluster = \"b\"\nreplicas = 1000000000\n",
        &[],
        &["most of it is the proxies × pods (", "1 proxies × 1000000002 pods created over the run"],
    );
}

#[test]
fn issue8_6_a_duration_of_100000h_is_refused_before_allocating() {
    refused_quickly(
        "",
        &["duration=100000h"],
        &[
            "would need about 1.7 TiB of memory, more than limits.max_memory = 4 GiB",
            "most of it is the time series",
            "3600000000 slots of 100 ms",
            "use a shorter `duration` or a longer `output.bucket`",
        ],
    );
}

#[test]
fn issue8_6_a_duration_of_5000h_is_refused_and_a_longer_bucket_does_not_make_it_fit() {
    // 180 million slots of 100 ms (counts per slot are kept for the failover timing).
    refused_quickly("", &["duration=5000h"], &["most of it is the time series", "180000000 slots of 100 ms"]);
    refused_quickly("", &["duration=5000h", "output.bucket=1h"], &["most of it is the time series"]);
}

#[test]
fn issue8_6_the_budget_is_a_limit_that_can_be_raised() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", BASE);
    let args = ["run", "s.toml", "--out", "o", "--set", "limits.max_memory=64MiB", "-q"];
    run(tmp.path(), &args).refused(&["more than limits.max_memory = 64 MiB", "raise limits.max_memory"]);
    let args = ["run", "s.toml", "--out", "o", "--set", "limits.max_memory=2GiB", "-q"];
    run(tmp.path(), &args).succeeded();
    for bad in ["0", "\"0GiB\"", "\"lots\"", "-5"] {
        let set = format!("limits.max_memory={bad}");
        let out = run(tmp.path(), &["run", "s.toml", "--set", &set]);
        out.refused(&["s.toml: limits.max_memory:"]);
    }
}

/// 16 000 clusters, each its own region: the latency matrix was quadratic (2 GB). Now it runs in
/// a 1 GiB address space.
#[test]
fn issue8_6_memory_is_linear_in_clusters() {
    let tmp = crate::scratch::tempdir().unwrap();
    let mut text = String::from("name = \"many\"\nduration = \"1s\"\n");
    for i in 0..16_000 {
        text.push_str(&format!("[[clusters]]\nname = \"c{i}\"\nregion = \"r{i}\"\n"));
    }
    text.push_str(
        "[service]\nhost = \"s.default.svc.cluster.local\"\ndeployments = [{ cluster = \"c0\", replicas = 2 }]\n\
         [[proxies]]\nname = \"p\"\nkind = \"sidecar\"\ncluster = \"c0\"\n[[workload]]\nproxy = \"p\"\nrate = 100\n",
    );
    write(tmp.path(), "s.toml", &text);
    let out = run_in(tmp.path(), &["run", "s.toml", "--out", "o", "-q"], Duration::from_secs(120), Some(1 << 30));
    out.succeeded();
}

/// A sweep keeps its points' scenarios no longer than their runs: validating 40 000 points fits
/// in 256 MiB of address space (it took about 10 KB per point, 400 MB here, before).
#[test]
fn issue8_6_sweep_memory_does_not_grow_with_its_points() {
    let tmp = crate::scratch::tempdir().unwrap();
    let dir = tmp.path();
    copy_seed_manifests(dir);
    std::fs::copy(crate::util::root().join("scenarios/seed-failover-503.toml"), dir.join("s.toml")).unwrap();
    let od = "policy.destination_rule.trafficPolicy.outlierDetection";
    let g1 = format!("{od}.consecutive5xxErrors=1..200");
    let g2 = format!("{od}.baseEjectionTime=1s..200s step 1s");
    let args = ["sweep", "s.toml", "--grid", &g1, "--grid", &g2, "--seeds", "1", "--dry-run", "-j", "2"];
    let out = run_in(dir, &args, Duration::from_secs(300), Some(256 << 20));
    out.succeeded();
    assert!(out.stdout.contains("40000 points x 1 seed = 40000 runs"), "{}", out.stdout);
}

#[test]
fn issue8_6_a_sweep_whose_tables_exceed_the_budget_is_refused() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", BASE);
    let args = ["sweep", "s.toml", "--grid", "workload[0].rate=1..10", "--seeds", "1000000", "--out", "o"];
    let out = run_in(tmp.path(), &[&args[..], &["--set", "limits.max_memory=256MiB"]].concat(), QUICK, Some(SMALL_AS));
    out.refused(&[
        "the sweep would need about",
        "its tables: 10000000 runs and 10 points",
        "more than limits.max_memory = 256 MiB",
    ]);
}

#[test]
fn issue8_7_zero_limits_are_refused_naming_the_key() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", BASE);
    for key in ["max_in_flight", "max_events"] {
        let set = format!("limits.{key}=0");
        let out = run(tmp.path(), &["run", "s.toml", "--set", &set]);
        out.refused(&[&format!("s.toml: limits.{key}: must be at least 1 (0 would stop every run at once)")]);
    }
}

/// `max_in_flight` near `i64::MAX` made `4n + 1024` wrap to 1020 and the run failed at 1 ms. Now
/// it is refused by the budget, and with the budget raised too, the bounds saturate and the run
/// completes.
#[test]
fn issue8_7_a_huge_max_in_flight_saturates_instead_of_wrapping() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", BASE);
    let huge = "limits.max_in_flight=9223372036854775807";
    let out = run(tmp.path(), &["run", "s.toml", "--set", huge]);
    out.refused(&["most of it is the requests in flight", "limits.max_in_flight = 9223372036854775807"]);
    let all = "limits.max_memory=18446744073709551615";
    run(tmp.path(), &["run", "s.toml", "--out", "o", "-q", "--set", huge, "--set", all]).succeeded();
}

/// A black hole with no timeout holds every request sent to it: `max_in_flight` stops the run
/// when that many client requests are in flight, and says so.
#[test]
fn issue8_7_max_in_flight_bounds_client_requests_in_flight() {
    let tmp = crate::scratch::tempdir().unwrap();
    let fault = "[[faults]]\nat = \"0s\"\naction = \"blackhole\"\ncluster = \"b\"\n";
    write(tmp.path(), "s.toml", &format!("{BASE}{fault}"));
    let out = run(tmp.path(), &["run", "s.toml", "--set", "limits.max_in_flight=50"]);
    out.refused(&[
        "a request arrived with 50 client requests already in flight, the limit (limits.max_in_flight)",
        "raise limits.max_in_flight",
    ]);
    // Without the black hole, 50 is plenty: at most a handful are in flight at once.
    write(tmp.path(), "ok.toml", BASE);
    run(tmp.path(), &["run", "ok.toml", "--out", "o", "-q", "--set", "limits.max_in_flight=50"]).succeeded();
}

/// Every route timeout stays queued until it expires, even for a request long answered: with an
/// hour-long timeout the queue outgrows the bound derived from `max_in_flight`, and the error
/// names the key.
#[test]
fn issue8_7_the_pending_event_bound_names_max_in_flight() {
    let tmp = crate::scratch::tempdir().unwrap();
    let vs = "[policy.virtual_service]\nhosts = [\"svc\"]\nhttp = [{ timeout = \"1h\", route = [{ destination = { host = \"svc\" } }] }]\n";
    write(tmp.path(), "s.toml", &format!("{BASE}{vs}"));
    // About 55 requests are in flight at 1000 per second, but every request leaves its timer.
    let sets = ["--set", "limits.max_in_flight=100", "--set", "workload[0].rate=1000"];
    let out = run(tmp.path(), &[&["run", "s.toml"][..], &sets].concat());
    out.refused(&["event queue grew past", "4 per request of limits.max_in_flight: raise it"]);
}

#[test]
fn issue8_7_the_event_budget_names_its_key() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", BASE);
    let out = run(tmp.path(), &["run", "s.toml", "--set", "limits.max_events=10"]);
    out.refused(&["event budget of 10 events exhausted", "raise limits.max_events"]);
}

/// The estimate is an upper bound: two scenarios whose estimates are about 500 MiB, one dominated
/// by the time series (300 localities for 15 minutes), one by proxies × pods (800 sidecars, 1 000
/// pods created), run within an address space of twice their estimate (the address space also
/// holds the program, its libraries and reserved but unused memory).
#[test]
fn issue8_6_the_estimate_bounds_what_a_run_uses() {
    let tmp = crate::scratch::tempdir().unwrap();
    let mut wide = String::from("name = \"wide\"\nduration = \"15m\"\n");
    for i in 0..300 {
        wide.push_str(&format!("[[clusters]]\nname = \"c{i}\"\nregion = \"r{i}\"\n"));
    }
    let deployments: Vec<String> = (0..300).map(|i| format!("{{ cluster = \"c{i}\", replicas = 1 }}")).collect();
    wide.push_str(&format!(
        "[service]\nhost = \"s.default.svc.cluster.local\"\ndeployments = [{}]\n\
         [[proxies]]\nname = \"p\"\nkind = \"sidecar\"\ncluster = \"c0\"\n[[workload]]\nproxy = \"p\"\nrate = 100\n",
        deployments.join(", ")
    ));
    let pods = BASE
        .replace(
            "replicas = 2 }, { cluster = \"b\", replicas = 2 }",
            "replicas = 300 }, { cluster = \"b\", replicas = 300 }",
        )
        .replace("cluster = \"a\"\n[[workload]]", "cluster = \"a\"\nreplicas = 400\n[[workload]]")
        + "[limits]\nmax_in_flight = 10000\n[policy.destination_rule]\nhost = \"svc\"\ntrafficPolicy = { outlierDetection = { consecutive5xxErrors = 1 } }\n\
           [[faults]]\nat = \"1s\"\naction = \"scale\"\ncluster = \"b\"\nreplicas = 700\n";
    for (name, text, dominant) in [("wide", wide, "time series"), ("pods", pods, "proxies × pods")] {
        write(tmp.path(), &format!("{name}.toml"), &text);
        let file = format!("{name}.toml");
        // The estimate, from the refusal under a tiny budget.
        let out = run(tmp.path(), &["run", &file, "--set", "limits.max_memory=1MiB"]);
        out.refused(&[&format!("most of it is the {dominant}")]);
        let mib: f64 = out
            .stderr
            .split("would need about ")
            .nth(1)
            .and_then(|t| t.split(" MiB").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no estimate in MiB: {}", out.stderr));
        assert!((350.0..800.0).contains(&mib), "{name}: estimate {mib} MiB");
        let limit = (2.0 * mib) as u64 * 1024 * 1024;
        let args = ["run", file.as_str(), "--out", name, "-q"];
        run_in(tmp.path(), &args, Duration::from_secs(300), Some(limit)).succeeded();
    }
}

/// Work done inside one event counts too: every EDS push visits each proxy's view of each pod,
/// so 2 000 sidecars and pods that keep changing could run for hours in a few hundred events.
#[test]
fn issue8_7_work_inside_events_is_bounded_by_max_events() {
    let tmp = crate::scratch::tempdir().unwrap();
    let mut text = BASE
        .replace(
            "replicas = 2 }, { cluster = \"b\", replicas = 2 }",
            "replicas = 100 }, { cluster = \"b\", replicas = 100 }",
        )
        .replace("cluster = \"a\"\n[[workload]]", "cluster = \"a\"\nreplicas = 2000\n[[workload]]");
    for i in 0..20 {
        text.push_str(&format!(
            "[[faults]]\nat = \"{}ms\"\naction = \"scale\"\ncluster = \"b\"\nreplicas = {}\nphase = false\n",
            50 * i,
            100 + i % 2
        ));
    }
    write(tmp.path(), "s.toml", &text);
    let out = run(tmp.path(), &["run", "s.toml", "--out", "o", "--set", "limits.max_events=2000000"]);
    out.refused(&["EDS pushes and outlier sweeps visited more than 2000000 hosts (limits.max_events"]);
}

/// The event log is not in the estimate, so it may use only what the estimate leaves of the
/// budget: with 200 KiB left, a detector that ejects and returns hosts every 10 ms (half of
/// A's answers are 503) fills it.
#[test]
fn issue8_6_the_event_log_stays_within_the_budget() {
    let tmp = crate::scratch::tempdir().unwrap();
    let text = format!(
        "{BASE}[policy.destination_rule]\nhost = \"svc\"\ntrafficPolicy = {{ outlierDetection = {{ \
         consecutive5xxErrors = 1, interval = \"10ms\", baseEjectionTime = \"10ms\", maxEjectionPercent = 100 }} }}\n\
         [[faults]]\nat = \"0s\"\naction = \"http-error\"\ncluster = \"a\"\nstatus = 503\nprobability = 0.5\n"
    )
    .replace("duration = \"2s\"", "duration = \"10s\"");
    let scenario = meshsim::scenario::from_str(&text, "s.toml", tmp.path(), &[]).unwrap();
    let estimate = meshsim::scenario::budget::estimate(&scenario).total();
    write(tmp.path(), "s.toml", &text);
    let tight = format!("limits.max_memory={}", estimate + (200 << 10));
    let out = run(tmp.path(), &["run", "s.toml", "--out", "o", "--set", &tight]);
    out.refused(&["the event log outgrew the memory left by the run's estimate", "limits.max_memory"]);
    let roomy = format!("limits.max_memory={}", estimate + (100 << 20));
    run(tmp.path(), &["run", "s.toml", "--out", "o", "-q", "--set", &roomy]).succeeded();
}
