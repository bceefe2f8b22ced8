//! The front half every command shares: inputs → the customer table (or
//! the facts table). A customer or facts table is taken as it is;
//! transactions go through ingest's validation (raw exports) and the
//! facts, a batch at a time when the input allows it ([`super::stream_facts`]),
//! whole otherwise. What happens on the way is told to an [`Observer`].

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;

use super::{Observer, StreamOptions, Streamed, Streaming};
use crate::facts::Gathered;
use crate::ingest::{IngestConfig, MaxRejects, QualityReport, Reject};
use crate::io::batches::Batches;
use crate::io::source::{Opened, spill};
use crate::io::{ColumnChoice, Input, LINE_COLUMN, RawTable, ReadOptions};
use crate::select::RowFilter;
use crate::summary::SummaryConfig;

/// How the inputs are read, validated and filtered.
#[derive(Clone)]
pub struct LoadOptions {
    /// The readers' options (CSV dialect, forced format, sheet).
    pub read: ReadOptions,
    /// How a raw export is ingested: column map, date layout, decimal
    /// comma, duplicates, the rows per batch.
    pub ingest: IngestConfig,
    /// The rows to keep (a customer table's rows, or transactions').
    pub filter: Option<RowFilter>,
    /// The most rows ingest may reject before the load fails.
    pub max_rejects: MaxRejects,
    /// Rows of a canonical Parquet file above which it is read a batch at
    /// a time ([`crate::facts::STREAM_ABOVE`] by default).
    pub stream_above: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            read: ReadOptions::default(),
            ingest: IngestConfig {
                // the facts of the kept rows come from the facts table
                kept_facts: false,
                ..IngestConfig::default()
            },
            filter: None,
            max_rejects: MaxRejects::Rows(0),
            stream_above: crate::facts::STREAM_ABOVE,
        }
    }
}

/// One row per customer, and where it came from.
pub struct Customers {
    /// The customer table.
    pub table: DataFrame,
    /// The analysis day, when the facts were computed here.
    pub as_of: Option<NaiveDate>,
}

/// What the inputs hold, read whole.
pub enum Loaded {
    /// A customer table, typed.
    Customers(DataFrame),
    /// A facts table (`cpm facts`), typed.
    Facts(DataFrame),
    /// Canonical transactions, with ingest's report when they came from a
    /// raw export.
    Transactions(DataFrame, Option<Box<QualityReport>>),
}

/// Reads `inputs` and returns their customer table: a customer table
/// (`is_table`) as it is, a facts table derived, transactions summarised
/// as `summary` says.
pub fn customers(
    inputs: &[Input],
    options: &LoadOptions,
    summary: &SummaryConfig,
    is_table: fn(&DataFrame) -> bool,
    observer: &dyn Observer,
) -> Result<Customers> {
    let inputs = &spill(inputs)?;
    if let Some(batches) = large_canonical(inputs, options, is_table)? {
        observer.info("canonical transactions: summarised a batch at a time");
        return summarize(&batches, summary, observer);
    }
    match streamed(inputs, options, summary.as_of, is_table, observer)? {
        Front::Facts(gathered) => derive(told_gathered(gathered, observer), summary, observer),
        Front::Loaded(Loaded::Customers(table)) => Ok(Customers { table, as_of: None }),
        Front::Loaded(Loaded::Facts(facts)) => derive(facts, summary, observer),
        Front::Loaded(Loaded::Transactions(transactions, _)) => {
            summarize(&Batches::Frame(&transactions), summary, observer)
        }
    }
}

/// The facts table of `inputs`: gathered from their transactions as of
/// `as_of`, or a facts table as it is.
pub fn facts(
    inputs: &[Input],
    options: &LoadOptions,
    as_of: Option<NaiveDate>,
    observer: &dyn Observer,
) -> Result<DataFrame> {
    let inputs = &spill(inputs)?;
    let is_table = crate::segment::is_customer_table;
    // the facts step is timed where it is one of its own (a batched read
    // times "read, ingest and facts" together)
    let gather = |source: &Batches| -> Result<Gathered> {
        let gathered = crate::facts::gather(source, as_of)?;
        observer.step("facts");
        Ok(gathered)
    };
    let gathered = match large_canonical(inputs, options, is_table)? {
        Some(batches) => gather(&batches)?,
        None => match streamed(inputs, options, as_of, is_table, observer)? {
            Front::Facts(gathered) => gathered,
            Front::Loaded(Loaded::Transactions(transactions, _)) => {
                gather(&Batches::Frame(&transactions))?
            }
            Front::Loaded(Loaded::Facts(facts)) => {
                crate::facts::checked_as_of(&facts, as_of)?;
                return Ok(facts);
            }
            Front::Loaded(Loaded::Customers(_)) => bail!(crate::error::usage(
                "the input is a customer table: its rows are gone, and the facts are gathered \
                 from transactions"
            )),
        },
    };
    observer.info(&format!("as of {}", gathered.as_of));
    Ok(told_gathered(gathered, observer))
}

/// The facts table of `gathered`, after a warning of the rows after its
/// day (the day itself is told with the customer table, or by [`facts`]).
pub(super) fn told_gathered(gathered: Gathered, observer: &dyn Observer) -> DataFrame {
    if gathered.rows_after_as_of > 0 {
        observer.warn(&format!(
            "{} transactions after {} excluded",
            gathered.rows_after_as_of, gathered.as_of
        ));
    }
    gathered.table
}

/// What the front half read: facts gathered a batch at a time, or the
/// inputs loaded whole.
enum Front {
    Facts(Gathered),
    Loaded(Loaded),
}

/// Reads `inputs`: CSV or raw Parquet files a batch at a time, their
/// facts as of `as_of` gathered as the batches come
/// ([`super::stream_facts`]); anything else whole ([`load`]).
fn streamed(
    inputs: &[Input],
    options: &LoadOptions,
    as_of: Option<NaiveDate>,
    is_table: fn(&DataFrame) -> bool,
    observer: &dyn Observer,
) -> Result<Front> {
    let Some(opened) = opened_for_batches(inputs, &options.read, true)? else {
        return Ok(Front::Loaded(load(inputs, options, is_table, observer)?));
    };
    let stream = StreamOptions {
        csv: &options.read.csv,
        ingest: &options.ingest,
        filter: options.filter.as_ref(),
        as_of,
        is_table,
    };
    observer.reading(opened.iter().map(|o| o.size).sum());
    let streamed = super::stream_facts(&opened, &stream, &|n| observer.read(n));
    observer.done_reading();
    let streamed = match streamed {
        Err(e) => match e.downcast_ref::<super::ReadWhole>() {
            Some(whole) => {
                observer.info(&whole.to_string());
                return Ok(Front::Loaded(load(inputs, options, is_table, observer)?));
            }
            None => return Err(e),
        },
        Ok(streamed) => streamed,
    };
    match streamed {
        Streamed::Whole(table) => {
            observer.step("read");
            Ok(Front::Loaded(load_tables(
                vec![table],
                options,
                is_table,
                observer,
            )?))
        }
        Streamed::Facts(streamed) => {
            told_ingest(&streamed.quality, &streamed.rejects, options, observer)?;
            if options.filter.is_some() {
                let quality = &streamed.quality;
                observer.info(&format!(
                    "--where: {} of {} transactions kept",
                    crate::io::human::count(quality.rows_kept),
                    crate::io::human::count(quality.rows_kept + quality.rows_filtered)
                ));
            }
            observer.step("read, ingest and facts");
            Ok(Front::Facts(streamed.gathered))
        }
    }
}

/// Reads `inputs` whole: a customer or facts table as it is, or canonical
/// transactions (raw exports through ingest's validation).
pub fn load(
    inputs: &[Input],
    options: &LoadOptions,
    is_table: fn(&DataFrame) -> bool,
    observer: &dyn Observer,
) -> Result<Loaded> {
    let inputs = &spill(inputs)?;
    // a canonical table alone: only the columns the facts (and the filter)
    // need are read
    let tables = if inputs.len() == 1 && options.ingest.map.is_empty() {
        let choose = |head: &DataFrame| -> Result<Option<Vec<String>>> {
            if !crate::ingest::is_canonical(head) {
                return Ok(None);
            }
            let mut columns = crate::facts::columns_needed(head)?;
            for name in options.filter.iter().flat_map(RowFilter::columns) {
                if head.column(&name).is_ok() && !columns.contains(&name) {
                    columns.push(name);
                }
            }
            Ok(Some(columns))
        };
        read_all_projected(inputs, &options.read, observer, &choose)?
    } else {
        read_all(inputs, &options.read, observer)?
    };
    observer.step("read");
    load_tables(tables, options, is_table, observer)
}

/// [`load`] on the tables read.
pub(super) fn load_tables(
    tables: Vec<RawTable>,
    options: &LoadOptions,
    is_table: fn(&DataFrame) -> bool,
    observer: &dyn Observer,
) -> Result<Loaded> {
    let filter = &options.filter;
    if let [table] = tables.as_slice()
        && crate::facts::is_facts_table(&table.frame)
    {
        observer.info("input is a facts table (cpm facts): the customer table is derived from it");
        let facts = crate::facts::typed(&table.frame, &table.name)?;
        return Ok(Loaded::Facts(filtered(
            facts,
            filter,
            "customers",
            observer,
        )?));
    }
    if let [table] = tables.as_slice()
        && is_table(&table.frame)
    {
        observer.info("input is a customer table: facts are taken as they are");
        crate::segment::check_one_row_per_customer(&table.frame, &table.name)?;
        let customers = typed_customer_table(&table.frame)?;
        return Ok(Loaded::Customers(filtered(
            customers,
            filter,
            "customers",
            observer,
        )?));
    }
    let transactions = match tables.as_slice() {
        [table] if options.ingest.map.is_empty() => crate::ingest::already_canonical(table),
        _ => None,
    };
    let (transactions, quality) = match transactions {
        Some(frame) => {
            observer.info("input is a canonical transaction table: used as it is");
            (frame, None)
        }
        None => {
            let ingested = crate::ingest::ingest(tables, None, &options.ingest)?;
            told_ingest(&ingested.report, &ingested.rejects, options, observer)?;
            (ingested.transactions, Some(Box::new(ingested.report)))
        }
    };
    let transactions = filtered(transactions, filter, "transactions", observer)?;
    observer.step("ingest");
    Ok(Loaded::Transactions(transactions, quality))
}

/// `frame` with only the rows `filter` keeps, and a detail on how many.
fn filtered(
    frame: DataFrame,
    filter: &Option<RowFilter>,
    what: &str,
    observer: &dyn Observer,
) -> Result<DataFrame> {
    let Some(filter) = filter else {
        return Ok(frame);
    };
    let before = frame.height();
    let kept = filter.apply(frame)?;
    observer.info(&format!(
        "--where: {} of {} {what} kept",
        crate::io::human::count(kept.height() as u64),
        crate::io::human::count(before as u64)
    ));
    Ok(kept)
}

/// The single canonical input to read a batch at a time
/// ([`super::batched_canonical`]): an Arrow IPC file or stream, or a
/// Parquet file of more rows than `options.stream_above`, and no column
/// map or row filter that asks for the rows whole.
pub fn large_canonical(
    inputs: &[Input],
    options: &LoadOptions,
    is_table: fn(&DataFrame) -> bool,
) -> Result<Option<Batches<'static>>> {
    let streaming = Streaming {
        above: options.stream_above,
    };
    let whole = !options.ingest.map.is_empty() || options.filter.is_some();
    super::batched_canonical(inputs, streaming, whole, is_table, options.read.format)
}

/// The customer table of the transactions in `source`, with warnings for
/// what was left out.
pub fn summarize(
    source: &Batches,
    summary: &SummaryConfig,
    observer: &dyn Observer,
) -> Result<Customers> {
    let summary = crate::summary::summarize_batches(source, summary)?;
    observer.step("facts");
    Ok(told(summary, observer))
}

/// The customer table of a facts table (`cpm facts`).
pub fn derive(
    facts: DataFrame,
    summary: &SummaryConfig,
    observer: &dyn Observer,
) -> Result<Customers> {
    let summary = crate::summary::derive(facts, summary)?;
    observer.step("derive");
    Ok(told(summary, observer))
}

/// The customer table of `summary`, after warnings of what it left out.
fn told(summary: crate::summary::Summary, observer: &dyn Observer) -> Customers {
    observer.info(&format!("as of {}", summary.as_of));
    if summary.as_of > chrono::Local::now().date_naive() + chrono::Days::new(1) {
        observer.warn(&format!(
            "the as-of day {} is after today: the data has future dates; --as-of today leaves \
             them out",
            summary.as_of
        ));
    }
    if summary.transactions_after_as_of > 0 {
        observer.warn(&format!(
            "{} transactions after {} excluded",
            summary.transactions_after_as_of, summary.as_of
        ));
    }
    if summary.customers_without_purchases > 0 {
        observer.warn(&format!(
            "{} customers with only refunds in the window left out",
            summary.customers_without_purchases
        ));
    }
    Customers {
        table: summary.customers,
        as_of: Some(summary.as_of),
    }
}

/// Fails past `options.max_rejects`; else warns of the inputs' warnings
/// and of the rows left out.
pub(super) fn told_ingest(
    report: &QualityReport,
    rejects: &[Reject],
    options: &LoadOptions,
    observer: &dyn Observer,
) -> Result<()> {
    check_rejects(report, rejects, options, false)?;
    for warning in report.inputs.iter().flat_map(|i| &i.warnings) {
        observer.warn(warning);
    }
    if report.rows_rejected > 0 {
        let reasons: Vec<String> = report
            .rejects_by_reason
            .iter()
            .map(|(why, n)| format!("{n} {why}"))
            .collect();
        observer.warn(&format!(
            "{} of {} rows left out ({}); cpm ingest --rejects FILE lists them",
            crate::io::human::count(report.rows_rejected),
            crate::io::human::count(report.rows_read),
            reasons.join(", ")
        ));
    }
    Ok(())
}

/// Fails with [`TooManyRejects`] when more rows were rejected than
/// `options.max_rejects` allows (one policy for every command that reads
/// transactions); `listed`: the rejects have been written to a file.
pub fn check_rejects(
    report: &QualityReport,
    rejects: &[Reject],
    options: &LoadOptions,
    listed: bool,
) -> Result<()> {
    let max = options.max_rejects;
    if !max.exceeded(report.rows_rejected, report.rows_read) {
        return Ok(());
    }
    let decimal_comma = !options.ingest.decimal_comma
        && rejects
            .iter()
            .any(|r| r.reason.starts_with("non-numeric") && has_decimal_comma(&r.raw));
    bail!(TooManyRejects {
        rejected: report.rows_rejected,
        read: report.rows_read,
        max,
        first: rejects.first().cloned(),
        decimal_comma,
        listed,
    })
}

/// More rows rejected than [`LoadOptions::max_rejects`] allows: nothing
/// is written.
#[derive(Debug)]
pub struct TooManyRejects {
    /// Rows rejected.
    pub rejected: u64,
    /// Rows read.
    pub read: u64,
    /// The limit.
    pub max: MaxRejects,
    /// The first rejected row.
    pub first: Option<Reject>,
    /// Whether the rejects look like amounts with a decimal comma, which
    /// [`IngestConfig::decimal_comma`] reads.
    pub decimal_comma: bool,
    /// Whether the rejects have been written to a file.
    pub listed: bool,
}

impl TooManyRejects {
    /// The message, naming the options by `max_rejects` and
    /// `decimal_comma` (the binary passes its flags).
    pub fn message(&self, max_rejects: &str, decimal_comma: &str, list_them: &str) -> String {
        let first = self
            .first
            .as_ref()
            .map(|r| format!("{}, line {}: {} ({})", r.source, r.line, r.reason, r.raw))
            .unwrap_or_default();
        format!(
            "{} of {} rows rejected, more than {max_rejects} allows ({}); no output written. \
             First: {first}{}{}",
            crate::io::human::count(self.rejected),
            crate::io::human::count(self.read),
            self.max,
            if self.decimal_comma {
                format!(". Amounts like 20,00 use a decimal comma: try {decimal_comma}")
            } else {
                String::new()
            },
            if self.listed {
                String::new()
            } else {
                format!(". {list_them}")
            }
        )
    }
}

impl std::fmt::Display for TooManyRejects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(
            "max_rejects",
            "decimal_comma",
            "Keep them with a rejects file",
        ))
    }
}

impl std::error::Error for TooManyRejects {}

/// Whether a raw row holds a number with a decimal comma: a digit, a
/// comma, then one or two digits that end the field.
fn has_decimal_comma(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    (1..bytes.len()).any(|i| {
        bytes[i] == b',' && bytes[i - 1].is_ascii_digit() && {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let end = bytes.get(i + 1 + digits);
            (1..=2).contains(&digits) && end.is_none_or(|b| matches!(b, b';' | b'\t' | b'|' | b'"'))
        }
    })
}

/// A customer table read from text: columns typed, the line column dropped.
fn typed_customer_table(frame: &DataFrame) -> Result<DataFrame> {
    let columns = frame
        .columns()
        .iter()
        .filter(|c| c.name().as_str() != LINE_COLUMN)
        .map(crate::ingest::typing::infer_type)
        .collect::<Result<Vec<_>>>()?;
    Ok(DataFrame::new(frame.height(), columns)?)
}

/// Reads every input whole.
pub fn read_all(
    inputs: &[Input],
    options: &ReadOptions,
    observer: &dyn Observer,
) -> Result<Vec<RawTable>> {
    read_all_projected(inputs, options, observer, &|_| Ok(None))
}

/// Reads every input whole, keeping the columns `choose` picks for each.
pub fn read_all_projected(
    inputs: &[Input],
    options: &ReadOptions,
    observer: &dyn Observer,
    choose: ColumnChoice,
) -> Result<Vec<RawTable>> {
    let total: u64 = inputs.iter().filter_map(Input::size).sum();
    observer.reading(total);
    let mut tables = Vec::with_capacity(inputs.len());
    for input in inputs {
        let table = crate::io::read_input_projected(input, options, &|n| observer.read(n), choose)?;
        observer.info(&format!(
            "{}: {}{}{}, {} rows, columns: {}",
            table.name,
            crate::io::read::format_name(table.format),
            table
                .delimiter
                .map(|d| format!(", delimiter '{}'", crate::ingest::report::delimiter_name(d)))
                .unwrap_or_default(),
            table
                .encoding
                .as_ref()
                .map(|e| format!(", encoding {e}"))
                .unwrap_or_default(),
            table.rows_read(),
            table.columns().join(", "),
        ));
        tables.push(table);
    }
    observer.done_reading();
    Ok(tables)
}

/// The inputs, opened, when every one is read a batch at a time
/// ([`super::reads_in_batches`]; `raw_only`: not a canonical Parquet
/// file) and can be opened again when the batches turn out to need a
/// whole read: regular files, or stdin, FIFOs and compressed files
/// spilled to temporary ones ([`crate::io::source::spill`]). `None`: read
/// them whole.
pub fn opened_for_batches(
    inputs: &[Input],
    options: &ReadOptions,
    raw_only: bool,
) -> Result<Option<Vec<Opened>>> {
    let mut opened = Vec::with_capacity(inputs.len());
    for input in inputs {
        if !input.can_reopen() {
            return Ok(None);
        }
        let one = crate::io::source::open(input, options.format)?;
        if !super::reads_in_batches(&one, raw_only)? {
            return Ok(None);
        }
        opened.push(one);
    }
    Ok((!opened.is_empty()).then_some(opened))
}
