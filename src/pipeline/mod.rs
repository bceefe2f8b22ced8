//! Inputs → batches of typed canonical rows → facts → the customer table:
//! the one place that decides whether an input is read whole or a batch
//! at a time. A canonical table (what `cpm ingest` writes: an Arrow IPC
//! stream or file, a Parquet file above [`Streaming::above`] rows) is read
//! a batch at a time, only the columns the facts need
//! ([`batched_canonical`]); a raw CSV, NDJSON, Parquet or Arrow export a
//! batch at a time through ingest ([`RowBatches`]); stdin, FIFOs and
//! compressed files once spilled to a temporary file
//! ([`crate::io::source::spill`]); JSON arrays and Excel whole.

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;

use crate::facts::{FactsBuilder, Gathered};
use crate::ingest::{IngestConfig, KeptTally, QualityReport, Reject};
use crate::io::batches::{Batches, IpcFile, ParquetFile};
use crate::io::csv::CsvOptions;
use crate::io::source::{InputFormat, Opened};
use crate::io::{Input, RawTable};
use crate::select::RowFilter;

mod holdout;
mod ingest;
mod load;
mod observer;
mod rows;
mod spool;
pub use holdout::{Calibration, NeedsTransactions, calibrate};
pub use ingest::{IngestOutputs, Ingested, Kept, ingest};
pub use load::{
    Customers, LoadOptions, Loaded, TooManyRejects, check_rejects, customers, derive, facts,
    large_canonical, load, opened_for_batches, read_all, read_all_projected, summarize,
};
pub use observer::{Observer, Silent};
pub use rows::{Read, RowBatches, reads_in_batches};
pub use spool::{Spool, Spooled, Transactions, spool, transactions};

/// When inputs are read a batch at a time.
#[derive(Debug, Clone, Copy)]
pub struct Streaming {
    /// Rows of a canonical Parquet input above which it is read a batch at
    /// a time ([`crate::facts::STREAM_ABOVE`] for the commands that read
    /// the rows once, [`crate::facts::REPORT_STREAM_ABOVE`] for the report,
    /// which reads them three times; tests set 1).
    pub above: usize,
}

/// The file to read a batch at a time, with only the columns the facts
/// need: `inputs` is a single canonical table (not a customer table:
/// `is_table`), an Arrow IPC file or stream, or a Parquet file of more
/// than `streaming.above` rows (read whole below: polars reads a small
/// file faster whole), and nothing asks for the rows whole (`whole`: a
/// column map, a row filter). `None`: read the inputs whole.
pub fn batched_canonical(
    inputs: &[Input],
    streaming: Streaming,
    whole: bool,
    is_table: fn(&DataFrame) -> bool,
    forced: Option<InputFormat>,
) -> Result<Option<Batches<'static>>> {
    let [input] = inputs else {
        return Ok(None);
    };
    if whole || !input.can_reopen() {
        return Ok(None);
    }
    let opened = crate::io::source::open(input, forced)?;
    let Some(path) = opened.payload.path() else {
        return Ok(None);
    };
    let canonical = |head: &DataFrame| -> Result<Option<Vec<String>>> {
        if !crate::ingest::is_canonical(head) || is_table(head) {
            return Ok(None);
        }
        crate::facts::columns_needed(head).map(Some)
    };
    Ok(match opened.format {
        InputFormat::Parquet => {
            let file = ParquetFile::open(path, &opened.name)?;
            let all: Vec<&str> = file.columns().iter().map(String::as_str).collect();
            let needed = canonical(&file.read(0, 1 << 13, &all)?)?;
            match needed {
                Some(needed) if file.rows() > streaming.above => {
                    Some(Batches::Parquet(file.with_columns(&needed)))
                }
                _ => None,
            }
        }
        InputFormat::IpcFile | InputFormat::IpcStream => {
            let stream = opened.format == InputFormat::IpcStream;
            let file = IpcFile::open(path, &opened.name, stream)?;
            let needed = match file.head()? {
                Some(head) => canonical(&head)?,
                None => None,
            };
            needed.map(|needed| Batches::Ipc(file.with_columns(&needed)))
        }
        _ => None,
    })
}

/// Rows per batch of a text input read a batch at a time: bounds the
/// memory the rows in hand take (tests set a handful).
pub const BATCH_ROWS: usize = 1 << 19;

/// What an input read a batch at a time turned out to hold.
pub enum Streamed {
    /// Transactions: their facts, gathered as the batches came, and
    /// ingest's counts.
    Facts(Box<StreamedFacts>),
    /// A table that is not transactions (a customer or facts table, which
    /// `is_table` told from its first rows): read whole.
    Whole(RawTable),
}

/// The facts of a raw export read a batch at a time.
pub struct StreamedFacts {
    /// The facts table.
    pub gathered: Gathered,
    /// Ingest's counts (rows read, kept, rejected, duplicates, filtered).
    pub quality: QualityReport,
    /// The first rejected rows (at most [`REJECTS_KEPT`]), for messages.
    pub rejects: Vec<Reject>,
}

/// Rejected rows a streamed read keeps for messages: the rest are only
/// counted.
pub const REJECTS_KEPT: usize = 1_000;

/// How [`stream_facts`] reads and what it does with the rows.
pub struct StreamOptions<'a> {
    /// The CSV dialect.
    pub csv: &'a CsvOptions,
    /// Mapping, date layout, amounts, duplicates, the rows per batch.
    pub ingest: &'a IngestConfig,
    /// The rows to keep (`--where`).
    pub filter: Option<&'a RowFilter>,
    /// The analysis day of the facts (default: the day after the latest).
    pub as_of: Option<NaiveDate>,
    /// Whether the first rows are a table that is not transactions.
    pub is_table: fn(&DataFrame) -> bool,
}

/// Reads a CSV input or a Parquet file a batch at a time: each batch is validated
/// ([`crate::ingest::Ingester`]), filtered and added to the facts, then dropped; only
/// what the facts keep per customer and the keys of the rows seen grow.
/// An input whose first rows are a customer or facts table is read whole.
pub fn stream_facts(
    opened: &[Opened],
    options: &StreamOptions,
    progress: &dyn Fn(u64),
) -> Result<Streamed> {
    let mut facts: Option<(FactsBuilder, Vec<String>)> = None;
    let mut rejects = Vec::new();
    let read = RowBatches {
        csv: options.csv,
        ingest: options.ingest,
        filter: options.filter,
        is_table: Some(options.is_table),
        customers: None,
    };
    let read = read.read(opened, progress, &mut |rows, rejected| {
        let room = REJECTS_KEPT.saturating_sub(rejects.len());
        rejects.extend(rejected.into_iter().take(room));
        let names = column_names(&rows);
        let (facts, columns) = match &mut facts {
            Some(facts) => facts,
            None => facts.insert((FactsBuilder::new(&names, options.as_of)?, names.clone())),
        };
        if names != *columns {
            bail!(ReadWhole(
                "the inputs' columns differ (a column one lacks is empty there)".to_string()
            ));
        }
        facts.add(&rows)
    })?;
    match (read, facts) {
        (Read::Whole(table), _) => Ok(Streamed::Whole(table)),
        (Read::Ingested(quality), Some((facts, _))) => {
            Ok(Streamed::Facts(Box::new(StreamedFacts {
                gathered: facts.finish()?,
                quality: *quality,
                rejects,
            })))
        }
        (Read::Ingested(_), None) => Err(anyhow::anyhow!("no batch read")),
    }
}

/// Why inputs taken a batch at a time must be read whole after all (the
/// caller reads them again): batches of several inputs whose columns
/// differ, which a whole read aligns by name.
#[derive(Debug)]
pub struct ReadWhole(pub String);

impl std::fmt::Display for ReadWhole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: read whole", self.0)
    }
}

impl std::error::Error for ReadWhole {}

/// Ingests a CSV input or a Parquet file a batch at a time: each batch's kept rows go to
/// `rows` and its rejects to `rejects` as they come, and only the keys of
/// the rows, customers and orders seen grow. Returns the quality report
/// (with the kept facts when `batches.ingest.kept_facts`).
pub fn stream_ingest(
    inputs: &[Opened],
    batches: &RowBatches,
    progress: &dyn Fn(u64),
    rows: &mut dyn FnMut(DataFrame) -> Result<()>,
    rejects: &mut dyn FnMut(Vec<Reject>) -> Result<()>,
) -> Result<QualityReport> {
    let mut tally = batches.ingest.kept_facts.then(KeptTally::default);
    let read = batches.read(inputs, progress, &mut |kept, rejected| {
        if let Some(tally) = &mut tally {
            tally.add(&kept)?;
        }
        rejects(rejected)?;
        rows(kept)
    })?;
    match read {
        Read::Ingested(quality) => Ok(QualityReport {
            kept: tally.map(KeptTally::finish),
            ..*quality
        }),
        Read::Whole(table) => Err(anyhow::anyhow!(
            "{}: read whole, though it was taken for transactions",
            table.name
        )),
    }
}

/// The names of the columns of `frame`.
fn column_names(frame: &DataFrame) -> Vec<String> {
    frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect()
}
