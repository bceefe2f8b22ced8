//! `ingest`: raw exports in, the canonical transaction table out.
//!
//! For each input: map its columns ([`crate::schema`]), type them
//! ([`typing`]), and give every row that cannot be used a reason. Then the
//! inputs are concatenated (columns aligned by name), exact duplicates are
//! removed, a customer attribute table is joined ([`customers`]), and the
//! [`QualityReport`] counts it all:
//! `rows_read = rows_kept + rows_rejected + duplicates_removed +
//! rows_filtered`.

mod clean;
pub mod customers;
mod kept;
pub mod report;
pub mod typing;

use std::collections::{BTreeMap, HashMap};

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::io::{LINE_COLUMN, LineBreaks, RawTable};
use crate::schema::dates::DateFormat;
use crate::schema::{
    CATEGORY, COST, CUSTOMER_ID, ColumnMap, MapOverride, ORDER_DATE, ORDER_ID, PRODUCT, REVENUE,
    map_columns,
};
pub use kept::KeptTally;
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
    /// Rows per batch of an input ingested whole: the keys and typed
    /// columns of one batch are made at once
    /// ([`crate::pipeline::BATCH_ROWS`]; tests set a few).
    pub batch_rows: usize,
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
            batch_rows: crate::pipeline::BATCH_ROWS,
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

/// An ingest fed a batch of rows at a time: each batch is mapped, typed
/// and validated, and its exact duplicates of any earlier row (by a
/// 128-bit key per row, [`crate::hashing::SeenRows`]) are removed or
/// counted; the counts add up for the [`QualityReport`]. Only the keys of
/// the rows seen grow with the input.
pub struct Ingester<'c> {
    config: &'c IngestConfig,
    seen: crate::hashing::SeenRows,
    /// Each input's date layout, once a batch of it had dates.
    date_formats: HashMap<String, DateFormat>,
    /// The inputs whose passed-through columns were typed whole.
    passthrough_typed: std::collections::HashSet<String>,
    inputs: Vec<InputReport>,
    first_map: Option<ColumnMap>,
    /// Delimiter and encoding of the first text input.
    first_text: Option<(Option<String>, Option<String>)>,
    rows_read: u64,
    line_breaks: LineBreaks,
    rows_rejected: u64,
    rejects_by_reason: BTreeMap<String, u64>,
    duplicates_removed: u64,
    identical_rows_kept: u64,
}

/// A batch after ingest.
pub struct IngestedBatch {
    /// Its kept rows: canonical and passed-through columns, each row's
    /// line and input name in internal columns.
    pub kept: DataFrame,
    /// Its rejected rows, by line.
    pub rejects: Vec<Reject>,
}

impl<'c> Ingester<'c> {
    /// An ingest of nothing yet.
    pub fn new(config: &'c IngestConfig) -> Ingester<'c> {
        Ingester {
            config,
            seen: Default::default(),
            date_formats: HashMap::new(),
            passthrough_typed: Default::default(),
            inputs: Vec::new(),
            first_map: None,
            first_text: None,
            rows_read: 0,
            line_breaks: LineBreaks::default(),
            rows_rejected: 0,
            rejects_by_reason: BTreeMap::new(),
            duplicates_removed: 0,
            identical_rows_kept: 0,
        }
    }

    /// Ingests `table`: a whole input, or its next batch (the batches of
    /// an input share its name and come in order; the first one's dates
    /// settle the input's date layout).
    pub fn add(&mut self, table: &RawTable) -> Result<IngestedBatch> {
        self.rows_read += table.rows_read();
        self.line_breaks = self.line_breaks + table.line_breaks;
        let known = self.date_formats.get(&table.name).cloned();
        let typed = self.passthrough_typed.contains(&table.name);
        let cleaned = clean::clean_table(table, self.config, known.as_ref(), typed)?;
        if let (None, Some(found)) = (&known, &cleaned.date_format) {
            self.date_formats.insert(table.name.clone(), found.clone());
        }
        let date_format = cleaned.date_format.as_ref().map(DateFormat::describe);
        match self.inputs.last_mut() {
            Some(input) if input.name == table.name => {
                input.rows += table.rows_read();
                input.date_format = input.date_format.take().or(date_format);
                input.warnings.extend(table.warnings.iter().cloned());
            }
            _ => {
                self.inputs.push(InputReport {
                    name: table.name.clone(),
                    format: crate::io::read::format_name(table.format).to_string(),
                    rows: table.rows_read(),
                    delimiter: table.delimiter.map(report::delimiter_name),
                    encoding: table.encoding.clone(),
                    date_format,
                    warnings: table
                        .warnings
                        .iter()
                        .chain(&cleaned.map.warnings)
                        .cloned()
                        .collect(),
                });
                if table.delimiter.is_some() && self.first_text.is_none() {
                    self.first_text = Some((
                        table.delimiter.map(report::delimiter_name),
                        table.encoding.clone(),
                    ));
                }
            }
        }
        let remove = match self.config.duplicates {
            DuplicatePolicy::Remove => true,
            DuplicatePolicy::Keep => false,
            DuplicatePolicy::Auto => cleaned.map.order_id.is_some(),
        };
        self.first_map.get_or_insert(cleaned.map);
        let repeated = self.seen.repeats(&cleaned.keys);
        let repeats = repeated.iter().filter(|&&r| r).count() as u64;
        let mut kept = cleaned.kept;
        if !remove {
            self.identical_rows_kept += repeats;
        } else if repeats > 0 {
            self.duplicates_removed += repeats;
            let keep: BooleanChunked = repeated.iter().map(|&r| !r).collect();
            kept = kept.filter(&keep)?;
        }
        self.rows_rejected += cleaned.rejects.len() as u64;
        for r in &cleaned.rejects {
            *self.rejects_by_reason.entry(r.reason.clone()).or_insert(0) += 1;
        }
        Ok(IngestedBatch {
            kept,
            rejects: cleaned.rejects,
        })
    }

    /// Whether the date layout of `table`'s input is settled: given, or
    /// found in an earlier batch, or in this one (its dates read one way
    /// only). A caller that reads batches holds those that leave it open
    /// (dates like 3/4/2024 only) and adds them once a later batch settles
    /// it, or all together at the end: so the layout is the whole input's,
    /// whatever the batches.
    pub fn settles_dates(&mut self, table: &RawTable) -> Result<bool> {
        if self.config.date_format.is_some() || self.date_formats.contains_key(&table.name) {
            return Ok(true);
        }
        let map = map_columns(&table.columns(), &self.config.map, &table.name)?;
        let dates = typing::tokens_as_missing(table.frame.column(&map.order_date)?)?;
        Ok(match typing::settled_layout(&dates)? {
            Some(Some(layout)) => {
                self.date_formats.insert(table.name.clone(), layout);
                true
            }
            Some(None) => true,
            None => false,
        })
    }

    /// A whole input with its passed-through columns typed over all its
    /// rows, for batches cut from it to keep those types
    /// ([`RawTable::into_batches`]).
    pub fn typed_whole(&mut self, table: RawTable) -> Result<RawTable> {
        self.passthrough_typed.insert(table.name.clone());
        clean::with_passthrough_typed(table, self.config)
    }

    /// Warnings learnt once an input was read to its end (a CSV's byte
    /// order marks inside, repeated headers).
    pub fn warn(&mut self, name: &str, warnings: &[String]) {
        if let Some(input) = self.inputs.iter_mut().rev().find(|i| i.name == name) {
            input.warnings.extend(warnings.iter().cloned());
        }
    }

    /// The counts so far. What happens after the batches (rows kept and
    /// filtered, the kept facts, the customer join) is the caller's to
    /// fill in.
    pub fn report(self) -> QualityReport {
        QualityReport {
            rows_read: self.rows_read,
            rows_kept: 0,
            rows_rejected: self.rows_rejected,
            duplicates_removed: self.duplicates_removed,
            rows_filtered: 0,
            identical_rows_kept: self.identical_rows_kept,
            rejects_by_reason: self.rejects_by_reason,
            rows_with_line_breaks: self.line_breaks.rows,
            longest_field_lines: self.line_breaks.longest_span,
            kept: None,
            column_map: self.first_map.map(|m| m.describe()).unwrap_or_default(),
            delimiter: self.first_text.as_ref().and_then(|(d, _)| d.clone()),
            encoding: self.first_text.and_then(|(_, e)| e),
            customer_join: None,
            inputs: self.inputs,
        }
    }
}

/// Validates, types, concatenates and deduplicates `tables`, and joins the
/// optional customer attribute table.
pub fn ingest(
    tables: Vec<RawTable>,
    customers: Option<RawTable>,
    config: &IngestConfig,
) -> Result<Ingested> {
    let mut ingester = Ingester::new(config);
    let mut kept = Vec::with_capacity(tables.len());
    let mut rejects = Vec::new();
    for table in tables {
        // a batch at a time once the whole input settled its date layout
        // and its passed-through columns' types: the keys and typed columns
        // of one batch at once
        let batches = match ingester.settles_dates(&table)? {
            true => ingester
                .typed_whole(table)?
                .into_batches(config.batch_rows)?,
            false => vec![table],
        };
        let mut slices = Vec::with_capacity(batches.len());
        for table in batches {
            let batch = ingester.add(&table)?;
            slices.push(batch.kept);
            rejects.extend(batch.rejects);
        }
        kept.push(concat_aligned(slices)?);
    }
    let mut transactions = concat_aligned(kept)?;
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

    let kept = if config.kept_facts {
        let mut tally = KeptTally::default();
        tally.add(&transactions)?;
        Some(tally.finish())
    } else {
        None
    };
    let report = QualityReport {
        rows_kept: transactions.height() as u64,
        rows_filtered,
        kept,
        customer_join,
        ..ingester.report()
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
        && optional(PRODUCT, &DataType::String)
        && optional(CATEGORY, &DataType::String)
        && ids_present()
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

/// `frame` (kept rows of an [`Ingester`]) without the internal columns,
/// its source column named if asked.
pub fn finish_columns(frame: DataFrame, config: &IngestConfig) -> Result<DataFrame> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
