//! Per-customer facts ([`crate::facts`]) → the customer table, one row per
//! customer: the one place recency, frequency, monetary value, tenure and
//! margin are derived.
//!
//! Conventions: refunds are no purchases (see [`crate::facts`]).
//! `repeat_purchases` counts distinct
//! purchase days − 1 (the BTYD convention: same-day purchases are one);
//! `mean_repeat_value` is the spend after the first purchase day (refunds,
//! wherever dated, count against it) per repeat purchase day: the BTYD
//! monetary value the Gamma-Gamma model is fitted on.

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::facts::{
    FIRST_DAY_REVENUE, FIRST_PURCHASE, LAST_PURCHASE, MARGIN, ORDERS, PURCHASE_DAYS,
};
use crate::hashing::{KeyMap, KeySet, Numbering};
use crate::io::batches::Batches;
use crate::schema::dates::days_since_epoch;
use crate::schema::{CUSTOMER_ID, ORDER_DATE, REVENUE};

/// The unit of `first_to_last` and `tenure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Days.
    #[default]
    Day,
    /// Weeks (days / 7), the unit of the BG/NBD papers.
    Week,
    /// Months of 365.25 / 12 days (BG/BB's monthly opportunities).
    Month,
    /// Years of 365.25 days (BG/BB's yearly opportunities).
    Year,
}

impl TimeUnit {
    /// The unit's name, as `--time-unit` takes it.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Year => "year",
        }
    }

    /// Days per unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
            TimeUnit::Month => 365.25 / 12.0,
            TimeUnit::Year => 365.25,
        }
    }

    /// Units per year, for discount rates: 365 days, 365 / 7 weeks, 12
    /// months, 1 year.
    pub fn per_year(self) -> f64 {
        match self {
            TimeUnit::Day => 365.0,
            TimeUnit::Week => 365.0 / 7.0,
            TimeUnit::Month => 12.0,
            TimeUnit::Year => 1.0,
        }
    }
}

/// How to summarise.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryConfig {
    /// The analysis day; default: the day after the latest transaction.
    /// Transactions after it are excluded (and counted).
    pub as_of: Option<NaiveDate>,
    /// Unit of `first_to_last` and `tenure`.
    pub time_unit: TimeUnit,
}

/// The customer table and what was left out of it.
pub struct Summary {
    /// One row per customer, sorted by `customer_id`.
    pub customers: DataFrame,
    /// The analysis day used.
    pub as_of: NaiveDate,
    /// Transactions dated after `as_of`, excluded.
    pub transactions_after_as_of: u64,
    /// Customers whose only rows in the window are refunds, excluded.
    pub customers_without_purchases: u64,
}

/// Summarises canonical transactions into the customer table. Columns that
/// are constant for every customer (attributes joined by ingest, such as
/// region) pass through; per-transaction columns do not.
pub fn summarize(transactions: &DataFrame, config: &SummaryConfig) -> Result<Summary> {
    summarize_batches(&Batches::Frame(transactions), config)
}

/// [`summarize`] on transactions read a batch at a time: a Parquet file
/// larger than memory is summarised in memory that grows with its
/// customers, not its rows.
pub fn summarize_batches(source: &Batches, config: &SummaryConfig) -> Result<Summary> {
    let gathered = crate::facts::gather(source, config.as_of)?;
    let mut summary = derive(gathered.table, config)?;
    summary.transactions_after_as_of = gathered.rows_after_as_of;
    Ok(summary)
}

/// The customer table of a facts table ([`crate::facts`]): the customers
/// with a purchase, by id, with recency, frequency, spend, tenure and the
/// constant extras. `config.as_of` must be the facts' own, when both are
/// known (the facts of another day need the transactions).
pub fn derive(facts: DataFrame, config: &SummaryConfig) -> Result<Summary> {
    let as_of = crate::facts::checked_as_of(&facts, config.as_of)?;
    let as_of_days = days_since_epoch(as_of);
    let unit = config.time_unit.days();
    // the customers with a purchase
    let bought = facts.column(FIRST_PURCHASE)?.is_not_null();
    let customers_without_purchases = (facts.height() - bought.sum().unwrap_or(0) as usize) as u64;
    let buyers = if customers_without_purchases > 0 {
        facts.filter(&bought)?
    } else {
        facts
    };
    let ids = buyers.column(CUSTOMER_ID)?;
    let days = |name: &str| -> Result<Vec<i32>> { values::<Int32Type>(&buyers, name) };
    let (first, last) = (days(FIRST_PURCHASE)?, days(LAST_PURCHASE)?);
    let orders = values::<Int64Type>(&buyers, ORDERS)?;
    let revenue = values::<Float64Type>(&buyers, REVENUE)?;
    let first_day_revenue = values::<Float64Type>(&buyers, FIRST_DAY_REVENUE)?;
    let margin = match buyers.column(MARGIN) {
        Ok(_) => Some(values::<Float64Type>(&buyers, MARGIN)?),
        Err(_) => None,
    };
    let sums = [("revenue", &revenue)]
        .into_iter()
        .chain(margin.as_ref().map(|m| ("margin", m)));
    for (name, values) in sums {
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            bail!(
                "the {name} of customer '{}' does not add up to a number (its amounts sum \
                 past ±1.8e308): check them",
                ids.get(at)?.str_value()
            );
        }
    }
    let repeats: Vec<i64> = values::<Int64Type>(&buyers, PURCHASE_DAYS)?
        .into_iter()
        .map(|days| days - 1)
        .collect();
    // spend after the first purchase day (refunds count against it), per
    // repeat purchase day; 0 for one-time buyers, as in lifetimes
    let mean_repeat_value: Vec<f64> = repeats
        .iter()
        .zip(&revenue)
        .zip(first_day_revenue)
        .map(|((&x, total), first_day)| {
            if x > 0 {
                (((total - first_day) / x as f64) * 1e6).round() / 1e6
            } else {
                0.0
            }
        })
        .collect();
    let avg_order_value: Vec<f64> = revenue
        .iter()
        .zip(&orders)
        .map(|(r, o)| r / *o as f64)
        .collect();
    let days_since_last: Vec<i64> = last.iter().map(|d| i64::from(as_of_days - d)).collect();
    let first_to_last: Vec<f64> = first
        .iter()
        .zip(&last)
        .map(|(f, l)| f64::from(l - f) / unit)
        .collect();
    let tenure: Vec<f64> = first
        .iter()
        .map(|f| f64::from(as_of_days - f) / unit)
        .collect();
    let date = |name: &str, days: Vec<i32>| -> Result<Column> {
        Ok(Column::new(name.into(), days).cast(&DataType::Date)?)
    };
    let mut columns = vec![
        ids.clone(),
        date("first_order", first)?,
        date("last_order", last)?,
        Column::new("orders".into(), orders),
        Column::new("revenue".into(), revenue),
        Column::new("avg_order_value".into(), avg_order_value),
        Column::new("days_since_last".into(), days_since_last),
        Column::new("repeat_purchases".into(), repeats),
        Column::new("first_to_last".into(), first_to_last),
        Column::new("tenure".into(), tenure),
        Column::new("mean_repeat_value".into(), mean_repeat_value),
    ];
    if let Some(margin) = margin {
        columns.push(Column::new("margin".into(), margin));
    }
    // the extras pass through
    let facts_columns = [crate::facts::REQUIRED.as_slice(), &[MARGIN]].concat();
    columns.extend(
        buyers
            .columns()
            .iter()
            .filter(|c| !facts_columns.contains(&c.name().as_str()))
            .cloned(),
    );
    let customers = DataFrame::new(buyers.height(), columns)?;
    Ok(Summary {
        customers,
        as_of,
        transactions_after_as_of: 0,
        customers_without_purchases,
    })
}

/// The values of a column without nulls, cast to `T`.
fn values<T: PolarsNumericType>(frame: &DataFrame, name: &str) -> Result<Vec<T::Native>> {
    let column = frame.column(name)?.cast(&T::get_static_dtype())?;
    let values: &ChunkedArray<T> = column.as_materialized_series().as_ref().as_ref();
    if values.null_count() > 0 {
        bail!("the facts table has an empty {name}");
    }
    Ok(values.into_no_null_iter().collect())
}

/// Each customer's distinct purchase days (a refund is no purchase),
/// gathered a batch at a time: what holdout tracking curves add up. What
/// grows is a pair (customer, day) per purchase day, not the rows.
#[derive(Default)]
pub struct PurchaseDays {
    numbering: Numbering,
    days: KeySet<(u32, i32)>,
}

impl PurchaseDays {
    /// Adds the purchases of canonical transactions.
    pub fn add(&mut self, rows: &DataFrame) -> Result<()> {
        let keys = crate::hashing::par_text_keys(rows.column(CUSTOMER_ID)?)?;
        let codes = self.numbering.number(&keys);
        let days = rows.column(ORDER_DATE)?.cast(&DataType::Int32)?;
        let revenue = rows.column(REVENUE)?.cast(&DataType::Float64)?;
        let purchases = codes
            .iter()
            .zip(days.i32()?.iter())
            .zip(revenue.f64()?.iter());
        for ((&code, day), revenue) in purchases {
            if let (Some(day), Some(revenue)) = (day, revenue)
                && revenue >= 0.0
            {
                self.days.insert((code, day));
            }
        }
        Ok(())
    }

    /// The day (since 1970-01-01), in order, of every repeat purchase up
    /// to `as_of` of the customers whose first purchase is on or before
    /// `born_by`: each customer's purchase days after the first, as
    /// `repeat_purchases` counts them.
    pub fn repeat_days(&self, as_of: NaiveDate, born_by: NaiveDate) -> Vec<i32> {
        let (as_of, born_by) = (days_since_epoch(as_of), days_since_epoch(born_by));
        let mut first: KeyMap<u32, i32> = KeyMap::default();
        for &(code, day) in self.days.iter().filter(|(_, day)| *day <= as_of) {
            let earliest = first.entry(code).or_insert(day);
            *earliest = (*earliest).min(day);
        }
        let mut days: Vec<i32> = self
            .days
            .iter()
            .filter(|&&(code, day)| {
                first
                    .get(&code)
                    .is_some_and(|&first| day <= as_of && day > first && first <= born_by)
            })
            .map(|&(_, day)| day)
            .collect();
        days.sort_unstable();
        days
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ORDER_ID;

    fn transactions() -> DataFrame {
        let day = |y, m, d| days_since_epoch(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        let dates = Series::new(
            ORDER_DATE.into(),
            [
                day(2024, 1, 1),
                day(2024, 1, 1),
                day(2024, 1, 11),
                day(2024, 1, 15),
                day(2024, 1, 5),
                day(2024, 2, 1),
            ],
        )
        .cast(&DataType::Date)
        .unwrap();
        DataFrame::new(
            6,
            vec![
                Column::new(CUSTOMER_ID.into(), ["a", "a", "a", "a", "b", "c"]),
                dates.into_column(),
                Column::new(REVENUE.into(), [10.0, 5.0, 20.0, -5.0, 7.0, 9.0]),
                Column::new(ORDER_ID.into(), ["1", "1", "2", "C3", "4", "5"]),
                Column::new("region".into(), ["n", "n", "n", "n", "s", "s"]),
                Column::new(
                    "channel".into(),
                    ["web", "shop", "web", "web", "web", "web"],
                ),
            ],
        )
        .unwrap()
    }

    #[test]
    fn facts_by_hand() {
        let config = SummaryConfig {
            as_of: Some(NaiveDate::from_ymd_opt(2024, 1, 21).unwrap()),
            time_unit: TimeUnit::Week,
        };
        let s = summarize(&transactions(), &config).unwrap();
        assert_eq!(s.transactions_after_as_of, 1, "c's purchase is after as-of");
        let a = s.customers.slice(0, 1);
        let get = |name: &str| a.column(name).unwrap().get(0).unwrap().to_string();
        assert_eq!(
            get("orders"),
            "2",
            "order 1 has two lines; the refund is no order"
        );
        assert_eq!(get("revenue"), "30.0");
        assert_eq!(get("avg_order_value"), "15.0");
        assert_eq!(get("repeat_purchases"), "1", "two purchase days");
        assert_eq!(
            get("mean_repeat_value"),
            "15.0",
            "20 on the second day, less the 5 refunded"
        );
        assert_eq!(
            get("days_since_last"),
            "10",
            "the refund on the 15th is no purchase"
        );
        let float = |name: &str| a.column(name).unwrap().f64().unwrap().get(0).unwrap();
        assert!((float("first_to_last") - 10.0 / 7.0).abs() < 1e-12);
        assert!((float("tenure") - 20.0 / 7.0).abs() < 1e-12);
        assert_eq!(get("region"), "\"n\"");
        assert!(
            s.customers.column("channel").is_err(),
            "varies within a customer"
        );
        assert_eq!(s.customers.height(), 2);
    }

    #[test]
    fn empty_values_and_non_numbers_name_their_row() {
        let mut frame = transactions();
        let mut ids: Vec<Option<&str>> = vec![Some("a"); 6];
        ids[3] = None;
        frame
            .with_column(Column::new(CUSTOMER_ID.into(), ids))
            .unwrap();
        let err = summarize(&frame, &SummaryConfig::default()).err().unwrap();
        assert_eq!(
            err.to_string(),
            "customer_id is empty in row 4; run the input through cpm ingest, which rejects such rows"
        );
        let mut frame = transactions();
        frame
            .with_column(Column::new(
                REVENUE.into(),
                [1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0],
            ))
            .unwrap();
        let err = summarize(&frame, &SummaryConfig::default()).err().unwrap();
        assert_eq!(err.to_string(), "revenue is not a number in row 5: NaN");
    }

    #[test]
    fn repeat_purchase_days_skip_first_days_refunds_and_late_births() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let mut purchases = PurchaseDays::default();
        let all = transactions();
        // in batches of two rows: a customer's days meet across batches
        for start in (0..all.height()).step_by(2) {
            purchases.add(&all.slice(start as i64, 2)).unwrap();
        }
        let days = purchases.repeat_days(day(2024, 2, 1), day(2024, 1, 31));
        // a: 1 Jan (first, twice), 11 Jan, the refund on the 15th; b: once;
        // c: first buys on 1 Feb, after born_by
        assert_eq!(days, [days_since_epoch(day(2024, 1, 11))]);
    }

    #[test]
    fn default_as_of_is_the_day_after_the_latest_transaction() {
        let s = summarize(&transactions(), &SummaryConfig::default()).unwrap();
        assert_eq!(s.as_of, NaiveDate::from_ymd_opt(2024, 2, 2).unwrap());
        assert_eq!(s.transactions_after_as_of, 0);
        assert_eq!(s.customers.height(), 3);
    }
}
