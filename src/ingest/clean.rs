//! One input, or one batch of it: columns mapped, typed and validated;
//! each row that cannot be used gets a reason.

use std::collections::HashMap;

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use super::{IngestConfig, REASON_COLUMN, Reject, SOURCE_COLUMN, typing};
use crate::io::{LINE_COLUMN, RawTable};
use crate::schema::dates::{DateFormat, days_since_epoch};
use crate::schema::{
    CATEGORY, COST, CUSTOMER_ID, ColumnMap, ORDER_DATE, ORDER_ID, PRODUCT, REVENUE, RevenueSource,
    map_columns,
};

/// One input after mapping, typing and validation.
pub(super) struct CleanTable {
    pub(super) kept: DataFrame,
    /// A 128-bit key per kept row over its data: the typed canonical
    /// columns and the other columns' values as read (a passed-through
    /// column may be typed differently in two batches).
    pub(super) keys: Vec<u128>,
    pub(super) rejects: Vec<Reject>,
    pub(super) map: ColumnMap,
    pub(super) date_format: Option<DateFormat>,
}

/// Maps, types and validates `table`; `date_format`, when given, is the
/// input's layout (found in its first batch), else it is detected;
/// `passthrough_typed`: the other columns were typed over the whole input
/// ([`with_passthrough_typed`]), else they are typed here.
pub(super) fn clean_table(
    table: &RawTable,
    config: &IngestConfig,
    date_format: Option<&DateFormat>,
    passthrough_typed: bool,
) -> Result<CleanTable> {
    let raw = &table.frame;
    let map = map_columns(&table.columns(), &config.map, &table.name)?;
    // the mapped columns, with "NA", "NULL", "-"... as missing: each one
    // cleaned once, all of them at the same time
    let cleaned: HashMap<&str, Column> = map
        .sources()
        .into_par_iter()
        .map(|name| Ok((name, typing::tokens_as_missing(raw.column(name)?)?)))
        .collect::<Result<_>>()?;
    let column = |name: &str| -> Result<&Column> {
        cleaned
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("column {name} is not mapped"))
    };

    let customer_id =
        typing::id_strings(column(&map.customer_id)?, &table.name)?.with_name(CUSTOMER_ID.into());
    let (order_date, date_format) = typing::parse_dates(
        column(&map.order_date)?,
        date_format.or(config.date_format.as_ref()),
        &table.name,
    )?;
    let revenue = match &map.revenue {
        RevenueSource::Column(c) => typing::parse_amounts(column(c)?, config.decimal_comma)?,
        RevenueSource::QuantityTimesPrice { quantity, price } => {
            let q = typing::parse_amounts(column(quantity)?, config.decimal_comma)?;
            let p = typing::parse_amounts(column(price)?, config.decimal_comma)?;
            (&q * &p)?
        }
        RevenueSource::Absent => Series::full_null("".into(), raw.height(), &DataType::Float64)
            .fill_null(FillNullStrategy::Zero)?,
    };
    let revenue_present = match &map.revenue {
        RevenueSource::Column(c) => column(c)?.is_not_null(),
        RevenueSource::QuantityTimesPrice { quantity, price } => {
            column(quantity)?.is_not_null() & column(price)?.is_not_null()
        }
        RevenueSource::Absent => BooleanChunked::full("".into(), true, raw.height()),
    };

    let mut columns: Vec<Column> = vec![
        customer_id.into_column(),
        order_date.with_name(ORDER_DATE.into()).into_column(),
        revenue.with_name(REVENUE.into()).into_column(),
    ];
    if let Some(c) = &map.order_id {
        columns.push(
            typing::id_strings(column(c)?, &table.name)?
                .with_name(ORDER_ID.into())
                .into_column(),
        );
    }
    for (canonical, source) in [(PRODUCT, &map.product), (CATEGORY, &map.category)] {
        if let Some(c) = source {
            let text = column(c)?.cast(&DataType::String)?;
            columns.push(text.with_name(canonical.into()).into_column());
        }
    }
    let mut checks: Vec<(Expr, &str)> = vec![
        (col(CUSTOMER_ID).is_null(), "missing customer_id"),
        (col("__date_present").not(), "missing order_date"),
        (col(ORDER_DATE).is_null(), "unparseable order_date"),
        (col("__revenue_present").not(), "missing revenue"),
        (col(REVENUE).is_null(), "non-numeric revenue"),
        (col(REVENUE).is_finite().not(), "non-finite revenue"),
    ];
    let mut flags = vec![
        Column::new(
            "__date_present".into(),
            column(&map.order_date)?.is_not_null(),
        ),
        Column::new("__revenue_present".into(), revenue_present),
    ];
    if let Some(c) = &map.cost {
        let cost = typing::parse_amounts(column(c)?, config.decimal_comma)?;
        columns.push(cost.with_name(COST.into()).into_column());
        flags.push(Column::new(
            "__cost_present".into(),
            column(c)?.is_not_null(),
        ));
        checks.push((
            col("__cost_present").and(col(COST).is_null()),
            "non-numeric cost",
        ));
        checks.push((col(COST).is_finite().not(), "non-finite cost"));
    }
    if let Some(as_of) = config.as_of {
        checks.push((
            col(ORDER_DATE).gt(lit(days_since_epoch(as_of)).cast(DataType::Date)),
            "date after as-of",
        ));
    }

    let mapped = consumed(&map);
    let canonical: Vec<String> = columns.iter().map(|c| c.name().to_string()).collect();
    let mut key_columns = columns.clone();
    let passed_name = |name: &str| match canonical.iter().any(|n| n == name) {
        true => format!("{name}_source"),
        false => name.to_string(),
    };
    key_columns.extend(
        raw.columns()
            .iter()
            .filter(|c| c.name().as_str() != LINE_COLUMN && !mapped.contains(&c.name().as_str()))
            .map(|c| c.clone().with_name(passed_name(c.name()).into())),
    );
    let keys = crate::hashing::row_keys(&DataFrame::new(raw.height(), key_columns)?)?;
    for c in raw.columns() {
        let name = c.name().as_str();
        if name == LINE_COLUMN || mapped.contains(&name) {
            continue;
        }
        let typed = match passthrough_typed {
            true => c.clone(),
            false => typing::infer_type(c)?,
        };
        columns.push(typed.with_name(passed_name(name).into()));
    }
    columns.push(raw.column(LINE_COLUMN)?.clone());
    columns.push(Column::new_scalar(
        SOURCE_COLUMN.into(),
        Scalar::new(
            DataType::String,
            AnyValue::StringOwned(table.name.as_str().into()),
        ),
        raw.height(),
    ));
    columns.extend(flags);

    // One cheap boolean pass finds the rejected rows; reasons are spelt out
    // for those rows only.
    let any_failed = checks
        .iter()
        .map(|(cond, _)| cond.clone().fill_null(lit(false)))
        .reduce(Expr::or)
        .unwrap_or(lit(false));
    let mut typed = DataFrame::new(raw.height(), columns)?;
    let is_rejected = typed
        .clone()
        .lazy()
        .select([any_failed.alias("failed")])
        .collect()?
        .column("failed")?
        .bool()?
        .clone();

    let mut rejects: Vec<Reject> = table
        .rejects
        .iter()
        .map(|r| Reject {
            source: table.name.clone(),
            line: r.line,
            reason: r.reason.clone(),
            raw: crate::io::human::excerpt(&r.raw),
        })
        .collect();
    let mut keys = keys;
    if is_rejected.any() {
        keys = keys
            .into_iter()
            .zip(is_rejected.iter())
            .filter(|(_, rejected)| *rejected != Some(true))
            .map(|(key, _)| key)
            .collect();
        let reason = checks.into_iter().rev().fold(
            lit(NULL).cast(DataType::String),
            |otherwise, (cond, why)| when(cond).then(lit(why)).otherwise(otherwise),
        );
        let failed = typed
            .filter(&is_rejected)?
            .lazy()
            .select([col(LINE_COLUMN), reason.alias(REASON_COLUMN)])
            .collect()?;
        rejects.extend(typed_rejects(table, &failed, &is_rejected)?);
        rejects.sort_by_key(|r| r.line);
        typed = typed.filter(&!&is_rejected)?;
    }
    let kept = typed.drop_many(["__date_present", "__revenue_present", "__cost_present"]);
    Ok(CleanTable {
        kept,
        keys,
        rejects,
        map,
        date_format,
    })
}

/// The source columns the canonical ones are made of; any other passes
/// through.
fn consumed(map: &ColumnMap) -> Vec<&str> {
    match &map.revenue {
        // quantity and price are kept: they say something revenue does not
        RevenueSource::QuantityTimesPrice { .. } => {
            let mut m = vec![map.customer_id.as_str(), map.order_date.as_str()];
            m.extend(map.optional_sources());
            m
        }
        RevenueSource::Column(_) | RevenueSource::Absent => map.sources(),
    }
}

/// `table` with its passed-through columns typed over all its rows
/// ([`typing::infer_type`]): cut into batches afterwards, every batch types
/// them alike, as the whole table would.
pub(super) fn with_passthrough_typed(
    mut table: RawTable,
    config: &IngestConfig,
) -> Result<RawTable> {
    let map = map_columns(&table.columns(), &config.map, &table.name)?;
    let mapped = consumed(&map);
    let passed: Vec<String> = table
        .columns()
        .into_iter()
        .filter(|name| !mapped.contains(&name.as_str()))
        .collect();
    for name in passed {
        let typed = typing::infer_type(table.frame.column(&name)?)?;
        table.frame.with_column(typed)?;
    }
    Ok(table)
}

/// The rejected rows, with their reasons (`failed`: line and reason of
/// each) and the raw text of their source row.
fn typed_rejects(
    table: &RawTable,
    failed: &DataFrame,
    is_rejected: &BooleanChunked,
) -> Result<Vec<Reject>> {
    let separator = table.delimiter.map(char::from).unwrap_or(',').to_string();
    let raw_columns: Vec<Expr> = table
        .columns()
        .iter()
        .map(|c| col(c.as_str()).cast(DataType::String).fill_null(lit("")))
        .collect();
    let raw = table
        .frame
        .filter(is_rejected)?
        .lazy()
        .select([
            col(LINE_COLUMN),
            concat_str(raw_columns, &separator, false).alias("raw"),
        ])
        .collect()?;
    let reasons = failed.column(REASON_COLUMN)?.str()?.clone();
    let lines = raw.column(LINE_COLUMN)?.u64()?.clone();
    let texts = raw.column("raw")?.str()?.clone();
    Ok(lines
        .iter()
        .zip(reasons.iter())
        .zip(texts.iter())
        .map(|((line, reason), text)| Reject {
            source: table.name.clone(),
            line: line.unwrap_or(0),
            reason: reason.unwrap_or_default().to_string(),
            raw: crate::io::human::excerpt(text.unwrap_or_default()),
        })
        .collect())
}
