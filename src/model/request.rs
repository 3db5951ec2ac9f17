//! In-flight requests: a slab of fixed-size slots reused through a free list, so the hot path
//! never allocates.

use crate::engine::{SimDuration, SimTime};
use crate::model::event::ReqId;
use crate::model::ids::{EndpointId, LocalityId, ProxyId};
use crate::model::proxy::ClusterIdx;

/// Hosts remembered per request for `previous_hosts` and `previous_priorities`. Envoy remembers
/// every attempted host; a request with more attempts than this keeps the most recent ones, which
/// only matters past 16 attempts.
pub const MAX_TRACKED_HOSTS: usize = 16;

/// Where the current attempt is in its host's connection pool (see `model::world`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConnState {
    /// No attempt in a pool (before the first, during back-off, after the end).
    #[default]
    Idle,
    /// Waiting in the host's pending queue for a connection (`max_pending_requests`).
    Pending,
    /// Its new connection's handshake hangs (black-holed pod); it ends at `connect_timeout`.
    /// Counted as pending, as Envoy counts a request waiting for a connecting client.
    Connecting,
    /// Sent on a connection (counted in `rq_active` and `max_requests`).
    Attached,
}

/// One client request and its current upstream attempt.
#[derive(Clone, Debug)]
pub struct Request {
    /// Generation of the slot, bumped at every attempt start and when the slot is freed.
    pub epoch: u32,
    /// Generation at which the request started (for the route timeout, which spans attempts).
    pub id_gen: u32,
    /// The slot holds a request (false once freed).
    pub live: bool,
    /// The client proxy handling it.
    pub proxy: ProxyId,
    /// The proxy's Envoy cluster its route sent it to (`Proxy::clusters`).
    pub cluster: ClusterIdx,
    /// When the client sent it.
    pub started: SimTime,
    /// Upstream attempts made so far (1 after the first).
    pub attempts: u32,
    /// Retries still allowed.
    pub retries_left: u32,
    /// Current back-off window upper bound (Envoy's jittered exponential back-off).
    pub backoff_interval: SimDuration,
    /// Host of the current attempt.
    pub host: EndpointId,
    /// Locality of the current attempt's host.
    pub locality: LocalityId,
    /// Priority of the current attempt's host.
    pub priority: u16,
    /// An attempt is on the wire (counted in `active` and `in_flight`).
    pub attempt_active: bool,
    /// The current attempt's place in the connection pool.
    pub conn: ConnState,
    /// The current attempt opened a new connection (its handshake matters to a black hole).
    pub new_conn: bool,
    /// When the current attempt was sent (attached to a connection).
    pub sent_at: SimTime,
    /// For a hop through an east-west gateway: the client request (and its generation) this
    /// gateway-side request carries.
    pub parent: Option<(ReqId, u32)>,
    /// The current attempt went to a black-holed pod and will never be answered.
    pub hung: bool,
    /// A retry of this request holds a slot of the retry circuit breaker.
    pub holds_retry: bool,
    /// Hosts attempted so far, oldest first (ring of the most recent `MAX_TRACKED_HOSTS`).
    pub tried: [EndpointId; MAX_TRACKED_HOSTS],
    /// Number of valid entries in `tried`.
    pub n_tried: u8,
    /// The user who sent it (`keys::NO_USER` when the workload has none).
    pub user: u32,
    /// The request hash for a consistent-hash route (`None`: no key, a random hash per pick).
    pub hash: Option<u64>,
    /// The client connection (tunnel slot) the current attempt rides to an east-west gateway
    /// replica that balances per connection (`NO_TUNNEL` otherwise), and its generation.
    pub tunnel: u32,
    /// Generation of `tunnel`'s connection.
    pub tunnel_gen: u32,
    /// Index of the route it took in its proxy group's table (`model::routes`; 0 for a gateway
    /// hop, which has no route). A table holds at most `model::routes::MAX_ROUTES` (256).
    pub route: u8,
}

/// No tunnel.
pub const NO_TUNNEL: u32 = u32::MAX;

/// No cluster: the route names a cluster that does not exist (an undefined subset).
pub const NO_CLUSTER: ClusterIdx = ClusterIdx::MAX;

impl Request {
    fn empty() -> Request {
        Request {
            epoch: 0,
            id_gen: 0,
            live: false,
            proxy: ProxyId(0),
            cluster: 0,
            started: SimTime::ZERO,
            attempts: 0,
            retries_left: 0,
            backoff_interval: SimDuration::ZERO,
            host: EndpointId(0),
            locality: LocalityId(0),
            priority: 0,
            attempt_active: false,
            conn: ConnState::Idle,
            new_conn: false,
            sent_at: SimTime::ZERO,
            parent: None,
            holds_retry: false,
            hung: false,
            tried: [EndpointId(0); MAX_TRACKED_HOSTS],
            n_tried: 0,
            user: crate::model::keys::NO_USER,
            hash: None,
            tunnel: NO_TUNNEL,
            tunnel_gen: 0,
            route: 0,
        }
    }

    /// Remembers `host` as attempted.
    pub fn remember(&mut self, host: EndpointId) {
        if (self.n_tried as usize) < MAX_TRACKED_HOSTS {
            self.tried[self.n_tried as usize] = host;
            self.n_tried += 1;
        } else {
            self.tried.rotate_left(1);
            self.tried[MAX_TRACKED_HOSTS - 1] = host;
        }
    }

    /// The hosts attempted so far.
    pub fn tried(&self) -> &[EndpointId] {
        &self.tried[..self.n_tried as usize]
    }
}

/// The arena of requests.
#[derive(Debug, Default)]
pub struct RequestSlab {
    slots: Vec<Request>,
    free: Vec<u32>,
    live: usize,
}

impl RequestSlab {
    /// Takes a free slot (or grows by one) and initialises it for `proxy`'s cluster `cluster`;
    /// returns its id and the request, so that the caller fills in the rest without looking the
    /// slot up again.
    #[inline]
    pub fn alloc(
        &mut self,
        proxy: ProxyId,
        cluster: ClusterIdx,
        now: SimTime,
        retries: u32,
        backoff_base: SimDuration,
    ) -> (ReqId, &mut Request) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => self.grow(),
        };
        let r = &mut self.slots[idx as usize];
        r.epoch = r.epoch.wrapping_add(1);
        r.id_gen = r.epoch;
        r.live = true;
        r.proxy = proxy;
        r.cluster = cluster;
        r.started = now;
        r.attempts = 0;
        r.retries_left = retries;
        r.backoff_interval = backoff_base;
        r.attempt_active = false;
        r.conn = ConnState::Idle;
        r.new_conn = false;
        r.parent = None;
        r.holds_retry = false;
        r.hung = false;
        r.n_tried = 0;
        r.user = crate::model::keys::NO_USER;
        r.hash = None;
        r.tunnel = NO_TUNNEL;
        r.route = 0;
        self.live += 1;
        (ReqId(idx), r)
    }

    /// A new empty slot at the end.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) -> u32 {
        self.slots.push(Request::empty());
        (self.slots.len() - 1) as u32
    }

    /// Returns a slot to the free list; stale events for it are recognised by the generation.
    pub fn free(&mut self, id: ReqId) {
        let r = &mut self.slots[id.0 as usize];
        r.epoch = r.epoch.wrapping_add(1);
        r.live = false;
        self.free.push(id.0);
        self.live -= 1;
    }

    /// The request in a slot.
    #[inline]
    pub fn get(&self, id: ReqId) -> &Request {
        &self.slots[id.0 as usize]
    }

    /// The request in a slot, mutably.
    #[inline]
    pub fn get_mut(&mut self, id: ReqId) -> &mut Request {
        &mut self.slots[id.0 as usize]
    }

    /// Whether an event scheduled at generation `epoch` is still current.
    #[inline]
    pub fn is_current(&self, id: ReqId, epoch: u32) -> bool {
        self.slots[id.0 as usize].epoch == epoch
    }

    /// Whether the request that started at generation `id_gen` still occupies its slot.
    #[inline]
    pub fn is_live(&self, id: ReqId, id_gen: u32) -> bool {
        let r = &self.slots[id.0 as usize];
        r.live && r.id_gen == id_gen
    }

    /// Requests in flight.
    pub fn live(&self) -> usize {
        self.live
    }

    /// The live requests (for end-of-run reporting of requests that never finished).
    pub fn live_requests(&self) -> impl Iterator<Item = &Request> {
        self.slots.iter().filter(|r| r.live)
    }
}
