//! The front half of a holdout run: the customers at the as-of day and at
//! the end of the calibration, and the days of their repeat purchases,
//! gathered in one pass over the transactions a batch at a time.

use anyhow::Result;
use chrono::NaiveDate;

use super::{BATCH_ROWS, Customers, Observer};
use crate::facts::FactsBuilder;
use crate::io::batches::Batches;
use crate::summary::{PurchaseDays, SummaryConfig};
use crate::value::holdout::Holdout;

/// What a holdout run reads.
pub struct Calibration {
    /// The customers at the as-of day.
    pub full: Customers,
    /// The customers at the end of the calibration, to fit on.
    pub calibrated: polars::prelude::DataFrame,
    /// What the fit's predictions are compared with.
    pub holdout: Holdout,
}

/// Summarises the transactions of `source` at `summary`'s as-of day and
/// at `calibration_end`, the last day the models may see, in one pass:
/// only what is kept per customer and per purchase day grows. The
/// calibration must end before the as-of day (a usage error naming
/// `calibration_end`).
pub fn calibrate(
    source: &Batches,
    summary: &SummaryConfig,
    calibration_end: NaiveDate,
    observer: &dyn Observer,
) -> Result<Calibration> {
    let too_late = |as_of: NaiveDate| {
        crate::error::usage(format!(
            "the calibration end ({calibration_end}, --calibration-end) must be before the \
             as-of day {as_of}"
        ))
    };
    // a day given is checked before the pass, a default one after it
    if let Some(as_of) = summary.as_of.filter(|as_of| calibration_end >= *as_of) {
        return Err(too_late(as_of));
    }
    let columns = source.column_names();
    let mut full = FactsBuilder::new(&columns, summary.as_of)?;
    let mut calibration = FactsBuilder::new(&columns, Some(calibration_end))?;
    full.expect_rows(source.rows_hint());
    calibration.expect_rows(source.rows_hint());
    let mut purchases = PurchaseDays::default();
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    source.each(BATCH_ROWS, &names, &mut |_, rows| {
        full.add(&rows)?;
        calibration.add(&rows)?;
        purchases.add(&rows)
    })?;
    let full = full.finish()?;
    let as_of = full.as_of;
    if calibration_end >= as_of {
        return Err(too_late(as_of));
    }
    observer.step("facts at the as-of day and the calibration end");
    let full = super::derive(
        super::load::told_gathered(full, observer),
        summary,
        observer,
    )?;
    let at_end = SummaryConfig {
        as_of: Some(calibration_end),
        ..*summary
    };
    let calibrated = crate::summary::derive(calibration.finish()?.table, &at_end)?.customers;
    let holdout = Holdout {
        full: full.table.clone(),
        repeat_days: purchases.repeat_days(as_of, calibration_end),
        calibration_end,
        as_of,
    };
    Ok(Calibration {
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
