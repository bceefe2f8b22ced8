//! The front half `segment` and `value` share: inputs → the customer table.
//! A customer table (cpm's, or for `value` a lifetimes-style summary) is
//! read as it is; transactions become one by summary.rs, after ingest's
//! validation when they are a raw export.

use std::time::Instant;

use anyhow::{Result, bail};
use chrono::NaiveDate;
use cpm::ingest::IngestConfig;
use cpm::ingest::report::QualityReport;
use cpm::io::batches::{Batches, ParquetFile};
use cpm::io::{Input, LINE_COLUMN, RawTable};
use cpm::select::RowFilter;
use cpm::summary::SummaryConfig;
use polars::prelude::*;

use super::{read_all, read_all_projected};
use crate::args::InputArgs;
use crate::ui::Ui;

/// One row per customer, and where it came from.
pub struct Customers {
    /// The customer table.
    pub table: DataFrame,
    /// The analysis day, when the facts were computed here.
    pub as_of: Option<NaiveDate>,
}

/// What the inputs hold.
pub enum Loaded {
    /// A customer table, typed.
    Customers(DataFrame),
    /// A facts table (`cpm facts`), typed.
    Facts(DataFrame),
    /// Canonical transactions, with ingest's report when they came from a
    /// raw export.
    Transactions(DataFrame, Option<Box<QualityReport>>),
}

/// Reads `inputs` and returns their customer table. `is_table` tells a
/// frame that already is one. `clock` times the steps (-vv).
pub fn customers_from(
    inputs: &[Input],
    args: &InputArgs,
    summary_config: &SummaryConfig,
    is_table: fn(&DataFrame) -> bool,
    ui: &Ui,
    clock: &mut Instant,
) -> Result<Customers> {
    if let Some(file) = large_parquet(inputs, args, is_table, cpm::facts::STREAM_ABOVE)? {
        ui.info(&format!(
            "{} rows of canonical transactions: summarised a batch at a time",
            file.rows()
        ));
        return summarize_source(&Batches::Parquet(file), summary_config, ui, clock);
    }
    let loaded = match streamed(inputs, args, summary_config.as_of, is_table, ui, clock)? {
        Front::Facts(gathered) => {
            let facts = told_gathered(gathered, ui);
            return derive(facts, summary_config, ui, clock);
        }
        Front::Loaded(loaded) => loaded,
    };
    match loaded {
        Loaded::Customers(table) => Ok(Customers { table, as_of: None }),
        Loaded::Facts(facts) => derive(facts, summary_config, ui, clock),
        Loaded::Transactions(transactions, _) => {
            summarize(&transactions, summary_config, ui, clock)
        }
    }
}

/// The facts table of `inputs`: gathered from their transactions as of
/// `as_of` (a large canonical Parquet file a batch at a time), or a facts
/// table as it is.
pub fn facts_from(
    inputs: &[Input],
    args: &InputArgs,
    as_of: Option<NaiveDate>,
    ui: &Ui,
    clock: &mut Instant,
) -> Result<DataFrame> {
    let large = large_parquet(
        inputs,
        args,
        cpm::segment::is_customer_table,
        cpm::facts::STREAM_ABOVE,
    )?;
    let gathered = match large {
        Some(file) => {
            let gathered = cpm::facts::gather(&Batches::Parquet(file), as_of)?;
            ui.timing("facts", clock);
            gathered
        }
        None => match streamed(
            inputs,
            args,
            as_of,
            cpm::segment::is_customer_table,
            ui,
            clock,
        )? {
            Front::Facts(gathered) => gathered,
            Front::Loaded(Loaded::Transactions(transactions, _)) => {
                let gathered = cpm::facts::gather(&Batches::Frame(&transactions), as_of)?;
                ui.timing("facts", clock);
                gathered
            }
            Front::Loaded(Loaded::Facts(facts)) => {
                cpm::facts::checked_as_of(&facts, as_of)?;
                return Ok(facts);
            }
            Front::Loaded(Loaded::Customers(_)) => bail!(cpm::error::usage(
                "the input is a customer table: its rows are gone, and the facts are gathered \
                 from transactions"
            )),
        },
    };
    Ok(told_gathered(gathered, ui))
}

/// The facts table of `gathered`, after a -v line on its day and a
/// warning of the rows after it.
fn told_gathered(gathered: cpm::facts::Gathered, ui: &Ui) -> DataFrame {
    ui.info(&format!("as of {}", gathered.as_of));
    if gathered.rows_after_as_of > 0 {
        ui.warn(&format!(
            "{} transactions after {} excluded",
            gathered.rows_after_as_of, gathered.as_of
        ));
    }
    gathered.table
}

/// What the front half read: facts gathered a batch at a time, or the
/// inputs loaded whole.
enum Front {
    Facts(cpm::facts::Gathered),
    Loaded(Loaded),
}

/// Reads `inputs`: CSV or raw Parquet files a batch at a time,
/// its facts as of `as_of` gathered as the batches come
/// ([`cpm::pipeline::stream_facts`]); anything else whole ([`load`]).
fn streamed(
    inputs: &[Input],
    args: &InputArgs,
    as_of: Option<NaiveDate>,
    is_table: fn(&DataFrame) -> bool,
    ui: &Ui,
    clock: &mut Instant,
) -> Result<Front> {
    let read = args.read_options();
    let Some(opened) = super::opened_for_batches(inputs, &read, true)? else {
        return Ok(Front::Loaded(load(inputs, args, is_table, ui, clock)?));
    };
    let filter = args.row_filter()?;
    let config = ingest_config(args)?;
    let options = cpm::pipeline::StreamOptions {
        csv: &read.csv,
        ingest: &config,
        filter: filter.as_ref(),
        as_of,
        is_table,
    };
    let bar = ui.progress(opened.iter().map(|o| o.size).sum(), "reading");
    let streamed = cpm::pipeline::stream_facts(&opened, &options, &|n| bar.inc(n));
    bar.finish_and_clear();
    let streamed = match streamed {
        Err(e) => match e.downcast_ref::<cpm::pipeline::ReadWhole>() {
            Some(whole) => {
                ui.info(&whole.to_string());
                return Ok(Front::Loaded(load(inputs, args, is_table, ui, clock)?));
            }
            None => return Err(e),
        },
        Ok(streamed) => streamed,
    };
    match streamed {
        cpm::pipeline::Streamed::Whole(table) => {
            ui.timing("read", clock);
            Ok(Front::Loaded(load_tables(
                vec![table],
                args,
                is_table,
                ui,
                clock,
            )?))
        }
        cpm::pipeline::Streamed::Facts(streamed) => {
            told_ingest(&streamed.quality, &streamed.rejects, args, ui)?;
            if filter.is_some() {
                let quality = &streamed.quality;
                ui.info(&format!(
                    "--where: {} of {} transactions kept",
                    cpm::io::human::count(quality.rows_kept),
                    cpm::io::human::count(quality.rows_kept + quality.rows_filtered)
                ));
            }
            ui.timing("read, ingest and facts", clock);
            Ok(Front::Facts(streamed.gathered))
        }
    }
}

/// Reads `inputs`: a customer table as it is, or canonical transactions
/// (raw exports through ingest's validation).
pub fn load(
    inputs: &[Input],
    args: &InputArgs,
    is_table: fn(&DataFrame) -> bool,
    ui: &Ui,
    clock: &mut Instant,
) -> Result<Loaded> {
    let filter = args.row_filter()?;
    // a canonical table alone: only the columns the facts (and --where) need
    // are read
    let tables = if inputs.len() == 1 && args.map.is_empty() {
        let choose = |head: &DataFrame| -> Result<Option<Vec<String>>> {
            if !cpm::ingest::is_canonical(head) {
                return Ok(None);
            }
            let mut columns = cpm::facts::columns_needed(head)?;
            for name in filter.iter().flat_map(RowFilter::columns) {
                if head.column(&name).is_ok() && !columns.contains(&name) {
                    columns.push(name);
                }
            }
            Ok(Some(columns))
        };
        read_all_projected(inputs, &args.read_options(), ui, &choose)?
    } else {
        read_all(inputs, &args.read_options(), ui)?
    };
    ui.timing("read", clock);
    load_tables(tables, args, is_table, ui, clock)
}

/// [`load`] on the tables read.
fn load_tables(
    tables: Vec<RawTable>,
    args: &InputArgs,
    is_table: fn(&DataFrame) -> bool,
    ui: &Ui,
    clock: &mut Instant,
) -> Result<Loaded> {
    let filter = args.row_filter()?;
    if let [table] = tables.as_slice()
        && cpm::facts::is_facts_table(&table.frame)
    {
        ui.info("input is a facts table (cpm facts): the customer table is derived from it");
        let facts = cpm::facts::typed(&table.frame, &table.name)?;
        return Ok(Loaded::Facts(filtered(facts, &filter, "customers", ui)?));
    }
    if let [table] = tables.as_slice()
        && is_table(&table.frame)
    {
        ui.info("input is a customer table: facts are taken as they are");
        cpm::segment::check_one_row_per_customer(&table.frame, &table.name)?;
        let customers = filtered(
            typed_customer_table(&table.frame)?,
            &filter,
            "customers",
            ui,
        )?;
        return Ok(Loaded::Customers(customers));
    }
    let transactions = match tables.as_slice() {
        [table] if args.map.is_empty() => cpm::ingest::already_canonical(table),
        _ => None,
    };
    let (transactions, quality) = match transactions {
        Some(frame) => {
            ui.info("input is a canonical transaction table: used as it is");
            (frame, None)
        }
        None => {
            let (frame, quality) = ingest_raw(tables, args, ui)?;
            (frame, Some(Box::new(quality)))
        }
    };
    let transactions = filtered(transactions, &filter, "transactions", ui)?;
    ui.timing("ingest", clock);
    Ok(Loaded::Transactions(transactions, quality))
}

/// `frame` with only the rows `--where` keeps, and a -v line on how many.
fn filtered(
    frame: DataFrame,
    filter: &Option<RowFilter>,
    what: &str,
    ui: &Ui,
) -> Result<DataFrame> {
    let Some(filter) = filter else {
        return Ok(frame);
    };
    let before = frame.height();
    let kept = filter.apply(frame)?;
    ui.info(&format!(
        "--where: {} of {} {what} kept",
        cpm::io::human::count(kept.height() as u64),
        cpm::io::human::count(before as u64)
    ));
    Ok(kept)
}

/// The single canonical Parquet input to read a batch at a time, when
/// it has more rows than `stream_above` (`CPM_STREAM_ABOVE` moves it)
/// and no `--map` or `--where` asks for the rows whole.
pub fn large_parquet(
    inputs: &[Input],
    args: &InputArgs,
    is_table: fn(&DataFrame) -> bool,
    stream_above: usize,
) -> Result<Option<ParquetFile>> {
    let streaming = cpm::pipeline::Streaming {
        above: args.stream_above.unwrap_or(stream_above),
    };
    let whole = !args.map.is_empty() || args.filter.is_some();
    cpm::pipeline::batched_parquet(inputs, streaming, whole, is_table)
}

/// The customer table of `transactions`, with warnings for what was left
/// out.
pub fn summarize(
    transactions: &DataFrame,
    summary_config: &SummaryConfig,
    ui: &Ui,
    clock: &mut Instant,
) -> Result<Customers> {
    summarize_source(&Batches::Frame(transactions), summary_config, ui, clock)
}

/// [`summarize`] on transactions read a batch at a time.
pub fn summarize_source(
    source: &Batches,
    summary_config: &SummaryConfig,
    ui: &Ui,
    clock: &mut Instant,
) -> Result<Customers> {
    let summary = cpm::summary::summarize_batches(source, summary_config)?;
    ui.timing("facts", clock);
    Ok(told(summary, ui))
}

/// The customer table of a facts table (`cpm facts`).
pub fn derive(
    facts: DataFrame,
    summary_config: &SummaryConfig,
    ui: &Ui,
    clock: &mut Instant,
) -> Result<Customers> {
    let summary = cpm::summary::derive(facts, summary_config)?;
    ui.timing("derive", clock);
    Ok(told(summary, ui))
}

/// The customer table of `summary`, after warnings of what it left out.
fn told(summary: cpm::summary::Summary, ui: &Ui) -> Customers {
    ui.info(&format!("as of {}", summary.as_of));
    if summary.as_of > chrono::Local::now().date_naive() + chrono::Days::new(1) {
        ui.warn(&format!(
            "the as-of day {} is after today: the data has future dates; --as-of today leaves \
             them out",
            summary.as_of
        ));
    }
    if summary.transactions_after_as_of > 0 {
        ui.warn(&format!(
            "{} transactions after {} excluded",
            summary.transactions_after_as_of, summary.as_of
        ));
    }
    if summary.customers_without_purchases > 0 {
        ui.warn(&format!(
            "{} customers with only refunds in the window left out",
            summary.customers_without_purchases
        ));
    }
    Customers {
        table: summary.customers,
        as_of: Some(summary.as_of),
    }
}

/// Runs a raw export through ingest's mapping and validation; rejected
/// rows are left out with a warning that counts them.
fn ingest_raw(
    tables: Vec<RawTable>,
    args: &InputArgs,
    ui: &Ui,
) -> Result<(DataFrame, QualityReport)> {
    let ingested = cpm::ingest::ingest(tables, None, &ingest_config(args)?)?;
    told_ingest(&ingested.report, &ingested.rejects, args, ui)?;
    Ok((ingested.transactions, ingested.report))
}

/// How the front half ingests a raw export.
fn ingest_config(args: &InputArgs) -> Result<IngestConfig> {
    Ok(IngestConfig {
        map: args.map_overrides()?,
        date_format: args.date_format()?,
        decimal_comma: args.decimal_comma,
        // the facts of the kept rows come from the facts table
        kept_facts: false,
        batch_rows: args.batch_rows(),
        ..IngestConfig::default()
    })
}

/// Fails past `--max-rejects`; else warns of the inputs' warnings and of
/// the rows left out.
fn told_ingest(
    report: &QualityReport,
    rejects: &[cpm::ingest::Reject],
    args: &InputArgs,
    ui: &Ui,
) -> Result<()> {
    super::check_rejects(report, rejects, args, false)?;
    for warning in report.inputs.iter().flat_map(|i| &i.warnings) {
        ui.warn(warning);
    }
    if report.rows_rejected > 0 {
        let reasons: Vec<String> = report
            .rejects_by_reason
            .iter()
            .map(|(why, n)| format!("{n} {why}"))
            .collect();
        ui.warn(&format!(
            "{} of {} rows left out ({}); cpm ingest --rejects FILE lists them",
            cpm::io::human::count(report.rows_rejected),
            cpm::io::human::count(report.rows_read),
            reasons.join(", ")
        ));
    }
    Ok(())
}

/// A customer table read from text: columns typed, the line column dropped.
fn typed_customer_table(frame: &DataFrame) -> Result<DataFrame> {
    let columns = frame
        .columns()
        .iter()
        .filter(|c| c.name().as_str() != LINE_COLUMN)
        .map(cpm::ingest::typing::infer_type)
        .collect::<Result<Vec<_>>>()?;
    Ok(DataFrame::new(frame.height(), columns)?)
}
