//! Excel workbooks (.xlsx, .xlsm, .xlsb, .xls) and OpenDocument sheets
//! (.ods), read with calamine: the first sheet or the one named, its first
//! row the header, every cell as text, so ingest types and checks it as it
//! does a CSV export. A row's position is its row number in the sheet, as
//! Excel shows it.

use std::io::Cursor;

use anyhow::{Result, bail};
use calamine::{Data, Reader, open_workbook_auto_from_rs};
use polars::prelude::*;

use super::csv::LINE_COLUMN;
use crate::error::InputError;

/// One sheet of a workbook, read.
pub struct Sheet {
    /// Text columns named by the sheet's first row, and each row's sheet
    /// row number in [`LINE_COLUMN`].
    pub frame: DataFrame,
    /// The sheet's name.
    pub name: String,
    /// How many sheets the workbook has.
    pub sheets: usize,
}

/// Reads the sheet named `sheet` (default: the first) of the workbook in
/// `bytes`, called `name` in messages. Empty cells are missing values;
/// fully empty rows are skipped.
pub fn read_sheet(bytes: Vec<u8>, sheet: Option<&str>, name: &str) -> Result<Sheet> {
    let cannot =
        |e: calamine::Error| InputError::file(name, format!("cannot read as a workbook: {e}"));
    let mut workbook = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(cannot)?;
    let names = workbook.sheet_names();
    let chosen = match sheet {
        Some(wanted) => match names.iter().find(|n| n.as_str() == wanted) {
            Some(found) => found.clone(),
            None => bail!(InputError::file(
                name,
                format!("no sheet '{wanted}' (sheets: {})", names.join(", "))
            )),
        },
        None => match names.first() {
            Some(first) => first.clone(),
            None => bail!(InputError::file(name, "the workbook has no sheet")),
        },
    };
    let range = workbook.worksheet_range(&chosen).map_err(cannot)?;
    // the sheet's row number of the range's first row (1-based)
    let first_row = range.start().map_or(1, |(row, _)| row as u64 + 1);
    let mut rows = range
        .rows()
        .enumerate()
        .filter(|(_, cells)| cells.iter().any(|c| *c != Data::Empty));
    let Some((_, header)) = rows.next() else {
        bail!(InputError::file(name, format!("sheet '{chosen}' is empty")));
    };
    let headers: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, cell)| match text(cell) {
            Some(text) if !text.trim().is_empty() => text.trim().to_string(),
            _ => format!("column_{}", i + 1),
        })
        .collect();
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); headers.len()];
    let mut lines = Vec::new();
    for (offset, cells) in rows {
        lines.push(first_row + offset as u64);
        for (i, column) in columns.iter_mut().enumerate() {
            column.push(cells.get(i).and_then(text));
        }
    }
    let height = lines.len();
    let mut frame: Vec<Column> = headers
        .into_iter()
        .zip(columns)
        .map(|(header, values)| Column::new(header.into(), values))
        .collect();
    frame.push(Column::new(LINE_COLUMN.into(), lines));
    Ok(Sheet {
        frame: DataFrame::new(height, frame)?,
        name: chosen,
        sheets: names.len(),
    })
}

/// A cell as the text a CSV export would hold: numbers in their shortest
/// form, dates as ISO (with the time when it is not midnight).
fn text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) => Some(f.to_string()),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) => match d.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => Some(t.date().to_string()),
            Some(t) => Some(t.format("%Y-%m-%d %H:%M:%S").to_string()),
            None => Some(d.as_f64().to_string()),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => Some(format!("#{e:?}")),
    }
}
