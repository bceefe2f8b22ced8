//! The report as one self-contained HTML page: the document's tables, the
//! charts as inline SVG, an inline style sheet, no script, and a content
//! security policy that forbids loading anything. Text is escaped by the
//! template engine (minijinja's HTML auto-escaping), never by hand.

use anyhow::{Context, Result};
use minijinja::Environment;
use serde::Serialize;

use crate::present::Document;
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
    charts: Vec<Chart>,
    tables: Vec<TableView<'a>>,
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
    numeric: bool,
    /// The bar's width in percent, for shares.
    bar: Option<String>,
}

/// The page for `report`, laid out as `document`.
pub fn render(report: &Report, document: &Document) -> Result<String> {
    let mut charts = charts(report)?;
    let sections = document
        .sections
        .iter()
        .map(|section| {
            let (mine, rest): (Vec<Chart>, Vec<Chart>) = std::mem::take(&mut charts)
                .into_iter()
                .partition(|c| c.section == section.id);
            charts = rest;
            SectionView {
                id: section.id,
                title: &section.title,
                alerts: &section.alerts,
                lines: &section.lines,
                charts: mine,
                tables: section
                    .tables
                    .iter()
                    .map(|table| TableView {
                        caption: table.caption.as_deref(),
                        headers: &table.headers,
                        rows: table
                            .rows
                            .iter()
                            .map(|row| {
                                row.iter()
                                    .map(|cell| CellView {
                                        text: cell.display(),
                                        numeric: cell.is_numeric(),
                                        bar: cell
                                            .share()
                                            .map(|s| format!("{:.1}", 100.0 * s.clamp(0.0, 1.0))),
                                    })
                                    .collect()
                            })
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect();
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
