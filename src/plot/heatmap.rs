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
    /// Whether the metric is better low or high; the best cell is outlined.
    pub objective: Option<Objective>,
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
/// value printed, a colour bar, and the best cell outlined when an objective is given.
/// Title: metric and objective.
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

const MISSING: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
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
}

impl Heatmap {
    fn value(&self, x: usize, y: usize) -> f64 {
        self.values.get(y).and_then(|r| r.get(x)).copied().unwrap_or(f64::NAN)
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
        let height = (x_title_y + 34).max(bar_bottom + 40);
        Layout { width, height, grid_left, grid_top, cell_w, cell_h, rotate_x, x_title_y, bar_bottom }
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
        let norm = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        let best = self.objective.and_then(|o| {
            let mut best: Option<(usize, f64)> = None;
            for (i, &v) in cells.iter().enumerate() {
                if !v.is_finite() {
                    continue;
                }
                let better = match (best, o) {
                    (None, _) => true,
                    (Some((_, b)), Objective::Minimize) => v < b,
                    (Some((_, b)), Objective::Maximize) => v > b,
                };
                if better {
                    best = Some((i, v));
                }
            }
            best.map(|(i, _)| i)
        });
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
        if let Some(i) = best {
            let (x0, y0, x1, y1) = cell_px(i % nx, i / nx);
            root.draw(&Rectangle::new(
                [(x0 + 2, y0 + 2), (x1 - 2, y1 - 2)],
                RGBColor(0xE0, 0x1E, 0x5A).stroke_width(3),
            ))?;
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
        let ticks: &[f64] = if hi > lo { &[0.0, 0.25, 0.5, 0.75, 1.0] } else { &[0.5] };
        for &f in ticks {
            let y = by1 - ((by1 - by0) as f64 * f).round() as i32;
            root.draw(&PathElement::new(vec![(bx + 18, y), (bx + 23, y)], GREY))?;
            root.draw(&Text::new(
                fmt_num(lo + (hi - lo) * f),
                (bx + 26, y),
                anchored(text(12.0, INK), HPos::Left, VPos::Center),
            ))?;
        }
        if let Some(o) = self.objective {
            let note = match o {
                Objective::Minimize => "outlined: best (lowest)",
                Objective::Maximize => "outlined: best (highest)",
            };
            if let Some(s) = fit_text(note, 12.0, false, l.width - bx - 4) {
                root.draw(&Text::new(s, (bx, by1 + 10), anchored(text(12.0, GREY), HPos::Left, VPos::Top)))?;
            }
        }
        Ok(())
    }
}
