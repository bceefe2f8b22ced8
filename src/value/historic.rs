//! Historic value: the whale curve of customer profitability, and profit
//! per group (segment, tier...).

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

/// The portfolio margin rate (total margin / total revenue, or `margin`)
/// and each customer's historic profit: margin less acquisition and
/// service costs when the table has them. `None` rate: profit in revenue.
pub fn profit(table: &DataFrame, margin: Option<f64>) -> Result<(Option<f64>, Column)> {
    let numbers = |name: &str| -> Result<Option<Float64Chunked>> {
        match table.column(name) {
            Ok(c) => Ok(Some(c.cast(&DataType::Float64)?.f64()?.clone())),
            Err(_) => Ok(None),
        }
    };
    let revenue = numbers("revenue")?.unwrap_or_default();
    let (rate, mut profit) = match (numbers("margin")?, margin) {
        (Some(m), _) => {
            let total = revenue.sum().unwrap_or(0.0);
            let rate = if total > 0.0 {
                m.sum().unwrap_or(0.0) / total
            } else {
                1.0
            };
            (Some(rate), m)
        }
        (None, Some(fraction)) => (Some(fraction), &revenue * fraction),
        (None, None) => (None, revenue),
    };
    for cost in ["acquisition_cost", "service_cost"] {
        if let Some(c) = numbers(cost)? {
            profit = &profit - &c.fill_null_with_values(0.0)?;
        }
    }
    Ok((rate, profit.with_name("profit".into()).into_column()))
}

/// The whale curve: cumulative profit over customers ranked from the most
/// to the least profitable. It rises above total profit while profitable
/// customers are added, and falls back as the unprofitable ones are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhaleCurve {
    /// Profit of all customers.
    pub total_profit: f64,
    /// The curve's peak: the profit of all profitable customers.
    pub peak_profit: f64,
    /// The peak as a fraction of total profit (e.g. 1.5: the profitable
    /// customers earn 150% of what the portfolio keeps).
    pub peak_share_of_total: f64,
    /// Customers up to the peak.
    pub peak_at_customers: u64,
    /// Those customers as a fraction of all.
    pub peak_at_share: f64,
    /// Customers with a negative profit.
    pub unprofitable_customers: u64,
    /// Those customers as a fraction of all.
    pub unprofitable_share: f64,
    /// The profit they destroy (the sum of their negative profits, as a
    /// positive amount).
    pub profit_destroyed: f64,
}

/// The whale curve of per-customer `profit`.
pub fn whale_curve(profit: &[f64]) -> WhaleCurve {
    let n = profit.len().max(1) as f64;
    // sums from +0.0: an empty one is 0, not Iterator::sum's -0.0
    let sum = |values: &[f64]| values.iter().fold(0.0, |total, v| total + v);
    let total_profit = sum(profit);
    let positive: Vec<f64> = profit.iter().copied().filter(|p| *p > 0.0).collect();
    let peak_profit = sum(&positive);
    let unprofitable: Vec<f64> = profit.iter().copied().filter(|p| *p < 0.0).collect();
    WhaleCurve {
        total_profit,
        peak_profit,
        peak_share_of_total: if total_profit != 0.0 {
            peak_profit / total_profit
        } else {
            f64::NAN
        },
        peak_at_customers: positive.len() as u64,
        peak_at_share: positive.len() as f64 / n,
        unprofitable_customers: unprofitable.len() as u64,
        unprofitable_share: unprofitable.len() as f64 / n,
        profit_destroyed: 0.0 - sum(&unprofitable),
    }
}

/// Profit per value of `group`: customers, revenue, profit, share of
/// total profit, mean profit and the share of unprofitable customers,
/// most profitable group first.
pub fn profitability_by(customers: &DataFrame, group: &str) -> Result<DataFrame> {
    let total = customers.column("profit")?.cast(&DataType::Float64)?;
    let total = total.f64()?.sum().unwrap_or(0.0);
    let share = if total != 0.0 {
        (col("profit") / lit(total)).alias("profit_share")
    } else {
        lit(NULL).cast(DataType::Float64).alias("profit_share")
    };
    Ok(customers
        .clone()
        .lazy()
        .group_by([col(group)])
        .agg([
            len().cast(DataType::Int64).alias("customers"),
            col("revenue").sum().alias("revenue"),
            col("profit").sum().alias("profit"),
            col("profit").mean().alias("mean_profit"),
            col("profit")
                .lt(lit(0.0))
                .cast(DataType::Float64)
                .mean()
                .alias("unprofitable_share"),
        ])
        .with_column(share)
        .sort(
            ["profit"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whale_curve_peak_and_the_profit_destroyed() {
        let curve = whale_curve(&[50.0, 30.0, -20.0, 10.0, -10.0]);
        assert_eq!(curve.total_profit, 60.0);
        assert_eq!(curve.peak_profit, 90.0);
        assert_eq!(curve.peak_share_of_total, 1.5);
        assert_eq!((curve.peak_at_customers, curve.peak_at_share), (3, 0.6));
        assert_eq!(curve.unprofitable_customers, 2);
        assert_eq!(curve.profit_destroyed, 30.0);
    }

    #[test]
    fn profit_per_group_adds_up() {
        let customers = df!(
            "segment" => ["a", "b", "a", "b"],
            "revenue" => [10.0, 20.0, 30.0, 5.0],
            "profit" => [4.0, 8.0, -2.0, 2.0]
        )
        .unwrap();
        let by = profitability_by(&customers, "segment").unwrap();
        assert_eq!(
            by.column("segment").unwrap().str().unwrap().get(0),
            Some("b")
        );
        let profit = by.column("profit").unwrap().f64().unwrap();
        assert_eq!((profit.get(0), profit.get(1)), (Some(10.0), Some(2.0)));
        let share = by.column("profit_share").unwrap().f64().unwrap();
        assert!((share.get(0).unwrap() - 10.0 / 12.0).abs() < 1e-12);
        let unprofitable = by.column("unprofitable_share").unwrap().f64().unwrap();
        assert_eq!(unprofitable.get(1), Some(0.5));
    }
}
