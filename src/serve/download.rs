//! "Download scenario.toml": the page's settings as a scenario file that `meshsim run` and
//! `meshsim check` accept on their own. The policy is written inline (the manifests were spliced
//! in when the catalogue was read), the seed is fixed, and the original expectations are kept
//! only where they hold for these settings, so `meshsim check` passes on the file.

use serde_json::Value as Json;
use toml::Value;

use super::catalogue::Entry;
use crate::check::Verdict;

/// The text of the downloaded file: a comment saying where it comes from, what changed and
/// which expectations were left out, then the scenario tree with `seed` set.
pub fn scenario_file(
    entry: &Entry,
    seed: u64,
    tree: &Value,
    sets: &[(String, Json)],
    verdicts: &[Verdict],
) -> Result<String, String> {
    let mut tree = tree.clone();
    let table = tree.as_table_mut().ok_or("the scenario is not a table")?;
    table.insert("seed".into(), Value::Integer(i64::try_from(seed).map_err(|_| "the seed is above 2^63")?));
    let failed: Vec<&str> = verdicts.iter().filter(|v| !v.passed).map(|v| v.name.as_str()).collect();
    if let Some(Value::Array(expects)) = table.get_mut("expect") {
        expects.retain(|e| e.get("name").and_then(Value::as_str).is_none_or(|n| !failed.contains(&n)));
        if expects.is_empty() {
            table.remove("expect");
        }
    }
    let body = toml::to_string(&tree).map_err(|e| format!("cannot write the scenario as TOML: {e}"))?;
    let mut head = String::new();
    if !entry.question.is_empty() {
        comment(&mut head, &format!("Question: {}", entry.question));
        head.push_str("#\n");
    }
    if !entry.lesson.is_empty() {
        comment(&mut head, &format!("Lesson: {}", entry.lesson));
        head.push_str("#\n");
    }
    comment(&mut head, &format!("Saved from `meshsim serve`: {} with seed {seed}.", entry.file));
    if sets.is_empty() {
        comment(&mut head, "Settings as in the original.");
    } else {
        comment(&mut head, "Changed settings (the question and lesson above are the original's):");
        for (path, value) in sets {
            head.push_str(&format!("#   {path} = {value}\n"));
        }
    }
    comment(&mut head, "The manifests are written inline under [policy].");
    if !failed.is_empty() {
        comment(
            &mut head,
            &format!("Expectations left out, as they do not hold with these settings: {}.", failed.join("; ")),
        );
    }
    Ok(format!("{head}\n{body}"))
}

/// Appends `text` as `#` comment lines of at most about 98 characters.
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + word.len() + 1 > 98 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}
