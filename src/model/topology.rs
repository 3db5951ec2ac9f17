//! Localities and the one-way latency between them.

use crate::engine::time::nanos_from_f64;
use crate::engine::{SimDuration, SimRng};
use crate::envoy::config::Locality;
use crate::model::ids::{KubeClusterId, LocalityId};
use crate::scenario::{LocalitySelector, Scenario};

/// Every locality of the run, and the one-way latency between them.
///
/// The latency of a pair is computed when asked (a comparison of region ids, then the overrides
/// from last to first), not kept in a matrix: a matrix is quadratic in the localities (16 000
/// clusters in 16 000 localities would take 2 GB), and the computed value is the same. Only a
/// run with at most [`MATRIX_MAX`] localities keeps the computed values in a matrix (at most
/// 64 KB), read by every trip instead of the rules.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Localities, sorted by (region, zone, sub-zone); `LocalityId` indexes this.
    pub localities: Vec<Locality>,
    /// Locality of each Kubernetes cluster.
    pub cluster_locality: Vec<LocalityId>,
    /// Region of each locality, as an index into the sorted distinct regions.
    region: Vec<u32>,
    /// Region and zone of each locality, as an index into the sorted distinct pairs.
    zone: Vec<u32>,
    /// Default one-way latencies in ns: same locality, same region, other region.
    same_zone_ns: u64,
    same_region_ns: u64,
    cross_region_ns: u64,
    /// Overrides in scenario order (later ones win).
    overrides: Vec<Override>,
    /// Jitter as a fraction of the latency.
    jitter: f64,
    /// With at most [`MATRIX_MAX`] localities, `base_ns` of every pair `(a, b)` at `a × n + b`
    /// (`n` the number of localities), with the same value as a float (`as f64`, exact and the
    /// same on every platform); empty otherwise.
    matrix: Vec<(u64, f64)>,
}

/// The most localities whose latencies are kept in a matrix.
pub const MATRIX_MAX: usize = 64;

/// A latency override with its ends resolved to ids.
#[derive(Debug, Clone)]
struct Override {
    from: Place,
    to: Place,
    latency_ns: u64,
}

/// One end of an override: a cluster's locality, or every locality of a region or zone.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Locality(LocalityId),
    Region(Option<u32>),
    Zone(Option<u32>),
}

impl Topology {
    /// Builds the locality list and latency rules of a scenario.
    pub fn new(scenario: &Scenario) -> Topology {
        let mut localities: Vec<Locality> = scenario.kube_clusters.iter().map(|c| c.locality.clone()).collect();
        localities.sort();
        localities.dedup();
        let cluster_locality = scenario
            .kube_clusters
            .iter()
            .map(|c| LocalityId(localities.binary_search(&c.locality).expect("listed") as u32))
            .collect();
        let mut regions: Vec<&str> = localities.iter().map(|l| l.region.as_str()).collect();
        regions.dedup(); // sorted by region already
        let mut zones: Vec<(&str, &str)> = localities.iter().map(|l| (l.region.as_str(), l.zone.as_str())).collect();
        zones.dedup();
        let region_of = |r: &str| regions.binary_search(&r).ok().map(|i| i as u32);
        let zone_of = |r: &str, z: &str| zones.binary_search(&(r, z)).ok().map(|i| i as u32);
        let region = localities.iter().map(|l| region_of(&l.region).expect("listed")).collect();
        let zone = localities.iter().map(|l| zone_of(&l.region, &l.zone).expect("listed")).collect();
        let place = |sel: &LocalitySelector| -> Place {
            match sel {
                LocalitySelector::Cluster(c) => Place::Locality(cluster_locality_of(scenario, &localities, *c)),
                LocalitySelector::Region { region, zone: None } => Place::Region(region_of(region)),
                LocalitySelector::Region { region, zone: Some(z) } => Place::Zone(zone_of(region, z)),
            }
        };
        let net = &scenario.network;
        let overrides = net
            .overrides
            .iter()
            .map(|o| Override { from: place(&o.from), to: place(&o.to), latency_ns: o.latency.as_nanos() })
            .collect();
        let mut topo = Topology {
            cluster_locality,
            region,
            zone,
            same_zone_ns: net.same_zone.as_nanos(),
            same_region_ns: net.same_region.as_nanos(),
            cross_region_ns: net.cross_region.as_nanos(),
            overrides,
            jitter: net.jitter,
            localities,
            matrix: Vec::new(),
        };
        let n = topo.localities.len();
        if n <= MATRIX_MAX {
            let ids = || (0..n as u32).map(LocalityId);
            let pairs = ids().flat_map(|a| ids().map(move |b| (a, b)));
            topo.matrix = pairs.map(|(a, b)| topo.rule_ns(a, b)).map(|ns| (ns, ns as f64)).collect();
        }
        topo
    }

    fn selects(&self, place: Place, loc: LocalityId) -> bool {
        match place {
            Place::Locality(l) => l == loc,
            Place::Region(r) => Some(self.region[loc.idx()]) == r,
            Place::Zone(z) => Some(self.zone[loc.idx()]) == z,
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

    /// Base one-way latency between two localities: the last override that covers the pair (in
    /// either direction), else by region and locality.
    #[inline]
    pub fn base_latency(&self, from: LocalityId, to: LocalityId) -> SimDuration {
        SimDuration(self.base_ns(from, to))
    }

    #[inline]
    fn base_ns(&self, a: LocalityId, b: LocalityId) -> u64 {
        self.base_pair(a, b).0
    }

    /// [`Topology::base_ns`] and the same as a float.
    #[inline(always)]
    fn base_pair(&self, a: LocalityId, b: LocalityId) -> (u64, f64) {
        if let Some(&pair) = self.matrix.get(a.idx() * self.localities.len() + b.idx()) {
            return pair;
        }
        let ns = self.rule_ns(a, b);
        (ns, ns as f64)
    }

    /// [`Topology::base_ns`] by the rules: the overrides, then the regions.
    #[inline]
    fn rule_ns(&self, a: LocalityId, b: LocalityId) -> u64 {
        // The overrides' loop lives out of line: inlined, its registers made every trip's
        // latency (two per request) save and restore six of them, overrides or not.
        if !self.overrides.is_empty()
            && let Some(ns) = self.override_ns(a, b)
        {
            return ns;
        }
        if self.region[a.idx()] != self.region[b.idx()] {
            self.cross_region_ns
        } else if a == b {
            // Localities are distinct (region, zone, sub-zone) triples: the same id is the same zone
            // and sub-zone.
            self.same_zone_ns
        } else {
            self.same_region_ns
        }
    }

    /// The latency of the last override that covers the pair (in either direction).
    #[inline(never)]
    fn override_ns(&self, a: LocalityId, b: LocalityId) -> Option<u64> {
        self.overrides.iter().rev().find_map(|o| {
            let hit = (self.selects(o.from, a) && self.selects(o.to, b))
                || (self.selects(o.from, b) && self.selects(o.to, a));
            hit.then_some(o.latency_ns)
        })
    }

    /// One-way latency of one trip: the base plus uniform jitter in `[0, jitter × base)`.
    #[inline(always)]
    pub fn sample_latency(&self, from: LocalityId, to: LocalityId, rng: &mut SimRng) -> SimDuration {
        let (base, base_f64) = self.base_pair(from, to);
        if self.jitter <= 0.0 || base == 0 {
            return SimDuration(base);
        }
        SimDuration(base + nanos_from_f64(rng.unit() * self.jitter * base_f64))
    }
}

fn cluster_locality_of(scenario: &Scenario, localities: &[Locality], c: KubeClusterId) -> LocalityId {
    let l = &scenario.kube_clusters[c.idx()].locality;
    LocalityId(localities.binary_search(l).expect("listed") as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The computed latency equals the old matrix: defaults by region/zone, then every override
    /// in order, the later winning.
    #[test]
    fn computed_latencies_follow_the_overrides_in_order() {
        let text = r#"
name = "t"
duration = "1s"
[[clusters]]
name = "a"
region = "r1"
zone = "z1"
[[clusters]]
name = "b"
region = "r1"
zone = "z2"
[[clusters]]
name = "c"
region = "r2"
zone = "z1"
[[clusters]]
name = "d"
region = "r1"
zone = "z1"
sub_zone = "s"
[network]
same_zone = "1ms"
same_region = "2ms"
cross_region = "30ms"
overrides = [
  { from = "r1", to = "r2", latency = "40ms" },
  { from = "b", to = "c", latency = "7ms" },
  { from = "r1/z1", to = "r1/z2", latency = "5ms" },
  { from = "r9", to = "r1", latency = "99ms" },
]
[service]
host = "s.default.svc.cluster.local"
deployments = [{ cluster = "a", replicas = 1 }]
[[proxies]]
name = "p"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "p"
rate = 1
"#;
        let s = crate::scenario::from_str(text, "t.toml", std::path::Path::new("."), &[]);
        let err = s.unwrap_err().to_string();
        assert!(err.contains("r9"), "an unknown region is refused: {err}");
        let text = text.replace("  { from = \"r9\", to = \"r1\", latency = \"99ms\" },\n", "");
        let s = crate::scenario::from_str(&text, "t.toml", std::path::Path::new("."), &[]).unwrap();
        let t = Topology::new(&s);
        let id = |c: u32| t.locality_of(KubeClusterId(c));
        let ms = |a: u32, b: u32| t.base_latency(id(a), id(b)).as_nanos() / 1_000_000;
        assert_eq!(ms(0, 0), 1, "same locality");
        assert_eq!(ms(0, 3), 2, "same region and zone, other sub-zone: no override pairs z1 with z1");
        assert_eq!(ms(3, 1), 5, "sub-zone s is in r1/z1, so the zone override applies");
        assert_eq!(ms(0, 1), 5, "zone override, either direction");
        assert_eq!(ms(1, 0), 5);
        assert_eq!(ms(1, 2), 7, "the cluster override is later than the region override");
        assert_eq!(ms(2, 1), 7);
        assert_eq!(ms(0, 2), 40, "region override");
        assert_eq!(ms(2, 2), 1);
        // The matrix holds what the rules say, for every pair.
        assert_eq!(t.matrix.len(), 16);
        for (a, b) in (0..4).flat_map(|a| (0..4).map(move |b| (LocalityId(a), LocalityId(b)))) {
            let ns = t.rule_ns(a, b);
            assert_eq!(t.base_pair(a, b), (ns, ns as f64), "{a:?} {b:?}");
        }
    }
}
