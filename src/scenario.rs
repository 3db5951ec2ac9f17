//! Scenario files: loading (the only file reads of the library, with `istio` manifests),
//! `--set` overrides, and validation into a typed [`Scenario`].
//!
//! The pipeline: read TOML → splice the YAML manifests named in `policy.manifests` into
//! `policy.destination_rule` / `policy.virtual_service` / `policy.gateways` (inline keys win) →
//! apply `--set PATH=VALUE` overrides → deserialize strictly (unknown keys are errors naming their
//! path) → validate.

pub mod budget;
pub mod expect;
pub mod overrides;
pub mod schema;
pub mod types;
pub mod validate;

use std::path::{Path, PathBuf};

use toml::Value;

pub use expect::Expectation;
pub use types::*;

/// Why a scenario could not be loaded. Every variant names the file, and where it applies the
/// dotted path of the field.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read: missing, not a regular file, too large, not text.
    #[error("{error}{}", if context.is_empty() { String::new() } else { format!(" ({context})") })]
    Read {
        /// The reader's error, which names the file.
        error: crate::input::InputError,
        /// Where the file was named, e.g. `policy.manifests[0] of scenarios/x.toml`; may be empty.
        context: String,
    },
    /// The file is not valid TOML (or YAML, for manifests).
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field is missing, unknown, mistyped or out of range.
    #[error("{file}: {path}: {message}")]
    Field {
        /// The file.
        file: String,
        /// Dotted path of the field, e.g. `faults[1].status`.
        path: String,
        /// What was expected.
        message: String,
    },
    /// A `--set` argument is malformed or names a path that cannot exist.
    #[error("--set {assignment}: {message}")]
    Override {
        /// The argument as given.
        assignment: String,
        /// What is wrong.
        message: String,
    },
}

/// Adds `path` (a file) or the `*.toml` files under it (a folder, recursively, skipping
/// `sweeps/`) to `out`, sorted: the scenario files `check` and `serve` take from a folder.
pub fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        if !path.exists() {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"));
        }
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for e in entries {
        if e.is_dir() {
            if e.file_name().is_some_and(|n| n != "sweeps") {
                collect_files(&e, out)?;
            }
        } else if e.extension().is_some_and(|x| x == "toml") {
            out.push(e);
        }
    }
    Ok(())
}

/// Loads, overrides and validates a scenario file. `sets` are `PATH=VALUE` strings.
pub fn load(path: &Path, sets: &[String]) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = crate::input::read_text(path, crate::input::TEXT_CAP, "a scenario file (TOML)")
        .map_err(|error| ScenarioError::Read { error, context: String::new() })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let tree = load_tree(&text, &file, &base_dir, sets)?;
    from_tree(tree, &file)
}

/// Parses a scenario from text (manifest paths resolve against `base_dir`).
pub fn from_str(text: &str, label: &str, base_dir: &Path, sets: &[String]) -> Result<Scenario, ScenarioError> {
    let tree = load_tree(text, label, base_dir, sets)?;
    from_tree(tree, label)
}

/// Reads the scenario into a value tree with manifests spliced in and overrides applied. Sweeps
/// use this to apply many overrides to one parsed file.
///
/// Overrides of `policy.manifests` apply first (they say which files to read); every other
/// override applies after the manifests are spliced in, so it can reach into their specs.
pub fn load_tree(text: &str, file: &str, base_dir: &Path, sets: &[String]) -> Result<Value, ScenarioError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ScenarioError::Syntax {
        file: file.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let mut tree = Value::Table(table);
    let (early, late): (Vec<String>, Vec<String>) = sets.iter().cloned().partition(|s| names_manifests(s));
    apply_sets(&mut tree, &early)?;
    let dr_namespace = splice_manifests(&mut tree, file, base_dir)?;
    apply_sets(&mut tree, &late)?;
    if let Some((label, namespace)) = dr_namespace {
        check_manifest_host(&tree, &label, &namespace)?;
    }
    Ok(tree)
}

/// Whether a `PATH=VALUE` override sets `policy.manifests` (or one of its entries).
fn names_manifests(assignment: &str) -> bool {
    let path = assignment.split_once('=').map_or(assignment, |(p, _)| p).trim();
    overrides::parse_path(path).is_ok_and(|segs| {
        use overrides::Segment::Key;
        matches!(segs.as_slice(), [Key(a), Key(b), ..] if a == "policy" && b == "manifests")
    })
}

/// Applies `PATH=VALUE` overrides to a tree. A value is one line: text after a line break would
/// otherwise be parsed as more TOML keys and dropped.
pub fn apply_sets(tree: &mut Value, sets: &[String]) -> Result<(), ScenarioError> {
    for s in sets {
        let err = |message: String| ScenarioError::Override { assignment: s.escape_debug().to_string(), message };
        let (path, value) = s.split_once('=').ok_or_else(|| err("expected PATH=VALUE".into()))?;
        if value.contains(['\n', '\r']) {
            return Err(err("the value spans several lines; give one value on one line".into()));
        }
        overrides::set_path(tree, path.trim(), overrides::parse_value(value.trim())).map_err(err)?;
    }
    Ok(())
}

/// Deserializes (strictly) and validates a tree.
pub fn from_tree(tree: Value, file: &str) -> Result<Scenario, ScenarioError> {
    let raw: schema::RawScenario = serde_path_to_error::deserialize(tree).map_err(|e| {
        let path = e.path().to_string();
        ScenarioError::Field {
            file: file.to_string(),
            path: if path == "." { "(top level)".into() } else { path },
            // The bare message: its `Display` adds "in `key`" lines that repeat the path.
            message: crate::suggest::with_suggestion(e.into_inner().message().trim_end()),
        }
    })?;
    validate::validate(raw, file)
}

/// Replaces `policy.manifests` by the specs they contain, merged under any inline keys. Returns
/// the file and namespace of a DestinationRule whose manifest names its namespace (its `host`
/// resolves there).
fn splice_manifests(tree: &mut Value, file: &str, base_dir: &Path) -> Result<Option<(String, String)>, ScenarioError> {
    let Some(list) = overrides::get_path(tree, "policy.manifests").cloned() else {
        return Ok(None);
    };
    let field =
        |path: &str, message: String| ScenarioError::Field { file: file.to_string(), path: path.to_string(), message };
    let list = list
        .as_array()
        .ok_or_else(|| field("policy.manifests", "expected a list of file paths, e.g. [\"manifests/dr.yaml\"]".into()))?
        .clone();
    let mut spliced = Value::Table(Default::default());
    let mut dr_namespace = None;
    for (i, entry) in list.iter().enumerate() {
        let rel =
            entry.as_str().ok_or_else(|| field(&format!("policy.manifests[{i}]"), "expected a file path".into()))?;
        let path: PathBuf = base_dir.join(rel);
        let label = path.display().to_string();
        let text = crate::input::read_text(&path, crate::input::TEXT_CAP, "an Istio manifest (YAML)")
            .map_err(|error| ScenarioError::Read { error, context: format!("policy.manifests[{i}] of {file}") })?;
        let docs = crate::istio::manifest::parse_manifests(&text, &label)
            .map_err(|e| ScenarioError::Syntax { file: label.clone(), message: e.detail() })?;
        if docs.is_empty() {
            return Err(ScenarioError::Syntax {
                file: label,
                message: "holds no DestinationRule, VirtualService or Gateway (as kubectl says: no objects passed \
                          to apply); remove it from policy.manifests or fill it"
                    .into(),
            });
        }
        for doc in docs {
            if let (crate::istio::manifest::Manifest::DestinationRule(_), Some(ns)) = (&doc, &doc.metadata().namespace)
            {
                dr_namespace = Some((label.clone(), ns.clone()));
            }
            let (key, name, spec) =
                policy_entry(doc).map_err(|message| ScenarioError::Syntax { file: label.clone(), message })?;
            let target = match name {
                Some(n) => format!("{key}.{n}"),
                None => key.to_string(),
            };
            if overrides::get_path(&spliced, &target).is_some() {
                return Err(ScenarioError::Syntax {
                    file: label.clone(),
                    message: format!("a second {key} is given; meshsim models one service, so give one"),
                });
            }
            overrides::set_path(&mut spliced, &target, spec).map_err(|m| field("policy.manifests", m))?;
        }
    }
    // Inline keys win over the manifests.
    let inline = overrides::get_path(tree, "policy").cloned().unwrap_or(Value::Table(Default::default()));
    overrides::deep_merge(&mut spliced, inline);
    if let Some(t) = spliced.as_table_mut() {
        t.remove("manifests");
    }
    overrides::set_path(tree, "policy", spliced).map_err(|m| field("policy", m))?;
    Ok(dr_namespace)
}

/// A DestinationRule from a manifest with a namespace applies to the service only if its `host`,
/// resolved in that namespace, matches the service's (Istio's rule; see [`crate::istio::host`]).
fn check_manifest_host(tree: &Value, label: &str, namespace: &str) -> Result<(), ScenarioError> {
    let get = |p: &str| overrides::get_path(tree, p).and_then(Value::as_str);
    let (Some(dr_host), Some(service_host)) = (get("policy.destination_rule.host"), get("service.host")) else {
        return Ok(()); // validation reports the missing field
    };
    match crate::istio::host::destination_rule_mismatch(dr_host, Some(namespace), service_host) {
        None => Ok(()),
        Some(message) => Err(ScenarioError::Syntax { file: label.to_string(), message }),
    }
}

/// Where a manifest goes in the `policy` table, and its spec as a TOML value.
fn policy_entry(doc: crate::istio::manifest::Manifest) -> Result<(&'static str, Option<String>, Value), String> {
    use crate::istio::manifest::Manifest;
    let to_value = |r: Result<Value, toml::ser::Error>| {
        r.map_err(|e| format!("cannot represent the spec in the scenario tree: {e}"))
    };
    match doc {
        Manifest::DestinationRule(r) => Ok(("destination_rule", None, to_value(Value::try_from(&r.spec))?)),
        Manifest::VirtualService(r) => Ok(("virtual_service", None, to_value(Value::try_from(&r.spec))?)),
        Manifest::Gateway(r) => {
            let name = r.metadata.name.clone().ok_or("a Gateway needs metadata.name")?;
            Ok(("gateways", Some(name), to_value(Value::try_from(&r.spec))?))
        }
    }
}
