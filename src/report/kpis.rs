//! The period KPIs: the period ending at the as-of day against the one
//! before it, from the transactions.

use chrono::NaiveDate;
use serde::Serialize;

use super::activity::{Activity, GroupSums, PeriodTotals, days};

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

/// The KPIs of the period ending on the period end `activity` was read
/// for, and of the one before it. Margin is revenue less cost with a cost
/// column, else revenue × `margin_rate` when one is given.
pub fn period_kpis(activity: &Activity, margin_rate: Option<f64>) -> [PeriodKpis; 2] {
    let [oldest, previous, current] = &activity.periods;
    let sums = |p: &PeriodTotals| GroupSums {
        revenue: p.revenue,
        margin: p.margin,
        orders: p.orders,
    };
    let everyone = |_: usize| true;
    [
        figures(
            activity,
            [previous, current],
            &sums(current),
            margin_rate,
            everyone,
        ),
        figures(
            activity,
            [oldest, previous],
            &sums(previous),
            margin_rate,
            everyone,
        ),
    ]
}

/// [`period_kpis`] of the customers in group `group` of the activity's
/// `grouping`-th grouping (`report --by`).
pub fn group_kpis(
    activity: &Activity,
    grouping: usize,
    group: u32,
    margin_rate: Option<f64>,
) -> [PeriodKpis; 2] {
    let [oldest, previous, current] = &activity.periods;
    let grouped = &activity.grouped[grouping];
    let member = |c: usize| grouped.group_of[c] == group;
    let [_, sums_previous, sums_current] = &grouped.sums;
    let g = group as usize;
    [
        figures(
            activity,
            [previous, current],
            &sums_current[g],
            margin_rate,
            member,
        ),
        figures(
            activity,
            [oldest, previous],
            &sums_previous[g],
            margin_rate,
            member,
        ),
    ]
}

/// The figures of the period `[before, period]`'s second, given the one
/// before it, of the customers `member` says, whose sums are `sums`.
fn figures(
    activity: &Activity,
    [before, period]: [&PeriodTotals; 2],
    sums: &GroupSums,
    margin_rate: Option<f64>,
    member: impl Fn(usize) -> bool,
) -> PeriodKpis {
    let (from, to) = (days(period.start), days(period.end));
    let (mut new, mut repeat, mut kept) = (0u64, 0usize, 0usize);
    let (mut active, mut active_before) = (0usize, 0usize);
    for (c, &(first, second)) in activity.purchase_days.iter().enumerate() {
        if !member(c) {
            continue;
        }
        active_before += usize::from(before.active[c]);
        if period.active[c] {
            active += 1;
            new += u64::from(first >= from);
            repeat += usize::from(second <= to);
            kept += usize::from(before.active[c]);
        }
    }
    let share = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
    let count = active as u64;
    let margin = if activity.with_cost {
        Some(sums.margin)
    } else {
        margin_rate.map(|rate| sums.revenue * rate)
    };
    PeriodKpis {
        start: period.start,
        end: period.end,
        active_customers: count,
        new_customers: new,
        returning_customers: count - new,
        churned_customers: (active_before - kept) as u64,
        revenue: sums.revenue,
        margin,
        orders: sums.orders as u64,
        average_order_value: (sums.orders > 0).then(|| sums.revenue / sums.orders as f64),
        repeat_rate: share(repeat, active),
        retention_rate: share(kept, active_before),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::activity::with_dates;
    use crate::report::period::Period;

    use crate::schema::{CUSTOMER_ID, ORDER_DATE, ORDER_ID, REVENUE};
    use polars::prelude::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// The activity of `frame` for the months ending on `end`.
    fn read(frame: &DataFrame, end: &str) -> Activity {
        Activity::read(
            &crate::io::batches::Batches::Frame(frame),
            date(end),
            Period::Month,
            &[],
        )
        .unwrap()
    }

    #[test]
    fn lines_without_an_order_id_are_an_order_each() {
        let frame = with_dates(df!(
            CUSTOMER_ID => ["A", "B", "C", "C"],
            ORDER_DATE => ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-03"],
            REVENUE => [10.0, 20.0, 30.0, 40.0],
            ORDER_ID => [None, None, Some("o3"), Some("o3")],
        ));
        let activity = read(&frame, "2024-03-31");
        let [now, _] = period_kpis(&activity, None);
        assert_eq!(now.orders, 3);
        assert_eq!(now.average_order_value, Some(100.0 / 3.0));
    }

    #[test]
    fn kpis_by_hand() {
        // months ending 2024-03-31: current Mar 1-31, previous Feb 1-29,
        // the one before Jan 1-31
        let frame = with_dates(df!(
            CUSTOMER_ID => ["A", "A", "B", "B", "C", "D", "D", "E"],
            ORDER_DATE => ["2024-01-10", "2024-03-05", "2024-02-10", "2024-02-20",
                           "2024-03-15", "2024-02-01", "2024-03-20", "2024-01-05"],
            REVENUE => [10.0, 20.0, 30.0, -5.0, 40.0, 50.0, 60.0, 70.0],
            ORDER_ID => ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"],
        ));
        let activity = read(&frame, "2024-03-31");
        let [now, before] = period_kpis(&activity, None);
        // March: A (returning, repeat), C (new), D (returning, repeat)
        assert_eq!((now.active_customers, now.new_customers), (3, 1));
        assert_eq!(now.returning_customers, 2);
        // February's active B and D: B is gone, D stayed
        assert_eq!((now.churned_customers, now.retention_rate), (1, Some(0.5)));
        assert_eq!((now.revenue, now.orders), (120.0, 3));
        assert_eq!(now.average_order_value, Some(40.0));
        assert_eq!(now.repeat_rate, Some(2.0 / 3.0));
        assert_eq!(now.margin, None);
        let [with_margin, _] = period_kpis(&activity, Some(0.25));
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
