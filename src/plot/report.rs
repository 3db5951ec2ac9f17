//! A self-contained HTML report: title, summary table and inlined SVG charts.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{PlotError, write_atomic};

/// One chart of a [`Report`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReportSection {
    /// Section heading.
    pub heading: String,
    /// Short caption under the chart (plain text).
    pub caption: String,
    /// The chart's SVG document (e.g. from [`super::traffic_share_svg`]), inlined as is
    /// apart from any XML declaration or DOCTYPE.
    pub svg: String,
}

impl ReportSection {
    /// A section with the given SVG text.
    pub fn new(heading: impl Into<String>, caption: impl Into<String>, svg: String) -> Self {
        Self { heading: heading.into(), caption: caption.into(), svg }
    }

    /// A section whose SVG is read from `path` (e.g. a file written by a chart function).
    pub fn from_svg_file(
        heading: impl Into<String>,
        caption: impl Into<String>,
        path: &Path,
    ) -> Result<Self, PlotError> {
        let svg = std::fs::read_to_string(path).map_err(|error| PlotError::Io { path: path.to_path_buf(), error })?;
        if !svg.contains("<svg") {
            return Err(PlotError::NotSvg { path: path.to_path_buf() });
        }
        Ok(Self::new(heading, caption, svg))
    }
}

/// Input of [`html_report`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Report {
    /// Page title and top heading.
    pub title: String,
    /// Optional paragraph under the title (plain text).
    pub intro: String,
    /// Column headings of the summary table (may be empty).
    pub summary_header: Vec<String>,
    /// Rows of the summary table, as strings (already formatted).
    pub summary_rows: Vec<Vec<String>>,
    /// Charts, in page order.
    pub sections: Vec<ReportSection>,
}

/// Writes `report` as one self-contained HTML page at `path` (no external resources).
pub fn html_report(report: &Report, path: &Path) -> Result<(), PlotError> {
    write_atomic(path, render_html(report).as_bytes())
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The SVG text from its `<svg` element on (drops XML declarations, DOCTYPEs, comments).
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => svg[i..].trim_end(),
        None => "",
    }
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 2em auto; max-width: 1440px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.3em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.intro { color: #444; }
table.summary { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
table.summary th, table.summary td { border: 1px solid #ccc; padding: 0.3em 0.7em;
       text-align: left; }
table.summary th { background: #f2f2f2; }
table.summary tr:nth-child(even) td { background: #fafafa; }
figure { margin: 0.5em 0 1.5em 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.92em; margin-top: 0.3em; }
nav ul { columns: 2; font-size: 0.92em; }
";

/// The HTML text of `report` (what [`html_report`] writes).
pub fn render_html(report: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&report.title),
        esc(&report.title)
    );
    if !report.intro.is_empty() {
        let _ = writeln!(h, "<p class=\"intro\">{}</p>", esc(&report.intro));
    }
    if !report.summary_header.is_empty() || !report.summary_rows.is_empty() {
        h.push_str("<table class=\"summary\">\n");
        if !report.summary_header.is_empty() {
            h.push_str("<thead><tr>");
            for c in &report.summary_header {
                let _ = write!(h, "<th>{}</th>", esc(c));
            }
            h.push_str("</tr></thead>\n");
        }
        h.push_str("<tbody>\n");
        for row in &report.summary_rows {
            h.push_str("<tr>");
            for c in row {
                let _ = write!(h, "<td>{}</td>", esc(c));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>\n");
    }
    if report.sections.len() > 1 {
        h.push_str("<nav><ul>\n");
        for (i, s) in report.sections.iter().enumerate() {
            let _ = writeln!(h, "<li><a href=\"#chart-{i}\">{}</a></li>", esc(&s.heading));
        }
        h.push_str("</ul></nav>\n");
    }
    for (i, s) in report.sections.iter().enumerate() {
        let _ = writeln!(h, "<h2 id=\"chart-{i}\">{}</h2>\n<figure>", esc(&s.heading));
        let svg = inline_svg(&s.svg);
        if svg.is_empty() {
            h.push_str("<p><em>chart not available</em></p>\n");
        } else {
            h.push_str(svg);
            h.push('\n');
        }
        if !s.caption.is_empty() {
            let _ = writeln!(h, "<figcaption>{}</figcaption>", esc(&s.caption));
        }
        h.push_str("</figure>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}
