//! The control plane and the fault timeline: pod lifecycle (scale, ready, terminate), injected
//! behaviour, and istiod's EDS pushes that turn the set of ready pods into each proxy's hosts.

use std::cmp::Reverse;

use crate::engine::{Scheduler, SimTime};
use crate::metrics::recorder::LogKind;
use crate::model::event::Event;
use crate::model::ids::{EndpointId, ProxyId};
use crate::model::pod::{Behavior, Pod, PodScript, PodState};
use crate::model::proxy::ClusterIdx;
use crate::model::world::World;
use crate::scenario::FaultAction;

impl World {
    /// Creates a pod of deployment `d`, starting or already ready.
    pub fn create_pod(&mut self, d: usize, ready: bool) -> EndpointId {
        let id = EndpointId(self.pods.len() as u32);
        let (cluster, host) = (self.scenario.service.deployments[d].cluster, self.scenario.service.deployments[d].host);
        let ordinal = self.next_ordinal[d];
        self.next_ordinal[d] += 1;
        self.pods.push(Pod {
            deployment: d as u32,
            ordinal,
            cluster,
            locality: self.topo.locality_of(cluster),
            state: if ready { PodState::Ready } else { PodState::Starting },
            behavior: Behavior::default(),
            busy: 0,
            queue: Default::default(),
            gateway: None,
            script: None,
            per_connection: false,
            host,
        });
        self.deployments[d].push(id);
        for p in &mut self.proxies {
            p.ensure_hosts(self.pods.len());
        }
        id
    }

    /// Notes that pod behaviour changes at `at` (so requests arriving after it are decided late).
    fn expect_change(&mut self, at: SimTime) {
        self.changes.push(Reverse(at));
    }

    fn consume_changes(&mut self, now: SimTime) {
        while self.changes.peek().is_some_and(|Reverse(t)| *t <= now) {
            self.changes.pop();
        }
    }

    pub(crate) fn on_fault(&mut self, idx: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        self.consume_changes(now);
        let fault = self.scenario.faults[idx as usize].clone();
        self.rec.log(now, LogKind::Fault { index: idx });
        let d = fault.deployment;
        if let FaultAction::Scale { replicas } = fault.action {
            self.scale(d, replicas as usize, sched);
            return;
        }
        let targets: Vec<EndpointId> = match &fault.pods {
            None => self.deployments[d].clone(),
            Some(ordinals) => {
                self.deployments[d].iter().copied().filter(|e| ordinals.contains(&self.pods[e.idx()].ordinal)).collect()
            }
        };
        for e in targets {
            let pod = &mut self.pods[e.idx()];
            let b = &mut pod.behavior;
            match &fault.action {
                FaultAction::HttpError { status, probability } => {
                    b.error_status = *status;
                    b.error_probability = *probability;
                }
                FaultAction::Script { steps, then } => {
                    // The script decides every answer: earlier error, refuse and black-hole
                    // faults end; added latency stays.
                    (b.error_status, b.error_probability, b.refuse, b.blackhole) = (0, 0.0, false, false);
                    pod.script = Some(Box::new(PodScript { steps: steps.as_slice().into(), next: 0, then: *then }));
                }
                FaultAction::Refuse => b.refuse = true,
                FaultAction::Blackhole => b.blackhole = true,
                FaultAction::Latency { extra } => b.extra_latency = *extra,
                FaultAction::Recover => {
                    *b = Behavior::default();
                    pod.script = None;
                }
                FaultAction::Scale { .. } => unreachable!("handled above"),
            }
            if fault.starts_phase && fault.action != FaultAction::Recover {
                pod.behavior.failing = true;
            }
        }
    }

    /// Scales deployment `d` to `n` pods: new pods start (ready after the readiness delay), the
    /// newest pods beyond `n` terminate (out of EDS at the next push, serving until their grace
    /// period ends). Each change triggers an EDS push.
    fn scale(&mut self, d: usize, n: usize, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let current = self.deployments[d].len();
        if n > current {
            let ready_delay = self.scenario.readiness_delay_of(self.scenario.service.deployments[d].host as usize);
            for _ in current..n {
                let id = self.create_pod(d, false);
                sched.schedule(ready_delay, Event::PodReady { endpoint: id });
                self.expect_change(now + ready_delay);
            }
        } else {
            let grace = self.scenario.termination_grace_of(self.scenario.service.deployments[d].host as usize);
            for id in self.deployments[d].split_off(n) {
                self.pods[id.idx()].state = PodState::Terminating;
                sched.schedule(grace, Event::PodGone { endpoint: id });
                self.expect_change(now + grace);
            }
        }
        self.request_push(sched);
    }

    pub(crate) fn on_pod_ready(&mut self, id: EndpointId, sched: &mut Scheduler<Event>) {
        self.consume_changes(sched.now());
        let pod = &mut self.pods[id.idx()];
        if pod.state == PodState::Starting {
            pod.state = PodState::Ready;
            self.request_push(sched);
        }
    }

    pub(crate) fn on_pod_gone(&mut self, id: EndpointId) {
        self.pods[id.idx()].state = PodState::Gone;
    }

    /// Schedules an EDS push unless one is already pending (istiod's debounce).
    fn request_push(&mut self, sched: &mut Scheduler<Event>) {
        if !self.push_pending {
            self.push_pending = true;
            sched.schedule(self.scenario.mesh.eds_push_delay, Event::EdsPush);
        }
    }

    pub(crate) fn on_eds_push(&mut self, now: SimTime) {
        self.push_pending = false;
        self.push_endpoints(now, true);
    }

    /// Recomputes the endpoint assignment of every cluster of every proxy from the pods istiod
    /// sees now.
    pub fn push_endpoints(&mut self, now: SimTime, log: bool) {
        let n_clusters: u64 = self.proxies.iter().map(|p| p.clusters.len() as u64).sum();
        self.add_work(n_clusters.saturating_mul(self.pods.len() as u64 + 1));
        if self.limit_reached.is_some() {
            return;
        }
        let endpoints = self.istio_endpoints();
        // istiod computes a proxy's assignment from its identity and the DestinationRule it
        // gets: replicas of one group (same locality, network, cluster, labels and rule) get the
        // same ones, computed once.
        let mut shared: Option<(usize, Vec<crate::istio::locality::Assignment>)> = None;
        for i in 0..self.proxies.len() {
            let same_as_previous = shared.as_ref().is_some_and(|(j, _)| {
                let cp = &self.control;
                cp.metas[*j] == cp.metas[i]
                    && cp.is_ew_gateway[*j] == cp.is_ew_gateway[i]
                    && cp.lb_of[*j] == cp.lb_of[i]
            });
            if !same_as_previous {
                let n = self.proxies[i].clusters.len() as ClusterIdx;
                let all = (0..n).map(|c| self.assignment_for(ProxyId(i as u32), c, &endpoints)).collect();
                shared = Some((i, all));
            }
            let assignments = &shared.as_ref().expect("computed above").1;
            for (c, assignment) in assignments.iter().enumerate() {
                let cluster = c as ClusterIdx;
                let p = &mut self.proxies[i];
                let change = p.apply_assignment(cluster, now, assignment, &self.topo, &self.pods);
                let hosts = assignment.priorities.iter().flatten().map(|g| g.endpoints.len() as u32).sum();
                let priorities = assignment.priorities.len() as u32;
                for &(endpoint, locality) in &change.removed_ejected {
                    self.rec.ejection_change(now, (ProxyId(i as u32), cluster), endpoint, locality, -1);
                }
                let (added, removed) = (change.added, change.removed);
                if log && (added > 0 || removed > 0) {
                    let proxy = ProxyId(i as u32);
                    self.rec.log(now, LogKind::Eds { proxy, cluster, added, removed, hosts, priorities });
                }
                self.log_panic(ProxyId(i as u32), c, now);
            }
        }
    }
}

impl Pod {
    /// Whether istiod lists this pod in EDS, and if so whether as ready.
    pub fn eds_status(&self) -> Option<bool> {
        match self.state {
            PodState::Ready => Some(true),
            PodState::Starting => Some(false),
            PodState::Terminating | PodState::Gone => None,
        }
    }
}
