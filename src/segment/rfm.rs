//! RFM scores: recency, frequency and monetary value scored 1..=N (5 best:
//! most recent, most frequent, highest spend).
//!
//! Default scoring is by rank, as `ntile` over `rank(method = "min")`: a
//! customer's score is set by how many customers are worse, so tied values
//! always share a score, the lowest score they span. When a tie group spans
//! a score boundary (the 40% of customers who bought once), the customers
//! above it are spread over the scores left, so every score is used as far
//! as the distinct values allow. The result does not depend on row order or
//! thread count. Fixed edges replace the ranks; `rfm-r` reproduces the R
//! `rfm` package.

use anyhow::{Result, bail};

use crate::error::usage;
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

/// How scores are cut from the customer distribution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoringMethod {
    /// By rank: `ntile` over `rank(method = "min")`, ties at the lowest
    /// score they span and the rest spread over the scores left
    /// ([`rank_scores`]).
    #[default]
    Rank,
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
    /// Scores by rank as cpm cuts them, or as the R `rfm` package does.
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
            scoring: ScoringMethod::Rank,
        }
    }
}

/// How one dimension was scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scoring {
    /// `recency`, `frequency` or `monetary`.
    pub dimension: &'static str,
    /// The breaks used: given edges, R's quantile breaks, or by rank the
    /// least value of each score from 2 up (the most days since the last
    /// purchase, for recency).
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

/// Scores by rank, as `ntile` over `rank(method = "min")`: with n
/// customers ordered worst first (least spend, fewest orders, most days
/// since the last purchase), a value whose first holder has k customers
/// worse than it scores 1 + ⌊bins · k / n⌋, so ties take the lowest score
/// they span. Two refinements keep every score in use while distinct
/// values remain:
/// - when a tie group spans a score boundary (the 40% who bought once),
///   the customers above it are scored the same way among themselves, over
///   the scores left;
/// - a spanning group whose lowest score lower values already hold takes
///   the next score instead when most of it lies past the boundary.
///
/// So one-time buyers at the bottom score 1 and the values above them
/// spread over the other scores. Without ties this is dplyr's `ntile`.
/// Missing values score 1. Returns the scores and the breaks: the least
/// value of each score from 2 up, in the ordering (fewer when the values
/// cannot fill every score).
pub fn rank_scores(values: &[f64], bins: usize, higher_is_better: bool) -> (Vec<u8>, Vec<f64>) {
    // keys grow with the score; + 0.0 makes -0.0 a tie of 0.0
    let key = |v: f64| if higher_is_better { v } else { -v } + 0.0;
    let mut sorted: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| key(v))
        .collect();
    sorted.par_sort_unstable_by(f64::total_cmp);
    let thresholds = rank_thresholds(&sorted, bins);
    let scores = values
        .par_iter()
        .map(|&v| {
            if v.is_finite() {
                let k = key(v);
                (1 + thresholds.partition_point(|t| *t <= k)) as u8
            } else {
                1
            }
        })
        .collect();
    let breaks = thresholds.iter().map(|&t| key(t)).collect();
    (scores, breaks)
}

/// The least key of each score from 2 up, for keys sorted ascending (see
/// [`rank_scores`]); one threshold per score reached.
fn rank_thresholds(sorted: &[f64], bins: usize) -> Vec<f64> {
    let n = sorted.len();
    let mut thresholds: Vec<f64> = Vec::with_capacity(bins - 1);
    // the scores from `base` up are shared among the keys from `start` on
    let (mut base, mut start) = (1, 0);
    let mut i = 0;
    while i < n {
        // the tie group sorted[i..end]
        let end = i + sorted[i..].partition_point(|v| v.total_cmp(&sorted[i]).is_le());
        let left = bins + 1 - base;
        let offset = |at: usize| left * (at - start) / (n - start);
        let (lowest, highest) = (base + offset(i), base + offset(end - 1));
        let held = lowest == thresholds.len() + 1 && i > start;
        // the boundary above `lowest` is at start + (lowest − base + 1) ·
        // (n − start) / left; most of the group lies past it when twice it
        // is below i + end
        let past = 2 * (start * left + (lowest - base + 1) * (n - start)) < (i + end) * left;
        let score = if highest > lowest && held && past {
            lowest + 1
        } else {
            lowest
        };
        while thresholds.len() + 1 < score {
            thresholds.push(sorted[i]);
        }
        if highest > score {
            // the keys above the group share the scores left
            (base, start) = (score + 1, end);
        }
        i = end;
    }
    thresholds
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

/// Scores one dimension, by rank, R's quantile breaks or fixed edges.
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
            let option = format!("--{}-edges", &dimension[..1]);
            if edges.iter().any(|e| !e.is_finite()) {
                bail!(usage(format!(
                    "{option} {edges:?}: edges are finite numbers"
                )));
            }
            if edges.windows(2).any(|w| w[0] >= w[1]) {
                bail!(usage(format!("{option} must increase: {edges:?}")));
            }
            if edges.len() + 1 > 9 {
                bail!(usage(format!("{option}: at most 8 edges (9 scores)")));
            }
            edges.to_vec()
        }
        None => {
            let (scores, breaks) = match method {
                ScoringMethod::Rank => rank_scores(values, bins, higher_is_better),
                ScoringMethod::RfmR => rfm_r_scores(values, bins, higher_is_better),
            };
            let scoring = scoring(dimension, bins, breaks, &scores);
            return Ok((scores, scoring));
        }
    };
    let scores = score_values(values, &breaks, higher_is_better);
    let scoring = scoring(dimension, breaks.len() + 1, breaks, &scores);
    Ok((scores, scoring))
}

fn scoring(dimension: &'static str, bins: usize, breaks: Vec<f64>, scores: &[u8]) -> Scoring {
    let mut seen = [false; 256];
    for &score in scores {
        seen[usize::from(score)] = true;
    }
    let used: Vec<u8> = (0..=u8::MAX).filter(|&s| seen[usize::from(s)]).collect();
    Scoring {
        dimension,
        bins,
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
            ScoringMethod::Rank,
        )
        .unwrap();
        // the four 1s span scores 1 to 4 and take 1; the 2 is next
        assert_eq!(scoring.scores_used, [1, 2]);
        let decreasing = Some(&[5.0, 2.0][..]);
        assert!(
            score_dimension("recency", &[1.0], decreasing, 5, false, ScoringMethod::Rank).is_err()
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
            rank_scores(&days, 5, false).0,
            [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
        );
    }

    #[test]
    fn one_time_buyers_score_1_and_the_rest_spread_over_the_scores_left() {
        // 100 customers: 40 bought once, 20 twice, 15 three times, 10 four
        // times, 15 between 5 and 19 times
        let mut orders = vec![1.0; 40];
        orders.extend([2.0; 20]);
        orders.extend([3.0; 15]);
        orders.extend([4.0; 10]);
        orders.extend((5..20).map(f64::from));
        let (scores, breaks) = rank_scores(&orders, 5, true);
        let count = |s: u8| scores.iter().filter(|&&x| x == s).count();
        // by hand: the 1s span scores 1-2 and take 1; the 60 above share 4
        // scores, the 2s span 2-3 and take 2; the 40 above share 3, the 3s
        // span 3-4 and take 3; the 25 above share 2: the 4s and 5, 6, 7
        // (k = 0..12 of 25) score 4, from 8 on (k = 13) score 5
        assert_eq!([1, 2, 3, 4, 5].map(count), [40, 20, 15, 13, 12]);
        assert_eq!(breaks, [2.0, 3.0, 4.0, 8.0]);
        // ntile over rank(min) alone would give the 2s a 3 and leave 2 empty
        // recency runs the other way: most days first, ties at the lowest
        let days: Vec<f64> = orders.iter().map(|o| 1000.0 - o).collect();
        assert_eq!(rank_scores(&days, 5, false).0, scores);
    }

    #[test]
    fn rank_scores_without_ties_are_dplyr_ntile() {
        // ntile(x, n) = floor(n · (row_number(x) − 1) / length(x)) + 1
        for n in [1usize, 2, 3, 7, 11, 100] {
            for bins in 2..=9 {
                let values: Vec<f64> = (0..n).map(|i| ((i * 37) % n) as f64).collect();
                let (scores, _) = rank_scores(&values, bins, true);
                for (v, s) in values.iter().zip(&scores) {
                    let ntile = (bins * *v as usize / n + 1) as u8;
                    assert_eq!(*s, ntile, "n {n} bins {bins} value {v}");
                }
            }
        }
        // missing values score 1 and do not count
        let (scores, _) = rank_scores(&[f64::NAN, 3.0, 1.0, 2.0, 4.0], 2, true);
        assert_eq!(scores, [1, 2, 1, 1, 2]);
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
                let method = if rfm_r { ScoringMethod::RfmR } else { ScoringMethod::Rank };
                let score = |values: &[f64]| {
                    score_dimension("recency", values, None, bins, false, method).unwrap().0
                };
                prop_assert!(score(&after)[k] >= score(&before)[k]);
            }

            /// By rank, ties share a score, a higher value never scores
            /// lower, the lowest value scores 1, and two distinct values
            /// never collapse into one score.
            #[test]
            fn rank_scores_are_monotone_and_share_ties(
                values in prop::collection::vec(0u32..12, 1..200),
                bins in 2usize..=9,
            ) {
                let values: Vec<f64> = values.into_iter().map(f64::from).collect();
                let (scores, _) = rank_scores(&values, bins, true);
                let mut pairs: Vec<(f64, u8)> = values.iter().copied().zip(scores).collect();
                pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for w in pairs.windows(2) {
                    prop_assert!(w[1].1 >= w[0].1);
                    prop_assert!(w[0].0 != w[1].0 || w[0].1 == w[1].1, "a tie split");
                }
                prop_assert_eq!(pairs[0].1, 1);
                pairs.dedup_by(|a, b| a.0 == b.0);
                let distinct = pairs.len();
                pairs.dedup_by(|a, b| a.1 == b.1);
                prop_assert!(pairs.len() >= distinct.min(2), "{} scores", pairs.len());
            }
        }
    }
}
