//! The main picture of a run: traffic share per locality, client errors by cause, and
//! ejected endpoints, over a shared time axis with the fault phases shaded.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    Chart, DrawResult, Frame, GREY, GRID_BOLD, IN_MEMORY, INK, PHASE_STRIP, PhaseBand, PlotError, Swatch, TITLE_H,
    cause_color, dedup_px, draw_legend, draw_message, draw_phase_fill, draw_phase_marks, draw_title, finite_max,
    finite_min, finite_runs, fmt_num, nice_ceil, render_svg, save, series_color, split_for_stroke, text,
};

/// Time series of one run, bucketed on a common time axis.
///
/// All per-bucket vectors are indexed like `time_s`; shorter vectors are treated as missing
/// (NaN) at the end, and NaN values leave gaps.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunChart {
    /// Chart title: scenario name and seed, e.g. `zone-a outage · seed 42`.
    pub title: String,
    /// Start of each bucket, in simulated seconds, ascending.
    pub time_s: Vec<f64>,
    /// Bucket width in seconds; if not positive, inferred from `time_s` (else 1 s).
    pub bucket_s: f64,
    /// Locality names, one per row of `share`; their order fixes colours and stacking (first
    /// at the bottom).
    pub localities: Vec<String>,
    /// `share[locality][bucket]`: fraction (0..1) of upstream attempts sent to that locality.
    /// A bucket whose shares are all NaN or all zero (no attempts) is left blank.
    pub share: Vec<Vec<f64>>,
    /// Client errors per second by cause (e.g. `upstream 5xx`, `no healthy upstream`,
    /// `overflow`, `timeout`), in legend order.
    pub error_series: Vec<(String, Vec<f64>)>,
    /// Client requests per second, drawn as a grey backdrop on the right axis of the error
    /// panel; may be empty.
    pub requests_per_s: Vec<f64>,
    /// Number of (proxy, endpoint) pairs ejected, per bucket.
    pub ejected: Vec<f64>,
    /// Fault phases, shaded on all panels and labelled above the top panel.
    pub phases: Vec<PhaseBand>,
}

/// Draws `data` as PNG and SVG: attempt share per locality (stacked, 0–100 %), client error
/// rate by cause, and ejected endpoints, over a shared time axis with phases shaded.
pub fn traffic_share(data: &RunChart, png: &Path, svg: &Path) -> Result<(), PlotError> {
    save(data, png, svg)
}

/// [`traffic_share`] rendered to an SVG string.
pub fn traffic_share_svg(data: &RunChart) -> Result<String, PlotError> {
    render_svg(data, Path::new(IN_MEMORY))
}

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 1040;
const LEGEND_W: i32 = 230;
const Y_LABEL_W: i32 = 78;

/// Buckets in ascending time order, with the bucket width.
struct Timeline {
    /// Indices into `time_s` of the finite bucket starts, sorted by time.
    order: Vec<usize>,
    bucket: f64,
    x0: f64,
    x1: f64,
}

impl Timeline {
    fn of(d: &RunChart) -> Option<Self> {
        let mut order: Vec<usize> = (0..d.time_s.len()).filter(|&i| d.time_s[i].is_finite()).collect();
        if order.is_empty() {
            return None;
        }
        order.sort_by(|&a, &b| d.time_s[a].total_cmp(&d.time_s[b]));
        let bucket = if d.bucket_s.is_finite() && d.bucket_s > 0.0 {
            d.bucket_s
        } else {
            order.windows(2).map(|w| d.time_s[w[1]] - d.time_s[w[0]]).find(|g| *g > 0.0).unwrap_or(1.0)
        };
        let x0 = d.time_s[order[0]];
        let x1 = d.time_s[order[order.len() - 1]] + bucket;
        Some(Self { order, bucket, x0, x1 })
    }

    /// Whether bucket `b` directly follows bucket `a` (no gap in time).
    fn adjacent(&self, d: &RunChart, a: usize, b: usize) -> bool {
        (d.time_s[b] - (d.time_s[a] + self.bucket)).abs() <= self.bucket * 1e-6
    }
}

fn at(v: &[f64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// Cumulative stacked shares (in %) per valid bucket: `(bucket index, [cum_0, cum_1, ...])`
/// where `cum_i` is the top of locality `i`.
fn stacked_shares(d: &RunChart, tl: &Timeline) -> Vec<(usize, Vec<f64>)> {
    let n = d.share.len();
    let mut out = Vec::new();
    for &k in &tl.order {
        let raw: Vec<f64> = (0..n).map(|i| at(&d.share[i], k)).collect();
        if raw.iter().all(|v| !v.is_finite()) {
            continue;
        }
        let vals: Vec<f64> = raw.iter().map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 }).collect();
        let sum: f64 = vals.iter().sum();
        if sum <= 0.0 {
            continue;
        }
        let scale = if sum > 1.0 { 100.0 / sum } else { 100.0 };
        let mut acc = 0.0;
        let cum = vals
            .iter()
            .map(|v| {
                acc += v * scale;
                acc
            })
            .collect();
        out.push((k, cum));
    }
    out
}

impl Chart for RunChart {
    const NAME: &'static str = "traffic_share";

    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw_title(root, &self.title)?;
        let Some(tl) = Timeline::of(self) else {
            return draw_message(root, (0, TITLE_H), (WIDTH as i32, HEIGHT as i32), "no data");
        };
        let body = root.margin(TITLE_H as u32, 8, 10, 10);
        let h = HEIGHT as i32 - TITLE_H - 8;
        let (top, rest) = body.split_vertically(h * 46 / 100);
        let (mid, bottom) = rest.split_vertically(h * 29 / 100);
        self.draw_share_panel(root, &top, &tl)?;
        self.draw_error_panel(root, &mid, &tl)?;
        self.draw_ejected_panel(root, &bottom, &tl)?;
        Ok(())
    }
}

/// Mesh style shared by the three panels.
macro_rules! mesh {
    ($chart:expr, $y_desc:expr, $x_desc:expr, $y_fmt:expr) => {
        $chart
            .configure_mesh()
            .bold_line_style(GRID_BOLD)
            .light_line_style(TRANSPARENT)
            .x_labels(14)
            .y_labels(6)
            .x_label_formatter(&|v: &f64| fmt_num(*v))
            .y_label_formatter($y_fmt)
            .label_style(text(13.0, INK))
            .axis_desc_style(text(14.0, INK))
            .y_desc($y_desc)
            .x_desc($x_desc)
            .draw()
    };
}

impl RunChart {
    fn draw_share_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        tl: &Timeline,
    ) -> DrawResult<DB> {
        let (w, h) = area.dim_in_pixel();
        let (plot, legend) = area.split_horizontally(w as i32 - LEGEND_W);
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(PHASE_STRIP + 4)
            .margin_right(8 + Y_LABEL_W)
            .x_label_area_size(26)
            .y_label_area_size(Y_LABEL_W)
            .build_cartesian_2d(tl.x0..tl.x1, 0.0..100.0)?;
        let frame = Frame::new(chart.plotting_area().get_pixel_range(), tl.x0, tl.x1);
        draw_phase_fill(root, &self.phases, &frame)?;
        mesh!(chart, "attempt share (%)", "", &|v: &f64| fmt_num(*v))?;

        let stacked = stacked_shares(self, tl);
        // Contiguous runs of buckets.
        let mut runs: Vec<&[(usize, Vec<f64>)]> = Vec::new();
        let mut start = 0;
        for i in 1..=stacked.len() {
            if i == stacked.len() || !tl.adjacent(self, stacked[i - 1].0, stacked[i].0) {
                if i > start {
                    runs.push(&stacked[start..i]);
                }
                start = i;
            }
        }
        let b = tl.bucket;
        for loc in 0..self.share.len() {
            let color = series_color(loc);
            for run in &runs {
                let mut upper = Vec::with_capacity(run.len() * 2);
                let mut lower = Vec::with_capacity(run.len() * 2);
                for (k, cum) in run.iter() {
                    let t = self.time_s[*k];
                    let hi = cum[loc];
                    let lo = if loc == 0 { 0.0 } else { cum[loc - 1] };
                    upper.push((t, hi));
                    upper.push((t + b, hi));
                    lower.push((t, lo));
                    lower.push((t + b, lo));
                }
                if upper.iter().zip(&lower).all(|(u, l)| u.1 - l.1 <= 1e-9) {
                    continue;
                }
                let mut poly = upper.clone();
                poly.extend(lower.into_iter().rev());
                let poly = dedup_px(poly, |p| chart.backend_coord(p));
                chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.88).filled())))?;
                let edge = split_for_stroke(&upper, |p| chart.backend_coord(p));
                chart.draw_series(edge.into_iter().map(|piece| PathElement::new(piece, color.stroke_width(1))))?;
            }
        }
        if stacked.is_empty() {
            draw_message(root, (frame.left, frame.top), (frame.right, frame.bottom), "no upstream attempts")?;
        }
        draw_phase_marks(root, &self.phases, &frame, true)?;

        let items: Vec<(String, Swatch)> = (0..self.share.len().max(self.localities.len()))
            .map(|i| {
                let name = self.localities.get(i).cloned().unwrap_or_else(|| format!("locality {}", i + 1));
                (name, Swatch::Fill(series_color(i)))
            })
            .collect();
        let (lx, ly) = legend.get_base_pixel();
        draw_legend(root, (lx + 10, ly + PHASE_STRIP + 4), LEGEND_W - 16, ly + h as i32, "Upstream locality", &items)
    }

    fn draw_error_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        tl: &Timeline,
    ) -> DrawResult<DB> {
        let (w, h) = area.dim_in_pixel();
        let (plot, legend) = area.split_horizontally(w as i32 - LEGEND_W);
        let err_max = finite_max(self.error_series.iter().flat_map(|(_, v)| tl.order.iter().map(move |&k| at(v, k))));
        let req_max = finite_max(tl.order.iter().map(|&k| at(&self.requests_per_s, k)));
        let y1 = nice_ceil(err_max.unwrap_or(0.0) * 1.05);
        let r1 = nice_ceil(req_max.unwrap_or(0.0) * 1.05);
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(10)
            .margin_right(8)
            .x_label_area_size(26)
            .y_label_area_size(Y_LABEL_W)
            .right_y_label_area_size(Y_LABEL_W)
            .build_cartesian_2d(tl.x0..tl.x1, 0.0..y1)?
            .set_secondary_coord(tl.x0..tl.x1, 0.0..r1);
        let frame = Frame::new(chart.plotting_area().get_pixel_range(), tl.x0, tl.x1);
        draw_phase_fill(root, &self.phases, &frame)?;
        mesh!(chart, "client errors / s", "", &|v: &f64| fmt_num(*v))?;
        let b = tl.bucket;
        let has_requests = req_max.is_some();
        if has_requests {
            chart
                .configure_secondary_axes()
                .label_style(text(13.0, GREY))
                .axis_desc_style(text(14.0, GREY))
                .y_labels(6)
                .y_label_formatter(&|v: &f64| fmt_num(*v))
                .y_desc("requests / s")
                .draw()?;
            // Drawn in primary coordinates, scaled to the secondary axis.
            let pts: Vec<(f64, f64)> = tl
                .order
                .iter()
                .map(|&k| {
                    let r = at(&self.requests_per_s, k);
                    (self.time_s[k] + b / 2.0, r * y1 / r1)
                })
                .collect();
            for run in finite_runs(&pts) {
                let mut poly = run.clone();
                poly.push((run[run.len() - 1].0, 0.0));
                poly.push((run[0].0, 0.0));
                let poly = dedup_px(poly, |p| chart.backend_coord(p));
                chart.draw_series(std::iter::once(Polygon::new(poly, GREY.mix(0.08).filled())))?;
                let line = split_for_stroke(&run, |p| chart.backend_coord(p));
                chart.draw_series(
                    line.into_iter().map(|piece| PathElement::new(piece, GREY.mix(0.45).stroke_width(1))),
                )?;
            }
        }
        for (i, (_, values)) in self.error_series.iter().enumerate() {
            let color = cause_color(i);
            let pts: Vec<(f64, f64)> = tl.order.iter().map(|&k| (self.time_s[k] + b / 2.0, at(values, k))).collect();
            for run in finite_runs(&pts) {
                if run.len() == 1 {
                    chart.draw_series(std::iter::once(Circle::new(run[0], 2, color.filled())))?;
                } else {
                    let pieces = split_for_stroke(&run, |p| chart.backend_coord(p));
                    chart
                        .draw_series(pieces.into_iter().map(|piece| PathElement::new(piece, color.stroke_width(2))))?;
                }
            }
        }
        if err_max.is_none() {
            draw_message(root, (frame.left, frame.top), (frame.right, frame.bottom), "no error data")?;
        }
        draw_phase_marks(root, &self.phases, &frame, false)?;

        let mut items: Vec<(String, Swatch)> = self
            .error_series
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), Swatch::Line(cause_color(i), 2)))
            .collect();
        if has_requests {
            items.push(("requests / s (right)".to_string(), Swatch::Fill(RGBColor(0xE2, 0xE2, 0xE2))));
        }
        let (lx, ly) = legend.get_base_pixel();
        draw_legend(root, (lx + 10, ly + 10), LEGEND_W - 16, ly + h as i32, "Client errors by cause", &items)
    }

    fn draw_ejected_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        tl: &Timeline,
    ) -> DrawResult<DB> {
        let (w, h) = area.dim_in_pixel();
        let (plot, legend) = area.split_horizontally(w as i32 - LEGEND_W);
        let b = tl.bucket;
        let mut pts: Vec<(f64, f64)> = Vec::with_capacity(tl.order.len() * 2);
        for (n, &k) in tl.order.iter().enumerate() {
            let v = at(&self.ejected, k);
            let t = self.time_s[k];
            if n > 0 && !tl.adjacent(self, tl.order[n - 1], k) {
                pts.push((f64::NAN, f64::NAN));
            }
            pts.push((t, v));
            pts.push((t + b, v));
        }
        let e_max = finite_max(pts.iter().map(|p| p.1));
        let e_min = finite_min(pts.iter().map(|p| p.1)).unwrap_or(0.0).min(0.0);
        let y1 = nice_ceil(e_max.unwrap_or(0.0).max(1.0) * 1.1);
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(10)
            .margin_right(8 + Y_LABEL_W)
            .x_label_area_size(48)
            .y_label_area_size(Y_LABEL_W)
            .build_cartesian_2d(tl.x0..tl.x1, e_min..y1)?;
        let frame = Frame::new(chart.plotting_area().get_pixel_range(), tl.x0, tl.x1);
        draw_phase_fill(root, &self.phases, &frame)?;
        let int_labels = |v: &f64| {
            if (v - v.round()).abs() < 1e-9 { format!("{}", v.round()) } else { String::new() }
        };
        mesh!(chart, "ejected endpoints", "time (s)", &int_labels)?;
        let color = RGBColor(0x5B, 0x3A, 0x8C);
        for run in finite_runs(&pts) {
            let mut poly = run.clone();
            poly.push((run[run.len() - 1].0, 0.0));
            poly.push((run[0].0, 0.0));
            let poly = dedup_px(poly, |p| chart.backend_coord(p));
            chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.15).filled())))?;
            let pieces = split_for_stroke(&run, |p| chart.backend_coord(p));
            chart.draw_series(pieces.into_iter().map(|piece| PathElement::new(piece, color.stroke_width(2))))?;
        }
        if e_max.is_none() {
            draw_message(root, (frame.left, frame.top), (frame.right, frame.bottom), "no ejection data")?;
        }
        draw_phase_marks(root, &self.phases, &frame, false)?;
        let (lx, ly) = legend.get_base_pixel();
        draw_legend(
            root,
            (lx + 10, ly + 10),
            LEGEND_W - 16,
            ly + h as i32,
            "Outlier detection",
            &[("ejected (proxy, endpoint)".to_string(), Swatch::Line(color, 2))],
        )
    }
}
