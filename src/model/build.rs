//! Building a world from a scenario, and running it.

use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::engine::{SimError, SimRng, SimTime, Simulation};
use crate::envoy::lb::ClusterLb;
use crate::envoy::outlier::OutlierDetector;
use crate::istio::locality::{AssignOptions, Assignment, IstioEndpoint, ProxyMeta};
use crate::istio::manifest::TrafficPolicy;
use crate::istio::translate::{cluster_config, effective_lb_setting, route_config, sends_unhealthy_endpoints};
use crate::metrics::recorder::Recorder;
use crate::model::event::Event;
use crate::model::ids::{ProxyGroupId, ProxyId};
use crate::model::proxy::Proxy;
use crate::model::request::RequestSlab;
use crate::model::topology::Topology;
use crate::model::world::{Stream, World};
use crate::scenario::{ProxyKind, Scenario};

/// What the control plane derives once from the policy for every push.
#[derive(Clone, Debug)]
pub struct ControlPlane {
    /// The locality setting in force.
    pub lb_setting: crate::istio::translate::EffectiveLbSetting,
    /// The DR has outlierDetection, so failover priorities apply.
    pub enable_failover: bool,
    /// Unready endpoints are sent as UNHEALTHY.
    pub send_unhealthy: bool,
    /// Proxy identities as istiod sees them, per proxy.
    pub metas: Vec<ProxyMeta>,
}

/// The outcome of one run: the world as it ended, with all its recordings.
pub struct RunOutput {
    /// The final state (recorder, proxies, pods).
    pub world: World,
    /// Events processed.
    pub events: u64,
}

/// The traffic policy of the scenario's DestinationRule, if any.
pub fn traffic_policy(s: &Scenario) -> Option<&TrafficPolicy> {
    s.destination_rule.as_ref().and_then(|dr| dr.traffic_policy.as_ref())
}

/// Builds the world at time zero and the events that start it.
pub fn build(scenario: Arc<Scenario>, seed: u64) -> (World, Vec<(SimTime, Event)>) {
    let root = SimRng::new(seed);
    let topo = Topology::new(&scenario);
    let mesh = &scenario.mesh.settings;
    let tp = traffic_policy(&scenario);
    let cluster = cluster_config(tp, mesh);
    let mut proxies = Vec::new();
    let mut metas = Vec::new();
    for (g, group) in scenario.proxy_groups.iter().enumerate() {
        let route = route_config(route_for(&scenario, group.kind, group.gateway.as_deref()), mesh);
        let kc = &scenario.kube_clusters[group.cluster.idx()];
        for r in 0..group.replicas {
            let idx = proxies.len() as u64;
            let mut rng = root.fork_indexed("proxy", idx);
            let lb = ClusterLb::new(cluster.lb.clone(), &mut rng);
            proxies.push(Proxy {
                name: format!("{}-{r}", group.name),
                group: ProxyGroupId(g as u32),
                kube_cluster: group.cluster,
                locality: topo.locality_of(group.cluster),
                cluster: cluster.clone(),
                route: route.clone(),
                outlier: cluster.outlier.clone().map(OutlierDetector::new),
                lb,
                hosts: Vec::new(),
                active: Vec::new(),
                in_flight: 0,
                retries_active: 0,
                rng,
                n_ejected: 0,
                panic: false,
            });
            metas.push(ProxyMeta {
                locality: kc.locality.clone(),
                network: kc.network.clone(),
                cluster: kc.name.clone(),
                labels: Default::default(),
            });
        }
    }
    let control = ControlPlane {
        lb_setting: effective_lb_setting(tp, mesh),
        enable_failover: tp.is_some_and(|t| t.outlier_detection.is_some()),
        send_unhealthy: sends_unhealthy_endpoints(tp, mesh),
        metas,
    };
    let mut first_proxy = vec![0u32; scenario.proxy_groups.len()];
    let mut acc = 0;
    for (g, group) in scenario.proxy_groups.iter().enumerate() {
        first_proxy[g] = acc;
        acc += group.replicas;
    }
    let streams = scenario
        .workload
        .iter()
        .map(|w| Stream {
            first_proxy: first_proxy[w.group.idx()],
            n_proxies: scenario.proxy_groups[w.group.idx()].replicas,
            rate: w.rate,
            changes: w.changes.clone(),
            epoch: 0,
        })
        .collect::<Vec<_>>();
    let rec = Recorder::new(scenario.duration, scenario.bucket, topo.localities.len());
    let n_deployments = scenario.service.deployments.len();
    let mut world = World {
        scenario: scenario.clone(),
        topo,
        pods: Vec::new(),
        deployments: vec![Vec::new(); n_deployments],
        next_ordinal: vec![0; n_deployments],
        proxies,
        streams,
        requests: RequestSlab::default(),
        rec,
        changes: BinaryHeap::new(),
        push_pending: false,
        rng_workload: root.fork("workload"),
        rng_network: root.fork("network"),
        rng_service: root.fork("service"),
        scratch: Vec::with_capacity(8),
        service_time: scenario.service.service_time.clone(),
        prev_prio: Vec::new(),
        control,
    };
    for (d, dep) in scenario.service.deployments.iter().enumerate() {
        for _ in 0..dep.replicas {
            world.create_pod(d, true);
        }
    }
    world.push_endpoints(SimTime::ZERO, false);
    let mut init = Vec::new();
    for (i, s) in world.streams.iter().enumerate() {
        init.push((SimTime::ZERO, Event::RateChange { stream: i as u32, change: u32::MAX }));
        for (c, (at, _)) in s.changes.iter().enumerate() {
            init.push((*at, Event::RateChange { stream: i as u32, change: c as u32 }));
        }
    }
    for (i, f) in scenario.faults.iter().enumerate() {
        init.push((f.at, Event::Fault { idx: i as u32 }));
        world.changes.push(std::cmp::Reverse(f.at));
    }
    for (i, p) in scenario.phases.iter().enumerate() {
        init.push((p.start, Event::PhaseStart { phase: i as u32 }));
    }
    for i in 0..world.proxies.len() {
        if let Some(t) = world.proxies[i].first_tick() {
            init.push((t, Event::OutlierTick { proxy: ProxyId(i as u32) }));
        }
    }
    (world, init)
}

/// The VirtualService route that applies to a proxy: a VS bound to gateways applies to those
/// gateways only; it applies to sidecars when `gateways` is empty or lists `mesh`. The first
/// HTTP route is used (meshsim's clients send one kind of request).
fn route_for<'a>(
    s: &'a Scenario,
    kind: ProxyKind,
    gateway: Option<&str>,
) -> Option<&'a crate::istio::manifest::HttpRoute> {
    let vs = s.virtual_service.as_ref()?;
    let gateways: &[String] = vs.gateways.as_deref().unwrap_or(&[]);
    let applies = match kind {
        ProxyKind::Gateway => gateway.is_some_and(|g| gateways.iter().any(|x| x == g || x.ends_with(&format!("/{g}")))),
        ProxyKind::Sidecar => gateways.is_empty() || gateways.iter().any(|x| x == "mesh"),
    };
    if !applies {
        return None;
    }
    vs.http.as_ref()?.first()
}

/// Runs a scenario with a seed to its end.
pub fn run(scenario: Arc<Scenario>, seed: u64) -> Result<RunOutput, SimError> {
    let end = scenario.end();
    let (max_events, max_pending) = (scenario.max_events, scenario.max_in_flight as usize * 4 + 1024);
    let (world, init) = build(scenario, seed);
    let mut sim = Simulation::new(world, max_events, max_pending);
    for (t, e) in init {
        sim.schedule_at(t, e);
    }
    sim.run_until(end)?;
    let events = sim.events_processed();
    Ok(RunOutput { world: sim.model, events })
}

impl World {
    /// The endpoints istiod knows now: ready and starting pods (terminating pods are dropped).
    pub fn istio_endpoints(&self) -> Vec<IstioEndpoint> {
        let mut out = Vec::new();
        for (i, pod) in self.pods.iter().enumerate() {
            let Some(ready) = pod.eds_status() else { continue };
            let kc = &self.scenario.kube_clusters[pod.cluster.idx()];
            out.push(IstioEndpoint {
                id: crate::model::ids::EndpointId(i as u32),
                locality: kc.locality.clone(),
                network: kc.network.clone(),
                cluster: kc.name.clone(),
                labels: Default::default(),
                weight: 1,
                ready,
            });
        }
        out
    }

    /// The assignment istiod computes for one proxy.
    pub fn assignment_for(&self, proxy: ProxyId, endpoints: &[IstioEndpoint]) -> Assignment {
        let cp = &self.control;
        let opts = AssignOptions {
            setting: cp.lb_setting.setting.as_ref(),
            enable_failover: cp.enable_failover,
            send_unhealthy: cp.send_unhealthy,
            locality_weighted_flag: self.scenario.mesh.settings.enable_locality_weighted_lb_config,
            gateways: &[],
        };
        crate::istio::locality::assign_endpoints(&cp.metas[proxy.idx()], endpoints, &opts)
    }
}
