//! The report by attribute (`report --by region`): each value's
//! composition, period KPIs and concentration, and how diversified the
//! revenue is across the values (their shares, HHI and the largest one,
//! against the concentration alert).

use anyhow::{Result, bail};
use polars::prelude::*;
use serde::{Serialize, Serializer};

use super::activity::{Activity, Grouping};
use super::composition::composition;
use super::concentration::{Concentration, concentration};
use super::{Composition, Kpis, ReportConfig};
use crate::groups::Groups;
use crate::schema::CUSTOMER_ID;

/// An attribute's values and each customer's value, as `--by` asked.
pub struct Attribute {
    /// The column.
    pub name: String,
    /// Its values ("(none)" for a missing one) and each customer's,
    /// with the revenue of each.
    pub groups: Groups,
}

/// The attributes `by` of the customer table: an error for a column it
/// lacks (naming those it has) or one the report breaks down already.
pub fn attributes(customers: &DataFrame, by: &[String]) -> Result<Vec<Attribute>> {
    if !by.is_empty() && customers.column("revenue").is_err() {
        bail!(crate::error::usage(
            "--by: the breakdown needs the customers' revenue, and the table has none"
        ));
    }
    by.iter()
        .map(|name| {
            if ["segment", "tier", "matrix_cell", CUSTOMER_ID].contains(&name.as_str()) {
                bail!(crate::error::usage(format!(
                    "--by {name}: the report's composition breaks the portfolio down by segment, \
                     tier and matrix cell already; --by takes an attribute of the customers \
                     (region, channel)"
                )));
            }
            crate::groups::check_attribute(customers, "--by", name)?;
            let groups = crate::groups::groups(customers, name, "revenue")?;
            Ok(Attribute {
                name: name.clone(),
                groups,
            })
        })
        .collect()
}

impl Attribute {
    /// The customers' keys mapped to their values, for
    /// [`Activity::read`]'s KPIs by value.
    pub fn grouping(&self, customers: &DataFrame) -> Result<Grouping> {
        let keys = crate::hashing::par_text_keys(customers.column(CUSTOMER_ID)?)?;
        Ok(Grouping {
            of_key: (keys.into_iter())
                .zip(self.groups.of.iter().map(|&g| g as u32))
                .collect(),
            groups: self.groups.names.len(),
        })
    }
}

/// The portfolio by one attribute.
#[derive(Debug, Clone, Serialize)]
pub struct ByAttribute {
    /// How the revenue spreads over the values.
    pub diversification: Diversification,
    /// Each value's figures, largest revenue first (a JSON object keyed
    /// by the value, in that order).
    #[serde(serialize_with = "as_map")]
    pub values: Vec<(String, ValueFigures)>,
}

/// How diversified revenue is across an attribute's values.
#[derive(Debug, Clone, Serialize)]
pub struct Diversification {
    /// Herfindahl-Hirschman index of the values' revenue shares: the sum
    /// of their squares (1 / n for n equal values, 1 for one value).
    pub hhi: Option<f64>,
    /// 1 / HHI: how many equal values would be as concentrated.
    pub equivalent_values: Option<f64>,
    /// The value with the most revenue.
    pub largest: Option<String>,
    /// Its share of the revenue.
    pub largest_share: Option<f64>,
    /// Whether that share is above `--concentration-alert`.
    pub alert: bool,
}

/// One value's part of the portfolio.
#[derive(Debug, Clone, Serialize)]
pub struct ValueFigures {
    /// Its customers.
    pub customers: u64,
    /// Their share of all customers.
    pub customer_share: f64,
    /// Their revenue to date.
    pub revenue: f64,
    /// Its share of the revenue (a value with net refunds holds none);
    /// none when the total is not positive.
    pub revenue_share: Option<f64>,
    /// Their CLV over the horizon, when valued.
    pub clv: Option<f64>,
    /// Its segments, tiers and matrix cells.
    pub composition: Composition,
    /// Its period KPIs (none without transactions read here).
    pub kpis: Option<Kpis>,
    /// How concentrated its revenue is over its customers.
    pub concentration: Concentration,
}

/// Serializes (key, value) pairs as a JSON object in their order.
pub(super) fn as_map<S: Serializer, T: Serialize>(
    pairs: &[(String, T)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// The portfolio of `customers` by `attribute`, the `index`-th asked for
/// (the activity's grouping of the same index has its KPIs).
pub fn breakdown(
    customers: &DataFrame,
    attribute: &Attribute,
    index: usize,
    activity: Option<&Activity>,
    config: &ReportConfig,
) -> Result<ByAttribute> {
    let groups = &attribute.groups;
    let revenue = crate::segment::numbers(customers, "revenue")?;
    let clv = match customers.column("clv") {
        Ok(_) => Some(crate::segment::numbers(customers, "clv")?),
        Err(_) => None,
    };
    let positive: Vec<f64> = groups.value.iter().map(|v| v.max(0.0)).collect();
    let total: f64 = positive.iter().sum();
    let share = |g: usize| (total > 0.0).then(|| positive[g] / total);
    let mut order: Vec<usize> = (0..groups.names.len()).collect();
    order.sort_by(|&a, &b| {
        (groups.value[b].total_cmp(&groups.value[a]))
            .then_with(|| groups.names[a].cmp(&groups.names[b]))
    });
    let all = customers.height().max(1) as f64;
    let mut members: Vec<Vec<IdxSize>> = vec![Vec::new(); groups.names.len()];
    for (row, &g) in groups.of.iter().enumerate() {
        members[g].push(row as IdxSize);
    }
    let mut values = Vec::with_capacity(order.len());
    for &g in &order {
        let rows = std::mem::take(&mut members[g]);
        let subset = customers.take(&IdxCa::from_vec("rows".into(), rows.clone()))?;
        let part = |by: &str| -> Result<Option<Vec<super::composition::Part>>> {
            match subset.column(by) {
                Ok(_) => composition(&subset, by).map(Some),
                Err(_) => Ok(None),
            }
        };
        let own_revenue: Vec<f64> = rows.iter().map(|&r| revenue[r as usize]).collect();
        let concentration = concentration(&own_revenue);
        let kpis = activity
            .filter(|a| a.grouped.len() > index)
            .map(|activity| {
                let margin = config.models.config.margin;
                let [current, previous] =
                    super::kpis::group_kpis(activity, index, g as u32, margin);
                Kpis {
                    period: config.period,
                    current,
                    previous,
                }
            });
        values.push((
            groups.names[g].clone(),
            ValueFigures {
                customers: groups.customers[g],
                customer_share: groups.customers[g] as f64 / all,
                revenue: groups.value[g],
                revenue_share: share(g),
                clv: clv.as_ref().map(|clv| {
                    (rows.iter().map(|&r| clv[r as usize]))
                        .filter(|v| v.is_finite())
                        .fold(0.0, |sum, v| sum + v)
                }),
                composition: Composition {
                    segments: part("segment")?,
                    tiers: part("tier")?,
                    matrix_cells: part("matrix_cell")?,
                },
                kpis,
                concentration,
            },
        ));
    }
    let hhi = (total > 0.0).then(|| {
        (0..positive.len())
            .filter_map(share)
            .map(|s| s * s)
            .sum::<f64>()
    });
    let largest = order.first().copied();
    let largest_share = largest.and_then(share);
    Ok(ByAttribute {
        diversification: Diversification {
            hhi,
            equivalent_values: hhi.filter(|h| *h > 0.0).map(|h| 1.0 / h),
            largest: largest.map(|g| groups.names[g].clone()),
            largest_share,
            alert: largest_share.is_some_and(|s| s > config.concentration_alert),
        },
        values,
    })
}
