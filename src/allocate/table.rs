//! From an allocation back to tables: the per-group allocation, the three
//! methods side by side, the target list.

use anyhow::Result;
use polars::prelude::*;

use super::targets::{Contact, TargetList};
use super::{Method, Response};
use crate::groups::Groups;
use crate::schema::CUSTOMER_ID;
use crate::segment::rules::Play;

/// The allocation per group, with exactly the documented columns, largest
/// spend first: group, customers, value, spend, budget_share,
/// expected_return, roi ((return − spend) / spend), marginal_roi (what the
/// next unit of money returns, less that unit), strategy, action.
pub fn allocation_table(
    groups: &Groups,
    responses: &[Response],
    spends: &[f64],
    plays: &[Option<Play>],
) -> Result<DataFrame> {
    let per_group = PerGroup {
        contacts: None,
        spend: spends.to_vec(),
        returns: (0..spends.len())
            .map(|g| responses[g].expected_return(spends[g]))
            .collect(),
        marginal_roi: (0..spends.len())
            .map(|g| Some(responses[g].marginal_return(spends[g]) - 1.0))
            .collect(),
    };
    group_table(groups, &per_group, plays)
}

/// The allocation a target list makes, per group, with the columns of
/// [`allocation_table`] and `contacts` after `customers`: spend is the
/// contacts' cost, expected_return their expected value, marginal_roi what
/// the group's best customer not taken would return per unit of cost, less
/// that unit.
pub fn list_allocation_table(
    groups: &Groups,
    list: &TargetList,
    cost: f64,
    plays: &[Option<Play>],
) -> Result<DataFrame> {
    let n = groups.names.len();
    let mut contacts = vec![0u64; n];
    let mut returns = vec![0.0; n];
    for contact in &list.contacts {
        contacts[contact.group] += 1;
        returns[contact.group] += contact.expected_value;
    }
    let per_group = PerGroup {
        spend: contacts.iter().map(|&c| c as f64 * cost).collect(),
        contacts: Some(contacts),
        returns,
        marginal_roi: list
            .next_value
            .iter()
            .map(|next| next.map(|v| v / cost - 1.0))
            .collect(),
    };
    group_table(groups, &per_group, plays)
}

/// What an allocation gives each group, in group order.
struct PerGroup {
    contacts: Option<Vec<u64>>,
    spend: Vec<f64>,
    returns: Vec<f64>,
    marginal_roi: Vec<Option<f64>>,
}

/// The per-group table of [`allocation_table`], largest spend first.
fn group_table(groups: &Groups, per: &PerGroup, plays: &[Option<Play>]) -> Result<DataFrame> {
    let spends = &per.spend;
    let budget: f64 = spends.iter().sum();
    let mut order: Vec<usize> = (0..spends.len()).collect();
    order.sort_by(|&a, &b| spends[b].total_cmp(&spends[a]).then(a.cmp(&b)));
    let pick = |f: &dyn Fn(usize) -> Option<f64>| {
        order.iter().map(|&g| f(g)).collect::<Vec<Option<f64>>>()
    };
    let ratio = |num: f64, den: f64| (num / den).is_finite().then_some(num / den);
    let mut columns = vec![
        Column::new(
            "group".into(),
            order
                .iter()
                .map(|&g| groups.names[g].as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "customers".into(),
            order
                .iter()
                .map(|&g| groups.customers[g])
                .collect::<Vec<_>>(),
        ),
    ];
    if let Some(contacts) = &per.contacts {
        columns.push(Column::new(
            "contacts".into(),
            order.iter().map(|&g| contacts[g]).collect::<Vec<_>>(),
        ));
    }
    columns.extend([
        Column::new("value".into(), pick(&|g| Some(groups.value[g]))),
        Column::new("spend".into(), pick(&|g| Some(spends[g]))),
        Column::new("budget_share".into(), pick(&|g| ratio(spends[g], budget))),
        Column::new("expected_return".into(), pick(&|g| Some(per.returns[g]))),
        Column::new(
            "roi".into(),
            pick(&|g| ratio(per.returns[g] - spends[g], spends[g])),
        ),
        Column::new("marginal_roi".into(), pick(&|g| per.marginal_roi[g])),
        Column::new(
            "strategy".into(),
            order
                .iter()
                .map(|&g| plays[g].as_ref().map(|p| p.strategy.clone()))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "action".into(),
            order
                .iter()
                .map(|&g| plays[g].as_ref().map(|p| p.action.clone()))
                .collect::<Vec<_>>(),
        ),
    ]);
    Ok(DataFrame::new(order.len(), columns)?)
}

/// The allocation table (of a split or of a list) with a total row, for
/// people.
pub fn with_total(allocation: &DataFrame) -> Result<DataFrame> {
    let sum = |name: &str| -> Result<f64> {
        Ok(allocation
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .sum()
            .unwrap_or(0.0))
    };
    let (spend, returns) = (sum("spend")?, sum("expected_return")?);
    let total = allocation
        .columns()
        .iter()
        .map(|column| {
            let name = column.name().clone();
            Ok(match name.as_str() {
                "group" => Column::new(name, ["total"]),
                "customers" | "contacts" => Column::new(name, [sum(column.name())? as u64]),
                "value" | "spend" | "expected_return" => Column::new(name, [sum(column.name())?]),
                "budget_share" => Column::new(name, [(spend > 0.0).then_some(1.0)]),
                "roi" => Column::new(name, [(spend > 0.0).then(|| (returns - spend) / spend)]),
                _ => Column::full_null(name, 1, column.dtype()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(allocation.vstack(&DataFrame::new(1, total)?)?)
}

/// The three methods side by side, for people: each group's spend and
/// expected return under each ("optimal spend", "optimal return", ...),
/// and a total row.
pub fn comparison_table(
    groups: &Groups,
    responses: &[Response],
    spends: &[(Method, Vec<f64>)],
) -> Result<DataFrame> {
    let n = groups.names.len();
    let mut names: Vec<&str> = groups.names.iter().map(String::as_str).collect();
    names.push("total");
    let mut columns = vec![Column::new("group".into(), names)];
    for (method, s) in spends {
        let mut spend: Vec<f64> = s.clone();
        let mut returns: Vec<f64> = (0..n).map(|g| responses[g].expected_return(s[g])).collect();
        spend.push(spend.iter().sum());
        returns.push(returns.iter().sum());
        columns.push(Column::new(
            format!("{} spend", method.name()).into(),
            spend,
        ));
        columns.push(Column::new(
            format!("{} return", method.name()).into(),
            returns,
        ));
    }
    Ok(DataFrame::new(n + 1, columns)?)
}

/// The target list: customer_id, group, expected_value, cost, action,
/// and the offer (the customer's `next_best` item) when the customers
/// have one (`segment --next-best`).
pub fn target_table(
    customers: &DataFrame,
    groups: &Groups,
    contacts: &[Contact],
    cost: f64,
    plays: &[Option<Play>],
) -> Result<DataFrame> {
    let rows = IdxCa::from_vec(
        "rows".into(),
        contacts.iter().map(|c| c.row as IdxSize).collect(),
    );
    let ids = customers
        .column(CUSTOMER_ID)?
        .take(&rows)?
        .with_name(CUSTOMER_ID.into());
    let offer = match customers.column("next_best") {
        Ok(best) => Some(best.take(&rows)?.with_name("offer".into())),
        Err(_) => None,
    };
    let mut table = DataFrame::new(
        contacts.len(),
        vec![
            ids,
            Column::new(
                "group".into(),
                contacts
                    .iter()
                    .map(|c| groups.names[c.group].as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "expected_value".into(),
                contacts
                    .iter()
                    .map(|c| c.expected_value)
                    .collect::<Vec<_>>(),
            ),
            Column::new("cost".into(), vec![cost; contacts.len()]),
            Column::new(
                "action".into(),
                contacts
                    .iter()
                    .map(|c| plays[c.group].as_ref().map(|p| p.action.clone()))
                    .collect::<Vec<_>>(),
            ),
        ],
    )?;
    if let Some(offer) = offer {
        table.with_column(offer)?;
    }
    Ok(table)
}
