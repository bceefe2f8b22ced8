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
    let text = column.cast(&DataType::String)?;
    let key = |v: &str| xxhash_rust::xxh3::xxh3_128(v.as_bytes());
    let text = text.str()?;
    if text.null_count() > 0 {
        return Ok(text.iter().map(|v| v.map_or(0, key)).collect());
    }
    let mut keys = Vec::with_capacity(text.len());
    for chunk in text.downcast_iter() {
        keys.extend(chunk.values_iter().map(key));
    }
    Ok(keys)
}

/// How many distinct values `column` holds (null counting as one), by
/// sorting their [`text_keys`] on all cores.
pub fn distinct_count(column: &Column) -> PolarsResult<u64> {
    let mut keys: Vec<u128> = (0..column.len().div_ceil(BATCH))
        .into_par_iter()
        .map(|i| text_keys(&column.slice((i * BATCH) as i64, BATCH)))
        .collect::<PolarsResult<Vec<_>>>()?
        .concat();
    keys.par_sort_unstable();
    keys.dedup();
    Ok(keys.len() as u64)
}

/// The rows whose hash in `hashes` some other row shares.
pub fn shared_hashes(hashes: &[u64]) -> Vec<bool> {
    let mut keyed: Vec<(u64, u32)> = hashes.iter().copied().zip(0..).collect();
    keyed.par_sort_unstable();
    let mut shared = vec![false; hashes.len()];
    for run in keyed
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
    {
        for &(_, row) in run {
            shared[row as usize] = true;
        }
    }
    shared
}

/// One hash per row over all columns of `frame`, on all cores.
pub fn row_hashes(frame: &DataFrame) -> PolarsResult<Vec<u64>> {
    let state = PlSeedableRandomStateQuality::seed_from_u64(SEED);
    let batches: Vec<Vec<u64>> = (0..frame.height().div_ceil(BATCH))
        .into_par_iter()
        .map(|i| -> PolarsResult<Vec<u64>> {
            let part = frame.slice((i * BATCH) as i64, BATCH);
            let mut hashes = Vec::with_capacity(part.height());
            for (j, column) in part.columns().iter().enumerate() {
                let series = column.as_materialized_series();
                if j == 0 {
                    series.vec_hash(state.clone(), &mut hashes)?;
                } else {
                    series.vec_hash_combine(state.clone(), &mut hashes)?;
                }
            }
            Ok(hashes)
        })
        .collect::<PolarsResult<_>>()?;
    Ok(batches.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

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
