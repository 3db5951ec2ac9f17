//! Lenient typed views of the Kubernetes kinds `meshsim import` reads: Node, Namespace, Pod,
//! Service, EndpointSlice. Only the fields meshsim uses are read; everything else a real object
//! carries is ignored. A field that is present with the wrong type is an error naming the
//! object and the field (`spec.ports[0].port`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Object, ReadError};

/// Deserializes the top-level key `key` of `obj` (absent: the type's default).
pub fn part<T: DeserializeOwned + Default>(obj: &Object, key: &str) -> Result<T, ReadError> {
    let Some(v) = obj.get(key) else { return Ok(T::default()) };
    if v.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        let inner = e.path().to_string();
        ReadError {
            origin: Box::new(obj.origin.clone()),
            resource: Some(obj.id()),
            path: Some(if inner == "." { key.to_string() } else { format!("{key}.{inner}") }),
            line: None,
            message: e.into_inner().to_string(),
        }
    })
}

/// `Pod.spec`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// The node it runs on (set by the scheduler).
    #[serde(default)]
    pub node_name: String,
    /// Its containers.
    #[serde(default)]
    pub containers: Vec<Container>,
}

/// A container of a pod.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Container {
    /// Container name (`istio-proxy` for the sidecar).
    #[serde(default)]
    pub name: String,
    /// Image, e.g. `docker.io/istio/proxyv2:1.22.3`.
    #[serde(default)]
    pub image: String,
}

/// `Pod.status`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed`.
    #[serde(default)]
    pub phase: String,
    /// Conditions; `Ready` decides readiness.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

impl PodStatus {
    /// The `Ready` condition is `True`.
    pub fn ready(&self) -> bool {
        self.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
    }
}

/// A status condition.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Condition {
    /// e.g. `Ready`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: String,
}

/// `Service.spec`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Pod selector.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// Ports.
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// `ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `PreferClose`, `PreferSameZone`, `PreferSameNode`.
    #[serde(default)]
    pub traffic_distribution: Option<String>,
}

/// A Service port.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Port name; Istio reads the protocol from its prefix (`http2-web`, `grpc`).
    #[serde(default)]
    pub name: String,
    /// Port number.
    #[serde(default)]
    pub port: u32,
    /// `appProtocol`, e.g. `http2`, `grpc`, `kubernetes.io/h2c`.
    #[serde(default)]
    pub app_protocol: Option<String>,
}

/// An EndpointSlice's `endpoints[]` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Addresses.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Readiness conditions.
    #[serde(default)]
    pub conditions: EndpointConditions,
    /// The node of the pod.
    #[serde(default)]
    pub node_name: Option<String>,
    /// The zone of the pod's node.
    #[serde(default)]
    pub zone: Option<String>,
    /// The pod.
    #[serde(default)]
    pub target_ref: Option<TargetRef>,
}

/// `endpoints[].conditions`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct EndpointConditions {
    /// Ready; absent means ready (the EndpointSlice API's rule).
    #[serde(default)]
    pub ready: Option<bool>,
    /// Serving.
    #[serde(default)]
    pub serving: Option<bool>,
    /// Terminating.
    #[serde(default)]
    pub terminating: Option<bool>,
}

impl EndpointConditions {
    /// `ready` is true or unset, and the endpoint is not terminating.
    pub fn is_ready(&self) -> bool {
        self.ready != Some(false) && self.terminating != Some(true)
    }
}

/// `endpoints[].targetRef`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TargetRef {
    /// Usually `Pod`.
    #[serde(default)]
    pub kind: String,
    /// The pod's name.
    #[serde(default)]
    pub name: String,
    /// The pod's namespace.
    #[serde(default)]
    pub namespace: String,
}

/// The label an EndpointSlice carries naming its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::read_objects;

    fn one(text: &str) -> Object {
        let mut out = Vec::new();
        read_objects(text, "f.yaml", |o| {
            out.push(o);
            Ok::<(), ReadError>(())
        })
        .unwrap();
        out.remove(0)
    }

    #[test]
    fn views_read_what_they_need_and_name_a_wrong_field() {
        let pod = one(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  nodeName: n1\n  containers:\n  \
             - name: istio-proxy\n    image: docker.io/istio/proxyv2:1.22.3\n    resources: {}\nstatus:\n  phase: Running\n  \
             conditions:\n  - type: Ready\n    status: \"True\"\n",
        );
        let spec: PodSpec = part(&pod, "spec").unwrap();
        let status: PodStatus = part(&pod, "status").unwrap();
        assert_eq!(spec.node_name, "n1");
        assert_eq!(spec.containers[0].image, "docker.io/istio/proxyv2:1.22.3");
        assert!(status.ready());
        let svc = one(
            "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec:\n  ports:\n  - port: http\n",
        );
        let e = part::<ServiceSpec>(&svc, "spec").unwrap_err().to_string();
        assert!(e.starts_with("f.yaml: document 0: Service shop/s: spec.ports[0].port: invalid type"), "{e}");
    }

    #[test]
    fn an_endpoint_without_conditions_is_ready_as_the_api_says() {
        assert!(EndpointConditions::default().is_ready());
        assert!(!EndpointConditions { ready: Some(false), ..Default::default() }.is_ready());
        assert!(!EndpointConditions { terminating: Some(true), ..Default::default() }.is_ready());
    }
}
