//! 64-bit hashes of values and rows, with fixed seeds. Equal values always
//! hash alike; different values almost never do, so hashes let the costly
//! steps (finding duplicate rows, telling constant attributes, coding
//! customers) touch only candidates, or stand in for the values.

use polars::polars_utils::aliases::SeedableFromU64SeedExt;
use polars::prelude::*;
use rayon::prelude::*;

/// Rows per parallel hashing task.
const BATCH: usize = 1 << 18;

/// The seed of every hash here.
const SEED: u64 = 0x6370_6d00;

/// The hash of each value of `column`, in row order, on the calling thread
/// (for callers that already split the work). Equal to [`row_hashes`] of a
/// frame of that column alone.
pub fn column_hashes(column: &Column) -> PolarsResult<Vec<u64>> {
    let mut hashes = Vec::with_capacity(column.len());
    let state = PlSeedableRandomStateQuality::seed_from_u64(SEED);
    column
        .as_materialized_series()
        .vec_hash(state, &mut hashes)?;
    Ok(hashes)
}

/// A 128-bit key per value of `column` as text (XXH3-128 of its bytes; 0
/// for null), on the calling thread. The chance that two distinct values
/// among a billion share a key is below 10^-20, so keys stand in for values.
pub fn text_keys(column: &Column) -> PolarsResult<Vec<u128>> {
    let mut keys = vec![0; column.len()];
    fill_text_keys(column, &mut keys)?;
    Ok(keys)
}

/// Writes the [`text_keys`] of `column` into `keys`, as long as it.
fn fill_text_keys(column: &Column, keys: &mut [u128]) -> PolarsResult<()> {
    let text = column.cast(&DataType::String)?;
    let key = |v: &str| xxhash_rust::xxh3::xxh3_128(v.as_bytes());
    let text = text.str()?;
    if text.null_count() > 0 {
        for (slot, v) in keys.iter_mut().zip(text.iter()) {
            *slot = v.map_or(0, key);
        }
        return Ok(());
    }
    let values = text.downcast_iter().flat_map(|chunk| chunk.values_iter());
    for (slot, v) in keys.iter_mut().zip(values) {
        *slot = key(v);
    }
    Ok(())
}

/// A hasher for maps keyed by [`text_keys`]: a key is already a uniform
/// hash, so its bits are used as they are (SipHash would hash it again for
/// nothing); other integers are mixed by a multiplication, so small ones
/// (row numbers, days) still spread over all bits.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

/// The golden-ratio multiplier of Fibonacci hashing.
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 ^= key as u64 ^ (key >> 64) as u64;
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(23) ^ value).wrapping_mul(MIX);
    }

    fn write_i32(&mut self, value: i32) {
        self.write_u64(u64::from(value as u32));
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

/// A hash map keyed by [`text_keys`] (or tuples starting with one).
pub type KeyMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// A hash set of [`text_keys`] (or other integers).
pub type KeySet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<KeyHasher>>;

/// [`text_keys`] on all cores, each writing its share of one vector (not
/// vectors of their own put together after: that was twice the fresh
/// memory, half of it filled by one core).
pub fn par_text_keys(column: &Column) -> PolarsResult<Vec<u128>> {
    let mut keys = vec![0; column.len()];
    keys.par_chunks_mut(BATCH)
        .enumerate()
        .try_for_each(|(i, part)| fill_text_keys(&column.slice((i * BATCH) as i64, BATCH), part))?;
    Ok(keys)
}

/// Partitions of [`Numbering`]: enough that each one's table stays in
/// cache. A power of two.
const CODE_PARTITIONS: usize = 64;

/// Bits of a [`Numbering`] code that number a key within its partition
/// (67 M per partition); the bits above name the partition.
const LOCAL_BITS: u32 = u32::BITS - CODE_PARTITIONS.trailing_zeros();

/// Numbers the distinct keys it is given, over any number of calls (the
/// batches of a file): each key goes to one of [`CODE_PARTITIONS`] small
/// hash tables by its bits, each table on its own core, so no lookup
/// leaves the cache (one table over millions of customers would miss it on
/// every row). Codes are (partition, number within it); [`Numbering::dense`]
/// turns them into 0..n once every key is in.
pub struct Numbering {
    tables: Vec<KeyMap<u128, u32>>,
}

impl Default for Numbering {
    fn default() -> Self {
        Numbering {
            tables: (0..CODE_PARTITIONS).map(|_| KeyMap::default()).collect(),
        }
    }
}

impl Numbering {
    /// The code of each of `keys`, numbering the new ones.
    pub fn number(&mut self, keys: &[u128]) -> Vec<u32> {
        let partition = |key: u128| (key >> 32) as usize % CODE_PARTITIONS;
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); CODE_PARTITIONS];
        for (row, &key) in keys.iter().enumerate() {
            members[partition(key)].push(row as u32);
        }
        let local: Vec<Vec<u32>> = self
            .tables
            .par_iter_mut()
            .zip(&members)
            .map(|(table, rows)| {
                rows.iter()
                    .map(|&row| {
                        let next = table.len() as u32;
                        *table.entry(keys[row as usize]).or_insert(next)
                    })
                    .collect()
            })
            .collect();
        let mut codes = vec![0u32; keys.len()];
        for (p, (rows, local)) in members.iter().zip(&local).enumerate() {
            for (&row, &code) in rows.iter().zip(local) {
                codes[row as usize] = (p as u32) << LOCAL_BITS | code;
            }
        }
        codes
    }

    /// The code of each of `keys` numbered so far; none for a new one.
    pub fn find(&self, keys: &[u128]) -> Vec<Option<u32>> {
        (keys.par_iter())
            .map(|&key| {
                let p = (key >> 32) as usize % CODE_PARTITIONS;
                let local = self.tables[p].get(&key)?;
                Some((p as u32) << LOCAL_BITS | local)
            })
            .collect()
    }

    /// Keys numbered so far in partition `p`.
    pub fn partition_len(&self, p: usize) -> usize {
        self.tables[p].len()
    }

    /// The partition of a code, and its number within it.
    pub fn split(code: u32) -> (usize, usize) {
        (
            (code >> LOCAL_BITS) as usize,
            (code & ((1 << LOCAL_BITS) - 1)) as usize,
        )
    }

    /// Partitions.
    pub fn partitions(&self) -> usize {
        CODE_PARTITIONS
    }

    /// The dense numbers 0..n, partition after partition.
    pub fn dense(&self) -> Dense {
        let mut offsets = Vec::with_capacity(CODE_PARTITIONS);
        let mut count = 0u32;
        for table in &self.tables {
            offsets.push(count);
            count += table.len() as u32;
        }
        Dense {
            offsets,
            count: count as usize,
        }
    }
}

/// [`Numbering`]'s codes as numbers 0..count.
pub struct Dense {
    offsets: Vec<u32>,
    /// Distinct keys.
    pub count: usize,
}

impl Dense {
    /// The number of a code.
    pub fn of(&self, code: u32) -> u32 {
        let (p, local) = Numbering::split(code);
        self.offsets[p] + local as u32
    }
}

/// Numbers the distinct `keys` 0..n and returns each key's number and n.
pub fn dense_codes(keys: &[u128]) -> (Vec<u32>, usize) {
    let mut numbering = Numbering::default();
    let codes = numbering.number(keys);
    let dense = numbering.dense();
    (
        codes.into_iter().map(|c| dense.of(c)).collect(),
        dense.count,
    )
}

/// How many distinct values `column` holds (null counting as one), by
/// sorting their [`text_keys`] on all cores. Runs of one value are cut to
/// one key first: in a transaction table the lines of an order come
/// together, so that leaves half the keys to sort.
pub fn distinct_count(column: &Column) -> PolarsResult<u64> {
    let mut keys = par_text_keys(column)?;
    keys.dedup();
    keys.par_sort_unstable();
    keys.dedup();
    Ok(keys.len() as u64)
}

/// A 128-bit key per row over the columns of `frame`: the sum, over the
/// row's non-null values, of a mix of the column's name and two 64-bit
/// hashes of the value (other seeds). A missing column and a null count
/// alike, and the order of the columns does not matter, so rows of inputs
/// with other columns compare as if aligned by name. Keys stand in for
/// whole rows, as [`text_keys`] for values.
pub fn row_keys(frame: &DataFrame) -> PolarsResult<Vec<u128>> {
    let seeds = [SEED ^ 0x9e37_79b9_7f4a_7c15, SEED.rotate_left(17)];
    let states = seeds.map(PlSeedableRandomStateQuality::seed_from_u64);
    let mut keys = vec![0u128; frame.height()];
    keys.par_chunks_mut(BATCH)
        .enumerate()
        .try_for_each(|(i, out)| -> PolarsResult<()> {
            let part = frame.slice((i * BATCH) as i64, BATCH);
            let (mut high, mut low) = (Vec::new(), Vec::new());
            for column in part.columns() {
                let name = xxhash_rust::xxh3::xxh3_128(column.name().as_bytes());
                let series = column.as_materialized_series();
                series.vec_hash(states[0].clone(), &mut high)?;
                series.vec_hash(states[1].clone(), &mut low)?;
                let add = |slot: &mut u128, row: usize| {
                    let value = u128::from(high[row]) << 64 | u128::from(low[row]);
                    *slot = slot.wrapping_add((value ^ name).wrapping_mul(MIX_128));
                };
                if series.null_count() == 0 {
                    out.iter_mut()
                        .enumerate()
                        .for_each(|(row, slot)| add(slot, row));
                } else {
                    let present = series.is_not_null();
                    for ((row, slot), present) in out.iter_mut().enumerate().zip(present.iter()) {
                        if present == Some(true) {
                            add(slot, row);
                        }
                    }
                }
            }
            Ok(())
        })?;
    Ok(keys)
}

/// An odd 128-bit multiplier that spreads a value over all bits.
const MIX_128: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;

/// The rows (or values) seen so far, by their 128-bit keys ([`row_keys`],
/// [`text_keys`]), in shards that are filled on all cores.
#[derive(Default)]
pub struct SeenRows {
    shards: Vec<KeySet<u128>>,
}

/// Shards of [`SeenRows`].
const SHARDS: usize = 64;

impl SeenRows {
    /// Whether each of `keys` was seen before (in an earlier call, or
    /// earlier in `keys`); all of them are seen afterwards.
    pub fn repeats(&mut self, keys: &[u128]) -> Vec<bool> {
        if self.shards.is_empty() {
            self.shards = (0..SHARDS).map(|_| KeySet::default()).collect();
        }
        // each shard's rows, in order (the bits above those a set uses)
        let shard = |key: u128| (key >> 96) as usize % SHARDS;
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        for (i, &key) in keys.iter().enumerate() {
            rows[shard(key)].push(i as u32);
        }
        let repeated: Vec<Vec<u32>> = self
            .shards
            .par_iter_mut()
            .zip(&rows)
            .map(|(set, rows)| {
                set.reserve(rows.len());
                rows.iter()
                    .copied()
                    .filter(|&i| !set.insert(keys[i as usize]))
                    .collect()
            })
            .collect();
        let mut seen = vec![false; keys.len()];
        for i in repeated.into_iter().flatten() {
            seen[i as usize] = true;
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_count_counts_runs_and_scattered_repeats_once() {
        let values = [
            Some("a"),
            Some("a"),
            Some("b"),
            Some("a"),
            None,
            None,
            Some("c"),
            Some("b"),
            None,
        ];
        let column = Column::new("id".into(), values);
        // a, b, c and null
        assert_eq!(distinct_count(&column).unwrap(), 4);
        let many: Vec<String> = (0..600_000)
            .map(|i| format!("o{}", (i / 3) % 70_000))
            .collect();
        let column = Column::new("order".into(), many);
        assert_eq!(distinct_count(&column).unwrap(), 70_000);
    }

    #[test]
    fn dense_codes_number_each_distinct_key_once() {
        let keys: Vec<u128> = (0..10_000u128)
            .map(|i| (i % 777) * 0x9e37_79b9_7f4a_7c15_f39c)
            .collect();
        let (codes, n) = dense_codes(&keys);
        assert_eq!(n, 777);
        for (i, &code) in codes.iter().enumerate() {
            assert!((code as usize) < n);
            // equal keys, equal codes; different keys, different codes
            assert_eq!(code, codes[i % 777]);
        }
        let mut distinct = codes[..777].to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 777);
    }

    #[test]
    fn distinct_values_count_null_once() {
        let column = Column::new("id".into(), [Some("a"), Some("b"), None, Some("a"), None]);
        assert_eq!(distinct_count(&column).unwrap(), 3);
    }

    #[test]
    fn equal_rows_have_equal_keys_and_are_seen_again_across_calls() {
        let frame = df!("a" => ["x", "y", "x"], "b" => [1, 2, 1]).unwrap();
        let keys = row_keys(&frame).unwrap();
        assert_eq!(keys[0], keys[2]);
        assert_ne!(keys[0], keys[1]);
        let later = df!("a" => ["y", "z", "z"], "b" => [2, 3, 3]).unwrap();
        let later_keys = row_keys(&later).unwrap();
        assert_eq!(later_keys[0], keys[1]);
        // a missing column is a null one; the order of columns is no matter
        let with_null =
            df!("b" => [Some(1), None], "a" => ["x", "x"], "c" => [None::<&str>, None]).unwrap();
        let without = df!("a" => ["x"]).unwrap();
        let with_null_keys = row_keys(&with_null).unwrap();
        assert_eq!(with_null_keys[0], keys[0]);
        assert_eq!(with_null_keys[1], row_keys(&without).unwrap()[0]);
        assert_ne!(with_null_keys[1], keys[0]);
        let mut seen = SeenRows::default();
        assert_eq!(seen.repeats(&keys), [false, false, true]);
        assert_eq!(seen.repeats(&later_keys), [true, false, true]);
    }
}
