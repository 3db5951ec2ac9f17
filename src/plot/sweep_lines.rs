//! A metric along one swept parameter: mean line with a spread band per series.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};

use super::{
    Chart, DrawResult, GRID_BOLD, IN_MEMORY, INK, PlotError, Swatch, TITLE_H, anchored, draw_legend, draw_message,
    draw_title, finite_max, finite_min, finite_runs, fit_text, fmt_num, render_svg, save, series_color, text,
    text_width,
};

/// One line of [`SweepLines`]: mean and band per x value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SweepSeries {
    /// Legend name (e.g. the value of a second swept parameter, or a scenario).
    pub name: String,
    /// Mean of the metric at each x value (NaN = missing).
    pub mean: Vec<f64>,
    /// Lower edge of the band at each x value (e.g. min or CI low); may be empty.
    pub lower: Vec<f64>,
    /// Upper edge of the band at each x value (e.g. max or CI high); may be empty.
    pub upper: Vec<f64>,
}

/// Input of [`sweep_lines`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SweepLines {
    /// Chart title, e.g. metric name and objective.
    pub title: String,
    /// x axis title: the swept parameter path.
    pub x_label: String,
    /// y axis title: the metric (with unit).
    pub y_label: String,
    /// The swept values, evenly spaced left to right in this order.
    pub x_values: Vec<String>,
    /// What the band shows, for the legend, e.g. `min–max over seeds` or `95% CI`.
    pub band_label: String,
    /// One line per series.
    pub series: Vec<SweepSeries>,
}

/// Draws `data` as PNG and SVG: the swept values on x (evenly spaced), one mean line with
/// markers and a shaded band per series.
pub fn sweep_lines(data: &SweepLines, png: &Path, svg: &Path) -> Result<(), PlotError> {
    save(data, png, svg)
}

/// [`sweep_lines`] rendered to an SVG string.
pub fn sweep_lines_svg(data: &SweepLines) -> Result<String, PlotError> {
    render_svg(data, Path::new(IN_MEMORY))
}

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 720;
const LEGEND_W: i32 = 260;

fn at(v: &[f64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(f64::NAN)
}

impl Chart for SweepLines {
    const NAME: &'static str = "sweep_lines";

    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw_title(root, &self.title)?;
        let nx = self.x_values.len();
        let all = || {
            self.series
                .iter()
                .flat_map(move |s| (0..nx).flat_map(move |i| [at(&s.mean, i), at(&s.lower, i), at(&s.upper, i)]))
        };
        let (Some(lo), Some(hi)) = (finite_min(all()), finite_max(all())) else {
            return draw_message(root, (0, TITLE_H), (WIDTH as i32, HEIGHT as i32), "no data");
        };
        let pad = if hi > lo { (hi - lo) * 0.08 } else { lo.abs().max(1.0) * 0.1 };
        let y0 = if lo >= 0.0 && lo - pad < 0.0 { 0.0 } else { lo - pad };
        let y1 = hi + pad;
        let x0 = -0.5;
        let x1 = nx as f64 - 0.5;
        let body = root.margin(TITLE_H as u32, 10, 10, 10);
        let (plot, legend) = body.split_horizontally(WIDTH as i32 - 20 - LEGEND_W);
        let label_w = self.x_values.iter().map(|v| text_width(v, 13.0, false)).max().unwrap_or(0);
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(16)
            .margin_right(16)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .bold_line_style(GRID_BOLD)
            .light_line_style(TRANSPARENT)
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(8)
            .y_label_formatter(&|v: &f64| fmt_num(*v))
            .label_style(text(13.0, INK))
            .axis_desc_style(text(14.0, INK))
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .draw()?;
        // Category grid lines and labels.
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let slot = (xr.end - xr.start) / nx.max(1) as i32;
        for (i, name) in self.x_values.iter().enumerate() {
            chart.draw_series(std::iter::once(PathElement::new(vec![(i as f64, y0), (i as f64, y1)], GRID_BOLD)))?;
            let (px, _) = chart.backend_coord(&(i as f64, y0));
            let s = if label_w + 6 <= slot { Some(name.clone()) } else { fit_text(name, 13.0, false, slot - 6) };
            if let Some(s) = s {
                root.draw(&Text::new(s, (px, yr.end + 6), anchored(text(13.0, INK), HPos::Center, VPos::Top)))?;
            }
        }
        for (k, s) in self.series.iter().enumerate() {
            let color = series_color(k);
            // Band: runs where both edges are finite.
            let edges: Vec<(f64, f64, f64)> = (0..nx).map(|i| (i as f64, at(&s.lower, i), at(&s.upper, i))).collect();
            let mut run: Vec<(f64, f64, f64)> = Vec::new();
            let mut flush = |run: &mut Vec<(f64, f64, f64)>| -> DrawResult<DB> {
                if run.len() >= 2 {
                    let mut poly: Vec<(f64, f64)> = run.iter().map(|p| (p.0, p.2)).collect();
                    poly.extend(run.iter().rev().map(|p| (p.0, p.1)));
                    chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.18).filled())))?;
                } else if let Some(p) = run.first() {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(p.0, p.1), (p.0, p.2)],
                        color.mix(0.5).stroke_width(6),
                    )))?;
                }
                run.clear();
                Ok(())
            };
            for e in edges {
                if e.1.is_finite() && e.2.is_finite() {
                    run.push(e);
                } else {
                    flush(&mut run)?;
                }
            }
            flush(&mut run)?;
            let pts: Vec<(f64, f64)> = (0..nx).map(|i| (i as f64, at(&s.mean, i))).collect();
            for r in finite_runs(&pts) {
                chart.draw_series(std::iter::once(PathElement::new(r.clone(), color.stroke_width(2))))?;
                chart.draw_series(r.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
            }
        }
        let mut items: Vec<(String, Swatch)> =
            self.series.iter().enumerate().map(|(k, s)| (s.name.clone(), Swatch::Band(series_color(k)))).collect();
        if !self.band_label.is_empty() {
            items.push((format!("band: {}", self.band_label), Swatch::Fill(RGBColor(0xDD, 0xDD, 0xDD))));
        }
        let (lx, ly) = legend.get_base_pixel();
        draw_legend(root, (lx + 10, ly + 20), LEGEND_W - 14, HEIGHT as i32 - 10, "Series (line: mean)", &items)
    }
}
