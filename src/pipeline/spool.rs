//! Transactions a command reads more than once (the report: the facts,
//! the period KPIs and cohorts, the previous period's facts), spooled a
//! batch at a time to a temporary canonical Parquet file: a raw export
//! is ingested once, then read again in batches as often as needed, and
//! memory does not grow with its rows.

use anyhow::{Context, Result};
use polars::prelude::*;

use super::{LoadOptions, Loaded, Observer, Read, RowBatches};
use crate::ingest::QualityReport;
use crate::io::Input;
use crate::io::batch_writer::{BatchWriter, TypeChanged};
use crate::io::batches::{Batches, ParquetFile};
use crate::io::write::OutputFormat;

/// Canonical transactions in a temporary Parquet file, removed when this
/// is dropped.
pub struct Spooled {
    /// The file, with the columns the facts need.
    pub file: ParquetFile,
    /// Ingest's counts.
    pub quality: QualityReport,
    _temp: crate::io::atomic::TempFile,
}

/// What [`spool`] made of the inputs.
pub enum Spool {
    /// Transactions, spooled.
    Spooled(Box<Spooled>),
    /// Anything read whole ([`super::load`]): a customer or facts table,
    /// an input that is not read in batches, columns that change type
    /// between batches.
    Loaded(Loaded),
}

/// Transactions to read more than once, wherever they are.
pub enum Transactions {
    /// Canonical transactions in a file read a batch at a time: the
    /// input, or a raw export spooled (kept until this is dropped).
    Batched(Batches<'static>, Option<Box<Spooled>>),
    /// Anything read whole: a customer or facts table, transactions.
    Loaded(Loaded),
}

impl Transactions {
    /// The transactions a batch at a time (none in a customer or facts
    /// table).
    pub fn batches(&self) -> Option<Batches<'_>> {
        match self {
            Transactions::Batched(source, _) => Some(source.clone()),
            Transactions::Loaded(Loaded::Transactions(frame, _)) => Some(Batches::Frame(frame)),
            Transactions::Loaded(_) => None,
        }
    }

    /// Ingest's counts, when the transactions came from a raw export.
    pub fn quality(&self) -> Option<&QualityReport> {
        match self {
            Transactions::Batched(_, spooled) => spooled.as_ref().map(|s| &s.quality),
            Transactions::Loaded(Loaded::Transactions(_, quality)) => quality.as_deref(),
            Transactions::Loaded(_) => None,
        }
    }
}

/// Reads `inputs` to be read again: a large canonical file as it is
/// ([`super::large_canonical`]), a raw export spooled ([`spool`]),
/// anything else whole.
pub fn transactions(
    inputs: &[Input],
    options: &LoadOptions,
    is_table: fn(&DataFrame) -> bool,
    observer: &dyn Observer,
) -> Result<Transactions> {
    if let Some(batches) = super::large_canonical(inputs, options, is_table)? {
        return Ok(Transactions::Batched(batches, None));
    }
    Ok(match spool(inputs, options, is_table, observer)? {
        Spool::Spooled(spooled) => {
            let file = Batches::Parquet(spooled.file.clone());
            Transactions::Batched(file, Some(spooled))
        }
        Spool::Loaded(loaded) => Transactions::Loaded(loaded),
    })
}

/// Reads `inputs` (CSV or raw Parquet files) a batch at a time through
/// ingest into a temporary canonical Parquet file of the columns the
/// facts need; anything else is loaded whole ([`super::load`]).
pub fn spool(
    inputs: &[Input],
    options: &LoadOptions,
    is_table: fn(&DataFrame) -> bool,
    observer: &dyn Observer,
) -> Result<Spool> {
    let inputs = &crate::io::source::spill(inputs)?;
    let whole = || {
        Ok(Spool::Loaded(super::load(
            inputs, options, is_table, observer,
        )?))
    };
    let Some(opened) = super::opened_for_batches(inputs, &options.read, true)? else {
        return whole();
    };
    let temp = crate::io::atomic::TempFile::new("spool.parquet")?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(temp.path()).context("creating a temporary file")?,
    );
    let batches = RowBatches {
        csv: &options.read.csv,
        ingest: &options.ingest,
        filter: options.filter.as_ref(),
        is_table: Some(is_table),
        customers: None,
    };
    let mut rejects = Vec::new();
    observer.reading(opened.iter().map(|o| o.size).sum());
    let read = {
        let mut writer = BatchWriter::new(OutputFormat::Parquet, &mut out)
            .ok_or_else(|| anyhow::anyhow!("Parquet is written in batches"))?;
        let mut columns: Option<Vec<String>> = None;
        let wrote = &mut false;
        let read = batches.read(&opened, &|n| observer.read(n), &mut |rows, rejected| {
            let room = super::REJECTS_KEPT.saturating_sub(rejects.len());
            rejects.extend(rejected.into_iter().take(room));
            let columns = match &columns {
                Some(columns) => columns,
                None => columns.insert(crate::facts::columns_needed(&rows)?),
            };
            *wrote = true;
            writer.write(&rows.select(columns.iter().map(String::as_str))?)
        });
        read.and_then(|read| {
            if *wrote {
                writer.finish()?;
            }
            Ok((read, *wrote))
        })
    };
    observer.done_reading();
    let read = match read {
        // no row kept: nothing to spool, and nothing costly to read whole
        Ok((Read::Ingested(_), false)) => return whole(),
        Ok((read, _)) => read,
        Err(e) if e.is::<TypeChanged>() || e.is::<super::ReadWhole>() => {
            observer.info(&format!("{e}: read whole"));
            return whole();
        }
        Err(e) => return Err(e),
    };
    std::io::Write::flush(&mut out).context("writing a temporary file")?;
    drop(out);
    match read {
        Read::Whole(table) => {
            observer.step("read");
            Ok(Spool::Loaded(super::load::load_tables(
                vec![table],
                options,
                is_table,
                observer,
            )?))
        }
        Read::Ingested(quality) => {
            super::load::told_ingest(&quality, &rejects, options, observer)?;
            observer.step("read and ingest");
            let file = ParquetFile::open(temp.path(), "the spooled transactions")?;
            Ok(Spool::Spooled(Box::new(Spooled {
                file,
                quality: *quality,
                _temp: temp,
            })))
        }
    }
}
