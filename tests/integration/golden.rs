//! Golden outputs: every catalogue scenario (`scenarios/*.toml`, not `sweeps/`), run with its own
//! seed, must write exactly the text files whose digests are committed in `tests/golden/`. Any
//! change of behaviour, however small, changes some digest; a deliberate one is blessed with
//! `MESHSIM_BLESS=1 cargo test --test integration golden` in the same commit, with a one-line
//! reason in the commit message (`tests/golden/README.md`).
//!
//! Per scenario two files: `<name>.sha256`, each text file's SHA-256 in `sha256sum` format (paths
//! as `meshsim run` writes them under `output/`), and `<name>.lines`, the first 16 bits of
//! each line's SHA-256, so that a failure names the first line that differs.

mod sha256;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::util::root;

/// Line hashes per row of a `.lines` file.
const HASHES_PER_ROW: usize = 32;

/// How much of a differing line a failure prints.
const SHOW_CHARS: usize = 240;

/// The committed digests of one file of one scenario.
#[derive(Debug, PartialEq)]
struct FileDigest {
    name: String,
    sha256: String,
    lines: Vec<u16>,
}

/// One catalogue scenario run as `meshsim run` runs it.
struct Run {
    /// The file's stem, which names its digests.
    stem: String,
    /// The scenario's `name`: its output folder.
    name: String,
    seed: u64,
    digests: Vec<FileDigest>,
    files: Vec<(&'static str, Vec<u8>)>,
}

/// Runs a scenario with its own seed and digests its text files.
fn compute(path: &Path) -> Run {
    let scenario = meshsim::scenario::load(path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let seed = scenario.seed;
    let name = scenario.name.clone();
    let out = meshsim::model::run(Arc::new(scenario), seed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report = meshsim::metrics::report::report(&out.world, seed, out.events);
    let files = meshsim::output::text_files(&out.world, &report).expect("encoding the tables");
    let digests = files
        .iter()
        .map(|(f, bytes)| FileDigest {
            name: f.to_string(),
            sha256: sha256::hex(bytes),
            lines: split_lines(bytes).map(line_hash).collect(),
        })
        .collect();
    Run { stem: stem(path), name, seed, digests, files }
}

/// The lines of a file: split at `\n`, without the empty piece after a final newline.
fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    body.split(|b| *b == b'\n').take(if bytes.is_empty() { 0 } else { usize::MAX })
}

/// The first 16 bits of a line's SHA-256 (the first 4 hex digits `sha256sum` prints for it):
/// enough to name the first differing line, since a changed line keeps them with probability
/// 2^-16; the whole file's SHA-256 decides pass or fail.
fn line_hash(line: &[u8]) -> u16 {
    (sha256::first_word(line) >> 16) as u16
}

fn golden_dir() -> PathBuf {
    root().join("tests").join("golden")
}

/// `<hash>  <scenario name>/<file>` lines, as `sha256sum` writes and checks them.
fn sha256_text(name: &str, digests: &[FileDigest]) -> String {
    digests.iter().map(|d| format!("{}  {name}/{}\n", d.sha256, d.name)).collect()
}

fn lines_text(stem: &str, seed: u64, digests: &[FileDigest]) -> String {
    let mut s = format!(
        "# Line hashes of the text outputs of scenarios/{stem}.toml (seed {seed}): per file a header\n\
         # `<file> <lines>`, then per line the first 4 hex digits of its SHA-256, {HASHES_PER_ROW} to a row.\n\
         # Written by MESHSIM_BLESS=1 cargo test --test integration golden (see README.md here).\n"
    );
    for d in digests {
        let _ = writeln!(s, "{} {}", d.name, d.lines.len());
        for row in d.lines.chunks(HASHES_PER_ROW) {
            for h in row {
                let _ = write!(s, "{h:04x}");
            }
            s.push('\n');
        }
    }
    s
}

/// Reads the committed digests of a scenario back; `None` if a file is missing or malformed.
fn read_golden(stem: &str) -> Option<Vec<FileDigest>> {
    let sums = std::fs::read_to_string(golden_dir().join(format!("{stem}.sha256"))).ok()?;
    let lines = std::fs::read_to_string(golden_dir().join(format!("{stem}.lines"))).ok()?;
    parse(&sums, &lines)
}

/// The digests from the texts of a `.sha256` and a `.lines` file.
fn parse(sums: &str, lines: &str) -> Option<Vec<FileDigest>> {
    let mut out: Vec<FileDigest> = Vec::new();
    for l in lines.lines().filter(|l| !l.starts_with('#')) {
        match l.split_once(' ') {
            Some((name, _count)) => {
                out.push(FileDigest { name: name.to_string(), sha256: String::new(), lines: vec![] })
            }
            None => {
                let d = out.last_mut()?;
                for i in (0..l.len()).step_by(4) {
                    d.lines.push(u16::from_str_radix(l.get(i..i + 4)?, 16).ok()?);
                }
            }
        }
    }
    for l in sums.lines() {
        let (hash, path) = l.split_once("  ")?;
        let file = path.rsplit('/').next()?;
        out.iter_mut().find(|d| d.name == file)?.sha256 = hash.to_string();
    }
    Some(out)
}

/// Where the first difference between a file and its golden digest is, in words.
fn describe(now: &FileDigest, golden: &FileDigest, bytes: &[u8]) -> String {
    let n = now.lines.iter().zip(&golden.lines).position(|(a, b)| a != b);
    let first = n.unwrap_or(now.lines.len().min(golden.lines.len()));
    let counts = format!("{} lines now, {} in the digest", now.lines.len(), golden.lines.len());
    if n.is_none() && now.lines.len() == golden.lines.len() {
        return format!("{}: the bytes differ but every line hash matches ({counts}): line endings?", now.name);
    }
    let text = split_lines(bytes).nth(first).map(|l| String::from_utf8_lossy(l).into_owned());
    let shown = match text {
        Some(t) if t.chars().count() > SHOW_CHARS => format!("`{}…`", t.chars().take(SHOW_CHARS).collect::<String>()),
        Some(t) => format!("`{t}`"),
        None => "(the file ends before it)".to_string(),
    };
    format!("{}: first difference at line {} ({counts}); that line now reads {shown}", now.name, first + 1)
}

/// The catalogue: `scenarios/*.toml`, sorted (the sweeps in `scenarios/sweeps/` are not runs).
fn catalogue() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_stem().expect("stem").to_string_lossy().into_owned()
}

#[test]
fn catalogue_outputs_match_their_golden_digests() {
    let bless = std::env::var_os("MESHSIM_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    let scenarios = catalogue();
    assert!(scenarios.len() >= 20, "the catalogue has {} scenarios", scenarios.len());
    let results: Vec<Run> = scenarios.par_iter().map(|p| compute(p)).collect();
    let stems: Vec<&str> = results.iter().map(|r| r.stem.as_str()).collect();
    let stale: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "sha256" || x == "lines"))
        .filter(|p| !stems.contains(&stem(p).as_str()))
        .collect();

    if bless {
        std::fs::create_dir_all(golden_dir()).expect("tests/golden/");
        let mut changed = Vec::new();
        for r in &results {
            if read_golden(&r.stem).as_ref() != Some(&r.digests) {
                changed.push(r.stem.as_str());
            }
            let (sums, lines) = (format!("{}.sha256", r.stem), format!("{}.lines", r.stem));
            std::fs::write(golden_dir().join(sums), sha256_text(&r.name, &r.digests)).expect("write");
            std::fs::write(golden_dir().join(lines), lines_text(&r.stem, r.seed, &r.digests)).expect("write");
        }
        for p in &stale {
            std::fs::remove_file(p).expect("removing a stale digest");
        }
        eprintln!("blessed {} scenarios; digests changed for: {changed:?}; removed {stale:?}", results.len());
        return;
    }

    let mut failures = Vec::new();
    for p in &stale {
        failures.push(format!("{}: no scenario of that name in scenarios/ (a stale digest)", p.display()));
    }
    let actual_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("golden");
    for Run { stem, name, digests, files, .. } in &results {
        let Some(golden) = read_golden(stem) else {
            failures.push(format!("scenarios/{stem}.toml: its digests in tests/golden/ are missing or unreadable"));
            continue;
        };
        let mut diffs = Vec::new();
        for (d, (_, bytes)) in digests.iter().zip(files) {
            match golden.iter().find(|g| g.name == d.name) {
                None => diffs.push(format!("{}: not in the digest", d.name)),
                Some(g) if g.sha256 != d.sha256 => diffs.push(describe(d, g, bytes)),
                Some(_) => {}
            }
        }
        if golden.len() != digests.len() {
            diffs.push(format!("the digest lists {} files, the run writes {}", golden.len(), digests.len()));
        }
        if !diffs.is_empty() {
            // Keep the new files for a look (or a diff against a run of the previous commit).
            let dir = actual_dir.join(name);
            let _ = std::fs::create_dir_all(&dir);
            for (f, bytes) in files {
                let _ = std::fs::write(dir.join(f), bytes);
            }
            failures.push(format!(
                "scenarios/{stem}.toml differs from tests/golden/{stem}.* (new files in {}):\n    {}",
                dir.display(),
                diffs.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} catalogue scenarios differ from their golden digests:\n  {}\n\
         If the change is deliberate: MESHSIM_BLESS=1 cargo test --test integration golden, and commit\n\
         the new digests with a one-line reason in the commit message (tests/golden/README.md).",
        failures.len(),
        results.len(),
        failures.join("\n  ")
    );
}

#[test]
fn lines_split_like_a_text_editor_counts_them() {
    let count = |b: &[u8]| split_lines(b).count();
    assert_eq!(count(b""), 0);
    assert_eq!(count(b"a\n"), 1);
    assert_eq!(count(b"a\nb"), 2);
    assert_eq!(count(b"a\n\nb\n"), 3);
}

#[test]
fn a_changed_line_is_named() {
    let digest = |b: &[u8]| FileDigest {
        name: "client.csv".into(),
        sha256: sha256::hex(b),
        lines: split_lines(b).map(line_hash).collect(),
    };
    let (old, new) =
        (b"time_s,requests\n0,10\n1,11\n2,12\n".as_slice(), b"time_s,requests\n0,10\n1,13\n2,12\n".as_slice());
    let m = describe(&digest(new), &digest(old), new);
    assert_eq!(m, "client.csv: first difference at line 3 (4 lines now, 4 in the digest); that line now reads `1,13`");
    let shorter = b"time_s,requests\n0,10\n".as_slice();
    let m = describe(&digest(shorter), &digest(old), shorter);
    assert!(m.contains("line 3 (2 lines now, 4 in the digest)") && m.ends_with("(the file ends before it)"), "{m}");
}

#[test]
fn digests_read_back_as_written() {
    let d = vec![
        FileDigest { name: "summary.json".into(), sha256: "ab".repeat(32), lines: (0..70).map(|i| i * 937).collect() },
        FileDigest { name: "ejections.csv".into(), sha256: "cd".repeat(32), lines: vec![] },
    ];
    let (sums, lines) = (sha256_text("x", &d), lines_text("x", 1, &d));
    assert!(sums.starts_with(&format!("{}  x/summary.json\n", "ab".repeat(32))), "{sums}");
    assert_eq!(parse(&sums, &lines), Some(d));
}
