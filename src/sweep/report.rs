//! The files of a finished sweep, derived from its manifest and run files only: `sweep.csv` (one
//! row per run), `points.csv` (statistics per point), `summary.txt` (the best settings under the
//! objective and the Pareto fronts, as printed), `best.json`, `pareto.csv` and `charts/`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use super::SweepError;
use super::axis::Axis;
use super::metrics::{METRICS, N_METRICS, RunMetrics};
use super::select::{Objective, PointStats, Ranked, pareto_front, rank};
use super::spec::coords_of;
use super::stats::Summary;
use super::store::{self, Manifest, write_if_changed};

/// The derived files in the sweep folder.
pub const DERIVED_FILES: [&str; 5] = ["sweep.csv", "points.csv", "summary.txt", "best.json", "pareto.csv"];
/// The folder of charts.
pub const CHARTS: &str = "charts";

/// Points listed under "top" in the summary.
const TOP: usize = 5;

/// Reads every run of a complete sweep folder and writes its derived files; returns the summary
/// text. `charts = false` skips the charts (and leaves an older `charts/` alone).
pub fn finalize(dir: &Path, m: &Manifest, charts: bool) -> Result<String, SweepError> {
    let manifest_path = dir.join(store::MANIFEST);
    let axes = m.axes();
    let objective = m.objective(&manifest_path)?;
    let pareto = m.pareto(&manifest_path)?;
    let mut runs = Vec::with_capacity(m.n_runs);
    for idx in 0..m.n_runs {
        let r = store::read_run(dir, m, idx)?.ok_or_else(|| SweepError::Incomplete {
            dir: dir.display().to_string(),
            missing: 1,
            total: m.n_runs,
            first: vec![idx],
        })?;
        runs.push(r);
    }
    let points = point_stats(m, &runs);
    let ranked = rank(&points, &objective);
    let fronts: Vec<(usize, usize, Vec<usize>)> =
        pareto.iter().map(|&(x, y)| (x, y, pareto_front(&points, x, y))).collect();
    let summary = summary_text(m, &axes, &objective, &points, &ranked, &fronts);
    write_if_changed(&dir.join("sweep.csv"), &sweep_csv(m, &axes, &runs))?;
    write_if_changed(&dir.join("points.csv"), &points_csv(m, &axes, &points))?;
    write_if_changed(&dir.join("pareto.csv"), &pareto_csv(m, &axes, &points, &fronts))?;
    write_if_changed(&dir.join("best.json"), &best_json(m, &axes, &objective, &points, &ranked))?;
    write_if_changed(&dir.join("summary.txt"), summary.as_bytes())?;
    if charts {
        super::charts::write_charts(&dir.join(CHARTS), m, &axes, &points, &objective, &ranked)?;
    }
    Ok(summary)
}

/// Groups runs by point (runs are in index order, so each point's runs are consecutive). Every
/// metric is a count or a duration, never below 0, so each confidence interval is clipped at 0:
/// a t interval around a mean near 0 can reach below it (a fail-back "-0.168..1.901 s") though
/// no run can.
pub fn point_stats(m: &Manifest, runs: &[RunMetrics]) -> Vec<PointStats> {
    runs.chunks(m.seeds as usize)
        .enumerate()
        .map(|(point, chunk)| PointStats {
            point,
            runs: chunk.to_vec(),
            summaries: (0..N_METRICS)
                .map(|i| Summary::of(&chunk.iter().filter_map(|r| r.get(i)).collect::<Vec<_>>()).clipped_at(0.0))
                .collect(),
        })
        .collect()
}

/// `n` and the noun, singular for 1: `1 point`, `3 points`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A number as the tables write it: rounded to 6 decimals, shortest form, empty for NaN.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        return String::new();
    }
    let r = (x * 1e6).round() / 1e6;
    if r == 0.0 { "0".into() } else { r.to_string() }
}

fn labels(axes: &[Axis], point: usize) -> Vec<String> {
    axes.iter().zip(coords_of(axes, point)).map(|(a, c)| Axis::display(&a.values[c])).collect()
}

fn csv_bytes(header: Vec<String>, rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).expect("writing to memory");
    for r in rows {
        w.write_record(&r).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

fn sweep_csv(m: &Manifest, axes: &[Axis], runs: &[RunMetrics]) -> Vec<u8> {
    let mut header: Vec<String> = ["idx", "point", "replicate", "seed"].map(String::from).to_vec();
    header.extend(axes.iter().map(|a| a.name.clone()));
    header.extend(METRICS.iter().map(|d| d.name.to_string()));
    let rows = runs
        .iter()
        .enumerate()
        .map(|(idx, r)| {
            let s = m.run(idx);
            let mut row = vec![idx.to_string(), s.point.to_string(), s.replicate.to_string(), s.seed.to_string()];
            row.extend(labels(axes, s.point));
            row.extend(r.0.iter().map(|v| v.map_or(String::new(), num)));
            row
        })
        .collect();
    csv_bytes(header, rows)
}

fn points_csv(m: &Manifest, axes: &[Axis], points: &[PointStats]) -> Vec<u8> {
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(axes.iter().map(|a| a.name.clone()));
    header.push("runs".into());
    for d in &METRICS {
        for stat in ["mean", "min", "max", "ci95_lo", "ci95_hi"] {
            header.push(format!("{}_{stat}", d.name));
        }
        if d.optional {
            header.push(format!("{}_n", d.name));
        }
    }
    let rows = points
        .iter()
        .map(|p| {
            let mut row = vec![p.point.to_string()];
            row.extend(labels(axes, p.point));
            row.push(m.seeds.to_string());
            for (d, s) in METRICS.iter().zip(&p.summaries) {
                row.extend([s.mean, s.min, s.max, s.ci95_lo, s.ci95_hi].map(num));
                if d.optional {
                    row.push(s.n.to_string());
                }
            }
            row
        })
        .collect();
    csv_bytes(header, rows)
}

fn pareto_csv(m: &Manifest, axes: &[Axis], points: &[PointStats], fronts: &[(usize, usize, Vec<usize>)]) -> Vec<u8> {
    let mut header: Vec<String> = ["x_metric", "y_metric", "point"].map(String::from).to_vec();
    header.extend(axes.iter().map(|a| a.name.clone()));
    header.extend(["x_mean", "y_mean"].map(String::from));
    let _ = m;
    let mut rows = Vec::new();
    for (x, y, front) in fronts {
        for &p in front {
            let mut row = vec![METRICS[*x].name.to_string(), METRICS[*y].name.to_string(), p.to_string()];
            row.extend(labels(axes, p));
            row.extend([num(points[p].summaries[*x].mean), num(points[p].summaries[*y].mean)]);
            rows.push(row);
        }
    }
    csv_bytes(header, rows)
}

fn best_json(m: &Manifest, axes: &[Axis], objective: &Objective, points: &[PointStats], ranked: &[Ranked]) -> Vec<u8> {
    let best = &ranked[0];
    let p = &points[best.point];
    let coords = coords_of(axes, best.point);
    let settings: serde_json::Map<String, serde_json::Value> = axes
        .iter()
        .zip(coords)
        .map(|(a, c)| (a.path.clone(), serde_json::to_value(&a.values[c]).unwrap_or(serde_json::Value::Null)))
        .collect();
    let metrics: serde_json::Map<String, serde_json::Value> = METRICS
        .iter()
        .zip(&p.summaries)
        .map(|(d, s)| {
            let f = |x: f64| if x.is_nan() { serde_json::Value::Null } else { json!((x * 1e6).round() / 1e6) };
            (d.name.to_string(), json!({"mean": f(s.mean), "min": f(s.min), "max": f(s.max), "ci95_lo": f(s.ci95_lo), "ci95_hi": f(s.ci95_hi), "n": s.n}))
        })
        .collect();
    let v = json!({
        "objective": objective.to_string(),
        "feasible": best.feasible,
        "feasible_points": ranked.iter().filter(|r| r.feasible).count(),
        "points": m.n_points,
        "seeds": m.seeds,
        "point": best.point,
        "settings": settings,
        "metrics": metrics,
    });
    let mut s = serde_json::to_string_pretty(&v).expect("json");
    s.push('\n');
    s.into_bytes()
}

/// `lo..hi` of a summary's confidence interval, both ends to the same decimals (the coarser of
/// their [`short`] forms), or `n/a`.
fn ci(s: &Summary) -> String {
    if s.ci95_lo.is_nan() {
        return "n/a".into();
    }
    let d = decimals(s.ci95_lo).min(decimals(s.ci95_hi));
    format!("{}..{}", fixed(s.ci95_lo, d), fixed(s.ci95_hi, d))
}

/// The decimals [`short`] writes `x` with.
fn decimals(x: f64) -> usize {
    let a = x.abs();
    if a >= 1000.0 || a == 0.0 || !a.is_finite() { 0 } else { (3.0 - libm::log10(a).floor()).clamp(0.0, 6.0) as usize }
}

/// `x` with `d` decimals, trailing zeros dropped.
fn fixed(x: f64, d: usize) -> String {
    let s = format!("{x:.d$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

/// A number for people: 4 significant digits, whole numbers from 1000 on, no trailing zeros
/// (`5887.6` → `5888`, `0.16843` → `0.1684`, `1.9` → `1.9`).
fn short(x: f64) -> String {
    if x.is_nan() {
        return "-".into();
    }
    fixed(x, decimals(x))
}

/// [`short`] with a sign.
fn signed(x: f64) -> String {
    if x > 0.0 { format!("+{}", short(x)) } else { short(x) }
}

fn settings(axes: &[Axis], point: usize) -> String {
    axes.iter().zip(labels(axes, point)).map(|(a, v)| format!("{}={v}", a.name)).collect::<Vec<_>>().join(", ")
}

/// The text printed at the end of a sweep and written to `summary.txt`.
fn summary_text(
    m: &Manifest,
    axes: &[Axis],
    objective: &Objective,
    points: &[PointStats],
    ranked: &[Ranked],
    fronts: &[(usize, usize, Vec<usize>)],
) -> String {
    let mut s = String::new();
    let om = objective.metric;
    let _ = writeln!(
        s,
        "sweep of {}: {} x {} = {} (spec {})",
        m.scenario,
        count(m.n_points, "point", "points"),
        count(m.seeds as usize, "seed", "seeds"),
        count(m.n_runs, "run", "runs"),
        m.spec_hash
    );
    let _ = writeln!(s, "objective: {objective}");
    let n_feasible = ranked.iter().filter(|r| r.feasible).count();
    let best = &ranked[0];
    if n_feasible == 0 {
        let _ = writeln!(s, "no point meets the constraints; the best shown is the best of the rest");
    } else {
        let verb = if n_feasible == 1 { "meets" } else { "meet" };
        let _ = writeln!(s, "{n_feasible} of {} {verb} the constraints", count(m.n_points, "point", "points"));
    }
    let _ = writeln!(s, "\nbest: point {}: {}", best.point, settings(axes, best.point));
    for (d, sm) in METRICS.iter().zip(&points[best.point].summaries) {
        let _ = writeln!(
            s,
            "  {:<20} mean {:>10}  95% CI {:<22} min {:>9}  max {:>9}{}",
            d.name,
            short(sm.mean),
            ci(sm),
            short(sm.min),
            short(sm.max),
            if sm.n < m.seeds as usize {
                format!(
                    "  ({} of {} {} a value)",
                    sm.n,
                    count(m.seeds as usize, "run", "runs"),
                    if sm.n == 1 { "has" } else { "have" }
                )
            } else {
                String::new()
            }
        );
    }
    let seed = m.run(best.point * m.seeds as usize).seed;
    let sets: Vec<String> = axes
        .iter()
        .zip(coords_of(axes, best.point))
        .map(|(a, c)| format!(" --set '{}={}'", a.path, Axis::set_text(&a.values[c])))
        .collect();
    let _ = writeln!(
        s,
        "  replay its first seed (in the sweep folder): meshsim run scenario.toml --seed {seed}{}",
        sets.concat()
    );
    let _ = writeln!(
        s,
        "\ntop {} by {} (difference to the best is paired over the same seeds; 95% CI):",
        TOP.min(ranked.len()),
        METRICS[om].name
    );
    let _ =
        writeln!(s, "  {:>4}  {:>5}  {:>10}  {:<22}  {:<32}  settings", "rank", "point", "mean", "95% CI", "vs best");
    for (i, r) in ranked.iter().take(TOP).enumerate() {
        let sm = &points[r.point].summaries[om];
        let vs = match &r.vs_best {
            None => "-".to_string(),
            Some(d) if d.ci95_lo.is_nan() => signed(d.mean),
            Some(d) => {
                // The interval of the paired difference contains 0: the data cannot tell the two apart.
                let tie = d.ci95_lo <= 0.0 && d.ci95_hi >= 0.0;
                format!("{} [{}]{}", signed(d.mean), ci(d), if tie { " tie" } else { "" })
            }
        };
        let mark = if r.feasible { "" } else { " (fails constraints)" };
        let _ = writeln!(
            s,
            "  {:>4}  {:>5}  {:>10}  {:<22}  {:<32}  {}{mark}",
            i + 1,
            r.point,
            short(sm.mean),
            ci(sm),
            vs,
            settings(axes, r.point)
        );
    }
    for (x, y, front) in fronts {
        let (xn, yn) = (METRICS[*x].name, METRICS[*y].name);
        let _ = writeln!(s, "\nPareto front of {xn} vs {yn} (means; {}):", count(front.len(), "point", "points"));
        let _ = writeln!(s, "  {:>5}  {:>12}  {:>12}  settings", "point", xn, yn);
        for &p in front {
            let (a, b) = (points[p].summaries[*x].mean, points[p].summaries[*y].mean);
            let _ = writeln!(s, "  {:>5}  {:>12}  {:>12}  {}", p, short(a), short(b), settings(axes, p));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people_have_four_significant_digits() {
        assert_eq!(short(5887.6), "5888");
        assert_eq!(short(288250.95), "288251");
        assert_eq!(short(5818.959), "5819");
        assert_eq!(short(0.905), "0.905");
        assert_eq!(short(-0.16843), "-0.1684");
        assert_eq!(short(1.9012), "1.901");
        assert_eq!(short(12.1), "12.1");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(-0.0), "0");
        assert_eq!(short(0.00012345), "0.000123");
        assert_eq!(short(f64::NAN), "-");
        let interval =
            |lo: f64, hi: f64| ci(&Summary { n: 2, mean: 0.0, min: 0.0, max: 0.0, ci95_lo: lo, ci95_hi: hi });
        assert_eq!(interval(0.79291, 1.01723), "0.793..1.017");
        assert_eq!(interval(5818.959, 5956.241), "5819..5956");
        assert_eq!(interval(2.2341, 21.966), "2.23..21.97");
        assert_eq!(interval(0.1, 0.1), "0.1..0.1");
        assert_eq!(count(1, "point", "points"), "1 point");
        assert_eq!(count(3, "point", "points"), "3 points");
    }

    #[test]
    fn numbers_are_rounded_and_short() {
        assert_eq!(num(4825.0), "4825");
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(2.0 / 3.0), "0.666667");
        assert_eq!(num(f64::NAN), "");
    }
}
