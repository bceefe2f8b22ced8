//! What the period KPIs and the cohorts need from the transactions,
//! gathered in two passes over their batches, so that memory grows with
//! the customers, not the rows: the first pass numbers the customers and
//! finds each one's first and second purchase day; the second adds up the
//! periods and the cohorts.

use anyhow::{Result, bail};
use chrono::{Datelike, Days, NaiveDate};
use polars::prelude::*;

use super::period::Period;
use crate::hashing::{KeyMap, KeySet, Numbering};
use crate::io::batches::Batches;
use crate::schema::{COST, CUSTOMER_ID, ORDER_DATE, ORDER_ID, REVENUE};

/// Rows read at a time.
const BATCH: usize = 1 << 21;

/// The three periods back to back, oldest first, that end on the period
/// end: the one before the previous gives the previous its churn.
pub(super) const PERIODS: usize = 3;

/// The figures of one period.
#[derive(Debug, Clone, Default)]
pub(super) struct PeriodTotals {
    pub(super) start: NaiveDate,
    pub(super) end: NaiveDate,
    /// Whether each customer bought in it.
    pub(super) active: Vec<bool>,
    pub(super) revenue: f64,
    /// Revenue less cost (with a cost column).
    pub(super) margin: f64,
    /// Distinct orders with a purchase.
    pub(super) orders: usize,
}

/// One cohort's customers and, for each month from its own, the customers
/// active and the revenue.
#[derive(Debug, Clone)]
pub(super) struct CohortTotals {
    pub(super) month: i32,
    pub(super) customers: u64,
    pub(super) active: Vec<u64>,
    pub(super) revenue: Vec<f64>,
}

/// Customers in groups, the values of an attribute (`report --by`): each
/// customer's key ([`crate::hashing::text_keys`] of its id) and group. A
/// customer of the transactions the map lacks is in none of the groups.
#[derive(Debug, Clone, Default)]
pub struct Grouping {
    /// A customer's key → its group, 0..`groups`.
    pub of_key: KeyMap<u128, u32>,
    /// The number of groups.
    pub groups: usize,
}

/// One group's sums in a period.
#[derive(Debug, Clone, Default)]
pub(super) struct GroupSums {
    pub(super) revenue: f64,
    /// Revenue less cost (with a cost column).
    pub(super) margin: f64,
    /// Distinct orders with a purchase (an order counts in the group of
    /// the customer it is first seen with).
    pub(super) orders: usize,
}

/// The periods' sums by the groups of one [`Grouping`].
#[derive(Debug, Clone)]
pub(super) struct Grouped {
    /// Each customer's group (`u32::MAX`: none), by the customers' dense
    /// numbers.
    pub(super) group_of: Vec<u32>,
    /// Per period, oldest first: per group.
    pub(super) sums: [Vec<GroupSums>; PERIODS],
}

/// What the KPIs and cohorts read.
pub struct Activity {
    /// Per customer: the first and second day with a purchase
    /// (`i32::MAX` when there is none).
    pub(super) purchase_days: Vec<(i32, i32)>,
    /// Oldest first; the last ends on the period end.
    pub(super) periods: [PeriodTotals; PERIODS],
    /// Whether the transactions have a cost column.
    pub(super) with_cost: bool,
    /// Acquisition-month cohorts up to the period end, oldest first.
    pub(super) cohorts: Vec<CohortTotals>,
    /// The periods by the groups asked for, in their order.
    pub(super) grouped: Vec<Grouped>,
}

/// Days since 1970-01-01, as the Date columns hold them.
pub(super) fn days(day: NaiveDate) -> i32 {
    (day - NaiveDate::default()).num_days() as i32
}

/// Months since year 0 of a day since 1970-01-01 (`i32::MIN`, a day no
/// date has, for days out of the calendar's range).
pub(super) fn month_of(day: i32) -> i32 {
    NaiveDate::default()
        .checked_add_signed(chrono::Duration::days(i64::from(day)))
        .map_or(i32::MIN, |date| date.year() * 12 + date.month0() as i32)
}

/// [`month_of`] looked up for the days from `first` to `last` (a table of
/// a few thousand days instead of a calendar computation per row).
struct Months {
    first: i32,
    months: Vec<i32>,
}

impl Months {
    fn new(first: i32, last: i32) -> Self {
        Months {
            first,
            months: (first..=last).map(month_of).collect(),
        }
    }

    fn of(&self, day: i32) -> i32 {
        let place = i64::from(day) - i64::from(self.first);
        usize::try_from(place)
            .ok()
            .and_then(|i| self.months.get(i))
            .copied()
            .unwrap_or_else(|| month_of(day))
    }
}

/// The [`PERIODS`] periods of length `period` back to back, oldest first,
/// the last ending on `end`.
pub(super) fn period_bounds(end: NaiveDate, period: Period) -> [(NaiveDate, NaiveDate); PERIODS] {
    let mut bounds = [(end, end); PERIODS];
    let mut period_end = end;
    for place in bounds.iter_mut().rev() {
        let start = period.start(period_end);
        *place = (start, period_end);
        period_end = start - Days::new(1);
    }
    bounds
}

/// One batch of the columns read, as plain vectors.
struct Batch {
    /// The customers' keys (first pass only).
    keys: Vec<u128>,
    day: Vec<i32>,
    revenue: Vec<f64>,
    cost: Option<Vec<f64>>,
    order: Option<Vec<u64>>,
}

impl Batch {
    /// The columns a pass reads: the first the customers, days and
    /// revenue; the second (`with_orders`) the days, revenue, orders and
    /// cost, its customers known from the first.
    fn columns(source: &Batches, with_orders: bool) -> Vec<&'static str> {
        let mut columns = vec![ORDER_DATE, REVENUE];
        if with_orders {
            columns.extend([ORDER_ID, COST].into_iter().filter(|c| source.has(c)));
        } else {
            columns.push(CUSTOMER_ID);
        }
        columns
    }

    /// The batch of `rows`, the rows from `start` of the input, as a pass
    /// reads it ([`Batch::columns`]).
    fn read(rows: DataFrame, start: usize, with_orders: bool) -> Result<Batch> {
        let numbers = |name: &str| -> Result<Vec<f64>> {
            let values = rows.column(name)?.cast(&DataType::Float64)?;
            Ok(values.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect())
        };
        let day = rows
            .column(ORDER_DATE)?
            .cast(&DataType::Int32)?
            .i32()?
            .iter()
            .map(|d| d.unwrap_or(i32::MIN))
            .collect();
        let keys = match rows.column(CUSTOMER_ID) {
            Ok(ids) => crate::hashing::par_text_keys(ids)?,
            Err(_) => Vec::new(),
        };
        // lines without an order id are an order each (as in the facts):
        // keys of their own, the row number with the top bit set
        let own_key = |row: usize| (start + row) as u64 | 1 << 63;
        let order = match rows.column(ORDER_ID) {
            Ok(ids) if with_orders => {
                let hashed = crate::hashing::par_text_keys(ids)?;
                let missing = ids.is_null();
                Some(
                    hashed
                        .into_iter()
                        .zip(missing.iter())
                        .enumerate()
                        .map(|(row, (key, missing))| {
                            if missing == Some(true) {
                                own_key(row)
                            } else {
                                key as u64
                            }
                        })
                        .collect(),
                )
            }
            _ if with_orders => Some((0..rows.height()).map(own_key).collect()),
            _ => None,
        };
        let cost = match rows.column(COST) {
            Ok(_) if with_orders => Some(numbers(COST)?),
            _ => None,
        };
        Ok(Batch {
            keys,
            day,
            revenue: numbers(REVENUE)?,
            cost,
            order,
        })
    }
}

impl Activity {
    /// Reads `source` for the periods of length `period` ending on `end`
    /// and the cohorts up to `end`, the periods also by each of
    /// `groupings`.
    pub fn read(
        source: &Batches,
        end: NaiveDate,
        period: Period,
        groupings: &[Grouping],
    ) -> Result<Activity> {
        for name in [CUSTOMER_ID, ORDER_DATE, REVENUE] {
            if !source.has(name) {
                bail!("the KPIs need transactions with a '{name}' column");
            }
        }
        // pass 1: number the customers; first and second purchase days
        let mut numbering = Numbering::default();
        let mut firsts: Vec<Vec<(i32, i32)>> = vec![Vec::new(); numbering.partitions()];
        // per grouping, per partition: each customer's group
        let mut groups: Vec<Vec<Vec<u32>>> =
            vec![vec![Vec::new(); numbering.partitions()]; groupings.len()];
        // each row's customer, kept for the second pass (4 bytes a row)
        let mut all_codes: Vec<u32> = Vec::with_capacity(source.rows_hint());
        let columns = Batch::columns(source, false);
        source.each(BATCH, &columns, &mut |start, rows| {
            let batch = Batch::read(rows, start, false)?;
            let codes = numbering.number(&batch.keys);
            all_codes.extend_from_slice(&codes);
            for (p, days) in firsts.iter_mut().enumerate() {
                days.resize(numbering.partition_len(p), (i32::MAX, i32::MAX));
            }
            for (grouping, groups) in groupings.iter().zip(&mut groups) {
                for (p, of) in groups.iter_mut().enumerate() {
                    of.resize(numbering.partition_len(p), u32::MAX);
                }
                for (&code, key) in codes.iter().zip(&batch.keys) {
                    let (p, local) = Numbering::split(code);
                    let slot = &mut groups[p][local];
                    if *slot == u32::MAX {
                        *slot = grouping.of_key.get(key).copied().unwrap_or(u32::MAX - 1);
                    }
                }
            }
            for (i, &code) in codes.iter().enumerate() {
                if batch.revenue[i] < 0.0 {
                    continue;
                }
                let (p, local) = Numbering::split(code);
                let days = &mut firsts[p][local];
                let d = batch.day[i];
                if d < days.0 {
                    *days = (d, days.0);
                } else if d > days.0 && d < days.1 {
                    days.1 = d;
                }
            }
            Ok(())
        })?;
        let dense = numbering.dense();
        let purchase_days: Vec<(i32, i32)> = firsts.concat();
        let customers = dense.count;

        let bounds = period_bounds(end, period);
        let mut periods: [PeriodTotals; PERIODS] = Default::default();
        for (totals, &(start, end)) in periods.iter_mut().zip(&bounds) {
            totals.start = start;
            totals.end = end;
            totals.active = vec![false; customers];
        }
        let ranges: Vec<(i32, i32)> = bounds.iter().map(|&(s, e)| (days(s), days(e))).collect();
        let mut grouped: Vec<Grouped> = (groupings.iter().zip(groups))
            .map(|(grouping, of)| Grouped {
                group_of: of.concat(),
                sums: std::array::from_fn(|_| vec![GroupSums::default(); grouping.groups]),
            })
            .collect();
        let mut orders: Vec<KeySet<u64>> = (0..PERIODS).map(|_| KeySet::default()).collect();

        // the cohorts: each customer's month of first purchase up to `end`
        let last = days(end);
        let cohort_of: Vec<Option<i32>> = purchase_days
            .iter()
            .map(|&(first, _)| (first <= last).then(|| month_of(first)))
            .collect();
        let end_month = month_of(last);
        let first_purchase = purchase_days.iter().map(|&(first, _)| first).min();
        let months_of = Months::new(first_purchase.unwrap_or(last).min(last), last);
        let mut months: Vec<i32> = cohort_of.iter().flatten().copied().collect();
        months.sort_unstable();
        months.dedup();
        let oldest = months.first().copied().unwrap_or(end_month);
        let mut place = vec![u32::MAX; (end_month - oldest + 1).max(0) as usize];
        for (k, &month) in months.iter().enumerate() {
            place[(month - oldest) as usize] = k as u32;
        }
        let mut cohorts: Vec<CohortTotals> = months
            .iter()
            .map(|&month| {
                let width = (end_month - month + 1) as usize;
                CohortTotals {
                    month,
                    customers: 0,
                    active: vec![0; width],
                    revenue: vec![0.0; width],
                }
            })
            .collect();
        for cohort in cohort_of.iter().flatten() {
            cohorts[place[(cohort - oldest) as usize] as usize].customers += 1;
        }
        // a customer's active months as bits of a mask by months since its
        // cohort; a set past 64 months
        let mut masks = vec![0u64; customers];
        let mut later: KeySet<(u32, i32)> = KeySet::default();

        // pass 2: the periods and the cohorts
        let with_cost = source.has(COST);
        let columns = Batch::columns(source, true);
        source.each(BATCH, &columns, &mut |start, rows| {
            let batch = Batch::read(rows, start, true)?;
            let codes = &all_codes[start..start + batch.day.len()];
            for (i, &code) in codes.iter().enumerate() {
                let c = dense.of(code);
                let (day, value) = (batch.day[i], batch.revenue[i]);
                for (k, &(from, to)) in ranges.iter().enumerate() {
                    if from <= day && day <= to {
                        let totals = &mut periods[k];
                        let margin = batch.cost.as_ref().map_or(0.0, |cost| value - cost[i]);
                        totals.revenue += value;
                        totals.margin += margin;
                        let mut new_order = false;
                        if value >= 0.0 {
                            totals.active[c as usize] = true;
                            if let Some(order) = &batch.order {
                                new_order = orders[k].insert(order[i]);
                            }
                        }
                        for grouped in &mut grouped {
                            let group = grouped.group_of[c as usize] as usize;
                            if let Some(sums) = grouped.sums[k].get_mut(group) {
                                sums.revenue += value;
                                sums.margin += margin;
                                sums.orders += usize::from(new_order);
                            }
                        }
                    }
                }
                if day > last {
                    continue;
                }
                let Some(cohort) = cohort_of[c as usize] else {
                    continue;
                };
                let offset = months_of.of(day).saturating_sub(cohort);
                if offset < 0 {
                    // a refund before the customer's first purchase
                    continue;
                }
                let k = place[(cohort - oldest) as usize] as usize;
                cohorts[k].revenue[offset as usize] += value;
                if value >= 0.0 {
                    if offset < 64 {
                        masks[c as usize] |= 1 << offset;
                    } else {
                        later.insert((c, offset));
                    }
                }
            }
            Ok(())
        })?;
        for (totals, orders) in periods.iter_mut().zip(&orders) {
            totals.orders = orders.len();
        }
        for (c, cohort) in cohort_of.iter().enumerate() {
            let Some(cohort) = cohort else { continue };
            let row = &mut cohorts[place[(cohort - oldest) as usize] as usize].active;
            let mut mask = masks[c];
            while mask != 0 {
                row[mask.trailing_zeros() as usize] += 1;
                mask &= mask - 1;
            }
        }
        for &(c, offset) in &later {
            if let Some(cohort) = cohort_of[c as usize] {
                cohorts[place[(cohort - oldest) as usize] as usize].active[offset as usize] += 1;
            }
        }
        Ok(Activity {
            purchase_days,
            periods,
            with_cost,
            cohorts,
            grouped,
        })
    }
}

/// Test frames: `frame` with its order dates, written as text, typed.
#[cfg(test)]
pub(super) fn with_dates(frame: polars::prelude::PolarsResult<DataFrame>) -> DataFrame {
    frame
        .unwrap()
        .lazy()
        .with_column(col(ORDER_DATE).str().to_date(StrptimeOptions::default()))
        .collect()
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_looked_up_equal_months_computed() {
        let first = days(NaiveDate::from_ymd_opt(2023, 11, 28).unwrap());
        let last = days(NaiveDate::from_ymd_opt(2024, 3, 2).unwrap());
        let months = Months::new(first, last);
        // inside the table, either side of it, and days no date has
        for day in (first - 40..=last + 40).chain([i32::MIN, i32::MAX, 0, -1]) {
            assert_eq!(months.of(day), month_of(day), "day {day}");
        }
        assert_eq!(months.of(first), 2023 * 12 + 10);
        assert_eq!(months.of(last), 2024 * 12 + 2);
    }
}
