//! Sweeps: determinism across thread counts, sharding and merging, resuming, strict input, and
//! the metrics' definitions on small runs of the 503 lab.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use meshsim::output::Guard;
use meshsim::sweep::{self, Options, Plan, Progress, Shard, SweepError, SweepSpec};

use crate::util::root;

const OD: &str = "policy.destination_rule.trafficPolicy.outlierDetection";

/// The 503 lab, shortened: 30 s at 200 requests/s, A answers 503 from 10 s to 20 s.
fn short_sets() -> Vec<String> {
    ["duration=30s", "workload[0].rate=200", "faults[0].at=10s", "faults[1].at=20s"].map(String::from).to_vec()
}

/// consecutive5xxErrors × baseEjectionTime, 2 × 2 points, 3 seeds: 12 runs.
fn small_spec() -> SweepSpec {
    let grids = [format!("{OD}.consecutive5xxErrors=1,3"), format!("{OD}.baseEjectionTime=5s,30s")];
    let mut spec = SweepSpec::from_grid(&root().join("scenarios/seed-failover-503.toml"), &grids).unwrap();
    spec.sets = short_sets();
    spec.seeds = 3;
    spec
}

fn opts(jobs: usize, shard: Shard, charts: bool) -> Options {
    Options { jobs, shard, fresh: false, charts, ..Options::default() }
}

fn execute(plan: &Plan, dir: &Path, o: &Options) -> sweep::Outcome {
    sweep::execute(plan, dir, o, &|_| {}).unwrap_or_else(|e| panic!("{e}"))
}

/// Every file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_files(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>(), "file lists differ");
    for (k, v) in &fa {
        assert!(v == &fb[k], "{} differs", k.display());
    }
}

#[test]
fn output_is_byte_identical_with_one_and_two_threads() {
    let plan = Plan::new(small_spec()).unwrap();
    let tmp = crate::scratch::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    let o1 = execute(&plan, &one, &opts(1, Shard::ALL, true));
    let o2 = execute(&plan, &two, &opts(2, Shard::ALL, true));
    assert_eq!((o1.ran, o1.total), (12, 12));
    assert_eq!(o1.summary, o2.summary);
    assert_same_files(&one, &two);
    let f = files(&one);
    for name in ["sweep.csv", "points.csv", "summary.txt", "best.json", "pareto.csv", "manifest.json", "scenario.toml"]
    {
        assert!(f.contains_key(Path::new(name)), "{name} missing");
    }
    for name in ["charts/errors.png", "charts/errors.svg", "charts/failback_s.lines.svg", "runs/r0000011.json"] {
        assert!(f.contains_key(Path::new(name)), "{name} missing");
    }
    // 12 runs + header; 4 points + header.
    assert_eq!(String::from_utf8_lossy(&f[Path::new("sweep.csv")]).lines().count(), 13);
    assert_eq!(String::from_utf8_lossy(&f[Path::new("points.csv")]).lines().count(), 5);
}

#[test]
fn shards_merged_equal_one_machine() {
    let plan = Plan::new(small_spec()).unwrap();
    let tmp = crate::scratch::tempdir().unwrap();
    let d = |n: &str| tmp.path().join(n);
    execute(&plan, &d("single"), &opts(2, Shard::ALL, true));
    let s0 = execute(&plan, &d("s0"), &opts(1, Shard { index: 0, count: 2 }, true));
    let s1 = execute(&plan, &d("s1"), &opts(1, Shard { index: 1, count: 2 }, true));
    // Interleaved slices: runs 0, 2, …, 10 and 1, 3, …, 11; no summary until all are present.
    assert_eq!((s0.ran, s0.finished, s0.summary.is_none()), (6, 6, true));
    assert_eq!((s1.ran, s1.finished, s1.summary.is_none()), (6, 6, true));
    let err = sweep::merge(&[d("s0")], &d("partial"), true, &Guard::new()).unwrap_err();
    assert!(matches!(err, SweepError::Incomplete { missing: 6, total: 12, .. }), "{err}");
    let merged = sweep::merge(&[d("s0"), d("s1")], &d("merged"), true, &Guard::new()).unwrap();
    assert!(merged.summary.is_some());
    assert_same_files(&d("single"), &d("merged"));
    // Merging into one of the shard folders gives the same folder too.
    sweep::merge(&[d("s1"), d("s0")], &d("s0"), true, &Guard::new()).unwrap();
    assert_same_files(&d("single"), &d("s0"));
}

#[test]
fn a_resumed_sweep_skips_finished_runs_and_ends_with_the_same_files() {
    let plan = Plan::new(small_spec()).unwrap();
    let tmp = crate::scratch::tempdir().unwrap();
    let (full, resumed) = (tmp.path().join("full"), tmp.path().join("resumed"));
    execute(&plan, &full, &opts(2, Shard::ALL, false));
    // A shard first, then the whole sweep in the same folder: only the other half runs.
    execute(&plan, &resumed, &opts(2, Shard { index: 1, count: 2 }, false));
    let again = execute(&plan, &resumed, &opts(2, Shard::ALL, false));
    assert_eq!((again.ran, again.skipped), (6, 6));
    assert_same_files(&full, &resumed);
    // As if killed: three run files and a table gone, a temporary file left behind.
    for idx in [0, 5, 11] {
        std::fs::remove_file(resumed.join(format!("runs/r{idx:07}.json"))).unwrap();
    }
    std::fs::remove_file(resumed.join("points.csv")).unwrap();
    std::fs::write(resumed.join("runs/.r0000005.json.tmp-999"), "{\"half").unwrap();
    let started = AtomicUsize::new(usize::MAX);
    let done = AtomicUsize::new(0);
    let progress = |p: Progress| match p {
        Progress::Start { skipped, .. } => started.store(skipped, Ordering::SeqCst),
        Progress::RunDone => {
            done.fetch_add(1, Ordering::SeqCst);
        }
        Progress::Finalizing => {}
    };
    let o = sweep::execute(&plan, &resumed, &opts(2, Shard::ALL, false), &progress).unwrap();
    assert_eq!((o.ran, o.skipped), (3, 9));
    assert_eq!((started.load(Ordering::SeqCst), done.load(Ordering::SeqCst)), (9, 3));
    assert_same_files(&full, &resumed);
}

#[test]
fn another_sweep_in_the_folder_is_refused_unless_fresh() {
    let plan = Plan::new(small_spec()).unwrap();
    let tmp = crate::scratch::tempdir().unwrap();
    let dir = tmp.path().join("out");
    execute(&plan, &dir, &opts(2, Shard { index: 0, count: 4 }, false));
    let mut other = small_spec();
    other.seeds = 2;
    let other = Plan::new(other).unwrap();
    let err = sweep::execute(&other, &dir, &opts(2, Shard { index: 0, count: 4 }, false), &|_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("holds another sweep") && msg.contains("--fresh"), "{msg}");
    let o =
        sweep::execute(&other, &dir, &Options { fresh: true, ..opts(2, Shard { index: 0, count: 4 }, false) }, &|_| {})
            .unwrap();
    // 8 runs in 4 slices: runs 0 and 4; nothing kept from the other sweep.
    assert_eq!((o.ran, o.skipped, o.finished), (2, 0, 2));
    // A folder with foreign files is never used.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let err = sweep::execute(&plan, &foreign, &Options { fresh: true, ..Options::default() }, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("has no .meshsim-output marker"), "{err}");
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1, "the foreign folder was left as it was");
}

#[test]
fn every_point_is_validated_before_any_run() {
    let mut spec = small_spec();
    spec.axes[1] = sweep::Axis {
        name: "maxEjectionPercent".into(),
        path: format!("{OD}.maxEjectionPercent"),
        values: vec![toml::Value::Integer(50), toml::Value::Integer(150)],
    };
    let err = Plan::new(spec).unwrap_err().to_string();
    // Point 1 is consecutive5xxErrors=1, maxEjectionPercent=150.
    assert!(err.starts_with("point 1 (consecutive5xxErrors=1, maxEjectionPercent=150):"), "{err}");
    assert!(err.contains("maxEjectionPercent"), "{err}");
}

/// A point is deserialized without tracking paths (plain serde) and, only when that fails, again
/// with them: its error names the point, then the field and what was expected exactly as the
/// path-tracking loader of `meshsim run` says it for the same tree.
#[test]
fn a_bad_point_names_the_field_as_a_run_with_its_value_does() {
    let scenario = root().join("scenarios/seed-failover-503.toml");
    let (int, text) = (toml::Value::Integer, |s: &str| toml::Value::String(s.into()));
    let table = |key: &str| toml::Value::Table([(key.to_string(), int(1))].into_iter().collect());
    for (axis, good, bad, key) in [
        (format!("{OD}.interval"), text("10s"), int(5), "interval"),
        (format!("{OD}.consecutive5xxErrors"), int(2), text("two"), "consecutive5xxErrors"),
        ("network.jitter".to_string(), toml::Value::Float(0.1), text("lots"), "network.jitter"),
        (format!("{OD}.baseEjectionTime"), text("30s"), text("30"), "baseEjectionTime"),
        ("output.bucket".to_string(), text("1s"), int(1), "output.bucket"),
        (OD.to_string(), table("consecutive5xxErrors"), table("consecutive5xxErrorz"), "did you mean"),
    ] {
        let mut spec = small_spec();
        spec.axes.truncate(1);
        spec.axes[0] = sweep::Axis { name: "x".into(), path: axis.clone(), values: vec![good, bad.clone()] };
        let err = Plan::new(spec).unwrap_err().to_string();
        // The point's tree through the path-tracking loader, as `meshsim run` and `check` load.
        let file = scenario.display().to_string();
        let text = std::fs::read_to_string(&scenario).unwrap();
        let mut tree = meshsim::scenario::load_tree(&text, &file, scenario.parent().unwrap(), &short_sets()).unwrap();
        meshsim::scenario::overrides::set(&mut tree, &axis, bad).unwrap();
        let alone = meshsim::scenario::from_tree(tree, &file).unwrap_err().to_string();
        assert!(err.starts_with("point 1 (x=") && err.ends_with(&format!("): {alone}")), "{err}\n{alone}");
        assert!(alone.contains(key), "{alone}");
    }
}

/// A sweep's points are built for their runs: the variants of `[[expect]]` tables with `set`
/// (the 503 lab has one, Istio 1.23) are built for point 0 only, and a run's scenario has none;
/// its results are those of the scenario `meshsim run` builds.
#[test]
fn points_are_built_without_variants_and_run_as_the_scenario_does() {
    let mut spec = small_spec();
    spec.axes.truncate(1);
    spec.seeds = 1;
    let plan = Plan::new(spec).unwrap();
    let point = plan.point(1).unwrap();
    assert!(point.variants.is_empty());
    let mut sets = short_sets();
    sets.push(format!("{OD}.consecutive5xxErrors=3"));
    let whole = meshsim::scenario::load(&root().join("scenarios/seed-failover-503.toml"), &sets).unwrap();
    assert_eq!(whole.variants.len(), 1, "the lab's Istio 1.23 variant");
    let r = plan.run(1);
    let a = meshsim::model::run(point, r.seed).unwrap();
    let b = meshsim::model::run(std::sync::Arc::new(whole), r.seed).unwrap();
    assert_eq!(a.events, b.events);
    let (ta, tb) = (meshsim::metrics::report::totals(&a.world), meshsim::metrics::report::totals(&b.world));
    assert_eq!(sweep::metrics::measure(&a, &ta), sweep::metrics::measure(&b, &tb));
    // A sweep measures from the totals alone: they are the whole report's figures.
    let ra = meshsim::metrics::report::report(&a.world, r.seed, a.events);
    assert_eq!(
        (&ta.transitions, ta.requests, ta.errors, ta.ejections, ta.ejections_overflow, ta.false_ejections),
        (&ra.transitions, ra.requests, ra.errors, ra.ejections, ra.ejections_overflow, ra.false_ejections)
    );
    assert!(ta.requests > 0 && ta.ejections > 0 && !ta.transitions.is_empty(), "a run with figures to compare");
}

#[test]
fn metrics_follow_their_definitions() {
    // consecutive5xxErrors 1, no noise: every ejection is of one of A's broken pods.
    let mut spec = small_spec();
    spec.axes.truncate(1);
    spec.axes[0].values.truncate(1);
    spec.seeds = 4;
    let plan = Plan::new(spec).unwrap();
    for r in (0..plan.n_runs()).map(|i| plan.run(i)) {
        let m = sweep::run_one(&plan, r).unwrap();
        let v = |name: &str| m.get(sweep::metrics::metric_index(name).unwrap());
        assert_eq!(v("false_ejections"), Some(0.0), "seed {}", r.seed);
        // The gateway ejects each of A's 3 pods at least once.
        assert!(v("ejections").unwrap() >= 3.0, "seed {}", r.seed);
        // Poisson arrivals at 200/s for 30 s: 6000 requests, within 4 standard deviations (77).
        let requests = v("requests").unwrap();
        assert!((requests - 6000.0).abs() <= 4.0 * 6000f64.sqrt(), "{requests}");
        // The failure and recovery windows tile [10 s, 30 s); no error happens before the fault.
        let windows = v("errors_failover").unwrap() + v("errors_recovery").unwrap();
        assert_eq!(windows, v("errors").unwrap(), "seed {}", r.seed);
        assert!(v("failover_s").is_some(), "seed {}", r.seed);
        // A's pods are ejected at about 10 s for baseEjectionTime 30 s times their ejection
        // count, so none returns before 40 s: the 30 s run ends before traffic fails back.
        assert_eq!(v("failback_s"), None, "seed {}", r.seed);
    }
}

#[test]
fn background_errors_make_false_ejections() {
    // Random 503s on B's healthy pods for the whole run, with consecutive5xxErrors 1: each noisy
    // 503 ejects its pod, and none of those pods is affected by the failure.
    let mut spec = small_spec();
    spec.axes.truncate(1);
    spec.axes[0].values.truncate(1);
    spec.seeds = 2;
    spec.scenario = root().join("scenarios/seed-503-noisy.toml");
    spec.sets = ["duration=30s", "workload[0].rate=200", "faults[2].at=10s", "faults[3].at=20s", "faults[4].at=20s"]
        .map(String::from)
        .to_vec();
    let plan = Plan::new(spec).unwrap();
    for r in (0..plan.n_runs()).map(|i| plan.run(i)) {
        let m = sweep::run_one(&plan, r).unwrap();
        let false_ejections = m.get(sweep::metrics::metric_index("false_ejections").unwrap()).unwrap();
        // About 100 requests/s reach B in the first 10 s alone: ~10 noisy 503s; P(none) ~ e^-10.
        assert!(false_ejections >= 1.0, "seed {}: {false_ejections}", r.seed);
    }
}

#[test]
fn the_shipped_sweep_files_expand() {
    for e in std::fs::read_dir(root().join("scenarios/sweeps")).unwrap() {
        let path = e.unwrap().path();
        let spec = SweepSpec::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::new(spec).unwrap_or_else(|e| panic!("{e}"));
        assert!(plan.n_runs() >= 100, "{}: {} runs", path.display(), plan.n_runs());
    }
}

#[test]
fn the_cli_reports_bad_input_with_exit_code_2() {
    let bin = env!("CARGO_BIN_EXE_meshsim");
    let tmp = crate::scratch::tempdir().unwrap();
    let bad_file = tmp.path().join("bad.toml");
    std::fs::write(&bad_file, "scenario = \"x.toml\"\nseeds = 3\nspeed = 1\n[[axes]]\npath = \"a\"\nvalues = [1]\n")
        .unwrap();
    let scenario = root().join("scenarios/seed-failover-503.toml");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![scenario.display().to_string(), "--grid".into(), "a.b".into()], "--grid a.b: expected PATH="),
        (vec![bad_file.display().to_string()], "unknown field `speed`"),
        (
            vec![
                scenario.display().to_string(),
                "--grid".into(),
                format!("{OD}.interval=1s"),
                "--shard".into(),
                "2/2".into(),
            ],
            "--shard 2/2: expected 0 <= I < N",
        ),
        (
            vec![
                scenario.display().to_string(),
                "--grid".into(),
                format!("{OD}.interval=1s"),
                "--objective".into(),
                "speed".into(),
            ],
            "`speed` is not a metric",
        ),
    ];
    for (args, want) in cases {
        let out = std::process::Command::new(bin)
            .arg("sweep")
            .args(&args)
            .arg("--out")
            .arg(tmp.path().join("o"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
