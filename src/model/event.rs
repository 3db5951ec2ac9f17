//! The closed set of things that can happen in a run.

use crate::model::ids::{EndpointId, ProxyId};

/// A request slot in the world's request arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReqId(pub u32);

/// How an upstream attempt ended, as the client proxy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Response headers with this status.
    Status(u16),
    /// The connection was refused or reset before a response (Envoy: connect failure).
    ConnectFailed,
}

/// Every event kind. `epoch` fields carry the request slot's generation when the event was
/// scheduled; a mismatch means the attempt already ended (timeout, retry) and the event is stale.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// A request arrives from workload stream `stream`.
    Arrival {
        /// Index of the workload stream.
        stream: u32,
    },
    /// Workload stream `stream` switches to its `change`-th rate.
    RateChange {
        /// Stream index.
        stream: u32,
        /// Index into the stream's rate changes.
        change: u32,
    },
    /// An attempt reaches its pod (scheduled only when the pod's behaviour may change while the
    /// request travels, or when pods limit their concurrency).
    AtPod {
        /// The request.
        req: ReqId,
        /// Its generation.
        epoch: u32,
    },
    /// A concurrency-limited pod finishes serving a request.
    PodDone {
        /// The pod.
        endpoint: EndpointId,
        /// The request.
        req: ReqId,
        /// Its generation.
        epoch: u32,
        /// Status it answers with.
        status: u16,
    },
    /// The result of an attempt reaches the client proxy.
    Response {
        /// The request.
        req: ReqId,
        /// Its generation.
        epoch: u32,
        /// What came back.
        outcome: Outcome,
    },
    /// The attempt's per-try timeout fires.
    PerTryTimeout {
        /// The request.
        req: ReqId,
        /// Its generation.
        epoch: u32,
    },
    /// The request's global route timeout fires.
    RouteTimeout {
        /// The request.
        req: ReqId,
        /// Its generation at scheduling (the route timer spans all attempts, see `Request::id_gen`).
        epoch: u32,
    },
    /// The fault filter's injected delay of a request is over: the abort is drawn, then the
    /// router takes it.
    FaultDelayDone {
        /// The request.
        req: ReqId,
        /// Its generation (`Request::id_gen`).
        epoch: u32,
    },
    /// A retry's back-off is over.
    RetryReady {
        /// The request.
        req: ReqId,
        /// Its generation.
        epoch: u32,
    },
    /// A proxy's outlier-detection interval timer.
    OutlierTick {
        /// The proxy.
        proxy: ProxyId,
        /// Its cluster whose detector ticks (each Envoy cluster has its own timer).
        cluster: crate::model::proxy::ClusterIdx,
    },
    /// The `idx`-th fault of the timeline.
    Fault {
        /// Index into the scenario's faults.
        idx: u32,
    },
    /// A starting pod becomes ready.
    PodReady {
        /// The pod.
        endpoint: EndpointId,
    },
    /// A terminating pod stops serving.
    PodGone {
        /// The pod.
        endpoint: EndpointId,
    },
    /// istiod's EDS push reaches the proxies.
    EdsPush,
    /// A phase boundary, logged for reports.
    PhaseStart {
        /// Phase index.
        phase: u32,
    },
}
