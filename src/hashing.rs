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
