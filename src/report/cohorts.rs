//! Cohorts: customers grouped by the month of their first purchase, with
//! the share of each cohort active in each later month (the retention
//! triangle) and the revenue it brought.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::kpis::{Rows, days};

/// One acquisition month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohort {
    /// The month of the cohort's first purchases, YYYY-MM.
    pub month: String,
    /// Customers acquired that month.
    pub customers: u64,
    /// For each month from the cohort's own (index 0, always 1) up to the
    /// as-of day's: the share of the cohort with a purchase in it.
    pub retention: Vec<f64>,
    /// The cohort's revenue in each of those months, refunds included.
    pub revenue: Vec<f64>,
}

/// The cohorts of the transactions up to `as_of`, oldest first.
pub fn cohorts(rows: &Rows, as_of: NaiveDate) -> Vec<Cohort> {
    let last = days(as_of);
    let month_of = |day: i32| {
        let date = NaiveDate::default() + chrono::Duration::days(i64::from(day));
        date.year() * 12 + date.month0() as i32
    };
    let end = month_of(last);
    // each customer's cohort (first purchase up to as_of)
    let cohort_of: HashMap<u128, i32> = rows
        .purchase_days
        .iter()
        .filter(|(_, (first, _))| *first <= last)
        .map(|(&c, (first, _))| (c, month_of(*first)))
        .collect();
    let mut sizes: HashMap<i32, u64> = HashMap::new();
    for &cohort in cohort_of.values() {
        *sizes.entry(cohort).or_default() += 1;
    }
    let mut active: HashSet<(u128, i32)> = HashSet::new();
    let mut revenue: HashMap<(i32, i32), f64> = HashMap::new();
    for i in (0..rows.day.len()).filter(|&i| rows.day[i] <= last) {
        let Some(&cohort) = cohort_of.get(&rows.customer[i]) else {
            continue;
        };
        let month = month_of(rows.day[i]);
        *revenue.entry((cohort, month)).or_default() += rows.revenue[i];
        if rows.revenue[i] >= 0.0 {
            active.insert((rows.customer[i], month));
        }
    }
    let mut counts: HashMap<(i32, i32), u64> = HashMap::new();
    for (customer, month) in active {
        *counts.entry((cohort_of[&customer], month)).or_default() += 1;
    }
    let mut months: Vec<i32> = sizes.keys().copied().collect();
    months.sort_unstable();
    months
        .into_iter()
        .map(|cohort| {
            let size = sizes[&cohort];
            let span = cohort..=end;
            Cohort {
                month: format!("{}-{:02}", cohort / 12, cohort % 12 + 1),
                customers: size,
                retention: span
                    .clone()
                    .map(|m| counts.get(&(cohort, m)).copied().unwrap_or(0) as f64 / size as f64)
                    .collect(),
                revenue: span
                    .map(|m| revenue.get(&(cohort, m)).copied().unwrap_or(0.0))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{CUSTOMER_ID, ORDER_DATE, REVENUE};
    use polars::prelude::*;

    #[test]
    fn the_triangle_by_hand() {
        let frame = df!(
            CUSTOMER_ID => ["A", "A", "B", "C", "C", "D"],
            ORDER_DATE => ["2024-01-10", "2024-03-05", "2024-01-20", "2024-02-15",
                           "2024-02-20", "2024-04-02"],
            REVENUE => [10.0, 20.0, 30.0, 40.0, -5.0, 99.0],
        )
        .unwrap()
        .lazy()
        .with_column(col(ORDER_DATE).str().to_date(StrptimeOptions::default()))
        .collect()
        .unwrap();
        let rows = Rows::read(&frame).unwrap();
        let c = cohorts(&rows, NaiveDate::from_ymd_opt(2024, 3, 31).unwrap());
        // D's first purchase is after the as-of day: no cohort for April
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].month.as_str(), c[0].customers), ("2024-01", 2));
        // January's A and B: both in January, neither in February, A in March
        assert_eq!(c[0].retention, [1.0, 0.0, 0.5]);
        assert_eq!(c[0].revenue, [40.0, 0.0, 20.0]);
        // February's C, with a refund in its month
        assert_eq!(
            (c[1].month.as_str(), c[1].retention.as_slice()),
            ("2024-02", &[1.0, 0.0][..])
        );
        assert_eq!(c[1].revenue, [35.0, 0.0]);
    }
}
