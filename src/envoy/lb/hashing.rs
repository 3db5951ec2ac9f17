//! Envoy's consistent-hashing load balancers: the weight normalisation of the thread-aware base
//! (`common/thread_aware_lb_impl.cc`, `normalizeWeights`), the Ketama ring
//! (`ring_hash/ring_hash_lb.cc`) and the Maglev table (`maglev/maglev_lb.cc`), one per priority.
//!
//! A table maps a 64-bit request hash to a position in the priority's host table. It is built
//! from the priority's healthy hosts (all hosts when the priority is in panic), each with a
//! weight normalised so that the weights sum to at most 1; with `locality_weighted_lb_config`
//! the locality's *configured* weight is folded in (Envoy does not scale it by the locality's
//! health here, unlike the locality scheduler: the `TODO(mergeconflict)` in
//! `thread_aware_lb_impl.cc`).
//!
//! Host keys are the addresses as Envoy prints them (`ip:port`, `Address::asString`): Istio sets
//! neither `use_hostname_for_hashing` nor an `envoy.lb` `hash_key`.

use std::fmt::Write as _;
use std::net::SocketAddrV4;

use crate::envoy::xxhash::xxhash64;

/// Envoy's `DefaultMinRingSize` (`ring_hash_lb.h`), also Istio's default.
pub const DEFAULT_MIN_RING_SIZE: u64 = 1024;
/// Envoy's `DefaultMaxRingSize` (`ring_hash_lb.h`): 8 Mi entries. Istio never sets
/// `maximum_ring_size`, so a `minimumRingSize` above it is rejected by Envoy.
pub const DEFAULT_MAX_RING_SIZE: u64 = 8 * 1024 * 1024;
/// Envoy's `MaglevTable::DefaultTableSize`.
pub const DEFAULT_MAGLEV_TABLE_SIZE: u64 = 65_537;

/// One host entering a table: its index in the priority's host table, its address and its
/// normalised weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormalizedHost {
    /// Position in the priority's host table.
    pub idx: u32,
    /// The host's address, the key hashed onto the ring or table.
    pub address: SocketAddrV4,
    /// `weight × locality share / Σ weights`, in (0, 1].
    pub weight: f64,
}

/// The hosts of one priority as `normalizeWeights` sees them.
pub struct PriorityHosts<'a> {
    /// Host weights, by host-table position.
    pub weights: &'a [u32],
    /// Host addresses, by host-table position.
    pub addresses: &'a [SocketAddrV4],
    /// The hosts eligible (healthy, or all in panic), by host-table position, in host order.
    pub eligible: &'a [u32],
    /// Per locality: its configured weight and its eligible hosts (host-table positions).
    pub localities: &'a [(u32, &'a [u32])],
}

/// `normalizeWeights`: the eligible hosts with weights summing to 1 (the flat case), or each
/// locality's configured share split over its eligible hosts by host weight (the locality
/// case, taken only when `locality_weighted` and the priority has localities). Returns the
/// hosts and the minimum and maximum normalised weight (1.0 and 0.0 when there are none, as
/// Envoy initialises them).
pub fn normalize(p: &PriorityHosts<'_>, locality_weighted: bool) -> (Vec<NormalizedHost>, f64, f64) {
    let mut out = Vec::new();
    let (mut min, mut max) = (1.0f64, 0.0f64);
    let mut push_hosts = |hosts: &[u32], share: f64, out: &mut Vec<NormalizedHost>| {
        let sum: u64 = hosts.iter().map(|&h| u64::from(p.weights[h as usize])).sum();
        for &h in hosts {
            let weight = f64::from(p.weights[h as usize]) * share / sum as f64;
            out.push(NormalizedHost { idx: h, address: p.addresses[h as usize], weight });
            min = min.min(weight);
            max = max.max(weight);
        }
    };
    if !locality_weighted || p.localities.is_empty() {
        push_hosts(p.eligible, 1.0, &mut out);
    } else {
        let sum: u64 = p.localities.iter().map(|(w, _)| u64::from(*w)).sum();
        if sum > 0 {
            for &(w, hosts) in p.localities {
                if w != 0 {
                    push_hosts(hosts, f64::from(w) / sum as f64, &mut out);
                }
            }
        }
    }
    (out, min, max)
}

/// A consistent-hashing table of one priority.
#[derive(Clone, Debug, Default)]
pub enum HashTable {
    /// No hosts: every lookup fails (Envoy returns no host).
    #[default]
    Empty,
    /// A Ketama ring.
    Ring(Ring),
    /// A Maglev lookup table.
    Maglev(Maglev),
}

impl HashTable {
    /// `chooseHost(hash, attempt)`: the host-table position for `hash` on the given host-selection
    /// attempt (0 for the first; later attempts are what a retry host predicate asks for).
    #[inline]
    pub fn choose(&self, hash: u64, attempt: u32) -> Option<u32> {
        match self {
            HashTable::Empty => None,
            HashTable::Ring(r) => r.choose(hash, attempt),
            HashTable::Maglev(m) => m.choose(hash, attempt),
        }
    }

    /// Entries, and the fewest and most entries one host has (Envoy's `size`,
    /// `min_hashes_per_host`/`min_entries_per_host` and `max_…` gauges).
    pub fn stats(&self) -> (u64, u64, u64) {
        match self {
            HashTable::Empty => (0, 0, 0),
            HashTable::Ring(r) => (r.size, r.min_per_host, r.max_per_host),
            HashTable::Maglev(m) => (m.table.len() as u64, m.min_per_host, m.max_per_host),
        }
    }

    /// Bytes the table holds.
    pub fn bytes(&self) -> usize {
        match self {
            HashTable::Empty => 0,
            HashTable::Ring(r) => r.hashes.capacity() * 8 + r.hosts.capacity() * 4,
            HashTable::Maglev(m) => m.table.capacity() * 4,
        }
    }
}

/// Envoy's `RingHashLoadBalancer::Ring`.
#[derive(Clone, Debug, Default)]
pub struct Ring {
    /// Entry hashes, ascending.
    hashes: Vec<u64>,
    /// The host-table position of each entry.
    hosts: Vec<u32>,
    size: u64,
    min_per_host: u64,
    max_per_host: u64,
}

impl Ring {
    /// Builds the ring: `scale = min(⌈min_w × min_size⌉ / min_w, max_size)` hashes in total, so
    /// that the lightest host gets a whole number of them; host after host, entries
    /// `xxHash64("ip:port_i")` are added while a running count stays below the running target
    /// `Σ scale × weight`; then the entries are sorted by hash (equal hashes, which xxHash64
    /// makes practically impossible, keep their insertion order here; Envoy's `std::sort` leaves
    /// their order unspecified).
    pub fn build(hosts: &[NormalizedHost], min_weight: f64, min_ring_size: u64, max_ring_size: u64) -> Ring {
        if hosts.is_empty() {
            return Ring::default();
        }
        let scale = ((min_weight * min_ring_size as f64).ceil() / min_weight).min(max_ring_size as f64);
        let size = scale.ceil() as u64;
        let mut entries: Vec<(u64, u32)> = Vec::with_capacity(size.min(max_ring_size) as usize + hosts.len());
        let (mut current, mut target) = (0.0f64, 0.0f64);
        let (mut min_per_host, mut max_per_host) = (size, 0u64);
        let mut key = String::with_capacity(32);
        for h in hosts {
            key.clear();
            let _ = write!(key, "{}_", h.address);
            let prefix = key.len();
            target += scale * h.weight;
            let mut i = 0u64;
            while current < target {
                key.truncate(prefix);
                let _ = write!(key, "{i}");
                entries.push((xxhash64(key.as_bytes(), 0), h.idx));
                i += 1;
                current += 1.0;
            }
            min_per_host = min_per_host.min(i);
            max_per_host = max_per_host.max(i);
        }
        entries.sort_by_key(|e| e.0);
        let (hashes, hosts) = entries.into_iter().unzip();
        Ring { hashes, hosts, size, min_per_host, max_per_host }
    }

    /// Ketama's `ketama_get_server` as Envoy ports it: the first entry whose hash is at least
    /// `h` (wrapping to the first entry), found by a binary search on signed indices; a later
    /// host-selection attempt moves `attempt` entries further round the ring.
    pub fn choose(&self, h: u64, attempt: u32) -> Option<u32> {
        let n = self.hashes.len() as i64;
        if n == 0 {
            return None;
        }
        let (mut lowp, mut highp) = (0i64, n);
        let mut midp;
        loop {
            midp = (lowp + highp) / 2;
            if midp == n {
                midp = 0;
                break;
            }
            let midval = self.hashes[midp as usize];
            let midval1 = if midp == 0 { 0 } else { self.hashes[midp as usize - 1] };
            if h <= midval && h > midval1 {
                break;
            }
            if midval < h {
                lowp = midp + 1;
            } else {
                highp = midp - 1;
            }
            if lowp > highp {
                midp = 0;
                break;
            }
        }
        let mut pos = midp as u64;
        if attempt > 0 {
            pos = (pos + u64::from(attempt)) % n as u64;
        }
        Some(self.hosts[pos as usize])
    }
}

/// Envoy's `MaglevTable` (the original and the compact variants fill the same table).
#[derive(Clone, Debug, Default)]
pub struct Maglev {
    /// The host-table position of each slot.
    table: Vec<u32>,
    min_per_host: u64,
    max_per_host: u64,
}

const EMPTY_SLOT: u32 = u32::MAX;

impl Maglev {
    /// `constructMaglevTableInternal`: hosts sorted by their key (`ip:port` as a string); each
    /// gets `offset = xxHash64(key) mod M` and `skip = xxHash64(key, 1) mod (M − 1) + 1`; then
    /// rounds over the hosts fill the table, a host taking its next free slot of the permutation
    /// `(offset + skip × next) mod M` in round `r` only while `r × weight ≥ target`, its target
    /// growing by the largest weight at each slot taken. `table_size` must be a prime of at
    /// least 2 (validated before; Envoy's check lets 1 through and then divides by zero).
    pub fn build(hosts: &[NormalizedHost], max_weight: f64, table_size: u64) -> Maglev {
        debug_assert!(table_size >= 2, "a Maglev table needs at least 2 slots");
        if hosts.is_empty() {
            return Maglev::default();
        }
        struct Entry {
            idx: u32,
            offset: u64,
            skip: u64,
            weight: f64,
            target: f64,
            next: u64,
            count: u64,
        }
        let mut keyed: Vec<(String, &NormalizedHost)> = hosts.iter().map(|h| (h.address.to_string(), h)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut entries: Vec<Entry> = keyed
            .iter()
            .map(|(key, h)| Entry {
                idx: h.idx,
                offset: xxhash64(key.as_bytes(), 0) % table_size,
                skip: xxhash64(key.as_bytes(), 1) % (table_size - 1) + 1,
                weight: h.weight,
                target: 0.0,
                next: 0,
                count: 0,
            })
            .collect();
        let permutation = |e: &Entry| (e.offset + e.skip * e.next) % table_size;
        let mut table = vec![EMPTY_SLOT; table_size as usize];
        let mut filled = 0u64;
        let mut iteration: u32 = 1;
        while filled < table_size {
            for e in entries.iter_mut() {
                if filled >= table_size {
                    break;
                }
                if f64::from(iteration) * e.weight < e.target {
                    continue;
                }
                e.target += max_weight;
                let mut c = permutation(e);
                while table[c as usize] != EMPTY_SLOT {
                    e.next += 1;
                    c = permutation(e);
                }
                table[c as usize] = e.idx;
                e.next += 1;
                e.count += 1;
                filled += 1;
            }
            iteration = iteration.wrapping_add(1);
        }
        let min_per_host = entries.iter().map(|e| e.count).min().unwrap_or(0);
        let max_per_host = entries.iter().map(|e| e.count).max().unwrap_or(0);
        Maglev { table, min_per_host, max_per_host }
    }

    /// `chooseHost`: slot `hash mod M`; a later host-selection attempt first flips the hash with
    /// `~0 − attempt + 1` (a value with most bits set, "to achieve a larger change").
    pub fn choose(&self, hash: u64, attempt: u32) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        let mut h = hash;
        if attempt > 0 {
            h ^= u64::from(attempt).wrapping_neg();
        }
        Some(self.table[(h % self.table.len() as u64) as usize])
    }
}

/// Envoy's `Primes::isPrime` (`source/common/common/utility.cc`), which Istio copies for its
/// `tableSize` validation: trial division by odd numbers up to the square root. Note that it
/// calls 1 prime.
pub fn envoy_is_prime(x: u64) -> bool {
    if x != 0 && x < 4 {
        return true;
    }
    if x & 1 == 0 {
        return false;
    }
    let limit = (x as f64).sqrt() as u64;
    let mut factor = 3;
    while factor <= limit {
        if x.is_multiple_of(factor) {
            return false;
        }
        factor += 2;
    }
    true
}
