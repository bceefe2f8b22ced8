//! The report as one self-contained HTML page: the document's tables, the
//! charts as inline SVG, an inline style sheet, no script, and a content
//! security policy that forbids loading anything. Text is escaped by the
//! template engine (minijinja's HTML auto-escaping), never by hand.

use anyhow::{Context, Result};
use minijinja::Environment;
use serde::Serialize;

use crate::present::{Better, Cell, Document};
use crate::report::Report;
use crate::report::charts::{Chart, charts};

/// The page's template (auto-escaped: its name ends in .html).
const TEMPLATE: &str = include_str!("report.html");

#[derive(Serialize)]
struct Page<'a> {
    title: String,
    version: &'static str,
    subtitle: &'a [String],
    sections: Vec<SectionView<'a>>,
}

#[derive(Serialize)]
struct SectionView<'a> {
    id: &'static str,
    title: &'a str,
    alerts: &'a [String],
    lines: &'a [String],
    charts: Vec<ChartView>,
    tables: Vec<TableView<'a>>,
}

/// A chart as the page shows it: inline SVG, or for mail a PNG image.
#[derive(Serialize)]
struct ChartView {
    title: String,
    /// The SVG element (the web page).
    svg: Option<String>,
    /// The PNG image's source: a `data:` URI, or a `cid:` of the message.
    png: Option<String>,
}

/// How the page carries its charts.
pub enum Charts<'a> {
    /// Inline SVG (the web page).
    Svg,
    /// PNG images in `data:` URIs (`--email`).
    DataUri,
    /// PNG images referred to as `cid:chart-N`, pushed here to be
    /// attached to the message (a `.eml` file).
    Attached(&'a mut Vec<Vec<u8>>),
}

impl ChartView {
    /// `chart` as `charts` says.
    fn of(chart: Chart, charts: &mut Charts) -> Result<ChartView> {
        use base64::Engine;
        let png = match charts {
            Charts::Svg => {
                return Ok(ChartView {
                    title: chart.title,
                    svg: Some(chart.svg),
                    png: None,
                });
            }
            Charts::DataUri => {
                let png = crate::report::charts::png(&chart.svg)?;
                let data = base64::engine::general_purpose::STANDARD.encode(png);
                format!("data:image/png;base64,{data}")
            }
            Charts::Attached(images) => {
                images.push(crate::report::charts::png(&chart.svg)?);
                format!("cid:{}", content_id(images.len() - 1))
            }
        };
        Ok(ChartView {
            title: chart.title,
            svg: None,
            png: Some(png),
        })
    }
}

/// The Content-ID of the `n`-th chart of a message.
pub fn content_id(n: usize) -> String {
    format!("chart-{n}@cpm")
}

#[derive(Serialize)]
struct TableView<'a> {
    caption: Option<&'a str>,
    headers: &'a [String],
    rows: Vec<Vec<CellView>>,
}

#[derive(Serialize)]
struct CellView {
    text: String,
    /// Its CSS classes: `number`; a change's `up` or `down` and, in a row
    /// whose better direction is known, `good` or `bad`.
    class: String,
    /// The bar's width in percent, for shares.
    bar: Option<String>,
}

impl CellView {
    /// `cell` in a row whose changes are good `better`.
    fn of(cell: &Cell, better: Option<Better>) -> CellView {
        let mut class = Vec::new();
        if cell.is_numeric() {
            class.push("number");
        }
        if let Some(change) = cell.change().filter(|c| *c != 0.0 && c.is_finite()) {
            class.push(if change > 0.0 { "up" } else { "down" });
            if let Some(better) = better {
                let good = (change > 0.0) == (better == Better::Higher);
                class.push(if good { "good" } else { "bad" });
            }
        }
        CellView {
            text: cell.display(),
            class: class.join(" "),
            bar: cell
                .share()
                .map(|s| format!("{:.1}", 100.0 * s.clamp(0.0, 1.0))),
        }
    }
}

/// The page for `report`, laid out as `document`, its charts as
/// `charts` says.
pub fn render(report: &Report, document: &Document, mut charts_as: Charts) -> Result<String> {
    let mut charts = charts(report)?;
    let sections = document
        .sections
        .iter()
        .map(|section| {
            let (mine, rest): (Vec<Chart>, Vec<Chart>) = std::mem::take(&mut charts)
                .into_iter()
                .partition(|c| c.section == section.id);
            charts = rest;
            Ok(SectionView {
                id: section.id,
                title: &section.title,
                alerts: &section.alerts,
                lines: &section.lines,
                charts: (mine.into_iter())
                    .map(|chart| ChartView::of(chart, &mut charts_as))
                    .collect::<Result<_>>()?,
                tables: section
                    .tables
                    .iter()
                    .map(|table| TableView {
                        caption: table.caption.as_deref(),
                        headers: &table.headers,
                        rows: (table.rows.iter().enumerate())
                            .map(|(i, row)| {
                                let better = table.better.get(i).copied().flatten();
                                row.iter().map(|cell| CellView::of(cell, better)).collect()
                            })
                            .collect(),
                    })
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let title = match report.as_of {
        Some(as_of) => format!("{}, {as_of}", document.title),
        None => document.title.clone(),
    };
    let page = Page {
        title,
        version: env!("CARGO_PKG_VERSION"),
        subtitle: &document.subtitle,
        sections,
    };
    let mut environment = Environment::new();
    // text from the data may hold characters XML forbids: written out, so
    // the page stays well-formed (then escaped as usual)
    environment.set_formatter(|out, state, value| match value.as_str() {
        // markup marked safe (the charts) is cleaned where it is made
        Some(text) if !value.is_safe() => {
            let shown = crate::io::human::printable_in_markup(text);
            minijinja::escape_formatter(out, state, &minijinja::Value::from(shown))
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    environment
        .add_template("report.html", TEMPLATE)
        .context("the report template")?;
    let template = environment.get_template("report.html")?;
    template
        .render(minijinja::value::Serde(&page))
        .context("rendering the HTML report")
}
