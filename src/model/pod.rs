//! Pods of the upstream service: their lifecycle (starting, ready, terminating, gone) and the
//! fault behaviour injected into them.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::engine::{SimDuration, SimRng};
use crate::model::event::{Outcome, ReqId};
use crate::model::ids::{EndpointId, KubeClusterId, LocalityId, ProxyId};
use crate::scenario::{ScriptStep, ScriptThen, ServiceTime};

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

/// A pod's scripted answers (a `script` fault): the next request gets `steps[next]`, and after
/// the last step `then` applies.
#[derive(Clone, Debug, PartialEq)]
pub struct PodScript {
    /// The answers, in order (shared by every pod the fault targets).
    pub steps: std::sync::Arc<[ScriptStep]>,
    /// Index of the next answer.
    pub next: usize,
    /// What follows the last answer.
    pub then: ScriptThen,
}

impl PodScript {
    /// The answer to the next request, `None` once the script hands the pod back to its normal
    /// behaviour (`then = "healthy"`, after which the script is dropped).
    pub fn next_step(&mut self) -> Option<ScriptStep> {
        if let Some(step) = self.steps.get(self.next) {
            self.next += 1;
            return Some(*step);
        }
        match self.then {
            ScriptThen::Healthy => None,
            ScriptThen::Hold(step) => Some(step),
            ScriptThen::Repeat => {
                self.next = 1;
                Some(self.steps[0])
            }
        }
    }
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
    /// Scripted answers, while a `script` fault drives the pod. Its answers are decided when
    /// each request reaches the pod, in arrival order.
    pub script: Option<Box<PodScript>>,
    /// For a gateway address: its gateway picks a pod per client connection (AUTO_PASSTHROUGH)
    /// rather than per request.
    pub per_connection: bool,
    /// The host it serves: 0 for `[service]`, `h` for `[[services]]` entry `h - 1` (0 for a
    /// gateway address, which serves none).
    pub host: u32,
}

/// The port of the service's pods in their endpoint addresses.
pub const POD_PORT: u16 = 8080;
/// The port of an east-west gateway's address (Istio's `tls` port 15443 for AUTO_PASSTHROUGH).
pub const EAST_WEST_GATEWAY_PORT: u16 = 15443;

/// The address Envoy knows endpoint `id` by: `10.x.y.z` from the 24 low bits of the id (pods
/// and gateway addresses share one id space, so no two hosts share an address), with port
/// [`POD_PORT`] for a pod and [`EAST_WEST_GATEWAY_PORT`] for a gateway. Only consistent hashing
/// reads addresses (it hashes them); a run never creates 2^24 endpoints (the memory budget).
pub fn endpoint_address(id: EndpointId, gateway: bool) -> SocketAddrV4 {
    let [_, a, b, c] = id.0.to_be_bytes();
    let port = if gateway { EAST_WEST_GATEWAY_PORT } else { POD_PORT };
    SocketAddrV4::new(Ipv4Addr::new(10, a, b, c), port)
}

impl Pod {
    /// This pod's endpoint address (its id is `id`).
    pub fn address(&self, id: EndpointId) -> SocketAddrV4 {
        endpoint_address(id, self.gateway.is_some())
    }

    /// Whether the pod accepts connections.
    pub fn accepts(&self) -> bool {
        matches!(self.state, PodState::Ready | PodState::Terminating) && !self.behavior.refuse
    }

    /// Ready, serving, and not under the failure under study (background noise aside): an
    /// ejection of this pod is a false ejection.
    pub fn is_healthy(&self) -> bool {
        self.state == PodState::Ready && !self.behavior.failing
    }

    /// Decides what the pod does with a request arriving now (advancing its script, if any).
    #[inline]
    pub fn verdict(&mut self, service_time: &ServiceSampler, rng: &mut SimRng) -> PodVerdict {
        if !self.accepts() {
            return PodVerdict::Refuse;
        }
        if self.script.is_some() {
            return self.scripted_verdict(service_time, rng);
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

impl Pod {
    #[inline(never)]
    fn scripted_verdict(&mut self, service_time: &ServiceSampler, rng: &mut SimRng) -> PodVerdict {
        let step = self.script.as_mut().and_then(|s| s.next_step());
        let step = match step {
            Some(step) => step,
            None => {
                // The script is over and the pod is healthy again.
                self.script = None;
                ScriptStep::Status(200)
            }
        };
        match step {
            ScriptStep::Status(status) => PodVerdict::Answer {
                service: sample_service_time(service_time, rng) + self.behavior.extra_latency,
                outcome: Outcome::Status(status),
            },
            ScriptStep::Refuse => PodVerdict::Refuse,
            ScriptStep::Hang => PodVerdict::Hang,
        }
    }
}

/// A service-time distribution as the pods draw it: a [`ServiceTime`] with its durations
/// converted to floats once, when the run is built (`u64 as f64` is exact up to 2^53 ns and
/// rounds the same way on every platform, so each draw is the same as converting per draw).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ServiceSampler {
    /// Exponential with this mean, in ns.
    Exponential {
        /// Mean in ns.
        mean_ns: f64,
    },
    /// Log-normal with this median (ns) and log-σ.
    LogNormal {
        /// Median in ns.
        median_ns: f64,
        /// σ of the underlying normal.
        sigma: f64,
    },
    /// Always the same.
    Constant {
        /// The value.
        value: SimDuration,
    },
}

impl From<&ServiceTime> for ServiceSampler {
    fn from(st: &ServiceTime) -> ServiceSampler {
        match *st {
            ServiceTime::Exponential { mean } => ServiceSampler::Exponential { mean_ns: mean.as_nanos() as f64 },
            ServiceTime::LogNormal { median, sigma } => {
                ServiceSampler::LogNormal { median_ns: median.as_nanos() as f64, sigma }
            }
            ServiceTime::Constant { value } => ServiceSampler::Constant { value },
        }
    }
}

/// Draws one service time: exponential by the ziggurat, lognormal as `median × exp(σ·z)` with
/// `libm`'s `exp` and a standard normal `z`, each rounded down to whole nanoseconds.
#[inline]
pub fn sample_service_time(st: &ServiceSampler, rng: &mut SimRng) -> SimDuration {
    match *st {
        ServiceSampler::Exponential { mean_ns } => SimDuration(rng.exp_nanos(mean_ns)),
        ServiceSampler::Constant { value } => value,
        ServiceSampler::LogNormal { median_ns, sigma } => {
            SimDuration::from_nanos_f64(median_ns * libm::exp(sigma * rng.standard_normal()))
        }
    }
}
