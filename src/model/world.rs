//! The world: all mutable state of a run, and one handler per event kind.
//!
//! A request's life: `Arrival` → the entry proxy checks its `max_requests` breaker, picks a host
//! with its own load balancer, and sends the attempt. The pod's verdict (answer, refuse, hang)
//! is decided when the request reaches it; when no fault or pod lifecycle change can happen
//! before then, it is decided at send time and only the `Response` is scheduled (two events per
//! request on the fast path). The `Response` feeds the proxy's outlier detector, then the retry
//! policy decides between a retry (after back-off) and the client's answer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::{Model, Scheduler, SimDuration, SimRng, SimTime};
use crate::envoy::config::{RetryOn, RetryPolicy};
use crate::envoy::lb::{PickContext, PreviousPriorities, PriorityLoadRef};
use crate::envoy::outlier::{LocalOriginEvent, OutlierEvent};
use crate::metrics::recorder::{AttemptEnd, ClientOutcome, LogKind, Recorder};
use crate::model::event::{Event, Outcome, ReqId};
use crate::model::ids::{EndpointId, ProxyId};
use crate::model::pod::{Pod, PodVerdict};
use crate::model::proxy::Proxy;
use crate::model::request::RequestSlab;
use crate::model::topology::Topology;
use crate::scenario::{Scenario, ServiceTime};

/// One workload stream's state.
#[derive(Clone, Debug)]
pub struct Stream {
    /// First proxy of the entry group.
    pub first_proxy: u32,
    /// Number of replicas in the group.
    pub n_proxies: u32,
    /// Current rate, requests per second.
    pub rate: f64,
    /// Rate changes `(time, rate)`.
    pub changes: Vec<(SimTime, f64)>,
    /// Generation, bumped at each rate change so the pending arrival is redrawn.
    pub epoch: u32,
}

/// All mutable state of a run.
pub struct World {
    /// The scenario being run.
    pub scenario: std::sync::Arc<Scenario>,
    /// Localities and latencies.
    pub topo: Topology,
    /// Every pod ever created, indexed by `EndpointId`.
    pub pods: Vec<Pod>,
    /// Current pods of each deployment, in ordinal order.
    pub deployments: Vec<Vec<EndpointId>>,
    /// Next ordinal per deployment.
    pub next_ordinal: Vec<u32>,
    /// Client proxies.
    pub proxies: Vec<Proxy>,
    /// Arrival streams.
    pub streams: Vec<Stream>,
    /// In-flight requests.
    pub requests: RequestSlab,
    /// Counts and the event log.
    pub rec: Recorder,
    /// Times at which some pod's behaviour or lifecycle changes, earliest first.
    pub changes: BinaryHeap<Reverse<SimTime>>,
    /// An EDS push is scheduled.
    pub push_pending: bool,
    /// Random streams.
    pub rng_workload: SimRng,
    /// Network jitter draws.
    pub rng_network: SimRng,
    /// Service-time and fault-probability draws.
    pub rng_service: SimRng,
    /// Scratch buffer for outlier events (never shrinks, so no allocation per request).
    pub scratch: Vec<OutlierEvent>,
    /// Healthy service-time distribution.
    pub service_time: ServiceTime,
    /// `previous_priorities` retry-plugin state per request slot (only with
    /// `retryRemoteLocalities`).
    pub prev_prio: Vec<Option<PreviousPriorities>>,
    /// What istiod derives from the policy.
    pub control: crate::model::build::ControlPlane,
}

impl Model for World {
    type Event = Event;

    fn handle(&mut self, event: Event, sched: &mut Scheduler<Event>) {
        match event {
            Event::Arrival { stream } => self.on_arrival(stream, sched),
            Event::RateChange { stream, change } => self.on_rate_change(stream, change, sched),
            Event::AtPod { req, epoch } => self.on_at_pod(req, epoch, sched),
            Event::PodDone { endpoint, req, epoch, status } => self.on_pod_done(endpoint, req, epoch, status, sched),
            Event::Response { req, epoch, outcome } => self.on_response(req, epoch, outcome, sched),
            Event::PerTryTimeout { req, epoch } => self.on_per_try_timeout(req, epoch, sched),
            Event::RouteTimeout { req, epoch } => self.on_route_timeout(req, epoch, sched),
            Event::RetryReady { req, epoch } => self.on_retry_ready(req, epoch, sched),
            Event::OutlierTick { proxy } => self.on_outlier_tick(proxy, sched),
            Event::Fault { idx } => self.on_fault(idx, sched),
            Event::PodReady { endpoint } => self.on_pod_ready(endpoint, sched),
            Event::PodGone { endpoint } => self.on_pod_gone(endpoint),
            Event::EdsPush => self.on_eds_push(sched.now()),
            Event::PhaseStart { phase } => self.rec.log(sched.now(), LogKind::Phase { index: phase }),
        }
    }
}

impl World {
    fn next_arrival_delay(&mut self, stream: u32) -> Option<SimDuration> {
        let rate = self.streams[stream as usize].rate;
        if rate <= 0.0 {
            return None;
        }
        Some(SimDuration(self.rng_workload.exp_nanos(1e9 / rate).max(1)))
    }

    /// Schedules the next arrival of a stream (none while its rate is 0).
    pub fn schedule_arrival(&mut self, stream: u32, sched: &mut Scheduler<Event>) {
        if let Some(d) = self.next_arrival_delay(stream) {
            let epoch = self.streams[stream as usize].epoch;
            // The generation rides in the upper bits so a rate change voids the pending arrival.
            sched.schedule(d, Event::Arrival { stream: stream | (epoch << 16) });
        }
    }

    fn on_arrival(&mut self, tagged: u32, sched: &mut Scheduler<Event>) {
        let (stream, epoch) = (tagged & 0xFFFF, tagged >> 16);
        let s = &self.streams[stream as usize];
        if s.epoch & 0xFFFF != epoch {
            return; // superseded by a rate change
        }
        let proxy = s.first_proxy + self.rng_workload.below(u64::from(s.n_proxies)) as u32;
        self.schedule_arrival(stream, sched);
        let now = sched.now();
        self.rec.client_request(now);
        let p = &self.proxies[proxy as usize];
        let (retries, backoff) = match &p.route.retry {
            Some(r) => (r.num_retries, r.backoff_base),
            None => (0, SimDuration::ZERO),
        };
        let route_timeout = p.route.timeout;
        let req = self.requests.alloc(ProxyId(proxy), now, retries, backoff);
        if let Some(t) = route_timeout {
            let epoch = self.requests.get(req).id_gen;
            sched.schedule(t, Event::RouteTimeout { req, epoch });
        }
        self.start_attempt(req, sched);
    }

    fn on_rate_change(&mut self, stream: u32, change: u32, sched: &mut Scheduler<Event>) {
        let s = &mut self.streams[stream as usize];
        if change != u32::MAX {
            s.rate = s.changes[change as usize].1;
        }
        s.epoch = (s.epoch + 1) & 0xFFFF;
        self.schedule_arrival(stream, sched);
    }

    /// Sends one upstream attempt for `req`, or finishes it with overflow / no healthy upstream.
    fn start_attempt(&mut self, req: ReqId, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = self.requests.get(req);
        let proxy_id = r.proxy;
        let is_retry = r.attempts > 0;
        let p = &mut self.proxies[proxy_id.idx()];
        if p.in_flight >= p.cluster.circuit_breakers.max_requests {
            // Overflow: 503 UO at once, never retried, never seen by outlier detection (§3).
            self.finish(req, now, ClientOutcome::Overflow);
            return;
        }
        let pick = {
            let r = self.requests.get(req);
            let slot = req.0 as usize;
            let mut ctx = PickContext::default();
            if let (Some(policy), true) = (&p.route.retry, is_retry) {
                if policy.previous_hosts {
                    ctx.previous_hosts = r.tried();
                }
                ctx.host_selection_retry_max_attempts = policy.host_selection_retry_max_attempts;
                if policy.previous_priorities_update_frequency.is_some() {
                    if let Some(Some(pp)) = self.prev_prio.get_mut(slot) {
                        ctx.priority_load = pp
                            .determine_priority_load(p.lb.priority_state())
                            .map(|(healthy, degraded)| PriorityLoadRef { healthy, degraded });
                    }
                }
            }
            p.lb.choose_host(&mut p.rng, &p.active, &ctx)
        };
        let Some(pick) = pick else {
            // 503 "no healthy upstream": a local reply, no upstream request, not retried.
            self.finish(req, now, ClientOutcome::NoHealthyUpstream);
            return;
        };
        p.in_flight += 1;
        p.active[pick.host.idx()] += 1;
        let per_try = p.route.retry.as_ref().and_then(|r| r.per_try_timeout);
        let from = p.locality;
        if let Some(freq) = p.route.retry.as_ref().and_then(|x| x.previous_priorities_update_frequency) {
            let slot = req.0 as usize;
            if self.prev_prio.len() <= slot {
                self.prev_prio.resize(slot + 1, None);
            }
            let pp = self.prev_prio[slot].get_or_insert_with(|| PreviousPriorities::new(freq));
            if !is_retry {
                *pp = PreviousPriorities::new(freq);
            }
            pp.on_host_attempted(pick.priority);
        }
        let r = self.requests.get_mut(req);
        r.epoch = r.epoch.wrapping_add(1);
        r.attempts += 1;
        r.hung = false;
        r.host = pick.host;
        r.locality = self.pods[pick.host.idx()].locality;
        r.priority = pick.priority as u32;
        r.attempt_active = true;
        r.remember(pick.host);
        let epoch = r.epoch;
        let to = r.locality;
        self.rec.attempt(now, to, is_retry);
        if let Some(t) = per_try {
            sched.schedule(t, Event::PerTryTimeout { req, epoch });
        }
        let out = self.topo.sample_latency(from, to, &mut self.rng_network);
        let arrive = now + out;
        let fast =
            self.scenario.service.max_concurrency == 0 && self.changes.peek().is_none_or(|Reverse(t)| arrive < *t);
        if fast {
            let verdict = self.pods[pick.host.idx()].verdict(&self.service_time, &mut self.rng_service);
            self.deliver_verdict(req, epoch, verdict, out, sched);
        } else {
            sched.schedule(out, Event::AtPod { req, epoch });
        }
    }

    /// Schedules the response of a pod verdict. `lead` is the time already spent on the way.
    fn deliver_verdict(
        &mut self,
        req: ReqId,
        epoch: u32,
        verdict: PodVerdict,
        lead: SimDuration,
        sched: &mut Scheduler<Event>,
    ) {
        let r = self.requests.get(req);
        let (from, to) = (self.pods[r.host.idx()].locality, self.proxies[r.proxy.idx()].locality);
        match verdict {
            PodVerdict::Answer { service, outcome } => {
                let back = self.topo.sample_latency(from, to, &mut self.rng_network);
                sched.schedule(lead + service + back, Event::Response { req, epoch, outcome });
            }
            PodVerdict::Refuse => {
                let back = self.topo.sample_latency(from, to, &mut self.rng_network);
                sched.schedule(lead + back, Event::Response { req, epoch, outcome: Outcome::ConnectFailed });
            }
            PodVerdict::Hang => self.requests.get_mut(req).hung = true,
        }
    }

    fn on_at_pod(&mut self, req: ReqId, epoch: u32, sched: &mut Scheduler<Event>) {
        if !self.requests.is_current(req, epoch) {
            return; // the proxy already gave up on this attempt; the pod never notices in time
        }
        let host = self.requests.get(req).host;
        let limit = self.scenario.service.max_concurrency;
        let pod = &mut self.pods[host.idx()];
        if limit > 0 && pod.accepts() && !pod.behavior.blackhole {
            if pod.busy >= limit {
                pod.queue.push_back((req, epoch));
                return;
            }
            pod.busy += 1;
            self.serve_limited(host, req, epoch, sched);
            return;
        }
        let verdict = pod.verdict(&self.service_time, &mut self.rng_service);
        self.deliver_verdict(req, epoch, verdict, SimDuration::ZERO, sched);
    }

    /// Starts serving a request in a concurrency-limited pod (a slot is already taken).
    fn serve_limited(&mut self, host: EndpointId, req: ReqId, epoch: u32, sched: &mut Scheduler<Event>) {
        match self.pods[host.idx()].verdict(&self.service_time, &mut self.rng_service) {
            PodVerdict::Answer { service, outcome } => {
                let status = match outcome {
                    Outcome::Status(s) => s,
                    Outcome::ConnectFailed => 503,
                };
                sched.schedule(service, Event::PodDone { endpoint: host, req, epoch, status });
            }
            other => {
                self.pods[host.idx()].busy -= 1;
                self.deliver_verdict(req, epoch, other, SimDuration::ZERO, sched);
            }
        }
    }

    fn on_pod_done(&mut self, host: EndpointId, req: ReqId, epoch: u32, status: u16, sched: &mut Scheduler<Event>) {
        // The slot frees whether or not the proxy still waits for this answer.
        if self.requests.is_current(req, epoch) {
            self.deliver_verdict(
                req,
                epoch,
                PodVerdict::Answer { service: SimDuration::ZERO, outcome: Outcome::Status(status) },
                SimDuration::ZERO,
                sched,
            );
        }
        let pod = &mut self.pods[host.idx()];
        pod.busy -= 1;
        while let Some((next, next_gen)) = pod.queue.pop_front() {
            if self.requests.is_current(next, next_gen) {
                self.pods[host.idx()].busy += 1;
                self.serve_limited(host, next, next_gen, sched);
                break;
            }
        }
    }

    /// Ends the current attempt's accounting (breaker counters, active requests).
    fn end_attempt(&mut self, req: ReqId) {
        let r = self.requests.get_mut(req);
        if !r.attempt_active {
            return;
        }
        r.attempt_active = false;
        let (proxy, host) = (r.proxy, r.host);
        let p = &mut self.proxies[proxy.idx()];
        p.in_flight -= 1;
        p.active[host.idx()] -= 1;
    }

    fn on_response(&mut self, req: ReqId, epoch: u32, outcome: Outcome, sched: &mut Scheduler<Event>) {
        if !self.requests.is_current(req, epoch) {
            return; // stale: this attempt already ended by a timeout
        }
        let now = sched.now();
        self.end_attempt(req);
        let r = self.requests.get(req);
        let (proxy, host, locality) = (r.proxy, r.host, r.locality);
        let end = match outcome {
            Outcome::Status(s) => AttemptEnd::Status(s),
            Outcome::ConnectFailed => AttemptEnd::ConnectFailed,
        };
        self.rec.attempt_end(now, locality, end);
        self.feed_outlier(proxy, host, outcome_event(outcome), now);
        let client = match outcome {
            Outcome::Status(s) if s >= 500 => ClientOutcome::Upstream5xx,
            Outcome::Status(_) => ClientOutcome::Success,
            Outcome::ConnectFailed => ClientOutcome::ConnectFailure,
        };
        if client != ClientOutcome::Success && self.should_retry(req, end) {
            self.schedule_retry(req, sched);
        } else {
            self.finish(req, now, client);
        }
    }

    fn on_per_try_timeout(&mut self, req: ReqId, epoch: u32, sched: &mut Scheduler<Event>) {
        if !self.requests.is_current(req, epoch) || !self.requests.get(req).attempt_active {
            return;
        }
        let now = sched.now();
        self.end_attempt(req);
        let r = self.requests.get_mut(req);
        r.epoch = r.epoch.wrapping_add(1); // void the in-flight response
        let (proxy, host, locality) = (r.proxy, r.host, r.locality);
        self.rec.attempt_end(now, locality, AttemptEnd::Timeout);
        self.feed_outlier(proxy, host, OutlierInput::Local(LocalOriginEvent::Timeout { code: None }), now);
        if self.should_retry(req, AttemptEnd::Timeout) {
            self.schedule_retry(req, sched);
        } else {
            self.finish(req, now, ClientOutcome::Timeout);
        }
    }

    fn on_route_timeout(&mut self, req: ReqId, id_gen: u32, sched: &mut Scheduler<Event>) {
        if !self.requests.is_live(req, id_gen) {
            return; // the request already finished
        }
        let now = sched.now();
        let r = self.requests.get(req);
        if r.attempt_active {
            let (proxy, host, locality) = (r.proxy, r.host, r.locality);
            self.end_attempt(req);
            self.rec.attempt_end(now, locality, AttemptEnd::Timeout);
            self.feed_outlier(proxy, host, OutlierInput::Local(LocalOriginEvent::Timeout { code: None }), now);
        }
        self.finish(req, now, ClientOutcome::Timeout);
    }

    fn on_retry_ready(&mut self, req: ReqId, epoch: u32, sched: &mut Scheduler<Event>) {
        if !self.requests.is_current(req, epoch) {
            return;
        }
        self.start_attempt(req, sched);
    }

    /// Envoy's `shouldRetry` (envoy-semantics §4.2–§4.3): the condition, the retry count, then
    /// the retry circuit breaker or budget.
    fn should_retry(&mut self, req: ReqId, end: AttemptEnd) -> bool {
        let r = self.requests.get(req);
        let p = &self.proxies[r.proxy.idx()];
        let Some(policy) = &p.route.retry else { return false };
        if !retriable(policy, end) || r.retries_left == 0 {
            return false;
        }
        let cb = &p.cluster.circuit_breakers;
        let limit = match &cb.retry_budget {
            Some(b) => {
                ((u64::from(b.budget_percent) * u64::from(p.in_flight)) / 100).max(u64::from(b.min_retry_concurrency))
            }
            None => u64::from(cb.max_retries),
        };
        let holds = r.holds_retry;
        let active = u64::from(p.retries_active) - u64::from(holds);
        let r = self.requests.get_mut(req);
        r.retries_left -= 1;
        if active >= limit {
            return false; // retry overflow: the last answer goes back to the client
        }
        if !holds {
            r.holds_retry = true;
            self.proxies[r.proxy.idx()].retries_active += 1;
        }
        true
    }

    /// Schedules the next attempt after Envoy's jittered exponential back-off (§4.4).
    fn schedule_retry(&mut self, req: ReqId, sched: &mut Scheduler<Event>) {
        let r = self.requests.get_mut(req);
        let proxy = r.proxy;
        let p = &mut self.proxies[proxy.idx()];
        let max = p.route.retry.as_ref().map_or(SimDuration::ZERO, |x| x.backoff_max);
        let interval_ms = r.backoff_interval.as_millis().max(1);
        let delay = SimDuration::from_millis(p.rng.below(interval_ms));
        r.backoff_interval =
            if r.backoff_interval.as_nanos() < max.as_nanos() / 2 { r.backoff_interval.saturating_mul(2) } else { max };
        r.epoch = r.epoch.wrapping_add(1);
        let epoch = r.epoch;
        sched.schedule(delay, Event::RetryReady { req, epoch });
    }

    /// Answers the client and frees the request.
    fn finish(&mut self, req: ReqId, now: SimTime, outcome: ClientOutcome) {
        self.end_attempt(req);
        let r = self.requests.get(req);
        if r.holds_retry {
            self.proxies[r.proxy.idx()].retries_active -= 1;
        }
        self.rec.client_done(now, now.saturating_since(r.started), outcome);
        self.requests.free(req);
    }

    /// Feeds one attempt result to the proxy's outlier detector and applies what it decides.
    fn feed_outlier(&mut self, proxy: ProxyId, host: EndpointId, input: OutlierInput, now: SimTime) {
        let p = &mut self.proxies[proxy.idx()];
        let Some(od) = p.outlier.as_mut() else { return };
        self.scratch.clear();
        match input {
            OutlierInput::Status(s) => od.put_http_status(host, s, now, &mut p.rng, &mut self.scratch),
            OutlierInput::Local(ev) => od.put_local_origin(host, ev, now, &mut p.rng, &mut self.scratch),
        }
        if !self.scratch.is_empty() {
            self.apply_outlier_events(proxy, now);
        }
    }

    /// Logs the events in `scratch` and refreshes the proxy's load balancer if health changed.
    fn apply_outlier_events(&mut self, proxy: ProxyId, now: SimTime) {
        let mut changed = false;
        let events = std::mem::take(&mut self.scratch);
        for ev in &events {
            let p = &mut self.proxies[proxy.idx()];
            match *ev {
                OutlierEvent::Ejected { host, kind, multiplier, planned, .. } => {
                    let locality = p.hosts[host.idx()].locality;
                    let healthy_target = self.pods[host.idx()].is_healthy();
                    p.n_ejected += 1;
                    changed = true;
                    self.rec.ejection_change(now, locality, 1);
                    self.rec.log(
                        now,
                        LogKind::Eject {
                            proxy,
                            endpoint: host,
                            locality,
                            reason: kind.stat_name(),
                            multiplier,
                            planned,
                            healthy_target,
                        },
                    );
                }
                OutlierEvent::Unejected { host, ejected_for } => {
                    let locality = p.hosts[host.idx()].locality;
                    p.n_ejected -= 1;
                    changed = true;
                    self.rec.ejection_change(now, locality, -1);
                    self.rec.log(now, LogKind::Uneject { proxy, endpoint: host, locality, ejected_for });
                }
                OutlierEvent::Overflow { host, kind } => {
                    let locality = p.hosts[host.idx()].locality;
                    self.rec
                        .log(now, LogKind::EjectOverflow { proxy, endpoint: host, locality, reason: kind.stat_name() });
                }
                OutlierEvent::NotEnforced { host, kind } => {
                    self.rec.log(now, LogKind::EjectNotEnforced { proxy, endpoint: host, reason: kind.stat_name() });
                }
            }
        }
        self.scratch = events;
        if changed {
            self.proxies[proxy.idx()].refresh_health();
            self.log_panic(proxy, now);
        }
    }

    /// Logs a panic transition of a proxy's load balancer.
    pub(crate) fn log_panic(&mut self, proxy: ProxyId, now: SimTime) {
        let p = &mut self.proxies[proxy.idx()];
        let st = p.lb.priority_state();
        let on = st.in_panic.iter().any(|x| *x);
        if on != p.panic {
            p.panic = on;
            let total = st.total_panic;
            self.rec.log(now, LogKind::Panic { proxy, on, total });
        }
    }

    fn on_outlier_tick(&mut self, proxy: ProxyId, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let p = &mut self.proxies[proxy.idx()];
        let Some(od) = p.outlier.as_mut() else { return };
        let interval = od.config().interval;
        self.scratch.clear();
        od.on_interval_tick(now, &mut p.rng, &mut self.scratch);
        if !self.scratch.is_empty() {
            self.apply_outlier_events(proxy, now);
        }
        sched.schedule(interval, Event::OutlierTick { proxy });
    }
}

/// What an attempt result means to the outlier detector.
#[derive(Clone, Copy, Debug)]
enum OutlierInput {
    Status(u16),
    Local(LocalOriginEvent),
}

fn outcome_event(o: Outcome) -> OutlierInput {
    match o {
        Outcome::Status(s) => OutlierInput::Status(s),
        Outcome::ConnectFailed => OutlierInput::Local(LocalOriginEvent::ConnectFailed),
    }
}

/// Whether `end` matches the policy's `retry_on` (envoy-semantics §4.2).
pub fn retriable(policy: &RetryPolicy, end: AttemptEnd) -> bool {
    let on: &RetryOn = &policy.retry_on;
    match end {
        AttemptEnd::Status(s) => {
            (on.five_xx && (500..600).contains(&s))
                || (on.gateway_error && (502..=504).contains(&s))
                || (on.retriable_4xx && s == 409)
                || (on.retriable_status_codes && policy.retriable_status_codes.contains(&s))
        }
        AttemptEnd::ConnectFailed => {
            on.connect_failure || on.five_xx || on.gateway_error || on.reset || on.reset_before_request
        }
        // A per-try timeout is a local reset, not a connect failure.
        AttemptEnd::Timeout => on.reset || on.five_xx || on.gateway_error,
    }
}
