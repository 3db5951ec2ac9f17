//! What users read when something is wrong (issue 12, "Messages and conventions"): each file and
//! path named once, no stray lines, a "did you mean" for a misspelled key, errors on stderr.

use std::path::Path;
use std::process::Command;

use crate::util::root;

/// A small valid scenario; tests replace or append lines.
const BASE: &str = r#"name = "t"
duration = "2s"
[[clusters]]
name = "a"
region = "r1"
[service]
host = "svc.default.svc.cluster.local"
deployments = [{ cluster = "a", replicas = 2 }]
[[proxies]]
name = "p"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "p"
rate = 100
"#;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn meshsim(dir: &Path, args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_meshsim")).args(args).current_dir(dir).output().expect("runs");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn a_manifest_error_names_its_file_once() {
    let tmp = crate::scratch::tempdir().unwrap();
    let dr = std::fs::read_to_string(root().join("scenarios/manifests/seed/destination-rule.yaml")).unwrap();
    std::fs::write(tmp.path().join("dr.yaml"), dr.replace("consecutive5xxErrors", "consecutive5xxError")).unwrap();
    let text = BASE.replace("svc.default.svc.cluster.local", "hello-world.default.svc.cluster.local")
        + "[policy]\nmanifests = [\"dr.yaml\"]\n";
    std::fs::write(tmp.path().join("s.toml"), text).unwrap();
    let out = meshsim(tmp.path(), &["run", "s.toml", "--out", "o"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(out.stderr.matches("dr.yaml").count(), 1, "{}", out.stderr);
    // Issue 9: the resource and the full field path name the place (a cluster export holds many
    // resources); the line number of the old reader is gone.
    assert!(
        out.stderr.contains(
            "document 0: DestinationRule default/hello-world: \
             spec.trafficPolicy.outlierDetection.consecutive5xxError: unknown field `consecutive5xxError`"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean `consecutive5xxErrors`?"), "{}", out.stderr);
}

#[test]
fn an_unknown_key_is_one_line_with_a_suggestion() {
    let tmp = crate::scratch::tempdir().unwrap();
    std::fs::write(tmp.path().join("s.toml"), BASE.replace("rate = 100", "ratte = 100")).unwrap();
    let out = meshsim(tmp.path(), &["run", "s.toml", "--out", "o"]);
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stderr,
        "meshsim: error: s.toml: workload[0].ratte: unknown field `ratte`, expected one of `proxy`, `rate`, \
         `arrivals`, `times`, `rate_changes`, `users`, `requests`; did you mean `rate`?\n"
    );
    // The same through --set, and for a misspelled key deep in the DestinationRule.
    let out = meshsim(
        &root(),
        &[
            "run",
            "scenarios/seed-failover.toml",
            "--set",
            "policy.destination_rule.trafficPolicy.outlierDetection.intervall=1s",
        ],
    );
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.ends_with("did you mean `interval`?\n"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn a_wrong_type_has_no_stray_lines() {
    let tmp = crate::scratch::tempdir().unwrap();
    std::fs::write(tmp.path().join("s.toml"), BASE.replace("rate = 100", "rate = \"fast\"")).unwrap();
    let out = meshsim(tmp.path(), &["run", "s.toml", "--out", "o"]);
    assert_eq!(out.code, Some(2));
    assert!(!out.stderr.contains("in `"), "{}", out.stderr);
    assert!(!out.stderr.ends_with("\n\n"), "{:?}", out.stderr);
    assert!(out.stderr.starts_with("meshsim: error: s.toml: workload[0].rate: invalid type"), "{}", out.stderr);
}

#[test]
fn check_prints_file_errors_on_stderr() {
    let tmp = crate::scratch::tempdir().unwrap();
    std::fs::write(tmp.path().join("bad.toml"), BASE.replace("rate = 100", "ratte = 100")).unwrap();
    std::fs::write(
        tmp.path().join("good.toml"),
        BASE.to_string() + "[[expect]]\nname = \"some traffic\"\nkind = \"share\"\nlocality = \"a\"\nmin = 1.0\n",
    )
    .unwrap();
    let out = meshsim(tmp.path(), &["check", "."]);
    assert_eq!(out.code, Some(2));
    assert!(!out.stdout.contains("ratte"), "stdout: {}", out.stdout);
    assert!(out.stdout.contains("PASS  some traffic"), "stdout: {}", out.stdout);
    assert!(out.stdout.ends_with("1 passed, 0 failed, 1 files with errors\n"), "stdout: {}", out.stdout);
    assert!(out.stderr.contains("bad.toml: workload[0].ratte: unknown field"), "stderr: {}", out.stderr);
}

#[test]
fn version_names_the_commit() {
    let out = meshsim(&root(), &["--version"]);
    assert_eq!(out.code, Some(0));
    let head = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(root()).output();
    let commit = match head {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => "unknown".to_string(),
    };
    assert_eq!(out.stdout, format!("meshsim {} (commit {commit})\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions_for_each_shell() {
    for (shell, needle) in [
        ("bash", "complete -F _meshsim"),
        ("zsh", "#compdef meshsim"),
        ("fish", "complete -c meshsim"),
        ("elvish", "edit:completion:arg-completer[meshsim]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = meshsim(&root(), &["completions", shell]);
        assert_eq!(out.code, Some(0), "{shell}: {}", out.stderr);
        assert!(out.stdout.contains(needle), "{shell}: {:.300}", out.stdout);
        for sub in ["run", "check", "explain", "sweep", "merge", "completions"] {
            assert!(out.stdout.contains(sub), "{shell} completion lacks `{sub}`");
        }
    }
    let out = meshsim(&root(), &["completions", "tcsh"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("tcsh"), "{}", out.stderr);
}

#[test]
fn run_json_prints_the_summary_file() {
    let tmp = crate::scratch::tempdir().unwrap();
    let out_dir = tmp.path().join("o");
    let out = meshsim(
        &root(),
        &["run", "scenarios/seed-failover.toml", "--set", "duration=40s", "--json", "--out", out_dir.to_str().unwrap()],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.as_bytes(), crate::util::read(&out_dir.join("summary.json")).as_slice());
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["phases"][0]["name"], "healthy");
}

#[test]
fn check_json_and_set() {
    let out = meshsim(&root(), &["check", "scenarios/seed-failover.toml", "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let file = &v["files"][0];
    assert_eq!(file["scenario"], "seed-failover");
    let verdicts = file["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 9);
    assert_eq!(
        verdicts[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["bound", "kind", "measured", "name", "passed"]
    );
    assert_eq!((v["passed"].as_u64(), v["failed"].as_u64(), v["errors"].as_u64()), (Some(9), Some(0), Some(0)));
    // --set as for run: a run cut at 60 s drops the fail-back expectations (faults after 60 s).
    let out = meshsim(&root(), &["check", "scenarios/seed-failover.toml", "--json", "--set", "duration=60s"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["files"][0]["verdicts"].as_array().unwrap().len(), 7, "{}", out.stdout);
    // A bad --set is that file's error, named like run's.
    let out = meshsim(&root(), &["check", "scenarios/seed-failover.toml", "--json", "--set", "nonsense"]);
    assert_eq!(out.code, Some(2));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["files"][0]["error"], "--set nonsense: expected PATH=VALUE");
    assert!(out.stderr.contains("--set nonsense: expected PATH=VALUE"), "{}", out.stderr);
}

#[test]
fn explain_shows_istioctl_columns_and_json() {
    let args = ["explain", "scenarios/seed-failover-503.toml", "--at", "45s"];
    let out = meshsim(&root(), &args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let header = out.stdout.lines().find(|l| l.trim_start().starts_with("ENDPOINT")).expect("an endpoint table");
    let cols: Vec<&str> = header.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(cols, ["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER", "LOCALITY", "DETAIL"]);
    let row = out.stdout.lines().find(|l| l.trim_start().starts_with("cluster-a/0")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[..4], ["cluster-a/0", "HEALTHY", "FAILED", "outbound|80||hello-world.default.svc.cluster.local"]);
    let row = out.stdout.lines().find(|l| l.trim_start().starts_with("cluster-b/0")).unwrap();
    assert_eq!(row.split_whitespace().take(3).collect::<Vec<_>>(), ["cluster-b/0", "HEALTHY", "OK"]);

    let json = meshsim(&root(), &[&args[..], &["-o", "json"]].concat());
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    assert_eq!(json.stdout, meshsim(&root(), &[&args[..], &["--json"]].concat()).stdout);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["envoy_cluster"], "outbound|80||hello-world.default.svc.cluster.local");
    assert_eq!(v["at_s"], 45.0);
    let a0 = &v["proxies"][0]["priorities"][0]["localities"][0]["endpoints"][0];
    assert_eq!((a0["name"].as_str(), a0["state"].as_str()), (Some("cluster-a/0"), Some("ejected")));
    assert_eq!((a0["status"].as_str(), a0["outlier_check"].as_str()), (Some("HEALTHY"), Some("FAILED")));
    assert_eq!(a0["multiplier"], 1);
    let since = a0["since_s"].as_f64().unwrap();
    assert!((30.0..31.0).contains(&since) && (a0["returns_after_s"].as_f64().unwrap() - since - 30.0).abs() < 1e-9);
    assert_eq!(v["proxies"][0]["ejected"], serde_json::json!({"now": 3, "hosts": 6}));
}
