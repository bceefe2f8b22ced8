//! The report's reads of the transactions done by an engine where they
//! live ([`crate::engine::Session`]). Beside the facts, the period KPIs and
//! the cohorts need more than one row per customer, so their aggregates
//! are computed there — per customer with a purchase in one of the
//! periods, the first and second purchase days and the periods bought in;
//! the periods' totals; each acquisition cohort's customers, and its
//! active customers and revenue by month — with the facts at the end of
//! the previous period, for the migration. The days come from cpm as
//! literal dates (the periods' bounds, the last day): the SQL only
//! selects, counts and adds, and [`Activity`] is what a local read of the
//! same rows gives.

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use super::activity::{
    Activity, CohortTotals, PERIODS, PeriodTotals, days, month_of, period_bounds,
};
use super::period::Period;
use crate::engine::Session;
use crate::facts::sql::{ORDER_KEY, render, rounded_sum, typed_rows};
use crate::pipeline::Observer;

/// What the engine computed for the report.
pub struct Pushed {
    /// The facts as of the analysis day.
    pub facts: DataFrame,
    /// The last day of the KPI period (`None`: no rows at all).
    pub period_end: Option<NaiveDate>,
    /// The transaction lines, as ingest would keep them.
    pub transactions: u64,
    /// What the KPIs and cohorts read.
    pub activity: Option<Activity>,
    /// The facts at the end of the previous period.
    pub previous: Option<(DataFrame, NaiveDate)>,
}

/// The facts as of `as_of` (`None`: the day after the latest row, and the
/// KPI period ends on the latest day) and the aggregates of the KPI
/// periods of length `period`, the cohorts and the previous period's
/// facts: one run of the engine when the day is given, two otherwise (the
/// periods' bounds need the day).
pub fn read(
    session: &Session,
    as_of: Option<NaiveDate>,
    period: Period,
    observer: &dyn Observer,
) -> Result<Pushed> {
    let [facts, counts] = session.facts_and_counts(as_of)?;
    let (facts, [previous, customers, totals, cohorts], period_end) = match as_of {
        Some(day) => {
            let [previous, customers, totals, cohorts] = selects(session, day, period)?;
            let [facts, counts, previous, customers, totals, cohorts] =
                session.run([facts, counts, previous, customers, totals, cohorts])?;
            session.told(&counts, observer)?;
            let facts = session.facts_of(facts)?;
            (facts, [previous, customers, totals, cohorts], day)
        }
        None => {
            let [facts, counts] = session.run([facts, counts])?;
            session.told(&counts, observer)?;
            let facts = session.facts_of(facts)?;
            let Some(end) = facts_as_of(&facts)?.and_then(|d| d.pred_opt()) else {
                return Ok(Pushed {
                    facts,
                    period_end: None,
                    transactions: 0,
                    activity: None,
                    previous: None,
                });
            };
            (facts, session.run(selects(session, end, period)?)?, end)
        }
    };
    let bounds = period_bounds(period_end, period);
    let previous_end = bounds[PERIODS - 2].1;
    let transactions = count(&totals, "rows")?;
    let activity = activity(&customers, &totals, &cohorts, &bounds, session.has_cost())?;
    Ok(Pushed {
        facts,
        period_end: Some(period_end),
        transactions,
        activity: Some(activity),
        previous: Some((session.facts_of(previous)?, previous_end)),
    })
}

/// The as-of day of a facts table (`None`: no rows).
fn facts_as_of(facts: &DataFrame) -> Result<Option<NaiveDate>> {
    let days = facts.column(crate::facts::AS_OF)?.cast(&DataType::Int32)?;
    Ok(days
        .i32()?
        .get(0)
        .map(|d| NaiveDate::default() + chrono::Duration::days(i64::from(d))))
}

/// The four queries of the report's aggregates for the KPI period ending
/// on `end`: the previous period's facts, the customers active in the
/// periods, the periods' totals, the cohorts.
fn selects(session: &Session, end: NaiveDate, period: Period) -> Result<[String; 4]> {
    let dialect = session.dialect();
    let bounds = period_bounds(end, period);
    let previous = session.query(Some(bounds[PERIODS - 2].1));
    // the extras carried: exact duplicates are judged on every column
    let rows = typed_rows(&session.query(None), dialect)?;
    let within =
        |(from, to): (NaiveDate, NaiveDate)| format!("day BETWEEN DATE '{from}' AND DATE '{to}'");
    let all = within((bounds[0].0, end));
    let active: String = (bounds.iter().enumerate())
        .map(|(k, &period)| {
            format!(
                ",\n  max(CASE WHEN revenue >= 0 AND {} THEN 1 ELSE 0 END) AS active_{k}",
                within(period)
            )
        })
        .collect();
    let customers = format!(
        "{rows},
firsts AS (
  SELECT rows.*,
    min(CASE WHEN revenue >= 0 THEN day END) OVER (PARTITION BY customer_id) AS first_day
  FROM rows
)
SELECT customer_id, min(first_day) AS first_day,
  min(CASE WHEN revenue >= 0 AND day > first_day THEN day END) AS second_day{active}
FROM firsts
GROUP BY customer_id
HAVING max(CASE WHEN revenue >= 0 AND {all} THEN 1 ELSE 0 END) = 1"
    );
    let sums: String = (bounds.iter().enumerate())
        .map(|(k, &period)| {
            let within = within(period);
            format!(
                ",\n  {} AS revenue_{k},\n  {} AS margin_{k},\n  count(DISTINCT CASE WHEN \
                 revenue >= 0 AND {within} THEN {ORDER_KEY} END) AS orders_{k}",
                rounded_sum(&format!("CASE WHEN {within} THEN revenue ELSE 0 END")),
                rounded_sum(&format!(
                    "CASE WHEN {within} THEN revenue - cost ELSE 0 END"
                )),
            )
        })
        .collect();
    let totals = format!("{rows}\nSELECT count(*) AS rows{sums}\nFROM rows");
    let month = |day: &str| {
        format!("CAST(EXTRACT(YEAR FROM {day}) * 12 + EXTRACT(MONTH FROM {day}) - 1 AS BIGINT)")
    };
    let cohorts = format!(
        "{rows},
cohort AS (
  SELECT customer_id, {first_month} AS cohort
  FROM rows WHERE revenue >= 0
  GROUP BY customer_id
  HAVING min(day) <= DATE '{end}'
),
months AS (
  SELECT cohort.cohort, rows.customer_id, rows.revenue, {month} - cohort.cohort AS month_index
  FROM rows JOIN cohort ON rows.customer_id = cohort.customer_id
  WHERE rows.day <= DATE '{end}'
)
SELECT cohort, month_index,
  count(DISTINCT CASE WHEN revenue >= 0 THEN customer_id END) AS active,
  {revenue} AS revenue
FROM months WHERE month_index >= 0
GROUP BY cohort, month_index
UNION ALL
SELECT cohort, CAST(-1 AS BIGINT) AS month_index, count(*) AS active, CAST(0 AS {double}) AS revenue
FROM cohort GROUP BY cohort",
        first_month = month("min(day)"),
        month = month("rows.day"),
        revenue = rounded_sum("revenue"),
        double = dialect.double(),
    );
    Ok([render(&previous, dialect)?.1, customers, totals, cohorts])
}

/// The integers of `frame`'s column `name` (nulls as 0).
fn integers(frame: &DataFrame, name: &str) -> Result<Vec<i64>> {
    let values = frame.column(name)?.cast(&DataType::Int64)?;
    Ok(values.i64()?.iter().map(|v| v.unwrap_or(0)).collect())
}

/// The numbers of `frame`'s column `name` (nulls as 0: an empty sum).
fn numbers(frame: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let values = frame.column(name)?.cast(&DataType::Float64)?;
    Ok(values.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect())
}

/// The first value of the one-row `frame`'s column `name`.
fn count(frame: &DataFrame, name: &str) -> Result<u64> {
    Ok(integers(frame, name)?.first().copied().unwrap_or(0) as u64)
}

/// The [`Activity`] of the engine's aggregates: `customers` (one row per
/// customer active in a period), the one-row `totals`, and `cohorts`
/// (month index -1: the cohort's customers).
fn activity(
    customers: &DataFrame,
    totals: &DataFrame,
    cohorts: &DataFrame,
    bounds: &[(NaiveDate, NaiveDate); PERIODS],
    with_cost: bool,
) -> Result<Activity> {
    let day = |name: &str| -> Result<Vec<i32>> {
        let values = customers.column(name)?.cast(&DataType::Date)?;
        let values = values.cast(&DataType::Int32)?;
        Ok(values
            .i32()?
            .iter()
            .map(|d| d.unwrap_or(i32::MAX))
            .collect())
    };
    let purchase_days: Vec<(i32, i32)> = day("first_day")?
        .into_iter()
        .zip(day("second_day")?)
        .collect();
    let mut periods: [PeriodTotals; PERIODS] = Default::default();
    for (k, (totals_k, &(start, end))) in periods.iter_mut().zip(bounds).enumerate() {
        let active: Vec<bool> = integers(customers, &format!("active_{k}"))?
            .into_iter()
            .map(|a| a == 1)
            .collect();
        *totals_k = PeriodTotals {
            start,
            end,
            active,
            revenue: numbers(totals, &format!("revenue_{k}"))?[0],
            margin: numbers(totals, &format!("margin_{k}"))?[0],
            orders: count(totals, &format!("orders_{k}"))? as usize,
        };
    }
    let end_month = month_of(days(bounds[PERIODS - 1].1));
    let (months, offsets) = (
        integers(cohorts, "cohort")?,
        integers(cohorts, "month_index")?,
    );
    let (active, revenue) = (integers(cohorts, "active")?, numbers(cohorts, "revenue")?);
    let mut found: Vec<CohortTotals> = Vec::new();
    let mut order: Vec<usize> = (0..months.len()).collect();
    order.sort_by_key(|&i| (months[i], offsets[i]));
    for i in order {
        let month = months[i] as i32;
        let cohort = match found.last_mut() {
            Some(cohort) if cohort.month == month => cohort,
            _ => {
                let width = (end_month - month + 1).max(0) as usize;
                found.push(CohortTotals {
                    month,
                    customers: 0,
                    active: vec![0; width],
                    revenue: vec![0.0; width],
                });
                let last = found.len() - 1;
                &mut found[last]
            }
        };
        match usize::try_from(offsets[i]) {
            Ok(offset) if offset < cohort.active.len() => {
                cohort.active[offset] = active[i] as u64;
                cohort.revenue[offset] = revenue[i];
            }
            Ok(_) => {}
            Err(_) => cohort.customers = active[i] as u64,
        }
    }
    Ok(Activity {
        purchase_days,
        periods,
        with_cost,
        cohorts: found,
        grouped: Vec::new(),
    })
}
