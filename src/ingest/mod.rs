//! `ingest`: raw exports in, the canonical transaction table out.
//!
//! For each input: map its columns ([`crate::schema`]), type them
//! ([`typing`]), and give every row that cannot be used a reason. Then the
//! inputs are concatenated (columns aligned by name), exact duplicates are
//! removed, a customer attribute table is joined ([`customers`]), and the
//! [`QualityReport`] counts it all:
//! `rows_read = rows_kept + rows_rejected + duplicates_removed +
//! rows_filtered`.

pub mod customers;
pub mod report;
pub mod typing;

use std::collections::{BTreeMap, HashMap};

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::io::{LINE_COLUMN, LineBreaks, RawTable};
use crate::schema::dates::{DateFormat, days_since_epoch};
use crate::schema::{
    COST, CUSTOMER_ID, ColumnMap, MapOverride, ORDER_DATE, ORDER_ID, REVENUE, RevenueSource,
    map_columns,
};
pub use report::{InputReport, JoinReport, KeptFacts, MaxRejects, QualityReport};

/// Internal column holding the name of the input a row came from.
const SOURCE_COLUMN: &str = "__cpm_source";
/// Internal column holding a row's reject reason.
const REASON_COLUMN: &str = "__cpm_reason";

/// What shapes an ingest (everything but I/O).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestConfig {
    /// `--map` overrides of the automatic column mapping.
    pub map: Vec<MapOverride>,
    /// Date layout; detected per input when absent.
    pub date_format: Option<DateFormat>,
    /// Amounts use a decimal comma (`1.234,50`).
    pub decimal_comma: bool,
    /// Rows dated after this day are rejected.
    pub as_of: Option<NaiveDate>,
    /// What to do with exact duplicate rows.
    pub duplicates: DuplicatePolicy,
    /// Record each row's input name in a column of this name.
    pub source_column: Option<String>,
    /// Add what the kept rows hold (distinct customers and orders, refunds,
    /// dates, revenue) to the report; callers that do not show it save the
    /// time (a second or so on 10 M rows).
    pub kept_facts: bool,
    /// `--where`: a SQL expression the kept rows must satisfy, on the
    /// canonical and passed-through columns (and the customer attributes
    /// joined); the rows it leaves out are counted.
    pub filter: Option<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            map: Vec::new(),
            date_format: None,
            decimal_comma: false,
            as_of: None,
            duplicates: DuplicatePolicy::default(),
            source_column: None,
            kept_facts: true,
            filter: None,
        }
    }
}

/// What happens to rows identical in every column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicatePolicy {
    /// Remove them when rows carry an order id (a repeated line of the same
    /// order is an export glitch); keep them otherwise, because without an
    /// order id two identical rows can be two real purchases (CDNOW has 255,
    /// and the published model figures count them).
    #[default]
    Auto,
    /// Always remove them.
    Remove,
    /// Always keep them.
    Keep,
}

/// A rejected row: where it was, why, and what it said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    /// The input's name.
    pub source: String,
    /// Line (text inputs) or row number.
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
    /// The row as read, at most [`crate::io::human::EXCERPT_CHARS`]
    /// characters of it and its length.
    pub raw: String,
}

/// The result of an ingest.
pub struct Ingested {
    /// The canonical transaction table.
    pub transactions: DataFrame,
    /// Every rejected row, in input order.
    pub rejects: Vec<Reject>,
    /// The counts.
    pub report: QualityReport,
}

/// Validates, types, concatenates and deduplicates `tables`, and joins the
/// optional customer attribute table.
pub fn ingest(
    tables: Vec<RawTable>,
    customers: Option<RawTable>,
    config: &IngestConfig,
) -> Result<Ingested> {
    let mut kept = Vec::with_capacity(tables.len());
    let mut rejects = Vec::new();
    let mut inputs = Vec::with_capacity(tables.len());
    let mut first_map = None;
    let mut rows_read = 0;
    let mut line_breaks = LineBreaks::default();
    let first_text = tables
        .iter()
        .find(|t| t.delimiter.is_some())
        .map(|t| (t.delimiter.map(report::delimiter_name), t.encoding.clone()));
    // each raw table is dropped as soon as it is cleaned, to bound memory
    for table in tables {
        rows_read += table.rows_read();
        line_breaks = line_breaks + table.line_breaks;
        let cleaned = clean_table(&table, config)?;
        inputs.push(InputReport {
            name: table.name.clone(),
            format: crate::io::read::format_name(table.format).to_string(),
            rows: table.rows_read(),
            delimiter: table.delimiter.map(report::delimiter_name),
            encoding: table.encoding.clone(),
            date_format: cleaned.date_format.map(|f| f.describe()),
            warnings: table
                .warnings
                .iter()
                .chain(&cleaned.map.passed_over)
                .cloned()
                .collect(),
        });
        first_map.get_or_insert(cleaned.map);
        kept.push(cleaned.kept);
        rejects.extend(cleaned.rejects);
    }
    let combined = concat_aligned(kept)?;
    let before_dedup = combined.height() as u64;
    let remove = match config.duplicates {
        DuplicatePolicy::Remove => true,
        DuplicatePolicy::Keep => false,
        DuplicatePolicy::Auto => combined.column(ORDER_ID).is_ok(),
    };
    let repeated = repeated_rows(&combined)?;
    let identical_rows_kept = if remove {
        0
    } else {
        repeated.sum().unwrap_or(0) as u64
    };
    let mut transactions = if remove && repeated.any() {
        combined.filter(&!&repeated)?
    } else {
        combined
    };
    let duplicates_removed = before_dedup - transactions.height() as u64;

    let customer_join = match customers {
        Some(table) => {
            let (joined, join) = customers::attach(transactions, &table, config)?;
            transactions = joined;
            Some(join)
        }
        None => None,
    };
    transactions = finish_columns(transactions, config)?;
    let before_filter = transactions.height() as u64;
    if let Some(text) = &config.filter {
        transactions = crate::select::RowFilter::parse("--where", text)?.apply(transactions)?;
    }
    let rows_filtered = before_filter - transactions.height() as u64;

    let mut rejects_by_reason = BTreeMap::new();
    for r in &rejects {
        *rejects_by_reason.entry(r.reason.clone()).or_insert(0) += 1;
    }
    let kept = if config.kept_facts {
        Some(kept_facts(&transactions)?)
    } else {
        None
    };
    let report = QualityReport {
        rows_read,
        rows_kept: transactions.height() as u64,
        rows_rejected: rejects.len() as u64,
        duplicates_removed,
        rows_filtered,
        identical_rows_kept,
        rejects_by_reason,
        rows_with_line_breaks: line_breaks.rows,
        longest_field_lines: line_breaks.longest_span,
        kept,
        column_map: first_map.map(|m| m.describe()).unwrap_or_default(),
        delimiter: first_text.as_ref().and_then(|(d, _)| d.clone()),
        encoding: first_text.and_then(|(_, e)| e),
        customer_join,
        inputs,
    };
    Ok(Ingested {
        transactions,
        rejects,
        report,
    })
}

/// The input's frame as it is, when it is already a canonical transaction
/// table in a typed format (what `cpm ingest` writes as Parquet or Arrow):
/// `customer_id` text, `order_date` a date, `revenue` a float, and
/// `order_id`/`cost`, if present, text/float. Such input was validated and
/// deduplicated when it was ingested, so the next step can use it directly.
pub fn already_canonical(table: &RawTable) -> Option<DataFrame> {
    if table.format == crate::io::InputFormat::Csv || !table.rejects.is_empty() {
        return None;
    }
    is_canonical(&table.frame).then(|| table.frame.drop_many([LINE_COLUMN]))
}

/// Whether the frame has the canonical columns with their canonical types,
/// and a customer id in every row: a missing or blank id sends the rows
/// through ingest's validation, where it is a counted reject.
pub fn is_canonical(frame: &DataFrame) -> bool {
    let has = |name: &str, dtype: &DataType| frame.column(name).is_ok_and(|c| c.dtype() == dtype);
    let optional = |name: &str, dtype: &DataType| frame.column(name).is_err() || has(name, dtype);
    let ids_present = || {
        frame
            .column(CUSTOMER_ID)
            .ok()
            .and_then(|ids| ids.str().ok())
            .is_some_and(|ids| ids.iter().all(|v| v.is_some_and(|v| !v.trim().is_empty())))
    };
    has(CUSTOMER_ID, &DataType::String)
        && has(ORDER_DATE, &DataType::Date)
        && has(REVENUE, &DataType::Float64)
        && optional(ORDER_ID, &DataType::String)
        && optional(COST, &DataType::Float64)
        && ids_present()
}

/// One input after mapping, typing and validation.
struct CleanTable {
    kept: DataFrame,
    rejects: Vec<Reject>,
    map: ColumnMap,
    date_format: Option<DateFormat>,
}

fn clean_table(table: &RawTable, config: &IngestConfig) -> Result<CleanTable> {
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
        config.date_format.as_ref(),
        &table.name,
    )?;
    let revenue = match &map.revenue {
        RevenueSource::Column(c) => typing::parse_amounts(column(c)?, config.decimal_comma)?,
        RevenueSource::QuantityTimesPrice { quantity, price } => {
            let q = typing::parse_amounts(column(quantity)?, config.decimal_comma)?;
            let p = typing::parse_amounts(column(price)?, config.decimal_comma)?;
            (&q * &p)?
        }
    };
    let revenue_present = match &map.revenue {
        RevenueSource::Column(c) => column(c)?.is_not_null(),
        RevenueSource::QuantityTimesPrice { quantity, price } => {
            column(quantity)?.is_not_null() & column(price)?.is_not_null()
        }
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

    let mapped: Vec<&str> = match &map.revenue {
        // quantity and price are kept: they say something revenue does not
        RevenueSource::QuantityTimesPrice { .. } => {
            let mut m = vec![map.customer_id.as_str(), map.order_date.as_str()];
            m.extend(map.order_id.as_deref());
            m.extend(map.cost.as_deref());
            m
        }
        RevenueSource::Column(_) => map.sources(),
    };
    let canonical: Vec<String> = columns.iter().map(|c| c.name().to_string()).collect();
    for c in raw.columns() {
        let name = c.name().as_str();
        if name == LINE_COLUMN || mapped.contains(&name) {
            continue;
        }
        let mut passthrough = typing::infer_type(c)?;
        if canonical.iter().any(|n| n == name) {
            passthrough.rename(format!("{name}_source").into());
        }
        columns.push(passthrough);
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
    if is_rejected.any() {
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
        rejects,
        map,
        date_format,
    })
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

/// Marks the rows that repeat an earlier row in every data column.
///
/// Comparing whole rows of strings is the costly part of an ingest, and
/// repeats are rare: so every row gets a 64-bit hash, and only rows whose
/// hash occurs more than once are compared exactly.
fn repeated_rows(frame: &DataFrame) -> Result<BooleanChunked> {
    let data = frame.drop_many([LINE_COLUMN, SOURCE_COLUMN]);
    let height = data.height();
    let hashes = crate::hashing::row_hashes(&data)?;
    let suspects =
        BooleanChunked::from_slice("suspects".into(), &crate::hashing::shared_hashes(&hashes));
    if !suspects.any() {
        return Ok(BooleanChunked::full("repeated".into(), false, height));
    }
    // exact comparison among the suspects; the first of each group stays
    let key: Vec<PlSmallStr> = data.get_column_names_owned();
    let index = IdxCa::from_vec("index".into(), (0..height as IdxSize).collect());
    let mut candidates = data;
    candidates.with_column(index.into_column())?;
    let candidates = candidates.filter(&suspects)?;
    let firsts = candidates
        .clone()
        .lazy()
        .unique_stable(Some(by_name(key, true, false)), UniqueKeepStrategy::First)
        .collect()?;
    let mut repeated = vec![false; height];
    for i in candidates.column("index")?.idx()?.iter().flatten() {
        repeated[i as usize] = true;
    }
    for i in firsts.column("index")?.idx()?.iter().flatten() {
        repeated[i as usize] = false;
    }
    Ok(BooleanChunked::from_slice("repeated".into(), &repeated))
}

/// Concatenates frames whose columns may differ, aligning by name; a column
/// typed differently in two inputs becomes text in all of them.
fn concat_aligned(frames: Vec<DataFrame>) -> Result<DataFrame> {
    let mut types: HashMap<PlSmallStr, DataType> = HashMap::new();
    let mut conflicting = Vec::new();
    for frame in &frames {
        for c in frame.columns() {
            match types.get(c.name()) {
                Some(t) if t != c.dtype() && !c.dtype().is_null() && !t.is_null() => {
                    conflicting.push(c.name().clone())
                }
                None => {
                    types.insert(c.name().clone(), c.dtype().clone());
                }
                _ => {}
            }
        }
    }
    let mut frames = frames;
    if !conflicting.is_empty() {
        for frame in &mut frames {
            for name in &conflicting {
                if let Ok(c) = frame.column(name) {
                    let text = c.cast(&DataType::String)?;
                    frame.with_column(text)?;
                }
            }
        }
    }
    if frames.len() == 1 {
        return Ok(frames.pop().unwrap_or_default());
    }
    Ok(polars::functions::concat_df_diagonal(&frames)?)
}

/// Drops the internal columns and names the source column if asked.
fn finish_columns(frame: DataFrame, config: &IngestConfig) -> Result<DataFrame> {
    let mut frame = frame.drop_many([LINE_COLUMN]);
    match &config.source_column {
        Some(name) => {
            if frame.column(name).is_ok() {
                bail!(crate::error::usage(format!(
                    "--source-column {name}: the data have a column '{name}' already; \
                     name the source column otherwise"
                )));
            }
            // last, whatever columns the inputs added
            let source = frame.drop_in_place(SOURCE_COLUMN)?;
            frame.with_column(source.with_name(name.as_str().into()))?;
        }
        None => {
            frame = frame.drop_many([SOURCE_COLUMN]);
        }
    }
    Ok(frame)
}

/// What the kept transactions hold, for the report.
fn kept_facts(frame: &DataFrame) -> Result<KeptFacts> {
    let has_order_id = frame.column(ORDER_ID).is_ok();
    let refund = if has_order_id {
        col(REVENUE).lt(lit(0.0)).or(col(ORDER_ID)
            .str()
            .starts_with(lit("C"))
            .fill_null(lit(false)))
    } else {
        col(REVENUE).lt(lit(0.0))
    };
    let out = frame
        .clone()
        .lazy()
        .select([
            refund.clone().sum().cast(DataType::UInt64).alias("refunds"),
            col(REVENUE).filter(refund).sum().alias("refund_value"),
            col(ORDER_DATE).min().cast(DataType::String).alias("first"),
            col(ORDER_DATE).max().cast(DataType::String).alias("last"),
            col(REVENUE).sum().alias("revenue"),
        ])
        .collect()?;
    let u = |name: &str| -> Result<u64> { Ok(out.column(name)?.u64()?.get(0).unwrap_or(0)) };
    let f = |name: &str| -> Result<f64> { Ok(out.column(name)?.f64()?.get(0).unwrap_or(0.0)) };
    let s = |name: &str| -> Result<Option<String>> {
        Ok(out.column(name)?.str()?.get(0).map(str::to_string))
    };
    if !f("revenue")?.is_finite() || !f("refund_value")?.is_finite() {
        bail!(sum_past_range(frame)?);
    }
    Ok(KeptFacts {
        refunds: u("refunds")?,
        refund_value: round_cents(f("refund_value")?),
        customers: crate::hashing::distinct_count(frame.column(CUSTOMER_ID)?)?,
        orders: if has_order_id {
            crate::hashing::distinct_count(frame.column(ORDER_ID)?)?
        } else {
            frame.height() as u64
        },
        first_date: s("first")?,
        last_date: s("last")?,
        revenue_total: round_cents(f("revenue")?),
    })
}

/// Why the kept revenue does not add up to a number: the first customer
/// (by id) whose amounts sum past ±1.8e308, or all of them together.
fn sum_past_range(frame: &DataFrame) -> Result<String> {
    let sums = frame
        .clone()
        .lazy()
        .group_by([col(CUSTOMER_ID)])
        .agg([col(REVENUE).sum()])
        .filter(col(REVENUE).is_finite().not())
        .sort([CUSTOMER_ID], Default::default())
        .limit(1)
        .collect()?;
    let ids = sums.column(CUSTOMER_ID)?.str()?;
    Ok(match ids.get(0) {
        Some(id) => format!(
            "the revenue of customer '{}' does not add up to a number (its amounts sum past \
             ±1.8e308): check them",
            crate::io::human::printable(id)
        ),
        None => "the revenue of the kept rows does not add up to a number (the amounts sum \
                 past ±1.8e308): check them"
            .to_string(),
    })
}

/// Rounds money to cents, so sums print without float noise.
fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_rows_keeps_the_first_of_identical_rows_only() {
        let frame = df!(
            "customer_id" => ["a", "b", "a", "a", "c"],
            "revenue" => [1.0, 2.0, 1.0, 1.5, 2.0],
            LINE_COLUMN => [2u64, 3, 4, 5, 6],
        )
        .unwrap();
        let repeated: Vec<Option<bool>> = repeated_rows(&frame).unwrap().iter().collect();
        let expected = [false, false, true, false, false].map(Some);
        assert_eq!(
            repeated, expected,
            "the line column is not part of the comparison"
        );
        let distinct = frame.slice(0, 2);
        assert!(!repeated_rows(&distinct).unwrap().any());
    }

    mod properties {
        use super::*;
        use crate::io::source::{Compression, InputFormat, Opened, Payload};
        use crate::summary::{SummaryConfig, summarize};
        use proptest::prelude::*;

        const HEADER: &str = "order_id,customer_id,order_date,revenue\n";

        /// One CSV input of `lines` (header added), read as cpm reads files.
        fn table(name: &str, lines: &[String]) -> RawTable {
            let text = format!("{HEADER}{}", lines.concat());
            let opened = Opened {
                name: name.to_string(),
                size: text.len() as u64,
                payload: Payload::Bytes(text.into_bytes()),
                format: InputFormat::Csv,
                compression: Compression::None,
            };
            crate::io::read::read_opened(&opened, &Default::default(), &|_| {}).unwrap()
        }

        /// The customer facts of `tables`, as of a fixed day.
        fn facts(tables: Vec<RawTable>) -> DataFrame {
            let ingested = ingest(tables, None, &IngestConfig::default()).unwrap();
            let config = SummaryConfig {
                as_of: NaiveDate::from_ymd_opt(2025, 3, 1),
                ..SummaryConfig::default()
            };
            summarize(&ingested.transactions, &config)
                .unwrap()
                .customers
        }

        fn same_facts(a: &DataFrame, b: &DataFrame) -> Result<(), TestCaseError> {
            prop_assert_eq!(a.get_column_names(), b.get_column_names());
            for (x, y) in a.columns().iter().zip(b.columns()) {
                if x.dtype().is_float() {
                    let (x, y) = (x.f64().unwrap(), y.f64().unwrap());
                    for (u, v) in x.iter().zip(y.iter()) {
                        let (u, v) = (u.unwrap_or(0.0), v.unwrap_or(0.0));
                        prop_assert!((u - v).abs() <= 1e-9 * u.abs().max(1.0), "{} vs {}", u, v);
                    }
                } else {
                    prop_assert!(
                        x.as_materialized_series()
                            .equals_missing(y.as_materialized_series()),
                        "{}",
                        x.name()
                    );
                }
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// The facts of the customers do not depend on the order of the
            /// rows, nor on how they are split into files.
            #[test]
            fn facts_ignore_row_order_and_files(
                rows in prop::collection::vec((0u8..8, 0u32..400, -5_000i32..50_000, 0u8..40), 1..80)
                    .prop_flat_map(|rows| {
                        let n = rows.len();
                        (Just(rows.clone()), Just(rows).prop_shuffle(), prop::collection::vec(0..=n, 0..4))
                    })
            ) {
                let (rows, shuffled, mut cuts) = rows;
                let line = |&(customer, day, cents, order): &(u8, u32, i32, u8)| {
                    let date = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(u64::from(day));
                    format!("o{order}-{customer},c{customer},{date},{:.2}\n", f64::from(cents) / 100.0)
                };
                let whole: Vec<String> = rows.iter().map(line).collect();
                let shuffled: Vec<String> = shuffled.iter().map(line).collect();
                cuts.push(0);
                cuts.push(shuffled.len());
                cuts.sort_unstable();
                let parts: Vec<RawTable> = cuts
                    .windows(2)
                    .enumerate()
                    .map(|(i, w)| table(&format!("part{i}.csv"), &shuffled[w[0]..w[1]]))
                    .collect();
                same_facts(&facts(vec![table("whole.csv", &whole)]), &facts(parts))?;
            }
        }
    }
}
