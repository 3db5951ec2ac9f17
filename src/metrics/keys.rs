//! Which host each user's key maps to, phase by phase, to show what consistent hashing moves
//! on failover: for each phase after the first, the users seen in both it and the phase before,
//! and how many of them were sent to a different host.
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

/// The per-user host of the phase in progress and of the phase before it.
#[derive(Clone, Debug)]
pub struct KeyTracker {
    current: Vec<u32>,
    previous: Vec<u32>,
    /// The phase in progress.
    open: usize,
    /// The result of each closed phase (`None` for phase 0, which has nothing before it).
    closed: Vec<Option<KeysMoved>>,
}

impl KeyTracker {
    /// A tracker for `users` users.
    pub fn new(users: usize) -> KeyTracker {
        KeyTracker { current: vec![UNSEEN; users], previous: vec![UNSEEN; users], open: 0, closed: Vec::new() }
    }

    /// Bytes it holds per user.
    pub const BYTES_PER_USER: usize = 2 * std::mem::size_of::<u32>();

    /// User `user`'s request went first to `host`.
    #[inline]
    pub fn observe(&mut self, user: u32, host: EndpointId) {
        if let Some(slot) = self.current.get_mut(user as usize) {
            *slot = host.0;
        }
    }

    /// Phase `index` starts: the phase in progress closes (compared with the one before it)
    /// and a fresh record begins. Phase 0 starts at time zero and needs no call.
    pub fn start_phase(&mut self, index: usize) {
        if index <= self.open {
            return;
        }
        while self.open < index {
            let result = self.result_open();
            self.closed.push(result);
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.fill(UNSEEN);
            self.open += 1;
        }
    }

    /// The users of phase `index` compared with the phase before it; `None` for phase 0 and for
    /// phases not reached.
    pub fn result(&self, index: usize) -> Option<KeysMoved> {
        match index.cmp(&self.open) {
            std::cmp::Ordering::Less => self.closed[index],
            std::cmp::Ordering::Equal => self.result_open(),
            std::cmp::Ordering::Greater => None,
        }
    }

    fn result_open(&self) -> Option<KeysMoved> {
        if self.open == 0 {
            return None;
        }
        let (mut compared, mut moved) = (0u64, 0u64);
        for (x, y) in self.current.iter().zip(&self.previous) {
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
    }
}
