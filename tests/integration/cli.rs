//! The `meshsim` command as a user runs it: outputs, byte-identical reruns, exit codes, clear
//! errors, and no half-written output.

use std::process::Command;

use crate::util::{read, root};

fn meshsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim")).args(args).current_dir(root()).output().expect("runs")
}

const FILES: [&str; 6] = ["timeseries.csv", "client.csv", "events.jsonl", "summary.json", "traffic.png", "traffic.svg"];

#[test]
fn run_writes_every_output_and_reruns_are_byte_identical() {
    let tmp = crate::scratch::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for dir in [&a, &b] {
        let out = meshsim(&[
            "run",
            "scenarios/seed-failover-503.toml",
            "--set",
            "duration=100s",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for f in FILES {
        assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f} differs between two runs");
    }
    let ts = String::from_utf8(read(&a.join("timeseries.csv"))).unwrap();
    assert!(
        ts.starts_with(
            "time_s,locality,attempts,share,ejected_endpoints,ejected_pairs,upstream_5xx,connect_failure,timeout\n"
        ),
        "{ts:.200}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&read(&a.join("summary.json"))).unwrap();
    assert_eq!(summary["seed"], 1);
    assert_eq!(summary["phases"][0]["name"], "healthy");
    assert!(summary["phases"][1]["start_s"].as_f64() == Some(30.0));
    let events = String::from_utf8(read(&a.join("events.jsonl"))).unwrap();
    assert!(events.lines().any(|l| l.contains("\"event\":\"eject\"") && l.contains("\"multiplier\":1")));
    assert_eq!(&read(&a.join("traffic.png"))[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn seed_flag_changes_the_run() {
    let tmp = crate::scratch::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let out = meshsim(&[
        "run",
        "scenarios/seed-failover.toml",
        "--seed",
        "99",
        "--set",
        "duration=20s",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&read(&dir.join("summary.json"))).unwrap();
    assert_eq!(summary["seed"], 99);
}

fn expect_error(args: &[&str], needles: &[&str]) {
    let out = meshsim(args);
    assert_eq!(out.status.code(), Some(2), "args {args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    for n in needles {
        assert!(err.contains(n), "stderr of {args:?} lacks {n:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_is_a_clear_error_with_exit_code_2() {
    expect_error(&["run", "scenarios/nope.toml"], &["scenarios/nope.toml", "cannot read"]);
    expect_error(
        &["run", "scenarios/seed-failover.toml", "--set", "faults[0].replicass=1"],
        &["faults[0].replicass", "unknown field"],
    );
    expect_error(&["run", "scenarios/seed-failover.toml", "--set", "duration=ten"], &["duration", "not a duration"]);
    expect_error(&["run", "scenarios/seed-failover.toml", "--set", "faults[9].at=1s"], &["faults[9]", "out of range"]);
    expect_error(
        &["run", "scenarios/seed-failover.toml", "--set", "faults[0].cluster=cluster-x"],
        &["faults[0].cluster", "cluster-x"],
    );
    expect_error(
        &[
            "run",
            "scenarios/seed-failover.toml",
            "--set",
            "policy.destination_rule.trafficPolicy.outlierDetection.consecutive5xxErrorz=2",
        ],
        &["consecutive5xxErrorz"],
    );
    expect_error(&["run", "scenarios/seed-failover.toml", "--set", "nonsense"], &["PATH=VALUE"]);
    expect_error(&["frobnicate"], &["frobnicate"]);
}

#[test]
fn a_failed_run_leaves_existing_output_untouched() {
    let tmp = crate::scratch::tempdir().unwrap();
    let dir = tmp.path().join("keep");
    let ok = meshsim(&["run", "scenarios/seed-failover.toml", "--set", "duration=5s", "--out", dir.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let before = read(&dir.join("summary.json"));
    let out = meshsim(&[
        "run",
        "scenarios/seed-failover.toml",
        "--set",
        "limits.max_events=1000",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("event budget"));
    assert_eq!(read(&dir.join("summary.json")), before);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "staging folders left behind: {leftovers:?}");
}

/// Every CSV meshsim writes starts with a header line of column names, even with no data rows
/// (pandas refuses an empty file): the files of a run without ejections and of a small sweep.
#[test]
fn every_csv_has_a_header_even_when_empty() {
    let tmp = crate::scratch::tempdir().unwrap();
    let run = tmp.path().join("run");
    // Scale-to-zero: nothing is ever ejected, so ejections.csv has no rows.
    let out =
        meshsim(&["run", "scenarios/seed-failover.toml", "--set", "duration=40s", "--out", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sweep = tmp.path().join("sweep");
    let od = "policy.destination_rule.trafficPolicy.outlierDetection";
    let out = meshsim(&[
        "sweep",
        "scenarios/seed-failover.toml",
        "--grid",
        &format!("{od}.consecutive5xxErrors=1,2"),
        "--seeds",
        "2",
        "--set",
        "duration=20s",
        "--set",
        "faults[0].at=5s",
        "--set",
        "faults[1].at=10s",
        "--no-charts",
        "--quiet",
        "--out",
        sweep.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut seen = Vec::new();
    for dir in [&run, &sweep] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "csv") {
                let text = String::from_utf8(read(&p)).unwrap();
                let header = text.lines().next().unwrap_or_default();
                let names: Vec<&str> = header.split(',').collect();
                assert!(
                    names.len() >= 2
                        && names
                            .iter()
                            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')),
                    "{}: first line is not a header: {header:?}",
                    p.display()
                );
                seen.push(p.file_name().unwrap().to_string_lossy().to_string());
            }
        }
    }
    seen.sort();
    let ejections = String::from_utf8(read(&run.join("ejections.csv"))).unwrap();
    assert_eq!(ejections.lines().count(), 1, "no ejection rows, only the header: {ejections:?}");
    for f in
        ["client.csv", "ejections.csv", "latency_ecdf.csv", "timeseries.csv", "points.csv", "pareto.csv", "sweep.csv"]
    {
        assert!(seen.iter().any(|s| s == f), "{f} not written: {seen:?}");
    }
}
