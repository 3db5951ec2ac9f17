//! Localities and the one-way latency between them.

use crate::engine::time::nanos_from_f64;
use crate::engine::{SimDuration, SimRng};
use crate::envoy::config::Locality;
use crate::model::ids::{KubeClusterId, LocalityId};
use crate::scenario::{LocalitySelector, NetworkSpec, Scenario};

/// Every locality of the run, with the latency matrix between them.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Localities, sorted by (region, zone, sub-zone); `LocalityId` indexes this.
    pub localities: Vec<Locality>,
    /// Locality of each Kubernetes cluster.
    pub cluster_locality: Vec<LocalityId>,
    /// One-way latency in ns, `[from * n + to]`.
    latency_ns: Vec<u64>,
    /// Jitter as a fraction of the latency.
    jitter: f64,
}

impl Topology {
    /// Builds the locality list and latency matrix of a scenario.
    pub fn new(scenario: &Scenario) -> Topology {
        let mut localities: Vec<Locality> = scenario.kube_clusters.iter().map(|c| c.locality.clone()).collect();
        localities.sort();
        localities.dedup();
        let cluster_locality = scenario
            .kube_clusters
            .iter()
            .map(|c| LocalityId(localities.binary_search(&c.locality).expect("listed") as u32))
            .collect();
        let n = localities.len();
        let mut latency_ns = vec![0; n * n];
        for (i, a) in localities.iter().enumerate() {
            for (j, b) in localities.iter().enumerate() {
                latency_ns[i * n + j] = default_latency(&scenario.network, a, b).as_nanos();
            }
        }
        let mut topo = Topology { localities, cluster_locality, latency_ns, jitter: scenario.network.jitter };
        for o in &scenario.network.overrides {
            for i in 0..n {
                for j in 0..n {
                    let (a, b) = (LocalityId(i as u32), LocalityId(j as u32));
                    let hit = (topo.selects(scenario, &o.from, a) && topo.selects(scenario, &o.to, b))
                        || (topo.selects(scenario, &o.from, b) && topo.selects(scenario, &o.to, a));
                    if hit {
                        topo.latency_ns[i * n + j] = o.latency.as_nanos();
                    }
                }
            }
        }
        topo
    }

    fn selects(&self, scenario: &Scenario, sel: &LocalitySelector, loc: LocalityId) -> bool {
        match sel {
            LocalitySelector::Cluster(c) => self.cluster_locality[c.idx()] == loc,
            LocalitySelector::Region { region, zone } => {
                let l = &self.localities[loc.idx()];
                let _ = scenario;
                &l.region == region && zone.as_ref().is_none_or(|z| &l.zone == z)
            }
        }
    }

    /// The locality of a Kubernetes cluster.
    pub fn locality_of(&self, cluster: KubeClusterId) -> LocalityId {
        self.cluster_locality[cluster.idx()]
    }

    /// Looks a locality up by value.
    pub fn locality_id(&self, loc: &Locality) -> Option<LocalityId> {
        self.localities.binary_search(loc).ok().map(|i| LocalityId(i as u32))
    }

    /// Base one-way latency between two localities.
    pub fn base_latency(&self, from: LocalityId, to: LocalityId) -> SimDuration {
        SimDuration(self.latency_ns[from.idx() * self.localities.len() + to.idx()])
    }

    /// One-way latency of one trip: the base plus uniform jitter in `[0, jitter × base)`.
    #[inline]
    pub fn sample_latency(&self, from: LocalityId, to: LocalityId, rng: &mut SimRng) -> SimDuration {
        let base = self.latency_ns[from.idx() * self.localities.len() + to.idx()];
        if self.jitter <= 0.0 || base == 0 {
            return SimDuration(base);
        }
        SimDuration(base + nanos_from_f64(rng.unit() * self.jitter * base as f64))
    }
}

fn default_latency(net: &NetworkSpec, a: &Locality, b: &Locality) -> SimDuration {
    if a.region != b.region {
        net.cross_region
    } else if a.zone == b.zone && a.sub_zone == b.sub_zone {
        net.same_zone
    } else {
        net.same_region
    }
}
