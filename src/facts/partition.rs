//! The partitions of the facts' group-by: rows become compact records,
//! each handed by the hash of its customer to one of [`PARTITIONS`], whose
//! small hash table codes its customers and adds up their facts.

use anyhow::{Result, bail};
use polars::prelude::*;

use crate::schema::{COST, CUSTOMER_ID, ORDER_DATE, ORDER_ID, REVENUE};

/// How many partitions customers are split into: enough that each
/// partition's hash table and accumulators stay in cache and both cores
/// have work. A power of two. 256, not 64: 7.5 M customers (50 M lines)
/// are 30 k a partition, whose ~90 bytes each stay in the L2 cache.
pub(super) const PARTITIONS: usize = 256;

/// Bits of a code that number the customers within a partition (16.7 M, so
/// 4 billion customers in all); the bits above them name the partition,
/// until codes are made global.
pub(super) const LOCAL_BITS: u32 = u32::BITS - PARTITIONS.trailing_zeros();
const _: () = assert!(PARTITIONS.is_power_of_two() && LOCAL_BITS >= 20);

/// The code of customer `local` of partition `partition`, until codes are
/// made global.
pub(super) fn partition_code(partition: usize, local: usize) -> u32 {
    (partition as u32) << LOCAL_BITS | local as u32
}

/// The (partition, local) parts of a [`partition_code`].
pub(super) fn split_code(code: u32) -> (usize, usize) {
    (
        (code >> LOCAL_BITS) as usize,
        (code & ((1 << LOCAL_BITS) - 1)) as usize,
    )
}

/// Rows per block, the unit of parallel work within a batch.
pub(super) const BLOCK: usize = 1 << 16;

/// One row as a partition reads it.
#[derive(Clone, Copy)]
pub(super) struct Record {
    /// The 128-bit hash of the customer id.
    pub(super) customer: u128,
    pub(super) revenue: f64,
    /// 0 without a cost column.
    pub(super) cost: f64,
    /// The 64-bit hash of the order id; rows without one get a key of
    /// their own, so they count as an order each.
    pub(super) order: u64,
    pub(super) row: u32,
    pub(super) day: i32,
}

impl Record {
    /// The partition of the customer. Bits from the middle: hashbrown uses
    /// the top bits for its control bytes and the low ones for buckets.
    pub(super) fn partition(&self) -> usize {
        (self.customer >> 32) as usize % PARTITIONS
    }
}

/// The records of one block of rows, by partition.
pub(super) struct Block {
    pub(super) start: usize,
    pub(super) members: Vec<Vec<Record>>,
    /// The latest day of the block's rows, those after the as-of day too.
    pub(super) latest: Option<i32>,
}

impl Block {
    /// The records of rows `start..start + BLOCK` of `rows` (the batch
    /// that starts at row `offset`) up to the as-of day.
    pub(super) fn read(
        rows: &DataFrame,
        start: usize,
        offset: usize,
        as_of_days: i32,
    ) -> Result<Block> {
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
        Ok(Block {
            start,
            members,
            latest: days.iter().copied().max(),
        })
    }
}

/// The values of `column` cast to `T`, empty ones as 0 (without any, the
/// chunks are copied whole).
pub(super) fn plain<T: PolarsNumericType>(column: &Column) -> Result<Vec<T::Native>> {
    let values = column.cast(&T::get_static_dtype())?;
    let values: &ChunkedArray<T> = values.as_materialized_series().as_ref().as_ref();
    Ok(values
        .to_vec_null_aware()
        .left_or_else(|values| values.into_iter().map(Option::unwrap_or_default).collect()))
}

/// The facts of the customers of one partition, by local code.
pub(super) struct Partition {
    pub(super) index: hashbrown::HashTable<u32>,
    pub(super) customers: Vec<u128>,
    pub(super) first_row: Vec<IdxSize>,
    pub(super) first_day: Vec<i32>,
    pub(super) last_day: Vec<i32>,
    pub(super) revenue: CompensatedSums,
    /// Purchases on the customer's first purchase day (so far).
    pub(super) first_day_revenue: CompensatedSums,
    pub(super) margin: Option<CompensatedSums>,
    pub(super) orders: Vec<i64>,
    pub(super) purchase_days: Vec<i64>,
    /// (customer, day, order) of each purchase, except lines that repeat
    /// the customer's latest one (see `latest_day`).
    pub(super) purchases: Vec<(u32, i32, u64)>,
    /// The day and order of each customer's latest purchase line, i32::MIN
    /// before the first (as `last_day`). The lines of an order come together
    /// in most files, so all but the first are left out of `purchases`:
    /// fewer to compact and count (the benchmark's lines keep about half).
    pub(super) latest_day: Vec<i32>,
    pub(super) latest_order: Vec<u64>,
    /// How many purchases the last compaction left.
    pub(super) compacted: usize,
}

impl Partition {
    /// An empty partition.
    pub(super) fn new(with_margin: bool) -> Partition {
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
            purchases: Vec::new(),
            latest_day: Vec::new(),
            latest_order: Vec::new(),
            compacted: 0,
        }
    }

    /// Room for the purchases of about `rows` more rows (vectors that grow
    /// by doubling copy their contents over and over, into memory the
    /// kernel must clear first).
    pub(super) fn make_room(&mut self, rows: usize) {
        self.purchases.reserve(rows + rows / 16);
    }

    /// Codes and adds up the `count` `records`; returns their local codes,
    /// in order.
    pub(super) fn absorb<'r>(
        &mut self,
        records: impl Iterator<Item = &'r Record>,
        count: usize,
    ) -> Vec<u32> {
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

    pub(super) fn add_customer(&mut self, record: &Record) {
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
    pub(super) fn compact(&mut self) {
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
    pub(super) fn finish(mut self) -> Partition {
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
pub(super) fn count_distinct<T: Ord>(values: &mut [T]) -> i64 {
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
pub(super) struct CompensatedSums {
    pub(super) sums: Vec<f64>,
    pub(super) compensation: Vec<f64>,
}

impl CompensatedSums {
    pub(super) fn push(&mut self) {
        self.sums.push(0.0);
        self.compensation.push(0.0);
    }

    pub(super) fn set(&mut self, i: usize, value: f64) {
        self.sums[i] = value;
        self.compensation[i] = 0.0;
    }

    pub(super) fn add(&mut self, i: usize, value: f64) {
        let sum = self.sums[i];
        let total = sum + value;
        self.compensation[i] += if sum.abs() >= value.abs() {
            (sum - total) + value
        } else {
            (value - total) + sum
        };
        self.sums[i] = total;
    }

    pub(super) fn totals(self) -> Vec<f64> {
        self.sums
            .iter()
            .zip(&self.compensation)
            .map(|(s, c)| ((s + c) * 1e6).round() / 1e6)
            .collect()
    }
}
