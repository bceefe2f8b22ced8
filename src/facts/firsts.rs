//! Each customer's first row as the facts are gathered: its id, the extra
//! columns' values and whether they change within a customer; and the
//! order of the output (by id).

use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

use super::Facts;
use super::partition::{BLOCK, PARTITIONS, Partition, partition_code, split_code};
use crate::schema::CUSTOMER_ID;

/// What [`Facts::gather`] keeps of each customer's first row as it reads:
/// the row, the id, and the extra columns' values, with whether an extra
/// changes within a customer (compared by 64-bit hashes of the values).
/// Gathered from each batch while it is in memory, so a file read a batch
/// at a time is read once.
pub(super) struct FirstValues {
    /// The customers in the order of their first rows: (partition, local)
    /// codes while reading, global ones after
    /// [`FirstValues::make_codes_global`].
    pub(super) codes: Vec<u32>,
    /// The customer ids at the first rows.
    pub(super) ids: Option<Column>,
    pub(super) extras: Vec<Extra>,
}

/// An extra column's values at the first rows, and their hashes by
/// partition and local code, until the column is seen to vary within a
/// customer; then neither is kept up.
pub(super) struct Extra {
    pub(super) name: String,
    pub(super) values: Column,
    pub(super) first_hashes: Vec<Vec<u64>>,
    pub(super) varies: bool,
}

impl FirstValues {
    pub(super) fn new(extras: Vec<String>) -> FirstValues {
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
    pub(super) fn add_batch(
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
            let column = &extra.widened(rows.column(&extra.name)?, &self.codes)?;
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
    pub(super) fn make_codes_global(&mut self, offsets: &[u32]) {
        for code in &mut self.codes {
            let (partition, local) = split_code(*code);
            *code = offsets[partition] + local as u32;
        }
        for extra in &mut self.extras {
            extra.first_hashes = Vec::new();
        }
    }
}

impl Extra {
    /// `column` of a new batch, and the values at the first rows so far
    /// (of the customers `codes`), in a type that holds both: a batch's
    /// attribute may be typed otherwise than an earlier one's (integers,
    /// then a decimal), and is then widened as a whole input would have
    /// been ([`crate::ingest::typing::common_type`]).
    fn widened(&mut self, column: &Column, codes: &[u32]) -> Result<Column> {
        if self.values.is_empty() || self.values.dtype() == column.dtype() {
            return Ok(column.clone());
        }
        let wanted = crate::ingest::typing::common_type(&self.values, column);
        if self.values.dtype() != &wanted {
            self.values = self.values.cast(&wanted)?;
            self.first_hashes = vec![Vec::new(); PARTITIONS];
            let hashes = crate::hashing::column_hashes(&self.values)?;
            for (hash, &code) in hashes.into_iter().zip(codes) {
                self.first_hashes[split_code(code).0].push(hash);
            }
        }
        Ok(column.cast(&wanted)?)
    }
}

/// The values of `column` at `rows` (ascending), gathered chunk by chunk:
/// polars would first copy a column in many chunks (a Parquet slice's row
/// groups) into one.
pub(super) fn take_sorted(column: &Column, rows: &[IdxSize]) -> Result<Column> {
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

/// The order of the facts table: every customer, by id.
pub(super) struct OutputOrder {
    /// The customers' codes.
    pub(super) output_codes: Vec<u32>,
    /// Where each output customer is among [`FirstValues`]' rows.
    output_positions: IdxCa,
    /// The output customers' ids.
    pub(super) ids: Column,
}

impl OutputOrder {
    pub(super) fn new(facts: &Facts) -> Result<OutputOrder> {
        let all_ids = facts
            .firsts
            .ids
            .clone()
            .unwrap_or_else(|| Column::new_empty(CUSTOMER_ID.into(), &DataType::String));
        let codes = &facts.firsts.codes;
        let positions = sort_positions(&all_ids);
        let mut firsts = OutputOrder {
            output_codes: positions.iter().map(|&p| codes[p as usize]).collect(),
            output_positions: IdxCa::from_vec("positions".into(), positions),
            ids: Column::new_empty(CUSTOMER_ID.into(), &DataType::String),
        };
        firsts.ids = firsts.for_output(&all_ids)?;
        Ok(firsts)
    }

    /// Values in the order of the first rows put in the order of the output.
    pub(super) fn for_output(&self, values: &Column) -> Result<Column> {
        Ok(values.take(&self.output_positions)?)
    }
}

/// The positions of `values` in ascending order. Text is sorted here, on
/// all cores (polars' arg_sort of strings is slow on millions), by its first
/// eight bytes as an integer and then, among those that share them, as
/// text: the same order, but most comparisons are of integers. Ids are
/// distinct, so the unstable sort is deterministic.
pub(super) fn sort_positions(values: &Column) -> Vec<IdxSize> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
