//! Value tiers, the customer pyramid: platinum, gold, silver and bronze by
//! rank of value (top 1% / next 4% / next 15% / the rest by default).

use anyhow::{Result, bail};
use std::cmp::Ordering;

use polars::prelude::IdxSize;
use rayon::prelude::*;

/// Tier names, best first.
pub const TIERS: [&str; 4] = ["platinum", "gold", "silver", "bronze"];

/// Checks cumulative cut points in percent (`1,5,20`): three, increasing,
/// within (0, 100].
pub fn check_cuts(cuts: &[f64]) -> Result<()> {
    let within = cuts.len() == 3
        && cuts.iter().all(|c| c.is_finite())
        && cuts.windows(2).all(|w| w[0] < w[1])
        && cuts[0] > 0.0
        && cuts[2] <= 100.0;
    if !within {
        bail!(crate::error::usage(format!(
            "--tier-cuts needs three increasing percentages within 0..100, e.g. 1,5,20 (got {cuts:?})"
        )));
    }
    Ok(())
}

/// The tier of each customer: ranked by value, highest first (ties broken by
/// input order, which is customer id), the first ceil(n·1%) are platinum,
/// up to ceil(n·5%) gold, up to ceil(n·20%) silver, the rest bronze.
///
/// Returns indices into [`TIERS`]. The last customer within each cut is
/// found by selection, not by sorting all customers (an indirect sort of
/// 7.5 M took a second): a customer is within the cut when its value is
/// higher than that customer's, or the same and it comes no later.
pub fn assign(values: &[f64], cuts: &[f64]) -> Vec<IdxSize> {
    let n = values.len();
    let mut scratch = values.to_vec();
    // the last customer within each cut as (value, position); None for none
    let lasts: Vec<Option<(f64, usize)>> = cuts
        .iter()
        .map(|c| {
            let limit = (((n as f64) * c / 100.0).ceil() as usize).min(n);
            let rank = limit.checked_sub(1)?;
            let (_, &mut value, _) = scratch.select_nth_unstable_by(rank, |a, b| b.total_cmp(a));
            let above = values
                .par_iter()
                .filter(|v| v.total_cmp(&value).is_gt())
                .count();
            // ties are taken in input order, as many as the cut has room for
            let position = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.total_cmp(&value).is_eq())
                .nth(limit - above - 1)
                .map(|(i, _)| i)?;
            Some((value, position))
        })
        .collect();
    values
        .par_iter()
        .enumerate()
        .map(|(i, v)| {
            let within = |last: &Option<(f64, usize)>| {
                last.is_some_and(|(value, position)| match v.total_cmp(&value) {
                    Ordering::Greater => true,
                    Ordering::Equal => i <= position,
                    Ordering::Less => false,
                })
            };
            lasts.iter().position(within).unwrap_or(TIERS.len() - 1) as IdxSize
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_by_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let tiers = assign(&values, &[1.0, 5.0, 20.0]);
        let count = |t: &str| tiers.iter().filter(|&&x| TIERS[x as usize] == t).count();
        assert_eq!(
            (
                count("platinum"),
                count("gold"),
                count("silver"),
                count("bronze")
            ),
            (1, 4, 15, 80)
        );
        assert_eq!(TIERS[tiers[99] as usize], "platinum");
        assert_eq!(TIERS[tiers[0] as usize], "bronze");
        assert!(check_cuts(&[5.0, 1.0, 20.0]).is_err());
    }

    /// The tiers by a full sort of the ranking, as the definition reads.
    fn by_sorting(values: &[f64], cuts: &[f64]) -> Vec<IdxSize> {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
        let limits: Vec<usize> = cuts
            .iter()
            .map(|c| ((values.len() as f64) * c / 100.0).ceil() as usize)
            .collect();
        let mut tiers = vec![0; values.len()];
        for (rank, &i) in order.iter().enumerate() {
            tiers[i] = limits.iter().position(|&l| rank < l).unwrap_or(3) as IdxSize;
        }
        tiers
    }

    #[test]
    fn selection_ranks_as_a_full_sort_with_ties_and_nan() {
        // few distinct values: every cut falls among ties
        let mut state = 7u64;
        for n in [0, 1, 2, 3, 10, 99, 1000] {
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    match state >> 60 {
                        0 => f64::NAN,
                        k => (k % 5) as f64,
                    }
                })
                .collect();
            for cuts in [[1.0, 5.0, 20.0], [10.0, 50.0, 100.0], [0.1, 0.2, 0.3]] {
                assert_eq!(
                    assign(&values, &cuts),
                    by_sorting(&values, &cuts),
                    "{n} {cuts:?}"
                );
            }
        }
    }
}
