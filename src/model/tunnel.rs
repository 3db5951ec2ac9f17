//! A client proxy's connections to east-west gateway replicas, each pinned to one pod behind
//! the gateway.
//!
//! Istio's multi-network east-west gateway forwards mTLS traffic it cannot read
//! (`AUTO_PASSTHROUGH`: SNI routing to the `outbound_.PORT_._.HOST` cluster, a `tcp_proxy`
//! filter). The `tcp_proxy` picks an upstream pod once, when the downstream connection arrives,
//! and relays bytes between the two for the connection's life. So every request a client sends
//! on one connection to a gateway replica reaches the same pod: with HTTP/2, one client proxy
//! holds one connection per gateway replica and all its requests through that replica go to one
//! pod. The split across remote pods then depends on how many client connections there are, not
//! on how many requests.
//!
//! A connection (a "tunnel" here) ends, and the next request opens a new one and gets a new
//! pod, when:
//!
//! * it has carried `max_requests_per_connection` streams (DestinationRule
//!   `connectionPool.http.maxRequestsPerConnection`): Envoy counts a stream when it is attached
//!   and then drains the connection, closing it once its streams finish;
//! * it is older than `max_connection_duration` (`connectionPool.tcp.maxConnectionDuration`):
//!   drained the same way;
//! * it has been idle for `idle_timeout` (`connectionPool.http.idleTimeout`, Envoy's default
//!   one hour): checked when the next request looks for a connection, which is when it matters;
//! * the pod behind it is terminating: its sidecar drains and sends GOAWAY, so the client stops
//!   using the connection (taken as immediate; Istio's drain lasts a few seconds);
//! * an attempt on it fails at the connection level (the pod refused or reset it, or the
//!   gateway found no pod): the client closes it (as any failed connection); an HTTP/1.1
//!   connection also closes when a request on it is reset (a timeout).
//!
//! An outlier ejection, by the client or by the gateway, closes nothing: Envoy keeps existing
//! connections to an ejected host, so a pinned connection keeps reaching an ejected pod.
//!
//! HTTP/1.1 connections carry one request at a time; a free one is reused most recently
//! released first, as Envoy's HTTP/1 pool takes the front of its ready list.

use crate::engine::{SimDuration, SimTime};
use crate::model::ids::EndpointId;

/// One connection from a client proxy to a gateway replica.
#[derive(Clone, Copy, Debug)]
pub struct Tunnel {
    /// The gateway replica's address (the client's host).
    pub host: EndpointId,
    /// The pod the gateway pinned it to, once the first request crossed the gateway.
    pub backend: Option<EndpointId>,
    /// Requests on it now.
    pub busy: u32,
    /// Requests it has carried (`max_requests_per_connection` counts these).
    pub streams: u32,
    /// When it was opened.
    pub opened: SimTime,
    /// When it last became idle.
    pub idle_since: SimTime,
    /// The slot holds a connection.
    pub open: bool,
    /// Takes no new requests; closes when `busy` reaches 0.
    pub draining: bool,
    /// Bumped when the slot's connection closes, so requests of a closed connection are told
    /// apart from those of the slot's next one.
    pub generation: u32,
}

/// How a request leaves its tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelEnd {
    /// A complete response.
    Done,
    /// Cancelled by a timeout: closes an HTTP/1.1 connection, resets one HTTP/2 stream.
    Reset,
    /// The connection failed.
    Failed,
}

/// The connection settings of the client's cluster that end tunnels.
#[derive(Clone, Copy, Debug)]
pub struct TunnelLimits {
    /// `max_requests_per_connection` (0 = unlimited).
    pub max_requests: u32,
    /// `idle_timeout` (`None` = disabled).
    pub idle_timeout: Option<SimDuration>,
    /// `max_connection_duration` (`None` = unlimited).
    pub max_duration: Option<SimDuration>,
    /// HTTP/2: one connection carries many requests.
    pub http2: bool,
}

/// A client proxy's tunnels: slots reused once closed, so a request's slot index stays valid
/// while it holds the connection.
#[derive(Clone, Debug, Default)]
pub struct Tunnels {
    slots: Vec<Tunnel>,
}

impl Tunnels {
    /// The slot `idx`.
    #[inline]
    pub fn get(&self, idx: u32) -> &Tunnel {
        &self.slots[idx as usize]
    }

    /// Whether slot `idx` still holds the connection of generation `generation`.
    #[inline]
    pub fn is_live(&self, idx: u32, generation: u32) -> bool {
        self.slots.get(idx as usize).is_some_and(|t| t.open && t.generation == generation)
    }

    /// Open connections to `host`, draining ones included.
    pub fn count_open(&self, host: EndpointId) -> u32 {
        self.slots.iter().filter(|t| t.open && t.host == host).count() as u32
    }

    /// A connection to `host` that takes a new request: with HTTP/2 the open, non-draining one;
    /// with HTTP/1.1 the free one released most recently (ties: the lowest slot).
    pub fn usable(&self, host: EndpointId, http2: bool) -> Option<u32> {
        let mut best: Option<(u32, SimTime)> = None;
        for (i, t) in self.slots.iter().enumerate() {
            if !t.open || t.draining || t.host != host || (!http2 && t.busy > 0) {
                continue;
            }
            if http2 {
                return Some(i as u32);
            }
            if best.is_none_or(|(_, at)| t.idle_since > at) {
                best = Some((i as u32, t.idle_since));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Opens a connection to `host` at `now`; returns its slot.
    pub fn open(&mut self, host: EndpointId, now: SimTime) -> u32 {
        let fresh = |generation| Tunnel {
            host,
            backend: None,
            busy: 0,
            streams: 0,
            opened: now,
            idle_since: now,
            open: true,
            draining: false,
            generation,
        };
        if let Some(i) = self.slots.iter().position(|t| !t.open) {
            let generation = self.slots[i].generation;
            self.slots[i] = fresh(generation);
            return i as u32;
        }
        self.slots.push(fresh(0));
        (self.slots.len() - 1) as u32
    }

    /// A request is attached to slot `idx`: `max_requests_per_connection` counts it, and the
    /// connection drains once it has carried that many.
    pub fn attach(&mut self, idx: u32, limits: &TunnelLimits) {
        let t = &mut self.slots[idx as usize];
        t.busy += 1;
        t.streams += 1;
        if limits.max_requests > 0 && t.streams >= limits.max_requests {
            t.draining = true;
        }
    }

    /// Pins slot `idx` (generation `generation`) to `backend`, if it is still that connection.
    pub fn pin(&mut self, idx: u32, generation: u32, backend: EndpointId) {
        if self.is_live(idx, generation) {
            self.slots[idx as usize].backend = Some(backend);
        }
    }

    /// A request leaves slot `idx` (generation `generation`) at `now`. Returns true when this
    /// closes the connection (the caller updates its pool counts); a request of a connection
    /// closed earlier changes nothing.
    pub fn release(&mut self, idx: u32, generation: u32, end: TunnelEnd, limits: &TunnelLimits, now: SimTime) -> bool {
        if !self.is_live(idx, generation) {
            return false;
        }
        let t = &mut self.slots[idx as usize];
        t.busy -= 1;
        let fail = match end {
            TunnelEnd::Done => false,
            TunnelEnd::Reset => !limits.http2,
            TunnelEnd::Failed => true,
        };
        if fail || (t.draining && t.busy == 0) {
            self.close(idx);
            return true;
        }
        if t.busy == 0 {
            t.idle_since = now;
        }
        false
    }

    /// Before a request to `host` looks for a connection at `now`: connections past
    /// `max_connection_duration` or whose pod is no longer serving (`alive` false) start
    /// draining; idle ones past `idle_timeout` and drained ones close. Returns how many closed.
    pub fn expire(
        &mut self,
        host: EndpointId,
        now: SimTime,
        limits: &TunnelLimits,
        alive: impl Fn(EndpointId) -> bool,
    ) -> u32 {
        let mut closed = 0;
        for i in 0..self.slots.len() {
            let t = &mut self.slots[i];
            if !t.open || t.host != host {
                continue;
            }
            let too_old = limits.max_duration.is_some_and(|d| now.saturating_since(t.opened) >= d);
            if too_old || t.backend.is_some_and(|b| !alive(b)) {
                t.draining = true;
            }
            let idle_out = limits.idle_timeout.is_some_and(|d| now.saturating_since(t.idle_since) >= d);
            if t.busy == 0 && (t.draining || idle_out) {
                self.close(i as u32);
                closed += 1;
            }
        }
        closed
    }

    fn close(&mut self, idx: u32) {
        let t = &mut self.slots[idx as usize];
        t.open = false;
        t.draining = false;
        t.busy = 0;
        t.generation = t.generation.wrapping_add(1);
    }

    /// Slots held (for the memory estimate).
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_requests: u32, http2: bool) -> TunnelLimits {
        TunnelLimits { max_requests, idle_timeout: Some(SimDuration::from_secs(3600)), max_duration: None, http2 }
    }

    const GW: EndpointId = EndpointId(1);
    const T0: SimTime = SimTime::ZERO;

    /// HTTP/2: one connection carries every request until it has carried
    /// `max_requests_per_connection`; then it drains, the next request opens a new one, and the
    /// old one closes when its last request ends.
    #[test]
    fn http2_connection_drains_after_max_requests() {
        let l = limits(3, true);
        let mut t = Tunnels::default();
        assert_eq!(t.usable(GW, true), None);
        let a = t.open(GW, T0);
        for _ in 0..3 {
            assert_eq!(t.usable(GW, true), Some(a));
            t.attach(a, &l);
        }
        assert_eq!(t.usable(GW, true), None, "drained after 3 streams");
        let b = t.open(GW, T0);
        assert_ne!(a, b);
        assert_eq!(t.count_open(GW), 2);
        assert!(!t.release(a, 0, TunnelEnd::Done, &l, T0));
        assert!(!t.release(a, 0, TunnelEnd::Done, &l, T0));
        assert!(t.release(a, 0, TunnelEnd::Done, &l, T0), "the last stream closes the drained connection");
        assert_eq!(t.count_open(GW), 1);
    }

    /// HTTP/1.1: a busy connection is not reused; the free one released last is.
    #[test]
    fn http1_reuses_the_most_recently_released() {
        let l = limits(0, false);
        let mut t = Tunnels::default();
        let a = t.open(GW, T0);
        t.attach(a, &l);
        let b = t.open(GW, T0);
        t.attach(b, &l);
        assert_eq!(t.usable(GW, false), None);
        t.release(b, 0, TunnelEnd::Done, &l, SimTime::from_secs(1));
        t.release(a, 0, TunnelEnd::Done, &l, SimTime::from_secs(2));
        assert_eq!(t.usable(GW, false), Some(a));
    }

    /// A failure closes the connection; requests still on it are then ignored, and the slot
    /// is reused with a new generation.
    #[test]
    fn failure_closes_and_stale_requests_are_ignored() {
        let l = limits(0, true);
        let mut t = Tunnels::default();
        let a = t.open(GW, T0);
        t.attach(a, &l);
        t.attach(a, &l);
        assert!(t.release(a, 0, TunnelEnd::Failed, &l, T0));
        assert!(!t.release(a, 0, TunnelEnd::Done, &l, T0), "the other stream's connection is gone");
        let b = t.open(GW, T0);
        assert_eq!(a, b);
        assert!(t.is_live(b, 1) && !t.is_live(b, 0));
    }

    /// Idle past the timeout, older than `max_connection_duration`, or pinned to a pod that
    /// stopped serving: closed before the next request looks for a connection.
    #[test]
    fn expiry() {
        let mut l = limits(0, true);
        l.idle_timeout = Some(SimDuration::from_secs(10));
        let mut t = Tunnels::default();
        let a = t.open(GW, T0);
        t.attach(a, &l);
        t.release(a, 0, TunnelEnd::Done, &l, SimTime::from_secs(1));
        assert_eq!(t.expire(GW, SimTime::from_secs(10), &l, |_| true), 0);
        assert_eq!(t.expire(GW, SimTime::from_secs(11), &l, |_| true), 1);
        let b = t.open(GW, SimTime::from_secs(11));
        t.pin(b, 1, EndpointId(7));
        assert_eq!(t.get(b).backend, Some(EndpointId(7)));
        assert_eq!(t.expire(GW, SimTime::from_secs(12), &l, |e| e != EndpointId(7)), 1, "GOAWAY");
        l.max_duration = Some(SimDuration::from_secs(5));
        let c = t.open(GW, SimTime::from_secs(12));
        t.attach(c, &l);
        assert_eq!(t.expire(GW, SimTime::from_secs(17), &l, |_| true), 0, "busy: drains, not closed");
        assert_eq!(t.usable(GW, true), None);
        assert!(t.release(c, 2, TunnelEnd::Done, &l, SimTime::from_secs(18)));
    }
}
