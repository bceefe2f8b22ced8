//! Frames rendered for people: a terminal table (comfy-table) and Markdown.
//! Both show at most `max_rows` rows and say how many were left out.

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// How tables for people are laid out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TableStyle {
    /// Total width in characters; the terminal's width when absent.
    pub width: Option<u16>,
    /// Rows shown before the rest is summarised in a footer line.
    pub max_rows: usize,
}

impl Default for TableStyle {
    fn default() -> Self {
        TableStyle {
            width: None,
            max_rows: 100,
        }
    }
}

/// Renders a frame as a terminal table.
pub fn render_table(frame: &DataFrame, style: &TableStyle) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(width) = style.width {
        table.set_width(width);
    }
    table.set_header(frame.get_column_names().iter().map(|n| n.as_str()));
    let shown = frame.height().min(style.max_rows);
    for row in 0..shown {
        table.add_row(row_cells(frame, row));
    }
    for (i, column) in frame.columns().iter().enumerate() {
        if column.dtype().is_primitive_numeric()
            && let Some(c) = table.column_mut(i)
        {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = table.to_string();
    out.push('\n');
    out.push_str(&footer(frame.height(), shown));
    out
}

/// Renders a frame as a GitHub-flavoured Markdown table.
pub fn render_markdown(frame: &DataFrame, style: &TableStyle) -> String {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| escape_markdown(n.as_str()))
        .collect();
    let mut out = format!("| {} |\n", names.join(" | "));
    let rule: Vec<&str> = frame
        .columns()
        .iter()
        .map(|c| {
            if c.dtype().is_primitive_numeric() {
                "---:"
            } else {
                "---"
            }
        })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    let shown = frame.height().min(style.max_rows);
    for row in 0..shown {
        let cells: Vec<String> = row_cells(frame, row)
            .iter()
            .map(|c| escape_markdown(c))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if shown < frame.height() {
        out.push('\n');
        out.push_str(&footer(frame.height(), shown));
    }
    out
}

fn footer(total: usize, shown: usize) -> String {
    if shown < total {
        format!("{shown} of {total} rows shown; write them all with -o FILE or --format csv\n")
    } else {
        format!("{total} rows\n")
    }
}

fn row_cells(frame: &DataFrame, row: usize) -> Vec<String> {
    frame
        .columns()
        .iter()
        .map(|c| c.get(row).map(|v| format_value(&v)).unwrap_or_default())
        .collect()
}

fn escape_markdown(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Formats one value for people: floats with 2 decimals (4 below 1), dates
/// as ISO, nulls as empty.
pub fn format_value(value: &AnyValue) -> String {
    match value {
        AnyValue::Null => String::new(),
        AnyValue::Float64(x) => format_float(*x),
        AnyValue::Float32(x) => format_float(f64::from(*x)),
        AnyValue::String(s) => (*s).to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string().trim_matches('"').to_string(),
    }
}

/// Formats a float for people: 2 decimals, or 4 for magnitudes below 1.
pub fn format_float(x: f64) -> String {
    if !x.is_finite() {
        x.to_string()
    } else if x.abs() >= 1.0 || x == 0.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df!("id" => ["a|b", "c"], "revenue" => [1.5, 0.25]).unwrap()
    }

    #[test]
    fn markdown_escapes_pipes_and_aligns_numbers() {
        let md = render_markdown(&frame(), &TableStyle::default());
        assert!(md.starts_with("| id | revenue |\n| --- | ---: |\n| a\\|b | 1.50 |\n"));
    }

    #[test]
    fn table_respects_width_and_row_limit() {
        let style = TableStyle {
            width: Some(30),
            max_rows: 1,
        };
        let text = render_table(&frame(), &style);
        let (table, footer) = text.rsplit_once('┘').unwrap();
        assert!(table.lines().all(|l| l.chars().count() <= 30), "{text}");
        assert!(footer.contains("1 of 2 rows shown"));
    }
}
