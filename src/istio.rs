//! Istio's configuration (DestinationRule, VirtualService, Gateway) and pilot's translation of
//! it into Envoy cluster settings and per-proxy endpoint assignments.
