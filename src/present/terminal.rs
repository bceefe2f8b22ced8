//! A document on a terminal: a heading per section, tables fitted to the
//! width like every terminal table ([`render_columns`]), and a bar beside
//! each share.

use anyhow::Result;
use polars::prelude::DataFrame;

use super::{Document, Table, printable};
use crate::io::human::wrap;
use crate::io::table::{TableStyle, TextColumn, render_columns};

/// Characters of a full bar (a share of 1).
const BAR_WIDTH: usize = 8;

/// The document as terminal text at most `width` columns wide.
pub fn render(document: &Document, width: u16) -> String {
    let mut out = format!("{}\n", printable(&document.title));
    for line in &document.subtitle {
        out.push_str(&format!("{}\n", printable(line)));
    }
    for section in &document.sections {
        out.push_str(&format!("\n{}\n", printable(&section.title)));
        out.push_str(&format!("{}\n", "─".repeat(section.title.chars().count())));
        for alert in &section.alerts {
            out.push_str(&wrap(&format!("! {}", printable(alert)), width, "  "));
        }
        for line in &section.lines {
            out.push_str(&wrap(&printable(line), width, ""));
        }
        out.push_str(&render_tables(&section.tables, width));
    }
    out
}

/// A command's summary frames for people, one after the other: each a
/// [`Table::from_frame`] in `style` made for summaries (headers as words).
pub fn render_frames<'a>(
    frames: impl IntoIterator<Item = &'a DataFrame>,
    style: &TableStyle,
) -> Result<String> {
    let style = style.for_summaries();
    let tables = frames
        .into_iter()
        .map(|frame| Table::from_frame("summary", frame, &style))
        .collect::<Result<Vec<_>>>()?;
    Ok(render_tables(&tables, style.resolved_width()))
}

/// Tables one after the other, each under its caption and over its note,
/// at most `width` columns wide.
pub fn render_tables(tables: &[Table], width: u16) -> String {
    let mut out = String::new();
    for table in tables {
        if let Some(caption) = &table.caption {
            out.push_str(&format!("{}:\n", printable(caption)));
        }
        let columns = table
            .headers
            .iter()
            .enumerate()
            .map(|(i, header)| TextColumn {
                name: printable(header),
                cells: table
                    .rows
                    .iter()
                    .map(|row| match row.get(i) {
                        Some(cell) => match cell.share() {
                            Some(share) => format!("{} {:>6}", bar(share), cell.display()),
                            None => printable(&cell.display()),
                        },
                        None => String::new(),
                    })
                    .collect(),
                numeric: !table.rows.is_empty()
                    && table
                        .rows
                        .iter()
                        .all(|row| row.get(i).is_none_or(|c| c.is_numeric())),
            })
            .collect();
        let note = table.note.as_ref().map(|n| format!("{n}\n"));
        out.push_str(&render_columns(
            columns,
            width,
            note.as_deref().unwrap_or(""),
        ));
    }
    out
}

/// A bar of eighths for a share 0–1, padded to eight characters.
pub fn bar(share: f64) -> String {
    const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let eighths = (share.clamp(0.0, 1.0) * (BAR_WIDTH * 8) as f64).round() as usize;
    let mut text = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        text.push(EIGHTHS[eighths % 8 - 1]);
    }
    let used = text.chars().count();
    text.push_str(&" ".repeat(BAR_WIDTH - used));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_eighths_of_eight_characters() {
        assert_eq!(bar(1.0), "████████");
        assert_eq!(bar(0.0), " ".repeat(8));
        assert_eq!(bar(0.25), "██      ");
        assert_eq!(bar(0.3), "██▍     ");
        assert_eq!(bar(2.0).chars().count(), 8);
    }
}
