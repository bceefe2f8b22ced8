//! The report's formats: a terminal page, Markdown, JSON, a self-contained
//! HTML page with charts, and CSV files of its tables.

pub mod csv;
pub mod html;
pub mod mail;
pub mod markdown;

use anyhow::Result;

use super::Report;
use super::document::document;

/// A format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables for a terminal, with bars for shares.
    Terminal,
    /// GitHub-flavoured Markdown, for mail, chat and wikis.
    Markdown,
    /// The report's JSON schema.
    Json,
    /// One self-contained HTML page with inline SVG charts.
    Html,
    /// The HTML page for mail (`--email`): the charts as PNG images, since
    /// mail clients strip inline SVG.
    Email,
    /// A mail message (`.eml`): the terminal page as text, the mail-safe
    /// page as HTML, the charts attached.
    Mail,
}

impl Format {
    /// Every format, as `--format` names them.
    pub const ALL: [(&'static str, Format); 6] = [
        ("terminal", Format::Terminal),
        ("markdown", Format::Markdown),
        ("json", Format::Json),
        ("html", Format::Html),
        ("email", Format::Email),
        ("mail", Format::Mail),
    ];

    /// The format named `name` (`table` and `md` too).
    pub fn parse(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "table" | "text" => Some(Format::Terminal),
            "md" => Some(Format::Markdown),
            other => Self::ALL.iter().find(|(n, _)| *n == other).map(|(_, f)| *f),
        }
    }

    /// The format of a file, by its extension: .md, .json, .html/.htm,
    /// .txt (the terminal page).
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "md" | "markdown" => Some(Format::Markdown),
            "json" => Some(Format::Json),
            "html" | "htm" => Some(Format::Html),
            "txt" => Some(Format::Terminal),
            "eml" => Some(Format::Mail),
            _ => None,
        }
    }
}

/// The report in `format`, ending with a newline like every text file;
/// `width` bounds the terminal page (default 100).
pub fn render(report: &Report, format: Format, width: Option<u16>) -> Result<String> {
    Ok(match format {
        Format::Terminal => {
            crate::present::terminal::render(&document(report), width.unwrap_or(100))
        }
        Format::Markdown => markdown::render(&document(report)),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report)?;
            text.push('\n');
            text
        }
        Format::Mail => mail::render(report)?,
        Format::Html | Format::Email => {
            let charts = match format {
                Format::Email => html::Charts::DataUri,
                _ => html::Charts::Svg,
            };
            let mut page = html::render(report, &document(report), charts)?;
            if !page.ends_with('\n') {
                page.push('\n');
            }
            page
        }
    })
}
