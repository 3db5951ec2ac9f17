//! Empirical CDF of request latency, one curve per phase.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};

use super::{
    Chart, DrawResult, GREY, GRID_BOLD, GRID_MINOR, IN_MEMORY, INK, PlotError, Swatch, TITLE_H, anchored, draw_legend,
    draw_message, draw_title, fmt_num, nice_ceil, render_svg, save, series_color, split_for_stroke, text,
};

/// One curve of [`LatencyEcdf`]: the eCDF of a phase's finished requests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EcdfCurve {
    /// Phase name.
    pub name: String,
    /// Finished requests: the curve's 100 %.
    pub requests: u64,
    /// `(latency in ms, fraction of the requests at or below it)`, ascending in both: where
    /// the eCDF steps up. Non-finite points are ignored.
    pub points: Vec<(f64, f64)>,
    /// Median, ms, as reported elsewhere (shown in the legend).
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms, as reported elsewhere (shown in the legend).
    pub p99_ms: Option<f64>,
    /// Where the x axis may start for this curve (ms): its smallest latency worth showing.
    /// Points below the axis start are drawn at its left edge. `None`: its smallest point.
    pub fit_from_ms: Option<f64>,
    /// A further legend line (e.g. requests drawn at the left edge), or empty.
    pub note: String,
}

impl EcdfCurve {
    /// The curve of raw samples (ms): steps at each distinct value, nearest-rank quantiles.
    pub fn from_samples(name: impl Into<String>, samples: &[f64]) -> EcdfCurve {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (i, x) in sorted.iter().enumerate() {
            let f = (i + 1) as f64 / n as f64;
            match points.last_mut() {
                Some(last) if last.0 == *x => last.1 = f,
                _ => points.push((*x, f)),
            }
        }
        let q = |q: f64| (n > 0).then(|| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1]);
        EcdfCurve {
            name: name.into(),
            requests: n as u64,
            points,
            p50_ms: q(0.5),
            p99_ms: q(0.99),
            fit_from_ms: None,
            note: String::new(),
        }
    }

    fn finite_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.points.iter().copied().filter(|(x, f)| x.is_finite() && f.is_finite())
    }

    /// The eCDF as a step path from 0 to 1, with x clamped to at least `floor`.
    fn path(&self, floor: f64, x_end: f64) -> Vec<(f64, f64)> {
        let mut pts = Vec::new();
        let mut prev_f = 0.0;
        for (x, f) in self.finite_points() {
            let x = x.max(floor);
            pts.push((x, prev_f));
            pts.push((x, f));
            prev_f = f;
        }
        if !pts.is_empty() {
            pts.push((x_end, prev_f));
        }
        pts
    }
}

/// Input of [`latency_ecdf`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LatencyEcdf {
    /// Chart title (scenario name and seed).
    pub title: String,
    /// One curve per phase.
    pub series: Vec<EcdfCurve>,
    /// A line under the plot (e.g. how local replies are drawn), or empty.
    pub footnote: String,
}

/// Draws `data` as PNG and SVG: the eCDF of latency per phase, with p50/p90/p99 guides and a
/// log-scale x axis when latencies span more than a factor of 50; the axis is fitted to the
/// curves' `fit_from_ms` and largest point.
pub fn latency_ecdf(data: &LatencyEcdf, png: &Path, svg: &Path) -> Result<(), PlotError> {
    save(data, png, svg)
}

/// [`latency_ecdf`] rendered to an SVG string.
pub fn latency_ecdf_svg(data: &LatencyEcdf) -> Result<String, PlotError> {
    render_svg(data, Path::new(IN_MEMORY))
}

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 720;
const LEGEND_W: i32 = 360;
/// Use a log x axis when max / min exceeds this.
const LOG_RATIO: f64 = 50.0;

impl Chart for LatencyEcdf {
    const NAME: &'static str = "latency_ecdf";

    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw_title(root, &self.title)?;
        let curves = &self.series;
        let xs = || curves.iter().flat_map(|c| c.finite_points().map(|(x, _)| x));
        let (Some(lo), Some(hi)) = (super::finite_min(xs()), super::finite_max(xs())) else {
            return draw_message(root, (0, TITLE_H), (WIDTH as i32, HEIGHT as i32), "no data");
        };
        // The axis starts at the smallest latency worth showing (local replies, which take no
        // time, would stretch a log axis to nanoseconds).
        let from = super::finite_min(curves.iter().filter(|c| c.finite_points().next().is_some()).map(|c| {
            c.fit_from_ms.filter(|v| v.is_finite()).unwrap_or_else(|| c.finite_points().next().map_or(lo, |p| p.0))
        }))
        .unwrap_or(lo);
        let min_pos = super::finite_min(xs().filter(|v| *v >= from && *v > 0.0));
        let body = root.margin(TITLE_H as u32, if self.footnote.is_empty() { 10 } else { 30 }, 10, 10);
        let (plot, legend) = body.split_horizontally(WIDTH as i32 - 20 - LEGEND_W);
        match min_pos {
            Some(mp) if hi / mp > LOG_RATIO => {
                // Start at the largest 1, 2 or 5 × 10^k below the smallest shown latency.
                let decade = libm::pow(10.0, libm::log10(mp * 0.95).floor());
                let x0 = [5.0, 2.0, 1.0].into_iter().map(|m| m * decade).find(|v| *v <= mp * 0.95).unwrap_or(decade);
                let x1 = hi * 1.15;
                draw_curves(root, &plot, (x0..x1).log_scale(), curves, x0, x1, true)?;
            }
            _ => {
                let x0 = if from >= 0.0 { 0.0 } else { -nice_ceil(-from) };
                let x1 = if hi > x0 { nice_ceil(hi) } else { x0 + 1.0 };
                draw_curves(root, &plot, x0..x1, curves, x0, x1, false)?;
            }
        }
        let ms = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.1}"));
        let items: Vec<(String, Swatch)> = curves
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let label = if c.finite_points().next().is_none() {
                    format!("{} (no requests)", c.name)
                } else {
                    let mut l = format!(
                        "{}\n{} finished requests\np50 {} ms, p99 {} ms",
                        c.name,
                        c.requests,
                        ms(c.p50_ms),
                        ms(c.p99_ms)
                    );
                    if !c.note.is_empty() {
                        l.push('\n');
                        l.push_str(&c.note);
                    }
                    l
                };
                (label, Swatch::Line(series_color(i), 2))
            })
            .collect();
        let (lx, ly) = legend.get_base_pixel();
        draw_legend(root, (lx + 10, ly + 20), LEGEND_W - 14, HEIGHT as i32 - 10, "Phase (finished requests)", &items)?;
        if !self.footnote.is_empty()
            && let Some(s) = super::fit_text(&self.footnote, 12.0, false, WIDTH as i32 - 20)
        {
            root.draw(&Text::new(s, (10, HEIGHT as i32 - 8), anchored(text(12.0, GREY), HPos::Left, VPos::Bottom)))?;
        }
        Ok(())
    }
}

fn draw_curves<DB: DrawingBackend, X>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    x_spec: X,
    curves: &[EcdfCurve],
    x0: f64,
    x1: f64,
    log: bool,
) -> DrawResult<DB>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin_top(16)
        .margin_right(12)
        .x_label_area_size(52)
        .y_label_area_size(70)
        .build_cartesian_2d(x_spec, 0.0..1.0)?;
    let x_desc = if log { "latency (ms, log scale)" } else { "latency (ms)" };
    {
        let mut mesh = chart.configure_mesh();
        mesh.bold_line_style(GRID_BOLD)
            .light_line_style(TRANSPARENT)
            .x_labels(12)
            .y_labels(11)
            .x_label_formatter(&|v: &f64| fmt_num(*v))
            .y_label_formatter(&|v: &f64| format!("{:.0}%", v * 100.0))
            .label_style(text(13.0, INK))
            .axis_desc_style(text(14.0, INK))
            .x_desc(x_desc)
            .y_desc("fraction of requests ≤ x");
        if log {
            // plotters' log ticks start at the first power of ten; draw our own instead
            // (its remaining ticks are at powers of ten, which ours include).
            mesh.disable_x_mesh().x_labels(1).x_label_formatter(&|_: &f64| String::new());
        }
        mesh.draw()?;
    }
    if log {
        let (_, yr) = chart.plotting_area().get_pixel_range();
        let mut decade = libm::pow(10.0, libm::log10(x0).floor());
        while decade <= x1 {
            for m in 1..=9 {
                let v = decade * f64::from(m);
                if v < x0 * (1.0 - 1e-9) || v > x1 {
                    continue;
                }
                let style = if m == 1 { GRID_BOLD } else { GRID_MINOR };
                chart.draw_series(std::iter::once(PathElement::new(vec![(v, 0.0), (v, 1.0)], style)))?;
                if matches!(m, 1 | 2 | 5) {
                    let (px, _) = chart.backend_coord(&(v, 0.0));
                    root.draw(&PathElement::new(vec![(px, yr.end), (px, yr.end + 5)], INK))?;
                    root.draw(&Text::new(
                        fmt_num(v),
                        (px, yr.end + 8),
                        anchored(text(13.0, INK), HPos::Center, VPos::Top),
                    ))?;
                }
            }
            decade *= 10.0;
        }
    }
    for q in [0.5, 0.9, 0.99] {
        chart.draw_series(std::iter::once(DashedPathElement::new(
            vec![(x0, q), (x1, q)],
            5,
            4,
            GREY.stroke_width(1),
        )))?;
        let (px, py) = chart.backend_coord(&(x0, q));
        root.draw(&Text::new(
            format!("p{}", (q * 100.0f64).round()),
            (px + 4, py - 2),
            anchored(text(12.0, GREY), HPos::Left, VPos::Bottom),
        ))?;
    }
    let floor = x0;
    for (i, c) in curves.iter().enumerate() {
        let pts = c.path(floor, x1);
        if pts.is_empty() {
            continue;
        }
        let pieces = split_for_stroke(&pts, |p| chart.backend_coord(p));
        chart.draw_series(pieces.into_iter().map(|piece| PathElement::new(piece, series_color(i).stroke_width(2))))?;
    }
    Ok(())
}
