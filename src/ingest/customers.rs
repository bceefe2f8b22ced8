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
    let mut attributes = Attributes::new(table, config)?;
    let joined = attributes.attach(transactions)?;
    Ok((joined, attributes.report()))
}

/// A customer attribute table, typed and checked, joined onto batch after
/// batch of transactions, with the join's counts over all of them.
pub struct Attributes {
    /// `customer_id` and the attributes.
    frame: DataFrame,
    /// Which customers of the table have a transaction so far.
    bought: BooleanChunked,
    orphan_transactions: u64,
}

impl Attributes {
    /// The attributes of `table`; duplicate customer ids are an error
    /// naming them.
    pub fn new(table: &RawTable, config: &IngestConfig) -> Result<Attributes> {
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
            columns.push(typing::infer_type(c)?);
        }
        columns.push(table.frame.column(LINE_COLUMN)?.clone());
        let attributes = DataFrame::new(table.frame.height(), columns)?;
        check_unique_ids(&attributes, table)?;
        let height = attributes.height();
        Ok(Attributes {
            frame: attributes.drop_many([LINE_COLUMN]),
            bought: BooleanChunked::full("bought".into(), false, height),
            orphan_transactions: 0,
        })
    }

    /// `transactions` with their customers' attributes (names that clash
    /// with theirs get a `_customer` suffix).
    pub fn attach(&mut self, transactions: DataFrame) -> Result<DataFrame> {
        let known = self.frame.column(CUSTOMER_ID)?.as_materialized_series();
        let buying = transactions.column(CUSTOMER_ID)?.as_materialized_series();
        self.orphan_transactions += count_missing_from(&transactions, known)?;
        let bought = self
            .frame
            .clone()
            .lazy()
            .select([col(CUSTOMER_ID)
                .is_in(lit(buying.clone()).implode(false), false)
                .alias("bought")])
            .collect()?;
        self.bought = &self.bought | bought.column("bought")?.bool()?;
        let mut attributes = self.frame.clone();
        for name in self.frame.get_column_names() {
            if name.as_str() != CUSTOMER_ID && transactions.column(name).is_ok() {
                attributes.rename(name, format!("{name}_customer").into())?;
            }
        }
        Ok(transactions
            .lazy()
            .join(
                attributes.lazy(),
                [col(CUSTOMER_ID)],
                [col(CUSTOMER_ID)],
                JoinArgs {
                    maintain_order: MaintainOrderJoin::Left,
                    ..JoinArgs::new(JoinType::Left)
                },
            )
            .collect()?)
    }

    /// The join's counts over every batch attached.
    pub fn report(&self) -> JoinReport {
        JoinReport {
            customers_in_table: self.frame.height() as u64,
            orphan_transactions: self.orphan_transactions,
            customers_without_orders: (self.bought.len() - self.bought.sum().unwrap_or(0) as usize)
                as u64,
        }
    }
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
