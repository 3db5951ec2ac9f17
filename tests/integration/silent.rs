//! Issue 8, item 9: what meshsim used to accept silently (exit 0, no lint) is now an error that
//! names the file, the field and what was expected, as Istio or a user would expect.

use crate::bin::{BASE, copy_seed_manifests, run, write};

/// Writes `BASE + extra` as `s.toml` in a fresh folder and runs `meshsim run s.toml` with `sets`.
fn run_base(extra: &str, sets: &[&str]) -> (crate::scratch::TempDir, crate::bin::Outcome) {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", &format!("{BASE}{extra}"));
    let mut args = vec!["run", "s.toml", "--out", "o", "-q"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = run(tmp.path(), &args);
    (tmp, out)
}

const DR_OTHER_HOST: &str = "[policy.destination_rule]\nhost = \"reviews.default.svc.cluster.local\"\n";

#[test]
fn issue8_9_a_destination_rule_for_another_host_is_refused_naming_both() {
    let (_t, out) = run_base(DR_OTHER_HOST, &[]);
    out.refused(&[
        "s.toml: policy.destination_rule.host: the DestinationRule host `reviews.default.svc.cluster.local` \
         does not match the simulated service `svc.default.svc.cluster.local` (service.host)",
    ]);
}

#[test]
fn issue8_9_destination_rule_hosts_match_as_in_istio() {
    // A short name resolves in the service's namespace; a wildcard covers the service.
    for host in ["svc", "*.default.svc.cluster.local", "*.cluster.local", "*"] {
        let (_t, out) = run_base(&format!("[policy.destination_rule]\nhost = \"{host}\"\n"), &[]);
        out.succeeded();
    }
    // `svc.default` has a dot, so Istio takes it as written: it is not the service.
    let (_t, out) = run_base("[policy.destination_rule]\nhost = \"svc.default\"\n", &[]);
    out.refused(&["the DestinationRule host `svc.default` does not match"]);
}

#[test]
fn issue8_9_a_manifest_destination_rule_resolves_its_short_host_in_its_namespace() {
    // Issue 9: a rule for another host is not an error, as in Istio; it does not apply, and the
    // lint and `explain` say so and why (it was applied silently before issue 8).
    let tmp = crate::scratch::tempdir().unwrap();
    let dr = |ns: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: x\n  namespace: {ns}\n\
             spec:\n  host: svc\n  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 1\n"
        )
    };
    write(tmp.path(), "prod.yaml", &dr("prod"));
    write(tmp.path(), "default.yaml", &dr("default"));
    write(tmp.path(), "s.toml", &format!("{BASE}[policy]\nmanifests = [\"prod.yaml\"]\n"));
    let out = run(tmp.path(), &["run", "s.toml", "--out", "o"]);
    out.succeeded();
    assert!(out.stdout.contains("[no-destination-rule]"), "{}", out.stdout);
    let out = run(tmp.path(), &["explain", "s.toml"]);
    out.succeeded();
    assert!(
        out.stdout.contains("not applied DestinationRule prod/x")
            && out.stdout.contains("its host `svc.prod.svc.cluster.local` does not cover the service"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("[no-destination-rule]") && !out.stdout.contains("consecutive_5xx"), "{}", out.stdout);
    write(tmp.path(), "s2.toml", &format!("{BASE}[policy]\nmanifests = [\"default.yaml\"]\n"));
    let out = run(tmp.path(), &["explain", "s2.toml"]);
    out.succeeded();
    assert!(out.stdout.contains("applied     DestinationRule default/x"), "{}", out.stdout);
    assert!(!out.stdout.contains("[no-destination-rule]"), "{}", out.stdout);
}

#[test]
fn issue8_9_an_empty_manifest_is_refused() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "empty.yaml", "# nothing here\n---\n");
    write(tmp.path(), "s.toml", &format!("{BASE}[policy]\nmanifests = [\"empty.yaml\"]\n"));
    run(tmp.path(), &["run", "s.toml"])
        .refused(&["empty.yaml: holds no Kubernetes object (as kubectl says: no objects passed to apply)"]);
}

#[test]
fn issue8_9_set_policy_manifests_takes_effect() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", BASE);
    // A missing file is an error naming it: the override is read, not ignored.
    let out = run(tmp.path(), &["run", "s.toml", "--set", "policy.manifests=[\"missing.yaml\"]"]);
    out.refused(&["missing.yaml: cannot read", "(policy.manifests[0] of s.toml)"]);
    // A manifest given this way is read: its DestinationRule goes through Istio's selection,
    // which finds it is for another host (and the lint says so).
    write(
        tmp.path(),
        "dr.yaml",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: x\nspec:\n  host: other\n",
    );
    let out = run(tmp.path(), &["run", "s.toml", "--out", "o", "--set", "policy.manifests=[\"dr.yaml\"]"]);
    out.succeeded();
    assert!(
        out.stdout.contains(
            "DestinationRule default/x: its host `other.default.svc.cluster.local` does not cover the service"
        ),
        "{}",
        out.stdout
    );
    let out = run(tmp.path(), &["run", "s.toml", "--set", "policy.manifests=dr.yaml"]);
    out.refused(&["policy.manifests: expected a list of file paths, e.g. [\"manifests/dr.yaml\"]"]);
}

#[test]
fn issue8_9_a_sweep_axis_on_policy_manifests_is_refused() {
    let tmp = crate::scratch::tempdir().unwrap();
    let dir = tmp.path();
    copy_seed_manifests(dir);
    write(dir, "s.toml", BASE);
    let out = run(dir, &["sweep", "s.toml", "--grid", "policy.manifests=[\"a.yaml\"],[\"b.yaml\"]", "--dry-run"]);
    out.refused(&["policy.manifests: was set after the manifests were read (by a sweep axis?)"]);
}

#[test]
fn issue8_9_text_after_a_newline_in_a_set_value_is_refused() {
    let (_t, out) = run_base("", &["seed=5\nname=\"x\""]);
    out.refused(&["--set seed=5\\nname=\\\"x\\\": the value spans several lines; give one value on one line"]);
}

const ROUTE: &str = "route = [{ destination = { host = \"svc\" } }]";

#[test]
fn issue8_9_retry_on_tokens_are_validated_as_istio_does() {
    let vs = format!(
        "[policy.virtual_service]\nhttp = [{{ {ROUTE}, retries = {{ attempts = 2, retryOn = \"5xx,bogus\" }} }}]\n"
    );
    let (_t, out) = run_base(&vs, &[]);
    out.refused(&["policy.virtual_service.http[0].retries.retryOn: \"bogus\" is not a valid retryOn policy"]);
    let ok = format!(
        "[policy.virtual_service]\nhttp = [{{ {ROUTE}, retries = {{ attempts = 2, retryOn = \"5xx,503,reset\" }} }}]\n"
    );
    run_base(&ok, &[]).1.succeeded();
}

#[test]
fn issue8_9_a_route_without_destinations_is_refused() {
    let (_t, out) = run_base("[policy.virtual_service]\nhttp = [{ route = [] }]\n", &[]);
    out.refused(&["policy.virtual_service.http[0].route: HTTP route or redirect is required"]);
}

#[test]
fn issue8_9_fault_pods_must_exist_when_the_fault_happens() {
    let fault = |pods: &str| format!("[[faults]]\nat = \"1s\"\naction = \"refuse\"\ncluster = \"b\"\npods = {pods}\n");
    let (_t, out) = run_base(&fault("[0, 2]"), &[]);
    out.refused(&[
        "s.toml: faults[0].pods[1]: pod 2 does not exist at 1.000s: the deployment has pods 0..=1 then (2 pods)",
    ]);
    run_base(&fault("[1]"), &[]).1.succeeded();
    let (_t, out) = run_base(&fault("[]"), &[]);
    out.refused(&["faults[0].pods: an empty list selects no pod"]);
    // A scale-up adds the next ordinals; a scale-down removes the newest.
    let scaled = "[[faults]]\nat = \"0s\"\naction = \"scale\"\ncluster = \"b\"\nreplicas = 3\nphase = false\n\
                  [[faults]]\nat = \"0.5s\"\naction = \"scale\"\ncluster = \"b\"\nreplicas = 1\nphase = false\n";
    run_base(&format!("{scaled}{}", fault("[0]")), &[]).1.succeeded();
    let (_t, out) = run_base(&format!("{scaled}{}", fault("[2]")), &[]);
    out.refused(&["faults[2].pods[0]: pod 2 does not exist at 1.000s: the deployment has pods 0 then (1 pod)"]);
}

#[test]
fn issue8_9_http_error_needs_an_error_status() {
    let fault =
        |status: u16| format!("[[faults]]\nat = \"1s\"\naction = \"http-error\"\ncluster = \"b\"\nstatus = {status}\n");
    let (_t, out) = run_base(&fault(200), &[]);
    out.refused(&["faults[0].status: 200 is not an error status; `http-error` takes a 4xx or 5xx status"]);
    run_base(&fault(429), &[]).1.succeeded();
}

#[test]
fn issue8_9_duplicate_fault_names_are_refused() {
    let f = |at: &str, name: &str| {
        format!("[[faults]]\nat = \"{at}\"\naction = \"refuse\"\ncluster = \"b\"\nname = \"{name}\"\n")
    };
    let (_t, out) = run_base(&format!("{}{}", f("0.5s", "B down"), f("1s", "B down")), &[]);
    out.refused(&["faults[1].name: `B down` is already the name of faults[0]"]);
    // Derived names may repeat (a region that fails twice), but an expectation cannot name one.
    let plain = "[[faults]]\nat = \"0.5s\"\naction = \"refuse\"\ncluster = \"b\"\n\
                 [[faults]]\nat = \"1s\"\naction = \"recover\"\ncluster = \"b\"\n\
                 [[faults]]\nat = \"1.5s\"\naction = \"refuse\"\ncluster = \"b\"\n";
    run_base(plain, &[]).1.succeeded();
    let expect = "[[expect]]\nname = \"x\"\nkind = \"failover\"\nfault = \"b refuses connections\"\nwithin = \"1s\"\n";
    let (_t, out) = run_base(&format!("{plain}{expect}"), &[]);
    out.refused(&[
        "\"b refuses connections\" is the name of faults[0] and faults[2]; give the faults distinct `name`s",
    ]);
}

#[test]
fn issue8_9_durations_with_spaces_are_refused() {
    for d in [" 5s", "5s "] {
        let (_t, out) = run_base("", &[&format!("duration=\"{d}\"")]);
        out.refused(&[&format!("s.toml: duration: `{d}` is not a duration: it has a leading or trailing space")]);
    }
}

#[test]
fn issue8_9_manifest_errors_name_the_file_once() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(
        tmp.path(),
        "bad.yaml",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\nspec:\n  hots: x\n",
    );
    write(tmp.path(), "s.toml", &format!("{BASE}[policy]\nmanifests = [\"bad.yaml\"]\n"));
    let out = run(tmp.path(), &["run", "s.toml"]);
    out.refused(&["bad.yaml: document 0: DestinationRule r: spec.hots: unknown field `hots`"]);
    assert_eq!(out.stderr.matches("bad.yaml").count(), 1, "{}", out.stderr);
}

#[test]
fn issue8_9_a_bad_constraint_is_labelled_constraint() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", BASE);
    let grid = ["sweep", "s.toml", "--grid", "workload[0].rate=10,20", "--dry-run"];
    let out = run(tmp.path(), &[&grid[..], &["--constraint", "speed < 3"]].concat());
    out.refused(&["meshsim: error: --constraint: "]);
    let out = run(tmp.path(), &[&grid[..], &["--objective", "speed"]].concat());
    out.refused(&["meshsim: error: --objective: `speed` is not a metric"]);
    let out = run(tmp.path(), &[&grid[..], &["--goal", "fastest"]].concat());
    out.refused(&["meshsim: error: --goal: `fastest` is not a goal"]);
}

#[test]
fn issue8_9_a_sweep_file_without_scenario_says_so() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "sw.toml", "[[axes]]\npath = \"workload[0].rate\"\nvalues = [1, 2]\n");
    run(tmp.path(), &["sweep", "sw.toml", "--dry-run"]).refused(&["sw.toml: line 1: missing field `scenario`"]);
}

#[test]
fn issue8_9_a_tiny_grid_step_says_how_many_values_it_would_give() {
    let tmp = crate::scratch::tempdir().unwrap();
    write(tmp.path(), "s.toml", BASE);
    let out = run(tmp.path(), &["sweep", "s.toml", "--grid", "workload[0].rate=0.0..1.0 step 1e-300", "--dry-run"]);
    out.refused(&["about 1.0e300 values; at most 10000 are allowed on one axis"]);
}
