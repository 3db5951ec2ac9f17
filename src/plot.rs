//! Charts of simulation results, drawn from plain typed data as PNG and SVG, plus a
//! self-contained HTML report.
//!
//! Every chart has two entry points: `chart(data, png, svg)` writes both files, and
//! `chart_svg(data)` returns the SVG text (for [`html_report`]). Text is drawn with the DejaVu
//! fonts embedded in the binary (registered once as `sans-serif`, `serif` and `monospace`), so
//! PNGs render identically on machines with no fonts installed; SVGs name the `sans-serif`
//! family and leave glyph rendering to the viewer.
//!
//! Guarantees shared by all charts:
//! - Deterministic: the same data gives byte-identical PNG and SVG files.
//! - Never panics on empty, short or NaN data: missing values are skipped, and a chart with
//!   nothing to show says "no data".
//! - Files are written to a temporary sibling and renamed into place, so a failed run never
//!   leaves a half-written plot. Missing parent directories are created.

mod ejection_timeline;
mod glyphs;
mod heatmap;
mod latency_ecdf;
mod palette;
mod raster;
mod report;
mod sweep_lines;
#[cfg(test)]
mod tests;
mod traffic_share;

pub use ejection_timeline::{
    EjectionInterval, EjectionRow, EjectionTimeline, ejection_timeline, ejection_timeline_svg,
};
pub use heatmap::{Heatmap, Objective, heatmap, heatmap_svg};
pub use latency_ecdf::{EcdfCurve, LatencyEcdf, latency_ecdf, latency_ecdf_svg};
pub use palette::{locality_colors, locality_labels};
pub use report::{Report, ReportSection, esc as html_escape, html_report, render_html};
pub use sweep_lines::{SweepLines, SweepSeries, sweep_lines, sweep_lines_svg};
pub use traffic_share::{RunChart, TimeMark, traffic_share, traffic_share_svg};

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

/// Errors from drawing or writing a chart. Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The plotting backend failed while drawing `chart` into `path`.
    #[error("cannot draw the {chart} chart into {}: {message}", path.display())]
    Draw {
        /// Which chart was being drawn (e.g. `traffic_share`).
        chart: &'static str,
        /// The file being written (`<in-memory SVG>` for the `*_svg` string renderers).
        path: PathBuf,
        /// The backend's error message.
        message: String,
    },
    /// Creating, writing, reading or renaming a file failed.
    #[error("cannot write {}: {error}", path.display())]
    Io {
        /// The file concerned (the final path, not the temporary sibling).
        path: PathBuf,
        /// The underlying I/O error (in the message, so not also a `source`).
        error: std::io::Error,
    },
    /// An SVG file given to the HTML report does not contain an `<svg` element.
    #[error("{} is not an SVG document", path.display())]
    NotSvg {
        /// The file that was read.
        path: PathBuf,
    },
    /// The embedded DejaVu font could not be registered with plotters.
    #[error("cannot register the embedded DejaVu font {0}")]
    Font(String),
}

/// A named fault phase of a run, drawn as a shaded, labelled band over `[start_s, end_s)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseBand {
    /// Phase name, printed at the top of the band (e.g. `zone-a outage`).
    pub name: String,
    /// Start of the phase, in simulated seconds.
    pub start_s: f64,
    /// End of the phase, in simulated seconds.
    pub end_s: f64,
}

impl PhaseBand {
    /// A phase named `name` covering `[start_s, end_s)`.
    pub fn new(name: impl Into<String>, start_s: f64, end_s: f64) -> Self {
        Self { name: name.into(), start_s, end_s }
    }
}

// ---------------------------------------------------------------------------------------------
// Fonts

/// The font family every chart uses; registered from the embedded DejaVu Sans.
const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu fonts with plotters, once per process.
fn ensure_fonts() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for (family, style, bytes) in glyphs::FONTS {
                plotters::style::register_font(family, style, bytes())
                    .map_err(|_| format!("{family} {}", style.as_str()))?;
            }
            Ok(())
        })
        .clone()
        .map_err(PlotError::Font)
}

/// The text sizes and weights the run charts draw (traffic share, ejection timeline, latency
/// ECDF: nominal sizes, bold or not), most used first: [`prepare`] rasterizes their glyphs ahead
/// of time. A size missing here costs time, not correctness (its glyphs are rasterized when
/// first drawn).
const CHART_TEXT: [(f64, bool); 8] = [
    (13.0, false),
    (12.0, false),
    (14.0, false),
    (13.0, true),
    (14.0, true),
    (12.0, true),
    (22.0, true),
    (18.0, false),
];

/// The characters [`prepare`] rasterizes at each size of [`CHART_TEXT`]: those of tick labels,
/// axis titles, legends and notes (all but 20 of the 1 511 characters of the seed lab's three
/// charts). Capitals are left out: few of them are drawn (the 20 are mostly capitals), and at
/// every size and pen they would double the work.
const CHART_CHARS: &str = " %(),-./0123456789:abcdefghijklmnopqrstuvwxyz×";

/// Does ahead of time what drawing a run's PNGs needs whatever the results: registers the
/// fonts and rasterizes the glyphs of [`CHART_CHARS`] at the sizes of [`CHART_TEXT`] for every
/// thread to share. Asks `stop` before each glyph and, when it says so, keeps what is done and
/// returns (the results are in: the glyphs still missing are rasterized as they are drawn).
/// [`crate::run_to_dir`] calls it on the chart thread while the simulation runs.
pub fn prepare(stop: impl FnMut() -> bool) -> Result<(), PlotError> {
    ensure_fonts()?;
    let sizes = CHART_TEXT.map(|(size, is_bold)| (font(size, is_bold).get_size() as f32, is_bold));
    glyphs::warm(&sizes, CHART_CHARS, stop);
    Ok(())
}

/// Chart code states font sizes in points of a nominal scale; plotters draws glyphs at
/// about `size / 1.24` pixels, so sizes are scaled by this factor to get readable text.
const FONT_SCALE: f64 = 1.2;

/// The chart font at nominal `size`, regular or bold.
/// (`FontDesc::style` would keep the regular face's metrics: bold text would be measured, and
/// in plotters' own rendering drawn, as regular.)
fn font(size: f64, is_bold: bool) -> FontDesc<'static> {
    let style = if is_bold { FontStyle::Bold } else { FontStyle::Normal };
    FontDesc::new(FontFamily::Name(FONT), size * FONT_SCALE, style)
}

/// A text style of the chart font.
fn text(size: f64, color: RGBColor) -> TextStyle<'static> {
    font(size, false).color(&color)
}

/// A bold text style of the chart font.
fn bold(size: f64, color: RGBColor) -> TextStyle<'static> {
    font(size, true).color(&color)
}

/// Text style anchored at `h`/`v`.
fn anchored(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// Width in pixels of `s` drawn at `size` in the chart font (a rough estimate if the font
/// cannot be measured).
fn text_width(s: &str, size: f64, is_bold: bool) -> i32 {
    match font(size, is_bold).box_size(s) {
        Ok((w, _)) => w as i32,
        Err(_) => (s.chars().count() as f64 * size * FONT_SCALE * 0.62).ceil() as i32,
    }
}

/// `s`, shortened with an ellipsis until it fits in `max_w` pixels; `None` if not even one
/// character fits.
fn fit_text(s: &str, size: f64, is_bold: bool, max_w: i32) -> Option<String> {
    if text_width(s, size, is_bold) <= max_w {
        return Some(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    for keep in (1..chars.len()).rev() {
        let candidate: String = chars[..keep].iter().collect::<String>() + "…";
        if text_width(&candidate, size, is_bold) <= max_w {
            return Some(candidate);
        }
    }
    None
}

/// `s` broken into lines that fit in `max_w` pixels, after a `/`, `-` or space where it can be
/// (a part too long for a line is shortened with an ellipsis), so that a legend never cuts two
/// names down to the same text.
fn wrap_text(s: &str, size: f64, is_bold: bool, max_w: i32) -> Vec<String> {
    if text_width(s, size, is_bold) <= max_w {
        return vec![s.to_string()];
    }
    // Pieces ending at a break character.
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        cur.push(c);
        if matches!(c, '/' | '-' | ' ') {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for p in pieces {
        let candidate = format!("{line}{p}");
        if line.is_empty() || text_width(candidate.trim_end(), size, is_bold) <= max_w {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line = p;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.into_iter().filter_map(|l| fit_text(l.trim_end(), size, is_bold, max_w)).collect()
}

// ---------------------------------------------------------------------------------------------
// Colours

/// Series colours (phases of the eCDF, sweep lines): the Okabe–Ito palette, distinct for the
/// common colour-vision deficiencies, then black.
const SERIES: [RGBColor; 8] = [
    palette::OKABE_ITO[0],
    palette::OKABE_ITO[1],
    palette::OKABE_ITO[2],
    palette::OKABE_ITO[3],
    palette::OKABE_ITO[4],
    palette::OKABE_ITO[5],
    palette::OKABE_ITO[6],
    RGBColor(0x22, 0x22, 0x22),
];

/// Light tints for phase bands.
const PHASE_TINTS: [RGBColor; 5] = [
    RGBColor(0xFF, 0xE8, 0xA8),
    RGBColor(0xF8, 0xC8, 0xC8),
    RGBColor(0xC8, 0xDD, 0xF2),
    RGBColor(0xCF, 0xEB, 0xC6),
    RGBColor(0xE2, 0xD0, 0xEE),
];

const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const GREY: RGBColor = RGBColor(0x70, 0x70, 0x70);
const GRID_BOLD: RGBColor = RGBColor(0xD8, 0xD8, 0xD8);
const GRID_MINOR: RGBColor = RGBColor(0xE8, 0xE8, 0xE8);
const GRID_LIGHT: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);

fn series_color(i: usize) -> RGBColor {
    SERIES[i % SERIES.len()]
}

fn phase_tint(i: usize) -> RGBColor {
    PHASE_TINTS[i % PHASE_TINTS.len()]
}

/// Relative luminance in 0..1, to choose black or white text on a coloured fill.
fn luminance(c: RGBColor) -> f64 {
    (0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2)) / 255.0
}

/// Text colour readable on `fill`.
fn ink_on(fill: RGBColor) -> RGBColor {
    if luminance(fill) > 0.55 { INK } else { WHITE }
}

// ---------------------------------------------------------------------------------------------
// Numbers

/// Compact, trimmed decimal formatting for labels: `0`, `0.25`, `12.5`, `1500`, `–` for NaN.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let a = v.abs();
    if a < 1e-12 {
        return "0".to_string();
    }
    let s = if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.001 {
        format!("{v:.3}")
    } else {
        return format!("{v:.1e}");
    };
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".to_string() } else { s }
}

/// The smallest "nice" number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) ≥ `v`; 1 for
/// non-positive or non-finite input.
fn nice_ceil(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let exp = libm::pow(10.0, libm::log10(v).floor());
    let f = v / exp;
    let nice = [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .find(|n| *n >= f * (1.0 - 1e-9))
        .unwrap_or(10.0);
    nice * exp
}

/// Largest finite value, if any.
fn finite_max(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values.into_iter().filter(|v| v.is_finite()).fold(None, |m, v| Some(m.map_or(v, |m: f64| m.max(v))))
}

/// Smallest finite value, if any.
fn finite_min(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values.into_iter().filter(|v| v.is_finite()).fold(None, |m, v| Some(m.map_or(v, |m: f64| m.min(v))))
}

/// Splits `points` into runs of finite points (NaN or infinite `y` breaks a line).
fn finite_runs(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut cur = Vec::new();
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() {
            cur.push((x, y));
        } else if !cur.is_empty() {
            runs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

// ---------------------------------------------------------------------------------------------
// Rendering and writing

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart that can draw itself on any plotters backend.
trait Chart: Sync {
    /// Name used in error messages.
    const NAME: &'static str;
    /// Canvas size in pixels (may depend on the data, e.g. number of rows).
    fn size(&self) -> (u32, u32);
    /// Draws the chart on `root`, a white canvas of [`Chart::size`] whose origin is the
    /// backend's origin.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

const IN_MEMORY: &str = "<in-memory SVG>";

fn draw_error<C: Chart>(path: &Path, message: impl std::fmt::Display) -> PlotError {
    PlotError::Draw { chart: C::NAME, path: path.to_path_buf(), message: message.to_string() }
}

fn draw_on<C: Chart, DB: DrawingBackend>(chart: &C, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    chart.draw(root)?;
    root.present()
}

/// Renders `chart` to SVG text; `target` only names the destination in errors.
fn render_svg<C: Chart>(chart: &C, target: &Path) -> Result<String, PlotError> {
    ensure_fonts()?;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, chart.size()).into_drawing_area();
        draw_on(chart, &root).map_err(|e| draw_error::<C>(target, e))?;
    }
    Ok(buf)
}

/// A white RGB pixel buffer (every byte 0xFF), made ahead of time for a PNG: making it touches
/// every page of its memory, and the kernel's page faults are most of the cost (on the 2-core
/// machine of the benches, filling a fresh 4.8 MB buffer, the seed lab's `traffic.png`, took
/// 1.5 ms, filling it again 0.18 ms). [`crate::run_to_dir`] has the chart thread make the three
/// of a run while the simulation runs.
#[derive(Debug, Default)]
pub struct Canvas(Vec<u8>);

impl Canvas {
    /// A white canvas the size of `C` with no data (the smallest it is drawn at).
    fn of<C: Chart + Default>() -> Self {
        let (w, h) = C::default().size();
        Canvas(vec![0xFF; w as usize * h as usize * 3])
    }

    /// A canvas for a run's traffic chart (1400 × 1152 with one priority, the seed lab's size).
    pub fn traffic() -> Self {
        Self::of::<RunChart>()
    }

    /// A canvas for a run's ejection timeline (1400 × 292 with up to six rows).
    pub fn ejections() -> Self {
        Self::of::<EjectionTimeline>()
    }

    /// A canvas for a run's latency ECDF (1200 × 720 always).
    pub fn latency() -> Self {
        Self::of::<LatencyEcdf>()
    }
}

/// Writes `chart` as a PNG to `path` (via a temporary sibling): drawn into memory, on `canvas`
/// cut or grown to the chart's size, then encoded by [`encode_png`]. The buffer starts white
/// (every byte 0xFF), which is what [`draw_on`]'s white fill would make of it, pixel for pixel,
/// at a small part of the cost (the bitmap backend's fill was a tenth of drawing a chart).
fn write_png<C: Chart>(chart: &C, path: &Path, canvas: Canvas) -> Result<(), PlotError> {
    ensure_fonts()?;
    let (w, h) = chart.size();
    let Canvas(mut rgb) = canvas;
    rgb.resize(w as usize * h as usize * 3, 0xFF);
    {
        let root = glyphs::PngBackend(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        chart.draw(&root).and_then(|()| root.present()).map_err(|e| draw_error::<C>(path, e))?;
    }
    let bytes = encode_png(w, h, &rgb).map_err(|e| draw_error::<C>(path, e))?;
    write_atomic(path, &bytes)
}

/// `rgb` (8-bit RGB rows, top first) as PNG bytes. Fast deflate and the "sub" filter on every
/// row: for the seed lab's charts a third of the instructions of the default level with the
/// adaptive filter (which tries five filters per row), for files about twice as large (315 KB
/// instead of about 150 KB for `traffic.png`): a run's time matters more than its disk space.
fn encode_png(w: u32, h: u32, rgb: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::with_capacity(rgb.len() / 8);
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::FilterType::Sub);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

/// One of a run's charts, for a writer that puts each file on a thread of its choosing
/// ([`crate::run_to_dir`]).
pub enum Figure<'a> {
    /// The traffic-share chart (`traffic.png`, `traffic.svg`).
    Traffic(&'a RunChart),
    /// The ejection timeline (`ejections.png`, `ejections.svg`).
    Ejections(&'a EjectionTimeline),
    /// The latency ECDF (`latency.png`, `latency.svg`).
    Latency(&'a LatencyEcdf),
}

impl Figure<'_> {
    /// Writes the chart as a PNG to `path` (via a temporary sibling), drawn on `canvas` (cut or
    /// grown to the chart's size; [`Canvas::default`] for one made here).
    pub fn write_png(&self, path: &Path, canvas: Canvas) -> Result<(), PlotError> {
        match self {
            Figure::Traffic(c) => write_png(*c, path, canvas),
            Figure::Ejections(c) => write_png(*c, path, canvas),
            Figure::Latency(c) => write_png(*c, path, canvas),
        }
    }

    /// Writes the chart as an SVG to `path` (via a temporary sibling).
    pub fn write_svg(&self, path: &Path) -> Result<(), PlotError> {
        let text = match self {
            Figure::Traffic(c) => render_svg(*c, path),
            Figure::Ejections(c) => render_svg(*c, path),
            Figure::Latency(c) => render_svg(*c, path),
        }?;
        write_atomic(path, text.as_bytes())
    }
}

/// Writes `chart` as PNG and SVG, the two at once (on rayon's pool).
fn save<C: Chart>(chart: &C, png: &Path, svg: &Path) -> Result<(), PlotError> {
    let (png_written, svg_written) = rayon::join(
        || write_png(chart, png, Canvas::default()),
        || render_svg(chart, svg).and_then(|text| write_atomic(svg, text.as_bytes())),
    );
    png_written.and(svg_written)
}

/// Writes `bytes` to `path` via a temporary sibling and a rename, so a reader never sees a
/// half-written chart. The temporary file is named and created as every file meshsim writes
/// (`output::file`: `.NAME.tmp-PID-N`, created new, never through an existing file or link) and
/// removed on Ctrl-C like the others.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    let io_err = |error| PlotError::Io { path: path.to_path_buf(), error };
    let name = path
        .file_name()
        .ok_or_else(|| io_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name")))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(io_err)?;
    let tmp = parent.join(crate::output::file::temp_name(name));
    crate::output::interrupt::add_file(&tmp);
    let result = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    crate::output::interrupt::remove(&tmp);
    result.map_err(io_err)
}

// ---------------------------------------------------------------------------------------------
// Shared drawing helpers (all in backend pixel coordinates on the full-canvas root)

/// The pixel rectangle of a chart's plotting area and its x mapping.
#[derive(Debug, Clone, Copy)]
struct Frame {
    x0: f64,
    x1: f64,
    left: i32,
    right: i32,
    top: i32,
    bottom: i32,
}

impl Frame {
    /// The frame of a plotting area with pixel ranges `(xr, yr)` (from
    /// `chart.plotting_area().get_pixel_range()`) showing `x0..x1`.
    fn new((xr, yr): (std::ops::Range<i32>, std::ops::Range<i32>), x0: f64, x1: f64) -> Self {
        Self { x0, x1, left: xr.start, right: xr.end - 1, top: yr.start, bottom: yr.end - 1 }
    }

    /// Pixel column of `x`, clamped to the frame.
    fn px(&self, x: f64) -> i32 {
        let span = self.x1 - self.x0;
        if span.is_nan() || span <= 0.0 || !x.is_finite() {
            return self.left;
        }
        let f = ((x - self.x0) / span).clamp(0.0, 1.0);
        self.left + (f * f64::from(self.right - self.left)).round() as i32
    }
}

/// Clipped pixel spans `(phase index, left px, right px)` of the phases inside the frame.
fn phase_spans(phases: &[PhaseBand], frame: &Frame) -> Vec<(usize, i32, i32)> {
    phases
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let (s, e) = (p.start_s.max(frame.x0), p.end_s.min(frame.x1));
            if !(s.is_finite() && e.is_finite() && e > s) {
                return None;
            }
            Some((i, frame.px(s), frame.px(e)))
        })
        .collect()
}

/// Shades the phases over the plotting area (drawn before the data).
fn draw_phase_fill<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    phases: &[PhaseBand],
    frame: &Frame,
) -> DrawResult<DB> {
    for (i, a, b) in phase_spans(phases, frame) {
        root.draw(&Rectangle::new([(a, frame.top), (b, frame.bottom)], phase_tint(i).mix(0.55).filled()))?;
    }
    Ok(())
}

/// Height of the strip above a plotting area that holds phase labels.
const PHASE_STRIP: i32 = 22;

/// Draws phase boundaries as dashed lines over the plotting area and, if `labels`, the phase
/// names in a tinted strip just above it (Grafana region-annotation style).
fn draw_phase_marks<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    phases: &[PhaseBand],
    frame: &Frame,
    labels: bool,
) -> DrawResult<DB> {
    let line = GREY.stroke_width(1);
    for (i, a, b) in phase_spans(phases, frame) {
        for x in [a, b] {
            if x > frame.left && x < frame.right {
                root.draw(&DashedPathElement::new(vec![(x, frame.top), (x, frame.bottom)], 4, 3, line))?;
            }
        }
        if labels {
            let (y0, y1) = (frame.top - PHASE_STRIP, frame.top - 2);
            root.draw(&Rectangle::new([(a, y0), (b, y1)], phase_tint(i).filled()))?;
            root.draw(&PathElement::new(vec![(a, y0), (a, frame.top)], GREY))?;
            root.draw(&PathElement::new(vec![(b, y0), (b, frame.top)], GREY))?;
            if let Some(name) = fit_text(&phases[i].name, 13.0, true, b - a - 6) {
                root.draw(&Text::new(
                    name,
                    ((a + b) / 2, (y0 + y1) / 2),
                    anchored(bold(13.0, INK), HPos::Center, VPos::Center),
                ))?;
            }
        }
    }
    Ok(())
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    /// A filled square.
    Fill(RGBColor),
    /// A short line of the given width.
    Line(RGBColor, u32),
    /// A line over a light band (mean and spread).
    Band(RGBColor),
}

/// Draws a legend with an optional bold header at `(x, y)`; entries that do not fit above
/// `max_y` are summarised as "+N more". Labels are shortened to `max_w` pixels; a label
/// with newlines shows its further lines as grey details.
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    max_w: i32,
    max_y: i32,
    header: &str,
    items: &[(String, Swatch)],
) -> DrawResult<DB> {
    let mut y = y;
    if !header.is_empty() {
        if let Some(h) = fit_text(header, 14.0, true, max_w) {
            root.draw(&Text::new(h, (x, y), anchored(bold(14.0, INK), HPos::Left, VPos::Top)))?;
        }
        y += 24;
    }
    for (n, (label, swatch)) in items.iter().enumerate() {
        if y + 18 > max_y && n + 1 < items.len() {
            root.draw(&Text::new(
                format!("+{} more", items.len() - n),
                (x, y),
                anchored(text(13.0, GREY), HPos::Left, VPos::Top),
            ))?;
            break;
        }
        let cy = y + 8;
        match *swatch {
            Swatch::Fill(c) => {
                root.draw(&Rectangle::new([(x, cy - 6), (x + 18, cy + 6)], c.filled()))?;
            }
            Swatch::Line(c, w) => {
                root.draw(&PathElement::new(vec![(x, cy), (x + 18, cy)], c.stroke_width(w)))?;
            }
            Swatch::Band(c) => {
                root.draw(&Rectangle::new([(x, cy - 6), (x + 18, cy + 6)], c.mix(0.2).filled()))?;
                root.draw(&PathElement::new(vec![(x, cy), (x + 18, cy)], c.stroke_width(2)))?;
            }
        }
        // The first line of a label is the entry (wrapped, never cut); further lines are grey
        // details.
        let mut lines: Vec<(String, f64, RGBColor)> = Vec::new();
        for (j, line) in label.split('\n').enumerate() {
            if j == 0 {
                lines.extend(wrap_text(line, 13.0, false, max_w - 26).into_iter().map(|l| (l, 13.0, INK)));
            } else if let Some(l) = fit_text(line, 12.0, false, max_w - 26) {
                lines.push((l, 12.0, GREY));
            }
        }
        let mut ly = cy;
        for (j, (l, size, color)) in lines.into_iter().enumerate() {
            root.draw(&Text::new(l, (x + 26, ly), anchored(text(size, color), HPos::Left, VPos::Center)))?;
            if j > 0 {
                y += 18;
            }
            ly += 18;
        }
        y += 21;
    }
    Ok(())
}

/// Writes a grey centred message (e.g. "no data") in the pixel box `(x0, y0)..(x1, y1)`.
fn draw_message<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
    message: &str,
) -> DrawResult<DB> {
    root.draw(&Text::new(
        message.to_string(),
        ((x0 + x1) / 2, (y0 + y1) / 2),
        anchored(text(18.0, GREY), HPos::Center, VPos::Center),
    ))
}

/// Draws the chart title centred at the top of the canvas; returns the y below it.
fn draw_title<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str) -> DrawResult<DB> {
    let (w, _) = root.dim_in_pixel();
    let w = w as i32;
    let shown = fit_text(title, 22.0, true, w - 20).unwrap_or_default();
    root.draw(&Text::new(shown, (w / 2, 12), anchored(bold(22.0, INK), HPos::Center, VPos::Top)))
}

/// Height reserved at the top of the canvas for [`draw_title`].
const TITLE_H: i32 = 44;

/// Prepares a polyline for drawing: drops points that land on the same pixel as the previous
/// one (lossless on both backends, whose coordinates are whole pixels), and splits it where it
/// turns back on itself by more than about 145°. plotters polygonizes lines wider than 1 px
/// with mitred joins and draws long spikes at such joins (dense data, where neighbouring
/// buckets share a pixel column, is full of them). Pieces share the vertex they are split at.
fn split_for_stroke(pts: &[(f64, f64)], to_px: impl Fn(&(f64, f64)) -> (i32, i32)) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    let mut last_px = (0, 0);
    let mut dir: Option<(f64, f64)> = None;
    for p in pts {
        let q = to_px(p);
        if cur.is_empty() {
            cur.push(*p);
            last_px = q;
            continue;
        }
        if q == last_px {
            continue;
        }
        let d = (f64::from(q.0 - last_px.0), f64::from(q.1 - last_px.1));
        let len = libm::hypot(d.0, d.1);
        let d = (d.0 / len, d.1 / len);
        if let Some(prev) = dir
            && prev.0 * d.0 + prev.1 * d.1 < -0.8
        {
            let joint = cur[cur.len() - 1];
            out.push(std::mem::replace(&mut cur, vec![joint]));
        }
        cur.push(*p);
        last_px = q;
        dir = Some(d);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Drops polygon vertices that land on the same pixel as the previous one.
fn dedup_px(pts: Vec<(f64, f64)>, to_px: impl Fn(&(f64, f64)) -> (i32, i32)) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    let mut last = None;
    for p in pts {
        let q = to_px(&p);
        if last != Some(q) {
            out.push(p);
            last = Some(q);
        }
    }
    out
}
