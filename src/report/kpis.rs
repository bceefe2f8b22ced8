//! The period KPIs: the period ending at the as-of day against the one
//! before it, from the transactions.

use anyhow::{Result, bail};
use chrono::{Datelike, Days, Months, NaiveDate};
use polars::prelude::*;
use serde::Serialize;

use crate::hashing::KeySet;
use crate::schema::{COST, CUSTOMER_ID, ORDER_DATE, ORDER_ID, REVENUE};

/// The length of a reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Seven days.
    Week,
    /// A calendar month's length (the same day of the month before).
    Month,
    /// Three months.
    Quarter,
}

impl Period {
    /// The first day of the period that ends on `end` (inclusive): seven
    /// days for a week; for a month or quarter ending on the last day of a
    /// month, the calendar month or the three calendar months, otherwise
    /// from the day after the same day one or three months before.
    pub fn start(self, end: NaiveDate) -> NaiveDate {
        let months = match self {
            Period::Week => {
                return end.checked_sub_days(Days::new(6)).unwrap_or(NaiveDate::MIN);
            }
            Period::Month => 1,
            Period::Quarter => 3,
        };
        let month_end = end.succ_opt().is_none_or(|next| next.day() == 1);
        if month_end {
            let first = end.with_day(1).unwrap_or(end);
            return first
                .checked_sub_months(Months::new(months - 1))
                .unwrap_or(NaiveDate::MIN);
        }
        end.checked_sub_months(Months::new(months))
            .map_or(NaiveDate::MIN, |d| d + Days::new(1))
    }
}

/// One period's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodKpis {
    /// First day of the period.
    pub start: NaiveDate,
    /// Last day of the period.
    pub end: NaiveDate,
    /// Customers with a purchase in the period.
    pub active_customers: u64,
    /// Active customers whose first purchase ever is in the period.
    pub new_customers: u64,
    /// Active customers who had bought before the period.
    pub returning_customers: u64,
    /// Customers active in the period before, not in this one.
    pub churned_customers: u64,
    /// Revenue of the period, refunds included.
    pub revenue: f64,
    /// Revenue less cost, when the transactions have a cost (else revenue
    /// × the margin rate, when one is given).
    pub margin: Option<f64>,
    /// Distinct orders with a purchase (lines when there is no order id).
    pub orders: u64,
    /// Revenue per order.
    pub average_order_value: Option<f64>,
    /// Share of the active customers who have bought on two days or more
    /// by the period's end.
    pub repeat_rate: Option<f64>,
    /// Share of the period before's active customers active again.
    pub retention_rate: Option<f64>,
}

/// The KPIs of the period ending on `as_of` and of the one before it.
/// Margin is revenue less cost with a cost column, else revenue ×
/// `margin_rate` when one is given.
pub fn period_kpis(
    rows: &Rows,
    as_of: NaiveDate,
    period: Period,
    margin_rate: Option<f64>,
) -> [PeriodKpis; 2] {
    // three periods back to back: the one before the previous gives the
    // previous period its churn and retention
    let current_start = period.start(as_of);
    let previous_end = current_start - Days::new(1);
    let previous_start = period.start(previous_end);
    let oldest_end = previous_start - Days::new(1);
    let oldest = rows.active(period.start(oldest_end), oldest_end);
    let before = rows.active(previous_start, previous_end);
    let now = rows.active(current_start, as_of);
    let previous = rows.figures(previous_start, previous_end, &before, &oldest);
    let current = rows.figures(current_start, as_of, &now, &before);
    [current, previous].map(|mut kpis| {
        if rows.cost.is_none() {
            kpis.margin = margin_rate.map(|rate| kpis.revenue * rate);
        }
        kpis
    })
}

/// The columns the KPIs and cohorts read, one entry per transaction line
/// (customers as dense numbers 0..customers, days since 1970-01-01), and
/// each customer's first and second purchase day. Read once for both.
pub struct Rows {
    /// Each line's customer, numbered 0..customers.
    pub(super) customer: Vec<u32>,
    pub(super) day: Vec<i32>,
    pub(super) revenue: Vec<f64>,
    cost: Option<Vec<f64>>,
    order: Vec<u64>,
    /// Per customer: the first and second day with a purchase
    /// (`i32::MAX` when there is none).
    pub(super) purchase_days: Vec<(i32, i32)>,
}

impl Rows {
    /// Reads the columns of canonical transactions.
    pub fn read(transactions: &DataFrame) -> Result<Rows> {
        for name in [CUSTOMER_ID, ORDER_DATE, REVENUE] {
            if transactions.column(name).is_err() {
                bail!("the KPIs need transactions with a '{name}' column");
            }
        }
        let numbers = |name: &str| -> Result<Vec<f64>> {
            let values = transactions.column(name)?.cast(&DataType::Float64)?;
            Ok(values.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect())
        };
        let day: Vec<i32> = transactions
            .column(ORDER_DATE)?
            .cast(&DataType::Int32)?
            .i32()?
            .iter()
            .map(|d| d.unwrap_or(i32::MIN))
            .collect();
        let keys = crate::hashing::par_text_keys(transactions.column(CUSTOMER_ID)?)?;
        let (customer, customers) = crate::hashing::dense_codes(&keys);
        let revenue = numbers(REVENUE)?;
        // lines without an order id are an order each (as in the facts):
        // they get keys of their own, the row number with the top bit set
        let own_key = |row: usize| row as u64 | 1 << 63;
        let order = match transactions.column(ORDER_ID) {
            Ok(ids) => {
                let keys = crate::hashing::par_text_keys(ids)?;
                let missing = ids.is_null();
                keys.into_iter()
                    .zip(missing.iter())
                    .enumerate()
                    .map(|(row, (key, missing))| {
                        if missing == Some(true) {
                            own_key(row)
                        } else {
                            key as u64
                        }
                    })
                    .collect()
            }
            Err(_) => (0..day.len()).map(own_key).collect(),
        };
        let cost = match transactions.column(COST) {
            Ok(_) => Some(numbers(COST)?),
            Err(_) => None,
        };
        let mut purchase_days = vec![(i32::MAX, i32::MAX); customers];
        for i in (0..day.len()).filter(|&i| revenue[i] >= 0.0) {
            let days = &mut purchase_days[customer[i] as usize];
            let d = day[i];
            if d < days.0 {
                *days = (d, days.0);
            } else if d > days.0 && d < days.1 {
                days.1 = d;
            }
        }
        Ok(Rows {
            customer,
            day,
            revenue,
            cost,
            order,
            purchase_days,
        })
    }

    /// The lines of the days `start..=end`.
    fn lines(&self, start: NaiveDate, end: NaiveDate) -> impl Iterator<Item = usize> + '_ {
        let (from, to) = (days(start), days(end));
        (0..self.day.len()).filter(move |&i| from <= self.day[i] && self.day[i] <= to)
    }

    /// Which customers have a purchase in `start..=end`.
    fn active(&self, start: NaiveDate, end: NaiveDate) -> Active {
        let mut active = Active {
            customers: vec![false; self.purchase_days.len()],
            count: 0,
        };
        for i in self.lines(start, end).filter(|&i| self.revenue[i] >= 0.0) {
            let seen = &mut active.customers[self.customer[i] as usize];
            if !*seen {
                *seen = true;
                active.count += 1;
            }
        }
        active
    }

    /// The figures of `start..=end`, given who was active in it and in the
    /// period before.
    fn figures(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        active: &Active,
        before: &Active,
    ) -> PeriodKpis {
        let (from, to) = (days(start), days(end));
        let (mut new, mut repeat, mut kept) = (0u64, 0usize, 0usize);
        for (c, &(first, second)) in self.purchase_days.iter().enumerate() {
            if active.customers[c] {
                new += u64::from(first >= from);
                repeat += usize::from(second <= to);
                kept += usize::from(before.customers[c]);
            }
        }
        let (mut revenue, mut margin) = (0.0, 0.0);
        let mut orders: KeySet<u64> = KeySet::default();
        for i in self.lines(start, end) {
            revenue += self.revenue[i];
            if let Some(cost) = &self.cost {
                margin += self.revenue[i] - cost[i];
            }
            if self.revenue[i] >= 0.0 {
                orders.insert(self.order[i]);
            }
        }
        let share = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
        let count = active.count as u64;
        PeriodKpis {
            start,
            end,
            active_customers: count,
            new_customers: new,
            returning_customers: count - new,
            churned_customers: (before.count - kept) as u64,
            revenue,
            margin: self.cost.is_some().then_some(margin),
            orders: orders.len() as u64,
            average_order_value: (!orders.is_empty()).then(|| revenue / orders.len() as f64),
            repeat_rate: share(repeat, active.count),
            retention_rate: share(kept, before.count),
        }
    }
}

/// The customers active in a period: a flag per customer, and how many.
struct Active {
    customers: Vec<bool>,
    count: usize,
}

/// Days since 1970-01-01, as the Date columns hold them.
pub(super) fn days(day: NaiveDate) -> i32 {
    (day - NaiveDate::default()).num_days() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_end_on_the_as_of_day() {
        let end = date("2024-03-31");
        assert_eq!(Period::Month.start(end), date("2024-03-01"));
        assert_eq!(Period::Week.start(end), date("2024-03-25"));
        assert_eq!(Period::Quarter.start(end), date("2024-01-01"));
        // month ends give calendar months
        assert_eq!(Period::Month.start(date("2024-02-29")), date("2024-02-01"));
        assert_eq!(
            Period::Quarter.start(date("2024-06-30")),
            date("2024-04-01")
        );
        // other days: from the day after the same day a month before
        assert_eq!(Period::Month.start(date("2024-03-15")), date("2024-02-16"));
        assert_eq!(Period::Month.start(date("2024-03-30")), date("2024-03-01"));
        assert_eq!(Period::Week.start(date("2024-03-04")), date("2024-02-27"));
    }

    #[test]
    fn lines_without_an_order_id_are_an_order_each() {
        let frame = df!(
            CUSTOMER_ID => ["A", "B", "C", "C"],
            ORDER_DATE => ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-03"],
            REVENUE => [10.0, 20.0, 30.0, 40.0],
            ORDER_ID => [None, None, Some("o3"), Some("o3")],
        )
        .unwrap()
        .lazy()
        .with_column(col(ORDER_DATE).str().to_date(StrptimeOptions::default()))
        .collect()
        .unwrap();
        let rows = Rows::read(&frame).unwrap();
        let [now, _] = period_kpis(&rows, date("2024-03-31"), Period::Month, None);
        assert_eq!(now.orders, 3);
        assert_eq!(now.average_order_value, Some(100.0 / 3.0));
    }

    #[test]
    fn kpis_by_hand() {
        // months ending 2024-03-31: current Mar 1-31, previous Feb 1-29,
        // the one before Jan 1-31
        let frame = df!(
            CUSTOMER_ID => ["A", "A", "B", "B", "C", "D", "D", "E"],
            ORDER_DATE => ["2024-01-10", "2024-03-05", "2024-02-10", "2024-02-20",
                           "2024-03-15", "2024-02-01", "2024-03-20", "2024-01-05"],
            REVENUE => [10.0, 20.0, 30.0, -5.0, 40.0, 50.0, 60.0, 70.0],
            ORDER_ID => ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"],
        )
        .unwrap()
        .lazy()
        .with_column(col(ORDER_DATE).str().to_date(StrptimeOptions::default()))
        .collect()
        .unwrap();
        let rows = Rows::read(&frame).unwrap();
        let [now, before] = period_kpis(&rows, date("2024-03-31"), Period::Month, None);
        // March: A (returning, repeat), C (new), D (returning, repeat)
        assert_eq!((now.active_customers, now.new_customers), (3, 1));
        assert_eq!(now.returning_customers, 2);
        // February's active B and D: B is gone, D stayed
        assert_eq!((now.churned_customers, now.retention_rate), (1, Some(0.5)));
        assert_eq!((now.revenue, now.orders), (120.0, 3));
        assert_eq!(now.average_order_value, Some(40.0));
        assert_eq!(now.repeat_rate, Some(2.0 / 3.0));
        assert_eq!(now.margin, None);
        let [with_margin, _] = period_kpis(&rows, date("2024-03-31"), Period::Month, Some(0.25));
        assert_eq!(with_margin.margin, Some(30.0));
        // February: B (new; its refund is no purchase, but counts in
        // revenue), D (new); January's A and E both gone
        assert_eq!((before.active_customers, before.new_customers), (2, 2));
        assert_eq!((before.revenue, before.orders), (75.0, 2));
        assert_eq!(
            (before.churned_customers, before.retention_rate),
            (2, Some(0.0))
        );
    }
}
