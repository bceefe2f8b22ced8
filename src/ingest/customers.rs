//! Joining a customer attribute table (region, signup date, acquisition
//! cost, ...) onto the transactions by `customer_id`.

use anyhow::{Result, bail};
use polars::prelude::*;

use super::{IngestConfig, JoinReport, typing};
use crate::error::InputError;
use crate::io::{LINE_COLUMN, RawTable};
use crate::schema::{ALIASES, CUSTOMER_ID, normalize};

/// Left-joins the attributes of `table` onto `transactions`. Attribute
/// names that clash with a transaction column get a `_customer` suffix.
/// Duplicate customer ids in the table are an error naming them.
pub fn attach(
    transactions: DataFrame,
    table: &RawTable,
    config: &IngestConfig,
) -> Result<(DataFrame, JoinReport)> {
    if let Some(r) = table.rejects.first() {
        bail!(InputError::at_line(&table.name, r.line, r.reason.clone()));
    }
    let id_source = id_column(table, config)?;
    let mut columns = vec![
        typing::id_strings(table.frame.column(&id_source)?, &table.name)?
            .with_name(CUSTOMER_ID.into())
            .into_column(),
    ];
    for c in table.frame.columns() {
        let name = c.name().as_str();
        if name == id_source || name == LINE_COLUMN {
            continue;
        }
        let mut attribute = typing::infer_type(c)?;
        if transactions.column(name).is_ok() {
            attribute.rename(format!("{name}_customer").into());
        }
        columns.push(attribute);
    }
    columns.push(table.frame.column(LINE_COLUMN)?.clone());
    let attributes = DataFrame::new(table.frame.height(), columns)?;
    check_unique_ids(&attributes, table)?;
    let attributes = attributes.drop_many([LINE_COLUMN]);

    let known = attributes.column(CUSTOMER_ID)?.as_materialized_series();
    let buying = transactions.column(CUSTOMER_ID)?.as_materialized_series();
    let orphan_transactions = count_missing_from(&transactions, known)?;
    let customers_without_orders = count_missing_from(&attributes, buying)?;

    let joined = transactions
        .lazy()
        .join(
            attributes.clone().lazy(),
            [col(CUSTOMER_ID)],
            [col(CUSTOMER_ID)],
            JoinArgs {
                maintain_order: MaintainOrderJoin::Left,
                ..JoinArgs::new(JoinType::Left)
            },
        )
        .collect()?;
    Ok((
        joined,
        JoinReport {
            customers_in_table: attributes.height() as u64,
            orphan_transactions,
            customers_without_orders,
        },
    ))
}

/// Rows of `frame` whose customer id is not among `ids`.
fn count_missing_from(frame: &DataFrame, ids: &Series) -> Result<u64> {
    let counted = frame
        .clone()
        .lazy()
        .select([col(CUSTOMER_ID)
            .is_in(lit(ids.clone()).implode(false), false)
            .not()
            .sum()
            .cast(DataType::UInt64)
            .alias("missing")])
        .collect()?;
    Ok(counted.column("missing")?.u64()?.get(0).unwrap_or(0))
}

fn id_column(table: &RawTable, config: &IngestConfig) -> Result<String> {
    let found = table.columns();
    if let Some(o) = config.map.iter().rev().find(|o| o.canonical == CUSTOMER_ID)
        && found.contains(&o.source)
    {
        return Ok(o.source.clone());
    }
    let aliases = ALIASES
        .iter()
        .find(|(c, _)| *c == CUSTOMER_ID)
        .map(|(_, a)| *a)
        .unwrap_or(&[]);
    aliases
        .iter()
        .find_map(|a| found.iter().find(|f| normalize(f) == normalize(a)).cloned())
        .ok_or_else(|| {
            InputError::file(
                &table.name,
                format!(
                    "the customer table has no customer id column (found: {}); accepted names: {}",
                    found.join(", "),
                    aliases.join(", ")
                ),
            )
            .into()
        })
}

fn check_unique_ids(attributes: &DataFrame, table: &RawTable) -> Result<()> {
    let ids = attributes.column(CUSTOMER_ID)?.as_materialized_series();
    let duplicated = attributes.select([CUSTOMER_ID])?.is_duplicated()?;
    if !duplicated.any() {
        return Ok(());
    }
    let rows = attributes.filter(&duplicated)?;
    let first_id = rows
        .column(CUSTOMER_ID)?
        .str()?
        .get(0)
        .unwrap_or("")
        .to_string();
    let lines: Vec<String> = rows
        .filter(&rows.column(CUSTOMER_ID)?.str()?.equal(first_id.as_str()))?
        .column(LINE_COLUMN)?
        .u64()?
        .iter()
        .flatten()
        .map(|l| l.to_string())
        .collect();
    let count = ids.filter(&duplicated)?.n_unique()?;
    bail!(
        InputError::file(
            &table.name,
            format!(
                "customer id '{first_id}' appears more than once ({} {}); {count} id(s) are \
                 duplicated; a customer table needs one row per customer",
                table.position,
                lines.join(", ")
            )
        )
        .in_column(CUSTOMER_ID)
    )
}
