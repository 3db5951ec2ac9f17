//! The corpus (the shipped scenarios and their YAML manifests) and seeded mutations of it.
//!
//! A case is a pure function of `(seed, index)`: [`make_case`] draws everything from a
//! [`SimRng`] seeded with both, so a finding is reproduced by its seed and index alone.

use std::path::{Path, PathBuf};

use meshsim::engine::SimRng;
use meshsim::engine::rng::mix64;

/// One file of the corpus.
#[derive(Clone, Debug)]
pub struct File {
    /// Path relative to `scenarios/`, e.g. `seed-failover.toml` or `manifests/seed/gateway.yaml`.
    pub rel: PathBuf,
    /// Its text.
    pub text: String,
}

/// The shipped scenarios and manifests, with the strings, keys and lines seen in them.
pub struct Corpus {
    /// `scenarios/*.toml`, sorted.
    pub scenarios: Vec<File>,
    /// `scenarios/manifests/**.yaml`, sorted.
    pub manifests: Vec<File>,
    /// Every quoted string of the scenarios, deduplicated and sorted.
    strings: Vec<String>,
    /// Every `key =` / `key:` name.
    keys: Vec<String>,
    /// Every line of every file.
    lines: Vec<String>,
}

/// Numbers that break arithmetic: zero, signs, the edges of every integer width, huge and tiny
/// floats, NaN and infinities (TOML spells them `nan`, `inf`).
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "3",
    "7",
    "100",
    "0.5",
    "0.999999",
    "1.0000001",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "100000",
    "1000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1e9",
    "1e18",
    "1e308",
    "-1e308",
    "1e-300",
    "5e-324",
    "nan",
    "inf",
    "-inf",
    "-0.0",
];

/// Strings that break parsers and validators: durations at the edges of Go's grammar, spaces,
/// empty names, paths to special files, very long text.
const STRINGS: &[&str] = &[
    "",
    " ",
    " 5s",
    "5s ",
    "0",
    "0s",
    "1ns",
    "1ms",
    "100ms",
    "1s",
    "0.1s",
    "1m30s",
    "100000h",
    "2562047h",
    "2562048h",
    "9999999999h",
    "-1s",
    "1.5",
    "true",
    "..",
    ".",
    "/",
    "*",
    "*.cluster.local",
    "mesh",
    "/dev/zero",
    "/proc/self/status",
    "manifests",
    "ünïcødé",
    "a/b/c/d",
    "5xx,bogus",
    "5xx,,",
    "retriable-status-codes,503",
    "UNSPECIFIED",
    "ROUND_ROBIN",
    "RANDOM",
    "LEAST_REQUEST",
    "PreferSameNode",
    "http2",
    "blackhole",
    "scale",
    "recover",
    "latency",
    "refuse",
    "http-error",
    "gateway",
    "sidecar",
];

/// Small fragments inserted at random places: the punctuation of TOML and YAML.
const FRAGMENTS: &[&str] = &[
    "[", "]", "[[", "]]", "{", "}", "=", "\"", "'", ",", ".", "\n", "\t", "#", ":", "- ", "---\n", "\\", "\u{0}",
    "\u{7f}", "&a", "*a", "!!binary", "~", "null", "[]", "{}", "\"\"\"",
];

impl Corpus {
    /// Reads `root/scenarios`.
    pub fn load(root: &Path) -> Corpus {
        let dir = root.join("scenarios");
        let mut scenarios = Vec::new();
        let mut manifests = Vec::new();
        walk(&dir, &dir, &mut |rel, text| {
            let name = rel.to_string_lossy();
            if name.ends_with(".yaml") {
                manifests.push(File { rel, text });
            } else if name.ends_with(".toml") && !name.starts_with("sweeps") {
                scenarios.push(File { rel, text });
            }
        });
        scenarios.sort_by(|a, b| a.rel.cmp(&b.rel));
        manifests.sort_by(|a, b| a.rel.cmp(&b.rel));
        let mut strings = Vec::new();
        let mut keys = Vec::new();
        let mut lines = Vec::new();
        for f in scenarios.iter().chain(&manifests) {
            for line in f.text.lines() {
                lines.push(line.to_string());
                let t = line.trim_start();
                if let Some((k, _)) = t.split_once(" =").or_else(|| t.split_once(':')) {
                    let k = k.trim_start_matches("- ").trim();
                    if !k.is_empty() && !k.starts_with('#') && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        keys.push(k.to_string());
                    }
                }
                let mut rest = line;
                while let Some(a) = rest.find('"') {
                    let after = &rest[a + 1..];
                    let Some(b) = after.find('"') else { break };
                    strings.push(after[..b].to_string());
                    rest = &after[b + 1..];
                }
            }
        }
        for v in [&mut strings, &mut keys, &mut lines] {
            v.sort();
            v.dedup();
        }
        Corpus { scenarios, manifests, strings, keys, lines }
    }

    /// The manifests a scenario lists (by their path relative to `scenarios/`).
    pub fn manifests_of(&self, scenario: &File) -> Vec<usize> {
        self.manifests
            .iter()
            .enumerate()
            .filter(|(_, m)| scenario.text.contains(&*m.rel.to_string_lossy()))
            .map(|(i, _)| i)
            .collect()
    }
}

fn walk(base: &Path, dir: &Path, f: &mut dyn FnMut(PathBuf, String)) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("corpus folder").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(base, &p, f);
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            f(p.strip_prefix(base).expect("under base").to_path_buf(), text);
        }
    }
}

/// One generated case: a scenario text and the manifests that differ from the corpus.
#[derive(Clone, Debug)]
pub struct Case {
    /// Index of the base scenario in the corpus.
    pub scenario: usize,
    /// The (possibly mutated) scenario text.
    pub text: String,
    /// Mutated manifests: (index in the corpus, text).
    pub manifests: Vec<(usize, String)>,
    /// The mutations applied, for the finding's report.
    pub ops: Vec<String>,
    /// Seed of the run.
    pub run_seed: u64,
    /// `explain` is also asked about this case, at this fraction of the run.
    pub explain_at: Option<f64>,
}

/// The case of `(seed, index)`.
pub fn make_case(corpus: &Corpus, seed: u64, index: u64) -> Case {
    let mut rng = SimRng::new(mix64(seed ^ mix64(index.wrapping_add(0x9e37_79b9))));
    let scenario = rng.below(corpus.scenarios.len() as u64) as usize;
    let base = &corpus.scenarios[scenario];
    let mut case = Case {
        scenario,
        text: base.text.clone(),
        manifests: Vec::new(),
        ops: Vec::new(),
        run_seed: rng.below(1000),
        explain_at: if rng.below(10) == 0 { Some(rng.unit()) } else { None },
    };
    let own = corpus.manifests_of(base);
    // Mostly one mutation, so that many cases get past validation into the model.
    let n_ops = match rng.below(20) {
        0..=11 => 1,
        12..=16 => 2,
        _ => 3 + rng.below(2) as usize,
    };
    for _ in 0..n_ops {
        if !own.is_empty() && rng.below(4) == 0 {
            let m = own[rng.below(own.len() as u64) as usize];
            let pos = case.manifests.iter().position(|(i, _)| *i == m);
            let mut text = match pos {
                Some(p) => case.manifests[p].1.clone(),
                None => corpus.manifests[m].text.clone(),
            };
            let op = mutate_text(corpus, &mut rng, &mut text);
            case.ops.push(format!("{}: {op}", corpus.manifests[m].rel.display()));
            match pos {
                Some(p) => case.manifests[p].1 = text,
                None => case.manifests.push((m, text)),
            }
        } else if rng.below(5) < 3 {
            let op = mutate_tree(corpus, &mut rng, &mut case.text);
            case.ops.push(op);
        } else {
            let op = mutate_text(corpus, &mut rng, &mut case.text);
            case.ops.push(op);
        }
    }
    case
}

fn pick<'a, T>(rng: &mut SimRng, xs: &'a [T]) -> &'a T {
    &xs[rng.below(xs.len() as u64) as usize]
}

/// A random string: an extreme, one from the corpus, or a long one.
fn some_string(corpus: &Corpus, rng: &mut SimRng) -> String {
    match rng.below(10) {
        0..=4 => pick(rng, STRINGS).to_string(),
        5..=8 if !corpus.strings.is_empty() => pick(rng, &corpus.strings).clone(),
        _ => "x".repeat(1 + rng.below(5000) as usize),
    }
}

/// The nearest char boundary at or before `i`.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One text mutation; returns its description.
fn mutate_text(corpus: &Corpus, rng: &mut SimRng, text: &mut String) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len() as u64;
    let op = match rng.below(12) {
        0 => {
            let i = rng.below(n) as usize;
            lines.remove(i);
            format!("delete line {i}")
        }
        1 => {
            let i = rng.below(n) as usize;
            let k = (1 + rng.below(10) as usize).min(lines.len() - i);
            lines.drain(i..i + k);
            format!("delete lines {i}..{}", i + k)
        }
        2 => {
            let i = rng.below(n) as usize;
            let times = if rng.below(8) == 0 { 1 + rng.below(200) as usize } else { 1 };
            let l = lines[i].clone();
            for _ in 0..times {
                lines.insert(i, l.clone());
            }
            format!("duplicate line {i} x{times}")
        }
        3 => {
            // Duplicate a whole table (from a `[` line to the next), possibly many times.
            let starts: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with('[')).collect();
            if starts.is_empty() {
                return "no table to duplicate".into();
            }
            let s = *pick(rng, &starts);
            let e = starts.iter().copied().find(|&x| x > s).unwrap_or(lines.len());
            let block: Vec<String> = lines[s..e].to_vec();
            let times = if rng.below(4) == 0 { 1 + rng.below(500) as usize } else { 1 };
            for _ in 0..times {
                lines.splice(e..e, block.iter().cloned());
            }
            format!("duplicate table at line {s} x{times}")
        }
        4 => {
            let (i, j) = (rng.below(n) as usize, rng.below(n) as usize);
            lines.swap(i, j);
            format!("swap lines {i} and {j}")
        }
        5 => {
            let joined = lines.join("\n");
            let at = floor_boundary(&joined, rng.below(joined.len() as u64 + 1) as usize);
            *text = joined[..at].to_string();
            return format!("truncate at byte {at}");
        }
        6 => return replace_token(rng, text, true, |rng| pick(rng, NUMBERS).to_string()),
        7 => {
            let s = some_string(corpus, rng);
            return replace_token(rng, text, false, |_| s.clone());
        }
        8 => {
            let joined = lines.join("\n");
            let at = floor_boundary(&joined, rng.below(joined.len() as u64 + 1) as usize);
            let frag = if rng.below(3) == 0 {
                (0..1 + rng.below(8)).map(|_| char::from_u32(rng.below(0x250) as u32).unwrap_or('?')).collect()
            } else {
                pick(rng, FRAGMENTS).to_string()
            };
            *text = format!("{}{frag}{}", &joined[..at], &joined[at..]);
            return format!("insert {frag:?} at byte {at}");
        }
        9 => {
            if corpus.keys.is_empty() {
                return "no keys".into();
            }
            let key = pick(rng, &corpus.keys).clone();
            let i = rng.below(n) as usize;
            let l = &lines[i];
            let Some(eq) = l.find(" =").or_else(|| l.find(':')) else { return format!("line {i} has no key") };
            let indent = l.len() - l.trim_start().len();
            lines[i] = format!("{}{key}{}", &l[..indent], &l[eq..]);
            format!("rename key on line {i} to {key}")
        }
        10 => {
            let copy = lines.clone();
            lines.extend(copy);
            "duplicate the whole file".into()
        }
        _ => {
            let l = pick(rng, &corpus.lines).clone();
            let i = rng.below(n + 1) as usize;
            lines.insert(i, l.clone());
            format!("insert line {l:?} at {i}")
        }
    };
    *text = lines.join("\n");
    text.push('\n');
    op
}

/// Replaces one number (or one quoted string) of `text` by `with`.
fn replace_token(rng: &mut SimRng, text: &mut String, number: bool, with: impl Fn(&mut SimRng) -> String) -> String {
    let spans: Vec<(usize, usize)> = if number { number_spans(text) } else { string_spans(text) };
    if spans.is_empty() {
        return "no token to replace".into();
    }
    let (a, b) = *pick(rng, &spans);
    let new = with(rng);
    let old = text[a..b].to_string();
    let new_text = if number { new.clone() } else { escape(&new) };
    text.replace_range(a..b, &new_text);
    format!("replace {old:?} with {new:?}")
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            c if (c as u32) < 0x20 || c == '\u{7f}' => format!("\\u{:04X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// Byte spans of numbers (digits with an optional sign, dot, exponent) outside quotes.
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quoted = false;
    while i < b.len() {
        let c = b[i];
        if c == b'"' {
            quoted = !quoted;
        } else if c == b'\n' {
            quoted = false;
        } else if !quoted && c.is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let start = if i > 0 && b[i - 1] == b'-' { i - 1 } else { i };
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.' || b[j] == b'e' || b[j] == b'_') {
                j += 1;
            }
            if j == b.len() || !b[j].is_ascii_alphabetic() {
                out.push((start, j));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Byte spans of the contents of double-quoted strings (one line each).
fn string_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let mut rest = 0;
        while let Some(a) = line[rest..].find('"') {
            let a = rest + a + 1;
            let Some(b) = line[a..].find('"') else { break };
            out.push((offset + a, offset + a + b));
            rest = a + b + 1;
        }
        offset += line.len();
    }
    out
}

/// A structural mutation: parse the TOML, set one leaf (or remove one key) to something
/// extreme, write it back. Text that does not parse gets a text mutation instead.
fn mutate_tree(corpus: &Corpus, rng: &mut SimRng, text: &mut String) -> String {
    let Ok(mut table) = text.parse::<toml::Table>() else { return mutate_text(corpus, rng, text) };
    let mut paths = Vec::new();
    collect_paths(&toml::Value::Table(table.clone()), String::new(), &mut paths);
    if paths.is_empty() {
        return mutate_text(corpus, rng, text);
    }
    let path = pick(rng, &paths).clone();
    let root = toml::Value::Table(table.clone());
    let current = meshsim::scenario::overrides::get_path(&root, &path).cloned();
    // Half the time, a value of the same type (an extreme number for a number, another string
    // for a string), which validation is more likely to let through to the model.
    let same_type = rng.below(2) == 0;
    let value = match (current, same_type) {
        // A nearby value (the model's own edge cases: 0, 1, off by one, doubled) or an extreme.
        (Some(toml::Value::Integer(n)), true) if rng.below(2) == 0 => toml::Value::Integer(match rng.below(8) {
            0 => 0,
            1 => 1,
            2 => n.saturating_add(1),
            3 => n.saturating_sub(1),
            4 => n.saturating_mul(2),
            5 => n.saturating_mul(100),
            6 => n.saturating_mul(1000),
            _ => n / 2,
        }),
        (Some(toml::Value::Integer(_)), true) => toml::Value::Integer(*pick(
            rng,
            &[-1i64, 2, 3, 1000, i64::MAX, i64::MIN, u32::MAX as i64, 1 << 33, 100_000],
        )),
        (Some(toml::Value::Float(x)), true) if rng.below(2) == 0 => {
            toml::Value::Float(*pick(rng, &[0.0, 1.0, x * 2.0, x / 2.0, x * 10.0, x / 10.0]))
        }
        (Some(toml::Value::Float(_)), true) => {
            toml::Value::Float(*pick(rng, &[-1.0, 1e308, f64::NAN, f64::INFINITY, 1e-300, 0.5, 100.5, 1e7]))
        }
        (Some(toml::Value::String(t)), true)
            if rng.below(3) == 0 && t.parse::<meshsim::engine::SimDuration>().is_ok() =>
        {
            // Durations: a nearby or edge duration.
            toml::Value::String(pick(rng, &["0s", "1ns", "1ms", "100ms", "999ms", "1s", "10s", "1m", "1h"]).to_string())
        }
        (Some(toml::Value::String(_)), true) => toml::Value::String(some_string(corpus, rng)),
        (Some(toml::Value::Boolean(b)), true) => toml::Value::Boolean(!b),
        _ => match rng.below(8) {
            0 => toml::Value::Integer(*pick(rng, &[0i64, -1, 1, i64::MAX, i64::MIN, u32::MAX as i64, 1 << 33])),
            1 => toml::Value::Float(*pick(rng, &[0.0, -1.0, 1e308, f64::NAN, f64::INFINITY, 1e-300, 0.5, 100.5])),
            2 => toml::Value::Boolean(rng.below(2) == 0),
            3 => toml::Value::Array(Vec::new()),
            4 => toml::Value::Table(Default::default()),
            5 => {
                // Remove the key instead.
                let mut root = toml::Value::Table(table);
                remove_path(&mut root, &path);
                if let toml::Value::Table(t) = root {
                    *text = toml::to_string(&t).unwrap_or_default();
                }
                return format!("remove {path}");
            }
            _ => toml::Value::String(some_string(corpus, rng)),
        },
    };
    let shown = value.to_string();
    let mut root = toml::Value::Table(std::mem::take(&mut table));
    if meshsim::scenario::overrides::set_path(&mut root, &path, value).is_ok()
        && let toml::Value::Table(t) = root
    {
        match toml::to_string(&t) {
            Ok(s) => *text = s,
            Err(_) => return format!("set {path} = {shown} (not representable, unchanged)"),
        }
    }
    format!("set {path} = {}", shown.chars().take(80).collect::<String>())
}

fn collect_paths(v: &toml::Value, prefix: String, out: &mut Vec<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                if k.contains(['.', '[', ']']) || k.is_empty() {
                    continue; // not addressable by a dotted path
                }
                out.push(p.clone());
                collect_paths(x, p, out);
            }
        }
        toml::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{prefix}[{i}]");
                out.push(p.clone());
                collect_paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn remove_path(root: &mut toml::Value, path: &str) {
    use meshsim::scenario::overrides::{Segment, parse_path};
    let Ok(segs) = parse_path(path) else { return };
    let Some((last, parents)) = segs.split_last() else { return };
    let mut cur = root;
    for s in parents {
        let next = match (s, cur) {
            (Segment::Key(k), toml::Value::Table(t)) => t.get_mut(k),
            (Segment::Index(i), toml::Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        let Some(n) = next else { return };
        cur = n;
    }
    match (last, cur) {
        (Segment::Key(k), toml::Value::Table(t)) => {
            t.remove(k);
        }
        (Segment::Index(i), toml::Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}
