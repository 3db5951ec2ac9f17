//! Text in PNGs, drawn with each glyph at its true place.
//!
//! plotters 0.3.7 rasterizes text through `ab_glyph` (`plotters/src/style/font/ab_glyph.rs`,
//! `FontDataInternal::draw`) and places each glyph's pixels at the pen position, dropping the
//! glyph's left side bearing (`px_bounds().min.x`). Narrow glyphs with a wide bearing are then
//! drawn too far left: in "client" the `l` touches the `c` and the word reads "dient"; "0.01"
//! reads "0.0 1". [`PngBackend`] wraps the bitmap backend and draws text itself with the same
//! layout (advances and kerning, the same vertical placement), adding the bearing. SVGs are not
//! affected: they hold `<text>` elements that the viewer lays out. The wrapper also fills
//! polygons row by row ([`super::raster`]).

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, ScaleFont, point};
use plotters::prelude::*;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
    text_anchor::{HPos, VPos},
};

/// An embedded font: family, style, and its bytes.
pub(super) type EmbeddedFont = (&'static str, FontStyle, fn() -> &'static [u8]);

/// The embedded fonts, by family and style (the table [`super::ensure_fonts`] registers).
pub(super) const FONTS: [EmbeddedFont; 8] = [
    ("sans-serif", FontStyle::Normal, dejavu::sans::regular),
    ("sans-serif", FontStyle::Bold, dejavu::sans::bold),
    ("sans-serif", FontStyle::Oblique, dejavu::sans::oblique),
    ("sans-serif", FontStyle::Italic, dejavu::sans::oblique),
    ("serif", FontStyle::Normal, dejavu::serif::regular),
    ("serif", FontStyle::Bold, dejavu::serif::bold),
    ("monospace", FontStyle::Normal, dejavu::sans_mono::regular),
    ("monospace", FontStyle::Bold, dejavu::sans_mono::bold),
];

/// The parsed font of a family and style (the family's regular face when the style is missing,
/// as plotters does); `None` for a family that is not embedded.
fn font_for(family: &str, style: FontStyle) -> Option<&'static FontRef<'static>> {
    static PARSED: OnceLock<Vec<(&'static str, FontStyle, FontRef<'static>)>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        FONTS
            .iter()
            .filter_map(|(f, s, bytes)| FontRef::try_from_slice(bytes()).ok().map(|font| (*f, *s, font)))
            .collect()
    });
    let find = |s: FontStyle| parsed.iter().find(|(f, st, _)| *f == family && st.as_str() == s.as_str());
    find(style).or_else(|| find(FontStyle::Normal)).map(|(_, _, font)| font)
}

/// A drawing backend that passes everything to `B` but draws text itself, with each glyph's
/// side bearing (see the module docs).
pub(super) struct PngBackend<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for PngBackend<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let vert: Vec<BackendCoord> = vert.into_iter().collect();
        super::raster::fill_rows(&mut self.0, &vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        self.0.estimate_text_size(text, style)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let Some(font) = font_for(style.family().as_str(), style.style()) else {
            return self.0.draw_text(text, style, pos);
        };
        // Anchoring exactly as plotters' default `draw_text` does, from the same layout box.
        let ((min_x, min_y), (max_x, max_y)) =
            style.layout_box(text).map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        for (x, y, coverage) in glyph_pixels(font, style.size() as f32, text) {
            let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let c = BackendColor { alpha: color.alpha * f64::from(coverage), rgb: color.rgb };
                self.0.draw_pixel((x, y), c)?;
            }
        }
        Ok(())
    }
}

/// The pixels `(x, y, coverage)` of `text` at `size`, relative to the text's layout origin:
/// the pen advances and kerns as in plotters' layout (so widths match [`super::text_width`]),
/// and each glyph is rasterized with its bearing at its pen position rounded to a quarter pixel
/// (the error, at most an eighth of a pixel, cannot be seen; it lets a glyph drawn again at the
/// same quarter reuse its raster, see [`raster_of`]).
pub(super) fn glyph_pixels(font: &'static FontRef<'static>, size: f32, text: &str) -> Vec<(i32, i32, f32)> {
    let scaled = font.as_scaled(size);
    let mut out = Vec::new();
    let mut pen = 0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        prev = Some(id);
        let quarters = (pen * 4.0).round();
        let whole = (quarters / 4.0).floor();
        let quarter = (quarters - whole * 4.0) as u8;
        raster_of(font, size, id, quarter, |raster| {
            out.extend(raster.iter().map(|&(x, y, coverage)| (x + whole as i32, y, coverage)));
        });
        pen += scaled.h_advance(id);
    }
    out
}

/// A glyph's raster: `(x, y, coverage)` of its inked pixels, drawn with its pen at `quarter`
/// quarters of a pixel right of the origin.
type Raster = Vec<(i32, i32, f32)>;

/// What a raster is made from: the font (by address: the fonts are parsed once, in
/// [`font_for`]), the size's bits, the glyph and the pen's quarter pixel.
type Key = (usize, u32, u16, u8);

/// Rasters made ahead of time by [`warm`] (on a thread that would otherwise wait), shared by
/// every thread once published; [`raster_of`] looks here before its own cache.
static WARM: OnceLock<std::collections::BTreeMap<Key, Raster>> = OnceLock::new();

/// Rasterizes the glyphs of `chars` in the chart font (`sans-serif`) at each `(pixel size, bold)`
/// of `sizes`, at the four quarter-pixel pens, and publishes them for every thread to reuse. It
/// asks `stop` before each raster and, when `stop` says so, publishes what it has made so far.
/// Nothing drawn depends on whether a raster was made here or on demand (a raster depends only
/// on its key), only how long drawing takes. Does nothing once a table is published (a process
/// may write many runs).
pub(super) fn warm(sizes: &[(f32, bool)], chars: &str, mut stop: impl FnMut() -> bool) {
    if WARM.get().is_some() {
        return;
    }
    let mut table = std::collections::BTreeMap::new();
    // Each glyph's outline, read from the font once for all sizes and pens.
    let mut outlines = std::collections::BTreeMap::new();
    'all: for &(size, is_bold) in sizes {
        let style = if is_bold { FontStyle::Bold } else { FontStyle::Normal };
        let Some(font) = font_for(super::FONT, style) else { continue };
        for c in chars.chars() {
            let id = font.glyph_id(c);
            for quarter in 0..4u8 {
                if stop() {
                    break 'all;
                }
                let key: Key = (std::ptr::from_ref(font) as usize, size.to_bits(), id.0, quarter);
                let outline: &Option<ab_glyph::Outline> =
                    outlines.entry((key.0, id.0)).or_insert_with(|| font.outline(id));
                let pen = f32::from(quarter) / 4.0;
                table.entry(key).or_insert_with(|| match outline {
                    Some(outline) => rasterize_outline(font, size, id, pen, outline.clone()),
                    None => Vec::new(),
                });
            }
        }
    }
    let _ = WARM.set(table);
}

/// At most this many rasters are kept per thread (a long `meshsim serve` meets many texts);
/// past it the cache starts again. A raster depends only on its key, so what is cached never
/// changes a pixel.
const RASTER_CACHE_MAX: usize = 4096;

/// Calls `with` on the raster of glyph `id` of `font` at `size`, pen at `quarter` quarters of a
/// pixel: taken from the table [`warm`] published if it is there, else rasterized once per thread
/// and kept (the charts of a run draw the same tick labels and legend words many times;
/// rasterizing was a third of drawing a PNG).
fn raster_of(
    font: &'static FontRef<'static>,
    size: f32,
    id: ab_glyph::GlyphId,
    quarter: u8,
    with: impl FnOnce(&Raster),
) {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::BTreeMap<Key, Raster>> =
            const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
    }
    let key: Key = (std::ptr::from_ref(font) as usize, size.to_bits(), id.0, quarter);
    if let Some(raster) = WARM.get().and_then(|warm| warm.get(&key)) {
        return with(raster);
    }
    CACHE.with_borrow_mut(|cache| {
        if !cache.contains_key(&key) {
            if cache.len() >= RASTER_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, rasterize(font, size, id, f32::from(quarter) / 4.0));
        }
        with(&cache[&key]);
    });
}

/// Rasterizes glyph `id` with its pen at `pen` (a fraction of a pixel).
fn rasterize(font: &FontRef<'static>, size: f32, id: ab_glyph::GlyphId, pen: f32) -> Raster {
    font.outline(id).map_or_else(Vec::new, |outline| rasterize_outline(font, size, id, pen, outline))
}

/// [`rasterize`] from the glyph's outline, read from the font already (what
/// `Font::outline_glyph` does, in two steps: [`warm`] reads an outline once for its sizes and
/// pens).
fn rasterize_outline(
    font: &FontRef<'static>,
    size: f32,
    id: ab_glyph::GlyphId,
    pen: f32,
    outline: ab_glyph::Outline,
) -> Raster {
    let outline = ab_glyph::OutlinedGlyph::new(
        id.with_scale_and_position(size, point(pen, 0.0)),
        outline,
        font.as_scaled(size).scale_factor(),
    );
    let rect = outline.px_bounds();
    // The baseline where plotters puts it (half the size down), but the same for every
    // glyph: plotters truncates `size / 2 + min.y` towards zero, which lifts glyphs with
    // a flat top (`u`) one pixel above their round neighbours (`c`). `px_bounds` is
    // whole pixels already.
    let y_shift = (size / 2.0).floor() as i32 + rect.min.y as i32;
    let x_shift = rect.min.x as i32;
    let mut out = Vec::with_capacity((rect.width() * rect.height()) as usize);
    outline.draw(|x, y, coverage| {
        if coverage > 0.0 {
            out.push((x as i32 + x_shift, y as i32 + y_shift, coverage));
        }
    });
    out
}
