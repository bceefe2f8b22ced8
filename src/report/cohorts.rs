//! Cohorts: customers grouped by the month of their first purchase, with
//! the share of each cohort active in each later month (the retention
//! triangle) and the revenue it brought.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::kpis::{Rows, days};
use crate::hashing::KeySet;

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
    // each customer's cohort month (first purchase up to as_of), if any
    let cohort_of: Vec<Option<i32>> = rows
        .purchase_days
        .iter()
        .map(|&(first, _)| (first <= last).then(|| month_of(first)))
        .collect();
    let Some(oldest) = cohort_of.iter().flatten().min().copied() else {
        return Vec::new();
    };
    let end = month_of(last);
    // the cohorts that have customers, oldest first, and each one's place
    let mut months: Vec<i32> = cohort_of.iter().flatten().copied().collect();
    months.sort_unstable();
    months.dedup();
    let mut place = vec![u32::MAX; (end - oldest + 1) as usize];
    for (k, &month) in months.iter().enumerate() {
        place[(month - oldest) as usize] = k as u32;
    }
    // per cohort, from its own month to the as-of day's: revenue, and the
    // customers active (a customer's active months are bits of a mask by
    // months since its cohort; a set past 64 months)
    let width = |month: i32| (end - month + 1) as usize;
    let mut revenue: Vec<Vec<f64>> = months.iter().map(|&m| vec![0.0; width(m)]).collect();
    let mut counts: Vec<Vec<u64>> = months.iter().map(|&m| vec![0; width(m)]).collect();
    let mut sizes = vec![0u64; months.len()];
    for cohort in cohort_of.iter().flatten() {
        sizes[place[(cohort - oldest) as usize] as usize] += 1;
    }
    let mut masks = vec![0u64; cohort_of.len()];
    let mut later: KeySet<(u32, i32)> = KeySet::default();
    for i in (0..rows.day.len()).filter(|&i| rows.day[i] <= last) {
        let c = rows.customer[i];
        let Some(cohort) = cohort_of[c as usize] else {
            continue;
        };
        let offset = month_of(rows.day[i]) - cohort;
        if offset < 0 {
            // a refund before the customer's first purchase
            continue;
        }
        revenue[place[(cohort - oldest) as usize] as usize][offset as usize] += rows.revenue[i];
        if rows.revenue[i] >= 0.0 {
            if offset < 64 {
                masks[c as usize] |= 1 << offset;
            } else {
                later.insert((c, offset));
            }
        }
    }
    for (c, cohort) in cohort_of.iter().enumerate() {
        let Some(cohort) = cohort else { continue };
        let row = &mut counts[place[(cohort - oldest) as usize] as usize];
        let mut mask = masks[c];
        while mask != 0 {
            row[mask.trailing_zeros() as usize] += 1;
            mask &= mask - 1;
        }
    }
    for &(c, offset) in &later {
        if let Some(cohort) = cohort_of[c as usize] {
            counts[place[(cohort - oldest) as usize] as usize][offset as usize] += 1;
        }
    }
    months
        .iter()
        .zip(sizes)
        .zip(counts.iter().zip(revenue))
        .map(|((&month, size), (counts, revenue))| Cohort {
            month: format!("{}-{:02}", month / 12, month % 12 + 1),
            customers: size,
            retention: counts.iter().map(|&n| n as f64 / size as f64).collect(),
            revenue,
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

    #[test]
    fn long_histories_and_early_refunds() {
        // X: a refund before any purchase, then purchases in 2015-01,
        // 2015-03 and 70 months later (past the 64-month mask)
        let frame = df!(
            CUSTOMER_ID => ["X", "X", "X", "X", "Y"],
            ORDER_DATE => ["2014-12-01", "2015-01-10", "2015-03-10", "2020-11-05", "2015-01-20"],
            REVENUE => [-5.0, 10.0, 20.0, 30.0, 40.0],
        )
        .unwrap()
        .lazy()
        .with_column(col(ORDER_DATE).str().to_date(StrptimeOptions::default()))
        .collect()
        .unwrap();
        let rows = Rows::read(&frame).unwrap();
        let c = cohorts(&rows, NaiveDate::from_ymd_opt(2020, 12, 31).unwrap());
        assert_eq!((c.len(), c[0].customers), (1, 2));
        assert_eq!(c[0].retention.len(), 72);
        assert_eq!((c[0].retention[2], c[0].retention[70]), (0.5, 0.5));
        assert_eq!(c[0].retention.iter().filter(|&&r| r > 0.0).count(), 3);
        assert_eq!(c[0].revenue[0], 50.0);
        assert_eq!(c[0].revenue.iter().sum::<f64>(), 100.0);
    }
}
