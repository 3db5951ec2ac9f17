//! Lessons that cannot drift: the rule that ties every number a scenario's lesson states to an
//! expectation `meshsim check` measures, and `docs/catalogue.md`, generated from the scenarios
//! and their runs (the test `catalogue` regenerates it and fails on a difference).
//!
//! # The rule for scenario authors
//!
//! A scenario opens with a `# Question:` and a `# Lesson:` paragraph. Every number the lesson
//! states must be *backed*: it appears, as a number, in the `name` of one of the file's
//! `[[expect]]` tables, and that expectation checks it (`check` prints the name beside the
//! measured value, so a reader sees the claim and its proof together). Exempt are:
//!
//! * anything inside a code span (`` `http2MaxRequests: 50` ``, `` `--set ...` ``, a formula such
//!   as `` `140 x 2/3 = 93` ``): these are inputs or arithmetic on inputs, not measurements;
//! * a release after the word `Istio` or `Envoy` (`Istio 1.24`, `Envoy >= 1.26`): it must match
//!   the scenario's pinned `mesh.istio_version` rule below instead;
//! * digits glued to a letter, `/`, `#` or `§` before them (`P0`, `A/0`, `cluster-b/0`, `x2`,
//!   `#33470`, `§1.5`) and status classes (`5xx`): names, not quantities;
//! * the HTTP status codes 200, 404, 500, 502, 503 and 504.
//!
//! Numbers are compared as written, after dropping the thousands separators (`3 843` and `3843`
//! are the same number; a group of three digits after a space joins the number before it unless
//! a letter follows it: write `300 requests, 503s`, not `300 503 errors`); `46 %`, `46%` and `~46` all state 46. Write quantities as digits.
//!
//! A lesson that names an Istio or Envoy release depends on it, so its scenario must pin
//! `mesh.istio_version` (Envoy releases follow Istio's, envoy-semantics §8.1).

use std::fmt::Write as _;

/// Lessons that left the catalogue, and where they went: listed at the end of
/// `docs/catalogue.md` so a teacher's old link finds its new home.
pub const MOVED: &[(&str, &str)] = &[(
    "retries-hide-errors",
    "merged into [retries-hide-failing-region](#retries-hide-failing-region): the same lesson (retries on 5xx \
     without outlier detection hide a failing region from clients, not from the upstream series); its partial \
     failure is `--set 'faults.0.probability=0.3'` there, and its LEAST_REQUEST note is in that lesson.",
)];

/// One number a lesson states that no expectation name backs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbacked {
    /// The number as written (thousands separators dropped).
    pub number: String,
    /// A few words around it, to find it in the file.
    pub context: String,
}

/// HTTP status codes a lesson may name without an expectation.
const STATUS_CODES: [&str; 6] = ["200", "404", "500", "502", "503", "504"];

/// A number found in prose: its normalised text, where it starts and ends (byte offsets), and
/// whether a rule exempts it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    number: String,
    start: usize,
    end: usize,
    exempt: bool,
}

/// Replaces code spans (`` `...` ``) with spaces, keeping byte offsets.
fn blank_code_spans(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        if c == '`' {
            inside = !inside;
            out.push(' ');
        } else if inside {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether the words before byte `at` end with `Istio` or `Envoy`, perhaps followed by a
/// comparison (`>=`, `≥`, `<=`, `≤`, `<`, `>`).
fn after_release_word(text: &str, at: usize) -> bool {
    let before = text[..at].trim_end();
    let before = before.trim_end_matches(['>', '<', '=', '≥', '≤']).trim_end();
    before.ends_with("Istio") || before.ends_with("Envoy")
}

/// The numbers of `text`, in order: digit runs with `.` or `,` between digits, and groups of
/// three digits after a space (`3 843`) joined to the run before them unless a letter or digit
/// follows the group (`40-48 503s` is 40, 48 and 503).
fn numbers(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !digit(i) {
            i += 1;
            continue;
        }
        let start = i;
        let mut number = String::new();
        let mut group = 0usize;
        loop {
            if digit(i) {
                number.push(bytes[i] as char);
                group += 1;
                i += 1;
            } else if matches!(bytes.get(i), Some(b'.' | b',')) && digit(i + 1) {
                // A decimal point is kept; a thousands comma is dropped.
                if bytes[i] == b'.' {
                    number.push('.');
                }
                group = 0;
                i += 1;
            } else if bytes.get(i) == Some(&b' ')
                && group <= 3
                && (1..=3).all(|k| digit(i + k))
                && !bytes.get(i + 4).is_some_and(|b| b.is_ascii_alphanumeric())
                && !number.contains('.')
            {
                // `3 843`: a thousands group.
                group = 0;
                i += 1;
            } else {
                break;
            }
        }
        let end = i;
        let prev = text[..start].chars().next_back();
        let glued = prev.is_some_and(|c| c.is_alphabetic() || matches!(c, '/' | '_' | '§' | '#'));
        let class = text[end..].starts_with("xx");
        let exempt = glued || class || STATUS_CODES.contains(&number.as_str()) || after_release_word(text, start);
        found.push(Found { number, start, end, exempt });
    }
    found
}

/// The numbers stated in expectation names, normalised as [`numbers`] does.
fn backing(names: &[String]) -> Vec<String> {
    names.iter().flat_map(|n| numbers(n).into_iter().map(|f| f.number)).collect()
}

/// The numbers `lesson` states that neither an exemption nor one of `names` (the scenario's
/// `[[expect]]` names) backs.
pub fn unbacked(lesson: &str, names: &[String]) -> Vec<Unbacked> {
    let prose = blank_code_spans(lesson);
    let backed = backing(names);
    numbers(&prose)
        .into_iter()
        .filter(|f| !f.exempt && !backed.contains(&f.number))
        .map(|f| {
            let from = prose[..f.start].char_indices().rev().nth(24).map_or(0, |(i, _)| i);
            let to = prose[f.end..].char_indices().nth(16).map_or(prose.len(), |(i, _)| f.end + i);
            Unbacked { number: f.number, context: lesson[from..to].trim().to_string() }
        })
        .collect()
}

/// The Istio or Envoy releases a text names (`Istio 1.24`, `Envoy >= 1.26`), outside code
/// spans, as `(product, release)`.
pub fn releases(text: &str) -> Vec<(&'static str, String)> {
    let prose = blank_code_spans(text);
    numbers(&prose)
        .into_iter()
        .filter(|f| after_release_word(&prose, f.start) && f.number.contains('.'))
        .map(|f| {
            let before = prose[..f.start].trim_end().trim_end_matches(['>', '<', '=', '≥', '≤']).trim_end();
            (if before.ends_with("Istio") { "Istio" } else { "Envoy" }, f.number)
        })
        .collect()
}

/// The overrides of each code span of `text` that holds a `--set` command, as a shell would
/// split them (`` `--set 'mesh.istio_version="1.30"'` `` gives `mesh.istio_version="1.30"`), so a
/// test can check that the command a lesson tells students to try is accepted.
pub fn set_commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, span) in text.split('`').enumerate() {
        if i % 2 == 0 || !span.contains("--set") {
            continue;
        }
        let mut sets = Vec::new();
        let mut rest = span;
        while let Some(at) = rest.find("--set") {
            rest = rest[at + "--set".len()..].trim_start();
            let (value, tail) = match rest.strip_prefix('\'') {
                Some(quoted) => quoted.split_once('\'').unwrap_or((quoted, "")),
                None => rest.split_once(char::is_whitespace).unwrap_or((rest, "")),
            };
            sets.push(value.to_string());
            rest = tail;
        }
        out.push(sets);
    }
    out
}

/// What `docs/catalogue.md` shows of one scenario.
#[derive(Debug, Clone)]
pub struct CatalogueEntry {
    /// The file's path relative to the repository, `scenarios/<stem>.toml`.
    pub file: String,
    /// The scenario's `name` (its output folder).
    pub name: String,
    /// The seed it ran with.
    pub seed: u64,
    /// `mesh.istio_version` as written, when pinned.
    pub istio_version: Option<String>,
    /// Its `# Question:` paragraph.
    pub question: String,
    /// Its `# Lesson:` paragraph.
    pub lesson: String,
    /// Each expectation's name, what the run measured, and the bound.
    pub figures: Vec<crate::check::Verdict>,
    /// Each phase: name, start and end (s), requests, client errors.
    pub phases: Vec<(String, f64, f64, u64, u64)>,
}

/// Renders `docs/catalogue.md` from the scenarios and their runs. `retired` lists lessons
/// that moved, as `(old name, where it went)`.
pub fn catalogue_markdown(entries: &[CatalogueEntry], retired: &[(&str, &str)]) -> String {
    let mut s = String::new();
    s.push_str("# Scenario catalogue\n\n");
    s.push_str(
        "<!-- Generated from scenarios/*.toml and their runs by the test `catalogue`; do not edit.\n     \
         Update: MESHSIM_BLESS=1 cargo test --test integration catalogue -->\n\n",
    );
    let _ = writeln!(
        s,
        "{} scenarios. Each answers one question about Istio/Envoy locality failover: its file opens with the \
         question and the lesson and ends with `[[expect]]` blocks whose bounds are derived in comments from the \
         Envoy/Istio rules. Every number a lesson states is the name of one of those expectations, so \
         `meshsim check scenarios` fails the day it stops being true (the rule: `src/lessons.rs`). The key \
         figures below are what each run measured, with its own seed.\n",
        entries.len()
    );
    s.push_str(
        "To see a scenario: `meshsim run scenarios/<file>` writes `output/<name>/` (the charts are not checked \
         in): `report.html` (open it from the file) holds the summary, the transitions, the expectations, the \
         lints and every chart; `traffic.png` shows the share per locality, client errors beside the failed \
         upstream attempts by cause (the difference is what retries hid), ejected endpoints with the number of \
         proxies that eject each, and panic per priority, with phases shaded and failover and fail-back marked; \
         `ejections.png` has one row per proxy and endpoint, bars labelled with the back-off multiplier (east-west \
         gateway hosts named by their gateway); `latency.png` is the eCDF of client latency per phase. To see what \
         each proxy's Envoy holds at a moment: `meshsim explain scenarios/<file> --at 75s`. Regenerate every \
         chart with `for f in scenarios/*.toml; do meshsim run \"$f\" -q; done`.\n\n",
    );
    s.push_str("| Scenario | Question |\n|---|---|\n");
    for e in entries {
        let _ = writeln!(s, "| [{}](#{}) | {} |", e.name, e.name, one_line(&sentence(&e.question)));
    }
    for e in entries {
        let _ = write!(s, "\n## {}\n\n", e.name);
        let _ = write!(s, "[`{}`](../{}), seed {}. ", e.file, e.file, e.seed);
        match &e.istio_version {
            Some(v) => {
                let _ = writeln!(s, "Pinned to Istio {v} (`mesh.istio_version`).\n");
            }
            None => s.push_str("Not tied to an Istio release (current Istio and Envoy).\n\n"),
        }
        let _ = writeln!(s, "**Question.** {}\n", sentence(&e.question));
        let _ = writeln!(s, "**Lesson.** {}\n", sentence(&e.lesson));
        s.push_str("**Key figures** (measured by `meshsim check`):\n\n");
        for v in &e.figures {
            let mark = if v.passed { "✓" } else { "✗ FAILS" };
            let _ = writeln!(s, "- {mark} {}: {} (expected {})", v.name, v.measured, v.bound);
        }
        s.push_str("\n| Phase | From | To | Requests | Client errors |\n|---|--:|--:|--:|--:|\n");
        for (name, from, to, requests, errors) in &e.phases {
            let _ = writeln!(s, "| {name} | {from} s | {to} s | {requests} | {errors} |");
        }
        let _ = writeln!(s, "\nCharts: `meshsim run {}` → `output/{}/report.html`.", e.file, e.name);
    }
    if !retired.is_empty() {
        s.push_str("\n## Lessons that moved\n\n");
        for (old, new) in retired {
            let _ = writeln!(s, "- `{old}`: {new}");
        }
    }
    s
}

/// A paragraph as a sentence: its first letter upper-case (the files write `# Lesson: no, ...`).
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A paragraph on one table row: `|` escaped.
fn one_line(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn unbacked_numbers(lesson: &str, list: &[&str]) -> Vec<String> {
        unbacked(lesson, &names(list)).into_iter().map(|u| u.number).collect()
    }

    #[test]
    fn a_number_is_backed_by_an_expectation_name_that_states_it() {
        let lesson = "the breaker sheds 46 % and 3 843 requests fail over 0.2 s";
        assert_eq!(unbacked_numbers(lesson, &[]), ["46", "3843", "0.2"]);
        assert_eq!(unbacked_numbers(lesson, &["sheds 46%", "3843 errors", "within 0.2s"]), Vec::<String>::new());
        // A different number in the name does not back it.
        assert_eq!(unbacked_numbers(lesson, &["sheds 45%", "3 843 errors", "0.25 s"]), ["46", "0.2"]);
    }

    #[test]
    fn code_spans_names_releases_and_status_codes_are_exempt() {
        let lesson = "with `http2MaxRequests: 50` P0 ejects A/0 and cluster-b/1 x2 on a 503; 5xx \
                      errors since Istio 1.24 and Envoy >= 1.26 (`--set a=1.23`)";
        assert_eq!(unbacked_numbers(lesson, &[]), Vec::<String>::new());
        assert_eq!(releases(lesson), [("Istio", "1.24".to_string()), ("Envoy", "1.26".to_string())]);
    }

    #[test]
    fn thousands_groups_join_but_separate_numbers_do_not() {
        let found: Vec<String> = numbers("16 315 of 32,321, then 5 errors 100 ms, 1.907 s, 40-48 503s")
            .into_iter()
            .map(|f| f.number)
            .collect();
        assert_eq!(found, ["16315", "32321", "5", "100", "1.907", "40", "48", "503"]);
    }

    #[test]
    fn set_commands_are_split_as_a_shell_would() {
        let text = "try `--set 'mesh.istio_version=\"1.30\"'` or `--set a.b=1 --set 'c=[1, 2]'`; `x: 1` is no command";
        assert_eq!(
            set_commands(text),
            [vec!["mesh.istio_version=\"1.30\"".to_string()], vec!["a.b=1".to_string(), "c=[1, 2]".to_string()]]
        );
    }

    #[test]
    fn the_context_names_where_the_number_is() {
        let u = unbacked("a long lesson in which exactly 127 requests fail", &[]);
        assert_eq!(u.len(), 1);
        assert!(u[0].context.contains("127 requests"), "{:?}", u[0].context);
    }
}
