//! Transactions → per-customer facts: the aggregates that need every row,
//! gathered by a partitioned group-by on all cores, a batch of rows at a
//! time. [`crate::summary`] derives the customer table from them alone.
//!
//! # The facts table (version 1)
//!
//! One row per customer with a row up to the as-of day, sorted by
//! `customer_id`:
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `customer_id` | text | the customer |
//! | `first_purchase` | date | the first purchase day; null for a customer with only refunds |
//! | `last_purchase` | date | the last purchase day; null likewise |
//! | `orders` | int64 | distinct orders among purchases (a row without an order id is an order) |
//! | `purchase_days` | int64 | distinct purchase days |
//! | `revenue` | float64 | the sum of every row, refunds included |
//! | `first_day_revenue` | float64 | purchases on the first purchase day (without refunds) |
//! | `margin` | float64 | revenue − cost of every row; only when the rows have a cost |
//! | extras | any | columns of the rows that are constant per customer (region) |
//! | `as_of` | date | the analysis day, the same in every row: rows after it are left out |
//! | `facts_version` | uint32 | [`FACTS_VERSION`] |
//!
//! Conventions: a row with negative revenue is a refund; it lowers revenue
//! and margin but is not a purchase, so it does not move the purchase days
//! or the order count. Sums are compensated and rounded to millionths.

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;

use self::firsts::{FirstValues, OutputOrder};
use self::gather::Gatherer;
use crate::io::LINE_COLUMN;
use crate::io::batches::Batches;
use crate::schema::dates::days_since_epoch;
use crate::schema::{CUSTOMER_ID, ORDER_DATE, REVENUE};

mod firsts;
mod gather;
mod partition;
pub mod sql;

/// The version of the facts table's schema: raised when a column changes
/// meaning or goes away (a new column keeps it).
pub const FACTS_VERSION: u32 = 1;

/// `first_purchase`: the first purchase day.
pub const FIRST_PURCHASE: &str = "first_purchase";
/// `last_purchase`: the last purchase day.
pub const LAST_PURCHASE: &str = "last_purchase";
/// `orders`: distinct orders.
pub const ORDERS: &str = "orders";
/// `purchase_days`: distinct purchase days.
pub const PURCHASE_DAYS: &str = "purchase_days";
/// `first_day_revenue`: purchases on the first purchase day.
pub const FIRST_DAY_REVENUE: &str = "first_day_revenue";
/// `margin`: revenue less cost.
pub const MARGIN: &str = "margin";
/// `as_of`: the analysis day.
pub const AS_OF: &str = "as_of";
/// `facts_version`: [`FACTS_VERSION`].
pub const VERSION: &str = "facts_version";

/// The columns every facts table has (`margin` and the extras may be
/// absent).
pub const REQUIRED: [&str; 9] = [
    CUSTOMER_ID,
    FIRST_PURCHASE,
    LAST_PURCHASE,
    ORDERS,
    PURCHASE_DAYS,
    REVENUE,
    FIRST_DAY_REVENUE,
    AS_OF,
    VERSION,
];

/// The facts of some transactions, and what was left out of them.
pub struct Gathered {
    /// The facts table (see the module docs).
    pub table: DataFrame,
    /// The analysis day: the one asked for, else the day after the latest
    /// transaction.
    pub as_of: NaiveDate,
    /// Rows dated after `as_of`, left out.
    pub rows_after_as_of: u64,
}

/// Gathers the facts table of canonical transactions (`customer_id`,
/// `order_date`, `revenue`; `order_id`, `cost` and attributes when there)
/// up to `as_of`, by default the day after the latest transaction.
pub fn gather(source: &Batches, as_of: Option<NaiveDate>) -> Result<Gathered> {
    let mut builder = FactsBuilder::new(&source.column_names(), as_of)?;
    builder.gatherer.add_all(source)?;
    builder.finish()
}

/// The facts of transactions that come a batch at a time, from a reader
/// that never holds them all ([`gather`] on a source that can be read
/// again): [`FactsBuilder::add`] each batch, in the input's order, then
/// [`FactsBuilder::finish`]. Only what is kept per customer grows.
pub struct FactsBuilder {
    as_of: Option<NaiveDate>,
    gatherer: Gatherer,
}

/// The last day a default as-of day can be: a four-digit date every tool
/// reads (rows after it are left out, for dates no export has).
fn last_as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

impl FactsBuilder {
    /// Facts up to `as_of` of transactions with the columns `columns`
    /// (every batch has them, in any order).
    pub fn new(columns: &[String], as_of: Option<NaiveDate>) -> Result<FactsBuilder> {
        for required in [CUSTOMER_ID, ORDER_DATE, REVENUE] {
            if !columns.iter().any(|c| c == required) {
                bail!(
                    "column '{required}' not found (found: {}); run the input through cpm \
                     ingest, or map it with --map",
                    columns.join(", ")
                );
            }
        }
        // without a day asked for, the default (the day after the latest
        // transaction) is found in the same pass: no row is after it, so
        // the cap leaves none out, unless the latest is past the cap
        let cap = days_since_epoch(as_of.unwrap_or_else(last_as_of));
        Ok(FactsBuilder {
            as_of,
            gatherer: Gatherer::new(columns, cap, BATCHING),
        })
    }

    /// Makes room up front for about `rows` rows in all (a hint).
    pub fn expect_rows(&mut self, rows: usize) {
        self.gatherer.expect_rows(rows);
    }

    /// Adds the next batch of rows.
    pub fn add(&mut self, rows: &DataFrame) -> Result<()> {
        let batch = self.gatherer.batching.rows;
        for start in (0..rows.height()).step_by(batch) {
            self.gatherer.add(&rows.slice(start as i64, batch))?;
        }
        Ok(())
    }

    /// The facts table of every row added.
    pub fn finish(self) -> Result<Gathered> {
        let facts = self.gatherer.finish();
        let as_of = match self.as_of {
            Some(day) => day,
            None => {
                // 1970-01-02 for no rows, at most the cap
                let latest = facts.latest_day.unwrap_or(0);
                let after = NaiveDate::default() + chrono::Duration::days(i64::from(latest) + 1);
                after.min(last_as_of())
            }
        };
        facts.into_table(as_of)
    }
}

impl Facts {
    /// The facts table, as of `as_of`.
    fn into_table(self, as_of: NaiveDate) -> Result<Gathered> {
        let facts = self;
        let rows_after_as_of = facts.rows_after_as_of;
        let order = OutputOrder::new(&facts)?;
        let codes = &order.output_codes;
        let extras = facts
            .constant_extras()
            .iter()
            .map(|extra| order.for_output(extra))
            .collect::<Result<Vec<_>>>()?;
        // no purchase: no purchase days
        let day = |days: &[i32], none: i32| -> Result<Column> {
            let days: Int32Chunked = codes
                .iter()
                .map(|&c| Some(days[c as usize]).filter(|&d| d != none))
                .collect();
            Ok(days.into_column().cast(&DataType::Date)?)
        };
        let mut columns = vec![
            order.ids.clone(),
            day(&facts.first_day, i32::MAX)?.with_name(FIRST_PURCHASE.into()),
            day(&facts.last_day, i32::MIN)?.with_name(LAST_PURCHASE.into()),
            Column::new(ORDERS.into(), pick(codes, &facts.orders)),
            Column::new(PURCHASE_DAYS.into(), pick(codes, &facts.purchase_days)),
            Column::new(REVENUE.into(), pick(codes, &facts.revenue)),
            Column::new(
                FIRST_DAY_REVENUE.into(),
                pick(codes, &facts.first_day_revenue),
            ),
        ];
        if let Some(margin) = &facts.margin {
            columns.push(Column::new(MARGIN.into(), pick(codes, margin)));
        }
        drop(facts);
        columns.extend(extras);
        let height = codes.len();
        columns.push(
            Column::new(AS_OF.into(), vec![days_since_epoch(as_of); height])
                .cast(&DataType::Date)?,
        );
        columns.push(Column::new(VERSION.into(), vec![FACTS_VERSION; height]));
        Ok(Gathered {
            table: DataFrame::new(height, columns)?,
            as_of,
            rows_after_as_of,
        })
    }
}

/// The analysis day of a facts table, checked against the one `asked`
/// for: facts of another day need the transactions (a usage error). A
/// table of a newer [`FACTS_VERSION`] is refused. An empty table takes the
/// day asked for, else 1970-01-02 (as no transactions do).
pub fn checked_as_of(facts: &DataFrame, asked: Option<NaiveDate>) -> Result<NaiveDate> {
    let version = facts.column(VERSION)?.cast(&DataType::UInt32)?;
    if let Some(newer) = version.u32()?.iter().flatten().find(|&v| v > FACTS_VERSION) {
        bail!(
            "a facts table of version {newer}, made by a newer cpm (this one reads version \
             {FACTS_VERSION})"
        );
    }
    let days = facts.column(AS_OF)?.cast(&DataType::Int32)?;
    let made = days
        .i32()?
        .iter()
        .flatten()
        .next()
        .map(|d| NaiveDate::default() + chrono::Duration::days(i64::from(d)));
    match (asked, made) {
        (Some(asked), Some(made)) if asked != made => bail!(crate::error::usage(format!(
            "as of {asked}: these facts were gathered as of {made}; the facts of another day \
             need the transactions"
        ))),
        (Some(day), _) | (None, Some(day)) => Ok(day),
        (None, None) => Ok(NaiveDate::default() + chrono::Duration::days(1)),
    }
}

/// Whether `frame` is a facts table (it has every [`REQUIRED`] column).
pub fn is_facts_table(frame: &DataFrame) -> bool {
    REQUIRED.iter().all(|name| frame.column(name).is_ok())
}

/// A facts table as read from `file`, its columns given their types (a
/// CSV holds text; other columns are inferred, as attributes are). A value
/// of the wrong type is an error naming the file and the column.
pub fn typed(frame: &DataFrame, file: &str) -> Result<DataFrame> {
    let columns = frame
        .columns()
        .iter()
        .filter(|c| c.name().as_str() != LINE_COLUMN)
        .map(|column| {
            let name = column.name().as_str();
            let wanted = match name {
                CUSTOMER_ID => DataType::String,
                FIRST_PURCHASE | LAST_PURCHASE | AS_OF => DataType::Date,
                ORDERS | PURCHASE_DAYS => DataType::Int64,
                REVENUE | FIRST_DAY_REVENUE | MARGIN => DataType::Float64,
                VERSION => DataType::UInt32,
                _ => return crate::ingest::typing::infer_type(column),
            };
            let text_date = wanted == DataType::Date && column.dtype() == &DataType::String;
            let given = if text_date {
                crate::ingest::typing::infer_type(column)?
            } else {
                column.clone()
            };
            let typed = if text_date && given.dtype() == &DataType::String {
                None
            } else {
                given.strict_cast(&wanted).ok()
            };
            typed.ok_or_else(|| {
                crate::error::InputError::file(
                    file,
                    format!("a facts table's {name} holds {wanted} values; these are not"),
                )
                .in_column(name)
                .into()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DataFrame::new(frame.height(), columns)?)
}

/// The values of the customers `codes`, in that order.
fn pick<T: Copy>(codes: &[u32], values: &[T]) -> Vec<T> {
    codes.iter().map(|&c| values[c as usize]).collect()
}

/// The columns [`crate::summary::summarize`] reads from canonical transactions whose first
/// rows are `head`: the canonical ones it has, and the others whose value
/// is constant per customer in `head` (the only ones that can pass through).
pub fn columns_needed(head: &DataFrame) -> Result<Vec<String>> {
    let source = Batches::Frame(head);
    let facts = Facts::gather(&source, i32::MAX, BATCHING)?;
    // the canonical columns but the line numbers, which no later pass reads
    let mut needed: Vec<String> = (gather::CANONICAL.into_iter())
        .filter(|name| *name != LINE_COLUMN && head.column(name).is_ok())
        .map(str::to_string)
        .collect();
    needed.extend(facts.constant_extras().iter().map(|c| c.name().to_string()));
    Ok(needed)
}

/// Per-customer facts, indexed by customer code, and each customer's
/// first row.
///
/// This is the hot path of `segment`: a group-by with a dozen aggregations
/// over millions of rows is slow in polars (distinct counts and filters per
/// group take its generic path). Here rows are read in batches; each batch
/// is cut into blocks, and each block, on some core, turns its rows into
/// compact records and hands each record to one of [`PARTITIONS`] by the
/// hash of its customer id. Each partition then, on some core, codes its
/// customers with a small hash table and adds up their facts: everything
/// it touches stays in cache. Distinct purchase days and orders are counted
/// at the end by sorting integer keys. Code numbers depend on the
/// partitioning; the facts do not.
///
/// Customers are told apart by a 128-bit hash of their id (XXH3-128), not
/// by comparing the ids: the chance that two distinct ids among a billion
/// share one is below 10^-20.
struct Facts {
    /// Rows after the as-of day, left out.
    rows_after_as_of: u64,
    /// The latest day of all rows, those after the as-of day too.
    latest_day: Option<i32>,
    first_row: Vec<IdxSize>,
    /// `i32::MAX` for a customer with no purchase (only refunds).
    first_day: Vec<i32>,
    last_day: Vec<i32>,
    revenue: Vec<f64>,
    /// Purchases on the first purchase day.
    first_day_revenue: Vec<f64>,
    margin: Option<Vec<f64>>,
    orders: Vec<i64>,
    purchase_days: Vec<i64>,
    /// The customers' first rows, their ids and their extra columns.
    firsts: FirstValues,
}

/// Rows per batch: bounds the memory the records of a batch take. A
/// multiple of [`BLOCK`].
const BATCH: usize = 1 << 21;

/// Rows of a canonical Parquet input above which the commands that read
/// the transactions once (segment, value, allocate) summarise it a batch
/// at a time ([`crate::summary::summarize_batches`]) instead of reading it
/// whole: each batch is decoded once either way, and only one batch of
/// transactions is ever in memory (less fresh memory for the kernel to
/// clear, so it is faster too).
pub const STREAM_ABOVE: usize = BATCH;

/// [`STREAM_ABOVE`] for the report, which reads the transactions three
/// times (facts, KPIs and cohorts, the previous period's facts): below
/// this, one whole read is cheaper than three in batches; beyond it the
/// transactions, not the customers, would fill the memory.
pub const REPORT_STREAM_ABOVE: usize = COMPACT_ABOVE;

/// Rows above which the facts keep each partition's purchases compacted
/// (sorted, repeats removed) after every batch, so that they grow with
/// distinct (customer, day, order) triples rather than rows; below it,
/// room for all of them is made up front, which is faster.
const COMPACT_ABOVE: usize = 1 << 24;

/// How [`Facts::gather`] reads: rows per batch, and the number of rows
/// above which purchases are compacted after each batch.
#[derive(Clone, Copy)]
struct Batching {
    rows: usize,
    compact_above: usize,
}

/// Batches of [`BATCH`] rows, compacted past [`COMPACT_ABOVE`] rows.
const BATCHING: Batching = Batching {
    rows: BATCH,
    compact_above: COMPACT_ABOVE,
};

impl Facts {
    /// The facts of the rows of `source` up to `as_of_days`, read
    /// `batching.rows` (a multiple of [`BLOCK`]) at a time.
    fn gather(source: &Batches, as_of_days: i32, batching: Batching) -> Result<Facts> {
        let mut gatherer = Gatherer::new(&source.column_names(), as_of_days, batching);
        gatherer.add_all(source)?;
        Ok(gatherer.finish())
    }

    /// The extra columns whose value never changes within a customer
    /// (attributes such as region): each customer's value of them, in the
    /// order of its first row.
    fn constant_extras(&self) -> Vec<Column> {
        self.firsts
            .extras
            .iter()
            .filter(|extra| !extra.varies)
            .map(|extra| extra.values.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::partition::BLOCK;
    use super::*;
    use crate::schema::ORDER_ID;
    use crate::summary::{SummaryConfig, summarize, summarize_batches};

    /// Random transactions: `rows` rows of `customers` customers over a
    /// year, with refunds, same-day purchases and orders of several lines,
    /// which mostly follow one another (a refund line among them too) but
    /// also come back after other orders' lines.
    fn random_transactions(rows: usize, customers: u32) -> DataFrame {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut ids = Vec::with_capacity(rows);
        let (mut days, mut revenue, mut orders) = (Vec::new(), Vec::new(), Vec::new());
        let (mut customer, mut day, mut order) = (0, 0, 0);
        for row in 0..rows {
            // half the rows are another line of the previous row's order
            if row == 0 || rng.random_bool(0.5) {
                customer = rng.random_range(0..customers);
                day = 19_000 + rng.random_range(0..365);
                order = rng.random_range(0..8);
            }
            ids.push(format!("c{customer}"));
            days.push(day);
            let amount = f64::from(rng.random_range(-200..2_000)) / 100.0;
            revenue.push(amount);
            orders.push(format!("{customer}-{order}"));
        }
        let dates = Series::new(ORDER_DATE.into(), days)
            .cast(&DataType::Date)
            .unwrap();
        DataFrame::new(
            rows,
            vec![
                Column::new(CUSTOMER_ID.into(), ids),
                dates.into_column(),
                Column::new(REVENUE.into(), revenue),
                Column::new(ORDER_ID.into(), orders),
            ],
        )
        .unwrap()
    }

    #[test]
    fn the_default_as_of_is_found_in_the_same_pass_and_capped_at_9999() {
        let day = |y, m, d| days_since_epoch(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        let frame = |last: i32| {
            let dates = Series::new(ORDER_DATE.into(), [day(2024, 1, 1), last])
                .cast(&DataType::Date)
                .unwrap();
            DataFrame::new(
                2,
                vec![
                    Column::new(CUSTOMER_ID.into(), ["a", "b"]),
                    dates.into_column(),
                    Column::new(REVENUE.into(), [1.0, 2.0]),
                ],
            )
            .unwrap()
        };
        let gathered = |last| gather(&Batches::Frame(&frame(last)), None).unwrap();
        let usual = gathered(day(2024, 3, 1));
        assert_eq!(usual.as_of, NaiveDate::from_ymd_opt(2024, 3, 2).unwrap());
        assert_eq!((usual.table.height(), usual.rows_after_as_of), (2, 0));
        let cap = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();
        let on_the_cap = gathered(day(9999, 12, 31));
        assert_eq!(on_the_cap.as_of, cap);
        assert_eq!(on_the_cap.rows_after_as_of, 0);
        let past_it = gathered(day(10000, 1, 1));
        assert_eq!(past_it.as_of, cap);
        assert_eq!((past_it.table.height(), past_it.rows_after_as_of), (1, 1));
    }

    #[test]
    fn an_extra_that_changes_in_a_later_batch_is_not_constant() {
        let mut frame = random_transactions(3 * BLOCK + 77, 5_000);
        let ids: Vec<String> = frame
            .column(CUSTOMER_ID)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|id| id.unwrap_or_default().to_string())
            .collect();
        // region follows the customer; channel too, except on the last row,
        // whose customer was first seen in an earlier batch
        let region: Vec<String> = ids.iter().map(|id| format!("r{}", id.len() % 3)).collect();
        let mut channel = region.clone();
        let last = ids.len() - 1;
        assert!(ids[..3 * BLOCK].contains(&ids[last]));
        channel[last] = "other".to_string();
        frame
            .with_column(Column::new("region".into(), region))
            .unwrap();
        frame
            .with_column(Column::new("channel".into(), channel))
            .unwrap();
        let batching = Batching {
            rows: BLOCK,
            compact_above: 0,
        };
        for batching in [batching, BATCHING] {
            let facts = Facts::gather(&Batches::Frame(&frame), i32::MAX, batching).unwrap();
            let names: Vec<String> = facts
                .constant_extras()
                .iter()
                .map(|c| c.name().to_string())
                .collect();
            assert_eq!(names, ["region"]);
        }
    }

    #[test]
    fn a_parquet_file_read_in_batches_gives_the_same_facts() {
        let mut frame = random_transactions(3 * BLOCK + 77, 5_000);
        frame
            .with_column(Column::new("region".into(), vec!["north"; frame.height()]))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .with_row_group_size(Some(10_000))
            .finish(&mut frame.clone())
            .unwrap();
        let file = crate::io::batches::ParquetFile::open(&path, "t.parquet").unwrap();
        assert_eq!(file.rows(), frame.height());
        // slices across row groups read what the frame holds
        let slice = file
            .read(BLOCK - 5, 20_000, &[CUSTOMER_ID, REVENUE])
            .unwrap();
        let on_disk = Batches::Parquet(file);
        assert!(
            slice.equals(
                &frame
                    .slice((BLOCK - 5) as i64, 20_000)
                    .select([CUSTOMER_ID, REVENUE])
                    .unwrap()
            )
        );
        let batching = Batching {
            rows: BLOCK,
            compact_above: 0,
        };
        let as_of = 19_300;
        let from_disk = Facts::gather(&on_disk, as_of, batching).unwrap();
        let in_memory = Facts::gather(&Batches::Frame(&frame), as_of, BATCHING).unwrap();
        assert_eq!(from_disk.first_row, in_memory.first_row);
        assert_eq!(from_disk.firsts.codes, in_memory.firsts.codes);
        assert_eq!(from_disk.orders, in_memory.orders);
        assert_eq!(from_disk.purchase_days, in_memory.purchase_days);
        assert_eq!(from_disk.revenue, in_memory.revenue);
        let config = SummaryConfig::default();
        let a = summarize_batches(&on_disk, &config).unwrap();
        let b = summarize(&frame, &config).unwrap();
        assert!(a.customers.equals(&b.customers));
        assert!(a.customers.column("region").is_ok());
        // an Arrow IPC stream and file of several record batches, read
        // one batch at a time, give the same customers
        let mut chunked = frame.slice(0, 1_000);
        for start in (1_000..frame.height()).step_by(9_000) {
            chunked
                .vstack_mut(&frame.slice(start as i64, 9_000))
                .unwrap();
        }
        for (name, stream) in [("t.arrows", true), ("t.arrow", false)] {
            let path = dir.path().join(name);
            let out = std::fs::File::create(&path).unwrap();
            if stream {
                IpcStreamWriter::new(out)
                    .finish(&mut chunked.clone())
                    .unwrap();
            } else {
                IpcWriter::new(out).finish(&mut chunked.clone()).unwrap();
            }
            let file = crate::io::batches::IpcFile::open(&path, name, stream).unwrap();
            let ipc = Batches::Ipc(file);
            assert_eq!(ipc.rows().unwrap(), frame.height());
            let c = summarize_batches(&ipc, &config).unwrap();
            assert!(c.customers.equals(&b.customers), "{name}");
        }
    }

    #[test]
    fn facts_match_a_plain_computation_in_any_batch_size() {
        use std::collections::{BTreeMap, BTreeSet};
        let frame = random_transactions(3 * BLOCK + 123, 20_000);
        let as_of = 19_300;
        // the plain way: per customer, sets and sums
        #[derive(Default)]
        struct Plain {
            days: BTreeSet<i32>,
            orders: BTreeSet<String>,
            revenue: f64,
            last: i32,
            purchases: Vec<(i32, f64)>,
        }
        let mut plain: BTreeMap<String, Plain> = BTreeMap::new();
        let ids = frame.column(CUSTOMER_ID).unwrap().str().unwrap().clone();
        let days = frame
            .column(ORDER_DATE)
            .unwrap()
            .cast(&DataType::Int32)
            .unwrap();
        let revenue = frame.column(REVENUE).unwrap().f64().unwrap().clone();
        let orders = frame.column(ORDER_ID).unwrap().str().unwrap().clone();
        let mut after = 0;
        for row in 0..frame.height() {
            let day = days.i32().unwrap().get(row).unwrap();
            if day > as_of {
                after += 1;
                continue;
            }
            let p = plain.entry(ids.get(row).unwrap().to_string()).or_default();
            let value = revenue.get(row).unwrap();
            p.revenue += value;
            if value >= 0.0 {
                p.days.insert(day);
                p.orders.insert(orders.get(row).unwrap().to_string());
                p.last = p.last.max(day);
                p.purchases.push((day, value));
            }
        }
        let source = Batches::Frame(&frame);
        // a batch per block, purchases compacted after each
        let batched = Batching {
            rows: BLOCK,
            compact_above: 0,
        };
        let batched = Facts::gather(&source, as_of, batched).unwrap();
        let whole = Facts::gather(&source, as_of, BATCHING).unwrap();
        assert_eq!(batched.firsts.codes, whole.firsts.codes);
        assert_eq!(batched.first_row, whole.first_row);
        assert_eq!(batched.orders, whole.orders);
        assert_eq!(batched.purchase_days, whole.purchase_days);
        assert_eq!(whole.rows_after_as_of, after);
        assert_eq!(whole.first_row.len(), plain.len());
        for (c, &row) in whole.first_row.iter().enumerate() {
            let p = &plain[ids.get(row as usize).unwrap()];
            assert_eq!(whole.orders[c], p.orders.len() as i64);
            assert_eq!(whole.purchase_days[c], p.days.len() as i64);
            assert!((whole.revenue[c] - p.revenue).abs() < 1e-6);
            if let Some(&first) = p.days.first() {
                assert_eq!(whole.last_day[c], p.last);
                assert_eq!(whole.first_day[c], first);
                let on_first: f64 = p
                    .purchases
                    .iter()
                    .filter(|(d, _)| *d == first)
                    .map(|(_, v)| v)
                    .sum();
                assert!((whole.first_day_revenue[c] - on_first).abs() < 1e-6);
            }
        }
        // the first rows, ascending, with their customers and ids
        let firsts = &whole.firsts;
        let rows: Vec<IdxSize> = firsts
            .codes
            .iter()
            .map(|&code| whole.first_row[code as usize])
            .collect();
        assert!(rows.is_sorted());
        assert_eq!(rows.len(), plain.len());
        let first_ids = firsts.ids.as_ref().unwrap().str().unwrap();
        for (i, &row) in rows.iter().enumerate() {
            assert_eq!(first_ids.get(i), ids.get(row as usize));
        }
    }
}
