//! Tables for people, one model for every command: a [`Document`] of
//! sections of titled [`Table`]s of [`Cell`]s. The report lays itself out
//! as one ([`crate::report::document`]); `value`, `segment` and
//! `allocate` show their summary tables through it ([`Table::from_frame`]);
//! every format renders the same document ([`terminal`] here, the
//! report's Markdown, HTML and CSV in [`crate::report::render`]).

pub mod terminal;

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

pub use crate::io::human::printable;
use crate::io::human::{group_thousands, grouped, money, money_or_count, percent};
use crate::io::table::TableStyle;

/// A document for people: the report, or a command's summary tables.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    /// The report's title.
    pub title: String,
    /// Lines under the title: the as-of day, the period, the stamp.
    pub subtitle: Vec<String>,
    /// The sections, in reading order.
    pub sections: Vec<Section>,
}

/// One section: a heading, alerts and lines, tables.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// A stable name (an HTML anchor; the chart that goes with it).
    pub id: &'static str,
    /// The heading.
    pub title: String,
    /// Alerts, shown before anything else.
    pub alerts: Vec<String>,
    /// Lines of text.
    pub lines: Vec<String>,
    /// The tables.
    pub tables: Vec<Table>,
}

/// A titled table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// A stable file name for `--tables-dir` (`NAME.csv`).
    pub name: String,
    /// A caption, when the section has more than one table.
    pub caption: Option<String>,
    /// The column headers.
    pub headers: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Cell>>,
    /// A line under the table (how many rows a long one left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Per row, which way its changes are good (none: no judgement); the
    /// HTML page colours them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub better: Vec<Option<Better>>,
}

/// Which way a measure's change is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// More is better (revenue, retention).
    Higher,
    /// Less is better (churned customers).
    Lower,
}

/// One cell: a value and how it reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Cell {
    /// Text.
    Text(String),
    /// A count.
    Count(u64),
    /// An amount of money.
    Money(f64),
    /// A share 0–1 (a percentage, with a bar in the terminal).
    Share(f64),
    /// A plain number with this many decimals.
    Number(f64, u8),
    /// A change of a count or amount (signed).
    Change(f64),
    /// A change of a share, in percentage points.
    Points(f64),
    /// A relative change (0.1: +10%).
    Relative(f64),
    /// A share 0–1 as a whole percentage, without a bar (dense tables).
    Rate(f64),
    /// A figure already written as people read it (a command's summary
    /// table, formatted by column: [`crate::io::table`]).
    Figure(String),
    /// Nothing to show.
    Empty,
}

impl Cell {
    /// The cell as people read it: grouped thousands, percentages.
    pub fn display(&self) -> String {
        match self {
            Cell::Text(text) | Cell::Figure(text) => text.clone(),
            Cell::Count(n) => group_thousands(&n.to_string()),
            Cell::Money(v) => money(*v),
            Cell::Share(s) => percent(*s),
            Cell::Number(v, decimals) => grouped(&format!("{v:.*}", *decimals as usize)),
            Cell::Change(v) if *v > 0.0 => format!("+{}", money_or_count(*v)),
            Cell::Change(v) => money_or_count(*v),
            Cell::Points(p) => format!("{:+.1} pp", 100.0 * p),
            Cell::Relative(r) => format!("{:+.1}%", 100.0 * r),
            Cell::Rate(r) => format!("{:.0}%", 100.0 * r),
            Cell::Empty => "–".to_string(),
        }
    }

    /// The cell for a spreadsheet: raw numbers (shares as fractions), the
    /// text as it is; empty for nothing.
    pub fn raw(&self) -> String {
        match self {
            Cell::Text(text) | Cell::Figure(text) => text.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Money(v)
            | Cell::Share(v)
            | Cell::Number(v, _)
            | Cell::Change(v)
            | Cell::Points(v)
            | Cell::Relative(v)
            | Cell::Rate(v) => v.to_string(),
            Cell::Empty => String::new(),
        }
    }

    /// Whether the cell is a number (right-aligned).
    pub fn is_numeric(&self) -> bool {
        !matches!(self, Cell::Text(_))
    }

    /// The share, for cells drawn with a bar.
    pub fn share(&self) -> Option<f64> {
        match self {
            Cell::Share(s) => Some(*s),
            _ => None,
        }
    }

    /// The change a change cell shows (an amount, points or relative).
    pub fn change(&self) -> Option<f64> {
        match self {
            Cell::Change(v) | Cell::Points(v) | Cell::Relative(v) => Some(*v),
            _ => None,
        }
    }

    /// `make` of a finite value, else nothing to show.
    pub fn of(value: Option<f64>, make: fn(f64) -> Cell) -> Cell {
        value.filter(|v| v.is_finite()).map_or(Cell::Empty, make)
    }
}

impl Table {
    /// A table named `name` (a file name for `--tables-dir`).
    pub fn new(name: &str, headers: &[&str], rows: Vec<Vec<Cell>>) -> Table {
        Table {
            name: name.to_string(),
            caption: None,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows,
            note: None,
            better: Vec::new(),
        }
    }

    /// A frame as a table, each column formatted as people read it
    /// ([`crate::io::table::TextColumn`]: counts grouped, shares as percentages, amounts with
    /// the column's decimals); at most `style.max_rows` rows, the rest
    /// counted under it; headers as words with `style.headers_as_words`.
    pub fn from_frame(name: &str, frame: &DataFrame, style: &TableStyle) -> Result<Table> {
        let shown = frame.height().min(style.max_rows);
        let columns = crate::io::table::text_columns(frame, shown);
        let headers = columns
            .iter()
            .map(|c| match style.headers_as_words {
                true => c.name.replace('_', " "),
                false => c.name.clone(),
            })
            .collect();
        let rows = (0..shown)
            .map(|row| {
                (columns.iter())
                    .map(|c| match c.numeric {
                        true => Cell::Figure(c.cells[row].clone()),
                        false => Cell::Text(c.cells[row].clone()),
                    })
                    .collect()
            })
            .collect();
        let note = (shown < frame.height()).then(|| {
            format!(
                "{} of {} rows shown",
                group_thousands(&shown.to_string()),
                group_thousands(&frame.height().to_string())
            )
        });
        Ok(Table {
            name: name.to_string(),
            caption: None,
            headers,
            rows,
            note,
            better: Vec::new(),
        })
    }
}

impl Section {
    /// An empty section `id` (an HTML anchor) headed `title`.
    pub fn new(id: &'static str, title: &str) -> Section {
        Section {
            id,
            title: title.to_string(),
            alerts: Vec::new(),
            lines: Vec::new(),
            tables: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_as_its_columns_format_it_and_a_long_one_is_cut() {
        let frame = df!(
            "segment" => ["Champions", "Lost"],
            "customers" => [1234i64, 5],
            "revenue_share" => [0.75, 0.25],
            "mean_revenue" => [1234.5, 7.0],
        )
        .unwrap();
        let style = TableStyle {
            headers_as_words: true,
            ..TableStyle::default()
        };
        let table = Table::from_frame("t", &frame, &style).unwrap();
        assert_eq!(
            table.headers,
            ["segment", "customers", "revenue share", "mean revenue"]
        );
        assert_eq!(
            table.rows[0],
            [
                Cell::Text("Champions".into()),
                Cell::Figure("1,234".into()),
                Cell::Figure("75.0%".into()),
                Cell::Figure("1,234.50".into()),
            ]
        );
        assert!(table.note.is_none());
        let short = TableStyle {
            max_rows: 1,
            ..style
        };
        let cut = Table::from_frame("t", &frame, &short).unwrap();
        assert_eq!(cut.rows.len(), 1);
        assert_eq!(cut.note.as_deref(), Some("1 of 2 rows shown"));
        let text = terminal::render_tables(&[cut], 80);
        assert!(text.contains("1 of 2 rows shown"), "{text}");
    }
}
