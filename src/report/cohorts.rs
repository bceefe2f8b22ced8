//! Cohorts: customers grouped by the month of their first purchase, with
//! the share of each cohort active in each later month (the retention
//! triangle) and the revenue it brought.

use serde::Serialize;

use super::activity::Activity;

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

/// The cohorts of the transactions up to the period end `activity` was
/// read for, oldest first.
pub fn cohorts(activity: &Activity) -> Vec<Cohort> {
    activity
        .cohorts
        .iter()
        .map(|c| Cohort {
            month: format!("{}-{:02}", c.month / 12, c.month % 12 + 1),
            customers: c.customers,
            retention: c
                .active
                .iter()
                .map(|&n| n as f64 / c.customers as f64)
                .collect(),
            revenue: c.revenue.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::activity::with_dates;
    use crate::report::period::Period;
    use crate::schema::{CUSTOMER_ID, ORDER_DATE, REVENUE};
    use chrono::NaiveDate;
    use polars::prelude::*;

    /// The activity of `frame` up to the day `(y, m, d)`.
    fn read(frame: &DataFrame, (y, m, d): (i32, u32, u32)) -> Activity {
        let end = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        Activity::read(
            &crate::io::batches::Batches::Frame(frame),
            end,
            Period::Month,
            &[],
        )
        .unwrap()
    }

    #[test]
    fn the_triangle_by_hand() {
        let frame = with_dates(df!(
            CUSTOMER_ID => ["A", "A", "B", "C", "C", "D"],
            ORDER_DATE => ["2024-01-10", "2024-03-05", "2024-01-20", "2024-02-15",
                           "2024-02-20", "2024-04-02"],
            REVENUE => [10.0, 20.0, 30.0, 40.0, -5.0, 99.0],
        ));
        let c = cohorts(&read(&frame, (2024, 3, 31)));
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
        let frame = with_dates(df!(
            CUSTOMER_ID => ["X", "X", "X", "X", "Y"],
            ORDER_DATE => ["2014-12-01", "2015-01-10", "2015-03-10", "2020-11-05", "2015-01-20"],
            REVENUE => [-5.0, 10.0, 20.0, 30.0, 40.0],
        ));
        let c = cohorts(&read(&frame, (2020, 12, 31)));
        assert_eq!((c.len(), c[0].customers), (1, 2));
        assert_eq!(c[0].retention.len(), 72);
        assert_eq!((c[0].retention[2], c[0].retention[70]), (0.5, 0.5));
        assert_eq!(c[0].retention.iter().filter(|&&r| r > 0.0).count(), 3);
        assert_eq!(c[0].revenue[0], 50.0);
        assert_eq!(c[0].revenue.iter().sum::<f64>(), 100.0);
    }
}
