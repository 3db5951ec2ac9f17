//! Charts of a finished sweep, one per metric, PNG and SVG: with two axes a heatmap of the mean
//! (`charts/METRIC.png`) and lines along the first axis, one per value of the second
//! (`charts/METRIC.lines.png`); with one axis, lines with the min–max band over seeds; with more,
//! lines along the first axis, one per combination of the others (when there are at most ten).

use std::path::Path;

use super::SweepError;
use super::axis::Axis;
use super::metrics::{Goal, METRICS};
use super::select::{Objective, PointStats, Ranked};
use super::spec::coords_of;
use super::store::Manifest;
use crate::output::{Guard, Kind, Staging};
use crate::plot::{self, Heatmap, SweepLines, SweepSeries};

/// Most lines in one chart.
const SERIES_MAX: usize = 10;

/// Draws every chart into a staging folder that replaces `dir` when all are written. Heatmaps
/// outline the setting ranked first under `objective` (the one the summary recommends) and
/// cross out the settings that break its constraints.
pub fn write_charts(
    dir: &Path,
    m: &Manifest,
    axes: &[Axis],
    points: &[PointStats],
    objective: &Objective,
    ranked: &[Ranked],
) -> Result<(), SweepError> {
    let staging = Staging::new(dir, Kind::SweepCharts, &m.scenario, &Guard::new())?;
    for (i, d) in METRICS.iter().enumerate() {
        if axes.len() == 2 {
            let data = heatmap_of(m.seeds, axes, points, i, objective, ranked);
            let name = d.name;
            plot::heatmap(&data, &staging.path(&format!("{name}.png")), &staging.path(&format!("{name}.svg")))?;
        }
        if let Some(lines) = lines(m, axes, points, i) {
            let stem = if axes.len() == 2 { format!("{}.lines", d.name) } else { d.name.to_string() };
            plot::sweep_lines(&lines, &staging.path(&format!("{stem}.png")), &staging.path(&format!("{stem}.svg")))?;
        }
    }
    staging.commit()?;
    Ok(())
}

/// The heatmap of metric `i` over two axes: the mean of `seeds` runs per cell, the recommended
/// setting (first in `ranked`) outlined, the settings that break the constraints crossed out.
fn heatmap_of(
    seeds: u32,
    axes: &[Axis],
    points: &[PointStats],
    i: usize,
    objective: &Objective,
    ranked: &[Ranked],
) -> Heatmap {
    let d = &METRICS[i];
    let (nx, ny) = (axes[0].values.len(), axes[1].values.len());
    // Point `x * ny + y` is cell (x, y).
    let cell = |p: usize| (p / ny, p % ny);
    let feasible = |p: usize| ranked.iter().find(|r| r.point == p).is_none_or(|r| r.feasible);
    let recommended_note = if ranked.iter().any(|r| r.feasible) {
        objective.to_string()
    } else {
        format!("{objective} (no setting meets the constraints: the best of the rest)")
    };
    let mean: Vec<f64> = points.iter().map(|p| p.summaries[i].mean).collect();
    Heatmap {
        metric: format!("{}, mean of {seeds} seeds", d.label),
        objective: Some(match d.goal {
            Goal::Minimize => plot::Objective::Minimize,
            Goal::Maximize => plot::Objective::Maximize,
        }),
        recommended: ranked.first().map(|r| cell(r.point)),
        recommended_note,
        infeasible: (0..points.len()).filter(|p| !feasible(*p)).map(cell).collect(),
        x_label: axes[0].name.clone(),
        y_label: axes[1].name.clone(),
        x_values: axes[0].labels(),
        y_values: axes[1].labels(),
        values: (0..ny).map(|y| (0..nx).map(|x| mean[x * ny + y]).collect()).collect(),
    }
}

/// Lines of metric `i` along the first axis, one per combination of the other axes' values;
/// `None` when there would be more than [`SERIES_MAX`].
fn lines(m: &Manifest, axes: &[Axis], points: &[PointStats], i: usize) -> Option<SweepLines> {
    let nx = axes[0].values.len();
    let n_series = points.len() / nx;
    if n_series > SERIES_MAX {
        return None;
    }
    let series = (0..n_series)
        .map(|s| {
            // Points with first coordinate x and the rest equal to combination s: x * n_series + s.
            let pick = |f: &dyn Fn(&PointStats) -> f64| (0..nx).map(|x| f(&points[x * n_series + s])).collect();
            let rest = coords_of(axes, s);
            let name = axes[1..]
                .iter()
                .zip(&rest[1..])
                .map(|(a, &c)| format!("{}={}", a.name, Axis::display(&a.values[c])))
                .collect::<Vec<_>>()
                .join(", ");
            SweepSeries {
                name: if name.is_empty() { METRICS[i].name.to_string() } else { name },
                mean: pick(&|p| p.summaries[i].mean),
                lower: pick(&|p| p.summaries[i].min),
                upper: pick(&|p| p.summaries[i].max),
            }
        })
        .collect();
    Some(SweepLines {
        title: format!("{} ({}), mean of {} seeds", METRICS[i].label, METRICS[i].goal.as_str(), m.seeds),
        x_label: axes[0].name.clone(),
        y_label: METRICS[i].label.to_string(),
        x_values: axes[0].labels(),
        band_label: "min-max over seeds".into(),
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::metrics::{N_METRICS, RunMetrics, metric_index};
    use crate::sweep::select::{Constraint, rank};
    use crate::sweep::stats::Summary;

    /// A 2 x 2 sweep whose lowest-error cell ejects healthy pods: the recommendation under
    /// `false_ejections == 0` is another cell, and the heatmap must outline that one.
    #[test]
    fn the_heatmap_outlines_what_the_summary_recommends() {
        let axis = |name: &str, values: [i64; 2]| Axis {
            name: name.into(),
            path: format!("x.{name}"),
            values: values.iter().map(|v| toml::Value::Integer(*v)).collect(),
        };
        let axes = [axis("consecutive5xxErrors", [1, 5]), axis("baseEjectionTime", [30, 60])];
        let (errors, false_ej) = (metric_index("errors").unwrap(), metric_index("false_ejections").unwrap());
        // Points (x * 2 + y): errors and false ejections of 3 identical runs each.
        let cells = [(100.0, 4.0), (120.0, 2.0), (300.0, 0.0), (250.0, 0.0)];
        let points: Vec<PointStats> = cells
            .iter()
            .enumerate()
            .map(|(point, &(e, f))| {
                let mut run = [Some(0.0); N_METRICS];
                run[errors] = Some(e);
                run[false_ej] = Some(f);
                let runs = vec![RunMetrics(run); 3];
                let summaries = (0..N_METRICS).map(|i| Summary::of(&[run[i].unwrap(); 3])).collect::<Vec<Summary>>();
                PointStats { point, runs, summaries }
            })
            .collect();
        let objective =
            Objective { constraints: vec![Constraint::parse("false_ejections == 0").unwrap()], ..Objective::default() };
        let ranked = rank(&points, &objective);
        assert_eq!(ranked[0].point, 3, "250 errors is the best with no false ejection");
        let h = heatmap_of(3, &axes, &points, errors, &objective, &ranked);
        assert_eq!(h.recommended, Some((1, 1)), "5 x 60, not the lowest-error cell 1 x 30");
        let mut infeasible = h.infeasible.clone();
        infeasible.sort();
        assert_eq!(infeasible, vec![(0, 0), (0, 1)]);
        assert_eq!(h.values, vec![vec![100.0, 300.0], vec![120.0, 250.0]]);
        assert!(h.recommended_note.contains("false_ejections == 0"), "{}", h.recommended_note);
    }
}
