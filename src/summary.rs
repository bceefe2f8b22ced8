//! Transactions → one row per customer: the facts every later step reads.
//! This is the one place recency, frequency, monetary value, tenure and
//! margin are computed.
//!
//! Conventions: a row with negative revenue is a refund; it lowers revenue
//! and margin but is not a purchase, so it does not move first/last order,
//! the order count or the purchase days. `repeat_purchases` counts distinct
//! purchase days − 1 (the BTYD convention: same-day purchases are one);
//! `mean_repeat_value` is the spend after the first purchase day (refunds,
//! wherever dated, count against it) per repeat purchase day: the BTYD
//! monetary value the Gamma-Gamma model is fitted on.

use anyhow::{Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::io::LINE_COLUMN;
use crate::io::batches::Batches;
use crate::schema::dates::days_since_epoch;
use crate::schema::{COST, CUSTOMER_ID, ORDER_DATE, ORDER_ID, REVENUE};

/// The unit of `first_to_last` and `tenure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Days.
    #[default]
    Day,
    /// Weeks (days / 7), the unit of the BG/NBD papers.
    Week,
}

impl TimeUnit {
    /// Days per unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
        }
    }
}

/// How to summarise.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryConfig {
    /// The analysis day; default: the day after the latest transaction.
    /// Transactions after it are excluded (and counted).
    pub as_of: Option<NaiveDate>,
    /// Unit of `first_to_last` and `tenure`.
    pub time_unit: TimeUnit,
}

/// The customer table and what was left out of it.
pub struct Summary {
    /// One row per customer, sorted by `customer_id`.
    pub customers: DataFrame,
    /// The analysis day used.
    pub as_of: NaiveDate,
    /// Transactions dated after `as_of`, excluded.
    pub transactions_after_as_of: u64,
    /// Customers whose only rows in the window are refunds, excluded.
    pub customers_without_purchases: u64,
}

/// Summarises canonical transactions into the customer table. Columns that
/// are constant for every customer (attributes joined by ingest, such as
/// region) pass through; per-transaction columns do not.
pub fn summarize(transactions: &DataFrame, config: &SummaryConfig) -> Result<Summary> {
    summarize_batches(&Batches::Frame(transactions), config)
}

/// [`summarize`] on transactions read a batch at a time: a Parquet file
/// larger than memory is summarised in memory that grows with its
/// customers, not its rows.
pub fn summarize_batches(source: &Batches, config: &SummaryConfig) -> Result<Summary> {
    for required in [CUSTOMER_ID, ORDER_DATE, REVENUE] {
        if !source.has(required) {
            bail!(
                "column '{required}' not found (found: {}); run the input through cpm ingest, \
                 or map it with --map",
                source.column_names().join(", ")
            );
        }
    }
    let as_of = match config.as_of {
        Some(day) => day,
        // the day after the latest transaction (1970-01-02 for no rows),
        // at most 9999-12-31: a four-digit date every tool reads
        None => {
            let latest = latest_day(source)?.unwrap_or(0);
            let after = NaiveDate::default() + chrono::Duration::days(i64::from(latest) + 1);
            after.min(NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX))
        }
    };
    let as_of_days = days_since_epoch(as_of);
    let facts = Facts::gather(source, as_of_days, BATCHING)?;

    let unit = config.time_unit.days();
    let firsts = OutputOrder::new(&facts)?;
    // customers in the order of the output: by id, buyers only
    let buyers = &firsts.output_codes;
    let customers_without_purchases = (facts.first_row.len() - buyers.len()) as u64;
    let transactions_after_as_of = facts.rows_after_as_of;
    let extras = facts
        .constant_extras()
        .iter()
        .map(|extra| firsts.for_output(extra))
        .collect::<Result<Vec<_>>>()?;
    let first = pick(buyers, &facts.first_day);
    let last = pick(buyers, &facts.last_day);
    let orders = pick(buyers, &facts.orders);
    let revenue = pick(buyers, &facts.revenue);
    let repeats: Vec<i64> = pick(buyers, &facts.purchase_days)
        .into_iter()
        .map(|days| days - 1)
        .collect();
    let first_day_revenue = pick(buyers, &facts.first_day_revenue);
    let margin = facts.margin.as_ref().map(|margin| pick(buyers, margin));
    let sums = [("revenue", &revenue)]
        .into_iter()
        .chain(margin.as_ref().map(|m| ("margin", m)));
    for (name, values) in sums {
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            bail!(
                "the {name} of customer '{}' does not add up to a number (its amounts sum \
                 past ±1.8e308): check them",
                firsts.ids.get(at)?.str_value()
            );
        }
    }
    // the facts go before the columns are made, and each column takes its
    // vector without a copy: at 7.5 M customers, 0.5 GB less is live then
    drop(facts);

    // spend after the first purchase day (refunds count against it), per
    // repeat purchase day; 0 for one-time buyers, as in lifetimes
    let mean_repeat_value: Vec<f64> = repeats
        .iter()
        .zip(&revenue)
        .zip(first_day_revenue)
        .map(|((&x, total), first_day)| {
            if x > 0 {
                (((total - first_day) / x as f64) * 1e6).round() / 1e6
            } else {
                0.0
            }
        })
        .collect();
    let avg_order_value: Vec<f64> = revenue
        .iter()
        .zip(&orders)
        .map(|(r, o)| r / *o as f64)
        .collect();
    let days_since_last: Vec<i64> = last.iter().map(|d| i64::from(as_of_days - d)).collect();
    let first_to_last: Vec<f64> = first
        .iter()
        .zip(&last)
        .map(|(f, l)| f64::from(l - f) / unit)
        .collect();
    let tenure: Vec<f64> = first
        .iter()
        .map(|f| f64::from(as_of_days - f) / unit)
        .collect();
    let date = |name: &str, days: Vec<i32>| -> Result<Column> {
        Ok(Column::new(name.into(), days).cast(&DataType::Date)?)
    };
    let mut columns = vec![
        firsts.ids.clone(),
        date("first_order", first)?,
        date("last_order", last)?,
        Column::new("orders".into(), orders),
        Column::new("revenue".into(), revenue),
        Column::new("avg_order_value".into(), avg_order_value),
        Column::new("days_since_last".into(), days_since_last),
        Column::new("repeat_purchases".into(), repeats),
        Column::new("first_to_last".into(), first_to_last),
        Column::new("tenure".into(), tenure),
        Column::new("mean_repeat_value".into(), mean_repeat_value),
    ];
    if let Some(margin) = margin {
        columns.push(Column::new("margin".into(), margin));
    }
    columns.extend(extras);
    let customers = DataFrame::new(buyers.len(), columns)?;
    Ok(Summary {
        customers,
        as_of,
        transactions_after_as_of,
        customers_without_purchases,
    })
}

/// The values of the customers `codes`, in that order.
fn pick<T: Copy>(codes: &[u32], values: &[T]) -> Vec<T> {
    codes.iter().map(|&c| values[c as usize]).collect()
}

/// The latest order date of `source`, in days since 1970-01-01.
fn latest_day(source: &Batches) -> Result<Option<i32>> {
    let mut latest = None;
    for start in (0..source.height()).step_by(BATCH) {
        let part = source.read(start, BATCH, &[ORDER_DATE])?;
        let days = part.column(ORDER_DATE)?.cast(&DataType::Int32)?;
        latest = latest.max(days.i32()?.max());
    }
    Ok(latest)
}

/// The day (since 1970-01-01) of every repeat purchase up to `as_of` of the
/// customers whose first purchase is on or before `born_by`: each
/// customer's distinct purchase days after the first (a refund is no
/// purchase), as `repeat_purchases` counts them. What holdout tracking
/// curves add up.
pub fn repeat_purchase_days(
    transactions: &DataFrame,
    as_of: NaiveDate,
    born_by: NaiveDate,
) -> Result<Vec<i32>> {
    let day = col(ORDER_DATE).cast(DataType::Int32);
    let days = transactions
        .clone()
        .lazy()
        .filter(
            col(REVENUE)
                .gt_eq(lit(0.0))
                .and(day.clone().lt_eq(lit(days_since_epoch(as_of)))),
        )
        .select([col(CUSTOMER_ID), day.alias("day")])
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(col("day").min().over([col(CUSTOMER_ID)])?.alias("first"))
        .filter(
            col("day")
                .gt(col("first"))
                .and(col("first").lt_eq(lit(days_since_epoch(born_by)))),
        )
        .select([col("day")])
        .collect()?;
    Ok(days.column("day")?.i32()?.into_no_null_iter().collect())
}

/// The columns [`summarize`] reads from canonical transactions whose first
/// rows are `head`: the canonical ones it has, and the others whose value
/// is constant per customer in `head` (the only ones that can pass through).
pub fn columns_needed(head: &DataFrame) -> Result<Vec<String>> {
    let source = Batches::Frame(head);
    let facts = Facts::gather(&source, i32::MAX, BATCHING)?;
    let mut needed: Vec<String> = [CUSTOMER_ID, ORDER_DATE, REVENUE, ORDER_ID, COST]
        .into_iter()
        .filter(|name| head.column(name).is_ok())
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

/// How many partitions customers are split into: enough that each
/// partition's hash table and accumulators stay in cache and both cores
/// have work. A power of two. 256, not 64: 7.5 M customers (50 M lines)
/// are 30 k a partition, whose ~90 bytes each stay in the L2 cache (facts
/// 8.9-10.1 -> 8.5-8.6 s, 100 MB less; no change at 10 M lines).
const PARTITIONS: usize = 256;

/// Bits of a code that number the customers within a partition (16.7 M, so
/// 4 billion customers in all); the bits above them name the partition,
/// until codes are made global.
const LOCAL_BITS: u32 = u32::BITS - PARTITIONS.trailing_zeros();
const _: () = assert!(PARTITIONS.is_power_of_two() && LOCAL_BITS >= 20);

/// The code of customer `local` of partition `partition`, until codes are
/// made global.
fn partition_code(partition: usize, local: usize) -> u32 {
    (partition as u32) << LOCAL_BITS | local as u32
}

/// The (partition, local) parts of a [`partition_code`].
fn split_code(code: u32) -> (usize, usize) {
    (
        (code >> LOCAL_BITS) as usize,
        (code & ((1 << LOCAL_BITS) - 1)) as usize,
    )
}

/// Rows per batch: bounds the memory the records of a batch take. A
/// multiple of [`BLOCK`].
const BATCH: usize = 1 << 21;

/// Rows of a canonical Parquet input above which the commands that read
/// the transactions once (segment, value, allocate) summarise it a batch
/// at a time ([`summarize_batches`]) instead of reading it whole: each
/// batch is decoded once either way, and only one batch of transactions is
/// ever in memory (`cpm segment` of 10 M lines: 2.5-3.1 -> 2.3 s, peak RSS
/// 1.5 -> 0.89 GB: less fresh memory for the kernel to clear).
pub const STREAM_ABOVE: usize = BATCH;

/// [`STREAM_ABOVE`] for the report, which reads the transactions three
/// times (facts, KPIs and cohorts, the previous period's facts): below
/// this, one whole read is cheaper (10 M lines: 5.9-6.0 s whole against
/// 6.3-6.7 s in batches); beyond it the transactions, not the customers,
/// would fill the memory.
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

/// Rows per block, the unit of parallel work within a batch.
const BLOCK: usize = 1 << 16;

/// One row as a partition reads it.
#[derive(Clone, Copy)]
struct Record {
    /// The 128-bit hash of the customer id.
    customer: u128,
    revenue: f64,
    /// 0 without a cost column.
    cost: f64,
    /// The 64-bit hash of the order id; rows without one get a key of
    /// their own, so they count as an order each.
    order: u64,
    row: u32,
    day: i32,
}

impl Record {
    /// The partition of the customer. Bits from the middle: hashbrown uses
    /// the top bits for its control bytes and the low ones for buckets.
    fn partition(&self) -> usize {
        (self.customer >> 32) as usize % PARTITIONS
    }
}

/// The records of one block of rows, by partition.
struct Block {
    start: usize,
    members: Vec<Vec<Record>>,
}

impl Facts {
    /// The facts of the rows up to `as_of_days`, read `batch` rows (a
    /// multiple of [`BLOCK`]) at a time.
    fn gather(source: &Batches, as_of_days: i32, batching: Batching) -> Result<Facts> {
        let batch = batching.rows;
        let extras: Vec<String> = source
            .column_names()
            .into_iter()
            .filter(|name| !CANONICAL.contains(&name.as_str()))
            .collect();
        let columns: Vec<&str> = [CUSTOMER_ID, ORDER_DATE, REVENUE, ORDER_ID, COST]
            .into_iter()
            .filter(|name| source.has(name))
            .chain(extras.iter().map(String::as_str))
            .collect();
        let mut firsts = FirstValues::new(extras.clone());
        let with_cost = source.has(COST);
        let height = source.height();
        // each row's (partition, local) code in the batch being read
        let mut codes = vec![u32::MAX; height.min(batch)];
        let mut rows_after_as_of = 0u64;
        // room for every purchase when the rows fit in memory; past that,
        // purchases are compacted as they come (see Partition::compact)
        let room = height.min(batching.compact_above.max(batch)) / PARTITIONS;
        let mut partitions: Vec<Partition> = (0..PARTITIONS)
            .map(|_| Partition::new(with_cost, room))
            .collect();
        for batch_start in (0..height).step_by(batch) {
            let batch_codes = &mut codes[..batch.min(height - batch_start)];
            batch_codes.fill(u32::MAX);
            let rows = source.read(batch_start, batch, &columns)?;
            for name in [CUSTOMER_ID, ORDER_DATE, REVENUE] {
                no_empty(rows.column(name)?, batch_start)?;
            }
            let blocks: Vec<Block> = (0..batch_codes.len())
                .step_by(BLOCK)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|start| Block::read(&rows, start, batch_start, as_of_days))
                .collect::<Result<_>>()?;
            let known: Vec<usize> = partitions.iter().map(|p| p.first_row.len()).collect();
            // each partition codes and adds up its records, in row order
            let local_codes: Vec<Vec<u32>> = partitions
                .par_iter_mut()
                .enumerate()
                .map(|(p, part)| {
                    let count = blocks.iter().map(|b| b.members[p].len()).sum();
                    part.absorb(blocks.iter().flat_map(|b| &b.members[p]), count)
                })
                .collect();
            // each block writes its rows' codes: (partition, local code); the
            // block's records of partition p start at taken[block][p] in
            // local_codes[p]
            let mut next = vec![0usize; PARTITIONS];
            let taken: Vec<Vec<usize>> = blocks
                .iter()
                .map(|block| {
                    let taken = next.clone();
                    for (n, records) in next.iter_mut().zip(&block.members) {
                        *n += records.len();
                    }
                    taken
                })
                .collect();
            batch_codes
                .par_chunks_mut(BLOCK)
                .zip(blocks.par_iter().zip(&taken))
                .for_each(|(out, (block, taken))| {
                    for (p, records) in block.members.iter().enumerate() {
                        let local = &local_codes[p][taken[p]..taken[p] + records.len()];
                        for (record, &code) in records.iter().zip(local) {
                            out[record.row as usize - block.start] =
                                partition_code(p, code as usize);
                        }
                    }
                });
            rows_after_as_of += batch_codes.iter().filter(|&&c| c == u32::MAX).count() as u64;
            firsts.add_batch(&rows, batch_start, &partitions, &known, batch_codes)?;
            if height > batching.compact_above {
                partitions.par_iter_mut().for_each(Partition::compact);
            }
        }

        let offsets: Vec<u32> = partitions
            .iter()
            .scan(0u32, |next, part| {
                let offset = *next;
                *next += part.first_row.len() as u32;
                Some(offset)
            })
            .collect();
        firsts.make_codes_global(&offsets);
        let finished: Vec<Partition> = partitions.into_par_iter().map(Partition::finish).collect();
        let mut facts = Facts {
            rows_after_as_of,
            first_row: Vec::new(),
            first_day: Vec::new(),
            last_day: Vec::new(),
            revenue: Vec::new(),
            first_day_revenue: Vec::new(),
            margin: with_cost.then(Vec::new),
            orders: Vec::new(),
            purchase_days: Vec::new(),
            firsts,
        };
        for part in finished {
            facts.first_row.extend(part.first_row);
            facts.first_day.extend(part.first_day);
            facts.last_day.extend(part.last_day);
            facts.revenue.extend(part.revenue.totals());
            facts
                .first_day_revenue
                .extend(part.first_day_revenue.totals());
            if let (Some(all), Some(margin)) = (facts.margin.as_mut(), part.margin) {
                all.extend(margin.totals());
            }
            facts.orders.extend(part.orders);
            facts.purchase_days.extend(part.purchase_days);
        }
        Ok(facts)
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

/// The columns of canonical transactions the facts are made of; any other
/// is an extra, passed through when constant per customer.
const CANONICAL: [&str; 6] = [
    CUSTOMER_ID,
    ORDER_DATE,
    REVENUE,
    ORDER_ID,
    COST,
    LINE_COLUMN,
];

/// What [`Facts::gather`] keeps of each customer's first row as it reads:
/// the row, the id, and the extra columns' values, with whether an extra
/// changes within a customer (compared by 64-bit hashes of the values).
/// Gathered from each batch while it is in memory, so a file read a batch
/// at a time is read once.
struct FirstValues {
    /// The customers in the order of their first rows: (partition, local)
    /// codes while reading, global ones after
    /// [`FirstValues::make_codes_global`].
    codes: Vec<u32>,
    /// The customer ids at the first rows.
    ids: Option<Column>,
    extras: Vec<Extra>,
}

/// An extra column's values at the first rows, and their hashes by
/// partition and local code, until the column is seen to vary within a
/// customer; then neither is kept up.
struct Extra {
    name: String,
    values: Column,
    first_hashes: Vec<Vec<u64>>,
    varies: bool,
}

impl FirstValues {
    fn new(extras: Vec<String>) -> FirstValues {
        FirstValues {
            codes: Vec::new(),
            ids: None,
            extras: extras
                .into_iter()
                .map(|name| Extra {
                    values: Column::new_empty(name.as_str().into(), &DataType::String),
                    name,
                    first_hashes: vec![Vec::new(); PARTITIONS],
                    varies: false,
                })
                .collect(),
        }
    }

    /// Notes the customers first seen in `rows` (the batch at
    /// `batch_start`, whose rows have the (partition, local) `codes`):
    /// partition p's are its customers from `known[p]` on. Then checks
    /// every row's extras against its customer's first.
    fn add_batch(
        &mut self,
        rows: &DataFrame,
        batch_start: usize,
        partitions: &[Partition],
        known: &[usize],
        codes: &[u32],
    ) -> Result<()> {
        let mut new: Vec<(IdxSize, u32)> = partitions
            .iter()
            .zip(known)
            .enumerate()
            .flat_map(|(p, (part, &known))| {
                (known..part.first_row.len())
                    .map(move |c| (part.first_row[c], partition_code(p, c)))
            })
            .collect();
        new.par_sort_unstable();
        let local: Vec<IdxSize> = new
            .iter()
            .map(|&(row, _)| row - batch_start as IdxSize)
            .collect();
        let ids = take_sorted(rows.column(CUSTOMER_ID)?, &local)?;
        match self.ids.as_mut() {
            Some(all) => {
                all.append(&ids)?;
            }
            None => self.ids = Some(ids),
        }
        for extra in self.extras.iter_mut().filter(|extra| !extra.varies) {
            let column = rows.column(&extra.name)?;
            if extra.values.is_empty() {
                extra.values = column.clear();
            }
            let firsts = take_sorted(column, &local)?;
            extra.values.append(&firsts)?;
            // local codes within a partition follow the first rows' order
            for (hash, &(_, code)) in crate::hashing::column_hashes(&firsts)?
                .into_iter()
                .zip(&new)
            {
                extra.first_hashes[split_code(code).0].push(hash);
            }
            let firsts = &extra.first_hashes;
            // each block hashes its rows and compares them with their
            // customers' first, on all cores
            extra.varies = codes
                .par_chunks(BLOCK)
                .enumerate()
                .map(|(b, codes)| -> PolarsResult<bool> {
                    let hashes = crate::hashing::column_hashes(
                        &column.slice((b * BLOCK) as i64, codes.len()),
                    )?;
                    Ok(codes.iter().zip(&hashes).any(|(&code, &hash)| {
                        let (partition, local) = split_code(code);
                        code != u32::MAX && firsts[partition][local] != hash
                    }))
                })
                .try_reduce(|| false, |a, b| Ok(a || b))?;
            if extra.varies {
                extra.first_hashes = Vec::new();
            }
        }
        self.codes.extend(new.into_iter().map(|(_, code)| code));
        Ok(())
    }

    /// Turns (partition, local) codes into global ones: `offsets[p]` is
    /// partition p's first.
    fn make_codes_global(&mut self, offsets: &[u32]) {
        for code in &mut self.codes {
            let (partition, local) = split_code(*code);
            *code = offsets[partition] + local as u32;
        }
        for extra in &mut self.extras {
            extra.first_hashes = Vec::new();
        }
    }
}

/// The values of `column` at `rows` (ascending), gathered chunk by chunk:
/// polars would first copy a column in many chunks (a Parquet slice's row
/// groups) into one.
fn take_sorted(column: &Column, rows: &[IdxSize]) -> Result<Column> {
    let mut gathered = column.clear();
    let (mut offset, mut done) = (0usize, 0usize);
    for length in column.as_materialized_series().chunk_lengths() {
        let end = offset + length;
        let count = rows[done..].partition_point(|&r| (r as usize) < end);
        let local: Vec<IdxSize> = rows[done..done + count]
            .iter()
            .map(|&r| r - offset as IdxSize)
            .collect();
        let chunk = column.slice(offset as i64, length);
        gathered.append(&chunk.take(&IdxCa::from_vec("rows".into(), local))?)?;
        (offset, done) = (end, done + count);
    }
    Ok(gathered.rechunk())
}

/// The order of the output: the customers with a purchase, by id.
struct OutputOrder {
    /// The customers' codes.
    output_codes: Vec<u32>,
    /// Where each output customer is among [`FirstValues`]' rows.
    output_positions: IdxCa,
    /// The output customers' ids.
    ids: Column,
}

impl OutputOrder {
    fn new(facts: &Facts) -> Result<OutputOrder> {
        let all_ids = facts
            .firsts
            .ids
            .clone()
            .unwrap_or_else(|| Column::new_empty(CUSTOMER_ID.into(), &DataType::String));
        let codes = &facts.firsts.codes;
        let positions: Vec<IdxSize> = sort_positions(&all_ids)
            .into_iter()
            .filter(|&p| facts.first_day[codes[p as usize] as usize] != i32::MAX)
            .collect();
        let mut firsts = OutputOrder {
            output_codes: positions.iter().map(|&p| codes[p as usize]).collect(),
            output_positions: IdxCa::from_vec("positions".into(), positions),
            ids: Column::new_empty(CUSTOMER_ID.into(), &DataType::String),
        };
        firsts.ids = firsts.for_output(&all_ids)?;
        Ok(firsts)
    }

    /// Values in the order of the first rows put in the order of the output.
    fn for_output(&self, values: &Column) -> Result<Column> {
        Ok(values.take(&self.output_positions)?)
    }
}

/// The positions of `values` in ascending order. Text is sorted here, on
/// all cores (polars' arg_sort of 1.5 M strings takes 0.2 s), by its first
/// eight bytes as an integer and then, among those that share them, as
/// text: the same order, but most comparisons are of integers. Ids are
/// distinct, so the unstable sort is deterministic.
fn sort_positions(values: &Column) -> Vec<IdxSize> {
    match values.str() {
        Ok(text) => {
            let mut keyed: Vec<(u64, &str, IdxSize)> = text
                .iter()
                .zip(0..)
                .map(|(id, p)| {
                    let id = id.unwrap_or_default();
                    let mut prefix = [0u8; 8];
                    let n = id.len().min(8);
                    prefix[..n].copy_from_slice(&id.as_bytes()[..n]);
                    (u64::from_be_bytes(prefix), id, p)
                })
                .collect();
            keyed.par_sort_unstable();
            keyed.into_iter().map(|(_, _, p)| p).collect()
        }
        Err(_) => values
            .as_materialized_series()
            .arg_sort(SortOptions::default().with_multithreaded(true))
            .into_no_null_iter()
            .collect(),
    }
}

/// Empty values (missing, or blank text) in a column the facts need are an
/// error naming the first row with one: ingest rejects such rows, so they
/// come only from tables made elsewhere.
fn no_empty(column: &Column, offset: usize) -> Result<()> {
    let blank = |v: Option<&str>| v.is_none_or(|v| v.trim().is_empty());
    let row = match column.str() {
        Ok(text) => text.iter().position(blank),
        Err(_) if column.null_count() == 0 => None,
        Err(_) => column.is_null().iter().position(|null| null == Some(true)),
    };
    if row.is_none() {
        return Ok(());
    }
    bail!(
        "{} is empty in row {}; run the input through cpm ingest, which rejects such rows",
        column.name(),
        offset + row.unwrap_or(0) + 1
    )
}

impl Block {
    /// The records of rows `start..start + BLOCK` of `rows` (the batch
    /// that starts at row `offset`) up to the as-of day.
    fn read(rows: &DataFrame, start: usize, offset: usize, as_of_days: i32) -> Result<Block> {
        let part = rows.slice(start as i64, BLOCK);
        let start = offset + start;
        let customers = crate::hashing::text_keys(part.column(CUSTOMER_ID)?)?;
        // plain vectors: indexing chunked columns row by row is slow
        let days = plain::<Int32Type>(part.column(ORDER_DATE)?)?;
        let revenue = plain::<Float64Type>(part.column(REVENUE)?)?;
        let costs = match part.column(COST) {
            Ok(cost) => Some(plain::<Float64Type>(cost)?),
            Err(_) => None,
        };
        let orders = match part.column(ORDER_ID) {
            Ok(ids) => Some((
                crate::hashing::column_hashes(ids)?,
                // which rows have an order id (None: all of them)
                (ids.null_count() > 0).then(|| {
                    ids.is_not_null()
                        .iter()
                        .map(|p| p == Some(true))
                        .collect::<Vec<bool>>()
                }),
            )),
            Err(_) => None,
        };
        // room for a partition's share of the block and then some (hashing
        // spreads rows evenly: ±3% for 1,024 per partition)
        let room = BLOCK / PARTITIONS + BLOCK / PARTITIONS / 8 + 32;
        let mut members: Vec<Vec<Record>> =
            (0..PARTITIONS).map(|_| Vec::with_capacity(room)).collect();
        for (i, (&day, &value)) in days.iter().zip(&revenue).enumerate() {
            if day > as_of_days {
                continue;
            }
            if !value.is_finite() {
                bail!(
                    "{REVENUE} is not a number in row {}: {value}",
                    start + i + 1
                );
            }
            let row = (start + i) as u32;
            let order = match &orders {
                Some((hashes, present)) if present.as_ref().is_none_or(|p| p[i]) => hashes[i],
                _ => u64::from(row) | 1 << 63,
            };
            let record = Record {
                customer: customers[i],
                revenue: value,
                cost: costs.as_ref().map_or(0.0, |c| c[i]),
                order,
                row,
                day,
            };
            members[record.partition()].push(record);
        }
        Ok(Block { start, members })
    }
}

/// The values of `column` cast to `T`, empty ones as 0 (without any, the
/// chunks are copied whole).
fn plain<T: PolarsNumericType>(column: &Column) -> Result<Vec<T::Native>> {
    let values = column.cast(&T::get_static_dtype())?;
    let values: &ChunkedArray<T> = values.as_materialized_series().as_ref().as_ref();
    Ok(values
        .to_vec_null_aware()
        .left_or_else(|values| values.into_iter().map(Option::unwrap_or_default).collect()))
}

/// The facts of the customers of one partition, by local code.
struct Partition {
    index: hashbrown::HashTable<u32>,
    customers: Vec<u128>,
    first_row: Vec<IdxSize>,
    first_day: Vec<i32>,
    last_day: Vec<i32>,
    revenue: CompensatedSums,
    /// Purchases on the customer's first purchase day (so far).
    first_day_revenue: CompensatedSums,
    margin: Option<CompensatedSums>,
    orders: Vec<i64>,
    purchase_days: Vec<i64>,
    /// (customer, day, order) of each purchase, except lines that repeat
    /// the customer's latest one (see `latest_day`).
    purchases: Vec<(u32, i32, u64)>,
    /// The day and order of each customer's latest purchase line, i32::MIN
    /// before the first (as `last_day`). The lines of an order come together
    /// in most files, so all but the first are left out of `purchases`: the
    /// benchmark's 10 M lines keep 5.5 M purchases instead of 9.8 M (50 M
    /// lines: facts 9.0-10.0 -> 7.7-8.2 s, fewer to compact and count).
    latest_day: Vec<i32>,
    latest_order: Vec<u64>,
    /// How many purchases the last compaction left.
    compacted: usize,
}

impl Partition {
    /// An empty partition, with room for the purchases of about
    /// `expected_rows` rows (vectors that grow by doubling copy their
    /// contents over and over, into memory the kernel must clear first).
    fn new(with_margin: bool, expected_rows: usize) -> Partition {
        Partition {
            index: hashbrown::HashTable::new(),
            customers: Vec::new(),
            first_row: Vec::new(),
            first_day: Vec::new(),
            last_day: Vec::new(),
            revenue: CompensatedSums::default(),
            first_day_revenue: CompensatedSums::default(),
            margin: with_margin.then(CompensatedSums::default),
            orders: Vec::new(),
            purchase_days: Vec::new(),
            purchases: Vec::with_capacity(expected_rows + expected_rows / 16),
            latest_day: Vec::new(),
            latest_order: Vec::new(),
            compacted: 0,
        }
    }

    /// Codes and adds up the `count` `records`; returns their local codes,
    /// in order.
    fn absorb<'r>(&mut self, records: impl Iterator<Item = &'r Record>, count: usize) -> Vec<u32> {
        let mut codes = Vec::with_capacity(count);
        for record in records {
            let customers = &self.customers;
            let entry = self.index.entry(
                record.customer as u64,
                |&c| customers[c as usize] == record.customer,
                |&c| customers[c as usize] as u64,
            );
            let code = match entry {
                hashbrown::hash_table::Entry::Occupied(e) => *e.get(),
                hashbrown::hash_table::Entry::Vacant(e) => {
                    let code = self.first_row.len() as u32;
                    e.insert(code);
                    self.add_customer(record);
                    code
                }
            };
            codes.push(code);
            let c = code as usize;
            self.revenue.add(c, record.revenue);
            if let Some(margin) = self.margin.as_mut() {
                margin.add(c, record.revenue - record.cost);
            }
            // a refund is no purchase
            if record.revenue >= 0.0 {
                if record.day < self.first_day[c] {
                    self.first_day[c] = record.day;
                    self.first_day_revenue.set(c, record.revenue);
                } else if record.day == self.first_day[c] {
                    self.first_day_revenue.add(c, record.revenue);
                }
                self.last_day[c] = self.last_day[c].max(record.day);
                if (self.latest_day[c], self.latest_order[c]) != (record.day, record.order) {
                    self.latest_day[c] = record.day;
                    self.latest_order[c] = record.order;
                    self.purchases.push((code, record.day, record.order));
                }
            }
        }
        codes
    }

    fn add_customer(&mut self, record: &Record) {
        self.customers.push(record.customer);
        self.first_row.push(record.row as IdxSize);
        self.first_day.push(i32::MAX);
        self.last_day.push(i32::MIN);
        self.revenue.push();
        self.first_day_revenue.push();
        if let Some(margin) = self.margin.as_mut() {
            margin.push();
        }
        self.latest_day.push(i32::MIN);
        self.latest_order.push(0);
    }

    /// Sorts the purchases and drops repeated ones (the lines of one order
    /// on one day): the distinct days and orders stay the same.
    /// Only when they have doubled since the last time (or fill the room
    /// made for them): each purchase is sorted a few times in all, not
    /// once per batch.
    fn compact(&mut self) {
        let due = (2 * self.compacted).max(self.purchases.capacity() / 2);
        if self.purchases.len() < due {
            return;
        }
        self.purchases.sort_unstable();
        self.purchases.dedup();
        self.compacted = self.purchases.len();
    }

    /// Counts distinct purchase days and orders: the purchases are grouped
    /// by customer (a counting sort), then each customer's few days and
    /// orders are sorted on their own.
    fn finish(mut self) -> Partition {
        // the customers are coded: their keys go before anything is made
        self.index = hashbrown::HashTable::new();
        self.customers = Vec::new();
        let mut start = vec![0usize; self.first_row.len() + 1];
        for &(code, _, _) in &self.purchases {
            start[code as usize + 1] += 1;
        }
        for c in 0..self.first_row.len() {
            start[c + 1] += start[c];
        }
        let mut next = start.clone();
        let mut days = vec![0i32; self.purchases.len()];
        let mut orders = vec![0u64; self.purchases.len()];
        for &(code, day, order) in &self.purchases {
            let slot = &mut next[code as usize];
            days[*slot] = day;
            orders[*slot] = order;
            *slot += 1;
        }
        // counted here, not kept while gathering: 16 bytes a customer less
        (self.purchase_days, self.orders) = start
            .windows(2)
            .map(|bounds| {
                let range = bounds[0]..bounds[1];
                // two order ids of one customer sharing a 64-bit hash is a
                // 1-in-10^12 event even with 10,000 orders
                (
                    count_distinct(&mut days[range.clone()]),
                    count_distinct(&mut orders[range]),
                )
            })
            .unzip();
        self.purchases = Vec::new();
        self.latest_day = Vec::new();
        self.latest_order = Vec::new();
        self
    }
}

/// The number of distinct values in `values` (which it sorts).
fn count_distinct<T: Ord>(values: &mut [T]) -> i64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    1 + values.windows(2).filter(|w| w[0] != w[1]).count() as i64
}

/// Per-customer sums with Neumaier compensation, rounded to millionths:
/// money then adds up to what a decimal sum gives (395.6, not
/// 395.59999999999997), and ties in spend stay ties whatever the row order.
#[derive(Default)]
struct CompensatedSums {
    sums: Vec<f64>,
    compensation: Vec<f64>,
}

impl CompensatedSums {
    fn push(&mut self) {
        self.sums.push(0.0);
        self.compensation.push(0.0);
    }

    fn set(&mut self, i: usize, value: f64) {
        self.sums[i] = value;
        self.compensation[i] = 0.0;
    }

    fn add(&mut self, i: usize, value: f64) {
        let sum = self.sums[i];
        let total = sum + value;
        self.compensation[i] += if sum.abs() >= value.abs() {
            (sum - total) + value
        } else {
            (value - total) + sum
        };
        self.sums[i] = total;
    }

    fn totals(self) -> Vec<f64> {
        self.sums
            .iter()
            .zip(&self.compensation)
            .map(|(s, c)| ((s + c) * 1e6).round() / 1e6)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transactions() -> DataFrame {
        let day = |y, m, d| days_since_epoch(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        let dates = Series::new(
            ORDER_DATE.into(),
            [
                day(2024, 1, 1),
                day(2024, 1, 1),
                day(2024, 1, 11),
                day(2024, 1, 15),
                day(2024, 1, 5),
                day(2024, 2, 1),
            ],
        )
        .cast(&DataType::Date)
        .unwrap();
        DataFrame::new(
            6,
            vec![
                Column::new(CUSTOMER_ID.into(), ["a", "a", "a", "a", "b", "c"]),
                dates.into_column(),
                Column::new(REVENUE.into(), [10.0, 5.0, 20.0, -5.0, 7.0, 9.0]),
                Column::new(ORDER_ID.into(), ["1", "1", "2", "C3", "4", "5"]),
                Column::new("region".into(), ["n", "n", "n", "n", "s", "s"]),
                Column::new(
                    "channel".into(),
                    ["web", "shop", "web", "web", "web", "web"],
                ),
            ],
        )
        .unwrap()
    }

    #[test]
    fn ids_sort_as_text_when_they_share_eight_bytes() {
        let ids = [
            "customer-10",
            "customer-9",
            "customer-1",
            "b",
            "",
            "customer",
            "customer-1x",
            "ab",
        ];
        let positions = sort_positions(&Column::new("id".into(), ids));
        let sorted: Vec<&str> = positions.iter().map(|&p| ids[p as usize]).collect();
        let mut expected = ids.to_vec();
        expected.sort();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn facts_by_hand() {
        let config = SummaryConfig {
            as_of: Some(NaiveDate::from_ymd_opt(2024, 1, 21).unwrap()),
            time_unit: TimeUnit::Week,
        };
        let s = summarize(&transactions(), &config).unwrap();
        assert_eq!(s.transactions_after_as_of, 1, "c's purchase is after as-of");
        let a = s.customers.slice(0, 1);
        let get = |name: &str| a.column(name).unwrap().get(0).unwrap().to_string();
        assert_eq!(
            get("orders"),
            "2",
            "order 1 has two lines; the refund is no order"
        );
        assert_eq!(get("revenue"), "30.0");
        assert_eq!(get("avg_order_value"), "15.0");
        assert_eq!(get("repeat_purchases"), "1", "two purchase days");
        assert_eq!(
            get("mean_repeat_value"),
            "15.0",
            "20 on the second day, less the 5 refunded"
        );
        assert_eq!(
            get("days_since_last"),
            "10",
            "the refund on the 15th is no purchase"
        );
        let float = |name: &str| a.column(name).unwrap().f64().unwrap().get(0).unwrap();
        assert!((float("first_to_last") - 10.0 / 7.0).abs() < 1e-12);
        assert!((float("tenure") - 20.0 / 7.0).abs() < 1e-12);
        assert_eq!(get("region"), "\"n\"");
        assert!(
            s.customers.column("channel").is_err(),
            "varies within a customer"
        );
        assert_eq!(s.customers.height(), 2);
    }

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
        let on_disk = Batches::Parquet(file);
        // slices across row groups read what the frame holds
        let slice = on_disk
            .read(BLOCK - 5, 20_000, &[CUSTOMER_ID, REVENUE])
            .unwrap();
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

    #[test]
    fn empty_values_and_non_numbers_name_their_row() {
        let mut frame = transactions();
        let mut ids: Vec<Option<&str>> = vec![Some("a"); 6];
        ids[3] = None;
        frame
            .with_column(Column::new(CUSTOMER_ID.into(), ids))
            .unwrap();
        let err = summarize(&frame, &SummaryConfig::default()).err().unwrap();
        assert_eq!(
            err.to_string(),
            "customer_id is empty in row 4; run the input through cpm ingest, which rejects such rows"
        );
        let mut frame = transactions();
        frame
            .with_column(Column::new(
                REVENUE.into(),
                [1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0],
            ))
            .unwrap();
        let err = summarize(&frame, &SummaryConfig::default()).err().unwrap();
        assert_eq!(err.to_string(), "revenue is not a number in row 5: NaN");
    }

    #[test]
    fn repeat_purchase_days_skip_first_days_refunds_and_late_births() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let days =
            repeat_purchase_days(&transactions(), day(2024, 2, 1), day(2024, 1, 31)).unwrap();
        // a: 1 Jan (first, twice), 11 Jan, the refund on the 15th; b: once;
        // c: first buys on 1 Feb, after born_by
        assert_eq!(days, [days_since_epoch(day(2024, 1, 11))]);
    }

    #[test]
    fn default_as_of_is_the_day_after_the_latest_transaction() {
        let s = summarize(&transactions(), &SummaryConfig::default()).unwrap();
        assert_eq!(s.as_of, NaiveDate::from_ymd_opt(2024, 2, 2).unwrap());
        assert_eq!(s.transactions_after_as_of, 0);
        assert_eq!(s.customers.height(), 3);
    }
}
