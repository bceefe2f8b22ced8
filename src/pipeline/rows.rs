//! Inputs read a batch at a time: each batch of raw rows validated,
//! deduplicated and typed by ingest, then handed on and dropped.

use anyhow::{Result, bail};
use polars::prelude::*;

use super::ReadWhole;
use crate::ingest::customers::Attributes;
use crate::ingest::{IngestConfig, Ingester, QualityReport, Reject};
use crate::io::batches::{Batches, IpcFile, ParquetFile};
use crate::io::csv::{CsvBatch, CsvOptions, read_csv_batches};
use crate::io::source::{InputFormat, Opened};
use crate::io::{LINE_COLUMN, RawTable};
use crate::select::RowFilter;

/// How [`RowBatches::read`] reads an input and ingests its batches.
pub struct RowBatches<'a> {
    /// The CSV dialect.
    pub csv: &'a CsvOptions,
    /// Mapping, date layout, amounts, duplicates, the source column, the
    /// rows per batch.
    pub ingest: &'a IngestConfig,
    /// The rows to keep (`--where`).
    pub filter: Option<&'a RowFilter>,
    /// Whether the first rows are a table that is not transactions (read
    /// whole then); `None`: the input is transactions.
    pub is_table: Option<fn(&DataFrame) -> bool>,
    /// A customer attribute table joined onto every batch (`--customers`).
    pub customers: Option<&'a RawTable>,
}

/// What [`RowBatches::read`] read.
pub enum Read {
    /// A table that is not transactions, whole.
    Whole(RawTable),
    /// Transactions, ingested a batch at a time: ingest's counts (the
    /// kept facts are the caller's, who saw the rows).
    Ingested(Box<QualityReport>),
}

impl RowBatches<'_> {
    /// Reads `opened` (CSV, or a Parquet file) a batch at a time: each
    /// batch is validated and deduplicated ([`Ingester`]), its internal
    /// columns dropped, filtered, and handed to `take` with its rejects,
    /// then dropped. Batches whose dates leave the layout open wait for one
    /// that settles it (or go in together at the end), so the layout is the
    /// whole input's.
    pub fn read(
        &self,
        inputs: &[Opened],
        progress: &dyn Fn(u64),
        take: &mut dyn FnMut(DataFrame, Vec<Reject>) -> Result<()>,
    ) -> Result<Read> {
        let mut rows = RowStream {
            batches: self,
            ingester: Ingester::new(self.ingest),
            attributes: self
                .customers
                .map(|table| Attributes::new(table, self.ingest))
                .transpose()?,
            waiting: Vec::new(),
            kept: 0,
            filtered: 0,
        };
        for (i, opened) in inputs.iter().enumerate() {
            let mut whole: Option<RawTable> = None;
            let mut first = i == 0;
            let warnings = self.each_batch(opened, progress, &mut |batch| {
                if std::mem::take(&mut first) {
                    let head = &batch.frame;
                    if self.is_table.is_some_and(|is_table| {
                        is_table(head) || crate::facts::is_facts_table(head)
                    }) {
                        whole = Some(batch);
                        return Ok(());
                    }
                }
                match &mut whole {
                    Some(table) => table.append(batch),
                    None => rows.add(batch, take),
                }
            })?;
            if let Some(mut table) = whole {
                if inputs.len() > 1 {
                    bail!(ReadWhole(format!("{} is not transactions", opened.name)));
                }
                table.warnings = warnings;
                return Ok(Read::Whole(table));
            }
            rows.end_input(&opened.name, &warnings, take)?;
        }
        Ok(Read::Ingested(Box::new(rows.finish())))
    }

    /// Rows per batch ([`IngestConfig::batch_rows`], at least one).
    fn batch_rows(&self) -> usize {
        self.ingest.batch_rows.max(1)
    }

    /// Hands each batch of `opened` to `f` as a table of its own, in input
    /// order; returns the warnings learnt at the end (a CSV's BOMs and
    /// repeated headers).
    fn each_batch(
        &self,
        opened: &Opened,
        progress: &dyn Fn(u64),
        f: &mut dyn FnMut(RawTable) -> Result<()>,
    ) -> Result<Vec<String>> {
        let rows = self.batch_rows();
        // a table of its own for each batch of a binary or JSON input, its
        // rows numbered from `start` as a whole read numbers them
        let mut numbered = |mut frame: DataFrame, start: u64| -> Result<()> {
            let numbers = (start + 1..=start + frame.height() as u64).collect::<Vec<_>>();
            frame.with_column(Column::new(LINE_COLUMN.into(), numbers))?;
            f(RawTable {
                name: opened.name.clone(),
                format: opened.format,
                compression: opened.compression,
                position: match opened.format {
                    InputFormat::Ndjson => crate::error::PositionKind::Line,
                    _ => crate::error::PositionKind::Row,
                },
                frame,
                rejects: Vec::new(),
                line_breaks: Default::default(),
                warnings: Vec::new(),
                delimiter: None,
                encoding: opened.format.is_text().then(|| "utf-8".to_string()),
            })
        };
        let path = opened.payload.path();
        match (opened.format, path) {
            (InputFormat::Parquet, Some(path)) => {
                let file = ParquetFile::open(path, &opened.name)?;
                let columns = file.columns().to_vec();
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                for start in (0..file.rows().max(1)).step_by(rows) {
                    numbered(file.read(start, rows, &columns)?, start as u64)?;
                }
            }
            (InputFormat::IpcFile | InputFormat::IpcStream, Some(path)) => {
                let stream = opened.format == InputFormat::IpcStream;
                let batches = Batches::Ipc(IpcFile::open(path, &opened.name, stream)?);
                let columns = batches.column_names();
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                batches.each(rows, &columns, &mut |start, batch| {
                    numbered(batch, start as u64)
                })?;
            }
            (InputFormat::Ndjson, _) => {
                let mut start = 0;
                crate::io::json::ndjson_batches(opened, rows, progress, &mut |frame| {
                    let height = frame.height() as u64;
                    numbered(frame, start)?;
                    start += height;
                    Ok(())
                })?;
                return Ok(Vec::new());
            }
            _ => {
                let end = read_csv_batches(opened, self.csv, progress, rows, &mut |batch| {
                    f(batch_table(opened, batch))
                })?;
                return Ok(end.warnings);
            }
        }
        progress(opened.size);
        Ok(Vec::new())
    }
}

/// A batch of a CSV input as a table of its own.
fn batch_table(opened: &Opened, batch: CsvBatch) -> RawTable {
    RawTable {
        name: opened.name.clone(),
        format: InputFormat::Csv,
        compression: opened.compression,
        position: crate::error::PositionKind::Line,
        frame: batch.frame,
        rejects: batch.rejects,
        line_breaks: batch.line_breaks,
        warnings: Vec::new(),
        delimiter: Some(batch.delimiter),
        encoding: Some(batch.encoding),
    }
}

/// Batches of raw rows on their way through ingest.
struct RowStream<'c> {
    batches: &'c RowBatches<'c>,
    ingester: Ingester<'c>,
    attributes: Option<Attributes>,
    /// Batches that wait for a later one to settle the date layout.
    waiting: Vec<RawTable>,
    kept: u64,
    filtered: u64,
}

/// Where a [`RowStream`] hands each batch of kept rows, with its rejects.
type Take<'t> = &'t mut dyn FnMut(DataFrame, Vec<Reject>) -> Result<()>;

impl RowStream<'_> {
    /// Takes the next batch: held while the date layout is open, ingested
    /// (with those held) once it is settled.
    fn add(&mut self, table: RawTable, take: Take) -> Result<()> {
        if !self.ingester.settles_dates(&table)? {
            self.waiting.push(table);
            return Ok(());
        }
        for held in std::mem::take(&mut self.waiting) {
            self.ingest(held, take)?;
        }
        self.ingest(table, take)
    }

    fn ingest(&mut self, table: RawTable, take: Take) -> Result<()> {
        let ingested = self.ingester.add(&table)?;
        drop(table);
        let rows = match &mut self.attributes {
            Some(attributes) => attributes.attach(ingested.kept)?,
            None => ingested.kept,
        };
        let rows = crate::ingest::finish_columns(rows, self.batches.ingest)?;
        let before = rows.height() as u64;
        let rows = match self.batches.filter {
            Some(filter) => filter.apply(rows)?,
            None => rows,
        };
        self.filtered += before - rows.height() as u64;
        self.kept += rows.height() as u64;
        take(rows, ingested.rejects)
    }

    /// Ends an input: batches still held (it never settled its date
    /// layout) go in together, as a whole input would; `warnings` are
    /// those learnt at its end.
    fn end_input(&mut self, name: &str, warnings: &[String], take: Take) -> Result<()> {
        let mut held = std::mem::take(&mut self.waiting).into_iter();
        if let Some(mut whole) = held.next() {
            for table in held {
                whole.append(table)?;
            }
            self.ingest(whole, take)?;
        }
        self.ingester.warn(name, warnings);
        Ok(())
    }

    /// Ingest's counts of every batch.
    fn finish(self) -> QualityReport {
        QualityReport {
            rows_kept: self.kept,
            rows_filtered: self.filtered,
            customer_join: self.attributes.as_ref().map(Attributes::report),
            ..self.ingester.report()
        }
    }
}

/// Whether [`RowBatches::read`] reads `opened` a batch at a time: a CSV
/// input, or a Parquet file; with `raw_only`, not one already canonical
/// (what `cpm ingest` wrote is read as it is, without ingest).
pub fn reads_in_batches(opened: &Opened, raw_only: bool) -> Result<bool> {
    Ok(match (opened.format, opened.payload.path()) {
        (InputFormat::Csv | InputFormat::Ndjson, _) => true,
        (InputFormat::IpcFile | InputFormat::IpcStream, Some(path)) => {
            let stream = opened.format == InputFormat::IpcStream;
            let file = IpcFile::open(path, &opened.name, stream)?;
            !raw_only
                || !file
                    .head()?
                    .is_some_and(|head| crate::ingest::is_canonical(&head))
        }
        (InputFormat::Parquet, Some(path)) => {
            if !raw_only {
                return Ok(true);
            }
            let file = ParquetFile::open(path, &opened.name)?;
            let all: Vec<&str> = file.columns().iter().map(String::as_str).collect();
            !crate::ingest::is_canonical(&file.read(0, 1 << 13, &all)?)
        }
        _ => false,
    })
}
