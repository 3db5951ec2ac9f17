//! The scenarios a server offers: read once at start-up (with their manifests spliced in), then
//! run many times with different overrides. The server reads no file after this.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Value;

use crate::scenario::{self, Scenario, ScenarioError};

/// One scenario of the catalogue.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its `name`.
    pub name: String,
    /// The file as given (the label of every error message, as `meshsim run` prints it).
    pub file: String,
    /// Its `description`.
    pub description: String,
    /// The question of its opening comment (`# Question: ...`), or empty.
    pub question: String,
    /// The lesson of its opening comment (`# Lesson: ...`), or empty.
    pub lesson: String,
    /// The scenario as a tree, with `policy.manifests` spliced in (so self-contained).
    pub tree: Value,
    /// The scenario validated without overrides.
    pub scenario: Arc<Scenario>,
}

/// The scenarios, in file order.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    /// The entries.
    pub entries: Vec<Entry>,
}

impl Catalogue {
    /// Loads a scenario file, or every scenario under a folder (as `meshsim check` finds them:
    /// `*.toml`, recursively, sorted, skipping `sweeps/`). Any invalid file, or two files with
    /// the same `name`, is an error naming the file.
    pub fn load(path: &Path) -> Result<Catalogue, ScenarioError> {
        let mut files: Vec<PathBuf> = Vec::new();
        scenario::collect_files(path, &mut files).map_err(|error| ScenarioError::Read {
            error: crate::input::InputError::Io { file: path.display().to_string(), error },
            context: String::new(),
        })?;
        let mut entries: Vec<Entry> = Vec::new();
        for f in files {
            let entry = load_entry(&f)?;
            if let Some(other) = entries.iter().find(|e| e.name == entry.name) {
                return Err(ScenarioError::Field {
                    file: entry.file.clone(),
                    path: "name".into(),
                    message: format!("`{}` is also the name of {}; names must be unique", entry.name, other.file),
                });
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(ScenarioError::Read {
                error: crate::input::InputError::Io {
                    file: path.display().to_string(),
                    error: std::io::Error::new(std::io::ErrorKind::NotFound, "no scenario (*.toml) in this folder"),
                },
                context: String::new(),
            });
        }
        Ok(Catalogue { entries })
    }

    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

fn load_entry(path: &Path) -> Result<Entry, ScenarioError> {
    let file = path.display().to_string();
    let text = crate::input::read_text(path, crate::input::TEXT_CAP, "a scenario file (TOML)")
        .map_err(|error| ScenarioError::Read { error, context: String::new() })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let tree = scenario::load_tree(&text, &file, &base_dir, &[])?;
    let scenario = scenario::from_tree(tree.clone(), &file)?;
    let (question, lesson) = header(&text);
    Ok(Entry {
        name: scenario.name.clone(),
        file,
        description: scenario.description.clone(),
        question,
        lesson,
        tree,
        scenario: Arc::new(scenario),
    })
}

/// The `# Question:` and `# Lesson:` paragraphs of a scenario's opening comment, each joined
/// into one line.
pub fn header(text: &str) -> (String, String) {
    let (mut question, mut lesson) = (String::new(), String::new());
    let mut current: Option<&mut String> = None;
    for line in text.lines() {
        let Some(body) = line.strip_prefix('#') else { break };
        let body = body.trim();
        if let Some(rest) = body.strip_prefix("Question:") {
            question = rest.trim().to_string();
            current = Some(&mut question);
        } else if let Some(rest) = body.strip_prefix("Lesson:") {
            lesson = rest.trim().to_string();
            current = Some(&mut lesson);
        } else if body.is_empty() {
            current = None;
        } else if let Some(s) = current.as_deref_mut() {
            s.push(' ');
            s.push_str(body);
        }
    }
    (question, lesson)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_joins_the_question_and_lesson_paragraphs() {
        let text = "# Question: does it\n# fail over?\n#\n# Lesson: yes,\n#  quickly.\n# Other text\nname = \"x\"\n# Lesson: not this";
        let (q, l) = header(text);
        assert_eq!(q, "does it fail over?");
        assert_eq!(l, "yes, quickly. Other text");
    }

    #[test]
    fn header_is_empty_without_an_opening_comment() {
        assert_eq!(header("name = \"x\"\n# Question: late"), (String::new(), String::new()));
    }
}
