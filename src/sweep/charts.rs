//! Charts of a finished sweep, one per metric, PNG and SVG: with two axes a heatmap of the mean
//! (`charts/METRIC.png`) and lines along the first axis, one per value of the second
//! (`charts/METRIC.lines.png`); with one axis, lines with the min–max band over seeds; with more,
//! lines along the first axis, one per combination of the others (when there are at most ten).

use std::path::Path;

use super::SweepError;
use super::axis::Axis;
use super::metrics::{Goal, METRICS};
use super::select::PointStats;
use super::spec::coords_of;
use super::store::Manifest;
use crate::output::{Guard, Kind, Staging};
use crate::plot::{self, Heatmap, SweepLines, SweepSeries};

/// Most lines in one chart.
const SERIES_MAX: usize = 10;

/// Draws every chart into a staging folder that replaces `dir` when all are written.
pub fn write_charts(dir: &Path, m: &Manifest, axes: &[Axis], points: &[PointStats]) -> Result<(), SweepError> {
    let staging = Staging::new(dir, Kind::SweepCharts, &m.scenario, &Guard::new())?;
    for (i, d) in METRICS.iter().enumerate() {
        let mean: Vec<f64> = points.iter().map(|p| p.summaries[i].mean).collect();
        if axes.len() == 2 {
            let (nx, ny) = (axes[0].values.len(), axes[1].values.len());
            let data = Heatmap {
                metric: format!("{}, mean of {} seeds", d.label, m.seeds),
                objective: Some(match d.goal {
                    Goal::Minimize => plot::Objective::Minimize,
                    Goal::Maximize => plot::Objective::Maximize,
                }),
                x_label: axes[0].name.clone(),
                y_label: axes[1].name.clone(),
                x_values: axes[0].labels(),
                y_values: axes[1].labels(),
                values: (0..ny).map(|y| (0..nx).map(|x| mean[x * ny + y]).collect()).collect(),
            };
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
