//! [`Gatherer`]: the facts of batches of rows, added as they come.

use anyhow::{Result, bail};
use polars::prelude::*;
use rayon::prelude::*;

use super::firsts::FirstValues;
use super::partition::{BLOCK, Block, PARTITIONS, Partition, partition_code};
use super::{Batching, Facts};
use crate::io::LINE_COLUMN;
use crate::io::batches::Batches;
use crate::schema::{CATEGORY, COST, CUSTOMER_ID, ORDER_DATE, ORDER_ID, PRODUCT, REVENUE};

/// [`Facts`] being gathered, a batch of rows at a time.
pub(super) struct Gatherer {
    /// The columns read: the canonical ones there are, then the extras.
    pub(super) columns: Vec<String>,
    as_of_days: i32,
    pub(super) batching: Batching,
    /// Rows added so far.
    rows: usize,
    /// Each row's (partition, local) code in the batch being added.
    codes: Vec<u32>,
    rows_after_as_of: u64,
    latest_day: Option<i32>,
    partitions: Vec<Partition>,
    firsts: FirstValues,
}

impl Gatherer {
    /// Facts up to `as_of_days` of rows with the columns `names`.
    pub(super) fn new(names: &[String], as_of_days: i32, batching: Batching) -> Gatherer {
        let has = |name: &str| names.iter().any(|n| n == name);
        let extras: Vec<String> = names
            .iter()
            .filter(|name| !CANONICAL.contains(&name.as_str()))
            .cloned()
            .collect();
        let columns = [CUSTOMER_ID, ORDER_DATE, REVENUE, ORDER_ID, COST]
            .into_iter()
            .filter(|name| has(name))
            .map(str::to_string)
            .chain(extras.iter().cloned())
            .collect();
        let with_cost = has(COST);
        Gatherer {
            columns,
            as_of_days,
            batching,
            rows: 0,
            codes: Vec::new(),
            rows_after_as_of: 0,
            latest_day: None,
            partitions: (0..PARTITIONS).map(|_| Partition::new(with_cost)).collect(),
            firsts: FirstValues::new(extras),
        }
    }

    /// Room for every purchase of `rows` rows when they fit in memory;
    /// past that, purchases are compacted as they come (see
    /// [`Partition::compact`]).
    pub(super) fn expect_rows(&mut self, rows: usize) {
        let batching = self.batching;
        let room = rows.min(batching.compact_above.max(batching.rows)) / PARTITIONS;
        for part in &mut self.partitions {
            part.make_room(room);
        }
    }

    /// Adds every row of `source`, a batch at a time.
    pub(super) fn add_all(&mut self, source: &Batches) -> Result<()> {
        self.expect_rows(source.rows_hint());
        let columns = self.columns.clone();
        let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
        source.each(self.batching.rows, &columns, &mut |_, rows| self.add(&rows))
    }

    /// Adds the next rows (at most a batch).
    pub(super) fn add(&mut self, rows: &DataFrame) -> Result<()> {
        let batch_start = self.rows;
        self.rows += rows.height();
        self.codes.clear();
        self.codes.resize(rows.height(), u32::MAX);
        for name in [CUSTOMER_ID, ORDER_DATE, REVENUE] {
            no_empty(rows.column(name)?, batch_start)?;
        }
        let as_of_days = self.as_of_days;
        let blocks: Vec<Block> = (0..rows.height())
            .step_by(BLOCK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|start| Block::read(rows, start, batch_start, as_of_days))
            .collect::<Result<_>>()?;
        self.latest_day = self
            .latest_day
            .max(blocks.iter().filter_map(|b| b.latest).max());
        let partitions = &mut self.partitions;
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
        self.codes
            .par_chunks_mut(BLOCK)
            .zip(blocks.par_iter().zip(&taken))
            .for_each(|(out, (block, taken))| {
                for (p, records) in block.members.iter().enumerate() {
                    let local = &local_codes[p][taken[p]..taken[p] + records.len()];
                    for (record, &code) in records.iter().zip(local) {
                        out[record.row as usize - block.start] = partition_code(p, code as usize);
                    }
                }
            });
        self.rows_after_as_of += self.codes.iter().filter(|&&c| c == u32::MAX).count() as u64;
        self.firsts
            .add_batch(rows, batch_start, partitions, &known, &self.codes)?;
        if self.rows > self.batching.compact_above {
            partitions.par_iter_mut().for_each(Partition::compact);
        }
        Ok(())
    }

    /// The facts of every row added.
    pub(super) fn finish(self) -> Facts {
        let partitions = self.partitions;
        let mut firsts = self.firsts;
        let offsets: Vec<u32> = partitions
            .iter()
            .scan(0u32, |next, part| {
                let offset = *next;
                *next += part.first_row.len() as u32;
                Some(offset)
            })
            .collect();
        firsts.make_codes_global(&offsets);
        let with_cost = partitions.first().is_some_and(|p| p.margin.is_some());
        let finished: Vec<Partition> = partitions.into_par_iter().map(Partition::finish).collect();
        let mut facts = Facts {
            rows_after_as_of: self.rows_after_as_of,
            latest_day: self.latest_day,
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
        facts
    }
}

/// The columns of canonical transactions the facts are made of; any other
/// is an extra, passed through when constant per customer.
pub(super) const CANONICAL: [&str; 8] = [
    CUSTOMER_ID,
    ORDER_DATE,
    REVENUE,
    ORDER_ID,
    COST,
    PRODUCT,
    CATEGORY,
    LINE_COLUMN,
];

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
