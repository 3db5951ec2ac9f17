//! The main picture of a run, over a shared time axis with the fault phases shaded and the
//! failover and fail-back instants marked: traffic share per locality, client errors by cause,
//! failed upstream attempts by cause (what retries hide), endpoints ejected (counted once each,
//! by how many proxies eject them), and panic per priority.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};

use super::palette::{OKABE_ITO, locality_colors, locality_labels};
use super::{
    Chart, DrawResult, Frame, GREY, GRID_BOLD, IN_MEMORY, INK, PHASE_STRIP, PhaseBand, PlotError, Swatch, TITLE_H,
    anchored, bold, dedup_px, draw_legend, draw_message, draw_phase_fill, draw_phase_marks, draw_title, finite_max,
    finite_runs, fit_text, fmt_num, nice_ceil, render_svg, save, split_for_stroke, text, text_width,
};

/// A moment marked on every panel with a vertical line, labelled above the top panel (e.g. when
/// traffic left a failing locality).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TimeMark {
    /// When, in simulated seconds.
    pub t_s: f64,
    /// The label, e.g. `left +0.1 s`.
    pub label: String,
}

/// Time series of one run, bucketed on a common time axis.
///
/// All per-bucket vectors are indexed like `time_s`; shorter vectors are treated as missing
/// (NaN) at the end, and NaN values leave gaps (or count as 0 in the stacked panels).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunChart {
    /// Chart title: what the run shows (the scenario's description).
    pub title: String,
    /// A line under the title, e.g. the scenario's name and seed.
    pub subtitle: String,
    /// Start of each bucket, in simulated seconds, ascending.
    pub time_s: Vec<f64>,
    /// Bucket width in seconds; if not positive, inferred from `time_s` (else 1 s).
    pub bucket_s: f64,
    /// Locality names (`region/zone/sub_zone`), one per row of `share`: their order fixes the
    /// stacking (first at the bottom); colours come from the region names and the legend shows
    /// short labels that stay unique ([`super::palette`]).
    pub localities: Vec<String>,
    /// `share[locality][bucket]`: fraction (0..1) of upstream attempts sent to that locality.
    /// A bucket whose shares are all NaN or all zero (no attempts) is left blank.
    pub share: Vec<Vec<f64>>,
    /// Client errors per second by cause (e.g. `upstream 5xx`, `no healthy upstream`,
    /// `overflow`, `timeout`), stacked in this order.
    pub error_series: Vec<(String, Vec<f64>)>,
    /// Failed upstream attempts per second by cause (`upstream 5xx`, `connect failure`,
    /// `timeout`), retried or not, stacked on the same scale as the client errors.
    pub failed_attempts: Vec<(String, Vec<f64>)>,
    /// Client requests per second, drawn as a grey backdrop on the right axis of the error
    /// panel; may be empty.
    pub requests_per_s: Vec<f64>,
    /// Endpoints ejected at each bucket's end, stacked in layers by how many proxies eject each
    /// endpoint, e.g. `("by 1 proxy", …), ("by 4 proxies", …)`, fewest first.
    pub ejected: Vec<(String, Vec<f64>)>,
    /// Per priority, e.g. `("P0", …)`: the share of proxies (0..1) with that priority in panic,
    /// averaged over each bucket.
    pub panic: Vec<(String, Vec<f64>)>,
    /// Instants marked on every panel.
    pub marks: Vec<TimeMark>,
    /// Fault phases, shaded on all panels and labelled above the top panel.
    pub phases: Vec<PhaseBand>,
}

/// Draws `data` as PNG and SVG (see the module docs).
pub fn traffic_share(data: &RunChart, png: &Path, svg: &Path) -> Result<(), PlotError> {
    save(data, png, svg)
}

/// [`traffic_share`] rendered to an SVG string.
pub fn traffic_share_svg(data: &RunChart) -> Result<String, PlotError> {
    render_svg(data, Path::new(IN_MEMORY))
}

const WIDTH: u32 = 1400;
const LEGEND_W: i32 = 250;
const Y_LABEL_W: i32 = 78;
/// Height of the title and subtitle.
const HEAD_H: i32 = TITLE_H + 16;
/// Room above the share panel for the instants' labels, above the phase strip.
const MARK_ROWS: i32 = 2;
const MARK_ROW_H: i32 = 17;
const SHARE_H: i32 = 380;
const RATE_H: i32 = 190;
const EJECTED_H: i32 = 170;
const PANIC_ROW_H: i32 = 22;
/// Below the panic strip: its x labels and the axis title.
const BOTTOM_H: i32 = 62;

/// Colours of the error causes: dark tones, apart from the region colours above them (which
/// may be any Okabe–Ito colour) and from each other in lightness as well as hue.
const CAUSE_COLORS: [RGBColor; 5] = [
    RGBColor(0xC0, 0x39, 0x2B), // red: upstream 5xx
    RGBColor(0x6A, 0x3D, 0x9A), // purple: connect failure
    RGBColor(0x22, 0x22, 0x22), // black: no healthy upstream
    RGBColor(0x9C, 0x6B, 0x1E), // brown: overflow
    RGBColor(0x2A, 0x7F, 0x8F), // teal: timeout
];
const EJECTED_COLOR: RGBColor = RGBColor(0x5B, 0x3A, 0x8C);
const PANIC_COLOR: RGBColor = RGBColor(0xB0, 0x1E, 0x1E);
/// [`PANIC_COLOR`] at 40 % over white, for the legend.
const PANIC_SOME: RGBColor = RGBColor(0xDF, 0xA5, 0xA5);
const MARK_COLOR: RGBColor = RGBColor(0x11, 0x11, 0x11);

/// The colour of an error cause, by its name (so a cause keeps its colour in both panels).
fn cause_color(name: &str, i: usize) -> RGBColor {
    let known = ["upstream 5xx", "connect failure", "no healthy upstream", "overflow", "timeout"];
    known.iter().position(|k| name.starts_with(k)).map_or(CAUSE_COLORS[i % CAUSE_COLORS.len()], |k| CAUSE_COLORS[k])
}

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

    /// Runs of adjacent buckets among `keys` (indices into `time_s`, in time order).
    fn runs<'a, T>(&self, d: &RunChart, items: &'a [(usize, T)]) -> Vec<&'a [(usize, T)]> {
        let mut runs = Vec::new();
        let mut start = 0;
        for i in 1..=items.len() {
            if i == items.len() || !self.adjacent(d, items[i - 1].0, items[i].0) {
                if i > start {
                    runs.push(&items[start..i]);
                }
                start = i;
            }
        }
        runs
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
        out.push((k, cumulative(&vals, scale)));
    }
    out
}

fn cumulative(vals: &[f64], scale: f64) -> Vec<f64> {
    let mut acc = 0.0;
    vals.iter()
        .map(|v| {
            acc += v * scale;
            acc
        })
        .collect()
}

/// Cumulative stacked layers per bucket (NaN and negative values count as 0).
fn stacked_layers(layers: &[(String, Vec<f64>)], tl: &Timeline) -> Vec<(usize, Vec<f64>)> {
    tl.order
        .iter()
        .map(|&k| {
            let vals: Vec<f64> =
                layers.iter().map(|(_, v)| at(v, k)).map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 }).collect();
            (k, cumulative(&vals, 1.0))
        })
        .collect()
}

/// The pixel rows of the canvas.
struct Layout {
    share: (i32, i32),
    errors: (i32, i32),
    failed: (i32, i32),
    ejected: (i32, i32),
    panic: (i32, i32),
    height: i32,
}

impl RunChart {
    fn panic_rows(&self) -> i32 {
        (self.panic.len() as i32).max(1)
    }

    fn layout(&self) -> Layout {
        let mut y = HEAD_H + MARK_ROWS * MARK_ROW_H;
        let mut next = |h: i32| {
            let r = (y, y + h);
            y += h;
            r
        };
        let share = next(PHASE_STRIP + 4 + SHARE_H);
        let errors = next(RATE_H);
        let failed = next(RATE_H);
        let ejected = next(EJECTED_H);
        let panic = next(10 + self.panic_rows() * PANIC_ROW_H + BOTTOM_H);
        Layout { share, errors, failed, ejected, panic, height: y + 8 }
    }
}

impl Chart for RunChart {
    const NAME: &'static str = "traffic_share";

    fn size(&self) -> (u32, u32) {
        (WIDTH, self.layout().height as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        draw_title(root, &self.title)?;
        if let Some(s) = fit_text(&self.subtitle, 13.0, false, WIDTH as i32 - 20) {
            root.draw(&Text::new(
                s,
                (WIDTH as i32 / 2, TITLE_H - 4),
                anchored(text(13.0, GREY), HPos::Center, VPos::Top),
            ))?;
        }
        let l = self.layout();
        let Some(tl) = Timeline::of(self) else {
            return draw_message(root, (0, TITLE_H), (WIDTH as i32, l.height), "no data");
        };
        let band = |(a, b): (i32, i32)| root.clone().shrink((10, a), (WIDTH - 20, (b - a) as u32));
        let mut frames = Vec::new();
        frames.push(self.draw_share_panel(root, &band(l.share), &tl)?);
        let rate_max = self.rate_max(&tl);
        frames.push(self.draw_rate_panel(root, &band(l.errors), &tl, Rate::ClientErrors, rate_max)?);
        frames.push(self.draw_rate_panel(root, &band(l.failed), &tl, Rate::FailedAttempts, rate_max)?);
        frames.push(self.draw_ejected_panel(root, &band(l.ejected), &tl)?);
        frames.push(self.draw_panic_panel(root, &band(l.panic), &tl)?);
        self.draw_marks(root, &frames)
    }
}

/// Mesh style shared by the panels.
macro_rules! mesh {
    ($chart:expr, $y_desc:expr, $x_desc:expr, $y_fmt:expr) => {
        $chart
            .configure_mesh()
            .bold_line_style(GRID_BOLD)
            .light_line_style(TRANSPARENT)
            .x_labels(14)
            .y_labels(5)
            .x_label_formatter(&|v: &f64| fmt_num(*v))
            .y_label_formatter($y_fmt)
            .label_style(text(13.0, INK))
            .axis_desc_style(text(14.0, INK))
            .y_desc($y_desc)
            .x_desc($x_desc)
            .draw()
    };
}

/// Which of the two rate panels.
#[derive(Clone, Copy, PartialEq)]
enum Rate {
    ClientErrors,
    FailedAttempts,
}

impl RunChart {
    fn draw_share_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        tl: &Timeline,
    ) -> Result<Frame, DrawingAreaErrorKind<DB::ErrorType>> {
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

        let colors = locality_colors(&self.localities);
        let color_of = |i: usize| colors.get(i).copied().unwrap_or(OKABE_ITO[i % OKABE_ITO.len()]);
        let stacked = stacked_shares(self, tl);
        let b = tl.bucket;
        for loc in 0..self.share.len() {
            let color = color_of(loc);
            for run in tl.runs(self, &stacked) {
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
                chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.9).filled())))?;
                let edge = split_for_stroke(&upper, |p| chart.backend_coord(p));
                chart.draw_series(edge.into_iter().map(|piece| PathElement::new(piece, WHITE.stroke_width(1))))?;
            }
        }
        if stacked.is_empty() {
            draw_message(root, (frame.left, frame.top), (frame.right, frame.bottom), "no upstream attempts")?;
        }
        draw_phase_marks(root, &self.phases, &frame, true)?;

        let labels = locality_labels(&self.localities);
        let items: Vec<(String, Swatch)> = (0..self.share.len().max(self.localities.len()))
            .map(|i| {
                let name = labels.get(i).cloned().unwrap_or_else(|| format!("locality {}", i + 1));
                (name, Swatch::Fill(color_of(i)))
            })
            .collect();
        let (lx, ly) = legend.get_base_pixel();
        draw_legend(root, (lx + 10, ly + PHASE_STRIP + 4), LEGEND_W - 16, ly + h as i32, "Upstream locality", &items)?;
        Ok(frame)
    }

    /// The largest stacked total of the two rate panels, so they share one scale.
    fn rate_max(&self, tl: &Timeline) -> f64 {
        [&self.error_series, &self.failed_attempts]
            .iter()
            .flat_map(|layers| stacked_layers(layers, tl).into_iter().filter_map(|(_, cum)| cum.last().copied()))
            .fold(0.0, f64::max)
    }

    fn draw_rate_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        tl: &Timeline,
        which: Rate,
        rate_max: f64,
    ) -> Result<Frame, DrawingAreaErrorKind<DB::ErrorType>> {
        let (w, h) = area.dim_in_pixel();
        let (plot, legend) = area.split_horizontally(w as i32 - LEGEND_W);
        let (layers, y_desc, header) = match which {
            Rate::ClientErrors => (&self.error_series, "client errors / s", "Client errors by cause"),
            Rate::FailedAttempts => (&self.failed_attempts, "failed attempts / s", "Failed upstream attempts"),
        };
        let req_max = finite_max(tl.order.iter().map(|&k| at(&self.requests_per_s, k)));
        let with_requests = which == Rate::ClientErrors && req_max.is_some();
        let y1 = nice_ceil(rate_max * 1.05);
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
        mesh!(chart, y_desc, "", &|v: &f64| fmt_num(*v))?;
        let b = tl.bucket;
        if with_requests {
            chart
                .configure_secondary_axes()
                .label_style(text(13.0, GREY))
                .axis_desc_style(text(14.0, GREY))
                .y_labels(5)
                .y_label_formatter(&|v: &f64| fmt_num(*v))
                .y_desc("requests / s")
                .draw()?;
            // Drawn in primary coordinates, scaled to the secondary axis.
            let pts: Vec<(f64, f64)> =
                tl.order.iter().map(|&k| (self.time_s[k] + b / 2.0, at(&self.requests_per_s, k) * y1 / r1)).collect();
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
        let colors: Vec<RGBColor> = layers.iter().enumerate().map(|(i, (n, _))| cause_color(n, i)).collect();
        let stacked = stacked_layers(layers, tl);
        self.draw_stacked_steps(&mut chart, tl, &stacked, &colors)?;
        let any = stacked.iter().any(|(_, cum)| cum.last().is_some_and(|v| *v > 0.0));
        if !any {
            let none = match which {
                Rate::ClientErrors => "no client errors",
                Rate::FailedAttempts => "no failed upstream attempts",
            };
            draw_message(root, (frame.left, frame.top), (frame.right, frame.bottom), none)?;
        }
        draw_phase_marks(root, &self.phases, &frame, false)?;

        let totals: Vec<f64> =
            layers.iter().map(|(_, v)| tl.order.iter().map(|&k| at(v, k)).filter(|x| x.is_finite()).sum()).collect();
        let mut items: Vec<(String, Swatch)> = layers
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let label = if totals[i] > 0.0 { name.clone() } else { format!("{name}: none") };
                (label, Swatch::Fill(colors[i]))
            })
            .collect();
        if with_requests {
            items.push(("requests / s (right)".to_string(), Swatch::Fill(RGBColor(0xE2, 0xE2, 0xE2))));
        }
        let (lx, ly) = legend.get_base_pixel();
        draw_legend(root, (lx + 10, ly + 6), LEGEND_W - 16, ly + h as i32, header, &items)?;
        Ok(frame)
    }

    /// Draws stacked layers as steps (one flat top per bucket), each layer over the one before.
    fn draw_stacked_steps<DB: DrawingBackend, X, Y>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
        tl: &Timeline,
        stacked: &[(usize, Vec<f64>)],
        colors: &[RGBColor],
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
    where
        X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
        Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    {
        let b = tl.bucket;
        for (layer, color) in colors.iter().enumerate() {
            for run in tl.runs(self, stacked) {
                let mut upper = Vec::with_capacity(run.len() * 2);
                let mut lower = Vec::with_capacity(run.len() * 2);
                for (k, cum) in run.iter() {
                    let t = self.time_s[*k];
                    let hi = cum.get(layer).copied().unwrap_or(0.0);
                    let lo = if layer == 0 { 0.0 } else { cum.get(layer - 1).copied().unwrap_or(0.0) };
                    upper.push((t, hi));
                    upper.push((t + b, hi));
                    lower.push((t, lo));
                    lower.push((t + b, lo));
                }
                if upper.iter().zip(&lower).all(|(u, l)| u.1 - l.1 <= 1e-12) {
                    continue;
                }
                let mut poly = upper.clone();
                poly.extend(lower.into_iter().rev());
                let poly = dedup_px(poly, |p| chart.backend_coord(p));
                chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.85).filled())))?;
            }
        }
        Ok(())
    }

    fn draw_ejected_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        tl: &Timeline,
    ) -> Result<Frame, DrawingAreaErrorKind<DB::ErrorType>> {
        let (w, h) = area.dim_in_pixel();
        let (plot, legend) = area.split_horizontally(w as i32 - LEGEND_W);
        let stacked = stacked_layers(&self.ejected, tl);
        let e_max = stacked.iter().filter_map(|(_, cum)| cum.last().copied()).fold(0.0, f64::max);
        let y1 = nice_ceil(e_max.max(1.0) * 1.1);
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(10)
            .margin_right(8 + Y_LABEL_W)
            .x_label_area_size(26)
            .y_label_area_size(Y_LABEL_W)
            .build_cartesian_2d(tl.x0..tl.x1, 0.0..y1)?;
        let frame = Frame::new(chart.plotting_area().get_pixel_range(), tl.x0, tl.x1);
        draw_phase_fill(root, &self.phases, &frame)?;
        let int_labels = |v: &f64| {
            if (v - v.round()).abs() < 1e-9 { format!("{}", v.round()) } else { String::new() }
        };
        mesh!(chart, "ejected endpoints", "", &int_labels)?;
        // Fewest proxies lightest, most darkest.
        let n = self.ejected.len().max(1);
        let colors: Vec<RGBColor> = (0..self.ejected.len())
            .map(|i| {
                let f = if n == 1 { 1.0 } else { 0.3 + 0.7 * i as f64 / (n - 1) as f64 };
                let mix = |c: u8| (255.0 - (255.0 - f64::from(c)) * f).round() as u8;
                RGBColor(mix(EJECTED_COLOR.0), mix(EJECTED_COLOR.1), mix(EJECTED_COLOR.2))
            })
            .collect();
        self.draw_stacked_steps(&mut chart, tl, &stacked, &colors)?;
        if e_max <= 0.0 {
            draw_message(root, (frame.left, frame.top), (frame.right, frame.bottom), "no ejections")?;
        }
        draw_phase_marks(root, &self.phases, &frame, false)?;
        let items: Vec<(String, Swatch)> =
            self.ejected.iter().zip(&colors).map(|((name, _), c)| (name.clone(), Swatch::Fill(*c))).collect();
        let (lx, ly) = legend.get_base_pixel();
        draw_legend(root, (lx + 10, ly + 6), LEGEND_W - 16, ly + h as i32, "Ejected endpoints", &items)?;
        Ok(frame)
    }

    fn draw_panic_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        tl: &Timeline,
    ) -> Result<Frame, DrawingAreaErrorKind<DB::ErrorType>> {
        let (w, h) = area.dim_in_pixel();
        let (plot, legend) = area.split_horizontally(w as i32 - LEGEND_W);
        let rows = self.panic_rows() as usize;
        let mut chart = ChartBuilder::on(&plot)
            .margin_top(10)
            .margin_right(8 + Y_LABEL_W)
            .x_label_area_size(BOTTOM_H)
            .y_label_area_size(Y_LABEL_W)
            .build_cartesian_2d(tl.x0..tl.x1, 0.0..rows as f64)?;
        let frame = Frame::new(chart.plotting_area().get_pixel_range(), tl.x0, tl.x1);
        draw_phase_fill(root, &self.phases, &frame)?;
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
        let b = tl.bucket;
        let mut any = false;
        for (r, (name, values)) in self.panic.iter().enumerate() {
            // Row r from the top.
            let (lo, hi) = ((rows - r - 1) as f64 + 0.12, (rows - r) as f64 - 0.12);
            for &k in &tl.order {
                let v = at(values, k);
                if !(v.is_finite() && v > 0.0) {
                    continue;
                }
                any = true;
                let t = self.time_s[k];
                let alpha = 0.25 + 0.75 * v.min(1.0);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(t, lo), (t + b, hi)],
                    PANIC_COLOR.mix(alpha).filled(),
                )))?;
            }
            let (_, y_px) = chart.backend_coord(&(tl.x0, (lo + hi) / 2.0));
            root.draw(&Text::new(
                name.clone(),
                (frame.left - 8, y_px),
                anchored(text(13.0, INK), HPos::Right, VPos::Center),
            ))?;
        }
        if !any {
            root.draw(&Text::new(
                "no panic".to_string(),
                ((frame.left + frame.right) / 2, (frame.top + frame.bottom) / 2),
                anchored(text(13.0, GREY), HPos::Center, VPos::Center),
            ))?;
        }
        draw_phase_marks(root, &self.phases, &frame, false)?;
        let (lx, ly) = legend.get_base_pixel();
        let items = vec![
            ("all proxies in panic".to_string(), Swatch::Fill(PANIC_COLOR)),
            ("some of them".to_string(), Swatch::Fill(PANIC_SOME)),
        ];
        draw_legend(root, (lx + 10, ly + 6), LEGEND_W - 16, ly + h as i32, "Panic, per priority", &items)?;
        Ok(frame)
    }

    /// Vertical lines at the instants over every panel, labels above the top one (a label that
    /// would overlap the previous one moves down a row).
    fn draw_marks<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, frames: &[Frame]) -> DrawResult<DB> {
        let Some(top) = frames.first() else { return Ok(()) };
        let mut rows_end = [i32::MIN; MARK_ROWS as usize];
        let label_top = top.top - PHASE_STRIP - MARK_ROWS * MARK_ROW_H - 2;
        for m in &self.marks {
            if !(m.t_s.is_finite() && m.t_s >= top.x0 && m.t_s <= top.x1) {
                continue;
            }
            let x = top.px(m.t_s);
            for f in frames {
                root.draw(&PathElement::new(vec![(x, f.top), (x, f.bottom)], MARK_COLOR.stroke_width(1)))?;
            }
            let w = text_width(&m.label, 12.0, true);
            // Right of the line, or left of it near the right edge.
            let right = x + 4 + w <= top.right;
            let (x0, anchor, span) =
                if right { (x + 4, HPos::Left, (x + 4, x + 4 + w)) } else { (x - 4, HPos::Right, (x - 4 - w, x - 4)) };
            let row = rows_end.iter().position(|end| span.0 > *end + 6).unwrap_or(MARK_ROWS as usize - 1);
            rows_end[row] = span.1;
            let y = label_top + row as i32 * MARK_ROW_H;
            root.draw(&PathElement::new(vec![(x, y + MARK_ROW_H / 2), (x, top.top)], MARK_COLOR.stroke_width(1)))?;
            root.draw(&Text::new(
                m.label.clone(),
                (x0, y + MARK_ROW_H / 2),
                anchored(bold(12.0, MARK_COLOR), anchor, VPos::Center),
            ))?;
        }
        Ok(())
    }
}
