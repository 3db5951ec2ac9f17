//! Heatmap of a sweep metric over two swept parameters.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};

use super::{
    Chart, DrawResult, GREY, IN_MEMORY, INK, PlotError, TITLE_H, anchored, bold, draw_message, draw_title, fit_text,
    fmt_num, ink_on, render_svg, save, text, text_width,
};

/// Whether a metric is better low or high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Objective {
    /// Lower is better (e.g. error rate, p99 latency).
    Minimize,
    /// Higher is better (e.g. success rate).
    Maximize,
}

impl Objective {
    fn as_str(self) -> &'static str {
        match self {
            Objective::Minimize => "minimize",
            Objective::Maximize => "maximize",
        }
    }
}

/// Input of [`heatmap`]: a metric over a grid of two swept parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Heatmap {
    /// Metric name, e.g. `error rate (%)`.
    pub metric: String,
    /// Whether the metric is better low or high (shown in the title).
    pub objective: Option<Objective>,
    /// The recommended cell `(x, y)` (the setting chosen under the objective and its
    /// constraints, whatever metric this map shows): outlined.
    #[serde(default)]
    pub recommended: Option<(usize, usize)>,
    /// What the recommendation is, for the note under the colour bar, e.g. `fewest errors with
    /// false_ejections == 0`.
    #[serde(default)]
    pub recommended_note: String,
    /// Cells `(x, y)` that break the constraints: crossed out.
    #[serde(default)]
    pub infeasible: Vec<(usize, usize)>,
    /// x axis title: the swept parameter path, e.g. `outlierDetection.consecutive5xxErrors`.
    pub x_label: String,
    /// y axis title: the other swept parameter path.
    pub y_label: String,
    /// Column labels, left to right.
    pub x_values: Vec<String>,
    /// Row labels, bottom to top (`y_values[0]` is the bottom row).
    pub y_values: Vec<String>,
    /// `values[y][x]`; NaN or absent cells are drawn as missing.
    pub values: Vec<Vec<f64>>,
}

/// Draws `data` as PNG and SVG: one cell per (x, y) coloured on a viridis scale with its
/// value printed, a colour bar, the recommended cell outlined and the cells that break the
/// constraints crossed out. Title: metric and objective.
///
/// The colour scale is linear, unless the values span orders of magnitude: then it is clipped
/// to the values that are not far out (beyond 3 interquartile ranges of the quartiles, Tukey's
/// "far out"), the far-out cells taking the end colour and the bar saying so; or, when no value
/// is far out but the largest is 100 times the smallest (all positive), logarithmic.
pub fn heatmap(data: &Heatmap, png: &Path, svg: &Path) -> Result<(), PlotError> {
    save(data, png, svg)
}

/// [`heatmap`] rendered to an SVG string.
pub fn heatmap_svg(data: &Heatmap) -> Result<String, PlotError> {
    render_svg(data, Path::new(IN_MEMORY))
}

/// Viridis colour map, sampled at 0, 0.1, ..., 1.
const VIRIDIS: [(u8, u8, u8); 11] = [
    (68, 1, 84),
    (72, 36, 117),
    (65, 68, 135),
    (53, 95, 141),
    (42, 120, 142),
    (33, 145, 140),
    (34, 168, 132),
    (68, 191, 112),
    (122, 209, 81),
    (189, 223, 38),
    (253, 231, 37),
];

/// Viridis colour at `t` in 0..1.
fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.5 };
    let pos = t * 10.0;
    let i = (pos.floor() as usize).min(9);
    let f = pos - i as f64;
    let lerp = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// How values map to the colour range.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// `lo..hi` linearly.
    Linear { lo: f64, hi: f64 },
    /// `lo..hi` linearly, values outside taking the end colours.
    Clipped { lo: f64, hi: f64, below: usize, above: usize },
    /// `log10(lo)..log10(hi)`.
    Log { lo: f64, hi: f64 },
}

/// For sorted values with some far out (beyond 3 interquartile ranges of the quartiles, by
/// nearest rank) that stretch the range to more than 4 times the others' range, the smallest and
/// largest of the others and how many lie below and above them; `None` otherwise (a mild
/// outlier keeps a linear scale).
fn far_out(v: &[f64]) -> Option<(f64, f64, usize, usize)> {
    let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    let (q1, q3) = (rank(0.25), rank(0.75));
    let iqr = q3 - q1;
    if iqr <= 0.0 {
        return None;
    }
    let (fence_lo, fence_hi) = (q1 - 3.0 * iqr, q3 + 3.0 * iqr);
    let inside: Vec<f64> = v.iter().copied().filter(|x| *x >= fence_lo && *x <= fence_hi).collect();
    let below = v.iter().filter(|x| **x < fence_lo).count();
    let above = v.iter().filter(|x| **x > fence_hi).count();
    let (a, b) = (inside[0], inside[inside.len() - 1]);
    let stretched = v[v.len() - 1] - v[0] > 4.0 * (b - a);
    (below + above > 0 && b > a && stretched).then_some((a, b, below, above))
}

impl Scale {
    /// The scale for these finite values.
    fn of(values: &[f64]) -> Option<Scale> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let (lo, hi) = (v[0], v[v.len() - 1]);
        // Values spread evenly over orders of magnitude: a log scale, unless even their
        // logarithms have a far-out value.
        if lo > 0.0 && hi / lo >= 100.0 {
            let logs: Vec<f64> = v.iter().map(|x| libm::log10(*x)).collect();
            if far_out(&logs).is_none() {
                return Some(Scale::Log { lo, hi });
            }
        }
        if let Some((a, b, below, above)) = far_out(&v) {
            return Some(Scale::Clipped { lo: a, hi: b, below, above });
        }
        Some(Scale::Linear { lo, hi })
    }

    /// Position of `v` on the colour range, 0..1.
    fn norm(&self, v: f64) -> f64 {
        let lin = |v: f64, lo: f64, hi: f64| if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
        match *self {
            Scale::Linear { lo, hi } | Scale::Clipped { lo, hi, .. } => lin(v, lo, hi),
            Scale::Log { lo, hi } => lin(libm::log10(v.max(lo)), libm::log10(lo), libm::log10(hi)),
        }
    }

    /// The value at position `f` (0..1) of the colour range.
    fn value_at(&self, f: f64) -> f64 {
        match *self {
            Scale::Linear { lo, hi } | Scale::Clipped { lo, hi, .. } => lo + (hi - lo) * f,
            Scale::Log { lo, hi } => libm::pow(10.0, libm::log10(lo) + (libm::log10(hi) - libm::log10(lo)) * f),
        }
    }

    fn spans(&self) -> bool {
        match *self {
            Scale::Linear { lo, hi } | Scale::Clipped { lo, hi, .. } | Scale::Log { lo, hi } => hi > lo,
        }
    }

    /// A line under the colour bar saying how the scale is built, if not linear.
    fn note(&self) -> Option<String> {
        match *self {
            Scale::Linear { .. } => None,
            Scale::Log { .. } => Some("log scale".to_string()),
            Scale::Clipped { lo, hi, below, above } => {
                let cells = |n: usize| if n == 1 { "1 cell".to_string() } else { format!("{n} cells") };
                let mut parts = Vec::new();
                if above > 0 {
                    parts.push(format!("{} above {}", cells(above), fmt_num(hi)));
                }
                if below > 0 {
                    parts.push(format!("{} below {}", cells(below), fmt_num(lo)));
                }
                Some(format!("clipped, {} drawn in the end colour", parts.join(" and ")))
            }
        }
    }
}

const MISSING: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
const RECOMMENDED: RGBColor = RGBColor(0xE0, 0x1E, 0x5A);
/// Height of a note line under the chart.
const NOTE_H: i32 = 18;
const AXIS: f64 = 14.0;
const LABEL: f64 = 13.0;
const VALUE: f64 = 13.0;
const BAR_W: i32 = 150;

/// Pixel layout of the heatmap, computed from the data.
struct Layout {
    width: i32,
    height: i32,
    grid_left: i32,
    grid_top: i32,
    cell_w: i32,
    cell_h: i32,
    rotate_x: bool,
    /// Top of the x axis title.
    x_title_y: i32,
    /// Bottom of the colour bar.
    bar_bottom: i32,
    /// Top of the notes under the chart.
    notes_y: i32,
}

impl Heatmap {
    fn value(&self, x: usize, y: usize) -> f64 {
        self.values.get(y).and_then(|r| r.get(x)).copied().unwrap_or(f64::NAN)
    }

    /// The lines under the chart: the scale, the outline, the crosses.
    fn notes(&self, scale: Option<Scale>) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(n) = scale.and_then(|s| s.note()) {
            notes.push(format!("Colours: {n}."));
        }
        if self.recommended.is_some() {
            let what =
                if self.recommended_note.is_empty() { String::new() } else { format!(": {}", self.recommended_note) };
            notes.push(format!("Outlined: the recommended setting{what}."));
        }
        if !self.infeasible.is_empty() {
            notes.push("Crossed out: settings that break the constraints.".to_string());
        }
        notes
    }

    fn title(&self) -> String {
        match self.objective {
            Some(o) => format!("{} ({})", self.metric, o.as_str()),
            None => self.metric.clone(),
        }
    }

    fn layout(&self) -> Layout {
        let (nx, ny) = (self.x_values.len() as i32, self.y_values.len() as i32);
        let max_w = |labels: &[String], size: f64| labels.iter().map(|l| text_width(l, size, false)).max().unwrap_or(0);
        let x_lab = max_w(&self.x_values, LABEL).min(220);
        let y_lab = max_w(&self.y_values, LABEL).clamp(20, 260);
        let val_w = (0..self.y_values.len())
            .flat_map(|y| (0..self.x_values.len()).map(move |x| (x, y)))
            .map(|(x, y)| text_width(&fmt_num(self.value(x, y)), VALUE, true))
            .max()
            .unwrap_or(0);
        let cell_w = (val_w + 16).clamp(64, 140);
        // Tall enough cells that the rotated y axis title fits beside the grid.
        let y_title_w = text_width(&self.y_label, AXIS, false);
        let cell_h = ((y_title_w + 24) / ny.max(1) + 1).clamp(42, 90);
        let rotate_x = x_lab + 8 > cell_w;
        let x_lab_h = if rotate_x { x_lab + 14 } else { 28 };
        let grid_left = 14 + 24 + 10 + y_lab + 10;
        let grid_top = TITLE_H + 20;
        let grid_bottom = grid_top + ny.max(1) * cell_h;
        let grid_right = grid_left + nx * cell_w;
        let x_title_y = grid_bottom + x_lab_h + 6;
        let bar_bottom = grid_bottom.max(grid_top + 160);
        let width = (grid_right + 40 + BAR_W)
            .max(text_width(&self.title(), 22.0, true) + 40)
            .max((grid_left + grid_right) / 2 + text_width(&self.x_label, AXIS, false) / 2 + 20);
        let cells: Vec<f64> = (0..ny as usize)
            .flat_map(|y| (0..nx as usize).map(move |x| (x, y)))
            .map(|(x, y)| self.value(x, y))
            .collect();
        let n_notes = self.notes(Scale::of(&cells)).len() as i32;
        let notes_y = (x_title_y + 30).max(bar_bottom + 12);
        let width = self.notes(Scale::of(&cells)).iter().map(|n| text_width(n, 12.0, false) + 20).fold(width, i32::max);
        let height = (x_title_y + 34).max(bar_bottom + 40).max(notes_y + n_notes * NOTE_H + 8);
        Layout { width, height, grid_left, grid_top, cell_w, cell_h, rotate_x, x_title_y, bar_bottom, notes_y }
    }
}

impl Chart for Heatmap {
    const NAME: &'static str = "heatmap";

    fn size(&self) -> (u32, u32) {
        let l = self.layout();
        (l.width as u32, l.height as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let l = self.layout();
        draw_title(root, &self.title())?;
        let (nx, ny) = (self.x_values.len(), self.y_values.len());
        let cells: Vec<f64> =
            (0..ny).flat_map(|y| (0..nx).map(move |x| (x, y))).map(|(x, y)| self.value(x, y)).collect();
        let lo = super::finite_min(cells.iter().copied());
        let hi = super::finite_max(cells.iter().copied());
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return draw_message(root, (0, TITLE_H), (l.width, l.height), "no data");
        };
        let _ = (lo, hi);
        let scale = Scale::of(&cells).expect("finite values");
        let norm = |v: f64| scale.norm(v);
        let cell_px = |x: usize, y: usize| {
            let x0 = l.grid_left + x as i32 * l.cell_w;
            let y0 = l.grid_top + (ny - 1 - y) as i32 * l.cell_h;
            (x0, y0, x0 + l.cell_w, y0 + l.cell_h)
        };
        for y in 0..ny {
            for x in 0..nx {
                let v = self.value(x, y);
                let (x0, y0, x1, y1) = cell_px(x, y);
                let fill = if v.is_finite() { viridis(norm(v)) } else { MISSING };
                root.draw(&Rectangle::new([(x0, y0), (x1, y1)], fill.filled()))?;
                root.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.stroke_width(1)))?;
                let label = if v.is_finite() { fmt_num(v) } else { "n/a".to_string() };
                if let Some(s) = fit_text(&label, VALUE, true, l.cell_w - 6) {
                    root.draw(&Text::new(
                        s,
                        ((x0 + x1) / 2, (y0 + y1) / 2),
                        anchored(bold(VALUE, ink_on(fill)), HPos::Center, VPos::Center),
                    ))?;
                }
            }
        }
        // Cells that break the constraints: a thin cross over the value, not hiding it.
        for &(x, y) in &self.infeasible {
            if x >= nx || y >= ny {
                continue;
            }
            let (x0, y0, x1, y1) = cell_px(x, y);
            let ink = ink_on(if self.value(x, y).is_finite() { viridis(norm(self.value(x, y))) } else { MISSING });
            let style = ink.mix(0.55).stroke_width(1);
            root.draw(&PathElement::new(vec![(x0 + 4, y0 + 4), (x1 - 4, y1 - 4)], style))?;
            root.draw(&PathElement::new(vec![(x0 + 4, y1 - 4), (x1 - 4, y0 + 4)], style))?;
        }
        if let Some((x, y)) = self.recommended.filter(|(x, y)| *x < nx && *y < ny) {
            let (x0, y0, x1, y1) = cell_px(x, y);
            root.draw(&Rectangle::new([(x0 + 2, y0 + 2), (x1 - 2, y1 - 2)], RECOMMENDED.stroke_width(3)))?;
        }
        let grid_bottom = l.grid_top + ny as i32 * l.cell_h;
        let grid_right = l.grid_left + nx as i32 * l.cell_w;
        // Axis labels.
        for (y, name) in self.y_values.iter().enumerate() {
            let (_, y0, _, y1) = cell_px(0, y);
            if let Some(s) = fit_text(name, LABEL, false, 260) {
                root.draw(&Text::new(
                    s,
                    (l.grid_left - 8, (y0 + y1) / 2),
                    anchored(text(LABEL, INK), HPos::Right, VPos::Center),
                ))?;
            }
        }
        for (x, name) in self.x_values.iter().enumerate() {
            let (x0, _, x1, _) = cell_px(x, 0);
            let s = fit_text(name, LABEL, false, 220).unwrap_or_default();
            if l.rotate_x {
                root.draw(&Text::new(
                    s,
                    ((x0 + x1) / 2, grid_bottom + 6),
                    anchored(text(LABEL, INK), HPos::Left, VPos::Center).transform(FontTransform::Rotate90),
                ))?;
            } else {
                root.draw(&Text::new(
                    s,
                    ((x0 + x1) / 2, grid_bottom + 6),
                    anchored(text(LABEL, INK), HPos::Center, VPos::Top),
                ))?;
            }
        }
        if let Some(s) = fit_text(&self.x_label, AXIS, false, l.width - 20) {
            root.draw(&Text::new(
                s,
                ((l.grid_left + grid_right) / 2, l.x_title_y),
                anchored(text(AXIS, INK), HPos::Center, VPos::Top),
            ))?;
        }
        if let Some(s) = fit_text(&self.y_label, AXIS, false, grid_bottom - l.grid_top) {
            root.draw(&Text::new(
                s,
                (22, (l.grid_top + grid_bottom) / 2),
                anchored(text(AXIS, INK), HPos::Center, VPos::Center).transform(FontTransform::Rotate270),
            ))?;
        }
        // Colour bar.
        let bx = grid_right + 40;
        let (by0, by1) = (l.grid_top, l.bar_bottom);
        let steps = 64;
        for s in 0..steps {
            let t0 = by1 - (by1 - by0) * s / steps;
            let t1 = by1 - (by1 - by0) * (s + 1) / steps;
            root.draw(&Rectangle::new(
                [(bx, t1), (bx + 18, t0)],
                viridis((f64::from(s) + 0.5) / f64::from(steps)).filled(),
            ))?;
        }
        root.draw(&Rectangle::new([(bx, by0), (bx + 18, by1)], GREY.stroke_width(1)))?;
        let ticks: &[f64] = if scale.spans() { &[0.0, 0.25, 0.5, 0.75, 1.0] } else { &[0.5] };
        for &f in ticks {
            let y = by1 - ((by1 - by0) as f64 * f).round() as i32;
            root.draw(&PathElement::new(vec![(bx + 18, y), (bx + 23, y)], GREY))?;
            let mut label = fmt_num(scale.value_at(f));
            if let Scale::Clipped { below, above, .. } = scale {
                if f == 1.0 && above > 0 {
                    label = format!("≥ {label}");
                } else if f == 0.0 && below > 0 {
                    label = format!("≤ {label}");
                }
            }
            root.draw(&Text::new(label, (bx + 26, y), anchored(text(12.0, INK), HPos::Left, VPos::Center)))?;
        }
        for (i, note) in self.notes(Some(scale)).iter().enumerate() {
            if let Some(s) = fit_text(note, 12.0, false, l.width - 20) {
                root.draw(&Text::new(
                    s,
                    (10, l.notes_y + i as i32 * NOTE_H),
                    anchored(text(12.0, GREY), HPos::Left, VPos::Top),
                ))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_huge_cell_does_not_flatten_the_others() {
        // The sweep: one 285 852 among values of 5 900 to 7 500 made those one colour.
        let mut v: Vec<f64> = (0..34).map(|i| 5900.0 + 1600.0 * f64::from(i) / 33.0).collect();
        v.push(285_852.0);
        let s = Scale::of(&v).unwrap();
        assert_eq!(s, Scale::Clipped { lo: 5900.0, hi: 7500.0, below: 0, above: 1 });
        assert_eq!((s.norm(5900.0), s.norm(7500.0), s.norm(285_852.0)), (0.0, 1.0, 1.0));
        assert!((s.norm(6700.0) - 0.5).abs() < 1e-12);
        assert_eq!(s.note().unwrap(), "clipped, 1 cell above 7500 drawn in the end colour");
    }

    #[test]
    fn orders_of_magnitude_get_a_log_scale() {
        let v = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];
        let s = Scale::of(&v).unwrap();
        assert_eq!(s, Scale::Log { lo: 1.0, hi: 1000.0 });
        assert!((s.norm(31.622_776_601_683_79) - 0.5).abs() < 1e-9, "the geometric middle is the middle colour");
        assert!((s.value_at(1.0 / 3.0) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_mild_outlier_keeps_a_linear_scale() {
        // The false ejections of the shipped sweep: 86.2 is beyond the fences, but only 1.4
        // times the others' range.
        let mut v = vec![0.0; 20];
        v.extend([18.1, 19.3, 0.35, 30.8, 24.2, 0.2, 42.7, 25.9, 0.2, 61.7, 27.7, 0.3, 86.2, 28.1, 0.3]);
        assert_eq!(Scale::of(&v).unwrap(), Scale::Linear { lo: 0.0, hi: 86.2 });
    }

    #[test]
    fn even_values_keep_a_linear_scale() {
        assert_eq!(Scale::of(&[0.0, 1.0, 2.0, 3.0]).unwrap(), Scale::Linear { lo: 0.0, hi: 3.0 });
        // Mostly zeros and one count: no interquartile range to judge by, linear.
        assert_eq!(Scale::of(&[0.0, 0.0, 0.0, 0.0, 500.0]).unwrap(), Scale::Linear { lo: 0.0, hi: 500.0 });
        assert_eq!(Scale::of(&[f64::NAN]), None);
    }
}
