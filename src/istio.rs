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
pub mod route;
pub mod select;
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
    /// A file could not be read as Kubernetes objects, or an Istio resource in it could not be
    /// typed: bad YAML, not a Kubernetes object, an unknown or misspelled field, a wrong type, an
    /// unsupported `apiVersion`. Names the file, the document, the resource and the field.
    #[error(transparent)]
    Parse(crate::kube::ReadError),
    /// A manifest parsed but breaks Istio's validation rules.
    #[error("invalid {kind}: {}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// `DestinationRule` or `VirtualService`.
        kind: &'static str,
        /// Every invalid field, in document order.
        errors: Vec<FieldError>,
    },
}

impl From<crate::kube::ReadError> for IstioError {
    fn from(e: crate::kube::ReadError) -> IstioError {
        IstioError::Parse(e)
    }
}

impl IstioError {
    /// The error without the file name (for callers that print the file themselves), with a
    /// "did you mean" for a misspelled field.
    pub fn detail(&self) -> String {
        match self {
            IstioError::Parse(e) => {
                let with = crate::kube::ReadError { message: crate::suggest::with_suggestion(&e.message), ..e.clone() };
                let text = with.to_string();
                text.strip_prefix(e.origin.file.as_str())
                    .and_then(|t| t.strip_prefix(": "))
                    .map(str::to_string)
                    .unwrap_or(text)
            }
            IstioError::Invalid { .. } => self.to_string(),
        }
    }
}
