//! `--model auto`: every purchase model fitted on the calibration period,
//! each one's predictions for the holdout set against what happened, and
//! the best chosen on the holdout, with the reason in a sentence.

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

use super::holdout::{FrequencyRow, Holdout, HoldoutReport, holdout_report};
use super::purchase::PurchaseModelKind;
use super::{Model, ValueConfig, fit_models, model_inputs};

/// The purchase models `auto` tries, in the order they are shown.
pub const CANDIDATES: [PurchaseModelKind; 4] = [
    PurchaseModelKind::Bgnbd,
    PurchaseModelKind::Pnbd,
    PurchaseModelKind::Mbgnbd,
    PurchaseModelKind::Bgbb,
];

/// One model's fit and holdout figures, or why it was not fitted.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The model's key (`bgnbd`, `pnbd`, …).
    pub model: PurchaseModelKind,
    /// Why it is not compared (its fit failed, or it does not suit the
    /// data); the figures below are then absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_fitted: Option<String>,
    /// The maximised log-likelihood of the calibration.
    pub log_likelihood: Option<f64>,
    /// The Bayesian information criterion, k ln n − 2 LL (lower is
    /// better; comparable across these models only on the same
    /// histories).
    pub bic: Option<f64>,
    /// Repeat purchases expected in the holdout.
    pub total_predicted: Option<f64>,
    /// Repeat purchases made in the holdout.
    pub total_actual: Option<f64>,
    /// (predicted − actual) / actual.
    pub total_error: Option<f64>,
    /// Mean absolute error per customer.
    pub mae: Option<f64>,
    /// Root mean squared error per customer.
    pub rmse: Option<f64>,
    /// Mean actual and predicted holdout purchases by calibration repeat
    /// purchases.
    pub by_frequency: Vec<FrequencyRow>,
}

/// The comparison and the model chosen.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Every model tried.
    pub candidates: Vec<Candidate>,
    /// The model chosen.
    pub chosen: PurchaseModelKind,
    /// Why, in a sentence.
    pub why: String,
}

/// What [`compare`] gives: the comparison, and the chosen model's fit and
/// holdout report.
pub struct Compared {
    /// The comparison.
    pub comparison: Comparison,
    /// The chosen model, fitted on the calibration.
    pub model: Model,
    /// Its holdout report, with the comparison in it.
    pub report: HoldoutReport,
}

/// Fits every model of [`CANDIDATES`] on the customers at the end of the
/// calibration (`calibrated`), compares their holdout predictions, and
/// chooses the one with the lowest per-customer RMSE (ties: lower BIC).
/// BG/BB is compared only when no customer bought more than once in an
/// opportunity (else its counts are not the others'). An error only when
/// no model fits.
pub fn compare(
    calibrated: &DataFrame,
    config: &ValueConfig,
    holdout: &Holdout,
) -> Result<Compared> {
    let mut candidates = Vec::new();
    let mut fitted: Vec<(Model, HoldoutReport)> = Vec::new();
    let mut last_error = None;
    for kind in CANDIDATES {
        let config = ValueConfig {
            model: kind,
            ..config.clone()
        };
        let attempt = || -> Result<(Model, HoldoutReport, f64)> {
            let inputs = model_inputs(calibrated, config.time_unit, kind)?;
            if inputs.merged > 0 {
                anyhow::bail!(
                    "{} customers bought more than once in an opportunity (one {}), which BG/BB \
                     counts once",
                    inputs.merged,
                    config.time_unit.name()
                );
            }
            let model = fit_models(&inputs, &config, Some(holdout.calibration_end))?;
            let mut table = calibrated.clone();
            let report = holdout_report(&mut table, &inputs, &model, holdout)?;
            Ok((model, report, inputs.histories.customers()))
        };
        match attempt() {
            Ok((model, report, n)) => {
                let ll = model.purchase.log_likelihood();
                let k = model.purchase.parameters().len() as f64;
                candidates.push(Candidate {
                    model: kind,
                    not_fitted: None,
                    log_likelihood: Some(ll),
                    bic: Some(k * n.ln() - 2.0 * ll),
                    total_predicted: Some(report.total_predicted),
                    total_actual: Some(report.total_actual),
                    total_error: (report.total_actual > 0.0).then(|| {
                        (report.total_predicted - report.total_actual) / report.total_actual
                    }),
                    mae: Some(report.mae),
                    rmse: Some(report.rmse),
                    by_frequency: report.by_frequency.clone(),
                });
                fitted.push((model, report));
            }
            Err(e) => {
                candidates.push(Candidate {
                    model: kind,
                    not_fitted: Some(format!("{e:#}")),
                    log_likelihood: None,
                    bic: None,
                    total_predicted: None,
                    total_actual: None,
                    total_error: None,
                    mae: None,
                    rmse: None,
                    by_frequency: Vec::new(),
                });
                last_error = Some(e);
            }
        }
    }
    let rank = |c: &Candidate| {
        (
            c.rmse.unwrap_or(f64::INFINITY),
            c.bic.unwrap_or(f64::INFINITY),
        )
    };
    let mut order: Vec<&Candidate> = candidates.iter().filter(|c| c.rmse.is_some()).collect();
    order.sort_by(|a, b| {
        rank(a)
            .partial_cmp(&rank(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let Some(best) = order.first() else {
        return Err(last_error
            .unwrap_or_else(|| anyhow::anyhow!("no model to compare"))
            .context("--model auto: no purchase model could be fitted"));
    };
    let chosen = best.model;
    let why = reason(best, order.get(1).copied());
    let comparison = Comparison {
        candidates: candidates.clone(),
        chosen,
        why,
    };
    let (model, mut report) = fitted
        .into_iter()
        .find(|(m, _)| m.purchase.kind() == chosen)
        .ok_or_else(|| anyhow::anyhow!("the chosen model was not kept"))?;
    report.comparison = Some(comparison.clone());
    Ok(Compared {
        comparison,
        model,
        report,
    })
}

/// The reason for choosing `best` over the `runner_up`, in a sentence.
fn reason(best: &Candidate, runner_up: Option<&Candidate>) -> String {
    let rmse = best.rmse.unwrap_or(f64::NAN);
    let total = match best.total_error {
        Some(e) => format!(
            "; it expects {:.0} repeat purchases in the holdout against {:.0} made ({:+.1}%)",
            best.total_predicted.unwrap_or(f64::NAN),
            best.total_actual.unwrap_or(f64::NAN),
            100.0 * e
        ),
        None => String::new(),
    };
    match runner_up {
        Some(next) => {
            let next_rmse = next.rmse.unwrap_or(f64::NAN);
            let close = if next_rmse - rmse < 0.01 * rmse {
                "; the two are within 1% of each other, so either would serve"
            } else {
                ""
            };
            format!(
                "{} predicts each customer's holdout purchases best: RMSE {rmse:.4} against \
                 {next_rmse:.4} for {}, the next best{total}{close}",
                best.model.name(),
                next.model.name()
            )
        }
        None => format!(
            "{} is the only model that could be fitted (RMSE {rmse:.4}){total}",
            best.model.name()
        ),
    }
}
