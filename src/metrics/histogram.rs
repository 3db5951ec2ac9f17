//! A fixed-bucket, log-linear latency histogram: deterministic, mergeable, allocation-free to
//! record into. 16 sub-buckets per power of two give a relative error under 6.25 %.

/// Sub-buckets per octave.
const SUB: u64 = 16;
/// Values below 2^MIN_OCTAVE ns share the first octave's linear buckets.
const MIN_OCTAVE: u32 = 10;
/// Octaves covered above that (up to 2^42 ns ≈ 73 minutes; larger values land in the last).
const N_OCTAVES: u32 = 32;
/// Number of buckets.
pub const N_BUCKETS: usize = (SUB as usize) * (N_OCTAVES as usize + 1);

/// Latency counts in fixed buckets.
///
/// Only the span of buckets from the lowest to the highest one recorded is stored (a run keeps
/// one histogram per output bucket and phase, and latencies seldom span more than a few
/// octaves): the counts are those of a full histogram whose other buckets are zero.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    /// The bucket of `counts[0]`.
    first: usize,
    /// Counts of buckets `first..first + counts.len()`; empty until a value is recorded.
    counts: Vec<u32>,
    total: u64,
}

/// Equal when every bucket holds the same count, however much of the span each stores.
impl PartialEq for Histogram {
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total && self.nonzero().eq(other.nonzero())
    }
}
impl Eq for Histogram {}

/// The bucket of a value in nanoseconds.
#[inline]
pub fn bucket_of(ns: u64) -> usize {
    let min = 1u64 << MIN_OCTAVE;
    if ns < min {
        return (ns * SUB / min) as usize;
    }
    let octave = 63 - ns.leading_zeros(); // ≥ MIN_OCTAVE
    if octave >= MIN_OCTAVE + N_OCTAVES {
        return N_BUCKETS - 1;
    }
    let sub = (ns >> (octave - 4)) & (SUB - 1);
    (SUB as usize) * (1 + (octave - MIN_OCTAVE) as usize) + sub as usize
}

/// The lower bound of a bucket in nanoseconds.
pub fn bucket_low(b: usize) -> u64 {
    let min = 1u64 << MIN_OCTAVE;
    let sub = (b as u64) % SUB;
    let row = (b as u64) / SUB;
    if row == 0 {
        return sub * min / SUB;
    }
    let octave = MIN_OCTAVE as u64 + row - 1;
    (1u64 << octave) + sub * (1u64 << (octave - 4))
}

impl Histogram {
    /// `(bucket, count)` for each stored bucket, lowest first.
    fn buckets(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.counts.iter().enumerate().map(|(i, &c)| (self.first + i, c))
    }

    /// `(bucket, count)` for each non-empty bucket, lowest first.
    fn nonzero(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.buckets().filter(|&(_, c)| c > 0)
    }

    /// The count of bucket `b`.
    fn count(&self, b: usize) -> u32 {
        b.checked_sub(self.first).and_then(|i| self.counts.get(i)).copied().unwrap_or(0)
    }

    /// Stretches the stored span to cover bucket `b`; returns `b`'s index in `counts`.
    #[cold]
    fn widen(&mut self, b: usize) -> usize {
        if self.counts.is_empty() {
            self.first = b;
            self.counts.push(0);
        } else if b < self.first {
            self.counts.splice(0..0, std::iter::repeat_n(0, self.first - b));
            self.first = b;
        } else if b >= self.first + self.counts.len() {
            self.counts.resize(b - self.first + 1, 0);
        }
        b - self.first
    }

    /// The index in `counts` of bucket `b`, widening the span if needed.
    #[inline]
    fn slot(&mut self, b: usize) -> usize {
        match b.checked_sub(self.first) {
            Some(i) if i < self.counts.len() => i,
            _ => self.widen(b),
        }
    }

    /// Adds one value.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let i = self.slot(bucket_of(ns));
        self.counts[i] += 1;
        self.total += 1;
    }

    /// Number of values recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (b, c) in other.nonzero() {
            let i = self.slot(b);
            self.counts[i] += c;
        }
        self.total += other.total;
    }

    /// These counts less those of `part`, a histogram of some of the same values.
    pub fn without(&self, part: &Histogram) -> Histogram {
        let counts: Vec<u32> = self.buckets().map(|(b, a)| a.saturating_sub(part.count(b))).collect();
        let total = counts.iter().map(|c| u64::from(*c)).sum();
        Histogram { first: self.first, counts, total }
    }

    /// The lower bound in nanoseconds of the first non-empty bucket; `None` when empty.
    pub fn min_bucket_low(&self) -> Option<u64> {
        self.nonzero().next().map(|(b, _)| bucket_low(b))
    }

    /// The `q`-quantile (0 < q ≤ 1) in nanoseconds: the midpoint of the bucket holding the
    /// `⌈q·n⌉`-th value; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (b, c) in self.buckets() {
            seen += u64::from(c);
            if seen >= rank {
                let lo = bucket_low(b);
                let hi = if b + 1 < N_BUCKETS { bucket_low(b + 1) } else { lo };
                return Some(lo + (hi - lo) / 2);
            }
        }
        None
    }

    /// `(bucket midpoint in ns, cumulative fraction)` for each non-empty bucket: the steps of
    /// the eCDF at the values [`Histogram::quantile`] reports, so that the curve crosses `q`
    /// exactly at `quantile(q)`.
    pub fn ecdf_mid(&self) -> Vec<(u64, f64)> {
        let mut out = Vec::new();
        let mut seen = 0u64;
        for (b, c) in self.nonzero() {
            seen += u64::from(c);
            let lo = bucket_low(b);
            let hi = if b + 1 < N_BUCKETS { bucket_low(b + 1) } else { lo };
            out.push((lo + (hi - lo) / 2, seen as f64 / self.total as f64));
        }
        out
    }

    /// `(upper bound in ns, cumulative fraction)` points of the eCDF, one per non-empty bucket.
    pub fn ecdf(&self) -> Vec<(u64, f64)> {
        let mut out = Vec::new();
        let mut seen = 0u64;
        for (b, c) in self.nonzero() {
            seen += u64::from(c);
            let hi = if b + 1 < N_BUCKETS { bucket_low(b + 1) } else { bucket_low(b) };
            out.push((hi, seen as f64 / self.total as f64));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_tight() {
        let mut prev = 0;
        for ns in (0..5_000_000u64).step_by(997) {
            let b = bucket_of(ns);
            assert!(b >= prev);
            prev = b;
            assert!(bucket_low(b) <= ns, "{ns} in bucket {b} low {}", bucket_low(b));
            if b + 1 < N_BUCKETS {
                assert!(ns < bucket_low(b + 1));
            }
        }
    }

    #[test]
    fn quantiles_within_bucket_error() {
        let mut h = Histogram::default();
        for i in 1..=1000u64 {
            h.record(i * 1_000_000); // 1..1000 ms
        }
        let p50 = h.quantile(0.5).unwrap() as f64 / 1e6;
        let p99 = h.quantile(0.99).unwrap() as f64 / 1e6;
        assert!((p50 - 500.0).abs() / 500.0 < 0.0625, "{p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.0625, "{p99}");
        assert_eq!(h.quantile(1.0).map(|v| v > 950_000_000), Some(true));
    }

    /// The stored span against a full array of `N_BUCKETS` counts kept beside it: the same
    /// quantiles, eCDF, merge and difference for values recorded in a seeded random order
    /// (the span widens downwards and upwards), and only the recorded span is stored.
    #[test]
    fn span_matches_a_full_array() {
        let mut rng = crate::engine::SimRng::new(11).fork("span_matches_a_full_array");
        for _ in 0..200 {
            let mut h = Histogram::default();
            let mut part = Histogram::default();
            let mut full = vec![0u64; N_BUCKETS];
            let n = 1 + rng.below(300);
            for _ in 0..n {
                let ns = rng.below(1 << 24) << rng.below(16);
                h.record(ns);
                full[bucket_of(ns)] += 1;
                if rng.below(3) == 0 {
                    part.record(ns);
                }
            }
            let used: Vec<usize> = (0..N_BUCKETS).filter(|&b| full[b] > 0).collect();
            assert_eq!(h.counts.len(), used[used.len() - 1] - used[0] + 1);
            assert_eq!(h.min_bucket_low(), Some(bucket_low(used[0])));
            assert_eq!(h.ecdf().len(), used.len());
            let mut seen = 0;
            for (&b, &(x, f)) in used.iter().zip(&h.ecdf()) {
                seen += full[b];
                assert_eq!(x, if b + 1 < N_BUCKETS { bucket_low(b + 1) } else { bucket_low(b) });
                assert_eq!(f, seen as f64 / n as f64);
            }
            let rest = h.without(&part);
            assert_eq!(rest.total() + part.total(), n);
            let mut merged = Histogram::default();
            merged.merge(&part);
            merged.merge(&rest);
            assert_eq!(merged, h);
            assert_eq!(merged.quantile(0.5), h.quantile(0.5));
        }
    }
}
