//! Istio's configuration (DestinationRule, VirtualService, Gateway) and pilot's translation of
//! it into Envoy cluster settings and per-proxy endpoint assignments.
//!
//! * [`manifest`]: the manifests as users write them, and the strict YAML loader;
//! * [`validate`]: Istio's admission validation (`pkg/config/validation`);
//! * [`translate`]: DestinationRule → [`crate::envoy::config::ClusterConfig`], VirtualService →
//!   [`crate::envoy::config::RouteConfig`], and the version knobs in [`translate::MeshSettings`];
//! * [`locality`]: per-proxy endpoint assignment (priorities, locality weights, multi-network).
//!
//! Everything here is pure: no I/O, no clock, no randomness.

pub mod duration;
pub mod host;
pub mod lb_policy;
pub mod locality;
pub mod manifest;
pub mod translate;
pub mod validate;

#[cfg(test)]
mod tests;

use std::fmt;

/// One invalid field found by validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path from the spec root, e.g.
    /// `trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Errors of the Istio boundary: manifest parsing and validation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IstioError {
    /// A YAML document could not be parsed into a supported manifest: bad YAML, an unknown or
    /// misspelled field, a wrong type, an unsupported `kind` or `apiVersion`.
    #[error("{file}: document {doc_idx}: {}{message}{}",
        path.as_ref().map(|p| format!("{p}: ")).unwrap_or_default(),
        line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Parse {
        /// The file label given to the loader.
        file: String,
        /// 0-based index of the YAML document in the file.
        doc_idx: usize,
        /// Field path where serde reports one, e.g. `spec.trafficPolicy`.
        path: Option<String>,
        /// 1-based line in the file, where known.
        line: Option<usize>,
        /// The error without path and location.
        message: String,
    },
    /// A manifest parsed but breaks Istio's validation rules.
    #[error("invalid {kind}: {}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// `DestinationRule` or `VirtualService`.
        kind: &'static str,
        /// Every invalid field, in document order.
        errors: Vec<FieldError>,
    },
}

impl IstioError {
    /// The error without the file name (for callers that print the file themselves), with a
    /// "did you mean" for a misspelled field.
    pub fn detail(&self) -> String {
        match self {
            IstioError::Parse { doc_idx, path, line, message, .. } => format!(
                "document {doc_idx}: {}{}{}",
                path.as_ref().map(|p| format!("{p}: ")).unwrap_or_default(),
                crate::suggest::with_suggestion(message),
                line.map(|l| format!(" (line {l})")).unwrap_or_default()
            ),
            other => other.to_string(),
        }
    }

    /// Builds a [`IstioError::Parse`] from a serde_yaml_ng error, splitting off the field path
    /// (`"spec.trafficPolicy: unknown field ..."`) and the location suffix.
    pub(crate) fn from_yaml(file: &str, doc_idx: usize, e: &serde_yaml_ng::Error) -> IstioError {
        let line = e.location().map(|l| l.line());
        let mut text = e.to_string();
        if let Some(l) = e.location() {
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(stripped) = text.strip_suffix(&suffix) {
                text = stripped.to_string();
            }
        }
        let (path, message) = split_path(&text);
        IstioError::Parse { file: file.to_string(), doc_idx, path, line, message }
    }
}

/// Splits `"a.b[0].c: message"` into the path and the message. A path has no spaces.
fn split_path(text: &str) -> (Option<String>, String) {
    if let Some((head, rest)) = text.split_once(": ") {
        let looks_like_path = !head.is_empty()
            && !head.contains(' ')
            && head.chars().all(|c| c.is_ascii_alphanumeric() || "._[]-".contains(c));
        if looks_like_path {
            return (Some(head.to_string()), rest.to_string());
        }
    }
    (None, text.to_string())
}
