//! Statistics across the seeds of one point: mean, min, max and a 95 % confidence interval of the
//! mean (Student's t, which is right for few seeds if the metric is roughly normal across seeds).

/// The summary of one metric over the runs of one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Runs with a value.
    pub n: usize,
    /// Mean (NaN when `n == 0`).
    pub mean: f64,
    /// Smallest value (NaN when `n == 0`).
    pub min: f64,
    /// Largest value (NaN when `n == 0`).
    pub max: f64,
    /// Lower end of the 95 % confidence interval of the mean (NaN when `n < 2`).
    pub ci95_lo: f64,
    /// Upper end (NaN when `n < 2`).
    pub ci95_hi: f64,
}

impl Summary {
    /// Summarizes `values`, summing in the given order (so the result does not depend on threads).
    pub fn of(values: &[f64]) -> Summary {
        let n = values.len();
        if n == 0 {
            return Summary { n, mean: f64::NAN, min: f64::NAN, max: f64::NAN, ci95_lo: f64::NAN, ci95_hi: f64::NAN };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (ci95_lo, ci95_hi) = if n < 2 {
            (f64::NAN, f64::NAN)
        } else {
            let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
            let half = t_975(n - 1) * (var / n as f64).sqrt();
            (mean - half, mean + half)
        };
        Summary { n, mean, min, max, ci95_lo, ci95_hi }
    }

    /// The same summary with its confidence interval kept at or above `lower`, the smallest value
    /// the metric can take (the mean, min and max are already there).
    pub fn clipped_at(self, lower: f64) -> Summary {
        let clip = |x: f64| if x.is_nan() { x } else { x.max(lower) };
        Summary { ci95_lo: clip(self.ci95_lo), ci95_hi: clip(self.ci95_hi), ..self }
    }

    /// A named statistic: `mean`, `min`, `max`, `ci95_lo` or `ci95_hi`.
    pub fn stat(&self, name: Stat) -> f64 {
        match name {
            Stat::Mean => self.mean,
            Stat::Min => self.min,
            Stat::Max => self.max,
            Stat::Ci95Lo => self.ci95_lo,
            Stat::Ci95Hi => self.ci95_hi,
        }
    }
}

/// Which statistic of a [`Summary`] a constraint looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// The mean.
    Mean,
    /// The minimum over seeds.
    Min,
    /// The maximum over seeds.
    Max,
    /// The lower end of the 95 % confidence interval.
    Ci95Lo,
    /// The upper end of the 95 % confidence interval.
    Ci95Hi,
}

impl Stat {
    /// The names accepted in constraints.
    pub const NAMES: [(&'static str, Stat); 5] = [
        ("mean", Stat::Mean),
        ("min", Stat::Min),
        ("max", Stat::Max),
        ("ci95_lo", Stat::Ci95Lo),
        ("ci95_hi", Stat::Ci95Hi),
    ];

    /// The statistic's name.
    pub fn as_str(self) -> &'static str {
        Stat::NAMES.iter().find(|(_, s)| *s == self).map_or("mean", |(n, _)| n)
    }
}

/// Two-sided 97.5 % quantiles of Student's t for 1 to 30 degrees of freedom.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// The 97.5 % quantile of Student's t with `df` degrees of freedom: a table up to 30, then the
/// Cornish–Fisher expansion around the normal quantile 1.959964 (error below 0.001).
pub fn t_975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T_975[df - 1],
        _ => {
            let z = 1.959_964_f64;
            let d = df as f64;
            // Powers by multiplication (`powi` is not portable).
            let (z3, z5) = (z * z * z, z * z * z * z * z);
            z + (z3 + z) / (4.0 * d) + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * d * d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_three_values() {
        // mean 2, sample sd 1, t(2) = 4.303: half width 4.303 / sqrt(3) = 2.484338.
        let s = Summary::of(&[1.0, 2.0, 3.0]);
        assert_eq!((s.n, s.mean, s.min, s.max), (3, 2.0, 1.0, 3.0));
        assert!((s.ci95_lo - (2.0 - 2.484_338)).abs() < 1e-6, "{s:?}");
        assert!((s.ci95_hi - (2.0 + 2.484_338)).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn constant_values_have_a_zero_width_interval() {
        let s = Summary::of(&[4.0; 20]);
        assert_eq!((s.mean, s.ci95_lo, s.ci95_hi), (4.0, 4.0, 4.0));
    }

    #[test]
    fn one_or_no_value() {
        let one = Summary::of(&[7.0]);
        assert_eq!((one.mean, one.min, one.max), (7.0, 7.0, 7.0));
        assert!(one.ci95_lo.is_nan() && one.ci95_hi.is_nan());
        assert!(Summary::of(&[]).mean.is_nan());
    }

    #[test]
    fn intervals_are_clipped_at_the_smallest_possible_value() {
        // Fail-back times 0, 0, 0, 2 s: mean 0.5, sd 1, t(3) = 3.182: 0.5 ± 1.591 reaches -1.091.
        let s = Summary::of(&[0.0, 0.0, 0.0, 2.0]);
        assert!(s.ci95_lo < 0.0, "{s:?}");
        let c = s.clipped_at(0.0);
        assert_eq!(c.ci95_lo, 0.0);
        assert!((c.ci95_hi - 2.091).abs() < 1e-9, "{c:?}");
        assert_eq!((c.mean, c.min, c.max, c.n), (s.mean, s.min, s.max, s.n));
        assert!(Summary::of(&[1.0]).clipped_at(0.0).ci95_lo.is_nan(), "no interval stays none");
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        assert_eq!(t_975(19), 2.093);
        // Published values: t(40) = 2.021, t(60) = 2.000, t(120) = 1.980.
        assert!((t_975(40) - 2.021).abs() < 1e-3);
        assert!((t_975(60) - 2.000).abs() < 1e-3);
        assert!((t_975(120) - 1.980).abs() < 1e-3);
    }
}
