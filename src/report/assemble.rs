//! From the inputs to the [`Report`]: the transactions read the way the
//! report needs them ([`read`]: three reads, a batch at a time where the
//! input allows), then the steps upstream of the report filled in when the
//! input has not been through them (value, segment: a note in the report
//! when one cannot run), the holdout and the migration ([`assemble`]).

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;

use super::activity::Activity;
use super::period::Period;
use super::pushdown::Pushed;
use super::{Report, ReportConfig, Sources};
use crate::engine::Session;
use crate::io::Input;
use crate::io::batches::Batches;
use crate::pipeline::{
    Calibration, Customers, LoadOptions, Loaded, NeedsTransactions, Observer, Transactions,
};
use crate::summary::SummaryConfig;
use crate::value::holdout::HoldoutReport;
use crate::value::intervals::IntervalTotals;
use crate::value::{Filled, Model, ValueConfig};

/// The report's inputs, read: the customers, and the transactions when
/// the inputs had them.
pub struct Plan {
    rows: Rows,
    /// The holdout's customers and purchases (`--calibration-end`).
    calibration: Option<Calibration>,
    /// One row per customer, as read or summarised.
    customers: DataFrame,
    /// The analysis day, when known.
    as_of: Option<NaiveDate>,
}

/// Where the transactions are.
enum Rows {
    /// Read here, when the inputs had them.
    Here(Transactions),
    /// Added up by an engine where they live.
    Engine(Box<Pushed>),
}

/// Reads the transactions of `session` for a report as of `summary`'s day
/// with KPIs by `period`: the facts, the KPIs' and the cohorts'
/// aggregates and the previous period's facts computed by the engine
/// ([`super::pushdown`]).
pub fn read_in_engine(
    session: &Session,
    summary: &SummaryConfig,
    period: Period,
    observer: &dyn Observer,
) -> Result<Plan> {
    let mut pushed = super::pushdown::read(session, summary.as_of, period, observer)?;
    observer.step("aggregates in the engine");
    let facts = std::mem::take(&mut pushed.facts);
    let customers = crate::pipeline::derive(facts, summary, observer)?;
    Ok(Plan {
        rows: Rows::Engine(Box::new(pushed)),
        calibration: None,
        customers: customers.table,
        as_of: customers.as_of,
    })
}

/// Reads `inputs` for a report as of `summary`'s day: the transactions
/// are read more than once (the facts, the KPIs and cohorts, the
/// previous period's facts), so a large canonical file, or a raw export
/// spooled to one, is read a batch at a time each time
/// ([`crate::pipeline::transactions`]); with `calibration_end`, the
/// holdout's facts are gathered in the same first pass.
pub fn read(
    inputs: &[Input],
    options: &LoadOptions,
    summary: &SummaryConfig,
    calibration_end: Option<NaiveDate>,
    observer: &dyn Observer,
) -> Result<Plan> {
    let read = crate::pipeline::transactions(
        inputs,
        options,
        crate::segment::is_customer_table,
        observer,
    )?;
    if let Some(end) = calibration_end {
        let source = read.batches().ok_or(NeedsTransactions)?;
        let calibration = crate::pipeline::calibrate(&source, summary, end, observer)?;
        let (customers, as_of) = (calibration.full.table.clone(), calibration.full.as_of);
        return Ok(Plan {
            rows: Rows::Here(read),
            calibration: Some(calibration),
            customers,
            as_of,
        });
    }
    let customers = match &read {
        Transactions::Batched(source, _) => crate::pipeline::summarize(source, summary, observer)?,
        Transactions::Loaded(Loaded::Customers(table)) => Customers {
            table: table.clone(),
            as_of: summary.as_of.or_else(|| table_as_of(table)),
        },
        Transactions::Loaded(Loaded::Facts(facts)) => {
            crate::pipeline::derive(facts.clone(), summary, observer)?
        }
        Transactions::Loaded(Loaded::Transactions(frame, _)) => {
            crate::pipeline::summarize(&Batches::Frame(frame), summary, observer)?
        }
    };
    Ok(Plan {
        rows: Rows::Here(read),
        calibration: None,
        customers: customers.table,
        as_of: customers.as_of,
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
    let mut notes = Vec::new();
    let mut table = plan.customers.clone();
    let margin = config.models.config.margin;
    let without_spend = crate::value::without_spend(&table)?;
    if without_spend {
        notes.push(
            "no revenue in the data (a purchase log without amounts): revenue and profit are \
             0, there is no CLV, and segments rank on recency and frequency"
                .into(),
        );
    }
    // the facts count orders: a cost per line or refund needs the lines
    let lines = match (&plan.rows, config.costs.counts_lines(&table)) {
        (Rows::Here(read), true) => (read.batches())
            .map(|lines| super::economics::LineCounts::read(&lines, plan.as_of))
            .transpose()?,
        _ => None,
    };
    // a profit the input brought (cpm value's) is its own
    let own_profit = table.column("profit").is_ok();
    let added = super::economics::add_costs(&mut table, &config.costs, lines.as_ref())?;
    notes.extend(added.notes);
    let no_goods_cost = margin.is_none() && table.column("margin").is_err() && !own_profit;
    // without any cost, "profit" would be revenue under another name
    let costs_unknown = no_goods_cost && !added.known;
    if costs_unknown && !without_spend {
        let clv = if assembly.no_model {
            ""
        } else {
            "; CLV is in revenue"
        };
        notes.push(format!(
            "costs unknown: no cost column, --margin or cost to serve, so no profit is shown \
             (it would only repeat revenue){clv}"
        ));
    } else if no_goods_cost && !without_spend {
        notes.push(
            "no cost of goods (no cost column, no --margin): profit is revenue less the costs \
             given, and LTV counts all revenue as margin"
                .into(),
        );
    }
    // --model auto: the models compared on the holdout, the best one used
    let compared = match (&plan.calibration, config.models.compare) {
        (Some(calibration), true) if !assembly.no_model => {
            let compared = crate::value::compare::compare(
                &calibration.calibrated,
                &config.models.config,
                &calibration.holdout,
            )?;
            observer.step("models compared");
            Some(compared)
        }
        _ => None,
    };
    let models = ValueConfig {
        model: compared
            .as_ref()
            .map_or(config.models.config.model, |c| c.comparison.chosen),
        ..config.models.config.clone()
    };
    let (model, intervals) = if assembly.no_model {
        notes.push("--no-model: no CLV, P(alive) or model health".to_string());
        (None, None)
    } else {
        match valued(&mut table, plan.as_of, &models, config, &mut notes)? {
            Some((model, intervals)) => (Some(model), intervals),
            None => (None, None),
        }
    };
    if model.is_none() && table.column("profit").is_err() && table.column("revenue").is_ok() {
        let (_, profit) = crate::value::historic::profit(&table, margin)?;
        table.with_column(profit)?;
    }
    observer.step("value");
    let mut table = match crate::segment::fill_in(table.clone()) {
        Ok(segmented) => segmented,
        Err(e) => {
            notes.push(format!(
                "no segments: {e:#} (composition, the R×F grid and the migration need them)"
            ));
            table
        }
    };
    observer.step("segment");
    let holdout = match (&plan.calibration, &model, compared) {
        (Some(_), Some(_), Some(compared)) => Some(compared.report),
        (Some(calibration), Some(_), None) => Some(holdout(calibration, &models, observer)?),
        _ => None,
    };
    let segmented = table.column("segment").is_ok();
    let migrate = assembly.earlier.is_none() && segmented;
    let quality = match &plan.rows {
        Rows::Here(read) => read.quality().cloned(),
        Rows::Engine(_) => None,
    };
    if costs_unknown {
        let _ = table.drop_in_place("profit");
    }
    let attributes = super::breakdown::attributes(&table, &config.by)?;
    let groupings = (attributes.iter())
        .map(|a| a.grouping(&table))
        .collect::<Result<Vec<_>>>()?;
    let history = match plan.rows {
        Rows::Here(read) => here(
            &read, plan.as_of, &assembly, migrate, config, &groupings, observer,
        )?,
        Rows::Engine(pushed) => {
            let pushed = *pushed;
            History {
                period_end: pushed.period_end,
                transactions: Some(pushed.transactions),
                activity: pushed.activity,
                baskets: None,
                previous: match pushed.previous {
                    Some((facts, end)) if migrate => segmented_at(facts, end)?,
                    _ => None,
                },
            }
        }
    };
    let earlier = assembly.earlier.or(history.previous);
    if earlier.is_none() && segmented {
        notes.push(match (history.transactions, history.period_end) {
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
        transactions: history.transactions,
        activity: history.activity.as_ref(),
        as_of: plan.as_of,
        period_end: history.period_end,
        earlier: earlier
            .as_ref()
            .map(|(frame, label)| (frame, label.clone())),
        model: model.as_ref(),
        intervals: intervals.as_ref(),
        holdout: holdout.as_ref(),
        quality: quality.as_ref(),
        notes,
        attributes: &attributes,
        baskets: history.baskets.as_ref(),
    };
    let report = super::build(sources, config)?;
    if let Some(warning) = report.kpis.as_ref().and_then(|k| k.empty_period_warning()) {
        observer.warn(&warning);
    }
    observer.step("report");
    Ok(report)
}

/// Values the customers with `config`'s saved model, else fitted with the
/// settings `models`, adding profit, P(alive) and CLV, when they have no CLV;
/// `None` with a note when the models were not fitted; with the totals'
/// intervals when they were asked for.
fn valued(
    table: &mut DataFrame,
    as_of: Option<NaiveDate>,
    models: &ValueConfig,
    config: &ReportConfig,
    notes: &mut Vec<String>,
) -> Result<Option<(Model, Option<IntervalTotals>)>> {
    let tiers = crate::segment::TierConfig::default();
    let filled = crate::value::fill_in(
        std::mem::take(table),
        models,
        &tiers,
        as_of,
        config.models.model.clone(),
    );
    let (filled, model) = match filled {
        Filled::AsItWas(input) => {
            notes.push("the input has CLV already: the models were not fitted again".to_string());
            (input, None)
        }
        Filled::Valued(valued, model, intervals) => (valued, Some((*model, intervals))),
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
fn holdout(
    calibration: &Calibration,
    config: &ValueConfig,
    observer: &dyn Observer,
) -> Result<HoldoutReport> {
    let mut calibrated = calibration.calibrated.clone();
    let holdout = &calibration.holdout;
    let inputs = crate::value::model_inputs(&calibrated, config.time_unit, config.model)?;
    let model = crate::value::fit_models(&inputs, config, Some(holdout.calibration_end))?;
    let report = crate::value::holdout::holdout_report(&mut calibrated, &inputs, &model, holdout)?;
    observer.step("holdout");
    Ok(report)
}

/// What the report reads from the transactions beyond the customers.
struct History {
    /// The last day of the KPI period (the as-of day, or the last day with
    /// transactions when the as-of day is the default day after it).
    period_end: Option<NaiveDate>,
    /// The transaction lines.
    transactions: Option<u64>,
    /// What the KPIs and the cohorts read.
    activity: Option<Activity>,
    /// The segmented customers at the end of the previous period, named
    /// by that day.
    previous: Option<(DataFrame, String)>,
    /// The items each customer bought, when the lines have a category or
    /// product.
    baskets: Option<crate::crosssell::Baskets>,
}

/// The [`History`] of the transactions read here (none: an empty one); the
/// previous period's customers when `migrate`.
fn here(
    read: &Transactions,
    as_of: Option<NaiveDate>,
    assembly: &Assembly,
    migrate: bool,
    config: &ReportConfig,
    groupings: &[super::activity::Grouping],
    observer: &dyn Observer,
) -> Result<History> {
    let Some(transactions) = read.batches() else {
        return Ok(History {
            period_end: as_of,
            transactions: None,
            activity: None,
            previous: None,
            baskets: None,
        });
    };
    // a default as-of day is the day after the last transaction: the
    // period ends on the last day with data
    let period_end = match as_of {
        Some(day) if !assembly.as_of_given => day.pred_opt(),
        as_of => as_of,
    };
    let Some(end) = period_end else {
        return Ok(History {
            period_end,
            transactions: Some(transactions.rows()? as u64),
            activity: None,
            previous: None,
            baskets: None,
        });
    };
    let activity = Activity::read(&transactions, end, config.period, groupings)?;
    let previous = match migrate {
        true => {
            let end = super::previous_period_end(end, config.period);
            let summary = SummaryConfig {
                as_of: Some(end),
                ..SummaryConfig::default()
            };
            let gathered = crate::facts::gather(&transactions, summary.as_of)?;
            let previous = segmented_at(gathered.table, end)?;
            observer.step("migration");
            previous
        }
        false => None,
    };
    let baskets = crate::crosssell::Baskets::read(&transactions, Some(end))?;
    Ok(History {
        period_end,
        transactions: Some(transactions.rows()? as u64),
        activity: Some(activity),
        previous,
        baskets,
    })
}

/// The segmented customers of `facts`, the facts as of `end`, named by
/// the day (none before it: `None`).
fn segmented_at(facts: DataFrame, end: NaiveDate) -> Result<Option<(DataFrame, String)>> {
    let summary = SummaryConfig {
        as_of: Some(end),
        ..SummaryConfig::default()
    };
    let before = crate::summary::derive(facts, &summary)?.customers;
    if before.height() == 0 {
        return Ok(None);
    }
    Ok(Some((crate::segment::fill_in(before)?, end.to_string())))
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
