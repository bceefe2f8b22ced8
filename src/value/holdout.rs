//! Holdout validation: a model fitted on transactions up to a calibration
//! day predicts the period after it, and the predictions are set against
//! what happened: per customer, by calibration frequency, and as the
//! tracking curve of cumulative repeat purchases.

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use super::Model;
use super::purchase::PurchaseModel;
use crate::schema::CUSTOMER_ID;

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
    /// With `--model auto`: every model's figures and the choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<super::compare::Comparison>,
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
        comparison: None,
    }
}

/// The tracking curve over `periods` periods of `period_days` days from
/// day `start`: actual cumulative repeat purchases from `repeat_days` (the
/// day of each repeat purchase), expected ones summed over the customers'
/// first purchase days (`births`: day and number of customers), each
/// customer's expectation taken from its own first purchase on, over
/// t = end − first purchase day (BTYD's convention: a period ending on
/// day `end`, exclusive, gives a customer born on its first day one whole
/// period).
/// `days_per_unit` converts days to the model's time unit.
pub fn tracking(
    model: &dyn PurchaseModel,
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
                let t = f64::from(end - birth) / days_per_unit;
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

/// What a holdout run compares against: the customers up to the as-of
/// day, and the days of their repeat purchases.
pub struct Holdout {
    /// The customer table up to the as-of day.
    pub full: DataFrame,
    /// The days of the repeat purchases up to the as-of day of the
    /// customers born by the end of the calibration, in order
    /// ([`crate::summary::PurchaseDays::repeat_days`]).
    pub repeat_days: Vec<i32>,
    /// The last day of the calibration.
    pub calibration_end: NaiveDate,
    /// The end of the holdout.
    pub as_of: NaiveDate,
}

/// Compares the calibration customers' predicted holdout purchases with
/// the actual ones (added as `holdout_purchases` and
/// `holdout_expected`), and tracks cumulative repeat purchases per period.
pub fn holdout_report(
    table: &mut DataFrame,
    inputs: &super::ModelInputs,
    model: &Model,
    holdout: &Holdout,
) -> Result<HoldoutReport> {
    let unit_days = model.time_unit.days();
    let to_day = |d: NaiveDate| crate::schema::dates::days_since_epoch(d);
    let length = f64::from(to_day(holdout.as_of) - to_day(holdout.calibration_end)) / unit_days;
    let params = model.purchase.model();
    let predicted: Vec<f64> = (0..inputs.x.len())
        .into_par_iter()
        .map(|i| params.expected_purchases(length, inputs.x[i], inputs.t_x[i], inputs.t[i]))
        .collect::<Result<_>>()?;
    // actual: repeat purchases by the as-of day less those by the end of
    // calibration (purchase days split cleanly at a date)
    let later = holdout
        .full
        .select([CUSTOMER_ID, "repeat_purchases"])?
        .lazy()
        .rename(["repeat_purchases"], ["__repeats_by_as_of"], true);
    let joined = table
        .clone()
        .lazy()
        .select([col(CUSTOMER_ID)])
        .join(
            later,
            [col(CUSTOMER_ID)],
            [col(CUSTOMER_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .collect()?;
    let by_as_of = joined
        .column("__repeats_by_as_of")?
        .cast(&DataType::Float64)?;
    let actual: Vec<f64> = by_as_of
        .f64()?
        .iter()
        .zip(&inputs.x)
        .map(|(total, x)| total.unwrap_or(*x) - x)
        .collect();
    let mut report = crate::value::holdout::compare(&inputs.x, &actual, &predicted);
    table.with_column(Column::new("holdout_purchases".into(), &actual))?;
    table.with_column(Column::new("holdout_expected".into(), &predicted))?;

    let firsts = table.column("first_order")?.cast(&DataType::Int32)?;
    let mut births: Vec<(i32, f64)> = Vec::new();
    let mut days: Vec<i32> = firsts.i32()?.into_no_null_iter().collect();
    days.sort_unstable();
    for run in days.chunk_by(|a, b| a == b) {
        births.push((run[0], run.len() as f64));
    }
    let start = births.first().map_or(0, |b| b.0);
    let period = unit_days as i32;
    let periods = ((to_day(holdout.as_of) - start) / period + 1).max(1) as u32;
    report.tracking = crate::value::holdout::tracking(
        params,
        &births,
        &holdout.repeat_days,
        start,
        period,
        periods,
        unit_days,
    )?;
    Ok(report)
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
