//! The tables `cpm value` shows people on stderr: the whale curve of
//! profit, the holdout comparison, the fitted parameters. Built here, as
//! frames; the caller renders them (terminal, Markdown).

use anyhow::Result;
use polars::prelude::*;

use super::holdout::HoldoutReport;
use super::{Model, ValueConfig};
use crate::io::human;

/// The whale curve of historic profit, and profit per segment when the
/// table has segments (after `cpm segment`).
pub fn profitability(table: &DataFrame) -> Result<Vec<DataFrame>> {
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

/// The fitted parameters for people: one row per parameter.
pub fn model(model: &Model, config: &ValueConfig) -> Result<DataFrame> {
    let b = &model.bgnbd;
    let se = |i: usize| b.std_errors[i].map_or("-".to_string(), |s| format!("{s:.4}"));
    let mut rows: Vec<(String, String, String)> = vec![
        ("BG/NBD r".into(), format!("{:.4}", b.params.r), se(0)),
        (
            "BG/NBD alpha".into(),
            format!("{:.4}", b.params.alpha),
            se(1),
        ),
        ("BG/NBD a".into(), format!("{:.4}", b.params.a), se(2)),
        ("BG/NBD b".into(), format!("{:.4}", b.params.b), se(3)),
        (
            "BG/NBD log-likelihood".into(),
            human::fixed(b.log_likelihood, 2),
            String::new(),
        ),
    ];
    if let Some(gg) = &model.gamma_gamma {
        rows.extend([
            (
                "Gamma-Gamma p".into(),
                format!("{:.4}", gg.params.p),
                String::new(),
            ),
            (
                "Gamma-Gamma q".into(),
                format!("{:.4}", gg.params.q),
                String::new(),
            ),
            (
                "Gamma-Gamma gamma".into(),
                format!("{:.4}", gg.params.gamma),
                String::new(),
            ),
            (
                "Gamma-Gamma log-likelihood".into(),
                human::fixed(gg.log_likelihood, 2),
                String::new(),
            ),
        ]);
    }
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
