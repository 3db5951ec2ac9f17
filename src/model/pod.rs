//! Pods of the upstream service: their lifecycle (starting, ready, terminating, gone) and the
//! fault behaviour injected into them.

use std::collections::VecDeque;

use crate::engine::{SimDuration, SimRng};
use crate::model::event::{Outcome, ReqId};
use crate::model::ids::{KubeClusterId, LocalityId, ProxyId};
use crate::scenario::ServiceTime;

/// Where a pod is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodState {
    /// Created, not yet ready: in EDS only as UNHEALTHY (Istio 1.31) or not at all (≤ 1.30).
    Starting,
    /// Ready and serving.
    Ready,
    /// Deleted: out of EDS, still serving until its grace period ends.
    Terminating,
    /// Stopped: connections are refused.
    Gone,
}

/// Injected behaviour of a pod.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Behavior {
    /// Answer with this status (0 = none) ...
    pub error_status: u16,
    /// ... with this chance per request.
    pub error_probability: f64,
    /// Refuse connections.
    pub refuse: bool,
    /// Never answer.
    pub blackhole: bool,
    /// Extra service time.
    pub extra_latency: SimDuration,
    /// A phase-opening fault (the failure under study) set any of the above; background faults
    /// (`phase = false`, such as a 1 % error rate) do not, so ejecting a pod that only has
    /// background noise counts as a false ejection.
    pub failing: bool,
}

/// What a pod does with one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PodVerdict {
    /// Answer after this service time with this outcome.
    Answer {
        /// Time spent in the pod.
        service: SimDuration,
        /// What it answers.
        outcome: Outcome,
    },
    /// Refuse or reset the connection at once.
    Refuse,
    /// Swallow the request.
    Hang,
}

/// One pod, which is one endpoint address.
#[derive(Clone, Debug)]
pub struct Pod {
    /// Index of its deployment in the scenario.
    pub deployment: u32,
    /// Ordinal within the deployment (`cluster-a/3`).
    pub ordinal: u32,
    /// Its Kubernetes cluster.
    pub cluster: KubeClusterId,
    /// Its locality.
    pub locality: LocalityId,
    /// Lifecycle state.
    pub state: PodState,
    /// Injected faults.
    pub behavior: Behavior,
    /// Requests being served (concurrency-limited pods only).
    pub busy: u32,
    /// Requests waiting for a slot: `(request, generation, arrival order)`.
    pub queue: VecDeque<(ReqId, u32)>,
    /// Not a pod of the service but an east-west gateway replica: this address forwards to the
    /// gateway's Envoy, this proxy.
    pub gateway: Option<ProxyId>,
}

impl Pod {
    /// Whether the pod accepts connections.
    pub fn accepts(&self) -> bool {
        matches!(self.state, PodState::Ready | PodState::Terminating) && !self.behavior.refuse
    }

    /// Ready, serving, and not under the failure under study (background noise aside): an
    /// ejection of this pod is a false ejection.
    pub fn is_healthy(&self) -> bool {
        self.state == PodState::Ready && !self.behavior.failing
    }

    /// Decides what the pod does with a request arriving now.
    #[inline]
    pub fn verdict(&self, service_time: &ServiceTime, rng: &mut SimRng) -> PodVerdict {
        if !self.accepts() {
            return PodVerdict::Refuse;
        }
        let b = &self.behavior;
        if b.blackhole {
            return PodVerdict::Hang;
        }
        let service = sample_service_time(service_time, rng) + b.extra_latency;
        let status = if b.error_status != 0 && rng.chance(b.error_probability) { b.error_status } else { 200 };
        PodVerdict::Answer { service, outcome: Outcome::Status(status) }
    }
}

/// Draws one service time: exponential by the ziggurat, lognormal as `median × exp(σ·z)` with
/// `libm`'s `exp` and a standard normal `z`, each rounded down to whole nanoseconds.
#[inline]
pub fn sample_service_time(st: &ServiceTime, rng: &mut SimRng) -> SimDuration {
    match st {
        ServiceTime::Exponential { mean } => SimDuration(rng.exp_nanos(mean.as_nanos() as f64)),
        ServiceTime::Constant { value } => *value,
        ServiceTime::LogNormal { median, sigma } => {
            SimDuration::from_nanos_f64(median.as_nanos() as f64 * libm::exp(sigma * rng.standard_normal()))
        }
    }
}
