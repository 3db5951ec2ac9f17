//! What meshsim writes, and what it never touches: each test runs the binary in a temporary
//! folder, as a careless user would, and checks the exit code, the message, and that every file
//! it must not touch is byte-for-byte as before. The cases are issue 8's items 1 to 4 and 8.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::root;

const BIN: &str = env!("CARGO_BIN_EXE_meshsim");

/// Runs meshsim in `cwd`.
fn meshsim_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(cwd).output().expect("meshsim runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit code 2 and an error message holding every needle.
#[track_caller]
fn assert_refused(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(out));
}

/// One entry of a folder tree, never following links.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    File(Vec<u8>),
    Dir,
    Link(PathBuf),
    Other,
}

/// Every entry under `dir` (and `dir` itself, as ""), never following links.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(base: &Path, p: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        let m = fs::symlink_metadata(p).unwrap();
        let key = p.strip_prefix(base).unwrap().to_path_buf();
        if m.is_symlink() {
            out.insert(key, Node::Link(fs::read_link(p).unwrap()));
        } else if m.is_file() {
            out.insert(key, Node::File(fs::read(p).unwrap()));
        } else if m.is_dir() {
            out.insert(key, Node::Dir);
            for e in fs::read_dir(p).unwrap() {
                walk(base, &e.unwrap().path(), out);
            }
        } else {
            out.insert(key, Node::Other);
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

/// A temporary workplace: `lab/seed-failover.toml` with its manifests, a file of the user's
/// (`notes.txt`) and a folder of the user's (`mine/` with a file).
fn workplace() -> crate::scratch::TempDir {
    let tmp = crate::scratch::tempdir().unwrap();
    let lab = tmp.path().join("lab");
    fs::create_dir_all(lab.join("manifests/seed")).unwrap();
    let scenarios = root().join("scenarios");
    fs::copy(scenarios.join("seed-failover.toml"), lab.join("seed-failover.toml")).unwrap();
    for f in ["gateway.yaml", "virtual-service.yaml", "destination-rule.yaml"] {
        fs::copy(scenarios.join("manifests/seed").join(f), lab.join("manifests/seed").join(f)).unwrap();
    }
    fs::write(tmp.path().join("notes.txt"), "my notes").unwrap();
    fs::create_dir(tmp.path().join("mine")).unwrap();
    fs::write(tmp.path().join("mine/thesis.tex"), "chapter 1").unwrap();
    tmp
}

const LAB: &str = "lab/seed-failover.toml";

/// `meshsim run lab/seed-failover.toml --set duration=5s ARGS...` in `cwd`.
fn short_run(cwd: &Path, args: &[&str]) -> Output {
    let mut all = vec!["run", LAB, "--set", "duration=5s", "-q"];
    all.extend_from_slice(args);
    meshsim_in(cwd, &all)
}

/// Runs `args` in a fresh workplace and checks that it is refused with `needles` and that the
/// workplace is exactly as before.
#[track_caller]
fn refused_untouched(args: &[&str], needles: &[&str]) {
    let w = workplace();
    let before = snapshot(w.path());
    assert_refused(&short_run(w.path(), args), needles);
    assert_eq!(snapshot(w.path()), before, "the workplace changed");
}

// ---------------------------------------------------------------------------------------------
// 1. Only folders meshsim wrote (or empty ones) are replaced.

#[test]
fn out_dot_is_refused_and_the_current_folder_kept() {
    refused_untouched(&["--out", "."], &[": .: is the current folder"]);
    refused_untouched(&["--out", "./"], &["is the current folder"]);
}

#[test]
fn out_at_the_current_folder_or_an_ancestor_by_its_full_path_is_refused() {
    // Run from inside `mine/`, with the scenario by its full path.
    let w = workplace();
    let before = snapshot(w.path());
    let cwd = w.path().join("mine");
    let lab = w.path().join(LAB);
    let run = |out: &Path| {
        meshsim_in(&cwd, &["run", lab.to_str().unwrap(), "--set", "duration=5s", "--out", out.to_str().unwrap()])
    };
    assert_refused(&run(&cwd), &["mine: is the current folder"]);
    assert_refused(&run(w.path()), &["contains the current folder"]);
    assert_refused(&run(Path::new("..")), &["ends in `..`"]);
    assert_refused(&run(&cwd.join("..")), &["ends in `..`"]);
    assert_eq!(snapshot(w.path()), before);
}

#[test]
fn out_at_the_scenarios_own_folder_is_refused() {
    refused_untouched(&["--out", "lab"], &["lab: contains the input lab/seed-failover.toml"]);
    refused_untouched(&["--out", "lab/"], &["lab/: contains the input"]);
}

#[test]
fn out_at_a_folder_meshsim_did_not_write_is_refused() {
    refused_untouched(&["--out", "mine"], &["mine: is not empty and has no .meshsim-output marker"]);
    // A folder holding only hidden files is not empty either.
    let w = workplace();
    fs::create_dir(w.path().join("hidden")).unwrap();
    fs::write(w.path().join("hidden/.profile"), "x").unwrap();
    let before = snapshot(w.path());
    assert_refused(&short_run(w.path(), &["--out", "hidden"]), &["has no .meshsim-output marker"]);
    assert_eq!(snapshot(w.path()), before);
}

#[test]
fn out_at_a_file_is_refused() {
    refused_untouched(&["--out", "notes.txt"], &["notes.txt: is a file, not a folder"]);
    #[cfg(unix)]
    {
        let w = workplace();
        let fifo = w.path().join("pipe");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let before = snapshot(w.path());
        assert_refused(&short_run(w.path(), &["--out", "pipe"]), &["pipe: is a FIFO (named pipe), not a folder"]);
        assert_eq!(snapshot(w.path()), before);
    }
}

#[cfg(unix)]
#[test]
fn out_through_a_symbolic_link_is_refused() {
    let w = workplace();
    std::os::unix::fs::symlink("mine", w.path().join("link")).unwrap();
    // A link to an empty folder, and a dangling link.
    fs::create_dir(w.path().join("empty")).unwrap();
    std::os::unix::fs::symlink("empty", w.path().join("to-empty")).unwrap();
    std::os::unix::fs::symlink("nowhere", w.path().join("dangling")).unwrap();
    let before = snapshot(w.path());
    for link in ["link", "to-empty", "dangling"] {
        assert_refused(&short_run(w.path(), &["--out", link]), &[&format!("{link}: is a symbolic link")]);
    }
    assert_eq!(snapshot(w.path()), before);
}

#[test]
fn out_at_the_home_folder_is_refused() {
    let w = workplace();
    let before = snapshot(w.path());
    let home = w.path().join("mine");
    let run = |out: &str| {
        Command::new(BIN)
            .args(["run", LAB, "--set", "duration=5s", "--out", out])
            .current_dir(w.path())
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    assert_refused(&run("mine"), &["mine: is your home folder"]);
    // Its parent contains it (here also the current folder, which is checked first).
    assert_refused(&run(w.path().to_str().unwrap()), &["the current folder"]);
    assert_eq!(snapshot(w.path()), before);
}

#[test]
fn out_with_a_missing_parent_is_refused_and_nothing_created() {
    refused_untouched(&["--out", "typo/results/run1"], &["typo/results: does not exist"]);
}

#[test]
fn a_marked_folder_holding_a_file_of_the_users_is_refused() {
    let w = workplace();
    assert_ok(&short_run(w.path(), &["--out", "out"]));
    fs::write(w.path().join("out/my-analysis.ipynb"), "mine").unwrap();
    let before = snapshot(w.path());
    assert_refused(&short_run(w.path(), &["--out", "out"]), &["my-analysis.ipynb, which meshsim did not write"]);
    assert_eq!(snapshot(w.path()), before);
    // A file of meshsim's replaced by a link to a file of the user's: refused, the link and its
    // target kept.
    fs::remove_file(w.path().join("out/my-analysis.ipynb")).unwrap();
    fs::remove_file(w.path().join("out/summary.json")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("../notes.txt", w.path().join("out/summary.json")).unwrap();
        let before = snapshot(w.path());
        assert_refused(&short_run(w.path(), &["--out", "out"]), &["summary.json, which meshsim did not write"]);
        assert_eq!(snapshot(w.path()), before);
    }
    // A folder inside it.
    let w = workplace();
    assert_ok(&short_run(w.path(), &["--out", "out"]));
    fs::create_dir(w.path().join("out/sub")).unwrap();
    let before = snapshot(w.path());
    assert_refused(&short_run(w.path(), &["--out", "out"]), &["sub, which meshsim did not write"]);
    assert_eq!(snapshot(w.path()), before);
}

#[test]
fn a_folder_meshsim_wrote_or_an_empty_one_is_replaced_and_nothing_is_left_beside_it() {
    let w = workplace();
    fs::create_dir(w.path().join("out")).unwrap();
    assert_ok(&short_run(w.path(), &["--out", "out"]));
    let first = snapshot(&w.path().join("out"));
    let marker = String::from_utf8(fs::read(w.path().join("out/.meshsim-output")).unwrap()).unwrap();
    assert!(marker.contains("kind = \"run\"") && marker.contains("scenario = \"seed-failover\""), "{marker}");
    assert!(marker.contains("\"summary.json\""), "{marker}");
    // Replaced by a run with another seed: different files, nothing left beside them.
    assert_ok(&short_run(w.path(), &["--out", "out", "--seed", "7"]));
    assert_ne!(snapshot(&w.path().join("out")), first);
    assert_ok(&short_run(w.path(), &["--out", "out"]));
    assert_eq!(snapshot(&w.path().join("out")), first);
    assert_eq!(names(w.path()), ["lab", "mine", "notes.txt", "out"]);
    // The default folder, output/<name>, is created with its parent.
    assert_ok(&short_run(w.path(), &[]));
    assert_eq!(snapshot(&w.path().join("output/seed-failover")), first);
    assert_eq!(names(&w.path().join("output")), ["seed-failover"]);
}

#[test]
fn sweep_and_merge_folders_follow_the_same_rules() {
    let w = workplace();
    assert_ok(&short_run(w.path(), &["--out", "run"]));
    let before = snapshot(w.path());
    let sweep = |out: &str| {
        meshsim_in(
            w.path(),
            &[
                "sweep",
                LAB,
                "--grid",
                "seed=1,2",
                "--seeds",
                "1",
                "--set",
                "duration=5s",
                "--no-charts",
                "-q",
                "--out",
                out,
            ],
        )
    };
    assert_refused(&sweep("mine"), &["mine: is not empty and has no .meshsim-output marker"]);
    assert_refused(&sweep("run"), &["run: holds meshsim run output, not sweep output"]);
    assert_refused(&sweep("."), &["is the current folder"]);
    assert_refused(&sweep("lab"), &["contains the input"]);
    assert_refused(&sweep("notes.txt"), &["is a file"]);
    assert_refused(&sweep("typo/sweep"), &["typo: does not exist"]);
    assert_eq!(snapshot(w.path()), before);
    assert_ok(&sweep("sw"));
    let before = snapshot(w.path());
    // A run into a sweep folder, and a merge into folders that are not sweep folders.
    assert_refused(&short_run(w.path(), &["--out", "sw"]), &["sw: holds meshsim sweep output, not run output"]);
    let merge = |out: &str| meshsim_in(w.path(), &["merge", "sw", "--no-charts", "-q", "--out", out]);
    assert_refused(&merge("mine"), &["has no .meshsim-output marker"]);
    assert_refused(&merge("run"), &["holds meshsim run output"]);
    assert_refused(&merge("."), &["is the current folder"]);
    assert_eq!(snapshot(w.path()), before);
    assert_ok(&merge("merged"));
    assert_eq!(names(&w.path().join("merged")), names(&w.path().join("sw")));
}

#[test]
fn sweep_fresh_removes_only_meshsims_own_files() {
    let w = workplace();
    let sweep = |extra: &[&str]| {
        let mut args =
            vec!["sweep", LAB, "--grid", "seed=1,2", "--seeds", "1", "--set", "duration=5s", "-q", "--out", "sw"];
        args.extend_from_slice(extra);
        meshsim_in(w.path(), &args)
    };
    assert_ok(&sweep(&["--no-charts"]));
    fs::write(w.path().join("sw/README.md"), "what this sweep is for").unwrap();
    fs::write(w.path().join("sw/runs/notes.txt"), "mine").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("../../notes.txt", w.path().join("sw/runs/r0000009.json")).unwrap();
    let out = meshsim_in(
        w.path(),
        &[
            "sweep",
            LAB,
            "--grid",
            "seed=1,2,3",
            "--seeds",
            "1",
            "--set",
            "duration=5s",
            "-q",
            "--out",
            "sw",
            "--no-charts",
            "--fresh",
        ],
    );
    assert_ok(&out);
    assert_eq!(fs::read(w.path().join("sw/README.md")).unwrap(), b"what this sweep is for");
    assert_eq!(fs::read(w.path().join("sw/runs/notes.txt")).unwrap(), b"mine");
    assert_eq!(fs::read(w.path().join("notes.txt")).unwrap(), b"my notes");
    assert_eq!(names(&w.path().join("sw/runs")), ["notes.txt", "r0000000.json", "r0000001.json", "r0000002.json"]);
}

// ---------------------------------------------------------------------------------------------
// 2. Scenario names are plain file names.

#[test]
fn unsafe_scenario_names_are_refused_naming_the_field() {
    // Run from inside `mine/` (so that `output/..` would be a folder of the user's), with the
    // scenario by its full path.
    let w = workplace();
    let cwd = w.path().join("mine");
    let lab = w.path().join(LAB);
    let abs = w.path().join("abs").display().to_string();
    for name in ["..", ".", "", &abs, "../x", "a/b", ".hidden", "my lab"] {
        let before = snapshot(w.path());
        let set = format!("name={}", toml::Value::String(name.into()));
        let out = meshsim_in(&cwd, &["run", lab.to_str().unwrap(), "--set", "duration=5s", "--set", &set]);
        assert_refused(&out, &["seed-failover.toml: name:", "must be a plain file name"]);
        assert_eq!(snapshot(w.path()), before, "name {name:?}");
    }
    let long = format!("name=\"{}\"", "x".repeat(101));
    assert_refused(
        &meshsim_in(&cwd, &["run", lab.to_str().unwrap(), "--set", &long]),
        &["name: is 101 characters long"],
    );
    // A plain name is a folder under output/.
    assert_ok(&meshsim_in(
        &cwd,
        &["run", lab.to_str().unwrap(), "--set", "duration=5s", "--set", "name=lab_2.v1", "-q"],
    ));
    assert_eq!(names(&cwd.join("output")), ["lab_2.v1"]);
}

// ---------------------------------------------------------------------------------------------
// 3. Single-file outputs: --junit.

/// A scenario for `check`: the seed lab, 5 s, with one expectation that passes.
fn small_check(dir: &Path) -> PathBuf {
    let text = fs::read_to_string(dir.join(LAB)).unwrap();
    let text = text.replace("duration = \"150s\"", "duration = \"5s\"");
    let p = dir.join("lab/short.toml");
    fs::write(&p, text).unwrap();
    p
}

fn check_junit(cwd: &Path, junit: &str) -> Output {
    meshsim_in(cwd, &["check", "lab/short.toml", "--junit", junit])
}

#[test]
fn junit_to_a_folder_a_link_or_a_missing_folder_is_refused() {
    let w = workplace();
    small_check(w.path());
    #[cfg(unix)]
    std::os::unix::fs::symlink("notes.txt", w.path().join("link.xml")).unwrap();
    let before = snapshot(w.path());
    assert_refused(
        &check_junit(w.path(), "mine"),
        &["mine: is a folder; meshsim writes this output only to a regular file"],
    );
    assert_refused(&check_junit(w.path(), "reports/ci/junit.xml"), &["reports/ci: does not exist"]);
    assert_refused(&check_junit(w.path(), "notes.txt/junit.xml"), &["notes.txt: is not a folder"]);
    assert_refused(&check_junit(w.path(), "lab/short.toml"), &["is the input"]);
    assert_refused(&check_junit(w.path(), "."), &["names no file"]);
    #[cfg(unix)]
    assert_refused(&check_junit(w.path(), "link.xml"), &["link.xml: is a symbolic link"]);
    assert_eq!(snapshot(w.path()), before);
}

#[cfg(unix)]
#[test]
fn junit_to_a_fifo_is_refused_and_the_fifo_kept() {
    let w = workplace();
    small_check(w.path());
    assert!(Command::new("mkfifo").arg(w.path().join("pipe")).status().unwrap().success());
    let before = snapshot(w.path());
    assert_refused(&check_junit(w.path(), "pipe"), &["pipe: is a FIFO (named pipe)"]);
    assert_eq!(snapshot(w.path()), before);
}

#[test]
fn concurrent_checks_writing_one_junit_file_all_succeed() {
    let w = workplace();
    small_check(w.path());
    // A regular file is replaced.
    fs::write(w.path().join("junit.xml"), "old").unwrap();
    for _ in 0..10 {
        let children: Vec<Child> = (0..8)
            .map(|_| {
                Command::new(BIN)
                    .args(["check", "lab/short.toml", "--junit", "junit.xml"])
                    .current_dir(w.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        }
        let xml = fs::read_to_string(w.path().join("junit.xml")).unwrap();
        assert!(xml.starts_with("<?xml") && xml.trim_end().ends_with("</testsuites>"), "{xml}");
        assert_eq!(names(w.path()), ["junit.xml", "lab", "mine", "notes.txt"]);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Staging folders: removed by the next run when their owner is gone, never while it lives.

/// A staging folder as meshsim makes one: marker, and a half-written file.
fn fake_staging(dir: &Path, marker: bool) {
    fs::create_dir(dir).unwrap();
    if marker {
        fs::write(
            dir.join(".meshsim-output"),
            "kind = \"run\"\nscenario = \"seed-failover\"\nmeshsim_version = \"0.1.0\"\n",
        )
        .unwrap();
    }
    fs::write(dir.join("timeseries.csv"), "time_s,loc").unwrap();
}

#[test]
fn staging_folders_left_by_a_dead_run_are_removed_and_live_ones_kept() {
    let w = workplace();
    let p = w.path();
    fake_staging(&p.join(".out.partial-0"), true);
    fake_staging(&p.join(".out.partial-7"), true);
    // Not meshsim's: no marker.
    fake_staging(&p.join(".out.partial-3"), false);
    // A live run's: its marker is locked.
    fake_staging(&p.join(".out.partial-9"), true);
    let live = fs::OpenOptions::new().read(true).write(true).open(p.join(".out.partial-9/.meshsim-output")).unwrap();
    live.lock().unwrap();
    // Another output's staging folder.
    fake_staging(&p.join(".other.partial-0"), true);
    let kept = [".out.partial-3", ".out.partial-9", ".other.partial-0"].map(|d| (d, snapshot(&p.join(d))));
    assert_ok(&short_run(p, &["--out", "out"]));
    assert_eq!(names(p), [".other.partial-0", ".out.partial-3", ".out.partial-9", "lab", "mine", "notes.txt", "out"]);
    for (d, before) in &kept {
        assert_eq!(&snapshot(&p.join(d)), before, "{d}");
    }
    // Once its owner is gone, the next run removes it.
    drop(live);
    assert_ok(&short_run(p, &["--out", "out"]));
    assert_eq!(names(p), [".other.partial-0", ".out.partial-3", "lab", "mine", "notes.txt", "out"]);
}

/// Starts a long run of the lab into `out` (which holds a previous run) and waits until its
/// staging folder exists.
fn start_long_run(cwd: &Path) -> Child {
    let child = Command::new(BIN)
        .args(["run", LAB, "--set", "duration=2000s", "--set", "workload[0].rate=5000", "-q", "--out", "out"])
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let marker = cwd.join(".out.partial-0/.meshsim-output");
    let start = Instant::now();
    while !marker.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "no staging folder after 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

#[test]
fn a_killed_runs_staging_folder_is_removed_by_the_next_run() {
    let w = workplace();
    let p = w.path();
    assert_ok(&short_run(p, &["--out", "out"]));
    let before = snapshot(&p.join("out"));
    let mut child = start_long_run(p);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(p.join(".out.partial-0/.meshsim-output").exists(), "SIGKILL leaves the staging folder");
    assert_eq!(snapshot(&p.join("out")), before);
    assert_ok(&short_run(p, &["--out", "out"]));
    assert_eq!(names(p), ["lab", "mine", "notes.txt", "out"]);
    assert_eq!(snapshot(&p.join("out")), before);
}

#[cfg(unix)]
#[test]
fn an_interrupted_run_removes_its_staging_folder() {
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let w = workplace();
        let p = w.path();
        assert_ok(&short_run(p, &["--out", "out"]));
        let before = snapshot(p);
        let child = start_long_run(p);
        assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{signal}: {}", stderr(&out));
        assert!(stderr(&out).contains("interrupted; removed the unfinished output it was writing"), "{}", stderr(&out));
        assert_eq!(snapshot(p), before, "{signal}");
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Concurrent sweeps in one folder end with the bytes of one process, and none fails.

fn sweep_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "sweep",
        LAB,
        "--grid",
        "policy.destination_rule.trafficPolicy.outlierDetection.consecutive5xxErrors=1,2",
        "--seeds",
        "2",
        "--set",
        "duration=10s",
        "-q",
        "--out",
        out,
    ];
    v.extend_from_slice(extra);
    v
}

/// Starts every argument list at once and checks that all succeed.
fn all_at_once(cwd: &Path, runs: Vec<Vec<&str>>) {
    let children: Vec<Child> = runs
        .iter()
        .map(|args| {
            Command::new(BIN).args(args).current_dir(cwd).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for c in children {
        assert_ok(&c.wait_with_output().unwrap());
    }
}

#[test]
fn concurrent_shards_in_one_folder_end_with_the_bytes_of_one_process() {
    let w = workplace();
    let p = w.path();
    assert_ok(&meshsim_in(p, &sweep_args("one", &[])));
    let one = snapshot(&p.join("one"));
    assert!(one.contains_key(Path::new("charts/errors.png")), "{:?}", one.keys());
    let trials = if cfg!(debug_assertions) { 1 } else { 4 };
    for t in 0..trials {
        // Four shards started together into a new folder.
        let dir = format!("shards-{t}");
        all_at_once(p, (0..4).map(|i| sweep_args(&dir, &["--shard", ["0/4", "1/4", "2/4", "3/4"][i]])).collect());
        assert_eq!(snapshot(&p.join(&dir)), one, "trial {t}: four shards");
        // Three processes finishing a complete sweep at once (all write the tables and charts).
        all_at_once(p, (0..3).map(|_| sweep_args(&dir, &[])).collect());
        assert_eq!(snapshot(&p.join(&dir)), one, "trial {t}: three finishers");
    }
}

#[test]
fn a_sweep_removes_temporaries_left_by_a_killed_process_but_not_a_live_ones_lock() {
    let w = workplace();
    let p = w.path();
    assert_ok(&meshsim_in(p, &sweep_args("one", &["--no-charts"])));
    let one = snapshot(&p.join("one"));
    assert_ok(&meshsim_in(p, &sweep_args("sw", &["--no-charts"])));
    // As a killed process leaves them: a temporary run file and table, a staging charts folder.
    fs::write(p.join("sw/runs/.r0000001.json.tmp-4242-0"), "{\"half").unwrap();
    fs::write(p.join("sw/.points.csv.tmp-4242-1"), "point,").unwrap();
    fake_staging(&p.join("sw/.charts.partial-0"), true);
    // While another process works in the folder (holds the presence lock), nothing is removed.
    let other = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(p.join("sw/.meshsim-lock"))
        .unwrap();
    other.lock_shared().unwrap();
    assert_ok(&meshsim_in(p, &sweep_args("sw", &["--no-charts"])));
    assert!(p.join("sw/runs/.r0000001.json.tmp-4242-0").exists());
    drop(other);
    assert_ok(&meshsim_in(p, &sweep_args("sw", &["--no-charts"])));
    assert_eq!(snapshot(&p.join("sw")), one);
}
