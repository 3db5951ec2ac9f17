//! `meshsim check` end to end: the catalogue passes, failures and bad input give the documented
//! exit codes and messages, JUnit output parses, and a run is deterministic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use meshsim::scenario::ScenarioError;

use crate::util;

fn meshsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim")).args(args).current_dir(util::root()).output().expect("meshsim runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A small self-contained scenario: 3 + 3 pods in two regions, one sidecar in region A, A
/// answers 503 from 10 s to 20 s, no outlier detection (so every endpoint is in P0 and
/// LEAST_REQUEST spreads over all 6), 100 requests per second.
const SMALL: &str = r#"
name = "small"
duration = "30s"

[[clusters]]
name = "cluster-a"
region = "region-a"

[[clusters]]
name = "cluster-b"
region = "region-b"

[service]
host = "backend.default.svc.cluster.local"

[[service.deployments]]
cluster = "cluster-a"
replicas = 3

[[service.deployments]]
cluster = "cluster-b"
replicas = 3

[[proxies]]
name = "client"
kind = "sidecar"
cluster = "cluster-a"

[[workload]]
proxy = "client"
rate = 100

[[faults]]
at = "10s"
action = "http-error"
cluster = "cluster-a"
status = 503
name = "A answers 503"

[[faults]]
at = "20s"
action = "recover"
cluster = "cluster-a"
name = "A recovers"
"#;

fn write_scenario(dir: &Path, name: &str, expect: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{SMALL}\n{expect}")).unwrap();
    p
}

fn field_error(expect: &str) -> (String, String) {
    match util::parse(&format!("{SMALL}\n{expect}")) {
        Err(ScenarioError::Field { path, message, .. }) => (path, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn every_catalogue_scenario_passes_and_junit_parses() {
    let dir = crate::scratch::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let out = meshsim(&["check", "scenarios", "--junit", junit.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    let summary = text.lines().last().unwrap();
    assert!(summary.ends_with("passed, 0 failed"), "{summary}");
    // Every scenario of the catalogue carries expectations.
    let files: Vec<PathBuf> = std::fs::read_dir(util::root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    assert!(files.len() >= 9, "{files:?}");
    for f in &files {
        let s = meshsim::scenario::load(f, &[]).unwrap();
        assert!(!s.expectations.is_empty(), "{} has no expectations", f.display());
        assert!(!text.contains("(no expectations)"), "{text}");
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("well-formed JUnit");
    let n_passed: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(report.tests, n_passed);
    assert_eq!((report.failures, report.errors), (0, 0));
    assert_eq!(report.test_suites.len(), files.len());
}

#[test]
fn a_failing_expectation_exits_1_with_the_measured_value() {
    let dir = crate::scratch::tempdir().unwrap();
    // No outlier detection: nothing is ever ejected, so "at least 1 ejection" must fail with 0.
    // Before the fault B gets attempts, so "B gets nothing while healthy" fails too; the third
    // expectation passes: there are no errors before the fault.
    let file = write_scenario(
        dir.path(),
        "failing.toml",
        r#"
[[expect]]
name = "something is ejected"
kind = "ejections"
min = 1

[[expect]]
name = "B gets nothing while healthy"
kind = "share"
phase = "healthy"
locality = "region-b"
max = 0.0

[[expect]]
name = "no errors while healthy"
kind = "errors"
phase = "healthy"
max = 0
"#,
    );
    let junit = dir.path().join("junit.xml");
    let out = meshsim(&["check", file.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  something is ejected: 0 ejections over the run (expected at least 1)"), "{text}");
    assert!(text.contains("FAIL  B gets nothing while healthy: share of region-b in phase \"healthy\" = 0."), "{text}");
    assert!(text.contains("PASS  no errors while healthy"), "{text}");
    assert!(text.ends_with("1 passed, 2 failed\n"), "{text}");
    let report = quick_junit::Report::deserialize_from_str(&std::fs::read_to_string(&junit).unwrap()).unwrap();
    assert_eq!((report.tests, report.failures), (3, 2));
    let case = &report.test_suites[0].test_cases[0];
    match &case.status {
        quick_junit::TestCaseStatus::NonSuccess { message, .. } => {
            assert_eq!(message.as_ref().unwrap().as_str(), "0 ejections over the run (expected at least 1)");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_expectation_fields_exit_2_naming_the_path() {
    let dir = crate::scratch::tempdir().unwrap();
    let good = write_scenario(dir.path(), "good.toml", "[[expect]]\nname = \"quiet\"\nkind = \"no-ejections\"\n");
    let bad = write_scenario(
        dir.path(),
        "bad.toml",
        "[[expect]]\nname = \"ok\"\nkind = \"no-panic\"\n\n[[expect]]\nname = \"fast\"\nkind = \"failover\"\nwithin = \"soon\"\n",
    );
    let out = meshsim(&["check", good.to_str().unwrap(), bad.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    // The error goes to stderr, with the other errors; stdout holds the results.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml: expect[1].within: "), "{err}");
    assert!(!text.contains("expect[1].within"), "{text}");
    // The good file is still checked and reported.
    assert!(text.contains("PASS  quiet"), "{text}");
    assert!(text.ends_with("1 passed, 0 failed, 1 files with errors\n"), "{text}");
}

#[test]
fn expectation_errors_name_field_and_expected_value() {
    let cases: [(&str, &str, &str); 18] = [
        ("[[expect]]\nname = \"x\"\nkind = \"shares\"", "expect[0].kind", "is not one of \"share\""),
        ("[[expect]]\nname = \"x\"\nkind = \"share\"\nmax = 0.5", "expect[0].locality", "is required for kind `share`"),
        (
            "[[expect]]\nname = \"x\"\nkind = \"share\"\nlocality = \"region-z\"\nmax = 0.5",
            "expect[0].locality",
            "`region-z` is neither a cluster name nor a prefix of a locality (known: cluster-a, cluster-b, region-a, region-b)",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"share\"\nlocality = \"region-a\"\nmax = 1.5",
            "expect[0].max",
            "1.5 is not a fraction between 0 and 1",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"errors\"\nphase = \"outage\"\nmax = 1",
            "expect[0].phase",
            "no phase named \"outage\" (phases: \"healthy\", \"A answers 503\", \"A recovers\")",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"failback\"\nfault = \"A answers 503\"\nwithin = \"5s\"",
            "expect[0].fault",
            "\"A answers 503\" is not a recovery",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"no-panic\"\nmax = 1",
            "expect[0].max",
            "does not apply to kind `no-panic`",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"errors\"\nfrom = \"20s\"\nto = \"10s\"\nmax = 1",
            "expect[0].to",
            "must be after `from`",
        ),
        ("[[expect]]\nname = \"x\"\nkind = \"errors\"\nmax = 1.5", "expect[0].max", "1.5 is not a count"),
        (
            "[[expect]]\nname = \"x\"\nkind = \"keys-moved\"\nmax = 0.3",
            "expect[0].phase",
            "give the `phase` (not the first)",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"keys-moved\"\nphase = \"healthy\"\nmax = 0.3",
            "expect[0].phase",
            "\"healthy\" is the first phase",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"keys-moved\"\nphase = \"A recovers\"\nlocality = \"region-a\"",
            "expect[0].locality",
            "does not apply to kind `keys-moved`",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"keys-moved\"\nphase = \"A answers 503\"\nsince = \"A recovers\"\nmax = 0.3",
            "expect[0].since",
            "\"A recovers\" is not before phase \"A answers 503\": name an earlier phase",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"keys-moved\"\nphase = \"A recovers\"\nsince = \"before\"\nmax = 0.3",
            "expect[0].since",
            "no phase \"before\" (phases: \"healthy\", \"A answers 503\", \"A recovers\")",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"in-flight\"\nfrom = \"10s\"\nmax = 0",
            "expect[0].from",
            "in-flight counts requests at one instant: give `at`, a `phase` (counted at its end), or neither",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"in-flight\"\nat = \"10s\"\nphase = \"healthy\"\nmax = 0",
            "expect[0].at",
            "give either `at` or `phase` (counted at its end), not both",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"errors\"\nhung = true\nmax = 0",
            "expect[0].hung",
            "does not apply to kind `errors`",
        ),
        (
            "[[expect]]\nname = \"x\"\nkind = \"no-panic\"\n\n[[expect]]\nname = \"x\"\nkind = \"no-panic\"",
            "expect[1].name",
            "`x` is used by an earlier expectation",
        ),
    ];
    for (toml, path, message) in cases {
        let (p, m) = field_error(toml);
        assert_eq!(p, path, "{toml}");
        assert!(m.contains(message), "{toml}: {m}");
    }
    // Unknown keys are rejected by the strict schema, with the table's path.
    let (p, m) = field_error("[[expect]]\nname = \"x\"\nkind = \"no-panic\"\nwithn = \"5s\"");
    assert_eq!(p, "expect[0].withn");
    assert!(m.contains("unknown field `withn`"), "{m}");
}

#[test]
fn expectations_measure_what_the_spec_predicts() {
    // SMALL has no outlier detection: no ejections, no panic, and (Istio >= 1.24 does not retry
    // 503) every request that meets A between 10 s and 20 s fails. LEAST_REQUEST with 2 choices
    // picks A at least whenever both candidates are A hosts: 1/4 of the requests or more fail.
    // No failover happens, so a failover expectation fails with "did not complete".
    let s = util::parse(&format!(
        "{SMALL}\n{}",
        r#"
[[expect]]
name = "errors only while A fails"
kind = "errors"
from = "0s"
to = "10s"
max = 0

[[expect]]
name = "some 503s while A fails"
kind = "errors"
cause = "upstream_5xx"
phase = "A answers 503"
min_ratio = 0.2

[[expect]]
name = "never fails over"
kind = "failover"
within = "30s"

[[expect]]
name = "calm"
kind = "no-panic"

[[expect]]
name = "p99 under a second"
kind = "latency"
phase = "healthy"
max_latency = "1s"

[[expect]]
name = "no users, nothing to compare"
kind = "keys-moved"
phase = "A answers 503"
max = 1
"#
    ))
    .unwrap();
    let out = meshsim::model::run(Arc::new(s), 1).unwrap();
    let r = meshsim::metrics::report::report(&out.world, 1, out.events);
    let v = meshsim::check::evaluate(&out.world, &r);
    let passed: Vec<bool> = v.iter().map(|v| v.passed).collect();
    assert_eq!(passed, [true, true, false, true, true, false], "{v:#?}");
    // A workload without users carries no keys: keys-moved fails and says why, whatever its bounds.
    assert_eq!(v[5].measured, "no workload user was seen both in phase \"A answers 503\" and in the phase before");
    assert_eq!(v[2].measured, "after \"A answers 503\": failover did not settle before its phase ended");
    assert_eq!(v[2].kind, "failover");
}

#[test]
fn determinism_check_passes_and_reports_the_trace() {
    let out = meshsim(&["check", "--determinism", "--seed", "7", "scenarios/od-pins-local-zone.toml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("(scenarios/od-pins-local-zone.toml, seed 7)"), "{text}");
    assert!(text.contains("PASS  determinism: two runs agree: "), "{text}");
}

#[test]
fn determinism_comparison_of_two_runs_of_a_scenario() {
    let s = Arc::new(util::load("gateway-replicas.toml", &[]));
    let cmp = meshsim::check::determinism::compare_runs(s, 3).unwrap();
    assert!(cmp.verdict.passed, "{}", cmp.verdict.message);
}

#[test]
fn missing_paths_and_empty_folders_are_bad_input() {
    let out = meshsim(&["check", "no/such/file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/file.toml"));
    let dir = crate::scratch::tempdir().unwrap();
    let out = meshsim(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no scenario files"));
}

/// An expectation with `set` is measured on a run with those overrides, not on the scenario's
/// own run: A answers 503 from 10 s to 20 s, so "no client error" fails on the scenario itself
/// and passes on the variant whose fault never fires (`probability = 0`).
#[test]
fn an_expectation_with_set_is_measured_on_the_variant_run() {
    let dir = crate::scratch::tempdir().unwrap();
    let file = write_scenario(
        dir.path(),
        "variant.toml",
        r#"
[[expect]]
name = "no client error"
kind = "errors"
max = 0

[[expect]]
name = "no client error when A never fails"
set = ["faults.0.probability=0.0"]
kind = "errors"
max = 0
"#,
    );
    let s = meshsim::scenario::load(&file, &[]).unwrap();
    assert_eq!(s.expectations.len(), 1, "the variant's expectation is not one of the run's");
    assert_eq!(s.variants.len(), 1);
    assert_eq!(s.variants[0].sets, ["faults.0.probability=0.0"]);
    let out = meshsim(&["check", file.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let base = text.lines().find(|l| l.contains("no client error:")).expect(&text);
    assert!(base.starts_with("  FAIL") && !base.contains("with --set"), "{base}");
    let variant = text.lines().find(|l| l.contains("no client error when A never fails")).expect(&text);
    assert!(variant.starts_with("  PASS"), "{variant}");
    assert!(variant.contains("with --set 'faults.0.probability=0.0': 0 client errors"), "{variant}");
    assert!(text.ends_with("1 passed, 1 failed\n"), "{text}");
    // `--set` on the command line reaches the variants too: with the fault gone from the base,
    // both pass.
    let out = meshsim(&["check", file.to_str().unwrap(), "--set", "faults.0.probability=0.0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_bad_set_in_an_expectation_exits_2_naming_it() {
    let dir = crate::scratch::tempdir().unwrap();
    for (set, says) in [
        (r#"set = "mesh.istio_version=1.23""#, "expected a list of overrides"),
        ("set = []", "is empty"),
        (r#"set = ["mesh.istio_versio=\"1.23\""]"#, "did you mean `istio_version`"),
        (r#"set = ["policy.manifests=[]"]"#, "cannot override policy.manifests"),
        (r#"set = ["faults.0.status=200"]"#, "faults"),
    ] {
        let file = write_scenario(
            dir.path(),
            "bad-set.toml",
            &format!("[[expect]]\nname = \"x\"\n{set}\nkind = \"errors\"\nmax = 0\n"),
        );
        let out = meshsim(&["check", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{set}: {err}");
        assert!(err.contains("bad-set.toml") && err.contains("expect[0].set") && err.contains(says), "{set}: {err}");
    }
}

/// An expectation about a window after the run's end (a typo, or a run shortened with
/// `--set duration`) is not measured, and `check` says so by name instead of dropping it
/// silently: text, JSON and JUnit (as a skipped case). Before, it vanished from every report.
#[test]
fn an_expectation_past_the_end_is_named_as_skipped() {
    let dir = crate::scratch::tempdir().unwrap();
    let file = write_scenario(
        dir.path(),
        "late.toml",
        r#"
[[expect]]
name = "no errors while healthy"
kind = "errors"
from = "0s"
to = "10s"
max = 0

[[expect]]
name = "typo: after the end"
kind = "errors"
from = "300s"
to = "310s"
max = 0
"#,
    );
    let junit = dir.path().join("junit.xml");
    let f = file.to_str().unwrap();
    let out = meshsim(&["check", f, "--junit", junit.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "SKIP  typo: after the end: not measured: what it measures is at or after the end of the run (30s)"
        ),
        "{text}"
    );
    assert!(text.trim_end().ends_with("1 passed, 0 failed, 1 skipped"), "{text}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("well-formed JUnit");
    assert_eq!(report.tests, 2, "{xml}");
    assert!(xml.contains("<skipped message=\"not measured"), "{xml}");
    let json = meshsim(&["check", f, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["files"][0]["skipped"][0]["name"], "typo: after the end", "{v}");
    // Shortening the run with --set skips the expectations it cuts off, by name too.
    let short = meshsim(&["check", f, "--set", "duration=\"5s\""]);
    let text = stdout(&short);
    assert!(text.contains("SKIP  typo: after the end"), "{text}");
    assert!(!text.contains("SKIP  no errors while healthy"), "{text}");
}
