//! Choosing settings: the objective (a metric to minimize or maximize, under constraints such as
//! `false_ejections == 0`), the ranking of points under it with paired comparisons against the
//! best, and Pareto fronts of two metrics.

use std::fmt;

use super::metrics::{Goal, METRICS, RunMetrics, metric_index, metric_names};
use super::stats::{Stat, Summary};

/// A comparison operator of a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    const ALL: [(&'static str, Op); 6] =
        [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)];

    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }

    fn as_str(self) -> &'static str {
        Op::ALL.iter().find(|(_, o)| *o == self).map_or("==", |(s, _)| s)
    }
}

/// A condition a point must meet to be chosen, e.g. `false_ejections == 0` or
/// `max(failover_s) <= 5`. It looks at one statistic of the point (the mean unless named), and
/// fails when any run of the point lacks a value of the metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraint {
    /// Index into [`METRICS`].
    pub metric: usize,
    /// Statistic compared.
    pub stat: Stat,
    /// Comparison.
    pub op: Op,
    /// Right-hand side.
    pub value: f64,
}

impl Constraint {
    /// Parses `[STAT(]METRIC[)] OP NUMBER`.
    pub fn parse(text: &str) -> Result<Constraint, String> {
        let (lhs, op, rhs) = Op::ALL
            .iter()
            .find_map(|(s, op)| text.split_once(s).map(|(l, r)| (l.trim(), *op, r.trim())))
            .ok_or_else(|| format!("`{text}`: expected METRIC OP NUMBER with OP one of <, <=, >, >=, ==, !="))?;
        let value: f64 = rhs.parse().map_err(|_| format!("`{text}`: `{rhs}` is not a number"))?;
        let (stat, name) = match lhs.split_once('(') {
            Some((stat, rest)) => {
                let name = rest.strip_suffix(')').ok_or_else(|| format!("`{text}`: missing `)`"))?.trim();
                let stat = Stat::NAMES
                    .iter()
                    .find(|(n, _)| *n == stat.trim())
                    .map(|(_, s)| *s)
                    .ok_or_else(|| format!("`{text}`: `{stat}` is not one of mean, min, max, ci95_lo, ci95_hi"))?;
                (stat, name)
            }
            None => (Stat::Mean, lhs),
        };
        let metric = metric_index(name)
            .ok_or_else(|| format!("`{text}`: `{name}` is not a metric; the metrics are {}", metric_names()))?;
        Ok(Constraint { metric, stat, op, value })
    }

    /// Whether a point's summaries satisfy it; `complete` says whether every run has a value.
    pub fn holds(&self, s: &Summary, n_runs: usize) -> bool {
        s.n == n_runs && self.op.holds(s.stat(self.stat), self.value)
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = METRICS[self.metric].name;
        match self.stat {
            Stat::Mean => write!(f, "{name} {} {}", self.op.as_str(), self.value),
            s => write!(f, "{}({name}) {} {}", s.as_str(), self.op.as_str(), self.value),
        }
    }
}

/// What "best" means for a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// Index into [`METRICS`] of the metric whose mean is optimized.
    pub metric: usize,
    /// Minimize or maximize it.
    pub goal: Goal,
    /// Conditions a point must meet.
    pub constraints: Vec<Constraint>,
}

impl Default for Objective {
    /// Minimize total client errors, unconstrained.
    fn default() -> Self {
        Objective { metric: 0, goal: Goal::Minimize, constraints: Vec::new() }
    }
}

impl Objective {
    /// Parses a metric name and a goal (`minimize`/`maximize`).
    pub fn new(metric: &str, goal: &str, constraints: &[String]) -> Result<Objective, String> {
        let metric = metric_index(metric)
            .ok_or_else(|| format!("`{metric}` is not a metric; the metrics are {}", metric_names()))?;
        let goal = match goal {
            "minimize" | "min" => Goal::Minimize,
            "maximize" | "max" => Goal::Maximize,
            other => return Err(format!("`{other}` is not a goal; use minimize or maximize")),
        };
        let constraints = constraints.iter().map(|c| Constraint::parse(c)).collect::<Result<_, _>>()?;
        Ok(Objective { metric, goal, constraints })
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} the mean of {}", self.goal.as_str(), METRICS[self.metric].name)?;
        for (i, c) in self.constraints.iter().enumerate() {
            write!(f, "{} {c}", if i == 0 { " subject to" } else { " and" })?;
        }
        Ok(())
    }
}

/// The per-point data selection works on.
#[derive(Debug, Clone)]
pub struct PointStats {
    /// Point index.
    pub point: usize,
    /// Runs of the point, by replicate (`None` where a run is missing).
    pub runs: Vec<RunMetrics>,
    /// Summary per metric.
    pub summaries: Vec<Summary>,
}

/// One ranked point.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Point index.
    pub point: usize,
    /// Whether it meets every constraint.
    pub feasible: bool,
    /// Paired 95 % interval of (this point − the best) over common seeds; `None` for the best.
    pub vs_best: Option<Summary>,
}

/// Ranks the points: feasible ones with a value in every run first, by the objective's mean
/// (ties by point index), then the others by the same order. Each point is compared with the
/// first by the mean difference over common seeds (runs of the same replicate share a seed).
pub fn rank(points: &[PointStats], objective: &Objective) -> Vec<Ranked> {
    let m = objective.metric;
    let complete = |p: &PointStats| p.summaries[m].n == p.runs.len() && p.summaries[m].n > 0;
    let feasible = |p: &PointStats| {
        complete(p) && objective.constraints.iter().all(|c| c.holds(&p.summaries[c.metric], p.runs.len()))
    };
    let mut order: Vec<&PointStats> = points.iter().collect();
    order.sort_by(|a, b| {
        let key = |p: &PointStats| (!feasible(p), !complete(p));
        key(a).cmp(&key(b)).then_with(|| {
            let (x, y) = (a.summaries[m].mean, b.summaries[m].mean);
            let ord = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
            let ord = if objective.goal == Goal::Maximize { ord.reverse() } else { ord };
            ord.then(a.point.cmp(&b.point))
        })
    });
    let best = order.first().copied();
    order
        .iter()
        .map(|p| Ranked {
            point: p.point,
            feasible: feasible(p),
            vs_best: best.filter(|b| b.point != p.point).map(|b| paired_difference(p, b, m)),
        })
        .collect()
}

/// Summary of `a − b` of metric `m` over replicates where both have a value.
pub fn paired_difference(a: &PointStats, b: &PointStats, m: usize) -> Summary {
    let diffs: Vec<f64> = a.runs.iter().zip(&b.runs).filter_map(|(x, y)| Some(x.get(m)? - y.get(m)?)).collect();
    Summary::of(&diffs)
}

/// The points on the Pareto front of metrics `x` and `y` (each in its own better direction, by
/// mean over complete points): no other point is at least as good in both and better in one.
/// Sorted by `x`, then `y`, then point index.
pub fn pareto_front(points: &[PointStats], x: usize, y: usize) -> Vec<usize> {
    let cand: Vec<(usize, f64, f64)> = points
        .iter()
        .filter(|p| [x, y].iter().all(|&m| p.summaries[m].n == p.runs.len() && p.summaries[m].n > 0))
        .map(|p| (p.point, p.summaries[x].mean, p.summaries[y].mean))
        .collect();
    let (gx, gy) = (METRICS[x].goal, METRICS[y].goal);
    let not_worse = |g: Goal, a: f64, b: f64| !g.better(b, a);
    let mut front: Vec<(usize, f64, f64)> = cand
        .iter()
        .filter(|(_, ax, ay)| {
            !cand.iter().any(|(_, bx, by)| {
                not_worse(gx, *bx, *ax) && not_worse(gy, *by, *ay) && (gx.better(*bx, *ax) || gy.better(*by, *ay))
            })
        })
        .copied()
        .collect();
    let ord = |g: Goal, a: f64, b: f64| {
        let o = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
        if g == Goal::Maximize { o.reverse() } else { o }
    };
    front.sort_by(|a, b| ord(gx, a.1, b.1).then(ord(gy, a.2, b.2)).then(a.0.cmp(&b.0)));
    front.into_iter().map(|(p, _, _)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::metrics::N_METRICS;

    fn point(idx: usize, runs: &[[Option<f64>; 2]]) -> PointStats {
        // Metric 0 (errors) and 5 (false_ejections) carry the data; the others are empty.
        let runs: Vec<RunMetrics> = runs
            .iter()
            .map(|r| {
                let mut v = [Some(0.0); N_METRICS];
                v[0] = r[0];
                v[5] = r[1];
                RunMetrics(v)
            })
            .collect();
        let summaries =
            (0..N_METRICS).map(|m| Summary::of(&runs.iter().filter_map(|r| r.get(m)).collect::<Vec<_>>())).collect();
        PointStats { point: idx, runs, summaries }
    }

    #[test]
    fn constraints_parse_and_print() {
        let c = Constraint::parse("false_ejections == 0").unwrap();
        assert_eq!((c.metric, c.stat, c.op, c.value), (5, Stat::Mean, Op::Eq, 0.0));
        let c = Constraint::parse("max(failover_s) <= 2.5").unwrap();
        assert_eq!((c.metric, c.stat, c.op, c.value), (3, Stat::Max, Op::Le, 2.5));
        assert_eq!(c.to_string(), "max(failover_s) <= 2.5");
        assert!(Constraint::parse("nope < 1").unwrap_err().contains("not a metric"));
        assert!(Constraint::parse("errors ~ 1").unwrap_err().contains("expected METRIC OP NUMBER"));
        assert!(Constraint::parse("median(errors) < 1").unwrap_err().contains("not one of"));
        assert!(Constraint::parse("errors < x").unwrap_err().contains("not a number"));
    }

    #[test]
    fn ranking_puts_feasible_points_first() {
        let points = vec![
            point(0, &[[Some(1.0), Some(2.0)], [Some(3.0), Some(0.0)]]), // errors 2, false 1: infeasible
            point(1, &[[Some(10.0), Some(0.0)], [Some(14.0), Some(0.0)]]), // errors 12, feasible
            point(2, &[[Some(5.0), Some(0.0)], [Some(7.0), Some(0.0)]]), // errors 6, feasible
            point(3, &[[None, Some(0.0)], [Some(1.0), Some(0.0)]]),      // incomplete
        ];
        let obj = Objective::new("errors", "minimize", &["false_ejections == 0".into()]).unwrap();
        let r = rank(&points, &obj);
        assert_eq!(r.iter().map(|x| x.point).collect::<Vec<_>>(), vec![2, 1, 0, 3]);
        assert!(r[0].feasible && r[1].feasible && !r[2].feasible && !r[3].feasible);
        // Paired differences of point 1 vs point 2: 10 − 5 = 5 and 14 − 7 = 7, mean 6.
        let d = r[1].vs_best.unwrap();
        assert_eq!((d.n, d.mean, d.min, d.max), (2, 6.0, 5.0, 7.0));
        assert!(r[0].vs_best.is_none());
    }

    #[test]
    fn pareto_front_of_two_minimized_metrics() {
        // (errors, false_ejections) means: p0 (1, 5), p1 (2, 2), p2 (3, 3) dominated by p1,
        // p3 (5, 0), p4 (2, 2) ties p1 and is not dominated.
        let points = vec![
            point(0, &[[Some(1.0), Some(5.0)]]),
            point(1, &[[Some(2.0), Some(2.0)]]),
            point(2, &[[Some(3.0), Some(3.0)]]),
            point(3, &[[Some(5.0), Some(0.0)]]),
            point(4, &[[Some(2.0), Some(2.0)]]),
        ];
        assert_eq!(pareto_front(&points, 0, 5), vec![0, 1, 4, 3]);
    }

    #[test]
    fn objective_text() {
        let obj = Objective::new(
            "errors_failover",
            "minimize",
            &["false_ejections == 0".into(), "ci95_hi(failover_s) < 5".into()],
        )
        .unwrap();
        assert_eq!(
            obj.to_string(),
            "minimize the mean of errors_failover subject to false_ejections == 0 and ci95_hi(failover_s) < 5"
        );
        assert!(Objective::new("errors", "smallest", &[]).unwrap_err().contains("not a goal"));
    }
}
