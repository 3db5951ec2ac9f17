//! `hosts.csv`: each proxy's attempts to each host, per phase and per Envoy cluster of the proxy
//! (the default cluster and one per DestinationRule subset), by how they ended. The counts are
//! kept per cluster while a phase is under way (`Cluster::counts`) and moved into the recorder
//! when the next phase starts.

use serde::Serialize;

use crate::metrics::recorder::{HostCounts, HostKey};
use crate::model::ids::{EndpointId, ProxyId};
use crate::model::proxy::ClusterIdx;
use crate::model::world::World;

/// One row of `hosts.csv`: one proxy's attempts to one host through one of its clusters in one
/// phase.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct HostRow {
    /// The phase's name.
    pub phase: String,
    /// The proxy (a client replica, or an east-west gateway replica forwarding to its pods).
    pub proxy: String,
    /// The proxy's Envoy cluster the attempts went through, as Envoy names it
    /// (`outbound|80|v1|HOST`; `events.jsonl`'s `cluster_name`).
    pub cluster: String,
    /// The host, `cluster/ordinal`.
    pub endpoint: String,
    /// The host's locality.
    pub locality: String,
    /// Attempts sent in the phase (retries included).
    pub attempts: u64,
    /// Of which retries.
    pub retries: u64,
    /// Attempts answered 1xx (ended in the phase, as are the columns below).
    pub status_1xx: u64,
    /// … answered 2xx.
    pub status_2xx: u64,
    /// … answered 3xx.
    pub status_3xx: u64,
    /// … answered 4xx (a success for outlier detection).
    pub status_4xx: u64,
    /// … answered 5xx.
    pub status_5xx: u64,
    /// … whose connection was refused or reset, or did not open in time.
    pub connect_failure: u64,
    /// … ended by a per-try or route timeout.
    pub timeout: u64,
}

/// Every non-empty `((phase index, proxy, cluster, host), counts)` of a run, in phase, proxy,
/// cluster and host order: the closed phases from the recorder, then the phase under way from
/// the proxies' clusters.
pub fn host_counts(world: &World) -> impl Iterator<Item = (HostKey, HostCounts)> + '_ {
    let phase = world.rec.phase;
    let current = world.proxies.iter().enumerate().flat_map(move |(p, proxy)| {
        proxy.clusters.iter().enumerate().flat_map(move |(ci, cluster)| {
            cluster
                .counts
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.is_empty())
                .map(move |(h, c)| ((phase, ProxyId(p as u32), ci as ClusterIdx, EndpointId(h as u32)), *c))
        })
    });
    world.rec.host_counts.iter().copied().chain(current)
}

/// Every non-empty (phase, proxy, cluster, host) count of a run, in that order.
pub fn host_rows(world: &World) -> Vec<HostRow> {
    let s = &world.scenario;
    host_counts(world)
        .map(|((phase, proxy, cluster, host), c)| HostRow {
            phase: s.phases.get(phase as usize).map_or_else(String::new, |p| p.name.clone()),
            proxy: world.proxies[proxy.idx()].name.clone(),
            cluster: world.proxies[proxy.idx()].clusters[cluster as usize].name.clone(),
            endpoint: crate::output::endpoint_name(world, host),
            locality: world.topo.localities[world.pods[host.idx()].locality.idx()].to_string(),
            attempts: c.attempts,
            retries: c.retries,
            status_1xx: c.status[0],
            status_2xx: c.status[1],
            status_3xx: c.status[2],
            status_4xx: c.status[3],
            status_5xx: c.status[4],
            connect_failure: c.connect_failure,
            timeout: c.timeout,
        })
        .collect()
}
