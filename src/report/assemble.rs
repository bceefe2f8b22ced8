//! From the inputs to the [`Report`]: the transactions read the way the
//! report needs them ([`read`]: three reads, a batch at a time where the
//! input allows), then the steps upstream of the report filled in when the
//! input has not been through them (value, segment: a note in the report
//! when one cannot run), the holdout and the migration ([`assemble`]).

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;

use super::{Report, ReportConfig, Sources};
use crate::ingest::QualityReport;
use crate::io::Input;
use crate::io::batches::Batches;
use crate::pipeline::{Calibration, LoadOptions, Loaded, Observer, Spool, Spooled};
use crate::summary::SummaryConfig;
use crate::value::holdout::HoldoutReport;
use crate::value::{Filled, Model, ValueConfig};

/// How the report's inputs were read.
enum Read {
    /// Canonical transactions in a file read a batch at a time (the
    /// input, or a Parquet file spooled from a raw export: kept until the
    /// end).
    Batched(Batches<'static>, Option<Box<Spooled>>),
    /// Anything read whole.
    Whole(Loaded),
    /// The transactions of a holdout run, read whole, summarised at the
    /// as-of day and at the end of the calibration.
    Calibrated(Box<Calibration>),
}

/// The report's inputs, read: the customers, and the transactions when
/// the inputs had them.
pub struct Plan {
    read: Read,
    /// One row per customer, as read or summarised.
    customers: DataFrame,
    /// The analysis day, when known.
    as_of: Option<NaiveDate>,
    /// Ingest's counts, when the input was a raw export.
    quality: Option<Box<QualityReport>>,
}

impl Plan {
    /// The transactions, wherever they are.
    fn transactions(&self) -> Option<Batches<'_>> {
        match &self.read {
            Read::Batched(source, _) => Some(source.clone()),
            Read::Calibrated(calibration) => Some(Batches::Frame(&calibration.transactions)),
            Read::Whole(Loaded::Transactions(transactions, _)) => {
                Some(Batches::Frame(transactions))
            }
            Read::Whole(_) => None,
        }
    }
}

/// Reads `inputs` for a report as of `summary`'s day: the transactions
/// are read three times (the facts, the KPIs and cohorts, the previous
/// period's facts), so a large canonical file, or a raw export spooled to
/// one, is read a batch at a time each time; anything else whole, and the
/// transactions of a holdout ending on `calibration_end` too (it needs
/// the rows themselves).
pub fn read(
    inputs: &[Input],
    options: &LoadOptions,
    summary: &SummaryConfig,
    calibration_end: Option<NaiveDate>,
    observer: &dyn Observer,
) -> Result<Plan> {
    let is_table = crate::segment::is_customer_table;
    let large = match calibration_end {
        None => crate::pipeline::large_canonical(inputs, options, is_table)?,
        Some(_) => None,
    };
    let read = match (large, calibration_end) {
        (Some(batches), _) => Read::Batched(batches, None),
        (None, None) => match crate::pipeline::spool(inputs, options, is_table, observer)? {
            Spool::Spooled(spooled) => {
                Read::Batched(Batches::Parquet(spooled.file.clone()), Some(spooled))
            }
            Spool::Loaded(loaded) => Read::Whole(loaded),
        },
        (None, Some(end)) => Read::Calibrated(Box::new(crate::pipeline::calibration(
            inputs, options, summary, end, is_table, observer,
        )?)),
    };
    let (customers, quality, as_of) = match &read {
        Read::Batched(source, spooled) => {
            let customers = crate::pipeline::summarize(source, summary, observer)?;
            let quality = spooled.as_ref().map(|s| Box::new(s.quality.clone()));
            (customers.table, quality, customers.as_of)
        }
        Read::Calibrated(calibration) => (
            calibration.full.table.clone(),
            calibration.quality.clone(),
            calibration.full.as_of,
        ),
        Read::Whole(Loaded::Customers(table)) => {
            let as_of = summary.as_of.or_else(|| table_as_of(table));
            (table.clone(), None, as_of)
        }
        Read::Whole(Loaded::Facts(facts)) => {
            let customers = crate::pipeline::derive(facts.clone(), summary, observer)?;
            (customers.table, None, customers.as_of)
        }
        Read::Whole(Loaded::Transactions(transactions, quality)) => {
            let source = Batches::Frame(transactions);
            let customers = crate::pipeline::summarize(&source, summary, observer)?;
            (customers.table, quality.clone(), customers.as_of)
        }
    };
    Ok(Plan {
        read,
        customers,
        as_of,
        quality,
    })
}

/// What the report adds to what it read.
#[derive(Default)]
pub struct Assembly {
    /// Whether the analysis day was given (not the default day after the
    /// last transaction, where the KPI period ends on the last day).
    pub as_of_given: bool,
    /// Leave the models out (no CLV, P(alive) or model health).
    pub no_model: bool,
    /// An earlier segmented customer table to migrate from, with its name
    /// ([`compared`]); without it, the customers at the end of the
    /// previous period.
    pub earlier: Option<(DataFrame, String)>,
}

/// Builds the report of `plan`: values the customers when they have no
/// CLV (unless `assembly.no_model`), segments them when they have no
/// segments, checks the models on the holdout, and finds the customers
/// to migrate from; a step that cannot run leaves a note in the report.
pub fn assemble(
    plan: Plan,
    assembly: Assembly,
    config: &ReportConfig,
    observer: &dyn Observer,
) -> Result<Report> {
    let transactions = plan.transactions();
    let mut notes = Vec::new();
    let mut table = plan.customers.clone();
    if config.margin.is_none() && table.column("margin").is_err() {
        notes.push("no cost in the data and no --margin: profit and CLV are in revenue".into());
    }
    let model = if assembly.no_model {
        notes.push("--no-model: no CLV, P(alive) or model health".to_string());
        None
    } else {
        valued(&mut table, plan.as_of, config.margin, &mut notes)?
    };
    if model.is_none() && table.column("profit").is_err() && table.column("revenue").is_ok() {
        let (_, profit) = crate::value::historic::profit(&table, config.margin)?;
        table.with_column(profit)?;
    }
    observer.step("value");
    let table = match crate::segment::fill_in(table.clone()) {
        Ok(segmented) => segmented,
        Err(e) => {
            notes.push(format!(
                "no segments: {e:#} (composition, the R×F grid and the migration need them)"
            ));
            table
        }
    };
    observer.step("segment");
    let holdout = match (&plan.read, &model) {
        (Read::Calibrated(calibration), Some(_)) => Some(holdout(calibration, observer)?),
        _ => None,
    };
    // a default as-of day is the day after the last transaction: the
    // period ends on the last day with data
    let period_end = match plan.as_of {
        Some(day) if !assembly.as_of_given && transactions.is_some() => day.pred_opt(),
        as_of => as_of,
    };
    let segmented = table.column("segment").is_ok();
    let earlier = match assembly.earlier {
        Some(earlier) => Some(earlier),
        None if segmented => previous(transactions.as_ref(), period_end, config, observer)?,
        None => None,
    };
    if earlier.is_none() && segmented {
        notes.push(match (&transactions, period_end) {
            (Some(_), Some(end)) => format!(
                "no migration: no customers before {}",
                super::previous_period_end(end, config.period) + chrono::Days::new(1)
            ),
            _ => "no migration: it needs transactions, or an earlier customer table (--compare)"
                .to_string(),
        });
    }
    let sources = Sources {
        customers: &table,
        transactions: transactions.as_ref(),
        as_of: plan.as_of,
        period_end,
        earlier: earlier
            .as_ref()
            .map(|(frame, label)| (frame, label.clone())),
        model: model.as_ref(),
        holdout: holdout.as_ref(),
        quality: plan.quality.as_deref(),
        notes,
    };
    let report = super::build(sources, config)?;
    if let Some(warning) = report.kpis.as_ref().and_then(|k| k.empty_period_warning()) {
        observer.warn(&warning);
    }
    observer.step("report");
    Ok(report)
}

/// Values the customers with the models' defaults (and `margin`), adding
/// profit, P(alive) and CLV, when they have no CLV; `None` with a note
/// when the models were not fitted.
fn valued(
    table: &mut DataFrame,
    as_of: Option<NaiveDate>,
    margin: Option<f64>,
    notes: &mut Vec<String>,
) -> Result<Option<Model>> {
    let config = ValueConfig {
        margin,
        ..ValueConfig::default()
    };
    let tiers = crate::segment::TierConfig::default();
    let (filled, model) = match crate::value::fill_in(std::mem::take(table), &config, &tiers, as_of)
    {
        Filled::AsItWas(input) => {
            notes.push("the input has CLV already: the models were not fitted again".to_string());
            (input, None)
        }
        Filled::Valued(valued, model) => (valued, Some(*model)),
        Filled::NotValued(input, why) => {
            notes.push(why);
            (input, None)
        }
    };
    *table = filled;
    Ok(model)
}

/// Fits the models on the customers at the end of the calibration and
/// compares their predictions for the holdout with what happened.
fn holdout(calibration: &Calibration, observer: &dyn Observer) -> Result<HoldoutReport> {
    let config = ValueConfig::default();
    let mut calibrated = calibration.calibrated.clone();
    let holdout = &calibration.holdout;
    let inputs = crate::value::model_inputs(&calibrated, config.time_unit)?;
    let model = crate::value::fit_models(&inputs, &config, Some(holdout.calibration_end))?;
    let report = crate::value::holdout::holdout_report(&mut calibrated, &inputs, &model, holdout)?;
    observer.step("holdout");
    Ok(report)
}

/// The segmented customers of `transactions` at the end of the period
/// before the one ending on `period_end` (none before it: `None`).
fn previous(
    transactions: Option<&Batches>,
    period_end: Option<NaiveDate>,
    config: &ReportConfig,
    observer: &dyn Observer,
) -> Result<Option<(DataFrame, String)>> {
    let (Some(transactions), Some(period_end)) = (transactions, period_end) else {
        return Ok(None);
    };
    let end = super::previous_period_end(period_end, config.period);
    let summary = SummaryConfig {
        as_of: Some(end),
        ..SummaryConfig::default()
    };
    let before = crate::summary::summarize_batches(transactions, &summary)?.customers;
    if before.height() == 0 {
        return Ok(None);
    }
    let table = crate::segment::fill_in(before)?;
    observer.step("migration");
    Ok(Some((table, end.to_string())))
}

/// An earlier customer table to migrate from (`cpm segment`'s or `cpm
/// value`'s output, or a facts table), segmented, named by its file name.
pub fn compared(path: &std::path::Path, observer: &dyn Observer) -> Result<(DataFrame, String)> {
    let input = [Input::Path(path.to_path_buf())];
    let options = LoadOptions::default();
    let is_table = crate::segment::is_customer_table;
    let table = match crate::pipeline::load(&input, &options, is_table, observer)? {
        Loaded::Customers(table) => table,
        Loaded::Facts(facts) => {
            crate::pipeline::derive(facts, &SummaryConfig::default(), observer)?.table
        }
        Loaded::Transactions(..) => bail!(crate::error::usage(format!(
            "{}: expected a customer table to compare with (cpm segment's or cpm value's \
             output), found transactions",
            path.display()
        ))),
    };
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok((crate::segment::fill_in(table)?, name))
}

/// The as-of day of a customer table made by cpm: any customer's last
/// order plus its days since then.
fn table_as_of(table: &DataFrame) -> Option<NaiveDate> {
    if table.height() == 0 {
        return None;
    }
    let last = table
        .column("last_order")
        .ok()?
        .cast(&DataType::Date)
        .ok()?;
    let days = table
        .column("days_since_last")
        .ok()?
        .cast(&DataType::Int64)
        .ok()?;
    let last = last.date().ok()?.physical().get(0)?;
    let days = days.i64().ok()?.get(0)?;
    NaiveDate::default().checked_add_signed(chrono::Duration::days(i64::from(last) + days))
}
