//! "Did you mean ...?" for misspelled keys and names: the closest allowed word by edit distance.
//!
//! serde words every unknown key the same way (`unknown field `x`, expected one of `a`, `b``,
//! or `expected `a` or `b``, or `expected `a``), in the TOML scenario and in the YAML manifests
//! alike, with the allowed keys at that path. [`with_suggestion`] reads that list back from the
//! message and appends the closest key, so every strict table gets the hint without a list of
//! its own.

/// The closest of `candidates` to `word`, if it is close enough to be a plausible typo: a case
/// difference, or at most a third of the word's letters (at least one) inserted, deleted,
/// replaced or swapped. Ties go to the first candidate.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let d = if c.eq_ignore_ascii_case(word) { 0 } else { distance(&word.to_lowercase(), &c.to_lowercase()) };
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Appends `; did you mean `x`?` to a serde "unknown field" or "unknown variant" message when
/// one of the expected words is close to the unknown one. Other messages are returned as given.
pub fn with_suggestion(message: &str) -> String {
    let Some((unknown, expected)) = parse_unknown(message) else { return message.to_string() };
    match closest(unknown, expected.iter().map(String::as_str)) {
        Some(best) => format!("{message}; did you mean `{best}`?"),
        None => message.to_string(),
    }
}

/// The unknown word and the expected ones of a serde "unknown field/variant" message.
fn parse_unknown(message: &str) -> Option<(&str, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))?;
    let (unknown, rest) = rest.split_once("`, expected ")?;
    // Everything quoted in backticks after "expected" is an allowed word.
    let expected: Vec<String> = rest.split('`').skip(1).step_by(2).map(str::to_string).collect();
    (!expected.is_empty()).then_some((unknown, expected))
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters each cost 1 (a swapped pair is the commonest typo).
pub fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v =
                (d[(i - 1) * width + j] + 1).min(d[i * width + j - 1] + 1).min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = v;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_edits_and_swaps() {
        assert_eq!(distance("rate", "rate"), 0);
        assert_eq!(distance("ratte", "rate"), 1);
        assert_eq!(distance("rtae", "rate"), 1, "a swap is one edit");
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_words() {
        let keys = ["proxy", "rate", "rate_changes"];
        assert_eq!(closest("ratte", keys), Some("rate"));
        assert_eq!(closest("Rate", keys), Some("rate"));
        assert_eq!(closest("rate_change", keys), Some("rate_changes"));
        assert_eq!(closest("latency", keys), None);
        assert_eq!(
            closest("consecutive5xxError", ["consecutive5xxErrors", "consecutiveErrors"]),
            Some("consecutive5xxErrors")
        );
    }

    #[test]
    fn reads_serde_messages_in_their_three_forms() {
        assert_eq!(
            with_suggestion("unknown field `ratte`, expected one of `proxy`, `rate`, `rate_changes`"),
            "unknown field `ratte`, expected one of `proxy`, `rate`, `rate_changes`; did you mean `rate`?"
        );
        assert_eq!(
            with_suggestion("unknown field `fro`, expected `from` or `to`"),
            "unknown field `fro`, expected `from` or `to`; did you mean `from`?"
        );
        assert_eq!(
            with_suggestion("unknown field `nme`, expected `name`"),
            "unknown field `nme`, expected `name`; did you mean `name`?"
        );
        assert_eq!(with_suggestion("unknown field `zzz`, expected `name`"), "unknown field `zzz`, expected `name`");
        assert_eq!(with_suggestion("invalid type: string, expected u32"), "invalid type: string, expected u32");
        assert_eq!(with_suggestion("unknown field `x`, there are no fields"), "unknown field `x`, there are no fields");
    }
}
