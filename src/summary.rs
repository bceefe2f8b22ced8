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
use rayon::prelude::*;
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

/// Summarises canonical transactions into the customer table. Columns that
/// are constant for every customer (attributes joined by ingest, such as
/// region) pass through; per-transaction columns do not.
pub fn summarize(transactions: &DataFrame, config: &SummaryConfig) -> Result<Summary> {
    for required in [CUSTOMER_ID, ORDER_DATE, REVENUE] {
        if transactions.column(required).is_err() {
            bail!(
                "column '{required}' not found (found: {}); run the input through cpm ingest, \
                 or map it with --map",
                crate::error::column_list(transactions)
            );
        }
    }
    let days = transactions.column(ORDER_DATE)?.cast(&DataType::Int32)?;
    let days = days.i32()?;
    let as_of = match config.as_of {
        Some(day) => day,
        // the day after the latest transaction (1970-01-02 for no rows)
        None => {
            NaiveDate::default() + chrono::Duration::days(i64::from(days.max().unwrap_or(0)) + 1)
        }
    };
    let as_of_days = days_since_epoch(as_of);
    let in_window = days.lt_eq(as_of_days);
    let window = transactions.filter(&in_window)?;
    let transactions_after_as_of = (transactions.height() - window.height()) as u64;

    let facts = Facts::gather(&window)?;
    let unit = config.time_unit.days();
    let buyers: Vec<usize> = (0..facts.first_row.len())
        .filter(|&c| facts.first_day[c] != i32::MAX)
        .collect();
    let customers_without_purchases = (facts.first_row.len() - buyers.len()) as u64;
    let at = |values: &[i32]| buyers.iter().map(|&c| values[c]).collect::<Vec<i32>>();
    let (first, last) = (at(&facts.first_day), at(&facts.last_day));
    let orders: Vec<i64> = buyers.iter().map(|&c| facts.orders[c]).collect();
    let revenue: Vec<f64> = buyers.iter().map(|&c| facts.revenue[c]).collect();
    let rows = IdxCa::from_vec(
        "rows".into(),
        buyers.iter().map(|&c| facts.first_row[c]).collect(),
    );

    let date = |name: &str, values: &[i32]| -> Result<Column> {
        Ok(Column::new(name.into(), values).cast(&DataType::Date)?)
    };
    let mut columns = vec![
        window.column(CUSTOMER_ID)?.take(&rows)?,
        date("first_order", &first)?,
        date("last_order", &last)?,
        Column::new("orders".into(), &orders),
        Column::new("revenue".into(), &revenue),
        Column::new(
            "avg_order_value".into(),
            revenue
                .iter()
                .zip(&orders)
                .map(|(r, o)| r / *o as f64)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "days_since_last".into(),
            last.iter()
                .map(|d| i64::from(as_of_days - d))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "repeat_purchases".into(),
            buyers
                .iter()
                .map(|&c| facts.purchase_days[c] - 1)
                .collect::<Vec<i64>>(),
        ),
        Column::new(
            "first_to_last".into(),
            first
                .iter()
                .zip(&last)
                .map(|(f, l)| f64::from(l - f) / unit)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "tenure".into(),
            first
                .iter()
                .map(|f| f64::from(as_of_days - f) / unit)
                .collect::<Vec<_>>(),
        ),
    ];
    if let Some(margin) = &facts.margin {
        columns.push(Column::new(
            "margin".into(),
            buyers.iter().map(|&c| margin[c]).collect::<Vec<f64>>(),
        ));
    }
    for extra in facts.constant_extras(&window)? {
        columns.push(window.column(&extra)?.take(&rows)?);
    }
    let customers = DataFrame::new(buyers.len(), columns)?
        .sort([CUSTOMER_ID], SortMultipleOptions::default())?;
    Ok(Summary {
        customers,
        as_of,
        transactions_after_as_of,
        customers_without_purchases,
    })
}

/// Per-customer accumulators, indexed by customer code (see
/// [`customer_codes`]).
///
/// This is the hot path of `segment`: a group-by with a dozen aggregations
/// over millions of rows is slow in polars (distinct counts and filters per
/// group take its generic path), while one pass over the rows with integer
/// customer codes, plus two sorts of integer pairs for the distinct counts,
/// is cheap.
struct Facts {
    codes: Vec<u32>,
    first_row: Vec<IdxSize>,
    first_day: Vec<i32>,
    last_day: Vec<i32>,
    revenue: Vec<f64>,
    margin: Option<Vec<f64>>,
    orders: Vec<i64>,
    purchase_days: Vec<i64>,
}

impl Facts {
    fn gather(window: &DataFrame) -> Result<Facts> {
        let (codes, first_row) = customer_codes(window)?;
        let customers = first_row.len();
        // plain vectors for the pass below: NaN marks a missing amount,
        // i32::MIN a missing day
        let floats = |name: &str| -> Result<Vec<f64>> {
            let values = window.column(name)?.cast(&DataType::Float64)?;
            Ok(values
                .f64()?
                .iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect())
        };
        let days = window.column(ORDER_DATE)?.cast(&DataType::Int32)?;
        let days: Vec<i32> = days.i32()?.iter().map(|d| d.unwrap_or(i32::MIN)).collect();
        let revenue = floats(REVENUE)?;
        let cost = match window.column(COST) {
            Ok(_) => Some(floats(COST)?),
            Err(_) => None,
        };

        let mut facts = Facts {
            first_row,
            first_day: vec![i32::MAX; customers],
            last_day: vec![i32::MIN; customers],
            revenue: Vec::new(),
            margin: None,
            orders: vec![0; customers],
            purchase_days: vec![0; customers],
            codes: Vec::new(),
        };
        // (customer, day) of every purchase; a refund is no purchase
        let mut purchases: Vec<u64> = Vec::new();
        let mut revenue_sum = CompensatedSums::new(customers);
        let mut margin_sum = cost.as_ref().map(|_| CompensatedSums::new(customers));
        for (row, &code) in codes.iter().enumerate() {
            let (c, day, value) = (code as usize, days[row], revenue[row]);
            if value.is_nan() {
                continue;
            }
            revenue_sum.add(c, value);
            if let (Some(margin), Some(cost)) = (margin_sum.as_mut(), &cost) {
                let cost = if cost[row].is_nan() { 0.0 } else { cost[row] };
                margin.add(c, value - cost);
            }
            if day != i32::MIN && value >= 0.0 {
                facts.first_day[c] = facts.first_day[c].min(day);
                facts.last_day[c] = facts.last_day[c].max(day);
                facts.orders[c] += 1;
                purchases.push((u64::from(code) << 32) | u64::from(day as u32 ^ 0x8000_0000));
            }
        }
        facts.revenue = revenue_sum.totals();
        facts.margin = margin_sum.map(CompensatedSums::totals);
        count_distinct_per_code(&mut purchases, &mut facts.purchase_days);
        if let Ok(order_ids) = window.column(ORDER_ID) {
            // orders: distinct 64-bit hashes of the purchases' order ids (two
            // ids of one customer colliding is a 1-in-10^12 event even with
            // 10,000 orders)
            let hashes = crate::hashing::row_hashes(&window.select([ORDER_ID])?)?;
            let present = order_ids.is_not_null();
            let mut pairs: Vec<(u32, u64)> = codes
                .iter()
                .zip(&hashes)
                .zip(revenue.iter().zip(present.iter()))
                .filter(|(_, (value, present))| **value >= 0.0 && *present == Some(true))
                .map(|((&code, &hash), _)| (code, hash))
                .collect();
            pairs.par_sort_unstable();
            pairs.dedup();
            facts.orders.iter_mut().for_each(|o| *o = 0);
            for (code, _) in pairs {
                facts.orders[code as usize] += 1;
            }
        }
        facts.codes = codes;
        Ok(facts)
    }

    /// The extra columns whose value never changes within a customer
    /// (attributes such as region), by comparing 64-bit hashes of the values.
    fn constant_extras(&self, window: &DataFrame) -> Result<Vec<String>> {
        let canonical = [CUSTOMER_ID, ORDER_DATE, REVENUE, ORDER_ID, COST];
        let mut constant = Vec::new();
        for name in window.get_column_names() {
            if canonical.contains(&name.as_str()) {
                continue;
            }
            let hashes = crate::hashing::row_hashes(&window.select([name.clone()])?)?;
            let varies = self
                .codes
                .iter()
                .zip(&hashes)
                .any(|(&code, &hash)| hashes[self.first_row[code as usize] as usize] != hash);
            if !varies {
                constant.push(name.to_string());
            }
        }
        Ok(constant)
    }
}

/// How many hash partitions customer coding uses: enough that each
/// partition's table stays in cache and both cores have work.
const CODING_PARTITIONS: usize = 64;

/// A dense code per customer for every row, and the first row of each
/// customer.
///
/// Rows are split into partitions by the hash of their id, so that equal
/// ids meet in one partition; each partition is coded on its own (in
/// parallel, with a small hash table) and the codes are then offset into
/// one range. Code numbers depend on the partitioning, the facts do not.
fn customer_codes(window: &DataFrame) -> Result<(Vec<u32>, Vec<IdxSize>)> {
    let column = window.column(CUSTOMER_ID)?.cast(&DataType::String)?;
    let ids: Vec<&str> = match column.str()?.iter().collect::<Option<Vec<&str>>>() {
        Some(ids) => ids,
        None => bail!("customer_id has empty values; run the input through cpm ingest"),
    };
    let hashes = crate::hashing::row_hashes(&window.select([CUSTOMER_ID])?)?;
    let partition_of = |hash: u64| (hash >> 58) as usize % CODING_PARTITIONS;
    let mut rows_of: Vec<Vec<IdxSize>> = vec![Vec::new(); CODING_PARTITIONS];
    for (row, &hash) in hashes.iter().enumerate() {
        rows_of[partition_of(hash)].push(row as IdxSize);
    }
    // per partition: each row's local code, and each local code's first row
    let coded: Vec<(Vec<u32>, Vec<IdxSize>)> = rows_of
        .par_iter()
        .map(|rows| {
            let mut index: PlHashMap<&str, u32> = PlHashMap::default();
            let mut firsts = Vec::new();
            let local = rows
                .iter()
                .map(|&row| {
                    let next = firsts.len() as u32;
                    *index.entry(ids[row as usize]).or_insert_with(|| {
                        firsts.push(row);
                        next
                    })
                })
                .collect();
            (local, firsts)
        })
        .collect();
    let mut codes = vec![0u32; ids.len()];
    let mut first_row = Vec::new();
    for (rows, (local, firsts)) in rows_of.iter().zip(coded) {
        let offset = first_row.len() as u32;
        for (&row, code) in rows.iter().zip(local) {
            codes[row as usize] = offset + code;
        }
        first_row.extend(firsts);
    }
    Ok((codes, first_row))
}

/// Per-customer sums with Neumaier compensation, rounded to millionths:
/// money then adds up to what a decimal sum gives (395.6, not
/// 395.59999999999997), and ties in spend stay ties whatever the row order.
struct CompensatedSums {
    sums: Vec<f64>,
    compensation: Vec<f64>,
}

impl CompensatedSums {
    fn new(n: usize) -> Self {
        CompensatedSums {
            sums: vec![0.0; n],
            compensation: vec![0.0; n],
        }
    }

    fn add(&mut self, i: usize, value: f64) {
        let sum = self.sums[i];
        let total = sum + value;
        self.compensation[i] += if sum.abs() >= value.abs() {
            (sum - total) + value
        } else {
            (value - total) + sum
        };
        self.sums[i] = total;
    }

    fn totals(self) -> Vec<f64> {
        self.sums
            .iter()
            .zip(&self.compensation)
            .map(|(s, c)| ((s + c) * 1e6).round() / 1e6)
            .collect()
    }
}

/// Sorts `(code << 32 | value)` keys and counts the distinct values of each
/// code into `counts`.
fn count_distinct_per_code(keys: &mut Vec<u64>, counts: &mut [i64]) {
    keys.par_sort_unstable();
    keys.dedup();
    for key in keys.iter() {
        counts[(key >> 32) as usize] += 1;
    }
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
