//! Transactions → one row per customer: the facts every later step reads.
//! This is the one place recency, frequency, monetary value, tenure and
//! margin are computed.
//!
//! Conventions: a row with negative revenue is a refund; it lowers revenue
//! and margin but is not a purchase, so it does not move first/last order,
//! the order count or the purchase days. `repeat_purchases` counts distinct
//! purchase days − 1 (the BTYD convention: same-day purchases are one).

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::schema::dates::days_since_epoch;
use crate::schema::{COST, CUSTOMER_ID, ORDER_DATE, ORDER_ID, REVENUE};

/// The unit of `first_to_last` and `tenure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Days.
    #[default]
    Day,
    /// Weeks (days / 7), the unit of the BG/NBD papers.
    Week,
}

impl TimeUnit {
    /// Days per unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
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

/// Columns of the customer table computed here, in order.
pub const FACT_COLUMNS: [&str; 11] = [
    CUSTOMER_ID,
    "first_order",
    "last_order",
    "orders",
    "revenue",
    "avg_order_value",
    "days_since_last",
    "repeat_purchases",
    "first_to_last",
    "tenure",
    "margin",
];

/// Summarises canonical transactions into the customer table. Columns that
/// are constant for every customer (attributes joined by ingest, such as
/// region) pass through; per-transaction columns do not.
pub fn summarize(transactions: &DataFrame, config: &SummaryConfig) -> Result<Summary> {
    for required in [CUSTOMER_ID, ORDER_DATE, REVENUE] {
        if transactions.column(required).is_err() {
            let found: Vec<String> = transactions
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect();
            bail!(
                "column '{required}' not found (found: {}); run the input through cpm ingest, \
                 or map it with --map",
                found.join(", ")
            );
        }
    }
    let as_of = match config.as_of {
        Some(day) => day,
        None => {
            latest_day(transactions)?.map_or_else(NaiveDate::default, |d| d + chrono::Days::new(1))
        }
    };
    let as_of_days = days_since_epoch(as_of);
    let date_days = col(ORDER_DATE).cast(DataType::Int32);
    let in_window = date_days.clone().lt_eq(lit(as_of_days));
    let transactions_after_as_of = (transactions.height()
        - transactions
            .clone()
            .lazy()
            .filter(in_window.clone())
            .select([len()])
            .collect()?
            .column("len")?
            .idx()?
            .get(0)
            .unwrap_or(0) as usize) as u64;

    let has_order_id = transactions.column(ORDER_ID).is_ok();
    let has_cost = transactions.column(COST).is_ok();
    let purchase = col(REVENUE).gt_eq(lit(0.0));
    let date_days = date_days.clone();
    let canonical = [CUSTOMER_ID, ORDER_DATE, REVENUE, ORDER_ID, COST];
    let extras: Vec<String> = transactions
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| !canonical.contains(&n.as_str()))
        .collect();

    // Aggregations read plain columns prepared here: a filter inside an
    // aggregation would force polars onto its slow per-group path.
    let mut prepared = vec![
        when(purchase.clone())
            .then(date_days)
            .otherwise(lit(NULL))
            .alias("__purchase_day"),
    ];
    // Orders are counted by 64-bit hashes of their ids: counting distinct
    // integers per customer is much cheaper than counting strings, and two
    // of one customer's order ids colliding is a 1-in-10^12 event even with
    // 10,000 orders.
    let mut window = transactions.clone();
    if has_order_id {
        let hashes = crate::hashing::row_hashes(&window.select([ORDER_ID])?)?;
        window.with_column(Column::new("__order_hash".into(), hashes))?;
        prepared.push(
            when(purchase.clone().and(col(ORDER_ID).is_not_null()))
                .then(col("__order_hash"))
                .otherwise(lit(NULL))
                .alias("__purchase_order"),
        );
    }
    if has_cost {
        prepared.push((col(REVENUE) - col(COST).fill_null(lit(0.0))).alias("__margin"));
    }
    // distinct non-null values: n_unique counts null as one value
    let distinct = |name: &str| {
        (col(name).n_unique().cast(DataType::Int64)
            - col(name).null_count().gt(lit(0)).cast(DataType::Int64))
        .cast(DataType::Int64)
    };
    let mut aggregates = vec![
        col("__purchase_day").min().alias("first"),
        col("__purchase_day").max().alias("last"),
        if has_order_id {
            distinct("__purchase_order")
        } else {
            purchase.clone().sum().cast(DataType::Int64)
        }
        .alias("orders"),
        col(REVENUE).sum().alias("revenue"),
        distinct("__purchase_day").alias("purchase_days"),
    ];
    if has_cost {
        aggregates.push(col("__margin").sum().alias("margin"));
    }
    // An attribute is constant within a customer when the smallest and the
    // largest hash of its values agree: integer comparisons, where comparing
    // or counting the values themselves (strings, often) costs far more.
    for extra in &extras {
        let hashes = crate::hashing::row_hashes(&window.select([extra.as_str()])?)?;
        window.with_column(Column::new(format!("__hash_{extra}").into(), hashes))?;
        let hash = format!("__hash_{extra}");
        aggregates.push(col(extra.as_str()).first().alias(extra.as_str()));
        aggregates.push(
            col(hash.as_str())
                .min()
                .alias(format!("__min_{extra}").as_str()),
        );
        aggregates.push(
            col(hash.as_str())
                .max()
                .alias(format!("__max_{extra}").as_str()),
        );
    }

    let unit = config.time_unit.days();
    let grouped = window
        .lazy()
        .filter(in_window)
        .with_columns(prepared)
        .group_by([col(CUSTOMER_ID)])
        .agg(aggregates)
        .collect()?;
    let buyers = grouped.column("first")?.is_not_null();
    let customers_without_purchases =
        (grouped.height() - buyers.sum().unwrap_or(0) as usize) as u64;

    let mut columns = vec![
        col(CUSTOMER_ID),
        col("first").cast(DataType::Date).alias("first_order"),
        col("last").cast(DataType::Date).alias("last_order"),
        col("orders"),
        col("revenue"),
        (col("revenue") / col("orders").cast(DataType::Float64)).alias("avg_order_value"),
        (lit(as_of_days) - col("last"))
            .cast(DataType::Int64)
            .alias("days_since_last"),
        (col("purchase_days") - lit(1i64)).alias("repeat_purchases"),
        ((col("last") - col("first")).cast(DataType::Float64) / lit(unit)).alias("first_to_last"),
        ((lit(as_of_days) - col("first")).cast(DataType::Float64) / lit(unit)).alias("tenure"),
    ];
    if has_cost {
        columns.push(col("margin"));
    }
    let mut constant = Vec::new();
    for extra in &extras {
        let (lo, hi) = (
            grouped.column(&format!("__min_{extra}"))?,
            grouped.column(&format!("__max_{extra}"))?,
        );
        let differs = lo
            .as_materialized_series()
            .not_equal_missing(hi.as_materialized_series())?;
        if !differs.any() {
            constant.push(extra);
        }
    }
    columns.extend(constant.iter().map(|c| col(c.as_str())));

    let customers = grouped
        .filter(&buyers)?
        .lazy()
        .select(columns)
        .sort([CUSTOMER_ID], SortMultipleOptions::default())
        .collect()?;
    Ok(Summary {
        customers,
        as_of,
        transactions_after_as_of,
        customers_without_purchases,
    })
}

fn latest_day(transactions: &DataFrame) -> Result<Option<NaiveDate>> {
    let latest = transactions
        .clone()
        .lazy()
        .select([col(ORDER_DATE).cast(DataType::Int32).max()])
        .collect()?;
    Ok(latest
        .column(ORDER_DATE)?
        .i32()?
        .get(0)
        .map(|days| NaiveDate::default() + chrono::Duration::days(i64::from(days))))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn default_as_of_is_the_day_after_the_latest_transaction() {
        let s = summarize(&transactions(), &SummaryConfig::default()).unwrap();
        assert_eq!(s.as_of, NaiveDate::from_ymd_opt(2024, 2, 2).unwrap());
        assert_eq!(s.transactions_after_as_of, 0);
        assert_eq!(s.customers.height(), 3);
    }
}
