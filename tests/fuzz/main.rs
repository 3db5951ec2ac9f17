//! The fuzz harness: seeded mutations of the shipped scenarios and manifests, each run as
//! `meshsim run` would run it, asserting that every case ends as exit 0 or exit 2 — no panic, no
//! abort, no hang, no runaway memory.
//!
//! Stable Rust, no extra crates. Two processes:
//!
//! * a **worker** runs cases in process, one after another (load, validate, run, report, check,
//!   lint; `explain` for one case in ten), catching panics with `catch_unwind`. Its cases get a
//!   256 MiB budget (`limits.max_memory`) and it runs under a 1 GiB address-space limit
//!   (`ulimit -v`), so an allocation the budget did not foresee kills it. It prints `S <case>`
//!   before each case.
//! * the **supervisor** (this process) starts the worker, reads its lines, and records a finding
//!   when a case panics, takes too long (no line for 60 s: the worker is killed), or kills the
//!   worker (abort, out of memory); it then restarts the worker after that case. One case in
//!   `MESHSIM_FUZZ_CHILD_EVERY` (500) is also run by the real binary, `meshsim run`, under a
//!   1 GiB address space and a 60 s limit, which must exit 0 or 2 without a panic.
//!
//! Each case is a pure function of (seed, index), so a finding is reproduced by both. Findings
//! are written to `target/tmp/fuzz/findings/<kind>-s<seed>-c<index>/` (`case.toml`, the
//! manifests, `finding.txt`); the harness writes nowhere else but its own `work-<pid>` folder.
//!
//! ```sh
//! cargo test --release --test fuzz                                  # 5 s
//! MESHSIM_FUZZ_SECS=30 cargo test --release --test fuzz             # what CI runs
//! MESHSIM_FUZZ_SECS=3600 MESHSIM_FUZZ_SEED=7 cargo test --release --test fuzz -- --nocapture
//! MESHSIM_FUZZ_SEED=7 MESHSIM_FUZZ_REPLAY=123456 cargo test --release --test fuzz   # one case
//! ```

mod exec;
mod mutate;

use std::io::{BufRead, BufReader, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mutate::{Corpus, make_case};

/// A case slower than this in process is a finding (release build; ten times more in a debug
/// build).
const SLOW: Duration = Duration::from_secs(2);
/// A worker silent for this long is stuck on its case: a hang.
const HANG: Duration = Duration::from_secs(60);
/// Address space of the worker.
const WORKER_AS_MIB: u64 = 1024;
/// Address space and time of a run of the real binary.
const CHILD_AS_MIB: u64 = 1024;
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

struct Config {
    secs: u64,
    seed: u64,
    max_execs: u64,
    child_every: u64,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config() -> Config {
    Config {
        secs: env_u64("MESHSIM_FUZZ_SECS", 5),
        seed: env_u64("MESHSIM_FUZZ_SEED", 1),
        max_execs: env_u64("MESHSIM_FUZZ_EXECS", u64::MAX),
        child_every: env_u64("MESHSIM_FUZZ_CHILD_EVERY", 500).max(1),
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz")
}

fn slow_bound() -> Duration {
    if cfg!(debug_assertions) { SLOW * 10 } else { SLOW }
}

fn main() -> ExitCode {
    // `cargo test NAME` passes NAME to every test binary: run only when it selects this one.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| "fuzz".contains(f.as_str())) {
        return ExitCode::SUCCESS;
    }
    let cfg = config();
    if std::env::var_os("MESHSIM_FUZZ_WORKER").is_some() {
        return worker(&cfg);
    }
    if let Ok(which) = std::env::var("MESHSIM_FUZZ_REPLAY") {
        // One case (`123`) with its mutations, or a range (`0..1000`), one line per case.
        let bad = "MESHSIM_FUZZ_REPLAY is a case index or a range A..B";
        return match which.split_once("..") {
            Some((a, b)) => replay_range(&cfg, a.parse().expect(bad)..b.parse().expect(bad)),
            None => replay(&cfg, which.parse().expect(bad)),
        };
    }
    supervise(&cfg)
}

// ---------------------------------------------------------------------------------------------
// Worker
// ---------------------------------------------------------------------------------------------

static PANIC: Mutex<Option<String>> = Mutex::new(None);

fn worker(cfg: &Config) -> ExitCode {
    let start = env_u64("MESHSIM_FUZZ_START", 0);
    let deadline = Instant::now() + Duration::from_millis(env_u64("MESHSIM_FUZZ_DEADLINE_MS", 0));
    let corpus = Corpus::load(&root());
    let scratch = exec::Scratch::new(home().join(format!("work-{}", std::process::id())), &corpus);
    std::panic::set_hook(Box::new(|info| {
        let msg = match (info.payload().downcast_ref::<&str>(), info.payload().downcast_ref::<String>()) {
            (Some(s), _) => s.to_string(),
            (_, Some(s)) => s.clone(),
            _ => "(non-text panic)".into(),
        };
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        *PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{msg}{at}"));
    }));
    let mut out = std::io::stdout().lock();
    let (mut ran, mut refused) = (0u64, 0u64);
    let mut i = start;
    while Instant::now() < deadline && i < cfg.max_execs {
        let _ = writeln!(out, "S {i}");
        let _ = out.flush();
        let case = make_case(&corpus, cfg.seed, i);
        let t = Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| exec::run_case(&corpus, &scratch, &case)));
        let took = t.elapsed();
        match &result {
            Ok(exec::Verdict::Ran) => ran += 1,
            Ok(exec::Verdict::Refused(_)) => refused += 1,
            Err(_) => {}
        }
        if result.is_err() {
            let msg = PANIC.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
            let _ = writeln!(out, "P {i} {}", msg.replace('\n', "\\n"));
        }
        if took > slow_bound() {
            let _ = writeln!(out, "T {i} {}", took.as_millis());
        }
        i += 1;
    }
    let _ = writeln!(out, "D {ran} {refused}");
    let _ = out.flush();
    let _ = std::fs::remove_dir_all(&scratch.dir);
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// Supervisor
// ---------------------------------------------------------------------------------------------

/// Something wrong with one case.
#[derive(Clone, Debug)]
struct Finding {
    kind: &'static str,
    case: u64,
    message: String,
}

/// `sh -c 'ulimit -v KIB && exec "$0" "$@"' PROGRAM ARGS...`: the program under an address-space
/// limit, without any unsafe code.
fn limited(program: &Path, mib: u64) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", mib * 1024)).arg(program);
    c
}

enum Line {
    Text(String),
    Eof,
}

fn supervise(cfg: &Config) -> ExitCode {
    let corpus = Arc::new(Corpus::load(&root()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(cfg.secs);
    let home = home();
    std::fs::create_dir_all(&home).expect("fuzz folder");
    let findings: Arc<Mutex<Vec<Finding>>> = Arc::new(Mutex::new(Vec::new()));
    let (child_tx, child_rx) = mpsc::channel::<u64>();
    let children_run = Arc::new(Mutex::new(0u64));
    let sampler = {
        let (corpus, findings, children_run) = (corpus.clone(), findings.clone(), children_run.clone());
        let seed = cfg.seed;
        std::thread::spawn(move || sample_children(&corpus, seed, child_rx, deadline, &findings, &children_run))
    };
    let exe = std::env::current_exe().expect("own path");
    let mut next = 0u64;
    let mut executions = 0u64;
    let mut restarts = 0u64;
    let (mut ran, mut refused) = (0u64, 0u64);
    while Instant::now() < deadline && next < cfg.max_execs {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let stderr_path = home.join(format!("worker-{}.stderr", std::process::id()));
        let mut child = limited(&exe, WORKER_AS_MIB)
            .env("MESHSIM_FUZZ_WORKER", "1")
            .env("MESHSIM_FUZZ_START", next.to_string())
            .env("MESHSIM_FUZZ_DEADLINE_MS", remaining.as_millis().to_string())
            .env("MESHSIM_FUZZ_SEED", cfg.seed.to_string())
            .env("MESHSIM_FUZZ_EXECS", cfg.max_execs.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).expect("worker stderr file"))
            .spawn()
            .expect("worker starts");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(Line::Text(line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Line::Eof);
        });
        let mut last: Option<u64> = None;
        let mut done = false;
        let mut hung = false;
        loop {
            match rx.recv_timeout(HANG) {
                Ok(Line::Text(l)) => {
                    let mut parts = l.splitn(3, ' ');
                    let (tag, idx) = (parts.next().unwrap_or(""), parts.next().and_then(|x| x.parse::<u64>().ok()));
                    match (tag, idx) {
                        ("S", Some(i)) => {
                            last = Some(i);
                            executions += 1;
                            if i % cfg.child_every == 0 {
                                let _ = child_tx.send(i);
                            }
                        }
                        ("P", Some(i)) => push(&findings, "panic", i, parts.next().unwrap_or("").to_string()),
                        ("T", Some(i)) => push(
                            &findings,
                            "slow",
                            i,
                            format!("took {} ms in process (bound {:?})", parts.next().unwrap_or("?"), slow_bound()),
                        ),
                        ("D", Some(r)) => {
                            done = true;
                            ran += r;
                            refused += parts.next().and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
                        }
                        _ => {}
                    }
                }
                Ok(Line::Eof) => break,
                Err(_) => {
                    hung = true;
                    let _ = child.kill();
                    break;
                }
            }
        }
        let status = child.wait().expect("worker ends");
        // A worker that died could not remove its scratch folder (`sh` exec'd it: same pid).
        let _ = std::fs::remove_dir_all(home.join(format!("work-{}", child.id())));
        if done && status.success() {
            break;
        }
        let Some(case) = last else {
            push(&findings, "worker", next, format!("the worker failed before its first case: {status}"));
            break;
        };
        let tail = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: String =
            tail.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        if hung {
            push(&findings, "hang", case, format!("no progress for {HANG:?}"));
        } else {
            push(&findings, "crash", case, format!("the worker died ({status}); stderr:\n{tail}"));
        }
        next = case + 1;
        restarts += 1;
        let _ = std::fs::remove_file(&stderr_path);
    }
    drop(child_tx);
    let _ = sampler.join();
    let _ = std::fs::remove_file(home.join(format!("worker-{}.stderr", std::process::id())));
    let elapsed = started.elapsed().as_secs_f64();
    let findings = findings.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let children = *children_run.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "fuzz: seed {}, {executions} executions in {elapsed:.1} s ({:.0}/s): {ran} ran, {refused} refused \
         (exit 2); {children} runs of the binary, {restarts} worker restarts, {} findings",
        cfg.seed,
        executions as f64 / elapsed.max(1e-9),
        findings.len()
    );
    for f in &findings {
        let dir = save(&corpus, cfg.seed, f);
        println!("  {} case {}: {} (saved in {})", f.kind, f.case, first_line(&f.message), dir.display());
    }
    if findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn push(findings: &Mutex<Vec<Finding>>, kind: &'static str, case: u64, message: String) {
    findings.lock().unwrap_or_else(|e| e.into_inner()).push(Finding { kind, case, message });
}

/// Runs the sampled cases with the real binary, one at a time, until the deadline.
fn sample_children(
    corpus: &Corpus,
    seed: u64,
    rx: mpsc::Receiver<u64>,
    deadline: Instant,
    findings: &Mutex<Vec<Finding>>,
    count: &Mutex<u64>,
) {
    let work = home().join(format!("work-{}-child", std::process::id()));
    let scratch = exec::Scratch::new(work.join("scratch"), corpus);
    while let Ok(i) = rx.recv() {
        if Instant::now() >= deadline {
            continue; // drain without running
        }
        let case = make_case(corpus, seed, i);
        let dir = work.join(format!("c{i}"));
        exec::write_case(corpus, &case, &scratch, &dir, true);
        let bin = Path::new(env!("CARGO_BIN_EXE_meshsim"));
        let args = ["run", "case.toml", "--out", "out", "-q", "--seed", &case.run_seed.to_string()];
        let out = run_with_timeout(limited(bin, CHILD_AS_MIB).args(args).current_dir(&dir), CHILD_TIMEOUT);
        *count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        match out {
            None => push(findings, "child-hang", i, format!("`meshsim run` ran past {CHILD_TIMEOUT:?}")),
            Some((code, stderr)) => {
                if !matches!(code, Some(0) | Some(2)) || stderr.contains("panicked") {
                    push(findings, "child", i, format!("`meshsim run` exited {code:?}; stderr:\n{stderr}"));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// Runs a command, killing it after `timeout`; returns its exit code and stderr, or `None` if
/// killed.
fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Option<(Option<i32>, String)> {
    let stderr_file = tempfile_path();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_file).expect("stderr file"))
        .spawn()
        .expect("meshsim starts");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waits") {
            break Some(s);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = std::fs::read_to_string(&stderr_file).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_file);
    status.map(|s| (s.code(), stderr))
}

fn tempfile_path() -> PathBuf {
    home().join(format!("child-{}.stderr", std::process::id()))
}

/// Writes a finding's case and message under `findings/`; returns the folder.
fn save(corpus: &Corpus, seed: u64, f: &Finding) -> PathBuf {
    let dir = home().join("findings").join(format!("{}-s{seed}-c{}", f.kind, f.case));
    let case = make_case(corpus, seed, f.case);
    let scratch = exec::Scratch::new(home().join(format!("work-{}-save", std::process::id())), corpus);
    exec::write_case(corpus, &case, &scratch, &dir, false);
    let _ = std::fs::remove_dir_all(&scratch.dir);
    let text = format!(
        "{}\ncase {} of seed {seed} (base scenarios/{}, run seed {}, explain at {:?})\nmutations:\n  {}\n\n\
         reproduce: MESHSIM_FUZZ_SEED={seed} MESHSIM_FUZZ_REPLAY={} cargo test --release --test fuzz\n\
         or, in this folder: meshsim run case.toml --seed {} --set limits.max_memory={} --set limits.max_events={}\n",
        f.message,
        f.case,
        corpus.scenarios[case.scenario].rel.display(),
        case.run_seed,
        case.explain_at,
        case.ops.join("\n  "),
        f.case,
        case.run_seed,
        exec::MAX_MEMORY,
        exec::MAX_EVENTS,
    );
    std::fs::write(dir.join("finding.txt"), text).expect("finding file");
    dir
}

/// Runs one case in this process, printing what happened.
fn replay(cfg: &Config, idx: u64) -> ExitCode {
    let corpus = Corpus::load(&root());
    let case = make_case(&corpus, cfg.seed, idx);
    println!("case {idx} of seed {}: scenarios/{}", cfg.seed, corpus.scenarios[case.scenario].rel.display());
    for op in &case.ops {
        println!("  {op}");
    }
    let scratch = exec::Scratch::new(home().join(format!("work-{}", std::process::id())), &corpus);
    let t = Instant::now();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| exec::run_case(&corpus, &scratch, &case)));
    let took = t.elapsed();
    let _ = std::fs::remove_dir_all(&scratch.dir);
    match result {
        Ok(exec::Verdict::Ran) => println!("ran (exit 0) in {took:?}"),
        Ok(exec::Verdict::Refused(m)) => println!("refused (exit 2) in {took:?}: {m}"),
        Err(_) => {
            println!("PANIC after {took:?}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Runs a range of cases in this process, one line each: how it ended, and why if refused.
fn replay_range(cfg: &Config, range: std::ops::Range<u64>) -> ExitCode {
    let corpus = Corpus::load(&root());
    let scratch = exec::Scratch::new(home().join(format!("work-{}", std::process::id())), &corpus);
    let mut panics = 0;
    for idx in range {
        let case = make_case(&corpus, cfg.seed, idx);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| exec::run_case(&corpus, &scratch, &case)));
        match result {
            Ok(exec::Verdict::Ran) => println!("{idx} ran"),
            Ok(exec::Verdict::Refused(m)) => println!("{idx} refused {}", first_line(&m)),
            Err(_) => {
                panics += 1;
                println!("{idx} PANIC");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch.dir);
    if panics == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
