//! The value/risk matrix: value high/low (split at the median) × churn risk
//! high/low, each cell named by its strategy.

use rayon::prelude::*;

use super::rules::Play;

/// Matrix cells: (value high, risk high) → name.
pub fn cell(high_value: bool, high_risk: bool) -> &'static str {
    match (high_value, high_risk) {
        (true, true) => "Protect",
        (true, false) => "Maintain",
        (false, false) => "Develop",
        (false, true) => "Deprioritise",
    }
}

/// What to do with the customers of a matrix cell (`None` for a name that
/// is not a cell).
pub fn play(cell: &str) -> Option<Play> {
    let (strategy, action) = match cell {
        "Protect" => (
            "win back",
            "Valuable and slipping: personal outreach now, before they lapse",
        ),
        "Maintain" => (
            "retain",
            "Valuable and active: service and recognition, no discounts needed",
        ),
        "Develop" => (
            "grow",
            "Active but small: cross-sell, bundles and a reason to buy more",
        ),
        "Deprioritise" => (
            "deprioritise",
            "Small and slipping: low-cost automated reactivation only",
        ),
        _ => return None,
    };
    Some(Play {
        strategy: strategy.to_string(),
        action: action.to_string(),
    })
}

/// Median of finite values (NaN when there are none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.par_sort_unstable_by(f64::total_cmp);
    super::rfm::quantile_sorted(&sorted, 0.5)
}

/// Churn risk as the ratio of days since the last purchase to the expected
/// gap between purchases: the customer's own mean gap when they bought on
/// two or more days, otherwise the population's median gap.
pub fn overdue_ratios(days_since_last: &[f64], span_days: &[f64], repeats: &[f64]) -> Vec<f64> {
    let own_gaps: Vec<f64> = span_days
        .iter()
        .zip(repeats)
        .map(|(span, r)| if *r >= 1.0 { span / r } else { f64::NAN })
        .collect();
    let typical = median(&own_gaps);
    days_since_last
        .iter()
        .zip(&own_gaps)
        .map(|(days, own)| {
            let gap = if own.is_finite() && *own > 0.0 {
                *own
            } else {
                typical
            };
            if gap.is_finite() && gap > 0.0 {
                days / gap
            } else {
                f64::NAN
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_against_own_or_typical_gap() {
        // a buys every 10 days, last 30 days ago; b every 40 days, last 20
        // days ago; c bought once, 60 days ago, against the median gap 25
        let ratios = overdue_ratios(&[30.0, 20.0, 60.0], &[20.0, 80.0, 0.0], &[2.0, 2.0, 0.0]);
        assert_eq!(ratios, [3.0, 0.5, 2.4]);
        assert_eq!(cell(true, true), "Protect");
        assert_eq!(cell(false, true), "Deprioritise");
    }
}
