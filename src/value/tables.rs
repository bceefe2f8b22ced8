//! The tables `cpm value` shows people on stderr: the whale curve of
//! profit, the holdout comparison, the fitted parameters. Built here, as
//! frames; the caller renders them (terminal, Markdown).

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

use super::compare::Comparison;
use super::holdout::HoldoutReport;
use super::{Model, ValueConfig};
use crate::io::human;

/// The whale curve of historic profit, profit per segment when the table
/// has segments (after `cpm segment`), and per value of each attribute
/// `by` (`value --by region`).
pub fn profitability(table: &DataFrame, by: &[String]) -> Result<Vec<DataFrame>> {
    let profit = table.column("profit")?.cast(&DataType::Float64)?;
    let profit: Vec<f64> = profit.f64()?.into_no_null_iter().collect();
    let curve = super::historic::whale_curve(&profit);
    let (percent, money) = (human::percent, human::money);
    let rows = [
        ("total profit", money(curve.total_profit)),
        (
            "whale curve peak",
            format!(
                "{} ({} of total)",
                money(curve.peak_profit),
                percent(curve.peak_share_of_total)
            ),
        ),
        (
            "peak reached after",
            format!(
                "{} customers ({})",
                human::count(curve.peak_at_customers),
                percent(curve.peak_at_share)
            ),
        ),
        (
            "unprofitable customers",
            format!(
                "{} ({})",
                human::count(curve.unprofitable_customers),
                percent(curve.unprofitable_share)
            ),
        ),
        ("profit they destroy", money(curve.profit_destroyed)),
    ];
    let whale = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "profitability".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )?;
    let mut tables = vec![whale];
    if table.column("segment").is_ok() {
        tables.push(super::historic::profitability_by(table, "segment")?);
    }
    for by in by {
        crate::groups::check_attribute(table, "--by", by)?;
        tables.push(super::historic::profitability_by(table, by)?);
    }
    Ok(tables)
}

/// The holdout comparison for people: totals and errors, then by
/// calibration frequency.
pub fn holdout(report: &HoldoutReport) -> Result<Vec<DataFrame>> {
    let totals = DataFrame::new(
        4,
        vec![
            Column::new(
                "holdout".into(),
                [
                    "actual repeat purchases",
                    "predicted",
                    "MAE per customer",
                    "RMSE per customer",
                ],
            ),
            Column::new(
                "value".into(),
                [
                    report.total_actual,
                    report.total_predicted,
                    report.mae,
                    report.rmse,
                ],
            ),
        ],
    )?;
    let rows = &report.by_frequency;
    let by_frequency = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "calibration repeats".into(),
                rows.iter()
                    .map(|r| {
                        if r.x == 7 {
                            "7+".to_string()
                        } else {
                            r.x.to_string()
                        }
                    })
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "customers".into(),
                rows.iter().map(|r| r.customers).collect::<Vec<_>>(),
            ),
            Column::new(
                "actual".into(),
                rows.iter().map(|r| r.actual).collect::<Vec<_>>(),
            ),
            Column::new(
                "predicted".into(),
                rows.iter().map(|r| r.predicted).collect::<Vec<_>>(),
            ),
        ],
    )?;
    Ok(vec![totals, by_frequency])
}

/// One fitted model's parameters and fit, for people: the one place they
/// are named and rounded (`cpm value`'s table, the report's model health).
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The model's name.
    pub model: &'static str,
    /// Each parameter's name, estimate and standard error (when known).
    pub parameters: Vec<(&'static str, f64, Option<f64>)>,
    /// The maximised log-likelihood.
    pub log_likelihood: f64,
}

impl Fitted {
    /// The parameters on one line: `r 0.2426, alpha 4.4136, …`.
    pub fn line(&self) -> String {
        let parameters: Vec<String> = (self.parameters.iter())
            .map(|(name, value, _)| format!("{name} {}", estimate(*value)))
            .collect();
        parameters.join(", ")
    }
}

/// An estimate as shown: four decimals.
fn estimate(value: f64) -> String {
    format!("{value:.4}")
}

/// The fitted models of `model`: the purchase model (BG/NBD or
/// Pareto/NBD), and Gamma-Gamma when a spend model was fitted.
pub fn fitted(model: &Model) -> Vec<Fitted> {
    let mut all = vec![Fitted {
        model: model.purchase.kind().name(),
        parameters: model.purchase.parameters(),
        log_likelihood: model.purchase.log_likelihood(),
    }];
    if let Some(gg) = &model.gamma_gamma {
        all.push(Fitted {
            model: "Gamma-Gamma",
            parameters: vec![
                ("p", gg.params.p, gg.std_errors[0]),
                ("q", gg.params.q, gg.std_errors[1]),
                ("gamma", gg.params.gamma, gg.std_errors[2]),
            ],
            log_likelihood: gg.log_likelihood,
        });
    }
    all
}

/// The fitted parameters with their standard errors, the fits, the time
/// unit and the horizon.
pub fn model(model: &Model, config: &ValueConfig) -> Result<DataFrame> {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for fit in fitted(model) {
        for (name, value, se) in &fit.parameters {
            let se = se.map_or_else(|| "-".to_string(), estimate);
            rows.push((format!("{} {name}", fit.model), estimate(*value), se));
        }
        rows.push((
            format!("{} log-likelihood", fit.model),
            human::fixed(fit.log_likelihood, 2),
            String::new(),
        ));
    }
    if let Some(fallback) = &model.spend_fallback {
        rows.push((
            "spend per purchase".into(),
            format!(
                "each repeat customer's own mean; {} for the others (Gamma-Gamma not used)",
                human::fixed(fallback.population_mean, 2)
            ),
            String::new(),
        ));
    }
    let horizon = config.horizon.in_units(model.time_unit);
    rows.push((
        "a new customer's repeat purchases over the horizon".into(),
        human::fixed(
            (model.purchase.model()).unconditional_expected_purchases(horizon)?,
            3,
        ),
        String::new(),
    ));
    rows.push((
        "time unit, horizon".into(),
        format!(
            "{}, {}{}",
            model.time_unit.name(),
            config.horizon.amount,
            config.horizon.unit
        ),
        String::new(),
    ));
    let column = |name: &str, pick: fn(&(String, String, String)) -> &str| {
        Column::new(name.into(), rows.iter().map(pick).collect::<Vec<&str>>())
    };
    Ok(DataFrame::new(
        rows.len(),
        vec![
            column("model", |r| &r.0),
            column("estimate", |r| &r.1),
            column("std_error", |r| &r.2),
        ],
    )?)
}

/// The models compared on the holdout (`--model auto`): each one's
/// log-likelihood, BIC and holdout errors, the chosen marked; and the mean
/// holdout purchases by calibration repeat purchases, actual and each
/// model's.
pub fn comparison(comparison: &Comparison) -> Result<Vec<DataFrame>> {
    let c = &comparison.candidates;
    let number =
        |v: Option<f64>, digits: usize| v.map_or(String::new(), |v| format!("{v:.digits$}"));
    let fitted: Vec<&super::compare::Candidate> = c.iter().filter(|c| c.rmse.is_some()).collect();
    let models = df!(
        "model" => c.iter().map(|c| {
            let mark = if c.model == comparison.chosen { " (chosen)" } else { "" };
            format!("{}{mark}", c.model.name())
        }).collect::<Vec<_>>(),
        "log-likelihood" => c.iter().map(|c| number(c.log_likelihood, 2)).collect::<Vec<_>>(),
        "BIC" => c.iter().map(|c| number(c.bic, 2)).collect::<Vec<_>>(),
        "holdout expected" => c.iter().map(|c| number(c.total_predicted, 1)).collect::<Vec<_>>(),
        "actual" => c.iter().map(|c| number(c.total_actual, 0)).collect::<Vec<_>>(),
        "total error" => c.iter().map(|c| c.total_error.map_or(String::new(), |e| format!("{:+.1}%", 100.0 * e))).collect::<Vec<_>>(),
        "MAE" => c.iter().map(|c| number(c.mae, 4)).collect::<Vec<_>>(),
        "RMSE" => c.iter().map(|c| number(c.rmse, 4)).collect::<Vec<_>>(),
    )?;
    let Some(first) = fitted.first() else {
        return Ok(vec![models]);
    };
    let rows = &first.by_frequency;
    let mut columns = vec![
        Column::new(
            "repeat purchases".into(),
            rows.iter()
                .map(|r| {
                    if r.x >= 7 {
                        "7+".to_string()
                    } else {
                        r.x.to_string()
                    }
                })
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "customers".into(),
            rows.iter().map(|r| r.customers).collect::<Vec<_>>(),
        ),
        Column::new(
            "actual".into(),
            rows.iter()
                .map(|r| format!("{:.3}", r.actual))
                .collect::<Vec<_>>(),
        ),
    ];
    for candidate in &fitted {
        columns.push(Column::new(
            candidate.model.name().into(),
            (candidate.by_frequency.iter())
                .map(|r| format!("{:.3}", r.predicted))
                .collect::<Vec<_>>(),
        ));
    }
    Ok(vec![models, DataFrame::new(rows.len(), columns)?])
}

/// The portfolio's totals over the horizon with their intervals
/// (`--intervals`).
pub fn interval_totals(totals: &super::intervals::IntervalTotals) -> Result<DataFrame> {
    let mut rows = vec![("expected purchases", totals.expected_purchases)];
    rows.extend(totals.clv.map(|clv| ("CLV", clv)));
    let level = format!("{:.0}%", 100.0 * totals.level);
    Ok(df!(
        "all customers, over the horizon" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "estimate" => rows.iter().map(|r| human::money(r.1.estimate)).collect::<Vec<_>>(),
        format!("{level} lower").as_str() => rows.iter().map(|r| human::money(r.1.lower)).collect::<Vec<_>>(),
        format!("{level} upper").as_str() => rows.iter().map(|r| human::money(r.1.upper)).collect::<Vec<_>>(),
    )?)
}

/// P(alive) over repeat purchases × the time of the last one, for
/// customers observed for `tenure` (lifetimes' probability-alive matrix).
#[derive(Debug, Clone, Serialize)]
pub struct AliveMatrix {
    /// The time observed, T (the model's unit).
    pub tenure: f64,
    /// Repeat purchases of each row, the most at the top.
    pub frequencies: Vec<u32>,
    /// The time of the last purchase of each column (0 … T).
    pub recencies: Vec<f64>,
    /// P(alive) per row and column; `None` where no history can be (x =
    /// 0 with t_x > 0; BG/BB: more purchases than opportunities).
    pub values: Vec<Vec<Option<f64>>>,
}

/// The P(alive) matrix of `model` at T = `tenure`, for 0 … `most`
/// repeat purchases (at most 15 rows) and 11 times of the last purchase.
pub fn alive_matrix(model: &Model, tenure: f64, most: u32) -> Result<AliveMatrix> {
    let discrete = model.purchase.kind() == super::purchase::PurchaseModelKind::Bgbb;
    let tenure = if discrete { tenure.floor() } else { tenure };
    let frequencies: Vec<u32> = (0..=most.min(14)).rev().collect();
    let recencies: Vec<f64> = (0..=10)
        .map(|k| {
            let t = tenure * f64::from(k) / 10.0;
            if discrete {
                t.round()
            } else {
                (t * 10.0).round() / 10.0
            }
        })
        .collect();
    let params = model.purchase.model();
    let values = (frequencies.iter())
        .map(|&x| {
            let x = f64::from(x);
            (recencies.iter())
                .map(|&t_x| {
                    let possible = (x > 0.0 || t_x == 0.0) && (!discrete || x <= t_x);
                    possible.then(|| params.p_alive(x, t_x, tenure)).transpose()
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    Ok(AliveMatrix {
        tenure,
        frequencies,
        recencies,
        values,
    })
}
