//! meshsim: a deterministic discrete-event simulator of Istio/Envoy multi-cluster locality
//! failover.

pub mod engine;
pub mod envoy;
pub mod istio;
pub mod model;
pub mod plot;
