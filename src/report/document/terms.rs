//! The terms section: every term the page uses, explained.

use super::section;
use crate::present::Section;
use crate::report::Report;

/// The terms the page uses, explained: those of the sections it has.
pub(super) fn terms(report: &Report) -> Section {
    let mut terms: Vec<(&str, String)> = Vec::new();
    if report.kpis.is_some() {
        terms.extend([
            (
                "active",
                "customers with a purchase in the period".to_string(),
            ),
            (
                "new",
                "active customers whose first purchase ever is in the period".to_string(),
            ),
            (
                "churned",
                "customers active in the period before, not in this one".to_string(),
            ),
            (
                "retention rate",
                "share of the period before's active customers active again".to_string(),
            ),
            (
                "repeat rate",
                "share of the active customers who have bought on two days or more".to_string(),
            ),
        ]);
    }
    if report.portfolio.clv.is_some() {
        let basis = report
            .portfolio
            .clv_basis
            .as_deref()
            .unwrap_or("as the input gave it");
        terms.push((
            "CLV",
            format!("customer lifetime value: the value of the purchases expected ({basis})"),
        ));
    }
    if report.portfolio.mean_p_alive.is_some() {
        terms.push((
            "P(alive)",
            "the model's probability that a customer still buys".to_string(),
        ));
    }
    if report.composition.matrix_cells.is_some() {
        terms.push((
            "value/risk cell",
            "high or low value (above or below the split) × high or low risk of leaving"
                .to_string(),
        ));
    }
    terms.extend([
        ("top 20% share", "the share of revenue the largest fifth of the customers makes".to_string()),
        ("Gini", "inequality of revenue over customers: 0 when all are worth the same, near 1 when one is worth everything".to_string()),
        ("HHI", "sum of the squared revenue shares: 1 / n for n equal parts, 1 for one".to_string()),
    ]);
    if report.cohorts.is_some() {
        terms.push((
            "M0, M1, …",
            "in the cohorts: the month of the first purchase, the month after, …".to_string(),
        ));
    }
    if report.economics.is_some() {
        terms.extend([
            ("CAC", "customer acquisition cost".to_string()),
            ("LTV:CAC", "lifetime value (margin to date less cost to serve, plus net CLV) over CAC; above 3 is healthy".to_string()),
            ("payback", "months of a customer's contribution so far to earn the CAC back".to_string()),
        ]);
    }
    if let Some(sat) = &report.satisfaction {
        terms.push(match sat.measure {
            "nps" => (
                "NPS",
                "% promoters (9–10) − % detractors (0–6) of those who answered".to_string(),
            ),
            _ => (
                "CSAT",
                "mean satisfaction 1–5; satisfied 4–5, dissatisfied 1–2".to_string(),
            ),
        });
    }
    let mut s = section("terms", "Terms");
    s.lines = (terms.into_iter())
        .map(|(term, meaning)| format!("{term}: {meaning}"))
        .collect();
    s
}
