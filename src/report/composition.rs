//! Composition: the portfolio's segments, tiers or matrix cells, each with
//! its share of the customers, of the revenue and of the CLV.

use anyhow::Result;
use polars::prelude::DataFrame;
use serde::Serialize;

use crate::groups::{groups, plays};

/// One group's part of the portfolio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    /// The group (a segment, tier or cell).
    pub name: String,
    /// Its customers.
    pub customers: u64,
    /// Its share of the customers, 0–1.
    pub share: f64,
    /// Its share of the revenue (`None` when the total is not positive).
    pub revenue_share: Option<f64>,
    /// Its share of the CLV, when the table has one.
    pub clv_share: Option<f64>,
    /// Its strategy, for segments and matrix cells.
    pub strategy: Option<String>,
}

/// The parts of the customer table by column `by`, largest revenue share
/// first; tiers in their own order, platinum to bronze.
pub fn composition(customers: &DataFrame, by: &str) -> Result<Vec<Part>> {
    let by_revenue = groups(customers, by, "revenue")?;
    // CLV summed over the same groups, without grouping again
    let clv = match customers.column("clv") {
        Ok(_) => {
            let mut sums = vec![0.0; by_revenue.names.len()];
            for (g, v) in by_revenue
                .of
                .iter()
                .zip(crate::segment::numbers(customers, "clv")?)
            {
                if v.is_finite() {
                    sums[*g] += v;
                }
            }
            Some(sums)
        }
        Err(_) => None,
    };
    let strategies = plays(
        customers,
        by,
        &by_revenue,
        &vec![None; by_revenue.names.len()],
    )?;
    let total = |values: &[f64]| values.iter().sum::<f64>();
    let share = |value: f64, total: f64| (total > 0.0).then(|| value / total);
    let (revenue, customers_total) = (total(&by_revenue.value), by_revenue.of.len() as f64);
    let mut parts: Vec<Part> = (0..by_revenue.names.len())
        .map(|g| Part {
            name: by_revenue.names[g].clone(),
            customers: by_revenue.customers[g],
            share: by_revenue.customers[g] as f64 / customers_total,
            revenue_share: share(by_revenue.value[g], revenue),
            clv_share: clv.as_ref().and_then(|c| share(c[g], total(c))),
            strategy: strategies[g].as_ref().map(|p| p.strategy.clone()),
        })
        .collect();
    parts.sort_by(|a, b| {
        b.revenue_share
            .unwrap_or(0.0)
            .total_cmp(&a.revenue_share.unwrap_or(0.0))
            .then_with(|| a.name.cmp(&b.name))
    });
    if by == "tier" {
        let rank = |name: &str| {
            (crate::segment::tiers::TIERS.iter())
                .position(|t| *t == name)
                .unwrap_or(usize::MAX)
        };
        parts.sort_by_key(|p| rank(&p.name));
    }
    Ok(parts)
}

/// Customers and revenue by R score (rows, 5 first: the most recent) and
/// F score (columns, 1 first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmGrid {
    /// `customers[i][j]`: customers with R score 5 − i and F score j + 1.
    pub customers: [[u64; 5]; 5],
    /// Their revenue.
    pub revenue: [[f64; 5]; 5],
}

/// The R×F grid of a segmented customer table (`r_score`, `f_score`;
/// `revenue` when present); customers without both scores are left out.
pub fn rfm_grid(customers: &DataFrame) -> Result<RfmGrid> {
    let r = crate::segment::numbers(customers, "r_score")?;
    let f = crate::segment::numbers(customers, "f_score")?;
    let revenue = match customers.column("revenue") {
        Ok(_) => crate::segment::numbers(customers, "revenue")?,
        Err(_) => vec![0.0; customers.height()],
    };
    let mut grid = RfmGrid {
        customers: [[0; 5]; 5],
        revenue: [[0.0; 5]; 5],
    };
    for ((r, f), value) in r.into_iter().zip(f).zip(revenue) {
        let score = |s: f64| (1.0..=5.0).contains(&s).then_some(s as usize);
        if let (Some(r), Some(f)) = (score(r), score(f)) {
            grid.customers[5 - r][f - 1] += 1;
            if value.is_finite() {
                grid.revenue[5 - r][f - 1] += value;
            }
        }
    }
    Ok(grid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn shares_of_customers_revenue_and_clv() {
        let table = df!(
            "customer_id" => ["a", "b", "c", "d"],
            "revenue" => [10.0, 30.0, 40.0, 20.0],
            "clv" => [5.0, 5.0, 20.0, 10.0],
            "segment" => ["Lost", "Lost", "Champions", "Lost"],
        )
        .unwrap();
        let parts = composition(&table, "segment").unwrap();
        assert_eq!(parts[0].name, "Lost");
        assert_eq!((parts[0].customers, parts[0].share), (3, 0.75));
        assert_eq!(parts[0].revenue_share, Some(0.6));
        assert_eq!(parts[1].clv_share, Some(0.5));
        // the segments' playbook
        assert_eq!(parts[1].strategy.as_deref(), Some("retain"));
        let scored = table
            .hstack(&[
                Column::new("r_score".into(), [5, 5, 1, 3]),
                Column::new("f_score".into(), [1, 1, 5, 2]),
            ])
            .unwrap();
        let grid = rfm_grid(&scored).unwrap();
        assert_eq!(grid.customers[0][0], 2);
        assert_eq!(grid.revenue[0][0], 40.0);
        assert_eq!((grid.customers[4][4], grid.customers[2][1]), (1, 1));
        assert!(
            composition(&table.drop("clv").unwrap(), "segment").unwrap()[0]
                .clv_share
                .is_none()
        );
    }
}
