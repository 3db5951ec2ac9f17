//! Scenario files: loading (the only file reads of the library, with `istio` manifests),
//! `--set` overrides, and validation into a typed [`Scenario`].
//!
//! The pipeline: read TOML → read the Kubernetes objects of the files named in `policy.manifests`
//! into `policy.resources` (the Istio resources, whole), `policy.skipped` and
//! `policy.unmodelled` (inline `policy.destination_rule` / `virtual_service` / `gateways` keys are
//! merged over the one resource of their kind) → apply `--set PATH=VALUE` overrides (resources
//! addressed as [`overrides::resolve`] says) → deserialize strictly (unknown keys are errors
//! naming their path) → validate, which runs Istio's selection for every client proxy.

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
    splice_manifests(&mut tree, file, base_dir)?;
    apply_sets(&mut tree, &late)?;
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
        overrides::set(tree, path.trim(), overrides::parse_value(value.trim())).map_err(err)?;
    }
    Ok(())
}

/// Deserializes (strictly) and validates a tree. An `[[expect]]` with `set` is validated, and
/// later measured, on a copy of the tree with those overrides: it becomes one of the scenario's
/// [`Variant`]s, not one of its own expectations.
pub fn from_tree(mut tree: Value, file: &str) -> Result<Scenario, ScenarioError> {
    let variant_sets = take_variant_sets(&mut tree, file)?;
    if variant_sets.is_empty() {
        return from_plain_tree(tree, file);
    }
    let base = tree;
    let mut scenario = from_plain_tree(base.clone(), file)?;
    for (i, sets) in variant_sets {
        let path = format!("expect[{i}].set");
        let field = |message: String| ScenarioError::Field { file: file.to_string(), path: path.clone(), message };
        let tree = variant_tree(&base, i, &sets).map_err(|e| field(e.to_string()))?;
        let variant = from_plain_tree(tree, file)
            .map_err(|e| field(format!("the scenario with these overrides is not valid: {e}")))?;
        let Some(expectation) = variant.expectations.first().cloned() else {
            // Shortened past what it measures (`--set duration=...`): skipped, as in the base.
            scenario.skipped_expectations.extend(variant.skipped_expectations.iter().cloned());
            continue;
        };
        scenario.expectations.retain(|e| e.name != expectation.name);
        scenario.variants.push(Variant { sets, expectation, scenario: std::sync::Arc::new(variant) });
    }
    Ok(scenario)
}

/// The tree of the variant of `[[expect]]` table `i`: the base with only that expectation and its
/// overrides applied.
fn variant_tree(base: &Value, i: usize, sets: &[String]) -> Result<Value, ScenarioError> {
    let mut tree = base.clone();
    if let Some(list) = tree.get_mut("expect").and_then(Value::as_array_mut) {
        // Only this expectation: the variant measures nothing else.
        let only = list.swap_remove(i);
        *list = vec![only];
    }
    apply_sets(&mut tree, sets)?;
    Ok(tree)
}

/// Deserializes and validates a tree for running only, as a sweep does for each of its points:
/// the same checks and errors as [`from_tree`], except that the variants (`[[expect]]` tables
/// with `set`) are not built (each would cost as much as the scenario itself), so `variants` is
/// empty and their expectations stay, unmeasured, in `expectations` (a run measures none).
pub fn from_tree_for_runs(mut tree: Value, file: &str) -> Result<Scenario, ScenarioError> {
    take_variant_sets(&mut tree, file)?;
    from_plain_tree(tree, file)
}

/// Removes the `set` key of every `[[expect]]` table and returns, per such table, its index and
/// overrides. They may not name `policy.manifests` (the manifests are already read).
fn take_variant_sets(tree: &mut Value, file: &str) -> Result<Vec<(usize, Vec<String>)>, ScenarioError> {
    let Some(list) = tree.get_mut("expect").and_then(Value::as_array_mut) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (i, e) in list.iter_mut().enumerate() {
        let Some(set) = e.as_table_mut().and_then(|t| t.remove("set")) else { continue };
        let field = |message: &str| ScenarioError::Field {
            file: file.to_string(),
            path: format!("expect[{i}].set"),
            message: message.to_string(),
        };
        let expected = "expected a list of overrides as `--set` takes them, e.g. [\"mesh.istio_version=\\\"1.23\\\"\"]";
        let sets: Vec<String> = set
            .as_array()
            .ok_or_else(|| field(expected))?
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| field(expected)))
            .collect::<Result<_, _>>()?;
        if sets.is_empty() {
            return Err(field("is empty: give at least one override, or leave `set` out"));
        }
        if sets.iter().any(|s| names_manifests(s)) {
            return Err(field("cannot override policy.manifests (the files are read once, before the variants)"));
        }
        out.push((i, sets));
    }
    Ok(out)
}

/// Deserializes (strictly) and validates a tree that has no variant expectations.
fn from_plain_tree(tree: Value, file: &str) -> Result<Scenario, ScenarioError> {
    let raw: schema::RawScenario = deserialize_tracked(tree).map_err(|e| {
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

/// Deserializes `T` from a tree, with the path of the field in the error.
///
/// Every type read from a scenario tree goes through here, and only through here: each
/// `Deserialize` impl is then compiled once for the tree (inside `serde_path_to_error`'s
/// wrapper), not a second time for plain serde. A plain pass first, re-run tracked only on an
/// error, made a sweep point's check about 25 µs cheaper (the 40 000 points of
/// `limits::issue8_6_sweep_memory_does_not_grow_with_its_points`: 4.6 s of CPU, now 5.5-6.5 s;
/// a run costs tens of milliseconds) but doubled the scenario and Istio types' generated code:
/// with the tests' own copies (now through the same paths), 14 % of the library test harness's
/// LLVM IR and 15 % of its compile time (issue 11). `#[inline(never)]`: one body per type.
#[inline(never)]
pub(crate) fn deserialize_tracked<T: serde::de::DeserializeOwned>(
    tree: Value,
) -> Result<T, serde_path_to_error::Error<toml::de::Error>> {
    serde_path_to_error::deserialize(tree)
}

/// One resource read from a manifest, before it goes into the tree.
struct Read {
    kind: &'static str,
    name: String,
    namespace: String,
    created: Option<String>,
    clusters: Option<Vec<String>>,
    source: String,
    spec: Value,
}

/// Replaces `policy.manifests` by what the files hold: `policy.resources` (each Istio resource,
/// whole, with the clusters that read it), `policy.skipped` (other kinds, counted per file) and
/// `policy.unmodelled` (the skipped kinds that change traffic). The same resource read for
/// several clusters is kept once; two different ones a cluster would hold at once are an error.
/// Inline `destination_rule` / `virtual_service` / `gateways.NAME` keys are merged over the one
/// resource of their kind (and name) when the manifests hold exactly one.
fn splice_manifests(tree: &mut Value, file: &str, base_dir: &Path) -> Result<(), ScenarioError> {
    let Some(list) = overrides::get_path(tree, "policy.manifests").cloned() else {
        return Ok(());
    };
    let field =
        |path: &str, message: String| ScenarioError::Field { file: file.to_string(), path: path.to_string(), message };
    let list = list
        .as_array()
        .ok_or_else(|| field("policy.manifests", "expected a list of file paths, e.g. [\"manifests/dr.yaml\"]".into()))?
        .clone();
    let mut read: Vec<Read> = Vec::new();
    let mut skipped = Vec::new();
    let mut unmodelled = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("policy.manifests[{i}]");
        let (rel, clusters) = manifest_entry(entry).map_err(|m| field(&at, m))?;
        let path: PathBuf = base_dir.join(&rel);
        let label = path.display().to_string();
        let text =
            crate::input::read_text(&path, crate::input::EXPORT_CAP, "Istio manifests or a cluster export (YAML)")
                .map_err(|error| ScenarioError::Read { error, context: format!("{at} of {file}") })?;
        let found = crate::istio::manifest::read_manifests(&text, &label)
            .map_err(|e| ScenarioError::Syntax { file: label.clone(), message: e.detail() })?;
        if found.manifests.is_empty() && found.skipped.is_empty() {
            return Err(ScenarioError::Syntax {
                file: label,
                message: "holds no Kubernetes object (as kubectl says: no objects passed to apply); remove it from \
                          policy.manifests or fill it"
                    .into(),
            });
        }
        for (m, origin) in found.manifests {
            read.push(
                read_entry(m, origin.to_string(), clusters.clone())
                    .map_err(|message| ScenarioError::Syntax { file: label.clone(), message })?,
            );
        }
        if !found.skipped.is_empty() {
            let kinds: toml::Table =
                found.skipped.iter().map(|(k, n)| (k.clone(), Value::Integer(*n as i64))).collect();
            let mut t = toml::Table::new();
            t.insert("source".into(), Value::String(label.clone()));
            t.insert("kinds".into(), Value::Table(kinds));
            skipped.push(Value::Table(t));
        }
        for u in found.unmodelled {
            unmodelled.push(Value::try_from(&u).map_err(|e| field(&at, e.to_string()))?);
        }
    }
    let read = dedupe(read)?;
    let policy = overrides::get_path(tree, "policy").cloned().unwrap_or(Value::Table(Default::default()));
    let mut policy = match policy {
        Value::Table(t) => t,
        _ => return Err(field("policy", "expected a table".into())),
    };
    policy.remove("manifests");
    let mut resources: Vec<Value> = match policy.remove("resources") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err(field("policy.resources", "expected a list of resources".into())),
        None => Vec::new(),
    };
    let first_read = resources.len();
    for r in read {
        let mut t = toml::Table::new();
        t.insert("kind".into(), Value::String(r.kind.into()));
        t.insert("name".into(), Value::String(r.name));
        t.insert("namespace".into(), Value::String(r.namespace));
        if let Some(c) = r.created {
            t.insert("created".into(), Value::String(c));
        }
        if let Some(c) = r.clusters {
            t.insert("clusters".into(), Value::Array(c.into_iter().map(Value::String).collect()));
        }
        t.insert("source".into(), Value::String(r.source));
        t.insert("spec".into(), r.spec);
        resources.push(Value::Table(t));
    }
    // Inline keys over the one resource of their kind.
    let of_kind = |resources: &[Value], kind: &str, name: Option<&str>| -> Vec<usize> {
        (first_read..resources.len())
            .filter(|&i| {
                let t = resources[i].as_table();
                let s = |k: &str| t.and_then(|t| t.get(k)).and_then(Value::as_str);
                s("kind") == Some(kind) && name.is_none_or(|n| s("name") == Some(n))
            })
            .collect()
    };
    for (key, kind) in [("destination_rule", "DestinationRule"), ("virtual_service", "VirtualService")] {
        let Some(inline) = policy.get(key).cloned() else { continue };
        match of_kind(&resources, kind, None).as_slice() {
            [] => {}
            [i] => {
                let spec = resources[*i].as_table_mut().and_then(|t| t.get_mut("spec")).expect("written above");
                overrides::deep_merge(spec, inline);
                policy.remove(key);
            }
            many => {
                return Err(field(
                    &format!("policy.{key}"),
                    format!(
                        "is written inline, and the manifests hold {} {kind}s: say which one to change as \
                         [policy.resources] entry {kind}/namespace/name (with --set \
                         'policy.resources[{kind}/namespace/name].spec...')",
                        many.len()
                    ),
                ));
            }
        }
    }
    if let Some(Value::Table(gateways)) = policy.get("gateways").cloned() {
        let mut left = toml::Table::new();
        for (name, inline) in gateways {
            match of_kind(&resources, "Gateway", Some(&name)).as_slice() {
                [i] => {
                    let spec = resources[*i].as_table_mut().and_then(|t| t.get_mut("spec")).expect("written above");
                    overrides::deep_merge(spec, inline);
                }
                _ => {
                    left.insert(name, inline);
                }
            }
        }
        if left.is_empty() {
            policy.remove("gateways");
        } else {
            policy.insert("gateways".into(), Value::Table(left));
        }
    }
    policy.insert("resources".into(), Value::Array(resources));
    if !skipped.is_empty() {
        let mut all = match policy.remove("skipped") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        all.extend(skipped);
        policy.insert("skipped".into(), Value::Array(all));
    }
    if !unmodelled.is_empty() {
        let mut all = match policy.remove("unmodelled") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        all.extend(unmodelled);
        policy.insert("unmodelled".into(), Value::Array(all));
    }
    overrides::set_path(tree, "policy", Value::Table(policy)).map_err(|m| field("policy", m))?;
    Ok(())
}

/// A `policy.manifests` entry: `"path"` or `{ file = "path", clusters = ["a"] }`.
fn manifest_entry(entry: &Value) -> Result<(String, Option<Vec<String>>), String> {
    match entry {
        Value::String(s) => Ok((s.clone(), None)),
        Value::Table(t) => {
            if let Some(k) = t.keys().find(|k| !matches!(k.as_str(), "file" | "clusters")) {
                return Err(format!(
                    "unknown key `{k}`; an entry is a path or {{ file = \"path\", clusters = [\"a\"] }}"
                ));
            }
            let file = t.get("file").and_then(Value::as_str).ok_or("expected `file`, a path")?;
            let clusters = t
                .get("clusters")
                .and_then(Value::as_array)
                .ok_or("expected `clusters`, a list of cluster IDs")?
                .iter()
                .map(|c| c.as_str().map(str::to_string).ok_or("`clusters` holds cluster IDs (strings)"))
                .collect::<Result<Vec<_>, _>>()?;
            if clusters.is_empty() {
                return Err("`clusters` is empty: no istiod would read the file".into());
            }
            Ok((file.to_string(), Some(clusters)))
        }
        _ => Err("expected a file path, or { file = \"path\", clusters = [\"a\"] }".into()),
    }
}

/// A manifest as a resource of the tree.
fn read_entry(
    m: crate::istio::manifest::Manifest,
    source: String,
    clusters: Option<Vec<String>>,
) -> Result<Read, String> {
    use crate::istio::manifest::Manifest;
    let kind = m.kind();
    let meta = m.metadata().clone();
    let spec = match &m {
        Manifest::DestinationRule(r) => Value::try_from(&r.spec),
        Manifest::VirtualService(r) => Value::try_from(&r.spec),
        Manifest::Gateway(r) => Value::try_from(&r.spec),
    }
    .map_err(|e| format!("{source}: {kind}: cannot represent the spec in the scenario tree: {e}"))?;
    Ok(Read {
        kind,
        name: meta.name.unwrap_or_default(),
        namespace: meta.namespace.unwrap_or_else(|| "default".into()),
        created: meta.creation_timestamp,
        clusters,
        source,
        spec,
    })
}

/// The same resource read for several clusters becomes one, read by all of them; two different
/// ones under one `Kind/namespace/name` that some cluster would both hold are an error.
fn dedupe(read: Vec<Read>) -> Result<Vec<Read>, ScenarioError> {
    let mut out: Vec<Read> = Vec::new();
    for r in read {
        let same_id = |o: &Read| o.kind == r.kind && o.namespace == r.namespace && o.name == r.name;
        let overlap = |a: &Option<Vec<String>>, b: &Option<Vec<String>>| match (a, b) {
            (Some(a), Some(b)) => a.iter().any(|x| b.contains(x)),
            _ => true,
        };
        if let Some(o) = out.iter_mut().find(|o| same_id(o) && o.spec == r.spec && o.created == r.created) {
            o.clusters = match (o.clusters.take(), r.clusters) {
                (Some(mut a), Some(b)) => {
                    for c in b {
                        if !a.contains(&c) {
                            a.push(c);
                        }
                    }
                    Some(a)
                }
                _ => None,
            };
            continue;
        }
        if let Some(o) = out.iter().find(|o| same_id(o) && overlap(&o.clusters, &r.clusters)) {
            return Err(ScenarioError::Syntax {
                file: r.source.split(": document").next().unwrap_or(&r.source).to_string(),
                message: format!(
                    "{}: {} {}/{} differs from the one read at {}, and {} would hold both; a cluster holds one object per \
                     kind, namespace and name (read each cluster's export for its own cluster: {{ file = \"...\", \
                     clusters = [\"...\"] }})",
                    r.source,
                    r.kind,
                    r.namespace,
                    r.name,
                    o.source,
                    match (&o.clusters, &r.clusters) {
                        (Some(a), Some(b)) =>
                            format!("cluster {}", a.iter().find(|x| b.contains(x)).cloned().unwrap_or_default()),
                        _ => "every cluster".into(),
                    }
                ),
            });
        }
        out.push(r);
    }
    Ok(out)
}
