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

/// The rows whose hash in `hashes` some other row shares: the hashes that
/// occur twice are found in a sorted copy, then looked up row by row (they
/// are few, so the lookups stay in cache). Half the memory of sorting
/// (hash, row) pairs, and a faster sort.
pub fn shared_hashes(hashes: &[u64]) -> Vec<bool> {
    let mut sorted = hashes.to_vec();
    sorted.par_sort_unstable();
    let repeated: KeySet<u64> = sorted
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    drop(sorted);
    if repeated.is_empty() {
        return vec![false; hashes.len()];
    }
    hashes.par_iter().map(|h| repeated.contains(h)).collect()
}

/// One hash per row over all columns of `frame`, on all cores, each
/// writing its share of the result (as [`par_text_keys`]).
pub fn row_hashes(frame: &DataFrame) -> PolarsResult<Vec<u64>> {
    let state = PlSeedableRandomStateQuality::seed_from_u64(SEED);
    let mut hashes = vec![0; frame.height()];
    hashes
        .par_chunks_mut(BATCH)
        .enumerate()
        .try_for_each(|(i, out)| -> PolarsResult<()> {
            let part = frame.slice((i * BATCH) as i64, BATCH);
            let mut batch = Vec::with_capacity(out.len());
            for (j, column) in part.columns().iter().enumerate() {
                let series = column.as_materialized_series();
                if j == 0 {
                    series.vec_hash(state.clone(), &mut batch)?;
                } else {
                    series.vec_hash_combine(state.clone(), &mut batch)?;
                }
            }
            out.copy_from_slice(&batch);
            Ok(())
        })?;
    Ok(hashes)
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
    fn distinct_values_and_shared_hashes() {
        let column = Column::new("id".into(), [Some("a"), Some("b"), None, Some("a"), None]);
        assert_eq!(distinct_count(&column).unwrap(), 3);
        assert_eq!(
            shared_hashes(&[5, 1, 5, 2, 1, 7]),
            [true, true, true, false, true, false]
        );
    }

    #[test]
    fn equal_rows_hash_alike() {
        let frame = df!("a" => ["x", "y", "x"], "b" => [1, 2, 1]).unwrap();
        let h = row_hashes(&frame).unwrap();
        assert_eq!(h[0], h[2]);
        assert_ne!(h[0], h[1]);
    }

    #[test]
    fn equal_values_hash_alike_across_calls() {
        let a = df!("a" => ["x", "y"]).unwrap();
        let b = df!("a" => ["y", "x", "z"]).unwrap();
        let (ha, hb) = (row_hashes(&a).unwrap(), row_hashes(&b).unwrap());
        assert_eq!((ha[0], ha[1]), (hb[1], hb[0]));
        let column = b.column("a").unwrap();
        assert_eq!(column_hashes(column).unwrap(), hb);
    }
}
