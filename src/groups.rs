//! Customers grouped by a column of the customer table (a segment, a tier,
//! a matrix cell, a region): who is in each group, what the group is
//! worth, and the play of each group. What allocate splits a budget over
//! and the report breaks the portfolio down by.

use anyhow::{Result, bail};
use polars::prelude::*;

use crate::segment::rules::Play;

/// Groups that make a useful allocation or breakdown: beyond this many,
/// `--by` names a column that is nearly an id.
pub const MAX_GROUPS: usize = 10_000;

/// A usage error unless `customers` has the attribute column `by` that
/// the command-line `option` names (`--by region`), naming the columns it
/// has.
pub fn check_attribute(customers: &DataFrame, option: &str, by: &str) -> Result<()> {
    if customers.column(by).is_err() {
        bail!(crate::error::usage(format!(
            "{option} {by}: no such column in the customer table (found: {}); only columns \
             constant per customer pass through from the transactions",
            crate::error::column_list(customers)
        )));
    }
    Ok(())
}

/// The customers' groups, by name.
pub struct Groups {
    /// The group names, sorted.
    pub names: Vec<String>,
    /// Customers per group.
    pub customers: Vec<u64>,
    /// Total value per group.
    pub value: Vec<f64>,
    /// Each customer's group.
    pub of: Vec<usize>,
    /// Customers whose value is missing or not a number (counted as 0).
    pub missing_values: usize,
}

/// The groups of `customers` by column `by`, valued by column `value`.
/// Empty group names are the group "(none)".
pub fn groups(customers: &DataFrame, by: &str, value: &str) -> Result<Groups> {
    let names = customers.column(by)?.cast(&DataType::String)?;
    let names: Vec<&str> = names.str()?.iter().map(|n| n.unwrap_or("(none)")).collect();
    let values = customers
        .column(value)?
        .cast(&DataType::Float64)
        .map_err(|_| anyhow::anyhow!("--value {value}: the column is not numeric"))?;
    let values: Vec<Option<f64>> = values.f64()?.iter().collect();
    let mut distinct: Vec<&str> = names.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() > MAX_GROUPS {
        bail!(crate::error::usage(format!(
            "--by {by}: {} groups; at most {MAX_GROUPS} make a useful breakdown (a \
             segment, tier, matrix cell, region, channel)",
            distinct.len()
        )));
    }
    let mut groups = Groups {
        names: distinct.iter().map(|n| n.to_string()).collect(),
        customers: vec![0; distinct.len()],
        value: vec![0.0; distinct.len()],
        of: Vec::with_capacity(names.len()),
        missing_values: 0,
    };
    for (name, v) in names.iter().zip(&values) {
        let g = distinct.binary_search(name).unwrap_or_default();
        groups.of.push(g);
        groups.customers[g] += 1;
        match v {
            Some(v) if v.is_finite() => groups.value[g] += v,
            _ => groups.missing_values += 1,
        }
    }
    Ok(groups)
}

/// Each group's playbook: for segments the table's own `strategy` and
/// `action` (else the standard playbook), for matrix cells the matrix's,
/// none for other groups; an action from a `--response` file replaces the
/// playbook's.
pub fn plays(
    customers: &DataFrame,
    by: &str,
    groups: &Groups,
    actions: &[Option<String>],
) -> Result<Vec<Option<Play>>> {
    let first_rows: Vec<usize> = {
        let mut first = vec![usize::MAX; groups.names.len()];
        for (row, &g) in groups.of.iter().enumerate().rev() {
            first[g] = row;
        }
        first
    };
    let text = |name: &str| -> Result<Option<Vec<Option<String>>>> {
        let Ok(column) = customers.column(name) else {
            return Ok(None);
        };
        let column = column.cast(&DataType::String)?;
        let values = column.str()?;
        Ok(Some(
            first_rows
                .iter()
                .map(|&row| values.get(row).map(str::to_string))
                .collect(),
        ))
    };
    let mut plays: Vec<Option<Play>> = match by {
        "segment" => match (text("strategy")?, text("action")?) {
            (Some(strategies), Some(actions)) => strategies
                .into_iter()
                .zip(actions)
                .map(|(strategy, action)| {
                    Some(Play {
                        strategy: strategy.unwrap_or_default(),
                        action: action.unwrap_or_default(),
                    })
                })
                .collect(),
            _ => groups
                .names
                .iter()
                .map(|n| Some(crate::segment::rules::playbook(n)))
                .collect(),
        },
        "matrix_cell" => groups
            .names
            .iter()
            .map(|n| crate::segment::matrix::play(n))
            .collect(),
        _ => vec![None; groups.names.len()],
    };
    for (play, action) in plays.iter_mut().zip(actions) {
        if let Some(action) = action {
            let strategy = play
                .as_ref()
                .map(|p| p.strategy.clone())
                .unwrap_or_default();
            *play = Some(Play {
                strategy,
                action: action.clone(),
            });
        }
    }
    Ok(plays)
}

/// The customers of `table` in the groups `names` of column `by` (all
/// groups when `names` is empty). A `by` of segment, tier or matrix_cell
/// the table lacks is computed with segment's defaults; another missing
/// column, or a name no customer has, is a usage error naming what there is.
pub fn with_groups(table: DataFrame, by: &str, names: &[String]) -> Result<DataFrame> {
    restricted(grouped(table, by)?, by, names)
}

/// The customer table with the group column `by`: segment, tier and
/// matrix_cell are computed (with segment's defaults) when missing.
fn grouped(table: DataFrame, by: &str) -> Result<DataFrame> {
    if table.column(by).is_ok() {
        return Ok(table);
    }
    if ["segment", "tier", "matrix_cell"].contains(&by) {
        return crate::segment::fill_in(table);
    }
    bail!(crate::error::usage(format!(
        "--by {by}: no such column (found: {})",
        crate::error::column_list(&table)
    )))
}

/// The customer table without the customers outside `names` (`--groups`),
/// which must each be a group of column `by`.
fn restricted(table: DataFrame, by: &str, names: &[String]) -> Result<DataFrame> {
    if names.is_empty() {
        return Ok(table);
    }
    let column = table.column(by)?.cast(&DataType::String)?;
    let values = column.str()?;
    let names: Vec<&str> = names.iter().map(|n| n.trim()).collect();
    for name in &names {
        if !values.iter().any(|v| v == Some(*name)) {
            let mut found: Vec<&str> = values.iter().flatten().collect();
            found.sort_unstable();
            found.dedup();
            bail!(crate::error::usage(format!(
                "--groups: no group '{name}' in column '{by}' (found: {})",
                found.join(", ")
            )));
        }
    }
    let keep: BooleanChunked = values
        .iter()
        .map(|v| v.is_some_and(|v| names.contains(&v)))
        .collect();
    Ok(table.filter(&keep)?)
}
