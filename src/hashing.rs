//! 64-bit row hashes, computed on all cores. Equal rows always hash alike;
//! different rows almost never do, so hashes let the costly steps (finding
//! duplicate rows, telling constant attributes) touch only candidates.

use polars::prelude::*;
use rayon::prelude::*;

/// Rows per parallel hashing task.
const BATCH: usize = 1 << 18;

/// One hash per row over all columns of `frame`, with a fixed seed so that
/// the same values hash alike across frames of one run.
pub fn row_hashes(frame: &DataFrame) -> PolarsResult<Vec<u64>> {
    let state = PlSeedableRandomStateQuality::default();
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
}
