//! The front half of a holdout run: the transactions read whole (the
//! holdout needs the rows themselves), their customers at the as-of day,
//! and at the end of the calibration.

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use super::{Customers, LoadOptions, Loaded, Observer};
use crate::ingest::QualityReport;
use crate::io::Input;
use crate::io::batches::Batches;
use crate::summary::SummaryConfig;
use crate::value::holdout::Holdout;

/// What a holdout run reads.
pub struct Calibration {
    /// The canonical transactions.
    pub transactions: DataFrame,
    /// Ingest's counts, when they came from a raw export.
    pub quality: Option<Box<QualityReport>>,
    /// The customers at the as-of day.
    pub full: Customers,
    /// The customers at the end of the calibration, to fit on.
    pub calibrated: DataFrame,
    /// What the fit's predictions are compared with.
    pub holdout: Holdout,
}

/// Reads `inputs` whole and summarises them twice: at `summary`'s as-of
/// day and at `calibration_end`, the last day the models may see.
pub fn calibration(
    inputs: &[Input],
    options: &LoadOptions,
    summary: &SummaryConfig,
    calibration_end: NaiveDate,
    is_table: fn(&DataFrame) -> bool,
    observer: &dyn Observer,
) -> Result<Calibration> {
    let (transactions, quality) = match super::load(inputs, options, is_table, observer)? {
        Loaded::Customers(_) | Loaded::Facts(_) => return Err(NeedsTransactions.into()),
        Loaded::Transactions(transactions, quality) => (transactions, quality),
    };
    let full = super::summarize(&Batches::Frame(&transactions), summary, observer)?;
    let as_of = full.as_of.unwrap_or(calibration_end);
    let (calibrated, holdout) = Holdout::calibrate(
        &transactions,
        full.table.clone(),
        calibration_end,
        as_of,
        summary.time_unit,
    )?;
    observer.step("calibration");
    Ok(Calibration {
        transactions,
        quality,
        full,
        calibrated,
        holdout,
    })
}

/// A holdout asked of a customer or facts table: what happened after the
/// calibration comes from the transactions.
#[derive(Debug)]
pub struct NeedsTransactions;

impl NeedsTransactions {
    /// The message, naming the option as `calibration_end` says it.
    pub fn message(&self, calibration_end: &str) -> String {
        format!(
            "{calibration_end} needs transactions, not a customer or facts table: what happened \
             after the calibration comes from them"
        )
    }
}

impl std::fmt::Display for NeedsTransactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message("calibration_end"))
    }
}

impl std::error::Error for NeedsTransactions {}
