//! Typed indices into the model's arenas. Every id is a dense `u32` index into a `Vec`.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            /// The id as a `Vec` index.
            #[inline]
            pub fn idx(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A Kubernetes cluster (never an Envoy cluster).
    KubeClusterId
);
id_type!(
    /// A locality: region, zone and sub-zone.
    LocalityId
);
id_type!(
    /// One upstream host address (`ip:port`). A pod that is recreated gets a new id, as it gets
    /// a new address in Kubernetes, so Envoy sees a new host with fresh outlier state.
    EndpointId
);
id_type!(
    /// One client-side Envoy: a gateway replica or a sidecar.
    ProxyId
);
id_type!(
    /// A group of proxies that share a configuration (the ingress gateway's replicas).
    ProxyGroupId
);
