//! Which host each user's key maps to, phase by phase, to show what consistent hashing moves
//! on failover: for each phase after the first, the users seen in both it and the phase before
//! (or any earlier phase), and how many of them were sent to a different host.
//!
//! A user's host in a phase is the host its most recent request's first attempt went to (the
//! client proxy's pick; through an east-west gateway, the gateway replica). Retries are left
//! out: they show where a failed request went, not where the key maps.

use serde::Serialize;

use crate::model::ids::EndpointId;

/// Not seen in the phase.
const UNSEEN: u32 = u32::MAX;

/// Users whose host changed between two phases.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KeysMoved {
    /// Users with requests in both this phase and the one before.
    pub compared: u64,
    /// Those whose host differs.
    pub moved: u64,
    /// `moved / compared` (0 when nothing was compared).
    pub fraction: f64,
}

/// The per-user host of every phase so far: the closed phases' records are kept, so that a phase
/// can be compared with any earlier one (did the users come back to the host they had before a
/// failure?), not only with the one before it.
#[derive(Clone, Debug)]
pub struct KeyTracker {
    /// The phase in progress.
    current: Vec<u32>,
    /// The record of each closed phase, in order.
    closed: Vec<Vec<u32>>,
}

impl KeyTracker {
    /// A tracker for `users` users.
    pub fn new(users: usize) -> KeyTracker {
        KeyTracker { current: vec![UNSEEN; users], closed: Vec::new() }
    }

    /// Bytes it holds per user and phase.
    pub const BYTES_PER_USER_PHASE: usize = std::mem::size_of::<u32>();

    /// User `user`'s request went first to `host`.
    #[inline]
    pub fn observe(&mut self, user: u32, host: EndpointId) {
        if let Some(slot) = self.current.get_mut(user as usize) {
            *slot = host.0;
        }
    }

    /// Phase `index` starts: the phase in progress closes and a fresh record begins. Phase 0
    /// starts at time zero and needs no call.
    pub fn start_phase(&mut self, index: usize) {
        while self.closed.len() < index {
            let fresh = vec![UNSEEN; self.current.len()];
            self.closed.push(std::mem::replace(&mut self.current, fresh));
        }
    }

    fn record(&self, index: usize) -> Option<&[u32]> {
        match index.cmp(&self.closed.len()) {
            std::cmp::Ordering::Less => Some(&self.closed[index]),
            std::cmp::Ordering::Equal => Some(&self.current),
            std::cmp::Ordering::Greater => None,
        }
    }

    /// The users of phase `index` compared with the phase before it; `None` for phase 0 and for
    /// phases not reached.
    pub fn result(&self, index: usize) -> Option<KeysMoved> {
        self.result_since(index, index.checked_sub(1)?)
    }

    /// The users of phase `index` compared with the earlier phase `since`; `None` unless
    /// `since < index` and phase `index` was reached.
    pub fn result_since(&self, index: usize, since: usize) -> Option<KeysMoved> {
        if since >= index {
            return None;
        }
        let (now, then) = (self.record(index)?, self.record(since)?);
        let (mut compared, mut moved) = (0u64, 0u64);
        for (x, y) in now.iter().zip(then) {
            if *x != UNSEEN && *y != UNSEEN {
                compared += 1;
                if x != y {
                    moved += 1;
                }
            }
        }
        let fraction = if compared == 0 { 0.0 } else { moved as f64 / compared as f64 };
        Some(KeysMoved { compared, moved, fraction })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Phase 1 moves user 1 (host 7 → 9) of the two users seen in both phases; user 2 was not
    /// seen in phase 0, so it is not compared. Phase 2 compares with phase 1 only.
    #[test]
    fn counts_users_whose_host_changed() {
        let mut k = KeyTracker::new(3);
        k.observe(0, EndpointId(5));
        k.observe(1, EndpointId(7));
        assert_eq!(k.result(0), None);
        k.start_phase(1);
        k.observe(0, EndpointId(5));
        k.observe(1, EndpointId(8));
        k.observe(1, EndpointId(9));
        k.observe(2, EndpointId(5));
        assert_eq!(k.result(1), Some(KeysMoved { compared: 2, moved: 1, fraction: 0.5 }));
        k.start_phase(2);
        k.observe(1, EndpointId(9));
        assert_eq!(k.result(1), Some(KeysMoved { compared: 2, moved: 1, fraction: 0.5 }));
        assert_eq!(k.result(2), Some(KeysMoved { compared: 1, moved: 0, fraction: 0.0 }));
        assert_eq!(k.result(3), None);
        // Phase 2 against phase 0: user 1 was on host 7 then, on 9 now.
        assert_eq!(k.result_since(2, 0), Some(KeysMoved { compared: 1, moved: 1, fraction: 1.0 }));
        assert_eq!(k.result_since(2, 2), None);
    }

    /// A user who leaves its host in a failure and comes back to it after: moved against the
    /// phase before, not against the phase before the failure.
    #[test]
    fn a_phase_compares_with_any_earlier_one() {
        let mut k = KeyTracker::new(2);
        k.observe(0, EndpointId(1));
        k.observe(1, EndpointId(2));
        k.start_phase(1);
        k.observe(0, EndpointId(4));
        k.observe(1, EndpointId(4));
        k.start_phase(2);
        k.observe(0, EndpointId(1));
        k.observe(1, EndpointId(3));
        assert_eq!(k.result(1), Some(KeysMoved { compared: 2, moved: 2, fraction: 1.0 }));
        assert_eq!(k.result(2), Some(KeysMoved { compared: 2, moved: 2, fraction: 1.0 }));
        assert_eq!(k.result_since(2, 0), Some(KeysMoved { compared: 2, moved: 1, fraction: 0.5 }));
    }
}
