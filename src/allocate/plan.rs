//! From a customer table to a plan: the customers valued and grouped, each
//! group's response, then the budget split across the groups or the list
//! of customers to contact.

use anyhow::Result;
use polars::prelude::DataFrame;

use super::response::{Defaults, Override, apply};
use super::targets::{Limits, TargetList};
use super::{Method, Response, table};
use crate::pipeline::Observer;

/// What `allocate` is asked.
pub struct AllocateConfig {
    /// The money to split (or to spend on contacts).
    pub budget: f64,
    /// The column whose values are the groups (segment, tier and
    /// matrix_cell are computed when missing).
    pub by: String,
    /// Only these groups get budget and contacts (empty: all).
    pub groups: Vec<String>,
    /// The column of each customer's value (`None`: clv, fitted when
    /// missing, else revenue).
    pub value: Option<String>,
    /// How customers without a CLV are valued: the models' settings and a
    /// saved model to score with.
    pub models: crate::value::Valuation,
    /// How the budget is split.
    pub method: Method,
    /// How each group's response is made.
    pub defaults: Defaults,
    /// Groups whose response is set by hand, and where they come from.
    pub overrides: Vec<Override>,
    /// The name of the file `overrides` come from, for messages.
    pub overrides_from: String,
    /// Make a target list within these limits instead of a split.
    pub target_list: Option<Limits>,
    /// Split with every method too, to compare.
    pub compare: bool,
}

/// What the plan is.
pub enum Plan {
    /// The budget split across the groups.
    Split(Box<Split>),
    /// The customers to contact.
    Targets(Box<Targets>),
}

/// A budget split across the groups.
pub struct Split {
    /// Per group: customers, value, spend, expected return, actions.
    pub allocation: DataFrame,
    /// Each group's response.
    pub responses: Vec<Response>,
    /// Each group's spend.
    pub spends: Vec<f64>,
    /// The budget past which the next unit returns less than it costs.
    pub break_even: f64,
    /// Every method's split side by side (`compare`).
    pub comparison: Option<DataFrame>,
}

/// A target list.
pub struct Targets {
    /// The customers to contact, best first, with their group and value.
    pub table: DataFrame,
    /// The allocation the list makes, per group.
    pub allocation: DataFrame,
    /// The list itself.
    pub list: TargetList,
    /// Its limits.
    pub limits: Limits,
}

/// Plans `config`'s budget over `customers` (as of `as_of` when their
/// values are fitted here): the customers valued and grouped, the
/// groups' responses, then a split or a target list. Warnings (customers
/// valued by revenue, values missing, a budget past break-even) go to
/// `observer`.
pub fn plan(
    customers: DataFrame,
    as_of: Option<chrono::NaiveDate>,
    config: &AllocateConfig,
    observer: &dyn Observer,
) -> Result<Plan> {
    let valued = super::valued(customers, config.value.as_deref(), as_of, &config.models)?;
    if let Some(why) = &valued.caution {
        observer.warn(why);
    }
    let value_column = valued.column;
    let table = crate::groups::with_groups(valued.table, &config.by, &config.groups)?;
    observer.step("customers");
    let groups = crate::groups::groups(&table, &config.by, &value_column)?;
    if groups.missing_values > 0 {
        observer.warn(&format!(
            "{} customers have no {value_column}: counted as 0",
            groups.missing_values
        ));
    }
    let responses: Vec<Response> = groups
        .customers
        .iter()
        .zip(&groups.value)
        .map(|(&n, &v)| config.defaults.response(n, v))
        .collect();
    let (responses, actions) = apply(
        &groups.names,
        responses,
        &config.overrides,
        &config.overrides_from,
    )?;
    let plays = crate::groups::plays(&table, &config.by, &groups, &actions)?;
    if let Some(limits) = config.target_list {
        let list = super::targets::contacts(&table, &groups, &responses, limits, &value_column)?;
        let allocation = table::list_allocation_table(&groups, &list, limits.cost, &plays)?;
        let table = table::target_table(&table, &groups, &list.contacts, limits.cost, &plays)?;
        observer.step("target list");
        return Ok(Plan::Targets(Box::new(Targets {
            table,
            allocation,
            list,
            limits,
        })));
    }
    let split = |method| {
        super::allocate(
            &responses,
            &groups.names,
            &groups.value,
            config.budget,
            method,
        )
    };
    let spends = split(config.method)?;
    if config.method == Method::Optimal {
        let lambda = super::check_optimal(&responses, &groups.names, &spends, config.budget)?;
        observer.info(&format!(
            "optimal: marginal return {lambda:.4} per unit in every group inside its bounds"
        ));
    }
    let allocation = table::allocation_table(&groups, &responses, &spends, &plays)?;
    let break_even = super::break_even_budget(&responses);
    if config.budget > break_even {
        observer.warn(&format!(
            "the budget of {} is past break-even: beyond about {} the next unit of money \
             returns less than it costs (marginal_roi below 0)",
            crate::io::human::money(config.budget),
            crate::io::human::money(break_even)
        ));
    }
    let comparison = if config.compare {
        // the chosen method's split is already there
        let all = Method::ALL
            .iter()
            .map(|&m| {
                Ok((
                    m,
                    if m == config.method {
                        spends.clone()
                    } else {
                        split(m)?
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Some(table::comparison_table(&groups, &responses, &all)?)
    } else {
        None
    };
    observer.step("allocate");
    Ok(Plan::Split(Box::new(Split {
        allocation,
        responses,
        spends,
        break_even,
        comparison,
    })))
}
