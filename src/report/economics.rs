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

/// The costs a customer can carry: a column of the customers, of the
/// channels' CSV, and (but acquisition) a flat rate for everyone.
pub const COSTS: [&str; 4] = [
    "acquisition_cost",
    "cost_per_order",
    "cost_per_line",
    "cost_per_refund",
];

/// Costs given beside the data.
#[derive(Debug, Clone, Default)]
pub struct CostInputs {
    /// Cost to serve one order, for every customer (`--cost-per-order`).
    pub cost_per_order: Option<f64>,
    /// Cost to serve one line with a purchase (`--cost-per-line`).
    pub cost_per_line: Option<f64>,
    /// Cost of one refund line (`--cost-per-refund`).
    pub cost_per_refund: Option<f64>,
    /// Costs per channel (`--acquisition-costs FILE`).
    pub channels: Option<ChannelCosts>,
}

impl CostInputs {
    /// The flat rate of the cost `COSTS[k]`, for everyone.
    fn flat(&self, k: usize) -> Option<f64> {
        [
            None,
            self.cost_per_order,
            self.cost_per_line,
            self.cost_per_refund,
        ][k]
    }

    /// Whether a cost per line or per refund may apply to the customers of
    /// `table`: then the lines must be counted ([`LineCounts`]).
    pub fn counts_lines(&self, table: &DataFrame) -> bool {
        let channel =
            |k: usize| (self.channels.iter()).any(|c| c.costs.iter().any(|c| c.rates[k].is_some()));
        (2..4).any(|k| self.flat(k).is_some() || channel(k) || table.column(COSTS[k]).is_ok())
    }
}

/// Each customer's lines with a purchase and refund lines, by the
/// customer's key, from the transactions (the facts count orders only).
pub struct LineCounts(crate::hashing::KeyMap<u128, (u64, u64)>);

impl LineCounts {
    /// Counts the lines of `source` up to the day `until` (all without
    /// one): revenue above 0 a purchase, below 0 a refund.
    pub fn read(
        source: &crate::io::batches::Batches,
        until: Option<chrono::NaiveDate>,
    ) -> Result<LineCounts> {
        use crate::schema::{CUSTOMER_ID, ORDER_DATE, REVENUE};
        let last = until.map_or(i32::MAX, crate::schema::dates::days_since_epoch);
        let mut counts = crate::hashing::KeyMap::default();
        source.each(
            1 << 20,
            &[CUSTOMER_ID, ORDER_DATE, REVENUE],
            &mut |_, rows| {
                let keys = crate::hashing::par_text_keys(rows.column(CUSTOMER_ID)?)?;
                let revenue = rows.column(REVENUE)?.cast(&DataType::Float64)?;
                let days = rows.column(ORDER_DATE)?.cast(&DataType::Int32)?;
                let lines = (keys.iter())
                    .zip(revenue.f64()?.iter())
                    .zip(days.i32()?.iter());
                for ((key, revenue), day) in lines {
                    let (Some(revenue), true) = (revenue, day.is_some_and(|d| d <= last)) else {
                        continue;
                    };
                    let entry: &mut (u64, u64) = counts.entry(*key).or_default();
                    if revenue > 0.0 {
                        entry.0 += 1;
                    } else if revenue < 0.0 {
                        entry.1 += 1;
                    }
                }
                Ok(())
            },
        )?;
        Ok(LineCounts(counts))
    }
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
    /// Its customers' costs, in the order of [`COSTS`].
    pub rates: [Option<f64>; 4],
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
    /// Reads a CSV with a `channel` column and any of [`COSTS`]; an error
    /// names the file, the line and the column.
    pub fn read(path: &Path, column: &str) -> Result<ChannelCosts> {
        let shown = path.display();
        let mut reader = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read the channel costs {shown}"))?;
        let headers = (reader.headers())
            .with_context(|| format!("{shown}: no header"))?
            .clone();
        let find = |name: &str| headers.iter().position(|h| h.trim() == name);
        let Some(channel) = find("channel") else {
            bail!(crate::error::usage(format!(
                "{shown}: no 'channel' column (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            )));
        };
        let at = COSTS.map(find);
        if at.iter().all(Option::is_none) {
            bail!(crate::error::usage(format!(
                "{shown}: none of {} among its columns",
                COSTS.join(", ")
            )));
        }
        let mut costs = Vec::new();
        for (row, record) in reader.records().enumerate() {
            let line = row + 2;
            let record = record.with_context(|| format!("{shown}, line {line}: not CSV"))?;
            let mut rates = [None; 4];
            for (k, name) in COSTS.iter().enumerate() {
                let Some(text) = at[k].and_then(|i| record.get(i)).map(str::trim) else {
                    continue;
                };
                if text.is_empty() {
                    continue;
                }
                rates[k] = match text.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                    _ => bail!(crate::error::usage(format!(
                        "{shown}, line {line}, column '{name}': '{text}' is not an amount of 0 \
                         or more"
                    ))),
                };
            }
            let name = record.get(channel).unwrap_or_default().trim().to_string();
            if costs.iter().any(|c: &ChannelCost| c.channel == name) {
                bail!(crate::error::usage(format!(
                    "{shown}, line {line}, column 'channel': '{name}' has costs on an earlier \
                     line already"
                )));
            }
            costs.push(ChannelCost {
                channel: name,
                rates,
            });
        }
        Ok(ChannelCosts {
            column: column.to_string(),
            costs,
        })
    }
}

/// Adds to `table` the customers' costs of [`COSTS`] (their own column,
/// else their channel's, else the flat rate) and their `service_cost` to
/// date: orders × cost per order + lines × cost per line + refunds × cost
/// per refund (lines and refunds from `lines`).
pub fn add_costs(
    table: &mut DataFrame,
    inputs: &CostInputs,
    lines: Option<&LineCounts>,
) -> Result<Added> {
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
    let mut notes = Vec::new();
    let mut rates: Vec<Option<Vec<Option<f64>>>> =
        COSTS.iter().map(|c| own(c)).collect::<Result<_>>()?;
    let orders = own("orders")?.unwrap_or_else(|| vec![Some(0.0); n]);
    if let Some(channels) = &inputs.channels {
        crate::groups::check_attribute(table, "--channel-column", &channels.column)?;
        let names = table.column(&channels.column)?.cast(&DataType::String)?;
        let names: Vec<Option<&str>> = names.str()?.iter().collect();
        for (k, values) in rates.iter_mut().enumerate() {
            let mut filled = values.take().unwrap_or_else(|| vec![None; n]);
            for (value, name) in filled.iter_mut().zip(&names) {
                if value.is_none() {
                    let cost = (channels.costs.iter()).find(|c| Some(c.channel.as_str()) == *name);
                    *value = cost.and_then(|c| c.rates[k]);
                }
            }
            *values = Some(filled).filter(|v| v.iter().any(Option::is_some));
        }
        // channels of the customers the file has no costs for
        let mut missing: Vec<&str> = (names.iter().flatten().copied())
            .filter(|name| !channels.costs.iter().any(|c| c.channel == *name))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            notes.push(format!(
                "no costs for the channels {} (the channel file names them exactly, case \
                 included)",
                missing
                    .iter()
                    .map(|m| format!("'{m}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    for (k, values) in rates.iter_mut().enumerate() {
        if let Some(flat) = inputs.flat(k) {
            let given = values.take().unwrap_or_else(|| vec![None; n]);
            *values = Some(given.into_iter().map(|v| v.or(Some(flat))).collect());
        }
    }
    let zeros = || vec![Some(0.0); n];
    let (mut purchases, mut refunds) = (zeros(), zeros());
    if rates[2].is_some() || rates[3].is_some() {
        let Some(lines) = lines else {
            bail!(crate::error::usage(
                "a cost per line or per refund needs the transaction lines to count them: a \
                 customer or facts table has no lines"
            ));
        };
        let keys = crate::hashing::par_text_keys(table.column(crate::schema::CUSTOMER_ID)?)?;
        for (i, key) in keys.iter().enumerate() {
            let (bought, refunded) = lines.0.get(key).copied().unwrap_or_default();
            purchases[i] = Some(bought as f64);
            refunds[i] = Some(refunded as f64);
        }
    }
    let costed = rates.iter().any(Option::is_some);
    let counts = [orders, purchases, refunds];
    let mut service: Option<Vec<f64>> = None;
    for (k, values) in rates.iter().enumerate() {
        let Some(values) = values else { continue };
        table.with_column(Column::new(COSTS[k].into(), values))?;
        if k == 0 {
            continue;
        }
        let total = service.get_or_insert_with(|| vec![0.0; n]);
        for ((sum, rate), count) in total.iter_mut().zip(values).zip(&counts[k - 1]) {
            *sum += rate.unwrap_or(0.0) * count.unwrap_or(0.0);
        }
    }
    if let Some(service) = service {
        table.with_column(Column::new("service_cost".into(), service))?;
    }
    Ok(Added {
        known: costed,
        notes,
    })
}

/// What [`add_costs`] found.
pub struct Added {
    /// Whether any cost is known.
    pub known: bool,
    /// What the report should say about them (channels without costs).
    pub notes: Vec<String>,
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
            "serve efficiently: find what drives the cost",
        ),
        ("low", "low", "grow at low cost: automated offers"),
        ("low", "high", "re-price or reduce the service"),
    ];
    Ok(cells
        .into_iter()
        .map(|(high_value, high_cost, action)| {
            let rows: Vec<usize> = (0..value.len())
                .filter(|&i| (value[i] > value_split) == (high_value == "high"))
                .filter(|&i| (service[i] > cost_split) == (high_cost == "high"))
                .collect();
            // from +0.0: an empty cell holds 0, not the -0.0 of a sum
            let revenue = (rows.iter().map(|&i| revenue[i].max(0.0)))
                .filter(|v| v.is_finite())
                .fold(0.0, |sum, v| sum + v);
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
