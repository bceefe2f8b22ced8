//! The report on a terminal: a heading per section, comfy-table tables,
//! and a bar beside each share.

use comfy_table::{Cell as TableCell, CellAlignment, ContentArrangement, Table, presets};

use crate::report::document::{Document, printable};

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
            out.push_str(&format!("! {}\n", printable(alert)));
        }
        for line in &section.lines {
            out.push_str(&format!("{}\n", printable(line)));
        }
        for table in &section.tables {
            if let Some(caption) = &table.caption {
                out.push_str(&format!("{}:\n", printable(caption)));
            }
            let mut t = Table::new();
            t.load_preset(presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(width)
                .set_header(table.headers.iter().map(|h| printable(h)));
            for row in &table.rows {
                t.add_row(row.iter().map(|cell| {
                    let content = match cell.share() {
                        Some(share) => format!("{} {:>6}", bar(share), cell.display()),
                        None => printable(&cell.display()),
                    };
                    let aligned = TableCell::new(content);
                    if cell.is_numeric() {
                        aligned.set_alignment(CellAlignment::Right)
                    } else {
                        aligned
                    }
                }));
            }
            out.push_str(&t.to_string());
            out.push('\n');
        }
    }
    out
}

/// A bar of eighths for a share 0–1, padded to [`BAR_WIDTH`].
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
