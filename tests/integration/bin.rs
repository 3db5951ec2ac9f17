//! Running the `meshsim` binary as a user would, in a temporary folder, with a time limit and
//! optionally an address-space limit (`ulimit -v` in `sh`), for the tests of bad and huge input.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small valid scenario: two regions, two pods each, one sidecar, 100 requests per second for
/// 2 s. Tests append tables (`[[faults]]`, `[policy...]`) or replace lines.
pub const BASE: &str = r#"name = "t"
duration = "2s"
[[clusters]]
name = "a"
region = "r1"
[[clusters]]
name = "b"
region = "r2"
[service]
host = "svc.default.svc.cluster.local"
deployments = [{ cluster = "a", replicas = 2 }, { cluster = "b", replicas = 2 }]
[[proxies]]
name = "p"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "p"
rate = 100
"#;

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (`None`: killed by a signal or by the time limit).
    pub code: Option<i32>,
    /// Standard error.
    pub stderr: String,
    /// Standard output.
    pub stdout: String,
    /// Wall time until it ended (or was killed).
    pub elapsed: Duration,
    /// It was killed at the time limit.
    pub timed_out: bool,
}

impl Outcome {
    /// Asserts exit 2 with every needle in stderr and no panic.
    #[track_caller]
    pub fn refused(&self, needles: &[&str]) {
        assert!(!self.timed_out, "still running after {:?}: {self:?}", self.elapsed);
        assert_eq!(self.code, Some(2), "{self:?}");
        for n in needles {
            assert!(self.stderr.contains(n), "stderr lacks {n:?}:\n{}", self.stderr);
        }
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn succeeded(&self) {
        assert!(!self.timed_out, "still running after {:?}: {self:?}", self.elapsed);
        assert_eq!(self.code, Some(0), "{self:?}");
    }
}

/// Runs `meshsim args` in `dir`, killed after `timeout`; with `address_space` (bytes), under
/// `ulimit -v`, so that a run that tries to allocate more fails instead of swapping.
///
/// `MESHSIM_TEST_BIN=/path/to/meshsim` runs another build instead (to show that these tests fail
/// on an older meshsim).
pub fn run_in(dir: &Path, args: &[&str], timeout: Duration, address_space: Option<u64>) -> Outcome {
    let bin = std::env::var("MESHSIM_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_meshsim").to_string());
    let mut cmd = match address_space {
        Some(bytes) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", bytes / 1024)).arg(bin);
            c
        }
        None => Command::new(&bin),
    };
    let start = Instant::now();
    let mut child = cmd
        .args(args)
        .current_dir(dir)
        // Two worker threads whatever the machine: the address-space limits assume few threads.
        .env("RAYON_NUM_THREADS", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("meshsim starts");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("waits") {
            break Some(s);
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Outcome {
        code: status.and_then(|s| s.code()),
        stderr: err.join().unwrap_or_default(),
        stdout: out.join().unwrap_or_default(),
        elapsed: start.elapsed(),
        timed_out,
    }
}

/// [`run_in`] with a 60 s limit and no memory limit.
pub fn run(dir: &Path, args: &[&str]) -> Outcome {
    run_in(dir, args, Duration::from_secs(60), None)
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Makes a FIFO at `dir/name`.
pub fn fifo(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let ok = Command::new("mkfifo").arg(&p).status().expect("mkfifo runs").success();
    assert!(ok, "mkfifo {}", p.display());
    p
}

/// Copies the repository's `scenarios/manifests/seed/` into `dir/manifests/seed/`.
pub fn copy_seed_manifests(dir: &Path) {
    let src = crate::util::root().join("scenarios/manifests/seed");
    let dst = dir.join("manifests/seed");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
}
