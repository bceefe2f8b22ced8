//! What a customer costs: acquisition cost (a column of the customers, or
//! per channel from a small CSV) and cost to serve per order, and with
//! them CLV net of the expected cost to serve, LTV:CAC and CAC payback per
//! channel and acquisition cohort, and the cost-to-serve × value quadrant.

use std::path::Path;

use anyhow::{Context, Result, bail};
use polars::prelude::*;
use serde::Serialize;

/// The days of an average month (365.25 / 12).
const DAYS_PER_MONTH: f64 = 30.4375;

/// Costs given beside the data.
#[derive(Debug, Clone, Default)]
pub struct CostInputs {
    /// Cost to serve one order, for every customer (`--cost-per-order`).
    pub cost_per_order: Option<f64>,
    /// Costs per channel (`--acquisition-costs FILE`).
    pub channels: Option<ChannelCosts>,
}

/// Costs per value of the customers' channel column.
#[derive(Debug, Clone)]
pub struct ChannelCosts {
    /// The customers' column naming their channel.
    pub column: String,
    /// The costs of each channel.
    pub costs: Vec<ChannelCost>,
}

/// One channel's costs.
#[derive(Debug, Clone)]
pub struct ChannelCost {
    /// The channel, as the customers' column names it.
    pub channel: String,
    /// Cost of acquiring one of its customers.
    pub acquisition_cost: Option<f64>,
    /// Cost to serve one order of its customers.
    pub cost_per_order: Option<f64>,
}

impl CostInputs {
    /// The customers' channel column: `--acquisition-costs`' join column,
    /// else `channel`.
    pub fn channel_column(&self) -> &str {
        self.channels
            .as_ref()
            .map_or("channel", |c| c.column.as_str())
    }
}

impl ChannelCosts {
    /// Reads a CSV with a `channel` column and `acquisition_cost` and/or
    /// `cost_per_order`; an error names the file, the line and the column.
    pub fn read(path: &Path, column: &str) -> Result<ChannelCosts> {
        let shown = path.display();
        let mut reader = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read the channel costs {shown}"))?;
        let headers = reader
            .headers()
            .with_context(|| format!("{shown}: no header"))?
            .clone();
        let find = |name: &str| headers.iter().position(|h| h.trim() == name);
        let Some(channel) = find("channel") else {
            bail!(crate::error::usage(format!(
                "{shown}: no 'channel' column (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            )));
        };
        let (acquisition, per_order) = (find("acquisition_cost"), find("cost_per_order"));
        if acquisition.is_none() && per_order.is_none() {
            bail!(crate::error::usage(format!(
                "{shown}: neither 'acquisition_cost' nor 'cost_per_order' among its columns"
            )));
        }
        let mut costs = Vec::new();
        for (row, record) in reader.records().enumerate() {
            let line = row + 2;
            let record = record.with_context(|| format!("{shown}, line {line}: not CSV"))?;
            let amount = |at: Option<usize>, name: &str| -> Result<Option<f64>> {
                let Some(text) = at.and_then(|i| record.get(i)).map(str::trim) else {
                    return Ok(None);
                };
                if text.is_empty() {
                    return Ok(None);
                }
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
                    _ => bail!(crate::error::usage(format!(
                        "{shown}, line {line}, column '{name}': '{text}' is not an amount of 0 \
                         or more"
                    ))),
                }
            };
            let name = record.get(channel).unwrap_or_default().trim().to_string();
            costs.push(ChannelCost {
                channel: name,
                acquisition_cost: amount(acquisition, "acquisition_cost")?,
                cost_per_order: amount(per_order, "cost_per_order")?,
            });
        }
        Ok(ChannelCosts {
            column: column.to_string(),
            costs,
        })
    }
}

/// Adds the customers' `acquisition_cost` (their own column, else their
/// channel's) and `service_cost` to date (orders × their cost per order:
/// their own `cost_per_order`, else their channel's, else
/// `--cost-per-order`) to `table`; false when no cost is known at all.
pub fn add_costs(table: &mut DataFrame, inputs: &CostInputs) -> Result<bool> {
    let n = table.height();
    let own = |name: &str| -> Result<Option<Vec<Option<f64>>>> {
        match table.column(name) {
            Ok(c) => {
                let values = c.cast(&DataType::Float64)?;
                Ok(Some(values.f64()?.iter().collect()))
            }
            Err(_) => Ok(None),
        }
    };
    let (mut acquisition, mut per_order) = (own("acquisition_cost")?, own("cost_per_order")?);
    let orders = own("orders")?.unwrap_or_else(|| vec![Some(0.0); n]);
    if let Some(channels) = &inputs.channels {
        crate::groups::check_attribute(table, "--channel-column", &channels.column)?;
        let names = table.column(&channels.column)?.cast(&DataType::String)?;
        let names = names.str()?;
        let of = |name: Option<&str>, pick: fn(&ChannelCost) -> Option<f64>| {
            let name = name?;
            channels
                .costs
                .iter()
                .find(|c| c.channel == name)
                .and_then(pick)
        };
        let fill = |values: Option<Vec<Option<f64>>>, pick: fn(&ChannelCost) -> Option<f64>| {
            let mut values = values.unwrap_or_else(|| vec![None; n]);
            for (value, name) in values.iter_mut().zip(names.iter()) {
                if value.is_none() {
                    *value = of(name, pick);
                }
            }
            values
        };
        acquisition = Some(fill(acquisition, |c| c.acquisition_cost))
            .filter(|v| v.iter().any(Option::is_some));
        per_order =
            Some(fill(per_order, |c| c.cost_per_order)).filter(|v| v.iter().any(Option::is_some));
    }
    if let Some(flat) = inputs.cost_per_order {
        let values = per_order.unwrap_or_else(|| vec![None; n]);
        per_order = Some(values.into_iter().map(|v| v.or(Some(flat))).collect());
    }
    if let Some(acquisition) = &acquisition {
        table.with_column(Column::new("acquisition_cost".into(), acquisition))?;
    }
    if let Some(per_order) = &per_order {
        let service: Vec<Option<f64>> = (orders.iter().zip(per_order))
            .map(|(o, c)| Some(o.unwrap_or(0.0) * c.unwrap_or(0.0)))
            .collect();
        table.with_column(Column::new("cost_per_order".into(), per_order))?;
        table.with_column(Column::new("service_cost".into(), service))?;
    }
    Ok(acquisition.is_some() || per_order.is_some())
}

/// What the customers cost and return.
#[derive(Debug, Clone, Serialize)]
pub struct Economics {
    /// Acquisition cost of the customers who have one.
    pub acquisition_cost: Option<f64>,
    /// Cost to serve their orders to date.
    pub service_cost: Option<f64>,
    /// CLV over the horizon less the cost to serve the purchases
    /// expected in it.
    pub clv_net: Option<f64>,
    /// Lifetime value (contribution to date + net CLV) over acquisition
    /// cost, of the customers with an acquisition cost.
    pub ltv_to_cac: Option<f64>,
    /// Months of their contribution to date per month it takes to earn
    /// their acquisition cost back.
    pub payback_months: Option<f64>,
    /// The same per channel (with `--acquisition-costs` or a channel
    /// column).
    pub by_channel: Option<Vec<GroupEconomics>>,
    /// The same per acquisition cohort (the month of the first purchase).
    pub by_cohort: Vec<GroupEconomics>,
    /// Customers by cost to serve and value, split at the medians.
    pub quadrant: Option<Vec<QuadrantCell>>,
}

/// One channel's or cohort's economics.
#[derive(Debug, Clone, Serialize)]
pub struct GroupEconomics {
    /// The channel, or the cohort's month (YYYY-MM).
    pub name: String,
    /// Its customers.
    pub customers: u64,
    /// Their acquisition cost.
    pub acquisition_cost: Option<f64>,
    /// Their lifetime value: contribution to date + net CLV.
    pub ltv: f64,
    /// LTV over acquisition cost.
    pub ltv_to_cac: Option<f64>,
    /// Months to earn the acquisition cost back at their monthly
    /// contribution so far.
    pub payback_months: Option<f64>,
}

/// One cell of the cost-to-serve × value quadrant.
#[derive(Debug, Clone, Serialize)]
pub struct QuadrantCell {
    /// `high` or `low` value (CLV, else revenue), split at the median.
    pub value: &'static str,
    /// `high` or `low` cost to serve to date, split at the median.
    pub cost_to_serve: &'static str,
    /// Its customers.
    pub customers: u64,
    /// Their share of the revenue.
    pub revenue_share: Option<f64>,
    /// Their cost to serve to date.
    pub service_cost: f64,
    /// What to do.
    pub action: &'static str,
}

/// Per customer, what the economics add up.
struct PerCustomer {
    acquisition: Vec<Option<f64>>,
    /// Margin less cost to serve, to date.
    contribution: Vec<f64>,
    /// Contribution to date + net CLV.
    ltv: Vec<f64>,
    /// Contribution per month since the first purchase.
    monthly: Vec<f64>,
}

/// The economics of the customers of `table` (after [`add_costs`] and the
/// valuation), per value of the column `channel` when it has one; none
/// without a cost.
pub fn economics(table: &DataFrame, channel: &str) -> Result<Option<Economics>> {
    let has = |name: &str| table.column(name).is_ok();
    if !has("acquisition_cost") && !has("service_cost") {
        return Ok(None);
    }
    let n = table.height();
    let numbers = |name: &str| -> Result<Vec<f64>> {
        match table.column(name) {
            Ok(_) => crate::segment::numbers(table, name),
            Err(_) => Ok(vec![0.0; n]),
        }
    };
    let optional = |name: &str| -> Result<Option<Vec<Option<f64>>>> {
        match table.column(name) {
            Ok(c) => Ok(Some(c.cast(&DataType::Float64)?.f64()?.iter().collect())),
            Err(_) => Ok(None),
        }
    };
    let acquisition = optional("acquisition_cost")?.unwrap_or_else(|| vec![None; n]);
    let (profit, service) = (numbers("profit")?, numbers("service_cost")?);
    let (clv, expected, per_order) = (
        optional("clv")?,
        numbers("expected_purchases")?,
        numbers("cost_per_order")?,
    );
    let tenure = numbers("tenure")?;
    let clean = |v: f64| if v.is_finite() { v } else { 0.0 };
    let mut each = PerCustomer {
        acquisition: acquisition.clone(),
        contribution: Vec::with_capacity(n),
        ltv: Vec::with_capacity(n),
        monthly: Vec::with_capacity(n),
    };
    let mut clv_net = clv.as_ref().map(|_| 0.0);
    for i in 0..n {
        // profit is already net of acquisition and service cost
        let contribution = clean(profit[i]) + acquisition[i].unwrap_or(0.0);
        let net = clv.as_ref().map_or(0.0, |c| {
            clean(c[i].unwrap_or(0.0)) - clean(expected[i]) * clean(per_order[i])
        });
        if let Some(total) = &mut clv_net {
            *total += net;
        }
        each.contribution.push(contribution);
        each.ltv.push(contribution + net);
        each.monthly
            .push(contribution / (clean(tenure[i]) / DAYS_PER_MONTH).max(1.0));
    }
    let everyone: Vec<usize> = (0..n).collect();
    let total = group(&each, "all", &everyone);
    let by_channel = match has(channel) {
        true => Some(groups_of(table, channel, &each)?),
        false => None,
    };
    let cohort = table.column("first_order")?.cast(&DataType::String)?;
    let months: Vec<String> = (cohort.str()?.iter())
        .map(|d| d.map_or_else(|| "(none)".to_string(), |d| d.chars().take(7).collect()))
        .collect();
    let by_cohort = grouped(&months, &each);
    Ok(Some(Economics {
        acquisition_cost: total.acquisition_cost,
        service_cost: has("service_cost").then(|| service.iter().copied().map(clean).sum()),
        clv_net,
        ltv_to_cac: total.ltv_to_cac,
        payback_months: total.payback_months,
        by_channel,
        by_cohort,
        quadrant: match has("service_cost") {
            true => Some(quadrant(table, &service)?),
            false => None,
        },
    }))
}

/// The economics of the customers `rows`, named `name`.
fn group(each: &PerCustomer, name: &str, rows: &[usize]) -> GroupEconomics {
    let with_cac: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&i| each.acquisition[i].is_some())
        .collect();
    let cac: f64 = with_cac.iter().filter_map(|&i| each.acquisition[i]).sum();
    let ltv_with_cac: f64 = with_cac.iter().map(|&i| each.ltv[i]).sum();
    let monthly: f64 = with_cac.iter().map(|&i| each.monthly[i]).sum();
    GroupEconomics {
        name: name.to_string(),
        customers: rows.len() as u64,
        acquisition_cost: (!with_cac.is_empty()).then_some(cac),
        ltv: rows.iter().map(|&i| each.ltv[i]).sum(),
        ltv_to_cac: (cac > 0.0).then(|| ltv_with_cac / cac),
        payback_months: (cac > 0.0 && monthly > 0.0).then(|| cac / monthly),
    }
}

/// The economics per value of `column`.
fn groups_of(table: &DataFrame, column: &str, each: &PerCustomer) -> Result<Vec<GroupEconomics>> {
    let names = table.column(column)?.cast(&DataType::String)?;
    let names: Vec<String> = (names.str()?.iter())
        .map(|n| n.unwrap_or("(none)").to_string())
        .collect();
    Ok(grouped(&names, each))
}

/// The economics per distinct name of `names` (one per customer), in name
/// order.
fn grouped(names: &[String], each: &PerCustomer) -> Vec<GroupEconomics> {
    let mut distinct: Vec<&String> = names.iter().collect();
    distinct.sort();
    distinct.dedup();
    distinct
        .into_iter()
        .map(|name| {
            let rows: Vec<usize> = (0..names.len()).filter(|&i| &names[i] == name).collect();
            group(each, name, &rows)
        })
        .collect()
}

/// The quadrant of cost to serve × value (CLV, else revenue), split at
/// the medians; a customer at a median is low.
fn quadrant(table: &DataFrame, service: &[f64]) -> Result<Vec<QuadrantCell>> {
    let value_column = if table.column("clv").is_ok() {
        "clv"
    } else {
        "revenue"
    };
    let value = crate::segment::numbers(table, value_column)?;
    let revenue = crate::segment::numbers(table, "revenue")?;
    let median = |values: &[f64]| {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => 0.0,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    };
    let (value_split, cost_split) = (median(&value), median(service));
    let positive: f64 = revenue
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.max(0.0))
        .sum();
    let cells = [
        ("high", "low", "protect: the most profitable to serve"),
        (
            "high",
            "high",
            "serve them efficiently: find what drives their cost",
        ),
        ("low", "low", "grow them at low cost: automated offers"),
        ("low", "high", "re-price or reduce the service they cost"),
    ];
    Ok(cells
        .into_iter()
        .map(|(high_value, high_cost, action)| {
            let rows: Vec<usize> = (0..value.len())
                .filter(|&i| (value[i] > value_split) == (high_value == "high"))
                .filter(|&i| (service[i] > cost_split) == (high_cost == "high"))
                .collect();
            let revenue: f64 = rows
                .iter()
                .map(|&i| revenue[i].max(0.0))
                .filter(|v| v.is_finite())
                .sum();
            QuadrantCell {
                value: high_value,
                cost_to_serve: high_cost,
                customers: rows.len() as u64,
                revenue_share: (positive > 0.0).then(|| revenue / positive),
                service_cost: rows.iter().fold(0.0, |sum, &i| sum + service[i]),
                action,
            }
        })
        .collect())
}
