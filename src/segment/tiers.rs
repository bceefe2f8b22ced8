//! Value tiers, the customer pyramid: platinum, gold, silver and bronze by
//! rank of value (top 1% / next 4% / next 15% / the rest by default).

use anyhow::{Result, bail};
use rayon::prelude::*;

/// Tier names, best first.
pub const TIERS: [&str; 4] = ["platinum", "gold", "silver", "bronze"];

/// Checks cumulative cut points in percent (`1,5,20`): three, increasing,
/// within (0, 100].
pub fn check_cuts(cuts: &[f64]) -> Result<()> {
    if cuts.len() != 3 || cuts.windows(2).any(|w| w[0] >= w[1]) || cuts[0] <= 0.0 || cuts[2] > 100.0
    {
        bail!(
            "--tier-cuts needs three increasing percentages within 0..100, e.g. 1,5,20 (got {cuts:?})"
        );
    }
    Ok(())
}

/// The tier of each customer: ranked by value, highest first (ties broken by
/// input order, which is customer id), the first ceil(n·1%) are platinum,
/// up to ceil(n·5%) gold, up to ceil(n·20%) silver, the rest bronze.
pub fn assign(values: &[f64], cuts: &[f64]) -> Vec<&'static str> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    // a total order (ties by position), so an unstable sort is deterministic
    order.par_sort_unstable_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let limits: Vec<usize> = cuts
        .iter()
        .map(|c| ((n as f64) * c / 100.0).ceil() as usize)
        .collect();
    let mut tiers = vec![TIERS[3]; n];
    for (rank, &i) in order.iter().enumerate() {
        tiers[i] = TIERS[limits.iter().position(|&l| rank < l).unwrap_or(3)];
    }
    tiers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_by_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let tiers = assign(&values, &[1.0, 5.0, 20.0]);
        let count = |t: &str| tiers.iter().filter(|x| **x == t).count();
        assert_eq!(
            (
                count("platinum"),
                count("gold"),
                count("silver"),
                count("bronze")
            ),
            (1, 4, 15, 80)
        );
        assert_eq!(tiers[99], "platinum");
        assert_eq!(tiers[0], "bronze");
        assert!(check_cuts(&[5.0, 1.0, 20.0]).is_err());
    }
}
