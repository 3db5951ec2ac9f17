//! Dotted-path access to the scenario tree: `--set PATH=VALUE`, sweeps' axes, and the splicing of
//! YAML manifests into `policy`.
//!
//! A path is a list of keys separated by dots; an array element is addressed by its index, as
//! `faults.1.at` or `faults[1].at`. Setting a key that does not exist yet creates it (so an
//! optional field can be set), and the strict schema then rejects any key that is not a field.
//!
//! The Istio resources of `policy.resources` are also addressed by name, and the one resource of
//! a kind by its short form ([`resolve`]; `set`, `get` use it):
//! * `policy.resources[DestinationRule/shop/reviews].spec...` names a resource by
//!   `Kind/namespace/name` (every copy, when clusters hold different ones);
//! * `policy.destination_rule...` and `policy.virtual_service...` name the only DestinationRule
//!   (VirtualService) of `policy.resources` when no inline one is written, and
//!   `policy.gateways.NAME...` the only Gateway named NAME: what the scenario's manifests gave.

use toml::Value;

/// One parsed segment of a dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Splits `a.b[2].c` or `a.b.2.c` into segments. Errors on empty segments.
pub fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        if part.is_empty() {
            return Err(format!("empty segment in path `{path}`"));
        }
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            match key.parse::<usize>() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) => out.push(Segment::Key(key.to_string())),
            }
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped.find(']').ok_or_else(|| format!("unclosed `[` in `{path}`"))?;
            let idx = stripped[..end]
                .parse::<usize>()
                .map_err(|_| format!("`{}` is not an array index in `{path}`", &stripped[..end]))?;
            out.push(Segment::Index(idx));
            rest = &stripped[end + 1..];
        }
        if !rest.is_empty() {
            return Err(format!("unexpected `{rest}` in path `{path}`"));
        }
    }
    if out.is_empty() {
        return Err("empty path".into());
    }
    Ok(out)
}

/// Parses the right-hand side of `PATH=VALUE`: a TOML value (`5`, `0.5`, `true`, `"x"`,
/// `[1, 2]`), or else the raw text as a string (`30s`, `ROUND_ROBIN`).
pub fn parse_value(text: &str) -> Value {
    let wrapped = format!("v = {text}");
    match wrapped.parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(text.to_string())),
        Err(_) => Value::String(text.to_string()),
    }
}

/// Sets `path` in `root` to `value`, creating tables on the way. An index past the end of an
/// array is an error; so is walking into a value that is not a table or array.
pub fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let segs = parse_path(path)?;
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match seg {
            Segment::Key(k) => {
                let table =
                    cur.as_table_mut().ok_or_else(|| format!("`{}` is not a table", display_prefix(&segs[..i])))?;
                if last {
                    table.insert(k.clone(), value);
                    return Ok(());
                }
                cur = table.entry(k.clone()).or_insert_with(|| Value::Table(Default::default()));
            }
            Segment::Index(idx) => {
                let arr =
                    cur.as_array_mut().ok_or_else(|| format!("`{}` is not an array", display_prefix(&segs[..i])))?;
                let len = arr.len();
                let slot = arr.get_mut(*idx).ok_or_else(|| {
                    format!("`{}`: index {idx} is out of range (length {len})", display_prefix(&segs[..=i]))
                })?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                cur = slot;
            }
        }
    }
    unreachable!("a parsed path has at least one segment")
}

/// Reads the value at `path`, if present.
pub fn get_path<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let segs = parse_path(path).ok()?;
    let mut cur = root;
    for seg in &segs {
        cur = match seg {
            Segment::Key(k) => cur.as_table()?.get(k)?,
            Segment::Index(i) => cur.as_array()?.get(*i)?,
        };
    }
    Some(cur)
}

/// Merges `overlay` into `base`: tables merge key by key, anything else replaces.
pub fn deep_merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Table(b), Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Checks the syntax of a path that [`set`] and [`get`] accept: a plain path, or one that
/// selects a resource as `policy.resources[Kind/namespace/name]...`.
pub fn check_path(path: &str) -> Result<(), String> {
    let path = path.trim();
    if let Some(rest) = path.strip_prefix("policy.resources[") {
        let end = rest.find(']').ok_or_else(|| format!("unclosed `[` in `{path}`"))?;
        let tail = rest[end + 1..].trim_start_matches('.');
        return if tail.is_empty() { Ok(()) } else { parse_path(tail).map(|_| ()) };
    }
    parse_path(path).map(|_| ())
}

/// The kinds the short forms `policy.destination_rule` and `policy.virtual_service` stand for.
const SHORT_FORMS: [(&str, &str); 2] = [("destination_rule", "DestinationRule"), ("virtual_service", "VirtualService")];

/// The plain paths `path` addresses in `root` (see the module docs): itself, or the resources it
/// names. An error when a selector matches nothing, or a short form is ambiguous.
pub fn resolve(root: &Value, path: &str) -> Result<Vec<String>, String> {
    let path = path.trim();
    let resources = get_path(root, "policy.resources").and_then(Value::as_array);
    let id = |v: &Value| -> Option<(String, String, String)> {
        let t = v.as_table()?;
        let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Some((s("kind"), s("namespace"), s("name")))
    };
    if let Some(rest) = path.strip_prefix("policy.resources[") {
        let end = rest.find(']').ok_or_else(|| format!("unclosed `[` in `{path}`"))?;
        let (inside, tail) = (&rest[..end], &rest[end + 1..]);
        if inside.parse::<usize>().is_ok() {
            return Ok(vec![path.to_string()]);
        }
        let parts: Vec<&str> = inside.split('/').collect();
        let [kind, ns, name] = parts.as_slice() else {
            return Err(format!(
                "`[{inside}]` in `{path}`: select a resource as [Kind/namespace/name] or by its index"
            ));
        };
        let found: Vec<String> = resources
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, r)| id(r).is_some_and(|(k, n, m)| k == *kind && n == *ns && m == *name))
            .map(|(i, _)| format!("policy.resources[{i}]{tail}"))
            .collect();
        if found.is_empty() {
            return Err(format!("no resource {kind} {ns}/{name} in policy.resources ({})", listing(resources)));
        }
        return Ok(found);
    }
    let segs = parse_path(path)?;
    let key = |i: usize| match segs.get(i) {
        Some(Segment::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    if key(0) != Some("policy") || resources.is_none() {
        return Ok(vec![path.to_string()]);
    }
    let tail_from = |n: usize| -> String {
        let rest = display_prefix(&segs[n..]);
        if rest.is_empty() { String::new() } else { format!(".{rest}") }
    };
    let matching = |kind: &str, name: Option<&str>| -> Vec<usize> {
        resources
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, r)| id(r).is_some_and(|(k, _, m)| k == kind && name.is_none_or(|n| n == m)))
            .map(|(i, _)| i)
            .collect()
    };
    for (short, kind) in SHORT_FORMS {
        if key(1) == Some(short) && get_path(root, &format!("policy.{short}")).is_none() {
            let found = matching(kind, None);
            return match found.as_slice() {
                [] => Ok(vec![path.to_string()]),
                [i] => Ok(vec![format!("policy.resources[{i}].spec{}", tail_from(2))]),
                _ => Err(format!(
                    "`policy.{short}` is ambiguous: the manifests hold {} {kind}s; name one as \
                     policy.resources[{kind}/namespace/name] ({})",
                    found.len(),
                    listing(resources)
                )),
            };
        }
    }
    if let (Some("gateways"), Some(name)) = (key(1), key(2))
        && get_path(root, &format!("policy.gateways.{name}")).is_none()
    {
        let found = matching("Gateway", Some(name));
        if let [i] = found.as_slice() {
            return Ok(vec![format!("policy.resources[{i}].spec{}", tail_from(3))]);
        }
    }
    Ok(vec![path.to_string()])
}

fn listing(resources: Option<&Vec<Value>>) -> String {
    let ids: Vec<String> = resources
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_table())
        .map(|t| {
            let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            format!("{}/{}/{}", s("kind"), s("namespace"), s("name"))
        })
        .collect();
    if ids.is_empty() { "there are none".into() } else { format!("they are: {}", ids.join(", ")) }
}

/// [`set_path`] at every path `path` addresses ([`resolve`]).
pub fn set(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    for p in resolve(root, path)? {
        set_path(root, &p, value.clone())?;
    }
    Ok(())
}

/// [`get_path`] at the first path `path` addresses ([`resolve`]).
pub fn get<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let p = resolve(root, path).ok()?.into_iter().next()?;
    get_path(root, &p)
}

fn display_prefix(segs: &[Segment]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Segment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Value {
        Value::Table(text.parse::<toml::Table>().unwrap())
    }

    #[test]
    fn paths_accept_dots_and_brackets() {
        let want = vec![Segment::Key("faults".into()), Segment::Index(1), Segment::Key("at".into())];
        assert_eq!(parse_path("faults.1.at").unwrap(), want);
        assert_eq!(parse_path("faults[1].at").unwrap(), want);
        assert!(parse_path("a..b").is_err());
        assert!(parse_path("a[x]").is_err());
    }

    #[test]
    fn values_are_toml_or_strings() {
        assert_eq!(parse_value("5"), Value::Integer(5));
        assert_eq!(parse_value("0.5"), Value::Float(0.5));
        assert_eq!(parse_value("true"), Value::Boolean(true));
        assert_eq!(parse_value("30s"), Value::String("30s".into()));
        assert_eq!(parse_value("\"x y\""), Value::String("x y".into()));
    }

    #[test]
    fn set_creates_tables_and_replaces_elements() {
        let mut t = tree("[a]\nb = 1\n[[f]]\nat = \"1s\"\n[[f]]\nat = \"2s\"\n");
        set_path(&mut t, "a.c.d", Value::Integer(3)).unwrap();
        set_path(&mut t, "f[1].at", Value::String("9s".into())).unwrap();
        assert_eq!(get_path(&t, "a.c.d"), Some(&Value::Integer(3)));
        assert_eq!(get_path(&t, "f.1.at"), Some(&Value::String("9s".into())));
        let err = set_path(&mut t, "f[5].at", Value::Integer(1)).unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        let err = set_path(&mut t, "a.b.x", Value::Integer(1)).unwrap_err();
        assert!(err.contains("`a.b` is not a table"), "{err}");
    }

    #[test]
    fn resources_are_addressed_by_name_and_the_only_one_by_its_short_form() {
        let text = "[[policy.resources]]\nkind = \"DestinationRule\"\nnamespace = \"shop\"\nname = \"reviews\"\n\
                    spec = { host = \"reviews\" }\n[[policy.resources]]\nkind = \"Gateway\"\nnamespace = \"shop\"\n\
                    name = \"public\"\nspec = {}\n";
        let mut t = tree(text);
        set(&mut t, "policy.destination_rule.trafficPolicy.tls.mode", Value::String("X".into())).unwrap();
        set(&mut t, "policy.resources[DestinationRule/shop/reviews].spec.host", Value::String("r2".into())).unwrap();
        set(&mut t, "policy.gateways.public.selector.istio", Value::String("ingress".into())).unwrap();
        assert_eq!(get(&t, "policy.resources[0].spec.trafficPolicy.tls.mode"), Some(&Value::String("X".into())));
        assert_eq!(get(&t, "policy.destination_rule.host"), Some(&Value::String("r2".into())));
        assert_eq!(get(&t, "policy.resources[1].spec.selector.istio"), Some(&Value::String("ingress".into())));
        let e = set(&mut t, "policy.resources[DestinationRule/shop/ratings].spec.host", Value::Integer(1)).unwrap_err();
        assert!(
            e.contains("no resource DestinationRule shop/ratings") && e.contains("DestinationRule/shop/reviews"),
            "{e}"
        );
        // A second DestinationRule makes the short form ambiguous.
        let mut two = tree(&format!(
            "{text}[[policy.resources]]\nkind = \"DestinationRule\"\nnamespace = \"a\"\nname = \"b\"\nspec = {{}}\n"
        ));
        let e = set(&mut two, "policy.destination_rule.host", Value::Integer(1)).unwrap_err();
        assert!(e.contains("ambiguous") && e.contains("DestinationRule/a/b"), "{e}");
        // Without resources, or with an inline rule, the short form is the inline key.
        let mut plain = tree("[policy.destination_rule]\nhost = \"x\"\n");
        set(&mut plain, "policy.destination_rule.host", Value::String("y".into())).unwrap();
        assert_eq!(get_path(&plain, "policy.destination_rule.host"), Some(&Value::String("y".into())));
    }

    #[test]
    fn merge_overlays_tables() {
        let mut base = tree("[p]\nx = 1\ny = 2\n");
        deep_merge(&mut base, tree("[p]\ny = 3\nz = 4\n"));
        assert_eq!(base, tree("[p]\nx = 1\ny = 3\nz = 4\n"));
    }
}
