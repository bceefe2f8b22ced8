//! Reading one input of any supported format into a frame that remembers
//! where each row came from (its line or row number in [`LINE_COLUMN`]).

use std::fs::File;
use std::io::{Cursor, Read};

use anyhow::{Context, Result};
use polars::io::mmap::MmapBytesReader;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::csv::{CsvOptions, LINE_COLUMN, LineBreaks, RawReject, read_csv};
use super::source::{Bytes, Compression, Input, InputFormat, Opened, open};
use crate::error::{InputError, PositionKind};

/// Everything that shapes how inputs are read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadOptions {
    /// CSV dialect.
    pub csv: CsvOptions,
    /// Skip format detection.
    pub format: Option<InputFormat>,
    /// The sheet of a workbook to read (default: the first).
    pub sheet: Option<String>,
}

/// One input, read: its frame plus what was learnt on the way.
pub struct RawTable {
    /// The input's display name.
    pub name: String,
    /// Detected format.
    pub format: InputFormat,
    /// Compression that was removed.
    pub compression: Compression,
    /// Whether positions are lines (text) or rows.
    pub position: PositionKind,
    /// The data. CSV columns are all strings; other formats keep their types.
    /// [`LINE_COLUMN`] holds each row's line or row number (u64).
    pub frame: DataFrame,
    /// Rows the reader itself rejected (ragged CSV rows).
    pub rejects: Vec<RawReject>,
    /// Rows with line breaks inside a quoted field (CSV).
    pub line_breaks: LineBreaks,
    /// What the caller should warn of (a byte order mark inside a CSV).
    pub warnings: Vec<String>,
    /// CSV delimiter, when the input is CSV.
    pub delimiter: Option<u8>,
    /// Source text encoding, when the input is text.
    pub encoding: Option<String>,
}

impl RawTable {
    /// Rows read, including those the reader rejected.
    pub fn rows_read(&self) -> u64 {
        self.frame.height() as u64 + self.rejects.len() as u64
    }

    /// The rows of `next` (the next batch of the same input) appended.
    pub fn append(&mut self, next: RawTable) -> Result<()> {
        self.frame.vstack_mut_owned(next.frame)?;
        self.rejects.extend(next.rejects);
        self.line_breaks = self.line_breaks + next.line_breaks;
        self.warnings.extend(next.warnings);
        Ok(())
    }

    /// The table cut into tables of `rows` rows, in order: each with the
    /// reader's rejects among its lines; the first with the warnings and
    /// the line-break counts.
    pub fn into_batches(self, rows: usize) -> Result<Vec<RawTable>> {
        let rows = rows.max(1);
        if self.frame.height() <= rows {
            return Ok(vec![self]);
        }
        let starts: Vec<usize> = (0..self.frame.height()).step_by(rows).collect();
        let lines = self.frame.column(LINE_COLUMN)?.u64()?.clone();
        let mut rejects = self.rejects.into_iter().peekable();
        let mut batches = Vec::with_capacity(starts.len());
        for (i, &start) in starts.iter().enumerate() {
            let next_line = starts
                .get(i + 1)
                .and_then(|&next| lines.get(next))
                .unwrap_or(u64::MAX);
            let mut mine = Vec::new();
            while let Some(reject) = rejects.next_if(|r| r.line < next_line) {
                mine.push(reject);
            }
            batches.push(RawTable {
                name: self.name.clone(),
                format: self.format,
                compression: self.compression,
                position: self.position,
                frame: self.frame.slice(start as i64, rows),
                rejects: mine,
                line_breaks: if i == 0 {
                    self.line_breaks
                } else {
                    LineBreaks::default()
                },
                warnings: if i == 0 {
                    self.warnings.clone()
                } else {
                    Vec::new()
                },
                delimiter: self.delimiter,
                encoding: self.encoding.clone(),
            });
        }
        Ok(batches)
    }

    /// The data columns (without [`LINE_COLUMN`]).
    pub fn columns(&self) -> Vec<String> {
        self.frame
            .get_column_names()
            .into_iter()
            .filter(|n| n.as_str() != LINE_COLUMN)
            .map(|n| n.to_string())
            .collect()
    }
}

/// Picks the columns to read from a look at an input's first rows (all of
/// them: `None`).
pub type ColumnChoice<'a> = &'a dyn Fn(&DataFrame) -> Result<Option<Vec<String>>>;

/// Rows of the look a [`ColumnChoice`] gets at Parquet and Arrow IPC inputs:
/// enough to see a per-transaction column vary (the choice only spares
/// decoding; what is read is checked over all rows), few enough to cost
/// little.
const HEAD_ROWS: usize = 1 << 13;

/// Opens and reads one input. `progress` receives byte counts as they are
/// consumed (CSV; other formats report their size once at the end).
pub fn read_input(input: &Input, opts: &ReadOptions, progress: &dyn Fn(u64)) -> Result<RawTable> {
    read_input_projected(input, opts, progress, &|_| Ok(None))
}

/// Reads one input, keeping only the columns `choose` picks. Parquet and
/// Arrow IPC inputs are read twice: their first rows for `choose`, then
/// only the chosen columns, which saves decoding the others. Text formats
/// are read whole, then narrowed.
pub fn read_input_projected(
    input: &Input,
    opts: &ReadOptions,
    progress: &dyn Fn(u64),
    choose: ColumnChoice,
) -> Result<RawTable> {
    read_opened_projected(&open(input, opts.format)?, opts, progress, choose)
}

/// Reads an opened input whole (its format as detected or forced).
pub fn read_opened(
    opened: &Opened,
    opts: &ReadOptions,
    progress: &dyn Fn(u64),
) -> Result<RawTable> {
    read_opened_projected(opened, opts, progress, &|_| Ok(None))
}

/// [`read_input_projected`] on an opened input.
fn read_opened_projected(
    opened: &Opened,
    opts: &ReadOptions,
    progress: &dyn Fn(u64),
    choose: ColumnChoice,
) -> Result<RawTable> {
    let name = opened.name.clone();
    let mut table = match opened.format {
        InputFormat::Csv => {
            let csv = read_csv(opened, &opts.csv, progress)?;
            RawTable {
                name: name.clone(),
                format: opened.format,
                compression: opened.compression,
                position: PositionKind::Line,
                frame: csv.frame,
                rejects: csv.rejects,
                line_breaks: csv.line_breaks,
                warnings: csv.warnings,
                delimiter: Some(csv.delimiter),
                encoding: Some(csv.encoding),
            }
        }
        InputFormat::Excel => {
            let bytes = match opened.payload.bytes() {
                Bytes::File(path) => {
                    std::fs::read(path).with_context(|| format!("reading {name}"))?
                }
                Bytes::Memory(bytes) => bytes.to_vec(),
            };
            // calamine's panics on malformed bytes become errors naming the file
            let sheet = crate::panic::guard("the Excel reader", || {
                super::excel::read_sheet(bytes, opts.sheet.as_deref(), &name)
            })
            .map_err(|e| match e.downcast::<InputError>() {
                Ok(named) => named,
                Err(e) => InputError::file(&name, format!("{e:#}")),
            })?;
            progress(opened.size);
            RawTable {
                // which sheet, when there is a choice (--sheet)
                name: if sheet.sheets > 1 {
                    format!("{name}, sheet '{}'", sheet.name)
                } else {
                    name.clone()
                },
                format: opened.format,
                compression: opened.compression,
                position: PositionKind::Row,
                frame: sheet.frame,
                rejects: Vec::new(),
                line_breaks: LineBreaks::default(),
                warnings: Vec::new(),
                delimiter: None,
                encoding: None,
            }
        }
        format => {
            let cannot = |e: anyhow::Error| {
                InputError::file(
                    &name,
                    format!("cannot read as {}: {e}", format_name(format)),
                )
            };
            let (columns, keys) = if format.is_columnar() {
                let head = read_binary_or_json(opened, Some(HEAD_ROWS), None).map_err(cannot)?;
                (choose(&head)?, Vec::new())
            } else {
                let keys = super::json::scan_structure(opened.reader()?, format, &name)?;
                (None, keys)
            };
            let mut frame = read_binary_or_json(opened, None, columns).map_err(|e| {
                // JSON: the line where it goes wrong, not polars' character
                let named = (!format.is_columnar())
                    .then(|| opened.reader().ok())
                    .flatten()
                    .and_then(|input| super::json::explain_failure(input, format, &name));
                named.unwrap_or_else(|| cannot(e))
            })?;
            if !keys.is_empty() {
                frame = in_order_of(frame, &keys)?;
            }
            progress(opened.size);
            let position = if format == InputFormat::Ndjson {
                PositionKind::Line
            } else {
                PositionKind::Row
            };
            // row numbers, last, as the CSV reader puts its line numbers
            let rows: Vec<u64> = (1..=frame.height() as u64).collect();
            frame.with_column(Column::new(LINE_COLUMN.into(), rows))?;
            RawTable {
                name: name.clone(),
                format,
                compression: opened.compression,
                position,
                frame,
                rejects: Vec::new(),
                line_breaks: LineBreaks::default(),
                warnings: Vec::new(),
                delimiter: None,
                encoding: format.is_text().then(|| "utf-8".to_string()),
            }
        }
    };
    if !table.format.is_columnar() {
        let columns = choose(&table.frame)?;
        if let Some(mut columns) = columns {
            columns.push(LINE_COLUMN.to_string());
            table.frame = table.frame.select(columns)?;
        }
    }
    Ok(table)
}

/// `frame` with its columns in the order of `keys` (JSON keys as they
/// first appear), any others after them.
pub(super) fn in_order_of(frame: DataFrame, keys: &[String]) -> Result<DataFrame> {
    use std::collections::HashSet;
    let names: Vec<String> = frame
        .get_column_names()
        .into_iter()
        .map(|n| n.to_string())
        .collect();
    let present: HashSet<&String> = names.iter().collect();
    let listed: HashSet<&String> = keys.iter().collect();
    let mut order: Vec<&String> = keys.iter().filter(|k| present.contains(k)).collect();
    order.extend(names.iter().filter(|n| !listed.contains(n)));
    Ok(frame.select(order)?)
}

/// A human name for a format, as used in messages.
pub fn format_name(format: InputFormat) -> &'static str {
    match format {
        InputFormat::Csv => "CSV",
        InputFormat::Parquet => "Parquet",
        InputFormat::IpcFile => "an Arrow IPC file",
        InputFormat::IpcStream => "an Arrow IPC stream",
        InputFormat::Ndjson => "NDJSON",
        InputFormat::Json => "JSON",
        InputFormat::Excel => "an Excel workbook",
    }
}

/// Reads a binary or JSON input; `rows` and `columns` limit what is read
/// (columnar formats only).
fn read_binary_or_json(
    opened: &Opened,
    rows: Option<usize>,
    columns: Option<Vec<String>>,
) -> Result<DataFrame> {
    match opened.payload.bytes() {
        Bytes::File(path) => {
            let file = File::open(path).with_context(|| format!("cannot open {}", opened.name))?;
            read_from(file, opened.format, rows, columns)
        }
        Bytes::Memory(bytes) => read_from(Cursor::new(bytes), opened.format, rows, columns),
    }
}

/// Reads with polars' readers, whose panics on malformed bytes become
/// errors ([`crate::panic::guard`]).
fn read_from<R: MmapBytesReader + Read>(
    reader: R,
    format: InputFormat,
    rows: Option<usize>,
    columns: Option<Vec<String>>,
) -> Result<DataFrame> {
    crate::panic::guard("the reader", || {
        read_unguarded(reader, format, rows, columns)
    })
}

fn read_unguarded<R: MmapBytesReader + Read>(
    reader: R,
    format: InputFormat,
    rows: Option<usize>,
    columns: Option<Vec<String>>,
) -> Result<DataFrame> {
    Ok(match format {
        InputFormat::Parquet => ParquetReader::new(reader)
            .with_slice(rows.map(|n| (0, n)))
            .with_columns(columns)
            .finish()?,
        InputFormat::IpcFile => IpcReader::new(reader)
            .with_n_rows(rows)
            .with_columns(columns)
            .finish()?,
        InputFormat::IpcStream => IpcStreamReader::new(reader)
            .with_n_rows(rows)
            .with_columns(columns)
            .finish()?,
        InputFormat::Ndjson => JsonReader::new(reader)
            .with_json_format(JsonFormat::JsonLines)
            .finish()?,
        InputFormat::Json => JsonReader::new(reader)
            .with_json_format(JsonFormat::Json)
            .finish()?,
        InputFormat::Csv | InputFormat::Excel => {
            unreachable!("CSV and Excel have their own readers")
        }
    })
}
