//! Holdout validation: a model fitted on transactions up to a calibration
//! day predicts the period after it, and the predictions are set against
//! what happened: per customer, by calibration frequency, and as the
//! tracking curve of cumulative repeat purchases.

use anyhow::Result;
use rayon::prelude::*;
use serde::Serialize;

use super::bgnbd::BgNbd;

/// Predicted against actual, as `--holdout-report` writes it.
#[derive(Debug, Clone, Serialize)]
pub struct HoldoutReport {
    /// Repeat purchases made in the holdout period.
    pub total_actual: f64,
    /// Repeat purchases the model expected there.
    pub total_predicted: f64,
    /// Mean absolute error per customer.
    pub mae: f64,
    /// Root mean squared error per customer.
    pub rmse: f64,
    /// By repeat purchases in the calibration period (the last row is 7+).
    pub by_frequency: Vec<FrequencyRow>,
    /// Cumulative repeat purchases per period, from the first purchase on.
    pub tracking: Vec<TrackingRow>,
}

/// Customers with `x` calibration repeat purchases, and their mean
/// holdout purchases, actual and predicted.
#[derive(Debug, Clone, Serialize)]
pub struct FrequencyRow {
    /// Calibration repeat purchases (7 stands for 7 or more).
    pub x: u32,
    /// Customers.
    pub customers: u64,
    /// Mean actual holdout purchases.
    pub actual: f64,
    /// Mean predicted holdout purchases.
    pub predicted: f64,
}

/// Cumulative repeat purchases at the end of a period.
#[derive(Debug, Clone, Serialize)]
pub struct TrackingRow {
    /// Period number (1 = the first period from the earliest first purchase).
    pub period: u32,
    /// Repeat purchases made by the end of the period.
    pub actual_cumulative: f64,
    /// Repeat purchases the model expects by then.
    pub expected_cumulative: f64,
}

/// Compares per-customer holdout purchases: `x` calibration repeat
/// purchases, `actual` and `predicted` holdout purchases.
pub fn compare(x: &[f64], actual: &[f64], predicted: &[f64]) -> HoldoutReport {
    let n = x.len().max(1) as f64;
    let errors: Vec<f64> = actual.iter().zip(predicted).map(|(a, p)| a - p).collect();
    let mut by_frequency: Vec<FrequencyRow> = (0..=7)
        .map(|x| FrequencyRow {
            x,
            customers: 0,
            actual: 0.0,
            predicted: 0.0,
        })
        .collect();
    for i in 0..x.len() {
        let row = &mut by_frequency[(x[i] as usize).min(7)];
        row.customers += 1;
        row.actual += actual[i];
        row.predicted += predicted[i];
    }
    for row in &mut by_frequency {
        let count = row.customers.max(1) as f64;
        row.actual /= count;
        row.predicted /= count;
    }
    by_frequency.retain(|row| row.customers > 0);
    HoldoutReport {
        total_actual: actual.iter().sum(),
        total_predicted: predicted.iter().sum(),
        mae: errors.iter().map(|e| e.abs()).sum::<f64>() / n,
        rmse: (errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt(),
        by_frequency,
        tracking: Vec::new(),
    }
}

/// The tracking curve over `periods` periods of `period_days` days from
/// day `start`: actual cumulative repeat purchases from `repeat_days` (the
/// day of each repeat purchase), expected ones summed over the customers'
/// first purchase days (`births`: day and number of customers), each
/// customer's expectation taken from its own first purchase on.
/// `days_per_unit` converts days to the model's time unit.
pub fn tracking(
    model: &BgNbd,
    births: &[(i32, f64)],
    repeat_days: &[i32],
    start: i32,
    period_days: i32,
    periods: u32,
    days_per_unit: f64,
) -> Result<Vec<TrackingRow>> {
    let mut sorted = repeat_days.to_vec();
    sorted.sort_unstable();
    (1..=periods)
        .into_par_iter()
        .map(|k| {
            let end = start + k as i32 * period_days;
            let actual = sorted.partition_point(|&d| d < end) as f64;
            let mut expected = 0.0;
            for &(birth, count) in births.iter().filter(|(b, _)| *b < end) {
                let t = f64::from(end - birth - 1) / days_per_unit;
                expected += count * model.unconditional_expected_purchases(t)?;
            }
            Ok(TrackingRow {
                period: k,
                actual_cumulative: actual,
                expected_cumulative: expected,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_frequency_rows() {
        let report = compare(&[0.0, 0.0, 9.0], &[1.0, 0.0, 4.0], &[0.5, 0.5, 2.0]);
        assert_eq!(report.total_actual, 5.0);
        assert_eq!(report.total_predicted, 3.0);
        assert!((report.mae - 1.0).abs() < 1e-12);
        assert!((report.rmse - (4.5f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(report.by_frequency.len(), 2);
        assert_eq!(report.by_frequency[1].x, 7, "9 repeat purchases fall in 7+");
        assert_eq!(report.by_frequency[0].actual, 0.5);
    }
}
