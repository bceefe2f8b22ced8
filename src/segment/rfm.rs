//! RFM scores: recency, frequency and monetary value scored 1..=N (5 best:
//! most recent, most frequent, highest spend).
//!
//! Default scoring puts breaks at the quantiles i/N of the customer
//! distribution (type 7: linear interpolation, as R's and numpy's default)
//! and scores each value by the interval `[break_k, break_k+1)` it falls in,
//! so tied values always share a score and the result does not depend on
//! row order or thread count. Fixed edges replace the quantile breaks.

use anyhow::{Result, bail};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Which spend measure the M score ranks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Monetary {
    /// Total revenue in the window.
    #[default]
    Total,
    /// Mean order value.
    Mean,
}

/// How breaks are placed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoringMethod {
    /// Quantiles i/N, intervals `[break_k, break_k+1)`.
    #[default]
    Quantile,
    /// The R `rfm` package (0.3.0), quirk included: each quantile break
    /// plus 1, lower bounds (min, breaks), upper bounds (breaks, max + 1).
    RfmR,
}

/// How scores are cut.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RfmConfig {
    /// Number of scores per dimension (2..=9).
    pub bins: usize,
    /// Fixed recency edges in days (ascending), instead of quantiles.
    pub r_edges: Option<Vec<f64>>,
    /// Fixed frequency edges in orders.
    pub f_edges: Option<Vec<f64>>,
    /// Fixed monetary edges.
    pub m_edges: Option<Vec<f64>>,
    /// Total or mean spend.
    pub monetary: Monetary,
    /// Quantile breaks as cpm places them, or as the R `rfm` package does.
    pub scoring: ScoringMethod,
}

impl Default for RfmConfig {
    fn default() -> Self {
        RfmConfig {
            bins: 5,
            r_edges: None,
            f_edges: None,
            m_edges: None,
            monetary: Monetary::Total,
            scoring: ScoringMethod::Quantile,
        }
    }
}

/// How one dimension was scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scoring {
    /// `recency`, `frequency` or `monetary`.
    pub dimension: &'static str,
    /// The breaks used (quantiles or given edges).
    pub breaks: Vec<f64>,
    /// Scores that at least one customer received, ascending.
    pub scores_used: Vec<u8>,
    /// Scores available.
    pub bins: usize,
}

/// Type-7 quantile (linear interpolation) of sorted values.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Breaks at the quantiles 1/N, ..., (N-1)/N.
pub fn quantile_breaks(values: &[f64], bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.par_sort_unstable_by(f64::total_cmp);
    (1..bins)
        .map(|i| quantile_sorted(&sorted, i as f64 / bins as f64))
        .collect()
}

/// Scores values by the interval they fall in: 1 below the first break, N
/// at or above the last; `higher_is_better = false` turns it round (recency).
pub fn score_values(values: &[f64], breaks: &[f64], higher_is_better: bool) -> Vec<u8> {
    let bins = breaks.len() + 1;
    values
        .iter()
        .map(|v| {
            let at_or_above = breaks.partition_point(|b| b <= v);
            let score = if higher_is_better {
                1 + at_or_above
            } else {
                bins - at_or_above
            };
            score as u8
        })
        .collect()
}

/// The R `rfm` package's scores: breaks are the quantiles plus 1, and a
/// value is scored by the interval `[lower_i, upper_i)` it falls in, with
/// lower bounds (min, breaks) and upper bounds (breaks, max + 1).
pub fn rfm_r_scores(values: &[f64], bins: usize, higher_is_better: bool) -> (Vec<u8>, Vec<f64>) {
    let breaks: Vec<f64> = quantile_breaks(values, bins)
        .iter()
        .map(|b| b + 1.0)
        .collect();
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let min = finite.clone().fold(f64::INFINITY, f64::min);
    let max = finite.fold(f64::NEG_INFINITY, f64::max);
    let mut lower = vec![min];
    lower.extend(&breaks);
    let mut upper = breaks.clone();
    upper.push(max + 1.0);
    let scores = values
        .iter()
        .map(|v| {
            let interval = (0..bins)
                .find(|&i| lower[i] <= *v && *v < upper[i])
                .map_or(bins, |i| i + 1);
            if higher_is_better {
                interval as u8
            } else {
                (bins + 1 - interval) as u8
            }
        })
        .collect();
    (scores, breaks)
}

/// Scores one dimension, by quantiles or fixed edges.
pub fn score_dimension(
    dimension: &'static str,
    values: &[f64],
    edges: Option<&[f64]>,
    bins: usize,
    higher_is_better: bool,
    method: ScoringMethod,
) -> Result<(Vec<u8>, Scoring)> {
    let breaks = match edges {
        Some(edges) => {
            if edges.windows(2).any(|w| w[0] >= w[1]) {
                bail!("--{}-edges must increase: {edges:?}", &dimension[..1]);
            }
            if edges.len() + 1 > 9 {
                bail!("--{}-edges: at most 8 edges (9 scores)", &dimension[..1]);
            }
            edges.to_vec()
        }
        None if method == ScoringMethod::RfmR => {
            let (scores, breaks) = rfm_r_scores(values, bins, higher_is_better);
            return Ok((scores.clone(), scoring(dimension, breaks, &scores)));
        }
        None => quantile_breaks(values, bins),
    };
    let scores = score_values(values, &breaks, higher_is_better);
    let scoring = scoring(dimension, breaks, &scores);
    Ok((scores, scoring))
}

fn scoring(dimension: &'static str, breaks: Vec<f64>, scores: &[u8]) -> Scoring {
    let mut seen = [false; 256];
    for &score in scores {
        seen[usize::from(score)] = true;
    }
    let used: Vec<u8> = (0..=u8::MAX).filter(|&s| seen[usize::from(s)]).collect();
    Scoring {
        dimension,
        bins: breaks.len() + 1,
        breaks,
        scores_used: used,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type7_quantiles_match_r_and_numpy() {
        // R: quantile(c(1, 2, 3, 4, 10), c(.2, .4, .6, .8)) = 1.8 2.6 3.4 5.2
        let breaks = quantile_breaks(&[10.0, 1.0, 3.0, 2.0, 4.0], 5);
        let expected = [1.8, 2.6, 3.4, 5.2];
        for (b, e) in breaks.iter().zip(expected) {
            assert!((b - e).abs() < 1e-12, "{breaks:?}");
        }
    }

    #[test]
    fn ties_share_a_score_and_recency_runs_backwards() {
        let breaks = [1.0, 1.0, 1.0, 2.0];
        assert_eq!(
            score_values(&[1.0, 1.0, 2.0, 5.0], &breaks, true),
            [4, 4, 5, 5]
        );
        let r = score_values(
            &[3.0, 30.0, 100.0, 400.0],
            &[30.0, 90.0, 180.0, 365.0],
            false,
        );
        assert_eq!(r, [5, 4, 3, 1]);
    }

    #[test]
    fn scoring_reports_the_scores_used() {
        let (_, scoring) = score_dimension(
            "frequency",
            &[1.0, 1.0, 1.0, 1.0, 2.0],
            None,
            5,
            true,
            ScoringMethod::Quantile,
        )
        .unwrap();
        assert_eq!(scoring.scores_used, [4, 5]);
        let decreasing = Some(&[5.0, 2.0][..]);
        assert!(
            score_dimension(
                "recency",
                &[1.0],
                decreasing,
                5,
                false,
                ScoringMethod::Quantile
            )
            .is_err()
        );
    }

    #[test]
    fn rfm_r_scoring_shifts_the_breaks_by_one() {
        // days 1..10: quantiles 2.8, 4.6, 6.4, 8.2, so R's breaks are 3.8,
        // 5.6, 7.4, 9.2 with bounds [1, 3.8) [3.8, 5.6) ... [9.2, 11)
        let days: Vec<f64> = (1..=10).map(f64::from).collect();
        let (r, breaks) = rfm_r_scores(&days, 5, false);
        assert_eq!(r, [5, 5, 5, 4, 4, 3, 3, 2, 2, 1]);
        assert!((breaks[0] - 3.8).abs() < 1e-12);
        // cpm's own scoring of the same days
        assert_eq!(
            score_values(&days, &quantile_breaks(&days, 5), false),
            [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]

            /// Buying more recently never lowers a customer's R score, however
            /// the quantiles move with it.
            #[test]
            fn a_more_recent_last_purchase_never_lowers_r(
                days in prop::collection::vec(0u32..2000, 1..60),
                pick in any::<prop::sample::Index>(),
                sooner in 1u32..500,
                rfm_r in any::<bool>(),
                bins in 2usize..=9,
            ) {
                let before: Vec<f64> = days.iter().map(|&d| f64::from(d)).collect();
                let k = pick.index(before.len());
                let mut after = before.clone();
                after[k] = (after[k] - f64::from(sooner)).max(0.0);
                let method = if rfm_r { ScoringMethod::RfmR } else { ScoringMethod::Quantile };
                let score = |values: &[f64]| {
                    score_dimension("recency", values, None, bins, false, method).unwrap().0
                };
                prop_assert!(score(&after)[k] >= score(&before)[k]);
            }
        }
    }
}
