//! What the kept transactions hold, for the quality report: refunds,
//! dates, revenue, distinct customers and orders, added up a batch at a
//! time.

use anyhow::{Result, bail};
use polars::prelude::*;

use super::KeptFacts;
use crate::hashing::SeenRows;
use crate::schema::{CUSTOMER_ID, ORDER_DATE, ORDER_ID, REVENUE};

/// [`KeptFacts`] of batches of kept rows, added as they come: sums,
/// counts and the first and last day; customers and orders told apart by
/// 128-bit keys of their ids ([`crate::hashing::text_keys`]), kept in sets
/// filled on all cores.
#[derive(Default)]
pub struct KeptTally {
    rows: u64,
    refunds: u64,
    refund_value: f64,
    revenue: f64,
    first_day: Option<i32>,
    last_day: Option<i32>,
    /// The customers seen, and how many.
    customers: (SeenRows, u64),
    /// The orders seen, and how many (when rows have an order id).
    orders: (SeenRows, u64),
    /// Whether every batch had an order id column.
    all_have_orders: bool,
    /// Per customer, the sum of its amounts past ±1e280: the only ones
    /// that can take a sum past ±1.8e308 (fewer than 2^64 rows of smaller
    /// ones cannot), kept to name the customer whose revenue does.
    huge: std::collections::BTreeMap<String, f64>,
}

/// Amounts past this (in size) are summed per customer, see
/// [`KeptTally`]'s `huge`.
const HUGE: f64 = 1e280;

impl KeptTally {
    /// Adds a batch of kept rows (canonical columns).
    pub fn add(&mut self, frame: &DataFrame) -> Result<()> {
        let first = self.rows == 0;
        self.rows += frame.height() as u64;
        let has_order_id = frame.column(ORDER_ID).is_ok();
        self.all_have_orders = has_order_id && (first || self.all_have_orders);
        let refund = if has_order_id {
            col(REVENUE).lt(lit(0.0)).or(col(ORDER_ID)
                .str()
                .starts_with(lit("C"))
                .fill_null(lit(false)))
        } else {
            col(REVENUE).lt(lit(0.0))
        };
        let out = frame
            .clone()
            .lazy()
            .select([
                refund.clone().sum().cast(DataType::UInt64).alias("refunds"),
                col(REVENUE).filter(refund).sum().alias("refund_value"),
                col(ORDER_DATE).min().cast(DataType::Int32).alias("first"),
                col(ORDER_DATE).max().cast(DataType::Int32).alias("last"),
                col(REVENUE).sum().alias("revenue"),
            ])
            .collect()?;
        let f = |name: &str| -> Result<f64> { Ok(out.column(name)?.f64()?.get(0).unwrap_or(0.0)) };
        let day = |name: &str| -> Result<Option<i32>> { Ok(out.column(name)?.i32()?.get(0)) };
        self.add_huge(frame)?;
        self.refunds += out.column("refunds")?.u64()?.get(0).unwrap_or(0);
        self.refund_value += f("refund_value")?;
        self.revenue += f("revenue")?;
        if !self.revenue.is_finite() || !self.refund_value.is_finite() {
            bail!(self.past_range());
        }
        if let Some(d) = day("first")? {
            self.first_day = Some(self.first_day.map_or(d, |f| f.min(d)));
        }
        if let Some(d) = day("last")? {
            self.last_day = Some(self.last_day.map_or(d, |l| l.max(d)));
        }
        count_new(&mut self.customers, frame.column(CUSTOMER_ID)?)?;
        if let Ok(orders) = frame.column(ORDER_ID) {
            count_new(&mut self.orders, orders)?;
        }
        Ok(())
    }

    /// Adds the amounts past [`HUGE`] of `frame` to their customers'.
    fn add_huge(&mut self, frame: &DataFrame) -> Result<()> {
        let huge = frame
            .clone()
            .lazy()
            .filter(col(REVENUE).abs().gt(lit(HUGE)))
            .select([col(CUSTOMER_ID), col(REVENUE)])
            .collect()?;
        let ids = huge.column(CUSTOMER_ID)?.str()?;
        let amounts = huge.column(REVENUE)?.f64()?;
        for (id, amount) in ids.iter().zip(amounts.iter()) {
            if let (Some(id), Some(amount)) = (id, amount) {
                *self.huge.entry(id.to_string()).or_insert(0.0) += amount;
            }
        }
        Ok(())
    }

    /// Why the kept revenue does not add up to a number: the first
    /// customer (by id) whose amounts sum past ±1.8e308, or all of them
    /// together.
    fn past_range(&self) -> String {
        match self.huge.iter().find(|(_, sum)| !sum.is_finite()) {
            Some((id, _)) => format!(
                "the revenue of customer '{}' does not add up to a number (its amounts sum \
                 past ±1.8e308): check them",
                crate::io::human::printable(id)
            ),
            None => "the revenue of the kept rows does not add up to a number (the amounts \
                     sum past ±1.8e308): check them"
                .to_string(),
        }
    }

    /// The facts of every batch added.
    pub fn finish(self) -> KeptFacts {
        let day = |d: Option<i32>| {
            d.map(|d| {
                (chrono::NaiveDate::default() + chrono::Duration::days(i64::from(d))).to_string()
            })
        };
        KeptFacts {
            refunds: self.refunds,
            refund_value: round_cents(self.refund_value),
            customers: self.customers.1,
            orders: match self.all_have_orders {
                true => self.orders.1,
                false => self.rows,
            },
            first_date: day(self.first_day),
            last_date: day(self.last_day),
            revenue_total: round_cents(self.revenue),
        }
    }
}

/// Adds to `seen` the values of `column` (as [`crate::hashing::text_keys`],
/// null one value of its own) and to its count those it had not seen.
fn count_new(seen: &mut (SeenRows, u64), column: &Column) -> Result<()> {
    let keys = crate::hashing::par_text_keys(column)?;
    let repeats = seen.0.repeats(&keys);
    seen.1 += repeats.iter().filter(|&&r| !r).count() as u64;
    Ok(())
}

/// Rounds money to cents, so sums print without float noise.
fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
