//! Issue 8, item 5: every file meshsim reads is a regular file of bounded size. A FIFO, device
//! or folder is refused at once (exit 2, naming the file and what was expected), never read, so a
//! FIFO cannot hang a run and `/dev/zero` cannot grow memory.

use std::time::Duration;

use crate::bin::{BASE, copy_seed_manifests, fifo, run, run_in, write};

/// Refusals must come at once: well under this.
const QUICK: Duration = Duration::from_secs(10);
/// Address space for runs that must be refused before reading much: 512 MiB.
const SMALL_AS: u64 = 512 << 20;

#[test]
fn issue8_5_a_fifo_scenario_is_refused_without_blocking() {
    let tmp = crate::scratch::tempdir().unwrap();
    fifo(tmp.path(), "s.toml");
    let out = run_in(tmp.path(), &["run", "s.toml"], QUICK, None);
    out.refused(&["s.toml: is a FIFO (named pipe), not a regular file; expected a scenario file (TOML)"]);
}

#[test]
fn issue8_5_dev_zero_as_the_scenario_is_refused_before_reading() {
    let tmp = crate::scratch::tempdir().unwrap();
    let out = run_in(tmp.path(), &["run", "/dev/zero"], QUICK, Some(SMALL_AS));
    out.refused(&["/dev/zero: is a device, not a regular file; expected a scenario file (TOML)"]);
}

#[test]
fn issue8_5_a_folder_as_the_scenario_is_refused() {
    let tmp = crate::scratch::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("d.toml")).unwrap();
    run(tmp.path(), &["run", "d.toml"]).refused(&["d.toml: is a folder, not a regular file"]);
}

#[test]
fn issue8_5_a_scenario_over_16_mib_is_refused_by_its_size() {
    let tmp = crate::scratch::tempdir().unwrap();
    let mut text = String::from(BASE);
    text.push_str(&format!("description = \"{}\"\n", "x".repeat(16 << 20)));
    write(tmp.path(), "big.toml", &text);
    let out = run_in(tmp.path(), &["run", "big.toml"], QUICK, Some(SMALL_AS));
    out.refused(&["big.toml: is larger than 16 MiB; expected a scenario file (TOML) of at most that size"]);
}

#[test]
fn issue8_5_a_fifo_or_device_manifest_is_refused_naming_where_it_was_listed() {
    let tmp = crate::scratch::tempdir().unwrap();
    fifo(tmp.path(), "dr.yaml");
    write(tmp.path(), "s.toml", &format!("{BASE}[policy]\nmanifests = [\"dr.yaml\"]\n"));
    let out = run_in(tmp.path(), &["run", "s.toml"], QUICK, None);
    out.refused(&["dr.yaml: is a FIFO (named pipe), not a regular file; expected Istio manifests or a cluster \
         export (YAML) (policy.manifests[0] of s.toml)"]);
    write(tmp.path(), "z.toml", &format!("{BASE}[policy]\nmanifests = [\"/dev/zero\"]\n"));
    let out = run_in(tmp.path(), &["run", "z.toml"], QUICK, Some(SMALL_AS));
    out.refused(&["/dev/zero: is a device, not a regular file; expected Istio manifests or a cluster export (YAML)"]);
}

#[test]
fn issue8_5_a_fifo_as_the_sweeps_scenario_is_refused() {
    let tmp = crate::scratch::tempdir().unwrap();
    fifo(tmp.path(), "s.toml");
    write(
        tmp.path(),
        "sweep.toml",
        "scenario = \"s.toml\"\n[[axes]]\npath = \"workload[0].rate\"\nvalues = [10, 20]\n",
    );
    let out = run_in(tmp.path(), &["sweep", "sweep.toml", "--out", "o"], QUICK, None);
    out.refused(&[
        "s.toml: is a FIFO (named pipe), not a regular file; expected a scenario file (TOML) (the sweep's scenario)",
    ]);
    // The sweep file itself.
    fifo(tmp.path(), "f.toml");
    let out = run_in(tmp.path(), &["sweep", "f.toml"], QUICK, None);
    out.refused(&["f.toml: is a FIFO (named pipe), not a regular file"]);
}

#[test]
fn issue8_5_a_fifo_among_the_run_files_of_a_merge_is_refused() {
    let tmp = crate::scratch::tempdir().unwrap();
    let dir = tmp.path();
    copy_seed_manifests(dir);
    let seed = crate::util::root().join("scenarios/seed-failover.toml");
    std::fs::copy(seed, dir.join("s.toml")).unwrap();
    let sweep = ["sweep", "s.toml", "--grid", "workload[0].rate=100,200", "--seeds", "1", "--set", "duration=2s"];
    let args: Vec<&str> = sweep.iter().copied().chain(["--out", "a", "--shard", "0/2", "-q"]).collect();
    run(dir, &args).succeeded();
    std::fs::remove_file(dir.join("a/runs/r0000000.json")).unwrap();
    fifo(dir, "a/runs/r0000000.json");
    let out = run_in(dir, &["merge", "a", "--out", "m"], QUICK, None);
    out.refused(&["r0000000.json: is a FIFO (named pipe), not a regular file; expected a sweep run file (JSON)"]);
}

#[test]
fn issue8_5_dev_zero_in_check_is_an_error_for_that_file() {
    let tmp = crate::scratch::tempdir().unwrap();
    let out = run_in(tmp.path(), &["check", "/dev/zero"], QUICK, Some(SMALL_AS));
    out.refused(&[]);
    // File errors go to stderr (issue 12); stdout keeps the totals.
    assert!(out.stderr.contains("/dev/zero: is a device, not a regular file"), "{}", out.stderr);
    assert!(out.stdout.ends_with("0 passed, 0 failed, 1 files with errors\n"), "{}", out.stdout);
}
