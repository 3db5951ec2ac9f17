//! Gantt-style timeline of outlier ejections: one row per (proxy, endpoint), grouped by
//! locality.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};

use super::{
    Chart, DrawResult, Frame, GREY, GRID_BOLD, GRID_LIGHT, IN_MEMORY, INK, PHASE_STRIP, PhaseBand, PlotError, TITLE_H,
    anchored, bold, draw_message, draw_phase_fill, draw_phase_marks, draw_title, fit_text, fmt_num, ink_on, render_svg,
    save, text, text_width,
};

/// One ejection of an endpoint by a proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EjectionInterval {
    /// When the endpoint was ejected, in simulated seconds.
    pub start_s: f64,
    /// When it was returned to the pool; NaN or infinite if still ejected at the end of the
    /// run (drawn up to [`EjectionTimeline::end_s`]).
    pub end_s: f64,
    /// Envoy's ejection multiplier for this ejection (1 for the first); printed on the bar.
    pub multiplier: u32,
}

/// The ejections of one endpoint as seen by one proxy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EjectionRow {
    /// The proxy (client sidecar or gateway) that ejected the endpoint.
    pub proxy: String,
    /// The ejected endpoint.
    pub endpoint: String,
    /// Whether the endpoint is an east-west gateway replica (labelled as such), not a pod.
    #[serde(default)]
    pub gateway: bool,
    /// The endpoint's locality; rows are grouped by it.
    pub locality: String,
    /// Ejected intervals, in any order.
    pub intervals: Vec<EjectionInterval>,
}

/// Input of [`ejection_timeline`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EjectionTimeline {
    /// Chart title (scenario name and seed).
    pub title: String,
    /// Start of the time axis, in seconds.
    pub start_s: f64,
    /// End of the time axis, in seconds.
    pub end_s: f64,
    /// Locality order (same as [`super::RunChart::localities`] to get the same colours);
    /// localities of rows not listed here follow, in order of first appearance.
    pub localities: Vec<String>,
    /// One row per (proxy, endpoint); within a locality, rows keep this order.
    pub rows: Vec<EjectionRow>,
    /// Fault phases, shaded and labelled.
    pub phases: Vec<PhaseBand>,
}

/// Draws `data` as PNG and SVG: one row per (proxy, endpoint), bars for ejected intervals
/// labelled `×multiplier`, grouped under a header per locality, phases shaded.
pub fn ejection_timeline(data: &EjectionTimeline, png: &Path, svg: &Path) -> Result<(), PlotError> {
    save(data, png, svg)
}

/// [`ejection_timeline`] rendered to an SVG string.
pub fn ejection_timeline_svg(data: &EjectionTimeline) -> Result<String, PlotError> {
    render_svg(data, Path::new(IN_MEMORY))
}

const WIDTH: u32 = 1400;
const ROW_H: i32 = 22;
/// At most this many lines (headers and rows) are drawn; the rest are summarised.
const MAX_LINES: usize = 400;
const TOP: i32 = TITLE_H + 24 + PHASE_STRIP + 6;
const BOTTOM: i32 = 64;
const LABEL_SIZE: f64 = 12.0;

/// A line of the timeline: a locality header or an endpoint row.
enum Line<'a> {
    Header { locality: &'a str, color: RGBColor },
    Row { row: &'a EjectionRow, color: RGBColor },
}

impl EjectionTimeline {
    /// Lines in drawing order and the number of lines left out.
    fn lines(&self) -> (Vec<Line<'_>>, usize) {
        let mut order: Vec<&str> = self.localities.iter().map(String::as_str).collect();
        for r in &self.rows {
            if !order.contains(&r.locality.as_str()) {
                order.push(&r.locality);
            }
        }
        let names: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        let colors = super::locality_colors(&names);
        let mut lines = Vec::new();
        for (&loc, &color) in order.iter().zip(&colors) {
            let rows: Vec<&EjectionRow> = self.rows.iter().filter(|r| r.locality == *loc).collect();
            if rows.is_empty() {
                continue;
            }
            lines.push(Line::Header { locality: loc, color });
            lines.extend(rows.into_iter().map(|row| Line::Row { row, color }));
        }
        let more = lines.len().saturating_sub(MAX_LINES);
        lines.truncate(MAX_LINES);
        (lines, more)
    }

    fn x_range(&self) -> (f64, f64) {
        let ends = self.rows.iter().flat_map(|r| &r.intervals).flat_map(|iv| [iv.start_s, iv.end_s]);
        let lo = if self.start_s.is_finite() { self.start_s } else { super::finite_min(ends.clone()).unwrap_or(0.0) };
        let hi = if self.end_s.is_finite() { self.end_s } else { super::finite_max(ends).unwrap_or(lo + 1.0) };
        if hi > lo { (lo, hi) } else { (lo, lo + 1.0) }
    }

    fn label_width(&self, lines: &[Line<'_>]) -> i32 {
        lines
            .iter()
            .map(|l| match l {
                Line::Header { locality, .. } => text_width(locality, 13.0, true) + 18,
                Line::Row { row, .. } => text_width(&row_label(row), LABEL_SIZE, false),
            })
            .max()
            .unwrap_or(0)
            .clamp(80, 460)
            + 18
    }
}

fn row_label(r: &EjectionRow) -> String {
    if r.gateway {
        format!("{} → {} (east-west gateway)", r.proxy, r.endpoint)
    } else {
        format!("{} → {}", r.proxy, r.endpoint)
    }
}

/// One ejection as drawn: pixel columns `a..=b`, its label's left edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bar {
    a: i32,
    b: i32,
    label_x: i32,
    multiplier: u32,
}

/// The bars of a row's ejections within `x0..x1` (pixel column of a time by `px`), in time
/// order. Each bar starts two pixels after the previous one ends, so back-to-back ejections (an
/// ×1 then at once an ×2) show as two bars, and its label sits at its start (not in the middle,
/// where it would read as a later ejection). An ejection still running at the end of the run
/// reaches the edge.
fn bars(intervals: &[EjectionInterval], (x0, x1): (f64, f64), px: impl Fn(f64) -> i32) -> Vec<Bar> {
    let mut ivs: Vec<&EjectionInterval> = intervals.iter().filter(|iv| iv.start_s.is_finite()).collect();
    ivs.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let mut out: Vec<Bar> = Vec::new();
    for iv in ivs {
        let e = if iv.end_s.is_finite() { iv.end_s } else { x1 };
        let (s, e) = (iv.start_s.max(x0), e.min(x1));
        if e < s {
            continue;
        }
        let a = out.last().map_or(px(s), |p| px(s).max(p.b + 2));
        let b = px(e).max(a);
        out.push(Bar { a, b, label_x: a + 4, multiplier: iv.multiplier });
    }
    out
}

/// The bar colour of an ejection: the locality's colour, darker with each step of the back-off
/// multiplier, so that an ×2 right after an ×1 does not read as one bar.
fn bar_color(base: RGBColor, multiplier: u32) -> RGBColor {
    let f = (f64::from(multiplier.saturating_sub(1).min(4)) * 0.14).min(0.56);
    let ch = |c: u8| (f64::from(c) * (1.0 - f)).round() as u8;
    RGBColor(ch(base.0), ch(base.1), ch(base.2))
}

impl Chart for EjectionTimeline {
    const NAME: &'static str = "ejection_timeline";

    fn size(&self) -> (u32, u32) {
        let (lines, more) = self.lines();
        let n = lines.len().max(6) as i32 + i32::from(more > 0);
        (WIDTH, (TOP + n * ROW_H + BOTTOM) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw_title(root, &self.title)?;
        root.draw(&Text::new(
            "bars: ejected intervals, each labelled at its start with the ejection multiplier (×N, darker as it grows)"
                .to_string(),
            (WIDTH as i32 / 2, TITLE_H - 4),
            anchored(text(13.0, GREY), HPos::Center, VPos::Top),
        ))?;
        let (lines, more) = self.lines();
        let n = lines.len().max(6);
        let (x0, x1) = self.x_range();
        let label_w = self.label_width(&lines);
        let (_, height) = root.dim_in_pixel();
        let extra = if more > 0 { ROW_H as u32 } else { 0 };
        let area = root.margin(TOP as u32 - 10, 10 + extra, 10, 24);
        let mut chart = ChartBuilder::on(&area)
            .margin_top(10)
            .x_label_area_size(BOTTOM - 10)
            .y_label_area_size(label_w)
            .build_cartesian_2d(x0..x1, 0.0..n as f64)?;
        let frame = Frame::new(chart.plotting_area().get_pixel_range(), x0, x1);
        draw_phase_fill(root, &self.phases, &frame)?;
        // Row y: line i occupies [n - i - 1, n - i].
        let band = |i: usize, pad: f64| (n as f64 - i as f64 - 1.0 + pad, n as f64 - i as f64 - pad);
        for (i, line) in lines.iter().enumerate() {
            if let Line::Header { color, .. } = line {
                let (lo, hi) = band(i, 0.0);
                chart.draw_series(std::iter::once(Rectangle::new([(x0, lo), (x1, hi)], color.mix(0.12).filled())))?;
            }
        }
        chart
            .configure_mesh()
            .bold_line_style(GRID_BOLD)
            .light_line_style(TRANSPARENT)
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(14)
            .x_label_formatter(&|v: &f64| fmt_num(*v))
            .label_style(text(13.0, INK))
            .axis_desc_style(text(14.0, INK))
            .x_desc("time (s)")
            .draw()?;
        let plot_w = frame.right - frame.left;
        for (i, line) in lines.iter().enumerate() {
            let (lo, hi) = band(i, 0.0);
            let y_px = chart.backend_coord(&(x0, (lo + hi) / 2.0)).1;
            match line {
                Line::Header { locality, color } => {
                    let x = frame.left - label_w + 4;
                    root.draw(&Rectangle::new([(x, y_px - 6), (x + 12, y_px + 6)], color.filled()))?;
                    if let Some(l) = fit_text(locality, 13.0, true, label_w + plot_w - 36) {
                        root.draw(&Text::new(l, (x + 18, y_px), anchored(bold(13.0, INK), HPos::Left, VPos::Center)))?;
                    }
                }
                Line::Row { row, color } => {
                    if let Some(l) = fit_text(&row_label(row), LABEL_SIZE, false, label_w - 12) {
                        root.draw(&Text::new(
                            l,
                            (frame.left - 8, y_px),
                            anchored(text(LABEL_SIZE, INK), HPos::Right, VPos::Center),
                        ))?;
                    }
                    chart.draw_series(std::iter::once(PathElement::new(vec![(x0, lo), (x1, lo)], GRID_LIGHT)))?;
                    let (blo, bhi) = band(i, 0.14);
                    let (top_px, bottom_px) = (chart.backend_coord(&(x0, bhi)).1, chart.backend_coord(&(x0, blo)).1);
                    for bar in bars(&row.intervals, (x0, x1), |x| frame.px(x)) {
                        let fill = bar_color(*color, bar.multiplier);
                        root.draw(&Rectangle::new([(bar.a, top_px), (bar.b, bottom_px)], fill.filled()))?;
                        if bar.multiplier > 0 {
                            let label = format!("×{}", bar.multiplier);
                            if text_width(&label, 12.0, true) + 6 <= bar.b - bar.a {
                                root.draw(&Text::new(
                                    label,
                                    (bar.label_x, y_px),
                                    anchored(bold(12.0, ink_on(fill)), HPos::Left, VPos::Center),
                                ))?;
                            }
                        }
                    }
                }
            }
        }
        if lines.is_empty() {
            draw_message(root, (frame.left, frame.top), (frame.right, frame.bottom), "no ejections")?;
        }
        if more > 0 {
            root.draw(&Text::new(
                format!("… {more} more rows not shown"),
                (frame.left, height as i32 - 8),
                anchored(text(13.0, GREY), HPos::Left, VPos::Bottom),
            ))?;
        }
        draw_phase_marks(root, &self.phases, &frame, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_to_back_ejections_are_two_bars_labelled_at_their_starts() {
        // The seed lab: ×1 from 30 s to 61 s, then at once ×2 until 121 s; 1 px per second.
        let iv = |s: f64, e: f64, m: u32| EjectionInterval { start_s: s, end_s: e, multiplier: m };
        let px = |x: f64| (x * 1.0).round() as i32;
        let b = bars(&[iv(61.0, 121.0, 2), iv(30.0, 61.0, 1)], (0.0, 150.0), px);
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].a, b[0].b, b[0].multiplier), (30, 61, 1));
        assert!(b[1].a >= b[0].b + 2, "a gap between the bars: {b:?}");
        assert_eq!(b[1].label_x, b[1].a + 4, "the ×2 label at 61 s, not at 91 s");
        assert!(b[1].label_x < 70, "{b:?}");
        assert_ne!(bar_color(RGBColor(0, 114, 178), 1), bar_color(RGBColor(0, 114, 178), 2));
        // Still ejected at the end of the run: the bar reaches the edge.
        let open = bars(&[iv(140.0, f64::NAN, 3)], (0.0, 150.0), px);
        assert_eq!((open[0].a, open[0].b), (140, 150));
    }
}
