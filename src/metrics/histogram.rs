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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u32>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; N_BUCKETS], total: 0 }
    }
}

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
    /// Adds one value.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket_of(ns)] += 1;
        self.total += 1;
    }

    /// Number of values recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// These counts less those of `part`, a histogram of some of the same values.
    pub fn without(&self, part: &Histogram) -> Histogram {
        let counts: Vec<u32> = self.counts.iter().zip(&part.counts).map(|(a, b)| a.saturating_sub(*b)).collect();
        let total = counts.iter().map(|c| u64::from(*c)).sum();
        Histogram { counts, total }
    }

    /// The lower bound in nanoseconds of the first non-empty bucket; `None` when empty.
    pub fn min_bucket_low(&self) -> Option<u64> {
        self.counts.iter().position(|c| *c > 0).map(bucket_low)
    }

    /// The `q`-quantile (0 < q ≤ 1) in nanoseconds: the midpoint of the bucket holding the
    /// `⌈q·n⌉`-th value; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (b, &c) in self.counts.iter().enumerate() {
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
        for (b, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                seen += u64::from(c);
                let lo = bucket_low(b);
                let hi = if b + 1 < N_BUCKETS { bucket_low(b + 1) } else { lo };
                out.push((lo + (hi - lo) / 2, seen as f64 / self.total as f64));
            }
        }
        out
    }

    /// `(upper bound in ns, cumulative fraction)` points of the eCDF, one per non-empty bucket.
    pub fn ecdf(&self) -> Vec<(u64, f64)> {
        let mut out = Vec::new();
        let mut seen = 0u64;
        for (b, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                seen += u64::from(c);
                let hi = if b + 1 < N_BUCKETS { bucket_low(b + 1) } else { bucket_low(b) };
                out.push((hi, seen as f64 / self.total as f64));
            }
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
}
