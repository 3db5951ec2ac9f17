//! Kubernetes objects as clusters export them: what `kubectl get <kinds> [-A] -o yaml` (or
//! `-o json`) writes, and what a GitOps repository holds.
//!
//! [`read_objects`] accepts, in any mix:
//! * several YAML documents separated by `---` (empty documents are skipped);
//! * `kind: List` with `items` (what `kubectl get` writes for several objects);
//! * typed lists (`DestinationRuleList`, `PodList`, ...: what the API server returns), whose
//!   items may omit `apiVersion` and `kind` (they inherit them from the list);
//! * any number of objects of any kind, with `metadata` (only `name`, `namespace`, `labels`,
//!   `annotations`, `creationTimestamp` and `ownerReferences` are kept; `managedFields`,
//!   `resourceVersion`, `uid` and the rest are ignored), `status` and whatever else they carry.
//!
//! What each kind means is for the callers: `istio::manifest` types the Istio networking kinds,
//! [`objects`] gives lenient typed views of the kinds `meshsim import` reads. A document that is
//! not a Kubernetes object (no `apiVersion` and `kind`, or not a mapping) is an error that names
//! the file, the document and, inside a list, the item.

pub mod objects;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// Where an object was read: the file, the 0-based document, and the item of a list.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Origin {
    /// The file label given to the reader.
    pub file: String,
    /// 0-based YAML document in the file.
    pub doc: usize,
    /// 0-based index in the document's `items`, when the document is a list.
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {}", self.file, self.doc)?;
        if let Some(i) = self.item {
            write!(f, ", items[{i}]")?;
        }
        Ok(())
    }
}

/// The parts of `metadata` meshsim uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// `metadata.name`.
    #[serde(default)]
    pub name: String,
    /// `metadata.namespace` (empty for cluster-scoped objects and when unset).
    #[serde(default)]
    pub namespace: String,
    /// `metadata.labels`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `metadata.creationTimestamp` (RFC 3339), as written.
    #[serde(default)]
    pub creation_timestamp: Option<String>,
    /// `metadata.ownerReferences`.
    #[serde(default)]
    pub owner_references: Vec<OwnerReference>,
}

/// `metadata.ownerReferences[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct OwnerReference {
    /// Owner kind, e.g. `ReplicaSet`.
    #[serde(default)]
    pub kind: String,
    /// Owner name.
    #[serde(default)]
    pub name: String,
}

/// One object of an export.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// `apiVersion`, e.g. `networking.istio.io/v1` or `v1`.
    pub api_version: String,
    /// `kind`, e.g. `DestinationRule`.
    pub kind: String,
    /// Its metadata.
    pub meta: Meta,
    /// Every other top-level key (`spec`, `status`, `endpoints`, `data`, ...), as read.
    pub body: serde_yaml_ng::Mapping,
    /// Where it was read.
    pub origin: Origin,
}

impl Object {
    /// The API group: `networking.istio.io` for `networking.istio.io/v1`, empty for core `v1`.
    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }

    /// `Kind namespace/name` (or `Kind name` for cluster-scoped objects): how errors and lints
    /// name an object.
    pub fn id(&self) -> String {
        resource_id(&self.kind, &self.meta.namespace, &self.meta.name)
    }

    /// A top-level key of the body.
    pub fn get(&self, key: &str) -> Option<&serde_yaml_ng::Value> {
        self.body.get(key)
    }
}

/// `Kind namespace/name`, or `Kind name` without a namespace.
pub fn resource_id(kind: &str, namespace: &str, name: &str) -> String {
    if namespace.is_empty() { format!("{kind} {name}") } else { format!("{kind} {namespace}/{name}") }
}

/// The API group of an `apiVersion`: the part before `/`, empty for the core group (`v1`).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// How a skipped kind is shown in summaries: `Kind`, with its group when it is the Gateway API's
/// (whose `Gateway` is not Istio's).
pub fn display_kind(api_version: &str, kind: &str) -> String {
    let group = group_of(api_version);
    if group.ends_with(".k8s.io") && group.starts_with("gateway.") {
        format!("{kind} ({group})")
    } else {
        kind.to_string()
    }
}

/// Why an export could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}{}{message}{}",
    resource.as_ref().map(|r| format!("{r}: ")).unwrap_or_default(),
    path.as_ref().map(|p| format!("{p}: ")).unwrap_or_default(),
    line.map(|l| format!(" (line {l})")).unwrap_or_default())]
pub struct ReadError {
    /// Where (boxed: errors travel in `Result`s and should stay small).
    pub origin: Box<Origin>,
    /// `Kind namespace/name` of the object, when known.
    pub resource: Option<String>,
    /// The field, e.g. `spec.trafficPolicy.outlierDetection`.
    pub path: Option<String>,
    /// 1-based line in the file, for YAML syntax errors.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ReadError {
    fn at(origin: &Origin, message: impl Into<String>) -> ReadError {
        ReadError { origin: Box::new(origin.clone()), resource: None, path: None, line: None, message: message.into() }
    }
}

/// What to expect, for messages: "the output of `kubectl get ... -o yaml`".
const EXPECTED: &str = "expected Kubernetes objects as `kubectl get <kinds> -o yaml` writes them (apiVersion, kind, \
                        metadata, ...), several separated by `---`, or a `kind: List` with `items`";

/// Reads every object of `text` (labelled `file` in errors) and hands each to `sink` in file
/// order. Stops at the first error, of the reader or of `sink`.
pub fn read_objects<E: From<ReadError>>(
    text: &str,
    file: &str,
    mut sink: impl FnMut(Object) -> Result<(), E>,
) -> Result<(), E> {
    for (doc, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let origin = Origin { file: file.to_string(), doc, item: None };
        let value = serde_yaml_ng::Value::deserialize(document).map_err(|e| {
            let line = e.location().map(|l| l.line());
            let mut message = e.to_string();
            if let Some(l) = e.location() {
                let suffix = format!(" at line {} column {}", l.line(), l.column());
                if let Some(s) = message.strip_suffix(&suffix) {
                    message = s.to_string();
                }
            }
            ReadError { line, ..ReadError::at(&origin, format!("not valid YAML: {message}")) }
        })?;
        let map = match value {
            serde_yaml_ng::Value::Null => continue, // an empty document
            serde_yaml_ng::Value::Mapping(m) => m,
            serde_yaml_ng::Value::Tagged(t) => match t.value {
                serde_yaml_ng::Value::Mapping(m) => m,
                _ => return Err(ReadError::at(&origin, format!("is not a Kubernetes object; {EXPECTED}")).into()),
            },
            other => {
                return Err(ReadError::at(
                    &origin,
                    format!("is a YAML {}, not a Kubernetes object; {EXPECTED}", value_kind(&other)),
                )
                .into());
            }
        };
        read_document(map, &origin, &mut sink)?;
    }
    Ok(())
}

fn read_document<E: From<ReadError>>(
    mut map: serde_yaml_ng::Mapping,
    origin: &Origin,
    sink: &mut impl FnMut(Object) -> Result<(), E>,
) -> Result<(), E> {
    let api_version = take_string(&mut map, "apiVersion", origin)?;
    let kind = take_string(&mut map, "kind", origin)?;
    let is_list = map.contains_key("items")
        && kind.as_deref().is_some_and(|k| k == "List" || (k.ends_with("List") && k.len() > 4));
    if is_list {
        let kind = kind.unwrap_or_default();
        let items = match map.remove("items") {
            Some(serde_yaml_ng::Value::Sequence(s)) => s,
            Some(serde_yaml_ng::Value::Null) => Vec::new(),
            Some(other) => {
                return Err(ReadError {
                    path: Some("items".into()),
                    ..ReadError::at(origin, format!("is a {}, expected a list of objects", value_kind(&other)))
                }
                .into());
            }
            None => unreachable!("checked above"),
        };
        // A typed list (`PodList`) names its items' kind and version; `List` does not.
        let item_kind = (kind != "List").then(|| kind.trim_end_matches("List").to_string());
        for (i, item) in items.into_iter().enumerate() {
            let origin = Origin { item: Some(i), ..origin.clone() };
            let serde_yaml_ng::Value::Mapping(mut m) = item else {
                return Err(ReadError::at(
                    &origin,
                    format!("is a YAML {}, not a Kubernetes object", value_kind(&item)),
                )
                .into());
            };
            if let Some(k) = &item_kind {
                let key = serde_yaml_ng::Value::from("kind");
                if !m.contains_key(&key) {
                    m.insert(key, k.as_str().into());
                }
                let key = serde_yaml_ng::Value::from("apiVersion");
                if let (false, Some(v)) = (m.contains_key(&key), &api_version) {
                    m.insert(key, v.as_str().into());
                }
            }
            if m.contains_key("items") {
                return Err(ReadError::at(&origin, "is a list inside a list; expected objects as items").into());
            }
            read_document(m, &origin, sink)?;
        }
        return Ok(());
    }
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        let missing =
            if map.contains_key("kind") || map.contains_key("apiVersion") { "" } else { " (no apiVersion and kind)" };
        return Err(ReadError::at(origin, format!("is not a Kubernetes object{missing}; {EXPECTED}")).into());
    };
    if api_version.is_empty() || kind.is_empty() {
        return Err(ReadError::at(origin, "apiVersion and kind must not be empty").into());
    }
    let meta = match map.remove("metadata") {
        None | Some(serde_yaml_ng::Value::Null) => Meta::default(),
        Some(v) => serde_path_to_error::deserialize::<_, Meta>(v).map_err(|e| ReadError {
            resource: Some(kind.clone()),
            path: Some(format!("metadata.{}", e.path()).trim_end_matches(".").to_string()),
            ..ReadError::at(origin, e.into_inner().to_string())
        })?,
    };
    sink(Object { api_version, kind, meta, body: map, origin: origin.clone() })
}

/// Removes a top-level string key; a present key that is not a string is an error.
fn take_string(map: &mut serde_yaml_ng::Mapping, key: &str, origin: &Origin) -> Result<Option<String>, ReadError> {
    match map.remove(key) {
        None | Some(serde_yaml_ng::Value::Null) => Ok(None),
        Some(serde_yaml_ng::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ReadError {
            path: Some(key.to_string()),
            ..ReadError::at(origin, format!("is a {}, expected a string", value_kind(&other)))
        }),
    }
}

/// What a YAML value is, for messages.
pub fn value_kind(v: &serde_yaml_ng::Value) -> &'static str {
    match v {
        serde_yaml_ng::Value::Null => "null",
        serde_yaml_ng::Value::Bool(_) => "boolean",
        serde_yaml_ng::Value::Number(_) => "number",
        serde_yaml_ng::Value::String(_) => "string",
        serde_yaml_ng::Value::Sequence(_) => "list",
        serde_yaml_ng::Value::Mapping(_) => "mapping",
        serde_yaml_ng::Value::Tagged(_) => "tagged value",
    }
}

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 time such as Kubernetes writes
/// (`2024-05-01T10:00:00Z`, fractions and `+02:00` offsets accepted). Istio orders resources by
/// `creationTimestamp`; an object without one sorts first, as Go's zero time does.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not an RFC 3339 time such as 2024-05-01T10:00:00Z");
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let s = text.get(r).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let oh = rest[1..3].parse::<i64>().map_err(|_| bad())?;
            let om = rest[4..6].parse::<i64>().map_err(|_| bad())?;
            let o = oh * 3600 + om * 60;
            if &rest[..1] == "-" { -o } else { o }
        }
        _ => return Err(bad()),
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Object>, ReadError> {
        let mut out = Vec::new();
        read_objects(text, "x.yaml", |o| {
            out.push(o);
            Ok::<(), ReadError>(())
        })?;
        Ok(out)
    }

    #[test]
    fn lists_documents_and_typed_lists_all_read() {
        let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: n1\n    \
                    managedFields:\n    - manager: kubelet\n    resourceVersion: \"12\"\n  status: {}\nkind: List\n\
                    metadata:\n  resourceVersion: \"\"\n---\n---\napiVersion: networking.istio.io/v1\nkind: \
                    DestinationRuleList\nitems:\n- metadata:\n    name: r\n    namespace: shop\n  spec:\n    host: r\n";
        let objs = read(text).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!((objs[0].kind.as_str(), objs[0].meta.name.as_str()), ("Node", "n1"));
        assert_eq!(objs[0].origin, Origin { file: "x.yaml".into(), doc: 0, item: Some(0) });
        assert_eq!(objs[1].kind, "DestinationRule");
        assert_eq!(objs[1].api_version, "networking.istio.io/v1");
        assert_eq!(objs[1].id(), "DestinationRule shop/r");
        assert_eq!(objs[1].origin.doc, 2, "the empty document between counts");
        assert!(objs[1].get("spec").is_some());
    }

    #[test]
    fn json_exports_read_too() {
        let objs = read(r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"topology.istio.io/network":"n1"}}}]}"#).unwrap();
        assert_eq!(objs[0].meta.labels["topology.istio.io/network"], "n1");
    }

    #[test]
    fn what_is_not_kubernetes_yaml_is_refused_naming_the_document() {
        let e = read("name: x\nregion: eu\n").unwrap_err().to_string();
        assert!(e.starts_with("x.yaml: document 0: is not a Kubernetes object (no apiVersion and kind)"), "{e}");
        let e = read("- a\n- b\n").unwrap_err().to_string();
        assert!(e.starts_with("x.yaml: document 0: is a YAML list, not a Kubernetes object"), "{e}");
        let e = read("apiVersion: v1\nkind: List\nitems:\n- 3\n").unwrap_err().to_string();
        assert_eq!(e, "x.yaml: document 0, items[0]: is a YAML number, not a Kubernetes object");
        let e = read("a: [\n").unwrap_err();
        assert!(e.line.is_some() && e.message.starts_with("not valid YAML"), "{e:?}");
        let e = read("apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    a: [1]\n").unwrap_err().to_string();
        assert!(e.starts_with("x.yaml: document 0: Pod: metadata.labels.a: "), "{e}");
    }

    #[test]
    fn timestamps_order_as_instants() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_timestamp("2024-05-01T10:00:00Z"), Ok(1_714_557_600));
        assert_eq!(parse_timestamp("2024-05-01T12:00:00.5+02:00"), Ok(1_714_557_600));
        assert_eq!(parse_timestamp("2000-02-29T00:00:00Z"), Ok(951_782_400));
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("2024-13-01T00:00:00Z").is_err());
    }
}
